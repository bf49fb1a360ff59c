//! The Redis commands behind each [`Backend`] operation, sync and async.

use std::time::Duration;

use memo_core::backend::{new_generation, BoxFuture, Expect, Fetched, FetchedMany, Generation};
use memo_core::coherence::Link;
use memo_core::{Backend, Error};

use crate::channel::Message;
use crate::{RedisBackend, NAME};

fn parse_generation(value: Option<Vec<u8>>) -> Option<Generation> {
    std::str::from_utf8(&value?).ok()?.parse().ok()
}

/// Compare-and-delete: releases a lock only if it still holds our token.
const UNLOCK: &str = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";

/// Compare-and-set: stores ARGV[2] for ARGV[3] ms only if the key holds a
/// value starting with ARGV[1] (the stamp a miss read). One round trip, as
/// the plain `SET` it replaces.
const SET_IF_PREFIX: &str = "local held = redis.call('get', KEYS[1]) if held and string.sub(held, 1, string.len(ARGV[1])) == ARGV[1] then redis.call('set', KEYS[1], ARGV[2], 'PX', ARGV[3]) return 1 else return 0 end";

/// The command behind [`Backend::set_if`]: `SET NX PX` when nothing was
/// there, the compare-and-set script otherwise. Both answer whether they
/// stored (`OK` or nil, 1 or 0).
fn set_if(key: &str, expect: Expect<'_>, value: &[u8], ttl: Duration) -> redis::Cmd {
    match expect {
        Expect::Absent => {
            let mut cmd = set_px(key, value, ttl);
            cmd.arg("NX");
            cmd
        }
        Expect::Prefix(prefix) => {
            let ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
            let mut cmd = redis::Cmd::with_capacity(
                7,
                SET_IF_PREFIX.len() + key.len() + prefix.len() + value.len() + 32,
            );
            cmd.arg("EVAL")
                .arg(SET_IF_PREFIX)
                .arg(1)
                .arg(key)
                .arg(prefix)
                .arg(value)
                .arg(ms);
            cmd
        }
    }
}

/// What [`set_if`] answered: `OK` or 1 when it stored.
fn stored(reply: redis::Value) -> bool {
    match reply {
        redis::Value::Okay | redis::Value::SimpleString(_) => true,
        redis::Value::Int(n) => n == 1,
        _ => false,
    }
}

/// `name key`, with its buffers sized up front: `redis::Cmd::get` and
/// friends grow them from empty, three reallocations on every GET (about a
/// fifth of the client's own work on a Redis hit).
fn keyed(name: &str, key: &str, more_args: usize, more_bytes: usize) -> redis::Cmd {
    let mut cmd = redis::Cmd::with_capacity(2 + more_args, name.len() + key.len() + more_bytes);
    cmd.arg(name).arg(key);
    cmd
}

pub(crate) fn get(key: &str) -> redis::Cmd {
    keyed("GET", key, 0, 0)
}

fn del(key: &str) -> redis::Cmd {
    keyed("DEL", key, 0, 0)
}

fn set_px(key: &str, value: &[u8], ttl: Duration) -> redis::Cmd {
    let ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
    let mut cmd = keyed("SET", key, 3, value.len() + 2 + 20 + 2);
    cmd.arg(value).arg("PX").arg(ms);
    cmd
}

impl Backend for RedisBackend {
    fn name(&self) -> &'static str {
        NAME
    }

    fn key_as_stored(&self, key: &str) -> String {
        self.inner.key(key).into_owned()
    }

    fn get(&self, generation_key: &str, key: &str) -> Result<Fetched, Error> {
        let generation_key = &*self.inner.key(generation_key);
        let key = &*self.inner.key(key);
        let (generation, value): (Option<Vec<u8>>, Option<Vec<u8>>) = self.inner.run(|conn| {
            conn.pipeline(|pipe| {
                pipe.add(get(generation_key)).add(get(key));
            })
        })?;
        Ok(Fetched {
            generation: parse_generation(generation),
            value,
        })
    }

    fn get_many(&self, generation_key: &str, keys: &[String]) -> Result<FetchedMany, Error> {
        if keys.is_empty() {
            return Ok(FetchedMany::default());
        }
        let generation_key = self.inner.key(generation_key);
        let keys: Vec<_> = keys.iter().map(|key| self.inner.key(key)).collect();
        // One pipeline: the generation and every entry in one round trip (on
        // a cluster, one to each node holding some of them, all at once).
        let mut values: Vec<Option<Vec<u8>>> = self.inner.run(|conn| {
            conn.pipeline(|pipe| {
                pipe.add(get(&generation_key));
                for key in &keys {
                    pipe.add(get(key));
                }
            })
        })?;
        if values.len() != keys.len() + 1 {
            return Err(Error::Unavailable {
                backend: "redis: a pipeline's reply of another length",
            });
        }
        let generation = parse_generation(values.remove(0));
        Ok(FetchedMany { generation, values })
    }

    fn get_value(&self, key: &str) -> Result<Option<Vec<u8>>, Error> {
        let key = &*self.inner.key(key);
        self.inner.run(|conn| conn.command(&get(key)))
    }

    fn set(&self, key: &str, value: &[u8], ttl: Duration) -> Result<(), Error> {
        let key = &*self.inner.key(key);
        self.inner
            .run(|conn| conn.command::<()>(&set_px(key, value, ttl)))
    }

    fn set_if(
        &self,
        key: &str,
        expect: Expect<'_>,
        value: &[u8],
        ttl: Duration,
    ) -> Result<bool, Error> {
        let key = &*self.inner.key(key);
        let cmd = set_if(key, expect, value, ttl);
        self.inner
            .run(|conn| conn.command::<redis::Value>(&cmd))
            .map(stored)
    }

    fn delete(&self, key: &str) -> Result<(), Error> {
        let key = &*self.inner.key(key);
        self.inner.run(|conn| conn.command::<()>(&del(key)))
    }

    fn generation(&self, generation_key: &str) -> Result<Generation, Error> {
        let stored = self.inner.key(generation_key);
        let candidate = new_generation().to_string();
        let (_, current): (Option<String>, Option<Vec<u8>>) = self.inner.run(|conn| {
            conn.pipeline(|pipe| {
                let mut set_nx = redis::cmd("SET");
                set_nx.arg(&*stored).arg(&candidate).arg("NX");
                pipe.add(set_nx).add(get(&stored));
            })
        })?;
        match parse_generation(current) {
            Some(generation) => Ok(generation),
            // Not a token memo wrote (or gone again): replace it.
            None => self.new_generation(generation_key),
        }
    }

    fn new_generation(&self, generation_key: &str) -> Result<Generation, Error> {
        let generation_key = &*self.inner.key(generation_key);
        let generation = new_generation();
        self.inner.run(|conn| {
            conn.command::<()>(
                redis::cmd("SET")
                    .arg(generation_key)
                    .arg(generation.to_string()),
            )
        })?;
        Ok(generation)
    }

    fn try_lock(&self, key: &str, token: u64, ttl: Duration) -> Result<bool, Error> {
        let key = &*self.inner.key(key);
        let mut cmd = set_px(key, token.to_string().as_bytes(), ttl);
        cmd.arg("NX");
        let taken: Option<String> = self.inner.run(|conn| conn.command(&cmd))?;
        Ok(taken.is_some())
    }

    fn unlock(&self, key: &str, token: u64) -> Result<(), Error> {
        let key = &*self.inner.key(key);
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(UNLOCK).arg(1).arg(key).arg(token.to_string());
        self.inner.run(|conn| conn.command::<i64>(&cmd)).map(drop)
    }

    fn broadcast(&self, namespace: &str, args: Option<&[u8]>) -> Result<(), Error> {
        let message = Message {
            origin: self.inner.shared.origin,
            namespace,
            args,
        }
        .encode();
        let channel = &self.inner.shared.channel;
        self.inner
            .run(|conn| conn.command::<()>(redis::cmd("PUBLISH").arg(channel).arg(&message)))
    }

    fn describe(&self, descriptor: &memo_core::admin::Descriptor) {
        self.inner.housekeeper.describe(descriptor);
    }

    fn attach(&self, link: Link) {
        self.inner.shared.attach(link);
    }

    fn get_async<'a>(
        &'a self,
        generation_key: &'a str,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Fetched, Error>> {
        Box::pin(async move {
            let (generation_key, key) = (self.inner.key(generation_key), self.inner.key(key));
            let (get_generation, get_value) = (get(&generation_key), get(&key));
            // Both GETs go out together on the multiplexed connection (to
            // their own nodes in a cluster): one round trip of latency.
            let (generation, value) = self
                .inner
                .run_async(|conn| {
                    let (get_generation, get_value) = (&get_generation, &get_value);
                    async move {
                        let ((_, generation), (conn, value)) = tokio::join!(
                            conn.clone().query::<Option<Vec<u8>>>(get_generation),
                            conn.query::<Option<Vec<u8>>>(get_value)
                        );
                        (conn, generation.and_then(|g| value.map(|v| (g, v))))
                    }
                })
                .await?;
            Ok(Fetched {
                generation: parse_generation(generation),
                value,
            })
        })
    }

    fn get_many_async<'a>(
        &'a self,
        generation_key: &'a str,
        keys: &'a [String],
    ) -> BoxFuture<'a, Result<FetchedMany, Error>> {
        Box::pin(async move {
            if keys.is_empty() {
                return Ok(FetchedMany::default());
            }
            let gets: Vec<redis::Cmd> = std::iter::once(generation_key)
                .chain(keys.iter().map(String::as_str))
                .map(|key| get(&self.inner.key(key)))
                .collect();
            // Every GET goes out at once on the multiplexed connection (to
            // its own node in a cluster): one round trip of latency.
            let mut values: Vec<Option<Vec<u8>>> = self
                .inner
                .run_async(|conn| {
                    let gets = &gets;
                    async move {
                        let replies = futures_util::future::join_all(
                            gets.iter()
                                .map(|get| conn.clone().query::<Option<Vec<u8>>>(get)),
                        )
                        .await;
                        let values = replies.into_iter().map(|(_, value)| value).collect();
                        (conn, values)
                    }
                })
                .await?;
            let generation = parse_generation(values.remove(0));
            Ok(FetchedMany { generation, values })
        })
    }

    fn get_value_async<'a>(
        &'a self,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Option<Vec<u8>>, Error>> {
        Box::pin(async move { self.inner.read(&self.inner.key(key)).await })
    }

    fn set_async<'a>(
        &'a self,
        key: &'a str,
        value: &'a [u8],
        ttl: Duration,
    ) -> BoxFuture<'a, Result<(), Error>> {
        let key = &*self.inner.key(key);
        let cmd = set_px(key, value, ttl);
        Box::pin(async move { self.inner.run_async(|conn| conn.query::<()>(&cmd)).await })
    }

    fn set_if_async<'a>(
        &'a self,
        key: &'a str,
        expect: Expect<'a>,
        value: &'a [u8],
        ttl: Duration,
    ) -> BoxFuture<'a, Result<bool, Error>> {
        let key = &*self.inner.key(key);
        let cmd = set_if(key, expect, value, ttl);
        Box::pin(async move {
            self.inner
                .run_async(|conn| conn.query::<redis::Value>(&cmd))
                .await
                .map(stored)
        })
    }

    fn delete_async<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), Error>> {
        let key = &*self.inner.key(key);
        let cmd = del(key);
        Box::pin(async move { self.inner.run_async(|conn| conn.query::<()>(&cmd)).await })
    }

    fn generation_async<'a>(
        &'a self,
        generation_key: &'a str,
    ) -> BoxFuture<'a, Result<Generation, Error>> {
        Box::pin(async move {
            let stored = self.inner.key(generation_key);
            let mut set_nx = redis::cmd("SET");
            set_nx
                .arg(&*stored)
                .arg(new_generation().to_string())
                .arg("NX");
            let read = get(&stored);
            let current: Option<Vec<u8>> = self
                .inner
                .run_async(|conn| {
                    let (set_nx, read) = (&set_nx, &read);
                    async move {
                        match conn.query::<Option<String>>(set_nx).await {
                            (conn, Ok(_)) => conn.query(read).await,
                            (conn, Err(error)) => (conn, Err(error)),
                        }
                    }
                })
                .await?;
            match parse_generation(current) {
                Some(generation) => Ok(generation),
                None => self.new_generation_async(generation_key).await,
            }
        })
    }

    fn new_generation_async<'a>(
        &'a self,
        generation_key: &'a str,
    ) -> BoxFuture<'a, Result<Generation, Error>> {
        let generation_key = &*self.inner.key(generation_key);
        let generation = new_generation();
        let mut cmd = redis::cmd("SET");
        cmd.arg(generation_key).arg(generation.to_string());
        Box::pin(async move {
            self.inner.run_async(|conn| conn.query::<()>(&cmd)).await?;
            Ok(generation)
        })
    }

    fn try_lock_async<'a>(
        &'a self,
        key: &'a str,
        token: u64,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<bool, Error>> {
        let key = &*self.inner.key(key);
        let mut cmd = set_px(key, token.to_string().as_bytes(), ttl);
        cmd.arg("NX");
        Box::pin(async move {
            let taken: Option<String> = self.inner.run_async(|conn| conn.query(&cmd)).await?;
            Ok(taken.is_some())
        })
    }

    fn unlock_async<'a>(&'a self, key: &'a str, token: u64) -> BoxFuture<'a, Result<(), Error>> {
        let key = &*self.inner.key(key);
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(UNLOCK).arg(1).arg(key).arg(token.to_string());
        Box::pin(async move {
            self.inner
                .run_async(|conn| conn.query::<i64>(&cmd))
                .await
                .map(drop)
        })
    }

    fn broadcast_async<'a>(
        &'a self,
        namespace: &'a str,
        args: Option<&'a [u8]>,
    ) -> BoxFuture<'a, Result<(), Error>> {
        let message = Message {
            origin: self.inner.shared.origin,
            namespace,
            args,
        }
        .encode();
        let mut cmd = redis::cmd("PUBLISH");
        cmd.arg(&self.inner.shared.channel).arg(message);
        Box::pin(async move { self.inner.run_async(|conn| conn.query::<()>(&cmd)).await })
    }
}
