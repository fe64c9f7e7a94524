//! The Workers shell: binds the pure core to the runtime.
//!
//! Everything here is I/O: reading the request, KV, fetch to the origin, static assets, logs.
//! Every decision is made by [`crate::auth`]. Any failure on the way (bad configuration, storage
//! down, a value that cannot be a header) ends in an error response, never in a request
//! forwarded without identity.

mod authority;
mod credentials;
mod http;
mod kv_store;
mod login;
mod pages;
mod proxy;
mod rate;
mod routes;
mod session;
mod session_api;
mod sessions;
mod webcrypto;

use std::cell::OnceCell;
use std::rc::Rc;

use worker::{console_log, event, Context, Env, Request, Response, Result};

use crate::auth::audit::{AuditEvent, EventKind};
use crate::auth::config::{Config, ConfigError};
use crate::auth::env::{OsEntropy, UnixTime};

thread_local! {
    /// The configuration, validated once per isolate.
    static CONFIG: OnceCell<Rc<std::result::Result<Config, ConfigError>>> = const { OnceCell::new() };
}

fn config(env: &Env) -> Rc<std::result::Result<Config, ConfigError>> {
    CONFIG.with(|cell| {
        cell.get_or_init(|| {
            let lookup = |name: &str| {
                let value = env
                    .var(name)
                    .map(|value| value.to_string())
                    .or_else(|_| env.secret(name).map(|value| value.to_string()))
                    .ok();
                // The authority is the default wherever its binding exists.
                let authority_bound = || env.durable_object(authority::BINDING).is_ok();
                match value {
                    None if name == "SESSION_STORE" && authority_bound() => {
                        Some("authority".into())
                    }
                    value => value,
                }
            };
            Rc::new(Config::from_lookup(&lookup))
        })
        .clone()
    })
}

pub(crate) fn now() -> UnixTime {
    i64::try_from(worker::Date::now().as_millis() / 1000).unwrap_or(i64::MAX)
}

pub(crate) fn audit(event: AuditEvent) {
    console_log!("{}", event.to_json());
}

/// What one request needs: the validated configuration, the bindings and the time.
pub(crate) struct Ctx<'a> {
    pub config: &'a Config,
    pub env: &'a Env,
    pub now: UnixTime,
    pub entropy: OsEntropy,
}

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    let config = config(&env);
    let config = match config.as_ref() {
        Ok(config) => config,
        Err(err) => {
            audit(AuditEvent::new(EventKind::ConfigInvalid, now()).detail(err.to_string()));
            return http::error(
                500,
                "configuration_error",
                &format!("edgegate is misconfigured: {err}"),
            );
        }
    };
    let ctx = Ctx {
        config,
        env: &env,
        now: now(),
        entropy: OsEntropy,
    };
    routes::route(req, &ctx).await
}
