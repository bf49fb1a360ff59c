//! One suite of backend behaviour, run against every backend (embedded and
//! Redis standalone and Cluster), so they cannot drift apart.
#![allow(missing_docs)]

mod support;

use std::time::Duration;

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

    // Broadcasting is accepted (and a no-op where only one process sees it).
    backend.broadcast(&ns, Some(b"\x01")).unwrap();
    backend.broadcast(&ns, None).unwrap();
}

#[test]
fn memory_backend_conforms() {
    conformance(&MemoryBackend::new());
}

#[test]
fn redis_backend_conforms() {
    let server = RedisServer::start();
    conformance(&RedisBackend::connect(&server.url()).unwrap());
}

#[test]
fn redis_cluster_backend_conforms() {
    let cluster = RedisCluster::start();
    let urls = cluster.urls();
    let urls: Vec<&str> = urls.iter().map(String::as_str).collect();
    conformance(&RedisBackend::cluster(&urls).build().unwrap());
}
