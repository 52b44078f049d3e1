//! One `connections.request` span per attempt, with the fields the brief names, and never
//! the token in any span or event.

use std::fmt::{self, Write as _};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use connections_blocking::{ListConnections, RetryPolicy};
use connections_testkit::{Links, Reply, TestServer, listing};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::NoSubscriber;
use tracing::{Dispatch, Event, Metadata, Subscriber};

use crate::common::{TOKEN, builder};

/// Writes every span, field record and event as a line of text.
#[derive(Default)]
struct Capture {
    lines: Arc<Mutex<Vec<String>>>,
    next_id: AtomicU64,
}

struct Line<'a>(&'a mut String);

impl Visit for Line<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let _ = write!(self.0, " {}={:?}", field.name(), value);
    }
}

impl Subscriber for Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let id = self.next_id.fetch_add(1, Ordering::SeqCst) + 1;
        let mut line = format!("span#{id} {}", span.metadata().name());
        span.record(&mut Line(&mut line));
        self.lines.lock().unwrap().push(line);
        Id::from_u64(id)
    }

    fn record(&self, span: &Id, values: &Record<'_>) {
        let mut line = format!("record#{}", span.into_u64());
        values.record(&mut Line(&mut line));
        self.lines.lock().unwrap().push(line);
    }

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut line = format!("event {}", event.metadata().level());
        event.record(&mut Line(&mut line));
        self.lines.lock().unwrap().push(line);
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}

/// Runs `f` with a subscriber capturing everything, down to `TRACE`, on this thread (and on
/// the threads the client starts, which inherit it), and returns what it wrote.
pub(crate) fn capture_all(f: impl FnOnce()) -> Vec<String> {
    // tracing caches each callsite's interest. While only one dispatcher is registered, a
    // callsite first hit on a thread without a subscriber (another test) is cached as
    // "never", and a capture alive at the time would miss its events. A second dispatcher,
    // registered for good, makes tracing ask every live dispatcher instead.
    static PINNED: OnceLock<Dispatch> = OnceLock::new();
    PINNED.get_or_init(|| Dispatch::new(NoSubscriber::default()));
    let capture = Capture::default();
    let lines = capture.lines.clone();
    tracing::subscriber::with_default(capture, f);
    lines.lock().unwrap().clone()
}

/// [`capture_all`], checked for the token.
fn captured(f: impl FnOnce()) -> Vec<String> {
    let lines = capture_all(f);
    for line in &lines {
        assert!(!line.contains(TOKEN), "the token leaked into {line:?}");
    }
    lines
}

#[test]
fn each_attempt_has_a_span_with_its_fields() {
    let ok = listing(25, Links::Relative, String::new());
    let failed = Arc::new(Mutex::new(false));
    let server = TestServer::start(move |r| {
        let mut failed = failed.lock().unwrap();
        if r.param("page[number]").as_deref() == Some("2") && !*failed {
            *failed = true;
            return Reply::json(503, "{}").header("sc-request-id", "req-503");
        }
        ok(r)
    });
    let client = builder(&server).build().unwrap();
    let request = ListConnections::builder().page_size(10).build().unwrap();
    let lines = captured(|| {
        assert_eq!(client.connections(&request).count(), 25);
    });
    let text = lines.join("\n");
    let spans: Vec<_> = lines
        .iter()
        .filter(|l| l.contains(" connections.request"))
        .collect();
    assert_eq!(spans.len(), 4, "{text}");
    for span in &spans {
        assert!(span.contains(r#"method="GET""#), "{span}");
        assert!(span.contains("path=/v3/connections"), "{span}");
    }
    assert!(spans[0].contains("page=1 attempt=1"), "{text}");
    assert!(spans[1].contains("page=2 attempt=1"), "{text}");
    assert!(spans[2].contains("page=2 attempt=2"), "{text}");
    assert!(spans[3].contains("page=3 attempt=1"), "{text}");
    for field in [
        "status=503",
        r#"request_id="req-503""#,
        "status=200",
        r#"request_id="req-3""#,
        "elapsed_ms=",
    ] {
        assert!(text.contains(field), "{field} missing from\n{text}");
    }
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("event INFO") && l.contains("HTTP 503 on attempt 1, waiting")),
        "{text}"
    );
}

#[test]
fn failures_are_logged_without_the_token() {
    let server =
        TestServer::start(|_| Reply::status(302).header("location", "https://elsewhere.example/"));
    let client = builder(&server)
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    let mut error = None;
    let lines = captured(|| {
        error = client.list(&ListConnections::new()).err();
    });
    let error = error.expect("a redirect is an error").to_string();
    assert!(error.contains("elsewhere.example"), "{error}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("event INFO") && l.contains("status=302")),
        "{lines:?}"
    );
}
