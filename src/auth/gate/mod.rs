//! The per-request decision: who, if anyone, a request speaks for, and what to do with it.
//!
//! Every step of the session protocol on the request path lives here, over the storage, account
//! and signing traits it is given: the access token checked (and cached), the revocation read
//! (and cached), the refresh in place with its rotation, reuse and account checks, the tokens of
//! a session and the cookies that carry them (or, for a client that presents its access token as
//! a bearer token, no cookies at all), the audit line of each event, and finally the [`Verdict`] for a
//! protected request. The shell performs the I/O these traits stand for and renders the value
//! it gets back; it decides nothing. The same code runs natively in tests against the in-memory
//! store, which is why every branch below has a test without a runtime.

pub mod admin;
pub mod cache;
pub mod federated;
pub mod signin;

use crate::auth::names::role::Role;
use crate::auth::names::username::Username;
use core::fmt;

use crate::auth::audit::{AuditEvent, EventKind};
use crate::auth::config::Config;
use crate::auth::env::{Entropy, UnixTime};
use crate::auth::gate::cache::{IsolateCaches, TokenDigest};
use crate::auth::http::cookie::{
    clear_access, clear_refresh, set_access, set_refresh, CookieError,
};
use crate::auth::http::forward::Identity;
use crate::auth::http::path::{PathError, RequestPath};
use crate::auth::http::redirect::{login_location, Reason};
use crate::auth::http::request::{BearerCredential, RequestFacts};
use crate::auth::names::session_id::SessionId;
use crate::auth::policy::{Access, Requirement, RoleNeed};
use crate::auth::secret::{AccessToken, Assertion, RefreshToken};
use crate::auth::session::device::{compare, Binding, BindingPolicy, Device};
use crate::auth::session::record::SessionRecord;
use crate::auth::session::refresh::{NewRefresh, PresentedRefresh};
use crate::auth::session::store::{Rotation, SessionStore, StoreError};
use crate::auth::token::keys::AssertionKeyRing;
use crate::auth::token::{
    issue_access, prepare, validate_access, MintError, Subject, TokenError, TokenKind, Unsigned,
    VerifiedAccess,
};

/// Whether a user may still hold sessions (a disabled account ends them at its next refresh).
#[allow(async_fn_in_trait)]
pub trait Accounts {
    /// Whether `user` may still hold sessions; an outage is an error, never a yes.
    async fn still_enabled(&self, user: &Username) -> Result<bool, StoreError>;
}

/// For credential backends that cannot disable accounts: everyone stays enabled.
pub struct NoAccountCheck;

impl Accounts for NoAccountCheck {
    async fn still_enabled(&self, _user: &Username) -> Result<bool, StoreError> {
        Ok(true)
    }
}

/// Signs a prepared identity assertion with `ring`'s first key.
#[allow(async_fn_in_trait)]
pub trait AssertionSigner {
    /// Signs `unsigned` with the first key of `ring`.
    async fn sign(
        &self,
        ring: &AssertionKeyRing,
        unsigned: Unsigned,
    ) -> Result<Assertion, MintError>;
}

/// Signs in this crate (Ed25519 compiled in); the worker uses the platform's WebCrypto instead.
pub struct LocalSigner;

impl AssertionSigner for LocalSigner {
    async fn sign(
        &self,
        ring: &AssertionKeyRing,
        unsigned: Unsigned,
    ) -> Result<Assertion, MintError> {
        unsigned.sign_with(ring)
    }
}

/// Where audit lines go.
pub trait AuditSink {
    /// Records `event`; it must not fail the request it describes.
    fn record(&self, event: AuditEvent);
}

/// Who a request speaks for, once its session is established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The account name the session belongs to.
    pub user: Username,
    /// The session the request belongs to, shared by all its access and refresh tokens.
    pub session: SessionId,
    /// The roles the session was granted at login.
    pub roles: Vec<Role>,
    /// When the access token that carries this session expires.
    pub access_expires_at: UnixTime,
}

impl Principal {
    fn of(access: &VerifiedAccess, session: SessionId) -> Self {
        Self {
            user: access.user().clone(),
            session,
            roles: access.roles().to_vec(),
            access_expires_at: access.expires_at(),
        }
    }

    fn subject(&self) -> Subject<'_> {
        Subject {
            user: &self.user,
            session: self.session.as_str(),
            roles: &self.roles,
        }
    }
}

/// A session and its owner, as verified: enough to end it through the owner's authority.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    /// The session to end.
    pub id: SessionId,
    /// Its owner, whose authority holds the session.
    pub user: Username,
}

impl Principal {
    /// This session and its owner, for ending it.
    pub fn held(&self) -> Held {
        Held {
            id: self.session.clone(),
            user: self.user.clone(),
        }
    }
}

/// Why a request gets no session; each maps to one status and error code of the HTTP contract.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refusal {
    /// No usable credentials were presented.
    NoSession,
    /// The session was ended (logout, revocation, limit).
    SessionEnded,
    /// The refresh token is unknown, expired, or the account is disabled.
    SessionExpired,
    /// A retired refresh token came back: the session has been ended.
    RefreshReused,
    /// The refresh came from another device than the session's login, under
    /// `SESSION_BINDING = enforce`: the session has been ended.
    DeviceMismatch,
    /// The bearer token is malformed, forged or expired (`expired`: refresh it and try again).
    InvalidToken {
        /// Whether it was a genuine token past its expiry.
        expired: bool,
    },
    /// The path means different things to different origins (encoded separators or dots,
    /// dot segments, `;` parameters, ...): refused before anything else looks at it.
    AmbiguousPath(PathError),
    /// A signed-in user lacks the roles the path's rule asks for.
    Forbidden(Denied),
    /// Storage could not answer: fail closed.
    Unavailable(StoreError),
    /// A token or cookie could not be minted (randomness, a value that cannot be a cookie).
    Internal(InternalCause),
}

impl Refusal {
    /// The HTTP status this refusal answers with.
    pub fn status(&self) -> u16 {
        match self {
            Self::AmbiguousPath(_) => 400,
            Self::Forbidden(_) => 403,
            Self::Unavailable(_) => 503,
            Self::Internal(_) => 500,
            _ => 401,
        }
    }

    /// The stable machine-readable `error` code of the JSON answer.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NoSession => "unauthenticated",
            Self::SessionEnded => "session_ended",
            Self::SessionExpired => "session_expired",
            Self::RefreshReused => "refresh_reused",
            Self::DeviceMismatch => "device_mismatch",
            Self::InvalidToken { .. } => "invalid_token",
            Self::AmbiguousPath(_) => "bad_request",
            Self::Forbidden(_) => "forbidden",
            Self::Unavailable(_) => "unavailable",
            Self::Internal(_) => "internal",
        }
    }

    /// A short sentence for the person behind the request; never names a secret.
    pub fn message(&self) -> &'static str {
        match self {
            Self::NoSession => "log in first",
            Self::SessionEnded => "this session has been ended",
            Self::SessionExpired => "the session is over; log in again",
            Self::RefreshReused => {
                "this refresh token was already used; the session has been ended"
            }
            Self::DeviceMismatch => {
                "this session was signed in on another device; the session has been ended"
            }
            Self::InvalidToken { expired: true } => {
                "the access token has expired; get a new one with the refresh token"
            }
            Self::InvalidToken { expired: false } => "the bearer token is not a valid access token",
            Self::AmbiguousPath(err) => err.reason(),
            Self::Forbidden(_) => "you are signed in, but without a role this path requires",
            Self::Unavailable(_) => "session storage is unavailable; try again shortly",
            Self::Internal(_) => "the session could not be issued",
        }
    }

    /// Whether the person behind the request has to sign in (again) to go on: every refusal of
    /// credentials, as opposed to a refused path, a missing role or an outage.
    pub fn needs_sign_in(&self) -> bool {
        self.status() == 401
    }

    /// Whether the answer clears the session cookies: they are known to be dead. A request
    /// that presented nothing, or hit an outage, keeps whatever it has.
    pub fn clears_cookies(&self) -> bool {
        matches!(
            self,
            Self::SessionEnded | Self::SessionExpired | Self::RefreshReused | Self::DeviceMismatch
        )
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

/// Why the edge itself could not issue what a request needed: never the client's doing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InternalCause {
    /// A token could not be minted or signed.
    Mint(MintError),
    /// No randomness for a token id or refresh secret.
    NoRandomness,
    /// A token that cannot be a cookie value.
    Cookie(CookieError),
}

impl fmt::Display for InternalCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Mint(err) => err.fmt(f),
            Self::NoRandomness => f.write_str("no randomness available"),
            Self::Cookie(err) => write!(f, "cookie: {err}"),
        }
    }
}

/// The sign-in page's reason for a refusal, when it says a session existed.
impl From<&Refusal> for Option<Reason> {
    fn from(refusal: &Refusal) -> Self {
        Reason::from_api_error(refusal.code())
    }
}

/// Who was refused a path for want of roles, and which: enough for the page that says so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denied {
    /// The account that was refused.
    pub user: Username,
    /// Whether one of `missing` would do, or all of them are needed.
    pub need: RoleNeed,
    /// The rule's roles the user does not hold (for `Any`, all of the rule's roles).
    pub missing: Vec<Role>,
}

/// A request's session, or why it has none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// The request speaks for `principal`.
    Session {
        /// Who the session belongs to.
        principal: Principal,
        /// `Set-Cookie` values when the session was refreshed in place; empty otherwise.
        set_cookies: Vec<String>,
    },
    /// The request speaks for no one, and why.
    Refused(Refusal),
}

/// A session's credentials as minted for its client: a new access token and, after a login or
/// a rotation, the new refresh token. A browser gets them as cookies
/// ([`Gate::session_cookies`]); a client that asked `/auth/token` for them, in the body.
#[derive(Debug, Clone)]
pub struct SessionTokens {
    /// The access token.
    pub access: AccessToken,
    /// Seconds until the access token expires.
    pub access_expires_in: i64,
    /// The new refresh token; `None` when a concurrent refresh rotated it first (grace), and
    /// the token that refresh returned is the one to keep.
    pub refresh: Option<RefreshToken>,
    /// Seconds until the session's absolute end, the refresh token's longest life.
    pub refresh_expires_in: i64,
}

/// The outcome of presenting a refresh token.
#[derive(Debug, Clone)]
pub enum Restored {
    /// The refresh token was rotated: the session lives on.
    Session {
        /// The session as it stands after the rotation.
        record: Box<SessionRecord>,
        /// The session's new tokens.
        tokens: SessionTokens,
    },
    /// No session is restored, and why.
    Refused(Refusal),
}

/// What to do with a request for a protected (non-`/auth`) path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Forward to the origin, with this identity (none on a public path), adding these cookies
    /// to the origin's response.
    Forward {
        /// Who the origin is told the request speaks for; `None` on a public path.
        identity: Option<Identity>,
        /// `Set-Cookie` values to add to the origin's response (a refresh in place); may be empty.
        set_cookies: Vec<String>,
    },
    /// Send the browser to log in.
    Redirect {
        /// The login page, with the path to return to once signed in.
        location: String,
        /// `Set-Cookie` values for the redirect (clearing dead cookies); may be empty.
        set_cookies: Vec<String>,
    },
    /// Answer with an error page or JSON error instead of forwarding.
    Refuse {
        /// Why the request is refused.
        refusal: Refusal,
        /// `Set-Cookie` values for the answer (clearing dead cookies, or those of a refresh in
        /// place); may be empty.
        set_cookies: Vec<String>,
    },
}

/// One request's view of everything the decision needs.
pub struct Gate<'a, S, A, G> {
    /// The configuration validated for this isolate.
    pub config: &'a Config,
    /// Where sessions are read and written.
    pub store: &'a S,
    /// Whether accounts may still hold sessions, checked at each refresh.
    pub accounts: &'a A,
    /// Signs the identity assertion for the origin.
    pub signer: &'a G,
    /// The per-isolate caches of verified tokens and revocations.
    pub caches: &'a IsolateCaches,
    /// Where this request's audit lines go.
    pub audit: &'a dyn AuditSink,
    /// The time of this request, in Unix seconds; every expiry is judged against it.
    pub now: UnixTime,
    /// Randomness for the token identifiers and refresh secrets minted for this request.
    pub entropy: &'a dyn Entropy,
}

impl<S: SessionStore, A: Accounts, G: AssertionSigner> Gate<'_, S, A, G> {
    fn log(&self, event: EventKind) -> AuditEvent {
        AuditEvent::new(event, self.now)
    }

    fn unavailable(&self, err: StoreError) -> Refusal {
        self.audit
            .record(self.log(EventKind::StoreFailure).detail(err.to_string()));
        Refusal::Unavailable(err)
    }

    /// The `Set-Cookie` values an answer to `req` with `refusal` carries: the clearing ones when
    /// the cookies are known to be dead, none otherwise.
    pub fn refusal_cookies(&self, req: &RequestFacts, refusal: &Refusal) -> Vec<String> {
        match refusal.clears_cookies() {
            true => self.clearing_cookies(req),
            false => Vec::new(),
        }
    }

    /// `Set-Cookie` values that delete both session cookies; none for a request that spoke with
    /// a bearer token, whose client's cookies (a browser's, say) are not the session in question.
    pub fn clearing_cookies(&self, req: &RequestFacts) -> Vec<String> {
        if req.bearer.presented() {
            return Vec::new();
        }
        let spec = &self.config.cookies;
        vec![clear_access(spec), clear_refresh(spec)]
    }

    /// A session's new tokens: an access token, and the refresh token if one was minted.
    pub fn session_tokens(
        &self,
        record: &SessionRecord,
        refresh: Option<&NewRefresh>,
    ) -> Result<SessionTokens, Refusal> {
        let config = self.config;
        let expires = record.access_expiry(self.now, &config.policy);
        let subject = Subject {
            user: &record.user,
            session: record.id.as_str(),
            roles: &record.roles,
        };
        let access = issue_access(
            &config.session_keys,
            &config.access_audience,
            &subject,
            self.now,
            expires - self.now,
            self.entropy,
        )
        .map_err(|err| Refusal::Internal(InternalCause::Mint(err)))?;
        Ok(SessionTokens {
            access,
            access_expires_in: expires - self.now,
            refresh: refresh.map(|refresh| refresh.token(&record.user)),
            // The session may be refreshed until its absolute end; idleness is checked on refresh.
            refresh_expires_in: (record.absolute_expires_at - self.now).max(1),
        })
    }

    /// The `Set-Cookie` values that carry `tokens` to a browser.
    pub fn session_cookies(&self, tokens: &SessionTokens) -> Result<Vec<String>, Refusal> {
        let spec = &self.config.cookies;
        let internal = |err: &CookieError| Refusal::Internal(InternalCause::Cookie(err.clone()));
        // The cookie outlives the token by the leeway, so an expired token still reaches the
        // edge and can be refreshed in place.
        let access_age = tokens.access_expires_in + self.config.policy.leeway;
        let mut cookies =
            vec![set_access(&tokens.access, access_age, spec).map_err(|err| internal(&err))?];
        if let Some(refresh) = &tokens.refresh {
            cookies.push(
                set_refresh(refresh, tokens.refresh_expires_in, spec)
                    .map_err(|err| internal(&err))?,
            );
        }
        Ok(cookies)
    }

    /// The access token's claims: from the isolate cache while it has not expired, else
    /// validated (and then cached).
    fn verified_access(&self, token: &str) -> Result<VerifiedAccess, TokenError> {
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

    /// Whether `access`'s session has been ended: the isolate's recent "no" stands, else KV.
    async fn revoked(&self, access: &VerifiedAccess, id: &SessionId) -> Result<bool, StoreError> {
        if self.caches.known_live(id.as_str(), self.now) {
            return Ok(false);
        }
        let revoked = self.store.is_revoked(id).await?;
        if !revoked {
            self.caches
                .remember_live(id.as_str(), access.user(), self.now);
        }
        Ok(revoked)
    }

    /// Holds a refreshed session to the device of its login (`SESSION_BINDING`): `None` when the
    /// refresh goes on, else the refusal. Asked only once the store has matched the token to the
    /// session, so nobody without its current refresh token can raise a mismatch (or, under
    /// `enforce`, end someone's session); the cookie's holder could end it anyway by reusing it.
    ///
    /// Under `enforce` the session ends rather than merely refusing this refresh: the token did
    /// match, so it has been copied, and a refusal alone would leave the copy free to try again
    /// with another `User-Agent` until one passes.
    async fn bound(&self, record: &SessionRecord, from: &RequestFacts) -> Option<Refusal> {
        if self.config.binding == BindingPolicy::Off {
            return None;
        }
        let presented = Device::of(&from.user_agent);
        let recorded = record.device.as_deref();
        if compare(recorded, presented.as_ref()) != Binding::Different {
            return None;
        }
        let enforce = self.config.binding == BindingPolicy::Enforce;
        let describe = |device: Option<&Device>| {
            device.map_or_else(|| "no device".to_owned(), Device::summary)
        };
        self.audit.record(
            self.log(EventKind::BindingMismatch)
                .user(&record.user)
                .session(record.id.as_str())
                .client(from.client())
                .detail(format!(
                    "signed in on {}, refreshed from {}; {}",
                    describe(recorded),
                    describe(presented.as_ref()),
                    if enforce {
                        "refused, ending the session"
                    } else {
                        "allowed (audit only)"
                    }
                )),
        );
        if !enforce {
            return None;
        }
        let held = Held {
            id: record.id.clone(),
            user: record.user.clone(),
        };
        Some(match self.end_session(&held).await {
            Ok(_) => Refusal::DeviceMismatch,
            Err(err) => self.unavailable(err),
        })
    }

    /// Rotates `presented` (a refresh token that the request `from` carries) and mints the
    /// session's new tokens, with the account check first and the device binding after.
    pub async fn refresh(&self, presented: &PresentedRefresh, from: &RequestFacts) -> Restored {
        let refused = |refusal| Restored::Refused(refusal);
        let Ok(next) = NewRefresh::mint(&presented.session, self.entropy) else {
            return refused(Refusal::Internal(InternalCause::NoRandomness));
        };
        // The account check comes before the rotation: a refusal or an outage here must not
        // leave behind a rotation whose new token the client never received. The user is the
        // one the token names (a token naming someone else reaches an authority that does not
        // hold its session); tokens minted before they named one are looked up in KV.
        if self.config.checks_accounts() {
            let user = match &presented.user {
                Some(user) => Some(user.clone()),
                None => match self.store.session(&presented.session, self.now).await {
                    Ok(current) => current.map(|record| record.user),
                    Err(err) => return refused(self.unavailable(err)),
                },
            };
            // A provider's users have no account here: the provider is where they are disabled.
            let local = user.filter(|user| self.config.oidc.provider_of(user).is_none());
            if let Some(user) = local {
                match self.accounts.still_enabled(&user).await {
                    Ok(true) => {}
                    Ok(false) => {
                        if let Err(err) = self.end_all(&user).await {
                            return refused(self.unavailable(err));
                        }
                        self.audit.record(
                            self.log(EventKind::RevokeAll)
                                .user(&user)
                                .detail("account disabled"),
                        );
                        return refused(Refusal::SessionExpired);
                    }
                    Err(err) => return refused(self.unavailable(err)),
                }
            }
        }
        let rotation = self
            .store
            .rotate(presented, next.hash.clone(), &self.config.policy, self.now)
            .await;
        let (record, new_refresh, event) = match rotation {
            Ok(Rotation::Rotated(record)) => (record, Some(&next), EventKind::Refresh),
            Ok(Rotation::Grace(record)) => (record, None, EventKind::RefreshGrace),
            Ok(Rotation::Reused(record)) => {
                self.caches.forget(record.id.as_str());
                self.audit.record(
                    self.log(EventKind::ReuseDetected)
                        .user(&record.user)
                        .session(record.id.as_str()),
                );
                return refused(Refusal::RefreshReused);
            }
            Ok(Rotation::Ended | Rotation::Unknown) => {
                self.audit.record(
                    self.log(EventKind::RefreshRefused)
                        .session(presented.session.as_str()),
                );
                return refused(Refusal::SessionExpired);
            }
            Err(err) => return refused(self.unavailable(err)),
        };
        // The new refresh token (if any) has not left the edge: refused here, nobody holds it.
        if let Some(refusal) = self.bound(&record, from).await {
            return refused(refusal);
        }
        self.audit.record(
            self.log(event)
                .user(&record.user)
                .session(record.id.as_str()),
        );
        match self.session_tokens(&record, new_refresh) {
            Ok(tokens) => Restored::Session {
                record: Box::new(record),
                tokens,
            },
            Err(refusal) => refused(refusal),
        }
    }

    /// The request's session: a valid, unrevoked access token, or else a refresh in place when
    /// the request carries a refresh cookie (same-site only: it is `SameSite=Strict`). A bearer
    /// token, when presented, is the only credential looked at: it is never refreshed in place
    /// (its client refreshes at `/auth/token`), and a bad one is not excused by a cookie.
    pub async fn resolve(&self, req: &RequestFacts) -> Resolution {
        match &req.bearer {
            BearerCredential::Token(token) => return self.bearer_session(req, token).await,
            BearerCredential::Malformed => {
                self.audit.record(
                    self.log(EventKind::TokenRejected)
                        .client(req.client())
                        .detail("malformed bearer credentials"),
                );
                return Resolution::Refused(Refusal::InvalidToken { expired: false });
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
        let (record, tokens) = match self.refresh(&refresh, req).await {
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
                },
                set_cookies,
            },
            Err(refusal) => Resolution::Refused(refusal),
        }
    }

    /// The session of a bearer token: valid and unrevoked, as an access cookie would be.
    async fn bearer_session(&self, req: &RequestFacts, token: &AccessToken) -> Resolution {
        match self.verified_access(token.expose()) {
            Ok(access) => self.live_session(req, &access).await,
            Err(err) => {
                self.audit.record(
                    self.log(EventKind::TokenRejected)
                        .client(req.client())
                        .detail(format!("bearer token: {err}")),
                );
                Resolution::Refused(Refusal::InvalidToken {
                    expired: err == TokenError::Expired,
                })
            }
        }
    }

    async fn live_session(&self, req: &RequestFacts, access: &VerifiedAccess) -> Resolution {
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
    async fn admit(
        &self,
        req: &RequestFacts,
        principal: &Principal,
        access: &Access,
        set_cookies: Vec<String>,
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

    /// The session whose current credentials this request holds, if any: its access token (a
    /// bearer token, when one is presented, and nothing else), or its refresh token while that
    /// is still the current one (a stale or forged refresh token proves nothing about who holds
    /// the session now).
    pub async fn held_session(&self, req: &RequestFacts) -> Result<Option<Held>, StoreError> {
        let cookies = &req.cookies;
        let access = match &req.bearer {
            BearerCredential::Token(token) => Some(token.expose().as_str()),
            BearerCredential::Malformed => return Ok(None),
            BearerCredential::Absent => cookies.access(),
        };
        if let Some(access) = access.and_then(|token| self.verified_access(token).ok()) {
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

    /// Ends every session of `user`, and forgets them in this isolate at once.
    pub async fn end_all(&self, user: &Username) -> Result<Vec<SessionId>, StoreError> {
        self.caches.forget_user(user);
        let ended = self.store.revoke_all(user, self.now).await;
        self.caches.forget_user(user);
        ended
    }
}

#[cfg(test)]
mod tests;
