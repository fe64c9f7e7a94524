//! The `Cookie` parser against abarth/http-state's browser cases, read from the shared vectors
//! folder beside the checkout: the cookies a browser sends back after each case's `Set-Cookie`
//! headers, joined into a `Cookie` header, must parse back to exactly those pairs, in order.

use edgegate::auth::http::cookie::{CookieError, CookieJar, MAX_COOKIE_HEADER};
use serde::Deserialize;
use std::path::PathBuf;

#[derive(Deserialize)]
struct Case {
    test: String,
    sent: Vec<Sent>,
}

#[derive(Deserialize)]
struct Sent {
    name: String,
    value: String,
}

fn vectors() -> Option<Vec<Case>> {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/vectors/http-state/parser.json");
    let Ok(text) = std::fs::read_to_string(&path) else {
        println!(
            "skipping: http-state vectors not found at {}",
            path.display()
        );
        return None;
    };
    Some(serde_json::from_str(&text).expect("parser.json is a list of cases"))
}

#[test]
fn browser_cookie_headers_parse_back_to_their_pairs() {
    let Some(cases) = vectors() else { return };
    assert_eq!(cases.len(), 222, "the vectors file changed");
    for case in &cases {
        let header = case
            .sent
            .iter()
            .map(|cookie| format!("{}={}", cookie.name, cookie.value))
            .collect::<Vec<_>>()
            .join("; ");
        let jar = CookieJar::parse(&header)
            .unwrap_or_else(|error| panic!("case {}: {header:?}: {error}", case.test));
        let expected: Vec<(&str, &str)> = case
            .sent
            .iter()
            .map(|cookie| (cookie.name.as_str(), cookie.value.as_str()))
            .collect();
        assert_eq!(jar.pairs(), expected, "case {}: {header:?}", case.test);
    }
}

#[test]
fn huge_and_malformed_headers_fail_cleanly() {
    let many_pairs = "a=1;".repeat(MAX_COOKIE_HEADER / 4);
    assert_eq!(
        CookieJar::parse(&many_pairs).map(|jar| jar.pairs().len()),
        Ok(2048)
    );
    assert_eq!(
        CookieJar::parse(&format!("{many_pairs}b")),
        Err(CookieError::TooLarge)
    );
    assert_eq!(
        CookieJar::parse(&"x".repeat(1 << 20)),
        Err(CookieError::TooLarge)
    );
    for odd in [
        "=",
        "==",
        ";",
        "; ;",
        "a",
        "a=",
        "=b",
        "\"",
        "a=\"",
        "a=b=c=d",
        "\u{fffd}=\u{fffd}",
        "a b=c d",
        "$Version=1; a=b; $Path=/",
    ] {
        assert!(CookieJar::parse(odd).is_ok(), "{odd:?}");
    }
    for control in ["a=b\r\nSet-Cookie: c=d", "a=\u{0}", "a\u{0b}=1"] {
        assert_eq!(
            CookieJar::parse(control),
            Err(CookieError::InvalidCharacter)
        );
    }
}
