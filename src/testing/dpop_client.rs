//! A DPoP client for the core's tests: an Ed25519 key and the proofs it signs (RFC 9449 §4),
//! correct by default and changed field by field to make hostile ones.

use serde_json::{json, Value};

use crate::auth::names::encoding::b64url;
use crate::auth::names::thumbprint::Thumbprint;
use crate::auth::token::dpop::proof::token_hash;
use crate::auth::token::public_keys::{PublicAlg, PublicKey};

/// A client's key pair, fixed by its seed.
pub struct DpopClient {
    key: ed25519_compact::KeyPair,
}

impl DpopClient {
    /// The client whose key is made from `seed`.
    pub fn new(seed: u8) -> Self {
        Self {
            key: ed25519_compact::KeyPair::from_seed(ed25519_compact::Seed::new([seed; 32])),
        }
    }

    /// The public key, as a proof carries it.
    pub fn jwk(&self) -> Value {
        json!({"kty": "OKP", "crv": "Ed25519", "x": b64url(self.key.pk.as_ref())})
    }

    /// The key's thumbprint, what tokens bound to it name.
    pub fn thumbprint(&self) -> Thumbprint {
        PublicKey::from_jwk("", PublicAlg::Ed25519, &self.jwk())
            .unwrap()
            .thumbprint()
    }

    /// A correct header.
    pub fn header(&self) -> Value {
        json!({"typ": "dpop+jwt", "alg": "EdDSA", "jwk": self.jwk()})
    }

    /// Correct claims for `method` on `url` at `iat`, with `ath` of `token` if any.
    pub fn claims(
        &self,
        jti: &str,
        method: &str,
        url: &str,
        iat: i64,
        token: Option<&str>,
    ) -> Value {
        let mut claims = json!({"jti": jti, "htm": method, "htu": url, "iat": iat});
        if let Some(token) = token {
            claims["ath"] = json!(token_hash(token));
        }
        claims
    }

    /// `header` and `claims` signed with the key, as a compact JWS.
    pub fn sign(&self, header: &Value, claims: &Value) -> String {
        let input = format!(
            "{}.{}",
            b64url(header.to_string().as_bytes()),
            b64url(claims.to_string().as_bytes())
        );
        let signature = self.key.sk.sign(input.as_bytes(), None);
        format!("{input}.{}", b64url(signature.as_ref()))
    }

    /// A correct proof for `method` on `url` at `iat`, for `token` if any.
    pub fn proof(
        &self,
        jti: &str,
        method: &str,
        url: &str,
        iat: i64,
        token: Option<&str>,
    ) -> String {
        self.sign(&self.header(), &self.claims(jti, method, url, iat, token))
    }
}
