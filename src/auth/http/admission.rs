//! Whether a request may be handled at all, decided before anything reads or forwards it.
//!
//! Two kinds of request cannot be judged safely, and are refused whole rather than cleaned:
//!
//! - A header whose name is not an RFC 9110 token (a byte outside `tchar`: non-ASCII, a control
//!   character, a separator). Servers and frameworks fold such names in ways no list can
//!   foresee (`X-Auth-User\xa0` may be read as `X-Auth-User`, a latin-1 byte dropped or
//!   replaced), and the runtime hands them over as characters its own header calls may not
//!   accept, so stripping them by name is not reliable: RFC 9110 §5.1 lets a server reject
//!   such a message, and the edge does (400).
//! - A WebSocket handshake the edge must not relay. A browser sends the user's cookies with a
//!   handshake whatever page opened it, and WebSockets are outside CORS: without a check of the
//!   page's `Origin`, any site could open a socket as the signed-in user (cross-site WebSocket
//!   hijacking). So a handshake whose `Origin` is neither the edge's own nor one configured in
//!   `WEBSOCKET_ORIGINS` is refused (403); one without `Origin` comes from no browser page
//!   (browsers always send it on a handshake) and is judged like any other request. And a
//!   handshake is a `GET` (RFC 6455 §4.1): asked on another method it is refused (400) rather
//!   than forwarded, which the runtime would do as a `GET` handshake.

use crate::auth::http::request::RequestFacts;
use core::fmt;

/// What an admitted request asks of the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Connection {
    /// An ordinary request: any `Upgrade` it carried is dropped before forwarding.
    Plain,
    /// A WebSocket handshake from an accepted page (or no page), to be forwarded as one.
    WebSocket,
}

/// Why a request is refused before anything else looks at it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Inadmissible {
    /// A header name is not an RFC 9110 token.
    HeaderName,
    /// A WebSocket handshake on another method than `GET`.
    UpgradeMethod,
    /// A WebSocket handshake from a page of another origin than the edge's own or a configured
    /// one.
    CrossSiteUpgrade,
}

impl fmt::Display for Inadmissible {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::HeaderName => "a header name is not a token (RFC 9110 §5.1)",
            Self::UpgradeMethod => "a WebSocket upgrade must be a GET request",
            Self::CrossSiteUpgrade => "WebSocket upgrades from this page's origin are not accepted",
        })
    }
}

/// Whether `request` may be handled, and as what; `allowed_origins` are the pages, besides the
/// edge's own origin, that may open WebSockets (`WEBSOCKET_ORIGINS`, exact serialized origins).
pub fn admit(
    request: &RequestFacts,
    allowed_origins: &[String],
) -> Result<Connection, Inadmissible> {
    if !request.header_names_are_tokens() {
        return Err(Inadmissible::HeaderName);
    }
    if !request.asks_websocket() {
        return Ok(Connection::Plain);
    }
    if request.method != "GET" {
        return Err(Inadmissible::UpgradeMethod);
    }
    match request.origin.as_deref() {
        None => Ok(Connection::WebSocket),
        Some(origin)
            if origin == request.own_origin
                || allowed_origins.iter().any(|allowed| allowed == origin) =>
        {
            Ok(Connection::WebSocket)
        }
        Some(_) => Err(Inadmissible::CrossSiteUpgrade),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::http::request::is_field_name;
    use crate::auth::http::request::tests::facts;

    const OWN: &str = "https://edge.example";

    fn allowed() -> Vec<String> {
        vec!["https://app.example".to_owned()]
    }

    fn handshake(method: &str, origin: Option<&str>) -> RequestFacts {
        let mut headers = vec![("Upgrade", "websocket"), ("Connection", "Upgrade")];
        headers.extend(origin.map(|origin| ("Origin", origin)));
        facts(method, "/live", &headers)
    }

    #[test]
    fn field_names_are_tokens() {
        for name in ["x-auth-user", "X-Custom_1", "a", "!#$%&'*+-.^_`|~"] {
            assert!(is_field_name(name), "{name:?}");
        }
        for name in [
            "",
            "x-auth-user\u{a0}",
            "x-auth-\u{dc}ser",
            "x-auth-\u{c3}\u{9c}ser",
            "remote-user\u{e9}",
            "x-user\u{7f}",
            "x auth",
            "x-auth:user",
            "x-auth(user)",
            "x-auth\tuser",
        ] {
            assert!(!is_field_name(name), "{name:?}");
        }
    }

    #[test]
    fn a_header_name_that_is_not_a_token_refuses_the_request() {
        let bad = facts("GET", "/x", &[("X-Auth-User\u{a0}", "root")]);
        assert_eq!(admit(&bad, &[]), Err(Inadmissible::HeaderName));
        let good = facts("GET", "/x", &[("X-Auth-User", "root")]);
        assert_eq!(admit(&good, &[]), Ok(Connection::Plain));
    }

    #[test]
    fn a_handshake_from_the_edge_itself_a_configured_page_or_no_page_is_a_websocket() {
        for origin in [Some(OWN), Some("https://app.example"), None] {
            assert_eq!(
                admit(&handshake("GET", origin), &allowed()),
                Ok(Connection::WebSocket),
                "{origin:?}"
            );
        }
        let versioned = facts("GET", "/live", &[("Upgrade", "h2c, WebSocket")]);
        assert_eq!(admit(&versioned, &[]), Ok(Connection::WebSocket));
    }

    #[test]
    fn a_handshake_from_any_other_page_is_cross_site() {
        for origin in [
            "https://evil.example",
            "https://sub.edge.example",
            "https://edge.example.evil.example",
            "http://edge.example",
            "https://edge.example:8443",
            "https://EDGE.example",
            "https://app.example/",
            "null",
            "",
        ] {
            assert_eq!(
                admit(&handshake("GET", Some(origin)), &allowed()),
                Err(Inadmissible::CrossSiteUpgrade),
                "{origin:?}"
            );
        }
    }

    #[test]
    fn a_handshake_on_another_method_than_get_is_refused_whatever_its_origin() {
        for method in ["HEAD", "POST", "DELETE", "OPTIONS", "PUT", "get"] {
            for origin in [Some(OWN), None, Some("https://evil.example")] {
                assert_eq!(
                    admit(&handshake(method, origin), &allowed()),
                    Err(Inadmissible::UpgradeMethod),
                    "{method} {origin:?}"
                );
            }
        }
    }

    #[test]
    fn other_upgrades_and_plain_requests_pass_as_plain_whatever_their_origin() {
        for method in ["GET", "POST"] {
            let h2c = facts(
                method,
                "/x",
                &[("Upgrade", "h2c"), ("Origin", "https://evil.example")],
            );
            assert_eq!(admit(&h2c, &[]), Ok(Connection::Plain), "{method}");
            let plain = facts(method, "/x", &[("Origin", "https://evil.example")]);
            assert_eq!(admit(&plain, &[]), Ok(Connection::Plain), "{method}");
        }
    }
}
