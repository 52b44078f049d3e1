//! The `connections` binary at the real API's pace, on both transports: a server that serves
//! fewer a page than asked, and the sandbox's model of Smartcar's rate bucket scaled to
//! seconds (3 requests, one back every 2 s), with and without `Retry-After`, with and without
//! a budget (`--max-rate`).
//!
//! Expected ids come from the sandbox's raw records read here (no mode filter lists live
//! connections only), never from its filter code. Wall-clock bounds are lower bounds or
//! generous multiples of the floor, `(requests − capacity) × refill`.
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use std::process::{Command, Output};
use std::thread;
use std::time::{Duration, Instant};

use connections_sandbox::{Bucket, DEFAULT_TOKEN, Mode, Sandbox, SandboxConfig};

const TRANSPORTS: [&str; 2] = ["hyper", "blocking"];

/// The command with none of the variables it reads set.
fn connections(args: &[&str]) -> Output {
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
    command.output().unwrap()
}

/// The live connections' ids, in the order served.
fn live_ids(sandbox: &Sandbox) -> Vec<String> {
    sandbox
        .dataset()
        .connections()
        .iter()
        .filter(|c| c.mode == Mode::Live)
        .map(|c| c.id.clone())
        .collect()
}

/// The ids of an NDJSON listing.
fn listed_ids(out: &Output) -> Vec<String> {
    String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .map(|line| {
            let value: serde_json::Value = serde_json::from_str(line).unwrap();
            value["id"].as_str().unwrap().to_owned()
        })
        .collect()
}

/// `list --all` of `sandbox` as NDJSON with `extra` flags.
fn list_all(sandbox: &Sandbox, transport: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "list",
        "--all",
        "--format",
        "ndjson",
        "--base-url",
        sandbox.base_url(),
        "--token",
        DEFAULT_TOKEN,
        "--transport",
        transport,
    ];
    args.extend_from_slice(extra);
    connections(&args)
}

/// A sandbox of 1,234 connections behind a server that serves at most 50 a page, asked for
/// 100 (`--all` asks for 100): every live one listed once, in order, exit 0, at one page at a
/// time and eight. Planning from the size asked, the listing stopped after 15 pages.
#[test]
fn a_server_that_serves_fewer_than_asked_is_listed_completely() {
    let sandbox = Sandbox::spawn(SandboxConfig {
        connections: 1234,
        max_page_size: Some(50),
        ..SandboxConfig::default()
    })
    .unwrap();
    let want = live_ids(&sandbox);
    assert!(want.len() > 15 * 50, "{} live connections", want.len());
    for transport in TRANSPORTS {
        for concurrency in ["1", "8"] {
            let out = list_all(&sandbox, transport, &["--concurrency", concurrency]);
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(
                out.status.code(),
                Some(0),
                "{transport} {concurrency}: {err}"
            );
            assert_eq!(listed_ids(&out), want, "{transport} {concurrency}");
        }
    }
}

/// A sandbox whose bucket holds 3 requests and gets one back every 2 s, serving 8 pages of
/// live connections at `--page-size`.
fn bucket_sandbox(retry_after: bool) -> (Sandbox, String) {
    let sandbox = Sandbox::spawn(SandboxConfig {
        connections: 80,
        bucket: Some(Bucket {
            capacity: 3,
            refill_interval: Duration::from_secs(2),
        }),
        bucket_retry_after: retry_after,
        ..SandboxConfig::default()
    })
    .unwrap();
    let size = live_ids(&sandbox).len().div_ceil(8);
    (sandbox, size.to_string())
}

/// The best any client can do through the bucket: 8 requests, 3 at once, then one every 2 s.
const FLOOR: Duration = Duration::from_secs((8 - 3) * 2);

/// Runs `scenario` for each transport at once, each with its own sandbox.
fn on_both_transports(scenario: fn(&str)) {
    let runs: Vec<_> = TRANSPORTS
        .into_iter()
        .map(|transport| thread::spawn(move || scenario(transport)))
        .collect();
    for run in runs {
        run.join().unwrap();
    }
}

/// With default flags and no `Retry-After`, a listing through an empty bucket waits it out
/// and completes (it used to give up after three 429s); `-v` tells the pace it learned.
#[test]
fn the_default_flags_wait_out_the_bucket() {
    on_both_transports(|transport| {
        let (sandbox, size) = bucket_sandbox(false);
        let out = list_all(&sandbox, transport, &["--page-size", &size, "-v"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{transport}: {err}");
        assert_eq!(listed_ids(&out), live_ids(&sandbox), "{transport}");
        let throttled = sandbox.faults().rate_limited;
        assert!(throttled > 0, "{transport}: the bucket ran dry");
        // -v tells the learned pace when it changes, never more often than a 429 comes.
        let learned = err.matches("learned the server's pace").count();
        assert!(learned >= 1, "{transport}: {err}");
        assert!(learned as u64 <= throttled, "{transport}: {err}");
        // Waits for the pace are shown on a terminal, not logged at -v.
        assert!(!err.contains("paced by"), "{transport}: {err}");
    });
}

/// A budget just under the bucket's refill (29 a minute against 30) with a burst of its
/// capacity meets no 429 at all, and keeps to its rate.
#[test]
fn a_budget_under_the_refill_meets_no_429() {
    on_both_transports(|transport| {
        let (sandbox, size) = bucket_sandbox(false);
        let started = Instant::now();
        let flags = ["--page-size", &size, "--max-rate", "29/min", "--burst", "3"];
        let out = list_all(&sandbox, transport, &flags);
        let took = started.elapsed();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{transport}: {err}");
        assert_eq!(listed_ids(&out), live_ids(&sandbox), "{transport}");
        assert_eq!(sandbox.faults().rate_limited, 0, "{transport}: {err}");
        // 3 at once, then 5 more at 60/29 s each: never faster than the budget.
        assert!(
            took >= Duration::from_secs_f64(5.0 * 60.0 / 29.0),
            "{took:?}"
        );
    });
}

/// Four pages at once with `Retry-After`: a 429 pauses them all, and they resume at the
/// learned pace, finishing within 1.5 times the floor.
#[test]
fn concurrency_with_retry_after_keeps_near_the_floor() {
    on_both_transports(|transport| {
        let (sandbox, size) = bucket_sandbox(true);
        let started = Instant::now();
        let out = list_all(
            &sandbox,
            transport,
            &["--page-size", &size, "--concurrency", "4"],
        );
        let took = started.elapsed();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{transport}: {err}");
        assert_eq!(listed_ids(&out), live_ids(&sandbox), "{transport}");
        assert!(
            took >= FLOOR - Duration::from_secs(1),
            "{transport}: {took:?}"
        );
        assert!(
            took <= FLOOR * 3 / 2,
            "{transport}: {took:?} for a floor of {FLOOR:?}"
        );
    });
}

/// A rate limit that would hold the listing past `--max-wait` ends it with exit 3 and a
/// message that says how long it waited and which flag raises the limit.
#[test]
fn waiting_past_max_wait_is_exit_3_naming_the_flag() {
    on_both_transports(|transport| {
        let (sandbox, size) = bucket_sandbox(true);
        let out = list_all(
            &sandbox,
            transport,
            &["--page-size", &size, "--max-wait", "1s"],
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{transport}: {err}");
        assert!(
            err.contains("waited") && err.contains("--max-wait"),
            "{err}"
        );
        // The bucket's 3 pages were printed before it gave up.
        assert_eq!(listed_ids(&out).len(), 3 * size.parse::<usize>().unwrap());
    });
}
