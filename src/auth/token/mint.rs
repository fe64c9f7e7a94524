//! Minting edgegate's tokens: the header and claims fixed ([`prepare`]), then signed here or by
//! the platform ([`Unsigned`]).

use chrono::DateTime;
use jwt_compact::{Algorithm, AlgorithmSignature, Claims};
use serde::Serialize;

use super::claims::{
    Audience, Confirmation, IdentityClaims, Subject, TokenKind, MAX_ASSERTION_TTL, MAX_TOKEN_BYTES,
};
use super::error::MintError;
use super::keys::{AssertionKeyRing, KeyRing, SessionKeyRing};
use crate::auth::env::{random_bytes, Entropy, UnixTime};
use crate::auth::secret::{AccessToken, Assertion, Secret};

/// A token whose header and claims are fixed, waiting for its signature. The signature can come
/// from this crate ([`issue`]) or from elsewhere: the worker signs assertions with the platform's
/// WebCrypto, many times faster than Ed25519 compiled to wasm.
#[derive(Debug)]
pub struct Unsigned {
    signing_input: String,
}

impl Unsigned {
    /// The bytes to sign: `base64url(header).base64url(claims)`.
    pub fn signing_input(&self) -> &[u8] {
        self.signing_input.as_bytes()
    }

    /// Signs here, with the ring's first key.
    pub fn sign_with<A: Algorithm, K>(self, ring: &KeyRing<A>) -> Result<Secret<K>, MintError> {
        let signature = ring
            .algorithm()
            .sign(ring.signing_key().key(), self.signing_input());
        self.finish(&signature.as_bytes())
    }

    /// The compact token with `signature` appended.
    pub fn finish<K>(self, signature: &[u8]) -> Result<Secret<K>, MintError> {
        let token = format!(
            "{}.{}",
            self.signing_input,
            crate::auth::names::encoding::b64url(signature)
        );
        if token.len() > MAX_TOKEN_BYTES {
            return Err(MintError::TooLarge);
        }
        Ok(Secret::new(token))
    }
}

#[derive(Serialize)]
struct JoseHeader<'a> {
    alg: &'a str,
    kid: &'a str,
    typ: &'a str,
}

/// Fixes the header and claims of a token of `kind`, to be signed with the ring's first key.
/// Assertions live at most [`MAX_ASSERTION_TTL`] seconds.
pub fn prepare<A: Algorithm>(
    ring: &KeyRing<A>,
    kind: TokenKind,
    audience: &Audience,
    subject: &Subject<'_>,
    now: UnixTime,
    ttl: i64,
    entropy: &dyn Entropy,
) -> Result<Unsigned, MintError> {
    let ttl = match kind {
        TokenKind::Assertion => ttl.clamp(1, MAX_ASSERTION_TTL),
        TokenKind::Access => ttl,
    };
    let jti_bytes: [u8; 16] = random_bytes(entropy).map_err(|_| MintError::NoRandomness)?;
    let at = |secs: UnixTime| DateTime::from_timestamp(secs, 0).ok_or(MintError::TimeOutOfRange);
    let mut claims = Claims::new(IdentityClaims {
        iss: audience.issuer.clone(),
        aud: audience.audience.clone(),
        sub: subject.user.to_owned(),
        sid: subject.session.to_owned(),
        jti: crate::auth::names::encoding::b64url(&jti_bytes),
        roles: subject.roles.to_vec(),
        knd: kind,
        cnf: subject.key.map(|jkt| Confirmation { jkt: jkt.clone() }),
    });
    claims.issued_at = Some(at(now)?);
    claims.not_before = Some(at(now)?);
    claims.expiration = Some(at(now.saturating_add(ttl))?);
    let algorithm = ring.algorithm().name();
    let header = JoseHeader {
        alg: &algorithm,
        kid: ring.signing_key().kid(),
        typ: kind.typ(),
    };
    let encode = |json: Result<Vec<u8>, serde_json::Error>| {
        json.map(|bytes| crate::auth::names::encoding::b64url(&bytes))
            .map_err(|_| MintError::Serialisation)
    };
    let signing_input = format!(
        "{}.{}",
        encode(serde_json::to_vec(&header))?,
        encode(serde_json::to_vec(&claims))?
    );
    Ok(Unsigned { signing_input })
}

/// Mints a token of `kind`, signed here with the ring's first key.
pub fn issue<A: Algorithm, K>(
    ring: &KeyRing<A>,
    kind: TokenKind,
    audience: &Audience,
    subject: &Subject<'_>,
    now: UnixTime,
    ttl: i64,
    entropy: &dyn Entropy,
) -> Result<Secret<K>, MintError> {
    prepare(ring, kind, audience, subject, now, ttl, entropy)?.sign_with(ring)
}

/// Mints an access token for the session cookie.
pub fn issue_access(
    ring: &SessionKeyRing,
    audience: &Audience,
    subject: &Subject<'_>,
    now: UnixTime,
    ttl: i64,
    entropy: &dyn Entropy,
) -> Result<AccessToken, MintError> {
    issue(
        ring,
        TokenKind::Access,
        audience,
        subject,
        now,
        ttl,
        entropy,
    )
}

/// Mints the identity assertion forwarded to the origin.
pub fn issue_assertion(
    ring: &AssertionKeyRing,
    audience: &Audience,
    subject: &Subject<'_>,
    now: UnixTime,
    ttl: i64,
    entropy: &dyn Entropy,
) -> Result<Assertion, MintError> {
    issue(
        ring,
        TokenKind::Assertion,
        audience,
        subject,
        now,
        ttl,
        entropy,
    )
}
