//! The function with its new body, its original body as a hidden
//! function, the cache accessor and the companions, as one item or a
//! struct and an impl.

use proc_macro2::TokenStream;
use quote::quote;
use syn::Attribute;

use super::{Bypass, Expansion, Placement};
use crate::model::Function;

fn is_cfg(attr: &Attribute) -> bool {
    attr.path().is_ident("cfg")
}

fn is_lint(attr: &Attribute) -> bool {
    ["allow", "warn", "deny", "forbid", "expect"]
        .iter()
        .any(|lint| attr.path().is_ident(lint))
}

/// The function with its new body, its original body as a hidden function,
/// the cache accessor and the companions.
pub(super) fn emit(
    function: &Function,
    form: &Placement,
    parts: Expansion,
    bypass: &Bypass,
) -> TokenStream {
    let Function {
        attrs,
        vis,
        sig,
        block,
        ..
    } = function;
    let name = function.name();
    let cfgs: Vec<&Attribute> = attrs.iter().filter(|a| is_cfg(a)).collect();
    let lints: Vec<&Attribute> = attrs.iter().filter(|a| is_lint(a)).collect();

    let (outer_sig, body_sig) = signatures(function, form);
    let generics = &sig.generics;
    let where_clause = &sig.generics.where_clause;
    let receiver = function.receiver.then(|| quote!(&self,));
    let params = function.params.iter().map(|p| {
        let (ident, ty) = (&p.ident, &p.ty);
        quote!(#ident: #ty)
    });
    let params = quote!(#receiver #(#params),*);
    let output = &function.output;

    let Expansion {
        checks,
        body,
        accessor,
        per_instance,
        clear,
        invalidate,
        set_cached_value,
        refresh,
        peek: (peek_ty, peek_body),
        cache_key,
        invalidate_all,
        get_many,
        clear_is_async,
    } = parts;
    let body_call = &form.body_call;
    let (body_async, uncached) = if function.is_async() {
        (Some(quote!(async)), quote!(#body_call.await))
    } else {
        (None, quote!(#body_call))
    };
    let clear_async = clear_is_async.then(|| quote!(async));
    let (clear_ty, clear_body) = clear;
    let (invalidate_ty, invalidate_body) = invalidate;
    let (set_ty, set_body) = set_cached_value;
    let [clear_fn, invalidate_fn, set_fn, refresh_fn, uncached_fn, peek_fn, key_fn] = [
        "clear",
        "invalidate",
        "set_cached_value",
        "refresh",
        "uncached",
        "get_cached_value",
        "cache_key",
    ]
    .map(|op| form.companion(function, op));
    let invalidate_receiver = per_instance.then(|| quote!(&self));
    let accessor = if per_instance || form.methods {
        quote!(#[doc(hidden)] #[allow(dead_code)] #accessor)
    } else {
        quote!(#[doc(hidden)] #accessor)
    };

    let [clear_doc, invalidate_doc, set_doc, refresh_doc, uncached_doc, peek_doc, key_doc] =
        docs(name, form, per_instance, &set_fn);

    // Every companion is compiled when the function is, and takes the
    // function's `allow`s (its parameters, say, are as many): a `deny` or
    // `forbid` would clash with the companions' own `allow`s, an `expect`
    // would go unmet.
    let allows = attrs.iter().filter(|a| a.path().is_ident("allow"));
    let allows_again = allows.clone();
    let each = quote!(#(#cfgs)* #(#allows)*);
    let get_many = get_many_fn(function, form, get_many, bypass);
    let companions = quote! {
        #each
        #accessor
        #clear_doc
        #each
        #[allow(unused_variables, clippy::needless_pass_by_value, clippy::unused_unit)]
        #vis #clear_async fn #clear_fn #generics (#params) -> #clear_ty #where_clause { #clear_body }
        #invalidate_doc
        #each
        #[allow(clippy::unused_unit)]
        #vis #clear_async fn #invalidate_fn(#invalidate_receiver) -> #invalidate_ty { #invalidate_body }
        #set_doc
        #each
        #[allow(unused_variables, clippy::needless_pass_by_value)]
        #vis fn #set_fn #generics (#params) -> #set_ty #where_clause { #set_body }
        #refresh_doc
        #each
        #vis #body_async fn #refresh_fn #generics (#params) -> #output #where_clause { #refresh }
        #uncached_doc
        #each
        #vis #body_async fn #uncached_fn #generics (#params) -> #output #where_clause { #uncached }
        #peek_doc
        #each
        #[allow(unused_variables, clippy::needless_pass_by_value)]
        #vis #clear_async fn #peek_fn #generics (#params) -> #peek_ty #where_clause { #peek_body }
    };
    let companions = match invalidate_all {
        Some(body) => {
            let all_fn = form.companion(function, "invalidate_all");
            let doc = format!("Drops every cached value of `Self::{name}` in every live instance.");
            quote! {
                #companions
                #[doc = #doc]
                #each
                #vis fn #all_fn() { #body }
            }
        }
        None => companions,
    };
    let companions = quote! {
        #companions
        #(#cfgs)*
        #(#allows_again)*
        #get_many
    };
    let has_key = cache_key.is_some();
    let companions = match cache_key {
        Some((key_ty, key_body)) => quote! {
            #companions
            #key_doc
            #each
            #[allow(unused_variables, clippy::needless_pass_by_value)]
            #vis fn #key_fn #generics (#params) -> #key_ty #where_clause { #key_body }
        },
        None => companions,
    };

    let uncached_if = bypass.uncached_if.as_ref().map(|condition| {
        quote! {
            if #condition {
                return #uncached;
            }
        }
    });
    let refresh_if = bypass.refresh_if.as_ref().map(|skip| {
        quote! {
            if #skip {
                return { #refresh };
            }
        }
    });
    let function = quote! {
        #(#attrs)*
        #vis #outer_sig {
            #checks
            #uncached_if
            #refresh_if
            #body
        }

        #(#cfgs)*
        #(#lints)*
        #[doc(hidden)]
        #[inline]
        #[allow(clippy::needless_pass_by_value)]
        #body_sig #block
    };

    if form.methods {
        quote! {
            #function
            #companions
        }
    } else {
        let struct_doc = format!(
            "Cache companions of the function `{name}`: `{name}::clear(..)`, `{name}::invalidate()`, `{name}::set_cached_value(..).to(value)`, `{name}::refresh(..)`, `{name}::uncached(..)`, `{name}::get_cached_value(..)`, `{name}::get_many(..)`{}.",
            if has_key { format!(", `{name}::cache_key(..)`") } else { String::new() }
        );
        let struct_doc = quote!(#[doc = #struct_doc]);
        quote! {
            #function

            #(#cfgs)*
            #struct_doc
            #[allow(non_camel_case_types, dead_code)]
            #vis struct #name {}

            #(#cfgs)*
            #[allow(dead_code)]
            impl #name {
                #companions
            }
        }
    }
}

/// `get_many`: the function for each item in order, after one batched
/// read of the shared tier for a sync `#[quickcache]` (the items `unless`
/// or `skip` bypass are left out of it).
fn get_many_fn(
    function: &Function,
    form: &Placement,
    batched: Option<(TokenStream, TokenStream)>,
    bypass: &Bypass,
) -> TokenStream {
    let memo = super::memo();
    let name = function.name();
    let vis = &function.vis;
    let get_many_fn = form.companion(function, "get_many");
    let generics = &function.sig.generics;
    let where_clause = &generics.where_clause;
    let receiver = function.receiver.then(|| quote!(&self,));
    let idents: Vec<&syn::Ident> = function.params.iter().map(|p| &p.ident).collect();
    let tys: Vec<&syn::Type> = function.params.iter().map(|p| &p.ty).collect();
    // One item per call: the argument itself for a function of one, a
    // tuple of them otherwise.
    let (item, item_ty) = match (idents.as_slice(), tys.as_slice()) {
        ([ident], [ty]) => (quote!(#ident), quote!(#ty)),
        _ => (quote!((#(#idents),*)), quote!((#(#tys),*))),
    };
    let output = &function.output;
    let call = match (function.receiver, function.associated) {
        (true, _) => quote!(self.#name(#(#idents),*)),
        (false, true) => quote!(Self::#name(#(#idents),*)),
        (false, false) => quote!(#name(#(#idents),*)),
    };
    let (asyncness, call) = if function.is_async() {
        (Some(quote!(async)), quote!(#call.await))
    } else {
        (None, call)
    };
    let target = if form.methods {
        format!("`Self::{name}`")
    } else {
        format!("`{name}`")
    };
    let doc = match &batched {
        Some(_) => format!("{target} for each item's arguments, in order: one round trip reads every value L1 does not hold, and each value neither tier holds is computed as a call of {target} would (single flight, lock and store included; one after another on an `async fn`)."),
        None => format!("{target} for each item's arguments, in order, as a call each."),
    };
    let body = match batched {
        Some((encode, found)) => {
            let skipped = [&bypass.uncached_if, &bypass.refresh_if]
                .into_iter()
                .flatten()
                .map(|condition| quote!(|| (#condition)));
            let cache = &form.cache;
            let peek_many = match function.is_async() {
                true => quote!(#cache.type_checked().peek_many_async(&__memo_keys).await),
                false => quote!(#cache.type_checked().peek_many(&__memo_keys)),
            };
            quote! {
                let mut __memo_items = ::std::vec::Vec::new();
                let mut __memo_keys = ::std::vec::Vec::new();
                for #item in items {
                    let __memo_skipped: bool = false #(#skipped)*;
                    __memo_keys.push(if __memo_skipped {
                        #memo::__private::EncodedArgs::SKIPPED
                    } else {
                        #encode
                    });
                    __memo_items.push(#item);
                }
                let __memo_found = #peek_many;
                let mut __memo_results = ::std::vec::Vec::with_capacity(__memo_items.len());
                for (#item, __memo_found) in __memo_items.into_iter().zip(__memo_found) {
                    __memo_results.push(match __memo_found {
                        ::core::option::Option::Some(__memo_value) => #found,
                        ::core::option::Option::None => #call,
                    });
                }
                __memo_results
            }
        }
        None => quote! {
            let mut __memo_results = ::std::vec::Vec::new();
            for #item in items {
                __memo_results.push(#call);
            }
            __memo_results
        },
    };
    quote! {
        #[doc = #doc]
        #[allow(clippy::needless_pass_by_value, clippy::unused_unit)]
        #vis #asyncness fn #get_many_fn #generics (
            #receiver
            items: ::std::vec::Vec<#item_ty>
        ) -> ::std::vec::Vec<#output> #where_clause {
            #body
        }
    }
}

/// The function's outer signature, which names each parameter plainly (no
/// `mut`: the parameters are only moved into the body), and its body's.
fn signatures(function: &Function, form: &Placement) -> (syn::Signature, syn::Signature) {
    let mut outer_sig = function.sig.clone();
    for (input, param) in outer_sig
        .inputs
        .iter_mut()
        .filter(|i| matches!(i, syn::FnArg::Typed(_)))
        .zip(&function.params)
    {
        if let syn::FnArg::Typed(typed) = input {
            let ident = &param.ident;
            *typed.pat = syn::parse_quote!(#ident);
        }
    }
    let mut body_sig = function.sig.clone();
    body_sig.ident = form.body_ident.clone();
    (outer_sig, body_sig)
}

/// The doc comments of `clear`, `invalidate`, `set_cached_value`,
/// `refresh`, `uncached`, `get_cached_value` and `cache_key`.
fn docs(
    name: &syn::Ident,
    form: &Placement,
    per_instance: bool,
    set_fn: &syn::Ident,
) -> [TokenStream; 7] {
    let doc = |text: String| quote!(#[doc = #text]);
    let target = if form.methods {
        format!("`Self::{name}`")
    } else {
        format!("`{name}`")
    };
    [
        doc(format!(
            "Drops the cached value of {target} for these arguments, in every tier."
        )),
        doc(if per_instance {
            format!("Drops every cached value of {target} on this instance.")
        } else {
            format!("Drops every cached value of {target}.")
        }),
        doc(format!("Stores a value for these arguments: `{set_fn}(args).to(value)`; {target} returns it until it expires or is cleared.")),
        doc(format!("Runs {target}'s body, stores and returns its value.")),
        doc(format!("Runs {target}'s body without any caching.")),
        doc(format!("The cached value of {target} for these arguments, if one is live (in L1, then the shared tier), without computing or storing anything.")),
        doc(format!("The shared-tier key of {target}'s entry for these arguments, as the backend stores it (`Err` when the arguments cannot be encoded).")),
    ]
}
