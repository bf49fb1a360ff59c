//! The `tracing` spans of a miss: a subscriber of its own records which
//! spans open, with which fields.
#![allow(missing_docs)]

mod support;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use memo_core::quickcache;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// A span as recorded: its name, and its fields as text.
type Opened = (String, HashMap<String, String>);

/// Every span opened (by id: its index plus one), and how many; and every
/// event, as its fields.
#[derive(Default, Clone)]
struct Spans(
    Arc<Mutex<Vec<Opened>>>,
    Arc<AtomicU64>,
    Arc<Mutex<Vec<HashMap<String, String>>>>,
);

struct Fields<'a>(&'a mut HashMap<String, String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
}

impl Subscriber for Spans {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.target() == "memo"
    }

    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let mut fields = HashMap::new();
        span.record(&mut Fields(&mut fields));
        let mut spans = self.0.lock().unwrap();
        spans.push((span.metadata().name().to_owned(), fields));
        self.1.fetch_add(1, Ordering::SeqCst);
        Id::from_u64(spans.len() as u64)
    }

    fn record(&self, span: &Id, values: &Record<'_>) {
        let mut spans = self.0.lock().unwrap();
        let (_, fields) = &mut spans[span.into_u64() as usize - 1];
        values.record(&mut Fields(fields));
    }

    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut fields = HashMap::new();
        event.record(&mut Fields(&mut fields));
        self.2.lock().unwrap().push(fields);
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

#[quickcache(vary_on = [x], name = "tests::traced")]
fn traced(x: u32) -> u32 {
    x
}

/// A miss opens a lookup span (found: miss) and a compute span with its
/// time; a hit opens none.
#[test]
fn a_miss_is_traced_and_a_hit_is_not() {
    let _turn = support::exclusive();
    let spans = Spans::default();
    tracing::subscriber::with_default(spans.clone(), || {
        traced(1);
        let opened = spans.1.load(Ordering::SeqCst);
        traced(1);
        assert_eq!(
            spans.1.load(Ordering::SeqCst),
            opened,
            "a hit opens no span"
        );
    });
    let spans = spans.0.lock().unwrap();
    let names: Vec<&str> = spans.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names, ["memo.lookup", "memo.compute"]);
    let (_, lookup) = &spans[0];
    assert_eq!(lookup["namespace"], "\"tests::traced\"");
    assert_eq!(lookup["found"], "\"miss\"");
    let (_, compute) = &spans[1];
    assert!(compute["elapsed_ms"].parse::<f64>().unwrap() >= 0.0);
}

#[quickcache(vary_on = [x], name = "tests::traced_async")]
async fn traced_async(x: u32) -> u32 {
    x
}

#[test]
fn an_async_miss_is_traced_too() {
    let _turn = support::exclusive();
    let spans = Spans::default();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    tracing::subscriber::with_default(spans.clone(), || {
        runtime.block_on(traced_async(1));
        runtime.block_on(traced_async(1));
    });
    let spans = spans.0.lock().unwrap();
    let names: Vec<&str> = spans.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names, ["memo.lookup", "memo.compute"]);
    assert_eq!(spans[0].1["found"], "\"miss\"");
}

#[quickcache(name = "tests::blocking")]
fn blocking(x: u32) -> u32 {
    x
}

/// A sync call that waits on Redis inside a Tokio runtime is warned of,
/// once per process; the same call outside a runtime is not.
#[test]
fn a_sync_call_on_redis_inside_a_tokio_runtime_is_warned_of_once() {
    let _turn = support::exclusive();
    let server = support::RedisServer::start();
    support::install(memo_redis::RedisBackend::connect(&server.url()).unwrap());
    let spans = Spans::default();
    let warnings = || {
        let events = spans.2.lock().unwrap();
        events
            .iter()
            .filter(|fields| {
                fields
                    .get("message")
                    .is_some_and(|m| m.contains("inside a Tokio runtime"))
            })
            .count()
    };
    tracing::subscriber::with_default(spans.clone(), || {
        blocking(1);
        assert_eq!(warnings(), 0, "outside a runtime");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        runtime.block_on(async {
            blocking(2);
            blocking(3);
        });
        assert_eq!(warnings(), 1, "once");
        let events = spans.2.lock().unwrap();
        let warned = events.iter().find(|f| f.contains_key("namespace")).unwrap();
        assert_eq!(warned["namespace"], "\"tests::blocking\"");
    });
    // The embedded backend again, for the tests that follow.
    memo_core::set_backend(memo_core::MemoryBackend::new());
}

#[memo_core::memoized]
fn traced_local(x: u32) -> u32 {
    x
}

/// A hit is a `debug` event naming its tier, on both attributes; with no
/// subscriber interested, none is made.
#[test]
fn hits_are_debug_events_with_their_tier() {
    let _turn = support::exclusive();
    let spans = Spans::default();
    tracing::subscriber::with_default(spans.clone(), || {
        traced(40);
        traced(40);
        traced_local(40);
        traced_local(40);
    });
    let events = spans.2.lock().unwrap();
    let hits: Vec<(&str, &str)> = events
        .iter()
        .filter(|fields| fields.get("message").is_some_and(|m| m == "memo.hit"))
        .map(|fields| (fields["namespace"].as_str(), fields["tier"].as_str()))
        .collect();
    assert_eq!(hits.len(), 2, "{hits:?}");
    assert_eq!(hits[0], ("\"tests::traced\"", "\"l1\""));
    assert!(
        hits[1].0.contains("traced_local@") && hits[1].1 == "\"l1\"",
        "{hits:?}"
    );
}

/// A `#[memoized]` miss opens a compute span with its time too.
#[test]
fn a_memoized_miss_is_traced() {
    let _turn = support::exclusive();
    let spans = Spans::default();
    tracing::subscriber::with_default(spans.clone(), || {
        traced_local(41);
    });
    let spans = spans.0.lock().unwrap();
    let (name, fields) = spans.last().expect("a span");
    assert_eq!(name, "memo.compute");
    assert!(fields["namespace"].contains("traced_local@"), "{fields:?}");
    assert!(fields.contains_key("elapsed_ms"), "{fields:?}");
}
