//! The two things the core takes from the world: the time and randomness.
//!
//! Everything else in [`crate::auth`] is a function of its inputs. Production passes the
//! worker's current time (`Date.now()`, as [`UnixTime`]) from the shell and [`OsEntropy`]; tests
//! pass fixed clocks and seeded entropy so that every expiry, rotation and grace window is reproducible.

pub mod vars;

use core::fmt;

/// Seconds since the Unix epoch.
pub type UnixTime = i64;

/// Where the current time comes from.
pub trait Clock {
    /// The current time in Unix seconds.
    fn now(&self) -> UnixTime;
}

/// Where secret randomness comes from: it must be a CSPRNG.
pub trait Entropy {
    /// Fills all of `buf` with random bytes, or fails: never a partial or predictable fill.
    fn fill(&self, buf: &mut [u8]) -> Result<(), EntropyError>;
}

/// The platform's CSPRNG (`crypto.getRandomValues` in wasm, the OS elsewhere).
#[derive(Debug, Clone, Copy, Default)]
pub struct OsEntropy;

impl Entropy for OsEntropy {
    fn fill(&self, buf: &mut [u8]) -> Result<(), EntropyError> {
        getrandom::getrandom(buf).map_err(|_| EntropyError)
    }
}

/// A clock that always answers the same instant; for tests and for pinning one request's time.
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub UnixTime);

impl Clock for FixedClock {
    fn now(&self) -> UnixTime {
        self.0
    }
}

/// The platform could not supply randomness; nothing secret can be minted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntropyError;

impl fmt::Display for EntropyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the platform's random number generator failed")
    }
}

impl std::error::Error for EntropyError {}

/// Fills `N` random bytes.
pub fn random_bytes<const N: usize>(entropy: &dyn Entropy) -> Result<[u8; N], EntropyError> {
    let mut buf = [0u8; N];
    entropy.fill(&mut buf)?;
    Ok(buf)
}

#[cfg(test)]
pub(crate) mod testing {
    //! Deterministic entropy for tests: a counter run through SHA-256.
    use super::*;
    use sha2::{Digest, Sha256};
    use std::cell::Cell;

    #[derive(Debug, Default)]
    pub struct SeededEntropy {
        counter: Cell<u64>,
    }

    impl Entropy for SeededEntropy {
        fn fill(&self, buf: &mut [u8]) -> Result<(), EntropyError> {
            for chunk in buf.chunks_mut(32) {
                let n = self.counter.get();
                self.counter.set(n + 1);
                chunk.copy_from_slice(&Sha256::digest(n.to_le_bytes())[..chunk.len()]);
            }
            Ok(())
        }
    }

    /// Entropy that always fails, to prove callers fail closed.
    #[derive(Debug, Default)]
    pub struct BrokenEntropy;

    impl Entropy for BrokenEntropy {
        fn fill(&self, _: &mut [u8]) -> Result<(), EntropyError> {
            Err(EntropyError)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_entropy_differs_between_draws() {
        let a: [u8; 32] = random_bytes(&OsEntropy).unwrap();
        let b: [u8; 32] = random_bytes(&OsEntropy).unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn seeded_entropy_is_reproducible_and_broken_entropy_fails() {
        let a: [u8; 48] = random_bytes(&testing::SeededEntropy::default()).unwrap();
        let b: [u8; 48] = random_bytes(&testing::SeededEntropy::default()).unwrap();
        assert_eq!(a, b);
        assert!(random_bytes::<8>(&testing::BrokenEntropy).is_err());
    }
}
