//! The values the gate decides: who a request speaks for, a session's new tokens, the outcome
//! of a refresh, and the verdict on a protected request.

use crate::auth::http::cookie::SetCookie;
use crate::auth::names::role::Role;
use crate::auth::names::thumbprint::Thumbprint;
use crate::auth::names::username::Username;

use crate::auth::env::UnixTime;
use crate::auth::http::forward::Identity;
use crate::auth::names::session_id::SessionId;
use crate::auth::secret::{AccessToken, RefreshToken};
use crate::auth::session::record::SessionRecord;
use crate::auth::token::{Subject, VerifiedAccess};

use super::refusal::Refusal;

/// Who a request speaks for, once its session is established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The account name the session belongs to.
    pub user: Username,
    /// The session the request belongs to, shared by all its access and refresh tokens.
    pub session: SessionId,
    /// The roles the session was granted at login.
    pub roles: Vec<Role>,
    /// When the access token that carries this session expires.
    pub access_expires_at: UnixTime,
    /// The key the request proved it holds, for a session bound to one (DPoP).
    pub key: Option<Thumbprint>,
}

impl Principal {
    pub(super) fn of(access: &VerifiedAccess, session: SessionId) -> Self {
        Self {
            user: access.user().clone(),
            session,
            roles: access.roles().to_vec(),
            access_expires_at: access.expires_at(),
            key: access.key().cloned(),
        }
    }

    pub(super) fn subject(&self) -> Subject<'_> {
        Subject {
            user: &self.user,
            session: self.session.as_str(),
            roles: &self.roles,
            key: self.key.as_ref(),
        }
    }
}

/// A session and its owner, as verified: enough to end it through the owner's authority.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    /// The session to end.
    pub id: SessionId,
    /// Its owner, whose authority holds the session.
    pub user: Username,
}

impl Principal {
    /// This session and its owner, for ending it.
    pub fn held(&self) -> Held {
        Held {
            id: self.session.clone(),
            user: self.user.clone(),
        }
    }
}

/// A request's session, or why it has none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// The request speaks for `principal`.
    Session {
        /// Who the session belongs to.
        principal: Principal,
        /// `Set-Cookie` values when the session was refreshed in place; empty otherwise.
        set_cookies: Vec<SetCookie>,
    },
    /// The request speaks for no one, and why.
    Refused(Refusal),
}

/// A session's credentials as minted for its client: a new access token and, after a login or
/// a rotation, the new refresh token. A browser gets them as cookies
/// ([`super::Gate::session_cookies`]); a client that asked `/auth/token` for them, in the body.
#[derive(Debug, Clone)]
pub struct SessionTokens {
    /// The access token.
    pub access: AccessToken,
    /// Seconds until the access token expires.
    pub access_expires_in: i64,
    /// The new refresh token; `None` when a concurrent refresh rotated it first (grace), and
    /// the token that refresh returned is the one to keep.
    pub refresh: Option<RefreshToken>,
    /// Seconds until the session's absolute end, the refresh token's longest life.
    pub refresh_expires_in: i64,
}

/// The outcome of presenting a refresh token.
#[derive(Debug, Clone)]
pub enum Restored {
    /// The refresh token was rotated: the session lives on.
    Session {
        /// The session as it stands after the rotation.
        record: Box<SessionRecord>,
        /// The session's new tokens.
        tokens: SessionTokens,
    },
    /// No session is restored, and why.
    Refused(Refusal),
}

/// What to do with a request for a protected (non-`/auth`) path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Forward to the origin, with this identity (none on a public path), adding these cookies
    /// to the origin's response.
    Forward {
        /// Who the origin is told the request speaks for; `None` on a public path.
        identity: Option<Identity>,
        /// `Set-Cookie` values to add to the origin's response (a refresh in place); may be empty.
        set_cookies: Vec<SetCookie>,
    },
    /// Send the browser to log in.
    Redirect {
        /// The login page, with the path to return to once signed in.
        location: String,
        /// `Set-Cookie` values for the redirect (clearing dead cookies); may be empty.
        set_cookies: Vec<SetCookie>,
    },
    /// Answer with an error page or JSON error instead of forwarding.
    Refuse {
        /// Why the request is refused.
        refusal: Refusal,
        /// `Set-Cookie` values for the answer (clearing dead cookies, or those of a refresh in
        /// place); may be empty.
        set_cookies: Vec<SetCookie>,
    },
}
