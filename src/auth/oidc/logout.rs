//! Back-channel logout (OpenID Connect Back-Channel Logout 1.0 §2.6): the provider tells the edge
//! that a user's sign-in ended, and the edge ends the matching sessions.
//!
//! The logout token goes through the same signature check as an ID token, then its own claim
//! rules: `iss` and `aud` as for ID tokens, a recent `iat`, the back-channel logout event, a
//! `sub` or a `sid` or both (§2.4), a `jti` for replay protection, and no `nonce`, so an ID
//! token can never be replayed as a logout token nor the other way round: an ID token carries
//! no back-channel logout event, and carries the sign-in's `nonce`. `typ` is recommended to be
//! `logout+jwt` (§2.4) but not required; a token of any other explicit type is refused, and one
//! typed `JWT`, as many providers send, is judged by its claims.

use serde_json::Value;

use super::id_token::{verify_signature, ProviderExpectation, ProviderTokenError, PROVIDER_LEEWAY};
use crate::auth::env::UnixTime;
use crate::auth::http::form;
use crate::auth::token::public_keys::{PublicKeys, SignatureCheck};

/// The `events` member that marks a logout token.
pub const BACKCHANNEL_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// A `sid` longer than this is not one this edge keeps or looks up.
pub const MAX_SID_LEN: usize = 256;
/// A logout token issued longer ago than this is refused; its `jti` is remembered this long.
pub const MAX_LOGOUT_TOKEN_AGE: i64 = 300;

/// A logout token that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedLogout {
    /// `sub` at the provider, if given.
    pub subject: Option<String>,
    /// `sid` at the provider, if given.
    pub provider_session: Option<String>,
    /// `jti`, to refuse a second delivery.
    pub token_id: String,
    /// Until when the `jti` must be remembered.
    pub remember_until: UnixTime,
}

/// The `logout_token` of a back-channel logout request's form body (§2.5).
pub fn logout_token_field(body: &[u8]) -> Option<String> {
    form::field(body, "logout_token")
}

/// Validates a `logout_token`, its signature through `check`.
pub async fn validate_logout_token(
    check: &impl SignatureCheck,
    keys: &PublicKeys,
    token: &str,
    expect: &ProviderExpectation<'_>,
) -> Result<VerifiedLogout, ProviderTokenError> {
    let signed = verify_signature(check, keys, token).await?;
    if signed.typ.as_deref().is_some_and(|typ| {
        !typ.eq_ignore_ascii_case("logout+jwt") && !typ.eq_ignore_ascii_case("JWT")
    }) {
        return Err(ProviderTokenError::WrongType);
    }
    signed.check_common(expect)?;
    let issued = signed.time("iat").unwrap_or_default();
    if issued + MAX_LOGOUT_TOKEN_AGE + PROVIDER_LEEWAY < expect.now {
        return Err(ProviderTokenError::TooOld);
    }
    let event = signed
        .claims
        .get("events")
        .and_then(|events| events.get(BACKCHANNEL_EVENT));
    if !matches!(event, Some(Value::Object(_))) {
        return Err(ProviderTokenError::NotALogoutEvent);
    }
    if signed.claims.contains_key("nonce") {
        return Err(ProviderTokenError::NonceInLogoutToken);
    }
    let subject = signed
        .text("sub")
        .filter(|sub| !sub.is_empty())
        .map(str::to_owned);
    let provider_session = signed
        .text("sid")
        .filter(|sid| !sid.is_empty() && sid.len() <= MAX_SID_LEN)
        .map(str::to_owned);
    if subject.is_none() && provider_session.is_none() {
        return Err(ProviderTokenError::MissingClaim("sub` or `sid"));
    }
    let token_id = signed
        .text("jti")
        .filter(|jti| !jti.is_empty() && jti.len() <= 256)
        .ok_or(ProviderTokenError::MissingClaim("jti"))?
        .to_owned();
    Ok(VerifiedLogout {
        subject,
        provider_session,
        token_id,
        remember_until: issued + MAX_LOGOUT_TOKEN_AGE + 2 * PROVIDER_LEEWAY,
    })
}

// Natively only: they sign and check provider tokens with the Rust twin of WebCrypto's
// check (`LocalSignatureCheck`), which the worker does not carry.
#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::super::id_token::test_support::*;
    use super::*;
    use crate::auth::token::public_keys::LocalSignatureCheck;
    use serde_json::json;

    fn claims() -> Value {
        json!({
            "iss": ISSUER, "aud": CLIENT, "sub": "u-123", "sid": "s-9", "jti": "j-1",
            "iat": NOW - 2, "events": { BACKCHANNEL_EVENT: {} },
        })
    }

    fn check(header: Value, claims: Value) -> Result<VerifiedLogout, ProviderTokenError> {
        let expect = ProviderExpectation {
            issuer: ISSUER,
            client_id: CLIENT,
            now: NOW,
        };
        pollster::block_on(validate_logout_token(
            &LocalSignatureCheck,
            &keys(),
            &sign(&header, &claims),
            &expect,
        ))
    }

    fn header() -> Value {
        json!({"alg": "RS256", "kid": "rsa-1", "typ": "logout+jwt"})
    }

    #[test]
    fn a_logout_token_names_the_user_and_its_jti() {
        let logout = check(header(), claims()).unwrap();
        assert_eq!(logout.subject.as_deref(), Some("u-123"));
        assert_eq!(logout.provider_session.as_deref(), Some("s-9"));
        assert_eq!(logout.token_id, "j-1");
        assert!(logout.remember_until > NOW + MAX_LOGOUT_TOKEN_AGE - 60);
        assert_eq!(
            logout_token_field(b"a=1&logout_token=x.y%2Ez").as_deref(),
            Some("x.y.z")
        );
        assert_eq!(logout_token_field(b"token=x"), None);
    }

    #[test]
    fn logout_tokens_follow_section_2_6() {
        let change = |name: &str, value: Value| {
            let mut claims = claims();
            if value.is_null() {
                claims.as_object_mut().unwrap().remove(name);
            } else {
                claims[name] = value;
            }
            claims
        };
        let cases = [
            (
                change("events", json!({})),
                ProviderTokenError::NotALogoutEvent,
            ),
            (
                change("events", Value::Null),
                ProviderTokenError::NotALogoutEvent,
            ),
            (
                change("nonce", json!("n")),
                ProviderTokenError::NonceInLogoutToken,
            ),
            (
                change("jti", Value::Null),
                ProviderTokenError::MissingClaim("jti"),
            ),
            (
                {
                    let mut claims = change("sub", Value::Null);
                    claims.as_object_mut().unwrap().remove("sid");
                    claims
                },
                ProviderTokenError::MissingClaim("sub` or `sid"),
            ),
            (change("iat", json!(NOW - 400)), ProviderTokenError::TooOld),
            (
                change("aud", json!("other")),
                ProviderTokenError::WrongAudience,
            ),
            (
                change("iss", json!("https://evil.example")),
                ProviderTokenError::WrongIssuer,
            ),
        ];
        for (claims, error) in cases {
            assert_eq!(
                check(header(), claims.clone()).unwrap_err(),
                error,
                "{claims}"
            );
        }
        // An ID token (typ JWT, the sign-in's nonce, no logout event) is not a logout token.
        let id = json!({"alg": "RS256", "kid": "rsa-1", "typ": "JWT"});
        let mut id_claims = change("events", Value::Null);
        id_claims["nonce"] = json!("n-1");
        assert_eq!(
            check(id.clone(), id_claims).unwrap_err(),
            ProviderTokenError::NotALogoutEvent
        );
        // Nor is a token of another explicit type.
        let other = json!({"alg": "RS256", "kid": "rsa-1", "typ": "at+jwt"});
        assert_eq!(
            check(other, claims()).unwrap_err(),
            ProviderTokenError::WrongType
        );
    }

    #[test]
    fn a_logout_token_typed_jwt_or_untyped_is_judged_by_its_claims() {
        let jwt = json!({"alg": "RS256", "kid": "rsa-1", "typ": "JWT"});
        assert_eq!(check(jwt, claims()).unwrap().token_id, "j-1");
        let untyped = json!({"alg": "RS256", "kid": "rsa-1"});
        assert_eq!(check(untyped, claims()).unwrap().token_id, "j-1");
    }

    #[test]
    fn a_logout_token_names_a_sub_a_sid_or_both() {
        let mut sid_only = claims();
        sid_only.as_object_mut().unwrap().remove("sub");
        let logout = check(header(), sid_only).unwrap();
        assert_eq!(logout.subject, None);
        assert_eq!(logout.provider_session.as_deref(), Some("s-9"));
        let mut sub_only = claims();
        sub_only.as_object_mut().unwrap().remove("sid");
        let logout = check(header(), sub_only).unwrap();
        assert_eq!(logout.subject.as_deref(), Some("u-123"));
        assert_eq!(logout.provider_session, None);
        // A `sid` too long to be kept names no session; without a `sub` the token names nothing.
        let mut long = claims();
        long.as_object_mut().unwrap().remove("sub");
        long["sid"] = json!("s".repeat(MAX_SID_LEN + 1));
        assert_eq!(
            check(header(), long).unwrap_err(),
            ProviderTokenError::MissingClaim("sub` or `sid")
        );
    }
}
