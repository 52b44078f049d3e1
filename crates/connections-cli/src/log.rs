//! What the client's tracing looks like on stderr: one readable line per request, retry and
//! wait at `-v`; headers and token fetches too at `-vv`; warnings always. No span noise: the
//! line of a request takes the method, URL and attempt from its `connections.request` span.
//!
//! ```text
//! GET https://vehicle.api.smartcar.com/v3/connections?page%5Bsize%5D=100 -> 200 in 143 ms, attempt 1, sc-request-id 5d3f…
//! page 2: rate limited (429) on attempt 1, waiting 12.0 s
//! ```
//!
//! Everything printed has its control characters made visible, since much of it (error
//! details, header values) comes from the server.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

use crate::screen::Console;
use crate::text::escape_controls;

/// The fields of a span or an event, as text.
#[derive(Clone, Debug, Default)]
struct Fields {
    message: Option<String>,
    values: Vec<(&'static str, String)>,
}

impl Fields {
    fn get(&self, name: &str) -> Option<&str> {
        self.values
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Stores a value with its control characters made visible; a header list keeps the
    /// newlines between its headers.
    fn set(&mut self, name: &'static str, value: String) {
        let value = match escape_controls(&value, name == "headers") {
            std::borrow::Cow::Borrowed(_) => value,
            std::borrow::Cow::Owned(escaped) => escaped,
        };
        if name == "message" {
            self.message = Some(value);
        } else if let Some(slot) = self.values.iter_mut().find(|(n, _)| *n == name) {
            slot.1 = value;
        } else {
            self.values.push((name, value));
        }
    }
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.set(field.name(), value.to_owned());
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.set(field.name(), value.to_string());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.set(field.name(), format!("{value:?}"));
    }
}

/// What the layer keeps of the client's own spans.
struct SpanData {
    name: &'static str,
    fields: Fields,
}

/// The `tracing` layer of the command: filters by verbosity, prints through the [`Console`],
/// and feeds retry waits and answers to its progress display.
pub(crate) struct Layer {
    verbosity: u8,
    /// The most verbose level of the client's own events that is looked at.
    max: Level,
    console: Arc<Console>,
}

impl Layer {
    /// `progress`: whether a progress display may be shown, which needs the client's `info`
    /// events (retries and answers) even when they are not printed.
    pub(crate) fn new(verbosity: u8, progress: bool, console: Arc<Console>) -> Self {
        let max = match verbosity {
            0 if !progress => Level::WARN,
            0 | 1 => Level::INFO,
            _ => Level::DEBUG,
        };
        Layer {
            verbosity,
            max,
            console,
        }
    }

    /// The line an event prints, if any at this verbosity, after telling the progress
    /// display about waits and answers.
    fn render(
        &self,
        level: Level,
        event: &Fields,
        span: Option<(&str, &Fields)>,
    ) -> Option<String> {
        let verbose = self.verbosity;
        let message = event.message.as_deref().unwrap_or_default();
        let (span_name, span) = match span {
            Some((name, fields)) => (name, Some(fields)),
            None => ("", None),
        };
        let from_span = |name: &str| span.and_then(|s| s.get(name)).unwrap_or("?");
        let request = || format!("{} {}", from_span("method"), from_span("url"));
        // A wait for the pace (the learned one or the budget): shown, never logged at -v,
        // since a long listing waits before nearly every page.
        if let Some(wait) = event.get("paced_ms").and_then(|w| w.parse().ok()) {
            self.console.paced(Duration::from_millis(wait));
            return (verbose >= 2).then(|| message.to_owned());
        }
        // The pace learned from the server's 429s, told once each time it changes.
        if let Some(interval) = event.get("interval_ms").and_then(|w| w.parse().ok()) {
            self.console.pace(Duration::from_millis(interval));
            return (verbose >= 1).then(|| message.to_owned());
        }
        // A retry the listing machine scheduled (its notice carries `wait_ms`).
        if let Some(wait) = event.get("wait_ms").and_then(|w| w.parse().ok()) {
            let why = message
                .split_once(": ")
                .map_or(message, |(_, why)| why)
                .split(" on attempt")
                .next()
                .unwrap_or_default();
            self.console.waiting(why, Duration::from_millis(wait));
            return (verbose >= 1).then(|| message.to_owned());
        }
        match (span_name, message) {
            ("connections.request", "response") => {
                self.console.answered();
                (verbose >= 1).then(|| {
                    let mut line = format!(
                        "{} -> {} in {} ms, attempt {}",
                        request(),
                        event.get("status").unwrap_or("?"),
                        event.get("elapsed_ms").unwrap_or("?"),
                        from_span("attempt"),
                    );
                    if let Some(id) = event.get("request_id") {
                        line.push_str(", sc-request-id ");
                        line.push_str(id);
                    }
                    line
                })
            }
            ("connections.request", "attempt failed") => {
                self.console.answered();
                (verbose >= 1).then(|| {
                    format!(
                        "{} -> failed after {} ms, attempt {}: {}",
                        request(),
                        event.get("elapsed_ms").unwrap_or("?"),
                        from_span("attempt"),
                        event.get("error").unwrap_or("?"),
                    )
                })
            }
            (_, "request headers") => (verbose >= 2).then(|| {
                let mut block = format!(
                    "> {} {}",
                    event.get("method").unwrap_or("?"),
                    event.get("url").unwrap_or("?")
                );
                for header in event.get("headers").unwrap_or_default().lines() {
                    block.push_str("\n> ");
                    block.push_str(header);
                }
                block
            }),
            (_, "response headers") => (verbose >= 2).then(|| {
                let headers = event.get("headers").unwrap_or_default();
                let lines: Vec<String> = headers.lines().map(|h| format!("< {h}")).collect();
                lines.join("\n")
            }),
            ("connections.token", "fetched an application token") => (verbose >= 2).then(|| {
                let mut line = format!(
                    "token: POST {} -> {} in {} ms, {} attempt(s)",
                    from_span("endpoint"),
                    from_span("status"),
                    from_span("elapsed_ms"),
                    from_span("attempts"),
                );
                if let Some(life) = span.and_then(|s| s.get("expires_in")) {
                    line.push_str(&format!(", expires in {life} s"));
                }
                line
            }),
            // `connections sandbox -v`: what it was asked and how it answered.
            (_, "sandbox request") => (verbose >= 1).then(|| {
                format!(
                    "{} {} -> {} in {} ms",
                    event.get("method").unwrap_or("?"),
                    event.get("target").unwrap_or("?"),
                    event.get("status").unwrap_or("?"),
                    event.get("elapsed_ms").unwrap_or("?"),
                )
            }),
            // The error that follows says it all, so it is printed once; with -v, the
            // fetch's own line (its span is only seen at -v).
            (_, "token fetch failed") => (verbose >= 1).then(|| {
                format!(
                    "token: POST {} -> failed after {} ms, {} attempt(s): {}",
                    from_span("endpoint"),
                    from_span("elapsed_ms"),
                    from_span("attempts"),
                    event.get("error").unwrap_or("?"),
                )
            }),
            _ => {
                let prefix = match level {
                    Level::ERROR => "error: ",
                    Level::WARN => "warning: ",
                    _ if span_name == "connections.token" => "token: ",
                    _ => "",
                };
                let shown = match level {
                    Level::ERROR | Level::WARN => true,
                    Level::INFO => verbose >= 1,
                    _ => verbose >= 2,
                };
                shown.then(|| {
                    let mut line = format!("{prefix}{message}");
                    for (name, value) in &event.values {
                        if *name == "error" {
                            line.push_str(&format!(": {value}"));
                        } else {
                            line.push_str(&format!(" {name}={value}"));
                        }
                    }
                    line
                })
            }
        }
    }
}

impl<S> tracing_subscriber::Layer<S> for Layer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    /// The client's own spans and events up to the verbosity's level; other crates'
    /// warnings, and their `info` at `-vv`.
    fn enabled(&self, meta: &Metadata<'_>, _: Context<'_, S>) -> bool {
        let level = *meta.level();
        if meta.target().starts_with("connections") {
            level <= self.max
        } else {
            level <= Level::WARN || (self.verbosity >= 2 && level <= Level::INFO)
        }
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let name = attrs.metadata().name();
        if !name.starts_with("connections.") {
            return;
        }
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(SpanData { name, fields });
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id)
            && let Some(data) = span.extensions_mut().get_mut::<SpanData>()
        {
            values.record(&mut data.fields);
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let span = ctx.event_span(event).and_then(|span| {
            span.scope().find_map(|s| {
                let extensions = s.extensions();
                let data = extensions.get::<SpanData>()?;
                Some((data.name, data.fields.clone()))
            })
        });
        let level = *event.metadata().level();
        let line = self.render(level, &fields, span.as_ref().map(|(n, f)| (*n, f)));
        if let Some(line) = line {
            self.console.line(&escape_controls(&line, true));
        }
    }
}
