//! Why a request is refused, by reason: each maps to one status and error code, and to the
//! sign-in page's reason when it says a session existed.

use crate::auth::names::role::Role;
use crate::auth::names::username::Username;
use core::fmt;

use crate::auth::http::cookie::CookieError;
use crate::auth::http::path::PathError;
use crate::auth::http::redirect::Reason;
use crate::auth::policy::RoleNeed;
use crate::auth::session::store::StoreError;
use crate::auth::token::dpop::ProofError;
use crate::auth::token::MintError;

/// Why a request gets no session; each maps to one status and error code of the HTTP contract.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refusal {
    /// No usable credentials were presented.
    NoSession,
    /// The session was ended (logout, revocation, limit).
    SessionEnded,
    /// The refresh token is unknown, expired, or the account is disabled.
    SessionExpired,
    /// A retired refresh token came back: the session has been ended.
    RefreshReused,
    /// The refresh came from another device than the session's login, under
    /// `SESSION_BINDING = enforce`: the session has been ended.
    DeviceMismatch,
    /// The bearer token is malformed, forged or expired (`expired`: refresh it and try again).
    InvalidToken {
        /// Whether it was a genuine token past its expiry.
        expired: bool,
        /// Whether it came with the `DPoP` scheme, whose challenge the answer then carries.
        dpop: bool,
    },
    /// A DPoP proof was missing or refused (RFC 9449): `invalid_dpop_proof`, or
    /// `use_dpop_nonce` with the `nonce` to try again with.
    Proof {
        /// Why.
        error: ProofError,
        /// The server nonce in force, when the refusal asks for one.
        nonce: Option<String>,
    },
    /// A token presented in the wrong scheme: a key-bound one as `Bearer` (`bound`), or one
    /// bound to no key with the `DPoP` scheme.
    TokenBinding {
        /// Whether the token is bound to a key.
        bound: bool,
    },
    /// A device-bound session's refresh without a live bound cookie of this session: only the
    /// browser holding the device key can renew it. The access token lives out its time.
    DeviceUnbound,
    /// The path means different things to different origins (encoded separators or dots,
    /// dot segments, `;` parameters, ...): refused before anything else looks at it.
    AmbiguousPath(PathError),
    /// A signed-in user lacks the roles the path's rule asks for.
    Forbidden(Denied),
    /// Storage could not answer: fail closed.
    Unavailable(StoreError),
    /// A token or cookie could not be minted (randomness, a value that cannot be a cookie).
    Internal(InternalCause),
}

impl Refusal {
    /// The HTTP status this refusal answers with.
    pub fn status(&self) -> u16 {
        match self {
            Self::AmbiguousPath(_) => 400,
            Self::Forbidden(_) => 403,
            Self::Unavailable(_) => 503,
            Self::Internal(_) => 500,
            _ => 401,
        }
    }

    /// The stable machine-readable `error` code of the JSON answer.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NoSession => "unauthenticated",
            Self::SessionEnded => "session_ended",
            Self::SessionExpired => "session_expired",
            Self::RefreshReused => "refresh_reused",
            Self::DeviceMismatch => "device_mismatch",
            Self::DeviceUnbound => "device_unbound",
            Self::InvalidToken { .. } | Self::TokenBinding { .. } => "invalid_token",
            Self::Proof { error, .. } => error.code(),
            Self::AmbiguousPath(_) => "bad_request",
            Self::Forbidden(_) => "forbidden",
            Self::Unavailable(_) => "unavailable",
            Self::Internal(_) => "internal",
        }
    }

    /// A short sentence for the person behind the request; never names a secret.
    pub fn message(&self) -> &'static str {
        match self {
            Self::NoSession => "log in first",
            Self::SessionEnded => "this session has been ended",
            Self::SessionExpired => "the session is over; log in again",
            Self::RefreshReused => {
                "this refresh token was already used; the session has been ended"
            }
            Self::DeviceMismatch => {
                "this session was signed in on another device; the session has been ended"
            }
            Self::DeviceUnbound => {
                "this session is bound to a device; it is renewed only by that device's browser"
            }
            Self::InvalidToken { expired: true, .. } => {
                "the access token has expired; get a new one with the refresh token"
            }
            Self::InvalidToken { expired: false, .. } => "the token is not a valid access token",
            Self::Proof { error, .. } => error.reason(),
            Self::TokenBinding { bound: true } => {
                "the access token is bound to a key: present it with the DPoP scheme and a proof"
            }
            Self::TokenBinding { bound: false } => {
                "the access token is bound to no key: present it with the Bearer scheme"
            }
            Self::AmbiguousPath(err) => err.reason(),
            Self::Forbidden(_) => "you are signed in, but without a role this path requires",
            Self::Unavailable(_) => "session storage is unavailable; try again shortly",
            Self::Internal(_) => "the session could not be issued",
        }
    }

    /// Whether the person behind the request has to sign in (again) to go on: every refusal of
    /// credentials, as opposed to a refused path, a missing role or an outage.
    pub fn needs_sign_in(&self) -> bool {
        self.status() == 401
    }

    /// Whether the answer clears the session cookies: they are known to be dead. A request
    /// that presented nothing, or hit an outage, keeps whatever it has.
    pub fn clears_cookies(&self) -> bool {
        matches!(
            self,
            Self::SessionEnded
                | Self::SessionExpired
                | Self::RefreshReused
                | Self::DeviceMismatch
                // A key-bound session's tokens in cookies: a copy, or a session just ended.
                | Self::Proof { .. }
                | Self::TokenBinding { .. }
        )
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

/// Why the edge itself could not issue what a request needed: never the client's doing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InternalCause {
    /// A token could not be minted or signed.
    Mint(MintError),
    /// No randomness for a token id or refresh secret.
    NoRandomness,
    /// A token that cannot be a cookie value.
    Cookie(CookieError),
}

impl fmt::Display for InternalCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Mint(err) => err.fmt(f),
            Self::NoRandomness => f.write_str("no randomness available"),
            Self::Cookie(err) => write!(f, "cookie: {err}"),
        }
    }
}

/// The sign-in page's reason for a refusal, when it says a session existed.
impl From<&Refusal> for Option<Reason> {
    fn from(refusal: &Refusal) -> Self {
        Reason::from_api_error(refusal.code())
    }
}

/// Who was refused a path for want of roles, and which: enough for the page that says so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denied {
    /// The account that was refused.
    pub user: Username,
    /// Whether one of `missing` would do, or all of them are needed.
    pub need: RoleNeed,
    /// The rule's roles the user does not hold (for `Any`, all of the rule's roles).
    pub missing: Vec<Role>,
}
