//! The happy path: pages, links, filters and headers as the API expects them.

use connections_blocking::InvalidBaseUrl;
use connections_blocking::{Client, ConfigError, Error, ListConnections, Mode};
use connections_testkit::{Links, Reply, TestServer, listing};

use crate::common::{TOKEN, client, failure, origin_of};

fn ids(client: &Client, request: &ListConnections<'_>) -> Vec<String> {
    client
        .connections(request)
        .map(|c| c.unwrap().id.unwrap())
        .collect()
}

fn expected(total: usize) -> Vec<String> {
    (0..total).map(|i| format!("conn-{i}")).collect()
}

#[test]
fn follows_relative_links_over_several_pages() {
    let server = TestServer::start(listing(25, Links::Relative, String::new()));
    let request = ListConnections::builder().page_size(10).build().unwrap();
    assert_eq!(ids(&client(&server), &request), expected(25));
    let seen = server.requests();
    let numbers: Vec<_> = seen.iter().map(|r| r.param("page[number]")).collect();
    assert_eq!(numbers, [None, Some("2".into()), Some("3".into())]);
    assert!(seen.iter().all(|r| r.path() == "/v3/connections"));
    assert!(
        seen.iter()
            .all(|r| r.param("page[size]").as_deref() == Some("10"))
    );
}

#[test]
fn follows_absolute_links_to_the_same_origin() {
    let server = TestServer::start(|r| listing(23, Links::Absolute, origin_of(r))(r));
    let request = ListConnections::builder().page_size(5).build().unwrap();
    assert_eq!(ids(&client(&server), &request), expected(23));
    assert_eq!(server.requests().len(), 5);
}

#[test]
fn pages_yield_each_page_then_end() {
    let server = TestServer::start(listing(7, Links::Relative, String::new()));
    let request = ListConnections::builder().page_size(3).build().unwrap();
    let mut pages = client(&server).pages(&request);
    let seen: Vec<_> = pages
        .by_ref()
        .map(|p| p.map(|p| (p.status, p.request_id.clone(), p.connections().len())))
        .collect::<Result<_, _>>()
        .unwrap();
    // Each page keeps what its response said.
    let expected = [(1, 3), (2, 3), (3, 1)].map(|(n, len)| (200, Some(format!("req-{n}")), len));
    assert_eq!(seen, expected);
    assert!(pages.next().is_none(), "stays ended");
    assert_eq!(server.requests().len(), 3);
}

#[test]
fn list_returns_one_page_with_status_and_request_id() {
    let server = TestServer::start(listing(25, Links::Relative, String::new()));
    let request = ListConnections::builder()
        .page_size(10)
        .page_number(2)
        .build()
        .unwrap();
    let listed = client(&server).list(&request).unwrap();
    assert_eq!(listed.status, 200);
    assert_eq!(listed.request_id.as_deref(), Some("req-2"));
    let first = listed.value.connections().first().unwrap();
    assert_eq!(first.id.as_deref(), Some("conn-10"));
    assert_eq!(server.requests().len(), 1, "list fetches one page only");
}

#[test]
fn filters_arrive_exactly_as_given() {
    let server = TestServer::start(listing(1, Links::Relative, String::new()));
    let user = "a&b=c d+e/f?g#h%20ü—ñ";
    let vehicle = "v=1&page[number]=9 ✓";
    let request = ListConnections::builder()
        .user_id(user)
        .vehicle_id(vehicle)
        .mode(Mode::Simulated)
        .page_size(50)
        .build()
        .unwrap();
    client(&server).list(&request).unwrap();
    let seen = &server.requests()[0];
    assert_eq!(seen.param("filter[userId]").as_deref(), Some(user));
    assert_eq!(seen.param("filter[vehicleId]").as_deref(), Some(vehicle));
    assert_eq!(
        seen.param("filter[vehicle.mode]").as_deref(),
        Some("simulated")
    );
    assert_eq!(seen.param("page[size]").as_deref(), Some("50"));
    assert_eq!(
        seen.param("page[number]"),
        None,
        "the vehicle id did not inject a parameter"
    );
    assert_eq!(seen.query().len(), 4);
}

#[test]
fn sends_the_token_accept_and_user_agent() {
    let server = TestServer::start(listing(1, Links::Relative, String::new()));
    let client = crate::common::builder(&server)
        .user_agent_suffix("my-app/1.2")
        .build()
        .unwrap();
    client.list(&ListConnections::new()).unwrap();
    let seen = &server.requests()[0];
    assert_eq!(seen.method, "GET");
    assert_eq!(
        seen.header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    assert_eq!(seen.header("accept"), Some("application/json"));
    let agent = seen.header("user-agent").unwrap();
    assert!(agent.starts_with("connections-core/"), "{agent}");
    assert!(agent.ends_with(" my-app/1.2"), "{agent}");
    for name in ["authorization", "accept", "user-agent"] {
        let count = seen.headers.iter().filter(|(n, _)| n == name).count();
        assert_eq!(count, 1, "{name} sent {count} times");
    }
}

#[test]
fn asks_the_token_source_before_each_attempt() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    let server = TestServer::start(|r| {
        let n = r.header("authorization").unwrap().to_owned();
        if n.ends_with("-1") {
            Reply::json(
                401,
                crate::common::error_body(401, "AUTHENTICATION", "EXPIRED"),
            )
        } else {
            Reply::json(503, "{}")
        }
    });
    let calls = Arc::new(AtomicU32::new(0));
    let seen = calls.clone();
    let client = crate::common::builder(&server)
        .token_source(connections_blocking::token_source_fn(move || {
            let n = seen.fetch_add(1, Ordering::SeqCst);
            Ok(connections_blocking::AccessToken::from_string(format!(
                "fresh-{n}"
            ))?)
        }))
        .build()
        .unwrap();
    let error = failure(client.list(&ListConnections::new()));
    assert!(
        matches!(&error, Error::Api(e) if e.status == 401),
        "{error:?}"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 2, "one token per attempt");
    let tokens: Vec<_> = server
        .requests()
        .iter()
        .map(|r| r.header("authorization").unwrap().to_owned())
        .collect();
    assert_eq!(tokens, ["Bearer fresh-0", "Bearer fresh-1"]);
}

#[test]
fn plain_http_is_refused_unless_loopback() {
    let refused = Client::builder()
        .token(TOKEN)
        .base_url("http://api.example.com/v3")
        .build();
    let error = failure(refused);
    assert!(
        matches!(
            error,
            Error::Config(ConfigError::BaseUrl(InvalidBaseUrl::InsecureScheme))
        ),
        "{error:?}"
    );
    assert!(error.chain().to_string().contains("http"), "{error}");
    for loopback in [
        "http://localhost:8080/v3",
        "http://127.0.0.1:8080/v3",
        "http://[::1]:8080/v3",
    ] {
        let built = Client::builder().token(TOKEN).base_url(loopback).build();
        assert!(built.is_ok(), "{loopback}: {built:?}");
    }
    let https = Client::builder()
        .token(TOKEN)
        .base_url("https://api.example.com/v3")
        .build();
    assert!(https.is_ok());
}
