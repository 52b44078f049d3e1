//! Real-network concerns, on loopback: gzip bodies (and gzip bombs), HTTPS through an HTTP
//! CONNECT proxy, names that do not resolve, and TLS with HTTP/2 on one connection.
//!
//! The proxied path needs a destination that is not loopback (loopback is never proxied) yet
//! reaches a local server: `api.test`, which `TestProxy` resolves to 127.0.0.1 (the proxy
//! does the DNS for a tunnel) and which `TestServer::start_tls`'s certificate covers. The
//! client itself never resolves it when proxied; directly, it does not resolve at all.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use connections_hyper::{
    Client, ClientBuilder, DEFAULT_MAX_BODY_SIZE, Error, ListConnections, RetryPolicy,
};
use connections_sandbox::{Mode, Sandbox, SandboxConfig};
use connections_testkit::{Links, Reply, TestProxy, TestServer, listing};

// ---------------------------------------------------------------------------------------
// gzip

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

/// About 300 KB of gzip (one member) that inflates to 300 MiB of zeros, made by streaming
/// zeros through the encoder 1 MiB at a time (some seconds in a debug build; the sandbox's
/// bomb, tested below too, is built by a faster route).
fn gzip_bomb() -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..300 {
        encoder.write_all(&zeros).unwrap();
    }
    encoder.finish().unwrap()
}

#[tokio::test]
async fn a_gzip_page_is_inflated_and_gzip_was_asked_for() {
    let page = page_with(&["c1", "c2"], "null");
    let compressed = gzip(page.as_bytes());
    assert_ne!(compressed, page.as_bytes());
    let server = TestServer::start(move |_| {
        Reply::json(200, compressed.clone()).header("content-encoding", "gzip")
    });
    let listed = client(&server)
        .list(&ListConnections::new())
        .await
        .map_err(checked)
        .unwrap();
    assert_eq!(ids(listed.value.connections()), ["c1", "c2"]);
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].header("accept-encoding"), Some("gzip"));
}

#[tokio::test]
async fn a_gzip_bomb_is_refused_at_the_body_limit_not_inflated() {
    let bomb = gzip_bomb();
    // Small enough to pass the limit as sent: only inflating could pass it.
    assert!(bomb.len() < 1 << 20, "{}", bomb.len());
    let server = TestServer::start(move |_| {
        Reply::json(200, bomb.clone()).header("content-encoding", "gzip")
    });
    // The default limit, 8 MiB: the bomb is refused once 8 MiB are inflated, never 300 MB.
    let limit = DEFAULT_MAX_BODY_SIZE;
    let client = builder(&server)
        .request_timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let started = Instant::now();
    let error = failure(client.list(&ListConnections::new()).await);
    assert!(
        matches!(error, Error::BodyTooLarge { limit: l } if l == limit),
        "{error:?}"
    );
    assert!(!error.is_retryable());
    assert_eq!(server.requests().len(), 1, "a bomb is not retried");
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn the_sandbox_gzip_bomb_is_refused_at_the_body_limit() {
    let sandbox = Sandbox::spawn(SandboxConfig {
        gzip_bomb: true,
        ..SandboxConfig::default()
    })
    .unwrap();
    let client = sandbox_client(&sandbox, 1);
    let error = failure(client.list(&ListConnections::new()).await);
    assert!(
        matches!(error, Error::BodyTooLarge { limit } if limit == DEFAULT_MAX_BODY_SIZE),
        "{error:?}"
    );
    assert_eq!(sandbox.faults().gzip_bombs, 1);
}

#[tokio::test]
async fn a_corrupt_gzip_body_is_a_content_encoding_error() {
    let server = TestServer::start(|_| {
        Reply::json(200, "this is not gzip").header("content-encoding", "gzip")
    });
    let error = failure(client(&server).list(&ListConnections::new()).await);
    assert!(matches!(error, Error::ContentEncoding(_)), "{error:?}");
}

#[tokio::test]
async fn a_gzip_token_answer_is_inflated_too() {
    let server = TestServer::start(|request| {
        if request.path() == "/oauth2/token" {
            let token = r#"{"access_token":"app-tok-1","token_type":"Bearer","expires_in":3600}"#;
            return Reply::json(200, gzip(token.as_bytes())).header("content-encoding", "gzip");
        }
        assert_eq!(request.header("authorization"), Some("Bearer app-tok-1"));
        Reply::json(200, page_with(&["c1"], "null"))
    });
    let client = builder(&server)
        .client_credentials("client-id", "client-secret")
        .token_url(&format!("{}/oauth2/token", server.origin()))
        .build()
        .unwrap();
    let listed = client.list(&ListConnections::new()).await.map_err(checked);
    assert_eq!(ids(listed.unwrap().value.connections()), ["c1"]);
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].path(), "/oauth2/token");
}

// ---------------------------------------------------------------------------------------
// Proxies

/// An HTTPS listing of 12 connections (pages of 5 give 3 requests) under `api.test`.
fn tls_listing() -> TestServer {
    TestServer::start_tls(listing(12, Links::Relative, String::new()))
}

/// A builder for `server` under the non-loopback name `api.test`, through `proxy_url`.
fn proxied(server: &TestServer, proxy_url: &str) -> ClientBuilder {
    Client::builder()
        .base_url(&format!("https://api.test:{}/v3", server.addr().port()))
        .token(TOKEN)
        .proxy(proxy_url)
        .system_roots(false)
        .connect_timeout(Duration::from_secs(2))
        .request_timeout(Duration::from_secs(5))
        .retry_policy(fast_retries(3))
}

fn pages_of_five() -> ListConnections<'static> {
    ListConnections::builder().page_size(5).build().unwrap()
}

#[tokio::test]
async fn https_goes_through_the_proxy_as_a_bare_connect_tunnel() {
    let server = tls_listing();
    let proxy = TestProxy::start();
    let client = proxied(&server, &proxy.url())
        .add_root_certificate(server.certificate_der().unwrap())
        .build()
        .unwrap();
    let (items, error) = all_connections(&client, &pages_of_five()).await;
    assert!(error.is_none(), "{error:?}");
    assert_eq!(ids(&items), expected_ids(12));

    // The server got the requests, through the tunnel, TLS end to end.
    let requests = server.requests();
    assert_eq!(requests.len(), 3);
    assert_eq!(
        requests[0].header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    // The proxy saw one CONNECT per connection (the test server closes after each answer),
    // naming only host and port: no path, no query, no token.
    let connects = proxy.connects();
    assert_eq!(connects.len(), 3, "{connects:?}");
    let target = format!("api.test:{}", server.addr().port());
    for connect in &connects {
        assert_eq!(connect.method, "CONNECT");
        assert_eq!(connect.target, target);
        assert_eq!(connect.header("authorization"), None);
        assert_eq!(connect.header("proxy-authorization"), None);
    }
    let seen = format!("{connects:?}");
    for secret in ["/v3", "connections", "page", TOKEN, "Bearer"] {
        assert!(!seen.contains(secret), "the proxy saw {secret:?}: {seen}");
    }
    assert_eq!(proxy.connections(), 3);
}

#[tokio::test]
async fn proxy_credentials_go_in_proxy_authorization_and_nowhere_else() {
    const PASSWORD: &str = "pr0xy-pa55word";
    let server = tls_listing();
    let proxy = TestProxy::with_credentials("proxy-user", PASSWORD);
    let with_credentials = proxy.url_with_credentials().unwrap();
    assert!(with_credentials.contains(PASSWORD));
    let capture = Capture::default();
    let _guard = tracing::subscriber::set_default(capture.clone());

    let client = proxied(&server, &with_credentials)
        .add_root_certificate(server.certificate_der().unwrap())
        .build()
        .unwrap();
    client
        .list(&ListConnections::new())
        .await
        .map_err(checked)
        .unwrap();
    let connects = proxy.connects();
    assert_eq!(connects.len(), 1);
    // base64("proxy-user:pr0xy-pa55word")
    assert_eq!(
        connects[0].header("proxy-authorization"),
        Some("Basic cHJveHktdXNlcjpwcjB4eS1wYTU1d29yZA==")
    );
    assert!(server.requests()[0].header("proxy-authorization").is_none());

    // Wrong credentials: the proxy answers 407, and nothing shows the password.
    let wrong = with_credentials.replace(PASSWORD, "not-the-pa55word");
    let refused = proxied(&server, &wrong)
        .add_root_certificate(server.certificate_der().unwrap())
        .build()
        .unwrap();
    let error = failure(refused.list(&ListConnections::new()).await);
    assert!(matches!(error, Error::Proxy(_)), "{error:?}");
    let text = error.chain().to_string();
    assert!(text.contains(&proxy.url()), "{text}");
    assert!(text.contains("407"), "{text}");
    assert!(!error.is_retryable());
    assert_eq!(proxy.connects().len(), 2, "a refused tunnel is not retried");

    let everything = format!(
        "{error} {error:?} {client:?} {refused:?} {:?} {:?}",
        capture.spans.lock().unwrap(),
        capture.events.lock().unwrap()
    );
    for secret in [PASSWORD, "not-the-pa55word", "cHJveHk"] {
        assert!(
            !everything.contains(secret),
            "{secret} leaked: {everything}"
        );
    }
}

#[tokio::test]
async fn without_the_ca_the_tunnel_ends_in_a_tls_error_before_any_request() {
    let server = tls_listing();
    let proxy = TestProxy::start();
    let client = proxied(&server, &proxy.url()).build().unwrap();
    let error = failure(client.list(&ListConnections::new()).await);
    assert!(matches!(error, Error::Tls(_)), "{error:?}");
    assert!(!error.is_retryable());
    assert!(server.requests().is_empty(), "a request reached the server");
    assert_eq!(
        proxy.connects().len(),
        1,
        "a refused certificate is not retried"
    );
}

#[tokio::test]
async fn a_refusing_proxy_is_a_proxy_error_naming_it_and_not_retried() {
    let proxy = TestProxy::refusing(403);
    let client = Client::builder()
        .base_url("https://api.test:8443/v3")
        .token(TOKEN)
        .proxy(&proxy.url())
        .system_roots(false)
        .retry_policy(fast_retries(3))
        .build()
        .unwrap();
    let error = failure(client.list(&ListConnections::new()).await);
    assert!(matches!(error, Error::Proxy(_)), "{error:?}");
    assert!(!error.is_retryable());
    let text = error.chain().to_string();
    assert!(text.contains(&proxy.url()), "names the proxy: {text}");
    assert!(
        text.contains("403 Forbidden"),
        "says what it answered: {text}"
    );
    assert!(
        text.contains("api.test:8443"),
        "says what was asked: {text}"
    );
    let connects = proxy.connects();
    assert_eq!(connects.len(), 1, "{connects:?}");
    assert_eq!(connects[0].target, "api.test:8443");
}

#[tokio::test]
async fn an_unreachable_proxy_is_a_proxy_error_naming_it() {
    // Bound then dropped: nothing listens there any more.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let proxy_url = format!("http://127.0.0.1:{port}");
    let client = Client::builder()
        .base_url("https://api.test/v3")
        .token(TOKEN)
        .proxy(&proxy_url)
        .system_roots(false)
        .retry_policy(fast_retries(3))
        .build()
        .unwrap();
    let error = failure(client.list(&ListConnections::new()).await);
    assert!(matches!(error, Error::Proxy(_)), "{error:?}");
    assert!(!error.is_retryable());
    let text = error.chain().to_string();
    assert!(text.contains(&proxy_url), "{text}");
    assert!(text.contains("could not be reached"), "{text}");
}

#[tokio::test]
async fn loopback_and_no_proxy_bypass_the_proxy() {
    let proxy = TestProxy::start();
    // Loopback (`https://localhost:port`) never goes through a proxy, even one set
    // explicitly.
    let server = tls_listing();
    let client = builder(&server)
        .proxy(&proxy.url())
        .add_root_certificate(server.certificate_der().unwrap())
        .build()
        .unwrap();
    client
        .list(&ListConnections::new())
        .await
        .map_err(checked)
        .unwrap();
    assert_eq!(server.requests().len(), 1);

    // `.no_proxy()`: the client goes to `api.test` itself, whose name only the proxy knows.
    let direct = proxied(&server, &proxy.url())
        .no_proxy()
        .add_root_certificate(server.certificate_der().unwrap())
        .build()
        .unwrap();
    let error = failure(direct.list(&ListConnections::new()).await);
    assert!(matches!(error, Error::UnknownHost(_)), "{error:?}");
    assert_eq!(proxy.connections(), 0, "{:?}", proxy.connects());
}

// ---------------------------------------------------------------------------------------
// DNS

#[tokio::test]
async fn a_name_that_does_not_resolve_is_an_unknown_host_and_not_retried() {
    let capture = Capture::default();
    let _guard = tracing::subscriber::set_default(capture.clone());
    // `.invalid` never resolves (RFC 6761).
    let client = Client::builder()
        .base_url("https://api.connections.invalid/v3")
        .token(TOKEN)
        .no_proxy()
        .system_roots(false)
        .retry_policy(fast_retries(3))
        .build()
        .unwrap();
    let error = failure(client.list(&ListConnections::new()).await);
    assert!(matches!(error, Error::UnknownHost(_)), "{error:?}");
    assert!(!error.is_retryable());
    let text = error.chain().to_string();
    assert!(text.contains("api.connections.invalid"), "{text}");
    let attempts = capture
        .spans
        .lock()
        .unwrap()
        .iter()
        .filter(|(name, _)| name == "connections.request")
        .count();
    assert_eq!(attempts, 1, "an unknown host is not retried");
}

// ---------------------------------------------------------------------------------------
// TLS and HTTP/2 against the sandbox

fn sandbox(tls: bool, connections: usize) -> Sandbox {
    Sandbox::spawn(SandboxConfig {
        tls,
        connections,
        ..SandboxConfig::default()
    })
    .unwrap()
}

/// How many connections a listing without filters returns: the live ones, counted from
/// the raw records (a listing without a mode filter lists `live` only).
fn live_count(sandbox: &Sandbox) -> usize {
    let dataset = sandbox.dataset();
    dataset
        .connections()
        .iter()
        .filter(|c| c.mode == Mode::Live)
        .count()
}

fn sandbox_client(sandbox: &Sandbox, page_concurrency: usize) -> Client {
    let mut builder = Client::builder()
        .base_url(sandbox.base_url())
        .token(sandbox.token())
        .system_roots(false)
        .page_concurrency(page_concurrency)
        .retry_policy(RetryPolicy::none());
    if let Some(ca) = sandbox.ca_certificate_pem() {
        builder = builder.add_root_certificates_pem(ca.as_bytes());
    }
    builder.build().unwrap()
}

#[tokio::test]
async fn a_tls_listing_runs_over_one_http2_connection() {
    let sandbox = sandbox(true, 25);
    assert!(sandbox.base_url().starts_with("https://"));
    let client = sandbox_client(&sandbox, 1);
    let (items, error) = all_connections(&client, &pages_of_five()).await;
    assert!(error.is_none(), "{error:?}");
    let live = live_count(&sandbox);
    assert!(live > 10, "several pages");
    assert_eq!(items.len(), live);
    assert_eq!(sandbox.requests(), live.div_ceil(5) as u64);
    assert_eq!(
        sandbox.requests_over_h2(),
        live.div_ceil(5) as u64,
        "every page over HTTP/2"
    );
    assert_eq!(
        sandbox.connections_accepted(),
        1,
        "one connection for the listing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_pages_share_the_one_http2_connection() {
    let sandbox = sandbox(true, 40);
    let client = sandbox_client(&sandbox, 4);
    let (items, error) = all_connections(&client, &pages_of_five()).await;
    assert!(error.is_none(), "{error:?}");
    let live = live_count(&sandbox);
    assert!(live > 20, "more pages than the concurrency");
    assert_eq!(items.len(), live);
    assert_eq!(sandbox.requests_over_h2(), live.div_ceil(5) as u64);
    assert_eq!(sandbox.connections_accepted(), 1);
}

#[tokio::test]
async fn an_http1_listing_reuses_one_connection() {
    // The client offers h2 by ALPN and cannot be made to refuse it; the sandbox speaks
    // HTTP/1.1 only over plain HTTP (loopback), which is where keep-alive is checked.
    let sandbox = sandbox(false, 25);
    let client = sandbox_client(&sandbox, 1);
    let (items, error) = all_connections(&client, &pages_of_five()).await;
    assert!(error.is_none(), "{error:?}");
    let live = live_count(&sandbox);
    assert!(live > 10, "several pages");
    assert_eq!(items.len(), live);
    assert_eq!(sandbox.requests(), live.div_ceil(5) as u64);
    assert_eq!(sandbox.requests_over_h2(), 0);
    assert_eq!(
        sandbox.connections_accepted(),
        1,
        "keep-alive reuses the connection"
    );
}

// ---------------------------------------------------------------------------------------
// Log capture

type Fields = std::collections::BTreeMap<String, String>;

/// Records every span's name and fields, and every event's fields.
#[derive(Clone, Default)]
struct Capture {
    spans: Arc<Mutex<Vec<(String, Fields)>>>,
    events: Arc<Mutex<Vec<Fields>>>,
}

struct Into<'a>(&'a mut Fields);

impl tracing::field::Visit for Into<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
}

impl tracing::Subscriber for Capture {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, span: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        let mut fields = Fields::new();
        span.record(&mut Into(&mut fields));
        let mut spans = self.spans.lock().unwrap();
        spans.push((span.metadata().name().to_owned(), fields));
        tracing::span::Id::from_u64(spans.len() as u64)
    }
    fn record(&self, span: &tracing::span::Id, values: &tracing::span::Record<'_>) {
        let mut spans = self.spans.lock().unwrap();
        let index = usize::try_from(span.into_u64()).unwrap() - 1;
        values.record(&mut Into(&mut spans[index].1));
    }
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut fields = Fields::new();
        event.record(&mut Into(&mut fields));
        self.events.lock().unwrap().push(fields);
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}
