//! Overrides of `#[quickcache]` options from the application's
//! configuration, without recompiling: [`configure`].

use std::sync::RwLock;
use std::time::Duration;

use crate::quickcache::Spec;

/// What [`configure`] overrides for the functions under a namespace
/// prefix; options it does not set keep the attribute's values.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// let settings = memo_core::Settings::default()
///     .timeout(Duration::from_secs(30))
///     .memoize_timeout(Duration::ZERO);
/// # let _ = settings;
/// ```
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct Settings {
    timeout: Option<Duration>,
    memoize_timeout: Option<Duration>,
    max_entries: Option<usize>,
    enabled: Option<bool>,
}

impl Settings {
    /// How long the shared tier keeps an entry (`timeout`). Zero is taken
    /// as one millisecond.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout.max(Duration::from_millis(1)));
        self
    }

    /// How long L1 keeps an entry (`memoize_timeout`); zero turns L1 off.
    pub fn memoize_timeout(mut self, memoize_timeout: Duration) -> Self {
        self.memoize_timeout = Some(memoize_timeout);
        self
    }

    /// L1's bound (`max_entries`; at least 1).
    pub fn max_entries(mut self, max_entries: usize) -> Self {
        self.max_entries = Some(max_entries.max(1));
        self
    }

    /// `false`: the functions run their bodies on every call, reading and
    /// storing nothing in either tier (their companions still work).
    pub fn enabled(mut self, enabled: bool) -> Self {
        self.enabled = Some(enabled);
        self
    }

    /// `self`, with what `other` sets laid over it.
    fn over(self, other: &Settings) -> Settings {
        Settings {
            timeout: other.timeout.or(self.timeout),
            memoize_timeout: other.memoize_timeout.or(self.memoize_timeout),
            max_entries: other.max_entries.or(self.max_entries),
            enabled: other.enabled.or(self.enabled),
        }
    }
}

/// Every call of [`configure`]: a prefix and its settings.
static OVERRIDES: RwLock<Vec<(String, Settings)>> = RwLock::new(Vec::new());

/// Overrides the options of every `#[quickcache]` function whose namespace
/// starts with `prefix` (`"billing::"` for a module's, a function's whole
/// namespace or its `name` for one): its `timeout`, its L1
/// (`memoize_timeout`, `max_entries`), or caching altogether. An operator
/// can so shorten a TTL or turn a function's L1 off from configuration.
/// A `#[memoized]` function (namespace `module::function@digest`) takes
/// `timeout` as its entries' lifetime and `max_entries` as its bound, and
/// `enabled(false)` or a zero `memoize_timeout` turn its caching off.
///
/// Read once per function, when its cache is built at its first call:
/// configure before the functions run (at start-up, say). Where prefixes
/// overlap, the longer one's settings win, and a later call's over an
/// earlier one's of the same prefix. Costs nothing per call.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// #[memo_core::quickcache(name = "docs::report", timeout = 300)]
/// fn report(id: u64) -> String {
///     format!("report {id}")
/// }
///
/// // From the application's configuration, before the first call:
/// memo_core::configure("docs::", |c| c.timeout(Duration::from_secs(30)).memoize_timeout(Duration::ZERO));
/// assert_eq!(report(1), "report 1");
/// ```
pub fn configure(prefix: &str, settings: impl FnOnce(Settings) -> Settings) {
    let settings = settings(Settings::default());
    let mut overrides = OVERRIDES.write().unwrap_or_else(|e| e.into_inner());
    overrides.push((prefix.to_owned(), settings));
}

/// The settings for `namespace`, laid over `spec`; whether caching is on.
pub(crate) fn apply(namespace: &str, spec: &mut Spec) -> bool {
    let settings = settings_for(namespace);
    if let Some(timeout) = settings.timeout {
        spec.timeout = timeout;
    }
    if let Some(memoize_timeout) = settings.memoize_timeout {
        spec.memoize_timeout = memoize_timeout;
    }
    if let Some(max_entries) = settings.max_entries {
        spec.max_entries = max_entries;
    }
    settings.enabled.unwrap_or(true)
}

/// The settings for a `#[memoized]` function's `namespace`, laid over
/// `spec`: `timeout` is its entries' lifetime, `max_entries` its bound;
/// `enabled(false)` or a zero `memoize_timeout` (its one tier off) turn
/// caching off. Whether caching is on.
pub(crate) fn apply_memoized(namespace: &str, spec: &mut crate::memoized::MemoSpec) -> bool {
    let settings = settings_for(namespace);
    if let Some(timeout) = settings.timeout {
        spec.timeout = Some(timeout);
        spec.idle_timeout = None;
    }
    if let Some(max_entries) = settings.max_entries {
        spec.max_entries = Some(max_entries);
    }
    settings.enabled.unwrap_or(true) && settings.memoize_timeout != Some(Duration::ZERO)
}

/// Every override whose prefix `namespace` starts with, laid over each
/// other: the longer prefix wins, then the later call.
fn settings_for(namespace: &str) -> Settings {
    let overrides = OVERRIDES.read().unwrap_or_else(|e| e.into_inner());
    let mut matching: Vec<&(String, Settings)> = overrides
        .iter()
        .filter(|(prefix, _)| namespace.starts_with(prefix.as_str()))
        .collect();
    // Shorter prefixes first, so longer ones win; a stable sort keeps the
    // later of two equal ones later.
    matching.sort_by_key(|(prefix, _)| prefix.len());
    matching
        .into_iter()
        .fold(Settings::default(), |all, (_, settings)| all.over(settings))
}
