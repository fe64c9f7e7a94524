//! The ports of the gate: what it asks of its surroundings (accounts, a signer, an audit sink,
//! work after the answer).

use std::future::Future;
use std::pin::Pin;

use crate::auth::names::username::Username;
use crate::auth::token::public_keys::ProofSignatures;
use crate::auth::token::public_keys::PublicKey;

use super::outcome::Held;

use crate::auth::audit::AuditEvent;
use crate::auth::secret::Assertion;
use crate::auth::session::store::StoreError;
use crate::auth::token::keys::AssertionKeyRing;
use crate::auth::token::{MintError, Unsigned};

/// Whether a user may still hold sessions (a disabled account ends them at its next refresh).
#[allow(async_fn_in_trait)]
pub trait Accounts {
    /// Whether `user` may still hold sessions; an outage is an error, never a yes.
    async fn still_enabled(&self, user: &Username) -> Result<bool, StoreError>;
}

/// For credential backends that cannot disable accounts: everyone stays enabled.
pub struct NoAccountCheck;

impl Accounts for NoAccountCheck {
    async fn still_enabled(&self, _user: &Username) -> Result<bool, StoreError> {
        Ok(true)
    }
}

/// Signs a prepared identity assertion with `ring`'s first key.
#[allow(async_fn_in_trait)]
pub trait AssertionSigner {
    /// Signs `unsigned` with the first key of `ring`.
    async fn sign(
        &self,
        ring: &AssertionKeyRing,
        unsigned: Unsigned,
    ) -> Result<Assertion, MintError>;
}

/// Signs in this crate (Ed25519 compiled in); the worker uses the platform's WebCrypto instead.
pub struct LocalSigner;

impl AssertionSigner for LocalSigner {
    async fn sign(
        &self,
        ring: &AssertionKeyRing,
        unsigned: Unsigned,
    ) -> Result<Assertion, MintError> {
        unsigned.sign_with(ring)
    }
}

/// For tools that never take a DPoP proof: every proof signature fails, so no bound token
/// could pass.
pub struct NoProofs;

impl ProofSignatures for NoProofs {
    fn verifies<'a>(
        &'a self,
        _key: &'a PublicKey,
        _message: &'a [u8],
        _signature: &'a [u8],
    ) -> Pin<Box<dyn Future<Output = bool> + 'a>> {
        Box::pin(std::future::ready(false))
    }

    fn imports<'a>(&'a self, _key: &'a PublicKey) -> Pin<Box<dyn Future<Output = bool> + 'a>> {
        Box::pin(std::future::ready(false))
    }
}

/// Where audit lines go.
pub trait AuditSink {
    /// Records `event`; it must not fail the request it describes.
    fn record(&self, event: AuditEvent);
}

/// Work the gate leaves for after the answer: the worker runs it once the response is on its
/// way (`waitUntil`), so that no request waits for it.
pub trait Background {
    /// Has [`super::Gate::recheck`] run for `held`, in the background.
    fn recheck(&self, held: Held);
}

/// Nothing in the background: for a gate that is itself the background work, and for tools.
pub struct NoBackground;

impl Background for NoBackground {
    fn recheck(&self, _held: Held) {}
}
