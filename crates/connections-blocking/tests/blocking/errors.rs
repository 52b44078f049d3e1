//! API error statuses: typed bodies, which are retried and how often, Retry-After.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use connections_blocking::{Error, ErrorType, ListConnections, ResponseError, RetryPolicy};
use connections_testkit::{Links, Reply, TestServer, listing};

use crate::common::{builder, client, error_body, failure, fast_retries};

/// A handler answering `first` for the first `times` requests, then a listing.
fn failing_then_ok(
    times: usize,
    first: Reply,
) -> impl Fn(&connections_testkit::Recorded) -> Reply + Send + Sync + 'static {
    let count = Arc::new(AtomicUsize::new(0));
    let ok = listing(3, Links::Relative, String::new());
    move |r| {
        if count.fetch_add(1, Ordering::SeqCst) < times {
            first.clone()
        } else {
            ok(r)
        }
    }
}

#[test]
fn client_errors_are_typed_and_never_retried() {
    for (status, kind, expected) in [
        (400, "VALIDATION", ErrorType::Validation),
        (401, "AUTHENTICATION", ErrorType::Authentication),
        (403, "AUTHENTICATION", ErrorType::Authentication),
        (404, "RESOURCE_NOT_FOUND", ErrorType::ResourceNotFound),
    ] {
        let body = error_body(status, kind, "SOME_CODE");
        let server = TestServer::start(move |_| {
            Reply::json(status, body.clone()).header("sc-request-id", "req-err")
        });
        let error = failure(client(&server).list(&ListConnections::new()));
        let Error::Api(api) = &error else {
            panic!("{status}: {error:?}")
        };
        assert_eq!(api.status, status);
        assert_eq!(api.request_id.as_deref(), Some("req-err"));
        let entry = api.first().unwrap();
        assert_eq!(entry.kind, Some(expected));
        assert_eq!(entry.code.as_deref(), Some("SOME_CODE"));
        assert_eq!(entry.detail, Some(format!("what went wrong ({status})")));
        assert!(!error.is_retryable());
        assert_eq!(server.requests().len(), 1, "{status} must not be retried");
        assert!(
            error.chain().to_string().contains(&status.to_string()),
            "{error}"
        );
    }
}

#[test]
fn server_errors_are_typed_and_retried_up_to_the_policy() {
    let body = error_body(500, "SERVER", "INTERNAL");
    let server = TestServer::start(move |_| Reply::json(500, body.clone()));
    let client = builder(&server)
        .retry_policy(fast_retries(2))
        .build()
        .unwrap();
    let error = failure(client.list(&ListConnections::new()));
    let Error::Api(api) = &error else {
        panic!("{error:?}")
    };
    assert_eq!(api.status, 500);
    assert_eq!(api.first().unwrap().code.as_deref(), Some("INTERNAL"));
    assert_eq!(server.requests().len(), 2);
}

#[test]
fn waits_retry_after_on_429_then_succeeds() {
    let limited =
        Reply::json(429, error_body(429, "RATE_LIMIT", "RATE_LIMITED")).header("retry-after", "1");
    let server = TestServer::start(failing_then_ok(1, limited));
    let client = builder(&server)
        .retry_policy(RetryPolicy::new())
        .build()
        .unwrap();
    let started = Instant::now();
    let listed = client.list(&ListConnections::new()).unwrap();
    let elapsed = started.elapsed();
    assert_eq!(listed.status, 200);
    assert_eq!(server.requests().len(), 2);
    assert!(
        elapsed >= Duration::from_millis(950),
        "waited only {elapsed:?}"
    );
    assert!(elapsed < Duration::from_secs(5), "waited {elapsed:?}");
}

#[test]
fn gives_up_after_exactly_the_configured_attempts() {
    let server = TestServer::start(|_| {
        Reply::json(503, error_body(503, "SERVER", "UNAVAILABLE")).header("sc-request-id", "r503")
    });
    let client = builder(&server)
        .retry_policy(fast_retries(3))
        .build()
        .unwrap();
    let error = failure(client.list(&ListConnections::new()));
    assert!(
        matches!(&error, Error::Api(api) if api.status == 503),
        "{error:?}"
    );
    assert_eq!(server.requests().len(), 3);
}

#[test]
fn succeeds_when_a_retry_does() {
    let server = TestServer::start(failing_then_ok(2, Reply::json(503, "{}")));
    let listed = client(&server).list(&ListConnections::new()).unwrap();
    assert_eq!(listed.value.connections().len(), 3);
    assert_eq!(server.requests().len(), 3);
}

#[test]
fn an_html_502_is_typed_with_a_snippet() {
    let server = TestServer::start(|_| {
        Reply::status(502)
            .header("content-type", "text/html")
            .body("<html><body><h1>502 Bad Gateway</h1> nginx</body></html>")
    });
    let client = builder(&server)
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    let error = failure(client.list(&ListConnections::new()));
    let Error::Api(api) = &error else {
        panic!("{error:?}")
    };
    assert_eq!(api.status, 502);
    assert!(api.errors.is_empty());
    assert!(
        api.body_snippet
            .as_deref()
            .unwrap()
            .contains("502 Bad Gateway")
    );
    assert!(error.is_retryable());
    assert_eq!(server.requests().len(), 1);
}

#[test]
fn a_success_that_is_not_json_is_an_invalid_response() {
    let server = TestServer::start(|_| {
        Reply::status(200)
            .header("content-type", "text/html; charset=utf-8")
            .body("<html>Sign in to continue</html>")
    });
    let error = failure(client(&server).list(&ListConnections::new()));
    let Error::InvalidResponse(ResponseError::NotJson {
        status,
        content_type,
        body_snippet,
    }) = &error
    else {
        panic!("{error:?}")
    };
    assert_eq!(*status, 200);
    assert_eq!(content_type, "text/html; charset=utf-8");
    assert!(body_snippet.as_deref().unwrap().contains("Sign in"));
    assert_eq!(server.requests().len(), 1, "not retried");
}

#[test]
fn a_malformed_page_is_an_invalid_response() {
    let server = TestServer::start(|_| Reply::json(200, r#"{"data":[{"id":7}]}"#));
    let error = failure(client(&server).list(&ListConnections::new()));
    assert!(
        matches!(
            &error,
            Error::InvalidResponse(ResponseError::Malformed { status: 200, .. })
        ),
        "{error:?}"
    );
    assert_eq!(server.requests().len(), 1);
}
