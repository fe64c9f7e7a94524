//! The design floor of edgegate's request path: everything a steady-state authenticated request
//! must do in wasm, done in one synchronous call. The worker (`bench/floor/worker.js`) calls
//! [`floor`] with the request's Cookie header and forwards the request with the five headers of
//! the answer. No token is verified and no assertion is signed here: on a warm isolate edgegate
//! finds both in its caches, keyed by the token's SHA-256, and this is that lookup and no more.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt::Write;

use sha2::{Digest, Sha256};
use wasm_bindgen::prelude::wasm_bindgen;

const ACCESS_COOKIE: &str = "__Host-eg_access";
const REFRESH_COOKIE: &str = "__Host-eg_refresh";

/// The identity a cached token stands for: the four values the origin receives.
struct Identity {
    user: String,
    session: String,
    roles: String,
    assertion: String,
}

thread_local! {
    /// The per-isolate cache: SHA-256 of the access token -> identity.
    static CACHE: RefCell<HashMap<[u8; 32], Identity>> = RefCell::new(HashMap::new());
}

/// An identity for a token seen for the first time, so that every later request hits. Its
/// assertion has the length of edgegate's (an EdDSA JWT of about 330 bytes).
fn seed(hash: &[u8; 32]) -> Identity {
    let mut hex = String::with_capacity(64);
    for b in hash {
        let _ = write!(hex, "{b:02x}");
    }
    let assertion = format!(
        "eyJhbGciOiJFZERTQSIsImtpZCI6ImJlbmNoIiwidHlwIjoiZWRnZWdhdGUtYXNzZXJ0aW9uK2p3dCJ9.{}.{}",
        hex.repeat(3),
        &hex[..43].repeat(2)
    );
    Identity {
        user: "floor-user".to_owned(),
        session: hex[..22].to_owned(),
        roles: "user".to_owned(),
        assertion,
    }
}

/// Cookie header in; out, five lines: user, session, roles, assertion and the Cookie header to
/// forward (the session cookies removed; empty when nothing is left). An empty string when the
/// request carries no access cookie.
#[wasm_bindgen]
pub fn floor(cookie_header: &str) -> String {
    let mut token = None;
    let mut kept = String::with_capacity(cookie_header.len());
    for pair in cookie_header.split(';') {
        let pair = pair.trim();
        if pair.is_empty() {
            continue;
        }
        let name = pair.split_once('=').map_or(pair, |(name, _)| name);
        if name == ACCESS_COOKIE {
            token = Some(&pair[ACCESS_COOKIE.len() + 1..]);
        } else if name != REFRESH_COOKIE {
            if !kept.is_empty() {
                kept.push_str("; ");
            }
            kept.push_str(pair);
        }
    }
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return String::new();
    };
    let hash: [u8; 32] = Sha256::digest(token.as_bytes()).into();
    CACHE.with(|cache| {
        let mut cache = cache.borrow_mut();
        let id = cache.entry(hash).or_insert_with(|| seed(&hash));
        let mut out = String::with_capacity(
            id.user.len() + id.session.len() + id.roles.len() + id.assertion.len() + kept.len() + 4,
        );
        for part in [&id.user, &id.session, &id.roles, &id.assertion] {
            out.push_str(part);
            out.push('\n');
        }
        out.push_str(&kept);
        out
    })
}

#[cfg(test)]
mod tests {
    use super::floor;

    #[test]
    fn picks_the_access_cookie_and_strips_the_session_cookies() {
        let out = floor("theme=dark; __Host-eg_access=abc.def.ghi; __Host-eg_refresh=r; lang=en");
        let lines: Vec<&str> = out.split('\n').collect();
        assert_eq!(lines.len(), 5);
        assert_eq!(lines[0], "floor-user");
        assert_eq!(lines[2], "user");
        assert_eq!(lines[4], "theme=dark; lang=en");
        // The second request hits the same entry.
        assert_eq!(
            floor("__Host-eg_access=abc.def.ghi"),
            format!("{}\n", lines[..4].join("\n"))
        );
        assert_eq!(floor("theme=dark"), "");
    }
}
