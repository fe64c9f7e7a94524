//! Proof of possession for API clients (RFC 9449, DPoP): a token bound to a key is worth
//! nothing without that key.
//!
//! A client that sends a `DPoP` proof to `/auth/token` gets an access token that names its key
//! (`cnf.jkt`, the key's RFC 7638 thumbprint) and a refresh token its session keeps bound to the
//! same key. Every later use of either comes with a fresh proof: a JWT the client signs with the
//! key, naming the request's method and URL, the time, a one-off id and (with an access token)
//! the token's hash. A copied token without the key is refused, and so is a copied proof: it
//! names one request, lives a minute, and is taken once per isolate.
//!
//! The folder by phase: [`proof`] (the proof, untrusted text until [`proof::check`] makes a
//! [`proof::VerifiedProof`] of it), [`replay`] (the memory of proofs already taken), [`nonce`]
//! (the server's optional nonces). The key's name, its thumbprint, is a name like the others
//! ([`crate::auth::names::thumbprint`]); the key itself is one of [`super::public_keys`].

pub mod nonce;
pub mod proof;
pub mod replay;

pub use nonce::NonceKey;
pub use proof::{check, ProofError, ProofRequest, VerifiedProof};
pub use replay::SeenProofs;

/// Whether clients may, must or cannot bind their tokens to a key (`DPOP`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DpopPolicy {
    /// A proof at the token endpoint binds the tokens; without one they are bearer tokens.
    Allow,
    /// The token endpoint refuses a request without a proof; browsers (cookies) are not affected.
    Require,
    /// Proofs are not read; the `DPoP` scheme is refused.
    Off,
}

// Native only: proofs are checked in Rust here, by WebCrypto in the worker.
#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests;
