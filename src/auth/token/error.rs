//! Errors by phase: [`TokenError`] for a token that does not validate (the client's doing),
//! [`MintError`] for one that cannot be minted (the edge's).

use core::fmt;

use super::claims::MAX_TOKEN_BYTES;

/// Why a token was refused. The worker maps every variant to "unauthenticated"; the variant is
/// for logs and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenError {
    /// Longer than [`MAX_TOKEN_BYTES`]; refused before it is parsed.
    TooLarge,
    /// Not a compact JWS of JSON, or claims of the wrong shape.
    Malformed,
    /// The header has `crit`: it asks for an extension edgegate does not understand.
    CriticalHeader,
    /// The header names no key.
    MissingKid,
    /// The `kid` is not well formed or not in the ring: a dropped key, or another ring's.
    UnknownKey,
    /// The signature has the wrong length or does not verify with the key the `kid` names.
    BadSignature,
    /// The signature verified but the header's `alg` is not the ring's algorithm.
    AlgorithmNotAllowed,
    /// The `typ` header is not the expected kind's.
    WrongType,
    /// The `knd` claim is not the expected kind.
    WrongKind,
    /// The `iss` claim is not the configured issuer.
    WrongIssuer,
    /// The `aud` claim is not the expected audience.
    WrongAudience,
    /// A required claim (`exp`, `nbf`, `iat`, `sid`) is absent or invalid; names it.
    MissingClaim(&'static str),
    /// `exp` plus the leeway has passed.
    Expired,
    /// `nbf` minus the leeway is still ahead.
    NotYetValid,
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLarge => write!(f, "token longer than {MAX_TOKEN_BYTES} bytes"),
            Self::Malformed => f.write_str("token is not a well-formed compact JWS"),
            Self::CriticalHeader => {
                f.write_str("token has a `crit` header; no extension is supported")
            }
            Self::MissingKid => f.write_str("token header has no `kid`"),
            Self::UnknownKey => f.write_str("token `kid` is not in the key ring"),
            Self::BadSignature => f.write_str("token signature does not verify"),
            Self::AlgorithmNotAllowed => f.write_str("token `alg` is not the algorithm of its key"),
            Self::WrongType => f.write_str("token `typ` is not the expected type"),
            Self::WrongKind => f.write_str("token is of another kind"),
            Self::WrongIssuer => f.write_str("token `iss` does not match"),
            Self::WrongAudience => f.write_str("token `aud` does not match"),
            Self::MissingClaim(claim) => write!(f, "token has no valid `{claim}` claim"),
            Self::Expired => f.write_str("token has expired"),
            Self::NotYetValid => f.write_str("token is not valid yet"),
        }
    }
}

impl std::error::Error for TokenError {}

/// Why a token could not be minted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum MintError {
    /// No randomness for the token id.
    NoRandomness,
    /// A time outside what a JWT can carry.
    TimeOutOfRange,
    /// The claims did not serialise.
    Serialisation,
    /// Longer than [`MAX_TOKEN_BYTES`] (too many or too long roles).
    TooLarge,
    /// The platform's signer failed.
    Signer,
}

impl fmt::Display for MintError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NoRandomness => "could not mint token: no randomness",
            Self::TimeOutOfRange => "could not mint token: time out of range",
            Self::Serialisation => "could not mint token: claims do not serialise",
            Self::TooLarge => "could not mint token: token too large (too many or too long roles)",
            Self::Signer => "could not mint token: the signer failed",
        })
    }
}

impl std::error::Error for MintError {}
