//! Checkpoints and `created_after` listings, in simulated time against an in-memory server:
//! a listing stopped at any page (a crash, a failure that ends it) and resumed from its
//! checkpoint, written to JSON and read back, yields exactly what an uninterrupted listing
//! yields; a listing of what is new stops as soon as the pages say it may.
#![cfg(feature = "std")]
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use std::num::NonZeroU32;
use std::time::Duration;

use connections_core::{
    Action, BaseUrl, Checkpoint, CreatedAfter, ListConnections, Listing, ListingOptions, Notice,
    Now, RequestId, Response, ResumeError, RetryPolicy, Setting, UnixTime,
};
use proptest::prelude::*;

const BASE: &str = "https://vehicle.api.smartcar.com/v3";

/// `items` connections, newest first, three created in each second; pages of at most `cap`;
/// request number `n` fails with a 503 when `fails(n)`.
struct Server {
    items: u32,
    cap: u32,
    /// Whether pages say `orderBy=createdAt&orderDirection=DESC`.
    ordered: bool,
    failing: Vec<u32>,
    requests: u32,
    /// Connections created since the listing began, on top: `n1` is the newest.
    prepended: u32,
}

/// When connection `i` (from 1, newest first) was created: three share each second.
fn created_at(i: u32) -> String {
    let secs = 1_800_000_000 - i64::from(i / 3);
    let t = time_text(secs);
    format!("{t}.{:03}Z", 999 - (i % 3) * 100)
}

/// RFC 3339 seconds for `secs` since the epoch, without a date library: days and the civil
/// calendar (Howard Hinnant's algorithm).
fn time_text(secs: i64) -> String {
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

impl Server {
    fn new(items: u32, cap: u32) -> Self {
        Server {
            items,
            cap,
            ordered: true,
            failing: Vec::new(),
            requests: 0,
            prepended: 0,
        }
    }

    fn answer(&mut self, page: u32, asked: u32) -> (u16, String) {
        self.requests += 1;
        if self.failing.contains(&self.requests) {
            return (
                503,
                r#"{"errors":[{"status":"503","type":"UPSTREAM"}]}"#.to_owned(),
            );
        }
        let size = asked.min(self.cap);
        let items = self.items + self.prepended;
        let first = (page - 1) * size + 1;
        let last = (page * size).min(items);
        let data: Vec<String> = (first..=last)
            .map(|i| match i.checked_sub(self.prepended).filter(|&i| i > 0) {
                Some(i) => format!(
                    r#"{{"id":"c{i}","meta":{{"createdAt":"{}"}}}}"#,
                    created_at(i)
                ),
                None => format!(r#"{{"id":"n{i}"}}"#),
            })
            .collect();
        let next = if last < items {
            format!(
                r#""/connections?page[number]={}&page[size]={size}""#,
                page + 1
            )
        } else {
            "null".to_owned()
        };
        let order = if self.ordered {
            r#","orderBy":"createdAt","orderDirection":"DESC""#
        } else {
            ""
        };
        let body = format!(
            r#"{{"data":[{}],"meta":{{"pageNumber":{page},"pageSize":{size},"totalCount":{}{order}}},"links":{{"next":{next}}}}}"#,
            data.join(","),
            items
        );
        (200, body)
    }
}

/// What a run saw.
#[derive(Debug, Default)]
struct Seen {
    ids: Vec<String>,
    checkpoints: Vec<Checkpoint>,
    notices: Vec<Notice>,
    end: Option<Result<(), String>>,
}

/// Drives `listing` until it ends, or until it has yielded `stop_after` pages (a crash: the
/// listing is dropped there, requests in flight and all).
fn drive(mut listing: Listing<()>, server: &mut Server, stop_after: Option<usize>) -> Seen {
    let mut seen = Seen::default();
    let mut now = Duration::ZERO;
    let mut flights: Vec<(Duration, RequestId, u32, u32)> = Vec::new();
    let latency = Duration::from_millis(30);
    for _ in 0..200_000 {
        let clock = Now::new(now, UnixTime(1_700_000_000));
        match listing.poll(clock) {
            Action::Send(send) => {
                let asked = send.request.page_size().map_or(10, NonZeroU32::get);
                flights.push((now + latency, send.id, send.page(), asked));
            }
            Action::Yield(page) => {
                seen.ids
                    .extend(page.value.connections().iter().filter_map(|c| c.id.clone()));
                seen.checkpoints.push(*page.checkpoint.clone().unwrap());
                if Some(seen.checkpoints.len()) == stop_after {
                    return seen;
                }
            }
            Action::Notice(notice) => seen.notices.push(notice),
            Action::Wait(until) => {
                let arrival = flights.iter().map(|f| f.0).min();
                now = match (until, arrival) {
                    (Some(u), Some(a)) => u.min(a),
                    (Some(u), None) => u,
                    (None, Some(a)) => a,
                    (None, None) => panic!("waiting for nothing"),
                }
                .max(now);
                flights.sort_by_key(|f| f.0);
                while flights.first().is_some_and(|f| f.0 <= now) {
                    let (_, id, page, asked) = flights.remove(0);
                    let (status, body) = server.answer(page, asked);
                    let response = Response::new(status, body.as_bytes())
                        .header("content-type", "application/json");
                    listing.handle_response(id, &response, Now::new(now, UnixTime(0)));
                }
            }
            Action::Done => {
                seen.end = Some(Ok(()));
                return seen;
            }
            Action::Failed(error) => {
                seen.end = Some(Err(format!("{error:?}")));
                return seen;
            }
        }
    }
    panic!("no end");
}

fn base() -> BaseUrl<'static> {
    BaseUrl::parse(BASE).unwrap()
}

fn options(concurrency: u32, attempts: u32) -> ListingOptions {
    ListingOptions::new()
        .with_concurrency(NonZeroU32::new(concurrency).unwrap())
        .with_retry_policy(RetryPolicy::new().with_max_attempts(attempts))
}

/// Through JSON and back, as the CLI saves it.
fn round_trip(checkpoint: &Checkpoint) -> Checkpoint {
    let text = serde_json::to_string(checkpoint).unwrap();
    serde_json::from_str(&text).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Stopped after any page, by a crash or by a failure that ends the listing, and resumed
    /// from the checkpoint of the last page yielded (again and again until it completes), a
    /// listing yields exactly the connections of an uninterrupted one, in order, each once.
    #[test]
    fn a_resumed_listing_yields_exactly_what_an_uninterrupted_one_does(
        items in 0u32..400,
        cap in 1u32..60,
        asked in 1u32..120,
        concurrency in 1u32..8,
        crashes in proptest::collection::vec(1usize..6, 0..4),
        failing in proptest::collection::vec(1u32..40, 0..4),
    ) {
        let request = ListConnections::builder().page_size(asked).build().unwrap();
        let whole = drive(
            Listing::new(base(), &request, options(concurrency, 3), 1),
            &mut Server::new(items, cap),
            None,
        );
        prop_assert_eq!(&whole.end, &Some(Ok(())));
        let want: Vec<String> = (1..=items).map(|i| format!("c{i}")).collect();
        prop_assert_eq!(&whole.ids, &want);

        // One attempt per request: every injected 503 ends the run it happens in.
        let mut server = Server { failing, ..Server::new(items, cap) };
        let mut ids = Vec::new();
        let mut checkpoint: Option<Checkpoint> = None;
        let mut crashes = crashes.into_iter();
        for run in 0.. {
            prop_assert!(run < 100, "no end after {run} runs");
            let listing = match &checkpoint {
                None => Listing::new(base(), &request, options(concurrency, 1), run),
                Some(c) => Listing::resume(base(), &request, &round_trip(c), options(concurrency, 1), run)
                    .unwrap(),
            };
            let seen = drive(listing, &mut server, crashes.next());
            ids.extend(seen.ids);
            if let Some(last) = seen.checkpoints.last() {
                checkpoint = Some(last.clone());
            }
            if seen.end == Some(Ok(())) {
                break;
            }
        }
        prop_assert_eq!(ids, want);
    }
}

/// The checkpoint holds where to go on, and never a token: it is made of the listing's
/// settings and progress only.
#[test]
fn a_checkpoint_says_where_the_listing_stands() {
    let request = ListConnections::builder()
        .user_id("u1")
        .page_size(100)
        .build()
        .unwrap();
    let seen = drive(
        Listing::new(base(), &request, options(1, 3), 1),
        &mut Server::new(120, 50),
        Some(1),
    );
    let checkpoint = &seen.checkpoints[0];
    assert_eq!(checkpoint.next_page(), Some(2));
    assert_eq!(checkpoint.served_page_size(), Some(50));
    assert_eq!(checkpoint.total_count(), Some(120));
    assert_eq!(checkpoint.newest_created_at(), Some(created_at(1).as_str()));
    let json: serde_json::Value = serde_json::to_value(checkpoint).unwrap();
    assert_eq!(json["version"], 1);
    assert_eq!(json["baseUrl"], BASE);
    assert_eq!(json["filters"]["userId"], "u1");
    assert_eq!(json["recentIds"][0].as_array().unwrap().len(), 50);
    let keys: Vec<&String> = json.as_object().unwrap().keys().collect();
    assert!(
        keys.iter().all(|k| !k.to_lowercase().contains("token")),
        "{keys:?}"
    );
}

/// A checkpoint of another listing is refused, naming what differs.
#[test]
fn a_checkpoint_of_another_listing_is_refused() {
    let request = ListConnections::builder().user_id("u1").build().unwrap();
    let seen = drive(
        Listing::new(base(), &request, options(1, 3), 1),
        &mut Server::new(300, 100),
        Some(1),
    );
    let checkpoint = &seen.checkpoints[0];
    let other = ListConnections::builder().user_id("u2").build().unwrap();
    let refused = Listing::<()>::resume(base(), &other, checkpoint, options(1, 3), 1);
    let Err(ResumeError::Mismatch {
        what,
        checkpoint: was,
        listing,
    }) = refused
    else {
        panic!("{refused:?}")
    };
    assert_eq!(what, Setting::UserId);
    assert_eq!(
        (was.as_deref(), listing.as_deref()),
        (Some("u1"), Some("u2"))
    );
    let elsewhere = BaseUrl::parse("https://example.com/v3").unwrap();
    let refused = Listing::<()>::resume(elsewhere, &request, checkpoint, options(1, 3), 1);
    assert!(
        matches!(
            &refused,
            Err(ResumeError::Mismatch {
                what: Setting::BaseUrl,
                ..
            })
        ),
        "{refused:?}"
    );
    let cutoff = CreatedAfter::parse("2026-01-01T00:00:00Z").unwrap();
    let later = options(1, 3).with_created_after(Some(cutoff));
    let refused = Listing::<()>::resume(base(), &request, checkpoint, later, 1);
    assert!(
        matches!(
            &refused,
            Err(ResumeError::Mismatch {
                what: Setting::CreatedAfter,
                ..
            })
        ),
        "{refused:?}"
    );
    assert!(refused.unwrap_err().to_string().contains("created-after"));
}

/// 2,000 connections newest first, and a cutoff at the 234th: exactly those 234, in three
/// requests at the default page size; the same from a server that declares no order, after
/// reading every page, said once.
#[test]
fn created_after_stops_at_the_first_older_page_while_the_pages_say_newest_first() {
    let cutoff = CreatedAfter::parse(&created_at(234)).unwrap();
    // Connections 235 and 236 share 234's second but are older by a tenth of a second each.
    let want: Vec<String> = (1..=234).map(|i| format!("c{i}")).collect();
    let request = ListConnections::builder().build().unwrap();
    for concurrency in [1, 4] {
        let options = options(concurrency, 3).with_created_after(Some(cutoff));
        let mut server = Server::new(2000, 100);
        let seen = drive(
            Listing::new(base(), &request, options, 1),
            &mut server,
            None,
        );
        assert_eq!(seen.end, Some(Ok(())));
        assert_eq!(seen.ids, want, "concurrency {concurrency}");
        if concurrency == 1 {
            assert_eq!(server.requests, 3);
        }
        assert_eq!(
            seen.checkpoints.last().unwrap().newest_created_at(),
            Some(created_at(1).as_str())
        );
        assert!(seen.checkpoints.last().unwrap().is_complete());

        let mut unordered = Server {
            ordered: false,
            ..Server::new(2000, 100)
        };
        let seen = drive(
            Listing::new(base(), &request, options, 1),
            &mut unordered,
            None,
        );
        assert_eq!(seen.end, Some(Ok(())));
        assert_eq!(seen.ids, want);
        assert_eq!(unordered.requests, 20, "every page read");
        let told = seen
            .notices
            .iter()
            .filter(|n| matches!(n, Notice::Unordered { .. }))
            .count();
        assert_eq!(told, 1);
    }
}

/// The cutoff is inclusive: a sync loop that passes the newest `createdAt` it saw lists that
/// connection again, and with it every connection created in the same instant later.
#[test]
fn the_cutoff_includes_its_own_instant() {
    let request = ListConnections::builder().build().unwrap();
    let first = drive(
        Listing::new(base(), &request, options(1, 3), 1),
        &mut Server::new(30, 100),
        None,
    );
    let newest = first
        .checkpoints
        .last()
        .unwrap()
        .newest_created_at()
        .unwrap();
    assert_eq!(newest, created_at(1));
    let cutoff = CreatedAfter::parse(newest).unwrap();
    let again = drive(
        Listing::new(
            base(),
            &request,
            options(1, 3).with_created_after(Some(cutoff)),
            1,
        ),
        &mut Server::new(30, 100),
        None,
    );
    assert_eq!(again.ids, ["c1"]);
}

/// A failure that ends the listing leaves the checkpoint of the last page yielded, and a
/// resumed listing starts at the page after it.
#[test]
fn a_failed_listing_resumes_at_the_page_it_did_not_get() {
    let request = ListConnections::builder().page_size(10).build().unwrap();
    let mut server = Server {
        failing: vec![6],
        ..Server::new(100, 100)
    };
    let seen = drive(
        Listing::new(base(), &request, options(1, 1), 1),
        &mut server,
        None,
    );
    assert!(matches!(seen.end, Some(Err(_))), "{:?}", seen.end);
    assert_eq!(seen.ids.len(), 50);
    let checkpoint = seen.checkpoints.last().unwrap();
    assert_eq!(checkpoint.next_page(), Some(6));
    let resumed = Listing::resume(base(), &request, checkpoint, options(1, 1), 2).unwrap();
    let rest = drive(resumed, &mut server, None);
    assert_eq!(rest.end, Some(Ok(())));
    let ids: Vec<String> = seen.ids.into_iter().chain(rest.ids).collect();
    let want: Vec<String> = (1..=100).map(|i| format!("c{i}")).collect();
    assert_eq!(ids, want);
}

/// Data that moved while the listing was stopped: three connections created on top shift
/// every page by three, so the resumed listing's first page starts with three it yielded
/// before the stop. They are left out (the checkpoint keeps the last pages' ids) and told.
#[test]
fn a_resumed_listing_leaves_out_what_it_yielded_before_the_stop() {
    let request = ListConnections::builder().page_size(10).build().unwrap();
    let mut server = Server::new(50, 100);
    let seen = drive(
        Listing::new(base(), &request, options(1, 3), 1),
        &mut server,
        Some(2),
    );
    server.prepended = 3;
    let checkpoint = round_trip(seen.checkpoints.last().unwrap());
    let resumed = Listing::resume(base(), &request, &checkpoint, options(1, 3), 2).unwrap();
    let rest = drive(resumed, &mut server, None);
    assert_eq!(rest.end, Some(Ok(())));
    let ids: Vec<String> = seen.ids.into_iter().chain(rest.ids).collect();
    let want: Vec<String> = (1..=50).map(|i| format!("c{i}")).collect();
    assert_eq!(ids, want, "each once, none missed");
    assert!(
        rest.notices
            .iter()
            .any(|n| matches!(n, Notice::Repeated { skipped: 3, .. })),
        "{:?}",
        rest.notices
    );
}
