//! The passkey endpoints. A signed-in user's: `GET /auth/passkeys` (the list),
//! `POST /auth/passkeys/register/options` and `POST /auth/passkeys/register` (a registration,
//! begun and finished), `DELETE /auth/passkeys/<id>`. Anyone's: `POST
//! /auth/passkeys/sign-in/options` and `POST /auth/passkeys/sign-in`. Every decision is the
//! core's ([`crate::auth::gate::passkey`]); this file reads bodies and writes answers.

use serde::Serialize;
use serde_json::{json, Value};
use worker::Request;

use super::login::{signed_in, FailureFloor};
use super::pages::login_origin;
use super::sessions::with_session;
use crate::auth::accounts::passkey::authenticator_data::public_alg;
use crate::auth::accounts::passkey::registry::StoredPasskey;
use crate::auth::accounts::passkey::CredentialId;
use crate::auth::gate::passkey::{PasskeyFailure, PasskeyPorts};
use crate::auth::gate::signin::{Delivery, Opened, Opening, SignInRefusal};
use crate::auth::gate::Principal;
use crate::auth::http::answers::SessionAnswer;
use crate::auth::http::redirect::safe_next;
use crate::auth::http::request::RequestFacts;
use crate::auth::http::signin::LoginFormat;
use crate::auth::session::store::StoreError;
use crate::auth::token::public_keys::PublicAlg;
use crate::edge::bindings::{AuthorityPasskeys, Counters};
use crate::edge::error::{EdgeError, EdgeResult};
use crate::edge::{answer, http, Ctx};

/// Where the passkey endpoints live.
pub(super) const PASSKEYS_PATH: &str = "/auth/passkeys";
/// The longest request body read, in bytes: a credential's JSON is a few kilobytes at most.
const MAX_BODY: usize = 16 * 1024;

/// A passkey as its owner sees it.
#[derive(Serialize)]
pub(super) struct PasskeyView<'a> {
    id: String,
    name: &'a str,
    algorithm: &'static str,
    created_at: i64,
    last_used_at: Option<i64>,
    /// Whether the passkey is synced to the owner's other devices (BS); else it is on one
    /// device only.
    synced: bool,
    /// Whether it may be synced (BE).
    backup_eligible: bool,
}

impl<'a> From<&'a StoredPasskey> for PasskeyView<'a> {
    fn from(passkey: &'a StoredPasskey) -> Self {
        Self {
            id: passkey.id.encoded(),
            name: &passkey.name,
            algorithm: public_alg(passkey.cose_alg).map_or("unknown", PublicAlg::name),
            created_at: passkey.created_at,
            last_used_at: passkey.last_used_at,
            synced: passkey.backed_up,
            backup_eligible: passkey.backup_eligible,
        }
    }
}

/// The body as a JSON object, within [`MAX_BODY`]. Its members are read from the value rather
/// than into derived structs: the JSON value reader is in the module anyway.
async fn read_body(req: &mut Request) -> EdgeResult<Value> {
    let body = req.bytes().await?;
    if body.len() > MAX_BODY {
        return Err(EdgeError::BadRequest("the body is too large".into()));
    }
    match serde_json::from_slice(&body) {
        Ok(body @ Value::Object(_)) => Ok(body),
        Ok(_) => Err(EdgeError::BadRequest("body: not a JSON object".into())),
        Err(err) => Err(EdgeError::BadRequest(format!("body: {err}"))),
    }
}

/// The body's member `key`, which it must have.
fn member<'a>(body: &'a Value, key: &str) -> EdgeResult<&'a Value> {
    body.get(key)
        .ok_or_else(|| EdgeError::BadRequest(format!("body: missing field `{key}`")))
}

/// The answer to a failed passkey step.
fn failure(failure: PasskeyFailure) -> EdgeResult {
    let (status, code, message) = match failure {
        PasskeyFailure::Unavailable => (
            404,
            "not_found",
            "passkeys are not available here".to_owned(),
        ),
        PasskeyFailure::NotRecent => (
            403,
            "reauthenticate",
            "sign in again to add or remove passkeys".to_owned(),
        ),
        PasskeyFailure::BrowserOnly => (
            403,
            "browser_only",
            "passkeys are added and removed on the account page, not with a token".to_owned(),
        ),
        PasskeyFailure::Refused(refusal) => (400, refusal.reason(), refusal.to_string()),
        PasskeyFailure::Name => (
            400,
            "bad_name",
            "a passkey's name is 1 to 64 characters, without control characters".to_owned(),
        ),
        PasskeyFailure::NotFound => (404, "not_found", "no such passkey".to_owned()),
        PasskeyFailure::LastPasskey => (
            409,
            "last_passkey",
            "this is the only way this account can sign in: add another passkey first".to_owned(),
        ),
        PasskeyFailure::Store(err) => return Err(err.into()),
        PasskeyFailure::Entropy(err) => return Err(EdgeError::Internal(err.to_string())),
    };
    Ok(http::error(status, code, &message)?)
}

/// `GET /auth/passkeys`: the user's passkeys, until when this session may change them, and
/// whether the user can have any (`available`: not for a user of an identity provider).
pub(super) async fn list(facts: &RequestFacts, ctx: &Ctx<'_>) -> EdgeResult {
    with_session(facts, ctx, |_, ctx, principal| async move {
        let gate = ctx.gate();
        let vault = AuthorityPasskeys(ctx.env);
        let passkeys = match gate.passkeys_of(&principal.user, (&vault, &vault)).await {
            Ok(passkeys) => passkeys,
            // A provider's user has none here: the account page then shows no passkey section.
            Err(PasskeyFailure::Unavailable) if principal.user.is_federated() => {
                return Ok(http::json(
                    &json!({ "passkeys": [], "manage_until": null, "available": false }),
                    200,
                )?)
            }
            Err(err) => return failure(err),
        };
        let views: Vec<PasskeyView<'_>> = passkeys.iter().map(PasskeyView::from).collect();
        let manage_until = gate.passkey_manage_until(&principal).await.map_err(store)?;
        Ok(http::json(
            &json!({ "passkeys": views, "manage_until": manage_until, "available": true }),
            200,
        )?)
    })
    .await
}

fn store(err: StoreError) -> EdgeError {
    err.into()
}

/// `POST /auth/passkeys/register/options`: begins a registration.
pub(super) async fn register_options(facts: &RequestFacts, ctx: &Ctx<'_>) -> EdgeResult {
    with_session(facts, ctx, |facts, ctx, principal| async move {
        let vault = AuthorityPasskeys(ctx.env);
        match ctx
            .gate()
            .begin_passkey_registration(facts, &principal, (&vault, &vault))
            .await
        {
            Ok(options) => Ok(http::json(&json!({ "publicKey": options }), 200)?),
            Err(err) => failure(err),
        }
    })
    .await
}

/// `POST /auth/passkeys/register`: finishes one, `{"name": …, "credential": …}`.
pub(super) async fn register(mut req: Request, facts: &RequestFacts, ctx: &Ctx<'_>) -> EdgeResult {
    let body = read_body(&mut req).await?;
    let name = member(&body, "name")?
        .as_str()
        .ok_or_else(|| EdgeError::BadRequest("body: `name` is not a string".into()))?;
    let credential = member(&body, "credential")?;
    with_session(facts, ctx, |facts, ctx, principal: Principal| async move {
        let vault = AuthorityPasskeys(ctx.env);
        let credential =
            serde_json::to_vec(credential).map_err(|err| EdgeError::Internal(err.to_string()))?;
        match ctx
            .gate()
            .finish_passkey_registration(facts, &principal, (&vault, &vault), name, &credential)
            .await
        {
            Ok(passkey) => Ok(http::json(
                &json!({ "passkey": PasskeyView::from(&passkey) }),
                201,
            )?),
            Err(err) => failure(err),
        }
    })
    .await
}

/// `DELETE /auth/passkeys/<id>`: removes one of the user's passkeys.
pub(super) async fn remove(facts: &RequestFacts, ctx: &Ctx<'_>) -> EdgeResult {
    let id = facts
        .path
        .strip_prefix(PASSKEYS_PATH)
        .and_then(|rest| rest.strip_prefix('/'))
        .and_then(CredentialId::parse);
    with_session(facts, ctx, |facts, ctx, principal| async move {
        let Some(id) = id else {
            return failure(PasskeyFailure::NotFound);
        };
        let vault = AuthorityPasskeys(ctx.env);
        match ctx
            .gate()
            .remove_own_passkey(facts, &principal, &id, (&vault, &vault))
            .await
        {
            Ok(passkey) => Ok(http::json(
                &json!({ "removed": passkey.id.encoded() }),
                200,
            )?),
            Err(err) => failure(err),
        }
    })
    .await
}

/// `POST /auth/passkeys/sign-in/options`: a fresh challenge for a sign-in without a username.
pub(super) fn sign_in_options(ctx: &Ctx<'_>) -> EdgeResult {
    match ctx.gate().passkey_sign_in_options() {
        Ok(options) => {
            let mut response = http::json(&json!({ "publicKey": options }), 200)?;
            response.headers_mut().set("Cache-Control", "no-store")?;
            Ok(response)
        }
        Err(err) => failure(err),
    }
}

/// `POST /auth/passkeys/sign-in`: `{"credential": …, "next": …}`; the session's cookies and
/// where to go, or the one refusal every failed sign-in gets (after the failure floor).
pub(super) async fn sign_in(mut req: Request, facts: &RequestFacts, ctx: &Ctx<'_>) -> EdgeResult {
    let floor = FailureFloor::start(ctx)?;
    let body = read_body(&mut req).await?;
    let next = match body.get("next") {
        None | Some(Value::Null) => None,
        Some(Value::String(next)) => Some(next.as_str()),
        Some(_) => return Err(EdgeError::BadRequest("body: `next` is not a string".into())),
    };
    let next = safe_next(next);
    let credential = serde_json::to_vec(member(&body, "credential")?)
        .map_err(|err| EdgeError::Internal(err.to_string()))?;
    let vault = AuthorityPasskeys(ctx.env);
    let ports = PasskeyPorts {
        vault: &vault,
        directory: &vault,
        throttle: &Counters(ctx),
    };
    let opening = Opening {
        delivery: Delivery::Cookies,
        signed_in_from: login_origin(&req, facts, ctx),
        provider_session: None,
        key: None,
    };
    let outcome = ctx
        .gate()
        .sign_in_with_passkey(facts, &credential, ports, opening)
        .await?;
    floor.hold(&outcome).await?;
    let Opened { record, tokens } = match outcome {
        Ok(opened) => opened,
        Err(SignInRefusal::InvalidCredentials) => {
            return Ok(http::error(
                401,
                "passkey_refused",
                "the passkey was not accepted",
            )?)
        }
        Err(refusal) => {
            return Ok(answer::sign_in_refused(
                refusal,
                LoginFormat::Json,
                &next,
                "",
            )?)
        }
    };
    let mut response = http::json(
        &json!({ "redirect": next, "signed_in": SessionAnswer::signed_in(&record) }),
        200,
    )?;
    signed_in(&mut response, facts, &record, &tokens, ctx)?;
    Ok(response)
}
