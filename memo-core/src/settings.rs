//! Attribute options given as constant expressions (`timeout =
//! CONFIG_TTL_SECS`, `max_entries = LIMIT`), turned into the types the
//! caches take at compile time: the generated code calls these in the
//! cache's `static`, so a value out of range is a compile error there.

use std::time::Duration;

use crate::clock::Tick;

/// A number of seconds or a `Duration`, as an option's constant gives it:
/// `Secs(value).duration()`, picked by the value's type (one inherent
/// `const fn` per type, since trait methods cannot be called at compile
/// time). Negative seconds count as zero.
///
/// # Examples
///
/// ```
/// use memo_core::__private::Secs;
/// use std::time::Duration;
///
/// const TTL_SECS: u64 = 300;
/// const GRACE: Duration = Duration::from_millis(1500);
/// const HALF: f64 = 0.5;
/// assert_eq!(Secs(TTL_SECS).duration(), Duration::from_secs(300));
/// assert_eq!(Secs(GRACE).duration(), GRACE);
/// assert_eq!(Secs(HALF).duration(), Duration::from_millis(500));
/// assert_eq!(Secs(-3i32).duration(), Duration::ZERO);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Secs<T>(pub T);

macro_rules! unsigned_secs {
    ($($t:ty),*) => {$(
        impl Secs<$t> {
            /// The seconds as a `Duration`.
            pub const fn duration(self) -> Duration {
                Duration::from_secs(self.0 as u64)
            }
        }
    )*};
}

macro_rules! signed_secs {
    ($($t:ty),*) => {$(
        impl Secs<$t> {
            /// The seconds as a `Duration` (zero when negative).
            pub const fn duration(self) -> Duration {
                if self.0 < 0 {
                    Duration::ZERO
                } else {
                    Duration::from_secs(self.0 as u64)
                }
            }
        }
    )*};
}

unsigned_secs!(u8, u16, u32, u64, usize);
signed_secs!(i8, i16, i32, i64, isize);

impl Secs<f64> {
    /// The seconds as a `Duration` (zero when negative or not a number;
    /// saturating past `u64::MAX` seconds).
    pub const fn duration(self) -> Duration {
        let seconds = self.0;
        // Negated, so a NaN (which compares false) is zero too.
        #[allow(clippy::neg_cmp_op_on_partial_ord)]
        if !(seconds > 0.0) {
            return Duration::ZERO;
        }
        let whole = seconds as u64;
        let nanos = ((seconds - whole as f64) * 1e9) as u32;
        Duration::new(
            whole,
            if nanos > 999_999_999 {
                999_999_999
            } else {
                nanos
            },
        )
    }
}

impl Secs<f32> {
    /// The seconds as a `Duration` (see `Secs<f64>`).
    pub const fn duration(self) -> Duration {
        Secs(self.0 as f64).duration()
    }
}

impl Secs<Duration> {
    /// The `Duration` itself.
    pub const fn duration(self) -> Duration {
        self.0
    }
}

/// `duration`, checked to be more than zero: evaluated in a `static`, a
/// zero is a compile error naming the option's rule.
#[track_caller]
pub const fn positive(duration: Duration) -> Duration {
    assert!(
        !duration.is_zero(),
        "a memo option's duration must be more than 0 seconds"
    );
    duration
}

/// A count option's constant (`max_entries`, `max_bytes`), checked to be at
/// least 1: evaluated in a `static`, a zero is a compile error.
#[track_caller]
pub const fn count(n: usize) -> usize {
    assert!(
        n >= 1,
        "a memo option's count (`max_entries`, `max_bytes`) must be at least 1"
    );
    n
}

/// `timeout_jitter`: each entry's lifetime spread uniformly over ± this
/// share of the timeout, so entries filled together do not expire together
/// (0: none).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Jitter(pub(crate) f64);

impl Jitter {
    /// A factor in `1 ± share`, fresh for each call.
    fn factor(self) -> f64 {
        // 53 random bits of a stamp, as a fraction in [0, 1).
        let unit = (crate::stamp::next() >> 11) as f64 / (1u64 << 53) as f64;
        1.0 + self.0 * (2.0 * unit - 1.0)
    }

    /// `ttl`, spread.
    #[inline]
    pub(crate) fn spread(self, ttl: Duration) -> Duration {
        if self.0 == 0.0 {
            return ttl;
        }
        self.spread_duration(ttl)
    }

    /// `ttl` in clock ticks, spread.
    #[inline]
    pub(crate) fn spread_ticks(self, ttl: Tick) -> Tick {
        if self.0 == 0.0 {
            return ttl;
        }
        self.spread_tick_count(ttl)
    }

    // Out of line: inlined, the draw and the float arithmetic made every
    // `#[memoized]` miss a fifth slower (A/B on `miss_overhead`), jitter or
    // not.
    #[inline(never)]
    fn spread_duration(self, ttl: Duration) -> Duration {
        ttl.mul_f64(self.factor()).max(Duration::from_millis(1))
    }

    #[inline(never)]
    fn spread_tick_count(self, ttl: Tick) -> Tick {
        ((ttl as f64 * self.factor()) as Tick).max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_spreads_over_its_whole_range_and_no_further() {
        let jitter = Jitter(0.2);
        let ttl = Duration::from_secs(100);
        let spread: Vec<Duration> = (0..2000).map(|_| jitter.spread(ttl)).collect();
        let (low, high) = (spread.iter().min().unwrap(), spread.iter().max().unwrap());
        assert!(*low >= Duration::from_secs(80) && *high <= Duration::from_secs(120));
        assert!(
            *low < Duration::from_secs(82) && *high > Duration::from_secs(118),
            "{low:?}..{high:?}"
        );
        assert_eq!(Jitter(0.0).spread(ttl), ttl);
        let ticks: Vec<Tick> = (0..2000).map(|_| jitter.spread_ticks(1000)).collect();
        assert!(ticks.iter().all(|t| (800..=1200).contains(t)));
    }
}
