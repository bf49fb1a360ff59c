//! What of a function's result the cache keeps.
//!
//! By default a `Result` function caches its `Ok` values only, so its error
//! type needs none of the cache's traits, and an `Option` function caches
//! `None` too (negative caching). The macro picks the step from the
//! options: the whole value (`or_compute`), the `Ok` or `Some` part only
//! (`or_compute_ok`, through [`Outcome`]), or the whole value when a
//! predicate says so (`or_compute_if`, for `cache_errors = path`).

/// A result with a part worth caching: `Result<T, E>` (its `Ok`) and
/// `Option<T>` (its `Some`).
///
/// # Examples
///
/// ```
/// use memo_core::__private::Outcome;
///
/// let fetched: Result<u32, String> = Ok(7);
/// assert_eq!(fetched.ok_part(), Some(&7));
/// assert_eq!(<Result<u32, String>>::from_ok(7), Ok(7));
/// assert_eq!(Err::<u32, _>("down".to_owned()).err_part().map(String::as_str), Some("down"));
/// ```
pub trait Outcome {
    /// The part that is cached.
    type Ok;
    /// The part that is not (by default).
    type Err;
    /// The part to cache, if the result holds one.
    fn ok_part(&self) -> Option<&Self::Ok>;
    /// The other part, if the result holds it.
    fn err_part(&self) -> Option<&Self::Err>;
    /// The result of a cached part (a hit).
    fn from_ok(ok: Self::Ok) -> Self;
}

impl<T, E> Outcome for Result<T, E> {
    type Ok = T;
    type Err = E;

    #[inline]
    fn ok_part(&self) -> Option<&T> {
        self.as_ref().ok()
    }

    #[inline]
    fn err_part(&self) -> Option<&E> {
        self.as_ref().err()
    }

    #[inline]
    fn from_ok(ok: T) -> Self {
        Ok(ok)
    }
}

impl<T> Outcome for Option<T> {
    type Ok = T;
    type Err = ();

    #[inline]
    fn ok_part(&self) -> Option<&T> {
        self.as_ref()
    }

    #[inline]
    fn err_part(&self) -> Option<&()> {
        self.is_none().then_some(&())
    }

    #[inline]
    fn from_ok(ok: T) -> Self {
        Some(ok)
    }
}

/// Whether `result` is to be cached under `cache_errors = predicate`: an
/// `Ok` always, an `Err` when `predicate` says so.
///
/// # Examples
///
/// ```
/// fn not_found(error: &String) -> bool { error == "not found" }
///
/// assert!(memo_core::__private::keep_errors_if(&Err::<u8, _>("not found".to_owned()), not_found));
/// assert!(!memo_core::__private::keep_errors_if(&Err::<u8, _>("timeout".to_owned()), not_found));
/// ```
#[inline]
pub fn keep_errors_if<O: Outcome>(result: &O, predicate: impl FnOnce(&O::Err) -> bool) -> bool {
    result.err_part().map_or(true, predicate)
}
