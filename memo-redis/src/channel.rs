//! The broadcast channel that keeps every process's L1 coherent: Redis
//! pub/sub on one channel (`memo:invalidate` by default).
//!
//! `clear`, `invalidate` and `set_cached_value` publish a message after
//! their write; a subscriber thread in every process drops the matching L1
//! entries.
//!
//! L1 is used only while the subscription has recently proved that it
//! delivered everything: Redis answers the commands of one connection in
//! order, so a `PONG` on the subscriber connection for a `PING` sent at `t`
//! proves that every message published before `t` has already arrived (and
//! been applied: replies are read in order too). The thread pings every half
//! of the staleness bound `B`; each answer vouches for L1 until `t + B`
//! ([`Link::vouch`]). A connection that dies silently, a proxy that
//! black-holes it, a Redis that freezes: L1 stops being served within `B` of
//! the last proof, with no assumption about the network. After
//! [`PING_TIMEOUT`] without an answer the thread reconnects; a new
//! subscription flushes L1 before it is used again.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use futures_util::{FutureExt, StreamExt};
use memo_core::coherence::Link;

use crate::target::Target;

/// How long the subscriber blocks reading, at most, before it looks at the
/// clock (to ping, or to notice shutdown).
const POLL: Duration = Duration::from_millis(100);
/// How long a ping may go unanswered before the connection is given up.
pub(crate) const PING_TIMEOUT: Duration = Duration::from_millis(500);
/// Back-off between reconnection attempts, doubling up to the maximum.
const RECONNECT_FIRST: Duration = Duration::from_millis(50);
const RECONNECT_MAX: Duration = Duration::from_secs(1);

/// State shared by the backend and its subscriber thread.
#[derive(Debug)]
pub(crate) struct Subscription {
    pub(crate) channel: String,
    /// How long after a proof of delivery L1 may be used.
    bound: Duration,
    /// This process's id in messages, so it skips its own.
    pub(crate) origin: u64,
    shutdown: AtomicBool,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    link: Option<Link>,
    subscribed: bool,
    /// Until when the latest proof vouches for L1.
    vouched_until: Option<Instant>,
}

impl Subscription {
    pub(crate) fn new(channel: String, bound: Duration) -> Arc<Subscription> {
        Arc::new(Subscription {
            channel,
            bound,
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
        match (state.subscribed, state.vouched_until) {
            (true, Some(until)) => link.vouch(until),
            _ => link.down(),
        }
        state.link = Some(link);
    }

    /// A `PING` sent at `sent` was answered: every message published before
    /// it has been delivered.
    fn delivered_before(&self, sent: Instant) {
        let until = sent + self.bound;
        let mut state = self.state();
        state.vouched_until = Some(until);
        if let Some(link) = &state.link {
            link.vouch(until);
        }
    }

    fn set_subscribed(&self, subscribed: bool) {
        let mut state = self.state();
        if state.subscribed == subscribed {
            return;
        }
        state.subscribed = subscribed;
        // A new subscription vouches for L1 at its first proof, not before.
        state.vouched_until = None;
        if let Some(link) = &state.link {
            link.down();
        }
        if subscribed {
            tracing::info!(target: "memo", channel = %self.channel, "invalidation channel subscribed; L1 in use from its first proof of delivery");
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
/// [`Subscription::stop`].
pub(crate) fn spawn(target: Arc<Target>, shared: Arc<Subscription>) {
    let spawned = thread::Builder::new()
        .name("memo-redis-invalidations".into())
        .spawn(move || subscribe_forever(&target, &shared));
    if let Err(error) = spawned {
        tracing::error!(target: "memo", %error, "could not start the invalidation subscriber; L1 stays bypassed");
    }
}

fn subscribe_forever(target: &Target, shared: &Subscription) {
    // redis-rs's async pub/sub hands messages over in the order they were
    // read and resolves a ping once its `PONG` is read: what a proof needs
    // (see `listen`). One thread, its own runtime, no executor of the
    // application's involved.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            tracing::error!(target: "memo", %error, "could not start the invalidation subscriber's runtime; L1 stays bypassed");
            return;
        }
    };
    let mut backoff = RECONNECT_FIRST;
    let mut attempt = 0usize;
    while !shared.stopped() {
        match target.subscriber_client(attempt) {
            Ok(client) => {
                if runtime.block_on(listen(&client, shared)).is_ok() {
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

/// Subscribes, then delivers messages and proves delivery with pings until
/// the connection fails, a ping goes unanswered for [`PING_TIMEOUT`], or the
/// backend stops. `Ok` when it had subscribed.
///
/// A proof: the messages read before a `PONG` are in the stream by the
/// time the ping resolves, so once they are applied, every message
/// published before the ping was sent has been.
async fn listen(client: &redis::Client, shared: &Subscription) -> Result<(), ()> {
    let pubsub = within(PING_TIMEOUT, client.get_async_pubsub()).await?;
    let (mut sink, mut stream) = pubsub.split();
    within(PING_TIMEOUT, sink.subscribe(&shared.channel)).await?;
    shared.set_subscribed(true);
    // However it ends, it had subscribed.
    let _ = prove_and_deliver(&mut sink, &mut stream, shared).await;
    Ok(())
}

/// The subscribed part of [`listen`]; `Err` when the connection failed or a
/// ping went unanswered.
async fn prove_and_deliver(
    sink: &mut redis::aio::PubSubSink,
    stream: &mut redis::aio::PubSubStream,
    shared: &Subscription,
) -> Result<(), ()> {
    let every = shared.bound / 2;
    let mut pings = 0u64;
    while !shared.stopped() {
        pings += 1;
        let token = format!("memo-{pings}");
        let sent = Instant::now();
        let ping = within(PING_TIMEOUT, sink.ping_message::<redis::Value>(&token));
        let mut ping = std::pin::pin!(ping);
        loop {
            tokio::select! {
                message = stream.next() => shared.deliver(message.ok_or(())?.get_payload_bytes()),
                answered = &mut ping => {
                    answered?;
                    break;
                }
            }
        }
        while let Some(message) = stream.next().now_or_never() {
            shared.deliver(message.ok_or(())?.get_payload_bytes());
        }
        shared.delivered_before(sent);
        // Until the next ping: apply messages as they come, and look at the
        // stop flag every `POLL`.
        let next = tokio::time::Instant::from_std(sent + every);
        while !shared.stopped() && tokio::time::Instant::now() < next {
            let wake = next.min(tokio::time::Instant::now() + POLL);
            if let Ok(message) = tokio::time::timeout_at(wake, stream.next()).await {
                shared.deliver(message.ok_or(())?.get_payload_bytes());
            }
        }
    }
    Ok(())
}

/// `future`'s output, or `Err` when it fails or takes longer than `limit`.
async fn within<T>(
    limit: Duration,
    future: impl std::future::Future<Output = redis::RedisResult<T>>,
) -> Result<T, ()> {
    match tokio::time::timeout(limit, future).await {
        Ok(Ok(value)) => Ok(value),
        _ => Err(()),
    }
}

fn sleep_unless_stopped(shared: &Subscription, duration: Duration) {
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
