//! The pages as served: the `www/` templates filled with this request's values by
//! [`crate::auth::page`], HTML error pages for browser navigations, and the sign-in redirect that
//! says why a session ended.

use worker::{Request, Response, Result, Url};

use super::http;
use super::routes::page;
use super::session::resolve_session;
use super::Ctx;
use crate::auth::gate::is_navigation;
use crate::auth::page::{
    address_prefix, describe_place, login_location, login_notice, render_account, render_error,
    render_login, ErrorView, LoginView, Reason,
};
use crate::auth::redirect::safe_next;
use crate::auth::session::SignedInFrom;

/// `file` of `www/` as text, for filling in.
async fn template(ctx: &Ctx<'_>, file: &str) -> Result<String> {
    let mut response = page(ctx, file).await?;
    if response.status_code() != 200 {
        return Err(worker::Error::RustError(format!(
            "page template {file} is missing"
        )));
    }
    response.text().await
}

fn html(body: String, status: u16) -> Result<Response> {
    let mut response = Response::from_html(body)?.with_status(status);
    http::harden(response.headers_mut())?;
    Ok(response)
}

fn rendering_failed(err: &dyn std::fmt::Display) -> worker::Error {
    worker::Error::RustError(err.to_string())
}

/// `GET /auth/login`: the form with the reason, error, username and `next` of the query, or,
/// when the browser holds a live session, the "already signed in" view.
pub(super) async fn login_page(req: &Request, url: &Url, ctx: &Ctx<'_>) -> Result<Response> {
    let query = |name: &str| {
        url.query_pairs()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.into_owned())
    };
    let next = safe_next(query("next").as_deref());
    let (error, reason, username) = (query("error"), query("reason"), query("username"));
    let session = resolve_session(req, ctx).await.ok();
    let view = LoginView {
        app_name: &ctx.config.app_name,
        notice: login_notice(error.as_deref(), reason.as_deref()),
        username: username.as_deref().unwrap_or_default(),
        next: &next,
        signed_in_as: session.as_ref().map(|session| session.user.as_str()),
    };
    let body = render_login(&template(ctx, "login.html").await?, &view)
        .map_err(|err| rendering_failed(&err))?;
    let mut response = html(body, 200)?;
    if let Some(session) = session {
        http::add_cookies(&mut response, &session.cookies)?;
    }
    Ok(response)
}

/// `GET /auth/account`: the page with the application's name; its script loads the rest.
pub(super) async fn account_page(ctx: &Ctx<'_>) -> Result<Response> {
    let body = render_account(&template(ctx, "account.html").await?, &ctx.config.app_name)
        .map_err(|err| rendering_failed(&err))?;
    html(body, 200)
}

/// An unknown `/auth/...` path: an HTML page for a browser navigation, JSON for an API call.
pub(super) async fn not_found(req: &Request, ctx: &Ctx<'_>) -> Result<Response> {
    let accept = req.headers().get("Accept")?;
    if !is_navigation(req.method().as_ref(), accept.as_deref()) {
        return http::error(404, "not_found", "no such authentication endpoint");
    }
    let view = ErrorView {
        app_name: &ctx.config.app_name,
        status: 404,
        title: "Page not found",
        message:
            "There is no page at this address. It may have moved, or the link may be mistyped.",
    };
    let body = render_error(&template(ctx, "error.html").await?, &view)
        .map_err(|err| rendering_failed(&err))?;
    html(body, 404)
}

/// The sign-in page for `target` after a refused session, saying why when the refusal (one of
/// the edge's 401 JSON answers) tells that a session existed.
pub(super) async fn signin_after(refusal: &mut Response, target: &str) -> String {
    let code = refusal
        .text()
        .await
        .ok()
        .and_then(|body| serde_json::from_str::<serde_json::Value>(&body).ok())
        .and_then(|body| body["error"].as_str().map(str::to_owned));
    login_location(target, code.as_deref().and_then(Reason::from_api_error))
}

/// Where a login comes from, as far as the platform tells: an approximate place from
/// `request.cf` and the client address's prefix.
pub(super) fn login_origin(req: &Request, client: &str) -> Option<SignedInFrom> {
    let cf = js_sys::Reflect::get(req.inner(), &"cf".into()).ok();
    let field = |name: &str| {
        cf.as_ref()
            .filter(|cf| cf.is_object())
            .and_then(|cf| js_sys::Reflect::get(cf, &name.into()).ok())
            .and_then(|value| value.as_string())
    };
    let place = describe_place(
        field("city").as_deref(),
        field("country").as_deref(),
        field("colo").as_deref(),
    );
    let address = address_prefix(client);
    (place.is_some() || address.is_some()).then_some(SignedInFrom { place, address })
}
