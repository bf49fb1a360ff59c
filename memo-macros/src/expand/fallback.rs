//! What an attribute with an error expands to (thiserror's `fallback.rs`,
//! tokio-macros' `token_stream_with_error`): the errors beside the function
//! and companions of the right signatures that cache nothing, so code that
//! calls `f::clear(..)` adds no errors of its own; or beside the function
//! untouched, when it is not one the attribute takes.

use proc_macro2::TokenStream;
use quote::quote;

use super::companions::emit;
use super::{signatures, Bypass, CompanionTypes, Expansion, Keep, Place, Placement};
use crate::attr::Kind;
use crate::model::Function;

pub(super) fn with_error(
    kind: Kind,
    item: TokenStream,
    place: Place,
    error: &syn::Error,
) -> TokenStream {
    let error = error.to_compile_error();
    match Function::parse_at(kind, item.clone(), place) {
        Ok(function) => {
            let form = Placement::of(&function);
            let stubs = emit(
                &function,
                &form,
                stub_expansion(kind, &function, &form),
                &Bypass::none(),
            );
            quote!(#stubs #error)
        }
        Err(_) => quote!(#item #error),
    }
}

/// What an attribute with an error contributes: the body called directly,
/// and companions with the signatures the attribute would give them, whose
/// bodies never run (the crate does not compile).
fn stub_expansion(kind: Kind, function: &Function, form: &Placement) -> Expansion {
    let accessor_ident = &form.accessor;
    let body_call = &form.body_call;
    let never = quote!(::core::unreachable!(
        "the attribute has errors: this crate does not compile"
    ));
    let CompanionTypes {
        outcome,
        set,
        peek,
        key,
        clear_is_async,
    } = signatures(kind, function, &Keep::default_for(function));
    let body = if function.is_async() {
        quote!(#body_call.await)
    } else {
        quote!(#body_call)
    };
    Expansion {
        checks: TokenStream::new(),
        body: body.clone(),
        accessor: quote!(fn #accessor_ident() {}),
        per_instance: kind == Kind::Memoized && function.receiver,
        clear: (outcome.clone(), never.clone()),
        invalidate: (outcome, never.clone()),
        set_cached_value: (set, never.clone()),
        refresh: body,
        peek: (peek, never.clone()),
        cache_key: key.map(|key| (key, never.clone())),
        invalidate_all: (kind == Kind::Memoized && function.receiver).then_some(never),
        get_many: None,
        clear_is_async,
    }
}
