//! Passkeys, as procedures of the core: a signed-in user's registration (begun and finished),
//! listing and removal, and a sign-in without a username, from the throttle to
//! [`Gate::open_session`].
//!
//! The ceremony's checks are [`crate::auth::accounts::passkey`]'s; the atomic steps run in the
//! user's authority behind [`PasskeyVault`]; the account (roles, disabled, whether a password
//! is set, its id) comes from [`Directory`]. A refused sign-in counts as a failed sign-in on the
//! address's counter, and tells the client nothing about which check failed; a registration,
//! made by a signed-in user, is told the reason.

use serde_json::Value;

use crate::auth::accounts::passkey::ceremony::{check_registration, read_assertion};
use crate::auth::accounts::passkey::challenge::{
    registration_challenge, SignInChallenges, REGISTRATION_TTL,
};
use crate::auth::accounts::passkey::registry::{
    PasskeyCommand, PasskeyReply, RegistryRefusal, StoredPasskey, MAX_NAME_CHARS,
};
use crate::auth::accounts::passkey::{
    CredentialId, PasskeyRefusal, RelyingParty, SignCounterPolicy, UserHandle,
};
use crate::auth::accounts::throttle::{Counter, Scope};
use crate::auth::audit::{AuditEvent, EventKind};
use crate::auth::env::{EntropyError, UnixTime};
use crate::auth::http::request::RequestFacts;
use crate::auth::names::encoding::b64url;
use crate::auth::names::role::Role;
use crate::auth::names::username::Username;
use crate::auth::session::store::{SessionStore, StoreError};

use super::signin::{Opened, Opening, SignInError, SignInRefusal, Throttle};
use super::{Accounts, AssertionSigner, Gate, Principal};

/// The user's authority, for their passkeys; and the index from user handles to users.
#[allow(async_fn_in_trait)]
pub trait PasskeyVault {
    /// Applies `command` to `user`'s passkeys, atomically.
    async fn apply(
        &self,
        user: &Username,
        command: PasskeyCommand,
    ) -> Result<PasskeyReply, StoreError>;
    /// The user `handle` names, if any.
    async fn owner(&self, handle: &UserHandle) -> Result<Option<Username>, StoreError>;
    /// Makes `handle` name `user`: `false` when it names someone else already.
    async fn claim(&self, handle: &UserHandle, user: &Username) -> Result<bool, StoreError>;
    /// Makes credential `id` belong to `user` for good: `false` when another user registered it
    /// first (credential ids are unique across users, WebAuthn §7.1 step 26).
    async fn claim_credential(
        &self,
        id: &CredentialId,
        user: &Username,
    ) -> Result<bool, StoreError>;
}

/// A built-in user's account, as a passkey ceremony needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// The roles a session gets.
    pub roles: Vec<Role>,
    /// A disabled account signs in by no means.
    pub disabled: bool,
    /// Whether the user has a password; one who has none keeps their last passkey.
    pub has_password: bool,
    /// The account's id (the record's `account`): passkeys of another id are not this
    /// account's.
    pub id: Option<String>,
}

/// The built-in users' records.
#[allow(async_fn_in_trait)]
pub trait Directory {
    /// `user`'s account, `None` if there is no such user; an outage is an error.
    async fn account(&self, user: &Username) -> Result<Option<Account>, StoreError>;
}

/// Why a passkey could not be added or removed.
#[derive(Debug)]
pub enum PasskeyFailure {
    /// Passkeys are off, or this is not a built-in user.
    Unavailable,
    /// The session signed in longer ago than `PASSKEY_RECENT_SIGN_IN`: sign in again first.
    NotRecent,
    /// The request came with a token in `Authorization`: passkeys are managed by a browser's
    /// session, on the account page, not by API clients.
    BrowserOnly,
    /// The registration was refused, for this reason.
    Refused(PasskeyRefusal),
    /// The name is empty, too long or holds control characters.
    Name,
    /// The user has no such passkey.
    NotFound,
    /// It is the last passkey of a user without a password.
    LastPasskey,
    /// The store or the authority failed.
    Store(StoreError),
    /// No randomness for a challenge or handle.
    Entropy(EntropyError),
}

impl From<StoreError> for PasskeyFailure {
    fn from(err: StoreError) -> Self {
        Self::Store(err)
    }
}

impl From<EntropyError> for PasskeyFailure {
    fn from(err: EntropyError) -> Self {
        Self::Entropy(err)
    }
}

fn unexpected(reply: PasskeyReply) -> StoreError {
    StoreError::Corrupt(format!("unexpected passkey reply: {reply:?}"))
}

/// Whether `c` may not stand in a name: a control character, or an invisible one that changes
/// how the text around it is shown (bidirectional overrides and isolates, zero-width
/// characters), with which a name could pass for another in a list.
fn unfit_for_names(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{061C}' | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{206F}' | '\u{FEFF}')
}

/// A passkey's name as typed: trimmed, 1 to [`MAX_NAME_CHARS`] characters, none of them
/// control or invisible formatting characters.
pub fn passkey_name(typed: &str) -> Option<String> {
    let name = typed.trim();
    let fits = (1..=MAX_NAME_CHARS).contains(&name.chars().count());
    (fits && !name.chars().any(unfit_for_names)).then(|| name.to_owned())
}

/// The ports a passkey sign-in needs besides the gate's own.
pub struct PasskeyPorts<'a, V, D, T> {
    /// The users' authorities and the handle index.
    pub vault: &'a V,
    /// The users' records.
    pub directory: &'a D,
    /// The failure counters.
    pub throttle: &'a T,
}

impl<S: SessionStore, A: Accounts, G: AssertionSigner> Gate<'_, S, A, G> {
    /// The relying party, when passkeys are on.
    fn relying_party(&self) -> Result<&RelyingParty, PasskeyFailure> {
        self.config
            .passkeys
            .as_ref()
            .ok_or(PasskeyFailure::Unavailable)
    }

    /// The relying party for `user`, when passkeys are on and `user` is a built-in user (one
    /// signed in by a provider has no passkeys here).
    fn built_in(&self, user: &Username) -> Result<&RelyingParty, PasskeyFailure> {
        match self.relying_party()? {
            _ if user.is_federated() => Err(PasskeyFailure::Unavailable),
            rp => Ok(rp),
        }
    }

    /// The relying party for `principal`'s session if it may manage passkeys now: a built-in
    /// user's browser session (cookies, not a token in `Authorization`), live, signed in within
    /// `PASSKEY_RECENT_SIGN_IN`.
    async fn recent(
        &self,
        req: &RequestFacts,
        principal: &Principal,
    ) -> Result<&RelyingParty, PasskeyFailure> {
        let rp = self.built_in(&principal.user)?;
        if req.bearer.presented() {
            return Err(PasskeyFailure::BrowserOnly);
        }
        match self.manage_until(rp, principal).await? {
            Some(until) if self.now <= until => Ok(rp),
            _ => Err(PasskeyFailure::NotRecent),
        }
    }

    /// Until when `principal`'s session may add or remove passkeys: its sign-in and
    /// `PASSKEY_RECENT_SIGN_IN`; `None` when the session is not found.
    async fn manage_until(
        &self,
        rp: &RelyingParty,
        principal: &Principal,
    ) -> Result<Option<UnixTime>, StoreError> {
        let record = self.store.session(&principal.session, self.now).await?;
        Ok(record.map(|record| record.created_at.saturating_add(rp.recent_sign_in)))
    }

    fn passkey_refused(&self, user: Option<&Username>, client: &str, refusal: PasskeyRefusal) {
        let event = AuditEvent::new(EventKind::PasskeyRefused, self.now)
            .client(client)
            .detail(refusal.to_string());
        self.audit.record(match user {
            Some(user) => event.user(user),
            None => event,
        });
    }

    /// Until when `principal`'s session may add or remove passkeys (its sign-in and
    /// `PASSKEY_RECENT_SIGN_IN`); `None` when passkeys are off or the session is not found.
    pub async fn passkey_manage_until(
        &self,
        principal: &Principal,
    ) -> Result<Option<UnixTime>, StoreError> {
        match self.relying_party() {
            Ok(rp) => self.manage_until(rp, principal).await,
            Err(_) => Ok(None),
        }
    }

    /// Begins a registration for `principal`: a challenge kept by the user's authority, and
    /// the options for `navigator.credentials.create`.
    pub async fn begin_passkey_registration(
        &self,
        req: &RequestFacts,
        principal: &Principal,
        ports: (&impl PasskeyVault, &impl Directory),
    ) -> Result<Value, PasskeyFailure> {
        let rp = self.recent(req, principal).await?;
        let (vault, directory) = ports;
        let account = self.enabled_account(&principal.user, directory).await?;
        let challenge = registration_challenge(self.entropy)?;
        let command = PasskeyCommand::Begin {
            account: account.id,
            session: principal.session.clone(),
            challenge: b64url(&challenge),
            handle: UserHandle::generate(self.entropy)?,
            expires_at: self.now + REGISTRATION_TTL,
            now: self.now,
        };
        match vault.apply(&principal.user, command).await? {
            PasskeyReply::Begun { handle, exclude } => {
                Ok(rp.creation_options(&principal.user, &handle, &challenge, &exclude))
            }
            PasskeyReply::Refused(refusal) => Err(PasskeyFailure::Refused(refusal.ceremony())),
            other => Err(unexpected(other).into()),
        }
    }

    /// Finishes `principal`'s registration with the browser's `credential`, named `name`.
    pub async fn finish_passkey_registration(
        &self,
        req: &RequestFacts,
        principal: &Principal,
        ports: (&impl PasskeyVault, &impl Directory),
        name: &str,
        credential: &[u8],
    ) -> Result<StoredPasskey, PasskeyFailure> {
        let rp = self.recent(req, principal).await?;
        let (vault, directory) = ports;
        let account = self.enabled_account(&principal.user, directory).await?;
        let name = passkey_name(name).ok_or(PasskeyFailure::Name)?;
        let refused = |refusal: PasskeyRefusal| {
            self.passkey_refused(Some(&principal.user), req.client(), refusal);
            PasskeyFailure::Refused(refusal)
        };
        let registration = check_registration(rp, credential).map_err(refused)?;
        // The shape was vetted; the arithmetic (a P-256 point on the curve) is the verifier's.
        if !self.proofs.imports(&registration.key).await {
            return Err(refused(PasskeyRefusal::PublicKey));
        }
        let challenge = registration.challenge.clone();
        let passkey = registration.passkey(name, self.now, account.id);
        // The challenge first, taken once, before anything is written for this registration;
        // then the indexes that must name this user before a sign-in can find the passkey.
        let take = PasskeyCommand::Take {
            session: principal.session.clone(),
            challenge,
            now: self.now,
        };
        let handle = match vault.apply(&principal.user, take).await? {
            PasskeyReply::Taken(handle) => handle,
            PasskeyReply::Refused(refusal) => return Err(refused(refusal.ceremony())),
            other => return Err(unexpected(other).into()),
        };
        if !vault.claim(&handle, &principal.user).await? {
            return Err(refused(PasskeyRefusal::UserHandle));
        }
        if !vault.claim_credential(&passkey.id, &principal.user).await? {
            return Err(refused(PasskeyRefusal::DuplicateCredential));
        }
        match vault
            .apply(&principal.user, PasskeyCommand::Add { passkey })
            .await?
        {
            PasskeyReply::Added(passkey) => {
                self.audit.record(
                    AuditEvent::new(EventKind::PasskeyAdded, self.now)
                        .user(&principal.user)
                        .session(principal.session.as_str())
                        .client(req.client())
                        .detail(passkey.id.encoded()),
                );
                Ok(passkey)
            }
            PasskeyReply::Refused(refusal) => Err(refused(refusal.ceremony())),
            other => Err(unexpected(other).into()),
        }
    }

    /// `user`'s passkeys, oldest first: those of the account as it is now (none when there is
    /// no such account).
    pub async fn passkeys_of(
        &self,
        user: &Username,
        ports: (&impl PasskeyVault, &impl Directory),
    ) -> Result<Vec<StoredPasskey>, PasskeyFailure> {
        self.built_in(user)?;
        let (vault, directory) = ports;
        let Some(account) = directory.account(user).await? else {
            return Ok(Vec::new());
        };
        match vault.apply(user, PasskeyCommand::List).await? {
            PasskeyReply::Listed { mut passkeys, .. } => {
                passkeys.retain(|passkey| passkey.account == account.id);
                Ok(passkeys)
            }
            other => Err(unexpected(other).into()),
        }
    }

    /// `user`'s account, which must exist and be enabled to add a passkey.
    async fn enabled_account(
        &self,
        user: &Username,
        directory: &impl Directory,
    ) -> Result<Account, PasskeyFailure> {
        match directory.account(user).await? {
            Some(account) if !account.disabled => Ok(account),
            _ => Err(PasskeyFailure::Refused(PasskeyRefusal::Account)),
        }
    }

    /// Removes `user`'s passkey `id`, unless it is the last one of a user without a password.
    /// `by` says who asked, for the audit line (the user, or the operator).
    pub async fn remove_passkey(
        &self,
        user: &Username,
        id: &CredentialId,
        ports: (&impl PasskeyVault, &impl Directory),
        by: &str,
    ) -> Result<StoredPasskey, PasskeyFailure> {
        self.built_in(user)?;
        let (vault, directory) = ports;
        let keep_last = !directory
            .account(user)
            .await?
            .is_some_and(|account| account.has_password);
        let command = PasskeyCommand::Remove {
            id: id.clone(),
            keep_last,
        };
        match vault.apply(user, command).await? {
            PasskeyReply::Removed(passkey) => {
                self.audit.record(
                    AuditEvent::new(EventKind::PasskeyRemoved, self.now)
                        .user(user)
                        .detail(format!("{} by {by}", passkey.id.encoded())),
                );
                Ok(passkey)
            }
            PasskeyReply::Refused(RegistryRefusal::LastPasskey) => Err(PasskeyFailure::LastPasskey),
            PasskeyReply::Refused(_) => Err(PasskeyFailure::NotFound),
            other => Err(unexpected(other).into()),
        }
    }

    /// Removes one of `principal`'s own passkeys (a recent sign-in needed).
    pub async fn remove_own_passkey(
        &self,
        req: &RequestFacts,
        principal: &Principal,
        id: &CredentialId,
        ports: (&impl PasskeyVault, &impl Directory),
    ) -> Result<StoredPasskey, PasskeyFailure> {
        self.recent(req, principal).await?;
        self.remove_passkey(&principal.user, id, ports, "its user")
            .await
    }

    /// The options of a sign-in without a username, with a fresh challenge.
    pub fn passkey_sign_in_options(&self) -> Result<Value, PasskeyFailure> {
        let rp = self.relying_party()?;
        let challenge = rp.challenges.issue(self.entropy, self.now)?;
        Ok(rp.request_options(&challenge))
    }

    /// Signs in with a passkey: the throttle first, every check of the assertion, the account's
    /// standing, the challenge spent and the counter moved in the owner's authority, then
    /// [`Gate::open_session`]. Every refusal is the same one to the client, counted and logged
    /// with its reason.
    ///
    /// The throttle is the address's counter alone. An account's counter is what password
    /// guesses fill, and a signed assertion cannot be guessed: counting by account would let
    /// anyone who knows a username lock its passkeys out with wrong passwords.
    pub async fn sign_in_with_passkey(
        &self,
        req: &RequestFacts,
        credential: &[u8],
        ports: PasskeyPorts<'_, impl PasskeyVault, impl Directory, impl Throttle>,
        opening: Opening,
    ) -> Result<Result<Opened, SignInRefusal>, SignInError> {
        let Ok(rp) = self.relying_party() else {
            return Ok(Err(SignInRefusal::InvalidCredentials));
        };
        let client = req.client();
        let counters = [Counter {
            scope: Scope::ClientIp,
            value: client,
            limit: &self.config.client_limit,
        }];
        if let Some(retry_after) = ports.throttle.admit(&counters).await? {
            self.audit.record(
                AuditEvent::new(EventKind::RateLimited, self.now)
                    .client(client)
                    .detail("passkey sign-in"),
            );
            return Ok(Err(SignInRefusal::RateLimited { retry_after }));
        }
        let assertion = match read_assertion(rp, credential, self.now) {
            Ok(assertion) => assertion,
            Err(refusal) => {
                return self
                    .passkey_failed(ports.throttle, &counters, client, None, refusal)
                    .await
            }
        };
        let Some(user) = ports.vault.owner(&assertion.handle).await? else {
            let refusal = PasskeyRefusal::UserHandle;
            return self
                .passkey_failed(ports.throttle, &counters, client, None, refusal)
                .await;
        };
        let verdict = self.check_assertion(rp, &user, &assertion, &ports).await?;
        let (passkey, account) = match verdict {
            Ok(found) => found,
            Err(refusal) => {
                return self
                    .passkey_failed(ports.throttle, &counters, client, Some(&user), refusal)
                    .await
            }
        };
        if let Err(err) = ports.throttle.succeeded(&counters).await {
            self.audit.record(
                AuditEvent::new(EventKind::StoreFailure, self.now)
                    .detail(format!("rate counter: {err}")),
            );
        }
        let opened = self.open_session(req, user, account.roles, opening).await?;
        self.audit.record(
            AuditEvent::new(EventKind::PasskeySignIn, self.now)
                .user(&opened.record.user)
                .session(opened.record.id.as_str())
                .client(client)
                .detail(passkey),
        );
        Ok(Ok(opened))
    }

    /// The checks of a sign-in that need the owner's state: the passkey under its id, the
    /// assertion against it, the account in good standing, then the challenge spent and the
    /// counter in the owner's authority. The passkey's id for the audit line, and the account.
    async fn check_assertion(
        &self,
        rp: &RelyingParty,
        user: &Username,
        assertion: &crate::auth::accounts::passkey::ceremony::Assertion,
        ports: &PasskeyPorts<'_, impl PasskeyVault, impl Directory, impl Throttle>,
    ) -> Result<Result<(String, Account), PasskeyRefusal>, SignInError> {
        let find = PasskeyCommand::Find {
            id: assertion.id.clone(),
        };
        let (passkey, handle) = match ports.vault.apply(user, find).await? {
            PasskeyReply::Found {
                passkey: Some(passkey),
                handle,
            } => (passkey, handle),
            PasskeyReply::Found { passkey: None, .. } => {
                return Ok(Err(PasskeyRefusal::UnknownCredential))
            }
            other => return Err(unexpected(other).into()),
        };
        if let Err(refusal) = assertion
            .check(&passkey, handle.as_ref(), self.proofs)
            .await
        {
            return Ok(Err(refusal));
        }
        // The account before anything is recorded of this sign-in (WebAuthn §7.2 step 24): it
        // exists, is enabled, and is the account the passkey was registered for (not one of the
        // same name made since, nor the same after a reset).
        let account = match ports.directory.account(user).await? {
            Some(account) if account.disabled => {
                self.end_all(user).await?;
                return Ok(Err(PasskeyRefusal::Account));
            }
            Some(account) if account.id == passkey.account => account,
            Some(_) | None => return Ok(Err(PasskeyRefusal::Account)),
        };
        let signed_in = PasskeyCommand::SignedIn {
            id: assertion.id.clone(),
            challenge: assertion.challenge.clone(),
            until: SignInChallenges::expires_by(self.now),
            sign_count: assertion.sign_count,
            backed_up: assertion.backed_up,
            refuse_regression: rp.counter == SignCounterPolicy::Refuse,
            now: self.now,
        };
        let mut detail = passkey.id.encoded();
        match ports.vault.apply(user, signed_in).await? {
            PasskeyReply::SignedIn { regressed, .. } => {
                if regressed {
                    detail.push_str(", sign counter went backwards (allowed by PASSKEY_COUNTER)");
                }
            }
            PasskeyReply::Refused(refusal) => return Ok(Err(refusal.ceremony())),
            other => return Err(unexpected(other).into()),
        }
        Ok(Ok((detail, account)))
    }

    /// A refused passkey sign-in: counted on every counter, logged with its reason, and
    /// answered as every other failed sign-in.
    async fn passkey_failed(
        &self,
        throttle: &impl Throttle,
        counters: &[Counter<'_>],
        client: &str,
        user: Option<&Username>,
        refusal: PasskeyRefusal,
    ) -> Result<Result<Opened, SignInRefusal>, SignInError> {
        if let Err(err) = throttle.failed(counters).await {
            self.audit.record(
                AuditEvent::new(EventKind::StoreFailure, self.now)
                    .detail(format!("rate counter: {err}")),
            );
        }
        self.passkey_refused(user, client, refusal);
        Ok(Err(SignInRefusal::InvalidCredentials))
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
#[path = "passkey_tests.rs"]
mod tests;
