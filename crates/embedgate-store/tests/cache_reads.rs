//! What a verifier's cache reads: a damaged row is reported on its own
//! and never fails the load; only what changed after a revision can be
//! read; `verify` names every damaged row.

mod support;

use embedgate_store::{
    Lookup, NewCredential, NewEmbedSecret, PutCredential, StoreError, SubjectKind,
};
use support::{named, TestStore, DAY, NOW};

fn a_damaged_row_is_reported_alone_and_the_others_load(t: TestStore) {
    let store = t.open();
    let a = store
        .create_embed_secret(&named("a"), "alice", NOW)
        .expect("a");
    let b = store
        .create_embed_secret(&named("b"), "alice", NOW)
        .expect("b");
    let c = store
        .create_embed_secret(&named("c"), "alice", NOW)
        .expect("c");
    t.copy_sealed(&a.secret.id, &b.secret.id);

    let load = store.load_keys().expect("the load itself succeeds");
    let mut readable: Vec<&str> = load.keys.iter().map(|k| k.id.as_str()).collect();
    readable.sort_unstable();
    let mut expected = vec![a.secret.id.as_str(), c.secret.id.as_str()];
    expected.sort_unstable();
    assert_eq!(readable, expected);
    assert_eq!(load.unreadable.len(), 1);
    let bad = &load.unreadable[0];
    assert_eq!(bad.id, b.secret.id);
    assert_eq!(bad.kind, SubjectKind::EmbedSecret);
    assert_eq!(bad.name, "b");
    assert_eq!(bad.client_id.as_deref(), Some(b.secret.client_id.as_str()));
    assert_eq!(bad.error.code(), "decrypt_failed");
    // Nothing of a value in the report.
    let shown = format!("{bad:?} {}", serde_json::to_string(bad).expect("json"));
    for v in [&a.value, &b.value, &c.value] {
        assert!(!shown.contains(v.as_str()), "{shown}");
    }
    // The strict load still refuses, naming the row.
    let err = store.load_embed_keys().expect_err("strict");
    assert_eq!(err.code(), "decrypt_failed");
    assert!(err.to_string().contains(&b.secret.id));
}

fn changes_since_a_revision_are_exactly_the_rows_changed(t: TestStore) {
    let store = t.open();
    let a = store
        .create_embed_secret(&named("a"), "alice", NOW)
        .expect("a");
    let b = store
        .create_embed_secret(&named("b"), "alice", NOW)
        .expect("b");
    let rev = store.revision().expect("rev");
    let none = store.changes_since(rev).expect("read").expect("told");
    assert_eq!(none.revision, rev);
    assert!(none.embed_ids.is_empty() && none.keys.is_empty());

    let c = store
        .create_embed_secret(&named("c"), "alice", NOW)
        .expect("c");
    store
        .deactivate_embed_secret(&Lookup::id(&a.secret.id), "alice", NOW + 1)
        .expect("off");
    store
        .delete_embed_secret(&Lookup::id(&b.secret.id), "alice", NOW + 2)
        .expect("delete");
    store
        .create_credential(
            &NewCredential {
                name: "up".into(),
                ..NewCredential::default()
            },
            "token-value-1",
            "alice",
            NOW,
        )
        .expect("credential");
    // Not a change: invisible.
    store
        .record_embed_usage(&[(c.secret.client_id.clone(), NOW + 3)])
        .expect("usage");

    let changes = store.changes_since(rev).expect("read").expect("told");
    assert_eq!(changes.revision, rev + 4);
    assert_eq!(changes.revision, store.revision().expect("rev"));
    let mut ids = changes.embed_ids.clone();
    ids.sort_unstable();
    let mut expected = vec![
        a.secret.id.clone(),
        b.secret.id.clone(),
        c.secret.id.clone(),
    ];
    expected.sort_unstable();
    assert_eq!(ids, expected);
    // The deleted one is absent from the keys; the others carry their state.
    assert_eq!(changes.keys.len(), 2);
    let a_now = changes
        .keys
        .iter()
        .find(|k| k.id == a.secret.id)
        .expect("a");
    assert!(!a_now.active);
    let c_now = changes
        .keys
        .iter()
        .find(|k| k.id == c.secret.id)
        .expect("c");
    assert_eq!(*c_now.value, *c.value);
    assert_eq!(changes.credential_ids.len(), 1);
    assert!(changes.unreadable.is_empty());

    // A damaged changed row is reported, the rest applies.
    t.copy_sealed(&a.secret.id, &c.secret.id);
    store
        .describe_embed_secret(&Lookup::id(&c.secret.id), "touched", "alice", NOW + 4)
        .expect("describe");
    let after = store.changes_since(rev + 4).expect("read").expect("told");
    assert_eq!(after.embed_ids, vec![c.secret.id.clone()]);
    assert!(after.keys.is_empty());
    assert_eq!(after.unreadable.len(), 1);
    assert_eq!(after.unreadable[0].id, c.secret.id);

    // Ahead of the store: the log cannot tell.
    assert!(store
        .changes_since(store.revision().expect("rev") + 1)
        .expect("read")
        .is_none());
}

fn too_many_changes_ask_for_a_full_load(t: TestStore) {
    let store = t.open();
    let rev = store.revision().expect("rev");
    let first = store
        .create_embed_secret(&named("first"), "alice", NOW)
        .expect("first");
    for i in 0..2000 {
        store
            .set_embed_expiry(
                &Lookup::id(&first.secret.id),
                Some(NOW + DAY + i),
                "alice",
                NOW,
            )
            .expect("expiry");
    }
    assert!(store.changes_since(rev).expect("read").is_none());
    assert!(store.changes_since(rev + 1).expect("read").is_some());
}

fn verify_names_every_damaged_row_of_both_kinds(t: TestStore) {
    let store = t.open();
    let a = store
        .create_embed_secret(&named("a"), "alice", NOW)
        .expect("a");
    let b = store
        .create_embed_secret(&named("b"), "alice", NOW)
        .expect("b");
    let ok = store.verify().expect("verify");
    assert_eq!(ok.rows_checked, 2);
    assert!(ok.unreadable.is_empty());
    assert_eq!(ok.master_key_id, store.master_key_id());

    let cred = store
        .put_credential(
            &PutCredential {
                name: "grafana".into(),
                ..PutCredential::default()
            },
            "credential-value",
            "alice",
            NOW,
        )
        .expect("put")
        .credential;
    t.copy_sealed(&a.secret.id, &b.secret.id);
    let (nonce, mut ct) = t.sealed_of(&cred.id);
    ct[0] ^= 1;
    t.set_sealed(&cred.id, &nonce, &ct);

    let report = store.verify().expect("verify");
    assert_eq!(report.rows_checked, 3);
    let mut bad: Vec<(&str, SubjectKind, &str)> = report
        .unreadable
        .iter()
        .map(|r| (r.id.as_str(), r.kind, r.name.as_str()))
        .collect();
    bad.sort_unstable_by_key(|b| b.0);
    let mut expected = vec![
        (b.secret.id.as_str(), SubjectKind::EmbedSecret, "b"),
        (cred.id.as_str(), SubjectKind::Credential, "grafana"),
    ];
    expected.sort_unstable_by_key(|b| b.0);
    assert_eq!(bad, expected);
    assert!(report
        .unreadable
        .iter()
        .all(|r| matches!(r.error, StoreError::DecryptFailed { .. })));
}

fn a_credential_that_fails_to_decrypt_names_its_row(t: TestStore) {
    let store = t.open();
    let cred = store
        .create_credential(
            &NewCredential {
                name: "up".into(),
                ..NewCredential::default()
            },
            "credential-value",
            "alice",
            NOW,
        )
        .expect("credential");
    let other = store
        .create_embed_secret(
            &NewEmbedSecret {
                name: "other".into(),
                ..NewEmbedSecret::default()
            },
            "alice",
            NOW,
        )
        .expect("other");
    t.copy_sealed(&other.secret.id, &cred.id);
    let err = store
        .credential_value_at("up", NOW + 1)
        .expect_err("damaged");
    assert_eq!(err.code(), "decrypt_failed");
    assert!(err.to_string().contains(&cred.id), "{err}");
}

backend_tests!(
    a_damaged_row_is_reported_alone_and_the_others_load,
    changes_since_a_revision_are_exactly_the_rows_changed,
    too_many_changes_ask_for_a_full_load,
    verify_names_every_damaged_row_of_both_kinds,
    a_credential_that_fails_to_decrypt_names_its_row,
);
