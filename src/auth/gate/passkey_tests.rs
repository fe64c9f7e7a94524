//! Passkey registration, removal and sign-in as the gate runs them, natively: an in-memory vault
//! applying the authority's own registry steps, the software authenticator, and recording ports.

use std::cell::RefCell;
use std::collections::HashMap;

use super::*;
use crate::auth::accounts::passkey::registry::{apply, claim_owner, UserPasskeys};
use crate::auth::accounts::throttle::Scope;
use crate::auth::audit::EventKind;
use crate::auth::gate::tests::{config_with, World};
use crate::auth::http::request::tests::facts;
use crate::auth::names::encoding::{b64url, b64url_decode};
use crate::auth::names::role::testing::role;
use crate::auth::names::username::testing::named;
use crate::testing::passkey_authenticator::{no_statement, Ceremony, SoftKey};

const NOW: i64 = 1_800_000_000;
const ORIGIN: &str = "https://edge.example";
const RP_ID: &str = "edge.example";

/// Users' passkeys kept as their authorities keep them, and the handle index.
#[derive(Default)]
struct Vault {
    users: RefCell<HashMap<String, UserPasskeys>>,
    owners: RefCell<HashMap<String, String>>,
    credentials: RefCell<HashMap<String, String>>,
}

/// The first claim of `name` in `index` stands.
fn claim_in(index: &RefCell<HashMap<String, String>>, name: String, user: &Username) -> bool {
    let mut index = index.borrow_mut();
    let current = index.get(&name).cloned();
    let owner = claim_owner(current.as_deref(), user.as_str());
    if let Some(owner) = &owner {
        index.insert(name, owner.clone());
    }
    owner.as_deref() == Some(user.as_str())
}

impl PasskeyVault for Vault {
    async fn apply(
        &self,
        user: &Username,
        command: PasskeyCommand,
    ) -> Result<PasskeyReply, StoreError> {
        let mut users = self.users.borrow_mut();
        Ok(apply(users.entry(user.to_string()).or_default(), command))
    }

    async fn owner(&self, handle: &UserHandle) -> Result<Option<Username>, StoreError> {
        Ok(self
            .owners
            .borrow()
            .get(&handle.encoded())
            .map(|name| named(name)))
    }

    async fn claim(&self, handle: &UserHandle, user: &Username) -> Result<bool, StoreError> {
        Ok(claim_in(&self.owners, handle.encoded(), user))
    }

    async fn claim_credential(
        &self,
        id: &CredentialId,
        user: &Username,
    ) -> Result<bool, StoreError> {
        Ok(claim_in(&self.credentials, id.encoded(), user))
    }
}

/// alice, with or without a password, enabled or not, or gone; everyone else an enabled
/// account with a password.
struct Users {
    alice: Option<Account>,
}

impl Directory for Users {
    async fn account(&self, user: &Username) -> Result<Option<Account>, StoreError> {
        if *user == named("alice") {
            return Ok(self.alice.clone());
        }
        Ok(Some(Account {
            roles: vec![],
            disabled: false,
            has_password: true,
            id: None,
        }))
    }
}

fn alice(has_password: bool, disabled: bool) -> Users {
    Users {
        alice: Some(Account {
            roles: vec![role("staff")],
            disabled,
            has_password,
            id: None,
        }),
    }
}

/// Counts failures by scope, and can hold every attempt back.
#[derive(Default)]
struct Counted {
    limited: Option<i64>,
    failed: RefCell<Vec<Vec<Scope>>>,
    succeeded: RefCell<u32>,
}

impl Throttle for Counted {
    async fn admit(&self, _counters: &[Counter<'_>]) -> Result<Option<i64>, StoreError> {
        Ok(self.limited)
    }
    async fn failed(&self, counters: &[Counter<'_>]) -> Result<(), StoreError> {
        self.failed
            .borrow_mut()
            .push(counters.iter().map(|c| c.scope).collect());
        Ok(())
    }
    async fn succeeded(&self, _counters: &[Counter<'_>]) -> Result<(), StoreError> {
        *self.succeeded.borrow_mut() += 1;
        Ok(())
    }
}

fn world() -> World {
    World::new(config_with(&[("SESSION_STORE", "authority")]))
}

/// alice's principal for a session opened at `at`.
fn principal(world: &World, at: i64) -> Principal {
    let browser = world.login(at);
    Principal {
        user: named("alice"),
        session: browser.session,
        roles: vec![role("staff")],
        access_expires_at: at + 60,
        key: None,
    }
}

/// Registers `key` for `principal` at `now`: the options, the authenticator's answer, the finish.
fn register(
    world: &World,
    vault: &Vault,
    principal: &Principal,
    key: &SoftKey,
    id: u8,
    now: i64,
) -> Result<StoredPasskey, PasskeyFailure> {
    let gate = world.gate(now);
    let req = facts("POST", "/auth/passkeys/register/options", &[]);
    let options = pollster::block_on(gate.begin_passkey_registration(
        &req,
        principal,
        (vault, &alice(true, false)),
    ))?;
    let challenge = b64url_decode(options["challenge"].as_str().unwrap()).unwrap();
    let ceremony = Ceremony::new(
        "webauthn.create",
        RP_ID,
        ORIGIN,
        &challenge,
        &[id; 32],
        key.cose_alg(),
    );
    let body = ceremony.registration(key, no_statement());
    let req = facts("POST", "/auth/passkeys/register", &[]);
    pollster::block_on(gate.finish_passkey_registration(
        &req,
        principal,
        (vault, &alice(true, false)),
        " Laptop ",
        &body,
    ))
}

/// An assertion of `key` (credential `id`) for the handle `vault` gave alice.
fn assertion(world: &World, vault: &Vault, key: &SoftKey, id: u8, now: i64) -> Vec<u8> {
    let options = world.gate(now).passkey_sign_in_options().unwrap();
    let challenge = b64url_decode(options["challenge"].as_str().unwrap()).unwrap();
    let mut ceremony = Ceremony::new(
        "webauthn.get",
        RP_ID,
        ORIGIN,
        &challenge,
        &[id; 32],
        key.cose_alg(),
    );
    let handle = vault.owners.borrow().keys().next().cloned().unwrap();
    ceremony.user_handle = Some(b64url_decode(&handle).unwrap());
    ceremony.counter = 2;
    ceremony.assertion(key)
}

fn sign_in(
    world: &World,
    vault: &Vault,
    users: &Users,
    throttle: &Counted,
    body: &[u8],
    now: i64,
) -> Result<Opened, SignInRefusal> {
    let ports = PasskeyPorts {
        vault,
        directory: users,
        throttle,
    };
    let opening = Opening {
        delivery: crate::auth::gate::signin::Delivery::Cookies,
        signed_in_from: None,
        provider_session: None,
        key: None,
    };
    let req = facts("POST", "/auth/passkeys/sign-in", &[]);
    pollster::block_on(
        world
            .gate(now)
            .sign_in_with_passkey(&req, body, ports, opening),
    )
    .unwrap()
}

#[test]
fn a_recent_session_registers_a_passkey_that_then_signs_in() {
    let world = world();
    let vault = Vault::default();
    let me = principal(&world, NOW);
    let key = SoftKey::es256(1);
    let passkey = register(&world, &vault, &me, &key, 1, NOW + 10).unwrap();
    assert_eq!(passkey.name, "Laptop", "the name is trimmed");
    assert!(world.audit.kinds().contains(&EventKind::PasskeyAdded));
    let listed = pollster::block_on(
        world
            .gate(NOW)
            .passkeys_of(&named("alice"), (&vault, &alice(true, false))),
    )
    .unwrap();
    assert_eq!(listed, [passkey]);

    world.audit.clear();
    let throttle = Counted::default();
    let body = assertion(&world, &vault, &key, 1, NOW + 20);
    let opened = sign_in(
        &world,
        &vault,
        &alice(true, false),
        &throttle,
        &body,
        NOW + 20,
    )
    .unwrap();
    assert_eq!(opened.record.user, named("alice"));
    assert_eq!(opened.record.roles, ["staff"]);
    assert_eq!(*throttle.succeeded.borrow(), 1);
    assert!(world
        .audit
        .kinds()
        .ends_with(&[EventKind::LoginOk, EventKind::PasskeySignIn]));
    // The same assertion again: its challenge is spent.
    let replay = sign_in(
        &world,
        &vault,
        &alice(true, false),
        &throttle,
        &body,
        NOW + 21,
    );
    assert_eq!(replay.unwrap_err(), SignInRefusal::InvalidCredentials);
    assert_eq!(*throttle.failed.borrow(), [vec![Scope::ClientIp]]);
    assert_eq!(world.audit.kinds().last(), Some(&EventKind::PasskeyRefused));
}

#[test]
fn adding_and_removing_need_a_recent_sign_in() {
    let world = world();
    let vault = Vault::default();
    let me = principal(&world, NOW);
    let late = NOW + 601;
    assert!(matches!(
        register(&world, &vault, &me, &SoftKey::es256(1), 1, late),
        Err(PasskeyFailure::NotRecent)
    ));
    let id = register(&world, &vault, &me, &SoftKey::es256(1), 1, NOW)
        .unwrap()
        .id;
    let req = facts("DELETE", "/auth/passkeys/x", &[]);
    let ports = (&vault, &alice(true, false));
    let removed = pollster::block_on(world.gate(late).remove_own_passkey(&req, &me, &id, ports));
    assert!(matches!(removed, Err(PasskeyFailure::NotRecent)));
    // A token in Authorization is an API client's, not the account page's.
    let api = facts(
        "DELETE",
        "/auth/passkeys/x",
        &[("authorization", "Bearer abc")],
    );
    let removed = pollster::block_on(world.gate(NOW).remove_own_passkey(&api, &me, &id, ports));
    assert!(matches!(removed, Err(PasskeyFailure::BrowserOnly)));
    let begun = pollster::block_on(world.gate(NOW).begin_passkey_registration(
        &api,
        &me,
        (&vault, &alice(true, false)),
    ));
    assert!(matches!(begun, Err(PasskeyFailure::BrowserOnly)));
    let until = pollster::block_on(world.gate(NOW).passkey_manage_until(&me)).unwrap();
    assert_eq!(until, Some(NOW + 600));
}

#[test]
fn a_refused_registration_says_why_and_keeps_nothing() {
    let world = world();
    let vault = Vault::default();
    let me = principal(&world, NOW);
    let gate = world.gate(NOW);
    let begin = facts("POST", "/auth/passkeys/register/options", &[]);
    let options = pollster::block_on(gate.begin_passkey_registration(
        &begin,
        &me,
        (&vault, &alice(true, false)),
    ))
    .unwrap();
    let challenge = b64url_decode(options["challenge"].as_str().unwrap()).unwrap();
    let key = SoftKey::es256(1);
    let mut ceremony = Ceremony::new(
        "webauthn.create",
        RP_ID,
        "https://evil.example",
        &challenge,
        &[1; 32],
        -7,
    );
    let req = facts("POST", "/auth/passkeys/register", &[]);
    let wrong_origin = ceremony.registration(&key, no_statement());
    let outcome = pollster::block_on(gate.finish_passkey_registration(
        &req,
        &me,
        (&vault, &alice(true, false)),
        "x",
        &wrong_origin,
    ));
    assert!(matches!(
        outcome,
        Err(PasskeyFailure::Refused(PasskeyRefusal::WrongOrigin))
    ));
    ceremony.origin = ORIGIN.into();
    ceremony.challenge = vec![3; 32];
    let made_up = ceremony.registration(&key, no_statement());
    let outcome = pollster::block_on(gate.finish_passkey_registration(
        &req,
        &me,
        (&vault, &alice(true, false)),
        "x",
        &made_up,
    ));
    assert!(matches!(
        outcome,
        Err(PasskeyFailure::Refused(PasskeyRefusal::Challenge))
    ));
    for name in [
        "",
        "   ",
        "tab\there",
        "Laptop\u{202E}potpaL",
        "zero\u{200B}width",
        &"n".repeat(65),
    ] {
        let outcome = pollster::block_on(gate.finish_passkey_registration(
            &req,
            &me,
            (&vault, &alice(true, false)),
            name,
            &made_up,
        ));
        assert!(matches!(outcome, Err(PasskeyFailure::Name)), "{name:?}");
    }
    assert!(
        pollster::block_on(gate.passkeys_of(&named("alice"), (&vault, &alice(true, false))))
            .unwrap()
            .is_empty()
    );
    assert!(
        vault.credentials.borrow().is_empty() && vault.owners.borrow().is_empty(),
        "a refused registration claims no index"
    );
    let refused: Vec<_> = world
        .audit
        .kinds()
        .into_iter()
        .filter(|k| *k == EventKind::PasskeyRefused)
        .collect();
    assert_eq!(refused.len(), 2);
}

#[test]
fn a_passkey_only_user_keeps_the_last_passkey() {
    let world = world();
    let vault = Vault::default();
    let me = principal(&world, NOW);
    let first = register(&world, &vault, &me, &SoftKey::es256(1), 1, NOW)
        .unwrap()
        .id;
    let second = register(&world, &vault, &me, &SoftKey::ed25519(2), 2, NOW)
        .unwrap()
        .id;
    let no_password = alice(false, false);
    let gate = world.gate(NOW);
    let remove = |id| {
        pollster::block_on(gate.remove_passkey(
            &named("alice"),
            id,
            (&vault, &no_password),
            "an operator",
        ))
    };
    assert!(remove(&first).is_ok());
    assert!(matches!(remove(&second), Err(PasskeyFailure::LastPasskey)));
    assert!(matches!(remove(&first), Err(PasskeyFailure::NotFound)));
    let with_password = alice(true, false);
    assert!(pollster::block_on(gate.remove_passkey(
        &named("alice"),
        &second,
        (&vault, &with_password),
        "its user"
    ))
    .is_ok());
    assert!(world.audit.kinds().contains(&EventKind::PasskeyRemoved));
}

#[test]
fn a_disabled_or_deleted_account_signs_in_by_no_passkey() {
    let world = world();
    let vault = Vault::default();
    let me = principal(&world, NOW);
    let key = SoftKey::es256(1);
    register(&world, &vault, &me, &key, 1, NOW).unwrap();
    let throttle = Counted::default();
    let body = assertion(&world, &vault, &key, 1, NOW + 5);
    let disabled = sign_in(
        &world,
        &vault,
        &alice(true, true),
        &throttle,
        &body,
        NOW + 5,
    );
    assert_eq!(disabled.unwrap_err(), SignInRefusal::InvalidCredentials);
    let live = pollster::block_on(world.store.sessions_of(&named("alice"), NOW + 5)).unwrap();
    assert!(live.is_empty(), "a disabled account's sessions end");
    let PasskeyReply::Listed { passkeys, .. } =
        pollster::block_on(vault.apply(&named("alice"), PasskeyCommand::List)).unwrap()
    else {
        panic!("a listing")
    };
    assert_eq!(
        passkeys[0].last_used_at, None,
        "a refused sign-in records nothing"
    );
    let body = assertion(&world, &vault, &key, 1, NOW + 6);
    let deleted = sign_in(
        &world,
        &vault,
        &Users { alice: None },
        &throttle,
        &body,
        NOW + 6,
    );
    assert_eq!(deleted.unwrap_err(), SignInRefusal::InvalidCredentials);
}

#[test]
fn an_unknown_handle_counts_on_the_address_and_the_throttle_holds_back() {
    let world = world();
    let vault = Vault::default();
    let me = principal(&world, NOW);
    let key = SoftKey::es256(1);
    register(&world, &vault, &me, &key, 1, NOW).unwrap();
    let throttle = Counted::default();
    let mut ceremony = Ceremony::new("webauthn.get", RP_ID, ORIGIN, &[1; 40], &[1; 32], -7);
    ceremony.user_handle = Some(vec![4; 32]);
    let made_up = sign_in(
        &world,
        &vault,
        &alice(true, false),
        &throttle,
        &ceremony.assertion(&key),
        NOW,
    );
    assert_eq!(made_up.unwrap_err(), SignInRefusal::InvalidCredentials);
    let body = assertion(&world, &vault, &key, 1, NOW);
    let unknown_handle = {
        let mut value: serde_json::Value = serde_json::from_slice(&body).unwrap();
        value["response"]["userHandle"] = serde_json::json!(b64url(&[4; 32]));
        serde_json::to_vec(&value).unwrap()
    };
    let outcome = sign_in(
        &world,
        &vault,
        &alice(true, false),
        &throttle,
        &unknown_handle,
        NOW,
    );
    assert_eq!(outcome.unwrap_err(), SignInRefusal::InvalidCredentials);
    assert_eq!(
        *throttle.failed.borrow(),
        [vec![Scope::ClientIp], vec![Scope::ClientIp]]
    );
    let held = Counted {
        limited: Some(42),
        ..Counted::default()
    };
    let limited = sign_in(&world, &vault, &alice(true, false), &held, &body, NOW);
    assert_eq!(
        limited.unwrap_err(),
        SignInRefusal::RateLimited { retry_after: 42 }
    );
    assert_eq!(world.audit.kinds().last(), Some(&EventKind::RateLimited));
}

#[test]
fn a_credential_id_belongs_to_one_user() {
    let world = world();
    let vault = Vault::default();
    let alice_session = principal(&world, NOW);
    register(&world, &vault, &alice_session, &SoftKey::es256(1), 1, NOW).unwrap();
    let bob = world.login_as(&named("bob"), NOW, "curl/8");
    let bob = Principal {
        user: named("bob"),
        session: bob.session,
        roles: vec![],
        access_expires_at: NOW + 60,
        key: None,
    };
    let taken = register(&world, &vault, &bob, &SoftKey::es256(2), 1, NOW);
    assert!(
        matches!(
            taken,
            Err(PasskeyFailure::Refused(PasskeyRefusal::DuplicateCredential))
        ),
        "{taken:?}"
    );
    assert!(register(&world, &vault, &bob, &SoftKey::es256(2), 2, NOW).is_ok());
}

#[test]
fn a_passkey_signs_in_only_the_account_it_was_registered_for() {
    let world = world();
    let vault = Vault::default();
    let me = principal(&world, NOW);
    let key = SoftKey::es256(1);
    register(&world, &vault, &me, &key, 1, NOW).unwrap();
    // The record is written anew (a reset, or the name given to someone new): a new account id.
    let renewed = Users {
        alice: Some(Account {
            id: Some("renewed".into()),
            ..alice(true, false).alice.unwrap()
        }),
    };
    let body = assertion(&world, &vault, &key, 1, NOW + 5);
    let outcome = sign_in(
        &world,
        &vault,
        &renewed,
        &Counted::default(),
        &body,
        NOW + 5,
    );
    assert_eq!(outcome.unwrap_err(), SignInRefusal::InvalidCredentials);
    let gate = world.gate(NOW + 5);
    let listed = pollster::block_on(gate.passkeys_of(&named("alice"), (&vault, &renewed)));
    assert!(
        listed.unwrap().is_empty(),
        "the old account's passkeys are not this one's"
    );
    // The next registration forgets them for good.
    let req = facts("POST", "/auth/passkeys/register/options", &[]);
    pollster::block_on(gate.begin_passkey_registration(&req, &me, (&vault, &renewed))).unwrap();
    let PasskeyReply::Listed { passkeys, .. } =
        pollster::block_on(vault.apply(&named("alice"), PasskeyCommand::List)).unwrap()
    else {
        panic!("a listing")
    };
    assert!(passkeys.is_empty());
}

#[test]
fn a_user_of_a_provider_has_no_passkeys_here() {
    let world = world();
    let vault = Vault::default();
    let federated = Username::try_from("corp:123".to_owned()).unwrap();
    let listed = pollster::block_on(
        world
            .gate(NOW)
            .passkeys_of(&federated, (&vault, &alice(true, false))),
    );
    assert!(matches!(listed, Err(PasskeyFailure::Unavailable)));
    assert!(vault.users.borrow().is_empty(), "no authority was asked");
}

#[test]
fn passkeys_off_offers_nothing() {
    let world = World::new(config_with(&[
        ("SESSION_STORE", "authority"),
        ("PASSKEYS", "off"),
    ]));
    assert!(matches!(
        world.gate(NOW).passkey_sign_in_options(),
        Err(PasskeyFailure::Unavailable)
    ));
    let vault = Vault::default();
    let body = b"{}";
    let outcome = sign_in(
        &world,
        &vault,
        &alice(true, false),
        &Counted::default(),
        body,
        NOW,
    );
    assert_eq!(outcome.unwrap_err(), SignInRefusal::InvalidCredentials);
}
