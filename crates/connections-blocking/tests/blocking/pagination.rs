//! Following `links.next`: only to the configured origin, only forward, only up to the cap;
//! after an error the iterators end.

use std::ops::Range;

use connections_blocking::{Error, LinkError, ListConnections, PaginationError};
use connections_testkit::{Recorded, Reply, TestServer};

use crate::common::{builder, checked, client, error_body};

/// A page holding `conn-{i}` for `ids`, whose `next` is `next`.
fn page(ids: Range<usize>, next: Option<String>) -> Reply {
    let data: Vec<_> = ids.map(|i| format!(r#"{{"id":"conn-{i}"}}"#)).collect();
    let next = next.map_or("null".to_owned(), |n| format!("\"{n}\""));
    Reply::json(
        200,
        format!(
            r#"{{"data":[{}],"links":{{"self":"/connections","first":"/connections","next":{next},"last":"/connections"}}}}"#,
            data.join(",")
        ),
    )
}

fn number(request: &Recorded) -> usize {
    request
        .param("page[number]")
        .map_or(1, |n| n.parse().unwrap())
}

fn link(n: usize) -> String {
    format!("/connections?page[number]={n}")
}

/// Every item of `pages()` up to the end, pages as their ids, errors checked for the token.
fn drain(server: &TestServer, max_pages: u32) -> Vec<Result<Vec<String>, Error>> {
    let client = builder(server).max_pages(max_pages).build().unwrap();
    let mut pages = client.pages(&ListConnections::new());
    let items: Vec<_> = pages
        .by_ref()
        .map(|p| {
            p.map(|p| p.value.data.into_iter().map(|c| c.id.unwrap()).collect())
                .map_err(checked)
        })
        .collect();
    assert!(pages.next().is_none(), "the iterator stays ended");
    items
}

fn ids(range: Range<usize>) -> Vec<String> {
    range.map(|i| format!("conn-{i}")).collect()
}

#[test]
fn a_next_link_to_another_origin_is_refused_without_a_request() {
    let other = TestServer::start(|r| page(0..1, None).header("x-n", &number(r).to_string()));
    let elsewhere = format!("{}/v3/connections?page[number]=2", other.origin());
    let server = TestServer::start(move |_| page(0..2, Some(elsewhere.clone())));
    let items = drain(&server, 100);
    assert_eq!(items.len(), 2, "{items:?}");
    assert_eq!(items[0].as_ref().unwrap(), &ids(0..2));
    assert!(
        matches!(
            items[1],
            Err(Error::Pagination(PaginationError::Link(
                LinkError::OtherOrigin
            )))
        ),
        "{:?}",
        items[1]
    );
    assert_eq!(other.requests().len(), 0, "the other origin got a request");
    assert_eq!(server.requests().len(), 1);
}

#[test]
fn a_repeated_next_link_stops_the_listing() {
    // Every page says the next one is page 2.
    let server = TestServer::start(|r| {
        let n = number(r);
        page(n * 10..n * 10 + 2, Some(link(2)))
    });
    let items = drain(&server, 100);
    assert_eq!(items.len(), 3, "{items:?}");
    assert_eq!(items[0].as_ref().unwrap(), &ids(10..12));
    assert_eq!(items[1].as_ref().unwrap(), &ids(20..22));
    assert!(
        matches!(
            items[2],
            Err(Error::Pagination(PaginationError::NotAdvancing {
                from: 2,
                to: 2
            }))
        ),
        "{:?}",
        items[2]
    );
    assert_eq!(server.requests().len(), 2);
}

#[test]
fn a_server_repeating_the_same_page_is_caught_and_the_repeat_not_yielded() {
    // The server ignores page[number]: fresh links, same items.
    let server = TestServer::start(|r| page(0..3, Some(link(number(r) + 1))));
    let client = client(&server);
    let mut connections = client.connections(&ListConnections::new());
    let got: Vec<_> = connections
        .by_ref()
        .take(3)
        .map(|c| c.unwrap().id.unwrap())
        .collect();
    assert_eq!(got, ids(0..3));
    let error = checked(connections.next().unwrap().unwrap_err());
    assert!(
        matches!(
            error,
            Error::Pagination(PaginationError::RepeatedPage { page: 2 })
        ),
        "{error:?}"
    );
    assert!(connections.next().is_none());
    assert_eq!(server.requests().len(), 2);
}

#[test]
fn a_cycle_a_b_a_is_refused() {
    let server = TestServer::start(|r| match number(r) {
        1 => page(0..2, Some(link(2))),
        _ => page(2..4, Some(link(1))),
    });
    let items = drain(&server, 100);
    assert_eq!(items.len(), 3, "{items:?}");
    assert_eq!(items[1].as_ref().unwrap(), &ids(2..4));
    assert!(
        matches!(
            items[2],
            Err(Error::Pagination(PaginationError::NotAdvancing {
                from: 2,
                to: 1
            }))
        ),
        "{:?}",
        items[2]
    );
    assert_eq!(server.requests().len(), 2, "page 1 was not fetched again");
}

#[test]
fn endless_fresh_links_stop_at_max_pages() {
    let server = TestServer::start(|r| {
        let n = number(r);
        page(n * 2..n * 2 + 2, Some(link(n + 1)))
    });
    let items = drain(&server, 5);
    assert_eq!(items.len(), 6, "{items:?}");
    assert!(items[..5].iter().all(Result::is_ok));
    assert!(
        matches!(
            items[5],
            Err(Error::Pagination(PaginationError::TooManyPages { max: 5 }))
        ),
        "{:?}",
        items[5]
    );
    assert_eq!(server.requests().len(), 5, "no request past the cap");
}

#[test]
fn an_empty_page_with_a_next_link_continues() {
    let server = TestServer::start(|r| match number(r) {
        1 => page(0..0, Some(link(2))),
        2 => page(0..0, Some(link(3))),
        _ => page(5..8, None),
    });
    let client = client(&server);
    let got: Vec<_> = client
        .connections(&ListConnections::new())
        .map(|c| c.unwrap().id.unwrap())
        .collect();
    assert_eq!(got, ids(5..8));
    assert_eq!(server.requests().len(), 3);
}

#[test]
fn an_error_mid_listing_is_yielded_once_then_the_iterator_ends() {
    let server = TestServer::start(|r| match number(r) {
        1 => page(0..2, Some(link(2))),
        _ => Reply::json(404, error_body(404, "RESOURCE_NOT_FOUND", "NOT_FOUND")),
    });
    let client = client(&server);
    let mut connections = client.connections(&ListConnections::new());
    assert_eq!(
        connections.next().unwrap().unwrap().id.as_deref(),
        Some("conn-0")
    );
    assert_eq!(
        connections.next().unwrap().unwrap().id.as_deref(),
        Some("conn-1")
    );
    let error = checked(connections.next().unwrap().unwrap_err());
    assert!(
        matches!(&error, Error::Api(api) if api.status == 404),
        "{error:?}"
    );
    assert!(connections.next().is_none());
    assert!(connections.next().is_none());
    assert_eq!(server.requests().len(), 2);
}
