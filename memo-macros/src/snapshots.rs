//! Expansion snapshots: the code generated for a typical function of each
//! attribute, sync and async, kept in `snapshots/*.rs` so that a change to
//! the generated code shows in review. `MEMO_SNAPSHOTS=overwrite cargo test
//! -p memo-macros` writes them anew.
//!
//! Snapshots rather than `macrotest`: it needs `cargo expand` installed,
//! which a fresh machine (and CI) does not have; calling the expander
//! directly needs nothing.

use proc_macro2::TokenStream;
use quote::quote;

use crate::attr::Kind;

fn check(name: &str, kind: Kind, args: TokenStream, item: TokenStream) {
    let expanded = crate::expand::expand(kind, args, item);
    let file: syn::File = syn::parse2(expanded).expect("the expansion parses as items");
    let text = prettyplease::unparse(&file);
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("snapshots")
        .join(format!("{name}.rs"));
    if std::env::var_os("MEMO_SNAPSHOTS").is_some_and(|v| v == "overwrite") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &text).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        expected == text,
        "the expansion of {name} changed; if that is meant, run MEMO_SNAPSHOTS=overwrite cargo test -p memo-macros and review the diff.\n--- now:\n{text}"
    );
}

#[test]
fn memoized_sync() {
    check(
        "memoized_sync",
        Kind::Memoized,
        quote!(max_entries = 100),
        quote! {
            pub fn price(sku: &str, quantity: u32) -> u64 {
                sku.len() as u64 * u64::from(quantity)
            }
        },
    );
}

#[test]
fn memoized_async() {
    check(
        "memoized_async",
        Kind::Memoized,
        quote!(),
        quote! {
            async fn load(id: u64) -> Result<String, std::io::Error> {
                Ok(id.to_string())
            }
        },
    );
}

#[test]
fn quickcache_sync() {
    check(
        "quickcache_sync",
        Kind::Quickcache,
        quote!(vary_on = [domain, user.id], timeout = 300),
        quote! {
            pub fn dashboard(domain: &str, user: &User) -> String {
                format!("{domain} {}", user.id)
            }
        },
    );
}

#[test]
fn quickcache_async() {
    check(
        "quickcache_async",
        Kind::Quickcache,
        quote!(lock = true),
        quote! {
            async fn report(id: u64) -> Option<String> {
                Some(id.to_string())
            }
        },
    );
}
