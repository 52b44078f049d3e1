use std::fmt;
use std::time::Duration;

use connections_core::listing::{Notice, SendRequest};

use crate::{Clock, Config, Error, Exchanged, request_id};

/// Logs a notice from the machine: data that first moved, its summary, and an unordered
/// `created_after` listing are warnings; a retry, the learned pace and later moves are info. A retry's
/// event also carries `page`, `attempt` and `wait_ms` (how long until it is sent again, the
/// whole listing paused by a 429), so a progress display can show the wait as a wait.
pub fn log_notice(notice: &Notice) {
    let ms = |wait: Duration| u64::try_from(wait.as_millis()).unwrap_or(u64::MAX);
    match *notice {
        Notice::Retrying {
            page,
            attempt,
            wait,
            ..
        } => {
            let wait_ms = ms(wait);
            tracing::info!(target: "connections", page, attempt, wait_ms, "{notice}")
        }
        // Once per wait, which in a long listing is once per page: for a progress display
        // (`paced_ms`), not for the -v log.
        Notice::Paced { page, wait, .. } => {
            let paced_ms = ms(wait);
            tracing::debug!(target: "connections", page, paced_ms, "{notice}")
        }
        Notice::PaceLearned { interval } => {
            let interval_ms = ms(interval);
            tracing::info!(target: "connections", interval_ms, "{notice}")
        }
        // Data that moves keeps moving: the first sign is a warning, the rest are details
        // (-v), and a summary ([`Notice::Moved`]) warns at the end.
        Notice::TotalChanged { first: false, .. } | Notice::Repeated { first: false, .. } => {
            tracing::info!(target: "connections", "{notice}")
        }
        _ => tracing::warn!(target: "connections", "{notice}"),
    }
}

/// The tracing span of one attempt, the same in every transport: `connections.request` with
/// `method`, `url` (absolute, with the query: filters and page, which may name user and
/// vehicle ids, never the token), `path` (without the query), `page`, `attempt`, and,
/// recorded later by [`record_response`] and [`record_outcome`], `status`, `request_id` and
/// `elapsed_ms`. Nothing in it can hold the token.
pub fn request_span(config: &Config, send: &SendRequest) -> tracing::Span {
    use tracing::field::Empty;
    let mut url = String::new();
    // Writing to a String cannot fail.
    let _ = config.base_url().write_url(&send.request, &mut url);
    tracing::info_span!(
        "connections.request",
        method = "GET",
        url = %url,
        path = %format_args!("{}/connections", config.base_url().prefix()),
        page = send.page(),
        attempt = send.attempt,
        status = Empty,
        request_id = Empty,
        elapsed_ms = Empty,
    )
}

/// Records the response head on an attempt's span.
pub fn record_response(span: &tracing::Span, status: u16, request_id: Option<&str>) {
    span.record("status", status);
    if let Some(id) = request_id {
        span.record("request_id", id);
    }
}

/// Records how long an attempt took, in milliseconds, on its span, and logs its outcome in
/// the span, once per attempt and the same in every transport: an `info` event `response`
/// with `status`, `elapsed_ms`, `request_id` (the `sc-request-id`, when the server sent one)
/// and `bytes`, then a `debug` event `response headers` (sensitive values redacted); or an
/// `info` event `attempt failed` with `elapsed_ms` and the `error` (which may be retried).
/// The exchange started at `started` on `clock` ([`Clock::elapsed`]).
pub fn record_outcome(
    span: &tracing::Span,
    clock: &Clock,
    started: Duration,
    outcome: &Result<Exchanged, Error>,
) {
    let took = clock.elapsed().saturating_sub(started);
    let elapsed_ms = u64::try_from(took.as_millis()).unwrap_or(u64::MAX);
    span.record("elapsed_ms", elapsed_ms);
    match outcome {
        Ok((head, body)) => {
            let status = head.status.as_u16();
            let bytes = body.len();
            match request_id(head) {
                Some(request_id) => tracing::info!(
                    parent: span,
                    status,
                    elapsed_ms,
                    request_id,
                    bytes,
                    "response"
                ),
                None => tracing::info!(parent: span, status, elapsed_ms, bytes, "response"),
            }
            tracing::debug!(
                parent: span,
                headers = %RedactedHeaders(&head.headers),
                "response headers"
            );
        }
        // Errors never hold the token, so they can be logged.
        Err(error) => {
            tracing::info!(parent: span, elapsed_ms, error = %error.chain(), "attempt failed")
        }
    }
}

/// Headers as `name: value` lines, for logs: credentials (`Authorization`,
/// `Proxy-Authorization`, cookies, and any value marked sensitive) show as `[redacted]`.
pub(crate) struct RedactedHeaders<'a>(pub(crate) &'a http::HeaderMap);

impl fmt::Display for RedactedHeaders<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use http::header::{AUTHORIZATION, COOKIE, PROXY_AUTHORIZATION, SET_COOKIE};
        for (i, (name, value)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            let secret = value.is_sensitive()
                || [AUTHORIZATION, PROXY_AUTHORIZATION, COOKIE, SET_COOKIE].contains(name);
            if secret {
                write!(f, "{name}: [redacted]")?;
            } else {
                write!(f, "{name}: {}", String::from_utf8_lossy(value.as_bytes()))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logged_headers_never_show_credentials() {
        let mut headers = http::HeaderMap::new();
        headers.insert("accept", http::HeaderValue::from_static("application/json"));
        headers.insert(
            http::header::AUTHORIZATION,
            http::HeaderValue::from_static("Bearer very-secret-token"),
        );
        headers.insert(
            http::header::PROXY_AUTHORIZATION,
            http::HeaderValue::from_static("Basic dXNlcjpzZWNyZXQ="),
        );
        let mut marked = http::HeaderValue::from_static("also-secret");
        marked.set_sensitive(true);
        headers.insert("x-api-key", marked);
        let text = RedactedHeaders(&headers).to_string();
        assert!(text.contains("accept: application/json"), "{text}");
        assert!(text.contains("authorization: [redacted]"), "{text}");
        assert!(text.contains("proxy-authorization: [redacted]"), "{text}");
        assert!(text.contains("x-api-key: [redacted]"), "{text}");
        assert!(
            !text.contains("secret") && !text.contains("dXNlcj"),
            "{text}"
        );
        assert_eq!(text.lines().count(), 4, "{text}");
    }
}
