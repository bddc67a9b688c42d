//! The configuration of `embedgate serve`, run as an operator runs it: the
//! real binary, a store made by the CLI, `config init`, `serve --check`,
//! variables. Every bad configuration of the issue gets one line naming
//! the key and exit 1; a good one starts and serves.
#![allow(clippy::unwrap_used)]

mod support;

use std::io::{BufRead as _, BufReader, Read as _};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http::{Request, StatusCode};
use support::*;

/// The binary with none of the caller's `EMBEDGATE_` variables.
fn embedgate() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_embedgate"));
    for (k, _) in std::env::vars() {
        if k.starts_with("EMBEDGATE_") {
            c.env_remove(k);
        }
    }
    c.env("USER", "tester");
    c
}

fn run(mut c: Command) -> Output {
    c.stdin(Stdio::null()).output().unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A store made by the CLI, and the variables naming it.
struct Setup {
    dir: tempfile::TempDir,
    url: String,
    key: PathBuf,
}

impl Setup {
    fn new() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("store.db").display());
        let key = dir.path().join("master.key");
        let s = Setup { dir, url, key };
        let o = run(s.cli(&["store", "init", "--create-key-file"]));
        assert!(o.status.success(), "{}", text(&o));
        s
    }

    /// The binary with the tour's two variables set.
    fn cli(&self, args: &[&str]) -> Command {
        let mut c = embedgate();
        c.env("EMBEDGATE_STORE", &self.url)
            .env("EMBEDGATE_MASTER_KEY_FILE", &self.key)
            .args(args);
        c
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `embedgate config init` for `backend`, written to `name`.
    fn config_init(&self, name: &str, backend: SocketAddr, extra: &[&str]) -> PathBuf {
        let upstream = format!("http://{backend}");
        let mut args = vec![
            "config",
            "init",
            "--upstream",
            &upstream,
            "--prefix",
            "/d/",
            "--listen",
            "localhost:0",
            "--admin",
            "127.0.0.1:0",
            "--public-host",
            HOST,
        ];
        args.extend_from_slice(extra);
        let o = run(self.cli(&args));
        assert!(o.status.success(), "{}", text(&o));
        let path = self.path(name);
        std::fs::write(&path, &o.stdout).unwrap();
        path
    }

    /// `serve --check` with more variables.
    fn check(&self, config: &Path, vars: &[(&str, &str)]) -> Output {
        let mut c = self.cli(&["serve", "--check", "--config"]);
        c.arg(config);
        for (k, v) in vars {
            c.env(k, v);
        }
        run(c)
    }
}

/// `serve --check` must fail with exactly one line naming what is asked.
fn fails_with_one_line(o: &Output, wants: &[&str]) -> String {
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(1), "{}", text(o));
    assert_eq!(err.lines().count(), 1, "not one line:\n{err}");
    assert!(err.starts_with("error: "), "{err}");
    for w in wants {
        assert!(err.contains(w), "{w:?} missing from: {err}");
    }
    err
}

/// A running `embedgate serve`, its output collected.
struct Serving {
    child: Child,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
}

impl Serving {
    fn start(mut c: Command) -> Serving {
        let mut child = c
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = Arc::new(Mutex::new(String::new()));
        let stderr = Arc::new(Mutex::new(String::new()));
        let out = BufReader::new(child.stdout.take().unwrap());
        let sink = Arc::clone(&stdout);
        std::thread::spawn(move || {
            for line in out.lines() {
                let Ok(line) = line else { return };
                let mut s = sink.lock().unwrap();
                s.push_str(&line);
                s.push('\n');
            }
        });
        let mut err = child.stderr.take().unwrap();
        let sink = Arc::clone(&stderr);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err.read(&mut buf) {
                if n == 0 {
                    return;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Serving {
            child,
            stdout,
            stderr,
        }
    }

    /// The rest of the first stdout line starting with `prefix`.
    fn line(&mut self, prefix: &str) -> String {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(30) {
            if let Some(rest) = self
                .stdout
                .lock()
                .unwrap()
                .lines()
                .find_map(|l| l.strip_prefix(prefix))
            {
                return rest.to_owned();
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "embedgate serve exited ({status}):\n{}{}",
                    self.stdout.lock().unwrap(),
                    self.stderr.lock().unwrap()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("no line {prefix:?} within 30 s");
    }

    /// SIGTERM, wait; returns (stdout, stderr).
    fn stop(mut self) -> (String, String) {
        let kill = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(kill.success());
        let status = self.child.wait().unwrap();
        assert!(status.success(), "{status:?}");
        std::thread::sleep(Duration::from_millis(100));
        let out = self.stdout.lock().unwrap().clone();
        let err = self.stderr.lock().unwrap().clone();
        (out, err)
    }
}

#[tokio::test]
async fn config_init_passes_check_and_serves_on_a_host_name_with_the_owner_token_in_a_file() {
    let setup = Setup::new();
    let backend = Backend::start().await;
    let created = run(setup.cli(&["secrets", "create", "--name", "app", "--json"]));
    assert!(created.status.success(), "{}", text(&created));
    let created: serde_json::Value = serde_json::from_slice(&created.stdout).unwrap();
    let kid = created["secret"]["client_id"].as_str().unwrap().to_owned();
    let secret = created["value"].as_str().unwrap().to_owned();

    // Valid as printed: the file names the store and key itself, so it
    // needs no variable.
    let config = setup.config_init("embedgate.toml", backend.addr, &[]);
    let mut check = embedgate();
    check.args(["serve", "--check", "--config"]).arg(&config);
    let o = run(check);
    assert!(o.status.success(), "{}", text(&o));
    let said = String::from_utf8_lossy(&o.stdout);
    assert!(
        said.starts_with("configuration ok: 1 route(s)") && said.contains("store opened"),
        "{said}"
    );

    let mut serve = embedgate();
    serve
        .args(["serve", "--config"])
        .arg(&config)
        .env("EMBEDGATE_LOG_FORMAT", "json");
    let mut proxy = Serving::start(serve);
    let token_line = proxy.line("embedgate serve: created the first admin token");
    let public: SocketAddr = proxy
        .line("embedgate serve: listening on ")
        .parse()
        .unwrap();
    let admin: SocketAddr = proxy.line("embedgate serve: admin on ").parse().unwrap();
    // localhost:0 was resolved to a loopback address.
    assert!(public.ip().is_loopback(), "{public}");

    // The default: the signed URL is answered with a redirect to itself
    // without its signature, and a session cookie that the page then uses.
    let got = get(public, &sign(&kid, &secret, "/d/board", "alice", &[]), &[]).await;
    assert_eq!(got.status, StatusCode::SEE_OTHER);
    assert_eq!(got.headers["location"], "/d/board");
    let cookie = got.cookie().expect("a session cookie");
    let got = get(public, "/d/board", &[("cookie", &cookie)]).await;
    assert_eq!(got.status, StatusCode::OK);
    assert_eq!(got.backend_header("x-embed-user").unwrap(), ["alice"]);

    // The first owner token: in a 0600 file beside the store, named by
    // the console line, valid against the admin API.
    let token_file = PathBuf::from(format!("{}.owner-token", setup.path("store.db").display()));
    assert!(
        token_line.contains(&token_file.display().to_string()),
        "{token_line}"
    );
    let token = std::fs::read_to_string(&token_file)
        .unwrap()
        .trim()
        .to_owned();
    assert!(token.starts_with("egadm_"), "{token}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&token_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let listed = read(
        send(
            admin,
            Request::get("/api/v1/tokens")
                .header("host", "admin")
                .header("authorization", format!("Bearer {token}"))
                .body(full(""))
                .unwrap(),
        )
        .await,
    )
    .await;
    assert_eq!(listed.status, StatusCode::OK);

    let (out, err) = proxy.stop();
    for (what, s) in [("stdout", &out), ("stderr", &err)] {
        assert!(!s.contains(&token), "the token is on {what}");
        assert!(!s.contains(&secret), "the secret is on {what}");
    }
    // [log] format = "json": every log line is a JSON object.
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(!lines.is_empty());
    for l in lines {
        let v: serde_json::Value =
            serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"));
        assert!(v["level"].is_string() && v["fields"].is_object(), "{l}");
    }
    // A second start reuses the store's token: no new file content.
    let mut again = embedgate();
    again.args(["serve", "--config"]).arg(&config);
    let mut proxy = Serving::start(again);
    proxy.line("embedgate serve: listening on ");
    let (out, _) = proxy.stop();
    assert!(!out.contains("first admin token"), "{out}");
    assert_eq!(std::fs::read_to_string(&token_file).unwrap().trim(), token);
}

#[tokio::test]
async fn every_bad_configuration_is_one_line_naming_the_key() {
    let setup = Setup::new();
    let backend = Backend::start().await;
    let config = setup.config_init("embedgate.toml", backend.addr, &[]);
    let good = setup.check(&config, &[]);
    assert!(good.status.success(), "{}", text(&good));

    // A typo in a variable: the closest key is named.
    fails_with_one_line(
        &setup.check(&config, &[("EMBEDGATE_VERIFY_SKEWW", "60")]),
        &[
            "EMBEDGATE_VERIFY_SKEWW",
            "EMBEDGATE_VERIFY_SKEW ",
            "`verify.skew`",
        ],
    );
    // A raw secret in a variable: refused, never echoed.
    let err = fails_with_one_line(
        &setup.check(
            &config,
            &[("EMBEDGATE_ROUTES_0_UPSTREAM_AUTH_TOKEN", "abc-raw-secret")],
        ),
        &["EMBEDGATE_ROUTES_0_UPSTREAM_AUTH_TOKEN", "secret"],
    );
    assert!(!err.contains("abc-raw-secret"));
    // A route the file does not have.
    fails_with_one_line(
        &setup.check(
            &config,
            &[("EMBEDGATE_ROUTES_5_UPSTREAM", "http://127.0.0.1:9")],
        ),
        &["EMBEDGATE_ROUTES_5_UPSTREAM", "no route 5"],
    );
    // A bad value from a variable names both.
    fails_with_one_line(
        &setup.check(&config, &[("EMBEDGATE_LIMITS_HEADER_READ_TIMEOUT", "soon")]),
        &["`limits.header_read_timeout` (from EMBEDGATE_LIMITS_HEADER_READ_TIMEOUT)"],
    );
    // TOML syntax: line and column.
    let broken = setup.path("broken.toml");
    let text_ok = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&broken, text_ok.replace("[verify]", "[verify")).unwrap();
    let line = text_ok.lines().position(|l| l == "[verify]").unwrap() + 1;
    fails_with_one_line(
        &setup.check(&broken, &[]),
        &[&format!("not valid TOML at line {line}, column")],
    );
    // An unknown key and a raw secret in the file.
    let unknown = setup.path("unknown.toml");
    std::fs::write(&unknown, text_ok.replace("[verify]", "[verify]\nskwe = 5")).unwrap();
    fails_with_one_line(
        &setup.check(&unknown, &[]),
        &["unknown config key `verify.skwe`", "did you mean `skew`"],
    );
    let raw = setup.path("raw.toml");
    std::fs::write(
        &raw,
        text_ok.replace(
            "# upstream_auth = ",
            "upstream_auth = { header = \"Authorization\", token = \"glsa_0123456789\" }\n# ",
        ),
    )
    .unwrap();
    let err = fails_with_one_line(
        &setup.check(&raw, &[]),
        &["`routes[0].upstream_auth.token`", "secret"],
    );
    assert!(!err.contains("glsa_0123456789"));

    // Start-time problems, found by --check.
    let other_key = setup.path("other.key");
    embedgate_store::MasterKey::generate_to_file(&other_key).unwrap();
    fails_with_one_line(
        &setup.check(
            &config,
            &[("EMBEDGATE_MASTER_KEY_FILE", other_key.to_str().unwrap())],
        ),
        &[
            "`store.master_key_file` (from EMBEDGATE_MASTER_KEY_FILE)",
            "wrong master key",
        ],
    );
    fails_with_one_line(
        &setup.check(
            &config,
            &[("EMBEDGATE_STORE", "postgres://postgres@127.0.0.1:1/test")],
        ),
        &[
            "`store.url` (from EMBEDGATE_STORE)",
            "cannot open the store",
        ],
    );
    let tls = setup.path("tls.toml");
    std::fs::write(
        &tls,
        format!(
            "{text_ok}\n[tls]\ncert_file = \"{0}/missing.pem\"\nkey_file = \"{0}/missing-key.pem\"\n",
            setup.dir.path().display()
        ),
    )
    .unwrap();
    fails_with_one_line(&setup.check(&tls, &[]), &["`tls.cert_file`", "missing.pem"]);

    let with_cred = setup.path("cred.toml");
    std::fs::write(
        &with_cred,
        text_ok.replace("# upstream_auth = ", "upstream_auth = "),
    )
    .unwrap();
    fails_with_one_line(
        &setup.check(&with_cred, &[]),
        &[
            "`routes[0].upstream_auth.credential`",
            "no credential \"grafana\"",
        ],
    );
    let mut put = setup.cli(&["credentials", "put", "--name", "grafana"]);
    put.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = put.spawn().unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), b"grafana-token-value").unwrap();
    assert!(child.wait().unwrap().success());
    let ok = setup.check(&with_cred, &[]);
    assert!(ok.status.success(), "{}", text(&ok));
    assert!(run(setup.cli(&["credentials", "deactivate", "grafana"]))
        .status
        .success());
    fails_with_one_line(
        &setup.check(&with_cred, &[]),
        &["`routes[0].upstream_auth.credential`", "deactivated"],
    );

    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy_addr = busy.local_addr().unwrap().to_string();
    fails_with_one_line(
        &setup.check(&config, &[("EMBEDGATE_LISTEN_PUBLIC", &busy_addr)]),
        &[
            "`listen.public` (from EMBEDGATE_LISTEN_PUBLIC)",
            "cannot listen",
        ],
    );
    // Several problems: one line each.
    let o = setup.check(
        &with_cred,
        &[
            ("EMBEDGATE_LISTEN_ADMIN", &busy_addr),
            (
                "EMBEDGATE_ROUTES_0_UPSTREAM",
                "http://no-such-host.invalid:80",
            ),
        ],
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(err.lines().count(), 3, "{err}");
    assert!(
        err.lines().all(|l| l.starts_with("error: config key `")),
        "{err}"
    );
    drop(busy);
}

#[test]
fn one_set_of_variable_names_for_every_command_old_ones_warn() {
    let setup = Setup::new();
    // The tour: the store commands' two variables and a config without a
    // [store] section.
    let config = setup.path("no-store.toml");
    std::fs::write(
        &config,
        "[listen]\npublic = \"127.0.0.1:0\"\nadmin = \"off\"\n\n[[routes]]\nprefix = \"/d/\"\nupstream = \"http://127.0.0.1:9\"\n",
    )
    .unwrap();
    let o = setup.check(&config, &[]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(o.stderr.is_empty(), "{}", text(&o));

    // The names `serve` used to read: still read, with a warning.
    let mut old = embedgate();
    old.env("EMBEDGATE_STORE_URL", &setup.url)
        .env("EMBEDGATE_STORE_MASTER_KEY_FILE", &setup.key)
        .args(["serve", "--check", "--config"])
        .arg(&config);
    let o = run(old);
    assert!(o.status.success(), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.lines().count(), 2, "{err}");
    assert!(
        err.contains("EMBEDGATE_STORE_URL is deprecated; use EMBEDGATE_STORE")
            && err.contains("EMBEDGATE_STORE_MASTER_KEY_FILE is deprecated"),
        "{err}"
    );
    // ... and by the store commands too.
    let mut old = embedgate();
    old.env("EMBEDGATE_STORE_URL", &setup.url)
        .env("EMBEDGATE_STORE_MASTER_KEY_FILE", &setup.key)
        .args(["secrets", "list"]);
    let o = run(old);
    assert!(o.status.success(), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("deprecated"));

    // Without any master key: one line naming the key.
    let mut none = embedgate();
    none.env("EMBEDGATE_STORE", &setup.url)
        .args(["serve", "--check", "--config"])
        .arg(&config);
    fails_with_one_line(&run(none), &["`store.master_key_file`", "no master key"]);
}

#[test]
fn a_one_time_value_goes_into_a_pipe_only_with_json() {
    let setup = Setup::new();
    // stdout is a pipe here: without --json, refused before anything is made.
    for (args, what) in [
        (
            &["secrets", "create", "--name", "piped"][..],
            "secret's value",
        ),
        (
            &["tokens", "create", "--role", "viewer", "--name", "piped"][..],
            "token",
        ),
    ] {
        let o = run(setup.cli(args));
        fails_with_one_line(&o, &["stdout is not a terminal", what, "--json"]);
        assert!(o.stdout.is_empty());
    }
    let listed = run(setup.cli(&["secrets", "list", "--json"]));
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&listed.stdout).unwrap(),
        serde_json::json!([])
    );
    let listed = run(setup.cli(&["tokens", "list", "--json"]));
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&listed.stdout).unwrap(),
        serde_json::json!([])
    );
    // Asked for: JSON with the value.
    let o = run(setup.cli(&[
        "tokens", "create", "--role", "viewer", "--name", "ci", "--json",
    ]));
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v["value"].as_str().unwrap().starts_with("egadm_"));
}
