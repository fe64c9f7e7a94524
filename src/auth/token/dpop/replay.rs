//! The memory of proofs already taken (RFC 9449 §11.1): each key's `jti` is accepted once while
//! its proof could still be accepted at all.
//!
//! Bounded in time (an entry lives as long as its proof, [`PROOF_LIFETIME`] past its `iat`) and
//! in memory ([`SEEN_PROOFS`] entries, about 5 MB at most of the isolate's 128 MB): enough for
//! every proof of a minute at 1,000 DPoP requests a second in one isolate. When the memory is
//! full the oldest entry makes room; if that entry's proof could still be replayed, every proof
//! issued no later than it is refused from then on until it expires, so eviction never reopens a
//! replay. Past that rate, then, a proof older than the memory's span (65,536 divided by the
//! rate, in seconds) is refused; its client makes a new one.
//!
//! It is one isolate's memory: the same proof sent to another isolate or location within its
//! minute is not seen here. That is the bound: the proof is good for one method and URL and,
//! with a token, only for that token, for a minute. Server nonces (`DPOP_NONCE`) limit what a
//! proof made in advance is worth, not the replay of a fresh one.

use std::cell::{Cell, RefCell};
use std::num::NonZeroUsize;

use lru::LruCache;
use sha2::{Digest, Sha256};

use super::proof::PROOF_LIFETIME;
use crate::auth::env::UnixTime;
use crate::auth::names::thumbprint::Thumbprint;

/// Proofs remembered per isolate.
pub const SEEN_PROOFS: usize = 65_536;

/// Proofs this isolate has taken, by key and `jti`, each until its proof expires.
pub struct SeenProofs {
    entries: RefCell<LruCache<[u8; 32], UnixTime>>,
    /// Proofs issued at or before this time are refused: a proof that young was forgotten to make
    /// room.
    forgotten_until: Cell<UnixTime>,
}

impl SeenProofs {
    /// An empty memory of `capacity` entries (at least one).
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: RefCell::new(LruCache::new(
                NonZeroUsize::new(capacity).unwrap_or(NonZeroUsize::MIN),
            )),
            forgotten_until: Cell::new(UnixTime::MIN),
        }
    }

    /// Whether this is the first time the proof `jti` of `key`, issued at `iat`, is seen; it is
    /// remembered from now on.
    pub fn first_use(&self, key: &Thumbprint, jti: &str, iat: UnixTime, now: UnixTime) -> bool {
        if iat <= self.forgotten_until.get() {
            return false;
        }
        let mut digest = Sha256::new();
        digest.update(key.as_str().as_bytes());
        digest.update([0]);
        digest.update(jti.as_bytes());
        let id: [u8; 32] = digest.finalize().into();
        let mut entries = self.entries.borrow_mut();
        if entries.get(&id).is_some_and(|until| now < *until) {
            return false;
        }
        if let Some((_, until)) = entries.push(id, iat + PROOF_LIFETIME + 1) {
            if until > now {
                let evicted_iat = until - PROOF_LIFETIME - 1;
                self.forgotten_until
                    .set(self.forgotten_until.get().max(evicted_iat));
            }
        }
        true
    }
}

impl Default for SeenProofs {
    fn default() -> Self {
        Self::new(SEEN_PROOFS)
    }
}
