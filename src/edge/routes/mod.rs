//! The router and its handlers: which request goes where ([`route`] is the table), one file per
//! route family. Handlers get the request's facts, read once before, and reach the runtime
//! through `super::bindings` alone.
//!
//! - [`pages`] - `/auth/login` (GET), `/auth/account`, `/auth/assets/*`, HTML error pages
//! - [`login`] - `POST /auth/login`, `POST /auth/token`
//! - [`sessions`] - `/auth/refresh`, `/auth/logout`, `/auth/session`, `/auth/sessions`,
//!   `/auth/sessions/<id>`
//! - [`oidc`] - `/auth/oidc/<provider>/<action>` (sign-in with a provider, back-channel logout)
//! - [`passkeys`] - `/auth/passkeys[/…]`: a user's passkeys, and signing in with one
//! - [`admin`] - the operator's `/auth/admin/users/...` endpoint
//! - [`proxy`] - every other path, forwarded to the origin with an identity or refused
//! - [`socket`] - the relay of an authenticated WebSocket upgrade
//!
//! The runtime's request and response objects are used as they are: a forwarded request's
//! answer goes back to the client without being converted into `worker` types and back, which
//! would copy every header across the wasm boundary twice.

mod admin;
mod device;
mod login;
mod oidc;
pub(super) mod pages;
mod passkeys;
mod proxy;
mod sessions;
mod socket;

use worker::web_sys;
use worker::{Request, Url};

use crate::auth::audit::{AuditEvent, EventKind};
use crate::auth::gate::admin::ADMIN_USERS_PREFIX;
use crate::auth::http::admission::{admit, Inadmissible};
use crate::auth::http::request::RequestFacts;
use crate::auth::token::dbsc::{DevicePolicy, REFRESH_PATH, REGISTRATION_PATH};
use crate::edge::error::{EdgeError, EdgeResult};
use crate::edge::http::Reply;
use crate::edge::{answer, http, Ctx};
use login::{login, token};
use pages::LOGIN_PATH;
use sessions::{
    current_session, list_sessions, logout, refresh, revoke_all, revoke_one, with_session,
};

pub(super) async fn route(
    req: web_sys::Request,
    url: &Url,
    facts: &RequestFacts,
    ctx: &Ctx<'_>,
) -> EdgeResult<Reply> {
    if ctx.config.dev_mode && !is_loopback(url) {
        return Err(EdgeError::Config(
            "DEV_MODE is for local development only: it serves loopback hosts alone".into(),
        ));
    }
    let connection = match admit(facts, &ctx.config.websocket_origins) {
        Ok(connection) => connection,
        Err(Inadmissible::CrossSiteUpgrade) => {
            audit_cross_site(facts, ctx);
            return Err(EdgeError::CrossSite);
        }
        Err(inadmissible) => return Err(EdgeError::BadRequest(inadmissible.to_string())),
    };
    let device_sessions = ctx.config.device_sessions.policy != DevicePolicy::Off;
    if let (Some(skipped), true) = (&facts.device.skipped, device_sessions) {
        ctx.gate().device_skipped(facts, skipped);
    }
    let read_only = matches!(facts.method.as_str(), "GET" | "HEAD");
    let passkeys_on = ctx.config.passkeys.is_some();
    let own: EdgeResult = match (facts.method.as_str(), facts.path.as_str()) {
        (_, "/.edgegate/health") if read_only => Ok(http::text("ok")?),
        #[cfg(feature = "conformance")]
        ("POST", "/.edgegate/conformance") => conformance(ctx).await,
        #[cfg(feature = "conformance")]
        ("POST", "/.edgegate/conformance/signatures") => signatures(Request::from(req)).await,
        (_, LOGIN_PATH) if read_only => pages::login_page(url, facts, ctx).await,
        (_, "/auth/account") if read_only => pages::account_page(facts, ctx).await,
        (_, "/.well-known/jwks.json") if read_only => {
            let mut response = http::json(&ctx.config.assertion_keys.jwks(), 200)?;
            response
                .headers_mut()
                .set("Cache-Control", "public, max-age=300")?;
            Ok(response)
        }
        (_, asset) if read_only && asset.starts_with(pages::ASSETS_PREFIX) => {
            pages::page(ctx, &asset[pages::ASSETS_PREFIX.len()..]).await
        }
        ("POST", LOGIN_PATH) => same_site(facts, ctx, login(Request::from(req), facts, ctx)).await,
        ("POST", "/auth/refresh") => same_site(facts, ctx, refresh(facts, ctx)).await,
        ("POST", "/auth/token") => {
            same_site(facts, ctx, token(Request::from(req), facts, ctx)).await
        }
        ("POST", "/auth/logout") => {
            same_site(facts, ctx, logout(Request::from(req), facts, ctx)).await
        }
        ("POST", REGISTRATION_PATH) if device_sessions => {
            device::device(device::Step::Register, facts, ctx).await
        }
        ("POST", REFRESH_PATH) if device_sessions => {
            device::device(device::Step::Refresh, facts, ctx).await
        }
        (method, path) if passkeys_on && path.starts_with(passkeys::PASSKEYS_PATH) => {
            passkey_route(req, method, path, facts, ctx).await
        }
        ("GET", "/auth/session") => with_session(facts, ctx, current_session).await,
        ("GET", "/auth/sessions") => with_session(facts, ctx, list_sessions).await,
        ("DELETE", "/auth/sessions") => {
            same_site(facts, ctx, with_session(facts, ctx, revoke_all)).await
        }
        ("DELETE", one) if one.starts_with("/auth/sessions/") => {
            same_site(facts, ctx, with_session(facts, ctx, revoke_one)).await
        }
        (_, path) if oidc::route_of(path).is_some() => {
            oidc::handle(Request::from(req), url, facts, ctx).await
        }
        (_, admin) if admin.starts_with(ADMIN_USERS_PREFIX) => admin::admin(&req, facts, ctx).await,
        (_, auth) if auth == "/auth" || auth.starts_with("/auth/") => {
            answer::not_found(facts, ctx).await
        }
        _ => return proxy::protected(&req, facts, connection, ctx).await,
    };
    own.map(Into::into)
}

/// The passkey endpoints (see [`passkeys`]); every one that changes something refuses other
/// sites' requests.
async fn passkey_route(
    req: web_sys::Request,
    method: &str,
    path: &str,
    facts: &RequestFacts,
    ctx: &Ctx<'_>,
) -> EdgeResult {
    let rest = &path[passkeys::PASSKEYS_PATH.len()..];
    match (method, rest) {
        ("GET", "") => passkeys::list(facts, ctx).await,
        ("POST", "/register/options") => {
            same_site(facts, ctx, passkeys::register_options(facts, ctx)).await
        }
        ("POST", "/register") => {
            same_site(
                facts,
                ctx,
                passkeys::register(Request::from(req), facts, ctx),
            )
            .await
        }
        ("POST", "/sign-in/options") => {
            same_site(facts, ctx, async { passkeys::sign_in_options(ctx) }).await
        }
        ("POST", "/sign-in") => {
            same_site(
                facts,
                ctx,
                passkeys::sign_in(Request::from(req), facts, ctx),
            )
            .await
        }
        ("DELETE", one) if one.len() > 1 => {
            same_site(facts, ctx, passkeys::remove(facts, ctx)).await
        }
        _ => answer::not_found(facts, ctx).await,
    }
}

fn is_loopback(url: &Url) -> bool {
    matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"))
}

/// Runs `handler` unless the request was sent by another site (login and logout CSRF); a
/// refused form login goes back to the login page with the reason.
async fn same_site(
    facts: &RequestFacts,
    ctx: &Ctx<'_>,
    handler: impl std::future::Future<Output = EdgeResult>,
) -> EdgeResult {
    if !facts.cross_site {
        return handler.await;
    }
    audit_cross_site(facts, ctx);
    answer::cross_site(facts)
}

/// Logs a request refused for coming from another site's page.
fn audit_cross_site(facts: &RequestFacts, ctx: &Ctx<'_>) {
    ctx.audit(
        AuditEvent::new(EventKind::CrossSiteRejected, ctx.now)
            .client(facts.client())
            .detail(facts.path.clone()),
    );
}

/// One signature case for [`signatures`]: the key as a JWK, message and signature in base64url.
/// `signature_format: "der"` marks an ES256 signature in ASN.1 DER, as WebAuthn gives it, which
/// is converted to `r || s` by [`es256_raw_from_der`] first; without it the signature goes to the
/// check as it is.
///
/// [`es256_raw_from_der`]: crate::auth::token::ecdsa_der::es256_raw_from_der
#[cfg(feature = "conformance")]
#[derive(serde::Deserialize)]
struct SignatureCase {
    alg: String,
    jwk: serde_json::Value,
    message: String,
    signature: String,
    #[serde(default)]
    signature_format: Option<String>,
}

/// Verifies a batch of signature cases with the worker's own signature check (the key vetted by
/// the core, the signature by WebCrypto) and answers each verdict, so test vectors run through
/// the path ID tokens and DPoP proofs take (every algorithm a proof may name). A key the core
/// refuses, or a DER signature [`es256_raw_from_der`] refuses, is a `false` verdict.
///
/// [`es256_raw_from_der`]: crate::auth::token::ecdsa_der::es256_raw_from_der
#[cfg(feature = "conformance")]
async fn signatures(mut req: Request) -> EdgeResult {
    use crate::auth::names::encoding::b64url_decode;
    use crate::auth::token::ecdsa_der::es256_raw_from_der;
    use crate::auth::token::public_keys::{PublicAlg, PublicKey, SignatureCheck};
    use crate::edge::bindings::WebCryptoSignatureCheck;
    let Ok(cases) = serde_json::from_slice::<Vec<SignatureCase>>(&req.bytes().await?) else {
        return Ok(worker::Response::error(
            "a JSON array of {alg, jwk, message, signature, signature_format?}",
            400,
        )?);
    };
    let mut verdicts = Vec::with_capacity(cases.len());
    for case in &cases {
        let (Some(alg), Some(message), Some(signature)) = (
            PublicAlg::for_proof(&case.alg),
            b64url_decode(&case.message),
            b64url_decode(&case.signature),
        ) else {
            return Ok(worker::Response::error(
                "unknown alg or bad base64url",
                400,
            )?);
        };
        let signature = match (case.signature_format.as_deref(), alg) {
            (None, _) => Some(signature),
            (Some("der"), PublicAlg::Es256) => es256_raw_from_der(&signature).ok().map(Vec::from),
            (Some(_), _) => {
                return Ok(worker::Response::error(
                    "signature_format is \"der\", for ES256 only",
                    400,
                )?);
            }
        };
        let verified = match (
            PublicKey::from_jwk("conformance", alg, &case.jwk),
            signature,
        ) {
            (Ok(key), Some(signature)) => {
                WebCryptoSignatureCheck
                    .verifies(&key, &message, &signature)
                    .await
            }
            _ => false,
        };
        verdicts.push(verified);
    }
    Ok(http::json(
        &serde_json::json!({ "verdicts": verdicts }),
        200,
    )?)
}

/// Runs the store conformance suite against the configured backend, each check on the real
/// bindings; a failed check panics, and its message goes to the log.
#[cfg(feature = "conformance")]
async fn conformance(ctx: &Ctx<'_>) -> EdgeResult {
    std::panic::set_hook(Box::new(|info| {
        worker::console_error!("conformance: {info}")
    }));
    let passed = crate::testing::conformance::run_all(|| {
        crate::edge::bindings::Sessions::new(ctx.env, ctx.config)
    })
    .await;
    let store = match ctx.config.store {
        crate::auth::config::StoreBackend::Kv => "kv",
        crate::auth::config::StoreBackend::Authority => "authority",
    };
    Ok(http::json(
        &serde_json::json!({ "store": store, "passed": passed }),
        200,
    )?)
}
