//! The session authority: one strongly consistent owner per user for every write that must be
//! atomic.
//!
//! Workers KV cannot compare-and-set, so on KV alone two refreshes of one stolen token at two
//! locations can both win, logins at several locations can overshoot the session limit, and
//! "log out everywhere" takes up to a minute. A Durable Object per user closes these holes: it
//! applies each [`Command`] to the user's [`UserSessions`] one at a time, then writes the result
//! through to KV, which stays the read path of every request (the hot path never calls the
//! object). This module is the object's logic, pure; `edge::bindings::authority` is its shell.

use serde::{Deserialize, Serialize};

use crate::auth::env::UnixTime;
use crate::auth::names::session_id::SessionId;
use crate::auth::session::record::{SessionPolicy, SessionRecord};
use crate::auth::session::refresh::{PresentedRefresh, TokenHash};
use crate::auth::session::store::Rotation;
use crate::auth::session::user_sessions::UserSessions;
use crate::auth::token::dbsc::DeviceKey;

/// One atomic step, as sent to the user's authority.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Command {
    /// Stores a new session from a login, ending whatever the policy evicts (over
    /// `MAX_SESSIONS`, oldest first).
    Create {
        /// The session to store.
        record: SessionRecord,
        /// The limits in force, from the configuration.
        policy: SessionPolicy,
        /// The time of the login, in Unix seconds.
        now: UnixTime,
    },
    /// Rotates a session's refresh token, or tells why not: grace, reuse, ended, unknown.
    Rotate {
        /// The refresh token the client presented.
        presented: PresentedRefresh,
        /// The hash of the refresh token that replaces it, minted by the caller.
        replacement: TokenHash,
        /// The limits in force, from the configuration.
        policy: SessionPolicy,
        /// The time of the refresh, in Unix seconds.
        now: UnixTime,
    },
    /// Ends one session.
    Revoke {
        /// The session to end.
        id: SessionId,
        /// The time of the request, in Unix seconds; a session already expired counts as not found.
        now: UnixTime,
    },
    /// Keeps a browser's device key with one session, once.
    BindDeviceKey {
        /// The session.
        id: SessionId,
        /// The key its browser registered.
        key: DeviceKey,
        /// The time of the registration, in Unix seconds.
        now: UnixTime,
    },
    /// Ends every session of the user.
    RevokeAll {
        /// The time of the request, in Unix seconds; sessions end whatever their age.
        now: UnixTime,
    },
    /// Lists the user's live sessions.
    List {
        /// The time to judge liveness by, in Unix seconds.
        now: UnixTime,
    },
}

/// The answer to a [`Command`], by kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reply", content = "value", rename_all = "snake_case")]
pub enum Reply {
    /// To `Create` and `RevokeAll`: the sessions that were ended.
    Ended(Vec<SessionId>),
    /// To `Rotate`: the outcome of the refresh.
    Rotation(Rotation),
    /// To `Revoke`: the session that was ended; `None` if no live session had that id.
    Revoked(Option<SessionRecord>),
    /// To `List`: the live sessions, oldest first.
    Sessions(Vec<SessionRecord>),
    /// To `BindDeviceKey`: the session with its key, or `None` when it was not bound now.
    Bound(Option<SessionRecord>),
}

/// What must reach KV after a command, so the read path agrees with the authority.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteThrough {
    /// Sessions to store (new or rotated) and index.
    pub store: Vec<SessionRecord>,
    /// Sessions to end: revocation marker, then record and index removed.
    pub end: Vec<SessionRecord>,
}

/// Applies `command` to `sessions`: the whole transition, with no I/O in between.
pub fn apply(sessions: &mut UserSessions, command: Command) -> (Reply, WriteThrough) {
    let mut writes = WriteThrough::default();
    let reply = match command {
        Command::Create {
            record,
            policy,
            now,
        } => {
            sessions.prune(now);
            writes.store.push(record.clone());
            writes.end = sessions.create(record, &policy, now);
            Reply::Ended(writes.end.iter().map(|s| s.id.clone()).collect())
        }
        Command::Rotate {
            presented,
            replacement,
            policy,
            now,
        } => {
            let before = sessions.find(&presented.session).cloned();
            let rotation = sessions.rotate(&presented, replacement, &policy, now);
            match &rotation {
                Rotation::Rotated(record) => writes.store.push(record.clone()),
                Rotation::Reused(record) => writes.end.push(record.clone()),
                Rotation::Ended => writes.end.extend(before),
                Rotation::Grace(_) | Rotation::Unknown => {}
            }
            Reply::Rotation(rotation)
        }
        Command::Revoke { id, now } => {
            let found = sessions.find(&id).cloned();
            let revoked = sessions.revoke(&id, now);
            writes.end.extend(found);
            Reply::Revoked(revoked)
        }
        Command::BindDeviceKey { id, key, now } => {
            let bound = sessions.bind_device_key(&id, key, now);
            writes.store.extend(bound.clone());
            Reply::Bound(bound)
        }
        Command::RevokeAll { now: _ } => {
            writes.end = sessions.revoke_all();
            Reply::Ended(writes.end.iter().map(|s| s.id.clone()).collect())
        }
        Command::List { now } => Reply::Sessions(sessions.live(now)),
    };
    (reply, writes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::env::testing::SeededEntropy;
    use crate::auth::names::username::testing::named;
    use crate::auth::session::record::LoginSubject;
    use crate::auth::session::refresh::NewRefresh;

    fn login(entropy: &SeededEntropy, now: UnixTime) -> (SessionRecord, NewRefresh) {
        let id = SessionId::generate(entropy).unwrap();
        let refresh = NewRefresh::mint(&id, entropy).unwrap();
        let subject = LoginSubject {
            user: named("alice"),
            roles: vec![],
            user_agent: String::new(),
        };
        let record = SessionRecord::new(
            id,
            subject,
            refresh.hash.clone(),
            now,
            &SessionPolicy::default(),
        );
        (record, refresh)
    }

    fn policy(max: u32, grace: i64) -> SessionPolicy {
        SessionPolicy {
            max_sessions: Some(max),
            refresh_grace: grace,
            ..SessionPolicy::default()
        }
    }

    #[test]
    fn commands_round_trip_as_json() {
        let entropy = SeededEntropy::default();
        let (record, _) = login(&entropy, 1);
        let command = Command::Create {
            record,
            policy: SessionPolicy::default(),
            now: 1,
        };
        let json = serde_json::to_string(&command).unwrap();
        assert!(json.starts_with(r#"{"op":"create""#), "{json}");
        assert_eq!(serde_json::from_str::<Command>(&json).unwrap(), command);
        let reply = Reply::Rotation(Rotation::Unknown);
        let json = serde_json::to_string(&reply).unwrap();
        assert_eq!(serde_json::from_str::<Reply>(&json).unwrap(), reply);
    }

    #[test]
    fn create_writes_the_session_and_ends_the_evicted() {
        let entropy = SeededEntropy::default();
        let mut sessions = UserSessions::default();
        let (first, _) = login(&entropy, 1);
        let (second, _) = login(&entropy, 2);
        apply(
            &mut sessions,
            Command::Create {
                record: first.clone(),
                policy: policy(1, 10),
                now: 1,
            },
        );
        let (reply, writes) = apply(
            &mut sessions,
            Command::Create {
                record: second.clone(),
                policy: policy(1, 10),
                now: 2,
            },
        );
        assert_eq!(reply, Reply::Ended(vec![first.id.clone()]));
        assert_eq!(writes.store, vec![second.clone()]);
        assert_eq!(writes.end, vec![first]);
        let (Reply::Sessions(live), _) = apply(&mut sessions, Command::List { now: 3 }) else {
            panic!()
        };
        assert_eq!(live, vec![second]);
    }

    #[test]
    fn one_rotation_wins_and_replays_end_the_session_without_grace() {
        let entropy = SeededEntropy::default();
        let mut sessions = UserSessions::default();
        let (record, refresh) = login(&entropy, 1);
        apply(
            &mut sessions,
            Command::Create {
                record: record.clone(),
                policy: policy(10, 0),
                now: 1,
            },
        );
        let presented = PresentedRefresh::parse(refresh.token(&named("alice")).expose()).unwrap();
        let rotate = |sessions: &mut UserSessions| {
            let replacement = NewRefresh::mint(&record.id, &entropy).unwrap().hash;
            apply(
                sessions,
                Command::Rotate {
                    presented: presented.clone(),
                    replacement,
                    policy: policy(10, 0),
                    now: 5,
                },
            )
        };
        let (first, writes) = rotate(&mut sessions);
        assert!(matches!(first, Reply::Rotation(Rotation::Rotated(_))));
        assert_eq!(writes.store.len(), 1);
        let (second, writes) = rotate(&mut sessions);
        assert!(
            matches!(second, Reply::Rotation(Rotation::Reused(_))),
            "{second:?}"
        );
        assert_eq!(writes.end.len(), 1, "the reused session is ended in KV too");
        let (third, _) = rotate(&mut sessions);
        assert_eq!(third, Reply::Rotation(Rotation::Unknown));
    }

    #[test]
    fn revoke_all_ends_everything() {
        let entropy = SeededEntropy::default();
        let mut sessions = UserSessions::default();
        for now in 1..4 {
            let (record, _) = login(&entropy, now);
            apply(
                &mut sessions,
                Command::Create {
                    record,
                    policy: policy(10, 10),
                    now,
                },
            );
        }
        let (Reply::Ended(ended), writes) = apply(&mut sessions, Command::RevokeAll { now: 5 })
        else {
            panic!()
        };
        assert_eq!(ended.len(), 3);
        assert_eq!(writes.end.len(), 3);
        assert!(sessions.is_empty());
    }
}
