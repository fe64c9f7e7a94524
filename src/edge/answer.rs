//! The one place where a decision becomes an answer: a redirect, a page or JSON.
//!
//! The core decides (a verdict, a refusal with its reason, a sign-in refused), as does the router
//! (no such endpoint); this module alone chooses how the client hears it: a browser navigation or
//! a form is sent to a page, an API call or a JSON body gets the error contract of
//! [`super::error`].

use worker::{Response, Result};

use super::error::{EdgeError, EdgeResult};
use super::routes::pages::{self, LOGIN_PATH};
use super::{http, Ctx};
use crate::auth::gate::federated::ProviderRefusal;
use crate::auth::gate::signin::SignInRefusal;
use crate::auth::gate::{Refusal, Verdict};
use crate::auth::http::request::RequestFacts;
use crate::auth::http::signin::LoginFormat;
use crate::auth::oidc::flow;
use crate::auth::pages::MAX_USERNAME_ECHO;

/// A request the gate does not forward: a browser sent to sign in, a browser shown the page
/// that says which roles it lacks, anyone else the JSON refusal; with the verdict's cookies.
pub(super) async fn not_forwarded(
    verdict: Verdict,
    facts: &RequestFacts,
    ctx: &Ctx<'_>,
) -> EdgeResult {
    match verdict {
        Verdict::Redirect {
            location,
            set_cookies,
        } => {
            let mut response = http::redirect(&location, 302)?;
            http::add_cookies(&mut response, &set_cookies)?;
            Ok(response)
        }
        Verdict::Refuse {
            refusal: Refusal::Forbidden(denied),
            set_cookies,
        } if facts.navigation => pages::forbidden(&denied, &set_cookies, ctx).await,
        Verdict::Refuse {
            refusal,
            set_cookies,
        } => Err(EdgeError::Refused(refusal).with_cookies(set_cookies)),
        Verdict::Forward { .. } => Err(EdgeError::Internal("a forward verdict to answer".into())),
    }
}

/// A failed login: JSON for a JSON login, else back to the sign-in page with the error, `next`
/// and the username as typed.
pub(super) fn login_failure(
    format: LoginFormat,
    status: u16,
    code: &str,
    message: &str,
    next: &str,
    username: &str,
) -> Result<Response> {
    match format {
        LoginFormat::Json => http::error(status, code, message),
        LoginFormat::Form => {
            let encode = |value: &str| {
                percent_encoding::utf8_percent_encode(value, percent_encoding::NON_ALPHANUMERIC)
                    .to_string()
            };
            // The username comes back so the page can keep it in the field (even without
            // JavaScript); the password never does.
            let typed: String = username.chars().take(MAX_USERNAME_ECHO).collect();
            let location = format!(
                "{LOGIN_PATH}?error={code}&next={}&username={}",
                encode(next),
                encode(&typed)
            );
            http::redirect(&location, 303)
        }
    }
}

/// The answer to a refused sign-in: the one answer to every credential failure, so nothing tells
/// accounts apart, or the throttle's 429 with `Retry-After`. `next` is where a form's failure
/// goes back to.
pub(super) fn sign_in_refused(
    refusal: SignInRefusal,
    format: LoginFormat,
    next: &str,
    typed: &str,
) -> Result<Response> {
    match refusal {
        SignInRefusal::InvalidCredentials => login_failure(
            format,
            401,
            "invalid_credentials",
            "wrong username or password",
            next,
            typed,
        ),
        SignInRefusal::RateLimited { retry_after } => {
            let mut response = login_failure(
                format,
                429,
                "rate_limited",
                "too many failed logins; try again later",
                next,
                typed,
            )?;
            response
                .headers_mut()
                .set("Retry-After", &retry_after.to_string())?;
            Ok(response)
        }
    }
}

/// A token request refused for its DPoP proof: 400 with the RFC 9449 error (RFC 9449 §5), and
/// the nonce to use when it asks for one.
pub(super) fn token_request_refused(refusal: Refusal) -> Result<Response> {
    let mut response = http::error(400, refusal.code(), refusal.message())?;
    if let Refusal::Proof {
        nonce: Some(nonce), ..
    } = &refusal
    {
        response.headers_mut().set("DPoP-Nonce", nonce)?;
    }
    Ok(response)
}

/// A refusal with the cookies it clears (see [`Refusal::clears_cookies`]).
pub(super) fn session_refused(facts: &RequestFacts, ctx: &Ctx<'_>, refusal: Refusal) -> EdgeError {
    let set_cookies = ctx.gate().refusal_cookies(facts, &refusal);
    EdgeError::Refused(refusal).with_cookies(set_cookies)
}

/// A refusal with the session cookies cleared whatever the reason: they are absent or useless.
pub(super) fn session_refused_clearing(
    facts: &RequestFacts,
    ctx: &Ctx<'_>,
    refusal: Refusal,
) -> EdgeError {
    EdgeError::Refused(refusal).with_cookies(ctx.gate().clearing_cookies(facts))
}

/// A provider sign-in that did not work (logged by the core): the browser goes back to the
/// sign-in page with an error a person can read, the flow cookie cleared.
pub(super) fn provider_refused(ctx: &Ctx<'_>, refusal: &ProviderRefusal) -> EdgeResult {
    let location = format!("{LOGIN_PATH}?error={}", refusal.code);
    let mut response = http::redirect(&location, 303)?;
    http::add_cookies(&mut response, &[flow::clear_cookie(&ctx.config.cookies)])?;
    Ok(response)
}

/// An unknown `/auth/...` path: the HTML page for a browser navigation, JSON for an API call.
pub(super) async fn not_found(facts: &RequestFacts, ctx: &Ctx<'_>) -> EdgeResult {
    if facts.navigation {
        return pages::not_found(ctx).await;
    }
    Err(EdgeError::NotFound("no such authentication endpoint"))
}

/// A state-changing request sent by another site: a sign-in form goes back to the sign-in page
/// with the reason, anything else gets the JSON refusal.
pub(super) fn cross_site(facts: &RequestFacts) -> EdgeResult {
    if facts.path == LOGIN_PATH && facts.is_form() {
        return Ok(http::redirect(
            &format!("{LOGIN_PATH}?error=forbidden"),
            303,
        )?);
    }
    Err(EdgeError::CrossSite)
}
