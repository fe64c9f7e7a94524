//! The session authority's shell: a Durable Object per user, and the store that talks to it.
//!
//! The object runs each command inside `blockConcurrencyWhile`, so read, decision, KV
//! write-through and commit happen with no other command of the same user in between: one
//! rotation wins, the session limit holds exactly, and a revocation is in KV before the caller
//! hears back. KV is written before the object's own storage, so a failed write-through leaves
//! the authority unchanged and the caller can retry. Requests ask the authority whether their
//! session still stands (cached per isolate for `REVOCATION_CACHE_TTL`, re-checked in the
//! background), unless `REVOCATION_READ=kv` keeps them on KV's revocation markers.
//!
//! The same class keeps login-failure counters (`/throttle`), each check-and-count one atomic
//! step, each counter (an account's or an address prefix's) in an object named by its key
//! (`throttle:<counter key>`, which no username can be, as usernames hold no `:`).

use crate::auth::names::username::Username;
use crate::auth::token::dbsc::DeviceKey;
use serde::de::DeserializeOwned;
use serde::Serialize;
use worker::{
    durable_object, DurableObject, Env, Method, Request, RequestInit, Response, State, Storage,
};

use super::kv_store::KvSessionStore;
use crate::auth::accounts::throttle::{self, ThrottleCommand, Verdict, Window};
use crate::auth::env::UnixTime;
use crate::auth::names::session_id::SessionId;
use crate::auth::session::authority::{apply, Command, Reply};
use crate::auth::session::record::{SessionPolicy, SessionRecord};
use crate::auth::session::refresh::{PresentedRefresh, TokenHash};
use crate::auth::session::store::{Rotation, SessionStore, Standing, StoreError};
use crate::auth::session::user_sessions::UserSessions;

const STATE_KEY: &str = "sessions";
const THROTTLE_KEY: &str = "throttle";
/// The object's path for counter commands; every other path takes session commands.
const THROTTLE_PATH: &str = "/throttle";

#[durable_object]
pub struct SessionAuthority {
    state: State,
    env: Env,
}

async fn run(storage: Storage, kv: KvSessionStore, command: Command) -> worker::Result<Reply> {
    let now = match &command {
        Command::Create { now, .. }
        | Command::Rotate { now, .. }
        | Command::Revoke { now, .. }
        | Command::BindDeviceKey { now, .. }
        | Command::RevokeAll { now }
        | Command::List { now } => *now,
    };
    let failed = |err: StoreError| worker::Error::RustError(err.to_string());
    let mut sessions: UserSessions = storage.get(STATE_KEY).await?.unwrap_or_default();
    let before = sessions.clone();
    let (reply, writes) = apply(&mut sessions, command);
    for record in &writes.end {
        kv.end(record, now).await.map_err(failed)?;
    }
    for record in &writes.store {
        kv.put_new(record, now).await.map_err(failed)?;
    }
    // A listing (the account page, every check of an open socket) changes nothing to store.
    if sessions != before {
        if sessions.is_empty() {
            storage.delete(STATE_KEY).await?;
        } else {
            storage.put(STATE_KEY, &sessions).await?;
        }
    }
    Ok(reply)
}

async fn count(storage: Storage, command: ThrottleCommand) -> worker::Result<Verdict> {
    let current: Option<Window> = storage.get(THROTTLE_KEY).await?;
    let (verdict, kept) = throttle::apply(current, command);
    if kept != current {
        match &kept {
            Some(window) => storage.put(THROTTLE_KEY, window).await?,
            None => storage.delete(THROTTLE_KEY).await.map(|_| ())?,
        }
    }
    Ok(verdict)
}

/// A command's JSON body, read with the JSON reader used everywhere else (`Request::json` would
/// compile a second deserializer of every command type).
async fn read_json<T: DeserializeOwned>(req: &mut Request) -> worker::Result<T> {
    let body = req.bytes().await?;
    serde_json::from_slice(&body).map_err(|err| worker::Error::RustError(format!("command: {err}")))
}

impl DurableObject for SessionAuthority {
    fn new(state: State, env: Env) -> Self {
        Self { state, env }
    }

    async fn fetch(&self, mut req: Request) -> worker::Result<Response> {
        let path = req.path();
        if super::passkeys::serves(&path) {
            let body = req.bytes().await?;
            return super::passkeys::serve(&self.state, &path, &body).await;
        }
        if path == THROTTLE_PATH {
            let command: ThrottleCommand = read_json(&mut req).await?;
            let storage = self.state.storage();
            return match self
                .state
                .block_concurrency_while(count(storage, command))
                .await
            {
                Ok(verdict) => Response::from_json(&verdict),
                Err(err) => Response::error(format!("authority: {err}"), 503),
            };
        }
        let command: Command = read_json(&mut req).await?;
        let kv = KvSessionStore::new(super::sessions_kv(&self.env)?);
        let storage = self.state.storage();
        match self
            .state
            .block_concurrency_while(run(storage, kv, command))
            .await
        {
            Ok(reply) => Response::from_json(&reply),
            Err(err) => Response::error(format!("authority: {err}"), 503),
        }
    }
}

/// The session store backed by the authority: atomic writes, KV reads.
/// Each ended session is also marked in this location's KV, so that an end is final at once
/// where it was asked for, not only where the authority runs.
pub(super) struct AuthorityStore {
    env: Env,
    kv: KvSessionStore,
    policy: SessionPolicy,
}

impl AuthorityStore {
    pub(super) fn new(env: Env, kv: KvSessionStore, policy: SessionPolicy) -> Self {
        Self { env, kv, policy }
    }

    async fn send(&self, user: &Username, command: &Command) -> Result<Reply, StoreError> {
        call(&self.env, user, "/", command).await
    }

    /// The owner of a session, from KV (the authority is addressed by user).
    async fn owner(&self, id: &SessionId) -> Result<Option<Username>, StoreError> {
        Ok(self.kv.read(id).await?.map(|record| record.user))
    }
}

/// Sends `command` as JSON to the object named `name`, at `path`, and reads its JSON answer.
pub(super) async fn call<C: Serialize, R: DeserializeOwned>(
    env: &Env,
    name: &str,
    path: &str,
    command: &C,
) -> Result<R, StoreError> {
    let stub = super::authority(env)
        .and_then(|ns| ns.get_by_name(name))
        .map_err(StoreError::unavailable)?;
    let body = serde_json::to_string(command).map_err(StoreError::unavailable)?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post).with_body(Some(body.into()));
    let request = Request::new_with_init(&format!("https://authority.invalid{path}"), &init)
        .map_err(StoreError::unavailable)?;
    let mut response = stub
        .fetch_with_request(request)
        .await
        .map_err(StoreError::unavailable)?;
    if response.status_code() != 200 {
        let text = response.text().await.unwrap_or_default();
        return Err(StoreError::Unavailable(text));
    }
    let body = response.bytes().await.map_err(StoreError::unavailable)?;
    serde_json::from_slice(&body).map_err(StoreError::unavailable)
}

/// Runs `command` on the counter held by the object named `name`, atomically.
pub(super) async fn throttle(
    env: &Env,
    name: &str,
    command: &ThrottleCommand,
) -> Result<Verdict, StoreError> {
    call(env, name, THROTTLE_PATH, command).await
}

fn unexpected(reply: Reply) -> StoreError {
    StoreError::Corrupt(format!("unexpected authority reply: {reply:?}"))
}

impl SessionStore for AuthorityStore {
    async fn create(
        &self,
        record: SessionRecord,
        policy: &SessionPolicy,
        now: UnixTime,
    ) -> Result<Vec<SessionId>, StoreError> {
        let user = record.user.clone();
        match self
            .send(
                &user,
                &Command::Create {
                    record,
                    policy: policy.clone(),
                    now,
                },
            )
            .await?
        {
            Reply::Ended(ended) => Ok(ended),
            other => Err(unexpected(other)),
        }
    }

    async fn session(
        &self,
        id: &SessionId,
        now: UnixTime,
    ) -> Result<Option<SessionRecord>, StoreError> {
        self.kv.session(id, now).await
    }

    async fn rotate(
        &self,
        presented: &PresentedRefresh,
        replacement: TokenHash,
        policy: &SessionPolicy,
        now: UnixTime,
    ) -> Result<Rotation, StoreError> {
        // The token names its user; only tokens minted before it did need the KV record.
        let user = match &presented.user {
            Some(user) => user.clone(),
            None => match self.owner(&presented.session).await? {
                Some(user) => user,
                None if self.kv.is_revoked(&presented.session).await? => {
                    return Ok(Rotation::Ended)
                }
                None => return Ok(Rotation::Unknown),
            },
        };
        let command = Command::Rotate {
            presented: presented.clone(),
            replacement,
            policy: policy.clone(),
            now,
        };
        match self.send(&user, &command).await? {
            Reply::Rotation(Rotation::Reused(record)) => {
                self.kv
                    .mark_revoked(&record.id, record.absolute_expires_at, now)
                    .await?;
                Ok(Rotation::Reused(record))
            }
            // The authority forgets ended sessions; their markers tell ended from never known.
            Reply::Rotation(Rotation::Unknown)
                if self.kv.is_revoked(&presented.session).await? =>
            {
                Ok(Rotation::Ended)
            }
            Reply::Rotation(rotation) => Ok(rotation),
            other => Err(unexpected(other)),
        }
    }

    async fn sessions_of(
        &self,
        user: &Username,
        now: UnixTime,
    ) -> Result<Vec<SessionRecord>, StoreError> {
        match self.send(user, &Command::List { now }).await? {
            Reply::Sessions(sessions) => Ok(sessions),
            other => Err(unexpected(other)),
        }
    }

    async fn bind_device_key(
        &self,
        id: &SessionId,
        user: &Username,
        key: DeviceKey,
        now: UnixTime,
    ) -> Result<Option<SessionRecord>, StoreError> {
        let command = Command::BindDeviceKey {
            id: id.clone(),
            key,
            now,
        };
        match self.send(user, &command).await? {
            Reply::Bound(bound) => Ok(bound),
            other => Err(unexpected(other)),
        }
    }

    async fn revoke(
        &self,
        id: &SessionId,
        user: &Username,
        now: UnixTime,
    ) -> Result<Option<SessionRecord>, StoreError> {
        match self
            .send(
                user,
                &Command::Revoke {
                    id: id.clone(),
                    now,
                },
            )
            .await?
        {
            Reply::Revoked(revoked) => {
                // Final here at once too, not only at the authority's own location.
                if let Some(record) = &revoked {
                    self.kv
                        .mark_revoked(&record.id, record.absolute_expires_at, now)
                        .await?;
                }
                Ok(revoked)
            }
            other => Err(unexpected(other)),
        }
    }

    async fn revoke_all(
        &self,
        user: &Username,
        now: UnixTime,
    ) -> Result<Vec<SessionId>, StoreError> {
        match self.send(user, &Command::RevokeAll { now }).await? {
            Reply::Ended(ended) => {
                // No session outlives a full absolute timeout from now.
                let until = now.saturating_add(self.policy.absolute_timeout);
                for id in &ended {
                    self.kv.mark_revoked(id, until, now).await?;
                }
                Ok(ended)
            }
            other => Err(unexpected(other)),
        }
    }

    async fn is_revoked(&self, id: &SessionId) -> Result<bool, StoreError> {
        self.kv.is_revoked(id).await
    }

    /// Asked of the user's authority, which holds every session of its user: the same answer at
    /// every location, the moment a session is ended anywhere.
    async fn ended(
        &self,
        id: &SessionId,
        user: &Username,
        now: UnixTime,
    ) -> Result<bool, StoreError> {
        Ok(!matches!(
            self.standing(id, user, now).await?,
            Standing::Live(_)
        ))
    }

    /// The authority's own list: it holds every session of its user, so one missing from it
    /// has ended, at whichever location it was ended.
    async fn standing(
        &self,
        id: &SessionId,
        user: &Username,
        now: UnixTime,
    ) -> Result<Standing, StoreError> {
        let live = self.sessions_of(user, now).await?;
        Ok(live
            .into_iter()
            .find(|record| record.id == *id)
            .map_or(Standing::Ended, Standing::Live))
    }
}
