//! Device-bound sessions (W3C Device Bound Session Credentials): a browser proves, with a key
//! that never leaves the device, that it is the one that signed in, and only then gets the short
//! bound cookie without which its session cannot be refreshed. A stolen cookie jar then renews
//! nothing once that cookie has expired.
//!
//! Everything here is stateless except the key itself, which is kept with the session
//! ([`DeviceKey`]): the challenges a response must sign and the bound cookie are MACs under keys
//! derived from the session key ring ([`DeviceSecrets`]), so every isolate and location issues
//! and accepts them alike; a challenge also carries random bytes, so that each can be taken once.
//! A browser's response ([`registration`], [`refresh`]) is untrusted text until one of those two
//! accepts it.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::keys::SessionKeyRing;
use super::public_keys::{PublicAlg, PublicKey};
use super::self_signed::{self, SelfSignedError};
use super::windowed::WindowedMac;
use crate::auth::env::{random_bytes, Entropy, EntropyError, UnixTime};
use crate::auth::names::encoding::{b64url, b64url_decode};
use crate::auth::names::session_id::SessionId;
use crate::auth::names::thumbprint::Thumbprint;
use crate::auth::secret::ct_eq;
use crate::auth::token::public_keys::ProofSignatures;

/// The registration endpoint, as the registration header names it.
pub const REGISTRATION_PATH: &str = "/auth/device/register";
/// The refresh endpoint, as the session instructions name it.
pub const REFRESH_PATH: &str = "/auth/device/refresh";
/// The `typ` of a browser's response.
pub const RESPONSE_TYP: &str = "dbsc+jwt";
/// A longer response is refused unread; an RSA-4096 one is under 2 KB.
pub const MAX_RESPONSE_BYTES: usize = 8192;
/// Seconds one challenge is issued for; it is accepted for one more (the race window).
pub const CHALLENGE_PERIOD: i64 = 60;

/// Whether browsers are offered device-bound sessions (`DEVICE_BOUND_SESSIONS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DevicePolicy {
    /// Offered at every browser sign-in; a browser that does not take it keeps today's session.
    Offer,
    /// Offered, and a browser session not registered within the grace is ended at its next
    /// refresh.
    Require,
    /// Not offered; the endpoints are not found.
    Off,
}

/// The algorithms a device key may use: those browsers offer.
pub fn device_alg(name: &str) -> Option<PublicAlg> {
    match name {
        "ES256" => Some(PublicAlg::Es256),
        "RS256" => Some(PublicAlg::Rs256),
        _ => None,
    }
}

/// The key a session registered, as stored with it: the algorithm and the public JWK.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceKey {
    /// `ES256` or `RS256`.
    pub alg: String,
    /// The public key, its required members only.
    pub jwk: Value,
}

impl DeviceKey {
    fn of(key: &PublicKey) -> Self {
        Self {
            alg: key.alg().name().to_owned(),
            jwk: key.public_jwk().clone(),
        }
    }

    /// The key, vetted again as it is read back: a stored record is trusted no more than a
    /// header.
    pub fn public_key(&self) -> Option<PublicKey> {
        PublicKey::from_jwk("", device_alg(&self.alg)?, &self.jwk).ok()
    }

    /// The key's thumbprint, for audit lines.
    pub fn thumbprint(&self) -> Option<Thumbprint> {
        self.public_key().map(|key| key.thumbprint())
    }
}

/// Why a browser's response was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResponseError {
    /// Not a well-formed response of this protocol (size, structure, `typ`, `crit`).
    Malformed,
    /// `alg` is not ES256 or RS256, or not the registered key's.
    Algorithm,
    /// The `jwk` is absent, private, or not a key of `alg`'s type.
    Key,
    /// `jti` is not a live challenge of this session.
    Challenge,
    /// The signature does not verify.
    Signature,
    /// The challenge was taken before: a response replayed.
    Replayed,
}

impl ResponseError {
    /// A short sentence for the audit line and the answer.
    pub fn reason(self) -> &'static str {
        match self {
            Self::Malformed => "the response is not a well-formed dbsc+jwt",
            Self::Algorithm => "the response's alg is not ES256 or RS256, or not the session's",
            Self::Key => "the response's jwk is not a public key of its alg",
            Self::Challenge => "the response does not sign a live challenge of this session",
            Self::Signature => "the response's signature does not verify",
            Self::Replayed => "the response's challenge was used before",
        }
    }
}

impl From<SelfSignedError> for ResponseError {
    fn from(err: SelfSignedError) -> Self {
        match err {
            SelfSignedError::Algorithm => Self::Algorithm,
            SelfSignedError::Key => Self::Key,
            _ => Self::Malformed,
        }
    }
}

/// Stateless challenges and bound cookies for the sessions of one deployment.
#[derive(Debug)]
pub struct DeviceSecrets {
    challenges: WindowedMac,
    cookies: WindowedMac,
}

impl DeviceSecrets {
    /// The secrets of the deployment whose session keys are `ring`.
    pub fn derive(ring: &SessionKeyRing) -> Self {
        Self {
            challenges: WindowedMac::derive(
                ring,
                "edgegate device-bound session challenge",
                CHALLENGE_PERIOD,
            ),
            cookies: WindowedMac::derive(ring, "edgegate device-bound cookie", CHALLENGE_PERIOD),
        }
    }

    /// A new challenge for `session` at `now`: 12 random bytes, then the window and a MAC of
    /// both and the session, so that no two challenges are alike and each can be taken once.
    pub fn challenge(
        &self,
        session: &SessionId,
        now: UnixTime,
        entropy: &dyn Entropy,
    ) -> Result<String, EntropyError> {
        let unique: [u8; 12] = random_bytes(entropy)?;
        let subject = [session.as_str().as_bytes(), &unique].concat();
        Ok(format!(
            "{}.{}",
            b64url(&unique),
            self.challenges.issue(&subject, now)
        ))
    }

    fn accepts(&self, challenge: &str, session: &SessionId, now: UnixTime) -> bool {
        let Some((unique, windowed)) = challenge.split_once('.') else {
            return false;
        };
        let Some(unique) = b64url_decode(unique).filter(|unique| unique.len() == 12) else {
            return false;
        };
        let subject = [session.as_str().as_bytes(), &unique].concat();
        self.challenges.accepts(windowed, &subject, now)
    }

    fn cookie_tag(&self, session: &str, expires: i64) -> String {
        b64url(&self.cookies.mac(format!("{session}.{expires}").as_bytes())[..16])
    }

    /// The bound cookie's value for `session`, live until `expires`: `<session>.<expires>.<mac>`.
    pub fn bound_cookie(&self, session: &SessionId, expires: UnixTime) -> String {
        let id = session.as_str();
        format!("{id}.{expires}.{}", self.cookie_tag(id, expires))
    }

    /// The session a bound cookie's value names, if it is ours and live at `now`.
    pub fn bound_session(&self, value: &str, now: UnixTime) -> Option<SessionId> {
        let mut parts = value.split('.');
        let (Some(id), Some(expires), Some(tag), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        // One spelling per expiry (no sign, no leading zero), so a cookie has no aliases.
        let expires: i64 = expires
            .parse()
            .ok()
            .filter(|n: &i64| n.to_string() == expires)?;
        (ct_eq(tag.as_bytes(), self.cookie_tag(id, expires).as_bytes()) && now < expires)
            .then(|| SessionId::parse(id))
            .flatten()
    }
}

/// The `jti` claim of a response: the challenge it signs.
fn challenge_of<'t>(token: &'t self_signed::SelfSigned<'_>) -> Option<&'t str> {
    token.claims.get("jti").and_then(Value::as_str)
}

/// Checks a registration response for `session`: a `dbsc+jwt` with the browser's public key in
/// its header, signing a live challenge of this session with that key. The key to keep, and the
/// challenge it signed, for the caller to take once.
pub async fn registration(
    text: &str,
    session: &SessionId,
    now: UnixTime,
    secrets: &DeviceSecrets,
    signatures: &dyn ProofSignatures,
) -> Result<(DeviceKey, String), ResponseError> {
    let token = self_signed::read(text, MAX_RESPONSE_BYTES, RESPONSE_TYP, device_alg)?;
    let key = self_signed::embedded_key(&token)?;
    if !challenge_of(&token).is_some_and(|jti| secrets.accepts(jti, session, now)) {
        return Err(ResponseError::Challenge);
    }
    if !signatures
        .verifies(&key, token.signing_input.as_bytes(), &token.signature)
        .await
    {
        return Err(ResponseError::Signature);
    }
    let challenge = challenge_of(&token).unwrap_or_default().to_owned();
    Ok((DeviceKey::of(&key), challenge))
}

/// Checks a refresh response for `session`, registered with `key`: a `dbsc+jwt` of the key's
/// algorithm signing a live challenge of this session with that key (a `jwk` in the header, if
/// any, is not looked at). The challenge it signed, for the caller to take once.
pub async fn refresh(
    text: &str,
    session: &SessionId,
    key: &DeviceKey,
    now: UnixTime,
    secrets: &DeviceSecrets,
    signatures: &dyn ProofSignatures,
) -> Result<String, ResponseError> {
    let registered = key.public_key().ok_or(ResponseError::Key)?;
    let token = self_signed::read(text, MAX_RESPONSE_BYTES, RESPONSE_TYP, |name| {
        device_alg(name).filter(|alg| *alg == registered.alg())
    })?;
    if !challenge_of(&token).is_some_and(|jti| secrets.accepts(jti, session, now)) {
        return Err(ResponseError::Challenge);
    }
    if !signatures
        .verifies(
            &registered,
            token.signing_input.as_bytes(),
            &token.signature,
        )
        .await
    {
        return Err(ResponseError::Signature);
    }
    Ok(challenge_of(&token).unwrap_or_default().to_owned())
}

/// A header value of the protocol as sent: the draft writes them as structured-field strings
/// (`"..."`), Chromium sends them bare; both are read the same.
pub fn unquoted(value: &str) -> &str {
    let value = value.trim();
    value
        .strip_prefix('"')
        .and_then(|inner| inner.strip_suffix('"'))
        .unwrap_or(value)
}

/// `Secure-Session-Registration` for a new session: the algorithms, the endpoint and the
/// challenge.
pub fn registration_header(challenge: &str) -> String {
    format!(r#"(ES256 RS256);path="{REGISTRATION_PATH}";challenge="{challenge}""#)
}

/// `Secure-Session-Challenge` for `session`.
pub fn challenge_header(challenge: &str, session: &SessionId) -> String {
    format!(r#""{challenge}";id="{}""#, session.as_str())
}

/// What a `Secure-Session-Skipped` header says: the reason, and the session it names, if any.
pub fn skipped(value: &str) -> (String, Option<String>) {
    let mut parts = value.split(';');
    let reason = unquoted(parts.next().unwrap_or_default()).to_owned();
    let session = parts.find_map(|param| {
        let (name, value) = param.trim().split_once('=')?;
        (name.trim() == "session_identifier").then(|| unquoted(value).to_owned())
    });
    (reason, session)
}

#[cfg(all(test, not(target_arch = "wasm32")))]
#[path = "dbsc_tests.rs"]
mod tests;
