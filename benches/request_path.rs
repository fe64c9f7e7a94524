//! The per-request decision of a protected GET, natively: the same phases, on the same fixture,
//! as the wasm benchmark (`bench/wasm`), whose phase code this file includes.
//!
//!   cargo bench --bench request_path             full run
//!   cargo bench --bench request_path -- --test   each benchmark once (smoke)

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};

#[path = "../bench/wasm/src/phases.rs"]
#[allow(dead_code)]
mod phases;

use phases::Fixture;

fn request_path(c: &mut Criterion) {
    let fixture = Fixture::new();
    fixture.check();
    let access = fixture.verify();
    let identity = fixture.assertion(&access);

    let mut group = c.benchmark_group("request_path");
    group.bench_function("cookie_parse", |b| {
        b.iter(|| black_box(&fixture).cookie_parse())
    });
    group.bench_function("token_verify", |b| b.iter(|| black_box(&fixture).verify()));
    group.bench_function("authenticate", |b| {
        b.iter(|| black_box(&fixture).authenticate())
    });
    group.bench_function("assertion_signing", |b| {
        b.iter(|| fixture.assertion(black_box(&access)))
    });
    group.bench_function("assertion_prepare", |b| {
        b.iter(|| fixture.assertion_prepare(black_box(&access)))
    });
    group.bench_function("decision_in_worker", |b| {
        b.iter(|| black_box(&fixture).decision_in_worker())
    });
    group.bench_function("forward_headers", |b| {
        b.iter(|| Fixture::headers(black_box(&identity)))
    });
    group.bench_function("decision", |b| b.iter(|| black_box(&fixture).decision()));
    group.bench_function("ed25519_sign", |b| {
        b.iter(|| black_box(&fixture).ed25519_sign())
    });
    group.finish();
}

criterion_group!(benches, request_path);
criterion_main!(benches);
