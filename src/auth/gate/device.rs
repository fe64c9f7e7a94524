//! Device-bound browser sessions (W3C DBSC) in the gate: the offer at sign-in, the registration
//! of the browser's key, the bound cookie's renewal with a signed challenge, and the rule that
//! makes them worth having: a device-bound session's refresh token renews nothing without a live
//! bound cookie of that session, which only the browser holding the key can get.

use crate::auth::audit::EventKind;
use crate::auth::http::cookie::{clear_device, set_device, SetCookie};
use crate::auth::http::request::RequestFacts;
use crate::auth::names::session_id::SessionId;
use crate::auth::names::username::Username;
use crate::auth::session::record::SessionRecord;
use crate::auth::session::refresh::PresentedRefresh;
use crate::auth::session::store::{SessionStore, Standing};
use crate::auth::token::dbsc::{
    self, registration_header, unquoted, DevicePolicy, ResponseError, CHALLENGE_PERIOD,
};

use super::*;

/// What a registration or a bound cookie's renewal comes to.
#[derive(Debug)]
pub enum DeviceAnswer {
    /// The session is device-bound: its instructions, and a new bound cookie.
    Bound {
        /// The session as it stands.
        record: Box<SessionRecord>,
        /// The bound cookie.
        cookie: SetCookie,
    },
    /// A renewal without a signed response: the challenge to sign (answered 403).
    Challenge {
        /// The challenge.
        challenge: String,
        /// The session it is for.
        session: SessionId,
    },
    /// Refused: the status (400 for a bad registration, 401 for a session that is not there or
    /// not this key's, which ends the browser's device-bound session), the code and why.
    Refused {
        /// The HTTP status.
        status: u16,
        /// The error code of the JSON answer.
        code: &'static str,
        /// Why, for the answer and the audit line.
        reason: &'static str,
    },
}

impl<S: SessionStore, A: Accounts, G: AssertionSigner> Gate<'_, S, A, G> {
    /// What a browser's sign-in answer `req` carries besides its session cookies: the clearing of
    /// the bound cookie of an earlier session, if it sent one, and the offer to bind this one
    /// (`Secure-Session-Registration`), unless device-bound sessions are off.
    pub fn device_offer(
        &self,
        req: &RequestFacts,
        record: &SessionRecord,
    ) -> Result<(Option<SetCookie>, Option<String>), Refusal> {
        let settings = &self.config.device_sessions;
        let offer = match settings.policy {
            DevicePolicy::Off => None,
            _ => Some(registration_header(&self.new_challenge(&record.id)?)),
        };
        let clearing = req
            .cookies
            .device()
            .map(|_| clear_device(&self.config.cookies));
        Ok((clearing, offer))
    }

    fn new_challenge(&self, session: &SessionId) -> Result<String, Refusal> {
        self.config
            .device_sessions
            .secrets
            .challenge(session, self.now, self.entropy)
            .map_err(|_| Refusal::Internal(InternalCause::NoRandomness))
    }

    fn device_refused(
        &self,
        req: &RequestFacts,
        held: Option<(&SessionId, &Username)>,
        status: u16,
        code: &'static str,
        reason: &'static str,
    ) -> DeviceAnswer {
        let mut event = self
            .log(EventKind::DeviceRefused)
            .client(req.client())
            .detail(format!("{} {}: {reason}", req.method, req.path));
        if let Some((id, user)) = held {
            event = event.session(id.as_str()).user(user);
        }
        self.audit.record(event);
        DeviceAnswer::Refused {
            status,
            code,
            reason,
        }
    }

    fn device_bound(&self, record: SessionRecord) -> Result<DeviceAnswer, Refusal> {
        let settings = &self.config.device_sessions;
        let expires = self.now.saturating_add(settings.cookie_ttl);
        let value = settings.secrets.bound_cookie(&record.id, expires);
        let cookie = set_device(&value, settings.cookie_ttl, &self.config.cookies)
            .map_err(|err| Refusal::Internal(InternalCause::Cookie(err)))?;
        Ok(DeviceAnswer::Bound {
            record: Box::new(record),
            cookie,
        })
    }

    /// `POST /auth/device/register`: the session this browser holds takes the key of its signed
    /// response, once.
    pub async fn register_device(&self, req: &RequestFacts) -> Result<DeviceAnswer, Refusal> {
        let Some(held) = self
            .held_session(req)
            .await
            .map_err(|err| self.unavailable(err))?
        else {
            return Ok(self.device_refused(req, None, 401, "unauthenticated", "no session"));
        };
        let owner = Some((&held.id, &held.user));
        let refused = |reason| self.device_refused(req, owner, 400, "invalid_registration", reason);
        let Some(text) = req.device.response.as_deref() else {
            return Ok(refused("no Secure-Session-Response"));
        };
        let settings = &self.config.device_sessions;
        let (key, challenge) = match dbsc::registration(
            unquoted(text),
            &held.id,
            self.now,
            &settings.secrets,
            self.proofs,
        )
        .await
        {
            Ok(signed) => signed,
            Err(err) => return Ok(refused(err.reason())),
        };
        let ended = self
            .store
            .ended(&held.id, &held.user, self.now)
            .await
            .map_err(|err| self.unavailable(err))?;
        if ended {
            let reason = "the session has ended";
            return Ok(self.device_refused(req, owner, 401, "session_ended", reason));
        }
        let until = self.now.saturating_add(2 * CHALLENGE_PERIOD);
        if !self.caches.first_challenge_use(&challenge, self.now, until) {
            return Ok(refused(ResponseError::Replayed.reason()));
        }
        let alg = key.alg.clone();
        let bound = self
            .store
            .bind_device_key(&held.id, &held.user, key, self.now)
            .await
            .map_err(|err| self.unavailable(err))?;
        let Some(record) = bound else {
            return Ok(refused(
                "the session has a device key already, or has just ended",
            ));
        };
        self.audit.record(
            self.log(EventKind::DeviceRegistered)
                .user(&record.user)
                .session(record.id.as_str())
                .client(req.client())
                .detail(format!("{alg} key")),
        );
        self.device_bound(record)
    }

    /// `POST /auth/device/refresh`: a new bound cookie for the session the browser names, once it
    /// has signed a fresh challenge with the session's key.
    pub async fn refresh_device(&self, req: &RequestFacts) -> Result<DeviceAnswer, Refusal> {
        let Some(id) = req
            .device
            .session
            .as_deref()
            .and_then(|id| SessionId::parse(unquoted(id)))
        else {
            let reason = "no valid Sec-Secure-Session-Id";
            return Ok(self.device_refused(req, None, 400, "bad_request", reason));
        };
        let record = self
            .store
            .session(&id, self.now)
            .await
            .map_err(|err| self.unavailable(err))?;
        let ended = match &record {
            Some(record) => self
                .store
                .ended(&id, &record.user, self.now)
                .await
                .map_err(|err| self.unavailable(err))?,
            None => true,
        };
        let record = match record {
            Some(record) if !ended => record,
            _ => {
                let reason = "the session has ended";
                return Ok(self.device_refused(req, None, 401, "session_ended", reason));
            }
        };
        let owner = Some((&record.id, &record.user));
        let Some(key) = record.device_key.as_deref().cloned() else {
            let reason = "the session is not device-bound";
            return Ok(self.device_refused(req, owner, 401, "device_refused", reason));
        };
        let settings = &self.config.device_sessions;
        let challenge = || {
            Ok(DeviceAnswer::Challenge {
                challenge: self.new_challenge(&id)?,
                session: id.clone(),
            })
        };
        let Some(text) = req.device.response.as_deref() else {
            return challenge();
        };
        let checked = dbsc::refresh(
            unquoted(text),
            &id,
            &key,
            self.now,
            &settings.secrets,
            self.proofs,
        )
        .await;
        let taken = match checked {
            // Once: a response seen again is replayed (this isolate's memory; see SECURITY.md).
            Ok(signed) => self.caches.first_challenge_use(
                &signed,
                self.now,
                self.now.saturating_add(2 * CHALLENGE_PERIOD),
            ),
            // A challenge too old or made up: a fresh one to sign, as a late browser needs.
            Err(ResponseError::Challenge) => {
                let reason = ResponseError::Challenge.reason();
                self.device_refused(req, owner, 403, "device_challenge", reason);
                return challenge();
            }
            Err(err) => {
                return Ok(self.device_refused(req, owner, 401, "device_refused", err.reason()))
            }
        };
        if !taken {
            // A browser retrying after a lost answer: a fresh challenge to sign, as for a late
            // one (a 401 would end its device-bound session).
            let reason = ResponseError::Replayed.reason();
            self.device_refused(req, owner, 403, "device_challenge", reason);
            return challenge();
        }
        self.audit.record(
            self.log(EventKind::DeviceRefreshed)
                .user(&record.user)
                .session(record.id.as_str())
                .client(req.client()),
        );
        self.device_bound(record)
    }

    /// Logs a browser's `Secure-Session-Skipped`: it could not renew a device-bound session.
    pub fn device_skipped(&self, req: &RequestFacts, value: &str) {
        let (reason, session) = dbsc::skipped(value);
        let mut event = self
            .log(EventKind::DeviceSkipped)
            .client(req.client())
            .detail(reason);
        if let Some(session) = session.as_deref().and_then(SessionId::parse) {
            event = event.session(session.as_str());
        }
        self.audit.record(event);
    }

    /// Holds a refresh to the session's device: `None` when it goes on, else the refusal, asked
    /// before the rotation so that a refused refresh spends nothing. A live bound cookie of this
    /// session lets it go on; one of another session means the refresh token was copied into
    /// someone else's browser, and the session ends; without one, a device-bound session is
    /// refused (its access token lives out its time), and under `require` a session that did
    /// not register within the grace ends. Sessions that never registered go on otherwise.
    pub(super) async fn device_held(
        &self,
        presented: &PresentedRefresh,
        from: &RequestFacts,
    ) -> Option<Refusal> {
        let settings = &self.config.device_sessions;
        if settings.policy == DevicePolicy::Off {
            return None;
        }
        let bound = from
            .cookies
            .device()
            .and_then(|value| settings.secrets.bound_session(value, self.now));
        if bound.as_ref() == Some(&presented.session) {
            return None;
        }
        // The freshest record the store has: the user's authority when the token names its user
        // (a registration made a moment ago at another location counts), else KV.
        let read = match &presented.user {
            Some(user) => self
                .store
                .standing(&presented.session, user, self.now)
                .await
                .map(|standing| match standing {
                    Standing::Live(record) => Some(record),
                    Standing::Ended | Standing::Unknown => None,
                }),
            None => self.store.session(&presented.session, self.now).await,
        };
        let record = match read {
            Ok(Some(record)) => record,
            // Unknown or ended: the rotation says so.
            Ok(None) => return None,
            Err(err) => return Some(self.unavailable(err)),
        };
        // Only the holder of one of its refresh tokens (the current one, or one retired, whose
        // reuse ends the session anyway) can have a session ended or refused here: a session id
        // alone, which the origin sees, must not be enough.
        let refresh = &record.refresh;
        let holds = refresh.current.matches(&presented.hash)
            || refresh
                .retired
                .iter()
                .any(|hash| hash.matches(&presented.hash));
        if !holds {
            return None;
        }
        let held = Held {
            id: record.id.clone(),
            user: record.user.clone(),
        };
        let refuse = |reason: &str| {
            self.audit.record(
                self.log(EventKind::DeviceRefused)
                    .user(&record.user)
                    .session(record.id.as_str())
                    .client(from.client())
                    .detail(reason),
            );
        };
        if let Some(other) = bound {
            // Another session of the same user in the same browser (a race between a sign-in and
            // the earlier session's last renewal) is refused, not ended; someone else's browser
            // holding this session's refresh token is a copy.
            let same_owner = match self.store.session(&other, self.now).await {
                Ok(found) => found.is_some_and(|other| other.user == record.user),
                Err(err) => return Some(self.unavailable(err)),
            };
            if same_owner {
                refuse("a refresh with the bound cookie of another session of the same user");
                return Some(Refusal::DeviceUnbound);
            }
            refuse("a refresh token with another session's bound cookie: the session is ended");
            return Some(self.end_refusing(&held, Refusal::DeviceMismatch).await);
        }
        if record.device_key.is_some() {
            refuse("a refresh of a device-bound session without its bound cookie");
            return Some(Refusal::DeviceUnbound);
        }
        let by_browser = from
            .cookies
            .refresh()
            .is_some_and(|cookie| cookie.session == presented.session);
        let unregistered_for = self.now.saturating_sub(record.created_at);
        if settings.policy == DevicePolicy::Require
            && by_browser
            && unregistered_for > settings.grace
        {
            refuse("not registered within DEVICE_BOUND_GRACE: the session is ended");
            return Some(self.end_refusing(&held, Refusal::SessionExpired).await);
        }
        None
    }
}
