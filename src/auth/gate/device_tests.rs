//! The gate with device-bound sessions: the offer, the registration, the renewal with its
//! challenge, and the refresh rule, natively (responses signed in Rust here; by WebCrypto in
//! tests/e2e/dbsc.test.mjs).

use super::device::DeviceAnswer;
use super::tests::{config, cookie_header, World, CHROME_LINUX, NOW};
use super::*;
use crate::auth::audit::EventKind;
use crate::auth::http::request::tests::facts;
use crate::auth::http::request::RequestFacts;
use crate::auth::names::username::testing::named;
use crate::auth::session::refresh::PresentedRefresh;
use crate::testing::device_browser::DeviceBrowser;

/// The challenge in a `Secure-Session-Registration` or `Secure-Session-Challenge` value.
fn challenge_in(header: &str) -> String {
    let start = header.find("challenge=\"").map(|at| at + 11).unwrap_or(1);
    header[start..].split('"').next().unwrap().to_owned()
}

/// A request to `path` with the session's cookies (and the bound cookie, if any) and the
/// protocol's headers.
fn device_request(
    world: &World,
    path: &str,
    session: (&str, &str),
    bound: Option<&str>,
    headers: &[(&str, &str)],
) -> RequestFacts {
    let mut cookie = cookie_header(&world.config, Some(session.0), Some(session.1));
    if let Some(bound) = bound {
        cookie.push_str(&format!(
            "; {}={bound}",
            world.config.cookies.names().device
        ));
    }
    // The browser of the sign-in, as the device binding (SESSION_BINDING) expects.
    let mut all = vec![("Cookie", cookie.as_str()), ("User-Agent", CHROME_LINUX)];
    all.extend_from_slice(headers);
    facts("POST", path, &all)
}

/// Registers `browser` for the session of `world.login`: its bound cookie's value.
fn registered(world: &World, browser: &DeviceBrowser) -> (super::tests::Browser, String) {
    registered_as(world, "alice", browser)
}

/// Registers `browser` for a new session of `user`: the session and its bound cookie's value.
fn registered_as(
    world: &World,
    user: &str,
    browser: &DeviceBrowser,
) -> (super::tests::Browser, String) {
    let session = world.login_as(&named(user), NOW, CHROME_LINUX);
    let gate = world.gate(NOW);
    let record = pollster::block_on(world.store.session(&session.session, NOW))
        .unwrap()
        .unwrap();
    let earlier = format!("{}=earlier", world.config.cookies.names().device);
    let signing_in = facts("POST", "/auth/login", &[("Cookie", earlier.as_str())]);
    let (clearing, offer) = gate.device_offer(&signing_in, &record).unwrap();
    assert!(
        clearing.is_some_and(|cookie| cookie.clears()),
        "an earlier session's bound cookie is cleared"
    );
    let response = browser.registration(&challenge_in(&offer.unwrap()));
    let req = device_request(
        world,
        "/auth/device/register",
        (&session.access, &session.refresh),
        None,
        &[("Secure-Session-Response", &response)],
    );
    let DeviceAnswer::Bound { record, cookie } =
        pollster::block_on(gate.register_device(&req)).unwrap()
    else {
        panic!("registered");
    };
    assert!(record.device_key.is_some());
    let value = cookie.header_value().split(';').next().unwrap();
    let value = value.split_once('=').unwrap().1.to_owned();
    world.audit.clear();
    (session, value)
}

#[test]
fn a_browser_registers_once_and_renews_its_bound_cookie_with_a_signed_challenge() {
    let world = World::new(config());
    let browser = DeviceBrowser::new(5);
    let (session, _) = registered(&world, &browser);
    let gate = world.gate(NOW + 1);
    let again = browser.registration("AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    let req = device_request(
        &world,
        "/auth/device/register",
        (&session.access, &session.refresh),
        None,
        &[("Secure-Session-Response", &again)],
    );
    assert!(matches!(
        pollster::block_on(gate.register_device(&req)).unwrap(),
        DeviceAnswer::Refused { status: 400, .. }
    ));

    let id = session.session.as_str();
    let ask = device_request(
        &world,
        "/auth/device/refresh",
        (&session.access, &session.refresh),
        None,
        &[("Sec-Secure-Session-Id", id)],
    );
    let DeviceAnswer::Challenge { challenge, .. } =
        pollster::block_on(gate.refresh_device(&ask)).unwrap()
    else {
        panic!("a challenge first");
    };
    let signed = browser.refresh(&challenge);
    let answer = device_request(
        &world,
        "/auth/device/refresh",
        (&session.access, &session.refresh),
        None,
        &[
            ("Sec-Secure-Session-Id", id),
            ("Secure-Session-Response", &signed),
        ],
    );
    assert!(matches!(
        pollster::block_on(gate.refresh_device(&answer)).unwrap(),
        DeviceAnswer::Bound { .. }
    ));
    // The same signed response again is a replay: a fresh challenge, as for a late browser;
    // another key's response is not the session's.
    assert!(matches!(
        pollster::block_on(gate.refresh_device(&answer)).unwrap(),
        DeviceAnswer::Challenge { .. }
    ));
    let DeviceAnswer::Challenge { challenge, .. } =
        pollster::block_on(gate.refresh_device(&ask)).unwrap()
    else {
        panic!("a challenge");
    };
    let thief = DeviceBrowser::new(6).refresh(&challenge);
    let stolen = device_request(
        &world,
        "/auth/device/refresh",
        (&session.access, &session.refresh),
        None,
        &[
            ("Sec-Secure-Session-Id", id),
            ("Secure-Session-Response", &thief),
        ],
    );
    assert!(matches!(
        pollster::block_on(gate.refresh_device(&stolen)).unwrap(),
        DeviceAnswer::Refused { status: 401, .. }
    ));
    let kinds = world.audit.kinds();
    assert_eq!(
        kinds
            .iter()
            .filter(|k| **k == EventKind::DeviceRefreshed)
            .count(),
        1
    );
    assert_eq!(
        kinds
            .iter()
            .filter(|k| **k == EventKind::DeviceRefused)
            .count(),
        3
    );
}

#[test]
fn a_device_bound_refresh_token_renews_nothing_without_its_live_bound_cookie() {
    let world = World::new(config());
    let (session, bound) = registered(&world, &DeviceBrowser::new(5));
    let presented = PresentedRefresh::parse(&session.refresh).unwrap();
    let later = NOW + 30;
    let gate = world.gate(later);
    // The cookie jar without the bound cookie: refused, and nothing rotated.
    let copied = device_request(
        &world,
        "/auth/refresh",
        (&session.access, &session.refresh),
        None,
        &[],
    );
    assert!(matches!(
        pollster::block_on(gate.refresh(&presented, &copied, None)),
        Restored::Refused(Refusal::DeviceUnbound)
    ));
    assert!(world.audit.kinds().contains(&EventKind::DeviceRefused));
    // With it, the same refresh token still works: the refusal spent nothing.
    let own = device_request(
        &world,
        "/auth/refresh",
        (&session.access, &session.refresh),
        Some(&bound),
        &[],
    );
    assert!(matches!(
        pollster::block_on(gate.refresh(&presented, &own, None)),
        Restored::Session { .. }
    ));
}

#[test]
fn a_refresh_token_with_another_sessions_bound_cookie_ends_its_session() {
    let world = World::new(config());
    let (victim, _) = registered(&world, &DeviceBrowser::new(5));
    let (_, thiefs_bound) = registered_as(&world, "mallory", &DeviceBrowser::new(6));
    // A session id and a made-up secret with the thief's own bound cookie end nothing: only a
    // holder of one of the session's refresh tokens reaches the rule.
    let id = victim.session.as_str();
    let user = victim.refresh.rsplit('.').next().unwrap();
    let made_up = format!("{id}.{}.{user}", "A".repeat(43));
    let guessed = PresentedRefresh::parse(&made_up).unwrap();
    let forged = device_request(
        &world,
        "/auth/refresh",
        (&victim.access, &made_up),
        Some(&thiefs_bound),
        &[],
    );
    let refused = pollster::block_on(world.gate(NOW + 30).refresh(&guessed, &forged, None));
    assert!(!matches!(refused, Restored::Session { .. }));
    assert!(
        pollster::block_on(world.store.session(&victim.session, NOW + 30))
            .unwrap()
            .is_some(),
        "still standing"
    );
    let presented = PresentedRefresh::parse(&victim.refresh).unwrap();
    let gate = world.gate(NOW + 30);
    let mixed = device_request(
        &world,
        "/auth/refresh",
        (&victim.access, &victim.refresh),
        Some(&thiefs_bound),
        &[],
    );
    assert!(matches!(
        pollster::block_on(gate.refresh(&presented, &mixed, None)),
        Restored::Refused(Refusal::DeviceMismatch)
    ));
    let standing = pollster::block_on(world.store.session(&victim.session, NOW + 31)).unwrap();
    assert!(standing.is_none(), "the victim's session has been ended");
}

#[test]
fn under_require_an_unregistered_browser_session_ends_after_the_grace() {
    let world = World::new(super::tests::config_with(&[
        ("DEVICE_BOUND_SESSIONS", "require"),
        ("DEVICE_BOUND_GRACE", "60"),
    ]));
    let session = world.login(NOW);
    let presented = PresentedRefresh::parse(&session.refresh).unwrap();
    let req = device_request(
        &world,
        "/auth/refresh",
        (&session.access, &session.refresh),
        None,
        &[],
    );
    let within = pollster::block_on(world.gate(NOW + 30).refresh(&presented, &req, None));
    let Restored::Session { tokens, .. } = within else {
        panic!("within the grace it goes on");
    };
    let next = tokens.refresh.unwrap();
    let presented = PresentedRefresh::parse(next.expose()).unwrap();
    let req = device_request(
        &world,
        "/auth/refresh",
        (&session.access, next.expose()),
        None,
        &[],
    );
    assert!(matches!(
        pollster::block_on(world.gate(NOW + 61).refresh(&presented, &req, None)),
        Restored::Refused(Refusal::SessionExpired)
    ));
}

#[test]
fn another_session_of_the_same_user_in_the_same_browser_is_refused_not_ended() {
    let world = World::new(config());
    let (first, _) = registered(&world, &DeviceBrowser::new(5));
    let (_, second_bound) = registered(&world, &DeviceBrowser::new(6));
    let presented = PresentedRefresh::parse(&first.refresh).unwrap();
    let req = device_request(
        &world,
        "/auth/refresh",
        (&first.access, &first.refresh),
        Some(&second_bound),
        &[],
    );
    assert!(matches!(
        pollster::block_on(world.gate(NOW + 30).refresh(&presented, &req, None)),
        Restored::Refused(Refusal::DeviceUnbound)
    ));
    assert!(
        pollster::block_on(world.store.session(&first.session, NOW + 31))
            .unwrap()
            .is_some()
    );
}
