//! Application tokens from client credentials: one fetch however many requests need it, a
//! refresh ahead of expiry that stalls nobody, one refetch per refused token, a hardened
//! token endpoint, and neither the secret nor a token in any output.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;
use std::fmt::Debug;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use common::*;
use connections_hyper::{Client, ClientBuilder, Error, ListConnections, TokenError};
use connections_testkit::{Links, Recorded, Reply, TestServer, page_body};
use futures_util::StreamExt;

const CLIENT_ID: &str = "app-client-id";
const SECRET: &str = "sh-client-s3cret-value";

/// What the fake Smartcar does: how it issues tokens and which ones its API accepts.
struct Fake {
    /// Answers to token requests, by number from 1; the last one repeats.
    token_replies: Vec<fn(u32) -> Reply>,
    /// Connections in the listing.
    total: usize,
    /// Whether the API accepts token `n` (issued by the n-th token request) right now,
    /// given how many API requests it has seen.
    accepts: fn(n: u32, api_requests: u32) -> bool,
    /// Latency of each API answer.
    latency: Duration,
}

struct Counters {
    tokens: AtomicU32,
    api: AtomicU32,
}

/// Issues `app-tok-{n}` for `lifetime` seconds.
fn issue(n: u32, lifetime: u64) -> Reply {
    Reply::json(
        200,
        format!(
            r#"{{"access_token":"app-tok-{n}","token_type":"Bearer","expires_in":{lifetime}}}"#
        ),
    )
}

fn start(fake: Fake) -> (TestServer, Arc<Counters>) {
    let counters = Arc::new(Counters {
        tokens: AtomicU32::new(0),
        api: AtomicU32::new(0),
    });
    let seen = counters.clone();
    let origin = Arc::new(Mutex::new(String::new()));
    let origin_for_handler = origin.clone();
    let server = TestServer::start(move |request: &Recorded| {
        if request.path() == "/oauth2/token" {
            let n = seen.tokens.fetch_add(1, Ordering::SeqCst) + 1;
            let index = usize::try_from(n - 1)
                .unwrap()
                .min(fake.token_replies.len() - 1);
            return fake.token_replies[index](n);
        }
        let seen_api = seen.api.fetch_add(1, Ordering::SeqCst);
        let token = request
            .header("authorization")
            .and_then(|v| v.strip_prefix("Bearer app-tok-"))
            .and_then(|n| n.parse::<u32>().ok());
        if !token.is_some_and(|n| (fake.accepts)(n, seen_api)) {
            return Reply::json(
                401,
                r#"{"errors":[{"status":"401","type":"AUTHENTICATION","code":"UNAUTHORIZED","title":"Unauthorized","detail":"invalid token"}]}"#,
            );
        }
        let number = request
            .param("page[number]")
            .and_then(|n| n.parse().ok())
            .unwrap_or(1);
        let size = request
            .param("page[size]")
            .and_then(|n| n.parse().ok())
            .unwrap_or(10);
        let origin = origin_for_handler.lock().unwrap().clone();
        Reply::json(
            200,
            page_body(fake.total, number, size, Links::Relative, &origin),
        )
        .delay(fake.latency)
    });
    *origin.lock().unwrap() = server.origin();
    (server, counters)
}

fn app_builder(server: &TestServer) -> ClientBuilder {
    builder(server)
        .client_credentials(CLIENT_ID, SECRET)
        .token_url(&format!("{}/oauth2/token", server.origin()))
}

async fn list_all(client: &Client, page_size: u32) -> Result<Vec<String>, Error> {
    let request = ListConnections::builder()
        .page_size(page_size)
        .build()
        .unwrap();
    let mut ids = Vec::new();
    let mut connections = std::pin::pin!(client.connections(&request));
    while let Some(c) = connections.next().await {
        ids.push(c?.id.unwrap());
    }
    Ok(ids)
}

fn all_ids(total: usize) -> Vec<String> {
    (0..total).map(|i| format!("conn-{i}")).collect()
}

fn token_requests(server: &TestServer) -> Vec<Recorded> {
    server
        .requests()
        .into_iter()
        .filter(|r| r.path() == "/oauth2/token")
        .collect()
}

#[tokio::test]
async fn the_token_request_is_a_form_post_with_the_credentials() {
    let (server, _) = start(Fake {
        token_replies: vec![|n| issue(n, 3600)],
        total: 3,
        accepts: |_, _| true,
        latency: Duration::ZERO,
    });
    let client = app_builder(&server).build().unwrap();
    assert_eq!(list_all(&client, 10).await.unwrap(), all_ids(3));
    let sent = token_requests(&server);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].method, "POST");
    assert_eq!(
        sent[0].header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    let form: Vec<(String, String)> = form_urlencoded::parse(&sent[0].body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    assert_eq!(
        form,
        [
            ("grant_type".into(), "client_credentials".into()),
            ("client_id".into(), CLIENT_ID.into()),
            ("client_secret".into(), SECRET.into()),
        ]
    );
    let api: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|r| r.path() != "/oauth2/token")
        .collect();
    assert!(
        api.iter()
            .all(|r| r.header("authorization") == Some("Bearer app-tok-1"))
    );
}

#[tokio::test]
async fn a_cold_cache_makes_one_token_request_for_eight_concurrent_requests() {
    let (server, counters) = start(Fake {
        token_replies: vec![|n| issue(n, 3600).delay(Duration::from_millis(200))],
        total: 40,
        accepts: |_, _| true,
        latency: Duration::from_millis(20),
    });
    let client = app_builder(&server).page_concurrency(8).build().unwrap();
    let pages = futures_util::future::join_all((0..8).map(|n| {
        let request = ListConnections::builder()
            .page_size(5)
            .page_number(n + 1)
            .build()
            .unwrap();
        let client = client.clone();
        async move { client.list(&request).await.map(|p| p.value.data.len()) }
    }))
    .await;
    assert!(pages.iter().all(|p| matches!(p, Ok(5))), "{pages:?}");
    assert_eq!(counters.tokens.load(Ordering::SeqCst), 1);

    // A fresh client, a whole listing with 8 pages in flight.
    let client = app_builder(&server).page_concurrency(8).build().unwrap();
    assert_eq!(list_all(&client, 5).await.unwrap(), all_ids(40));
    assert_eq!(counters.tokens.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_token_revoked_mid_listing_is_replaced_once_and_the_listing_completes() {
    // After 3 API requests, only tokens from the second token request on are accepted.
    let (server, counters) = start(Fake {
        token_replies: vec![|n| issue(n, 3600)],
        total: 60,
        accepts: |n, api| api < 3 || n >= 2,
        latency: Duration::from_millis(20),
    });
    let client = app_builder(&server).page_concurrency(4).build().unwrap();
    assert_eq!(list_all(&client, 5).await.unwrap(), all_ids(60));
    assert_eq!(
        counters.tokens.load(Ordering::SeqCst),
        2,
        "several requests saw the 401, one refresh"
    );
}

#[tokio::test]
async fn a_401_that_persists_with_a_fresh_token_is_final_after_two_requests() {
    let (server, counters) = start(Fake {
        token_replies: vec![|n| issue(n, 3600)],
        total: 10,
        accepts: |_, _| false,
        latency: Duration::ZERO,
    });
    let client = app_builder(&server).build().unwrap();
    let error = failure(list_all(&client, 5).await);
    assert!(
        matches!(&error, Error::Api(e) if e.status == 401),
        "{error:?}"
    );
    assert_eq!(counters.api.load(Ordering::SeqCst), 2);
    assert_eq!(counters.tokens.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn refused_credentials_are_one_token_request_and_no_api_request() {
    let (server, counters) = start(Fake {
        token_replies: vec![|_| {
            Reply::json(
                401,
                r#"{"error":"invalid_client","error_description":"Invalid client credentials"}"#,
            )
        }],
        total: 10,
        accepts: |_, _| true,
        latency: Duration::ZERO,
    });
    let client = app_builder(&server).build().unwrap();
    let error = failure(list_all(&client, 5).await);
    let Error::TokenEndpoint(TokenError::OAuth(oauth)) = &error else {
        panic!("{error:?}")
    };
    assert_eq!(
        (oauth.status, oauth.error.as_str()),
        (401, "invalid_client")
    );
    let text = error.chain().to_string();
    assert!(text.contains("Invalid client credentials") && text.contains("client secret"));
    assert!(!text.contains(SECRET) && !format!("{error:?}").contains(SECRET));
    assert_eq!(counters.tokens.load(Ordering::SeqCst), 1);
    assert_eq!(counters.api.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_failing_token_endpoint_is_retried_and_a_malformed_answer_is_not() {
    let (server, counters) = start(Fake {
        token_replies: vec![|_| Reply::json(500, r#"{"error":"server_error"}"#), |n| {
            issue(n, 3600)
        }],
        total: 10,
        accepts: |_, _| true,
        latency: Duration::ZERO,
    });
    let client = app_builder(&server).build().unwrap();
    assert_eq!(list_all(&client, 5).await.unwrap(), all_ids(10));
    assert_eq!(counters.tokens.load(Ordering::SeqCst), 2);

    let (server, counters) = start(Fake {
        token_replies: vec![|_| Reply::json(200, r#"{"token_type":"Bearer"}"#)],
        total: 10,
        accepts: |_, _| true,
        latency: Duration::ZERO,
    });
    let client = app_builder(&server).build().unwrap();
    let error = failure(list_all(&client, 5).await);
    assert!(
        matches!(error, Error::TokenEndpoint(TokenError::Response(_))),
        "{error:?}"
    );
    assert_eq!(counters.tokens.load(Ordering::SeqCst), 1);
    assert_eq!(counters.api.load(Ordering::SeqCst), 0);
}

/// How far [`paused`] has been moved, in milliseconds.
static ADVANCED_MS: AtomicU64 = AtomicU64::new(0);

/// A clock that stands still unless the one test that uses it moves it, so that token
/// lifetimes pass exactly as the test says however loaded the machine is.
fn paused() -> Instant {
    static BASE: OnceLock<Instant> = OnceLock::new();
    *BASE.get_or_init(Instant::now) + Duration::from_millis(ADVANCED_MS.load(Ordering::SeqCst))
}

#[tokio::test]
async fn tokens_that_expire_during_a_long_listing_are_renewed_a_bounded_number_of_times() {
    // Tokens last 1 s and the API refuses them after that; each answer takes 250 ms on the
    // paused clock, so the eight pages take over 2 s.
    static ISSUED: Mutex<Vec<Instant>> = Mutex::new(Vec::new());
    let (server, counters) = start(Fake {
        token_replies: vec![|n| {
            ISSUED.lock().unwrap().push(paused());
            issue(n, 1)
        }],
        total: 24,
        accepts: |n, _| {
            let issued = ISSUED.lock().unwrap();
            let alive = issued
                .get(usize::try_from(n).unwrap() - 1)
                .is_some_and(|at| paused() - *at < Duration::from_secs(1));
            ADVANCED_MS.fetch_add(250, Ordering::SeqCst);
            alive
        },
        latency: Duration::ZERO,
    });
    let client = app_builder(&server).clock_source(paused).build().unwrap();
    let started = paused();
    assert_eq!(list_all(&client, 3).await.unwrap(), all_ids(24));
    assert!(paused() - started >= Duration::from_secs(2));
    let fetched = counters.tokens.load(Ordering::SeqCst);
    assert!((2..=8).contains(&fetched), "{fetched} token requests");
}

#[tokio::test]
async fn a_refresh_ahead_of_expiry_does_not_hold_up_requests() {
    // A 2 s token is renewed between 1.7 and 1.8 s; the renewal takes 600 ms.
    let (server, counters) = start(Fake {
        token_replies: vec![|n| issue(n, 2), |n| {
            issue(n, 3600).delay(Duration::from_millis(600))
        }],
        total: 10,
        accepts: |_, _| true,
        latency: Duration::ZERO,
    });
    let client = app_builder(&server).build().unwrap();
    let request = ListConnections::builder().page_size(5).build().unwrap();
    client.list(&request).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1850)).await;
    // In the refresh window: served with the old token while the renewal runs.
    client.list(&request).await.unwrap();
    client.list(&request).await.unwrap();
    assert_eq!(counters.tokens.load(Ordering::SeqCst), 2, "one renewal");
    tokio::time::sleep(Duration::from_millis(900)).await;
    client.list(&request).await.unwrap();
    let used: Vec<String> = server
        .requests()
        .into_iter()
        .filter(|r| r.path() != "/oauth2/token")
        .map(|r| r.header("authorization").unwrap().to_owned())
        .collect();
    assert_eq!(
        used,
        [
            "Bearer app-tok-1",
            "Bearer app-tok-1",
            "Bearer app-tok-1",
            "Bearer app-tok-2"
        ]
    );
}

/// Everything any span or event recorded, as text.
#[derive(Clone, Default)]
struct Everything(Arc<Mutex<String>>);

struct Text<'a>(&'a mut String);

impl tracing::field::Visit for Text<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn Debug) {
        self.0.push_str(&format!(" {}={value:?}", field.name()));
    }
}

impl tracing::Subscriber for Everything {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, span: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        let mut text = String::new();
        span.record(&mut Text(&mut text));
        self.0.lock().unwrap().push_str(&text);
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, values: &tracing::span::Record<'_>) {
        let mut text = String::new();
        values.record(&mut Text(&mut text));
        self.0.lock().unwrap().push_str(&text);
    }
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut text = String::new();
        event.record(&mut Text(&mut text));
        self.0.lock().unwrap().push_str(&text);
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

#[tokio::test]
async fn neither_the_secret_nor_a_token_appears_in_any_log_line() {
    let logs = Everything::default();
    let _default = tracing::subscriber::set_default(logs.clone());
    let (server, _) = start(Fake {
        token_replies: vec![|_| Reply::json(503, "{}"), |n| issue(n, 3600)],
        total: 10,
        accepts: |n, api| n >= 2 && api > 0,
        latency: Duration::ZERO,
    });
    let client = app_builder(&server).build().unwrap();
    assert_eq!(list_all(&client, 5).await.unwrap(), all_ids(10));
    let text = logs.0.lock().unwrap().clone();
    assert!(
        text.contains("connections") || text.contains("status"),
        "{text}"
    );
    let mut seen_tokens = BTreeSet::new();
    for request in server.requests() {
        if let Some(auth) = request.header("authorization") {
            seen_tokens.insert(auth.trim_start_matches("Bearer ").to_owned());
        }
    }
    assert!(!seen_tokens.is_empty());
    for secret in seen_tokens.iter().map(String::as_str).chain([SECRET]) {
        assert!(!text.contains(secret), "{secret} logged: {text}");
    }
    assert!(!format!("{client:?}").contains(SECRET));
}
