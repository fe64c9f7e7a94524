//! DNS names, as the edge accepts them where it reads one: an e-mail address's domain, a
//! WebAuthn RP id.

/// Whether `name` is a DNS name in its ASCII form: labels of 1 to 63 letters, digits and `-`
/// (punycode for others), none starting or ending with `-`, at most 253 characters in all.
pub fn is_dns_name(name: &str) -> bool {
    name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_of_letters_digits_and_inner_hyphens() {
        for good in [
            "example.com",
            "a",
            "xn--bcher-kva.example",
            "A-1.b2",
            &"a".repeat(63),
        ] {
            assert!(is_dns_name(good), "{good}");
        }
        let long = [
            "a".repeat(63),
            "b".repeat(63),
            "c".repeat(63),
            "d".repeat(62),
        ]
        .join(".");
        assert_eq!(long.len(), 254);
        for bad in [
            "",
            "a..b",
            ".a",
            "a.",
            "-a.b",
            "a-.b",
            "a_b.c",
            "a b",
            "é.fr",
            &"a".repeat(64),
            &long,
        ] {
            assert!(!is_dns_name(bad), "{bad}");
        }
    }
}
