//! Every branch of the request-path decision, natively, against the in-memory store.

use crate::auth::names::role::testing::{role, roles};
use crate::auth::names::username::testing::named;
use crate::auth::names::username::Username;
use std::cell::{Cell, RefCell};

use super::*;
use crate::auth::http::cookie::SetCookie;

use crate::auth::audit::{AuditEvent, EventKind};
use crate::auth::config::Config;
use crate::auth::env::UnixTime;
use crate::auth::gate::cache::IsolateCaches;
use crate::auth::http::forward::Identity;
use crate::auth::http::request::RequestFacts;
use crate::auth::names::session_id::SessionId;
use crate::auth::policy::RoleNeed;
use crate::auth::session::record::SessionRecord;
use crate::auth::session::refresh::{NewRefresh, PresentedRefresh};
use crate::auth::session::store::{Rotation, SessionStore, StoreError};

use crate::auth::env::testing::{BrokenEntropy, SeededEntropy};
use crate::auth::gate::cache::CacheSettings;
use crate::auth::http::request::tests::facts;
use crate::auth::session::record::SessionPolicy;
use crate::auth::token::validate_assertion;
use crate::testing::memory_store::MemoryStore;

/// How the gate's tests check DPoP proofs: in Rust natively; in wasm, where the worker leaves
/// the arithmetic to WebCrypto and the crate carries none, the proof tests do not run.
#[cfg(not(target_arch = "wasm32"))]
const PROOFS: &crate::auth::token::public_keys::LocalSignatureCheck =
    &crate::auth::token::public_keys::LocalSignatureCheck;
#[cfg(target_arch = "wasm32")]
const PROOFS: &NoProofs = &NoProofs;

pub(super) const NOW: UnixTime = 1_800_000_000;

/// The browser every test signs in with and (unless it says otherwise) browses with.
pub(super) const CHROME_LINUX: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36";
const FIREFOX_WINDOWS: &str =
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:127.0) Gecko/20100101 Firefox/127.0";

pub(crate) fn config() -> Config {
    config_with(&[])
}

pub(crate) fn config_with(extra: &[(&str, &str)]) -> Config {
    let vars = [
        ("ORIGIN_URL", "https://origin.example"),
        ("ISSUER", "https://edge.example"),
        ("ORIGIN_AUDIENCE", "origin"),
        (
            "SESSION_KEYS",
            "s1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",
        ),
        (
            "ASSERTION_KEYS",
            "a1:ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8",
        ),
        ("PUBLIC_PATHS", "/public/"),
    ];
    Config::from_lookup(&|name| {
        extra
            .iter()
            .chain(vars.iter())
            .find(|(k, _)| *k == name)
            .map(|(_, v)| (*v).to_owned())
    })
    .unwrap()
}

/// The in-memory store, counting revocation reads and able to fail every call.
#[derive(Default)]
pub(super) struct Store {
    inner: MemoryStore,
    pub(super) revocation_reads: Cell<u32>,
    pub(super) down: Cell<bool>,
    /// Ending a session fails (everything else works).
    revocations_down: Cell<bool>,
}

/// One turn of waiting, as every call of a real binding takes: pending once, then ready. The
/// test store and signer wait so, so that a decision that needs them cannot finish at once
/// (`at_once_tests.rs`).
pub(super) struct Io(bool);

impl core::future::Future for Io {
    type Output = ();

    fn poll(
        mut self: core::pin::Pin<&mut Self>,
        cx: &mut core::task::Context<'_>,
    ) -> core::task::Poll<()> {
        if self.0 {
            return core::task::Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        core::task::Poll::Pending
    }
}

/// Signs as [`LocalSigner`] does, after a turn of waiting, as WebCrypto's `sign` does.
pub(super) struct Signer;

impl AssertionSigner for Signer {
    async fn sign(
        &self,
        ring: &crate::auth::token::keys::AssertionKeyRing,
        unsigned: crate::auth::token::Unsigned,
    ) -> Result<crate::auth::secret::Assertion, crate::auth::token::MintError> {
        Io(false).await;
        LocalSigner.sign(ring, unsigned).await
    }
}

impl Store {
    fn check(&self) -> Result<(), StoreError> {
        match self.down.get() {
            true => Err(StoreError::Unavailable("injected outage\nat stack".into())),
            false => Ok(()),
        }
    }
}

impl SessionStore for Store {
    async fn create(
        &self,
        record: SessionRecord,
        policy: &SessionPolicy,
        now: UnixTime,
    ) -> Result<Vec<SessionId>, StoreError> {
        Io(false).await;
        self.check()?;
        self.inner.create(record, policy, now).await
    }
    async fn session(
        &self,
        id: &SessionId,
        now: UnixTime,
    ) -> Result<Option<SessionRecord>, StoreError> {
        Io(false).await;
        self.check()?;
        self.inner.session(id, now).await
    }
    async fn rotate(
        &self,
        presented: &PresentedRefresh,
        replacement: crate::auth::session::refresh::TokenHash,
        policy: &SessionPolicy,
        now: UnixTime,
    ) -> Result<Rotation, StoreError> {
        Io(false).await;
        self.check()?;
        self.inner.rotate(presented, replacement, policy, now).await
    }
    async fn sessions_of(
        &self,
        user: &Username,
        now: UnixTime,
    ) -> Result<Vec<SessionRecord>, StoreError> {
        Io(false).await;
        self.check()?;
        self.inner.sessions_of(user, now).await
    }
    async fn bind_device_key(
        &self,
        id: &SessionId,
        user: &Username,
        key: crate::auth::token::dbsc::DeviceKey,
        now: UnixTime,
    ) -> Result<Option<SessionRecord>, StoreError> {
        Io(false).await;
        self.check()?;
        self.inner.bind_device_key(id, user, key, now).await
    }
    async fn revoke(
        &self,
        id: &SessionId,
        user: &Username,
        now: UnixTime,
    ) -> Result<Option<SessionRecord>, StoreError> {
        Io(false).await;
        self.check()?;
        if self.revocations_down.get() {
            return Err(StoreError::Unavailable(
                "injected revocation failure".into(),
            ));
        }
        self.inner.revoke(id, user, now).await
    }
    async fn revoke_all(
        &self,
        user: &Username,
        now: UnixTime,
    ) -> Result<Vec<SessionId>, StoreError> {
        Io(false).await;
        self.check()?;
        self.inner.revoke_all(user, now).await
    }
    async fn is_revoked(&self, id: &SessionId) -> Result<bool, StoreError> {
        Io(false).await;
        self.check()?;
        self.revocation_reads.set(self.revocation_reads.get() + 1);
        self.inner.is_revoked(id).await
    }
}

#[derive(Default)]
pub(super) struct Recorder(RefCell<Vec<AuditEvent>>);

impl AuditSink for Recorder {
    fn record(&self, event: AuditEvent) {
        self.0.borrow_mut().push(event);
    }
}

impl Recorder {
    /// Forgets the lines so far: a test's setup is not what it observes.
    pub(super) fn clear(&self) {
        self.0.borrow_mut().clear();
    }

    pub(super) fn kinds(&self) -> Vec<EventKind> {
        self.0.borrow().iter().map(|event| event.event).collect()
    }
}

struct Disabled;

impl Accounts for Disabled {
    async fn still_enabled(&self, _user: &Username) -> Result<bool, StoreError> {
        Ok(false)
    }
}

/// The background work requests left, to run when a test says.
#[derive(Default)]
pub(super) struct Later(RefCell<Vec<Held>>);

impl Background for Later {
    fn recheck(&self, held: Held) {
        self.0.borrow_mut().push(held);
    }
}

/// One deployment (configuration, store, caches) and the sessions it issued.
pub(super) struct World {
    pub(super) config: Config,
    pub(super) store: Store,
    caches: IsolateCaches,
    pub(super) audit: Recorder,
    entropy: SeededEntropy,
    pub(super) later: Later,
}

/// A logged-in browser: its two cookies.
pub(super) struct Browser {
    pub(super) access: String,
    pub(super) refresh: String,
    pub(super) session: SessionId,
}

impl Browser {
    fn held(&self) -> Held {
        Held {
            id: self.session.clone(),
            user: named("alice"),
        }
    }
}

impl World {
    pub(super) fn new(config: Config) -> Self {
        Self {
            caches: IsolateCaches::new(config.caches),
            config,
            store: Store::default(),
            audit: Recorder::default(),
            entropy: SeededEntropy::default(),
            later: Later::default(),
        }
    }

    pub(super) fn gate(&self, now: UnixTime) -> Gate<'_, Store, NoAccountCheck, Signer> {
        self.gate_with(now, &NoAccountCheck)
    }

    fn gate_with<'a, A: Accounts>(
        &'a self,
        now: UnixTime,
        accounts: &'a A,
    ) -> Gate<'a, Store, A, Signer> {
        Gate {
            config: &self.config,
            store: &self.store,
            accounts,
            signer: &Signer,
            proofs: PROOFS,
            caches: &self.caches,
            audit: &self.audit,
            background: &self.later,
            now,
            entropy: &self.entropy,
        }
    }

    /// A login at `now` from [`CHROME_LINUX`], as the login handler performs it.
    pub(super) fn login(&self, now: UnixTime) -> Browser {
        self.login_from(now, CHROME_LINUX)
    }

    /// A login at `now` from a client sending `user_agent`.
    fn login_from(&self, now: UnixTime, user_agent: &str) -> Browser {
        self.login_as(&named("alice"), now, user_agent)
    }

    /// A login of `user` at `now` from a client sending `user_agent`, the session opened as
    /// every sign-in opens it.
    pub(super) fn login_as(&self, user: &Username, now: UnixTime, user_agent: &str) -> Browser {
        let gate = self.gate(now);
        let arriving = facts("POST", "/auth/login", &[("user-agent", user_agent)]);
        let opening = signin::Opening {
            delivery: signin::Delivery::Cookies,
            signed_in_from: None,
            provider_session: None,
            key: None,
        };
        let opened = pollster::block_on(gate.open_session(
            &arriving,
            user.clone(),
            vec![role("staff")],
            opening,
        ))
        .unwrap();
        // The sign-in's own audit line is the setup's, not what a test observes.
        self.audit.0.borrow_mut().clear();
        let cookies = gate.session_cookies(&opened.tokens).unwrap();
        Browser {
            access: cookie_value(&cookies[0]),
            refresh: cookie_value(&cookies[1]),
            session: opened.record.id,
        }
    }

    /// Runs the background work left so far, at `now`, as the worker does once the answer is
    /// sent; returns how many re-checks ran.
    pub(super) fn run_later(&self, now: UnixTime) -> usize {
        let due: Vec<Held> = self.later.0.borrow_mut().drain(..).collect();
        for held in &due {
            pollster::block_on(self.gate(now).recheck(held));
        }
        due.len()
    }

    pub(super) fn protect(&self, now: UnixTime, req: &RequestFacts) -> Verdict {
        pollster::block_on(self.gate(now).protect(req))
    }
}

fn cookie_value(set_cookie: &str) -> String {
    let pair = set_cookie.split(';').next().unwrap();
    pair.split_once('=').unwrap().1.to_owned()
}

pub(super) fn cookie_header(
    config: &Config,
    access: Option<&str>,
    refresh: Option<&str>,
) -> String {
    let names = config.cookies.names();
    let mut pairs = vec!["theme=dark".to_owned()];
    pairs.extend(access.map(|token| format!("{}={token}", names.access)));
    pairs.extend(refresh.map(|token| format!("{}={token}", names.refresh)));
    pairs.join("; ")
}

pub(super) fn api_request(cookie: &str) -> RequestFacts {
    api_request_from(cookie, CHROME_LINUX)
}

/// An API call from a client sending `user_agent` (none when empty).
fn api_request_from(cookie: &str, user_agent: &str) -> RequestFacts {
    let mut headers = vec![("Cookie", cookie)];
    if !user_agent.is_empty() {
        headers.push(("User-Agent", user_agent));
    }
    facts("GET", "/app/data?x=1", &headers)
}

pub(super) fn navigation(cookie: &str) -> RequestFacts {
    facts(
        "GET",
        "/app/page?x=1",
        &[
            ("Cookie", cookie),
            ("Accept", "text/html"),
            ("User-Agent", CHROME_LINUX),
        ],
    )
}

pub(super) fn forwarded(verdict: Verdict) -> (Identity, Vec<SetCookie>) {
    match verdict {
        Verdict::Forward {
            identity: Some(identity),
            set_cookies,
        } => (identity, set_cookies),
        other => panic!("expected a forward with identity, got {other:?}"),
    }
}

pub(super) fn refused(verdict: Verdict) -> (Refusal, Vec<SetCookie>) {
    match verdict {
        Verdict::Refuse {
            refusal,
            set_cookies,
        } => (refusal, set_cookies),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn is_clearing(cookies: &[SetCookie]) -> bool {
    cookies.len() == 2 && cookies.iter().all(|cookie| cookie.contains("Max-Age=0"))
}

#[test]
fn a_valid_access_cookie_forwards_a_verifiable_identity() {
    let world = World::new(config());
    let browser = world.login(NOW);
    let cookie = cookie_header(&world.config, Some(&browser.access), None);
    let (identity, set_cookies) = forwarded(world.protect(NOW + 1, &api_request(&cookie)));
    assert!(set_cookies.is_empty());
    assert_eq!(identity.user, "alice");
    assert_eq!(identity.session, browser.session.as_str());
    let assertion = validate_assertion(
        &world.config.assertion_keys,
        identity.assertion.expose(),
        &world.config.assertion_audience,
        0,
        NOW + 1,
    )
    .unwrap();
    assert_eq!(assertion.roles(), ["staff"]);
    assert_eq!(
        assertion.expires_at() - (NOW + 1),
        world.config.assertion_ttl
    );
    assert!(world.audit.kinds().is_empty());
}

#[test]
fn a_public_path_forwards_without_identity_or_session_work() {
    let world = World::new(config());
    let req = facts("GET", "/public/logo.png", &[]);
    assert_eq!(
        world.protect(NOW, &req),
        Verdict::Forward {
            identity: None,
            set_cookies: vec![]
        }
    );
    assert_eq!(world.store.revocation_reads.get(), 0);
}

#[test]
fn no_cookie_is_a_401_for_api_calls_and_a_login_redirect_for_navigations() {
    let world = World::new(config());
    let (refusal, set_cookies) = refused(world.protect(NOW, &api_request("theme=dark")));
    assert_eq!((refusal.status(), refusal.code()), (401, "unauthenticated"));
    assert!(set_cookies.is_empty());
    match world.protect(NOW, &navigation("theme=dark")) {
        Verdict::Redirect {
            location,
            set_cookies,
        } => {
            assert_eq!(location, "/auth/login?next=/app/page%3Fx%3D1");
            assert!(is_clearing(&set_cookies));
        }
        other => panic!("{other:?}"),
    }
    assert!(world.audit.kinds().is_empty());
}

#[test]
fn a_revoked_session_is_refused_and_its_cookies_cleared() {
    let world = World::new(config());
    let browser = world.login(NOW);
    pollster::block_on(world.store.revoke(&browser.session, &named("alice"), NOW)).unwrap();
    let cookie = cookie_header(&world.config, Some(&browser.access), None);
    let (refusal, set_cookies) = refused(world.protect(NOW + 1, &api_request(&cookie)));
    assert_eq!((refusal.status(), refusal.code()), (401, "session_ended"));
    assert!(is_clearing(&set_cookies));
    assert_eq!(world.audit.kinds(), [EventKind::TokenRejected]);
    assert!(matches!(
        world.protect(NOW + 1, &navigation(&cookie)),
        Verdict::Redirect { .. }
    ));
}

#[test]
fn an_expired_access_token_is_refreshed_in_place() {
    let world = World::new(config());
    let browser = world.login(NOW);
    let later = NOW + 120;
    let cookie = cookie_header(&world.config, Some(&browser.access), Some(&browser.refresh));
    let (identity, set_cookies) = forwarded(world.protect(later, &api_request(&cookie)));
    assert_eq!(identity.session, browser.session.as_str());
    assert_eq!(set_cookies.len(), 2, "a new access and refresh cookie");
    assert_ne!(cookie_value(&set_cookies[1]), browser.refresh);
    assert_eq!(world.audit.kinds(), [EventKind::Refresh]);
    // The new access token works on its own.
    let renewed = cookie_header(&world.config, Some(&cookie_value(&set_cookies[0])), None);
    forwarded(world.protect(later + 1, &api_request(&renewed)));
}

#[test]
fn a_refresh_cookie_alone_restores_the_session() {
    let world = World::new(config());
    let browser = world.login(NOW);
    let cookie = cookie_header(&world.config, None, Some(&browser.refresh));
    let (_, set_cookies) = forwarded(world.protect(NOW + 1, &api_request(&cookie)));
    assert_eq!(set_cookies.len(), 2);
}

#[test]
fn two_tabs_refreshing_at_once_both_continue_within_the_grace_window() {
    let world = World::new(config());
    let browser = world.login(NOW);
    let cookie = cookie_header(&world.config, None, Some(&browser.refresh));
    forwarded(world.protect(NOW + 100, &api_request(&cookie)));
    let (_, set_cookies) = forwarded(world.protect(NOW + 101, &api_request(&cookie)));
    assert_eq!(set_cookies.len(), 1, "grace: an access token only");
    assert_eq!(
        world.audit.kinds(),
        [EventKind::Refresh, EventKind::RefreshGrace]
    );
}

#[test]
fn a_reused_refresh_token_ends_the_session() {
    let world = World::new(config());
    let browser = world.login(NOW);
    let cookie = cookie_header(&world.config, None, Some(&browser.refresh));
    let (_, rotated) = forwarded(world.protect(NOW + 100, &api_request(&cookie)));
    let grace = world.config.policy.refresh_grace;
    let (refusal, set_cookies) = refused(world.protect(NOW + 101 + grace, &api_request(&cookie)));
    assert_eq!(refusal, Refusal::RefreshReused);
    assert!(is_clearing(&set_cookies));
    assert_eq!(
        world.audit.kinds(),
        [EventKind::Refresh, EventKind::ReuseDetected]
    );
    // The legitimate holder's newer token is dead too.
    let newer = cookie_header(&world.config, None, Some(&cookie_value(&rotated[1])));
    let (refusal, _) = refused(world.protect(NOW + 102 + grace, &api_request(&newer)));
    assert_eq!(refusal, Refusal::SessionExpired);
}

#[test]
fn an_unknown_refresh_token_is_refused_and_audited() {
    let world = World::new(config());
    let stranger = World::new(config());
    let browser = stranger.login(NOW);
    let cookie = cookie_header(&world.config, None, Some(&browser.refresh));
    let (refusal, set_cookies) = refused(world.protect(NOW, &api_request(&cookie)));
    assert_eq!((refusal.status(), refusal.code()), (401, "session_expired"));
    assert!(is_clearing(&set_cookies));
    assert_eq!(world.audit.kinds(), [EventKind::RefreshRefused]);
}

#[test]
fn a_disabled_account_ends_its_sessions_at_refresh() {
    let world = World::new(config());
    let browser = world.login(NOW);
    let other = world.login(NOW);
    let cookie = cookie_header(&world.config, None, Some(&browser.refresh));
    let verdict = pollster::block_on(
        world
            .gate_with(NOW + 1, &Disabled)
            .protect(&api_request(&cookie)),
    );
    assert_eq!(refused(verdict).0, Refusal::SessionExpired);
    assert_eq!(world.audit.kinds(), [EventKind::RevokeAll]);
    assert!(pollster::block_on(world.store.is_revoked(&other.session)).unwrap());
}

#[test]
fn a_provider_user_has_no_local_account_to_check_at_refresh() {
    let world = World::new(config_with(&[
        ("OIDC_PROVIDERS", "corp"),
        ("OIDC_CORP_ISSUER", "https://id.example.com"),
        ("OIDC_CORP_CLIENT_ID", "edge"),
        ("OIDC_CORP_CLIENT_SECRET", "secret"),
    ]));
    let provider_user = world.login_as(
        &Username::federated("corp", "u-1").unwrap(),
        NOW,
        CHROME_LINUX,
    );
    let cookie = cookie_header(&world.config, None, Some(&provider_user.refresh));
    let verdict = pollster::block_on(
        world
            .gate_with(NOW + 1, &Disabled)
            .protect(&api_request(&cookie)),
    );
    assert_eq!(forwarded(verdict).0.user, "corp:u-1");
    // A user of a provider no longer configured is checked, and has no account.
    let gone = world.login_as(
        &Username::federated("gone", "u-1").unwrap(),
        NOW,
        CHROME_LINUX,
    );
    let cookie = cookie_header(&world.config, None, Some(&gone.refresh));
    let verdict = pollster::block_on(
        world
            .gate_with(NOW + 1, &Disabled)
            .protect(&api_request(&cookie)),
    );
    assert_eq!(refused(verdict).0, Refusal::SessionExpired);
}

#[test]
fn forged_malformed_and_tossed_cookies_are_refused_and_audited() {
    let world = World::new(config());
    let browser = world.login(NOW);
    let forged = format!("{}x", browser.access);
    let cookie = cookie_header(&world.config, Some(&forged), None);
    assert_eq!(
        refused(world.protect(NOW, &api_request(&cookie))).0,
        Refusal::NoSession
    );
    let names = world.config.cookies.names();
    let tossed = format!(
        "{n}={a}; {n}={a}; {r}={t}",
        n = names.access,
        a = browser.access,
        r = names.refresh,
        t = browser.refresh
    );
    assert_eq!(
        refused(world.protect(NOW, &api_request(&tossed))).0,
        Refusal::NoSession
    );
    assert_eq!(
        world.audit.kinds(),
        [EventKind::TokenRejected, EventKind::CookieTossing]
    );
}

#[test]
fn a_storage_outage_fails_closed_without_clearing_cookies() {
    let world = World::new(config());
    let browser = world.login(NOW);
    world.store.down.set(true);
    for cookie in [
        cookie_header(&world.config, Some(&browser.access), None),
        cookie_header(&world.config, None, Some(&browser.refresh)),
    ] {
        let (refusal, set_cookies) = refused(world.protect(NOW + 1, &api_request(&cookie)));
        assert_eq!((refusal.status(), refusal.code()), (503, "unavailable"));
        assert!(set_cookies.is_empty());
        // Not a login redirect either: the session may be fine once storage is back.
        assert!(matches!(
            world.protect(NOW + 1, &navigation(&cookie)),
            Verdict::Refuse { .. }
        ));
    }
    let events = world.audit.0.borrow();
    assert!(events.iter().all(|e| e.event == EventKind::StoreFailure));
    assert_eq!(
        events[0].detail.as_deref(),
        Some("session storage unavailable: injected outage")
    );
}

#[test]
fn no_randomness_means_no_refresh() {
    let world = World::new(config());
    let browser = world.login(NOW);
    let cookie = cookie_header(&world.config, None, Some(&browser.refresh));
    let broken = Gate {
        entropy: &BrokenEntropy,
        ..world.gate(NOW + 1)
    };
    let verdict = pollster::block_on(broken.protect(&api_request(&cookie)));
    assert_eq!(refused(verdict).0.status(), 500);
}

#[test]
fn the_revocation_read_is_cached_for_its_ttl_and_forgotten_on_logout() {
    let world = World::new(config());
    let browser = world.login(NOW);
    let cookie = cookie_header(&world.config, Some(&browser.access), None);
    let ttl = world.config.caches.revocation_ttl;
    forwarded(world.protect(NOW, &api_request(&cookie)));
    forwarded(world.protect(NOW + ttl - 1, &api_request(&cookie)));
    assert_eq!(
        world.store.revocation_reads.get(),
        1,
        "second answer from the cache"
    );
    forwarded(world.protect(NOW + ttl, &api_request(&cookie)));
    assert_eq!(
        world.store.revocation_reads.get(),
        2,
        "asked again after the ttl"
    );
    // Ended through this isolate: refused at once, cache or not.
    pollster::block_on(world.gate(NOW + ttl).end_session(&browser.held())).unwrap();
    let (refusal, _) = refused(world.protect(NOW + ttl, &api_request(&cookie)));
    assert_eq!(refusal, Refusal::SessionEnded);
}

/// Ends `browser`'s session behind this isolate's back (another location, the operator tool).
fn end_elsewhere(world: &World, browser: &Browser) {
    pollster::block_on(
        world
            .store
            .inner
            .revoke(&browser.session, &named("alice"), NOW),
    )
    .unwrap();
}

#[test]
fn a_revocation_elsewhere_is_seen_within_the_cache_ttl() {
    let (world, browser, req, ttl) = heard_at_now();
    end_elsewhere(&world, &browser);
    forwarded(world.protect(NOW + ttl - 1, &req));
    assert_eq!(
        refused(world.protect(NOW + ttl, &req)).0,
        Refusal::SessionEnded
    );
}

/// A deployment, a session signed in at `NOW` and the request of its access cookie, answered
/// once at `NOW` (so the isolate heard that the session stands then); and the revocation TTL.
fn heard_at_now() -> (World, Browser, RequestFacts, UnixTime) {
    let world = World::new(config());
    let browser = world.login(NOW);
    let req = api_request(&cookie_header(&world.config, Some(&browser.access), None));
    let ttl = world.config.caches.revocation_ttl;
    forwarded(world.protect(NOW, &req));
    (world, browser, req, ttl)
}

#[test]
fn past_half_the_ttl_the_answer_stands_and_one_check_goes_to_the_background() {
    let (world, _, req, ttl) = heard_at_now();
    assert_eq!(world.store.revocation_reads.get(), 1);
    // Before half the TTL: nothing asked, nothing scheduled.
    forwarded(world.protect(NOW + 1, &req));
    assert_eq!(world.later.0.borrow().len(), 0);
    // Past half: answered at once, one check scheduled, however many requests come.
    for _ in 0..3 {
        forwarded(world.protect(NOW + ttl - 1, &req));
    }
    assert_eq!(world.store.revocation_reads.get(), 1, "no request waited");
    assert_eq!(world.run_later(NOW + ttl - 1), 1, "one check in flight");
    assert_eq!(world.store.revocation_reads.get(), 2);
    // The check renewed the answer: past the first answer's TTL, still no request waits.
    forwarded(world.protect(NOW + ttl, &req));
    assert_eq!(world.store.revocation_reads.get(), 2);
}

#[test]
fn a_background_check_that_finds_the_session_ended_refuses_the_next_request() {
    let (world, browser, req, ttl) = heard_at_now();
    end_elsewhere(&world, &browser);
    forwarded(world.protect(NOW + ttl / 2 + 1, &req));
    assert_eq!(world.run_later(NOW + ttl / 2 + 1), 1);
    assert_eq!(
        refused(world.protect(NOW + ttl / 2 + 1, &req)).0,
        Refusal::SessionEnded,
        "refused before the TTL ran out"
    );
}

#[test]
fn a_background_check_without_an_answer_fails_closed_once_the_ttl_runs_out() {
    let (world, _, req, ttl) = heard_at_now();
    world.store.down.set(true);
    forwarded(world.protect(NOW + ttl - 1, &req));
    assert_eq!(world.run_later(NOW + ttl - 1), 1);
    assert!(world.audit.kinds().contains(&EventKind::StoreFailure));
    // Still within the answer's life: it stands, and the next request may ask again.
    forwarded(world.protect(NOW + ttl - 1, &req));
    assert_eq!(
        world.later.0.borrow().len(),
        1,
        "asked again after a failure"
    );
    let (refusal, _) = refused(world.protect(NOW + ttl, &req));
    assert_eq!(refusal.status(), 503);
}

#[test]
fn ending_all_sessions_forgets_them_all_in_the_isolate() {
    let world = World::new(config());
    let first = world.login(NOW);
    let second = world.login(NOW);
    let requests: Vec<_> = [&first, &second]
        .iter()
        .map(|browser| api_request(&cookie_header(&world.config, Some(&browser.access), None)))
        .collect();
    for req in &requests {
        forwarded(world.protect(NOW, req));
    }
    pollster::block_on(world.gate(NOW).end_all(&named("alice"))).unwrap();
    for req in &requests {
        assert_eq!(
            refused(world.protect(NOW + 1, req)).0,
            Refusal::SessionEnded
        );
    }
}

#[test]
fn with_the_caches_off_every_request_asks_storage() {
    let world = World::new(config_with(&[
        ("REVOCATION_CACHE_TTL", "0"),
        ("ISOLATE_CACHE_ENTRIES", "0"),
    ]));
    let browser = world.login(NOW);
    let cookie = cookie_header(&world.config, Some(&browser.access), None);
    let first = forwarded(world.protect(NOW, &api_request(&cookie))).0;
    let second = forwarded(world.protect(NOW, &api_request(&cookie))).0;
    assert_eq!(world.store.revocation_reads.get(), 2);
    assert_ne!(
        first.assertion, second.assertion,
        "every request signs anew"
    );
    assert_eq!(world.caches.sizes(), (0, 0, 0));
}

#[test]
fn an_assertion_is_reused_while_half_its_lifetime_remains() {
    let world = World::new(config());
    let browser = world.login(NOW);
    let cookie = cookie_header(&world.config, Some(&browser.access), None);
    let ttl = world.config.assertion_ttl;
    let first = forwarded(world.protect(NOW, &api_request(&cookie))).0;
    let reused = forwarded(world.protect(NOW + ttl / 2, &api_request(&cookie))).0;
    assert_eq!(first.assertion, reused.assertion);
    let fresh = forwarded(world.protect(NOW + ttl / 2 + 1, &api_request(&cookie))).0;
    assert_ne!(first.assertion, fresh.assertion);
    let verified = validate_assertion(
        &world.config.assertion_keys,
        fresh.assertion.expose(),
        &world.config.assertion_audience,
        0,
        NOW + ttl / 2 + 1,
    )
    .unwrap();
    assert_eq!(verified.expires_at(), NOW + ttl / 2 + 1 + ttl);
}

#[test]
fn a_cached_token_is_never_trusted_past_its_expiry() {
    let world = World::new(config_with(&[("CLOCK_LEEWAY", "0")]));
    let browser = world.login(NOW);
    let cookie = cookie_header(&world.config, Some(&browser.access), None);
    forwarded(world.protect(NOW, &api_request(&cookie)));
    let expiry = NOW + world.config.policy.access_ttl;
    forwarded(world.protect(expiry - 1, &api_request(&cookie)));
    assert_eq!(
        refused(world.protect(expiry + 1, &api_request(&cookie))).0,
        Refusal::NoSession
    );
    assert_eq!(world.audit.kinds(), [EventKind::TokenRejected]);
}

#[test]
fn held_session_is_the_access_token_or_the_current_refresh_token() {
    let world = World::new(config());
    let browser = world.login(NOW);
    let gate = world.gate(NOW + 1);
    let by_access = api_request(&cookie_header(&world.config, Some(&browser.access), None));
    let by_refresh = api_request(&cookie_header(&world.config, None, Some(&browser.refresh)));
    for req in [&by_access, &by_refresh] {
        assert_eq!(
            pollster::block_on(gate.held_session(req)).unwrap(),
            Some(browser.held())
        );
    }
    // Once rotated, the old refresh token holds nothing.
    forwarded(world.protect(NOW + 100, &by_refresh));
    let gate = world.gate(NOW + 101);
    assert_eq!(
        pollster::block_on(gate.held_session(&by_refresh)).unwrap(),
        None
    );
    assert_eq!(
        pollster::block_on(gate.held_session(&api_request("theme=dark"))).unwrap(),
        None
    );
}

/// An API call presenting `authorization`, with `cookie` beside it (none when empty).
pub(super) fn bearer_request(authorization: &str, cookie: &str, accept: &str) -> RequestFacts {
    let mut headers = vec![
        ("Authorization", authorization),
        ("User-Agent", CHROME_LINUX),
        ("Accept", accept),
    ];
    if !cookie.is_empty() {
        headers.push(("Cookie", cookie));
    }
    facts("GET", "/app/data", &headers)
}

#[test]
fn a_bearer_token_is_an_access_token_checked_like_the_cookie() {
    let world = World::new(config());
    let client = world.login(NOW);
    let bearer = format!("Bearer {}", client.access);
    let (identity, set_cookies) =
        forwarded(world.protect(NOW + 1, &bearer_request(&bearer, "", "*/*")));
    assert_eq!(identity.session, client.session.as_str());
    assert!(set_cookies.is_empty());
    // Revoked: refused as the cookie would be, but the cookies it carries are not cleared.
    let browser = world.login(NOW);
    let cookies = cookie_header(&world.config, Some(&browser.access), Some(&browser.refresh));
    pollster::block_on(
        world
            .store
            .revoke(&client.session, &named("alice"), NOW + 2),
    )
    .unwrap();
    world.caches.forget(client.session.as_str());
    let (refusal, set_cookies) =
        refused(world.protect(NOW + 3, &bearer_request(&bearer, &cookies, "*/*")));
    assert_eq!(refusal, Refusal::SessionEnded);
    assert!(set_cookies.is_empty(), "a bearer refusal clears no cookies");
}

#[test]
fn a_bad_bearer_token_is_refused_even_beside_a_good_cookie_and_never_refreshed() {
    let world = World::new(config());
    let browser = world.login(NOW);
    let cookies = cookie_header(&world.config, Some(&browser.access), Some(&browser.refresh));
    let expired = format!("Bearer {}", browser.access);
    let forged = format!("Bearer {}x", browser.access);
    let refresh_as_bearer = format!("Bearer {}", browser.refresh);
    for (authorization, at, expected) in [
        (
            expired.as_str(),
            NOW + 600,
            Refusal::InvalidToken {
                expired: true,
                dpop: false,
            },
        ),
        (
            forged.as_str(),
            NOW + 1,
            Refusal::InvalidToken {
                expired: false,
                dpop: false,
            },
        ),
        (
            refresh_as_bearer.as_str(),
            NOW + 1,
            Refusal::InvalidToken {
                expired: false,
                dpop: false,
            },
        ),
        (
            "Bearer a b",
            NOW + 1,
            Refusal::InvalidToken {
                expired: false,
                dpop: false,
            },
        ),
    ] {
        // A navigation too: a bearer client is answered, not sent to the login page.
        for accept in ["*/*", "text/html"] {
            let req = bearer_request(authorization, &cookies, accept);
            let (refusal, set_cookies) = refused(world.protect(at, &req));
            assert_eq!(refusal, expected, "{authorization} {accept}");
            assert!(set_cookies.is_empty());
        }
    }
    assert!(
        !world.audit.kinds().contains(&EventKind::Refresh),
        "never refreshed in place"
    );
    assert!(world
        .audit
        .kinds()
        .iter()
        .all(|kind| *kind == EventKind::TokenRejected));
    // Another scheme is the origin's business: the cookie decides.
    let basic = bearer_request("Basic dXNlcjpwdw==", &cookies, "*/*");
    forwarded(world.protect(NOW + 1, &basic));
}

#[test]
fn a_bearer_request_holds_the_bearer_session_alone() {
    let world = World::new(config());
    let browser = world.login(NOW);
    let client = world.login(NOW);
    let cookies = cookie_header(&world.config, Some(&browser.access), Some(&browser.refresh));
    let gate = world.gate(NOW + 1);
    let bearer = format!("Bearer {}", client.access);
    let held = pollster::block_on(gate.held_session(&bearer_request(&bearer, &cookies, "*/*")));
    assert_eq!(held.unwrap().map(|held| held.id), Some(client.session));
    for bad in ["Bearer nope", "Bearer"] {
        let held = pollster::block_on(gate.held_session(&bearer_request(bad, &cookies, "*/*")));
        assert_eq!(held.unwrap(), None, "{bad}: the cookies do not stand in");
    }
    assert!(gate
        .clearing_cookies(&bearer_request(&bearer, &cookies, "*/*"))
        .is_empty());
}

#[test]
fn refusals_map_to_the_http_contract() {
    let cases = [
        (Refusal::NoSession, 401, "unauthenticated", false),
        (Refusal::SessionEnded, 401, "session_ended", true),
        (Refusal::SessionExpired, 401, "session_expired", true),
        (Refusal::RefreshReused, 401, "refresh_reused", true),
        (Refusal::DeviceMismatch, 401, "device_mismatch", true),
        (
            Refusal::InvalidToken {
                expired: true,
                dpop: false,
            },
            401,
            "invalid_token",
            false,
        ),
        (
            Refusal::Unavailable(StoreError::Unavailable("x".into())),
            503,
            "unavailable",
            false,
        ),
        (
            Refusal::Internal(InternalCause::NoRandomness),
            500,
            "internal",
            false,
        ),
    ];
    for (refusal, status, code, clears) in cases {
        assert_eq!(
            (refusal.status(), refusal.code(), refusal.clears_cookies()),
            (status, code, clears),
            "{refusal:?}"
        );
        assert!(!refusal.message().is_empty());
    }
}

#[test]
fn caches_settings_come_from_the_configuration() {
    let config = config_with(&[("REVOCATION_CACHE_TTL", "0")]);
    assert_eq!(
        config.caches,
        CacheSettings {
            entries: 2048,
            revocation_ttl: 0
        }
    );
}

/// A refresh of a session signed in on [`CHROME_LINUX`], presented by `user_agent` under
/// `SESSION_BINDING = policy`: the world afterwards, the browser and the verdict.
fn refresh_from(policy: &str, user_agent: &str) -> (World, Browser, Verdict) {
    let world = World::new(config_with(&[("SESSION_BINDING", policy)]));
    let browser = world.login(NOW);
    let cookie = cookie_header(&world.config, None, Some(&browser.refresh));
    let verdict = world.protect(NOW + 100, &api_request_from(&cookie, user_agent));
    (world, browser, verdict)
}

fn details(world: &World, kind: EventKind) -> Vec<String> {
    world
        .audit
        .0
        .borrow()
        .iter()
        .filter(|event| event.event == kind)
        .map(|event| event.detail.clone().unwrap_or_default())
        .collect()
}

#[test]
fn a_refresh_from_the_same_device_goes_on_under_every_policy() {
    let updated = CHROME_LINUX.replace("Chrome/126.0.0.0", "Chrome/127.0.6533.88");
    for policy in ["off", "audit", "enforce"] {
        for agent in [CHROME_LINUX, updated.as_str()] {
            let (world, browser, verdict) = refresh_from(policy, agent);
            let (identity, set_cookies) = forwarded(verdict);
            assert_eq!(identity.session, browser.session.as_str());
            assert_eq!(set_cookies.len(), 2, "{policy}: rotated");
            assert_eq!(world.audit.kinds(), [EventKind::Refresh], "{policy}");
        }
    }
}

#[test]
fn a_session_that_recorded_no_device_is_not_bound() {
    for policy in ["audit", "enforce"] {
        let world = World::new(config_with(&[("SESSION_BINDING", policy)]));
        let browser = world.login_from(NOW, "");
        let mut refresh = browser.refresh;
        for (at, agent) in [
            (NOW + 100, FIREFOX_WINDOWS),
            (NOW + 200, ""),
            (NOW + 300, CHROME_LINUX),
        ] {
            let cookie = cookie_header(&world.config, None, Some(&refresh));
            let (_, set_cookies) = forwarded(world.protect(at, &api_request_from(&cookie, agent)));
            assert_eq!(set_cookies.len(), 2, "{policy}, {agent}: rotated");
            refresh = cookie_value(&set_cookies[1]);
        }
        assert_eq!(world.audit.kinds(), [EventKind::Refresh; 3], "{policy}");
    }
}

#[test]
fn off_does_not_compare_devices() {
    let (world, _, verdict) = refresh_from("off", FIREFOX_WINDOWS);
    assert_eq!(forwarded(verdict).1.len(), 2);
    assert_eq!(world.audit.kinds(), [EventKind::Refresh]);
}

#[test]
fn audit_logs_another_device_and_lets_the_refresh_go_on() {
    for agent in [FIREFOX_WINDOWS, "curl/8.5.0", ""] {
        let (world, browser, verdict) = refresh_from("audit", agent);
        let (identity, set_cookies) = forwarded(verdict);
        assert_eq!(identity.session, browser.session.as_str());
        assert_eq!(set_cookies.len(), 2);
        assert_eq!(
            world.audit.kinds(),
            [EventKind::BindingMismatch, EventKind::Refresh],
            "{agent}"
        );
        let detail = &details(&world, EventKind::BindingMismatch)[0];
        assert!(detail.starts_with("signed in on Chrome on Linux, refreshed from "));
        assert!(detail.ends_with("allowed (audit only)"), "{detail}");
    }
    let (world, _, _) = refresh_from("audit", FIREFOX_WINDOWS);
    assert_eq!(
        details(&world, EventKind::BindingMismatch),
        ["signed in on Chrome on Linux, refreshed from Firefox on Windows; allowed (audit only)"]
    );
}

#[test]
fn enforce_refuses_another_device_and_ends_the_session() {
    let chrome_windows = CHROME_LINUX.replace("X11; Linux x86_64", "Windows NT 10.0; Win64; x64");
    for agent in [FIREFOX_WINDOWS, chrome_windows.as_str(), "curl/8.5.0", ""] {
        let (world, browser, verdict) = refresh_from("enforce", agent);
        let (refusal, set_cookies) = refused(verdict);
        assert_eq!(
            (refusal.status(), refusal.code()),
            (401, "device_mismatch"),
            "{agent}"
        );
        assert!(is_clearing(&set_cookies));
        assert_eq!(world.audit.kinds(), [EventKind::BindingMismatch], "{agent}");
        let event = world.audit.0.borrow()[0].clone();
        assert!(event.user.is_some() && event.session.is_some() && event.client.is_some());
        assert!(event
            .detail
            .unwrap()
            .ends_with("refused, ending the session"));
        // The copy is dead, and so is the session for its legitimate holder: the same token
        // from the right browser, and the session's access token, are refused from now on.
        assert!(pollster::block_on(world.store.is_revoked(&browser.session)).unwrap());
        let cookie = cookie_header(&world.config, None, Some(&browser.refresh));
        assert_eq!(
            refused(world.protect(NOW + 101, &api_request(&cookie))).0,
            Refusal::SessionExpired
        );
        let access = cookie_header(&world.config, Some(&browser.access), None);
        assert_eq!(
            refused(world.protect(NOW + 2, &api_request(&access))).0,
            Refusal::SessionEnded,
            "access tokens are not bound, but they die with the session"
        );
    }
}

#[test]
fn enforce_sends_a_navigation_to_sign_in_with_its_reason() {
    let world = World::new(config());
    let browser = world.login(NOW);
    let cookie = cookie_header(&world.config, None, Some(&browser.refresh));
    let req = facts(
        "GET",
        "/app/page",
        &[
            ("Cookie", &cookie),
            ("Accept", "text/html"),
            ("User-Agent", FIREFOX_WINDOWS),
        ],
    );
    match world.protect(NOW + 100, &req) {
        Verdict::Redirect {
            location,
            set_cookies,
        } => {
            assert_eq!(
                location,
                "/auth/login?next=/app/page&reason=device_mismatch"
            );
            assert!(is_clearing(&set_cookies));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_binding_mismatch_in_the_grace_window_ends_the_session_too() {
    let world = World::new(config());
    let browser = world.login(NOW);
    let cookie = cookie_header(&world.config, None, Some(&browser.refresh));
    forwarded(world.protect(NOW + 100, &api_request(&cookie)));
    let (refusal, _) =
        refused(world.protect(NOW + 101, &api_request_from(&cookie, FIREFOX_WINDOWS)));
    assert_eq!(refusal, Refusal::DeviceMismatch);
    assert_eq!(
        world.audit.kinds(),
        [EventKind::Refresh, EventKind::BindingMismatch]
    );
    assert!(pollster::block_on(world.store.is_revoked(&browser.session)).unwrap());
}

#[test]
fn a_token_the_session_does_not_hold_raises_no_mismatch() {
    // Someone who knows only the session id (the origin sees it) cannot end the session by
    // presenting a made-up secret from another device.
    let world = World::new(config());
    let browser = world.login(NOW);
    let made_up = NewRefresh::mint(&browser.session, &crate::auth::env::OsEntropy)
        .unwrap()
        .token(&named("alice"));
    let cookie = cookie_header(&world.config, None, Some(made_up.expose()));
    let (refusal, _) =
        refused(world.protect(NOW + 100, &api_request_from(&cookie, FIREFOX_WINDOWS)));
    assert_eq!(refusal, Refusal::SessionExpired);
    assert_eq!(world.audit.kinds(), [EventKind::RefreshRefused]);
    assert!(!pollster::block_on(world.store.is_revoked(&browser.session)).unwrap());
}

#[test]
fn an_outage_while_ending_a_mismatched_session_fails_closed() {
    let world = World::new(config());
    let browser = world.login(NOW);
    let cookie = cookie_header(&world.config, None, Some(&browser.refresh));
    let gate = world.gate(NOW + 100);
    let req = api_request_from(&cookie, FIREFOX_WINDOWS);
    let presented = req.cookies.refresh().unwrap();
    world.store.revocations_down.set(true);
    let refusal = match pollster::block_on(gate.refresh(&presented, &req, None)) {
        Restored::Refused(refusal) => refusal,
        other => panic!("{other:?}"),
    };
    assert_eq!(refusal.status(), 503);
    assert_eq!(
        world.audit.kinds(),
        [EventKind::BindingMismatch, EventKind::StoreFailure]
    );
}

/// A deployment whose `/app/` needs `ACCESS_POLICY` `access` (alice holds the role `staff`).
pub(super) fn policy_world(access: &str) -> World {
    World::new(config_with(&[(
        "ACCESS_POLICY",
        &format!("/app/ {access}\nPOST /api/** roles-all writer cors-preflight"),
    )]))
}

#[test]
fn a_role_rule_forwards_a_user_holding_the_roles() {
    for access in ["roles-any admin,staff", "roles-all staff", "signed-in"] {
        let world = policy_world(access);
        let browser = world.login(NOW);
        let cookie = cookie_header(&world.config, Some(&browser.access), None);
        let (identity, _) = forwarded(world.protect(NOW + 1, &api_request(&cookie)));
        assert_eq!(identity.roles, ["staff"], "{access}");
    }
}

#[test]
fn a_user_without_the_roles_is_refused_403_naming_what_is_missing() {
    let cases = [
        ("roles-any admin,ops", RoleNeed::Any, &["admin", "ops"][..]),
        ("roles-all staff,admin", RoleNeed::All, &["admin"][..]),
    ];
    for (access, need, missing) in cases {
        let world = policy_world(access);
        let browser = world.login(NOW);
        let cookie = cookie_header(&world.config, Some(&browser.access), None);
        for req in [api_request(&cookie), navigation(&cookie)] {
            let (refusal, set_cookies) = refused(world.protect(NOW + 1, &req));
            assert_eq!((refusal.status(), refusal.code()), (403, "forbidden"));
            assert_eq!(
                refusal,
                Refusal::Forbidden(Denied {
                    user: named("alice"),
                    need,
                    missing: roles(missing),
                })
            );
            assert!(set_cookies.is_empty());
            assert!(!refusal.clears_cookies());
        }
        assert_eq!(
            world.audit.kinds(),
            [EventKind::AccessDenied, EventKind::AccessDenied]
        );
        let detail = world.audit.0.borrow()[0].detail.clone().unwrap();
        assert!(detail.starts_with("GET /app/data: needs"), "{detail}");
        assert!(detail.ends_with(&missing.join(",")), "{detail}");
    }
}

#[test]
fn a_403_after_a_refresh_in_place_still_delivers_the_new_cookies() {
    let world = policy_world("roles-all admin");
    let browser = world.login(NOW);
    let cookie = cookie_header(&world.config, None, Some(&browser.refresh));
    let (refusal, set_cookies) = refused(world.protect(NOW + 1, &navigation(&cookie)));
    assert_eq!(refusal.status(), 403);
    assert_eq!(set_cookies.len(), 2, "{set_cookies:?}");
    assert!(!is_clearing(&set_cookies));
}

#[test]
fn without_a_session_a_role_path_is_like_any_signed_in_path() {
    let world = policy_world("roles-all admin");
    let (refusal, _) = refused(world.protect(NOW, &api_request("theme=dark")));
    assert_eq!((refusal.status(), refusal.code()), (401, "unauthenticated"));
    assert!(matches!(
        world.protect(NOW, &navigation("theme=dark")),
        Verdict::Redirect { .. }
    ));
}

#[test]
fn a_preflight_passes_only_where_its_rule_says_so() {
    let world = policy_world("roles-all admin");
    let preflight = |path: &str, announced: &str| {
        facts(
            "OPTIONS",
            path,
            &[
                ("Origin", "https://app.example"),
                ("Access-Control-Request-Method", announced),
            ],
        )
    };
    assert_eq!(
        world.protect(NOW, &preflight("/api/orders", "POST")),
        Verdict::Forward {
            identity: None,
            set_cookies: vec![]
        }
    );
    // Announcing another method, or on a path whose rule has no `cors-preflight`, a preflight
    // keeps the requirement; so does an OPTIONS without `Origin`.
    for req in [
        preflight("/api/orders", "DELETE"),
        preflight("/app/x", "GET"),
        facts(
            "OPTIONS",
            "/api/orders",
            &[("Access-Control-Request-Method", "POST")],
        ),
    ] {
        let (refusal, _) = refused(world.protect(NOW, &req));
        assert_eq!(refusal.status(), 401, "{req:?}");
    }
    assert_eq!(world.store.revocation_reads.get(), 0);
}
