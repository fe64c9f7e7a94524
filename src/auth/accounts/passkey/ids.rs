//! The two names WebAuthn gives: a credential's id (chosen by the authenticator) and a user's
//! handle (chosen by the relying party). Both travel as base64url.

use core::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::auth::env::{random_bytes, Entropy, EntropyError};
use crate::auth::names::encoding::{b64url, b64url_decode};

/// The shortest credential id taken: authenticators make ids of at least 16 random bytes (the
/// 16 bytes of a credential's entropy, WebAuthn §4 "Credential ID").
pub const MIN_CREDENTIAL_ID: usize = 16;
/// The longest credential id WebAuthn allows (§7.1 step 20).
pub const MAX_CREDENTIAL_ID: usize = 1023;
/// The bytes of a user handle made here (WebAuthn allows up to 64).
pub const USER_HANDLE_BYTES: usize = 32;

/// A credential's id, 16 to 1023 bytes.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct CredentialId(Vec<u8>);

impl CredentialId {
    /// The id from its bytes, if its length is one WebAuthn allows and authenticators make.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        (MIN_CREDENTIAL_ID..=MAX_CREDENTIAL_ID)
            .contains(&bytes.len())
            .then(|| Self(bytes.to_vec()))
    }

    /// The id from its base64url form.
    pub fn parse(text: &str) -> Option<Self> {
        // Base64url of the longest id is 1,364 characters; refuse longer text before decoding.
        if text.len() > MAX_CREDENTIAL_ID * 4 / 3 + 4 {
            return None;
        }
        Self::from_bytes(&b64url_decode(text)?)
    }

    /// The id's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The id as base64url, as WebAuthn's JSON forms write it.
    pub fn encoded(&self) -> String {
        b64url(&self.0)
    }
}

impl fmt::Debug for CredentialId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CredentialId({})", self.encoded())
    }
}

impl Serialize for CredentialId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.encoded())
    }
}

impl<'de> Deserialize<'de> for CredentialId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).ok_or_else(|| serde::de::Error::custom("not a credential id"))
    }
}

/// A user's handle: 32 random bytes made when the user first registers a passkey, so that it
/// names the user without saying who they are (WebAuthn §14.6.1). Authenticators return it with
/// every sign-in, which is how a sign-in without a username finds its user.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct UserHandle([u8; USER_HANDLE_BYTES]);

impl UserHandle {
    /// A new random handle.
    pub fn generate(entropy: &dyn Entropy) -> Result<Self, EntropyError> {
        random_bytes(entropy).map(Self)
    }

    /// The handle from the bytes an authenticator returned, if they are one made here.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(Self)
    }

    /// The handle from its base64url form.
    pub fn parse(text: &str) -> Option<Self> {
        if text.len() > 64 {
            return None;
        }
        Self::from_bytes(&b64url_decode(text)?)
    }

    /// The handle as base64url.
    pub fn encoded(&self) -> String {
        b64url(&self.0)
    }
}

impl fmt::Debug for UserHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UserHandle({})", self.encoded())
    }
}

impl Serialize for UserHandle {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.encoded())
    }
}

impl<'de> Deserialize<'de> for UserHandle {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).ok_or_else(|| serde::de::Error::custom("not a user handle"))
    }
}
