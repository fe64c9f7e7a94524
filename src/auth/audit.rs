//! Audit events: one JSON line per authentication event, with identifiers hashed.
//!
//! Logs leave the system (tail, Logpush, a SIEM), so they carry no token, password or cookie,
//! and no raw user name, session id or address: each is replaced by a short keyed-free hash that
//! still lets an operator correlate events of the same user or session.
//!
//! The free-text `detail` is the one field that can carry request-derived text (a refused
//! request's path, a storage error that quotes a key), so [`AuditEvent::detail`] passes every
//! detail through [`redact`] before it is stored: whatever the request looked like, a session
//! id, token or other long secret in it is written as its pseudonym.

use crate::auth::names::username::Username;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::auth::env::UnixTime;
use crate::auth::names::encoding::b64url;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A login with a valid user name and password; a session was created.
    LoginOk,
    /// A login with an unknown user or a wrong password.
    LoginFailed,
    /// A login refused before its password was checked: too many failed logins within
    /// `LOGIN_WINDOW` seconds.
    RateLimited,
    /// A refresh token was rotated: the session got a new access and refresh token.
    Refresh,
    /// A refresh token already rotated was presented again within `REFRESH_GRACE` seconds (two
    /// tabs refreshing at once): the session got an access token only.
    RefreshGrace,
    /// A refresh token of an ended or unknown session was presented; the cookies were cleared.
    RefreshRefused,
    /// A refresh token already rotated was presented after the grace: taken as stolen, the
    /// session was ended.
    ReuseDetected,
    /// A refresh came from another device than the session's login (`SESSION_BINDING`): the
    /// detail names both and says whether the refresh went on or the session was ended.
    BindingMismatch,
    /// A user logged out of the session on this browser.
    Logout,
    /// One session was ended: by its user from the session list, or on a new login from the
    /// same browser.
    Revoke,
    /// Every session of a user was ended ("log out everywhere").
    RevokeAll,
    /// A login or logout sent by another site (CSRF) was refused.
    CrossSiteRejected,
    /// The cookie header could not be trusted: a session cookie sent twice (as a sibling
    /// subdomain can plant), malformed or oversized; no session was read from it.
    CookieTossing,
    /// An access token was refused: forged, malformed, of another kind, expired with nothing to
    /// refresh it, or of an ended session.
    TokenRejected,
    /// A DPoP proof, or a token's use against its key binding, was refused: the detail says
    /// why (a replayed, forged, stale or misdirected proof, a bound token sent as `Bearer`, a
    /// bound refresh token without its key).
    DpopRefused,
    /// A browser registered a device key for its session (device-bound sessions).
    DeviceRegistered,
    /// A device-bound session's browser proved its key and got a new bound cookie.
    DeviceRefreshed,
    /// A device-bound session's registration, refresh or rule refused a request: the detail says
    /// why (a bad response, a refresh without the bound cookie, another session's cookie).
    DeviceRefused,
    /// A browser said it skipped a device-bound session's refresh (`Secure-Session-Skipped`);
    /// the detail is its reason.
    DeviceSkipped,
    /// A user registered a passkey (the detail is its credential id, as its pseudonym: see
    /// [`redact`]).
    PasskeyAdded,
    /// A passkey was removed, by its user or an operator (the detail says which, and its id).
    PasskeyRemoved,
    /// A user signed in with a passkey; a session was created (the detail is the credential id,
    /// and says so when its sign counter went backwards and the configuration let it pass).
    PasskeySignIn,
    /// A passkey registration or sign-in was refused: the detail is the reason.
    PasskeyRefused,
    /// A session lacked the roles the access policy asks for on a path: the request got 403;
    /// the detail names the method, the path and the missing roles.
    AccessDenied,
    /// An operator listed a user's sessions through the admin endpoint.
    AdminList,
    /// An operator ended one or all of a user's sessions through the admin endpoint.
    AdminRevoke,
    /// A request to the admin endpoint without the admin secret.
    AdminRefused,
    /// The edge closed an open WebSocket because its session had ended (or could no longer be
    /// checked); the detail says which.
    SocketClosed,
    /// Workers KV or the session authority failed; the request got a 503.
    StoreFailure,
    /// The configuration did not validate; the request got a 500.
    ConfigInvalid,
    /// A runtime call failed where nothing else was expected to; the request got a 500.
    InternalError,
}

/// One audit line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEvent {
    /// What happened.
    pub event: EventKind,
    /// When it happened, in Unix seconds.
    pub at: UnixTime,
    /// The user's pseudonym; `None` when no user is known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// The session's pseudonym; `None` when the event concerns no one session.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
    /// The pseudonym of the client's address; `None` when it does not matter.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    /// Why, or what was refused, [`redact`]ed; `None` when the kind says it all.
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

/// Runs of token characters at least this long are taken for secrets.
const SECRET_RUN: usize = 16;
/// Longer runs are secrets whatever they look like.
const ALWAYS_SECRET_RUN: usize = 32;
/// Details are cut to this many characters (after redaction), so a request cannot flood a line.
pub const MAX_DETAIL: usize = 200;

fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}

/// `text` as it may appear in a log line: every run of at least 16 token characters
/// (ASCII letters, digits, `-`, `_`; the alphabet of base64url, hex and of every id, token and
/// key edgegate issues, all of at least 128 bits) becomes `~` and its [`pseudonym`], so the
/// pseudonym of a session id in a path equals the line's `session` value. Kept, so that
/// configuration errors stay readable: runs shorter than 32 characters made of capital
/// letters and `_` only, with at least one `_` (variable names such as
/// `LOGIN_MAX_FAILURES_PER_ACCOUNT`; a random 22-character id has that shape with a chance of
/// about 10⁻⁸). Percent-escapes of token characters are decoded first, so `%2D` cannot split a
/// token into short harmless-looking runs. The result is cut to [`MAX_DETAIL`] characters.
pub fn redact(text: &str) -> String {
    let decoded = decode_token_escapes(text);
    let mut out = String::with_capacity(decoded.len().min(MAX_DETAIL));
    let mut rest = decoded.as_str();
    while let Some(start) = rest.find(is_token_char) {
        out.push_str(&rest[..start]);
        rest = &rest[start..];
        let end = rest.find(|c| !is_token_char(c)).unwrap_or(rest.len());
        let run = &rest[..end];
        if looks_secret(run) {
            out.push('~');
            out.push_str(&pseudonym(run));
        } else {
            out.push_str(run);
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    match out.char_indices().nth(MAX_DETAIL) {
        Some((cut, _)) => {
            out.truncate(cut);
            out.push('…');
            out
        }
        None => out,
    }
}

fn looks_secret(run: &str) -> bool {
    let variable_name = run.len() < ALWAYS_SECRET_RUN
        && run.contains('_')
        && run.bytes().all(|b| b.is_ascii_uppercase() || b == b'_');
    run.len() >= SECRET_RUN && !variable_name
}

/// `text` with `%XX` decoded where it stands for a token character; other escapes stay.
fn decode_token_escapes(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while let Some(offset) = text[i..].find('%') {
        let at = i + offset;
        out.push_str(&text[i..at]);
        let escaped = text
            .get(at + 1..at + 3)
            .and_then(|hex| u8::from_str_radix(hex, 16).ok())
            .map(char::from)
            .filter(|c| is_token_char(*c));
        match escaped {
            Some(c) => {
                out.push(c);
                i = at + 3;
            }
            None => {
                out.push('%');
                i = at + 1;
            }
        }
    }
    out.push_str(&text[i..]);
    out
}

impl AuditEvent {
    /// An event of `event` at `at`, about no one yet: the builder methods add the rest.
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

    /// Names the user, by pseudonym.
    pub fn user(mut self, user: &Username) -> Self {
        self.user = Some(pseudonym(user));
        self
    }

    /// Names the session, by pseudonym.
    pub fn session(mut self, session: &str) -> Self {
        self.session = Some(pseudonym(session));
        self
    }

    /// Names the client's address, by pseudonym.
    pub fn client(mut self, address: &str) -> Self {
        self.client = Some(pseudonym(address));
        self
    }

    /// A reason such as an error's `Display`, or request-derived text such as a path; either
    /// way it is [`redact`]ed before it is kept, and only its first line is: the rest of a
    /// platform error is a JavaScript stack.
    pub fn detail(mut self, detail: impl AsRef<str>) -> Self {
        let first_line = detail.as_ref().lines().next().unwrap_or_default();
        self.detail = Some(redact(first_line));
        self
    }

    /// The location that writes the line (not an identifier of anyone: kept as it is).
    pub fn location(mut self, location: Option<&str>) -> Self {
        self.location = location.map(str::to_owned);
        self
    }

    /// The line to log: the event as one JSON object. Should serialising ever fail, a line with
    /// the event kind alone, so an event is never lost.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self)
            .unwrap_or_else(|_| format!("{{\"event\":\"{:?}\"}}", self.event))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::names::username::testing::named;

    #[test]
    fn lines_hash_identifiers() {
        let line = AuditEvent::new(EventKind::LoginFailed, 42)
            .user(&named("alice@example.com"))
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

    /// Every kind, by an exhaustive match: a new kind fails to compile here until it is listed.
    fn every_kind() -> Vec<EventKind> {
        let all = [
            EventKind::LoginOk,
            EventKind::LoginFailed,
            EventKind::RateLimited,
            EventKind::Refresh,
            EventKind::RefreshGrace,
            EventKind::RefreshRefused,
            EventKind::ReuseDetected,
            EventKind::BindingMismatch,
            EventKind::Logout,
            EventKind::Revoke,
            EventKind::RevokeAll,
            EventKind::CrossSiteRejected,
            EventKind::CookieTossing,
            EventKind::TokenRejected,
            EventKind::DpopRefused,
            EventKind::DeviceRegistered,
            EventKind::DeviceRefreshed,
            EventKind::DeviceRefused,
            EventKind::DeviceSkipped,
            EventKind::PasskeyAdded,
            EventKind::PasskeyRemoved,
            EventKind::PasskeySignIn,
            EventKind::PasskeyRefused,
            EventKind::AccessDenied,
            EventKind::AdminList,
            EventKind::AdminRevoke,
            EventKind::AdminRefused,
            EventKind::SocketClosed,
            EventKind::StoreFailure,
            EventKind::ConfigInvalid,
            EventKind::InternalError,
        ];
        for kind in all {
            match kind {
                EventKind::LoginOk
                | EventKind::LoginFailed
                | EventKind::RateLimited
                | EventKind::Refresh
                | EventKind::RefreshGrace
                | EventKind::RefreshRefused
                | EventKind::ReuseDetected
                | EventKind::BindingMismatch
                | EventKind::Logout
                | EventKind::Revoke
                | EventKind::RevokeAll
                | EventKind::CrossSiteRejected
                | EventKind::CookieTossing
                | EventKind::TokenRejected
                | EventKind::DpopRefused
                | EventKind::DeviceRegistered
                | EventKind::DeviceRefreshed
                | EventKind::DeviceRefused
                | EventKind::DeviceSkipped
                | EventKind::PasskeyAdded
                | EventKind::PasskeyRemoved
                | EventKind::PasskeySignIn
                | EventKind::PasskeyRefused
                | EventKind::AccessDenied
                | EventKind::AdminList
                | EventKind::AdminRevoke
                | EventKind::AdminRefused
                | EventKind::SocketClosed
                | EventKind::StoreFailure
                | EventKind::ConfigInvalid
                | EventKind::InternalError => {}
            }
        }
        all.to_vec()
    }

    // Shapes edgegate issues: a session id (128 bits), a refresh token (`<sid>.<256 bits>`) and
    // an access token (a JWS).
    const SID: &str = "q3Fz-8_xPw0AbCdEfGhIjK";
    const REFRESH: &str = "q3Fz-8_xPw0AbCdEfGhIjK.ZmFrZV9zZWNyZXRfMjU2X2JpdHNfb2ZfcmFuZG9tbmVzcw";
    const ACCESS: &str =
        "eyJhbGciOiJIUzI1NiIsImtpZCI6InMxIn0.eyJzaWQiOiJxM0Z6In0.c2lnbmF0dXJlX2J5dGVz";

    fn secret_pieces() -> Vec<&'static str> {
        let mut pieces = vec![SID];
        pieces.extend(REFRESH.split('.'));
        pieces.extend(ACCESS.split('.'));
        pieces
    }

    #[test]
    fn no_event_kind_writes_a_session_id_or_token_from_the_request() {
        let details = [
            format!("/auth/sessions/{SID}"),
            format!(
                "/auth/sessions/{}",
                SID.replace('-', "%2D").replace('_', "%5f")
            ),
            format!("/api/{REFRESH}?t={ACCESS}"),
            format!("store: get session:{SID} failed; cookie __Host-eg_access={ACCESS}"),
            format!("token {ACCESS}\n{REFRESH}\r\n\"{SID}\""),
            format!("{}{SID}", "/x".repeat(150)),
        ];
        for kind in every_kind() {
            for detail in &details {
                let line = AuditEvent::new(kind, 7)
                    .user(&Username::federated("corp", SID).unwrap())
                    .session(SID)
                    .client(REFRESH)
                    .detail(detail)
                    .to_json();
                for piece in secret_pieces() {
                    assert!(!line.contains(piece), "{kind:?}: {piece} in {line}");
                }
                assert!(line.contains(&format!(
                    "\"event\":{}",
                    serde_json::to_string(&kind).unwrap()
                )));
            }
        }
    }

    #[test]
    fn an_id_in_a_path_becomes_the_session_pseudonym() {
        let event = AuditEvent::new(EventKind::CrossSiteRejected, 1)
            .session(SID)
            .detail(format!("/auth/sessions/{SID}"));
        assert_eq!(
            event.detail.as_deref(),
            Some(format!("/auth/sessions/~{}", pseudonym(SID)).as_str())
        );
        assert_eq!(event.session.as_deref(), Some(pseudonym(SID).as_str()));
    }

    #[test]
    fn fixed_reasons_and_variable_names_stay_readable() {
        for reason in [
            "token signature does not verify",
            "rate counter: KV put failed",
            "LOGIN_MAX_FAILURES_PER_ACCOUNT: must be between 1 and 10000",
            "REFRESH_COOKIE_PATH: must be `/`",
            "/auth/logout",
            "100% of 5%",
            "malformed username",
        ] {
            assert_eq!(redact(reason), reason);
        }
    }

    #[test]
    fn details_are_cut_after_redaction() {
        let long = "a ".repeat(MAX_DETAIL);
        let cut = redact(&long);
        assert_eq!(cut.chars().count(), MAX_DETAIL + 1);
        assert!(cut.ends_with('…'));
        let escaped = redact(&"%".repeat(3 * MAX_DETAIL));
        assert_eq!(escaped.chars().count(), MAX_DETAIL + 1);
        assert_eq!(redact("%e2%82%ac %zz %"), "%e2%82%ac %zz %");
    }
}
