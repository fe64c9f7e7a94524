//! Forwarding to the origin: what it receives is exactly what edgegate vouches for.
//!
//! Client-sent identity headers (every spelling) and our session cookies are removed before our
//! headers are added, so the origin can trust `X-Auth-*` whenever the request came through the
//! edge. Redirects from the origin are passed to the browser, never followed here.

use worker::{Fetch, Headers, Request, RequestInit, RequestRedirect, Response, Result, Url};

use super::session::Session;
use super::{http, webcrypto, Ctx};
use crate::auth::cookie::strip_session_cookies;
use crate::auth::forward::{identity_headers, is_reserved_header, Identity};
use crate::auth::gate::{identity, unsigned_assertion};
use crate::auth::token::Subject;

/// Headers the edge never forwards: hop-by-hop ones, and those it sets itself.
fn is_dropped(name: &str) -> bool {
    is_reserved_header(name)
        || matches!(
            name.to_ascii_lowercase().as_str(),
            "cookie"
                | "connection"
                | "keep-alive"
                | "proxy-connection"
                | "transfer-encoding"
                | "upgrade"
                | "host"
        )
}

/// The identity for `subject`, its assertion signed by the platform's WebCrypto.
async fn signed_identity(subject: &Subject<'_>, ctx: &Ctx<'_>) -> Result<Identity, String> {
    let unsigned = unsigned_assertion(subject, ctx.config, ctx.now, &ctx.entropy)
        .map_err(|err| err.to_string())?;
    let signature =
        webcrypto::ed25519_sign(&ctx.config.assertion_keys, unsigned.signing_input()).await?;
    let assertion = unsigned.finish(&signature).map_err(|err| err.to_string())?;
    Ok(identity(subject, assertion))
}

/// Forwards `req` to the origin, with `session`'s identity when there is one.
pub async fn forward(
    req: Request,
    url: &Url,
    ctx: &Ctx<'_>,
    session: Option<Session>,
) -> Result<Response> {
    let mut target = Url::parse(&ctx.config.origin_url)?;
    target.set_path(url.path());
    target.set_query(url.query());

    let headers = Headers::new();
    for (name, value) in req.headers().entries() {
        if !is_dropped(&name) {
            headers.append(&name, &value)?;
        }
    }
    if let Some(cookie) = req
        .headers()
        .get("Cookie")?
        .as_deref()
        .and_then(strip_session_cookies)
    {
        headers.set("Cookie", &cookie)?;
    }
    headers.set("X-Forwarded-Host", url.host_str().unwrap_or_default())?;
    headers.set("X-Forwarded-Proto", url.scheme())?;
    if let Some(address) = req.headers().get("CF-Connecting-IP")? {
        headers.set("X-Forwarded-For", &address)?;
    }

    let cookies = match &session {
        Some(session) => {
            let subject = Subject {
                user: &session.user,
                session: &session.id,
                roles: &session.roles,
            };
            let Ok(identity) = signed_identity(&subject, ctx).await else {
                return http::error(500, "internal", "could not sign the identity assertion");
            };
            let Ok(values) = identity_headers(&identity) else {
                return http::error(500, "internal", "the identity cannot be sent as headers");
            };
            for (name, value) in values {
                headers.set(name, &value)?;
            }
            session.cookies.clone()
        }
        None => Vec::new(),
    };

    let mut init = RequestInit::new();
    init.with_method(req.method())
        .with_headers(headers)
        .with_redirect(RequestRedirect::Manual);
    if let Some(body) = req.inner().body() {
        init.with_body(Some(body.into()));
    }
    let upstream = Request::new_with_init(target.as_str(), &init)?;
    let response = match Fetch::Request(upstream).send().await {
        Ok(response) => response,
        Err(_) => return http::error(502, "origin_unreachable", "the origin did not answer"),
    };
    if cookies.is_empty() {
        return Ok(response);
    }
    // Responses from fetch have immutable headers: copy them to add our cookies.
    let status = response.status_code();
    let copied = Headers::new();
    for (name, value) in response.headers().entries() {
        copied.append(&name, &value)?;
    }
    let (_, body) = response.into_parts();
    let mut response = Response::from_body(body)?
        .with_status(status)
        .with_headers(copied);
    http::add_cookies(&mut response, &cookies)?;
    Ok(response)
}
