//! The sign-in page: the notice it shows (why the person is there, or what went wrong), the
//! values of the form, the provider buttons; and the page that sends a signed-out browser on to
//! its provider's logout.

use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};

use super::template::{escape, render, PageError};
use crate::auth::http::redirect::Reason;

/// Longest username echoed back into the sign-in form (the form's own `maxlength`).
pub const MAX_USERNAME_ECHO: usize = 64;

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
    /// Whether signing in with a passkey is offered (`PASSKEYS`): a button, and the username
    /// field's autofill (conditional mediation).
    pub passkeys: bool,
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
            (
                "username_autocomplete",
                if view.passkeys {
                    "username webauthn"
                } else {
                    "username"
                },
            ),
        ],
        &[
            ("signed_in", view.signed_in_as.is_some()),
            ("form", view.signed_in_as.is_none()),
            ("password", view.password_form),
            ("passkeys", view.passkeys),
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
