//! Password checks for the two credential backends.
//!
//! `kv`: user records in the `USERS` namespace, PBKDF2-HMAC-SHA256 derived by the platform's
//! WebCrypto. Workers caps PBKDF2 at 100,000 iterations, which is therefore what records use
//! (OWASP asks 600,000 for this hash; the cap, and the CPU time limit of a request, are why a
//! memory-hard function is not available here).
//!
//! Response time does not reveal which accounts exist: a name without a record reads `USERS`
//! once, as a known name does, and its check then runs the same code on a decoy record
//! (`DECOY_RECORD`): the same JSON parse, the same record parse, a derivation with the same
//! iteration count and salt length, the same constant-time comparison. A record made with fewer
//! iterations than a new one derives the difference besides, so every check costs
//! `PBKDF2_ITERATIONS` (tests/e2e/signin-timing.test.mjs measures both paths).
//!
//! `origin`: the credentials are POSTed to the origin's verification URL with a shared secret;
//! its 200 answer names the user and roles. The name must already be a valid username as it would
//! be stored (see `Username`) and every role a valid role name (see `Role`); any other answer
//! fails the login as unavailable. So does a `kv` record naming an invalid role: a role that
//! could not be forwarded is refused at sign-in, never on a later request.

use crate::auth::names::role::Role;
use crate::auth::names::username::Username;
use serde::Deserialize;
use wasm_bindgen::JsValue;
use worker::{Env, Fetch, Headers, Method, Request, RequestInit};

use super::webcrypto;

use crate::auth::accounts::password::{user_key, PasswordHash, UserRecord, DECOY_RECORD};
use crate::auth::config::{Config, Credentials};
use crate::auth::gate::passkey::Account;
use crate::auth::gate::signin::PasswordVerdict;
use crate::auth::secret::{OriginSecret, Password};

/// The backend could not answer.
#[derive(Debug)]
pub(super) struct Unavailable(pub(super) String);

/// PBKDF2-HMAC-SHA256 through WebCrypto.
async fn pbkdf2(password: &str, salt: &[u8], iterations: u32) -> Result<Vec<u8>, Unavailable> {
    webcrypto::pbkdf2_sha256(password, salt, iterations)
        .await
        .map_err(Unavailable)
}

/// The stored text of `username`'s record, if there is one: the one read of `USERS`.
async fn stored_record(env: &Env, username: &Username) -> Result<Option<String>, Unavailable> {
    let users = super::users_kv(env).map_err(|err| Unavailable(err.to_string()))?;
    let Some(key) = user_key(username) else {
        return Ok(None);
    };
    users
        .get(&key)
        .text()
        .await
        .map_err(|err| Unavailable(err.to_string()))
}

fn parse_record(username: &Username, text: &str) -> Result<UserRecord, Unavailable> {
    serde_json::from_slice(text.as_bytes())
        .map_err(|err| Unavailable(format!("user record of {username}: {err}")))
}

/// The stored record of `username`, if there is one.
async fn user_record(env: &Env, username: &Username) -> Result<Option<UserRecord>, Unavailable> {
    stored_record(env, username)
        .await?
        .map(|text| parse_record(username, &text))
        .transpose()
}

/// Whether `password` is the one `hash` was made from, at the cost of [`PBKDF2_ITERATIONS`]
/// whatever the record's own count (its padding derived besides).
///
/// [`PBKDF2_ITERATIONS`]: crate::auth::accounts::password::PBKDF2_ITERATIONS
async fn password_matches(hash: &PasswordHash, password: &Password) -> Result<bool, Unavailable> {
    let derived = pbkdf2(password.expose(), hash.salt(), hash.iterations()).await?;
    let padding = hash.padding_iterations();
    if padding > 0 {
        pbkdf2(password.expose(), hash.salt(), padding).await?;
    }
    Ok(hash.matches(&derived))
}

async fn verify_kv(
    env: &Env,
    username: &Username,
    password: &Password,
) -> Result<PasswordVerdict, Unavailable> {
    // One path for all: a name without a record, or a passkey-only user, is checked against the
    // decoy's hash, then refused.
    let stored = stored_record(env, username).await?;
    let known = stored.is_some();
    let record = parse_record(username, stored.as_deref().unwrap_or(DECOY_RECORD))?;
    let unusable = |err| Unavailable(format!("user record: {err}"));
    let (hash, has_password) = match record.password_hash().map_err(unusable)? {
        Some(hash) => (hash, true),
        None => {
            let decoy = parse_record(username, DECOY_RECORD)?;
            let hash = decoy.password_hash().map_err(unusable)?;
            (
                hash.ok_or_else(|| Unavailable("the decoy record has no hash".into()))?,
                false,
            )
        }
    };
    if !password_matches(&hash, password).await? || !known || !has_password {
        return Ok(PasswordVerdict::Invalid);
    }
    Ok(if record.disabled {
        PasswordVerdict::Disabled {
            user: username.clone(),
        }
    } else {
        PasswordVerdict::Valid {
            user: username.clone(),
            roles: record.roles,
        }
    })
}

#[derive(Deserialize)]
struct OriginAnswer {
    user: Username,
    #[serde(default)]
    roles: Vec<Role>,
}

async fn verify_origin(
    url: &str,
    secret: &OriginSecret,
    username: &Username,
    password: &Password,
) -> Result<PasswordVerdict, Unavailable> {
    let body =
        serde_json::json!({ "username": username, "password": password.expose() }).to_string();
    let headers = Headers::new();
    let set = |name: &str, value: &str| {
        headers
            .set(name, value)
            .map_err(|err| Unavailable(err.to_string()))
    };
    set("Content-Type", "application/json")?;
    set("Authorization", &format!("Bearer {}", secret.expose()))?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_headers(headers)
        .with_body(Some(JsValue::from_str(&body)));
    let request = Request::new_with_init(url, &init).map_err(|err| Unavailable(err.to_string()))?;
    let mut response = Fetch::Request(request)
        .send()
        .await
        .map_err(|err| Unavailable(err.to_string()))?;
    match response.status_code() {
        200 => {
            let body = response
                .bytes()
                .await
                .map_err(|err| Unavailable(format!("verification answer: {err}")))?;
            let answer: OriginAnswer = serde_json::from_slice(&body)
                .map_err(|err| Unavailable(format!("verification answer: {err}")))?;
            Ok(PasswordVerdict::Valid {
                user: answer.user,
                roles: answer.roles,
            })
        }
        401 | 403 => Ok(PasswordVerdict::Invalid),
        423 => Ok(PasswordVerdict::Disabled {
            user: username.clone(),
        }),
        status => Err(Unavailable(format!(
            "verification endpoint answered {status}"
        ))),
    }
}

/// Checks a normalised username and password with the configured backend.
pub(super) async fn verify(
    config: &Config,
    env: &Env,
    username: &Username,
    password: &Password,
) -> Result<PasswordVerdict, Unavailable> {
    match &config.credentials {
        Credentials::Kv => verify_kv(env, username, password).await,
        Credentials::Origin { url, secret } => verify_origin(url, secret, username, password).await,
    }
}

/// Whether a `kv` user is still allowed in (checked on refresh, so disabling ends sessions).
pub(super) async fn still_enabled(env: &Env, username: &Username) -> Result<bool, Unavailable> {
    Ok(user_record(env, username)
        .await?
        .is_some_and(|record| !record.disabled))
}

/// A `kv` user's account as a passkey ceremony needs it: roles, disabled, whether a password
/// is set, its id; `None` without a record.
pub(super) async fn account(
    env: &Env,
    username: &Username,
) -> Result<Option<Account>, Unavailable> {
    Ok(user_record(env, username).await?.map(|record| Account {
        has_password: record.password.is_some(),
        roles: record.roles,
        disabled: record.disabled,
        id: record.account,
    }))
}
