//! Deployment configuration: every `[vars]` entry and secret, parsed and checked once.
//!
//! The worker reads its environment through a lookup function, so this module knows nothing of
//! `Env` and every rule is tested natively. A configuration that is missing, malformed or
//! insecure is refused as a whole with a message that names the variable and never its secret
//! value; the worker then answers 500 on every request instead of running half-configured.

pub use crate::auth::env::vars::ConfigError;
use crate::auth::env::vars::{problem, Vars as Reader};

use crate::auth::accounts::passkey::challenge::SignInChallenges;
use crate::auth::accounts::passkey::{RelyingParty, SignCounterPolicy};
use crate::auth::accounts::throttle::Limit;
use crate::auth::http::cookie::CookieSpec;
use crate::auth::http::path::RequestPath;
use crate::auth::names::dns::is_dns_name;
use crate::auth::oidc::config::OidcConfig;
use crate::auth::policy::{AccessPolicy, Rule};
use crate::auth::secret::{AdminSecret, OriginSecret, MIN_ADMIN_SECRET_LEN};
use crate::auth::session::device::BindingPolicy;
use crate::auth::session::record::{SessionPolicy, MAX_LEEWAY};
use crate::auth::token::dbsc::{DevicePolicy, DeviceSecrets};
use crate::auth::token::dpop::{DpopPolicy, NonceKey};
use crate::auth::token::keys::{AssertionKeyRing, SessionKeyRing};
use crate::auth::token::{Audience, MAX_ASSERTION_TTL};

/// How passwords are checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials {
    /// User records in the `USERS` KV namespace.
    Kv,
    /// POST to the origin's verification endpoint, authenticated with a shared secret.
    Origin {
        /// The verification endpoint (`CREDENTIALS_URL`), `https://` unless `DEV_MODE`.
        url: String,
        /// Authenticates the edge to that endpoint (`CREDENTIALS_SECRET`, at least 32
        /// characters).
        secret: OriginSecret,
    },
}

/// Where sessions are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreBackend {
    /// Workers KV only: eventual consistency, documented bounds.
    Kv,
    /// A per-user Durable Object performs every write; KV serves reads.
    Authority,
}

/// The per-isolate caches of the request path: capacities and lifetimes; `entries == 0` or
/// `revocation_ttl == 0` turns a cache off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheSettings {
    /// Entries of each of the token and assertion caches (the revocation cache holds as many).
    pub entries: usize,
    /// Seconds a "not revoked" answer is trusted without asking KV again.
    pub revocation_ttl: i64,
}

impl Default for CacheSettings {
    fn default() -> Self {
        Self {
            entries: 2048,
            revocation_ttl: 5,
        }
    }
}

/// A validated configuration.
#[derive(Debug)]
pub struct Config {
    /// `scheme://host[:port]` of the origin, validated once: a request's path and query are
    /// appended to it as they came.
    pub origin_url: String,
    /// `iss` of every token and `aud` of access tokens.
    pub issuer: String,
    /// `aud` of identity assertions.
    pub origin_audience: String,
    /// Signs and verifies access and refresh tokens (`SESSION_KEYS`; the first key signs).
    pub session_keys: SessionKeyRing,
    /// Signs the identity assertion sent to the origin (`ASSERTION_KEYS`; the first key signs).
    pub assertion_keys: AssertionKeyRing,
    /// `iss` and `aud` of access tokens (both the issuer).
    pub access_audience: Audience,
    /// `iss` and `aud` of identity assertions.
    pub assertion_audience: Audience,
    /// How long an identity assertion is valid, in seconds (`ASSERTION_TTL`, default 30).
    pub assertion_ttl: i64,
    /// Token lifetimes, timeouts and the session limit (`ACCESS_TTL`, `IDLE_TIMEOUT`,
    /// `ABSOLUTE_TIMEOUT`, `REFRESH_GRACE`, `MAX_SESSIONS`, `CLOCK_LEEWAY`).
    pub policy: SessionPolicy,
    /// What a refresh from another device than the session's login meets (`SESSION_BINDING`).
    pub binding: BindingPolicy,
    /// Names and attributes of the session cookies (`COOKIE_SECURE`).
    pub cookies: CookieSpec,
    /// How passwords are checked (`CREDENTIALS`).
    pub credentials: Credentials,
    /// Where sessions are written (`SESSION_STORE`).
    pub store: StoreBackend,
    /// Where the request path asks whether a session still stands (`REVOCATION_READ`): the
    /// user's authority (the default with `SESSION_STORE=authority`: a revocation anywhere is
    /// final everywhere within `REVOCATION_CACHE_TTL`), or KV (one KV read per session per TTL,
    /// no Durable Object request; final elsewhere once KV has propagated, up to a minute).
    pub revocation_read: StoreBackend,
    /// Who may reach which path (`PUBLIC_PATHS` first, then `ACCESS_POLICY`).
    pub access: AccessPolicy,
    /// Failed logins allowed per account within `LOGIN_WINDOW`
    /// (`LOGIN_MAX_FAILURES_PER_ACCOUNT`).
    pub account_limit: Limit,
    /// Failed logins allowed per client address within `LOGIN_WINDOW`
    /// (`LOGIN_MAX_FAILURES_PER_CLIENT`).
    pub client_limit: Limit,
    /// Milliseconds before which a refused sign-in is not answered, counted from its arrival
    /// (`LOGIN_FAILURE_FLOOR_MS`, default 250, 0 turns it off): every refusal then takes the same
    /// time whatever storage lookups it made, so the time does not tell which accounts exist.
    pub login_failure_floor_ms: u32,
    /// Whether API clients may (`allow`, the default), must (`require`) or cannot (`off`) bind
    /// their tokens to a key with DPoP proofs (`DPOP`).
    pub dpop: DpopPolicy,
    /// The server's DPoP nonces, when every proof must carry one (`DPOP_NONCE = require`).
    pub dpop_nonces: Option<NonceKey>,
    /// Device-bound browser sessions (`DEVICE_BOUND_SESSIONS`, `DEVICE_COOKIE_TTL`,
    /// `DEVICE_BOUND_GRACE`).
    pub device_sessions: DeviceSessions,
    /// Local development (`DEV_MODE`): plain HTTP is allowed, and only loopback hosts are served.
    pub dev_mode: bool,
    /// The per-isolate caches of the request path.
    pub caches: CacheSettings,
    /// Seconds between two checks of an open WebSocket's session (`WEBSOCKET_CHECK_INTERVAL`,
    /// default 30).
    pub websocket_check_interval: i64,
    /// Pages besides the edge's own origin that may open WebSockets through it
    /// (`WEBSOCKET_ORIGINS`, exact origins, comma-separated; none by default).
    pub websocket_origins: Vec<String>,
    /// The application's name on the sign-in, account and error pages.
    pub app_name: String,
    /// The operator's credential for the admin endpoint (`ADMIN_SECRET`); unset turns it off.
    pub admin_secret: Option<AdminSecret>,
    /// OpenID providers (`OIDC_PROVIDERS`) and whether the password form is offered.
    pub oidc: OidcConfig,
    /// Passkeys for built-in users (`PASSKEYS`, `WEBAUTHN_RP_ID`, `WEBAUTHN_ORIGINS`,
    /// `PASSKEY_COUNTER`, `PASSKEY_RECENT_SIGN_IN`); `None` when off.
    pub passkeys: Option<RelyingParty>,
}

/// Device-bound browser sessions, as configured.
#[derive(Debug)]
pub struct DeviceSessions {
    /// Offered, required or off.
    pub policy: DevicePolicy,
    /// Seconds the bound cookie lives; a copied cookie jar renews its session for no longer.
    pub cookie_ttl: i64,
    /// Under `require`, seconds after its sign-in within which a browser session must register.
    pub grace: i64,
    /// The stateless challenges and bound cookies.
    pub secrets: DeviceSecrets,
}

/// How often an open WebSocket's session is checked when `WEBSOCKET_CHECK_INTERVAL` is not set.
pub const DEFAULT_WEBSOCKET_CHECK_INTERVAL: i64 = 30;
/// The pages' name for the application when `APP_NAME` is not set.
pub const DEFAULT_APP_NAME: &str = "edgegate";
/// Longest `APP_NAME`: it is a heading, not a paragraph.
pub const MAX_APP_NAME_LEN: usize = 60;

impl Config {
    /// Whether refreshes check that the account is still enabled (only `kv` users can be
    /// disabled at the edge).
    pub fn checks_accounts(&self) -> bool {
        self.credentials == Credentials::Kv
    }

    /// The origin URL a request for `path` (and `query`) goes to.
    pub fn origin_target(&self, path: &str, query: Option<&str>) -> String {
        match query {
            Some(query) => format!("{}{path}?{query}", self.origin_url),
            None => format!("{}{path}", self.origin_url),
        }
    }
}

fn check_url(name: &'static str, url: &str, dev_mode: bool) -> Result<(), ConfigError> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| problem(name, "must be an absolute http(s) URL"))?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if host.is_empty() || host.contains('@') {
        return Err(problem(name, "must name a host (and no user info)"));
    }
    match scheme {
        "https" => Ok(()),
        "http" if dev_mode => Ok(()),
        "http" => Err(problem(
            name,
            "must use https outside DEV_MODE: identity headers would cross the network in clear",
        )),
        _ => Err(problem(name, "must be an absolute http(s) URL")),
    }
}

/// Whether `host` is a DNS name WebAuthn can scope credentials to: lower case (punycode for
/// others), at least one letter somewhere, so never an IP address; `localhost` or a name of two
/// labels or more (browsers refuse a top-level domain).
fn is_rp_id(host: &str) -> bool {
    let named = host == "localhost" || host.contains('.');
    named
        && is_dns_name(host)
        && !host.bytes().any(|b| b.is_ascii_uppercase())
        && host.bytes().any(|b| b.is_ascii_lowercase())
}

/// The passkey settings: on by default for built-in users with the session authority when
/// `ISSUER`'s host can be an RP id; `on` where they cannot work is refused with the reason.
fn passkeys(
    read: &Reader<'_>,
    issuer: &str,
    session_keys: &SessionKeyRing,
    credentials: &Credentials,
    store: StoreBackend,
    dev_mode: bool,
    app_name: &str,
) -> Result<Option<RelyingParty>, ConfigError> {
    let issuer_origin = issuer.split_once("://").map(|(scheme, rest)| {
        let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
        (
            format!("{scheme}://{host}"),
            host.split(':').next().unwrap_or_default(),
        )
    });
    let explicit_rp_id = read.optional("WEBAUTHN_RP_ID");
    if explicit_rp_id.as_deref().is_some_and(|id| !is_rp_id(id)) {
        return Err(problem(
            "WEBAUTHN_RP_ID",
            "must be a lowercase DNS name of two labels or more (or `localhost`), without scheme or port",
        ));
    }
    let rp_id = explicit_rp_id
        .or_else(|| issuer_origin.as_ref().map(|(_, host)| (*host).to_owned()))
        .unwrap_or_default();
    let explicit = match read.optional("PASSKEYS").as_deref() {
        None => false,
        Some("on") => true,
        Some("off") => return Ok(None),
        Some(_) => return Err(problem("PASSKEYS", "must be `on` or `off`")),
    };
    let unusable = if *credentials != Credentials::Kv {
        Some("passkeys are for built-in users: they need CREDENTIALS = kv")
    } else if store != StoreBackend::Authority {
        Some("passkeys need the session authority (SESSION_STORE = authority)")
    } else if !is_rp_id(&rp_id) {
        Some("the RP id (WEBAUTHN_RP_ID, else ISSUER's host) must be a DNS name, not an IP address")
    } else {
        None
    };
    match (unusable, explicit) {
        (Some(reason), true) => return Err(problem("PASSKEYS", reason)),
        (Some(_), false) => return Ok(None),
        (None, _) => {}
    }
    let origins = match read.optional("WEBAUTHN_ORIGINS") {
        Some(list) => list
            .split(',')
            .map(str::trim)
            .filter(|origin| !origin.is_empty())
            .map(str::to_owned)
            .collect(),
        None => issuer_origin
            .map(|(origin, _)| vec![origin])
            .unwrap_or_default(),
    };
    if origins.is_empty() {
        return Err(problem("WEBAUTHN_ORIGINS", "must name at least one origin"));
    }
    for origin in &origins {
        let host = match origin.split_once("://") {
            Some(("https", authority)) => authority,
            Some(("http", authority)) if dev_mode => authority,
            _ => {
                return Err(problem(
                    "WEBAUTHN_ORIGINS",
                    format!("{origin:?} must be https://host[:port] (http only with DEV_MODE)"),
                ))
            }
        };
        let (host, port) = host.split_once(':').unwrap_or((host, ""));
        let port_ok = port.is_empty() || port.parse::<u16>().is_ok_and(|p| p > 0);
        let in_scope = host == rp_id || host.ends_with(&format!(".{rp_id}"));
        if !port_ok || !is_rp_id(host) || !in_scope {
            return Err(problem(
                "WEBAUTHN_ORIGINS",
                format!(
                    "{origin:?} must be scheme://host[:port] with a host equal to the RP id \
                     {rp_id:?} or under it"
                ),
            ));
        }
    }
    let counter = match read.optional("PASSKEY_COUNTER").as_deref() {
        None | Some("refuse") => SignCounterPolicy::Refuse,
        Some("log") => SignCounterPolicy::Log,
        Some(_) => return Err(problem("PASSKEY_COUNTER", "must be `refuse` or `log`")),
    };
    Ok(Some(RelyingParty {
        id: rp_id,
        name: app_name.to_owned(),
        origins,
        counter,
        recent_sign_in: read.seconds("PASSKEY_RECENT_SIGN_IN", 600, (60, 86400))?,
        challenges: SignInChallenges::new(session_keys),
    }))
}

/// `WEBSOCKET_ORIGINS`: each entry an origin exactly as a browser sends it in `Origin`
/// (`https://host[:port]`, lowercase, no default port, no path), since an upgrade's `Origin` is
/// compared byte for byte: anything else would never match, or match more than was meant.
fn websocket_origins(read: &Reader<'_>, dev_mode: bool) -> Result<Vec<String>, ConfigError> {
    const NAME: &str = "WEBSOCKET_ORIGINS";
    let Some(list) = read.optional(NAME) else {
        return Ok(Vec::new());
    };
    let mut origins = Vec::new();
    for entry in list.split(',').map(str::trim) {
        let origin = entry.to_ascii_lowercase();
        let (scheme, authority) = origin.split_once("://").ok_or_else(|| {
            problem(
                NAME,
                format!("{entry:?} is not an origin: write scheme://host[:port]"),
            )
        })?;
        let default_port = match scheme {
            "https" => ":443",
            "http" if dev_mode => ":80",
            "http" => {
                return Err(problem(
                    NAME,
                    format!("{entry:?} uses http, allowed only with DEV_MODE: a page served in clear can be altered on the way"),
                ))
            }
            _ => return Err(problem(NAME, format!("{entry:?} is not an http(s) origin"))),
        };
        if !is_host_and_port(authority) {
            return Err(problem(
                NAME,
                format!("{entry:?} is not an origin: write scheme://host[:port], without path, wildcard or trailing `/`"),
            ));
        }
        if origin.ends_with(default_port) {
            return Err(problem(
                NAME,
                format!("{entry:?} names its scheme's default port, which browsers leave out of `Origin`: remove it"),
            ));
        }
        origins.push(origin);
    }
    Ok(origins)
}

/// Whether `authority` is `host[:port]` as an origin writes it: a lowercase DNS name or IPv4
/// address, or a bracketed IPv6 address, then an optional port without leading zeros.
fn is_host_and_port(authority: &str) -> bool {
    let (host_ok, port) = match authority.strip_prefix('[') {
        Some(bracketed) => match bracketed.split_once(']') {
            Some((address, port)) => (
                !address.is_empty()
                    && address
                        .bytes()
                        .all(|b| b.is_ascii_hexdigit() || b":.".contains(&b)),
                port,
            ),
            None => (false, ""),
        },
        None => {
            let end = authority.find(':').unwrap_or(authority.len());
            let host = &authority[..end];
            (
                !host.is_empty()
                    && host
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-.".contains(&b)),
                &authority[end..],
            )
        }
    };
    let port_ok = port.is_empty()
        || port.strip_prefix(':').is_some_and(|digits| {
            !digits.starts_with('0')
                && digits.bytes().all(|b| b.is_ascii_digit())
                && digits.parse::<u16>().is_ok()
        });
    host_ok && port_ok
}

fn app_name(read: &Reader<'_>) -> Result<String, ConfigError> {
    let Some(name) = read.optional("APP_NAME") else {
        return Ok(DEFAULT_APP_NAME.to_owned());
    };
    if name.chars().count() > MAX_APP_NAME_LEN {
        return Err(problem(
            "APP_NAME",
            format!("must be at most {MAX_APP_NAME_LEN} characters"),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(problem("APP_NAME", "must not contain control characters"));
    }
    Ok(name)
}

fn admin_secret(read: &Reader<'_>) -> Result<Option<AdminSecret>, ConfigError> {
    let Some(secret) = read.optional("ADMIN_SECRET") else {
        return Ok(None);
    };
    if secret.len() < MIN_ADMIN_SECRET_LEN || !secret.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(problem(
            "ADMIN_SECRET",
            format!(
                "must be at least {MIN_ADMIN_SECRET_LEN} printable ASCII characters, no spaces"
            ),
        ));
    }
    Ok(Some(AdminSecret::new(secret)))
}

impl Config {
    /// Parses and validates the whole configuration.
    pub fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let read = Reader { lookup };
        let dev_mode = read.flag("DEV_MODE", false)?;

        let origin_url = read
            .required("ORIGIN_URL")?
            .trim_end_matches('/')
            .to_owned();
        check_url("ORIGIN_URL", &origin_url, dev_mode)?;
        let authority = origin_url.split_once("://").map_or("", |(_, rest)| rest);
        if authority.contains(['/', '?', '#']) {
            return Err(problem(
                "ORIGIN_URL",
                "must be scheme://host[:port] only: requests keep their own path and query",
            ));
        }
        let issuer = read.required("ISSUER")?;
        let origin_audience = read.required("ORIGIN_AUDIENCE")?;

        let session_keys = SessionKeyRing::parse(&read.required("SESSION_KEYS")?)
            .map_err(|err| problem("SESSION_KEYS", err.to_string()))?;
        let assertion_keys = AssertionKeyRing::parse(&read.required("ASSERTION_KEYS")?)
            .map_err(|err| problem("ASSERTION_KEYS", err.to_string()))?;

        let secure = read.flag("COOKIE_SECURE", true)?;
        if !secure && !dev_mode {
            return Err(problem(
                "COOKIE_SECURE",
                "may be `false` only with DEV_MODE = \"true\" (plain-HTTP local development)",
            ));
        }
        // The refresh cookie is `__Host-` so no sibling subdomain can plant one, and browsers
        // accept that prefix only with `Path=/`; the variable remains so that a configuration
        // narrowing the path fails loudly instead of silently changing meaning.
        if read
            .optional("REFRESH_COOKIE_PATH")
            .is_some_and(|path| path != "/")
        {
            return Err(problem(
                "REFRESH_COOKIE_PATH",
                "must be `/` (or unset): the refresh cookie is `__Host-` so that no sibling \
                 subdomain can plant one, and that prefix requires `Path=/`",
            ));
        }

        let defaults = SessionPolicy::default();
        let policy = SessionPolicy {
            access_ttl: read.seconds("ACCESS_TTL", defaults.access_ttl, (30, 3600))?,
            idle_timeout: read.seconds("IDLE_TIMEOUT", defaults.idle_timeout, (60, 7 * 86400))?,
            absolute_timeout: read.seconds(
                "ABSOLUTE_TIMEOUT",
                defaults.absolute_timeout,
                (300, 90 * 86400),
            )?,
            refresh_grace: read.seconds("REFRESH_GRACE", defaults.refresh_grace, (0, 60))?,
            max_sessions: match read.count(
                "MAX_SESSIONS",
                defaults.max_sessions.unwrap_or(0),
                (0, 1000),
            )? {
                0 => None,
                max => Some(max),
            },
            leeway: read.seconds("CLOCK_LEEWAY", defaults.leeway, (0, MAX_LEEWAY))?,
        };
        if policy.idle_timeout <= policy.access_ttl {
            return Err(problem("IDLE_TIMEOUT", "must be longer than ACCESS_TTL"));
        }
        if policy.absolute_timeout < policy.idle_timeout {
            return Err(problem(
                "ABSOLUTE_TIMEOUT",
                "must not be shorter than IDLE_TIMEOUT",
            ));
        }

        let binding = match read.optional("SESSION_BINDING") {
            None => BindingPolicy::default(),
            Some(text) => BindingPolicy::parse(&text)
                .ok_or_else(|| problem("SESSION_BINDING", "must be `off`, `audit` or `enforce`"))?,
        };

        let dpop = match read.optional("DPOP").as_deref() {
            None | Some("allow") => DpopPolicy::Allow,
            Some("require") => DpopPolicy::Require,
            Some("off") => DpopPolicy::Off,
            Some(_) => return Err(problem("DPOP", "must be `allow`, `require` or `off`")),
        };
        let dpop_nonces = match read.optional("DPOP_NONCE").as_deref() {
            None | Some("off") => None,
            Some("require") if dpop == DpopPolicy::Off => {
                return Err(problem("DPOP_NONCE", "needs DPOP other than `off`"))
            }
            Some("require") => Some(NonceKey::derive(&session_keys)),
            Some(_) => return Err(problem("DPOP_NONCE", "must be `off` or `require`")),
        };

        let device_sessions = DeviceSessions {
            policy: match read.optional("DEVICE_BOUND_SESSIONS").as_deref() {
                None | Some("offer") => DevicePolicy::Offer,
                Some("require") => DevicePolicy::Require,
                Some("off") => DevicePolicy::Off,
                Some(_) => {
                    return Err(problem(
                        "DEVICE_BOUND_SESSIONS",
                        "must be `offer`, `require` or `off`",
                    ))
                }
            },
            cookie_ttl: read.seconds("DEVICE_COOKIE_TTL", 600, (5, 3600))?,
            grace: read.seconds("DEVICE_BOUND_GRACE", 300, (1, 86400))?,
            secrets: DeviceSecrets::derive(&session_keys),
        };

        let credentials = match read.optional("CREDENTIALS").as_deref().unwrap_or("kv") {
            "kv" => Credentials::Kv,
            "origin" => {
                let url = read.required("CREDENTIALS_URL")?;
                check_url("CREDENTIALS_URL", &url, dev_mode)?;
                let secret = read.required("CREDENTIALS_SECRET")?;
                if secret.len() < 32 {
                    return Err(problem(
                        "CREDENTIALS_SECRET",
                        "must be at least 32 characters",
                    ));
                }
                Credentials::Origin {
                    url,
                    secret: OriginSecret::new(secret),
                }
            }
            _ => return Err(problem("CREDENTIALS", "must be `kv` or `origin`")),
        };
        let store = match read.optional("SESSION_STORE").as_deref().unwrap_or("kv") {
            "kv" => StoreBackend::Kv,
            "authority" => StoreBackend::Authority,
            _ => return Err(problem("SESSION_STORE", "must be `kv` or `authority`")),
        };
        let revocation_read = match (read.optional("REVOCATION_READ").as_deref(), store) {
            (None, store) => store,
            (Some("kv"), _) => StoreBackend::Kv,
            (Some("authority"), StoreBackend::Authority) => StoreBackend::Authority,
            (Some("authority"), StoreBackend::Kv) => {
                return Err(problem(
                    "REVOCATION_READ",
                    "`authority` needs SESSION_STORE=authority",
                ))
            }
            _ => return Err(problem("REVOCATION_READ", "must be `kv` or `authority`")),
        };

        let public_paths = read
            .optional("PUBLIC_PATHS")
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|path| !path.is_empty())
            .map(|path| {
                if path == "/" {
                    return Err(problem("PUBLIC_PATHS", "`/` would make every path public"));
                }
                RequestPath::parse(path)
                    .map_err(|err| problem("PUBLIC_PATHS", format!("`{path}`: {err}")))
            })
            .collect::<Result<Vec<RequestPath>, _>>()?;
        let access = AccessPolicy::parse(
            public_paths.iter().map(Rule::public).collect(),
            &read.optional("ACCESS_POLICY").unwrap_or_default(),
        )
        .map_err(|err| problem("ACCESS_POLICY", err.to_string()))?;

        let window = read.seconds("LOGIN_WINDOW", 300, (60, 86400))?;
        let limit = |name, default| -> Result<Limit, ConfigError> {
            Limit::new(read.count(name, default, (1, 10_000))?, window)
                .map_err(|err| problem(name, err.to_string()))
        };

        let app_name = app_name(&read)?;
        let passkeys = passkeys(
            &read,
            &issuer,
            &session_keys,
            &credentials,
            store,
            dev_mode,
            &app_name,
        )?;

        let caches = CacheSettings {
            entries: read.count("ISOLATE_CACHE_ENTRIES", 2048, (0, 100_000))? as usize,
            revocation_ttl: read.seconds("REVOCATION_CACHE_TTL", 5, (0, 30))?,
        };

        Ok(Self {
            origin_url,
            access_audience: Audience {
                issuer: issuer.clone(),
                audience: issuer.clone(),
            },
            assertion_audience: Audience {
                issuer: issuer.clone(),
                audience: origin_audience.clone(),
            },
            issuer,
            origin_audience,
            session_keys,
            assertion_keys,
            assertion_ttl: read.seconds("ASSERTION_TTL", 30, (1, MAX_ASSERTION_TTL))?,
            policy,
            binding,
            cookies: CookieSpec { secure },
            credentials,
            store,
            revocation_read,
            access,
            account_limit: limit("LOGIN_MAX_FAILURES_PER_ACCOUNT", 5)?,
            client_limit: limit("LOGIN_MAX_FAILURES_PER_CLIENT", 20)?,
            login_failure_floor_ms: read.count("LOGIN_FAILURE_FLOOR_MS", 250, (0, 5000))?,
            dpop,
            dpop_nonces,
            device_sessions,
            dev_mode,
            caches,
            websocket_check_interval: read.seconds(
                "WEBSOCKET_CHECK_INTERVAL",
                DEFAULT_WEBSOCKET_CHECK_INTERVAL,
                (1, 3600),
            )?,
            websocket_origins: websocket_origins(&read, dev_mode)?,
            app_name,
            admin_secret: admin_secret(&read)?,
            oidc: OidcConfig::from_lookup(lookup, dev_mode, passkeys.is_some())?,
            passkeys,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::policy::{Access, Requirement};
    use std::collections::HashMap;

    const SESSION_KEYS: &str = "s1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
    const ASSERTION_KEYS: &str = "a1:ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8";

    fn base() -> HashMap<&'static str, String> {
        HashMap::from([
            ("ORIGIN_URL", "https://origin.example/".to_owned()),
            ("ISSUER", "https://edge.example".to_owned()),
            ("ORIGIN_AUDIENCE", "origin".to_owned()),
            ("SESSION_KEYS", SESSION_KEYS.to_owned()),
            ("ASSERTION_KEYS", ASSERTION_KEYS.to_owned()),
        ])
    }

    fn parse(vars: &HashMap<&'static str, String>) -> Result<Config, ConfigError> {
        Config::from_lookup(&|name| vars.get(name).cloned())
    }

    fn with(changes: &[(&'static str, &str)]) -> Result<Config, ConfigError> {
        let mut vars = base();
        for (name, value) in changes {
            vars.insert(name, (*value).to_owned());
        }
        parse(&vars)
    }

    #[test]
    fn passkeys_are_on_for_built_in_users_with_the_authority_and_a_dns_rp_id() {
        let on = with(&[("SESSION_STORE", "authority")]).unwrap();
        let rp = on.passkeys.as_ref().unwrap();
        assert_eq!(rp.id, "edge.example");
        assert_eq!(rp.origins, ["https://edge.example"]);
        assert_eq!(rp.counter, SignCounterPolicy::Refuse);
        assert_eq!(rp.recent_sign_in, 600);
        // Where they cannot work, they are off unless asked for, and then refused with why.
        assert!(with(&[]).unwrap().passkeys.is_none(), "KV store");
        let ip = [
            ("SESSION_STORE", "authority"),
            ("ISSUER", "https://127.0.0.1:8787"),
        ];
        assert!(with(&ip).unwrap().passkeys.is_none());
        let err = with(&[ip[0], ip[1], ("PASSKEYS", "on")]).unwrap_err();
        assert!(
            err.variable == "PASSKEYS" && err.problem.contains("DNS name"),
            "{err}"
        );
        let err = with(&[("PASSKEYS", "on")]).unwrap_err();
        assert!(err.problem.contains("session authority"), "{err}");
        assert!(with(&[("SESSION_STORE", "authority"), ("PASSKEYS", "off")])
            .unwrap()
            .passkeys
            .is_none());
    }

    #[test]
    fn passkey_origins_must_sit_under_the_rp_id() {
        let local = with(&[
            ("SESSION_STORE", "authority"),
            ("DEV_MODE", "true"),
            ("COOKIE_SECURE", "false"),
            ("WEBAUTHN_RP_ID", "localhost"),
            ("WEBAUTHN_ORIGINS", "http://localhost:8787"),
            ("PASSKEY_COUNTER", "log"),
        ])
        .unwrap();
        let rp = local.passkeys.unwrap();
        assert_eq!(
            (rp.id.as_str(), rp.counter),
            ("localhost", SignCounterPolicy::Log)
        );
        let other = with(&[
            ("SESSION_STORE", "authority"),
            ("WEBAUTHN_RP_ID", "other.example"),
            ("WEBAUTHN_ORIGINS", "https://edge.example"),
        ]);
        assert_eq!(
            other.unwrap_err().variable,
            "WEBAUTHN_ORIGINS",
            "not under the RP id"
        );
        for bad in [
            "example",
            "https://edge.example",
            "edge.example:443",
            "Edge.Example",
            "10.0.0.1",
        ] {
            let err = with(&[("SESSION_STORE", "authority"), ("WEBAUTHN_RP_ID", bad)]).unwrap_err();
            assert_eq!(err.variable, "WEBAUTHN_RP_ID", "{bad}");
        }
        for (name, value) in [
            ("WEBAUTHN_ORIGINS", "http://edge.example"),
            ("WEBAUTHN_ORIGINS", "https://evil.example"),
            ("WEBAUTHN_ORIGINS", "https://edge.example/path"),
            ("WEBAUTHN_ORIGINS", "https://edge.example:0"),
            ("WEBAUTHN_ORIGINS", " , "),
            ("PASSKEY_COUNTER", "ignore"),
            ("PASSKEY_RECENT_SIGN_IN", "30"),
            ("PASSKEYS", "yes"),
        ] {
            let err = with(&[("SESSION_STORE", "authority"), (name, value)]).unwrap_err();
            assert_eq!(err.variable, name, "{name}={value}: {err}");
        }
        let both = with(&[
            ("SESSION_STORE", "authority"),
            ("WEBAUTHN_RP_ID", "edge.example"),
            (
                "WEBAUTHN_ORIGINS",
                "https://edge.example,https://app.edge.example:8443",
            ),
        ])
        .unwrap();
        assert_eq!(both.passkeys.unwrap().origins.len(), 2);
    }

    #[test]
    fn the_revocation_read_follows_the_store_unless_set_to_kv() {
        let authority = with(&[("SESSION_STORE", "authority")]).unwrap();
        assert_eq!(authority.revocation_read, StoreBackend::Authority);
        let kv_read = with(&[("SESSION_STORE", "authority"), ("REVOCATION_READ", "kv")]).unwrap();
        assert_eq!(kv_read.revocation_read, StoreBackend::Kv);
    }

    #[test]
    fn minimal_configuration_gets_safe_defaults() {
        let config = parse(&base()).unwrap();
        assert_eq!(config.origin_url, "https://origin.example");
        assert!(config.cookies.secure);
        assert_eq!(config.policy, SessionPolicy::default());
        assert_eq!(config.credentials, Credentials::Kv);
        assert_eq!(config.store, StoreBackend::Kv);
        assert_eq!(config.revocation_read, StoreBackend::Kv);
        assert_eq!(config.assertion_ttl, 30);
        assert!(!config.dev_mode);
        assert_eq!(config.access, AccessPolicy::default());
        assert_eq!(config.caches, CacheSettings::default());
        assert_eq!(
            config.origin_target("/a b", Some("q=1")),
            "https://origin.example/a b?q=1"
        );
        assert_eq!(config.access_audience.audience, "https://edge.example");
        assert_eq!(config.assertion_audience.audience, "origin");
        assert_eq!(config.app_name, "edgegate");
        assert_eq!(config.websocket_check_interval, 30);
    }

    #[test]
    fn the_websocket_check_interval_is_a_whole_number_of_seconds_from_1_to_3600() {
        for (text, seconds) in [("1", 1), (" 5 ", 5), ("3600", 3600)] {
            let config = with(&[("WEBSOCKET_CHECK_INTERVAL", text)]).unwrap();
            assert_eq!(config.websocket_check_interval, seconds);
        }
        for text in ["0", "-1", "3601", "1.5", "30s"] {
            let err = with(&[("WEBSOCKET_CHECK_INTERVAL", text)]).unwrap_err();
            assert_eq!(err.variable, "WEBSOCKET_CHECK_INTERVAL", "{text}");
        }
        let err = with(&[("WEBSOCKET_CHECK_INTERVAL", "0")]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "WEBSOCKET_CHECK_INTERVAL: must be between 1 and 3600 seconds"
        );
    }

    #[test]
    fn websocket_origins_are_exact_origins() {
        assert!(parse(&base()).unwrap().websocket_origins.is_empty());
        let config = with(&[(
            "WEBSOCKET_ORIGINS",
            " https://app.example, https://Admin.App.example:8443 ,https://[::1]:9000",
        )])
        .unwrap();
        assert_eq!(
            config.websocket_origins,
            [
                "https://app.example",
                "https://admin.app.example:8443",
                "https://[::1]:9000"
            ]
        );
        for value in [
            "https://app.example/",
            "https://app.example/chat",
            "app.example",
            "https://*.app.example",
            "ftp://app.example",
            "https://",
            "https://app.example:",
            "https://app.example:99999",
            "https://app.example:443",
            "https://user@app.example",
            "https://app.example?x",
            "https://app.example,",
            "http://app.example",
            "null",
        ] {
            let err = with(&[("WEBSOCKET_ORIGINS", value)]).unwrap_err();
            assert_eq!(err.variable, "WEBSOCKET_ORIGINS", "{value}");
        }
        let dev = with(&[
            ("DEV_MODE", "true"),
            ("WEBSOCKET_ORIGINS", "http://localhost:5173"),
        ])
        .unwrap();
        assert_eq!(dev.websocket_origins, ["http://localhost:5173"]);
    }

    #[test]
    fn the_app_name_is_configurable_and_bounded() {
        assert_eq!(
            with(&[("APP_NAME", "  Acme <Portal> & \"Co\" ")])
                .unwrap()
                .app_name,
            "Acme <Portal> & \"Co\""
        );
        assert_eq!(with(&[("APP_NAME", " ")]).unwrap().app_name, "edgegate");
        let long = "x".repeat(MAX_APP_NAME_LEN + 1);
        assert_eq!(
            with(&[("APP_NAME", &long)]).unwrap_err().variable,
            "APP_NAME"
        );
        assert_eq!(
            with(&[("APP_NAME", "a\u{7}b")]).unwrap_err().variable,
            "APP_NAME"
        );
    }

    #[test]
    fn broken_configurations_name_the_variable() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[("ORIGIN_URL", "")], "ORIGIN_URL"),
            (&[("ORIGIN_URL", "origin.example")], "ORIGIN_URL"),
            (&[("ORIGIN_URL", "http://origin.example")], "ORIGIN_URL"),
            (
                &[("ORIGIN_URL", "https://user@origin.example")],
                "ORIGIN_URL",
            ),
            (&[("SESSION_KEYS", "s1:AAAA")], "SESSION_KEYS"),
            (&[("ASSERTION_KEYS", "garbage")], "ASSERTION_KEYS"),
            (&[("COOKIE_SECURE", "false")], "COOKIE_SECURE"),
            (&[("COOKIE_SECURE", "yes")], "COOKIE_SECURE"),
            (&[("ACCESS_TTL", "5")], "ACCESS_TTL"),
            (&[("ACCESS_TTL", "five minutes")], "ACCESS_TTL"),
            (
                &[("IDLE_TIMEOUT", "120"), ("ACCESS_TTL", "300")],
                "IDLE_TIMEOUT",
            ),
            (&[("ABSOLUTE_TIMEOUT", "600")], "ABSOLUTE_TIMEOUT"),
            (&[("ASSERTION_TTL", "3600")], "ASSERTION_TTL"),
            (&[("CREDENTIALS", "ldap")], "CREDENTIALS"),
            (&[("CREDENTIALS", "origin")], "CREDENTIALS_URL"),
            (
                &[
                    ("CREDENTIALS", "origin"),
                    ("CREDENTIALS_URL", "https://o.example/verify"),
                    ("CREDENTIALS_SECRET", "short"),
                ],
                "CREDENTIALS_SECRET",
            ),
            (&[("SESSION_STORE", "redis")], "SESSION_STORE"),
            (&[("REVOCATION_READ", "authority")], "REVOCATION_READ"),
            (
                &[("SESSION_STORE", "authority"), ("REVOCATION_READ", "both")],
                "REVOCATION_READ",
            ),
            (&[("SESSION_BINDING", "strict")], "SESSION_BINDING"),
            (&[("SESSION_BINDING", "Enforce")], "SESSION_BINDING"),
            (
                &[("ORIGIN_URL", "https://origin.example/app")],
                "ORIGIN_URL",
            ),
            (
                &[("ORIGIN_URL", "https://origin.example?a=1")],
                "ORIGIN_URL",
            ),
            (&[("REVOCATION_CACHE_TTL", "60")], "REVOCATION_CACHE_TTL"),
            (
                &[("ISOLATE_CACHE_ENTRIES", "many")],
                "ISOLATE_CACHE_ENTRIES",
            ),
            (&[("PUBLIC_PATHS", "public/")], "PUBLIC_PATHS"),
            (&[("PUBLIC_PATHS", "/")], "PUBLIC_PATHS"),
            (&[("PUBLIC_PATHS", "/public/../")], "PUBLIC_PATHS"),
            (&[("PUBLIC_PATHS", "/a, /b;x/")], "PUBLIC_PATHS"),
            (&[("PUBLIC_PATHS", "/pub%2flic/")], "PUBLIC_PATHS"),
            (
                &[("REFRESH_COOKIE_PATH", "/auth/refresh")],
                "REFRESH_COOKIE_PATH",
            ),
            (&[("REFRESH_COOKIE_PATH", "auth")], "REFRESH_COOKIE_PATH"),
            (&[("LOGIN_WINDOW", "30")], "LOGIN_WINDOW"),
            (
                &[("LOGIN_MAX_FAILURES_PER_ACCOUNT", "0")],
                "LOGIN_MAX_FAILURES_PER_ACCOUNT",
            ),
            (&[("DPOP", "on")], "DPOP"),
            (&[("DEVICE_BOUND_SESSIONS", "on")], "DEVICE_BOUND_SESSIONS"),
            (&[("DEVICE_COOKIE_TTL", "4")], "DEVICE_COOKIE_TTL"),
            (&[("DEVICE_BOUND_GRACE", "0")], "DEVICE_BOUND_GRACE"),
            (&[("DPOP", "Require")], "DPOP"),
            (&[("DPOP_NONCE", "yes")], "DPOP_NONCE"),
            (&[("DPOP", "off"), ("DPOP_NONCE", "require")], "DPOP_NONCE"),
            (
                &[("LOGIN_FAILURE_FLOOR_MS", "5001")],
                "LOGIN_FAILURE_FLOOR_MS",
            ),
            (
                &[("LOGIN_FAILURE_FLOOR_MS", "-1")],
                "LOGIN_FAILURE_FLOOR_MS",
            ),
        ];
        for (changes, variable) in cases {
            let err = with(changes).unwrap_err();
            assert_eq!(&err.variable, variable, "{changes:?}: {err}");
        }
    }

    #[test]
    fn errors_never_echo_secrets() {
        let err = with(&[("SESSION_KEYS", "s1:c2VjcmV0")]).unwrap_err();
        assert!(!err.to_string().contains("c2VjcmV0"), "{err}");
    }

    #[test]
    fn development_mode_allows_plain_http_only_when_asked() {
        let config = with(&[
            ("DEV_MODE", "true"),
            ("COOKIE_SECURE", "false"),
            ("ORIGIN_URL", "http://127.0.0.1:8788"),
        ])
        .unwrap();
        assert!(!config.cookies.secure);
        assert!(config.dev_mode);
    }

    #[test]
    fn session_binding_is_enforced_unless_relaxed() {
        assert_eq!(with(&[]).unwrap().binding, BindingPolicy::Enforce);
        for (text, policy) in [
            ("off", BindingPolicy::Off),
            ("audit", BindingPolicy::Audit),
            (" enforce ", BindingPolicy::Enforce),
        ] {
            assert_eq!(with(&[("SESSION_BINDING", text)]).unwrap().binding, policy);
        }
    }

    #[test]
    fn single_session_mode_and_unlimited_sessions() {
        assert!(with(&[("MAX_SESSIONS", "1")])
            .unwrap()
            .policy
            .single_session());
        assert_eq!(
            with(&[("MAX_SESSIONS", "0")]).unwrap().policy.max_sessions,
            None
        );
    }

    fn path(text: &str) -> RequestPath {
        RequestPath::parse(text).unwrap()
    }

    #[test]
    fn public_paths_match_exactly_or_by_folder() {
        let config = with(&[("PUBLIC_PATHS", "/favicon.ico, /public/, /caf%C3%A9/")]).unwrap();
        let is_public =
            |at: &str| config.access.requirement("GET", None, &path(at)) == Requirement::Public;
        assert!(is_public("/favicon.ico"));
        assert!(is_public("/public/"));
        assert!(is_public("/public/logo.png"));
        assert!(is_public("/public/a/b.css"));
        assert!(is_public("/caf%c3%a9/menu"));
        assert!(is_public("/%70ublic/logo.png"));
        assert!(!is_public("/favicon.ico.evil"));
        assert!(!is_public("/favicon.ico/"));
        assert!(!is_public("/publicity"));
        assert!(!is_public("/public"));
        assert!(!is_public("/Public/logo.png"));
        assert!(!is_public("/private"));
    }

    #[test]
    fn public_paths_come_before_the_access_policy() {
        let config = with(&[
            ("PUBLIC_PATHS", "/public/"),
            ("ACCESS_POLICY", "/** roles-all admin\n"),
        ])
        .unwrap();
        let needs = |at: &str| config.access.requirement("GET", None, &path(at));
        assert_eq!(needs("/public/a"), Requirement::Public);
        assert!(matches!(
            needs("/public"),
            Requirement::Session(Access::Roles { .. })
        ));
    }

    #[test]
    fn a_bad_access_policy_names_the_variable_and_the_rule() {
        let err = with(&[("ACCESS_POLICY", "/a public\n/b roles-any\n")]).unwrap_err();
        assert_eq!(err.variable, "ACCESS_POLICY");
        let shown = err.to_string();
        assert!(shown.contains("rule 2 (`/b roles-any`)"), "{shown}");
    }

    #[test]
    fn the_refresh_cookie_path_can_only_be_the_whole_site() {
        assert!(with(&[("REFRESH_COOKIE_PATH", "/")]).is_ok());
        let err = with(&[("REFRESH_COOKIE_PATH", "/auth/refresh")]).unwrap_err();
        assert!(err.to_string().contains("__Host-"), "{err}");
    }

    #[test]
    fn origin_credentials_are_parsed() {
        let secret = "0123456789abcdef0123456789abcdef";
        let config = with(&[
            ("CREDENTIALS", "origin"),
            ("CREDENTIALS_URL", "https://o.example/verify"),
            ("CREDENTIALS_SECRET", secret),
        ])
        .unwrap();
        assert_eq!(
            config.credentials,
            Credentials::Origin {
                url: "https://o.example/verify".into(),
                secret: OriginSecret::new(secret.into())
            }
        );
    }
}
