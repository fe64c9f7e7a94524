//! Login and token-request bodies are the request bodies edgegate reads itself. Parsing either
//! media type must never panic; a successful parse has the required fields, and writing a login
//! back out in either format parses to the same request.
#![no_main]

use edgegate::auth::http::signin::{
    parse_login, parse_token_request, LoginFormat, LoginRequest, TokenRequest,
};
use libfuzzer_sys::fuzz_target;
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};

const FORM: &str = "application/x-www-form-urlencoded";
const JSON: &str = "application/json";

fn as_form(request: &LoginRequest) -> String {
    let encode = |text: &str| utf8_percent_encode(text, NON_ALPHANUMERIC).to_string();
    let mut body = format!(
        "username={}&password={}",
        encode(&request.username),
        encode(request.password.expose())
    );
    if let Some(next) = &request.next {
        body.push_str(&format!("&next={}", encode(next)));
    }
    body
}

fn as_json(request: &LoginRequest) -> String {
    serde_json::json!({
        "username": request.username,
        "password": request.password.expose(),
        "next": request.next,
    })
    .to_string()
}

fn same_fields(a: &LoginRequest, b: &LoginRequest) -> bool {
    a.username == b.username && a.password.expose() == b.password.expose() && a.next == b.next
}

fuzz_target!(|data: &[u8]| {
    for (content_type, format) in [
        (FORM, LoginFormat::Form),
        (JSON, LoginFormat::Json),
        ("Application/JSON; charset=\"UTF-8\"", LoginFormat::Json),
    ] {
        let Ok(request) = parse_login(Some(content_type), data) else {
            continue;
        };
        assert_eq!(request.format, format);
        assert!(!request.username.is_empty() && !request.password.expose().is_empty());
        assert_ne!(request.next.as_deref(), Some(""));
        for (content_type, body) in [(FORM, as_form(&request)), (JSON, as_json(&request))] {
            // The re-encoding may outgrow the size limit; anything else must round-trip.
            if let Ok(again) = parse_login(Some(content_type), body.as_bytes()) {
                assert!(same_fields(&request, &again), "{content_type}: {body:?}");
            } else {
                assert!(
                    body.len() > edgegate::auth::http::signin::MAX_LOGIN_BODY,
                    "{body:?}"
                );
            }
        }
    }
    for content_type in [FORM, JSON] {
        if let Ok(TokenRequest::Password(login)) = parse_token_request(Some(content_type), data) {
            assert_eq!(
                login.format,
                LoginFormat::Json,
                "a token request is answered in JSON"
            );
            assert!(!login.username.is_empty() && !login.password.expose().is_empty());
        }
    }
    // The content type is attacker-chosen too: the first line, the rest is the body.
    if let Some(split) = data.iter().position(|&b| b == b'\n') {
        if let Ok(content_type) = std::str::from_utf8(&data[..split]) {
            let _ = parse_login(Some(content_type), &data[split + 1..]);
        }
    }
});
