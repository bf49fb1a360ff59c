//! The Redis backend's connection settings against real servers: TLS with a
//! private CA and client certificates, and key prefixes.
#![allow(missing_docs)]

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};

use memo_core::quickcache;
use memo_redis::RedisBackend;
use support::{exclusive, install, RedisServer};

static TLS_RUNS: AtomicUsize = AtomicUsize::new(0);

#[quickcache(name = "redis_tests::sealed", memoize_timeout = 0)]
fn sealed(x: u64) -> String {
    TLS_RUNS.fetch_add(1, Ordering::SeqCst);
    format!("sealed {x}")
}

#[quickcache(name = "redis_tests::sealed_async", memoize_timeout = 0)]
async fn sealed_async(x: u64) -> String {
    TLS_RUNS.fetch_add(1, Ordering::SeqCst);
    format!("sealed {x}")
}

fn rustls_default_missing() -> bool {
    rustls::crypto::CryptoProvider::get_default().is_none()
}

#[test]
fn tls_with_a_private_ca_and_a_client_certificate() {
    let _turn = exclusive();
    let (server, tls) = RedisServer::start_tls(true);
    let trusting = || RedisBackend::builder(&tls.url()).tls_root_certificates(&tls.ca);

    // No test of this binary installs a rustls provider but this one, and
    // memo installs none unasked: TLS is refused until one is chosen.
    let unprovided = RedisBackend::builder(&tls.url()).build().unwrap_err();
    assert!(
        unprovided.to_string().contains("crypto provider"),
        "{unprovided}"
    );
    let _ = RedisBackend::builder("redis://127.0.0.1:1/")
        .build()
        .expect("plain connections need no provider");
    assert!(rustls_default_missing());
    drop(RedisBackend::builder(&tls.url()).install_ring_provider());
    assert!(!rustls_default_missing());

    // The server's certificate is from a CA only the test knows, and the
    // server wants a client certificate: both are needed.
    let strangers = RedisBackend::builder(&tls.url()).build().unwrap();
    assert!(
        strangers.ping().is_err(),
        "the private CA is not trusted by default"
    );
    let anonymous = trusting().build().unwrap();
    assert!(anonymous.ping().is_err(), "the server verifies clients");
    assert!(RedisBackend::sentinel("m", &["rediss://127.0.0.1:1"])
        .tls_root_certificates(&tls.ca)
        .build()
        .is_err());

    let backend = trusting()
        .tls_client_identity(&tls.client_cert, &tls.client_key)
        .build()
        .unwrap();
    backend.ping().unwrap();
    // The subscriber's connection is over TLS too.
    install(backend);

    let runs = TLS_RUNS.load(Ordering::SeqCst);
    assert_eq!(sealed(1), "sealed 1");
    assert_eq!(sealed(1), "sealed 1");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        assert_eq!(sealed_async(2).await, "sealed 2");
        assert_eq!(sealed_async(2).await, "sealed 2");
    });
    assert_eq!(
        TLS_RUNS.load(Ordering::SeqCst),
        runs + 2,
        "the second calls hit Redis"
    );
    let stored: Vec<String> = redis::cmd("KEYS")
        .arg("memo:v:redis_tests::sealed*")
        .query(&mut server.client())
        .unwrap();
    assert_eq!(stored.len(), 2, "{stored:?}");
}

static PREFIXED_RUNS: AtomicUsize = AtomicUsize::new(0);

#[quickcache(name = "redis_tests::prefixed", memoize_timeout = 0)]
fn prefixed(x: u64) -> u64 {
    PREFIXED_RUNS.fetch_add(1, Ordering::SeqCst);
    x + 1
}

#[test]
fn key_prefixes_keep_applications_apart_on_one_database() {
    let _turn = exclusive();
    let server = RedisServer::start();
    let app = |prefix: &str| {
        RedisBackend::builder(&server.url())
            .key_prefix(prefix)
            .build()
            .unwrap()
    };
    let runs = || PREFIXED_RUNS.load(Ordering::SeqCst);
    let keys = |pattern: &str| -> Vec<String> {
        redis::cmd("KEYS")
            .arg(pattern)
            .query(&mut server.client())
            .unwrap()
    };

    install(app("billing"));
    let before = runs();
    assert_eq!((prefixed(1), prefixed(1)), (2, 2));
    assert_eq!(runs(), before + 1);
    assert_eq!(keys("billing:memo:v:redis_tests::prefixed:*").len(), 1);
    assert_eq!(keys("billing:memo:g:redis_tests::prefixed").len(), 1);
    assert!(keys("memo:*").is_empty(), "nothing outside the prefix");
    // cache_key names the key as stored, prefix included.
    let key = prefixed::cache_key(1).unwrap();
    assert!(
        key.starts_with("billing:memo:v:redis_tests::prefixed:"),
        "{key}"
    );
    assert_eq!(keys(&key), std::slice::from_ref(&key));
    assert_eq!(prefixed::get_cached_value(1), Some(2));

    // Another application: its own entries, generation and invalidations.
    install(app("shipping"));
    assert_eq!(prefixed(1), 2);
    assert_eq!(runs(), before + 2);
    prefixed::invalidate().unwrap();
    assert_eq!(prefixed(1), 2);
    assert_eq!(runs(), before + 3);

    install(app("billing"));
    assert_eq!(prefixed(1), 2);
    assert_eq!(
        runs(),
        before + 3,
        "billing's entry survived shipping's invalidate"
    );
}

#[quickcache(
    name = "redis_tests::jittered",
    timeout = 100,
    timeout_jitter = 0.5,
    memoize_timeout = 0
)]
fn jittered(x: u64) -> u64 {
    x
}

/// `timeout_jitter = 0.5` spreads the TTLs Redis holds over 100 s ± 50%.
#[test]
fn timeout_jitter_spreads_the_ttls_in_redis() {
    let _turn = exclusive();
    let server = RedisServer::start();
    install(RedisBackend::builder(&server.url()).build().unwrap());
    let ttls: Vec<i64> = (0..40)
        .map(|x| {
            jittered(x);
            let key = jittered::cache_key(x).unwrap();
            redis::cmd("PTTL")
                .arg(&key)
                .query(&mut server.client())
                .unwrap()
        })
        .collect();
    let (low, high) = (ttls.iter().min().unwrap(), ttls.iter().max().unwrap());
    assert!(*low >= 49_000 && *high <= 150_000, "{ttls:?}");
    assert!(high - low > 20_000, "spread: {ttls:?}");
}

/// A password-protected server and a database other than 0, as users
/// write them in the URL (`redis://:password@host:port/db`): entries go to
/// that database, the subscriber authenticates too (its channel comes up), and a
/// wrong password costs only the cache.
#[test]
fn a_password_and_a_database_in_the_url() {
    let _turn = exclusive();
    let server = RedisServer::start_with(&["--requirepass", "s3cret pass"]);
    let url = format!("redis://:s3cret%20pass@127.0.0.1:{}/3", server.port);
    let backend = RedisBackend::connect(&url).unwrap();
    backend.ping().unwrap();
    install(backend);

    let runs = TLS_RUNS.load(Ordering::SeqCst);
    assert_eq!(sealed(30), "sealed 30");
    assert_eq!(sealed(30), "sealed 30");
    assert_eq!(TLS_RUNS.load(Ordering::SeqCst), runs + 1, "a Redis hit");
    let key = memo_core::key::entry_key_for("redis_tests::sealed", &(&30u64,)).unwrap();
    let mut db3 = redis::Client::open(url.as_str())
        .unwrap()
        .get_connection()
        .unwrap();
    assert!(
        redis::cmd("EXISTS")
            .arg(&key)
            .query::<bool>(&mut db3)
            .unwrap(),
        "stored in db 3"
    );
    let mut db0 = redis::Client::open(format!(
        "redis://:s3cret%20pass@127.0.0.1:{}/0",
        server.port
    ))
    .unwrap()
    .get_connection()
    .unwrap();
    assert!(
        !redis::cmd("EXISTS")
            .arg(&key)
            .query::<bool>(&mut db0)
            .unwrap(),
        "not in db 0"
    );

    let wrong =
        RedisBackend::connect(&format!("redis://:wrong@127.0.0.1:{}/3", server.port)).unwrap();
    assert!(wrong.ping().is_err());
    install_unsubscribed(wrong);
    let errors = || {
        let stats = memo_core::stats::functions();
        stats
            .iter()
            .find(|f| f.namespace == "redis_tests::sealed")
            .map_or(0, |f| f.errors)
    };
    let before = errors();
    assert_eq!(sealed(31), "sealed 31", "computed without the cache");
    assert_eq!(
        errors(),
        before + 1,
        "the failed read is counted on the function"
    );
}

/// Installs a backend whose channel will never come up.
fn install_unsubscribed(backend: RedisBackend) {
    memo_core::set_backend(backend);
}

static FROM_CLIENT_RUNS: AtomicUsize = AtomicUsize::new(0);

#[quickcache(name = "redis_tests::through_a_client", memoize_timeout = 0)]
fn through_a_client(x: u64) -> u64 {
    FROM_CLIENT_RUNS.fetch_add(1, Ordering::SeqCst);
    x + 1
}

/// `RedisBackend::from_client`: the application's own `redis::Client`
/// (here on database 3), with memo's settings on top.
#[test]
fn a_backend_over_the_applications_own_client() {
    let _turn = exclusive();
    let server = RedisServer::start();
    let client = redis::Client::open(format!("redis://127.0.0.1:{}/3", server.port)).unwrap();
    install(
        RedisBackend::from_client(client)
            .key_prefix("app")
            .build()
            .unwrap(),
    );
    assert_eq!(through_a_client(1), 2);
    assert_eq!(through_a_client(1), 2);
    assert_eq!(
        FROM_CLIENT_RUNS.load(Ordering::SeqCst),
        1,
        "a hit from Redis"
    );
    let key = memo_core::key::entry_key_for("redis_tests::through_a_client", &(&1u64,)).unwrap();
    let mut db3 = redis::Client::open(format!("redis://127.0.0.1:{}/3", server.port))
        .unwrap()
        .get_connection()
        .unwrap();
    let stored: bool = redis::cmd("EXISTS")
        .arg(format!("app:{key}"))
        .query(&mut db3)
        .unwrap();
    assert!(stored, "on the client's database, under memo's prefix");
}
