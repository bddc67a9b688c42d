//! The user-facing rules of issue 3, against a real SQLite file.

mod support;

use embedgate_store::{
    AuditFilter, ChangeAction, CredentialUpdate, EmbedSecretUpdate, Lookup, NewCredential,
    NewEmbedSecret, Page, PutCredential, StoreOptions, SubjectKind, TokenType,
};
use support::{named, TestStore, DAY, NOW};

fn create_shows_the_value_once_and_metadata_only_a_fingerprint(t: TestStore) {
    let s = t.open();
    let c = s
        .create_embed_secret(
            &NewEmbedSecret {
                name: "analytics".into(),
                description: "Sales dashboards".into(),
                environment: "production".into(),
                scopes: vec!["/d/sales".into()],
                expires_at: Some(NOW + 90 * DAY),
            },
            "alice",
            NOW,
        )
        .expect("create");
    assert_eq!(c.value.len(), 32);
    assert!(c.value.bytes().all(|b| b.is_ascii_alphanumeric()));
    assert!(embedgate_store::is_client_id(&c.secret.client_id));
    assert_eq!(c.secret.fingerprint, format!("{}…(32)", &c.value[..4]));
    assert_eq!(c.secret.owner, "alice");
    assert_eq!(c.secret.created_at, NOW);
    assert_eq!(c.secret.scopes, ["/d/sales"]);
    let dbg = format!("{c:?}");
    assert!(!dbg.contains(c.value.as_str()), "Debug leaks the value");
    let shown = s.get_embed_secret(&Lookup::any("analytics")).expect("get");
    let json = serde_json::to_string(&shown).expect("json");
    assert!(!json.contains(c.value.as_str()));
    assert!(json.contains(&c.secret.client_id));
    let (_, keys) = s.load_embed_keys().expect("load");
    assert!(!format!("{keys:?}").contains(c.value.as_str()));
    assert_eq!(keys[0].value.as_str(), c.value.as_str());
}

fn rename_and_describe_keep_the_value(t: TestStore) {
    let s = t.open();
    let c = s
        .create_embed_secret(&named("old"), "alice", NOW)
        .expect("create");
    let id = Lookup::id(&c.secret.id);
    s.rename_embed_secret(&Lookup::any("old"), "new", "bob", NOW + 1)
        .expect("rename");
    s.describe_embed_secret(&Lookup::any("new"), "described", "bob", NOW + 2)
        .expect("describe");
    s.set_embed_environment(&id, "staging", "bob", NOW + 3)
        .expect("env");
    s.set_embed_scopes(&id, &["/a".into(), "/b".into()], "bob", NOW + 4)
        .expect("scopes");
    let m = s
        .set_embed_expiry(&id, Some(NOW + DAY), "bob", NOW + 5)
        .expect("exp");
    assert_eq!(m.name, "new");
    assert_eq!(m.description, "described");
    assert_eq!(m.environment, "staging");
    assert_eq!(m.scopes, ["/a", "/b"]);
    assert_eq!(m.expires_at, Some(NOW + DAY));
    assert_eq!(m.updated_at, NOW + 5);
    assert_eq!(m.client_id, c.secret.client_id);
    assert_eq!(m.fingerprint, c.secret.fingerprint);
    assert!(s.get_embed_secret(&Lookup::any("old")).is_err());
    assert_eq!(
        s.reveal_embed_secret_value(&id).expect("value").as_str(),
        c.value.as_str()
    );
}

fn deactivate_and_reactivate_repeatedly_but_never_once_expired(t: TestStore) {
    let s = t.open();
    let c = s
        .create_embed_secret(
            &NewEmbedSecret {
                expires_at: Some(NOW + 100),
                ..named("x")
            },
            "alice",
            NOW,
        )
        .expect("create");
    let l = Lookup::client_id(&c.secret.client_id);
    for i in 0..5 {
        assert!(
            !s.deactivate_embed_secret(&l, "bob", NOW + i)
                .expect("off")
                .active
        );
        assert!(
            s.activate_embed_secret(&l, "bob", NOW + i)
                .expect("on")
                .active
        );
    }
    s.deactivate_embed_secret(&l, "bob", NOW + 50).expect("off");
    let err = s
        .activate_embed_secret(&l, "bob", NOW + 100)
        .expect_err("expired");
    assert_eq!(err.code(), "expired_cannot_activate");
    assert!(!s.get_embed_secret(&l).expect("get").active);
    let history = s.embed_secret_history(&l).expect("history");
    let toggles = history
        .iter()
        .filter(|e| matches!(e.action, ChangeAction::Activate | ChangeAction::Deactivate))
        .count();
    assert_eq!(toggles, 11);
}

fn names_are_unique_case_insensitively_and_validated(t: TestStore) {
    let s = t.open();
    s.create_embed_secret(&named("Prod"), "alice", NOW)
        .expect("a");
    let b = s
        .create_embed_secret(&named("other"), "alice", NOW)
        .expect("b");
    let err = s
        .create_embed_secret(&named("prod"), "alice", NOW)
        .expect_err("dup");
    assert_eq!(err.code(), "name_taken");
    let err = s
        .rename_embed_secret(&Lookup::id(&b.secret.id), "PROD", "alice", NOW)
        .expect_err("dup");
    assert_eq!(err.code(), "name_taken");
    // Renaming to a case variant of its own name is fine.
    s.rename_embed_secret(&Lookup::any("Prod"), "prod", "alice", NOW)
        .expect("case");
    // A credential may share a name with an embed secret.
    s.create_credential(
        &NewCredential {
            name: "prod".into(),
            ..NewCredential::default()
        },
        "v-0123456789abcdef",
        "alice",
        NOW,
    )
    .expect("credential");
    for bad in ["", &"x".repeat(101)] {
        let e = s
            .create_embed_secret(&named(bad), "alice", NOW)
            .expect_err("bad");
        assert_eq!(e.code(), "invalid_input");
        assert!(e.to_string().contains("name"), "{e}");
    }
    assert!(s
        .create_embed_secret(&named(&"y".repeat(100)), "alice", NOW)
        .is_ok());
    let e = s
        .create_embed_secret(
            &NewEmbedSecret {
                scopes: vec!["no-slash".into()],
                ..named("z")
            },
            "alice",
            NOW,
        )
        .expect_err("scope");
    assert!(e.to_string().contains("scope"));
    let e = s
        .create_embed_secret(
            &NewEmbedSecret {
                expires_at: Some(NOW - 1),
                ..named("z")
            },
            "alice",
            NOW,
        )
        .expect_err("past");
    assert!(e.to_string().contains("expires_at"));
}

fn lookups_by_id_client_id_and_name_and_search(t: TestStore) {
    let s = t.open();
    let a = s
        .create_embed_secret(
            &NewEmbedSecret {
                description: "Finance dashboards".into(),
                ..named("Alpha")
            },
            "alice",
            NOW,
        )
        .expect("a");
    s.create_embed_secret(&named("beta-FINANCE"), "alice", NOW)
        .expect("b");
    s.create_embed_secret(&named("gamma"), "alice", NOW)
        .expect("c");
    for l in [
        Lookup::id(&a.secret.id),
        Lookup::client_id(&a.secret.client_id),
        Lookup::name("alpha"),
        Lookup::any(&a.secret.id),
        Lookup::any(&a.secret.client_id),
        Lookup::any("ALPHA"),
    ] {
        assert_eq!(
            s.get_embed_secret(&l).expect("found").id,
            a.secret.id,
            "{l:?}"
        );
    }
    assert_eq!(
        s.get_embed_secret(&Lookup::id("alpha"))
            .expect_err("by id")
            .code(),
        "not_found"
    );
    let names = |q: &str| -> Vec<String> {
        s.search_embed_secrets(q)
            .expect("search")
            .into_iter()
            .map(|m| m.name)
            .collect()
    };
    assert_eq!(names("finance"), ["Alpha", "beta-FINANCE"]);
    assert_eq!(names("GAM"), ["gamma"]);
    assert!(names("nothing").is_empty());
    assert_eq!(names("").len(), 3);
}

fn several_active_secrets_coexist_for_rotation(t: TestStore) {
    let s = t.open();
    let old = s
        .create_embed_secret(&named("app-2024"), "alice", NOW)
        .expect("old");
    let new = s
        .create_embed_secret(&named("app-2025"), "alice", NOW + 1)
        .expect("new");
    let (_, keys) = s.load_embed_keys().expect("load");
    assert_eq!(keys.iter().filter(|k| k.active).count(), 2);
    assert_ne!(old.value.as_str(), new.value.as_str());
    // Apps moved: the new one is used, the old one no longer.
    s.record_embed_usage(&[(new.secret.client_id.clone(), NOW + 50)])
        .expect("usage");
    let o = s
        .get_embed_secret(&Lookup::id(&old.secret.id))
        .expect("old");
    let n = s
        .get_embed_secret(&Lookup::id(&new.secret.id))
        .expect("new");
    assert_eq!(o.last_used_at, None);
    assert_eq!(n.last_used_at, Some(NOW + 50));
    s.delete_embed_secret(&Lookup::id(&old.secret.id), "alice", NOW + 60)
        .expect("delete");
    assert_eq!(s.load_embed_keys().expect("load").1.len(), 1);
}

fn usage_is_recorded_without_bumping_the_revision_or_logging(t: TestStore) {
    let s = t.open();
    let c = s.create_embed_secret(&named("a"), "alice", NOW).expect("a");
    let rev = s.revision().expect("rev");
    let log_len = s
        .audit(&AuditFilter::default(), Page::default())
        .expect("log")
        .entries
        .len();
    s.record_embed_usage(&[
        (c.secret.client_id.clone(), NOW + 10),
        ("ek_unknownunknown00".into(), NOW + 10),
    ])
    .expect("usage");
    // Times only move forward.
    s.record_embed_usage(&[(c.secret.client_id.clone(), NOW + 5)])
        .expect("usage");
    assert_eq!(
        s.get_embed_secret(&Lookup::id(&c.secret.id))
            .expect("get")
            .last_used_at,
        Some(NOW + 10)
    );
    assert_eq!(s.revision().expect("rev"), rev);
    assert_eq!(
        s.audit(&AuditFilter::default(), Page::default())
            .expect("log")
            .entries
            .len(),
        log_len
    );
}

fn delete_is_permanent_and_its_history_remains(t: TestStore) {
    let s = t.open();
    let c = s
        .create_embed_secret(&named("gone"), "alice", NOW)
        .expect("c");
    let gone = s
        .delete_embed_secret(&Lookup::any("gone"), "bob", NOW + 1)
        .expect("delete");
    assert_eq!(gone.id, c.secret.id);
    for l in [
        Lookup::id(&c.secret.id),
        Lookup::client_id(&c.secret.client_id),
        Lookup::any("gone"),
    ] {
        assert_eq!(
            s.get_embed_secret(&l).expect_err("gone").code(),
            "not_found"
        );
    }
    assert_eq!(
        s.delete_embed_secret(&Lookup::any("gone"), "bob", NOW + 2)
            .expect_err("twice")
            .code(),
        "not_found"
    );
    assert!(s.load_embed_keys().expect("load").1.is_empty());
    // The name is free again, and the old history is still there.
    s.create_embed_secret(&named("gone"), "alice", NOW + 3)
        .expect("reuse");
    let h = s
        .embed_secret_history(&Lookup::id(&c.secret.id))
        .expect("history");
    assert_eq!(
        h.iter().map(|e| e.action).collect::<Vec<_>>(),
        [ChangeAction::Create, ChangeAction::Delete]
    );
    assert_eq!(h[1].actor, "bob");
    // The raw row is gone from the table, too.
    assert_eq!(t.count_rows(&c.secret.id), 0);
}

fn expired_secrets_are_purged_after_30_days_and_the_purge_is_logged(t: TestStore) {
    let s = t.open();
    let e = s
        .create_embed_secret(
            &NewEmbedSecret {
                expires_at: Some(NOW + DAY),
                ..named("expiring")
            },
            "alice",
            NOW,
        )
        .expect("e");
    let cred = s
        .create_credential(
            &NewCredential {
                name: "tok".into(),
                expires_at: Some(NOW + 2 * DAY),
                ..NewCredential::default()
            },
            "token-value-0123456789",
            "alice",
            NOW,
        )
        .expect("cred");
    s.create_embed_secret(&named("forever"), "alice", NOW)
        .expect("f");
    // 29 days after expiry: kept (and visible as expired).
    assert!(s
        .purge_expired("system", NOW + DAY + 29 * DAY)
        .expect("purge")
        .is_empty());
    assert!(s
        .get_embed_secret(&Lookup::id(&e.secret.id))
        .expect("kept")
        .is_expired(NOW + 2 * DAY));
    // 30 days after expiry: gone.
    let purged = s
        .purge_expired("system", NOW + DAY + 30 * DAY)
        .expect("purge");
    assert_eq!(purged.len(), 1);
    assert_eq!(purged[0].id, e.secret.id);
    assert_eq!(purged[0].expired_at, NOW + DAY);
    let purged = s
        .purge_expired("system", NOW + 2 * DAY + 30 * DAY)
        .expect("purge");
    assert_eq!(purged.len(), 1);
    assert_eq!(purged[0].kind, SubjectKind::Credential);
    assert_eq!(purged[0].id, cred.id);
    assert_eq!(s.list_embed_secrets().expect("list").len(), 1);
    let log = s
        .audit(
            &AuditFilter {
                action: Some(ChangeAction::Purge),
                ..Default::default()
            },
            Page::default(),
        )
        .expect("audit");
    assert_eq!(log.entries.len(), 2);
    assert_eq!(log.entries[0].subject_id, e.secret.id);
    assert_eq!(log.entries[0].actor, "system");
    assert_eq!(log.entries[0].subject_name, "expiring");
}

fn the_purge_delay_is_configurable(t: TestStore) {
    let s = embedgate_store::Store::open_with_options(
        &t.url,
        t.key.clone(),
        StoreOptions::default().with_purge_after_secs(DAY),
    )
    .expect("open");
    s.create_embed_secret(
        &NewEmbedSecret {
            expires_at: Some(NOW + 10),
            ..named("short")
        },
        "alice",
        NOW,
    )
    .expect("c");
    assert!(s
        .purge_expired("system", NOW + 10 + DAY - 1)
        .expect("p")
        .is_empty());
    assert_eq!(
        s.purge_expired("system", NOW + 10 + DAY).expect("p").len(),
        1
    );
}

fn the_change_log_records_old_and_new_but_never_values(t: TestStore) {
    let s = t.open();
    let c = s
        .create_embed_secret(
            &NewEmbedSecret {
                description: "first".into(),
                ..named("n1")
            },
            "alice",
            NOW,
        )
        .expect("c");
    let l = Lookup::id(&c.secret.id);
    s.rename_embed_secret(&l, "n2", "bob", NOW + 1)
        .expect("rename");
    s.update_embed_secret(
        &l,
        &EmbedSecretUpdate {
            description: Some("second".into()),
            environment: Some("prod".into()),
            ..Default::default()
        },
        "carol",
        NOW + 2,
    )
    .expect("update");
    // A no-op change is not logged.
    s.rename_embed_secret(&l, "n2", "bob", NOW + 3)
        .expect("same");
    let cred_value = "credential-value-never-logged-123";
    s.put_credential(
        &PutCredential {
            name: "up".into(),
            token_type: Some(TokenType::ApiKey),
            ..Default::default()
        },
        cred_value,
        "alice",
        NOW,
    )
    .expect("put");
    let out = s
        .put_credential(
            &PutCredential {
                name: "up".into(),
                issuer: Some("grafana".into()),
                ..Default::default()
            },
            "credential-value-second-version-456",
            "alice",
            NOW + 5,
        )
        .expect("replace");
    assert!(!out.created);
    assert_eq!(out.credential.version, 2);
    assert_eq!(out.credential.issuer, "grafana");
    assert_eq!(out.credential.token_type, TokenType::ApiKey);

    let h = s.embed_secret_history(&l).expect("history");
    assert_eq!(
        h.iter().map(|e| e.action).collect::<Vec<_>>(),
        [
            ChangeAction::Create,
            ChangeAction::Rename,
            ChangeAction::Update
        ]
    );
    assert_eq!(
        (h[1].actor.as_str(), h[1].at, h[1].subject_name.as_str()),
        ("bob", NOW + 1, "n2")
    );
    let rename = &h[1].changes[0];
    assert_eq!(
        (
            rename.field.as_str(),
            rename.old.as_deref(),
            rename.new.as_deref()
        ),
        ("name", Some("n1"), Some("n2"))
    );
    let fields: Vec<_> = h[2].changes.iter().map(|c| c.field.as_str()).collect();
    assert_eq!(fields, ["description", "environment"]);
    assert_eq!(h[2].changes[0].old.as_deref(), Some("first"));

    let ch = s
        .credential_history(&Lookup::any("up"))
        .expect("cred history");
    assert_eq!(
        ch.iter().map(|e| e.action).collect::<Vec<_>>(),
        [
            ChangeAction::Create,
            ChangeAction::ReplaceValue,
            ChangeAction::SetIssuer
        ]
    );
    let all = serde_json::to_string(
        &s.audit(&AuditFilter::default(), Page::default())
            .expect("audit"),
    )
    .expect("json");
    for v in [
        c.value.as_str(),
        cred_value,
        "credential-value-second-version-456",
    ] {
        assert!(!all.contains(v), "a value is in the change log");
    }
    assert!(all.contains("value_version"));
}

fn the_revision_grows_with_every_change(t: TestStore) {
    let s = t.open();
    let mut last = s.revision().expect("rev");
    let mut step = |what: &str| {
        let r = s.revision().expect("rev");
        assert!(r > last, "{what} did not bump the revision");
        last = r;
    };
    let c = s.create_embed_secret(&named("a"), "x", NOW).expect("c");
    step("create");
    let l = Lookup::id(&c.secret.id);
    s.rename_embed_secret(&l, "b", "x", NOW).expect("r");
    step("rename");
    s.describe_embed_secret(&l, "d", "x", NOW).expect("d");
    step("describe");
    s.deactivate_embed_secret(&l, "x", NOW).expect("off");
    step("deactivate");
    s.activate_embed_secret(&l, "x", NOW).expect("on");
    step("activate");
    s.create_credential(
        &NewCredential {
            name: "c".into(),
            ..Default::default()
        },
        "value-0123456789abcdef",
        "x",
        NOW,
    )
    .expect("cred");
    step("create credential");
    s.replace_credential_value(
        &Lookup::any("c"),
        "value-2-0123456789abcdef",
        None,
        "x",
        NOW,
    )
    .expect("replace");
    step("replace value");
    s.update_credential(
        &Lookup::any("c"),
        &CredentialUpdate {
            token_type: Some(TokenType::AccessToken),
            ..Default::default()
        },
        "x",
        NOW,
    )
    .expect("update");
    step("update credential");
    s.delete_embed_secret(&l, "x", NOW).expect("delete");
    step("delete");
    // Another handle (as another process would) sees the same revision.
    assert_eq!(t.open().revision().expect("rev"), last);
    let (rev, _) = s.load_embed_keys().expect("load");
    assert_eq!(rev, last);
}

fn credentials_are_read_only_by_the_proxy_and_respect_state(t: TestStore) {
    let s = t.open();
    s.create_credential(
        &NewCredential {
            name: "Grafana-API".into(),
            token_type: TokenType::ApiKey,
            issuer: "grafana".into(),
            expires_at: Some(NOW + 100),
            ..Default::default()
        },
        "glsa_value_0123456789abcdef",
        "alice",
        NOW,
    )
    .expect("create");
    let m = s.get_credential(&Lookup::any("grafana-api")).expect("get");
    assert_eq!(m.fingerprint, "glsa…(27)");
    assert_eq!(m.version, 1);
    assert!(!serde_json::to_string(&m)
        .expect("json")
        .contains("glsa_value"));
    let v = s
        .credential_value_at("grafana-api", NOW + 1)
        .expect("value");
    assert_eq!(
        v.as_deref().map(String::as_str),
        Some("glsa_value_0123456789abcdef")
    );
    s.deactivate_credential(&Lookup::any("Grafana-API"), "alice", NOW + 2)
        .expect("off");
    assert!(s
        .credential_value_at("grafana-api", NOW + 3)
        .expect("v")
        .is_none());
    s.activate_credential(&Lookup::any("Grafana-API"), "alice", NOW + 4)
        .expect("on");
    assert!(
        s.credential_value_at("grafana-api", NOW + 100)
            .expect("v")
            .is_none(),
        "expired"
    );
    assert!(s.credential_value_at("nope", NOW).expect("v").is_none());
    assert_eq!(
        s.activate_credential(&Lookup::any("Grafana-API"), "alice", NOW + 100)
            .expect_err("expired")
            .code(),
        "expired_cannot_activate"
    );
    let e = s
        .create_credential(
            &NewCredential {
                name: "grafana-api".into(),
                ..Default::default()
            },
            "x-0123456789abcdef",
            "alice",
            NOW,
        )
        .expect_err("dup");
    assert_eq!(e.code(), "name_taken");
    assert_eq!(
        s.create_credential(
            &NewCredential {
                name: "empty".into(),
                ..Default::default()
            },
            "",
            "alice",
            NOW
        )
        .expect_err("empty")
        .code(),
        "invalid_input"
    );
    s.delete_credential(&Lookup::any("grafana-api"), "alice", NOW)
        .expect("delete");
    assert!(s.list_credentials().expect("list").is_empty());
}

fn the_audit_log_pages(t: TestStore) {
    let s = t.open();
    for i in 0..7 {
        s.create_embed_secret(
            &named(&format!("n{i}")),
            if i % 2 == 0 { "even" } else { "odd" },
            NOW + i,
        )
        .expect("c");
    }
    let p1 = s
        .audit(
            &AuditFilter::default(),
            Page {
                after: None,
                limit: 3,
            },
        )
        .expect("p1");
    assert_eq!(p1.entries.len(), 3);
    let p2 = s
        .audit(
            &AuditFilter::default(),
            Page {
                after: p1.next_after,
                limit: 3,
            },
        )
        .expect("p2");
    let p3 = s
        .audit(
            &AuditFilter::default(),
            Page {
                after: p2.next_after,
                limit: 3,
            },
        )
        .expect("p3");
    assert_eq!(p3.entries.len(), 1);
    assert_eq!(p3.next_after, None);
    let seqs: Vec<u64> = [p1, p2, p3]
        .iter()
        .flat_map(|p| p.entries.iter().map(|e| e.seq))
        .collect();
    assert_eq!(seqs, (1..=7).collect::<Vec<_>>());
    let odd = s
        .audit(
            &AuditFilter {
                actor: Some("odd".into()),
                since: Some(NOW + 2),
                ..Default::default()
            },
            Page::default(),
        )
        .expect("odd");
    assert_eq!(
        odd.entries.iter().map(|e| e.at).collect::<Vec<_>>(),
        [NOW + 3, NOW + 5]
    );
}

/// The proxy learns when a secret was last reactivated, so the sessions
/// opened before its deactivation stay dead.
fn the_cache_load_carries_the_last_reactivation(t: TestStore) {
    let s = t.open();
    let c = s
        .create_embed_secret(&named("ops"), "alice", NOW)
        .expect("create");
    let other = s
        .create_embed_secret(&named("other"), "alice", NOW)
        .expect("create");
    let reactivated = |s: &embedgate_store::Store, id: &str| {
        s.load_embed_keys()
            .expect("load")
            .1
            .into_iter()
            .find(|k| k.id == id)
            .expect("present")
            .reactivated_at
    };
    assert_eq!(reactivated(&s, &c.secret.id), None, "never reactivated");
    let id = Lookup::Id(c.secret.id.clone());
    s.deactivate_embed_secret(&id, "alice", NOW + 10)
        .expect("off");
    assert_eq!(
        reactivated(&s, &c.secret.id),
        None,
        "inactive, not reactivated"
    );
    s.activate_embed_secret(&id, "alice", NOW + 20).expect("on");
    s.deactivate_embed_secret(&id, "alice", NOW + 30)
        .expect("off");
    s.activate_embed_secret(&id, "alice", NOW + 40).expect("on");
    assert_eq!(
        reactivated(&s, &c.secret.id),
        Some(NOW + 40),
        "the last one counts"
    );
    assert_eq!(reactivated(&s, &other.secret.id), None);
}

fn the_owner_can_change_and_the_change_is_logged(t: TestStore) {
    let s = t.open();
    let c = s
        .create_embed_secret(&named("board"), "alice", NOW)
        .expect("create");
    let id = Lookup::id(&c.secret.id);
    let m = s
        .update_embed_secret(
            &id,
            &EmbedSecretUpdate {
                owner: Some("  team-data ".into()),
                ..Default::default()
            },
            "bob",
            NOW + 1,
        )
        .expect("set owner");
    assert_eq!(m.owner, "team-data", "trimmed");
    assert_eq!(s.get_embed_secret(&id).expect("get").owner, "team-data");
    // The same owner again changes nothing and logs nothing.
    s.update_embed_secret(
        &id,
        &EmbedSecretUpdate {
            owner: Some("team-data".into()),
            ..Default::default()
        },
        "bob",
        NOW + 2,
    )
    .expect("no-op");
    let history = s.embed_secret_history(&id).expect("history");
    let last = history.last().expect("entries");
    assert_eq!(history.len(), 2);
    assert_eq!(last.action, ChangeAction::SetOwner);
    assert_eq!(last.actor, "bob");
    assert_eq!(last.changes.len(), 1);
    assert_eq!(last.changes[0].field, "owner");
    assert_eq!(last.changes[0].old.as_deref(), Some("alice"));
    assert_eq!(last.changes[0].new.as_deref(), Some("team-data"));
    // An empty owner is refused, naming the field; nothing is written.
    let e = s
        .update_embed_secret(
            &id,
            &EmbedSecretUpdate {
                owner: Some(" ".into()),
                ..Default::default()
            },
            "bob",
            NOW + 3,
        )
        .expect_err("empty owner");
    assert_eq!(e.code(), "invalid_input");
    assert!(e.to_string().contains("owner"), "{e}");

    s.create_credential(
        &NewCredential {
            name: "grafana".into(),
            ..Default::default()
        },
        "value-0123456789",
        "alice",
        NOW,
    )
    .expect("credential");
    let cred = s
        .update_credential(
            &Lookup::any("grafana"),
            &CredentialUpdate {
                owner: Some("ops".into()),
                issuer: Some("grafana.local".into()),
                ..Default::default()
            },
            "carol",
            NOW + 4,
        )
        .expect("credential owner");
    assert_eq!(cred.owner, "ops");
    let last = s
        .credential_history(&Lookup::any("grafana"))
        .expect("history")
        .pop()
        .expect("entry");
    assert_eq!(last.action, ChangeAction::Update, "two fields at once");
    assert!(last
        .changes
        .iter()
        .any(|c| c.field == "owner" && c.new.as_deref() == Some("ops")));
    let page = s
        .audit(
            &AuditFilter {
                action: Some(ChangeAction::SetOwner),
                ..Default::default()
            },
            Page::default(),
        )
        .expect("audit");
    assert_eq!(page.entries.len(), 1);
}

backend_tests!(
    create_shows_the_value_once_and_metadata_only_a_fingerprint,
    rename_and_describe_keep_the_value,
    deactivate_and_reactivate_repeatedly_but_never_once_expired,
    names_are_unique_case_insensitively_and_validated,
    lookups_by_id_client_id_and_name_and_search,
    several_active_secrets_coexist_for_rotation,
    usage_is_recorded_without_bumping_the_revision_or_logging,
    delete_is_permanent_and_its_history_remains,
    expired_secrets_are_purged_after_30_days_and_the_purge_is_logged,
    the_purge_delay_is_configurable,
    the_change_log_records_old_and_new_but_never_values,
    the_revision_grows_with_every_change,
    credentials_are_read_only_by_the_proxy_and_respect_state,
    the_audit_log_pages,
    the_cache_load_carries_the_last_reactivation,
    the_owner_can_change_and_the_change_is_logged,
);
