//! Whatever a browser (or anyone) posts as a passkey registration or sign-in, and whatever bytes
//! sit where the authenticator data, the attestation's CBOR or an ES256 DER signature go: nothing
//! may panic, and no sign-in response passes without a challenge this edge issued (the key here
//! is fresh and random, so none was).
#![no_main]

use std::sync::LazyLock;

use edgegate::auth::accounts::passkey::authenticator_data;
use edgegate::auth::accounts::passkey::ceremony::{check_registration, read_assertion};
use edgegate::auth::accounts::passkey::challenge::SignInChallenges;
use edgegate::auth::accounts::passkey::{RelyingParty, SignCounterPolicy};
use edgegate::auth::env::OsEntropy;
use edgegate::auth::token::ecdsa_der::es256_raw_from_der;
use edgegate::auth::token::keys::{generate_entry, SessionKeyRing};
use libfuzzer_sys::fuzz_target;

static RP: LazyLock<RelyingParty> = LazyLock::new(|| {
    let entry = generate_entry("k1", &OsEntropy).unwrap().into_inner();
    RelyingParty {
        id: "example.org".into(),
        name: "fuzz".into(),
        origins: vec!["https://example.org".into()],
        counter: SignCounterPolicy::Refuse,
        recent_sign_in: 600,
        challenges: SignInChallenges::new(&SessionKeyRing::parse(&entry).unwrap()),
    }
});
const NOW: i64 = 1_800_000_000;

fuzz_target!(|data: &[u8]| {
    let _ = authenticator_data::parse(data);
    if let Ok(raw) = es256_raw_from_der(data) {
        assert!(raw.iter().any(|b| *b != 0), "a zero r or s never converts");
    }
    let _ = check_registration(&RP, data);
    assert!(read_assertion(&RP, data, NOW).is_err(), "no issued challenge: {data:?}");
});
