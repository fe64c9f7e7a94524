//! One sign-in at a provider, from the start redirect to the callback: PKCE, `state` and
//! `nonce`, kept in a short-lived signed cookie, `__Host-` prefixed so that only this host can
//! set it (a sibling subdomain cannot plant a flow of its own), hidden from the origin like the
//! session cookies, and cleared by every callback answer.
//!
//! The cookie binds the authorization response to the browser that started it (a `state` from
//! another browser does not match), carries the PKCE verifier so a stolen code is useless
//! elsewhere (RFC 7636), and the nonce that the ID token must repeat. It is signed with the
//! session key ring as its own token type, so it can never pass for an access token and nothing
//! in it can be changed; it holds nothing secret from the browser that started the sign-in.

use core::fmt;

use jwt_compact::alg::Hs256;
use jwt_compact::{AlgorithmExt, Claims, Header};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::auth::env::{random_bytes, Entropy, UnixTime};
use crate::auth::http::cookie::{CookieSpec, SetCookie};
use crate::auth::http::redirect::safe_next;
use crate::auth::names::encoding::b64url;
use crate::auth::secret::ct_eq;
use crate::auth::token::keys::SessionKeyRing;
use crate::auth::token::verify_jws;

/// `typ` of the flow cookie's token.
pub const FLOW_TYP: &str = "edgegate-oidc-flow+jwt";
/// How long a sign-in at the provider may take.
pub const FLOW_TTL: i64 = 600;

/// The routes of a provider, under one prefix.
pub const OIDC_PREFIX: &str = "/auth/oidc/";

/// The callback path of provider `id`.
pub fn callback_path(id: &str) -> String {
    format!("{OIDC_PREFIX}{id}/callback")
}

/// Everything but RFC 3986 unreserved characters is encoded in a query or form value.
pub const FORM_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// What the callback needs to finish the sign-in the start route began.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flow {
    /// The provider id this sign-in is for.
    pub provider: String,
    /// The `state` sent to the provider, which the callback must repeat.
    pub state: String,
    /// The `nonce` the ID token must carry.
    pub nonce: String,
    /// The PKCE code verifier (43 characters of base64url).
    pub verifier: String,
    /// Where to go afterwards, already checked by [`safe_next`].
    pub next: String,
}

/// Why a callback was refused before anything was sent to the provider.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FlowError {
    /// No flow cookie: the sign-in was started elsewhere, long ago, or not at all.
    Missing,
    /// The cookie is not one this edge signed, or has expired.
    Invalid,
    /// The cookie is for another provider.
    WrongProvider,
    /// `state` differs from the cookie's.
    StateMismatch,
    /// The platform gave no random bytes for `state`, `nonce` or the verifier.
    NoRandomness,
}

impl fmt::Display for FlowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Missing => "no sign-in was started in this browser (or it took too long)",
            Self::Invalid => "the sign-in cookie is invalid or has expired",
            Self::WrongProvider => "the sign-in was started with another provider",
            Self::StateMismatch => "the answer does not belong to this browser's sign-in",
            Self::NoRandomness => "no randomness available",
        })
    }
}

impl std::error::Error for FlowError {}

fn random_text(entropy: &dyn Entropy) -> Result<String, FlowError> {
    random_bytes::<32>(entropy)
        .map(|bytes| b64url(&bytes))
        .map_err(|_| FlowError::NoRandomness)
}

/// The PKCE S256 challenge of `verifier` (RFC 7636 §4.2).
pub fn challenge(verifier: &str) -> String {
    b64url(&Sha256::digest(verifier.as_bytes()))
}

impl Flow {
    /// A new sign-in at `provider` that returns to `next` (checked as the password login's is).
    pub fn begin(
        provider: &str,
        next: Option<&str>,
        entropy: &dyn Entropy,
    ) -> Result<Self, FlowError> {
        Ok(Self {
            provider: provider.to_owned(),
            state: random_text(entropy)?,
            nonce: random_text(entropy)?,
            verifier: random_text(entropy)?,
            next: safe_next(next),
        })
    }

    /// The provider's authorization URL for this sign-in.
    pub fn authorization_url(
        &self,
        endpoint: &str,
        client_id: &str,
        redirect_uri: &str,
        scopes: &str,
    ) -> String {
        let encode = |value: &str| utf8_percent_encode(value, FORM_VALUE).to_string();
        let separator = if endpoint.contains('?') { '&' } else { '?' };
        format!(
            "{endpoint}{separator}response_type=code&client_id={}&redirect_uri={}&scope={}\
             &state={}&nonce={}&code_challenge={}&code_challenge_method=S256",
            encode(client_id),
            encode(redirect_uri),
            encode(scopes),
            encode(&self.state),
            encode(&self.nonce),
            encode(&challenge(&self.verifier)),
        )
    }

    /// The signed cookie value.
    pub fn seal(&self, keys: &SessionKeyRing, now: UnixTime) -> Result<String, FlowError> {
        let key = keys.signing_key();
        let header = Header::empty()
            .with_key_id(key.kid())
            .with_token_type(FLOW_TYP);
        let mut claims = Claims::new(self.clone());
        claims.expiration = chrono::DateTime::from_timestamp(now + FLOW_TTL, 0);
        Hs256
            .token(&header, &claims, key.key())
            .map_err(|_| FlowError::Invalid)
    }

    /// The flow in `cookie`, if this edge signed it for `provider` less than [`FLOW_TTL`] ago and
    /// `state` is its state.
    pub fn open(
        cookie: Option<&str>,
        keys: &SessionKeyRing,
        provider: &str,
        state: Option<&str>,
        now: UnixTime,
    ) -> Result<Self, FlowError> {
        let cookie = cookie.ok_or(FlowError::Missing)?;
        let jws = verify_jws(keys, cookie).map_err(|_| FlowError::Invalid)?;
        if jws.token_type() != Some(FLOW_TYP) {
            return Err(FlowError::Invalid);
        }
        let claims = jws.claims::<Flow>().map_err(|_| FlowError::Invalid)?;
        match claims.expiration {
            Some(expiry) if expiry.timestamp() > now => {}
            _ => return Err(FlowError::Invalid),
        }
        let flow = claims.custom;
        if flow.provider != provider {
            return Err(FlowError::WrongProvider);
        }
        match state {
            Some(state) if ct_eq(state.as_bytes(), flow.state.as_bytes()) => Ok(flow),
            _ => Err(FlowError::StateMismatch),
        }
    }
}

/// The flow cookie's name: `__Host-eg_oidc`, or `eg_oidc` when cookies are not secure
/// (plain-HTTP development).
pub fn cookie_name(spec: &CookieSpec) -> &'static str {
    spec.names().flow
}

/// `Set-Cookie` for the flow of `provider`: `__Host-` (so `Path=/`, no `Domain`), and `Lax` so
/// the provider's redirect back (a top-level navigation from another site) carries it. It names
/// its provider inside, so one cookie serves every provider; a sign-in started later replaces it.
pub fn set_cookie(value: &str, spec: &CookieSpec) -> SetCookie {
    SetCookie::Setting(flow_cookie(value, FLOW_TTL, spec))
}

/// `Set-Cookie` deleting the flow cookie: on every answer of the callback.
pub fn clear_cookie(spec: &CookieSpec) -> SetCookie {
    SetCookie::Clearing(flow_cookie("", 0, spec))
}

fn flow_cookie(value: &str, max_age: i64, spec: &CookieSpec) -> String {
    format!(
        "{}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{}",
        cookie_name(spec),
        if spec.secure { "; Secure" } else { "" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::env::testing::SeededEntropy;

    fn ring() -> SessionKeyRing {
        SessionKeyRing::parse("s1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8").unwrap()
    }

    #[test]
    fn pkce_challenge_is_base64url_sha256_of_the_verifier() {
        // As Node's crypto computes it: createHash("sha256").update(v).digest("base64url").
        assert_eq!(
            challenge("dBjftJeZ4CVP-mJ0kTcFtMtyMRPzTNwt6XAQiH_rO2A"),
            "-W2ptS1kWPhABE1rsShhhduF2EPmTwnBOl1pqAohX6w"
        );
    }

    #[test]
    fn a_sealed_flow_opens_only_for_its_provider_state_and_time() {
        let entropy = SeededEntropy::default();
        let flow = Flow::begin("corp", Some("//evil.example"), &entropy).unwrap();
        assert_eq!(flow.next, "/", "next is checked like the password login's");
        assert_ne!(flow.state, flow.nonce);
        let sealed = flow.seal(&ring(), 1000).unwrap();
        let state = Some(flow.state.as_str());
        assert_eq!(
            Flow::open(Some(&sealed), &ring(), "corp", state, 1100).unwrap(),
            flow
        );
        let refused = [
            (
                Flow::open(None, &ring(), "corp", state, 1100),
                FlowError::Missing,
            ),
            (
                Flow::open(Some(&sealed), &ring(), "other", state, 1100),
                FlowError::WrongProvider,
            ),
            (
                Flow::open(Some(&sealed), &ring(), "corp", Some("x"), 1100),
                FlowError::StateMismatch,
            ),
            (
                Flow::open(Some(&sealed), &ring(), "corp", None, 1100),
                FlowError::StateMismatch,
            ),
            (
                Flow::open(Some(&sealed), &ring(), "corp", state, 1000 + FLOW_TTL),
                FlowError::Invalid,
            ),
        ];
        for (result, error) in refused {
            assert_eq!(result.unwrap_err(), error);
        }
        let other =
            SessionKeyRing::parse("s1:ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8").unwrap();
        assert_eq!(
            Flow::open(Some(&sealed), &other, "corp", state, 1100).unwrap_err(),
            FlowError::Invalid
        );
    }

    #[test]
    fn the_authorization_url_carries_the_challenge_not_the_verifier() {
        let flow = Flow::begin("corp", Some("/reports?y=1"), &SeededEntropy::default()).unwrap();
        let url = flow.authorization_url(
            "https://id.example.com/authorize",
            "edge",
            "https://app.example.com/auth/oidc/corp/callback",
            "openid email",
        );
        assert!(url.starts_with("https://id.example.com/authorize?response_type=code&client_id=edge&redirect_uri=https%3A%2F%2Fapp"));
        assert!(url.contains(&format!("code_challenge={}", challenge(&flow.verifier))));
        assert!(url.contains("code_challenge_method=S256") && url.contains("scope=openid%20email"));
        assert!(!url.contains(&flow.verifier));
        let cookie = set_cookie("v", &CookieSpec { secure: true });
        assert_eq!(
            cookie,
            "__Host-eg_oidc=v; Path=/; HttpOnly; SameSite=Lax; Max-Age=600; Secure"
        );
        let cleared = clear_cookie(&CookieSpec { secure: true });
        assert!(cleared.clears());
        assert_eq!(
            cleared,
            "__Host-eg_oidc=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0; Secure"
        );
        let dev = set_cookie("v", &CookieSpec { secure: false });
        assert_eq!(
            dev,
            "eg_oidc=v; Path=/; HttpOnly; SameSite=Lax; Max-Age=600"
        );
    }
}
