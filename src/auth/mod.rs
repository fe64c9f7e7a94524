//! The session core: every security decision edgegate makes, as pure Rust.
//!
//! Nothing here touches the Workers runtime. Time and randomness come in through
//! [`env::Clock`] and [`env::Entropy`], storage through the [`session::store::SessionStore`]
//! trait, so the whole model runs natively in tests and identically in wasm.

pub mod accounts;
pub mod audit;
pub mod config;
pub mod env;
pub mod gate;
pub mod http;
pub mod names;
pub mod oidc;
pub mod pages;
pub mod policy;
pub mod secret;
pub mod session;
pub mod token;
