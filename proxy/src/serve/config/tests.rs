use super::keys::{env_name, KEYS, ROUTE_KEYS};
use super::*;

const MIN: &str = r#"
[store]
url = "sqlite:///tmp/x.db"
[[routes]]
prefix = "/d/"
upstream = "http://127.0.0.1:3000"
"#;

fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn refused(text: &str, pairs: &[(&str, &str)]) -> String {
    let msg = format!(
        "{:#}",
        Config::from_toml(text, &env(pairs)).expect_err("refused")
    );
    assert!(!msg.contains('\n'), "not one line: {msg}");
    msg
}

#[test]
fn defaults_and_env_overrides() {
    let c = Config::from_toml(MIN, &env(&[])).expect("valid");
    assert_eq!(c.verify.skew, 60);
    assert_eq!(c.routes[0].name, "d");
    assert_eq!(c.routes[0].user_header.as_str(), "x-embed-user");
    assert_eq!(c.routes[0].on_success, OnSuccess::Redirect);
    assert_eq!(c.public_addr, "127.0.0.1:8080".parse().unwrap());
    assert_eq!(c.admin_addr, Some("127.0.0.1:8081".parse().unwrap()));
    assert_eq!(c.metrics_addr, None);
    assert_eq!(c.limits.header_read_timeout, Duration::from_secs(10));
    assert_eq!(c.limits.keepalive_idle_timeout, Duration::from_secs(60));
    assert_eq!(c.limits.tls_handshake_timeout, Duration::from_secs(10));
    assert_eq!(c.limits.max_connections, 10_000);
    assert_eq!(c.log.format, LogFormat::Text);
    assert!(c.log.access, "the access log is on by default");
    assert!(c.headers.strip.is_empty() && !c.headers.allow_underscores);
    assert_eq!(
        c.admin.owner_token_file.as_deref(),
        Some(Path::new("/tmp/x.db.owner-token"))
    );
    assert!(c.warnings.is_empty());

    let c = Config::from_toml(
        MIN,
        &env(&[
            ("EMBEDGATE_VERIFY_SKEW", "5"),
            ("EMBEDGATE_VERIFY_MAX_URL_TTL", "120"),
            ("EMBEDGATE_ROUTES_0_UPSTREAM", "http://10.0.0.1:9"),
            ("EMBEDGATE_ROUTES_0_SESSION_PATHS", "/public/, /api/"),
            ("EMBEDGATE_ROUTES_1_PREFIX", "/e/"),
            ("EMBEDGATE_ROUTES_1_UPSTREAM", "http://10.0.0.2:9"),
            ("EMBEDGATE_UPSTREAM_RESPONSE_TIMEOUT", "250ms"),
            ("EMBEDGATE_SESSION_INSECURE_DEV_COOKIES", "true"),
            ("EMBEDGATE_LIMITS_MAX_CONNECTIONS", "50"),
            ("EMBEDGATE_HEADERS_STRIP", "X-Debug, X-Internal"),
            ("EMBEDGATE_LOG_FORMAT", "json"),
            ("EMBEDGATE_LOG_ACCESS", "false"),
            ("EMBEDGATE_STORE", "sqlite:///srv/s.db"),
            ("EMBEDGATE_MASTER_KEY_FILE", "/etc/k"),
        ]),
    )
    .expect("valid");
    assert_eq!(c.verify.skew, 5);
    assert_eq!(c.verify.max_url_ttl, 120);
    assert_eq!(c.routes[0].upstream.to_string(), "http://10.0.0.1:9/");
    assert_eq!(c.routes[0].session_paths, ["/public/", "/api/"]);
    assert_eq!(c.routes[1].prefix, "/e/");
    assert_eq!(c.upstream.response_timeout, Duration::from_millis(250));
    assert!(c.session.insecure_dev_cookies);
    assert_eq!(c.limits.max_connections, 50);
    assert_eq!(c.headers.strip.len(), 2);
    assert_eq!(c.log.format, LogFormat::Json);
    assert!(!c.log.access);
    assert_eq!(c.store_url, "sqlite:///srv/s.db");
    assert_eq!(c.master_key_file.as_deref(), Some(Path::new("/etc/k")));
}

#[test]
fn errors_name_the_key_and_the_variable() {
    let msg = refused(MIN, &[("EMBEDGATE_VERIFY_SKEW", "soon")]);
    assert!(
        msg.contains("`verify.skew`") && msg.contains("EMBEDGATE_VERIFY_SKEW"),
        "{msg}"
    );
    let msg = refused(MIN, &[("EMBEDGATE_LIMITS_MAX_CONNECTIONS", "many")]);
    assert!(
        msg.contains("`limits.max_connections` (from EMBEDGATE_LIMITS_MAX_CONNECTIONS)"),
        "{msg}"
    );
    let msg = refused(MIN, &[("EMBEDGATE_ROUTES_0_UPSTREAM", "ftp://x")]);
    assert!(
        msg.contains("`routes[0].upstream` (from EMBEDGATE_ROUTES_0_UPSTREAM)"),
        "{msg}"
    );

    let bad = MIN.replace("http://127.0.0.1:3000", "ftp://x");
    let msg = refused(&bad, &[]);
    assert!(
        msg.contains("`routes[0].upstream`") && !msg.contains("from"),
        "{msg}"
    );

    let msg = refused(&format!("{MIN}\n[verify]\nskwe = 3\n"), &[]);
    assert!(
        msg.contains("unknown config key `verify.skwe`") && msg.contains("did you mean `skew`"),
        "{msg}"
    );
    let msg = refused(&format!("{MIN}name_x = 3\n"), &[]);
    assert!(
        msg.contains("unknown config key `routes[0].name_x`"),
        "{msg}"
    );

    let msg = refused(&format!("{MIN}\n[replay]\nbackend = \"disk\"\n"), &[]);
    assert!(
        msg.contains("`replay.backend`") && msg.contains("\"memory\" or \"redis\""),
        "{msg}"
    );
    let msg = refused(&format!("{MIN}\n[log]\nformat = \"xml\"\n"), &[]);
    assert!(msg.contains("`log.format`"), "{msg}");
    let msg = refused(
        &format!("{MIN}\n[limits]\nheader_read_timeout = \"0s\"\n"),
        &[],
    );
    assert!(msg.contains("`limits.header_read_timeout`"), "{msg}");
    let msg = refused(
        &format!("{MIN}\n[headers]\nstrip = [\"bad header\"]\n"),
        &[],
    );
    assert!(msg.contains("`headers.strip[0]`"), "{msg}");

    let msg = refused(
        "[[routes]]\nprefix = \"/d/\"\nupstream = \"http://h:1\"\n",
        &[],
    );
    assert!(
        msg.contains("`store.url` is required") && msg.contains("EMBEDGATE_STORE"),
        "{msg}"
    );
    let msg = refused(MIN, &[("EMBEDGATE_ROUTES_1_PREFIX", "/e/")]);
    assert!(
        msg.contains("`routes[1].upstream` is required")
            && msg.contains("EMBEDGATE_ROUTES_1_UPSTREAM"),
        "{msg}"
    );
}

#[test]
fn bad_variables_are_errors() {
    let msg = refused(MIN, &[("EMBEDGATE_VERIFY_SKEWW", "60")]);
    assert!(msg.contains("`verify.skew`"), "{msg}");
    let msg = refused(MIN, &[("EMBEDGATE_ROUTES_0_UPSTREAM_AUTH_TOKEN", "abc")]);
    assert!(msg.contains("secret") && !msg.contains("abc"), "{msg}");
    let msg = refused(MIN, &[("EMBEDGATE_ROUTES_5_UPSTREAM", "http://h:1")]);
    assert!(msg.contains("no route 5"), "{msg}");
    // Variables the program reads that are not keys are no error.
    Config::from_toml(
        MIN,
        &env(&[
            ("EMBEDGATE_MASTER_KEY", "x"),
            ("EMBEDGATE_SECRET", "x"),
            ("EMBEDGATE_LOG", "debug"),
            ("EMBEDGATE_BIN", "x"),
            ("EMBEDGATE_TEST_REDIS_URL", "x"),
            ("EMBEDGATE_BENCH_POSTGRES_URL", "x"),
        ]),
    )
    .expect("valid");
}

#[test]
fn old_variable_names_warn() {
    let c = Config::from_toml(MIN, &env(&[("EMBEDGATE_STORE_URL", "sqlite:///old.db")]))
        .expect("valid");
    assert_eq!(c.store_url, "sqlite:///old.db");
    assert_eq!(c.warnings.len(), 1);
    assert!(
        c.warnings[0].contains("EMBEDGATE_STORE"),
        "{:?}",
        c.warnings
    );
}

#[test]
fn toml_errors_have_line_and_column() {
    let msg = refused("[store]\nurl = \"sqlite:///x\"\n\n[verify\nskew = 3\n", &[]);
    assert!(msg.contains("line 4, column"), "{msg}");
}

#[test]
fn listen_addresses_may_be_host_names() {
    let text = format!("{MIN}\n[listen]\npublic = \"localhost:0\"\nadmin = \"off\"\n");
    let c = Config::from_toml(&text, &env(&[])).expect("valid");
    assert!(c.public_addr.ip().is_loopback(), "{}", c.public_addr);
    assert_eq!(c.admin_addr, None);
    let msg = refused(
        MIN,
        &[("EMBEDGATE_LISTEN_PUBLIC", "no-such-host.invalid:80")],
    );
    assert!(
        msg.contains("`listen.public` (from EMBEDGATE_LISTEN_PUBLIC)"),
        "{msg}"
    );
    let msg = refused(MIN, &[("EMBEDGATE_LISTEN_PUBLIC", "8080")]);
    assert!(msg.contains("localhost:8080"), "{msg}");
}

#[test]
fn raw_secrets_are_refused() {
    let with_value = format!(
        "{MIN}upstream_auth = {{ header = \"Authorization\", value = \"s3cr3t-token-value\" }}\n"
    );
    let msg = refused(&with_value, &[]);
    assert!(msg.contains("routes[0].upstream_auth.value"), "{msg}");
    assert!(msg.contains("secret"), "{msg}");
    assert!(!msg.contains("s3cr3t-token-value"), "{msg}");

    let in_prefix = format!(
        "{MIN}upstream_auth = {{ credential = \"grafana\", prefix = \"Bearer glsa_abcdefghijklmnopqrstuvwxyz\" }}\n"
    );
    let msg = refused(&in_prefix, &[]);
    assert!(msg.contains("upstream_auth.prefix"), "{msg}");
    assert!(!msg.contains("glsa_abc"), "{msg}");

    let in_credential =
        format!("{MIN}upstream_auth = {{ credential = \"glsa abcdefghijklmnopqrstuvwxyz\" }}\n");
    let msg = refused(&in_credential, &[]);
    assert!(msg.contains("upstream_auth.credential"), "{msg}");
    assert!(!msg.contains("glsa"), "{msg}");

    let master = MIN.replace("[store]\n", "[store]\nmaster_key = \"AAAA\"\n");
    let msg = refused(&master, &[]);
    assert!(
        msg.contains("store.master_key") && msg.contains("secret"),
        "{msg}"
    );
}

/// `keys.rs` lists exactly the fields of `file.rs`: every listed key is
/// accepted, and every section's fields are listed.
#[test]
fn the_key_list_matches_the_serde_types() {
    const ROUTE: &str = "[[routes]]\nprefix = \"/d/\"\nupstream = \"http://127.0.0.1:3000\"\n";
    let store = env(&[("EMBEDGATE_STORE", "sqlite:///tmp/x.db")]);
    for key in KEYS {
        // A value of the wrong shape: refused for its type, not as unknown.
        let (section, field) = key.path.split_once('.').expect("dotted");
        let text = format!("[{section}]\n{field} = {{ x = 1 }}\n{ROUTE}");
        // The variable would win over the file's store.url.
        let vars = if key.path == "store.url" {
            env(&[])
        } else {
            store.clone()
        };
        let msg = format!(
            "{:#}",
            Config::from_toml(&text, &vars).expect_err("bad type")
        );
        assert!(!msg.contains("unknown"), "{}: {msg}", key.path);
        assert!(
            msg.contains(&format!("`{}", key.path)),
            "{}: {msg}",
            key.path
        );
    }
    for key in ROUTE_KEYS {
        let text = match key.path.split_once('.') {
            Some((table, field)) => format!("{MIN}{table} = {{ {field} = {{ x = 1 }} }}\n"),
            None => format!("{MIN}{} = {{ x = 1 }}\n", key.path),
        };
        let msg = format!(
            "{:#}",
            Config::from_toml(&text, &env(&[])).expect_err("bad type")
        );
        assert!(!msg.contains("unknown"), "{}: {msg}", key.path);
    }
    // The other way round: an unknown key in each section lists the
    // section's fields, which must all be in keys.rs.
    let mut sections: Vec<&str> = KEYS
        .iter()
        .filter_map(|k| k.path.split_once('.'))
        .map(|(s, _)| s)
        .collect();
    sections.dedup();
    for section in sections {
        let text = format!("[{section}]\nzzz = 1\n{ROUTE}");
        let msg = format!(
            "{:#}",
            Config::from_toml(&text, &store).expect_err("unknown")
        );
        let listed = msg
            .split("expected one of: ")
            .nth(1)
            .expect(&msg)
            .trim_end_matches(')');
        for field in listed.split(", ") {
            let path = format!("{section}.{field}");
            assert!(
                KEYS.iter().any(|k| k.path == path),
                "{path} is not in keys.rs"
            );
        }
    }
    let msg = format!(
        "{:#}",
        Config::from_toml(&format!("{MIN}zzz = 1\n"), &env(&[])).expect_err("unknown")
    );
    let listed = msg
        .split("expected one of: ")
        .nth(1)
        .expect(&msg)
        .trim_end_matches(')');
    for field in listed.split(", ") {
        assert!(
            ROUTE_KEYS
                .iter()
                .any(|k| k.path == field || k.path.starts_with(&format!("{field}."))),
            "routes.{field} is not in keys.rs"
        );
    }
    // And every key's variable is read.
    for key in KEYS {
        assert!(env_name(key.path).starts_with("EMBEDGATE_"));
    }
}
