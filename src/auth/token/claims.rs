//! What edgegate's tokens say: their kinds, claims, issuer and audience, and the limits on them.

use serde::{Deserialize, Serialize};

use crate::auth::names::role::Role;
use crate::auth::names::thumbprint::Thumbprint;
use crate::auth::names::username::Username;

/// Longest token accepted or minted: the access cookie must stay under 4096 bytes with its name.
pub const MAX_TOKEN_BYTES: usize = 3800;
/// Longest an identity assertion may live.
pub const MAX_ASSERTION_TTL: i64 = 60;
/// `typ` of access tokens (RFC 9068).
pub const ACCESS_TYP: &str = "at+jwt";
/// `typ` of identity assertions.
pub const ASSERTION_TYP: &str = "edgegate-assertion+jwt";

/// Which job a token was minted for, carried in the `knd` claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenKind {
    /// The access token in the session cookie, signed with the session key ring.
    Access,
    /// The identity assertion sent to the origin, signed with the assertion key ring.
    Assertion,
}

impl TokenKind {
    /// The `typ` header of this kind.
    pub fn typ(self) -> &'static str {
        match self {
            Self::Access => ACCESS_TYP,
            Self::Assertion => ASSERTION_TYP,
        }
    }
}

/// The claims edgegate puts in both of its tokens, beside `exp`, `nbf` and `iat`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityClaims {
    /// The issuer, `ISSUER`, in both kinds.
    pub iss: String,
    /// `ISSUER` again in access tokens (the edge is their only verifier), `ORIGIN_AUDIENCE` in
    /// assertions.
    pub aud: String,
    /// The user the session belongs to.
    pub sub: Username,
    /// The session the token was minted for.
    pub sid: String,
    /// A random token id: 16 bytes, base64url.
    pub jti: String,
    /// The user's roles at login, as the origin receives them (checked again when read back).
    pub roles: Vec<Role>,
    /// The kind marker, so a token of one kind never passes for another.
    pub knd: TokenKind,
    /// The key the session is bound to (RFC 9449 §6.1), when its client proved one: an access
    /// token that names it is refused without a proof by that key, and the origin learns it
    /// from the assertion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cnf: Option<Confirmation>,
}

/// The `cnf` claim of a key-bound token: the key's thumbprint (`jkt`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confirmation {
    /// The RFC 7638 SHA-256 thumbprint of the client's key.
    pub jkt: Thumbprint,
}

/// Who issues tokens and who they are for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Audience {
    /// The `iss` minted and expected; configured by `ISSUER`.
    pub issuer: String,
    /// The `aud` minted and expected: `ISSUER` for access tokens, `ORIGIN_AUDIENCE` for
    /// assertions.
    pub audience: String,
}

/// The subject a token speaks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject<'a> {
    /// The user, written as `sub`.
    pub user: &'a Username,
    /// The session id, written as `sid`.
    pub session: &'a str,
    /// The roles, written as `roles`; too many or too long ones make minting fail.
    pub roles: &'a [Role],
    /// The key the session is bound to, written as `cnf.jkt`; `None` for a bearer session.
    pub key: Option<&'a Thumbprint>,
}
