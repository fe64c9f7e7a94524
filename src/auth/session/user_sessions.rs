//! One user's session set as a state machine: the unit a store keeps consistent.
//!
//! Every write that must be atomic touches the sessions of exactly one user (the concurrent
//! session limit, rotation, "log out everywhere"), so the authority for one user can apply these
//! transitions in order: the in-memory store does it under one borrow, the Durable Object under
//! its single-threaded execution. Workers KV applies the same transitions without that
//! guarantee.

use crate::auth::token::dbsc::DeviceKey;
use serde::{Deserialize, Serialize};

use crate::auth::env::UnixTime;
use crate::auth::names::session_id::SessionId;
use crate::auth::session::record::{
    decide_rotation, sessions_to_evict, RotationDecision, SessionPolicy, SessionRecord,
};
use crate::auth::session::refresh::{PresentedRefresh, TokenHash};
use crate::auth::session::store::Rotation;

/// All sessions of one user.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserSessions {
    sessions: Vec<SessionRecord>,
}

impl UserSessions {
    /// Adds `record`, ending what the policy evicts; returns the ended sessions.
    pub fn create(
        &mut self,
        record: SessionRecord,
        policy: &SessionPolicy,
        now: UnixTime,
    ) -> Vec<SessionRecord> {
        let evict = sessions_to_evict(&self.sessions, policy, now);
        let ended = self.remove_where(|session| evict.contains(&session.id));
        self.sessions.push(record);
        ended
    }

    /// Applies a refresh. A reused token ends the session it belonged to.
    pub fn rotate(
        &mut self,
        presented: &PresentedRefresh,
        replacement: TokenHash,
        policy: &SessionPolicy,
        now: UnixTime,
    ) -> Rotation {
        let Some(index) = self.sessions.iter().position(|s| s.id == presented.session) else {
            return Rotation::Unknown;
        };
        match decide_rotation(&self.sessions[index], presented, replacement, now, policy) {
            RotationDecision::Rotate(rotated) => {
                self.sessions[index] = rotated.clone();
                Rotation::Rotated(rotated)
            }
            RotationDecision::Grace => Rotation::Grace(self.sessions[index].clone()),
            RotationDecision::Reused => Rotation::Reused(self.sessions.remove(index)),
            RotationDecision::Expired => {
                self.sessions.remove(index);
                Rotation::Ended
            }
            RotationDecision::Unknown => Rotation::Unknown,
        }
    }

    /// Keeps `key` as the device key of live session `id`, which has none yet: the session as
    /// it is now, or `None` (unknown, ended, or registered already: a key is registered once).
    pub fn bind_device_key(
        &mut self,
        id: &SessionId,
        key: DeviceKey,
        now: UnixTime,
    ) -> Option<SessionRecord> {
        let session = self
            .sessions
            .iter_mut()
            .find(|session| &session.id == id && session.is_live(now))?;
        if session.device_key.is_some() {
            return None;
        }
        session.device_key = Some(Box::new(key));
        Some(session.clone())
    }

    /// Ends one session; returns it if it was live.
    pub fn revoke(&mut self, id: &SessionId, now: UnixTime) -> Option<SessionRecord> {
        self.remove_where(|session| &session.id == id)
            .into_iter()
            .find(|session| session.is_live(now))
    }

    /// Ends every session.
    pub fn revoke_all(&mut self) -> Vec<SessionRecord> {
        std::mem::take(&mut self.sessions)
    }

    /// Live sessions, oldest first.
    pub fn live(&self, now: UnixTime) -> Vec<SessionRecord> {
        let mut live: Vec<SessionRecord> = self
            .sessions
            .iter()
            .filter(|session| session.is_live(now))
            .cloned()
            .collect();
        live.sort_by_key(|session| session.created_at);
        live
    }

    /// A live session by id.
    pub fn get(&self, id: &SessionId, now: UnixTime) -> Option<&SessionRecord> {
        self.find(id).filter(|session| session.is_live(now))
    }

    /// A session by id, live or not.
    pub fn find(&self, id: &SessionId) -> Option<&SessionRecord> {
        self.sessions.iter().find(|session| &session.id == id)
    }

    /// Forgets sessions that have run out.
    pub fn prune(&mut self, now: UnixTime) {
        self.sessions.retain(|session| session.is_live(now));
    }

    /// Whether the list holds no session at all, live or not.
    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    fn remove_where(
        &mut self,
        mut ended: impl FnMut(&SessionRecord) -> bool,
    ) -> Vec<SessionRecord> {
        let (gone, kept) = std::mem::take(&mut self.sessions)
            .into_iter()
            .partition(|session| ended(session));
        self.sessions = kept;
        gone
    }
}
