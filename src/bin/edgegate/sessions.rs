//! The `sessions` commands, and the session ends that user changes entail: requests to the
//! worker's admin endpoint ([`edgegate::AdminCommand`]).
//!
//! The tool never writes session storage itself. The worker runs each command through the same
//! core rules as its own session endpoints, the session authority stays the one writer, and each
//! command leaves an audit line at the edge.

use edgegate::Username;
use std::path::PathBuf;

use clap::Args;
use serde::de::DeserializeOwned;
use serde::Deserialize;

use edgegate::AdminSecret;
use edgegate::SessionId;
use edgegate::MIN_ADMIN_SECRET_LEN;
use edgegate::{AdminCommand, CredentialId, Ended, PasskeyList, PasskeyRemoved, SessionList};

use crate::{fail, utc_minute, Failure};

/// The environment variable that holds the admin secret, unless `--admin-secret-file` is given.
const SECRET_VAR: &str = "EDGEGATE_ADMIN_SECRET";

/// Which worker to ask, and with what credential.
#[derive(Args)]
pub struct EdgeTarget {
    /// The worker's URL, e.g. https://app.example.com (http only for localhost)
    #[arg(long, value_name = "URL")]
    pub edge: String,
    /// Read the worker's ADMIN_SECRET from this file [default: $EDGEGATE_ADMIN_SECRET]
    #[arg(long, value_name = "PATH")]
    pub admin_secret_file: Option<PathBuf>,
    /// Print the requests instead of sending them
    #[arg(long)]
    pub print: bool,
}

/// A client of one worker's admin endpoint.
pub struct Edge {
    base: String,
    secret: AdminSecret,
    print_only: bool,
    agent: ureq::Agent,
}

#[derive(Deserialize)]
struct ErrorBody {
    error: String,
    message: String,
}

impl Edge {
    pub fn new(target: &EdgeTarget) -> Result<Self, Failure> {
        let base = target.edge.trim_end_matches('/').to_owned();
        let (scheme, rest) = base
            .split_once("://")
            .ok_or_else(|| Failure(format!("--edge {base}: not a URL")))?;
        let host = rest.split([':', '/']).next().unwrap_or_default();
        let loopback = matches!(host, "localhost" | "127.0.0.1" | "[::1]");
        match scheme {
            "https" => {}
            "http" if loopback => {}
            "http" => {
                return fail(format!(
                    "--edge {base}: the admin secret goes only over https (http is for localhost)"
                ))
            }
            _ => return fail(format!("--edge {base}: must be an http(s) URL")),
        }
        if rest.contains('/') {
            return fail(format!(
                "--edge {base}: give the worker's origin only, without a path"
            ));
        }
        let secret = match &target.admin_secret_file {
            Some(path) => std::fs::read_to_string(path)
                .map_err(|err| Failure(format!("cannot read {}: {err}", path.display())))?,
            None => std::env::var(SECRET_VAR).map_err(|_| {
                Failure(format!(
                    "{SECRET_VAR} is not set: the admin endpoint needs the worker's ADMIN_SECRET \
                     (or pass --admin-secret-file)"
                ))
            })?,
        };
        let secret = secret.trim().to_owned();
        if secret.len() < MIN_ADMIN_SECRET_LEN {
            return fail(format!(
                "the admin secret is shorter than the worker accepts ({MIN_ADMIN_SECRET_LEN} characters)"
            ));
        }
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(std::time::Duration::from_secs(30)))
            .build();
        Ok(Self {
            base,
            secret: AdminSecret::new(secret),
            print_only: target.print,
            agent: config.new_agent(),
        })
    }

    /// Sends `command` and reads the reply; `None` in `--print` mode.
    fn send<T: DeserializeOwned>(&self, command: &AdminCommand) -> Result<Option<T>, Failure> {
        let url = format!("{}{}", self.base, command.path());
        if self.print_only {
            println!(
                "{} {url}  (Authorization: Bearer ${SECRET_VAR})",
                command.method()
            );
            return Ok(None);
        }
        let authorization = format!("Bearer {}", self.secret.expose());
        let sent = match command.method() {
            "GET" => self
                .agent
                .get(&url)
                .header("Authorization", &authorization)
                .call(),
            _ => self
                .agent
                .delete(&url)
                .header("Authorization", &authorization)
                .call(),
        };
        let mut response = sent.map_err(|err| Failure(format!("cannot reach {url}: {err}")))?;
        let status = response.status().as_u16();
        let body = response
            .body_mut()
            .read_to_string()
            .map_err(|err| Failure(format!("{url}: unreadable answer: {err}")))?;
        if status != 200 {
            return match serde_json::from_str::<ErrorBody>(&body) {
                Ok(refused) => fail(format!(
                    "the worker refused ({status} {}): {}",
                    refused.error, refused.message
                )),
                Err(_) => fail(format!("the worker answered {status} to {url}")),
            };
        }
        serde_json::from_str(&body)
            .map(Some)
            .map_err(|err| Failure(format!("{url}: unexpected answer: {err}")))
    }

    fn report(&self, ended: Option<Ended>, what: &str) {
        match ended {
            Some(ended) => eprintln!("ended {} session(s) {what}", ended.ended.len()),
            None => eprintln!("dry run: the request above would end the sessions {what}"),
        }
    }

    /// Prints the user's live sessions as a table.
    pub fn list(&self, user: &Username) -> Result<(), Failure> {
        let command = AdminCommand::ListSessions {
            user: user.to_owned(),
        };
        let Some(list) = self.send::<SessionList>(&command)? else {
            return Ok(());
        };
        if list.sessions.is_empty() {
            eprintln!("user {user} has no sessions at {}", self.base);
            return Ok(());
        }
        println!(
            "{:<22}  {:<16}  {:<16}  {:<16}  DEVICE",
            "SESSION", "CREATED (UTC)", "LAST SEEN (UTC)", "EXPIRES (UTC)"
        );
        for session in &list.sessions {
            println!(
                "{:<22}  {:<16}  {:<16}  {:<16}  {}",
                session.id,
                utc_minute(session.created_at),
                utc_minute(session.last_seen_at),
                utc_minute(session.expires_at),
                session.device
            );
        }
        Ok(())
    }

    /// Ends one session of `user`.
    pub fn end(&self, user: &Username, session: SessionId) -> Result<(), Failure> {
        let command = AdminCommand::EndSession {
            user: user.to_owned(),
            session,
        };
        let ended = self.send::<Ended>(&command)?;
        self.report(ended, &format!("of user {user}"));
        Ok(())
    }

    /// Ends every session of `user`.
    pub fn end_all(&self, user: &Username) -> Result<(), Failure> {
        let command = AdminCommand::EndAllSessions {
            user: user.to_owned(),
        };
        let ended = self.send::<Ended>(&command)?;
        self.report(ended, &format!("of user {user}"));
        Ok(())
    }

    /// The user's passkeys, read through the worker (`None` in `--print` mode).
    pub fn passkeys(&self, user: &Username) -> Result<Option<PasskeyList>, Failure> {
        self.send(&AdminCommand::ListPasskeys {
            user: user.to_owned(),
        })
    }

    /// Prints the user's passkeys as a table.
    pub fn list_passkeys(&self, user: &Username) -> Result<(), Failure> {
        let Some(list) = self.passkeys(user)? else {
            return Ok(());
        };
        if list.passkeys.is_empty() {
            eprintln!("user {user} has no passkeys at {}", self.base);
            return Ok(());
        }
        println!(
            "{:<44}  {:<16}  {:<16}  {:<6}  NAME",
            "PASSKEY", "ADDED (UTC)", "LAST USED (UTC)", "SYNCED"
        );
        for passkey in &list.passkeys {
            println!(
                "{:<44}  {:<16}  {:<16}  {:<6}  {}",
                passkey.id,
                utc_minute(passkey.created_at),
                passkey
                    .last_used_at
                    .map_or_else(|| "never".to_owned(), utc_minute),
                if passkey.synced { "yes" } else { "no" },
                passkey.name
            );
        }
        Ok(())
    }

    /// Removes one passkey of `user` (the worker refuses the last one of a user without a
    /// password).
    pub fn remove_passkey(&self, user: &Username, passkey: CredentialId) -> Result<(), Failure> {
        let command = AdminCommand::RemovePasskey {
            user: user.to_owned(),
            passkey,
        };
        match self.send::<PasskeyRemoved>(&command)? {
            Some(removed) => eprintln!("removed passkey {} of user {user}", removed.removed),
            None => eprintln!("dry run: the request above would remove the passkey"),
        }
        Ok(())
    }
}
