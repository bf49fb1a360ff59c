//! The Redis tier of memo: `#[quickcache]` results shared by every process
//! and machine, with a coherent L1, on standalone Redis, Sentinel or Cluster.
//!
//! ```no_run
//! let backend = memo_redis::RedisBackend::connect("redis://127.0.0.1:6379/0")?;
//! memo_core::set_backend(backend);
//! # Ok::<(), memo_core::Error>(())
//! ```
//!
//! # What it does per call
//!
//! - **Hit** (L1 miss, Redis hit): one `GET` of the entry while the
//!   process knows the function's current generation (learned from an
//!   earlier read, forgotten on every invalidation message); otherwise one
//!   round trip, a pipeline of `GET` of the generation token and `GET` of the
//!   entry. Async hits beyond four on the wire at once queue and go out
//!   together, one `MGET` per batch (see `batch_reads` on the builder).
//! - **Miss**: that round trip, the computation, then `SET key value PX ttl`
//!   (one command, TTL included).
//! - With `lock = true`, a miss takes `SET lock token NX PX lock_ttl` and
//!   re-reads the entry once; the lock is released after the value is stored
//!   with an `EVAL` compare-and-delete. Waiting processes poll the entry.
//! - `clear`: `DEL`, then `PUBLISH` to the invalidation channel.
//!   `invalidate()`: `SET` of a new random generation (O(1)), then `PUBLISH`.
//!   `set_cached_value`: `SET`, then `PUBLISH`.
//!
//! Sync calls use blocking connections from a bounded pool (`pool_size`, 16
//! by default; no new connection per call, no health-check round trip per
//! checkout; callers beyond the bound wait for a connection), never an async
//! runtime, so they work inside tokio too. Async calls pipeline on one
//! multiplexed connection, and batch their reads under load.
//!
//! # Failures
//!
//! Command and connect timeouts (200 ms and 500 ms by default) bound every
//! command. After 3 consecutive failures a circuit breaker opens: calls skip
//! Redis (costing an atomic load) for 250 ms, doubling up to 4 s, then one
//! probe tries again; a success closes it, so caching resumes within about
//! 4 s of Redis coming back. The decorated functions compute and return
//! meanwhile; failures are counted and logged at most once per 10 s.
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod batch;
mod blocking;
mod breaker;
mod channel;
mod commands;
mod future;
mod housekeeping;
mod pool;
mod target;

pub use housekeeping::{StatsReport, FUNCTIONS_KEY, STATS_PREFIX};

use std::sync::Arc;
use std::time::Duration;

use memo_core::Error;

use breaker::Breaker;
use channel::Subscription;
use pool::Pool;
use target::{Target, Timeouts};

const NAME: &str = "redis";

/// The shared tier on Redis. Cheap to clone (clones share the pool).
///
/// # Examples
///
/// ```no_run
/// use std::time::Duration;
///
/// let backend = memo_redis::RedisBackend::builder("redis://:secret@cache.internal:6379/2")
///     .command_timeout(Duration::from_millis(100))
///     .build()?;
/// memo_core::set_backend(backend);
/// # Ok::<(), memo_core::Error>(())
/// ```
#[derive(Clone)]
pub struct RedisBackend {
    inner: Arc<Inner>,
}

struct Inner {
    target: Arc<Target>,
    timeouts: Timeouts,
    pool: Pool,
    pool_size: usize,
    breaker: Breaker,
    shared: Arc<Subscription>,
    async_slot: future::AsyncSlot,
    /// Put before every key (`{prefix}:memo:v:...`); empty: none.
    key_prefix: String,
    /// Batches concurrent async reads (`None`: off, or a cluster).
    batcher: Option<batch::Batcher>,
    /// Writes descriptions and stats for operator tools.
    housekeeper: housekeeping::Housekeeper,
}

/// Configures a [`RedisBackend`]; every setting has a default.
///
/// # Examples
///
/// ```no_run
/// let backend = memo_redis::RedisBackend::cluster(&["redis://10.0.0.1:7000", "redis://10.0.0.2:7000"])
///     .pool_size(32)
///     .build()?;
/// # Ok::<(), memo_core::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct RedisBackendBuilder {
    kind: Kind,
    connect_timeout: Duration,
    command_timeout: Duration,
    pool_size: usize,
    channel: String,
    key_prefix: String,
    batch_reads: bool,
    staleness_bound: Duration,
    stats_interval: Duration,
    certificates: target::Certificates,
}

#[derive(Debug, Clone)]
enum Kind {
    Single(String),
    /// A server through the application's own client.
    Client(redis::Client),
    #[cfg(feature = "sentinel")]
    Sentinel {
        service: String,
        sentinels: Vec<String>,
    },
    #[cfg(feature = "cluster")]
    Cluster(Vec<String>),
}

impl Kind {
    fn is_cluster(&self) -> bool {
        #[cfg(feature = "cluster")]
        if let Kind::Cluster(_) = self {
            return true;
        }
        false
    }
}

impl RedisBackend {
    /// Default command timeout: 200 ms.
    pub const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_millis(200);
    /// Default connect timeout: 500 ms.
    pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_millis(500);
    /// Default number of idle connections kept: 16.
    pub const DEFAULT_POOL_SIZE: usize = 16;
    /// Default interval between this process's stats reports: 10 s.
    pub const DEFAULT_STATS_INTERVAL: Duration = Duration::from_secs(10);
    /// Default invalidation channel.
    pub const DEFAULT_CHANNEL: &'static str = "memo:invalidate";
    /// Default staleness bound of L1: 100 ms.
    pub const DEFAULT_STALENESS_BOUND: Duration = Duration::from_millis(100);
    /// Shortest staleness bound: 20 ms (two ticks of the time hits read).
    pub const MIN_STALENESS_BOUND: Duration = Duration::from_millis(20);

    /// A backend for one Redis server, with the default settings.
    ///
    /// URLs as users write them: `redis://host:port/db`,
    /// `redis://:password@host/db`, `redis://user:password@host/db`,
    /// `rediss://host/db` (TLS, with the `tls` feature),
    /// `unix:///path/to/redis.sock?db=N`.
    ///
    /// Connections are made on first use, so a Redis that is down at start-up
    /// does not stop the program (calls compute until it is up); use
    /// [`RedisBackend::ping`] to check it.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when the URL is not a valid Redis URL.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(memo_redis::RedisBackend::connect("not a url").is_err());
    /// ```
    pub fn connect(url: &str) -> Result<RedisBackend, Error> {
        Self::builder(url).build()
    }

    /// A backend configured from the environment, as services are
    /// (twelve-factor): see [`RedisBackend::builder_from_env`] for the
    /// variables read.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when no URL is set, a setting does not parse, or
    /// the URL is not a valid Redis URL.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// // MEMO_REDIS_URL=redis://cache.internal:6379/0 MEMO_KEY_PREFIX=billing ./service
    /// memo_core::set_backend(memo_redis::RedisBackend::from_env()?);
    /// # Ok::<(), memo_core::Error>(())
    /// ```
    pub fn from_env() -> Result<RedisBackend, Error> {
        Self::builder_from_env()?.build()
    }

    /// A builder from the environment, to adjust before `build()`:
    ///
    /// - the server: `MEMO_REDIS_URL`, else `REDIS_URL`; or a cluster,
    ///   `MEMO_REDIS_CLUSTER` (node URLs, comma-separated), which wins;
    /// - `MEMO_KEY_PREFIX`: [`RedisBackendBuilder::key_prefix`];
    /// - `MEMO_CONNECT_TIMEOUT_MS`, `MEMO_COMMAND_TIMEOUT_MS` and
    ///   `MEMO_STALENESS_BOUND_MS`, in milliseconds: the builder methods of
    ///   those names.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when neither a URL nor a cluster is set, or a
    /// setting does not parse.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// let backend = memo_redis::RedisBackend::builder_from_env()?
    ///     .command_timeout(std::time::Duration::from_millis(200))
    ///     .build()?;
    /// # Ok::<(), memo_core::Error>(())
    /// ```
    pub fn builder_from_env() -> Result<RedisBackendBuilder, Error> {
        builder_from(|name| std::env::var(name).ok().filter(|value| !value.is_empty()))
    }

    /// A builder over a `redis::Client` the application has already made,
    /// so a service that talks to Redis itself configures it once: the
    /// server, database, credentials and TLS are the client's; memo's
    /// settings (timeouts, pool, key prefix, channel, ...) apply on top.
    /// Custom certificates given to the builder are refused at `build()`:
    /// the client has its own.
    ///
    /// # Examples
    ///
    /// ```
    /// let client = redis::Client::open("redis://127.0.0.1:6379/0")?;
    /// let builder = memo_redis::RedisBackend::from_client(client).key_prefix("billing");
    /// # Ok::<(), redis::RedisError>(())
    /// ```
    pub fn from_client(client: redis::Client) -> RedisBackendBuilder {
        RedisBackendBuilder::new(Kind::Client(client))
    }

    /// A builder for one Redis server.
    ///
    /// # Examples
    ///
    /// ```
    /// let builder = memo_redis::RedisBackend::builder("redis://127.0.0.1:6379/0");
    /// ```
    pub fn builder(url: &str) -> RedisBackendBuilder {
        RedisBackendBuilder::new(Kind::Single(url.to_owned()))
    }

    /// A builder for the master of `service`, found through Redis Sentinel
    /// at `sentinels` (`redis://host:26379` URLs). After a failover,
    /// broken connections are dropped and the next ones go to the new
    /// master.
    ///
    /// # Examples
    ///
    /// ```
    /// let builder = memo_redis::RedisBackend::sentinel("mymaster", &["redis://10.0.0.1:26379"]);
    /// ```
    #[cfg(feature = "sentinel")]
    #[cfg_attr(docsrs, doc(cfg(feature = "sentinel")))]
    pub fn sentinel(service: &str, sentinels: &[&str]) -> RedisBackendBuilder {
        RedisBackendBuilder::new(Kind::Sentinel {
            service: service.to_owned(),
            sentinels: sentinels.iter().map(|s| (*s).to_owned()).collect(),
        })
    }

    /// A builder for a Redis Cluster, given some of its nodes.
    ///
    /// Entry keys carry no hash tag, so one function's entries spread over
    /// every node; the generation token of a function is one key, on one
    /// node, read in the same pipeline as the entry.
    ///
    /// # Examples
    ///
    /// ```
    /// let builder = memo_redis::RedisBackend::cluster(&["redis://10.0.0.1:7000"]);
    /// ```
    #[cfg(feature = "cluster")]
    #[cfg_attr(docsrs, doc(cfg(feature = "cluster")))]
    pub fn cluster(nodes: &[&str]) -> RedisBackendBuilder {
        RedisBackendBuilder::new(Kind::Cluster(
            nodes.iter().map(|n| (*n).to_owned()).collect(),
        ))
    }

    /// Sends `PING`, bypassing the circuit breaker.
    ///
    /// # Errors
    ///
    /// When Redis cannot be reached or does not answer in time.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// let backend = memo_redis::RedisBackend::connect("redis://127.0.0.1/")?;
    /// backend.ping()?;
    /// # Ok::<(), memo_core::Error>(())
    /// ```
    pub fn ping(&self) -> Result<(), Error> {
        let inner = &self.inner;
        let lease = inner.pool.lease(inner.timeouts.command);
        // A new connection, so the answer is about Redis now; it takes the
        // place of the idle one the lease may hold.
        let mut conn = inner.target.connect(inner.timeouts).map_err(redis_error)?;
        conn.command::<String>(&redis::cmd("PING"))
            .map_err(redis_error)?;
        lease.give_back(conn);
        Ok(())
    }

    /// Whether the invalidation channel is subscribed. L1 is in use from the
    /// subscription's first proof of delivery (see
    /// [`staleness_bound`](RedisBackendBuilder::staleness_bound)), a ping
    /// later.
    ///
    /// # Examples
    ///
    /// ```
    /// // Nothing listens on port 1: the subscriber keeps trying, L1 unused.
    /// let backend = memo_redis::RedisBackend::connect("redis://127.0.0.1:1/")?;
    /// assert!(!backend.is_subscribed());
    /// # Ok::<(), memo_core::Error>(())
    /// ```
    pub fn is_subscribed(&self) -> bool {
        self.inner.shared.is_subscribed()
    }

    /// Whether the circuit breaker is open (commands are skipped).
    ///
    /// # Examples
    ///
    /// ```
    /// let backend = memo_redis::RedisBackend::connect("redis://127.0.0.1:1/").unwrap();
    /// assert!(!backend.is_circuit_open());
    /// ```
    pub fn is_circuit_open(&self) -> bool {
        self.inner.breaker.is_open()
    }
}

impl std::fmt::Debug for RedisBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisBackend")
            .field("target", &self.inner.target.kind())
            .field("timeouts", &self.inner.timeouts)
            .field("pool_size", &self.inner.pool_size)
            .field("channel", &self.inner.shared.channel)
            .finish_non_exhaustive()
    }
}

impl RedisBackendBuilder {
    fn new(kind: Kind) -> Self {
        RedisBackendBuilder {
            kind,
            connect_timeout: RedisBackend::DEFAULT_CONNECT_TIMEOUT,
            command_timeout: RedisBackend::DEFAULT_COMMAND_TIMEOUT,
            pool_size: RedisBackend::DEFAULT_POOL_SIZE,
            channel: RedisBackend::DEFAULT_CHANNEL.to_owned(),
            key_prefix: String::new(),
            batch_reads: true,
            staleness_bound: RedisBackend::DEFAULT_STALENESS_BOUND,
            stats_interval: RedisBackend::DEFAULT_STATS_INTERVAL,
            certificates: None,
        }
    }

    /// How long to wait for a connection (default 500 ms).
    ///
    /// # Examples
    ///
    /// ```
    /// let b = memo_redis::RedisBackend::builder("redis://127.0.0.1/")
    ///     .connect_timeout(std::time::Duration::from_secs(1));
    /// ```
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// How long to wait for a reply (default 200 ms). A slower reply counts
    /// as a failure: the call computes instead.
    ///
    /// # Examples
    ///
    /// ```
    /// let b = memo_redis::RedisBackend::builder("redis://127.0.0.1/")
    ///     .command_timeout(std::time::Duration::from_millis(50));
    /// ```
    pub fn command_timeout(mut self, timeout: Duration) -> Self {
        self.command_timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// How many connections sync calls may hold open (default 16). A caller
    /// that finds them all busy waits for one (up to the command timeout),
    /// then uses a one-off connection rather than fail. Async calls share
    /// one multiplexed connection whatever this is.
    ///
    /// # Examples
    ///
    /// ```
    /// let b = memo_redis::RedisBackend::builder("redis://127.0.0.1/").pool_size(4);
    /// ```
    pub fn pool_size(mut self, size: usize) -> Self {
        self.pool_size = size.max(1);
        self
    }

    /// The pub/sub channel for invalidations (default `memo:invalidate`).
    /// Processes must share it to share invalidations; give unrelated
    /// applications on one Redis different channels.
    ///
    /// # Examples
    ///
    /// ```
    /// let b = memo_redis::RedisBackend::builder("redis://127.0.0.1/").channel("billing:memo");
    /// ```
    pub fn channel(mut self, channel: &str) -> Self {
        channel.clone_into(&mut self.channel);
        self
    }

    /// Puts `prefix` and a `:` before every key this backend reads or
    /// writes (`billing:memo:v:...`), as Django's cache `KEY_PREFIX` does:
    /// applications sharing one Redis database keep apart, and changing the
    /// prefix at a deploy starts every function on an empty cache. Unless a
    /// [`channel`](Self::channel) is set, invalidations go on
    /// `{prefix}:memo:invalidate`, so they stay apart too. Costs one small
    /// allocation per command (the prefixed key). Default: none.
    ///
    /// # Examples
    ///
    /// ```
    /// let b = memo_redis::RedisBackend::builder("redis://127.0.0.1/").key_prefix("billing");
    /// ```
    pub fn key_prefix(mut self, prefix: &str) -> Self {
        self.key_prefix = if prefix.is_empty() {
            String::new()
        } else {
            format!("{prefix}:")
        };
        self
    }

    /// How often this process publishes its stats (`memo_core::stats`)
    /// for the `memo stats` command (default 10 s; zero: never). Each report
    /// is one `SET` of a JSON document under `memo:s:{process}`, expiring
    /// after three intervals, so a stopped process drops out. What it costs:
    /// one command per interval per process, on a background thread.
    ///
    /// # Examples
    ///
    /// ```
    /// let b = memo_redis::RedisBackend::builder("redis://127.0.0.1/")
    ///     .stats_interval(std::time::Duration::from_secs(30));
    /// ```
    pub fn stats_interval(mut self, interval: Duration) -> Self {
        self.stats_interval = interval;
        self
    }

    /// Whether async reads that find the connection busy are batched into
    /// one `MGET` (default: on). Up to four async reads go out at once as
    /// plain `GET`s; reads beyond that queue, and one task sends each queue
    /// as one `MGET` as soon as it can, so under load Redis answers one
    /// command per batch instead of one per read (with 64 concurrent tasks,
    /// throughput beyond a raw multiplexed connection's: see
    /// `benches/RESULTS.md`). What it costs: a queued read waits for the
    /// `MGET` already on the wire before its own goes out, so under load one
    /// read can take up to two round trips instead of one. Sync calls and
    /// cluster connections never batch.
    ///
    /// # Examples
    ///
    /// ```
    /// let b = memo_redis::RedisBackend::builder("redis://127.0.0.1/").batch_reads(false);
    /// ```
    pub fn batch_reads(mut self, on: bool) -> Self {
        self.batch_reads = on;
        self
    }

    /// How stale L1 may be, at most, after another process's `clear`,
    /// `invalidate`, `set_cached_value` or `refresh` returns (default
    /// 100 ms; at least [`RedisBackend::MIN_STALENESS_BOUND`]), whatever
    /// the network does. The subscriber pings Redis every half of it on the
    /// invalidation connection; a `PONG` for a ping sent at `t` proves
    /// every invalidation published before `t` has arrived, and L1 is
    /// served only until `t` plus the bound. What it costs: `2 / bound`
    /// pings a second per process (20 at the default; a thousand processes
    /// send Redis 20 000 `PING`s a second, a small share of what one Redis
    /// serves), and L1 pauses (calls go to Redis) whenever a ping's answer
    /// takes longer than half the bound. The bound also grows by the
    /// scheduling delay, if any, of the `memo-clock` thread beyond its
    /// 10 ms tick.
    ///
    /// # Examples
    ///
    /// ```
    /// let b = memo_redis::RedisBackend::builder("redis://127.0.0.1/")
    ///     .staleness_bound(std::time::Duration::from_millis(250));
    /// ```
    pub fn staleness_bound(mut self, bound: Duration) -> Self {
        self.staleness_bound = bound.max(RedisBackend::MIN_STALENESS_BOUND);
        self
    }

    /// Trusts the certificate authorities in `pem` (one or more PEM
    /// certificates) for `rediss://` connections, instead of the system's
    /// root certificates: for servers whose certificates a private CA signs.
    /// A single server or a cluster; Sentinel setups use the system's roots
    /// ([`build`](Self::build) says so if this is set).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// let ca = std::fs::read("/etc/redis/tls/ca.crt").unwrap();
    /// let backend = memo_redis::RedisBackend::builder("rediss://redis.internal:6380/0")
    ///     .tls_root_certificates(&ca)
    ///     .build()
    ///     .unwrap();
    /// ```
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    pub fn tls_root_certificates(mut self, pem: &[u8]) -> Self {
        self.tls().root_cert = Some(pem.to_vec());
        self
    }

    /// Presents this client certificate and key (PEM) on `rediss://`
    /// connections, for servers that verify clients (`tls-auth-clients
    /// yes`). A single server or a cluster, as for
    /// [`tls_root_certificates`](Self::tls_root_certificates).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// let read = |path| std::fs::read(path).unwrap();
    /// let backend = memo_redis::RedisBackend::builder("rediss://redis.internal:6380/0")
    ///     .tls_root_certificates(&read("/etc/redis/tls/ca.crt"))
    ///     .tls_client_identity(&read("/etc/app/tls/client.crt"), &read("/etc/app/tls/client.key"))
    ///     .build()
    ///     .unwrap();
    /// ```
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    pub fn tls_client_identity(mut self, cert_pem: &[u8], key_pem: &[u8]) -> Self {
        self.tls().client_tls = Some(redis::ClientTlsConfig {
            client_cert: cert_pem.to_vec(),
            client_key: key_pem.to_vec(),
        });
        self
    }

    /// Installs rustls's ring provider as the process's default crypto
    /// provider, unless one is installed already. rustls needs one provider
    /// per process for every TLS connection, memo's and the application's
    /// alike, so memo never picks one silently: call this, or install your
    /// own (`rustls::crypto::aws_lc_rs::default_provider().install_default()`)
    /// before [`build`](Self::build), which otherwise refuses `rediss://`
    /// with an error that says so.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// let backend = memo_redis::RedisBackend::builder("rediss://redis.internal:6380/0")
    ///     .install_ring_provider()
    ///     .build()
    ///     .unwrap();
    /// ```
    #[cfg(feature = "tls-ring")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls-ring")))]
    pub fn install_ring_provider(self) -> Self {
        // An error means a provider is installed already: the application's
        // choice stands.
        let _ = rustls::crypto::ring::default_provider().install_default();
        self
    }

    /// Whether connections will use TLS: a `rediss://` URL, a client set
    /// up for TLS, or custom certificates.
    #[cfg(feature = "tls")]
    fn uses_tls(&self) -> bool {
        let tls = |url: &String| url.starts_with("rediss:");
        self.certificates.is_some()
            || match &self.kind {
                Kind::Single(url) => tls(url),
                Kind::Client(client) => matches!(
                    client.get_connection_info().addr(),
                    redis::ConnectionAddr::TcpTls { .. }
                ),
                #[cfg(feature = "sentinel")]
                Kind::Sentinel { sentinels, .. } => sentinels.iter().any(tls),
                #[cfg(feature = "cluster")]
                Kind::Cluster(nodes) => nodes.iter().any(tls),
            }
    }

    /// The custom TLS settings, made empty on first use.
    #[cfg(feature = "tls")]
    fn tls(&mut self) -> &mut redis::TlsCertificates {
        self.certificates.get_or_insert(redis::TlsCertificates {
            client_tls: None,
            root_cert: None,
        })
    }

    /// Builds the backend and starts its invalidation subscriber thread.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when a URL is invalid (or `rediss://` without the
    /// `tls` feature).
    ///
    /// [`Error::Config`] too for TLS (`rediss://`) when no rustls crypto
    /// provider is installed for the process (see
    /// `install_ring_provider`, feature `tls-ring`).
    ///
    /// # Examples
    ///
    /// ```
    /// let backend = memo_redis::RedisBackend::builder("redis://127.0.0.1:6379/0").build().unwrap();
    /// ```
    pub fn build(self) -> Result<RedisBackend, Error> {
        // rustls wants one process-wide crypto provider, and choosing it is
        // the application's call: without one, say how to install one
        // rather than fail (or install one) at the first connection.
        #[cfg(feature = "tls")]
        if self.uses_tls() && rustls::crypto::CryptoProvider::get_default().is_none() {
            return Err(Error::Config(
                "TLS needs a rustls crypto provider for the process: install one at start-up \
                 (`rustls::crypto::ring::default_provider().install_default()`, or aws-lc-rs's), \
                 or enable memo-redis's `tls-ring` feature and call `install_ring_provider()` on the builder"
                    .into(),
            ));
        }
        let timeouts = Timeouts {
            connect: self.connect_timeout,
            command: self.command_timeout,
        };
        let config = |e: redis::RedisError| Error::Config(e.to_string());
        let target = match &self.kind {
            Kind::Single(url) => Target::single(url, &self.certificates).map_err(config)?,
            Kind::Client(_) if self.certificates.is_some() => {
                return Err(Error::Config(
                    "custom TLS certificates apply to a URL; a client given to `from_client` has its own TLS settings"
                        .into(),
                ));
            }
            Kind::Client(client) => Target::Single(client.clone()),
            #[cfg(feature = "sentinel")]
            Kind::Sentinel { .. } if self.certificates.is_some() => {
                return Err(Error::Config(
                    "custom TLS certificates are supported for a single server and a cluster; \
                     Sentinel setups use the system's root certificates"
                        .into(),
                ));
            }
            #[cfg(feature = "sentinel")]
            Kind::Sentinel { service, sentinels } => {
                let sentinels: Vec<&str> = sentinels.iter().map(String::as_str).collect();
                Target::sentinel(service, &sentinels).map_err(config)?
            }
            #[cfg(feature = "cluster")]
            Kind::Cluster(nodes) => {
                if nodes.is_empty() {
                    return Err(Error::Config("a cluster needs at least one node".into()));
                }
                let nodes: Vec<&str> = nodes.iter().map(String::as_str).collect();
                Target::cluster(&nodes, timeouts, &self.certificates).map_err(config)?
            }
        };
        let target = Arc::new(target);
        // A prefix keeps applications apart: their invalidations too, unless
        // a channel was chosen.
        let channel =
            if !self.key_prefix.is_empty() && self.channel == RedisBackend::DEFAULT_CHANNEL {
                format!("{}{}", self.key_prefix, RedisBackend::DEFAULT_CHANNEL)
            } else {
                self.channel
            };
        let shared = Subscription::new(channel, self.staleness_bound);
        channel::spawn(Arc::clone(&target), Arc::clone(&shared));
        let (housekeeper, descriptions) = housekeeping::queue();
        let backend = RedisBackend {
            inner: Arc::new(Inner {
                target,
                timeouts,
                pool: Pool::new(self.pool_size),
                pool_size: self.pool_size,
                breaker: Breaker::default(),
                shared,
                async_slot: future::AsyncSlot::default(),
                key_prefix: self.key_prefix,
                batcher: (self.batch_reads && !self.kind.is_cluster())
                    .then(batch::Batcher::default),
                housekeeper,
            }),
        };
        housekeeping::start(
            Arc::downgrade(&backend.inner),
            descriptions,
            self.stats_interval,
        );
        Ok(backend)
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.shared.stop();
    }
}

impl Inner {
    /// `key` as stored: after the key prefix, if any.
    fn key<'k>(&self, key: &'k str) -> std::borrow::Cow<'k, str> {
        if self.key_prefix.is_empty() {
            std::borrow::Cow::Borrowed(key)
        } else {
            std::borrow::Cow::Owned([self.key_prefix.as_str(), key].concat())
        }
    }
}

/// Whether the error means the connection or server is unusable, as opposed
/// to an error reply from a working server.
fn broken(error: &redis::RedisError) -> bool {
    error.is_io_error()
        || error.is_timeout()
        || error.is_connection_dropped()
        || error.is_connection_refusal()
        || error.is_unrecoverable_error()
        || error.is_cluster_error()
}

fn redis_error(error: redis::RedisError) -> Error {
    Error::backend_source(NAME, error)
}

/// [`RedisBackend::builder_from_env`], reading variables through `var`.
fn builder_from(var: impl Fn(&str) -> Option<String>) -> Result<RedisBackendBuilder, Error> {
    let mut builder = match (var("MEMO_REDIS_CLUSTER"), var("MEMO_REDIS_URL").or_else(|| var("REDIS_URL"))) {
        #[cfg(feature = "cluster")]
        (Some(nodes), _) => {
            let nodes: Vec<&str> = nodes.split(',').map(str::trim).filter(|n| !n.is_empty()).collect();
            RedisBackend::cluster(&nodes)
        }
        #[cfg(not(feature = "cluster"))]
        (Some(_), _) => {
            return Err(Error::Config(
                "MEMO_REDIS_CLUSTER is set, but memo-redis was built without its `cluster` feature".into(),
            ))
        }
        (None, Some(url)) => RedisBackend::builder(&url),
        (None, None) => {
            return Err(Error::Config(
                "no Redis to connect to: set MEMO_REDIS_URL (or REDIS_URL) to a redis:// URL, or MEMO_REDIS_CLUSTER to node URLs".into(),
            ))
        }
    };
    if let Some(prefix) = var("MEMO_KEY_PREFIX") {
        builder = builder.key_prefix(&prefix);
    }
    let millis = |name: &str| -> Result<Option<Duration>, Error> {
        var(name)
            .map(|value| {
                value
                    .trim()
                    .parse::<u64>()
                    .map(Duration::from_millis)
                    .map_err(|_| {
                        Error::Config(format!(
                            "{name} must be a whole number of milliseconds, not {value:?}"
                        ))
                    })
            })
            .transpose()
    };
    if let Some(timeout) = millis("MEMO_CONNECT_TIMEOUT_MS")? {
        builder = builder.connect_timeout(timeout);
    }
    if let Some(timeout) = millis("MEMO_COMMAND_TIMEOUT_MS")? {
        builder = builder.command_timeout(timeout);
    }
    if let Some(bound) = millis("MEMO_STALENESS_BOUND_MS")? {
        builder = builder.staleness_bound(bound);
    }
    if let Some(interval) = millis("MEMO_STATS_INTERVAL_MS")? {
        builder = builder.stats_interval(interval);
    }
    Ok(builder)
}

#[cfg(test)]
mod env_tests {
    use super::*;

    fn from(vars: &[(&str, &str)]) -> Result<RedisBackendBuilder, Error> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        builder_from(|name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
    }

    #[test]
    fn the_environment_names_the_server_and_its_settings() {
        let missing = from(&[]).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(missing.contains("MEMO_REDIS_URL"), "{missing}");
        let built = from(&[
            ("REDIS_URL", "redis://127.0.0.1:1/"),
            ("MEMO_KEY_PREFIX", "billing"),
            ("MEMO_COMMAND_TIMEOUT_MS", "250"),
        ])
        .unwrap()
        .build()
        .unwrap();
        assert_eq!(
            memo_core::Backend::key_as_stored(&built, "memo:v:f:x"),
            "billing:memo:v:f:x"
        );
        let bad = from(&[
            ("MEMO_REDIS_URL", "redis://127.0.0.1:1/"),
            ("MEMO_CONNECT_TIMEOUT_MS", "soon"),
        ]);
        let bad = bad.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(
            bad.contains("MEMO_CONNECT_TIMEOUT_MS") && bad.contains("soon"),
            "{bad}"
        );
        assert!(from(&[("MEMO_REDIS_URL", "not a url")])
            .unwrap()
            .build()
            .is_err());
        let reporting = from(&[
            ("MEMO_REDIS_URL", "redis://127.0.0.1:1/"),
            ("MEMO_STATS_INTERVAL_MS", "2500"),
        ])
        .unwrap();
        assert_eq!(reporting.stats_interval, Duration::from_millis(2500));
        let cluster = from(&[(
            "MEMO_REDIS_CLUSTER",
            "redis://127.0.0.1:1, redis://127.0.0.1:2",
        )]);
        #[cfg(feature = "cluster")]
        assert!(cluster.is_ok());
        #[cfg(not(feature = "cluster"))]
        assert!(cluster
            .err()
            .is_some_and(|e| e.to_string().contains("`cluster` feature")));
    }
}
