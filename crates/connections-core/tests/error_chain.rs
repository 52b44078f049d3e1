//! Every error of the core, walked through `source()`: no message repeats text a message
//! above it already printed, so a reporter that prints the whole chain says each thing once.
#![cfg(feature = "std")]
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use std::error::Error;
use std::fmt;
use std::num::NonZeroU32;

use connections_core::model::Timestamp;
use connections_core::{
    AccessToken, ApiError, BaseUrl, Decision, Failure, ListConnections, ListingError, Mode, Owned,
    Paginator, Response, ResponseError, RetryAfter, RetryPolicy, decode_page,
};

const E401: &str = include_str!("fixtures/error_401.json");

/// The messages of `error` and of each of its sources, outermost first.
fn chain(error: &(dyn Error + 'static)) -> Vec<String> {
    let mut messages = vec![error.to_string()];
    let mut current = error;
    while let Some(source) = current.source() {
        messages.push(source.to_string());
        current = source;
        assert!(
            messages.len() < 16,
            "a source chain that loops: {messages:?}"
        );
    }
    messages
}

/// Fails when a message in the chain is contained in one above it.
fn assert_each_said_once(name: &str, error: &(dyn Error + 'static)) {
    let messages = chain(error);
    for (i, outer) in messages.iter().enumerate() {
        assert!(
            !outer.trim().is_empty(),
            "{name}: empty message in {messages:?}"
        );
        for inner in &messages[i + 1..] {
            assert!(
                !outer.contains(inner.as_str()),
                "{name}: {inner:?} is printed by its source and again by {outer:?}"
            );
        }
    }
}

fn response_error(response: Response<'_>) -> ResponseError<Owned> {
    response.page_owned().unwrap_err()
}

/// A transport error whose own text leaves out its cause, as a well-behaved one does.
#[derive(Debug)]
struct Transport(std::io::Error);

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the connection failed")
    }
}

impl Error for Transport {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&self.0)
    }
}

/// One of every error type (and of every variant that wraps another error).
fn every_error() -> Vec<(&'static str, Box<dyn Error>)> {
    let api = match response_error(Response::new(401, E401.as_bytes())) {
        ResponseError::Api(e) => e,
        other => panic!("{other:?}"),
    };
    let malformed = response_error(Response::new(200, b"{\"data\":"));
    let base = BaseUrl::parse("https://vehicle.api.smartcar.com/v3").unwrap();
    let link = base.resolve_page_link("https://evil.example/v3/connections?page[number]=2");
    let mut pages = Paginator::new(base.clone(), ListConnections::new());
    pages.next_request().unwrap();
    let page = decode_page(br#"{"links":{"next":"https://evil.example/x"}}"#).unwrap();
    let paginating = pages.feed(&page).unwrap_err();
    let mut capped = Paginator::new(base.clone(), ListConnections::new())
        .with_max_pages(NonZeroU32::new(1).unwrap());
    capped.next_request().unwrap();
    let page_cap = capped
        .feed(&decode_page(br#"{"links":{"next":"/connections?page[number]=2"}}"#).unwrap())
        .unwrap_err();
    let request = ListConnections::builder().mode(Mode::Live).build().unwrap();
    let token = AccessToken::new("t").unwrap();
    let parts = request.parts(&base, &token);
    let give_up = match RetryPolicy::new().decide(
        1,
        &Failure::Status {
            status: 400,
            retry_after: None,
        },
        0,
    ) {
        Decision::GiveUp(reason) => reason,
        other => panic!("{other:?}"),
    };
    let io = std::io::Error::other("connection reset by peer");

    vec![
        ("ApiError", Box::new(api.clone())),
        ("ApiError (built)", Box::new(ApiError::<Owned>::new(503))),
        (
            "ResponseError::Api",
            Box::new(ResponseError::Api(api.clone())),
        ),
        ("ResponseError::Malformed", Box::new(malformed.clone())),
        (
            "ResponseError::Redirect",
            Box::new(response_error(
                Response::new(302, b"").header("location", "https://elsewhere.example/"),
            )),
        ),
        (
            "ResponseError::NotJson",
            Box::new(response_error(
                Response::new(200, b"<html>").header("content-type", "text/html"),
            )),
        ),
        ("DecodeError", Box::new(decode_page(b"[").unwrap_err())),
        (
            "InvalidRequest",
            Box::new(ListConnections::builder().user_id("").build().unwrap_err()),
        ),
        (
            "InvalidBaseUrl",
            Box::new(BaseUrl::parse("ftp://x").unwrap_err()),
        ),
        ("LinkError", Box::new(link.unwrap_err())),
        ("PaginationError::Link", Box::new(paginating)),
        ("PaginationError::TooManyPages", Box::new(page_cap)),
        ("GiveUpReason", Box::new(give_up)),
        (
            "CapacityError",
            Box::new(parts.path_and_query::<4>().unwrap_err()),
        ),
        ("InvalidToken", Box::new(AccessToken::new("").unwrap_err())),
        (
            "InvalidUserAgentSuffix",
            Box::new(parts.user_agent_suffix("").unwrap_err()),
        ),
        ("InvalidMode", Box::new("LIVE".parse::<Mode>().unwrap_err())),
        (
            "InvalidRetryAfter",
            Box::new(RetryAfter::parse("soon").unwrap_err()),
        ),
        (
            "InvalidTimestamp",
            Box::new(Timestamp("yesterday").unix_time().unwrap_err()),
        ),
        (
            "ListingError::Response",
            Box::new(ListingError::<Transport>::Response(malformed)),
        ),
        (
            "ListingError::Pagination",
            Box::new(ListingError::<Transport>::Pagination(paginating)),
        ),
        (
            "ListingError::Transport",
            Box::new(ListingError::Transport(Transport(io))),
        ),
    ]
}

#[test]
fn no_error_prints_its_cause_twice() {
    for (name, error) in every_error() {
        assert_each_said_once(name, &*error);
    }
}

#[test]
fn a_cause_left_out_of_the_message_is_still_reachable() {
    let error = ListingError::Transport(Transport(std::io::Error::other("reset by peer")));
    assert_eq!(
        chain(&error),
        ["the connection failed", "reset by peer"],
        "the transport's own cause is the listing error's source"
    );
}

/// The checker itself catches a source that repeats its parent's text.
#[test]
fn a_repeated_cause_is_caught() {
    #[derive(Debug)]
    struct Wrapper(ApiError<Owned>);
    impl fmt::Display for Wrapper {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "listing failed: {}", self.0)
        }
    }
    impl Error for Wrapper {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            Some(&self.0)
        }
    }
    let wrapper = Wrapper(ApiError::new(500));
    let caught = std::panic::catch_unwind(|| assert_each_said_once("Wrapper", &wrapper));
    assert!(caught.is_err());
}
