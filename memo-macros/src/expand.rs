//! Code generation, from the checked model only. The generated code holds no
//! cache logic: it builds the key's parts and calls `::memo_core::__private`.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Attribute, Ident};

use crate::attr::{self, combine, Kind, Options, Seconds};
use crate::model::Function;

mod fallback;
mod keep;

use keep::Keep;

/// Expands either attribute. On error, emits the errors beside a fallback
/// expansion (see `fallback`), so the user sees the attribute's diagnostics
/// and no cascade.
pub(crate) fn expand(kind: Kind, args: TokenStream, item: TokenStream) -> TokenStream {
    let (place, args) = Place::take_marker(args);
    expand_at(kind, args, item, place)
}

/// What `#[cached_impl]` puts first in the arguments of the attribute of an
/// associated function without `self`, to tell it where it is. Keeping the
/// attribute (rather than expanding it in `#[cached_impl]`) keeps its import
/// used.
const MARKER: &str = "__memo_associated";

/// Where the decorated function is, as far as the macro can know: an
/// attribute sees only its function, so an associated function without
/// `self` is known as one only through `#[cached_impl]` on its impl.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Place {
    /// A free function, or a method (it has `self`).
    Item,
    /// An associated function without `self`, in an impl with type or const
    /// parameters or without.
    Associated { generic_impl: bool },
}

impl Place {
    /// The place `#[cached_impl]` marked in `args`, and the rest of them.
    fn take_marker(args: TokenStream) -> (Place, TokenStream) {
        let mut tokens = args.clone().into_iter();
        let (
            Some(proc_macro2::TokenTree::Ident(marker)),
            Some(proc_macro2::TokenTree::Group(group)),
        ) = (tokens.next(), tokens.next())
        else {
            return (Place::Item, args);
        };
        if marker != MARKER {
            return (Place::Item, args);
        }
        let generic_impl = group.stream().to_string() == "generic";
        let rest: TokenStream = tokens
            .skip_while(|t| matches!(t, proc_macro2::TokenTree::Punct(p) if p.as_char() == ','))
            .collect();
        (Place::Associated { generic_impl }, rest)
    }

    /// The marker `take_marker` reads.
    fn marker(generic_impl: bool) -> TokenStream {
        let marker = format_ident!("{}", MARKER);
        let place = if generic_impl {
            quote!(generic)
        } else {
            quote!(plain)
        };
        quote!(#marker(#place))
    }
}

fn expand_at(kind: Kind, args: TokenStream, item: TokenStream, place: Place) -> TokenStream {
    match try_expand(kind, args, item.clone(), place) {
        Ok(tokens) => tokens,
        Err(error) => fallback::with_error(kind, item, place, &error),
    }
}

/// `#[cached_impl]`: marks the `#[quickcache]` and `#[memoized]` attributes
/// of the associated functions without `self` of an inherent impl, so that
/// each expands with its companions beside it as associated functions
/// (`Self::f_clear(..)`). Methods need no mark.
pub(crate) fn cached_impl(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = None;
    if !args.is_empty() {
        combine(
            &mut errors,
            syn::Error::new_spanned(&args, "#[cached_impl] takes no options"),
        );
    }
    let mut item_impl: syn::ItemImpl = match syn::parse2(item.clone()) {
        Ok(item_impl) => item_impl,
        Err(_) => {
            let error = syn::Error::new(
                Span::call_site(),
                "#[cached_impl] applies to an impl block (`impl Type { .. }`)",
            )
            .to_compile_error();
            return quote!(#item #error);
        }
    };
    if let Some((_, path, _)) = &item_impl.trait_ {
        combine(
            &mut errors,
            syn::Error::new_spanned(
                path,
                "#[cached_impl] applies to an inherent impl (`impl Type { .. }`): a trait impl cannot hold the companion functions",
            ),
        );
    }
    let generic_impl = item_impl
        .generics
        .params
        .iter()
        .any(|param| !matches!(param, syn::GenericParam::Lifetime(_)));
    // Marked even when the attribute itself is misused, so its error comes
    // alone; not in a trait impl, which cannot take the companions.
    if item_impl.trait_.is_none() {
        for impl_item in &mut item_impl.items {
            let syn::ImplItem::Fn(function) = impl_item else {
                continue;
            };
            if function.sig.receiver().is_some() {
                continue;
            }
            let attr = function.attrs.iter_mut().find(|attr| {
                attr.path()
                    .segments
                    .last()
                    .is_some_and(|last| last.ident == "quickcache" || last.ident == "memoized")
            });
            let Some(attr) = attr else {
                continue;
            };
            let marker = Place::marker(generic_impl);
            let path = attr.path().clone();
            let args = match &attr.meta {
                syn::Meta::Path(_) => marker,
                syn::Meta::List(list) => {
                    let tokens = &list.tokens;
                    quote!(#marker, #tokens)
                }
                // Left for the attribute to report.
                syn::Meta::NameValue(_) => continue,
            };
            *attr = syn::parse_quote!(#[#path(#args)]);
        }
    }
    let errors = errors.map(|e| e.to_compile_error());
    quote!(#item_impl #errors)
}

/// The return types of the companions that do not return the function's
/// value (`clear` and `invalidate`, and `set_cached_value(..).to(..)`), and
/// whether `clear` and `invalidate` are `async`: one place for the
/// expansion and for the stubs emitted on error.
struct CompanionTypes {
    outcome: TokenStream,
    set: TokenStream,
    clear_is_async: bool,
}

fn signatures(kind: Kind, function: &Function, keep: &Keep) -> CompanionTypes {
    let output = keep.value_ty(&function.output);
    match kind {
        Kind::Memoized => CompanionTypes {
            outcome: quote!(()),
            set: quote!(::memo_core::SetCachedValue<#output>),
            clear_is_async: false,
        },
        Kind::Quickcache => {
            let outcome = quote!(::core::result::Result<(), ::memo_core::Error>);
            let (set_outcome, clear_is_async) = if function.is_async() {
                (boxed_future(&outcome), true)
            } else {
                (outcome.clone(), false)
            };
            CompanionTypes {
                set: quote!(::memo_core::SetCachedValue<#output, #set_outcome>),
                outcome,
                clear_is_async,
            }
        }
    }
}

fn boxed_future(output: &TokenStream) -> TokenStream {
    quote!(::memo_core::backend::BoxFuture<'static, #output>)
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
    let keep = check_options(kind, &function, &options)?;
    if kind == Kind::Memoized && place == (Place::Associated { generic_impl: true }) {
        return Err(syn::Error::new(
            function.name().span(),
            "#[memoized] on an associated function of a generic impl would keep one cache for every `Self` type: use #[quickcache] (a cache per `Self` type), or take `&self` (a cache per instance)",
        ));
    }
    let form = Placement::of(&function);
    let parts = match kind {
        Kind::Memoized => memoized(&function, &options, &form, &keep),
        Kind::Quickcache => quickcache(&function, &options, &form, &keep),
    };
    Ok(emit(&function, &form, parts))
}

fn check_options(kind: Kind, function: &Function, options: &Options) -> syn::Result<Keep> {
    let mut errors = None;
    let keep = Keep::of(function, options);
    if kind == Kind::Quickcache {
        if let Err(error) = function.check_vary_on(options) {
            combine(&mut errors, error);
        }
    }
    for (name, seconds) in [
        ("timeout", &options.timeout),
        ("lock_ttl", &options.lock_ttl),
    ] {
        if let Some(seconds) = seconds {
            if seconds.value.is_zero() {
                combine(
                    &mut errors,
                    syn::Error::new(
                        seconds.value.span,
                        format!("`{name}` must be more than 0 seconds"),
                    ),
                );
            }
        }
    }
    if let Some(lock_ttl) = &options.lock_ttl {
        if !options.lock.as_ref().is_some_and(|lock| lock.value) {
            combine(
                &mut errors,
                syn::Error::new(lock_ttl.span, "`lock_ttl` sets the lifetime of the lock taken with `lock = true`; add `lock = true`"),
            );
        }
    }
    match (errors, keep) {
        (None, keep) => keep,
        (Some(mut errors), Err(more)) => {
            errors.combine(more);
            Err(errors)
        }
        (Some(errors), Ok(_)) => Err(errors),
    }
}

/// Where the companions go: beside a free function, a zero-field struct of
/// the same name (`f::clear(..)`); beside a method, prefixed associated
/// functions (`self.f_clear(..)`), since an impl block cannot hold a type.
struct Placement {
    methods: bool,
    /// The expression that yields the cache, valid in the function and in
    /// every companion.
    cache: TokenStream,
    /// The call of the original body with the function's arguments.
    body_call: TokenStream,
    body_ident: Ident,
    accessor: Ident,
}

impl Placement {
    fn of(function: &Function) -> Placement {
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

    fn companion(&self, function: &Function, op: &str) -> Ident {
        if self.methods {
            format_ident!("{}_{}", function.name(), op)
        } else {
            format_ident!("{}", op)
        }
    }
}

/// What one attribute contributes: compile-time checks, the new body, the
/// cache accessor and the companions' bodies and return types.
struct Expansion {
    checks: TokenStream,
    body: TokenStream,
    accessor: TokenStream,
    /// The accessor and `invalidate` take `&self` (per-instance caches).
    per_instance: bool,
    clear: (TokenStream, TokenStream),
    invalidate: (TokenStream, TokenStream),
    set_cached_value: (TokenStream, TokenStream),
    refresh: TokenStream,
    /// Which companions are `async fn` (on an `async fn`, those that may do
    /// I/O): `clear` and `invalidate`; `refresh` and `uncached` follow the
    /// function.
    clear_is_async: bool,
}

/// Most arguments a `#[memoized]` hit probes with in place (memo-core's
/// `BorrowedKey` impls); a function with more builds its owned key per call.
const MAX_BORROWED: usize = 8;

fn memoized(function: &Function, options: &Options, form: &Placement, keep: &Keep) -> Expansion {
    let output = keep.value_ty(&function.output);
    let per_instance = function.receiver;
    let signatures = signatures(Kind::Memoized, function, keep);
    let key_tys: Vec<TokenStream> = function
        .params
        .iter()
        .map(|p| match &p.borrowed {
            Some(elem) => quote!(<#elem as ::std::borrow::ToOwned>::Owned),
            None => {
                let ty = &p.ty;
                quote!(#ty)
            }
        })
        .collect();
    let key_exprs = function.params.iter().map(|p| {
        let ident = &p.ident;
        match &p.borrowed {
            Some(_) => quote!(::std::borrow::ToOwned::to_owned(#ident)),
            None => quote!(::core::clone::Clone::clone(&#ident)),
        }
    });
    let key = quote!((#(#key_exprs,)*));
    let checks = function.params.iter().zip(&key_tys).map(|(p, key_ty)| {
        let span = p
            .borrowed
            .as_ref()
            .map_or_else(|| p.ty.span(), |t| t.span());
        quote_spanned!(span=> ::memo_core::__private::require_key::<#key_ty>();)
    });
    let timeout = match &options.timeout {
        Some(t) => {
            let d = duration(&t.value);
            quote!(::core::option::Option::Some(#d))
        }
        None => quote!(::core::option::Option::None),
    };
    let max_entries = match &options.max_entries {
        Some(n) => {
            let n = n.value;
            quote!(::core::option::Option::Some(#n))
        }
        None => quote!(::core::option::Option::None),
    };
    let spec = quote! {
        ::memo_core::__private::MemoSpec { timeout: #timeout, max_entries: #max_entries }
    };
    let cache_ty = quote!(::memo_core::__private::Memoized<(#(#key_tys,)*), #output>);
    let accessor_ident = &form.accessor;
    let accessor = if per_instance {
        quote! {
            fn #accessor_ident(&self) -> ::std::sync::Arc<#cache_ty> {
                enum __MemoSlot {}
                ::memo_core::__private::instance_cache::<__MemoSlot, _, _, Self>(self, #spec)
            }
        }
    } else {
        quote! {
            fn #accessor_ident() -> &'static #cache_ty {
                static __MEMO_CACHE: #cache_ty = ::memo_core::__private::Memoized::new(#spec);
                &__MEMO_CACHE
            }
        }
    };
    let cache = if per_instance {
        quote!(self.#accessor_ident())
    } else {
        form.cache.clone()
    };
    let body_call = &form.body_call;
    // A hit probes with the arguments where they are (`BorrowedKey`,
    // implemented for up to `MAX_BORROWED` of them); the owned key is
    // built on a miss only.
    let borrowed = function.params.iter().map(|p| {
        let ident = &p.ident;
        match p.borrowed {
            Some(_) => quote!(#ident),
            None => quote!(&#ident),
        }
    });
    let probe = quote! {
        let __memo_held = #cache;
        let __memo_cache = __memo_held.type_checked();
        let __memo_hit = __memo_cache.get(&(#(#borrowed,)*));
    };
    let is_async = function.is_async();
    let keep_arg = keep.extra_arg(&function.output).map(|arg| quote!(, #arg));
    let [call_async, call_missed, call, refresh] = [
        ("call", true),
        ("call_missed", false),
        ("call", false),
        ("refresh", is_async),
    ]
    .map(|(base, is_async)| keep.method(base, is_async));
    let (miss, whole, refresh) = if is_async {
        (
            quote!(__memo_cache.#call_async(#key, #body_call #keep_arg).await),
            quote!(#cache.#call_async(#key, #body_call #keep_arg).await),
            quote!(#cache.#refresh(#key, #body_call #keep_arg).await),
        )
    } else {
        (
            quote! {
                ::memo_core::__private::cold(move || {
                    __memo_cache.#call_missed(#key, move || #body_call #keep_arg)
                })
            },
            quote!(#cache.#call(#key, move || #body_call #keep_arg)),
            quote!(#cache.#refresh(#key, move || #body_call #keep_arg)),
        )
    };
    let hit = keep.wrap(&function.output, quote!(__memo_value));
    let body = if function.params.len() <= MAX_BORROWED {
        quote! {
            #probe
            match __memo_hit {
                ::core::option::Option::Some(__memo_value) => #hit,
                ::core::option::Option::None => #miss,
            }
        }
    } else {
        whole
    };
    Expansion {
        checks: quote!(#(#checks)*),
        body,
        accessor,
        per_instance,
        clear: (signatures.outcome.clone(), quote!(#cache.clear(&#key))),
        invalidate: (signatures.outcome, quote!(#cache.invalidate())),
        set_cached_value: (
            signatures.set,
            quote! {
                let __memo_cache = #cache;
                let __memo_key = #key;
                ::memo_core::SetCachedValue::new(move |value| __memo_cache.set(__memo_key, value))
            },
        ),
        refresh,
        clear_is_async: signatures.clear_is_async,
    }
}

fn quickcache(function: &Function, options: &Options, form: &Placement, keep: &Keep) -> Expansion {
    let output = &keep.value_ty(&function.output);
    let (key, checks) = match &options.key {
        Some(path) => {
            let path = &path.value;
            let args = function.receiver.then(|| quote!(self)).into_iter().chain(
                function.params.iter().map(|p| {
                    let ident = &p.ident;
                    match p.borrowed {
                        Some(_) => quote!(#ident),
                        None => quote!(&#ident),
                    }
                }),
            );
            let key = quote!(&#path(#(#args),*));
            let check =
                quote_spanned!(path.span()=> ::memo_core::__private::require_vary_on(#key););
            (key, check)
        }
        None => {
            let mut exprs = Vec::new();
            let mut checks = Vec::new();
            for path in function.vary_on(options) {
                let root = &path.root;
                let fields = &path.fields;
                let expr = if root == "self" && fields.is_empty() {
                    quote!(#root)
                } else {
                    quote!(&#root #(.#fields)*)
                };
                checks.push(
                    quote_spanned!(path.span()=> ::memo_core::__private::require_vary_on(#expr);),
                );
                exprs.push(expr);
            }
            (quote!(&(#(#exprs,)*)), quote!(#(#checks)*))
        }
    };
    let output_check = quote_spanned!(function.output.span()=>
        ::memo_core::__private::require_value::<#output>();
    );
    let codec = match &options.codec {
        Some(codec) => {
            let codec = &codec.value;
            quote!(#codec)
        }
        None => quote!(::memo_core::__private::DefaultCodec),
    };
    let seconds = |given: &Option<attr::Given<Seconds>>, default: TokenStream| match given {
        Some(s) => duration(&s.value),
        None => quote!(::memo_core::__private::Spec::#default),
    };
    let timeout = seconds(&options.timeout, quote!(DEFAULT_TIMEOUT));
    let memoize_timeout = seconds(&options.memoize_timeout, quote!(DEFAULT_MEMOIZE_TIMEOUT));
    let max_entries = match &options.max_entries {
        Some(n) => {
            let n = n.value;
            quote!(#n)
        }
        None => quote!(::memo_core::__private::Spec::DEFAULT_MAX_ENTRIES),
    };
    let lock_ttl = match (&options.lock, &options.lock_ttl) {
        (Some(lock), ttl) if lock.value => {
            let ttl = seconds(ttl, quote!(DEFAULT_LOCK_TTL));
            quote!(::core::option::Option::Some(#ttl))
        }
        _ => quote!(::core::option::Option::None),
    };
    let name = match &options.name {
        Some(name) => {
            let name = &name.value;
            quote!(::core::option::Option::Some(#name))
        }
        None => quote!(::core::option::Option::None),
    };
    let function_name = function.name().to_string();
    let digest = digest(function);
    let get = if form.methods {
        quote!(get_for(::memo_core::__private::type_name::<Self>))
    } else {
        quote!(get())
    };
    let accessor_ident = &form.accessor;
    let cache_ty = quote!(::memo_core::__private::QuickCache<#output, #codec>);
    let accessor = quote! {
        fn #accessor_ident() -> &'static ::memo_core::__private::Cache<#output, #codec> {
            static __MEMO_CACHE: #cache_ty = ::memo_core::__private::QuickCache::new(
                ::memo_core::__private::Spec {
                    module: ::core::module_path!(),
                    function: #function_name,
                    digest: #digest,
                    name: #name,
                    timeout: #timeout,
                    memoize_timeout: #memoize_timeout,
                    max_entries: #max_entries,
                    lock_ttl: #lock_ttl,
                },
            );
            __MEMO_CACHE.#get
        }
    };
    let cache = &form.cache;
    let body_call = &form.body_call;
    // A key that is not `Serialize` fails `checks`, spanned on its
    // `vary_on` entry; the cache calls then get a stand-in and add no errors
    // of their own (see `KeyOf`).
    let key = quote!((&::memo_core::__private::KeyOf(#key)).memo_key());
    let uses = quote! {
        #[allow(unused_imports)]
        use ::memo_core::__private::{
            ProbeByValue as _, ProbeEncoded as _, SerializedKey as _, UnserializableKey as _,
        };
    };
    let CompanionTypes {
        outcome,
        set,
        clear_is_async,
    } = signatures(Kind::Quickcache, function, keep);
    let keep_arg = keep.extra_arg(&function.output).map(|arg| quote!(, #arg));
    let hit = keep.wrap(&function.output, quote!(__memo_value));
    let is_async = function.is_async();
    let or_compute = keep.method("or_compute", is_async);
    let refresh = keep.method("refresh", is_async);
    if is_async {
        let future = boxed_future(&outcome);
        return Expansion {
            checks: quote!(#checks #output_check),
            body: quote! {
                #uses
                let __memo_cache = #cache.type_checked();
                let __memo_hit = (&::memo_core::__private::Probe(#key)).memo_probe(__memo_cache);
                let __memo_lookup = __memo_cache.lookup_async(__memo_hit, #key).await;
                __memo_lookup.#or_compute(#body_call #keep_arg).await
            },
            accessor,
            per_instance: false,
            clear: (
                outcome.clone(),
                quote!(#uses #cache.clear_async(#key).await),
            ),
            invalidate: (outcome, quote!(#cache.invalidate_async().await)),
            set_cached_value: (
                set,
                quote! {
                    #uses
                    let __memo_prepared = #cache.prepare(#key);
                    ::memo_core::SetCachedValue::new(move |value| -> #future {
                        ::std::boxed::Box::pin(__memo_prepared.set_async(value))
                    })
                },
            ),
            refresh: quote! {
                #uses
                let __memo_prepared = #cache.prepare(#key);
                __memo_prepared.#refresh(#body_call #keep_arg).await
            },
            clear_is_async,
        };
    }
    Expansion {
        checks: quote!(#checks #output_check),
        body: quote! {
            #uses
            let __memo_cache = #cache.type_checked();
            let __memo_hit = (&::memo_core::__private::Probe(#key)).memo_probe(__memo_cache);
            match __memo_hit {
                ::core::option::Option::Some(__memo_value) => #hit,
                ::core::option::Option::None => ::memo_core::__private::cold(move || {
                    let __memo_lookup = __memo_cache.lookup_beyond_l1(#key);
                    __memo_lookup.#or_compute(move || #body_call #keep_arg)
                }),
            }
        },
        accessor,
        per_instance: false,
        clear: (outcome.clone(), quote!(#uses #cache.clear(#key))),
        invalidate: (outcome, quote!(#cache.invalidate())),
        set_cached_value: (
            set,
            quote! {
                #uses
                let __memo_prepared = #cache.prepare(#key);
                ::memo_core::SetCachedValue::new(move |value| __memo_prepared.set(value))
            },
        ),
        refresh: quote! {
            #uses
            let __memo_prepared = #cache.prepare(#key);
            __memo_prepared.#refresh(move || #body_call #keep_arg)
        },
        clear_is_async,
    }
}

/// FNV-1a (folded to 32 bits) of the function's signature and body as
/// tokens: the same for every build of the same code, and another for
/// another function of the same name (see `Spec::digest`).
fn digest(function: &Function) -> u32 {
    let (sig, block) = (&function.sig, &function.block);
    let text = quote!(#sig #block).to_string();
    let hash = text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    });
    (hash ^ (hash >> 32)) as u32
}

fn duration(seconds: &Seconds) -> TokenStream {
    let (secs, nanos) = (seconds.secs, seconds.nanos);
    quote!(::memo_core::__private::Duration::new(#secs, #nanos))
}

fn is_cfg(attr: &Attribute) -> bool {
    attr.path().is_ident("cfg")
}

fn is_lint(attr: &Attribute) -> bool {
    ["allow", "warn", "deny", "forbid", "expect"]
        .iter()
        .any(|lint| attr.path().is_ident(lint))
}

/// The function with its new body, its original body as a hidden function,
/// the cache accessor and the companions.
fn emit(function: &Function, form: &Placement, parts: Expansion) -> TokenStream {
    let Function {
        attrs,
        vis,
        sig,
        block,
        ..
    } = function;
    let name = function.name();
    let cfgs: Vec<&Attribute> = attrs.iter().filter(|a| is_cfg(a)).collect();
    let lints: Vec<&Attribute> = attrs.iter().filter(|a| is_lint(a)).collect();

    // The outer signature names each parameter plainly (no `mut`): the
    // parameters are only moved into the body.
    let mut outer_sig = sig.clone();
    for (input, param) in outer_sig
        .inputs
        .iter_mut()
        .filter(|i| matches!(i, syn::FnArg::Typed(_)))
        .zip(&function.params)
    {
        if let syn::FnArg::Typed(typed) = input {
            let ident = &param.ident;
            *typed.pat = syn::parse_quote!(#ident);
        }
    }
    let mut body_sig = sig.clone();
    body_sig.ident = form.body_ident.clone();
    let generics = &sig.generics;
    let where_clause = &sig.generics.where_clause;
    let receiver = function.receiver.then(|| quote!(&self,));
    let params = function.params.iter().map(|p| {
        let (ident, ty) = (&p.ident, &p.ty);
        quote!(#ident: #ty)
    });
    let params = quote!(#receiver #(#params),*);
    let output = &function.output;

    let Expansion {
        checks,
        body,
        accessor,
        per_instance,
        clear,
        invalidate,
        set_cached_value,
        refresh,
        clear_is_async,
    } = parts;
    let body_call = &form.body_call;
    let (body_async, uncached) = if function.is_async() {
        (Some(quote!(async)), quote!(#body_call.await))
    } else {
        (None, quote!(#body_call))
    };
    let clear_async = clear_is_async.then(|| quote!(async));
    let (clear_ty, clear_body) = clear;
    let (invalidate_ty, invalidate_body) = invalidate;
    let (set_ty, set_body) = set_cached_value;
    let [clear_fn, invalidate_fn, set_fn, refresh_fn, uncached_fn] = [
        "clear",
        "invalidate",
        "set_cached_value",
        "refresh",
        "uncached",
    ]
    .map(|op| form.companion(function, op));
    let invalidate_receiver = per_instance.then(|| quote!(&self));
    let accessor = if per_instance || form.methods {
        quote!(#[doc(hidden)] #[allow(dead_code)] #accessor)
    } else {
        quote!(#[doc(hidden)] #accessor)
    };

    let doc = |text: String| quote!(#[doc = #text]);
    let target = if form.methods {
        format!("`Self::{name}`")
    } else {
        format!("`{name}`")
    };
    let clear_doc = doc(format!(
        "Drops the cached value of {target} for these arguments, in every tier."
    ));
    let invalidate_doc = doc(if per_instance {
        format!("Drops every cached value of {target} on this instance.")
    } else {
        format!("Drops every cached value of {target}.")
    });
    let set_doc = doc(format!("Stores a value for these arguments: `{set_fn}(args).to(value)`; {target} returns it until it expires or is cleared."));
    let refresh_doc = doc(format!(
        "Runs {target}'s body, stores and returns its value."
    ));
    let uncached_doc = doc(format!("Runs {target}'s body without any caching."));

    // Every companion is compiled when the function is, and takes the
    // function's `allow`s (its parameters, say, are as many): a `deny` or
    // `forbid` would clash with the companions' own `allow`s, an `expect`
    // would go unmet.
    let allows = attrs.iter().filter(|a| a.path().is_ident("allow"));
    let each = quote!(#(#cfgs)* #(#allows)*);
    let companions = quote! {
        #each
        #accessor
        #clear_doc
        #each
        #[allow(unused_variables, clippy::needless_pass_by_value, clippy::unused_unit)]
        #vis #clear_async fn #clear_fn #generics (#params) -> #clear_ty #where_clause { #clear_body }
        #invalidate_doc
        #each
        #[allow(clippy::unused_unit)]
        #vis #clear_async fn #invalidate_fn(#invalidate_receiver) -> #invalidate_ty { #invalidate_body }
        #set_doc
        #each
        #[allow(unused_variables, clippy::needless_pass_by_value)]
        #vis fn #set_fn #generics (#params) -> #set_ty #where_clause { #set_body }
        #refresh_doc
        #each
        #vis #body_async fn #refresh_fn #generics (#params) -> #output #where_clause { #refresh }
        #uncached_doc
        #each
        #vis #body_async fn #uncached_fn #generics (#params) -> #output #where_clause { #uncached }
    };

    let function = quote! {
        #(#attrs)*
        #vis #outer_sig {
            #checks
            #body
        }

        #(#cfgs)*
        #(#lints)*
        #[doc(hidden)]
        #[inline]
        #[allow(clippy::needless_pass_by_value)]
        #body_sig #block
    };

    if form.methods {
        quote! {
            #function
            #companions
        }
    } else {
        let struct_doc = doc(format!(
            "Cache companions of the function `{name}`: `{name}::clear(..)`, `{name}::invalidate()`, `{name}::set_cached_value(..).to(value)`, `{name}::refresh(..)`, `{name}::uncached(..)`."
        ));
        quote! {
            #function

            #(#cfgs)*
            #struct_doc
            #[allow(non_camel_case_types, dead_code)]
            #vis struct #name {}

            #(#cfgs)*
            #[allow(dead_code)]
            impl #name {
                #companions
            }
        }
    }
}
