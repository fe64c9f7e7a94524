//! Slowing down password guessing with fixed-window failure counters.
//!
//! Only failures count, so a user who types the right password is never held back by their own
//! success (with an exact owner, an attempt counts while its password is being checked and is
//! taken back if it was right). A fixed window (rather than a sliding one) needs a single small
//! record per counter.
//!
//! Two ways to keep it:
//! - Exact, with one strongly consistent owner per counter (the session authority):
//!   [`ThrottleCommand::Admit`] checks and counts an attempt in one step *before* its password is
//!   checked, so however many guesses arrive at once, at most `max_failures` passwords are
//!   checked per window; [`ThrottleCommand::Forgive`] takes the count back when the password was
//!   right. [`apply`] is that owner's whole logic.
//! - Best effort, in Workers KV ([`check`] before, [`record_failure`] after a failure): KV has no
//!   atomic increment and is eventually consistent, so concurrent guesses can each read the same
//!   count and other locations see it late; the limit then bounds the guessing rate, it is not an
//!   exact quota.
//!
//! Counters live under [`counter_key`], which hashes the username or address so that storage
//! never holds them in the clear. Addresses are counted by [`client_prefix`]: an IPv6 client
//! controls a whole /64, so one budget covers it.

use crate::auth::env::UnixTime;
use base64ct::{Base64UrlUnpadded, Encoding};
use core::fmt;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::net::IpAddr;

/// Workers KV refuses expirations shorter than this, so no window can be shorter either.
pub const MIN_WINDOW_SECS: i64 = 60;

/// How many failures a counter tolerates per window.
///
/// Build it with [`Limit::new`] to have it checked. The functions below also accept a limit built
/// by hand: they treat a window shorter than [`MIN_WINDOW_SECS`] as that long, and a
/// `max_failures` of 0 as "always limited".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limit {
    /// Failed attempts allowed per window.
    pub max_failures: u32,
    /// Length of the window in seconds.
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
    WindowTooShort {
        /// The configured window, in seconds.
        window_secs: i64,
    },
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
    /// Attempts counted in this window.
    pub failures: u32,
    /// When the window began, in Unix seconds.
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    /// Let the attempt check its password.
    Allowed,
    /// Refuse the attempt; `retry_after_secs` (at least 1) suits a `Retry-After` header.
    Limited {
        /// Seconds until the window ends.
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

/// One atomic step on a counter, as sent to the counter's owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
/// A request to the counter that owns one limited key.
#[serde(tag = "op", rename_all = "snake_case")]
pub enum ThrottleCommand {
    /// Decide whether an attempt may check its password and, if so, count it now.
    Admit {
        /// The limit to apply.
        limit: Limit,
        /// The current time, in Unix seconds.
        now: UnixTime,
    },
    /// Take back one admitted attempt: its password was right.
    Forgive {
        /// The limit the attempt was admitted under.
        limit: Limit,
        /// The current time, in Unix seconds.
        now: UnixTime,
    },
}

/// Applies `command` to a counter: the verdict, and the counter to keep (`None`: nothing left to
/// keep). Admitting counts the attempt at once, so the owner never admits more attempts per
/// window than the limit allows, however many arrive together.
pub fn apply(current: Option<Window>, command: ThrottleCommand) -> (Verdict, Option<Window>) {
    match command {
        ThrottleCommand::Admit { limit, now } => match check(current.as_ref(), &limit, now) {
            Verdict::Allowed => (
                Verdict::Allowed,
                Some(record_failure(current.as_ref(), &limit, now)),
            ),
            limited => (limited, current),
        },
        ThrottleCommand::Forgive { limit, now } => {
            let kept = current
                .filter(|window| window.is_open(&limit, now))
                .and_then(|window| {
                    let failures = window.failures.checked_sub(1).filter(|n| *n > 0)?;
                    Some(Window { failures, ..window })
                });
            (Verdict::Allowed, kept)
        }
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

/// The part of a client address one client is assumed to control: an IPv4 address whole (an
/// IPv4-mapped IPv6 address as the IPv4 address it maps), an IPv6 address as its /64 (the
/// smallest prefix providers hand out to one subscriber, and what SLAAC and privacy extensions
/// pick addresses from). Anything else (no address at all) is kept as it is.
pub fn client_prefix(address: &str) -> String {
    match address.trim().parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => v4.to_string(),
        Ok(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let [a, b, c, d, ..] = v6.segments();
                format!("{a:x}:{b:x}:{c:x}:{d:x}::/64")
            }
        },
        Err(_) => address.to_owned(),
    }
}

/// The storage key of a counter, e.g. `rl:ip:<43 base64url chars>`.
///
/// The value is hashed (SHA-256, with the scope mixed in so an account and an address never share
/// a counter), so a storage dump lists neither usernames nor addresses in the clear. A client
/// address is counted by its [`client_prefix`].
pub fn counter_key(scope: Scope, value: &str) -> String {
    let counted = match scope {
        Scope::Account => value.to_owned(),
        Scope::ClientIp => client_prefix(value),
    };
    let digest = Sha256::new()
        .chain_update(b"edgegate rate limit\0")
        .chain_update(scope.label())
        .chain_update(b"\0")
        .chain_update(counted)
        .finalize();
    format!(
        "rl:{}:{}",
        scope.label(),
        Base64UrlUnpadded::encode_string(&digest)
    )
}

/// One counter an attempt is judged and counted on: the scope, the value it counts (a client
/// address or a username) and its limit.
#[derive(Debug, Clone, Copy)]
pub struct Counter<'a> {
    /// What it counts by.
    pub scope: Scope,
    /// The address or username.
    pub value: &'a str,
    /// Failures allowed within the window.
    pub limit: &'a Limit,
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
    fn ipv6_clients_are_counted_by_their_64_and_mapped_ipv4_as_ipv4() {
        assert_eq!(client_prefix("203.0.113.7"), "203.0.113.7");
        assert_eq!(client_prefix("2001:db8:1:2:3:4:5:6"), "2001:db8:1:2::/64");
        assert_eq!(
            client_prefix("2001:0DB8:0001:0002:ffff::1"),
            "2001:db8:1:2::/64"
        );
        assert_eq!(client_prefix("::ffff:203.0.113.7"), "203.0.113.7");
        assert_eq!(client_prefix("::ffff:cb00:7107"), "203.0.113.7");
        assert_eq!(client_prefix("unknown"), "unknown");
        let key = |address| counter_key(Scope::ClientIp, address);
        assert_eq!(
            key("2001:db8:1:2::1"),
            key("2001:db8:1:2:ffff:ffff:ffff:ffff")
        );
        assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
        assert_eq!(key("::ffff:198.51.100.1"), key("198.51.100.1"));
        assert_ne!(key("198.51.100.1"), key("198.51.100.2"));
        // Usernames are never read as addresses.
        assert_ne!(
            counter_key(Scope::Account, "::ffff:198.51.100.1"),
            counter_key(Scope::Account, "198.51.100.1")
        );
    }

    #[test]
    fn admitting_counts_at_once_so_a_burst_gets_exactly_the_limit() {
        let admit = ThrottleCommand::Admit {
            limit: LIMIT,
            now: T0,
        };
        let mut window = None;
        let mut admitted = 0;
        for _ in 0..20 {
            let (verdict, kept) = apply(window, admit);
            window = kept;
            if verdict == Verdict::Allowed {
                admitted += 1;
            }
        }
        assert_eq!(admitted, LIMIT.max_failures);
        assert_eq!(window, Some(failures(3, T0)));
        let later = ThrottleCommand::Admit {
            limit: LIMIT,
            now: T0 + 600,
        };
        assert_eq!(
            apply(window, later),
            (Verdict::Allowed, Some(failures(1, T0 + 600)))
        );
    }

    #[test]
    fn forgiving_takes_back_one_attempt_and_forgets_an_empty_counter() {
        let forgive = |now| ThrottleCommand::Forgive { limit: LIMIT, now };
        assert_eq!(
            apply(Some(failures(2, T0)), forgive(T0 + 1)),
            (Verdict::Allowed, Some(failures(1, T0)))
        );
        assert_eq!(
            apply(Some(failures(1, T0)), forgive(T0 + 1)),
            (Verdict::Allowed, None)
        );
        assert_eq!(apply(None, forgive(T0)), (Verdict::Allowed, None));
        assert_eq!(
            apply(Some(failures(3, T0)), forgive(T0 + 600)),
            (Verdict::Allowed, None)
        );
        // A successful login frees its place: the right password never locks its owner out.
        let mut window = None;
        for _ in 0..10 {
            let (verdict, kept) = apply(
                window,
                ThrottleCommand::Admit {
                    limit: LIMIT,
                    now: T0,
                },
            );
            assert_eq!(verdict, Verdict::Allowed);
            window = apply(kept, forgive(T0)).1;
        }
        assert_eq!(window, None);
    }

    #[test]
    fn throttle_commands_and_verdicts_round_trip_through_json() {
        let command = ThrottleCommand::Admit {
            limit: LIMIT,
            now: T0,
        };
        let json = serde_json::to_string(&command).unwrap();
        assert!(json.starts_with(r#"{"op":"admit""#), "{json}");
        assert_eq!(
            serde_json::from_str::<ThrottleCommand>(&json).unwrap(),
            command
        );
        let verdict = Verdict::Limited {
            retry_after_secs: 7,
        };
        let json = serde_json::to_string(&verdict).unwrap();
        assert_eq!(serde_json::from_str::<Verdict>(&json).unwrap(), verdict);
    }

    #[test]
    fn windows_round_trip_through_json() {
        let window = failures(2, T0);
        let json = serde_json::to_string(&window).unwrap();
        assert_eq!(json, r#"{"failures":2,"started":1700000000}"#);
        assert_eq!(serde_json::from_str::<Window>(&json).unwrap(), window);
    }
}
