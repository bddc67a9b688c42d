//! The replay cache of spec §3 step 7: which `(eg_kid, eg_nonce)` pairs were
//! accepted, each kept until `eg_exp + skew` (after which the URL fails as
//! `expired` anyway). Bounded in entries; when full of live entries it
//! refuses new URLs (fails closed) rather than forget one that could still
//! be replayed.
//!
//! Entries are 128-bit SHA-256 digests of the pair, in shards to spread lock
//! contention. Each shard indexes its entries by expiry second: one bucket
//! (a `Vec`) per second, so remembering an entry is a push and forgetting
//! the expired ones drops whole buckets. (A `BTreeSet` of `(until, id)` cost
//! a tree insert and about twice the memory per entry, which under load
//! showed as cache misses and page faults.)

use std::collections::{BTreeMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Mutex;

use sha2::{Digest, Sha256};

const SHARDS: usize = 16;

/// The verdict for a nonce.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Claim {
    /// First use: now remembered.
    Fresh,
    /// Seen before.
    Replayed,
    /// The cache is full of entries still live: refuse for now.
    Full,
    /// The shared replay store (Redis) cannot answer.
    Unavailable,
}

/// Entry ids are SHA-256 digests of authenticated `(kid, nonce)` pairs
/// (claims come after the URL's signature is checked): uniform already, and
/// out of an attacker's control, so the set takes their upper half as the
/// hash instead of hashing again. (The lower bits pick the shard.)
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write_u128(&mut self, id: u128) {
        self.0 = (id >> 64) as u64;
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `u128` keys are hashed here; anything else still spreads.
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// One shard. Invariant: every id in `ids` is in exactly one bucket of
/// `expiring`, and every id in a bucket is in `ids`. It holds because an id
/// is pushed only when it is not in `ids`, and leaves `ids` only when its
/// bucket is dropped. Purging before every lookup then makes every id in
/// `ids` live (its bucket's second is not past), so the set needs no expiry
/// of its own.
#[derive(Default)]
struct Shard {
    ids: HashSet<u128, BuildHasherDefault<IdHasher>>,
    /// Ids by the second they are kept until.
    expiring: BTreeMap<u64, Vec<u128>>,
    /// The emptied `Vec` of a dropped bucket, for the next new one: in a
    /// steady state one bucket ends and one starts every second, and the
    /// new one starts with the room the old one had.
    spare: Vec<u128>,
}

impl Shard {
    /// Forgets the entries kept until before `now`.
    fn purge(&mut self, now: u64) {
        while let Some(bucket) = self.expiring.first_entry() {
            if *bucket.key() >= now {
                break;
            }
            let mut ids = bucket.remove();
            for id in &ids {
                self.ids.remove(id);
            }
            ids.clear();
            if ids.capacity() > self.spare.capacity() {
                self.spare = ids;
            }
        }
    }

    /// Claims `id` (after `purge`): `bound` is the most entries it holds.
    fn claim(&mut self, id: u128, until: u64, bound: usize) -> Claim {
        if self.ids.len() >= bound {
            return if self.ids.contains(&id) {
                Claim::Replayed
            } else {
                Claim::Full
            };
        }
        if !self.ids.insert(id) {
            return Claim::Replayed;
        }
        let spare = &mut self.spare;
        self.expiring
            .entry(until)
            .or_insert_with(|| std::mem::take(spare))
            .push(id);
        Claim::Fresh
    }
}

/// The entry id of `(kid, nonce)`.
fn entry_id(kid: &str, nonce: &str) -> u128 {
    let mut h = Sha256::new();
    h.update((kid.len() as u64).to_be_bytes());
    h.update(kid.as_bytes());
    h.update(nonce.as_bytes());
    let digest = h.finalize();
    let mut id_bytes = [0u8; 16];
    id_bytes.copy_from_slice(&digest[..16]);
    u128::from_be_bytes(id_bytes)
}

fn shard_of(id: u128) -> usize {
    (id as usize) % SHARDS
}

/// A bounded set of claimed nonces.
pub struct ReplayCache {
    shards: Vec<Mutex<Shard>>,
    per_shard: usize,
}

impl std::fmt::Debug for ReplayCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplayCache")
            .field("capacity", &(self.per_shard * SHARDS))
            .finish_non_exhaustive()
    }
}

impl ReplayCache {
    /// A cache of at most about `capacity` entries.
    pub fn new(capacity: usize) -> Self {
        // The sets start empty and grow: reserving room up front (4096
        // entries a shard) saved no page faults under load, as those come
        // from the entries' memory being touched, not from rehashing.
        ReplayCache {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            per_shard: capacity.div_ceil(SHARDS).max(1),
        }
    }

    /// Claims `(kid, nonce)` at `now`, to be remembered until `until`.
    pub fn claim(&self, kid: &str, nonce: &str, until: u64, now: u64) -> Claim {
        let id = entry_id(kid, nonce);
        let shard = &self.shards[shard_of(id)];
        let mut s = match shard.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        s.purge(now);
        s.claim(id, until, self.per_shard)
    }

    /// Entries held (including expired ones not yet purged).
    pub fn entries(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().map_or(0, |g| g.ids.len()))
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_then_replayed_then_forgotten_after_expiry() {
        let c = ReplayCache::new(100);
        assert_eq!(c.claim("k", "n1", 110, 100), Claim::Fresh);
        assert_eq!(c.claim("k", "n1", 110, 105), Claim::Replayed);
        assert_eq!(c.claim("k2", "n1", 110, 105), Claim::Fresh);
        assert_eq!(c.claim("k", "n1", 130, 111), Claim::Fresh);
    }

    #[test]
    fn bounded_and_fails_closed() {
        let c = ReplayCache::new(SHARDS);
        let mut full = 0;
        for i in 0..200 {
            if c.claim("k", &format!("nonce{i}"), 1000, 0) == Claim::Full {
                full += 1;
            }
        }
        assert!(c.entries() <= SHARDS);
        assert!(full >= 200 - SHARDS);
        // Expired entries make room again.
        assert_eq!(c.claim("k", "later", 5000, 2000), Claim::Fresh);
    }

    impl Shard {
        /// The invariant of `Shard`, checked; returns the ids per bucket.
        fn buckets(&self) -> Vec<(u64, usize)> {
            let mut seen = HashSet::new();
            for ids in self.expiring.values() {
                assert!(!ids.is_empty(), "no empty bucket is kept");
                for id in ids {
                    assert!(seen.insert(*id), "{id:x} in two buckets");
                    assert!(self.ids.contains(id), "{id:x} bucketed, not held");
                }
            }
            assert_eq!(seen.len(), self.ids.len(), "an id held in no bucket");
            self.expiring.iter().map(|(t, v)| (*t, v.len())).collect()
        }
    }

    #[test]
    fn live_through_until_and_forgotten_after() {
        let mut s = Shard::default();
        assert_eq!(s.claim(1, 10, 100), Claim::Fresh);
        for now in [0, 9, 10] {
            s.purge(now);
            assert_eq!(s.claim(1, 99, 100), Claim::Replayed, "at {now}");
        }
        s.purge(11);
        assert!(s.buckets().is_empty());
        // Claimed again after expiry: kept until its new `until`, once.
        assert_eq!(s.claim(1, 20, 100), Claim::Fresh);
        assert_eq!(s.buckets(), [(20, 1)]);
        s.purge(20);
        assert_eq!(s.claim(1, 30, 100), Claim::Replayed);
        s.purge(21);
        assert_eq!(s.claim(1, 30, 100), Claim::Fresh);
        assert_eq!(s.buckets(), [(30, 1)]);
    }

    #[test]
    fn purge_drops_exactly_the_expired_buckets() {
        let mut s = Shard::default();
        // Untils out of order, several ids per second.
        let untils = [50, 20, 30, 20, 40, 30, 20, 50];
        for (id, until) in untils.into_iter().enumerate() {
            assert_eq!(s.claim(id as u128, until, 100), Claim::Fresh);
        }
        assert_eq!(s.buckets(), [(20, 3), (30, 2), (40, 1), (50, 2)]);
        s.purge(20);
        assert_eq!(s.buckets(), [(20, 3), (30, 2), (40, 1), (50, 2)]);
        s.purge(31);
        assert_eq!(s.buckets(), [(40, 1), (50, 2)]);
        for (id, until) in untils.into_iter().enumerate() {
            let expect = if until >= 31 {
                Claim::Replayed
            } else {
                Claim::Fresh
            };
            assert_eq!(s.claim(id as u128, 60, 100), expect, "id {id}");
        }
        // The ids forgotten at 31 are back, in the bucket of 60 (whose
        // `Vec` is the reused one of a dropped bucket).
        assert_eq!(s.buckets(), [(40, 1), (50, 2), (60, 5)]);
        s.purge(u64::MAX);
        assert!(s.buckets().is_empty());
        assert!(s.ids.is_empty());
    }

    #[test]
    fn full_of_live_entries_refuses_until_they_expire() {
        let mut s = Shard::default();
        for id in 0..4 {
            assert_eq!(s.claim(id, 10 + id as u64, 4), Claim::Fresh);
        }
        // Full: a new id is refused and not remembered; a held one is
        // still a replay.
        assert_eq!(s.claim(100, 50, 4), Claim::Full);
        assert_eq!(s.claim(2, 50, 4), Claim::Replayed);
        assert_eq!(s.buckets(), [(10, 1), (11, 1), (12, 1), (13, 1)]);
        s.purge(10);
        assert_eq!(s.claim(100, 50, 4), Claim::Full);
        // One expired entry makes room for one.
        s.purge(11);
        assert_eq!(s.claim(100, 50, 4), Claim::Fresh);
        assert_eq!(s.claim(101, 50, 4), Claim::Full);
        assert_eq!(s.buckets(), [(11, 1), (12, 1), (13, 1), (50, 1)]);
    }

    #[test]
    fn the_cache_bound_holds_across_shards() {
        let c = ReplayCache::new(64);
        let per_shard = 64 / SHARDS;
        // The untils each shard accepted.
        let mut accepted = vec![Vec::new(); SHARDS];
        for i in 0..2000u64 {
            let (nonce, until) = (format!("n{i}"), 100 + i % 7);
            let shard = shard_of(entry_id("k", &nonce));
            match c.claim("k", &nonce, until, 0) {
                Claim::Fresh => accepted[shard].push(until),
                Claim::Full => assert_eq!(accepted[shard].len(), per_shard, "full early"),
                other => panic!("{other:?}"),
            }
        }
        // Every shard filled to its bound, and no further.
        assert!(accepted.iter().all(|a| a.len() == per_shard));
        assert_eq!(c.entries(), 64);
        // At 103 each shard keeps what it accepted until 103 or later, and
        // takes new entries as far as that made room.
        for i in 0..200 {
            let nonce = format!("m{i}");
            let shard = shard_of(entry_id("k", &nonce));
            accepted[shard].retain(|&t| t >= 103);
            let expect = if accepted[shard].len() < per_shard {
                accepted[shard].push(200);
                Claim::Fresh
            } else {
                Claim::Full
            };
            assert_eq!(c.claim("k", &nonce, 200, 103), expect, "{nonce}");
        }
        for (shard, accepted) in c.shards.iter().zip(&accepted) {
            let s = shard.lock().expect("lock");
            let held: usize = s.buckets().iter().map(|b| b.1).sum();
            assert_eq!(held, accepted.len());
            assert!(s.buckets().iter().all(|b| b.0 >= 103));
        }
        assert_eq!(c.entries(), accepted.iter().map(Vec::len).sum::<usize>());
        // Some, not all, of the first entries expired at 103.
        let kept = accepted.iter().flatten().filter(|&&t| t < 200).count();
        assert!(kept > 0 && kept < 64, "{kept}");
    }
}
