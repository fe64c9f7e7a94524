//! Tokens a provider signs: the ID token of a sign-in and the logout token of a back-channel
//! logout, validated as OpenID Connect Core 3.1.3.7 and Back-Channel Logout 1.0 §2.6 require.
//!
//! A token arrives as text and stays untrusted until [`validate_id_token`] returns a
//! [`VerifiedIdToken`] (or `validate_logout_token` a `VerifiedLogout`), the only ways to get one.
//! The JWS layer is the same for both: size first (before any parsing), no `crit`, an `alg` of
//! RS256 or ES256 (so `none` and HMAC with the client secret fail), a `kid` found in the
//! provider's key set whose key fixes that same algorithm, then the signature. Only then are the
//! claims read.

use core::fmt;

use serde_json::{Map, Value};

use crate::auth::env::UnixTime;
use crate::auth::secret::ct_eq;
use crate::auth::token::jws::{read_compact, StructureError};
use crate::auth::token::public_keys::{PublicAlg, PublicKeys, SignatureCheck};
use crate::auth::token::validity::{validity, TimeError};

/// Longest provider token accepted; refused before it is parsed. ID tokens with many groups run
/// to a few kilobytes.
pub const MAX_PROVIDER_TOKEN_BYTES: usize = 16 * 1024;
/// Clock difference tolerated on `exp` and `iat`.
pub const PROVIDER_LEEWAY: i64 = 60;
/// An ID token issued longer ago than this is refused: it belongs to another sign-in.
pub const MAX_ID_TOKEN_AGE: i64 = 600;

/// Why a provider token was refused. The message is for logs and the login page's detail.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProviderTokenError {
    /// Longer than [`MAX_PROVIDER_TOKEN_BYTES`].
    TooLarge,
    /// Not a compact JWS with a JSON header and claims.
    Malformed,
    /// The header has `crit`, whose extensions we cannot honour.
    CriticalHeader,
    /// `none`, HMAC or another algorithm than RS256 and ES256.
    AlgorithmNotAllowed(String),
    /// The header has no `kid`, so no key of the provider can be chosen.
    MissingKid,
    /// No key of the provider has this `kid` (the caller may refetch the key set once).
    UnknownKey(String),
    /// The key named by `kid` is for another algorithm than the header's.
    KeyAlgorithmMismatch,
    /// The signature does not verify with the provider's key.
    BadSignature,
    /// `iss` is not exactly the configured issuer.
    WrongIssuer,
    /// Our client id is not among `aud`.
    WrongAudience,
    /// `aud` names an audience besides our client id, which this edge does not trust (Core
    /// 3.1.3.7 step 3: refused rather than judged).
    UntrustedAudience,
    /// `azp` is present (or needed, with several audiences) and is not our client id.
    WrongAuthorizedParty,
    /// `exp` is past, beyond [`PROVIDER_LEEWAY`].
    Expired,
    /// `nbf` is ahead, beyond [`PROVIDER_LEEWAY`] (RFC 7519 §4.1.5).
    NotYetValid,
    /// `iat` is later than now, beyond [`PROVIDER_LEEWAY`].
    IssuedInFuture,
    /// `iat` is more than [`MAX_ID_TOKEN_AGE`] ago, beyond [`PROVIDER_LEEWAY`].
    TooOld,
    /// A required claim is absent or empty; names it.
    MissingClaim(&'static str),
    /// `nonce` is not the one this sign-in sent.
    WrongNonce,
    /// The header's `typ` is not one for this kind of token.
    WrongType,
    /// A logout token without the back-channel logout event.
    NotALogoutEvent,
    /// A logout token must not carry a `nonce`.
    NonceInLogoutToken,
}

impl fmt::Display for ProviderTokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLarge => f.write_str("the token is larger than any real one"),
            Self::Malformed => f.write_str("the token is not a well-formed signed JWT"),
            Self::CriticalHeader => f.write_str("the token has a `crit` header we do not support"),
            Self::AlgorithmNotAllowed(alg) => {
                write!(
                    f,
                    "the token's algorithm `{alg}` is not accepted (RS256 or ES256 only)"
                )
            }
            Self::MissingKid => f.write_str("the token names no key (`kid`)"),
            Self::UnknownKey(kid) => write!(f, "the provider has no key `{kid}`"),
            Self::KeyAlgorithmMismatch => {
                f.write_str("the token's algorithm does not match its key")
            }
            Self::BadSignature => f.write_str("the token's signature does not verify"),
            Self::WrongIssuer => f.write_str("the token was issued by another issuer"),
            Self::WrongAudience => f.write_str("the token is not for this client"),
            Self::UntrustedAudience => f.write_str("the token is also for another audience"),
            Self::WrongAuthorizedParty => f.write_str("the token's `azp` is not this client"),
            Self::Expired => f.write_str("the token has expired"),
            Self::NotYetValid => f.write_str("the token is not valid yet (`nbf`)"),
            Self::IssuedInFuture => f.write_str("the token is issued in the future"),
            Self::TooOld => f.write_str("the token was issued too long ago"),
            Self::MissingClaim(claim) => write!(f, "the token has no `{claim}` claim"),
            Self::WrongNonce => f.write_str("the token's nonce is not this sign-in's"),
            Self::WrongType => f.write_str("the token is of another type"),
            Self::NotALogoutEvent => f.write_str("the token carries no back-channel logout event"),
            Self::NonceInLogoutToken => f.write_str("a logout token must not carry a nonce"),
        }
    }
}

impl std::error::Error for ProviderTokenError {}

impl From<StructureError> for ProviderTokenError {
    fn from(err: StructureError) -> Self {
        match err {
            StructureError::TooLarge => Self::TooLarge,
            StructureError::Malformed => Self::Malformed,
            StructureError::CriticalHeader => Self::CriticalHeader,
            StructureError::MissingKid => Self::MissingKid,
        }
    }
}

/// The claims of a provider token whose signature verified; not yet checked.
#[derive(Debug)]
pub(super) struct SignedClaims {
    pub typ: Option<String>,
    pub claims: Map<String, Value>,
}

/// The JWS layer: size, structure, `crit`, `alg`, `kid`, key, signature.
pub(super) async fn verify_signature(
    check: &impl SignatureCheck,
    keys: &PublicKeys,
    token: &str,
) -> Result<SignedClaims, ProviderTokenError> {
    let compact = read_compact(token, MAX_PROVIDER_TOKEN_BYTES)?;
    let untrusted = &compact.token;
    let alg = PublicAlg::from_name(untrusted.algorithm())
        .ok_or_else(|| ProviderTokenError::AlgorithmNotAllowed(untrusted.algorithm().into()))?;
    let kid = compact.kid();
    let key = keys
        .find(kid)
        .ok_or_else(|| ProviderTokenError::UnknownKey(kid.chars().take(64).collect()))?;
    if key.alg() != alg {
        return Err(ProviderTokenError::KeyAlgorithmMismatch);
    }
    if !check
        .verifies(
            key,
            compact.signed_input.as_bytes(),
            untrusted.signature_bytes(),
        )
        .await
    {
        return Err(ProviderTokenError::BadSignature);
    }
    let claims = untrusted
        .deserialize_claims_unchecked::<Map<String, Value>>()
        .map_err(|_| ProviderTokenError::Malformed)?;
    // `exp`, `nbf` and `iat` are read by jwt-compact into its own fields; put them back so the
    // checks below read every claim in one place.
    let mut map = claims.custom;
    let mut put = |name: &str, at: Option<chrono::DateTime<chrono::Utc>>| {
        if let Some(at) = at {
            map.insert(name.to_owned(), Value::from(at.timestamp()));
        }
    };
    put("exp", claims.expiration);
    put("iat", claims.issued_at);
    put("nbf", claims.not_before);
    Ok(SignedClaims {
        typ: untrusted.header().token_type.clone(),
        claims: map,
    })
}

/// What the claims of a provider token must say.
#[derive(Debug, Clone, Copy)]
pub struct ProviderExpectation<'a> {
    /// The issuer as configured: `iss` must be exactly this.
    pub issuer: &'a str,
    /// Our client id: it must be among `aud`.
    pub client_id: &'a str,
    /// The time the token is checked at (Unix seconds).
    pub now: UnixTime,
}

impl SignedClaims {
    pub(super) fn text(&self, name: &'static str) -> Option<&str> {
        self.claims.get(name).and_then(Value::as_str)
    }

    fn required_text(&self, name: &'static str) -> Result<&str, ProviderTokenError> {
        self.text(name)
            .filter(|value| !value.is_empty())
            .ok_or(ProviderTokenError::MissingClaim(name))
    }

    pub(super) fn time(&self, name: &'static str) -> Option<UnixTime> {
        self.claims.get(name).and_then(Value::as_i64)
    }

    /// `iss`, `aud` and `azp` (Core 3.1.3.7 steps 2-5), and `iat` not in the future.
    pub(super) fn check_common(
        &self,
        expect: &ProviderExpectation<'_>,
    ) -> Result<(), ProviderTokenError> {
        if self.text("iss") != Some(expect.issuer) {
            return Err(ProviderTokenError::WrongIssuer);
        }
        // Every audience must be our client id: a token also meant for another client (which
        // could have asked for it, and replay it here) is refused, whatever its `azp`.
        let audiences: Vec<Option<&str>> = match self.claims.get("aud") {
            Some(Value::String(one)) => vec![Some(one.as_str())],
            Some(Value::Array(many)) if !many.is_empty() => {
                many.iter().map(Value::as_str).collect()
            }
            _ => return Err(ProviderTokenError::MissingClaim("aud")),
        };
        if !audiences.contains(&Some(expect.client_id)) {
            return Err(ProviderTokenError::WrongAudience);
        }
        if audiences.iter().any(|aud| *aud != Some(expect.client_id)) {
            return Err(ProviderTokenError::UntrustedAudience);
        }
        if let Some(azp) = self.claims.get("azp") {
            if azp.as_str() != Some(expect.client_id) {
                return Err(ProviderTokenError::WrongAuthorizedParty);
            }
        }
        let issued = self
            .time("iat")
            .ok_or(ProviderTokenError::MissingClaim("iat"))?;
        if issued > expect.now + PROVIDER_LEEWAY {
            return Err(ProviderTokenError::IssuedInFuture);
        }
        validity(
            expect.now,
            self.time("exp"),
            self.time("nbf"),
            PROVIDER_LEEWAY,
        )
        .map_err(|err| match err {
            TimeError::Expired => ProviderTokenError::Expired,
            TimeError::NotYetValid => ProviderTokenError::NotYetValid,
        })
    }
}

/// An ID token that passed every check: the only source of a provider identity.
#[derive(Debug)]
pub struct VerifiedIdToken {
    claims: Map<String, Value>,
    subject: String,
}

impl VerifiedIdToken {
    /// `sub`: the provider's stable id of the user.
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// A claim by name.
    pub fn claim(&self, name: &str) -> Option<&Value> {
        self.claims.get(name)
    }

    /// `sid`, the provider's session, if it sent one (back-channel logout names it).
    pub fn provider_session(&self) -> Option<&str> {
        self.claim("sid").and_then(Value::as_str)
    }
}

/// Validates an ID token for the sign-in whose `nonce` is `nonce`, its signature through `check`.
pub async fn validate_id_token(
    check: &impl SignatureCheck,
    keys: &PublicKeys,
    token: &str,
    expect: &ProviderExpectation<'_>,
    nonce: &str,
) -> Result<VerifiedIdToken, ProviderTokenError> {
    let signed = verify_signature(check, keys, token).await?;
    if signed.typ.as_deref().is_some_and(|typ| {
        !typ.eq_ignore_ascii_case("JWT") && !typ.eq_ignore_ascii_case("id_token+jwt")
    }) {
        return Err(ProviderTokenError::WrongType);
    }
    signed.check_common(expect)?;
    signed
        .time("exp")
        .ok_or(ProviderTokenError::MissingClaim("exp"))?;
    let issued = signed.time("iat").unwrap_or_default();
    if issued + MAX_ID_TOKEN_AGE + PROVIDER_LEEWAY < expect.now {
        return Err(ProviderTokenError::TooOld);
    }
    let claimed = signed
        .text("nonce")
        .ok_or(ProviderTokenError::MissingClaim("nonce"))?;
    if !ct_eq(claimed.as_bytes(), nonce.as_bytes()) {
        return Err(ProviderTokenError::WrongNonce);
    }
    let subject = signed.required_text("sub")?.to_owned();
    Ok(VerifiedIdToken {
        claims: signed.claims,
        subject,
    })
}

// Natively only: they sign and check provider tokens with the Rust twin of WebCrypto's
// check (`LocalSignatureCheck`), which the worker does not carry.
#[cfg(all(test, not(target_arch = "wasm32")))]
pub(crate) mod test_support {
    //! Signs provider tokens with the fixed test keys in `testdata/keys.json`.
    use jwt_compact::alg::{Es256, Rsa, RsaPrivateKey};
    use jwt_compact::jwk::JsonWebKey;
    use jwt_compact::Algorithm;
    use serde::Deserialize;
    use serde_json::{json, Value};

    use crate::auth::names::encoding::b64url;
    use crate::auth::token::public_keys::PublicKeys;

    pub const ISSUER: &str = "https://id.example.com";
    pub const CLIENT: &str = "edge-client";
    pub const NOW: i64 = 1_800_000_000;

    fn private(name: &str) -> Value {
        let all: Value = serde_json::from_str(include_str!("testdata/keys.json")).unwrap();
        all[name].clone()
    }

    fn public(name: &str, kid: &str) -> Value {
        let mut key = private(name);
        let map = key.as_object_mut().unwrap();
        for secret in ["d", "p", "q", "dp", "dq", "qi"] {
            map.remove(secret);
        }
        map.insert("kid".into(), kid.into());
        key
    }

    /// The key set: `rsa-1` (RS256) and `ec-1` (ES256).
    pub fn jwks() -> Value {
        json!({ "keys": [public("rsa", "rsa-1"), public("ec", "ec-1")] })
    }

    pub fn keys() -> PublicKeys {
        PublicKeys::from_jwks(jwks().to_string().as_bytes()).unwrap()
    }

    /// A compact JWS of `header` and `claims` signed with the test key of `header.alg` (or with
    /// `signature` as given, for the algorithms we refuse).
    pub fn sign(header: &Value, claims: &Value) -> String {
        let input = format!(
            "{}.{}",
            b64url(header.to_string().as_bytes()),
            b64url(claims.to_string().as_bytes())
        );
        let signature: Vec<u8> = match header["alg"].as_str() {
            Some("RS256") => {
                let jwk = private("rsa");
                let key = RsaPrivateKey::try_from(&JsonWebKey::deserialize(&jwk).unwrap()).unwrap();
                jwt_compact::AlgorithmSignature::as_bytes(
                    &Rsa::rs256().sign(&key, input.as_bytes()),
                )
                .into_owned()
            }
            Some("ES256") => {
                let jwk = private("ec");
                let key =
                    p256::ecdsa::SigningKey::try_from(&JsonWebKey::deserialize(&jwk).unwrap())
                        .unwrap();
                Es256.sign(&key, input.as_bytes()).to_bytes().to_vec()
            }
            _ => Vec::new(),
        };
        format!("{input}.{}", b64url(&signature))
    }

    pub fn id_claims() -> Value {
        json!({
            "iss": ISSUER, "aud": CLIENT, "sub": "u-123", "nonce": "n-1",
            "iat": NOW - 5, "exp": NOW + 300, "email": "ada@example.com", "email_verified": true,
            "groups": ["staff", "admins"],
        })
    }
}

// Natively only: they sign and check provider tokens with the Rust twin of WebCrypto's
// check (`LocalSignatureCheck`), which the worker does not carry.
#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::test_support::*;
    use super::*;
    use crate::auth::names::encoding::b64url;
    use crate::auth::token::public_keys::LocalSignatureCheck;
    use hmac::Mac;
    use serde_json::{json, Value};

    fn expect() -> ProviderExpectation<'static> {
        ProviderExpectation {
            issuer: ISSUER,
            client_id: CLIENT,
            now: NOW,
        }
    }

    fn check(header: Value, claims: Value) -> Result<VerifiedIdToken, ProviderTokenError> {
        pollster::block_on(validate_id_token(
            &LocalSignatureCheck,
            &keys(),
            &sign(&header, &claims),
            &expect(),
            "n-1",
        ))
    }

    fn with(changes: Value) -> Value {
        let mut claims = id_claims();
        for (name, value) in changes.as_object().unwrap() {
            if value.is_null() {
                claims.as_object_mut().unwrap().remove(name);
            } else {
                claims[name] = value.clone();
            }
        }
        claims
    }

    fn rs() -> Value {
        json!({"alg": "RS256", "kid": "rsa-1", "typ": "JWT"})
    }

    fn es() -> Value {
        json!({"alg": "ES256", "kid": "ec-1"})
    }

    #[test]
    fn valid_rs256_and_es256_tokens_verify() {
        for header in [rs(), es()] {
            let token = check(header, id_claims()).unwrap();
            assert_eq!(token.subject(), "u-123");
            assert_eq!(token.claim("email"), Some(&json!("ada@example.com")));
        }
    }

    #[test]
    fn claims_are_checked_as_core_3_1_3_7_says() {
        let cases = [
            (
                with(json!({"iss": "https://id.example.com/"})),
                ProviderTokenError::WrongIssuer,
            ),
            (with(json!({"iss": null})), ProviderTokenError::WrongIssuer),
            (
                with(json!({"aud": "someone-else"})),
                ProviderTokenError::WrongAudience,
            ),
            (
                with(json!({"aud": ["a", CLIENT]})),
                ProviderTokenError::UntrustedAudience,
            ),
            (
                with(json!({"aud": ["a", CLIENT], "azp": "a"})),
                ProviderTokenError::UntrustedAudience,
            ),
            (
                with(json!({"aud": ["a", CLIENT], "azp": CLIENT})),
                ProviderTokenError::UntrustedAudience,
            ),
            (
                with(json!({"aud": [CLIENT, 7]})),
                ProviderTokenError::UntrustedAudience,
            ),
            (
                with(json!({"aud": []})),
                ProviderTokenError::MissingClaim("aud"),
            ),
            (
                with(json!({"azp": "a"})),
                ProviderTokenError::WrongAuthorizedParty,
            ),
            (with(json!({"exp": NOW - 61})), ProviderTokenError::Expired),
            (
                with(json!({"nbf": NOW + 61})),
                ProviderTokenError::NotYetValid,
            ),
            (
                with(json!({"exp": null})),
                ProviderTokenError::MissingClaim("exp"),
            ),
            (
                with(json!({"iat": NOW + 61})),
                ProviderTokenError::IssuedInFuture,
            ),
            (with(json!({"iat": NOW - 700})), ProviderTokenError::TooOld),
            (
                with(json!({"iat": null})),
                ProviderTokenError::MissingClaim("iat"),
            ),
            (
                with(json!({"nonce": "n-2"})),
                ProviderTokenError::WrongNonce,
            ),
            (
                with(json!({"nonce": null})),
                ProviderTokenError::MissingClaim("nonce"),
            ),
            (
                with(json!({"sub": null})),
                ProviderTokenError::MissingClaim("sub"),
            ),
        ];
        for (claims, error) in cases {
            assert_eq!(check(es(), claims.clone()).unwrap_err(), error, "{claims}");
        }
        // Within the leeway is fine, and `aud` as a list of just our client id too.
        check(es(), with(json!({"exp": NOW - 59, "iat": NOW + 59}))).unwrap();
        check(es(), with(json!({"aud": [CLIENT], "azp": CLIENT}))).unwrap();
    }

    #[test]
    fn the_jws_layer_refuses_none_hmac_crit_unknown_keys_and_forgeries() {
        let none = sign(&json!({"alg": "none", "kid": "rsa-1"}), &id_claims());
        assert_eq!(
            pollster::block_on(validate_id_token(
                &LocalSignatureCheck,
                &keys(),
                &none,
                &expect(),
                "n-1"
            ))
            .unwrap_err(),
            ProviderTokenError::AlgorithmNotAllowed("none".into())
        );
        // HS256 keyed with the client secret (or with the RSA modulus) is refused by name.
        let header = json!({"alg": "HS256", "kid": "rsa-1"});
        let input = format!(
            "{}.{}",
            b64url(header.to_string().as_bytes()),
            b64url(id_claims().to_string().as_bytes())
        );
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(b"client-secret").unwrap();
        mac.update(input.as_bytes());
        let hs = format!("{input}.{}", b64url(&mac.finalize().into_bytes()));
        assert_eq!(
            pollster::block_on(validate_id_token(
                &LocalSignatureCheck,
                &keys(),
                &hs,
                &expect(),
                "n-1"
            ))
            .unwrap_err(),
            ProviderTokenError::AlgorithmNotAllowed("HS256".into())
        );
        let cases = [
            (
                json!({"alg": "ES256", "kid": "ec-1", "crit": ["exp"]}),
                ProviderTokenError::CriticalHeader,
            ),
            (json!({"alg": "ES256"}), ProviderTokenError::MissingKid),
            (
                json!({"alg": "ES256", "kid": "ec-2"}),
                ProviderTokenError::UnknownKey("ec-2".into()),
            ),
            (
                json!({"alg": "ES256", "kid": "rsa-1"}),
                ProviderTokenError::KeyAlgorithmMismatch,
            ),
            (
                json!({"alg": "ES256", "kid": "ec-1", "typ": "logout+jwt"}),
                ProviderTokenError::WrongType,
            ),
        ];
        for (header, error) in cases {
            assert_eq!(
                check(header.clone(), id_claims()).unwrap_err(),
                error,
                "{header}"
            );
        }
        // A changed payload under the original signature.
        let token = sign(&es(), &id_claims());
        let mut parts: Vec<String> = token.split('.').map(String::from).collect();
        parts[1] = b64url(with(json!({"sub": "admin"})).to_string().as_bytes());
        assert_eq!(
            pollster::block_on(validate_id_token(
                &LocalSignatureCheck,
                &keys(),
                &parts.join("."),
                &expect(),
                "n-1"
            ))
            .unwrap_err(),
            ProviderTokenError::BadSignature
        );
        let oversized = "a".repeat(MAX_PROVIDER_TOKEN_BYTES + 1);
        assert_eq!(
            pollster::block_on(validate_id_token(
                &LocalSignatureCheck,
                &keys(),
                &oversized,
                &expect(),
                "n-1"
            ))
            .unwrap_err(),
            ProviderTokenError::TooLarge
        );
        assert_eq!(
            pollster::block_on(validate_id_token(
                &LocalSignatureCheck,
                &keys(),
                "not.a.token",
                &expect(),
                "n-1"
            ))
            .unwrap_err(),
            ProviderTokenError::Malformed
        );
    }
}
