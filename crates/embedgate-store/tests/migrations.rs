//! A store written before the change log recorded revisions (schema
//! version 2, the previous release) opens, is migrated in place, keeps
//! every secret and its history, and from then on can be read change by
//! change.

mod support;

use embedgate_store::Lookup;
use support::{named, TestStore, NOW};

/// Turns a current store back into the previous release's schema
/// (version 2): migration 3 only added a column and two indexes.
fn downgrade_to_version_2(t: &TestStore) {
    t.raw_batch(
        "DROP INDEX change_log_revision; DROP INDEX secrets_kind_name_id; \
         ALTER TABLE change_log DROP COLUMN revision; PRAGMA user_version = 2;",
        "DROP INDEX change_log_revision; DROP INDEX secrets_kind_name_id; \
         ALTER TABLE change_log DROP COLUMN revision; \
         UPDATE store_meta SET value = 2 WHERE key = 'schema_version';",
    );
}

fn a_version_2_store_opens_and_keeps_everything(t: TestStore) {
    let (a, b, rev) = {
        let store = t.open();
        let a = store
            .create_embed_secret(&named("a"), "alice", NOW)
            .expect("a");
        let b = store
            .create_embed_secret(&named("b"), "alice", NOW)
            .expect("b");
        store
            .describe_embed_secret(&Lookup::id(&a.secret.id), "old", "alice", NOW + 1)
            .expect("describe");
        (a, b, store.revision().expect("rev"))
    };
    downgrade_to_version_2(&t);

    let store = t.open();
    assert_eq!(store.revision().expect("rev"), rev);
    let (_, keys) = store.load_embed_keys().expect("every value decrypts");
    assert_eq!(keys.len(), 2);
    assert_eq!(
        *store
            .reveal_embed_secret_value(&Lookup::id(&b.secret.id))
            .expect("b"),
        *b.value
    );
    let history = store
        .embed_secret_history(&Lookup::id(&a.secret.id))
        .expect("history");
    assert_eq!(history.len(), 2);
    // The old entries carry no revision: the log cannot say what changed
    // since before the upgrade, so a reader loads everything once...
    assert!(store.changes_since(rev - 1).expect("read").is_none());
    // ...and from then on, change by change.
    assert!(store
        .changes_since(rev)
        .expect("read")
        .is_some_and(|c| c.embed_ids.is_empty()));
    store
        .delete_embed_secret(&Lookup::id(&a.secret.id), "alice", NOW + 2)
        .expect("delete");
    let changes = store.changes_since(rev).expect("read").expect("told");
    assert_eq!(changes.embed_ids, vec![a.secret.id.clone()]);
    assert!(changes.keys.is_empty());
    // Paging works on the migrated store.
    let page = store
        .list_embed_secrets_page(&embedgate_store::ListRequest::first(10))
        .expect("page");
    assert_eq!(page.items.len(), 1);
    // Opening again does not migrate again.
    drop(store);
    assert_eq!(t.open().revision().expect("rev"), rev + 1);
}

backend_tests!(a_version_2_store_opens_and_keeps_everything);
