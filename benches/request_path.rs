//! The per-request decision of a protected GET, natively: the same phases, on the same fixture,
//! as the wasm benchmark (`bench/wasm`), whose phase code this file includes.
//!
//!   cargo bench --bench request_path             full run
//!   cargo bench --bench request_path -- --test   each benchmark once (smoke)

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};

#[path = "../bench/wasm/src/phases.rs"]
mod phases;

use phases::Fixture;

fn request_path(c: &mut Criterion) {
    let fixture = Fixture::new();
    fixture.check();
    let identity = fixture.identity();

    let mut group = c.benchmark_group("request_path");
    group.bench_function("request_read", |b| {
        b.iter(|| black_box(&fixture).request_read())
    });
    group.bench_function("token_verify", |b| b.iter(|| black_box(&fixture).verify()));
    group.bench_function("decision_cached", |b| {
        b.iter(|| black_box(&fixture).decision_cached())
    });
    group.bench_function("decision_uncached", |b| {
        b.iter(|| black_box(&fixture).decision_uncached())
    });
    group.bench_function("decision_signed_here", |b| {
        b.iter(|| black_box(&fixture).decision_signed_here())
    });
    group.bench_function("forward_headers", |b| {
        b.iter(|| Fixture::headers(black_box(&identity)))
    });
    group.bench_function("ed25519_sign", |b| {
        b.iter(|| black_box(&fixture).ed25519_sign())
    });
    group.finish();
}

criterion_group!(benches, request_path);
criterion_main!(benches);
