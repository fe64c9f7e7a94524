//! Forwarding to the origin: what it receives is exactly what edgegate vouches for.
//!
//! The upstream request is the incoming one rebuilt by the runtime's own `Request` constructor
//! (method, headers and streamed body as sent, redirects passed through, not followed), with
//! only what must go removed: client-sent identity headers in every spelling, hop-by-hop
//! headers, and our session cookies. Then our headers are added, so the origin can trust
//! `X-Auth-*` whenever the request came through the edge. Responses pass through untouched,
//! except that one carrying session cookies is made uncacheable by shared caches.
//!
//! `Upgrade` is hop-by-hop, but a request admitted as a WebSocket handshake
//! ([`crate::auth::http::admission`]: a `GET`, from the edge's own page, a configured one or no
//! page) is sent with `Upgrade: websocket`: the runtime then opens a WebSocket to the origin
//! (with the same identity headers as any forwarded request). The gate has already decided by
//! then, so an unauthenticated upgrade never reaches the origin. The
//! origin's 101 answer, carrying its socket, is not handed to the client when the upgrade carries
//! an identity: [`super::socket`] relays it, so that the socket closes when the session ends. A
//! public path's upgrade (no identity, no session to end) is handed through as it came.

use crate::auth::http::cookie::SetCookie;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use worker::web_sys;
use worker::worker_sys::ext::ResponseExt;

use super::socket;
use crate::auth::gate::Verdict;
use crate::auth::http::admission::Connection;
use crate::auth::http::forward::{identity_headers, is_reserved_header, Identity};
use crate::auth::http::request::RequestFacts;
use crate::edge::error::js_error;
use crate::edge::error::{EdgeError, EdgeResult};
use crate::edge::{answer, Ctx};

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

/// Response headers that would let a CDN store a response regardless of `Cache-Control`.
const CDN_CACHE_HEADERS: &[&str] = &[
    "cdn-cache-control",
    "cloudflare-cdn-cache-control",
    "surrogate-control",
];

/// Everything that is not `/auth`: the core's verdict, performed.
pub(super) async fn protected(
    req: &web_sys::Request,
    facts: &RequestFacts,
    connection: Connection,
    ctx: &Ctx<'_>,
) -> EdgeResult<web_sys::Response> {
    match ctx.gate().protect(facts).await {
        Verdict::Forward {
            identity,
            set_cookies,
        } => forward(req, facts, connection, ctx, identity.as_ref(), &set_cookies)
            .await
            // A failure after a refresh in place (origin away, a GET with a body) still hands
            // over the rotated tokens: the browser's old refresh token is already spent.
            .map_err(|err| err.with_cookies(set_cookies)),
        not_forwarded => Ok(answer::not_forwarded(not_forwarded, facts, ctx)
            .await?
            .into()),
    }
}

/// Sends `req` to the origin with `identity` (none on a public path), and `set_cookies` on the
/// answer; as a WebSocket handshake when the request was admitted as one.
async fn forward(
    incoming: &web_sys::Request,
    facts: &RequestFacts,
    connection: Connection,
    ctx: &Ctx<'_>,
    identity: Option<&Identity>,
    set_cookies: &[SetCookie],
) -> EdgeResult<web_sys::Response> {
    let body = incoming.body();
    if matches!(facts.method.as_str(), "GET" | "HEAD") && body.is_some() {
        return Err(EdgeError::BadRequest(
            "a GET or HEAD request cannot carry a body".into(),
        ));
    }
    let init = web_sys::RequestInit::new();
    init.set_method(&facts.method);
    init.set_headers(&incoming.headers());
    if let Some(body) = &body {
        init.set_body(body);
    }
    init.set_redirect(web_sys::RequestRedirect::Manual);
    let target = ctx
        .config
        .origin_target(&facts.path, facts.query.as_deref());
    let upstream = web_sys::Request::new_with_str_and_init(&target, &init)
        .map_err(js_error("upstream request"))?;

    let headers = worker::Headers(upstream.headers());
    let dropped: Vec<String> = headers.keys().filter(|name| is_dropped(name)).collect();
    for name in &dropped {
        headers.delete(name)?;
    }
    // A bearer token is the edge's credential, as the session cookies are: never the origin's.
    if facts.bearer.presented() {
        headers.delete("Authorization")?;
    }
    if connection == Connection::WebSocket {
        headers.set("Upgrade", "websocket")?;
    }
    if let Some(cookie) = facts.cookies.forward() {
        headers.set("Cookie", cookie)?;
    }
    headers.set("X-Forwarded-Host", &facts.host)?;
    headers.set("X-Forwarded-Proto", &facts.scheme)?;
    if let Some(address) = &facts.client_ip {
        headers.set("X-Forwarded-For", address)?;
    }
    if let Some(identity) = identity {
        let values = identity_headers(identity).map_err(|err| {
            EdgeError::Internal(format!("the identity cannot be sent as headers: {err}"))
        })?;
        for (name, value) in values {
            headers.set(name, &value)?;
        }
    }

    let global: web_sys::WorkerGlobalScope = js_sys::global().unchecked_into();
    let answer = JsFuture::from(global.fetch_with_request(&upstream))
        .await
        .map_err(|_| EdgeError::OriginUnreachable)?;
    let answer: web_sys::Response = answer.dyn_into().map_err(js_error("origin response"))?;
    let answer = match (identity, answer.websocket()) {
        (Some(identity), Some(origin)) => socket::relay(&answer, origin, identity, incoming, ctx)?,
        _ => answer,
    };
    if set_cookies.is_empty() {
        return Ok(answer);
    }
    // A fetched response's headers are immutable: the runtime's constructor copies them (the
    // body stays a stream) so our cookies can be added.
    let copy = web_sys::Response::new_with_opt_readable_stream_and_init(
        answer.body().as_ref(),
        answer.unchecked_ref::<web_sys::ResponseInit>(),
    )
    .map_err(js_error("response copy"))?;
    let headers = worker::Headers(copy.headers());
    for cookie in set_cookies {
        headers.append("Set-Cookie", cookie)?;
    }
    // Session cookies must never be stored by a shared cache and handed to someone else.
    headers.set("Cache-Control", "private, no-store")?;
    for name in CDN_CACHE_HEADERS {
        headers.delete(name)?;
    }
    Ok(copy)
}
