//! The replay cache of spec §3 step 7: which `(eg_kid, eg_nonce)` pairs were
//! accepted, each kept until `eg_exp + skew` (after which the URL fails as
//! `expired` anyway). Bounded in entries; when full of live entries it
//! refuses new URLs (fails closed) rather than forget one that could still
//! be replayed.
//!
//! Entries are 128-bit SHA-256 digests of the pair, in shards to spread lock
//! contention; each shard keeps a time-ordered index to drop expired entries.

use std::collections::{BTreeSet, HashMap};
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
/// out of an attacker's control, so the map takes their upper half as the
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

#[derive(Default)]
struct Shard {
    until: HashMap<u128, u64, BuildHasherDefault<IdHasher>>,
    by_time: BTreeSet<(u64, u128)>,
}

impl Shard {
    fn purge(&mut self, now: u64) {
        while let Some(&(t, id)) = self.by_time.first() {
            if t >= now {
                break;
            }
            self.by_time.pop_first();
            self.until.remove(&id);
        }
    }
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
        ReplayCache {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            per_shard: capacity.div_ceil(SHARDS).max(1),
        }
    }

    /// Claims `(kid, nonce)` at `now`, to be remembered until `until`.
    pub fn claim(&self, kid: &str, nonce: &str, until: u64, now: u64) -> Claim {
        let mut h = Sha256::new();
        h.update((kid.len() as u64).to_be_bytes());
        h.update(kid.as_bytes());
        h.update(nonce.as_bytes());
        let digest = h.finalize();
        let mut id_bytes = [0u8; 16];
        id_bytes.copy_from_slice(&digest[..16]);
        let id = u128::from_be_bytes(id_bytes);
        let shard = &self.shards[(id as usize) % SHARDS];
        let mut s = match shard.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some(&t) = s.until.get(&id) {
            if t >= now {
                return Claim::Replayed;
            }
        }
        s.purge(now);
        if s.until.len() >= self.per_shard {
            return Claim::Full;
        }
        s.until.insert(id, until);
        s.by_time.insert((until, id));
        Claim::Fresh
    }

    /// Entries held (including expired ones not yet purged).
    pub fn entries(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().map_or(0, |g| g.until.len()))
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
}
