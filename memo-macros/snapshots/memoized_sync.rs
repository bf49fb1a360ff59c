pub fn price(sku: &str, quantity: u32) -> u64 {
    ::memo_core::__private::require_key::<<str as ::std::borrow::ToOwned>::Owned>();
    ::memo_core::__private::require_key::<u32>();
    if ::memo_core::__private::bypassed() {
        return __memo_body_price(sku, quantity);
    }
    let __memo_held = price::__memo_cache();
    let __memo_cache = __memo_held.type_checked();
    let __memo_hit = __memo_cache.get(&(sku, &quantity));
    match __memo_hit {
        ::core::option::Option::Some(__memo_value) => __memo_value,
        ::core::option::Option::None => {
            ::memo_core::__private::cold(move || {
                __memo_cache
                    .call_missed(
                        (
                            ::std::borrow::ToOwned::to_owned(sku),
                            ::core::clone::Clone::clone(&quantity),
                        ),
                        ::memo_core::__private::Whole,
                        |_| {},
                        move || __memo_body_price(sku, quantity),
                    )
            })
        }
    }
}
#[doc(hidden)]
#[inline]
#[allow(clippy::needless_pass_by_value)]
fn __memo_body_price(sku: &str, quantity: u32) -> u64 {
    sku.len() as u64 * u64::from(quantity)
}
///Cache companions of the function `price`: `price::clear(..)`, `price::invalidate()`, `price::set_cached_value(..).to(value)`, `price::refresh(..)`, `price::uncached(..)`, `price::get_cached_value(..)`, `price::get_many(..)`.
#[allow(non_camel_case_types, dead_code)]
pub struct price {}
#[allow(dead_code)]
impl price {
    #[doc(hidden)]
    fn __memo_cache() -> &'static ::memo_core::__private::Memoized<
        (<str as ::std::borrow::ToOwned>::Owned, u32),
        u64,
    > {
        static __MEMO_STATS: ::memo_core::__private::MemoStats = ::memo_core::__private::MemoStats::new(
            ::core::concat!(::core::module_path!(), "::price@1302fd86"),
            ::core::option::Option::Some(|| &__MEMO_CACHE),
        );
        static __MEMO_CACHE: ::memo_core::__private::Memoized<
            (<str as ::std::borrow::ToOwned>::Owned, u32),
            u64,
        > = ::memo_core::__private::Memoized::new(
            ::memo_core::__private::MemoSpec {
                timeout: ::core::option::Option::None,
                max_entries: ::core::option::Option::Some(100usize),
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
    ///Drops the cached value of `price` for these arguments, in every tier.
    #[allow(unused_variables, clippy::needless_pass_by_value, clippy::unused_unit)]
    pub fn clear(sku: &str, quantity: u32) -> () {
        price::__memo_cache()
            .clear(
                &(
                    ::std::borrow::ToOwned::to_owned(sku),
                    ::core::clone::Clone::clone(&quantity),
                ),
            )
    }
    ///Drops every cached value of `price`.
    #[allow(clippy::unused_unit)]
    pub fn invalidate() -> () {
        price::__memo_cache().invalidate()
    }
    ///Stores a value for these arguments: `set_cached_value(args).to(value)`; `price` returns it until it expires or is cleared.
    #[allow(unused_variables, clippy::needless_pass_by_value)]
    pub fn set_cached_value(
        sku: &str,
        quantity: u32,
    ) -> ::memo_core::SetCachedValue<u64> {
        let __memo_cache = price::__memo_cache();
        let __memo_key = (
            ::std::borrow::ToOwned::to_owned(sku),
            ::core::clone::Clone::clone(&quantity),
        );
        ::memo_core::SetCachedValue::new(move |value| {
            __memo_cache.set(__memo_key, value)
        })
    }
    ///Runs `price`'s body, stores and returns its value.
    pub fn refresh(sku: &str, quantity: u32) -> u64 {
        price::__memo_cache()
            .refresh(
                (
                    ::std::borrow::ToOwned::to_owned(sku),
                    ::core::clone::Clone::clone(&quantity),
                ),
                ::memo_core::__private::Whole,
                move || __memo_body_price(sku, quantity),
            )
    }
    ///Runs `price`'s body without any caching.
    pub fn uncached(sku: &str, quantity: u32) -> u64 {
        __memo_body_price(sku, quantity)
    }
    ///The cached value of `price` for these arguments, if one is live (in L1, then the shared tier), without computing or storing anything.
    #[allow(unused_variables, clippy::needless_pass_by_value)]
    pub fn get_cached_value(sku: &str, quantity: u32) -> ::core::option::Option<u64> {
        price::__memo_cache()
            .peek(
                &(
                    ::std::borrow::ToOwned::to_owned(sku),
                    ::core::clone::Clone::clone(&quantity),
                ),
            )
    }
    ///`price` for each item's arguments, in order, as a call each.
    #[allow(clippy::needless_pass_by_value, clippy::unused_unit)]
    pub fn get_many(items: ::std::vec::Vec<(&str, u32)>) -> ::std::vec::Vec<u64> {
        let mut __memo_results = ::std::vec::Vec::new();
        for (sku, quantity) in items {
            __memo_results.push(price(sku, quantity));
        }
        __memo_results
    }
}
