//! edgegate's per-request decision, compiled to wasm32 like the worker and timed in Node's V8
//! by `bench/wasm/bench.mjs`. Each export runs one phase `n` times and returns a checksum; the
//! JavaScript side times the call with `performance.now()`.

use wasm_bindgen::prelude::*;

mod phases;
use phases::Fixture;

thread_local! {
    static FIXTURE: Fixture = {
        let fixture = Fixture::new();
        fixture.check();
        fixture
    };
}

fn repeat(n: u32, phase: impl Fn(&Fixture) -> usize) -> u32 {
    FIXTURE.with(|fixture| {
        let mut sum = 0usize;
        for _ in 0..n {
            sum = sum.wrapping_add(phase(std::hint::black_box(fixture)));
        }
        sum as u32
    })
}

/// Builds the fixture and checks that every phase takes its success path.
#[wasm_bindgen]
pub fn setup() -> u32 {
    repeat(1, |f| f.headers.len())
}

#[wasm_bindgen]
pub fn request_read(n: u32) -> u32 {
    repeat(n, Fixture::request_read)
}

#[wasm_bindgen]
pub fn token_verify(n: u32) -> u32 {
    repeat(n, |f| f.verify().user().len())
}

#[wasm_bindgen]
pub fn decision_cached(n: u32) -> u32 {
    repeat(n, Fixture::decision_cached)
}

#[wasm_bindgen]
pub fn decision_uncached(n: u32) -> u32 {
    repeat(n, Fixture::decision_uncached)
}

#[wasm_bindgen]
pub fn decision_signed_here(n: u32) -> u32 {
    repeat(n, Fixture::decision_signed_here)
}

#[wasm_bindgen]
pub fn forward_headers(n: u32) -> u32 {
    FIXTURE.with(|fixture| {
        let identity = fixture.identity();
        let mut sum = 0usize;
        for _ in 0..n {
            sum = sum.wrapping_add(Fixture::headers(std::hint::black_box(&identity)));
        }
        sum as u32
    })
}

#[wasm_bindgen]
pub fn ed25519_sign(n: u32) -> u32 {
    repeat(n, |f| usize::from(f.ed25519_sign()))
}

/// One provider-token signature check (RS256 or ES256, as an ID token's) in wasm, `n` times:
/// what the same check costs in Rust, against the platform's WebCrypto that the worker uses (it
/// carries no RSA or curve code: the key is vetted by shape in the core, then imported by
/// WebCrypto). The key is parsed once, as a JWKS's keys are. Returns how many verified (so `n`
/// when the fixture is right).
#[wasm_bindgen]
pub fn provider_verify(alg: &str, jwk: &str, message: &[u8], signature: &[u8], n: u32) -> u32 {
    use jwt_compact::alg::{Es256, Rsa, RsaPublicKey};
    use jwt_compact::jwk::JsonWebKey;
    use jwt_compact::{Algorithm, AlgorithmSignature};
    let jwk: JsonWebKey<'_> = serde_json::from_str(jwk).expect("a JWK");
    let mut verified = 0;
    match alg {
        "RS256" => {
            let key = RsaPublicKey::try_from(&jwk).expect("an RSA key");
            for _ in 0..n {
                let signature = <Rsa as Algorithm>::Signature::try_from_slice(signature)
                    .expect("an RSA signature");
                let ok =
                    Rsa::rs256().verify_signature(&signature, std::hint::black_box(&key), message);
                verified += u32::from(ok);
            }
        }
        _ => {
            let key = p256::ecdsa::VerifyingKey::try_from(&jwk).expect("a P-256 key");
            for _ in 0..n {
                let signature = <Es256 as Algorithm>::Signature::try_from_slice(signature)
                    .expect("an ES256 signature");
                let ok = Es256.verify_signature(&signature, std::hint::black_box(&key), message);
                verified += u32::from(ok);
            }
        }
    }
    verified
}
