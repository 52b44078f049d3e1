//! The HTTP side: `GET {prefix}/connections` per the API contract, plus fault injection, and
//! `POST /oauth2/token` (in [`crate::oauth`]), whose tokens `/connections` also accepts.
//! Answers are gzip-compressed when the request asks (see [`crate::gzip`]).

use std::convert::Infallible;
use std::fmt::Write as _;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::{Request, Response, StatusCode, Version, header};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Serialize;

use crate::SandboxConfig;
use crate::dataset::{Dataset, Filters, Mode, mix};
use crate::gzip;
use crate::oauth::{self, Issuer, Standing};
use crate::wire::{
    self, ErrorBody, ErrorType, PageBody, PagingLinks, PagingMeta, Problem, ResolutionType,
};

/// What every request handler shares.
pub(crate) struct State {
    pub(crate) config: SandboxConfig,
    /// The current snapshot. Readers clone the `Arc` and serve from it without holding the
    /// lock; a mutation builds the next snapshot aside and only swaps it in here.
    dataset: RwLock<Arc<Dataset>>,
    /// Serializes mutations, so each one starts from the one before (deterministic churn).
    writer: Mutex<()>,
    /// `scheme://host:port`, for absolute links.
    origin: String,
    pub(crate) requests: AtomicU64,
    /// Page requests answered so far, to leave the first one of a churning sandbox alone.
    pages: AtomicU64,
    pub(crate) injected: AtomicU64,
    pub(crate) limited: AtomicU64,
    pub(crate) churned: AtomicU64,
    started: Instant,
    /// (second since start, requests in it), for rate limiting.
    window: Mutex<(u64, u32)>,
    /// The token endpoint and the tokens it issued.
    pub(crate) issuer: Issuer,
    /// TCP connections accepted, TLS or not (counted before any handshake).
    pub(crate) connections: AtomicU64,
    /// Failed `accept` calls (the loop backs off after those that are not about one
    /// connection, such as running out of file descriptors).
    pub(crate) accept_errors: AtomicU64,
    /// Requests that arrived over HTTP/2.
    pub(crate) h2_requests: AtomicU64,
    /// Response body bytes handed to the connection, after compression.
    pub(crate) body_bytes: AtomicU64,
    /// The gzip bomb every `/connections` answer is, when [`SandboxConfig::gzip_bomb`] is set.
    bomb: Option<Bytes>,
    pub(crate) bombs: AtomicU64,
}

impl State {
    pub(crate) fn new(
        config: SandboxConfig,
        dataset: Dataset,
        origin: String,
        bomb: Option<Bytes>,
    ) -> Self {
        State {
            issuer: Issuer::new(&config),
            config,
            dataset: RwLock::new(Arc::new(dataset)),
            writer: Mutex::new(()),
            origin,
            requests: AtomicU64::new(0),
            pages: AtomicU64::new(0),
            injected: AtomicU64::new(0),
            limited: AtomicU64::new(0),
            churned: AtomicU64::new(0),
            started: Instant::now(),
            window: Mutex::new((0, 0)),
            connections: AtomicU64::new(0),
            accept_errors: AtomicU64::new(0),
            h2_requests: AtomicU64::new(0),
            body_bytes: AtomicU64::new(0),
            bomb,
            bombs: AtomicU64::new(0),
        }
    }

    /// The data as of now; later mutations do not change it.
    pub(crate) fn snapshot(&self) -> Arc<Dataset> {
        self.dataset
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Replaces the data with what `change` makes of the current snapshot.
    pub(crate) fn mutate<T>(&self, change: impl FnOnce(&Dataset) -> (Dataset, T)) -> T {
        let _writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let (next, outcome) = change(&self.snapshot());
        *self.dataset.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(next);
        outcome
    }
}

type Reply = Response<Full<Bytes>>;

/// Serves one request. Latency applies to every path; the other faults only to
/// `/connections` (see [`route`]). Every answer is JSON, compressed when the request's
/// `Accept-Encoding` allows gzip (the bomb is gzip whatever was asked).
pub(crate) async fn handle(
    state: Arc<State>,
    request: Request<Incoming>,
) -> Result<Response<Counted>, Infallible> {
    let number = state.requests.fetch_add(1, Ordering::Relaxed);
    if request.version() == Version::HTTP_2 {
        state.h2_requests.fetch_add(1, Ordering::Relaxed);
    }
    let request_id = format!("sbx-{:016x}", mix(state.config.seed, number));
    let gzip = gzip::accepts_gzip(request.headers());
    if !state.config.latency.is_zero() {
        tokio::time::sleep(state.config.latency).await;
    }
    let mut reply = if request.uri().path() == oauth::TOKEN_PATH {
        oauth::token(&state.issuer, request).await
    } else {
        route(&state, &request, number).unwrap_or_else(|p| error(&p, &request_id))
    };
    if !reply.headers().contains_key(header::CONTENT_ENCODING) {
        reply = negotiate(reply, gzip);
    }
    if let Ok(value) = header::HeaderValue::from_str(&request_id) {
        reply.headers_mut().insert("sc-request-id", value);
    }
    Ok(reply.map(|body| Counted { body, state }))
}

/// Compresses the answer when the client accepts gzip. Either way the answer says it depends
/// on `Accept-Encoding`, so a cache between the two does not hand one client's encoding to
/// another (RFC 9110 §12.5.5).
fn negotiate(reply: Reply, gzip: bool) -> Reply {
    let (mut parts, body) = reply.into_parts();
    parts.headers.insert(
        header::VARY,
        header::HeaderValue::from_static("accept-encoding"),
    );
    if !gzip {
        return Response::from_parts(parts, body);
    }
    let plain = body.into_inner().unwrap_or_default();
    match gzip::compress(&plain) {
        Ok(compressed) => {
            parts.headers.insert(
                header::CONTENT_ENCODING,
                header::HeaderValue::from_static("gzip"),
            );
            Response::from_parts(parts, Full::new(Bytes::from(compressed)))
        }
        // Writing to a Vec does not fail; should it, the plain answer is still an answer.
        Err(_) => Response::from_parts(parts, Full::new(plain)),
    }
}

/// A response body that counts its bytes into [`State::body_bytes`] as the connection takes
/// them, so the count is what went to the wire (after compression), not what was planned.
pub(crate) struct Counted {
    body: Full<Bytes>,
    state: Arc<State>,
}

impl Body for Counted {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let polled = Pin::new(&mut self.body).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(data) = frame.data_ref()
        {
            self.state
                .body_bytes
                .fetch_add(data.len() as u64, Ordering::Relaxed);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// Answers `{prefix}/connections` (404 elsewhere): method, token, then the gzip bomb if set,
/// the injected rate limit and failures, which the token endpoint never sees, then the listing.
fn route(state: &State, request: &Request<Incoming>, number: u64) -> Result<Reply, Problem> {
    let path = request.uri().path();
    let endpoint = format!("{}/connections", state.config.prefix);
    if path != endpoint {
        return Err(Problem {
            status: 404,
            kind: ErrorType::ResourceNotFound,
            code: "NOT_FOUND",
            title: "Not Found",
            detail: format!("No route {path}; the connections endpoint is {endpoint}."),
            resolution: None,
        });
    }
    if request.method() != hyper::Method::GET {
        return Err(Problem {
            status: 405,
            kind: ErrorType::Validation,
            code: "METHOD_NOT_ALLOWED",
            title: "Method Not Allowed",
            detail: "Only GET is supported on this endpoint.".to_owned(),
            resolution: None,
        });
    }
    authorize(state, request)?;
    if let Some(bomb) = &state.bomb {
        state.bombs.fetch_add(1, Ordering::Relaxed);
        let mut reply = Response::new(Full::new(bomb.clone()));
        let headers = reply.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static("application/json"),
        );
        headers.insert(
            header::CONTENT_ENCODING,
            header::HeaderValue::from_static("gzip"),
        );
        return Ok(reply);
    }
    if let Some(limit) = state.config.rate_limit
        && over_limit(state, limit)
    {
        state.limited.fetch_add(1, Ordering::Relaxed);
        return Err(Problem {
            status: 429,
            kind: ErrorType::RateLimit,
            code: "SMARTCAR_API",
            title: "Rate limit exceeded",
            detail: "Too many requests to the sandbox; wait for the time in Retry-After."
                .to_owned(),
            resolution: Some(ResolutionType::RetryLater),
        });
    }
    let roll = mix(state.config.seed ^ 0xfa17, number);
    if (roll % 1_000_000) as f64 / 1_000_000.0 < state.config.failure_rate {
        state.injected.fetch_add(1, Ordering::Relaxed);
        return Err(if roll & (1 << 40) == 0 {
            Problem {
                status: 503,
                kind: ErrorType::Upstream,
                code: "SERVICE_UNAVAILABLE",
                title: "Service Unavailable",
                detail: "Injected failure: the sandbox is pretending to be unavailable.".to_owned(),
                resolution: Some(ResolutionType::RetryLater),
            }
        } else {
            Problem {
                status: 500,
                kind: ErrorType::Server,
                code: "INTERNAL",
                title: "Internal Server Error",
                detail: "Injected failure: an unexpected error occurred on the sandbox.".to_owned(),
                resolution: Some(ResolutionType::RetryLater),
            }
        });
    }
    let query = Query::parse(request.uri().query().unwrap_or("")).map_err(|detail| Problem {
        status: 400,
        kind: ErrorType::Validation,
        code: "BAD_REQUEST",
        title: "Bad Request",
        detail,
        resolution: None,
    })?;
    Ok(page(state, &query))
}

/// Lets through the static token, or a token from the token endpoint that has neither expired
/// nor been revoked.
fn authorize(state: &State, request: &Request<Incoming>) -> Result<(), Problem> {
    let expected = format!("Bearer {}", state.config.token);
    let given = request.headers().get(header::AUTHORIZATION);
    if given.is_some_and(|v| v.as_bytes() == expected.as_bytes()) {
        return Ok(());
    }
    let standing = given
        .and_then(|v| v.as_bytes().strip_prefix(b"Bearer "))
        .and_then(|t| std::str::from_utf8(t).ok())
        .map_or(Standing::Unknown, |t| state.issuer.standing(t));
    let (code, title, detail) = match standing {
        Standing::Valid => return Ok(()),
        Standing::Expired => (
            "TOKEN_EXPIRED",
            "Token Expired",
            "The access token has expired; request a new one from the token endpoint.",
        ),
        Standing::Revoked => (
            "UNAUTHORIZED",
            "Unauthorized",
            "The access token has been revoked; request a new one from the token endpoint.",
        ),
        Standing::Unknown => (
            "UNAUTHORIZED",
            "Unauthorized",
            "The Authorization token is missing or invalid.",
        ),
    };
    Err(Problem {
        status: 401,
        kind: ErrorType::Authentication,
        code,
        title,
        detail: detail.to_owned(),
        resolution: Some(ResolutionType::Reauthenticate),
    })
}

/// Fixed one-second windows: cheap and predictable for tests.
fn over_limit(state: &State, limit: u32) -> bool {
    let second = state.started.elapsed().as_secs();
    let mut window = state.window.lock().unwrap_or_else(|e| e.into_inner());
    if window.0 != second {
        *window = (second, 0);
    }
    window.1 += 1;
    window.1 > limit
}

/// The query parameters of a listing.
struct Query {
    user_id: Option<String>,
    vehicle_id: Option<String>,
    mode: Option<Mode>,
    number: u64,
    size: u64,
}

impl Query {
    /// Reads parameters with brackets raw or percent-encoded; unknown ones are ignored.
    fn parse(query: &str) -> Result<Self, String> {
        let mut q = Query {
            user_id: None,
            vehicle_id: None,
            mode: None,
            number: 1,
            size: 10,
        };
        for (name, value) in form_urlencoded::parse(query.as_bytes()) {
            let positive = |v: &str| {
                v.parse::<u64>()
                    .ok()
                    .filter(|&n| n > 0)
                    .ok_or_else(|| format!("{name} must be a positive integer, got {v:?}."))
            };
            let id = |v: &str| {
                (!v.is_empty())
                    .then(|| v.to_owned())
                    .ok_or_else(|| format!("{name} must not be empty."))
            };
            match &*name {
                "filter[userId]" => q.user_id = Some(id(&value)?),
                "filter[vehicleId]" => q.vehicle_id = Some(id(&value)?),
                "filter[vehicle.mode]" => {
                    q.mode = Some(value.parse().map_err(|_| {
                        format!("filter[vehicle.mode] must be live or simulated, got {value:?}.")
                    })?)
                }
                "page[number]" => q.number = positive(&value)?,
                "page[size]" => q.size = positive(&value)?,
                _ => {}
            }
        }
        Ok(q)
    }

    /// A link to page `number` with the same filters, brackets raw as in the API's examples.
    fn link(&self, prefix: &str, number: u64) -> String {
        let mut link = String::from(prefix);
        link.push_str("/connections?");
        let filters = [
            ("filter[userId]", self.user_id.as_deref()),
            ("filter[vehicleId]", self.vehicle_id.as_deref()),
            ("filter[vehicle.mode]", self.mode.map(Mode::as_str)),
        ];
        for (name, value) in filters {
            if let Some(value) = value {
                let _ = write!(
                    link,
                    "{name}={}&",
                    utf8_percent_encode(value, NON_ALPHANUMERIC)
                );
            }
        }
        let _ = write!(link, "page[number]={number}&page[size]={}", self.size);
        link
    }
}

/// Answers a valid listing request from the current snapshot, after moving the data first
/// when the sandbox churns (every page request but the very first).
fn page(state: &State, query: &Query) -> Reply {
    let churn = usize::try_from(state.config.churn).unwrap_or(usize::MAX);
    if state.pages.fetch_add(1, Ordering::Relaxed) > 0 && churn > 0 {
        state.mutate(|d| d.churned(churn));
        state.churned.fetch_add(1, Ordering::Relaxed);
    }
    let dataset = state.snapshot();
    let filters = Filters {
        user_id: query.user_id.as_deref(),
        vehicle_id: query.vehicle_id.as_deref(),
        mode: query.mode,
    };
    let matching = dataset.matching(filters);
    let total = matching.len() as u64;
    let last = total.div_ceil(query.size).max(1);
    let start =
        usize::try_from((query.number - 1).saturating_mul(query.size)).unwrap_or(usize::MAX);
    let end = start.saturating_add(usize::try_from(query.size).unwrap_or(usize::MAX));
    let on_page = matching
        .get(start.min(matching.len())..end.min(matching.len()))
        .unwrap_or_default();
    let data = on_page
        .iter()
        .map(|&i| wire::Connection::from(&*dataset.connections()[i as usize]))
        .collect();
    let prefix = if state.config.absolute_links {
        format!("{}{}", state.origin, state.config.prefix)
    } else {
        String::new()
    };
    let link = |n| query.link(&prefix, n);
    let body = PageBody {
        data,
        meta: PagingMeta {
            page_number: query.number,
            page_size: query.size,
            total_count: total,
            order_by: "createdAt",
            order_direction: "DESC",
        },
        links: PagingLinks {
            self_link: link(query.number),
            first: link(1),
            prev: (query.number > 1).then(|| link((query.number - 1).min(last))),
            next: (query.number < last).then(|| link(query.number + 1)),
            last: link(last),
        },
    };
    json(200, &body)
}

/// A v3 error body; a 429 also says when to come back, a 405 what is allowed.
fn error(problem: &Problem, request_id: &str) -> Reply {
    let mut reply = json(problem.status, &ErrorBody::new(problem, request_id));
    if problem.status == 429 {
        reply
            .headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
    }
    if problem.status == 405 {
        reply
            .headers_mut()
            .insert(header::ALLOW, header::HeaderValue::from_static("GET"));
    }
    reply
}

fn json(status: u16, body: &impl Serialize) -> Reply {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let mut reply = Response::new(Full::new(Bytes::from(bytes)));
    *reply.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    reply.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    reply
}
