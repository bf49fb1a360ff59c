use super::*;
use std::time::Duration;

#[test]
fn bound_holds() {
    let store = Store::<u64, u64>::new(Some(100));
    for k in 0..1000 {
        store.insert(k, k, None, store.ticket());
        assert!(store.len() <= 100, "len {} over the bound", store.len());
        assert_eq!(store.map.len(), store.len());
    }
    assert_eq!(store.len(), 100, "evicts one per insert, no more");
}

#[test]
fn recently_read_entries_survive_eviction() {
    let store = Store::<u64, u64>::new(Some(100));
    for k in 0..100 {
        store.insert(k, k, None, store.ticket());
    }
    for k in 100..1000 {
        assert_eq!(store.get(&0), Some(0), "hot key evicted before {k}");
        store.insert(k, k, None, store.ticket());
    }
    assert!(store.get(&999).is_some());
    assert!(store.ring.lock().unwrap().records.len() <= 200);
}

#[test]
fn overwrites_do_not_grow_the_ring_without_bound() {
    let store = Store::<u64, u64>::new(None);
    for round in 0..5000 {
        store.insert(round % 10, round, Some(1 << 40), store.ticket());
    }
    assert_eq!(store.len(), 10);
    assert!(store.ring.lock().unwrap().records.len() <= 1024 + 10);
}

#[test]
fn expired_entries_are_not_served_and_are_swept() {
    let store = Store::<u64, u64>::new(None);
    let ttl = clock::ticks(Duration::from_millis(30));
    store.insert(1, 1, Some(ttl), store.ticket());
    assert_eq!(store.get(&1), Some(1));
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while store.get(&1).is_some() {
        assert!(std::time::Instant::now() < deadline, "entry never expired");
        std::thread::sleep(Duration::from_millis(5));
    }
    for k in 2..10 {
        store.insert(k, k, Some(ttl), store.ticket());
    }
    assert!(
        store.map.read(&1, |_| ()).is_none(),
        "expired entry not reclaimed"
    );
}

#[test]
fn clearing_a_large_map_hides_everything_at_once_and_reclaims_later() {
    let store = Store::<u64, u64>::new(None);
    for k in 0..5000 {
        store.insert(k, k, None, store.ticket());
    }
    store.clear();
    assert!((0..5000).all(|k| store.get(&k).is_none()));
    store.insert(1, 1, None, store.ticket());
    assert_eq!(store.len(), 1, "the next insert reclaims the cleared slots");
    assert_eq!(store.get(&1), Some(1));
}

#[test]
fn both_maps_keep_the_same_promises() {
    for store in [
        Store::<u64, u64>::new(Some(50)),
        Store::per_instance(Some(50)),
    ] {
        for k in 0..500 {
            store.insert(k, k, None, store.ticket());
            assert!(store.len() <= 50);
        }
        assert_eq!(store.map.len(), store.len());
        assert_eq!(store.get(&499), Some(499));
        assert_eq!(store.insert_if_absent(499, 0, None), Err(499));
        assert_eq!(store.insert_if_absent(1000, 7, None), Ok(()));
        assert!(store.remove_if(&1000, |v| *v == 7));
        assert_eq!(store.get(&1000), None);
        let ticket = store.ticket();
        store.clear();
        store.insert(1, 1, None, ticket);
        assert_eq!(store.get(&499), None);
        assert_eq!(store.get(&1), None);
        assert_eq!(store.insert_if_absent(2, 2, None), Ok(()));
        assert_eq!(store.len(), 1);
    }
}

#[test]
fn values_computed_across_a_clear_are_dropped() {
    let store = Store::<u64, u64>::new(None);
    let ticket = store.ticket();
    store.clear();
    store.insert(1, 1, None, ticket);
    assert_eq!(store.get(&1), None);
    assert_eq!(store.len(), 0);
}

/// A fill that took its ticket before a removal of its key never stores
/// its value; fills of other keys do, until too many removals happened
/// to tell.
#[test]
fn a_removal_fences_the_fills_of_its_key_under_way() {
    for store in [Store::<u64, u64>::new(Some(10)), Store::per_instance(None)] {
        let ticket = store.ticket();
        store.remove(&1);
        assert!(
            !store.insert(1, 1, None, ticket),
            "computed across the removal"
        );
        assert_eq!(store.get(&1), None);
        assert!(store.insert(2, 2, None, ticket), "another key");
        assert!(store.insert(1, 3, None, store.ticket()), "a fresh fill");
        assert_eq!(store.get(&1), Some(3));

        let ticket = store.ticket();
        assert!(store.insert_fencing(5, 50, None, ticket));
        assert!(
            !store.insert(5, 49, None, ticket),
            "an older fill after a set"
        );
        assert_eq!(store.get(&5), Some(50));

        let ticket = store.ticket();
        for k in 100..100 + FENCES_KEPT as u64 {
            store.remove(&k);
        }
        assert!(
            store.insert(2, 20, None, ticket),
            "all removals still known"
        );
        store.remove(&1000);
        assert!(!store.insert(2, 21, None, ticket), "too many to tell");
    }
}

/// Entries read often survive a scan of one-time keys many times the
/// bound: the scan passes through the small queue and out.
#[test]
fn frequently_read_entries_survive_a_scan() {
    for store in [
        Store::<u64, u64>::new(Some(1000)),
        Store::per_instance(Some(1000)),
    ] {
        for k in 0..100 {
            store.insert(k, k, None, store.ticket());
        }
        for round in 0..3 {
            for k in 0..100 {
                assert_eq!(store.get(&k), Some(k), "hot key {k} lost in round {round}");
            }
        }
        for once in 1_000_000..1_010_000 {
            store.insert(once, once, None, store.ticket());
            if once % 500 == 0 {
                for k in 0..100 {
                    assert_eq!(
                        store.get(&k),
                        Some(k),
                        "hot key {k} lost to the scan at {once}"
                    );
                }
            }
        }
        assert!(store.len() <= 1000);
    }
}

/// A key evicted unread and soon asked for again (a loop a little over
/// the bound) is remembered, and kept the next time: such a loop hits.
#[test]
fn a_loop_a_little_over_the_bound_still_hits() {
    let store = Store::<u64, u64>::new(Some(1000));
    let (mut hits, mut requests) = (0, 0);
    for round in 0..20 {
        for k in 0..1200 {
            let hit = store.get(&k).is_some();
            if !hit {
                store.insert(k, k, None, store.ticket());
            }
            if round >= 5 {
                requests += 1;
                hits += usize::from(hit);
            }
        }
    }
    let ratio = hits as f64 / requests as f64;
    assert!(
        ratio > 0.5,
        "hit ratio {ratio:.2} on a loop over 1.2x the bound"
    );
}

/// Threads inserting at once never push the map over its bound.
#[test]
fn the_bound_holds_under_concurrent_inserts() {
    let store = Store::<u64, u64>::new(Some(500));
    std::thread::scope(|s| {
        for t in 0..4u64 {
            let store = &store;
            s.spawn(move || {
                for k in 0..20_000 {
                    store.insert(t * 1_000_000 + k, k, None, store.ticket());
                    if k % 7 == 0 {
                        store.get(&(t * 1_000_000 + k / 2));
                    }
                }
            });
        }
    });
    assert!(
        store.len() <= 500,
        "{} entries over a bound of 500",
        store.len()
    );
    assert_eq!(store.map.len(), store.len());
}

/// With room for one entry, a new key replaces the old one even when the
/// old one was read: an insert never evicts what it inserts.
#[test]
fn an_insert_never_evicts_itself() {
    for store in [
        Store::<u64, u64>::new(Some(1)),
        Store::per_instance(Some(1)),
    ] {
        store.insert(1, 1, None, store.ticket());
        assert_eq!(store.get(&1), Some(1));
        store.insert(2, 2, None, store.ticket());
        assert_eq!(store.get(&2), Some(2), "the new entry was evicted");
        assert_eq!(store.get(&1), None);
        assert_eq!(store.len(), 1);
    }
}

/// A weight bound holds like the entry bound, counting replaced and removed
/// entries out; an entry heavier than the whole bound is not stored, and
/// drops what its key held.
#[test]
fn a_weight_bound_holds() {
    let store = Store::<u64, Vec<u8>>::new(None).weighed(1000, Box::new(|_, v| v.len()));
    for k in 0..500u64 {
        let value = vec![0; (k % 40) as usize + 1];
        store.insert(k, value, None, store.ticket());
        assert!(
            store.weight() <= 1000,
            "weight {} over the bound",
            store.weight()
        );
    }
    let held: usize = (0..500u64)
        .filter_map(|k| store.get(&k))
        .map(|v| v.len())
        .sum();
    assert_eq!(
        held,
        store.weight(),
        "the weight is the sum of what is held"
    );
    assert!(store.len() > 20, "kept {} entries", store.len());
    let (evicted, _) = store.evictions();
    assert_eq!(evicted as usize, 500 - store.len(), "each eviction counted");

    store.set(7, vec![1; 10], None);
    assert_eq!(store.get(&7), Some(vec![1; 10]));
    store.set(7, vec![2; 1001], None);
    assert_eq!(
        store.get(&7),
        None,
        "too heavy to keep, and the old value is gone"
    );
    let held: usize = (0..500u64)
        .filter_map(|k| store.get(&k))
        .map(|v| v.len())
        .sum();
    assert_eq!(held, store.weight());
    store.remove(&8);
    store.clear();
    assert_eq!((store.len(), store.weight()), (0, 0));
}

/// Expired entries reclaimed at the front of the ring are counted apart
/// from evictions.
#[test]
fn reclaimed_expired_entries_are_counted() {
    let store = Store::<u64, u64>::new(None);
    for k in 0..10 {
        store.insert(k, k, Some(1), store.ticket());
    }
    std::thread::sleep(Duration::from_millis(30));
    for k in 10..20 {
        store.insert(k, k, None, store.ticket());
    }
    assert_eq!(store.evictions(), (0, 10));
    assert_eq!(store.len(), 10);
}
