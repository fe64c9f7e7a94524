//! `POST /auth/login`: credentials in, a new session and its cookies out. `POST /auth/token`:
//! the same login, or a refresh, for a client that asks for its tokens in the body instead.
//!
//! Every failure a client can cause (unknown user, wrong password, disabled account) gets the
//! same answer, and each counts against the per-account and per-address limits, whichever of
//! the two routes it came by. Tokens reach the body only at `/auth/token`, which sets no cookie;
//! a browser's login never exposes its HttpOnly cookies' tokens to scripts.
//!
//! A refused sign-in is answered no sooner than `LOGIN_FAILURE_FLOOR_MS` after it arrived. The
//! decoy record makes an unknown name cost what a known one does in CPU, but not in storage: a
//! read that finds a record and one that finds none can take different times, in KV's emulator
//! as at the edge. Waiting out the floor hides that difference whenever the work takes less.

use js_sys::Promise;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use worker::{web_sys, Request};

use super::pages::login_origin;
use crate::auth::gate::signin::{
    Delivery, Opened, Opening, PasswordAttempt, SignInPorts, SignInRefusal,
};
use crate::auth::gate::{Refusal, Restored, SessionTokens};
use crate::auth::http::answers::{SessionAnswer, SessionView, TokenAnswer, UserView};
use crate::auth::http::redirect::safe_next;
use crate::auth::http::request::RequestFacts;
use crate::auth::http::signin::{
    parse_login, parse_token_request, LoginFormat, LoginRequest, TokenRequest,
};
use crate::auth::names::thumbprint::Thumbprint;
use crate::auth::session::record::SessionRecord;
use crate::edge::bindings::{ConfiguredPasswords, Counters};
use crate::edge::error::{js_error, EdgeError, EdgeResult};
use crate::edge::{answer, http, Ctx};

/// A promise fulfilled `ms` milliseconds from now: its timer runs from here, awaited or not.
fn timer(ms: u32) -> EdgeResult<Promise> {
    let global: web_sys::WorkerGlobalScope = js_sys::global().unchecked_into();
    let mut failed = None;
    let promise = Promise::new(&mut |resolve, _reject| {
        let timeout = i32::try_from(ms).unwrap_or(i32::MAX);
        if let Err(err) =
            global.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, timeout)
        {
            failed = Some(err);
        }
    });
    match failed {
        Some(err) => Err(js_error("setTimeout")(err)),
        None => Ok(promise),
    }
}

/// The failure floor of one sign-in, running from its arrival: a refusal waits it out.
pub(super) struct FailureFloor(Option<Promise>);

impl FailureFloor {
    /// Starts the floor's timer now (none when `LOGIN_FAILURE_FLOOR_MS` is 0).
    pub(super) fn start(ctx: &Ctx<'_>) -> EdgeResult<Self> {
        Ok(Self(match ctx.config.login_failure_floor_ms {
            0 => None,
            ms => Some(timer(ms)?),
        }))
    }

    /// Waits until the floor has passed, when `outcome` is a refusal.
    pub(super) async fn hold<T, E>(self, outcome: &Result<T, E>) -> EdgeResult<()> {
        if let (Err(_), Some(floor)) = (outcome, self.0) {
            JsFuture::from(floor)
                .await
                .map_err(js_error("the failure floor's timer"))?;
        }
        Ok(())
    }
}

/// Runs the core's password sign-in over this request's storage and credential backend; a
/// refusal waits out the failure floor, counted from the call.
async fn sign_in(
    req: &Request,
    facts: &RequestFacts,
    ctx: &Ctx<'_>,
    attempt: &LoginRequest,
    delivery: Delivery,
    key: Option<Thumbprint>,
) -> EdgeResult<std::result::Result<Opened, SignInRefusal>> {
    let floor = FailureFloor::start(ctx)?;
    let passwords = ConfiguredPasswords {
        config: ctx.config,
        env: ctx.env,
    };
    let ports = SignInPorts {
        throttle: &Counters(ctx),
        passwords: &passwords,
    };
    let attempt = PasswordAttempt {
        typed: &attempt.username,
        password: &attempt.password,
    };
    let opening = Opening {
        delivery,
        signed_in_from: login_origin(req, facts, ctx),
        provider_session: None,
        key,
    };
    let outcome = ctx
        .gate()
        .sign_in_with_password(facts, attempt, ports, opening)
        .await?;
    floor.hold(&outcome).await?;
    Ok(outcome)
}

pub(super) async fn login(mut req: Request, facts: &RequestFacts, ctx: &Ctx<'_>) -> EdgeResult {
    let content_type = facts.content_type.as_deref();
    let body = req.bytes().await?;
    let attempt = match parse_login(content_type, &body) {
        Ok(form) => form,
        Err(err) => {
            let format = if content_type.is_some_and(|t| t.contains("json")) {
                LoginFormat::Json
            } else {
                LoginFormat::Form
            };
            return Ok(answer::login_failure(
                format,
                400,
                "bad_request",
                &err.to_string(),
                "/",
                "",
            )?);
        }
    };
    let format = attempt.format;
    let next = safe_next(attempt.next.as_deref());
    let Opened { record, tokens } =
        match sign_in(&req, facts, ctx, &attempt, Delivery::Cookies, None).await? {
            Ok(opened) => opened,
            Err(refusal) => {
                return Ok(answer::sign_in_refused(
                    refusal,
                    format,
                    &next,
                    &attempt.username,
                )?)
            }
        };
    let mut response = match format {
        LoginFormat::Form => http::redirect(&next, 303)?,
        LoginFormat::Json => http::json(&SessionAnswer::signed_in(&record), 200)?,
    };
    signed_in(&mut response, facts, &record, &tokens, ctx)?;
    Ok(response)
}

/// A browser's sign-in answer: its session cookies, and the offer to bind the session to the
/// device (`Secure-Session-Registration`, with the clearing of an earlier session's bound
/// cookie).
pub(super) fn signed_in(
    response: &mut worker::Response,
    facts: &RequestFacts,
    record: &SessionRecord,
    tokens: &SessionTokens,
    ctx: &Ctx<'_>,
) -> EdgeResult<()> {
    let gate = ctx.gate();
    let (clear_device, offer) = gate.device_offer(facts, record)?;
    let mut cookies = gate.session_cookies(tokens)?;
    cookies.extend(clear_device);
    http::add_cookies(response, &cookies)?;
    if let Some(offer) = offer {
        response
            .headers_mut()
            .set("Secure-Session-Registration", &offer)?;
    }
    Ok(())
}

/// `POST /auth/token`: a password grant (a login) or a refresh grant, answered with the tokens in
/// a JSON body (OAuth 2.0's token response) and no cookie. Nothing here reads the request's
/// cookies: its refresh token comes in the body, and a login opens one more session. A `DPoP`
/// proof binds a new session to its key; a bound session's refresh needs a proof by that key.
pub(super) async fn token(mut req: Request, facts: &RequestFacts, ctx: &Ctx<'_>) -> EdgeResult {
    let body = req.bytes().await?;
    let grant = parse_token_request(facts.content_type.as_deref(), &body)
        .map_err(|err| EdgeError::BadRequest(err.to_string()))?;
    let proof = match ctx.gate().token_request_proof(facts).await {
        Ok(proof) => proof,
        Err(refusal) => return Ok(answer::token_request_refused(refusal)?),
    };
    let key = proof.as_ref().map(|proof| proof.thumbprint().clone());
    let (record, tokens) = match grant {
        TokenRequest::Password(attempt) => {
            match sign_in(&req, facts, ctx, &attempt, Delivery::Body, key).await? {
                Ok(Opened { record, tokens }) => (record, tokens),
                Err(refusal) => {
                    return Ok(answer::sign_in_refused(
                        refusal,
                        attempt.format,
                        "/",
                        &attempt.username,
                    )?)
                }
            }
        }
        TokenRequest::Refresh(presented) => {
            match ctx.gate().refresh(&presented, facts, proof.as_ref()).await {
                Restored::Session { record, tokens } => (*record, tokens),
                Restored::Refused(refusal @ Refusal::Proof { .. }) => {
                    return Ok(answer::token_request_refused(refusal)?)
                }
                Restored::Refused(refusal) => return Err(refusal.into()),
            }
        }
    };
    let SessionTokens {
        access,
        access_expires_in,
        refresh,
        refresh_expires_in,
    } = &tokens;
    let body = TokenAnswer {
        access_token: access.expose(),
        token_type: if record.key.is_some() {
            "DPoP"
        } else {
            "Bearer"
        },
        expires_in: *access_expires_in,
        refresh_token: refresh.as_ref().map(|refresh| refresh.expose().as_str()),
        refresh_token_expires_in: refresh.as_ref().map(|_| *refresh_expires_in),
        user: UserView {
            id: &record.user,
            roles: &record.roles,
        },
        session: SessionView {
            id: &record.id,
            expires_at: record.expires_at(),
        },
    };
    let mut response = http::json(&body, 200)?;
    response.headers_mut().set("Pragma", "no-cache")?;
    // The nonce the next proof needs, so that a client need not be refused to learn it (RFC
    // 9449 §8.2).
    if let Some(nonces) = &ctx.config.dpop_nonces {
        response
            .headers_mut()
            .set("DPoP-Nonce", &nonces.issue(ctx.now))?;
    }
    Ok(response)
}
