//! Listings that survive being stopped, through the `connections` binary on both transports:
//! `--checkpoint FILE` after a failure and after Ctrl-C, checkpoints that do not fit, and
//! `--created-after`. Expected ids come from the test servers' own numbering, or from the
//! sandbox's raw records read here.
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use connections_sandbox::{DEFAULT_TOKEN, Mode, Sandbox, SandboxConfig};
use connections_testkit::{Links, Reply, TestServer, page_body};

const TRANSPORTS: [&str; 2] = ["hyper", "blocking"];

fn command(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_connections"));
    command.args(args);
    for name in [
        "SMARTCAR_ACCESS_TOKEN",
        "SMARTCAR_BASE_URL",
        "SMARTCAR_CLIENT_ID",
        "SMARTCAR_CLIENT_SECRET",
        "SMARTCAR_TOKEN_URL",
        "COLUMNS",
    ] {
        command.env_remove(name);
    }
    command
}

fn ids(out: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(out)
        .lines()
        .map(|line| {
            let value: serde_json::Value = serde_json::from_str(line).unwrap();
            value["id"].as_str().unwrap().to_owned()
        })
        .collect()
}

/// A fresh path for a checkpoint file (the file itself does not exist yet).
fn checkpoint_path(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("connections-resume-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    let _ = std::fs::remove_file(&path);
    path
}

/// `conn-0` … `conn-{total-1}`, the test server's ids in the order it serves them.
fn all(total: usize) -> Vec<String> {
    (0..total).map(|i| format!("conn-{i}")).collect()
}

fn list_args<'a>(base: &'a str, transport: &'a str, file: &'a Path) -> Vec<String> {
    [
        "list",
        "--all",
        "--format",
        "ndjson",
        "--base-url",
        base,
        "--token",
        "t",
        "--page-size",
        "10",
        "--retries",
        "0",
        "--transport",
        transport,
        "--checkpoint",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([file.display().to_string()])
    .collect()
}

fn run(args: &[String]) -> Output {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    command(&args).output().unwrap()
}

/// A server that fails page 6 until told otherwise: the first run stops there (exit 3) and
/// says how to resume; the second, the same command, starts at page 6; together they print
/// every connection exactly once, and the file is gone when the listing completes.
#[test]
fn a_failed_listing_resumes_at_the_page_it_did_not_get() {
    for transport in TRANSPORTS {
        let failing = Arc::new(AtomicBool::new(true));
        let fail = failing.clone();
        let server = TestServer::start(move |r| {
            let page: usize = r
                .param("page[number]")
                .and_then(|n| n.parse().ok())
                .unwrap_or(1);
            if page == 6 && fail.load(Ordering::SeqCst) {
                return Reply::json(500, r#"{"errors":[{"status":"500","type":"SERVER"}]}"#);
            }
            Reply::json(200, page_body(95, page, 10, Links::Relative, ""))
        });
        let base = server.base_url();
        let file = checkpoint_path(&format!("failed-{transport}.json"));
        let args = list_args(&base, transport, &file);

        let first = run(&args);
        let err = String::from_utf8_lossy(&first.stderr);
        assert_eq!(first.status.code(), Some(3), "{transport}: {err}");
        assert!(
            err.trim_end().ends_with("it goes on from page 6"),
            "{transport}: {err}"
        );
        assert!(file.exists(), "{transport}: the checkpoint stays");
        let sent_first = server.requests().len();

        failing.store(false, Ordering::SeqCst);
        let second = run(&args);
        let err = String::from_utf8_lossy(&second.stderr);
        assert_eq!(second.status.code(), Some(0), "{transport}: {err}");
        let resumed = &server.requests()[sent_first];
        assert_eq!(
            resumed.param("page[number]").as_deref(),
            Some("6"),
            "{transport}"
        );
        let union: Vec<String> = ids(&first.stdout)
            .into_iter()
            .chain(ids(&second.stdout))
            .collect();
        assert_eq!(union, all(95), "{transport}");
        assert!(!file.exists(), "{transport}: removed once complete");
    }
}

/// The same failure without `--checkpoint`: nothing keeps the listing's place, and the
/// last line names the flag that would have, and the page it would have gone on from.
#[test]
fn a_failed_listing_without_a_checkpoint_names_the_flag() {
    let server = TestServer::start(|r| {
        if r.param("page[number]").as_deref() == Some("6") {
            return Reply::json(500, r#"{"errors":[{"status":"500","type":"SERVER"}]}"#);
        }
        let page = r.param("page[number]").and_then(|n| n.parse().ok());
        Reply::json(
            200,
            page_body(95, page.unwrap_or(1), 10, Links::Relative, ""),
        )
    });
    let base = server.base_url();
    let file = checkpoint_path("never-written.json");
    let mut args = list_args(&base, "blocking", &file);
    args.truncate(args.len() - 2);
    let out = run(&args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert_eq!(ids(&out.stdout), all(50));
    assert!(
        err.trim_end().ends_with(
            "a new run starts again from page 1; with --checkpoint FILE, the same command \
             would have gone on from page 6"
        ),
        "{err}"
    );
    assert!(!file.exists());
}

/// Ctrl-C after 45 lines of a 200-connection listing: the page being printed finishes (no
/// torn line), exit 130 with how to resume; the same command completes the listing, and
/// both outputs together hold each connection exactly once.
#[test]
fn ctrl_c_stops_between_pages_and_the_rerun_completes() {
    for transport in TRANSPORTS {
        let server = TestServer::start(|r| {
            let page: usize = r
                .param("page[number]")
                .and_then(|n| n.parse().ok())
                .unwrap_or(1);
            Reply::json(200, page_body(200, page, 10, Links::Relative, ""))
                .delay(Duration::from_millis(150))
        });
        let base = server.base_url();
        let file = checkpoint_path(&format!("interrupted-{transport}.json"));
        let args = list_args(&base, transport, &file);
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut child = command(&argv)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut printed = Vec::new();
        let mut line = String::new();
        while printed.len() < 45 {
            line.clear();
            assert!(
                stdout.read_line(&mut line).unwrap() > 0,
                "{transport}: ended early"
            );
            printed.push(line.clone());
        }
        let killed = Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
        let status = child.wait().unwrap();
        let mut err = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
        assert_eq!(status.code(), Some(130), "{transport}: {err}");
        assert!(
            err.contains("interrupted") && err.contains("to resume"),
            "{err}"
        );
        let first: String = printed.concat() + &rest;
        assert!(first.ends_with('\n'), "{transport}: no torn line");
        let first_ids = ids(first.as_bytes());
        assert_eq!(first_ids.len() % 10, 0, "{transport}: whole pages only");

        let second = run(&args);
        assert_eq!(second.status.code(), Some(0), "{transport}");
        let union: Vec<String> = first_ids.into_iter().chain(ids(&second.stdout)).collect();
        assert_eq!(union, all(200), "{transport}");
        let unique: BTreeSet<&String> = union.iter().collect();
        assert_eq!(unique.len(), 200);
    }
}

/// A truncated checkpoint and one from other filters are each exit 2, naming the file or
/// the flag that differs; nothing is sent.
#[test]
fn a_checkpoint_that_does_not_fit_is_a_usage_error() {
    // Page 3 always fails: a listing stops there, leaving its checkpoint.
    let server = TestServer::start(|r| {
        let page: usize = r
            .param("page[number]")
            .and_then(|n| n.parse().ok())
            .unwrap_or(1);
        if page == 3 {
            return Reply::json(500, r#"{"errors":[{"status":"500","type":"SERVER"}]}"#);
        }
        Reply::json(200, page_body(95, page, 10, Links::Relative, ""))
    });
    let base = server.base_url();
    let file = checkpoint_path("misfit.json");
    let args = list_args(&base, "hyper", &file);
    // A checkpoint of a listing of user u1.
    let mut with_user = args.clone();
    with_user.extend(["--user-id".to_owned(), "u1".to_owned()]);
    let saved = run(&with_user);
    assert_ne!(saved.status.code(), Some(0));
    assert!(file.exists(), "{}", String::from_utf8_lossy(&saved.stderr));
    let sent = server.requests().len();

    let other = run(&args);
    let err = String::from_utf8_lossy(&other.stderr);
    assert_eq!(other.status.code(), Some(2), "{err}");
    assert!(err.contains("--user-id") && err.contains("\"u1\""), "{err}");
    assert_eq!(server.requests().len(), sent, "nothing sent");

    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, &text[..text.len() / 2]).unwrap();
    let torn = run(&with_user);
    let err = String::from_utf8_lossy(&torn.stderr);
    assert_eq!(torn.status.code(), Some(2), "{err}");
    assert!(err.contains(&file.display().to_string()), "{err}");
    assert_eq!(server.requests().len(), sent, "nothing sent");
}

/// `--created-after` lists exactly the live connections created at or after the cutoff,
/// from the sandbox's newest-first pages, and tells the newest `createdAt` for next time.
#[test]
fn created_after_lists_what_is_new_and_says_where_to_start_next_time() {
    let sandbox = Sandbox::spawn(SandboxConfig {
        connections: 600,
        ..SandboxConfig::default()
    })
    .unwrap();
    let live: Vec<_> = sandbox
        .dataset()
        .connections()
        .iter()
        .filter(|c| c.mode == Mode::Live)
        .cloned()
        .collect();
    let cutoff = live[40].created_at.clone();
    let want: Vec<String> = live
        .iter()
        .filter(|c| c.created_at >= cutoff)
        .map(|c| c.id.clone())
        .collect();
    assert!(want.len() >= 41 && want.len() < live.len());
    for transport in TRANSPORTS {
        let out = command(&[
            "list",
            "--all",
            "--format",
            "ndjson",
            "--base-url",
            sandbox.base_url(),
            "--token",
            DEFAULT_TOKEN,
            "--page-size",
            "20",
            "--transport",
            transport,
            "--created-after",
            &cutoff,
        ])
        .output()
        .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{transport}: {err}");
        assert_eq!(ids(&out.stdout), want, "{transport}");
        let newest = &live[0].created_at;
        assert!(
            err.contains(&format!("next time: --created-after {newest}")),
            "{transport}: {err}"
        );
    }
    let bad = command(&["list", "--all", "--sandbox", "--created-after", "yesterday"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&bad.stderr);
    assert_eq!(bad.status.code(), Some(2), "{err}");
    assert!(err.contains("--created-after"), "{err}");
}

/// Data that keeps moving (the sandbox's `--churn 3` before every page) is warned about
/// once, when it first moves, and summed up once at the end, not twice per page; `-v` still
/// shows each occurrence.
#[test]
fn data_that_keeps_moving_is_warned_about_once_and_summed_up() {
    let sandbox = Sandbox::spawn(SandboxConfig {
        connections: 600,
        churn: 3,
        ..SandboxConfig::default()
    })
    .unwrap();
    let list = |verbose: bool| {
        let mut args = vec![
            "list",
            "--all",
            "--format",
            "ndjson",
            "--base-url",
            sandbox.base_url(),
            "--token",
            DEFAULT_TOKEN,
            "--page-size",
            "10",
        ];
        if verbose {
            args.push("-v");
        }
        let out = command(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(0));
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let err = list(false);
    let warnings: Vec<&str> = err.lines().filter(|l| l.starts_with("warning:")).collect();
    assert_eq!(warnings.len(), 2, "{err}");
    assert!(
        warnings[1].contains("the data moved during the listing"),
        "{err}"
    );
    assert!(
        warnings[1].contains("repeated connection(s) were left out"),
        "{err}"
    );
    let verbose = list(true);
    let told = verbose.matches("already listed").count();
    assert!(told > 2, "-v shows each occurrence: {verbose}");
}

/// A `kill -9` can land after a page was printed but before its checkpoint was saved. With
/// stdout appended to a file, the resumed run first cuts the file back to where the
/// checkpoint was saved, so that page ends up in it once, not twice or torn.
#[test]
fn a_resumed_run_cuts_a_file_back_to_its_last_checkpoint() {
    let failing = Arc::new(AtomicBool::new(true));
    let fail = failing.clone();
    let server = TestServer::start(move |r| {
        let page: usize = r
            .param("page[number]")
            .and_then(|n| n.parse().ok())
            .unwrap_or(1);
        if page == 6 && fail.load(Ordering::SeqCst) {
            return Reply::json(500, r#"{"errors":[{"status":"500","type":"SERVER"}]}"#);
        }
        Reply::json(200, page_body(95, page, 10, Links::Relative, ""))
    });
    let base = server.base_url();
    let file = checkpoint_path("rewind.json");
    let output = checkpoint_path("rewind.ndjson");
    let args = list_args(&base, "blocking", &file);
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let append = || {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&output)
            .unwrap()
    };
    let first = command(&argv).stdout(append()).output().unwrap();
    assert_eq!(first.status.code(), Some(3));
    // What a kill -9 in the middle of printing page 6 would leave: part of its first line.
    std::io::Write::write_all(&mut append(), br#"{"id":"conn-50","type":"conn"#).unwrap();
    failing.store(false, Ordering::SeqCst);
    let second = command(&argv).stdout(append()).output().unwrap();
    assert_eq!(
        second.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    assert_eq!(ids(&std::fs::read(&output).unwrap()), all(95));
}
