//! What the sandbox received, kept for a test's assertions about what a client sent.

use std::collections::VecDeque;
use std::sync::Mutex;

use hyper::Request;

/// How many requests [`Received`] keeps; older ones are dropped first, so a sandbox left
/// serving for days does not grow without bound.
pub(crate) const KEPT: usize = 10_000;

/// What replaces credentials in recorded `authorization` and `proxy-authorization` headers.
pub const REDACTED: &str = "[redacted]";

/// One request as the sandbox received it, from [`Sandbox::received`](crate::Sandbox::received).
///
/// The `authorization` (and `proxy-authorization`) header keeps its scheme and loses its
/// credentials: `Bearer [redacted]`. Use [`authorized`](Self::authorized) to check that a
/// client sent a token the sandbox accepted without handling the token itself.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReceivedRequest {
    /// The method, e.g. `GET`.
    pub method: String,
    /// The path as sent (still percent-encoded), e.g. `/v3/connections`.
    pub path: String,
    /// The query string as sent, without the `?`; `None` if the target had no `?`.
    pub raw_query: Option<String>,
    /// The query's parameters, percent-decoded (`+` as a space), in the order sent, repeats
    /// kept: `[("filter[userId]", "u1"), ("page[size]", "50")]`.
    pub query: Vec<(String, String)>,
    /// The headers in the order received, names lowercase, values lossily decoded as UTF-8
    /// and credentials redacted.
    pub headers: Vec<(String, String)>,
    /// `HTTP/1.1` or `HTTP/2.0`.
    pub version: String,
    /// Whether a `/connections` request carried a token the sandbox accepted (`false` for
    /// other paths).
    pub authorized: bool,
}

impl ReceivedRequest {
    /// The first value of the query parameter `name` (decoded), if it was sent.
    pub fn query_value(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first value of the header `name` (any case), if it was sent.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// What a request looked like on arrival; `authorized` is filled in later.
    pub(crate) fn of<B>(request: &Request<B>) -> Self {
        let uri = request.uri();
        let raw_query = uri.query().map(str::to_owned);
        let query = form_urlencoded::parse(raw_query.as_deref().unwrap_or("").as_bytes())
            .map(|(n, v)| (n.into_owned(), v.into_owned()))
            .collect();
        let headers = request
            .headers()
            .iter()
            .map(|(name, value)| {
                let text = String::from_utf8_lossy(value.as_bytes());
                let shown = if name == hyper::header::AUTHORIZATION
                    || name == hyper::header::PROXY_AUTHORIZATION
                {
                    redact(&text)
                } else {
                    text.into_owned()
                };
                (name.as_str().to_owned(), shown)
            })
            .collect();
        ReceivedRequest {
            method: request.method().as_str().to_owned(),
            path: uri.path().to_owned(),
            raw_query,
            query,
            headers,
            version: format!("{:?}", request.version()),
            authorized: false,
        }
    }
}

/// `Bearer abc` → `Bearer [redacted]`; a value without a scheme is all credentials.
fn redact(value: &str) -> String {
    match value.trim_start().split_once(' ') {
        Some((scheme, _)) => format!("{scheme} {REDACTED}"),
        None if value.trim().is_empty() => String::new(),
        None => REDACTED.to_owned(),
    }
}

/// The latest [`KEPT`] requests, oldest first, each under the request number it arrived with.
#[derive(Default)]
pub(crate) struct Received {
    log: Mutex<VecDeque<(u64, ReceivedRequest)>>,
}

impl Received {
    fn log(&self) -> std::sync::MutexGuard<'_, VecDeque<(u64, ReceivedRequest)>> {
        self.log.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn push(&self, number: u64, request: ReceivedRequest) {
        let mut log = self.log();
        if log.len() == KEPT {
            log.pop_front();
        }
        log.push_back((number, request));
    }

    /// Marks request `number` as carrying an accepted token.
    pub(crate) fn authorized(&self, number: u64) {
        let mut log = self.log();
        if let Some((_, r)) = log.iter_mut().rev().find(|(n, _)| *n == number) {
            r.authorized = true;
        }
    }

    /// Every kept request, in the order they arrived.
    pub(crate) fn all(&self) -> Vec<ReceivedRequest> {
        let mut all: Vec<(u64, ReceivedRequest)> = self.log().iter().cloned().collect();
        all.sort_by_key(|(n, _)| *n);
        all.into_iter().map(|(_, r)| r).collect()
    }

    pub(crate) fn clear(&self) {
        self.log().clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_redacted_and_the_scheme_kept() {
        assert_eq!(redact("Bearer abc"), "Bearer [redacted]");
        assert_eq!(redact("bearer   abc def"), "bearer [redacted]");
        assert_eq!(redact("Basic aWQ6c2VjcmV0"), "Basic [redacted]");
        assert_eq!(redact("sekrit"), "[redacted]");
        assert_eq!(redact(""), "");
    }

    #[test]
    fn requests_are_recorded_decoded_and_bounded() {
        let request = Request::builder()
            .method("POST")
            .uri("/v3/connections?filter%5BuserId%5D=a+b%2Fc&page[size]=5&page[size]=6&flag")
            .header("Authorization", "Bearer secret-token")
            .header("User-Agent", "test/1")
            .body(())
            .unwrap();
        let r = ReceivedRequest::of(&request);
        assert_eq!(r.method, "POST");
        assert_eq!(r.path, "/v3/connections");
        assert_eq!(
            r.query,
            [
                ("filter[userId]", "a b/c"),
                ("page[size]", "5"),
                ("page[size]", "6"),
                ("flag", ""),
            ]
            .map(|(n, v)| (n.to_owned(), v.to_owned()))
        );
        assert_eq!(r.query_value("page[size]"), Some("5"));
        assert_eq!(r.header("AUTHORIZATION"), Some("Bearer [redacted]"));
        assert_eq!(r.header("user-agent"), Some("test/1"));
        assert!(!format!("{r:?}").contains("secret-token"));

        let received = Received::default();
        for n in 0..(KEPT as u64 + 5) {
            received.push(n, r.clone());
        }
        received.authorized(KEPT as u64 + 4);
        let all = received.all();
        assert_eq!(all.len(), KEPT);
        assert!(all[KEPT - 1].authorized && !all[0].authorized);
        received.clear();
        assert!(received.all().is_empty());
    }
}
