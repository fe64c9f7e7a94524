//! The request, read once.
//!
//! Everything the core decides about a request depends on a handful of its facts: the method
//! and path, our two cookies (and the `Cookie` header the origin may see) or a bearer token in
//! `Authorization`, the client address,
//! whether it is a browser navigation and whether it comes from another site. The shell reads
//! them from the runtime's request exactly once, through a header lookup, into [`RequestFacts`];
//! no later step parses a header again, so two steps can never read one header two ways.

use crate::auth::http::cookie::{strip_session_cookies, CookieJar, CookieNames};
use crate::auth::secret::AccessToken;
use crate::auth::session::refresh::PresentedRefresh;

/// Longer `Authorization: Bearer` tokens are malformed: ours are a few hundred bytes.
pub const MAX_BEARER_TOKEN: usize = 4096;

/// Our authentication schemes, matched without regard to ASCII case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// `Bearer` (RFC 6750): whoever holds the token.
    Bearer,
    /// `DPoP` (RFC 9449): the token with a proof by the key it is bound to.
    Dpop,
}

/// The scheme of `credential` if it is ours, and what follows it, else `None`.
///
/// The scheme is the credential's leading run of RFC 9110 token characters, so `Bearer` is ours
/// whatever comes after it (a space, a tab, a colon, a non-ASCII byte, nothing), while
/// `Bearertoken` is another scheme. Reading only `Bearer` + one space as ours would hand a
/// token written after a tab to the origin, which may well read it.
fn strip_scheme(credential: &str) -> Option<(Scheme, &str)> {
    let scheme_end = credential
        .find(|c: char| !is_tchar(c))
        .unwrap_or(credential.len());
    let (scheme, rest) = credential.split_at(scheme_end);
    if scheme.eq_ignore_ascii_case("bearer") {
        Some((Scheme::Bearer, rest))
    } else if scheme.eq_ignore_ascii_case("dpop") {
        Some((Scheme::Dpop, rest))
    } else {
        None
    }
}

/// Whether one of the comma-separated credentials of an `Authorization` header names one of
/// our schemes.
fn names_ours(credential: &str) -> bool {
    strip_scheme(credential.trim_start()).is_some()
}

/// An RFC 9110 `tchar`: what header names and authentication schemes are made of.
pub fn is_tchar(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

/// Whether `name` is an RFC 9110 field name: one or more [`is_tchar`] characters.
pub fn is_field_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(is_tchar)
}

/// The credential of an `Authorization` header whose scheme is ours (`Bearer` or `DPoP`, any
/// case), with its scheme, as written after the scheme and its spaces or tabs: the scheme `None`
/// and the text empty when the header is not one credential of ours alone. `None` when no
/// credential of the header names either: another scheme, the origin's business. Every reader
/// of a credential in `Authorization` (access tokens, the admin secret) starts here.
pub fn our_credential(header: Option<&str>) -> Option<(Option<Scheme>, &str)> {
    let value = header?;
    if !value.split(',').any(names_ours) {
        return None;
    }
    // Ours from here on: a credential if the whole header is one scheme, whitespace, one value.
    Some(
        strip_scheme(value.trim_start())
            .and_then(|(scheme, rest)| {
                let token = rest.strip_prefix(|c: char| c == ' ' || c == '\t')?;
                Some((
                    Some(scheme),
                    token.trim_start_matches([' ', '\t']).trim_end(),
                ))
            })
            .unwrap_or((None, "")),
    )
}

/// The credential of an `Authorization: Bearer` header, as [`our_credential`] reads it: empty
/// when the header is ours but not one `Bearer` credential, `None` when it is not ours.
pub fn bearer_text(header: Option<&str>) -> Option<&str> {
    our_credential(header).map(|(scheme, text)| {
        if scheme == Some(Scheme::Bearer) {
            text
        } else {
            ""
        }
    })
}

/// What the `Authorization` header says about an access token presented as a bearer token
/// (RFC 6750 §2.1) or a DPoP-bound one (RFC 9449 §7.1), the non-browser alternatives to the
/// access cookie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BearerCredential {
    /// No `Authorization` header, or one of another scheme, which is the origin's business.
    Absent,
    /// One of our schemes with something that is not one token (empty, oversized, characters
    /// outside RFC 6750's `b64token`, several credentials): never a session, never forwarded.
    Malformed,
    /// A well-formed bearer token, not yet validated.
    Token(AccessToken),
    /// A well-formed token in the `DPoP` scheme, not yet validated: it counts only with a proof.
    Proven(AccessToken),
}

impl BearerCredential {
    /// Reads `header`, the request's `Authorization` header, if any. Two headers reach us
    /// joined by a comma; when any of their credentials names `Bearer`, the whole is malformed,
    /// so no bearer token ever rides along to the origin behind another scheme. The scheme is
    /// ours whatever separates it from the token (its leading run of token characters): spaces and tabs are
    /// read as the separator, anything else makes the credential malformed, never the origin's.
    pub fn read(header: Option<&str>) -> Self {
        let Some((scheme, token)) = our_credential(header) else {
            return Self::Absent;
        };
        let b64token = |byte: u8| byte.is_ascii_alphanumeric() || b"-._~+/".contains(&byte);
        let body = token.trim_end_matches('=');
        if body.is_empty() || token.len() > MAX_BEARER_TOKEN || !body.bytes().all(b64token) {
            return Self::Malformed;
        }
        let token = AccessToken::new(token.to_owned());
        match scheme {
            Some(Scheme::Bearer) => Self::Token(token),
            Some(Scheme::Dpop) => Self::Proven(token),
            None => Self::Malformed,
        }
    }

    /// Whether the request presented a bearer token at all, well-formed or not: then it is
    /// judged by that alone, and its cookies are neither read nor cleared.
    pub fn presented(&self) -> bool {
        *self != Self::Absent
    }
}

/// What the `Cookie` header says about our session cookies.
#[derive(Debug, Clone, PartialEq, Eq)]
enum CookieState {
    /// No `Cookie` header, or none of our cookies in it.
    Absent,
    /// Malformed, oversized, or one of our names twice (cookie tossing): nothing in it is
    /// trusted, not even a refresh token.
    Untrusted,
    Found {
        access: Option<String>,
        refresh: Option<String>,
    },
}

/// Our session cookies as a request presents them, and the `Cookie` header left for the origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionCookies {
    state: CookieState,
    flow: Option<String>,
    device: Option<String>,
    forward: Option<String>,
}

impl SessionCookies {
    /// Reads `header` (the request's `Cookie` header, if any) for the cookies named `names`.
    pub fn read(header: Option<&str>, names: CookieNames) -> Self {
        let Some(header) = header else {
            return Self {
                state: CookieState::Absent,
                flow: None,
                device: None,
                forward: None,
            };
        };
        let jar = CookieJar::parse(header);
        // The flow cookie is read for the OpenID callback only, and never forwarded; two of it
        // (one planted) is no flow at all.
        let flow = jar
            .as_ref()
            .ok()
            .and_then(|jar| jar.unique(names.flow).ok().flatten())
            .map(str::to_owned);
        // So is the device cookie, which only ever proves something with a live MAC.
        let device = jar
            .as_ref()
            .ok()
            .and_then(|jar| jar.unique(names.device).ok().flatten())
            .map(str::to_owned);
        let state = match jar {
            Err(_) => CookieState::Untrusted,
            Ok(jar) => match (jar.unique(names.access), jar.unique(names.refresh)) {
                (Ok(None), Ok(None)) => CookieState::Absent,
                (Ok(access), Ok(refresh)) => CookieState::Found {
                    access: access.filter(|token| !token.is_empty()).map(str::to_owned),
                    refresh: refresh.map(str::to_owned),
                },
                _ => CookieState::Untrusted,
            },
        };
        Self {
            state,
            flow,
            device,
            forward: strip_session_cookies(header),
        }
    }

    /// Whether the header could not be trusted (malformed, oversized, or cookie tossing).
    pub fn untrusted(&self) -> bool {
        self.state == CookieState::Untrusted
    }

    /// The access token, if one (non-empty) was presented in a trustworthy header.
    pub fn access(&self) -> Option<&str> {
        match &self.state {
            CookieState::Found { access, .. } => access.as_deref(),
            _ => None,
        }
    }

    /// The refresh token, if a well-formed one was presented in a trustworthy header.
    pub fn refresh(&self) -> Option<PresentedRefresh> {
        match &self.state {
            CookieState::Found {
                refresh: Some(token),
                ..
            } => PresentedRefresh::parse(token),
            _ => None,
        }
    }

    /// The OpenID flow cookie's value, if exactly one was presented in a header that parsed.
    pub fn flow(&self) -> Option<&str> {
        self.flow.as_deref()
    }

    /// The device-bound session's cookie value, if exactly one was presented in a header that
    /// parsed.
    pub fn device(&self) -> Option<&str> {
        self.device.as_deref()
    }

    /// The `Cookie` header for the origin: every cookie but ours, or `None` when none is left.
    pub fn forward(&self) -> Option<&str> {
        self.forward.as_deref()
    }
}

/// The facts of one request the core decides on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestFacts {
    /// The HTTP method, as sent (upper-case for the standard ones).
    pub method: String,
    /// The URL path, as the runtime parsed it (dot segments resolved, percent-encoding kept).
    pub path: String,
    /// The URL's query, without the `?`; `None` when the URL has none.
    pub query: Option<String>,
    /// The session cookies found in `Cookie`, and what is left of it for the origin.
    pub cookies: SessionCookies,
    /// An access token in `Authorization: Bearer` or `DPoP`, which takes the cookies' place.
    pub bearer: BearerCredential,
    /// The `DPoP` header, as sent (several joined by commas): the proof that comes with a
    /// key-bound token, or with a token request that binds one.
    pub dpop: Option<String>,
    /// `CF-Connecting-IP`; the platform sets it on every request it serves (not in local runs).
    pub client_ip: Option<String>,
    /// The URL's scheme and host (without port), as the client addressed this edge.
    pub scheme: String,
    /// The host the client addressed, without port.
    pub host: String,
    /// `User-Agent`, empty when absent: what the session's device binding is judged by.
    pub user_agent: String,
    /// A browser navigation (GET or HEAD accepting HTML): gets redirects, not 401s.
    pub navigation: bool,
    /// Sent by a page of another site (`Sec-Fetch-Site`, else `Origin`).
    pub cross_site: bool,
    /// The client asked for JSON (`Accept`).
    pub accepts_json: bool,
    /// `Content-Type` of the body, as sent; `None` when absent.
    pub content_type: Option<String>,
    /// The method a CORS preflight announces: set on an `OPTIONS` request that carries
    /// `Origin` and `Access-Control-Request-Method`.
    pub preflight: Option<String>,
    /// This edge's own origin (`scheme://host[:port]`), as the client addressed it.
    pub own_origin: String,
    /// `Origin`, as sent: the page that made the request, when a browser says.
    pub origin: Option<String>,
    /// `Upgrade`, as sent: the protocols the client asks to switch to.
    pub upgrade: Option<String>,
    /// The name of every header, as the runtime listed them: what admission checks and the
    /// forwarder drops by rule.
    pub header_names: Vec<String>,
    /// Whether a body is attached.
    pub has_body: bool,
    /// The device-bound session protocol's headers.
    pub device: DeviceHeaders,
}

/// The headers of the device-bound session protocol, as sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeviceHeaders {
    /// `Secure-Session-Response`: the browser's signed response.
    pub response: Option<String>,
    /// `Sec-Secure-Session-Id`: the session a renewal is for.
    pub session: Option<String>,
    /// `Secure-Session-Skipped`: why the browser did not renew.
    pub skipped: Option<String>,
}

/// Where the runtime's request is read from: the method, this edge's own origin
/// (`scheme://host[:port]`), the URL's path and query, and a header lookup.
pub struct RawRequest<'a> {
    /// The HTTP method, as sent.
    pub method: &'a str,
    /// The URL's scheme (`https`, or `http` in local runs).
    pub scheme: &'a str,
    /// The URL's host, without port; empty when the URL has none.
    pub host: &'a str,
    /// This edge's own origin (`scheme://host[:port]`), to tell cross-site requests apart.
    pub own_origin: &'a str,
    /// The URL path, as the runtime parsed it.
    pub path: &'a str,
    /// The URL's query, without the `?`; `None` when the URL has none.
    pub query: Option<&'a str>,
    /// Looks up a request header by name; `None` when it is absent.
    pub header: &'a dyn Fn(&str) -> Option<String>,
    /// The name of every header, as the runtime hands them over.
    pub header_names: &'a [String],
    /// Whether a body is attached.
    pub has_body: bool,
}

impl RequestFacts {
    /// Reads every fact once; `names` are the session cookies' names of this deployment.
    pub fn read(raw: RawRequest<'_>, names: CookieNames) -> Self {
        let header = raw.header;
        let accept = header("Accept");
        let origin = header("Origin");
        let cross_site = is_cross_site(
            header("Sec-Fetch-Site").as_deref(),
            origin.as_deref(),
            raw.own_origin,
        );
        Self {
            navigation: is_navigation(raw.method, accept.as_deref()),
            accepts_json: accept
                .as_deref()
                .is_some_and(|accept| accept.contains("application/json")),
            method: raw.method.to_owned(),
            path: raw.path.to_owned(),
            query: raw.query.map(str::to_owned),
            cookies: SessionCookies::read(header("Cookie").as_deref(), names),
            bearer: BearerCredential::read(header("Authorization").as_deref()),
            dpop: header("DPoP"),
            client_ip: header("CF-Connecting-IP"),
            scheme: raw.scheme.to_owned(),
            host: raw.host.to_owned(),
            user_agent: header("User-Agent").unwrap_or_default(),
            cross_site,
            content_type: header("Content-Type"),
            preflight: match (raw.method, &origin) {
                ("OPTIONS", Some(_)) => header("Access-Control-Request-Method"),
                _ => None,
            },
            own_origin: raw.own_origin.to_owned(),
            origin,
            upgrade: header("Upgrade"),
            header_names: raw.header_names.to_vec(),
            has_body: raw.has_body,
            device: DeviceHeaders {
                response: header("Secure-Session-Response"),
                session: header("Sec-Secure-Session-Id"),
                skipped: header("Secure-Session-Skipped"),
            },
        }
    }

    /// Whether every header name is an RFC 9110 token (see [`is_field_name`]).
    pub fn header_names_are_tokens(&self) -> bool {
        self.header_names.iter().all(|name| is_field_name(name))
    }

    /// Whether `Upgrade` asks for a WebSocket, alone or among other protocols (any case, with
    /// or without a version).
    pub fn asks_websocket(&self) -> bool {
        self.upgrade.as_deref().is_some_and(|protocols| {
            protocols.split(',').any(|protocol| {
                let name = protocol.trim().split('/').next().unwrap_or_default();
                name.eq_ignore_ascii_case("websocket")
            })
        })
    }

    /// The client address for audit lines and throttling: `unknown` where there is none.
    pub fn client(&self) -> &str {
        self.client_ip.as_deref().unwrap_or("unknown")
    }

    /// The path and query, as the target of a login redirect.
    pub fn target(&self) -> String {
        match &self.query {
            Some(query) => format!("{}?{query}", self.path),
            None => self.path.clone(),
        }
    }

    /// Whether the body is an HTML form (`application/x-www-form-urlencoded`).
    pub fn is_form(&self) -> bool {
        self.content_type
            .as_deref()
            .is_some_and(|kind| kind.starts_with("application/x-www-form-urlencoded"))
    }
}

/// Whether a request is a browser navigation (which gets redirects and in-place refresh) rather
/// than an API call (which gets 401 JSON).
pub fn is_navigation(method: &str, accept: Option<&str>) -> bool {
    matches!(method, "GET" | "HEAD") && accept.is_some_and(|accept| accept.contains("text/html"))
}

/// Whether a state-changing request comes from another site (login and logout CSRF).
/// Browsers send `Sec-Fetch-Site` and `Origin`; a client that sends neither is not a browser
/// and cannot carry a victim's cookies.
pub fn is_cross_site(sec_fetch_site: Option<&str>, origin: Option<&str>, own_origin: &str) -> bool {
    if let Some(site) = sec_fetch_site {
        return !matches!(site, "same-origin" | "none");
    }
    origin.is_some_and(|origin| origin != own_origin)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::auth::http::cookie::cookie_names;

    /// Facts for a request with `headers`, as the shell would read them.
    pub(crate) fn facts(method: &str, path: &str, headers: &[(&str, &str)]) -> RequestFacts {
        let lookup = |name: &str| {
            headers
                .iter()
                .find(|(candidate, _)| candidate.eq_ignore_ascii_case(name))
                .map(|(_, value)| (*value).to_owned())
        };
        let (path, query) = match path.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (path, None),
        };
        let names: Vec<String> = headers.iter().map(|(name, _)| (*name).to_owned()).collect();
        RequestFacts::read(
            RawRequest {
                method,
                scheme: "https",
                host: "edge.example",
                own_origin: "https://edge.example",
                path,
                query,
                header: &lookup,
                header_names: &names,
                has_body: false,
            },
            cookie_names(true),
        )
    }

    #[test]
    fn cookies_are_read_once_into_tokens_and_the_forwarded_header() {
        let names = cookie_names(true);
        let header = format!("theme=dark; {}=tok; {}=nope", names.access, names.refresh);
        let cookies = SessionCookies::read(Some(&header), names);
        assert_eq!(cookies.access(), Some("tok"));
        assert_eq!(cookies.refresh(), None, "a malformed refresh token is none");
        assert_eq!(cookies.forward(), Some("theme=dark"));
        assert!(!cookies.untrusted());
    }

    #[test]
    fn the_flow_cookie_is_read_for_the_edge_and_never_forwarded() {
        let names = cookie_names(true);
        let header = "theme=dark; __Host-eg_oidc=flow.jws; __Secure-eg_oidc=planted";
        let cookies = SessionCookies::read(Some(header), names);
        assert_eq!(cookies.flow(), Some("flow.jws"));
        assert_eq!(cookies.forward(), Some("theme=dark"));
        assert!(
            !cookies.untrusted(),
            "a flow cookie says nothing of the session"
        );
        // Two of it, one planted: no flow at all.
        let twice = "__Host-eg_oidc=a; __Host-eg_oidc=b";
        let cookies = SessionCookies::read(Some(twice), names);
        assert_eq!(cookies.flow(), None);
        assert_eq!(cookies.forward(), None);
        // Plain-HTTP development reads the unprefixed name.
        let dev = SessionCookies::read(Some("eg_oidc=d; x=1"), cookie_names(false));
        assert_eq!(dev.flow(), Some("d"));
        assert_eq!(dev.forward(), Some("x=1"));
        assert_eq!(SessionCookies::read(None, names).flow(), None);
    }

    #[test]
    fn tossed_or_malformed_cookies_trust_nothing_but_still_strip() {
        let names = cookie_names(true);
        let tossed = format!("{n}=a; {n}=b; x=1", n = names.access);
        let cookies = SessionCookies::read(Some(&tossed), names);
        assert!(cookies.untrusted());
        assert_eq!(cookies.access(), None);
        assert_eq!(cookies.forward(), Some("x=1"));
        let huge = "a=".to_owned() + &"b".repeat(10_000);
        assert!(SessionCookies::read(Some(&huge), names).untrusted());
        let absent = SessionCookies::read(None, names);
        assert!(!absent.untrusted() && absent.access().is_none() && absent.forward().is_none());
        let empty = format!("{}=", names.access);
        assert_eq!(SessionCookies::read(Some(&empty), names).access(), None);
    }

    #[test]
    fn facts_are_read_from_the_headers() {
        let facts = facts(
            "GET",
            "/a?b=1",
            &[
                ("Accept", "text/html"),
                ("CF-Connecting-IP", "192.0.2.1"),
                ("User-Agent", "UA"),
            ],
        );
        assert!(facts.navigation && !facts.cross_site && !facts.accepts_json);
        assert_eq!(facts.client(), "192.0.2.1");
        assert_eq!(
            (facts.scheme.as_str(), facts.host.as_str()),
            ("https", "edge.example")
        );
        assert_eq!(facts.target(), "/a?b=1");
        let anonymous = super::tests::facts("POST", "/x", &[]);
        assert_eq!(anonymous.client(), "unknown");
        assert!(!anonymous.navigation);
    }

    #[test]
    fn a_bearer_token_is_read_from_authorization_and_other_schemes_are_left_alone() {
        let token = |value: &str| BearerCredential::Token(AccessToken::new(value.to_owned()));
        for (header, expected) in [
            ("Bearer abc.DEF-_~+/x==", token("abc.DEF-_~+/x==")),
            ("bearer abc", token("abc")),
            ("BEARER   abc", token("abc")),
            ("Basic dXNlcjpwdw==", BearerCredential::Absent),
            (
                "Digest username=\"bearer x\", realm=\"r\"",
                BearerCredential::Absent,
            ),
            ("Bearertoken", BearerCredential::Absent),
            ("Bearer", BearerCredential::Malformed),
            ("Bearer ", BearerCredential::Malformed),
            ("Bearer ===", BearerCredential::Malformed),
            ("Bearer a b", BearerCredential::Malformed),
            ("Bearer a=b", BearerCredential::Malformed),
            ("Bearer a\"b", BearerCredential::Malformed),
            ("Bearer a, Bearer b", BearerCredential::Malformed),
            ("Basic dXNlcjpwdw==, Bearer b", BearerCredential::Malformed),
            ("Bearer b, Basic dXNlcjpwdw==", BearerCredential::Malformed),
        ] {
            assert_eq!(BearerCredential::read(Some(header)), expected, "{header}");
        }
        assert_eq!(BearerCredential::read(None), BearerCredential::Absent);
        let long = format!("Bearer {}", "a".repeat(MAX_BEARER_TOKEN + 1));
        assert_eq!(
            BearerCredential::read(Some(&long)),
            BearerCredential::Malformed
        );
        let request = facts("GET", "/x", &[("Authorization", "Bearer abc")]);
        assert!(request.bearer.presented());
        assert!(!facts("GET", "/x", &[]).bearer.presented());
    }

    #[test]
    fn bearer_is_ours_whatever_separates_it_from_the_token() {
        let token = |value: &str| BearerCredential::Token(AccessToken::new(value.to_owned()));
        for (header, expected) in [
            ("Bearer\tabc", token("abc")),
            ("bearer\t\tabc", token("abc")),
            ("BEARER \t abc", token("abc")),
            ("\tBearer\tabc", token("abc")),
            ("Bearer\u{b}abc", BearerCredential::Malformed),
            ("Bearer\u{a0}abc", BearerCredential::Malformed),
            ("Bearer:abc", BearerCredential::Malformed),
            ("Bearer,abc", BearerCredential::Malformed),
            ("Bearer=abc", BearerCredential::Malformed),
            ("Bearer\"abc\"", BearerCredential::Malformed),
            ("Bearer\tabc\tdef", BearerCredential::Malformed),
            (
                "Basic dXNlcjpwdw==,\tBearer\tabc",
                BearerCredential::Malformed,
            ),
            ("Basic dXNlcjpwdw==,Bearer:abc", BearerCredential::Malformed),
            ("Bearer-abc", BearerCredential::Absent),
            ("Basic\tdXNlcjpwdw==", BearerCredential::Absent),
        ] {
            assert_eq!(BearerCredential::read(Some(header)), expected, "{header:?}");
        }
    }

    #[test]
    fn header_names_are_read_as_tokens_or_not() {
        assert!(facts("GET", "/x", &[("X-Custom_1", "v")]).header_names_are_tokens());
        assert!(!facts("GET", "/x", &[("X-Auth-User\u{a0}", "v")]).header_names_are_tokens());
        assert!(facts("GET", "/x", &[]).header_names_are_tokens());
    }

    #[test]
    fn navigation_is_a_get_or_head_that_accepts_html() {
        assert!(is_navigation(
            "GET",
            Some("text/html,application/xhtml+xml")
        ));
        assert!(is_navigation("HEAD", Some("text/html")));
        assert!(!is_navigation("POST", Some("text/html")));
        assert!(!is_navigation("GET", Some("application/json")));
        assert!(!is_navigation("GET", None));
    }

    #[test]
    fn cross_site_is_read_from_fetch_metadata_then_origin() {
        let own = "https://edge.example";
        assert!(!is_cross_site(Some("same-origin"), None, own));
        assert!(!is_cross_site(
            Some("none"),
            Some("https://evil.example"),
            own
        ));
        assert!(is_cross_site(Some("cross-site"), Some(own), own));
        assert!(is_cross_site(Some("same-site"), None, own));
        assert!(is_cross_site(None, Some("https://evil.example"), own));
        assert!(!is_cross_site(None, Some(own), own));
        assert!(!is_cross_site(None, None, own));
    }
}
