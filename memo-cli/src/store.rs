//! The Redis `memo` works on: one server, or a cluster (every master
//! scanned, each key's command sent to its node).

use redis::cluster::ClusterConnection;
use redis::{Cmd, ConnectionAddr, FromRedisValue, RedisResult};

/// Connections to one server or to a cluster.
pub(crate) enum Store {
    Single(redis::Connection),
    Cluster {
        /// Routes each key's command to its node.
        keys: Box<ClusterConnection>,
        /// One connection per master, for `SCAN`.
        masters: Vec<redis::Connection>,
    },
}

const TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

impl Store {
    /// A connection to the server at `url`.
    pub(crate) fn single(url: &str) -> Result<Store, (bool, String)> {
        let client =
            redis::Client::open(url).map_err(|e| (false, format!("bad Redis URL {url:?}: {e}")))?;
        let connection = client
            .get_connection_with_timeout(TIMEOUT)
            .map_err(|e| (true, format!("cannot reach Redis at {url}: {e}")))?;
        Ok(Store::Single(connection))
    }

    /// Connections to the cluster that `seeds` are nodes of: its masters
    /// are read from the first seed's `CLUSTER NODES`. The error's flag:
    /// unreachable (rather than misconfigured).
    pub(crate) fn cluster(seeds: &[String]) -> Result<Store, (bool, String)> {
        let seed = seeds
            .first()
            .ok_or((false, "--cluster needs at least one node URL".to_owned()))?;
        let client = redis::Client::open(seed.as_str())
            .map_err(|e| (false, format!("bad Redis URL {seed:?}: {e}")))?;
        let mut first = client
            .get_connection_with_timeout(TIMEOUT)
            .map_err(|e| (true, format!("cannot reach Redis at {seed}: {e}")))?;
        let nodes: String = redis::cmd("CLUSTER")
            .arg("NODES")
            .query(&mut first)
            .map_err(|e| (false, format!("{seed} is not a cluster node: {e}")))?;
        let info = client.get_connection_info().clone();
        let mut masters = Vec::new();
        for line in nodes.lines() {
            let fields: Vec<&str> = line.split(' ').collect();
            let (Some(address), Some(flags)) = (fields.get(1), fields.get(2)) else {
                continue;
            };
            if !flags.contains("master") || flags.contains("fail") {
                continue;
            }
            let address = address.split(['@', ',']).next().unwrap_or_default();
            let Some((host, port)) = address.rsplit_once(':') else {
                continue;
            };
            let port: u16 = port
                .parse()
                .map_err(|_| (false, format!("bad node address {address:?}")))?;
            let addr = match info.addr() {
                ConnectionAddr::Tcp(..) => ConnectionAddr::Tcp(host.to_owned(), port),
                _ => {
                    return Err((
                        false,
                        "memo supports plain TCP clusters only (not TLS or Unix sockets)"
                            .to_owned(),
                    ))
                }
            };
            let node = redis::Client::open(info.clone().set_addr(addr))
                .and_then(|c| c.get_connection_with_timeout(TIMEOUT))
                .map_err(|e| (true, format!("cannot reach cluster node {address}: {e}")))?;
            masters.push(node);
        }
        let keys = redis::cluster::ClusterClient::builder(seeds.to_vec())
            .connection_timeout(TIMEOUT)
            .response_timeout(TIMEOUT)
            .build()
            .and_then(|c| c.get_connection())
            .map_err(|e| (true, format!("cannot reach the cluster at {seed}: {e}")))?;
        Ok(Store::Cluster {
            keys: Box::new(keys),
            masters,
        })
    }

    /// Every key matching `pattern`, with `SCAN` (each master's, on a
    /// cluster); `progress` is told the count so far.
    pub(crate) fn scan(
        &mut self,
        pattern: &str,
        mut progress: impl FnMut(usize),
    ) -> RedisResult<Vec<String>> {
        let connections: Vec<&mut redis::Connection> = match self {
            Store::Single(connection) => vec![connection],
            Store::Cluster { masters, .. } => masters.iter_mut().collect(),
        };
        let mut keys = Vec::new();
        for connection in connections {
            let mut cursor: u64 = 0;
            loop {
                let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
                    .arg(cursor)
                    .arg("MATCH")
                    .arg(pattern)
                    .arg("COUNT")
                    .arg(1000)
                    .query(connection)?;
                keys.extend(batch);
                progress(keys.len());
                if next == 0 {
                    break;
                }
                cursor = next;
            }
        }
        Ok(keys)
    }

    /// One command of one key.
    pub(crate) fn command<T: FromRedisValue>(&mut self, cmd: &Cmd) -> RedisResult<T> {
        match self {
            Store::Single(connection) => cmd.query(connection),
            Store::Cluster { keys, .. } => cmd.query(&mut **keys),
        }
    }

    /// Commands of one key each, in one round trip per node.
    pub(crate) fn each<T: FromRedisValue>(&mut self, cmds: Vec<Cmd>) -> RedisResult<Vec<T>> {
        match self {
            Store::Single(connection) => {
                let mut pipe = redis::pipe();
                for cmd in cmds {
                    pipe.add_command(cmd);
                }
                pipe.query(connection)
            }
            Store::Cluster { keys, .. } => {
                let mut pipe = redis::cluster::cluster_pipe();
                for cmd in cmds {
                    pipe.add_command(cmd);
                }
                pipe.query(keys)
            }
        }
    }
}
