async fn report(id: u64) -> Option<String> {
    ::memo_core::__private::require_vary_on(&id);
    ::memo_core::__private::require_value::<Option<String>>();
    if ::memo_core::__private::bypassed() {
        return __memo_body_report(id).await;
    }
    #[allow(unused_imports)]
    use ::memo_core::__private::{
        ProbeByValue as _, ProbeEncoded as _, SerializedKey as _, UnserializableKey as _,
    };
    let __memo_cache = report::__memo_cache().type_checked();
    let __memo_hit = (&::memo_core::__private::Probe(
        (&::memo_core::__private::KeyOf(&(&id,))).memo_key(),
    ))
        .memo_probe(__memo_cache);
    let __memo_lookup = __memo_cache
        .lookup_async(__memo_hit, (&::memo_core::__private::KeyOf(&(&id,))).memo_key())
        .await;
    __memo_lookup
        .or_compute_async(::memo_core::__private::Whole, __memo_body_report(id))
        .await
}
#[doc(hidden)]
#[inline]
#[allow(clippy::needless_pass_by_value)]
async fn __memo_body_report(id: u64) -> Option<String> {
    Some(id.to_string())
}
///Cache companions of the function `report`: `report::clear(..)`, `report::invalidate()`, `report::set_cached_value(..).to(value)`, `report::refresh(..)`, `report::uncached(..)`, `report::get_cached_value(..)`, `report::get_many(..)`, `report::cache_key(..)`.
#[allow(non_camel_case_types, dead_code)]
struct report {}
#[allow(dead_code)]
impl report {
    #[doc(hidden)]
    fn __memo_cache() -> &'static ::memo_core::__private::Cache<
        Option<String>,
        ::memo_core::__private::DefaultCodec,
    > {
        static __MEMO_CACHE: ::memo_core::__private::QuickCache<
            Option<String>,
            ::memo_core::__private::DefaultCodec,
        > = ::memo_core::__private::QuickCache::new(::memo_core::__private::Spec {
            module: ::core::module_path!(),
            function: "report",
            digest: 1200471905u32,
            name: ::core::option::Option::None,
            timeout: ::memo_core::__private::Spec::DEFAULT_TIMEOUT,
            memoize_timeout: ::memo_core::__private::Spec::DEFAULT_MEMOIZE_TIMEOUT,
            max_entries: ::memo_core::__private::Spec::DEFAULT_MAX_ENTRIES,
            max_bytes: ::core::option::Option::None,
            lock_ttl: ::core::option::Option::Some(
                ::memo_core::__private::Spec::DEFAULT_LOCK_TTL,
            ),
            min_time: ::memo_core::__private::Duration::ZERO,
            timeout_jitter: 0f64,
            stale_on_error: ::memo_core::__private::Duration::ZERO,
            backend: ::core::option::Option::None,
            arguments: &["id"],
        });
        __MEMO_CACHE.get()
    }
    ///Drops the cached value of `report` for these arguments, in every tier.
    #[allow(unused_variables, clippy::needless_pass_by_value, clippy::unused_unit)]
    async fn clear(id: u64) -> ::core::result::Result<(), ::memo_core::Error> {
        #[allow(unused_imports)]
        use ::memo_core::__private::{
            ProbeByValue as _, ProbeEncoded as _, SerializedKey as _,
            UnserializableKey as _,
        };
        report::__memo_cache()
            .clear_async((&::memo_core::__private::KeyOf(&(&id,))).memo_key())
            .await
    }
    ///Drops every cached value of `report`.
    #[allow(clippy::unused_unit)]
    async fn invalidate() -> ::core::result::Result<(), ::memo_core::Error> {
        report::__memo_cache().invalidate_async().await
    }
    ///Stores a value for these arguments: `set_cached_value(args).to(value)`; `report` returns it until it expires or is cleared.
    #[allow(unused_variables, clippy::needless_pass_by_value)]
    fn set_cached_value(
        id: u64,
    ) -> ::memo_core::SetCachedValue<
        Option<String>,
        ::memo_core::backend::BoxFuture<
            'static,
            ::core::result::Result<(), ::memo_core::Error>,
        >,
    > {
        #[allow(unused_imports)]
        use ::memo_core::__private::{
            ProbeByValue as _, ProbeEncoded as _, SerializedKey as _,
            UnserializableKey as _,
        };
        let __memo_prepared = report::__memo_cache()
            .prepare((&::memo_core::__private::KeyOf(&(&id,))).memo_key());
        ::memo_core::SetCachedValue::new(move |
            value,
        | -> ::memo_core::backend::BoxFuture<
            'static,
            ::core::result::Result<(), ::memo_core::Error>,
        > { ::std::boxed::Box::pin(__memo_prepared.set_async(value)) })
    }
    ///Runs `report`'s body, stores and returns its value.
    async fn refresh(id: u64) -> Option<String> {
        #[allow(unused_imports)]
        use ::memo_core::__private::{
            ProbeByValue as _, ProbeEncoded as _, SerializedKey as _,
            UnserializableKey as _,
        };
        let __memo_prepared = report::__memo_cache()
            .prepare((&::memo_core::__private::KeyOf(&(&id,))).memo_key());
        __memo_prepared
            .refresh_async(::memo_core::__private::Whole, __memo_body_report(id))
            .await
    }
    ///Runs `report`'s body without any caching.
    async fn uncached(id: u64) -> Option<String> {
        __memo_body_report(id).await
    }
    ///The cached value of `report` for these arguments, if one is live (in L1, then the shared tier), without computing or storing anything.
    #[allow(unused_variables, clippy::needless_pass_by_value)]
    async fn get_cached_value(id: u64) -> ::core::option::Option<Option<String>> {
        #[allow(unused_imports)]
        use ::memo_core::__private::{
            ProbeByValue as _, ProbeEncoded as _, SerializedKey as _,
            UnserializableKey as _,
        };
        report::__memo_cache()
            .peek_async((&::memo_core::__private::KeyOf(&(&id,))).memo_key())
            .await
    }
    ///`report` for each item's arguments, in order: one round trip reads every value L1 does not hold, and each value neither tier holds is computed as a call of `report` would (single flight, lock and store included; one after another on an `async fn`).
    #[allow(clippy::needless_pass_by_value, clippy::unused_unit)]
    async fn get_many(items: ::std::vec::Vec<u64>) -> ::std::vec::Vec<Option<String>> {
        let mut __memo_items = ::std::vec::Vec::new();
        let mut __memo_keys = ::std::vec::Vec::new();
        for id in items {
            let __memo_skipped: bool = false || (::memo_core::__private::bypassed());
            __memo_keys
                .push(
                    if __memo_skipped {
                        ::memo_core::__private::EncodedArgs::SKIPPED
                    } else {
                        {
                            #[allow(unused_imports)]
                            use ::memo_core::__private::{
                                ProbeByValue as _, ProbeEncoded as _, SerializedKey as _,
                                UnserializableKey as _,
                            };
                            report::__memo_cache()
                                .type_checked()
                                .encode_args(
                                    (&::memo_core::__private::KeyOf(&(&id,))).memo_key(),
                                )
                        }
                    },
                );
            __memo_items.push(id);
        }
        let __memo_found = report::__memo_cache()
            .type_checked()
            .peek_many_async(&__memo_keys)
            .await;
        let mut __memo_results = ::std::vec::Vec::with_capacity(__memo_items.len());
        for (id, __memo_found) in __memo_items.into_iter().zip(__memo_found) {
            __memo_results
                .push(
                    match __memo_found {
                        ::core::option::Option::Some(__memo_value) => __memo_value,
                        ::core::option::Option::None => report(id).await,
                    },
                );
        }
        __memo_results
    }
    ///The shared-tier key of `report`'s entry for these arguments, as the backend stores it (`Err` when the arguments cannot be encoded).
    #[allow(unused_variables, clippy::needless_pass_by_value)]
    fn cache_key(
        id: u64,
    ) -> ::core::result::Result<::std::string::String, ::memo_core::Error> {
        #[allow(unused_imports)]
        use ::memo_core::__private::{
            ProbeByValue as _, ProbeEncoded as _, SerializedKey as _,
            UnserializableKey as _,
        };
        report::__memo_cache()
            .cache_key((&::memo_core::__private::KeyOf(&(&id,))).memo_key())
    }
}
