//! Server nonces (RFC 9449 §8), when `DPOP_NONCE = require`: a proof must carry a nonce the edge
//! issued within the last one or two minutes, so a proof made in advance (on a machine the client
//! no longer controls) expires with the nonce, whatever its `iat` says.
//!
//! Stateless: a nonce is a time window and a MAC of it under a key derived from the session key
//! ring, so every isolate and location issues and accepts the same nonces without storage. The
//! nonce in force and the one before it are accepted.

use core::fmt;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::auth::env::UnixTime;
use crate::auth::names::encoding::{b64url, b64url_decode};
use crate::auth::secret::ct_eq;
use crate::auth::token::keys::SessionKeyRing;

/// Seconds one nonce is issued for; it is accepted for one more such period.
pub const NONCE_PERIOD: i64 = 60;
/// The bytes of the MAC a nonce carries.
const MAC_BYTES: usize = 16;

/// The key nonces are made with. No `Display`, and a `Debug` that hides it.
pub struct NonceKey([u8; 32]);

impl NonceKey {
    /// The nonce key of a deployment: a MAC of a fixed label under its session signing key.
    pub fn derive(ring: &SessionKeyRing) -> Self {
        Self(mac(
            ring.signing_key().key().as_ref(),
            b"edgegate DPoP nonce key",
        ))
    }

    fn window_mac(&self, window: i64) -> [u8; 32] {
        mac(&self.0, &window.to_be_bytes())
    }

    /// The nonce in force at `now`.
    pub fn issue(&self, now: UnixTime) -> String {
        let window = now.div_euclid(NONCE_PERIOD);
        let mut bytes = window.to_be_bytes().to_vec();
        bytes.extend_from_slice(&self.window_mac(window)[..MAC_BYTES]);
        b64url(&bytes)
    }

    /// Whether `nonce` was issued by this key in the window of `now` or the one before.
    pub fn accepts(&self, nonce: &str, now: UnixTime) -> bool {
        let Some(bytes) = b64url_decode(nonce).filter(|bytes| bytes.len() == 8 + MAC_BYTES) else {
            return false;
        };
        let (window, tag) = bytes.split_at(8);
        let Ok(window) = <[u8; 8]>::try_from(window).map(i64::from_be_bytes) else {
            return false;
        };
        let current = now.div_euclid(NONCE_PERIOD);
        (window == current || window == current - 1)
            && ct_eq(tag, &self.window_mac(window)[..MAC_BYTES])
    }
}

impl fmt::Debug for NonceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NonceKey([redacted])")
    }
}

fn mac(key: &[u8], message: &[u8]) -> [u8; 32] {
    // HMAC takes a key of any length.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        return [0; 32];
    };
    mac.update(message);
    mac.finalize().into_bytes().into()
}
