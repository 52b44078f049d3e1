//! Status codes, retries, hostile bodies and deadlines: every failure is typed, bounded, and
//! free of the token.
#![allow(clippy::unwrap_used)]

mod common;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use common::*;
use connections_core::ErrorType;
use connections_core::{AccessToken, InvalidBaseUrl};
use connections_hyper::{BoxError, ConfigError, TokenSource};
use connections_hyper::{Client, Error, ListConnections, ResponseError, RetryPolicy, Timeout};
use connections_testkit::{Links, Reply, TestServer, listing, page_body};

fn error_body(status: u16, kind: &str, code: &str) -> String {
    format!(
        r#"{{"errors":[{{"status":"{status}","type":"{kind}","code":"{code}","title":"t","detail":"d","meta":{{"debug":{{"requestId":"body-id"}}}}}}]}}"#
    )
}

async fn list_error(client: &Client) -> Error {
    failure(client.list(&ListConnections::new()).await)
}

#[tokio::test]
async fn client_errors_are_typed_and_never_retried() {
    let cases = [
        (400, "VALIDATION", ErrorType::Validation),
        (401, "AUTHENTICATION", ErrorType::Authentication),
        (403, "AUTHENTICATION", ErrorType::Authentication),
        (404, "RESOURCE_NOT_FOUND", ErrorType::ResourceNotFound),
    ];
    for (status, kind, expected) in cases {
        let server = TestServer::start(move |_| {
            Reply::json(status, error_body(status, kind, "SOME_CODE"))
                .header("sc-request-id", "hdr-id")
        });
        let Error::Api(e) = list_error(&client(&server)).await else {
            panic!("{status}: not an API error")
        };
        assert_eq!(e.status, status);
        assert_eq!(e.errors.len(), 1);
        assert_eq!(e.errors[0].kind, Some(expected));
        assert_eq!(e.errors[0].code.as_deref(), Some("SOME_CODE"));
        assert_eq!(e.request_id.as_deref(), Some("hdr-id"));
        assert_eq!(server.requests().len(), 1, "{status} was retried");
    }
}

#[tokio::test]
async fn server_errors_are_typed_and_retried() {
    let server = TestServer::start(|_| Reply::json(500, error_body(500, "SERVER", "INTERNAL")));
    let Error::Api(e) = list_error(&client(&server)).await else {
        panic!("not an API error")
    };
    assert_eq!(
        (e.status, e.errors[0].kind.clone()),
        (500, Some(ErrorType::Server))
    );
    assert_eq!(e.request_id.as_deref(), Some("body-id"));
    assert_eq!(server.requests().len(), 3);
}

#[tokio::test]
async fn a_429_with_retry_after_is_waited_then_retried() {
    let calls = Arc::new(AtomicU32::new(0));
    let seen = calls.clone();
    let server = TestServer::start(move |_| {
        if seen.fetch_add(1, Ordering::SeqCst) == 0 {
            Reply::json(429, error_body(429, "RATE_LIMIT", "RATE_LIMIT")).header("retry-after", "1")
        } else {
            Reply::json(200, page_with(&["c1"], "null"))
        }
    });
    let started = Instant::now();
    let listed = client(&server).list(&ListConnections::new()).await.unwrap();
    let waited = started.elapsed();
    assert_eq!(ids(listed.value.connections()), ["c1"]);
    assert_eq!(server.requests().len(), 2);
    assert!(
        waited >= Duration::from_millis(950),
        "waited only {waited:?}"
    );
    assert!(waited < Duration::from_secs(3), "waited {waited:?}");
}

#[tokio::test]
async fn a_persistent_503_gives_up_after_exactly_the_configured_attempts() {
    for attempts in [1, 3, 4] {
        let server = TestServer::start(|_| Reply::json(503, error_body(503, "SERVER", "DOWN")));
        let client = builder(&server)
            .retry_policy(fast_retries(attempts))
            .build()
            .unwrap();
        let Error::Api(e) = list_error(&client).await else {
            panic!("not an API error")
        };
        assert_eq!(e.status, 503);
        assert_eq!(server.requests().len(), attempts as usize);
    }
}

#[tokio::test]
async fn an_html_502_is_typed_with_a_snippet() {
    let server = TestServer::start(|_| {
        Reply::status(502)
            .header("content-type", "text/html")
            .body("<html><body><h1>502 Bad Gateway</h1></body></html>")
    });
    let error = list_error(&client(&server)).await;
    let Error::Api(e) = &error else {
        panic!("not an API error: {error:?}")
    };
    assert_eq!(e.status, 502);
    assert!(e.errors.is_empty());
    assert!(
        e.body_snippet
            .as_deref()
            .unwrap()
            .contains("502 Bad Gateway")
    );
    assert_eq!(server.requests().len(), 3, "502 is retryable");
}

#[tokio::test]
async fn a_200_that_is_not_json_is_an_invalid_response() {
    let server = TestServer::start(|_| {
        Reply::status(200)
            .header("content-type", "text/html")
            .body("<html>Sign in</html>")
    });
    let error = list_error(&client(&server)).await;
    assert!(
        matches!(
            &error,
            Error::InvalidResponse(ResponseError::NotJson { status: 200, content_type, .. })
                if content_type == "text/html"
        ),
        "{error:?}"
    );
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn an_oversized_body_is_refused_with_or_without_content_length() {
    let big = page_body(2000, 1, 2000, Links::Relative, "");
    assert!(big.len() > 500_000);
    for without_length in [false, true] {
        let body = big.clone();
        let server = TestServer::start(move |_| {
            let reply = Reply::json(200, body.clone());
            if without_length {
                reply.without_length()
            } else {
                reply
            }
        });
        let client = builder(&server).max_body_size(64 * 1024).build().unwrap();
        let error = list_error(&client).await;
        assert!(
            matches!(error, Error::BodyTooLarge { limit: 65536 }),
            "without length {without_length}: {error:?}"
        );
        assert_eq!(server.requests().len(), 1, "not retried");
    }
    // At the limit exactly, it passes.
    let body = page_body(3, 1, 10, Links::Relative, "");
    let limit = body.len();
    let server = TestServer::start(move |_| Reply::json(200, body.clone()).without_length());
    let client = builder(&server).max_body_size(limit).build().unwrap();
    assert_eq!(
        client
            .list(&ListConnections::new())
            .await
            .unwrap()
            .value
            .data
            .len(),
        3
    );
}

#[tokio::test]
async fn a_truncated_body_is_a_connection_error_not_a_partial_page() {
    let body = page_body(5, 1, 10, Links::Relative, "");
    let declared = body.len() + 100;
    // A complete JSON page, but shorter than announced.
    let server = TestServer::start(move |_| Reply::json(200, body.clone()).truncated(declared));
    let client = builder(&server)
        .retry_policy(fast_retries(2))
        .build()
        .unwrap();
    let error = list_error(&client).await;
    assert!(matches!(error, Error::Connection(_)), "{error:?}");
    assert_eq!(
        server.requests().len(),
        2,
        "connection failures are retried"
    );
}

#[tokio::test]
async fn a_server_stalling_after_headers_hits_the_request_deadline() {
    let server = TestServer::start(|_| {
        Reply::json(200, page_with(&["c1"], "null")).stall_after_headers(Duration::from_secs(10))
    });
    let deadline = Duration::from_millis(800);
    let client = builder(&server)
        .request_timeout(deadline)
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    let started = Instant::now();
    let error = list_error(&client).await;
    let took = started.elapsed();
    assert!(
        matches!(error, Error::Timeout(Timeout::Request(d)) if d == deadline),
        "{error:?}"
    );
    assert!(took >= deadline - Duration::from_millis(50), "{took:?}");
    assert!(took < deadline + Duration::from_secs(1), "{took:?}");
}

#[tokio::test]
async fn a_dripping_server_is_cut_off_at_the_deadline() {
    // 100 bytes, one every 250 ms: 25 s in all, never idle for long.
    let body = page_with(&["c1", "c2", "c3", "c4", "c5", "c6", "c7"], "null");
    assert!(body.len() > 100);
    let server =
        TestServer::start(move |_| Reply::json(200, body.clone()).drip(Duration::from_millis(250)));
    let deadline = Duration::from_secs(1);
    let client = builder(&server)
        .request_timeout(deadline)
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    let started = Instant::now();
    let error = list_error(&client).await;
    let took = started.elapsed();
    assert!(
        matches!(error, Error::Timeout(Timeout::Request(_))),
        "{error:?}"
    );
    assert!(took < deadline + Duration::from_secs(1), "{took:?}");
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let target = TestServer::start(listing(3, Links::Relative, String::new()));
    let location = format!("{}/v3/connections", target.origin());
    for status in [301, 302, 307, 308] {
        let to = location.clone();
        let server = TestServer::start(move |_| Reply::status(status).header("location", &to));
        let error = list_error(&client(&server)).await;
        let Error::InvalidResponse(ResponseError::Redirect {
            status: seen,
            location: Some(seen_location),
        }) = &error
        else {
            panic!("{error:?}")
        };
        assert_eq!((*seen, seen_location.as_str()), (status, location.as_str()));
        assert!(error.chain().to_string().contains(&location), "{error}");
        assert_eq!(server.requests().len(), 1);
    }
    assert!(target.requests().is_empty(), "the redirect was followed");
}

#[tokio::test]
async fn a_refused_connection_is_a_connect_error() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let client = Client::builder()
        .base_url(&format!("http://127.0.0.1:{port}/v3"))
        .token(TOKEN)
        .retry_policy(fast_retries(2))
        .build()
        .unwrap();
    let error = list_error(&client).await;
    assert!(matches!(error, Error::Connect(_)), "{error:?}");
    let chain = error.chain().to_string();
    assert!(chain.contains("refused"), "{chain}");
    // hyper-util's own layer only names the kind the variant already tells.
    assert!(!chain.contains("client error"), "{chain}");
}

#[tokio::test]
async fn plain_http_is_refused_unless_loopback() {
    for base in [
        "http://example.com/v3",
        "http://10.0.0.1/v3",
        "http://api.localhost.evil/v3",
    ] {
        let built = Client::builder().token(TOKEN).base_url(base).build();
        assert!(
            matches!(
                built,
                Err(Error::Config(ConfigError::BaseUrl(
                    InvalidBaseUrl::InsecureScheme
                )))
            ),
            "{base}: {built:?}"
        );
    }
    for base in [
        "http://localhost:1/v3",
        "http://127.0.0.2:1/v3",
        "http://[::1]:1/v3",
    ] {
        assert!(
            Client::builder()
                .token(TOKEN)
                .base_url(base)
                .build()
                .is_ok(),
            "{base}"
        );
    }
}

#[tokio::test]
async fn settings_are_checked_at_build() {
    assert!(matches!(
        Client::builder().build(),
        Err(Error::Config(ConfigError::MissingToken))
    ));
    assert!(matches!(
        Client::builder()
            .token(TOKEN)
            .request_timeout(Duration::ZERO)
            .build(),
        Err(Error::Config(ConfigError::ZeroTimeout))
    ));
    let error = failure(Client::builder().token("bad\r\ntoken").build());
    assert!(matches!(error, Error::Config(ConfigError::Token(_))));
}

/// A token source that counts how often it is asked, or fails.
struct Counting {
    asked: AtomicU32,
    fail: bool,
}

impl TokenSource for Counting {
    fn access_token(
        &self,
    ) -> Pin<Box<dyn Future<Output = Result<AccessToken<'static>, BoxError>> + Send + '_>> {
        Box::pin(async move {
            if self.fail {
                return Err("vault unreachable".into());
            }
            let n = self.asked.fetch_add(1, Ordering::SeqCst) + 1;
            Ok(AccessToken::from_string(format!("{TOKEN}-{n}"))?)
        })
    }
}

#[tokio::test]
async fn the_token_source_is_asked_before_every_attempt() {
    let calls = Arc::new(AtomicU32::new(0));
    let seen = calls.clone();
    let server = TestServer::start(move |_| {
        if seen.fetch_add(1, Ordering::SeqCst) == 0 {
            Reply::json(503, "{}")
        } else {
            Reply::json(200, page_with(&["c1"], "null"))
        }
    });
    let source = Arc::new(Counting {
        asked: AtomicU32::new(0),
        fail: false,
    });
    let client = builder(&server)
        .token_source(source.clone())
        .build()
        .unwrap();
    client.list(&ListConnections::new()).await.unwrap();
    assert_eq!(source.asked.load(Ordering::SeqCst), 2);
    let auth: Vec<_> = server
        .requests()
        .iter()
        .map(|r| r.header("authorization").unwrap().to_owned())
        .collect();
    assert_eq!(
        auth,
        [format!("Bearer {TOKEN}-1"), format!("Bearer {TOKEN}-2")]
    );

    let failing = builder(&server)
        .token_source(Arc::new(Counting {
            asked: AtomicU32::new(0),
            fail: true,
        }))
        .build()
        .unwrap();
    let before = server.requests().len();
    let error = list_error(&failing).await;
    assert!(matches!(error, Error::TokenSource(_)), "{error:?}");
    let chain = error.chain().to_string();
    assert!(chain.contains("vault unreachable"), "{chain}");
    assert_eq!(
        server.requests().len(),
        before,
        "no request without a token"
    );
}

/// A token source that panics on its first call.
struct Panicking;

impl TokenSource for Panicking {
    fn access_token(
        &self,
    ) -> Pin<Box<dyn Future<Output = Result<AccessToken<'static>, BoxError>> + Send + '_>> {
        Box::pin(async move { panic!("the vault exploded") })
    }
}

/// A panicking exchange task ends the listing with `Panicked`, naming the panic, and is not
/// taken for a connection failure worth retrying.
#[tokio::test]
async fn a_panicking_exchange_is_panicked_and_not_retryable() {
    let server = TestServer::start(|_| Reply::json(200, page_with(&["c1"], "null")));
    let client = builder(&server)
        .token_source(Arc::new(Panicking))
        .build()
        .unwrap();
    let error = list_error(&client).await;
    assert!(matches!(error, Error::Panicked(_)), "{error:?}");
    assert!(!error.is_retryable());
    assert!(error.to_string().contains("the vault exploded"), "{error}");
    assert!(server.requests().is_empty());
}
