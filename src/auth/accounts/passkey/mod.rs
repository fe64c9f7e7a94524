//! Passkeys: built-in users sign in with a WebAuthn credential instead of a password.
//!
//! The whole ceremony is here, as pure Rust over ports: the options a browser is given, every
//! check of WebAuthn Level 3 §7.1 (registration) and §7.2 (authentication) on what it sends
//! back, and the per-user state that must change atomically (the user's authority applies
//! [`registry::apply`]). The shell only carries bytes: it hands the JSON to
//! [`ceremony`], sends commands to the user's authority and signatures to WebCrypto.
//!
//! - [`ids`] - credential ids and user handles, the two names WebAuthn gives
//! - [`client_data`] - `clientDataJSON`: type, challenge, origin
//! - [`authenticator_data`] - the authenticator's bytes: RP id hash, flags, counter, the
//!   credential's COSE key as a JWK
//! - [`cbor`] - the little CBOR the ceremonies read: whole items, definite lengths
//! - [`challenge`] - the single-use challenges of both ceremonies
//! - [`ceremony`] - options out, responses in: registration and sign-in, checked in full
//! - [`registry`] - a user's passkeys, pending registrations and spent challenges, and the
//!   atomic steps over them
//! - [`refusal`] - why a ceremony was refused, one reason each

pub mod authenticator_data;
pub mod cbor;
pub mod ceremony;
pub mod challenge;
pub mod client_data;
pub mod ids;
pub mod refusal;
pub mod registry;

pub use ceremony::{RelyingParty, SignCounterPolicy};
pub use ids::{CredentialId, UserHandle};
pub use refusal::PasskeyRefusal;

// The software authenticator signs with Rust curves compiled for native tests only.
#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests;
