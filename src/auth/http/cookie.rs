//! Session cookies: reading them from requests, writing them in responses, hiding them from the
//! origin.
//!
//! Both cookies carry the `__Host-` prefix: browsers accept such a cookie only from this exact
//! host, over HTTPS, for `Path=/` and without `Domain`, so a sibling subdomain can plant neither.
//! That matters most for the refresh cookie, which alone can restore a session in place: a
//! planted one would sign the victim in as the attacker. Browsers still send a cookie planted
//! under another name or path alongside ours ("cookie tossing"), so reading is strict: a name
//! that appears twice is an error, not a guess. The runtime joins several `Cookie` header lines
//! into one value with `, `, which no browser sends for our cookies; a name of ours after a comma
//! counts as a second copy. Tokens never reach the origin: the `Cookie` header it receives has
//! ours removed, in any spelling and on every line.
//!
//! Browsers refuse prefixed names without `Secure`, which plain-HTTP local development cannot
//! set, so an insecure [`CookieSpec`] uses the unprefixed [`DEV_ACCESS_COOKIE`] and
//! [`DEV_REFRESH_COOKIE`]; [`cookie_names`] gives the pair for either mode, for writing and
//! reading alike.

use crate::auth::secret::{AccessToken, RefreshToken};
use core::fmt;

/// The access token cookie.
pub const ACCESS_COOKIE: &str = "__Host-eg_access";
/// The refresh token cookie.
pub const REFRESH_COOKIE: &str = "__Host-eg_refresh";
/// [`ACCESS_COOKIE`] in plain-HTTP development.
pub const DEV_ACCESS_COOKIE: &str = "eg_access";
/// [`REFRESH_COOKIE`] in plain-HTTP development.
pub const DEV_REFRESH_COOKIE: &str = "eg_refresh";
/// The OpenID sign-in's flow cookie (`state`, `nonce`, the PKCE verifier), host-only like the
/// session cookies so a sibling subdomain cannot plant one (a login CSRF's first step).
pub const FLOW_COOKIE: &str = "__Host-eg_oidc";
/// [`FLOW_COOKIE`] in plain-HTTP development.
pub const DEV_FLOW_COOKIE: &str = "eg_oidc";
/// The device-bound session's cookie: short-lived, renewed only by the browser that holds the
/// session's device key (see `token::dbsc`).
pub const DEVICE_COOKIE: &str = "__Host-eg_device";
/// [`DEVICE_COOKIE`] in plain-HTTP development.
pub const DEV_DEVICE_COOKIE: &str = "eg_device";
/// Longer `Cookie` headers are refused; browsers send far less to one site.
pub const MAX_COOKIE_HEADER: usize = 8192;
/// Browsers drop cookies whose name and value together exceed this many bytes.
pub const MAX_COOKIE_PAIR: usize = 4096;

/// The cookie names in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CookieNames {
    /// The cookie that carries the access token.
    pub access: &'static str,
    /// The cookie that carries the refresh token.
    pub refresh: &'static str,
    /// The OpenID sign-in's flow cookie.
    pub flow: &'static str,
    /// The device-bound session's cookie.
    pub device: &'static str,
}

/// The prefixed names when `secure`, the development names otherwise.
pub const fn cookie_names(secure: bool) -> CookieNames {
    if secure {
        CookieNames {
            access: ACCESS_COOKIE,
            refresh: REFRESH_COOKIE,
            flow: FLOW_COOKIE,
            device: DEVICE_COOKIE,
        }
    } else {
        CookieNames {
            access: DEV_ACCESS_COOKIE,
            refresh: DEV_REFRESH_COOKIE,
            flow: DEV_FLOW_COOKIE,
            device: DEV_DEVICE_COOKIE,
        }
    }
}

/// The pairs of a request's `Cookie` header, borrowed from it.
///
/// Parsing follows RFC 6265bis as browsers send: pairs separated by `;`, surrounding spaces and
/// tabs trimmed, empty pairs skipped, the name ending at the first `=` (a pair without one has
/// the empty name and is all value), values kept verbatim, quotes included. A header longer than
/// [`MAX_COOKIE_HEADER`] or containing control characters other than tab is refused whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookieJar<'a> {
    header: &'a str,
    pairs: Vec<(&'a str, &'a str)>,
}

impl<'a> CookieJar<'a> {
    /// Splits a `Cookie` header into its pairs; errors as described on [`CookieJar`].
    pub fn parse(header: &'a str) -> Result<Self, CookieError> {
        if header.len() > MAX_COOKIE_HEADER {
            return Err(CookieError::TooLarge);
        }
        if header.bytes().any(|b| b != b'\t' && b.is_ascii_control()) {
            return Err(CookieError::InvalidCharacter);
        }
        let pairs = header
            .split(';')
            .map(trim_ows)
            .filter(|pair| !pair.is_empty())
            .map(|pair| match pair.split_once('=') {
                Some((name, value)) => (trim_ows(name), trim_ows(value)),
                None => ("", pair),
            })
            .collect();
        Ok(Self { header, pairs })
    }

    /// Every pair, in header order.
    pub fn pairs(&self) -> &[(&'a str, &'a str)] {
        &self.pairs
    }

    /// The value of the only cookie named exactly `name` (case-sensitive), if any.
    ///
    /// A pair named `name` after a comma inside another pair (`a=1, name=v`, how the runtime
    /// joins two `Cookie` lines) is a second copy: the answer is then
    /// [`CookieError::Duplicate`], even when no pair of its own has the name.
    pub fn unique(&self, name: &str) -> Result<Option<&'a str>, CookieError> {
        let mut values = self
            .pairs
            .iter()
            .filter(|(candidate, _)| *candidate == name)
            .map(|(_, value)| *value);
        let first = values.next();
        let joined = || {
            self.header
                .split(';')
                .flat_map(|pair| pair.split(',').skip(1))
                .any(|piece| pair_name(piece) == name)
        };
        if values.next().is_some() || joined() {
            return Err(CookieError::Duplicate {
                name: name.to_owned(),
            });
        }
        Ok(first)
    }
}

fn trim_ows(text: &str) -> &str {
    text.trim_matches([' ', '\t'])
}

/// The name of a pair as [`CookieJar::parse`] reads it: up to the first `=`, trimmed; empty
/// without one.
fn pair_name(pair: &str) -> &str {
    pair.split_once('=').map_or("", |(name, _)| trim_ows(name))
}

/// The `Cookie` header to forward to the origin: `header` without our cookies, or `None` if
/// nothing else is left.
///
/// Removed: every pair whose name (the whole pair if it has no `=`), lowercased and with
/// everything but letters and digits dropped, contains `egaccess`, `egrefresh` or `egoidc` (the
/// flow cookie, which `Path=/` sends to every path). That covers
/// both modes' names in any case, with or without prefixes, and near-misses such as
/// `__HOST_eg-access` that some origin framework might still read as ours. The same holds for
/// every piece after a comma, since the runtime joins `Cookie` lines with `, ` and an origin may
/// split them again: a `;`-separated pair with such a piece loses it and keeps its other pieces
/// as pairs of their own. Other pairs are kept verbatim (trimmed), joined with `; `.
pub fn strip_session_cookies(header: &str) -> Option<String> {
    let mut kept: Vec<&str> = Vec::new();
    for pair in header
        .split(';')
        .map(trim_ows)
        .filter(|pair| !pair.is_empty())
    {
        if pair.split(',').any(looks_like_session_cookie) {
            kept.extend(
                pair.split(',')
                    .map(trim_ows)
                    .filter(|piece| !piece.is_empty() && !looks_like_session_cookie(piece)),
            );
        } else {
            kept.push(pair);
        }
    }
    (!kept.is_empty()).then(|| kept.join("; "))
}

fn looks_like_session_cookie(pair: &str) -> bool {
    let name = pair.split('=').next().unwrap_or_default();
    let skeleton: String = name
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    ["egaccess", "egrefresh", "egoidc", "egdevice"]
        .iter()
        .any(|name| skeleton.contains(name))
}

/// How this deployment's cookies are written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookieSpec {
    /// `false` only for plain-HTTP local development: no `Secure` attribute, unprefixed names.
    pub secure: bool,
}

impl CookieSpec {
    /// The access and refresh cookie names, `__Host-`-prefixed when [`CookieSpec::secure`].
    pub fn names(&self) -> CookieNames {
        cookie_names(self.secure)
    }
}

/// One `Set-Cookie` value, and whether it sets a cookie or clears one (empty, `Max-Age=0`).
/// Only this module and the flow cookie's make them, so a value always says which it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SetCookie {
    /// Sets a cookie to a value.
    Setting(String),
    /// Deletes a cookie.
    Clearing(String),
}

impl SetCookie {
    /// The header value as sent.
    pub fn header_value(&self) -> &str {
        match self {
            Self::Setting(value) | Self::Clearing(value) => value,
        }
    }

    /// Whether it deletes a cookie.
    pub fn clears(&self) -> bool {
        matches!(self, Self::Clearing(_))
    }
}

impl core::ops::Deref for SetCookie {
    type Target = str;

    fn deref(&self) -> &str {
        self.header_value()
    }
}

impl PartialEq<&str> for SetCookie {
    fn eq(&self, other: &&str) -> bool {
        self.header_value() == *other
    }
}

/// `Set-Cookie` for an access token: the whole site, sent on top-level navigations from other
/// sites (`SameSite=Lax`) so links into the app arrive logged in.
pub fn set_access(
    value: &AccessToken,
    max_age: i64,
    spec: &CookieSpec,
) -> Result<SetCookie, CookieError> {
    check_max_age(max_age)?;
    check_value(spec.names().access, value.expose())?;
    Ok(SetCookie::Setting(access_cookie(
        value.expose(),
        max_age,
        spec,
    )))
}

/// `Set-Cookie` for a refresh token: the whole site (the `__Host-` prefix requires `Path=/`, and
/// refreshing in place needs it on every path), never cross-site (`SameSite=Strict`).
pub fn set_refresh(
    value: &RefreshToken,
    max_age: i64,
    spec: &CookieSpec,
) -> Result<SetCookie, CookieError> {
    check_max_age(max_age)?;
    check_value(spec.names().refresh, value.expose())?;
    Ok(SetCookie::Setting(refresh_cookie(
        value.expose(),
        max_age,
        spec,
    )))
}

/// `Set-Cookie` for a device-bound session's cookie: the whole site, `SameSite=Lax` like the
/// access cookie it accompanies.
pub fn set_device(value: &str, max_age: i64, spec: &CookieSpec) -> Result<SetCookie, CookieError> {
    check_max_age(max_age)?;
    check_value(spec.names().device, value)?;
    Ok(SetCookie::Setting(format!(
        "{}={value}; {}; Max-Age={max_age}",
        spec.names().device,
        device_attributes(spec)
    )))
}

/// `Set-Cookie` deleting the device-bound session's cookie.
pub fn clear_device(spec: &CookieSpec) -> SetCookie {
    SetCookie::Clearing(format!(
        "{}=; {}; Max-Age=0",
        spec.names().device,
        device_attributes(spec)
    ))
}

/// The device cookie's attributes, as the session instructions name them to the browser.
pub fn device_attributes(spec: &CookieSpec) -> String {
    format!("Path=/{}; HttpOnly; SameSite=Lax", secure_attribute(spec))
}

/// `Set-Cookie` deleting the access cookie (same attributes, so the browser matches it).
pub fn clear_access(spec: &CookieSpec) -> SetCookie {
    SetCookie::Clearing(access_cookie("", 0, spec))
}

/// `Set-Cookie` deleting the refresh cookie (same attributes, so the browser matches it).
pub fn clear_refresh(spec: &CookieSpec) -> SetCookie {
    SetCookie::Clearing(refresh_cookie("", 0, spec))
}

fn access_cookie(value: &str, max_age: i64, spec: &CookieSpec) -> String {
    format!(
        "{}={value}; Path=/{}; HttpOnly; SameSite=Lax; Max-Age={max_age}",
        spec.names().access,
        secure_attribute(spec)
    )
}

fn refresh_cookie(value: &str, max_age: i64, spec: &CookieSpec) -> String {
    format!(
        "{}={value}; Path=/{}; HttpOnly; SameSite=Strict; Max-Age={max_age}",
        spec.names().refresh,
        secure_attribute(spec)
    )
}

fn secure_attribute(spec: &CookieSpec) -> &'static str {
    if spec.secure {
        "; Secure"
    } else {
        ""
    }
}

fn check_max_age(max_age: i64) -> Result<(), CookieError> {
    if max_age < 1 {
        return Err(CookieError::InvalidMaxAge);
    }
    Ok(())
}

/// A non-empty RFC 6265 cookie-value without quotes: visible ASCII except `"` `,` `;` `\`.
fn check_value(name: &str, value: &str) -> Result<(), CookieError> {
    let octet = |b: u8| b.is_ascii_graphic() && !b"\",;\\".contains(&b);
    if value.is_empty() || !value.bytes().all(octet) {
        return Err(CookieError::InvalidValue);
    }
    if name.len() + value.len() > MAX_COOKIE_PAIR {
        return Err(CookieError::TooLong);
    }
    Ok(())
}

/// A `Cookie` header that cannot be read, or a cookie that cannot be written.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CookieError {
    /// The `Cookie` header is longer than [`MAX_COOKIE_HEADER`].
    TooLarge,
    /// The `Cookie` header contains a control character.
    InvalidCharacter,
    /// A cookie we read appears more than once.
    Duplicate {
        /// The repeated cookie name.
        name: String,
    },
    /// Name and value together are longer than [`MAX_COOKIE_PAIR`].
    TooLong,
    /// The value is empty or has characters a cookie value cannot hold.
    InvalidValue,
    /// A new cookie must live at least one second.
    InvalidMaxAge,
}

impl fmt::Display for CookieError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLarge => write!(f, "Cookie header is longer than {MAX_COOKIE_HEADER} bytes"),
            Self::InvalidCharacter => f.write_str("Cookie header contains a control character"),
            Self::Duplicate { name } => write!(
                f,
                "cookie {name} appears more than once (possibly planted by another site)"
            ),
            Self::TooLong => write!(
                f,
                "cookie name and value exceed {MAX_COOKIE_PAIR} bytes, which browsers drop"
            ),
            Self::InvalidValue => f.write_str(
                "cookie value is empty or contains characters other than visible ASCII \
                 without quote, comma, semicolon and backslash",
            ),
            Self::InvalidMaxAge => f.write_str("cookie Max-Age must be at least 1 second"),
        }
    }
}

impl std::error::Error for CookieError {}

#[cfg(test)]
mod tests {
    use super::*;

    fn production() -> CookieSpec {
        CookieSpec { secure: true }
    }

    fn development() -> CookieSpec {
        CookieSpec { secure: false }
    }

    fn secret<K>(value: &str) -> crate::auth::secret::Secret<K> {
        crate::auth::secret::Secret::new(value.to_owned())
    }

    fn pairs(header: &str) -> Vec<(&str, &str)> {
        CookieJar::parse(header).unwrap().pairs().to_vec()
    }

    #[test]
    fn parses_pairs_in_order() {
        assert_eq!(pairs("a=1; b=2;c=3"), [("a", "1"), ("b", "2"), ("c", "3")]);
    }

    #[test]
    fn empty_headers_and_empty_pairs_are_skipped() {
        assert!(pairs("").is_empty());
        assert!(pairs(" ;; ; ").is_empty());
        assert_eq!(pairs(";a=1;;b=2;"), [("a", "1"), ("b", "2")]);
    }

    #[test]
    fn spaces_and_tabs_around_pairs_names_and_values_are_trimmed() {
        assert_eq!(pairs(" \ta = 1 \t;\tb=2 x "), [("a", "1"), ("b", "2 x")]);
    }

    #[test]
    fn a_pair_without_equals_has_the_empty_name() {
        assert_eq!(pairs("token; a=1"), [("", "token"), ("a", "1")]);
        assert_eq!(pairs("=v"), [("", "v")]);
        assert_eq!(pairs("a="), [("a", "")]);
    }

    #[test]
    fn values_are_kept_verbatim() {
        assert_eq!(
            pairs(r#"q="quoted value"; e=a=b=c; c=x,y; u=春节"#),
            [
                ("q", "\"quoted value\""),
                ("e", "a=b=c"),
                ("c", "x,y"),
                ("u", "春节")
            ]
        );
    }

    #[test]
    fn oversized_headers_are_refused() {
        let largest = format!("a={}", "x".repeat(MAX_COOKIE_HEADER - 2));
        assert_eq!(CookieJar::parse(&largest).unwrap().pairs().len(), 1);
        let too_large = format!("{largest}x");
        assert_eq!(CookieJar::parse(&too_large), Err(CookieError::TooLarge));
    }

    #[test]
    fn control_characters_are_refused() {
        for header in ["a=1\r\nb=2", "a=\0", "a=\u{7f}", "\u{1b}[31m=1", "a=1\n"] {
            assert_eq!(
                CookieJar::parse(header),
                Err(CookieError::InvalidCharacter),
                "{header:?}"
            );
        }
    }

    #[test]
    fn unique_finds_exact_names_only() {
        let jar = CookieJar::parse("__host-eg_access=x; __Host-eg_access=tok; other=1").unwrap();
        assert_eq!(jar.unique(ACCESS_COOKIE), Ok(Some("tok")));
        assert_eq!(jar.unique(REFRESH_COOKIE), Ok(None));
        assert_eq!(jar.unique(""), Ok(None));
    }

    #[test]
    fn duplicate_cookies_fail_closed() {
        let jar = CookieJar::parse("__Host-eg_access=a; x=1; __Host-eg_access=a").unwrap();
        let error = jar.unique(ACCESS_COOKIE).unwrap_err();
        assert_eq!(
            error,
            CookieError::Duplicate {
                name: ACCESS_COOKIE.into()
            }
        );
        assert!(error.to_string().contains(ACCESS_COOKIE));
    }

    #[test]
    fn strip_removes_every_spelling_of_our_cookies() {
        let header = "a=1; __Host-eg_access=tok; __Host-eg_refresh=ref; __Secure-eg_refresh=old; \
                      __host-EG_access=x; EG_ACCESS=y; eg_refresh=z; __HOST_eg-access=w; \
                      __Host-eg_access_old=v; \"__Host-eg_access\"=u; __Host-eg_access; b=2";
        assert_eq!(strip_session_cookies(header).as_deref(), Some("a=1; b=2"));
    }

    #[test]
    fn strip_keeps_other_cookies_verbatim() {
        assert_eq!(
            strip_session_cookies(" theme=dark ;;lang=\"en\"; college_access=1; x=eg_access")
                .as_deref(),
            Some("theme=dark; lang=\"en\"; college_access=1; x=eg_access")
        );
    }

    #[test]
    fn strip_returns_none_when_nothing_is_left() {
        assert_eq!(strip_session_cookies("__Host-eg_access=tok"), None);
        assert_eq!(
            strip_session_cookies("a=1; __Host-eg_oidc=f; eg_oidc=g, b=2; __Secure-EG-OIDC=h")
                .as_deref(),
            Some("a=1; b=2")
        );
        assert_eq!(strip_session_cookies(""), None);
        assert_eq!(strip_session_cookies(" ; "), None);
    }

    #[test]
    fn production_cookies_use_prefixes_and_secure() {
        assert_eq!(
            set_access(&secret("tok"), 900, &production()).unwrap(),
            "__Host-eg_access=tok; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=900"
        );
        assert_eq!(
            set_refresh(&secret("ref"), 86400, &production()).unwrap(),
            "__Host-eg_refresh=ref; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=86400"
        );
    }

    #[test]
    fn clearing_keeps_the_attributes_and_expires_now() {
        assert_eq!(
            clear_access(&production()),
            "__Host-eg_access=; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=0"
        );
        assert_eq!(
            clear_refresh(&production()),
            "__Host-eg_refresh=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0"
        );
    }

    #[test]
    fn development_cookies_drop_prefixes_and_secure() {
        let spec = development();
        assert_eq!(spec.names(), cookie_names(false));
        assert_eq!(
            set_access(&secret("tok"), 900, &spec).unwrap(),
            "eg_access=tok; Path=/; HttpOnly; SameSite=Lax; Max-Age=900"
        );
        assert_eq!(
            clear_refresh(&spec),
            "eg_refresh=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"
        );
        assert_eq!(cookie_names(true).access, ACCESS_COOKIE);
        assert_eq!(cookie_names(true).refresh, REFRESH_COOKIE);
        assert_eq!(cookie_names(true).flow, "__Host-eg_oidc");
        assert_eq!(cookie_names(false).flow, "eg_oidc");
    }

    #[test]
    fn written_cookies_read_back() {
        for spec in [production(), development()] {
            let set = set_access(&secret("a.b-c_d~e"), 60, &spec).unwrap();
            let pair = set.split(';').next().unwrap();
            let jar = CookieJar::parse(pair).unwrap();
            assert_eq!(jar.unique(spec.names().access), Ok(Some("a.b-c_d~e")));
        }
    }

    #[test]
    fn values_outside_cookie_octets_are_refused() {
        for bad in [
            "", "a b", "a;b", "a,b", "\"ab\"", "a\\b", "a\r\nb", "é", "a\tb",
        ] {
            assert_eq!(
                set_access(&secret(bad), 60, &production()),
                Err(CookieError::InvalidValue),
                "{bad:?}"
            );
            assert_eq!(
                set_refresh(&secret(bad), 60, &production()),
                Err(CookieError::InvalidValue),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn name_and_value_must_fit_in_4096_bytes() {
        let fits = "v".repeat(MAX_COOKIE_PAIR - ACCESS_COOKIE.len());
        assert!(set_access(&secret(&fits), 60, &production()).is_ok());
        let too_long = format!("{fits}v");
        assert_eq!(
            set_access(&secret(&too_long), 60, &production()),
            Err(CookieError::TooLong)
        );
        let refresh_too_long = "v".repeat(MAX_COOKIE_PAIR - REFRESH_COOKIE.len() + 1);
        assert_eq!(
            set_refresh(&secret(&refresh_too_long), 60, &production()),
            Err(CookieError::TooLong)
        );
    }

    #[test]
    fn new_cookies_must_live_at_least_a_second() {
        for max_age in [0, -1, i64::MIN] {
            assert_eq!(
                set_access(&secret("t"), max_age, &production()),
                Err(CookieError::InvalidMaxAge)
            );
            assert_eq!(
                set_refresh(&secret("t"), max_age, &production()),
                Err(CookieError::InvalidMaxAge)
            );
        }
    }

    #[test]
    fn a_session_cookie_on_a_second_cookie_line_counts_as_a_copy() {
        // Two `Cookie` lines reach the worker as one value joined with ", ".
        let tossed = CookieJar::parse("__Host-eg_access=mine, __Host-eg_access=theirs").unwrap();
        assert!(matches!(
            tossed.unique(ACCESS_COOKIE),
            Err(CookieError::Duplicate { .. })
        ));
        let second_line = CookieJar::parse("theme=dark, __Host-eg_refresh=r.s; a=1").unwrap();
        assert_eq!(
            second_line.unique(REFRESH_COOKIE),
            Err(CookieError::Duplicate {
                name: REFRESH_COOKIE.into()
            })
        );
        assert_eq!(second_line.unique(ACCESS_COOKIE), Ok(None));
        let spaced = CookieJar::parse("a=1 ,\t__Host-eg_access = t").unwrap();
        assert!(spaced.unique(ACCESS_COOKIE).is_err());
        let valueless = CookieJar::parse("theme, __Host-eg_access=t").unwrap();
        assert!(valueless.unique(ACCESS_COOKIE).is_err());
        // Commas that do not start one of our names change nothing.
        let plain = CookieJar::parse("z=y, a=b; __Host-eg_access=tok").unwrap();
        assert_eq!(plain.unique(ACCESS_COOKIE), Ok(Some("tok")));
    }

    #[test]
    fn strip_removes_our_cookies_from_every_cookie_line() {
        assert_eq!(
            strip_session_cookies("a=1, __Host-eg_access=tok; b=2").as_deref(),
            Some("a=1; b=2")
        );
        assert_eq!(
            strip_session_cookies("__Host-eg_access=tok, a=1, eg_refresh=r").as_deref(),
            Some("a=1")
        );
        assert_eq!(
            strip_session_cookies("x=1,__Host-eg_refresh=r , __Secure-eg_refresh=old").as_deref(),
            Some("x=1")
        );
        assert_eq!(
            strip_session_cookies("__Host-eg_access=a, __Host-eg_access=b"),
            None
        );
        // A comma in a value of another cookie is kept as it came.
        assert_eq!(
            strip_session_cookies("foo=bar, baz=qux; q=\"a,b\"").as_deref(),
            Some("foo=bar, baz=qux; q=\"a,b\"")
        );
    }

    #[test]
    fn the_refresh_cookie_is_host_only_for_the_whole_site() {
        let cookie = set_refresh(&secret("r"), 60, &production()).unwrap();
        let set = cookie.header_value();
        assert!(set.starts_with("__Host-"), "{set}");
        assert!(set.contains("; Path=/;"), "{set}");
        assert!(set.contains("; Secure"), "{set}");
        assert!(!set.to_ascii_lowercase().contains("domain"), "{set}");
        assert_eq!(REFRESH_COOKIE, "__Host-eg_refresh");
    }

    #[test]
    fn errors_do_not_echo_token_values() {
        let error = set_access(&secret("secret token"), 60, &production()).unwrap_err();
        assert!(!error.to_string().contains("secret"));
    }
}
