//! The values the edge writes into its pages, and the one way they are written.
//!
//! The sign-in, account and error pages are HTML files in `www/` with `{{name}}` placeholders and
//! `{{#flag}}…{{/flag}}` sections. Filling them here, rather than in the browser, is what makes
//! them work without JavaScript: the reason a person was sent to sign in, a failed attempt's
//! error, the username they typed and where they were going are all in the page as served. Every
//! value goes through [`escape`]; nothing here emits markup of its own, so a hostile username or
//! application name can only ever be text. The pages keep the strict CSP (no inline script or
//! style), which a template never needs.

use core::fmt;

use crate::auth::gate::Denied;
use crate::auth::http::form;
use crate::auth::http::redirect::Reason;
use crate::auth::policy::RoleNeed;
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};

/// Longest username echoed back into the sign-in form (the form's own `maxlength`).
pub const MAX_USERNAME_ECHO: usize = 64;

/// `text` as HTML text or a quoted attribute value: `& < > " '` become character references.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Why a page template could not be filled: the template and its values disagree.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PageError {
    /// `{{name}}` in the template has no value.
    UnknownPlaceholder(String),
    /// `{{#name}}` opens a section that never closes, or closes one never opened.
    UnbalancedSection(String),
}

impl fmt::Display for PageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownPlaceholder(name) => write!(f, "the page has no value for {{{{{name}}}}}"),
            Self::UnbalancedSection(name) => {
                write!(
                    f,
                    "the page's section {{{{#{name}}}}} is not closed properly"
                )
            }
        }
    }
}

impl std::error::Error for PageError {}

/// Fills `template`: `{{name}}` with the escaped value of `name` in `values`, and keeps the body
/// of `{{#flag}}…{{/flag}}` only when `flag` is true in `flags` (an absent flag is false).
pub fn render(
    template: &str,
    values: &[(&str, &str)],
    flags: &[(&str, bool)],
) -> Result<String, PageError> {
    let mut out = String::with_capacity(template.len() + 256);
    // The open sections, and whether each one is shown.
    let mut open: Vec<(&str, bool)> = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        let shown = open.iter().all(|(_, shown)| *shown);
        if shown {
            out.push_str(&rest[..start]);
        }
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            return Err(PageError::UnknownPlaceholder(after.to_owned()));
        };
        let tag = after[..end].trim();
        rest = &after[end + 2..];
        if let Some(name) = tag.strip_prefix('#') {
            let on = flags.iter().any(|(flag, on)| *flag == name && *on);
            open.push((name, on));
        } else if let Some(name) = tag.strip_prefix('/') {
            match open.pop() {
                Some((opened, _)) if opened == name => {}
                _ => return Err(PageError::UnbalancedSection(name.to_owned())),
            }
        } else {
            let value = values
                .iter()
                .find(|(key, _)| *key == tag)
                .map(|(_, value)| *value)
                .ok_or_else(|| PageError::UnknownPlaceholder(tag.to_owned()))?;
            if shown {
                out.push_str(&escape(value));
            }
        }
    }
    if let Some((name, _)) = open.pop() {
        return Err(PageError::UnbalancedSection(name.to_owned()));
    }
    out.push_str(rest);
    Ok(out)
}

/// What the sign-in page says about `reason`.
fn reason_text(reason: Reason) -> &'static str {
    match reason {
        Reason::LoggedOut => "You have logged out. Sign in again to continue.",
        Reason::LoggedOutEverywhere => {
            "You have logged out on every device, this one included. Sign in again to continue."
        }
        Reason::SessionEnded => {
            "Your session was ended from another device. Sign in again to continue."
        }
        Reason::SessionExpired => "Your session expired. Sign in again to continue.",
        Reason::ReuseDetected => {
            "Your session was ended for your safety: its sign-in was used from two places at \
                 once. Sign in again, and change your password if this was not you."
        }
        Reason::DeviceMismatch => {
            "Your session was ended for your safety: it was used from another browser or \
                 device than the one that signed in. Sign in again, and change your password if \
                 this was not you."
        }
    }
}

/// How a notice on a page looks: a problem to fix, or information.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeKind {
    /// Something went wrong that the person can fix (shown as an alert).
    Error,
    /// Information, such as why the session ended.
    Info,
}

/// A message at the top of a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// Whether the notice reports a problem or informs.
    pub kind: NoticeKind,
    /// The message, fixed text chosen by the edge (never echoed from the request).
    pub text: &'static str,
}

/// The message of a failed sign-in (`?error=<code>`); an unknown code gets a general one.
fn error_text(code: &str) -> &'static str {
    match code {
        "invalid_credentials" => "The username or password is incorrect.",
        "rate_limited" => "Too many failed attempts. Wait a few minutes, then try again.",
        "bad_request" => "The sign-in form could not be read. Please try again.",
        "forbidden" | "cross_site" => {
            "This sign-in request was refused. Reload the page and try again."
        }
        "provider_error" => {
            "The identity provider did not complete the sign-in. Please try again, or ask your \
             administrator if it keeps happening."
        }
        "provider_refused" => {
            "Your account at the identity provider is not allowed to sign in to this application."
        }
        "provider_expired" => {
            "The sign-in took too long or was started elsewhere. Please try again."
        }
        _ => "Signing in did not work. Please try again.",
    }
}

/// The notice of the sign-in page: an error of the last attempt wins over the reason.
pub fn login_notice(error: Option<&str>, reason: Option<&str>) -> Option<Notice> {
    if let Some(code) = error.filter(|code| !code.is_empty()) {
        return Some(Notice {
            kind: NoticeKind::Error,
            text: error_text(code),
        });
    }
    reason.and_then(Reason::from_code).map(|reason| Notice {
        kind: NoticeKind::Info,
        text: reason_text(reason),
    })
}

/// What the sign-in page shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginView<'a> {
    /// The application's name in the heading (`APP_NAME`).
    pub app_name: &'a str,
    /// The message above the form; `None` shows none.
    pub notice: Option<Notice>,
    /// The username of the failed attempt, put back into the field.
    pub username: &'a str,
    /// Where to go after signing in (already a safe same-origin path).
    pub next: &'a str,
    /// Who is signed in already, when the browser holds a live session.
    pub signed_in_as: Option<&'a str>,
    /// The OpenID providers offered, as `(id, label)`: one button each.
    pub providers: &'a [(&'a str, &'a str)],
    /// Whether the username and password form is offered (`PASSWORD_LOGIN`).
    pub password_form: bool,
}

/// Where the provider buttons go in `login.html`.
const PROVIDERS_MARKER: &str = "<!--edgegate:providers-->";

/// One link per provider to its start route, carrying `next`; every part escaped.
fn provider_buttons(providers: &[(&str, &str)], next: &str) -> String {
    if providers.is_empty() {
        return String::new();
    }
    let next = utf8_percent_encode(next, NON_ALPHANUMERIC).to_string();
    let mut html = String::from("      <div class=\"providers\">\n");
    for (id, label) in providers {
        html.push_str(&format!(
            "        <a class=\"button secondary block\" id=\"oidc-{id}\" \
             href=\"/auth/oidc/{id}/start?next={next}\">Sign in with {label}</a>\n",
            id = escape(id),
            next = escape(&next),
            label = escape(label),
        ));
    }
    html.push_str("      </div>\n");
    html
}

/// The sign-in page (`www/login.html`) for `view`.
pub fn render_login(template: &str, view: &LoginView<'_>) -> Result<String, PageError> {
    let (notice_class, notice_text) = match &view.notice {
        Some(Notice {
            kind: NoticeKind::Error,
            text,
        }) => ("alert", *text),
        Some(Notice {
            kind: NoticeKind::Info,
            text,
        }) => ("alert info", *text),
        None => ("alert", ""),
    };
    let username: String = view.username.chars().take(MAX_USERNAME_ECHO).collect();
    let invalid = matches!(
        view.notice,
        Some(Notice {
            kind: NoticeKind::Error,
            ..
        })
    );
    render(
        template,
        &[
            ("app_name", view.app_name),
            ("notice_class", notice_class),
            ("notice", notice_text),
            ("username", &username),
            ("next", view.next),
            ("user", view.signed_in_as.unwrap_or_default()),
            ("invalid", if invalid { "true" } else { "false" }),
        ],
        &[
            ("signed_in", view.signed_in_as.is_some()),
            ("form", view.signed_in_as.is_none()),
            ("password", view.password_form),
        ],
    )
    .map(|page| {
        page.replace(
            PROVIDERS_MARKER,
            &provider_buttons(view.providers, view.next),
        )
    })
}

/// The page that sends a signed-out browser on to its provider's logout (RP-initiated logout).
///
/// A redirect cannot do it: the logout form's page allows forms to reach this origin only
/// (`form-action 'self'`), and browsers hold redirects after a form post to that too. A refresh
/// to `location` (with a link, should it not happen) is a new navigation, which that rule does not
/// govern.
pub fn render_provider_logout(app_name: &str, provider: &str, location: &str) -> String {
    let (app_name, provider, location) = (escape(app_name), escape(provider), escape(location));
    format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n  <meta charset=\"utf-8\">\n  \
         <meta http-equiv=\"refresh\" content=\"0;url={location}\">\n  \
         <title>Signing out · {app_name}</title>\n  \
         <link rel=\"stylesheet\" href=\"/auth/assets/style.css\">\n</head>\n<body>\n  \
         <main>\n    <div class=\"card\">\n      <h1>Signing out</h1>\n      \
         <p class=\"lede\">You are signed out of {app_name}. Finishing at {provider}…</p>\n      \
         <a class=\"button\" id=\"continue\" href=\"{location}\">Continue to {provider}</a>\n    \
         </div>\n  </main>\n</body>\n</html>\n"
    )
}

/// The account page (`www/account.html`): its script fills in the rest.
pub fn render_account(template: &str, app_name: &str) -> Result<String, PageError> {
    render(template, &[("app_name", app_name)], &[])
}

/// What an HTML error page says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorView<'a> {
    /// The application's name in the heading (`APP_NAME`).
    pub app_name: &'a str,
    /// The HTTP status of the answer, shown on the page.
    pub status: u16,
    /// The page's heading.
    pub title: &'a str,
    /// What happened and what to do, in a sentence.
    pub message: &'a str,
}

/// An error page (`www/error.html`) for a browser navigation.
pub fn render_error(template: &str, view: &ErrorView<'_>) -> Result<String, PageError> {
    let status = view.status.to_string();
    render(
        template,
        &[
            ("app_name", view.app_name),
            ("status", &status),
            ("title", view.title),
            ("message", view.message),
        ],
        &[],
    )
}

/// What the 403 page tells a signed-in user about a path their roles do not open.
pub fn forbidden_message(denied: &Denied) -> String {
    let roles = denied.missing.join(", ");
    match denied.need {
        RoleNeed::Any => format!(
            "You are signed in as {}. This page needs one of the roles {roles}, and your \
             account has none of them.",
            denied.user
        ),
        RoleNeed::All => format!(
            "You are signed in as {}. This page needs roles your account does not have: {roles}.",
            denied.user
        ),
    }
}

/// The part of a client address shown to its owner: the /24 of IPv4 (`203.0.113.x`), the /48 of
/// IPv6 (`2001:db8:7::/48`). Enough to tell a home from an office, not enough to pinpoint.
/// `None` for anything that is not an IP address.
pub fn address_prefix(address: &str) -> Option<String> {
    match address.trim().parse::<std::net::IpAddr>().ok()? {
        std::net::IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            Some(format!("{a}.{b}.{c}.x"))
        }
        std::net::IpAddr::V6(v6) => {
            let s = v6.segments();
            Some(format!("{:x}:{:x}:{:x}::/48", s[0], s[1], s[2]))
        }
    }
}

/// The account page's "Log out everywhere" checkbox: its name and its value when ticked.
pub const EVERYWHERE_CONFIRMED: (&str, &str) = ("everywhere", "confirmed");

/// Whether a logout form body asks, confirmed, to end every session of the user: it carries the
/// checked confirmation box. Anything else is an ordinary logout of this browser.
pub fn logout_everywhere_confirmed(form_body: &[u8]) -> bool {
    let (name, value) = EVERYWHERE_CONFIRMED;
    form::field(form_body, name).is_some_and(|given| given == value)
}

/// Longest place description stored.
pub const MAX_PLACE_LEN: usize = 80;

/// An approximate place from what the platform says about a request (`request.cf`): "Lisbon,
/// PT", "PT", or the data centre ("near LIS") when nothing else is known. Values are the
/// platform's; control characters are dropped and the result is bounded all the same.
pub fn describe_place(
    city: Option<&str>,
    country: Option<&str>,
    colo: Option<&str>,
) -> Option<String> {
    let clean = |value: Option<&str>| {
        value
            .map(|v| v.chars().filter(|c| !c.is_control()).collect::<String>())
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let place = match (clean(city), clean(country), clean(colo)) {
        (Some(city), Some(country), _) => format!("{city}, {country}"),
        (Some(only), None, _) | (None, Some(only), _) => only,
        (None, None, Some(colo)) => format!("near {colo}"),
        (None, None, None) => return None,
    };
    Some(place.chars().take(MAX_PLACE_LEN).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::names::username::Username;

    const HOSTILE: &str = "<script>alert('x')</script>\"&amp;";

    #[test]
    fn escaping_leaves_no_markup() {
        assert_eq!(
            escape(HOSTILE),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&quot;&amp;amp;"
        );
        assert_eq!(escape("plain text"), "plain text");
        assert_eq!(escape(""), "");
        assert_eq!(escape("café ✓"), "café ✓");
    }

    #[test]
    fn placeholders_are_escaped_and_sections_kept_or_dropped() {
        let page = render(
            r#"<p title="{{v}}">{{ v }}</p>{{#on}}<b>on</b>{{/on}}{{#off}}<i>{{v}}</i>{{/off}}"#,
            &[("v", HOSTILE)],
            &[("on", true), ("off", false)],
        )
        .unwrap();
        assert_eq!(
            page,
            format!(r#"<p title="{e}">{e}</p><b>on</b>"#, e = escape(HOSTILE))
        );
        assert!(!page.contains("<script>"));
    }

    #[test]
    fn nested_sections_show_only_when_every_enclosing_one_does() {
        let template = "{{#a}}A{{#b}}B{{/b}}{{/a}}.";
        assert_eq!(
            render(template, &[], &[("a", true), ("b", true)]).unwrap(),
            "AB."
        );
        assert_eq!(render(template, &[], &[("a", true)]).unwrap(), "A.");
        assert_eq!(render(template, &[], &[("b", true)]).unwrap(), ".");
    }

    #[test]
    fn a_template_that_does_not_match_its_values_is_refused() {
        assert_eq!(
            render("{{missing}}", &[], &[]),
            Err(PageError::UnknownPlaceholder("missing".into()))
        );
        assert!(matches!(
            render("{{#a}}x", &[], &[]),
            Err(PageError::UnbalancedSection(_))
        ));
        assert!(matches!(
            render("{{#a}}x{{/b}}", &[], &[]),
            Err(PageError::UnbalancedSection(_))
        ));
        assert!(matches!(
            render("x{{/a}}", &[], &[]),
            Err(PageError::UnbalancedSection(_))
        ));
        assert!(render("{{oops", &[], &[]).is_err());
        assert!(PageError::UnknownPlaceholder("x".into())
            .to_string()
            .contains("{{x}}"));
    }

    #[test]
    fn values_cannot_inject_placeholders_or_sections() {
        // A value is written once, escaped, and never read as template text again.
        let page = render("{{v}}{{w}}", &[("v", "{{w}}{{#x}}"), ("w", "ok")], &[]).unwrap();
        assert_eq!(page, "{{w}}{{#x}}ok");
    }

    const LOGIN: &str = "<title>{{app_name}}</title>{{#form}}<div class=\"{{notice_class}}\">{{notice}}</div>\
<input name=username value=\"{{username}}\" aria-invalid=\"{{invalid}}\"><input name=next value=\"{{next}}\">{{/form}}\
{{#signed_in}}<p>Signed in as {{user}}</p><a href=\"{{next}}\">Continue</a>{{/signed_in}}";

    #[test]
    fn the_sign_in_page_keeps_the_attempt_and_says_why() {
        let view = LoginView {
            app_name: "Acme & Co",
            notice: login_notice(Some("invalid_credentials"), Some("logged_out")),
            username: "bob\"><script>alert(1)</script>",
            next: "/reports?a=1&b=2",
            signed_in_as: None,
            providers: &[],
            password_form: true,
        };
        let page = render_login(LOGIN, &view).unwrap();
        assert!(page.contains("<title>Acme &amp; Co</title>"), "{page}");
        assert!(page.contains("The username or password is incorrect."));
        assert!(page.contains("value=\"bob&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;\""));
        assert!(page.contains("value=\"/reports?a=1&amp;b=2\""));
        assert!(page.contains("aria-invalid=\"true\""));
        assert!(!page.contains("<script>"));
        assert!(!page.contains("Signed in as"));
    }

    #[test]
    fn the_sign_in_page_for_a_signed_in_browser_offers_to_continue() {
        let view = LoginView {
            app_name: "edgegate",
            notice: None,
            username: "",
            next: "/app",
            signed_in_as: Some("<b>alice</b>"),
            providers: &[],
            password_form: true,
        };
        let page = render_login(LOGIN, &view).unwrap();
        assert!(
            page.contains("Signed in as &lt;b&gt;alice&lt;/b&gt;"),
            "{page}"
        );
        assert!(page.contains("href=\"/app\""));
        assert!(!page.contains("name=username"));
    }

    #[test]
    fn an_overlong_username_is_cut_to_the_field_length() {
        let long = "u".repeat(1000);
        let view = LoginView {
            app_name: "edgegate",
            notice: None,
            username: &long,
            next: "/",
            signed_in_as: None,
            providers: &[],
            password_form: true,
        };
        let page = render_login(LOGIN, &view).unwrap();
        assert!(page.contains(&format!("value=\"{}\"", "u".repeat(MAX_USERNAME_ECHO))));
        assert!(!page.contains(&"u".repeat(MAX_USERNAME_ECHO + 1)));
    }

    #[test]
    fn providers_get_a_button_each_and_the_password_form_can_go() {
        const REAL_LOGIN: &str = include_str!("../../../www/login.html");
        let providers = [("corp", "Corp <SSO>"), ("google", "Google")];
        let view = LoginView {
            app_name: "edgegate",
            notice: login_notice(Some("provider_refused"), None),
            username: "",
            next: "/reports?y=1",
            signed_in_as: None,
            providers: &providers,
            password_form: false,
        };
        let page = render_login(REAL_LOGIN, &view).unwrap();
        assert!(page.contains(
            "id=\"oidc-corp\" href=\"/auth/oidc/corp/start?next=%2Freports%3Fy%3D1\">Sign in with Corp &lt;SSO&gt;</a>"
        ), "{page}");
        assert!(page.contains("id=\"oidc-google\""));
        assert!(!page.contains("id=\"login-form\""));
        assert!(page.contains("not allowed to sign in"));
        let with_form = render_login(
            REAL_LOGIN,
            &LoginView {
                password_form: true,
                ..view
            },
        )
        .unwrap();
        assert!(with_form.contains("id=\"login-form\"") && with_form.contains("oidc-corp"));
    }

    #[test]
    fn the_provider_logout_page_escapes_the_location() {
        let page = render_provider_logout(
            "App",
            "Corp <SSO>",
            "https://id.example.com/logout?a=1&b=\"2",
        );
        assert!(
            page.contains("content=\"0;url=https://id.example.com/logout?a=1&amp;b=&quot;2\""),
            "{page}"
        );
        assert!(page.contains("Finishing at Corp &lt;SSO&gt;"));
    }

    #[test]
    fn every_reason_has_words_and_unknown_ones_say_nothing() {
        for reason in Reason::ALL {
            assert_eq!(Reason::from_code(reason.code()), Some(reason));
            let notice = login_notice(None, Some(reason.code())).unwrap();
            assert_eq!(notice.kind, NoticeKind::Info);
            assert!(notice.text.ends_with('.'), "{reason:?}");
        }
        assert_eq!(login_notice(None, Some("<script>")), None);
        assert_eq!(login_notice(None, None), None);
        assert_eq!(login_notice(Some(""), None), None);
        let unknown = login_notice(Some("<script>"), None).unwrap();
        assert_eq!(unknown.text, "Signing in did not work. Please try again.");
        assert_eq!(unknown.kind, NoticeKind::Error);
    }

    #[test]
    fn the_forbidden_message_names_the_user_and_the_missing_roles() {
        let denied = |need, missing: &[&str]| Denied {
            user: Username::federated("corp", "<b>eve</b>").unwrap(),
            need,
            missing: crate::auth::names::role::testing::roles(missing),
        };
        let any = forbidden_message(&denied(RoleNeed::Any, &["finance", "admin"]));
        assert!(any.contains("signed in as corp:<b>eve</b>"), "{any}");
        assert!(any.contains("one of the roles finance, admin"), "{any}");
        let all = forbidden_message(&denied(RoleNeed::All, &["ops"]));
        assert!(all.ends_with("does not have: ops."), "{all}");
        let view = ErrorView {
            app_name: "edgegate",
            status: 403,
            title: "No access",
            message: &all,
        };
        let page = render_error("{{message}}", &view).unwrap();
        assert!(page.contains("&lt;b&gt;eve&lt;/b&gt;"), "{page}");
    }

    #[test]
    fn account_and_error_pages_escape_their_values() {
        assert_eq!(
            render_account("<h1>{{app_name}}</h1>", "<i>x</i>").unwrap(),
            "<h1>&lt;i&gt;x&lt;/i&gt;</h1>"
        );
        let view = ErrorView {
            app_name: "edgegate",
            status: 404,
            title: "Page not found",
            message: "No page at <this> address.",
        };
        assert_eq!(
            render_error("{{status}} {{title}}: {{message}}", &view).unwrap(),
            "404 Page not found: No page at &lt;this&gt; address."
        );
    }

    #[test]
    fn only_the_checked_confirmation_logs_out_everywhere() {
        assert!(logout_everywhere_confirmed(b"everywhere=confirmed"));
        assert!(logout_everywhere_confirmed(b"a=1&everywhere=confirmed"));
        assert!(!logout_everywhere_confirmed(b""));
        assert!(!logout_everywhere_confirmed(b"everywhere="));
        assert!(!logout_everywhere_confirmed(b"everywhere=on"));
        assert!(!logout_everywhere_confirmed(b"xeverywhere=confirmed"));
    }

    #[test]
    fn addresses_are_shown_as_prefixes() {
        assert_eq!(
            address_prefix("203.0.113.77").as_deref(),
            Some("203.0.113.x")
        );
        assert_eq!(
            address_prefix("2001:db8:7:1::42").as_deref(),
            Some("2001:db8:7::/48")
        );
        assert_eq!(address_prefix(" 10.1.2.3 ").as_deref(), Some("10.1.2.x"));
        assert_eq!(address_prefix("unknown"), None);
        assert_eq!(address_prefix("<script>"), None);
        assert_eq!(address_prefix(""), None);
    }

    #[test]
    fn places_are_short_and_printable() {
        let place = |city, country, colo| describe_place(city, country, colo);
        assert_eq!(
            place(Some("Lisbon"), Some("PT"), Some("LIS")).as_deref(),
            Some("Lisbon, PT")
        );
        assert_eq!(place(None, Some("PT"), Some("LIS")).as_deref(), Some("PT"));
        assert_eq!(place(None, None, Some("LIS")).as_deref(), Some("near LIS"));
        assert_eq!(place(Some(" "), Some(""), None), None);
        assert_eq!(place(Some("A\u{0}\nB"), None, None).as_deref(), Some("AB"));
        let long = "x".repeat(500);
        assert_eq!(
            place(Some(&long), None, None).map(|p| p.chars().count()),
            Some(MAX_PLACE_LEN)
        );
    }
}
