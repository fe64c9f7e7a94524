//! Why a passkey ceremony was refused: one reason per check, each with its code. A registration
//! (made by a signed-in user) is answered with the code; every refused sign-in gets the one same
//! answer, and its reason goes only into the `passkey_refused` audit line.

use core::fmt;

/// One failed check of a registration or a sign-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PasskeyRefusal {
    /// A part of the response could not be read (what, in the text).
    Malformed(&'static str),
    /// A part of the response is larger than any honest one.
    TooLarge(&'static str),
    /// The credential is not a `public-key` one, or `clientDataJSON` is of another ceremony.
    WrongType,
    /// `clientDataJSON.origin` is not one of the configured origins.
    WrongOrigin,
    /// The ceremony ran in a cross-origin frame.
    CrossOrigin,
    /// The challenge was not issued by this edge for this ceremony, or has expired.
    Challenge,
    /// The challenge was used before.
    ChallengeSpent,
    /// The authenticator data is for another relying party.
    RpIdHash,
    /// The authenticator did not see the user (UP clear).
    UserNotPresent,
    /// The authenticator did not verify the user (UV clear).
    UserNotVerified,
    /// The backup flags contradict each other or the credential's registration.
    BackupFlags,
    /// The attestation is not `none`.
    Attestation,
    /// The credential's algorithm is not one the options offered.
    AlgorithmNotOffered,
    /// The credential's public key is malformed or not of its algorithm.
    PublicKey,
    /// The credential id is shorter or longer than authenticators make.
    CredentialIdLength,
    /// The ids of the response disagree (`id`, `rawId`, the authenticator data's).
    CredentialIdMismatch,
    /// The credential is already registered.
    DuplicateCredential,
    /// The user has as many passkeys as one may have.
    TooManyPasskeys,
    /// No such credential for the user the handle names.
    UnknownCredential,
    /// The response has no user handle, or one that names no user.
    UserHandle,
    /// The signature does not verify under the credential's key.
    Signature,
    /// The sign counter went backwards: a cloned authenticator, or a replay.
    CounterRegressed,
    /// The account is disabled, or no longer exists.
    Account,
}

impl PasskeyRefusal {
    /// The reason's code, for audit lines and tests.
    pub fn reason(self) -> &'static str {
        match self {
            Self::Malformed(_) => "malformed",
            Self::TooLarge(_) => "too_large",
            Self::WrongType => "wrong_type",
            Self::WrongOrigin => "wrong_origin",
            Self::CrossOrigin => "cross_origin",
            Self::Challenge => "challenge",
            Self::ChallengeSpent => "challenge_spent",
            Self::RpIdHash => "rp_id_hash",
            Self::UserNotPresent => "user_not_present",
            Self::UserNotVerified => "user_not_verified",
            Self::BackupFlags => "backup_flags",
            Self::Attestation => "attestation",
            Self::AlgorithmNotOffered => "algorithm_not_offered",
            Self::PublicKey => "public_key",
            Self::CredentialIdLength => "credential_id_length",
            Self::CredentialIdMismatch => "credential_id_mismatch",
            Self::DuplicateCredential => "duplicate_credential",
            Self::TooManyPasskeys => "too_many_passkeys",
            Self::UnknownCredential => "unknown_credential",
            Self::UserHandle => "user_handle",
            Self::Signature => "signature",
            Self::CounterRegressed => "counter_regressed",
            Self::Account => "account",
        }
    }
}

/// In words: the reason's code with spaces, so that an audit line keeps it readable (the audit
/// log's redaction takes a run of 16 or more identifier characters for a secret).
impl fmt::Display for PasskeyRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed(what) => write!(f, "malformed {what}"),
            Self::TooLarge(what) => write!(f, "{what} is too large"),
            other => f.write_str(&other.reason().replace('_', " ")),
        }
    }
}
