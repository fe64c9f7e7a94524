//! Others' public keys: a provider's signing keys, read from its JWKS, and the key a client's
//! DPoP proof carries; and the signature check every provider token and proof goes through.
//!
//! The check is a trait, [`SignatureCheck`], so the core stays free of I/O: the worker verifies
//! with the platform's WebCrypto (native code, many times faster than the same algorithms in
//! wasm), while native tests and the Wycheproof suite use `LocalSignatureCheck`. Either way
//! the key's type and size were checked here first.
//!
//! A provider publishes its keys at a URL we fetch, so the set is untrusted input too: only keys
//! usable for a signature we accept are kept (RSA of 2048 to 4096 bits with an odd public
//! exponent for RS256, P-256 for ES256), each with its `kid`, and the algorithm is fixed by the
//! key, never by a token's header. Symmetric (`oct`) keys are never taken from a JWKS, so an HMAC
//! token cannot verify.
//!
//! The checks here are of shape: lengths, canonical encodings, sizes. The arithmetic (that an EC
//! point lies on the curve, that an RSA key can verify at all) is the verifier's, which imports
//! the key and fails closed on one it cannot use: WebCrypto in the worker, so the module carries
//! no big-number or curve code of its own for keys the platform already checks.

use std::future::Future;
use std::pin::Pin;

use serde::Deserialize;
use serde_json::Value;

use sha2::{Digest, Sha256};

use crate::auth::names::encoding::b64url_decode;
use crate::auth::names::thumbprint::Thumbprint;
use crate::auth::token::keys::is_valid_kid;

/// A JWKS larger than this is refused before parsing; real ones are a few kilobytes.
pub const MAX_JWKS_BYTES: usize = 64 * 1024;
/// Keys kept from one JWKS; the rest are ignored.
pub const MAX_KEYS: usize = 16;
/// The smallest RSA modulus accepted, in bytes (2048 bits).
const MIN_RSA_MODULUS: usize = 256;
/// The largest RSA modulus accepted, in bytes (4096 bits).
const MAX_RSA_MODULUS: usize = 512;
/// An RSA public exponent is below 2^33 (five bytes), as the platform's RSA requires.
const MAX_RSA_EXPONENT_BYTES: usize = 5;
/// A P-256 coordinate, in bytes.
const P256_COORDINATE: usize = 32;
/// An Ed25519 public key, in bytes.
const ED25519_KEY: usize = 32;

/// The signature algorithms accepted on provider tokens (RS256, ES256) and client proofs (those
/// and Ed25519).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PublicAlg {
    /// RSASSA-PKCS1-v1_5 with SHA-256, on RSA keys of 2048 to 4096 bits.
    Rs256,
    /// ECDSA on P-256 with SHA-256.
    Es256,
    /// Ed25519 (JOSE `EdDSA`, or `Ed25519` since RFC 9864): DPoP proofs only.
    Ed25519,
}

impl PublicAlg {
    /// The JOSE name, as in a token's `alg` header.
    pub fn name(self) -> &'static str {
        match self {
            Self::Rs256 => "RS256",
            Self::Es256 => "ES256",
            Self::Ed25519 => "EdDSA",
        }
    }

    /// The algorithm a provider token's header names, if it is one we accept from providers
    /// (`none` and `HS*` are not).
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "RS256" => Some(Self::Rs256),
            "ES256" => Some(Self::Es256),
            _ => None,
        }
    }

    /// The algorithm a client's proof names, if it is one we accept there: the provider ones,
    /// and Ed25519 by either of its names. Never `none`, never a symmetric one.
    pub fn for_proof(name: &str) -> Option<Self> {
        match name {
            "EdDSA" | "Ed25519" => Some(Self::Ed25519),
            other => Self::from_name(other),
        }
    }

    /// The JWK members of this algorithm's public keys.
    fn public_members(self) -> &'static [&'static str] {
        match self {
            Self::Rs256 => &["kty", "n", "e"],
            Self::Es256 => &["kty", "crv", "x", "y"],
            Self::Ed25519 => &["kty", "crv", "x"],
        }
    }
}

/// One public key of a provider or a client, vetted for its algorithm.
#[derive(Debug)]
pub struct PublicKey {
    kid: String,
    alg: PublicAlg,
    jwk: Value,
}

/// Why a key or a key set was not usable.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyError {
    /// Longer than [`MAX_JWKS_BYTES`].
    TooLarge,
    /// Not JSON of a JWK or a JWK Set.
    Malformed,
    /// The key's type, curve or size is not one we verify with.
    Unsupported,
    /// The set has no usable signing key.
    NoUsableKey,
}

impl core::fmt::Display for KeyError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::TooLarge => "the key set is too large",
            Self::Malformed => "the key set is not a JSON Web Key Set",
            Self::Unsupported => {
                "the key is not an RSA (2048 to 4096 bits), P-256 or Ed25519 key of its algorithm"
            }
            Self::NoUsableKey => "the key set has no RS256 or ES256 signing key",
        })
    }
}

impl std::error::Error for KeyError {}

/// The bytes of the base64url member `name` of `jwk`: `Malformed` when absent or not strict
/// base64url.
fn member(jwk: &Value, name: &str) -> Result<Vec<u8>, KeyError> {
    jwk.get(name)
        .and_then(Value::as_str)
        .and_then(b64url_decode)
        .ok_or(KeyError::Malformed)
}

/// Whether `n` and `e` are an RSA public key we verify with: a canonical modulus (no leading
/// zero byte) of 2048 to 4096 bits, odd, and a canonical odd exponent from 3 to below 2^33.
fn is_usable_rsa(n: &[u8], e: &[u8]) -> bool {
    let canonical = |bytes: &[u8]| bytes.first().is_some_and(|first| *first != 0);
    let odd = |bytes: &[u8]| bytes.last().is_some_and(|last| last & 1 == 1);
    let exponent_at_least_3 = e.len() > 1 || e.first().is_some_and(|e| *e >= 3);
    canonical(n)
        && (MIN_RSA_MODULUS..=MAX_RSA_MODULUS).contains(&n.len())
        && odd(n)
        && canonical(e)
        && e.len() <= MAX_RSA_EXPONENT_BYTES
        && !(e.len() == MAX_RSA_EXPONENT_BYTES && e[0] > 1)
        && odd(e)
        && exponent_at_least_3
}

impl PublicKey {
    /// A public key from its JWK, for `alg`; `Unsupported` unless its type and size fit that
    /// algorithm.
    pub fn from_jwk(kid: &str, alg: PublicAlg, jwk: &Value) -> Result<Self, KeyError> {
        let text = |name: &str| jwk.get(name).and_then(Value::as_str);
        let usable = match alg {
            PublicAlg::Rs256 => {
                text("kty") == Some("RSA") && is_usable_rsa(&member(jwk, "n")?, &member(jwk, "e")?)
            }
            PublicAlg::Es256 => {
                text("kty") == Some("EC")
                    && text("crv") == Some("P-256")
                    && member(jwk, "x")?.len() == P256_COORDINATE
                    && member(jwk, "y")?.len() == P256_COORDINATE
            }
            PublicAlg::Ed25519 => {
                text("kty") == Some("OKP")
                    && text("crv") == Some("Ed25519")
                    && member(jwk, "x")?.len() == ED25519_KEY
            }
        };
        if !usable {
            return Err(KeyError::Unsupported);
        }
        // Only the public parameters, so an importer never sees `alg`, `use` or private fields.
        let jwk = alg
            .public_members()
            .iter()
            .map(|name| {
                Ok((
                    (*name).to_owned(),
                    jwk.get(name).ok_or(KeyError::Malformed)?.clone(),
                ))
            })
            .collect::<Result<serde_json::Map<String, Value>, KeyError>>()?;
        Ok(Self {
            kid: kid.to_owned(),
            alg,
            jwk: Value::Object(jwk),
        })
    }

    /// The key's id, matched against a token's `kid`.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The algorithm this key verifies; fixed by the key, never by a token.
    pub fn alg(&self) -> PublicAlg {
        self.alg
    }

    /// The key's RFC 7638 thumbprint: SHA-256 over its required public members, in
    /// lexicographic order and without whitespace (the values are base64url or fixed names, so
    /// their JSON is the plain quoted text).
    pub fn thumbprint(&self) -> Thumbprint {
        let member = |name: &str| {
            serde_json::to_string(self.jwk.get(name).and_then(Value::as_str).unwrap_or(""))
                .unwrap_or_default()
        };
        let canonical = match self.alg {
            PublicAlg::Rs256 => {
                format!(r#"{{"e":{},"kty":"RSA","n":{}}}"#, member("e"), member("n"))
            }
            PublicAlg::Es256 => format!(
                r#"{{"crv":"P-256","kty":"EC","x":{},"y":{}}}"#,
                member("x"),
                member("y")
            ),
            PublicAlg::Ed25519 => {
                format!(r#"{{"crv":"Ed25519","kty":"OKP","x":{}}}"#, member("x"))
            }
        };
        Thumbprint::from_digest(&Sha256::digest(canonical.as_bytes()).into())
    }

    /// The key's public parameters as a JWK (`kty` with `n`, `e` or `crv`, `x`, `y`), for a
    /// verifier that imports keys itself.
    pub fn public_jwk(&self) -> &Value {
        &self.jwk
    }
}

/// Checks a provider token's or a proof's signature under a key already vetted by
/// [`PublicKey::from_jwk`]: RS256 is PKCS#1 v1.5 with SHA-256, ES256 a 64-byte `r || s` over
/// SHA-256, Ed25519 a 64-byte signature. Any failure, including a key the verifier cannot
/// import, is `false`.
// Workers run single-threaded wasm: futures are not `Send`, and callers are generic, not `dyn`.
#[allow(async_fn_in_trait)]
pub trait SignatureCheck {
    /// Whether `signature` signs `message` under `key` with the key's algorithm.
    async fn verifies(&self, key: &PublicKey, message: &[u8], signature: &[u8]) -> bool;
    /// Whether the verifier can use `key` at all: its arithmetic accepts it (a P-256 point on
    /// the curve, an RSA modulus it can import). A key kept for later, such as a passkey's, is
    /// asked this when it arrives, so that it is refused then rather than at every use.
    async fn imports(&self, key: &PublicKey) -> bool;
}

/// Checks the signatures clients make (DPoP proofs, device-bound session responses): the
/// platform's WebCrypto in the worker, Rust in tests. A boxed future, so that the gate can hold
/// it as a trait object beside its other ports; every [`SignatureCheck`] is one.
pub trait ProofSignatures {
    /// Whether `signature` signs `message` under `key` with the key's algorithm.
    fn verifies<'a>(
        &'a self,
        key: &'a PublicKey,
        message: &'a [u8],
        signature: &'a [u8],
    ) -> Pin<Box<dyn Future<Output = bool> + 'a>>;
    /// Whether the verifier can use `key` at all (see [`SignatureCheck::imports`]).
    fn imports<'a>(&'a self, key: &'a PublicKey) -> Pin<Box<dyn Future<Output = bool> + 'a>>;
}

impl<T: SignatureCheck> ProofSignatures for T {
    fn verifies<'a>(
        &'a self,
        key: &'a PublicKey,
        message: &'a [u8],
        signature: &'a [u8],
    ) -> Pin<Box<dyn Future<Output = bool> + 'a>> {
        Box::pin(SignatureCheck::verifies(self, key, message, signature))
    }

    fn imports<'a>(&'a self, key: &'a PublicKey) -> Pin<Box<dyn Future<Output = bool> + 'a>> {
        Box::pin(SignatureCheck::imports(self, key))
    }
}

/// The signature check in Rust (jwt-compact with `rsa` and `p256`, `ed25519-compact`), the native twin of the
/// worker's WebCrypto check, for tests and tools; not compiled into the worker.
#[cfg(not(target_arch = "wasm32"))]
#[derive(Debug, Clone, Copy, Default)]
pub struct LocalSignatureCheck;

#[cfg(not(target_arch = "wasm32"))]
impl SignatureCheck for LocalSignatureCheck {
    async fn imports(&self, key: &PublicKey) -> bool {
        use jwt_compact::alg::RsaPublicKey;
        use jwt_compact::jwk::JsonWebKey;

        let Ok(jwk) = JsonWebKey::deserialize(&key.jwk) else {
            return false;
        };
        match key.alg {
            PublicAlg::Rs256 => RsaPublicKey::try_from(&jwk).is_ok(),
            PublicAlg::Es256 => p256::ecdsa::VerifyingKey::try_from(&jwk).is_ok(),
            PublicAlg::Ed25519 => key
                .jwk
                .get("x")
                .and_then(Value::as_str)
                .and_then(b64url_decode)
                .is_some_and(|x| ed25519_compact::PublicKey::from_slice(&x).is_ok()),
        }
    }

    async fn verifies(&self, key: &PublicKey, message: &[u8], signature: &[u8]) -> bool {
        use jwt_compact::alg::{Es256, Rsa, RsaPublicKey};
        use jwt_compact::jwk::JsonWebKey;
        use jwt_compact::{Algorithm, AlgorithmSignature};

        let Ok(jwk) = JsonWebKey::deserialize(&key.jwk) else {
            return false;
        };
        match key.alg {
            PublicAlg::Rs256 => {
                let (Ok(public), Ok(signature)) = (
                    RsaPublicKey::try_from(&jwk),
                    <Rsa as Algorithm>::Signature::try_from_slice(signature),
                ) else {
                    return false;
                };
                Rsa::rs256().verify_signature(&signature, &public, message)
            }
            PublicAlg::Es256 => {
                if signature.len() != 64 {
                    return false;
                }
                let (Ok(public), Ok(signature)) = (
                    p256::ecdsa::VerifyingKey::try_from(&jwk),
                    <Es256 as Algorithm>::Signature::try_from_slice(signature),
                ) else {
                    return false;
                };
                Es256.verify_signature(&signature, &public, message)
            }
            PublicAlg::Ed25519 => {
                let (Some(x), Ok(signature)) = (
                    key.jwk
                        .get("x")
                        .and_then(Value::as_str)
                        .and_then(b64url_decode),
                    ed25519_compact::Signature::from_slice(signature),
                ) else {
                    return false;
                };
                ed25519_compact::PublicKey::from_slice(&x)
                    .is_ok_and(|public| public.verify(message, &signature).is_ok())
            }
        }
    }
}

/// The usable keys of one provider's JWKS.
#[derive(Debug)]
pub struct PublicKeys {
    keys: Vec<PublicKey>,
}

#[derive(Deserialize)]
struct Jwks {
    keys: Vec<Value>,
}

impl PublicKeys {
    /// Parses a JWKS document, keeping each signing key with a valid `kid` whose type fits
    /// RS256 or ES256 (and whose `alg`, if given, names it).
    pub fn from_jwks(body: &[u8]) -> Result<Self, KeyError> {
        if body.len() > MAX_JWKS_BYTES {
            return Err(KeyError::TooLarge);
        }
        let jwks: Jwks = serde_json::from_slice(body).map_err(|_| KeyError::Malformed)?;
        let mut keys = Vec::new();
        for jwk in &jwks.keys {
            if keys.len() == MAX_KEYS {
                break;
            }
            let text = |name: &str| jwk.get(name).and_then(Value::as_str);
            if text("use").is_some_and(|usage| usage != "sig") {
                continue;
            }
            let Some(kid) = text("kid").filter(|kid| is_valid_kid(kid)) else {
                continue;
            };
            let alg = match (text("kty"), text("alg")) {
                (Some("RSA"), None | Some("RS256")) => PublicAlg::Rs256,
                (Some("EC"), None | Some("ES256")) => PublicAlg::Es256,
                _ => continue,
            };
            if keys.iter().any(|key: &PublicKey| key.kid == kid) {
                continue;
            }
            if let Ok(key) = PublicKey::from_jwk(kid, alg, jwk) {
                keys.push(key);
            }
        }
        if keys.is_empty() {
            return Err(KeyError::NoUsableKey);
        }
        Ok(Self { keys })
    }

    /// The key with this `kid`.
    pub fn find(&self, kid: &str) -> Option<&PublicKey> {
        self.keys.iter().find(|key| key.kid == kid)
    }

    /// How many usable keys were kept, at most [`MAX_KEYS`].
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// True when no key was kept.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::names::encoding::b64url;
    use serde_json::json;

    /// An RSA JWK whose modulus is `n_bytes` long (odd, no leading zero) and exponent `e`.
    fn rsa(n_bytes: usize, e: &[u8]) -> Value {
        let mut n = vec![0xc5; n_bytes];
        if let Some(last) = n.last_mut() {
            *last = 0x01;
        }
        json!({"kty": "RSA", "n": b64url(&n), "e": b64url(e), "alg": "RS256", "d": "private"})
    }

    fn p256(x_bytes: usize) -> Value {
        json!({"kty": "EC", "crv": "P-256", "x": b64url(&vec![7; x_bytes]), "y": b64url(&[9; 32])})
    }

    #[test]
    fn rsa_keys_of_2048_to_4096_bits_with_an_odd_exponent_are_kept_public_members_only() {
        for (bytes, e) in [
            (256, &[1, 0, 1][..]),
            (512, &[3][..]),
            (384, &[1, 0, 0, 0, 1][..]),
        ] {
            let key = PublicKey::from_jwk("k", PublicAlg::Rs256, &rsa(bytes, e)).unwrap();
            assert_eq!(key.alg(), PublicAlg::Rs256);
            let members: Vec<_> = key
                .public_jwk()
                .as_object()
                .unwrap()
                .keys()
                .cloned()
                .collect();
            assert_eq!(members, ["e", "kty", "n"], "no alg, no private member");
        }
    }

    #[test]
    fn weak_odd_shaped_or_mislabelled_rsa_keys_are_refused() {
        let refused = [
            rsa(255, &[1, 0, 1]),       // 2040 bits
            rsa(128, &[1, 0, 1]),       // 1024 bits
            rsa(513, &[1, 0, 1]),       // over 4096 bits
            rsa(256, &[1]),             // e = 1
            rsa(256, &[2]),             // even e
            rsa(256, &[1, 0, 0]),       // even e
            rsa(256, &[0, 1, 0, 1]),    // leading zero
            rsa(256, &[2, 0, 0, 0, 1]), // 2^33 and more
            json!({"kty": "EC", "n": b64url(&[0xc5; 256]), "e": "AQAB"}),
        ];
        for jwk in refused {
            assert_eq!(
                PublicKey::from_jwk("k", PublicAlg::Rs256, &jwk).unwrap_err(),
                KeyError::Unsupported,
                "{jwk}"
            );
        }
        let padded = json!({"kty": "RSA", "n": format!("{}=", b64url(&[0xc5; 256])), "e": "AQAB"});
        assert_eq!(
            PublicKey::from_jwk("k", PublicAlg::Rs256, &padded).unwrap_err(),
            KeyError::Malformed
        );
    }

    #[test]
    fn p256_keys_need_32_byte_coordinates_on_the_named_curve() {
        assert!(PublicKey::from_jwk("k", PublicAlg::Es256, &p256(32)).is_ok());
        for jwk in [
            p256(31),
            p256(33),
            json!({"kty": "EC", "crv": "P-384", "x": b64url(&[7; 32]), "y": b64url(&[9; 32])}),
            rsa(256, &[1, 0, 1]),
        ] {
            assert!(
                PublicKey::from_jwk("k", PublicAlg::Es256, &jwk).is_err(),
                "{jwk}"
            );
        }
    }
}
