//! Test support shared by the core's tests, the benchmarks and the worker's conformance build:
//! an in-memory store, the conformance suite every store backend passes, a DPoP client, a
//! browser's device key and a passkey authenticator.

// Test support: a failed expectation here is a failed test, reported by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[cfg(any(test, feature = "conformance"))]
pub mod conformance;
#[cfg(not(target_arch = "wasm32"))]
pub mod device_browser;
pub mod dpop_client;
pub mod memory_store;
#[cfg(not(target_arch = "wasm32"))]
pub mod passkey_authenticator;
#[cfg(all(test, target_arch = "wasm32"))]
mod wasm_tests;
