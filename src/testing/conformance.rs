//! The behaviour every [`SessionStore`] must show, as one suite run against each backend: the
//! in-memory store natively and in wasm, and the KV store and the session authority inside the
//! built worker (the `conformance` feature adds a route that runs it; `tests/e2e/conformance.test.mjs`).
//!
//! Each check uses fresh random user names and session ids, so that the backends that keep their
//! storage between checks (KV, the authority) start each one empty all the same.

use crate::auth::env::{random_bytes, OsEntropy, UnixTime};
use crate::auth::names::encoding::b64url;
use crate::auth::names::role::Role;
use crate::auth::names::session_id::SessionId;
use crate::auth::names::username::Username;
use crate::auth::session::record::{LoginSubject, SessionPolicy, SessionRecord};
use crate::auth::session::refresh::{NewRefresh, PresentedRefresh};
use crate::auth::session::store::{Rotation, SessionStore, Standing};
use crate::auth::token::dbsc::DeviceKey;

const T0: UnixTime = 1_800_000_000;

struct Login {
    record: SessionRecord,
    refresh: NewRefresh,
}

impl Login {
    fn presented(&self) -> PresentedRefresh {
        PresentedRefresh::parse(self.refresh.token(&self.record.user).expose())
            .expect("minted token parses")
    }
}

fn policy(max_sessions: Option<u32>) -> SessionPolicy {
    SessionPolicy {
        max_sessions,
        ..SessionPolicy::default()
    }
}

async fn login<S: SessionStore>(
    store: &S,
    user: &Username,
    now: UnixTime,
    policy: &SessionPolicy,
    entropy: &OsEntropy,
) -> Login {
    let id = SessionId::generate(entropy).unwrap();
    let refresh = NewRefresh::mint(&id, entropy).unwrap();
    let subject = LoginSubject {
        user: user.clone(),
        roles: vec![Role::parse("member").unwrap()],
        user_agent: "Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0".into(),
    };
    let record = SessionRecord::new(id, subject, refresh.hash.clone(), now, policy);
    store.create(record.clone(), policy, now).await.unwrap();
    Login { record, refresh }
}

async fn rotate<S: SessionStore>(
    store: &S,
    presented: &PresentedRefresh,
    now: UnixTime,
    policy: &SessionPolicy,
    entropy: &OsEntropy,
) -> (Rotation, NewRefresh) {
    let next = NewRefresh::mint(&presented.session, entropy).unwrap();
    let rotation = store
        .rotate(presented, next.hash.clone(), policy, now)
        .await
        .unwrap();
    (rotation, next)
}

/// Two user names no other check uses.
struct Users {
    alice: Username,
    bob: Username,
}

impl Users {
    fn fresh() -> Self {
        let tag = b64url(&random_bytes::<6>(&OsEntropy).expect("entropy")).to_ascii_lowercase();
        Self {
            alice: Username::parse(&format!("alice-{tag}")).expect("a username"),
            bob: Username::parse(&format!("bob-{tag}")).expect("a username"),
        }
    }
}

/// The names of the checks, in the order [`run_all`] runs them.
pub const CHECKS: [&str; 9] = [
    "create_get_and_list",
    "rotation_grace_and_reuse",
    "wrong_secret_changes_nothing",
    "idle_and_absolute_expiry",
    "limit_evicts_oldest",
    "single_session_mode",
    "revoke_one_and_all",
    "standing_follows_the_session",
    "a_device_key_binds_once",
];

/// Runs every check, each on a fresh store from `make`; a failed check panics.
pub async fn run_all<S: SessionStore>(make: impl Fn() -> S) -> [&'static str; 9] {
    create_get_and_list(&make()).await;
    rotation_grace_and_reuse(&make()).await;
    wrong_secret_changes_nothing(&make()).await;
    idle_and_absolute_expiry(&make()).await;
    limit_evicts_oldest(&make()).await;
    single_session_mode(&make()).await;
    revoke_one_and_all(&make()).await;
    standing_follows_the_session(&make()).await;
    a_device_key_binds_once(&make()).await;
    CHECKS
}

/// A browser's device key is kept with its session once: a second registration, one for
/// another user's session, and one for an ended session change nothing.
async fn a_device_key_binds_once<S: SessionStore>(store: &S) {
    let entropy = OsEntropy;
    let u = Users::fresh();
    let p = policy(None);
    let a = login(store, &u.alice, T0, &p, &entropy).await;
    let b = login(store, &u.alice, T0 + 1, &p, &entropy).await;
    let key = |x: &str| DeviceKey {
        alg: "ES256".into(),
        jwk: serde_json::json!({"kty": "EC", "crv": "P-256", "x": x, "y": "y"}),
    };
    let bound = store
        .bind_device_key(&a.record.id, &u.alice, key("first"), T0 + 2)
        .await
        .unwrap()
        .expect("a live session without a key takes one");
    assert_eq!(bound.device_key.map(|key| *key), Some(key("first")));
    assert_eq!(
        store
            .session(&a.record.id, T0 + 3)
            .await
            .unwrap()
            .and_then(|s| s.device_key.map(|key| *key)),
        Some(key("first")),
        "the key is kept with the session"
    );
    assert_eq!(
        store
            .bind_device_key(&a.record.id, &u.alice, key("second"), T0 + 3)
            .await
            .unwrap(),
        None,
        "a key is registered once"
    );
    assert_eq!(
        store
            .bind_device_key(&a.record.id, &u.bob, key("bob's"), T0 + 3)
            .await
            .unwrap(),
        None,
        "nobody binds a session that is not theirs"
    );
    store.revoke(&b.record.id, &u.alice, T0 + 4).await.unwrap();
    assert_eq!(
        store
            .bind_device_key(&b.record.id, &u.alice, key("late"), T0 + 5)
            .await
            .unwrap(),
        None,
        "an ended session takes no key"
    );
    assert_eq!(
        store
            .session(&a.record.id, T0 + 6)
            .await
            .unwrap()
            .and_then(|s| s.device_key.map(|key| *key)),
        Some(key("first"))
    );
}

async fn create_get_and_list<S: SessionStore>(store: &S) {
    let entropy = OsEntropy;
    let u = Users::fresh();
    let p = policy(None);
    let a = login(store, &u.alice, T0, &p, &entropy).await;
    let b = login(store, &u.alice, T0 + 1, &p, &entropy).await;
    assert_ne!(
        a.record.id, b.record.id,
        "every login gets a new session id"
    );
    assert_eq!(
        store.session(&a.record.id, T0 + 2).await.unwrap(),
        Some(a.record.clone())
    );
    let listed: Vec<SessionId> = store
        .sessions_of(&u.alice, T0 + 2)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(listed, [a.record.id.clone(), b.record.id.clone()]);
    assert!(store.sessions_of(&u.bob, T0).await.unwrap().is_empty());
    assert!(!store.is_revoked(&a.record.id).await.unwrap());
}

async fn rotation_grace_and_reuse<S: SessionStore>(store: &S) {
    let entropy = OsEntropy;
    let u = Users::fresh();
    let p = policy(None);
    let first = login(store, &u.alice, T0, &p, &entropy).await;
    let (rotation, second) = rotate(store, &first.presented(), T0 + 100, &p, &entropy).await;
    let Rotation::Rotated(record) = rotation else {
        panic!("current token must rotate: {rotation:?}")
    };
    assert_eq!(record.last_seen_at, T0 + 100);
    assert!(record.refresh.current.matches(&second.hash));

    // A second tab presenting the same token inside the grace window is not an attack.
    let (rotation, _) = rotate(
        store,
        &first.presented(),
        T0 + 99 + p.refresh_grace,
        &p,
        &entropy,
    )
    .await;
    assert!(
        matches!(rotation, Rotation::Grace(_)),
        "inside grace: {rotation:?}"
    );
    let second_presented = PresentedRefresh::parse(second.token(&u.alice).expose()).unwrap();

    // After the window, the retired token proves theft: the session ends for everyone.
    let (rotation, _) = rotate(
        store,
        &first.presented(),
        T0 + 100 + p.refresh_grace,
        &p,
        &entropy,
    )
    .await;
    assert!(
        matches!(rotation, Rotation::Reused(_)),
        "after grace: {rotation:?}"
    );
    assert!(store.is_revoked(&first.record.id).await.unwrap());
    assert_eq!(
        store.session(&first.record.id, T0 + 200).await.unwrap(),
        None
    );
    let (rotation, _) = rotate(store, &second_presented, T0 + 200, &p, &entropy).await;
    assert_eq!(
        rotation,
        Rotation::Ended,
        "the legitimate holder is logged out too"
    );
}

async fn wrong_secret_changes_nothing<S: SessionStore>(store: &S) {
    let entropy = OsEntropy;
    let u = Users::fresh();
    let p = policy(None);
    let login_a = login(store, &u.alice, T0, &p, &entropy).await;
    let forged = NewRefresh::mint(&login_a.record.id, &entropy).unwrap();
    let forged = PresentedRefresh::parse(forged.token(&u.alice).expose()).unwrap();
    let (rotation, _) = rotate(store, &forged, T0 + 1, &p, &entropy).await;
    assert_eq!(rotation, Rotation::Unknown);
    assert!(
        !store.is_revoked(&login_a.record.id).await.unwrap(),
        "knowing a session id must not end it"
    );
    let stranger = SessionId::generate(&entropy).unwrap();
    let stranger = PresentedRefresh::parse(
        NewRefresh::mint(&stranger, &entropy)
            .unwrap()
            .token(&u.alice)
            .expose(),
    )
    .unwrap();
    assert_eq!(
        rotate(store, &stranger, T0 + 1, &p, &entropy).await.0,
        Rotation::Unknown
    );
    let (rotation, _) = rotate(store, &login_a.presented(), T0 + 2, &p, &entropy).await;
    assert!(matches!(rotation, Rotation::Rotated(_)));
}

async fn idle_and_absolute_expiry<S: SessionStore>(store: &S) {
    let entropy = OsEntropy;
    let u = Users::fresh();
    let p = policy(None);
    let idle = login(store, &u.alice, T0, &p, &entropy).await;
    let (rotation, _) = rotate(store, &idle.presented(), T0 + p.idle_timeout, &p, &entropy).await;
    assert_eq!(rotation, Rotation::Ended, "idle timeout reached");

    let busy = login(store, &u.bob, T0, &p, &entropy).await;
    let mut presented = busy.presented();
    let mut now = T0;
    loop {
        now += p.idle_timeout - 60;
        let (rotation, next) = rotate(store, &presented, now, &p, &entropy).await;
        if now >= T0 + p.absolute_timeout {
            assert_eq!(
                rotation,
                Rotation::Ended,
                "absolute lifetime reached at {now}"
            );
            break;
        }
        assert!(
            matches!(rotation, Rotation::Rotated(_)),
            "active session at {now}: {rotation:?}"
        );
        presented = PresentedRefresh::parse(next.token(&u.bob).expose()).unwrap();
    }
    assert!(store.sessions_of(&u.bob, now).await.unwrap().is_empty());
}

async fn limit_evicts_oldest<S: SessionStore>(store: &S) {
    let entropy = OsEntropy;
    let u = Users::fresh();
    let p = policy(Some(3));
    let mut logins = Vec::new();
    for i in 0..5 {
        logins.push(login(store, &u.alice, T0 + i, &p, &entropy).await);
    }
    let live: Vec<SessionId> = store
        .sessions_of(&u.alice, T0 + 10)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    let newest: Vec<SessionId> = logins[2..].iter().map(|l| l.record.id.clone()).collect();
    assert_eq!(live, newest);
    assert!(store.is_revoked(&logins[0].record.id).await.unwrap());
    assert!(store.is_revoked(&logins[1].record.id).await.unwrap());
    assert!(!store.is_revoked(&logins[2].record.id).await.unwrap());
    let (rotation, _) = rotate(store, &logins[0].presented(), T0 + 10, &p, &entropy).await;
    assert_eq!(rotation, Rotation::Ended);
}

async fn single_session_mode<S: SessionStore>(store: &S) {
    let entropy = OsEntropy;
    let u = Users::fresh();
    let p = policy(Some(1));
    assert!(p.single_session());
    let old = login(store, &u.alice, T0, &p, &entropy).await;
    let bob = login(store, &u.bob, T0, &p, &entropy).await;
    let new = login(store, &u.alice, T0 + 5, &p, &entropy).await;
    let live: Vec<SessionId> = store
        .sessions_of(&u.alice, T0 + 6)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(live, std::slice::from_ref(&new.record.id));
    assert!(store.is_revoked(&old.record.id).await.unwrap());
    assert!(
        !store.is_revoked(&bob.record.id).await.unwrap(),
        "other users are untouched"
    );
}

async fn revoke_one_and_all<S: SessionStore>(store: &S) {
    let entropy = OsEntropy;
    let u = Users::fresh();
    let p = policy(None);
    let a = login(store, &u.alice, T0, &p, &entropy).await;
    let b = login(store, &u.alice, T0 + 1, &p, &entropy).await;
    let c = login(store, &u.alice, T0 + 2, &p, &entropy).await;
    let bob = login(store, &u.bob, T0, &p, &entropy).await;
    assert_eq!(
        store
            .revoke(&a.record.id, &u.alice, T0 + 3)
            .await
            .unwrap()
            .map(|s| s.id),
        Some(a.record.id.clone())
    );
    assert!(store.is_revoked(&a.record.id).await.unwrap());
    assert_eq!(
        store.revoke(&a.record.id, &u.alice, T0 + 3).await.unwrap(),
        None,
        "revoking twice is harmless"
    );
    assert_eq!(
        store
            .revoke(&bob.record.id, &u.alice, T0 + 3)
            .await
            .unwrap(),
        None,
        "nobody ends a session that is not theirs"
    );
    assert!(!store.is_revoked(&bob.record.id).await.unwrap());
    assert_eq!(
        rotate(store, &a.presented(), T0 + 4, &p, &entropy).await.0,
        Rotation::Ended
    );

    let mut ended = store.revoke_all(&u.alice, T0 + 5).await.unwrap();
    ended.sort();
    let mut expected = vec![b.record.id.clone(), c.record.id.clone()];
    expected.sort();
    assert_eq!(ended, expected);
    assert!(store.is_revoked(&b.record.id).await.unwrap());
    assert!(store.is_revoked(&c.record.id).await.unwrap());
    assert!(store
        .sessions_of(&u.alice, T0 + 6)
        .await
        .unwrap()
        .is_empty());
    assert!(!store.is_revoked(&bob.record.id).await.unwrap());
    assert_eq!(store.sessions_of(&u.bob, T0 + 6).await.unwrap().len(), 1);
}

async fn standing_follows_the_session<S: SessionStore>(store: &S) {
    let entropy = OsEntropy;
    let u = Users::fresh();
    let p = policy(None);
    let a = login(store, &u.alice, T0, &p, &entropy).await;
    let b = login(store, &u.alice, T0 + 1, &p, &entropy).await;
    assert_eq!(
        store
            .standing(&a.record.id, &u.alice, T0 + 2)
            .await
            .unwrap(),
        Standing::Live(a.record.clone())
    );
    let live = |answer: Standing| matches!(answer, Standing::Live(_));
    assert!(
        !live(store.standing(&a.record.id, &u.bob, T0 + 2).await.unwrap()),
        "a session stands for its own user only"
    );
    let stranger = SessionId::generate(&entropy).unwrap();
    assert!(!live(
        store.standing(&stranger, &u.alice, T0 + 2).await.unwrap()
    ));
    assert!(
        !live(
            store
                .standing(&b.record.id, &u.alice, T0 + 1 + p.idle_timeout)
                .await
                .unwrap()
        ),
        "past its idle end"
    );

    let (rotation, _) = rotate(store, &b.presented(), T0 + 100, &p, &entropy).await;
    let Rotation::Rotated(rotated) = rotation else {
        panic!("current token must rotate: {rotation:?}")
    };
    assert_eq!(
        store
            .standing(&b.record.id, &u.alice, T0 + 101)
            .await
            .unwrap(),
        Standing::Live(rotated),
        "the record as the last refresh left it"
    );

    store
        .revoke(&a.record.id, &u.alice, T0 + 102)
        .await
        .unwrap();
    assert_eq!(
        store
            .standing(&a.record.id, &u.alice, T0 + 103)
            .await
            .unwrap(),
        Standing::Ended
    );
    store.revoke_all(&u.alice, T0 + 104).await.unwrap();
    assert_eq!(
        store
            .standing(&b.record.id, &u.alice, T0 + 105)
            .await
            .unwrap(),
        Standing::Ended
    );
}
