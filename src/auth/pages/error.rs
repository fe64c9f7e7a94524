//! The HTML error page of a browser navigation, and what the 403 page says about missing roles.

use super::template::{render, PageError};
use crate::auth::gate::Denied;
use crate::auth::policy::RoleNeed;

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
