//! The decorated function, modelled and checked: parameters, receiver,
//! return type, and every `vary_on` path resolved to a parameter.

use proc_macro2::{Span, TokenStream};
use syn::spanned::Spanned;
use syn::visit::Visit;
use syn::{
    Attribute, Block, FnArg, GenericParam, Ident, ItemFn, Pat, ReturnType, Signature, Type,
    Visibility,
};

use quote::{format_ident, quote};

use crate::attr::{combine, Kind, Options, VaryPath};

/// What the return type is, as far as its name tells: the attribute caches
/// a `Result`'s `Ok` values only and an `Option`'s `None` too, unless told
/// otherwise.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Returns {
    Result,
    Option,
    Other,
}

impl Returns {
    fn of(ty: &Type) -> Returns {
        let Type::Path(path) = ty else {
            return Returns::Other;
        };
        match path.path.segments.last() {
            Some(last) if last.ident == "Result" => Returns::Result,
            Some(last) if last.ident == "Option" => Returns::Option,
            _ => Returns::Other,
        }
    }
}

/// What `#[cached_impl]` puts first in the arguments of the attribute of an
/// associated function without `self`, to tell it where it is. Keeping the
/// attribute (rather than expanding it in `#[cached_impl]`) keeps its import
/// used.
const MARKER: &str = "__memo_associated";

/// Where the decorated function is, as far as the macro can know: an
/// attribute sees only its function, so an associated function without
/// `self` is known as one only through `#[cached_impl]` on its impl.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Place {
    /// A free function, or a method (it has `self`).
    Item,
    /// An associated function without `self`, in an impl with type or const
    /// parameters or without.
    Associated { generic_impl: bool },
}

impl Place {
    /// The place `#[cached_impl]` marked in `args`, and the rest of them.
    pub(crate) fn take_marker(args: TokenStream) -> (Place, TokenStream) {
        let mut tokens = args.clone().into_iter();
        let (
            Some(proc_macro2::TokenTree::Ident(marker)),
            Some(proc_macro2::TokenTree::Group(group)),
        ) = (tokens.next(), tokens.next())
        else {
            return (Place::Item, args);
        };
        if marker != MARKER {
            return (Place::Item, args);
        }
        let generic_impl = group.stream().to_string() == "generic";
        let rest: TokenStream = tokens
            .skip_while(|t| matches!(t, proc_macro2::TokenTree::Punct(p) if p.as_char() == ','))
            .collect();
        (Place::Associated { generic_impl }, rest)
    }

    /// The marker `take_marker` reads.
    pub(crate) fn marker(generic_impl: bool) -> TokenStream {
        let marker = format_ident!("{}", MARKER);
        let place = if generic_impl {
            quote!(generic)
        } else {
            quote!(plain)
        };
        quote!(#marker(#place))
    }
}

/// A function parameter other than the receiver.
pub(crate) struct Param {
    pub(crate) ident: Ident,
    pub(crate) ty: Type,
    /// `T` when the parameter is `&T`: the key stores `T::to_owned()`.
    pub(crate) borrowed: Option<Type>,
}

pub(crate) struct Function {
    pub(crate) attrs: Vec<Attribute>,
    pub(crate) vis: Visibility,
    pub(crate) sig: Signature,
    pub(crate) block: Box<Block>,
    /// `&self`.
    pub(crate) receiver: bool,
    /// An associated function without `self` in an impl marked
    /// `#[cached_impl]`: its companions are associated functions too.
    pub(crate) associated: bool,
    pub(crate) params: Vec<Param>,
    pub(crate) output: Type,
    pub(crate) returns: Returns,
}

impl Function {
    pub(crate) fn name(&self) -> &Ident {
        &self.sig.ident
    }

    pub(crate) fn is_async(&self) -> bool {
        self.sig.asyncness.is_some()
    }

    /// [`Function::parse`] for a function at `place`.
    pub(crate) fn parse_at(kind: Kind, item: TokenStream, place: Place) -> syn::Result<Function> {
        let mut function = Function::parse(kind, item)?;
        function.associated = matches!(place, Place::Associated { .. });
        Ok(function)
    }

    /// Parses the item, rejecting what is not a function.
    pub(crate) fn parse(kind: Kind, item: TokenStream) -> syn::Result<Function> {
        let item: ItemFn = match syn::parse2(item.clone()) {
            Ok(item) => item,
            Err(error) => return Err(not_a_function(kind, item).unwrap_or(error)),
        };
        let mut errors = None;
        let sig = &item.sig;
        let mut reject =
            |span: Span, message: String| combine(&mut errors, syn::Error::new(span, message));
        let attribute = kind.name();

        if let Some(token) = &sig.constness {
            reject(token.span, format!("#[{attribute}] cannot apply to a `const fn`: its result is computed at compile time"));
        }
        if let Some(token) = &sig.unsafety {
            reject(
                token.span,
                format!("#[{attribute}] cannot apply to an `unsafe fn`"),
            );
        }
        if let Some(abi) = &sig.abi {
            reject(
                abi.span(),
                format!("#[{attribute}] cannot apply to an `extern` function"),
            );
        }
        if let Some(variadic) = &sig.variadic {
            reject(
                variadic.span(),
                format!("#[{attribute}] cannot apply to a variadic function"),
            );
        }
        for param in &sig.generics.params {
            match param {
                GenericParam::Lifetime(_) => {}
                GenericParam::Type(ty) => reject(
                    ty.ident.span(),
                    format!("#[{attribute}] does not support generic functions: one cache serves the function, so its key and value types must be fixed; write a non-generic wrapper per type"),
                ),
                GenericParam::Const(c) => reject(
                    c.ident.span(),
                    format!("#[{attribute}] does not support const generics: write a non-generic wrapper per value"),
                ),
            }
        }

        let mut receiver = false;
        let mut params = Vec::new();
        for input in &sig.inputs {
            match input {
                FnArg::Receiver(recv) => {
                    if recv.reference.is_none() || recv.colon_token.is_some() {
                        reject(recv.span(), format!("#[{attribute}] methods take `&self`"));
                    } else if let Some(token) = &recv.mutability {
                        reject(token.span, format!("#[{attribute}] methods take `&self`: a `&mut self` method's effects would be skipped on a hit"));
                    }
                    receiver = true;
                }
                FnArg::Typed(typed) => {
                    let ident = match &*typed.pat {
                        Pat::Ident(pat) if pat.by_ref.is_none() && pat.subpat.is_none() => {
                            pat.ident.clone()
                        }
                        pat => {
                            reject(pat.span(), format!("#[{attribute}] needs a plain name for each parameter (no patterns or `_`), to build the key"));
                            continue;
                        }
                    };
                    if ident == "_" {
                        reject(
                            ident.span(),
                            format!("#[{attribute}] needs a name for each parameter"),
                        );
                    }
                    let ty = (*typed.ty).clone();
                    if let Some(span) = find_impl_trait(&ty) {
                        reject(span, format!("#[{attribute}] does not support `impl Trait` parameters: they make the function generic"));
                    }
                    let borrowed = match &ty {
                        Type::Reference(reference) => {
                            if let Some(token) = &reference.mutability {
                                reject(token.span, format!("#[{attribute}] does not support `&mut` parameters: the body could change them, and a hit would skip that"));
                            }
                            Some((*reference.elem).clone())
                        }
                        _ => None,
                    };
                    params.push(Param {
                        ident,
                        ty,
                        borrowed,
                    });
                }
            }
        }

        let output = match &sig.output {
            ReturnType::Default => syn::parse_quote!(()),
            ReturnType::Type(_, ty) => {
                if let Some(span) = find_impl_trait(ty) {
                    reject(span, format!("#[{attribute}] needs a concrete return type to store, not `impl Trait`"));
                }
                if let Some(span) = find_lifetime(ty) {
                    reject(span, format!("#[{attribute}] stores the returned value, so it cannot borrow: return an owned type"));
                }
                (**ty).clone()
            }
        };

        // Caches kept in statics cannot name `Self` (E0401); per-instance
        // `#[memoized]` caches can.
        let static_cache = kind == Kind::Quickcache || !receiver;
        if static_cache {
            let mut types: Vec<&Type> = vec![&output];
            if kind == Kind::Memoized {
                types.extend(params.iter().map(|p| p.borrowed.as_ref().unwrap_or(&p.ty)));
            }
            for ty in types {
                if let Some(span) = find_self(ty) {
                    reject(span, format!("#[{attribute}] keeps this function's cache in a static, which cannot name `Self`: write the type's name"));
                }
            }
        }
        if kind == Kind::Memoized {
            for param in &params {
                let key_ty = param.borrowed.as_ref().unwrap_or(&param.ty);
                if let Some(span) = find_lifetime(key_ty) {
                    reject(span, "#[memoized] stores owned copies of the arguments, so their types cannot hold borrowed lifetimes".to_owned());
                }
            }
        }

        match errors {
            Some(errors) => Err(errors),
            None => Ok(Function {
                attrs: item.attrs,
                vis: item.vis,
                sig: item.sig,
                block: item.block,
                receiver,
                associated: false,
                params,
                returns: Returns::of(&output),
                output,
            }),
        }
    }

    /// The `vary_on` paths to key on: the given ones, or every parameter.
    pub(crate) fn vary_on(&self, options: &Options) -> Vec<VaryPath> {
        match &options.vary_on {
            Some(given) => given
                .value
                .iter()
                .map(|p| VaryPath {
                    root: p.root.clone(),
                    fields: p.fields.clone(),
                })
                .collect(),
            None => {
                let receiver = self
                    .receiver
                    .then(|| Ident::new("self", self.sig.ident.span()));
                // Every parameter but `skip`'s (a call that skips the read
                // stores under the key the other calls read).
                let skip = options.skip.as_ref().and_then(|s| s.value.get_ident());
                receiver
                    .into_iter()
                    .chain(
                        self.params
                            .iter()
                            .map(|p| p.ident.clone())
                            .filter(|ident| Some(ident) != skip),
                    )
                    .map(|root| VaryPath {
                        root,
                        fields: Vec::new(),
                    })
                    .collect()
            }
        }
    }
}

/// A clear error for items that are not functions.
fn not_a_function(kind: Kind, item: TokenStream) -> Option<syn::Error> {
    let item: syn::Item = syn::parse2(item).ok()?;
    let (span, what) = match &item {
        syn::Item::Struct(s) => (s.struct_token.span, "a struct"),
        syn::Item::Enum(e) => (e.enum_token.span, "an enum"),
        syn::Item::Impl(i) => (i.impl_token.span, "an impl block; put it on the methods"),
        syn::Item::Trait(t) => (t.trait_token.span, "a trait"),
        syn::Item::Const(c) => (c.const_token.span, "a const"),
        syn::Item::Static(s) => (s.static_token.span, "a static"),
        syn::Item::Mod(m) => (m.mod_token.span, "a module"),
        _ => (item.span(), "this item"),
    };
    Some(syn::Error::new(
        span,
        format!("#[{}] applies to functions, not to {what}", kind.name()),
    ))
}

fn find_impl_trait(ty: &Type) -> Option<Span> {
    struct Finder(Option<Span>);
    impl<'ast> Visit<'ast> for Finder {
        fn visit_type_impl_trait(&mut self, node: &'ast syn::TypeImplTrait) {
            self.0.get_or_insert(node.impl_token.span);
        }
    }
    let mut finder = Finder(None);
    finder.visit_type(ty);
    finder.0
}

fn find_lifetime(ty: &Type) -> Option<Span> {
    struct Finder(Option<Span>);
    impl<'ast> Visit<'ast> for Finder {
        fn visit_lifetime(&mut self, node: &'ast syn::Lifetime) {
            if node.ident != "static" {
                self.0.get_or_insert(node.span());
            }
        }
        fn visit_type_reference(&mut self, node: &'ast syn::TypeReference) {
            match &node.lifetime {
                Some(lifetime) => self.visit_lifetime(lifetime),
                None => {
                    self.0.get_or_insert(node.and_token.span);
                }
            }
            self.visit_type(&node.elem);
        }
    }
    let mut finder = Finder(None);
    finder.visit_type(ty);
    finder.0
}

fn find_self(ty: &Type) -> Option<Span> {
    struct Finder(Option<Span>);
    impl<'ast> Visit<'ast> for Finder {
        fn visit_ident(&mut self, node: &'ast Ident) {
            if node == "Self" {
                self.0.get_or_insert(node.span());
            }
        }
    }
    let mut finder = Finder(None);
    finder.visit_type(ty);
    finder.0
}
