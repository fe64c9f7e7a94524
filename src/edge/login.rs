//! `POST /auth/login`: credentials in, a new session and its cookies out. `POST /auth/token`:
//! the same login, or a refresh, for a client that asks for its tokens in the body instead.
//!
//! Every failure a client can cause (unknown user, wrong password, disabled account) gets the
//! same answer, and each counts against the per-account and per-address limits, whichever of
//! the two routes it came by. Tokens reach the body only at `/auth/token`, which sets no cookie;
//! a browser's login never exposes its HttpOnly cookies' tokens to scripts.

use crate::auth::names::role::Role;
use crate::auth::names::username::Username;
use serde_json::json;
use worker::{Request, Response, Result};

use super::credentials::{self, Verdict};
use super::error::{EdgeError, EdgeResult};
use super::pages::{login_origin, LOGIN_PATH};
use super::rate::{self, Counter};
use super::{http, Ctx};
use crate::auth::audit::{AuditEvent, EventKind};
use crate::auth::gate::{Restored, SessionTokens};
use crate::auth::http::redirect::safe_next;
use crate::auth::http::request::RequestFacts;
use crate::auth::names::session_id::SessionId;
use crate::auth::pages::MAX_USERNAME_ECHO;
use crate::auth::session::record::{LoginSubject, SessionRecord};
use crate::auth::session::refresh::NewRefresh;
use crate::auth::session::store::SessionStore;
use crate::auth::signin::body::{
    parse_login, parse_token_request, LoginFormat, LoginRequest, TokenRequest,
};
use crate::auth::signin::throttle::Scope;

fn login_failure(
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

/// The one answer to every credential failure, so nothing tells accounts apart.
fn invalid_credentials(format: LoginFormat, next: &str, username: &str) -> Result<Response> {
    login_failure(
        format,
        401,
        "invalid_credentials",
        "wrong username or password",
        next,
        username,
    )
}

/// One login attempt's context, for answering a failure.
struct Attempt<'a> {
    ctx: &'a Ctx<'a>,
    counters: &'a [Counter<'a>],
    client: &'a str,
    format: LoginFormat,
    next: &'a str,
    typed: &'a str,
}

impl Attempt<'_> {
    /// Counts the failure on every counter, logs it, and answers as every failure does.
    async fn failed(&self, username: Option<&Username>) -> Result<Response> {
        if let Err(err) = rate::failed(self.ctx, self.counters).await {
            self.ctx.audit(
                AuditEvent::new(EventKind::StoreFailure, self.ctx.now)
                    .detail(format!("rate counter: {err}")),
            );
        }
        let event = AuditEvent::new(EventKind::LoginFailed, self.ctx.now).client(self.client);
        self.ctx.audit(match username {
            Some(username) => event.user(username),
            None => event.detail("malformed username"),
        });
        invalid_credentials(self.format, self.next, self.typed)
    }
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
            return Ok(login_failure(
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
    let (user, roles) = match check_login(facts, ctx, attempt, &next).await? {
        Ok(signed_in) => signed_in,
        Err(refused) => return Ok(refused),
    };
    let (record, tokens) = open_session(&req, facts, ctx, user, roles, Delivery::Cookies).await?;
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
    http::add_cookies(&mut response, &ctx.gate().session_cookies(&tokens)?)?;
    Ok(response)
}

/// `POST /auth/token`: a password grant (a login) or a refresh grant, answered with the tokens in
/// a JSON body (OAuth 2.0's token response) and no cookie. Nothing here reads the request's
/// cookies: its refresh token comes in the body, and a login opens one more session.
pub(super) async fn token(mut req: Request, facts: &RequestFacts, ctx: &Ctx<'_>) -> EdgeResult {
    let body = req.bytes().await?;
    let grant = parse_token_request(facts.content_type.as_deref(), &body)
        .map_err(|err| EdgeError::BadRequest(err.to_string()))?;
    let (record, tokens) = match grant {
        TokenRequest::Password(attempt) => {
            let (user, roles) = match check_login(facts, ctx, attempt, "/").await? {
                Ok(signed_in) => signed_in,
                Err(refused) => return Ok(refused),
            };
            open_session(&req, facts, ctx, user, roles, Delivery::Body).await?
        }
        TokenRequest::Refresh(presented) => match ctx.gate().refresh(&presented, facts).await {
            Restored::Session { record, tokens } => (*record, tokens),
            Restored::Refused(refusal) => return Err(refusal.into()),
        },
    };
    let SessionTokens {
        access,
        access_expires_in,
        refresh,
        refresh_expires_in,
    } = &tokens;
    let mut body = json!({
        "access_token": access.expose(),
        "token_type": "Bearer",
        "expires_in": access_expires_in,
        "user": { "id": record.user, "roles": record.roles },
        "session": { "id": record.id, "expires_at": record.expires_at() },
    });
    if let Some(refresh) = refresh {
        body["refresh_token"] = json!(refresh.expose());
        body["refresh_token_expires_in"] = json!(refresh_expires_in);
    }
    let mut response = http::json(&body, 200)?;
    response.headers_mut().set("Pragma", "no-cache")?;
    Ok(response)
}

/// Checks a login attempt against the limits and the credentials: the user and roles when it
/// succeeds, else the answer to send (every failure the same, and counted). `next` is where a
/// form's failure goes back to.
async fn check_login(
    facts: &RequestFacts,
    ctx: &Ctx<'_>,
    attempt: LoginRequest,
    next: &str,
) -> EdgeResult<std::result::Result<(Username, Vec<Role>), Response>> {
    let LoginRequest {
        username,
        password,
        format,
        ..
    } = attempt;
    let client = facts.client().to_owned();
    let typed = username;
    let username = Username::parse(&typed).ok();
    let mut counters = vec![Counter {
        scope: Scope::ClientIp,
        value: &client,
        limit: &ctx.config.client_limit,
    }];
    if let Some(username) = &username {
        counters.push(Counter {
            scope: Scope::Account,
            value: username,
            limit: &ctx.config.account_limit,
        });
    }
    match rate::admit(ctx, &counters).await {
        Ok(None) => {}
        Ok(Some(retry_after)) => {
            let mut event = AuditEvent::new(EventKind::RateLimited, ctx.now).client(&client);
            if let Some(username) = &username {
                event = event.user(username);
            }
            ctx.audit(event);
            let mut response = login_failure(
                format,
                429,
                "rate_limited",
                "too many failed logins; try again later",
                next,
                &typed,
            )?;
            response
                .headers_mut()
                .set("Retry-After", &retry_after.to_string())?;
            return Ok(Err(response));
        }
        Err(err) => return Err(EdgeError::Unavailable(format!("rate counter: {err}"))),
    }
    let attempt = Attempt {
        ctx,
        counters: &counters,
        client: &client,
        format,
        next,
        typed: &typed,
    };
    let Some(username) = username.as_ref() else {
        return Ok(Err(attempt.failed(None).await?));
    };
    let verdict = credentials::verify(ctx.config, ctx.env, username, &password)
        .await
        .map_err(|err| EdgeError::Unavailable(err.0))?;
    let gate = ctx.gate();
    let signed_in = match verdict {
        Verdict::Valid { user, roles } => (user, roles),
        Verdict::Disabled { user } => {
            gate.end_all(&user).await?;
            return Ok(Err(attempt.failed(Some(username)).await?));
        }
        Verdict::Invalid => return Ok(Err(attempt.failed(Some(username)).await?)),
    };
    if let Err(err) = rate::succeeded(ctx, &counters).await {
        ctx.audit(
            AuditEvent::new(EventKind::StoreFailure, ctx.now)
                .detail(format!("rate counter: {err}")),
        );
    }
    Ok(Ok(signed_in))
}

/// How a new session's tokens reach its client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Delivery {
    /// As cookies, to a browser: the session replaces the one the browser held.
    Cookies,
    /// In the body, to a client that asked for them: one more session of the user (a
    /// browser's cookies that came along are not this client's session).
    Body,
}

/// Opens a new edge session for `user`, signed in just now by any means (a password here, an
/// OpenID provider in `oidc`): it replaces the session this browser held (cookie delivery),
/// is written through the session store (limits, the authority), and is logged. Returns the
/// record and its tokens.
pub(super) async fn open_session(
    req: &Request,
    facts: &RequestFacts,
    ctx: &Ctx<'_>,
    user: Username,
    roles: Vec<Role>,
    delivery: Delivery,
) -> EdgeResult<(SessionRecord, SessionTokens)> {
    let gate = ctx.gate();
    let client = facts.client();
    // A new login ends the session this browser held before (ASVS 7.2.4).
    if delivery == Delivery::Cookies {
        if let Some(previous) = gate.held_session(facts).await? {
            gate.end_session(&previous).await?;
            ctx.audit(
                AuditEvent::new(EventKind::Revoke, ctx.now)
                    .session(previous.id.as_str())
                    .detail("replaced by a new login"),
            );
        }
    }

    let minted = SessionId::generate(&ctx.entropy)
        .and_then(|id| NewRefresh::mint(&id, &ctx.entropy).map(|refresh| (id, refresh)));
    let Ok((id, refresh)) = minted else {
        return Err(EdgeError::Internal("no randomness available".into()));
    };
    let subject = LoginSubject {
        user,
        roles,
        user_agent: facts.user_agent.clone(),
    };
    let mut record = SessionRecord::new(
        id,
        subject,
        refresh.hash.clone(),
        ctx.now,
        &ctx.config.policy,
    );
    record.signed_in_from = login_origin(req, facts, ctx).map(Box::new);
    ctx.store
        .create(record.clone(), &ctx.config.policy, ctx.now)
        .await?;
    let event = AuditEvent::new(EventKind::LoginOk, ctx.now)
        .user(&record.user)
        .session(record.id.as_str())
        .client(client);
    ctx.audit(match delivery {
        Delivery::Cookies => event,
        Delivery::Body => event.detail("tokens delivered in the body"),
    });
    let tokens = gate.session_tokens(&record, Some(&refresh))?;
    Ok((record, tokens))
}
