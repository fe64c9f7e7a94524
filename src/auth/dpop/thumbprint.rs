//! A key's name: its RFC 7638 JWK thumbprint, SHA-256 over the required public members in
//! lexicographic order, base64url. Tokens carry it as `cnf.jkt` (RFC 9449 §6), sessions keep it,
//! and the origin receives it.

use core::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::auth::names::encoding::{b64url, b64url_decode};
use crate::auth::oidc::keys::{ProviderAlg, ProviderKey};

/// The base64url length of a SHA-256 digest.
const THUMBPRINT_LEN: usize = 43;

/// A key's RFC 7638 SHA-256 thumbprint, base64url: public, so it has a `Display`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Thumbprint(String);

impl Thumbprint {
    /// The thumbprint of `key`'s public members.
    pub fn of(key: &ProviderKey) -> Self {
        let jwk = key.public_jwk();
        let member = |name: &str| {
            serde_json::to_string(jwk.get(name).and_then(|value| value.as_str()).unwrap_or(""))
                .unwrap_or_default()
        };
        // Lexicographic member order, no whitespace (RFC 7638 §3.2); the values are base64url
        // or fixed names, so their JSON is the plain quoted text.
        let canonical = match key.alg() {
            ProviderAlg::Rs256 => {
                format!(r#"{{"e":{},"kty":"RSA","n":{}}}"#, member("e"), member("n"))
            }
            ProviderAlg::Es256 => format!(
                r#"{{"crv":"P-256","kty":"EC","x":{},"y":{}}}"#,
                member("x"),
                member("y")
            ),
            ProviderAlg::Ed25519 => {
                format!(r#"{{"crv":"Ed25519","kty":"OKP","x":{}}}"#, member("x"))
            }
        };
        Self(b64url(&Sha256::digest(canonical.as_bytes())))
    }

    /// The base64url text, as in `cnf.jkt`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Thumbprint {
    type Error = &'static str;

    /// A thumbprint read back (from a token or a stored session): 32 bytes, base64url.
    fn try_from(text: String) -> Result<Self, Self::Error> {
        let digest = (text.len() == THUMBPRINT_LEN)
            .then(|| b64url_decode(&text))
            .flatten();
        match digest {
            Some(bytes) if bytes.len() == 32 => Ok(Self(text)),
            _ => Err("a key thumbprint is 32 bytes, base64url"),
        }
    }
}

impl From<Thumbprint> for String {
    fn from(thumbprint: Thumbprint) -> Self {
        thumbprint.0
    }
}

impl fmt::Display for Thumbprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
