//! `edgegate`: the operator's tool for the worker's secrets and its KV data.
//!
//! Everything it writes is produced by the library's own code (key parsing, password records,
//! username normalisation, the `SESSIONS` key layout), so the tool and the worker cannot drift
//! apart on a format. It reaches Workers KV through wrangler rather than its own API client:
//! the operator's wrangler login, `wrangler.toml` bindings and `--env` environments then apply
//! unchanged, and local KV is the very store `wrangler dev` reads.
//!
//! Standard output carries only what the command exists to produce (a key, a ring, a table,
//! or with `--print` the wrangler commands); progress and errors go to standard error.
//! Passwords are never printed, and keys only by the `keys` commands that exist to print them.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use chrono::DateTime;
use clap::{ArgGroup, Args, Parser, Subcommand};
use serde_json::Value;

use edgegate::auth::env::{random_bytes, OsEntropy, UnixTime};
use edgegate::auth::keys::{generate_entry, is_valid_kid, AssertionKeyRing, SessionKeyRing};
use edgegate::auth::kv_keys::{
    revoked_key, session_key, session_of_index_key, user_index_key, user_index_prefix,
};
use edgegate::auth::password::{
    derive_native, new_salt, normalize_username, user_key, PasswordHash, UserRecord,
    PBKDF2_ITERATIONS,
};
use edgegate::auth::refresh::SessionId;
use edgegate::auth::secret::{KeyMaterial, Password};
use edgegate::auth::session::SessionRecord;

/// How long a revocation marker lives when the session's own expiry cannot be read: the
/// worker's default absolute session lifetime.
const FALLBACK_REVOKED_TTL: i64 = 12 * 60 * 60;
/// Added to a session's remaining lifetime for its revocation marker, covering the most clock
/// leeway the worker can be configured to allow on token times.
const REVOKED_TTL_MARGIN: i64 = 5 * 60;
/// Workers KV refuses shorter expirations.
const MIN_KV_TTL: i64 = 60;
/// Where scripts/run.sh keeps local KV for `wrangler dev`.
const DEFAULT_PERSIST_DIR: &str = ".wrangler/state";
/// The wrangler that `npm install` puts in the repository, run by the Node 22 it also installs.
const LOCAL_NODE: &str = "node_modules/.bin/node";
const LOCAL_WRANGLER: &str = "node_modules/wrangler/bin/wrangler.js";

#[derive(Parser)]
#[command(
    name = "edgegate",
    version,
    about = "Operator tool for edgegate: signing keys, users and sessions",
    long_about = "Operator tool for edgegate: signing keys, users and sessions.\n\n\
        The `keys` commands work offline and print secrets for `wrangler secret put` or \
        .dev.vars. The `user` and `sessions` commands change the worker's Workers KV \
        namespaces (USERS, SESSIONS) through wrangler: set EDGEGATE_WRANGLER to choose the \
        wrangler command line; otherwise the repository's node_modules copy is used when \
        present, else `wrangler` from PATH.\n\n\
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
    /// List and end users' sessions (SESSIONS namespace)
    #[command(subcommand)]
    Sessions(SessionsCommand),
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
        username: String,
        /// Roles, comma-separated, forwarded to the origin in X-Auth-Roles
        #[arg(long, value_name = "ROLE,...", value_delimiter = ',', value_parser = parse_role)]
        roles: Vec<String>,
        /// Read the password as one line from standard input
        #[arg(long, conflicts_with = "password_env")]
        password_stdin: bool,
        /// Take the password from this environment variable
        #[arg(long, value_name = "VAR")]
        password_env: Option<String>,
        #[command(flatten)]
        target: Target,
    },
    /// Disable a user and end all of their sessions
    Disable {
        #[arg(value_parser = parse_username)]
        username: String,
        #[command(flatten)]
        target: Target,
    },
    /// Enable a disabled user again
    Enable {
        #[arg(value_parser = parse_username)]
        username: String,
        #[command(flatten)]
        target: Target,
    },
}

#[derive(Subcommand)]
enum SessionsCommand {
    /// Show a user's sessions: id, created, last seen, expiry, device
    List {
        #[arg(value_parser = parse_username)]
        username: String,
        #[command(flatten)]
        target: Target,
    },
    /// End one session (ids are listed by `sessions list` and sent to the origin in X-Auth-Session)
    Revoke {
        #[arg(value_parser = parse_session_id)]
        session_id: SessionId,
        #[command(flatten)]
        target: Target,
    },
    /// End every session of a user ("log out everywhere")
    RevokeAll {
        #[arg(value_parser = parse_username)]
        username: String,
        #[command(flatten)]
        target: Target,
    },
}

/// Which KV the command works on, and whether to change it or only show how.
#[derive(Args)]
#[command(group(ArgGroup::new("location").required(true).args(["local", "remote"])))]
struct Target {
    /// Use wrangler's local KV, the store `wrangler dev` (scripts/run.sh) reads
    #[arg(long)]
    local: bool,
    /// Local KV directory [default: .wrangler/state]
    #[arg(long, value_name = "DIR", conflicts_with = "remote")]
    persist_to: Option<PathBuf>,
    /// Use the deployed Workers KV namespaces (needs `wrangler login` or an API token)
    #[arg(long)]
    remote: bool,
    /// wrangler.toml environment whose namespaces to use, e.g. production
    #[arg(long, value_name = "NAME")]
    env: Option<String>,
    /// wrangler configuration file [default: wrangler's own lookup]
    #[arg(long, value_name = "PATH")]
    config: Option<PathBuf>,
    /// Print the wrangler commands that would change KV instead of running them (reads still run)
    #[arg(long)]
    print: bool,
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
            println!("{}", new_entry(kid)?.expose());
        }
        TopCommand::Keys(KeysCommand::Rotate {
            current,
            current_file,
            kid,
        }) => {
            let current = secret_input(current, current_file.as_deref())?;
            println!("{}", rotated_ring(current.expose(), kid)?.expose());
        }
        TopCommand::Keys(KeysCommand::DevVars) => {
            println!("# Local signing keys for `wrangler dev`, from `edgegate keys dev-vars`.");
            println!("# Never commit this file; deployed workers use `wrangler secret put`.");
            println!("SESSION_KEYS={}", new_entry(None)?.expose());
            println!("ASSERTION_KEYS={}", new_entry(None)?.expose());
        }
        TopCommand::Keys(KeysCommand::Jwks { keys, keys_file }) => {
            let ring = secret_input(keys, keys_file.as_deref())?;
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
        }) => {
            let password = read_password(&username, password_stdin, password_env.as_deref())?;
            let kv = Kv::new(&target)?;
            add_user(&kv, &username, roles, &password)?;
            // A new password (a reset, when the user existed) ends every session of the old one.
            revoke_all(&kv, &username)?;
        }
        TopCommand::User(UserCommand::Disable { username, target }) => {
            let kv = Kv::new(&target)?;
            set_disabled(&kv, &username, true)?;
            revoke_all(&kv, &username)?;
        }
        TopCommand::User(UserCommand::Enable { username, target }) => {
            set_disabled(&Kv::new(&target)?, &username, false)?;
        }
        TopCommand::Sessions(SessionsCommand::List { username, target }) => {
            list_sessions(&Kv::new(&target)?, &username)?;
        }
        TopCommand::Sessions(SessionsCommand::Revoke { session_id, target }) => {
            let kv = Kv::new(&target)?;
            let ended = end_sessions(&kv, &[session_id], None)?;
            eprintln!("{}", kv.done(&format!("ended {ended} session(s)")));
        }
        TopCommand::Sessions(SessionsCommand::RevokeAll { username, target }) => {
            revoke_all(&Kv::new(&target)?, &username)?;
        }
    }
    Ok(())
}

// ---- argument checks (failures here are usage errors: clap exits with status 2) ----------------

fn parse_username(raw: &str) -> Result<String, String> {
    normalize_username(raw).map_err(|err| err.to_string())
}

fn parse_kid(raw: &str) -> Result<String, String> {
    if is_valid_kid(raw) {
        Ok(raw.to_owned())
    } else {
        Err("a kid is 1 to 64 of A-Z a-z 0-9 . _ -".into())
    }
}

/// Roles become one comma-joined header value at the origin, so the worker refuses to forward
/// anything but visible ASCII without commas; refusing it here keeps such a user loggable-in.
fn parse_role(raw: &str) -> Result<String, String> {
    let role = raw.trim();
    if role.is_empty() || !role.bytes().all(|b| b.is_ascii_graphic() && b != b',') {
        return Err("a role is one or more visible ASCII characters other than a comma".into());
    }
    Ok(role.to_owned())
}

fn parse_session_id(raw: &str) -> Result<SessionId, String> {
    SessionId::parse(raw).ok_or_else(|| "not a session id (22 base64url characters)".into())
}

// ---- keys ----------------------------------------------------------------------------------------

/// A fresh `kid:key` entry; without a kid, one that names the day it was made and cannot collide
/// with another made the same day.
fn new_entry(kid: Option<String>) -> Result<KeyMaterial, Failure> {
    let kid = match kid {
        Some(kid) => kid,
        None => {
            let day = DateTime::from_timestamp(now(), 0)
                .ok_or_else(|| Failure("the system clock is out of range".into()))?
                .format("%Y%m%d");
            let suffix: [u8; 2] = random_bytes(&OsEntropy)?;
            format!("k{day}-{:02x}{:02x}", suffix[0], suffix[1])
        }
    };
    Ok(generate_entry(&kid, &OsEntropy)?)
}

/// `current` with a new key in front. Any valid ring is accepted: both rings hold 32-byte keys,
/// and the session ring's parser accepts every key the assertion ring does.
fn rotated_ring(current: &str, kid: Option<String>) -> Result<KeyMaterial, Failure> {
    let ring = SessionKeyRing::parse(current)
        .map_err(|err| Failure(format!("the current value is not a key ring: {err}")))?;
    let entry = new_entry(kid)?;
    let (new_kid, _) = entry.expose().split_once(':').unwrap_or_default();
    if ring.find(new_kid).is_some() {
        return fail(format!(
            "the ring already has a key `{new_kid}`; choose another --kid"
        ));
    }
    let mut entries = vec![entry.expose().as_str()];
    entries.extend(
        current
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|item| !item.is_empty()),
    );
    Ok(KeyMaterial::new(entries.join(",")))
}

/// A secret from its flag, or from a file (`-`: standard input) so it stays out of shell history.
fn secret_input(value: Option<String>, path: Option<&Path>) -> Result<KeyMaterial, Failure> {
    if let Some(value) = value {
        return Ok(KeyMaterial::new(value));
    }
    let Some(path) = path else {
        return fail("no value given"); // clap's argument group requires one of the two
    };
    let mut text = String::new();
    if path == Path::new("-") {
        io::stdin().read_to_string(&mut text)?;
    } else {
        text = fs::read_to_string(path)
            .map_err(|err| Failure(format!("cannot read {}: {err}", path.display())))?;
    }
    Ok(KeyMaterial::new(text))
}

// ---- users ----------------------------------------------------------------------------------------

fn read_password(
    username: &str,
    from_stdin: bool,
    from_env: Option<&str>,
) -> Result<Password, Failure> {
    let password = if let Some(var) = from_env {
        match std::env::var(var) {
            Ok(value) => value,
            Err(_) => return fail(format!("environment variable {var} is not set")),
        }
    } else if from_stdin || !io::stdin().is_terminal() {
        let mut line = String::new();
        io::stdin().lock().read_line(&mut line)?;
        line.trim_end_matches(['\n', '\r']).to_owned()
    } else {
        let first = prompt_hidden(&format!("Password for {username}: "))?;
        if *prompt_hidden("Repeat the password: ")?.expose() != *first.expose() {
            return fail("the passwords differ");
        }
        first.into_inner()
    };
    if password.is_empty() {
        return fail("the password is empty");
    }
    Ok(Password::new(password))
}

/// Reads a line from the terminal with echo off (through `stty`, restored even on error).
fn prompt_hidden(prompt: &str) -> Result<Password, Failure> {
    let stty = |mode: &str| {
        Command::new("stty")
            .arg(mode)
            .stdin(Stdio::inherit())
            .status()
    };
    eprint!("{prompt}");
    if !stty("-echo").is_ok_and(|status| status.success()) {
        return fail("cannot turn off terminal echo; pass the password with --password-stdin");
    }
    let mut line = String::new();
    let read = io::stdin().lock().read_line(&mut line);
    let restored = stty("echo");
    eprintln!();
    read?;
    restored?;
    Ok(Password::new(
        line.trim_end_matches(['\n', '\r']).to_owned(),
    ))
}

fn add_user(
    kv: &Kv,
    username: &str,
    roles: Vec<String>,
    password: &Password,
) -> Result<(), Failure> {
    let salt = new_salt(&OsEntropy)?;
    let hash = derive_native(password.expose(), &salt, PBKDF2_ITERATIONS);
    let record = UserRecord {
        password: PasswordHash::new(PBKDF2_ITERATIONS, &salt, &hash)?.encode(),
        roles,
        disabled: false,
    };
    kv.put(
        Namespace::Users,
        &user_key(username)?,
        &serde_json::to_string(&record)?,
        None,
    )?;
    let roles = match record.roles.join(",") {
        roles if roles.is_empty() => "no roles".to_owned(),
        roles => format!("roles {roles}"),
    };
    eprintln!("{}", kv.done(&format!("stored user {username} ({roles})")));
    Ok(())
}

fn set_disabled(kv: &Kv, username: &str, disabled: bool) -> Result<(), Failure> {
    let key = user_key(username)?;
    let Some(stored) = kv
        .get_all(Namespace::Users, std::slice::from_ref(&key))?
        .remove(&key)
    else {
        return fail(format!("there is no user {username} in {}", kv.describe()));
    };
    let mut record: UserRecord = serde_json::from_str(&stored).map_err(|err| {
        Failure(format!(
            "the stored record of {username} is not valid: {err}"
        ))
    })?;
    let state = if disabled { "disabled" } else { "enabled" };
    if record.disabled == disabled {
        eprintln!("user {username} is already {state}");
        return Ok(());
    }
    record.disabled = disabled;
    kv.put(
        Namespace::Users,
        &key,
        &serde_json::to_string(&record)?,
        None,
    )?;
    eprintln!("{}", kv.done(&format!("{state} user {username}")));
    Ok(())
}

// ---- sessions -------------------------------------------------------------------------------------

/// The ids in a user's session index.
fn indexed_sessions(kv: &Kv, username: &str) -> Result<Vec<SessionId>, Failure> {
    let keys = kv.list(Namespace::Sessions, &user_index_prefix(username))?;
    Ok(keys
        .iter()
        .filter_map(|key| session_of_index_key(key))
        .collect())
}

/// The stored records of `ids`; absent ones (already ended or expired) are left out.
fn session_records(
    kv: &Kv,
    ids: &[SessionId],
) -> Result<HashMap<SessionId, SessionRecord>, Failure> {
    let keys: Vec<String> = ids.iter().map(session_key).collect();
    let mut stored = kv.get_all(Namespace::Sessions, &keys)?;
    let mut records = HashMap::new();
    for id in ids {
        let Some(json) = stored.remove(&session_key(id)) else {
            continue;
        };
        match serde_json::from_str::<SessionRecord>(&json) {
            Ok(record) => {
                records.insert(id.clone(), record);
            }
            Err(err) => eprintln!("warning: session {id} has an unreadable record: {err}"),
        }
    }
    Ok(records)
}

fn list_sessions(kv: &Kv, username: &str) -> Result<(), Failure> {
    let ids = indexed_sessions(kv, username)?;
    let mut records: Vec<SessionRecord> = session_records(kv, &ids)?.into_values().collect();
    if records.is_empty() {
        eprintln!("user {username} has no sessions in {}", kv.describe());
        return Ok(());
    }
    records.sort_by_key(|record| record.created_at);
    let now = now();
    println!(
        "{:<22}  {:<16}  {:<16}  {:<16}  DEVICE",
        "SESSION", "CREATED (UTC)", "LAST SEEN (UTC)", "EXPIRES (UTC)"
    );
    for record in &records {
        let expires = if record.is_live(now) {
            utc_minute(record.expires_at())
        } else {
            "expired".to_owned()
        };
        println!(
            "{:<22}  {:<16}  {:<16}  {:<16}  {}",
            record.id,
            utc_minute(record.created_at),
            utc_minute(record.last_seen_at),
            expires,
            record.user_agent
        );
    }
    Ok(())
}

fn revoke_all(kv: &Kv, username: &str) -> Result<(), Failure> {
    let ids = indexed_sessions(kv, username)?;
    let ended = end_sessions(kv, &ids, Some(username))?;
    eprintln!(
        "{}",
        kv.done(&format!("ended {ended} session(s) of user {username}"))
    );
    Ok(())
}

/// Ends sessions the way the worker does: the revocation marker first (it is what every request
/// checks, so the session is over even if a later step fails), then the record and its index
/// entry. The marker lives as long as the session could have, so no access token minted for it
/// outlives it. Returns how many sessions were ended.
fn end_sessions(kv: &Kv, ids: &[SessionId], user: Option<&str>) -> Result<usize, Failure> {
    if ids.is_empty() {
        return Ok(0);
    }
    let records = session_records(kv, ids)?;
    let now = now();
    for id in ids {
        let record = records.get(id);
        let ttl = record.map_or(FALLBACK_REVOKED_TTL, |record| {
            (record.absolute_expires_at - now + REVOKED_TTL_MARGIN).max(MIN_KV_TTL)
        });
        kv.put(Namespace::Sessions, &revoked_key(id), "1", Some(ttl))?;
        kv.delete(Namespace::Sessions, &session_key(id))?;
        match record.map(|record| record.user.as_str()).or(user) {
            Some(user) => kv.delete(Namespace::Sessions, &user_index_key(user, id))?,
            None => eprintln!(
                "note: session {id} has no stored record; it is marked revoked, but its user's \
                 index entry is unknown and stays until it expires"
            ),
        }
    }
    Ok(ids.len())
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

// ---- Workers KV through wrangler ------------------------------------------------------------------

/// The KV bindings of wrangler.toml.
#[derive(Clone, Copy)]
enum Namespace {
    Users,
    Sessions,
}

impl Namespace {
    fn binding(self) -> &'static str {
        match self {
            Self::Users => "USERS",
            Self::Sessions => "SESSIONS",
        }
    }
}

/// wrangler's `kv` commands, aimed at one target. Reads always run; writes are printed instead
/// when the operator asked for `--print`.
struct Kv {
    wrangler: Vec<String>,
    target_flags: Vec<String>,
    print_only: bool,
    remote: bool,
}

impl Kv {
    fn new(target: &Target) -> Result<Self, Failure> {
        let mut target_flags = Vec::new();
        if target.remote {
            target_flags.push("--remote".to_owned());
        } else {
            let dir = target.persist_to.as_deref();
            let dir = dir.unwrap_or(Path::new(DEFAULT_PERSIST_DIR));
            target_flags.extend(["--local".to_owned(), "--persist-to".to_owned()]);
            target_flags.push(dir.display().to_string());
        }
        if let Some(env) = &target.env {
            target_flags.extend(["--env".to_owned(), env.clone()]);
        }
        if let Some(config) = &target.config {
            target_flags.extend(["--config".to_owned(), config.display().to_string()]);
        }
        Ok(Self {
            wrangler: wrangler_command()?,
            target_flags,
            print_only: target.print,
            remote: target.remote,
        })
    }

    fn describe(&self) -> &'static str {
        if self.remote {
            "remote KV"
        } else {
            "local KV"
        }
    }

    /// A summary line for standard error, saying whether anything really happened.
    fn done(&self, what: &str) -> String {
        if self.print_only {
            format!(
                "dry run: the commands above would have {what} in {}",
                self.describe()
            )
        } else {
            format!("{what} in {}", self.describe())
        }
    }

    fn put(&self, ns: Namespace, key: &str, value: &str, ttl: Option<i64>) -> Result<(), Failure> {
        let mut args = vec!["kv", "key", "put", "--binding", ns.binding(), key, value];
        let ttl = ttl.map(|ttl| ttl.to_string());
        if let Some(ttl) = &ttl {
            args.extend(["--ttl", ttl]);
        }
        self.change(&args)
    }

    fn delete(&self, ns: Namespace, key: &str) -> Result<(), Failure> {
        self.change(&["kv", "key", "delete", "--binding", ns.binding(), key])
    }

    /// The names of the keys under `prefix`.
    fn list(&self, ns: Namespace, prefix: &str) -> Result<Vec<String>, Failure> {
        let out = self.read(&[
            "kv",
            "key",
            "list",
            "--binding",
            ns.binding(),
            "--prefix",
            prefix,
        ])?;
        let listing: Vec<Value> = serde_json::from_str(&out)
            .map_err(|err| Failure(format!("unexpected `wrangler kv key list` output: {err}")))?;
        Ok(listing
            .iter()
            .filter_map(|entry| entry["name"].as_str().map(str::to_owned))
            .collect())
    }

    /// The values of `keys` that exist, with one wrangler call (`kv bulk get`, which, unlike
    /// `kv key get`, tells a missing key from a stored one the same way locally and remotely).
    fn get_all(&self, ns: Namespace, keys: &[String]) -> Result<HashMap<String, String>, Failure> {
        if keys.is_empty() {
            return Ok(HashMap::new());
        }
        let key_file = TempFile::create(&serde_json::to_string(keys)?)?;
        let path = key_file.path.display().to_string();
        let out = self.read(&["kv", "bulk", "get", "--binding", ns.binding(), &path])?;
        let unexpected =
            |why: String| Failure(format!("unexpected `wrangler kv bulk get` output: {why}"));
        let values: HashMap<String, Value> =
            serde_json::from_str(&out).map_err(|err| unexpected(err.to_string()))?;
        let mut found = HashMap::new();
        for (key, value) in values {
            // Local KV answers {"value": ...} per key, the Cloudflare API the bare value.
            let value = match value {
                Value::Object(mut fields) => fields.remove("value").unwrap_or(Value::Null),
                other => other,
            };
            match value {
                Value::String(text) => {
                    found.insert(key, text);
                }
                Value::Null => {}
                other => return Err(unexpected(format!("value of {key} is {other}"))),
            }
        }
        Ok(found)
    }

    fn change(&self, args: &[&str]) -> Result<(), Failure> {
        if self.print_only {
            let line: Vec<String> = self
                .command_line(args)
                .iter()
                .map(|a| shell_quote(a))
                .collect();
            println!("{}", line.join(" "));
            Ok(())
        } else {
            self.read(args).map(drop)
        }
    }

    /// Runs wrangler and returns its standard output. Its output is shown only when it fails:
    /// `kv key put` echoes the value it writes, and the value may be a password hash.
    fn read(&self, args: &[&str]) -> Result<String, Failure> {
        let line = self.command_line(args);
        let shown = || format!("`wrangler {}`", args[..3].join(" "));
        let output = Command::new(&line[0])
            .args(&line[1..])
            .stdin(Stdio::null())
            .output()
            .map_err(|err| {
                Failure(format!(
                    "cannot run `{}`: {err}. Run from the repository root after \
                     scripts/setup.sh, install wrangler, or set EDGEGATE_WRANGLER",
                    line[0]
                ))
            })?;
        if !output.status.success() {
            io::stderr().write_all(&output.stderr)?;
            return fail(format!("{} failed ({})", shown(), output.status));
        }
        String::from_utf8(output.stdout)
            .map_err(|_| Failure(format!("{} printed non-UTF-8", shown())))
    }

    fn command_line(&self, args: &[&str]) -> Vec<String> {
        let mut line = self.wrangler.clone();
        line.extend(args.iter().map(|arg| (*arg).to_owned()));
        line.extend(self.target_flags.iter().cloned());
        line
    }
}

/// EDGEGATE_WRANGLER if set; else the repository's wrangler under the Node 22 it needs (the
/// system Node may be older); else `wrangler` from PATH.
fn wrangler_command() -> Result<Vec<String>, Failure> {
    if let Ok(configured) = std::env::var("EDGEGATE_WRANGLER") {
        let words: Vec<String> = configured.split_whitespace().map(str::to_owned).collect();
        if words.is_empty() {
            return fail("EDGEGATE_WRANGLER is set but empty");
        }
        return Ok(words);
    }
    if Path::new(LOCAL_NODE).exists() && Path::new(LOCAL_WRANGLER).exists() {
        return Ok(vec![LOCAL_NODE.to_owned(), LOCAL_WRANGLER.to_owned()]);
    }
    Ok(vec!["wrangler".to_owned()])
}

/// Quotes a word for a POSIX shell, so printed commands can be pasted or piped to `sh`.
fn shell_quote(word: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "_-./:=@%+,".contains(c);
    if !word.is_empty() && word.chars().all(plain) {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// A file of non-secret input for wrangler, removed when dropped.
struct TempFile {
    path: PathBuf,
}

impl TempFile {
    fn create(contents: &str) -> Result<Self, Failure> {
        let tag: [u8; 8] = random_bytes(&OsEntropy)?;
        let name: String = tag.iter().map(|b| format!("{b:02x}")).collect();
        let path = std::env::temp_dir().join(format!("edgegate-{name}.json"));
        let mut file: File = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)?;
        let file_guard = Self { path };
        file.write_all(contents.as_bytes())?;
        Ok(file_guard)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}
