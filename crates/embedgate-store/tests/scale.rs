//! Creating many secrets stays as fast at the end as at the start: no
//! write scans the table or the change log. A benchmark, ignored by
//! default (it writes 20,000 rows per backend):
//!
//! ```sh
//! cargo test -p embedgate-store --release --test scale -- --ignored --nocapture
//! ```

mod support;

use std::time::{Duration, Instant};

use support::{named, TestStore, NOW};

const SECRETS: usize = 20_000;
const BATCH: usize = 1_000;

fn creating_20000_secrets_does_not_slow_down(t: TestStore) {
    let store = t.open();
    let mut batches: Vec<Duration> = Vec::with_capacity(SECRETS / BATCH);
    for b in 0..SECRETS / BATCH {
        let started = Instant::now();
        for i in 0..BATCH {
            store
                .create_embed_secret(&named(&format!("s{b:02}-{i:04}")), "bench", NOW)
                .expect("create");
        }
        batches.push(started.elapsed());
    }
    let ms = |d: &Duration| d.as_secs_f64() * 1000.0;
    let first = ms(&batches[0]);
    let last = ms(&batches[batches.len() - 1]);
    // The best of the first three against the best of the last three: the
    // machine's noise (another build, an fsync stall) is not the store's.
    let best = |s: &[Duration]| s.iter().map(ms).fold(f64::INFINITY, f64::min);
    let early = best(&batches[..3]);
    let late = best(&batches[batches.len() - 3..]);
    println!(
        "{}: {SECRETS} creates; first {BATCH}: {first:.0} ms ({:.2} ms/create), last {BATCH}: {last:.0} ms ({:.2} ms/create); best of first 3 batches {early:.0} ms, best of last 3 {late:.0} ms; all batches (ms): {:?}",
        if t.is_postgres() { "postgres" } else { "sqlite" },
        first / BATCH as f64,
        last / BATCH as f64,
        batches.iter().map(|d| ms(d).round() as u64).collect::<Vec<_>>(),
    );
    assert!(
        late <= early * 1.2,
        "the last thousand creates took {late:.0} ms, the first {early:.0} ms"
    );
    // And the changes since the start are still read row by row.
    let load = store.load_keys().expect("load");
    assert_eq!(load.keys.len(), SECRETS);
}

mod sqlite {
    #[test]
    #[ignore = "benchmark: 20,000 creates"]
    fn creating_20000_secrets_does_not_slow_down() {
        super::creating_20000_secrets_does_not_slow_down(super::support::TestStore::sqlite())
    }
}

mod postgres {
    #[test]
    #[ignore = "benchmark: 20,000 creates"]
    fn creating_20000_secrets_does_not_slow_down() {
        super::creating_20000_secrets_does_not_slow_down(super::support::TestStore::postgres())
    }
}
