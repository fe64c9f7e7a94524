//! Passkeys in the `SessionAuthority` Durable Objects: each user's passkeys in the user's own
//! object (path `/passkeys`, state key `passkeys`), and two indexes in objects of their own: the
//! user a handle names, in `passkey_owner:<handle>`, so that a sign-in that knows only the
//! handle finds its user with one strongly consistent read, wherever the passkey was registered
//! a moment before; and the user who registered each credential id, in
//! `passkey_credential:<SHA-256 of the id>`, so that an id is registered for one user only. No
//! username can take these names: a built-in one holds no `:`, and a provider's (`<id>:<sub>`)
//! starts with a provider id, which holds no `_`.

use worker::{Env, Response, State, Storage};

use super::authority::call;
use super::credentials;
use crate::auth::accounts::passkey::registry::{
    apply, claim_owner, PasskeyCommand, PasskeyReply, UserPasskeys,
};
use crate::auth::accounts::passkey::{CredentialId, UserHandle};
use crate::auth::gate::passkey::{Account, Directory, PasskeyVault};
use crate::auth::names::encoding::b64url;
use crate::auth::names::username::Username;
use crate::auth::session::store::StoreError;
use sha2::{Digest, Sha256};

const PASSKEYS_KEY: &str = "passkeys";
const OWNER_KEY: &str = "owner";
/// The object's path for a user's passkey commands.
const PASSKEYS_PATH: &str = "/passkeys";
/// The object's path for a handle's owner.
const OWNER_PATH: &str = "/passkey-owner";

/// What a handle's object is asked: who owns it, or to make `claim` its owner.
#[derive(serde::Serialize, serde::Deserialize)]
pub(super) struct OwnerCommand {
    claim: Option<String>,
}

/// A user's passkey command, inside their object: read, apply, store if changed.
async fn run_passkeys(storage: Storage, command: PasskeyCommand) -> worker::Result<PasskeyReply> {
    let mut state: UserPasskeys = storage.get(PASSKEYS_KEY).await?.unwrap_or_default();
    let before = state.clone();
    let reply = apply(&mut state, command);
    if state != before {
        storage.put(PASSKEYS_KEY, &state).await?;
    }
    Ok(reply)
}

/// A handle's owner, inside the handle's object: the first claim stands.
async fn run_owner(storage: Storage, command: OwnerCommand) -> worker::Result<Option<String>> {
    let current: Option<String> = storage.get(OWNER_KEY).await?;
    let Some(user) = command.claim else {
        return Ok(current);
    };
    let owner = claim_owner(current.as_deref(), &user);
    if current.is_none() {
        if let Some(owner) = &owner {
            storage.put(OWNER_KEY, owner).await?;
        }
    }
    Ok(owner)
}

/// Whether `path` is one of the object's passkey paths.
pub(super) fn serves(path: &str) -> bool {
    path == PASSKEYS_PATH || path == OWNER_PATH
}

/// Serves the object's passkey paths (see [`serves`]).
pub(super) async fn serve(state: &State, path: &str, body: &[u8]) -> worker::Result<Response> {
    let answer = |result: worker::Result<String>| match result {
        Ok(json) => Response::ok(json).map(|mut response| {
            let _ = response
                .headers_mut()
                .set("Content-Type", "application/json");
            response
        }),
        Err(err) => Response::error(format!("authority: {err}"), 503),
    };
    let parsed = |err: serde_json::Error| worker::Error::RustError(format!("command: {err}"));
    let encoded = |err: serde_json::Error| worker::Error::RustError(format!("reply: {err}"));
    match path {
        PASSKEYS_PATH => {
            let command: PasskeyCommand = match serde_json::from_slice(body).map_err(parsed) {
                Ok(command) => command,
                Err(err) => return Err(err),
            };
            let result = state
                .block_concurrency_while(run_passkeys(state.storage(), command))
                .await
                .and_then(|reply| serde_json::to_string(&reply).map_err(encoded));
            answer(result)
        }
        OWNER_PATH => {
            let command: OwnerCommand = match serde_json::from_slice(body).map_err(parsed) {
                Ok(command) => command,
                Err(err) => return Err(err),
            };
            let result = state
                .block_concurrency_while(run_owner(state.storage(), command))
                .await
                .and_then(|owner| serde_json::to_string(&owner).map_err(encoded));
            answer(result)
        }
        _ => Response::error("not a passkey path", 404),
    }
}

/// Passkeys in the users' authorities; users' records in `USERS`.
pub(in crate::edge) struct AuthorityPasskeys<'a>(pub(in crate::edge) &'a Env);

fn owner_object(handle: &UserHandle) -> String {
    format!("passkey_owner:{}", handle.encoded())
}

/// The object that records which user registered credential `id`: named by the id's SHA-256,
/// as ids run to 1,023 bytes.
fn credential_object(id: &CredentialId) -> String {
    format!(
        "passkey_credential:{}",
        b64url(&Sha256::digest(id.as_bytes()))
    )
}

/// Claims `name`'s object for `user`: whether `user` owns it now.
async fn claim(env: &Env, name: &str, user: &Username) -> Result<bool, StoreError> {
    let command = OwnerCommand {
        claim: Some(user.as_str().to_owned()),
    };
    let owner: Option<String> = call(env, name, OWNER_PATH, &command).await?;
    Ok(owner.as_deref() == Some(user.as_str()))
}

impl PasskeyVault for AuthorityPasskeys<'_> {
    async fn apply(
        &self,
        user: &Username,
        command: PasskeyCommand,
    ) -> Result<PasskeyReply, StoreError> {
        call(self.0, user, PASSKEYS_PATH, &command).await
    }

    async fn owner(&self, handle: &UserHandle) -> Result<Option<Username>, StoreError> {
        let owner: Option<String> = call(
            self.0,
            &owner_object(handle),
            OWNER_PATH,
            &OwnerCommand { claim: None },
        )
        .await?;
        owner
            .map(|name| {
                Username::parse(&name)
                    .map_err(|_| StoreError::Corrupt(format!("passkey owner {name:?}")))
            })
            .transpose()
    }

    async fn claim(&self, handle: &UserHandle, user: &Username) -> Result<bool, StoreError> {
        claim(self.0, &owner_object(handle), user).await
    }

    async fn claim_credential(
        &self,
        id: &CredentialId,
        user: &Username,
    ) -> Result<bool, StoreError> {
        claim(self.0, &credential_object(id), user).await
    }
}

impl Directory for AuthorityPasskeys<'_> {
    async fn account(&self, user: &Username) -> Result<Option<Account>, StoreError> {
        credentials::account(self.0, user)
            .await
            .map_err(|err| StoreError::Unavailable(err.0))
    }
}
