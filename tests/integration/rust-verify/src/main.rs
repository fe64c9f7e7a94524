//! Verifies an edgegate identity assertion (`X-Auth-Assertion`) with jwt-compact.
//!
//!     rust-verify TOKEN JWKS_FILE ISSUER AUDIENCE
//!
//! Prints the claims and exits 0 when the assertion is valid; prints `refused: <why>` and exits 1
//! when it is not.

use chrono::{Duration, Utc};
use ed25519_compact::PublicKey;
use jwt_compact::{alg::Ed25519, jwk::JsonWebKey, prelude::*};
use serde::{Deserialize, Serialize};

const ASSERTION_TYP: &str = "edgegate-assertion+jwt";

/// The claims edgegate puts in an assertion besides `iat`, `nbf` and `exp`.
#[derive(Debug, Serialize, Deserialize)]
pub struct Assertion {
    pub iss: String,
    pub aud: String,
    pub sub: String,
    pub sid: String,
    pub roles: Vec<String>,
    pub jti: String,
    pub knd: String,
}

#[derive(Debug)]
pub enum Refused {
    /// No key with the token's `kid` in the JWKS: fetch the JWKS again (once) and retry.
    UnknownKid(String),
    Invalid(String),
}

/// Checks signature, `typ`, `kid`, `iss`, `aud`, `exp` and `nbf` (5 s leeway).
/// `jwks` is the JSON served at `https://<edge>/.well-known/jwks.json`; cache it.
pub fn verify_assertion(
    token: &str,
    jwks: &str,
    issuer: &str,
    audience: &str,
) -> Result<Claims<Assertion>, Refused> {
    let untrusted = UntrustedToken::new(token).map_err(invalid)?;
    if untrusted.header().token_type.as_deref() != Some(ASSERTION_TYP) {
        return Err(invalid("not an edgegate assertion (typ)"));
    }
    let kid = untrusted
        .header()
        .key_id
        .as_deref()
        .ok_or_else(|| invalid("no kid"))?;
    let key = find_key(jwks, kid)?;
    // The validator refuses any `alg` other than EdDSA.
    let token = Ed25519
        .validator::<Assertion>(&key)
        .validate(&untrusted)
        .map_err(invalid)?;
    let time = TimeOptions::new(Duration::seconds(5), Utc::now);
    let claims = token.claims();
    claims
        .validate_expiration(&time)
        .and_then(|c| c.validate_maturity(&time))
        .map_err(invalid)?;
    let c = &claims.custom;
    if c.iss != issuer || c.aud != audience || c.knd != "assertion" {
        return Err(invalid("wrong iss, aud or knd"));
    }
    Ok(token.into_parts().1)
}

/// The Ed25519 key with this `kid` from a JWKS document.
fn find_key(jwks: &str, kid: &str) -> Result<PublicKey, Refused> {
    let jwks: serde_json::Value = serde_json::from_str(jwks).map_err(invalid)?;
    let keys = jwks["keys"]
        .as_array()
        .ok_or_else(|| invalid("JWKS without keys"))?;
    let jwk = keys
        .iter()
        .find(|k| k["kid"] == kid && k["alg"] == "EdDSA")
        .ok_or_else(|| Refused::UnknownKid(kid.to_owned()))?;
    let jwk: JsonWebKey<'_> = serde_json::from_value(jwk.clone()).map_err(invalid)?;
    PublicKey::try_from(&jwk).map_err(invalid)
}

fn invalid(why: impl std::fmt::Display) -> Refused {
    Refused::Invalid(why.to_string())
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [token, jwks_file, issuer, audience] = &args[..] else {
        eprintln!("usage: rust-verify TOKEN JWKS_FILE ISSUER AUDIENCE");
        std::process::exit(2);
    };
    let jwks = std::fs::read_to_string(jwks_file).expect("readable JWKS file");
    match verify_assertion(token, &jwks, issuer, audience) {
        Ok(claims) => println!("{}", serde_json::to_string(&claims).unwrap()),
        Err(refused) => {
            eprintln!("refused: {refused:?}");
            std::process::exit(1);
        }
    }
}
