//! A user's passkeys and the steps that change them, each one atomic in the user's authority.
//!
//! The state is small and per user: the user's handle, the registered passkeys, the
//! registrations begun and not finished, and the sign-in challenges spent and not yet expired.
//! [`apply`] is the whole transition of one [`PasskeyCommand`], pure, so that the Durable Object
//! that owns the state, the in-memory store of the tests and every rule's test run the same code.
//! What needs the state and the command together is decided here, in one step: a challenge is
//! taken once, a credential id is registered once, the sign counter only goes forward, the last
//! passkey of a user without a password stays.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::ids::{CredentialId, UserHandle};
use super::refusal::PasskeyRefusal;
use crate::auth::env::UnixTime;
use crate::auth::names::session_id::SessionId;

/// The most passkeys one user may register.
pub const MAX_PASSKEYS: usize = 16;
/// The most registrations one user may have begun and not finished; the oldest gives way.
pub const MAX_PENDING: usize = 4;
/// The most spent sign-in challenges remembered per user. Only verified sign-ins spend one, and
/// each is remembered for four minutes, so an honest user never comes near it; when it is full,
/// sign-ins are refused rather than forgetting one early.
pub const MAX_SPENT: usize = 256;
/// The longest passkey name, in characters.
pub const MAX_NAME_CHARS: usize = 64;

/// A registered passkey, as the user's authority keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredPasskey {
    /// The credential's id.
    pub id: CredentialId,
    /// The name its owner gave it.
    pub name: String,
    /// Its COSE algorithm (-8 EdDSA, -7 ES256, -257 RS256).
    pub cose_alg: i64,
    /// Its public key as a JWK, vetted at registration and again at each use.
    pub jwk: Value,
    /// The last sign counter seen; 0 for authenticators that keep none (synced passkeys).
    pub sign_count: u32,
    /// Whether it may be synced to the owner's other devices (fixed at registration).
    pub backup_eligible: bool,
    /// Whether it was synced when last seen.
    pub backed_up: bool,
    /// When it was registered, in Unix seconds.
    pub created_at: UnixTime,
    /// When it last signed someone in.
    pub last_used_at: Option<UnixTime>,
    /// The id of the account it was registered for (the user record's `account`): it signs in
    /// no account of another id.
    #[serde(default)]
    pub account: Option<String>,
}

/// A registration begun: its challenge, the session that asked, and until when it counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Pending {
    challenge: String,
    session: SessionId,
    expires_at: UnixTime,
}

/// A sign-in challenge used, remembered until it could no longer be accepted anyway.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Spent {
    challenge: String,
    until: UnixTime,
}

/// One user's passkey state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserPasskeys {
    /// The user's handle, made at the first registration and kept for good.
    handle: Option<UserHandle>,
    passkeys: Vec<StoredPasskey>,
    #[serde(default)]
    pending: Vec<Pending>,
    #[serde(default)]
    spent: Vec<Spent>,
}

impl UserPasskeys {
    fn find(&self, id: &CredentialId) -> Option<&StoredPasskey> {
        self.passkeys.iter().find(|passkey| passkey.id == *id)
    }

    fn prune(&mut self, now: UnixTime) {
        self.pending.retain(|pending| pending.expires_at > now);
        self.spent.retain(|spent| spent.until >= now);
    }
}

/// One atomic step, as sent to the user's authority: externally tagged (`{"begin": {…}}`,
/// `"list"`), which serde reads straight from the JSON where an internally tagged enum would be
/// buffered first (several kilobytes of the module).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PasskeyCommand {
    /// Begins a registration for `session`: keeps `challenge` until `expires_at`, makes the
    /// user's handle from `handle` if they have none, and forgets the passkeys of another
    /// account than `account` (one of the same name before a reset or a re-creation).
    Begin {
        /// The id of the account now.
        account: Option<String>,
        /// The session that asked.
        session: SessionId,
        /// The challenge, base64url.
        challenge: String,
        /// The handle to give the user if they have none yet (made by the caller).
        handle: UserHandle,
        /// Until when the challenge counts.
        expires_at: UnixTime,
        /// The time of the request.
        now: UnixTime,
    },
    /// Takes the challenge `session` began a registration with: the first step of finishing
    /// it, before anything else is written for it.
    Take {
        /// The session that finishes.
        session: SessionId,
        /// The challenge the browser's response answers, base64url.
        challenge: String,
        /// The time of the request.
        now: UnixTime,
    },
    /// Keeps a verified credential whose registration challenge was taken.
    Add {
        /// The verified credential.
        passkey: StoredPasskey,
    },
    /// The user's passkey `id`, to check a sign-in against, with the user's handle.
    Find {
        /// The credential.
        id: CredentialId,
    },
    /// Records a verified sign-in: spends its challenge and moves the counter forward.
    SignedIn {
        /// The credential that signed.
        id: CredentialId,
        /// The challenge it signed, base64url.
        challenge: String,
        /// Until when that challenge could be accepted.
        until: UnixTime,
        /// The counter the authenticator reported.
        sign_count: u32,
        /// Whether the credential is backed up now.
        backed_up: bool,
        /// Whether a counter that did not go forward refuses the sign-in.
        refuse_regression: bool,
        /// The time of the sign-in.
        now: UnixTime,
    },
    /// Removes a passkey; with `keep_last`, not the user's last one.
    Remove {
        /// The credential.
        id: CredentialId,
        /// Whether the user must keep one (they have no password).
        keep_last: bool,
    },
    /// The user's passkeys and handle.
    List,
}

/// Why the authority refused a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegistryRefusal {
    /// The user has [`MAX_PASSKEYS`].
    TooMany,
    /// No live registration of this session has that challenge.
    Challenge,
    /// The credential is registered already.
    Duplicate,
    /// The user has no such passkey.
    Unknown,
    /// The sign-in challenge was spent, or too many are.
    Spent,
    /// The counter did not go forward and regressions are refused.
    CounterRegressed,
    /// It is the last passkey of a user who has no password.
    LastPasskey,
}

impl RegistryRefusal {
    /// The ceremony's refusal this is, for the refusals a ceremony can meet.
    pub fn ceremony(self) -> PasskeyRefusal {
        match self {
            Self::TooMany => PasskeyRefusal::TooManyPasskeys,
            Self::Challenge => PasskeyRefusal::Challenge,
            Self::Duplicate => PasskeyRefusal::DuplicateCredential,
            Self::Unknown | Self::LastPasskey => PasskeyRefusal::UnknownCredential,
            Self::Spent => PasskeyRefusal::ChallengeSpent,
            Self::CounterRegressed => PasskeyRefusal::CounterRegressed,
        }
    }
}

/// The answer to a [`PasskeyCommand`], externally tagged like it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PasskeyReply {
    /// To `Begin`: the user's handle and the ids to exclude.
    Begun {
        /// The user's handle.
        handle: UserHandle,
        /// The user's credentials, which the browser must not register again.
        exclude: Vec<CredentialId>,
    },
    /// To `Take`: the user's handle, under which the passkey will be found.
    Taken(UserHandle),
    /// To `Add`: the passkey kept.
    Added(StoredPasskey),
    /// To `Find`: the passkey, if the user has it, and the user's handle.
    Found {
        /// The passkey.
        passkey: Option<StoredPasskey>,
        /// The user's handle, if they have one.
        handle: Option<UserHandle>,
    },
    /// To `SignedIn`: the passkey as now kept, and whether its counter went backwards.
    SignedIn {
        /// The passkey.
        passkey: StoredPasskey,
        /// Whether the counter did not go forward (logged; refused only by configuration).
        regressed: bool,
    },
    /// To `Remove`: the passkey removed.
    Removed(StoredPasskey),
    /// To `List`: the passkeys, oldest first, and the handle.
    Listed {
        /// The user's handle, if they have one.
        handle: Option<UserHandle>,
        /// The passkeys.
        passkeys: Vec<StoredPasskey>,
    },
    /// The step was refused, and nothing changed but the spending of a challenge.
    Refused(RegistryRefusal),
}

/// Whether a counter of `reported` after `stored` is a regression: either is non-zero and it did
/// not go forward (WebAuthn §7.2 step 22; a synced passkey reports 0 every time).
pub fn counter_regressed(stored: u32, reported: u32) -> bool {
    (stored != 0 || reported != 0) && reported <= stored
}

/// Applies `command` to `state`: the whole transition, with no I/O in between.
pub fn apply(state: &mut UserPasskeys, command: PasskeyCommand) -> PasskeyReply {
    match command {
        PasskeyCommand::Begin {
            account,
            session,
            challenge,
            handle,
            expires_at,
            now,
        } => {
            state.prune(now);
            state.passkeys.retain(|passkey| passkey.account == account);
            if state.passkeys.len() >= MAX_PASSKEYS {
                return PasskeyReply::Refused(RegistryRefusal::TooMany);
            }
            let handle = state.handle.get_or_insert(handle).clone();
            if state.pending.len() >= MAX_PENDING {
                state.pending.remove(0);
            }
            state.pending.push(Pending {
                challenge,
                session,
                expires_at,
            });
            PasskeyReply::Begun {
                handle,
                exclude: state.passkeys.iter().map(|p| p.id.clone()).collect(),
            }
        }
        PasskeyCommand::Take {
            session,
            challenge,
            now,
        } => {
            state.prune(now);
            let at = state
                .pending
                .iter()
                .position(|p| p.challenge == challenge && p.session == session);
            match (at, state.handle.clone()) {
                (Some(at), Some(handle)) => {
                    state.pending.remove(at);
                    PasskeyReply::Taken(handle)
                }
                _ => PasskeyReply::Refused(RegistryRefusal::Challenge),
            }
        }
        PasskeyCommand::Add { passkey } => {
            if state.find(&passkey.id).is_some() {
                return PasskeyReply::Refused(RegistryRefusal::Duplicate);
            }
            if state.passkeys.len() >= MAX_PASSKEYS {
                return PasskeyReply::Refused(RegistryRefusal::TooMany);
            }
            state.passkeys.push(passkey.clone());
            PasskeyReply::Added(passkey)
        }
        PasskeyCommand::Find { id } => PasskeyReply::Found {
            passkey: state.find(&id).cloned(),
            handle: state.handle.clone(),
        },
        PasskeyCommand::SignedIn {
            id,
            challenge,
            until,
            sign_count,
            backed_up,
            refuse_regression,
            now,
        } => {
            state.prune(now);
            if state.spent.len() >= MAX_SPENT
                || state.spent.iter().any(|s| s.challenge == challenge)
            {
                return PasskeyReply::Refused(RegistryRefusal::Spent);
            }
            let Some(passkey) = state.passkeys.iter_mut().find(|p| p.id == id) else {
                return PasskeyReply::Refused(RegistryRefusal::Unknown);
            };
            state.spent.push(Spent { challenge, until });
            let regressed = counter_regressed(passkey.sign_count, sign_count);
            if regressed && refuse_regression {
                return PasskeyReply::Refused(RegistryRefusal::CounterRegressed);
            }
            passkey.sign_count = passkey.sign_count.max(sign_count);
            passkey.backed_up = backed_up;
            passkey.last_used_at = Some(now);
            PasskeyReply::SignedIn {
                passkey: passkey.clone(),
                regressed,
            }
        }
        PasskeyCommand::Remove { id, keep_last } => {
            let Some(at) = state.passkeys.iter().position(|p| p.id == id) else {
                return PasskeyReply::Refused(RegistryRefusal::Unknown);
            };
            if keep_last && state.passkeys.len() == 1 {
                return PasskeyReply::Refused(RegistryRefusal::LastPasskey);
            }
            PasskeyReply::Removed(state.passkeys.remove(at))
        }
        PasskeyCommand::List => PasskeyReply::Listed {
            handle: state.handle.clone(),
            passkeys: state.passkeys.clone(),
        },
    }
}

/// The owner an index (a user handle's, a credential id's) names after `user` claims it: the
/// first claim stands. `None` when it is another user's, which must refuse the registration.
pub fn claim_owner(current: Option<&str>, user: &str) -> Option<String> {
    match current {
        None => Some(user.to_owned()),
        Some(owner) if owner == user => Some(user.to_owned()),
        Some(_) => None,
    }
}
