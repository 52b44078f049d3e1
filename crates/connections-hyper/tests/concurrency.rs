//! Fetching planned pages concurrently: same items in the same order as sequentially, at most
//! `page_concurrency` requests in flight, a shared pause on 429, and the paginator still the
//! judge of every link.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use connections_hyper::{Error, ListConnections};
use connections_testkit::{Links, Recorded, Reply, TestServer, page_body};

fn by_tens() -> ListConnections<'static> {
    ListConnections::builder().page_size(10).build().unwrap()
}

/// Serves `listing(total)` by tens, each answer taking `delay`, and tracks the most requests
/// in flight at once.
fn slow_listing(total: usize, delay: Duration) -> (TestServer, Arc<AtomicUsize>) {
    let (now, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let seen = most.clone();
    let server = TestServer::start(move |r| {
        let in_flight = now.fetch_add(1, Ordering::SeqCst) + 1;
        seen.fetch_max(in_flight, Ordering::SeqCst);
        std::thread::sleep(delay);
        now.fetch_sub(1, Ordering::SeqCst);
        Reply::json(
            200,
            page_body(total, page_number(r), 10, Links::Relative, ""),
        )
    });
    (server, most)
}

#[tokio::test]
async fn concurrent_pages_come_in_order_each_once_and_faster() {
    let delay = Duration::from_millis(100);
    let (server, most) = slow_listing(80, delay);
    let sequential = client(&server);
    let started = Instant::now();
    let (in_sequence, error) = all_connections(&sequential, &by_tens()).await;
    let sequential_took = started.elapsed();
    assert!(error.is_none(), "{error:?}");
    assert_eq!(most.swap(0, Ordering::SeqCst), 1);

    let concurrent = builder(&server).page_concurrency(4).build().unwrap();
    let started = Instant::now();
    let (concurrently, error) = all_connections(&concurrent, &by_tens()).await;
    let concurrent_took = started.elapsed();
    assert!(error.is_none(), "{error:?}");

    assert_eq!(ids(&in_sequence), expected_ids(80));
    assert_eq!(ids(&concurrently), ids(&in_sequence));
    assert!(
        concurrent_took < sequential_took,
        "concurrent {concurrent_took:?} vs sequential {sequential_took:?}"
    );
    let most = most.load(Ordering::SeqCst);
    assert!((2..=4).contains(&most), "{most} requests in flight at once");
    // 8 pages each time, none fetched twice.
    let mut numbers: Vec<usize> = server.requests().iter().skip(8).map(page_number).collect();
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=8).collect::<Vec<_>>());
}

#[tokio::test]
async fn an_error_in_a_batch_ends_the_stream_after_the_pages_before_it() {
    let server = TestServer::start(|r| match page_number(r) {
        4 => Reply::json(404, r#"{"errors":[]}"#),
        n => Reply::json(200, page_body(80, n, 10, Links::Relative, ""))
            .delay(Duration::from_millis(20 * (8 - n as u64))),
    });
    let client = builder(&server).page_concurrency(4).build().unwrap();
    let (items, error) = all_connections(&client, &by_tens()).await;
    assert_eq!(ids(&items), expected_ids(30));
    assert!(
        matches!(error, Some(Error::Api(ref e)) if e.status == 404),
        "{error:?}"
    );
}

/// Page `n` of a listing whose body is rewritten by `edit`.
fn edited(total: usize, edit: fn(usize, String) -> String) -> TestServer {
    TestServer::start(move |r: &Recorded| {
        let n = page_number(r);
        Reply::json(200, edit(n, page_body(total, n, 10, Links::Relative, "")))
    })
}

#[tokio::test]
async fn an_understated_total_count_falls_back_to_following_links() {
    let server = edited(50, |_, body| {
        body.replace(r#""totalCount":50"#, r#""totalCount":30"#)
    });
    let client = builder(&server).page_concurrency(3).build().unwrap();
    let (items, error) = all_connections(&client, &by_tens()).await;
    assert!(error.is_none(), "{error:?}");
    assert_eq!(ids(&items), expected_ids(50));
}

#[tokio::test]
async fn an_overstated_total_count_stops_at_the_last_link() {
    let server = edited(30, |_, body| {
        body.replace(r#""totalCount":30"#, r#""totalCount":80"#)
    });
    let client = builder(&server).page_concurrency(3).build().unwrap();
    let (pages, error) = walk(&client, &by_tens()).await;
    assert!(error.is_none(), "{error:?}");
    assert_eq!(pages.len(), 3);
    assert_eq!(page_ids(&pages), expected_ids(30));
}

#[tokio::test]
async fn links_that_leave_the_plan_are_followed_not_the_plan() {
    // Page 2 skips page 3: its items must not appear.
    let server = edited(80, |n, body| {
        if n == 2 {
            body.replace(
                r#""next":"/connections?page[number]=3&page[size]=10""#,
                r#""next":"/connections?page[number]=4&page[size]=10""#,
            )
        } else {
            body
        }
    });
    let client = builder(&server).page_concurrency(4).build().unwrap();
    let (items, error) = all_connections(&client, &by_tens()).await;
    assert!(error.is_none(), "{error:?}");
    let expected: Vec<String> = (0..80)
        .filter(|i| !(20..30).contains(i))
        .map(|i| format!("conn-{i}"))
        .collect();
    assert_eq!(ids(&items), expected);
}

#[tokio::test]
async fn the_page_cap_guards_listings_without_a_total() {
    let server = edited(80, |_, body| body.replace(r#""totalCount":80,"#, ""));
    let client = builder(&server)
        .page_concurrency(4)
        .max_pages(3)
        .build()
        .unwrap();
    let (pages, error) = walk(&client, &by_tens()).await;
    assert!(
        matches!(
            error,
            Some(Error::Pagination(
                connections_hyper::PaginationError::TooManyPages { max: 3 }
            ))
        ),
        "{error:?}"
    );
    assert_eq!(page_ids(&pages), expected_ids(30));
    assert_eq!(server.requests().len(), 3, "no request past the cap");
}

#[tokio::test]
async fn a_reported_total_replaces_the_page_cap() {
    let server = edited(80, |_, body| body);
    let client = builder(&server)
        .page_concurrency(4)
        .max_pages(3)
        .build()
        .unwrap();
    let (pages, error) = walk(&client, &by_tens()).await;
    assert!(error.is_none(), "{error:?}");
    assert_eq!(page_ids(&pages), expected_ids(80));
}

#[tokio::test]
async fn a_429_pauses_every_worker_of_the_listing() {
    // Page 2 is rate limited once (Retry-After: 1); page 3 fails once with a 503 shortly after,
    // which alone would be retried within milliseconds. Its retry must wait for the pause.
    let arrivals: Arc<Mutex<Vec<(usize, Instant)>>> = Arc::default();
    let log = arrivals.clone();
    let server = TestServer::start(move |r| {
        let n = page_number(r);
        let earlier = {
            let mut log = log.lock().unwrap();
            let earlier = log.iter().filter(|(m, _)| *m == n).count();
            log.push((n, Instant::now()));
            earlier
        };
        match (n, earlier) {
            (2, 0) => Reply::json(429, r#"{"errors":[]}"#).header("retry-after", "1"),
            (3, 0) => Reply::json(503, r#"{"errors":[]}"#).delay(Duration::from_millis(300)),
            _ => Reply::json(200, page_body(40, n, 10, Links::Relative, "")),
        }
    });
    let client = builder(&server).page_concurrency(4).build().unwrap();
    let (items, error) = all_connections(&client, &by_tens()).await;
    assert!(error.is_none(), "{error:?}");
    assert_eq!(ids(&items), expected_ids(40));

    let arrivals = arrivals.lock().unwrap().clone();
    let at = |page: usize, nth: usize| {
        arrivals
            .iter()
            .filter(|(n, _)| *n == page)
            .nth(nth)
            .unwrap()
            .1
    };
    let limited = at(2, 0);
    let page3_retry = at(3, 1).duration_since(limited);
    assert!(
        page3_retry >= Duration::from_millis(900),
        "page 3 was retried {page3_retry:?} after the 429"
    );
    assert!(at(2, 1).duration_since(limited) >= Duration::from_millis(950));
}
