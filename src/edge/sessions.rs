//! The session store in force: Workers KV alone, or the per-user authority in front of it.

use super::authority::AuthorityStore;
use super::kv_store::KvSessionStore;
use super::Ctx;
use crate::auth::config::StoreBackend;
use crate::auth::env::UnixTime;
use crate::auth::refresh::{PresentedRefresh, SessionId, TokenHash};
use crate::auth::session::{SessionPolicy, SessionRecord};
use crate::auth::store::{Rotation, SessionStore, StoreError};

pub enum Sessions {
    Kv(KvSessionStore),
    Authority(AuthorityStore),
}

impl Sessions {
    /// The configured backend, bound to this request's environment.
    pub fn open(ctx: &Ctx<'_>) -> Result<Self, StoreError> {
        let kv = ctx
            .env
            .kv("SESSIONS")
            .map(KvSessionStore::new)
            .map_err(|err| StoreError::Unavailable(format!("SESSIONS binding: {err}")))?;
        Ok(match ctx.config.store {
            StoreBackend::Kv => Self::Kv(kv),
            StoreBackend::Authority => Self::Authority(AuthorityStore::new(ctx.env.clone(), kv)),
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
        now: UnixTime,
    ) -> Result<Option<SessionRecord>, StoreError> {
        delegate!(self, store => store.revoke(id, now))
    }

    async fn revoke_all(&self, user: &str, now: UnixTime) -> Result<Vec<SessionId>, StoreError> {
        delegate!(self, store => store.revoke_all(user, now))
    }

    async fn is_revoked(&self, id: &SessionId) -> Result<bool, StoreError> {
        delegate!(self, store => store.is_revoked(id))
    }
}
