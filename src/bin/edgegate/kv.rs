//! Workers KV through wrangler, for the user records (`USERS`).
//!
//! The tool reaches KV through wrangler rather than its own API client: the operator's wrangler
//! login, `wrangler.toml` bindings and `--env` environments then apply unchanged, and local KV is
//! the very store `wrangler dev` reads. Session storage is not written here: sessions are ended
//! through the worker (see `sessions.rs`).

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use clap::{ArgGroup, Args};
use serde_json::Value;

use edgegate::{random_bytes, OsEntropy};

use crate::{fail, Failure};

/// Where scripts/run.sh keeps local KV for `wrangler dev`.
const DEFAULT_PERSIST_DIR: &str = ".wrangler/state";
/// The wrangler that `npm install` puts in the repository, run by the Node 22 it also installs.
const LOCAL_NODE: &str = "node_modules/.bin/node";
const LOCAL_WRANGLER: &str = "node_modules/wrangler/bin/wrangler.js";

/// Which KV the command works on, and whether to change it or only show how.
#[derive(Args)]
#[command(group(ArgGroup::new("location").required(true).args(["local", "remote"])))]
pub struct Target {
    /// Use wrangler's local KV, the store `wrangler dev` (scripts/run.sh) reads
    #[arg(long)]
    pub local: bool,
    /// Local KV directory [default: .wrangler/state]
    #[arg(long, value_name = "DIR", conflicts_with = "remote")]
    pub persist_to: Option<PathBuf>,
    /// Use the deployed Workers KV namespaces (needs `wrangler login` or an API token)
    #[arg(long)]
    pub remote: bool,
    /// wrangler.toml environment whose namespaces to use, e.g. production
    #[arg(long, value_name = "NAME")]
    pub env: Option<String>,
    /// wrangler configuration file [default: wrangler's own lookup]
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Print the wrangler commands that would change KV instead of running them (reads still run)
    #[arg(long)]
    pub print: bool,
}

/// The binding of the user records in wrangler.toml.
const USERS: &str = "USERS";

/// wrangler's `kv` commands, aimed at one target. Reads always run; writes are printed instead
/// when the operator asked for `--print`.
pub struct Kv {
    wrangler: Vec<String>,
    target_flags: Vec<String>,
    print_only: bool,
    remote: bool,
}

impl Kv {
    pub fn new(target: &Target) -> Result<Self, Failure> {
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

    pub fn describe(&self) -> &'static str {
        if self.remote {
            "remote KV"
        } else {
            "local KV"
        }
    }

    /// A summary line for standard error, saying whether anything really happened.
    pub fn done(&self, what: &str) -> String {
        if self.print_only {
            format!(
                "dry run: the commands above would have {what} in {}",
                self.describe()
            )
        } else {
            format!("{what} in {}", self.describe())
        }
    }

    /// Stores `value` under `key` in `USERS`.
    pub fn put(&self, key: &str, value: &str) -> Result<(), Failure> {
        self.change(&["kv", "key", "put", "--binding", USERS, key, value])
    }

    /// The value stored under `key` in `USERS`, with `kv bulk get`, which, unlike `kv key get`,
    /// tells a missing key from a stored one the same way locally and remotely.
    pub fn get(&self, key: &str) -> Result<Option<String>, Failure> {
        let key_file = TempFile::create(&serde_json::to_string(&[key])?)?;
        let path = key_file.path.display().to_string();
        let out = self.read(&["kv", "bulk", "get", "--binding", USERS, &path])?;
        let unexpected =
            |why: String| Failure(format!("unexpected `wrangler kv bulk get` output: {why}"));
        let mut values: HashMap<String, Value> =
            serde_json::from_str(&out).map_err(|err| unexpected(err.to_string()))?;
        // Local KV answers {"value": ...} per key, the Cloudflare API the bare value.
        let value = match values.remove(key) {
            Some(Value::Object(mut fields)) => fields.remove("value").unwrap_or(Value::Null),
            Some(other) => other,
            None => Value::Null,
        };
        match value {
            Value::String(text) => Ok(Some(text)),
            Value::Null => Ok(None),
            other => Err(unexpected(format!("value of {key} is {other}"))),
        }
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
