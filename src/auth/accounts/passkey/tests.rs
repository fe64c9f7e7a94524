//! The ceremony's checks, natively: the WebAuthn Level 3 specification's own test vectors, every
//! hostile change of an honest ceremony made by the software authenticator (each refused for its
//! own reason), the sign-in challenges, and the registry's atomic rules.

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::authenticator_data::{self, Flags};
use super::ceremony::{check_registration, read_assertion, signature_verifies};
use super::challenge::SignInChallenges;
use super::registry::{
    apply, counter_regressed, PasskeyCommand, PasskeyReply, RegistryRefusal, StoredPasskey,
    UserPasskeys, MAX_PASSKEYS,
};
use super::*;
use crate::auth::env::testing::SeededEntropy;
use crate::auth::names::encoding::{b64url, b64url_decode};
use crate::auth::names::session_id::SessionId;
use crate::auth::token::keys::SessionKeyRing;
use crate::auth::token::public_keys::LocalSignatureCheck;
use crate::testing::passkey_authenticator::{cbor, no_statement, Ceremony, SoftKey};
use coset::cbor::value::Value as Cbor;

const RP_ID: &str = "login.example.com";
const ORIGIN: &str = "https://login.example.com";
const NOW: i64 = 1_800_000_000;
const CREATE: &str = "webauthn.create";
const GET: &str = "webauthn.get";

fn ring() -> SessionKeyRing {
    SessionKeyRing::parse("s1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8").unwrap()
}

fn relying_party(id: &str, origin: &str) -> RelyingParty {
    RelyingParty {
        id: id.to_owned(),
        name: "Example".to_owned(),
        origins: vec![origin.to_owned()],
        counter: SignCounterPolicy::Refuse,
        recent_sign_in: 600,
        challenges: SignInChallenges::new(&ring()),
    }
}

fn rp() -> RelyingParty {
    relying_party(RP_ID, ORIGIN)
}

const CREDENTIAL_ID: [u8; 32] = [7; 32];

fn registration(key: &SoftKey) -> Ceremony {
    Ceremony::new(
        CREATE,
        RP_ID,
        ORIGIN,
        &[1; 32],
        &CREDENTIAL_ID,
        key.cose_alg(),
    )
}

fn sign_in_challenge() -> Vec<u8> {
    rp().challenges
        .issue(&SeededEntropy::default(), NOW)
        .unwrap()
}

fn assertion(key: &SoftKey) -> Ceremony {
    let mut ceremony = Ceremony::new(
        GET,
        RP_ID,
        ORIGIN,
        &sign_in_challenge(),
        &CREDENTIAL_ID,
        key.cose_alg(),
    );
    ceremony.user_handle = Some(vec![9; 32]);
    ceremony
}

/// The passkey an honest registration of `key` keeps.
fn registered(key: &SoftKey) -> StoredPasskey {
    let body = registration(key).registration(key, no_statement());
    check_registration(&rp(), &body)
        .unwrap()
        .passkey("Laptop".into(), NOW, None)
}

fn check(
    ceremony: &Ceremony,
    key: &SoftKey,
    passkey: &StoredPasskey,
) -> Result<(), PasskeyRefusal> {
    let read = read_assertion(&rp(), &ceremony.assertion(key), NOW)?;
    let handle = UserHandle::from_bytes(&[9; 32]).unwrap();
    pollster::block_on(read.check(passkey, Some(&handle), &LocalSignatureCheck))
}

// --- the specification's test vectors ------------------------------------------------------------

const SPEC_VECTORS: &str = include_str!("testdata/webauthn-l3-vectors.json");

fn field(value: &Value, path: &[&str]) -> Vec<u8> {
    let text = path.iter().fold(value, |v, key| &v[*key]).as_str().unwrap();
    b64url_decode(text).unwrap()
}

/// The authenticator data inside an attestation object of any format.
fn auth_data_of(attestation: &[u8]) -> Vec<u8> {
    let value: Cbor = coset::cbor::de::from_reader(attestation).unwrap();
    let Cbor::Map(entries) = value else {
        panic!("not a map")
    };
    entries
        .into_iter()
        .find(|(key, _)| key.as_text() == Some("authData"))
        .and_then(|(_, value)| value.into_bytes().ok())
        .unwrap()
}

#[test]
fn every_spec_vector_signature_verifies_with_the_key_its_registration_gives() {
    let vectors: Value = serde_json::from_str(SPEC_VECTORS).unwrap();
    let vectors = vectors["vectors"].as_array().unwrap();
    assert_eq!(vectors.len(), 8);
    for vector in vectors {
        let name = vector["name"].as_str().unwrap();
        let attestation = field(vector, &["registration", "attestation_object"]);
        let data = authenticator_data::parse(&auth_data_of(&attestation)).unwrap();
        assert_eq!(
            data.rp_id_hash,
            <[u8; 32]>::from(Sha256::digest(b"example.org")),
            "{name}"
        );
        let attested = data.attested.unwrap();
        assert_eq!(
            attested.id.as_bytes(),
            field(vector, &["registration", "credential_id"]),
            "{name}"
        );
        assert_eq!(
            attested.key.cose_alg,
            vector["alg"].as_i64().unwrap(),
            "{name}"
        );
        let mut signed = field(vector, &["authentication", "authenticator_data"]);
        signed.extend_from_slice(&Sha256::digest(field(
            vector,
            &["authentication", "client_data_json"],
        )));
        let signature = field(vector, &["authentication", "signature"]);
        let jwk = attested.key.key.public_jwk().clone();
        let verifies = |message: &[u8]| {
            pollster::block_on(signature_verifies(
                attested.key.cose_alg,
                &jwk,
                message,
                &signature,
                &LocalSignatureCheck,
            ))
            .unwrap()
        };
        assert!(verifies(&signed), "{name}: the signature verifies");
        signed[40] ^= 1;
        assert!(!verifies(&signed), "{name}: a changed byte fails");
    }
}

#[test]
fn the_spec_vectors_registrations_meet_each_check_until_the_one_they_fail() {
    // The vectors are made with user verification drawn at random, some in cross-origin frames,
    // most with an attestation other than `none`: the check they fail says every earlier check
    // (JSON, origin, CBOR, RP id hash, user presence) passed.
    let vectors: Value = serde_json::from_str(SPEC_VECTORS).unwrap();
    let rp = relying_party("example.org", "https://example.org");
    for vector in vectors["vectors"].as_array().unwrap() {
        let name = vector["name"].as_str().unwrap();
        let id = vector["registration"]["credential_id"].as_str().unwrap();
        let body = serde_json::json!({
            "id": id, "rawId": id, "type": "public-key",
            "response": {
                "clientDataJSON": vector["registration"]["client_data_json"],
                "attestationObject": vector["registration"]["attestation_object"],
            },
        });
        let flags = vector["expected"]["flags_registration"].as_u64().unwrap() as u8;
        let expected = if vector["expected"]["cross_origin_registration"] == true {
            PasskeyRefusal::CrossOrigin
        } else if vector["fmt"] != "none" {
            PasskeyRefusal::Attestation
        } else if flags & Flags::UV == 0 {
            PasskeyRefusal::UserNotVerified
        } else {
            panic!("{name}: every vector fails one of the checks above")
        };
        let outcome = check_registration(&rp, &serde_json::to_vec(&body).unwrap());
        assert_eq!(outcome.unwrap_err(), expected, "{name}");
    }
}

/// A registration and a sign-in Chromium's virtual authenticator made for the worker's options
/// (recorded by tests/e2e/passkeys-browser.test.mjs).
const CHROMIUM: &str = include_str!("testdata/chromium-virtual-authenticator.json");

#[test]
fn chromiums_own_ceremonies_pass_every_check() {
    let recorded: Value = serde_json::from_str(CHROMIUM).unwrap();
    let rp = relying_party(
        recorded["rp_id"].as_str().unwrap(),
        recorded["origin"].as_str().unwrap(),
    );
    let registration = serde_json::to_vec(&recorded["registration"]["credential"]).unwrap();
    let checked = check_registration(&rp, &registration).unwrap();
    assert_eq!(
        checked.challenge,
        recorded["registration"]["challenge"].as_str().unwrap()
    );
    assert_eq!(
        checked.id.encoded(),
        recorded["registration"]["credential"]["id"]
            .as_str()
            .unwrap()
    );
    let passkey = checked.passkey("Laptop".into(), NOW, None);

    // The sign-in answers a challenge of that run's keys: everything but the challenge holds.
    let credential = &recorded["authentication"]["credential"];
    let body = serde_json::to_vec(credential).unwrap();
    assert_eq!(
        read_assertion(&rp, &body, NOW).unwrap_err(),
        PasskeyRefusal::Challenge
    );
    let data = b64url_decode(
        credential["response"]["authenticatorData"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    let parsed = authenticator_data::parse(&data).unwrap();
    assert!(parsed.flags.user_present() && parsed.flags.user_verified());
    assert!(
        parsed.sign_count > passkey.sign_count,
        "the counter went forward"
    );
    let client_data =
        b64url_decode(credential["response"]["clientDataJSON"].as_str().unwrap()).unwrap();
    let mut signed = data.clone();
    signed.extend_from_slice(&Sha256::digest(&client_data));
    let signature = b64url_decode(credential["response"]["signature"].as_str().unwrap()).unwrap();
    let verifies = |message: &[u8]| {
        pollster::block_on(signature_verifies(
            passkey.cose_alg,
            &passkey.jwk,
            message,
            &signature,
            &LocalSignatureCheck,
        ))
        .unwrap()
    };
    assert!(verifies(&signed));
    signed[0] ^= 1;
    assert!(!verifies(&signed));
}

// --- registration ---------------------------------------------------------------------------------

/// One change of an honest ceremony and the refusal it must meet.
type Case = (&'static str, fn(&mut Ceremony), PasskeyRefusal);

/// The changes of the authenticator data that both ceremonies refuse alike.
fn authenticator_cases() -> Vec<Case> {
    vec![
        (
            "another RP id's hash",
            |c| c.rp_id = "example.com".into(),
            PasskeyRefusal::RpIdHash,
        ),
        (
            "no user presence",
            |c| c.flags &= !Flags::UP,
            PasskeyRefusal::UserNotPresent,
        ),
        (
            "no user verification",
            |c| c.flags &= !Flags::UV,
            PasskeyRefusal::UserNotVerified,
        ),
    ]
}

#[test]
fn an_honest_registration_gives_the_credential_and_its_flags() {
    for key in [SoftKey::es256(3), SoftKey::ed25519(3)] {
        let mut ceremony = registration(&key);
        ceremony.flags |= Flags::BE | Flags::BS;
        ceremony.counter = 0;
        let checked =
            check_registration(&rp(), &ceremony.registration(&key, no_statement())).unwrap();
        assert_eq!(checked.id.as_bytes(), CREDENTIAL_ID);
        assert_eq!(checked.challenge, b64url(&[1; 32]));
        assert_eq!(checked.cose_alg, key.cose_alg());
        assert!(checked.backup_eligible && checked.backed_up);
        assert_eq!(checked.sign_count, 0);
    }
}

#[test]
fn every_hostile_registration_is_refused_for_its_reason() {
    let key = SoftKey::es256(3);
    let mut cases = authenticator_cases();
    cases.extend::<Vec<Case>>(vec![
        (
            "another origin",
            |c| c.origin = "https://login.example.com.evil.test".into(),
            PasskeyRefusal::WrongOrigin,
        ),
        (
            "the origin with a port",
            |c| c.origin = "https://login.example.com:8443".into(),
            PasskeyRefusal::WrongOrigin,
        ),
        (
            "a sign-in's client data",
            |c| c.kind = GET.into(),
            PasskeyRefusal::WrongType,
        ),
        (
            "a cross-origin frame",
            |c| c.extra_client_data = r#","crossOrigin":true"#.into(),
            PasskeyRefusal::Malformed("clientDataJSON"),
        ),
        (
            "a top origin",
            |c| c.extra_client_data = r#","topOrigin":"https://evil.test""#.into(),
            PasskeyRefusal::CrossOrigin,
        ),
        (
            "backed up yet not eligible",
            |c| c.flags |= Flags::BS,
            PasskeyRefusal::BackupFlags,
        ),
        (
            "a packed attestation",
            |c| c.fmt = "packed".into(),
            PasskeyRefusal::Attestation,
        ),
        (
            "ES384 named in the key",
            |c| c.cose_alg = -35,
            PasskeyRefusal::AlgorithmNotOffered,
        ),
        (
            "EdDSA named on a P-256 key",
            |c| c.cose_alg = -8,
            PasskeyRefusal::PublicKey,
        ),
        (
            "an id of 1,024 bytes",
            |c| c.id = vec![1; 1024],
            PasskeyRefusal::CredentialIdLength,
        ),
        (
            "an id of 8 bytes",
            |c| c.id = vec![1; 8],
            PasskeyRefusal::CredentialIdLength,
        ),
        (
            "rawId not the id",
            |c| c.raw_id = Some(vec![2; 32]),
            PasskeyRefusal::CredentialIdMismatch,
        ),
        (
            "no credential data",
            |c| c.attested = false,
            PasskeyRefusal::Malformed("attested credential data"),
        ),
        (
            "trailing bytes",
            |c| c.trailing = vec![0; 3],
            PasskeyRefusal::Malformed("authenticator data (trailing bytes)"),
        ),
        (
            "another credential type",
            |c| c.credential_type = "password".into(),
            PasskeyRefusal::WrongType,
        ),
        (
            "oversized client data",
            |c| c.extra_client_data = format!(r#","pad":"{}""#, "x".repeat(2100)),
            PasskeyRefusal::TooLarge("clientDataJSON"),
        ),
    ]);
    for (what, change, expected) in cases {
        let mut ceremony = registration(&key);
        change(&mut ceremony);
        let outcome = check_registration(&rp(), &ceremony.registration(&key, no_statement()));
        assert_eq!(outcome.unwrap_err(), expected, "{what}");
    }
}

#[test]
fn malformed_cbor_and_statements_are_refused() {
    let key = SoftKey::es256(3);
    let ceremony = registration(&key);
    let honest_data = ceremony.authenticator_data(Some(&key));
    let text = |s: &str| Cbor::Text(s.into());
    let object = |entries: Vec<(Cbor, Cbor)>| cbor(&Cbor::Map(entries));
    let cases: Vec<(&str, Vec<u8>, PasskeyRefusal)> = vec![
        (
            "not CBOR",
            vec![0xff, 0x00],
            PasskeyRefusal::Malformed("attestation object"),
        ),
        (
            "truncated",
            object(vec![(text("fmt"), text("none"))])[..5].to_vec(),
            PasskeyRefusal::Malformed("attestation object"),
        ),
        (
            "an array",
            cbor(&Cbor::Array(vec![])),
            PasskeyRefusal::Malformed("attestation object"),
        ),
        (
            "a fourth member",
            object(vec![
                (text("fmt"), text("none")),
                (text("attStmt"), no_statement()),
                (text("authData"), Cbor::Bytes(honest_data.clone())),
                (text("x"), text("y")),
            ]),
            PasskeyRefusal::Malformed("attestation object"),
        ),
        (
            "a statement under none",
            object(vec![
                (text("fmt"), text("none")),
                (
                    text("attStmt"),
                    Cbor::Map(vec![(text("sig"), Cbor::Bytes(vec![1]))]),
                ),
                (text("authData"), Cbor::Bytes(honest_data.clone())),
            ]),
            PasskeyRefusal::Attestation,
        ),
        (
            "a truncated COSE key",
            object(vec![
                (text("fmt"), text("none")),
                (text("attStmt"), no_statement()),
                (
                    text("authData"),
                    Cbor::Bytes(honest_data[..honest_data.len() - 5].to_vec()),
                ),
            ]),
            PasskeyRefusal::Malformed("credential public key"),
        ),
        (
            "authData of 20 bytes",
            object(vec![
                (text("fmt"), text("none")),
                (text("attStmt"), no_statement()),
                (text("authData"), Cbor::Bytes(vec![0; 20])),
            ]),
            PasskeyRefusal::Malformed("authenticator data"),
        ),
        (
            "bytes after the object",
            [
                object(vec![
                    (text("fmt"), text("none")),
                    (text("attStmt"), no_statement()),
                    (text("authData"), Cbor::Bytes(honest_data.clone())),
                ]),
                vec![0],
            ]
            .concat(),
            PasskeyRefusal::Malformed("attestation object"),
        ),
    ];
    for (what, attestation, expected) in cases {
        let outcome = check_registration(&rp(), &ceremony.registration_with(&attestation));
        assert_eq!(outcome.unwrap_err(), expected, "{what}");
    }
    let oversized = ceremony.registration_with(&vec![0; 5000]);
    assert_eq!(
        check_registration(&rp(), &oversized).unwrap_err(),
        PasskeyRefusal::TooLarge("attestation object")
    );
    assert_eq!(
        check_registration(&rp(), b"{}").unwrap_err(),
        PasskeyRefusal::Malformed("credential")
    );
}

/// The outcome of a `none` registration whose authenticator data carries `cose_key` as the
/// credential's key, in an attestation object encoded by `encode`.
fn with_cose_key(cose_key: &[u8], encode: fn(Vec<u8>) -> Vec<u8>) -> Result<(), PasskeyRefusal> {
    let key = SoftKey::es256(3);
    let ceremony = registration(&key);
    let honest = ceremony.authenticator_data(Some(&key));
    // 37 fixed bytes, the AAGUID, the id's length and the 32-byte id, then the key.
    let data = [&honest[..37 + 16 + 2 + 32], cose_key].concat();
    check_registration(&rp(), &ceremony.registration_with(&encode(data))).map(|_| ())
}

fn none_object(data: Vec<u8>) -> Vec<u8> {
    cbor(&Cbor::Map(vec![
        (Cbor::Text("fmt".into()), Cbor::Text("none".into())),
        (Cbor::Text("attStmt".into()), no_statement()),
        (Cbor::Text("authData".into()), Cbor::Bytes(data)),
    ]))
}

#[test]
fn cbor_is_taken_whole_of_definite_lengths_and_cose_keys_as_coset_took_them() {
    let key = SoftKey::es256(3);
    let honest_key = key.cose_key(-7);
    let Cbor::Map(pairs) = coset::cbor::de::from_reader::<Cbor, _>(&honest_key[..]).unwrap() else {
        panic!("a COSE key is a map")
    };
    let int = |n: i64| Cbor::Integer(n.into());
    let changed = |extra: Vec<(Cbor, Cbor)>| cbor(&Cbor::Map([pairs.clone(), extra].concat()));
    assert_eq!(with_cose_key(&honest_key, none_object), Ok(()));
    // The same key as an indefinite-length map; the object as one; the bytes in chunks.
    let indefinite_key = [&[0xbf][..], &honest_key[1..], &[0xff]].concat();
    let indefinite_object = |data: Vec<u8>| {
        let definite = none_object(data);
        [&[0xbf][..], &definite[1..], &[0xff]].concat()
    };
    let chunked = |data: Vec<u8>| {
        let mut object = cbor(&Cbor::Map(vec![
            (Cbor::Text("fmt".into()), Cbor::Text("none".into())),
            (Cbor::Text("attStmt".into()), no_statement()),
        ]));
        object[0] += 1;
        object.extend(cbor(&Cbor::Text("authData".into())));
        object.push(0x5f);
        object.extend(cbor(&Cbor::Bytes(data[..10].to_vec())));
        object.extend(cbor(&Cbor::Bytes(data[10..].to_vec())));
        object.push(0xff);
        object
    };
    let nested = |depth: usize| {
        let mut value = vec![0x81; depth];
        value.push(0);
        let mut key = changed(vec![]);
        key[0] += 1;
        key.push(0x29); // label -10
        key.extend(value);
        key
    };
    type Case = (
        &'static str,
        Vec<u8>,
        fn(Vec<u8>) -> Vec<u8>,
        Result<(), PasskeyRefusal>,
    );
    let cases: Vec<Case> = vec![
        (
            "an indefinite-length COSE key",
            indefinite_key,
            none_object,
            Err(PasskeyRefusal::Malformed("credential public key")),
        ),
        (
            "an indefinite-length attestation object",
            honest_key.clone(),
            indefinite_object,
            Err(PasskeyRefusal::Malformed("attestation object")),
        ),
        (
            "authData in chunks",
            honest_key.clone(),
            chunked,
            Err(PasskeyRefusal::Malformed("attestation object")),
        ),
        (
            "a parameter nested 255 deep",
            nested(255),
            none_object,
            Ok(()),
        ),
        (
            "a parameter nested 256 deep",
            nested(256),
            none_object,
            Err(PasskeyRefusal::Malformed("credential public key")),
        ),
        (
            "a label twice",
            changed(vec![(int(3), int(-7))]),
            none_object,
            Err(PasskeyRefusal::PublicKey),
        ),
        (
            "a label neither an integer nor text",
            changed(vec![(Cbor::Bytes(vec![1]), int(1))]),
            none_object,
            Err(PasskeyRefusal::PublicKey),
        ),
        (
            "an empty kid",
            changed(vec![(int(2), Cbor::Bytes(vec![]))]),
            none_object,
            Err(PasskeyRefusal::PublicKey),
        ),
        (
            "a kid, key_ops and a Base IV",
            changed(vec![
                (int(2), Cbor::Bytes(vec![1])),
                (int(4), Cbor::Array(vec![int(2), Cbor::Text("x".into())])),
                (int(5), Cbor::Bytes(vec![1])),
            ]),
            none_object,
            Ok(()),
        ),
        (
            "key_ops twice the same",
            changed(vec![(int(4), Cbor::Array(vec![int(2), int(2)]))]),
            none_object,
            Err(PasskeyRefusal::PublicKey),
        ),
        (
            "an unregistered key operation",
            changed(vec![(int(4), Cbor::Array(vec![int(11)]))]),
            none_object,
            Err(PasskeyRefusal::PublicKey),
        ),
        (
            "a tagged parameter of no use",
            changed(vec![(
                int(-10),
                Cbor::Tag(24, Box::new(Cbor::Bytes(vec![1]))),
            )]),
            none_object,
            Ok(()),
        ),
        (
            "a tagged curve",
            cbor(&Cbor::Map(
                pairs
                    .iter()
                    .map(|(label, value)| match label.as_integer().map(i128::from) {
                        Some(-1) => (label.clone(), Cbor::Tag(0, Box::new(value.clone()))),
                        _ => (label.clone(), value.clone()),
                    })
                    .collect(),
            )),
            none_object,
            Err(PasskeyRefusal::PublicKey),
        ),
    ];
    for (what, cose_key, encode, expected) in cases {
        assert_eq!(with_cose_key(&cose_key, encode), expected, "{what}");
    }
    // Algorithms: one not offered, one IANA does not register (coset's malformed key), one of
    // private use, one as text.
    for (alg, expected) in [
        (int(-35), PasskeyRefusal::AlgorithmNotOffered),
        (int(-100), PasskeyRefusal::PublicKey),
        (int(-70_000), PasskeyRefusal::AlgorithmNotOffered),
        (
            Cbor::Text("ES256".into()),
            PasskeyRefusal::AlgorithmNotOffered,
        ),
    ] {
        let key: Vec<(Cbor, Cbor)> = pairs
            .iter()
            .map(|(label, value)| match label.as_integer().map(i128::from) {
                Some(3) => (label.clone(), alg.clone()),
                _ => (label.clone(), value.clone()),
            })
            .collect();
        assert_eq!(
            with_cose_key(&cbor(&Cbor::Map(key)), none_object),
            Err(expected),
            "{alg:?}"
        );
    }
}

// --- sign-in --------------------------------------------------------------------------------------

#[test]
fn an_honest_assertion_verifies_for_each_algorithm() {
    for key in [SoftKey::es256(4), SoftKey::ed25519(4)] {
        let passkey = registered(&key);
        let ceremony = assertion(&key);
        assert_eq!(check(&ceremony, &key, &passkey), Ok(()));
        let read = read_assertion(&rp(), &ceremony.assertion(&key), NOW).unwrap();
        assert_eq!(read.sign_count, 1);
        assert_eq!(read.challenge, b64url(&sign_in_challenge()));
    }
}

#[test]
fn every_hostile_assertion_is_refused_for_its_reason() {
    let key = SoftKey::es256(4);
    let passkey = registered(&key);
    let mut cases = authenticator_cases();
    cases.extend::<Vec<Case>>(vec![
        (
            "another origin",
            |c| c.origin = "https://evil.test".into(),
            PasskeyRefusal::WrongOrigin,
        ),
        (
            "a registration's client data",
            |c| c.kind = CREATE.into(),
            PasskeyRefusal::WrongType,
        ),
        (
            "a made-up challenge",
            |c| c.challenge = vec![5; 40],
            PasskeyRefusal::Challenge,
        ),
        (
            "a registration's challenge",
            |c| c.challenge = vec![1; 32],
            PasskeyRefusal::Challenge,
        ),
        (
            "backup eligibility that changed",
            |c| c.flags |= Flags::BE,
            PasskeyRefusal::BackupFlags,
        ),
        (
            "no user handle",
            |c| c.user_handle = None,
            PasskeyRefusal::UserHandle,
        ),
        (
            "a short user handle",
            |c| c.user_handle = Some(vec![9; 8]),
            PasskeyRefusal::UserHandle,
        ),
        (
            "another user's handle",
            |c| c.user_handle = Some(vec![8; 32]),
            PasskeyRefusal::UserHandle,
        ),
        (
            "trailing bytes",
            |c| c.trailing = vec![1],
            PasskeyRefusal::Malformed("authenticator data (trailing bytes)"),
        ),
        (
            "an id of 8 bytes",
            |c| c.id = vec![7; 8],
            PasskeyRefusal::CredentialIdLength,
        ),
        (
            "rawId not the id",
            |c| c.raw_id = Some(vec![2; 32]),
            PasskeyRefusal::CredentialIdMismatch,
        ),
    ]);
    for (what, change, expected) in cases {
        let mut ceremony = assertion(&key);
        change(&mut ceremony);
        assert_eq!(check(&ceremony, &key, &passkey), Err(expected), "{what}");
    }
    // Signed by another key, or not signed at all.
    assert_eq!(
        check(&assertion(&key), &SoftKey::es256(5), &passkey),
        Err(PasskeyRefusal::Signature)
    );
    let ceremony = assertion(&key);
    let data = ceremony.authenticator_data(None);
    for (what, signature) in [
        ("empty", vec![]),
        ("raw r||s", vec![1; 64]),
        ("oversized", vec![0x30; 2000]),
    ] {
        let body = ceremony.assertion_with(&data, &signature);
        let outcome = read_assertion(&rp(), &body, NOW).and_then(|read| {
            let handle = UserHandle::from_bytes(&[9; 32]).unwrap();
            pollster::block_on(read.check(&passkey, Some(&handle), &LocalSignatureCheck))
        });
        let expected = if what == "oversized" {
            PasskeyRefusal::TooLarge("signature")
        } else {
            PasskeyRefusal::Signature
        };
        assert_eq!(outcome, Err(expected), "{what}");
    }
    // Authenticator data carrying a new credential is no assertion.
    let mut with_credential = assertion(&key);
    with_credential.flags |= Flags::AT;
    let body = with_credential
        .assertion_with(&registration(&key).authenticator_data(Some(&key)), &[1; 70]);
    assert_eq!(
        read_assertion(&rp(), &body, NOW).unwrap_err(),
        PasskeyRefusal::Malformed("authenticator data (credential data)")
    );
}

#[test]
fn sign_in_challenges_live_two_to_four_minutes_and_only_here() {
    let entropy = SeededEntropy::default();
    let challenges = SignInChallenges::new(&ring());
    let challenge = challenges.issue(&entropy, NOW).unwrap();
    assert_eq!(challenge.len(), 40);
    assert_ne!(challenge, challenges.issue(&entropy, NOW).unwrap());
    assert!(challenges.accepts(&challenge, NOW + 119));
    assert!(!challenges.accepts(&challenge, NOW + 240));
    let other = SessionKeyRing::parse("s1:ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8").unwrap();
    assert!(!SignInChallenges::new(&other).accepts(&challenge, NOW));
    // After a rotation of SESSION_KEYS, a challenge issued just before it still passes.
    let rotated = SessionKeyRing::parse(
        "s2:ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8,s1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",
    )
    .unwrap();
    assert!(SignInChallenges::new(&rotated).accepts(&challenge, NOW));
    let fresh = SignInChallenges::new(&rotated)
        .issue(&entropy, NOW)
        .unwrap();
    assert!(!challenges.accepts(&fresh, NOW), "issued under the new key");
    let mut changed = challenge.clone();
    changed[0] ^= 1;
    assert!(!challenges.accepts(&changed, NOW));
    assert!(SignInChallenges::expires_by(NOW) >= NOW + 239);
}

// --- the registry ---------------------------------------------------------------------------------

fn session(n: u8) -> SessionId {
    SessionId::parse(&b64url(&[n; 16])).unwrap()
}

fn begin(state: &mut UserPasskeys, session_n: u8, challenge: &str) -> PasskeyReply {
    apply(
        state,
        PasskeyCommand::Begin {
            account: None,
            session: session(session_n),
            challenge: challenge.into(),
            handle: UserHandle::from_bytes(&[session_n; 32]).unwrap(),
            expires_at: NOW + 300,
            now: NOW,
        },
    )
}

/// Finishes a registration as the gate does: the challenge taken, then the passkey added.
fn finish(
    state: &mut UserPasskeys,
    session_n: u8,
    challenge: &str,
    passkey: StoredPasskey,
    now: i64,
) -> PasskeyReply {
    let take = PasskeyCommand::Take {
        session: session(session_n),
        challenge: challenge.into(),
        now,
    };
    match apply(state, take) {
        PasskeyReply::Taken(_) => apply(state, PasskeyCommand::Add { passkey }),
        refused => refused,
    }
}

fn stored(id: u8, sign_count: u32) -> StoredPasskey {
    let mut passkey = registered(&SoftKey::es256(id));
    passkey.id = CredentialId::from_bytes(&[id; 32]).unwrap();
    passkey.sign_count = sign_count;
    passkey
}

#[test]
fn a_registration_challenge_is_taken_once_by_its_own_session_in_time() {
    let mut state = UserPasskeys::default();
    let PasskeyReply::Begun { handle, exclude } = begin(&mut state, 1, "c1") else {
        panic!()
    };
    assert!(exclude.is_empty());
    // The handle made at the first registration stays.
    let PasskeyReply::Begun { handle: again, .. } = begin(&mut state, 2, "c2") else {
        panic!()
    };
    assert_eq!(handle, again);
    assert_eq!(
        finish(&mut state, 2, "c1", stored(1, 0), NOW),
        PasskeyReply::Refused(RegistryRefusal::Challenge),
        "another session's"
    );
    assert!(matches!(
        finish(&mut state, 1, "c1", stored(1, 0), NOW),
        PasskeyReply::Added(_)
    ));
    assert_eq!(
        finish(&mut state, 1, "c1", stored(2, 0), NOW),
        PasskeyReply::Refused(RegistryRefusal::Challenge),
        "taken"
    );
    assert_eq!(
        finish(&mut state, 2, "c2", stored(2, 0), NOW + 300),
        PasskeyReply::Refused(RegistryRefusal::Challenge),
        "expired"
    );
    let PasskeyReply::Begun { exclude, .. } = begin(&mut state, 3, "c3") else {
        panic!()
    };
    assert_eq!(exclude, vec![stored(1, 0).id]);
    assert_eq!(
        finish(&mut state, 3, "c3", stored(1, 0), NOW),
        PasskeyReply::Refused(RegistryRefusal::Duplicate)
    );
}

#[test]
fn a_user_has_at_most_so_many_passkeys() {
    let mut state = UserPasskeys::default();
    for n in 0..MAX_PASSKEYS as u8 {
        begin(&mut state, 1, &format!("c{n}"));
        assert!(matches!(
            finish(&mut state, 1, &format!("c{n}"), stored(n + 1, 0), NOW),
            PasskeyReply::Added(_)
        ));
    }
    assert_eq!(
        begin(&mut state, 1, "more"),
        PasskeyReply::Refused(RegistryRefusal::TooMany)
    );
}

fn signed_in(
    state: &mut UserPasskeys,
    id: u8,
    challenge: &str,
    sign_count: u32,
    refuse: bool,
    now: i64,
) -> PasskeyReply {
    apply(
        state,
        PasskeyCommand::SignedIn {
            id: CredentialId::from_bytes(&[id; 32]).unwrap(),
            challenge: challenge.into(),
            until: now + 240,
            sign_count,
            backed_up: false,
            refuse_regression: refuse,
            now,
        },
    )
}

#[test]
fn a_sign_in_spends_its_challenge_and_moves_the_counter_forward() {
    let mut state = UserPasskeys::default();
    begin(&mut state, 1, "c");
    finish(&mut state, 1, "c", stored(1, 5), NOW);
    let PasskeyReply::SignedIn { passkey, regressed } =
        signed_in(&mut state, 1, "s1", 6, true, NOW)
    else {
        panic!()
    };
    assert!(!regressed);
    assert_eq!((passkey.sign_count, passkey.last_used_at), (6, Some(NOW)));
    assert_eq!(
        signed_in(&mut state, 1, "s1", 7, true, NOW + 1),
        PasskeyReply::Refused(RegistryRefusal::Spent)
    );
    assert_eq!(
        signed_in(&mut state, 1, "s2", 6, true, NOW + 1),
        PasskeyReply::Refused(RegistryRefusal::CounterRegressed)
    );
    // A regression spends its challenge too.
    assert_eq!(
        signed_in(&mut state, 1, "s2", 9, true, NOW + 1),
        PasskeyReply::Refused(RegistryRefusal::Spent)
    );
    let PasskeyReply::SignedIn { passkey, regressed } =
        signed_in(&mut state, 1, "s3", 2, false, NOW + 1)
    else {
        panic!()
    };
    assert!(regressed, "logged, let through");
    assert_eq!(passkey.sign_count, 6, "the counter never goes back");
    assert_eq!(
        signed_in(&mut state, 2, "s4", 1, true, NOW),
        PasskeyReply::Refused(RegistryRefusal::Unknown)
    );
    // Once expired, a spent challenge is forgotten: the MAC refuses it long before.
    assert!(matches!(
        signed_in(&mut state, 1, "s1", 10, true, NOW + 241),
        PasskeyReply::SignedIn { .. }
    ));
}

#[test]
fn counters_of_zero_are_synced_passkeys_not_regressions() {
    assert!(!counter_regressed(0, 0));
    assert!(!counter_regressed(0, 1));
    assert!(!counter_regressed(4, 5));
    assert!(counter_regressed(5, 5));
    assert!(counter_regressed(5, 0));
    assert!(counter_regressed(5, 4));
}

#[test]
fn the_last_passkey_of_a_user_without_a_password_stays() {
    let mut state = UserPasskeys::default();
    for n in 1..=2u8 {
        begin(&mut state, 1, &format!("c{n}"));
        finish(&mut state, 1, &format!("c{n}"), stored(n, 0), NOW);
    }
    let remove = |state: &mut UserPasskeys, id: u8, keep_last: bool| {
        apply(
            state,
            PasskeyCommand::Remove {
                id: CredentialId::from_bytes(&[id; 32]).unwrap(),
                keep_last,
            },
        )
    };
    assert!(matches!(
        remove(&mut state, 1, true),
        PasskeyReply::Removed(_)
    ));
    assert_eq!(
        remove(&mut state, 2, true),
        PasskeyReply::Refused(RegistryRefusal::LastPasskey)
    );
    assert_eq!(
        remove(&mut state, 1, true),
        PasskeyReply::Refused(RegistryRefusal::Unknown)
    );
    assert!(matches!(
        remove(&mut state, 2, false),
        PasskeyReply::Removed(_)
    ));
    let PasskeyReply::Listed { passkeys, handle } = apply(&mut state, PasskeyCommand::List) else {
        panic!()
    };
    assert!(passkeys.is_empty() && handle.is_some());
    assert_ne!(
        state,
        UserPasskeys::default(),
        "the handle is kept for good"
    );
}

#[test]
fn the_options_offer_what_the_checks_accept() {
    let handle = UserHandle::from_bytes(&[9; 32]).unwrap();
    let user = crate::auth::names::username::testing::named("alice");
    let options = rp().creation_options(
        &user,
        &handle,
        &[1; 32],
        &[CredentialId::from_bytes(&[7; 32]).unwrap()],
    );
    assert_eq!(options["rp"]["id"], RP_ID);
    assert_eq!(options["user"]["id"], handle.encoded());
    assert_eq!(
        options["authenticatorSelection"]["userVerification"],
        "required"
    );
    assert_eq!(options["authenticatorSelection"]["residentKey"], "required");
    assert_eq!(options["attestation"], "none");
    let algs: Vec<i64> = options["pubKeyCredParams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["alg"].as_i64().unwrap())
        .collect();
    assert_eq!(algs, [-8, -7, -257]);
    assert_eq!(options["excludeCredentials"][0]["id"], b64url(&[7; 32]));
    assert!(rp().serves(ORIGIN));
    for other in [
        "https://login.example.com:443",
        "http://login.example.com",
        "https://127.0.0.1",
    ] {
        assert!(!rp().serves(other), "{other}");
    }
    let request = rp().request_options(&[2; 40]);
    assert_eq!(request["allowCredentials"], serde_json::json!([]));
    assert_eq!(request["userVerification"], "required");
    assert_eq!(request["rpId"], RP_ID);
}
