//! Servers that misbehave: bodies too large or cut short, stalls, drips, redirects, and
//! nothing listening at all.

use std::time::{Duration, Instant};

use connections_blocking::{Error, ListConnections, ResponseError, RetryPolicy, Timeout};
use connections_testkit::{Links, Reply, TestServer, listing, page_body};

use crate::common::{builder, client, failure, fast_retries};

fn page() -> String {
    page_body(3, 1, 10, Links::Relative, "")
}

#[test]
fn a_body_over_the_limit_is_refused_with_content_length() {
    let big = format!("{{\"data\":[],\"pad\":\"{}\"}}", "x".repeat(64 * 1024));
    let server = TestServer::start(move |_| Reply::json(200, big.clone()));
    let client = builder(&server).max_body_size(1024).build().unwrap();
    let error = failure(client.list(&ListConnections::new()));
    assert!(
        matches!(error, Error::BodyTooLarge { limit: 1024 }),
        "{error:?}"
    );
    assert!(
        error.chain().to_string().contains("max_body_size"),
        "{error}"
    );
    assert_eq!(server.requests().len(), 1, "not retried");
}

#[test]
fn a_body_over_the_limit_is_refused_without_content_length() {
    // 4 MiB with no length: reading must stop at the 64 KiB limit, not buffer it all.
    let big = format!("{{\"data\":[],\"pad\":\"{}\"}}", "x".repeat(4 << 20));
    let server = TestServer::start(move |_| Reply::json(200, big.clone()).without_length());
    let client = builder(&server).max_body_size(64 * 1024).build().unwrap();
    let started = Instant::now();
    let error = failure(client.list(&ListConnections::new()));
    assert!(
        matches!(error, Error::BodyTooLarge { limit: 65536 }),
        "{error:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(server.requests().len(), 1);
}

#[test]
fn a_body_of_exactly_the_limit_is_read() {
    let body = page();
    for without_length in [false, true] {
        let reply = Reply::json(200, body.clone());
        let reply = if without_length {
            reply.without_length()
        } else {
            reply
        };
        let server = TestServer::start(move |_| reply.clone());
        let exact = builder(&server).max_body_size(body.len()).build().unwrap();
        assert_eq!(
            exact
                .list(&ListConnections::new())
                .unwrap()
                .value
                .connections()
                .len(),
            3
        );
        let short = builder(&server)
            .max_body_size(body.len() - 1)
            .build()
            .unwrap();
        let error = failure(short.list(&ListConnections::new()));
        assert!(matches!(error, Error::BodyTooLarge { .. }), "{error:?}");
    }
}

#[test]
fn a_truncated_body_is_a_connection_error_never_a_partial_page() {
    let body = page();
    let cut = body[..body.len() / 2].to_owned();
    let declared = body.len();
    let server = TestServer::start(move |_| Reply::json(200, cut.clone()).truncated(declared));
    let client = builder(&server)
        .retry_policy(fast_retries(2))
        .build()
        .unwrap();
    let error = failure(client.list(&ListConnections::new()));
    assert!(matches!(error, Error::Connection(_)), "{error:?}");
    assert!(error.is_retryable());
    assert_eq!(server.requests().len(), 2, "retried as a transport failure");
}

#[test]
fn a_truncated_error_body_is_a_connection_error_too() {
    let server = TestServer::start(|_| Reply::json(503, r#"{"errors":[{"sta"#).truncated(500));
    let client = builder(&server)
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    let error = failure(client.list(&ListConnections::new()));
    assert!(matches!(error, Error::Connection(_)), "{error:?}");
}

/// Runs one request that must hit the 1 s request deadline, and says how long it took.
fn deadline_hit(reply: Reply) -> Duration {
    let server = TestServer::start(move |_| reply.clone());
    let client = builder(&server)
        .request_timeout(Duration::from_secs(1))
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    let started = Instant::now();
    let error = failure(client.list(&ListConnections::new()));
    let elapsed = started.elapsed();
    assert!(
        matches!(error, Error::Timeout(Timeout::Request(d)) if d == Duration::from_secs(1)),
        "{error:?}"
    );
    assert!(error.is_retryable());
    assert!(
        elapsed >= Duration::from_millis(900),
        "fired early: {elapsed:?}"
    );
    elapsed
}

#[test]
fn a_stall_after_the_headers_hits_the_request_deadline() {
    let elapsed =
        deadline_hit(Reply::json(200, page()).stall_after_headers(Duration::from_secs(10)));
    assert!(elapsed < Duration::from_secs(3), "took {elapsed:?}");
}

#[test]
fn a_dripping_body_is_cut_off_at_the_deadline() {
    // One byte every 250 ms never idles long, so only a whole-exchange deadline stops it.
    let elapsed = deadline_hit(Reply::json(200, page()).drip(Duration::from_millis(250)));
    assert!(elapsed < Duration::from_secs(3), "took {elapsed:?}");
}

#[test]
fn a_server_slow_to_answer_hits_the_request_deadline() {
    let elapsed = deadline_hit(Reply::json(200, page()).delay(Duration::from_secs(10)));
    assert!(elapsed < Duration::from_secs(3), "took {elapsed:?}");
}

#[test]
fn redirects_are_not_followed() {
    let target = TestServer::start(listing(3, Links::Relative, String::new()));
    let location = format!("{}/connections", target.base_url());
    let to = location.clone();
    let server = TestServer::start(move |_| Reply::status(302).header("location", &to));
    let error = failure(client(&server).list(&ListConnections::new()));
    let Error::InvalidResponse(ResponseError::Redirect {
        status,
        location: got,
    }) = &error
    else {
        panic!("{error:?}")
    };
    assert_eq!(*status, 302);
    assert_eq!(got.as_deref(), Some(location.as_str()));
    assert!(error.chain().to_string().contains(&location), "{error}");
    assert_eq!(
        target.requests().len(),
        0,
        "the redirect target got a request"
    );
    assert_eq!(server.requests().len(), 1, "not retried");
}

#[test]
fn nothing_listening_is_a_connect_error() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let client = connections_blocking::Client::builder()
        .base_url(&format!("http://127.0.0.1:{port}/v3"))
        .token(crate::common::TOKEN)
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    let error = failure(client.list(&ListConnections::new()));
    assert!(matches!(error, Error::Connect(_)), "{error:?}");
    assert!(error.is_retryable());
}
