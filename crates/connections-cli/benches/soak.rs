//! A soak of the whole `connections list --all --checkpoint` loop, killed and resumed.
//!
//! The sandbox serves 1,000,000 connections whose data moves before every page (`churn`
//! 3), answers 5 % of requests with an injected 500 or 503, keeps a rate bucket scaled to
//! seconds (30 requests, one back every 30 ms), and issues application tokens that expire
//! every 30 s. The listing runs with `--checkpoint` and its stdout appended to one file; it
//! is killed with SIGKILL at random points (every 0.5 to 5 s) and started again with the
//! same command until it completes. Then:
//! - every connection that existed throughout (there at the start and at the end) must be in
//!   the file exactly once;
//! - the listing process's peak RSS (the largest `VmHWM` of the runs, read from
//!   `/proc/PID/status` while each runs) must stay under 16 MB. Not `getrusage`: a child
//!   spawned by a process as large as this one (a million connections in memory) reports
//!   the parent's size from before its `exec`.
//!
//! `cargo bench -p connections-cli --bench soak` runs it; `SOAK_CONNECTIONS` (default
//! 1000000) sets the size and `SOAK_SEED` the kill times. Without `--bench` (as `cargo test
//! --benches` runs it) it is a quick smoke run of 5,000 connections, killed sooner, with
//! the memory bound left out (an unoptimized build is larger).
#![allow(clippy::print_stdout)] // printing the figures is this program's job

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, OpenOptions};
use std::io::{self, BufRead, BufReader};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use connections_sandbox::{Bucket, Mode, Sandbox, SandboxConfig};

const BIN: &str = env!("CARGO_BIN_EXE_connections");
const PEAK_RSS_LIMIT_KB: i64 = 16 * 1024;

/// splitmix64, for kill times that the seed repeats.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `low..high` milliseconds.
    fn millis(&mut self, low: u64, high: u64) -> Duration {
        Duration::from_millis(low + self.next() % (high - low))
    }
}

fn setting(name: &str, default: u64) -> Result<u64, String> {
    match std::env::var(name) {
        Ok(text) => text
            .parse()
            .map_err(|_| format!("{name} must be a whole number, got {text:?}")),
        Err(_) => Ok(default),
    }
}

/// The high-water mark of a running process's resident memory, in KB (Linux).
fn peak_rss_kb(pid: u32) -> Option<i64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The live connections' ids: what a listing without a mode filter returns.
fn live(sandbox: &Sandbox) -> BTreeSet<String> {
    sandbox
        .dataset()
        .connections()
        .iter()
        .filter(|c| c.mode == Mode::Live)
        .map(|c| c.id.clone())
        .collect()
}

fn run() -> Result<(), String> {
    let full = std::env::args().any(|a| a == "--bench");
    let connections = if full {
        setting("SOAK_CONNECTIONS", 1_000_000)?
    } else {
        5_000
    };
    let mut rng = Rng(setting("SOAK_SEED", 7)?);
    // A smoke run is short: kills come sooner so it still sees some.
    let kill_after = |rng: &mut Rng| {
        if full {
            rng.millis(500, 5_000)
        } else {
            rng.millis(100, 600)
        }
    };
    let sandbox = Sandbox::spawn(SandboxConfig {
        connections: usize::try_from(connections).map_err(|e| e.to_string())?,
        churn: 3,
        failure_rate: 0.05,
        bucket: Some(Bucket {
            capacity: 30,
            refill_interval: Duration::from_millis(30),
        }),
        client_id: Some("soak-client".into()),
        client_secret: Some("soak-secret".into()),
        token_lifetime: Duration::from_secs(30),
        ..SandboxConfig::default()
    })
    .map_err(|e| format!("the sandbox did not start: {e}"))?;
    let at_start = live(&sandbox);

    let dir = std::env::temp_dir().join(format!("connections-soak-{}", std::process::id()));
    fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let (checkpoint, output) = (dir.join("checkpoint.json"), dir.join("out.ndjson"));
    let token_url = sandbox.token_url();
    let args = [
        "list",
        "--all",
        "--format",
        "ndjson",
        "--base-url",
        sandbox.base_url(),
        "--client-id",
        "soak-client",
        "--client-secret",
        "soak-secret",
        "--token-url",
        &token_url,
        "--checkpoint",
        &checkpoint.display().to_string(),
    ]
    .map(String::from);

    let started = Instant::now();
    let (mut runs, mut kills, mut failures) = (0u32, 0u32, 0u32);
    let mut peak_kb = 0i64;
    loop {
        runs += 1;
        if runs > 10_000 {
            return Err("no complete listing after 10,000 runs".into());
        }
        let out = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&output)
            .map_err(|e| e.to_string())?;
        let mut child = Command::new(BIN)
            .args(&args)
            .env_remove("SMARTCAR_ACCESS_TOKEN")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| e.to_string())?;
        let deadline = Instant::now() + kill_after(&mut rng);
        let status = loop {
            if let Some(kb) = peak_rss_kb(child.id()) {
                peak_kb = peak_kb.max(kb);
            }
            if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
                break Some(status);
            }
            if Instant::now() >= deadline {
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        match status {
            Some(status) if status.success() => break,
            Some(_) => failures += 1,
            None => {
                child.kill().map_err(|e| e.to_string())?;
                child.wait().map_err(|e| e.to_string())?;
                kills += 1;
            }
        }
    }
    let took = started.elapsed();
    let at_end = live(&sandbox);
    let throughout: BTreeSet<&String> = at_start.intersection(&at_end).collect();

    let file = fs::File::open(&output).map_err(|e| e.to_string())?;
    let mut printed: BTreeMap<String, u32> = BTreeMap::new();
    let mut lines = 0u64;
    for line in BufReader::new(file).lines() {
        let line = line.map_err(|e| e.to_string())?;
        let value: serde_json::Value =
            serde_json::from_str(&line).map_err(|e| format!("a torn line {line:?}: {e}"))?;
        let id = value["id"].as_str().unwrap_or_default().to_owned();
        *printed.entry(id).or_default() += 1;
        lines += 1;
    }
    let missing = throughout
        .iter()
        .filter(|id| !printed.contains_key(**id))
        .count();
    let twice = throughout
        .iter()
        .filter(|id| printed.get(**id).is_some_and(|&n| n > 1))
        .count();
    let faults = sandbox.faults();
    println!(
        "soak: {connections} connections, {} live throughout; {runs} runs ({kills} killed, \
         {failures} failed), {:.0} s; {lines} lines printed, {missing} missing, {twice} twice; \
         peak RSS {:.1} MB; sandbox: {} injected failures, {} 429s, {} churned pages, {} \
         expired tokens, {} tokens issued",
        throughout.len(),
        took.as_secs_f64(),
        peak_kb as f64 / 1024.0,
        faults.failures,
        faults.rate_limited,
        faults.churned,
        faults.expired_tokens,
        sandbox.tokens_issued(),
    );
    let _ = fs::remove_dir_all(&dir);
    if missing > 0 || twice > 0 {
        return Err(format!(
            "{missing} connections missing, {twice} printed twice"
        ));
    }
    // An unoptimized build (the smoke run) is larger; the bound is for what users run.
    if full && peak_kb > PEAK_RSS_LIMIT_KB {
        return Err(format!(
            "peak RSS {peak_kb} KB, over {PEAK_RSS_LIMIT_KB} KB"
        ));
    }
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let _ = io::Write::write_all(&mut io::stderr(), format!("soak: {e}\n").as_bytes());
            ExitCode::FAILURE
        }
    }
}
