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
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub jwks_uri: String,
    #[serde(default)]
    pub end_session_endpoint: Option<String>,
}

/// Why a discovery document was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DiscoveryError {
    TooLarge,
    Malformed,
    WrongIssuer,
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
}
