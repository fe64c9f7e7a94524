//! The values the edge writes into its pages, and the one way they are written.
//!
//! The sign-in, account and error pages are HTML files in `www/` with `{{name}}` placeholders and
//! `{{#flag}}…{{/flag}}` sections. Filling them here, rather than in the browser, is what makes
//! them work without JavaScript: the reason a person was sent to sign in, a failed attempt's
//! error, the username they typed and where they were going are all in the page as served. Every
//! value goes through [`escape`]; only the small provider-logout page is written here, from escaped parts, so a hostile username or
//! application name can only ever be text. The pages keep the strict CSP (no inline script or
//! style), which a template never needs.

//! One file a page: [`signin`], [`account`], [`error`]; [`template`] is the one way they are
//! filled.

pub mod account;
pub mod error;
pub mod signin;
pub mod template;

pub use account::{
    address_prefix, describe_place, logout_everywhere_confirmed, render_account,
    EVERYWHERE_CONFIRMED, MAX_PLACE_LEN,
};
pub use error::{forbidden_message, render_error, ErrorView};
pub use signin::{
    login_notice, render_login, render_provider_logout, LoginView, Notice, NoticeKind,
    MAX_USERNAME_ECHO,
};
pub use template::{escape, render, PageError};

#[cfg(test)]
mod tests;
