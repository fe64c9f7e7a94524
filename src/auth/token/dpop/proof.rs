//! The proof: a compact JWS the client signs with its key for one request (RFC 9449 §4), read
//! as untrusted text and checked in full by [`check`], the only maker of a [`VerifiedProof`].
//!
//! The order matters. Everything that costs nothing comes first: size, shape, `typ`, an
//! algorithm from the allow-list (never `none`, never a symmetric one: the key in the header
//! must be able to verify, so HMAC could only be verified with a key the client also holds),
//! a public key of that algorithm's type with no private member, no `crit`, the method, the URL
//! (RFC 9449 §4.3: no query, no fragment, compared after normalising case and default port),
//! the time, the token hash and the nonce. Then the signature, by the platform, and the key
//! against the one the token is bound to. Only then does the proof reach the replay memory: on
//! the request path only the holder of a bound token's key can add to it, and no proof dated
//! more than [`PROOF_FUTURE_SKEW`] ahead is kept.

use core::fmt;

use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::nonce::NonceKey;
use super::replay::SeenProofs;
use crate::auth::env::UnixTime;
use crate::auth::names::encoding::b64url;
use crate::auth::names::thumbprint::Thumbprint;
use crate::auth::token::public_keys::{ProofSignatures, PublicAlg};
use crate::auth::token::self_signed::{self, SelfSignedError};

/// A longer `DPoP` header is refused unread; an RSA-4096 proof is under 2 KB.
pub const MAX_PROOF_BYTES: usize = 4096;
/// The `typ` every proof carries (RFC 9449 §4.2).
pub const PROOF_TYP: &str = "dpop+jwt";
/// The longest `jti` accepted; clients send 16 to 32 random bytes, encoded.
pub const MAX_JTI_BYTES: usize = 128;
/// How long after its `iat` a proof is accepted, in seconds; also how long its `jti` is kept.
pub const PROOF_LIFETIME: i64 = 60;
/// The most a proof's `iat` may run ahead of the edge's clock, whatever `CLOCK_LEEWAY` allows
/// tokens: a proof dated further ahead would sit in the replay memory that much longer, and a
/// flood of them could make it refuse fresh proofs until then.
pub const PROOF_FUTURE_SKEW: i64 = 5;

/// Why a proof was refused. Each answers `invalid_dpop_proof` but [`Self::NonceNeeded`], which
/// asks the client to try again with the nonce it is sent (`use_dpop_nonce`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProofError {
    /// A proof was needed and none came.
    Missing,
    /// More than one `DPoP` header.
    Several,
    /// Longer than [`MAX_PROOF_BYTES`].
    TooLarge,
    /// Not a compact JWS with a JSON header and claims of the expected types.
    Malformed,
    /// `typ` is not `dpop+jwt`.
    Type,
    /// `alg` is not ES256, RS256 or Ed25519 (`EdDSA`).
    Algorithm,
    /// The `jwk` is not a public key of `alg`'s type, or carries private members.
    Key,
    /// A `crit` header: no extension is understood here.
    Critical,
    /// `htm` is not the request's method.
    Method,
    /// `htu` is not the request's URL.
    Url,
    /// `iat` is more than [`PROOF_LIFETIME`] in the past, or ahead of the clock by more than its
    /// leeway (at most [`PROOF_FUTURE_SKEW`]).
    Time,
    /// `ath` is missing, present without a token, or not the hash of the token presented.
    TokenHash,
    /// The server asks for a nonce, and this proof has none or an old one.
    NonceNeeded,
    /// The signature does not verify under the `jwk`.
    Signature,
    /// The same key and `jti` were taken before.
    Replayed,
    /// A valid proof, by another key than the token or session is bound to.
    OtherKey,
}

impl ProofError {
    /// The RFC 9449 error code of the answer.
    pub fn code(self) -> &'static str {
        match self {
            Self::NonceNeeded => "use_dpop_nonce",
            _ => "invalid_dpop_proof",
        }
    }
}

impl ProofError {
    /// A short sentence for the client.
    pub fn reason(self) -> &'static str {
        match self {
            Self::Missing => "a DPoP proof is required",
            Self::Several => "more than one DPoP proof",
            Self::TooLarge => "the DPoP proof is too large",
            Self::Malformed => "the DPoP proof is not a well-formed JWT",
            Self::Type => "the DPoP proof's typ is not dpop+jwt",
            Self::Algorithm => "the DPoP proof's alg is not ES256, RS256 or EdDSA",
            Self::Key => "the DPoP proof's jwk is not a public key of its alg",
            Self::Critical => "the DPoP proof has a crit header",
            Self::Method => "the DPoP proof is for another method",
            Self::Url => "the DPoP proof is for another URL",
            Self::Time => "the DPoP proof's iat is too old or in the future",
            Self::TokenHash => "the DPoP proof's ath does not match the access token",
            Self::NonceNeeded => "a DPoP proof with the server's nonce is required",
            Self::Signature => "the DPoP proof's signature does not verify",
            Self::Replayed => "the DPoP proof was used before",
            Self::OtherKey => "the DPoP proof is signed by another key than the token's",
        }
    }
}

impl fmt::Display for ProofError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.reason())
    }
}

impl std::error::Error for ProofError {}

impl From<SelfSignedError> for ProofError {
    fn from(err: SelfSignedError) -> Self {
        match err {
            SelfSignedError::TooLarge => Self::TooLarge,
            SelfSignedError::Malformed => Self::Malformed,
            SelfSignedError::Critical => Self::Critical,
            SelfSignedError::Type => Self::Type,
            SelfSignedError::Algorithm => Self::Algorithm,
            SelfSignedError::Key => Self::Key,
        }
    }
}

/// What the proof must match: the request it came with and what the server expects of it.
#[derive(Debug, Clone, Copy)]
pub struct ProofRequest<'a> {
    /// The request's method.
    pub method: &'a str,
    /// The request's URL as the client addressed it; its query and fragment are ignored.
    pub url: &'a str,
    /// The access token the proof must hash into `ath`; `None` at the token endpoint, where a
    /// proof carries no `ath`.
    pub access_token: Option<&'a str>,
    /// The key the token or session is bound to, if any.
    pub bound_to: Option<&'a Thumbprint>,
    /// The server's nonces, when they are required (`DPOP_NONCE`).
    pub nonces: Option<&'a NonceKey>,
    /// The time of the request.
    pub now: UnixTime,
    /// Seconds a client's clock may run ahead.
    pub leeway: i64,
}

/// A proof that passed every check: its key's thumbprint is what the tokens get bound to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedProof {
    thumbprint: Thumbprint,
}

impl VerifiedProof {
    /// The thumbprint of the key that signed the proof.
    pub fn thumbprint(&self) -> &Thumbprint {
        &self.thumbprint
    }
}

#[derive(Deserialize)]
struct ProofClaims {
    jti: String,
    htm: String,
    htu: String,
    /// A NumericDate: seconds, possibly with a fraction (RFC 7519 §2).
    iat: serde_json::Number,
    #[serde(default)]
    ath: Option<String>,
    #[serde(default)]
    nonce: Option<String>,
}

/// `url` compared as RFC 9449 §4.3 asks: without query and fragment, the scheme and host in
/// lower case, the default port dropped, an empty path as `/`.
pub fn normalized_url(url: &str) -> Option<String> {
    let end = url.find(['?', '#']).unwrap_or(url.len());
    let (scheme, rest) = url[..end].split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let (authority, path) = rest.find('/').map_or((rest, "/"), |at| rest.split_at(at));
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    let authority = authority.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "https" => ":443",
        "http" => ":80",
        _ => return None,
    };
    let host = authority.strip_suffix(default_port).unwrap_or(&authority);
    Some(format!("{scheme}://{host}{path}"))
}

/// Whole seconds of a NumericDate, its fraction dropped; `None` for one no clock can be at.
fn issued_at(date: &serde_json::Number) -> Option<i64> {
    if let Some(seconds) = date.as_i64() {
        return Some(seconds);
    }
    // Within ±2^53, where an f64 holds every whole second exactly; far beyond any clock.
    const LIMIT: f64 = 9_007_199_254_740_992.0;
    date.as_f64()
        .filter(|seconds| seconds.is_finite() && seconds.abs() < LIMIT)
        .map(|seconds| seconds.floor() as i64)
}

/// The `ath` of `token`: base64url of its SHA-256 (RFC 9449 §4.2).
pub fn token_hash(token: &str) -> String {
    b64url(&Sha256::digest(token.as_bytes()))
}

/// Checks `text`, the request's `DPoP` header, against `request`, and takes its `jti` from
/// `seen`; the only way to a [`VerifiedProof`].
pub async fn check(
    text: &str,
    request: &ProofRequest<'_>,
    signatures: &dyn ProofSignatures,
    seen: &SeenProofs,
) -> Result<VerifiedProof, ProofError> {
    if text.len() > MAX_PROOF_BYTES {
        return Err(ProofError::TooLarge);
    }
    // A compact JWS has neither commas nor spaces: two headers reach us joined by ", ".
    if text.contains(',') {
        return Err(ProofError::Several);
    }
    let token = self_signed::read(text, MAX_PROOF_BYTES, PROOF_TYP, PublicAlg::for_proof)
        .map_err(ProofError::from)?;
    let key = self_signed::embedded_key(&token).map_err(ProofError::from)?;
    let claims: ProofClaims =
        serde_json::from_value(Value::Object(token.claims)).map_err(|_| ProofError::Malformed)?;
    if claims.jti.is_empty() || claims.jti.len() > MAX_JTI_BYTES {
        return Err(ProofError::Malformed);
    }
    if claims.htm != request.method {
        return Err(ProofError::Method);
    }
    if normalized_url(&claims.htu).is_none_or(|htu| Some(htu) != normalized_url(request.url)) {
        return Err(ProofError::Url);
    }
    let iat = issued_at(&claims.iat).ok_or(ProofError::Malformed)?;
    let ahead = request.leeway.min(PROOF_FUTURE_SKEW);
    if iat < request.now - PROOF_LIFETIME || iat > request.now + ahead {
        return Err(ProofError::Time);
    }
    match (request.access_token, claims.ath.as_deref()) {
        (Some(token), Some(ath)) if token_hash(token) == ath => {}
        (None, None) => {}
        _ => return Err(ProofError::TokenHash),
    }
    if let Some(nonces) = request.nonces {
        if !claims
            .nonce
            .as_deref()
            .is_some_and(|nonce| nonces.accepts(nonce, request.now))
        {
            return Err(ProofError::NonceNeeded);
        }
    }
    if !signatures
        .verifies(&key, token.signing_input.as_bytes(), &token.signature)
        .await
    {
        return Err(ProofError::Signature);
    }
    let thumbprint = key.thumbprint();
    if request.bound_to.is_some_and(|bound| *bound != thumbprint) {
        return Err(ProofError::OtherKey);
    }
    if !seen.first_use(&thumbprint, &claims.jti, iat, request.now) {
        return Err(ProofError::Replayed);
    }
    Ok(VerifiedProof { thumbprint })
}
