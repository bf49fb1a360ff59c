//! The layer in a real axum router, over HTTP on loopback.
#![allow(missing_docs)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::extract::Path;
use axum::routing::get;
use axum::Router;
use memo_tower::{RequestCache, RequestCacheLayer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

static LOADS: AtomicUsize = AtomicUsize::new(0);

/// A slow lookup, counted.
async fn load(id: u64) -> String {
    LOADS.fetch_add(1, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(20)).await;
    format!("user {id}")
}

/// Code deep in the request, that takes no cache argument.
async fn deep(id: u64) -> String {
    let cache = RequestCache::current().expect("inside the layer");
    cache.get_or_compute_async("user", id, || load(id)).await
}

/// Three lookups of the same user (two at once, one from deep down), and
/// one of another.
async fn page(cache: RequestCache, Path(id): Path<u64>) -> String {
    let (a, b) = tokio::join!(
        cache.get_or_compute_async("user", id, || load(id)),
        cache.get_or_compute_async("user", id, || load(id)),
    );
    let c = deep(id).await;
    let other = cache
        .get_or_compute_async("user", id + 1, || load(id + 1))
        .await;
    format!("{a}|{b}|{c}|{other}")
}

async fn unlayered(_cache: RequestCache) -> &'static str {
    "unreachable"
}

/// GET `path` on `port`: the status code and body.
async fn get_path(port: u16, path: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let status = response[9..12].parse().unwrap();
    let body = response.split_once("\r\n\r\n").unwrap().1.to_owned();
    (status, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_computes_each_value_once_and_the_next_request_anew() {
    let app = Router::new()
        .route("/user/{id}", get(page))
        .layer(RequestCacheLayer::new())
        .route("/unlayered", get(unlayered));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let (status, body) = get_path(port, "/user/7").await;
    assert_eq!(status, 200);
    assert_eq!(body, "user 7|user 7|user 7|user 8");
    assert_eq!(LOADS.load(Ordering::SeqCst), 2, "user 7 once, user 8 once");

    // A new request, a new scope.
    let (_, body) = get_path(port, "/user/7").await;
    assert_eq!(body, "user 7|user 7|user 7|user 8");
    assert_eq!(LOADS.load(Ordering::SeqCst), 4);

    // Two requests at once do not share.
    let (a, b) = tokio::join!(get_path(port, "/user/1"), get_path(port, "/user/1"));
    assert_eq!((a.0, b.0), (200, 200));
    assert_eq!(LOADS.load(Ordering::SeqCst), 8);

    let (status, body) = get_path(port, "/unlayered").await;
    assert_eq!(status, 500);
    assert!(
        body.contains("RequestCacheLayer is not installed"),
        "{body}"
    );
}
