//! The HTTP surface: which request goes where, the pages, CSRF refusal, and the protected rest.

use worker::{Method, Request, Response, Result, Url};

use super::http;
use super::login::login;
use super::pages;
use super::proxy;
use super::session::{clearing_cookies, resolve_session, with_session};
use super::session_api::{current_session, list_sessions, logout, refresh, revoke_all, revoke_one};
use super::{audit, Ctx};
use crate::auth::audit::{AuditEvent, EventKind};
use crate::auth::gate::is_navigation;

pub(super) const LOGIN_PATH: &str = "/auth/login";

const ASSETS_PREFIX: &str = "/auth/assets/";

pub(super) async fn route(req: Request, ctx: &Ctx<'_>) -> Result<Response> {
    // Parsed once: the route, the DEV_MODE host check, the login redirect and the origin URL
    // all read it.
    let url = req.url()?;
    if ctx.config.dev_mode && !is_loopback(&url) {
        return http::error(
            500,
            "configuration_error",
            "DEV_MODE is for local development only: it serves loopback hosts alone",
        );
    }
    let method = req.method();
    match (method, url.path()) {
        (Method::Get | Method::Head, "/.edgegate/health") => Response::ok("ok"),
        (Method::Get | Method::Head, LOGIN_PATH) => pages::login_page(&req, &url, ctx).await,
        (Method::Get | Method::Head, "/auth/account") => pages::account_page(ctx).await,
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
            pages::not_found(&req, ctx).await
        }
        _ => protected(req, &url, ctx).await,
    }
}

fn is_loopback(url: &Url) -> bool {
    matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"))
}

/// Serves a file of `www/` through the assets binding, with the page security headers.
pub(super) async fn page(ctx: &Ctx<'_>, file: &str) -> Result<Response> {
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

pub(super) fn client_address(req: &Request) -> String {
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

/// Everything that is not `/auth`: public paths pass through, the rest needs a session.
async fn protected(req: Request, url: &Url, ctx: &Ctx<'_>) -> Result<Response> {
    if ctx.config.is_public(url.path()) {
        return proxy::forward(req, url, ctx, None).await;
    }
    let method = req.method().to_string();
    let accept = req.headers().get("Accept")?;
    let navigation = is_navigation(&method, accept.as_deref());
    match resolve_session(&req, ctx).await {
        Ok(session) => proxy::forward(req, url, ctx, Some(session)).await,
        Err(Ok(mut response)) if navigation && response.status_code() == 401 => {
            let target = match url.query() {
                Some(query) => format!("{}?{query}", url.path()),
                None => url.path().to_owned(),
            };
            let location = pages::signin_after(&mut response, &target).await;
            let mut response = http::redirect(&location, 302)?;
            http::add_cookies(&mut response, &clearing_cookies(ctx)?)?;
            Ok(response)
        }
        Err(response) => response,
    }
}
