//! `embedgate serve --check`: what a start would meet, checked without
//! starting. The store is opened and the master key proved against it
//! (every embed secret decrypts), each credential a route names exists
//! and is usable, the TLS files load, each upstream host resolves, and the
//! listen addresses are free. Every problem is one line naming the key.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use embedgate_store::{Lookup, MasterKey, Store, StoreError, StoreOptions, MASTER_KEY_ENV};
use tokio::net::TcpListener;

use super::config::Config;
use super::tls;

/// What the check found.
#[derive(Debug, Default)]
pub struct Report {
    /// Each problem a start would meet, one line naming the key.
    pub problems: Vec<String>,
    /// What was checked, for the success line.
    pub checked: Vec<String>,
}

impl Report {
    /// Whether a start would get past everything checked.
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Checks `config` against the world. `now` judges credential expiry.
pub async fn check(config: &Config, now: i64) -> Report {
    let mut r = Report::default();
    check_store(config, now, &mut r).await;
    if let Some(t) = &config.tls {
        match tls::acceptor(t) {
            Ok(_) => r.checked.push("TLS files loaded".to_owned()),
            Err(e) => r.problems.push(format!("{e:#}")),
        }
    }
    check_upstreams(config, &mut r).await;
    check_listeners(config, &mut r).await;
    if let Some(path) = &config.admin.owner_token_file {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            if !dir.is_dir() {
                r.problems.push(format!(
                    "{}: directory {} does not exist",
                    config.key("admin.owner_token_file"),
                    dir.display()
                ));
            }
        }
    }
    r
}

/// Where the master key comes from, in the words of the config.
fn key_source(config: &Config) -> String {
    if std::env::var_os(MASTER_KEY_ENV).is_some() {
        MASTER_KEY_ENV.to_owned()
    } else {
        config.key("store.master_key_file")
    }
}

async fn check_store(config: &Config, now: i64, r: &mut Report) {
    let key = match MasterKey::from_env_or_file(config.master_key_file.as_deref()) {
        Ok(k) => k,
        Err(StoreError::MasterKeyMissing) => {
            r.problems.push(format!(
                "{}: no master key: set it (or EMBEDGATE_MASTER_KEY_FILE) to the key file, or EMBEDGATE_MASTER_KEY to the base64 key",
                config.key("store.master_key_file")
            ));
            return;
        }
        Err(e) => {
            r.problems.push(format!("{}: {e}", key_source(config)));
            return;
        }
    };
    // A check writes nothing: a SQLite store that does not exist yet is
    // not created (a start would create it empty).
    if let Some(path) = config.store_url.strip_prefix("sqlite://") {
        let path = Path::new(path);
        if !path.exists() {
            match path.parent().filter(|d| !d.as_os_str().is_empty()) {
                Some(dir) if !dir.is_dir() => r.problems.push(format!(
                    "{}: directory {} does not exist",
                    config.key("store.url"),
                    dir.display()
                )),
                _ => {
                    r.checked.push(format!(
                        "no store at {} yet (a start creates it empty; `embedgate store init` makes it now)",
                        path.display()
                    ));
                    for (i, route) in config.routes.iter().enumerate() {
                        if let Some(a) = &route.upstream_auth {
                            r.problems.push(format!(
                                "{}: no credential {:?}: the store does not exist yet",
                                config.key(&format!("routes.{i}.upstream_auth.credential")),
                                a.credential
                            ));
                        }
                    }
                }
            }
            return;
        }
    }
    let url = config.store_url.clone();
    let mut options = StoreOptions::default();
    options.purge_after_secs =
        i64::try_from(config.purge_expired_after.as_secs()).unwrap_or(i64::MAX);
    let opened = tokio::task::spawn_blocking(move || {
        let store = Store::open_with_options(&url, key, options)?;
        let (_, keys) = store.load_embed_keys()?;
        Ok::<_, StoreError>((store, keys.len()))
    })
    .await;
    let store = match opened {
        Ok(Ok((store, n))) => {
            r.checked.push(format!(
                "store opened with the master key ({n} embed secret(s) decrypted)"
            ));
            store
        }
        Ok(Err(e @ StoreError::WrongMasterKey { .. })) => {
            r.problems.push(format!("{}: {e}", key_source(config)));
            return;
        }
        Ok(Err(e)) => {
            r.problems.push(format!(
                "{}: cannot open the store: {e}",
                config.key("store.url")
            ));
            return;
        }
        Err(e) => {
            r.problems.push(format!("{}: {e}", config.key("store.url")));
            return;
        }
    };
    let routes: Vec<(usize, String)> = config
        .routes
        .iter()
        .enumerate()
        .filter_map(|(i, route)| {
            route
                .upstream_auth
                .as_ref()
                .map(|a| (i, a.credential.clone()))
        })
        .collect();
    if routes.is_empty() {
        return;
    }
    let found = tokio::task::spawn_blocking(move || {
        routes
            .into_iter()
            .map(|(i, name)| {
                let problem = credential_problem(&store, &name, now);
                (i, name, problem)
            })
            .collect::<Vec<_>>()
    })
    .await
    .unwrap_or_default();
    for (i, name, problem) in found {
        match problem {
            None => r.checked.push(format!("credential {name:?} usable")),
            Some(p) => r.problems.push(format!(
                "{}: {p}",
                config.key(&format!("routes.{i}.upstream_auth.credential"))
            )),
        }
    }
}

/// Why the credential `name` could not be injected, if it could not.
fn credential_problem(store: &Store, name: &str, now: i64) -> Option<String> {
    let c = match store.get_credential(&Lookup::name(name)) {
        Ok(c) => c,
        Err(StoreError::NotFound { .. }) => {
            return Some(format!(
                "no credential {name:?} in the store (`embedgate credentials put --name {name}`, value on stdin)"
            ))
        }
        Err(e) => return Some(format!("cannot read credential {name:?}: {e}")),
    };
    if !c.active {
        return Some(format!(
            "credential {name:?} is deactivated (`embedgate credentials activate {name}`)"
        ));
    }
    if c.is_expired(now) {
        return Some(format!(
            "credential {name:?} expired at {} (store a new value with `embedgate credentials put --name {name}`)",
            embedgate_store::format_rfc3339(c.expires_at.unwrap_or_default())
        ));
    }
    match store.credential_value_at(name, now) {
        Ok(Some(_)) => None,
        Ok(None) => Some(format!("credential {name:?} is not usable")),
        Err(e) => Some(format!("credential {name:?} cannot be read: {e}")),
    }
}

async fn check_upstreams(config: &Config, r: &mut Report) {
    for (i, route) in config.routes.iter().enumerate() {
        let key = config.key(&format!("routes.{i}.upstream"));
        let Some(authority) = route.upstream.authority() else {
            continue;
        };
        let host = authority.host();
        let port = authority.port_u16().unwrap_or(80);
        let lookup = tokio::time::timeout(
            Duration::from_secs(5),
            tokio::net::lookup_host((host.trim_matches(['[', ']']), port)),
        )
        .await;
        match lookup.map(|found| found.map(|mut addrs| addrs.next().is_some())) {
            Ok(Ok(true)) => {}
            Ok(Ok(false)) => r
                .problems
                .push(format!("{key}: host {host:?} has no address")),
            Ok(Err(e)) => r
                .problems
                .push(format!("{key}: cannot resolve host {host:?}: {e}")),
            Err(_) => r
                .problems
                .push(format!("{key}: resolving host {host:?} took over 5 s")),
        }
    }
    if !config.routes.is_empty() {
        r.checked
            .push(format!("{} upstream host(s) resolved", config.routes.len()));
    }
}

async fn check_listeners(config: &Config, r: &mut Report) {
    // All held until the end, so two keys naming one address are caught.
    let mut held = Vec::new();
    let mut free = true;
    let addrs: [(&str, Option<SocketAddr>); 3] = [
        ("listen.public", Some(config.public_addr)),
        ("listen.admin", config.admin_addr),
        ("listen.metrics", config.metrics_addr),
    ];
    for (key, addr) in addrs {
        let Some(addr) = addr else { continue };
        match TcpListener::bind(addr).await {
            Ok(l) => held.push(l),
            Err(e) => {
                free = false;
                r.problems
                    .push(format!("{}: cannot listen on {addr}: {e}", config.key(key)));
            }
        }
    }
    if free {
        r.checked.push("listen addresses free".to_owned());
    }
    drop(held);
}
