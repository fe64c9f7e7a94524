//! Minting and validation of edgegate's tokens, every refusal by its cause.

use super::keys::{AssertionKeyRing, SessionKeyRing};
use super::*;
use crate::auth::env::testing::SeededEntropy;
use crate::auth::env::UnixTime;
use crate::auth::names::encoding::b64url;
use crate::auth::names::role::testing::roles as role_list;
use crate::auth::names::role::Role;
use crate::auth::names::role::MAX_ROLE_LEN;
use crate::auth::names::username::testing::named;
use jwt_compact::alg::{Hs256, Hs256Key};
use jwt_compact::Algorithm;
use jwt_compact::AlgorithmSignature;
use serde_json::Value;

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
        key: None,
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
        key: None,
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
        key: None,
    };
    let too_big = issue_access(
        &ring,
        &audience(),
        &subject,
        NOW,
        300,
        &SeededEntropy::default(),
    );
    assert!(matches!(too_big, Err(MintError::TooLarge)));
    let no_rng = issue_access(
        &ring,
        &audience(),
        &subject,
        NOW,
        300,
        &crate::auth::env::testing::BrokenEntropy,
    );
    assert_eq!(no_rng.unwrap_err(), MintError::NoRandomness);
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
