//! Signed tokens: ours (the access token in the session cookie, the identity assertion for the
//! origin) and others' (the public keys providers sign with, the proofs clients sign).
//!
//! An incoming token is a `&str` and stays untrusted until [`validate_access`] returns a
//! [`VerifiedAccess`], the only way to obtain one; the worker can act on nothing else.
//! Validation follows RFC 8725: the `kid` is looked up only in the configured ring, the signature
//! is checked with the algorithm that ring fixes (the header never chooses it, so `none` and
//! HS256-with-a-public-key cannot work), the header `alg` must then name that same algorithm, any
//! `crit` header is refused (we understand no extensions), `jku`/`x5u`/`jwk` are ignored, and the
//! claims are checked exactly: `iss`, `aud`, `typ`, the kind marker, `exp` and `nbf` with a small
//! leeway. Kinds differ in `typ`, in the `knd` claim and in key ring, so an assertion or a token
//! of some future kind never validates as an access token (RFC 8725 §3.11-3.12).
//!
//! The folder by phase: [`claims`] (what the tokens say), [`jws`] (the signature layer),
//! [`validity`] (time), [`mod@validate`] (the typed proofs), [`mint`] (issuing), [`error`] (errors
//! by phase), [`keys`] (our key rings and our JWKS), [`public_keys`] (others' public keys, vetted
//! by shape, and the signature check they go through), [`self_signed`] (the structure of the JWSs
//! clients sign with their own keys), [`ecdsa_der`] (ES256 signatures from DER, as WebAuthn
//! gives them, to the raw form WebCrypto verifies), [`windowed`] (stateless values the edge issues
//! and takes back), [`dpop`] (clients' proofs of possession), [`dbsc`] (device-bound browser
//! sessions).

pub mod claims;
pub mod dbsc;
pub mod dpop;
pub mod ecdsa_der;
pub mod error;
pub mod jws;
pub mod keys;
pub mod mint;
pub mod public_keys;
pub mod self_signed;
pub mod validate;
pub mod validity;
pub mod windowed;

pub use claims::{
    Audience, Confirmation, IdentityClaims, Subject, TokenKind, ACCESS_TYP, ASSERTION_TYP,
    MAX_ASSERTION_TTL, MAX_TOKEN_BYTES,
};
pub use error::{MintError, TokenError};
pub use jws::{verify_jws, VerifiedJws};
pub use mint::{issue, issue_access, issue_assertion, prepare, Unsigned};
pub use validate::{
    check_claims, validate, validate_access, validate_assertion, Expectation, Validated,
    VerifiedAccess,
};

#[cfg(test)]
mod tests;
