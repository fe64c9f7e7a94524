//! The provider sign-in and back-channel logout procedures, natively: a fake network in front of
//! the test provider's keys, the in-memory store.

use std::cell::Cell;

use serde_json::{json, Value};

use super::*;
use crate::auth::env::testing::SeededEntropy;
use crate::auth::gate::signin::Delivery;
use crate::auth::gate::tests::{config_with, World, CHROME_LINUX};
use crate::auth::http::request::tests::facts;
use crate::auth::oidc::id_token::test_support::{id_claims, jwks, keys, sign, CLIENT, ISSUER, NOW};
use crate::auth::oidc::keys::LocalSignatureCheck;
use crate::auth::oidc::logout::BACKCHANNEL_EVENT;

fn world() -> World {
    World::new(config_with(&[
        ("OIDC_PROVIDERS", "corp"),
        ("OIDC_CORP_ISSUER", ISSUER),
        ("OIDC_CORP_CLIENT_ID", CLIENT),
        ("OIDC_CORP_CLIENT_SECRET", "secret"),
        ("OIDC_CORP_ROLES_CLAIM", "groups"),
    ]))
}

fn discovery() -> Rc<Discovery> {
    Rc::new(Discovery {
        issuer: ISSUER.into(),
        authorization_endpoint: format!("{ISSUER}/authorize"),
        token_endpoint: format!("{ISSUER}/token"),
        jwks_uri: format!("{ISSUER}/jwks"),
        end_session_endpoint: None,
        authorization_response_iss_parameter_supported: false,
    })
}

/// The provider's network side: its metadata, a token endpoint answering `id_token`, and a key
/// set that may start out without the token's key.
struct FakeLink {
    id_token: String,
    stale_keys: bool,
    /// The refetch fails (the key set endpoint is down).
    refetch_fails: bool,
    /// The discovery document advertises `iss` in authorization responses (RFC 9207).
    iss_advertised: bool,
    refetches: Cell<u32>,
    exchanges: Cell<u32>,
}

impl FakeLink {
    fn answering(id_token: String) -> Self {
        Self {
            id_token,
            stale_keys: false,
            refetch_fails: false,
            iss_advertised: false,
            refetches: Cell::new(0),
            exchanges: Cell::new(0),
        }
    }
}

impl ProviderLink for FakeLink {
    async fn metadata(&self) -> Result<(Rc<Discovery>, Rc<ProviderKeys>), String> {
        let keys = match self.stale_keys {
            true => {
                let mut set = jwks();
                set["keys"]
                    .as_array_mut()
                    .unwrap()
                    .retain(|key| key["kid"] != "rsa-1");
                ProviderKeys::from_jwks(set.to_string().as_bytes()).unwrap()
            }
            false => keys(),
        };
        let mut discovery = discovery();
        Rc::make_mut(&mut discovery).authorization_response_iss_parameter_supported =
            self.iss_advertised;
        Ok((discovery, Rc::new(keys)))
    }

    async fn refetch_keys(
        &self,
        _discovery: &Rc<Discovery>,
    ) -> Result<Option<Rc<ProviderKeys>>, String> {
        self.refetches.set(self.refetches.get() + 1);
        if self.refetch_fails {
            return Err("provider keys: answered 500".into());
        }
        Ok(Some(Rc::new(keys())))
    }

    async fn exchange(
        &self,
        _discovery: &Discovery,
        _code: &str,
        _verifier: &str,
    ) -> Result<String, String> {
        self.exchanges.set(self.exchanges.get() + 1);
        Ok(self.id_token.clone())
    }
}

/// A sign-in begun at the edge: the flow and its sealed cookie.
fn begun(world: &World) -> (Flow, String) {
    let flow = Flow::begin("corp", Some("/reports"), &SeededEntropy::default()).unwrap();
    let sealed = flow.seal(&world.config.session_keys, NOW).unwrap();
    (flow, sealed)
}

fn id_token_for(flow: &Flow, changes: Value) -> String {
    let mut claims = id_claims();
    claims["nonce"] = json!(flow.nonce);
    for (name, value) in changes.as_object().unwrap() {
        claims[name] = value.clone();
    }
    sign(&json!({"alg": "RS256", "kid": "rsa-1"}), &claims)
}

fn finish(
    world: &World,
    callback: ProviderCallback<'_>,
    link: &FakeLink,
) -> Result<(Opened, String), ProviderRefusal> {
    let provider = &world.config.oidc.providers[0];
    let req = facts(
        "GET",
        "/auth/oidc/corp/callback",
        &[("user-agent", CHROME_LINUX)],
    );
    let opening = Opening {
        delivery: Delivery::Cookies,
        signed_in_from: None,
    };
    let ports = (link, &LocalSignatureCheck);
    pollster::block_on(
        world
            .gate(NOW)
            .finish_provider_sign_in(&req, provider, callback, ports, opening),
    )
    .unwrap()
}

#[test]
fn a_good_callback_opens_a_session_for_the_provider_user_and_goes_to_next() {
    let world = world();
    let (flow, cookie) = begun(&world);
    let link = FakeLink::answering(id_token_for(&flow, json!({})));
    let callback = ProviderCallback {
        flow_cookie: Some(&cookie),
        state: Some(&flow.state),
        code: Some("c-1"),
        error: None,
        iss: None,
    };
    let (opened, next) = finish(&world, callback, &link).unwrap();
    assert_eq!(opened.record.user.as_str(), "corp:u-123");
    assert_eq!(opened.record.roles, ["admins", "staff"]);
    assert_eq!(next, "/reports");
    assert_eq!(link.exchanges.get(), 1);
}

#[test]
fn a_callback_without_its_flow_or_with_another_state_is_expired() {
    let world = world();
    let (flow, cookie) = begun(&world);
    let link = FakeLink::answering(id_token_for(&flow, json!({})));
    for callback in [
        ProviderCallback {
            state: Some(&flow.state),
            code: Some("c-1"),
            ..ProviderCallback::default()
        },
        ProviderCallback {
            flow_cookie: Some(&cookie),
            state: Some("another"),
            code: Some("c-1"),
            error: None,
            iss: None,
        },
    ] {
        let refusal = finish(&world, callback, &link).unwrap_err();
        assert_eq!(refusal.code, "provider_expired");
    }
    assert_eq!(
        link.exchanges.get(),
        0,
        "no code is exchanged without its flow"
    );
    assert!(world
        .audit
        .kinds()
        .iter()
        .all(|kind| *kind == EventKind::LoginFailed));
}

#[test]
fn the_providers_error_a_missing_code_and_a_bad_token_are_provider_errors() {
    let world = world();
    let (flow, cookie) = begun(&world);
    let good = ProviderCallback {
        flow_cookie: Some(&cookie),
        state: Some(&flow.state),
        code: Some("c-1"),
        error: None,
        iss: None,
    };
    let link = FakeLink::answering(id_token_for(&flow, json!({})));
    let denied = ProviderCallback {
        error: Some("access_denied"),
        ..good
    };
    assert_eq!(
        finish(&world, denied, &link).unwrap_err().code,
        "provider_error"
    );
    let no_code = ProviderCallback { code: None, ..good };
    assert_eq!(
        finish(&world, no_code, &link).unwrap_err().code,
        "provider_error"
    );
    assert_eq!(link.exchanges.get(), 0);
    let other_nonce = FakeLink::answering(id_token_for(&flow, json!({"nonce": "n-x"})));
    let refusal = finish(&world, good, &other_nonce).unwrap_err();
    assert_eq!(refusal.code, "provider_error");
    assert!(
        refusal.detail.contains("ID token refused"),
        "{}",
        refusal.detail
    );
}

#[test]
fn a_person_the_provider_config_does_not_admit_is_refused() {
    let world = World::new(config_with(&[
        ("OIDC_PROVIDERS", "corp"),
        ("OIDC_CORP_ISSUER", ISSUER),
        ("OIDC_CORP_CLIENT_ID", CLIENT),
        ("OIDC_CORP_CLIENT_SECRET", "secret"),
        ("OIDC_CORP_ALLOWED_DOMAINS", "corp.example"),
    ]));
    let (flow, cookie) = begun(&world);
    let link = FakeLink::answering(id_token_for(&flow, json!({})));
    let callback = ProviderCallback {
        flow_cookie: Some(&cookie),
        state: Some(&flow.state),
        code: Some("c-1"),
        error: None,
        iss: None,
    };
    assert_eq!(
        finish(&world, callback, &link).unwrap_err().code,
        "provider_refused"
    );
    let sessions = pollster::block_on(
        world
            .store
            .sessions_of(&Username::federated("corp", "u-123").unwrap(), NOW),
    )
    .unwrap();
    assert!(sessions.is_empty());
}

#[test]
fn an_unknown_key_is_refetched_once_and_then_trusted() {
    let world = world();
    let (flow, cookie) = begun(&world);
    let link = FakeLink {
        stale_keys: true,
        ..FakeLink::answering(id_token_for(&flow, json!({})))
    };
    let callback = ProviderCallback {
        flow_cookie: Some(&cookie),
        state: Some(&flow.state),
        code: Some("c-1"),
        error: None,
        iss: None,
    };
    assert!(finish(&world, callback, &link).is_ok());
    assert_eq!(link.refetches.get(), 1);
}

#[test]
fn the_authorization_responses_iss_must_be_the_issuer_and_present_when_advertised() {
    let world = world();
    let (flow, cookie) = begun(&world);
    let good = ProviderCallback {
        flow_cookie: Some(&cookie),
        state: Some(&flow.state),
        code: Some("c-1"),
        error: None,
        iss: Some(ISSUER),
    };
    let quiet = FakeLink::answering(id_token_for(&flow, json!({})));
    let loud = FakeLink {
        iss_advertised: true,
        ..FakeLink::answering(id_token_for(&flow, json!({})))
    };
    let mixed_up = ProviderCallback {
        iss: Some("https://evil.example"),
        ..good
    };
    let missing = ProviderCallback { iss: None, ..good };
    for (callback, link) in [(mixed_up, &quiet), (mixed_up, &loud), (missing, &loud)] {
        assert_eq!(
            finish(&world, callback, link).unwrap_err().code,
            "provider_error"
        );
    }
    assert_eq!(
        loud.exchanges.get() + quiet.exchanges.get(),
        0,
        "no code exchanged"
    );
    assert!(
        finish(&world, missing, &quiet).is_ok(),
        "not advertised: may be absent"
    );
    let (flow, cookie) = begun(&world);
    let good = ProviderCallback {
        flow_cookie: Some(&cookie),
        state: Some(&flow.state),
        ..good
    };
    let loud = FakeLink {
        iss_advertised: true,
        ..FakeLink::answering(id_token_for(&flow, json!({})))
    };
    assert!(finish(&world, good, &loud).is_ok());
}

#[test]
fn a_failed_key_refetch_is_a_provider_error_not_an_outage_of_the_edge() {
    let world = world();
    let (flow, cookie) = begun(&world);
    let link = FakeLink {
        stale_keys: true,
        refetch_fails: true,
        ..FakeLink::answering(id_token_for(&flow, json!({})))
    };
    let callback = ProviderCallback {
        flow_cookie: Some(&cookie),
        state: Some(&flow.state),
        code: Some("c-1"),
        error: None,
        iss: None,
    };
    let refusal = finish(&world, callback, &link).unwrap_err();
    assert_eq!(refusal.code, "provider_error");
    assert!(
        refusal.detail.contains("provider keys"),
        "{}",
        refusal.detail
    );
    assert_eq!(link.refetches.get(), 1);
}

#[test]
fn a_back_channel_logout_signed_with_a_rotated_key_refetches_the_key_set() {
    let world = world();
    let user = Username::federated("corp", "u-123").unwrap();
    let browser = world.login_as(&user, NOW - 30, CHROME_LINUX);
    let provider = &world.config.oidc.providers[0];
    let link = FakeLink {
        stale_keys: true,
        ..FakeLink::answering(String::new())
    };
    let marks = Marks::default();
    let ports = (&link, &LocalSignatureCheck, &marks);
    let ended = pollster::block_on(world.gate(NOW).provider_logout(
        provider,
        &logout_body(json!({})),
        ports,
    ))
    .unwrap();
    assert_eq!(ended, Ok(1));
    assert_eq!(link.refetches.get(), 1);
    assert!(pollster::block_on(world.store.is_revoked(&browser.session)).unwrap());
    // The key set cannot be fetched: the provider is told to try again later (503), not that
    // its token is bad.
    let failing = FakeLink {
        stale_keys: true,
        refetch_fails: true,
        ..FakeLink::answering(String::new())
    };
    let ports = (&failing, &LocalSignatureCheck, &marks);
    let body = logout_body(json!({"jti": "j-2"}));
    let outcome = pollster::block_on(world.gate(NOW).provider_logout(provider, &body, ports));
    assert!(matches!(outcome, Err(SignInError::ProviderUnavailable(_))));
}

/// Remembers marks in memory.
#[derive(Default)]
struct Marks(std::cell::RefCell<Vec<String>>);

impl LogoutReplay for Marks {
    async fn seen(&self, key: &str) -> Result<bool, StoreError> {
        Ok(self.0.borrow().iter().any(|mark| mark == key))
    }

    async fn remember(&self, key: &str, _ttl: u64) -> Result<(), StoreError> {
        self.0.borrow_mut().push(key.to_owned());
        Ok(())
    }
}

fn logout_body(changes: Value) -> Vec<u8> {
    let mut claims = json!({
        "iss": ISSUER, "aud": CLIENT, "sub": "u-123", "jti": "j-1",
        "iat": NOW - 2, "events": { BACKCHANNEL_EVENT: {} },
    });
    for (name, value) in changes.as_object().unwrap() {
        claims[name] = value.clone();
    }
    let token = sign(
        &json!({"alg": "RS256", "kid": "rsa-1", "typ": "logout+jwt"}),
        &claims,
    );
    format!("logout_token={token}").into_bytes()
}

#[test]
fn a_back_channel_logout_ends_the_users_sessions_once() {
    let world = world();
    let user = Username::federated("corp", "u-123").unwrap();
    let browser = world.login_as(&user, NOW - 30, CHROME_LINUX);
    let provider = &world.config.oidc.providers[0];
    let link = FakeLink::answering(String::new());
    let marks = Marks::default();
    let logout = |body: &[u8]| {
        let ports = (&link, &LocalSignatureCheck, &marks);
        pollster::block_on(world.gate(NOW).provider_logout(provider, body, ports)).unwrap()
    };
    assert_eq!(logout(&logout_body(json!({}))), Ok(1));
    assert!(pollster::block_on(world.store.is_revoked(&browser.session)).unwrap());
    assert_eq!(
        logout(&logout_body(json!({}))),
        Err(LogoutRefusal("logout token already used".into()))
    );
    assert_eq!(
        logout(b"other=1"),
        Err(LogoutRefusal("no logout_token".into()))
    );
    assert!(logout(&logout_body(json!({"iss": "https://evil.example"}))).is_err());
    assert!(logout(&vec![b'a'; MAX_LOGOUT_BODY + 1]).is_err());
}
