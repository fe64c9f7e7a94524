//! Signing in through an OpenID provider, and the provider's back-channel logout, as procedures
//! of the core.
//!
//! The shell reaches the provider (discovery, key sets, the token endpoint) through
//! [`ProviderLink`] and what must be remembered across requests through [`ProviderMarks`];
//! everything decided on the way is here: the flow cookie and `state` (used once), the
//! provider's error, the code exchange, the ID token (with one key refetch after an unknown
//! `kid`), who may sign in, and the one [`Gate::open_session`], which keeps the provider's
//! session (`sid`) with the edge session for back-channel logout. A refusal is a value ([`ProviderRefusal`]) that the shell renders as a
//! redirect to the sign-in page.

use std::rc::Rc;

use crate::auth::audit::{AuditEvent, EventKind};
use crate::auth::http::request::RequestFacts;
use crate::auth::names::username::Username;
use crate::auth::oidc::config::Provider;
use crate::auth::oidc::discovery::Discovery;
use crate::auth::oidc::flow::Flow;
use crate::auth::oidc::flow::FLOW_TTL;
use crate::auth::oidc::id_token::{validate_id_token, ProviderExpectation, ProviderTokenError};
use crate::auth::oidc::identity::admit;
use crate::auth::oidc::logout::{
    logout_token_field, validate_logout_token, VerifiedLogout, MAX_SID_LEN,
};
use crate::auth::session::kv_layout::{
    kv_expiration, logout_token_key, provider_session_key, used_state_key,
};
use crate::auth::session::store::{SessionStore, StoreError};
use crate::auth::token::public_keys::{PublicKeys, SignatureCheck};

use super::outcome::Held;
use super::signin::{Opened, Opening, SignInError};
use super::{Accounts, AssertionSigner, Gate};

/// The provider as the shell reaches it over the network.
#[allow(async_fn_in_trait)]
pub trait ProviderLink {
    /// The discovery document and key set, from the isolate's cache while fresh; why not.
    async fn metadata(&self) -> Result<(Rc<Discovery>, Rc<PublicKeys>), String>;
    /// The key set fetched again after an unknown `kid`; `None` when the refetch budget says
    /// not yet.
    async fn refetch_keys(
        &self,
        discovery: &Rc<Discovery>,
    ) -> Result<Option<Rc<PublicKeys>>, String>;
    /// Exchanges `code` and the PKCE `verifier` at the token endpoint; the ID token, or why not.
    async fn exchange(
        &self,
        discovery: &Discovery,
        code: &str,
        verifier: &str,
    ) -> Result<String, String>;
}

/// What the provider procedures remember across requests, under the keys of
/// [`crate::auth::session::kv_layout`]: the logout tokens (`jti`) acted on, the `state`s of
/// finished sign-ins, and which user a provider session (`sid`) signed in.
#[allow(async_fn_in_trait)]
pub trait ProviderMarks {
    /// The value kept under `key`, if any.
    async fn read(&self, key: &str) -> Result<Option<String>, StoreError>;
    /// Keeps `value` under `key` until `expiration` (Unix seconds, as
    /// [`kv_expiration`] gives it).
    async fn write(&self, key: &str, value: &str, expiration: u64) -> Result<(), StoreError>;
}

/// The provider's redirect back, as it arrived.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProviderCallback<'a> {
    /// The flow cookie, if the browser sent one.
    pub flow_cookie: Option<&'a str>,
    /// `state`.
    pub state: Option<&'a str>,
    /// `code`.
    pub code: Option<&'a str>,
    /// `error`, when the provider refused.
    pub error: Option<&'a str>,
    /// `iss` (RFC 9207), when the provider sent one.
    pub iss: Option<&'a str>,
}

/// A provider sign-in that did not work: the code the sign-in page shows, and what was logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderRefusal {
    /// `provider_expired` (no usable flow), `provider_error` (the provider or its token failed)
    /// or `provider_refused` (the person may not sign in here).
    pub code: &'static str,
    /// Why, for the audit line.
    pub detail: String,
}

/// A back-channel logout request that is turned away (400 `invalid_request`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoutRefusal(pub String);

/// Largest back-channel logout body read: the token and its field name.
const MAX_LOGOUT_BODY: usize = crate::auth::oidc::id_token::MAX_PROVIDER_TOKEN_BYTES + 64;

impl<S: SessionStore, A: Accounts, G: AssertionSigner> Gate<'_, S, A, G> {
    /// A provider sign-in refused: logged with its reason, and the value the shell renders.
    pub fn refuse_provider_sign_in(
        &self,
        req: &RequestFacts,
        provider: &Provider,
        code: &'static str,
        detail: impl core::fmt::Display,
    ) -> ProviderRefusal {
        let detail = format!("provider {}: {detail}", provider.id);
        self.audit.record(
            AuditEvent::new(EventKind::LoginFailed, self.now)
                .client(req.client())
                .detail(detail.clone()),
        );
        ProviderRefusal { code, detail }
    }

    /// Finishes a sign-in at `provider` from its redirect back: the flow, the code exchange, the
    /// ID token, who may sign in, and the session. The session and where to go next, or the
    /// refusal to render.
    pub async fn finish_provider_sign_in(
        &self,
        req: &RequestFacts,
        provider: &Provider,
        callback: ProviderCallback<'_>,
        ports: (
            &impl ProviderLink,
            &impl SignatureCheck,
            &impl ProviderMarks,
        ),
        mut opening: Opening,
    ) -> Result<Result<(Opened, String), ProviderRefusal>, SignInError> {
        let (link, check, marks) = ports;
        let refuse = |code, detail: &dyn core::fmt::Display| {
            Ok(Err(
                self.refuse_provider_sign_in(req, provider, code, detail)
            ))
        };
        let keys = &self.config.session_keys;
        let flow = match Flow::open(
            callback.flow_cookie,
            keys,
            &provider.id,
            callback.state,
            self.now,
        ) {
            Ok(flow) => flow,
            Err(err) => return refuse("provider_expired", &err),
        };
        // Single use: a sign-in that finished remembers its `state` for as long as its flow
        // cookie could still be valid, so the same answer is not accepted twice.
        let used_state = used_state_key(&flow.state);
        if marks.read(&used_state).await?.is_some() {
            return refuse("provider_expired", &"this sign-in was already finished");
        }
        let (discovery, keys) = match link.metadata().await {
            Ok(metadata) => metadata,
            Err(err) => return refuse("provider_error", &err),
        };
        // RFC 9207: the answer (an error too) names the provider it came from.
        if let Err(err) = discovery.check_response_issuer(callback.iss) {
            return refuse("provider_error", &err);
        }
        if let Some(error) = callback.error {
            let error: String = error.chars().take(80).collect();
            return refuse(
                "provider_error",
                &format!("the provider answered `{error}`"),
            );
        }
        let Some(code) = callback.code else {
            return refuse("provider_error", &"no code in the answer");
        };
        let id_token = match link.exchange(&discovery, code, &flow.verifier).await {
            Ok(token) => token,
            Err(err) => return refuse("provider_error", &err),
        };
        let expect = ProviderExpectation {
            issuer: &provider.issuer,
            client_id: &provider.client_id,
            now: self.now,
        };
        let verified = verify_with_refetch(link, &discovery, keys, |keys| {
            let (id_token, expect, nonce) = (&id_token, &expect, &flow.nonce);
            async move { validate_id_token(check, &keys, id_token, expect, nonce).await }
        })
        .await;
        let verified = match verified {
            Ok(verified) => verified,
            Err(err) => return refuse("provider_error", &format!("provider keys: {err}")),
        };
        let token = match verified {
            Ok(token) => token,
            Err(err) => return refuse("provider_error", &format!("ID token refused: {err}")),
        };
        let identity = match admit(provider, &token) {
            Ok(identity) => identity,
            Err(err) => return refuse("provider_refused", &err),
        };
        let until = |lifetime: i64| kv_expiration(self.now.saturating_add(lifetime), self.now);
        marks.write(&used_state, "1", until(FLOW_TTL)).await?;
        // The provider's session, and the index from it to the user for a logout token that
        // names only the `sid`, kept as long as a session opened now may live.
        let sid = token
            .provider_session()
            .filter(|sid| !sid.is_empty() && sid.len() <= MAX_SID_LEN);
        if let Some(sid) = sid {
            let key = provider_session_key(&provider.issuer, sid);
            let lifetime = self.config.policy.absolute_timeout;
            marks
                .write(&key, identity.user.as_str(), until(lifetime))
                .await?;
        }
        opening.provider_session = sid.map(str::to_owned);
        let opened = self
            .open_session(req, identity.user, identity.roles, opening)
            .await?;
        Ok(Ok((opened, flow.next)))
    }

    /// A provider's back-channel logout (`body` as posted), once per token (`jti`): a token
    /// naming a `sid` ends the edge sessions signed in through that provider session (and the
    /// user's sessions that recorded no `sid`); a token naming only a `sub` ends every session
    /// of that user. How many ended, or the refusal.
    pub async fn provider_logout(
        &self,
        provider: &Provider,
        body: &[u8],
        ports: (
            &impl ProviderLink,
            &impl SignatureCheck,
            &impl ProviderMarks,
        ),
    ) -> Result<Result<usize, LogoutRefusal>, SignInError> {
        let (link, check, marks) = ports;
        if body.len() > MAX_LOGOUT_BODY {
            return Ok(Err(LogoutRefusal("logout token too large".into())));
        }
        let Some(token) = logout_token_field(body) else {
            return Ok(Err(LogoutRefusal("no logout_token".into())));
        };
        let (discovery, keys) = link
            .metadata()
            .await
            .map_err(SignInError::ProviderUnavailable)?;
        let expect = ProviderExpectation {
            issuer: &provider.issuer,
            client_id: &provider.client_id,
            now: self.now,
        };
        // A rotation at the provider shows here as on sign-in: one refetch within the same budget.
        // A failed refetch is the provider's outage (503), so it retries the logout later.
        let verified = verify_with_refetch(link, &discovery, keys, |keys| {
            let (token, expect) = (&token, &expect);
            async move { validate_logout_token(check, &keys, token, expect).await }
        })
        .await
        .map_err(SignInError::ProviderUnavailable)?;
        let logout = match verified {
            Ok(logout) => logout,
            Err(err) => {
                self.audit
                    .record(AuditEvent::new(EventKind::Revoke, self.now).detail(format!(
                        "provider {}: logout token refused: {err}",
                        provider.id
                    )));
                return Ok(Err(LogoutRefusal(err.to_string())));
            }
        };
        // Replay protection: a `jti` acted on is remembered until the token is too old anyway.
        // With KV, a replay at this location is refused at once; elsewhere the mark may take up
        // to 60 s to show, and a replay in that window only ends the same user's sessions again.
        let seen_key = logout_token_key(&provider.issuer, &logout.token_id);
        if marks.read(&seen_key).await?.is_some() {
            self.audit.record(
                AuditEvent::new(EventKind::Revoke, self.now)
                    .detail(format!("provider {}: logout token replayed", provider.id)),
            );
            return Ok(Err(LogoutRefusal("logout token already used".into())));
        }
        let user = self.logout_user(provider, &logout, marks).await?;
        let ended = match (&user, &logout.provider_session) {
            (Some(user), Some(sid)) => self.end_provider_session(user, sid).await?,
            (Some(user), None) => self.end_all(user).await?.len(),
            (None, _) => 0,
        };
        // Marked only once the sessions have ended, so a provider retrying after an outage here
        // is not refused as a replay.
        let remember = kv_expiration(logout.remember_until, self.now);
        marks.write(&seen_key, "1", remember).await?;
        let mut event = AuditEvent::new(EventKind::Revoke, self.now).detail(format!(
            "provider {} back-channel logout ended {ended} sessions",
            provider.id
        ));
        if let Some(user) = &user {
            event = event.user(user);
        }
        self.audit.record(event);
        Ok(Ok(ended))
    }

    /// The user a logout token names: by its `sub`, else by the index its `sid` was given at
    /// sign-in. `None` when no sign-in here could have been that user (a subject no login could
    /// have admitted, a `sid` this edge never saw or has forgotten).
    async fn logout_user(
        &self,
        provider: &Provider,
        logout: &VerifiedLogout,
        marks: &impl ProviderMarks,
    ) -> Result<Option<Username>, StoreError> {
        if let Some(subject) = &logout.subject {
            return Ok(Username::federated(&provider.id, subject));
        }
        let Some(sid) = &logout.provider_session else {
            return Ok(None);
        };
        let indexed = marks
            .read(&provider_session_key(&provider.issuer, sid))
            .await?;
        // The index is written by this edge; the name is still read as the provider's own, so
        // nothing under it can name a user of another provider or a built-in user.
        let prefix = format!("{}:", provider.id);
        Ok(indexed
            .as_deref()
            .and_then(|name| name.strip_prefix(&prefix))
            .and_then(|subject| Username::federated(&provider.id, subject)))
    }

    /// Ends the sessions of `user` signed in through the provider session `sid`, and those that
    /// recorded none (password-less sign-ins before `sid`s were kept, or a provider that sent
    /// none), which any logout of their user ends. How many ended.
    async fn end_provider_session(&self, user: &Username, sid: &str) -> Result<usize, StoreError> {
        let mut ended = 0;
        for record in self.store.sessions_of(user, self.now).await? {
            if record
                .provider_session
                .as_deref()
                .is_some_and(|kept| kept != sid)
            {
                continue;
            }
            let held = Held {
                id: record.id,
                user: user.clone(),
            };
            if self.end_session(&held).await?.is_some() {
                ended += 1;
            }
        }
        Ok(ended)
    }
}

/// Verifies a provider's token with `keys`, and once more with the key set fetched again when its
/// `kid` is unknown (a key rotation at the provider) and the refetch budget allows
/// ([`crate::auth::oidc::refresh_policy::spend_key_refetch`]). Every route that verifies a
/// provider's token goes through here, so a rotation is followed everywhere alike. `Err` when the
/// refetch itself failed (it still counted against the budget).
async fn verify_with_refetch<T, F, Fut>(
    link: &impl ProviderLink,
    discovery: &Rc<Discovery>,
    keys: Rc<PublicKeys>,
    verify: F,
) -> Result<Result<T, ProviderTokenError>, String>
where
    F: Fn(Rc<PublicKeys>) -> Fut,
    Fut: core::future::Future<Output = Result<T, ProviderTokenError>>,
{
    let verified = verify(keys).await;
    if let Err(ProviderTokenError::UnknownKey(_)) = verified {
        if let Some(fresh) = link.refetch_keys(discovery).await? {
            return Ok(verify(fresh).await);
        }
    }
    Ok(verified)
}

// Natively only: they check provider tokens with `LocalSignatureCheck`, which the worker does not
// carry.
#[cfg(all(test, not(target_arch = "wasm32")))]
#[path = "federated_tests.rs"]
mod tests;
