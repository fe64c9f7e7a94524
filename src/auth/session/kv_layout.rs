//! The key layout of the `SESSIONS` namespace, shared by the worker and the command-line tool
//! so both always agree.
//!
//! Users appear only hashed, so a listing of the namespace reveals no account names.

use crate::auth::names::username::Username;
use sha2::{Digest, Sha256};

use crate::auth::env::UnixTime;
use crate::auth::names::encoding::b64url;
use crate::auth::names::session_id::SessionId;

/// KV's shortest accepted expiration, in seconds from now: every write's time to live is at
/// least this.
pub const MIN_KV_TTL: i64 = 60;

/// A time to live of `seconds` as KV accepts it: at least [`MIN_KV_TTL`].
pub fn kv_ttl(seconds: i64) -> u64 {
    u64::try_from(seconds.max(MIN_KV_TTL)).unwrap_or(u64::MAX)
}

/// An absolute KV expiration at `at`, or [`MIN_KV_TTL`] from `now` if that is later.
pub fn kv_expiration(at: UnixTime, now: UnixTime) -> u64 {
    u64::try_from(at.max(now.saturating_add(MIN_KV_TTL))).unwrap_or(u64::MAX)
}

/// `session:<id>`: the [`crate::auth::session::record::SessionRecord`] as JSON.
pub fn session_key(id: &SessionId) -> String {
    format!("session:{id}")
}

/// `revoked:<id>`: present once a session has ended; read on every request.
pub fn revoked_key(id: &SessionId) -> String {
    format!("revoked:{id}")
}

/// The prefix under which a user's sessions are indexed (listed by prefix, never rewritten).
pub fn user_index_prefix(user: &Username) -> String {
    let digest = Sha256::digest(user.as_bytes());
    format!("user-sessions:{}:", b64url(&digest[..18]))
}

/// `user-sessions:<user hash>:<id>`: one empty entry per session of the user.
pub fn user_index_key(user: &Username, id: &SessionId) -> String {
    format!("{}{id}", user_index_prefix(user))
}

/// `logout-jti:<hash>`: a back-channel logout token already acted on, by its issuer and `jti`,
/// kept until the token would be too old anyway.
pub fn logout_token_key(issuer: &str, jti: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(issuer.as_bytes());
    hasher.update([0]);
    hasher.update(jti.as_bytes());
    format!("logout-jti:{}", b64url(&hasher.finalize()[..18]))
}

/// `oidc-sid:<hash>`: the user a provider's session (its issuer and `sid`) signed in, so a
/// back-channel logout naming only the `sid` finds its sessions; kept as long as a session
/// opened through it may live.
pub fn provider_session_key(issuer: &str, sid: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(issuer.as_bytes());
    hasher.update([0]);
    hasher.update(sid.as_bytes());
    format!("oidc-sid:{}", b64url(&hasher.finalize()))
}

/// `oidc-state:<hash>`: the `state` of a provider sign-in that has been finished, kept until
/// its flow cookie has expired, so the callback cannot be answered twice.
pub fn used_state_key(state: &str) -> String {
    format!("oidc-state:{}", b64url(&Sha256::digest(state.as_bytes())))
}

/// The session id at the end of an index key.
pub fn session_of_index_key(key: &str) -> Option<SessionId> {
    SessionId::parse(key.rsplit(':').next()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kv_times_to_live_are_never_under_a_minute() {
        assert_eq!(kv_ttl(-5), 60);
        assert_eq!(kv_ttl(59), 60);
        assert_eq!(kv_ttl(600), 600);
        assert_eq!(kv_expiration(1_000, 2_000), 2_060);
        assert_eq!(kv_expiration(9_000, 2_000), 9_000);
    }
    use crate::auth::env::testing::SeededEntropy;
    use crate::auth::names::username::testing::named;

    #[test]
    fn index_keys_hide_the_user_and_lead_back_to_the_session() {
        let id = SessionId::generate(&SeededEntropy::default()).unwrap();
        let key = user_index_key(&named("alice@example.com"), &id);
        assert!(!key.contains("alice"));
        assert!(key.starts_with(&user_index_prefix(&named("alice@example.com"))));
        assert_ne!(
            user_index_prefix(&named("alice")),
            user_index_prefix(&named("bob"))
        );
        assert_eq!(session_of_index_key(&key), Some(id.clone()));
        assert_eq!(session_of_index_key("user-sessions:x:not-an-id"), None);
        assert_eq!(session_key(&id), format!("session:{id}"));
        assert_eq!(revoked_key(&id), format!("revoked:{id}"));
        let jti = logout_token_key("https://id.example.com", "j-1");
        assert!(jti.starts_with("logout-jti:") && !jti.contains("j-1"));
        assert_ne!(jti, logout_token_key("https://other.example.com", "j-1"));
        let sid = provider_session_key("https://id.example.com", "s-1");
        assert!(sid.starts_with("oidc-sid:") && !sid.contains("s-1"));
        assert_ne!(
            sid,
            provider_session_key("https://other.example.com", "s-1")
        );
        assert_ne!(sid, provider_session_key("https://id.example.com", "s-2"));
        let state = used_state_key("st-1");
        assert!(state.starts_with("oidc-state:") && !state.contains("st-1"));
        assert_ne!(state, used_state_key("st-2"));
    }
}
