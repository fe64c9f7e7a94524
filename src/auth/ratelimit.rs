//! Slowing down password guessing with fixed-window failure counters.
//!
//! Only failures count, so a user who types the right password is never held back by their own
//! success. A fixed window (rather than a sliding one) needs a single small record per counter,
//! which suits Workers KV: one read before checking a password, one write after a failure. KV is
//! eventually consistent, so concurrent guesses from different locations can overshoot the limit
//! a little; the counter bounds the guessing rate, it is not an exact quota.
//!
//! Counters live under [`counter_key`], which hashes the username or address so that storage
//! never holds them in the clear.

use super::env::UnixTime;
use base64ct::{Base64UrlUnpadded, Encoding};
use core::fmt;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Workers KV refuses expirations shorter than this, so no window can be shorter either.
pub const MIN_WINDOW_SECS: i64 = 60;

/// How many failures a counter tolerates per window.
///
/// Build it with [`Limit::new`] to have it checked. The functions below also accept a limit built
/// by hand: they treat a window shorter than [`MIN_WINDOW_SECS`] as that long, and a
/// `max_failures` of 0 as "always limited".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub max_failures: u32,
    pub window_secs: i64,
}

impl Limit {
    /// A limit of at least one failure per window of at least [`MIN_WINDOW_SECS`].
    pub const fn new(max_failures: u32, window_secs: i64) -> Result<Self, LimitError> {
        if max_failures == 0 {
            return Err(LimitError::NoFailuresAllowed);
        }
        if window_secs < MIN_WINDOW_SECS {
            return Err(LimitError::WindowTooShort { window_secs });
        }
        Ok(Self {
            max_failures,
            window_secs,
        })
    }

    fn effective_window(&self) -> i64 {
        self.window_secs.max(MIN_WINDOW_SECS)
    }
}

/// A [`Limit`] that cannot work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LimitError {
    /// `max_failures` is 0, which would lock every account out.
    NoFailuresAllowed,
    /// The window is shorter than Workers KV can expire a record.
    WindowTooShort { window_secs: i64 },
}

impl fmt::Display for LimitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoFailuresAllowed => {
                f.write_str("a rate limit must allow at least one failure per window")
            }
            Self::WindowTooShort { window_secs } => write!(
                f,
                "a rate-limit window of {window_secs} s is shorter than the {MIN_WINDOW_SECS} s \
                 minimum that Workers KV can expire"
            ),
        }
    }
}

impl std::error::Error for LimitError {}

/// The stored state of one counter: failures seen since `started`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    pub failures: u32,
    pub started: UnixTime,
}

impl Window {
    /// Seconds since the window started; a start in the future (clocks of two machines
    /// disagreeing) counts as starting now.
    fn elapsed(&self, now: UnixTime) -> i64 {
        now.saturating_sub(self.started).max(0)
    }

    fn is_open(&self, limit: &Limit, now: UnixTime) -> bool {
        self.elapsed(now) < limit.effective_window()
    }
}

/// Whether another attempt may go ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    /// Refuse the attempt; `retry_after_secs` (at least 1) suits a `Retry-After` header.
    Limited {
        retry_after_secs: i64,
    },
}

/// Decides whether an attempt may go ahead, before the password is even looked at.
pub fn check(current: Option<&Window>, limit: &Limit, now: UnixTime) -> Verdict {
    let Some(window) = current.filter(|window| window.is_open(limit, now)) else {
        return if limit.max_failures == 0 {
            Verdict::Limited {
                retry_after_secs: limit.effective_window(),
            }
        } else {
            Verdict::Allowed
        };
    };
    if window.failures < limit.max_failures {
        return Verdict::Allowed;
    }
    Verdict::Limited {
        retry_after_secs: limit.effective_window() - window.elapsed(now),
    }
}

/// The counter after one more failure: a new window if the old one has ended.
pub fn record_failure(current: Option<&Window>, limit: &Limit, now: UnixTime) -> Window {
    match current.filter(|window| window.is_open(limit, now)) {
        Some(window) => Window {
            failures: window.failures.saturating_add(1),
            started: window.started,
        },
        None => Window {
            failures: 1,
            started: now,
        },
    }
}

/// The expiration TTL to store `window` with: until it ends, but never below what KV accepts.
pub fn storage_ttl(window: &Window, limit: &Limit, now: UnixTime) -> i64 {
    (limit.effective_window() - window.elapsed(now)).max(MIN_WINDOW_SECS)
}

/// What a counter counts failures of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// One account, whoever tries it; pass the normalised username.
    Account,
    /// One client address, whichever accounts it tries.
    ClientIp,
}

impl Scope {
    fn label(self) -> &'static str {
        match self {
            Self::Account => "account",
            Self::ClientIp => "ip",
        }
    }
}

/// The storage key of a counter, e.g. `rl:ip:<43 base64url chars>`.
///
/// The value is hashed (SHA-256, with the scope mixed in so an account and an address never share
/// a counter), so a storage dump lists neither usernames nor addresses in the clear.
pub fn counter_key(scope: Scope, value: &str) -> String {
    let digest = Sha256::new()
        .chain_update(b"edgegate rate limit\0")
        .chain_update(scope.label())
        .chain_update(b"\0")
        .chain_update(value)
        .finalize();
    format!(
        "rl:{}:{}",
        scope.label(),
        Base64UrlUnpadded::encode_string(&digest)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMIT: Limit = match Limit::new(3, 600) {
        Ok(limit) => limit,
        Err(_) => panic!("test limit is valid"),
    };
    const T0: UnixTime = 1_700_000_000;

    fn failures(count: u32, started: UnixTime) -> Window {
        Window {
            failures: count,
            started,
        }
    }

    #[test]
    fn new_validates_the_limit() {
        assert_eq!(Limit::new(5, 60).map(|l| l.window_secs), Ok(60));
        assert_eq!(Limit::new(0, 600), Err(LimitError::NoFailuresAllowed));
        assert_eq!(
            Limit::new(5, 59),
            Err(LimitError::WindowTooShort { window_secs: 59 })
        );
        assert!(Limit::new(5, -1).unwrap_err().to_string().contains("60 s"));
    }

    #[test]
    fn no_counter_is_allowed() {
        assert_eq!(check(None, &LIMIT, T0), Verdict::Allowed);
    }

    #[test]
    fn failures_below_the_limit_are_allowed() {
        assert_eq!(
            check(Some(&failures(2, T0)), &LIMIT, T0 + 10),
            Verdict::Allowed
        );
    }

    #[test]
    fn reaching_the_limit_refuses_until_the_window_ends() {
        let window = failures(3, T0);
        assert_eq!(
            check(Some(&window), &LIMIT, T0 + 100),
            Verdict::Limited {
                retry_after_secs: 500
            }
        );
        assert_eq!(
            check(Some(&window), &LIMIT, T0 + 599),
            Verdict::Limited {
                retry_after_secs: 1
            }
        );
        assert_eq!(check(Some(&window), &LIMIT, T0 + 600), Verdict::Allowed);
    }

    #[test]
    fn a_window_from_the_future_counts_as_starting_now() {
        assert_eq!(
            check(Some(&failures(3, T0 + 50)), &LIMIT, T0),
            Verdict::Limited {
                retry_after_secs: 600
            }
        );
    }

    #[test]
    fn record_failure_counts_within_the_window_and_rolls_over_after() {
        let first = record_failure(None, &LIMIT, T0);
        assert_eq!(first, failures(1, T0));
        let second = record_failure(Some(&first), &LIMIT, T0 + 599);
        assert_eq!(second, failures(2, T0));
        let rolled = record_failure(Some(&second), &LIMIT, T0 + 600);
        assert_eq!(rolled, failures(1, T0 + 600));
    }

    #[test]
    fn the_counter_limits_after_max_failures() {
        let mut window = None;
        for attempt in 0..3 {
            assert_eq!(
                check(window.as_ref(), &LIMIT, T0 + attempt),
                Verdict::Allowed
            );
            window = Some(record_failure(window.as_ref(), &LIMIT, T0 + attempt));
        }
        assert!(matches!(
            check(window.as_ref(), &LIMIT, T0 + 3),
            Verdict::Limited { .. }
        ));
    }

    #[test]
    fn extreme_stored_values_do_not_overflow() {
        let saturated = failures(u32::MAX, i64::MIN);
        assert_eq!(check(Some(&saturated), &LIMIT, i64::MAX), Verdict::Allowed);
        let far_future = failures(u32::MAX, i64::MAX);
        assert_eq!(
            record_failure(Some(&far_future), &LIMIT, i64::MIN),
            failures(u32::MAX, i64::MAX)
        );
    }

    #[test]
    fn hand_built_limits_are_clamped_and_fail_closed() {
        let too_short = Limit {
            max_failures: 1,
            window_secs: 5,
        };
        assert_eq!(
            check(Some(&failures(1, T0)), &too_short, T0 + 30),
            Verdict::Limited {
                retry_after_secs: 30
            }
        );
        let none_allowed = Limit {
            max_failures: 0,
            window_secs: 600,
        };
        assert!(matches!(
            check(None, &none_allowed, T0),
            Verdict::Limited { .. }
        ));
    }

    #[test]
    fn storage_ttl_lasts_the_rest_of_the_window_but_at_least_a_minute() {
        assert_eq!(storage_ttl(&failures(1, T0), &LIMIT, T0), 600);
        assert_eq!(storage_ttl(&failures(1, T0), &LIMIT, T0 + 500), 100);
        assert_eq!(storage_ttl(&failures(1, T0), &LIMIT, T0 + 590), 60);
    }

    #[test]
    fn counter_keys_hash_the_value_and_separate_scopes() {
        let key = counter_key(Scope::ClientIp, "203.0.113.7");
        assert!(key.starts_with("rl:ip:"));
        assert_eq!(key.len(), "rl:ip:".len() + 43);
        assert!(!key.contains("203.0.113.7"));
        assert_eq!(key, counter_key(Scope::ClientIp, "203.0.113.7"));
        assert_ne!(key, counter_key(Scope::ClientIp, "203.0.113.8"));
        let account = counter_key(Scope::Account, "203.0.113.7");
        assert!(account.starts_with("rl:account:"));
        assert_ne!(account["rl:account:".len()..], key["rl:ip:".len()..]);
    }

    #[test]
    fn windows_round_trip_through_json() {
        let window = failures(2, T0);
        let json = serde_json::to_string(&window).unwrap();
        assert_eq!(json, r#"{"failures":2,"started":1700000000}"#);
        assert_eq!(serde_json::from_str::<Window>(&json).unwrap(), window);
    }
}
