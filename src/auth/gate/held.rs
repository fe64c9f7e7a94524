//! The session a request holds, and ending it (or every session of its user).

use crate::auth::names::username::Username;

use crate::auth::http::request::{BearerCredential, RequestFacts};
use crate::auth::names::session_id::SessionId;
use crate::auth::session::record::SessionRecord;
use crate::auth::session::store::{SessionStore, StoreError};
use crate::auth::token::VerifiedAccess;

use super::*;

impl<S: SessionStore, A: Accounts, G: AssertionSigner> Gate<'_, S, A, G> {
    /// The session whose current credentials this request holds, if any: its access token (a
    /// bearer token, when one is presented, and nothing else), or its refresh token while that
    /// is still the current one (a stale or forged refresh token proves nothing about who holds
    /// the session now).
    pub async fn held_session(&self, req: &RequestFacts) -> Result<Option<Held>, StoreError> {
        let cookies = &req.cookies;
        let access = match &req.bearer {
            BearerCredential::Token(token) => Some(token.expose().as_str()),
            // A bound token holds its session only with a proof by its key.
            BearerCredential::Proven(token) => {
                return Ok(self
                    .proven_access(req, token)
                    .await
                    .ok()
                    .map(|access| Held {
                        id: access.session().clone(),
                        user: access.user().clone(),
                    }))
            }
            BearerCredential::Malformed => return Ok(None),
            BearerCredential::Absent => cookies.access(),
        };
        let unbound = |access: &VerifiedAccess| access.key().is_none();
        if let Some(access) = access
            .and_then(|token| self.verified_access(token).ok())
            .filter(unbound)
        {
            return Ok(Some(Held {
                id: access.session().clone(),
                user: access.user().clone(),
            }));
        }
        let Some(presented) = cookies.refresh().filter(|_| !req.bearer.presented()) else {
            return Ok(None);
        };
        Ok(self
            .store
            .session(&presented.session, self.now)
            .await?
            .filter(|record| record.refresh.current.matches(&presented.hash))
            .map(|record| Held {
                id: record.id,
                user: record.user,
            }))
    }

    /// Ends one session of its owner, and forgets it in this isolate at once; `None` when
    /// it was not theirs or not live.
    pub async fn end_session(&self, held: &Held) -> Result<Option<SessionRecord>, StoreError> {
        let id = held.id.as_str();
        self.caches.forget(id);
        let ended = self.store.revoke(&held.id, &held.user, self.now).await;
        // Forgotten again: a request of this isolate may have cached it during the await.
        self.caches.forget(id);
        ended
    }

    /// Ends `held`, whose request is refused for `refusal`: that refusal is then the answer, or
    /// the outage when the session could not be ended.
    pub(super) async fn end_refusing(&self, held: &Held, refusal: Refusal) -> Refusal {
        match self.end_session(held).await {
            Ok(_) => refusal,
            Err(err) => self.unavailable(err),
        }
    }

    /// Ends every session of `user`, and forgets them in this isolate at once.
    pub async fn end_all(&self, user: &Username) -> Result<Vec<SessionId>, StoreError> {
        self.caches.forget_user(user);
        let ended = self.store.revoke_all(user, self.now).await;
        self.caches.forget_user(user);
        ended
    }
}
