//! The sandbox as a test double: serve a few connections from a data file, let the code
//! under test call it, then assert on what that code sent and got.
//!
//! Run with `cargo run -p connections-sandbox --example test_double`. The "code under test"
//! here is a small HTTP/1.1 function on `std::net`, standing in for your own client.

use std::error::Error;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

use connections_sandbox::{Sandbox, SandboxConfig};

/// Two connections of one user in the API's shape, one per line (NDJSON): a live Tesla and a
/// simulated Kia. A page body captured from the API (`{"data": [...], ...}`) works too.
const DATA: &str = r#"{"id":"c-1","attributes":{"permissions":["read_vin"],"vehicle":{"make":"TESLA","model":"Model 3","year":2023,"powertrainType":"BEV","mode":"live"}},"relationships":{"vehicle":{"data":{"id":"v-1"}},"user":{"data":{"id":"u-42"}}},"meta":{"createdAt":"2025-03-01T10:00:00Z","updatedAt":"2025-03-02T10:00:00Z"}}
{"id":"c-2","attributes":{"permissions":["read_vin","read_battery"],"vehicle":{"make":"KIA","model":"EV6","year":2024,"powertrainType":"BEV","mode":"simulated"}},"relationships":{"vehicle":{"data":{"id":"v-2"}},"user":{"data":{"id":"u-42"}}},"meta":{"createdAt":"2025-04-01T10:00:00Z","updatedAt":"2025-04-01T10:00:00Z","lastUsedAt":"2025-04-02T08:00:00Z"}}
"#;

/// The code under test: fetches one page of a user's connections and returns the body.
fn user_connections(addr: SocketAddr, token: &str, user: &str) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(addr)?;
    write!(
        stream,
        "GET /v3/connections?filter%5BuserId%5D={user}&page%5Bsize%5D=50 HTTP/1.1\r\n\
         Host: {addr}\r\nAuthorization: Bearer {token}\r\nUser-Agent: example/1.0\r\n\
         Connection: close\r\n\r\n"
    )?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    let (_, body) = answer.split_once("\r\n\r\n").unwrap_or_default();
    Ok(body.to_owned())
}

fn main() -> Result<(), Box<dyn Error>> {
    let file = std::env::temp_dir().join(format!("sandbox-example-{}.ndjson", std::process::id()));
    std::fs::write(&file, DATA)?;
    let sandbox = Sandbox::spawn(SandboxConfig {
        data: Some(file.clone()),
        ..SandboxConfig::default()
    });
    std::fs::remove_file(&file)?;
    let sandbox = sandbox?;

    let body = user_connections(sandbox.addr(), sandbox.token(), "u-42")?;

    // What the code got: without a mode filter the API lists live vehicles only.
    let page: serde_json::Value = serde_json::from_str(&body)?;
    assert_eq!(page["meta"]["totalCount"], 1);
    assert_eq!(page["data"][0]["id"], "c-1");

    // What the code sent: decoded query parameters and headers, the token redacted.
    let sent = sandbox.received();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].method, "GET");
    assert_eq!(sent[0].path, "/v3/connections");
    assert_eq!(sent[0].query_value("filter[userId]"), Some("u-42"));
    assert_eq!(sent[0].query_value("page[size]"), Some("50"));
    assert_eq!(sent[0].query_value("filter[vehicle.mode]"), None);
    assert_eq!(sent[0].header("user-agent"), Some("example/1.0"));
    assert_eq!(sent[0].header("authorization"), Some("Bearer [redacted]"));
    assert!(sent[0].authorized, "the token was accepted");
    Ok(())
}
