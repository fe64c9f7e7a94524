//! The session model and its policies, as pure functions over [`SessionRecord`]s.
//!
//! A login creates a session with a fresh random id (never reused, never derived from the user,
//! so fixation is impossible) and two credentials: a short-lived signed access token, checked on
//! every request without storage, and an opaque refresh token, checked only when the access token
//! runs out. Defaults follow OWASP's session guidance for ordinary web apps (idle timeout
//! 30 minutes, absolute lifetime 12 hours) with an access token of 60 seconds: an access token
//! is the one credential a revocation cannot reach until the revocation marker has spread
//! through Workers KV (about 60 s), so its lifetime is set to that same bound. A revoked
//! session is then refused everywhere within `ACCESS_TTL` + `CLOCK_LEEWAY` (65 s), whatever KV
//! does, and at once at the location that revoked it. Clocks at the edge are NTP-disciplined,
//! so the leeway is 5 seconds.
//!
//! Refresh tokens rotate on every use. Presenting a retired one means two parties hold the same
//! token, so the whole session is revoked (RFC 9700 §4.14.2), except within a short grace window
//! after a rotation: two tabs that refresh at once present the same token, and the loser must not
//! log the user out. A grace answer mints a new access token but keeps the refresh token, so
//! whichever cookie the browser keeps stays valid.
//!
//! Every store applies these functions; only how atomically it applies them differs (see
//! [`crate::auth::session::store`]).

use crate::auth::names::role::Role;
use crate::auth::names::username::Username;
use serde::{Deserialize, Serialize};

use crate::auth::env::UnixTime;
use crate::auth::names::session_id::SessionId;
use crate::auth::names::thumbprint::Thumbprint;
use crate::auth::session::device::Device;
use crate::auth::session::refresh::{PresentedRefresh, TokenHash};
use crate::auth::token::dbsc::DeviceKey;

/// How many retired refresh-token hashes a session remembers to recognise reuse.
pub const RETIRED_HASHES_KEPT: usize = 16;
/// The most clock skew `CLOCK_LEEWAY` may tolerate. A revocation marker outlives its session's
/// absolute end by this much, so it is still there for the last access token a clock that far
/// behind would accept.
pub const MAX_LEEWAY: i64 = 300;
/// Until when the revocation marker of a session that ends absolutely at `absolute_expires_at`
/// must be kept: its access tokens expire by then ([`SessionRecord::access_expiry`]), and are
/// accepted at most [`MAX_LEEWAY`] later.
pub fn revocation_kept_until(absolute_expires_at: UnixTime) -> UnixTime {
    // A token is still accepted in the very second `exp + leeway`; the marker must outlast it.
    absolute_expires_at.saturating_add(MAX_LEEWAY + 1)
}

/// Longest user agent summary stored.
pub const MAX_USER_AGENT_LEN: usize = 120;

/// Lifetimes and limits. All durations in seconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionPolicy {
    /// Lifetime of an access token.
    pub access_ttl: i64,
    /// A session unused for this long ends.
    pub idle_timeout: i64,
    /// A session ends this long after login, however much it is used.
    pub absolute_timeout: i64,
    /// For how many seconds after a rotation the just-retired refresh token still earns an
    /// access token; `0` turns the grace off.
    pub refresh_grace: i64,
    /// Live sessions a user may hold; the oldest are ended beyond it. `None`: no limit.
    pub max_sessions: Option<u32>,
    /// Tolerated clock skew on token times.
    pub leeway: i64,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        Self {
            access_ttl: 60,
            idle_timeout: 30 * 60,
            absolute_timeout: 12 * 60 * 60,
            refresh_grace: 10,
            max_sessions: Some(10),
            leeway: 5,
        }
    }
}

impl SessionPolicy {
    /// Single-session mode: a new login ends every other session of the user.
    pub fn single_session(&self) -> bool {
        self.max_sessions == Some(1)
    }
}

/// The refresh-token state of a session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshState {
    /// The hash of the refresh token that is valid now.
    pub current: TokenHash,
    /// When it was issued, in Unix seconds.
    pub rotated_at: UnixTime,
    /// Earlier hashes, newest first; the first one is the grace-window candidate.
    #[serde(default)]
    pub retired: Vec<TokenHash>,
}

/// A session as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    /// The session id.
    pub id: SessionId,
    /// The owner's username.
    pub user: Username,
    /// The owner's roles at login (checked again when the record is read back).
    pub roles: Vec<Role>,
    /// When the session began, in Unix seconds.
    pub created_at: UnixTime,
    /// When it was last refreshed, in Unix seconds.
    pub last_seen_at: UnixTime,
    /// A summary of the login's `User-Agent`, at most [`MAX_USER_AGENT_LEN`] characters.
    pub user_agent: String,
    /// When the session ends however much it is used, in Unix seconds.
    pub absolute_expires_at: UnixTime,
    /// Seconds without a refresh after which it ends.
    pub idle_timeout: i64,
    /// Its refresh-token hashes.
    pub refresh: RefreshState,
    /// Where the login came from, so that a person can tell their sessions apart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed_in_from: Option<Box<SignedInFrom>>,
    /// The device of the login, which refreshes are compared with (`SESSION_BINDING`); `None`
    /// when its `User-Agent` named none, and in records written before sessions were bound.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<Box<Device>>,
    /// The provider's session (the ID token's `sid`) this session was signed in through, so a
    /// back-channel logout naming that `sid` ends this session and not the user's others; `None`
    /// for password sign-ins, providers that send no `sid`, and records written before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_session: Option<String>,
    /// The key the session is bound to (DPoP, RFC 9449): its refresh token is taken only with a
    /// proof by this key, and its access tokens name it. `None` for a bearer or browser session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<Thumbprint>,
    /// The key a browser registered for this session (device-bound sessions): a refresh then
    /// needs the bound cookie only that key can renew. `None` until, and unless, it registers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_key: Option<Box<DeviceKey>>,
}

/// Where a login came from, as far as the platform tells.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedInFrom {
    /// Approximately ("Lisbon, PT"), as the platform reported it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub place: Option<String>,
    /// The client address, shortened to a prefix ("203.0.113.x").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
}

/// Who is logging in, as the credential check established it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginSubject {
    /// Whose session it will be.
    pub user: Username,
    /// The user's roles, copied into the session.
    pub roles: Vec<Role>,
    /// The raw `User-Agent` of the login request.
    pub user_agent: String,
}

impl SessionRecord {
    /// A brand-new session for `subject`, holding the hash of its first refresh token.
    pub fn new(
        id: SessionId,
        subject: LoginSubject,
        refresh: TokenHash,
        now: UnixTime,
        policy: &SessionPolicy,
    ) -> Self {
        Self {
            id,
            user: subject.user,
            roles: subject.roles,
            created_at: now,
            last_seen_at: now,
            user_agent: summarize_user_agent(&subject.user_agent),
            device: Device::of(&subject.user_agent).map(Box::new),
            absolute_expires_at: now.saturating_add(policy.absolute_timeout),
            idle_timeout: policy.idle_timeout,
            refresh: RefreshState {
                current: refresh,
                rotated_at: now,
                retired: Vec::new(),
            },
            signed_in_from: None,
            provider_session: None,
            key: None,
            device_key: None,
        }
    }

    /// When the session ends if it is not refreshed before, in Unix seconds.
    pub fn idle_expires_at(&self) -> UnixTime {
        self.last_seen_at.saturating_add(self.idle_timeout)
    }

    /// When the session ends if nothing else happens: the earlier of the two expiries.
    pub fn expires_at(&self) -> UnixTime {
        self.idle_expires_at().min(self.absolute_expires_at)
    }

    /// Whether the session still stands at `now` (Unix seconds): before both expiries.
    pub fn is_live(&self, now: UnixTime) -> bool {
        now < self.expires_at()
    }

    /// Until when the revocation marker of this session must be kept: past the last moment any
    /// access token minted for it can still be accepted, whatever `CLOCK_LEEWAY` is set to.
    pub fn revocation_kept_until(&self) -> UnixTime {
        revocation_kept_until(self.absolute_expires_at)
    }

    /// When an access token minted now must expire: never after the session itself.
    pub fn access_expiry(&self, now: UnixTime, policy: &SessionPolicy) -> UnixTime {
        now.saturating_add(policy.access_ttl)
            .min(self.absolute_expires_at)
    }
}

/// What presenting a refresh token to a session means.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(
    clippy::large_enum_variant,
    reason = "one value per request, matched at once; boxing the record would only add an allocation"
)]
pub enum RotationDecision {
    /// The current token: rotate it; the record to store holds the new hash.
    Rotate(SessionRecord),
    /// The token retired by a rotation less than the grace window ago: issue an access token,
    /// keep the refresh token as it is.
    Grace,
    /// A token the session once held and no longer honours: revoke the session.
    Reused,
    /// The session ran out (idle or absolute); the refresh is refused.
    Expired,
    /// A token this session never held: refuse it, change nothing.
    Unknown,
}

/// Decides a refresh: pure, so every store makes the same decision.
pub fn decide_rotation(
    record: &SessionRecord,
    presented: &PresentedRefresh,
    replacement: TokenHash,
    now: UnixTime,
    policy: &SessionPolicy,
) -> RotationDecision {
    let refresh = &record.refresh;
    let grace = refresh
        .retired
        .first()
        .is_some_and(|hash| hash.matches(&presented.hash))
        && now.saturating_sub(refresh.rotated_at) < policy.refresh_grace;
    if refresh.current.matches(&presented.hash) {
        if !record.is_live(now) {
            return RotationDecision::Expired;
        }
        let mut rotated = record.clone();
        rotated
            .refresh
            .retired
            .insert(0, rotated.refresh.current.clone());
        rotated.refresh.retired.truncate(RETIRED_HASHES_KEPT);
        rotated.refresh.current = replacement;
        rotated.refresh.rotated_at = now;
        rotated.last_seen_at = now;
        return RotationDecision::Rotate(rotated);
    }
    if grace {
        return if record.is_live(now) {
            RotationDecision::Grace
        } else {
            RotationDecision::Expired
        };
    }
    if refresh
        .retired
        .iter()
        .any(|hash| hash.matches(&presented.hash))
    {
        return RotationDecision::Reused;
    }
    RotationDecision::Unknown
}

/// The sessions to end so that, after adding one more, `user` holds at most the policy's limit
/// of live sessions: the oldest first. Expired sessions are always ended.
pub fn sessions_to_evict(
    existing: &[SessionRecord],
    policy: &SessionPolicy,
    now: UnixTime,
) -> Vec<SessionId> {
    let (live, expired): (Vec<&SessionRecord>, Vec<&SessionRecord>) =
        existing.iter().partition(|record| record.is_live(now));
    let mut evict: Vec<SessionId> = expired.iter().map(|record| record.id.clone()).collect();
    if let Some(max) = policy.max_sessions {
        let keep = usize::try_from(max.saturating_sub(1)).unwrap_or(usize::MAX);
        let mut live = live;
        live.sort_by_key(|record| (record.created_at, record.id.clone()));
        let excess = live.len().saturating_sub(keep);
        evict.extend(live.iter().take(excess).map(|record| record.id.clone()));
    }
    evict
}

/// A short, printable description of the device for the account page ("Firefox on Linux"):
/// the [`Device`] the session is bound to, as words.
pub fn summarize_user_agent(user_agent: &str) -> String {
    let summary =
        Device::of(user_agent).map_or_else(|| "Unknown device".to_owned(), |d| d.summary());
    let summary = if user_agent.contains("Headless") {
        format!("{summary} (headless)")
    } else {
        summary
    };
    summary.chars().take(MAX_USER_AGENT_LEN).collect()
}

/// Records for tests elsewhere in the core.
#[cfg(test)]
pub(crate) mod testing {
    use super::*;
    use crate::auth::env::testing::SeededEntropy;
    use crate::auth::names::username::testing::named;
    use crate::auth::session::refresh::NewRefresh;

    /// A session of alice, without roles or device, created at `created` under `policy`.
    pub(crate) fn record(created: UnixTime, policy: &SessionPolicy) -> SessionRecord {
        let entropy = SeededEntropy::default();
        let id = SessionId::generate(&entropy).unwrap();
        let refresh = NewRefresh::mint(&id, &entropy).unwrap();
        let subject = LoginSubject {
            user: named("alice"),
            roles: vec![],
            user_agent: String::new(),
        };
        SessionRecord::new(id, subject, refresh.hash, created, policy)
    }
}

#[cfg(test)]
mod tests {
    use super::testing::record;
    use super::*;
    use crate::auth::env::testing::SeededEntropy;

    #[test]
    fn a_revocation_marker_outlives_every_token_it_must_refuse() {
        use crate::auth::token::keys::SessionKeyRing;
        use crate::auth::token::{issue_access, validate_access, Audience, Subject};
        let ring = SessionKeyRing::parse("s1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8").unwrap();
        let audience = Audience {
            issuer: "https://edge.example".into(),
            audience: "https://edge.example".into(),
        };
        let policy = SessionPolicy::default();
        let session = record(1_800_000_000, &policy);
        let subject = Subject {
            user: &session.user,
            session: session.id.as_str(),
            roles: &[],
            key: None,
        };
        // Tokens minted all along the session's life, the last ones capped at its absolute end.
        let step = policy.access_ttl / 2;
        let mut minted_at = session.created_at;
        while minted_at < session.absolute_expires_at {
            let expiry = session.access_expiry(minted_at, &policy);
            let token = issue_access(
                &ring,
                &audience,
                &subject,
                minted_at,
                expiry - minted_at,
                &SeededEntropy::default(),
            )
            .unwrap();
            for leeway in [0, 5, MAX_LEEWAY] {
                let last_accepted = expiry + leeway;
                let accepted = |at| validate_access(&ring, token.expose(), &audience, leeway, at);
                assert!(accepted(last_accepted).is_ok());
                assert!(accepted(last_accepted + 1).is_err());
                assert!(
                    last_accepted < session.revocation_kept_until(),
                    "a token minted at {minted_at} is accepted at {last_accepted} with leeway \
                     {leeway}, when the marker may be gone"
                );
            }
            minted_at += step;
        }
    }

    #[test]
    fn defaults_match_the_documented_model() {
        let policy = SessionPolicy::default();
        assert_eq!(
            (
                policy.access_ttl,
                policy.idle_timeout,
                policy.absolute_timeout
            ),
            (60, 1800, 43200)
        );
        assert!(!policy.single_session());
    }

    #[test]
    fn access_tokens_never_outlive_the_session() {
        let policy = SessionPolicy::default();
        let session = record(1000, &policy);
        assert_eq!(session.access_expiry(1000, &policy), 1060);
        let near_end = session.absolute_expires_at - 10;
        assert_eq!(
            session.access_expiry(near_end, &policy),
            session.absolute_expires_at
        );
    }

    #[test]
    fn liveness_ends_at_the_earlier_expiry() {
        let policy = SessionPolicy::default();
        let session = record(1000, &policy);
        assert!(session.is_live(1000 + 1799));
        assert!(!session.is_live(1000 + 1800));
        assert_eq!(session.expires_at(), session.idle_expires_at());
    }

    #[test]
    fn expired_sessions_are_evicted_even_without_a_limit() {
        let policy = SessionPolicy {
            max_sessions: None,
            ..SessionPolicy::default()
        };
        let old = record(0, &policy);
        assert_eq!(
            sessions_to_evict(std::slice::from_ref(&old), &policy, 5000),
            vec![old.id.clone()]
        );
        assert!(sessions_to_evict(&[old], &policy, 10).is_empty());
    }

    #[test]
    fn user_agents_become_short_printable_summaries() {
        let cases = [
            ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36", "Chrome on Linux"),
            ("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) Gecko/20100101 Firefox/127.0", "Firefox on macOS"),
            ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) Version/17.5 Mobile/15E148 Safari/604.1", "Safari on iOS"),
            ("Mozilla/5.0 (Windows NT 10.0) Chrome/126.0 Safari/537.36 Edg/126.0", "Edge on Windows"),
            ("Mozilla/5.0 (X11; Linux x86_64) HeadlessChrome/126.0 Safari/537.36", "Chrome on Linux (headless)"),
            ("curl/8.5.0", "curl"),
            ("", "Unknown device"),
            ("\u{0}\u{1}\r\n", "Unknown device"),
        ];
        for (agent, summary) in cases {
            assert_eq!(summarize_user_agent(agent), summary, "{agent}");
        }
        assert!(summarize_user_agent(&"x".repeat(10_000)).len() <= MAX_USER_AGENT_LEN);
    }

    #[test]
    fn a_stored_session_keeps_its_roles_and_refuses_a_bad_one() {
        let mut session = record(1_800_000_000, &SessionPolicy::default());
        session.roles = crate::auth::names::role::testing::roles(&["admin", "billing:read"]);
        let json = serde_json::to_string(&session).unwrap();
        assert!(
            json.contains(r#""roles":["admin","billing:read"]"#),
            "{json}"
        );
        assert_eq!(
            serde_json::from_str::<SessionRecord>(&json).unwrap(),
            session
        );
        for bad in [r#"["admin,root"]"#, r#"["a b"]"#, r#"[""]"#] {
            let tampered = json.replace(r#"["admin","billing:read"]"#, bad);
            assert!(
                serde_json::from_str::<SessionRecord>(&tampered).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn the_provider_session_is_kept_only_when_there_is_one_and_old_records_still_read() {
        let mut session = record(1_800_000_000, &SessionPolicy::default());
        let json = serde_json::to_string(&session).unwrap();
        assert!(!json.contains("provider_session"), "{json}");
        assert_eq!(
            serde_json::from_str::<SessionRecord>(&json).unwrap(),
            session
        );
        session.provider_session = Some("ps-1".into());
        let json = serde_json::to_string(&session).unwrap();
        assert!(json.contains(r#""provider_session":"ps-1""#), "{json}");
        assert_eq!(
            serde_json::from_str::<SessionRecord>(&json).unwrap(),
            session
        );
    }
}
