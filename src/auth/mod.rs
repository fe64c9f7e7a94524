//! The session core: every security decision edgegate makes, as pure Rust.
//!
//! Nothing here touches the Workers runtime. Time and randomness come in through
//! [`env::Clock`] and [`env::Entropy`], storage through the [`store::SessionStore`] trait, so the
//! whole model runs natively in tests and identically in wasm.

pub mod admin;
pub mod audit;
pub mod authority;
pub mod binding;
pub mod cache;
pub mod config;
#[cfg(any(test, feature = "conformance"))]
pub mod conformance;
pub mod cookie;
pub mod encoding;
pub mod env;
pub mod forward;
pub mod gate;
pub mod keys;
pub mod kv_keys;
pub mod login;
pub mod memory_store;
pub mod oidc;
pub mod page;
pub mod password;
pub mod path;
pub mod policy;
pub mod ratelimit;
pub mod redirect;
pub mod refresh;
pub mod request;
pub mod secret;
pub mod session;
pub mod socket;
pub mod store;
pub mod token;
pub mod user_sessions;
pub mod username;
#[cfg(all(test, target_arch = "wasm32"))]
mod wasm_tests;
