async fn load(id: u64) -> Result<String, std::io::Error> {
    ::memo_core::__private::require_key::<u64>();
    if ::memo_core::__private::bypassed() {
        return __memo_body_load(id).await;
    }
    let __memo_held = load::__memo_cache();
    let __memo_cache = __memo_held.type_checked();
    let __memo_hit = __memo_cache.get(&(&id,));
    match __memo_hit {
        ::core::option::Option::Some(__memo_value) => {
            <Result<
                String,
                std::io::Error,
            > as ::memo_core::__private::Outcome>::from_ok(__memo_value)
        }
        ::core::option::Option::None => {
            __memo_cache
                .call_async(
                    (::core::clone::Clone::clone(&id),),
                    ::memo_core::__private::OkPart,
                    |_| {},
                    __memo_body_load(id),
                )
                .await
        }
    }
}
#[doc(hidden)]
#[inline]
#[allow(clippy::needless_pass_by_value)]
async fn __memo_body_load(id: u64) -> Result<String, std::io::Error> {
    Ok(id.to_string())
}
///Cache companions of the function `load`: `load::clear(..)`, `load::invalidate()`, `load::set_cached_value(..).to(value)`, `load::refresh(..)`, `load::uncached(..)`, `load::get_cached_value(..)`, `load::get_many(..)`.
#[allow(non_camel_case_types, dead_code)]
struct load {}
#[allow(dead_code)]
impl load {
    #[doc(hidden)]
    fn __memo_cache() -> &'static ::memo_core::__private::Memoized<
        (u64,),
        <Result<String, std::io::Error> as ::memo_core::__private::Outcome>::Ok,
    > {
        static __MEMO_STATS: ::memo_core::__private::MemoStats = ::memo_core::__private::MemoStats::new(
            ::core::concat!(::core::module_path!(), "::load@48f540eb"),
            ::core::option::Option::Some(|| &__MEMO_CACHE),
        );
        static __MEMO_CACHE: ::memo_core::__private::Memoized<
            (u64,),
            <Result<String, std::io::Error> as ::memo_core::__private::Outcome>::Ok,
        > = ::memo_core::__private::Memoized::new(
            ::memo_core::__private::MemoSpec {
                timeout: ::core::option::Option::None,
                max_entries: ::core::option::Option::None,
                max_bytes: ::core::option::Option::None,
                min_time: ::memo_core::__private::Duration::ZERO,
                timeout_jitter: 0f64,
                idle_timeout: ::core::option::Option::None,
                stale_on_error: ::memo_core::__private::Duration::ZERO,
            },
            ::core::option::Option::None,
            &__MEMO_STATS,
        );
        &__MEMO_CACHE
    }
    ///Drops the cached value of `load` for these arguments, in every tier.
    #[allow(unused_variables, clippy::needless_pass_by_value, clippy::unused_unit)]
    fn clear(id: u64) -> () {
        load::__memo_cache().clear(&(::core::clone::Clone::clone(&id),))
    }
    ///Drops every cached value of `load`.
    #[allow(clippy::unused_unit)]
    fn invalidate() -> () {
        load::__memo_cache().invalidate()
    }
    ///Stores a value for these arguments: `set_cached_value(args).to(value)`; `load` returns it until it expires or is cleared.
    #[allow(unused_variables, clippy::needless_pass_by_value)]
    fn set_cached_value(
        id: u64,
    ) -> ::memo_core::SetCachedValue<
        <Result<String, std::io::Error> as ::memo_core::__private::Outcome>::Ok,
    > {
        let __memo_cache = load::__memo_cache();
        let __memo_key = (::core::clone::Clone::clone(&id),);
        ::memo_core::SetCachedValue::new(move |value| {
            __memo_cache.set(__memo_key, value)
        })
    }
    ///Runs `load`'s body, stores and returns its value.
    async fn refresh(id: u64) -> Result<String, std::io::Error> {
        load::__memo_cache()
            .refresh_async(
                (::core::clone::Clone::clone(&id),),
                ::memo_core::__private::OkPart,
                __memo_body_load(id),
            )
            .await
    }
    ///Runs `load`'s body without any caching.
    async fn uncached(id: u64) -> Result<String, std::io::Error> {
        __memo_body_load(id).await
    }
    ///The cached value of `load` for these arguments, if one is live (in L1, then the shared tier), without computing or storing anything.
    #[allow(unused_variables, clippy::needless_pass_by_value)]
    fn get_cached_value(
        id: u64,
    ) -> ::core::option::Option<
        <Result<String, std::io::Error> as ::memo_core::__private::Outcome>::Ok,
    > {
        load::__memo_cache().peek(&(::core::clone::Clone::clone(&id),))
    }
    ///`load` for each item's arguments, in order, as a call each.
    #[allow(clippy::needless_pass_by_value, clippy::unused_unit)]
    async fn get_many(
        items: ::std::vec::Vec<u64>,
    ) -> ::std::vec::Vec<Result<String, std::io::Error>> {
        let mut __memo_results = ::std::vec::Vec::new();
        for id in items {
            __memo_results.push(load(id).await);
        }
        __memo_results
    }
}
