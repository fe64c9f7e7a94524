//! The Workers shell: binds the pure core to the runtime.
//!
//! Everything here is I/O: reading the request, KV, the Durable Object, fetch to the origin,
//! static assets, logs. Every decision is made by [`crate::auth`]. Any failure on the way (bad
//! configuration, storage down, a runtime call that throws) ends in a JSON error response, never
//! in a request forwarded without identity.
//!
//! This file is the entry (`#[event(fetch)]`), what an isolate keeps between requests, and the
//! [`Ctx`] of one request. The rest, by concern:
//!
//! - [`routes`] - the router and the handlers, one file per route family
//! - [`bindings`] - every Workers binding, reached in one place, and the adapters behind the
//!   core's traits (routes use bindings, never the other way)
//! - [`answer`] - the one place a decision becomes a redirect, a page or JSON
//! - [`error`] - the one error type and its JSON renderer
//! - [`http`] - response helpers
//! - [`request`] - reads the request once

mod answer;
mod bindings;
mod error;
mod http;
mod request;
mod routes;

use std::cell::OnceCell;
use std::rc::Rc;

use std::task::Poll;

use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::future_to_promise;
use worker::{console_log, web_sys, Env, Url};

use crate::auth::audit::{AuditEvent, EventKind};
use crate::auth::config::{Config, ConfigError};
use crate::auth::env::{OsEntropy, UnixTime};
use crate::auth::gate::cache::IsolateCaches;
use crate::auth::gate::{poll_once, AuditSink, Background, Gate, Held};
use bindings::{Sessions, UsersKv, WebCryptoSignatureCheck, WebCryptoSigner};
use error::EdgeError;
use http::Reply;

/// What one isolate keeps between requests: the configuration, validated once, and the caches
/// sized by it.
struct Isolate {
    config: Config,
    caches: IsolateCaches,
}

thread_local! {
    static ISOLATE: OnceCell<Rc<std::result::Result<Isolate, ConfigError>>> = const { OnceCell::new() };
}

fn isolate(env: &Env) -> Rc<std::result::Result<Isolate, ConfigError>> {
    ISOLATE.with(|cell| {
        cell.get_or_init(|| {
            let lookup = |name: &str| bindings::setting(env, name);
            Rc::new(Config::from_lookup(&lookup).map(|config| Isolate {
                caches: IsolateCaches::new(config.caches),
                config,
            }))
        })
        .clone()
    })
}

fn now() -> UnixTime {
    i64::try_from(worker::Date::now().as_millis() / 1000).unwrap_or(i64::MAX)
}

/// Audit lines go to the console, one JSON object each (Workers Logs, `wrangler tail`),
/// stamped with the location that wrote them. The location is read from `request.cf` only when
/// a line is written: the runtime builds that object on first access, which costs more than
/// the rest of a cached request's decision.
struct ConsoleAudit {
    request: web_sys::Request,
    location: OnceCell<Option<String>>,
}

impl ConsoleAudit {
    pub fn new(request: &web_sys::Request) -> Self {
        Self {
            request: Clone::clone(request),
            location: OnceCell::new(),
        }
    }

    /// The platform's name for the location serving the request (its `colo`), if any.
    pub fn location(&self) -> Option<&str> {
        self.location
            .get_or_init(|| request::location(&self.request))
            .as_deref()
    }
}

impl AuditSink for ConsoleAudit {
    fn record(&self, event: AuditEvent) {
        let event = event.location(self.location());
        console_log!("{}", event.to_json());
    }
}

/// What one request needs: the validated configuration, the bindings, the isolate's caches and
/// the time.
struct Ctx<'a> {
    pub config: &'a Config,
    pub env: &'a Env,
    pub caches: &'a IsolateCaches,
    pub now: UnixTime,
    pub entropy: OsEntropy,
    pub store: Sessions,
    pub accounts: UsersKv<'a>,
    pub audit: ConsoleAudit,
    pub later: Later,
}

/// The work a request leaves for after its answer, handed to the runtime's `waitUntil`: each
/// piece runs with a context of its own (the isolate's caches, this request's bindings), once
/// the response is on its way. Without the runtime's context (work that is itself in the
/// background) nothing is scheduled.
struct Later {
    runtime: Option<Rc<worker::Context>>,
    request: web_sys::Request,
    env: Env,
}

impl Background for Later {
    fn recheck(&self, held: Held) {
        let Some(runtime) = &self.runtime else {
            return;
        };
        let (request, env) = (Clone::clone(&self.request), self.env.clone());
        runtime.wait_until(async move {
            let isolate = isolate(&env);
            if let Ok(isolate) = isolate.as_ref() {
                let ctx = Ctx::new(isolate, &env, &request, None);
                ctx.gate().recheck(&held).await;
            }
        });
    }
}

impl<'a> Ctx<'a> {
    /// The context of one request (or of background work, when `runtime` is `None`).
    fn new(
        isolate: &'a Isolate,
        env: &'a Env,
        request: &web_sys::Request,
        runtime: Option<Rc<worker::Context>>,
    ) -> Self {
        Ctx {
            config: &isolate.config,
            env,
            caches: &isolate.caches,
            now: now(),
            entropy: OsEntropy,
            store: Sessions::new(env, &isolate.config),
            accounts: UsersKv(env),
            audit: ConsoleAudit::new(request),
            later: Later {
                runtime,
                request: Clone::clone(request),
                env: env.clone(),
            },
        }
    }

    pub fn audit(&self, event: AuditEvent) {
        self.audit.record(event);
    }

    /// The core's decision procedure, bound to this request's storage and time.
    pub fn gate(&self) -> Gate<'_, Sessions, UsersKv<'_>, WebCryptoSigner> {
        Gate {
            config: self.config,
            store: &self.store,
            accounts: &self.accounts,
            signer: &WebCryptoSigner,
            proofs: &WebCryptoSignatureCheck,
            caches: self.caches,
            audit: &self.audit,
            background: &self.later,
            now: self.now,
            entropy: &self.entropy,
        }
    }
}

/// The entry. The runtime's request and response objects are taken and given as they are (see
/// `routes`).
///
/// Synchronous, for the steady state: the whole request is one future, polled once here. When
/// the isolate can decide from what it holds (a verified token, a fresh "not revoked", a live
/// assertion; a public path; no credentials at all), nothing in it waits, the first poll
/// finishes, and the runtime gets the origin's own `fetch` promise (or the answer made here)
/// with no promise of ours and no microtask in between. Anything that waits on I/O (a miss, a
/// refresh in place, a sign-in, a socket) goes on as the same future, handed to the runtime's
/// promise machinery. One decision procedure, two ways of running it.
#[wasm_bindgen(js_name = fetch)]
pub fn entry(req: web_sys::Request, env: Env, runtime: worker::worker_sys::Context) -> JsValue {
    let mut work = Box::pin(respond(req, env, Rc::new(worker::Context::new(runtime))));
    match poll_once(work.as_mut()) {
        Poll::Ready(reply) => reply,
        Poll::Pending => future_to_promise(async move { Ok(work.await) }).into(),
    }
}

/// The answer to `req`, whatever happens: every error becomes the JSON error contract.
async fn respond(req: web_sys::Request, env: Env, runtime: Rc<worker::Context>) -> JsValue {
    // `Clone::clone` copies the handle: the inherent `clone` would copy the request (and tee its
    // body).
    let result = match handle(Clone::clone(&req), &env, runtime).await {
        Ok(reply) => return reply.into(),
        Err(err) => err,
    };
    let kind = match result.cause() {
        EdgeError::Config(_) => Some(EventKind::ConfigInvalid),
        EdgeError::Unavailable(_) => Some(EventKind::StoreFailure),
        EdgeError::Internal(_) => Some(EventKind::InternalError),
        _ => None,
    };
    if let Some(kind) = kind {
        ConsoleAudit::new(&req).record(AuditEvent::new(kind, now()).detail(result.to_string()));
    }
    match result.render() {
        Ok(response) => web_sys::Response::from(response).into(),
        // The runtime could not build a response at all: it answers its own 500.
        Err(err) => js_sys::Promise::reject(&JsValue::from(err)).into(),
    }
}

async fn handle(
    req: web_sys::Request,
    env: &Env,
    runtime: Rc<worker::Context>,
) -> error::EdgeResult<Reply> {
    let isolate = isolate(env);
    let isolate = isolate
        .as_ref()
        .as_ref()
        .map_err(|err| EdgeError::Config(err.to_string()))?;
    let head = request::Head::of(&req)?;
    let url = Url::parse(&head.url)
        .map_err(|err| EdgeError::BadRequest(format!("the request URL does not parse: {err}")))?;
    let facts = request::read(&head, &url, &isolate.config);
    let ctx = Ctx::new(isolate, env, &req, Some(runtime));
    routes::route(req, &url, &facts, &ctx).await
}
