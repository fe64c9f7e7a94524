//! The session core under wasm32, in Node, with the platform's own randomness and clock: what
//! the worker runs, where `getrandom` (0.2 for [`OsEntropy`], 0.4 inside ed25519-compact) goes
//! through `crypto.getRandomValues` and the time comes from `Date.now()`. The native tests use
//! seeded entropy and fixed clocks, so only these prove the platform bindings.

use wasm_bindgen_test::wasm_bindgen_test;

use crate::auth::env::{random_bytes, Clock, OsEntropy, UnixTime};
use crate::auth::names::session_id::SessionId;
use crate::auth::names::username::testing::named;
use crate::auth::session::refresh::{NewRefresh, PresentedRefresh};
use crate::auth::token::keys::{generate_entry, AssertionKeyRing, SessionKeyRing};
use crate::auth::token::{
    issue_access, issue_assertion, validate_access, validate_assertion, Audience, Subject,
    TokenError, MAX_ASSERTION_TTL,
};
use crate::testing::memory_store::MemoryStore;

/// The JavaScript clock, as the worker reads it.
struct DateClock;

impl Clock for DateClock {
    fn now(&self) -> UnixTime {
        (js_sys::Date::now() / 1000.0) as UnixTime
    }
}

const LEEWAY: i64 = 30;

fn audience() -> Audience {
    Audience {
        issuer: "https://edge.example".into(),
        audience: "https://edge.example".into(),
    }
}

fn session_ring() -> SessionKeyRing {
    SessionKeyRing::parse(generate_entry("s1", &OsEntropy).unwrap().expose()).unwrap()
}

#[wasm_bindgen_test]
fn os_entropy_draws_differ() {
    let a: [u8; 32] = random_bytes(&OsEntropy).unwrap();
    let b: [u8; 32] = random_bytes(&OsEntropy).unwrap();
    assert_ne!(a, b);
    assert_ne!(a, [0; 32]);
    let first = generate_entry("k", &OsEntropy).unwrap();
    let second = generate_entry("k", &OsEntropy).unwrap();
    assert_ne!(first.expose(), second.expose());
}

#[wasm_bindgen_test]
fn ed25519_compact_draws_its_own_randomness() {
    let a = ed25519_compact::KeyPair::generate();
    let b = ed25519_compact::KeyPair::generate();
    assert_ne!(a.pk, b.pk);
}

#[wasm_bindgen_test]
fn date_clock_drives_access_tokens_to_expiry() {
    let now = DateClock.now();
    assert!(
        (1_700_000_000..4_000_000_000).contains(&now),
        "Date.now() in seconds: {now}"
    );
    let ring = session_ring();
    let roles = crate::auth::names::role::testing::roles(&["member"]);
    let subject = Subject {
        user: &named("alice"),
        session: "c2Vzc2lvbi1pZC0xNmJ5dA",
        roles: &roles,
        key: None,
    };
    let ttl = 300;
    let token = issue_access(&ring, &audience(), &subject, now, ttl, &OsEntropy).unwrap();
    let verified = validate_access(&ring, token.expose(), &audience(), LEEWAY, now).unwrap();
    assert_eq!(verified.user(), "alice");
    assert_eq!(verified.roles(), roles);
    assert_eq!(verified.expires_at(), now + ttl);
    let last_valid = now + ttl + LEEWAY;
    assert!(validate_access(&ring, token.expose(), &audience(), LEEWAY, last_valid).is_ok());
    assert_eq!(
        validate_access(&ring, token.expose(), &audience(), LEEWAY, last_valid + 1).unwrap_err(),
        TokenError::Expired
    );
    let again = issue_access(&ring, &audience(), &subject, now, ttl, &OsEntropy).unwrap();
    assert_ne!(
        token.expose(),
        again.expose(),
        "every token gets a fresh jti"
    );
}

#[wasm_bindgen_test]
fn ed25519_assertions_sign_and_verify() {
    let ring = AssertionKeyRing::parse(generate_entry("a1", &OsEntropy).unwrap().expose()).unwrap();
    let origin = Audience {
        issuer: "https://edge.example".into(),
        audience: "origin".into(),
    };
    let subject = Subject {
        user: &named("alice"),
        session: "c2Vzc2lvbi1pZC0xNmJ5dA",
        roles: &[],
        key: None,
    };
    let now = DateClock.now();
    let token = issue_assertion(&ring, &origin, &subject, now, 3600, &OsEntropy)
        .unwrap()
        .into_inner();
    let verified = validate_assertion(&ring, &token, &origin, 0, now).unwrap();
    assert_eq!(verified.user(), "alice");
    assert_eq!(verified.expires_at(), now + MAX_ASSERTION_TTL);

    let (signed, signature) = token.rsplit_once('.').unwrap();
    let flipped = if signature.starts_with('A') { 'B' } else { 'A' };
    let tampered = format!("{signed}.{flipped}{}", &signature[1..]);
    assert_eq!(
        validate_assertion(&ring, &tampered, &origin, 0, now).unwrap_err(),
        TokenError::BadSignature
    );
    let other =
        AssertionKeyRing::parse(generate_entry("a1", &OsEntropy).unwrap().expose()).unwrap();
    assert_eq!(
        validate_assertion(&other, &token, &origin, 0, now).unwrap_err(),
        TokenError::BadSignature
    );
}

#[wasm_bindgen_test]
fn refresh_tokens_mint_and_parse_back() {
    let session = SessionId::generate(&OsEntropy).unwrap();
    let minted = NewRefresh::mint(&session, &OsEntropy).unwrap();
    let presented = PresentedRefresh::parse(minted.token(&named("alice")).expose()).unwrap();
    assert_eq!(presented.session, session);
    assert!(presented.hash.matches(&minted.hash));
    let next = NewRefresh::mint(&session, &OsEntropy).unwrap();
    assert!(!next.hash.matches(&minted.hash));
    assert!(PresentedRefresh::parse(&minted.token(&named("alice")).expose()[1..]).is_none());
}

#[wasm_bindgen_test]
async fn memory_store_passes_the_conformance_suite() {
    crate::testing::conformance::run_all(MemoryStore::default).await;
}
