//! Keeping local (L1) tiers coherent with the shared tier.
//!
//! Every `#[quickcache]` function registers its cache in `registry` on
//! first use, by namespace. Whatever learns that the shared tier changed
//! underneath this process drops the affected L1 entries through it: installing a
//! backend flushes the L1 of every function it serves, and a backend shared between processes relays
//! other processes' `clear`, `invalidate` and `set_cached_value` through a
//! [`Link`] (Redis pub/sub in `memo-redis`).
//!
//! Each backend (the default one, and each named one) has a `Coherence`
//! of its own, and only its functions' L1 follows it.
//!
//! While a backend reports its broadcast channel down ([`Link::down`]), L1 is
//! bypassed: nothing is served from it or stored in it, since an invalidation
//! could be missed. When the channel is back ([`Link::up`]), L1 is flushed
//! (messages sent meanwhile were lost) and used again.
//!
//! A backend that can prove delivery vouches instead ([`Link::vouch`]): L1
//! is used only until a deadline it sets from its latest proof (on Redis, a
//! `PONG` on the subscriber connection to a `PING` sent at `t` proves every
//! message published before `t` has arrived, so the deadline is `t` plus
//! the staleness bound). A hit checks that deadline against the time it
//! reads for expiry anyway: one more load and a compare. A channel that dies
//! silently then costs at most the bound, whatever the network does.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use crate::clock::{self, Tick, NEVER};
use crate::registry;

/// One backend's coherence: whether the L1 tiers of the functions it
/// serves may be used, and since which installation. The default backend
/// has [`DEFAULT`]; each named one (`backend = "..."`) a state of its own
/// ([`of`]), so one backend's channel going down bypasses only its own
/// functions' L1.
#[derive(Debug)]
pub(crate) struct Coherence {
    /// The backend's name; `None` for the default one.
    backend: Option<&'static str>,
    /// Until when (on the coarse clock) L1 may be used: `NEVER` while the
    /// backend vouches for it without a deadline ([`Link::up`]), 0 while
    /// its channel is down, a deadline while it vouches by proofs.
    vouched_until: AtomicU64,
    /// The channel went down since L1 was last flushed: flush before using
    /// L1 again.
    down: AtomicBool,
    /// Which installation of a backend the current links belong to.
    installation: AtomicU64,
    /// Serialises state changes (up, down, install) so a flush and the flag
    /// never interleave wrongly.
    state: Mutex<()>,
}

/// The default backend's coherence.
pub(crate) static DEFAULT: Coherence = Coherence::new(None);

/// The coherence of the backend named `backend` (`None`: the default one),
/// made on first use and kept for the life of the process.
pub(crate) fn of(backend: Option<&'static str>) -> &'static Coherence {
    let Some(name) = backend else {
        return &DEFAULT;
    };
    static NAMED: Mutex<Vec<&'static Coherence>> = Mutex::new(Vec::new());
    let mut named = NAMED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(found) = named.iter().find(|c| c.backend == Some(name)) {
        return found;
    }
    // One per backend name the process uses: a handful, kept for good.
    let made: &'static Coherence = Box::leak(Box::new(Coherence::new(Some(name))));
    named.push(made);
    made
}

impl Coherence {
    const fn new(backend: Option<&'static str>) -> Self {
        Coherence {
            backend,
            vouched_until: AtomicU64::new(NEVER),
            down: AtomicBool::new(false),
            installation: AtomicU64::new(0),
            state: Mutex::new(()),
        }
    }

    /// Whether L1 may be read and written now: two loads (the deadline,
    /// and the time a hit reads for expiry anyway) and a compare on the
    /// hit path.
    #[inline]
    pub(crate) fn l1_on(&self) -> bool {
        match self.vouched_until.load(Ordering::Acquire) {
            NEVER => true,
            until => clock::recent() < until,
        }
    }

    /// Flushes the L1 of every function this backend serves.
    fn flush_all_local(&self) {
        registry::each(|cache| {
            if cache.backend() == self.backend {
                cache.flush_local();
            }
        });
    }

    /// Starts a new installation: flushes the L1 of every function this
    /// backend serves and hands out the link the new backend reports
    /// through. Links of earlier installations stop counting.
    pub(crate) fn install(&'static self) -> Link {
        let _state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let installation = self.installation.fetch_add(1, Ordering::AcqRel) + 1;
        self.vouched_until.store(NEVER, Ordering::Release);
        self.down.store(false, Ordering::Release);
        self.flush_all_local();
        Link {
            coherence: self,
            installation,
        }
    }
}

/// How a backend tells this process about its broadcast channel and about
/// other processes' invalidations. Handed to [`Backend::attach`] when the
/// backend is installed; a link of a backend that has since been replaced
/// does nothing.
///
/// [`Backend::attach`]: crate::Backend::attach
///
/// # Examples
///
/// A backend shared between processes keeps the link and reports through it:
///
/// ```
/// use memo_core::coherence::Link;
///
/// fn on_subscribed(link: &Link) { link.up() }
/// fn on_connection_lost(link: &Link) { link.down() }
/// fn on_message(link: &Link, namespace: &str, args: Option<&[u8]>) {
///     link.invalidated(namespace, args)
/// }
/// ```
#[derive(Debug, Clone)]
pub struct Link {
    coherence: &'static Coherence,
    installation: u64,
}

impl Link {
    fn current(&self) -> bool {
        self.coherence.installation.load(Ordering::Acquire) == self.installation
    }

    /// The broadcast channel works: flush every L1 (invalidations may have
    /// been missed) if it was down, and use L1 again, with no deadline.
    pub fn up(&self) {
        self.use_l1_until(NEVER);
    }

    /// The broadcast channel has delivered every message sent before
    /// `until` less the backend's staleness bound: use L1 until `until`
    /// (flushing it first if the channel was down), unless a later proof
    /// vouched for longer. Past `until` without a new proof, L1 is bypassed
    /// (nothing lost: the same channel's next proof resumes it).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # let link: memo_core::coherence::Link = unimplemented!();
    /// let ping_sent = std::time::Instant::now();
    /// // ... the answer to that ping arrives ...
    /// link.vouch(ping_sent + std::time::Duration::from_millis(100));
    /// ```
    pub fn vouch(&self, until: Instant) {
        let left = until.saturating_duration_since(Instant::now());
        // On the coarse clock, less the lag of the time hits read.
        let until = clock::now()
            .saturating_add(clock::ticks(left))
            .saturating_sub(clock::ticks(clock::TICK));
        self.use_l1_until(until.max(1));
    }

    fn use_l1_until(&self, until: Tick) {
        let coherence = self.coherence;
        let _state = coherence.state.lock().unwrap_or_else(|e| e.into_inner());
        if !self.current() {
            return;
        }
        if coherence.down.swap(false, Ordering::AcqRel) {
            coherence.flush_all_local();
        }
        let current = coherence.vouched_until.load(Ordering::Acquire);
        if until == NEVER || current == NEVER || until > current {
            coherence.vouched_until.store(until, Ordering::Release);
        }
    }

    /// The broadcast channel is down: stop using L1 and flush it.
    pub fn down(&self) {
        let coherence = self.coherence;
        let _state = coherence.state.lock().unwrap_or_else(|e| e.into_inner());
        if self.current() && !coherence.down.swap(true, Ordering::AcqRel) {
            coherence.vouched_until.store(0, Ordering::Release);
            coherence.flush_all_local();
        }
    }

    /// Another process cleared the entry for `args` (encoded arguments) of
    /// `namespace`, or every entry when `args` is `None`: drop this
    /// process's L1 copies.
    pub fn invalidated(&self, namespace: &str, args: Option<&[u8]>) {
        if !self.current() {
            return;
        }
        registry::each(|cache| {
            if cache.namespace() == namespace {
                match args {
                    Some(args) => cache.forget_local(args),
                    None => cache.flush_local(),
                }
            }
        });
    }
}
