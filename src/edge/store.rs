//! The bindings behind the core's traits: the session store in force (Workers KV alone, or the
//! per-user authority in front of it), the `USERS` account check, and WebCrypto signing.

use worker::Env;

use super::authority::AuthorityStore;
use super::kv_store::KvSessionStore;
use super::{credentials, webcrypto};
use crate::auth::config::{Config, StoreBackend};
use crate::auth::env::UnixTime;
use crate::auth::gate::{Accounts, AssertionSigner};
use crate::auth::keys::AssertionKeyRing;
use crate::auth::refresh::{PresentedRefresh, SessionId, TokenHash};
use crate::auth::secret::Secret;
use crate::auth::session::{SessionPolicy, SessionRecord};
use crate::auth::store::{Rotation, SessionStore, StoreError};
use crate::auth::token::{TokenError, Unsigned};

pub enum Sessions {
    Kv(KvSessionStore),
    Authority(AuthorityStore),
}

impl Sessions {
    /// The configured backend, bound to this request's environment.
    pub fn open(env: &Env, config: &Config) -> Result<Self, StoreError> {
        let kv = env
            .kv("SESSIONS")
            .map(KvSessionStore::new)
            .map_err(|err| StoreError::Unavailable(format!("SESSIONS binding: {err}")))?;
        Ok(match config.store {
            StoreBackend::Kv => Self::Kv(kv),
            StoreBackend::Authority => {
                Self::Authority(AuthorityStore::new(env.clone(), kv, config.policy.clone()))
            }
        })
    }
}

/// Runs the same call on whichever backend is in force.
macro_rules! delegate {
    ($self:ident, $store:ident => $call:expr) => {
        match $self {
            Sessions::Kv($store) => $call.await,
            Sessions::Authority($store) => $call.await,
        }
    };
}

impl SessionStore for Sessions {
    async fn create(
        &self,
        record: SessionRecord,
        policy: &SessionPolicy,
        now: UnixTime,
    ) -> Result<Vec<SessionId>, StoreError> {
        delegate!(self, store => store.create(record, policy, now))
    }

    async fn session(
        &self,
        id: &SessionId,
        now: UnixTime,
    ) -> Result<Option<SessionRecord>, StoreError> {
        delegate!(self, store => store.session(id, now))
    }

    async fn rotate(
        &self,
        presented: &PresentedRefresh,
        replacement: TokenHash,
        policy: &SessionPolicy,
        now: UnixTime,
    ) -> Result<Rotation, StoreError> {
        delegate!(self, store => store.rotate(presented, replacement, policy, now))
    }

    async fn sessions_of(
        &self,
        user: &str,
        now: UnixTime,
    ) -> Result<Vec<SessionRecord>, StoreError> {
        delegate!(self, store => store.sessions_of(user, now))
    }

    async fn revoke(
        &self,
        id: &SessionId,
        user: &str,
        now: UnixTime,
    ) -> Result<Option<SessionRecord>, StoreError> {
        delegate!(self, store => store.revoke(id, user, now))
    }

    async fn revoke_all(&self, user: &str, now: UnixTime) -> Result<Vec<SessionId>, StoreError> {
        delegate!(self, store => store.revoke_all(user, now))
    }

    async fn is_revoked(&self, id: &SessionId) -> Result<bool, StoreError> {
        delegate!(self, store => store.is_revoked(id))
    }
}

/// `kv` user records: a disabled (or deleted) user's sessions end at their next refresh.
pub struct UsersKv<'a>(pub &'a Env);

impl Accounts for UsersKv<'_> {
    async fn still_enabled(&self, user: &str) -> Result<bool, StoreError> {
        credentials::still_enabled(self.0, user)
            .await
            .map_err(|err| StoreError::Unavailable(err.0))
    }
}

/// Identity assertions signed by the platform's WebCrypto Ed25519.
pub struct WebCryptoSigner;

impl AssertionSigner for WebCryptoSigner {
    async fn sign(
        &self,
        ring: &AssertionKeyRing,
        unsigned: Unsigned,
    ) -> Result<Secret<String>, TokenError> {
        let signature = webcrypto::ed25519_sign(ring, unsigned.signing_input())
            .await
            .map_err(|_| TokenError::Mint("WebCrypto could not sign"))?;
        unsigned.finish(&signature)
    }
}
