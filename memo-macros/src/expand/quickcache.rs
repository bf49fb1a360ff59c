//! `#[quickcache]`: the body that probes L1 and calls the runtime's miss
//! path out of line, the cache's static, and the companions' bodies.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

use super::{
    boxed_future, callback, count, duration, jitter, min_time, optional_count, positive_duration,
    signatures, CompanionTypes, Expansion, Keep, Placement,
};
use crate::attr::{self, Kind, Options, Seconds};
use crate::model::Function;

pub(super) fn expansion(
    function: &Function,
    options: &Options,
    form: &Placement,
    keep: &Keep,
) -> Expansion {
    let memo = super::memo();
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
            let memo = super::memo_at(path.span());
            let check = quote_spanned!(path.span()=> #memo::__private::require_vary_on(#key););
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
                checks.push({
                    let memo = super::memo_at(path.span());
                    quote_spanned!(path.span()=> #memo::__private::require_vary_on(#expr);)
                });
                exprs.push(expr);
            }
            (quote!(&(#(#exprs,)*)), quote!(#(#checks)*))
        }
    };
    let output_check = {
        let memo = super::memo_at(function.output.span());
        quote_spanned!(function.output.span()=> #memo::__private::require_value::<#output>();)
    };
    let codec = match &options.codec {
        Some(codec) => {
            let codec = &codec.value;
            quote!(#codec)
        }
        None => quote!(#memo::__private::DefaultCodec),
    };
    // `memoize_timeout` may be zero (L1 off); the others may not.
    let seconds =
        |given: &Option<attr::Given<Seconds>>, default: TokenStream, zero_ok: bool| match given {
            Some(s) if zero_ok => duration(&s.value),
            Some(s) => positive_duration(&s.value),
            None => quote!(#memo::__private::Spec::#default),
        };
    let timeout = seconds(&options.timeout, quote!(DEFAULT_TIMEOUT), false);
    let memoize_timeout = seconds(
        &options.memoize_timeout,
        quote!(DEFAULT_MEMOIZE_TIMEOUT),
        true,
    );
    let max_entries = match &options.max_entries {
        Some(n) => count(&n.value),
        None => quote!(#memo::__private::Spec::DEFAULT_MAX_ENTRIES),
    };
    let max_bytes = optional_count(&options.max_bytes);
    let min_time = min_time(options);
    let jitter = jitter(options);
    let stale_on_error = match &options.stale_on_error {
        Some(given) => match &given.value {
            attr::StaleOnError::Flag(true) => timeout.clone(),
            attr::StaleOnError::Grace(seconds) => positive_duration(seconds),
            attr::StaleOnError::Flag(false) => quote!(#memo::__private::Duration::ZERO),
        },
        None => quote!(#memo::__private::Duration::ZERO),
    };
    let lock_ttl = match (&options.lock, &options.lock_ttl) {
        (Some(lock), ttl) if lock.value => {
            let ttl = seconds(ttl, quote!(DEFAULT_LOCK_TTL), false);
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
    let backend = match &options.backend {
        Some(given) => {
            let name = &given.value;
            quote!(::core::option::Option::Some(#name))
        }
        None => quote!(::core::option::Option::None),
    };
    let function_name = function.name().to_string();
    // The key's parts as written, for tools (`admin::Descriptor`).
    let arguments: Vec<String> = match &options.key {
        Some(path) => {
            let path = &path.value;
            vec![format!("{}(..)", quote!(#path)).replace(' ', "")]
        }
        None => function
            .vary_on(options)
            .into_iter()
            .map(|path| {
                let root = &path.root;
                let fields = &path.fields;
                quote!(#root #(.#fields)*).to_string().replace(' ', "")
            })
            .collect(),
    };
    let digest = digest(function);
    let get = if form.methods {
        quote!(get_for(#memo::__private::type_name::<Self>))
    } else {
        quote!(get())
    };
    let accessor_ident = &form.accessor;
    let cache_ty = quote!(#memo::__private::QuickCache<#output, #codec>);
    let accessor = quote! {
        fn #accessor_ident() -> &'static #memo::__private::Cache<#output, #codec> {
            static __MEMO_CACHE: #cache_ty = #memo::__private::QuickCache::new(
                #memo::__private::Spec {
                    module: ::core::module_path!(),
                    function: #function_name,
                    digest: #digest,
                    name: #name,
                    timeout: #timeout,
                    memoize_timeout: #memoize_timeout,
                    max_entries: #max_entries,
                    max_bytes: #max_bytes,
                    lock_ttl: #lock_ttl,
                    min_time: #min_time,
                    timeout_jitter: #jitter,
                    stale_on_error: #stale_on_error,
                    backend: #backend,
                    arguments: &[#(#arguments),*],
                },
            );
            __MEMO_CACHE.#get
        }
    };
    // A key that is not `Serialize` fails `checks`, spanned on its
    // `vary_on` entry; the cache calls then get a stand-in and add no errors
    // of their own (see `KeyOf`).
    let key = quote!((&#memo::__private::KeyOf(#key)).memo_key());
    let call = CallOptions {
        once: options
            .store_result
            .as_ref()
            .is_some_and(|given| !given.value),
        on_hit: callback(function, &options.on_hit),
        on_miss: callback(function, &options.on_miss),
    };
    calls(
        function,
        form,
        keep,
        &call,
        quote!(#checks #output_check),
        accessor,
        key,
    )
}

/// What of a call the options change: `once` (`store_result = false`:
/// claim, then run), and the `on_hit` / `on_miss` calls, as statements.
struct CallOptions {
    once: bool,
    on_hit: Option<TokenStream>,
    on_miss: Option<TokenStream>,
}

/// The function's body and its companions' bodies: the calls into the
/// runtime with the key and the body, sync or async.
fn calls(
    function: &Function,
    form: &Placement,
    keep: &Keep,
    call: &CallOptions,
    checks: TokenStream,
    accessor: TokenStream,
    key: TokenStream,
) -> Expansion {
    let memo = super::memo();
    let cache = &form.cache;
    let body_call = &form.body_call;
    let uses = quote! {
        #[allow(unused_imports)]
        use #memo::__private::{
            ProbeByValue as _, ProbeEncoded as _, SerializedKey as _, UnserializableKey as _,
        };
    };
    let CompanionTypes {
        outcome,
        set,
        peek,
        key: key_ty,
        clear_is_async,
    } = signatures(Kind::Quickcache, function, keep);
    let cache_key = key_ty.map(|ty| (ty, quote!(#uses #cache.cache_key(#key))));
    let keep_value = keep.value(&function.output);
    let hit = keep.wrap(&function.output, quote!(__memo_value));
    let on_hit = &call.on_hit;
    // The body, after `on_miss` if any.
    let (body, body_async) = match &call.on_miss {
        Some(on_miss) => (
            quote!({ #on_miss #body_call }),
            quote!(async move { #on_miss #body_call.await }),
        ),
        None => (quote!(#body_call), quote!(#body_call)),
    };
    let (compute, compute_async) = if call.once {
        (
            quote!(__memo_lookup.run_once(move || #body)),
            quote!(__memo_lookup.run_once_async(#body_async).await),
        )
    } else {
        (
            quote!(__memo_lookup.or_compute(#keep_value, move || #body)),
            quote!(__memo_lookup.or_compute_async(#keep_value, #body_async).await),
        )
    };
    // A hit of the shared tier (or of a flight), found past the probe.
    let on_lookup_hit = on_hit.as_ref().map(|on_hit| {
        quote! {
            if __memo_lookup.is_hit() {
                #on_hit
            }
        }
    });
    let is_async = function.is_async();
    if is_async {
        let future = boxed_future(&outcome);
        return Expansion {
            checks,
            body: quote! {
                #uses
                let __memo_cache = #cache.type_checked();
                let __memo_hit = (&#memo::__private::Probe(#key)).memo_probe(__memo_cache);
                let __memo_lookup = __memo_cache.lookup_async(__memo_hit, #key).await;
                #on_lookup_hit
                #compute_async
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
                    #memo::SetCachedValue::new(move |value| -> #future {
                        ::std::boxed::Box::pin(__memo_prepared.set_async(value))
                    })
                },
            ),
            refresh: quote! {
                #uses
                let __memo_prepared = #cache.prepare(#key);
                __memo_prepared.refresh_async(#keep_value, #body_call).await
            },
            peek: (peek, quote!(#uses #cache.peek_async(#key).await)),
            cache_key,
            invalidate_all: None,
            get_many: (!call.once).then(|| {
                (
                    quote!({ #uses #cache.type_checked().encode_args(#key) }),
                    quote!({ #on_hit #hit }),
                )
            }),
            clear_is_async,
        };
    }
    Expansion {
        checks,
        body: quote! {
            #uses
            let __memo_cache = #cache.type_checked();
            let __memo_hit = (&#memo::__private::Probe(#key)).memo_probe(__memo_cache);
            match __memo_hit {
                ::core::option::Option::Some(__memo_value) => { #on_hit #hit }
                ::core::option::Option::None => #memo::__private::cold(move || {
                    let __memo_lookup = __memo_cache.lookup_beyond_l1(#key);
                    #on_lookup_hit
                    #compute
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
                #memo::SetCachedValue::new(move |value| __memo_prepared.set(value))
            },
        ),
        refresh: quote! {
            #uses
            let __memo_prepared = #cache.prepare(#key);
            __memo_prepared.refresh(#keep_value, move || #body_call)
        },
        peek: (peek, quote!(#uses #cache.peek(#key))),
        cache_key,
        invalidate_all: None,
        get_many: (!call.once).then(|| {
            (
                quote!({ #uses #cache.type_checked().encode_args(#key) }),
                quote!({ #on_hit #hit }),
            )
        }),
        clear_is_async,
    }
}

/// FNV-1a (folded to 32 bits) of the function's signature and body as
/// tokens: the same for every build of the same code, and another for
/// another function of the same name (see `Spec::digest`).
pub(super) fn digest(function: &Function) -> u32 {
    let (sig, block) = (&function.sig, &function.block);
    let text = quote!(#sig #block).to_string();
    let hash = text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    });
    (hash ^ (hash >> 32)) as u32
}
