//! `POST /auth/login`: credentials in, a new session and its cookies out.
//!
//! Every failure a client can cause (unknown user, wrong password, disabled account) gets the
//! same answer, and each counts against the per-account and per-address limits.

use serde_json::json;
use worker::{Request, Response, Result};

use super::credentials::{self, Verdict};
use super::http;
use super::pages::login_origin;
use super::rate::{self, Counter};
use super::routes::{client_address, LOGIN_PATH};
use super::session::{held_session, session_cookies, store, store_down};
use super::{audit, Ctx};
use crate::auth::audit::{AuditEvent, EventKind};
use crate::auth::login::{parse_login, LoginFormat, LoginRequest};
use crate::auth::page::MAX_USERNAME_ECHO;
use crate::auth::password::normalize_username;
use crate::auth::ratelimit::Scope;
use crate::auth::redirect::safe_next;
use crate::auth::refresh::{NewRefresh, SessionId};
use crate::auth::session::{LoginSubject, SessionRecord};
use crate::auth::store::SessionStore;

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
    kv: &'a worker::kv::KvStore,
    counters: &'a [Counter<'a>],
    client: &'a str,
    format: LoginFormat,
    next: &'a str,
    typed: &'a str,
}

impl Attempt<'_> {
    /// Counts the failure on every counter, logs it, and answers as every failure does.
    async fn failed(&self, username: Option<&str>) -> Result<Response> {
        if let Err(err) = rate::fail(self.kv, self.counters, self.ctx.now).await {
            audit(
                AuditEvent::new(EventKind::StoreFailure, self.ctx.now)
                    .detail(format!("rate counter: {err}")),
            );
        }
        let event = AuditEvent::new(EventKind::LoginFailed, self.ctx.now).client(self.client);
        audit(match username {
            Some(username) => event.user(username),
            None => event.detail("malformed username"),
        });
        invalid_credentials(self.format, self.next, self.typed)
    }
}

pub(super) async fn login(mut req: Request, ctx: &Ctx<'_>) -> Result<Response> {
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
            return login_failure(format, 400, "bad_request", &err.to_string(), "/", "");
        }
    };
    let LoginRequest {
        username,
        password,
        next,
        format,
    } = form;
    let next = safe_next(next.as_deref());
    let client = client_address(&req);
    let typed = username;
    let username = normalize_username(&typed).ok();
    let sessions_kv = ctx.env.kv("SESSIONS")?;
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
    match rate::limited(&sessions_kv, &counters, ctx.now).await {
        Ok(None) => {}
        Ok(Some(retry_after)) => {
            let mut event = AuditEvent::new(EventKind::RateLimited, ctx.now).client(&client);
            if let Some(username) = &username {
                event = event.user(username);
            }
            audit(event);
            let mut response = login_failure(
                format,
                429,
                "rate_limited",
                "too many failed logins; try again later",
                &next,
                &typed,
            )?;
            response
                .headers_mut()
                .set("Retry-After", &retry_after.to_string())?;
            return Ok(response);
        }
        Err(err) => return store_down(ctx, &err),
    }
    let attempt = Attempt {
        ctx,
        kv: &sessions_kv,
        counters: &counters,
        client: &client,
        format,
        next: &next,
        typed: &typed,
    };
    let Some(username) = username.as_deref() else {
        return attempt.failed(None).await;
    };
    let verdict = match credentials::verify(ctx.config, ctx.env, username, &password).await {
        Ok(verdict) => verdict,
        Err(err) => return store_down(ctx, &err.0),
    };
    let (user, roles) = match verdict {
        Verdict::Valid { user, roles } => (user, roles),
        Verdict::Disabled { user } => {
            if let Err(err) = store(ctx)?.revoke_all(&user, ctx.now).await {
                return store_down(ctx, &err);
            }
            return attempt.failed(Some(username)).await;
        }
        Verdict::Invalid => return attempt.failed(Some(username)).await,
    };

    // A new login ends the session this browser held before (ASVS 7.2.4).
    let store = store(ctx)?;
    match held_session(&req, ctx, &store).await {
        Ok(Some(previous)) => {
            if let Err(err) = store.revoke(&previous, ctx.now).await {
                return store_down(ctx, &err);
            }
            audit(
                AuditEvent::new(EventKind::Revoke, ctx.now)
                    .session(previous.as_str())
                    .detail("replaced by a new login"),
            );
        }
        Ok(None) => {}
        Err(err) => return store_down(ctx, &err),
    }

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
    let mut record = SessionRecord::new(
        id,
        subject,
        refresh.hash.clone(),
        ctx.now,
        &ctx.config.policy,
    );
    record.signed_in_from = login_origin(&req, &client).map(Box::new);
    if let Err(err) = store
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
