//! The pagination state machine against well-behaved and hostile servers.
#![cfg(feature = "std")]
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use std::num::NonZeroU32;

use connections_core::{
    BaseUrl, LinkError, ListConnections, PaginationError, Paginator, Progress, decode_page,
};
use proptest::prelude::*;

const BASE: &str = "https://vehicle.api.smartcar.com/v3";

fn base() -> BaseUrl<'static> {
    BaseUrl::parse(BASE).unwrap()
}

/// A page body with the given ids, `next` link (raw JSON: `null` or a quoted string) and total.
fn body(ids: &[&str], next: &str, total: Option<u64>) -> String {
    let data: Vec<String> = ids.iter().map(|id| format!(r#"{{"id":"{id}"}}"#)).collect();
    let meta = total.map_or(String::new(), |t| {
        format!(r#","meta":{{"totalCount":{t}}}"#)
    });
    format!(
        r#"{{"data":[{}]{meta},"links":{{"self":"s","first":"f","last":"l","next":{next}}}}}"#,
        data.join(",")
    )
}

fn url(p: &Paginator<'_>) -> String {
    let mut out = String::new();
    p.base()
        .write_url(p.next_request().unwrap(), &mut out)
        .unwrap();
    out
}

fn feed(p: &mut Paginator<'_>, body: &str) -> Result<Progress, PaginationError> {
    p.feed(&decode_page(body.as_bytes()).unwrap())
}

#[test]
fn follows_links_with_and_without_the_prefix_keeping_filters() {
    let request = ListConnections::builder()
        .user_id("u 1&x")
        .page_size(2)
        .build()
        .unwrap();
    let mut p = Paginator::new(base(), request);
    assert_eq!(
        url(&p),
        "https://vehicle.api.smartcar.com/v3/connections?filter%5BuserId%5D=u%201%26x&page%5Bsize%5D=2"
    );
    // The spec's own form: path-absolute without /v3.
    let next = r#""/connections?page[number]=2&page[size]=2""#;
    assert_eq!(
        feed(&mut p, &body(&["a", "b"], next, None)),
        Ok(Progress::More)
    );
    assert!(url(&p).starts_with(
        "https://vehicle.api.smartcar.com/v3/connections?filter%5BuserId%5D=u%201%26x"
    ));
    assert!(url(&p).contains("page%5Bnumber%5D=2"));
    // With the prefix, encoded brackets, absolute.
    let next =
        r#""https://vehicle.api.smartcar.com/v3/connections?page%5Bnumber%5D=3&page%5Bsize%5D=5""#;
    assert_eq!(
        feed(&mut p, &body(&["c", "d"], next, None)),
        Ok(Progress::More)
    );
    let request = p.next_request().unwrap();
    assert_eq!(request.page_number(), NonZeroU32::new(3));
    assert_eq!(
        request.page_size(),
        NonZeroU32::new(5),
        "the server's page size wins"
    );
    assert_eq!(request.user_id(), Some("u 1&x"));
    let next = r#""/v3/connections?page[number]=4""#;
    assert_eq!(feed(&mut p, &body(&["e"], next, None)), Ok(Progress::More));
    assert_eq!(
        feed(&mut p, &body(&["f"], "null", None)),
        Ok(Progress::Done)
    );
    assert!(p.next_request().is_none());
    assert_eq!(p.pages_fetched(), 4);
}

#[test]
fn absent_next_ends_the_listing() {
    let mut p = Paginator::new(base(), ListConnections::new());
    let page = decode_page(br#"{"data":[{"id":"a"}]}"#).unwrap();
    assert_eq!(p.feed(&page), Ok(Progress::Done));
    assert!(p.next_request().is_none());
}

#[test]
fn links_to_other_origins_are_refused_before_any_request() {
    for (link, error) in [
        (
            "https://evil.example/v3/connections?page[number]=2",
            LinkError::OtherOrigin,
        ),
        (
            "//evil.example/connections?page[number]=2",
            LinkError::OtherOrigin,
        ),
        (
            "http://vehicle.api.smartcar.com/v3/connections?page[number]=2",
            LinkError::OtherOrigin,
        ),
        (
            "https://vehicle.api.smartcar.com:8443/v3/connections?page[number]=2",
            LinkError::OtherOrigin,
        ),
        (
            "https://user@vehicle.api.smartcar.com/v3/connections?page[number]=2",
            LinkError::UserInfo,
        ),
        ("javascript:alert(1)", LinkError::UnsupportedScheme),
        ("/v3/vehicles?page[number]=2", LinkError::OtherPath),
        ("/connections?cursor=abc", LinkError::MissingPageNumber),
    ] {
        let mut p = Paginator::new(base(), ListConnections::new());
        let before = url(&p);
        let err = feed(&mut p, &body(&["a"], &format!("{link:?}"), None)).unwrap_err();
        assert_eq!(err, PaginationError::Link(error), "{link}");
        assert_eq!(url(&p), before, "state unchanged after refusing {link}");
    }
}

#[test]
fn repeated_links_and_cycles_are_refused() {
    let mut p = Paginator::new(base(), ListConnections::new());
    let err = feed(
        &mut p,
        &body(&["a"], r#""/connections?page[number]=1""#, None),
    )
    .unwrap_err();
    assert_eq!(err, PaginationError::NotAdvancing { from: 1, to: 1 });

    // A -> B -> A
    let mut p = Paginator::new(base(), ListConnections::new());
    feed(
        &mut p,
        &body(&["a"], r#""/connections?page[number]=2""#, None),
    )
    .unwrap();
    let err = feed(
        &mut p,
        &body(&["b"], r#""/connections?page[number]=1""#, None),
    )
    .unwrap_err();
    assert_eq!(err, PaginationError::NotAdvancing { from: 2, to: 1 });
}

#[test]
fn a_page_repeating_the_previous_items_is_refused_but_empty_pages_continue() {
    let mut p = Paginator::new(base(), ListConnections::new());
    feed(
        &mut p,
        &body(&["a", "b"], r#""/connections?page[number]=2""#, None),
    )
    .unwrap();
    let err = feed(
        &mut p,
        &body(&["a", "b"], r#""/connections?page[number]=3""#, None),
    );
    assert_eq!(err, Err(PaginationError::RepeatedPage { page: 2 }));

    let mut p = Paginator::new(base(), ListConnections::new());
    feed(&mut p, &body(&[], r#""/connections?page[number]=2""#, None)).unwrap();
    assert_eq!(
        feed(&mut p, &body(&[], r#""/connections?page[number]=3""#, None)),
        Ok(Progress::More),
        "an empty page with a next link continues"
    );
    assert_eq!(
        feed(&mut p, &body(&["z"], "null", None)),
        Ok(Progress::Done)
    );
}

#[test]
fn endless_fresh_links_stop_at_the_cap() {
    let max = NonZeroU32::new(5).unwrap();
    let mut p = Paginator::new(base(), ListConnections::new()).with_max_pages(max);
    let mut requests = 0;
    let mut n = 1;
    let result = loop {
        assert!(p.next_request().is_some());
        requests += 1;
        n += 1;
        let next = format!(r#""/connections?page[number]={n}""#);
        match feed(&mut p, &body(&[&format!("id{n}")], &next, None)) {
            Ok(Progress::More) => continue,
            other => break other,
        }
    };
    assert_eq!(result, Err(PaginationError::TooManyPages { max: 5 }));
    assert_eq!(requests, 5);
}

#[test]
fn after_an_error_the_same_page_can_be_fed_again() {
    let mut p = Paginator::new(base(), ListConnections::new());
    let bad = body(
        &["a"],
        r#""https://evil.example/connections?page[number]=2""#,
        None,
    );
    assert!(feed(&mut p, &bad).is_err());
    let good = body(&["a"], r#""/connections?page[number]=2""#, None);
    assert_eq!(feed(&mut p, &good), Ok(Progress::More));
    assert_eq!(p.next_request().unwrap().page_number(), NonZeroU32::new(2));
}

#[test]
fn remaining_pages_are_planned_when_links_and_total_allow() {
    let request = ListConnections::builder().page_size(10).build().unwrap();
    // A full page of the 10 asked for: the plan follows the size served.
    let full: Vec<String> = (0..10).map(|n| format!("id{n}")).collect();
    let full: Vec<&str> = full.iter().map(String::as_str).collect();
    let mut p = Paginator::new(base(), request.clone());
    assert_eq!(p.planned_pages(), None);
    feed(
        &mut p,
        &body(&full, r#""/connections?page[number]=2""#, Some(45)),
    )
    .unwrap();
    assert_eq!(p.planned_pages(), Some(2..=5));
    let third = p.request_for_page(NonZeroU32::new(3).unwrap());
    assert_eq!(third.page_number(), NonZeroU32::new(3));
    assert_eq!(third.page_size(), NonZeroU32::new(10));

    let capped = NonZeroU32::new(3).unwrap();
    let mut p = Paginator::new(base(), request.clone()).with_max_pages(capped);
    feed(
        &mut p,
        &body(&full, r#""/connections?page[number]=2""#, Some(45)),
    )
    .unwrap();
    assert_eq!(
        p.planned_pages(),
        Some(2..=5),
        "a known total replaces the fixed page cap"
    );

    let mut p = Paginator::new(base(), request.clone());
    feed(
        &mut p,
        &body(&full, r#""/connections?page[number]=3""#, Some(45)),
    )
    .unwrap();
    assert_eq!(
        p.planned_pages(),
        None,
        "links that skip pages are followed one by one"
    );

    let mut p = Paginator::new(base(), request.clone());
    feed(
        &mut p,
        &body(&["a"], r#""/connections?page[number]=2""#, None),
    )
    .unwrap();
    assert_eq!(p.planned_pages(), None, "no total, no plan");

    // A server that serves fewer than asked plans from what it served: 5 a page, 9 pages.
    let mut p = Paginator::new(base(), request);
    feed(
        &mut p,
        &body(&full[..5], r#""/connections?page[number]=2""#, Some(45)),
    )
    .unwrap();
    assert_eq!(p.planned_pages(), Some(2..=9));
}

/// A server's `next` link: same origin or hostile, any page number.
fn link() -> impl Strategy<Value = String> {
    let origin = prop_oneof![
        Just(String::new()),
        Just("https://vehicle.api.smartcar.com".to_owned()),
        Just("https://vehicle.api.smartcar.com:443".to_owned()),
        Just("//vehicle.api.smartcar.com".to_owned()),
        Just("https://evil.example".to_owned()),
        Just("http://vehicle.api.smartcar.com".to_owned()),
        Just("//evil.example".to_owned()),
        Just("https://a@vehicle.api.smartcar.com".to_owned()),
        "[a-z]{1,5}:(//)?[a-z.]{1,10}",
    ];
    let path = prop_oneof![
        Just("/connections"),
        Just("/v3/connections"),
        Just("/v2/connections"),
        Just("connections"),
        Just(""),
    ];
    (origin, path, 0u32..30, any::<bool>()).prop_map(|(origin, path, n, encoded)| {
        let name = if encoded {
            "page%5Bnumber%5D"
        } else {
            "page[number]"
        };
        format!("{origin}{path}?{name}={n}")
    })
}

proptest! {
    #[test]
    fn any_server_ends_within_the_cap_and_only_ever_asks_the_base(
        links in prop::collection::vec(prop::option::of(link()), 1..40),
        repeat in any::<bool>(),
        cap in 1u32..20,
    ) {
        let mut p = Paginator::new(base(), ListConnections::new())
            .with_max_pages(NonZeroU32::new(cap).unwrap());
        let mut feeds = 0;
        for (i, next) in links.iter().enumerate() {
            let Some(request) = p.next_request() else { break };
            let mut target = String::new();
            p.base().write_url(request, &mut target).unwrap();
            prop_assert!(target.starts_with("https://vehicle.api.smartcar.com/v3/connections"));
            let id = if repeat { "same".to_owned() } else { format!("id{i}") };
            let next = next.as_ref().map_or("null".to_owned(), |l| format!("{l:?}"));
            feeds += 1;
            if feed(&mut p, &body(&[&id], &next, None)).is_err() {
                break;
            }
        }
        prop_assert!(feeds <= cap as usize);
    }
}
