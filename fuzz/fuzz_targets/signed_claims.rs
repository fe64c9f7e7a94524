//! Past the signature: a token correctly signed with the ring's key but with arbitrary header and
//! claims JSON (the input is `header JSON \n claims JSON`), as a leaked or misused key would allow.
//! Claim checking must never panic, and whatever validates must honour every rule it promises.
#![no_main]

use base64ct::{Base64UrlUnpadded, Encoding};
use edgegate::auth::token::keys::SessionKeyRing;
use edgegate::auth::token::{
    check_claims, validate_access, verify_jws, Audience, Expectation, TokenKind, ACCESS_TYP,
};
use jwt_compact::alg::{Hs256, Hs256Key};
use jwt_compact::{Algorithm as _, AlgorithmSignature as _};
use libfuzzer_sys::fuzz_target;

const KEY: [u8; 32] = [7; 32];
const NOW: i64 = 1_800_000_000;
const LEEWAY: i64 = 30;

fn b64url(bytes: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(bytes)
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (header, claims) = text.split_once('\n').unwrap_or((text, "{}"));
    let signing_input = format!(
        "{}.{}",
        b64url(header.as_bytes()),
        b64url(claims.as_bytes())
    );
    let signature = Hs256.sign(&Hs256Key::new(KEY), signing_input.as_bytes());
    let token = format!("{signing_input}.{}", b64url(&signature.as_bytes()));
    let ring = SessionKeyRing::from_raw("k1", &KEY).unwrap();
    let audience = Audience {
        issuer: "https://edge.example".into(),
        audience: "https://edge.example".into(),
    };
    let Ok(verified) = validate_access(&ring, &token, &audience, LEEWAY, NOW) else {
        return;
    };
    let jws = verify_jws(&ring, &token).expect("validated tokens verify");
    assert_eq!(jws.kid(), Some("k1"));
    assert_eq!(jws.token_type(), Some(ACCESS_TYP));
    assert_eq!(verified.claims().knd, TokenKind::Access);
    assert_eq!(verified.claims().iss, audience.issuer);
    assert_eq!(verified.claims().aud, audience.audience);
    assert!(NOW <= verified.expires_at().saturating_add(LEEWAY));
    let expect = Expectation {
        audience: &audience,
        kind: TokenKind::Access,
        leeway: LEEWAY,
        now: NOW,
    };
    assert_eq!(check_claims(&jws, &expect).as_ref(), Ok(&*verified));
    assert_eq!(verified.session().as_str(), verified.claims().sid);
});
