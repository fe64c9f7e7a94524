//! The one reader of `application/x-www-form-urlencoded` bodies: the sign-in and token forms,
//! the logout form and the providers' back-channel logout requests.
//!
//! As the URL Standard parses them, except that a component whose bytes do not decode to UTF-8
//! is an error rather than U+FFFD, which would silently turn two different inputs into one.

use percent_encoding::percent_decode_str;

/// A form component that does not decode to UTF-8.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotUtf8;

/// The `name=value` pairs of a form body as written (still encoded), in order; empty pairs are
/// skipped and a pair without `=` has an empty value.
pub fn raw_pairs(text: &str) -> impl Iterator<Item = (&str, &str)> {
    text.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| pair.split_once('=').unwrap_or((pair, "")))
}

/// One decoded component: `+` is a space, then percent-decoding.
pub fn decode(component: &str) -> Result<String, NotUtf8> {
    let spaced = component.replace('+', " ");
    percent_decode_str(&spaced)
        .decode_utf8()
        .map(|decoded| decoded.into_owned())
        .map_err(|_| NotUtf8)
}

/// The decoded value of the first field named `name` (compared as decoded), if the body is UTF-8
/// and that value decodes.
pub fn field(body: &[u8], name: &str) -> Option<String> {
    let text = core::str::from_utf8(body).ok()?;
    raw_pairs(text)
        .find(|(key, _)| decode(key).is_ok_and(|key| key == name))
        .and_then(|(_, value)| decode(value).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_decode_as_the_url_standard_says() {
        let pairs: Vec<_> = raw_pairs("a=1&&b&c=x+y%21").collect();
        assert_eq!(pairs, [("a", "1"), ("b", ""), ("c", "x+y%21")]);
        assert_eq!(decode("x+y%21").as_deref(), Ok("x y!"));
        assert_eq!(decode("%FF"), Err(NotUtf8));
    }

    #[test]
    fn a_field_is_found_by_its_decoded_name() {
        assert_eq!(
            field(b"a=1&logout%5Ftoken=t%2E1", "logout_token").as_deref(),
            Some("t.1")
        );
        assert_eq!(field(b"a=1", "logout_token"), None);
        assert_eq!(field(b"logout_token=%FF", "logout_token"), None);
        assert_eq!(field(b"\xff=1", "logout_token"), None);
    }
}
