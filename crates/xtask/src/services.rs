//! PostgreSQL and Redis for the store and fleet tests (`cargo xtask test`,
//! `cargo xtask with-services`).
//!
//! The servers named by `EMBEDGATE_TEST_POSTGRES_URL` and
//! `EMBEDGATE_TEST_REDIS_URL` are used when set (and must answer); unset,
//! the machine's own at 127.0.0.1:5432 and :6379 are used when they answer.
//! Otherwise the task starts throwaway servers on private loopback ports,
//! with their data under `target/xtask-services/` (trust authentication,
//! TCP only, no fsync), installing Debian's `postgresql` / `redis-server`
//! first when missing and running as root. They are stopped when the task
//! ends ([`Services`]' `Drop`), also when a test fails; a run that was
//! killed leaves them running, and the next run stops them first.
//! `EMBEDGATE_XTASK_FORCE_OWN_SERVICES=1` starts throwaway ones even when
//! the machine's answer (how this path is tested on a machine that has
//! both).
//!
//! PostgreSQL refuses to run as root: as root, `initdb` and `pg_ctl` run as
//! the `postgres` user (`runuser`), in a directory that user owns.

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream, ToSocketAddrs as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};

use crate::run::step;

/// The variable the store and fleet tests read for PostgreSQL.
pub const POSTGRES_ENV: &str = "EMBEDGATE_TEST_POSTGRES_URL";
/// The variable the fleet tests read for Redis.
pub const REDIS_ENV: &str = "EMBEDGATE_TEST_REDIS_URL";
/// Set to 1: start throwaway servers even when others answer.
pub const FORCE_OWN_ENV: &str = "EMBEDGATE_XTASK_FORCE_OWN_SERVICES";
/// The machine's PostgreSQL, used when the variable is unset.
pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";
/// The machine's Redis, used when the variable is unset.
pub const DEFAULT_REDIS_URL: &str = "redis://127.0.0.1:6379";

/// The servers the tests use; throwaway ones stop when this is dropped.
#[derive(Debug)]
pub struct Services {
    /// What `EMBEDGATE_TEST_POSTGRES_URL` is set to for the child processes.
    pub postgres_url: String,
    /// What `EMBEDGATE_TEST_REDIS_URL` is set to for the child processes.
    pub redis_url: String,
    own_postgres: Option<OwnPostgres>,
    own_redis: Option<OwnRedis>,
    /// `target/xtask-services`, while this run owns it.
    dir: Option<PathBuf>,
}

impl Drop for Services {
    fn drop(&mut self) {
        if self.own_postgres.is_none() && self.own_redis.is_none() {
            return;
        }
        step("stopping the throwaway PostgreSQL and Redis");
        if let Some(pg) = self.own_postgres.take() {
            pg.stop();
        }
        if let Some(redis) = self.own_redis.take() {
            redis.stop();
        }
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Finds or starts PostgreSQL and Redis, and sets the two variables for
/// the processes this task starts.
pub fn ensure() -> anyhow::Result<Services> {
    step("PostgreSQL and Redis for the store and fleet tests");
    let force = std::env::var(FORCE_OWN_ENV).is_ok_and(|v| v == "1");
    if force {
        println!("{FORCE_OWN_ENV}=1: starting throwaway servers whatever else answers");
    }
    let pg = if force {
        None
    } else {
        pick(
            "PostgreSQL",
            POSTGRES_ENV,
            DEFAULT_POSTGRES_URL,
            postgres_answers,
        )?
    };
    let redis = if force {
        None
    } else {
        pick("Redis", REDIS_ENV, DEFAULT_REDIS_URL, redis_answers)?
    };
    let mut services = Services {
        postgres_url: pg.clone().unwrap_or_default(),
        redis_url: redis.clone().unwrap_or_default(),
        own_postgres: None,
        own_redis: None,
        dir: None,
    };
    if pg.is_none() || redis.is_none() {
        let dir = crate::root().join("target/xtask-services");
        take_over(&dir)?;
        services.dir = Some(dir.clone());
        if pg.is_none() {
            let own = OwnPostgres::start(&dir)?;
            services.postgres_url = own.url.clone();
            services.own_postgres = Some(own);
        }
        if redis.is_none() {
            let own = OwnRedis::start(&dir.join("redis"))?;
            services.redis_url = own.url.clone();
            services.own_redis = Some(own);
        }
    }
    // Read by the test processes this task starts.
    std::env::set_var(POSTGRES_ENV, &services.postgres_url);
    std::env::set_var(REDIS_ENV, &services.redis_url);
    println!("{POSTGRES_ENV}={}", services.postgres_url);
    println!("{REDIS_ENV}={}", services.redis_url);
    Ok(services)
}

/// The URL to use if a server answers there; `None` to start one. A URL
/// set in the environment must answer.
fn pick(
    what: &str,
    env: &str,
    default: &str,
    answers: fn(&str) -> bool,
) -> anyhow::Result<Option<String>> {
    match std::env::var(env).ok().filter(|u| !u.is_empty()) {
        Some(url) if answers(&url) => {
            println!("{what}: using {url} ({env})");
            Ok(Some(url))
        }
        Some(url) => bail!(
            "{what} does not answer at {env}={url}. Start it, point {env} at one that does, \
             or unset {env} to let this task start a throwaway one."
        ),
        None if answers(default) => {
            println!("{what}: using the machine's, {default}");
            Ok(Some(default.to_owned()))
        }
        None => {
            println!("{what}: none answers at {default}; starting a throwaway one");
            Ok(None)
        }
    }
}

/// `host:port` of a `scheme://[user@]host[:port][/…]` URL.
fn host_port(url: &str, default_port: u16) -> anyhow::Result<String> {
    let rest = url
        .split_once("://")
        .map(|(_, r)| r)
        .with_context(|| format!("{url}: expected SCHEME://HOST:PORT"))?;
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    let host = authority.rsplit('@').next().unwrap_or_default();
    if host.is_empty() {
        bail!("no host in {url}");
    }
    Ok(if host.contains(':') {
        host.to_owned()
    } else {
        format!("{host}:{default_port}")
    })
}

fn tcp(url: &str, default_port: u16) -> Option<TcpStream> {
    let addr = host_port(url, default_port)
        .ok()?
        .to_socket_addrs()
        .ok()?
        .next()?;
    TcpStream::connect_timeout(&addr, Duration::from_secs(3)).ok()
}

/// Whether PostgreSQL accepts a session at `url`: with `psql` when
/// installed (which also checks the login and the database), else
/// `pg_isready`, else a TCP connection.
pub fn postgres_answers(url: &str) -> bool {
    if tcp(url, 5432).is_none() {
        return false;
    }
    let quiet = |mut cmd: Command| {
        cmd.env("PGCONNECT_TIMEOUT", "5")
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .ok()
    };
    let mut psql = Command::new("psql");
    psql.args(["-X", "-tA", "-c", "select 1", "-d", url]);
    if let Some(out) = quiet(psql) {
        return out.status.success() && String::from_utf8_lossy(&out.stdout).trim() == "1";
    }
    let mut ready = Command::new("pg_isready");
    ready.args(["-t", "5", "-d", url]);
    quiet(ready).is_none_or(|out| out.status.success())
}

/// Whether Redis answers `PING` at `url`.
pub fn redis_answers(url: &str) -> bool {
    let Some(mut s) = tcp(url, 6379) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(3)));
    let mut buf = [0u8; 7];
    s.write_all(b"PING\r\n").is_ok() && s.read_exact(&mut buf).is_ok() && &buf == b"+PONG\r\n"
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// The command line of process `pid`, if it runs.
fn cmdline(pid: u32) -> Option<String> {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .ok()
        .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
}

fn read_pid(path: &Path) -> Option<u32> {
    std::fs::read_to_string(path)
        .ok()?
        .lines()
        .next()?
        .trim()
        .parse()
        .ok()
}

/// Makes `dir` this run's: fails if another live xtask run owns it, stops
/// what a killed run left there, and starts it afresh.
fn take_over(dir: &Path) -> anyhow::Result<()> {
    let owner = dir.join("owner.pid");
    if let Some(pid) = read_pid(&owner) {
        if pid != std::process::id() && cmdline(pid).is_some_and(|c| c.contains("xtask")) {
            bail!(
                "another cargo xtask run (pid {pid}) is using the throwaway servers in {}; \
                 wait for it to finish",
                dir.display()
            );
        }
    }
    if dir.exists() {
        stop_stale(dir);
        std::fs::remove_dir_all(dir).with_context(|| format!("cannot remove {}", dir.display()))?;
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    std::fs::write(&owner, format!("{}\n", std::process::id()))
        .with_context(|| format!("cannot write {}", owner.display()))
}

/// Stops servers a killed run left in `dir`.
fn stop_stale(dir: &Path) {
    let pg_base = std::fs::read_to_string(dir.join("postgres.dir"))
        .map(|s| PathBuf::from(s.trim()))
        .unwrap_or_else(|_| dir.join("postgres"));
    let data = pg_base.join("data");
    if data.join("postmaster.pid").is_file() {
        println!(
            "stopping the throwaway PostgreSQL a killed run left in {}",
            data.display()
        );
        if let Ok(bin) = postgres_bin_dir() {
            let mut stop = as_postgres_user(&bin.join("pg_ctl"));
            stop.arg("-D")
                .arg(&data)
                .args(["-m", "immediate", "-w", "stop"]);
            let _ = stop.stdout(Stdio::null()).stderr(Stdio::null()).status();
        }
    }
    if pg_base != dir.join("postgres") {
        let _ = std::fs::remove_dir_all(&pg_base);
    }
    if let Some(pid) = read_pid(&dir.join("redis/redis.pid")) {
        if cmdline(pid).is_some_and(|c| c.contains("redis-server")) {
            println!("stopping the throwaway Redis (pid {pid}) a killed run left");
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
        }
    }
}

/// A command that runs `program` as the `postgres` user when this process
/// is root (PostgreSQL refuses to run as root), else as it is.
fn as_postgres_user(program: &Path) -> Command {
    if crate::apt::is_root() {
        let mut cmd = Command::new("runuser");
        cmd.args(["-u", "postgres", "--"]).arg(program);
        cmd
    } else {
        Command::new(program)
    }
}

/// The directory of `initdb`, `pg_ctl` and `postgres`: on PATH, or
/// Debian's newest `/usr/lib/postgresql/N/bin`.
fn postgres_bin_dir() -> anyhow::Result<PathBuf> {
    let on_path = std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p).find(|d| d.join("initdb").is_file() && d.join("pg_ctl").is_file())
    });
    if let Some(dir) = on_path {
        // /usr/local/bin/initdb may be a link into the real bin directory,
        // where `postgres` is.
        let real = std::fs::canonicalize(dir.join("initdb"))?;
        return Ok(real.parent().map_or(dir, Path::to_path_buf));
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .filter_map(|e| {
            let e = e.ok()?;
            let n = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((n, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin).context(
        "no PostgreSQL server binaries (initdb, pg_ctl) on PATH or in /usr/lib/postgresql/*/bin",
    )
}

/// Runs `cmd`, failing with its output when it fails.
fn quiet_status(mut cmd: Command, what: &str) -> anyhow::Result<()> {
    let shown = format!("{cmd:?}");
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot start {shown}"))?;
    if !out.status.success() {
        bail!(
            "{what} failed ({}): {shown}\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// A PostgreSQL cluster of this run, started with `pg_ctl`.
#[derive(Debug)]
struct OwnPostgres {
    url: String,
    bin: PathBuf,
    base: PathBuf,
}

impl OwnPostgres {
    fn start(services: &Path) -> anyhow::Result<OwnPostgres> {
        let bin = match postgres_bin_dir() {
            Ok(bin) => bin,
            Err(e) if crate::apt::can_install() => {
                println!("{e}");
                crate::apt::install(&["postgresql"])?;
                postgres_bin_dir()?
            }
            Err(e) => bail!(
                "{e}. The store and fleet tests need PostgreSQL: install its server \
                 (Debian: apt-get install postgresql; this task does it when run as root), \
                 or point {POSTGRES_ENV} at a running one."
            ),
        };
        let base = postgres_base(services)?;
        std::fs::write(
            services.join("postgres.dir"),
            base.display().to_string() + "\n",
        )?;
        let data = base.join("data");
        let log = base.join("server.log");
        let mut initdb = as_postgres_user(&bin.join("initdb"));
        initdb
            .arg("-D")
            .arg(&data)
            .args(["-U", "postgres", "-A", "trust", "-E", "UTF8"])
            .args(["--locale=C", "--no-sync"]);
        quiet_status(initdb, "initdb")?;
        let mut last_error = None;
        // A free port can be taken between choosing it and the server's
        // bind: try another.
        for _ in 0..3 {
            let port = free_port()?;
            let mut start = as_postgres_user(&bin.join("pg_ctl"));
            start
                .arg("-D")
                .arg(&data)
                .arg("-l")
                .arg(&log)
                .args(["-w", "-t", "60", "-o"])
                .arg(format!(
                    "-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories='' \
                     -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
                     -c max_connections=200"
                ))
                .arg("start");
            match quiet_status(start, "pg_ctl start") {
                Ok(()) => {
                    let url = format!("postgres://postgres@127.0.0.1:{port}/postgres");
                    let own = OwnPostgres {
                        url,
                        bin: bin.clone(),
                        base: base.clone(),
                    };
                    wait_until(Duration::from_secs(30), || postgres_answers(&own.url))
                        .with_context(|| format!("the throwaway PostgreSQL at {}", own.url))?;
                    println!(
                        "started a throwaway PostgreSQL ({}) at {} (data {}, log {})",
                        bin.display(),
                        own.url,
                        data.display(),
                        log.display()
                    );
                    return Ok(own);
                }
                Err(e) => {
                    let server_log = std::fs::read_to_string(&log).unwrap_or_default();
                    last_error = Some(e.context(server_log));
                }
            }
        }
        Err(last_error.unwrap_or_else(|| anyhow::anyhow!("pg_ctl start failed")))
    }

    fn stop(self) {
        let mut stop = as_postgres_user(&self.bin.join("pg_ctl"));
        stop.arg("-D")
            .arg(self.base.join("data"))
            .args(["-m", "fast", "-w", "stop"]);
        match quiet_status(stop, "pg_ctl stop") {
            Ok(()) => println!("stopped the throwaway PostgreSQL at {}", self.url),
            Err(e) => eprintln!("xtask: {e:#}"),
        }
        let _ = std::fs::remove_dir_all(&self.base);
    }
}

/// The directory of the throwaway cluster: `services/postgres`, owned by
/// the `postgres` user when running as root. If that user cannot reach it
/// (a parent directory it may not enter, like /root), a directory under
/// /tmp named for this checkout.
fn postgres_base(services: &Path) -> anyhow::Result<PathBuf> {
    let base = services.join("postgres");
    if !crate::apt::is_root() {
        std::fs::create_dir_all(&base)?;
        return Ok(base);
    }
    let ids = |flag: &str| -> anyhow::Result<u32> {
        let out = Command::new("id").args([flag, "postgres"]).output()?;
        anyhow::ensure!(
            out.status.success(),
            "there is no `postgres` user to run PostgreSQL as (it refuses to run as root); \
             Debian's postgresql package creates it"
        );
        Ok(String::from_utf8_lossy(&out.stdout).trim().parse()?)
    };
    let (uid, gid) = (ids("-u")?, ids("-g")?);
    let reachable = |dir: &Path| {
        Command::new("runuser")
            .args(["-u", "postgres", "--", "test", "-w"])
            .arg(dir)
            .status()
            .is_ok_and(|s| s.success())
    };
    let own = |dir: &Path| -> anyhow::Result<()> {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        std::os::unix::fs::chown(dir, Some(uid), Some(gid))
            .with_context(|| format!("cannot give {} to the postgres user", dir.display()))
    };
    own(&base)?;
    if reachable(&base) {
        return Ok(base);
    }
    let _ = std::fs::remove_dir_all(&base);
    let name: u64 = crate::root()
        .display()
        .to_string()
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        });
    let tmp = std::env::temp_dir().join(format!("embedgate-xtask-postgres-{name:016x}"));
    let _ = std::fs::remove_dir_all(&tmp);
    own(&tmp)?;
    anyhow::ensure!(
        reachable(&tmp),
        "the postgres user can write neither {} nor {}",
        base.display(),
        tmp.display()
    );
    println!(
        "(the postgres user cannot enter {}; the throwaway cluster lives in {})",
        base.display(),
        tmp.display()
    );
    Ok(tmp)
}

/// A Redis of this run: a child process.
#[derive(Debug)]
struct OwnRedis {
    url: String,
    child: Child,
    dir: PathBuf,
}

impl OwnRedis {
    fn start(dir: &Path) -> anyhow::Result<OwnRedis> {
        if !crate::run::has("redis-server") {
            if !crate::apt::can_install() {
                bail!(
                    "redis-server is not installed. The fleet tests need Redis: install it \
                     (Debian: apt-get install redis-server; this task does it when run as root), \
                     or point {REDIS_ENV} at a running one."
                );
            }
            crate::apt::install(&["redis-server"])?;
        }
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let mut last_error = None;
        for _ in 0..3 {
            let port = free_port()?;
            let child = Command::new("redis-server")
                .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
                .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
                .arg("--dir")
                .arg(dir)
                .arg("--pidfile")
                .arg(dir.join("redis.pid"))
                .arg("--logfile")
                .arg(dir.join("redis.log"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .context("cannot start redis-server")?;
            let mut own = OwnRedis {
                url: format!("redis://127.0.0.1:{port}"),
                child,
                dir: dir.to_owned(),
            };
            let deadline = Instant::now() + Duration::from_secs(15);
            while Instant::now() < deadline {
                if let Ok(Some(st)) = own.child.try_wait() {
                    last_error = Some(anyhow::anyhow!(
                        "redis-server exited ({st}):\n{}",
                        std::fs::read_to_string(dir.join("redis.log")).unwrap_or_default()
                    ));
                    break;
                }
                if redis_answers(&own.url) {
                    println!(
                        "started a throwaway Redis at {} (pid {}, log {})",
                        own.url,
                        own.child.id(),
                        dir.join("redis.log").display()
                    );
                    return Ok(own);
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            if last_error.is_none() {
                last_error = Some(anyhow::anyhow!("redis-server does not answer after 15 s"));
            }
            own.stop_quietly();
        }
        Err(last_error.unwrap_or_else(|| anyhow::anyhow!("cannot start redis-server")))
    }

    fn stop_quietly(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn stop(mut self) {
        self.stop_quietly();
        println!("stopped the throwaway Redis at {}", self.url);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Polls `cond` until true, or fails after `limit`.
fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> anyhow::Result<()> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if cond() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!("not ready after {} s", limit.as_secs())
}

/// `cargo xtask with-services COMMAND [ARGS…]`: runs one command with the
/// two variables set, starting and stopping throwaway servers as needed.
pub fn with_services(args: &[String]) -> anyhow::Result<()> {
    let Some((program, rest)) = args.split_first() else {
        bail!("usage: cargo xtask with-services COMMAND [ARGS...]");
    };
    let _services = ensure()?;
    step(&format!("{program} {}", rest.join(" ")));
    let mut cmd = Command::new(program);
    cmd.args(rest);
    crate::run::status(cmd)
}

#[cfg(test)]
mod tests {
    use super::{free_port, host_port, postgres_answers, redis_answers};

    #[test]
    fn host_port_of_service_urls() {
        let hp = |u: &str, p| host_port(u, p).unwrap();
        assert_eq!(
            hp("postgres://postgres@127.0.0.1:5432/test", 5432),
            "127.0.0.1:5432"
        );
        assert_eq!(
            hp("postgres://u:p@db.local/test?sslmode=disable", 5432),
            "db.local:5432"
        );
        assert_eq!(hp("redis://127.0.0.1:6380/2", 6379), "127.0.0.1:6380");
        assert_eq!(hp("redis://localhost", 6379), "localhost:6379");
        assert!(host_port("127.0.0.1:5432", 5432).is_err());
        assert!(host_port("postgres:///test", 5432).is_err());
    }

    #[test]
    fn nothing_listening_is_no_server() {
        let port = free_port().unwrap();
        assert!(!postgres_answers(&format!(
            "postgres://postgres@127.0.0.1:{port}/test"
        )));
        assert!(!redis_answers(&format!("redis://127.0.0.1:{port}")));
    }
}
