//! What the backend connects to (one server, a Sentinel-managed master, or a
//! Cluster) and the connections it holds.

#[cfg(feature = "sentinel")]
use std::sync::Mutex;
use std::time::Duration;

#[cfg(feature = "cluster")]
use redis::cluster::{ClusterClient, ClusterConnection};
#[cfg(feature = "sentinel")]
use redis::sentinel::{SentinelClient, SentinelServerType};
use redis::{Client, Connection, ConnectionLike, RedisResult};

// One per backend, made once: the variants' sizes do not matter (and which
// is largest depends on the features).
#[allow(clippy::large_enum_variant)]
pub(crate) enum Target {
    Single(Client),
    #[cfg(feature = "sentinel")]
    Sentinel(Mutex<SentinelClient>),
    #[cfg(feature = "cluster")]
    Cluster {
        client: ClusterClient,
        /// The seed nodes, for the subscriber's plain connection (pub/sub
        /// messages reach every node of a cluster).
        nodes: Vec<Client>,
    },
}

/// A connection of any kind of target.
pub(crate) enum Conn {
    Single(Connection),
    #[cfg(feature = "cluster")]
    Cluster(Box<ClusterConnection>),
}

/// Custom TLS trust and identity (the `tls` feature): `None` uses the
/// system's root certificates and no client certificate.
#[cfg(feature = "tls")]
pub(crate) type Certificates = Option<redis::TlsCertificates>;
/// Without the `tls` feature there are none to give.
#[cfg(not(feature = "tls"))]
pub(crate) type Certificates = Option<std::convert::Infallible>;

/// A client for `url`, trusting `certificates` when given.
fn client(url: &str, certificates: &Certificates) -> RedisResult<Client> {
    match certificates {
        #[cfg(feature = "tls")]
        Some(certificates) => Client::build_with_tls(url, certificates.clone()),
        #[cfg(not(feature = "tls"))]
        Some(never) => match *never {},
        None => Client::open(url),
    }
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct Timeouts {
    pub(crate) connect: Duration,
    pub(crate) command: Duration,
}

impl Target {
    pub(crate) fn single(url: &str, certificates: &Certificates) -> RedisResult<Target> {
        Ok(Target::Single(client(url, certificates)?))
    }

    // redis-rs takes the service as a `String` without TLS and as
    // `impl AsRef<str>` with it: an owned string suits both.
    #[allow(clippy::unnecessary_to_owned)]
    #[cfg(feature = "sentinel")]
    pub(crate) fn sentinel(service: &str, sentinels: &[&str]) -> RedisResult<Target> {
        let client = SentinelClient::build(
            sentinels.to_vec(),
            service.to_owned(),
            None,
            SentinelServerType::Master,
        )?;
        Ok(Target::Sentinel(Mutex::new(client)))
    }

    #[cfg(feature = "cluster")]
    pub(crate) fn cluster(
        nodes: &[&str],
        timeouts: Timeouts,
        certificates: &Certificates,
    ) -> RedisResult<Target> {
        let builder = ClusterClient::builder(nodes.to_vec())
            .connection_timeout(timeouts.connect)
            .response_timeout(timeouts.command);
        #[cfg(feature = "tls")]
        let builder = match certificates {
            Some(certificates) => builder.certs(certificates.clone()),
            None => builder,
        };
        let client = builder.build()?;
        let nodes = nodes
            .iter()
            .map(|n| self::client(n, certificates))
            .collect::<RedisResult<_>>()?;
        Ok(Target::Cluster { client, nodes })
    }

    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Target::Single(_) => "standalone",
            #[cfg(feature = "sentinel")]
            Target::Sentinel(_) => "sentinel",
            #[cfg(feature = "cluster")]
            Target::Cluster { .. } => "cluster",
        }
    }

    /// A client for the current master, found through the sentinels.
    #[cfg(feature = "sentinel")]
    pub(crate) fn master_client(&self) -> RedisResult<Client> {
        match self {
            #[cfg(feature = "sentinel")]
            Target::Sentinel(sentinel) => sentinel
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get_client(),
            Target::Single(client) => Ok(client.clone()),
            #[cfg(feature = "cluster")]
            Target::Cluster { nodes, .. } => Ok(nodes[0].clone()),
        }
    }

    /// A new connection for commands, with the timeouts applied.
    pub(crate) fn connect(&self, timeouts: Timeouts) -> RedisResult<Conn> {
        match self {
            Target::Single(client) => plain(client, timeouts).map(Conn::Single),
            #[cfg(feature = "sentinel")]
            Target::Sentinel(sentinel) => {
                let client = sentinel
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .get_client()?;
                plain(&client, timeouts).map(Conn::Single)
            }
            #[cfg(feature = "cluster")]
            Target::Cluster { client, .. } => {
                client.get_connection().map(|c| Conn::Cluster(Box::new(c)))
            }
        }
    }

    /// The client of the server to subscribe on; `attempt` rotates through
    /// a cluster's seed nodes (pub/sub messages reach every node).
    #[cfg_attr(not(feature = "cluster"), allow(unused_variables))]
    pub(crate) fn subscriber_client(&self, attempt: usize) -> RedisResult<Client> {
        match self {
            Target::Single(client) => Ok(client.clone()),
            #[cfg(feature = "sentinel")]
            Target::Sentinel(sentinel) => sentinel
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get_client(),
            #[cfg(feature = "cluster")]
            Target::Cluster { nodes, .. } => Ok(nodes[attempt % nodes.len()].clone()),
        }
    }
}

/// A connection to `client` with the command timeout on its socket, opened
/// within `timeouts.connect` in all: TCP connect, TLS, and the set-up
/// pipeline's replies (`CLIENT SETINFO`, `AUTH`, `SELECT`).
///
/// redis-rs applies its connect timeout to the TCP connect and then to
/// each read of the set-up, so a server that accepts and then stalls (a
/// frozen process, a black hole) held a caller well past the timeout. The
/// set-up runs on a helper thread instead, and the caller stops waiting at
/// the deadline; the thread ends within redis-rs's own timeouts and drops
/// what it opened. A thread per connection opened, not per call: the pool
/// keeps them.
fn plain(client: &Client, timeouts: Timeouts) -> RedisResult<Connection> {
    let (opened, arrival) = std::sync::mpsc::sync_channel(1);
    let opening = client.clone();
    std::thread::Builder::new()
        .name("memo-redis-connect".into())
        .spawn(move || {
            let _ = opened.send(opening.get_connection_with_timeout(timeouts.connect));
        })
        .map_err(redis::RedisError::from)?;
    let connection = arrival.recv_timeout(timeouts.connect).map_err(|_| {
        redis::RedisError::from(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "connection set-up timed out",
        ))
    })??;
    connection.set_read_timeout(Some(timeouts.command))?;
    connection.set_write_timeout(Some(timeouts.command))?;
    Ok(connection)
}

impl Conn {
    /// Runs `pipeline` (a single connection) or the same commands as a
    /// cluster pipeline, which routes each key to its node.
    pub(crate) fn pipeline<T: redis::FromRedisValue>(
        &mut self,
        build: impl FnOnce(&mut PipelineBuilder<'_>),
    ) -> RedisResult<T> {
        match self {
            Conn::Single(connection) => {
                let mut pipe = redis::pipe();
                build(&mut PipelineBuilder::Single(&mut pipe));
                pipe.query(connection)
            }
            #[cfg(feature = "cluster")]
            Conn::Cluster(connection) => {
                let mut pipe = redis::cluster::cluster_pipe();
                build(&mut PipelineBuilder::Cluster(&mut pipe));
                pipe.query(connection)
            }
        }
    }

    pub(crate) fn command<T: redis::FromRedisValue>(&mut self, cmd: &redis::Cmd) -> RedisResult<T> {
        cmd.query(self.as_connection_like())
    }

    fn as_connection_like(&mut self) -> &mut dyn ConnectionLike {
        match self {
            Conn::Single(connection) => connection,
            #[cfg(feature = "cluster")]
            Conn::Cluster(connection) => &mut **connection,
        }
    }
}

/// Adds commands to either kind of pipeline.
pub(crate) enum PipelineBuilder<'a> {
    Single(&'a mut redis::Pipeline),
    #[cfg(feature = "cluster")]
    Cluster(&'a mut redis::cluster::ClusterPipeline),
}

impl PipelineBuilder<'_> {
    pub(crate) fn add(&mut self, cmd: redis::Cmd) -> &mut Self {
        match self {
            PipelineBuilder::Single(pipe) => {
                pipe.add_command(cmd);
            }
            #[cfg(feature = "cluster")]
            PipelineBuilder::Cluster(pipe) => {
                pipe.add_command(cmd);
            }
        }
        self
    }
}
