//! Stateless values the edge issues and later takes back without storing them: a time window
//! and a MAC of the window and its subject under a key derived, per purpose, from the session
//! key ring. Every isolate and location issues and accepts the same ones; one is accepted in
//! the window it was issued in and the next. DPoP server nonces and device-bound session
//! challenges are such values; the device-bound cookie, which carries its own expiry, uses the
//! derived key's [`WindowedMac::mac`] alone.

use core::fmt;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::keys::SessionKeyRing;
use crate::auth::env::UnixTime;
use crate::auth::names::encoding::{b64url, b64url_decode};
use crate::auth::secret::ct_eq;

/// The bytes of the MAC a value carries.
const MAC_BYTES: usize = 16;

/// A derived key, and the length of the windows its values are issued for. No `Display`; a
/// `Debug` that hides the key.
pub struct WindowedMac {
    key: [u8; 32],
    period: i64,
}

/// HMAC-SHA256 of `message` under `key`.
fn hmac(key: &[u8], message: &[u8]) -> [u8; 32] {
    // HMAC takes a key of any length, so this never fails.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        return [0; 32];
    };
    mac.update(message);
    mac.finalize().into_bytes().into()
}

impl WindowedMac {
    /// The key for `purpose` (a fixed label) of the deployment whose session keys are `ring`,
    /// issuing values for windows of `period` seconds.
    pub fn derive(ring: &SessionKeyRing, purpose: &str, period: i64) -> Self {
        Self {
            key: hmac(ring.signing_key().key().as_ref(), purpose.as_bytes()),
            period: period.max(1),
        }
    }

    /// One key for `purpose` per key of `ring`, the signing key's first: values are issued under
    /// the first and accepted under any, so that those issued just before a rotation of
    /// `SESSION_KEYS` still pass while the old key stays in the ring.
    pub fn derive_each(ring: &SessionKeyRing, purpose: &str, period: i64) -> Vec<Self> {
        ring.kids()
            .filter_map(|kid| ring.find(kid))
            .map(|key| Self {
                key: hmac(key.key().as_ref(), purpose.as_bytes()),
                period: period.max(1),
            })
            .collect()
    }

    /// The MAC of `message` under the derived key, for a value with an expiry of its own.
    pub fn mac(&self, message: &[u8]) -> [u8; 32] {
        hmac(&self.key, message)
    }

    fn tag(&self, window: i64, subject: &[u8]) -> [u8; 32] {
        let mut message = window.to_be_bytes().to_vec();
        message.extend_from_slice(subject);
        self.mac(&message)
    }

    /// The value for `subject` in force at `now`.
    pub fn issue(&self, subject: &[u8], now: UnixTime) -> String {
        let window = now.div_euclid(self.period);
        let mut bytes = window.to_be_bytes().to_vec();
        bytes.extend_from_slice(&self.tag(window, subject)[..MAC_BYTES]);
        b64url(&bytes)
    }

    /// Whether `value` was issued for `subject` by this key in the window of `now` or the one
    /// before.
    pub fn accepts(&self, value: &str, subject: &[u8], now: UnixTime) -> bool {
        let Some(bytes) = b64url_decode(value).filter(|bytes| bytes.len() == 8 + MAC_BYTES) else {
            return false;
        };
        let (window, tag) = bytes.split_at(8);
        let Ok(window) = <[u8; 8]>::try_from(window).map(i64::from_be_bytes) else {
            return false;
        };
        let current = now.div_euclid(self.period);
        (window == current || window == current - 1)
            && ct_eq(tag, &self.tag(window, subject)[..MAC_BYTES])
    }
}

impl fmt::Debug for WindowedMac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WindowedMac")
            .field("key", &"[redacted]")
            .field("period", &self.period)
            .finish()
    }
}
