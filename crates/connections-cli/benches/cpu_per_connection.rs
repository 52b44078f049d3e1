//! CPU time the `connections` command spends per listed connection, end to end.
//!
//! Starts `connections sandbox` as its own process, then runs
//! `connections list --all ... > /dev/null` for each transport and output format, several
//! times, and reports the listing process's user + system CPU seconds per 100,000 connections
//! (median), and wall time. CPU comes from `getrusage(RUSAGE_CHILDREN)` deltas around each
//! run: only children that have been waited for count, so the sandbox (waited for only at the
//! end) is not mixed in; its own total is reported separately.
//!
//! `cargo bench -p connections-cli --bench cpu_per_connection` runs it on 100,000
//! connections. Settings from the environment:
//! - `CPU_BENCH_CONNECTIONS` (default 100000): the sandbox's size;
//! - `CPU_BENCH_RUNS` (default 5): measured runs per transport and format.
//!
//! Without `--bench` (as `cargo test --benches` runs it) it is a quick smoke run: 2,000
//! connections, one measured run each.
#![allow(clippy::print_stdout)] // printing the table is this program's job

use std::io::{self, BufRead, BufReader, Read};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use nix::sys::resource::{UsageWho, getrusage};

const BIN: &str = env!("CARGO_BIN_EXE_connections");
const TOKEN: &str = "sandbox-token";
const TRANSPORTS: [&str; 2] = ["hyper", "blocking"];
const FORMATS: [&str; 2] = ["ndjson", "csv"];

/// User and system CPU seconds of the waited-for children so far.
fn children_cpu() -> io::Result<(f64, f64)> {
    let usage = getrusage(UsageWho::RUSAGE_CHILDREN).map_err(io::Error::from)?;
    let seconds = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6;
    Ok((seconds(usage.user_time()), seconds(usage.system_time())))
}

/// The sandbox process; killed and waited for when dropped, so no run leaves it behind.
struct Server {
    child: Child,
    base_url: String,
}

impl Server {
    fn start(connections: u64) -> io::Result<Server> {
        let mut child = Command::new(BIN)
            .args(["sandbox", "--listen", "127.0.0.1:0", "--token", TOKEN])
            .args(["--connections", &connections.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        let mut first = String::new();
        if let Some(stdout) = child.stdout.take() {
            BufReader::new(stdout).read_line(&mut first)?;
        }
        let base_url = first.trim().to_owned();
        let server = Server { child, base_url };
        if !server.base_url.starts_with("http://") {
            return Err(io::Error::other(format!(
                "the sandbox printed {first:?} instead of its base URL"
            )));
        }
        Ok(server)
    }

    /// Stops the sandbox and returns the CPU seconds (user + system) it used.
    fn stop(mut self) -> io::Result<f64> {
        let (user, sys) = children_cpu()?;
        self.child.kill()?;
        self.child.wait()?;
        let (user_after, sys_after) = children_cpu()?;
        Ok(user_after - user + sys_after - sys)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One measured listing.
struct Run {
    user: f64,
    sys: f64,
    wall: Duration,
}

fn list_command(server: &Server, transport: &str, format: &str) -> Command {
    let mut command = Command::new(BIN);
    command
        .args([
            "list",
            "--all",
            "--base-url",
            &server.base_url,
            "--token",
            TOKEN,
        ])
        .args(["--format", format, "--transport", transport])
        .env_remove("SMARTCAR_ACCESS_TOKEN")
        .stdin(Stdio::null());
    command
}

/// Lists once with stdout read here, to check the listing is complete before timing it.
fn check(server: &Server, connections: u64, transport: &str, format: &str) -> io::Result<()> {
    let mut child = list_command(server, transport, format)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let mut lines = 0u64;
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout).lines() {
            line?;
            lines += 1;
        }
    }
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        pipe.read_to_string(&mut stderr)?;
    }
    let status = child.wait()?;
    let header = u64::from(format == "csv");
    if !status.success() || lines != connections + header {
        return Err(io::Error::other(format!(
            "{transport}/{format}: {status}, {lines} lines for {connections} connections\n{stderr}"
        )));
    }
    Ok(())
}

/// Lists once into /dev/null and measures the process.
fn measure(server: &Server, transport: &str, format: &str) -> io::Result<Run> {
    let mut command = list_command(server, transport, format);
    command.stdout(Stdio::null()).stderr(Stdio::piped());
    let (user, sys) = children_cpu()?;
    let started = Instant::now();
    let output = command.output()?;
    let wall = started.elapsed();
    let (user_after, sys_after) = children_cpu()?;
    if !output.status.success() {
        return Err(io::Error::other(format!(
            "{transport}/{format}: {}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        )));
    }
    Ok(Run {
        user: user_after - user,
        sys: sys_after - sys,
        wall,
    })
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

/// A positive whole number from the environment, or the default when unset.
fn setting(name: &str, default: u64) -> Result<u64, String> {
    match std::env::var(name) {
        Err(std::env::VarError::NotPresent) => Ok(default),
        Ok(text) => text
            .trim()
            .parse()
            .ok()
            .filter(|&n| n > 0)
            .ok_or_else(|| format!("{name} must be a positive whole number, got {text:?}")),
        Err(e) => Err(format!("{name}: {e}")),
    }
}

fn run() -> Result<(), String> {
    let benching = std::env::args().any(|a| a == "--bench");
    let (connections, runs) = if benching {
        (
            setting("CPU_BENCH_CONNECTIONS", 100_000)?,
            setting("CPU_BENCH_RUNS", 5)?,
        )
    } else {
        (
            setting("CPU_BENCH_CONNECTIONS", 2_000)?,
            setting("CPU_BENCH_RUNS", 1)?,
        )
    };
    // A listing without --mode returns live connections only: those are the ones listed,
    // counted from the sandbox's own records (seed 42, the `sandbox` command's default).
    let listed = connections_sandbox::Dataset::generate(
        usize::try_from(connections).map_err(|e| e.to_string())?,
        42,
    )
    .connections()
    .iter()
    .filter(|c| c.mode == connections_sandbox::Mode::Live)
    .count() as u64;
    let server = Server::start(connections).map_err(|e| format!("starting the sandbox: {e}"))?;
    println!(
        "cpu_per_connection: `connections list --all` (default flags) of the {listed} live \
         connections among {connections} from `connections sandbox` at {}, stdout to \
         /dev/null, {runs} runs each after a checked warm-up",
        server.base_url
    );
    println!(
        "{:<9} {:<7} {:>11} {:>12} {:>11} {:>12} {:>12}",
        "transport",
        "format",
        "cpu s/100k",
        "user s/100k",
        "sys s/100k",
        "wall s/100k",
        "cpu µs/conn"
    );
    for transport in TRANSPORTS {
        for format in FORMATS {
            check(&server, listed, transport, format).map_err(|e| e.to_string())?;
            let measured = (0..runs)
                .map(|_| measure(&server, transport, format))
                .collect::<io::Result<Vec<Run>>>()
                .map_err(|e| e.to_string())?;
            let scale = 100_000.0 / listed as f64;
            let per_100k = |f: fn(&Run) -> f64| median(measured.iter().map(f).collect()) * scale;
            let cpu = per_100k(|r| r.user + r.sys);
            println!(
                "{transport:<9} {format:<7} {cpu:>11.3} {:>12.3} {:>11.3} {:>12.3} {:>12.2}",
                per_100k(|r| r.user),
                per_100k(|r| r.sys),
                per_100k(|r| r.wall.as_secs_f64()),
                cpu * 10.0, // s per 100,000 connections = 10 µs per connection
            );
        }
    }
    let served = server
        .stop()
        .map_err(|e| format!("stopping the sandbox: {e}"))?;
    println!(
        "(medians of {runs} runs, scaled to 100,000 connections; the sandbox itself used \
         {served:.3} s CPU over all runs)"
    );
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cpu_per_connection: {e}");
            ExitCode::FAILURE
        }
    }
}
