//! A provider's signing keys, read from its JWKS, and the signature check every provider token
//! goes through.
//!
//! The check is a trait, [`SignatureCheck`], so the core stays free of I/O: the worker verifies
//! with the platform's WebCrypto (native code, many times faster than the same algorithms in
//! wasm), while native tests and the Wycheproof suite use [`LocalSignatureCheck`]. Either way
//! the key was parsed and its type and size checked here first.
//!
//! A provider publishes its keys at a URL we fetch, so the set is untrusted input too: only keys
//! usable for a signature we accept are kept (RSA of at least 2048 bits for RS256, P-256 for
//! ES256), each with its `kid`, and the algorithm is fixed by the key, never by a token's header.
//! Symmetric (`oct`) keys are never taken from a JWKS, so an HMAC token cannot verify.

use jwt_compact::alg::{Es256, Rsa, RsaPublicKey, StrongKey};
use jwt_compact::jwk::JsonWebKey;
use jwt_compact::{Algorithm, AlgorithmSignature};
use serde::Deserialize;
use serde_json::Value;

use crate::auth::token::keys::is_valid_kid;

/// A JWKS larger than this is refused before parsing; real ones are a few kilobytes.
pub const MAX_JWKS_BYTES: usize = 64 * 1024;
/// Keys kept from one JWKS; the rest are ignored.
pub const MAX_KEYS: usize = 16;

/// The signature algorithms accepted on provider tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProviderAlg {
    /// RSASSA-PKCS1-v1_5 with SHA-256, on RSA keys of at least 2048 bits.
    Rs256,
    /// ECDSA on P-256 with SHA-256.
    Es256,
}

impl ProviderAlg {
    /// The JOSE name, as in a token's `alg` header.
    pub fn name(self) -> &'static str {
        match self {
            Self::Rs256 => "RS256",
            Self::Es256 => "ES256",
        }
    }

    /// The algorithm a header names, if it is one we accept (`none` and `HS*` are not).
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "RS256" => Some(Self::Rs256),
            "ES256" => Some(Self::Es256),
            _ => None,
        }
    }
}

enum Verifier {
    Rsa(RsaPublicKey),
    P256(p256::ecdsa::VerifyingKey),
}

impl core::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::Rsa(_) => "Rsa",
            Self::P256(_) => "P256",
        })
    }
}

/// One public key of a provider.
#[derive(Debug)]
pub struct ProviderKey {
    kid: String,
    verifier: Verifier,
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
            Self::Unsupported => "the key is not an RSA (2048 bits or more) or P-256 key",
            Self::NoUsableKey => "the key set has no RS256 or ES256 signing key",
        })
    }
}

impl std::error::Error for KeyError {}

impl ProviderKey {
    /// A public key from its JWK, for `alg`; `Unsupported` unless it fits that algorithm.
    pub fn from_jwk(kid: &str, alg: ProviderAlg, jwk: &Value) -> Result<Self, KeyError> {
        let parsed: JsonWebKey<'_> =
            JsonWebKey::deserialize(jwk).map_err(|_| KeyError::Malformed)?;
        let verifier = match (alg, &parsed) {
            (ProviderAlg::Rs256, JsonWebKey::Rsa { .. }) => {
                let key = RsaPublicKey::try_from(&parsed).map_err(|_| KeyError::Unsupported)?;
                let strong = StrongKey::try_from(key).map_err(|_| KeyError::Unsupported)?;
                Verifier::Rsa(strong.into_inner())
            }
            (ProviderAlg::Es256, JsonWebKey::EllipticCurve { curve, .. }) if curve == "P-256" => {
                Verifier::P256(
                    p256::ecdsa::VerifyingKey::try_from(&parsed)
                        .map_err(|_| KeyError::Unsupported)?,
                )
            }
            _ => return Err(KeyError::Unsupported),
        };
        // Only the public parameters, so an importer never sees `alg`, `use` or private fields.
        let fields: &[&str] = match verifier {
            Verifier::Rsa(_) => &["kty", "n", "e"],
            Verifier::P256(_) => &["kty", "crv", "x", "y"],
        };
        let jwk = fields
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
            verifier,
            jwk: Value::Object(jwk),
        })
    }

    /// The key's id, matched against a token's `kid`.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The algorithm this key verifies; fixed by the key, never by a token.
    pub fn alg(&self) -> ProviderAlg {
        match self.verifier {
            Verifier::Rsa(_) => ProviderAlg::Rs256,
            Verifier::P256(_) => ProviderAlg::Es256,
        }
    }

    /// The key's public parameters as a JWK (`kty` with `n`, `e` or `crv`, `x`, `y`), for a
    /// verifier that imports keys itself.
    pub fn public_jwk(&self) -> &Value {
        &self.jwk
    }
}

/// Checks a provider token's signature under a key already parsed and vetted by
/// [`ProviderKey::from_jwk`]: RS256 is PKCS#1 v1.5 with SHA-256, ES256 a 64-byte `r || s` over
/// SHA-256. Any failure, including a key the verifier cannot use, is `false`.
// Workers run single-threaded wasm: futures are not `Send`, and callers are generic, not `dyn`.
#[allow(async_fn_in_trait)]
pub trait SignatureCheck {
    /// Whether `signature` signs `message` under `key` with the key's algorithm.
    async fn verifies(&self, key: &ProviderKey, message: &[u8], signature: &[u8]) -> bool;
}

/// The signature check in Rust (jwt-compact with `rsa` and `p256`), for native use.
#[derive(Debug, Clone, Copy, Default)]
pub struct LocalSignatureCheck;

impl SignatureCheck for LocalSignatureCheck {
    async fn verifies(&self, key: &ProviderKey, message: &[u8], signature: &[u8]) -> bool {
        match &key.verifier {
            Verifier::Rsa(key) => {
                let Ok(signature) = <Rsa as Algorithm>::Signature::try_from_slice(signature) else {
                    return false;
                };
                Rsa::rs256().verify_signature(&signature, key, message)
            }
            Verifier::P256(key) => {
                if signature.len() != 64 {
                    return false;
                }
                let Ok(signature) = <Es256 as Algorithm>::Signature::try_from_slice(signature)
                else {
                    return false;
                };
                Es256.verify_signature(&signature, key, message)
            }
        }
    }
}

/// The usable keys of one provider's JWKS.
#[derive(Debug)]
pub struct ProviderKeys {
    keys: Vec<ProviderKey>,
}

#[derive(Deserialize)]
struct Jwks {
    keys: Vec<Value>,
}

impl ProviderKeys {
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
                (Some("RSA"), None | Some("RS256")) => ProviderAlg::Rs256,
                (Some("EC"), None | Some("ES256")) => ProviderAlg::Es256,
                _ => continue,
            };
            if keys.iter().any(|key: &ProviderKey| key.kid == kid) {
                continue;
            }
            if let Ok(key) = ProviderKey::from_jwk(kid, alg, jwk) {
                keys.push(key);
            }
        }
        if keys.is_empty() {
            return Err(KeyError::NoUsableKey);
        }
        Ok(Self { keys })
    }

    /// The key with this `kid`.
    pub fn find(&self, kid: &str) -> Option<&ProviderKey> {
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
