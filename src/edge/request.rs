//! Reads the runtime's request into the core's [`RequestFacts`], once per request, in one
//! crossing of the wasm boundary; and builds the origin's request in one more.
//!
//! Reading every fact of a request one header at a time would cross the boundary a dozen times
//! or more, and editing the forwarded request's headers as many again. So a few lines of
//! JavaScript move the data, one call each way: the request line and every header out as one
//! JSON text, the edits of the forwarded request's headers in as another. What is read, and
//! what is dropped or set, is decided here and in `routes::proxy`.

use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::JsValue;
use worker::worker_sys::ext::RequestExt;
use worker::{web_sys, Url};

use crate::auth::config::Config;
use crate::auth::http::request::{RawRequest, RequestFacts};
use crate::edge::error::{js_error, EdgeError, EdgeResult};

#[wasm_bindgen(inline_js = r#"
/** Method, URL, whether a body is attached, and every header (lower-case names, as the runtime
 * lists them), as one JSON text. */
export function requestHead(request) {
  return JSON.stringify([request.method, request.url, request.body !== null, [...request.headers]]);
}

/** The request for the origin: `incoming` rebuilt for `target` by the runtime's own constructor
 * (method, headers and streamed body as sent; redirects handed back, not followed), then
 * `edits`, a JSON text `[names to delete, [name, value] pairs to set]`, applied. */
export function upstreamRequest(incoming, target, method, withBody, edits) {
  const init = { method, headers: incoming.headers, redirect: "manual" };
  if (withBody) init.body = incoming.body;
  const request = new Request(target, init);
  const [drop, set] = JSON.parse(edits);
  const headers = request.headers;
  for (const name of drop) headers.delete(name);
  for (const [name, value] of set) headers.set(name, value);
  return request;
}
"#)]
extern "C" {
    #[wasm_bindgen(js_name = requestHead, catch)]
    fn request_head(request: &web_sys::Request) -> Result<String, JsValue>;

    #[wasm_bindgen(js_name = upstreamRequest, catch)]
    fn upstream_request(
        incoming: &web_sys::Request,
        target: &str,
        method: &str,
        with_body: bool,
        edits: &str,
    ) -> Result<web_sys::Request, JsValue>;
}

/// The request line and headers, as the runtime hands them over.
pub(super) struct Head {
    /// The method as sent (the `worker` crate's enum folds methods it does not know into GET).
    pub method: String,
    /// The URL, as the runtime serialized it.
    pub url: String,
    /// Whether a body is attached.
    pub has_body: bool,
    /// Every header: lower-case name and value (repeated headers joined by the runtime).
    headers: Vec<(String, String)>,
}

impl Head {
    /// Reads `request`'s head in one call.
    pub(super) fn of(request: &web_sys::Request) -> EdgeResult<Self> {
        let text = request_head(request).map_err(js_error("request head"))?;
        let (method, url, has_body, headers) = serde_json::from_slice(text.as_bytes())
            .map_err(|err| EdgeError::Internal(format!("request head: {err}")))?;
        Ok(Self {
            method,
            url,
            has_body,
            headers,
        })
    }

    /// The value of header `name` (any case), if present.
    fn header(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .find(|(candidate, _)| candidate.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.clone())
    }
}

/// The platform's name for the location serving `request` (its `colo`), if the platform says.
pub(super) fn location(request: &web_sys::Request) -> Option<String> {
    request.cf().and_then(|cf| cf.colo().ok())
}

/// The facts of a request whose head is `head` (and whose URL the router has parsed already).
pub(super) fn read(head: &Head, url: &Url, config: &Config) -> RequestFacts {
    let own_origin = url.origin().ascii_serialization();
    // Every name, as the runtime hands them over: the core refuses a request with one that is
    // not a token before anything strips or forwards headers by name.
    let header_names: Vec<String> = head.headers.iter().map(|(name, _)| name.clone()).collect();
    RequestFacts::read(
        RawRequest {
            method: &head.method,
            scheme: url.scheme(),
            host: url.host_str().unwrap_or_default(),
            own_origin: &own_origin,
            path: url.path(),
            query: url.query(),
            header: &|name| head.header(name),
            header_names: &header_names,
            has_body: head.has_body,
        },
        config.cookies.names(),
    )
}

/// What changes in the headers of the request for the origin: names deleted, then values set.
pub(super) struct HeaderEdits<'a> {
    /// Deleted first.
    pub drop: Vec<&'a str>,
    /// Set after.
    pub set: Vec<(&'a str, &'a str)>,
}

/// `incoming` rebuilt for `target` (with its body when `with_body`), `edits` applied.
pub(super) fn upstream(
    incoming: &web_sys::Request,
    target: &str,
    method: &str,
    with_body: bool,
    edits: &HeaderEdits<'_>,
) -> EdgeResult<web_sys::Request> {
    let edits = serde_json::to_string(&(&edits.drop, &edits.set))
        .map_err(|err| EdgeError::Internal(format!("header edits: {err}")))?;
    upstream_request(incoming, target, method, with_body, &edits)
        .map_err(js_error("upstream request"))
}
