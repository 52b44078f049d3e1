//! Faults that real networks have: bodies cut short and bodies trickled out, read here over
//! plain TCP byte by byte as they arrive, with each fault counted by `faults()`.
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use connections_sandbox::{Sandbox, SandboxConfig};

/// An answer read until the server closed (or reset) the connection, with timings.
struct Raw {
    status: u16,
    content_length: Option<usize>,
    body: Vec<u8>,
    /// From sending the request to the end of the headers.
    headers_after: Duration,
    /// From the end of the headers to the connection's end.
    body_took: Duration,
    /// Whether the read ended with an error (a reset) rather than an orderly close.
    reset: bool,
}

fn fetch(s: &Sandbox, target: &str, extra: &str) -> Raw {
    let mut stream = TcpStream::connect(s.addr()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let sent = Instant::now();
    stream
        .write_all(
            format!(
                "GET {target} HTTP/1.1\r\nHost: sandbox\r\nAuthorization: Bearer {}\r\n{extra}\
                 Connection: close\r\n\r\n",
                s.token()
            )
            .as_bytes(),
        )
        .unwrap();
    let mut raw = Vec::new();
    let mut headers_at = None;
    let mut buf = [0; 4096];
    let reset = loop {
        match stream.read(&mut buf) {
            Ok(0) => break false,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => break true,
            Err(e) => panic!("{e}"),
        }
        if headers_at.is_none() && raw.windows(4).any(|w| w == b"\r\n\r\n") {
            headers_at = Some(Instant::now());
        }
    };
    let ended = Instant::now();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8(raw[..split].to_vec()).unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let content_length = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .map(|(_, v)| v.trim().parse().unwrap());
    let headers_at = headers_at.unwrap();
    Raw {
        status,
        content_length,
        body: raw[split + 4..].to_vec(),
        headers_after: headers_at - sent,
        body_took: ended - headers_at,
        reset,
    }
}

#[test]
fn truncated_pages_announce_the_whole_length_send_part_and_close() {
    let s = Sandbox::spawn(SandboxConfig {
        truncate_rate: 1.0,
        ..SandboxConfig::default()
    })
    .unwrap();
    for (extra, gzip) in [("", false), ("Accept-Encoding: gzip\r\n", true)] {
        let cut = fetch(&s, "/v3/connections?page[size]=10", extra);
        assert_eq!(cut.status, 200);
        let declared = cut.content_length.expect("a Content-Length");
        assert!(
            !cut.body.is_empty() && cut.body.len() < declared,
            "{} of {declared} bytes (gzip {gzip})",
            cut.body.len()
        );
        assert!(
            serde_json::from_slice::<serde_json::Value>(&cut.body).is_err() || gzip,
            "a cut JSON body does not parse"
        );
    }
    assert_eq!(s.faults().truncated, 2);
    // Only listing pages are cut: errors arrive whole and are not counted.
    for target in ["/v3/connections?page[size]=0", "/v3/nowhere"] {
        let whole = fetch(&s, target, "");
        assert!(whole.status >= 400);
        assert_eq!(whole.content_length, Some(whole.body.len()), "{target}");
    }
    assert_eq!(s.faults().truncated, 2);

    // A share of pages, the same ones for the same seed.
    let run = || {
        let s = Sandbox::spawn(SandboxConfig {
            truncate_rate: 0.5,
            seed: 9,
            ..SandboxConfig::default()
        })
        .unwrap();
        let cut: Vec<bool> = (0..20)
            .map(|_| {
                let raw = fetch(&s, "/v3/connections", "");
                raw.content_length != Some(raw.body.len())
            })
            .collect();
        assert_eq!(
            s.faults().truncated,
            cut.iter().filter(|&&c| c).count() as u64
        );
        cut
    };
    let first = run();
    let cuts = first.iter().filter(|&&c| c).count();
    assert!((3..=17).contains(&cuts), "{cuts} of 20 cut at 50%");
    assert_eq!(run(), first, "the same seed cuts the same requests");
}

#[test]
fn dripped_bodies_arrive_whole_but_slowly_after_the_headers() {
    let pause = Duration::from_millis(40);
    let s = Sandbox::spawn(SandboxConfig {
        drip: Some(pause),
        drip_bytes: 1000,
        ..SandboxConfig::default()
    })
    .unwrap();
    let raw = fetch(&s, "/v3/connections?page[size]=10", "");
    assert_eq!(raw.status, 200);
    assert!(!raw.reset);
    assert_eq!(raw.content_length, Some(raw.body.len()), "whole");
    serde_json::from_slice::<serde_json::Value>(&raw.body).unwrap();
    let chunks = raw.body.len().div_ceil(1000) as u32;
    assert!(chunks >= 4, "{} bytes", raw.body.len());
    // A pause before every chunk: the first one follows the headers by one pause.
    assert!(
        raw.body_took >= pause * (chunks - 1),
        "{chunks} chunks in {:?}",
        raw.body_took
    );
    assert!(
        raw.headers_after < raw.body_took,
        "headers first ({:?}), then the body ({:?})",
        raw.headers_after,
        raw.body_took
    );
    // Errors drip too; each answer is counted once.
    let error = fetch(&s, "/v3/connections?page[size]=x", "");
    assert_eq!(error.status, 400);
    assert_eq!(error.content_length, Some(error.body.len()));
    assert_eq!(s.faults().dripped, 2);
    assert_eq!(
        s.body_bytes_sent(),
        (raw.body.len() + error.body.len()) as u64
    );

    // Dripping and cutting together: a trickle that stops short.
    let both = Sandbox::spawn(SandboxConfig {
        drip: Some(Duration::from_millis(5)),
        drip_bytes: 500,
        truncate_rate: 1.0,
        ..SandboxConfig::default()
    })
    .unwrap();
    let raw = fetch(&both, "/v3/connections?page[size]=10", "");
    assert!(raw.body.len() < raw.content_length.unwrap());
    assert_eq!((both.faults().dripped, both.faults().truncated), (1, 1));
}

#[test]
fn the_token_endpoint_is_never_dripped() {
    let s = Sandbox::spawn(SandboxConfig {
        drip: Some(Duration::from_secs(5)),
        drip_bytes: 1,
        client_id: Some("id".to_owned()),
        client_secret: Some("secret".to_owned()),
        ..SandboxConfig::default()
    })
    .unwrap();
    let mut stream = TcpStream::connect(s.addr()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(4)))
        .unwrap();
    let form = "grant_type=client_credentials&client_id=id&client_secret=secret";
    stream
        .write_all(
            format!(
                "POST /oauth2/token HTTP/1.1\r\nHost: sandbox\r\n\
                 Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\
                 Connection: close\r\n\r\n{form}",
                form.len()
            )
            .as_bytes(),
        )
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("access_token"), "{answer}");
    assert_eq!(s.faults().dripped, 0);
}
