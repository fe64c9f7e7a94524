//! The provider sign-in and back-channel logout procedures, natively: a fake network in front of
//! the test provider's keys, the in-memory store.

use std::cell::Cell;

use serde_json::{json, Value};

use super::*;
use crate::auth::env::testing::SeededEntropy;
use crate::auth::gate::signin::Delivery;
use crate::auth::gate::tests::{config_with, World, CHROME_LINUX};
use crate::auth::http::request::tests::facts;
use crate::auth::names::session_id::SessionId;
use crate::auth::oidc::id_token::test_support::{id_claims, jwks, keys, sign, CLIENT, ISSUER, NOW};
use crate::auth::oidc::logout::BACKCHANNEL_EVENT;
use crate::auth::token::public_keys::LocalSignatureCheck;

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
    async fn metadata(&self) -> Result<(Rc<Discovery>, Rc<PublicKeys>), String> {
        let keys = match self.stale_keys {
            true => {
                let mut set = jwks();
                set["keys"]
                    .as_array_mut()
                    .unwrap()
                    .retain(|key| key["kid"] != "rsa-1");
                PublicKeys::from_jwks(set.to_string().as_bytes()).unwrap()
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
    ) -> Result<Option<Rc<PublicKeys>>, String> {
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

/// The provider's redirect back for the sign-in `flow` whose cookie is `cookie`: a code, no error.
fn answered<'a>(flow: &'a Flow, cookie: &'a str) -> ProviderCallback<'a> {
    ProviderCallback {
        flow_cookie: Some(cookie),
        state: Some(&flow.state),
        code: Some("c-1"),
        error: None,
        iss: None,
    }
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
    finish_with(world, callback, link, &Marks::default())
}

fn finish_with(
    world: &World,
    callback: ProviderCallback<'_>,
    link: &FakeLink,
    marks: &Marks,
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
        provider_session: None,
        key: None,
    };
    let ports = (link, &LocalSignatureCheck, marks);
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
    let callback = answered(&flow, &cookie);
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
    let good = answered(&flow, &cookie);
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
    let callback = answered(&flow, &cookie);
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
    let callback = answered(&flow, &cookie);
    assert!(finish(&world, callback, &link).is_ok());
    assert_eq!(link.refetches.get(), 1);
}

#[test]
fn the_authorization_responses_iss_must_be_the_issuer_and_present_when_advertised() {
    let world = world();
    let (flow, cookie) = begun(&world);
    let good = ProviderCallback {
        iss: Some(ISSUER),
        ..answered(&flow, &cookie)
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
    let callback = answered(&flow, &cookie);
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

/// Remembers marks in memory, with their expiration.
#[derive(Default)]
struct Marks(std::cell::RefCell<std::collections::HashMap<String, (String, u64)>>);

impl Marks {
    fn expiration(&self, key: &str) -> Option<u64> {
        self.0.borrow().get(key).map(|(_, at)| *at)
    }
}

impl ProviderMarks for Marks {
    async fn read(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self.0.borrow().get(key).map(|(value, _)| value.clone()))
    }

    async fn write(&self, key: &str, value: &str, expiration: u64) -> Result<(), StoreError> {
        self.0
            .borrow_mut()
            .insert(key.to_owned(), (value.to_owned(), expiration));
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

#[test]
fn a_finished_sign_in_cannot_be_finished_again_with_its_state() {
    let world = world();
    let (flow, cookie) = begun(&world);
    let link = FakeLink::answering(id_token_for(&flow, json!({})));
    let callback = answered(&flow, &cookie);
    let marks = Marks::default();
    assert!(finish_with(&world, callback, &link, &marks).is_ok());
    let key = used_state_key(&flow.state);
    let expiration = marks.expiration(&key).unwrap();
    assert_eq!(expiration, u64::try_from(NOW + FLOW_TTL).unwrap());
    let replayed = finish_with(&world, callback, &link, &marks).unwrap_err();
    assert_eq!(replayed.code, "provider_expired");
    assert!(
        replayed.detail.contains("already finished"),
        "{}",
        replayed.detail
    );
    assert_eq!(link.exchanges.get(), 1, "the replay exchanges nothing");
    // A refused answer does not use the state up (the provider may still answer this sign-in).
    let world = self::world();
    let marks = Marks::default();
    let denied = ProviderCallback {
        error: Some("access_denied"),
        ..callback
    };
    assert!(finish_with(&world, denied, &link, &marks).is_err());
    assert!(finish_with(&world, callback, &link, &marks).is_ok());
}

#[test]
fn a_provider_sign_in_keeps_the_sid_and_indexes_it_for_the_sessions_lifetime() {
    let world = world();
    let (flow, cookie) = begun(&world);
    let link = FakeLink::answering(id_token_for(&flow, json!({"sid": "ps-1"})));
    let callback = answered(&flow, &cookie);
    let marks = Marks::default();
    let (opened, _) = finish_with(&world, callback, &link, &marks).unwrap();
    assert_eq!(opened.record.provider_session.as_deref(), Some("ps-1"));
    let stored = pollster::block_on(world.store.session(&opened.record.id, NOW))
        .unwrap()
        .unwrap();
    assert_eq!(stored.provider_session.as_deref(), Some("ps-1"));
    let key = provider_session_key(ISSUER, "ps-1");
    assert_eq!(
        pollster::block_on(marks.read(&key)).unwrap().as_deref(),
        Some("corp:u-123")
    );
    assert_eq!(
        marks.expiration(&key),
        u64::try_from(opened.record.absolute_expires_at).ok()
    );
    // No `sid`, or one too long to keep: nothing kept, nothing indexed.
    for sid in [Value::Null, json!("s".repeat(MAX_SID_LEN + 1))] {
        let world = self::world();
        let (flow, cookie) = begun(&world);
        let mut changes = json!({});
        if !sid.is_null() {
            changes["sid"] = sid;
        }
        let link = FakeLink::answering(id_token_for(&flow, changes));
        let callback = ProviderCallback {
            flow_cookie: Some(&cookie),
            ..callback
        };
        let marks = Marks::default();
        let (opened, _) = finish_with(&world, callback, &link, &marks).unwrap();
        assert_eq!(opened.record.provider_session, None);
        assert!(!marks
            .0
            .borrow()
            .keys()
            .any(|key| key.starts_with("oidc-sid:")));
    }
}

/// Two sessions of u-123 from the provider sessions `ps-1` and `ps-2`, and the marks that
/// index them.
fn two_provider_sessions(world: &World) -> (Marks, SessionId, SessionId) {
    let marks = Marks::default();
    let mut ids = Vec::new();
    for (sid, state) in [("ps-1", "st-1"), ("ps-2", "st-2")] {
        let mut flow = Flow::begin("corp", Some("/"), &SeededEntropy::default()).unwrap();
        flow.state = state.into();
        let cookie = flow.seal(&world.config.session_keys, NOW).unwrap();
        let link = FakeLink::answering(id_token_for(&flow, json!({"sid": sid})));
        let callback = answered(&flow, &cookie);
        // Each sign-in from its own browser: nothing held is replaced.
        let (opened, _) = finish_with(world, callback, &link, &marks).unwrap();
        ids.push(opened.record.id);
    }
    let second = ids.pop().unwrap();
    let first = ids.pop().unwrap();
    (marks, first, second)
}

fn logout_with(world: &World, marks: &Marks, changes: Value) -> Result<usize, LogoutRefusal> {
    let provider = &world.config.oidc.providers[0];
    let link = FakeLink::answering(String::new());
    let ports = (&link, &LocalSignatureCheck, marks);
    let body = logout_body(changes);
    pollster::block_on(world.gate(NOW).provider_logout(provider, &body, ports)).unwrap()
}

fn revoked(world: &World, id: &SessionId) -> bool {
    pollster::block_on(world.store.is_revoked(id)).unwrap()
}

#[test]
fn a_logout_naming_a_sid_and_sub_ends_only_that_provider_sessions_sessions() {
    let world = world();
    let (marks, first, second) = two_provider_sessions(&world);
    assert_eq!(logout_with(&world, &marks, json!({"sid": "ps-1"})), Ok(1));
    assert!(revoked(&world, &first));
    assert!(
        !revoked(&world, &second),
        "the other provider session lives on"
    );
    // A `sid` this edge never saw ends nothing of the user's.
    assert_eq!(
        logout_with(&world, &marks, json!({"sid": "ps-9", "jti": "j-2"})),
        Ok(0)
    );
    assert!(!revoked(&world, &second));
}

#[test]
fn a_logout_naming_only_a_sid_finds_its_user_through_the_index() {
    let world = world();
    let (marks, first, second) = two_provider_sessions(&world);
    let sid_only = json!({"sub": null, "sid": "ps-2"});
    assert_eq!(logout_with(&world, &marks, sid_only), Ok(1));
    assert!(revoked(&world, &second));
    assert!(!revoked(&world, &first));
    // An unknown `sid` (or a forgotten index entry) names no one: nothing ends, 200 all the same.
    let unknown = json!({"sub": null, "sid": "ps-9", "jti": "j-2"});
    assert_eq!(logout_with(&world, &marks, unknown), Ok(0));
    assert!(!revoked(&world, &first));
    // An index entry that names another provider's user is not followed.
    let key = provider_session_key(ISSUER, "ps-x");
    pollster::block_on(marks.write(&key, "other:u-123", u64::MAX)).unwrap();
    let foreign = json!({"sub": null, "sid": "ps-x", "jti": "j-3"});
    assert_eq!(logout_with(&world, &marks, foreign), Ok(0));
    assert!(!revoked(&world, &first));
}

#[test]
fn a_logout_naming_only_a_sub_ends_every_session_of_the_user() {
    let world = world();
    let (marks, first, second) = two_provider_sessions(&world);
    let user = Username::federated("corp", "u-123").unwrap();
    let password_like = world.login_as(&user, NOW - 30, CHROME_LINUX);
    assert_eq!(logout_with(&world, &marks, json!({})), Ok(3));
    assert!(revoked(&world, &first) && revoked(&world, &second));
    assert!(revoked(&world, &password_like.session));
}

#[test]
fn a_logout_naming_a_sid_also_ends_the_users_sessions_that_kept_none() {
    let world = world();
    let user = Username::federated("corp", "u-123").unwrap();
    let older = world.login_as(&user, NOW - 30, CHROME_LINUX);
    let (marks, first, second) = two_provider_sessions(&world);
    assert_eq!(logout_with(&world, &marks, json!({"sid": "ps-1"})), Ok(2));
    assert!(revoked(&world, &older.session) && revoked(&world, &first));
    assert!(!revoked(&world, &second));
}
