//! ES256 signatures from ASN.1 DER to the raw `r || s` that WebCrypto verifies.
//!
//! WebAuthn authenticators return ES256 signatures as the DER `ECDSA-Sig-Value` of RFC 3279
//! §2.2.3 (`SEQUENCE { r INTEGER, s INTEGER }`), while WebCrypto's ECDSA, like JWS, takes the
//! IEEE P1363 form: `r` and `s` as two 32-byte big-endian numbers. [`es256_raw_from_der`] turns
//! the first into the second and accepts strict DER only, so each signature has exactly one
//! encoding and none of BER's alternatives (long or indefinite lengths where a short one fits,
//! padded or negative integers, trailing bytes) can make one signature look like another.
//! Whether `r` and `s` lie below the group order is left to the verifier, as for raw signatures.
//!
//! Hand-written rather than taken from a crate, for size. With a temporary call from the
//! release worker's ES256 check (its error logged), the gzipped wasm module grew from 384,361
//! bytes to 385,201 with this parser (+840), to 387,981 with RustCrypto's `der` 0.7 reading two
//! `UintRef`s in a `SEQUENCE` (+3,620), and to 389,075 with `ecdsa` 0.16's `Signature::from_der`
//! over `p256` without arithmetic (+4,714); the call and its log alone cost 432 of each. The
//! passkey sign-in (`accounts::passkey::ceremony`) is its caller in the worker.
//!
//! tests/wycheproof.rs runs Wycheproof's DER file through it and the native check, and
//! tests/e2e/wycheproof-webcrypto.test.mjs runs the same cases through it and WebCrypto inside
//! workerd.

use std::fmt;

/// The DER tag of a SEQUENCE (constructed).
const SEQUENCE: u8 = 0x30;
/// The DER tag of an INTEGER.
const INTEGER: u8 = 0x02;
/// The size of `r` and of `s` in a raw ES256 signature.
const SCALAR_BYTES: usize = 32;

/// Why a DER signature was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DerSignatureError {
    /// Not a SEQUENCE of two INTEGERs: another tag, a length past the end or of more than one
    /// byte (no ES256 signature needs one), a missing or an extra element.
    Malformed,
    /// Bytes after the SEQUENCE.
    TrailingBytes,
    /// A length or an integer not in its one DER form: a long-form or indefinite length where
    /// the short form fits, a leading zero the sign does not need, an empty integer.
    NonCanonical,
    /// `r` or `s` negative, zero, or longer than 32 bytes.
    OutOfRange,
}

impl fmt::Display for DerSignatureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Malformed => "the signature is not a DER SEQUENCE of two INTEGERs",
            Self::TrailingBytes => "the signature has bytes after its DER SEQUENCE",
            Self::NonCanonical => "the signature is not in canonical DER",
            Self::OutOfRange => "the signature's r or s is negative, zero or over 32 bytes",
        })
    }
}

impl std::error::Error for DerSignatureError {}

/// The raw `r || s` (64 bytes, each left-padded to 32) of a strict-DER ES256 signature.
pub fn es256_raw_from_der(der: &[u8]) -> Result<[u8; 64], DerSignatureError> {
    let (body, rest) = element(der, SEQUENCE)?;
    if !rest.is_empty() {
        return Err(DerSignatureError::TrailingBytes);
    }
    let (r, body) = element(body, INTEGER)?;
    let (s, body) = element(body, INTEGER)?;
    if !body.is_empty() {
        return Err(DerSignatureError::Malformed);
    }
    let mut raw = [0; 2 * SCALAR_BYTES];
    let (raw_r, raw_s) = raw.split_at_mut(SCALAR_BYTES);
    left_pad(raw_r, magnitude(r)?)?;
    left_pad(raw_s, magnitude(s)?)?;
    Ok(raw)
}

/// The contents of the element with `tag` at the start of `input`, and what follows it. A
/// length takes one byte below 128 or `0x81` and one byte from 128: anything longer cannot
/// frame an ES256 signature, and `0x81` before a smaller length, or `0x80` (indefinite), is
/// not DER.
fn element(input: &[u8], tag: u8) -> Result<(&[u8], &[u8]), DerSignatureError> {
    let [found, first, rest @ ..] = input else {
        return Err(DerSignatureError::Malformed);
    };
    if *found != tag {
        return Err(DerSignatureError::Malformed);
    }
    let (length, rest) = match (*first, rest) {
        (0..=0x7f, rest) => (*first, rest),
        (0x81, [length @ 0x80..=0xff, rest @ ..]) => (*length, rest),
        (0x81, [_, ..]) | (0x80, _) => return Err(DerSignatureError::NonCanonical),
        _ => return Err(DerSignatureError::Malformed),
    };
    rest.split_at_checked(usize::from(length))
        .ok_or(DerSignatureError::Malformed)
}

/// The magnitude of a non-negative DER INTEGER: its contents without the one zero byte that
/// keeps a high first bit positive.
fn magnitude(contents: &[u8]) -> Result<&[u8], DerSignatureError> {
    match contents {
        [] | [0, 0..=0x7f, ..] => Err(DerSignatureError::NonCanonical),
        [0x80..=0xff, ..] => Err(DerSignatureError::OutOfRange),
        [0, rest @ ..] => Ok(rest),
        _ => Ok(contents),
    }
}

/// Writes `magnitude` right-aligned into `out`, refusing zero and anything longer than `out`.
fn left_pad(out: &mut [u8], magnitude: &[u8]) -> Result<(), DerSignatureError> {
    let padding = out
        .len()
        .checked_sub(magnitude.len())
        .ok_or(DerSignatureError::OutOfRange)?;
    if magnitude.iter().all(|byte| *byte == 0) {
        return Err(DerSignatureError::OutOfRange);
    }
    out.iter_mut()
        .skip(padding)
        .zip(magnitude)
        .for_each(|(out, byte)| *out = *byte);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A DER signature of `r` and `s` given as INTEGER contents (sign padding included).
    fn der(r: &[u8], s: &[u8]) -> Vec<u8> {
        let mut body = vec![INTEGER, r.len() as u8];
        body.extend_from_slice(r);
        body.extend_from_slice(&[INTEGER, s.len() as u8]);
        body.extend_from_slice(s);
        let mut out = vec![SEQUENCE, body.len() as u8];
        out.extend(body);
        out
    }

    fn raw(r: &[u8], s: &[u8]) -> [u8; 64] {
        let mut out = [0; 64];
        out[32 - r.len()..32].copy_from_slice(r);
        out[64 - s.len()..].copy_from_slice(s);
        out
    }

    #[test]
    fn the_smallest_signature_is_left_padded() {
        assert_eq!(es256_raw_from_der(&der(&[1], &[2])), Ok(raw(&[1], &[2])));
        assert_eq!(
            es256_raw_from_der(&[0x30, 6, 2, 1, 1, 2, 1, 2]),
            Ok(raw(&[1], &[2]))
        );
    }

    #[test]
    fn full_size_integers_keep_their_one_sign_zero() {
        let r = [0xff; 32];
        let s = [0x7f; 32];
        let padded_r = [&[0][..], &r].concat();
        let signature = der(&padded_r, &s);
        assert_eq!(signature.len(), 2 + 2 + 33 + 2 + 32);
        assert_eq!(es256_raw_from_der(&signature), Ok(raw(&r, &s)));
        // The largest possible: both 33 bytes with the sign zero, 70 bytes in the SEQUENCE.
        assert_eq!(
            es256_raw_from_der(&der(&padded_r, &padded_r)),
            Ok(raw(&r, &r))
        );
    }

    #[test]
    fn a_leading_zero_the_sign_does_not_need_is_refused() {
        assert_eq!(
            es256_raw_from_der(&der(&[0, 0x7f], &[1])),
            Err(DerSignatureError::NonCanonical)
        );
        assert_eq!(
            es256_raw_from_der(&der(&[1], &[0, 0, 0x80])),
            Err(DerSignatureError::NonCanonical)
        );
        assert_eq!(
            es256_raw_from_der(&der(&[], &[1])),
            Err(DerSignatureError::NonCanonical)
        );
    }

    #[test]
    fn negative_zero_and_oversized_integers_are_out_of_range() {
        for (r, s) in [
            (&[0x80][..], &[1][..]),
            (&[1], &[0xff, 0xff]),
            (&[0], &[1]),
            (&[1], &[0]),
            (&[1; 33], &[1]),
            (&[1], &[0x7f; 33]),
        ] {
            assert_eq!(
                es256_raw_from_der(&der(r, s)),
                Err(DerSignatureError::OutOfRange),
                "{r:?} {s:?}"
            );
        }
        let over = [&[0][..], &[0x80; 33]].concat();
        assert_eq!(
            es256_raw_from_der(&der(&over, &[1])),
            Err(DerSignatureError::OutOfRange)
        );
    }

    #[test]
    fn long_form_and_indefinite_lengths_are_refused_where_the_short_form_fits() {
        // The SEQUENCE's length as 0x81 0x06.
        assert_eq!(
            es256_raw_from_der(&[0x30, 0x81, 6, 2, 1, 1, 2, 1, 2]),
            Err(DerSignatureError::NonCanonical)
        );
        // An INTEGER's length as 0x81 0x01.
        assert_eq!(
            es256_raw_from_der(&[0x30, 7, 2, 0x81, 1, 1, 2, 1, 2]),
            Err(DerSignatureError::NonCanonical)
        );
        // Indefinite length with its end-of-contents octets.
        assert_eq!(
            es256_raw_from_der(&[0x30, 0x80, 2, 1, 1, 2, 1, 2, 0, 0]),
            Err(DerSignatureError::NonCanonical)
        );
        // Two length bytes: only needed past 255, which no ES256 signature reaches.
        assert_eq!(
            es256_raw_from_der(&[0x30, 0x82, 0, 6, 2, 1, 1, 2, 1, 2]),
            Err(DerSignatureError::Malformed)
        );
    }

    #[test]
    fn a_minimal_long_form_length_is_read_and_its_content_judged() {
        // 0x81 0x80 is DER for 128, but no ES256 SEQUENCE is that long.
        let mut signature = vec![0x30, 0x81, 0x80, 2, 0x7b];
        signature.extend([1; 0x7b]);
        signature.extend([2, 1, 2]);
        assert_eq!(signature.len(), 3 + 0x80);
        assert_eq!(
            es256_raw_from_der(&signature),
            Err(DerSignatureError::OutOfRange)
        );
    }

    #[test]
    fn trailing_missing_and_extra_parts_are_refused() {
        let good = der(&[1], &[2]);
        assert_eq!(
            es256_raw_from_der(&[&good[..], &[0]].concat()),
            Err(DerSignatureError::TrailingBytes)
        );
        for cut in 0..good.len() {
            assert_eq!(
                es256_raw_from_der(&good[..cut]),
                Err(DerSignatureError::Malformed),
                "cut at {cut}"
            );
        }
        // A third INTEGER inside the SEQUENCE.
        assert_eq!(
            es256_raw_from_der(&[0x30, 9, 2, 1, 1, 2, 1, 2, 2, 1, 3]),
            Err(DerSignatureError::Malformed)
        );
        // One INTEGER only.
        assert_eq!(
            es256_raw_from_der(&[0x30, 3, 2, 1, 1]),
            Err(DerSignatureError::Malformed)
        );
    }

    #[test]
    fn other_tags_are_refused() {
        // A SET, a constructed INTEGER, a BIT STRING in place of s.
        for signature in [
            [0x31, 6, 2, 1, 1, 2, 1, 2],
            [0x30, 6, 0x22, 1, 1, 2, 1, 2],
            [0x30, 6, 2, 1, 1, 3, 1, 2],
        ] {
            assert_eq!(
                es256_raw_from_der(&signature),
                Err(DerSignatureError::Malformed),
                "{signature:02x?}"
            );
        }
    }

    #[test]
    fn raw_signatures_are_not_der() {
        assert!(es256_raw_from_der(&raw(&[1], &[2])).is_err());
        assert!(es256_raw_from_der(&[0x30; 64]).is_err());
    }
}
