//! An in-memory [`SessionStore`]: the reference backend for tests, atomic by construction
//! (every operation runs to completion under one borrow, with no await in between).

use crate::auth::names::username::Username;
use std::cell::RefCell;
use std::collections::HashMap;

use crate::auth::env::UnixTime;
use crate::auth::names::session_id::SessionId;
use crate::auth::session::record::{SessionPolicy, SessionRecord};
use crate::auth::session::refresh::{PresentedRefresh, TokenHash};
use crate::auth::session::store::{Rotation, SessionStore, StoreError};
use crate::auth::session::user_sessions::UserSessions;
use crate::auth::token::dbsc::DeviceKey;

/// Sessions, their owners and revocation markers in process memory, lost when it is dropped.
#[derive(Debug, Default)]
pub struct MemoryStore {
    state: RefCell<State>,
}

#[derive(Debug, Default)]
struct State {
    users: HashMap<Username, UserSessions>,
    owners: HashMap<SessionId, Username>,
    /// Revocation markers, kept until the session would have ended anyway.
    revoked: HashMap<SessionId, UnixTime>,
}

impl State {
    fn end(&mut self, ended: &[SessionRecord]) {
        for session in ended {
            self.owners.remove(&session.id);
            self.revoked
                .insert(session.id.clone(), session.absolute_expires_at);
        }
    }

    fn user_of(&self, id: &SessionId) -> Option<Username> {
        self.owners.get(id).cloned()
    }
}

impl SessionStore for MemoryStore {
    async fn create(
        &self,
        record: SessionRecord,
        policy: &SessionPolicy,
        now: UnixTime,
    ) -> Result<Vec<SessionId>, StoreError> {
        let mut state = self.state.borrow_mut();
        state.owners.insert(record.id.clone(), record.user.clone());
        let user = record.user.clone();
        let ended = state
            .users
            .entry(user)
            .or_default()
            .create(record, policy, now);
        state.end(&ended);
        Ok(ended.into_iter().map(|session| session.id).collect())
    }

    async fn session(
        &self,
        id: &SessionId,
        now: UnixTime,
    ) -> Result<Option<SessionRecord>, StoreError> {
        let state = self.state.borrow();
        let found = state
            .user_of(id)
            .and_then(|user| state.users.get(&user)?.get(id, now).cloned());
        Ok(found)
    }

    async fn rotate(
        &self,
        presented: &PresentedRefresh,
        replacement: TokenHash,
        policy: &SessionPolicy,
        now: UnixTime,
    ) -> Result<Rotation, StoreError> {
        let mut state = self.state.borrow_mut();
        let Some(user) = state.user_of(&presented.session) else {
            return Ok(if state.revoked.contains_key(&presented.session) {
                Rotation::Ended
            } else {
                Rotation::Unknown
            });
        };
        let Some(sessions) = state.users.get_mut(&user) else {
            return Ok(Rotation::Unknown);
        };
        let before = sessions.find(&presented.session).cloned();
        let rotation = sessions.rotate(presented, replacement, policy, now);
        match (&rotation, before) {
            (Rotation::Reused(ended), _) => state.end(std::slice::from_ref(ended)),
            (Rotation::Ended, Some(ended)) => state.end(&[ended]),
            _ => {}
        }
        Ok(rotation)
    }

    async fn sessions_of(
        &self,
        user: &Username,
        now: UnixTime,
    ) -> Result<Vec<SessionRecord>, StoreError> {
        let state = self.state.borrow();
        Ok(state
            .users
            .get(user)
            .map(|s| s.live(now))
            .unwrap_or_default())
    }

    async fn revoke(
        &self,
        id: &SessionId,
        owner: &Username,
        now: UnixTime,
    ) -> Result<Option<SessionRecord>, StoreError> {
        let mut state = self.state.borrow_mut();
        let Some(user) = state.user_of(id).filter(|user| user == owner) else {
            return Ok(None);
        };
        let Some(sessions) = state.users.get_mut(&user) else {
            return Ok(None);
        };
        let all = sessions.find(id).cloned();
        let revoked = sessions.revoke(id, now);
        state.end(all.as_slice());
        Ok(revoked)
    }

    async fn bind_device_key(
        &self,
        id: &SessionId,
        owner: &Username,
        key: DeviceKey,
        now: UnixTime,
    ) -> Result<Option<SessionRecord>, StoreError> {
        let mut state = self.state.borrow_mut();
        let Some(user) = state.user_of(id).filter(|user| user == owner) else {
            return Ok(None);
        };
        Ok(state
            .users
            .get_mut(&user)
            .and_then(|sessions| sessions.bind_device_key(id, key, now)))
    }

    async fn revoke_all(
        &self,
        user: &Username,
        _now: UnixTime,
    ) -> Result<Vec<SessionId>, StoreError> {
        let mut state = self.state.borrow_mut();
        let ended = state
            .users
            .get_mut(user)
            .map(UserSessions::revoke_all)
            .unwrap_or_default();
        state.end(&ended);
        Ok(ended.into_iter().map(|session| session.id).collect())
    }

    async fn is_revoked(&self, id: &SessionId) -> Result<bool, StoreError> {
        Ok(self.state.borrow().revoked.contains_key(id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::conformance;

    #[test]
    fn memory_store_passes_the_conformance_suite() {
        pollster::block_on(conformance::run_all(MemoryStore::default));
    }
}
