//! The accept loop out of file descriptors: it must pause between failed accepts instead of
//! spinning, and serve the waiting connection once descriptors are free again.
//!
//! This test takes every free descriptor of the process, so it lives alone in its own test
//! binary: no other test may run beside it.
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use std::fs::File;
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use connections_sandbox::{Sandbox, SandboxConfig};

/// The soft limit on open files the test works under, so filling the table is quick.
const SOFT_LIMIT: u64 = 512;

/// This process's soft limit on open files, from `/proc` (Linux).
fn soft_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

#[test]
fn accept_errors_back_off_and_the_waiting_connection_is_served_afterwards() {
    let Some(soft) = soft_limit() else {
        eprintln!("skipped: no /proc/self/limits");
        return;
    };
    if soft > SOFT_LIMIT {
        // Lower this process's own soft limit (the hard one stays), as `ulimit -Sn` would.
        let lowered = Command::new("prlimit")
            .arg(format!("--pid={}", std::process::id()))
            .arg(format!("--nofile={SOFT_LIMIT}:"))
            .status();
        if !lowered.is_ok_and(|s| s.success()) || soft_limit() != Some(SOFT_LIMIT) {
            eprintln!("skipped: could not lower the open files limit with prlimit");
            return;
        }
    }

    let sandbox = Sandbox::spawn(SandboxConfig::default()).unwrap();
    // One answered request first: the sandbox is up and waiting in its accept loop.
    assert!(get(&sandbox, &mut TcpStream::connect(sandbox.addr()).unwrap()).starts_with(OK));
    let mut hoard = Vec::new();
    loop {
        match File::open("/dev/null") {
            Ok(file) => hoard.push(file),
            Err(e) if e.raw_os_error() == Some(24) => break, // EMFILE
            Err(e) => panic!("{e}"),
        }
        assert!(hoard.len() < 100_000, "the limit did not bite");
    }
    // One descriptor for the client; the sandbox has none left to accept it with.
    hoard.pop();
    let mut client = TcpStream::connect(sandbox.addr()).unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let errors = sandbox.accept_errors();
    assert_eq!(sandbox.connections_accepted(), 1);
    // About one try per 50 ms; a loop that retried at once would fail thousands of times.
    assert!(
        (1..=20).contains(&errors),
        "{errors} failed accepts in 500 ms"
    );

    hoard.clear();
    assert!(get(&sandbox, &mut client).starts_with(OK));
    assert_eq!(sandbox.connections_accepted(), 2);
    assert!(sandbox.accept_errors() >= errors);
}

const OK: &[u8] = b"HTTP/1.1 200 OK\r\n";

/// A listing request on `client`; the whole answer, read until the server closes.
fn get(sandbox: &Sandbox, client: &mut TcpStream) -> Vec<u8> {
    client
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    client
        .write_all(
            format!(
                "GET /v3/connections HTTP/1.1\r\nHost: sandbox\r\n\
                 Authorization: Bearer {}\r\nConnection: close\r\n\r\n",
                sandbox.token()
            )
            .as_bytes(),
        )
        .unwrap();
    let mut answer = Vec::new();
    match client.read_to_end(&mut answer) {
        Ok(_) => answer,
        Err(e) if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::TimedOut => {
            panic!("the connection was never served")
        }
        Err(e) => panic!("{e}"),
    }
}
