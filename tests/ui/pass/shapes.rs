//! Every supported signature shape compiles and runs.
use memo_core::{memoized, quickcache, HasMemos, Memos};
use serde::{Deserialize, Serialize};

#[memoized]
fn no_args() -> u32 {
    1
}

#[memoized(timeout = 1.5, max_entries = 10)]
fn owned_and_borrowed(a: String, b: &str, c: &[u8], mut d: u32) -> String {
    d += 1;
    format!("{a}{b}{}{d}", c.len())
}

#[memoized]
fn with_lifetime<'a>(a: &'a str) -> usize {
    a.len()
}

#[memoized]
fn unit_return(_ignored: u8) {}

#[quickcache]
pub fn public_quick(x: u64, y: &str) -> Vec<String> {
    vec![format!("{x}{y}")]
}

#[quickcache(vary_on = [])]
fn constant(_x: u64) -> u64 {
    7
}

#[derive(Serialize)]
struct Pair(u8, (u8, u8));

#[quickcache(vary_on = [p.1.0, p.0], name = "shapes::tuple_fields", timeout = 10, memoize_timeout = 0.25, max_entries = 5)]
fn tuple_fields(p: &Pair) -> Option<u8> {
    Some(p.0 + (p.1).0)
}

#[derive(Serialize, Deserialize, Clone)]
struct Out {
    v: Result<u8, String>,
}

#[quickcache(codec = memo_core::codec::Bincode)]
fn result_value(x: u8) -> Out {
    Out { v: Ok(x) }
}

#[derive(Serialize, Default)]
struct Service {
    id: u32,
    #[serde(skip)]
    memos: Memos,
}

impl HasMemos for Service {
    fn memos(&self) -> &Memos {
        &self.memos
    }
}

impl Service {
    #[memoized]
    fn per_instance(&self, x: &str) -> String {
        format!("{}{x}", self.id)
    }

    #[quickcache]
    fn whole_self(&self) -> u32 {
        self.id
    }

    #[quickcache(vary_on = [self.id, x])]
    pub fn keyed(&self, x: u8) -> u32 {
        self.id + u32::from(x)
    }
}

#[cfg(any())]
#[memoized]
fn compiled_out(x: NoSuchType) -> u8 {
    0
}

fn main() {
    assert_eq!(no_args(), 1);
    assert_eq!(owned_and_borrowed("a".into(), "b", &[1, 2], 3), "ab24");
    assert_eq!(with_lifetime("abc"), 3);
    unit_return(1);
    assert_eq!(public_quick(1, "y"), vec!["1y".to_string()]);
    assert_eq!(constant(1), 7);
    assert_eq!(constant(2), 7);
    assert_eq!(tuple_fields(&Pair(1, (2, 3))), Some(3));
    assert!(result_value(1).v.is_ok());
    let s = Service { id: 3, ..Default::default() };
    assert_eq!(s.per_instance("x"), "3x");
    assert_eq!(s.whole_self(), 3);
    assert_eq!(s.keyed(1), 4);
    Service::keyed_invalidate().unwrap();
    Service::whole_self_invalidate().unwrap();
    s.per_instance_invalidate();
}
