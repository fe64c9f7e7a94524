//! The `edgegate` command-line tool, run as a program.
//!
//! Most tests never touch KV: the `keys` commands are offline, and the `user` commands run
//! against a stand-in wrangler (a shell script that logs its arguments and answers reads from
//! canned files) with `--print`, so every written key and value is checked without wrangler's
//! start-up cost. One test at the end writes to real local KV through the real wrangler. The
//! `sessions` commands talk to a running worker: `tests/e2e/admin.test.mjs` runs them against
//! the built worker; here only their checks before any request are tested.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use edgegate::auth::accounts::password::{derive_native, UserRecord};
use edgegate::auth::names::role::Role;
use edgegate::auth::token::keys::{AssertionKeyRing, SessionKeyRing};

const BIN: &str = env!("CARGO_BIN_EXE_edgegate");

fn edgegate(args: &[&str]) -> Command {
    let mut command = Command::new(BIN);
    command
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("EDGEGATE_WRANGLER")
        .env_remove("EDGEGATE_ADMIN_SECRET")
        .stdin(Stdio::null());
    command
}

fn run(args: &[&str]) -> Output {
    edgegate(args).output().unwrap()
}

fn run_with_stdin(args: &[&str], input: &str) -> Output {
    let mut child = edgegate(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

#[track_caller]
fn assert_status(output: &Output, code: i32) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "stdout:\n{}\nstderr:\n{}",
        stdout(output),
        stderr(output)
    );
}

/// Splits a printed command line the way a POSIX shell would (bare words and single quotes).
fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' => words.extend(word.take()),
            '\'' => {
                let word = word.get_or_insert_with(String::new);
                for quoted in chars.by_ref() {
                    if quoted == '\'' {
                        break;
                    }
                    word.push(quoted);
                }
            }
            '\\' => word.get_or_insert_with(String::new).extend(chars.next()),
            other => word.get_or_insert_with(String::new).push(other),
        }
    }
    words.extend(word);
    words
}

/// The printed commands, each as words after the wrangler program.
fn printed_commands(output: &Output, wrangler_words: usize) -> Vec<Vec<String>> {
    stdout(output)
        .lines()
        .map(|line| shell_words(line)[wrangler_words..].to_vec())
        .collect()
}

// ---- help and usage ----------------------------------------------------------------------------

#[test]
fn help_explains_every_level() {
    let cases: &[(&[&str], &str)] = &[
        (&["--help"], "Exit status"),
        (&["keys", "--help"], "rotate"),
        (&["keys", "generate", "--help"], "--kid"),
        (&["keys", "rotate", "--help"], "--current-file"),
        (&["keys", "dev-vars", "--help"], ".dev.vars"),
        (&["keys", "jwks", "--help"], "ASSERTION_KEYS"),
        (&["user", "--help"], "disable"),
        (&["user", "add", "--help"], "--password-stdin"),
        (&["user", "disable", "--help"], "--persist-to"),
        (&["user", "enable", "--help"], "--remote"),
        (&["user", "disable", "--help"], "--edge"),
        (&["sessions", "--help"], "revoke-all"),
        (&["sessions", "list", "--help"], "--edge"),
        (&["sessions", "revoke", "--help"], "--admin-secret-file"),
        (&["sessions", "revoke-all", "--help"], "--print"),
        (&["passkeys", "--help"], "remove"),
        (&["passkeys", "list", "--help"], "--edge"),
        (&["passkeys", "remove", "--help"], "--admin-secret-file"),
        (&["user", "remove-password", "--help"], "passkeys"),
    ];
    for (args, expected) in cases {
        let output = run(args);
        assert_status(&output, 0);
        assert!(stdout(&output).contains(expected), "{args:?}");
    }
}

#[test]
fn usage_errors_exit_with_status_2() {
    for args in [
        &[][..],
        &["keys"],
        &["keys", "frobnicate"],
        &["keys", "generate", "--kid", "../x"],
        &["keys", "rotate"],
        &["user", "add", "alice", "--password-stdin"],
        &["user", "add", "alice", "--local", "--remote"],
        &["user", "add", "alice", "--remote", "--persist-to", "x"],
        &["user", "add", "alice", "--local", "--roles", "a,,b"],
        &[
            "sessions",
            "revoke",
            "alice",
            "not-an-id",
            "--edge",
            "http://localhost:1",
        ],
        &["sessions", "list", "alice"],
        &[
            "passkeys",
            "remove",
            "alice",
            "short",
            "--edge",
            "http://localhost:1",
        ],
        &["passkeys", "list", "alice"],
        &[
            "user",
            "add",
            "alice",
            "--local",
            "--admin-secret-file",
            "x",
        ],
    ] {
        let output = run(args);
        assert_status(&output, 2);
        assert!(!stderr(&output).is_empty(), "{args:?}");
    }
}

#[test]
fn usernames_are_checked_before_anything_runs() {
    for bad in ["al ice", ".alice", "ålice", ""] {
        let output = run(&["user", "add", bad, "--local", "--print"]);
        assert_status(&output, 2);
        assert!(stderr(&output).contains("username"), "{bad:?}");
        assert!(stdout(&output).is_empty());
    }
}

// ---- keys ----------------------------------------------------------------------------------------

#[test]
fn generated_keys_fit_both_rings_and_differ() {
    let first = run(&["keys", "generate"]);
    assert_status(&first, 0);
    let entry = stdout(&first).trim().to_owned();
    assert!(SessionKeyRing::parse(&entry).is_ok());
    assert!(AssertionKeyRing::parse(&entry).is_ok());
    let kid = entry.split_once(':').unwrap().0;
    assert!(
        kid.starts_with("k20") && kid.len() == "k20261122-abcd".len(),
        "{kid}"
    );

    let second = stdout(&run(&["keys", "generate"])).trim().to_owned();
    assert_ne!(entry, second);

    let named = stdout(&run(&["keys", "generate", "--kid", "s2"]));
    assert!(named.starts_with("s2:"));
}

#[test]
fn rotation_puts_the_new_key_first_and_keeps_the_old() {
    let old = format!(
        "{},{}",
        stdout(&run(&["keys", "generate", "--kid", "old1"])).trim(),
        stdout(&run(&["keys", "generate", "--kid", "old2"])).trim()
    );
    let output = run(&["keys", "rotate", "--current", &old, "--kid", "new"]);
    assert_status(&output, 0);
    let rotated = stdout(&output).trim().to_owned();
    assert!(rotated.ends_with(&format!(",{old}")));
    let ring = SessionKeyRing::parse(&rotated).unwrap();
    assert_eq!(ring.kids().collect::<Vec<_>>(), ["new", "old1", "old2"]);
    assert!(AssertionKeyRing::parse(&rotated).is_ok());

    // The same through standard input, with the default kid.
    let piped = run_with_stdin(
        &["keys", "rotate", "--current-file", "-"],
        &format!("{old}\n"),
    );
    assert_status(&piped, 0);
    let ring = SessionKeyRing::parse(stdout(&piped).trim()).unwrap();
    assert_eq!(ring.kids().count(), 3);
    assert!(ring.signing_key().kid().starts_with('k'));
}

#[test]
fn rotation_refuses_a_bad_ring_or_a_kid_already_in_it() {
    for (current, expected) in [
        ("not a ring", "not a key ring"),
        ("a:AAAA", "not a key ring"),
        ("", "not a key ring"),
    ] {
        let output = run(&["keys", "rotate", "--current", current]);
        assert_status(&output, 1);
        assert!(stderr(&output).contains(expected), "{current:?}");
        assert!(stdout(&output).is_empty());
    }
    let old = stdout(&run(&["keys", "generate", "--kid", "a"]));
    let output = run(&["keys", "rotate", "--current", old.trim(), "--kid", "a"]);
    assert_status(&output, 1);
    assert!(stderr(&output).contains("already has a key `a`"));
    // The error names the problem without echoing the secret.
    let output = run(&["keys", "rotate", "--current", "a:c2hvcnQ"]);
    assert!(!stderr(&output).contains("c2hvcnQ"));

    let missing = run(&["keys", "rotate", "--current-file", "/nonexistent/ring"]);
    assert_status(&missing, 1);
    assert!(stderr(&missing).contains("cannot read /nonexistent/ring"));
}

#[test]
fn dev_vars_holds_both_rings() {
    let output = run(&["keys", "dev-vars"]);
    assert_status(&output, 0);
    let body = stdout(&output);
    let value = |name: &str| {
        body.lines()
            .find_map(|line| line.strip_prefix(&format!("{name}=")))
            .unwrap_or_else(|| panic!("no {name} line in {body}"))
            .to_owned()
    };
    assert!(SessionKeyRing::parse(&value("SESSION_KEYS")).is_ok());
    assert!(AssertionKeyRing::parse(&value("ASSERTION_KEYS")).is_ok());
    assert_ne!(value("SESSION_KEYS"), value("ASSERTION_KEYS"));
    assert!(body
        .lines()
        .all(|line| line.starts_with('#') || line.contains('=')));
}

#[test]
fn jwks_shows_the_public_keys() {
    let ring = stdout(&run(&["keys", "generate", "--kid", "a1"]));
    let output = run(&["keys", "jwks", "--keys", ring.trim()]);
    assert_status(&output, 0);
    let jwks: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(
        jwks,
        AssertionKeyRing::parse(ring.trim()).unwrap().jwks(),
        "the origin sees what the worker publishes"
    );
    let seed = ring.trim().split_once(':').unwrap().1;
    assert!(!stdout(&output).contains(seed));

    let bad = run(&["keys", "jwks", "--keys", "a1:AAAA"]);
    assert_status(&bad, 1);
    assert!(stderr(&bad).contains("ASSERTION_KEYS"));
}

// ---- users and sessions against a stand-in wrangler ------------------------------------------------

/// A stand-in for wrangler: logs each call, answers `kv bulk get` from a file.
struct FakeWrangler {
    dir: PathBuf,
}

impl FakeWrangler {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("edgegate-cli-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let script = r#"d=$(dirname "$0")
echo "$*" >>"$d/calls"
case "$*" in
  "kv bulk get "*) cat "$d/bulk.json" ;;
esac
"#;
        fs::write(dir.join("wrangler.sh"), script).unwrap();
        fs::write(dir.join("bulk.json"), "{}").unwrap();
        Self { dir }
    }

    fn answer_bulk_get(&self, json: &serde_json::Value) {
        fs::write(self.dir.join("bulk.json"), json.to_string()).unwrap();
    }

    fn run(&self, args: &[&str]) -> Output {
        let command = format!("sh {}", self.dir.join("wrangler.sh").display());
        edgegate(args)
            .env("EDGEGATE_WRANGLER", command)
            .output()
            .unwrap()
    }

    /// What edgegate asked wrangler to do (only reads run in `--print` mode).
    fn calls(&self) -> Vec<String> {
        fs::read_to_string(self.dir.join("calls"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

impl Drop for FakeWrangler {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// Words of the stand-in's command line (`sh <script>`).
const FAKE_WORDS: usize = 2;

#[test]
fn user_add_writes_a_record_the_worker_can_verify() {
    let fake = FakeWrangler::new("add");
    let password = "correct horse battery staple";
    let output = {
        let command = format!("sh {}", fake.dir.join("wrangler.sh").display());
        let mut child = edgegate(&[
            "user",
            "add",
            "  Alice@Example.com ",
            "--roles",
            "admin,billing:read",
            "--password-stdin",
            "--local",
            "--print",
        ])
        .env("EDGEGATE_WRANGLER", command)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(format!("{password}\n").as_bytes()).unwrap();
        drop(stdin);
        child.wait_with_output().unwrap()
    };
    assert_status(&output, 0);
    let calls = fake.calls();
    assert_eq!(calls.len(), 1, "a dry run only reads: {calls:?}");
    assert!(
        calls[0].starts_with("kv bulk get --binding USERS "),
        "adding a user looks for an existing record (a password reset ends sessions): {calls:?}"
    );
    assert!(!stdout(&output).contains(password) && !stderr(&output).contains(password));

    let commands = printed_commands(&output, FAKE_WORDS);
    assert_eq!(
        commands.len(),
        1,
        "a new user, so only the record is written"
    );
    let put = &commands[0];
    assert_eq!(put[..5], ["kv", "key", "put", "--binding", "USERS"]);
    assert_eq!(put[5], "user:alice@example.com");
    assert_eq!(put[7..], ["--local", "--persist-to", ".wrangler/state"]);
    let record: UserRecord = serde_json::from_str(&put[6]).unwrap();
    assert_eq!(record.roles, ["admin", "billing:read"]);
    assert!(!record.disabled);
    // A new account id each time a record is written: passkeys of before do not carry over.
    assert!(record.account.as_ref().is_some_and(|id| id.len() >= 22));

    let hash = record.password_hash().unwrap().unwrap();
    assert!(hash.matches(&derive_native(password, hash.salt(), hash.iterations())));
    assert!(!hash.matches(&derive_native(
        "Correct horse battery staple",
        hash.salt(),
        hash.iterations()
    )));
}

#[test]
fn user_add_refuses_a_role_no_policy_could_name() {
    for roles in [
        "admin,billing/read",
        "admin,a b",
        "r\u{f4}le",
        "ops;admin",
        "x\"y",
        &"r".repeat(65),
    ] {
        // Refused while the arguments are read: before any password or KV access.
        let output = run(&[
            "user",
            "add",
            "alice",
            "--roles",
            roles,
            "--password-stdin",
            "--local",
            "--print",
        ]);
        assert_status(&output, 2);
        let shown = stderr(&output);
        assert!(shown.contains("--roles"), "{roles}: {shown}");
        assert!(shown.contains("a role name"), "{roles}: {shown}");
        assert!(stdout(&output).is_empty(), "{roles}: nothing is written");
    }
}

#[test]
fn user_add_refuses_an_empty_or_unset_password() {
    let output = run_with_stdin(&["user", "add", "alice", "--local", "--print"], "\n");
    assert_status(&output, 1);
    assert!(stderr(&output).contains("password is empty"));

    let output = edgegate(&[
        "user",
        "add",
        "alice",
        "--password-env",
        "EDGEGATE_TEST_UNSET_PASSWORD",
        "--local",
        "--print",
    ])
    .env_remove("EDGEGATE_TEST_UNSET_PASSWORD")
    .output()
    .unwrap();
    assert_status(&output, 1);
    assert!(stderr(&output).contains("EDGEGATE_TEST_UNSET_PASSWORD is not set"));
}

fn stored_user(disabled: bool) -> serde_json::Value {
    let record = UserRecord {
        password: Some("pbkdf2-sha256$100000$MDEyMzQ1Njc4OWFiY2RlZg$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".into()),
        roles: vec![Role::parse("admin").unwrap()],
        disabled,
        account: None,
    };
    // The shape the Cloudflare API answers with: bare values, null when absent.
    serde_json::json!({ "user:alice": serde_json::to_string(&record).unwrap() })
}

#[test]
fn target_flags_reach_wrangler() {
    let fake = FakeWrangler::new("target");
    fake.answer_bulk_get(&stored_user(true));
    let output = fake.run(&[
        "user",
        "enable",
        "alice",
        "--remote",
        "--env",
        "production",
        "--config",
        "other.toml",
        "--print",
    ]);
    assert_status(&output, 0);
    let calls = fake.calls();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert!(
        calls[0].starts_with("kv bulk get --binding USERS "),
        "{calls:?}"
    );
    assert!(
        calls[0].ends_with(" --remote --env production --config other.toml"),
        "{calls:?}"
    );
    let commands = printed_commands(&output, FAKE_WORDS);
    assert_eq!(commands.len(), 1, "{commands:?}");
    assert_eq!(
        commands[0][7..],
        ["--remote", "--env", "production", "--config", "other.toml"]
    );
    assert!(stderr(&output).contains("enabled user alice in remote KV"));
}

#[test]
fn a_password_reset_needs_the_worker_to_end_the_old_sessions() {
    let fake = FakeWrangler::new("reset");
    fake.answer_bulk_get(&stored_user(false));
    let command = format!("sh {}", fake.dir.join("wrangler.sh").display());
    let output = edgegate(&[
        "user",
        "add",
        "alice",
        "--password-env",
        "EDGEGATE_TEST_PASSWORD",
        "--local",
        "--print",
    ])
    .env("EDGEGATE_WRANGLER", command)
    .env("EDGEGATE_TEST_PASSWORD", "a new password")
    .output()
    .unwrap();
    assert_status(&output, 1);
    assert!(
        stderr(&output).contains("give --edge URL"),
        "{}",
        stderr(&output)
    );
    assert!(
        printed_commands(&output, FAKE_WORDS).is_empty(),
        "nothing is written before the sessions can be ended"
    );
}

#[test]
fn disabling_a_user_flips_the_record_and_says_when_sessions_end() {
    let fake = FakeWrangler::new("disable");
    fake.answer_bulk_get(&stored_user(false));
    let output = fake.run(&["user", "disable", "Alice", "--remote", "--print"]);
    assert_status(&output, 0);
    let commands = printed_commands(&output, FAKE_WORDS);
    assert_eq!(commands.len(), 1, "{commands:?}");
    let put_user = &commands[0];
    assert_eq!(put_user[3..6], ["--binding", "USERS", "user:alice"]);
    let written: UserRecord = serde_json::from_str(&put_user[6]).unwrap();
    assert!(written.disabled);
    assert_eq!(written.roles, ["admin"]);
    assert!(
        stderr(&output).contains("sessions end at their next refresh"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn the_admin_client_checks_its_target_before_sending_anything() {
    let secret = "s".repeat(40);
    let cases: &[(&str, Option<&str>, &str)] = &[
        ("http://edge.example", Some(&secret), "only over https"),
        ("https://edge.example/auth", Some(&secret), "without a path"),
        ("ftp://edge.example", Some(&secret), "http(s) URL"),
        ("edge.example", Some(&secret), "not a URL"),
        (
            "https://edge.example",
            None,
            "EDGEGATE_ADMIN_SECRET is not set",
        ),
        (
            "https://edge.example",
            Some("short"),
            "shorter than the worker accepts",
        ),
    ];
    for (edge, secret, expected) in cases {
        let mut command = edgegate(&["sessions", "list", "alice", "--edge", edge]);
        if let Some(secret) = secret {
            command.env("EDGEGATE_ADMIN_SECRET", secret);
        }
        let output = command.output().unwrap();
        assert_status(&output, 1);
        assert!(
            stderr(&output).contains(expected),
            "{edge}: {}",
            stderr(&output)
        );
    }
    // --print shows the request, and never the secret.
    let printed = |args: &[&str]| {
        let output = edgegate(&[args, &["--print"]].concat())
            .env("EDGEGATE_ADMIN_SECRET", &secret)
            .output()
            .unwrap();
        assert_status(&output, 0);
        output
    };
    let output = printed(&[
        "sessions",
        "revoke-all",
        "alice",
        "--edge",
        "https://edge.example/",
    ]);
    assert_eq!(
        stdout(&output).trim(),
        "DELETE https://edge.example/auth/admin/users/alice/sessions  (Authorization: Bearer $EDGEGATE_ADMIN_SECRET)"
    );
    assert!(!stdout(&output).contains(&secret) && !stderr(&output).contains(&secret));

    // A federated user, as the worker names it, travels percent-encoded.
    let output = printed(&[
        "sessions",
        "revoke-all",
        "corp:a/b?c",
        "--edge",
        "https://e.example",
    ]);
    assert!(stdout(&output)
        .starts_with("DELETE https://e.example/auth/admin/users/corp%3Aa%2Fb%3Fc/sessions "));

    // Passkeys travel by their credential ids, base64url too.
    let passkey = "-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    let output = printed(&[
        "passkeys",
        "remove",
        "alice",
        passkey,
        "--edge",
        "https://e.example",
    ]);
    assert_eq!(
        stdout(&output).trim(),
        format!("DELETE https://e.example/auth/admin/users/alice/passkeys/{passkey}  (Authorization: Bearer $EDGEGATE_ADMIN_SECRET)")
    );
    let output = printed(&["passkeys", "list", "alice", "--edge", "https://e.example"]);
    assert!(stdout(&output).starts_with("GET https://e.example/auth/admin/users/alice/passkeys "));

    // Session ids are base64url: one may start with a hyphen and is still an id, not a flag.
    let id = "-AAAAAAAAAAAAAAAAAAAAA";
    let output = printed(&[
        "sessions",
        "revoke",
        "alice",
        id,
        "--edge",
        "https://e.example",
    ]);
    assert!(stdout(&output).starts_with(&format!(
        "DELETE https://e.example/auth/admin/users/alice/sessions/{id} "
    )));
}

#[test]
fn missing_users_and_failing_wrangler_are_failures() {
    let fake = FakeWrangler::new("missing");
    let output = fake.run(&["user", "enable", "bob", "--local"]);
    assert_status(&output, 1);
    assert!(stderr(&output).contains("there is no user bob in local KV"));

    let output = edgegate(&["user", "enable", "bob", "--local"])
        .env("EDGEGATE_WRANGLER", "/nonexistent/wrangler")
        .output()
        .unwrap();
    assert_status(&output, 1);
    assert!(stderr(&output).contains("cannot run `/nonexistent/wrangler`"));

    let output = edgegate(&["user", "enable", "bob", "--local"])
        .env("EDGEGATE_WRANGLER", "false")
        .output()
        .unwrap();
    assert_status(&output, 1);
    assert!(stderr(&output).contains("`wrangler kv bulk get` failed"));
}

// ---- real local KV -------------------------------------------------------------------------------

/// Writes a user to a fresh local KV directory through the real wrangler, then works with it
/// through the tool's own read paths.
#[test]
fn real_local_kv_round_trip() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    if !root.join("node_modules/wrangler/bin/wrangler.js").exists()
        || !root.join("node_modules/.bin/node").exists()
    {
        eprintln!("skipping real_local_kv_round_trip: node_modules/wrangler is missing (run scripts/setup.sh)");
        return;
    }
    let state = std::env::temp_dir().join(format!("edgegate-cli-kv-{}", std::process::id()));
    let _ = fs::remove_dir_all(&state);
    let state_arg = state.display().to_string();
    let target = ["--local", "--persist-to", &state_arg];
    let real = |args: &[&str]| {
        let mut command = edgegate(args);
        command.args(target).env("WRANGLER_SEND_METRICS", "false");
        command
    };

    let added = real(&[
        "user",
        "add",
        "Carol",
        "--password-env",
        "EDGEGATE_TEST_PASSWORD",
    ])
    .env("EDGEGATE_TEST_PASSWORD", "hunter2 hunter2")
    .output()
    .unwrap();
    assert_status(&added, 0);
    assert!(
        !stdout(&added).contains("pbkdf2"),
        "wrangler's echo of the value is not shown"
    );

    // Adding again is a password reset: refused without a worker to end the sessions.
    let again = real(&[
        "user",
        "add",
        "carol",
        "--password-env",
        "EDGEGATE_TEST_PASSWORD",
    ])
    .env("EDGEGATE_TEST_PASSWORD", "another password")
    .output()
    .unwrap();
    assert_status(&again, 1);
    assert!(
        stderr(&again).contains("exists in local KV"),
        "{}",
        stderr(&again)
    );

    let disabled = real(&["user", "disable", "carol"]).output().unwrap();
    assert_status(&disabled, 0);
    assert!(stderr(&disabled).contains("disabled user carol"));
    assert!(stderr(&disabled).contains("sessions end at their next refresh"));

    // Enabling reads the record back: it says "enabled" only if "disabled" was stored.
    let enabled = real(&["user", "enable", "carol"]).output().unwrap();
    assert_status(&enabled, 0);
    assert!(
        stderr(&enabled).contains("enabled user carol"),
        "{}",
        stderr(&enabled)
    );

    let _ = fs::remove_dir_all(&state);
}
