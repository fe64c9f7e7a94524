//! When an open WebSocket must close: its session, asked after again and again.
//!
//! The gate decides once, at the upgrade; a socket then lives for as long as its two sides keep
//! it. So that a session's end (logout, revocation, reuse, expiry) also ends the sockets it
//! opened, the edge stays in the middle of every authenticated socket and asks the store where
//! the session stands ([`Standing`]): once at the upgrade, then every `WEBSOCKET_CHECK_INTERVAL`
//! seconds, and at the moment the record says the session runs out. [`SocketWatch`] is that
//! decision, pure: fed the answers, it says when to ask next or why to close. The shell
//! (`edge::routes::socket`) runs the timer and relays the messages.
//!
//! Rules:
//! - an ended session closes the socket; so does reaching the session's absolute end, known
//!   from its record (until a record has been read, the latest it can be: the upgrade plus
//!   `ABSOLUTE_TIMEOUT`), without asking the store;
//! - a session the store does not know is kept while it has never been seen (an eventually
//!   consistent store may not have it yet at this location) and closed once it disappears after
//!   being seen (its record has run out);
//! - one failed check is tolerated (the next one comes an interval later); two in a row close
//!   the socket, since nobody can then say the session still stands.

use crate::auth::names::username::Username;

use crate::auth::audit::{AuditEvent, EventKind};
use crate::auth::env::UnixTime;
use crate::auth::names::session_id::SessionId;
use crate::auth::session::store::{Standing, StoreError};

/// The close code the client gets when its session has ended: a private-use code (RFC 6455
/// §7.4.2), the edge's counterpart of HTTP 401.
pub const SESSION_ENDED_CODE: u16 = 4401;
/// The close code the client gets when the session could not be checked twice in a row: its
/// counterpart of HTTP 503 (reconnecting runs the gate again).
pub const CHECK_FAILED_CODE: u16 = 4503;
/// The close code the origin gets whenever the edge closes a socket: a normal closure.
pub const NORMAL_CLOSURE: u16 = 1000;
/// The close code one side gets when the other failed (an error event, or a message the relay
/// could not pass on): "internal error".
pub const PEER_FAILED: u16 = 1011;

/// Why the edge closes a socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Closing {
    /// The store says the session has ended (revoked, evicted, reused, run out).
    Ended,
    /// The session reached its absolute end.
    Expired,
    /// Two checks in a row failed; the last error.
    Unverifiable(StoreError),
}

impl Closing {
    /// The close code for the client.
    pub fn code(&self) -> u16 {
        match self {
            Self::Ended | Self::Expired => SESSION_ENDED_CODE,
            Self::Unverifiable(_) => CHECK_FAILED_CODE,
        }
    }

    /// The close reason, for both sides.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Ended | Self::Expired => "session ended",
            Self::Unverifiable(_) => "session check failed",
        }
    }

    fn detail(&self) -> String {
        match self {
            Self::Ended => "the session has ended".into(),
            Self::Expired => "the session reached its absolute end".into(),
            Self::Unverifiable(err) => format!("two session checks in a row failed: {err}"),
        }
    }
}

/// What to do next with an open socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Keep it open, and ask the store again at this time (Unix seconds).
    CheckAt(UnixTime),
    /// Close it, for this reason.
    Close(Closing),
}

/// One open socket's session, and what the checks so far have said about it.
#[derive(Debug, Clone)]
pub struct SocketWatch {
    session: SessionId,
    user: Username,
    interval: i64,
    /// The latest moment the session can still stand.
    ends_by: UnixTime,
    /// A live record has been read.
    seen: bool,
    /// The previous check failed.
    failing: bool,
}

impl SocketWatch {
    /// A socket of `user`'s session `session`, opened at `now`; checked every `interval`
    /// seconds (at least 1) under a policy whose sessions end at most `absolute_timeout` seconds
    /// after login. The first step is a check at once: it learns the session's end, and sees a
    /// revocation that raced the upgrade.
    pub fn open(
        session: SessionId,
        user: Username,
        now: UnixTime,
        interval: i64,
        absolute_timeout: i64,
    ) -> (Self, Step) {
        let watch = Self {
            session,
            user,
            interval: interval.max(1),
            ends_by: now.saturating_add(absolute_timeout),
            seen: false,
            failing: false,
        };
        (watch, Step::CheckAt(now))
    }

    /// The session the socket belongs to.
    pub fn session(&self) -> &SessionId {
        &self.session
    }

    /// Its owner.
    pub fn user(&self) -> &Username {
        &self.user
    }

    /// At a check's time `now`, before asking: the session's absolute end closes the socket
    /// whatever the store would say (or if it cannot say).
    pub fn due(&self, now: UnixTime) -> Option<Closing> {
        (now >= self.ends_by).then_some(Closing::Expired)
    }

    /// The store's answer to the check made at `now`.
    pub fn observe(&mut self, answer: Result<Standing, StoreError>, now: UnixTime) -> Step {
        let next = now.saturating_add(self.interval).min(self.ends_by);
        match answer {
            Ok(Standing::Live(record)) => {
                self.seen = true;
                self.failing = false;
                self.ends_by = record.absolute_expires_at;
                // The idle end may pass before the next interval: look again then, as a
                // refresh elsewhere may have moved it.
                let next = next.min(record.expires_at()).min(self.ends_by);
                Step::CheckAt(next.max(now.saturating_add(1)))
            }
            Ok(Standing::Ended) => Step::Close(Closing::Ended),
            Ok(Standing::Unknown) if self.seen => Step::Close(Closing::Ended),
            Ok(Standing::Unknown) => {
                self.failing = false;
                Step::CheckAt(next)
            }
            Err(err) if self.failing => Step::Close(Closing::Unverifiable(err)),
            Err(_) => {
                self.failing = true;
                Step::CheckAt(next)
            }
        }
    }

    /// The audit line of the edge closing this socket at `now`.
    pub fn closed(&self, closing: &Closing, now: UnixTime) -> AuditEvent {
        AuditEvent::new(EventKind::SocketClosed, now)
            .user(&self.user)
            .session(self.session.as_str())
            .detail(closing.detail())
    }
}

/// The close code the other side gets when one side of a relayed socket closes with `code`: the
/// same, when it is one an endpoint may send (RFC 6455 §7.4: 1000-1003, 1007-1014 as
/// registered, 3000-4999; the runtime sends them all); `None` (a close without a code) for the
/// codes that only report what happened locally: 1005 (the close had no code), 1006 (the
/// connection dropped), 1015 (TLS), and anything unassigned.
pub fn relayed_code(code: u16) -> Option<u16> {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999).then_some(code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::session::record::{SessionPolicy, SessionRecord};

    const T0: UnixTime = 1_800_000_000;

    fn policy() -> SessionPolicy {
        SessionPolicy::default()
    }

    /// A session of alice logged in at `at`.
    fn record(at: UnixTime) -> SessionRecord {
        crate::auth::session::record::testing::record(at, &policy())
    }

    fn watch(record: &SessionRecord, now: UnixTime, interval: i64) -> SocketWatch {
        let (watch, first) = SocketWatch::open(
            record.id.clone(),
            record.user.clone(),
            now,
            interval,
            policy().absolute_timeout,
        );
        assert_eq!(first, Step::CheckAt(now), "the first check is at once");
        watch
    }

    #[test]
    fn a_live_session_is_checked_every_interval() {
        let session = record(T0);
        let mut watch = watch(&session, T0 + 10, 30);
        let mut now = T0 + 10;
        for _ in 0..5 {
            let step = watch.observe(Ok(Standing::Live(session.clone())), now);
            assert_eq!(step, Step::CheckAt(now + 30));
            now += 30;
            assert_eq!(watch.due(now), None);
        }
    }

    #[test]
    fn an_ended_session_closes_the_socket_with_the_edge_code() {
        let session = record(T0);
        let mut watch = watch(&session, T0, 30);
        watch.observe(Ok(Standing::Live(session.clone())), T0);
        let step = watch.observe(Ok(Standing::Ended), T0 + 30);
        assert_eq!(step, Step::Close(Closing::Ended));
        assert_eq!(Closing::Ended.code(), 4401);
        assert_eq!(Closing::Ended.reason(), "session ended");
        let line = watch.closed(&Closing::Ended, T0 + 30).to_json();
        assert!(line.contains(r#""event":"socket_closed""#), "{line}");
        assert!(
            !line.contains(session.id.as_str()),
            "pseudonyms only: {line}"
        );
    }

    #[test]
    fn an_ended_session_closes_even_on_the_first_check() {
        let session = record(T0);
        let mut watch = watch(&session, T0, 30);
        assert_eq!(
            watch.observe(Ok(Standing::Ended), T0),
            Step::Close(Closing::Ended)
        );
    }

    #[test]
    fn the_absolute_end_closes_without_asking() {
        let mut session = record(T0);
        let end = session.absolute_expires_at;
        // Refreshed a minute before its end: the idle timeout is not what ends it.
        session.last_seen_at = end - 60;
        let mut watch = watch(&session, end - 45, 30);
        assert_eq!(
            watch.observe(Ok(Standing::Live(session.clone())), end - 45),
            Step::CheckAt(end - 15)
        );
        assert_eq!(
            watch.observe(Ok(Standing::Live(session.clone())), end - 15),
            Step::CheckAt(end),
            "the next check is the session's end, not an interval later"
        );
        assert_eq!(watch.due(end - 1), None);
        assert_eq!(watch.due(end), Some(Closing::Expired));
        assert_eq!(Closing::Expired.code(), SESSION_ENDED_CODE);
    }

    #[test]
    fn before_any_record_the_end_is_bounded_by_the_absolute_timeout() {
        let session = record(T0);
        let mut watch = watch(&session, T0, 30);
        let bound = T0 + policy().absolute_timeout;
        assert_eq!(
            watch.observe(Ok(Standing::Unknown), bound - 10),
            Step::CheckAt(bound)
        );
        assert_eq!(watch.due(bound), Some(Closing::Expired));
    }

    #[test]
    fn the_idle_end_brings_the_next_check_forward() {
        let mut session = record(T0);
        session.last_seen_at = T0;
        let idle_end = session.idle_expires_at();
        let mut watch = watch(&session, idle_end - 10, 30);
        assert_eq!(
            watch.observe(Ok(Standing::Live(session.clone())), idle_end - 10),
            Step::CheckAt(idle_end)
        );
        // Refreshed elsewhere in the meantime: the session goes on.
        session.last_seen_at = idle_end - 5;
        assert_eq!(
            watch.observe(Ok(Standing::Live(session.clone())), idle_end),
            Step::CheckAt(idle_end + 30)
        );
        assert_eq!(watch.due(idle_end + 30), None);
    }

    #[test]
    fn an_unknown_session_is_kept_until_seen_and_closed_once_it_disappears() {
        let session = record(T0);
        let mut watch = watch(&session, T0, 30);
        assert_eq!(
            watch.observe(Ok(Standing::Unknown), T0),
            Step::CheckAt(T0 + 30),
            "not at this location yet"
        );
        assert_eq!(
            watch.observe(Ok(Standing::Live(session.clone())), T0 + 30),
            Step::CheckAt(T0 + 60)
        );
        assert_eq!(
            watch.observe(Ok(Standing::Unknown), T0 + 60),
            Step::Close(Closing::Ended),
            "seen, then gone: it has run out"
        );
    }

    #[test]
    fn one_failed_check_is_tolerated_two_in_a_row_close() {
        let session = record(T0);
        let down = || Err(StoreError::Unavailable("kv down".into()));
        let mut watch = watch(&session, T0, 30);
        watch.observe(Ok(Standing::Live(session.clone())), T0);
        assert_eq!(watch.observe(down(), T0 + 30), Step::CheckAt(T0 + 60));
        assert_eq!(
            watch.observe(Ok(Standing::Live(session.clone())), T0 + 60),
            Step::CheckAt(T0 + 90),
            "a success forgives the failure"
        );
        assert_eq!(watch.observe(down(), T0 + 90), Step::CheckAt(T0 + 120));
        let step = watch.observe(down(), T0 + 120);
        let Step::Close(closing) = step else {
            panic!("two failures in a row must close: {step:?}")
        };
        assert_eq!(closing.code(), CHECK_FAILED_CODE);
        assert_eq!(closing.reason(), "session check failed");
        let line = watch.closed(&closing, T0 + 120).to_json();
        assert!(line.contains("kv down"), "{line}");
    }

    #[test]
    fn an_unknown_answer_after_a_failure_resets_the_count() {
        let session = record(T0);
        let mut watch = watch(&session, T0, 30);
        let down = || Err(StoreError::Unavailable("kv down".into()));
        assert_eq!(watch.observe(down(), T0), Step::CheckAt(T0 + 30));
        assert_eq!(
            watch.observe(Ok(Standing::Unknown), T0 + 30),
            Step::CheckAt(T0 + 60)
        );
        assert_eq!(watch.observe(down(), T0 + 60), Step::CheckAt(T0 + 90));
    }

    #[test]
    fn the_interval_is_at_least_a_second() {
        let session = record(T0);
        let (mut watch, _) =
            SocketWatch::open(session.id.clone(), session.user.clone(), T0, 0, 3600);
        assert_eq!(
            watch.observe(Ok(Standing::Live(session.clone())), T0),
            Step::CheckAt(T0 + 1)
        );
    }

    #[test]
    fn close_codes_pass_through_where_an_endpoint_may_send_them() {
        for code in [
            1000, 1001, 1002, 1003, 1007, 1008, 1011, 1014, 3000, 4000, 4401, 4999,
        ] {
            assert_eq!(relayed_code(code), Some(code));
        }
        for code in [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000] {
            assert_eq!(relayed_code(code), None, "{code}");
        }
    }
}
