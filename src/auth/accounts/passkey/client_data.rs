//! `clientDataJSON`, the browser's account of a ceremony (WebAuthn §5.8.1): which ceremony, the
//! challenge, the page's origin. It is parsed as JSON (§7.1 step 6: a relying party must not
//! match it as text), and every member that decides anything is checked here.

use serde::Deserialize;

use super::refusal::PasskeyRefusal;
use crate::auth::names::encoding::b64url_decode;

/// The longest `clientDataJSON` taken, in bytes; a browser's is a few hundred.
pub const MAX_CLIENT_DATA: usize = 2048;

/// Which ceremony a `clientDataJSON` belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ceremony {
    /// `navigator.credentials.create`: `webauthn.create`.
    Create,
    /// `navigator.credentials.get`: `webauthn.get`.
    Get,
}

impl Ceremony {
    fn type_name(self) -> &'static str {
        match self {
            Self::Create => "webauthn.create",
            Self::Get => "webauthn.get",
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Collected {
    #[serde(rename = "type")]
    kind: String,
    challenge: String,
    origin: String,
    #[serde(default)]
    cross_origin: Option<bool>,
    #[serde(default)]
    top_origin: Option<String>,
}

/// A checked `clientDataJSON` (of the expected ceremony, from an allowed origin, top-level):
/// the challenge it answers, decoded; the caller checks it was issued and takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientData {
    /// The challenge.
    pub challenge: Vec<u8>,
}

/// Reads `bytes` as the `clientDataJSON` of `ceremony` and checks its type, its origin against
/// `origins` (exact match) and that it did not run in a cross-origin frame.
pub fn check(
    bytes: &[u8],
    ceremony: Ceremony,
    origins: &[String],
) -> Result<ClientData, PasskeyRefusal> {
    if bytes.len() > MAX_CLIENT_DATA {
        return Err(PasskeyRefusal::TooLarge("clientDataJSON"));
    }
    let collected: Collected =
        serde_json::from_slice(bytes).map_err(|_| PasskeyRefusal::Malformed("clientDataJSON"))?;
    if collected.kind != ceremony.type_name() {
        return Err(PasskeyRefusal::WrongType);
    }
    if !origins.contains(&collected.origin) {
        return Err(PasskeyRefusal::WrongOrigin);
    }
    if collected.cross_origin == Some(true) || collected.top_origin.is_some() {
        return Err(PasskeyRefusal::CrossOrigin);
    }
    let challenge = b64url_decode(&collected.challenge).ok_or(PasskeyRefusal::Challenge)?;
    Ok(ClientData { challenge })
}
