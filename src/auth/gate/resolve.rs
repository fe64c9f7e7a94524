//! Who a request speaks for: the access token (cached), the revocation read (cached), the
//! bearer token, or a refresh in place.

use crate::auth::audit::EventKind;
use crate::auth::gate::cache::{Liveness, TokenDigest};
use crate::auth::http::request::{BearerCredential, RequestFacts, Scheme};
use crate::auth::names::session_id::SessionId;
use crate::auth::secret::AccessToken;
use crate::auth::session::store::{SessionStore, StoreError};
use crate::auth::token::{validate_access, TokenError, VerifiedAccess};

use super::*;

impl<S: SessionStore, A: Accounts, G: AssertionSigner> Gate<'_, S, A, G> {
    /// The access token's claims: from the isolate cache while it has not expired, else
    /// validated (and then cached).
    pub(super) fn verified_access(&self, token: &str) -> Result<VerifiedAccess, TokenError> {
        let digest = TokenDigest::of(token);
        if let Some(access) = self.caches.access(&digest, self.now) {
            return Ok(access);
        }
        let access = validate_access(
            &self.config.session_keys,
            token,
            &self.config.access_audience,
            self.config.policy.leeway,
            self.now,
        )?;
        self.caches.remember_access(digest, &access);
        Ok(access)
    }

    /// Whether `access`'s session has been ended: the isolate's recent "it stands" is the
    /// answer while it lasts (past half its life, with one re-check scheduled in the background),
    /// else the store is asked and this request waits for it.
    pub(super) async fn revoked(
        &self,
        access: &VerifiedAccess,
        id: &SessionId,
    ) -> Result<bool, StoreError> {
        match self.caches.liveness(id.as_str(), self.now) {
            Liveness::Standing => return Ok(false),
            Liveness::StandingRecheck => {
                self.background.recheck(Held {
                    id: id.clone(),
                    user: access.user().clone(),
                });
                return Ok(false);
            }
            Liveness::Unknown => {}
        }
        let ended = self.store.ended(id, access.user(), self.now).await?;
        if !ended {
            self.caches
                .remember_live(id.as_str(), access.user(), self.now);
        }
        Ok(ended)
    }

    /// Asks the store again whether `held` still stands, for this isolate's answer: what a
    /// request finding that answer past half its life scheduled. An ended session is forgotten
    /// here at once (the next request is refused); with no answer, the held one expires at its
    /// deadline and the request after that waits for the store, failing closed if it is down.
    pub async fn recheck(&self, held: &Held) {
        match self.store.ended(&held.id, &held.user, self.now).await {
            Ok(false) => self
                .caches
                .remember_live(held.id.as_str(), &held.user, self.now),
            Ok(true) => self.caches.forget(held.id.as_str()),
            Err(err) => {
                self.caches.recheck_failed(held.id.as_str(), self.now);
                self.audit.record(
                    self.log(EventKind::StoreFailure)
                        .user(&held.user)
                        .session(held.id.as_str())
                        .detail(format!("background session check: {err}")),
                );
            }
        }
    }

    /// The request's session: a valid, unrevoked access token, or else a refresh in place when
    /// the request carries a refresh cookie (same-site only: it is `SameSite=Strict`). A bearer
    /// token, when presented, is the only credential looked at: it is never refreshed in place
    /// (its client refreshes at `/auth/token`), and a bad one is not excused by a cookie.
    pub async fn resolve(&self, req: &RequestFacts) -> Resolution {
        match &req.bearer {
            BearerCredential::Token(token) => return self.bearer_session(req, token).await,
            BearerCredential::Proven(token) => {
                return match self.proven_access(req, token).await {
                    Ok(access) => self.live_session(req, &access).await,
                    Err(refusal) => Resolution::Refused(refusal),
                }
            }
            BearerCredential::Malformed => {
                self.audit.record(
                    self.log(EventKind::TokenRejected)
                        .client(req.client())
                        .detail("malformed bearer credentials"),
                );
                return Resolution::Refused(Refusal::InvalidToken {
                    expired: false,
                    dpop: false,
                });
            }
            BearerCredential::Absent => {}
        }
        let cookies = &req.cookies;
        if cookies.untrusted() {
            self.audit
                .record(self.log(EventKind::CookieTossing).client(req.client()));
            return Resolution::Refused(Refusal::NoSession);
        }
        // Parsed only when needed: it hashes the refresh secret.
        let refresh = || cookies.refresh();
        if let Some(token) = cookies.access() {
            match self.verified_access(token) {
                // Browsers' tokens are bound to no key: a bound one in a cookie was copied there.
                Ok(access) if access.key().is_some() => {
                    return Resolution::Refused(self.proof_refused(
                        req,
                        Refusal::TokenBinding { bound: true },
                        Some(&access),
                    ))
                }
                Ok(access) => return self.live_session(req, &access).await,
                // An expired token with a refresh cookie is the ordinary way a session goes on.
                Err(TokenError::Expired) if refresh().is_some() => {}
                Err(err) => self.audit.record(
                    self.log(EventKind::TokenRejected)
                        .client(req.client())
                        .detail(err.to_string()),
                ),
            }
        }
        let Some(refresh) = refresh() else {
            return Resolution::Refused(Refusal::NoSession);
        };
        let (record, tokens) = match self.refresh(&refresh, req, None).await {
            Restored::Session { record, tokens } => (record, tokens),
            Restored::Refused(refusal) => return Resolution::Refused(refusal),
        };
        match self.session_cookies(&tokens) {
            Ok(set_cookies) => Resolution::Session {
                principal: Principal {
                    access_expires_at: record.access_expiry(self.now, &self.config.policy),
                    user: record.user,
                    session: record.id,
                    roles: record.roles,
                    key: record.key,
                },
                set_cookies,
            },
            Err(refusal) => Resolution::Refused(refusal),
        }
    }

    /// The session of a bearer token: valid and unrevoked, as an access cookie would be.
    pub(super) async fn bearer_session(
        &self,
        req: &RequestFacts,
        token: &AccessToken,
    ) -> Resolution {
        match self.presented_access(req, token, Scheme::Bearer) {
            Ok(access) if access.key().is_some() => Resolution::Refused(self.proof_refused(
                req,
                Refusal::TokenBinding { bound: true },
                Some(&access),
            )),
            Ok(access) => self.live_session(req, &access).await,
            Err(refusal) => Resolution::Refused(refusal),
        }
    }

    /// The claims of a token presented in `Authorization` with `scheme`, or its refusal
    /// (`invalid_token`, logged, with the scheme's challenge).
    pub(super) fn presented_access(
        &self,
        req: &RequestFacts,
        token: &AccessToken,
        scheme: Scheme,
    ) -> Result<VerifiedAccess, Refusal> {
        self.verified_access(token.expose()).map_err(|err| {
            let named = match scheme {
                Scheme::Bearer => "bearer",
                Scheme::Dpop => "DPoP",
            };
            self.audit.record(
                self.log(EventKind::TokenRejected)
                    .client(req.client())
                    .detail(format!("{named} token: {err}")),
            );
            Refusal::InvalidToken {
                expired: err == TokenError::Expired,
                dpop: scheme == Scheme::Dpop,
            }
        })
    }

    pub(super) async fn live_session(
        &self,
        req: &RequestFacts,
        access: &VerifiedAccess,
    ) -> Resolution {
        let id = access.session();
        match self.revoked(access, id).await {
            Ok(false) => Resolution::Session {
                principal: Principal::of(access, id.clone()),
                set_cookies: Vec::new(),
            },
            Ok(true) => {
                self.audit.record(
                    self.log(EventKind::TokenRejected)
                        .user(access.user())
                        .session(access.session().as_str())
                        .client(req.client())
                        .detail("session ended"),
                );
                Resolution::Refused(Refusal::SessionEnded)
            }
            Err(err) => Resolution::Refused(self.unavailable(err)),
        }
    }
}
