//! The attribute macros of memo. Use them through `memo_core`
//! (`use memo_core::{memoized, quickcache};`), which holds the runtime the
//! generated code calls.
//!
//! The macros parse, check and call into `::memo_core::__private`; the data
//! path lives in the runtime, not in generated code.
#![forbid(unsafe_code)]

use proc_macro::TokenStream;

mod attr;
mod check;
mod expand;
mod model;

/// In-process memoization. See `memo_core::memoized`.
#[proc_macro_attribute]
pub fn memoized(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::expand(attr::Kind::Memoized, args.into(), item.into()).into()
}

/// Two-tier caching. See `memo_core::quickcache`.
#[proc_macro_attribute]
pub fn quickcache(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::expand(attr::Kind::Quickcache, args.into(), item.into()).into()
}

/// Lets `#[quickcache]` and `#[memoized]` apply to associated functions
/// without `self` in this impl. See `memo_core::cached_impl`.
#[proc_macro_attribute]
pub fn cached_impl(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::cached_impl(args.into(), item.into()).into()
}

#[cfg(test)]
mod snapshots;
