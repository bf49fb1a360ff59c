//! Parsing the attribute's options into a typed struct, spans kept.

use proc_macro2::{Span, TokenStream};
use syn::ext::IdentExt;
use syn::parse::{ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{bracketed, Ident, Lit, LitStr, Member, Path, Token};

/// Which attribute is being expanded.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Memoized,
    Quickcache,
}

impl Kind {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::Memoized => "memoized",
            Kind::Quickcache => "quickcache",
        }
    }
}

/// A duration given in seconds: a literal, or a constant expression.
#[derive(Clone)]
pub(crate) enum Seconds {
    /// A literal number of seconds (`300`, `0.5`), checked here.
    Literal { secs: u64, nanos: u32, span: Span },
    /// A constant expression (`CONFIG_TTL_SECS`, a `Duration` const): an
    /// integer or float of seconds, or a `Duration`, evaluated at compile
    /// time by `memo_core::__private::Secs`.
    Expr(Box<syn::Expr>),
}

impl Seconds {
    /// Zero, as far as the macro can tell (a constant is checked by the
    /// compiler instead).
    pub(crate) fn is_zero(&self) -> bool {
        matches!(
            self,
            Seconds::Literal {
                secs: 0,
                nanos: 0,
                ..
            }
        )
    }

    pub(crate) fn span(&self) -> Span {
        match self {
            Seconds::Literal { span, .. } => *span,
            Seconds::Expr(expr) => syn::spanned::Spanned::span(&**expr),
        }
    }
}

/// A count: a literal of at least 1, or a constant expression of an integer
/// type (checked to be at least 1 when it is evaluated, at compile time).
pub(crate) enum Count {
    Literal(usize),
    Expr(Box<syn::Expr>),
}

/// One `vary_on` entry: a parameter, or a field path below one.
pub(crate) struct VaryPath {
    pub(crate) root: Ident,
    pub(crate) fields: Vec<Member>,
}

impl VaryPath {
    pub(crate) fn span(&self) -> Span {
        let mut span = self.root.span();
        for field in &self.fields {
            span = span.join(field.span()).unwrap_or(span);
        }
        span
    }
}

/// `stale_on_error = true | false | <seconds>`: `true` keeps an entry for
/// its `timeout` again past it.
pub(crate) enum StaleOnError {
    Flag(bool),
    Grace(Seconds),
}

/// `cache_errors = true | false | path::to_predicate`.
pub(crate) enum CacheErrors {
    Flag(bool),
    If(Path),
}

/// A count of at least 1 (`max_entries`, `max_bytes`), or a constant.
fn parse_positive(name: &Ident, input: ParseStream<'_>) -> syn::Result<Count> {
    if !input.peek(syn::LitInt) {
        return Ok(Count::Expr(Box::new(input.parse()?)));
    }
    let lit: syn::LitInt = input.parse()?;
    let value: usize = lit.base10_parse()?;
    if value == 0 {
        let message = format!("`{name}` must be at least 1");
        return Err(syn::Error::new(lit.span(), message));
    }
    Ok(Count::Literal(value))
}

/// An option's value with the span of its name, set at most once.
pub(crate) struct Given<T> {
    pub(crate) value: T,
    pub(crate) span: Span,
}

#[derive(Default)]
pub(crate) struct Options {
    pub(crate) vary_on: Option<Given<Vec<VaryPath>>>,
    pub(crate) key: Option<Given<Path>>,
    pub(crate) timeout: Option<Given<Seconds>>,
    pub(crate) memoize_timeout: Option<Given<Seconds>>,
    pub(crate) max_entries: Option<Given<Count>>,
    pub(crate) max_bytes: Option<Given<Count>>,
    pub(crate) name: Option<Given<LitStr>>,
    pub(crate) codec: Option<Given<Path>>,
    pub(crate) lock: Option<Given<bool>>,
    pub(crate) lock_ttl: Option<Given<Seconds>>,
    pub(crate) cache_errors: Option<Given<CacheErrors>>,
    pub(crate) cache_none: Option<Given<bool>>,
    pub(crate) min_time: Option<Given<Seconds>>,
    pub(crate) timeout_jitter: Option<Given<f64>>,
    pub(crate) store_result: Option<Given<bool>>,
    pub(crate) on_hit: Option<Given<Path>>,
    pub(crate) on_miss: Option<Given<Path>>,
    pub(crate) unless: Option<Given<Path>>,
    pub(crate) skip: Option<Given<Path>>,
    pub(crate) stale_on_error: Option<Given<StaleOnError>>,
    pub(crate) idle_timeout: Option<Given<Seconds>>,
    pub(crate) backend: Option<Given<LitStr>>,
    /// `crate = "path"`: where the generated code finds memo-core.
    pub(crate) krate: Option<Given<Path>>,
}

/// Parses `args`, reporting every unknown, duplicate or malformed option.
pub(crate) fn parse(kind: Kind, args: TokenStream) -> syn::Result<Options> {
    let parser = |input: ParseStream<'_>| {
        let mut options = Options::default();
        let mut errors: Option<syn::Error> = None;
        while !input.is_empty() {
            let name = input.call(Ident::parse_any)?;
            if let Err(error) = parse_option(kind, &name, input, &mut options) {
                combine(&mut errors, error);
                // Skip to the next option so later mistakes are reported too.
                while !input.is_empty() && !input.peek(Token![,]) {
                    input.parse::<proc_macro2::TokenTree>()?;
                }
            }
            if input.is_empty() {
                break;
            }
            input.parse::<Token![,]>()?;
        }
        match errors {
            Some(errors) => Err(errors),
            None => Ok(options),
        }
    };
    parser.parse2(args)
}

pub(crate) fn combine(errors: &mut Option<syn::Error>, error: syn::Error) {
    match errors {
        Some(errors) => errors.combine(error),
        None => *errors = Some(error),
    }
}

/// Which attributes take an option.
#[derive(Clone, Copy)]
enum Takes {
    Both,
    Quickcache,
    Memoized,
}

impl Takes {
    fn allows(self, kind: Kind) -> bool {
        matches!(
            (self, kind),
            (Takes::Both, _)
                | (Takes::Quickcache, Kind::Quickcache)
                | (Takes::Memoized, Kind::Memoized)
        )
    }
}

/// Parses one option's value (after `name =`) into `options`.
type ParseValue = fn(&Ident, ParseStream<'_>, &mut Options) -> syn::Result<()>;

/// Every option, in the order the error for an unknown one lists them: its
/// name, which attributes take it, and how its value parses. Adding an
/// option is a row here, a field in [`Options`], its rules in `check.rs`.
const OPTIONS: &[(&str, Takes, ParseValue)] = &[
    ("vary_on", Takes::Quickcache, |name, input, options| {
        set(&mut options.vary_on, name, parse_vary_on(input)?)
    }),
    ("key", Takes::Quickcache, |name, input, options| {
        set(&mut options.key, name, input.parse()?)
    }),
    ("timeout", Takes::Both, |name, input, options| {
        set(&mut options.timeout, name, parse_seconds(input)?)
    }),
    (
        "memoize_timeout",
        Takes::Quickcache,
        |name, input, options| set(&mut options.memoize_timeout, name, parse_seconds(input)?),
    ),
    ("max_entries", Takes::Both, |name, input, options| {
        set(&mut options.max_entries, name, parse_positive(name, input)?)
    }),
    ("max_bytes", Takes::Both, |name, input, options| {
        set(&mut options.max_bytes, name, parse_positive(name, input)?)
    }),
    ("name", Takes::Quickcache, |name, input, options| {
        let lit: LitStr = input.parse()?;
        if lit.value().is_empty() {
            return Err(syn::Error::new(lit.span(), "`name` must not be empty"));
        }
        set(&mut options.name, name, lit)
    }),
    ("codec", Takes::Quickcache, |name, input, options| {
        set(&mut options.codec, name, input.parse()?)
    }),
    ("lock", Takes::Quickcache, |name, input, options| {
        let lit: syn::LitBool = input.parse()?;
        set(&mut options.lock, name, lit.value)
    }),
    ("lock_ttl", Takes::Quickcache, |name, input, options| {
        set(&mut options.lock_ttl, name, parse_seconds(input)?)
    }),
    ("cache_errors", Takes::Both, |name, input, options| {
        let value = if input.peek(syn::LitBool) {
            CacheErrors::Flag(input.parse::<syn::LitBool>()?.value)
        } else {
            CacheErrors::If(input.parse().map_err(|error| {
                syn::Error::new(
                    error.span(),
                    "expected `true`, `false` or the path of a predicate `fn(&E) -> bool`",
                )
            })?)
        };
        set(&mut options.cache_errors, name, value)
    }),
    ("cache_none", Takes::Both, |name, input, options| {
        let lit: syn::LitBool = input.parse()?;
        set(&mut options.cache_none, name, lit.value)
    }),
    ("min_time", Takes::Both, |name, input, options| {
        set(&mut options.min_time, name, parse_seconds(input)?)
    }),
    ("timeout_jitter", Takes::Both, |name, input, options| {
        let lit: Lit = input.parse()?;
        let share = match &lit {
            Lit::Float(float) => float.base10_parse::<f64>()?,
            Lit::Int(int) => int.base10_parse::<u8>()?.into(),
            _ => -1.0,
        };
        if !(0.0..1.0).contains(&share) {
            return Err(syn::Error::new(
                lit.span(),
                "`timeout_jitter` is a share of the timeout, from 0 up to (not including) 1: `0.1` spreads each entry's lifetime over ±10%",
            ));
        }
        set(&mut options.timeout_jitter, name, share)
    }),
    ("store_result", Takes::Quickcache, |name, input, options| {
        let lit: syn::LitBool = input.parse()?;
        set(&mut options.store_result, name, lit.value)
    }),
    ("on_hit", Takes::Both, |name, input, options| {
        set(&mut options.on_hit, name, input.parse()?)
    }),
    ("on_miss", Takes::Both, |name, input, options| {
        set(&mut options.on_miss, name, input.parse()?)
    }),
    ("unless", Takes::Both, |name, input, options| {
        set(&mut options.unless, name, input.parse()?)
    }),
    ("skip", Takes::Quickcache, |name, input, options| {
        set(&mut options.skip, name, input.parse()?)
    }),
    ("backend", Takes::Quickcache, |name, input, options| {
        let lit: LitStr = input.parse().map_err(|error| {
            syn::Error::new(
                error.span(),
                "expected the backend's name as a string: `backend = \"reports\"`",
            )
        })?;
        if lit.value().is_empty() {
            return Err(syn::Error::new(lit.span(), "`backend` must not be empty"));
        }
        set(&mut options.backend, name, lit)
    }),
    ("idle_timeout", Takes::Memoized, |name, input, options| {
        set(&mut options.idle_timeout, name, parse_seconds(input)?)
    }),
    ("crate", Takes::Both, |name, input, options| {
        // serde's form, a string (`crate = "facade::memo"`), or the path.
        const EXPECTED: &str =
            "expected the path memo-core is reachable at: `crate = \"my_memo\"` or `crate = my_memo`";
        let path = if input.peek(LitStr) {
            let lit: LitStr = input.parse()?;
            lit.parse_with(Path::parse_mod_style)
                .map_err(|_| syn::Error::new(lit.span(), EXPECTED))?
        } else {
            input
                .call(Path::parse_mod_style)
                .map_err(|error| syn::Error::new(error.span(), EXPECTED))?
        };
        set(&mut options.krate, name, path)
    }),
    ("stale_on_error", Takes::Both, |name, input, options| {
        let value = if input.peek(syn::LitBool) {
            StaleOnError::Flag(input.parse::<syn::LitBool>()?.value)
        } else {
            StaleOnError::Grace(parse_seconds(input)?)
        };
        set(&mut options.stale_on_error, name, value)
    }),
];

fn parse_option(
    kind: Kind,
    name: &Ident,
    input: ParseStream<'_>,
    options: &mut Options,
) -> syn::Result<()> {
    let key = name.unraw().to_string();
    let taken = OPTIONS.iter().filter(|(_, takes, _)| takes.allows(kind));
    let Some((_, _, parse_value)) = taken.clone().find(|(option, ..)| *option == key) else {
        let valid: Vec<&str> = taken.map(|(option, ..)| *option).collect();
        // An option of the other attribute: say so, rather than "unknown".
        if OPTIONS.iter().any(|(option, ..)| *option == key) {
            let other = match kind {
                Kind::Memoized => "quickcache",
                Kind::Quickcache => "memoized",
            };
            return Err(syn::Error::new(
                name.span(),
                format!(
                    "`{key}` is an option of #[{other}], not of #[{}]; #[{}] takes: {}",
                    kind.name(),
                    kind.name(),
                    valid.join(", ")
                ),
            ));
        }
        return Err(syn::Error::new(
            name.span(),
            format!(
                "unknown argument `{key}` for #[{}]; expected one of: {}",
                kind.name(),
                valid.join(", ")
            ),
        ));
    };
    input.parse::<Token![=]>()?;
    parse_value(name, input, options)
}

fn set<T>(slot: &mut Option<Given<T>>, name: &Ident, value: T) -> syn::Result<()> {
    if slot.is_some() {
        return Err(syn::Error::new(
            name.span(),
            format!("duplicate argument `{name}`"),
        ));
    }
    *slot = Some(Given {
        value,
        span: name.span(),
    });
    Ok(())
}

fn parse_seconds(input: ParseStream<'_>) -> syn::Result<Seconds> {
    if !input.peek(Lit) {
        return Ok(Seconds::Expr(Box::new(input.parse()?)));
    }
    let lit: Lit = input.parse()?;
    let (value, span) = match &lit {
        Lit::Int(int) => (int.base10_parse::<u64>()? as f64, int.span()),
        Lit::Float(float) => (float.base10_parse::<f64>()?, float.span()),
        _ => {
            return Err(syn::Error::new(
                lit.span(),
                "expected a number of seconds, such as `300` or `0.5`",
            ))
        }
    };
    if !value.is_finite() || value < 0.0 || value > u32::MAX as f64 {
        return Err(syn::Error::new(
            span,
            "expected a number of seconds between 0 and 4294967295",
        ));
    }
    let secs = value.trunc() as u64;
    let nanos = ((value - value.trunc()) * 1e9).round().min(999_999_999.0) as u32;
    Ok(Seconds::Literal { secs, nanos, span })
}

fn parse_vary_on(input: ParseStream<'_>) -> syn::Result<Vec<VaryPath>> {
    let content;
    bracketed!(content in input);
    let paths =
        Punctuated::<VaryPath, Token![,]>::parse_terminated_with(&content, parse_vary_path)?;
    Ok(paths.into_iter().collect())
}

fn parse_vary_path(input: ParseStream<'_>) -> syn::Result<VaryPath> {
    let root = input.call(Ident::parse_any)?;
    let mut fields = Vec::new();
    while input.peek(Token![.]) {
        input.parse::<Token![.]>()?;
        if input.peek(syn::LitFloat) {
            // `pair.0.1` lexes its tail as the float `0.1`.
            let float: syn::LitFloat = input.parse()?;
            for part in float.to_string().split('.') {
                let index: u32 = part
                    .parse()
                    .map_err(|_| syn::Error::new(float.span(), "expected a tuple index"))?;
                fields.push(Member::Unnamed(syn::Index {
                    index,
                    span: float.span(),
                }));
            }
        } else {
            fields.push(input.parse()?);
        }
    }
    Ok(VaryPath { root, fields })
}
