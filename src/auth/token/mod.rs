//! Signed tokens: the access token in the session cookie and the identity assertion for the
//! origin.
//!
//! An incoming token is a `&str` and stays untrusted until [`validate_access`] returns a
//! [`VerifiedAccess`], the only way to obtain one; the worker can act on nothing else.
//! Validation follows RFC 8725: the `kid` is looked up only in the configured ring, the signature
//! is checked with the algorithm that ring fixes (the header never chooses it, so `none` and
//! HS256-with-a-public-key cannot work), the header `alg` must then name that same algorithm, any
//! `crit` header is refused (we understand no extensions), `jku`/`x5u`/`jwk` are ignored, and the
//! claims are checked exactly: `iss`, `aud`, `typ`, the kind marker, `exp` and `nbf` with a small
//! leeway. Kinds differ in `typ`, in the `knd` claim and in key ring, so an assertion or a token
//! of some future kind never validates as an access token (RFC 8725 §3.11-3.12).

pub mod keys;

use crate::auth::names::role::Role;
use crate::auth::names::username::Username;
use core::fmt;

use chrono::{DateTime, Utc};
use jwt_compact::alg::SigningKey;
use jwt_compact::{Algorithm, AlgorithmSignature, Claims, UntrustedToken};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::auth::env::{random_bytes, Entropy, UnixTime};
use crate::auth::names::session_id::SessionId;
use crate::auth::secret::{AccessToken, Assertion, Secret};
use crate::auth::token::keys::{is_valid_kid, AssertionKeyRing, KeyRing, SessionKeyRing};

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
}

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
    /// Minting failed: randomness unavailable or the token would be too large.
    Mint(&'static str),
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
            Self::Mint(why) => write!(f, "could not mint token: {why}"),
        }
    }
}

impl std::error::Error for TokenError {}

/// A compact JWS whose signature verified against a key of the ring, with the algorithm the ring
/// fixes. Its claims are not checked yet.
#[derive(Debug)]
pub struct VerifiedJws<'a> {
    token: UntrustedToken<'a, Map<String, Value>>,
}

impl VerifiedJws<'_> {
    /// The `typ` header; `None` if the token has none.
    pub fn token_type(&self) -> Option<&str> {
        self.token.header().token_type.as_deref()
    }

    /// The `kid` header, which named the key the signature verified with.
    pub fn kid(&self) -> Option<&str> {
        self.token.header().key_id.as_deref()
    }

    /// The claims, deserialised; only meaningful because the signature verified.
    pub fn claims<T: serde::de::DeserializeOwned>(&self) -> Result<Claims<T>, TokenError> {
        self.token
            .deserialize_claims_unchecked()
            .map_err(|_| TokenError::Malformed)
    }
}

/// Verifies the JWS layer of `token` against `ring`: size, structure, `crit`, `kid`, signature,
/// then `alg`.
pub fn verify_jws<'a, A>(ring: &KeyRing<A>, token: &'a str) -> Result<VerifiedJws<'a>, TokenError>
where
    A: Algorithm,
    A::SigningKey: SigningKey<A>,
{
    if token.len() > MAX_TOKEN_BYTES {
        return Err(TokenError::TooLarge);
    }
    let untrusted =
        UntrustedToken::<Map<String, Value>>::try_from(token).map_err(|_| TokenError::Malformed)?;
    if untrusted.header().other_fields.contains_key("crit") {
        return Err(TokenError::CriticalHeader);
    }
    let kid = untrusted
        .header()
        .key_id
        .as_deref()
        .ok_or(TokenError::MissingKid)?;
    if !is_valid_kid(kid) {
        return Err(TokenError::UnknownKey);
    }
    let key = ring.find(kid).ok_or(TokenError::UnknownKey)?;

    let signature_bytes = untrusted.signature_bytes();
    if A::Signature::LENGTH.is_some_and(|len| len.get() != signature_bytes.len()) {
        return Err(TokenError::BadSignature);
    }
    let signature =
        A::Signature::try_from_slice(signature_bytes).map_err(|_| TokenError::BadSignature)?;
    let signed_input = token.rsplit_once('.').ok_or(TokenError::Malformed)?.0;
    let verifying_key = key.key().to_verifying_key();
    if !ring
        .algorithm()
        .verify_signature(&signature, &verifying_key, signed_input.as_bytes())
    {
        return Err(TokenError::BadSignature);
    }
    if untrusted.algorithm() != ring.algorithm().name() {
        return Err(TokenError::AlgorithmNotAllowed);
    }
    Ok(VerifiedJws { token: untrusted })
}

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
    if expect.now > expires_at.saturating_add(expect.leeway) {
        return Err(TokenError::Expired);
    }
    if expect.now < not_before.saturating_sub(expect.leeway) {
        return Err(TokenError::NotYetValid);
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
    pub fn sign_with<A: Algorithm, K>(self, ring: &KeyRing<A>) -> Result<Secret<K>, TokenError> {
        let signature = ring
            .algorithm()
            .sign(ring.signing_key().key(), self.signing_input());
        self.finish(&signature.as_bytes())
    }

    /// The compact token with `signature` appended.
    pub fn finish<K>(self, signature: &[u8]) -> Result<Secret<K>, TokenError> {
        let token = format!(
            "{}.{}",
            self.signing_input,
            crate::auth::names::encoding::b64url(signature)
        );
        if token.len() > MAX_TOKEN_BYTES {
            return Err(TokenError::Mint(
                "token too large (too many or too long roles)",
            ));
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
) -> Result<Unsigned, TokenError> {
    let ttl = match kind {
        TokenKind::Assertion => ttl.clamp(1, MAX_ASSERTION_TTL),
        TokenKind::Access => ttl,
    };
    let jti_bytes: [u8; 16] =
        random_bytes(entropy).map_err(|_| TokenError::Mint("no randomness"))?;
    let at = |secs: UnixTime| {
        DateTime::from_timestamp(secs, 0).ok_or(TokenError::Mint("time out of range"))
    };
    let mut claims = Claims::new(IdentityClaims {
        iss: audience.issuer.clone(),
        aud: audience.audience.clone(),
        sub: subject.user.to_owned(),
        sid: subject.session.to_owned(),
        jti: crate::auth::names::encoding::b64url(&jti_bytes),
        roles: subject.roles.to_vec(),
        knd: kind,
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
            .map_err(|_| TokenError::Mint("claims do not serialise"))
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
) -> Result<Secret<K>, TokenError> {
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
) -> Result<AccessToken, TokenError> {
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
) -> Result<Assertion, TokenError> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::env::testing::SeededEntropy;
    use crate::auth::names::encoding::b64url;
    use crate::auth::names::role::testing::roles as role_list;
    use crate::auth::names::role::MAX_ROLE_LEN;
    use crate::auth::names::username::testing::named;
    use jwt_compact::alg::{Hs256, Hs256Key};

    const SESSION: &str = "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
    const SESSION_OLD: &str = "k0:ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8";
    const ASSERTION: &str = "a1:QEFCQ0RFRkdISUpLTE1OT1BRUlNUVVZXWFlaW1xdXl8";
    const NOW: UnixTime = 1_800_000_000;

    fn audience() -> Audience {
        Audience {
            issuer: "https://edge.example".into(),
            audience: "https://edge.example".into(),
        }
    }

    fn roles() -> Vec<Role> {
        role_list(&["admin", "staff"])
    }

    fn access_token(ring: &SessionKeyRing, now: UnixTime, ttl: i64) -> String {
        let roles = roles();
        let subject = Subject {
            user: &named("alice"),
            session: "c2Vzc2lvbi1pZC0xNmJ5dA",
            roles: &roles,
        };
        issue_access(
            ring,
            &audience(),
            &subject,
            now,
            ttl,
            &SeededEntropy::default(),
        )
        .unwrap()
        .into_inner()
    }

    fn validate(
        ring: &SessionKeyRing,
        token: &str,
        now: UnixTime,
    ) -> Result<VerifiedAccess, TokenError> {
        validate_access(ring, token, &audience(), 30, now)
    }

    /// Signs arbitrary header and payload JSON with HS256 and the given key.
    fn forge(header: &str, payload: &str, key: &[u8]) -> String {
        let input = format!(
            "{}.{}",
            b64url(header.as_bytes()),
            b64url(payload.as_bytes())
        );
        let signature = Hs256.sign(&Hs256Key::new(key), input.as_bytes());
        format!("{input}.{}", b64url(&signature.as_bytes()))
    }

    fn payload(now: UnixTime, extra: &str) -> String {
        format!(
            r#"{{"iss":"https://edge.example","aud":"https://edge.example","sub":"mallory","sid":"c2Vzc2lvbi1pZC0xNmJ5dA","jti":"j","roles":[],"knd":"access","iat":{now},"nbf":{now},"exp":{}{extra}}}"#,
            now + 300
        )
    }

    fn key_bytes() -> Vec<u8> {
        (0u8..32).collect()
    }

    #[test]
    fn round_trip_access_token() {
        let ring = SessionKeyRing::parse(SESSION).unwrap();
        let token = access_token(&ring, NOW, 300);
        let verified = validate(&ring, &token, NOW + 10).unwrap();
        assert_eq!(verified.user(), "alice");
        assert_eq!(verified.session().as_str(), "c2Vzc2lvbi1pZC0xNmJ5dA");
        assert_eq!(verified.roles(), roles());
        assert_eq!(verified.expires_at(), NOW + 300);
        assert_eq!(verified.issued_at(), NOW);
        assert!(!verified.token_id().is_empty());
    }

    #[test]
    fn forged_payload_validates_only_with_the_real_key() {
        let ring = SessionKeyRing::parse(SESSION).unwrap();
        let good = forge(
            r#"{"alg":"HS256","kid":"k1","typ":"at+jwt"}"#,
            &payload(NOW, ""),
            &key_bytes(),
        );
        assert!(
            validate(&ring, &good, NOW).is_ok(),
            "the forge helper must be faithful"
        );
        let wrong_key = forge(
            r#"{"alg":"HS256","kid":"k1","typ":"at+jwt"}"#,
            &payload(NOW, ""),
            &[7; 32],
        );
        assert_eq!(
            validate(&ring, &wrong_key, NOW).unwrap_err(),
            TokenError::BadSignature
        );
    }

    #[test]
    fn a_signed_token_with_a_role_no_policy_could_name_is_refused() {
        let ring = SessionKeyRing::parse(SESSION).unwrap();
        let signed = |roles: &str| {
            let body = payload(NOW, "").replace(r#""roles":[]"#, &format!(r#""roles":{roles}"#));
            forge(
                r#"{"alg":"HS256","kid":"k1","typ":"at+jwt"}"#,
                &body,
                &key_bytes(),
            )
        };
        let good = validate(&ring, &signed(r#"["admin","billing:read"]"#), NOW).unwrap();
        assert_eq!(good.roles(), role_list(&["admin", "billing:read"]));
        for bad in [
            r#"["admin,root"]"#,
            r#"[""]"#,
            r#"["a b"]"#,
            r#"["x\r\ny"]"#,
        ] {
            assert_eq!(
                validate(&ring, &signed(bad), NOW).unwrap_err(),
                TokenError::Malformed,
                "{bad}"
            );
        }
    }

    #[test]
    fn header_attacks_are_refused() {
        let ring = SessionKeyRing::parse(SESSION).unwrap();
        let body = payload(NOW, "");
        let cases: &[(&str, TokenError)] = &[
            (
                r#"{"alg":"HS256","kid":"k1","typ":"at+jwt","crit":["exp"]}"#,
                TokenError::CriticalHeader,
            ),
            (
                r#"{"alg":"HS256","kid":"k1","typ":"at+jwt","crit":null}"#,
                TokenError::CriticalHeader,
            ),
            (r#"{"alg":"HS256","typ":"at+jwt"}"#, TokenError::MissingKid),
            (
                r#"{"alg":"HS256","kid":"../../k1","typ":"at+jwt"}"#,
                TokenError::UnknownKey,
            ),
            (
                r#"{"alg":"HS256","kid":"k1' OR '1'='1","typ":"at+jwt"}"#,
                TokenError::UnknownKey,
            ),
            (
                r#"{"alg":"HS256","kid":"k2","typ":"at+jwt"}"#,
                TokenError::UnknownKey,
            ),
            (
                r#"{"alg":"HS512","kid":"k1","typ":"at+jwt"}"#,
                TokenError::AlgorithmNotAllowed,
            ),
            (
                r#"{"alg":"hs256","kid":"k1","typ":"at+jwt"}"#,
                TokenError::AlgorithmNotAllowed,
            ),
            (
                r#"{"alg":"HS256","kid":"k1","typ":"JWT"}"#,
                TokenError::WrongType,
            ),
            (r#"{"alg":"HS256","kid":"k1"}"#, TokenError::WrongType),
        ];
        for (header, expected) in cases {
            let token = forge(header, &body, &key_bytes());
            assert_eq!(
                &validate(&ring, &token, NOW).unwrap_err(),
                expected,
                "{header}"
            );
        }
    }

    #[test]
    fn alg_none_in_every_casing_is_refused() {
        let ring = SessionKeyRing::parse(SESSION).unwrap();
        for alg in ["none", "None", "NONE", "nOnE"] {
            let header = format!(r#"{{"alg":"{alg}","kid":"k1","typ":"at+jwt"}}"#);
            let unsigned = format!(
                "{}.{}.",
                b64url(header.as_bytes()),
                b64url(payload(NOW, "").as_bytes())
            );
            assert_eq!(
                validate(&ring, &unsigned, NOW).unwrap_err(),
                TokenError::BadSignature,
                "{alg}"
            );
        }
    }

    #[test]
    fn embedded_keys_and_key_urls_are_ignored() {
        let ring = SessionKeyRing::parse(SESSION).unwrap();
        let attacker_key = [9u8; 32];
        let header = format!(
            r#"{{"alg":"HS256","kid":"k1","typ":"at+jwt","jku":"https://evil.example/jwks","x5u":"https://evil.example/c","jwk":{{"kty":"oct","k":"{}"}}}}"#,
            b64url(&attacker_key)
        );
        let token = forge(&header, &payload(NOW, ""), &attacker_key);
        assert_eq!(
            validate(&ring, &token, NOW).unwrap_err(),
            TokenError::BadSignature
        );
    }

    #[test]
    fn claim_mismatches_are_refused() {
        let ring = SessionKeyRing::parse(SESSION).unwrap();
        let header = r#"{"alg":"HS256","kid":"k1","typ":"at+jwt"}"#;
        let swap =
            |from: &str, to: &str| forge(header, &payload(NOW, "").replace(from, to), &key_bytes());
        let cases = [
            (
                swap(
                    r#""iss":"https://edge.example""#,
                    r#""iss":"https://evil.example""#,
                ),
                TokenError::WrongIssuer,
            ),
            (
                swap(r#""aud":"https://edge.example""#, r#""aud":"other""#),
                TokenError::WrongAudience,
            ),
            (
                swap(
                    r#""aud":"https://edge.example""#,
                    r#""aud":["https://edge.example"]"#,
                ),
                TokenError::Malformed,
            ),
            (
                swap(r#""knd":"access""#, r#""knd":"assertion""#),
                TokenError::WrongKind,
            ),
            (
                swap(r#""knd":"access""#, r#""knd":"refresh""#),
                TokenError::Malformed,
            ),
            (
                swap(&format!(r#","exp":{}"#, NOW + 300), ""),
                TokenError::MissingClaim("exp"),
            ),
            (
                swap(&format!(r#","nbf":{NOW}"#), ""),
                TokenError::MissingClaim("nbf"),
            ),
            (
                swap(&format!(r#""iat":{NOW}"#), r#""iat":"yesterday""#),
                TokenError::Malformed,
            ),
        ];
        for (token, expected) in cases {
            assert_eq!(validate(&ring, &token, NOW).unwrap_err(), expected);
        }
    }

    #[test]
    fn expiry_and_maturity_respect_the_leeway_exactly() {
        let ring = SessionKeyRing::parse(SESSION).unwrap();
        let token = access_token(&ring, NOW, 300);
        assert!(validate(&ring, &token, NOW + 300 + 30).is_ok());
        assert_eq!(
            validate(&ring, &token, NOW + 300 + 31).unwrap_err(),
            TokenError::Expired
        );
        assert!(validate(&ring, &token, NOW - 30).is_ok());
        assert_eq!(
            validate(&ring, &token, NOW - 31).unwrap_err(),
            TokenError::NotYetValid
        );
    }

    #[test]
    fn rotation_keeps_old_tokens_valid_and_signs_with_the_new_key() {
        let old_ring = SessionKeyRing::parse(SESSION_OLD).unwrap();
        let old_token = access_token(&old_ring, NOW, 300);
        let rotated = SessionKeyRing::parse(&format!("{SESSION},{SESSION_OLD}")).unwrap();
        assert!(validate(&rotated, &old_token, NOW).is_ok());
        let new_token = access_token(&rotated, NOW, 300);
        let jws = verify_jws(&rotated, &new_token).unwrap();
        assert_eq!(jws.kid(), Some("k1"));
        let retired = SessionKeyRing::parse(SESSION).unwrap();
        assert_eq!(
            validate(&retired, &old_token, NOW).unwrap_err(),
            TokenError::UnknownKey
        );
    }

    #[test]
    fn malformed_and_oversized_tokens_are_refused() {
        let ring = SessionKeyRing::parse(SESSION).unwrap();
        let good = access_token(&ring, NOW, 300);
        let huge = format!("{good}{}", "A".repeat(MAX_TOKEN_BYTES));
        let cases = [
            (String::new(), TokenError::Malformed),
            ("a.b".into(), TokenError::Malformed),
            (format!("{good}.extra"), TokenError::Malformed),
            (good.replacen('.', ".!", 1), TokenError::Malformed),
            (format!("{good}="), TokenError::Malformed),
            ("\u{fffd}.\u{0}.x".into(), TokenError::Malformed),
            (huge, TokenError::TooLarge),
            (
                format!("{}.", &good[..good.rfind('.').unwrap()]),
                TokenError::BadSignature,
            ),
        ];
        for (token, expected) in cases {
            assert_eq!(
                validate(&ring, &token, NOW).unwrap_err(),
                expected,
                "{token:.40}"
            );
        }
    }

    #[test]
    fn assertions_are_ed25519_short_lived_and_never_access_tokens() {
        let assertion_ring = AssertionKeyRing::parse(ASSERTION).unwrap();
        let audience = Audience {
            issuer: "https://edge.example".into(),
            audience: "origin".into(),
        };
        let roles = roles();
        let subject = Subject {
            user: &named("alice"),
            session: "c2Vzc2lvbi1pZC0xNmJ5dA",
            roles: &roles,
        };
        let token = issue_assertion(
            &assertion_ring,
            &audience,
            &subject,
            NOW,
            3600,
            &SeededEntropy::default(),
        )
        .unwrap()
        .into_inner();
        let verified = validate_assertion(&assertion_ring, &token, &audience, 0, NOW).unwrap();
        assert_eq!(
            verified.expires_at() - verified.issued_at(),
            MAX_ASSERTION_TTL
        );
        let header = verify_jws(&assertion_ring, &token).unwrap();
        assert_eq!(header.token_type(), Some(ASSERTION_TYP));
        // An assertion presented as an access token fails: other ring, other kind.
        let session_ring =
            SessionKeyRing::parse("a1:QEFCQ0RFRkdISUpLTE1OT1BRUlNUVVZXWFlaW1xdXl8").unwrap();
        assert!(validate(&session_ring, &token, NOW).is_err());
    }

    #[test]
    fn hs256_signed_with_the_public_assertion_key_is_refused() {
        // Algorithm confusion: the attacker knows the Ed25519 public key from the JWKS and signs
        // an HS256 token with it, naming the assertion kid.
        let assertion_ring = AssertionKeyRing::parse(ASSERTION).unwrap();
        let jwks = assertion_ring.jwks();
        let public =
            crate::auth::names::encoding::b64url_decode(jwks["keys"][0]["x"].as_str().unwrap())
                .unwrap();
        let audience = Audience {
            issuer: "https://edge.example".into(),
            audience: "origin".into(),
        };
        let body = payload(NOW, "")
            .replace(r#""knd":"access""#, r#""knd":"assertion""#)
            .replace(r#""aud":"https://edge.example""#, r#""aud":"origin""#);
        let token = forge(
            r#"{"alg":"HS256","kid":"a1","typ":"edgegate-assertion+jwt"}"#,
            &body,
            &public,
        );
        assert_eq!(
            validate_assertion(&assertion_ring, &token, &audience, 0, NOW).unwrap_err(),
            TokenError::BadSignature
        );
    }

    #[test]
    fn minting_fails_closed() {
        let ring = SessionKeyRing::parse(SESSION).unwrap();
        let long = "r".repeat(MAX_ROLE_LEN);
        let roles = vec![Role::parse(&long).unwrap(); 60];
        let subject = Subject {
            user: &named("alice"),
            session: "s",
            roles: &roles,
        };
        let too_big = issue_access(
            &ring,
            &audience(),
            &subject,
            NOW,
            300,
            &SeededEntropy::default(),
        );
        assert!(matches!(too_big, Err(TokenError::Mint(_))));
        let no_rng = issue_access(
            &ring,
            &audience(),
            &subject,
            NOW,
            300,
            &crate::auth::env::testing::BrokenEntropy,
        );
        assert_eq!(no_rng.unwrap_err(), TokenError::Mint("no randomness"));
    }

    #[test]
    fn rfc7515_appendix_a1_example_verifies_but_is_not_an_access_token() {
        // RFC 7515 A.1: HS256 example, key from A.1 (JWK "k"); no `kid`, so our ring refuses it.
        let token = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let key = crate::auth::names::encoding::b64url_decode(
            "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow",
        )
        .unwrap();
        let ring = SessionKeyRing::from_raw("rfc", &key).unwrap();
        assert_eq!(
            verify_jws(&ring, token).unwrap_err(),
            TokenError::MissingKid
        );
        // Re-signed with a kid (same claims), the JWS layer accepts it and the claims layer
        // refuses it: wrong type and not our claim set.
        let with_kid = forge(
            r#"{"typ":"JWT","alg":"HS256","kid":"rfc"}"#,
            r#"{"iss":"joe","exp":1300819380,"http://example.com/is_root":true}"#,
            &key,
        );
        let jws = verify_jws(&ring, &with_kid).unwrap();
        let claims = jws.claims::<Value>().unwrap();
        assert_eq!(claims.expiration.unwrap().timestamp(), 1_300_819_380);
        assert_eq!(
            validate(&ring, &with_kid, 1_300_819_000).unwrap_err(),
            TokenError::WrongType
        );
    }
}
