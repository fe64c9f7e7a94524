//! The per-request decision: who, if anyone, a request speaks for, and what to do with it.
//!
//! Every step of the session protocol on the request path lives here, over the storage, account
//! and signing traits it is given: the access token checked (and cached), the revocation read
//! (and cached), the refresh in place with its rotation, reuse and account checks, the tokens of
//! a session and the cookies that carry them (or, for a client that presents its access token as
//! a bearer token, no cookies at all), the audit line of each event, and finally the [`Verdict`] for a
//! protected request. The shell performs the I/O these traits stand for and renders the value
//! it gets back; it decides nothing. The same code runs natively in tests against the in-memory
//! store, which is why every branch below has a test without a runtime.

pub mod admin;
pub mod at_once;
pub mod cache;
mod cookies;
pub mod device;
pub mod federated;
mod held;
pub mod outcome;
pub mod passkey;
pub mod ports;
mod proof;
mod protect;
mod refresh;
pub mod refusal;
mod resolve;
pub mod signin;

pub use at_once::poll_once;
pub use outcome::{Held, Principal, Resolution, Restored, SessionTokens, Verdict};
pub use ports::{
    Accounts, AssertionSigner, AuditSink, Background, LocalSigner, NoAccountCheck, NoBackground,
    NoProofs,
};
pub use refusal::{Denied, InternalCause, Refusal};

use crate::auth::audit::{AuditEvent, EventKind};
use crate::auth::config::Config;
use crate::auth::env::{Entropy, UnixTime};
use crate::auth::gate::cache::IsolateCaches;
use crate::auth::session::store::{SessionStore, StoreError};
use crate::auth::token::public_keys::ProofSignatures;

/// One request's view of everything the decision needs.
pub struct Gate<'a, S, A, G> {
    /// The configuration validated for this isolate.
    pub config: &'a Config,
    /// Where sessions are read and written.
    pub store: &'a S,
    /// Whether accounts may still hold sessions, checked at each refresh.
    pub accounts: &'a A,
    /// Signs the identity assertion for the origin.
    pub signer: &'a G,
    /// Checks the signatures of clients' DPoP proofs.
    pub proofs: &'a dyn ProofSignatures,
    /// The per-isolate caches of verified tokens and revocations.
    pub caches: &'a IsolateCaches,
    /// Where this request's audit lines go.
    pub audit: &'a dyn AuditSink,
    /// Where work after the answer goes (the background re-check of a session's standing).
    pub background: &'a dyn Background,
    /// The time of this request, in Unix seconds; every expiry is judged against it.
    pub now: UnixTime,
    /// Randomness for the token identifiers and refresh secrets minted for this request.
    pub entropy: &'a dyn Entropy,
}

impl<S: SessionStore, A: Accounts, G: AssertionSigner> Gate<'_, S, A, G> {
    pub(super) fn log(&self, event: EventKind) -> AuditEvent {
        AuditEvent::new(event, self.now)
    }

    pub(super) fn unavailable(&self, err: StoreError) -> Refusal {
        self.audit
            .record(self.log(EventKind::StoreFailure).detail(err.to_string()));
        Refusal::Unavailable(err)
    }
}

#[cfg(test)]
mod at_once_tests;
#[cfg(all(test, not(target_arch = "wasm32")))]
mod device_tests;
#[cfg(all(test, not(target_arch = "wasm32")))]
mod proof_tests;
#[cfg(test)]
mod tests;
