//! `edgegate`: the operator's tool for the worker's secrets, its users and their sessions.
//!
//! Every rule it applies is the library's own (key parsing, password records, username
//! normalisation, the admin commands' routes), so the tool and the worker cannot drift apart.
//! User records go to Workers KV through wrangler (`kv.rs`); sessions are listed and ended by the
//! worker itself, through its admin endpoint (`sessions.rs`), so the session authority is their
//! one writer.
//!
//! Standard output carries only what the command exists to produce (a key, a ring, a table,
//! or with `--print` the commands or requests); progress and errors go to standard error.
//! Passwords are never printed, and keys only by the `keys` commands that exist to print them.

#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

mod keys;
mod kv;
mod sessions;
mod users;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use chrono::DateTime;
use clap::{ArgGroup, Parser, Subcommand};

use edgegate::CredentialId;
use edgegate::Role;
use edgegate::SessionId;
use edgegate::UnixTime;
use edgegate::Username;
use edgegate::{is_valid_kid, AssertionKeyRing};

use kv::{Kv, Target};
use sessions::{Edge, EdgeTarget};

#[derive(Parser)]
#[command(
    name = "edgegate",
    version,
    about = "Operator tool for edgegate: signing keys, users and sessions",
    long_about = "Operator tool for edgegate: signing keys, users and sessions.\n\n\
        The `keys` commands work offline and print secrets for `wrangler secret put` or \
        .dev.vars. The `user` commands change the USERS namespace through wrangler: set \
        EDGEGATE_WRANGLER to choose the wrangler command line; otherwise the repository's \
        node_modules copy is used when present, else `wrangler` from PATH. The `sessions` \
        commands, and the session ends of `user add` (a reset) and `user disable`, ask the \
        worker at --edge URL, authenticated by its ADMIN_SECRET from EDGEGATE_ADMIN_SECRET.\n\n\
        Exit status: 0 on success, 1 when the command failed, 2 for a usage error."
)]
struct Cli {
    #[command(subcommand)]
    command: TopCommand,
}

#[derive(Subcommand)]
enum TopCommand {
    /// Generate, rotate and inspect the signing keys (SESSION_KEYS, ASSERTION_KEYS)
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Add, disable and enable users of the KV credential store (USERS namespace)
    #[command(subcommand)]
    User(UserCommand),
    /// List and end users' sessions (through the worker's admin endpoint)
    #[command(subcommand)]
    Sessions(SessionsCommand),
    /// List and remove users' passkeys (through the worker's admin endpoint)
    #[command(subcommand)]
    Passkeys(PasskeysCommand),
}

#[derive(Subcommand)]
enum PasskeysCommand {
    /// Show a user's passkeys: id, added, last used, synced, name
    List {
        #[arg(value_parser = parse_username)]
        username: Username,
        #[command(flatten)]
        edge: EdgeTarget,
    },
    /// Remove one passkey of a user (refused for the last one of a user without a password)
    Remove {
        #[arg(value_parser = parse_username)]
        username: Username,
        /// The credential id, as `passkeys list` shows it (base64url: it may start with `-`)
        #[arg(value_parser = parse_credential_id, allow_hyphen_values = true)]
        passkey: CredentialId,
        #[command(flatten)]
        edge: EdgeTarget,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Print one new `kid:key` entry (32 random bytes, base64url)
    #[command(
        long_about = "Print one new `kid:key` entry: 32 random bytes in unpadded base64url. \
            It serves both rings: as an HMAC-SHA256 key in SESSION_KEYS or as an Ed25519 seed \
            in ASSERTION_KEYS."
    )]
    Generate {
        /// Key id; default `k<UTC date>-<random>`, e.g. k20261122-3f9a
        #[arg(long, value_parser = parse_kid)]
        kid: Option<String>,
    },
    /// Print a ring with a new key in front of the current keys
    #[command(
        long_about = "Print the current ring with a new key in front: the first key signs, \
            every key verifies. Store the result with `wrangler secret put SESSION_KEYS` (or \
            ASSERTION_KEYS) and deploy; remove the old keys once nothing signed by them is \
            still in use. The current value is read from --current or --current-file and must \
            parse as a key ring.",
        group(ArgGroup::new("current_ring").required(true).args(["current", "current_file"]))
    )]
    Rotate {
        /// The ring's current value (note: visible in shell history and process lists)
        #[arg(long, value_name = "RING")]
        current: Option<String>,
        /// Read the ring's current value from this file (`-` for standard input)
        #[arg(long, value_name = "PATH")]
        current_file: Option<PathBuf>,
        /// Key id of the new key; default `k<UTC date>-<random>`
        #[arg(long, value_parser = parse_kid)]
        kid: Option<String>,
    },
    /// Print a .dev.vars body with fresh SESSION_KEYS and ASSERTION_KEYS for local development
    DevVars,
    /// Print the public JWKS the origin sees for an ASSERTION_KEYS value
    #[command(group(ArgGroup::new("assertion_ring").required(true).args(["keys", "keys_file"])))]
    Jwks {
        /// The ASSERTION_KEYS value
        #[arg(long, value_name = "RING")]
        keys: Option<String>,
        /// Read the ASSERTION_KEYS value from this file (`-` for standard input)
        #[arg(long, value_name = "PATH")]
        keys_file: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a user, or replace their record (e.g. to reset the password)
    #[command(
        long_about = "Create a user, or replace their record (e.g. to reset the password; the \
            replaced record is enabled and every session of the user ends). The password is hashed here with PBKDF2-HMAC-SHA256 \
            and a fresh salt; only the hash is stored. Without --password-stdin or \
            --password-env the password is asked for on the terminal, or read as one line from \
            standard input when that is not a terminal."
    )]
    Add {
        /// Username; stored trimmed and lowercased
        #[arg(value_parser = parse_username)]
        username: Username,
        /// Roles, comma-separated, forwarded to the origin in X-Auth-Roles: each 1 to 64 ASCII
        /// letters, digits and - _ . : (what an ACCESS_POLICY rule can name)
        #[arg(
            long,
            value_name = "ROLE,...",
            value_delimiter = ',',
            value_parser = |raw: &str| Role::parse(raw.trim())
        )]
        roles: Vec<Role>,
        /// Read the password as one line from standard input
        #[arg(long, conflicts_with = "password_env")]
        password_stdin: bool,
        /// Take the password from this environment variable
        #[arg(long, value_name = "VAR")]
        password_env: Option<String>,
        #[command(flatten)]
        target: Target,
        #[command(flatten)]
        ends: SessionEnds,
    },
    /// Disable a user and end all of their sessions
    #[command(
        long_about = "Disable a user: no more logins, no more refreshes. With --edge their \
            sessions end at once through the worker; without it, each ends at its next refresh \
            and its access token within ACCESS_TTL."
    )]
    Disable {
        #[arg(value_parser = parse_username)]
        username: Username,
        #[command(flatten)]
        target: Target,
        #[command(flatten)]
        ends: SessionEnds,
    },
    /// Enable a disabled user again
    Enable {
        #[arg(value_parser = parse_username)]
        username: Username,
        #[command(flatten)]
        target: Target,
    },
    /// Remove a user's password: they sign in with their passkeys only
    #[command(
        long_about = "Remove a user's password, so that they sign in with their passkeys alone \
            (phishing-resistant only). The worker at --edge must list at least one passkey of \
            theirs; it then refuses to remove their last one. `user add` gives a password back."
    )]
    RemovePassword {
        #[arg(value_parser = parse_username)]
        username: Username,
        #[command(flatten)]
        target: Target,
        #[command(flatten)]
        ends: SessionEnds,
    },
}

#[derive(Subcommand)]
enum SessionsCommand {
    /// Show a user's live sessions: id, created, last seen, expiry, device
    List {
        #[arg(value_parser = parse_username)]
        username: Username,
        #[command(flatten)]
        edge: EdgeTarget,
    },
    /// End one session of a user (ids are listed by `sessions list` and sent to the origin in
    /// X-Auth-Session, beside X-Auth-User)
    Revoke {
        #[arg(value_parser = parse_username)]
        username: Username,
        /// The session id (base64url: it may start with `-`)
        #[arg(value_parser = parse_session_id, allow_hyphen_values = true)]
        session_id: SessionId,
        #[command(flatten)]
        edge: EdgeTarget,
    },
    /// End every session of a user ("log out everywhere")
    RevokeAll {
        #[arg(value_parser = parse_username)]
        username: Username,
        #[command(flatten)]
        edge: EdgeTarget,
    },
}

/// The worker that ends the sessions a user change leaves behind (optional for `user` commands).
#[derive(clap::Args)]
struct SessionEnds {
    /// The worker's URL, to end the user's sessions at once (needs EDGEGATE_ADMIN_SECRET)
    #[arg(long, value_name = "URL")]
    edge: Option<String>,
    /// Read the worker's ADMIN_SECRET from this file [default: $EDGEGATE_ADMIN_SECRET]
    #[arg(long, value_name = "PATH", requires = "edge")]
    admin_secret_file: Option<PathBuf>,
}

impl SessionEnds {
    /// The admin client, if a worker was named; `print` follows the KV target's `--print`.
    fn edge(self, print: bool) -> Result<Option<Edge>, Failure> {
        self.edge
            .map(|edge| {
                Edge::new(&EdgeTarget {
                    edge,
                    admin_secret_file: self.admin_secret_file,
                    print,
                })
            })
            .transpose()
    }
}

/// A failed command: the message for standard error. Exits with status 1.
#[derive(Debug)]
struct Failure(String);

impl<E: std::error::Error> From<E> for Failure {
    fn from(err: E) -> Self {
        Self(err.to_string())
    }
}

fn fail<T>(message: impl Into<String>) -> Result<T, Failure> {
    Err(Failure(message.into()))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(message)) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: TopCommand) -> Result<(), Failure> {
    match command {
        TopCommand::Keys(KeysCommand::Generate { kid }) => {
            println!("{}", keys::new_entry(kid)?.expose());
        }
        TopCommand::Keys(KeysCommand::Rotate {
            current,
            current_file,
            kid,
        }) => {
            let current = keys::secret_input(current, current_file.as_deref())?;
            println!("{}", keys::rotated_ring(current.expose(), kid)?.expose());
        }
        TopCommand::Keys(KeysCommand::DevVars) => {
            println!("# Local signing keys for `wrangler dev`, from `edgegate keys dev-vars`.");
            println!("# Never commit this file; deployed workers use `wrangler secret put`.");
            println!("SESSION_KEYS={}", keys::new_entry(None)?.expose());
            println!("ASSERTION_KEYS={}", keys::new_entry(None)?.expose());
        }
        TopCommand::Keys(KeysCommand::Jwks { keys, keys_file }) => {
            let ring = keys::secret_input(keys, keys_file.as_deref())?;
            let ring = AssertionKeyRing::parse(ring.expose())
                .map_err(|err| Failure(format!("ASSERTION_KEYS: {err}")))?;
            println!("{}", serde_json::to_string_pretty(&ring.jwks())?);
        }
        TopCommand::User(UserCommand::Add {
            username,
            roles,
            password_stdin,
            password_env,
            target,
            ends,
        }) => {
            let edge = ends.edge(target.print)?;
            let password =
                users::read_password(&username, password_stdin, password_env.as_deref())?;
            users::add_user(
                &Kv::new(&target)?,
                edge.as_ref(),
                &username,
                roles,
                &password,
            )?;
        }
        TopCommand::User(UserCommand::Disable {
            username,
            target,
            ends,
        }) => {
            let edge = ends.edge(target.print)?;
            users::set_disabled(&Kv::new(&target)?, &username, true)?;
            match edge {
                Some(edge) => edge.end_all(&username)?,
                None => eprintln!(
                    "note: without --edge, {username}'s sessions end at their next refresh (access \
                     tokens already issued live out ACCESS_TTL)"
                ),
            }
        }
        TopCommand::User(UserCommand::Enable { username, target }) => {
            users::set_disabled(&Kv::new(&target)?, &username, false)?;
        }
        TopCommand::User(UserCommand::RemovePassword {
            username,
            target,
            ends,
        }) => {
            let Some(edge) = ends.edge(target.print)? else {
                return fail(format!(
                    "give --edge URL: the worker must confirm that {username} has a passkey"
                ));
            };
            users::remove_password(&Kv::new(&target)?, &edge, &username)?;
        }
        TopCommand::Passkeys(PasskeysCommand::List { username, edge }) => {
            Edge::new(&edge)?.list_passkeys(&username)?;
        }
        TopCommand::Passkeys(PasskeysCommand::Remove {
            username,
            passkey,
            edge,
        }) => {
            Edge::new(&edge)?.remove_passkey(&username, passkey)?;
        }
        TopCommand::Sessions(SessionsCommand::List { username, edge }) => {
            Edge::new(&edge)?.list(&username)?;
        }
        TopCommand::Sessions(SessionsCommand::Revoke {
            username,
            session_id,
            edge,
        }) => {
            Edge::new(&edge)?.end(&username, session_id)?;
        }
        TopCommand::Sessions(SessionsCommand::RevokeAll { username, edge }) => {
            Edge::new(&edge)?.end_all(&username)?;
        }
    }
    Ok(())
}

// ---- argument checks (failures here are usage errors: clap exits with status 2) ----------------

/// A built-in username (normalised), or a federated `<provider>:<sub>` id as the worker shows it.
fn parse_username(raw: &str) -> Result<Username, String> {
    if raw.contains(':') {
        return Username::try_from(raw.to_owned())
            .map_err(|_| "not a `<provider>:<sub>` id of a configured provider's shape".into());
    }
    Username::parse(raw).map_err(|err| err.to_string())
}

fn parse_kid(raw: &str) -> Result<String, String> {
    if is_valid_kid(raw) {
        Ok(raw.to_owned())
    } else {
        Err("a kid is 1 to 64 of A-Z a-z 0-9 . _ -".into())
    }
}

fn parse_session_id(raw: &str) -> Result<SessionId, String> {
    SessionId::parse(raw).ok_or_else(|| "not a session id (22 base64url characters)".into())
}

fn parse_credential_id(raw: &str) -> Result<CredentialId, String> {
    CredentialId::parse(raw)
        .ok_or_else(|| "not a credential id (base64url, 16 to 1023 bytes)".into())
}

fn now() -> UnixTime {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs() as UnixTime)
}

fn utc_minute(time: UnixTime) -> String {
    DateTime::from_timestamp(time, 0).map_or_else(
        || time.to_string(),
        |at| at.format("%Y-%m-%d %H:%M").to_string(),
    )
}
