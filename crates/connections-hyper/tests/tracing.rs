//! One `connections.request` span per attempt, with the promised fields and never the token.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use common::*;
use connections_hyper::ListConnections;
use connections_testkit::{Reply, TestServer};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

type Fields = BTreeMap<String, String>;

/// Records every span's name and fields, and every event's fields.
#[derive(Clone, Default)]
struct Capture {
    spans: Arc<Mutex<Vec<(String, Fields)>>>,
    events: Arc<Mutex<Vec<Fields>>>,
}

struct Into<'a>(&'a mut Fields);

impl Visit for Into<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

impl Subscriber for Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let mut fields = Fields::new();
        span.record(&mut Into(&mut fields));
        let mut spans = self.spans.lock().unwrap();
        spans.push((span.metadata().name().to_owned(), fields));
        Id::from_u64(spans.len() as u64)
    }
    fn record(&self, span: &Id, values: &Record<'_>) {
        let mut spans = self.spans.lock().unwrap();
        let index = usize::try_from(span.into_u64()).unwrap() - 1;
        values.record(&mut Into(&mut spans[index].1));
    }
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut fields = Fields::new();
        event.record(&mut Into(&mut fields));
        self.events.lock().unwrap().push(fields);
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

#[tokio::test]
async fn each_attempt_has_a_span_with_its_outcome_and_no_token() {
    let calls = Arc::new(AtomicU32::new(0));
    let seen = calls.clone();
    let server = TestServer::start(move |_| {
        let reply = if seen.fetch_add(1, Ordering::SeqCst) == 0 {
            Reply::json(503, r#"{"errors":[]}"#)
        } else {
            Reply::json(200, page_with(&["c1"], "null"))
        };
        reply.header(
            "sc-request-id",
            &format!("rid-{}", calls.load(Ordering::SeqCst)),
        )
    });
    let capture = Capture::default();
    // The default (current-thread) test runtime polls everything on this thread.
    let _guard = tracing::subscriber::set_default(capture.clone());
    let request = ListConnections::builder().page_number(2).build().unwrap();
    client(&server).list(&request).await.unwrap();

    let spans: Vec<Fields> = capture
        .spans
        .lock()
        .unwrap()
        .iter()
        .filter(|(name, _)| name == "connections.request")
        .map(|(_, fields)| fields.clone())
        .collect();
    assert_eq!(spans.len(), 2, "{spans:#?}");
    for (n, (span, status)) in spans.iter().zip(["503", "200"]).enumerate() {
        assert_eq!(span["method"], "GET");
        assert_eq!(span["path"], "/v3/connections");
        assert_eq!(span["page"], "2");
        assert_eq!(span["attempt"], (n + 1).to_string());
        assert_eq!(span["status"], status);
        assert_eq!(span["request_id"], format!("rid-{}", n + 1));
        assert!(span["elapsed_ms"].parse::<u64>().is_ok(), "{span:?}");
    }
    let events = capture.events.lock().unwrap();
    assert!(
        events.iter().any(|e| e.values().any(|v| v.contains("503"))),
        "the failed attempt is logged: {events:#?}"
    );
    let everything = format!("{:?} {:?}", capture.spans.lock().unwrap(), *events);
    assert!(!everything.contains(TOKEN) && !everything.contains("5ecret"));
}
