//! The id of a session: in tokens, cookies of the account page, store keys, the admin protocol
//! and audit lines.

use core::fmt;

use serde::{Deserialize, Serialize};

use crate::auth::env::{random_bytes, Entropy, EntropyError};
use crate::auth::names::encoding::{b64url, b64url_decode};

/// Bytes of randomness in a session id.
pub const SESSION_ID_BYTES: usize = 16;

/// A session id: random, never derived from user data, printable.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SessionId(String);

impl SessionId {
    /// A new id of [`SESSION_ID_BYTES`] random bytes, base64url; fails only if entropy does.
    pub fn generate(entropy: &dyn Entropy) -> Result<Self, EntropyError> {
        Ok(Self(b64url(&random_bytes::<SESSION_ID_BYTES>(entropy)?)))
    }

    /// Accepts only the shape [`SessionId::generate`] produces.
    pub fn parse(text: &str) -> Option<Self> {
        let bytes = b64url_decode(text)?;
        (bytes.len() == SESSION_ID_BYTES).then(|| Self(text.to_owned()))
    }

    /// The id as printed in tokens, store keys and logs.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
