//! What the `connections` binary prints, as snapshots (snapbox, as cargo and clap test their
//! CLIs): `--help` of the command and of each subcommand, usage errors, and one error of each
//! class with its exit code (2, 3, 4, 5, 1). A change to any of them shows as a diff here;
//! after a deliberate one, `SNAPSHOTS=overwrite cargo test -p connections-cli --test
//! snapshots` rewrites the files in `tests/snapshots/`.
//!
//! Ports vary from run to run: they are redacted to `[PORT]`.
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use std::collections::{BTreeMap, BTreeSet};
use std::process::{Command, Stdio};

use connections_sandbox::{Sandbox, SandboxConfig};
use connections_testkit::{Reply, TestServer};
use snapbox::{Assert, Data, Redactions, file};

/// The variables the command reads, so the caller's environment never leaks into a snapshot.
const ENVIRONMENT: [&str; 6] = [
    "SMARTCAR_ACCESS_TOKEN",
    "SMARTCAR_BASE_URL",
    "SMARTCAR_CLIENT_ID",
    "SMARTCAR_CLIENT_SECRET",
    "SMARTCAR_TOKEN_URL",
    "COLUMNS",
];

/// The command with none of the variables it reads set, stdout and stderr captured.
fn command(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_connections"));
    command.args(args).stdin(Stdio::null());
    for name in ENVIRONMENT {
        command.env_remove(name);
    }
    command
}

/// Compares with the snapshot, `ports` redacted (a snapshot may also say `[..]` for the
/// rest of a line).
fn assert_snapshot(actual: Vec<u8>, expected: Data, ports: &[u16]) {
    let mut redactions = Redactions::new();
    for port in ports {
        redactions.insert("[PORT]", port.to_string()).unwrap();
    }
    Assert::new()
        .action_env("SNAPSHOTS")
        .redact_with(redactions)
        .eq(actual, expected);
}

/// Runs `command` and checks its exit code, stdout and stderr against the snapshots.
fn check(mut command: Command, code: i32, stdout: Data, stderr: Data, ports: &[u16]) {
    let out = command.output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(code), "{command:?}: {err}");
    assert_snapshot(out.stdout, stdout, ports);
    assert_snapshot(out.stderr, stderr, ports);
}

#[test]
fn help_of_the_command_and_each_subcommand() {
    let cases = [
        (&["--help"][..], file!["snapshots/help.txt"]),
        (&["list", "--help"], file!["snapshots/list-help.txt"]),
        (&["token", "--help"], file!["snapshots/token-help.txt"]),
        (&["sandbox", "--help"], file!["snapshots/sandbox-help.txt"]),
        (
            &["completions", "--help"],
            file!["snapshots/completions-help.txt"],
        ),
    ];
    for (args, expected) in cases {
        check(command(args), 0, expected, Data::new(), &[]);
    }
}

#[test]
fn usage_errors() {
    let cases = [
        (
            &["frobnicate"][..],
            file!["snapshots/unknown-subcommand.stderr"],
        ),
        (
            &["list", "--page-size", "0"],
            file!["snapshots/page-size-0.stderr"],
        ),
        (
            &["list", "--timeout", "1e20"],
            file!["snapshots/timeout-1e20.stderr"],
        ),
        (
            &["list", "--sandbox", "--token", "t"],
            file!["snapshots/sandbox-and-token.stderr"],
        ),
        (&["list"], file!["snapshots/no-credentials.stderr"]),
    ];
    for (args, expected) in cases {
        check(command(args), 2, Data::new(), expected, &[]);
    }
}

/// Exit 2: input the client refuses before sending, named as it was typed.
#[test]
fn exit_2_invalid_input() {
    check(
        command(&["list", "--sandbox", "--user-id", ""]),
        2,
        Data::new(),
        file!["snapshots/exit-2-empty-user-id.stderr"],
        &[],
    );
    check(
        command(&[
            "list",
            "--base-url",
            "http://api.example.com/v3",
            "--token",
            "t",
        ]),
        2,
        Data::new(),
        file!["snapshots/exit-2-plain-http.stderr"],
        &[],
    );
}

/// Exit 3: the API refused the token; stderr shows what the API said.
#[test]
fn exit_3_the_api_answered_with_an_error() {
    let sandbox = Sandbox::spawn(SandboxConfig::default()).unwrap();
    let port = sandbox.addr().port();
    let args = ["list", "--base-url", sandbox.base_url(), "--token", "wrong"];
    check(
        command(&args),
        3,
        Data::new(),
        file!["snapshots/exit-3-api-error.stderr"],
        &[port],
    );
}

/// Exit 4: nothing listens on port 1.
#[test]
fn exit_4_network() {
    let args = [
        "list",
        "--base-url",
        "http://127.0.0.1:1/v3",
        "--token",
        "t",
    ];
    check(
        command(&[&args[..], &["--retries", "0"]].concat()),
        4,
        Data::new(),
        file!["snapshots/exit-4-network.stderr"],
        &[],
    );
}

/// Exit 5: a 200 that is not JSON.
#[test]
fn exit_5_invalid_response() {
    let server = TestServer::start(|_| {
        Reply::status(200)
            .header("content-type", "text/html")
            .body("<html>login</html>")
    });
    let base = server.base_url();
    check(
        command(&["list", "--base-url", &base, "--token", "t"]),
        5,
        Data::new(),
        file!["snapshots/exit-5-not-json.stderr"],
        &[server.addr().port()],
    );
}

/// Exit 1: stdout is a full disk.
#[test]
fn exit_1_writing_the_output_failed() {
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let mut listing = command(&["list", "--sandbox", "--format", "json"]);
    listing.stdout(full);
    check(
        listing,
        1,
        Data::new(),
        file!["snapshots/exit-1-full-disk.stderr"],
        &[],
    );
}

/// The flags `connections SUBCOMMAND --help` lists (`-v` for `--verbose`, without `--help`).
fn flags_in_help(subcommand: &str) -> BTreeSet<String> {
    let out = command(&[subcommand, "--help"]).output().unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    help.lines()
        .filter_map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            // `  -v, --verbose...` or `      --base-url <URL>`.
            let flag = match words.as_slice() {
                [short, long, ..] if short.len() == 3 && short.starts_with('-') => *long,
                [long, ..] => *long,
                [] => return None,
            };
            let flag = flag.trim_end_matches("...");
            (line.starts_with("  ") && flag.starts_with("--")).then(|| flag.to_owned())
        })
        .filter(|flag| flag != "--help")
        .map(|flag| {
            if flag == "--verbose" {
                "-v".into()
            } else {
                flag
            }
        })
        .collect()
}

/// The flags the README's synopsis gives each subcommand.
fn flags_in_readme() -> BTreeMap<String, BTreeSet<String>> {
    let readme = include_str!("../../../README.md");
    let section = readme
        .split_once("## The `connections` command")
        .and_then(|(_, rest)| rest.split_once("```text\n"))
        .and_then(|(_, rest)| rest.split_once("```"))
        .map(|(synopsis, _)| synopsis)
        .unwrap();
    let mut flags: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut current = String::new();
    for line in section.lines() {
        if let Some(rest) = line.strip_prefix("connections ") {
            current = rest.split_whitespace().next().unwrap().to_owned();
        }
        let words = line.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'));
        for word in words {
            let flag = if word.starts_with("-v") && word.len() <= 3 {
                "-v"
            } else if word.starts_with("--") && word.len() > 2 {
                word
            } else {
                continue;
            };
            flags
                .entry(current.clone())
                .or_default()
                .insert(flag.to_owned());
        }
    }
    flags
}

/// The README cannot drift from the binary: its synopsis lists exactly the flags each
/// subcommand's `--help` does.
#[test]
fn the_readme_synopsis_lists_the_flags_of_each_subcommand() {
    let readme = flags_in_readme();
    for subcommand in ["list", "token", "sandbox", "completions"] {
        let mut help = flags_in_help(subcommand);
        if subcommand == "completions" {
            // Global, so clap lists it; it changes nothing in a completion script.
            help.remove("-v");
        }
        let synopsis = readme.get(subcommand).cloned().unwrap_or_default();
        let missing: Vec<_> = help.difference(&synopsis).collect();
        let unknown: Vec<_> = synopsis.difference(&help).collect();
        assert!(
            missing.is_empty() && unknown.is_empty(),
            "README synopsis of `connections {subcommand}`: missing {missing:?}, not in --help \
             {unknown:?}"
        );
    }
}
