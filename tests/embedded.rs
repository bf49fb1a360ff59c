//! The warning a service gets when it forgot to install a backend: in a
//! process of its own (this binary has one test), since the warning is
//! given where the implicit backend is first made.
#![allow(missing_docs)]

use std::sync::{Arc, Mutex};

use memo_core::{quickcache, MemoryBackend};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

/// The `backend` field of every warning of target `memo`.
#[derive(Default, Clone)]
struct Warnings(Arc<Mutex<Vec<String>>>);

struct Backend<'a>(&'a mut Option<String>);

impl Visit for Backend<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "backend" {
            *self.0 = Some(value.to_owned());
        }
    }
    fn record_debug(&mut self, _: &Field, _: &dyn std::fmt::Debug) {}
}

impl Subscriber for Warnings {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.target() == "memo" && *metadata.level() == Level::WARN
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut backend = None;
        event.record(&mut Backend(&mut backend));
        if let Some(backend) = backend {
            self.0.lock().unwrap().push(backend);
        }
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

#[quickcache]
fn on_default(x: u32) -> u32 {
    x
}

#[quickcache(backend = "forgotten")]
fn on_forgotten(x: u32) -> u32 {
    x
}

#[quickcache(backend = "intended")]
fn on_intended(x: u32) -> u32 {
    x
}

/// What the warnings named, for a body run under the recording subscriber.
fn warned(body: impl FnOnce()) -> Vec<String> {
    let warnings = Warnings::default();
    tracing::subscriber::with_default(warnings.clone(), body);
    let named = warnings.0.lock().unwrap().clone();
    named
}

/// Runs the ignored test `name` of this binary in a process of its own, with
/// `MEMO_WARN_EMBEDDED` as given, expecting the warnings `expect` names.
fn child(name: &str, warn: Option<&str>, expect: &str) {
    let mut command = std::process::Command::new(std::env::current_exe().unwrap());
    command
        .args(["--exact", name, "--ignored", "--test-threads=1"])
        .env("MEMO_TEST_EXPECT", expect)
        .env_remove("MEMO_WARN_EMBEDDED");
    if let Some(warn) = warn {
        command.env("MEMO_WARN_EMBEDDED", warn);
    }
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "{name} with MEMO_WARN_EMBEDDED={warn:?}:\n{}",
        String::from_utf8_lossy(&output.stdout)
    );
}

fn expected() -> Vec<String> {
    let expect = std::env::var("MEMO_TEST_EXPECT").unwrap();
    expect
        .split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

#[test]
#[ignore = "run by the tests below, in a process of its own"]
fn explicit_backends() {
    let named = warned(|| {
        memo_core::set_backend(MemoryBackend::default());
        memo_core::set_backend_named("intended", MemoryBackend::default());
        for x in 0..3 {
            assert_eq!(on_default(x), x);
            assert_eq!(on_intended(x), x);
        }
    });
    assert!(named.is_empty(), "installed explicitly: {named:?}");
    let named = warned(|| {
        for x in 0..3 {
            assert_eq!(on_forgotten(x), x);
        }
    });
    assert_eq!(named, expected());
}

#[test]
#[ignore = "run by the tests below, in a process of its own"]
fn forgotten_default() {
    let named = warned(|| {
        for x in 0..3 {
            assert_eq!(on_default(x), x);
        }
    });
    assert_eq!(named, expected());
}

#[test]
fn a_forgotten_backend_is_warned_of_once_and_an_explicit_one_never() {
    child("explicit_backends", Some("1"), "forgotten");
    child("forgotten_default", Some("1"), "default");
}

#[test]
fn the_warning_is_for_release_builds_unless_asked_for() {
    // Tests build with debug assertions, like a developer's `cargo run`.
    let release = if cfg!(debug_assertions) {
        ""
    } else {
        "default"
    };
    child("forgotten_default", None, release);
    child("forgotten_default", Some("0"), "");
}
