//! The challenges of the two ceremonies, each taken exactly once.
//!
//! - A **registration** challenge is 32 random bytes, kept by the user's authority with the
//!   session that asked for it until it is taken or [`REGISTRATION_TTL`] runs out.
//! - A **sign-in** challenge is issued before anyone is known, to any visitor of the sign-in
//!   page, so it is not stored: 16 random bytes, then a time window and a MAC of both under a key
//!   derived from `SESSION_KEYS` for this purpose alone (a registration's or another feature's
//!   value never passes). It is accepted for [`SIGN_IN_WINDOW`] to twice that. It is taken in
//!   the authority of the user whose passkey answered it ([`super::registry`] keeps it spent
//!   until it has expired anyway): an answer can only be used at its credential's owner, so that
//!   strongly consistent object is the one place every use of it passes. A page load writes
//!   nothing anywhere, and a replay is refused at every location alike.

use crate::auth::env::{random_bytes, Entropy, EntropyError, UnixTime};
use crate::auth::names::encoding::{b64url, b64url_decode};
use crate::auth::token::keys::SessionKeyRing;
use crate::auth::token::windowed::WindowedMac;

/// Seconds a registration challenge stays valid (the browser's timeout is set below it).
pub const REGISTRATION_TTL: i64 = 300;
/// Seconds of one sign-in window: a challenge is accepted in its window and the next, so for
/// two to four minutes. The sign-in page asks for a new one every [`SIGN_IN_WINDOW`] seconds.
pub const SIGN_IN_WINDOW: i64 = 120;
/// The random bytes at the front of a sign-in challenge.
const UNIQUE_BYTES: usize = 16;
/// The window and MAC after them (8 and 16 bytes, see [`WindowedMac`]).
const WINDOWED_BYTES: usize = 24;

/// A fresh registration challenge.
pub fn registration_challenge(entropy: &dyn Entropy) -> Result<[u8; 32], EntropyError> {
    random_bytes(entropy)
}

/// Issues and recognises the sign-in challenges of one deployment: under a key derived from the
/// signing key of `SESSION_KEYS`, accepted under one derived from any key of the ring.
pub struct SignInChallenges(Vec<WindowedMac>);

impl core::fmt::Debug for SignInChallenges {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("SignInChallenges([redacted])")
    }
}

impl SignInChallenges {
    /// The challenges of the deployment whose session keys are `ring`.
    pub fn new(ring: &SessionKeyRing) -> Self {
        Self(WindowedMac::derive_each(
            ring,
            "edgegate passkey sign-in challenge",
            SIGN_IN_WINDOW,
        ))
    }

    /// A new challenge, as bytes: 16 random, then the window and its MAC.
    pub fn issue(&self, entropy: &dyn Entropy, now: UnixTime) -> Result<Vec<u8>, EntropyError> {
        let unique: [u8; UNIQUE_BYTES] = random_bytes(entropy)?;
        let mut challenge = unique.to_vec();
        // A ring is never empty; the windowed value is base64url of bytes made here, so it
        // always decodes.
        if let Some(signing) = self.0.first() {
            challenge.extend(b64url_decode(&signing.issue(&unique, now)).unwrap_or_default());
        }
        Ok(challenge)
    }

    /// Whether `challenge` was issued here and is still live; the caller takes it once.
    pub fn accepts(&self, challenge: &[u8], now: UnixTime) -> bool {
        if challenge.len() != UNIQUE_BYTES + WINDOWED_BYTES {
            return false;
        }
        let (unique, windowed) = challenge.split_at(UNIQUE_BYTES);
        let windowed = b64url(windowed);
        self.0.iter().any(|key| key.accepts(&windowed, unique, now))
    }

    /// The last second at which `challenge`, accepted at `now`, can still be accepted: how
    /// long it must be remembered as spent.
    pub fn expires_by(now: UnixTime) -> UnixTime {
        now + 2 * SIGN_IN_WINDOW
    }
}
