//! The Workers KV session store: the global read path, eventually consistent.
//!
//! Every operation applies the core's pure decisions with plain reads and writes. KV has no
//! compare-and-set and spreads writes in up to 60 s, so what this backend cannot promise is
//! listed per operation in [`crate::auth::session::store`]. Writes carry expirations so that nothing
//! outlives the session it belongs to (KV refuses expirations under 60 s, hence the floor).

use crate::auth::names::username::Username;
use crate::auth::token::dbsc::DeviceKey;
use worker::kv::KvStore;

use crate::auth::env::UnixTime;
use crate::auth::names::session_id::SessionId;
use crate::auth::session::kv_layout::{
    kv_expiration, revoked_key, session_key, session_of_index_key, user_index_key,
    user_index_prefix,
};
use crate::auth::session::record::{
    decide_rotation, revocation_kept_until, sessions_to_evict, RotationDecision, SessionPolicy,
    SessionRecord,
};
use crate::auth::session::refresh::{PresentedRefresh, TokenHash};
use crate::auth::session::store::{Rotation, SessionStore, StoreError};

/// How long this location's KV cache may answer the revocation read (hits and misses alike)
/// before asking the central store again: 30 s, the smallest value Workers KV accepts
/// (Cloudflare's KV documentation, `cacheTtl`). A revocation made at another location is
/// therefore seen here within its propagation plus this, and never later than the access
/// token's own expiry (`ACCESS_TTL` + leeway), which bounds it anyway. With the authority as the
/// revocation read (`REVOCATION_READ`, the default with `SESSION_STORE=authority`), this read
/// serves only the refresh path's checks.
const REVOCATION_READ_CACHE_TTL: u64 = 30;

pub(super) struct KvSessionStore {
    kv: KvStore,
}

impl KvSessionStore {
    pub(super) fn new(kv: KvStore) -> Self {
        Self { kv }
    }

    pub(super) async fn read(&self, id: &SessionId) -> Result<Option<SessionRecord>, StoreError> {
        let Some(text) = self
            .kv
            .get(&session_key(id))
            .text()
            .await
            .map_err(StoreError::unavailable)?
        else {
            return Ok(None);
        };
        serde_json::from_slice(text.as_bytes())
            .map(Some)
            .map_err(|err| StoreError::Corrupt(format!("session record: {err}")))
    }

    pub(super) async fn write(
        &self,
        record: &SessionRecord,
        now: UnixTime,
    ) -> Result<(), StoreError> {
        let json =
            serde_json::to_string(record).map_err(|err| StoreError::Corrupt(err.to_string()))?;
        self.kv
            .put(&session_key(&record.id), json)
            .map_err(StoreError::unavailable)?
            .expiration(kv_expiration(record.absolute_expires_at, now))
            .execute()
            .await
            .map_err(StoreError::unavailable)
    }

    /// Stores a new session and its index entry.
    pub(super) async fn put_new(
        &self,
        record: &SessionRecord,
        now: UnixTime,
    ) -> Result<(), StoreError> {
        self.write(record, now).await?;
        self.kv
            .put(&user_index_key(&record.user, &record.id), "")
            .map_err(StoreError::unavailable)?
            .expiration(kv_expiration(record.absolute_expires_at, now))
            .execute()
            .await
            .map_err(StoreError::unavailable)
    }

    /// Writes `id`'s revocation marker, kept until `until` plus the largest clock leeway, so it
    /// outlives every access token it must refuse.
    pub(super) async fn mark_revoked(
        &self,
        id: &SessionId,
        until: UnixTime,
        now: UnixTime,
    ) -> Result<(), StoreError> {
        self.kv
            .put(&revoked_key(id), "1")
            .map_err(StoreError::unavailable)?
            .expiration(kv_expiration(revocation_kept_until(until), now))
            .execute()
            .await
            .map_err(StoreError::unavailable)
    }

    /// Ends a session: the revocation marker first (the hot path reads it), then the record.
    pub(super) async fn end(
        &self,
        record: &SessionRecord,
        now: UnixTime,
    ) -> Result<(), StoreError> {
        self.mark_revoked(&record.id, record.absolute_expires_at, now)
            .await?;
        self.kv
            .delete(&session_key(&record.id))
            .await
            .map_err(StoreError::unavailable)?;
        self.kv
            .delete(&user_index_key(&record.user, &record.id))
            .await
            .map_err(StoreError::unavailable)
    }

    /// Every indexed session of `user`, live or not (expired ones are ended by the caller).
    async fn all_of(&self, user: &Username) -> Result<Vec<SessionRecord>, StoreError> {
        let mut ids = Vec::new();
        let mut cursor = None;
        loop {
            let mut list = self.kv.list().prefix(user_index_prefix(user));
            if let Some(cursor) = cursor {
                list = list.cursor(cursor);
            }
            let page = list.execute().await.map_err(StoreError::unavailable)?;
            ids.extend(
                page.keys
                    .iter()
                    .filter_map(|key| session_of_index_key(&key.name)),
            );
            if page.list_complete || page.cursor.is_none() {
                break;
            }
            cursor = page.cursor;
        }
        let mut records = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(record) = self.read(&id).await? {
                records.push(record);
            }
        }
        records.sort_by_key(|record| record.created_at);
        Ok(records)
    }
}

impl SessionStore for KvSessionStore {
    async fn create(
        &self,
        record: SessionRecord,
        policy: &SessionPolicy,
        now: UnixTime,
    ) -> Result<Vec<SessionId>, StoreError> {
        let existing = self.all_of(&record.user).await?;
        let evict = sessions_to_evict(&existing, policy, now);
        for ended in existing
            .iter()
            .filter(|session| evict.contains(&session.id))
        {
            self.end(ended, now).await?;
        }
        self.put_new(&record, now).await?;
        Ok(evict)
    }

    async fn session(
        &self,
        id: &SessionId,
        now: UnixTime,
    ) -> Result<Option<SessionRecord>, StoreError> {
        Ok(self.read(id).await?.filter(|record| record.is_live(now)))
    }

    async fn rotate(
        &self,
        presented: &PresentedRefresh,
        replacement: TokenHash,
        policy: &SessionPolicy,
        now: UnixTime,
    ) -> Result<Rotation, StoreError> {
        let Some(record) = self.read(&presented.session).await? else {
            return Ok(if self.is_revoked(&presented.session).await? {
                Rotation::Ended
            } else {
                Rotation::Unknown
            });
        };
        Ok(
            match decide_rotation(&record, presented, replacement, now, policy) {
                RotationDecision::Rotate(rotated) => {
                    self.write(&rotated, now).await?;
                    Rotation::Rotated(rotated)
                }
                RotationDecision::Grace => Rotation::Grace(record),
                RotationDecision::Reused => {
                    self.end(&record, now).await?;
                    Rotation::Reused(record)
                }
                RotationDecision::Expired => {
                    self.end(&record, now).await?;
                    Rotation::Ended
                }
                RotationDecision::Unknown => Rotation::Unknown,
            },
        )
    }

    async fn sessions_of(
        &self,
        user: &Username,
        now: UnixTime,
    ) -> Result<Vec<SessionRecord>, StoreError> {
        let mut live = self.all_of(user).await?;
        live.retain(|record| record.is_live(now));
        Ok(live)
    }

    async fn bind_device_key(
        &self,
        id: &SessionId,
        user: &Username,
        key: DeviceKey,
        now: UnixTime,
    ) -> Result<Option<SessionRecord>, StoreError> {
        // Read, then write: KV cannot compare-and-set, so two registrations racing at two
        // locations could both land, the later winning (the authority makes it one).
        let Some(mut record) = self
            .read(id)
            .await?
            .filter(|record| record.user == *user && record.is_live(now))
            .filter(|record| record.device_key.is_none())
        else {
            return Ok(None);
        };
        if self.is_revoked(id).await? {
            return Ok(None);
        }
        record.device_key = Some(Box::new(key));
        self.write(&record, now).await?;
        Ok(Some(record))
    }

    async fn revoke(
        &self,
        id: &SessionId,
        user: &Username,
        now: UnixTime,
    ) -> Result<Option<SessionRecord>, StoreError> {
        let Some(record) = self.read(id).await?.filter(|record| record.user == *user) else {
            return Ok(None);
        };
        self.end(&record, now).await?;
        Ok(record.is_live(now).then_some(record))
    }

    async fn revoke_all(
        &self,
        user: &Username,
        now: UnixTime,
    ) -> Result<Vec<SessionId>, StoreError> {
        let records = self.all_of(user).await?;
        for record in &records {
            self.end(record, now).await?;
        }
        Ok(records.into_iter().map(|record| record.id).collect())
    }

    async fn is_revoked(&self, id: &SessionId) -> Result<bool, StoreError> {
        let marker = self
            .kv
            .get(&revoked_key(id))
            .cache_ttl(REVOCATION_READ_CACHE_TTL)
            .text()
            .await
            .map_err(StoreError::unavailable)?;
        Ok(marker.is_some())
    }
}
