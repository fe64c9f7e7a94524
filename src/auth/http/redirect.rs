//! Where to send a user after login, without becoming an open redirect.
//!
//! The `next` target comes from the client, so it is attacker-controlled: a link to
//! `/auth/login?next=//evil.example` would otherwise hand our users, freshly logged in, to a
//! phishing site. Browsers, proxies and frameworks disagree on how to read a URL (backslashes as
//! slashes, stripped tabs, percent-decoding once or twice, `.` segments), so rather than predict
//! every reading we accept only a narrow shape that is a same-origin path under all of them, and
//! fall back to `/` for anything else.

use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// Longer targets are refused; no real page needs more, and it bounds the work below.
pub const MAX_NEXT_LEN: usize = 2048;

/// Where every refused target goes.
const HOME: &str = "/";

/// Enough rounds for any honest double encoding; a value still changing after them is refused.
const MAX_DECODE_ROUNDS: usize = 4;

/// `raw` if it is a same-origin path (query and fragment kept), else `/`.
///
/// Accepted: visible ASCII only, starting with a single `/`, with no backslash and no `.` or `..`
/// path segment; every percent-decoding of it, until decoding no longer changes it, must be valid
/// UTF-8 of the same shape (spaces allowed, other whitespace and control characters not).
pub fn safe_next(raw: Option<&str>) -> String {
    match raw {
        Some(target) if is_safe_target(target) => target.to_owned(),
        _ => HOME.to_owned(),
    }
}

/// The login page URL that returns to `path_and_query` afterwards, e.g.
/// `/auth/login?next=/reports%3Fyear%3D2024`. An unsafe path is replaced by `/` first.
pub fn login_redirect(path_and_query: &str) -> String {
    let next = safe_next(Some(path_and_query));
    format!(
        "/auth/login?next={}",
        utf8_percent_encode(&next, QUERY_VALUE)
    )
}

/// Everything but RFC 3986 unreserved characters and `/` is encoded.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'/');

fn is_safe_target(raw: &str) -> bool {
    if raw.len() > MAX_NEXT_LEN || !raw.bytes().all(|b| b.is_ascii_graphic()) {
        return false;
    }
    let mut layer = raw.to_owned();
    for _ in 0..MAX_DECODE_ROUNDS {
        if !is_local_path(&layer) {
            return false;
        }
        let Ok(decoded) = percent_decode_str(&layer).decode_utf8() else {
            return false;
        };
        if decoded == layer {
            return true;
        }
        layer = decoded.into_owned();
    }
    false
}

/// One reading of the target: a path on this origin, whoever interprets it.
fn is_local_path(target: &str) -> bool {
    let path = target.split(['?', '#']).next().unwrap_or_default();
    target.starts_with('/')
        && !target.starts_with("//")
        && !target.contains('\\')
        && !target
            .chars()
            .any(|c| c.is_control() || (c.is_whitespace() && c != ' '))
        && !path
            .split('/')
            .any(|segment| segment == "." || segment == "..")
}

/// Why a person is on the sign-in page: how their session ended. Carried as `?reason=<code>`
/// by the edge's redirects and by the account page's script.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reason {
    /// The person logged out of this session.
    LoggedOut,
    /// The person logged out of every session of the account.
    LoggedOutEverywhere,
    /// The session was ended from another device (or by an operator).
    SessionEnded,
    /// The idle timeout or the absolute lifetime ran out.
    SessionExpired,
    /// A retired refresh token came back: the session was ended to protect the account.
    ReuseDetected,
    /// The session was refreshed from another device than its login's, and ended.
    DeviceMismatch,
}

impl Reason {
    /// Every reason.
    pub const ALL: [Reason; 6] = [
        Self::LoggedOut,
        Self::LoggedOutEverywhere,
        Self::SessionEnded,
        Self::SessionExpired,
        Self::ReuseDetected,
        Self::DeviceMismatch,
    ];

    /// The `?reason=` value that carries this reason.
    pub fn code(self) -> &'static str {
        match self {
            Self::LoggedOut => "logged_out",
            Self::LoggedOutEverywhere => "logged_out_everywhere",
            Self::SessionEnded => "session_ended",
            Self::SessionExpired => "session_expired",
            Self::ReuseDetected => "reuse_detected",
            Self::DeviceMismatch => "device_mismatch",
        }
    }

    /// The reason a `?reason=` value names; `None` for a code the edge does not issue.
    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|reason| reason.code() == code)
    }

    /// The reason behind one of the edge's 401 error codes, when it says a session existed.
    pub fn from_api_error(code: &str) -> Option<Self> {
        match code {
            "session_ended" => Some(Self::SessionEnded),
            "session_expired" => Some(Self::SessionExpired),
            "refresh_reused" => Some(Self::ReuseDetected),
            "device_mismatch" => Some(Self::DeviceMismatch),
            _ => None,
        }
    }
}

/// The sign-in page for `next`, saying `reason` when there is one.
pub fn login_location(next: &str, reason: Option<Reason>) -> String {
    let location = login_redirect(next);
    match reason {
        Some(reason) => format!("{location}&reason={}", reason.code()),
        None => location,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_or_empty_goes_home() {
        assert_eq!(safe_next(None), "/");
        assert_eq!(safe_next(Some("")), "/");
    }

    #[test]
    fn local_paths_are_kept_with_query_and_fragment() {
        for good in [
            "/",
            "/dashboard",
            "/reports/2024?year=2024&sort=desc",
            "/a/b#section-2",
            "/search?q=a%20b",
            "/search?q=http%3A%2F%2Fexample.com",
            "/files/report.v2.pdf",
            "/~user/..hidden/...",
            "/path;matrix=1",
            "/@user",
            "/caf%C3%A9",
            "/100%25",
        ] {
            assert_eq!(safe_next(Some(good)), good, "{good}");
        }
    }

    #[test]
    fn open_redirect_tricks_go_home() {
        let overlong = format!("/{}", "a".repeat(MAX_NEXT_LEN));
        let tricks = [
            // Absolute and scheme-relative URLs.
            "https://evil.example",
            "http:evil.example",
            "//evil.example",
            "///evil.example",
            "////evil.example/",
            "javascript:alert(1)",
            "data:text/html,<script>alert(1)</script>",
            "evil.example",
            "dashboard",
            "?next=/",
            "#/",
            // Backslashes, which browsers read as slashes.
            "/\\evil.example",
            "\\\\evil.example",
            "/\\/evil.example",
            "\\/evil.example",
            "/path\\x",
            // Whitespace and control characters that parsers strip.
            " /evil",
            "/ /evil.example",
            "\t//evil.example",
            "/\t/evil.example",
            "/\n/evil.example",
            "/\r\n/evil.example",
            "/\0/evil.example",
            "/\u{7f}/evil.example",
            "/\u{2028}/evil.example",
            "/\u{3000}/evil.example",
            // Non-ASCII lookalikes of slashes and dots.
            "/\u{ff0f}evil.example",
            "/\u{2215}evil.example",
            "/。evil.example",
            // Percent-encoded slashes, backslashes and controls, once or more.
            "/%2F%2Fevil.example",
            "/%2fevil.example",
            "%2F%2Fevil.example",
            "/%5Cevil.example",
            "/%5cevil.example",
            "/%252F%252Fevil.example",
            "/%25252F/evil.example",
            "/%2525252F/evil.example",
            "/%09/evil.example",
            "/%0A/evil.example",
            "/%0D%0ALocation:%20https://evil.example",
            "/%00/evil.example",
            "/%E2%80%A8",
            "/%C0%AF/evil.example",
            "/%ff",
            // Dot segments that normalise to `//`.
            "/./evil.example",
            "/.//evil.example",
            "/a/..//evil.example",
            "/..//evil.example",
            "/../evil.example",
            "/%2e/%2e%2e//evil.example",
            "/%2E%2E%2F%2Fevil.example",
            "/.%2e/",
            "/a/.",
            overlong.as_str(),
        ];
        for trick in tricks {
            assert_eq!(safe_next(Some(trick)), "/", "{trick:?}");
        }
    }

    #[test]
    fn the_length_limit_is_inclusive() {
        let longest = format!("/{}", "a".repeat(MAX_NEXT_LEN - 1));
        assert_eq!(safe_next(Some(&longest)), longest);
    }

    #[test]
    fn login_redirect_encodes_the_return_path() {
        assert_eq!(login_redirect("/"), "/auth/login?next=/");
        assert_eq!(
            login_redirect("/reports?year=2024&sort=desc#top"),
            "/auth/login?next=/reports%3Fyear%3D2024%26sort%3Ddesc%23top"
        );
        assert_eq!(
            login_redirect("/search?q=a%20b"),
            "/auth/login?next=/search%3Fq%3Da%2520b"
        );
    }

    #[test]
    fn login_redirect_never_carries_an_unsafe_path() {
        assert_eq!(login_redirect("//evil.example"), "/auth/login?next=/");
        assert_eq!(login_redirect("/%2F%2Fevil.example"), "/auth/login?next=/");
    }

    #[test]
    fn login_redirect_round_trips_through_safe_next() {
        let path = "/a/b?c=d&e=%2F#f";
        let url = login_redirect(path);
        let encoded = url.trim_start_matches("/auth/login?next=");
        let decoded = percent_decode_str(encoded).decode_utf8().unwrap();
        assert_eq!(safe_next(Some(&decoded)), path);
    }

    #[test]
    fn api_errors_map_to_reasons_only_when_a_session_existed() {
        assert_eq!(
            Reason::from_api_error("session_ended"),
            Some(Reason::SessionEnded)
        );
        assert_eq!(
            Reason::from_api_error("session_expired"),
            Some(Reason::SessionExpired)
        );
        assert_eq!(
            Reason::from_api_error("refresh_reused"),
            Some(Reason::ReuseDetected)
        );
        assert_eq!(
            Reason::from_api_error("device_mismatch"),
            Some(Reason::DeviceMismatch)
        );
        assert_eq!(Reason::from_api_error("unauthenticated"), None);
    }

    #[test]
    fn the_login_location_carries_next_and_the_reason() {
        assert_eq!(
            login_location("/app?x=1", Some(Reason::SessionEnded)),
            "/auth/login?next=/app%3Fx%3D1&reason=session_ended"
        );
        assert_eq!(login_location("//evil.example", None), "/auth/login?next=/");
    }
}
