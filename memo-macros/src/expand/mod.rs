//! Code generation, from the checked model only. The generated code holds no
//! cache logic: it builds the key's parts and calls `::memo_core::__private`.
//!
//! `memoized` and `quickcache` make each attribute's [`Expansion`];
//! `companions` emits it beside the function; `fallback` emits the function
//! with stub companions when the attribute has errors; `cached_impl` marks
//! the associated functions of an impl; `keep` is what of a result is
//! cached.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::Ident;

use crate::attr::{self, Kind, Seconds};
use crate::check;
use crate::model::{Function, Place};

mod cached_impl;
mod companions;
mod fallback;
mod keep;
mod memoized;
mod quickcache;

pub(crate) use cached_impl::cached_impl;
pub(crate) use keep::Keep;

thread_local! {
    /// The path of memo-core in the code being generated, for the one
    /// expansion under way on this thread: `::memo_core`, or what the
    /// attribute's `crate = "..."` says (a renamed dependency, a facade that
    /// re-exports memo). Set by [`expand_at`] before anything is generated,
    /// so that every helper below can name the runtime without the path
    /// threaded through each signature.
    static MEMO: std::cell::RefCell<TokenStream> = std::cell::RefCell::new(quote!(::memo_core));
}

/// The path of memo-core for the generated code (see [`MEMO`]).
pub(super) fn memo() -> TokenStream {
    MEMO.with(|memo| memo.borrow().clone())
}

/// [`memo`] with every token at `span`, for code generated with
/// `quote_spanned!`: an error in it then points at the user's token, not at
/// the attribute.
pub(super) fn memo_at(span: proc_macro2::Span) -> TokenStream {
    memo()
        .into_iter()
        .map(|mut token| {
            token.set_span(span);
            token
        })
        .collect()
}

/// Makes `path` (or `::memo_core`) the path [`memo`] gives.
fn set_memo(path: Option<&syn::Path>) {
    let path = path.map_or_else(|| quote!(::memo_core), |path| quote!(#path));
    MEMO.with(|memo| *memo.borrow_mut() = path);
}

/// Expands either attribute. On error, emits the errors beside a fallback
/// expansion (see `fallback`), so the user sees the attribute's diagnostics
/// and no cascade.
pub(crate) fn expand(kind: Kind, args: TokenStream, item: TokenStream) -> TokenStream {
    let (place, args) = Place::take_marker(args);
    expand_at(kind, args, item, place)
}

fn expand_at(kind: Kind, args: TokenStream, item: TokenStream, place: Place) -> TokenStream {
    set_memo(None);
    match try_expand(kind, args, item.clone(), place) {
        Ok(tokens) => tokens,
        Err(error) => fallback::with_error(kind, item, place, &error),
    }
}

/// The return types of the companions that do not return the function's
/// value (`clear` and `invalidate`, and `set_cached_value(..).to(..)`), and
/// whether `clear` and `invalidate` are `async`: one place for the
/// expansion and for the stubs emitted on error.
pub(super) struct CompanionTypes {
    pub(super) outcome: TokenStream,
    pub(super) set: TokenStream,
    /// `get_cached_value`'s: `Option` of the cached type.
    pub(super) peek: TokenStream,
    /// `cache_key`'s, where there is one.
    pub(super) key: Option<TokenStream>,
    pub(super) clear_is_async: bool,
}

pub(super) fn signatures(kind: Kind, function: &Function, keep: &Keep) -> CompanionTypes {
    let memo = memo();
    let output = keep.value_ty(&function.output);
    match kind {
        Kind::Memoized => CompanionTypes {
            outcome: quote!(()),
            set: quote!(#memo::SetCachedValue<#output>),
            peek: quote!(::core::option::Option<#output>),
            key: None,
            clear_is_async: false,
        },
        Kind::Quickcache => {
            let outcome = quote!(::core::result::Result<(), #memo::Error>);
            let (set_outcome, clear_is_async) = if function.is_async() {
                (boxed_future(&outcome), true)
            } else {
                (outcome.clone(), false)
            };
            CompanionTypes {
                set: quote!(#memo::SetCachedValue<#output, #set_outcome>),
                peek: quote!(::core::option::Option<#output>),
                key: Some(quote!(::core::result::Result<::std::string::String, #memo::Error>)),
                outcome,
                clear_is_async,
            }
        }
    }
}

pub(super) fn boxed_future(output: &TokenStream) -> TokenStream {
    let memo = memo();
    quote!(#memo::backend::BoxFuture<'static, #output>)
}

fn try_expand(
    kind: Kind,
    args: TokenStream,
    item: TokenStream,
    place: Place,
) -> syn::Result<TokenStream> {
    let options = attr::parse(kind, args);
    let function = Function::parse_at(kind, item, place);
    let (options, function) = match (options, function) {
        (Ok(options), Ok(function)) => (options, function),
        (Err(mut a), Err(b)) => {
            a.combine(b);
            return Err(a);
        }
        (Err(e), _) | (_, Err(e)) => return Err(e),
    };
    set_memo(options.krate.as_ref().map(|krate| &krate.value));
    let keep = check::options(kind, &function, &options, place)?;
    let form = Placement::of(&function);
    let parts = match kind {
        Kind::Memoized => memoized::expansion(&function, &options, &form, &keep),
        Kind::Quickcache => quickcache::expansion(&function, &options, &form, &keep),
    };
    let bypass = Bypass::of(&function, &options);
    Ok(companions::emit(&function, &form, parts, &bypass))
}

/// What a call checks before the cache: whether it runs the body uncached
/// (caching switched off process-wide, or `unless` says so), and with
/// `skip`, whether it refreshes the entry instead of reading it.
pub(super) struct Bypass {
    pub(super) uncached_if: Option<TokenStream>,
    pub(super) refresh_if: Option<TokenStream>,
}

impl Bypass {
    /// No checks: the stubs of a function whose attribute has errors.
    pub(super) fn none() -> Bypass {
        Bypass {
            uncached_if: None,
            refresh_if: None,
        }
    }

    fn of(function: &Function, options: &attr::Options) -> Bypass {
        let memo = memo();
        let args = args_by_ref(function);
        let unless = options.unless.as_ref().map(|given| {
            let path = &given.value;
            quote_spanned!(path.span()=> || #path(#(#args),*))
        });
        let refresh_if = options
            .skip
            .as_ref()
            .map(|given| match given.value.get_ident() {
                Some(param) => {
                    quote_spanned!(param.span()=> { let __memo_skip: bool = #param; __memo_skip })
                }
                None => {
                    let path = &given.value;
                    quote_spanned!(path.span()=> #path(#(#args),*))
                }
            });
        Bypass {
            uncached_if: Some(quote!(#memo::__private::bypassed() #unless)),
            refresh_if,
        }
    }
}

/// A call of an `on_hit` / `on_miss` function with the arguments, as a
/// statement.
pub(super) fn callback(
    function: &Function,
    given: &Option<attr::Given<syn::Path>>,
) -> Option<TokenStream> {
    let args = args_by_ref(function);
    given.as_ref().map(|given| {
        let path = &given.value;
        quote_spanned!(path.span()=> #path(#(#args),*);)
    })
}

/// The arguments as `unless` and `skip` predicates take them, by reference:
/// a reference parameter as it is, any other borrowed.
pub(super) fn args_by_ref(function: &Function) -> Vec<TokenStream> {
    function
        .params
        .iter()
        .map(|p| {
            let ident = &p.ident;
            match p.borrowed {
                Some(_) => quote!(#ident),
                None => quote!(&#ident),
            }
        })
        .collect()
}

/// Where the companions go: beside a free function, a zero-field struct of
/// the same name (`f::clear(..)`); beside a method, prefixed associated
/// functions (`self.f_clear(..)`), since an impl block cannot hold a type.
pub(super) struct Placement {
    pub(super) methods: bool,
    /// The expression that yields the cache, valid in the function and in
    /// every companion.
    pub(super) cache: TokenStream,
    /// The call of the original body with the function's arguments.
    pub(super) body_call: TokenStream,
    pub(super) body_ident: Ident,
    pub(super) accessor: Ident,
}

impl Placement {
    pub(super) fn of(function: &Function) -> Placement {
        let name = function.name();
        let body_ident = format_ident!("__memo_body_{}", name);
        let args = function.params.iter().map(|p| &p.ident);
        if function.receiver || function.associated {
            let accessor = format_ident!("__memo_cache_{}", name);
            let callee = if function.receiver {
                quote!(self)
            } else {
                quote!(Self)
            };
            let dot = if function.receiver {
                quote!(.)
            } else {
                quote!(::)
            };
            Placement {
                methods: true,
                cache: quote!(Self::#accessor()),
                body_call: quote!(#callee #dot #body_ident(#(#args),*)),
                body_ident,
                accessor,
            }
        } else {
            let accessor = format_ident!("__memo_cache");
            Placement {
                methods: false,
                cache: quote!(#name::#accessor()),
                body_call: quote!(#body_ident(#(#args),*)),
                body_ident,
                accessor,
            }
        }
    }

    pub(super) fn companion(&self, function: &Function, op: &str) -> Ident {
        if self.methods {
            format_ident!("{}_{}", function.name(), op)
        } else {
            format_ident!("{}", op)
        }
    }
}

/// What one attribute contributes: compile-time checks, the new body, the
/// cache accessor and the companions' bodies and return types.
pub(super) struct Expansion {
    pub(super) checks: TokenStream,
    pub(super) body: TokenStream,
    pub(super) accessor: TokenStream,
    /// The accessor and `invalidate` take `&self` (per-instance caches).
    pub(super) per_instance: bool,
    pub(super) clear: (TokenStream, TokenStream),
    pub(super) invalidate: (TokenStream, TokenStream),
    pub(super) set_cached_value: (TokenStream, TokenStream),
    pub(super) refresh: TokenStream,
    /// `get_cached_value`'s return type and body.
    pub(super) peek: (TokenStream, TokenStream),
    /// `cache_key`'s return type and body (`#[quickcache]` only).
    pub(super) cache_key: Option<(TokenStream, TokenStream)>,
    /// `invalidate_all`'s body (per-instance `#[memoized]` methods only).
    pub(super) invalidate_all: Option<TokenStream>,
    /// `get_many`'s batched read (`#[quickcache]`; `#[memoized]` calls the
    /// function once per item): the encoded arguments of one call,
    /// and a found value as the call's result, both with the parameters in
    /// scope.
    pub(super) get_many: Option<(TokenStream, TokenStream)>,
    /// Which companions are `async fn` (on an `async fn`, those that may do
    /// I/O): `clear`, `invalidate` and `get_cached_value`; `refresh` and
    /// `uncached` follow the function.
    pub(super) clear_is_async: bool,
}

/// `min_time` as a `Duration` (zero when not given: every result kept).
pub(super) fn min_time(options: &crate::attr::Options) -> TokenStream {
    let memo = memo();
    match &options.min_time {
        Some(given) => positive_duration(&given.value),
        None => quote!(#memo::__private::Duration::ZERO),
    }
}

/// `timeout_jitter` as an `f64` share (0 when not given).
pub(super) fn jitter(options: &crate::attr::Options) -> TokenStream {
    let share = options
        .timeout_jitter
        .as_ref()
        .map_or(0.0, |given| given.value);
    quote!(#share)
}

/// A count option (`max_entries`, `max_bytes`) as an `Option<usize>`.
pub(super) fn optional_count(given: &Option<crate::attr::Given<attr::Count>>) -> TokenStream {
    match given {
        Some(given) => {
            let n = count(&given.value);
            quote!(::core::option::Option::Some(#n))
        }
        None => quote!(::core::option::Option::None),
    }
}

/// A count as a `usize`; a constant's is checked where it is evaluated.
pub(super) fn count(count: &attr::Count) -> TokenStream {
    match count {
        attr::Count::Literal(n) => quote!(#n),
        attr::Count::Expr(expr) => {
            // Any integer constant; the cast is a no-op for a `usize` one.
            let n = quote_spanned!(expr.span()=> (#expr) as usize);
            let memo = memo_at(expr.span());
            quote_spanned! {expr.span()=> {
                #[allow(clippy::unnecessary_cast)]
                let __memo_count = #n;
                #memo::__private::count(__memo_count)
            }}
        }
    }
}

/// Seconds as a `Duration`, evaluated at compile time; `positive`: a
/// constant's is checked to be more than zero where it is evaluated (a
/// literal's was checked here).
pub(super) fn duration(seconds: &Seconds) -> TokenStream {
    let memo = memo();
    match seconds {
        Seconds::Literal { secs, nanos, .. } => {
            quote!(#memo::__private::Duration::new(#secs, #nanos))
        }
        Seconds::Expr(expr) => {
            let memo = memo_at(expr.span());
            quote_spanned!(expr.span()=> #memo::__private::Secs(#expr).duration())
        }
    }
}

/// [`duration`] for options that must be more than zero.
pub(super) fn positive_duration(seconds: &Seconds) -> TokenStream {
    match seconds {
        Seconds::Literal { .. } => duration(seconds),
        Seconds::Expr(expr) => {
            let memo = memo_at(expr.span());
            quote_spanned!(expr.span()=> #memo::__private::positive(#memo::__private::Secs(#expr).duration()))
        }
    }
}
