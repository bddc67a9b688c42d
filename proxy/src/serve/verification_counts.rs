//! Verified uses per secret over the last 24 hours, for the admin console's
//! chart: a ring of 144 ten-minute buckets per secret, each an atomic
//! counter stamped with the bucket it counts. Noting a use is one relaxed
//! load and one `fetch_add` (plus a reset when a bucket rolls over); nothing
//! is written to the store.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

/// Seconds per bucket.
pub const BUCKET_SECS: u64 = 600;
/// Buckets kept: 24 hours.
pub const BUCKETS: usize = 144;

/// One secret's counters.
///
/// The ring (2.3 KB) is allocated on the secret's first use: a store of
/// 100,000 secrets, most of them idle at any moment, must not cost 230 MB.
#[derive(Debug, Default)]
pub struct VerificationCounts {
    ring: OnceLock<Box<Ring>>,
}

#[derive(Debug)]
struct Ring {
    counts: [AtomicU64; BUCKETS],
    /// Which bucket (Unix seconds / [`BUCKET_SECS`]) each slot counts.
    stamps: [AtomicU64; BUCKETS],
}

impl Ring {
    fn new() -> Self {
        Ring {
            counts: std::array::from_fn(|_| AtomicU64::new(0)),
            stamps: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

impl VerificationCounts {
    /// Notes one verified use at `now` (Unix seconds).
    pub fn record(&self, now: u64) {
        let ring = self.ring.get_or_init(|| Box::new(Ring::new()));
        let bucket = now / BUCKET_SECS;
        let slot = (bucket % BUCKETS as u64) as usize;
        let stamp = ring.stamps[slot].load(Ordering::Relaxed);
        if stamp != bucket {
            // The slot still holds a bucket from a day ago: the first use
            // in the new bucket resets it. A use racing the reset may be
            // lost; the chart is an estimate, the request path stays cheap.
            if ring.stamps[slot]
                .compare_exchange(stamp, bucket, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
            {
                ring.counts[slot].store(0, Ordering::Relaxed);
            }
        }
        ring.counts[slot].fetch_add(1, Ordering::Relaxed);
    }

    /// The last [`BUCKETS`] buckets ending with the one holding `now`,
    /// oldest first, as `(bucket start in Unix seconds, count)`.
    pub fn series(&self, now: u64) -> Vec<(u64, u64)> {
        let current = now / BUCKET_SECS;
        let ring = self.ring.get();
        (0..BUCKETS as u64)
            .rev()
            .filter_map(|back| current.checked_sub(back))
            .map(|bucket| {
                let slot = (bucket % BUCKETS as u64) as usize;
                let n = match ring {
                    Some(r) if r.stamps[slot].load(Ordering::Acquire) == bucket => {
                        r.counts[slot].load(Ordering::Relaxed)
                    }
                    _ => 0,
                };
                (bucket * BUCKET_SECS, n)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_bucket_and_forgets_after_a_day() {
        let c = VerificationCounts::default();
        let t0 = 1_700_000_000 - 1_700_000_000 % BUCKET_SECS;
        c.record(t0);
        c.record(t0 + 1);
        c.record(t0 + BUCKET_SECS);
        let s = c.series(t0 + BUCKET_SECS);
        assert_eq!(s.len(), BUCKETS);
        assert_eq!(s[BUCKETS - 1], (t0 + BUCKET_SECS, 1));
        assert_eq!(s[BUCKETS - 2], (t0, 2));
        assert_eq!(s.iter().map(|x| x.1).sum::<u64>(), 3);
        // A day later t0's slot counts afresh: t0's two uses are gone, the
        // use at t0 + BUCKET_SECS is now the oldest bucket in the window.
        let later = t0 + BUCKET_SECS * BUCKETS as u64;
        c.record(later);
        let s = c.series(later);
        assert_eq!(s[BUCKETS - 1], (later, 1));
        assert_eq!(s[0], (t0 + BUCKET_SECS, 1));
        assert_eq!(s.iter().map(|x| x.1).sum::<u64>(), 2);
        // An unused secret has an all-zero series and no ring.
        let idle = VerificationCounts::default();
        assert!(idle.series(later).iter().all(|x| x.1 == 0));
        assert!(idle.ring.get().is_none());
    }
}
