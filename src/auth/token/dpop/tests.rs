//! The proof check against the RFC's own examples and hand-made hostile proofs (Ed25519, signed
//! here; the end-to-end tests sign with WebCrypto and a third-party client).

use pollster::block_on;
use serde_json::{json, Value};

use super::nonce::NonceKey;
use super::proof::{check, normalized_url, token_hash, ProofError, ProofRequest, PROOF_LIFETIME};
use super::replay::SeenProofs;
use crate::auth::names::thumbprint::Thumbprint;
use crate::auth::token::keys::SessionKeyRing;
use crate::auth::token::public_keys::{LocalSignatureCheck, PublicAlg, PublicKey};
use crate::testing::dpop_client::DpopClient;

const NOW: i64 = 1_800_000_000;
const URL: &str = "https://edge.example/api/items";

/// RFC 7638 §3.1: the example RSA key and its thumbprint.
#[test]
fn thumbprint_of_the_rfc_7638_example() {
    let jwk = json!({
        "kty": "RSA",
        "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
        "e": "AQAB",
        "alg": "RS256",
        "kid": "2011-04-29"
    });
    let key = PublicKey::from_jwk("", PublicAlg::Rs256, &jwk).unwrap();
    assert_eq!(
        key.thumbprint().as_str(),
        "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
    );
}

/// RFC 9449 §4.1: the example proof (ES256) verifies at its own time and URL, and its key's
/// thumbprint is the one §6.1's example token names.
#[test]
fn the_rfc_9449_example_proof() {
    let proof = "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2IiwiandrIjp7Imt0eSI6IkVDIiwieCI6Imw4dEZyaHgtMzR0VjNoUklDUkRZOXpDa0RscEJoRjQyVVFVZldWQVdCRnMiLCJ5IjoiOVZFNGpmX09rX282NHpiVFRsY3VOSmFqSG10NnY5VERWclUwQ2R2R1JEQSIsImNydiI6IlAtMjU2In19.eyJqdGkiOiItQndDM0VTYzZhY2MybFRjIiwiaHRtIjoiUE9TVCIsImh0dSI6Imh0dHBzOi8vc2VydmVyLmV4YW1wbGUuY29tL3Rva2VuIiwiaWF0IjoxNTYyMjYyNjE2fQ.2-GxA6T8lP4vfrg8v-FdWP0A0zdrj8igiMLvqRMUvwnQg4PtFLbdLXiOSsX0x7NVY-FNyJK70nfbV37xRZT3Lg";
    let request = ProofRequest {
        method: "POST",
        url: "https://server.example.com/token",
        access_token: None,
        bound_to: None,
        nonces: None,
        now: 1_562_262_616,
        leeway: 5,
    };
    let verified = block_on(check(
        proof,
        &request,
        &LocalSignatureCheck,
        &SeenProofs::default(),
    ))
    .expect("the RFC's example verifies");
    assert_eq!(
        verified.thumbprint().as_str(),
        "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"
    );
}

/// The unit tests' client: every proof is a GET of [`URL`] at [`NOW`] for "the-token".
struct Client(DpopClient);

impl Client {
    fn new(seed: u8) -> Self {
        Self(DpopClient::new(seed))
    }

    fn thumbprint(&self) -> Thumbprint {
        self.0.thumbprint()
    }

    fn header(&self) -> Value {
        self.0.header()
    }

    fn claims(&self, jti: &str) -> Value {
        self.0.claims(jti, "GET", URL, NOW, Some("the-token"))
    }

    fn sign(&self, header: &Value, claims: &Value) -> String {
        self.0.sign(header, claims)
    }

    fn proof(&self, jti: &str) -> String {
        self.sign(&self.header(), &self.claims(jti))
    }
}

fn request<'a>(bound_to: Option<&'a Thumbprint>) -> ProofRequest<'a> {
    ProofRequest {
        method: "GET",
        url: URL,
        access_token: Some("the-token"),
        bound_to,
        nonces: None,
        now: NOW,
        leeway: 5,
    }
}

fn judge(proof: &str, request: &ProofRequest<'_>) -> Result<Thumbprint, ProofError> {
    block_on(check(
        proof,
        request,
        &LocalSignatureCheck,
        &SeenProofs::default(),
    ))
    .map(|verified| verified.thumbprint().clone())
}

#[test]
fn a_proof_by_the_bound_key_passes_and_names_it() {
    let client = Client::new(1);
    let thumbprint = client.thumbprint();
    assert_eq!(
        judge(&client.proof("a"), &request(Some(&thumbprint))),
        Ok(thumbprint.clone())
    );
    // Ed25519 by its RFC 9864 name too.
    let mut header = client.header();
    header["alg"] = json!("Ed25519");
    assert_eq!(
        judge(
            &client.sign(&header, &client.claims("b")),
            &request(Some(&thumbprint))
        ),
        Ok(thumbprint)
    );
}

#[test]
fn every_hostile_proof_is_refused_with_its_reason() {
    let client = Client::new(1);
    let bound = client.thumbprint();
    let with_header = |change: &dyn Fn(&mut Value)| {
        let mut header = client.header();
        change(&mut header);
        client.sign(&header, &client.claims("x"))
    };
    let with_claims = |change: &dyn Fn(&mut Value)| {
        let mut claims = client.claims("x");
        change(&mut claims);
        client.sign(&client.header(), &claims)
    };
    let mut forged = client.proof("x");
    forged.truncate(forged.len() - 4);
    forged.push_str("AAAA");
    let cases: Vec<(&str, String, ProofError)> = vec![
        (
            "alg none",
            with_header(&|h| h["alg"] = json!("none")),
            ProofError::Algorithm,
        ),
        (
            "alg HS256",
            with_header(&|h| h["alg"] = json!("HS256")),
            ProofError::Algorithm,
        ),
        (
            "alg of another key type",
            with_header(&|h| h["alg"] = json!("ES256")),
            ProofError::Key,
        ),
        (
            "typ JWT",
            with_header(&|h| h["typ"] = json!("JWT")),
            ProofError::Type,
        ),
        (
            "no typ",
            with_header(&|h| drop(h.as_object_mut().unwrap().remove("typ"))),
            ProofError::Type,
        ),
        (
            "crit",
            with_header(&|h| h["crit"] = json!(["exp"])),
            ProofError::Critical,
        ),
        (
            "private member",
            with_header(&|h| h["jwk"]["d"] = json!("AAAA")),
            ProofError::Key,
        ),
        (
            "symmetric jwk",
            with_header(&|h| h["jwk"] = json!({"kty": "oct", "k": "AAAA"})),
            ProofError::Key,
        ),
        (
            "no jwk",
            with_header(&|h| drop(h.as_object_mut().unwrap().remove("jwk"))),
            ProofError::Key,
        ),
        (
            "another method",
            with_claims(&|c| c["htm"] = json!("POST")),
            ProofError::Method,
        ),
        (
            "another URL",
            with_claims(&|c| c["htu"] = json!("https://edge.example/api/other")),
            ProofError::Url,
        ),
        (
            "another host",
            with_claims(&|c| c["htu"] = json!("https://evil.example/api/items")),
            ProofError::Url,
        ),
        (
            "too old",
            with_claims(&|c| c["iat"] = json!(NOW - PROOF_LIFETIME - 1)),
            ProofError::Time,
        ),
        (
            "from the future",
            with_claims(&|c| c["iat"] = json!(NOW + 6)),
            ProofError::Time,
        ),
        (
            "no ath",
            with_claims(&|c| drop(c.as_object_mut().unwrap().remove("ath"))),
            ProofError::TokenHash,
        ),
        (
            "ath of another token",
            with_claims(&|c| c["ath"] = json!(token_hash("other"))),
            ProofError::TokenHash,
        ),
        (
            "no jti",
            with_claims(&|c| drop(c.as_object_mut().unwrap().remove("jti"))),
            ProofError::Malformed,
        ),
        (
            "long jti",
            with_claims(&|c| c["jti"] = json!("j".repeat(129))),
            ProofError::Malformed,
        ),
        (
            "iat as text",
            with_claims(&|c| c["iat"] = json!(NOW.to_string())),
            ProofError::Malformed,
        ),
        ("forged signature", forged, ProofError::Signature),
        (
            "two headers",
            format!("{}, {}", client.proof("x"), client.proof("y")),
            ProofError::Several,
        ),
        (
            "oversized",
            format!("{}.{}.{}", "a".repeat(5000), "b", "c"),
            ProofError::TooLarge,
        ),
        ("not a JWS", "a.b".to_owned(), ProofError::Malformed),
        (
            "by another key",
            Client::new(2).proof("x"),
            ProofError::OtherKey,
        ),
    ];
    for (name, proof, reason) in cases {
        assert_eq!(judge(&proof, &request(Some(&bound))), Err(reason), "{name}");
    }
}

#[test]
fn a_proof_is_taken_once_per_key() {
    let client = Client::new(1);
    let seen = SeenProofs::default();
    let req = request(None);
    let once = |proof: &str| block_on(check(proof, &req, &LocalSignatureCheck, &seen));
    assert!(once(&client.proof("a")).is_ok());
    assert_eq!(once(&client.proof("a")), Err(ProofError::Replayed));
    assert!(once(&client.proof("b")).is_ok());
    // The same jti by another key is another proof.
    assert!(once(&Client::new(2).proof("a")).is_ok());
}

#[test]
fn a_full_memory_forgets_nothing_that_could_be_replayed() {
    let seen = SeenProofs::new(2);
    let key = Client::new(1).thumbprint();
    assert!(seen.first_use(&key, "a", NOW - 10, NOW));
    assert!(seen.first_use(&key, "b", NOW - 5, NOW));
    // "a" is pushed out while it could still be replayed: proofs as old as it are refused now.
    assert!(seen.first_use(&key, "c", NOW, NOW));
    assert!(!seen.first_use(&key, "a", NOW - 10, NOW));
    assert!(!seen.first_use(&key, "d", NOW - 10, NOW));
    assert!(seen.first_use(&key, "e", NOW - 9, NOW));
}

#[test]
fn nonces_are_accepted_for_two_periods_and_only_from_this_key() {
    let ring = SessionKeyRing::parse("k1:c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTMyYiEh").unwrap();
    let other = SessionKeyRing::parse("k2:b3RoZXItb3RoZXItb3RoZXItb3RoZXItb3RoZXItMzIhIQ").unwrap();
    let (key, stranger) = (NonceKey::derive(&ring), NonceKey::derive(&other));
    let nonce = key.issue(NOW);
    assert!(key.accepts(&nonce, NOW));
    assert!(key.accepts(&nonce, NOW + super::nonce::NONCE_PERIOD));
    assert!(!key.accepts(&nonce, NOW + 2 * super::nonce::NONCE_PERIOD));
    assert!(!key.accepts(&nonce, NOW - super::nonce::NONCE_PERIOD));
    assert!(!stranger.accepts(&nonce, NOW));
    assert!(!key.accepts("not-a-nonce", NOW));

    let client = Client::new(1);
    let req = ProofRequest {
        nonces: Some(&key),
        ..request(None)
    };
    assert_eq!(
        judge(&client.proof("n"), &req),
        Err(ProofError::NonceNeeded)
    );
    let mut claims = client.claims("n");
    claims["nonce"] = json!(nonce);
    assert!(judge(&client.sign(&client.header(), &claims), &req).is_ok());
    claims["nonce"] = json!(stranger.issue(NOW));
    assert_eq!(
        judge(&client.sign(&client.header(), &claims), &req),
        Err(ProofError::NonceNeeded)
    );
}

#[test]
fn urls_compare_without_query_fragment_case_or_default_port() {
    let same = |a: &str, b: &str| normalized_url(a) == normalized_url(b);
    assert!(same(
        "https://Edge.Example:443/a?x=1#f",
        "https://edge.example/a"
    ));
    assert!(same("HTTPS://edge.example", "https://edge.example/"));
    assert!(!same("https://edge.example/A", "https://edge.example/a"));
    assert!(!same(
        "https://edge.example:8443/a",
        "https://edge.example/a"
    ));
    assert!(!same("http://edge.example/a", "https://edge.example/a"));
    assert_eq!(normalized_url("https://user@edge.example/a"), None);
    assert_eq!(normalized_url("ftp://edge.example/a"), None);
    assert_eq!(normalized_url("edge.example/a"), None);
}

#[test]
fn iat_may_carry_a_fraction_and_runs_ahead_by_five_seconds_at_most() {
    let client = Client::new(1);
    let mut claims = client.claims("f");
    claims["iat"] = json!(NOW as f64 + 0.75);
    assert!(judge(&client.sign(&client.header(), &claims), &request(None)).is_ok());
    // However lenient the token leeway, a proof from 6 s ahead would outstay its welcome.
    let lenient = ProofRequest {
        leeway: 300,
        ..request(None)
    };
    claims["iat"] = json!(NOW + 6);
    assert_eq!(
        judge(&client.sign(&client.header(), &claims), &lenient),
        Err(ProofError::Time)
    );
    claims["iat"] = json!(1e300);
    assert_eq!(
        judge(&client.sign(&client.header(), &claims), &lenient),
        Err(ProofError::Malformed)
    );
}

#[test]
fn a_proof_by_another_key_takes_no_place_in_the_replay_memory() {
    let owner = Client::new(1);
    let bound = owner.thumbprint();
    let seen = SeenProofs::new(1);
    let req = request(Some(&bound));
    let once = |proof: &str| block_on(check(proof, &req, &LocalSignatureCheck, &seen));
    assert_eq!(once(&Client::new(2).proof("x")), Err(ProofError::OtherKey));
    // Had the stranger's proof been kept, the owner's first would have pushed it out of a memory
    // of one while it could still be replayed, and the owner's second, as old, been refused.
    assert!(once(&owner.proof("a")).is_ok());
    assert!(once(&owner.proof("b")).is_ok());
}
