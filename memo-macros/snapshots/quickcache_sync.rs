pub fn dashboard(domain: &str, user: &User) -> String {
    ::memo_core::__private::require_vary_on(&domain);
    ::memo_core::__private::require_vary_on(&user.id);
    ::memo_core::__private::require_value::<String>();
    if ::memo_core::__private::bypassed() {
        return __memo_body_dashboard(domain, user);
    }
    #[allow(unused_imports)]
    use ::memo_core::__private::{
        ProbeByValue as _, ProbeEncoded as _, SerializedKey as _, UnserializableKey as _,
    };
    let __memo_cache = dashboard::__memo_cache().type_checked();
    let __memo_hit = (&::memo_core::__private::Probe(
        (&::memo_core::__private::KeyOf(&(&domain, &user.id))).memo_key(),
    ))
        .memo_probe(__memo_cache);
    match __memo_hit {
        ::core::option::Option::Some(__memo_value) => __memo_value,
        ::core::option::Option::None => {
            ::memo_core::__private::cold(move || {
                let __memo_lookup = __memo_cache
                    .lookup_beyond_l1(
                        (&::memo_core::__private::KeyOf(&(&domain, &user.id))).memo_key(),
                    );
                __memo_lookup
                    .or_compute(
                        ::memo_core::__private::Whole,
                        move || __memo_body_dashboard(domain, user),
                    )
            })
        }
    }
}
#[doc(hidden)]
#[inline]
#[allow(clippy::needless_pass_by_value)]
fn __memo_body_dashboard(domain: &str, user: &User) -> String {
    format!("{domain} {}", user.id)
}
///Cache companions of the function `dashboard`: `dashboard::clear(..)`, `dashboard::invalidate()`, `dashboard::set_cached_value(..).to(value)`, `dashboard::refresh(..)`, `dashboard::uncached(..)`, `dashboard::get_cached_value(..)`, `dashboard::get_many(..)`, `dashboard::cache_key(..)`.
#[allow(non_camel_case_types, dead_code)]
pub struct dashboard {}
#[allow(dead_code)]
impl dashboard {
    #[doc(hidden)]
    fn __memo_cache() -> &'static ::memo_core::__private::Cache<
        String,
        ::memo_core::__private::DefaultCodec,
    > {
        static __MEMO_CACHE: ::memo_core::__private::QuickCache<
            String,
            ::memo_core::__private::DefaultCodec,
        > = ::memo_core::__private::QuickCache::new(::memo_core::__private::Spec {
            module: ::core::module_path!(),
            function: "dashboard",
            digest: 1102572538u32,
            name: ::core::option::Option::None,
            timeout: ::memo_core::__private::Duration::new(300u64, 0u32),
            memoize_timeout: ::memo_core::__private::Spec::DEFAULT_MEMOIZE_TIMEOUT,
            max_entries: ::memo_core::__private::Spec::DEFAULT_MAX_ENTRIES,
            max_bytes: ::core::option::Option::None,
            lock_ttl: ::core::option::Option::None,
            min_time: ::memo_core::__private::Duration::ZERO,
            timeout_jitter: 0f64,
            stale_on_error: ::memo_core::__private::Duration::ZERO,
            backend: ::core::option::Option::None,
            arguments: &["domain", "user.id"],
        });
        __MEMO_CACHE.get()
    }
    ///Drops the cached value of `dashboard` for these arguments, in every tier.
    #[allow(unused_variables, clippy::needless_pass_by_value, clippy::unused_unit)]
    pub fn clear(
        domain: &str,
        user: &User,
    ) -> ::core::result::Result<(), ::memo_core::Error> {
        #[allow(unused_imports)]
        use ::memo_core::__private::{
            ProbeByValue as _, ProbeEncoded as _, SerializedKey as _,
            UnserializableKey as _,
        };
        dashboard::__memo_cache()
            .clear((&::memo_core::__private::KeyOf(&(&domain, &user.id))).memo_key())
    }
    ///Drops every cached value of `dashboard`.
    #[allow(clippy::unused_unit)]
    pub fn invalidate() -> ::core::result::Result<(), ::memo_core::Error> {
        dashboard::__memo_cache().invalidate()
    }
    ///Stores a value for these arguments: `set_cached_value(args).to(value)`; `dashboard` returns it until it expires or is cleared.
    #[allow(unused_variables, clippy::needless_pass_by_value)]
    pub fn set_cached_value(
        domain: &str,
        user: &User,
    ) -> ::memo_core::SetCachedValue<
        String,
        ::core::result::Result<(), ::memo_core::Error>,
    > {
        #[allow(unused_imports)]
        use ::memo_core::__private::{
            ProbeByValue as _, ProbeEncoded as _, SerializedKey as _,
            UnserializableKey as _,
        };
        let __memo_prepared = dashboard::__memo_cache()
            .prepare((&::memo_core::__private::KeyOf(&(&domain, &user.id))).memo_key());
        ::memo_core::SetCachedValue::new(move |value| __memo_prepared.set(value))
    }
    ///Runs `dashboard`'s body, stores and returns its value.
    pub fn refresh(domain: &str, user: &User) -> String {
        #[allow(unused_imports)]
        use ::memo_core::__private::{
            ProbeByValue as _, ProbeEncoded as _, SerializedKey as _,
            UnserializableKey as _,
        };
        let __memo_prepared = dashboard::__memo_cache()
            .prepare((&::memo_core::__private::KeyOf(&(&domain, &user.id))).memo_key());
        __memo_prepared
            .refresh(
                ::memo_core::__private::Whole,
                move || __memo_body_dashboard(domain, user),
            )
    }
    ///Runs `dashboard`'s body without any caching.
    pub fn uncached(domain: &str, user: &User) -> String {
        __memo_body_dashboard(domain, user)
    }
    ///The cached value of `dashboard` for these arguments, if one is live (in L1, then the shared tier), without computing or storing anything.
    #[allow(unused_variables, clippy::needless_pass_by_value)]
    pub fn get_cached_value(
        domain: &str,
        user: &User,
    ) -> ::core::option::Option<String> {
        #[allow(unused_imports)]
        use ::memo_core::__private::{
            ProbeByValue as _, ProbeEncoded as _, SerializedKey as _,
            UnserializableKey as _,
        };
        dashboard::__memo_cache()
            .peek((&::memo_core::__private::KeyOf(&(&domain, &user.id))).memo_key())
    }
    ///`dashboard` for each item's arguments, in order: one round trip reads every value L1 does not hold, and each value neither tier holds is computed as a call of `dashboard` would (single flight, lock and store included; one after another on an `async fn`).
    #[allow(clippy::needless_pass_by_value, clippy::unused_unit)]
    pub fn get_many(items: ::std::vec::Vec<(&str, &User)>) -> ::std::vec::Vec<String> {
        let mut __memo_items = ::std::vec::Vec::new();
        let mut __memo_keys = ::std::vec::Vec::new();
        for (domain, user) in items {
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
                            dashboard::__memo_cache()
                                .type_checked()
                                .encode_args(
                                    (&::memo_core::__private::KeyOf(&(&domain, &user.id)))
                                        .memo_key(),
                                )
                        }
                    },
                );
            __memo_items.push((domain, user));
        }
        let __memo_found = dashboard::__memo_cache()
            .type_checked()
            .peek_many(&__memo_keys);
        let mut __memo_results = ::std::vec::Vec::with_capacity(__memo_items.len());
        for ((domain, user), __memo_found) in __memo_items.into_iter().zip(__memo_found)
        {
            __memo_results
                .push(
                    match __memo_found {
                        ::core::option::Option::Some(__memo_value) => __memo_value,
                        ::core::option::Option::None => dashboard(domain, user),
                    },
                );
        }
        __memo_results
    }
    ///The shared-tier key of `dashboard`'s entry for these arguments, as the backend stores it (`Err` when the arguments cannot be encoded).
    #[allow(unused_variables, clippy::needless_pass_by_value)]
    pub fn cache_key(
        domain: &str,
        user: &User,
    ) -> ::core::result::Result<::std::string::String, ::memo_core::Error> {
        #[allow(unused_imports)]
        use ::memo_core::__private::{
            ProbeByValue as _, ProbeEncoded as _, SerializedKey as _,
            UnserializableKey as _,
        };
        dashboard::__memo_cache()
            .cache_key((&::memo_core::__private::KeyOf(&(&domain, &user.id))).memo_key())
    }
}
