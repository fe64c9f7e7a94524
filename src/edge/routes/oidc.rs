//! The OpenID routes: `/auth/oidc/<provider>/start`, `/callback` and `/backchannel-logout`.
//!
//! This is the I/O around [`crate::auth::oidc`]: fetching discovery documents and key sets
//! (cached per isolate, one slot per configured provider, so the cache's size is fixed by the
//! configuration), talking to the token endpoint, and opening the same edge session a password
//! login opens. The provider's tokens stay in this module's locals: they are never set as a
//! cookie nor forwarded.

use crate::auth::names::username::Username;
use std::cell::RefCell;
use std::rc::Rc;

use base64ct::{Base64, Encoding};
use percent_encoding::utf8_percent_encode;
use serde::Deserialize;
use std::pin::pin;
use std::time::Duration;
use wasm_bindgen::JsValue;

use futures_util::future::{select, Either};
use futures_util::StreamExt;
use worker::{
    AbortController, Delay, Fetch, Headers, Method, Request, RequestInit, RequestRedirect,
    Response, Url,
};

use super::pages::{login_origin, LOGIN_PATH};
use crate::auth::env::UnixTime;
use crate::auth::gate::federated::{LogoutRefusal, ProviderCallback, ProviderLink};
use crate::auth::gate::signin::{Delivery, Opened, Opening};
use crate::auth::http::redirect::Reason;
use crate::auth::http::request::RequestFacts;
use crate::auth::oidc::config::{Provider, TokenAuth};
use crate::auth::oidc::discovery::{Discovery, MAX_DISCOVERY_BYTES};
use crate::auth::oidc::flow::{self, callback_path, Flow, FORM_VALUE, OIDC_PREFIX};
use crate::auth::oidc::id_token::MAX_PROVIDER_TOKEN_BYTES;
use crate::auth::oidc::refresh_policy::{is_fresh, spend_key_refetch};
use crate::auth::oidc::transport::{check_status, LimitedBody, PROVIDER_TIMEOUT_MS};
use crate::auth::pages::render_provider_logout;
use crate::auth::token::public_keys::{PublicKeys, MAX_JWKS_BYTES};
use crate::edge::bindings::{KvMarks, WebCryptoSignatureCheck};
use crate::edge::error::{EdgeError, EdgeResult};
use crate::edge::{answer, http, Ctx};

/// A token endpoint answer larger than this is refused.
const MAX_TOKEN_RESPONSE_BYTES: usize = 64 * 1024;

/// What one isolate knows of one provider.
struct Metadata {
    discovery: Rc<Discovery>,
    keys: Rc<PublicKeys>,
    fetched_at: UnixTime,
    keys_fetched_at: UnixTime,
}

thread_local! {
    /// One slot per configured provider, by its index in the configuration.
    static METADATA: RefCell<Vec<Option<Metadata>>> = const { RefCell::new(Vec::new()) };
}

/// Which provider route a path is, if any.
pub(super) fn route_of(path: &str) -> Option<(&str, &str)> {
    path.strip_prefix(OIDC_PREFIX)?.split_once('/')
}

fn unavailable(what: &str, err: impl std::fmt::Display) -> EdgeError {
    EdgeError::Unavailable(format!("{what}: {err}"))
}

/// Sends `request` to a provider by the rules of [`crate::auth::oidc::transport`]: redirects not
/// followed (the request is built with `redirect: manual`) and refused, the whole exchange
/// abandoned after [`PROVIDER_TIMEOUT_MS`], the body read as a stream and dropped past `limit`.
/// The status and body, or why not.
async fn provider_fetch(request: Request, limit: usize) -> Result<(u16, Vec<u8>), String> {
    let controller = AbortController::default();
    let signal = controller.signal();
    let exchange = async {
        let mut response = Fetch::Request(request)
            .send_with_signal(&signal)
            .await
            .map_err(|err| err.to_string())?;
        let status = response.status_code();
        check_status(status)?;
        let mut body = LimitedBody::new(limit);
        // An answer without a body has no stream to read.
        if let Ok(mut stream) = response.stream() {
            while let Some(chunk) = stream.next().await {
                body.push(&chunk.map_err(|err| err.to_string())?)?;
            }
        }
        Ok((status, body.into_bytes()))
    };
    let deadline = Delay::from(Duration::from_millis(PROVIDER_TIMEOUT_MS));
    let exchange = pin!(exchange);
    match select(exchange, deadline).await {
        Either::Left((answer, _)) => answer,
        Either::Right(((), _)) => {
            controller.abort();
            Err(format!("no answer within {PROVIDER_TIMEOUT_MS} ms"))
        }
    }
}

/// A provider request with `method` and `init` set, never following redirects.
fn provider_request(url: &str, init: &mut RequestInit) -> Result<Request, String> {
    init.with_redirect(RequestRedirect::Manual);
    Request::new_with_init(url, init).map_err(|err| err.to_string())
}

async fn get(url: &str, limit: usize) -> EdgeResult<Vec<u8>> {
    let request =
        provider_request(url, &mut RequestInit::new()).map_err(|e| unavailable(url, e))?;
    let (status, body) = provider_fetch(request, limit)
        .await
        .map_err(|err| unavailable(url, err))?;
    if status != 200 {
        return Err(unavailable(url, format!("answered {status}")));
    }
    Ok(body)
}

async fn fetch_keys(discovery: &Discovery) -> EdgeResult<PublicKeys> {
    let body = get(&discovery.jwks_uri, MAX_JWKS_BYTES).await?;
    PublicKeys::from_jwks(&body).map_err(|err| unavailable("provider keys", err))
}

fn cached(index: usize) -> Option<(Rc<Discovery>, Rc<PublicKeys>, UnixTime, UnixTime)> {
    METADATA.with(|slots| {
        slots
            .borrow()
            .get(index)
            .and_then(Option::as_ref)
            .map(|meta| {
                (
                    meta.discovery.clone(),
                    meta.keys.clone(),
                    meta.fetched_at,
                    meta.keys_fetched_at,
                )
            })
    })
}

fn store(index: usize, metadata: Metadata) {
    METADATA.with(|slots| {
        let mut slots = slots.borrow_mut();
        if slots.len() <= index {
            slots.resize_with(index + 1, || None);
        }
        slots[index] = Some(metadata);
    });
}

/// The provider's discovery document and keys, from the cache while fresh.
async fn metadata(
    ctx: &Ctx<'_>,
    index: usize,
    provider: &Provider,
) -> EdgeResult<(Rc<Discovery>, Rc<PublicKeys>)> {
    if let Some((discovery, keys, at, _)) = cached(index) {
        if is_fresh(at, ctx.now) {
            return Ok((discovery, keys));
        }
    }
    let body = get(&provider.discovery_url(), MAX_DISCOVERY_BYTES).await?;
    let discovery = Rc::new(
        Discovery::parse(&body, &provider.issuer, ctx.config.dev_mode)
            .map_err(|err| unavailable("provider discovery", err))?,
    );
    let keys = Rc::new(fetch_keys(&discovery).await?);
    store(
        index,
        Metadata {
            discovery: discovery.clone(),
            keys: keys.clone(),
            fetched_at: ctx.now,
            keys_fetched_at: ctx.now,
        },
    );
    Ok((discovery, keys))
}

/// The key set again after an unknown `kid` (a key rotation), within the budget of
/// [`spend_key_refetch`]: the attempt is recorded before the fetch, so a failing key set is not
/// fetched again on every token.
async fn refetch_keys(
    ctx: &Ctx<'_>,
    index: usize,
    discovery: &Rc<Discovery>,
) -> EdgeResult<Option<Rc<PublicKeys>>> {
    let spent = METADATA.with(|slots| {
        slots
            .borrow_mut()
            .get_mut(index)
            .and_then(Option::as_mut)
            .is_some_and(|meta| spend_key_refetch(&mut meta.keys_fetched_at, ctx.now))
    });
    if !spent {
        return Ok(None);
    }
    let keys = Rc::new(fetch_keys(discovery).await?);
    METADATA.with(|slots| {
        if let Some(Some(meta)) = slots.borrow_mut().get_mut(index) {
            meta.keys = keys.clone();
        }
    });
    Ok(Some(keys))
}

/// The callback URL on the origin (scheme, host and port) this request came to.
fn redirect_uri(url: &Url, provider: &str) -> String {
    format!(
        "{}{}",
        url.origin().ascii_serialization(),
        callback_path(provider)
    )
}

fn query(url: &Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

/// Where a browser goes after logging out `user` at the edge, when their provider is configured
/// for RP-initiated logout (`OIDC_<ID>_LOGOUT = "provider"`) and names an `end_session_endpoint`:
/// the provider ends its own session, then returns to this edge's sign-in page, the one
/// post-logout redirect this edge ever asks for (and so the one to register at the provider).
/// The request carries `client_id` rather than `id_token_hint` (RP-Initiated Logout 1.0 §2
/// allows either), so no provider token is kept after sign-in.
pub(super) async fn provider_logout(
    req: &Request,
    ctx: &Ctx<'_>,
    user: &Username,
) -> EdgeResult<Option<Response>> {
    let Some((index, provider)) = ctx.config.oidc.provider_of(user).and_then(|provider| {
        ctx.config
            .oidc
            .providers
            .iter()
            .position(|p| p.id == provider.id)
            .map(|index| (index, provider))
    }) else {
        return Ok(None);
    };
    if !provider.logout_at_provider {
        return Ok(None);
    }
    let (discovery, _) = metadata(ctx, index, provider).await?;
    let Some(endpoint) = discovery.end_session_endpoint.as_deref() else {
        return Ok(None);
    };
    let url = req.url()?;
    let back = format!(
        "{}{LOGIN_PATH}?reason={}",
        url.origin().ascii_serialization(),
        Reason::LoggedOut.code()
    );
    let encode = |value: &str| utf8_percent_encode(value, FORM_VALUE).to_string();
    let separator = if endpoint.contains('?') { '&' } else { '?' };
    let location = format!(
        "{endpoint}{separator}client_id={}&post_logout_redirect_uri={}",
        encode(&provider.client_id),
        encode(&back)
    );
    let page = render_provider_logout(&ctx.config.app_name, &provider.name, &location);
    let mut response = Response::from_html(page)?;
    http::harden(response.headers_mut())?;
    Ok(Some(response))
}

/// Dispatches `/auth/oidc/<provider>/<action>`.
pub(super) async fn handle(
    req: Request,
    url: &Url,
    facts: &RequestFacts,
    ctx: &Ctx<'_>,
) -> EdgeResult {
    let Some((id, action)) = route_of(&facts.path) else {
        return Err(EdgeError::NotFound("no such provider"));
    };
    let Some((index, provider)) = ctx
        .config
        .oidc
        .providers
        .iter()
        .enumerate()
        .find(|(_, provider)| provider.id == id)
    else {
        return Err(EdgeError::NotFound("no such provider"));
    };
    match (facts.method.as_str(), action) {
        ("GET", "start") => start(url, facts, ctx, index, provider).await,
        // Every answer of the callback clears the flow cookie: a failure the shell answers too.
        ("GET", "callback") => callback(req, url, facts, ctx, index, provider)
            .await
            .map_err(|err| err.with_cookies(vec![flow::clear_cookie(&ctx.config.cookies)])),
        ("POST", "backchannel-logout") => backchannel(req, url, ctx, index, provider).await,
        _ => Err(EdgeError::NotFound("no such provider route")),
    }
}

async fn start(
    url: &Url,
    facts: &RequestFacts,
    ctx: &Ctx<'_>,
    index: usize,
    provider: &Provider,
) -> EdgeResult {
    let discovery = match metadata(ctx, index, provider).await {
        Ok((discovery, _)) => discovery,
        Err(err) => {
            let refusal = ctx.gate().refuse_provider_sign_in(
                facts,
                provider,
                "provider_error",
                err.to_string(),
            );
            return answer::provider_refused(ctx, &refusal);
        }
    };
    let flow = Flow::begin(&provider.id, query(url, "next").as_deref(), &ctx.entropy)
        .map_err(|err| EdgeError::Internal(err.to_string()))?;
    let sealed = flow
        .seal(&ctx.config.session_keys, ctx.now)
        .map_err(|err| EdgeError::Internal(err.to_string()))?;
    let location = flow.authorization_url(
        &discovery.authorization_endpoint,
        &provider.client_id,
        &redirect_uri(url, &provider.id),
        &provider.scopes,
    );
    let mut response = http::redirect(&location, 303)?;
    http::add_cookies(
        &mut response,
        &[flow::set_cookie(&sealed, &ctx.config.cookies)],
    )?;
    Ok(response)
}

#[derive(Deserialize)]
struct TokenAnswer {
    id_token: Option<String>,
}

/// Exchanges `code` at the token endpoint with the PKCE verifier; the ID token, or why not.
async fn exchange(
    discovery: &Discovery,
    provider: &Provider,
    code: &str,
    verifier: &str,
    redirect_uri: &str,
) -> Result<String, String> {
    let encode = |value: &str| utf8_percent_encode(value, FORM_VALUE).to_string();
    let mut body = format!(
        "grant_type=authorization_code&code={}&redirect_uri={}&code_verifier={}",
        encode(code),
        encode(redirect_uri),
        encode(verifier)
    );
    let headers = Headers::new();
    let set = |name: &str, value: &str| headers.set(name, value).map_err(|err| err.to_string());
    set("Content-Type", "application/x-www-form-urlencoded")?;
    set("Accept", "application/json")?;
    match provider.token_auth {
        TokenAuth::Basic => {
            // RFC 6749 §2.3.1: both parts form-encoded before they are joined.
            let pair = format!(
                "{}:{}",
                encode(&provider.client_id),
                encode(provider.client_secret.expose())
            );
            set(
                "Authorization",
                &format!("Basic {}", Base64::encode_string(pair.as_bytes())),
            )?;
        }
        TokenAuth::Post => {
            body.push_str(&format!(
                "&client_id={}&client_secret={}",
                encode(&provider.client_id),
                encode(provider.client_secret.expose())
            ));
        }
    }
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_headers(headers)
        .with_body(Some(JsValue::from_str(&body)));
    let request = provider_request(&discovery.token_endpoint, &mut init)?;
    let (status, bytes) = provider_fetch(request, MAX_TOKEN_RESPONSE_BYTES)
        .await
        .map_err(|err| format!("token endpoint: {err}"))?;
    if status != 200 {
        let error = serde_json::from_slice::<serde_json::Value>(&bytes)
            .ok()
            .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_owned))
            .unwrap_or_default();
        return Err(format!("token endpoint answered {status} {error}"));
    }
    let answer: TokenAnswer =
        serde_json::from_slice(&bytes).map_err(|_| "token endpoint answer is not JSON")?;
    answer
        .id_token
        .filter(|token| token.len() <= MAX_PROVIDER_TOKEN_BYTES)
        .ok_or_else(|| "the token endpoint sent no usable id_token".into())
}

/// The provider as this request reaches it: the isolate's cached metadata, the token endpoint
/// with this request's callback URL.
struct Link<'a> {
    ctx: &'a Ctx<'a>,
    index: usize,
    provider: &'a Provider,
    redirect_uri: String,
}

impl ProviderLink for Link<'_> {
    async fn metadata(&self) -> Result<(Rc<Discovery>, Rc<PublicKeys>), String> {
        metadata(self.ctx, self.index, self.provider)
            .await
            .map_err(|err| err.to_string())
    }

    async fn refetch_keys(
        &self,
        discovery: &Rc<Discovery>,
    ) -> Result<Option<Rc<PublicKeys>>, String> {
        refetch_keys(self.ctx, self.index, discovery)
            .await
            .map_err(|err| err.to_string())
    }

    async fn exchange(
        &self,
        discovery: &Discovery,
        code: &str,
        verifier: &str,
    ) -> Result<String, String> {
        exchange(discovery, self.provider, code, verifier, &self.redirect_uri).await
    }
}

async fn callback(
    req: Request,
    url: &Url,
    facts: &RequestFacts,
    ctx: &Ctx<'_>,
    index: usize,
    provider: &Provider,
) -> EdgeResult {
    // The flow cookie as the edge read it with the session cookies (it is never forwarded).
    let flow_cookie = facts.cookies.flow();
    let (state, code, error) = (query(url, "state"), query(url, "code"), query(url, "error"));
    let iss = query(url, "iss");
    let callback = ProviderCallback {
        flow_cookie,
        state: state.as_deref(),
        code: code.as_deref(),
        error: error.as_deref(),
        iss: iss.as_deref(),
    };
    let link = Link {
        ctx,
        index,
        provider,
        redirect_uri: redirect_uri(url, &provider.id),
    };
    let opening = Opening {
        delivery: Delivery::Cookies,
        signed_in_from: login_origin(&req, facts, ctx),
        provider_session: None,
        key: None,
    };
    let gate = ctx.gate();
    let marks = KvMarks::new(ctx.env)?;
    let finished = gate
        .finish_provider_sign_in(
            facts,
            provider,
            callback,
            (&link, &WebCryptoSignatureCheck, &marks),
            opening,
        )
        .await?;
    let (Opened { record, tokens }, next) = match finished {
        Ok(signed_in) => signed_in,
        Err(refusal) => return answer::provider_refused(ctx, &refusal),
    };
    let mut response = http::redirect(&next, 303)?;
    super::login::signed_in(&mut response, facts, &record, &tokens, ctx)?;
    http::add_cookies(&mut response, &[flow::clear_cookie(&ctx.config.cookies)])?;
    Ok(response)
}

/// `POST .../backchannel-logout`: ends the edge sessions of the provider session or user the
/// logout token names.
async fn backchannel(
    mut req: Request,
    url: &Url,
    ctx: &Ctx<'_>,
    index: usize,
    provider: &Provider,
) -> EdgeResult {
    let body = req.bytes().await?;
    let link = Link {
        ctx,
        index,
        provider,
        redirect_uri: redirect_uri(url, &provider.id),
    };
    let marks = KvMarks::new(ctx.env)?;
    let ports = (&link, &WebCryptoSignatureCheck, &marks);
    if let Err(LogoutRefusal(why)) = ctx.gate().provider_logout(provider, &body, ports).await? {
        return Ok(http::error(400, "invalid_request", &why)?);
    }
    let mut response = Response::empty()?.with_status(200);
    http::harden(response.headers_mut())?;
    Ok(response)
}
