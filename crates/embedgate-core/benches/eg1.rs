//! Sign and verify of a ~300-byte embed URL (3 content parameters, 2
//! attributes), beside the floor: HMAC-SHA256 of the same string to sign with
//! a pre-keyed state. The same request as EGJ1 (`egj1/…`), beside its own
//! floor: HMAC-SHA256 of the token's signing input. Run with `cargo xtask
//! bench`.

use std::collections::HashMap;
use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use embedgate_core::{EmbedKey, NonceCheck, Signer, UnverifiedEmbedUrl, VerifyPolicy};
use hmac::{Hmac, Mac};
use sha2::Sha256;

mod fixture;

use fixture::{request, KID, NOW, SECRET};

fn benches(c: &mut Criterion) {
    let signer = Signer::new(KID, SECRET).expect("kid");
    let url = signer.sign(&request()).expect("signs");
    let keys: HashMap<String, EmbedKey> = [(KID.to_owned(), EmbedKey::new(SECRET))].into();
    let policy = VerifyPolicy::default();
    let sts = embedgate_core::string_to_sign(&url).expect("sts");
    eprintln!(
        "URL: {} bytes, string to sign: {} bytes",
        url.len(),
        sts.len()
    );

    let mut g = c.benchmark_group("eg1");
    g.bench_function("hmac_sha256_floor", |b| {
        let keyed = <Hmac<Sha256> as hmac::digest::KeyInit>::new_from_slice(SECRET).expect("key");
        b.iter(|| {
            let mut mac = keyed.clone();
            mac.update(black_box(sts.as_bytes()));
            black_box(mac.finalize().into_bytes())
        })
    });
    g.bench_function("sign", |b| {
        b.iter(|| black_box(signer.sign(black_box(&request())).expect("signs")))
    });
    g.bench_function("verify", |b| {
        b.iter(|| {
            let v = UnverifiedEmbedUrl::parse(black_box(&url))
                .and_then(|u| u.authenticate(&keys, NOW, &policy))
                .and_then(|a| a.accept(NonceCheck::Fresh))
                .expect("verifies");
            black_box(v)
        })
    });
    g.bench_function("string_to_sign", |b| {
        b.iter(|| black_box(embedgate_core::string_to_sign(black_box(&url)).expect("sts")))
    });
    g.finish();

    let jwt_url = signer.sign_jwt(&request()).expect("signs");
    let signing_input = UnverifiedEmbedUrl::parse(&jwt_url)
        .expect("parses")
        .string_to_sign()
        .to_owned();
    eprintln!(
        "EGJ1 URL: {} bytes, signing input: {} bytes",
        jwt_url.len(),
        signing_input.len()
    );
    let mut g = c.benchmark_group("egj1");
    g.bench_function("hmac_sha256_floor", |b| {
        let keyed = <Hmac<Sha256> as hmac::digest::KeyInit>::new_from_slice(SECRET).expect("key");
        b.iter(|| {
            let mut mac = keyed.clone();
            mac.update(black_box(signing_input.as_bytes()));
            black_box(mac.finalize().into_bytes())
        })
    });
    g.bench_function("sign", |b| {
        b.iter(|| black_box(signer.sign_jwt(black_box(&request())).expect("signs")))
    });
    g.bench_function("verify", |b| {
        b.iter(|| {
            let v = UnverifiedEmbedUrl::parse(black_box(&jwt_url))
                .and_then(|u| u.authenticate(&keys, NOW, &policy))
                .and_then(|a| a.accept(NonceCheck::Fresh))
                .expect("verifies");
            black_box(v)
        })
    });
    g.finish();
}

criterion_group!(eg1, benches);
criterion_main!(eg1);
