//! The bindings behind the core's traits: the session store in force (Workers KV alone, or the
//! per-user authority in front of it), the `USERS` account check, the password check, WebCrypto
//! signing, and the `SESSIONS` marks of the OpenID procedures (logout tokens acted on, `state`s
//! used, provider sessions).

use crate::auth::names::username::Username;
use crate::auth::token::dbsc::DeviceKey;
use std::cell::OnceCell;

use worker::Env;

use super::authority::AuthorityStore;
use super::kv_store::KvSessionStore;
use super::{credentials, webcrypto};
use crate::auth::config::{Config, StoreBackend};
use crate::auth::env::UnixTime;
use crate::auth::gate::federated::ProviderMarks;
use crate::auth::gate::signin::{PasswordCheck, PasswordVerdict};
use crate::auth::gate::{Accounts, AssertionSigner};
use crate::auth::names::session_id::SessionId;
use crate::auth::secret::{Assertion, Password};
use crate::auth::session::record::{SessionPolicy, SessionRecord};
use crate::auth::session::refresh::{PresentedRefresh, TokenHash};
use crate::auth::session::store::{Rotation, SessionStore, Standing, StoreError};
use crate::auth::token::keys::AssertionKeyRing;
use crate::auth::token::{MintError, Unsigned};

enum Backend {
    Kv(KvSessionStore),
    Authority(AuthorityStore),
}

/// The configured backend, bound to this request's environment when first used: a request
/// answered from the isolate's caches never looks the bindings up.
pub(in crate::edge) struct Sessions {
    env: Env,
    backend: StoreBackend,
    revocation_read: StoreBackend,
    policy: SessionPolicy,
    opened: OnceCell<Result<Backend, StoreError>>,
}

impl Sessions {
    pub(in crate::edge) fn new(env: &Env, config: &Config) -> Self {
        Self {
            env: env.clone(),
            backend: config.store,
            revocation_read: config.revocation_read,
            policy: config.policy.clone(),
            opened: OnceCell::new(),
        }
    }

    fn open(&self) -> Result<&Backend, StoreError> {
        let opened = self.opened.get_or_init(|| {
            let kv = super::sessions_kv(&self.env)
                .map(KvSessionStore::new)
                .map_err(|err| StoreError::Unavailable(format!("SESSIONS binding: {err}")))?;
            Ok(match self.backend {
                StoreBackend::Kv => Backend::Kv(kv),
                StoreBackend::Authority => Backend::Authority(AuthorityStore::new(
                    self.env.clone(),
                    kv,
                    self.policy.clone(),
                )),
            })
        });
        opened.as_ref().map_err(Clone::clone)
    }
}

/// Runs the same call on whichever backend is in force.
macro_rules! delegate {
    ($self:ident, $store:ident => $call:expr) => {
        match $self.open()? {
            Backend::Kv($store) => $call.await,
            Backend::Authority($store) => $call.await,
        }
    };
}

impl SessionStore for Sessions {
    async fn create(
        &self,
        record: SessionRecord,
        policy: &SessionPolicy,
        now: UnixTime,
    ) -> Result<Vec<SessionId>, StoreError> {
        delegate!(self, store => store.create(record, policy, now))
    }

    async fn session(
        &self,
        id: &SessionId,
        now: UnixTime,
    ) -> Result<Option<SessionRecord>, StoreError> {
        delegate!(self, store => store.session(id, now))
    }

    async fn rotate(
        &self,
        presented: &PresentedRefresh,
        replacement: TokenHash,
        policy: &SessionPolicy,
        now: UnixTime,
    ) -> Result<Rotation, StoreError> {
        delegate!(self, store => store.rotate(presented, replacement, policy, now))
    }

    async fn sessions_of(
        &self,
        user: &Username,
        now: UnixTime,
    ) -> Result<Vec<SessionRecord>, StoreError> {
        delegate!(self, store => store.sessions_of(user, now))
    }

    async fn revoke(
        &self,
        id: &SessionId,
        user: &Username,
        now: UnixTime,
    ) -> Result<Option<SessionRecord>, StoreError> {
        delegate!(self, store => store.revoke(id, user, now))
    }

    async fn revoke_all(
        &self,
        user: &Username,
        now: UnixTime,
    ) -> Result<Vec<SessionId>, StoreError> {
        delegate!(self, store => store.revoke_all(user, now))
    }

    async fn bind_device_key(
        &self,
        id: &SessionId,
        user: &Username,
        key: DeviceKey,
        now: UnixTime,
    ) -> Result<Option<SessionRecord>, StoreError> {
        delegate!(self, store => store.bind_device_key(id, user, key, now))
    }

    async fn is_revoked(&self, id: &SessionId) -> Result<bool, StoreError> {
        delegate!(self, store => store.is_revoked(id))
    }

    /// The authority's answer, unless `REVOCATION_READ=kv` keeps the request path on KV.
    async fn ended(
        &self,
        id: &SessionId,
        user: &Username,
        now: UnixTime,
    ) -> Result<bool, StoreError> {
        if self.revocation_read == StoreBackend::Kv {
            return self.is_revoked(id).await;
        }
        delegate!(self, store => store.ended(id, user, now))
    }

    async fn standing(
        &self,
        id: &SessionId,
        user: &Username,
        now: UnixTime,
    ) -> Result<Standing, StoreError> {
        delegate!(self, store => store.standing(id, user, now))
    }
}

/// `kv` user records: a disabled (or deleted) user's sessions end at their next refresh.
pub(in crate::edge) struct UsersKv<'a>(pub(in crate::edge) &'a Env);

impl Accounts for UsersKv<'_> {
    async fn still_enabled(&self, user: &Username) -> Result<bool, StoreError> {
        credentials::still_enabled(self.0, user)
            .await
            .map_err(|err| StoreError::Unavailable(err.0))
    }
}

/// Passwords checked by the configured backend: `USERS` records, or the origin's endpoint.
pub(in crate::edge) struct ConfiguredPasswords<'a> {
    pub(in crate::edge) config: &'a Config,
    pub(in crate::edge) env: &'a Env,
}

impl PasswordCheck for ConfiguredPasswords<'_> {
    async fn verify(
        &self,
        user: &Username,
        password: &Password,
    ) -> Result<PasswordVerdict, StoreError> {
        credentials::verify(self.config, self.env, user, password)
            .await
            .map_err(|err| StoreError::Unavailable(err.0))
    }
}

/// Identity assertions signed by the platform's WebCrypto Ed25519.
pub(in crate::edge) struct WebCryptoSigner;

impl AssertionSigner for WebCryptoSigner {
    async fn sign(
        &self,
        ring: &AssertionKeyRing,
        unsigned: Unsigned,
    ) -> Result<Assertion, MintError> {
        let signature = webcrypto::ed25519_sign(ring, unsigned.signing_input())
            .await
            .map_err(|_| MintError::Signer)?;
        unsigned.finish(&signature)
    }
}

/// KV marks of the OpenID procedures in `SESSIONS`: visible at once at the location that wrote
/// them, elsewhere within about 60 seconds (KV's eventual consistency).
pub(in crate::edge) struct KvMarks(worker::kv::KvStore);

impl KvMarks {
    /// The marks in `SESSIONS`.
    pub(in crate::edge) fn new(env: &Env) -> worker::Result<Self> {
        super::sessions_kv(env).map(Self)
    }
}

impl ProviderMarks for KvMarks {
    async fn read(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.0
            .get(key)
            .text()
            .await
            .map_err(|err| StoreError::Unavailable(format!("OpenID mark read: {err}")))
    }

    async fn write(&self, key: &str, value: &str, expiration: u64) -> Result<(), StoreError> {
        let mark =
            |err: worker::kv::KvError| StoreError::Unavailable(format!("OpenID mark write: {err}"));
        self.0
            .put(key, value)
            .map_err(mark)?
            .expiration(expiration)
            .execute()
            .await
            .map_err(mark)
    }
}
