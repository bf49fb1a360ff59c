//! What of a function's result the cache keeps.
//!
//! By default a `Result` function caches its `Ok` values only, so its error
//! type needs none of the cache's traits, and an `Option` function caches
//! `None` too (negative caching). The macro picks a [`Keep`] from the
//! options and hands it to the runtime's steps: the whole value
//! ([`Whole`]), the `Ok` or `Some` part only ([`OkPart`], through
//! [`Outcome`]), or the whole value when a predicate says so ([`KeepIf`],
//! for `cache_errors = path`). Each step takes the rule as a value, so a new
//! rule is one type here, not a variant of every step.

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
    result.err_part().is_none_or(predicate)
}

/// A rule for what of a computed result `O` is stored, and how a stored
/// value becomes a result again (a hit).
///
/// # Examples
///
/// ```
/// use memo_core::__private::{Keep, KeepIf, OkPart, Whole};
///
/// let fetched: Result<u32, String> = Err("down".to_owned());
/// assert_eq!(Whole.kept(&fetched), Some(&fetched));
/// assert_eq!(OkPart.kept(&fetched), None);
/// assert_eq!(<OkPart as Keep<Result<u32, String>>>::hit(7), Ok(7));
/// assert_eq!(KeepIf(|r: &Result<u32, String>| r.is_ok()).kept(&fetched), None);
/// ```
pub trait Keep<O> {
    /// The type stored.
    type Value;
    /// What of `result` to store; `None` stores nothing.
    fn kept(self, result: &O) -> Option<&Self::Value>;
    /// A stored value as the function's result.
    fn hit(value: Self::Value) -> O;
}

/// Stores the whole result (the default, and `cache_errors = true`).
#[derive(Clone, Copy, Debug)]
pub struct Whole;

impl<O> Keep<O> for Whole {
    type Value = O;

    #[inline(always)]
    fn kept(self, result: &O) -> Option<&O> {
        Some(result)
    }

    #[inline(always)]
    fn hit(value: O) -> O {
        value
    }
}

/// Stores the `Ok` (or `Some`) part only: a `Result` function's default, and
/// `Option` functions' under `cache_none = false`.
#[derive(Clone, Copy, Debug)]
pub struct OkPart;

impl<O: Outcome> Keep<O> for OkPart {
    type Value = O::Ok;

    #[inline(always)]
    fn kept(self, result: &O) -> Option<&O::Ok> {
        result.ok_part()
    }

    #[inline(always)]
    fn hit(value: O::Ok) -> O {
        O::from_ok(value)
    }
}

/// Stores the whole result when the predicate says so (`cache_errors =
/// path`).
#[derive(Clone, Copy, Debug)]
pub struct KeepIf<F>(pub F);

impl<O, F: FnOnce(&O) -> bool> Keep<O> for KeepIf<F> {
    type Value = O;

    #[inline(always)]
    fn kept(self, result: &O) -> Option<&O> {
        (self.0)(result).then_some(result)
    }

    #[inline(always)]
    fn hit(value: O) -> O {
        value
    }
}

/// When a computation began, for `min_time`; the clock is read only when
/// `min_time` is set (a read is a few percent of a miss).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Started(Option<std::time::Instant>);

impl Started {
    /// A computation begins, under `min_time` (zero: every result kept).
    #[inline]
    pub(crate) fn now(min_time: std::time::Duration) -> Self {
        Started((!min_time.is_zero()).then(std::time::Instant::now))
    }

    /// A computation that began at `at` (whose start was read anyway).
    #[inline]
    pub(crate) fn at(at: std::time::Instant) -> Self {
        Started(Some(at))
    }

    /// `value`, if the computation took at least `min_time` (cheap results
    /// are not worth a place): the rule for every surface and every step
    /// that computes. Reads the clock only under `min_time`.
    #[inline]
    pub(crate) fn worth_keeping<V>(
        self,
        min_time: std::time::Duration,
        value: Option<&V>,
    ) -> Option<&V> {
        value.filter(|_| {
            min_time.is_zero() || self.0.is_none_or(|started| started.elapsed() >= min_time)
        })
    }
}
