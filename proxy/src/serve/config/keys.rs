//! Every configuration key, once: the environment names are derived from
//! this list (so `verify.max_url_ttl` is `EMBEDGATE_VERIFY_MAX_URL_TTL`,
//! whatever underscores the key holds), and a test checks it against the
//! serde types of `file.rs`, field for field.

/// One key: its dotted path (inside a route for [`ROUTE_KEYS`]) and whether
/// its value is a list (comma-separated in the environment).
#[derive(Clone, Copy, Debug)]
pub struct Key {
    /// `verify.skew`, or `upstream_auth.header` inside a route.
    pub path: &'static str,
    /// A list of strings.
    pub list: bool,
}

const fn k(path: &'static str) -> Key {
    Key { path, list: false }
}

const fn list(path: &'static str) -> Key {
    Key { path, list: true }
}

/// The keys outside `[[routes]]`.
pub const KEYS: &[Key] = &[
    k("listen.public"),
    k("listen.admin"),
    k("listen.metrics"),
    k("store.url"),
    k("store.master_key_file"),
    k("store.poll_interval"),
    k("store.usage_flush_interval"),
    k("store.resync_interval"),
    k("store.purge_expired_after"),
    k("store.purge_interval"),
    k("replay.backend"),
    k("replay.url"),
    k("replay.on_unavailable"),
    k("replay.key_prefix"),
    k("replay.timeout"),
    k("verify.skew"),
    k("verify.max_url_ttl"),
    k("verify.max_session"),
    k("verify.public_host"),
    k("verify.replay_cache_entries"),
    k("session.cookie_name"),
    k("session.insecure_dev_cookies"),
    k("tls.cert_file"),
    k("tls.key_file"),
    k("upstream.connect_timeout"),
    k("upstream.response_timeout"),
    k("upstream.pool_idle_timeout"),
    k("upstream.pool_max_idle_per_host"),
    k("shutdown.drain_timeout"),
    list("headers.strip"),
    k("headers.allow_underscores"),
    k("limits.header_read_timeout"),
    k("limits.keepalive_idle_timeout"),
    k("limits.tls_handshake_timeout"),
    k("limits.max_connections"),
    k("log.format"),
    k("log.access"),
    k("admin.owner_token_file"),
];

/// The keys of one `[[routes]]` entry.
pub const ROUTE_KEYS: &[Key] = &[
    k("name"),
    k("prefix"),
    k("upstream"),
    k("user_header"),
    k("attr_header_prefix"),
    list("session_paths"),
    k("on_success"),
    k("upstream_auth.header"),
    k("upstream_auth.credential"),
    k("upstream_auth.prefix"),
];

/// Variables named for what every command calls them (the store commands
/// read the same two), instead of the mechanical `EMBEDGATE_STORE_URL`.
pub const RENAMED: &[(&str, &str)] = &[
    ("store.url", "EMBEDGATE_STORE"),
    ("store.master_key_file", "EMBEDGATE_MASTER_KEY_FILE"),
];

/// Earlier names of variables, still read with a deprecation warning:
/// `(old name, new name)`.
pub const DEPRECATED: &[(&str, &str)] = &[
    ("EMBEDGATE_STORE_URL", "EMBEDGATE_STORE"),
    (
        "EMBEDGATE_STORE_MASTER_KEY_FILE",
        "EMBEDGATE_MASTER_KEY_FILE",
    ),
];

/// `EMBEDGATE_` variables the program reads that are not configuration
/// keys: they are never reported as unknown.
pub const NOT_CONFIG: &[&str] = &[
    // The master key itself (base64), the one secret given by variable.
    "EMBEDGATE_MASTER_KEY",
    // `embedgate sign`'s secret.
    "EMBEDGATE_SECRET",
    // The log filter.
    "EMBEDGATE_LOG",
    // Tests, benchmarks and tools around the binary.
    "EMBEDGATE_BIN",
    "EMBEDGATE_BINARY",
];

/// Prefixes of non-configuration variables (test and benchmark settings).
pub const NOT_CONFIG_PREFIXES: &[&str] = &["EMBEDGATE_TEST_", "EMBEDGATE_BENCH_"];

/// Key names that would hold a secret value: refused wherever they appear,
/// in the file or as a variable.
pub const SECRETISH: &[&str] = &[
    "value",
    "secret",
    "token",
    "password",
    "api_key",
    "master_key",
    "key",
    "credential_value",
];

/// The variable for a key path (`routes.0.upstream` included).
pub fn env_name(path: &str) -> String {
    if let Some((_, var)) = RENAMED.iter().find(|(p, _)| *p == path) {
        return (*var).to_owned();
    }
    let mut s = String::from("EMBEDGATE_");
    s.push_str(&path.replace('.', "_").to_ascii_uppercase());
    s
}

/// A key path as people write it: `routes.0.upstream` → `routes[0].upstream`.
pub fn display(path: &[impl AsRef<str>]) -> String {
    let mut s = String::new();
    for part in path {
        let part = part.as_ref();
        if !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()) {
            s.push('[');
            s.push_str(part);
            s.push(']');
        } else {
            if !s.is_empty() {
                s.push('.');
            }
            s.push_str(part);
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variable_names_are_distinct_and_keep_underscores() {
        let mut names: Vec<String> = KEYS.iter().map(|k| env_name(k.path)).collect();
        names.extend(
            ROUTE_KEYS
                .iter()
                .map(|k| env_name(&format!("routes.0.{}", k.path))),
        );
        names.extend(NOT_CONFIG.iter().map(|s| (*s).to_owned()));
        let mut sorted = names.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), names.len(), "{names:?}");
        assert_eq!(
            env_name("verify.max_url_ttl"),
            "EMBEDGATE_VERIFY_MAX_URL_TTL"
        );
        assert_eq!(env_name("store.url"), "EMBEDGATE_STORE");
        assert_eq!(
            display(&["routes", "0", "upstream_auth", "header"]),
            "routes[0].upstream_auth.header"
        );
    }
}
