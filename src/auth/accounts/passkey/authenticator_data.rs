//! The authenticator's own bytes (WebAuthn §6.1): the SHA-256 of the RP id it signed for, its
//! flags, its sign counter, and at registration the new credential (its id and its public key as
//! a COSE_Key). Parsed strictly: every length is checked, CBOR is read with [`super::cbor`],
//! and nothing may follow the last part.

use serde_json::json;

use super::cbor::{head_of, Head, Invalid, Reader};
use super::ids::CredentialId;
use super::refusal::PasskeyRefusal;
use crate::auth::names::encoding::b64url;
use crate::auth::token::public_keys::{PublicAlg, PublicKey};

/// The longest authenticator data taken, in bytes: a credential id of 1,023 bytes and a
/// 4,096-bit RSA key fit with room to spare.
pub const MAX_AUTHENTICATOR_DATA: usize = 2048;

/// The COSE algorithms offered, in the order of preference the options give them: EdDSA,
/// ES256, RS256.
pub const OFFERED_ALGORITHMS: [i64; 3] = [-8, -7, -257];

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
fn cbor_item<'a>(rest: &mut &'a [u8], what: &'static str) -> Result<&'a [u8], PasskeyRefusal> {
    let mut reader = Reader::new(rest);
    let item = reader.item().map_err(|_| PasskeyRefusal::Malformed(what))?;
    *rest = reader.rest();
    Ok(item)
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
    if flags.has(Flags::ED)
        && !matches!(
            head_of(cbor_item(&mut rest, "extensions")?),
            Ok(Head::Map(_))
        )
    {
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

/// A COSE label (RFC 9052 §1.4): an integer or a text string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Label<'a> {
    Int(i64),
    Text(&'a str),
}

fn label(head: Head<'_>) -> Result<Label<'_>, Invalid> {
    match head {
        Head::Int(n) => i64::try_from(n).map(Label::Int).map_err(|_| Invalid),
        Head::Text(text) => Ok(Label::Text(text)),
        _ => Err(Invalid),
    }
}

/// A label whose integers IANA registers within `registered` (or, for algorithms, reserves for
/// private use); others make the key malformed, as they do for `coset`.
fn registered<'a>(head: Head<'a>, registered: fn(i64) -> bool) -> Result<Label<'a>, Invalid> {
    match label(head)? {
        Label::Int(n) if !registered(n) => Err(Invalid),
        label => Ok(label),
    }
}

/// The COSE algorithms IANA registers, and the private-use range below -65536.
fn algorithm_registered(n: i64) -> bool {
    matches!(n, i64::MIN..=-65537 | -65535..=-65529 | -268..=-265 | -260..=-257 | -53..=-25
        | -19..=-3 | 0..=7 | 10..=15 | 24..=26 | 30..=34)
}

fn non_empty_bytes(head: Head<'_>) -> Result<(), Invalid> {
    match head {
        Head::Bytes(bytes) if !bytes.is_empty() => Ok(()),
        _ => Err(Invalid),
    }
}

/// The common parameters of a COSE_Key (RFC 9052 §7), checked, and the others, by label.
struct CoseKey<'a> {
    kty: Label<'a>,
    alg: Option<Label<'a>>,
    params: Vec<(Label<'a>, &'a [u8])>,
}

impl<'a> CoseKey<'a> {
    /// A COSE_Key: a map of unique labels, `kty` (1) present, `kid` (2) and `Base IV` (5)
    /// non-empty byte strings, `alg` (3) a label, `key_ops` (4) a non-empty array of unique
    /// ones.
    fn parse(item: &'a [u8]) -> Result<Self, Invalid> {
        let mut reader = Reader::new(item);
        let Head::Map(entries) = reader.head()? else {
            return Err(Invalid);
        };
        let mut seen = Vec::new();
        let (mut kty, mut alg, mut params) = (None, None, Vec::new());
        for _ in 0..entries {
            let key = label(reader.head()?)?;
            if seen.contains(&key) {
                return Err(Invalid);
            }
            seen.push(key);
            match key {
                // kty: 0 is IANA's "reserved", which no key is.
                Label::Int(1) => kty = Some(registered(reader.head()?, |n| (1..=7).contains(&n))?),
                Label::Int(2 | 5) => non_empty_bytes(reader.head()?)?,
                Label::Int(3) => alg = Some(registered(reader.head()?, algorithm_registered)?),
                Label::Int(4) => {
                    let Head::Array(n @ 1..) = reader.head()? else {
                        return Err(Invalid);
                    };
                    let mut ops = Vec::new();
                    for _ in 0..n {
                        let op = registered(reader.head()?, |n| (1..=10).contains(&n))?;
                        if ops.contains(&op) {
                            return Err(Invalid);
                        }
                        ops.push(op);
                    }
                }
                _ => params.push((key, reader.item()?)),
            }
        }
        Ok(Self {
            kty: kty.ok_or(Invalid)?,
            alg,
            params,
        })
    }

    /// A parameter's value, by its label.
    fn param(&self, label: i64) -> Option<Head<'a>> {
        self.params
            .iter()
            .find(|(l, _)| *l == Label::Int(label))
            .and_then(|(_, value)| head_of(value).ok())
    }
}

/// A COSE_Key as a vetted public key: its algorithm one of those offered and its type that
/// algorithm's (EC2 on P-256 for ES256, OKP on Ed25519 for EdDSA, RSA for RS256).
pub fn credential_key(item: &[u8]) -> Result<CredentialKey, PasskeyRefusal> {
    let key = CoseKey::parse(item).map_err(|_| PasskeyRefusal::PublicKey)?;
    let Some(Label::Int(cose_alg)) = key.alg else {
        return Err(PasskeyRefusal::AlgorithmNotOffered);
    };
    let alg = public_alg(cose_alg).ok_or(PasskeyRefusal::AlgorithmNotOffered)?;
    let bytes = |label: i64| match key.param(label) {
        Some(Head::Bytes(bytes)) => Ok(b64url(bytes)),
        _ => Err(PasskeyRefusal::PublicKey),
    };
    // Key types EC2 (2), OKP (1), RSA (3); the curve (label -1) P-256 (1) or Ed25519 (6); the
    // coordinates x (-2) and y (-3), or RSA's n (-1) and e (-2).
    let jwk = match (key.kty, alg, key.param(-1)) {
        (Label::Int(2), PublicAlg::Es256, Some(Head::Int(1))) => {
            let (x, y) = (bytes(-2)?, bytes(-3)?);
            json!({"kty": "EC", "crv": "P-256", "x": x, "y": y})
        }
        (Label::Int(1), PublicAlg::Ed25519, Some(Head::Int(6))) => {
            let x = bytes(-2)?;
            json!({"kty": "OKP", "crv": "Ed25519", "x": x})
        }
        (Label::Int(3), PublicAlg::Rs256, _) => {
            let (n, e) = (bytes(-1)?, bytes(-2)?);
            json!({"kty": "RSA", "n": n, "e": e})
        }
        _ => return Err(PasskeyRefusal::PublicKey),
    };
    let key = PublicKey::from_jwk("passkey", alg, &jwk).map_err(|_| PasskeyRefusal::PublicKey)?;
    Ok(CredentialKey { cose_alg, key })
}
