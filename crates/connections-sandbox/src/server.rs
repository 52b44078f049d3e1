//! The HTTP side: `GET {prefix}/connections` per the API contract, plus fault injection.

use std::convert::Infallible;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use connections_core::error::{ErrorLinks, Resolution};
use connections_core::model::{OrderDirection, PagingLinks, PagingMeta};
use connections_core::{Connection, ErrorEntry, ErrorType, Mode, Owned, ResolutionType};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode, header};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Serialize;

use crate::SandboxConfig;
use crate::dataset::{Dataset, Filters};

/// What every request handler shares.
pub(crate) struct State {
    pub(crate) config: SandboxConfig,
    pub(crate) dataset: Arc<Dataset>,
    /// `scheme://host:port`, for absolute links.
    pub(crate) origin: String,
    requests: AtomicU64,
    pub(crate) injected: AtomicU64,
    pub(crate) limited: AtomicU64,
    started: Instant,
    /// (second since start, requests in it), for rate limiting.
    window: Mutex<(u64, u32)>,
}

impl State {
    pub(crate) fn new(config: SandboxConfig, dataset: Arc<Dataset>, origin: String) -> Self {
        State {
            config,
            dataset,
            origin,
            requests: AtomicU64::new(0),
            injected: AtomicU64::new(0),
            limited: AtomicU64::new(0),
            started: Instant::now(),
            window: Mutex::new((0, 0)),
        }
    }
}

/// The body of a page, borrowing the dataset's connections.
#[derive(Serialize)]
struct PageBody<'a> {
    data: Vec<&'a Connection<Owned>>,
    meta: PagingMeta<Owned>,
    links: PagingLinks<Owned>,
}

/// The v3 error body.
#[derive(Serialize)]
struct ErrorBody {
    errors: [ErrorEntry<Owned>; 1],
}

type Reply = Response<Full<Bytes>>;

/// Serves one request.
pub(crate) async fn handle(
    state: Arc<State>,
    request: Request<Incoming>,
) -> Result<Reply, Infallible> {
    let number = state.requests.fetch_add(1, Ordering::Relaxed);
    let request_id = format!("sbx-{:016x}", mix(state.config.seed, number));
    if !state.config.latency.is_zero() {
        tokio::time::sleep(state.config.latency).await;
    }
    let mut reply = route(&state, &request, number);
    if let Ok(value) = header::HeaderValue::from_str(&request_id) {
        reply.headers_mut().insert("sc-request-id", value);
    }
    Ok(reply)
}

fn route(state: &State, request: &Request<Incoming>, number: u64) -> Reply {
    let path = request.uri().path();
    let endpoint = format!("{}/connections", state.config.prefix);
    if path != endpoint {
        return error(
            404,
            ErrorType::ResourceNotFound,
            "NOT_FOUND",
            "Not Found",
            &format!("No route {path}; the connections endpoint is {endpoint}."),
            None,
        );
    }
    if request.method() != hyper::Method::GET {
        return error(
            405,
            ErrorType::Validation,
            "METHOD_NOT_ALLOWED",
            "Method Not Allowed",
            "Only GET is supported on this endpoint.",
            None,
        );
    }
    let expected = format!("Bearer {}", state.config.token);
    let authorized = request
        .headers()
        .get(header::AUTHORIZATION)
        .is_some_and(|v| v.as_bytes() == expected.as_bytes());
    if !authorized {
        return error(
            401,
            ErrorType::Authentication,
            "UNAUTHORIZED",
            "Unauthorized",
            "The Authorization token is missing or invalid.",
            Some(ResolutionType::Reauthenticate),
        );
    }
    if let Some(limit) = state.config.rate_limit
        && over_limit(state, limit)
    {
        let mut reply = error(
            429,
            ErrorType::RateLimit,
            "SMARTCAR_API",
            "Rate limit exceeded",
            "Too many requests to the sandbox; wait for the time in Retry-After.",
            Some(ResolutionType::RetryLater),
        );
        reply
            .headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
        state.limited.fetch_add(1, Ordering::Relaxed);
        return reply;
    }
    let roll = mix(state.config.seed ^ 0xfa17, number);
    if (roll % 1_000_000) as f64 / 1_000_000.0 < state.config.failure_rate {
        state.injected.fetch_add(1, Ordering::Relaxed);
        return if roll & (1 << 40) == 0 {
            error(
                503,
                ErrorType::Upstream,
                "SERVICE_UNAVAILABLE",
                "Service Unavailable",
                "Injected failure: the sandbox is pretending to be unavailable.",
                Some(ResolutionType::RetryLater),
            )
        } else {
            error(
                500,
                ErrorType::Server,
                "INTERNAL",
                "Internal Server Error",
                "Injected failure: an unexpected error occurred on the sandbox.",
                Some(ResolutionType::RetryLater),
            )
        };
    }
    match Query::parse(request.uri().query().unwrap_or("")) {
        Ok(query) => page(state, &query),
        Err(detail) => error(
            400,
            ErrorType::Validation,
            "BAD_REQUEST",
            "Bad Request",
            &detail,
            None,
        ),
    }
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

fn page(state: &State, query: &Query) -> Reply {
    let filters = Filters {
        user_id: query.user_id.as_deref(),
        vehicle_id: query.vehicle_id.as_deref(),
        mode: query.mode,
    };
    let matching = state.dataset.matching(filters);
    let total = matching.len() as u64;
    let last = total.div_ceil(query.size).max(1);
    let start =
        usize::try_from((query.number - 1).saturating_mul(query.size)).unwrap_or(usize::MAX);
    let take = usize::try_from(query.size).unwrap_or(usize::MAX);
    let data = matching
        .iter()
        .skip(start)
        .take(take)
        .map(|&i| &state.dataset.connections()[i as usize])
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
            page_number: i64::try_from(query.number).ok(),
            page_size: i64::try_from(query.size).ok(),
            total_count: i64::try_from(total).ok(),
            order_by: Some("createdAt".to_owned()),
            order_direction: Some(OrderDirection::Desc),
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

fn error(
    status: u16,
    kind: ErrorType<String>,
    code: &str,
    title: &str,
    detail: &str,
    resolution: Option<ResolutionType<String>>,
) -> Reply {
    let body = ErrorBody {
        errors: [ErrorEntry {
            status: status.to_string(),
            kind,
            code: code.to_owned(),
            title: title.to_owned(),
            detail: detail.to_owned(),
            resolution: resolution.map(|r| Resolution { kind: Some(r) }),
            suggested_user_message: None,
            links: Some(ErrorLinks {
                about: Some("https://smartcar.com/docs/errors/api-errors/v3".to_owned()),
            }),
            meta: None,
        }],
    };
    json(status, &body)
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

/// A well-spread hash of two numbers (splitmix64), for ids and fault rolls.
fn mix(seed: u64, n: u64) -> u64 {
    let mut z = seed.wrapping_add(n.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
