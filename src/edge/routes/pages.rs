//! The pages as served: the `www/` files through the assets binding with the page security
//! headers, the templates among them filled with this request's values by [`crate::auth::pages`],
//! and HTML error pages for browser navigations.

use crate::auth::http::cookie::SetCookie;
use worker::worker_sys::ext::RequestExt;
use worker::{Request, Response, Url};

use crate::auth::gate::{Denied, Resolution};
use crate::auth::http::redirect::safe_next;
use crate::auth::http::request::RequestFacts;
use crate::auth::pages::{
    address_prefix, describe_place, forbidden_message, login_notice, render_account, render_error,
    render_login, ErrorView, LoginView,
};
use crate::auth::session::record::SignedInFrom;
use crate::edge::bindings;
use crate::edge::error::{EdgeError, EdgeResult};
use crate::edge::{http, Ctx};

pub(in crate::edge) const LOGIN_PATH: &str = "/auth/login";
pub(super) const ASSETS_PREFIX: &str = "/auth/assets/";

/// Serves `file` of `www/`; anything that is not a plain file name is not found.
pub(super) async fn page(ctx: &Ctx<'_>, file: &str) -> EdgeResult {
    let plain = !file.is_empty()
        && !file.starts_with('.')
        && file
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    if !plain {
        return Err(EdgeError::NotFound("no such asset"));
    }
    let assets = bindings::assets(ctx.env)?;
    let mut fetched = assets
        .fetch(format!("https://assets.invalid/{file}"), None)
        .await?;
    if fetched.status_code() != 200 {
        return Err(EdgeError::NotFound("no such asset"));
    }
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

/// `file` of `www/` as text, for filling in.
async fn template(ctx: &Ctx<'_>, file: &str) -> EdgeResult<String> {
    let mut response = page(ctx, file).await?;
    Ok(response.text().await?)
}

fn html(body: String, status: u16) -> EdgeResult {
    let mut response = Response::from_html(body)?.with_status(status);
    http::harden(response.headers_mut())?;
    Ok(response)
}

fn rendering_failed(err: &dyn std::fmt::Display) -> EdgeError {
    EdgeError::Internal(format!("page template: {err}"))
}

/// `GET /auth/login`: the form with the reason, error, username and `next` of the query, or,
/// when the browser holds a live session, the "already signed in" view.
pub(super) async fn login_page(url: &Url, facts: &RequestFacts, ctx: &Ctx<'_>) -> EdgeResult {
    let query = |name: &str| {
        url.query_pairs()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.into_owned())
    };
    let next = safe_next(query("next").as_deref());
    let (error, reason, username) = (query("error"), query("reason"), query("username"));
    let session = match ctx.gate().resolve(facts).await {
        Resolution::Session {
            principal,
            set_cookies,
        } => Some((principal, set_cookies)),
        Resolution::Refused(_) => None,
    };
    let providers: Vec<(&str, &str)> = ctx
        .config
        .oidc
        .providers
        .iter()
        .map(|provider| (provider.id.as_str(), provider.name.as_str()))
        .collect();
    let view = LoginView {
        providers: &providers,
        password_form: ctx.config.oidc.password_login,
        passkeys: passkeys_here(&facts.own_origin, ctx),
        app_name: &ctx.config.app_name,
        notice: login_notice(error.as_deref(), reason.as_deref()),
        username: username.as_deref().unwrap_or_default(),
        next: &next,
        signed_in_as: session
            .as_ref()
            .map(|(principal, _)| principal.user.as_str()),
    };
    let body = render_login(&template(ctx, "login.html").await?, &view)
        .map_err(|err| rendering_failed(&err))?;
    let mut response = html(body, 200)?;
    if let Some((_, set_cookies)) = session {
        http::add_cookies(&mut response, &set_cookies)?;
    }
    Ok(response)
}

/// `GET /auth/account`: the page with the application's name; its script loads the rest.
/// Whether a page of `origin` offers passkeys: they are on, and the browser can run their
/// ceremonies there.
fn passkeys_here(origin: &str, ctx: &Ctx<'_>) -> bool {
    ctx.config
        .passkeys
        .as_ref()
        .is_some_and(|rp| rp.serves(origin))
}

pub(super) async fn account_page(facts: &RequestFacts, ctx: &Ctx<'_>) -> EdgeResult {
    let body = render_account(
        &template(ctx, "account.html").await?,
        &ctx.config.app_name,
        passkeys_here(&facts.own_origin, ctx),
    )
    .map_err(|err| rendering_failed(&err))?;
    html(body, 200)
}

/// The 404 page of an unknown `/auth/...` path (for a browser navigation: see
/// [`crate::edge::answer::not_found`]).
pub(in crate::edge) async fn not_found(ctx: &Ctx<'_>) -> EdgeResult {
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

/// The 403 page for a browser navigation whose session lacks the path's roles, with any
/// cookies of a refresh in place.
pub(in crate::edge) async fn forbidden(
    denied: &Denied,
    set_cookies: &[SetCookie],
    ctx: &Ctx<'_>,
) -> EdgeResult {
    let message = forbidden_message(denied);
    let view = ErrorView {
        app_name: &ctx.config.app_name,
        status: 403,
        title: "You do not have access to this page",
        message: &message,
    };
    let body = render_error(&template(ctx, "error.html").await?, &view)
        .map_err(|err| rendering_failed(&err))?;
    let mut response = html(body, 403)?;
    http::add_cookies(&mut response, set_cookies)?;
    Ok(response)
}

/// Where a login comes from, as far as the platform tells: an approximate place from
/// `request.cf` and the client address's prefix.
pub(super) fn login_origin(
    req: &Request,
    facts: &RequestFacts,
    ctx: &Ctx<'_>,
) -> Option<SignedInFrom> {
    let cf = req.inner().cf();
    let place = describe_place(
        cf.as_ref()
            .and_then(|cf| cf.city().ok().flatten())
            .as_deref(),
        cf.as_ref()
            .and_then(|cf| cf.country().ok().flatten())
            .as_deref(),
        ctx.audit.location(),
    );
    let address = address_prefix(facts.client());
    (place.is_some() || address.is_some()).then_some(SignedInFrom { place, address })
}
