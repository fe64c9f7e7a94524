//! The access policy: which paths are public, which need a session, which need roles.
//!
//! Rules are ordered and the first that matches decides; a path no rule matches needs a session,
//! so forgetting a rule never opens anything. Matching runs on the checked, decoded path (see
//! [`RequestPath`]), which already refuses every spelling origins resolve differently (encoded
//! separators and dots, `%25`, `;`, `\`, dot segments, `//`). What remains are spellings origins
//! may *equate* while the edge tells them apart: letter case (IIS, case-insensitive file
//! systems, routers with case-insensitive matching, with ASCII or Unicode rules), a trailing `/`
//! (Express without strict routing, many frameworks), and the trailing dots and spaces of a
//! segment (Windows, IIS). ([`RequestPath`] refuses the spellings only NFKC or dropping invisible
//! characters would equate.) The policy leans each of these towards the stricter answer:
//!
//! - a rule that asks for anything (signed in, roles) matches tolerantly: its path is folded
//!   like a request path, and it matches a request's ASCII lower-case spelling and its folded
//!   spelling ([`RequestPath::folded`]), each with or without a trailing `/`, so `/ADMIN/`,
//!   `/backoffıce/` (dotless i) and `/backoffice./` are held to the rule written for
//!   `/backoffice/`;
//! - a `public` rule matches strictly: byte for byte, with the trailing `/` as written, so only
//!   the spelling the operator named is served without a session; and a path public as spelled
//!   whose lower-case or folded spelling an explicit stricter rule holds is refused
//!   ([`Requirement::SpellingDependent`]).
//!
//! Holding these spellings to the rule of the path they name, rather than refusing them, keeps
//! them working for the users the rule admits, as ASCII case variants always have.
//!
//! A method list that names `GET` also covers `HEAD`, which origins answer as a `GET`. A CORS
//! preflight is judged by the rule of the request it announces (its
//! `Access-Control-Request-Method`); only a rule marked `cors-preflight` lets it through
//! without a session, for the origin to answer.

use core::fmt;

use crate::auth::http::path::RequestPath;
use crate::auth::names::role::{Role, MAX_ROLE_LEN};

/// Longest policy text: a few hundred rules is plenty for one edge.
pub const MAX_POLICY_LEN: usize = 32 * 1024;

/// What a rule asks of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    /// Served without a session; no identity is forwarded.
    Public,
    /// Any signed-in user.
    SignedIn,
    /// A signed-in user holding the roles, one of them or all of them.
    Roles {
        /// Whether one of `roles` will do, or all of them are needed.
        need: RoleNeed,
        /// The roles the rule names.
        roles: Vec<Role>,
    },
}

/// Whether a role rule wants one of its roles or every one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleNeed {
    /// One of the rule's roles is enough (`roles-any`).
    Any,
    /// Every one of the rule's roles is needed (`roles-all`).
    All,
}

impl Access {
    /// The roles of `held` this rule still misses: empty when it is satisfied.
    pub fn missing(&self, held: &[Role]) -> Vec<Role> {
        let Self::Roles { need, roles } = self else {
            return Vec::new();
        };
        let has = |role: &Role| held.contains(role);
        match need {
            RoleNeed::Any if roles.iter().any(has) => Vec::new(),
            RoleNeed::Any => roles.clone(),
            RoleNeed::All => roles.iter().filter(|role| !has(role)).cloned().collect(),
        }
    }
}

/// How a rule's path is written.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Pattern {
    /// `/a/b`: that path.
    Exact(String),
    /// `/a/`: the folder and everything inside it.
    Folder(String),
    /// Segments with `*` (any text within one segment); a last `**` matches the rest.
    Glob { segments: Vec<String>, rest: bool },
}

impl Pattern {
    /// The pattern `path` writes: as decoded for `public` rules, in its folded spelling
    /// ([`RequestPath::folded_or_lower`]) for the others, which are matched on folded paths.
    fn parse(path: &RequestPath, folded: bool) -> Result<Self, PolicyError> {
        if path.decoded() == "/" {
            return Ok(Self::Exact("/".into()));
        }
        let text = match folded {
            true => path.folded_or_lower(),
            false => path.decoded().to_owned(),
        };
        if !text.contains('*') {
            return Ok(match text.ends_with('/') {
                true => Self::Folder(text),
                false => Self::Exact(text),
            });
        }
        let mut segments: Vec<String> = text[1..].split('/').map(str::to_owned).collect();
        let rest = segments.last().is_some_and(|last| last == "**");
        if rest {
            segments.pop();
        }
        if segments.iter().any(|segment| segment.contains("**")) {
            return Err(PolicyError::DoubleStarInside);
        }
        Ok(Self::Glob { segments, rest })
    }

    /// Whether the decoded `path` matches, byte for byte.
    fn matches(&self, path: &str) -> bool {
        match self {
            Self::Exact(exact) => exact == path,
            Self::Folder(folder) => path.starts_with(folder.as_str()),
            Self::Glob { segments, rest } => {
                let mut parts = path[1..].split('/');
                for pattern in segments {
                    match parts.next() {
                        Some(part) if wildcard(pattern, part) => {}
                        _ => return false,
                    }
                }
                match parts.next() {
                    None => !rest,
                    Some(_) => *rest,
                }
            }
        }
    }
}

/// The spellings of one request path the rules are matched against: as decoded for `public`
/// rules; for the others, in ASCII lower case and, when it differs, folded as normalising origins
/// read it ([`RequestPath::folded`]), each with and without a trailing `/`.
struct Spellings<'a> {
    exact: &'a str,
    lower: String,
    folded: Option<&'a str>,
    /// `lower` and `folded` with the trailing `/` toggled.
    toggled: [Option<String>; 2],
}

impl<'a> Spellings<'a> {
    fn of(path: &'a RequestPath) -> Self {
        Self::of_text(path.decoded(), path.folded())
    }

    fn of_text(exact: &'a str, folded: Option<&'a str>) -> Self {
        let lower = exact.to_ascii_lowercase();
        Self {
            toggled: [Some(lower.as_str()), folded].map(|text| text.and_then(toggle_slash)),
            exact,
            lower,
            folded,
        }
    }

    /// Every spelling a rule that asks for something is matched against.
    fn tolerant(&self) -> impl Iterator<Item = &str> {
        let toggled = self.toggled.iter().flatten().map(String::as_str);
        [Some(self.lower.as_str()), self.folded]
            .into_iter()
            .flatten()
            .chain(toggled)
    }
}

/// `text` with a trailing `/` removed, or added; `None` for `/` itself.
fn toggle_slash(text: &str) -> Option<String> {
    match text.strip_suffix('/') {
        Some("") => None,
        Some(without) => Some(without.to_owned()),
        None => Some(format!("{text}/")),
    }
}

/// Whether `text` matches `pattern`, where `*` stands for any run of characters, empty included.
fn wildcard(pattern: &str, text: &str) -> bool {
    let mut pieces = pattern.split('*');
    let first = pieces.next().unwrap_or_default();
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let pieces: Vec<&str> = pieces.collect();
    let Some((last, middle)) = pieces.split_last() else {
        return rest.is_empty();
    };
    for piece in middle {
        match rest.find(piece) {
            Some(at) => rest = &rest[at + piece.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

/// One rule, as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// Upper-case methods; empty means every method.
    methods: Vec<String>,
    pattern: Pattern,
    access: Access,
    /// Lets a CORS preflight of a request this rule governs through without a session.
    cors_preflight: bool,
}

impl Rule {
    /// The rule for a public path entry (`PUBLIC_PATHS`): exact, or a folder with its `/`.
    pub fn public(path: &RequestPath) -> Self {
        let decoded = path.decoded().to_owned();
        Self {
            methods: Vec::new(),
            pattern: match path.is_folder() {
                true => Pattern::Folder(decoded),
                false => Pattern::Exact(decoded),
            },
            access: Access::Public,
            cors_preflight: false,
        }
    }

    fn parse(text: &str) -> Result<Self, PolicyError> {
        let mut words = text.split_whitespace().peekable();
        let mut methods = Vec::new();
        if let Some(first) = words.peek().filter(|word| !word.contains('/')) {
            for method in first.split(',') {
                if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) {
                    return Err(PolicyError::BadMethod(method.to_owned()));
                }
                methods.push(method.to_owned());
            }
            words.next();
        }
        let path = words.next().ok_or(PolicyError::NoPath)?;
        let path = RequestPath::parse(path).map_err(PolicyError::Path)?;
        let access = match words.next() {
            Some("public") => Access::Public,
            Some("signed-in") => Access::SignedIn,
            Some(word @ ("roles-any" | "roles-all")) => {
                let list = words.next().ok_or(PolicyError::NoRoles)?;
                let roles = list
                    .split(',')
                    .map(|role| {
                        Role::parse(role).map_err(|_| PolicyError::BadRole(role.to_owned()))
                    })
                    .collect::<Result<_, _>>()?;
                let need = match word {
                    "roles-any" => RoleNeed::Any,
                    _ => RoleNeed::All,
                };
                Access::Roles { need, roles }
            }
            Some(other) => return Err(PolicyError::BadAccess(other.to_owned())),
            None => return Err(PolicyError::NoAccess),
        };
        let cors_preflight = match words.next() {
            None => false,
            Some("cors-preflight") => true,
            Some(other) => return Err(PolicyError::Unexpected(other.to_owned())),
        };
        if let Some(other) = words.next() {
            return Err(PolicyError::Unexpected(other.to_owned()));
        }
        if access == Access::Public && cors_preflight {
            return Err(PolicyError::PublicPreflight);
        }
        Ok(Self {
            methods,
            // Matched against the request path's folded spellings (see `covers_path`).
            pattern: Pattern::parse(&path, access != Access::Public)?,
            access,
            cors_preflight,
        })
    }

    fn covers_method(&self, method: &str) -> bool {
        self.methods.is_empty()
            || self.methods.iter().any(|allowed| {
                allowed.eq_ignore_ascii_case(method)
                    || (allowed == "GET" && method.eq_ignore_ascii_case("HEAD"))
            })
    }

    fn covers_path(&self, path: &Spellings<'_>) -> bool {
        if self.access == Access::Public {
            return self.pattern.matches(path.exact);
        }
        path.tolerant()
            .any(|spelling| self.pattern.matches(spelling))
    }
}

/// What the policy asks of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requirement<'a> {
    /// Forward without a session or identity.
    Public,
    /// A CORS preflight a `cors-preflight` rule lets through, without a session or identity.
    Preflight,
    /// A session, and when the access names them, roles.
    Session(&'a Access),
    /// Public as spelled, but its lower-case or folded spelling ([`RequestPath::folded`]) is held
    /// by a stricter rule: an origin that ignores letter case, or normalises paths, would serve
    /// the protected resource.
    SpellingDependent,
}

/// The ordered rules of a deployment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccessPolicy {
    rules: Vec<Rule>,
}

/// What a path no rule matches needs.
static DEFAULT: Access = Access::SignedIn;

impl AccessPolicy {
    /// `public` rules first (from `PUBLIC_PATHS`), then the rules of `text` (`ACCESS_POLICY`):
    /// one per line or `;`-separated, `#` starting a comment to the end of its line.
    pub fn parse(public: Vec<Rule>, text: &str) -> Result<Self, RuleError> {
        if text.len() > MAX_POLICY_LEN {
            return Err(RuleError {
                number: 0,
                text: String::new(),
                error: PolicyError::TooLong,
            });
        }
        let mut rules = public;
        let lines = text
            .lines()
            .map(|line| line.split('#').next().unwrap_or_default())
            .flat_map(|line| line.split(';'))
            .map(str::trim)
            .filter(|rule| !rule.is_empty());
        for (index, rule) in lines.enumerate() {
            rules.push(Rule::parse(rule).map_err(|error| RuleError {
                number: index + 1,
                text: rule.to_owned(),
                error,
            })?);
        }
        Ok(Self { rules })
    }

    /// What a request with `method` for `path` needs; `preflight` is the method a CORS
    /// preflight announces (`Access-Control-Request-Method`), when the request is one.
    pub fn requirement(
        &self,
        method: &str,
        preflight: Option<&str>,
        path: &RequestPath,
    ) -> Requirement<'_> {
        let judged = preflight.unwrap_or(method);
        let spellings = Spellings::of(path);
        let first = |spellings: &Spellings<'_>| {
            self.rules
                .iter()
                .find(|rule| rule.covers_method(judged) && rule.covers_path(spellings))
        };
        let is_public =
            |rule: Option<&Rule>| rule.is_some_and(|rule| rule.access == Access::Public);
        let rule = first(&spellings);
        if is_public(rule) {
            // An origin that ignores letter case, or normalises as `folded` does, acts on those
            // spellings too: if an explicit rule protects one of them, this one must not open it.
            let others = [Some(spellings.lower.as_str()), spellings.folded];
            let protected = others.into_iter().flatten().any(|other| {
                other != spellings.exact
                    && first(&Spellings::of_text(other, None))
                        .is_some_and(|rule| rule.access != Access::Public)
            });
            if protected {
                return Requirement::SpellingDependent;
            }
        }
        match rule {
            Some(rule) if rule.access == Access::Public => Requirement::Public,
            Some(rule) if preflight.is_some() && rule.cors_preflight => Requirement::Preflight,
            Some(rule) => Requirement::Session(&rule.access),
            None => Requirement::Session(&DEFAULT),
        }
    }
}

/// What is wrong with one rule.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PolicyError {
    /// The whole policy is longer than [`MAX_POLICY_LEN`].
    TooLong,
    /// The rule has no path (after its optional methods).
    NoPath,
    /// The rule's path is not a checked request path.
    Path(crate::auth::http::path::PathError),
    /// `**` appears before the last segment of the path.
    DoubleStarInside,
    /// An entry of the rule's method list is not an upper-case method name.
    BadMethod(String),
    /// The path is not followed by an access.
    NoAccess,
    /// The access word is none of `public`, `signed-in`, `roles-any`, `roles-all`.
    BadAccess(String),
    /// `roles-any` or `roles-all` without a list of roles.
    NoRoles,
    /// A role name that is not one (see [`Role::parse`]).
    BadRole(String),
    /// A word after the access that is not an option.
    Unexpected(String),
    /// `cors-preflight` on a `public` rule, which already lets preflights through.
    PublicPreflight,
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLong => write!(f, "the policy is longer than {MAX_POLICY_LEN} bytes"),
            Self::NoPath => f.write_str("a rule needs a path starting with /"),
            Self::Path(err) => write!(f, "the path is not a checked path: {err}"),
            Self::DoubleStarInside => f.write_str("`**` may only be the last segment"),
            Self::BadMethod(method) => {
                write!(
                    f,
                    "`{method}` is not a method (upper-case letters, comma-separated)"
                )
            }
            Self::NoAccess => f.write_str(
                "the path needs an access: public, signed-in, roles-any ROLES or roles-all ROLES",
            ),
            Self::BadAccess(word) => write!(
                f,
                "`{word}` is not an access: public, signed-in, roles-any or roles-all"
            ),
            Self::NoRoles => f.write_str("roles-any and roles-all need a comma-separated list"),
            Self::BadRole(role) => write!(
                f,
                "`{role}` is not a role name (letters, digits, - _ . :, at most {MAX_ROLE_LEN})"
            ),
            Self::Unexpected(word) => {
                write!(f, "unexpected `{word}` (the only option is cors-preflight)")
            }
            Self::PublicPreflight => f.write_str(
                "cors-preflight on a public rule: preflights of public paths already pass",
            ),
        }
    }
}

/// A rule that does not parse, by number (from 1, in `ACCESS_POLICY`) and text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleError {
    /// The rule's position, from 1; 0 when the error is about the whole policy.
    pub number: usize,
    /// The rule as written; empty when the error is about the whole policy.
    pub text: String,
    /// What is wrong with it.
    pub error: PolicyError,
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.number {
            0 => write!(f, "{}", self.error),
            n => write!(f, "rule {n} (`{}`): {}", self.text, self.error),
        }
    }
}

impl std::error::Error for RuleError {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::names::role::testing::roles as held;

    fn policy(text: &str) -> AccessPolicy {
        AccessPolicy::parse(Vec::new(), text).unwrap()
    }

    fn path(text: &str) -> RequestPath {
        RequestPath::parse(text).unwrap()
    }

    /// A short name for what `method path` needs: public, preflight, signed-in or the roles.
    fn needs(policy: &AccessPolicy, method: &str, at: &str) -> String {
        describe(policy.requirement(method, None, &path(at)))
    }

    /// Asserts what a `GET` of each path needs.
    fn assert_all(policy: &AccessPolicy, cases: &[(&str, &str)]) {
        for (at, expected) in cases {
            assert_eq!(needs(policy, "GET", at), *expected, "{at}");
        }
    }

    fn describe(requirement: Requirement<'_>) -> String {
        match requirement {
            Requirement::Public => "public".into(),
            Requirement::Preflight => "preflight".into(),
            Requirement::Session(Access::SignedIn) => "signed-in".into(),
            Requirement::Session(Access::Roles { need, roles }) => {
                format!("{need:?}:{}", roles.join(","))
            }
            Requirement::Session(Access::Public) => "unreachable".into(),
            Requirement::SpellingDependent => "ambiguous".into(),
        }
    }

    const EXAMPLE: &str = "
        # documentation is public, for reading
        GET /docs/* public
        /admin/ roles-all admin,ops
        /api/reports/** roles-any finance,admin ; POST,PUT /api/** roles-any writer cors-preflight
        /api/** signed-in cors-preflight
        /files/*.pdf public
        /health public
    ";

    #[test]
    fn the_first_matching_rule_decides_and_the_default_is_signed_in() {
        let p = policy(EXAMPLE);
        let cases = [
            ("GET", "/docs/intro", "public"),
            ("HEAD", "/docs/intro", "public"),
            ("POST", "/docs/intro", "signed-in"),
            ("GET", "/docs/a/b", "signed-in"),
            ("GET", "/docs/", "public"),
            ("GET", "/docs", "signed-in"),
            ("GET", "/admin/", "All:admin,ops"),
            ("GET", "/admin/users/7", "All:admin,ops"),
            ("GET", "/api/reports/2026/q1", "Any:finance,admin"),
            ("POST", "/api/reports/x", "Any:finance,admin"),
            ("POST", "/api/orders", "Any:writer"),
            ("GET", "/api/orders", "signed-in"),
            ("GET", "/files/a.pdf", "public"),
            ("GET", "/files/a.pdf.exe", "signed-in"),
            ("GET", "/files/x/a.pdf", "signed-in"),
            ("GET", "/health", "public"),
            ("GET", "/health/", "signed-in"),
            ("GET", "/", "signed-in"),
            ("GET", "/elsewhere", "signed-in"),
        ];
        for (method, at, expected) in cases {
            assert_eq!(needs(&p, method, at), expected, "{method} {at}");
        }
    }

    #[test]
    fn rules_that_ask_for_something_ignore_case_and_a_trailing_slash() {
        let p = policy(
            "/admin roles-all admin; /Reports/ roles-any finance; /api/* signed-in; /** public",
        );
        for at in ["/admin", "/admin/", "/ADMIN", "/Admin/"] {
            assert_eq!(needs(&p, "GET", at), "All:admin", "{at}");
        }
        for at in ["/reports", "/reports/", "/REPORTS/q1", "/Reports/a/b"] {
            assert_eq!(needs(&p, "GET", at), "Any:finance", "{at}");
        }
        for at in ["/api/x", "/API/x/", "/Api/X"] {
            assert_eq!(needs(&p, "GET", at), "signed-in", "{at}");
        }
        // A public rule matches only what it names; everything else here falls to `/**`.
        assert_eq!(needs(&p, "GET", "/adminx"), "public");
        let strict = policy("/Public/ public; /robots.txt public");
        assert_all(
            &strict,
            &[
                ("/Public/a", "public"),
                ("/public/a", "signed-in"),
                ("/Public", "signed-in"),
                ("/robots.txt/", "signed-in"),
                ("/ROBOTS.TXT", "signed-in"),
            ],
        );
    }

    #[test]
    fn a_path_public_only_in_one_spelling_is_refused() {
        let mixed = policy("GET /Docs/ public; /docs/** roles-any staff; GET /about public");
        let requirement = |at: &str| mixed.requirement("GET", None, &path(at));
        // An origin that ignores case serves /docs/x for /Docs/x: the spelling must not open it.
        assert_eq!(requirement("/Docs/x"), Requirement::SpellingDependent);
        assert!(matches!(
            requirement("/docs/x"),
            Requirement::Session(Access::Roles { .. })
        ));
        assert_eq!(requirement("/about"), Requirement::Public);
        // Public in another letter case where no explicit rule holds the lower case: public.
        let plain = policy("GET /Docs/ public");
        assert_eq!(
            plain.requirement("GET", None, &path("/Docs/x")),
            Requirement::Public
        );
    }

    #[test]
    fn folded_spellings_are_held_to_the_rule_of_the_path_they_name() {
        let p = policy(
            "/backoffice/ roles-any admin; /docs/kb roles-any staff; /docs/ public; /pub/ public",
        );
        assert_all(
            &p,
            &[
                // Dotless i (upper case `I`), trailing dots and spaces.
                ("/backoff%C4%B1ce/ledger", "Any:admin"),
                ("/BACKOFF%C4%B1CE/LEDGER", "Any:admin"),
                ("/backoffice./ledger", "Any:admin"),
                ("/backoffice%20/ledger", "Any:admin"),
                ("/backoffice.", "Any:admin"),
                ("/docs/kb.", "Any:staff"),
                ("/docs/KB.%20/", "Any:staff"),
                // Paths no stricter rule concerns keep theirs, non-ASCII ones included.
                ("/docs/intro", "public"),
                ("/docs/caf%C3%A9", "public"),
                ("/pub/caf%C3%A9", "public"),
                ("/files/caf%C3%A9", "signed-in"),
                ("/files/CAF%C3%89.", "signed-in"),
            ],
        );
    }

    #[test]
    fn a_path_public_only_until_folded_is_refused() {
        let p = policy("/%C3%89T%C3%89/ public; /%C3%A9t%C3%A9/ roles-any staff");
        let requirement = |at: &str| p.requirement("GET", None, &path(at));
        // An origin that lower-cases the Unicode way serves /été/x for /ÉTÉ/x.
        assert_eq!(
            requirement("/%C3%89T%C3%89/x"),
            Requirement::SpellingDependent
        );
        assert!(matches!(
            requirement("/%C3%A9t%C3%A9/x"),
            Requirement::Session(Access::Roles { .. })
        ));
        let plain = policy("/%C3%89T%C3%89/ public");
        assert_eq!(
            plain.requirement("GET", None, &path("/%C3%89T%C3%89/x")),
            Requirement::Public
        );
    }

    #[test]
    fn rules_written_in_other_spellings_hold_the_paths_they_name() {
        let p = policy("/CAF\u{C9}/ roles-any x; /ADM\u{131}N roles-any y; /a./ roles-any z");
        assert_all(
            &p,
            &[
                ("/caf%C3%A9/menu", "Any:x"),
                ("/CAF%C3%89/menu", "Any:x"),
                ("/admin", "Any:y"),
                ("/ADMIN/", "Any:y"),
                ("/a/x", "Any:z"),
                ("/A./x", "Any:z"),
            ],
        );
    }

    #[test]
    fn patterns_match_whole_segments() {
        let p =
            policy("/a/*/c roles-any x; /b* roles-any y; /c/** roles-any z; /d*e/f roles-any w");
        assert_all(
            &p,
            &[
                ("/a/b/c", "Any:x"),
                ("/a/b/c/", "Any:x"),
                ("/a/b/b/c", "signed-in"),
                ("/bee", "Any:y"),
                ("/b", "Any:y"),
                ("/bee/x", "signed-in"),
                ("/c", "Any:z"),
                ("/c/1/2/3", "Any:z"),
                ("/de/f", "Any:w"),
                ("/dxxe/f", "Any:w"),
                ("/dxxex/f", "signed-in"),
                // Matched on the decoded path: an escaped letter is that letter.
                ("/%63/1", "Any:z"),
            ],
        );
    }

    #[test]
    fn wildcards_match_runs_within_a_segment() {
        for (pattern, text, expected) in [
            ("*", "", true),
            ("*", "abc", true),
            ("a*", "a", true),
            ("a*c", "abbc", true),
            ("a*c", "ab", false),
            ("*.pdf", "x.pdf", true),
            ("*.pdf", ".pd", false),
            ("a*b*c", "a_b_c", true),
            ("a*b*c", "acb", false),
            ("ab*ba", "aba", false),
            ("x", "x", true),
            ("x", "xy", false),
        ] {
            assert_eq!(wildcard(pattern, text), expected, "{pattern} {text}");
        }
    }

    #[test]
    fn roles_any_and_all() {
        let any = Access::Roles {
            need: RoleNeed::Any,
            roles: held(&["finance", "admin"]),
        };
        let all = Access::Roles {
            need: RoleNeed::All,
            roles: held(&["admin", "ops"]),
        };
        assert!(any.missing(&held(&["admin"])).is_empty());
        assert_eq!(any.missing(&held(&["ops"])), held(&["finance", "admin"]));
        assert!(all.missing(&held(&["ops", "admin", "x"])).is_empty());
        assert_eq!(all.missing(&held(&["admin"])), held(&["ops"]));
        assert_eq!(all.missing(&[]), held(&["admin", "ops"]));
        // Role names are compared exactly.
        assert_eq!(all.missing(&held(&["Admin", "ops"])), held(&["admin"]));
        assert!(Access::SignedIn.missing(&[]).is_empty());
    }

    #[test]
    fn a_preflight_is_judged_by_the_request_it_announces() {
        let p = policy(
            "POST /api/** roles-any writer cors-preflight; /api/** signed-in; /open/ public",
        );
        let at = path("/api/orders");
        let preflight = |announced| describe(p.requirement("OPTIONS", Some(announced), &at));
        assert_eq!(preflight("POST"), "preflight");
        assert_eq!(preflight("DELETE"), "signed-in");
        // An OPTIONS without the preflight headers is an ordinary request.
        assert_eq!(describe(p.requirement("OPTIONS", None, &at)), "signed-in");
        // A real POST keeps the rule's requirement.
        assert_eq!(describe(p.requirement("POST", None, &at)), "Any:writer");
        // Paths no `cors-preflight` rule governs keep theirs.
        assert_eq!(
            describe(p.requirement("OPTIONS", Some("GET"), &path("/other"))),
            "signed-in"
        );
        assert_eq!(
            describe(p.requirement("OPTIONS", Some("GET"), &path("/open/x"))),
            "public"
        );
    }

    #[test]
    fn public_path_entries_come_first() {
        let public = vec![
            Rule::public(&path("/pub/")),
            Rule::public(&path("/favicon.ico")),
        ];
        let p = AccessPolicy::parse(public, "/** roles-all admin").unwrap();
        assert_eq!(needs(&p, "GET", "/pub/x"), "public");
        assert_eq!(needs(&p, "POST", "/favicon.ico"), "public");
        assert_eq!(needs(&p, "GET", "/pub"), "All:admin");
        assert_eq!(needs(&p, "GET", "/PUB/x"), "All:admin");
    }

    #[test]
    fn errors_name_the_rule_and_the_problem() {
        let cases: &[(&str, usize, &str)] = &[
            ("/a public\n/b", 2, "needs an access"),
            ("/a public; get /b public", 2, "`get` is not a method"),
            ("GET,,POST /b public", 1, "`` is not a method"),
            ("GET", 1, "needs a path"),
            ("/a roles-any", 1, "need a comma-separated list"),
            ("/a roles-all admin,", 1, "`` is not a role name"),
            ("/a roles-all ad\"min", 1, "is not a role name"),
            ("/a private", 1, "`private` is not an access"),
            ("/a signed-in cors", 1, "unexpected `cors`"),
            ("/a signed-in cors-preflight x", 1, "unexpected `x`"),
            ("/a public cors-preflight", 1, "preflights of public paths"),
            ("/a/**/b public", 1, "`**` may only be the last"),
            ("/a/../b public", 1, "not a checked path"),
            ("/a%2fb public", 1, "not a checked path"),
            ("/a//b public", 1, "not a checked path"),
            ("a/b public", 1, "must start with /"),
            ("/bac\u{212A}office/ roles-any admin", 1, "normalise"),
            ("/a/.../b public", 1, "dots and spaces"),
        ];
        for (text, number, needle) in cases {
            let err = AccessPolicy::parse(Vec::new(), text).unwrap_err();
            assert_eq!(err.number, *number, "{text}: {err}");
            let shown = err.to_string();
            assert!(shown.contains(needle), "{text}: {shown}");
            assert!(shown.starts_with(&format!("rule {number} (`")), "{shown}");
        }
        let long = "/a public\n".repeat(MAX_POLICY_LEN / 10 + 1);
        assert_eq!(
            AccessPolicy::parse(Vec::new(), &long).unwrap_err().error,
            PolicyError::TooLong
        );
    }

    #[test]
    fn the_readme_example_parses_and_means_what_it_says() {
        let readme = include_str!("../../../README.md");
        let start = readme.find("ACCESS_POLICY = '''\n").unwrap() + "ACCESS_POLICY = '''\n".len();
        let text = &readme[start..start + readme[start..].find("'''").unwrap()];
        let p = policy(text);
        assert_eq!(needs(&p, "GET", "/docs/intro"), "public");
        assert_eq!(needs(&p, "GET", "/admin/users"), "All:admin,ops");
        assert_eq!(needs(&p, "GET", "/api/reports/q1"), "Any:finance,admin");
        let preflight = p.requirement("OPTIONS", Some("PUT"), &path("/api/x"));
        assert_eq!(describe(preflight), "preflight");
    }

    #[test]
    fn an_empty_policy_needs_a_session_everywhere() {
        let p = policy("  \n # nothing\n ; ");
        assert_eq!(needs(&p, "GET", "/"), "signed-in");
        assert_eq!(needs(&p, "GET", "/x/y"), "signed-in");
    }
}
