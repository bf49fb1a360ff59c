//! Every rule the options and the function must meet, in one place; all
//! errors are collected and reported together, each on its token.

use crate::attr::{combine, Kind, Options};
use crate::expand::Keep;
use crate::model::{Function, Place};

/// Every rule of the options against the function, all errors collected;
/// on success, what of a result the cache keeps.
pub(crate) fn options(
    kind: Kind,
    function: &Function,
    options: &Options,
    place: Place,
) -> syn::Result<Keep> {
    let mut errors = None;
    let keep = Keep::of(function, options);
    if kind == Kind::Quickcache {
        if let Err(error) = vary_on(function, options) {
            combine(&mut errors, error);
        }
        if let Err(error) = skip(function, options) {
            combine(&mut errors, error);
        }
    }
    for (name, seconds) in [
        ("timeout", &options.timeout),
        ("lock_ttl", &options.lock_ttl),
        ("min_time", &options.min_time),
        ("idle_timeout", &options.idle_timeout),
    ] {
        if let Some(seconds) = seconds {
            if seconds.value.is_zero() {
                combine(
                    &mut errors,
                    syn::Error::new(
                        seconds.value.span(),
                        format!("`{name}` must be more than 0 seconds"),
                    ),
                );
            }
        }
    }
    if let Some(lock_ttl) = &options.lock_ttl {
        if !options.lock.as_ref().is_some_and(|lock| lock.value) {
            combine(
                &mut errors,
                syn::Error::new(lock_ttl.span, "`lock_ttl` sets the lifetime of the lock taken with `lock = true`; add `lock = true`"),
            );
        }
    }
    if let Some(store_result) = options.store_result.as_ref().filter(|given| !given.value) {
        let unit = matches!(&function.output, syn::Type::Tuple(tuple) if tuple.elems.is_empty());
        if !unit {
            combine(
                &mut errors,
                syn::Error::new(
                    store_result.span,
                    "`store_result = false` runs the body at most once per `timeout` and stores only a marker, so the function must return `()`",
                ),
            );
        }
        if let Some(min_time) = &options.min_time {
            combine(
                &mut errors,
                syn::Error::new(
                    min_time.span,
                    "`min_time` picks which results to store, and with `store_result = false` none is",
                ),
            );
        }
    }
    if let (Some(idle), Some(_)) = (&options.idle_timeout, &options.timeout) {
        combine(
            &mut errors,
            syn::Error::new(
                idle.span,
                "`idle_timeout` and `timeout` cannot both be given (for now): an entry expires `idle_timeout` after its last read, whatever its age",
            ),
        );
    }
    if let Err(error) = stale_on_error(function, options) {
        combine(&mut errors, error);
    }
    let stale = options
        .stale_on_error
        .as_ref()
        .filter(|given| !matches!(given.value, crate::attr::StaleOnError::Flag(false)));
    if let (Kind::Memoized, Some(stale), None) = (kind, stale, &options.timeout) {
        combine(
            &mut errors,
            syn::Error::new(
                stale.span,
                "`stale_on_error` keeps each entry past its `timeout`, and this function's entries never expire; add `timeout = <seconds>`",
            ),
        );
    }
    if let (Kind::Memoized, Some(jitter), None) = (kind, &options.timeout_jitter, &options.timeout)
    {
        combine(
            &mut errors,
            syn::Error::new(
                jitter.span,
                "`timeout_jitter` spreads the `timeout` of each entry, and this function's entries never expire; add `timeout = <seconds>`",
            ),
        );
    }
    if kind == Kind::Memoized && place == (Place::Associated { generic_impl: true }) {
        combine(
            &mut errors,
            syn::Error::new(
                function.name().span(),
                "#[memoized] on an associated function of a generic impl would keep one cache for every `Self` type: use #[quickcache] (a cache per `Self` type), or take `&self` (a cache per instance)",
            ),
        );
    }
    match (errors, keep) {
        (None, keep) => keep,
        (Some(mut errors), Err(more)) => {
            errors.combine(more);
            Err(errors)
        }
        (Some(errors), Ok(_)) => Err(errors),
    }
}

/// `stale_on_error` is on a `Result` function whose `Err`s are not cached,
/// with a grace period of more than 0 seconds.
fn stale_on_error(function: &Function, options: &Options) -> syn::Result<()> {
    use crate::attr::StaleOnError;
    let Some(given) = &options.stale_on_error else {
        return Ok(());
    };
    let mut errors = None;
    match &given.value {
        StaleOnError::Flag(false) => return Ok(()),
        StaleOnError::Grace(seconds) if seconds.is_zero() => combine(
            &mut errors,
            syn::Error::new(
                seconds.span(),
                "`stale_on_error` is how long past its `timeout` an entry is kept to serve in place of an `Err`, and must be more than 0 seconds; `false` turns it off",
            ),
        ),
        _ => {}
    }
    if function.returns != crate::model::Returns::Result {
        combine(
            &mut errors,
            syn::Error::new(
                given.span,
                "`stale_on_error` serves an older `Ok` when the body returns `Err`, so the function must return `Result`",
            ),
        );
    } else if let Some(cache_errors) = &options.cache_errors {
        if !matches!(cache_errors.value, crate::attr::CacheErrors::Flag(false)) {
            combine(
                &mut errors,
                syn::Error::new(
                    cache_errors.span,
                    "`cache_errors` stores `Err`s, and `stale_on_error` serves an older `Ok` in place of one: choose one",
                ),
            );
        }
    }
    errors.map_or(Ok(()), Err)
}

/// `skip = name` names a parameter that is not in `vary_on` (a predicate is
/// named by a path of more than one segment, `self::f`).
fn skip(function: &Function, options: &Options) -> syn::Result<()> {
    let Some(name) = options.skip.as_ref().and_then(|s| s.value.get_ident()) else {
        return Ok(());
    };
    if !function.params.iter().any(|p| p.ident == *name) {
        return Err(syn::Error::new(
            name.span(),
            format!(
                "`skip = {name}`: `{name}` is not a parameter of `{}`; name a `bool` parameter, or a predicate by its path (`self::{name}`)",
                function.name()
            ),
        ));
    }
    let in_key = options
        .vary_on
        .iter()
        .flat_map(|v| &v.value)
        .any(|path| path.root == *name);
    if in_key {
        return Err(syn::Error::new(
            name.span(),
            format!("`{name}` is the `skip` parameter and cannot be in `vary_on` too: a call that skips the cache would store under another key than the calls that read it"),
        ));
    }
    Ok(())
}

/// Checks every `vary_on` root names a parameter (or `self`).
fn vary_on(function: &Function, options: &Options) -> syn::Result<()> {
    let mut errors = None;
    if let (Some(_), Some(key)) = (&options.vary_on, &options.key) {
        combine(
            &mut errors,
            syn::Error::new(
                key.span,
                "`vary_on` and `key` cannot both be given: `key` computes the whole key",
            ),
        );
    }
    for path in options.vary_on.iter().flat_map(|v| &v.value) {
        let known = (path.root == "self" && function.receiver)
            || function.params.iter().any(|p| p.ident == path.root);
        if !known {
            let mut names: Vec<String> = function
                .params
                .iter()
                .map(|p| p.ident.to_string())
                .collect();
            if function.receiver {
                names.insert(0, "self".to_owned());
            }
            let listed = if names.is_empty() {
                "it has none".to_owned()
            } else {
                format!("expected one of: {}", names.join(", "))
            };
            combine(
                &mut errors,
                syn::Error::new(
                    path.root.span(),
                    format!(
                        "`{}` in `vary_on` is not a parameter of `{}`; {listed}",
                        path.root,
                        function.name()
                    ),
                ),
            );
        }
    }
    match errors {
        Some(errors) => Err(errors),
        None => Ok(()),
    }
}
