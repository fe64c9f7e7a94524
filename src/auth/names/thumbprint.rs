//! A key's name: its RFC 7638 JWK thumbprint, SHA-256 over the required public members in
//! lexicographic order, base64url (computed by `PublicKey::thumbprint`). Tokens carry it as
//! `cnf.jkt` (RFC 9449 §6), sessions keep it, and the origin receives it.

use core::fmt;

use serde::{Deserialize, Serialize};

use crate::auth::names::encoding::{b64url, b64url_decode};

/// The base64url length of a SHA-256 digest.
const THUMBPRINT_LEN: usize = 43;

/// A key's RFC 7638 SHA-256 thumbprint, base64url: public, so it has a `Display`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Thumbprint(String);

impl Thumbprint {
    /// The thumbprint whose SHA-256 `digest` it is.
    pub fn from_digest(digest: &[u8; 32]) -> Self {
        Self(b64url(digest))
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
