//! The queues of a bounded [`Store`](super::Store): S3-FIFO's small, main
//! and ghost queues, and the recent per-key removals (fences).

use std::collections::VecDeque;

use super::FENCES_KEPT;

/// The ring of keys in insertion order and the recent per-key removals,
/// under one lock.
pub(super) struct Ring<K> {
    /// S3-FIFO's small queue: new keys, in insertion order, with the
    /// sequence number of their slot (a record whose slot was replaced or
    /// removed since is skipped). In an unbounded map, the only queue (for
    /// expiry).
    pub(super) records: VecDeque<(K, u64)>,
    /// S3-FIFO's main queue: keys read while in the small queue, keys
    /// written again, and keys the ghost queue remembers.
    pub(super) main: VecDeque<(K, u64)>,
    /// Hashes of keys evicted from the small queue unread, oldest first.
    pub(super) ghost: VecDeque<u64>,
    /// The same hashes, for membership: each in the slot its low bits
    /// name (a newer one overwrites an older one there, which is then
    /// forgotten early: a miss more, never a wrong value). No allocation
    /// per eviction, unlike a hash set.
    pub(super) ghosts: Vec<u64>,
    /// How many per-key removals there have been.
    pub(super) fence: u64,
    /// The last `FENCES_KEPT` of them: the hash of the key and the removal's
    /// number.
    pub(super) fences: VecDeque<(u64, u64)>,
}

impl<K> Ring<K> {
    /// Whether a fill holding a ticket taken at removal `since` may store
    /// under the key hashed to `hash`.
    pub(super) fn admits(&self, hash: u64, since: u64) -> bool {
        let missed = self.fence - since;
        if missed == 0 {
            return true;
        }
        if missed > self.fences.len() as u64 {
            return false;
        }
        !self
            .fences
            .iter()
            .rev()
            .take(missed as usize)
            .any(|&(h, _)| h == hash)
    }

    /// The slot of `hash` in `ghosts` (empty: none).
    pub(super) fn ghost_slot(&self, hash: u64) -> Option<usize> {
        let slots = self.ghosts.len();
        (slots > 0).then(|| hash as usize & (slots - 1))
    }

    /// Whether the ghost queue remembers `hash`; if so, it forgets it.
    pub(super) fn forget_ghost(&mut self, hash: u64) -> bool {
        let Some(slot) = self.ghost_slot(hash) else {
            return false;
        };
        // 0 marks an empty slot; a hash of 0 is remembered as 1.
        let mark = hash.max(1);
        let remembered = self.ghosts[slot] == mark;
        if remembered {
            self.ghosts[slot] = 0;
        }
        remembered
    }

    /// Remembers `hash` in the ghost queue, which holds at most `share`.
    pub(super) fn remember_ghost(&mut self, hash: u64, share: usize) {
        if self.ghosts.is_empty() {
            self.ghosts = vec![0; share.next_power_of_two()];
        }
        let mark = hash.max(1);
        if let Some(slot) = self.ghost_slot(hash) {
            self.ghosts[slot] = mark;
        }
        self.ghost.push_back(mark);
        while self.ghost.len() > share {
            let Some(old) = self.ghost.pop_front() else {
                break;
            };
            if let Some(slot) = self.ghost_slot(old) {
                if self.ghosts[slot] == old {
                    self.ghosts[slot] = 0;
                }
            }
        }
    }

    pub(super) fn fence(&mut self, hash: u64) {
        self.fence += 1;
        if self.fences.len() == FENCES_KEPT {
            self.fences.pop_front();
        }
        self.fences.push_back((hash, self.fence));
    }
}
