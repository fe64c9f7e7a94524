//! The Workers bindings, each reached in one place and typed: the `SESSIONS` and `USERS` KV
//! namespaces, the `AUTHORITY` Durable Object, the `ASSETS` fetcher, the variables and secrets,
//! and the adapters that put the core's traits on top of them.
//!
//! Why a folder: a binding named by a string in a handler is a typo the compiler cannot see and a
//! place to forget when wrangler.toml changes. Here each name is written once, next to the
//! function that opens it; the handlers (`super::routes`) use these adapters, and nothing here
//! uses a handler.
//!
//! - [`store`] - the bindings behind the core's traits (session store in force, `USERS` account
//!   check, password check, WebCrypto signing, logout-token replay marks)
//! - [`kv_store`] - the Workers KV session store
//! - [`authority`] - the `SessionAuthority` Durable Object and its client
//! - [`credentials`] - `USERS` records and the origin password check
//! - [`passkeys`] - users' passkeys in their authorities, and the user-handle index
//! - [`rate`] - login failure counters
//! - [`webcrypto`] - PBKDF2, Ed25519 signing and provider-token signatures by the platform

mod authority;
mod credentials;
mod kv_store;
mod passkeys;
mod rate;
mod store;
mod webcrypto;

use worker::kv::KvStore;
use worker::{Env, Fetcher, ObjectNamespace};

pub(super) use passkeys::AuthorityPasskeys;
pub(super) use rate::Counters;
pub(super) use store::{ConfiguredPasswords, KvMarks, Sessions, UsersKv, WebCryptoSigner};
pub(super) use webcrypto::WebCryptoSignatureCheck;

/// The KV namespace of sessions, revocation marks, login counters and logout-token marks.
const SESSIONS: &str = "SESSIONS";
/// The KV namespace of user records (`CREDENTIALS = kv`).
const USERS: &str = "USERS";
/// The session authority's Durable Object namespace (class `SessionAuthority`).
const AUTHORITY: &str = "AUTHORITY";
/// The static files of `www/`.
const ASSETS: &str = "ASSETS";

/// The `SESSIONS` namespace.
fn sessions_kv(env: &Env) -> worker::Result<KvStore> {
    env.kv(SESSIONS)
}

/// The `USERS` namespace.
fn users_kv(env: &Env) -> worker::Result<KvStore> {
    env.kv(USERS)
}

/// The `AUTHORITY` Durable Object namespace.
fn authority(env: &Env) -> worker::Result<ObjectNamespace> {
    env.durable_object(AUTHORITY)
}

/// The `ASSETS` fetcher.
pub(super) fn assets(env: &Env) -> worker::Result<Fetcher> {
    env.assets(ASSETS)
}

/// The configuration value `name`: a variable, else a secret. `SESSION_STORE` left unset means
/// the authority wherever its binding exists.
pub(super) fn setting(env: &Env, name: &str) -> Option<String> {
    let value = env
        .var(name)
        .map(|value| value.to_string())
        .or_else(|_| env.secret(name).map(|value| value.to_string()))
        .ok();
    match value {
        None if name == "SESSION_STORE" && authority(env).is_ok() => Some("authority".into()),
        value => value,
    }
}
