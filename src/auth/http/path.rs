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
//!   for a session or roles match the path's folded spelling (see [`crate::auth::policy`]).
//!
//! Origins also equate spellings the edge tells apart: JavaScript and .NET routers compare case
//! with Unicode rules (`ı`, upper-cased to `I`, is `i`; the Kelvin sign `K` is `k`), many
//! frameworks apply NFKC (`ｋ` is `k`, `ſ` is `s`, `／` is `/`, `．．` is `..`), some drop invisible
//! characters (zero-width ones, the BOM, the soft hyphen), and Windows and IIS drop the trailing
//! dots and spaces of a segment (`/admin./` is `/admin/`). Two answers, by cost:
//! - Refused: a path NFKC would change, or holding an invisible character (real links and typed
//!   paths are in NFC, the form browsers and keyboards produce, and rarely hold either), and a
//!   segment of nothing but dots and spaces. Telling whether NFKC changes a path needs only
//!   the quick-check property of `unicode-normalization`; doing NFKC needs its decomposition and
//!   composition tables, about 57 KB more of gzipped worker (BENCHMARKS.md), for spellings no
//!   legitimate client sends.
//! - Folded: Unicode lower case (with `ı` as `i` and `ß` as `ss`, the letters whose upper case
//!   is ASCII when their lower case is not) and trailing dots and spaces, which real paths do
//!   carry (`/CAFÉ/`, `/report.`). [`RequestPath::folded`] is that spelling, so that rules can
//!   hold it to the rule of the path it names, as they do ASCII case. The lower-case mapping is
//!   the standard library's; a full upper-then-lower fold would cost 6 KB more of gzipped
//!   worker, for letters no ASCII rule can be reached through.
//!
//! Neither costs anything on the common path: a path that decodes to ASCII with no segment
//! ending in `.` or a space folds to its ASCII lower case, which the policy computes anyway, and
//! skips both.

use core::fmt;

use unicode_normalization::{is_nfkc_quick, IsNormalized};

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
    /// The folded spelling (see [`RequestPath::folded`]) when it is more than ASCII lower case.
    folded: Option<String>,
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
        let mut plain = true;
        let mut segments = rest.split('/').peekable();
        while let Some(segment) = segments.next() {
            let last = segments.peek().is_none();
            if segment.is_empty() && !last {
                return Err(PathError::EmptySegment);
            }
            let (text, ascii) = decode_segment(segment)?;
            if text == "." || text == ".." {
                return Err(PathError::DotSegment);
            }
            plain &= ascii && !text.ends_with(['.', ' ']);
            decoded.push('/');
            decoded.push_str(&text);
        }
        let folded = match plain {
            true => None,
            false => Some(fold(&decoded)?),
        };
        Ok(Self {
            encoded: encoded.to_owned(),
            decoded,
            folded,
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

    /// The spelling origins that fold paths act on, when it is more than the decoded path in
    /// ASCII lower case: Unicode lower case (and `ı` as `i`, `ß` as `ss`, as origins comparing
    /// in upper case read them), and each segment without its trailing dots and spaces. `None`
    /// for a path that decodes to ASCII with no segment ending in `.` or a space, whose folded
    /// spelling is its ASCII lower case.
    pub fn folded(&self) -> Option<&str> {
        self.folded.as_deref()
    }

    /// The folded spelling, whatever the path: [`RequestPath::folded`], or the ASCII lower case.
    pub fn folded_or_lower(&self) -> String {
        match &self.folded {
            Some(folded) => folded.clone(),
            None => self.decoded.to_ascii_lowercase(),
        }
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

/// One segment, percent-decoded, and whether it is all ASCII; or the reason it cannot be read the
/// same way everywhere.
fn decode_segment(segment: &str) -> Result<(String, bool), PathError> {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut high = 0u8;
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
        high |= byte;
        out.push(byte);
    }
    let text = String::from_utf8(out).map_err(|_| PathError::InvalidUtf8)?;
    Ok((text, high.is_ascii()))
}

/// The decoded path as normalising origins read it (see [`RequestPath::folded`]), or the reason
/// it is refused: [`PathError::Unnormalised`] when NFKC would change it or it holds an invisible
/// character, [`PathError::DotsAndSpaces`] when a segment is nothing but dots and spaces.
fn fold(decoded: &str) -> Result<String, PathError> {
    let mut cased = String::with_capacity(decoded.len());
    for c in decoded.chars() {
        if is_invisible(c) {
            return Err(PathError::Unnormalised);
        }
        match c {
            // Lower case leaves these, but origins that compare in upper case (.NET's
            // `OrdinalIgnoreCase`, JavaScript's `toUpperCase`) read them as `I` and `SS`.
            '\u{131}' => cased.push('i'),
            '\u{DF}' => cased.push_str("ss"),
            c => cased.extend(c.to_lowercase()),
        }
    }
    // The case mapping can leave text NFKC changes (`İ` is `i` and a combining dot above).
    let normal = |text: &str| is_nfkc_quick(text.chars()) == IsNormalized::Yes;
    if !normal(decoded) || !normal(&cased) {
        return Err(PathError::Unnormalised);
    }
    let mut folded = String::with_capacity(cased.len());
    for segment in cased[1..].split('/') {
        let trimmed = segment.trim_end_matches(['.', ' ']);
        if trimmed.is_empty() && !segment.is_empty() {
            return Err(PathError::DotsAndSpaces);
        }
        folded.push('/');
        folded.push_str(trimmed);
    }
    Ok(folded)
}

/// Default-ignorable code points (Unicode's `Default_Ignorable_Code_Point`): zero-width
/// characters, joiners, the BOM, the soft hyphen, bidirectional marks, variation selectors, tags.
/// Invisible when shown, and dropped by origins that clean identifiers and file names.
fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}'..='\u{1160}' | '\u{17B4}'..='\u{17B5}'
        | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{206F}' | '\u{3164}' | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}'
        | '\u{FFA0}' | '\u{FFF0}'..='\u{FFF8}' | '\u{1BCA0}'..='\u{1BCA3}'
        | '\u{1D173}'..='\u{1D17A}' | '\u{E0000}'..='\u{E0FFF}')
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
    /// Public as spelled, protected in lower case or in the folded spelling
    /// ([`RequestPath::folded`]), which origins may read alike: see
    /// [`crate::auth::policy::Requirement::SpellingDependent`].
    SpellingDependent,
    /// The decoded bytes are not UTF-8.
    InvalidUtf8,
    /// A `.` or `..` segment.
    DotSegment,
    /// `//`: some origins merge repeated slashes, others keep them.
    EmptySegment,
    /// A character NFKC changes (the Kelvin sign, `ſ`, full-width forms, `．`, ligatures, a
    /// decomposed accent) or an invisible one (zero-width characters, the BOM, the soft hyphen):
    /// origins that normalise or drop them read another path.
    Unnormalised,
    /// A segment of nothing but dots and spaces, which origins that drop trailing dots and
    /// spaces read as empty or as another segment.
    DotsAndSpaces,
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
                "the path is public only in this spelling; in lower case, or normalised as some \
                 origins read it, it needs a session"
            }
            Self::InvalidUtf8 => "the path does not decode to UTF-8",
            Self::DotSegment => "the path contains a . or .. segment",
            Self::EmptySegment => "the path contains an empty segment (//)",
            Self::Unnormalised => {
                "the path contains characters some origins normalise (NFKC: compatibility forms \
                 such as full-width letters, or decomposed accents) or drop (invisible characters)"
            }
            Self::DotsAndSpaces => "the path contains a segment of nothing but dots and spaces",
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

    fn folded(path: &str) -> Option<String> {
        parse(path).unwrap().folded().map(str::to_owned)
    }

    #[test]
    fn plain_ascii_paths_have_no_folded_spelling_of_their_own() {
        for path in [
            "/",
            "/admin/Users",
            "/a%20b/c",
            "/.well-known/x..y/...z",
            "/%61/B/",
        ] {
            assert_eq!(folded(path), None, "{path}");
            let parsed = parse(path).unwrap();
            assert_eq!(
                parsed.folded_or_lower(),
                parsed.decoded().to_ascii_lowercase()
            );
        }
    }

    #[test]
    fn case_and_trailing_dots_and_spaces_fold_to_what_origins_read() {
        let cases = [
            // U+0131 dotless i (upper case `I`), `ß` (upper case `SS`), other letters' case.
            ("/backoff%C4%B1ce/ledger", "/backoffice/ledger"),
            ("/BACKOFF\u{131}CE/", "/backoffice/"),
            ("/Stra%C3%9Fe", "/strasse"),
            ("/files/CAF%C3%89", "/files/café"),
            ("/%D0%90%D0%B4%D0%BC%D0%B8%D0%BD", "/админ"),
            // Trailing dots and spaces of segments, ASCII or not.
            ("/backoffice./ledger", "/backoffice/ledger"),
            ("/backoffice%20/ledger", "/backoffice/ledger"),
            ("/Docs/kb.%20.", "/docs/kb"),
            ("/a./", "/a/"),
            ("/caf%C3%A9.", "/café"),
            // Lower-case letters in NFC stay as they are, raw or encoded.
            ("/files/caf%C3%A9", "/files/café"),
            ("/files/caf\u{E9}", "/files/café"),
            ("/%E6%97%A5%E6%9C%AC", "/日本"),
        ];
        for (path, expected) in cases {
            assert_eq!(folded(path).as_deref(), Some(expected), "{path}");
        }
        // The path itself is unchanged: checked, matched and forwarded as presented.
        let dotless = parse("/backoff%C4%B1ce/").unwrap();
        assert_eq!(dotless.decoded(), "/backoff\u{131}ce/");
        assert_eq!(dotless.encoded(), "/backoff%C4%B1ce/");
        assert_ne!(dotless, parse("/backoffice/").unwrap());
    }

    #[test]
    fn spellings_normalising_origins_read_as_another_path_are_refused() {
        let cases: &[(&str, PathError)] = &[
            // U+212A KELVIN SIGN (NFKC `K`), U+017F long s (NFKC `s`), raw and encoded.
            ("/bac%E2%84%AAoffice/ledger", PathError::Unnormalised),
            ("/bac\u{212A}office/ledger", PathError::Unnormalised),
            ("/docs/%E2%84%AAb", PathError::Unnormalised),
            ("/doc%C5%BF/kb", PathError::Unnormalised),
            ("/doc\u{17F}/kb", PathError::Unnormalised),
            // Full-width letters, solidus and full stops; a two dot leader; a ligature.
            ("/%EF%BD%82ackoffice/ledger", PathError::Unnormalised),
            ("/backoffice%EF%BC%8Fledger", PathError::Unnormalised),
            (
                "/docs/%EF%BC%8E%EF%BC%8E/backoffice",
                PathError::Unnormalised,
            ),
            ("/docs/\u{FF0E}\u{FF0E}/backoffice", PathError::Unnormalised),
            ("/docs/%E2%80%A5/backoffice", PathError::Unnormalised),
            ("/%EF%AC%81les", PathError::Unnormalised),
            // A decomposed accent (NFKC composes it), `İ` (lower case: `i` and a combining dot).
            ("/files/cafe%CC%81", PathError::Unnormalised),
            ("/%C4%B0", PathError::Unnormalised),
            // Invisible characters, alone or between dots.
            ("/back%E2%80%8Boffice", PathError::Unnormalised),
            ("/docs/k%E2%80%8Cb", PathError::Unnormalised),
            ("/docs/k%E2%80%8Db", PathError::Unnormalised),
            ("/docs/kb%E2%81%A0", PathError::Unnormalised),
            ("/docs/%EF%BB%BFkb", PathError::Unnormalised),
            ("/docs/k%C2%ADb", PathError::Unnormalised),
            ("/docs/k\u{AD}b", PathError::Unnormalised),
            ("/docs/..%E2%80%8B/backoffice", PathError::Unnormalised),
            ("/a/%E2%80%8B/b", PathError::Unnormalised),
            // Segments of nothing but dots and spaces.
            ("/a/.../b", PathError::DotsAndSpaces),
            ("/a/%20/b", PathError::DotsAndSpaces),
            ("/a/.%20./b", PathError::DotsAndSpaces),
            ("/a/...", PathError::DotsAndSpaces),
        ];
        for (path, expected) in cases {
            assert_eq!(
                parse(path).map(|p| p.decoded().to_owned()),
                Err(*expected),
                "{path}"
            );
        }
    }

    #[test]
    fn errors_name_the_problem() {
        assert!(PathError::EncodedSeparator
            .to_string()
            .contains("encoded /"));
        assert!(PathError::DotSegment.to_string().contains(".."));
    }
}
