//! The OAuth 2.0 client-credentials token endpoint and the tokens it issues, spoken to over
//! plain TCP with hand-written form bodies and Basic headers, read with `serde_json`: the
//! oracle is RFC 6749 and Smartcar's documented answers, not any of the workspace's clients.
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::{Answer, default_listing, exchange, get};
use connections_sandbox::{Sandbox, SandboxConfig};
use serde_json::{Value, json};

const ID: &str = "my-client";
const SECRET: &str = "my-secret";
const FORM: &str = "application/x-www-form-urlencoded";
const GOOD: &str = "grant_type=client_credentials&client_id=my-client&client_secret=my-secret";

fn spawn(config: SandboxConfig) -> Sandbox {
    Sandbox::spawn(SandboxConfig {
        client_id: Some(ID.to_owned()),
        client_secret: Some(SECRET.to_owned()),
        ..config
    })
    .unwrap()
}

/// The token endpoint's path, from `token_url`, which must sit at the sandbox's origin.
fn token_path(s: &Sandbox) -> String {
    let url = s.token_url();
    let path = url
        .strip_prefix(&format!("http://{}", s.addr()))
        .unwrap_or_else(|| panic!("{url} is not at the sandbox's origin"));
    assert_eq!(path, "/oauth2/token");
    path.to_owned()
}

/// A request to the token endpoint with `method`, extra header lines, and `body`.
fn call(s: &Sandbox, method: &str, headers: &[(&str, &str)], body: &str) -> Answer {
    let path = token_path(s);
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: sandbox\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    exchange(s, request.as_bytes())
}

/// `POST` of a form body, as Smartcar's clients send it.
fn post_form(s: &Sandbox, body: &str) -> Answer {
    call(s, "POST", &[("Content-Type", FORM)], body)
}

fn body(answer: &Answer) -> Value {
    serde_json::from_slice(&answer.body)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&answer.body)))
}

/// A fresh token from a successful answer, after checking the answer's whole shape.
fn token_from(answer: &Answer, lifetime: u64) -> String {
    let value = body(answer);
    assert_eq!(answer.status, 200, "{value}");
    assert_eq!(answer.header("content-type"), Some("application/json"));
    assert_eq!(answer.header("cache-control"), Some("no-store"));
    let keys: BTreeSet<&str> = value.as_object().unwrap().keys().map(|k| &**k).collect();
    assert_eq!(
        keys,
        BTreeSet::from(["access_token", "expires_in", "token_type"])
    );
    assert_eq!(value["token_type"], "Bearer");
    assert_eq!(value["expires_in"], json!(lifetime));
    let token = value["access_token"].as_str().unwrap().to_owned();
    assert!(
        token.len() >= 32 && token.bytes().all(|b| b.is_ascii_hexdigit()),
        "{token}"
    );
    token
}

fn issue(s: &Sandbox, lifetime: u64) -> String {
    token_from(&post_form(s, GOOD), lifetime)
}

/// Checks an OAuth error answer and returns its description.
fn oauth_error(answer: &Answer, status: u16, error: &str) -> String {
    let value = body(answer);
    assert_eq!(answer.status, status, "{value}");
    assert_eq!(answer.header("content-type"), Some("application/json"));
    assert_eq!(answer.header("cache-control"), Some("no-store"));
    assert_eq!(value["error"], error, "{value}");
    let description = value["error_description"].as_str().unwrap().to_owned();
    assert!(!description.is_empty());
    description
}

/// Lists the first page with `token`; the status and the body as JSON.
fn list(s: &Sandbox, token: &str) -> (u16, Value, Answer) {
    let answer = get(s, "/v3/connections?page[size]=5", Some(token));
    (answer.status, body(&answer), answer)
}

/// The first five live ids, newest first: what the first page must hold.
fn first_ids(s: &Sandbox) -> Vec<Value> {
    default_listing(s.dataset().connections())[..5]
        .iter()
        .map(|id| json!(id))
        .collect()
}

/// Checks a v3 authentication error answer and returns its one entry.
fn v3_401(status: u16, value: &Value, answer: &Answer) -> Value {
    assert_eq!(status, 401, "{value}");
    let entry = value["errors"][0].clone();
    assert_eq!(entry["status"], "401");
    assert_eq!(entry["type"], "AUTHENTICATION");
    assert_eq!(entry["resolution"]["type"], "REAUTHENTICATE");
    assert_eq!(
        entry["meta"]["debug"]["requestId"].as_str(),
        answer.header("sc-request-id")
    );
    entry
}

#[test]
fn a_good_request_gets_a_fresh_bearer_token_that_lists_connections() {
    let s = spawn(SandboxConfig::default());
    assert_eq!(s.tokens_issued(), 0);
    let first = issue(&s, 3600);
    let second = issue(&s, 3600);
    assert_ne!(first, second, "every answer carries a new token");
    assert_ne!(first, s.token());
    assert_eq!(s.tokens_issued(), 2);
    assert_eq!(s.token_requests(), 2);

    for token in [&first, &second, s.token()] {
        let (status, page, _) = list(&s, token);
        assert_eq!(status, 200, "{page}");
        let ids: Vec<Value> = page["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].clone())
            .collect();
        assert_eq!(ids, first_ids(&s));
    }
    assert_eq!(s.requests(), 5, "requests() counts both endpoints");

    let custom = spawn(SandboxConfig {
        token_lifetime: Duration::from_secs(120),
        ..SandboxConfig::default()
    });
    issue(&custom, 120);
}

#[test]
fn credentials_may_come_in_basic_auth_and_are_form_decoded() {
    let s = spawn(SandboxConfig::default());
    let basic = [
        ("Content-Type", FORM),
        ("Authorization", "Basic bXktY2xpZW50Om15LXNlY3JldA=="), // my-client:my-secret
    ];
    let token = token_from(
        &call(&s, "POST", &basic, "grant_type=client_credentials"),
        3600,
    );
    assert_eq!(list(&s, &token).0, 200);
    let wrong = [
        ("Content-Type", FORM),
        ("Authorization", "Basic bXktY2xpZW50Ondyb25n"), // my-client:wrong
    ];
    let refused = call(&s, "POST", &wrong, "grant_type=client_credentials");
    oauth_error(&refused, 401, "invalid_client");
    assert!(
        refused
            .header("www-authenticate")
            .is_some_and(|v| v.starts_with("Basic")),
        "a failed Basic login is challenged"
    );
    let both = call(&s, "POST", &basic, GOOD);
    oauth_error(&both, 400, "invalid_request");

    // A secret with every character form encoding treats specially.
    let odd = Sandbox::spawn(SandboxConfig {
        client_id: Some(ID.to_owned()),
        client_secret: Some("a b+c&d=e%f".to_owned()),
        ..SandboxConfig::default()
    })
    .unwrap();
    token_from(
        &post_form(
            &odd,
            "grant_type=client_credentials&client_id=my-client&client_secret=a+b%2Bc%26d%3De%25f",
        ),
        3600,
    );
    let odd_basic = [
        (
            "Content-Type",
            "application/x-www-form-urlencoded; charset=UTF-8",
        ),
        // my-client:a+b%2Bc%26d%3De%25f, encoded as RFC 6749 §2.3.1 asks
        (
            "Authorization",
            "Basic bXktY2xpZW50OmErYiUyQmMlMjZkJTNEZSUyNWY=",
        ),
    ];
    token_from(
        &call(&odd, "POST", &odd_basic, "grant_type=client_credentials"),
        3600,
    );
    oauth_error(
        &post_form(
            &odd,
            "grant_type=client_credentials&client_id=my-client&client_secret=a b+c&d=e%f",
        ),
        401,
        "invalid_client",
    );
}

#[test]
fn issued_tokens_expire_after_their_lifetime_with_a_v3_401() {
    let s = spawn(SandboxConfig {
        token_lifetime: Duration::from_secs(1),
        ..SandboxConfig::default()
    });
    let token = issue(&s, 1);
    assert_eq!(list(&s, &token).0, 200);
    assert_eq!(s.faults().expired_tokens, 0);
    std::thread::sleep(Duration::from_millis(1200));
    let (status, value, answer) = list(&s, &token);
    let entry = v3_401(status, &value, &answer);
    assert_eq!(entry["code"], "TOKEN_EXPIRED");
    assert_eq!(
        s.faults().expired_tokens,
        1,
        "each expired-token 401 is counted"
    );
    assert_eq!(list(&s, &token).0, 401);
    assert_eq!(s.faults().expired_tokens, 2);
    assert_eq!(s.faults().revoked_tokens, 0);
    assert!(
        entry["detail"].as_str().unwrap().contains("expired"),
        "{entry}"
    );
    assert_eq!(list(&s, s.token()).0, 200, "the static token never expires");
    let fresh = issue(&s, 1);
    assert_eq!(list(&s, &fresh).0, 200, "a new token works again");
}

#[test]
fn revoked_tokens_stop_working_and_later_ones_work() {
    let s = spawn(SandboxConfig::default());
    let before = issue(&s, 3600);
    assert_eq!(list(&s, &before).0, 200);
    s.revoke_tokens();
    let (status, value, answer) = list(&s, &before);
    v3_401(status, &value, &answer);
    assert_eq!(s.faults().revoked_tokens, 1);
    assert_eq!(s.faults().expired_tokens, 0);
    let after = issue(&s, 3600);
    assert_eq!(list(&s, &after).0, 200);
    assert_eq!(
        list(&s, s.token()).0,
        200,
        "revoking leaves the static token"
    );
    assert_eq!(s.tokens_issued(), 2);
}

#[test]
fn unknown_tokens_still_get_the_plain_401() {
    let s = spawn(SandboxConfig::default());
    issue(&s, 3600);
    for token in ["0123456789abcdef0123456789abcdef", ""] {
        let (status, value, answer) = list(&s, token);
        assert_eq!(v3_401(status, &value, &answer)["code"], "UNAUTHORIZED");
    }
}

#[test]
fn wrong_or_missing_client_credentials_get_invalid_client() {
    let s = spawn(SandboxConfig::default());
    for form in [
        "grant_type=client_credentials&client_id=my-client&client_secret=wrong",
        "grant_type=client_credentials&client_id=my-client&client_secret=my-secre",
        "grant_type=client_credentials&client_id=my-client&client_secret=my-secret2",
        "grant_type=client_credentials&client_id=other&client_secret=my-secret",
        "grant_type=client_credentials&client_id=my-client",
        "grant_type=client_credentials",
    ] {
        let answer = post_form(&s, form);
        oauth_error(&answer, 401, "invalid_client");
        assert!(answer.header("www-authenticate").is_none(), "{form}");
    }
    assert_eq!(s.tokens_issued(), 0);
    assert_eq!(s.token_requests(), 6);

    let off = Sandbox::spawn(SandboxConfig::default()).unwrap();
    let description = oauth_error(&post_form(&off, GOOD), 401, "invalid_client");
    assert!(description.contains("not enabled"), "{description}");
    let half = Sandbox::spawn(SandboxConfig {
        client_id: Some(ID.to_owned()),
        ..SandboxConfig::default()
    })
    .unwrap();
    oauth_error(&post_form(&half, GOOD), 401, "invalid_client");
    assert_eq!(off.tokens_issued() + half.tokens_issued(), 0);
}

#[test]
fn malformed_requests_get_invalid_request() {
    let s = spawn(SandboxConfig::default());
    for form in [
        "client_id=my-client&client_secret=my-secret",
        "grant_type=&client_id=my-client&client_secret=my-secret",
        "grant_type=authorization_code&client_id=my-client&client_secret=my-secret",
        "grant_type=client_credentials&grant_type=client_credentials&client_id=my-client&client_secret=my-secret",
    ] {
        let description = oauth_error(&post_form(&s, form), 400, "invalid_request");
        assert!(description.contains("grant_type"), "{form}: {description}");
    }
    let json_body = format!(
        r#"{{"grant_type":"client_credentials","client_id":"{ID}","client_secret":"{SECRET}"}}"#
    );
    let not_a_form = call(
        &s,
        "POST",
        &[("Content-Type", "application/json")],
        &json_body,
    );
    oauth_error(&not_a_form, 400, "invalid_request");
    oauth_error(&call(&s, "POST", &[], GOOD), 400, "invalid_request");
    assert_eq!(s.tokens_issued(), 0);
}

#[test]
fn other_methods_get_405_allowing_post() {
    let s = spawn(SandboxConfig::default());
    for method in ["GET", "PUT", "DELETE", "PATCH"] {
        let answer = call(&s, method, &[("Content-Type", FORM)], GOOD);
        assert_eq!(answer.status, 405, "{method}");
        assert_eq!(answer.header("allow"), Some("POST"), "{method}");
    }
    assert_eq!(s.token_requests(), 4);
    assert_eq!(s.tokens_issued(), 0);
    let api = get(&s, "/v3/connections", Some(s.token()));
    assert_eq!(api.status, 200);
    let wrong_method = exchange(
        &s,
        b"DELETE /v3/connections HTTP/1.1\r\nHost: sandbox\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(wrong_method.status, 405);
    assert_eq!(wrong_method.header("allow"), Some("GET"));
}

#[test]
fn bodies_over_64_kib_get_413_unread() {
    let s = spawn(SandboxConfig::default());
    // Only the head: the server must answer from Content-Length without waiting for the body.
    let path = token_path(&s);
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: sandbox\r\nConnection: close\r\n\
         Content-Type: {FORM}\r\nContent-Length: {}\r\n\r\n",
        64 * 1024 + 1
    );
    oauth_error(&exchange(&s, head.as_bytes()), 413, "invalid_request");
    // Just under the bound, padded with an unknown parameter, is read and served.
    let padded = format!("{GOOD}&pad={}", "x".repeat(64 * 1024 - GOOD.len() - 5));
    assert_eq!(padded.len(), 64 * 1024);
    token_from(&post_form(&s, &padded), 3600);
}

#[test]
fn latency_applies_to_the_token_endpoint_but_failures_and_rate_limits_do_not() {
    let s = spawn(SandboxConfig {
        failure_rate: 1.0,
        rate_limit: Some(1),
        latency: Duration::from_millis(100),
        ..SandboxConfig::default()
    });
    let started = Instant::now();
    for _ in 0..4 {
        issue(&s, 3600);
    }
    assert!(started.elapsed() >= Duration::from_millis(400));
    assert_eq!(s.tokens_issued(), 4);
    let faults = s.faults();
    assert_eq!((faults.failures, faults.rate_limited), (0, 0));
    let status = get(&s, "/v3/connections", Some(s.token())).status;
    assert!([500, 503].contains(&status), "{status}");
}

#[test]
fn the_configs_debug_never_shows_the_client_secret() {
    let config = SandboxConfig {
        client_id: Some(ID.to_owned()),
        client_secret: Some(SECRET.to_owned()),
        ..SandboxConfig::default()
    };
    let text = format!("{config:?}");
    assert!(!text.contains(SECRET), "{text}");
    assert!(
        text.contains("client_secret: Some(\"[redacted]\")"),
        "{text}"
    );
    assert!(text.contains(ID), "the id is not a secret: {text}");
}
