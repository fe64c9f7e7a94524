//! Response helpers: what the entry hands the runtime, JSON errors, security headers, cookies.

use crate::auth::http::cookie::SetCookie;
use serde::Serialize;
use wasm_bindgen::JsValue;
use worker::{web_sys, Headers, Response, Result};

/// What a request is answered with: a response made here, or the origin's answer still on its
/// way (its `fetch` promise, handed to the runtime as it is, so that nothing of ours runs when
/// it arrives).
pub(super) enum Reply {
    /// A response edgegate made, or the origin's response after edgegate changed it.
    Made(web_sys::Response),
    /// The origin's `fetch` promise; it resolves to the origin's response as it came, and to
    /// the 502 error when the origin does not answer.
    Origin(js_sys::Promise),
}

impl From<web_sys::Response> for Reply {
    fn from(response: web_sys::Response) -> Self {
        Self::Made(response)
    }
}

impl From<Response> for Reply {
    fn from(response: Response) -> Self {
        Self::Made(response.into())
    }
}

impl From<Reply> for JsValue {
    fn from(reply: Reply) -> Self {
        match reply {
            Reply::Made(response) => response.into(),
            Reply::Origin(pending) => pending.into(),
        }
    }
}

/// Headers on every response edgegate itself produces.
const NO_STORE: (&str, &str) = ("Cache-Control", "no-store");
/// The policy of the pages in `www/`: no inline code, nothing from elsewhere, never framed.
const PAGE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    message: &'a str,
}

/// `{"error": code, "message": text}` with `status`.
pub(super) fn error(status: u16, code: &str, message: &str) -> Result<Response> {
    json(
        &ErrorBody {
            error: code,
            message,
        },
        status,
    )
}

/// A plain-text 200 answer.
pub(super) fn text(body: &str) -> Result<Response> {
    let mut response = Response::ok(body)?;
    harden(response.headers_mut())?;
    Ok(response)
}

pub(super) fn json<T: Serialize>(body: &T, status: u16) -> Result<Response> {
    let mut response = Response::from_json(body)?.with_status(status);
    harden(response.headers_mut())?;
    Ok(response)
}

/// A redirect to a same-origin path (already sanitised by the caller).
pub(super) fn redirect(location: &str, status: u16) -> Result<Response> {
    let headers = Headers::new();
    headers.set("Location", location)?;
    harden(&headers)?;
    Ok(Response::empty()?.with_status(status).with_headers(headers))
}

/// Security headers for everything the edge answers itself.
pub(super) fn harden(headers: &Headers) -> Result<()> {
    headers.set(NO_STORE.0, NO_STORE.1)?;
    headers.set("X-Content-Type-Options", "nosniff")?;
    headers.set("Referrer-Policy", "no-referrer")?;
    headers.set("X-Frame-Options", "DENY")?;
    headers.set("Content-Security-Policy", PAGE_CSP)
}

pub(super) fn add_cookies(response: &mut Response, cookies: &[SetCookie]) -> Result<()> {
    for cookie in cookies {
        response
            .headers_mut()
            .append("Set-Cookie", cookie.header_value())?;
    }
    Ok(())
}
