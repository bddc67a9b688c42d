//! A plain loop over sign or verify of the benchmark's URL (EG1, or EGJ1
//! with `jwt-sign` / `jwt-verify`), for instruction profiles (`valgrind
//! --tool=callgrind`) and CPU-time checks:
//!
//! ```sh
//! cargo build --profile bench -p embedgate-core --example profile_eg1
//! valgrind --tool=callgrind target/release/examples/profile_eg1 verify 10000
//! target/release/examples/profile_eg1 verify 2000000   # prints ns per call (user CPU)
//! ```

use std::collections::HashMap;
use std::hint::black_box;
use std::time::Instant;

use embedgate_core::{EmbedKey, NonceCheck, Signer, UnverifiedEmbedUrl, VerifyPolicy};

#[path = "../benches/fixture/mod.rs"]
mod fixture;

use fixture::{request, KID, NOW, SECRET};

fn main() {
    let mut args = std::env::args().skip(1);
    let what = args.next().unwrap_or_else(|| "verify".into());
    let n: u64 = args
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let signer = Signer::new(KID, SECRET).expect("kid");
    let url = signer.sign(&request()).expect("signs");
    let jwt_url = signer.sign_jwt(&request()).expect("signs");
    let keys: HashMap<String, EmbedKey> = [(KID.to_owned(), EmbedKey::new(SECRET))].into();
    let policy = VerifyPolicy::default();
    let cpu0 = cpu_seconds().unwrap_or((0.0, 0.0));
    let start = Instant::now();
    for _ in 0..n {
        match what.as_str() {
            "sign" => {
                black_box(signer.sign(black_box(&request())).expect("signs"));
            }
            "parse" => {
                black_box(UnverifiedEmbedUrl::parse(black_box(&url)).expect("parses"));
            }
            "auth" => {
                let a = UnverifiedEmbedUrl::parse(black_box(&url))
                    .and_then(|u| u.authenticate(&keys, NOW, &policy))
                    .expect("authentic");
                black_box(a);
            }
            "jwt-sign" => {
                black_box(signer.sign_jwt(black_box(&request())).expect("signs"));
            }
            "jwt-verify" => {
                let v = UnverifiedEmbedUrl::parse(black_box(&jwt_url))
                    .and_then(|u| u.authenticate(&keys, NOW, &policy))
                    .and_then(|a| a.accept(NonceCheck::Fresh))
                    .expect("verifies");
                black_box(v);
            }
            "sts" => {
                black_box(embedgate_core::string_to_sign(black_box(&url)).expect("sts"));
            }
            _ => {
                let v = UnverifiedEmbedUrl::parse(black_box(&url))
                    .and_then(|u| u.authenticate(&keys, NOW, &policy))
                    .and_then(|a| a.accept(NonceCheck::Fresh))
                    .expect("verifies");
                black_box(v);
            }
        }
    }
    let ns = start.elapsed().as_nanos() as f64 / n as f64;
    let cpu = cpu_seconds().map(|(u, s)| (u - cpu0.0 + s - cpu0.1) * 1e9 / n as f64);
    match cpu {
        Some(cpu) => println!("{what}: {ns:.0} ns wall, {cpu:.0} ns CPU per call over {n} calls"),
        None => println!("{what}: {ns:.0} ns wall per call over {n} calls"),
    }
}

/// User and system CPU seconds of this process (Linux `/proc/self/stat`,
/// in clock ticks of 10 ms): on a shared machine the wall clock counts time
/// spent waiting for a CPU, this does not.
fn cpu_seconds() -> Option<(f64, f64)> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let after_name = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = after_name.split(' ').collect();
    // Fields 14 and 15 of stat(5), counted from the state field (3).
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime / 100.0, stime / 100.0))
}
