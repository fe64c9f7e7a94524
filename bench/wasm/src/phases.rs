//! The per-request decision of a protected GET, split into the phases the benchmarks time.
//!
//! Shared by the wasm benchmark (this crate, run in Node's V8) and the native criterion bench
//! (`benches/request_path.rs` includes this file), so both time exactly the same code. Every
//! phase returns a small value derived from its result, so no phase can be optimised away, and
//! `Fixture::check` proves the fixture takes the success path before any timing starts.

use edgegate::auth::config::Config;
use edgegate::auth::cookie::CookieJar;
use edgegate::auth::env::{OsEntropy, UnixTime};
use edgegate::auth::forward::{identity_headers, Identity};
use edgegate::auth::gate::{
    authenticate, forward_identity, identity, subject_of, unsigned_assertion, Presented,
};
use edgegate::auth::refresh::{NewRefresh, SessionId};
use edgegate::auth::token::{issue_access, validate_access, Subject, VerifiedAccess};

/// A fixed instant, so tokens minted by the fixture are valid for the whole run.
pub const NOW: UnixTime = 1_800_000_000;

/// A configuration as deployed (production cookie names, default policy) and the `Cookie`
/// header a signed-in browser sends: two unrelated cookies, the access and the refresh token.
pub struct Fixture {
    pub config: Config,
    pub header: String,
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
        let roles = vec!["member".to_owned(), "billing:read".to_owned()];
        let subject = Subject {
            user: "alice@example.com",
            session: session.as_str(),
            roles: &roles,
        };
        let token = issue_access(
            &config.session_keys,
            &config.access_audience(),
            &subject,
            NOW,
            config.policy.access_ttl,
            &OsEntropy,
        )
        .expect("access token")
        .expose()
        .clone();
        let refresh = NewRefresh::mint(&session, &OsEntropy).expect("refresh token");
        let names = config.cookies.names();
        let header = format!(
            "theme=dark; _ga=GA1.1.1234567890.1700000000; {}={}; {}={}",
            names.access,
            token,
            names.refresh,
            refresh.token.expose()
        );
        let keypair = ed25519_compact::KeyPair::from_seed(ed25519_compact::Seed::new([7; 32]));
        Self {
            config,
            header,
            token,
            message: vec![b'x'; 330],
            keypair,
        }
    }

    /// Panics unless every phase takes its success path.
    pub fn check(&self) {
        assert!(
            self.cookie_parse() > 100,
            "cookie parse found no access token"
        );
        let access = self.verify();
        assert_eq!(access.user(), "alice@example.com");
        assert!(matches!(self.authenticate(), Presented::Access(_)));
        let identity = self.assertion(&access);
        assert_eq!(Self::headers(&identity), 4);
        assert!(self.decision() > 0);
    }

    /// Phase 1: parse the `Cookie` header and pick our two cookies (refusing duplicates).
    pub fn cookie_parse(&self) -> usize {
        let names = self.config.cookies.names();
        let jar = CookieJar::parse(&self.header).expect("well-formed header");
        let access = jar
            .unique(names.access)
            .expect("unique")
            .unwrap_or_default();
        let refresh = jar
            .unique(names.refresh)
            .expect("unique")
            .unwrap_or_default();
        access.len() + refresh.len()
    }

    /// Phase 2: verify the access token (HS256) and check its claims.
    pub fn verify(&self) -> VerifiedAccess {
        validate_access(
            &self.config.session_keys,
            &self.token,
            &self.config.access_audience(),
            self.config.policy.leeway,
            NOW,
        )
        .expect("valid access token")
    }

    /// Phases 1 and 2 as the worker calls them: `gate::authenticate`.
    pub fn authenticate(&self) -> Presented {
        authenticate(Some(&self.header), &self.config, NOW)
    }

    /// Phase 3: mint the identity assertion (EdDSA) for the verified subject.
    pub fn assertion(&self, access: &VerifiedAccess) -> Identity {
        forward_identity(&subject_of(access), &self.config, NOW, &OsEntropy).expect("assertion")
    }

    /// Phase 3 as the worker runs it: the assertion's header and claims, encoded and ready for
    /// the platform's WebCrypto to sign. Returns the signing input's length.
    pub fn assertion_prepare(&self, access: &VerifiedAccess) -> usize {
        unsigned_assertion(&subject_of(access), &self.config, NOW, &OsEntropy)
            .expect("assertion")
            .signing_input()
            .len()
    }

    /// Phase 4: check the identity values and build the forwarded headers.
    pub fn headers(identity: &Identity) -> usize {
        identity_headers(identity).expect("sendable identity").len()
    }

    /// The whole decision of a protected request: authenticate, the session id the revocation
    /// check reads, the assertion and the headers. Returns the assertion's length.
    pub fn decision(&self) -> usize {
        let Presented::Access(access) = self.authenticate() else {
            panic!("fixture must authenticate")
        };
        let session = SessionId::parse(access.session()).expect("session id");
        let identity = self.assertion(&access);
        let headers = identity_headers(&identity).expect("sendable identity");
        session.as_str().len() + headers[3].1.len()
    }

    /// The decision as the worker makes it: everything above in wasm except the Ed25519
    /// signature, which WebCrypto computes (a fixed 64 bytes stand in for it here; the worker's
    /// WebCrypto signature is timed inside workerd). Returns the assertion's length.
    pub fn decision_in_worker(&self) -> usize {
        let Presented::Access(access) = self.authenticate() else {
            panic!("fixture must authenticate")
        };
        let session = SessionId::parse(access.session()).expect("session id");
        let subject = subject_of(&access);
        let unsigned =
            unsigned_assertion(&subject, &self.config, NOW, &OsEntropy).expect("assertion");
        let assertion = unsigned.finish(&[0x5a; 64]).expect("assertion");
        let headers = identity_headers(&identity(&subject, assertion)).expect("sendable identity");
        session.as_str().len() + headers[3].1.len()
    }

    /// Raw Ed25519 signing of an assertion-sized message (no JSON, no base64): curve25519 speed.
    pub fn ed25519_sign(&self) -> u8 {
        self.keypair.sk.sign(&self.message, None).as_ref()[0]
    }
}
