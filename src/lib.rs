//! edgegate: the authentication edge of a web application.
//!
//! Two halves with one rule between them: `auth` holds every security decision as pure Rust
//! (no `worker` types, the clock and randomness injected), so it is tested natively in
//! milliseconds; `edge` (built only for wasm32) is the thin shell that binds it to the Workers
//! runtime: KV, fetch, Env and the HTTP surface.

#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

// The whole core stays reachable for the test suites, fuzz targets and benchmarks, which probe
// its every rule; it is not part of the documented surface below.
#[doc(hidden)]
pub mod auth;
#[doc(hidden)]
pub mod testing;

// The documented surface: what the operator tool builds on, the same rules the worker applies.
pub use auth::accounts::passkey::CredentialId;
#[cfg(feature = "cli")]
pub use auth::accounts::password::derive_native;
pub use auth::accounts::password::{
    new_salt, user_key, PasswordHash, UserRecord, PBKDF2_ITERATIONS,
};
pub use auth::env::{random_bytes, OsEntropy, UnixTime};
pub use auth::gate::admin::{AdminCommand, Ended, PasskeyList, PasskeyRemoved, SessionList};
pub use auth::names::encoding::b64url;
pub use auth::names::{role::Role, session_id::SessionId, username::Username};
pub use auth::secret::{AdminSecret, KeyMaterial, Password, MIN_ADMIN_SECRET_LEN};
pub use auth::token::keys::{generate_entry, is_valid_kid, AssertionKeyRing, SessionKeyRing};

#[cfg(target_arch = "wasm32")]
mod edge;
