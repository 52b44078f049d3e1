//! The HTTP side: `GET {prefix}/connections` per the API contract, plus fault injection, and
//! `POST /oauth2/token` (in [`crate::oauth`]), whose tokens `/connections` also accepts.
//! Answers are gzip-compressed when the request asks (see [`crate::gzip`]).

use std::convert::Infallible;
use std::fmt::Write as _;
use std::future::Future as _;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::{Request, Response, StatusCode, Version, header};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Serialize;

use crate::SandboxConfig;
use crate::bucket::{Meter, retry_after_secs};
use crate::dataset::{Dataset, Filters, Mode, mix};
use crate::gzip;
use crate::oauth::{self, Issuer, Standing};
use crate::record::{Received, ReceivedRequest};
use crate::wire::{
    self, ErrorBody, ErrorType, PageBody, PagingLinks, PagingMeta, Problem, ResolutionType,
};

/// What every request handler shares.
pub(crate) struct State {
    pub(crate) config: SandboxConfig,
    /// The current snapshot. Readers clone the `Arc` and serve from it without holding the
    /// lock; a mutation changes it in place under the write lock (`Arc::make_mut`), which
    /// copies it first only if a reader still holds it, so every snapshot handed out keeps
    /// what it saw and each mutation starts from the one before (deterministic churn).
    dataset: RwLock<Arc<Dataset>>,
    /// `scheme://host:port`, for absolute links.
    origin: String,
    pub(crate) requests: AtomicU64,
    /// Page requests answered so far, to leave the first one of a churning sandbox alone.
    pages: AtomicU64,
    pub(crate) injected: AtomicU64,
    pub(crate) limited: AtomicU64,
    pub(crate) churned: AtomicU64,
    /// When serving began: the meters' clock reads the time elapsed since.
    started: Instant,
    /// [`SandboxConfig::rate_limit`], as a bucket of that many refilling as many a second.
    per_second: Option<Mutex<Meter>>,
    /// [`SandboxConfig::bucket`]: the application's token bucket.
    bucket: Option<Mutex<Meter>>,
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
    /// Listing pages cut short on purpose.
    pub(crate) truncated: AtomicU64,
    /// Answers trickled out on purpose.
    pub(crate) dripped: AtomicU64,
    /// 401s for tokens past their lifetime.
    pub(crate) expired: AtomicU64,
    /// 401s for revoked tokens.
    pub(crate) revoked: AtomicU64,
    /// What clients sent, for tests.
    pub(crate) received: Received,
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
            per_second: config.rate_limit.map(|n| Mutex::new(Meter::per_second(n))),
            bucket: config.bucket.map(|b| Mutex::new(Meter::bucket(b))),
            config,
            dataset: RwLock::new(Arc::new(dataset)),
            origin,
            requests: AtomicU64::new(0),
            pages: AtomicU64::new(0),
            injected: AtomicU64::new(0),
            limited: AtomicU64::new(0),
            churned: AtomicU64::new(0),
            started: Instant::now(),
            connections: AtomicU64::new(0),
            accept_errors: AtomicU64::new(0),
            h2_requests: AtomicU64::new(0),
            body_bytes: AtomicU64::new(0),
            bomb,
            bombs: AtomicU64::new(0),
            truncated: AtomicU64::new(0),
            dripped: AtomicU64::new(0),
            expired: AtomicU64::new(0),
            revoked: AtomicU64::new(0),
            received: Received::default(),
        }
    }

    /// The data as of now; later mutations do not change it.
    pub(crate) fn snapshot(&self) -> Arc<Dataset> {
        self.dataset
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Changes the data with `change`: in place, unless a snapshot handed out earlier is
    /// still held, in which case the change applies to a copy, which becomes current.
    pub(crate) fn mutate<T>(&self, change: impl FnOnce(&mut Dataset) -> T) -> T {
        let mut current = self.dataset.write().unwrap_or_else(|e| e.into_inner());
        change(Arc::make_mut(&mut current))
    }
}

type Reply = Response<Full<Bytes>>;

/// Marks a listing page (a 200 from `/connections`), the only answer that may be truncated.
#[derive(Clone, Copy)]
struct ListingPage;

/// Serves one request. Latency applies to every path; the other faults only to
/// `/connections` (see [`route`]), whose answers may also be truncated or dripped here, after
/// compression. Every answer is JSON, compressed when the request's `Accept-Encoding` allows
/// gzip (the bomb is gzip whatever was asked).
pub(crate) async fn handle(
    state: Arc<State>,
    request: Request<Incoming>,
) -> Result<Response<Outgoing>, Infallible> {
    let number = state.requests.fetch_add(1, Ordering::Relaxed);
    let started = Instant::now();
    let logged = state.config.log_requests.then(|| {
        let target = request
            .uri()
            .path_and_query()
            .map(|p| p.as_str().to_owned());
        (request.method().clone(), target.unwrap_or_default())
    });
    state.received.push(number, ReceivedRequest::of(&request));
    if request.version() == Version::HTTP_2 {
        state.h2_requests.fetch_add(1, Ordering::Relaxed);
    }
    let request_id = format!("sbx-{:016x}", mix(state.config.seed, number));
    let gzip = gzip::accepts_gzip(request.headers());
    if !state.config.latency.is_zero() {
        tokio::time::sleep(state.config.latency).await;
    }
    let token_endpoint = request.uri().path() == oauth::TOKEN_PATH;
    let mut reply = if token_endpoint {
        oauth::token(&state.issuer, request).await
    } else {
        route(&state, &request, number).unwrap_or_else(|p| error(&p, &request_id))
    };
    if !reply.headers().contains_key(header::CONTENT_ENCODING) {
        reply = negotiate(reply, gzip).await;
    }
    if let Ok(value) = header::HeaderValue::from_str(&request_id) {
        reply.headers_mut().insert("sc-request-id", value);
    }
    let cut = reply.extensions().get::<ListingPage>().is_some()
        && roll(state.config.seed ^ 0x7c07_7e5d, number) < state.config.truncate_rate;
    if cut {
        state.truncated.fetch_add(1, Ordering::Relaxed);
    }
    let drip = state.config.drip.filter(|_| !token_endpoint);
    if drip.is_some() {
        state.dripped.fetch_add(1, Ordering::Relaxed);
    }
    if let Some((method, target)) = logged {
        tracing::info!(
            target: "connections_sandbox",
            method = %method,
            target = %target,
            status = reply.status().as_u16(),
            elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            "sandbox request"
        );
    }
    Ok(reply.map(|body| Outgoing::new(body, state.clone(), cut, drip)))
}

/// A number in [0, 1) drawn from the seed and a request number: the same run after run.
fn roll(seed: u64, number: u64) -> f64 {
    (mix(seed, number) % 1_000_000) as f64 / 1_000_000.0
}

/// Compresses the answer when the client accepts gzip. Either way the answer says it depends
/// on `Accept-Encoding`, so a cache between the two does not hand one client's encoding to
/// another (RFC 9110 §12.5.5). Compression runs on the blocking pool, so answers to requests
/// in flight together are compressed in parallel, as a server with several cores would,
/// rather than one after another on the sandbox's single thread.
async fn negotiate(reply: Reply, gzip: bool) -> Reply {
    let (mut parts, body) = reply.into_parts();
    parts.headers.insert(
        header::VARY,
        header::HeaderValue::from_static("accept-encoding"),
    );
    if !gzip {
        return Response::from_parts(parts, body);
    }
    let plain = body.into_inner().unwrap_or_default();
    let input = plain.clone();
    match tokio::task::spawn_blocking(move || gzip::compress(&input)).await {
        Ok(Ok(compressed)) => {
            parts.headers.insert(
                header::CONTENT_ENCODING,
                header::HeaderValue::from_static("gzip"),
            );
            Response::from_parts(parts, Full::new(Bytes::from(compressed)))
        }
        // Writing to a Vec does not fail, nor does the task; should either, the plain answer
        // is still an answer.
        Ok(Err(_)) | Err(_) => Response::from_parts(parts, Full::new(plain)),
    }
}

/// How long a truncated body waits, after its last bytes, before failing.
const FLUSH_BEFORE_CUT: Duration = Duration::from_millis(20);

/// A response body as it goes out: whole, or trickled in chunks with a pause before each
/// ([`SandboxConfig::drip`]), or cut short ([`SandboxConfig::truncate_rate`]): the length
/// announced is the whole body's, about half is sent, then the body fails, which makes hyper
/// close the connection (HTTP/1.1) or reset the stream (HTTP/2). Its bytes are counted into
/// [`State::body_bytes`] as the connection takes them, so the count is what went to the wire
/// (after compression), not what was planned.
pub(crate) struct Outgoing {
    /// What is left to send.
    rest: Bytes,
    /// The whole body's length, announced whatever is sent.
    declared: u64,
    /// Bytes per frame.
    chunk: usize,
    /// The pause before each frame, when dripping.
    pause: Option<Duration>,
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
    /// Whether the body fails once `rest` is sent (it was cut short).
    fail: bool,
    state: Arc<State>,
}

impl Outgoing {
    fn new(body: Full<Bytes>, state: Arc<State>, cut: bool, drip: Option<Duration>) -> Self {
        let mut rest = body.into_inner().unwrap_or_default();
        let declared = rest.len() as u64;
        if cut {
            rest.truncate(rest.len() / 2);
        }
        let chunk = if drip.is_some() {
            state.config.drip_bytes.max(1)
        } else {
            usize::MAX
        };
        Outgoing {
            rest,
            declared,
            chunk,
            pause: drip,
            sleep: None,
            fail: cut,
            state,
        }
    }
}

impl Body for Outgoing {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        let this = self.get_mut();
        if this.rest.is_empty() {
            if this.fail {
                // Failing at once would make hyper drop the connection with the headers and
                // the partial body still in its buffer: the client would see nothing. A pause
                // lets the connection flush them first, so the client sees a short body, then
                // the close.
                let sleep = this
                    .sleep
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(FLUSH_BEFORE_CUT)));
                ready!(sleep.as_mut().poll(cx));
                this.sleep = None;
                this.fail = false;
                return Poll::Ready(Some(Err(io::Error::new(
                    io::ErrorKind::ConnectionAborted,
                    "the sandbox cut this answer short on purpose (truncate_rate)",
                ))));
            }
            return Poll::Ready(None);
        }
        if let Some(pause) = this.pause {
            let sleep = this
                .sleep
                .get_or_insert_with(|| Box::pin(tokio::time::sleep(pause)));
            ready!(sleep.as_mut().poll(cx));
            this.sleep = None;
        }
        let data = this.rest.split_to(this.chunk.min(this.rest.len()));
        this.state
            .body_bytes
            .fetch_add(data.len() as u64, Ordering::Relaxed);
        Poll::Ready(Some(Ok(Frame::data(data))))
    }

    fn is_end_stream(&self) -> bool {
        self.rest.is_empty() && !self.fail
    }

    fn size_hint(&self) -> SizeHint {
        // The whole body's length even when cut short: hyper announces it in Content-Length.
        SizeHint::with_exact(self.declared)
    }
}

/// Answers `{prefix}/connections` (404 elsewhere): method, token, then the rate limits (each
/// authorized request takes a token of each, whatever comes next), the gzip bomb if set, the
/// injected failures, none of which the token endpoint sees, then the listing.
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
            retry_after: None,
        });
    }
    if request.method() != hyper::Method::GET {
        return Err(Problem {
            status: 405,
            kind: ErrorType::Validation,
            code: "METHOD_NOT_ALLOWED",
            title: "Method Not Allowed",
            detail: format!(
                "{} is not supported on {endpoint}; only GET is.",
                request.method()
            ),
            resolution: None,
            retry_after: None,
        });
    }
    authorize(state, request)?;
    state.received.authorized(number);
    limit(state)?;
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
    if roll(state.config.seed ^ 0xfa17, number) < state.config.failure_rate {
        state.injected.fetch_add(1, Ordering::Relaxed);
        // Which of the two: another bit of the same draw.
        return Err(
            if mix(state.config.seed ^ 0xfa17, number) & (1 << 40) == 0 {
                Problem {
                    status: 503,
                    kind: ErrorType::Upstream,
                    code: "SERVICE_UNAVAILABLE",
                    title: "Service Unavailable",
                    detail: "Injected failure: the sandbox is pretending to be unavailable."
                        .to_owned(),
                    resolution: Some(ResolutionType::RetryLater),
                    retry_after: None,
                }
            } else {
                Problem {
                    status: 500,
                    kind: ErrorType::Server,
                    code: "INTERNAL",
                    title: "Internal Server Error",
                    detail: "Injected failure: an unexpected error occurred on the sandbox."
                        .to_owned(),
                    resolution: Some(ResolutionType::RetryLater),
                    retry_after: None,
                }
            },
        );
    }
    let mut query =
        Query::parse(request.uri().query().unwrap_or("")).map_err(|detail| Problem {
            status: 400,
            kind: ErrorType::Validation,
            code: "BAD_REQUEST",
            title: "Bad Request",
            detail,
            resolution: None,
            retry_after: None,
        })?;
    // A capped server serves fewer than asked and says so: `meta.pageSize`, every link and
    // the page count all follow the size served, not the one requested.
    if let Some(cap) = state.config.max_page_size {
        query.size = query.size.min(u64::from(cap.max(1)));
    }
    let mut reply = page(state, &query);
    reply.extensions_mut().insert(ListingPage);
    Ok(reply)
}

/// The credentials of an `Authorization: Bearer <token>` header. The scheme is
/// case-insensitive (RFC 9110 §11.1: `bearer`, `BEARER`), and one or more spaces may follow it.
fn bearer_token(value: &[u8]) -> Option<&str> {
    let value = std::str::from_utf8(value).ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim_start_matches(' ');
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Lets through the static token, or a token from the token endpoint that has neither expired
/// nor been revoked.
fn authorize(state: &State, request: &Request<Incoming>) -> Result<(), Problem> {
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| bearer_token(v.as_bytes()));
    if given == Some(state.config.token.as_str()) {
        return Ok(());
    }
    let standing = given.map_or(Standing::Unknown, |t| state.issuer.standing(t));
    let (code, title, detail) = match standing {
        Standing::Valid => return Ok(()),
        Standing::Expired => {
            state.expired.fetch_add(1, Ordering::Relaxed);
            (
                "TOKEN_EXPIRED",
                "Token Expired",
                "The access token has expired; request a new one from the token endpoint.",
            )
        }
        Standing::Revoked => {
            state.revoked.fetch_add(1, Ordering::Relaxed);
            (
                "UNAUTHORIZED",
                "Unauthorized",
                "The access token has been revoked; request a new one from the token endpoint.",
            )
        }
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
        retry_after: None,
    })
}

/// Takes a token from the per-second limit, then from the bucket, or answers 429
/// `RATE_LIMIT`/`SMARTCAR_API`: with `retry-after: 1` from the per-second limit (its old
/// meaning; its next token is at most a second away), from the bucket with the whole seconds
/// until its next token only when [`SandboxConfig::bucket_retry_after`] is set, as Smartcar
/// documents `Retry-After` only for its per-vehicle limit. A request the per-second limit
/// refuses takes nothing from the bucket.
fn limit(state: &State) -> Result<(), Problem> {
    let take = |meter: &Option<Mutex<Meter>>| match meter {
        Some(meter) => {
            let now = state.started.elapsed();
            meter.lock().unwrap_or_else(|e| e.into_inner()).take(now)
        }
        None => Ok(()),
    };
    let retry_after = match take(&state.per_second) {
        Err(_) => Some(1),
        Ok(()) => match take(&state.bucket) {
            Err(wait) => state
                .config
                .bucket_retry_after
                .then(|| retry_after_secs(wait)),
            Ok(()) => return Ok(()),
        },
    };
    state.limited.fetch_add(1, Ordering::Relaxed);
    Err(Problem {
        status: 429,
        kind: ErrorType::RateLimit,
        code: "SMARTCAR_API",
        title: "Rate limit exceeded",
        detail: match retry_after {
            Some(_) => "Too many requests to the sandbox; wait for the time in Retry-After.",
            None => "The application's rate limit bucket is empty; retry with exponential backoff.",
        }
        .to_owned(),
        resolution: Some(ResolutionType::RetryLater),
        retry_after,
    })
}

/// The query parameters of a listing.
struct Query {
    user_id: Option<String>,
    vehicle_id: Option<String>,
    /// `None` when left out: the contract's default, live, applies.
    mode: Option<Mode>,
    number: u64,
    size: u64,
}

/// The parameters the contract defines, in the order they are checked.
const PARAMETERS: [&str; 5] = [
    "filter[userId]",
    "filter[vehicleId]",
    "filter[vehicle.mode]",
    "page[number]",
    "page[size]",
];

impl Query {
    /// Reads parameters with brackets raw or percent-encoded, as the contract's schemas
    /// allow: the filters are any strings (the empty one too, which matches only empty ids), the
    /// mode is `live` or `simulated`, page parameters are integers of at least 1 (and at
    /// most 2^63 − 1, what every JSON reader can take back in `meta`). A parameter given twice
    /// is refused, since none of them is an array; unknown ones are ignored.
    fn parse(query: &str) -> Result<Self, String> {
        let mut q = Query {
            user_id: None,
            vehicle_id: None,
            mode: None,
            number: 1,
            size: 10,
        };
        let mut seen = [false; PARAMETERS.len()];
        for (name, value) in form_urlencoded::parse(query.as_bytes()) {
            let Some(known) = PARAMETERS.iter().position(|p| *p == name) else {
                continue;
            };
            if std::mem::replace(&mut seen[known], true) {
                return Err(format!("{name} is given more than once."));
            }
            match known {
                0 => q.user_id = Some(value.into_owned()),
                1 => q.vehicle_id = Some(value.into_owned()),
                2 => {
                    q.mode =
                        Some(value.parse().map_err(|_| {
                            format!("{name} must be live or simulated, got {value:?}.")
                        })?)
                }
                3 => q.number = page_parameter(&name, &value)?,
                _ => q.size = page_parameter(&name, &value)?,
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

/// `page[number]` or `page[size]`: an integer (optional sign, decimal digits), at least 1.
fn page_parameter(name: &str, value: &str) -> Result<u64, String> {
    let digits = value.strip_prefix(['+', '-']).unwrap_or(value);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{name} must be an integer, got {value:?}."));
    }
    match value.parse::<i64>() {
        Ok(n) if n >= 1 => Ok(n.unsigned_abs()),
        Ok(n) => Err(format!("{name} must be at least 1, got {n}.")),
        Err(_) if value.starts_with('-') => Err(format!("{name} must be at least 1, got {value}.")),
        Err(_) => Err(format!("{name} must be at most {}, got {value}.", i64::MAX)),
    }
}

/// Answers a valid listing request from the current snapshot, after moving the data first
/// when the sandbox churns (every page request but the very first).
fn page(state: &State, query: &Query) -> Reply {
    let churn = usize::try_from(state.config.churn).unwrap_or(usize::MAX);
    if state.pages.fetch_add(1, Ordering::Relaxed) > 0 && churn > 0 {
        state.mutate(|d| d.churn(churn));
        state.churned.fetch_add(1, Ordering::Relaxed);
    }
    let dataset = state.snapshot();
    // A left-out mode is the contract's default, live: `page` reads it so.
    let filters = Filters {
        user_id: query.user_id.as_deref(),
        vehicle_id: query.vehicle_id.as_deref(),
        mode: query.mode,
    };
    let skip = usize::try_from((query.number - 1).saturating_mul(query.size)).unwrap_or(usize::MAX);
    let take = usize::try_from(query.size).unwrap_or(usize::MAX);
    let (total, on_page) = dataset.page(filters, skip, take);
    let total = total as u64;
    let last = total.div_ceil(query.size).max(1);
    let data = on_page.into_iter().map(wire::Item).collect();
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

/// A v3 error body; a 429 may also say when to come back, a 405 what is allowed, a 401
/// which scheme to authenticate with (RFC 9110 §11.6.1, RFC 6750 §3).
fn error(problem: &Problem, request_id: &str) -> Reply {
    let mut reply = json(problem.status, &ErrorBody::new(problem, request_id));
    let headers = reply.headers_mut();
    if let Some(secs) = problem.retry_after {
        headers.insert(header::RETRY_AFTER, header::HeaderValue::from(secs));
    }
    match problem.status {
        405 => {
            headers.insert(header::ALLOW, header::HeaderValue::from_static("GET"));
        }
        401 => {
            headers.insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
        }
        _ => {}
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
