//! The gate with key-bound tokens (DPoP): the token and its proof on the request path, the bound
//! refresh token at the token endpoint. Native only: proofs are checked in Rust here, by
//! WebCrypto in the worker (tests/e2e/dpop.test.mjs).

use super::tests::{api_request, config, cookie_header, forwarded, refused, World, NOW};
use super::*;
use crate::auth::audit::EventKind;
use crate::auth::env::UnixTime;
use crate::auth::http::request::tests::facts;
use crate::auth::http::request::RequestFacts;
use crate::auth::names::role::testing::role;
use crate::auth::names::username::testing::named;
use crate::auth::session::refresh::PresentedRefresh;
use crate::auth::token::dpop::ProofError;
use crate::auth::token::validate_assertion;
use crate::testing::dpop_client::DpopClient;

/// A client's session bound to `client`'s key, opened at `now` as a token request with that
/// key's proof opens it: its access and refresh tokens.
fn bound_session(world: &World, client: &DpopClient, now: UnixTime) -> (String, String) {
    let gate = world.gate(now);
    let arriving = facts("POST", "/auth/token", &[]);
    let opening = signin::Opening {
        delivery: signin::Delivery::Body,
        signed_in_from: None,
        provider_session: None,
        key: Some(client.thumbprint()),
    };
    let opened = pollster::block_on(gate.open_session(
        &arriving,
        named("alice"),
        vec![role("staff")],
        opening,
    ))
    .unwrap();
    world.audit.clear();
    let refresh = opened.tokens.refresh.unwrap();
    (
        opened.tokens.access.expose().clone(),
        refresh.expose().clone(),
    )
}

/// A request to `/app/data` with `authorization` and, if any, a `DPoP` header.
fn dpop_request(authorization: &str, proof: Option<&str>) -> RequestFacts {
    let mut headers = vec![("Authorization", authorization)];
    if let Some(proof) = proof {
        headers.push(("DPoP", proof));
    }
    facts("GET", "/app/data?x=1", &headers)
}

const DATA_URL: &str = "https://edge.example/app/data";

#[test]
fn a_key_bound_token_passes_only_with_a_proof_by_its_key() {
    let world = World::new(config());
    let client = DpopClient::new(7);
    let (access, _) = bound_session(&world, &client, NOW);
    let proof = client.proof("p1", "GET", DATA_URL, NOW, Some(&access));
    let scheme = format!("DPoP {access}");
    let (identity, _) = forwarded(world.protect(NOW, &dpop_request(&scheme, Some(&proof))));
    assert_eq!(identity.key, Some(client.thumbprint()));
    let assertion = validate_assertion(
        &world.config.assertion_keys,
        identity.assertion.expose(),
        &world.config.assertion_audience,
        0,
        NOW,
    )
    .unwrap();
    assert_eq!(assertion.key(), Some(&client.thumbprint()));

    let proof_refused = |verdict: Verdict| match refused(verdict).0 {
        Refusal::Proof { error, .. } => error,
        other => panic!("expected a proof refusal, got {other:?}"),
    };
    // The same proof again, a proof by another key, none at all.
    let replayed = world.protect(NOW, &dpop_request(&scheme, Some(&proof)));
    assert_eq!(proof_refused(replayed), ProofError::Replayed);
    let stranger = DpopClient::new(8).proof("p2", "GET", DATA_URL, NOW, Some(&access));
    let other_key = world.protect(NOW, &dpop_request(&scheme, Some(&stranger)));
    assert_eq!(proof_refused(other_key), ProofError::OtherKey);
    let missing = world.protect(NOW, &dpop_request(&scheme, None));
    assert_eq!(proof_refused(missing), ProofError::Missing);

    // The token itself, as Bearer or in a cookie, with or without a proof beside it.
    let fresh = client.proof("p3", "GET", DATA_URL, NOW, Some(&access));
    let as_bearer = dpop_request(&format!("Bearer {access}"), Some(&fresh));
    assert_eq!(
        refused(world.protect(NOW, &as_bearer)).0,
        Refusal::TokenBinding { bound: true }
    );
    let cookie = cookie_header(&world.config, Some(&access), None);
    assert_eq!(
        refused(world.protect(NOW, &api_request(&cookie))).0,
        Refusal::TokenBinding { bound: true }
    );
    assert_eq!(world.audit.kinds(), vec![EventKind::DpopRefused; 5]);
}

#[test]
fn an_unbound_token_is_refused_with_the_dpop_scheme() {
    let world = World::new(config());
    let browser = world.login(NOW);
    let client = DpopClient::new(7);
    let proof = client.proof("p1", "GET", DATA_URL, NOW, Some(&browser.access));
    let req = dpop_request(&format!("DPoP {}", browser.access), Some(&proof));
    assert_eq!(
        refused(world.protect(NOW, &req)).0,
        Refusal::TokenBinding { bound: false }
    );
}

#[test]
fn a_bound_refresh_token_without_its_key_ends_the_session() {
    let world = World::new(config());
    let client = DpopClient::new(7);
    let (access, refresh) = bound_session(&world, &client, NOW);
    let presented = PresentedRefresh::parse(&refresh).unwrap();
    let token_request = facts("POST", "/auth/token", &[]);
    let thief = pollster::block_on(
        world
            .gate(NOW + 1)
            .refresh(&presented, &token_request, None),
    );
    assert!(matches!(
        thief,
        Restored::Refused(Refusal::Proof {
            error: ProofError::Missing,
            ..
        })
    ));
    assert!(world.audit.kinds().contains(&EventKind::DpopRefused));
    // Ended: the token it was minted with no longer passes, even with the right proof.
    let proof = client.proof("p1", "GET", DATA_URL, NOW + 2, Some(&access));
    let req = dpop_request(&format!("DPoP {access}"), Some(&proof));
    assert_eq!(
        refused(world.protect(NOW + 2, &req)).0,
        Refusal::SessionEnded
    );
}

#[test]
fn a_bound_refresh_token_with_its_key_stays_bound() {
    let world = World::new(config());
    let client = DpopClient::new(7);
    let (_, refresh) = bound_session(&world, &client, NOW);
    let presented = PresentedRefresh::parse(&refresh).unwrap();
    let url = "https://edge.example/auth/token";
    let proof = client.proof("r1", "POST", url, NOW + 1, None);
    let token_request = facts("POST", "/auth/token", &[("DPoP", proof.as_str())]);
    let gate = world.gate(NOW + 1);
    let verified = pollster::block_on(gate.token_request_proof(&token_request))
        .unwrap()
        .unwrap();
    let Restored::Session { record, tokens } =
        pollster::block_on(gate.refresh(&presented, &token_request, Some(&verified)))
    else {
        panic!("the key's own refresh goes on");
    };
    assert_eq!(record.key, Some(client.thumbprint()));
    let access = crate::auth::token::validate_access(
        &world.config.session_keys,
        tokens.access.expose(),
        &world.config.access_audience,
        0,
        NOW + 1,
    )
    .unwrap();
    assert_eq!(access.key(), Some(&client.thumbprint()));
}
