//! Server nonces (RFC 9449 §8), when `DPOP_NONCE = require`: a proof must carry a nonce the edge
//! issued within the last one or two minutes, so a proof made in advance (on a machine the client
//! no longer controls) expires with the nonce, whatever its `iat` says. Stateless
//! ([`WindowedMac`]): every isolate and location issues and accepts the same nonces.

use crate::auth::env::UnixTime;
use crate::auth::token::keys::SessionKeyRing;
use crate::auth::token::windowed::WindowedMac;

/// Seconds one nonce is issued for; it is accepted for one more such period.
pub const NONCE_PERIOD: i64 = 60;

/// The key nonces are made with.
#[derive(Debug)]
pub struct NonceKey(WindowedMac);

impl NonceKey {
    /// The nonce key of a deployment, derived from its session signing key.
    pub fn derive(ring: &SessionKeyRing) -> Self {
        Self(WindowedMac::derive(
            ring,
            "edgegate DPoP nonce key",
            NONCE_PERIOD,
        ))
    }

    /// The nonce in force at `now`.
    pub fn issue(&self, now: UnixTime) -> String {
        self.0.issue(b"", now)
    }

    /// Whether `nonce` was issued by this key in the window of `now` or the one before.
    pub fn accepts(&self, nonce: &str, now: UnixTime) -> bool {
        self.0.accepts(nonce, b"", now)
    }
}
