//! The HTTP surface: `/auth/*`, the JWKS, static pages, and the protected rest.

use serde_json::json;
use worker::{Method, Request, Response, Result};

use super::credentials::{self, Verdict};
use super::http;
use super::proxy;
use super::rate::{self, Counter};
use super::sessions::Sessions;
use super::{audit, Ctx};
use crate::auth::audit::{AuditEvent, EventKind};
use crate::auth::cookie::{clear_access, clear_refresh, set_access, set_refresh};
use crate::auth::gate::{authenticate, is_navigation, Missing, Presented};
use crate::auth::login::{parse_login, LoginFormat, LoginRequest};
use crate::auth::password::normalize_username;
use crate::auth::ratelimit::Scope;
use crate::auth::redirect::{login_redirect, safe_next};
use crate::auth::refresh::{NewRefresh, SessionId};
use crate::auth::session::{LoginSubject, SessionRecord};
use crate::auth::store::{Rotation, SessionStore, StoreError};
use crate::auth::token::{issue_access, Subject};

const LOGIN_PATH: &str = "/auth/login";
const ASSETS_PREFIX: &str = "/auth/assets/";

pub async fn route(req: Request, ctx: &Ctx<'_>) -> Result<Response> {
    if ctx.config.dev_mode && !is_loopback(&req.url()?) {
        return http::error(
            500,
            "configuration_error",
            "DEV_MODE is for local development only: it serves loopback hosts alone",
        );
    }
    let path = req.path();
    let method = req.method();
    match (method, path.as_str()) {
        (Method::Get | Method::Head, "/.edgegate/health") => Response::ok("ok"),
        (Method::Get | Method::Head, LOGIN_PATH) => page(ctx, "login.html").await,
        (Method::Get | Method::Head, "/auth/account") => page(ctx, "account.html").await,
        (Method::Get | Method::Head, "/.well-known/jwks.json") => {
            let mut response = http::json(&ctx.config.assertion_keys.jwks(), 200)?;
            response
                .headers_mut()
                .set("Cache-Control", "public, max-age=300")?;
            Ok(response)
        }
        (Method::Get | Method::Head, asset) if asset.starts_with(ASSETS_PREFIX) => {
            page(ctx, &asset[ASSETS_PREFIX.len()..]).await
        }
        (Method::Post, LOGIN_PATH) => guarded(req, ctx, login).await,
        (Method::Post, "/auth/refresh") => guarded(req, ctx, refresh).await,
        (Method::Post, "/auth/logout") => guarded(req, ctx, logout).await,
        (Method::Get, "/auth/session") => with_session(req, ctx, current_session).await,
        (Method::Get, "/auth/sessions") => with_session(req, ctx, list_sessions).await,
        (Method::Delete, "/auth/sessions") => {
            guarded(req, ctx, |req, ctx| with_session(req, ctx, revoke_all)).await
        }
        (Method::Delete, one) if one.starts_with("/auth/sessions/") => {
            guarded(req, ctx, |req, ctx| with_session(req, ctx, revoke_one)).await
        }
        (_, auth) if auth == "/auth" || auth.starts_with("/auth/") => {
            http::error(404, "not_found", "no such authentication endpoint")
        }
        _ => protected(req, ctx).await,
    }
}

fn is_loopback(url: &worker::Url) -> bool {
    matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"))
}

/// Serves a file of `www/` through the assets binding, with the page security headers.
async fn page(ctx: &Ctx<'_>, file: &str) -> Result<Response> {
    if file.is_empty()
        || !file
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        || file.starts_with('.')
    {
        return http::error(404, "not_found", "no such asset");
    }
    let assets = ctx.env.assets("ASSETS")?;
    let fetched = assets
        .fetch(format!("https://assets.invalid/{file}"), None)
        .await?;
    if fetched.status_code() != 200 {
        return http::error(404, "not_found", "no such asset");
    }
    let mut fetched = fetched;
    let body = fetched.bytes().await?;
    let content_type = fetched
        .headers()
        .get("Content-Type")?
        .unwrap_or_else(|| "application/octet-stream".into());
    let mut response = Response::from_bytes(body)?;
    response.headers_mut().set("Content-Type", &content_type)?;
    http::harden(response.headers_mut())?;
    Ok(response)
}

fn client_address(req: &Request) -> String {
    req.headers()
        .get("CF-Connecting-IP")
        .ok()
        .flatten()
        .unwrap_or_else(|| "unknown".into())
}

/// Whether a state-changing request comes from another site (login and logout CSRF).
/// Browsers send `Sec-Fetch-Site` and `Origin`; a client that sends neither is not a browser
/// and cannot carry a victim's cookies.
fn is_cross_site(req: &Request) -> Result<bool> {
    let headers = req.headers();
    if let Some(site) = headers.get("Sec-Fetch-Site")? {
        return Ok(!matches!(site.as_str(), "same-origin" | "none"));
    }
    if let Some(origin) = headers.get("Origin")? {
        let url = req.url()?;
        return Ok(origin != url.origin().ascii_serialization());
    }
    Ok(false)
}

/// Refuses cross-site requests before running `handler`.
async fn guarded<'c, F, Fut>(req: Request, ctx: &'c Ctx<'c>, handler: F) -> Result<Response>
where
    F: FnOnce(Request, &'c Ctx<'c>) -> Fut,
    Fut: std::future::Future<Output = Result<Response>>,
{
    if is_cross_site(&req)? {
        audit(
            AuditEvent::new(EventKind::CrossSiteRejected, ctx.now)
                .client(&client_address(&req))
                .detail(req.path()),
        );
        let form_login = req.path() == LOGIN_PATH
            && req
                .headers()
                .get("Content-Type")?
                .is_some_and(|kind| kind.starts_with("application/x-www-form-urlencoded"));
        if form_login {
            return http::redirect(&format!("{LOGIN_PATH}?error=forbidden"), 303);
        }
        return http::error(
            403,
            "cross_site",
            "cross-site requests are not accepted here",
        );
    }
    handler(req, ctx).await
}

fn store(ctx: &Ctx<'_>) -> Result<Sessions> {
    Sessions::open(ctx).map_err(|err| worker::Error::RustError(err.to_string()))
}

fn store_down(ctx: &Ctx<'_>, err: &dyn std::fmt::Display) -> Result<Response> {
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

fn clearing_cookies(ctx: &Ctx<'_>) -> Result<Vec<String>> {
    let spec = &ctx.config.cookies;
    Ok(vec![
        clear_access(spec),
        clear_refresh(spec).map_err(|err| worker::Error::RustError(err.to_string()))?,
    ])
}

/// The `Set-Cookie` values for a session: a new access token, and the refresh token if given.
fn session_cookies(
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
        let lifetime = record.expires_at().max(record.absolute_expires_at) - ctx.now;
        cookies.push(
            set_refresh(&refresh.token, lifetime.max(1), &config.cookies)
                .map_err(|err| to_err(&err))?,
        );
    }
    Ok(cookies)
}

fn login_failure(
    format: LoginFormat,
    status: u16,
    code: &str,
    message: &str,
    next: &str,
) -> Result<Response> {
    match format {
        LoginFormat::Json => http::error(status, code, message),
        LoginFormat::Form => {
            let location = format!(
                "{LOGIN_PATH}?error={code}&next={}",
                percent_encoding::utf8_percent_encode(next, percent_encoding::NON_ALPHANUMERIC)
            );
            http::redirect(&location, 303)
        }
    }
}

/// The one answer to every credential failure, so nothing tells accounts apart.
fn invalid_credentials(format: LoginFormat, next: &str) -> Result<Response> {
    login_failure(
        format,
        401,
        "invalid_credentials",
        "wrong username or password",
        next,
    )
}

async fn login(mut req: Request, ctx: &Ctx<'_>) -> Result<Response> {
    let content_type = req.headers().get("Content-Type")?;
    let body = req.bytes().await?;
    let form = match parse_login(content_type.as_deref(), &body) {
        Ok(form) => form,
        Err(err) => {
            let format = if content_type.as_deref().is_some_and(|t| t.contains("json")) {
                LoginFormat::Json
            } else {
                LoginFormat::Form
            };
            return login_failure(format, 400, "bad_request", &err.to_string(), "/");
        }
    };
    let LoginRequest {
        username,
        password,
        next,
        format,
    } = form;
    let next = safe_next(next.as_deref());
    let Ok(username) = normalize_username(&username) else {
        return invalid_credentials(format, &next);
    };
    let client = client_address(&req);
    let sessions_kv = ctx.env.kv("SESSIONS")?;
    let counters = [
        Counter {
            scope: Scope::Account,
            value: &username,
            limit: &ctx.config.account_limit,
        },
        Counter {
            scope: Scope::ClientIp,
            value: &client,
            limit: &ctx.config.client_limit,
        },
    ];
    match rate::limited(&sessions_kv, &counters, ctx.now).await {
        Ok(None) => {}
        Ok(Some(retry_after)) => {
            audit(
                AuditEvent::new(EventKind::RateLimited, ctx.now)
                    .user(&username)
                    .client(&client),
            );
            let mut response = login_failure(
                format,
                429,
                "rate_limited",
                "too many failed logins; try again later",
                &next,
            )?;
            response
                .headers_mut()
                .set("Retry-After", &retry_after.to_string())?;
            return Ok(response);
        }
        Err(err) => return store_down(ctx, &err),
    }
    let verdict = match credentials::verify(ctx.config, ctx.env, &username, &password).await {
        Ok(verdict) => verdict,
        Err(err) => return store_down(ctx, &err.0),
    };
    let (user, roles) = match verdict {
        Verdict::Valid { user, roles } => (user, roles),
        Verdict::Invalid | Verdict::Disabled { .. } => {
            if let Verdict::Disabled { user } = &verdict {
                if let Err(err) = store(ctx)?.revoke_all(user, ctx.now).await {
                    return store_down(ctx, &err);
                }
            }
            if let Err(err) = rate::fail(&sessions_kv, &counters, ctx.now).await {
                audit(
                    AuditEvent::new(EventKind::StoreFailure, ctx.now)
                        .detail(format!("rate counter: {err}")),
                );
            }
            audit(
                AuditEvent::new(EventKind::LoginFailed, ctx.now)
                    .user(&username)
                    .client(&client),
            );
            return invalid_credentials(format, &next);
        }
    };

    let user_agent = req.headers().get("User-Agent")?.unwrap_or_default();
    let minted = SessionId::generate(&ctx.entropy)
        .and_then(|id| NewRefresh::mint(&id, &ctx.entropy).map(|refresh| (id, refresh)));
    let Ok((id, refresh)) = minted else {
        return http::error(503, "unavailable", "no randomness available");
    };
    let subject = LoginSubject {
        user,
        roles,
        user_agent,
    };
    let record = SessionRecord::new(
        id,
        subject,
        refresh.hash.clone(),
        ctx.now,
        &ctx.config.policy,
    );
    if let Err(err) = store(ctx)?
        .create(record.clone(), &ctx.config.policy, ctx.now)
        .await
    {
        return store_down(ctx, &err);
    }
    audit(
        AuditEvent::new(EventKind::LoginOk, ctx.now)
            .user(&record.user)
            .session(record.id.as_str())
            .client(&client),
    );
    let cookies = session_cookies(ctx, &record, Some(&refresh))?;
    let mut response = match format {
        LoginFormat::Form => http::redirect(&next, 303)?,
        LoginFormat::Json => http::json(
            &json!({
                "user": { "id": record.user, "roles": record.roles },
                "session": { "id": record.id, "expires_at": record.expires_at() },
            }),
            200,
        )?,
    };
    http::add_cookies(&mut response, &cookies)?;
    Ok(response)
}

/// Outcome of trying to restore a session from the refresh cookie.
enum Restored {
    Session(SessionRecord, Vec<String>),
    Refused(Rotation),
}

async fn try_refresh(
    ctx: &Ctx<'_>,
    presented: &crate::auth::refresh::PresentedRefresh,
) -> std::result::Result<Restored, StoreError> {
    let next = NewRefresh::mint(&presented.session, &ctx.entropy)
        .map_err(|err| StoreError::Unavailable(err.to_string()))?;
    let store = Sessions::open(ctx)?;
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
    let enabled = credentials::still_enabled(ctx.config, ctx.env, &record.user)
        .await
        .map_err(|err| StoreError::Unavailable(err.0))?;
    if !enabled {
        store.revoke_all(&record.user, ctx.now).await?;
        audit(
            AuditEvent::new(EventKind::RevokeAll, ctx.now)
                .user(&record.user)
                .detail("account disabled"),
        );
        return Ok(Restored::Refused(Rotation::Ended));
    }
    audit(
        AuditEvent::new(event, ctx.now)
            .user(&record.user)
            .session(record.id.as_str()),
    );
    let cookies = session_cookies(ctx, &record, new_refresh)
        .map_err(|err| StoreError::Unavailable(err.to_string()))?;
    Ok(Restored::Session(record, cookies))
}

fn refused(ctx: &Ctx<'_>, status: u16, code: &str, message: &str) -> Result<Response> {
    let mut response = http::error(status, code, message)?;
    http::add_cookies(&mut response, &clearing_cookies(ctx)?)?;
    Ok(response)
}

async fn refresh(req: Request, ctx: &Ctx<'_>) -> Result<Response> {
    let cookie = req.headers().get("Cookie")?;
    let presented = match authenticate(cookie.as_deref(), ctx.config, ctx.now) {
        Presented::Refreshable(_, presented) => presented,
        Presented::Access(access) => match refresh_cookie_of(cookie.as_deref(), ctx) {
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

/// The refresh token when a valid access cookie is also present (an explicit refresh).
fn refresh_cookie_of(
    cookie: Option<&str>,
    ctx: &Ctx<'_>,
) -> Option<crate::auth::refresh::PresentedRefresh> {
    let jar = crate::auth::cookie::CookieJar::parse(cookie?).ok()?;
    let token = jar.unique(ctx.config.cookies.names().refresh).ok()??;
    crate::auth::refresh::PresentedRefresh::parse(token)
}

fn session_json(user: &str, roles: &[String], id: &str, expires_at: i64) -> serde_json::Value {
    json!({
        "user": { "id": user, "roles": roles },
        "session": { "id": id, "expires_at": expires_at },
    })
}

async fn logout(req: Request, ctx: &Ctx<'_>) -> Result<Response> {
    let cookie = req.headers().get("Cookie")?;
    let store = store(ctx)?;
    // A refresh token ends its session only while it is the current one: a stale or forged
    // token proves nothing about who holds the session now.
    let ended = match authenticate(cookie.as_deref(), ctx.config, ctx.now) {
        Presented::Access(access) => SessionId::parse(access.session()),
        Presented::Refreshable(_, presented) => match store
            .session(&presented.session, ctx.now)
            .await
        {
            Ok(Some(record)) if record.refresh.current.matches(&presented.hash) => Some(record.id),
            Ok(_) => None,
            Err(err) => return store_down(ctx, &err),
        },
        Presented::Anonymous(_) => None,
    };
    if let Some(id) = ended {
        if let Err(err) = store.revoke(&id, ctx.now).await {
            return store_down(ctx, &err);
        }
        audit(AuditEvent::new(EventKind::Logout, ctx.now).session(id.as_str()));
    }
    let wants_json = req
        .headers()
        .get("Accept")?
        .is_some_and(|accept| accept.contains("application/json"));
    let mut response = if wants_json {
        http::json(&json!({ "ok": true }), 200)?
    } else {
        http::redirect(LOGIN_PATH, 303)?
    };
    http::add_cookies(&mut response, &clearing_cookies(ctx)?)?;
    response
        .headers_mut()
        .set("Clear-Site-Data", "\"cookies\"")?;
    Ok(response)
}

/// Who a request speaks for, once its session is established.
pub(crate) struct Session {
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
pub(crate) async fn resolve_session(
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
                    Ok(true) => Err(refused(
                        ctx,
                        401,
                        "session_ended",
                        "this session has been ended",
                    )),
                    Err(err) => Err(store_down(ctx, &err)),
                },
            };
        }
        Presented::Refreshable(missing, refresh) => (missing, Some(refresh)),
        Presented::Anonymous(missing) => (missing, None),
    };
    if missing == Missing::UntrustedCookies {
        audit(AuditEvent::new(EventKind::CookieTossing, ctx.now).client(&client_address(req)));
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
async fn with_session<'c, F, Fut>(req: Request, ctx: &'c Ctx<'c>, handler: F) -> Result<Response>
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

async fn current_session(_req: Request, ctx: &Ctx<'_>, session: Session) -> Result<Response> {
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

async fn list_sessions(_req: Request, ctx: &Ctx<'_>, session: Session) -> Result<Response> {
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
                        "current": record.id.as_str() == session.id,
                    })
                })
                .collect();
            http::json(&json!({ "sessions": sessions }), 200)
        }
        Err(err) => store_down(ctx, &err),
    }
}

async fn revoke_one(req: Request, ctx: &Ctx<'_>, session: Session) -> Result<Response> {
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

async fn revoke_all(_req: Request, ctx: &Ctx<'_>, session: Session) -> Result<Response> {
    if let Err(err) = store(ctx)?.revoke_all(&session.user, ctx.now).await {
        return store_down(ctx, &err);
    }
    audit(AuditEvent::new(EventKind::RevokeAll, ctx.now).user(&session.user));
    let mut response = http::json(&json!({ "ok": true }), 200)?;
    http::add_cookies(&mut response, &clearing_cookies(ctx)?)?;
    Ok(response)
}

/// Everything that is not `/auth`: public paths pass through, the rest needs a session.
async fn protected(req: Request, ctx: &Ctx<'_>) -> Result<Response> {
    let path = req.path();
    if ctx.config.is_public(&path) {
        return proxy::forward(req, ctx, None).await;
    }
    let method = req.method().to_string();
    let accept = req.headers().get("Accept")?;
    let navigation = is_navigation(&method, accept.as_deref());
    match resolve_session(&req, ctx).await {
        Ok(session) => proxy::forward(req, ctx, Some(session)).await,
        Err(Ok(response)) if navigation && response.status_code() == 401 => {
            let url = req.url()?;
            let target = match url.query() {
                Some(query) => format!("{}?{query}", url.path()),
                None => url.path().to_owned(),
            };
            let mut response = http::redirect(&login_redirect(&target), 302)?;
            http::add_cookies(&mut response, &clearing_cookies(ctx)?)?;
            Ok(response)
        }
        Err(response) => response,
    }
}
