//! The `user` commands: user records of the KV credential store (`USERS`).
//!
//! Records are made by the library's own code (password hashing, username normalisation), so
//! the tool and the worker cannot drift apart on a format.

use std::io::{self, BufRead, IsTerminal};
use std::process::{Command, Stdio};

use edgegate::OsEntropy;
use edgegate::Password;
use edgegate::Role;
use edgegate::Username;
use edgegate::{b64url, random_bytes};
use edgegate::{derive_native, new_salt, user_key, PasswordHash, UserRecord, PBKDF2_ITERATIONS};

use crate::kv::Kv;
use crate::sessions::Edge;
use crate::{fail, Failure};

/// The KV key of `username`'s record; only built-in users have one.
fn record_key(username: &Username) -> Result<String, Failure> {
    match user_key(username) {
        Some(key) => Ok(key),
        None => fail(format!("{username} is not a built-in user")),
    }
}

pub fn read_password(
    username: &Username,
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

/// Stores a new record for `username`. Replacing one (a password reset) ends every session
/// of the user through `edge`, which is then required: a new password must not leave the old
/// one's sessions alive.
pub fn add_user(
    kv: &Kv,
    edge: Option<&Edge>,
    username: &Username,
    roles: Vec<Role>,
    password: &Password,
) -> Result<(), Failure> {
    let key = record_key(username)?;
    let replacing = kv.get(&key)?.is_some();
    if replacing && edge.is_none() {
        return fail(format!(
            "user {username} exists in {}: a password reset ends their sessions, so give --edge URL \
             (with EDGEGATE_ADMIN_SECRET) to reach the worker",
            kv.describe()
        ));
    }
    let salt = new_salt(&OsEntropy)?;
    let hash = derive_native(password.expose(), &salt, PBKDF2_ITERATIONS);
    let record = UserRecord {
        password: Some(PasswordHash::new(PBKDF2_ITERATIONS, &salt, &hash)?.encode()),
        roles,
        disabled: false,
        // A new account id: a reset retires the passkeys registered before it.
        account: Some(b64url(&random_bytes::<16>(&OsEntropy)?)),
    };
    kv.put(&key, &serde_json::to_string(&record)?)?;
    let roles = match record.roles.join(",") {
        roles if roles.is_empty() => "no roles".to_owned(),
        roles => format!("roles {roles}"),
    };
    eprintln!("{}", kv.done(&format!("stored user {username} ({roles})")));
    match edge {
        Some(edge) if replacing => edge.end_all(username),
        _ => Ok(()),
    }
}

/// The KV key and the stored record of `username`; a failure when there is none or it does not
/// read.
fn stored_user(kv: &Kv, username: &Username) -> Result<(String, UserRecord), Failure> {
    let key = record_key(username)?;
    let Some(stored) = kv.get(&key)? else {
        return fail(format!("there is no user {username} in {}", kv.describe()));
    };
    let record = serde_json::from_str(&stored).map_err(|err| {
        Failure(format!(
            "the stored record of {username} is not valid: {err}"
        ))
    })?;
    Ok((key, record))
}

/// Flips the record's `disabled` flag; returns whether it changed.
pub fn set_disabled(kv: &Kv, username: &Username, disabled: bool) -> Result<bool, Failure> {
    let (key, mut record) = stored_user(kv, username)?;
    let state = if disabled { "disabled" } else { "enabled" };
    if record.disabled == disabled {
        eprintln!("user {username} is already {state}");
        return Ok(false);
    }
    record.disabled = disabled;
    kv.put(&key, &serde_json::to_string(&record)?)?;
    eprintln!("{}", kv.done(&format!("{state} user {username}")));
    Ok(true)
}

/// Removes `username`'s password, leaving them to sign in with passkeys alone; refused unless
/// the worker at `edge` lists at least one passkey of theirs (the worker then refuses to remove
/// the last one). Their sessions stay: nothing they held was lost.
pub fn remove_password(kv: &Kv, edge: &Edge, username: &Username) -> Result<(), Failure> {
    if let Some(list) = edge.passkeys(username)? {
        if list.passkeys.is_empty() {
            return fail(format!(
                "user {username} has no passkey: without a password they could not sign in \
                 (they add one on the account page first)"
            ));
        }
    }
    let (key, mut record) = stored_user(kv, username)?;
    if record.password.is_none() {
        eprintln!("user {username} has no password already");
        return Ok(());
    }
    record.password = None;
    kv.put(&key, &serde_json::to_string(&record)?)?;
    eprintln!(
        "{}",
        kv.done(&format!(
            "removed the password of {username}: passkeys only from now on"
        ))
    );
    Ok(())
}
