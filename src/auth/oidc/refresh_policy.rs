//! When a provider's discovery document and keys are fetched again.
//!
//! Both are cached per isolate: fetching them on every sign-in would put the provider on the
//! path of each one and let a slow provider slow the edge. A key rotation at the provider shows up
//! as a token whose `kid` is unknown; that triggers one fetch of the key set, but at most once a
//! minute, so a stream of tokens with made-up `kid`s cannot make the edge hammer the provider.

use crate::auth::env::UnixTime;

/// How long a discovery document and key set are used before they are fetched again.
pub const METADATA_TTL: i64 = 3600;
/// An unknown `kid` fetches the key set again at most this often per provider.
pub const KEY_REFETCH_INTERVAL: i64 = 60;

/// Whether metadata fetched at `fetched_at` is still used at `now`.
pub fn is_fresh(fetched_at: UnixTime, now: UnixTime) -> bool {
    now - fetched_at < METADATA_TTL
}

/// Whether an unknown `kid` at `now` may fetch the key set last fetched at `keys_fetched_at`.
pub fn may_refetch_keys(keys_fetched_at: UnixTime, now: UnixTime) -> bool {
    now - keys_fetched_at >= KEY_REFETCH_INTERVAL
}

/// Spends the key refetch budget at `now` if it allows: `true` (and `last_attempt` becomes `now`)
/// when an unknown `kid` may fetch the key set. The attempt counts whether or not the fetch then
/// succeeds, so a provider whose key set fails is asked at most once a minute too, not on every
/// token that names an unknown `kid`.
pub fn spend_key_refetch(last_attempt: &mut UnixTime, now: UnixTime) -> bool {
    if !may_refetch_keys(*last_attempt, now) {
        return false;
    }
    *last_attempt = now;
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_lives_an_hour_and_keys_refetch_once_a_minute() {
        assert!(is_fresh(1000, 1000 + METADATA_TTL - 1));
        assert!(!is_fresh(1000, 1000 + METADATA_TTL));
        assert!(!may_refetch_keys(1000, 1000));
        assert!(!may_refetch_keys(1000, 1059));
        assert!(may_refetch_keys(1000, 1060));
    }

    #[test]
    fn an_attempt_spends_the_budget_whatever_its_outcome() {
        let mut last = 1000;
        assert!(!spend_key_refetch(&mut last, 1059));
        assert_eq!(last, 1000, "a refused attempt spends nothing");
        assert!(spend_key_refetch(&mut last, 1060));
        assert_eq!(last, 1060);
        // The fetch failed: the next unknown `kid` within the minute still waits.
        assert!(!spend_key_refetch(&mut last, 1061));
        assert!(spend_key_refetch(&mut last, 1120));
    }
}
