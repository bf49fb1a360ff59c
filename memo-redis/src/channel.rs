//! The broadcast channel that keeps every process's L1 coherent: Redis
//! pub/sub on one channel (`memo:invalidate` by default).
//!
//! `clear`, `invalidate` and `set_cached_value` publish a message after
//! their write; a subscriber thread in every process drops the matching L1
//! entries. While the subscription is down (connecting, Redis restarting,
//! the connection silent for longer than [`PING_TIMEOUT`] after a ping),
//! the process reports the channel down and bypasses L1, and when it is back
//! it flushes L1 before using it again. Staleness is thus bounded by message
//! delivery (sub-millisecond on a LAN) while the channel is up, and never
//! unbounded while it is not.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use memo_core::coherence::Link;

use crate::target::Target;

/// How long the subscriber blocks reading before it checks for shutdown.
const POLL: Duration = Duration::from_millis(100);
/// How often a silent subscription is pinged.
const PING_EVERY: Duration = Duration::from_millis(500);
/// How long a ping may take before the channel is declared down.
pub(crate) const PING_TIMEOUT: Duration = Duration::from_millis(500);
/// Back-off between reconnection attempts, doubling up to the maximum.
const RECONNECT_FIRST: Duration = Duration::from_millis(50);
const RECONNECT_MAX: Duration = Duration::from_secs(1);

/// State shared by the backend and its subscriber thread.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) channel: String,
    /// This process's id in messages, so it skips its own.
    pub(crate) origin: u64,
    shutdown: AtomicBool,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    link: Option<Link>,
    subscribed: bool,
}

impl Shared {
    pub(crate) fn new(channel: String) -> Arc<Shared> {
        Arc::new(Shared {
            channel,
            origin: getrandom::u64().unwrap_or_else(|_| u64::from(std::process::id())),
            shutdown: AtomicBool::new(false),
            state: Mutex::default(),
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Keeps `link` and reports the current state through it.
    pub(crate) fn attach(&self, link: Link) {
        let mut state = self.state();
        if state.subscribed {
            link.up();
        } else {
            link.down();
        }
        state.link = Some(link);
    }

    fn set_subscribed(&self, subscribed: bool) {
        let mut state = self.state();
        if state.subscribed == subscribed {
            return;
        }
        state.subscribed = subscribed;
        if let Some(link) = &state.link {
            if subscribed {
                link.up();
            } else {
                link.down();
            }
        }
        if subscribed {
            tracing::info!(target: "memo", channel = %self.channel, "invalidation channel subscribed; L1 in use");
        } else {
            tracing::warn!(target: "memo", channel = %self.channel, "invalidation channel down; L1 bypassed until it is back");
        }
    }

    pub(crate) fn is_subscribed(&self) -> bool {
        self.state().subscribed
    }

    pub(crate) fn stop(&self) {
        self.shutdown.store(true, Ordering::Release);
    }

    fn stopped(&self) -> bool {
        self.shutdown.load(Ordering::Acquire)
    }

    fn deliver(&self, payload: &[u8]) {
        let Some(message) = Message::decode(payload) else {
            tracing::debug!(target: "memo", "ignoring a malformed invalidation message");
            return;
        };
        if message.origin == self.origin {
            return;
        }
        if let Some(link) = &self.state().link {
            link.invalidated(message.namespace, message.args);
        }
    }
}

/// Starts the subscriber thread; it stops within [`POLL`] of
/// [`Shared::stop`].
pub(crate) fn spawn(target: Arc<Target>, shared: Arc<Shared>) {
    let spawned = thread::Builder::new()
        .name("memo-redis-invalidations".into())
        .spawn(move || subscribe_forever(&target, &shared));
    if let Err(error) = spawned {
        tracing::error!(target: "memo", %error, "could not start the invalidation subscriber; L1 stays bypassed");
    }
}

fn subscribe_forever(target: &Target, shared: &Shared) {
    let mut backoff = RECONNECT_FIRST;
    let mut attempt = 0usize;
    while !shared.stopped() {
        match target.subscriber_connection(attempt) {
            Ok(mut connection) => {
                if listen(&mut connection, shared).is_ok() {
                    backoff = RECONNECT_FIRST;
                }
            }
            Err(error) => {
                tracing::debug!(target: "memo", %error, "invalidation subscriber cannot connect");
            }
        }
        shared.set_subscribed(false);
        attempt = attempt.wrapping_add(1);
        sleep_unless_stopped(shared, backoff);
        backoff = (backoff * 2).min(RECONNECT_MAX);
    }
}

/// Subscribes and delivers messages until the connection fails or the
/// backend stops. `Ok` when it had subscribed.
fn listen(connection: &mut redis::Connection, shared: &Shared) -> Result<(), ()> {
    let mut pubsub = connection.as_pubsub();
    pubsub.set_read_timeout(Some(PING_TIMEOUT)).map_err(drop)?;
    pubsub.subscribe(&shared.channel).map_err(drop)?;
    pubsub.set_read_timeout(Some(POLL)).map_err(drop)?;
    shared.set_subscribed(true);
    let mut last_heard = Instant::now();
    while !shared.stopped() {
        match pubsub.get_message() {
            Ok(message) => {
                last_heard = Instant::now();
                shared.deliver(message.get_payload_bytes());
            }
            Err(error) if error.is_timeout() => {
                if last_heard.elapsed() >= PING_EVERY {
                    let _ = pubsub.set_read_timeout(Some(PING_TIMEOUT));
                    if pubsub.ping::<redis::Value>().is_err() {
                        return Ok(());
                    }
                    let _ = pubsub.set_read_timeout(Some(POLL));
                    last_heard = Instant::now();
                }
            }
            Err(_) => return Ok(()),
        }
    }
    Ok(())
}

fn sleep_unless_stopped(shared: &Shared, duration: Duration) {
    let deadline = Instant::now() + duration;
    while !shared.stopped() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        thread::sleep(left.min(POLL));
    }
}

/// One invalidation: which process sent it, which namespace, which entry
/// (`None`: all). Encoded as origin (8 bytes LE), namespace length (4 bytes
/// LE), namespace, then the encoded arguments if any, after a `1` byte.
pub(crate) struct Message<'a> {
    pub(crate) origin: u64,
    pub(crate) namespace: &'a str,
    pub(crate) args: Option<&'a [u8]>,
}

impl<'a> Message<'a> {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let args = self.args.unwrap_or_default();
        let mut out = Vec::with_capacity(14 + self.namespace.len() + args.len());
        out.extend_from_slice(&self.origin.to_le_bytes());
        out.extend_from_slice(
            &u32::try_from(self.namespace.len())
                .unwrap_or(u32::MAX)
                .to_le_bytes(),
        );
        out.extend_from_slice(self.namespace.as_bytes());
        if let Some(args) = self.args {
            out.push(1);
            out.extend_from_slice(args);
        } else {
            out.push(0);
        }
        out
    }

    pub(crate) fn decode(bytes: &'a [u8]) -> Option<Message<'a>> {
        let (origin, rest) = bytes.split_at_checked(8)?;
        let (len, rest) = rest.split_at_checked(4)?;
        let len = usize::try_from(u32::from_le_bytes(len.try_into().ok()?)).ok()?;
        let (namespace, rest) = rest.split_at_checked(len)?;
        let (&flag, args) = rest.split_first()?;
        Some(Message {
            origin: u64::from_le_bytes(origin.try_into().ok()?),
            namespace: std::str::from_utf8(namespace).ok()?,
            args: match flag {
                0 if args.is_empty() => None,
                1 => Some(args),
                _ => return None,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_and_garbage_is_rejected() {
        for args in [None, Some(&b""[..]), Some(&b"\x01\x02"[..])] {
            let bytes = Message {
                origin: 7,
                namespace: "a::b",
                args,
            }
            .encode();
            let back = Message::decode(&bytes).expect("decodes");
            assert_eq!((back.origin, back.namespace, back.args), (7, "a::b", args));
        }
        assert!(Message::decode(b"short").is_none());
        assert!(Message::decode(&[0; 12]).is_none());
    }
}
