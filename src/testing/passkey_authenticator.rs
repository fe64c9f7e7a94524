//! A software authenticator and browser for the core's passkey tests: it makes the exact bytes
//! a browser sends (`PublicKeyCredential.toJSON()` of a registration or an assertion), with
//! ES256 (DER signatures, as authenticators give them) or Ed25519 keys fixed by a seed, and every
//! part open to change so that hostile ceremonies are the honest one with one thing altered.

use coset::cbor::value::Value as Cbor;
use coset::iana;
use p256::ecdsa::signature::Signer;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::auth::accounts::passkey::authenticator_data::Flags;
use crate::auth::names::encoding::b64url;

/// The authenticator's key.
pub enum SoftKey {
    /// ECDSA P-256 (COSE -7).
    Es256(p256::ecdsa::SigningKey),
    /// Ed25519 (COSE -8).
    Ed25519(ed25519_compact::KeyPair),
}

impl SoftKey {
    /// An ES256 key made from `seed`.
    pub fn es256(seed: u8) -> Self {
        let bytes = [seed.max(1); 32];
        Self::Es256(p256::ecdsa::SigningKey::from_bytes(&bytes.into()).unwrap())
    }

    /// An Ed25519 key made from `seed`.
    pub fn ed25519(seed: u8) -> Self {
        Self::Ed25519(ed25519_compact::KeyPair::from_seed(
            ed25519_compact::Seed::new([seed; 32]),
        ))
    }

    /// The key's COSE algorithm.
    pub fn cose_alg(&self) -> i64 {
        match self {
            Self::Es256(_) => -7,
            Self::Ed25519(_) => -8,
        }
    }

    /// The public key as a COSE_Key with algorithm `alg`, CBOR-encoded.
    pub fn cose_key(&self, alg: i64) -> Vec<u8> {
        let int = |n: i64| Cbor::Integer(n.into());
        let map = match self {
            Self::Es256(key) => {
                let point = key.verifying_key().to_encoded_point(false);
                vec![
                    (int(1), int(iana::KeyType::EC2 as i64)),
                    (int(3), int(alg)),
                    (int(-1), int(iana::EllipticCurve::P_256 as i64)),
                    (int(-2), Cbor::Bytes(point.x().unwrap().to_vec())),
                    (int(-3), Cbor::Bytes(point.y().unwrap().to_vec())),
                ]
            }
            Self::Ed25519(key) => vec![
                (int(1), int(iana::KeyType::OKP as i64)),
                (int(3), int(alg)),
                (int(-1), int(iana::EllipticCurve::Ed25519 as i64)),
                (int(-2), Cbor::Bytes(key.pk.as_ref().to_vec())),
            ],
        };
        cbor(&Cbor::Map(map))
    }

    /// A signature of `message` as an authenticator gives it (ES256 in DER).
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        match self {
            Self::Es256(key) => {
                let signature: p256::ecdsa::Signature = key.sign(message);
                signature.to_der().as_bytes().to_vec()
            }
            Self::Ed25519(key) => key.sk.sign(message, None).as_ref().to_vec(),
        }
    }
}

/// `value` in CBOR.
pub fn cbor(value: &Cbor) -> Vec<u8> {
    let mut bytes = Vec::new();
    coset::cbor::ser::into_writer(value, &mut bytes).unwrap();
    bytes
}

/// Every part of one ceremony, honest until a test changes one.
pub struct Ceremony {
    /// `clientDataJSON.type`.
    pub kind: String,
    /// The challenge answered.
    pub challenge: Vec<u8>,
    /// `clientDataJSON.origin`.
    pub origin: String,
    /// Members appended to `clientDataJSON` (text starting with `,`), empty by default.
    pub extra_client_data: String,
    /// The RP id whose hash the authenticator data carries.
    pub rp_id: String,
    /// The flags byte (`AT` is added at registration unless `attested` is false).
    pub flags: u8,
    /// The sign counter.
    pub counter: u32,
    /// The credential id.
    pub id: Vec<u8>,
    /// `rawId`, when it should differ from `id`.
    pub raw_id: Option<Vec<u8>>,
    /// The COSE algorithm written into the key.
    pub cose_alg: i64,
    /// The attestation format.
    pub fmt: String,
    /// Whether a registration carries attested credential data.
    pub attested: bool,
    /// Bytes appended to the authenticator data.
    pub trailing: Vec<u8>,
    /// The user handle an assertion returns.
    pub user_handle: Option<Vec<u8>>,
    /// The credential's `type`.
    pub credential_type: String,
}

impl Ceremony {
    /// An honest ceremony of `kind` (`webauthn.create` or `webauthn.get`) for `rp_id` on
    /// `origin`, answering `challenge`, with credential id `id` and a key of `cose_alg`.
    pub fn new(
        kind: &str,
        rp_id: &str,
        origin: &str,
        challenge: &[u8],
        id: &[u8],
        cose_alg: i64,
    ) -> Self {
        Self {
            kind: kind.to_owned(),
            challenge: challenge.to_vec(),
            origin: origin.to_owned(),
            extra_client_data: String::new(),
            rp_id: rp_id.to_owned(),
            flags: Flags::UP | Flags::UV,
            counter: 1,
            id: id.to_vec(),
            raw_id: None,
            cose_alg,
            fmt: "none".to_owned(),
            attested: true,
            trailing: Vec::new(),
            user_handle: None,
            credential_type: "public-key".to_owned(),
        }
    }

    /// `clientDataJSON`, as a browser serialises it.
    pub fn client_data(&self) -> Vec<u8> {
        format!(
            r#"{{"type":{},"challenge":"{}","origin":{},"crossOrigin":false{}}}"#,
            json!(self.kind),
            b64url(&self.challenge),
            json!(self.origin),
            self.extra_client_data
        )
        .into_bytes()
    }

    /// The authenticator data; with the credential `key` at a registration.
    pub fn authenticator_data(&self, key: Option<&SoftKey>) -> Vec<u8> {
        let mut data = Sha256::digest(self.rp_id.as_bytes()).to_vec();
        let attested = key.filter(|_| self.attested);
        let flags = if attested.is_some() {
            self.flags | Flags::AT
        } else {
            self.flags
        };
        data.push(flags);
        data.extend_from_slice(&self.counter.to_be_bytes());
        if let Some(key) = attested {
            data.extend_from_slice(&[0; 16]);
            data.extend_from_slice(&u16::try_from(self.id.len()).unwrap().to_be_bytes());
            data.extend_from_slice(&self.id);
            data.extend(key.cose_key(self.cose_alg));
        }
        data.extend_from_slice(&self.trailing);
        data
    }

    /// The registration response of `key`, with `att_stmt` as the attestation statement.
    pub fn registration(&self, key: &SoftKey, att_stmt: Cbor) -> Vec<u8> {
        let attestation = cbor(&Cbor::Map(vec![
            (Cbor::Text("fmt".into()), Cbor::Text(self.fmt.clone())),
            (Cbor::Text("attStmt".into()), att_stmt),
            (
                Cbor::Text("authData".into()),
                Cbor::Bytes(self.authenticator_data(Some(key))),
            ),
        ]));
        self.registration_with(&attestation)
    }

    /// A registration response carrying `attestation` as its attestation object.
    pub fn registration_with(&self, attestation: &[u8]) -> Vec<u8> {
        let mut credential = self.credential(json!({
            "attestationObject": b64url(attestation),
            "transports": ["internal"],
        }));
        credential["authenticatorAttachment"] = json!("platform");
        serde_json::to_vec(&credential).unwrap()
    }

    /// The assertion signed by `signer`.
    pub fn assertion(&self, signer: &SoftKey) -> Vec<u8> {
        let data = self.authenticator_data(None);
        let mut signed = data.clone();
        signed.extend_from_slice(&Sha256::digest(self.client_data()));
        self.assertion_with(&data, &signer.sign(&signed))
    }

    /// An assertion carrying `data` and `signature` as they are.
    pub fn assertion_with(&self, data: &[u8], signature: &[u8]) -> Vec<u8> {
        let credential = self.credential(json!({
            "authenticatorData": b64url(data),
            "signature": b64url(signature),
            "userHandle": self.user_handle.as_deref().map(b64url),
        }));
        serde_json::to_vec(&credential).unwrap()
    }

    /// A credential as `PublicKeyCredential.toJSON()` writes it: its ids and type around
    /// `response`, to which the client data is added.
    fn credential(&self, mut response: Value) -> Value {
        let id = b64url(&self.id);
        let raw_id = self.raw_id.as_deref().map_or_else(|| id.clone(), b64url);
        response["clientDataJSON"] = json!(b64url(&self.client_data()));
        json!({
            "id": id,
            "rawId": raw_id,
            "type": self.credential_type,
            "response": response,
            "clientExtensionResults": {},
        })
    }
}

/// The empty attestation statement of `none`.
pub fn no_statement() -> Cbor {
    Cbor::Map(Vec::new())
}
