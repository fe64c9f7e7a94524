//! Stored password records for the KV credential backend.
//!
//! The slow part, PBKDF2, runs in the platform's WebCrypto inside the worker, where it is native
//! code rather than wasm; this module owns everything around it that must be exactly right: the
//! record format, its limits, and a constant-time comparison. Records are
//! `pbkdf2-sha256$<iterations>$<salt>$<hash>` with salt and hash in standard base64 without
//! padding (as in PHC strings), so they can be written by the `edgegate` CLI and read by the
//! worker, and so the iteration count can be raised later without invalidating old records.

use crate::auth::env::{random_bytes, Entropy, EntropyError};
use crate::auth::names::role::Role;
use crate::auth::names::username::Username;
use crate::auth::secret::ct_eq;
use base64ct::{Base64Unpadded, Encoding};
use core::fmt;
use serde::{Deserialize, Serialize};

/// Iterations for new records. Workers' WebCrypto refuses PBKDF2 above 100,000 iterations, so
/// this is the most the worker can verify; it is below OWASP's advice for PBKDF2-HMAC-SHA256,
/// which the per-account and per-address login rate limits make up for.
pub const PBKDF2_ITERATIONS: u32 = 100_000;
/// Records with fewer iterations are refused as too cheap to crack.
pub const MIN_ITERATIONS: u32 = 10_000;
/// Salt length for new records; shorter stored salts are refused.
pub const SALT_LEN: usize = 16;
/// Length of the derived hash, one SHA-256 block.
pub const HASH_LEN: usize = 32;
const ALGORITHM: &str = "pbkdf2-sha256";
const USER_KEY_PREFIX: &str = "user:";

/// A parsed, validated password record. It only ever compares: the hash itself is not readable.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash {
    iterations: u32,
    salt: Vec<u8>,
    hash: [u8; HASH_LEN],
}

impl PasswordHash {
    /// A record from a derivation's inputs and output, checked like a parsed one.
    pub fn new(iterations: u32, salt: &[u8], hash: &[u8]) -> Result<Self, PasswordError> {
        if !(MIN_ITERATIONS..=PBKDF2_ITERATIONS).contains(&iterations) {
            return Err(PasswordError::IterationsOutOfRange);
        }
        if salt.len() < SALT_LEN {
            return Err(PasswordError::SaltTooShort);
        }
        let hash = hash
            .try_into()
            .map_err(|_| PasswordError::WrongHashLength)?;
        Ok(Self {
            iterations,
            salt: salt.to_vec(),
            hash,
        })
    }

    /// Reads `pbkdf2-sha256$<iterations>$<salt>$<hash>`.
    pub fn parse(encoded: &str) -> Result<Self, PasswordError> {
        let mut fields = encoded.split('$');
        let (Some(algorithm), Some(iterations), Some(salt), Some(hash), None) = (
            fields.next(),
            fields.next(),
            fields.next(),
            fields.next(),
            fields.next(),
        ) else {
            return Err(PasswordError::Malformed);
        };
        if algorithm != ALGORITHM {
            return Err(PasswordError::UnknownAlgorithm);
        }
        let iterations = parse_iterations(iterations)?;
        let salt = Base64Unpadded::decode_vec(salt).map_err(|_| PasswordError::BadBase64)?;
        let hash = Base64Unpadded::decode_vec(hash).map_err(|_| PasswordError::BadBase64)?;
        Self::new(iterations, &salt, &hash)
    }

    /// The record as stored.
    pub fn encode(&self) -> String {
        format!(
            "{ALGORITHM}${}${}${}",
            self.iterations,
            Base64Unpadded::encode_string(&self.salt),
            Base64Unpadded::encode_string(&self.hash)
        )
    }

    /// The PBKDF2 iteration count the hash was made with.
    pub fn iterations(&self) -> u32 {
        self.iterations
    }

    /// The iterations a check of this record derives besides its own, so that every check costs
    /// [`PBKDF2_ITERATIONS`]: a record made with fewer (an older or hand-made one) would otherwise
    /// answer sooner than an unknown user's decoy, telling the two apart. Zero for a record at
    /// the full count, as the CLI writes them.
    pub fn padding_iterations(&self) -> u32 {
        PBKDF2_ITERATIONS.saturating_sub(self.iterations)
    }

    /// The salt, at least [`SALT_LEN`] bytes.
    pub fn salt(&self) -> &[u8] {
        &self.salt
    }

    /// Whether `derived` (PBKDF2 of the candidate password with this salt and iteration count)
    /// is the stored hash, in time independent of where they differ.
    pub fn matches(&self, derived: &[u8]) -> bool {
        ct_eq(&self.hash, derived)
    }
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordHash")
            .field("iterations", &self.iterations)
            .field("salt_len", &self.salt.len())
            .field("hash", &"[redacted]")
            .finish()
    }
}

/// Decimal digits only, without sign or leading zeros, so each count has one spelling.
fn parse_iterations(field: &str) -> Result<u32, PasswordError> {
    let canonical =
        !field.is_empty() && !field.starts_with('0') && field.bytes().all(|b| b.is_ascii_digit());
    if !canonical {
        return Err(PasswordError::Malformed);
    }
    field
        .parse()
        .map_err(|_| PasswordError::IterationsOutOfRange)
}

/// A fresh random salt for a new record.
pub fn new_salt(entropy: &dyn Entropy) -> Result<[u8; SALT_LEN], EntropyError> {
    random_bytes(entropy)
}

/// PBKDF2-HMAC-SHA256 in Rust, for the CLI that writes records and for tests; the worker uses
/// WebCrypto instead.
#[cfg(any(test, feature = "cli"))]
pub fn derive_native(password: &str, salt: &[u8], iterations: u32) -> [u8; HASH_LEN] {
    let mut hash = [0u8; HASH_LEN];
    pbkdf2::pbkdf2_hmac::<sha2::Sha256>(password.as_bytes(), salt, iterations, &mut hash);
    hash
}

/// A user of the KV credential backend, stored as JSON under [`user_key`].
///
/// Unknown fields are refused rather than ignored: a field added later (say, a second factor)
/// must not be silently skipped by a worker that predates it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserRecord {
    /// An encoded [`PasswordHash`]; absent for a user who signs in with passkeys only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// The roles forwarded to the origin; none if absent. A record naming a role no policy could
    /// name (see [`Role`]) does not read at all.
    #[serde(default)]
    pub roles: Vec<Role>,
    /// A disabled user cannot log in, whatever the password.
    #[serde(default)]
    pub disabled: bool,
    /// This account's id: random, made when the record is written anew (a new user, or a
    /// password reset). A passkey keeps the id it was registered under and signs in no account
    /// of another id, so a reset retires the passkeys of before, and a name given to someone new
    /// does not bring the old holder's passkeys with it. Absent from older records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
}

impl UserRecord {
    /// The parsed [`UserRecord::password`] (`None` for a passkey-only user), or why it cannot
    /// be used.
    pub fn password_hash(&self) -> Result<Option<PasswordHash>, PasswordError> {
        self.password
            .as_deref()
            .map(PasswordHash::parse)
            .transpose()
    }
}

impl fmt::Debug for UserRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserRecord")
            .field("password", &"[redacted]")
            .field("roles", &self.roles)
            .field("disabled", &self.disabled)
            .field("account", &self.account)
            .finish()
    }
}

/// The record a sign-in for a name without one is checked against, as stored text: it is parsed
/// and derived exactly as a real record is (the same JSON, [`PBKDF2_ITERATIONS`], a
/// [`SALT_LEN`] salt), so that the response time does not tell which accounts exist. Its hash is
/// no derivation of any known password, and it never admits anyone: the caller treats it as no
/// account, whatever the derivation gives.
pub const DECOY_RECORD: &str = r#"{"password":"pbkdf2-sha256$100000$ZWRnZWdhdGUtZGVjb3khIQ$GbcF8H7yzhD6wbotQOBPvDqLGoqb0Q6LtD7qBky88co","roles":["member"],"disabled":false}"#;

/// The KV key of a user's record, `user:<username>`; `None` for a federated user, who has none.
pub fn user_key(username: &Username) -> Option<String> {
    (!username.is_federated()).then(|| format!("{USER_KEY_PREFIX}{username}"))
}

/// A password record that cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PasswordError {
    /// Not four `$`-separated fields with a canonical decimal iteration count.
    Malformed,
    /// The algorithm field is not `pbkdf2-sha256`.
    UnknownAlgorithm,
    /// Iterations below [`MIN_ITERATIONS`] or above [`PBKDF2_ITERATIONS`].
    IterationsOutOfRange,
    /// The salt is shorter than [`SALT_LEN`] bytes.
    SaltTooShort,
    /// The hash is not [`HASH_LEN`] bytes.
    WrongHashLength,
    /// The salt or hash is not standard base64 without padding.
    BadBase64,
}

impl fmt::Display for PasswordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed => write!(
                f,
                "password record is not `{ALGORITHM}$<iterations>$<salt>$<hash>`"
            ),
            Self::UnknownAlgorithm => write!(f, "password record is not {ALGORITHM}"),
            Self::IterationsOutOfRange => write!(
                f,
                "password record iterations must be between {MIN_ITERATIONS} and \
                 {PBKDF2_ITERATIONS}"
            ),
            Self::SaltTooShort => {
                write!(f, "password record salt is shorter than {SALT_LEN} bytes")
            }
            Self::WrongHashLength => {
                write!(f, "password record hash is not {HASH_LEN} bytes")
            }
            Self::BadBase64 => {
                f.write_str("password record salt or hash is not standard base64 without padding")
            }
        }
    }
}

impl std::error::Error for PasswordError {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::env::testing::{BrokenEntropy, SeededEntropy};

    const SALT: [u8; 16] = *b"0123456789abcdef";

    fn record(iterations: u32) -> PasswordHash {
        PasswordHash::new(iterations, &SALT, &[7; HASH_LEN]).unwrap()
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn derive_native_matches_published_vectors() {
        // RFC 7914 section 11, first 32 bytes of the 64-byte output.
        assert_eq!(
            hex(&derive_native("passwd", b"salt", 1)),
            "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc"
        );
        // The widely published PBKDF2-HMAC-SHA256 vector (c = 4096, dkLen = 32).
        assert_eq!(
            hex(&derive_native("password", b"salt", 4096)),
            "c5e478d59288c841aa530db6845c4c8d962893a001ce4e11a4963873aa98134a"
        );
    }

    #[test]
    fn records_round_trip() {
        let hash = derive_native("correct horse", &SALT, MIN_ITERATIONS);
        let original = PasswordHash::new(MIN_ITERATIONS, &SALT, &hash).unwrap();
        let encoded = original.encode();
        assert!(encoded.starts_with("pbkdf2-sha256$10000$MDEyMzQ1Njc4OWFiY2RlZg$"));
        assert!(!encoded.contains('='));
        let parsed = PasswordHash::parse(&encoded).unwrap();
        assert_eq!(parsed, original);
        assert_eq!(parsed.iterations(), MIN_ITERATIONS);
        assert_eq!(parsed.salt(), SALT);
    }

    #[test]
    fn matches_accepts_only_the_same_derivation() {
        let stored = PasswordHash::new(
            MIN_ITERATIONS,
            &SALT,
            &derive_native("correct horse", &SALT, MIN_ITERATIONS),
        )
        .unwrap();
        let right = derive_native("correct horse", stored.salt(), stored.iterations());
        let wrong = derive_native("Correct horse", stored.salt(), stored.iterations());
        assert!(stored.matches(&right));
        assert!(!stored.matches(&wrong));
        assert!(!stored.matches(&right[..31]));
        assert!(!stored.matches(&[]));
    }

    #[test]
    fn iteration_bounds_are_enforced() {
        assert_eq!(record(PBKDF2_ITERATIONS).iterations(), 100_000);
        for iterations in [0, MIN_ITERATIONS - 1, PBKDF2_ITERATIONS + 1, u32::MAX] {
            assert_eq!(
                PasswordHash::new(iterations, &SALT, &[0; HASH_LEN]),
                Err(PasswordError::IterationsOutOfRange)
            );
        }
    }

    #[test]
    fn short_salts_and_wrong_hash_lengths_are_refused() {
        assert_eq!(
            PasswordHash::new(MIN_ITERATIONS, &SALT[..15], &[0; HASH_LEN]),
            Err(PasswordError::SaltTooShort)
        );
        for len in [0, 31, 33, 64] {
            assert_eq!(
                PasswordHash::new(MIN_ITERATIONS, &SALT, &vec![0; len]),
                Err(PasswordError::WrongHashLength)
            );
        }
    }

    #[test]
    fn malformed_records_are_refused() {
        let good = record(MIN_ITERATIONS).encode();
        let salt = Base64Unpadded::encode_string(&SALT);
        let hash = Base64Unpadded::encode_string(&[7; HASH_LEN]);
        let cases = [
            (String::new(), PasswordError::Malformed),
            ("pbkdf2-sha256$10000$abc".into(), PasswordError::Malformed),
            (format!("{good}$"), PasswordError::Malformed),
            (
                format!("pbkdf2-sha512$10000${salt}${hash}"),
                PasswordError::UnknownAlgorithm,
            ),
            (
                format!("PBKDF2-SHA256$10000${salt}${hash}"),
                PasswordError::UnknownAlgorithm,
            ),
            (
                format!("pbkdf2-sha256$010000${salt}${hash}"),
                PasswordError::Malformed,
            ),
            (
                format!("pbkdf2-sha256$+10000${salt}${hash}"),
                PasswordError::Malformed,
            ),
            (
                format!("pbkdf2-sha256$${salt}${hash}"),
                PasswordError::Malformed,
            ),
            (
                format!("pbkdf2-sha256$99999999999${salt}${hash}"),
                PasswordError::IterationsOutOfRange,
            ),
            (
                format!("pbkdf2-sha256$10000${salt}=${hash}"),
                PasswordError::BadBase64,
            ),
            (
                format!("pbkdf2-sha256$10000${salt}${hash}!"),
                PasswordError::BadBase64,
            ),
            (
                format!("pbkdf2-sha256$10000${}${hash}", "_-_-".repeat(6)),
                PasswordError::BadBase64,
            ),
            (
                format!("pbkdf2-sha256$10000$MDEy${hash}"),
                PasswordError::SaltTooShort,
            ),
            (
                format!("pbkdf2-sha256$10000${salt}$AAAA"),
                PasswordError::WrongHashLength,
            ),
        ];
        for (encoded, expected) in cases {
            assert_eq!(PasswordHash::parse(&encoded), Err(expected), "{encoded}");
        }
    }

    #[test]
    fn debug_hides_the_hash() {
        let shown = format!("{:?}", record(MIN_ITERATIONS));
        assert!(shown.contains("iterations: 10000"));
        assert!(!shown.contains("7, 7"));
        let user = UserRecord {
            password: Some(record(MIN_ITERATIONS).encode()),
            roles: vec![],
            disabled: false,
            account: None,
        };
        assert!(!format!("{user:?}").contains("pbkdf2"));
    }

    #[test]
    fn new_salt_draws_from_entropy_and_fails_closed() {
        let entropy = SeededEntropy::default();
        let first = new_salt(&entropy).unwrap();
        assert_ne!(first, new_salt(&entropy).unwrap());
        assert_eq!(new_salt(&BrokenEntropy), Err(EntropyError));
    }

    #[test]
    fn user_records_read_from_json() {
        let encoded = record(MIN_ITERATIONS).encode();
        let json = format!(r#"{{"password":"{encoded}","roles":["admin"],"disabled":true}}"#);
        let user: UserRecord = serde_json::from_str(&json).unwrap();
        assert_eq!(user.roles, ["admin"]);
        assert!(user.disabled);
        assert_eq!(user.password_hash().unwrap(), Some(record(MIN_ITERATIONS)));
        assert_eq!(serde_json::to_string(&user).unwrap(), json);

        let minimal: UserRecord =
            serde_json::from_str(&format!(r#"{{"password":"{encoded}"}}"#)).unwrap();
        assert!(minimal.roles.is_empty() && !minimal.disabled);
    }

    #[test]
    fn user_records_refuse_unknown_or_missing_fields() {
        let encoded = record(MIN_ITERATIONS).encode();
        let unknown = format!(r#"{{"password":"{encoded}","mfa":"totp"}}"#);
        assert!(serde_json::from_str::<UserRecord>(&unknown).is_err());
        // A passkey-only user has no password; the record says nothing else.
        let passkey_only: UserRecord = serde_json::from_str(r#"{"roles":[]}"#).unwrap();
        assert_eq!(passkey_only.password_hash(), Ok(None));
        assert_eq!(
            serde_json::to_string(&passkey_only).unwrap(),
            r#"{"roles":[],"disabled":false}"#
        );
        for bad in [r#""admin,root""#, r#""a b""#, r#""""#, r#""rôle""#] {
            let bad_role = format!(r#"{{"password":"{encoded}","roles":["admin",{bad}]}}"#);
            let err = serde_json::from_str::<UserRecord>(&bad_role).unwrap_err();
            assert!(err.to_string().contains("role name"), "{bad}: {err}");
        }
        let bad_hash = UserRecord {
            password: Some("plaintext".into()),
            roles: vec![],
            disabled: false,
            account: None,
        };
        assert_eq!(bad_hash.password_hash(), Err(PasswordError::Malformed));
    }

    #[test]
    fn the_decoy_record_costs_what_a_new_record_costs() {
        let decoy: UserRecord = serde_json::from_str(DECOY_RECORD).unwrap();
        let hash = decoy.password_hash().unwrap().unwrap();
        assert_eq!(hash.iterations(), PBKDF2_ITERATIONS);
        assert_eq!(hash.padding_iterations(), 0);
        assert_eq!(hash.salt().len(), SALT_LEN);
        // Shaped like a record the CLI writes: the same fields, the same encoded lengths.
        let real = PasswordHash::new(PBKDF2_ITERATIONS, &[9; SALT_LEN], &[7; HASH_LEN]).unwrap();
        assert_eq!(
            decoy.password.as_ref().map(String::len),
            Some(real.encode().len())
        );
        assert!(!decoy.disabled);
        assert_eq!(serde_json::to_string(&decoy).unwrap(), DECOY_RECORD);
    }

    #[test]
    fn every_check_derives_the_full_iteration_count() {
        for iterations in [
            MIN_ITERATIONS,
            12_345,
            PBKDF2_ITERATIONS - 1,
            PBKDF2_ITERATIONS,
        ] {
            let hash = record(iterations);
            assert_eq!(
                hash.iterations() + hash.padding_iterations(),
                PBKDF2_ITERATIONS
            );
        }
        assert_eq!(record(PBKDF2_ITERATIONS).padding_iterations(), 0);
    }

    #[test]
    fn user_keys_use_the_normalised_name() {
        let alice = Username::parse(" Alice ").unwrap();
        assert_eq!(user_key(&alice).unwrap(), "user:alice");
        assert_eq!(
            user_key(&Username::federated("corp", "alice").unwrap()),
            None
        );
    }
}
