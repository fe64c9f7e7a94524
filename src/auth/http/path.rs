//! The request path, checked: the one reading of a path that the edge and every origin share.
//!
//! The edge decides by path (public or not, and later which policy applies), then forwards the
//! path to an origin that decodes and resolves it its own way: Python's `http.server` unquotes
//! `%2e%2e%2f` into `../` and normalises it away, IIS reads `\` and `%5c` as a separator, Tomcat
//! drops `;` parameters, some servers decode twice or truncate at NUL. Any such spelling lets a
//! path that matches `/public/` at the edge name a file outside it at the origin. Rather than
//! guess each origin's reading, [`RequestPath::parse`] refuses every path whose meaning could
//! differ: what it accepts decodes, once, into segments that contain no separator, no dot
//! segment, no control character and no `%`, so every origin that maps paths onto a hierarchy
//! resolves it to the same place.
//!
//! Decisions:
//! - Refused: percent-encoded `/`, `\`, `.` and `%` (any case; `%25` refuses double encoding
//!   outright), `;`, `?` and `#` raw or encoded (an origin that decodes before it splits would
//!   read `/admin%3Fx` as `/admin`), malformed escapes, raw `\`, NUL and other control
//!   characters (raw or encoded), bytes that do not decode to UTF-8, `.` and `..` segments,
//!   and empty segments (`//`), which some origins merge and others keep. A trailing
//!   `/` is allowed: it names a folder.
//! - Other escapes are decoded (`/%70ublic/` is `/public/`), so matching never depends on how
//!   a client chose to spell an ordinary character.
//! - Equality and [`RequestPath::is_inside`] are exact and case-sensitive, byte for byte on the
//!   decoded segments, with no Unicode normalisation. The access policy builds on them: public
//!   rules match exactly (a case variant of a public path is simply protected), rules that ask
//!   for a session or roles ignore ASCII case and a trailing `/` (see [`crate::auth::policy`]). An
//!   origin that equates paths by Unicode equivalence, or strips trailing dots and spaces
//!   (Windows file systems), must reject such spellings itself.

use core::fmt;

/// Longer paths are refused; browsers and servers alike limit URLs to a few KiB.
pub const MAX_PATH_LEN: usize = 8192;

/// A request path every origin reads the same way: absolute, decoded once, made of segments.
///
/// Built only by [`RequestPath::parse`]. Equality compares the decoded path.
#[derive(Debug, Clone)]
pub struct RequestPath {
    /// The path as it was presented (percent-encoded), to be forwarded unchanged.
    encoded: String,
    /// The decoded path: `/` followed by the segments joined with `/`.
    decoded: String,
}

impl PartialEq for RequestPath {
    fn eq(&self, other: &Self) -> bool {
        self.decoded == other.decoded
    }
}

impl Eq for RequestPath {}

impl RequestPath {
    /// Checks and decodes `encoded`, a path as it appears in a request line or URL (no query).
    pub fn parse(encoded: &str) -> Result<Self, PathError> {
        if encoded.len() > MAX_PATH_LEN {
            return Err(PathError::TooLong);
        }
        let Some(rest) = encoded.strip_prefix('/') else {
            return Err(PathError::NotAbsolute);
        };
        let mut decoded = String::with_capacity(encoded.len());
        let mut segments = rest.split('/').peekable();
        while let Some(segment) = segments.next() {
            let last = segments.peek().is_none();
            if segment.is_empty() && !last {
                return Err(PathError::EmptySegment);
            }
            let text = decode_segment(segment)?;
            if text == "." || text == ".." {
                return Err(PathError::DotSegment);
            }
            decoded.push('/');
            decoded.push_str(&text);
        }
        Ok(Self {
            encoded: encoded.to_owned(),
            decoded,
        })
    }

    /// The path as presented, percent-encoding included: what the origin receives.
    pub fn encoded(&self) -> &str {
        &self.encoded
    }

    /// The decoded path, e.g. `/public/logo.png`.
    pub fn decoded(&self) -> &str {
        &self.decoded
    }

    /// The decoded segments, in order; a folder path ends with an empty one.
    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.decoded[1..].split('/')
    }

    /// Whether this path names a folder (ends with `/`).
    pub fn is_folder(&self) -> bool {
        self.decoded.ends_with('/')
    }

    /// Whether this path lies strictly inside `folder` (a path ending with `/`), segment by
    /// segment: `/public/a` is inside `/public/`, `/publicity` and `/public` are not.
    pub fn is_inside(&self, folder: &Self) -> bool {
        folder.is_folder()
            && self.decoded.len() > folder.decoded.len()
            && self.decoded.starts_with(&folder.decoded)
    }
}

/// One segment, percent-decoded, or the reason it cannot be read the same way everywhere.
fn decode_segment(segment: &str) -> Result<String, PathError> {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let byte = match bytes[i] {
            b'%' => {
                let hex = |at: usize| bytes.get(at).and_then(|b| (*b as char).to_digit(16));
                let (Some(high), Some(low)) = (hex(i + 1), hex(i + 2)) else {
                    return Err(PathError::MalformedEscape);
                };
                i += 3;
                let decoded = (high * 16 + low) as u8;
                match decoded {
                    b'/' | b'\\' => return Err(PathError::EncodedSeparator),
                    b'.' => return Err(PathError::EncodedDot),
                    b'%' => return Err(PathError::EncodedPercent),
                    b';' => return Err(PathError::PathParameter),
                    b'?' | b'#' => return Err(PathError::QueryInPath),
                    _ => decoded,
                }
            }
            b'\\' => return Err(PathError::Backslash),
            b';' => return Err(PathError::PathParameter),
            b'?' | b'#' => return Err(PathError::QueryInPath),
            raw => {
                i += 1;
                raw
            }
        };
        if byte.is_ascii_control() {
            return Err(PathError::ControlCharacter);
        }
        out.push(byte);
    }
    String::from_utf8(out).map_err(|_| PathError::InvalidUtf8)
}

/// Why a path is refused. Every variant is a path that some origin would read differently from
/// the edge; the request is answered 400 and never forwarded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PathError {
    /// The path does not start with `/`.
    NotAbsolute,
    /// The path is longer than [`MAX_PATH_LEN`] bytes.
    TooLong,
    /// `%2f` or `%5c`: a separator some origins decode and others keep.
    EncodedSeparator,
    /// `%2e`: a dot some origins decode into a dot segment.
    EncodedDot,
    /// `%25`: an escaped escape, which origins that decode twice read differently.
    EncodedPercent,
    /// `%` not followed by two hex digits.
    MalformedEscape,
    /// A raw `\`, a separator on some origins.
    Backslash,
    /// `;` (raw or encoded), which starts path parameters on some origins.
    PathParameter,
    /// A `?` or `#` inside the path (raw, or encoded: some origins decode, then split).
    QueryInPath,
    /// NUL or another control character, raw or encoded.
    ControlCharacter,
    /// Public as spelled, protected in lower case, which case-insensitive origins read alike:
    /// see [`crate::auth::policy::Requirement::SpellingDependent`].
    SpellingDependent,
    /// The decoded bytes are not UTF-8.
    InvalidUtf8,
    /// A `.` or `..` segment.
    DotSegment,
    /// `//`: some origins merge repeated slashes, others keep them.
    EmptySegment,
}

impl PathError {
    /// What is wrong, in words a client can act on.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::NotAbsolute => "the path must start with /",
            Self::TooLong => "the path is too long",
            Self::EncodedSeparator => "the path contains an encoded / or \\",
            Self::EncodedDot => "the path contains an encoded dot",
            Self::EncodedPercent => "the path contains an encoded % (double encoding)",
            Self::MalformedEscape => "the path contains a % not followed by two hex digits",
            Self::Backslash => "the path contains a backslash",
            Self::PathParameter => "the path contains ; (path parameters are not accepted)",
            Self::QueryInPath => "the path contains ? or #",
            Self::ControlCharacter => "the path contains a control character",
            Self::SpellingDependent => {
                "the path is public only in this letter case; in lower case it needs a session"
            }
            Self::InvalidUtf8 => "the path does not decode to UTF-8",
            Self::DotSegment => "the path contains a . or .. segment",
            Self::EmptySegment => "the path contains an empty segment (//)",
        }
    }
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.reason())
    }
}

impl std::error::Error for PathError {}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(path: &str) -> Result<RequestPath, PathError> {
        RequestPath::parse(path)
    }

    fn decoded(path: &str) -> String {
        parse(path).unwrap().decoded().to_owned()
    }

    #[test]
    fn ordinary_paths_decode_once_into_segments() {
        assert_eq!(decoded("/"), "/");
        assert_eq!(decoded("/public/logo.png"), "/public/logo.png");
        assert_eq!(decoded("/a%20b/%C3%A9t%C3%A9"), "/a b/été");
        assert_eq!(decoded("/%70ublic/x"), "/public/x");
        assert_eq!(decoded("/.well-known/x..y/...z"), "/.well-known/x..y/...z");
        let path = parse("/a/b%40c/").unwrap();
        assert_eq!(path.segments().collect::<Vec<_>>(), ["a", "b@c", ""]);
        assert!(path.is_folder());
        assert_eq!(path.encoded(), "/a/b%40c/");
        assert_eq!(path, parse("/%61/b@c/").unwrap());
    }

    #[test]
    fn every_spelling_of_a_separator_or_dot_segment_is_refused() {
        let cases: &[(&str, PathError)] = &[
            ("/public/..%2fsecret", PathError::EncodedSeparator),
            ("/public/..%2Fsecret", PathError::EncodedSeparator),
            ("/public%2f..%2f..%2fsecret", PathError::EncodedSeparator),
            ("/public/..%5csecret", PathError::EncodedSeparator),
            ("/public/..%5Csecret", PathError::EncodedSeparator),
            ("/public/%2e%2e/secret", PathError::EncodedDot),
            ("/public/%2E%2E/secret", PathError::EncodedDot),
            ("/public/.%2e/secret", PathError::EncodedDot),
            ("/public/%2e/secret", PathError::EncodedDot),
            ("/public/%252e%252e/secret", PathError::EncodedPercent),
            ("/public/%252f", PathError::EncodedPercent),
            ("/public/%25", PathError::EncodedPercent),
            ("/public/..\\secret", PathError::Backslash),
            ("/public\\..\\secret", PathError::Backslash),
            ("/public/..;/secret", PathError::PathParameter),
            ("/public;x=1/../secret", PathError::PathParameter),
            ("/public/../secret", PathError::DotSegment),
            ("/public/./x", PathError::DotSegment),
            ("/public/..", PathError::DotSegment),
            ("/..", PathError::DotSegment),
            ("/public//x", PathError::EmptySegment),
            ("//public/x", PathError::EmptySegment),
            ("/public/x%00.png", PathError::ControlCharacter),
            ("/public/x\0", PathError::ControlCharacter),
            ("/public/%0a", PathError::ControlCharacter),
            ("/public/%7F", PathError::ControlCharacter),
            ("/public/\t", PathError::ControlCharacter),
            ("/public/%c0%ae%c0%ae/secret", PathError::InvalidUtf8),
            ("/public/%ff", PathError::InvalidUtf8),
            ("/public/%e2%82", PathError::InvalidUtf8),
            ("/public/%", PathError::MalformedEscape),
            ("/public/%2", PathError::MalformedEscape),
            ("/public/%zz", PathError::MalformedEscape),
            ("/public/%%32%65", PathError::MalformedEscape),
            ("/public/x?y", PathError::QueryInPath),
            ("/public/x#y", PathError::QueryInPath),
            ("/admin%3Fx", PathError::QueryInPath),
            ("/admin%23", PathError::QueryInPath),
            ("/admin%3b/x", PathError::PathParameter),
            ("/admin%3B", PathError::PathParameter),
            ("public/x", PathError::NotAbsolute),
            ("", PathError::NotAbsolute),
        ];
        for (path, expected) in cases {
            assert_eq!(
                parse(path).map(|p| p.decoded().to_owned()),
                Err(*expected),
                "{path:?}"
            );
        }
    }

    #[test]
    fn overlong_paths_are_refused() {
        let longest = format!("/{}", "a".repeat(MAX_PATH_LEN - 1));
        assert!(parse(&longest).is_ok());
        assert_eq!(
            parse(&format!("{longest}a")).unwrap_err(),
            PathError::TooLong
        );
    }

    #[test]
    fn inside_is_by_whole_segments_and_case_sensitive() {
        let folder = parse("/public/").unwrap();
        for inside in ["/public/a", "/public/a/b/", "/%70ublic/a"] {
            assert!(parse(inside).unwrap().is_inside(&folder), "{inside}");
        }
        for outside in [
            "/public/",
            "/public",
            "/publicity",
            "/Public/a",
            "/PUBLIC/a",
            "/",
        ] {
            assert!(!parse(outside).unwrap().is_inside(&folder), "{outside}");
        }
        let file = parse("/favicon.ico").unwrap();
        assert!(!parse("/favicon.ico/x").unwrap().is_inside(&file));
    }

    #[test]
    fn errors_name_the_problem() {
        assert!(PathError::EncodedSeparator
            .to_string()
            .contains("encoded /"));
        assert!(PathError::DotSegment.to_string().contains(".."));
    }
}
