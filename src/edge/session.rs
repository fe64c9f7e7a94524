//! A request's session: the access cookie checked against revocation, or restored in place
//! from the refresh cookie, and the cookies that carry it.

use worker::{Request, Response, Result};

use super::credentials;
use super::http;
use super::routes::client_address;
use super::sessions::Sessions;
use super::{audit, Ctx};
use crate::auth::audit::{AuditEvent, EventKind};
use crate::auth::config::Credentials;
use crate::auth::cookie::{clear_access, clear_refresh, set_access, set_refresh};
use crate::auth::gate::{authenticate, Missing, Presented};
use crate::auth::refresh::{NewRefresh, SessionId};
use crate::auth::session::SessionRecord;
use crate::auth::store::{Rotation, SessionStore, StoreError};
use crate::auth::token::{issue_access, Subject, TokenError};

pub(super) fn store(ctx: &Ctx<'_>) -> Result<Sessions> {
    Sessions::open(ctx).map_err(|err| worker::Error::RustError(err.to_string()))
}

pub(super) fn store_down(ctx: &Ctx<'_>, err: &dyn std::fmt::Display) -> Result<Response> {
    // The first line only: the rest of a platform error is a JavaScript stack.
    let text = err.to_string();
    let first_line = text.lines().next().unwrap_or_default();
    audit(AuditEvent::new(EventKind::StoreFailure, ctx.now).detail(first_line));
    http::error(
        503,
        "unavailable",
        "session storage is unavailable; try again shortly",
    )
}

pub(super) fn clearing_cookies(ctx: &Ctx<'_>) -> Result<Vec<String>> {
    let spec = &ctx.config.cookies;
    Ok(vec![
        clear_access(spec),
        clear_refresh(spec).map_err(|err| worker::Error::RustError(err.to_string()))?,
    ])
}

/// The `Set-Cookie` values for a session: a new access token, and the refresh token if given.
pub(super) fn session_cookies(
    ctx: &Ctx<'_>,
    record: &SessionRecord,
    refresh: Option<&NewRefresh>,
) -> Result<Vec<String>> {
    let config = ctx.config;
    let expires = record.access_expiry(ctx.now, &config.policy);
    let subject = Subject {
        user: &record.user,
        session: record.id.as_str(),
        roles: &record.roles,
    };
    let to_err = |err: &dyn std::fmt::Display| worker::Error::RustError(err.to_string());
    let access = issue_access(
        &config.session_keys,
        &config.access_audience(),
        &subject,
        ctx.now,
        expires - ctx.now,
        &ctx.entropy,
    )
    .map_err(|err| to_err(&err))?;
    // The cookie outlives the token by the leeway, so an expired token still reaches the edge
    // and can be refreshed in place.
    let mut cookies = vec![set_access(
        &access,
        expires - ctx.now + config.policy.leeway,
        &config.cookies,
    )
    .map_err(|err| to_err(&err))?];
    if let Some(refresh) = refresh {
        // The session may be refreshed until its absolute end; idleness is checked on refresh.
        let lifetime = record.absolute_expires_at - ctx.now;
        cookies.push(
            set_refresh(&refresh.token, lifetime.max(1), &config.cookies)
                .map_err(|err| to_err(&err))?,
        );
    }
    Ok(cookies)
}

/// Outcome of trying to restore a session from the refresh cookie.
pub(super) enum Restored {
    Session(SessionRecord, Vec<String>),
    Refused(Rotation),
}

pub(super) async fn try_refresh(
    ctx: &Ctx<'_>,
    presented: &crate::auth::refresh::PresentedRefresh,
) -> std::result::Result<Restored, StoreError> {
    let next = NewRefresh::mint(&presented.session, &ctx.entropy)
        .map_err(|err| StoreError::Unavailable(err.to_string()))?;
    let store = Sessions::open(ctx)?;
    // The account check (`kv` users can be disabled) comes before the rotation: a refusal or an
    // outage here must not leave behind a rotation whose new token the client never received.
    let check_account = ctx.config.credentials == Credentials::Kv;
    let current = match check_account {
        true => store.session(&presented.session, ctx.now).await?,
        false => None,
    };
    if let Some(current) = current {
        let enabled = credentials::still_enabled(ctx.env, &current.user)
            .await
            .map_err(|err| StoreError::Unavailable(err.0))?;
        if !enabled {
            store.revoke_all(&current.user, ctx.now).await?;
            audit(
                AuditEvent::new(EventKind::RevokeAll, ctx.now)
                    .user(&current.user)
                    .detail("account disabled"),
            );
            return Ok(Restored::Refused(Rotation::Ended));
        }
    }
    let rotation = store
        .rotate(presented, next.hash.clone(), &ctx.config.policy, ctx.now)
        .await?;
    let (record, new_refresh, event) = match rotation {
        Rotation::Rotated(record) => (record, Some(&next), EventKind::Refresh),
        Rotation::Grace(record) => (record, None, EventKind::RefreshGrace),
        Rotation::Reused(record) => {
            audit(
                AuditEvent::new(EventKind::ReuseDetected, ctx.now)
                    .user(&record.user)
                    .session(record.id.as_str()),
            );
            return Ok(Restored::Refused(Rotation::Reused(record)));
        }
        other => {
            audit(
                AuditEvent::new(EventKind::RefreshRefused, ctx.now)
                    .session(presented.session.as_str()),
            );
            return Ok(Restored::Refused(other));
        }
    };
    audit(
        AuditEvent::new(event, ctx.now)
            .user(&record.user)
            .session(record.id.as_str()),
    );
    let cookies = session_cookies(ctx, &record, new_refresh)
        .map_err(|err| StoreError::Unavailable(err.to_string()))?;
    Ok(Restored::Session(record, cookies))
}

pub(super) fn refused(ctx: &Ctx<'_>, status: u16, code: &str, message: &str) -> Result<Response> {
    let mut response = http::error(status, code, message)?;
    http::add_cookies(&mut response, &clearing_cookies(ctx)?)?;
    Ok(response)
}

/// The session whose current credentials this request holds, if any: its access token, or its
/// refresh token while that is still the current one (a stale or forged refresh token proves
/// nothing about who holds the session now).
pub(super) async fn held_session(
    req: &Request,
    ctx: &Ctx<'_>,
    store: &Sessions,
) -> std::result::Result<Option<SessionId>, StoreError> {
    let cookie = req.headers().get("Cookie").ok().flatten();
    Ok(match authenticate(cookie.as_deref(), ctx.config, ctx.now) {
        Presented::Access(access) => SessionId::parse(access.session()),
        Presented::Refreshable(_, presented) => store
            .session(&presented.session, ctx.now)
            .await?
            .filter(|record| record.refresh.current.matches(&presented.hash))
            .map(|record| record.id),
        Presented::Anonymous(_) => None,
    })
}

/// Who a request speaks for, once its session is established.
pub(super) struct Session {
    pub user: String,
    pub id: String,
    pub roles: Vec<String>,
    pub expires_at: i64,
    /// `Set-Cookie` values to add when the session was refreshed in place.
    pub cookies: Vec<String>,
}

/// The request's session: a valid, unrevoked access token, or else a refresh in place when the
/// request carries a refresh cookie (same-site only: it is `SameSite=Strict`). `Err` carries the
/// response to send instead.
pub(super) async fn resolve_session(
    req: &Request,
    ctx: &Ctx<'_>,
) -> std::result::Result<Session, Result<Response>> {
    let cookie = req.headers().get("Cookie").ok().flatten();
    let presented = authenticate(cookie.as_deref(), ctx.config, ctx.now);
    let store = match store(ctx) {
        Ok(store) => store,
        Err(err) => return Err(Err(err)),
    };
    let (missing, refresh) = match presented {
        Presented::Access(access) => {
            let id = SessionId::parse(access.session());
            return match id {
                None => Err(http::error(401, "unauthenticated", "invalid session")),
                Some(id) => match store.is_revoked(&id).await {
                    Ok(false) => Ok(Session {
                        user: access.user().to_owned(),
                        id: access.session().to_owned(),
                        roles: access.roles().to_vec(),
                        expires_at: access.expires_at(),
                        cookies: Vec::new(),
                    }),
                    Ok(true) => {
                        audit(
                            AuditEvent::new(EventKind::TokenRejected, ctx.now)
                                .user(access.user())
                                .session(access.session())
                                .client(&client_address(req))
                                .detail("session ended"),
                        );
                        Err(refused(
                            ctx,
                            401,
                            "session_ended",
                            "this session has been ended",
                        ))
                    }
                    Err(err) => Err(store_down(ctx, &err)),
                },
            };
        }
        Presented::Refreshable(missing, refresh) => (missing, Some(refresh)),
        Presented::Anonymous(missing) => (missing, None),
    };
    match &missing {
        Missing::UntrustedCookies => {
            audit(AuditEvent::new(EventKind::CookieTossing, ctx.now).client(&client_address(req)));
        }
        // An expired token with a refresh cookie is the ordinary way a session continues.
        Missing::Invalid(TokenError::Expired) if refresh.is_some() => {}
        Missing::Invalid(err) => audit(
            AuditEvent::new(EventKind::TokenRejected, ctx.now)
                .client(&client_address(req))
                .detail(err.to_string()),
        ),
        Missing::NoCookie => {}
    }
    let Some(refresh) = refresh else {
        return Err(http::error(401, "unauthenticated", "log in first"));
    };
    match try_refresh(ctx, &refresh).await {
        Ok(Restored::Session(record, cookies)) => Ok(Session {
            expires_at: record.access_expiry(ctx.now, &ctx.config.policy),
            user: record.user,
            id: record.id.as_str().to_owned(),
            roles: record.roles,
            cookies,
        }),
        Ok(Restored::Refused(Rotation::Reused(_))) => Err(refused(
            ctx,
            401,
            "refresh_reused",
            "this refresh token was already used; the session has been ended",
        )),
        Ok(Restored::Refused(_)) => Err(refused(
            ctx,
            401,
            "session_expired",
            "the session is over; log in again",
        )),
        Err(err) => Err(store_down(ctx, &err)),
    }
}

/// Runs `handler` with the request's session, refreshing in place; 401 without one.
pub(super) async fn with_session<'c, F, Fut>(
    req: Request,
    ctx: &'c Ctx<'c>,
    handler: F,
) -> Result<Response>
where
    F: FnOnce(Request, &'c Ctx<'c>, Session) -> Fut,
    Fut: std::future::Future<Output = Result<Response>>,
{
    match resolve_session(&req, ctx).await {
        Ok(session) => {
            let cookies = session.cookies.clone();
            let mut response = handler(req, ctx, session).await?;
            http::add_cookies(&mut response, &cookies)?;
            Ok(response)
        }
        Err(response) => response,
    }
}
