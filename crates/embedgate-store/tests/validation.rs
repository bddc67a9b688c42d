//! Every field check of every mutating call, on both backends: the error
//! names the field, the first failing check is the one reported (also
//! before `not_found`), and nothing is written.

mod support;

use embedgate_store::{
    CredentialUpdate, EmbedSecretUpdate, Lookup, MasterKey, NewAdminToken, NewCredential,
    NewEmbedSecret, PutCredential, Role, Store, StoreError, TokenType, MAX_DESCRIPTION_CHARS,
    MAX_LABEL_CHARS, MAX_VALUE_BYTES,
};
use support::{named, TestStore, DAY, NOW};

const VALUE: &str = "v-0123456789abcdef";
const PAST: Option<i64> = Some(NOW - 1);

/// `r` failed with `invalid_input` on `field`.
#[track_caller]
fn invalid<T: std::fmt::Debug>(r: Result<T, StoreError>, field: &str) {
    let e = r.expect_err(field);
    assert_eq!(e.code(), "invalid_input", "{e}");
    assert!(
        e.to_string().starts_with(&format!("invalid {field}: ")),
        "expected a {field} error, got: {e}"
    );
}

/// Actors every mutating call refuses.
fn bad_actors() -> [String; 4] {
    [
        String::new(),
        "   ".into(),
        "a\nb".into(),
        "x".repeat(MAX_LABEL_CHARS + 1),
    ]
}

fn cred(name: &str) -> NewCredential {
    NewCredential {
        name: name.into(),
        ..NewCredential::default()
    }
}

fn put(name: &str) -> PutCredential {
    PutCredential {
        name: name.into(),
        ..PutCredential::default()
    }
}

/// The state a refused call must leave untouched.
fn snapshot(s: &Store) -> (u64, usize, usize, usize) {
    (
        s.revision().expect("revision"),
        s.list_embed_secrets().expect("embed").len(),
        s.list_credentials().expect("credentials").len(),
        s.list_admin_tokens().expect("tokens").len(),
    )
}

fn creating_checks_every_field_in_order(t: TestStore) {
    let s = t.open();
    let before = snapshot(&s);
    for actor in bad_actors() {
        invalid(s.create_embed_secret(&named("e"), &actor, NOW), "actor");
        invalid(s.create_credential(&cred("c"), VALUE, &actor, NOW), "actor");
    }
    let long_description = "d".repeat(MAX_DESCRIPTION_CHARS + 1);
    let embed_cases: [(NewEmbedSecret, &str); 6] = [
        (named(""), "name"),
        (
            NewEmbedSecret {
                description: long_description.clone(),
                ..named("e")
            },
            "description",
        ),
        (
            NewEmbedSecret {
                description: "bell\u{7}".into(),
                ..named("e")
            },
            "description",
        ),
        (
            NewEmbedSecret {
                environment: "prod\nstaging".into(),
                ..named("e")
            },
            "environment",
        ),
        (
            NewEmbedSecret {
                scopes: vec!["/ok".into(), "relative".into()],
                ..named("e")
            },
            "scope",
        ),
        // Every field wrong: the name is reported.
        (
            NewEmbedSecret {
                description: long_description.clone(),
                environment: "\n".into(),
                scopes: vec!["x".into()],
                expires_at: PAST,
                ..named("")
            },
            "name",
        ),
    ];
    for (new, field) in &embed_cases {
        invalid(s.create_embed_secret(new, "alice", NOW), field);
    }
    let cred_cases: [(NewCredential, &str, &str); 9] = [
        (cred(&"n".repeat(101)), VALUE, "name"),
        (
            NewCredential {
                description: long_description.clone(),
                ..cred("c")
            },
            VALUE,
            "description",
        ),
        (
            NewCredential {
                issuer: "tab\there".into(),
                ..cred("c")
            },
            VALUE,
            "issuer",
        ),
        (
            NewCredential {
                scopes: vec!["no-slash".into()],
                ..cred("c")
            },
            VALUE,
            "scope",
        ),
        (
            NewCredential {
                expires_at: PAST,
                ..cred("c")
            },
            VALUE,
            "expires_at",
        ),
        (cred("c"), "", "value"),
        (cred("c"), "nul\0byte", "value"),
        // The expiry is checked before the value when creating.
        (
            NewCredential {
                expires_at: PAST,
                ..cred("c")
            },
            "",
            "expires_at",
        ),
        // The name before everything else.
        (
            NewCredential {
                issuer: "\n".into(),
                expires_at: PAST,
                ..cred("")
            },
            "",
            "name",
        ),
    ];
    for (new, value, field) in &cred_cases {
        invalid(s.create_credential(new, value, "alice", NOW), field);
    }
    let too_long = "v".repeat(MAX_VALUE_BYTES + 1);
    invalid(
        s.create_credential(&cred("c"), &too_long, "alice", NOW),
        "value",
    );
    assert_eq!(snapshot(&s), before, "a refused create wrote something");

    // What is stored is the checked (trimmed, normalised) form.
    let e = s
        .create_embed_secret(
            &NewEmbedSecret {
                name: "  spaced  ".into(),
                description: " two\nlines ".into(),
                environment: " prod ".into(),
                scopes: vec![" /d/%7Ea ".into(), "/d/~a".into()],
                ..NewEmbedSecret::default()
            },
            " alice ",
            NOW,
        )
        .expect("create")
        .secret;
    assert_eq!(
        (
            e.name.as_str(),
            e.description.as_str(),
            e.environment.as_str()
        ),
        ("spaced", "two\nlines", "prod")
    );
    assert_eq!(e.scopes, ["/d/~a"]);
    assert_eq!(e.owner, "alice");
    let c = s
        .create_credential(
            &NewCredential {
                issuer: " grafana ".into(),
                ..cred(" c ")
            },
            VALUE,
            "bob ",
            NOW,
        )
        .expect("create credential");
    assert_eq!((c.name.as_str(), c.issuer.as_str()), ("c", "grafana"));
    assert_eq!(c.owner, "bob");
    let history = s.embed_secret_history(&Lookup::any("spaced")).expect("log");
    assert_eq!(history[0].actor, "alice");
}

fn put_checks_like_create_or_replace(t: TestStore) {
    let s = t.open();
    s.create_credential(&cred("existing"), VALUE, "alice", NOW)
        .expect("create");
    let before = snapshot(&s);
    for actor in bad_actors() {
        invalid(s.put_credential(&put("new"), VALUE, &actor, NOW), "actor");
        invalid(
            s.put_credential(&put("existing"), VALUE, &actor, NOW),
            "actor",
        );
    }
    for name in ["new", "existing"] {
        let cases: [(PutCredential, &str, &str); 7] = [
            (put(""), VALUE, "name"),
            (
                PutCredential {
                    description: Some("d".repeat(MAX_DESCRIPTION_CHARS + 1)),
                    ..put(name)
                },
                VALUE,
                "description",
            ),
            (
                PutCredential {
                    issuer: Some("a\u{1b}b".into()),
                    ..put(name)
                },
                VALUE,
                "issuer",
            ),
            (
                PutCredential {
                    scopes: Some(vec!["x".into()]),
                    ..put(name)
                },
                VALUE,
                "scope",
            ),
            (
                PutCredential {
                    expires_at: PAST,
                    ..put(name)
                },
                VALUE,
                "expires_at",
            ),
            (put(name), "", "value"),
            // Metadata before the value and expiry.
            (
                PutCredential {
                    scopes: Some(vec!["x".into()]),
                    expires_at: PAST,
                    ..put(name)
                },
                "",
                "scope",
            ),
        ];
        for (p, value, field) in &cases {
            invalid(s.put_credential(p, value, "alice", NOW), field);
        }
    }
    // Both the value and the expiry wrong: creating reports the expiry,
    // replacing the value (each path's own order).
    let both_wrong = |name: &str| PutCredential {
        expires_at: PAST,
        ..put(name)
    };
    invalid(
        s.put_credential(&both_wrong("new"), "", "alice", NOW),
        "expires_at",
    );
    invalid(
        s.put_credential(&both_wrong("EXISTING"), "", "alice", NOW),
        "value",
    );
    assert_eq!(snapshot(&s), before, "a refused put wrote something");
    assert_eq!(
        s.get_credential(&Lookup::any("existing"))
            .expect("get")
            .version,
        1
    );

    let out = s
        .put_credential(
            &PutCredential {
                description: Some("  described ".into()),
                token_type: Some(TokenType::ApiKey),
                expires_at: Some(NOW + DAY),
                ..put(" existing ")
            },
            "v-second-0123456789",
            " carol",
            NOW + 1,
        )
        .expect("replace");
    assert!(!out.created);
    assert_eq!(out.credential.version, 2);
    assert_eq!(out.credential.description, "described");
    let log = s.credential_history(&Lookup::any("existing")).expect("log");
    assert!(log.iter().skip(1).all(|e| e.actor == "carol"), "{log:?}");
}

fn changes_are_checked_before_the_lookup(t: TestStore) {
    let s = t.open();
    s.create_embed_secret(&named("e"), "alice", NOW)
        .expect("embed");
    s.create_credential(&cred("c"), VALUE, "alice", NOW)
        .expect("credential");
    let before = snapshot(&s);
    // For a missing secret as for an existing one, an invalid argument is
    // reported, not `not_found`.
    for target in ["missing", "e"] {
        let l = Lookup::any(target);
        for actor in bad_actors() {
            invalid(
                s.update_embed_secret(&l, &EmbedSecretUpdate::default(), &actor, NOW),
                "actor",
            );
            invalid(s.deactivate_embed_secret(&l, &actor, NOW), "actor");
            invalid(s.activate_embed_secret(&l, &actor, NOW), "actor");
            invalid(s.delete_embed_secret(&l, &actor, NOW), "actor");
        }
        invalid(s.rename_embed_secret(&l, " ", "alice", NOW), "name");
        invalid(
            s.describe_embed_secret(&l, &"d".repeat(MAX_DESCRIPTION_CHARS + 1), "alice", NOW),
            "description",
        );
        invalid(
            s.set_embed_environment(&l, "a\u{0}b", "alice", NOW),
            "environment",
        );
        invalid(
            s.set_embed_scopes(&l, &["/a".into(), "b".into()], "alice", NOW),
            "scope",
        );
        invalid(
            s.update_embed_secret(
                &l,
                &EmbedSecretUpdate {
                    name: Some(String::new()),
                    scopes: Some(vec!["b".into()]),
                    ..EmbedSecretUpdate::default()
                },
                "alice",
                NOW,
            ),
            "name",
        );
    }
    for target in ["missing", "c"] {
        let l = Lookup::any(target);
        for actor in bad_actors() {
            invalid(
                s.update_credential(&l, &CredentialUpdate::default(), &actor, NOW),
                "actor",
            );
            invalid(
                s.replace_credential_value(&l, VALUE, None, &actor, NOW),
                "actor",
            );
            invalid(s.deactivate_credential(&l, &actor, NOW), "actor");
            invalid(s.activate_credential(&l, &actor, NOW), "actor");
            invalid(s.delete_credential(&l, &actor, NOW), "actor");
        }
        let updates: [(CredentialUpdate, &str); 4] = [
            (
                CredentialUpdate {
                    name: Some("\n".into()),
                    ..CredentialUpdate::default()
                },
                "name",
            ),
            (
                CredentialUpdate {
                    description: Some("d".repeat(MAX_DESCRIPTION_CHARS + 1)),
                    ..CredentialUpdate::default()
                },
                "description",
            ),
            (
                CredentialUpdate {
                    issuer: Some("i".repeat(MAX_LABEL_CHARS + 1)),
                    ..CredentialUpdate::default()
                },
                "issuer",
            ),
            (
                CredentialUpdate {
                    scopes: Some(vec!["s".into()]),
                    ..CredentialUpdate::default()
                },
                "scope",
            ),
        ];
        for (u, field) in &updates {
            invalid(s.update_credential(&l, u, "alice", NOW), field);
        }
        invalid(
            s.replace_credential_value(&l, "", None, "alice", NOW),
            "value",
        );
        invalid(
            s.replace_credential_value(&l, VALUE, PAST, "alice", NOW),
            "expires_at",
        );
        // The value before the expiry when replacing.
        invalid(
            s.replace_credential_value(&l, "", PAST, "alice", NOW),
            "value",
        );
    }
    assert_eq!(snapshot(&s), before, "a refused change wrote something");
    assert_eq!(
        s.update_credential(
            &Lookup::any("missing"),
            &CredentialUpdate::default(),
            "alice",
            NOW
        )
        .expect_err("missing")
        .code(),
        "not_found"
    );
}

fn maintenance_and_admin_tokens_check_the_actor_and_name(t: TestStore) {
    let s = t.open();
    // With no token yet, the first owner token's name is checked...
    invalid(s.create_first_owner_token("", "alice", NOW), "name");
    s.create_first_owner_token("owner", "alice", NOW)
        .expect("first")
        .expect("created");
    // ...once one exists, there is nothing to create, whatever the name.
    assert!(s
        .create_first_owner_token("", "alice", NOW)
        .expect("exists")
        .is_none());
    let key_id = s.master_key_id();
    let before = snapshot(&s);
    for actor in bad_actors() {
        invalid(s.purge_expired(&actor, NOW), "actor");
        invalid(
            s.rotate_master_key(MasterKey::generate(), &actor, NOW),
            "actor",
        );
        let new = NewAdminToken {
            name: "t".into(),
            role: Role::Admin,
        };
        invalid(s.create_admin_token(&new, &actor, NOW), "actor");
        invalid(s.create_first_owner_token("owner", &actor, NOW), "actor");
        invalid(s.revoke_admin_token("missing", &actor, NOW), "actor");
        invalid(s.revoke_admin_token("owner", &actor, NOW), "actor");
    }
    for name in ["", "x\ny", &"n".repeat(101)] {
        let new = NewAdminToken {
            name: name.into(),
            role: Role::Viewer,
        };
        invalid(s.create_admin_token(&new, "alice", NOW), "name");
    }
    assert_eq!(snapshot(&s), before, "a refused call wrote something");
    assert_eq!(s.master_key_id(), key_id);
    let t = s
        .create_admin_token(
            &NewAdminToken {
                name: " ci ".into(),
                role: Role::Admin,
            },
            " alice ",
            NOW,
        )
        .expect("token")
        .token;
    assert_eq!((t.name.as_str(), t.created_by.as_str()), ("ci", "alice"));
    assert_eq!(
        s.create_admin_token(
            &NewAdminToken {
                name: "CI".into(),
                role: Role::Viewer,
            },
            "alice",
            NOW,
        )
        .expect_err("taken")
        .code(),
        "name_taken"
    );
}

backend_tests!(
    creating_checks_every_field_in_order,
    put_checks_like_create_or_replace,
    changes_are_checked_before_the_lookup,
    maintenance_and_admin_tokens_check_the_actor_and_name,
);
