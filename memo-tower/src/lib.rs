//! Request-scoped memoization for [Tower](https://docs.rs/tower) and
//! [axum](https://docs.rs/axum) services, as CommCare HQ scopes its local
//! cache to a request: within one request, the same lookup runs once, and
//! nothing outlives the request (no invalidation to think about, no value
//! seen by another user).
//!
//! [`RequestCacheLayer`] gives every request a fresh [`RequestCache`]:
//! handlers take it as an extractor (feature `axum`, on by default), code
//! deeper down finds it with [`RequestCache::current`], and a computation
//! several tasks of the request ask for at once runs once.
//!
//! ```
//! use axum::{routing::get, Router};
//! use memo_tower::{RequestCache, RequestCacheLayer};
//!
//! async fn page(cache: RequestCache) -> String {
//!     // Both lookups of user 7 in this request share one computation.
//!     let a = cache.get_or_compute_async("user", 7u64, || async { format!("user {}", 7) }).await;
//!     let b = cache.get_or_compute_async("user", 7u64, || async { String::from("not run") }).await;
//!     format!("{a} {b}")
//! }
//!
//! let app: Router = Router::new().route("/", get(page)).layer(RequestCacheLayer::new());
//! ```
//!
//! For caching across requests and processes, use `memo_core`'s
//! `#[quickcache]`; this crate is the tier below it, for one request.
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};

tokio::task_local! {
    static CURRENT: RequestCache;
}

/// The values computed while serving one request, by name and key. Cheap
/// to clone (a reference count): clones share the values.
///
/// # Examples
///
/// ```
/// let cache = memo_tower::RequestCache::new();
/// let n = cache.get_or_compute("square", 12u32, || 144u32);
/// assert_eq!(cache.get_or_compute("square", 12u32, || 0u32), n, "not computed again");
/// ```
#[derive(Clone, Default)]
pub struct RequestCache {
    scope: Arc<Scope>,
}

/// One map (`HashMap<K, Arc<Slot<V>>>`) per name and key and value type.
type Maps = HashMap<(&'static str, TypeId), Box<dyn Any + Send>>;

#[derive(Default)]
struct Scope {
    maps: Mutex<Maps>,
}

/// One value per key: sync callers wait on the `OnceLock` itself, async
/// ones take turns on `computing`, so one async computation runs at a
/// time and the others find its value. Whichever side stores first wins,
/// and every caller gets that one value.
struct Slot<V> {
    value: OnceLock<V>,
    computing: tokio::sync::Mutex<()>,
}

impl<V> Default for Slot<V> {
    fn default() -> Self {
        Slot {
            value: OnceLock::new(),
            computing: tokio::sync::Mutex::new(()),
        }
    }
}

impl std::fmt::Debug for RequestCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestCache")
            .field("maps", &self.scope.maps.lock().map_or(0, |m| m.len()))
            .finish()
    }
}

impl RequestCache {
    /// An empty cache (the layer makes one per request).
    pub fn new() -> RequestCache {
        RequestCache::default()
    }

    /// The cache of the request being served, inside a service wrapped by
    /// [`RequestCacheLayer`] (in the request's task: a task it spawns does
    /// not inherit it, so pass the cache along); `None` elsewhere.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(memo_tower::RequestCache::current().is_none());
    /// ```
    pub fn current() -> Option<RequestCache> {
        CURRENT.try_with(Clone::clone).ok()
    }

    /// The slot of `key` under `name`, made empty if new.
    fn slot<K, V>(&self, name: &'static str, key: K) -> Arc<Slot<V>>
    where
        K: Hash + Eq + Send + 'static,
        V: Send + Sync + 'static,
    {
        let mut maps = self.scope.maps.lock().unwrap_or_else(|e| e.into_inner());
        let map = maps
            .entry((name, TypeId::of::<(K, V)>()))
            .or_insert_with(|| Box::new(HashMap::<K, Arc<Slot<V>>>::new()));
        let map = map
            .downcast_mut::<HashMap<K, Arc<Slot<V>>>>()
            .expect("keyed by the map's own type");
        Arc::clone(map.entry(key).or_default())
    }

    /// The value of `key` under `name` in this request, computed by
    /// `compute` the first time. `name` keeps apart lookups whose keys and
    /// values have the same types (as a function name does); lookups are
    /// told apart by the key and value types too, so one name with another
    /// value type is another lookup. Callers that ask at once while it is
    /// computed wait for it.
    ///
    /// # Examples
    ///
    /// ```
    /// let cache = memo_tower::RequestCache::new();
    /// assert_eq!(cache.get_or_compute("len", "abc", || 3usize), 3);
    /// ```
    pub fn get_or_compute<K, V>(&self, name: &'static str, key: K, compute: impl FnOnce() -> V) -> V
    where
        K: Hash + Eq + Send + 'static,
        V: Clone + Send + Sync + 'static,
    {
        let slot = self.slot::<K, V>(name, key);
        slot.value.get_or_init(compute).clone()
    }

    /// [`get_or_compute`](Self::get_or_compute) for an async computation:
    /// concurrent tasks of the request that ask for the same key await one
    /// computation. If it is cancelled, the next caller computes.
    ///
    /// # Examples
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let cache = memo_tower::RequestCache::new();
    /// let v = cache.get_or_compute_async("double", 21u32, || async { 42u32 }).await;
    /// assert_eq!(v, 42);
    /// # });
    /// ```
    pub async fn get_or_compute_async<K, V, F, Fut>(
        &self,
        name: &'static str,
        key: K,
        compute: F,
    ) -> V
    where
        K: Hash + Eq + Send + 'static,
        V: Clone + Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = V>,
    {
        let slot = self.slot::<K, V>(name, key);
        if let Some(value) = slot.value.get() {
            return value.clone();
        }
        // A cancelled computation releases the turn: the next caller
        // computes.
        let _turn = slot.computing.lock().await;
        if let Some(value) = slot.value.get() {
            return value.clone();
        }
        let computed = compute().await;
        slot.value.get_or_init(|| computed).clone()
    }
}

/// A [`tower_layer::Layer`] that gives every request a fresh
/// [`RequestCache`]: in its extensions (what the axum extractor reads),
/// and as [`RequestCache::current`] while the inner service handles it.
///
/// # Examples
///
/// ```
/// let app: axum::Router = axum::Router::new().layer(memo_tower::RequestCacheLayer::new());
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct RequestCacheLayer {
    _private: (),
}

impl RequestCacheLayer {
    /// The layer.
    pub fn new() -> RequestCacheLayer {
        RequestCacheLayer::default()
    }
}

impl<S> tower_layer::Layer<S> for RequestCacheLayer {
    type Service = RequestCacheService<S>;

    fn layer(&self, inner: S) -> RequestCacheService<S> {
        RequestCacheService { inner }
    }
}

/// The service [`RequestCacheLayer`] wraps around another.
#[derive(Clone, Debug)]
pub struct RequestCacheService<S> {
    inner: S,
}

impl<S, B> tower_service::Service<http::Request<B>> for RequestCacheService<S>
where
    S: tower_service::Service<http::Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = tokio::task::futures::TaskLocalFuture<RequestCache, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        let cache = RequestCache::new();
        request.extensions_mut().insert(cache.clone());
        CURRENT.scope(cache, self.inner.call(request))
    }
}

/// Rejection of the extractor when [`RequestCacheLayer`] is not installed:
/// a 500, since it is the application's mistake, not the client's.
#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
#[derive(Debug)]
pub struct MissingRequestCacheLayer;

#[cfg(feature = "axum")]
impl axum_core::response::IntoResponse for MissingRequestCacheLayer {
    fn into_response(self) -> axum_core::response::Response {
        (
            http::StatusCode::INTERNAL_SERVER_ERROR,
            "RequestCache is extracted, but memo_tower::RequestCacheLayer is not installed on this route",
        )
            .into_response()
    }
}

/// The request's cache, as a handler argument.
#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
impl<S: Send + Sync> axum_core::extract::FromRequestParts<S> for RequestCache {
    type Rejection = MissingRequestCacheLayer;

    async fn from_request_parts(
        parts: &mut http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<RequestCache>()
            .cloned()
            .ok_or(MissingRequestCacheLayer)
    }
}

#[cfg(test)]
mod tests {
    use super::RequestCache;

    #[test]
    fn sync_and_async_callers_share_one_value() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let cache = RequestCache::new();
        let first = runtime.block_on(cache.get_or_compute_async("v", 1u8, || async { 1u32 }));
        assert_eq!(cache.get_or_compute("v", 1u8, || 2u32), first);
        assert_eq!(cache.get_or_compute("v", 2u8, || 3u32), 3);
        let second = runtime.block_on(cache.get_or_compute_async("v", 2u8, || async { 4u32 }));
        assert_eq!(second, 3);
    }

    #[test]
    fn names_and_types_keep_lookups_apart() {
        let cache = RequestCache::new();
        assert_eq!(cache.get_or_compute("a", 1u32, || 10u32), 10);
        assert_eq!(cache.get_or_compute("b", 1u32, || 20u32), 20);
        assert_eq!(cache.get_or_compute("a", 1u64, || 30u32), 30);
        assert_eq!(cache.get_or_compute("a", 1u32, || 40u64), 40);
        assert_eq!(cache.get_or_compute("a", 1u32, || 50u32), 10);
        let clone = cache.clone();
        assert_eq!(clone.get_or_compute("b", 1u32, || 60u32), 20);
        assert_eq!(RequestCache::new().get_or_compute("a", 1u32, || 70u32), 70);
    }
}
