//! The authenticator's own bytes (WebAuthn §6.1): the SHA-256 of the RP id it signed for, its
//! flags, its sign counter, and at registration the new credential (its id and its public key as
//! a COSE_Key). Parsed strictly: every length is checked, CBOR is read with `coset`'s
//! (ciborium's) reader, and nothing may follow the last part.

use coset::cbor::value::Value;
use coset::iana::{self, EnumI64};
use coset::{AsCborValue, CoseKey, KeyType, Label};
use serde_json::json;

use super::ids::CredentialId;
use super::refusal::PasskeyRefusal;
use crate::auth::names::encoding::b64url;
use crate::auth::token::public_keys::{PublicAlg, PublicKey};

/// The longest authenticator data taken, in bytes: a credential id of 1,023 bytes and a
/// 4,096-bit RSA key fit with room to spare.
pub const MAX_AUTHENTICATOR_DATA: usize = 2048;

/// The COSE algorithms offered, in the order of preference the options give them.
pub const OFFERED_ALGORITHMS: [i64; 3] = [
    iana::Algorithm::EdDSA as i64,
    iana::Algorithm::ES256 as i64,
    iana::Algorithm::RS256 as i64,
];

/// The JOSE algorithm of a COSE one, for the algorithms offered.
pub fn public_alg(cose_alg: i64) -> Option<PublicAlg> {
    match cose_alg {
        -7 => Some(PublicAlg::Es256),
        -8 => Some(PublicAlg::Ed25519),
        -257 => Some(PublicAlg::Rs256),
        _ => None,
    }
}

/// The flags byte (WebAuthn §6.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flags(pub u8);

impl Flags {
    /// User present.
    pub const UP: u8 = 0x01;
    /// User verified.
    pub const UV: u8 = 0x04;
    /// Backup eligible: the credential may be synced to other devices.
    pub const BE: u8 = 0x08;
    /// Backed up: the credential is synced now.
    pub const BS: u8 = 0x10;
    /// Attested credential data follows.
    pub const AT: u8 = 0x40;
    /// Extensions follow.
    pub const ED: u8 = 0x80;

    fn has(self, flag: u8) -> bool {
        self.0 & flag != 0
    }

    /// Whether the user was present.
    pub fn user_present(self) -> bool {
        self.has(Self::UP)
    }
    /// Whether the user was verified.
    pub fn user_verified(self) -> bool {
        self.has(Self::UV)
    }
    /// Whether the credential may be backed up (a synced passkey).
    pub fn backup_eligible(self) -> bool {
        self.has(Self::BE)
    }
    /// Whether the credential is backed up now.
    pub fn backed_up(self) -> bool {
        self.has(Self::BS)
    }
}

/// A credential's public key as the authenticator gave it: its COSE algorithm and the vetted
/// key, whose JWK is what is stored.
#[derive(Debug)]
pub struct CredentialKey {
    /// The COSE algorithm (-8 EdDSA, -7 ES256, -257 RS256).
    pub cose_alg: i64,
    /// The key, checked for its algorithm's type and size.
    pub key: PublicKey,
}

/// The credential made at a registration (attested credential data, §6.5.2).
#[derive(Debug)]
pub struct AttestedCredential {
    /// The new credential's id.
    pub id: CredentialId,
    /// Its public key.
    pub key: CredentialKey,
}

/// Parsed authenticator data.
#[derive(Debug)]
pub struct AuthenticatorData {
    /// SHA-256 of the RP id the authenticator signed for.
    pub rp_id_hash: [u8; 32],
    /// The flags.
    pub flags: Flags,
    /// The signature counter; 0 when the authenticator keeps none.
    pub sign_count: u32,
    /// The new credential, at a registration.
    pub attested: Option<AttestedCredential>,
}

fn take<'a>(rest: &mut &'a [u8], n: usize) -> Result<&'a [u8], PasskeyRefusal> {
    if rest.len() < n {
        return Err(PasskeyRefusal::Malformed("authenticator data"));
    }
    let (head, tail) = rest.split_at(n);
    *rest = tail;
    Ok(head)
}

/// One CBOR item from the front of `rest`, which is left after it.
fn cbor_item(rest: &mut &[u8], what: &'static str) -> Result<Value, PasskeyRefusal> {
    coset::cbor::de::from_reader(&mut *rest).map_err(|_| PasskeyRefusal::Malformed(what))
}

/// Reads authenticator data. The fixed 37 bytes, then attested credential data when `AT` is
/// set, then an extensions map when `ED` is set, then nothing.
pub fn parse(bytes: &[u8]) -> Result<AuthenticatorData, PasskeyRefusal> {
    if bytes.len() > MAX_AUTHENTICATOR_DATA {
        return Err(PasskeyRefusal::TooLarge("authenticator data"));
    }
    let mut rest = bytes;
    let mut rp_id_hash = [0u8; 32];
    rp_id_hash.copy_from_slice(take(&mut rest, 32)?);
    let flags = Flags(take(&mut rest, 1)?[0]);
    let mut count = [0u8; 4];
    count.copy_from_slice(take(&mut rest, 4)?);
    let attested = if flags.has(Flags::AT) {
        take(&mut rest, 16)?;
        let length = take(&mut rest, 2)?;
        let length = usize::from(u16::from_be_bytes([length[0], length[1]]));
        let id = CredentialId::from_bytes(take(&mut rest, length)?)
            .ok_or(PasskeyRefusal::CredentialIdLength)?;
        let key = credential_key(cbor_item(&mut rest, "credential public key")?)?;
        Some(AttestedCredential { id, key })
    } else {
        None
    };
    if flags.has(Flags::ED) && !matches!(cbor_item(&mut rest, "extensions")?, Value::Map(_)) {
        return Err(PasskeyRefusal::Malformed("extensions"));
    }
    if !rest.is_empty() {
        return Err(PasskeyRefusal::Malformed(
            "authenticator data (trailing bytes)",
        ));
    }
    Ok(AuthenticatorData {
        rp_id_hash,
        flags,
        sign_count: u32::from_be_bytes(count),
        attested,
    })
}

/// A key parameter's bytes, by its COSE label.
fn param(key: &CoseKey, label: i64) -> Option<&[u8]> {
    key.params
        .iter()
        .find(|(l, _)| *l == Label::Int(label))
        .and_then(|(_, value)| value.as_bytes().map(Vec::as_slice))
}

/// A key parameter's integer, by its COSE label.
fn int_param(key: &CoseKey, label: i64) -> Option<i128> {
    key.params
        .iter()
        .find(|(l, _)| *l == Label::Int(label))
        .and_then(|(_, value)| value.as_integer())
        .map(i128::from)
}

/// A COSE_Key as a vetted public key: its algorithm one of those offered and its type that
/// algorithm's (EC2 on P-256 for ES256, OKP on Ed25519 for EdDSA, RSA for RS256).
pub fn credential_key(value: Value) -> Result<CredentialKey, PasskeyRefusal> {
    let key = CoseKey::from_cbor_value(value).map_err(|_| PasskeyRefusal::PublicKey)?;
    let cose_alg = match &key.alg {
        Some(coset::Algorithm::Assigned(alg)) => alg.to_i64(),
        Some(_) | None => return Err(PasskeyRefusal::AlgorithmNotOffered),
    };
    let alg = public_alg(cose_alg).ok_or(PasskeyRefusal::AlgorithmNotOffered)?;
    let bytes = |label: i64| {
        param(&key, label)
            .map(b64url)
            .ok_or(PasskeyRefusal::PublicKey)
    };
    let curve = |label: i64| int_param(&key, label);
    let jwk = match (&key.kty, alg) {
        (KeyType::Assigned(iana::KeyType::EC2), PublicAlg::Es256)
            if curve(iana::Ec2KeyParameter::Crv as i64)
                == Some(iana::EllipticCurve::P_256 as i128) =>
        {
            let x = bytes(iana::Ec2KeyParameter::X as i64)?;
            let y = bytes(iana::Ec2KeyParameter::Y as i64)?;
            json!({"kty": "EC", "crv": "P-256", "x": x, "y": y})
        }
        (KeyType::Assigned(iana::KeyType::OKP), PublicAlg::Ed25519)
            if curve(iana::OkpKeyParameter::Crv as i64)
                == Some(iana::EllipticCurve::Ed25519 as i128) =>
        {
            let x = bytes(iana::OkpKeyParameter::X as i64)?;
            json!({"kty": "OKP", "crv": "Ed25519", "x": x})
        }
        (KeyType::Assigned(iana::KeyType::RSA), PublicAlg::Rs256) => {
            let n = bytes(iana::RsaKeyParameter::N as i64)?;
            let e = bytes(iana::RsaKeyParameter::E as i64)?;
            json!({"kty": "RSA", "n": n, "e": e})
        }
        _ => return Err(PasskeyRefusal::PublicKey),
    };
    let key = PublicKey::from_jwk("passkey", alg, &jwk).map_err(|_| PasskeyRefusal::PublicKey)?;
    Ok(CredentialKey { cose_alg, key })
}
