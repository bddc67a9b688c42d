//! Encryption at rest: values never in the file in plain text, a wrong key
//! refused without writing, tampered or moved ciphertexts refused, master
//! key rotation.

mod support;

use embedgate_store::{Lookup, MasterKey, NewCredential, Store};
use support::{contains, named, wal_path, TestStore, NOW};

// The same tests run on both backends: an open store's bytes are the SQLite
// file and WAL, or every row and bytea column of the PostgreSQL schema.

fn values_are_absent_from_the_database_file_and_wal(t: TestStore) {
    let store = t.open();
    let mut values = Vec::new();
    for i in 0..20 {
        let c = store
            .create_embed_secret(&named(&format!("s{i}")), "alice", NOW)
            .expect("create");
        values.push(c.value.to_string());
    }
    let cred = "upstream-token-ThisIsAVeryRecognisableCredential-42";
    store
        .create_credential(
            &NewCredential {
                name: "grafana".into(),
                ..NewCredential::default()
            },
            cred,
            "alice",
            NOW,
        )
        .expect("credential");
    values.push(cred.to_owned());
    if !t.is_postgres() {
        // While open, recent changes sit in the WAL; check it is really
        // there and not empty, so the scan below means something.
        assert!(
            std::fs::metadata(wal_path(t.path())).expect("wal").len() > 0,
            "expected a WAL file with content"
        );
    }
    let names_seen = t.stored_bytes();
    assert!(
        contains(&names_seen, b"s19"),
        "the scan sees plain metadata"
    );
    for v in &values {
        assert!(
            !contains(&names_seen, v.as_bytes()),
            "a value is in plain text"
        );
    }
    drop(store);
    let after_close = t.stored_bytes();
    assert!(contains(&after_close, b"grafana"));
    for v in &values {
        assert!(!contains(&after_close, v.as_bytes()));
    }
    // And the values are all still there, encrypted.
    let (_, keys) = t.open().load_embed_keys().expect("load");
    for k in &keys {
        assert!(values.iter().any(|v| v.as_str() == k.value.as_str()));
    }
    assert_eq!(keys.len(), 20);
}

fn a_wrong_master_key_is_refused_without_writing(t: TestStore) {
    {
        let store = t.open();
        store
            .create_embed_secret(&named("one"), "alice", NOW)
            .expect("create");
    }
    let before = t.stored_bytes();
    let wrong = MasterKey::generate();
    let err = Store::open(&t.url, wrong.clone()).expect_err("wrong key");
    assert_eq!(err.code(), "wrong_master_key");
    let msg = err.to_string();
    assert!(
        msg.contains(t.key.id()) && msg.contains(wrong.id()),
        "{msg}"
    );
    assert!(t.stored_bytes() == before, "a refused open wrote something");
    // The right key still works.
    assert_eq!(t.open().list_embed_secrets().expect("list").len(), 1);
}

fn a_flipped_ciphertext_byte_fails_to_decrypt_clearly(t: TestStore) {
    let store = t.open();
    let a = store
        .create_embed_secret(&named("a"), "alice", NOW)
        .expect("a");
    let (nonce, mut ct) = t.sealed_of(&a.secret.id);
    ct[3] ^= 0x01;
    t.set_sealed(&a.secret.id, &nonce, &ct);
    let err = store.load_embed_keys().expect_err("tampered");
    assert_eq!(err.code(), "decrypt_failed");
    let msg = err.to_string();
    assert!(msg.contains(&a.secret.id), "{msg}");
    assert!(msg.contains("authentication failed"), "{msg}");
    assert!(!msg.contains(a.value.as_str()));
    // A fresh open (the canary is intact) reports the same.
    assert_eq!(
        t.open()
            .reveal_embed_secret_value(&Lookup::id(&a.secret.id))
            .expect_err("tampered")
            .code(),
        "decrypt_failed"
    );
}

fn a_ciphertext_copied_onto_another_row_fails_to_decrypt(t: TestStore) {
    let store = t.open();
    let a = store
        .create_embed_secret(&named("a"), "alice", NOW)
        .expect("a");
    let b = store
        .create_embed_secret(&named("b"), "alice", NOW)
        .expect("b");
    assert_eq!(
        t.tamper_text(
            "UPDATE secrets SET (nonce, ciphertext) = \
             (SELECT nonce, ciphertext FROM secrets WHERE id = ?1) WHERE id = ?2",
            &[&a.secret.id, &b.secret.id],
        ),
        1
    );
    let err = store
        .reveal_embed_secret_value(&Lookup::id(&b.secret.id))
        .expect_err("moved");
    assert_eq!(err.code(), "decrypt_failed");
    assert!(err.to_string().contains(&b.secret.id));
    // The source row is untouched.
    assert_eq!(
        *store
            .reveal_embed_secret_value(&Lookup::id(&a.secret.id))
            .expect("a"),
        *a.value
    );
}

fn an_old_credential_version_replayed_fails_to_decrypt(t: TestStore) {
    let store = t.open();
    let c = store
        .create_credential(
            &NewCredential {
                name: "up".into(),
                ..NewCredential::default()
            },
            "first-value-0123456789",
            "alice",
            NOW,
        )
        .expect("create");
    let (nonce, ct) = t.sealed_of(&c.id);
    store
        .replace_credential_value(
            &Lookup::id(&c.id),
            "second-value-0123456789",
            None,
            "bob",
            NOW + 1,
        )
        .expect("replace");
    t.set_sealed(&c.id, &nonce, &ct);
    assert_eq!(
        store
            .credential_value_at("up", NOW + 2)
            .expect_err("replayed")
            .code(),
        "decrypt_failed"
    );
}

fn rotation_reencrypts_every_row_and_retires_the_old_key(t: TestStore) {
    let store = t.open();
    let mut values = Vec::new();
    for i in 0..30 {
        let c = store
            .create_embed_secret(&named(&format!("s{i}")), "alice", NOW)
            .expect("create");
        values.push((c.secret.id.clone(), c.value.to_string()));
    }
    store
        .create_credential(
            &NewCredential {
                name: "up".into(),
                ..NewCredential::default()
            },
            "credential-value-abcdefgh",
            "alice",
            NOW,
        )
        .expect("cred");
    let new_key = MasterKey::generate();
    let rev = store.revision().expect("rev");
    let report = store
        .rotate_master_key(new_key.clone(), "alice", NOW + 10)
        .expect("rotate");
    assert_eq!(report.rows_reencrypted, 31);
    assert!(!report.already_current);
    assert_eq!(report.old_key_id, t.key.id());
    assert!(store.revision().expect("rev") > rev);
    // The same handle keeps working, under the new key.
    assert_eq!(store.master_key_id(), new_key.id());
    assert_eq!(store.load_embed_keys().expect("load").1.len(), 30);
    drop(store);

    let err = Store::open(&t.url, t.key.clone()).expect_err("old key");
    assert_eq!(err.code(), "wrong_master_key");
    assert!(err.to_string().contains("retired"), "{err}");

    let store = Store::open(&t.url, new_key.clone()).expect("new key");
    for (id, v) in &values {
        let got = store
            .reveal_embed_secret_value(&Lookup::id(id))
            .expect("readable");
        assert_eq!(got.as_str(), v);
        assert_eq!(
            store
                .get_embed_secret(&Lookup::id(id))
                .expect("meta")
                .master_key_id,
            new_key.id()
        );
    }
    assert_eq!(
        store
            .credential_value_at("up", NOW + 11)
            .expect("cred")
            .expect("some")
            .as_str(),
        "credential-value-abcdefgh"
    );
    // Re-running with the new key is a no-op.
    let again = store
        .rotate_master_key(new_key, "alice", NOW + 20)
        .expect("rerun");
    assert!(again.already_current);
    assert_eq!(again.rows_reencrypted, 0);
    let log = store
        .audit(
            &embedgate_store::AuditFilter {
                kind: Some(embedgate_store::SubjectKind::MasterKey),
                ..Default::default()
            },
            embedgate_store::Page::default(),
        )
        .expect("audit");
    assert_eq!(log.entries.len(), 1);
    assert_eq!(
        log.entries[0].action,
        embedgate_store::ChangeAction::RotateMasterKey
    );
}

fn a_second_handle_refuses_to_write_after_another_rotated(t: TestStore) {
    let first = t.open();
    let second = t.open();
    first
        .rotate_master_key(MasterKey::generate(), "alice", NOW)
        .expect("rotate");
    let err = second
        .create_embed_secret(&named("late"), "bob", NOW)
        .expect_err("stale key");
    assert_eq!(err.code(), "wrong_master_key");
    assert!(first.list_embed_secrets().expect("list").is_empty());
}

backend_tests!(
    values_are_absent_from_the_database_file_and_wal,
    a_wrong_master_key_is_refused_without_writing,
    a_flipped_ciphertext_byte_fails_to_decrypt_clearly,
    a_ciphertext_copied_onto_another_row_fails_to_decrypt,
    an_old_credential_version_replayed_fails_to_decrypt,
    rotation_reencrypts_every_row_and_retires_the_old_key,
    a_second_handle_refuses_to_write_after_another_rotated,
);
