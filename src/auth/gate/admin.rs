//! The operator's session commands, as the worker receives them and the operator tool sends them.
//!
//! Ending and listing sessions are rules of the core ([`crate::auth::gate::Gate::end_session`],
//! [`crate::auth::gate::Gate::end_all`], [`crate::auth::session::store::SessionStore::sessions_of`]). The operator
//! tool does not write session storage itself: it asks the worker, so the session authority
//! stays the one writer and every command leaves an audit line. The routes are defined once,
//! here: the tool builds its request from an [`AdminCommand`], the worker parses it back, and
//! both read and write the same reply types.
//!
//! The endpoint is off unless `ADMIN_SECRET` is set; it then takes
//! `Authorization: Bearer <ADMIN_SECRET>`, compared in constant time. No browser credential
//! reaches it: cookies are ignored there.

use crate::auth::accounts::passkey::CredentialId;
use crate::auth::http::request::bearer_text;
use crate::auth::names::username::Username;
use core::fmt;

use percent_encoding::{percent_decode_str, utf8_percent_encode, NON_ALPHANUMERIC};
use serde::{Deserialize, Serialize};

use crate::auth::accounts::passkey::registry::StoredPasskey;
use crate::auth::env::UnixTime;
use crate::auth::names::session_id::SessionId;
use crate::auth::secret::AdminSecret;
use crate::auth::session::record::SessionRecord;

/// Where the admin routes live: `/auth/admin/users/<user>/sessions[/<session id>]`.
pub const ADMIN_USERS_PREFIX: &str = "/auth/admin/users/";

/// One operator command.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AdminCommand {
    /// `GET …/users/<user>/sessions`: the user's live sessions, oldest first.
    ListSessions {
        /// The username from the path.
        user: Username,
    },
    /// `DELETE …/users/<user>/sessions/<id>`: end one session of the user.
    EndSession {
        /// The username from the path.
        user: Username,
        /// The session to end.
        session: SessionId,
    },
    /// `DELETE …/users/<user>/sessions`: end every session of the user.
    EndAllSessions {
        /// The username from the path.
        user: Username,
    },
    /// `GET …/users/<user>/passkeys`: the user's passkeys.
    ListPasskeys {
        /// The username from the path.
        user: Username,
    },
    /// `DELETE …/users/<user>/passkeys/<credential id>`: remove one (not the last of a user
    /// without a password).
    RemovePasskey {
        /// The username from the path.
        user: Username,
        /// The credential.
        passkey: CredentialId,
    },
}

impl AdminCommand {
    /// The HTTP method that carries it.
    pub fn method(&self) -> &'static str {
        match self {
            Self::ListSessions { .. } | Self::ListPasskeys { .. } => "GET",
            Self::EndSession { .. } | Self::EndAllSessions { .. } | Self::RemovePasskey { .. } => {
                "DELETE"
            }
        }
    }

    /// The path that carries it; the user is percent-encoded (a federated id's subject may hold
    /// any printable character).
    pub fn path(&self) -> String {
        let user = utf8_percent_encode(self.user().as_str(), NON_ALPHANUMERIC);
        match self {
            Self::ListSessions { .. } | Self::EndAllSessions { .. } => {
                format!("{ADMIN_USERS_PREFIX}{user}/sessions")
            }
            Self::EndSession { session, .. } => {
                format!("{ADMIN_USERS_PREFIX}{user}/sessions/{session}")
            }
            Self::ListPasskeys { .. } => format!("{ADMIN_USERS_PREFIX}{user}/passkeys"),
            Self::RemovePasskey { passkey, .. } => {
                format!("{ADMIN_USERS_PREFIX}{user}/passkeys/{}", passkey.encoded())
            }
        }
    }

    /// The user the command is about.
    pub fn user(&self) -> &Username {
        match self {
            Self::ListSessions { user }
            | Self::EndSession { user, .. }
            | Self::EndAllSessions { user }
            | Self::ListPasskeys { user }
            | Self::RemovePasskey { user, .. } => user,
        }
    }

    /// Reads a command from a request's method and path (below [`ADMIN_USERS_PREFIX`]).
    pub fn parse(method: &str, path: &str) -> Result<Self, AdminError> {
        let rest = path
            .strip_prefix(ADMIN_USERS_PREFIX)
            .ok_or(AdminError::NoSuchRoute)?;
        let mut parts = rest.split('/');
        let (Some(raw_user), Some(collection @ ("sessions" | "passkeys"))) =
            (parts.next(), parts.next())
        else {
            return Err(AdminError::NoSuchRoute);
        };
        let decoded = percent_decode_str(raw_user)
            .decode_utf8()
            .map_err(|_| AdminError::BadUser("not UTF-8".into()))?;
        // One spelling per account (a built-in name as stored, or a federated id), so audit
        // lines and the authority agree on the name.
        let user = Username::try_from(decoded.to_string()).map_err(|_| {
            AdminError::BadUser(match Username::parse(&decoded) {
                Ok(user) => format!("write it as `{user}`"),
                Err(err) => err.to_string(),
            })
        })?;
        let session = parts.next();
        if parts.next().is_some() {
            return Err(AdminError::NoSuchRoute);
        }
        if collection == "passkeys" {
            return match (method, session) {
                ("GET", None) => Ok(Self::ListPasskeys { user }),
                ("DELETE", Some(id)) => CredentialId::parse(id)
                    .map(|passkey| Self::RemovePasskey { user, passkey })
                    .ok_or(AdminError::BadPasskey),
                (_, None) => Err(AdminError::MethodNotAllowed("GET")),
                (_, Some(_)) => Err(AdminError::MethodNotAllowed("DELETE")),
            };
        }
        match (method, session) {
            ("GET", None) => Ok(Self::ListSessions { user }),
            ("DELETE", None) => Ok(Self::EndAllSessions { user }),
            ("DELETE", Some(id)) => SessionId::parse(id)
                .map(|session| Self::EndSession { user, session })
                .ok_or(AdminError::BadSession),
            (_, None) => Err(AdminError::MethodNotAllowed("GET, DELETE")),
            (_, Some(_)) => Err(AdminError::MethodNotAllowed("DELETE")),
        }
    }
}

/// Checks the request's `Authorization` header against the configured secret.
pub fn authorize(
    configured: Option<&AdminSecret>,
    authorization: Option<&str>,
) -> Result<(), AdminError> {
    let configured = configured.ok_or(AdminError::Disabled)?;
    let presented = bearer_text(authorization)
        .filter(|presented| !presented.is_empty())
        .ok_or(AdminError::Unauthenticated)?;
    if AdminSecret::new(presented.trim().to_owned()) == *configured {
        Ok(())
    } else {
        Err(AdminError::Unauthenticated)
    }
}

/// Why an admin request was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AdminError {
    /// `ADMIN_SECRET` is not set: the endpoint does not exist.
    Disabled,
    /// No `Authorization: Bearer` header, or the wrong secret.
    Unauthenticated,
    /// Not one of the admin routes.
    NoSuchRoute,
    /// The route exists, not with this method; the methods it takes.
    MethodNotAllowed(&'static str),
    /// The username in the path is not one.
    BadUser(String),
    /// The session id in the path is not one.
    BadSession,
    /// The session is not a live session of that user.
    UnknownSession,
    /// The credential id in the path is not one.
    BadPasskey,
    /// The user has no passkey with that id.
    UnknownPasskey,
    /// It is the last passkey of a user who has no password.
    LastPasskey,
    /// Passkeys are off, or the user is a provider's (who has none here).
    PasskeysOff,
}

impl AdminError {
    /// The HTTP status of the refusal.
    pub fn status(&self) -> u16 {
        match self {
            Self::Disabled
            | Self::NoSuchRoute
            | Self::UnknownSession
            | Self::UnknownPasskey
            | Self::PasskeysOff => 404,
            Self::Unauthenticated => 401,
            Self::MethodNotAllowed(_) => 405,
            Self::BadUser(_) | Self::BadSession | Self::BadPasskey => 400,
            Self::LastPasskey => 409,
        }
    }

    /// The machine-readable error code of the JSON body.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Disabled | Self::NoSuchRoute => "not_found",
            Self::Unauthenticated => "unauthenticated",
            Self::MethodNotAllowed(_) => "method_not_allowed",
            Self::BadUser(_) => "bad_username",
            Self::BadSession => "bad_session_id",
            Self::UnknownSession => "unknown_session",
            Self::BadPasskey => "bad_passkey_id",
            Self::UnknownPasskey => "unknown_passkey",
            Self::LastPasskey => "last_passkey",
            Self::PasskeysOff => "passkeys_off",
        }
    }
}

impl fmt::Display for AdminError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // Indistinguishable from any other unknown path under /auth.
            Self::Disabled | Self::NoSuchRoute => f.write_str("no such page"),
            Self::Unauthenticated => {
                f.write_str("the admin endpoint needs `Authorization: Bearer <ADMIN_SECRET>`")
            }
            Self::MethodNotAllowed(allowed) => write!(f, "this route takes {allowed}"),
            Self::BadUser(why) => write!(f, "not a username: {why}"),
            Self::BadSession => f.write_str("not a session id"),
            Self::UnknownSession => f.write_str("no live session of that user has this id"),
            Self::BadPasskey => f.write_str("not a credential id"),
            Self::UnknownPasskey => f.write_str("that user has no passkey with this id"),
            Self::LastPasskey => f.write_str(
                "it is the last passkey of a user without a password: they could not sign in",
            ),
            Self::PasskeysOff => f.write_str(
                "no passkeys here: PASSKEYS is off, or the user signs in with a provider",
            ),
        }
    }
}

impl std::error::Error for AdminError {}

/// One session as the operator sees it: no token material.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminSession {
    /// The session id.
    pub id: String,
    /// When it began, in Unix seconds.
    pub created_at: UnixTime,
    /// When it was last refreshed, in Unix seconds.
    pub last_seen_at: UnixTime,
    /// When it ends if unused: the earlier of idle and absolute expiry.
    pub expires_at: UnixTime,
    /// A short summary of the `User-Agent` the session was created with.
    pub device: String,
}

impl From<&SessionRecord> for AdminSession {
    fn from(record: &SessionRecord) -> Self {
        Self {
            id: record.id.to_string(),
            created_at: record.created_at,
            last_seen_at: record.last_seen_at,
            expires_at: record.expires_at(),
            device: record.user_agent.clone(),
        }
    }
}

/// One passkey as the operator sees it: no key material.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminPasskey {
    /// The credential id, base64url.
    pub id: String,
    /// The name its user gave it.
    pub name: String,
    /// When it was registered, in Unix seconds.
    pub created_at: UnixTime,
    /// When it last signed its user in.
    pub last_used_at: Option<UnixTime>,
    /// Whether it is synced to the user's other devices.
    pub synced: bool,
}

impl From<&StoredPasskey> for AdminPasskey {
    fn from(passkey: &StoredPasskey) -> Self {
        Self {
            id: passkey.id.encoded(),
            name: passkey.name.clone(),
            created_at: passkey.created_at,
            last_used_at: passkey.last_used_at,
            synced: passkey.backed_up,
        }
    }
}

/// The reply to [`AdminCommand::ListPasskeys`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasskeyList {
    /// Whose passkeys these are.
    pub user: Username,
    /// The passkeys, oldest first.
    pub passkeys: Vec<AdminPasskey>,
}

/// The reply to [`AdminCommand::RemovePasskey`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasskeyRemoved {
    /// Whose passkey it was.
    pub user: Username,
    /// Its credential id.
    pub removed: String,
}

/// The reply to [`AdminCommand::ListSessions`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionList {
    /// Whose sessions these are.
    pub user: Username,
    /// The live sessions, oldest first.
    pub sessions: Vec<AdminSession>,
}

/// The reply to the commands that end sessions: which ones ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ended {
    /// Whose sessions ended.
    pub user: Username,
    /// The ids of the sessions that ended; empty if none was live.
    pub ended: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::names::username::testing::named;
    use crate::auth::secret::MIN_ADMIN_SECRET_LEN;

    const ID: &str = "AAAAAAAAAAAAAAAAAAAAAA";

    fn secret() -> AdminSecret {
        AdminSecret::new("x".repeat(MIN_ADMIN_SECRET_LEN))
    }

    #[test]
    fn every_command_survives_its_own_route() {
        let session = SessionId::parse(ID).expect("a session id");
        for command in [
            AdminCommand::ListSessions {
                user: named("alice"),
            },
            AdminCommand::EndAllSessions {
                user: named("alice@example.com"),
            },
            AdminCommand::EndSession {
                user: named("bob"),
                session: session.clone(),
            },
            AdminCommand::EndSession {
                user: Username::federated("corp", "a/b?c%d#e").expect("a federated id"),
                session,
            },
        ] {
            let parsed = AdminCommand::parse(command.method(), &command.path());
            assert_eq!(parsed.as_ref(), Ok(&command), "{}", command.path());
        }
    }

    #[test]
    fn refuses_what_is_not_a_command() {
        let cases: &[(&str, &str, AdminError)] = &[
            ("GET", "/auth/admin/users/", AdminError::NoSuchRoute),
            ("GET", "/auth/admin/users/alice", AdminError::NoSuchRoute),
            (
                "GET",
                "/auth/admin/users/alice/tokens",
                AdminError::NoSuchRoute,
            ),
            (
                "GET",
                &format!("/auth/admin/users/alice/sessions/{ID}/x"),
                AdminError::NoSuchRoute,
            ),
            (
                "POST",
                "/auth/admin/users/alice/sessions",
                AdminError::MethodNotAllowed("GET, DELETE"),
            ),
            (
                "GET",
                &format!("/auth/admin/users/alice/sessions/{ID}"),
                AdminError::MethodNotAllowed("DELETE"),
            ),
            (
                "DELETE",
                "/auth/admin/users/alice/sessions/short",
                AdminError::BadSession,
            ),
        ];
        for (method, path, want) in cases {
            assert_eq!(
                AdminCommand::parse(method, path).as_ref(),
                Err(want),
                "{method} {path}"
            );
        }
    }

    #[test]
    fn usernames_have_one_spelling() {
        for path in [
            "/auth/admin/users/Alice/sessions",
            "/auth/admin/users/%61lice%20/sessions",
            "/auth/admin/users/al%2Fice/sessions",
            "/auth/admin/users/%ff/sessions",
            "/auth/admin/users/-x/sessions",
        ] {
            let got = AdminCommand::parse("GET", path);
            assert!(
                matches!(got, Err(AdminError::BadUser(_))),
                "{path}: {got:?}"
            );
        }
    }

    #[test]
    fn only_the_configured_secret_passes() {
        let configured = secret();
        let bearer = format!("Bearer {}", configured.expose());
        assert_eq!(authorize(Some(&configured), Some(&bearer)), Ok(()));
        for presented in [
            None,
            Some(""),
            Some("Bearer "),
            Some(configured.expose().as_str()),
            Some(&format!("Basic {}", configured.expose())),
            Some(&format!("Bearer {}y", configured.expose())),
            Some(&bearer[..bearer.len() - 1]),
        ] {
            assert_eq!(
                authorize(Some(&configured), presented),
                Err(AdminError::Unauthenticated),
                "{presented:?}"
            );
        }
        assert_eq!(authorize(None, Some(&bearer)), Err(AdminError::Disabled));
    }

    #[test]
    fn refusals_have_a_status_and_a_reason() {
        assert_eq!(AdminError::Disabled.status(), 404);
        assert_eq!(AdminError::Disabled.to_string(), "no such page");
        assert_eq!(AdminError::Unauthenticated.status(), 401);
        assert!(AdminError::Unauthenticated
            .to_string()
            .contains("ADMIN_SECRET"));
        assert_eq!(AdminError::UnknownSession.status(), 404);
        assert_eq!(AdminError::BadSession.code(), "bad_session_id");
    }
}
