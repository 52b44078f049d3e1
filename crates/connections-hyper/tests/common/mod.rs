//! Helpers shared by the integration tests.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::time::Duration;

use connections_hyper::{
    Client, ClientBuilder, Connection, Error, ListConnections, Owned, Page, RetryPolicy,
};
use connections_testkit::TestServer;
use futures_util::StreamExt;

/// The token every test uses; no error, Debug output or log line may contain it.
pub const TOKEN: &str = "tok-5ecret-9f8e7d6c5b4a";

/// Retries that wait a few milliseconds, so retry tests stay fast.
pub fn fast_retries(attempts: u32) -> RetryPolicy {
    RetryPolicy::new()
        .with_max_attempts(attempts)
        .with_base_delay(Duration::from_millis(5))
        .with_max_delay(Duration::from_millis(20))
}

/// A builder pointed at `server`, with short timeouts and fast retries.
pub fn builder(server: &TestServer) -> ClientBuilder {
    Client::builder()
        .base_url(&server.base_url())
        .token(TOKEN)
        .connect_timeout(Duration::from_secs(2))
        .request_timeout(Duration::from_secs(2))
        .retry_policy(fast_retries(3))
}

pub fn client(server: &TestServer) -> Client {
    builder(server).build().unwrap()
}

/// Asserts that neither `{}` nor `{:?}` of `error` (nor of its causes) shows the token, and
/// hands the error back.
pub fn checked(error: Error) -> Error {
    let mut texts = vec![
        format!("{error}"),
        format!("{error:?}"),
        format!("{error:#?}"),
    ];
    let mut cause = std::error::Error::source(&error);
    while let Some(e) = cause {
        texts.push(format!("{e} {e:?}"));
        cause = e.source();
    }
    for text in texts {
        assert!(!text.contains(TOKEN), "the token leaked: {text}");
        assert!(!text.contains("5ecret"), "part of the token leaked: {text}");
    }
    error
}

/// The error of a result that must have failed, checked for the token.
pub fn failure<T: std::fmt::Debug>(result: Result<T, Error>) -> Error {
    checked(result.expect_err("expected an error"))
}

/// Every page until the stream ends, and the error that ended it, if any.
pub async fn walk(
    client: &Client,
    request: &ListConnections<'_>,
) -> (Vec<Page<Owned>>, Option<Error>) {
    let mut pages = Vec::new();
    let mut error = None;
    let mut stream = std::pin::pin!(client.pages(request));
    while let Some(next) = stream.next().await {
        match next {
            Ok(page) => pages.push(page.value),
            Err(e) => {
                assert!(error.is_none(), "the stream went on after an error");
                error = Some(checked(e));
            }
        }
    }
    (pages, error)
}

/// Every connection until the stream ends, and the error that ended it, if any.
pub async fn all_connections(
    client: &Client,
    request: &ListConnections<'_>,
) -> (Vec<Connection<Owned>>, Option<Error>) {
    let mut items = Vec::new();
    let mut error = None;
    let mut stream = std::pin::pin!(client.connections(request));
    while let Some(next) = stream.next().await {
        match next {
            Ok(item) => items.push(item),
            Err(e) => {
                assert!(error.is_none(), "the stream went on after an error");
                error = Some(checked(e));
            }
        }
    }
    (items, error)
}

pub fn ids<'a>(items: impl IntoIterator<Item = &'a Connection<Owned>>) -> Vec<String> {
    items.into_iter().map(|c| c.id.clone().unwrap()).collect()
}

pub fn page_ids(pages: &[Page<Owned>]) -> Vec<String> {
    ids(pages.iter().flat_map(|p| p.connections()))
}

/// `conn-0` .. `conn-{n-1}`.
pub fn expected_ids(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("conn-{i}")).collect()
}

/// A minimal page body with the given ids and `next` link (JSON text or `null`).
pub fn page_with(ids: &[&str], next: &str) -> String {
    let data: Vec<String> = ids.iter().map(|id| format!(r#"{{"id":"{id}"}}"#)).collect();
    format!(
        r#"{{"data":[{}],"links":{{"self":"/connections","first":"/connections","last":"/connections","next":{next}}}}}"#,
        data.join(",")
    )
}

/// The `page[number]` of a recorded request (1 when absent).
pub fn page_number(request: &connections_testkit::Recorded) -> usize {
    request
        .param("page[number]")
        .and_then(|n| n.parse().ok())
        .unwrap_or(1)
}

/// A server for `listing(total, Links::Absolute, its own origin)`, which is only known once
/// it listens.
pub fn absolute_listing(total: usize) -> TestServer {
    let origin = std::sync::Arc::new(std::sync::OnceLock::<String>::new());
    let known = origin.clone();
    let server = TestServer::start(move |r| {
        let origin = known.get().cloned().unwrap_or_default();
        connections_testkit::listing(total, connections_testkit::Links::Absolute, origin)(r)
    });
    origin.set(server.origin()).unwrap();
    server
}
