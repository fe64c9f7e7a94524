//! Key rings: several keys by `kid`, the first signs and all verify.
//!
//! Rotation is "add a key in front, deploy, wait out the old tokens, drop the old key": tokens
//! signed by the old key keep verifying while new ones are signed by the new key, so nobody is
//! logged out. Each ring fixes its algorithm: the token header never chooses it.
//!
//! Two rings exist because two audiences verify. Session cookies are verified only by the edge,
//! so they use HMAC-SHA256 ([`SessionKeyRing`]). The identity assertion is verified by the origin,
//! which must not be able to mint one, so it uses Ed25519 ([`AssertionKeyRing`]) and the public
//! halves are published as a JWKS.
//!
//! Secret format (one `wrangler secret` each): entries `kid:key` separated by commas or
//! whitespace, the key in unpadded base64url. HMAC keys must be at least 32 bytes; Ed25519 keys
//! are the 32-byte seed.

use core::fmt;

use base64ct::{Base64UrlUnpadded, Encoding};
use jwt_compact::alg::{Ed25519, Hs256, Hs256Key};
use jwt_compact::Algorithm;
use serde_json::{json, Value};

use crate::auth::env::{random_bytes, Entropy, EntropyError};
use crate::auth::secret::KeyMaterial;

/// Shortest HMAC key accepted: the output size of SHA-256 (RFC 7518 §3.2).
pub const MIN_HMAC_KEY_BYTES: usize = 32;
/// Longest `kid` accepted, in the secret and in a token header.
pub const MAX_KID_LEN: usize = 64;

/// Why a key secret was refused. Messages never include key material.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyError {
    /// The secret holds no entry at all.
    Empty,
    /// An entry has no `:` between its kid and its key.
    MissingSeparator {
        /// Which entry, counting from 1.
        entry: usize,
    },
    /// An entry's kid is empty, longer than [`MAX_KID_LEN`] or has a character outside
    /// `A-Z a-z 0-9 . _ -`.
    InvalidKid {
        /// Which entry, counting from 1.
        entry: usize,
    },
    /// Two entries share a kid, so a token's `kid` could not name one key.
    DuplicateKid {
        /// The repeated kid.
        kid: String,
    },
    /// A key is not unpadded base64url.
    InvalidBase64 {
        /// The kid of the entry.
        kid: String,
    },
    /// An HMAC key is shorter than [`MIN_HMAC_KEY_BYTES`].
    TooShort {
        /// The kid of the entry.
        kid: String,
        /// How many bytes the key decoded to.
        bytes: usize,
    },
    /// An Ed25519 key is not a 32-byte seed.
    WrongLength {
        /// The kid of the entry.
        kid: String,
        /// How many bytes the key decoded to.
        bytes: usize,
    },
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("no keys given: expected `kid:base64url-key` entries"),
            Self::MissingSeparator { entry } => {
                write!(
                    f,
                    "key entry {entry} is not of the form `kid:base64url-key`"
                )
            }
            Self::InvalidKid { entry } => write!(
                f,
                "key entry {entry} has an invalid kid: use 1 to {MAX_KID_LEN} of A-Z a-z 0-9 . _ -"
            ),
            Self::DuplicateKid { kid } => write!(f, "kid `{kid}` appears more than once"),
            Self::InvalidBase64 { kid } => {
                write!(f, "key `{kid}` is not unpadded base64url")
            }
            Self::TooShort { kid, bytes } => write!(
                f,
                "key `{kid}` has {bytes} bytes; HMAC keys need at least {MIN_HMAC_KEY_BYTES}"
            ),
            Self::WrongLength { kid, bytes } => write!(
                f,
                "key `{kid}` has {bytes} bytes; an Ed25519 key is a 32-byte seed"
            ),
        }
    }
}

impl std::error::Error for KeyError {}

/// Whether `kid` is safe to accept from a secret or a token header: short, and free of path,
/// quote and control characters, so it can never act as an injection vector.
pub fn is_valid_kid(kid: &str) -> bool {
    (1..=MAX_KID_LEN).contains(&kid.len())
        && kid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// One `kid:key` entry of a secret, decoded.
type Entry = (String, KeyMaterial<Vec<u8>>);

/// Splits a key secret into entries, checking kids and base64.
fn parse_entries(secret: &str) -> Result<Vec<Entry>, KeyError> {
    let mut entries: Vec<Entry> = Vec::new();
    let items = secret
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|item| !item.is_empty());
    for (index, item) in items.enumerate() {
        let entry = index + 1;
        let (kid, encoded) = item
            .split_once(':')
            .ok_or(KeyError::MissingSeparator { entry })?;
        if !is_valid_kid(kid) {
            return Err(KeyError::InvalidKid { entry });
        }
        if entries.iter().any(|(seen, _)| seen == kid) {
            return Err(KeyError::DuplicateKid { kid: kid.into() });
        }
        let bytes = Base64UrlUnpadded::decode_vec(encoded)
            .map_err(|_| KeyError::InvalidBase64 { kid: kid.into() })?;
        entries.push((kid.to_owned(), KeyMaterial::new(bytes)));
    }
    if entries.is_empty() {
        return Err(KeyError::Empty);
    }
    Ok(entries)
}

/// One entry of a key ring.
pub struct RingKey<K> {
    kid: String,
    key: K,
}

impl<K> RingKey<K> {
    /// The id tokens signed with this key carry in their `kid` header.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub(crate) fn key(&self) -> &K {
        &self.key
    }
}

impl<K> fmt::Debug for RingKey<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RingKey")
            .field("kid", &self.kid)
            .field("key", &"[redacted]")
            .finish()
    }
}

/// Keys of one algorithm; the first signs, all verify.
#[derive(Debug)]
pub struct KeyRing<A: Algorithm> {
    algorithm: A,
    keys: Vec<RingKey<A::SigningKey>>,
}

impl<A: Algorithm> KeyRing<A> {
    /// The algorithm every key of this ring uses; a token naming another is refused.
    pub fn algorithm(&self) -> &A {
        &self.algorithm
    }

    /// The key new tokens are signed with.
    pub fn signing_key(&self) -> &RingKey<A::SigningKey> {
        // A ring is never empty: both constructors refuse an empty list.
        &self.keys[0]
    }

    /// The key a token's `kid` names, if this ring has it.
    pub fn find(&self, kid: &str) -> Option<&RingKey<A::SigningKey>> {
        self.keys.iter().find(|key| key.kid == kid)
    }

    /// Every kid of the ring, the signing key's first.
    pub fn kids(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().map(|key| key.kid.as_str())
    }
}

/// HMAC-SHA256 keys for the session cookies, which only the edge verifies.
pub type SessionKeyRing = KeyRing<Hs256>;

impl SessionKeyRing {
    /// Parses a `SESSION_KEYS` secret.
    pub fn parse(secret: &str) -> Result<Self, KeyError> {
        let keys = parse_entries(secret)?
            .into_iter()
            .map(|(kid, bytes)| {
                let len = bytes.expose().len();
                if len < MIN_HMAC_KEY_BYTES {
                    return Err(KeyError::TooShort { kid, bytes: len });
                }
                Ok(RingKey {
                    kid,
                    key: Hs256Key::new(bytes.expose()),
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            algorithm: Hs256,
            keys,
        })
    }

    /// A ring of one HMAC key given as raw bytes (key material from elsewhere, e.g. a JWK).
    pub fn from_raw(kid: &str, key: &[u8]) -> Result<Self, KeyError> {
        Self::parse(&format!("{kid}:{}", Base64UrlUnpadded::encode_string(key)))
    }
}

/// Ed25519 keys for the identity assertion the origin verifies.
pub type AssertionKeyRing = KeyRing<Ed25519>;

impl AssertionKeyRing {
    /// Parses an `ASSERTION_KEYS` secret.
    pub fn parse(secret: &str) -> Result<Self, KeyError> {
        let keys = parse_entries(secret)?
            .into_iter()
            .map(|(kid, bytes)| {
                let seed = <[u8; 32]>::try_from(bytes.expose().as_slice()).map_err(|_| {
                    KeyError::WrongLength {
                        bytes: bytes.expose().len(),
                        kid: kid.clone(),
                    }
                })?;
                let pair = ed25519_compact::KeyPair::from_seed(ed25519_compact::Seed::new(seed));
                Ok(RingKey { kid, key: pair.sk })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            algorithm: Ed25519,
            keys,
        })
    }

    /// The signing key as a private JWK (RFC 8037), to hand to the platform's WebCrypto.
    pub fn signing_jwk(&self) -> KeyMaterial<Value> {
        let key = self.signing_key();
        KeyMaterial::new(json!({
            "kty": "OKP",
            "crv": "Ed25519",
            "kid": key.kid,
            "x": Base64UrlUnpadded::encode_string(key.key.public_key().as_ref()),
            "d": Base64UrlUnpadded::encode_string(key.key.seed().as_ref()),
        }))
    }

    /// The public keys as a JSON Web Key Set (RFC 7517, RFC 8037), for `/.well-known/jwks.json`.
    pub fn jwks(&self) -> Value {
        let keys: Vec<Value> = self
            .keys
            .iter()
            .map(|key| {
                json!({
                    "kty": "OKP",
                    "crv": "Ed25519",
                    "alg": "EdDSA",
                    "use": "sig",
                    "kid": key.kid,
                    "x": Base64UrlUnpadded::encode_string(key.key.public_key().as_ref()),
                })
            })
            .collect();
        json!({ "keys": keys })
    }
}

/// A fresh `kid:key` entry in the secret format, ready to put in front of a ring. Both rings
/// take 32 random bytes: an HMAC key of the hash's size, or an Ed25519 seed.
pub fn generate_entry(kid: &str, entropy: &dyn Entropy) -> Result<KeyMaterial, EntropyError> {
    let bytes: [u8; 32] = random_bytes(entropy)?;
    Ok(KeyMaterial::new(format!(
        "{kid}:{}",
        Base64UrlUnpadded::encode_string(&bytes)
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::env::testing::SeededEntropy;

    const KEY_A: &str = "a:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
    const KEY_B: &str = "b:ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8";

    #[test]
    fn first_key_signs_and_all_are_found() {
        let ring = SessionKeyRing::parse(&format!("{KEY_A}, {KEY_B}")).unwrap();
        assert_eq!(ring.signing_key().kid(), "a");
        assert!(ring.find("b").is_some());
        assert!(ring.find("c").is_none());
        assert_eq!(ring.kids().collect::<Vec<_>>(), ["a", "b"]);
    }

    #[test]
    fn entries_may_be_separated_by_newlines() {
        let ring = SessionKeyRing::parse(&format!("\n{KEY_B}\n{KEY_A}\n")).unwrap();
        assert_eq!(ring.signing_key().kid(), "b");
    }

    #[test]
    fn malformed_secrets_are_refused_with_clear_errors() {
        let cases: &[(&str, KeyError)] = &[
            ("", KeyError::Empty),
            (" , ", KeyError::Empty),
            ("nokid", KeyError::MissingSeparator { entry: 1 }),
            (
                "../etc:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                KeyError::InvalidKid { entry: 1 },
            ),
            (":AAAA", KeyError::InvalidKid { entry: 1 }),
            (
                "a:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA b64!",
                KeyError::MissingSeparator { entry: 2 }, // whitespace separates entries
            ),
            ("a:not*base64", KeyError::InvalidBase64 { kid: "a".into() }),
            (
                "a:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==",
                KeyError::InvalidBase64 { kid: "a".into() },
            ),
            (
                "a:AAAA",
                KeyError::TooShort {
                    kid: "a".into(),
                    bytes: 3,
                },
            ),
            (
                &format!("{KEY_A},{KEY_A}"),
                KeyError::DuplicateKid { kid: "a".into() },
            ),
        ];
        for (secret, expected) in cases {
            let err = SessionKeyRing::parse(secret).unwrap_err();
            assert_eq!(&err, expected, "secret {secret:?}");
            assert!(!err.to_string().is_empty());
        }
    }

    #[test]
    fn errors_never_print_key_material() {
        let err = SessionKeyRing::parse("k:c2hvcnRzZWNyZXQ").unwrap_err();
        assert!(!err.to_string().contains("c2hvcnRzZWNyZXQ"));
        let ring = SessionKeyRing::parse(KEY_A).unwrap();
        assert!(!format!("{ring:?}").contains("AAECAwQF"));
        assert!(format!("{ring:?}").contains("[redacted]"));
    }

    #[test]
    fn assertion_keys_must_be_32_byte_seeds() {
        assert!(AssertionKeyRing::parse(KEY_A).is_ok());
        assert_eq!(
            AssertionKeyRing::parse("x:AAAA").unwrap_err(),
            KeyError::WrongLength {
                kid: "x".into(),
                bytes: 3
            }
        );
    }

    #[test]
    fn jwks_publishes_public_keys_only() {
        let ring = AssertionKeyRing::parse(&format!("{KEY_A},{KEY_B}")).unwrap();
        let jwks = ring.jwks();
        let keys = jwks["keys"].as_array().unwrap();
        assert_eq!(keys.len(), 2);
        assert_eq!(keys[0]["kid"], "a");
        assert_eq!(keys[0]["kty"], "OKP");
        assert_eq!(keys[0]["alg"], "EdDSA");
        assert!(keys[0].get("d").is_none());
        let x = Base64UrlUnpadded::decode_vec(keys[0]["x"].as_str().unwrap()).unwrap();
        assert_eq!(x.len(), 32);
        assert_ne!(keys[0]["x"], keys[1]["x"]);
    }

    #[test]
    fn the_private_jwk_holds_the_seed_of_the_signing_key() {
        let ring = AssertionKeyRing::parse(&format!("{KEY_A},{KEY_B}")).unwrap();
        let jwk = ring.signing_jwk();
        assert_eq!(jwk.expose()["kid"], "a");
        assert_eq!(jwk.expose()["d"], KEY_A.split_once(':').unwrap().1);
        assert_eq!(jwk.expose()["x"], ring.jwks()["keys"][0]["x"]);
        assert_eq!(format!("{jwk:?}"), "[redacted]");
    }

    #[test]
    fn generated_entries_parse_back() {
        let entropy = SeededEntropy::default();
        let session = generate_entry("s1", &entropy).unwrap();
        let assertion = generate_entry("a1", &entropy).unwrap();
        assert_ne!(session.expose()[3..], assertion.expose()[3..]);
        assert!(SessionKeyRing::parse(session.expose()).is_ok());
        assert!(AssertionKeyRing::parse(assertion.expose()).is_ok());
    }
}
