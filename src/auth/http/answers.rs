//! The JSON bodies the edge answers its own routes with, as typed values: the shapes
//! `www/openapi.yaml` documents, written once for the login, token, refresh and session routes.

use serde::Serialize;

use crate::auth::env::UnixTime;
use crate::auth::names::role::Role;
use crate::auth::names::session_id::SessionId;
use crate::auth::names::username::Username;
use crate::auth::session::record::SessionRecord;

/// `user`: who a session speaks for.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct UserView<'a> {
    /// The username.
    pub id: &'a Username,
    /// Their roles.
    pub roles: &'a [Role],
}

/// `session`: which session, and when it ends at the latest.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct SessionView<'a> {
    /// The session id.
    pub id: &'a SessionId,
    /// When it ends without further activity (idle timeout or absolute end).
    pub expires_at: UnixTime,
}

/// The answer of a JSON login and of a refresh: the session, with its user where the route
/// names it.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct SessionAnswer<'a> {
    /// Who signed in; absent from a refresh's answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<UserView<'a>>,
    /// The session.
    pub session: SessionView<'a>,
}

impl<'a> SessionAnswer<'a> {
    /// The session of `record` and its user.
    pub fn signed_in(record: &'a SessionRecord) -> Self {
        Self {
            user: Some(UserView {
                id: &record.user,
                roles: &record.roles,
            }),
            session: SessionView {
                id: &record.id,
                expires_at: record.expires_at(),
            },
        }
    }

    /// The session of `record` alone.
    pub fn session_of(record: &'a SessionRecord) -> Self {
        Self {
            user: None,
            ..Self::signed_in(record)
        }
    }
}

/// The token endpoint's answer (OAuth 2.0's token response, with the session beside it).
#[derive(Debug, Clone, Serialize)]
pub struct TokenAnswer<'a> {
    /// The access token.
    pub access_token: &'a str,
    /// `DPoP` for a session bound to a key, else `Bearer`.
    pub token_type: &'static str,
    /// Seconds the access token lives.
    pub expires_in: i64,
    /// The refresh token, when one was minted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<&'a str>,
    /// Seconds the refresh token may be used, with it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token_expires_in: Option<i64>,
    /// Who the tokens speak for.
    pub user: UserView<'a>,
    /// The session.
    pub session: SessionView<'a>,
}

/// `GET /auth/session`'s `session`: the one this request speaks for.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct CurrentSessionView<'a> {
    /// The session id.
    pub id: &'a SessionId,
    /// When it was created; `null` while its record has not reached this location.
    pub created_at: Option<UnixTime>,
    /// When it ends without further activity.
    pub expires_at: UnixTime,
    /// When the access token presented expires.
    pub access_expires_at: UnixTime,
}

/// `GET /auth/session`'s answer.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct CurrentSession<'a> {
    /// Who the session speaks for.
    pub user: UserView<'a>,
    /// The session.
    pub session: CurrentSessionView<'a>,
}

/// One entry of `GET /auth/sessions`.
#[derive(Debug, Clone, Serialize)]
pub struct ListedSession<'a> {
    /// The session id.
    pub id: &'a SessionId,
    /// When it was created.
    pub created_at: UnixTime,
    /// When it was last refreshed.
    pub last_seen_at: UnixTime,
    /// When it ends without further activity.
    pub expires_at: UnixTime,
    /// The User-Agent of its sign-in.
    pub device: &'a str,
    /// Roughly where it signed in from.
    pub place: Option<&'a str>,
    /// The address prefix it signed in from.
    pub address: Option<&'a str>,
    /// Its idle timeout in seconds.
    pub idle_timeout: i64,
    /// Its absolute end.
    pub absolute_expires_at: UnixTime,
    /// Whether it is the session of the request asking.
    pub current: bool,
    /// Whether its browser registered a device key (a device-bound session).
    pub device_bound: bool,
}

impl<'a> ListedSession<'a> {
    /// `record`, listed for the session `asking`.
    pub fn of(record: &'a SessionRecord, asking: &SessionId) -> Self {
        let from = record.signed_in_from.as_deref();
        Self {
            id: &record.id,
            created_at: record.created_at,
            last_seen_at: record.last_seen_at,
            expires_at: record.expires_at(),
            device: &record.user_agent,
            place: from.and_then(|from| from.place.as_deref()),
            address: from.and_then(|from| from.address.as_deref()),
            idle_timeout: record.idle_timeout,
            absolute_expires_at: record.absolute_expires_at,
            current: record.id == *asking,
            device_bound: record.device_key.is_some(),
        }
    }
}

/// `GET /auth/sessions`' answer.
#[derive(Debug, Clone, Serialize)]
pub struct SessionList<'a> {
    /// The user's live sessions.
    pub sessions: Vec<ListedSession<'a>>,
}

/// A device-bound session's instructions to the browser (W3C DBSC), the answer to a
/// registration or a bound cookie's renewal.
#[derive(Debug, Clone, Serialize)]
pub struct SessionInstructions<'a> {
    /// The session, as the browser names it in `Sec-Secure-Session-Id`.
    pub session_identifier: &'a SessionId,
    /// Where the browser renews the bound cookie.
    pub refresh_url: &'static str,
    /// The requests the session covers: this origin, all of its paths.
    pub scope: InstructionScope<'a>,
    /// The bound cookie.
    pub credentials: [BoundCredential<'a>; 1],
    /// No other site may start a renewal.
    pub allowed_refresh_initiators: [&'static str; 0],
}

/// [`SessionInstructions::scope`].
#[derive(Debug, Clone, Serialize)]
pub struct InstructionScope<'a> {
    /// This edge's origin.
    pub origin: &'a str,
    /// Not the rest of the site.
    pub include_site: bool,
    /// No exceptions.
    pub scope_specification: [&'static str; 0],
}

/// [`SessionInstructions::credentials`]: the bound cookie, by name and attributes.
#[derive(Debug, Clone, Serialize)]
pub struct BoundCredential<'a> {
    /// Always `cookie`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The cookie's name.
    pub name: &'a str,
    /// Its attributes, as set.
    pub attributes: String,
}

/// `{"ok": true}`: a state change was carried out.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Done {
    /// Always `true`.
    pub ok: bool,
}

/// The one [`Done`].
pub const DONE: Done = Done { ok: true };

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::names::role::testing::role;
    use crate::auth::session::record::testing::record;
    use crate::auth::session::record::SessionPolicy;
    use serde_json::{json, Value};

    fn to_value(body: impl Serialize) -> Value {
        serde_json::to_value(body).unwrap()
    }

    #[test]
    fn the_session_answers_have_the_documented_shapes() {
        let mut record = record(1_800_000_000, &SessionPolicy::default());
        record.roles = vec![role("staff")];
        let expires_at = record.expires_at();
        assert_eq!(
            to_value(SessionAnswer::signed_in(&record)),
            json!({
                "user": { "id": record.user, "roles": ["staff"] },
                "session": { "id": record.id, "expires_at": expires_at },
            })
        );
        assert_eq!(
            to_value(SessionAnswer::session_of(&record)),
            json!({ "session": { "id": record.id, "expires_at": expires_at } })
        );
        let listed = to_value(ListedSession::of(&record, &record.id));
        assert_eq!(listed["current"], json!(true));
        assert_eq!(listed["place"], Value::Null);
        assert_eq!(to_value(DONE), json!({ "ok": true }));
    }
}
