//! The per-request decision: who, if anyone, this request speaks for.
//!
//! This is the hot path every protected request takes, so it is pure and allocation-light:
//! parse the cookies once, verify the access token, and either hand back a verified identity or
//! say whether a refresh could restore one. Storage (the revocation check) is the shell's job.

use super::config::Config;
use super::cookie::CookieJar;
use super::env::{Entropy, UnixTime};
use super::forward::Identity;
use super::refresh::PresentedRefresh;
use super::secret::Secret;
use super::token::{
    issue_assertion, prepare, validate_access, Subject, TokenError, TokenKind, Unsigned,
    VerifiedAccess,
};

/// Why a request carries no usable access token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Missing {
    NoCookie,
    /// The Cookie header is malformed, oversized, or carries one of our names twice (cookie
    /// tossing): nothing in it is trusted, not even a refresh token.
    UntrustedCookies,
    Invalid(TokenError),
}

/// What the cookies of a request prove.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Presented {
    Access(VerifiedAccess),
    /// No valid access token, but a well-formed refresh token.
    Refreshable(Missing, PresentedRefresh),
    Anonymous(Missing),
}

/// Our two cookies' values (access, refresh) in a `Cookie` header; `Err` when the header cannot
/// be trusted (malformed, oversized, or one of our names twice).
fn session_cookie_values<'h>(
    header: &'h str,
    config: &Config,
) -> Result<(Option<&'h str>, Option<&'h str>), Missing> {
    let names = config.cookies.names();
    let jar = CookieJar::parse(header).map_err(|_| Missing::UntrustedCookies)?;
    match (jar.unique(names.access), jar.unique(names.refresh)) {
        (Ok(access), Ok(refresh)) => Ok((access, refresh)),
        _ => Err(Missing::UntrustedCookies),
    }
}

/// The well-formed refresh token of a `Cookie` header, whatever its access token; for an
/// explicit refresh by a client that still holds a valid access token.
pub fn refresh_token(cookie_header: Option<&str>, config: &Config) -> Option<PresentedRefresh> {
    let (_, refresh) = session_cookie_values(cookie_header?, config).ok()?;
    PresentedRefresh::parse(refresh?)
}

/// Reads the session cookies of a `Cookie` header.
pub fn authenticate(cookie_header: Option<&str>, config: &Config, now: UnixTime) -> Presented {
    let Some(header) = cookie_header else {
        return Presented::Anonymous(Missing::NoCookie);
    };
    let (access, refresh) = match session_cookie_values(header, config) {
        Ok(values) => values,
        Err(missing) => return Presented::Anonymous(missing),
    };
    let missing = match access.filter(|token| !token.is_empty()) {
        None => Missing::NoCookie,
        Some(token) => match validate_access(
            &config.session_keys,
            token,
            &config.access_audience(),
            config.policy.leeway,
            now,
        ) {
            Ok(verified) => return Presented::Access(verified),
            Err(err) => Missing::Invalid(err),
        },
    };
    match refresh.and_then(PresentedRefresh::parse) {
        Some(presented) => Presented::Refreshable(missing, presented),
        None => Presented::Anonymous(missing),
    }
}

/// The identity assertion for `subject`, ready to be signed with the assertion ring's first key.
pub fn unsigned_assertion(
    subject: &Subject<'_>,
    config: &Config,
    now: UnixTime,
    entropy: &dyn Entropy,
) -> Result<Unsigned, TokenError> {
    prepare(
        &config.assertion_keys,
        TokenKind::Assertion,
        &config.assertion_audience(),
        subject,
        now,
        config.assertion_ttl,
        entropy,
    )
}

/// The identity to forward: the subject and its signed assertion.
pub fn identity(subject: &Subject<'_>, assertion: Secret<String>) -> Identity {
    Identity {
        user: subject.user.to_owned(),
        session: subject.session.to_owned(),
        roles: subject.roles.to_vec(),
        assertion,
    }
}

/// The identity to forward, with an assertion signed here (the worker signs with WebCrypto).
pub fn forward_identity(
    subject: &Subject<'_>,
    config: &Config,
    now: UnixTime,
    entropy: &dyn Entropy,
) -> Result<Identity, TokenError> {
    let assertion = issue_assertion(
        &config.assertion_keys,
        &config.assertion_audience(),
        subject,
        now,
        config.assertion_ttl,
        entropy,
    )?;
    Ok(identity(subject, assertion))
}

/// The subject a verified access token speaks for.
pub fn subject_of(access: &VerifiedAccess) -> Subject<'_> {
    Subject {
        user: access.user(),
        session: access.session(),
        roles: access.roles(),
    }
}

/// Whether a request is a browser navigation (which gets redirects and in-place refresh) rather
/// than an API call (which gets 401 JSON).
pub fn is_navigation(method: &str, accept: Option<&str>) -> bool {
    matches!(method, "GET" | "HEAD") && accept.is_some_and(|accept| accept.contains("text/html"))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::auth::env::testing::SeededEntropy;
    use crate::auth::refresh::{NewRefresh, SessionId};
    use crate::auth::token::{issue_access, validate_assertion};

    pub(crate) fn config() -> Config {
        let vars = [
            ("ORIGIN_URL", "https://origin.example"),
            ("ISSUER", "https://edge.example"),
            ("ORIGIN_AUDIENCE", "origin"),
            (
                "SESSION_KEYS",
                "s1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",
            ),
            (
                "ASSERTION_KEYS",
                "a1:ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8",
            ),
        ];
        Config::from_lookup(&|name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        })
        .unwrap()
    }

    const NOW: UnixTime = 1_800_000_000;

    pub(crate) fn access_cookie(config: &Config, now: UnixTime) -> String {
        let roles = vec!["staff".to_owned()];
        let subject = Subject {
            user: "alice",
            session: "sid-1",
            roles: &roles,
        };
        let token = issue_access(
            &config.session_keys,
            &config.access_audience(),
            &subject,
            now,
            300,
            &SeededEntropy::default(),
        )
        .unwrap();
        format!("{}={}", config.cookies.names().access, token.expose())
    }

    fn refresh_cookie(config: &Config) -> String {
        let entropy = SeededEntropy::default();
        let token = NewRefresh::mint(&SessionId::generate(&entropy).unwrap(), &entropy).unwrap();
        format!(
            "{}={}",
            config.cookies.names().refresh,
            token.token.expose()
        )
    }

    #[test]
    fn a_valid_access_cookie_authenticates() {
        let config = config();
        let header = format!("theme=dark; {}", access_cookie(&config, NOW));
        let Presented::Access(access) = authenticate(Some(&header), &config, NOW) else {
            panic!()
        };
        assert_eq!(access.user(), "alice");
    }

    #[test]
    fn an_expired_access_cookie_with_a_refresh_cookie_is_refreshable() {
        let config = config();
        let header = format!(
            "{}; {}",
            access_cookie(&config, NOW - 1000),
            refresh_cookie(&config)
        );
        assert!(matches!(
            authenticate(Some(&header), &config, NOW),
            Presented::Refreshable(Missing::Invalid(TokenError::Expired), _)
        ));
        let only_refresh = refresh_cookie(&config);
        assert!(matches!(
            authenticate(Some(&only_refresh), &config, NOW),
            Presented::Refreshable(Missing::NoCookie, _)
        ));
    }

    #[test]
    fn the_refresh_token_is_found_beside_a_valid_access_token() {
        let config = config();
        let refresh = refresh_cookie(&config);
        let both = format!("{}; {refresh}", access_cookie(&config, NOW));
        let token = refresh.split_once('=').unwrap().1;
        assert_eq!(
            refresh_token(Some(&both), &config),
            PresentedRefresh::parse(token)
        );
        assert!(refresh_token(Some(&both), &config).is_some());
        assert_eq!(
            refresh_token(Some(&format!("{both}; {refresh}")), &config),
            None
        );
        assert_eq!(
            refresh_token(Some(&access_cookie(&config, NOW)), &config),
            None
        );
        assert_eq!(refresh_token(None, &config), None);
    }

    #[test]
    fn tossed_or_malformed_cookies_trust_nothing() {
        let config = config();
        let access = access_cookie(&config, NOW);
        let tossed = format!("{access}; {access}");
        assert_eq!(
            authenticate(Some(&tossed), &config, NOW),
            Presented::Anonymous(Missing::UntrustedCookies)
        );
        let tossed_refresh = format!("{access}; {r}; {r}", r = refresh_cookie(&config));
        assert_eq!(
            authenticate(Some(&tossed_refresh), &config, NOW),
            Presented::Anonymous(Missing::UntrustedCookies)
        );
        let huge = "a=".to_owned() + &"b".repeat(10_000);
        assert_eq!(
            authenticate(Some(&huge), &config, NOW),
            Presented::Anonymous(Missing::UntrustedCookies)
        );
        assert_eq!(
            authenticate(None, &config, NOW),
            Presented::Anonymous(Missing::NoCookie)
        );
        let case_variant = access.replace("__Host-", "__host-");
        assert_eq!(
            authenticate(Some(&case_variant), &config, NOW),
            Presented::Anonymous(Missing::NoCookie)
        );
        let garbage_refresh = format!("{}=nope", config.cookies.names().refresh);
        assert_eq!(
            authenticate(Some(&garbage_refresh), &config, NOW),
            Presented::Anonymous(Missing::NoCookie)
        );
    }

    #[test]
    fn forwarded_identity_carries_a_verifiable_assertion() {
        let config = config();
        let header = access_cookie(&config, NOW);
        let Presented::Access(access) = authenticate(Some(&header), &config, NOW) else {
            panic!()
        };
        let identity = forward_identity(
            &subject_of(&access),
            &config,
            NOW,
            &SeededEntropy::default(),
        )
        .unwrap();
        assert_eq!(
            (identity.user.as_str(), identity.session.as_str()),
            ("alice", "sid-1")
        );
        let assertion = validate_assertion(
            &config.assertion_keys,
            identity.assertion.expose(),
            &config.assertion_audience(),
            0,
            NOW,
        )
        .unwrap();
        assert_eq!(assertion.roles(), ["staff"]);
        assert_eq!(assertion.expires_at() - NOW, config.assertion_ttl);
    }

    #[test]
    fn an_assertion_signed_outside_the_crate_verifies() {
        let config = config();
        let roles = vec!["staff".to_owned()];
        let subject = Subject {
            user: "alice",
            session: "sid-1",
            roles: &roles,
        };
        let unsigned =
            unsigned_assertion(&subject, &config, NOW, &SeededEntropy::default()).unwrap();
        // What the worker's WebCrypto does: a plain Ed25519 signature over the signing input.
        let seed = config.assertion_keys.signing_jwk().expose()["d"]
            .as_str()
            .unwrap()
            .to_owned();
        let seed = crate::auth::encoding::b64url_decode(&seed).unwrap();
        let pair =
            ed25519_compact::KeyPair::from_seed(ed25519_compact::Seed::from_slice(&seed).unwrap());
        let signature = pair.sk.sign(unsigned.signing_input(), None);
        let token = unsigned.finish(signature.as_ref()).unwrap();
        let verified = validate_assertion(
            &config.assertion_keys,
            token.expose(),
            &config.assertion_audience(),
            0,
            NOW,
        )
        .unwrap();
        assert_eq!(verified.user(), "alice");
        let identity = identity(&subject, token);
        assert_eq!(identity.roles, roles);
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
}
