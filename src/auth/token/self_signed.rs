//! Compact JWSs that clients sign with a key of their own: DPoP proofs and the device-bound
//! session responses of browsers. Their header names the key (`jwk`) or the key was registered
//! before; either way no key ring of ours is involved, so [`super::jws`] does not apply.
//!
//! [`read`] checks what costs nothing, in the order every such token shares: size, three
//! base64url parts of JSON objects, no `crit`, the expected `typ`, an `alg` from the caller's
//! allow-list (never `none`, never a symmetric one); [`embedded_key`] takes the header's `jwk`,
//! public only (a private member means the client published its secret) and of the algorithm's
//! type and size ([`PublicKey::from_jwk`]). The signature is the caller's to check, by the
//! platform, once its own claims are judged.

use serde_json::{Map, Value};

use super::public_keys::{PublicAlg, PublicKey};
use crate::auth::names::encoding::b64url_decode;

/// JWK members that only a private or symmetric key has.
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// Why a self-signed JWS was refused before its claims.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SelfSignedError {
    /// Longer than the caller's limit.
    TooLarge,
    /// Not a compact JWS with a JSON object in its header and payload, or its signature is not
    /// base64url.
    Malformed,
    /// A `crit` header: no extension is understood here.
    Critical,
    /// `typ` is not the one expected.
    Type,
    /// `alg` is not one the caller accepts.
    Algorithm,
    /// The `jwk` is absent, private, or not a key of `alg`'s type and size.
    Key,
}

/// A self-signed JWS whose structure passed: nothing about it is trusted yet.
#[derive(Debug)]
pub struct SelfSigned<'a> {
    /// The header.
    pub header: Map<String, Value>,
    /// The payload's claims.
    pub claims: Map<String, Value>,
    /// The algorithm the header names, from the allow-list.
    pub alg: PublicAlg,
    /// `base64url(header).base64url(payload)`, what the signature signs.
    pub signing_input: &'a str,
    /// The signature's bytes.
    pub signature: Vec<u8>,
}

/// The JSON object a base64url part decodes to.
fn json_part(part: &str) -> Result<Map<String, Value>, SelfSignedError> {
    let bytes = b64url_decode(part).ok_or(SelfSignedError::Malformed)?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(object)) => Ok(object),
        _ => Err(SelfSignedError::Malformed),
    }
}

/// Reads `text` as a compact JWS of `typ`, at most `max_bytes`, signed with one of `algs`
/// (the algorithm a header names, mapped by the caller's allow-list).
pub fn read<'a>(
    text: &'a str,
    max_bytes: usize,
    typ: &str,
    algs: impl Fn(&str) -> Option<PublicAlg>,
) -> Result<SelfSigned<'a>, SelfSignedError> {
    if text.len() > max_bytes {
        return Err(SelfSignedError::TooLarge);
    }
    let mut parts = text.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(SelfSignedError::Malformed);
    };
    let header_json = json_part(header)?;
    if header_json.contains_key("crit") {
        return Err(SelfSignedError::Critical);
    }
    if header_json.get("typ").and_then(Value::as_str) != Some(typ) {
        return Err(SelfSignedError::Type);
    }
    let alg = header_json
        .get("alg")
        .and_then(Value::as_str)
        .and_then(algs)
        .ok_or(SelfSignedError::Algorithm)?;
    let claims = json_part(payload)?;
    let signature = b64url_decode(signature).ok_or(SelfSignedError::Malformed)?;
    Ok(SelfSigned {
        header: header_json,
        claims,
        alg,
        signing_input: &text[..header.len() + 1 + payload.len()],
        signature,
    })
}

/// The public key the header carries as `jwk`, for the token's algorithm.
pub fn embedded_key(token: &SelfSigned<'_>) -> Result<PublicKey, SelfSignedError> {
    let jwk = token
        .header
        .get("jwk")
        .filter(|jwk| jwk.is_object())
        .ok_or(SelfSignedError::Key)?;
    if PRIVATE_MEMBERS.iter().any(|name| jwk.get(name).is_some()) {
        return Err(SelfSignedError::Key);
    }
    PublicKey::from_jwk("", token.alg, jwk).map_err(|_| SelfSignedError::Key)
}
