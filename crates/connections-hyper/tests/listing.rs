//! Listing over several pages: links, filters, headers, and every way a `next` link can be
//! refused. The token only ever reaches the configured server.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use connections_core::{LinkError, Mode, USER_AGENT};
use connections_hyper::{Error, ListConnections, PaginationError};
use connections_testkit::{Links, Reply, TestServer, listing};

fn by_tens() -> ListConnections<'static> {
    ListConnections::builder().page_size(10).build().unwrap()
}

#[tokio::test]
async fn follows_relative_links_over_several_pages() {
    let server = TestServer::start(listing(25, Links::Relative, String::new()));
    let (items, error) = all_connections(&client(&server), &by_tens()).await;
    assert!(error.is_none(), "{error:?}");
    assert_eq!(ids(&items), expected_ids(25));
    let numbers: Vec<usize> = server.requests().iter().map(page_number).collect();
    assert_eq!(numbers, [1, 2, 3]);
    assert!(
        server
            .requests()
            .iter()
            .all(|r| r.path() == "/v3/connections")
    );
}

#[tokio::test]
async fn follows_absolute_links_over_several_pages() {
    let server = absolute_listing(31);
    let (pages, error) = walk(&client(&server), &by_tens()).await;
    assert!(error.is_none(), "{error:?}");
    assert_eq!(pages.len(), 4);
    assert_eq!(page_ids(&pages), expected_ids(31));
    assert_eq!(server.requests().len(), 4);
}

#[tokio::test]
async fn list_fetches_one_page_with_its_status_and_request_id() {
    let server = TestServer::start(listing(25, Links::Relative, String::new()));
    let listed = client(&server).list(&by_tens()).await.unwrap();
    assert_eq!(listed.status, 200);
    assert_eq!(listed.request_id.as_deref(), Some("req-1"));
    assert_eq!(ids(listed.value.connections()), expected_ids(10));
    assert_eq!(server.requests().len(), 1, "list does not follow links");
    let second = ListConnections::builder()
        .page_number(3)
        .page_size(10)
        .build()
        .unwrap();
    let listed = client(&server).list(&second).await.unwrap();
    assert_eq!(listed.request_id.as_deref(), Some("req-3"));
    assert_eq!(listed.value.connections().len(), 5);
}

#[tokio::test]
async fn pages_keep_each_responses_status_and_request_id() {
    use futures_util::StreamExt;
    let server = TestServer::start(listing(25, Links::Relative, String::new()));
    let pages: Vec<_> = client(&server).pages(&by_tens()).collect().await;
    let seen: Vec<_> = pages
        .into_iter()
        .map(|p| p.map(|p| (p.status, p.request_id.clone(), p.connections().len())))
        .collect::<Result<_, _>>()
        .unwrap();
    let expected = [(1, 10), (2, 10), (3, 5)].map(|(n, len)| (200, Some(format!("req-{n}")), len));
    assert_eq!(seen, expected);
}

#[tokio::test]
async fn filters_arrive_exactly_as_given_on_every_page() {
    let server = TestServer::start(listing(4, Links::Relative, String::new()));
    let user = "a&b=c d+e%20/?#";
    let vehicle = "véhicule-✓ 東京 🚗";
    let request = ListConnections::builder()
        .user_id(user)
        .vehicle_id(vehicle)
        .mode(Mode::Simulated)
        .page_size(2)
        .build()
        .unwrap();
    let (items, error) = all_connections(&client(&server), &request).await;
    assert!(error.is_none(), "{error:?}");
    assert_eq!(items.len(), 4);
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    for (n, request) in requests.iter().enumerate() {
        assert_eq!(request.param("filter[userId]").as_deref(), Some(user));
        assert_eq!(request.param("filter[vehicleId]").as_deref(), Some(vehicle));
        assert_eq!(
            request.param("filter[vehicle.mode]").as_deref(),
            Some("simulated")
        );
        assert_eq!(request.param("page[size]").as_deref(), Some("2"));
        assert_eq!(page_number(request), n + 1);
    }
}

#[tokio::test]
async fn sends_the_auth_accept_and_user_agent_headers() {
    let server = TestServer::start(listing(1, Links::Relative, String::new()));
    let client = builder(&server)
        .user_agent_suffix("inventory-sync/2.1")
        .build()
        .unwrap();
    client.list(&ListConnections::new()).await.unwrap();
    let request = &server.requests()[0];
    assert_eq!(request.method, "GET");
    assert_eq!(
        request.header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    assert_eq!(request.header("accept"), Some("application/json"));
    assert_eq!(
        request.header("user-agent"),
        Some(format!("{USER_AGENT} inventory-sync/2.1").as_str())
    );
    assert!(!format!("{client:?}").contains(TOKEN));
}

#[tokio::test]
async fn an_empty_page_with_a_next_link_continues() {
    let server = TestServer::start(|r| match page_number(r) {
        1 => Reply::json(200, page_with(&[], r#""/connections?page[number]=2""#)),
        _ => Reply::json(200, page_with(&["c1", "c2"], "null")),
    });
    let (items, error) = all_connections(&client(&server), &ListConnections::new()).await;
    assert!(error.is_none(), "{error:?}");
    assert_eq!(ids(&items), ["c1", "c2"]);
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn a_next_link_to_another_origin_is_refused_without_a_request() {
    let elsewhere = TestServer::start(listing(10, Links::Relative, String::new()));
    let next = format!(r#""{}/v3/connections?page[number]=2""#, elsewhere.origin());
    let server = TestServer::start(move |_| Reply::json(200, page_with(&["c1"], &next)));
    let (items, error) = all_connections(&client(&server), &ListConnections::new()).await;
    assert_eq!(
        ids(&items),
        ["c1"],
        "the page itself is yielded before the error"
    );
    assert!(
        matches!(
            error,
            Some(Error::Pagination(PaginationError::Link(
                LinkError::OtherOrigin
            )))
        ),
        "{error:?}"
    );
    assert_eq!(server.requests().len(), 1);
    assert!(elsewhere.requests().is_empty(), "the token went elsewhere");
}

#[tokio::test]
async fn a_next_link_to_the_same_page_is_refused() {
    let server = TestServer::start(|_| {
        Reply::json(200, page_with(&["c1"], r#""/connections?page[number]=1""#))
    });
    let (items, error) = all_connections(&client(&server), &ListConnections::new()).await;
    assert_eq!(ids(&items), ["c1"]);
    assert!(
        matches!(
            error,
            Some(Error::Pagination(PaginationError::NotAdvancing {
                from: 1,
                to: 1
            }))
        ),
        "{error:?}"
    );
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn a_server_repeating_its_page_is_stopped_and_no_item_comes_twice() {
    // Ignores page[number]: always the same items, always a fresh `next`.
    let server = TestServer::start(|r| {
        let next = format!(r#""/connections?page[number]={}""#, page_number(r) + 1);
        Reply::json(200, page_with(&["c1", "c2"], &next))
    });
    let (items, error) = all_connections(&client(&server), &ListConnections::new()).await;
    assert_eq!(ids(&items), ["c1", "c2"]);
    assert!(
        matches!(
            error,
            Some(Error::Pagination(PaginationError::RepeatedPage { page: 2 }))
        ),
        "{error:?}"
    );
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn an_a_b_a_cycle_is_refused() {
    let server = TestServer::start(|r| match page_number(r) {
        1 => Reply::json(200, page_with(&["a"], r#""/connections?page[number]=2""#)),
        _ => Reply::json(200, page_with(&["b"], r#""/connections?page[number]=1""#)),
    });
    let (items, error) = all_connections(&client(&server), &ListConnections::new()).await;
    assert_eq!(ids(&items), ["a", "b"]);
    assert!(
        matches!(
            error,
            Some(Error::Pagination(PaginationError::NotAdvancing {
                from: 2,
                to: 1
            }))
        ),
        "{error:?}"
    );
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn endless_fresh_next_links_stop_at_max_pages() {
    let server = TestServer::start(|r| {
        let n = page_number(r);
        let next = format!(r#""/connections?page[number]={}""#, n + 1);
        Reply::json(200, page_with(&[&format!("c{n}")], &next))
    });
    let client = builder(&server).max_pages(5).build().unwrap();
    let (pages, error) = walk(&client, &ListConnections::new()).await;
    assert!(
        matches!(
            error,
            Some(Error::Pagination(PaginationError::TooManyPages { max: 5 }))
        ),
        "{error:?}"
    );
    assert_eq!(page_ids(&pages), ["c1", "c2", "c3", "c4", "c5"]);
    assert_eq!(server.requests().len(), 5, "no request past the cap");
}

#[tokio::test]
async fn the_stream_ends_after_an_error() {
    let server = TestServer::start(|r| match page_number(r) {
        1 => Reply::json(200, page_with(&["a"], r#""/connections?page[number]=2""#)),
        _ => Reply::json(404, r#"{"errors":[]}"#),
    });
    let (items, error) = all_connections(&client(&server), &ListConnections::new()).await;
    assert_eq!(ids(&items), ["a"]);
    assert!(
        matches!(error, Some(Error::Api(ref e)) if e.status == 404),
        "{error:?}"
    );
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_and_streams_move_across_tasks() {
    use futures_util::TryStreamExt;
    let server = TestServer::start(listing(25, Links::Relative, String::new()));
    let client = client(&server);
    let streams: Vec<_> = (0..3)
        .map(|_| {
            let request = by_tens();
            // The stream borrows neither the client nor the request.
            let stream = client.clone().connections(&request);
            tokio::spawn(stream.try_collect::<Vec<_>>())
        })
        .collect();
    for stream in streams {
        assert_eq!(ids(&stream.await.unwrap().unwrap()), expected_ids(25));
    }
    assert_eq!(server.requests().len(), 9);
}
