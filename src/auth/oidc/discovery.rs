//! A provider's discovery document (OpenID Connect Discovery 1.0 §3–4), checked before use.
//!
//! The document names the endpoints the edge sends the browser, the code and the client secret
//! to, so it is held to the configuration: its `issuer` must be exactly the configured one
//! (§4.3), and every endpoint must be https (http only in development).

use core::fmt;

use serde::Deserialize;

/// A discovery document larger than this is refused before parsing.
pub const MAX_DISCOVERY_BYTES: usize = 64 * 1024;

/// The endpoints the edge uses.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Discovery {
    /// The issuer the document speaks for; accepted only when exactly the configured one.
    pub issuer: String,
    /// Where the browser is sent to sign in.
    pub authorization_endpoint: String,
    /// Where the edge exchanges the code, with the client secret.
    pub token_endpoint: String,
    /// Where the provider's signing keys are published.
    pub jwks_uri: String,
    /// Where the browser is sent to end the provider's session at logout; `None` when the
    /// provider offers no RP-initiated logout.
    #[serde(default)]
    pub end_session_endpoint: Option<String>,
    /// Whether the provider puts `iss` in its authorization responses (RFC 9207); then the
    /// callback requires it, equal to the issuer.
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: bool,
}

/// Why an authorization response's `iss` parameter (RFC 9207 §2.4) was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseIssuerError {
    /// The provider advertises the parameter and the response lacks it.
    Missing,
    /// `iss` is not the configured issuer: the response comes from another provider (a mix-up).
    Wrong,
}

impl fmt::Display for ResponseIssuerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Missing => "the answer has no `iss`, which the provider advertises",
            Self::Wrong => "the answer's `iss` is another issuer",
        })
    }
}

/// Why a discovery document was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DiscoveryError {
    /// The body is longer than [`MAX_DISCOVERY_BYTES`].
    TooLarge,
    /// The body is not JSON with the required endpoints.
    Malformed,
    /// `issuer` is not exactly the configured issuer.
    WrongIssuer,
    /// The named endpoint is not https (and this is not development).
    InsecureEndpoint(&'static str),
}

impl fmt::Display for DiscoveryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLarge => f.write_str("the discovery document is too large"),
            Self::Malformed => f.write_str("the discovery document is not valid"),
            Self::WrongIssuer => f.write_str("the discovery document names another issuer"),
            Self::InsecureEndpoint(name) => write!(f, "the provider's {name} is not https"),
        }
    }
}

impl std::error::Error for DiscoveryError {}

impl Discovery {
    /// Parses and checks the document of the provider whose issuer is `issuer`.
    pub fn parse(body: &[u8], issuer: &str, dev_mode: bool) -> Result<Self, DiscoveryError> {
        if body.len() > MAX_DISCOVERY_BYTES {
            return Err(DiscoveryError::TooLarge);
        }
        let doc: Self = serde_json::from_slice(body).map_err(|_| DiscoveryError::Malformed)?;
        if doc.issuer != issuer {
            return Err(DiscoveryError::WrongIssuer);
        }
        let secure =
            |url: &str| url.starts_with("https://") || (dev_mode && url.starts_with("http://"));
        let endpoints = [
            ("authorization_endpoint", Some(&doc.authorization_endpoint)),
            ("token_endpoint", Some(&doc.token_endpoint)),
            ("jwks_uri", Some(&doc.jwks_uri)),
            ("end_session_endpoint", doc.end_session_endpoint.as_ref()),
        ];
        for (name, url) in endpoints {
            if url.is_some_and(|url| !secure(url)) {
                return Err(DiscoveryError::InsecureEndpoint(name));
            }
        }
        Ok(doc)
    }
}

impl Discovery {
    /// Checks the authorization response's `iss` (RFC 9207 §2.4): when present it must be exactly
    /// the issuer, and it must be present when the provider advertises
    /// `authorization_response_iss_parameter_supported`.
    pub fn check_response_issuer(&self, iss: Option<&str>) -> Result<(), ResponseIssuerError> {
        match iss {
            Some(iss) if iss == self.issuer => Ok(()),
            Some(_) => Err(ResponseIssuerError::Wrong),
            None if self.authorization_response_iss_parameter_supported => {
                Err(ResponseIssuerError::Missing)
            }
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = r#"{"issuer":"https://id.example.com","authorization_endpoint":"https://id.example.com/auth","token_endpoint":"https://id.example.com/token","jwks_uri":"https://id.example.com/jwks","end_session_endpoint":"https://id.example.com/logout"}"#;

    #[test]
    fn the_issuer_must_match_and_endpoints_be_https() {
        let doc = Discovery::parse(DOC.as_bytes(), "https://id.example.com", false).unwrap();
        assert_eq!(doc.token_endpoint, "https://id.example.com/token");
        assert_eq!(
            Discovery::parse(DOC.as_bytes(), "https://id.example.com/", false).unwrap_err(),
            DiscoveryError::WrongIssuer
        );
        let plain = DOC.replace(
            "https://id.example.com/token",
            "http://id.example.com/token",
        );
        assert_eq!(
            Discovery::parse(plain.as_bytes(), "https://id.example.com", false).unwrap_err(),
            DiscoveryError::InsecureEndpoint("token_endpoint")
        );
        assert!(Discovery::parse(plain.as_bytes(), "https://id.example.com", true).is_ok());
        assert_eq!(
            Discovery::parse(b"{}", "https://id.example.com", false).unwrap_err(),
            DiscoveryError::Malformed
        );
    }

    #[test]
    fn the_response_iss_is_checked_and_required_when_advertised() {
        let quiet = Discovery::parse(DOC.as_bytes(), "https://id.example.com", false).unwrap();
        assert!(!quiet.authorization_response_iss_parameter_supported);
        assert_eq!(quiet.check_response_issuer(None), Ok(()));
        assert_eq!(
            quiet.check_response_issuer(Some("https://id.example.com")),
            Ok(())
        );
        assert_eq!(
            quiet.check_response_issuer(Some("https://evil.example")),
            Err(ResponseIssuerError::Wrong)
        );
        let advertised = DOC.replace(
            "\"issuer\"",
            "\"authorization_response_iss_parameter_supported\":true,\"issuer\"",
        );
        let loud =
            Discovery::parse(advertised.as_bytes(), "https://id.example.com", false).unwrap();
        assert!(loud.authorization_response_iss_parameter_supported);
        assert_eq!(
            loud.check_response_issuer(None),
            Err(ResponseIssuerError::Missing)
        );
        assert_eq!(
            loud.check_response_issuer(Some("https://id.example.com/")),
            Err(ResponseIssuerError::Wrong)
        );
        assert_eq!(
            loud.check_response_issuer(Some("https://id.example.com")),
            Ok(())
        );
    }
}
