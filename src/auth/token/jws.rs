//! The JWS layer of a compact token: size, structure, `crit` and `kid` (shared with the
//! providers' tokens, [`read_compact`]), then for edgegate's own tokens the signature with the
//! algorithm the key ring fixes ([`verify_jws`]).

use jwt_compact::alg::SigningKey;
use jwt_compact::{Algorithm, AlgorithmSignature, Claims, UntrustedToken};
use serde_json::{Map, Value};

use super::claims::MAX_TOKEN_BYTES;
use super::error::TokenError;
use super::keys::{is_valid_kid, KeyRing};

/// Why a compact token's structure is refused, before any key is looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StructureError {
    /// Longer than the limit for its kind; refused before it is parsed.
    TooLarge,
    /// Not a compact JWS of JSON.
    Malformed,
    /// The header has `crit`: it asks for an extension edgegate does not understand.
    CriticalHeader,
    /// The header names no key.
    MissingKid,
}

/// A compact JWS whose structure is sound: parsed, no `crit`, a `kid`. Nothing is verified yet.
#[derive(Debug)]
pub struct CompactJws<'a> {
    /// The parsed token.
    pub token: UntrustedToken<'a, Map<String, Value>>,
    /// `base64url(header).base64url(claims)`, what the signature signs.
    pub signed_input: &'a str,
}

impl CompactJws<'_> {
    /// The `kid` header (present: checked by [`read_compact`]).
    pub fn kid(&self) -> &str {
        self.token.header().key_id.as_deref().unwrap_or_default()
    }
}

/// Reads the structure of `token`, at most `max_bytes` long: the one place both edgegate's
/// tokens and the providers' are parsed.
pub fn read_compact(token: &str, max_bytes: usize) -> Result<CompactJws<'_>, StructureError> {
    if token.len() > max_bytes {
        return Err(StructureError::TooLarge);
    }
    let parsed = UntrustedToken::<Map<String, Value>>::try_from(token)
        .map_err(|_| StructureError::Malformed)?;
    if parsed.header().other_fields.contains_key("crit") {
        return Err(StructureError::CriticalHeader);
    }
    if parsed.header().key_id.is_none() {
        return Err(StructureError::MissingKid);
    }
    let signed_input = token.rsplit_once('.').ok_or(StructureError::Malformed)?.0;
    Ok(CompactJws {
        token: parsed,
        signed_input,
    })
}

impl From<StructureError> for TokenError {
    fn from(err: StructureError) -> Self {
        match err {
            StructureError::TooLarge => Self::TooLarge,
            StructureError::Malformed => Self::Malformed,
            StructureError::CriticalHeader => Self::CriticalHeader,
            StructureError::MissingKid => Self::MissingKid,
        }
    }
}

/// A compact JWS whose signature verified against a key of the ring, with the algorithm the ring
/// fixes. Its claims are not checked yet.
#[derive(Debug)]
pub struct VerifiedJws<'a> {
    token: UntrustedToken<'a, Map<String, Value>>,
}

impl VerifiedJws<'_> {
    /// The `typ` header; `None` if the token has none.
    pub fn token_type(&self) -> Option<&str> {
        self.token.header().token_type.as_deref()
    }

    /// The `kid` header, which named the key the signature verified with.
    pub fn kid(&self) -> Option<&str> {
        self.token.header().key_id.as_deref()
    }

    /// The claims, deserialised; only meaningful because the signature verified.
    pub fn claims<T: serde::de::DeserializeOwned>(&self) -> Result<Claims<T>, TokenError> {
        self.token
            .deserialize_claims_unchecked()
            .map_err(|_| TokenError::Malformed)
    }
}

/// Verifies the JWS layer of `token` against `ring`: size, structure, `crit`, `kid`, signature,
/// then `alg`.
pub fn verify_jws<'a, A>(ring: &KeyRing<A>, token: &'a str) -> Result<VerifiedJws<'a>, TokenError>
where
    A: Algorithm,
    A::SigningKey: SigningKey<A>,
{
    let compact = read_compact(token, MAX_TOKEN_BYTES)?;
    let kid = compact.kid();
    if !is_valid_kid(kid) {
        return Err(TokenError::UnknownKey);
    }
    let key = ring.find(kid).ok_or(TokenError::UnknownKey)?;

    let signature_bytes = compact.token.signature_bytes();
    if A::Signature::LENGTH.is_some_and(|len| len.get() != signature_bytes.len()) {
        return Err(TokenError::BadSignature);
    }
    let signature =
        A::Signature::try_from_slice(signature_bytes).map_err(|_| TokenError::BadSignature)?;
    let verifying_key = key.key().to_verifying_key();
    if !ring.algorithm().verify_signature(
        &signature,
        &verifying_key,
        compact.signed_input.as_bytes(),
    ) {
        return Err(TokenError::BadSignature);
    }
    if compact.token.algorithm() != ring.algorithm().name() {
        return Err(TokenError::AlgorithmNotAllowed);
    }
    Ok(VerifiedJws {
        token: compact.token,
    })
}
