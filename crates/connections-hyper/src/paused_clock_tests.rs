//! Listings under tokio's paused clock, as users test async code: the machine's waits must
//! pass in virtual time, as fast as the runtime can advance it, and last exactly what the
//! server asked for. The connections are pipes to a tiny HTTP/1.1 server on the same runtime
//! (see `Connector::in_memory`), so no socket leaves the runtime idle mid-exchange, which
//! would let the paused clock leap past the request's deadline.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use connections_core::{ListConnections, RetryPolicy};
use connections_testkit::{Links, page_body};
use futures_util::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::time::Instant;

use crate::{Client, Error};

/// Real time a test may take. Without the clock following tokio's, each wait would spin
/// for its whole length in real time (a minute or more in every test).
const REAL_TIME_LIMIT: Duration = Duration::from_secs(20);

/// How far a paused clock's timer may overshoot a wait: tokio's timer rounds a deadline up
/// to its next millisecond.
const TIMER_SLACK: Duration = Duration::from_millis(2);

/// One request, as the server saw it, at its virtual time.
#[derive(Clone, Debug)]
struct Seen {
    at: Instant,
    method: String,
    target: String,
    authorization: Option<String>,
}

/// What the server answers.
struct Answer {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: String,
}

impl Answer {
    fn json(status: u16, body: String) -> Self {
        Answer {
            status,
            headers: Vec::new(),
            body,
        }
    }

    fn error(status: u16) -> Self {
        Answer::json(status, r#"{"errors":[]}"#.to_owned())
    }

    fn retry_after(mut self, secs: u64) -> Self {
        self.headers.push(("retry-after", secs.to_string()));
        self
    }
}

/// A server answering the API's requests from a script, in order, and token requests with
/// `t1`, `t2`, ... lasting `token_life` seconds.
struct Server {
    api: Mutex<VecDeque<Answer>>,
    token_life: u64,
    seen: Mutex<Vec<Seen>>,
}

impl Server {
    fn new(api: impl IntoIterator<Item = Answer>, token_life: u64) -> Arc<Self> {
        Arc::new(Server {
            api: Mutex::new(api.into_iter().collect()),
            token_life,
            seen: Mutex::new(Vec::new()),
        })
    }

    fn answer(&self, seen: Seen) -> Answer {
        let mut log = self.seen.lock().unwrap();
        log.push(seen.clone());
        if seen.method == "POST" {
            let issued = log.iter().filter(|s| s.method == "POST").count();
            let body = format!(
                r#"{{"access_token":"t{issued}","token_type":"Bearer","expires_in":{}}}"#,
                self.token_life
            );
            return Answer::json(200, body);
        }
        let next = self.api.lock().unwrap().pop_front();
        next.unwrap_or_else(|| Answer::json(418, r#"{"errors":[]}"#.to_owned()))
    }

    fn api_requests(&self) -> Vec<Seen> {
        let seen = self.seen.lock().unwrap();
        seen.iter().filter(|s| s.method == "GET").cloned().collect()
    }

    /// A client of this server over pipes, retrying 5xx after a backoff of up to 100 ms.
    fn client(self: &Arc<Self>, builder: crate::ClientBuilder) -> Client {
        let client = builder
            .base_url("http://127.0.0.1:9/v3")
            .retry_policy(
                RetryPolicy::new()
                    .with_base_delay(Duration::from_millis(100))
                    .with_max_delay(Duration::from_millis(100)),
            )
            .build()
            .unwrap();
        let server = self.clone();
        client.in_memory(Arc::new(move || {
            let (near, far) = tokio::io::duplex(64 * 1024);
            tokio::spawn(serve(far, server.clone()));
            Ok(near)
        }))
    }
}

/// Answers one HTTP/1.1 request on `io`, then closes it.
async fn serve(mut io: DuplexStream, server: Arc<Server>) {
    let mut buf = Vec::new();
    let end = loop {
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let mut chunk = [0; 4096];
        match io.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or_default().split(' ');
    let (method, target) = (
        first.next().unwrap_or_default(),
        first.next().unwrap_or_default(),
    );
    let header = |name: &str| {
        head.split("\r\n")
            .filter_map(|line| line.split_once(':'))
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim().to_owned())
    };
    let length: usize = header("content-length").map_or(0, |l| l.parse().unwrap());
    while buf.len() < end + length {
        let mut chunk = [0; 4096];
        match io.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let answer = server.answer(Seen {
        at: Instant::now(),
        method: method.to_owned(),
        target: target.to_owned(),
        authorization: header("authorization"),
    });
    let reason = http::StatusCode::from_u16(answer.status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Whatever");
    let mut reply = format!(
        "HTTP/1.1 {} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         connection: close\r\n",
        answer.status,
        answer.body.len()
    );
    for (name, value) in &answer.headers {
        reply.push_str(&format!("{name}: {value}\r\n"));
    }
    reply.push_str("\r\n");
    reply.push_str(&answer.body);
    let _ = io.write_all(reply.as_bytes()).await;
    let _ = io.shutdown().await;
}

/// Runs `test` on a current-thread runtime whose clock starts paused, failing if it takes
/// more than [`REAL_TIME_LIMIT`] of real time.
fn in_paused_time<F>(test: F) -> F::Output
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let (done, finished) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .unwrap();
        let _ = done.send(runtime.block_on(test));
    });
    match finished.recv_timeout(REAL_TIME_LIMIT) {
        Ok(output) => output,
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
            // The test panicked: its own message is the one to see.
            std::panic::resume_unwind(thread.join().unwrap_err())
        }
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => panic!(
            "still running after {REAL_TIME_LIMIT:?} of real time: the listing's waits do \
             not pass in tokio's paused time"
        ),
    }
}

/// Two pages of two connections, with a `next` link from the first.
fn page(number: usize) -> Answer {
    Answer::json(200, page_body(4, number, 2, Links::Relative, ""))
}

fn by_twos() -> ListConnections<'static> {
    ListConnections::builder().page_size(2).build().unwrap()
}

/// The waits between the requests the server saw.
fn gaps(seen: &[Seen]) -> Vec<Duration> {
    seen.windows(2).map(|w| w[1].at - w[0].at).collect()
}

/// Asserts that `gap` lasted `want`, give or take the timer's rounding.
fn assert_waited(gap: Duration, want: Duration, what: &str) {
    assert!(
        (want..=want + TIMER_SLACK).contains(&gap),
        "{what}: waited {gap:?}, not {want:?}"
    );
}

#[test]
fn retries_and_a_rate_limit_wait_exactly_their_time_in_paused_time() {
    let server = Server::new(
        [
            // Page 1: a 503 naming its wait (60 s, obeyed exactly), then the page.
            Answer::error(503).retry_after(60),
            page(1),
            // Page 2: a 429 naming none (the pacer's first pause: exactly 1 s), a 500 (the
            // policy's backoff, up to 100 ms), then the page.
            Answer::error(429),
            Answer::error(500),
            page(2),
        ],
        3600,
    );
    let (pages, elapsed) = in_paused_time({
        let server = server.clone();
        async move {
            let client = server.client(Client::builder().token("t"));
            let started = Instant::now();
            let pages: Vec<_> = client.pages(&by_twos()).collect().await;
            (pages, started.elapsed())
        }
    });
    let pages: Vec<_> = pages.into_iter().map(Result::unwrap).collect();
    assert_eq!(pages.len(), 2);
    let seen = server.api_requests();
    assert_eq!(seen.len(), 5, "{seen:#?}");
    let gaps = gaps(&seen);
    assert_waited(gaps[0], Duration::from_secs(60), "503 with Retry-After: 60");
    assert_waited(gaps[1], Duration::ZERO, "page 1 to page 2");
    assert_waited(gaps[2], Duration::from_secs(1), "429 without Retry-After");
    assert!(
        gaps[3] <= Duration::from_millis(100) + TIMER_SLACK,
        "500: waited {:?}, more than the 100 ms backoff",
        gaps[3]
    );
    // 61 s and the backoff, in all.
    let least = Duration::from_secs(61);
    assert!(
        (least..=least + Duration::from_millis(100) + 3 * TIMER_SLACK).contains(&elapsed),
        "{elapsed:?} of virtual time"
    );
}

#[test]
fn a_token_that_expires_during_a_rate_limit_wait_is_renewed_in_paused_time() {
    // Tokens last 60 s; page 2 is rate limited for 120 s, past the first token's expiry.
    let server = Server::new([page(1), Answer::error(429).retry_after(120), page(2)], 60);
    let (pages, elapsed) = in_paused_time({
        let server = server.clone();
        async move {
            let client = server.client(
                Client::builder()
                    .client_credentials("app", "secret")
                    .token_url("http://127.0.0.1:9/oauth2/token"),
            );
            let started = Instant::now();
            let pages: Vec<_> = client.pages(&by_twos()).collect().await;
            (pages, started.elapsed())
        }
    });
    assert!(pages.iter().all(Result::is_ok), "{pages:?}");
    let seen = server.seen.lock().unwrap().clone();
    let asked: Vec<_> = seen
        .iter()
        .map(|s| (s.method.as_str(), s.authorization.as_deref()))
        .collect();
    assert_eq!(
        asked,
        [
            ("POST", None),
            ("GET", Some("Bearer t1")),
            ("GET", Some("Bearer t1")),
            // 120 s on, t1 has expired in virtual time: a new token first.
            ("POST", None),
            ("GET", Some("Bearer t2")),
        ],
        "{seen:#?}"
    );
    assert!(seen[1].target.starts_with("/v3/connections"), "{seen:#?}");
    assert_waited(seen[3].at - seen[2].at, Duration::from_secs(120), "429");
    let least = Duration::from_secs(120);
    assert!(
        (least..=least + TIMER_SLACK).contains(&elapsed),
        "{elapsed:?} of virtual time"
    );
}

/// A connection the system refuses outright (a firewall: `PermissionDenied`; an address it
/// cannot use: `InvalidInput`) fails the same on every attempt: a `Request` error, after
/// exactly one attempt, where a refused connection is retried.
#[test]
fn a_connection_the_system_refuses_is_a_request_error_tried_once() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    for kind in [
        std::io::ErrorKind::PermissionDenied,
        std::io::ErrorKind::InvalidInput,
    ] {
        let dials = Arc::new(AtomicUsize::new(0));
        let error = in_paused_time({
            let dials = dials.clone();
            async move {
                let client = Client::builder()
                    .token("t")
                    .base_url("http://127.0.0.1:9/v3")
                    .retry_policy(RetryPolicy::new().with_base_delay(Duration::from_millis(100)))
                    .build()
                    .unwrap()
                    .in_memory(Arc::new(move || {
                        dials.fetch_add(1, Ordering::SeqCst);
                        Err(std::io::Error::from(kind))
                    }));
                client.list(&by_twos()).await.unwrap_err()
            }
        });
        assert!(matches!(error, Error::Request(_)), "{kind:?}: {error:?}");
        assert!(!error.is_retryable());
        assert_eq!(dials.load(Ordering::SeqCst), 1, "{kind:?}: one attempt");
        let chain = error.chain().to_string();
        assert!(
            chain.contains(&std::io::Error::from(kind).to_string()),
            "{chain}"
        );
    }
}
