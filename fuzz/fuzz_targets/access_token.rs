//! Whatever arrives in the access cookie or an `Authorization` header, nobody but the holder of
//! the key can make a token that verifies. The rings here hold fresh random keys under the kids the seeds name, so inputs reach
//! the signature check; nothing may panic and nothing may ever verify.
#![no_main]

use std::sync::LazyLock;

use edgegate::auth::env::OsEntropy;
use edgegate::auth::token::keys::{generate_entry, AssertionKeyRing, SessionKeyRing};
use edgegate::auth::http::request::BearerCredential;
use edgegate::auth::token::{validate_access, validate_assertion, verify_jws, Audience};
use libfuzzer_sys::fuzz_target;

static SESSION: LazyLock<SessionKeyRing> = LazyLock::new(|| {
    let entries = ["k1", "k0"].map(|kid| generate_entry(kid, &OsEntropy).unwrap().into_inner());
    SessionKeyRing::parse(&entries.join(",")).unwrap()
});
static ASSERTION: LazyLock<AssertionKeyRing> = LazyLock::new(|| {
    AssertionKeyRing::parse(generate_entry("a1", &OsEntropy).unwrap().expose()).unwrap()
});
static AUDIENCE: LazyLock<Audience> = LazyLock::new(|| Audience {
    issuer: "https://edge.example".into(),
    audience: "https://edge.example".into(),
});
const NOW: i64 = 1_800_000_000;

fuzz_target!(|data: &[u8]| {
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    assert!(verify_jws(&*SESSION, token).is_err(), "forged: {token:?}");
    assert!(validate_access(&SESSION, token, &AUDIENCE, 30, NOW).is_err());
    assert!(verify_jws(&*ASSERTION, token).is_err(), "forged: {token:?}");
    assert!(validate_assertion(&ASSERTION, token, &AUDIENCE, 30, NOW).is_err());
    // As the header itself, and as a bearer token: a token read from it is a part of it.
    let _ = BearerCredential::read(Some(token));
    if let BearerCredential::Token(read) = BearerCredential::read(Some(&format!("Bearer {token}")))
    {
        assert!(token.contains(read.expose().as_str()));
        assert!(validate_access(&SESSION, read.expose(), &AUDIENCE, 30, NOW).is_err());
    }
});
