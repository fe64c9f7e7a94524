//! Per-isolate caches on the request path, each bounded in time and in memory.
//!
//! A Workers isolate serves many requests and has 128 MB, so what it remembers between requests
//! must have a fixed capacity (least recently used entries go first) and a lifetime that never
//! stretches a security bound past what SECURITY.md states:
//!
//! - a verified access token's claims, keyed by the SHA-256 of the token, until the token's own
//!   `exp` (never past it: after that the token is validated again, leeway and all);
//! - "this session still stands", as the session store last said, for at most
//!   `REVOCATION_CACHE_TTL` seconds, which adds that much to how late a revocation made at
//!   another location is seen here. Past half that time the answer is still used, and the
//!   first request to find it so asks the store again in the background ([`Liveness`]), so a
//!   busy session is re-checked without any request waiting for it;
//! - the signed identity assertion of a session, reused while at least half of its lifetime
//!   remains, so the origin still receives one with `ASSERTION_TTL / 2` seconds or more to live.
//!
//! Ending a session in this isolate forgets it in all three at once ([`IsolateCaches::forget`]),
//! so the location that handles a logout refuses the old token at once.

use crate::auth::names::role::Role;
use crate::auth::names::username::Username;
use crate::auth::token::dpop::SeenProofs;
use core::cell::RefCell;
use core::num::NonZeroUsize;

use lru::LruCache;
use sha2::{Digest, Sha256};

pub use crate::auth::config::CacheSettings;
use crate::auth::env::UnixTime;
use crate::auth::secret::Assertion;
use crate::auth::token::VerifiedAccess;

/// The digest an access token is cached under; the token itself is not kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenDigest([u8; 32]);

impl TokenDigest {
    /// The SHA-256 of `token`.
    pub fn of(token: &str) -> Self {
        Self(Sha256::digest(token.as_bytes()).into())
    }
}

/// An assertion kept for reuse, with what it was issued for.
#[derive(Debug, Clone)]
struct CachedAssertion {
    user: Username,
    roles: Vec<Role>,
    assertion: Assertion,
    expires_at: UnixTime,
}

/// A bounded map whose entries also carry a deadline.
struct Bounded<K: core::hash::Hash + Eq, V> {
    entries: Option<LruCache<K, (V, UnixTime)>>,
}

impl<K: core::hash::Hash + Eq, V: Clone> Bounded<K, V> {
    fn new(capacity: usize) -> Self {
        Self {
            entries: NonZeroUsize::new(capacity).map(LruCache::new),
        }
    }

    /// The value while `now` is before its deadline; an expired entry is dropped.
    fn get(&mut self, key: &K, now: UnixTime) -> Option<V> {
        let entries = self.entries.as_mut()?;
        match entries.get(key) {
            Some((value, until)) if now < *until => Some(value.clone()),
            Some(_) => {
                entries.pop(key);
                None
            }
            None => None,
        }
    }

    fn put(&mut self, key: K, value: V, until: UnixTime) {
        if let Some(entries) = self.entries.as_mut() {
            entries.put(key, (value, until));
        }
    }

    fn remove(&mut self, key: &K) {
        if let Some(entries) = self.entries.as_mut() {
            entries.pop(key);
        }
    }

    /// The value, to change in place, while `now` is before its deadline; an expired entry is
    /// dropped.
    fn get_mut(&mut self, key: &K, now: UnixTime) -> Option<&mut V> {
        let entries = self.entries.as_mut()?;
        if entries.get(key).is_some_and(|(_, until)| now >= *until) {
            entries.pop(key);
            return None;
        }
        entries.get_mut(key).map(|(value, _)| value)
    }

    /// Keeps only the entries `keep` accepts, in their recency order.
    fn retain(&mut self, mut keep: impl FnMut(&V) -> bool) {
        let Some(entries) = self.entries.as_mut() else {
            return;
        };
        let mut kept = LruCache::new(entries.cap());
        // Oldest first, so the rebuilt cache keeps the recency order.
        while let Some((key, entry)) = entries.pop_lru() {
            if keep(&entry.0) {
                kept.put(key, entry);
            }
        }
        *entries = kept;
    }

    fn len(&self) -> usize {
        self.entries.as_ref().map_or(0, LruCache::len)
    }
}

/// What the isolate last heard of a session's standing: from whom it is, when, and whether a
/// request has already asked again.
#[derive(Debug, Clone)]
struct Heard {
    user: Username,
    at: UnixTime,
    rechecking: bool,
}

/// How far this isolate can answer "does this session still stand?" by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Liveness {
    /// Heard less than half the revocation TTL ago (or being asked again already): it stands.
    Standing,
    /// Heard more than half the TTL ago, still within it: it stands, and this request is the one
    /// that has the store asked again, in the background.
    StandingRecheck,
    /// Never heard, or longer ago than the TTL: the store must be asked before answering.
    Unknown,
}

/// Answered device-bound session challenges kept per isolate: one per session renewal, every
/// few minutes, so a few thousand cover a busy isolate.
const CHALLENGES_KEPT: usize = 4096;

/// The three caches of one isolate. Methods take `&self`: requests of one isolate interleave at
/// every await, so no borrow is ever held across one.
pub struct IsolateCaches {
    settings: CacheSettings,
    tokens: RefCell<Bounded<TokenDigest, VerifiedAccess>>,
    /// Session id to its user, so that ending all of a user's sessions finds them.
    live: RefCell<Bounded<String, Heard>>,
    assertions: RefCell<Bounded<String, CachedAssertion>>,
    /// The DPoP proofs this isolate has taken with tokens, and at the token endpoint: always on,
    /// whatever the cache settings, as forgetting them would let a proof be replayed. Apart, so
    /// that proofs anyone can sign (a token request's, with a key of their own) never crowd out
    /// those only a bound token's holder can.
    proofs: SeenProofs,
    token_request_proofs: SeenProofs,
    /// Device-bound session challenges already answered, until they expire: always on, as
    /// forgetting one would let its response be replayed here.
    challenges: RefCell<Bounded<String, ()>>,
}

impl IsolateCaches {
    /// Empty caches of the fixed capacity `settings` names; a revocation TTL of 0 disables the
    /// revocation cache.
    pub fn new(settings: CacheSettings) -> Self {
        let revocation_entries = if settings.revocation_ttl > 0 {
            settings.entries
        } else {
            0
        };
        Self {
            settings,
            tokens: RefCell::new(Bounded::new(settings.entries)),
            live: RefCell::new(Bounded::new(revocation_entries)),
            assertions: RefCell::new(Bounded::new(settings.entries)),
            proofs: SeenProofs::default(),
            token_request_proofs: SeenProofs::default(),
            challenges: RefCell::new(Bounded::new(CHALLENGES_KEPT)),
        }
    }

    /// Whether device-bound session challenge `challenge` is answered here for the first time;
    /// it is remembered until `until`.
    pub fn first_challenge_use(&self, challenge: &str, now: UnixTime, until: UnixTime) -> bool {
        let mut taken = self.challenges.borrow_mut();
        if taken.get(&challenge.to_owned(), now).is_some() {
            return false;
        }
        taken.put(challenge.to_owned(), (), until);
        true
    }

    /// The memory of DPoP proofs taken with tokens in this isolate.
    pub fn seen_proofs(&self) -> &SeenProofs {
        &self.proofs
    }

    /// The memory of DPoP proofs taken at the token endpoint in this isolate.
    pub fn seen_token_request_proofs(&self) -> &SeenProofs {
        &self.token_request_proofs
    }

    /// The capacity and TTL these caches were built with.
    pub fn settings(&self) -> CacheSettings {
        self.settings
    }

    /// The claims of an access token validated earlier, while it has not expired.
    pub fn access(&self, digest: &TokenDigest, now: UnixTime) -> Option<VerifiedAccess> {
        self.tokens.borrow_mut().get(digest, now)
    }

    /// Keeps the claims of a validated access token until the token expires.
    pub fn remember_access(&self, digest: TokenDigest, access: &VerifiedAccess) {
        self.tokens
            .borrow_mut()
            .put(digest, access.clone(), access.expires_at());
    }

    /// How far the isolate can answer for `session` at `now` (see [`Liveness`]). Past half the
    /// TTL, the first caller gets [`Liveness::StandingRecheck`] and every later one
    /// [`Liveness::Standing`], until [`Self::remember_live`] or [`Self::recheck_failed`]: one
    /// check in flight per session, not one per request.
    pub fn liveness(&self, session: &str, now: UnixTime) -> Liveness {
        let ttl = self.settings.revocation_ttl;
        let mut live = self.live.borrow_mut();
        let Some(heard) = live.get_mut(&session.to_owned(), now) else {
            return Liveness::Unknown;
        };
        let due = 2 * now.saturating_sub(heard.at) >= ttl;
        if due && !heard.rechecking {
            heard.rechecking = true;
            return Liveness::StandingRecheck;
        }
        Liveness::Standing
    }

    /// Records that the store said `session` (of `user`) still stands, trusted for the
    /// revocation TTL from `now`.
    pub fn remember_live(&self, session: &str, user: &Username, now: UnixTime) {
        let heard = Heard {
            user: user.clone(),
            at: now,
            rechecking: false,
        };
        self.live.borrow_mut().put(
            session.to_owned(),
            heard,
            now.saturating_add(self.settings.revocation_ttl),
        );
    }

    /// The background check of `session` got no answer: the answer held stays until its
    /// deadline, and the next request past half the TTL may ask again.
    pub fn recheck_failed(&self, session: &str, now: UnixTime) {
        if let Some(heard) = self.live.borrow_mut().get_mut(&session.to_owned(), now) {
            heard.rechecking = false;
        }
    }

    /// An assertion for `session` issued for the same user and roles, with at least half of
    /// `ttl` left.
    pub fn assertion(
        &self,
        session: &str,
        user: &Username,
        roles: &[Role],
        ttl: i64,
        now: UnixTime,
    ) -> Option<Assertion> {
        let cached = self.assertions.borrow_mut().get(&session.to_owned(), now)?;
        let fresh_enough = cached.expires_at - now >= (ttl + 1) / 2;
        (fresh_enough && cached.user == *user && cached.roles == roles).then_some(cached.assertion)
    }

    /// Keeps `assertion` for `session`, `user` and `roles` until `expires_at` (Unix seconds).
    pub fn remember_assertion(
        &self,
        session: &str,
        user: &Username,
        roles: &[Role],
        assertion: &Assertion,
        expires_at: UnixTime,
    ) {
        let cached = CachedAssertion {
            user: user.to_owned(),
            roles: roles.to_vec(),
            assertion: assertion.clone(),
            expires_at,
        };
        self.assertions
            .borrow_mut()
            .put(session.to_owned(), cached, expires_at);
    }

    /// Drops everything cached for `session`: it has just been ended in this isolate.
    pub fn forget(&self, session: &str) {
        self.live.borrow_mut().remove(&session.to_owned());
        self.assertions.borrow_mut().remove(&session.to_owned());
        self.tokens
            .borrow_mut()
            .retain(|access| access.session().as_str() != session);
    }

    /// Drops everything cached for `user`'s sessions (log out everywhere, account disabled).
    pub fn forget_user(&self, user: &Username) {
        self.tokens
            .borrow_mut()
            .retain(|access| access.user() != user);
        self.live.borrow_mut().retain(|heard| heard.user != *user);
        self.assertions
            .borrow_mut()
            .retain(|cached| cached.user != *user);
    }

    /// Entries held, per cache (tokens, live sessions, assertions).
    pub fn sizes(&self) -> (usize, usize, usize) {
        (
            self.tokens.borrow().len(),
            self.live.borrow().len(),
            self.assertions.borrow().len(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::env::testing::SeededEntropy;
    use crate::auth::names::role::testing::role;
    use crate::auth::names::username::testing::named;
    use crate::auth::token::keys::SessionKeyRing;
    use crate::auth::token::{issue_access, validate_access, Audience, Subject};

    const NOW: UnixTime = 1_800_000_000;

    fn access(user: &Username, session: &str, ttl: i64) -> (String, VerifiedAccess) {
        let ring = SessionKeyRing::parse("s1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8").unwrap();
        let audience = Audience {
            issuer: "https://edge.example".into(),
            audience: "https://edge.example".into(),
        };
        let roles = vec![];
        let subject = Subject {
            user,
            session,
            roles: &roles,
            key: None,
        };
        let token = issue_access(
            &ring,
            &audience,
            &subject,
            NOW,
            ttl,
            &SeededEntropy::default(),
        )
        .unwrap()
        .into_inner();
        let verified = validate_access(&ring, &token, &audience, 0, NOW).unwrap();
        (token, verified)
    }

    /// Whether `caches` can answer for `session` at `now` without the store.
    fn stands(caches: &IsolateCaches, session: &str, now: UnixTime) -> bool {
        caches.liveness(session, now) != Liveness::Unknown
    }

    fn caches(entries: usize) -> IsolateCaches {
        IsolateCaches::new(CacheSettings {
            entries,
            revocation_ttl: 5,
        })
    }

    #[test]
    fn every_cache_holds_at_most_its_capacity_dropping_the_least_recent() {
        let caches = caches(3);
        let secret = Assertion::new("assertion".to_owned());
        for n in 0..10 {
            let session = format!("{:A<22}", format!("s{n}"));
            let (token, verified) = access(&named("alice"), &session, 60);
            caches.remember_access(TokenDigest::of(&token), &verified);
            caches.remember_live(&session, &named("alice"), NOW);
            caches.remember_assertion(&session, &named("alice"), &[], &secret, NOW + 30);
            // s0 stays the most recently used everywhere.
            stands(&caches, "s0AAAAAAAAAAAAAAAAAAAA", NOW);
            caches.assertion("s0AAAAAAAAAAAAAAAAAAAA", &named("alice"), &[], 30, NOW);
        }
        assert_eq!(caches.sizes(), (3, 3, 3));
        assert!(
            stands(&caches, "s0AAAAAAAAAAAAAAAAAAAA", NOW)
                && stands(&caches, "s9AAAAAAAAAAAAAAAAAAAA", NOW)
        );
        assert!(
            !stands(&caches, "s7AAAAAAAAAAAAAAAAAAAA", NOW),
            "evicted: least recently used"
        );
        assert!(caches
            .assertion("s0AAAAAAAAAAAAAAAAAAAA", &named("alice"), &[], 30, NOW)
            .is_some());
        assert!(caches
            .assertion("s1AAAAAAAAAAAAAAAAAAAA", &named("alice"), &[], 30, NOW)
            .is_none());
    }

    #[test]
    fn past_half_the_ttl_one_request_is_told_to_ask_again_until_the_answer_comes() {
        let caches = caches(8);
        let session = "s1AAAAAAAAAAAAAAAAAAAA";
        caches.remember_live(session, &named("alice"), NOW);
        assert_eq!(caches.liveness(session, NOW + 2), Liveness::Standing);
        assert_eq!(caches.liveness(session, NOW + 3), Liveness::StandingRecheck);
        assert_eq!(
            caches.liveness(session, NOW + 3),
            Liveness::Standing,
            "one check in flight"
        );
        caches.recheck_failed(session, NOW + 4);
        assert_eq!(
            caches.liveness(session, NOW + 4),
            Liveness::StandingRecheck,
            "asked again after a failure"
        );
        assert_eq!(
            caches.liveness(session, NOW + 5),
            Liveness::Unknown,
            "expired"
        );
        caches.remember_live(session, &named("alice"), NOW + 5);
        assert_eq!(caches.liveness(session, NOW + 6), Liveness::Standing);
    }

    #[test]
    fn entries_end_at_their_deadline() {
        let caches = caches(8);
        let (token, verified) = access(&named("alice"), "s1AAAAAAAAAAAAAAAAAAAA", 60);
        let digest = TokenDigest::of(&token);
        caches.remember_access(digest, &verified);
        assert_eq!(caches.access(&digest, NOW + 59), Some(verified.clone()));
        assert_eq!(
            caches.access(&digest, NOW + 60),
            None,
            "never at or past exp"
        );
        assert_eq!(caches.sizes().0, 0, "the expired entry is dropped");
        caches.remember_live("s1AAAAAAAAAAAAAAAAAAAA", &named("alice"), NOW);
        assert!(stands(&caches, "s1AAAAAAAAAAAAAAAAAAAA", NOW + 4));
        assert!(!stands(&caches, "s1AAAAAAAAAAAAAAAAAAAA", NOW + 5));
    }

    #[test]
    fn an_assertion_needs_half_its_lifetime_and_the_same_subject() {
        let caches = caches(8);
        let roles = vec![role("staff")];
        let secret = Assertion::new("assertion".to_owned());
        caches.remember_assertion(
            "s1AAAAAAAAAAAAAAAAAAAA",
            &named("alice"),
            &roles,
            &secret,
            NOW + 30,
        );
        assert_eq!(
            caches.assertion(
                "s1AAAAAAAAAAAAAAAAAAAA",
                &named("alice"),
                &roles,
                30,
                NOW + 15
            ),
            Some(secret)
        );
        assert_eq!(
            caches.assertion(
                "s1AAAAAAAAAAAAAAAAAAAA",
                &named("alice"),
                &roles,
                30,
                NOW + 16
            ),
            None
        );
        assert_eq!(
            caches.assertion("s1AAAAAAAAAAAAAAAAAAAA", &named("alice"), &[], 30, NOW),
            None,
            "roles changed"
        );
        assert_eq!(
            caches.assertion("s1AAAAAAAAAAAAAAAAAAAA", &named("bob"), &roles, 30, NOW),
            None
        );
    }

    #[test]
    fn forgetting_a_session_or_a_user_drops_it_everywhere() {
        let caches = caches(8);
        let secret = Assertion::new("assertion".to_owned());
        let mut digests = Vec::new();
        for (user, session) in [
            ("alice", "a1AAAAAAAAAAAAAAAAAAAA"),
            ("alice", "a2AAAAAAAAAAAAAAAAAAAA"),
            ("bob", "b1AAAAAAAAAAAAAAAAAAAA"),
        ] {
            let user = named(user);
            let (token, verified) = access(&user, session, 60);
            digests.push(TokenDigest::of(&token));
            caches.remember_access(*digests.last().unwrap(), &verified);
            caches.remember_live(session, &user, NOW);
            caches.remember_assertion(session, &user, &[], &secret, NOW + 30);
        }
        caches.forget("a1AAAAAAAAAAAAAAAAAAAA");
        assert!(caches.access(&digests[0], NOW).is_none());
        assert!(!stands(&caches, "a1AAAAAAAAAAAAAAAAAAAA", NOW));
        assert!(caches
            .assertion("a1AAAAAAAAAAAAAAAAAAAA", &named("alice"), &[], 30, NOW)
            .is_none());
        assert!(stands(&caches, "a2AAAAAAAAAAAAAAAAAAAA", NOW));
        caches.forget_user(&named("alice"));
        assert!(caches.access(&digests[1], NOW).is_none());
        assert!(!stands(&caches, "a2AAAAAAAAAAAAAAAAAAAA", NOW));
        assert_eq!(caches.sizes(), (1, 1, 1), "bob's entries stay");
    }

    #[test]
    fn a_capacity_or_ttl_of_zero_turns_caches_off() {
        let off = IsolateCaches::new(CacheSettings {
            entries: 0,
            revocation_ttl: 5,
        });
        let (token, verified) = access(&named("alice"), "s1AAAAAAAAAAAAAAAAAAAA", 60);
        off.remember_access(TokenDigest::of(&token), &verified);
        off.remember_live("s1AAAAAAAAAAAAAAAAAAAA", &named("alice"), NOW);
        assert_eq!(off.sizes(), (0, 0, 0));
        let no_revocation_cache = IsolateCaches::new(CacheSettings {
            entries: 8,
            revocation_ttl: 0,
        });
        no_revocation_cache.remember_live("s1AAAAAAAAAAAAAAAAAAAA", &named("alice"), NOW);
        assert!(!stands(&no_revocation_cache, "s1AAAAAAAAAAAAAAAAAAAA", NOW));
    }
}
