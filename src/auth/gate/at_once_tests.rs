//! The decision at once and the decision run to the end agree, case by case: each case is set up
//! twice in identical worlds, decided once by [`poll_once`] (then, if it waits, driven on as the
//! worker drives it) and once by an executor, and the two answers compared. The test store and
//! signer wait a turn on every call, as the runtime's do, so a case that needs them cannot finish
//! at once.

use core::pin::pin;
use core::task::Poll;

use super::tests::{
    api_request, bearer_request, config, config_with, cookie_header, navigation, policy_world,
    World,
};
use super::*;
use crate::auth::env::UnixTime;
use crate::auth::http::request::tests::facts;
use crate::auth::http::request::RequestFacts;
use crate::auth::names::username::testing::named;
use crate::auth::session::store::SessionStore;
use crate::auth::token::validate_assertion;

const NOW: UnixTime = 1_800_000_000;

/// One case: the deployment, what happened before (in the same world), the request and its time,
/// and whether the isolate holds enough to decide it at once.
struct Case {
    name: &'static str,
    world: fn() -> World,
    /// Run in the world before the request; returns the request and its time.
    before: fn(&World) -> (RequestFacts, UnixTime),
    at_once: bool,
}

/// A request with the access cookie of a fresh login, made once before (the isolate has seen it).
fn seen(world: &World) -> (RequestFacts, UnixTime) {
    let browser = world.login(NOW);
    let req = api_request(&cookie_header(&world.config, Some(&browser.access), None));
    pollster::block_on(world.gate(NOW).protect(&req));
    (req, NOW + 1)
}

/// As [`seen`], then ended behind this isolate's back (another location); asked `after` seconds
/// past the first request.
fn revoked_elsewhere(world: &World, after: UnixTime) -> (RequestFacts, UnixTime) {
    let (req, _) = seen(world);
    let held = pollster::block_on(world.store.sessions_of(&named("alice"), NOW)).unwrap();
    for record in held {
        pollster::block_on(world.store.revoke(&record.id, &named("alice"), NOW)).unwrap();
    }
    (req, NOW + after)
}

fn cases() -> Vec<Case> {
    let default = || World::new(config());
    vec![
        Case {
            name: "forward, the token seen before",
            world: default,
            before: seen,
            at_once: true,
        },
        Case {
            name: "forward, a token this isolate never saw (revocation read)",
            world: default,
            before: |world| {
                let browser = world.login(NOW);
                let cookie = cookie_header(&world.config, Some(&browser.access), None);
                (api_request(&cookie), NOW + 1)
            },
            at_once: false,
        },
        Case {
            name: "forward, the assertion past half its life (a new signature)",
            world: default,
            before: |world| {
                let (req, _) = seen(world);
                (req, NOW + world.config.assertion_ttl / 2 + 1)
            },
            at_once: false,
        },
        Case {
            name: "public path",
            world: default,
            before: |_| (facts("GET", "/public/logo.svg", &[]), NOW),
            at_once: true,
        },
        Case {
            name: "no credentials, an API call (401)",
            world: default,
            before: |_| (api_request("theme=dark"), NOW),
            at_once: true,
        },
        Case {
            name: "no credentials, a navigation (to the login page)",
            world: default,
            before: |_| (navigation("theme=dark"), NOW),
            at_once: true,
        },
        Case {
            name: "expired access token, no refresh cookie",
            world: default,
            before: |world| {
                let (req, _) = seen(world);
                (req, NOW + world.config.policy.access_ttl + 120)
            },
            at_once: true,
        },
        Case {
            name: "expired access token with its refresh cookie (refresh in place)",
            world: default,
            before: |world| {
                let browser = world.login(NOW);
                let cookie =
                    cookie_header(&world.config, Some(&browser.access), Some(&browser.refresh));
                (
                    api_request(&cookie),
                    NOW + world.config.policy.access_ttl + 120,
                )
            },
            at_once: false,
        },
        Case {
            name: "revoked elsewhere, within the revocation cache's TTL",
            world: default,
            before: |world| revoked_elsewhere(world, world.config.caches.revocation_ttl - 1),
            at_once: true,
        },
        Case {
            name: "revoked elsewhere, past the revocation cache's TTL",
            world: default,
            before: |world| revoked_elsewhere(world, world.config.caches.revocation_ttl),
            at_once: false,
        },
        Case {
            name: "policy refusal (403), the session seen before",
            world: || policy_world("roles-any admin"),
            before: seen,
            at_once: true,
        },
        Case {
            name: "tossed cookies (the access cookie twice)",
            world: default,
            before: |world| {
                let browser = world.login(NOW);
                let names = world.config.cookies.names();
                let cookie = format!("{0}={1}; {0}={1}", names.access, browser.access);
                (api_request(&cookie), NOW + 1)
            },
            at_once: true,
        },
        Case {
            name: "bearer token, seen before",
            world: default,
            before: |world| {
                let (req, now) = seen(world);
                let token = req.cookies.access().unwrap_or_default().to_owned();
                let bearer = bearer_request(&format!("Bearer {token}"), "", "*/*");
                (bearer, now)
            },
            at_once: true,
        },
        Case {
            name: "bearer token, malformed",
            world: default,
            before: |_| (bearer_request("Bearer a b", "", "*/*"), NOW),
            at_once: true,
        },
        Case {
            name: "caches off: every request reads storage",
            world: || {
                World::new(config_with(&[
                    ("REVOCATION_CACHE_TTL", "0"),
                    ("ISOLATE_CACHE_ENTRIES", "0"),
                ]))
            },
            before: seen,
            at_once: false,
        },
    ]
}

#[test]
fn the_decision_at_once_and_the_decision_run_to_the_end_agree() {
    for case in cases() {
        let (quick, thorough) = ((case.world)(), (case.world)());
        let (quick_req, now) = (case.before)(&quick);
        let (thorough_req, thorough_now) = (case.before)(&thorough);
        assert_eq!(now, thorough_now, "{}", case.name);
        let expected = pollster::block_on(thorough.gate(now).protect(&thorough_req));

        let gate = quick.gate(now);
        let mut work = pin!(gate.protect(&quick_req));
        let verdict = match poll_once(work.as_mut()) {
            Poll::Ready(verdict) => {
                assert!(case.at_once, "{}: decided at once", case.name);
                verdict
            }
            Poll::Pending => {
                assert!(!case.at_once, "{}: waited on I/O", case.name);
                // What the worker does with it: the same future, driven on.
                pollster::block_on(work)
            }
        };
        // The assertions of two worlds differ in their identifiers: compared as the verdicts
        // show them (assertion redacted), and each one checked on its own.
        assert_eq!(
            format!("{verdict:?}"),
            format!("{expected:?}"),
            "{}",
            case.name
        );
        for (world, verdict) in [(&quick, &verdict), (&thorough, &expected)] {
            if let Verdict::Forward {
                identity: Some(identity),
                ..
            } = verdict
            {
                let claims = validate_assertion(
                    &world.config.assertion_keys,
                    identity.assertion.expose(),
                    &world.config.assertion_audience,
                    0,
                    now,
                );
                assert!(claims.is_ok(), "{}: {claims:?}", case.name);
            }
        }
    }
}

#[test]
fn a_case_decided_at_once_reads_no_storage() {
    let world = World::new(config());
    let (req, now) = seen(&world);
    let reads = world.store.revocation_reads.get();
    let gate = world.gate(now);
    let decided = poll_once(pin!(gate.protect(&req)));
    assert!(matches!(
        decided,
        Poll::Ready(Verdict::Forward {
            identity: Some(_),
            ..
        })
    ));
    assert_eq!(world.store.revocation_reads.get(), reads);
}
