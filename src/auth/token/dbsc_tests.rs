//! Device-bound session responses, challenges and bound cookies, natively: responses signed
//! here with P-256 (as browsers do, with WebCrypto, in tests/e2e/dbsc.test.mjs).

use pollster::block_on;
use serde_json::json;

use super::*;
use crate::auth::env::testing::SeededEntropy;
use crate::auth::env::OsEntropy;
use crate::auth::token::public_keys::LocalSignatureCheck;
use crate::testing::device_browser::DeviceBrowser;

const NOW: i64 = 1_800_000_000;

fn ring() -> SessionKeyRing {
    SessionKeyRing::parse("k1:c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTMyYiEh").unwrap()
}

fn session() -> SessionId {
    SessionId::generate(&SeededEntropy::default()).unwrap()
}

/// A browser's P-256 key.
type Browser = DeviceBrowser;

fn register(
    text: &str,
    session: &SessionId,
    secrets: &DeviceSecrets,
) -> Result<DeviceKey, ResponseError> {
    block_on(registration(
        text,
        session,
        NOW,
        secrets,
        &LocalSignatureCheck,
    ))
    .map(|(key, _)| key)
}

#[test]
fn a_registration_keeps_the_key_and_its_refresh_passes_with_it_alone() {
    let secrets = DeviceSecrets::derive(&ring());
    let (id, browser) = (session(), Browser::new(3));
    let key = register(
        &browser.registration(&secrets.challenge(&id, NOW, &OsEntropy).unwrap()),
        &id,
        &secrets,
    )
    .unwrap();
    assert_eq!(key.alg, "ES256");
    assert_eq!(key.jwk, browser.jwk());
    let later = NOW + 400;
    let challenge = secrets.challenge(&id, later, &OsEntropy).unwrap();
    let answer = browser.refresh(&challenge);
    let checked = block_on(refresh(
        &answer,
        &id,
        &key,
        later,
        &secrets,
        &LocalSignatureCheck,
    ));
    assert_eq!(
        checked,
        Ok(challenge),
        "the signed challenge, to be taken once"
    );
    // Another key's refresh, a challenge of another session, one too old.
    let thief = Browser::new(4).refresh(&secrets.challenge(&id, later, &OsEntropy).unwrap());
    let by_thief = block_on(refresh(
        &thief,
        &id,
        &key,
        later,
        &secrets,
        &LocalSignatureCheck,
    ));
    assert_eq!(by_thief, Err(ResponseError::Signature));
    let foreign = browser.refresh(&secrets.challenge(&session_b(), later, &OsEntropy).unwrap());
    let of_other = block_on(refresh(
        &foreign,
        &id,
        &key,
        later,
        &secrets,
        &LocalSignatureCheck,
    ));
    assert_eq!(of_other, Err(ResponseError::Challenge));
    let stale = browser.refresh(
        &secrets
            .challenge(&id, later - 2 * CHALLENGE_PERIOD, &OsEntropy)
            .unwrap(),
    );
    let old = block_on(refresh(
        &stale,
        &id,
        &key,
        later,
        &secrets,
        &LocalSignatureCheck,
    ));
    assert_eq!(old, Err(ResponseError::Challenge));
}

fn session_b() -> SessionId {
    SessionId::parse("c2Vzc2lvbi1pZC0xNmJ5dA").unwrap()
}

#[test]
fn hostile_registrations_are_refused_with_their_reason() {
    let secrets = DeviceSecrets::derive(&ring());
    let (id, browser) = (session(), Browser::new(3));
    let challenge = secrets.challenge(&id, NOW, &OsEntropy).unwrap();
    let header = |change: &dyn Fn(&mut Value)| {
        let mut header = json!({"typ": "dbsc+jwt", "alg": "ES256", "jwk": browser.jwk()});
        change(&mut header);
        browser.sign(&header, &json!({"jti": challenge}))
    };
    let mut forged = browser.registration(&challenge);
    forged.truncate(forged.len() - 4);
    forged.push_str("AAAA");
    let cases: Vec<(&str, String, ResponseError)> = vec![
        (
            "alg none",
            header(&|h| h["alg"] = json!("none")),
            ResponseError::Algorithm,
        ),
        (
            "alg HS256",
            header(&|h| h["alg"] = json!("HS256")),
            ResponseError::Algorithm,
        ),
        (
            "alg EdDSA",
            header(&|h| h["alg"] = json!("EdDSA")),
            ResponseError::Algorithm,
        ),
        (
            "jwk of another type",
            header(&|h| h["alg"] = json!("RS256")),
            ResponseError::Key,
        ),
        (
            "private jwk",
            header(&|h| h["jwk"]["d"] = json!("AAAA")),
            ResponseError::Key,
        ),
        (
            "no jwk",
            header(&|h| drop(h.as_object_mut().unwrap().remove("jwk"))),
            ResponseError::Key,
        ),
        (
            "typ",
            header(&|h| h["typ"] = json!("JWT")),
            ResponseError::Malformed,
        ),
        (
            "crit",
            header(&|h| h["crit"] = json!(["x"])),
            ResponseError::Malformed,
        ),
        (
            "another session's challenge",
            browser.registration(&secrets.challenge(&session_b(), NOW, &OsEntropy).unwrap()),
            ResponseError::Challenge,
        ),
        (
            "a made-up challenge",
            browser.registration("AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
            ResponseError::Challenge,
        ),
        (
            "no challenge",
            browser.sign(
                &json!({"typ": "dbsc+jwt", "alg": "ES256", "jwk": browser.jwk()}),
                &json!({}),
            ),
            ResponseError::Challenge,
        ),
        (
            "another deployment's challenge",
            browser.registration(
                &DeviceSecrets::derive(
                    &SessionKeyRing::parse("k2:b3RoZXItb3RoZXItb3RoZXItb3RoZXItb3RoZXItMzIhIQ")
                        .unwrap(),
                )
                .challenge(&id, NOW, &OsEntropy)
                .unwrap(),
            ),
            ResponseError::Challenge,
        ),
        ("forged signature", forged, ResponseError::Signature),
        (
            "oversized",
            format!("{}.e30.AA", "a".repeat(MAX_RESPONSE_BYTES)),
            ResponseError::Malformed,
        ),
        ("not a JWS", "a.b".to_owned(), ResponseError::Malformed),
    ];
    for (name, text, reason) in cases {
        assert_eq!(register(&text, &id, &secrets), Err(reason), "{name}");
    }
}

#[test]
fn a_bound_cookie_names_its_session_until_it_expires_and_cannot_be_made_elsewhere() {
    let secrets = DeviceSecrets::derive(&ring());
    let id = session();
    let value = secrets.bound_cookie(&id, NOW + 600);
    assert_eq!(secrets.bound_session(&value, NOW), Some(id.clone()));
    assert_eq!(secrets.bound_session(&value, NOW + 600), None, "expired");
    let other = DeviceSecrets::derive(
        &SessionKeyRing::parse("k2:b3RoZXItb3RoZXItb3RoZXItb3RoZXItb3RoZXItMzIhIQ").unwrap(),
    );
    assert_eq!(
        other.bound_session(&value, NOW),
        None,
        "another deployment's"
    );
    let stretched = value.replacen(&(NOW + 600).to_string(), &(NOW + 6000).to_string(), 1);
    assert_eq!(
        secrets.bound_session(&stretched, NOW + 700),
        None,
        "its expiry changed"
    );
    for junk in ["", "a.b", "a.b.c.d", &format!("{}.x.y", id.as_str())] {
        assert_eq!(secrets.bound_session(junk, NOW), None, "{junk}");
    }
}

#[test]
fn header_values_read_quoted_or_bare() {
    assert_eq!(unquoted(r#""abc.def""#), "abc.def");
    assert_eq!(unquoted(" abc.def "), "abc.def");
    assert_eq!(
        skipped(r#"unreachable;session_identifier="s1""#),
        ("unreachable".to_owned(), Some("s1".to_owned()))
    );
    assert_eq!(
        skipped("quota_exceeded"),
        ("quota_exceeded".to_owned(), None)
    );
    let id = session_b();
    assert_eq!(
        challenge_header("c", &id),
        r#""c";id="c2Vzc2lvbi1pZC0xNmJ5dA""#
    );
    assert_eq!(
        registration_header("c"),
        r#"(ES256 RS256);path="/auth/device/register";challenge="c""#
    );
}
