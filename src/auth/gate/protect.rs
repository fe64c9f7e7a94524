//! The verdict on a protected path: the access policy, the session, the roles, and the identity
//! forwarded with a signed assertion.

use crate::auth::audit::EventKind;
use crate::auth::http::cookie::SetCookie;
use crate::auth::http::forward::Identity;
use crate::auth::http::path::{PathError, RequestPath};
use crate::auth::http::redirect::login_location;
use crate::auth::http::request::RequestFacts;
use crate::auth::policy::{Access, Requirement, RoleNeed};
use crate::auth::session::store::SessionStore;
use crate::auth::token::{prepare, MintError, Subject, TokenKind, Unsigned};

use super::*;

impl<S: SessionStore, A: Accounts, G: AssertionSigner> Gate<'_, S, A, G> {
    /// The identity to forward for `principal`: the isolate's recent assertion for the same
    /// session, user and roles while at least half its lifetime remains, else a new one.
    pub async fn identity(&self, principal: &Principal) -> Result<Identity, MintError> {
        let ttl = self.config.assertion_ttl;
        let session = principal.session.as_str();
        let cached =
            self.caches
                .assertion(session, &principal.user, &principal.roles, ttl, self.now);
        let assertion = match cached {
            Some(assertion) => assertion,
            None => {
                let unsigned = self.unsigned_assertion(&principal.subject())?;
                let assertion = self
                    .signer
                    .sign(&self.config.assertion_keys, unsigned)
                    .await?;
                self.caches.remember_assertion(
                    session,
                    &principal.user,
                    &principal.roles,
                    &assertion,
                    self.now.saturating_add(ttl),
                );
                assertion
            }
        };
        Ok(Identity {
            user: principal.user.clone(),
            session: session.to_owned(),
            roles: principal.roles.clone(),
            assertion,
            key: principal.key.clone(),
        })
    }

    /// The identity assertion for `subject`, ready to be signed with the ring's first key.
    pub fn unsigned_assertion(&self, subject: &Subject<'_>) -> Result<Unsigned, MintError> {
        prepare(
            &self.config.assertion_keys,
            TokenKind::Assertion,
            &self.config.assertion_audience,
            subject,
            self.now,
            self.config.assertion_ttl,
            self.entropy,
        )
    }

    /// The decision for a protected path, by the access policy: public paths (and preflights a
    /// rule lets through) pass without identity; otherwise the session's identity, a login
    /// redirect for a browser navigation, a refusal, or 403 for a session without the roles.
    pub async fn protect(&self, req: &RequestFacts) -> Verdict {
        // Decided on the path the origin will act on, so nothing is public (or less guarded)
        // here and something else there.
        let path = match RequestPath::parse(&req.path) {
            Ok(path) => path,
            Err(err) => {
                return Verdict::Refuse {
                    refusal: Refusal::AmbiguousPath(err),
                    set_cookies: Vec::new(),
                }
            }
        };
        let access =
            match self
                .config
                .access
                .requirement(&req.method, req.preflight.as_deref(), &path)
            {
                Requirement::Public | Requirement::Preflight => {
                    return Verdict::Forward {
                        identity: None,
                        set_cookies: Vec::new(),
                    }
                }
                Requirement::Session(access) => access,
                Requirement::SpellingDependent => {
                    return Verdict::Refuse {
                        refusal: Refusal::AmbiguousPath(PathError::SpellingDependent),
                        set_cookies: Vec::new(),
                    }
                }
            };
        match self.resolve(req).await {
            Resolution::Session {
                principal,
                set_cookies,
            } => self.admit(req, &principal, access, set_cookies).await,
            // A bearer client is not a browser to send to the login page.
            Resolution::Refused(refusal) => {
                if req.navigation && refusal.needs_sign_in() && !req.bearer.presented() {
                    Verdict::Redirect {
                        location: login_location(&req.target(), (&refusal).into()),
                        set_cookies: self.clearing_cookies(req),
                    }
                } else {
                    Verdict::Refuse {
                        set_cookies: self.refusal_cookies(req, &refusal),
                        refusal,
                    }
                }
            }
        }
    }

    /// The verdict for a session on a path whose rule asks for `access`: forwarded with its
    /// identity, or refused for the roles it lacks. Cookies of a refresh in place go with either
    /// answer, so the rotation is not lost.
    pub(super) async fn admit(
        &self,
        req: &RequestFacts,
        principal: &Principal,
        access: &Access,
        set_cookies: Vec<SetCookie>,
    ) -> Verdict {
        let missing = access.missing(&principal.roles);
        if let (Access::Roles { need, .. }, false) = (access, missing.is_empty()) {
            self.audit.record(
                self.log(EventKind::AccessDenied)
                    .user(&principal.user)
                    .session(principal.session.as_str())
                    .client(req.client())
                    .detail(format!(
                        "{} {}: needs {} of {}",
                        req.method,
                        req.path,
                        match need {
                            RoleNeed::Any => "one",
                            RoleNeed::All => "all",
                        },
                        missing.join(",")
                    )),
            );
            return Verdict::Refuse {
                refusal: Refusal::Forbidden(Denied {
                    user: principal.user.clone(),
                    need: *need,
                    missing,
                }),
                set_cookies,
            };
        }
        match self.identity(principal).await {
            Ok(identity) => Verdict::Forward {
                identity: Some(identity),
                set_cookies,
            },
            Err(err) => Verdict::Refuse {
                refusal: Refusal::Internal(InternalCause::Mint(err)),
                set_cookies: Vec::new(),
            },
        }
    }
}
