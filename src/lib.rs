//! edgegate: the authentication edge of a web application.
//!
//! Two halves with one rule between them: [`auth`] holds every security decision as pure Rust
//! (no `worker` types, the clock and randomness injected), so it is tested natively in
//! milliseconds; `edge` (built only for wasm32) is the thin shell that binds it to the Workers
//! runtime: KV, fetch, Env and the HTTP surface.

#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod auth;
#[doc(hidden)]
pub mod testing;

#[cfg(target_arch = "wasm32")]
mod edge;
