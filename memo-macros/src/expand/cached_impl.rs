//! `#[cached_impl]`: marks the attributes of an impl's associated
//! functions without `self`, so they expand as associated functions.

use proc_macro2::{Span, TokenStream};
use quote::quote;

use crate::attr::combine;
use crate::model::Place;

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
