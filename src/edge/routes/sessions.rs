//! The session endpoints: refresh, logout, and the user's view and control of their sessions.

use crate::auth::http::cookie::clear_device;
use worker::{Request, Response};

use super::oidc;
use super::pages::LOGIN_PATH;
use crate::auth::audit::{AuditEvent, EventKind};
use crate::auth::gate::{Held, Principal, Refusal, Resolution, Restored};
use crate::auth::http::answers::{
    CurrentSession, CurrentSessionView, ListedSession, SessionAnswer, SessionList, SessionView,
    UserView, DONE,
};
use crate::auth::http::redirect::Reason;
use crate::auth::http::request::RequestFacts;
use crate::auth::names::session_id::SessionId;
use crate::auth::pages::logout_everywhere_confirmed;
use crate::auth::session::store::SessionStore;
use crate::edge::error::{EdgeError, EdgeResult};
use crate::edge::{answer, http, Ctx};

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
        Resolution::Refused(refusal) => Err(answer::session_refused(facts, ctx, refusal)),
    }
}

/// The session a valid access token speaks for, without its record.
fn principal_answer(principal: &Principal) -> SessionAnswer<'_> {
    SessionAnswer {
        user: Some(UserView {
            id: &principal.user,
            roles: &principal.roles,
        }),
        session: SessionView {
            id: &principal.session,
            expires_at: principal.access_expires_at,
        },
    }
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
            Resolution::Session { principal, .. } => {
                Ok(http::json(&principal_answer(&principal), 200)?)
            }
            Resolution::Refused(refusal) if facts.bearer.presented() => {
                Err(answer::session_refused(facts, ctx, refusal))
            }
            Resolution::Refused(_) => Err(answer::session_refused_clearing(
                facts,
                ctx,
                Refusal::NoSession,
            )),
        };
    };
    match gate.refresh(&presented, facts, None).await {
        Restored::Session { record, tokens } => {
            let mut response = http::json(&SessionAnswer::session_of(&record), 200)?;
            http::add_cookies(&mut response, &gate.session_cookies(&tokens)?)?;
            Ok(response)
        }
        Restored::Refused(refusal) => Err(answer::session_refused(facts, ctx, refusal)),
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
        http::json(&DONE, 200)?
    } else if let Some(page) = provider_logout {
        page
    } else {
        http::redirect(&format!("{LOGIN_PATH}?reason={}", reason.code()), 303)?
    };
    // None for a bearer client's logout: it ends that session alone, not the browser cookies it
    // may carry, so neither are they cleared nor the site's data.
    let mut clearing = gate.clearing_cookies(facts);
    if !clearing.is_empty() {
        // The bound cookie too, when there is one: the device-bound session ends with this one.
        if facts.cookies.device().is_some() {
            clearing.push(clear_device(&ctx.config.cookies));
        }
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
    let answer = CurrentSession {
        user: UserView {
            id: &principal.user,
            roles: &principal.roles,
        },
        session: CurrentSessionView {
            id: &principal.session,
            created_at,
            expires_at,
            access_expires_at: principal.access_expires_at,
        },
    };
    Ok(http::json(&answer, 200)?)
}

pub(super) async fn list_sessions(
    _facts: &RequestFacts,
    ctx: &Ctx<'_>,
    principal: Principal,
) -> EdgeResult {
    let records = ctx.store.sessions_of(&principal.user, ctx.now).await?;
    let sessions = records
        .iter()
        .map(|record| ListedSession::of(record, &principal.session))
        .collect();
    Ok(http::json(&SessionList { sessions }, 200)?)
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
    Ok(http::json(&DONE, 200)?)
}

pub(super) async fn revoke_all(
    facts: &RequestFacts,
    ctx: &Ctx<'_>,
    principal: Principal,
) -> EdgeResult {
    let gate = ctx.gate();
    gate.end_all(&principal.user).await?;
    ctx.audit(AuditEvent::new(EventKind::RevokeAll, ctx.now).user(&principal.user));
    let mut response: Response = http::json(&DONE, 200)?;
    http::add_cookies(&mut response, &gate.clearing_cookies(facts))?;
    Ok(response)
}
