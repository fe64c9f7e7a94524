//! Test support shared by the core's tests, the benchmarks and the worker's conformance build:
//! an in-memory store and the conformance suite every store backend passes.

#[cfg(any(test, feature = "conformance"))]
pub mod conformance;
pub mod memory_store;
#[cfg(all(test, target_arch = "wasm32"))]
mod wasm_tests;
