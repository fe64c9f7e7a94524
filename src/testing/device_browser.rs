//! A browser's device key for the core's tests of device-bound sessions: P-256, as browsers
//! use, and the `dbsc+jwt` responses it signs (native only: the worker's tests sign with
//! WebCrypto, tests/e2e/dbsc.test.mjs).

use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use serde_json::{json, Value};

use crate::auth::names::encoding::b64url;

/// A browser's device key, fixed by its seed.
pub struct DeviceBrowser(SigningKey);

impl DeviceBrowser {
    /// The browser whose key is made from `seed` (not zero).
    pub fn new(seed: u8) -> Self {
        Self(SigningKey::from_slice(&[seed; 32]).unwrap())
    }

    /// The public key, as a registration carries it.
    pub fn jwk(&self) -> Value {
        let point = self.0.verifying_key().to_encoded_point(false);
        json!({"kty": "EC", "crv": "P-256", "x": b64url(point.x().unwrap()), "y": b64url(point.y().unwrap())})
    }

    /// `header` and `claims` signed with the key (ES256), as a compact JWS.
    pub fn sign(&self, header: &Value, claims: &Value) -> String {
        let input = format!(
            "{}.{}",
            b64url(header.to_string().as_bytes()),
            b64url(claims.to_string().as_bytes())
        );
        let signature: Signature = self.0.sign(input.as_bytes());
        format!("{input}.{}", b64url(&signature.to_bytes()))
    }

    /// A registration response signing `challenge`, with the public key.
    pub fn registration(&self, challenge: &str) -> String {
        self.sign(
            &json!({"typ": "dbsc+jwt", "alg": "ES256", "jwk": self.jwk()}),
            &json!({"jti": challenge}),
        )
    }

    /// A refresh response signing `challenge`.
    pub fn refresh(&self, challenge: &str) -> String {
        self.sign(
            &json!({"typ": "dbsc+jwt", "alg": "ES256"}),
            &json!({"jti": challenge}),
        )
    }
}
