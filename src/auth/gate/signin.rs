//! Signing in, as procedures of the core: a password sign-in (the login form, JSON login and the
//! token endpoint's password grant) from the throttle to the new session, and [`Gate::open_session`],
//! the one way any sign-in (password or OpenID provider) becomes a session.
//!
//! The shell carries bytes: it parses the body, renders the outcome as a redirect, JSON or a
//! token response, and implements the ports ([`Throttle`], [`PasswordCheck`]) over its storage.
//! Every decision of the ceremony is here, so every branch is tested natively: one answer for
//! every credential failure (nothing tells accounts apart), each failure counted on every
//! counter, a disabled account's sessions ended, the session the browser held replaced.

use crate::auth::accounts::throttle::{Counter, Scope};
use crate::auth::audit::{AuditEvent, EventKind};
use crate::auth::env::EntropyError;
use crate::auth::http::request::RequestFacts;
use crate::auth::names::role::Role;
use crate::auth::names::session_id::SessionId;
use crate::auth::names::thumbprint::Thumbprint;
use crate::auth::names::username::Username;
use crate::auth::secret::Password;
use crate::auth::session::record::{LoginSubject, SessionRecord, SignedInFrom};
use crate::auth::session::refresh::NewRefresh;
use crate::auth::session::store::{SessionStore, StoreError};

use super::{Accounts, AssertionSigner, Gate, Refusal, SessionTokens};

/// The counters of failed sign-ins, kept wherever the deployment keeps them.
#[allow(async_fn_in_trait)]
pub trait Throttle {
    /// Seconds to wait when any of `counters` is over its limit, `None` when the attempt may go
    /// ahead.
    async fn admit(&self, counters: &[Counter<'_>]) -> Result<Option<i64>, StoreError>;
    /// Counts a failed attempt on every counter.
    async fn failed(&self, counters: &[Counter<'_>]) -> Result<(), StoreError>;
    /// Clears what a successful sign-in clears.
    async fn succeeded(&self, counters: &[Counter<'_>]) -> Result<(), StoreError>;
}

/// What the credential backend says of a username and password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordVerdict {
    /// The password is right: the user and their roles.
    Valid {
        /// The user, as the backend names them.
        user: Username,
        /// Their roles.
        roles: Vec<Role>,
    },
    /// Unknown user or wrong password.
    Invalid,
    /// The account exists but is disabled.
    Disabled {
        /// The user, whose sessions are ended.
        user: Username,
    },
}

/// Checks a username and password (user records, or the origin's verification endpoint).
#[allow(async_fn_in_trait)]
pub trait PasswordCheck {
    /// The verdict on `password` for `user`; an outage is an error, never a verdict.
    async fn verify(
        &self,
        user: &Username,
        password: &Password,
    ) -> Result<PasswordVerdict, StoreError>;
}

/// How a new session's tokens reach its client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// As cookies, to a browser: the session replaces the one the browser held.
    Cookies,
    /// In the body, to a client that asked for them: one more session of the user (a browser's
    /// cookies that came along are not this client's session).
    Body,
}

/// A session just opened: its record and first tokens.
#[derive(Debug)]
pub struct Opened {
    /// The stored record.
    pub record: SessionRecord,
    /// Its access token and refresh token.
    pub tokens: SessionTokens,
}

/// Why a sign-in was turned away, as the client may learn it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInRefusal {
    /// Unknown user, wrong password, disabled account or a malformed username: one answer.
    InvalidCredentials,
    /// Too many failures for this account or address; try again after so many seconds.
    RateLimited {
        /// Seconds until the next attempt may succeed.
        retry_after: i64,
    },
}

/// The sign-in could not be carried out (nothing was decided against the client).
#[derive(Debug)]
pub enum SignInError {
    /// The store, the counters or the credential backend failed.
    Store(StoreError),
    /// No randomness for the session id or refresh token.
    Entropy(EntropyError),
    /// The tokens could not be minted.
    Minting(Refusal),
    /// An identity provider could not be reached where nothing else could be decided.
    ProviderUnavailable(String),
}

impl From<StoreError> for SignInError {
    fn from(err: StoreError) -> Self {
        Self::Store(err)
    }
}

/// A password sign-in as typed.
#[derive(Debug, Clone, Copy)]
pub struct PasswordAttempt<'a> {
    /// The username as typed (normalised here).
    pub typed: &'a str,
    /// The password.
    pub password: &'a Password,
}

/// The ports a password sign-in needs besides the gate's own.
pub struct SignInPorts<'a, T, P> {
    /// The failure counters.
    pub throttle: &'a T,
    /// The credential backend.
    pub passwords: &'a P,
}

impl<S: SessionStore, A: Accounts, G: AssertionSigner> Gate<'_, S, A, G> {
    /// Signs in with a password: the throttle first (by address, and by account when the name is
    /// one), then the credentials, then [`Gate::open_session`]. Every credential failure is the
    /// same refusal, counted and logged; a disabled account's sessions are ended.
    pub async fn sign_in_with_password(
        &self,
        req: &RequestFacts,
        attempt: PasswordAttempt<'_>,
        ports: SignInPorts<'_, impl Throttle, impl PasswordCheck>,
        opening: Opening,
    ) -> Result<Result<Opened, SignInRefusal>, SignInError> {
        let client = req.client();
        let username = Username::parse(attempt.typed).ok();
        let mut counters = vec![Counter {
            scope: Scope::ClientIp,
            value: client,
            limit: &self.config.client_limit,
        }];
        if let Some(username) = &username {
            counters.push(Counter {
                scope: Scope::Account,
                value: username,
                limit: &self.config.account_limit,
            });
        }
        if let Some(retry_after) = ports.throttle.admit(&counters).await? {
            let mut event = AuditEvent::new(EventKind::RateLimited, self.now).client(client);
            if let Some(username) = &username {
                event = event.user(username);
            }
            self.audit.record(event);
            return Ok(Err(SignInRefusal::RateLimited { retry_after }));
        }
        let Some(username) = username.as_ref() else {
            return self.failed(ports.throttle, &counters, client, None).await;
        };
        let (user, roles) = match ports.passwords.verify(username, attempt.password).await? {
            PasswordVerdict::Valid { user, roles } => (user, roles),
            PasswordVerdict::Disabled { user } => {
                self.end_all(&user).await?;
                return self
                    .failed(ports.throttle, &counters, client, Some(username))
                    .await;
            }
            PasswordVerdict::Invalid => {
                return self
                    .failed(ports.throttle, &counters, client, Some(username))
                    .await
            }
        };
        if let Err(err) = ports.throttle.succeeded(&counters).await {
            self.audit.record(
                AuditEvent::new(EventKind::StoreFailure, self.now)
                    .detail(format!("rate counter: {err}")),
            );
        }
        self.open_session(req, user, roles, opening).await.map(Ok)
    }

    /// A credential failure: counted on every counter, logged, and answered as every other.
    async fn failed(
        &self,
        throttle: &impl Throttle,
        counters: &[Counter<'_>],
        client: &str,
        user: Option<&Username>,
    ) -> Result<Result<Opened, SignInRefusal>, SignInError> {
        if let Err(err) = throttle.failed(counters).await {
            self.audit.record(
                AuditEvent::new(EventKind::StoreFailure, self.now)
                    .detail(format!("rate counter: {err}")),
            );
        }
        let event = AuditEvent::new(EventKind::LoginFailed, self.now).client(client);
        self.audit.record(match user {
            Some(user) => event.user(user),
            None => event.detail("malformed username"),
        });
        Ok(Err(SignInRefusal::InvalidCredentials))
    }

    /// Opens a new session for `user`, signed in just now by any means: it replaces the session
    /// this browser held (cookie delivery, ASVS 7.2.4), is written through the store (limits,
    /// the authority), and is logged.
    pub async fn open_session(
        &self,
        req: &RequestFacts,
        user: Username,
        roles: Vec<Role>,
        opening: Opening,
    ) -> Result<Opened, SignInError> {
        if opening.delivery == Delivery::Cookies {
            if let Some(previous) = self.held_session(req).await? {
                self.end_session(&previous).await?;
                self.audit.record(
                    AuditEvent::new(EventKind::Revoke, self.now)
                        .session(previous.id.as_str())
                        .detail("replaced by a new login"),
                );
            }
        }
        let id = SessionId::generate(self.entropy).map_err(SignInError::Entropy)?;
        let refresh = NewRefresh::mint(&id, self.entropy).map_err(SignInError::Entropy)?;
        let subject = LoginSubject {
            user,
            roles,
            user_agent: req.user_agent.clone(),
        };
        let policy = &self.config.policy;
        let mut record = SessionRecord::new(id, subject, refresh.hash.clone(), self.now, policy);
        record.signed_in_from = opening.signed_in_from.map(Box::new);
        record.provider_session = opening.provider_session;
        record.key = opening.key;
        self.store.create(record.clone(), policy, self.now).await?;
        let event = AuditEvent::new(EventKind::LoginOk, self.now)
            .user(&record.user)
            .session(record.id.as_str())
            .client(req.client());
        self.audit.record(match (opening.delivery, &record.key) {
            (Delivery::Cookies, _) => event,
            (Delivery::Body, None) => event.detail("tokens delivered in the body"),
            (Delivery::Body, Some(_)) => {
                event.detail("tokens delivered in the body, bound to a DPoP key")
            }
        });
        let tokens = self
            .session_tokens(&record, Some(&refresh))
            .map_err(SignInError::Minting)?;
        Ok(Opened { record, tokens })
    }
}

/// Where a new session's tokens go and where its sign-in came from.
#[derive(Debug, Clone)]
pub struct Opening {
    /// Cookies for a browser, or the body for an API client.
    pub delivery: Delivery,
    /// Roughly where the sign-in came from, as the platform reports it.
    pub signed_in_from: Option<SignedInFrom>,
    /// The provider's session (`sid`) a provider sign-in came through, kept with the session
    /// for back-channel logout; `None` otherwise.
    pub provider_session: Option<String>,
    /// The key the token request proved (DPoP): the session and its tokens are bound to it.
    pub key: Option<Thumbprint>,
}

#[cfg(test)]
#[path = "signin_tests.rs"]
mod tests;
