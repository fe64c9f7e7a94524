//! The account page: the page itself (its script fills in the sessions), what it shows of where
//! each session signed in from, and its "log out everywhere" confirmation.

use super::template::{render, PageError};
use crate::auth::http::form;

/// The account page (`www/account.html`): its script fills in the rest. `passkeys` keeps its
/// passkeys section (passkeys are on, and this page's origin can run their ceremonies).
pub fn render_account(template: &str, app_name: &str, passkeys: bool) -> Result<String, PageError> {
    render(
        template,
        &[("app_name", app_name)],
        &[("passkeys", passkeys)],
    )
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
