//! Application tokens (OAuth 2.0 client credentials) against one loopback server playing both
//! the token endpoint (`/oauth2/token`) and the API (`/v3/connections`): one fetch however
//! many requests need a token, one refetch per refused token, renewal ahead of expiry that
//! holds nothing up, token endpoint failures, and neither the secret nor any issued token in
//! errors, `Debug` output or logs.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex, OnceLock, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use connections_blocking::{
    AccessToken, BoxError, Client, ClientBuilder, Error, ListConnections, TokenError, TokenSource,
};
use connections_testkit::{Links, Recorded, Reply, TestServer, page_body};

use crate::common::{error_body, fast_retries};
use crate::tracing_spans::capture_all;

const CLIENT_ID: &str = "app-client-id-1";
/// A secret distinctive enough that finding it (or its middle) anywhere is a leak.
const SECRET: &str = "sec-4b5a69788796.CLIENT_secret~value";
/// Every issued token starts with this, then `-{n}` for the n-th token request (from 0).
const ISSUED: &str = "iss-1f2e3d4c5b6a.ISSUED_token";

/// The token the n-th token request (from 0) issues.
fn issued(n: usize) -> String {
    format!("{ISSUED}-{n}")
}

/// How far each [`paused`] clock has been moved, in milliseconds.
static ADVANCED_MS: [AtomicU64; 2] = [const { AtomicU64::new(0) }; 2];

/// Clock number `N`: it stands still unless its test moves it ([`advance`]), so that token
/// lifetimes pass exactly as the test says however loaded the machine is. One test per clock.
fn paused<const N: usize>() -> Instant {
    static BASE: OnceLock<Instant> = OnceLock::new();
    *BASE.get_or_init(Instant::now) + Duration::from_millis(ADVANCED_MS[N].load(Ordering::SeqCst))
}

/// Moves clock `N` on by `ms`.
fn advance<const N: usize>(ms: u64) {
    ADVANCED_MS[N].fetch_add(ms, Ordering::SeqCst);
}

/// A token endpoint's answer issuing `issued(n)`.
fn token_reply(n: usize, expires_in: u64) -> Reply {
    Reply::json(
        200,
        format!(
            r#"{{"access_token":"{}","token_type":"Bearer","expires_in":{expires_in},"scope":"read_connections"}}"#,
            issued(n)
        ),
    )
}

/// The API's answer to an unknown or expired token.
fn refused() -> Reply {
    Reply::json(401, error_body(401, "AUTHENTICATION", "INVALID_TOKEN"))
}

/// The requested page (1 without `page[number]`).
fn page_of(r: &Recorded) -> usize {
    r.param("page[number]")
        .and_then(|n| n.parse().ok())
        .unwrap_or(1)
}

/// The requested page of a listing of `total` connections, announcing its total so pages
/// are read ahead.
fn ok_page(total: usize, r: &Recorded) -> Reply {
    let size = r
        .param("page[size]")
        .and_then(|n| n.parse().ok())
        .unwrap_or(10);
    let number = page_of(r);
    Reply::json(200, page_body(total, number, size, Links::Relative, ""))
        .header("sc-request-id", &format!("req-{number}"))
}

fn expected(total: usize) -> Vec<String> {
    (0..total).map(|i| format!("conn-{i}")).collect()
}

fn ids(client: &Client, request: &ListConnections<'_>) -> Vec<String> {
    client
        .connections(request)
        .map(|c| c.unwrap().id.unwrap())
        .collect()
}

/// Asserts that `text` holds neither the secret nor an issued token, nor a part of either.
fn assert_clean(text: &str) {
    for secret in [SECRET, "4b5a69788796", ISSUED, "1f2e3d4c5b6a"] {
        assert!(!text.contains(secret), "{secret:?} leaked into {text:?}");
    }
}

/// Checks `{}` and `{:?}` of `error` and of every error in its chain, and hands it back.
fn clean(error: Error) -> Error {
    assert_clean(&error.chain().to_string());
    assert_clean(&format!("{error:?}"));
    let mut source = std::error::Error::source(&error);
    while let Some(inner) = source {
        assert_clean(&inner.to_string());
        assert_clean(&format!("{inner:?}"));
        source = inner.source();
    }
    error
}

/// One loopback server for both the token endpoint and the API, counting the requests of
/// each and logging which page each API request asked for with which token.
struct Fake {
    server: TestServer,
    token_requests: Arc<AtomicUsize>,
    api_requests: Arc<AtomicUsize>,
    api_log: Arc<Mutex<Vec<(usize, String)>>>,
    /// Token requests that were not a well-formed form POST.
    malformed: Arc<AtomicUsize>,
}

impl Fake {
    /// `token(n)` answers the n-th token request (from 0); `api(request, token)` answers API
    /// requests, given the bearer token they carry.
    fn start(
        token: impl Fn(usize) -> Reply + Send + Sync + 'static,
        api: impl Fn(&Recorded, &str) -> Reply + Send + Sync + 'static,
    ) -> Self {
        let token_requests = Arc::new(AtomicUsize::new(0));
        let api_requests = Arc::new(AtomicUsize::new(0));
        let api_log = Arc::new(Mutex::new(Vec::new()));
        let malformed = Arc::new(AtomicUsize::new(0));
        let server = {
            let (tokens, apis, log, malformed) = (
                token_requests.clone(),
                api_requests.clone(),
                api_log.clone(),
                malformed.clone(),
            );
            TestServer::start(move |r| match r.path() {
                "/oauth2/token" => {
                    let form = r.method == "POST"
                        && r.header("content-type") == Some("application/x-www-form-urlencoded")
                        && r.header("accept") == Some("application/json")
                        && r.header("authorization").is_none()
                        && r.header("content-length").is_some_and(|n| n != "0")
                        && r.target == "/oauth2/token";
                    if !form {
                        malformed.fetch_add(1, Ordering::SeqCst);
                    }
                    token(tokens.fetch_add(1, Ordering::SeqCst))
                }
                "/v3/connections" => {
                    apis.fetch_add(1, Ordering::SeqCst);
                    let bearer = r
                        .header("authorization")
                        .and_then(|v| v.strip_prefix("Bearer "))
                        .unwrap_or("")
                        .to_owned();
                    log.lock().unwrap().push((page_of(r), bearer.clone()));
                    api(r, &bearer)
                }
                _ => Reply::status(404),
            })
        };
        Fake {
            server,
            token_requests,
            api_requests,
            api_log,
            malformed,
        }
    }

    fn tokens(&self) -> usize {
        self.token_requests.load(Ordering::SeqCst)
    }

    fn api(&self) -> usize {
        self.api_requests.load(Ordering::SeqCst)
    }

    /// `(page, token)` of every API request, in order of arrival.
    fn api_log(&self) -> Vec<(usize, String)> {
        self.api_log.lock().unwrap().clone()
    }

    /// A client with client credentials aimed at this server, short timeouts, fast retries.
    fn builder(&self) -> ClientBuilder {
        Client::builder()
            .base_url(&self.server.base_url())
            .client_credentials(CLIENT_ID, SECRET)
            .token_url(&format!("{}/oauth2/token", self.server.origin()))
            .connect_timeout(Duration::from_secs(2))
            .request_timeout(Duration::from_secs(2))
            .retry_policy(fast_retries(3))
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        if !thread::panicking() {
            assert_eq!(
                self.malformed.load(Ordering::SeqCst),
                0,
                "a token request was not a form POST"
            );
        }
    }
}

#[test]
fn one_token_request_serves_a_listing_read_ahead_on_eight_threads() {
    let fake = Fake::start(
        |n| token_reply(n, 3600).delay(Duration::from_millis(100)),
        |r, token| {
            if token == issued(0) {
                ok_page(60, r).delay(Duration::from_millis(20))
            } else {
                refused()
            }
        },
    );
    let client = fake.builder().page_concurrency(8).build().unwrap();
    let request = ListConnections::builder().page_size(5).build().unwrap();
    assert_eq!(ids(&client, &request), expected(60));
    assert_eq!(fake.tokens(), 1, "one token for the whole listing");
    assert_eq!(fake.api(), 12, "one request per page");
    let log = fake.api_log();
    assert!(log.iter().all(|(_, t)| *t == issued(0)), "{log:?}");

    // A second listing on a clone reuses the cached token.
    assert_eq!(ids(&client.clone(), &request), expected(60));
    assert_eq!(fake.tokens(), 1);
}

#[test]
fn requests_on_a_cold_cache_wait_for_one_fetch() {
    let fake = Fake::start(
        |n| token_reply(n, 3600).delay(Duration::from_millis(300)),
        |r, token| {
            if token == issued(0) {
                ok_page(3, r)
            } else {
                refused()
            }
        },
    );
    let client = fake.builder().build().unwrap();
    let start = Arc::new(Barrier::new(8));
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let (client, start) = (client.clone(), start.clone());
            thread::spawn(move || {
                start.wait();
                client
                    .list(&ListConnections::new())
                    .map(|listed| listed.value.connections().len())
            })
        })
        .collect();
    for thread in threads {
        assert_eq!(thread.join().unwrap().map_err(clean).unwrap(), 3);
    }
    assert_eq!(fake.tokens(), 1, "eight requests, one token request");
    assert_eq!(fake.api(), 8);
}

#[test]
fn a_token_refused_mid_listing_is_fetched_again_once() {
    // The first token works for page 1 only: every read-ahead page sent with it is refused.
    let fake = Fake::start(
        |n| token_reply(n, 3600).delay(Duration::from_millis(50)),
        |r, token| {
            if token == issued(1) || (token == issued(0) && page_of(r) == 1) {
                ok_page(50, r).delay(Duration::from_millis(30))
            } else {
                refused()
            }
        },
    );
    let client = fake.builder().page_concurrency(8).build().unwrap();
    let request = ListConnections::builder().page_size(5).build().unwrap();
    assert_eq!(ids(&client, &request), expected(50));
    assert_eq!(fake.tokens(), 2, "one refetch for all the requests refused");
    let log = fake.api_log();
    let refusals = log
        .iter()
        .filter(|(page, t)| *page > 1 && *t == issued(0))
        .count();
    assert!(refusals >= 1, "no request was refused: {log:?}");
    assert_eq!(
        fake.api(),
        10 + refusals,
        "each refused request sent once more"
    );
    for page in 1..=10 {
        let sent: Vec<_> = log.iter().filter(|(p, _)| *p == page).collect();
        match sent.as_slice() {
            [(_, t)] => assert!(page == 1 && *t == issued(0) || *t == issued(1), "{log:?}"),
            [(_, first), (_, second)] => {
                assert!(
                    page > 1 && *first == issued(0) && *second == issued(1),
                    "{log:?}"
                )
            }
            _ => panic!("page {page} sent {} times: {log:?}", sent.len()),
        }
    }
}

#[test]
fn a_token_expiring_mid_listing_is_renewed_once_per_expiry() {
    // Tokens announced for 1 s that the API refuses after 0.8 s (a clock skew, a revocation):
    // each meets a 401 before the client would renew it. Seven pages of 300 ms each on the
    // paused clock, one at a time, take over two seconds, so two or three tokens are needed.
    let issued_at = Arc::new(Mutex::new(Vec::new()));
    let refusals = Arc::new(Mutex::new(Vec::new()));
    let fake = {
        let (issue, check, refused_log) = (issued_at.clone(), issued_at.clone(), refusals.clone());
        Fake::start(
            move |n| {
                issue.lock().unwrap().push(paused::<1>());
                token_reply(n, 1)
            },
            move |r, token| {
                let n: Option<usize> = token
                    .strip_prefix(ISSUED)
                    .and_then(|n| n.strip_prefix('-')?.parse().ok());
                let alive = n.and_then(|n| check.lock().unwrap().get(n).copied());
                match alive {
                    Some(at) if paused::<1>() - at < Duration::from_millis(800) => {
                        advance::<1>(300);
                        ok_page(35, r)
                    }
                    _ => {
                        refused_log.lock().unwrap().push(page_of(r));
                        refused()
                    }
                }
            },
        )
    };
    let client = fake.builder().clock_source(paused::<1>).build().unwrap();
    let request = ListConnections::builder().page_size(5).build().unwrap();
    assert_eq!(ids(&client, &request), expected(35));

    let log = fake.api_log();
    let used: Vec<(usize, usize)> = log
        .iter()
        .map(|(page, t)| (*page, t.rsplit('-').next().unwrap().parse().unwrap()))
        .collect();
    let refusals = refusals.lock().unwrap().clone();
    let tokens = fake.tokens();
    assert!(
        !refusals.is_empty(),
        "no token outlived the API's patience: {used:?}"
    );
    assert!(
        tokens <= 4,
        "{tokens} token requests in about 2 seconds: {used:?}"
    );
    // Tokens are used in the order they were issued, none skipped (no fetch was wasted),
    // and a refused token is never sent again. A renewal started by the last page may be
    // left unused.
    assert_eq!(used.first().map(|u| u.1), Some(0), "{used:?}");
    assert!(
        used.windows(2)
            .all(|w| w[1].1 == w[0].1 || w[1].1 == w[0].1 + 1),
        "{used:?}"
    );
    let last = used.last().unwrap().1;
    assert!(
        tokens == last + 1 || tokens == last + 2,
        "{tokens} tokens, used {used:?}"
    );
    // Each refusal: the page is sent once more, with the very next token, and not again.
    for (i, w) in used.windows(2).enumerate() {
        let ((page, token), (next_page, next_token)) = (w[0], w[1]);
        if page == next_page {
            assert_eq!(
                next_token,
                token + 1,
                "resent without one new token: {used:?}"
            );
            assert!(
                used.get(i + 2).is_none_or(|u| u.0 != page),
                "page {page} sent three times: {used:?}"
            );
        }
    }
    assert_eq!(
        log.len(),
        7 + refusals.len(),
        "one resend per refusal: {used:?}"
    );
}

#[test]
fn a_401_with_the_fresh_token_is_final() {
    let fake = Fake::start(|n| token_reply(n, 3600), |_, _| refused());
    let client = fake.builder().build().unwrap();
    let mut items = client.connections(&ListConnections::new());
    let error = clean(items.next().unwrap().unwrap_err());
    let Error::Api(api) = &error else {
        panic!("{error:?}")
    };
    assert_eq!(api.status, 401);
    assert!(items.next().is_none(), "the listing ends");
    assert_eq!(
        fake.api(),
        2,
        "sent once more with a fresh token, then given up"
    );
    assert_eq!(fake.api_log(), [(1, issued(0)), (1, issued(1))]);
    assert_eq!(fake.tokens(), 2);
}

#[test]
fn a_refused_secret_ends_the_listing_before_any_api_request() {
    let fake = Fake::start(
        |_| {
            Reply::json(
                401,
                r#"{"error":"invalid_client","error_description":"Client authentication failed"}"#,
            )
        },
        |r, _| ok_page(3, r),
    );
    let client = fake.builder().build().unwrap();
    let error = clean(client.list(&ListConnections::new()).unwrap_err());
    let Error::TokenEndpoint(TokenError::OAuth(oauth)) = &error else {
        panic!("{error:?}")
    };
    assert_eq!(
        (oauth.status, oauth.error.as_str()),
        (401, "invalid_client")
    );
    assert_eq!(
        oauth.description.as_deref(),
        Some("Client authentication failed")
    );
    let text = error.chain().to_string();
    for part in [
        "invalid_client",
        "Client authentication failed",
        "client id and client secret",
    ] {
        assert!(text.contains(part), "{part:?} missing from {text:?}");
    }
    assert!(!error.is_retryable());
    assert_eq!(fake.tokens(), 1, "a refusal is never retried");
    assert_eq!(fake.api(), 0, "no API request without a token");

    // A listing yields the error once, then ends.
    let mut items = client.connections(&ListConnections::new());
    let error = clean(items.next().unwrap().unwrap_err());
    assert!(
        matches!(error, Error::TokenEndpoint(TokenError::OAuth(_))),
        "{error:?}"
    );
    assert!(items.next().is_none());
    assert_eq!(fake.tokens(), 2, "a failed fetch is not cached");
    assert_eq!(fake.api(), 0);
}

#[test]
fn a_token_endpoint_failure_is_retried() {
    let fake = Fake::start(
        |n| {
            if n == 0 {
                Reply::json(500, r#"{"error":"server_error"}"#)
            } else {
                token_reply(n, 3600)
            }
        },
        |r, token| {
            if token == issued(1) {
                ok_page(12, r)
            } else {
                refused()
            }
        },
    );
    let client = fake.builder().build().unwrap();
    let request = ListConnections::builder().page_size(5).build().unwrap();
    let lines = capture_all(|| assert_eq!(ids(&client, &request), expected(12)));
    assert_eq!(fake.tokens(), 2, "retried once");
    assert_eq!(fake.api(), 3, "three pages, none refused");
    // The fetch retried itself: the listing saw one attempt per page.
    let text = lines.join("\n");
    assert!(text.contains("attempts=2"), "{text}");
    assert!(text.contains("token request failed, retrying"), "{text}");
    assert!(!text.contains("attempt=2"), "{text}");
}

#[test]
fn a_token_endpoint_that_keeps_failing_ends_the_listing() {
    let fake = Fake::start(
        |_| {
            Reply::status(503)
                .header("content-type", "text/html")
                .body("<html>down for maintenance</html>")
        },
        |r, _| ok_page(3, r),
    );
    let client = fake
        .builder()
        .retry_policy(fast_retries(2))
        .build()
        .unwrap();
    let error = clean(client.list(&ListConnections::new()).unwrap_err());
    let Error::TokenEndpoint(TokenError::Response(response)) = &error else {
        panic!("{error:?}")
    };
    assert_eq!(response.status(), 503);
    assert!(!error.is_retryable(), "retried already while fetching");
    assert_eq!(fake.api(), 0);
    // The token fetch makes its two attempts; the listing does not multiply them.
    assert_eq!(fake.tokens(), 2);
}

#[test]
fn renewal_ahead_of_expiry_holds_no_request_up() {
    // On the paused clock, the first token lasts 6 s, so it is due for renewal from 5.1 to
    // 5.4 s on (the last tenth, plus up to half that again); the renewal is held by the
    // endpoint until the test releases it.
    let release = Arc::new(AtomicBool::new(false));
    let fake = {
        let release = release.clone();
        Fake::start(
            move |n| {
                if n == 0 {
                    return token_reply(n, 6);
                }
                let held = Instant::now();
                while !release.load(Ordering::SeqCst) && held.elapsed() < Duration::from_secs(60) {
                    thread::sleep(Duration::from_millis(5));
                }
                token_reply(n, 3600)
            },
            |r, token| {
                if token == issued(0) || token == issued(1) {
                    ok_page(3, r)
                } else {
                    refused()
                }
            },
        )
    };
    // The held renewal must outlast the test's slowest step, however loaded the machine.
    let client = fake
        .builder()
        .request_timeout(Duration::from_secs(60))
        .clock_source(paused::<0>)
        .build()
        .unwrap();
    let lines = capture_all(|| {
        client.list(&ListConnections::new()).unwrap();
        advance::<0>(5_450);

        // Requests in the renewal window go on with the old token while one renewal runs;
        // a request that waited for it would wait for the release, which comes after.
        let (done, finished) = mpsc::channel();
        let worker = {
            let client = client.clone();
            let dispatch = tracing::dispatcher::get_default(Clone::clone);
            thread::spawn(move || {
                tracing::dispatcher::with_default(&dispatch, || {
                    for _ in 0..4 {
                        let listed = client.list(&ListConnections::new()).map_err(clean);
                        let _ = done.send(listed.map(|l| l.status));
                    }
                })
            })
        };
        for _ in 0..4 {
            let status = finished
                .recv_timeout(Duration::from_secs(20))
                .expect("a request waited for the renewal");
            assert_eq!(status.unwrap(), 200);
        }
        worker.join().unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while fake.tokens() < 2 && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(fake.tokens(), 2, "one renewal for all the requests");
        assert!(
            fake.api_log()[1..]
                .iter()
                .all(|(_, token)| *token == issued(0)),
            "the old token until the renewal ends: {:?}",
            fake.api_log()
        );

        // Once released, the renewed token is used.
        release.store(true, Ordering::SeqCst);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            client.list(&ListConnections::new()).map_err(clean).unwrap();
            if fake.api_log().last().unwrap().1 == issued(1) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the renewed token was never used"
            );
            thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(fake.tokens(), 2);
    });
    for line in &lines {
        assert_clean(line);
    }
    let fetched = lines
        .iter()
        .filter(|l| l.contains("fetched an application token"))
        .count();
    assert_eq!(
        fetched, 2,
        "the renewal logs to the caller's subscriber: {lines:#?}"
    );
}

#[test]
fn neither_the_secret_nor_a_token_shows_anywhere() {
    // A token endpoint failure, a token the API refuses, a refetch, read-ahead pages.
    let fake = Fake::start(
        |n| {
            if n == 0 {
                Reply::json(503, r#"{"error":"temporarily_unavailable"}"#)
            } else {
                token_reply(n, 3600)
            }
        },
        |r, token| {
            if token == issued(2) || (token == issued(1) && page_of(r) == 1) {
                ok_page(20, r)
            } else {
                refused()
            }
        },
    );
    let builder = fake.builder().page_concurrency(2);
    assert_clean(&format!("{builder:?}"));
    let client = builder.build().unwrap();
    assert_clean(&format!("{client:?} {:?}", client.config()));
    let request = ListConnections::builder().page_size(5).build().unwrap();
    let lines = capture_all(|| assert_eq!(ids(&client, &request), expected(20)));
    let text = lines.join("\n");
    assert_clean(&text);
    assert_eq!(fake.tokens(), 3);
    for expected in [
        "connections.token",
        "endpoint=",
        "attempts=2",
        "status=200",
        "expires_in=3600",
        "refused the application token",
        "status=401",
    ] {
        assert!(text.contains(expected), "{expected:?} missing from\n{text}");
    }

    // A refusal, its error and its logs.
    let refusing = Fake::start(
        |_| Reply::json(401, r#"{"error":"invalid_client"}"#),
        |r, _| ok_page(1, r),
    );
    let client = refusing.builder().build().unwrap();
    let mut error = None;
    let lines = capture_all(|| error = client.list(&ListConnections::new()).err());
    let error = clean(error.unwrap());
    assert!(
        error.chain().to_string().contains("client secret"),
        "{error}"
    );
    assert_clean(&lines.join("\n"));
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("event WARN") && l.contains("token fetch failed")),
        "{lines:#?}"
    );
}

#[test]
fn a_token_source_is_asked_and_its_failure_is_a_token_error() {
    let server = TestServer::start(|r| ok_page(3, r));
    let asked = Arc::new(AtomicUsize::new(0));
    let counter = asked.clone();
    let source = move || -> Result<AccessToken<'static>, BoxError> {
        counter.fetch_add(1, Ordering::SeqCst);
        Err("the vault is sealed".into())
    };
    let source: Arc<dyn TokenSource> = Arc::new(source);
    let client = crate::common::builder(&server)
        .token_source(source)
        .build()
        .unwrap();
    let error = clean(client.list(&ListConnections::new()).unwrap_err());
    assert!(matches!(error, Error::TokenSource(_)), "{error:?}");
    let chain = error.chain().to_string();
    assert!(chain.contains("the vault is sealed"), "{chain}");
    assert_eq!(asked.load(Ordering::SeqCst), 1, "not retried");
    assert!(server.requests().is_empty());
}

#[test]
fn a_token_in_another_format_is_refused_without_showing_it() {
    let answers = [
        (
            "application/x-www-form-urlencoded",
            format!(
                "access_token={}&token_type=bearer&expires_in=3600",
                issued(0)
            ),
        ),
        ("text/plain", issued(0)),
    ];
    for (content_type, body) in answers {
        let fake = Fake::start(
            move |_| {
                Reply::status(200)
                    .header("content-type", content_type)
                    .body(body.clone())
            },
            |r, _| ok_page(1, r),
        );
        let client = fake.builder().build().unwrap();
        let mut error = None;
        let lines = capture_all(|| error = client.list(&ListConnections::new()).err());
        let error = clean(error.unwrap());
        let Error::TokenEndpoint(TokenError::Response(response)) = &error else {
            panic!("{error:?}")
        };
        assert_eq!(response.status(), 200);
        assert!(error.chain().to_string().contains(content_type), "{error}");
        assert_clean(&lines.join("\n"));
        assert_eq!((fake.tokens(), fake.api()), (1, 0), "not retried");
    }
}

#[test]
fn fetch_application_token_retries_the_endpoint_and_caches_nothing() {
    let fake = Fake::start(
        |n| {
            if n == 0 {
                Reply::json(503, r#"{"error":"temporarily_unavailable"}"#.to_owned())
            } else {
                token_reply(n, 3600)
            }
        },
        |r, token| {
            if token == issued(2) {
                ok_page(3, r)
            } else {
                refused()
            }
        },
    );
    let client = fake.builder().build().unwrap();
    let fresh = client.fetch_application_token().unwrap();
    assert_eq!(
        fresh.access_token.expose_secret(),
        issued(1),
        "after one 503"
    );
    assert_eq!(fresh.expires_in, Some(Duration::from_secs(3600)));
    assert_eq!((fake.tokens(), fake.api()), (2, 0));
    // Not cached: the listing fetches its own token.
    let request = ListConnections::builder().build().unwrap();
    assert_eq!(ids(&client, &request), expected(3));
    assert_eq!(fake.tokens(), 3);

    let fixed = Client::builder().token("t").build().unwrap();
    assert!(matches!(
        fixed.fetch_application_token(),
        Err(Error::TokenRequest(_))
    ));
}
