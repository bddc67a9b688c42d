//! Two writers on one file (each with its own connection, as two processes
//! would have) never lose a change.

mod support;

use std::collections::HashSet;

use embedgate_store::Lookup;
use support::{named, TestStore, NOW};

fn two_concurrent_writers_lose_nothing(t: TestStore) {
    const PER_WRITER: usize = 150;
    // Create the file first so both writers start from an initialised store.
    let setup = t.open();
    let shared = setup
        .create_embed_secret(&named("shared"), "setup", NOW)
        .expect("shared");
    let start_rev = setup.revision().expect("rev");
    drop(setup);
    let barrier = std::sync::Barrier::new(2);
    std::thread::scope(|scope| {
        for w in 0..2 {
            let t = &t;
            let barrier = &barrier;
            let shared_id = shared.secret.id.clone();
            scope.spawn(move || {
                let store = t.open();
                barrier.wait();
                for i in 0..PER_WRITER {
                    store
                        .create_embed_secret(
                            &named(&format!("w{w}-{i}")),
                            &format!("writer{w}"),
                            NOW,
                        )
                        .expect("create");
                    // Both writers also change one shared row: each toggle
                    // must be based on the other's last write.
                    if i % 10 == 0 {
                        store
                            .describe_embed_secret(
                                &Lookup::id(&shared_id),
                                &format!("w{w}-{i}"),
                                &format!("writer{w}"),
                                NOW,
                            )
                            .expect("describe");
                    }
                }
            });
        }
    });
    let store = t.open();
    let names: HashSet<String> = store
        .list_embed_secrets()
        .expect("list")
        .into_iter()
        .map(|m| m.name)
        .collect();
    assert_eq!(names.len(), 2 * PER_WRITER + 1);
    for w in 0..2 {
        for i in 0..PER_WRITER {
            assert!(names.contains(&format!("w{w}-{i}")), "lost w{w}-{i}");
        }
    }
    // Every change was logged and counted exactly once.
    let expected_changes = 2 * PER_WRITER as u64 + 2 * (PER_WRITER as u64).div_ceil(10);
    assert_eq!(store.revision().expect("rev"), start_rev + expected_changes);
    let history = store
        .embed_secret_history(&Lookup::id(&shared.secret.id))
        .expect("history");
    assert_eq!(
        history.len() as u64,
        1 + 2 * (PER_WRITER as u64).div_ceil(10)
    );
    // Every describe saw the previous one's result: the log chains old -> new.
    for pair in history[1..].windows(2) {
        assert_eq!(pair[1].changes[0].old, pair[0].changes[0].new);
    }
    let (_, keys) = store.load_embed_keys().expect("all decrypt");
    assert_eq!(keys.len(), 2 * PER_WRITER + 1);
}

/// Several processes opening a brand-new store at once: exactly one
/// migrates and records the key; all of them work.
fn concurrent_first_opens_of_a_fresh_store_agree(t: TestStore) {
    const OPENERS: usize = 4;
    let barrier = std::sync::Barrier::new(OPENERS);
    std::thread::scope(|scope| {
        for i in 0..OPENERS {
            let (t, barrier) = (&t, &barrier);
            scope.spawn(move || {
                barrier.wait();
                t.open()
                    .create_embed_secret(&named(&format!("opener-{i}")), "test", NOW)
                    .expect("create");
            });
        }
    });
    let store = t.open();
    assert_eq!(store.list_embed_secrets().expect("list").len(), OPENERS);
    assert_eq!(store.revision().expect("rev"), OPENERS as u64);
}

backend_tests!(
    concurrent_first_opens_of_a_fresh_store_agree,
    two_concurrent_writers_lose_nothing,
);
