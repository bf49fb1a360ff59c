//! One suite of backend behaviour, run against every backend (embedded and
//! Redis standalone and Cluster), so they cannot drift apart.
#![allow(missing_docs)]

mod support;

use std::time::Duration;

use memo_core::backend::Expect;
use memo_core::{Backend, MemoryBackend};
use memo_redis::RedisBackend;
use support::{wait_until, RedisCluster, RedisServer};

fn conformance(backend: &dyn Backend) {
    let ns = format!("conformance::{}", backend.name());
    let gen_key = format!("memo:g:{ns}");
    let key = format!("memo:v:{ns}:01");

    // Nothing stored yet.
    let found = backend.get(&gen_key, &key).unwrap();
    assert_eq!(found.generation, None);
    assert_eq!(found.value, None);

    // Generations: created once, stable, replaced by new_generation.
    let first = backend.generation(&gen_key).unwrap();
    assert_eq!(backend.generation(&gen_key).unwrap(), first);
    let second = backend.new_generation(&gen_key).unwrap();
    assert_ne!(second, first);
    assert_eq!(backend.generation(&gen_key).unwrap(), second);

    // Values: set with TTL, read together with the generation, deleted.
    backend
        .set(&key, b"\x00binary\xffvalue", Duration::from_secs(60))
        .unwrap();
    let found = backend.get(&gen_key, &key).unwrap();
    assert_eq!(found.generation, Some(second));
    assert_eq!(found.value.as_deref(), Some(&b"\x00binary\xffvalue"[..]));
    backend
        .set(&key, b"overwritten", Duration::from_secs(60))
        .unwrap();
    assert_eq!(
        backend.get(&gen_key, &key).unwrap().value.as_deref(),
        Some(&b"overwritten"[..])
    );
    backend.delete(&key).unwrap();
    assert_eq!(backend.get(&gen_key, &key).unwrap().value, None);
    backend.delete(&key).unwrap();

    // TTLs expire.
    backend
        .set(&key, b"short", Duration::from_millis(50))
        .unwrap();
    wait_until(Duration::from_secs(5), "a 50 ms entry to expire", || {
        backend.get(&gen_key, &key).unwrap().value.is_none()
    });

    // Compare-and-set: only over nothing, or over a value with the prefix.
    let ttl = Duration::from_secs(60);
    assert!(backend
        .set_if(&key, Expect::Absent, b"\x02first", ttl)
        .unwrap());
    assert!(!backend
        .set_if(&key, Expect::Absent, b"\x02second", ttl)
        .unwrap());
    assert!(!backend
        .set_if(&key, Expect::Prefix(b"\x02sec"), b"\x02third", ttl)
        .unwrap());
    assert!(backend
        .set_if(&key, Expect::Prefix(b"\x02fir"), b"\x02fourth", ttl)
        .unwrap());
    assert_eq!(
        backend.get_value(&key).unwrap().as_deref(),
        Some(&b"\x02fourth"[..])
    );
    assert!(!backend
        .set_if(&key, Expect::Prefix(b"\x02fourth and more"), b"x", ttl)
        .unwrap());
    backend.delete(&key).unwrap();
    assert!(
        !backend
            .set_if(&key, Expect::Prefix(b"\x02"), b"x", ttl)
            .unwrap(),
        "nothing is there"
    );
    assert!(backend
        .set_if(&key, Expect::Absent, b"short", Duration::from_millis(50))
        .unwrap());
    wait_until(Duration::from_secs(5), "a 50 ms entry to expire", || {
        backend.get_value(&key).unwrap().is_none()
    });
    assert!(
        backend
            .set_if(&key, Expect::Absent, b"after expiry", ttl)
            .unwrap(),
        "an expired entry is nothing"
    );
    backend.delete(&key).unwrap();

    // Broadcasting is accepted (and a no-op where only one process sees it).
    backend.broadcast(&ns, Some(b"\x01")).unwrap();
    backend.broadcast(&ns, None).unwrap();
}

/// The same behaviour through the async methods.
async fn conformance_async(backend: &dyn Backend) {
    let ns = format!("conformance_async::{}", backend.name());
    let gen_key = format!("memo:g:{ns}");
    let key = format!("memo:v:{ns}:01");

    let found = backend.get_async(&gen_key, &key).await.unwrap();
    assert_eq!((found.generation, found.value), (None, None));
    let first = backend.generation_async(&gen_key).await.unwrap();
    assert_eq!(backend.generation_async(&gen_key).await.unwrap(), first);
    let second = backend.new_generation_async(&gen_key).await.unwrap();
    assert_ne!(second, first);
    assert_eq!(
        backend.generation(&gen_key).unwrap(),
        second,
        "sync and async agree"
    );

    backend
        .set_async(&key, b"\x00async", Duration::from_secs(60))
        .await
        .unwrap();
    let found = backend.get_async(&gen_key, &key).await.unwrap();
    assert_eq!(found.generation, Some(second));
    assert_eq!(found.value.as_deref(), Some(&b"\x00async"[..]));
    assert_eq!(
        backend.get_value_async(&key).await.unwrap().as_deref(),
        Some(&b"\x00async"[..])
    );
    backend.delete_async(&key).await.unwrap();
    assert_eq!(backend.get_value_async(&key).await.unwrap(), None);
    assert_eq!(backend.get_async(&gen_key, &key).await.unwrap().value, None);

    let lock = format!("memo:lock:{ns}");
    assert!(backend
        .try_lock_async(&lock, 1, Duration::from_secs(10))
        .await
        .unwrap());
    assert!(!backend
        .try_lock_async(&lock, 2, Duration::from_secs(10))
        .await
        .unwrap());
    backend.unlock_async(&lock, 2).await.unwrap();
    assert!(
        !backend.try_lock(&lock, 3, Duration::from_secs(10)).unwrap(),
        "another token cannot release it"
    );
    backend.unlock_async(&lock, 1).await.unwrap();
    assert!(backend
        .try_lock_async(&lock, 4, Duration::from_millis(50))
        .await
        .unwrap());
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !backend
        .try_lock_async(&lock, 5, Duration::from_secs(10))
        .await
        .unwrap()
    {
        assert!(std::time::Instant::now() < deadline, "locks expire");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    backend.broadcast_async(&ns, None).await.unwrap();
}

fn locks(backend: &dyn Backend) {
    let lock = format!("memo:lock:sync-{}", backend.name());
    assert!(backend.try_lock(&lock, 1, Duration::from_secs(10)).unwrap());
    assert!(!backend.try_lock(&lock, 2, Duration::from_secs(10)).unwrap());
    backend.unlock(&lock, 2).unwrap();
    assert!(!backend.try_lock(&lock, 3, Duration::from_secs(10)).unwrap());
    backend.unlock(&lock, 1).unwrap();
    assert!(backend.try_lock(&lock, 3, Duration::from_secs(10)).unwrap());
    backend.unlock(&lock, 3).unwrap();
}

fn all(backend: &dyn Backend) {
    conformance(backend);
    locks(backend);
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(conformance_async(backend));
}

#[test]
fn memory_backend_conforms() {
    all(&MemoryBackend::new());
}

#[test]
fn redis_backend_conforms() {
    let server = RedisServer::start();
    all(&RedisBackend::connect(&server.url()).unwrap());
}

#[test]
fn redis_cluster_backend_conforms() {
    let cluster = RedisCluster::start();
    let urls = cluster.urls();
    let urls: Vec<&str> = urls.iter().map(String::as_str).collect();
    all(&RedisBackend::cluster(&urls).build().unwrap());
}
