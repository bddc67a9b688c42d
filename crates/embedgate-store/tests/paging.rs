//! Lists in pages: a limit and an opaque cursor, by name, stable across
//! inserts and deletes between pages, for embed secrets, credentials and
//! admin tokens.

mod support;

use embedgate_store::{
    ListRequest, Lookup, NewAdminToken, NewCredential, NewEmbedSecret, Role, Store,
};
use support::{named, TestStore, NOW};

fn all_pages(store: &Store, request: ListRequest) -> Vec<Vec<String>> {
    let mut pages = Vec::new();
    let mut request = request;
    loop {
        let page = store.list_embed_secrets_page(&request).expect("page");
        pages.push(page.items.iter().map(|s| s.name.clone()).collect());
        match page.next_cursor {
            Some(c) => request = request.after(Some(c)),
            None => return pages,
        }
    }
}

fn pages_cover_every_secret_once_in_name_order(t: TestStore) {
    let store = t.open();
    let mut names: Vec<String> = (0..23).map(|i| format!("Secret-{i:02}")).collect();
    // Case is ignored in the order, as in the uniqueness rule.
    names.push("alpha".into());
    names.push("ZULU".into());
    for n in &names {
        store
            .create_embed_secret(&named(n), "alice", NOW)
            .expect("create");
    }
    let pages = all_pages(&store, ListRequest::first(10));
    assert_eq!(
        pages.iter().map(Vec::len).collect::<Vec<_>>(),
        vec![10, 10, 5]
    );
    let listed: Vec<String> = pages.concat();
    let mut expected = names.clone();
    expected.sort_by_key(|n| n.to_lowercase());
    assert_eq!(listed, expected);
    // The same as the unpaged list.
    let unpaged: Vec<String> = store
        .list_embed_secrets()
        .expect("list")
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(listed, unpaged);
    // An exact multiple of the limit ends without an empty page.
    assert_eq!(all_pages(&store, ListRequest::first(25)).len(), 1);
    assert_eq!(all_pages(&store, ListRequest::first(5)).len(), 5);
}

fn a_cursor_survives_inserts_and_deletes_between_pages(t: TestStore) {
    let store = t.open();
    for n in ["b", "d", "f", "h", "j"] {
        store
            .create_embed_secret(&named(n), "alice", NOW)
            .expect("create");
    }
    let first = store
        .list_embed_secrets_page(&ListRequest::first(2))
        .expect("first");
    let names: Vec<&str> = first.items.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["b", "d"]);
    // Between pages: the last row of the page is deleted, rows appear
    // before and after the cursor.
    store
        .delete_embed_secret(&Lookup::name("d"), "alice", NOW)
        .expect("delete");
    for n in ["a", "e", "c"] {
        store
            .create_embed_secret(&named(n), "alice", NOW)
            .expect("create");
    }
    let second = store
        .list_embed_secrets_page(&ListRequest::first(2).after(first.next_cursor))
        .expect("second");
    let names: Vec<&str> = second.items.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["e", "f"], "continues after d, wherever it went");
    let third = store
        .list_embed_secrets_page(&ListRequest::first(2).after(second.next_cursor))
        .expect("third");
    let names: Vec<&str> = third.items.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["h", "j"]);
    assert_eq!(third.next_cursor, None);
}

fn search_pages_and_bad_cursors(t: TestStore) {
    let store = t.open();
    for i in 0..40 {
        let new = NewEmbedSecret {
            name: format!("s{i:02}"),
            description: if i % 3 == 0 {
                "Sales board".into()
            } else {
                String::new()
            },
            ..NewEmbedSecret::default()
        };
        store
            .create_embed_secret(&new, "alice", NOW)
            .expect("create");
    }
    let pages = all_pages(&store, ListRequest::first(4).matching("SALES"));
    let found: Vec<String> = pages.concat();
    let expected: Vec<String> = (0..40)
        .filter(|i| i % 3 == 0)
        .map(|i| format!("s{i:02}"))
        .collect();
    assert_eq!(found, expected);
    assert!(pages.iter().all(|p| p.len() <= 4));
    let none = store
        .list_embed_secrets_page(&ListRequest::first(4).matching("nothing like it"))
        .expect("no match");
    assert!(none.items.is_empty() && none.next_cursor.is_none());
    let err = store
        .list_embed_secrets_page(&ListRequest::first(4).after(Some("garbage".into())))
        .expect_err("bad cursor");
    assert_eq!(err.code(), "invalid_input");
    // The limit is clamped, not refused.
    let zero = store
        .list_embed_secrets_page(&ListRequest::first(0))
        .expect("clamped");
    assert_eq!(zero.items.len(), 1);
}

fn credentials_and_admin_tokens_page_too(t: TestStore) {
    let store = t.open();
    for i in 0..5 {
        store
            .create_credential(
                &NewCredential {
                    name: format!("cred-{i}"),
                    ..NewCredential::default()
                },
                "credential-value",
                "alice",
                NOW,
            )
            .expect("credential");
        store
            .create_admin_token(
                &NewAdminToken {
                    name: format!("token-{i}"),
                    role: Role::Viewer,
                },
                "alice",
                NOW,
            )
            .expect("token");
    }
    // Embed secrets are not credentials.
    store
        .create_embed_secret(&named("cred-x"), "alice", NOW)
        .expect("embed");
    let mut names = Vec::new();
    let mut request = ListRequest::first(2);
    loop {
        let page = store.list_credentials_page(&request).expect("page");
        names.extend(page.items.into_iter().map(|c| c.name));
        match page.next_cursor {
            Some(c) => request = request.after(Some(c)),
            None => break,
        }
    }
    assert_eq!(names, ["cred-0", "cred-1", "cred-2", "cred-3", "cred-4"]);
    let mut tokens = Vec::new();
    let mut request = ListRequest::first(3);
    loop {
        let page = store.list_admin_tokens_page(&request).expect("page");
        tokens.extend(page.items.into_iter().map(|t| t.name));
        match page.next_cursor {
            Some(c) => request = request.after(Some(c)),
            None => break,
        }
    }
    assert_eq!(
        tokens,
        ["token-0", "token-1", "token-2", "token-3", "token-4"]
    );
    let found = store
        .list_admin_tokens_page(&ListRequest::first(10).matching("TOKEN-3"))
        .expect("search");
    assert_eq!(found.items.len(), 1);
}

backend_tests!(
    pages_cover_every_secret_once_in_name_order,
    a_cursor_survives_inserts_and_deletes_between_pages,
    search_pages_and_bad_cursors,
    credentials_and_admin_tokens_page_too,
);
