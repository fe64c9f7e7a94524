//! Reads the runtime's request into the core's [`RequestFacts`], once per request.

use worker::worker_sys::ext::RequestExt;
use worker::{web_sys, Url};

use crate::auth::config::Config;
use crate::auth::http::request::{RawRequest, RequestFacts};

/// The platform's name for the location serving `request` (its `colo`), if the platform says.
pub(super) fn location(request: &web_sys::Request) -> Option<String> {
    request.cf().and_then(|cf| cf.colo().ok())
}

/// The facts of `req` (whose URL the router has parsed already).
pub(super) fn read(inner: &web_sys::Request, url: &Url, config: &Config) -> RequestFacts {
    let headers = inner.headers();
    let header = |name: &str| headers.get(name).ok().flatten();
    // The method as sent (the `worker` crate's enum folds methods it does not know into GET).
    let method = inner.method();
    let own_origin = url.origin().ascii_serialization();
    // Every name, as the runtime hands them over: the core refuses a request with one that is
    // not a token before anything strips or forwards headers by name.
    let header_names: Vec<String> = worker::Headers(headers.clone()).keys().collect();
    RequestFacts::read(
        RawRequest {
            method: &method,
            scheme: url.scheme(),
            host: url.host_str().unwrap_or_default(),
            own_origin: &own_origin,
            path: url.path(),
            query: url.query(),
            header: &header,
            header_names: &header_names,
        },
        config.cookies.names(),
    )
}
