//! Unpadded base64url, the one text encoding of every token, id and key edgegate mints.

use base64ct::{Base64UrlUnpadded, Encoding};

/// `bytes` as unpadded base64url text.
pub fn b64url(bytes: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(bytes)
}

/// Strict: padding, whitespace and non-canonical trailing bits are errors.
pub fn b64url_decode(text: &str) -> Option<Vec<u8>> {
    Base64UrlUnpadded::decode_vec(text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_strictness() {
        assert_eq!(b64url(&[0xfb, 0xff]), "-_8");
        assert_eq!(b64url_decode("-_8").unwrap(), [0xfb, 0xff]);
        assert!(b64url_decode("-_8=").is_none());
        assert!(b64url_decode("+/8").is_none());
        assert!(
            b64url_decode("-_9").is_none(),
            "non-canonical trailing bits"
        );
        assert!(b64url_decode(" -_8").is_none());
    }
}
