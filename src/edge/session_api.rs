//! The session endpoints: refresh, logout, and the user's view and control of their sessions.

use serde_json::json;
use worker::{Request, Response};

use super::error::{EdgeError, EdgeResult};
use super::oidc;
use super::pages::LOGIN_PATH;
use super::{http, Ctx};
use crate::auth::audit::{AuditEvent, EventKind};
use crate::auth::gate::{Held, Principal, Refusal, Resolution, Restored};
use crate::auth::http::redirect::Reason;
use crate::auth::http::request::RequestFacts;
use crate::auth::names::session_id::SessionId;
use crate::auth::pages::logout_everywhere_confirmed;
use crate::auth::session::store::SessionStore;

/// A refusal with the cookies it clears (see [`Refusal::clears_cookies`]).
fn refused(facts: &RequestFacts, ctx: &Ctx<'_>, refusal: Refusal) -> EdgeError {
    let set_cookies = ctx.gate().refusal_cookies(facts, &refusal);
    EdgeError::Refused(refusal).with_cookies(set_cookies)
}

/// A refusal with the session cookies cleared whatever the reason: they are absent or useless.
fn refused_clearing(facts: &RequestFacts, ctx: &Ctx<'_>, refusal: Refusal) -> EdgeError {
    EdgeError::Refused(refusal).with_cookies(ctx.gate().clearing_cookies(facts))
}

/// Runs `handler` with the request's session, refreshing in place; 401 without one. The cookies
/// of a refresh in place go with the handler's answer, a failure too: the old refresh token is
/// spent, and without the new one the client's next refresh would be a reuse.
pub(super) async fn with_session<'c, F, Fut>(
    facts: &'c RequestFacts,
    ctx: &'c Ctx<'c>,
    handler: F,
) -> EdgeResult
where
    F: FnOnce(&'c RequestFacts, &'c Ctx<'c>, Principal) -> Fut,
    Fut: std::future::Future<Output = EdgeResult>,
{
    match ctx.gate().resolve(facts).await {
        Resolution::Session {
            principal,
            set_cookies,
        } => {
            let mut response = handler(facts, ctx, principal)
                .await
                .map_err(|err| err.with_cookies(set_cookies.clone()))?;
            http::add_cookies(&mut response, &set_cookies)?;
            Ok(response)
        }
        Resolution::Refused(refusal) => Err(refused(facts, ctx, refusal)),
    }
}

fn session_json(principal: &Principal, expires_at: i64) -> serde_json::Value {
    json!({
        "user": { "id": principal.user, "roles": principal.roles },
        "session": { "id": principal.session, "expires_at": expires_at },
    })
}

pub(super) async fn refresh(facts: &RequestFacts, ctx: &Ctx<'_>) -> EdgeResult {
    let gate = ctx.gate();
    // A bearer client refreshes at `/auth/token`; here it only learns its session, as does a
    // browser holding a valid access token alone.
    let Some(presented) = facts
        .cookies
        .refresh()
        .filter(|_| !facts.bearer.presented())
    else {
        return match gate.resolve(facts).await {
            Resolution::Session { principal, .. } => Ok(http::json(
                &session_json(&principal, principal.access_expires_at),
                200,
            )?),
            Resolution::Refused(refusal) if facts.bearer.presented() => {
                Err(refused(facts, ctx, refusal))
            }
            Resolution::Refused(_) => Err(refused_clearing(facts, ctx, Refusal::NoSession)),
        };
    };
    match gate.refresh(&presented, facts).await {
        Restored::Session { record, tokens } => {
            let mut response = http::json(
                &json!({ "session": { "id": record.id, "expires_at": record.expires_at() } }),
                200,
            )?;
            http::add_cookies(&mut response, &gate.session_cookies(&tokens)?)?;
            Ok(response)
        }
        Restored::Refused(refusal) => Err(refused(facts, ctx, refusal)),
    }
}

pub(super) async fn logout(mut req: Request, facts: &RequestFacts, ctx: &Ctx<'_>) -> EdgeResult {
    let gate = ctx.gate();
    // The account page's form, its confirmation box checked: every session of the user ends.
    let everywhere = logout_everywhere_confirmed(&req.bytes().await.unwrap_or_default());
    let mut reason = Reason::LoggedOut;
    let mut provider_logout = None;
    if let Some(held) = gate.held_session(facts).await? {
        if everywhere {
            gate.end_all(&held.user).await?;
            ctx.audit(AuditEvent::new(EventKind::RevokeAll, ctx.now).user(&held.user));
            reason = Reason::LoggedOutEverywhere;
        } else {
            gate.end_session(&held).await?;
            ctx.audit(AuditEvent::new(EventKind::Logout, ctx.now).session(held.id.as_str()));
        }
        // Ended here first: a provider that cannot be reached leaves its own session, not ours.
        if !facts.accepts_json {
            provider_logout = oidc::provider_logout(&req, ctx, &held.user)
                .await
                .unwrap_or_else(|err| {
                    ctx.audit(
                        AuditEvent::new(EventKind::StoreFailure, ctx.now)
                            .detail(format!("provider logout: {err}")),
                    );
                    None
                });
        }
    }
    let mut response = if facts.accepts_json {
        http::json(&json!({ "ok": true }), 200)?
    } else if let Some(page) = provider_logout {
        page
    } else {
        http::redirect(&format!("{LOGIN_PATH}?reason={}", reason.code()), 303)?
    };
    // None for a bearer client's logout: it ends that session alone, not the browser cookies it
    // may carry, so neither are they cleared nor the site's data.
    let clearing = gate.clearing_cookies(facts);
    if !clearing.is_empty() {
        http::add_cookies(&mut response, &clearing)?;
        response
            .headers_mut()
            .set("Clear-Site-Data", "\"cookies\"")?;
    }
    Ok(response)
}

pub(super) async fn current_session(
    _facts: &RequestFacts,
    ctx: &Ctx<'_>,
    principal: Principal,
) -> EdgeResult {
    let record = ctx.store.session(&principal.session, ctx.now).await?;
    // A session created moments ago at another location may not have reached this one's KV
    // yet: the token's own facts stand in until it does.
    let (created_at, expires_at) = record
        .map(|record| (Some(record.created_at), record.expires_at()))
        .unwrap_or((None, principal.access_expires_at));
    Ok(http::json(
        &json!({
            "user": { "id": principal.user, "roles": principal.roles },
            "session": {
                "id": principal.session,
                "created_at": created_at,
                "expires_at": expires_at,
                "access_expires_at": principal.access_expires_at,
            },
        }),
        200,
    )?)
}

pub(super) async fn list_sessions(
    _facts: &RequestFacts,
    ctx: &Ctx<'_>,
    principal: Principal,
) -> EdgeResult {
    let records = ctx.store.sessions_of(&principal.user, ctx.now).await?;
    let sessions: Vec<_> = records
        .iter()
        .map(|record| {
            json!({
                "id": record.id,
                "created_at": record.created_at,
                "last_seen_at": record.last_seen_at,
                "expires_at": record.expires_at(),
                "device": record.user_agent,
                "place": record.signed_in_from.as_ref().and_then(|from| from.place.as_ref()),
                "address": record.signed_in_from.as_ref().and_then(|from| from.address.as_ref()),
                "idle_timeout": record.idle_timeout,
                "absolute_expires_at": record.absolute_expires_at,
                "current": record.id == principal.session,
            })
        })
        .collect();
    Ok(http::json(&json!({ "sessions": sessions }), 200)?)
}

pub(super) async fn revoke_one(
    facts: &RequestFacts,
    ctx: &Ctx<'_>,
    principal: Principal,
) -> EdgeResult {
    let not_found = || EdgeError::NotFound("no such session");
    let id = facts
        .path
        .strip_prefix("/auth/sessions/")
        .and_then(SessionId::parse)
        .ok_or_else(not_found)?;
    // The store ends it only if it is one of this user's live sessions.
    let held = Held {
        id: id.clone(),
        user: principal.user.clone(),
    };
    ctx.gate().end_session(&held).await?.ok_or_else(not_found)?;
    ctx.audit(
        AuditEvent::new(EventKind::Revoke, ctx.now)
            .user(&principal.user)
            .session(id.as_str()),
    );
    Ok(http::json(&json!({ "ok": true }), 200)?)
}

pub(super) async fn revoke_all(
    facts: &RequestFacts,
    ctx: &Ctx<'_>,
    principal: Principal,
) -> EdgeResult {
    let gate = ctx.gate();
    gate.end_all(&principal.user).await?;
    ctx.audit(AuditEvent::new(EventKind::RevokeAll, ctx.now).user(&principal.user));
    let mut response: Response = http::json(&json!({ "ok": true }), 200)?;
    http::add_cookies(&mut response, &gate.clearing_cookies(facts))?;
    Ok(response)
}
