//! Every branch of the password sign-in and of opening a session, natively, against the
//! in-memory store and recording ports.

use std::cell::{Cell, RefCell};

use super::*;
use crate::auth::audit::EventKind;
use crate::auth::env::testing::BrokenEntropy;
use crate::auth::gate::tests::{config, Signer, World, CHROME_LINUX};
use crate::auth::gate::NoAccountCheck;
use crate::auth::http::cookie::ACCESS_COOKIE;
use crate::auth::http::request::tests::facts;
use crate::auth::names::role::testing::role;
use crate::auth::names::username::testing::named;

const NOW: i64 = 1_800_000_000;

/// Counts what the ceremony asks of the throttle, and can refuse or fail.
#[derive(Default)]
struct Counted {
    /// `Some(seconds)` makes every admission a refusal.
    limited: Option<i64>,
    down: bool,
    failed: RefCell<Vec<Vec<Scope>>>,
    succeeded: Cell<u32>,
}

fn scopes(counters: &[Counter<'_>]) -> Vec<Scope> {
    counters.iter().map(|counter| counter.scope).collect()
}

impl Throttle for Counted {
    async fn admit(&self, _counters: &[Counter<'_>]) -> Result<Option<i64>, StoreError> {
        match self.down {
            true => Err(StoreError::Unavailable("counters down".into())),
            false => Ok(self.limited),
        }
    }

    async fn failed(&self, counters: &[Counter<'_>]) -> Result<(), StoreError> {
        self.failed.borrow_mut().push(scopes(counters));
        Ok(())
    }

    async fn succeeded(&self, _counters: &[Counter<'_>]) -> Result<(), StoreError> {
        self.succeeded.set(self.succeeded.get() + 1);
        Ok(())
    }
}

/// One account, `alice` with password `right` and the role `staff`.
#[derive(Default)]
struct Passwords {
    disabled: bool,
    down: bool,
    asked: Cell<u32>,
}

impl PasswordCheck for Passwords {
    async fn verify(
        &self,
        user: &Username,
        password: &Password,
    ) -> Result<PasswordVerdict, StoreError> {
        self.asked.set(self.asked.get() + 1);
        if self.down {
            return Err(StoreError::Unavailable("backend down".into()));
        }
        if *user != named("alice") || password.expose() != "right" {
            return Ok(PasswordVerdict::Invalid);
        }
        Ok(match self.disabled {
            true => PasswordVerdict::Disabled { user: user.clone() },
            false => PasswordVerdict::Valid {
                user: user.clone(),
                roles: vec![role("staff")],
            },
        })
    }
}

fn browser_opening() -> Opening {
    Opening {
        delivery: Delivery::Cookies,
        signed_in_from: None,
        provider_session: None,
        key: None,
    }
}

fn sign_in(
    world: &World,
    typed: &str,
    password: &str,
    throttle: &Counted,
    passwords: &Passwords,
) -> Result<Result<Opened, SignInRefusal>, SignInError> {
    let password = Password::new(password.to_owned());
    let req = facts("POST", "/auth/login", &[("user-agent", CHROME_LINUX)]);
    let attempt = PasswordAttempt {
        typed,
        password: &password,
    };
    let ports = SignInPorts {
        throttle,
        passwords,
    };
    pollster::block_on(world.gate(NOW).sign_in_with_password(
        &req,
        attempt,
        ports,
        browser_opening(),
    ))
}

#[test]
fn the_right_password_opens_a_session_with_the_users_roles() {
    let world = World::new(config());
    let throttle = Counted::default();
    let opened = sign_in(
        &world,
        "  Alice ",
        "right",
        &throttle,
        &Passwords::default(),
    )
    .unwrap()
    .unwrap();
    assert_eq!(opened.record.user, named("alice"));
    assert_eq!(opened.record.roles, ["staff"]);
    assert!(opened.tokens.refresh.is_some());
    assert_eq!(throttle.succeeded.get(), 1);
    assert!(throttle.failed.borrow().is_empty());
    assert_eq!(world.audit.kinds(), [EventKind::LoginOk]);
    let stored = pollster::block_on(world.store.session(&opened.record.id, NOW)).unwrap();
    assert!(stored.is_some(), "the session is in the store");
}

#[test]
fn a_wrong_password_is_the_one_refusal_counted_on_both_counters() {
    let world = World::new(config());
    let throttle = Counted::default();
    let refusal = sign_in(&world, "alice", "wrong", &throttle, &Passwords::default()).unwrap();
    assert_eq!(refusal.unwrap_err(), SignInRefusal::InvalidCredentials);
    assert_eq!(
        *throttle.failed.borrow(),
        [vec![Scope::ClientIp, Scope::Account]]
    );
    assert_eq!(world.audit.kinds(), [EventKind::LoginFailed]);
    let unknown = sign_in(&world, "bob", "right", &throttle, &Passwords::default()).unwrap();
    assert_eq!(unknown.unwrap_err(), SignInRefusal::InvalidCredentials);
}

#[test]
fn a_malformed_username_is_refused_like_any_failure_without_asking_the_backend() {
    let world = World::new(config());
    let throttle = Counted::default();
    let passwords = Passwords::default();
    let refusal = sign_in(&world, "not a name!", "right", &throttle, &passwords).unwrap();
    assert_eq!(refusal.unwrap_err(), SignInRefusal::InvalidCredentials);
    assert_eq!(passwords.asked.get(), 0);
    assert_eq!(*throttle.failed.borrow(), [vec![Scope::ClientIp]]);
}

#[test]
fn a_throttled_attempt_is_turned_away_before_its_password_is_checked() {
    let world = World::new(config());
    let throttle = Counted {
        limited: Some(42),
        ..Counted::default()
    };
    let passwords = Passwords::default();
    let refusal = sign_in(&world, "alice", "right", &throttle, &passwords).unwrap();
    assert_eq!(
        refusal.unwrap_err(),
        SignInRefusal::RateLimited { retry_after: 42 }
    );
    assert_eq!(passwords.asked.get(), 0);
    assert_eq!(world.audit.kinds(), [EventKind::RateLimited]);
}

#[test]
fn a_disabled_account_is_refused_and_its_sessions_end() {
    let world = World::new(config());
    let before = world.login(NOW - 60);
    let passwords = Passwords {
        disabled: true,
        ..Passwords::default()
    };
    let refusal = sign_in(&world, "alice", "right", &Counted::default(), &passwords).unwrap();
    assert_eq!(refusal.unwrap_err(), SignInRefusal::InvalidCredentials);
    assert!(pollster::block_on(world.store.is_revoked(&before.session)).unwrap());
}

#[test]
fn outages_of_the_counters_or_the_backend_are_errors_not_verdicts() {
    let world = World::new(config());
    let down = Counted {
        down: true,
        ..Counted::default()
    };
    let passwords = Passwords::default();
    assert!(matches!(
        sign_in(&world, "alice", "right", &down, &passwords),
        Err(SignInError::Store(_))
    ));
    assert_eq!(passwords.asked.get(), 0);
    let throttle = Counted::default();
    let backend_down = Passwords {
        down: true,
        ..Passwords::default()
    };
    assert!(matches!(
        sign_in(&world, "alice", "right", &throttle, &backend_down),
        Err(SignInError::Store(_))
    ));
    assert!(
        throttle.failed.borrow().is_empty(),
        "an outage is no failure"
    );
}

#[test]
fn a_browser_sign_in_replaces_the_session_it_held_and_a_token_client_adds_one() {
    let world = World::new(config());
    let held = world.login(NOW - 60);
    let cookie = format!("{ACCESS_COOKIE}={}", held.access);
    let req = facts(
        "POST",
        "/auth/login",
        &[("user-agent", CHROME_LINUX), ("cookie", &cookie)],
    );
    let gate = world.gate(NOW);
    let body = Opening {
        delivery: Delivery::Body,
        signed_in_from: None,
        provider_session: None,
        key: None,
    };
    pollster::block_on(gate.open_session(&req, named("alice"), vec![], body)).unwrap();
    assert!(!pollster::block_on(world.store.is_revoked(&held.session)).unwrap());
    pollster::block_on(gate.open_session(&req, named("alice"), vec![], browser_opening())).unwrap();
    assert!(pollster::block_on(world.store.is_revoked(&held.session)).unwrap());
    assert!(world.audit.kinds().contains(&EventKind::Revoke));
}

#[test]
fn without_randomness_no_session_is_opened() {
    let world = World::new(config());
    let gate = Gate {
        entropy: &BrokenEntropy,
        ..world.gate(NOW)
    };
    let _: &Gate<'_, _, NoAccountCheck, Signer> = &gate;
    let req = facts("POST", "/auth/login", &[]);
    let opened =
        pollster::block_on(gate.open_session(&req, named("alice"), vec![], browser_opening()));
    assert!(matches!(opened, Err(SignInError::Entropy(_))));
    let sessions = pollster::block_on(world.store.sessions_of(&named("alice"), NOW)).unwrap();
    assert!(sessions.is_empty());
}
