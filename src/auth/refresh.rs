//! Refresh tokens: opaque, 256 bits from a CSPRNG, stored only as a SHA-256 hash.
//!
//! The token is `<session id>.<secret>`. The session id part lets the store find the session
//! with one keyed read; all the security is in the 256-bit secret, of which the store keeps only
//! the hash, so a leaked store (or a KV listing) yields nothing that can be replayed. Knowing a
//! session id (the origin sees it in `X-Auth-Session`) is worth nothing without the secret, and a
//! wrong secret never revokes anything: only a hash the session once held proves reuse.

use core::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::encoding::{b64url, b64url_decode};
use super::env::{random_bytes, Entropy, EntropyError};
use super::secret::{ct_eq, Secret};

/// Bytes of secret in a refresh token.
pub const REFRESH_SECRET_BYTES: usize = 32;
/// Bytes of randomness in a session id.
pub const SESSION_ID_BYTES: usize = 16;

/// A session id: random, never derived from user data, printable.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SessionId(String);

impl SessionId {
    pub fn generate(entropy: &dyn Entropy) -> Result<Self, EntropyError> {
        Ok(Self(b64url(&random_bytes::<SESSION_ID_BYTES>(entropy)?)))
    }

    /// Accepts only the shape [`SessionId::generate`] produces.
    pub fn parse(text: &str) -> Option<Self> {
        let bytes = b64url_decode(text)?;
        (bytes.len() == SESSION_ID_BYTES).then(|| Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// SHA-256 of a refresh secret, as stored.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TokenHash(String);

impl TokenHash {
    fn of(secret: &[u8]) -> Self {
        Self(b64url(&Sha256::digest(secret)))
    }

    /// Constant-time comparison.
    pub fn matches(&self, other: &TokenHash) -> bool {
        ct_eq(self.0.as_bytes(), other.0.as_bytes())
    }
}

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenHash([redacted])")
    }
}

/// A freshly minted refresh token: the secret for the cookie, the hash for the store.
#[derive(Debug)]
pub struct NewRefresh {
    pub token: Secret<String>,
    pub hash: TokenHash,
}

impl NewRefresh {
    pub fn mint(session: &SessionId, entropy: &dyn Entropy) -> Result<Self, EntropyError> {
        let secret = random_bytes::<REFRESH_SECRET_BYTES>(entropy)?;
        Ok(Self {
            token: Secret::new(format!("{session}.{}", b64url(&secret))),
            hash: TokenHash::of(&secret),
        })
    }
}

/// A refresh token as presented by a client: well-formed, not yet matched against anything.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresentedRefresh {
    pub session: SessionId,
    pub hash: TokenHash,
}

impl PresentedRefresh {
    /// `None` for anything that is not `<session id>.<43 base64url chars>`.
    pub fn parse(token: &str) -> Option<Self> {
        let (session, secret) = token.split_once('.')?;
        let secret = b64url_decode(secret)?;
        if secret.len() != REFRESH_SECRET_BYTES {
            return None;
        }
        Some(Self {
            session: SessionId::parse(session)?,
            hash: TokenHash::of(&secret),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::env::testing::{BrokenEntropy, SeededEntropy};
    use crate::auth::env::OsEntropy;

    #[test]
    fn minted_tokens_parse_back_to_their_hash() {
        let entropy = SeededEntropy::default();
        let session = SessionId::generate(&entropy).unwrap();
        let minted = NewRefresh::mint(&session, &entropy).unwrap();
        let presented = PresentedRefresh::parse(minted.token.expose()).unwrap();
        assert_eq!(presented.session, session);
        assert!(presented.hash.matches(&minted.hash));
        assert!(!minted.token.expose().contains(&minted.hash.0));
    }

    #[test]
    fn tokens_carry_256_bits_and_differ() {
        let session = SessionId::generate(&OsEntropy).unwrap();
        let a = NewRefresh::mint(&session, &OsEntropy).unwrap();
        let b = NewRefresh::mint(&session, &OsEntropy).unwrap();
        assert!(!a.hash.matches(&b.hash));
        let secret = a.token.expose().split_once('.').unwrap().1;
        assert_eq!(b64url_decode(secret).unwrap().len(), 32);
        assert_eq!(b64url_decode(session.as_str()).unwrap().len(), 16);
    }

    #[test]
    fn malformed_tokens_are_refused() {
        let entropy = SeededEntropy::default();
        let session = SessionId::generate(&entropy).unwrap();
        let good = NewRefresh::mint(&session, &entropy)
            .unwrap()
            .token
            .into_inner();
        let (sid, secret) = good.split_once('.').unwrap();
        for bad in [
            String::new(),
            ".".into(),
            sid.into(),
            format!("{sid}."),
            format!(".{secret}"),
            format!("{sid}.{}", &secret[1..]),
            format!("{sid}.{secret}A"),
            format!("{sid}x.{secret}"),
            format!("{sid}.{secret}.{secret}"),
            format!("{sid}.{secret}="),
            good.replace('.', ":"),
        ] {
            assert!(PresentedRefresh::parse(&bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn hashes_never_print() {
        let hash = TokenHash::of(b"secret");
        assert_eq!(format!("{hash:?}"), "TokenHash([redacted])");
    }

    #[test]
    fn minting_without_randomness_fails() {
        assert!(SessionId::generate(&BrokenEntropy).is_err());
        let session = SessionId::generate(&SeededEntropy::default()).unwrap();
        assert!(NewRefresh::mint(&session, &BrokenEntropy).is_err());
    }
}
