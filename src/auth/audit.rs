//! Audit events: one JSON line per authentication event, with identifiers hashed.
//!
//! Logs leave the system (tail, Logpush, a SIEM), so they carry no token, password or cookie,
//! and no raw user name, session id or address: each is replaced by a short keyed-free hash that
//! still lets an operator correlate events of the same user or session.

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::encoding::b64url;
use super::env::UnixTime;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    LoginOk,
    LoginFailed,
    RateLimited,
    Refresh,
    RefreshGrace,
    RefreshRefused,
    ReuseDetected,
    Logout,
    Revoke,
    RevokeAll,
    CrossSiteRejected,
    CookieTossing,
    /// An access token was refused: forged, malformed, of another kind, expired with nothing to
    /// refresh it, or of an ended session.
    TokenRejected,
    StoreFailure,
    ConfigInvalid,
    /// A runtime call failed where nothing else was expected to; the request got a 500.
    InternalError,
}

/// One audit line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEvent {
    pub event: EventKind,
    pub at: UnixTime,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Where it happened: the platform's name for the location that wrote the line (its
    /// `colo`), so one session can be followed across locations.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
}

/// A short stable pseudonym for an identifier.
pub fn pseudonym(value: &str) -> String {
    b64url(&Sha256::digest(value.as_bytes())[..9])
}

impl AuditEvent {
    pub fn new(event: EventKind, at: UnixTime) -> Self {
        Self {
            event,
            at,
            user: None,
            session: None,
            client: None,
            detail: None,
            location: None,
        }
    }

    pub fn user(mut self, user: &str) -> Self {
        self.user = Some(pseudonym(user));
        self
    }

    pub fn session(mut self, session: &str) -> Self {
        self.session = Some(pseudonym(session));
        self
    }

    pub fn client(mut self, address: &str) -> Self {
        self.client = Some(pseudonym(address));
        self
    }

    /// A fixed, non-secret reason such as an error's `Display`.
    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// The location that writes the line (not an identifier of anyone: kept as it is).
    pub fn location(mut self, location: Option<&str>) -> Self {
        self.location = location.map(str::to_owned);
        self
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self)
            .unwrap_or_else(|_| format!("{{\"event\":\"{:?}\"}}", self.event))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_hash_identifiers() {
        let line = AuditEvent::new(EventKind::LoginFailed, 42)
            .user("alice@example.com")
            .session("sid-123")
            .client("203.0.113.7")
            .detail("invalid credentials")
            .to_json();
        assert!(line.contains(r#""event":"login_failed""#));
        for raw in ["alice", "sid-123", "203.0.113"] {
            assert!(!line.contains(raw), "{line}");
        }
        assert!(line.contains(&pseudonym("alice@example.com")));
        assert_ne!(pseudonym("alice"), pseudonym("bob"));
        let bare = AuditEvent::new(EventKind::Logout, 1).to_json();
        assert_eq!(bare, r#"{"event":"logout","at":1}"#);
        let located = AuditEvent::new(EventKind::Logout, 1)
            .location(Some("AMS"))
            .to_json();
        assert_eq!(located, r#"{"event":"logout","at":1,"location":"AMS"}"#);
    }
}
