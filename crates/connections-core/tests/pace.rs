//! Listings at Smartcar's pace, in simulated time: the [`Listing`] engine against a model of
//! the application's rate bucket (120 requests, refilling one every 30 s), with and without
//! `Retry-After`, one page at a time and eight. Hours of a listing run in milliseconds,
//! exactly the same on every run, with no sockets and no sleeps.
//!
//! The floor is the best any client can do: the bucket's 120 at once, then one request per
//! refill, `(requests − 120) × 30 s`.
#![cfg(feature = "std")]
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report
#![allow(clippy::print_stdout)] // the figures BENCHMARKS.md records

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap};
use std::num::NonZeroU32;
use std::time::Duration;

use connections_core::{
    Action, BaseUrl, Budget, ListConnections, Listing, ListingError, ListingOptions, Notice, Now,
    Pacer, Rate, RequestId, Response, UnixTime,
};
use proptest::prelude::*;

const BASE: &str = "https://vehicle.api.smartcar.com/v3";
const SECOND: Duration = Duration::from_secs(1);

/// A token bucket as Smartcar describes it: full at the start, one request refilled every
/// `refill`, never more than `capacity`.
#[derive(Clone, Copy, Debug)]
struct Bucket {
    capacity: u32,
    refill: Duration,
    tokens: u32,
    /// When the next token arrives while the bucket is not full.
    next_refill: Duration,
}

impl Bucket {
    fn new(capacity: u32, refill: Duration) -> Self {
        Bucket {
            capacity,
            refill,
            tokens: capacity,
            next_refill: refill,
        }
    }

    fn advance(&mut self, now: Duration) {
        while self.next_refill <= now {
            if self.tokens < self.capacity {
                self.tokens += 1;
            }
            self.next_refill += self.refill;
        }
    }

    /// Takes a token, or says how long until the next one.
    fn take(&mut self, now: Duration) -> Result<(), Duration> {
        self.advance(now);
        if self.tokens > 0 {
            self.tokens -= 1;
            Ok(())
        } else {
            Err(self.next_refill - now)
        }
    }
}

/// The server: `items` connections behind the bucket, served at most `cap` a page whatever
/// the request asks, as a real server with a page maximum does.
struct Server {
    items: u32,
    cap: u32,
    bucket: Bucket,
    retry_after: bool,
    latency: Duration,
}

impl Server {
    /// The answer to page `n` of `asked` received at `now`: status, `Retry-After` seconds,
    /// body. Its meta and links say the size it served.
    fn answer(&mut self, n: u32, asked: u32, now: Duration) -> (u16, Option<String>, String) {
        if let Err(wait) = self.bucket.take(now) {
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            let header = self.retry_after.then(|| secs.max(1).to_string());
            let body = r#"{"errors":[{"status":"429","type":"RATE_LIMIT","code":"SMARTCAR_API"}]}"#;
            return (429, header, body.to_owned());
        }
        let size = asked.min(self.cap);
        let first = (n - 1) * size + 1;
        let last = (n * size).min(self.items);
        let data: Vec<String> = (first..=last)
            .map(|i| format!(r#"{{"id":"c{i}"}}"#))
            .collect();
        let next = if last < self.items {
            format!(r#""/connections?page[number]={}&page[size]={size}""#, n + 1)
        } else {
            "null".to_owned()
        };
        let body = format!(
            r#"{{"data":[{}],"meta":{{"pageNumber":{n},"pageSize":{size},"totalCount":{},"orderBy":"createdAt","orderDirection":"DESC"}},"links":{{"next":{next}}}}}"#,
            data.join(","),
            self.items
        );
        (200, None, body)
    }
}

/// A request on the wire: when its answer arrives, a tie-breaker, its id, its page and the
/// size it asked for.
type Flight = (Duration, u64, RequestId, u32, u32);

/// What a run measured.
#[derive(Debug)]
struct Measured {
    end: Result<(), ListingError<()>>,
    took: Duration,
    requests: u32,
    throttled: u32,
    ids: Vec<String>,
    notices: Vec<Notice>,
    /// When each request was sent.
    sent_at: Vec<Duration>,
    /// The last page's checkpoint.
    checkpoint: Option<connections_core::Checkpoint>,
}

/// Drives `listing` against `server` until it ends, advancing simulated time to each wait
/// and each answer's arrival.
fn drive(listing: Listing<()>, server: &mut Server) -> Measured {
    drive_from(listing, server, Duration::ZERO, None)
}

/// [`drive`] from `start` on the server's clock, stopping after `pages` pages if given (the
/// listing is dropped there, as a crash would), with the checkpoint of the last page.
fn drive_from(
    mut listing: Listing<()>,
    server: &mut Server,
    start: Duration,
    pages: Option<usize>,
) -> Measured {
    let mut now = start;
    let mut yielded = 0;
    let mut in_flight: BinaryHeap<Reverse<Flight>> = BinaryHeap::new();
    let mut seq = 0;
    let mut m = Measured {
        end: Ok(()),
        took: Duration::ZERO,
        requests: 0,
        throttled: 0,
        ids: Vec::new(),
        notices: Vec::new(),
        sent_at: Vec::new(),
        checkpoint: None,
    };
    let unix = |t: Duration| UnixTime(1_700_000_000 + i64::try_from(t.as_secs()).unwrap());
    for _ in 0..1_000_000 {
        match listing.poll(Now::new(now, unix(now))) {
            Action::Send(send) => {
                m.requests += 1;
                m.sent_at.push(now);
                seq += 1;
                let asked = send.request.page_size().map_or(10, NonZeroU32::get);
                let arrives = now + server.latency;
                in_flight.push(Reverse((arrives, seq, send.id, send.page(), asked)));
            }
            Action::Yield(page) => {
                m.ids
                    .extend(page.value.connections().iter().filter_map(|c| c.id.clone()));
                m.checkpoint = page.checkpoint.map(|c| *c);
                yielded += 1;
                if Some(yielded) == pages {
                    m.took = now;
                    return m;
                }
            }
            Action::Notice(notice) => m.notices.push(notice),
            Action::Wait(until) => {
                let arrival = in_flight.peek().map(|Reverse((at, ..))| *at);
                let next = match (until, arrival) {
                    (Some(u), Some(a)) => u.min(a),
                    (Some(u), None) => u,
                    (None, Some(a)) => a,
                    (None, None) => panic!("waiting for nothing at {now:?}"),
                };
                now = now.max(next);
                while let Some(Reverse((at, _, id, page, asked))) = in_flight.peek().copied() {
                    if at > now {
                        break;
                    }
                    in_flight.pop();
                    // The server takes its token when the request reaches it, halfway.
                    let (status, retry_after, body) =
                        server.answer(page, asked, at - server.latency / 2);
                    if status == 429 {
                        m.throttled += 1;
                    }
                    let mut response = Response::new(status, body.as_bytes())
                        .header("content-type", "application/json");
                    if let Some(value) = &retry_after {
                        response = response.header("retry-after", value);
                    }
                    listing.handle_response(id, &response, Now::new(now, unix(now)));
                }
            }
            Action::Done => {
                m.took = now;
                return m;
            }
            Action::Failed(error) => {
                m.took = now;
                m.end = Err(error);
                return m;
            }
        }
    }
    panic!("the listing did not end");
}

fn listing(concurrency: u32, options: ListingOptions) -> Listing<()> {
    let request = ListConnections::builder().page_size(1).build().unwrap();
    let options = options.with_concurrency(NonZeroU32::new(concurrency).unwrap());
    Listing::new(BaseUrl::parse(BASE).unwrap(), &request, options, 0x5eed)
}

fn smartcar(pages: u32, retry_after: bool) -> Server {
    Server {
        items: pages,
        cap: 1,
        bucket: Bucket::new(120, 30 * SECOND),
        retry_after,
        latency: Duration::from_millis(200),
    }
}

/// `(requests − capacity) × refill`: no client can finish sooner.
fn floor(requests: u32, bucket: &Bucket) -> Duration {
    bucket.refill * requests.saturating_sub(bucket.capacity)
}

/// 1,000 pages through Smartcar's bucket, for each combination of `Retry-After` and
/// concurrency: within 5 % of the floor with `Retry-After` and 15 % without, with 429s on
/// at most 2 % and 5 % of requests. Prints the figures BENCHMARKS.md records.
#[test]
fn a_thousand_pages_keep_to_the_bucket_near_the_floor() {
    for retry_after in [true, false] {
        for concurrency in [1, 8] {
            let mut server = smartcar(1000, retry_after);
            let bucket = server.bucket;
            let m = drive(listing(concurrency, ListingOptions::new()), &mut server);
            assert!(m.end.is_ok(), "{:?}", m.end);
            let want: Vec<String> = (1..=1000).map(|n| format!("c{n}")).collect();
            assert_eq!(m.ids, want, "every connection once, in order");
            let floor = floor(1000, &bucket);
            let ratio = m.took.as_secs_f64() / floor.as_secs_f64();
            let share = f64::from(m.throttled) / f64::from(m.requests);
            println!(
                "retry-after {retry_after:5}, concurrency {concurrency}: {:.0} s for a floor of \
                 {} s ({ratio:.3}x), {} requests, {} answered 429 ({:.2} %)",
                m.took.as_secs_f64(),
                floor.as_secs(),
                m.requests,
                m.throttled,
                share * 100.0
            );
            let (max_ratio, max_share) = if retry_after {
                (1.05, 0.02)
            } else {
                (1.15, 0.05)
            };
            assert!(ratio <= max_ratio, "{ratio:.3}x the floor");
            assert!(
                share <= max_share,
                "{:.2} % of requests were 429s",
                share * 100.0
            );
        }
    }
}

/// The pace, once learned, is told once each time it changes, not once per page.
#[test]
fn the_learned_pace_is_told_when_it_changes() {
    let mut server = smartcar(400, true);
    let m = drive(listing(1, ListingOptions::new()), &mut server);
    assert!(m.end.is_ok(), "{:?}", m.end);
    let learned: Vec<Duration> = m
        .notices
        .iter()
        .filter_map(|n| match n {
            Notice::PaceLearned { interval } => Some(*interval),
            _ => None,
        })
        .collect();
    assert!(!learned.is_empty() && learned.len() <= 10, "{learned:?}");
    let last = learned.last().unwrap().as_secs_f64();
    assert!((27.0..=33.0).contains(&last), "learned {last} s");
}

/// A 429 waits, but spends none of the attempts kept for 5xx and network failures: with one
/// attempt and no retries, a listing through an empty bucket still completes.
#[test]
fn rate_limits_spend_no_attempts() {
    let mut server = smartcar(200, false);
    let options = ListingOptions::new().with_retry_policy(connections_core::RetryPolicy::none());
    let m = drive(listing(4, options), &mut server);
    assert!(m.end.is_ok(), "{:?}", m.end);
    assert_eq!(m.ids.len(), 200);
    assert!(m.throttled > 0);
}

/// The total wait is bounded by the option, and the error says how long it waited.
#[test]
fn the_rate_limit_wait_is_bounded() {
    let mut server = smartcar(300, true);
    let max = Duration::from_secs(600);
    let options = ListingOptions::new().with_max_rate_limit_wait(max);
    let m = drive(listing(1, options), &mut server);
    let Err(ListingError::RateLimitWait {
        waited,
        more,
        max: m_max,
    }) = m.end
    else {
        panic!("{:?}", m.end);
    };
    assert_eq!(m_max, max);
    assert!(
        waited <= max && waited + more > max,
        "{waited:?} + {more:?}"
    );
    // Failed as soon as the next wait would pass the bound, not after sleeping through it.
    assert!(
        m.took
            <= m.sent_at
                .last()
                .unwrap()
                .saturating_add(Duration::from_secs(31))
    );
    // About 120 + 600 s / 30 s pages made it.
    assert!((130..=145).contains(&m.ids.len()), "{}", m.ids.len());
    let text = ListingError::<std::io::Error>::RateLimitWait { waited, more, max }.to_string();
    assert!(text.contains("--max-wait"), "{text}");
    assert!(!text.contains("  "), "a message with a gap in it: {text}");
}

/// A budget no larger than the server's bucket meets no 429 at all.
#[test]
fn a_budget_within_the_bucket_meets_no_429() {
    for concurrency in [1, 8] {
        let mut server = Server {
            bucket: Bucket::new(20, 6 * SECOND),
            ..smartcar(100, false)
        };
        let pacer = Pacer::new().with_budget(Some(Budget::new(
            Rate::per_minute(NonZeroU32::new(10).unwrap()),
            20,
        )));
        let listing = listing(concurrency, ListingOptions::new()).with_pacer(pacer);
        let m = drive_paced(listing, &mut server);
        assert!(m.end.is_ok(), "{:?}", m.end);
        assert_eq!(m.throttled, 0, "concurrency {concurrency}");
        assert_eq!(m.ids.len(), 100);
        // 20 at once, then one every 6 s.
        let floor = floor(100, &server.bucket);
        assert!(m.took <= floor + SECOND, "{:?}", m.took);
    }
}

/// A server that serves fewer a page than asked is normal: 1,234 connections behind caps of
/// 50 and 7 a page, asked for 100, at one page at a time and eight, are all listed, each
/// once, in order, and the requests are exactly the pages the served size needs.
#[test]
fn pages_are_planned_from_the_size_the_server_served() {
    for cap in [50, 7] {
        for concurrency in [1, 8] {
            let mut server = Server {
                items: 1234,
                cap,
                bucket: Bucket::new(u32::MAX, SECOND),
                retry_after: false,
                latency: Duration::from_millis(20),
            };
            let request = ListConnections::builder().build().unwrap();
            let options =
                ListingOptions::new().with_concurrency(NonZeroU32::new(concurrency).unwrap());
            let listing = Listing::new(BaseUrl::parse(BASE).unwrap(), &request, options, 1);
            let m = drive(listing, &mut server);
            assert!(
                m.end.is_ok(),
                "cap {cap}, concurrency {concurrency}: {:?}",
                m.end
            );
            let want: Vec<String> = (1..=1234).map(|i| format!("c{i}")).collect();
            assert_eq!(m.ids, want, "cap {cap}, concurrency {concurrency}");
            // Page 1 asked for 100; at concurrency 8 its read-ahead asked for the served size.
            let pages = 1234_u32.div_ceil(cap);
            assert_eq!(m.requests, pages, "cap {cap}, concurrency {concurrency}");
        }
    }
}

/// [`drive`] for a listing with a pacer given to it.
fn drive_paced(listing: Listing<(), Pacer>, server: &mut Server) -> Measured {
    drive(listing, server)
}

proptest! {
    /// By any time `t`, a budget of `burst` at `rate` has let at most `burst + rate × t`
    /// requests go, whatever the listing and the server do.
    #[test]
    fn a_budget_is_never_exceeded(
        per_minute in 1u32..=600,
        burst in 1u32..=50,
        concurrency in 1u32..=8,
        capacity in 1u32..=60,
        retry_after: bool,
    ) {
        let rate = Rate::per_minute(NonZeroU32::new(per_minute).unwrap());
        let pacer = Pacer::new().with_budget(Some(Budget::new(rate, burst)));
        let mut server = Server {
            bucket: Bucket::new(capacity, 2 * SECOND),
            ..smartcar(60, retry_after)
        };
        let listing = listing(concurrency, ListingOptions::new()).with_pacer(pacer);
        let m = drive_paced(listing, &mut server);
        prop_assert!(m.end.is_ok(), "{:?}", m.end);
        let ids: BTreeSet<&String> = m.ids.iter().collect();
        prop_assert_eq!(ids.len(), 60);
        for (sent, t) in m.sent_at.iter().enumerate() {
            // Requests sent by time t, this one included.
            let allowed = f64::from(burst) + f64::from(per_minute) / 60.0 * t.as_secs_f64();
            prop_assert!((sent + 1) as f64 <= allowed + 1e-9, "{} by {:?}", sent + 1, t);
        }
    }
}

/// A listing stopped long after it learned the pace, and resumed at once from its
/// checkpoint, starts at that pace instead of bursting into a bucket that is still empty:
/// its requests are spaced from the first, and it meets at most the odd 429 of the probe.
#[test]
fn a_resumed_listing_keeps_the_pace_it_learned() {
    let mut server = smartcar(400, false);
    let first = drive_from(
        listing(1, ListingOptions::new()),
        &mut server,
        Duration::ZERO,
        Some(250),
    );
    let checkpoint = first.checkpoint.unwrap();
    let learned = checkpoint.pace_interval().unwrap().as_secs_f64();
    assert!((27.0..=33.0).contains(&learned), "{learned}");
    let request = ListConnections::builder().page_size(1).build().unwrap();
    let resumed = Listing::resume(
        BaseUrl::parse(BASE).unwrap(),
        &request,
        &checkpoint,
        ListingOptions::new(),
        9,
    )
    .unwrap();
    let rest = drive_from(resumed, &mut server, first.took, None);
    assert!(rest.end.is_ok(), "{:?}", rest.end);
    assert_eq!(first.ids.len() + rest.ids.len(), 400);
    assert!(
        rest.throttled <= 3,
        "{} 429s after resuming",
        rest.throttled
    );
    let gap = rest.sent_at[1]
        .saturating_sub(rest.sent_at[0])
        .as_secs_f64();
    assert!(
        gap >= 0.9 * learned,
        "the second request came {gap} s after the first"
    );
}
