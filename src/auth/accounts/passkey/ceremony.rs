//! The two ceremonies from the relying party's side: the options handed to
//! `navigator.credentials.create` / `get` (in their JSON form, for
//! `PublicKeyCredential.parseCreationOptionsFromJSON` / `parseRequestOptionsFromJSON`), and the
//! checks of what comes back (`PublicKeyCredential.toJSON()`), WebAuthn Level 3 §7.1 and §7.2.
//!
//! What is checked where:
//! - here, from the response alone: the credential type, `id` = `rawId`, `clientDataJSON`
//!   (type, origin, not cross-origin), the attestation (`none` only, as requested), the RP id
//!   hash, UP and UV, BE/BS consistency, the credential id's length, the key's algorithm being
//!   one offered, the sign-in challenge being one this edge issued and still live, and, against
//!   the stored passkey, the user handle, the backup eligibility and the signature over
//!   `authenticatorData ‖ SHA-256(clientDataJSON)` (ES256 signatures converted from DER);
//! - in the user's authority ([`super::registry`]): the registration challenge taken once, the
//!   sign-in challenge spent once, the credential id registered once, the counter.

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::authenticator_data::{self, public_alg, AuthenticatorData, OFFERED_ALGORITHMS};
use super::cbor::{head_of, Head, Reader};
use super::challenge::{SignInChallenges, REGISTRATION_TTL, SIGN_IN_WINDOW};
use super::client_data::{self, Ceremony};
use super::ids::{CredentialId, UserHandle};
use super::refusal::PasskeyRefusal;
use super::registry::StoredPasskey;
use crate::auth::env::UnixTime;
use crate::auth::names::encoding::{b64url, b64url_decode};
use crate::auth::names::username::Username;
use crate::auth::token::ecdsa_der::es256_raw_from_der;
use crate::auth::token::public_keys::{ProofSignatures, PublicAlg, PublicKey};

/// The longest `attestationObject` taken, in bytes.
pub const MAX_ATTESTATION_OBJECT: usize = 4096;
/// The longest signature taken, in bytes (a 4,096-bit RSA signature is 512).
pub const MAX_SIGNATURE: usize = 1024;

/// What a sign counter that did not go forward meets (`PASSKEY_COUNTER`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignCounterPolicy {
    /// Logged, and the sign-in goes ahead.
    Log,
    /// Logged, and the sign-in is refused (the default).
    Refuse,
}

/// This deployment as a WebAuthn relying party.
#[derive(Debug)]
pub struct RelyingParty {
    /// The RP id (`WEBAUTHN_RP_ID`): the host name credentials are scoped to.
    pub id: String,
    /// The name authenticators show (`APP_NAME`).
    pub name: String,
    /// The exact origins a ceremony may run on (`WEBAUTHN_ORIGINS`).
    pub origins: Vec<String>,
    /// What a counter regression meets (`PASSKEY_COUNTER`).
    pub counter: SignCounterPolicy,
    /// How long after signing in a session may add or remove passkeys, in seconds
    /// (`PASSKEY_RECENT_SIGN_IN`).
    pub recent_sign_in: i64,
    /// The sign-in challenges.
    pub challenges: SignInChallenges,
}

impl RelyingParty {
    /// Whether a page of `origin` (`scheme://host[:port]`) can run a ceremony: it is one of the
    /// configured origins. Elsewhere (another host name of the same deployment, an IP address)
    /// the browser would refuse, so the pages offer no passkey there.
    pub fn serves(&self, origin: &str) -> bool {
        self.origins.iter().any(|allowed| allowed == origin)
    }

    fn id_hash(&self) -> [u8; 32] {
        Sha256::digest(self.id.as_bytes()).into()
    }

    /// The options of a registration for `user`, whose handle is `handle`, answering
    /// `challenge`, excluding the credentials the user has.
    pub fn creation_options(
        &self,
        user: &Username,
        handle: &UserHandle,
        challenge: &[u8],
        exclude: &[CredentialId],
    ) -> Value {
        let params: Vec<Value> = OFFERED_ALGORITHMS
            .iter()
            .map(|alg| json!({"type": "public-key", "alg": alg}))
            .collect();
        let exclude: Vec<Value> = exclude
            .iter()
            .map(|id| json!({"type": "public-key", "id": id.encoded()}))
            .collect();
        json!({
            "rp": {"id": self.id, "name": self.name},
            "user": {"id": handle.encoded(), "name": user.as_str(), "displayName": user.as_str()},
            "challenge": b64url(challenge),
            "pubKeyCredParams": params,
            "timeout": (REGISTRATION_TTL - 30) * 1000,
            "excludeCredentials": exclude,
            "authenticatorSelection": {
                "residentKey": "required",
                "requireResidentKey": true,
                "userVerification": "required",
            },
            "attestation": "none",
        })
    }

    /// The options of a sign-in without a username: any discoverable credential of this RP.
    pub fn request_options(&self, challenge: &[u8]) -> Value {
        json!({
            "rpId": self.id,
            "challenge": b64url(challenge),
            "timeout": SIGN_IN_WINDOW * 1000,
            "userVerification": "required",
            "allowCredentials": [],
        })
    }

    /// The checks every authenticator data meets, at both ceremonies.
    fn check_authenticator(&self, data: &AuthenticatorData) -> Result<(), PasskeyRefusal> {
        if data.rp_id_hash != self.id_hash() {
            return Err(PasskeyRefusal::RpIdHash);
        }
        if !data.flags.user_present() {
            return Err(PasskeyRefusal::UserNotPresent);
        }
        if !data.flags.user_verified() {
            return Err(PasskeyRefusal::UserNotVerified);
        }
        if data.flags.backed_up() && !data.flags.backup_eligible() {
            return Err(PasskeyRefusal::BackupFlags);
        }
        Ok(())
    }
}

fn decode(text: &str, max: usize, what: &'static str) -> Result<Vec<u8>, PasskeyRefusal> {
    // Base64url is 4 characters for 3 bytes.
    if text.len() > max / 3 * 4 + 4 {
        return Err(PasskeyRefusal::TooLarge(what));
    }
    let bytes = b64url_decode(text).ok_or(PasskeyRefusal::Malformed(what))?;
    if bytes.len() > max {
        return Err(PasskeyRefusal::TooLarge(what));
    }
    Ok(bytes)
}

/// The credential id a response names: `id` and `rawId` the same, of an allowed length.
fn response_id(id: &str, raw_id: &str, kind: &str) -> Result<CredentialId, PasskeyRefusal> {
    if kind != "public-key" {
        return Err(PasskeyRefusal::WrongType);
    }
    if id != raw_id {
        return Err(PasskeyRefusal::CredentialIdMismatch);
    }
    CredentialId::parse(id).ok_or(PasskeyRefusal::CredentialIdLength)
}

/// A response's JSON (`PublicKeyCredential.toJSON()`), read by member rather than into derived
/// structs: the one JSON value reader is in the module anyway.
struct CredentialJson(Value);

impl CredentialJson {
    fn parse(body: &[u8]) -> Result<Self, PasskeyRefusal> {
        serde_json::from_slice(body)
            .ok()
            .filter(Value::is_object)
            .map(Self)
            .ok_or(PasskeyRefusal::Malformed("credential"))
    }

    /// The string member `key` of the credential, or of its `response` with `inner`.
    fn text(&self, inner: bool, key: &str) -> Result<&str, PasskeyRefusal> {
        let object = if inner { &self.0["response"] } else { &self.0 };
        object
            .get(key)
            .and_then(Value::as_str)
            .ok_or(PasskeyRefusal::Malformed("credential"))
    }

    /// The credential id the response names: `id` and `rawId` the same, of an allowed length.
    fn id(&self) -> Result<CredentialId, PasskeyRefusal> {
        response_id(
            self.text(false, "id")?,
            self.text(false, "rawId")?,
            self.text(false, "type")?,
        )
    }
}

/// A registration response that passed every check the response alone allows.
#[derive(Debug)]
pub struct Registration {
    /// The challenge it answers, base64url: the user's authority takes it.
    pub challenge: String,
    /// The new credential's id.
    pub id: CredentialId,
    /// Its COSE algorithm.
    pub cose_alg: i64,
    /// Its public key.
    pub key: PublicKey,
    /// The authenticator's counter at registration.
    pub sign_count: u32,
    /// Whether it may be synced.
    pub backup_eligible: bool,
    /// Whether it is synced now.
    pub backed_up: bool,
}

impl Registration {
    /// The passkey to keep, named `name`, registered at `now` for the account of id `account`.
    pub fn passkey(self, name: String, now: UnixTime, account: Option<String>) -> StoredPasskey {
        StoredPasskey {
            id: self.id,
            name,
            cose_alg: self.cose_alg,
            jwk: self.key.public_jwk().clone(),
            sign_count: self.sign_count,
            backup_eligible: self.backup_eligible,
            backed_up: self.backed_up,
            created_at: now,
            last_used_at: None,
            account,
        }
    }
}

/// The `none` attestation's parts: `{"fmt": "none", "attStmt": {}, "authData": bytes}` and
/// nothing else; the authenticator data's bytes. The whole object is read before any member is
/// looked at, so a malformed one is refused as such whatever its format.
fn none_attestation(bytes: &[u8]) -> Result<&[u8], PasskeyRefusal> {
    let malformed = PasskeyRefusal::Malformed("attestation object");
    let mut reader = Reader::new(bytes);
    let object = reader.item().map_err(|_| malformed)?;
    if !reader.rest().is_empty() {
        return Err(malformed);
    }
    let mut reader = Reader::new(object);
    let Ok(Head::Map(entries)) = reader.head() else {
        return Err(malformed);
    };
    let (mut fmt, mut statement, mut auth_data) = (None, None, None);
    for _ in 0..entries {
        let slot = match reader.head() {
            Ok(Head::Text("fmt")) => &mut fmt,
            Ok(Head::Text("attStmt")) => &mut statement,
            Ok(Head::Text("authData")) => &mut auth_data,
            _ => return Err(malformed),
        };
        let value = reader.item().map_err(|_| malformed)?;
        if slot.replace(value).is_some() {
            return Err(malformed);
        }
    }
    let (Some(fmt), Some(statement), Some(auth_data)) = (fmt, statement, auth_data) else {
        return Err(malformed);
    };
    let Ok(Head::Bytes(auth_data)) = head_of(auth_data) else {
        return Err(malformed);
    };
    match (head_of(fmt), head_of(statement)) {
        (Ok(Head::Text("none")), Ok(Head::Map(0))) => Ok(auth_data),
        _ => Err(PasskeyRefusal::Attestation),
    }
}

/// Checks a registration response (`PublicKeyCredential.toJSON()` of a created credential), WebAuthn
/// §7.1, all but the steps the user's authority takes (the challenge, the id's uniqueness).
pub fn check_registration(rp: &RelyingParty, body: &[u8]) -> Result<Registration, PasskeyRefusal> {
    let response = CredentialJson::parse(body)?;
    let (client_data_json, attestation_object) = (
        response.text(true, "clientDataJSON")?,
        response.text(true, "attestationObject")?,
    );
    let id = response.id()?;
    let client_data = decode(
        client_data_json,
        client_data::MAX_CLIENT_DATA,
        "clientDataJSON",
    )?;
    let client_data = client_data::check(&client_data, Ceremony::Create, &rp.origins)?;
    let attestation = decode(
        attestation_object,
        MAX_ATTESTATION_OBJECT,
        "attestation object",
    )?;
    let data = authenticator_data::parse(none_attestation(&attestation)?)?;
    rp.check_authenticator(&data)?;
    let attested = data
        .attested
        .ok_or(PasskeyRefusal::Malformed("attested credential data"))?;
    if attested.id != id {
        return Err(PasskeyRefusal::CredentialIdMismatch);
    }
    Ok(Registration {
        challenge: b64url(&client_data.challenge),
        id,
        cose_alg: attested.key.cose_alg,
        key: attested.key.key,
        sign_count: data.sign_count,
        backup_eligible: data.flags.backup_eligible(),
        backed_up: data.flags.backed_up(),
    })
}

/// A sign-in response that passed every check possible before its credential is looked up.
#[derive(Debug)]
pub struct Assertion {
    /// The credential that answered.
    pub id: CredentialId,
    /// The user handle it returned: whose credential it claims to be.
    pub handle: UserHandle,
    /// The challenge it signed, base64url, for the owner's authority to spend.
    pub challenge: String,
    /// The counter it reported.
    pub sign_count: u32,
    /// Whether it is backed up now.
    pub backed_up: bool,
    backup_eligible: bool,
    signed: Vec<u8>,
    signature: Vec<u8>,
}

/// Reads a sign-in response (`PublicKeyCredential.toJSON()` of an assertion) and checks what it
/// alone allows: type, ids, `clientDataJSON`, a live challenge of this edge, the user handle's
/// presence, the authenticator data's RP id hash and flags.
pub fn read_assertion(
    rp: &RelyingParty,
    body: &[u8],
    now: UnixTime,
) -> Result<Assertion, PasskeyRefusal> {
    let response = CredentialJson::parse(body)?;
    let (client_data_json, authenticator, signature) = (
        response.text(true, "clientDataJSON")?,
        response.text(true, "authenticatorData")?,
        response.text(true, "signature")?,
    );
    let user_handle = match response.0["response"].get("userHandle") {
        None | Some(Value::Null) => None,
        Some(Value::String(handle)) => Some(handle.as_str()),
        Some(_) => return Err(PasskeyRefusal::Malformed("credential")),
    };
    let id = response.id()?;
    let client_data_json = decode(
        client_data_json,
        client_data::MAX_CLIENT_DATA,
        "clientDataJSON",
    )?;
    let client_data = client_data::check(&client_data_json, Ceremony::Get, &rp.origins)?;
    if !rp.challenges.accepts(&client_data.challenge, now) {
        return Err(PasskeyRefusal::Challenge);
    }
    let handle = user_handle
        .and_then(UserHandle::parse)
        .ok_or(PasskeyRefusal::UserHandle)?;
    let authenticator = decode(
        authenticator,
        authenticator_data::MAX_AUTHENTICATOR_DATA,
        "authenticator data",
    )?;
    let data = authenticator_data::parse(&authenticator)?;
    if data.attested.is_some() {
        return Err(PasskeyRefusal::Malformed(
            "authenticator data (credential data)",
        ));
    }
    rp.check_authenticator(&data)?;
    let signature = decode(signature, MAX_SIGNATURE, "signature")?;
    let mut signed = authenticator;
    signed.extend_from_slice(&Sha256::digest(&client_data_json));
    Ok(Assertion {
        id,
        handle,
        challenge: b64url(&client_data.challenge),
        sign_count: data.sign_count,
        backed_up: data.flags.backed_up(),
        backup_eligible: data.flags.backup_eligible(),
        signed,
        signature,
    })
}

/// Whether `signature` signs `message` under the passkey's key: WebAuthn's ES256 signatures are
/// DER, which is converted to the `r ‖ s` WebCrypto takes; a signature that is not strict DER
/// fails.
pub async fn signature_verifies(
    cose_alg: i64,
    jwk: &Value,
    message: &[u8],
    signature: &[u8],
    signatures: &dyn ProofSignatures,
) -> Result<bool, PasskeyRefusal> {
    let alg = public_alg(cose_alg).ok_or(PasskeyRefusal::AlgorithmNotOffered)?;
    let key = PublicKey::from_jwk("passkey", alg, jwk).map_err(|_| PasskeyRefusal::PublicKey)?;
    let verified = if alg == PublicAlg::Es256 {
        match es256_raw_from_der(signature) {
            Ok(raw) => signatures.verifies(&key, message, &raw).await,
            Err(_) => false,
        }
    } else {
        signatures.verifies(&key, message, signature).await
    };
    Ok(verified)
}

impl Assertion {
    /// Checks the assertion against the passkey its owner's authority holds under its id: the
    /// handle is the owner's, the backup eligibility the registered one, the signature the key's.
    pub async fn check(
        &self,
        passkey: &StoredPasskey,
        owner_handle: Option<&UserHandle>,
        signatures: &dyn ProofSignatures,
    ) -> Result<(), PasskeyRefusal> {
        if owner_handle != Some(&self.handle) {
            return Err(PasskeyRefusal::UserHandle);
        }
        if self.backup_eligible != passkey.backup_eligible {
            return Err(PasskeyRefusal::BackupFlags);
        }
        let verified = signature_verifies(
            passkey.cose_alg,
            &passkey.jwk,
            &self.signed,
            &self.signature,
            signatures,
        )
        .await?;
        if verified {
            Ok(())
        } else {
            Err(PasskeyRefusal::Signature)
        }
    }
}
