//! The per-request decision of a protected GET, split into the phases the benchmarks time.
//!
//! Shared by the wasm benchmark (this crate, run in Node's V8) and the native criterion bench
//! (`benches/request_path.rs` includes this file), so both time exactly the same code. Every
//! phase returns a small value derived from its result, so no phase can be optimised away, and
//! `Fixture::check` proves the fixture takes the success path before any timing starts.
//!
//! The decision runs the core's `Gate::protect` against the in-memory store (whose revocation
//! read is a map lookup: the KV read itself is timed inside workerd), with a stand-in signer for
//! the WebCrypto signature the worker delegates to the platform.

use core::future::Future;
use core::pin::pin;
use core::task::Poll;

use edgegate::auth::audit::AuditEvent;
use edgegate::auth::config::Config;
use edgegate::auth::env::{OsEntropy, UnixTime};
use edgegate::auth::gate::cache::{CacheSettings, IsolateCaches};
use edgegate::auth::gate::{
    poll_once, AssertionSigner, AuditSink, Gate, LocalSigner, NoAccountCheck, NoBackground,
    NoProofs, Verdict,
};
use edgegate::auth::http::forward::{identity_headers, Identity};
use edgegate::auth::http::request::{RawRequest, RequestFacts};
use edgegate::auth::names::role::Role;
use edgegate::auth::names::session_id::SessionId;
use edgegate::auth::names::username::Username;
use edgegate::auth::secret::Assertion;
use edgegate::auth::session::record::{LoginSubject, SessionRecord};
use edgegate::auth::session::refresh::NewRefresh;
use edgegate::auth::session::store::SessionStore;
use edgegate::auth::token::keys::AssertionKeyRing;
use edgegate::auth::token::{
    issue_access, validate_access, MintError, Subject, Unsigned, VerifiedAccess,
};
use edgegate::testing::memory_store::MemoryStore;

/// A fixed instant, so tokens minted by the fixture are valid for the whole run.
pub const NOW: UnixTime = 1_800_000_000;

/// Runs a future that never waits (the in-memory store answers at once).
fn ready<T>(future: impl Future<Output = T>) -> T {
    match poll_once(pin!(future)) {
        Poll::Ready(value) => value,
        Poll::Pending => panic!("the in-memory store never waits"),
    }
}

/// What the worker's WebCrypto call produces, without the signature's cost (timed in workerd).
pub struct StandInSigner;

impl AssertionSigner for StandInSigner {
    async fn sign(
        &self,
        _ring: &AssertionKeyRing,
        unsigned: Unsigned,
    ) -> Result<Assertion, MintError> {
        unsigned.finish(&[0x5a; 64])
    }
}

struct NoAudit;

impl AuditSink for NoAudit {
    fn record(&self, _event: AuditEvent) {}
}

/// A deployment as configured in production (cookie names, default policy), one live session in
/// the store, and the headers a signed-in browser sends for a page.
pub struct Fixture {
    pub config: Config,
    pub store: MemoryStore,
    pub warm: IsolateCaches,
    pub cold: IsolateCaches,
    pub headers: Vec<(&'static str, String)>,
    pub token: String,
    /// A message the size of an identity assertion's signing input, for the raw Ed25519 figure.
    pub message: Vec<u8>,
    pub keypair: ed25519_compact::KeyPair,
}

impl Default for Fixture {
    fn default() -> Self {
        Self::new()
    }
}

impl Fixture {
    pub fn new() -> Self {
        let vars = [
            ("ORIGIN_URL", "https://origin.example"),
            ("ISSUER", "https://app.example.com"),
            ("ORIGIN_AUDIENCE", "production-origin"),
            (
                "SESSION_KEYS",
                "s1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",
            ),
            (
                "ASSERTION_KEYS",
                "a1:ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8",
            ),
        ];
        let config = Config::from_lookup(&|name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        })
        .expect("benchmark configuration is valid");
        let session = SessionId::generate(&OsEntropy).expect("randomness");
        let roles = ["member", "billing:read"]
            .map(|role| Role::parse(role).expect("benchmark roles are valid"))
            .to_vec();
        let refresh = NewRefresh::mint(&session, &OsEntropy).expect("refresh token");
        let record = SessionRecord::new(
            session.clone(),
            LoginSubject {
                user: Username::parse("alice@example.com").unwrap(),
                roles: roles.clone(),
                user_agent: "Mozilla/5.0".into(),
            },
            refresh.hash.clone(),
            NOW,
            &config.policy,
        );
        let store = MemoryStore::default();
        ready(store.create(record, &config.policy, NOW)).expect("session stored");
        let subject = Subject {
            user: &Username::parse("alice@example.com").unwrap(),
            session: session.as_str(),
            roles: &roles,
            key: None,
        };
        let token = issue_access(
            &config.session_keys,
            &config.access_audience,
            &subject,
            NOW,
            config.policy.access_ttl,
            &OsEntropy,
        )
        .expect("access token")
        .expose()
        .clone();
        let names = config.cookies.names();
        let cookie = format!(
            "theme=dark; _ga=GA1.1.1234567890.1700000000; {}={}; {}={}",
            names.access,
            token,
            names.refresh,
            refresh
                .token(&Username::parse("alice@example.com").unwrap())
                .expose()
        );
        let headers = vec![
            ("Cookie", cookie),
            ("Accept", "text/html,application/xhtml+xml".to_owned()),
            (
                "User-Agent",
                "Mozilla/5.0 (X11; Linux x86_64) Chrome/130.0".to_owned(),
            ),
            ("CF-Connecting-IP", "203.0.113.7".to_owned()),
            ("Sec-Fetch-Site", "same-origin".to_owned()),
        ];
        let keypair = ed25519_compact::KeyPair::from_seed(ed25519_compact::Seed::new([7; 32]));
        Self {
            warm: IsolateCaches::new(config.caches),
            cold: IsolateCaches::new(CacheSettings {
                entries: 0,
                revocation_ttl: 0,
            }),
            config,
            store,
            headers,
            token,
            message: vec![b'x'; 330],
            keypair,
        }
    }

    /// Panics unless every phase takes its success path.
    pub fn check(&self) {
        assert!(
            self.request_read() > 100,
            "the request read found no cookie"
        );
        let access = self.verify();
        assert_eq!(access.user(), "alice@example.com");
        for phase in [Self::decision_cached, Self::decision_uncached] {
            assert!(phase(self) > 0);
        }
        assert!(self.decision_signed_here() > 0);
        assert_eq!(Self::headers(&self.identity()), 4);
    }

    /// Phase 1: the request's facts, read once (cookies parsed, ours picked, the rest kept).
    pub fn read(&self) -> RequestFacts {
        let header = |name: &str| {
            self.headers
                .iter()
                .find(|(candidate, _)| candidate.eq_ignore_ascii_case(name))
                .map(|(_, value)| value.clone())
        };
        // The shell hands every header name over too, so the phase includes collecting them.
        let names: Vec<String> = self
            .headers
            .iter()
            .map(|(name, _)| (*name).to_owned())
            .collect();
        RequestFacts::read(
            RawRequest {
                method: "GET",
                scheme: "https",
                host: "app.example.com",
                own_origin: "https://app.example.com",
                path: "/reports/2024",
                query: Some("sort=desc"),
                header: &header,
                header_names: &names,
                has_body: false,
            },
            self.config.cookies.names(),
        )
    }

    pub fn request_read(&self) -> usize {
        let facts = self.read();
        facts.cookies.access().map_or(0, str::len) + facts.cookies.forward().map_or(0, str::len)
    }

    /// Phase 2: verify the access token (HS256) and check its claims.
    pub fn verify(&self) -> VerifiedAccess {
        validate_access(
            &self.config.session_keys,
            &self.token,
            &self.config.access_audience,
            self.config.policy.leeway,
            NOW,
        )
        .expect("valid access token")
    }

    fn protect<G: AssertionSigner>(&self, caches: &IsolateCaches, signer: &G) -> usize {
        let facts = self.read();
        let gate = Gate {
            config: &self.config,
            store: &self.store,
            accounts: &NoAccountCheck,
            signer,
            proofs: &NoProofs,
            caches,
            audit: &NoAudit,
            background: &NoBackground,
            now: NOW,
            entropy: &OsEntropy,
        };
        match ready(gate.protect(&facts)) {
            Verdict::Forward {
                identity: Some(identity),
                ..
            } => identity_headers(&identity).expect("sendable")[3].1.len(),
            other => panic!("fixture must forward: {other:?}"),
        }
    }

    /// The worker's whole decision on a warm isolate: request read, then the token, revocation
    /// and assertion answered from the caches, and the forwarded headers.
    pub fn decision_cached(&self) -> usize {
        self.protect(&self.warm, &StandInSigner)
    }

    /// The same with every cache off: token verified, revocation looked up, assertion prepared
    /// (signed by the stand-in), headers built.
    pub fn decision_uncached(&self) -> usize {
        self.protect(&self.cold, &StandInSigner)
    }

    /// The uncached decision with the Ed25519 signature computed in this crate.
    pub fn decision_signed_here(&self) -> usize {
        self.protect(&self.cold, &LocalSigner)
    }

    /// An identity as the decision forwards it.
    pub fn identity(&self) -> Identity {
        Identity {
            user: Username::parse("alice@example.com").unwrap(),
            session: "sid".into(),
            roles: vec![Role::parse("member").expect("a valid role")],
            assertion: Assertion::new("a.b.c".into()),
            key: None,
        }
    }

    /// Check the identity values and build the forwarded headers.
    pub fn headers(identity: &Identity) -> usize {
        identity_headers(identity).expect("sendable identity").len()
    }

    /// Raw Ed25519 signing of an assertion-sized message (no JSON, no base64): curve25519 speed.
    pub fn ed25519_sign(&self) -> u8 {
        self.keypair.sk.sign(&self.message, None).as_ref()[0]
    }
}
