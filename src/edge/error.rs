//! The shell's one error type, and its one renderer.
//!
//! Whatever goes wrong while a request is handled (a refusal the core decided, storage down, the
//! origin away, a runtime call that threw) becomes an [`EdgeError`], and [`EdgeError::render`]
//! turns it into the JSON error contract. `fetch` renders every error that escapes a handler, so
//! no failure ever reaches the client as the runtime's plain-text 500.

use crate::auth::http::cookie::SetCookie;
use core::fmt;

use worker::Response;

use super::http;
use crate::auth::gate::admin::AdminError;
use crate::auth::gate::signin::SignInError;
use crate::auth::gate::Refusal;
use crate::auth::session::store::StoreError;

/// The proof algorithms a DPoP challenge names (RFC 9449 §7.1).
const DPOP_ALGS: &str = "ES256 EdDSA Ed25519 RS256";

#[derive(Debug)]
#[non_exhaustive]
pub(super) enum EdgeError {
    /// The configuration is invalid; the message names the variable.
    Config(String),
    /// The request is malformed.
    BadRequest(String),
    NotFound(&'static str),
    /// A state-changing request from another site.
    CrossSite,
    /// The core refused the request a session (the cookies it clears come by [`Self::with_cookies`]).
    Refused(Refusal),
    /// Session or user storage could not answer.
    Unavailable(String),
    /// The origin did not answer.
    OriginUnreachable,
    /// The admin endpoint refused the request.
    Admin(AdminError),
    /// A runtime call failed where nothing else was expected to.
    Internal(String),
    /// `error`, answered with `set_cookies` all the same: those a refusal clears, or those of a
    /// session refreshed in place before the failure, whose old refresh token is spent.
    WithCookies {
        error: Box<EdgeError>,
        set_cookies: Vec<SetCookie>,
    },
}

impl EdgeError {
    /// This error, answered with `set_cookies` too (itself when there are none).
    pub(super) fn with_cookies(self, set_cookies: Vec<SetCookie>) -> Self {
        if set_cookies.is_empty() {
            return self;
        }
        Self::WithCookies {
            error: Box::new(self),
            set_cookies,
        }
    }

    /// What went wrong, whatever the answer carries besides.
    pub(super) fn cause(&self) -> &Self {
        match self {
            Self::WithCookies { error, .. } => error.cause(),
            other => other,
        }
    }

    fn parts(&self) -> (u16, &'static str, String) {
        match self {
            Self::Config(why) => (
                500,
                "configuration_error",
                format!("edgegate is misconfigured: {why}"),
            ),
            Self::BadRequest(why) => (400, "bad_request", why.clone()),
            Self::NotFound(what) => (404, "not_found", (*what).to_owned()),
            Self::CrossSite => (
                403,
                "cross_site",
                "cross-site requests are not accepted here".into(),
            ),
            Self::Refused(refusal) => (refusal.status(), refusal.code(), refusal.message().into()),
            Self::Unavailable(_) => (
                503,
                "unavailable",
                "session storage is unavailable; try again shortly".into(),
            ),
            Self::OriginUnreachable => (
                502,
                "origin_unreachable",
                "the origin did not answer".into(),
            ),
            Self::Admin(err) => (err.status(), err.code(), err.to_string()),
            Self::Internal(_) => (
                500,
                "internal",
                "edgegate could not handle this request".into(),
            ),
            Self::WithCookies { error, .. } => error.parts(),
        }
    }

    /// The JSON error response, with the cookies it carries. A refused session says
    /// so in `WWW-Authenticate` too (RFC 6750 §3), which a bearer client reads and a browser
    /// ignores (no dialog for this scheme).
    pub(super) fn render(&self) -> worker::Result<Response> {
        if let Self::WithCookies { error, set_cookies } = self {
            let mut response = error.render()?;
            http::add_cookies(&mut response, set_cookies)?;
            return Ok(response);
        }
        let (status, code, message) = self.parts();
        let mut response = http::error(status, code, &message)?;
        if let (Self::Refused(refusal), 401) = (self, status) {
            let description = refusal.message().replace('"', "'");
            let challenge = match refusal {
                Refusal::NoSession => r#"Bearer realm="edgegate""#.to_owned(),
                Refusal::Proof { .. }
                | Refusal::TokenBinding { .. }
                | Refusal::InvalidToken { dpop: true, .. } => format!(
                    r#"DPoP algs="{DPOP_ALGS}", error="{}", error_description="{description}""#,
                    refusal.code()
                ),
                _ => format!(
                    r#"Bearer realm="edgegate", error="invalid_token", error_description="{description}""#
                ),
            };
            response.headers_mut().set("WWW-Authenticate", &challenge)?;
            if let Refusal::Proof {
                nonce: Some(nonce), ..
            } = refusal
            {
                response.headers_mut().set("DPoP-Nonce", nonce)?;
            }
        }
        Ok(response)
    }
}

impl fmt::Display for EdgeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unavailable(why) | Self::Internal(why) => f.write_str(why),
            Self::WithCookies { error, .. } => error.fmt(f),
            other => f.write_str(&other.parts().2),
        }
    }
}

/// Maps a runtime call's exception to an internal error naming `what` failed.
pub(in crate::edge) fn js_error(what: &'static str) -> impl Fn(wasm_bindgen::JsValue) -> EdgeError {
    move |err| EdgeError::Internal(format!("{what}: {err:?}"))
}

impl From<worker::Error> for EdgeError {
    fn from(err: worker::Error) -> Self {
        Self::Internal(err.to_string())
    }
}

impl From<StoreError> for EdgeError {
    fn from(err: StoreError) -> Self {
        Self::Unavailable(err.to_string())
    }
}

impl From<SignInError> for EdgeError {
    fn from(err: SignInError) -> Self {
        match err {
            SignInError::Store(err) => err.into(),
            SignInError::Entropy(_) => Self::Internal("no randomness available".into()),
            SignInError::Minting(refusal) => refusal.into(),
            SignInError::ProviderUnavailable(why) => Self::Unavailable(why),
        }
    }
}

impl From<AdminError> for EdgeError {
    fn from(err: AdminError) -> Self {
        Self::Admin(err)
    }
}

impl From<Refusal> for EdgeError {
    fn from(refusal: Refusal) -> Self {
        Self::Refused(refusal)
    }
}

pub(super) type EdgeResult<T = Response> = Result<T, EdgeError>;
