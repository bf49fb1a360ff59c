//! Attribute options given as constant expressions (`timeout =
//! CONFIG_TTL_SECS`, `max_entries = LIMIT`), turned into the types the
//! caches take at compile time: the generated code calls these in the
//! cache's `static`, so a value out of range is a compile error there.

use std::time::Duration;

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
