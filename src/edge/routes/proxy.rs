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
use wasm_bindgen::closure::Closure;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use worker::web_sys;
use worker::worker_sys::ext::ResponseExt;

use super::socket;
use crate::auth::gate::Verdict;
use crate::auth::http::admission::Connection;
use crate::auth::http::forward::{identity_headers, is_reserved_header, Identity};
use crate::auth::http::request::{BearerCredential, RequestFacts};
use crate::edge::error::js_error;
use crate::edge::error::{EdgeError, EdgeResult};
use crate::edge::http::Reply;
use crate::edge::request::{upstream, HeaderEdits};
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
) -> EdgeResult<Reply> {
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
/// answer; as a WebSocket handshake when the request was admitted as one. When nothing is to be
/// done with the origin's answer (no cookies to add, no socket to relay), its `fetch` promise is
/// the reply, as it is.
async fn forward(
    incoming: &web_sys::Request,
    facts: &RequestFacts,
    connection: Connection,
    ctx: &Ctx<'_>,
    identity: Option<&Identity>,
    set_cookies: &[SetCookie],
) -> EdgeResult<Reply> {
    let read_only = matches!(facts.method.as_str(), "GET" | "HEAD");
    if read_only && facts.has_body {
        return Err(EdgeError::BadRequest(
            "a GET or HEAD request cannot carry a body".into(),
        ));
    }
    let mut edits = HeaderEdits {
        drop: facts
            .header_names
            .iter()
            .map(String::as_str)
            .filter(|name| is_dropped(name))
            .collect(),
        set: Vec::new(),
    };
    // A bearer token is the edge's credential, as the session cookies are: never the origin's.
    if facts.bearer.presented() {
        edits.drop.push("Authorization");
    }
    // So is a DPoP proof, with a token or without.
    if facts.dpop.is_some() {
        edits.drop.push("DPoP");
    }
    if connection == Connection::WebSocket {
        edits.set.push(("Upgrade", "websocket"));
    }
    if let Some(cookie) = facts.cookies.forward() {
        edits.set.push(("Cookie", cookie));
    }
    edits.set.push(("X-Forwarded-Host", &facts.host));
    edits.set.push(("X-Forwarded-Proto", &facts.scheme));
    if let Some(address) = &facts.client_ip {
        edits.set.push(("X-Forwarded-For", address));
    }
    let values = match identity {
        Some(identity) => identity_headers(identity).map_err(|err| {
            EdgeError::Internal(format!("the identity cannot be sent as headers: {err}"))
        })?,
        None => Vec::new(),
    };
    edits
        .set
        .extend(values.iter().map(|(name, value)| (*name, value.as_str())));
    let target = ctx
        .config
        .origin_target(&facts.path, facts.query.as_deref());
    let upstream = upstream(incoming, &target, &facts.method, facts.has_body, &edits)?;

    let global: web_sys::WorkerGlobalScope = js_sys::global().unchecked_into();
    let pending = global.fetch_with_request(&upstream);
    let relayed = identity.is_some() && connection == Connection::WebSocket;
    // With server nonces, every answer to a DPoP request names the one its next proof needs
    // (RFC 9449 §8.2), so that a client is not refused once a minute to learn it.
    let nonce = match (&facts.bearer, &ctx.config.dpop_nonces) {
        (BearerCredential::Proven(_), Some(nonces)) => Some(nonces.issue(ctx.now)),
        _ => None,
    };
    if set_cookies.is_empty() && nonce.is_none() && !relayed {
        return Ok(Reply::Origin(or_unreachable(&pending)));
    }
    let answer = JsFuture::from(pending)
        .await
        .map_err(|_| EdgeError::OriginUnreachable)?;
    let answer: web_sys::Response = answer.dyn_into().map_err(js_error("origin response"))?;
    let answer = match (identity, answer.websocket()) {
        (Some(identity), Some(origin)) => socket::relay(&answer, origin, identity, incoming, ctx)?,
        _ => answer,
    };
    if set_cookies.is_empty() && nonce.is_none() {
        return Ok(answer.into());
    }
    // A fetched response's headers are immutable: the runtime's constructor copies them (the
    // body stays a stream) so our cookies and nonce can be added.
    let copy = web_sys::Response::new_with_opt_readable_stream_and_init(
        answer.body().as_ref(),
        answer.unchecked_ref::<web_sys::ResponseInit>(),
    )
    .map_err(js_error("response copy"))?;
    let headers = worker::Headers(copy.headers());
    if let Some(nonce) = &nonce {
        headers.set("DPoP-Nonce", nonce)?;
    }
    if set_cookies.is_empty() {
        return Ok(copy.into());
    }
    for cookie in set_cookies {
        headers.append("Set-Cookie", cookie)?;
    }
    // Session cookies must never be stored by a shared cache and handed to someone else.
    headers.set("Cache-Control", "private, no-store")?;
    for name in CDN_CACHE_HEADERS {
        headers.delete(name)?;
    }
    Ok(copy.into())
}

#[wasm_bindgen]
extern "C" {
    /// A promise, seen through the `catch` that `js_sys` types with a handler returning nothing.
    type Catchable;
    /// `Promise.prototype.catch` with a handler whose value the promise then resolves to.
    #[wasm_bindgen(method, js_name = catch)]
    fn catch_with(this: &Catchable, handler: &js_sys::Function) -> js_sys::Promise;
}

thread_local! {
    /// The handler that answers a rejected origin `fetch` with the 502 error: made once per
    /// isolate, so a forwarded request creates no function of its own.
    static UNREACHABLE: js_sys::Function = Closure::<dyn FnMut(JsValue) -> JsValue>::new(|_| {
        match EdgeError::OriginUnreachable.render() {
            Ok(response) => web_sys::Response::from(response).into(),
            Err(err) => js_sys::Promise::reject(&JsValue::from(err)).into(),
        }
    })
    .into_js_value()
    .unchecked_into();
}

/// `pending`, answered with the 502 error if the origin does not answer.
fn or_unreachable(pending: &js_sys::Promise) -> js_sys::Promise {
    UNREACHABLE.with(|handler| pending.unchecked_ref::<Catchable>().catch_with(handler))
}
