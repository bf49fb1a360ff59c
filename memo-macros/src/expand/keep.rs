//! What of a result is cached (`cache_errors`, `cache_none`), and the
//! runtime calls that follow from it.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Path, Type};

use crate::attr::{combine, CacheErrors, Options};
use crate::model::{Function, Returns};

/// What a computed result leaves in the cache.
pub(crate) enum Keep {
    /// The whole value (any type; an `Option`'s `None` too, by default).
    Whole,
    /// The `Ok` (or `Some`) part only: a `Result`'s default. The cache holds
    /// `<T as Outcome>::Ok`, so the error type needs none of its traits.
    Ok,
    /// The whole value, an `Err` only when the predicate says so.
    If(Path),
}

impl Keep {
    /// The rule the options and the return type give, or the errors of
    /// options that do not fit the return type.
    pub(crate) fn of(function: &Function, options: &Options) -> syn::Result<Keep> {
        let mut errors = None;
        let returns = function.returns;
        if let (Some(errors_option), Returns::Option) = (&options.cache_errors, returns) {
            combine(
                &mut errors,
                syn::Error::new(
                    errors_option.span,
                    "`cache_errors` applies to functions returning `Result`; for `Option`, `cache_none = false` keeps `None` out of the cache",
                ),
            );
        }
        if let (Some(none_option), Returns::Result) = (&options.cache_none, returns) {
            combine(
                &mut errors,
                syn::Error::new(
                    none_option.span,
                    "`cache_none` applies to functions returning `Option`; for `Result`, `Err` is not cached unless `cache_errors` says so",
                ),
            );
        }
        if let (Some(_), Some(none_option), Returns::Other) =
            (&options.cache_errors, &options.cache_none, returns)
        {
            combine(
                &mut errors,
                syn::Error::new(
                    none_option.span,
                    "`cache_errors` and `cache_none` cannot both be given: a result is a `Result` or an `Option`",
                ),
            );
        }
        if let Some(errors) = errors {
            return Err(errors);
        }
        let keep = match (&options.cache_errors, &options.cache_none) {
            (Some(given), _) => match &given.value {
                CacheErrors::Flag(true) => Keep::Whole,
                CacheErrors::Flag(false) => Keep::Ok,
                CacheErrors::If(path) => Keep::If(path.clone()),
            },
            (None, Some(given)) if !given.value => Keep::Ok,
            (None, Some(_)) => Keep::Whole,
            (None, None) => Self::default_for(function),
        };
        Ok(keep)
    }

    /// The rule without options: a `Result`'s `Ok` only, anything else whole.
    pub(crate) fn default_for(function: &Function) -> Keep {
        match function.returns {
            Returns::Result => Keep::Ok,
            Returns::Option | Returns::Other => Keep::Whole,
        }
    }

    /// The type the cache holds for a function returning `output`.
    pub(crate) fn value_ty(&self, output: &Type) -> TokenStream {
        match self {
            Keep::Whole | Keep::If(_) => quote!(#output),
            Keep::Ok => {
                let memo = super::memo_at(output.span());
                quote_spanned!(output.span()=> <#output as #memo::__private::Outcome>::Ok)
            }
        }
    }

    /// A cached `value` as the function's result.
    pub(crate) fn wrap(&self, output: &Type, value: TokenStream) -> TokenStream {
        let memo = super::memo();
        match self {
            Keep::Whole | Keep::If(_) => value,
            Keep::Ok => quote!(<#output as #memo::__private::Outcome>::from_ok(#value)),
        }
    }

    /// The rule as the runtime takes it, a `memo_core::__private::Keep`
    /// value handed to every step that stores a result.
    pub(crate) fn value(&self, output: &Type) -> TokenStream {
        let memo = super::memo();
        match self {
            Keep::Whole => quote!(#memo::__private::Whole),
            Keep::Ok => quote!(#memo::__private::OkPart),
            Keep::If(path) => quote! {
                #memo::__private::KeepIf(|__memo_result: &#output| {
                    #memo::__private::keep_errors_if(__memo_result, #path)
                })
            },
        }
    }
}
