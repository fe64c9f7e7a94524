//! The session endpoints: refresh, logout, and the user's view and control of their sessions.

use serde_json::json;
use worker::{Request, Response, Result};

use super::http;
use super::routes::LOGIN_PATH;
use super::session::{
    clearing_cookies, held_session, refused, store, store_down, try_refresh, Restored, Session,
};
use super::{audit, Ctx};
use crate::auth::audit::{AuditEvent, EventKind};
use crate::auth::gate::{authenticate, refresh_token, Presented};
use crate::auth::page::{logout_everywhere_confirmed, Reason};
use crate::auth::refresh::SessionId;
use crate::auth::store::{Rotation, SessionStore};

pub(super) async fn refresh(req: Request, ctx: &Ctx<'_>) -> Result<Response> {
    let cookie = req.headers().get("Cookie")?;
    let presented = match authenticate(cookie.as_deref(), ctx.config, ctx.now) {
        Presented::Refreshable(_, presented) => presented,
        Presented::Access(access) => match refresh_token(cookie.as_deref(), ctx.config) {
            Some(presented) => presented,
            None => {
                return http::json(
                    &session_json(
                        access.user(),
                        access.roles(),
                        access.session(),
                        access.expires_at(),
                    ),
                    200,
                )
            }
        },
        Presented::Anonymous(_) => return refused(ctx, 401, "no_session", "no refresh token"),
    };
    match try_refresh(ctx, &presented).await {
        Ok(Restored::Session(record, cookies)) => {
            let mut response = http::json(
                &json!({ "session": { "id": record.id, "expires_at": record.expires_at() } }),
                200,
            )?;
            http::add_cookies(&mut response, &cookies)?;
            Ok(response)
        }
        Ok(Restored::Refused(Rotation::Reused(_))) => refused(
            ctx,
            401,
            "refresh_reused",
            "this refresh token was already used; the session has been ended",
        ),
        Ok(Restored::Refused(_)) => refused(
            ctx,
            401,
            "session_expired",
            "the session is over; log in again",
        ),
        Err(err) => store_down(ctx, &err),
    }
}

fn session_json(user: &str, roles: &[String], id: &str, expires_at: i64) -> serde_json::Value {
    json!({
        "user": { "id": user, "roles": roles },
        "session": { "id": id, "expires_at": expires_at },
    })
}

pub(super) async fn logout(mut req: Request, ctx: &Ctx<'_>) -> Result<Response> {
    let store = store(ctx)?;
    let ended = match held_session(&req, ctx, &store).await {
        Ok(ended) => ended,
        Err(err) => return store_down(ctx, &err),
    };
    // The account page's form, its confirmation box checked: every session of the user ends.
    let everywhere = logout_everywhere_confirmed(&req.bytes().await.unwrap_or_default());
    let mut ended_all = false;
    if let Some(id) = ended {
        let user = match everywhere {
            true => match store.session(&id, ctx.now).await {
                Ok(record) => record.map(|record| record.user),
                Err(err) => return store_down(ctx, &err),
            },
            false => None,
        };
        let result = match &user {
            Some(user) => store.revoke_all(user, ctx.now).await.map(drop),
            None => store.revoke(&id, ctx.now).await.map(drop),
        };
        if let Err(err) = result {
            return store_down(ctx, &err);
        }
        ended_all = user.is_some();
        audit(match &user {
            Some(user) => AuditEvent::new(EventKind::RevokeAll, ctx.now).user(user),
            None => AuditEvent::new(EventKind::Logout, ctx.now).session(id.as_str()),
        });
    }
    // Only what happened is said: without a stored record to name the user, this browser's
    // session alone has ended.
    let reason = match ended_all {
        true => Reason::LoggedOutEverywhere,
        false => Reason::LoggedOut,
    };
    let wants_json = req
        .headers()
        .get("Accept")?
        .is_some_and(|accept| accept.contains("application/json"));
    let mut response = if wants_json {
        http::json(&json!({ "ok": true }), 200)?
    } else {
        http::redirect(&format!("{LOGIN_PATH}?reason={}", reason.code()), 303)?
    };
    http::add_cookies(&mut response, &clearing_cookies(ctx)?)?;
    response
        .headers_mut()
        .set("Clear-Site-Data", "\"cookies\"")?;
    Ok(response)
}

pub(super) async fn current_session(
    _req: Request,
    ctx: &Ctx<'_>,
    session: Session,
) -> Result<Response> {
    let Some(id) = SessionId::parse(&session.id) else {
        return http::error(401, "unauthenticated", "invalid session");
    };
    let record = match store(ctx)?.session(&id, ctx.now).await {
        Ok(record) => record,
        Err(err) => return store_down(ctx, &err),
    };
    // A session created moments ago at another location may not have reached this one's KV
    // yet: the token's own facts stand in until it does.
    let (created_at, expires_at) = record
        .map(|record| (Some(record.created_at), record.expires_at()))
        .unwrap_or((None, session.expires_at));
    http::json(
        &json!({
            "user": { "id": session.user, "roles": session.roles },
            "session": {
                "id": session.id,
                "created_at": created_at,
                "expires_at": expires_at,
                "access_expires_at": session.expires_at,
            },
        }),
        200,
    )
}

pub(super) async fn list_sessions(
    _req: Request,
    ctx: &Ctx<'_>,
    session: Session,
) -> Result<Response> {
    match store(ctx)?.sessions_of(&session.user, ctx.now).await {
        Ok(records) => {
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
                        "current": record.id.as_str() == session.id,
                    })
                })
                .collect();
            http::json(&json!({ "sessions": sessions }), 200)
        }
        Err(err) => store_down(ctx, &err),
    }
}

pub(super) async fn revoke_one(req: Request, ctx: &Ctx<'_>, session: Session) -> Result<Response> {
    let path = req.path();
    let Some(id) = path
        .strip_prefix("/auth/sessions/")
        .and_then(SessionId::parse)
    else {
        return http::error(404, "not_found", "no such session");
    };
    let store = store(ctx)?;
    match store.session(&id, ctx.now).await {
        Ok(Some(record)) if record.user == session.user => {}
        Ok(_) => return http::error(404, "not_found", "no such session"),
        Err(err) => return store_down(ctx, &err),
    }
    if let Err(err) = store.revoke(&id, ctx.now).await {
        return store_down(ctx, &err);
    }
    audit(
        AuditEvent::new(EventKind::Revoke, ctx.now)
            .user(&session.user)
            .session(id.as_str()),
    );
    http::json(&json!({ "ok": true }), 200)
}

pub(super) async fn revoke_all(_req: Request, ctx: &Ctx<'_>, session: Session) -> Result<Response> {
    if let Err(err) = store(ctx)?.revoke_all(&session.user, ctx.now).await {
        return store_down(ctx, &err);
    }
    audit(AuditEvent::new(EventKind::RevokeAll, ctx.now).user(&session.user));
    let mut response = http::json(&json!({ "ok": true }), 200)?;
    http::add_cookies(&mut response, &clearing_cookies(ctx)?)?;
    Ok(response)
}
