//! The listing engine ([`Listing`]) under random servers, faults, clocks and concurrency.
//!
//! A simulated transport keeps every [`SendRequest`] in flight until its random arrival time,
//! answers it from a scripted server that builds JSON bodies the way the API contract shapes
//! them, and advances a simulated clock to every `Wait`. The properties are checked while the
//! listing runs, so a failure names the step that broke them.
#![cfg(feature = "std")]
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::num::NonZeroU32;
use std::time::Duration;

use connections_core::listing::RECENT_PAGES;
use connections_core::{
    AccessToken, Action, BaseUrl, LinkError, ListConnections, Listing, ListingError,
    ListingOptions, Notice, Now, Owned, Page, PaginationError, Response, ResponseError, RetryAfter,
    RetryPolicy, SendRequest, THROTTLE_BASE_DELAY, THROTTLE_MAX_DELAY, UnixTime,
};
use proptest::prelude::*;

const BASE: &str = "https://vehicle.api.smartcar.com/v3";

/// The simulated wall clock at elapsed zero (2023-11-14T22:13:20Z).
const UNIX0: i64 = 1_700_000_000;

/// Far more polls than any scenario needs: reaching it means the listing does not end.
const MAX_POLLS: usize = 20_000;

/// The transport's own error, `E` of `Listing<E>`.
#[derive(Debug, PartialEq)]
struct Broken;

fn nz(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).unwrap()
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// Both clocks at `elapsed`: the wall clock moves with the monotonic one.
fn clock(elapsed: Duration) -> Now {
    let unix = UNIX0 + i64::try_from(elapsed.as_secs()).unwrap();
    Now::new(elapsed, UnixTime(unix))
}

// ---------------------------------------------------------------------------------------------
// The simulated server
// ---------------------------------------------------------------------------------------------

/// How the server writes its links; all of them name the same origin and endpoint.
#[derive(Clone, Copy, Debug)]
enum LinkStyle {
    /// `/connections?page[number]=2&page[size]=3`, as in the contract's examples.
    Relative,
    /// The full URL, percent-encoded brackets.
    Absolute,
    /// `//HOST:443/v3/connections?…`: another spelling of the same origin.
    NetworkPath,
    /// `?page[number]=2`, without a size (the request keeps its own).
    QueryOnly,
}

impl LinkStyle {
    fn link(self, n: u32, size: u32) -> String {
        match self {
            LinkStyle::Relative => format!("/connections?page[number]={n}&page[size]={size}"),
            LinkStyle::Absolute => {
                format!("{BASE}/connections?page%5Bnumber%5D={n}&page%5Bsize%5D={size}")
            }
            LinkStyle::NetworkPath => format!(
                "//VEHICLE.api.smartcar.com:443/v3/connections?page[size]={size}&page[number]={n}"
            ),
            LinkStyle::QueryOnly => format!("?page[number]={n}"),
        }
    }
}

/// A `next` link that breaks the pattern at one page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Anomaly {
    /// Jumps over a page: allowed, but leaves any read-ahead plan.
    Skip,
    /// Points back: refused as not advancing.
    Back,
    /// Points at another host: refused, the token must not go there.
    OtherOrigin,
    /// Has no `page[number]`.
    NoNumber,
    /// Points at another endpoint of the same host.
    OtherPath,
}

impl Anomaly {
    fn link(self, number: u32, size: u32, style: LinkStyle) -> String {
        match self {
            Anomaly::Skip => style.link(number + 2, size),
            Anomaly::Back => style.link(number.saturating_sub(1).max(1), size),
            Anomaly::OtherOrigin => format!(
                "https://evil.example/v3/connections?page[number]={}&page[size]={size}",
                number + 1
            ),
            Anomaly::NoNumber => format!("/connections?page[size]={size}"),
            Anomaly::OtherPath => format!("/users?page[number]={}", number + 1),
        }
    }

    /// The error a listing must end with once the page carrying this link is yielded.
    fn error(self, number: u32) -> Option<PaginationError> {
        match self {
            Anomaly::Skip => None,
            Anomaly::Back => Some(PaginationError::NotAdvancing {
                from: number,
                to: number.saturating_sub(1).max(1),
            }),
            Anomaly::OtherOrigin => Some(PaginationError::Link(LinkError::OtherOrigin)),
            Anomaly::NoNumber => Some(PaginationError::Link(LinkError::MissingPageNumber)),
            Anomaly::OtherPath => Some(PaginationError::Link(LinkError::OtherPath)),
        }
    }
}

/// How the server behaves when nothing goes wrong on the wire.
#[derive(Clone, Debug)]
struct Server {
    /// Connections at the start, newest first.
    items: usize,
    /// Whether connections carry an `id`.
    with_ids: bool,
    /// Whether `meta.totalCount` is sent.
    total: bool,
    links: LinkStyle,
    /// One odd `next` link, on this page.
    anomaly: Option<(u32, Anomaly)>,
    /// From this page on, every page shows this page's items (the server ignores
    /// `page[number]`), while the links go on.
    repeat_from: Option<u32>,
    /// `next` links never end.
    endless: bool,
    /// A new connection appears at the top when this many requests have been answered.
    inserts: Vec<usize>,
}

impl Server {
    fn new(items: usize) -> Self {
        Server {
            items,
            with_ids: true,
            total: true,
            links: LinkStyle::Relative,
            anomaly: None,
            repeat_from: None,
            endless: false,
            inserts: Vec::new(),
        }
    }
}

/// What goes wrong with one request.
#[derive(Clone, Copy, Debug)]
enum Fault {
    None,
    /// An error status with a JSON `errors` body and maybe a `Retry-After`.
    Status(u16, RetryAfterHeader),
    /// A proxy's HTML error page.
    HtmlError(u16),
    /// 200 with a body cut short.
    Malformed,
    /// 200 with an HTML page.
    NotJson,
    /// No response at all.
    Transport {
        retryable: bool,
    },
}

#[derive(Clone, Copy, Debug)]
enum RetryAfterHeader {
    Absent,
    Seconds(u64),
    /// An HTTP date this many seconds from the response's wall clock.
    Date(i64),
}

impl RetryAfterHeader {
    fn value(self, unix: i64) -> Option<String> {
        match self {
            RetryAfterHeader::Absent => None,
            RetryAfterHeader::Seconds(s) => Some(s.to_string()),
            RetryAfterHeader::Date(offset) => Some(http_date(unix + offset)),
        }
    }

    /// The wait the server asks for.
    fn wait(self) -> Option<Duration> {
        match self {
            RetryAfterHeader::Absent => None,
            RetryAfterHeader::Seconds(s) => Some(secs(s)),
            RetryAfterHeader::Date(offset) => Some(secs(u64::try_from(offset).unwrap_or(0))),
        }
    }
}

/// An IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`) for a Unix time.
fn http_date(unix: i64) -> String {
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (days, secs) = (unix.div_euclid(86_400), unix.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let (era, doe) = (z.div_euclid(146_097), z.rem_euclid(146_097));
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let weekday = usize::try_from((days + 4).rem_euclid(7)).unwrap(); // 1970-01-01: Thursday
    let month = usize::try_from(month - 1).unwrap();
    format!(
        "{}, {day:02} {} {year} {:02}:{:02}:{:02} GMT",
        DAYS[weekday],
        MONTHS[month],
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// What the wire hands back.
enum Reply {
    Http {
        status: u16,
        headers: Vec<(&'static str, String)>,
        body: String,
    },
    Broken {
        retryable: bool,
    },
}

/// The server's data as it changes during a listing.
struct Data {
    server: Server,
    ids: Vec<String>,
    answered: usize,
}

impl Data {
    fn new(server: &Server) -> Self {
        Data {
            server: server.clone(),
            ids: (0..server.items).map(|i| format!("c{i}")).collect(),
            answered: 0,
        }
    }

    /// Answers `url` with `fault`; `tag` goes into `sc-request-id`.
    fn respond(&mut self, url: &str, fault: Fault, unix: i64, tag: String) -> Reply {
        if self.server.inserts.contains(&self.answered) {
            self.ids.insert(0, format!("new{}", self.answered));
        }
        self.answered += 1;
        let (number, size) = page_params(url);
        let json = ("content-type", "application/json".to_owned());
        let html = ("content-type", "text/html; charset=utf-8".to_owned());
        let mut headers = vec![("sc-request-id", tag)];
        let (status, body) = match fault {
            Fault::None => {
                headers.push(json);
                (200, self.page(number, size))
            }
            Fault::Status(status, retry_after) => {
                headers.push(json);
                if let Some(value) = retry_after.value(unix) {
                    headers.push(("retry-after", value));
                }
                (status, error_body(status))
            }
            Fault::HtmlError(status) => {
                headers.push(html);
                (
                    status,
                    "<html><body>503 Service Unavailable</body></html>".into(),
                )
            }
            Fault::Malformed => {
                headers.push(json);
                (200, r#"{"data":[{"id":"c0","type":"connection"},"#.into())
            }
            Fault::NotJson => {
                headers.push(html);
                (200, "<html><body>Please sign in</body></html>".into())
            }
            Fault::Transport { retryable } => return Reply::Broken { retryable },
        };
        Reply::Http {
            status,
            headers,
            body,
        }
    }

    /// Page `number` of `size` items, as `{data, meta, links}` JSON.
    fn page(&self, number: u32, size: u32) -> String {
        let shown = self.server.repeat_from.map_or(number, |r| number.min(r));
        let size_n = usize::try_from(size).unwrap();
        let start = usize::try_from(shown - 1).unwrap().saturating_mul(size_n);
        let data: Vec<String> = self
            .ids
            .iter()
            .skip(start)
            .take(size_n)
            .map(|id| item(self.server.with_ids.then_some(id)))
            .collect();
        let last = u32::try_from(self.ids.len().div_ceil(size_n).max(1)).unwrap();
        let style = self.server.links;
        let link = |n: u32| Some(style.link(n, size));
        let next = match self.server.anomaly {
            Some((at, anomaly)) if at == number => Some(anomaly.link(number, size, style)),
            _ if number < last || self.server.endless => link(number + 1),
            _ => None,
        };
        let total = if self.server.total {
            format!(r#","totalCount":{}"#, self.ids.len())
        } else {
            String::new()
        };
        let quote = |l: Option<String>| l.map_or("null".to_owned(), |l| format!("\"{l}\""));
        format!(
            r#"{{"data":[{}],"meta":{{"pageNumber":{number},"pageSize":{size}{total},"orderBy":"createdAt","orderDirection":"DESC"}},"links":{{"self":{},"first":{},"prev":{},"next":{},"last":{}}}}}"#,
            data.join(","),
            quote(link(number)),
            quote(link(1)),
            quote((number > 1).then(|| style.link(number - 1, size))),
            quote(next),
            quote(link(last)),
        )
    }
}

/// One connection, with or without an id.
fn item(id: Option<&String>) -> String {
    let id = id.map_or(String::new(), |id| format!(r#""id":"{id}","#));
    format!(
        r#"{{{id}"type":"connection","attributes":{{"permissions":["read_vehicle_info"],"vehicle":{{"make":"KIA","year":2022,"mode":"live"}}}}}}"#
    )
}

/// A contract-shaped `errors` body.
fn error_body(status: u16) -> String {
    let (kind, code) = match status {
        429 => ("RATE_LIMIT", "VEHICLE"),
        401 => ("AUTHENTICATION", "UNAUTHORIZED"),
        404 => ("RESOURCE_NOT_FOUND", "PATH"),
        430 => ("BILLING", "VEHICLE_LIMIT"),
        400 => ("VALIDATION", "PARAMETER"),
        _ => ("SERVER", "INTERNAL"),
    };
    format!(
        r#"{{"errors":[{{"status":"{status}","type":"{kind}","code":"{code}","title":"Simulated","detail":"A simulated HTTP {status}.","resolution":{{"type":"RETRY_LATER"}}}}]}}"#
    )
}

/// `page[number]` and `page[size]` of a request URL, with the API's defaults.
fn page_params(url: &str) -> (u32, u32) {
    let query = url.split_once('?').map_or("", |(_, q)| q);
    let param = |name: &str| {
        form_urlencoded::parse(query.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.parse::<u32>().unwrap())
    };
    (
        param("page[number]").unwrap_or(1),
        param("page[size]").unwrap_or(10),
    )
}

// ---------------------------------------------------------------------------------------------
// The simulated transport
// ---------------------------------------------------------------------------------------------

/// The transport's luck: the i-th request gets `faults[i]` and takes `latencies[i]` ms, the
/// i-th wake-up from a `Wait` comes `oversleep[i]` ms late; past the end, no fault, 50 ms
/// and on time.
#[derive(Clone, Debug, Default)]
struct Script {
    faults: Vec<Fault>,
    latencies: Vec<u16>,
    oversleep: Vec<u16>,
}

#[derive(Clone, Debug)]
struct Scenario {
    server: Server,
    page_size: Option<u32>,
    concurrency: u32,
    max_attempts: u32,
    max_pages: u32,
    script: Script,
    seed: u64,
}

impl Scenario {
    fn new(server: Server, page_size: Option<u32>) -> Self {
        Scenario {
            server,
            page_size,
            concurrency: 1,
            max_attempts: 3,
            max_pages: 1000,
            script: Script::default(),
            seed: 7,
        }
    }

    fn policy(&self) -> RetryPolicy {
        RetryPolicy::new().with_max_attempts(self.max_attempts)
    }
}

/// A page the listing yielded.
#[derive(Debug)]
struct Yielded {
    number: u32,
    /// `None` for connections without an id.
    ids: Vec<Option<String>>,
    total: Option<i64>,
}

/// A request the listing sent.
#[derive(Debug)]
struct Sent {
    at: Duration,
    url: String,
    attempt: u32,
}

/// Everything a listing did, in order.
#[derive(Debug)]
struct Run {
    pages: Vec<Yielded>,
    notices: Vec<Notice>,
    sends: Vec<Sent>,
    end: Result<(), ListingError<Broken>>,
}

impl Run {
    fn ids(&self) -> Vec<String> {
        self.pages
            .iter()
            .flat_map(|p| p.ids.iter().flatten().cloned())
            .collect()
    }

    fn connections(&self) -> usize {
        self.pages.iter().map(|p| p.ids.len()).sum()
    }
}

/// A request on the wire.
struct Flight {
    send: SendRequest,
    url: String,
    fault: Fault,
    arrives: Duration,
}

/// How long a retry notice may say to wait, by the retry policy's rules.
#[derive(Debug)]
enum WaitRule {
    /// The server's `Retry-After`, exactly.
    Exactly(Duration),
    /// A 429 without `Retry-After`: the pacer's backoff, a second at least, and at most a
    /// minute or `ceiling`: the time since the first 429 (a pace learned from the 429s may
    /// space requests further apart than a minute, and a wait of one interval is then
    /// right), or what is left of a pause a `Retry-After` asked for.
    RateLimited { ceiling: Duration },
    /// Full-jitter backoff.
    Backoff { attempt: u32 },
}

/// What the first action after handing a reply to the listing must be.
#[derive(Debug)]
enum Expect {
    Anything,
    /// Not a retry notice: the policy gives up on this reply, or it was a page.
    NoRetry,
    Retry {
        page: u32,
        attempt: u32,
        status: Option<u16>,
        wait: WaitRule,
    },
}

/// The backoff ceiling after `attempt` attempts: `min(max_delay, base * 2^(attempt-1))`.
fn ceiling(policy: &RetryPolicy, attempt: u32) -> Duration {
    let doubled = policy
        .base_delay()
        .saturating_mul(1 << attempt.saturating_sub(1).min(20));
    doubled.min(policy.max_delay())
}

/// What the retry policy must decide about `fault` on `attempt`, as the first action.
fn expectation(
    fault: Fault,
    send: &SendRequest,
    policy: &RetryPolicy,
    tracked: bool,
    since_first_429: Duration,
) -> Expect {
    let (status, retry_after) = match fault {
        Fault::Status(status @ (429 | 500 | 502 | 503 | 504), ra) => (Some(status), ra.wait()),
        Fault::HtmlError(status) => (Some(status), None),
        Fault::Transport { retryable: true } => (None, None),
        _ => return Expect::NoRetry,
    };
    let attempt = send.attempt;
    // A 429 is waited out without spending an attempt; other failures spend one.
    let spent = status != Some(429) && attempt >= policy.max_attempts();
    if spent || retry_after.is_some_and(|w| w > policy.max_retry_after()) {
        return Expect::NoRetry;
    }
    if !tracked {
        return Expect::Anything;
    }
    let wait = match (retry_after, status) {
        (Some(wait), _) => WaitRule::Exactly(wait),
        (None, Some(429)) => WaitRule::RateLimited {
            ceiling: since_first_429.max(THROTTLE_MAX_DELAY),
        },
        (None, _) => WaitRule::Backoff { attempt },
    };
    Expect::Retry {
        page: send.page(),
        attempt,
        status,
        wait,
    }
}

fn check_expectation(
    expect: Expect,
    action: &Action<Broken>,
    policy: &RetryPolicy,
) -> Result<(), TestCaseError> {
    let retrying = match action {
        Action::Notice(Notice::Retrying {
            page,
            attempt,
            wait,
            status,
        }) => Some((*page, *attempt, *wait, *status)),
        _ => None,
    };
    match expect {
        Expect::Anything => {}
        Expect::NoRetry => prop_assert!(retrying.is_none(), "unexpected retry: {action:?}"),
        Expect::Retry {
            page,
            attempt,
            status,
            wait: rule,
        } => {
            let Some((p, a, wait, s)) = retrying else {
                return Err(TestCaseError::fail(format!(
                    "page {page} attempt {attempt} ({status:?}) should be retried, got {action:?}"
                )));
            };
            prop_assert_eq!((p, a, s), (page, attempt, status));
            match rule {
                WaitRule::Exactly(want) => prop_assert_eq!(wait, want, "Retry-After not obeyed"),
                WaitRule::RateLimited { ceiling } => {
                    prop_assert!(
                        (THROTTLE_BASE_DELAY..=ceiling).contains(&wait),
                        "a 429 without Retry-After waited {wait:?}"
                    );
                }
                WaitRule::Backoff { attempt } => prop_assert!(wait <= ceiling(policy, attempt)),
            }
        }
    }
    Ok(())
}

/// The simulated transport and the rules it checks as the listing runs.
struct Sim<'s> {
    s: &'s Scenario,
    policy: RetryPolicy,
    concurrency: usize,
    listing: Listing<Broken>,
    token: AccessToken<'static>,
    data: Data,
    now: Duration,
    flights: Vec<Flight>,
    pages: Vec<Yielded>,
    notices: Vec<Notice>,
    sends: Vec<Sent>,
    wakes: usize,
    sends_per_url: BTreeMap<String, u32>,
    throttled_per_url: BTreeMap<String, u32>,
    /// When the first 429 was answered.
    first_429: Option<Duration>,
    /// Until when the 429s' `Retry-After`s asked the client to pause.
    asked_pause_until: Duration,
    /// Page numbers answered with a page and not yet yielded.
    arrived: BTreeSet<u32>,
    /// The page the last yielded page's `next` names: pages before it are no longer wanted.
    wanted_from: u32,
    /// Every id yielded, and the ids of the last `RECENT_PAGES` pages: an id comes at most
    /// once while the data stands still, and never again within that window when it moves.
    seen_ids: BTreeSet<String>,
    recent: VecDeque<Vec<String>>,
    notices_since_yield: Vec<Notice>,
    /// No request may be sent before this: the latest 429's wait.
    paused_until: Duration,
    /// What the next action must be after a reply was handed over.
    expect: Expect,
    /// The page just yielded carried a refused link: the next action is this error.
    must_fail: Option<PaginationError>,
    last_was_yield: bool,
}

/// Runs a whole listing through the simulated transport, checking at every step the
/// properties that hold for every scenario, then what must hold after the end.
fn run(s: &Scenario) -> Result<Run, TestCaseError> {
    let mut sim = Sim::new(s);
    let mut polls = 0;
    let end = loop {
        polls += 1;
        prop_assert!(polls < MAX_POLLS, "no end after {} polls", MAX_POLLS);
        let action = sim.listing.poll(clock(sim.now));
        sim.check_first(&action)?;
        let was_yield = std::mem::replace(&mut sim.last_was_yield, false);
        match action {
            Action::Send(send) => sim.on_send(send)?,
            Action::Yield(listed) => {
                sim.on_yield(&listed.value, listed.status, listed.request_id)?
            }
            Action::Notice(notice) => sim.on_notice(notice),
            Action::Wait(until) => sim.on_wait(until)?,
            Action::Done => break Ok(()),
            Action::Failed(error) => {
                sim.on_failed(&error, was_yield)?;
                break Err(error);
            }
        }
    };
    sim.after_end()?;
    Ok(Run {
        pages: sim.pages,
        notices: sim.notices,
        sends: sim.sends,
        end,
    })
}

impl<'s> Sim<'s> {
    fn new(s: &'s Scenario) -> Self {
        let mut builder = ListConnections::builder();
        if let Some(size) = s.page_size {
            builder = builder.page_size(size);
        }
        let request = builder.build().unwrap();
        let policy = s.policy();
        let options = ListingOptions::new()
            .with_retry_policy(policy)
            .with_max_pages(nz(s.max_pages))
            .with_concurrency(nz(s.concurrency));
        let base = BaseUrl::parse(BASE).unwrap();
        Sim {
            s,
            policy,
            concurrency: usize::try_from(options.concurrency().get()).unwrap(),
            listing: Listing::new(base, &request, options, s.seed),
            token: AccessToken::new("sim-token").unwrap(),
            data: Data::new(&s.server),
            now: Duration::ZERO,
            flights: Vec::new(),
            pages: Vec::new(),
            notices: Vec::new(),
            sends: Vec::new(),
            wakes: 0,
            sends_per_url: BTreeMap::new(),
            throttled_per_url: BTreeMap::new(),
            first_429: None,
            asked_pause_until: Duration::ZERO,
            arrived: BTreeSet::new(),
            wanted_from: 1,
            seen_ids: BTreeSet::new(),
            recent: VecDeque::new(),
            notices_since_yield: Vec::new(),
            paused_until: Duration::ZERO,
            expect: Expect::Anything,
            must_fail: None,
            last_was_yield: false,
        }
    }

    /// What the action right after a reply or a refused link must be.
    fn check_first(&mut self, action: &Action<Broken>) -> Result<(), TestCaseError> {
        let expect = std::mem::replace(&mut self.expect, Expect::Anything);
        check_expectation(expect, action, &self.policy)?;
        if let Some(error) = self.must_fail.take() {
            prop_assert!(
                matches!(action, Action::Failed(ListingError::Pagination(e)) if *e == error),
                "the page with the refused link should be followed by {error:?}, got {action:?}"
            );
        }
        Ok(())
    }

    /// Same origin, outside any 429 pause, within the retry budget and the read-ahead bound.
    fn on_send(&mut self, send: SendRequest) -> Result<(), TestCaseError> {
        let mut url = String::new();
        let parts = send.request.parts(self.listing.base(), &self.token);
        parts.write_url(&mut url).unwrap();
        prop_assert!(
            url.starts_with(&format!("{BASE}/connections")),
            "request to another origin: {url}"
        );
        let (now, paused_until) = (self.now, self.paused_until);
        prop_assert!(
            now >= paused_until,
            "sent at {now:?} during a 429 pause until {paused_until:?}"
        );
        // A 429 spends no attempt: each one the URL got allows one more send.
        let throttled = self.throttled_per_url.get(&url).copied().unwrap_or(0);
        let budget = self.policy.max_attempts() + throttled;
        let count = self.sends_per_url.entry(url.clone()).or_default();
        *count += 1;
        prop_assert!(
            *count <= budget && send.attempt <= budget,
            "{url} sent {count} times (attempt {}), budget {budget}",
            send.attempt
        );
        let i = self.sends.len();
        self.sends.push(Sent {
            at: now,
            url: url.clone(),
            attempt: send.attempt,
        });
        let script = &self.s.script;
        let latency = script.latencies.get(i).copied().unwrap_or(50);
        self.flights.push(Flight {
            send,
            url,
            fault: script.faults.get(i).copied().unwrap_or(Fault::None),
            arrives: now + Duration::from_millis(latency.into()),
        });
        self.check_read_ahead()
    }

    /// Requests in flight plus pages waiting to be yielded stay within the concurrency.
    fn check_read_ahead(&self) -> Result<(), TestCaseError> {
        let (flights, arrived) = (self.flights.len(), &self.arrived);
        prop_assert!(
            flights + arrived.len() <= self.concurrency,
            "read-ahead: {flights} in flight + pages {arrived:?} waiting > {}",
            self.concurrency
        );
        Ok(())
    }

    /// In order, each id once, the notices that explain it told first.
    fn on_yield(
        &mut self,
        page: &Page<Owned>,
        status: u16,
        request_id: Option<String>,
    ) -> Result<(), TestCaseError> {
        let meta = page.meta.as_ref().unwrap();
        let number = u32::try_from(meta.page_number.unwrap()).unwrap();
        let total = meta.total_count;
        let previous = self.pages.last();
        if let Some(before) = previous.map(|p| p.number) {
            prop_assert!(number > before, "page {number} yielded after {before}");
        }
        prop_assert_eq!(status, 200);
        let tag = request_id.unwrap_or_default();
        prop_assert!(
            tag.starts_with(&format!("p{number}-")),
            "{tag} on page {number}"
        );
        let ids: Vec<Option<String>> = page.connections().iter().map(|c| c.id.clone()).collect();
        let data_moves = !self.s.server.inserts.is_empty() || self.s.server.repeat_from.is_some();
        for id in ids.iter().flatten() {
            let again = !self.seen_ids.insert(id.clone());
            prop_assert!(!again || data_moves, "{id} yielded twice");
            let repeat = self.recent.iter().flatten().any(|seen| seen == id);
            prop_assert!(!repeat, "{id} yielded again within {RECENT_PAGES} pages");
        }
        // A total that moved between yielded pages is told before the page.
        if let (Some(before), Some(after)) = (previous.and_then(|p| p.total), total)
            && before != after
        {
            let told = self.notices_since_yield.iter().any(|n| {
                matches!(*n, Notice::TotalChanged { page, before: b, after: a, .. }
                    if page == number && b == before && a == after)
            });
            prop_assert!(told, "total {before} -> {after} at page {number} not told");
        }
        for notice in self.notices_since_yield.drain(..) {
            if let Notice::Repeated { page, skipped, .. } = notice {
                prop_assert!(page == number && skipped > 0, "{notice:?} on {number}");
            }
        }
        // Pages before the one `next` names are yielded or dropped, no longer waiting.
        self.wanted_from = page
            .next_link()
            .and_then(|link| self.listing.base().resolve_page_link(link).ok())
            .map_or(u32::MAX, |link| link.number.get());
        let wanted_from = self.wanted_from;
        self.arrived.retain(|&p| p >= wanted_from);
        if let Some((at, anomaly)) = self.s.server.anomaly
            && at == number
        {
            self.must_fail = anomaly.error(number);
        }
        self.recent
            .push_back(ids.iter().flatten().cloned().collect());
        if self.recent.len() > RECENT_PAGES {
            self.recent.pop_front();
        }
        self.pages.push(Yielded { number, ids, total });
        self.last_was_yield = true;
        Ok(())
    }

    /// A 429's retry notice starts a pause for every request.
    fn on_notice(&mut self, notice: Notice) {
        if let Notice::Retrying {
            status: Some(429),
            wait,
            ..
        } = notice
        {
            self.paused_until = self.paused_until.max(self.now + wait);
        }
        self.notices_since_yield.push(notice);
        self.notices.push(notice);
    }

    /// Sleeps until `until` (sometimes late) or until the next answer arrives, whichever is
    /// first; a `Wait` must name a future instant, or have something in flight.
    fn on_wait(&mut self, until: Option<Duration>) -> Result<(), TestCaseError> {
        let now = self.now;
        if let Some(until) = until {
            prop_assert!(until > now, "Wait({until:?}) at {now:?}: already due");
        }
        let first = self
            .flights
            .iter()
            .enumerate()
            .min_by_key(|(_, f)| f.arrives)
            .map(|(i, f)| (i, f.arrives));
        let wake = until.filter(|&u| first.is_none_or(|(_, at)| u < at));
        match (wake, first) {
            (Some(until), _) => {
                let late = self.s.script.oversleep.get(self.wakes).copied();
                self.wakes += 1;
                self.now = until + Duration::from_millis(late.unwrap_or(0).into());
            }
            (None, Some((i, at))) => {
                self.now = now.max(at);
                let flight = self.flights.remove(i);
                // A jump in the links drops fetches, whose answers are then ignored.
                let jumps = matches!(self.s.server.anomaly, Some((_, Anomaly::Skip)));
                let tracked = !self.listing.is_finished() && !jumps;
                // A request sent before a 429 arrived waits out the pause that 429 began.
                let since_first_429 = self
                    .now
                    .saturating_sub(self.first_429.unwrap_or(self.now))
                    .max(self.asked_pause_until.saturating_sub(self.now));
                self.expect = expectation(
                    flight.fault,
                    &flight.send,
                    &self.policy,
                    tracked,
                    since_first_429,
                );
                let page = flight.send.page();
                if matches!(flight.fault, Fault::None) && page >= self.wanted_from {
                    self.arrived.insert(page);
                }
                self.deliver(flight);
                self.check_read_ahead()?;
            }
            (None, None) => {
                return Err(TestCaseError::fail(
                    "Wait(None) with nothing in flight: the listing stalls",
                ));
            }
        }
        Ok(())
    }

    /// A refused link ends the listing right after its page; a repeated page is not yielded.
    fn on_failed(
        &self,
        error: &ListingError<Broken>,
        was_yield: bool,
    ) -> Result<(), TestCaseError> {
        match error {
            ListingError::Pagination(PaginationError::RepeatedPage { page }) => {
                let last = self.pages.last().map(|p| p.number);
                prop_assert!(last != Some(*page), "the repeated page {page} was yielded");
            }
            ListingError::Pagination(e) => {
                prop_assert!(was_yield, "{e:?} without the page that carried it");
            }
            _ => {}
        }
        Ok(())
    }

    /// After the end, late answers are ignored and nothing is ever sent again.
    fn after_end(&mut self) -> Result<(), TestCaseError> {
        prop_assert!(self.listing.is_finished());
        for flight in std::mem::take(&mut self.flights) {
            self.now = self.now.max(flight.arrives);
            self.deliver(flight);
            let action = self.listing.poll(clock(self.now));
            prop_assert!(matches!(action, Action::Done), "after the end: {action:?}");
        }
        for later in [0, 1, 3600] {
            let action = self.listing.poll(clock(self.now + secs(later)));
            prop_assert!(matches!(action, Action::Done), "after the end: {action:?}");
        }
        Ok(())
    }

    /// Hands the server's answer to `flight` to the listing.
    fn deliver(&mut self, flight: Flight) {
        if let Fault::Status(429, retry_after) = flight.fault {
            self.first_429.get_or_insert(self.now);
            if let Some(wait) = retry_after.wait() {
                self.asked_pause_until = self.asked_pause_until.max(self.now + wait);
            }
            *self
                .throttled_per_url
                .entry(flight.url.clone())
                .or_default() += 1;
        }
        let at = clock(self.now);
        let tag = format!("p{}-{}", flight.send.page(), flight.send.attempt);
        match self.data.respond(&flight.url, flight.fault, at.unix.0, tag) {
            Reply::Broken { retryable } => {
                self.listing
                    .handle_failure(flight.send.id, Broken, retryable, at);
            }
            Reply::Http {
                status,
                headers,
                body,
            } => {
                let response = headers.iter().fold(
                    Response::new(status, body.as_bytes()),
                    |r, (name, value)| r.header(name, value),
                );
                self.listing.handle_response(flight.send.id, &response, at);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Strategies
// ---------------------------------------------------------------------------------------------

fn link_style() -> impl Strategy<Value = LinkStyle> {
    prop_oneof![
        Just(LinkStyle::Relative),
        Just(LinkStyle::Absolute),
        Just(LinkStyle::NetworkPath),
        Just(LinkStyle::QueryOnly),
    ]
}

fn anomaly() -> impl Strategy<Value = Anomaly> {
    prop_oneof![
        3 => Just(Anomaly::Skip),
        1 => Just(Anomaly::Back),
        2 => Just(Anomaly::OtherOrigin),
        1 => Just(Anomaly::NoNumber),
        1 => Just(Anomaly::OtherPath),
    ]
}

fn server() -> impl Strategy<Value = Server> {
    (
        0usize..=24,
        prop::bool::weighted(0.8),
        any::<bool>(),
        link_style(),
        prop::option::weighted(0.35, (1u32..=6, anomaly())),
        prop::option::weighted(0.15, 1u32..=4),
        prop::bool::weighted(0.15),
        prop::collection::vec(0usize..30, 0..=3),
    )
        .prop_map(
            |(items, with_ids, total, links, anomaly, repeat_from, endless, inserts)| Server {
                items,
                with_ids,
                total,
                links,
                anomaly,
                repeat_from,
                endless,
                inserts,
            },
        )
}

fn retry_after() -> impl Strategy<Value = RetryAfterHeader> {
    prop_oneof![
        3 => Just(RetryAfterHeader::Absent),
        3 => (0u64..=8).prop_map(RetryAfterHeader::Seconds),
        1 => (61u64..=3600).prop_map(RetryAfterHeader::Seconds),
        3 => (-3i64..=8).prop_map(RetryAfterHeader::Date),
    ]
}

fn fault() -> impl Strategy<Value = Fault> {
    prop_oneof![
        30 => Just(Fault::None),
        6 => retry_after().prop_map(|ra| Fault::Status(429, ra)),
        4 => (prop::sample::select(vec![500u16, 502, 503, 504]), retry_after())
            .prop_map(|(status, ra)| Fault::Status(status, ra)),
        1 => prop::sample::select(vec![400u16, 401, 404, 430, 501])
            .prop_map(|status| Fault::Status(status, RetryAfterHeader::Absent)),
        1 => Just(Fault::HtmlError(503)),
        1 => Just(Fault::Malformed),
        1 => Just(Fault::NotJson),
        3 => any::<bool>().prop_map(|retryable| Fault::Transport { retryable }),
    ]
}

fn script(faults: impl Strategy<Value = Fault>) -> impl Strategy<Value = Script> {
    (
        prop::collection::vec(faults, 0..60),
        prop::collection::vec(0u16..3000, 0..60),
        prop::collection::vec(prop_oneof![3 => Just(0u16), 1 => 0u16..2000], 0..20),
    )
        .prop_map(|(faults, latencies, oversleep)| Script {
            faults,
            latencies,
            oversleep,
        })
}

fn scenario() -> impl Strategy<Value = Scenario> {
    (
        server(),
        prop_oneof![4 => (1u32..=6).prop_map(Some), 1 => Just(None)],
        prop_oneof![Just(1u32), 2u32..=6],
        1u32..=4,
        script(fault()),
        any::<u64>(),
    )
        .prop_map(
            |(server, page_size, concurrency, max_attempts, script, seed)| Scenario {
                server,
                page_size,
                concurrency,
                max_attempts,
                max_pages: 15,
                script,
                seed,
            },
        )
}

/// A well-behaved server and a network that only delays.
fn fault_free() -> impl Strategy<Value = Scenario> {
    (
        0usize..=40,
        prop::option::of(1u32..=7),
        any::<bool>(),
        link_style(),
        prop::sample::select(vec![1u32, 8]),
        script(Just(Fault::None)),
        any::<u64>(),
    )
        .prop_map(
            |(items, page_size, total, links, concurrency, script, seed)| Scenario {
                server: Server {
                    total,
                    links,
                    ..Server::new(items)
                },
                concurrency,
                script,
                seed,
                ..Scenario::new(Server::new(0), page_size)
            },
        )
}

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Every scenario: it ends; no request leaves the base origin or the retry budget;
    /// retries wait what the policy and the server say; a 429 holds every request; read-ahead
    /// stays within the concurrency; pages come once, in order, without repeated ids; a
    /// refused link ends the listing right after its page; and after the end nothing happens.
    /// (All of these are checked step by step inside `run`.)
    #[test]
    fn every_listing_keeps_the_rules(s in scenario()) {
        let run = run(&s)?;
        // A cross-origin link is never followed: it ends the listing, after its page.
        if let Some((at, Anomaly::OtherOrigin)) = s.server.anomaly
            && run.pages.iter().any(|p| p.number == at)
        {
            prop_assert!(matches!(
                run.end,
                Err(ListingError::Pagination(PaginationError::Link(LinkError::OtherOrigin)))
            ));
            prop_assert_eq!(run.pages.last().map(|p| p.number), Some(at));
        }
        prop_assert!(run.sends.iter().all(|sent| !sent.url.contains("evil")));
    }

    /// Nothing goes wrong on the wire: the listing yields exactly the server's connections,
    /// in order, sending each page once, sequentially or eight at a time.
    #[test]
    fn a_fault_free_listing_yields_exactly_the_servers_ids(s in fault_free()) {
        let run = run(&s)?;
        prop_assert!(run.end.is_ok(), "{:?}", run.end);
        let want: Vec<String> = (0..s.server.items).map(|i| format!("c{i}")).collect();
        prop_assert_eq!(run.ids(), want);
        prop_assert!(run.notices.is_empty(), "{:?}", run.notices);
        let urls: BTreeSet<&str> = run.sends.iter().map(|sent| sent.url.as_str()).collect();
        prop_assert_eq!(urls.len(), run.sends.len(), "a page was sent twice");
    }

    /// The same without ids: every connection is yielded, and none is taken for a repeat.
    #[test]
    fn a_fault_free_listing_without_ids_yields_every_connection(mut s in fault_free()) {
        s.server.with_ids = false;
        let run = run(&s)?;
        prop_assert!(run.end.is_ok(), "{:?}", run.end);
        prop_assert_eq!(run.connections(), s.server.items);
    }

    /// The dates this file writes are the dates the core reads.
    #[test]
    fn http_dates_round_trip(unix in 0i64..4_102_444_800) {
        prop_assert_eq!(RetryAfter::parse(&http_date(unix)), Ok(RetryAfter::At(UnixTime(unix))));
    }
}

// ---------------------------------------------------------------------------------------------
// Examples
// ---------------------------------------------------------------------------------------------

fn ids(range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|i| format!("c{i}")).collect()
}

/// A connection created at the top between pages 1 and 2 pushes c1 onto page 2: it is left
/// out there, and both the repeat and the new total are told.
#[test]
fn data_that_moves_is_left_out_and_reported() {
    let server = Server {
        inserts: vec![1],
        ..Server::new(6)
    };
    let run = run(&Scenario::new(server, Some(2))).unwrap();
    assert!(run.end.is_ok(), "{:?}", run.end);
    assert_eq!(run.ids(), ids(0..6));
    assert_eq!(
        run.notices,
        [
            Notice::TotalChanged {
                page: 2,
                before: 6,
                after: 7,
                first: true,
            },
            Notice::Repeated {
                page: 2,
                skipped: 1,
                first: false,
            },
            Notice::Moved {
                total_changes: 1,
                repeated: 1,
            },
        ]
    );
}

/// Items without ids cannot be told apart, so identical pages of them are all yielded and
/// never taken for a server that ignores `page[number]`.
#[test]
fn pages_without_ids_never_cause_a_repeated_page_error() {
    for total in [true, false] {
        let server = Server {
            with_ids: false,
            total,
            repeat_from: Some(1),
            ..Server::new(6)
        };
        let run = run(&Scenario::new(server, Some(2))).unwrap();
        assert!(run.end.is_ok(), "total {total}: {:?}", run.end);
        assert_eq!(run.pages.len(), 3);
        assert_eq!(run.connections(), 6);
    }
}

/// The same ids again on the next page (with an unchanged total) is a server ignoring
/// `page[number]`: the listing stops instead of looping, without yielding the repeat.
#[test]
fn a_repeated_page_with_ids_stops_the_listing() {
    let server = Server {
        repeat_from: Some(1),
        ..Server::new(6)
    };
    let run = run(&Scenario::new(server, Some(2))).unwrap();
    assert!(matches!(
        run.end,
        Err(ListingError::Pagination(PaginationError::RepeatedPage {
            page: 2
        }))
    ));
    assert_eq!(run.ids(), ids(0..2));
}

/// A `next` link to another host is never followed: the listing yields the page that carried
/// it, then fails with `Link(OtherOrigin)`; every request, read-ahead included, went to the base.
#[test]
fn a_cross_origin_next_link_ends_the_listing_after_its_page() {
    for concurrency in [1, 4] {
        let server = Server {
            anomaly: Some((2, Anomaly::OtherOrigin)),
            ..Server::new(9)
        };
        let s = Scenario {
            concurrency,
            ..Scenario::new(server, Some(2))
        };
        let run = run(&s).unwrap();
        assert!(
            matches!(
                run.end,
                Err(ListingError::Pagination(PaginationError::Link(
                    LinkError::OtherOrigin
                )))
            ),
            "{:?}",
            run.end
        );
        assert_eq!(run.ids(), ids(0..4));
        assert!(run.sends.iter().all(|s| s.url.starts_with(BASE)));
    }
}

/// No page size given: the listing asks for 100 a page, and 12,345 connections (124 pages)
/// complete even under a page cap of 10, because `meta.totalCount` sets the cap.
#[test]
fn a_large_listing_asks_for_100_a_page_and_completes() {
    for (max_pages, concurrency) in [(1000, 1), (10, 8)] {
        let s = Scenario {
            max_pages,
            concurrency,
            ..Scenario::new(Server::new(12_345), None)
        };
        let run = run(&s).unwrap();
        assert!(run.end.is_ok(), "cap {max_pages}: {:?}", run.end);
        assert!(
            run.sends[0].url.ends_with("page%5Bsize%5D=100"),
            "{}",
            run.sends[0].url
        );
        assert_eq!(run.pages.len(), 124);
        assert_eq!(run.ids(), ids(0..12_345));
    }
}

/// `meta.totalCount` says 3 pages but the links go on: the listing stops at the derived cap
/// (3 pages and a margin of 2), after yielding the page whose link it refused.
#[test]
fn a_server_that_never_stops_ends_past_the_total() {
    for concurrency in [1, 4] {
        let server = Server {
            endless: true,
            ..Server::new(6)
        };
        let s = Scenario {
            concurrency,
            ..Scenario::new(server, Some(2))
        };
        let run = run(&s).unwrap();
        assert!(
            matches!(
                run.end,
                Err(ListingError::Pagination(PaginationError::PastTotal {
                    total: 6,
                    pages: 5
                }))
            ),
            "{:?}",
            run.end
        );
        assert_eq!(run.pages.len(), 5);
        assert_eq!(run.ids(), ids(0..6));
    }
}

/// A 429 whose `Retry-After` is an HTTP date holds every request until that date: page 3's
/// 503 asked for one second, yet its retry waits for page 2's rate limit to pass, even when
/// page 5's late answer (at 3 s) wakes the transport in between. Then the throttled page goes
/// alone, and the others follow its answer, not all at once.
#[test]
fn a_429_with_a_date_holds_every_request_until_then() {
    let mut s = Scenario {
        concurrency: 4,
        ..Scenario::new(Server::new(12), Some(2))
    };
    // Request 0 is page 1; requests 1 to 4 are pages 2 to 5, read ahead.
    s.script.faults = vec![
        Fault::None,
        Fault::Status(429, RetryAfterHeader::Date(7)),
        Fault::Status(503, RetryAfterHeader::Seconds(1)),
    ];
    s.script.latencies = vec![0, 100, 200, 300, 3000];
    let run = run(&s).unwrap();
    assert!(run.end.is_ok(), "{:?}", run.end);
    assert_eq!(run.ids(), ids(0..12));
    let limited = Duration::from_millis(100);
    assert!(
        matches!(
            run.notices[..2],
            [
                Notice::Retrying { page: 2, attempt: 1, wait: w7, status: Some(429) },
                Notice::Retrying { page: 3, attempt: 1, wait: w1, status: Some(503) },
            ] if w7 == secs(7) && w1 == secs(1)
        ),
        "{:?}",
        run.notices
    );
    // Pages 2 and 3 are sent again; the 429 spent no attempt of page 2's.
    let again: Vec<&Sent> = run.sends[5..7].iter().collect();
    assert!(again[0].url.contains("page%5Bnumber%5D=2&") && again[0].attempt == 1);
    assert!(again[1].url.contains("page%5Bnumber%5D=3&") && again[1].attempt == 2);
    // Page 2 goes alone, to probe the rate limit; page 3 only once its answer came (50 ms).
    assert_eq!(again[0].at, limited + secs(7), "{:?}", run.sends);
    assert!(again[1].at > again[0].at, "{:?}", run.sends);
    assert!(
        run.sends
            .iter()
            .filter(|s| s.at > limited)
            .all(|s| s.at >= limited + secs(7))
    );
}

/// A page that keeps failing is sent exactly `max_attempts` times, then the listing fails
/// with the last answer.
#[test]
fn a_page_is_sent_at_most_max_attempts_times() {
    let mut s = Scenario::new(Server::new(5), Some(2));
    s.script.faults = vec![Fault::Status(503, RetryAfterHeader::Absent); 10];
    let run = run(&s).unwrap();
    assert_eq!(run.sends.len(), 3);
    assert_eq!(
        run.sends.iter().map(|s| s.attempt).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    assert!(matches!(
        run.end,
        Err(ListingError::Response(ResponseError::Api(ref e))) if e.status == 503
    ));
    assert!(run.pages.is_empty());
}

// ---------------------------------------------------------------------------------------------
// Links that jump over pages already read ahead.
// ---------------------------------------------------------------------------------------------

/// Pages 2-4 are read ahead and page 2's `next` jumps to page 4: page 4's fetch, already in
/// flight, is kept, not sent a second time past a budget of one attempt.
#[test]
fn a_link_that_jumps_ahead_keeps_the_page_it_names() {
    let server = Server {
        anomaly: Some((2, Anomaly::Skip)),
        ..Server::new(8)
    };
    let s = Scenario {
        concurrency: 3,
        max_attempts: 1,
        ..Scenario::new(server, Some(1))
    };
    let run = run(&s).unwrap();
    let mut want = ids(0..2);
    want.extend(ids(3..8));
    assert_eq!(run.ids(), want);
}

/// Pages 2 and 3 are read ahead (concurrency 2); page 2's `next` jumps to page 4 while page 3
/// is still on the wire. Page 3's abandoned request still counts against the concurrency
/// until it is answered, so no more than two requests are ever in flight.
#[test]
fn requests_dropped_by_a_jump_still_count_against_the_concurrency() {
    let server = Server {
        anomaly: Some((2, Anomaly::Skip)),
        ..Server::new(7)
    };
    let mut s = Scenario {
        concurrency: 2,
        ..Scenario::new(server, Some(1))
    };
    s.script.latencies = vec![0, 0, 1000];
    let run = run(&s).unwrap();
    let mut want = ids(0..2);
    want.extend(ids(3..7));
    assert_eq!(run.ids(), want);
}
