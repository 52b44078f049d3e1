//! gzip on request and the gzip bomb, spoken to over plain TCP and inflated with flate2.
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod common;

use std::io::{self, Read};

use common::{Answer, exchange};
use connections_sandbox::{Sandbox, SandboxConfig};
use flate2::read::GzDecoder;

fn sandbox(config: SandboxConfig) -> Sandbox {
    Sandbox::spawn(config).unwrap()
}

/// `GET target` with the sandbox's token and, if given, this `Accept-Encoding`.
fn get(sandbox: &Sandbox, target: &str, accept_encoding: Option<&str>) -> Answer {
    let accept = accept_encoding.map_or(String::new(), |a| format!("Accept-Encoding: {a}\r\n"));
    exchange(
        sandbox,
        format!(
            "GET {target} HTTP/1.1\r\nHost: sandbox\r\nAuthorization: Bearer {}\r\n{accept}\
             Connection: close\r\n\r\n",
            sandbox.token()
        )
        .as_bytes(),
    )
}

fn inflate(compressed: &[u8]) -> Vec<u8> {
    let mut plain = Vec::new();
    GzDecoder::new(compressed).read_to_end(&mut plain).unwrap();
    plain
}

#[test]
fn gzip_is_applied_only_when_asked_and_inflates_to_the_same_json() {
    let s = sandbox(SandboxConfig {
        connections: 120,
        ..SandboxConfig::default()
    });
    let target = "/v3/connections?page[size]=100&page[number]=1";
    let plain = get(&s, target, None);
    assert_eq!(plain.status, 200);
    assert_eq!(plain.header("content-encoding"), None);
    // The plain answer depends on Accept-Encoding too, and says so.
    assert_eq!(plain.header("vary"), Some("accept-encoding"));
    serde_json::from_slice::<serde_json::Value>(&plain.body).unwrap();

    for accept in ["gzip", "deflate, gzip;q=0.8", "br;q=1, GZIP", "*"] {
        let gz = get(&s, target, Some(accept));
        assert_eq!(gz.status, 200, "{accept}");
        assert_eq!(gz.header("content-encoding"), Some("gzip"), "{accept}");
        assert_eq!(gz.header("vary"), Some("accept-encoding"), "{accept}");
        assert_eq!(gz.header("content-type"), Some("application/json"));
        assert_eq!(
            gz.header("content-length"),
            Some(&*gz.body.len().to_string())
        );
        assert_eq!(inflate(&gz.body), plain.body, "{accept}");
        assert!(gz.body.len() * 4 < plain.body.len());
    }
    for accept in [
        "gzip;q=0",
        "identity",
        "br, deflate",
        "gzip;q=0.000, *",
        "*;q=0",
    ] {
        let answer = get(&s, target, Some(accept));
        assert_eq!(answer.header("content-encoding"), None, "{accept}");
        assert_eq!(answer.body, plain.body, "{accept}");
    }
    // Errors are JSON too, and compressed the same way.
    let missing = get(&s, "/v3/nowhere", Some("gzip"));
    assert_eq!(missing.status, 404);
    assert_eq!(missing.header("content-encoding"), Some("gzip"));
    let error: serde_json::Value = serde_json::from_slice(&inflate(&missing.body)).unwrap();
    assert_eq!(error["errors"][0]["code"], "NOT_FOUND");
}

#[test]
fn the_token_endpoint_compresses_on_request() {
    let s = sandbox(SandboxConfig {
        client_id: Some("id".to_owned()),
        client_secret: Some("secret".to_owned()),
        ..SandboxConfig::default()
    });
    let form = "grant_type=client_credentials&client_id=id&client_secret=secret";
    let post = |accept: &str| {
        exchange(
            &s,
            format!(
                "POST /oauth2/token HTTP/1.1\r\nHost: sandbox\r\n{accept}\
                 Content-Type: application/x-www-form-urlencoded\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n{form}",
                form.len()
            )
            .as_bytes(),
        )
    };
    let gz = post("Accept-Encoding: gzip\r\n");
    assert_eq!(gz.status, 200);
    assert_eq!(gz.header("content-encoding"), Some("gzip"));
    assert_eq!(gz.header("cache-control"), Some("no-store"));
    let token: serde_json::Value = serde_json::from_slice(&inflate(&gz.body)).unwrap();
    assert_eq!(token["token_type"], "Bearer");
    let plain = post("");
    assert_eq!(plain.header("content-encoding"), None);
    let token: serde_json::Value = serde_json::from_slice(&plain.body).unwrap();
    assert_eq!(token["token_type"], "Bearer");
}

#[test]
fn body_bytes_sent_counts_what_went_out_after_compression() {
    let s = sandbox(SandboxConfig {
        connections: 1000,
        ..SandboxConfig::default()
    });
    assert_eq!(s.body_bytes_sent(), 0);
    let mut totals = Vec::new();
    for accept in [None, Some("gzip")] {
        let before = s.body_bytes_sent();
        let mut read = 0;
        for page in 1..=10 {
            let answer = get(
                &s,
                &format!("/v3/connections?page[size]=100&page[number]={page}"),
                accept,
            );
            assert_eq!(answer.status, 200);
            read += answer.body.len() as u64;
            assert_eq!(s.body_bytes_sent() - before, read, "{accept:?} page {page}");
        }
        totals.push(read);
    }
    // 1,000 connections cost several times fewer bytes with gzip.
    assert!(totals[1] * 4 < totals[0], "{totals:?}");
    assert_eq!(s.requests(), 20);
}

/// Counts what is written and keeps none of it.
struct Counter(u64);

impl io::Write for Counter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn the_gzip_bomb_is_small_and_inflates_past_200_mb() {
    const LIMIT: u64 = 200 * 1024 * 1024;
    let s = sandbox(SandboxConfig {
        gzip_bomb: true,
        ..SandboxConfig::default()
    });
    // Sent whatever the client accepts, and to every authorized listing request.
    for accept in [None, Some("identity"), Some("gzip")] {
        let bomb = get(&s, "/v3/connections?page[size]=5", accept);
        assert_eq!(bomb.status, 200);
        assert_eq!(bomb.header("content-encoding"), Some("gzip"));
        assert!(bomb.body.len() < 1024 * 1024, "{}", bomb.body.len());
        let mut inflating = GzDecoder::new(&bomb.body[..]);
        let mut head = [0; 9];
        inflating.read_exact(&mut head).unwrap();
        assert_eq!(&head, br#"{"data":["#);
        // Stop one byte past the limit, as a careful client would; hold none of it.
        let mut counter = Counter(head.len() as u64);
        io::copy(&mut (&mut inflating).take(LIMIT), &mut counter).unwrap();
        assert!(counter.0 > LIMIT, "inflated to only {}", counter.0);
    }
    assert_eq!(s.faults().gzip_bombs, 3);
    // A request without the token still gets its 401, not the bomb.
    let refused = common::get(&s, "/v3/connections", None);
    assert_eq!(refused.status, 401);
    assert_eq!(s.faults().gzip_bombs, 3);
}
