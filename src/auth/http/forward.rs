//! What the origin learns about the user, and the only way it learns it.
//!
//! The origin trusts identity headers because it believes only the edge can set them. That holds
//! only if the edge first removes every client-sent header the origin, or a framework in front of
//! it, might read as identity, in every spelling a server might fold together (case, `_` for
//! `-`, stray whitespace); [`is_reserved_header`] decides, by family rather than by name, since
//! every authenticating proxy keeps adding members to its own. Headers that override the method
//! or the path are removed the same way: the edge judged the request it saw, and the origin
//! must run that one. The edge's own values can never smuggle a second header or a second role:
//! the username and the roles are valid by construction ([`Username`], [`Role`], checked where
//! they entered), and the other values are checked before they become headers, bad ones an
//! error, never silently cleaned.

use crate::auth::names::role::Role;
use crate::auth::names::thumbprint::Thumbprint;
use crate::auth::names::username::Username;
use crate::auth::secret::Assertion;
use core::fmt;

/// The authenticated username.
pub const USER_HEADER: &str = "x-auth-user";
/// The session identifier, for the origin's audit logs.
pub const SESSION_HEADER: &str = "x-auth-session";
/// The user's roles, comma-separated.
pub const ROLES_HEADER: &str = "x-auth-roles";
/// A signed assertion the origin can verify instead of trusting the network path.
pub const ASSERTION_HEADER: &str = "x-auth-assertion";
/// The thumbprint of the key a DPoP-bound request proved (RFC 7638), also the assertion's
/// `cnf.jkt`; absent for a session bound to no key.
pub const KEY_HEADER: &str = "x-auth-dpop-jkt";

/// Families of headers that origins, frameworks and other authenticating proxies read as the
/// user's identity, as the client's address and original request, or as the method or path to
/// run instead of the request's own. A client header whose
/// canonical name (see [`is_reserved_header`]) starts with one of these is a forgery, whatever
/// follows: families, not names, because each proxy adds new members (`Remote-Email`,
/// `X-Auth-Request-Groups`, `X-Forwarded-Preferred-Username`, …) and origins read whatever
/// they were configured with.
pub const RESERVED_FAMILIES: &[&str] = &[
    // Ours (`x-auth-user`, …), and every other `X-Auth*` (oauth2-proxy's `X-Auth-Request-*`,
    // Authentik's `X-Authentik-*`, `X-Authenticated-*`, Keycloak gatekeeper's `X-Auth-*`).
    "x-auth",
    // Generic user headers (`X-User`, `X-User-Id`, `X-Username`, `X-User-Email`, …).
    "x-user",
    // Authelia, Apache and forward-auth setups: `Remote-User`, `Remote-Email`, `Remote-Groups`,
    // `Remote-Name`; Kubernetes front proxies: `X-Remote-User`, `X-Remote-Group`,
    // `X-Remote-Extra-*`.
    "remote-",
    "x-remote-",
    // Address and original request (`X-Forwarded-For/Host/Proto/Port/Prefix`, and oauth2-proxy's
    // `X-Forwarded-User/Email/Groups/Access-Token`); the edge sets its own For, Host and Proto.
    "x-forwarded",
    "x-original-",
    // Cloudflare Access, Grafana/Gitea auth proxy, Azure App Service (Easy Auth), AWS ALB,
    // Google IAP, Pomerium, Vouch, Apache mod_auth_openidc (`OIDC_CLAIM_*`, `OIDC_access_token`),
    // Shibboleth, Tailscale Serve, iisnode's promoted server variables.
    "cf-access-",
    "x-webauth-",
    "x-ms-client-principal",
    "x-ms-token-",
    "x-amzn-oidc-",
    "x-goog-authenticated-user-",
    "x-goog-iap-",
    "x-pomerium-",
    "x-vouch-",
    "oidc-",
    "shib-",
    "tailscale-user-",
    "x-iisnode-",
    // Method and path overrides: a request the edge judged as `GET /public/x` would run as
    // another method (`X-HTTP-Method-Override`, `X-HTTP-Method`, `X-Method-Override`: Express's
    // method-override, Symfony, Laravel, ASP.NET, Spring, OData) or on another path
    // (`X-Original-URL` above, `X-Rewrite-URL`, `X-Override-URL`: IIS URL Rewrite, Symfony,
    // Zend/Laminas; `X-Envoy-Original-Path`) behind a framework that honours them.
    "x-http-method",
    "x-method-override",
    "x-override-url",
    "x-rewrite-url",
    "x-envoy-original-",
];

/// Single headers outside those families that carry identity or the client's address.
pub const RESERVED_HEADERS: &[&str] = &[
    "forwarded",
    "x-real-ip",
    "true-client-ip",
    "x-client-ip",
    "x-cluster-client-ip",
    "client-ip",
    // oauth2-proxy's legacy basic-auth user header.
    "gap-auth",
    "teleport-jwt-assertion",
];

/// Whether a client-sent header named `name` must be removed before the request goes on.
///
/// The name is first made canonical the way servers and frameworks fold header names together:
/// surrounding whitespace dropped, ASCII lowercased, and every character other than a letter or
/// digit read as `-` (CGI, PHP and nginx turn `-` into `_`; some turn `.` too). Reserved: a
/// canonical name starting with one of [`RESERVED_FAMILIES`] or equal to one of
/// [`RESERVED_HEADERS`].
pub fn is_reserved_header(name: &str) -> bool {
    let canonical: String = name
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    RESERVED_FAMILIES
        .iter()
        .any(|family| canonical.starts_with(family))
        || RESERVED_HEADERS.contains(&canonical.as_str())
}

/// The authenticated user, as the origin will see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The username the session belongs to.
    pub user: Username,
    /// The session id the request was authenticated with.
    pub session: String,
    /// The user's roles, joined with commas (which no role contains).
    pub roles: Vec<Role>,
    /// The signed statement of the above for the origin to verify.
    pub assertion: Assertion,
    /// The key the request proved it holds, for a session bound to one (DPoP).
    pub key: Option<Thumbprint>,
}

/// The headers that carry `identity`, in a fixed order (the key's last, when there is one).
///
/// The session and assertion values must be non-empty visible ASCII; the username and roles are
/// by construction. The roles are joined with commas, which no [`Role`] contains; an empty role
/// list gives an empty roles header, so the origin can tell "no roles" from "header missing".
pub fn identity_headers(identity: &Identity) -> Result<Vec<(&'static str, String)>, ForwardError> {
    for (header, value) in [
        (USER_HEADER, identity.user.as_str()),
        (SESSION_HEADER, identity.session.as_str()),
        (ASSERTION_HEADER, identity.assertion.expose().as_str()),
    ] {
        check_value(header, value)?;
    }
    let mut headers = vec![
        (USER_HEADER, identity.user.to_string()),
        (SESSION_HEADER, identity.session.clone()),
        (ROLES_HEADER, identity.roles.join(",")),
        (ASSERTION_HEADER, identity.assertion.expose().clone()),
    ];
    if let Some(key) = &identity.key {
        headers.push((KEY_HEADER, key.to_string()));
    }
    Ok(headers)
}

fn check_value(header: &'static str, value: &str) -> Result<(), ForwardError> {
    if value.is_empty() {
        return Err(ForwardError::Empty { header });
    }
    if !value.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ForwardError::InvalidCharacter { header });
    }
    Ok(())
}

/// An identity value that cannot be sent as a header. Values are never included: they may be
/// secret, and they are exactly what went wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ForwardError {
    /// A header value would be empty.
    Empty {
        /// The header it was meant for.
        header: &'static str,
    },
    /// A character other than visible ASCII (space, CR, LF, NUL, control or non-ASCII).
    InvalidCharacter {
        /// The header it was meant for.
        header: &'static str,
    },
}

impl fmt::Display for ForwardError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty { header } => write!(f, "refusing to send an empty {header} value"),
            Self::InvalidCharacter { header } => write!(
                f,
                "refusing to send a {header} value with characters other than visible ASCII"
            ),
        }
    }
}

impl std::error::Error for ForwardError {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::names::role::testing::roles;
    use crate::auth::names::username::testing::named;

    fn alice() -> Identity {
        Identity {
            user: named("alice"),
            session: "s_4f2a".into(),
            roles: roles(&["admin", "billing:read"]),
            assertion: Assertion::new("eyJhbGciOiJFZERTQSJ9.e30.c2ln".into()),
            key: None,
        }
    }

    #[test]
    fn every_spelling_of_our_headers_is_reserved() {
        for name in [
            USER_HEADER,
            SESSION_HEADER,
            ROLES_HEADER,
            ASSERTION_HEADER,
            "X-Auth-User",
            "X-AUTH-ROLES",
            "x_auth_user",
            "X_Auth-Session",
            " x-auth-user ",
            "\tx-auth-assertion",
            "x-auth-anything-new",
            "x-auth-",
        ] {
            assert!(is_reserved_header(name), "{name:?}");
        }
    }

    #[test]
    fn identity_headers_of_other_proxies_are_reserved() {
        for name in [
            "Forwarded",
            "X-Forwarded-For",
            "x_forwarded_host",
            "X-Real-IP",
            "True-Client-IP",
            "X-Original-URL",
            "X-Auth",
            "X-Forwarded-User",
            "X-Forwarded-Email",
            "Remote-User",
            "REMOTE_USER",
            "X-Remote-Extra-Scopes",
            "X-MS-CLIENT-PRINCIPAL-NAME",
            "Cf-Access-Jwt-Assertion",
        ] {
            assert!(is_reserved_header(name), "{name:?}");
        }
    }

    #[test]
    fn method_and_path_overrides_are_reserved() {
        for name in [
            "X-HTTP-Method-Override",
            "X-Method-Override",
            "X-HTTP-Method",
            "x_http_method_override",
            "X-Original-URL",
            "X-Rewrite-URL",
            "X-Override-URL",
            "X-Envoy-Original-Path",
            "x-envoy-original-method",
        ] {
            assert!(is_reserved_header(name), "{name:?}");
        }
    }

    #[test]
    fn whole_families_are_reserved_in_every_spelling() {
        for name in [
            // Authelia and forward-auth
            "Remote-User",
            "Remote-Email",
            "Remote-Groups",
            "Remote-Name",
            "remote_groups",
            // oauth2-proxy
            "X-Auth-Request-User",
            "X-Auth-Request-Email",
            "X-Auth-Request-Groups",
            "X-Auth-Request-Preferred-Username",
            "X-Auth-Request-Access-Token",
            "X-Forwarded-Preferred-Username",
            "X-Forwarded-Groups",
            "X-Forwarded-Access-Token",
            "X-Forwarded-Port",
            "X-Forwarded-Prefix",
            "GAP-Auth",
            // Pomerium
            "X-Pomerium-Jwt-Assertion",
            "X-Pomerium-Claim-Email",
            // Kubernetes front proxy
            "X-Remote-Group",
            "X-Remote-Extra-Acme.Com%2Fproject",
            // Apache mod_auth_openidc, Shibboleth
            "OIDC_CLAIM_email",
            "OIDC_access_token",
            "Shib-Identity-Provider",
            // IIS / Azure App Service
            "X-MS-CLIENT-PRINCIPAL",
            "X-MS-CLIENT-PRINCIPAL-ID",
            "X-MS-CLIENT-PRINCIPAL-IDP",
            "X-MS-TOKEN-AAD-ID-TOKEN",
            "X-IISNode-AUTH_USER",
            "X-Original-Host",
            // AWS ALB
            "x-amzn-oidc-accesstoken",
            "x-amzn-oidc-identity",
            "x-amzn-oidc-data",
            // Google IAP
            "X-Goog-Authenticated-User-Email",
            "X-Goog-Authenticated-User-Id",
            "X-Goog-IAP-JWT-Assertion",
            // Cloudflare Access, Grafana, Gitea, Vouch, Tailscale, Teleport, Authentik
            "Cf-Access-Authenticated-User-Email",
            "X-WEBAUTH-USER",
            "X-WebAuth-Email",
            "X-Vouch-User",
            "Tailscale-User-Login",
            "Teleport-Jwt-Assertion",
            "X-Authentik-Username",
            "X-Authenticated-User",
            "X-Authenticated-Userid",
            // Generic
            "X-User",
            "X-User-Id",
            "X-Username",
            "X-User-Email",
            "X-Cluster-Client-IP",
            // Spellings
            "x.auth.user",
            "X AUTH USER",
            " Remote-Email\t",
            "REMOTE_EMAIL",
            "x_forwarded_for",
        ] {
            assert!(is_reserved_header(name), "{name:?}");
        }
    }

    #[test]
    fn ordinary_headers_pass() {
        for name in [
            "accept",
            "cookie",
            "authorization",
            "user-agent",
            "x-request-id",
            "cf-connecting-ip",
            "x-csrf-token",
            "remote",
            "x-remotely",
            "origin",
            "referer",
            "",
        ] {
            assert!(!is_reserved_header(name), "{name:?}");
        }
    }

    #[test]
    fn identity_headers_carry_every_field_in_order() {
        let headers = identity_headers(&alice()).unwrap();
        assert_eq!(
            headers,
            vec![
                (USER_HEADER, "alice".to_owned()),
                (SESSION_HEADER, "s_4f2a".to_owned()),
                (ROLES_HEADER, "admin,billing:read".to_owned()),
                (ASSERTION_HEADER, "eyJhbGciOiJFZERTQSJ9.e30.c2ln".to_owned()),
            ]
        );
    }

    #[test]
    fn no_roles_gives_an_empty_roles_header() {
        let identity = Identity {
            roles: vec![],
            ..alice()
        };
        let headers = identity_headers(&identity).unwrap();
        assert!(headers.contains(&(ROLES_HEADER, String::new())));
    }

    #[test]
    fn header_injection_is_refused() {
        for bad in [
            "alice\r\nx-auth-roles: admin",
            "alice\n",
            "alice\0",
            "al ice",
            "al\tice",
            "alicé",
            "alice\u{7f}",
        ] {
            // A username or role that could break the header cannot be made at all.
            assert!(Username::try_from(bad.to_owned()).is_err(), "{bad:?}");
            assert!(Username::federated("corp", bad).is_none(), "{bad:?}");
            assert!(Role::parse(bad).is_err(), "{bad:?}");
            assert!(Role::try_from(bad.to_owned()).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn every_field_is_checked() {
        let session = Identity {
            session: "s\r\n".into(),
            ..alice()
        };
        let assertion = Identity {
            assertion: Assertion::new("a b".into()),
            ..alice()
        };
        assert_eq!(
            identity_headers(&session),
            Err(ForwardError::InvalidCharacter {
                header: SESSION_HEADER
            })
        );
        assert!(
            Role::parse("x\ny").is_err(),
            "a role is checked when it is made"
        );
        assert_eq!(
            identity_headers(&assertion),
            Err(ForwardError::InvalidCharacter {
                header: ASSERTION_HEADER
            })
        );
    }

    #[test]
    fn empty_values_and_commas_in_roles_are_refused() {
        let empty_session = Identity {
            session: String::new(),
            ..alice()
        };
        assert!(Username::parse("").is_err(), "there is no empty username");
        assert!(Role::parse("").is_err(), "there is no empty role");
        assert!(Role::parse("admin,root").is_err(), "no role holds a comma");
        assert_eq!(
            identity_headers(&empty_session),
            Err(ForwardError::Empty {
                header: SESSION_HEADER
            })
        );
        // So the joined header splits back into exactly the roles sent.
        let many = Identity {
            roles: roles(&["a", "b:c", "d.e-f_g"]),
            ..alice()
        };
        let headers = identity_headers(&many).unwrap();
        let joined = &headers
            .iter()
            .find(|(name, _)| *name == ROLES_HEADER)
            .unwrap()
            .1;
        assert_eq!(
            joined.split(',').collect::<Vec<_>>(),
            ["a", "b:c", "d.e-f_g"]
        );
    }

    #[test]
    fn errors_do_not_echo_values() {
        let identity = Identity {
            assertion: Assertion::new("secret token\n".into()),
            ..alice()
        };
        let message = identity_headers(&identity).unwrap_err().to_string();
        assert!(message.contains(ASSERTION_HEADER));
        assert!(!message.contains("secret"));
        assert!(!format!("{identity:?}").contains("secret"));
    }
}
