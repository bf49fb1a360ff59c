//! The shape of a value type, for the envelope's fingerprint: what makes a
//! value stored by one build decode as garbage (or as the wrong fields) in
//! another. A type's name does not say it: a struct whose same-typed fields
//! are reordered or renamed keeps its name, and postcard would decode the
//! old bytes into the new fields without complaint.
//!
//! The shape is traced from the type's `Deserialize` with `serde-reflection`
//! (its field names and order, their types, enum variants, recursively),
//! once per function, when its cache is built. A `Deserialize` that cannot
//! be traced (one that validates what it reads, or asks for
//! `deserialize_any`) falls back to the type's name alone: the fingerprint
//! then covers what it covered before.

use serde::de::DeserializeOwned;
use serde_reflection::{Samples, Tracer, TracerConfig};

/// A description of `V`'s shape, the same in every build whose `V` has the
/// same shape; `None` when it cannot be traced.
pub(crate) fn of<V: DeserializeOwned>() -> Option<String> {
    // A `Deserialize` of the user's may panic on what tracing feeds it:
    // that is no reason to fail the call.
    std::panic::catch_unwind(trace::<V>).ok().flatten()
}

/// More passes over the type after the first, each of which reaches more
/// variants of the enums nested in it (the first covers `V`'s own).
const MORE_PASSES: usize = 8;

fn trace<V: DeserializeOwned>() -> Option<String> {
    let mut tracer = Tracer::new(TracerConfig::default());
    let samples = Samples::new();
    let (format, _) = tracer.trace_type::<V>(&samples).ok()?;
    for _ in 0..MORE_PASSES {
        if tracer.trace_type_once::<V>(&samples).is_err() {
            break;
        }
    }
    // Tracing is deterministic: the same type gives the same description,
    // complete or not (an enum nested deep with many variants may be
    // described in part).
    let registry = tracer.registry_unchecked();
    Some(format!("{format:?} {registry:?}"))
}

#[cfg(test)]
mod tests {
    use super::of;

    mod before {
        #[derive(serde::Deserialize)]
        #[allow(dead_code)]
        pub(super) struct Row {
            pub(super) id: u64,
            pub(super) score: u64,
            pub(super) kind: Kind,
        }

        #[derive(serde::Deserialize)]
        #[allow(dead_code)]
        pub(super) enum Kind {
            A,
            B(u8),
        }
    }

    mod reordered {
        #[derive(serde::Deserialize)]
        #[allow(dead_code)]
        pub(super) struct Row {
            pub(super) score: u64,
            pub(super) id: u64,
            pub(super) kind: super::before::Kind,
        }
    }

    mod renamed {
        #[derive(serde::Deserialize)]
        #[allow(dead_code)]
        pub(super) struct Row {
            pub(super) id: u64,
            pub(super) points: u64,
            pub(super) kind: super::before::Kind,
        }
    }

    mod variant_added {
        #[derive(serde::Deserialize)]
        #[allow(dead_code)]
        pub(super) struct Row {
            pub(super) id: u64,
            pub(super) score: u64,
            pub(super) kind: Kind,
        }

        #[derive(serde::Deserialize)]
        #[allow(dead_code)]
        pub(super) enum Kind {
            A,
            B(u8),
            C,
        }
    }

    mod same {
        #[derive(serde::Deserialize)]
        #[allow(dead_code)]
        pub(super) struct Row {
            pub(super) id: u64,
            pub(super) score: u64,
            pub(super) kind: super::before::Kind,
        }
    }

    /// Types of one name whose fields are reordered or renamed, or whose
    /// enum gained a variant, have other shapes; the same shape declared
    /// elsewhere has the same one.
    #[test]
    fn shapes_tell_apart_what_names_do_not() {
        let before = of::<before::Row>().expect("traceable");
        assert_ne!(of::<reordered::Row>().unwrap(), before);
        assert_ne!(of::<renamed::Row>().unwrap(), before);
        assert_ne!(of::<variant_added::Row>().unwrap(), before);
        assert_eq!(of::<same::Row>().unwrap(), before);
        assert!(of::<(String, Vec<u32>, Option<bool>)>().is_some());
    }

    /// Recursive types trace (the tracer names a container once it has
    /// seen it), and deterministically.
    #[test]
    fn recursive_types_trace() {
        #[derive(serde::Deserialize)]
        #[allow(dead_code)]
        enum Tree {
            Leaf(u8),
            Node(Box<Tree>, Box<Tree>),
            Many(Vec<Tree>),
        }
        let shape = of::<Tree>().expect("traceable");
        assert_eq!(of::<Tree>().as_deref(), Some(shape.as_str()));
        assert!(shape.contains("Node") && shape.contains("Many"), "{shape}");
    }

    /// A `Deserialize` that cannot be traced gives no shape (the name is
    /// used alone), and never a panic.
    #[test]
    fn untraceable_types_give_no_shape() {
        struct Picky;
        impl<'de> serde::Deserialize<'de> for Picky {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let _ = serde::de::IgnoredAny::deserialize(d)?;
                panic!("validates and gives up")
            }
        }
        assert_eq!(of::<Picky>(), None);
    }
}
