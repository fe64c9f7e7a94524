//! The platform's WebCrypto (`crypto.subtle`): PBKDF2 for passwords, Ed25519 for identity
//! assertions, and RS256/ES256 verification of provider tokens. All run as native code in
//! workerd; the same algorithms compiled to wasm are many times slower (an Ed25519 signature
//! costs about 250 µs in wasm against about 20 µs here, and BENCHMARKS.md measures RS256/ES256
//! verification), and signing happens on every forwarded request.

use std::cell::RefCell;
use std::num::NonZeroUsize;

use lru::LruCache;

use js_sys::{Array, Object, Reflect, Uint8Array, JSON};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use crate::auth::token::keys::AssertionKeyRing;
use crate::auth::token::public_keys::{PublicAlg, PublicKey, SignatureCheck};

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = ["crypto", "subtle"], js_name = importKey)]
    fn import_key(
        format: &str,
        key: &JsValue,
        algorithm: &JsValue,
        extractable: bool,
        usages: &Array,
    ) -> js_sys::Promise;
    #[wasm_bindgen(js_namespace = ["crypto", "subtle"], js_name = deriveBits)]
    fn derive_bits(algorithm: &Object, key: &JsValue, length: u32) -> js_sys::Promise;
    #[wasm_bindgen(js_namespace = ["crypto", "subtle"])]
    fn verify(
        algorithm: &Object,
        key: &JsValue,
        signature: &Uint8Array,
        data: &Uint8Array,
    ) -> js_sys::Promise;
    #[wasm_bindgen(js_namespace = ["crypto", "subtle"])]
    fn sign(algorithm: &JsValue, key: &JsValue, data: &Uint8Array) -> js_sys::Promise;
}

/// Verification keys kept imported per isolate.
const IMPORTED_KEYS: usize = 1024;

thread_local! {
    /// The imported assertion signing key and its kid, imported once per isolate.
    static SIGNING_KEY: RefCell<Option<(String, JsValue)>> = const { RefCell::new(None) };
    /// Imported verification keys, by algorithm and public JWK, the most recently used kept.
    static VERIFY_KEYS: RefCell<LruCache<String, JsValue>> =
        RefCell::new(LruCache::new(NonZeroUsize::MIN.saturating_add(IMPORTED_KEYS - 1)));
}

fn failed(what: &'static str) -> impl Fn(JsValue) -> String {
    move |err| format!("{what}: {err:?}")
}

/// PBKDF2-HMAC-SHA256, 256 bits.
pub(super) async fn pbkdf2_sha256(
    password: &str,
    salt: &[u8],
    iterations: u32,
) -> Result<Vec<u8>, String> {
    let usages = Array::of1(&JsValue::from_str("deriveBits"));
    let raw: JsValue = Uint8Array::from(password.as_bytes()).into();
    let key = JsFuture::from(import_key(
        "raw",
        &raw,
        &JsValue::from_str("PBKDF2"),
        false,
        &usages,
    ))
    .await
    .map_err(failed("importKey"))?;
    let algorithm = Object::new();
    for (name, value) in [
        ("name", JsValue::from_str("PBKDF2")),
        ("hash", JsValue::from_str("SHA-256")),
        ("salt", Uint8Array::from(salt).into()),
        ("iterations", JsValue::from(iterations)),
    ] {
        Reflect::set(&algorithm, &JsValue::from_str(name), &value).map_err(failed("algorithm"))?;
    }
    let bits = JsFuture::from(derive_bits(&algorithm, &key, 256))
        .await
        .map_err(failed("deriveBits"))?;
    Ok(Uint8Array::new(&bits).to_vec())
}

/// The CryptoKey of the ring's signing key, imported on first use of its kid.
async fn ed25519_key(ring: &AssertionKeyRing) -> Result<JsValue, String> {
    let kid = ring.signing_key().kid();
    let cached = SIGNING_KEY.with(|slot| {
        slot.borrow()
            .as_ref()
            .filter(|(cached_kid, _)| cached_kid == kid)
            .map(|(_, key)| key.clone())
    });
    if let Some(key) = cached {
        return Ok(key);
    }
    let jwk = JSON::parse(&ring.signing_jwk().expose().to_string()).map_err(failed("jwk"))?;
    let usages = Array::of1(&JsValue::from_str("sign"));
    let key = JsFuture::from(import_key(
        "jwk",
        &jwk,
        &JsValue::from_str("Ed25519"),
        false,
        &usages,
    ))
    .await
    .map_err(failed("importKey"))?;
    SIGNING_KEY.with(|slot| *slot.borrow_mut() = Some((kid.to_owned(), key.clone())));
    Ok(key)
}

/// An Ed25519 signature of `data` with the ring's signing key.
pub(super) async fn ed25519_sign(ring: &AssertionKeyRing, data: &[u8]) -> Result<Vec<u8>, String> {
    let key = ed25519_key(ring).await?;
    let signature = JsFuture::from(sign(
        &JsValue::from_str("Ed25519"),
        &key,
        &Uint8Array::from(data),
    ))
    .await
    .map_err(failed("sign"))?;
    Ok(Uint8Array::new(&signature).to_vec())
}

/// One member of a WebCrypto algorithm object: its name and text value.
type Member = (&'static str, &'static str);

/// Provider-token and client-proof signatures checked by WebCrypto: the key's public JWK is
/// imported (the core already vetted its type and size) and `crypto.subtle.verify` run with
/// RSASSA-PKCS1-v1_5 or ECDSA P-256, both over SHA-256, or Ed25519. A JWS ES256 signature is
/// already the `r || s` form WebCrypto takes. A key WebCrypto refuses, or any other error, is a
/// failed check. Imported keys are kept per isolate ([`IMPORTED_KEYS`] of them, by algorithm and
/// JWK), so a DPoP client's every request, or a provider's every token, imports its key once.
#[derive(Debug, Clone, Copy, Default)]
pub(in crate::edge) struct WebCryptoSignatureCheck;

/// A WebCrypto algorithm object from its members.
fn algorithm(fields: &[Member]) -> Result<Object, String> {
    let object = Object::new();
    for (name, value) in fields {
        Reflect::set(&object, &JsValue::from_str(name), &JsValue::from_str(value))
            .map_err(failed("algorithm"))?;
    }
    Ok(object)
}

impl WebCryptoSignatureCheck {
    /// `key` imported for verifying (from the isolate's keys when imported before), and the
    /// parameters of its `verify`.
    async fn crypto_key(key: &PublicKey) -> Result<(JsValue, Object), String> {
        let (import, params): (&[Member], &[Member]) = match key.alg() {
            PublicAlg::Rs256 => (
                &[("name", "RSASSA-PKCS1-v1_5"), ("hash", "SHA-256")],
                &[("name", "RSASSA-PKCS1-v1_5"), ("hash", "SHA-256")],
            ),
            PublicAlg::Es256 => (
                &[("name", "ECDSA"), ("namedCurve", "P-256")],
                &[("name", "ECDSA"), ("hash", "SHA-256")],
            ),
            PublicAlg::Ed25519 => (&[("name", "Ed25519")], &[("name", "Ed25519")]),
        };
        let text = key.public_jwk().to_string();
        let name = format!("{} {text}", key.alg().name());
        let cached = VERIFY_KEYS.with(|keys| keys.borrow_mut().get(&name).cloned());
        let crypto_key = match cached {
            Some(crypto_key) => crypto_key,
            None => {
                let jwk = JSON::parse(&text).map_err(failed("jwk"))?;
                let usages = Array::of1(&JsValue::from_str("verify"));
                let crypto_key = JsFuture::from(import_key(
                    "jwk",
                    &jwk,
                    &algorithm(import)?.into(),
                    false,
                    &usages,
                ))
                .await
                .map_err(failed("importKey"))?;
                VERIFY_KEYS.with(|keys| keys.borrow_mut().put(name, crypto_key.clone()));
                crypto_key
            }
        };
        Ok((crypto_key, algorithm(params)?))
    }

    async fn check(key: &PublicKey, message: &[u8], signature: &[u8]) -> Result<bool, String> {
        let (crypto_key, params) = Self::crypto_key(key).await?;
        let verdict = JsFuture::from(verify(
            &params,
            &crypto_key,
            &Uint8Array::from(signature),
            &Uint8Array::from(message),
        ))
        .await
        .map_err(failed("verify"))?;
        Ok(verdict.as_bool() == Some(true))
    }
}

impl SignatureCheck for WebCryptoSignatureCheck {
    async fn verifies(&self, key: &PublicKey, message: &[u8], signature: &[u8]) -> bool {
        Self::check(key, message, signature).await.unwrap_or(false)
    }

    async fn imports(&self, key: &PublicKey) -> bool {
        Self::crypto_key(key).await.is_ok()
    }
}
