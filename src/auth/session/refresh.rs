//! Refresh tokens: opaque, 256 bits from a CSPRNG, stored only as a SHA-256 hash.
//!
//! The token is `<session id>.<secret>.<user>` (the user base64url-encoded). The session id lets
//! the store find the session with one keyed read, and the user lets any location reach the
//! session's authority (a Durable Object per user) at once, without waiting for KV to carry the
//! session record there. Neither is a credential: all the security is in the 256-bit secret, of
//! which the store keeps only the hash, so a leaked store (or a KV listing) yields nothing that
//! can be replayed. Knowing a session id (the origin sees it in `X-Auth-Session`) is worth
//! nothing without the secret; an edited user part reaches an authority that does not hold the
//! session and is refused as unknown; and a wrong secret never revokes anything: only a hash the
//! session once held proves reuse. Tokens without the user part (`<session id>.<secret>`) still
//! parse: their session's owner is then looked up in KV.

use crate::auth::names::session_id::SessionId;
use crate::auth::names::username::Username;
use core::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::auth::env::{random_bytes, Entropy, EntropyError};
use crate::auth::names::encoding::{b64url, b64url_decode};
use crate::auth::secret::{ct_eq, RefreshToken};

/// Bytes of secret in a refresh token.
pub const REFRESH_SECRET_BYTES: usize = 32;
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
    session: SessionId,
    secret: RefreshToken,
    /// What the store keeps in place of the secret.
    pub hash: TokenHash,
}

impl NewRefresh {
    /// A new random secret for `session`; fails only if entropy does.
    pub fn mint(session: &SessionId, entropy: &dyn Entropy) -> Result<Self, EntropyError> {
        let secret = random_bytes::<REFRESH_SECRET_BYTES>(entropy)?;
        Ok(Self {
            session: session.clone(),
            secret: RefreshToken::new(b64url(&secret)),
            hash: TokenHash::of(&secret),
        })
    }

    /// The cookie value, naming `user`, the session's owner as the store holds it.
    pub fn token(&self, user: &Username) -> RefreshToken {
        RefreshToken::new(format!(
            "{}.{}.{}",
            self.session,
            self.secret.expose(),
            b64url(user.as_bytes())
        ))
    }
}

/// A refresh token as presented by a client: well-formed, not yet matched against anything.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresentedRefresh {
    /// The session the token claims to belong to.
    pub session: SessionId,
    /// The hash of the presented secret, to compare with the stored one.
    pub hash: TokenHash,
    /// The user the token names, a well-formed name but unverified: only where to find the
    /// session's authority.
    pub user: Option<Username>,
}

/// Longest user part accepted (base64url of a username, which is far shorter).
const MAX_USER_PART: usize = 512;

impl PresentedRefresh {
    /// `None` for anything that is not `<session id>.<43 base64url chars>[.<base64url user>]`.
    pub fn parse(token: &str) -> Option<Self> {
        let mut parts = token.split('.');
        let (session, secret, user) = (parts.next()?, parts.next()?, parts.next());
        if parts.next().is_some() {
            return None;
        }
        let secret = b64url_decode(secret)?;
        if secret.len() != REFRESH_SECRET_BYTES {
            return None;
        }
        let user = match user {
            None => None,
            Some(part) if part.len() <= MAX_USER_PART => {
                let bytes = b64url_decode(part)?;
                Some(Username::try_from(String::from_utf8(bytes).ok()?).ok()?)
            }
            Some(_) => return None,
        };
        Some(Self {
            session: SessionId::parse(session)?,
            hash: TokenHash::of(&secret),
            user,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::env::testing::{BrokenEntropy, SeededEntropy};
    use crate::auth::env::OsEntropy;
    use crate::auth::names::username::testing::named;

    #[test]
    fn minted_tokens_parse_back_to_their_hash() {
        let entropy = SeededEntropy::default();
        let session = SessionId::generate(&entropy).unwrap();
        let minted = NewRefresh::mint(&session, &entropy).unwrap();
        let presented = PresentedRefresh::parse(minted.token(&named("alice")).expose()).unwrap();
        assert_eq!(presented.session, session);
        assert_eq!(presented.user.as_deref(), Some("alice"));
        assert!(presented.hash.matches(&minted.hash));
        assert!(!minted
            .token(&named("alice"))
            .expose()
            .contains(&minted.hash.0));
    }

    #[test]
    fn tokens_carry_256_bits_and_differ() {
        let session = SessionId::generate(&OsEntropy).unwrap();
        let a = NewRefresh::mint(&session, &OsEntropy).unwrap();
        let b = NewRefresh::mint(&session, &OsEntropy).unwrap();
        assert!(!a.hash.matches(&b.hash));
        let token = a.token(&named("alice"));
        let secret = token.expose().split('.').nth(1).unwrap();
        assert_eq!(b64url_decode(secret).unwrap().len(), 32);
        assert_eq!(b64url_decode(session.as_str()).unwrap().len(), 16);
    }

    #[test]
    fn malformed_tokens_are_refused() {
        let entropy = SeededEntropy::default();
        let session = SessionId::generate(&entropy).unwrap();
        let good = NewRefresh::mint(&session, &entropy)
            .unwrap()
            .token(&named("alice"))
            .into_inner();
        let mut parts = good.split('.');
        let (sid, secret, user) = (
            parts.next().unwrap(),
            parts.next().unwrap(),
            parts.next().unwrap(),
        );
        let legacy = format!("{sid}.{secret}");
        assert_eq!(
            PresentedRefresh::parse(&legacy).unwrap().user,
            None,
            "no user part"
        );
        let oversized = format!("{legacy}.{}", "A".repeat(600));
        for bad in [
            format!("{legacy}.{user}.{user}"),
            format!("{legacy}."),
            format!("{legacy}.{user}="),
            format!("{legacy}.{}", b64url(&[0xff, 0xfe])),
            oversized,
            String::new(),
            ".".into(),
            sid.into(),
            format!("{sid}."),
            format!(".{secret}"),
            format!("{sid}.{}", &secret[1..]),
            format!("{sid}.{secret}A"),
            format!("{sid}x.{secret}"),
            format!("{sid}.{secret}="),
            legacy.replace('.', ":"),
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
