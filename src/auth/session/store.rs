//! What the core needs from storage, as operations rather than get/put.
//!
//! Each method is one security-relevant step, so a strongly consistent backend can make it
//! atomic and a weaker one can say exactly what it cannot promise. The decisions themselves are
//! the pure functions of [`crate::auth::session::record`]; a store only reads, applies and writes.
//!
//! | operation | in-memory / Durable Object | Workers KV alone |
//! |---|---|---|
//! | [`create`](SessionStore::create) | atomic: the limit holds exactly | read-list-write: concurrent logins at other locations may overshoot the limit until the listing converges (up to 60 s) |
//! | [`rotate`](SessionStore::rotate) | atomic: exactly one rotation wins, reuse is always seen | read-modify-write: the same token rotated at two locations within the propagation window (up to 60 s) both win; reuse is detected once the writes meet |
//! | [`revoke`](SessionStore::revoke), [`revoke_all`](SessionStore::revoke_all) | immediate | the marker reaches other locations in up to 60 s; access tokens already minted live until then or their expiry, whichever is first |
//! | [`is_revoked`](SessionStore::is_revoked) | exact | eventual, as above |
//! | [`ended`](SessionStore::ended) (the request path's read, cached per isolate) | exact (the Durable Object: its own list) | eventual, as `is_revoked` |
//! | [`session`](SessionStore::session), [`sessions_of`](SessionStore::sessions_of) | exact | eventual (listing up to 60 s behind) |
//! | [`standing`](SessionStore::standing) | exact (the Durable Object: its own list of the user's sessions) | eventual: the revocation marker and the record as this location's KV has them |

use crate::auth::names::username::Username;
use crate::auth::token::dbsc::DeviceKey;
use core::fmt;

use serde::{Deserialize, Serialize};

use crate::auth::env::UnixTime;
use crate::auth::names::session_id::SessionId;
use crate::auth::session::record::{SessionPolicy, SessionRecord};
use crate::auth::session::refresh::{PresentedRefresh, TokenHash};

/// The storage could not answer; callers fail closed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreError {
    /// The backend failed or timed out.
    Unavailable(String),
    /// A stored value did not parse: treated as absent would be unsafe, so it is an error.
    Corrupt(String),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unavailable(why) => write!(f, "session storage unavailable: {why}"),
            Self::Corrupt(why) => write!(f, "session storage holds a corrupt record: {why}"),
        }
    }
}

impl StoreError {
    /// The backend failed: `err` says how.
    pub fn unavailable(err: impl fmt::Display) -> Self {
        Self::Unavailable(err.to_string())
    }
}

impl std::error::Error for StoreError {}

/// The outcome of presenting a refresh token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Rotation {
    /// Rotated: the record now holds the replacement hash; mint both cookies.
    Rotated(SessionRecord),
    /// Within the grace window of the last rotation: mint an access token only.
    Grace(SessionRecord),
    /// A retired token came back: the session has been revoked.
    Reused(SessionRecord),
    /// The session is over (expired or revoked).
    Ended,
    /// No session holds this token.
    Unknown,
}

/// Where one session stands, for a holder that keeps asking while something the session opened
/// stays open (a WebSocket, see [`crate::auth::session::socket_watch`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(
    clippy::large_enum_variant,
    reason = "one value per request, matched at once; boxing the record would only add an allocation"
)]
pub enum Standing {
    /// Live, as this record says; its expiries tell until when without a refresh.
    Live(SessionRecord),
    /// Ended: revoked, evicted, reused, or no longer among its user's live sessions.
    Ended,
    /// The store holds no live record and no revocation marker of it: on an eventually
    /// consistent backend, a session created elsewhere that has not arrived yet, or one that
    /// has run out (its record is kept, or expires away, without a marker).
    Unknown,
}

/// Session storage, in operations.
// Workers run single-threaded wasm: futures are not `Send`, and callers are generic, not `dyn`.
#[allow(async_fn_in_trait)]
pub trait SessionStore {
    /// Stores a new session and ends the user's sessions the policy evicts (oldest first).
    /// Returns the ids it ended.
    async fn create(
        &self,
        record: SessionRecord,
        policy: &SessionPolicy,
        now: UnixTime,
    ) -> Result<Vec<SessionId>, StoreError>;

    /// A live session by id.
    async fn session(
        &self,
        id: &SessionId,
        now: UnixTime,
    ) -> Result<Option<SessionRecord>, StoreError>;

    /// Rotates a refresh token: one step, so a consistent backend makes it atomic.
    async fn rotate(
        &self,
        presented: &PresentedRefresh,
        replacement: TokenHash,
        policy: &SessionPolicy,
        now: UnixTime,
    ) -> Result<Rotation, StoreError>;

    /// The user's live sessions, oldest first.
    async fn sessions_of(
        &self,
        user: &Username,
        now: UnixTime,
    ) -> Result<Vec<SessionRecord>, StoreError>;

    /// Ends `user`'s session `id`; returns it if it was live. A session of another user is left
    /// alone (`None`): callers name the owner they have verified, so the authority of that user
    /// can be reached without a KV read and nobody ends a session that is not theirs.
    async fn revoke(
        &self,
        id: &SessionId,
        user: &Username,
        now: UnixTime,
    ) -> Result<Option<SessionRecord>, StoreError>;

    /// Keeps `key` as the device key of `user`'s live session `id` if it has none yet (one
    /// registration per session): the session as it is now, or `None`.
    async fn bind_device_key(
        &self,
        id: &SessionId,
        user: &Username,
        key: DeviceKey,
        now: UnixTime,
    ) -> Result<Option<SessionRecord>, StoreError>;

    /// Ends every session of `user` ("log out everywhere", account disabled).
    async fn revoke_all(
        &self,
        user: &Username,
        now: UnixTime,
    ) -> Result<Vec<SessionId>, StoreError>;

    /// Has this session been ended, by its revocation marker?
    async fn is_revoked(&self, id: &SessionId) -> Result<bool, StoreError>;

    /// The request path's question, asked of the freshest source the backend has: has `user`'s
    /// session `id` ended? The default reads the revocation marker; the authority answers from
    /// its own list of the user's sessions, the same at every location.
    async fn ended(
        &self,
        id: &SessionId,
        _user: &Username,
        _now: UnixTime,
    ) -> Result<bool, StoreError> {
        self.is_revoked(id).await
    }

    /// Where `user`'s session `id` stands now, read from the backend itself (no cache of the
    /// request path). The default asks the two reads every backend has: the revocation marker,
    /// then the live record; a backend that knows more (the authority knows every session of
    /// its user) answers from that.
    async fn standing(
        &self,
        id: &SessionId,
        user: &Username,
        now: UnixTime,
    ) -> Result<Standing, StoreError> {
        if self.is_revoked(id).await? {
            return Ok(Standing::Ended);
        }
        Ok(match self.session(id, now).await? {
            Some(record) if record.user == *user => Standing::Live(record),
            _ => Standing::Unknown,
        })
    }
}
