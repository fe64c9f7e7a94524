//! Validation of edgegate's own tokens: the JWS layer, then the claims, into the typed proofs
//! [`Validated`] and [`VerifiedAccess`] that only this module makes.

use chrono::{DateTime, Utc};
use jwt_compact::alg::SigningKey;
use jwt_compact::Algorithm;

use super::claims::{Audience, IdentityClaims, TokenKind};
use super::error::TokenError;
use super::jws::{verify_jws, VerifiedJws};
use super::keys::{AssertionKeyRing, KeyRing, SessionKeyRing};
use super::validity::{validity, TimeError};
use crate::auth::env::UnixTime;
use crate::auth::names::role::Role;
use crate::auth::names::session_id::SessionId;
use crate::auth::names::thumbprint::Thumbprint;
use crate::auth::names::username::Username;

/// What validation checks beyond the signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expectation<'a> {
    /// The issuer and audience the claims must name.
    pub audience: &'a Audience,
    /// The kind the token must be, in `typ` and in `knd`.
    pub kind: TokenKind,
    /// Seconds of clock skew tolerated on `exp` and `nbf`.
    pub leeway: i64,
    /// The time to check `exp` and `nbf` against, in Unix seconds.
    pub now: UnixTime,
}

/// A token whose signature and claims all checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Validated {
    claims: IdentityClaims,
    issued_at: UnixTime,
    expires_at: UnixTime,
}

impl Validated {
    /// The user the token speaks for (`sub`).
    pub fn user(&self) -> &Username {
        &self.claims.sub
    }

    /// The session id from `sid`, not yet parsed; [`VerifiedAccess::session`] has it checked.
    pub fn session(&self) -> &str {
        &self.claims.sid
    }

    /// The roles the token carries, as they were at login.
    pub fn roles(&self) -> &[Role] {
        &self.claims.roles
    }

    /// The key the token is bound to (`cnf.jkt`), if any.
    pub fn key(&self) -> Option<&Thumbprint> {
        self.claims.cnf.as_ref().map(|cnf| &cnf.jkt)
    }

    /// The token's unique id (`jti`).
    pub fn token_id(&self) -> &str {
        &self.claims.jti
    }

    /// When the token was minted (`iat`), in Unix seconds.
    pub fn issued_at(&self) -> UnixTime {
        self.issued_at
    }

    /// When the token expires (`exp`), in Unix seconds, before any leeway.
    pub fn expires_at(&self) -> UnixTime {
        self.expires_at
    }

    /// All the identity claims, as signed.
    pub fn claims(&self) -> &IdentityClaims {
        &self.claims
    }
}

/// An access token that passed every check; the only proof of a session the worker accepts.
/// Only [`validate_access`] makes one, so holding one means the token was verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedAccess {
    claims: Validated,
    session: SessionId,
}

impl VerifiedAccess {
    /// The session the token was minted for, checked to be a session id.
    pub fn session(&self) -> &SessionId {
        &self.session
    }
}

impl core::ops::Deref for VerifiedAccess {
    type Target = Validated;

    fn deref(&self) -> &Validated {
        &self.claims
    }
}

fn timestamp(moment: Option<DateTime<Utc>>, claim: &'static str) -> Result<UnixTime, TokenError> {
    moment
        .map(|moment| moment.timestamp())
        .ok_or(TokenError::MissingClaim(claim))
}

/// Checks the claims of a verified JWS against `expect`.
pub fn check_claims(
    jws: &VerifiedJws<'_>,
    expect: &Expectation<'_>,
) -> Result<Validated, TokenError> {
    if jws.token_type() != Some(expect.kind.typ()) {
        return Err(TokenError::WrongType);
    }
    let claims = jws.claims::<IdentityClaims>()?;
    let custom = claims.custom;
    if custom.knd != expect.kind {
        return Err(TokenError::WrongKind);
    }
    if custom.iss != expect.audience.issuer {
        return Err(TokenError::WrongIssuer);
    }
    if custom.aud != expect.audience.audience {
        return Err(TokenError::WrongAudience);
    }
    let expires_at = timestamp(claims.expiration, "exp")?;
    let not_before = timestamp(claims.not_before, "nbf")?;
    let issued_at = timestamp(claims.issued_at, "iat")?;
    match validity(
        expect.now,
        Some(expires_at),
        Some(not_before),
        expect.leeway,
    ) {
        Ok(()) => {}
        Err(TimeError::Expired) => return Err(TokenError::Expired),
        Err(TimeError::NotYetValid) => return Err(TokenError::NotYetValid),
    }
    Ok(Validated {
        claims: custom,
        issued_at,
        expires_at,
    })
}

/// Validates a token of `kind` against `ring`: the JWS layer, then the claims.
pub fn validate<A>(
    ring: &KeyRing<A>,
    kind: TokenKind,
    token: &str,
    audience: &Audience,
    leeway: i64,
    now: UnixTime,
) -> Result<Validated, TokenError>
where
    A: Algorithm,
    A::SigningKey: SigningKey<A>,
{
    let jws = verify_jws(ring, token)?;
    let expect = Expectation {
        audience,
        kind,
        leeway,
        now,
    };
    check_claims(&jws, &expect)
}

/// Validates an access token from the session cookie.
pub fn validate_access(
    ring: &SessionKeyRing,
    token: &str,
    audience: &Audience,
    leeway: i64,
    now: UnixTime,
) -> Result<VerifiedAccess, TokenError> {
    let claims = validate(ring, TokenKind::Access, token, audience, leeway, now)?;
    let session = SessionId::parse(claims.session()).ok_or(TokenError::MissingClaim("sid"))?;
    Ok(VerifiedAccess { claims, session })
}

/// Validates an identity assertion; the origin does this with its own JOSE library, edgegate
/// only in tests and tools.
pub fn validate_assertion(
    ring: &AssertionKeyRing,
    token: &str,
    audience: &Audience,
    leeway: i64,
    now: UnixTime,
) -> Result<Validated, TokenError> {
    validate(ring, TokenKind::Assertion, token, audience, leeway, now)
}
