//! `#[memoized]`: the body that probes the in-process cache with the
//! arguments where they are, and the companions' bodies.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;

use super::{
    callback, jitter, min_time, optional_count, positive_duration, signatures, Expansion, Keep,
    Placement,
};
use crate::attr::{Kind, Options};
use crate::model::Function;

/// Most arguments a `#[memoized]` hit probes with in place (memo-core's
/// `BorrowedKey` impls); a function with more builds its owned key per call.
const MAX_BORROWED: usize = 8;

pub(super) fn expansion(
    function: &Function,
    options: &Options,
    form: &Placement,
    keep: &Keep,
) -> Expansion {
    let memo = super::memo();
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
        let memo = super::memo_at(span);
        quote_spanned!(span=> #memo::__private::require_key::<#key_ty>();)
    });
    let timeout = match &options.timeout {
        Some(t) => {
            let d = positive_duration(&t.value);
            quote!(::core::option::Option::Some(#d))
        }
        None => quote!(::core::option::Option::None),
    };
    let max_entries = optional_count(&options.max_entries);
    let max_bytes = optional_count(&options.max_bytes);
    let min_time = min_time(options);
    let jitter = jitter(options);
    let idle_timeout = match &options.idle_timeout {
        Some(t) => {
            let d = positive_duration(&t.value);
            quote!(::core::option::Option::Some(#d))
        }
        None => quote!(::core::option::Option::None),
    };
    let stale_on_error = match (&options.stale_on_error, &options.timeout) {
        (Some(given), Some(timeout)) => match &given.value {
            crate::attr::StaleOnError::Flag(true) => positive_duration(&timeout.value),
            crate::attr::StaleOnError::Grace(seconds) => positive_duration(seconds),
            crate::attr::StaleOnError::Flag(false) => {
                quote!(#memo::__private::Duration::ZERO)
            }
        },
        _ => quote!(#memo::__private::Duration::ZERO),
    };
    let spec = quote! {
        #memo::__private::MemoSpec {
            timeout: #timeout,
            max_entries: #max_entries,
            max_bytes: #max_bytes,
            min_time: #min_time,
            timeout_jitter: #jitter,
            idle_timeout: #idle_timeout,
            stale_on_error: #stale_on_error,
        }
    };
    let key_ty = quote!((#(#key_tys,)*));
    let cache_ty = quote!(#memo::__private::Memoized<#key_ty, #output>);
    // With `max_bytes`: each key and value weighed by `memo_core::Weigh`
    // where their types implement it, by their size otherwise.
    let weigher = match &options.max_bytes {
        Some(_) => quote! {
            ::core::option::Option::Some(|__memo_key: &#key_ty, __memo_value: &#output| {
                #[allow(unused_imports)]
                use #memo::__private::{ByWeigh as _, BySize as _};
                (&#memo::__private::WeighOf(__memo_key)).memo_weight()
                    + (&#memo::__private::WeighOf(__memo_value)).memo_weight()
            })
        },
        None => quote!(::core::option::Option::None),
    };
    let accessor_ident = &form.accessor;
    // The function's counters, listed by `stats::functions()` under
    // `module::function@digest`.
    let namespace_tail = format!(
        "::{}@{:08x}",
        function.name(),
        super::quickcache::digest(function)
    );
    let stats = |cache: TokenStream| {
        quote! {
            static __MEMO_STATS: #memo::__private::MemoStats =
                #memo::__private::MemoStats::new(
                    ::core::concat!(::core::module_path!(), #namespace_tail),
                    #cache,
                );
        }
    };
    // Names the method's caches across instances (`invalidate_all`).
    let slot_fn = format_ident!("__memo_slot_{}", function.name());
    let accessor = if per_instance {
        let stats = stats(quote!(::core::option::Option::None));
        quote! {
            fn #accessor_ident(&self) -> ::std::sync::Arc<#cache_ty> {
                // A `const`: the options' constants are checked at compile
                // time, as in a function's `static`.
                const __MEMO_SPEC: #memo::__private::MemoSpec = #spec;
                #stats
                #memo::__private::instance_cache::<_, _, Self>(
                    self,
                    Self::#slot_fn(),
                    __MEMO_SPEC,
                    #weigher,
                    &__MEMO_STATS,
                )
            }
            #[doc(hidden)]
            #[allow(dead_code)]
            fn #slot_fn() -> ::core::any::TypeId {
                enum __MemoSlot {}
                ::core::any::TypeId::of::<__MemoSlot>()
            }
        }
    } else {
        let stats = stats(quote!(::core::option::Option::Some(|| &__MEMO_CACHE)));
        quote! {
            fn #accessor_ident() -> &'static #cache_ty {
                #stats
                static __MEMO_CACHE: #cache_ty =
                    #memo::__private::Memoized::new(#spec, #weigher, &__MEMO_STATS);
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
    let keep_value = keep.value(&function.output);
    let on_hit = callback(function, &options.on_hit);
    let on_miss = callback(function, &options.on_miss);
    // `on_hit` for a value found past the probe (a flight's): called with
    // the owned key's parts, which deref to the arguments' types.
    let found = match &options.on_hit {
        Some(given) => {
            let path = &given.value;
            let parts = (0..function.params.len()).map(|i| {
                let i = syn::Index::from(i);
                quote!(&__memo_key.#i)
            });
            quote_spanned!(path.span()=> |__memo_key: &#key_ty| { #path(#(#parts),*); })
        }
        None => quote!(|_| {}),
    };
    let (body, body_async) = match &on_miss {
        Some(on_miss) => (
            quote!({ #on_miss #body_call }),
            quote!(async move { #on_miss #body_call.await }),
        ),
        None => (quote!(#body_call), quote!(#body_call)),
    };
    let (miss, whole, refresh) = if is_async {
        (
            quote!(__memo_cache.call_async(#key, #keep_value, #found, #body_async).await),
            quote!(#cache.call_async(#key, #keep_value, #found, #body_async).await),
            quote!(#cache.refresh_async(#key, #keep_value, #body_call).await),
        )
    } else {
        (
            quote! {
                #memo::__private::cold(move || {
                    __memo_cache.call_missed(#key, #keep_value, #found, move || #body)
                })
            },
            quote!(#cache.call(#key, #keep_value, #found, move || #body)),
            quote!(#cache.refresh(#key, #keep_value, move || #body_call)),
        )
    };
    let hit = keep.wrap(&function.output, quote!(__memo_value));
    let hit = quote!({ #on_hit #hit });
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
                #memo::SetCachedValue::new(move |value| __memo_cache.set(__memo_key, value))
            },
        ),
        refresh,
        peek: (signatures.peek, quote!(#cache.peek(&#key))),
        cache_key: None,
        invalidate_all: per_instance
            .then(|| quote!(#memo::__private::invalidate_all(Self::#slot_fn()))),
        get_many: None,
        clear_is_async: signatures.clear_is_async,
    }
}
