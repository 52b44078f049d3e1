//! Mapping (status, headers, body) to a page or a typed error.
#![cfg(feature = "alloc")]
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use std::time::Duration;

use connections_core::RetryAfter;
use connections_core::error::{ErrorType, ResolutionType, SNIPPET_LEN};
use connections_core::{Owned, Response, ResponseError};

const PAGE: &str = include_str!("fixtures/page.json");
const E401: &str = include_str!("fixtures/error_401.json");
const E429: &str = include_str!("fixtures/error_429.json");

fn api_error(resp: Response<'_>) -> connections_core::ApiError<Owned> {
    match resp.page_owned() {
        Err(ResponseError::Api(e)) => e,
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[test]
fn json_success_yields_a_page() {
    for ct in [
        "application/json",
        "application/json; charset=utf-8",
        "Application/JSON",
        "application/vnd.api+json",
    ] {
        let resp = Response::new(200, PAGE.as_bytes()).header("Content-Type", ct);
        assert_eq!(resp.page().unwrap().connections().len(), 2, "{ct}");
    }
    // No content type at all: the body decides.
    assert!(Response::new(200, PAGE.as_bytes()).page().is_ok());
}

#[test]
fn success_with_another_content_type_is_not_json() {
    let html = "<html><body>Sign in to the corporate proxy</body></html>";
    let resp = Response::new(200, html.as_bytes()).header("content-type", "text/html");
    let err = resp.page().unwrap_err();
    let ResponseError::NotJson {
        status,
        content_type,
        body_snippet,
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!((*status, &**content_type), (200, "text/html"));
    assert_eq!(body_snippet.as_deref(), Some(html));
    assert!(err.to_string().contains("instead of JSON"));
    assert!(!err.is_retryable());
}

#[test]
fn malformed_success_body_is_a_decode_error_with_offset() {
    let resp =
        Response::new(200, &PAGE.as_bytes()[..100]).header("content-type", "application/json");
    let ResponseError::Malformed { status, error } = resp.page().unwrap_err() else {
        panic!()
    };
    assert_eq!((status, error.offset), (200, 100));
    let empty = Response::new(204, b"").page().unwrap_err();
    assert!(matches!(
        empty,
        ResponseError::Malformed { status: 204, .. }
    ));
}

#[test]
fn redirects_are_errors_naming_the_location() {
    let resp = Response::new(302, b"").header("Location", "https://evil.example/steal");
    let err = resp.page().unwrap_err();
    assert!(matches!(
        &err,
        ResponseError::Redirect { status: 302, location: Some(l) } if l == "https://evil.example/steal"
    ));
    assert!(err.to_string().contains("https://evil.example/steal"));
}

#[test]
fn spec_error_bodies_are_typed() {
    let resp = Response::new(401, E401.as_bytes())
        .header("content-type", "application/json")
        .header("SC-Request-Id", "hdr-req-1");
    let e = api_error(resp);
    assert_eq!(e.status, 401);
    assert_eq!(e.request_id.as_deref(), Some("hdr-req-1"));
    let entry = e.first().unwrap();
    assert_eq!(entry.status.as_deref(), Some("401"));
    assert_eq!(entry.kind, Some(ErrorType::Authentication));
    assert_eq!(entry.code.as_deref(), Some("UNAUTHORIZED"));
    assert_eq!(entry.title.as_deref(), Some("Unauthorized"));
    assert_eq!(
        entry.detail.as_deref(),
        Some("The Authorization token is missing or invalid.")
    );
    assert!(
        entry
            .links
            .as_ref()
            .unwrap()
            .about
            .as_ref()
            .unwrap()
            .starts_with("https://smartcar.com/")
    );
    assert!(!e.is_retryable());
    let text = e.to_string();
    assert!(
        text.contains("HTTP 401 AUTHENTICATION UNAUTHORIZED"),
        "{text}"
    );
    assert!(text.contains("hdr-req-1"), "{text}");
}

#[test]
fn rate_limit_errors_carry_retry_after_and_every_entry() {
    let resp = Response::new(429, E429.as_bytes()).header("retry-after", "7");
    let e = api_error(resp);
    assert!(e.is_retryable());
    assert_eq!(
        e.retry_after(),
        Some(RetryAfter::Delay(Duration::from_secs(7)))
    );
    // No header: the request id comes from the body's meta.debug.
    assert_eq!(e.request_id.as_deref(), Some("req_456def"));
    assert_eq!(e.errors.len(), 2);
    let first = &e.errors[0];
    assert_eq!(
        first.status.as_deref(),
        Some("429"),
        "a numeric status is kept as text"
    );
    assert_eq!(first.kind, Some(ErrorType::RateLimit));
    let resolution = first.resolution.as_ref().unwrap().kind.as_ref().unwrap();
    assert_eq!(resolution, &ResolutionType::RetryLater);
    assert_eq!(
        first.suggested_user_message.as_deref(),
        Some("Please try again in a few minutes.")
    );
    let debug = first.meta.as_ref().unwrap().debug.as_ref().unwrap();
    assert_eq!(debug.application_id.as_deref(), Some("app_123abc"));
    assert_eq!(debug.origin.as_deref(), Some("internal.com/path"));
    let second = &e.errors[1];
    assert_eq!(second.kind.as_ref().unwrap().as_str(), "SOMETHING_NEW");
    assert!(matches!(second.kind, Some(ErrorType::Other(_))));
    assert!(matches!(
        second.resolution.as_ref().unwrap().kind,
        Some(ResolutionType::Other(_))
    ));
    let http_date = Response::new(503, b"").header("Retry-After", "Sun, 06 Nov 1994 08:49:37 GMT");
    assert!(matches!(
        api_error(http_date).retry_after,
        Some(RetryAfter::At(_))
    ));
    let junk = Response::new(503, b"").header("Retry-After", "soon");
    assert_eq!(api_error(junk).retry_after, None);
}

#[test]
fn non_json_error_bodies_still_give_typed_errors() {
    let html = format!("<html>{}</html>", "502 Bad Gateway ".repeat(100));
    let e = api_error(Response::new(502, html.as_bytes()).header("content-type", "text/html"));
    assert_eq!(e.status, 502);
    assert!(e.errors.is_empty());
    let snippet = e.body_snippet.as_deref().unwrap();
    assert!(snippet.starts_with("<html>502 Bad Gateway"));
    assert!(snippet.len() <= SNIPPET_LEN);
    assert!(e.is_retryable());
    assert!(e.to_string().contains("HTTP 502"));

    let empty = api_error(Response::new(500, b""));
    assert_eq!((empty.body_snippet, empty.errors.len()), (None, 0));

    let truncated = api_error(Response::new(400, &E401.as_bytes()[..60]));
    assert!(truncated.errors.is_empty());
    assert!(truncated.body_snippet.unwrap().starts_with("{\"errors\""));

    // A snippet never splits a character, even of a body that is not UTF-8 further on.
    let mut body = "é".repeat(SNIPPET_LEN).into_bytes();
    body.push(0xff);
    let e = api_error(Response::new(500, &body));
    assert_eq!(e.body_snippet.unwrap().len(), SNIPPET_LEN);
}

#[test]
fn only_the_transient_statuses_are_retryable() {
    for status in [
        400u16, 401, 403, 404, 409, 422, 430, 501, 505, 429, 500, 502, 503, 504,
    ] {
        let e = api_error(Response::new(status, b"{}"));
        let expected = matches!(status, 429 | 500 | 502 | 503 | 504);
        assert_eq!(e.is_retryable(), expected, "{status}");
    }
}

#[test]
fn heapless_path_decodes_errors_without_an_allocator() {
    let mut scratch = [0u8; 0];
    let resp = Response::new(401, E401.as_bytes()).header("sc-request-id", "r1");
    let Err(ResponseError::Api(e)) = resp.page_heapless::<1, 1, 2>(&mut scratch) else {
        panic!()
    };
    assert_eq!(e.first().unwrap().code, Some("UNAUTHORIZED"));
    assert_eq!(e.request_id, Some("r1"));
}

#[test]
fn error_entries_missing_required_fields_keep_the_fields_they_have() {
    let body = r#"{"errors":[
        {"status":null,"detail":"boom","suggestedUserMessage":"Try later."},
        {"type":"RATE_LIMIT","code":null,"title":"Slow down"},
        {}
    ]}"#;
    let e = api_error(Response::new(500, body.as_bytes()).header("sc-request-id", "r9"));
    assert_eq!((e.errors.len(), e.body_snippet.as_deref()), (3, None));
    let [boom, slow, empty] = &e.errors[..] else {
        panic!("{e:?}")
    };
    assert_eq!(boom.detail.as_deref(), Some("boom"));
    assert_eq!(
        (&boom.status, &boom.kind, &boom.code),
        (&None, &None, &None)
    );
    assert_eq!(slow.kind, Some(ErrorType::RateLimit));
    assert_eq!(
        (slow.code.as_deref(), slow.title.as_deref()),
        (None, Some("Slow down"))
    );
    assert_eq!(empty, &connections_core::ErrorEntry::default());
    // The message keeps what there is and still reads as a sentence.
    assert_eq!(
        e.to_string(),
        "HTTP 500: boom (Try later.) (and 2 more error entries); a temporary server failure: \
         retry later (request id r9)"
    );
    assert_eq!(slow.to_string(), "RATE_LIMIT: Slow down");
    assert_eq!(empty.to_string(), "(no type, code or detail)");

    // serde reads the same entries as the decoder.
    #[derive(serde::Deserialize)]
    struct Body {
        errors: Vec<connections_core::ErrorEntry<Owned>>,
    }
    let via_serde: Body = serde_json::from_str(body).unwrap();
    assert_eq!(via_serde.errors, e.errors);

    // Without an allocator too.
    let mut scratch = [0u8; 0];
    let resp = Response::new(500, body.as_bytes());
    let Err(ResponseError::Api(heapless)) = resp.page_heapless::<1, 1, 3>(&mut scratch) else {
        panic!()
    };
    assert_eq!(heapless.into_owned().errors, e.errors);
}

#[test]
fn error_entries_of_the_wrong_shape_still_fall_back_to_a_snippet() {
    for body in [
        r#"{"errors":[{"code":5}]}"#,
        r#"{"errors":[{"status":true}]}"#,
        r#"{"errors":["oops"]}"#,
        r#"{"error":"invalid_client"}"#,
    ] {
        let e = api_error(Response::new(400, body.as_bytes()));
        assert!(e.errors.is_empty(), "{body}");
        assert_eq!(e.body_snippet.as_deref(), Some(body));
    }
}

#[test]
fn api_errors_built_with_constructors_equal_decoded_ones() {
    use connections_core::error::{ErrorEntry, ErrorLinks};
    let decoded = api_error(
        Response::new(401, E401.as_bytes())
            .header("sc-request-id", "hdr-req-1")
            .header("retry-after", "3"),
    );
    let mut entry = ErrorEntry::<Owned>::new(
        "401".into(),
        ErrorType::Authentication,
        "UNAUTHORIZED".into(),
        "Unauthorized".into(),
        "The Authorization token is missing or invalid.".into(),
    );
    let mut links = ErrorLinks::default();
    links.about = Some(
        "https://smartcar.com/docs/errors/api-errors/v3/authentication-errors#authentication"
            .into(),
    );
    entry.links = Some(links);
    let built = connections_core::ApiError::<Owned>::new(401)
        .with_request_id("hdr-req-1".into())
        .with_retry_after(RetryAfter::Delay(Duration::from_secs(3)))
        .with_errors(vec![entry]);
    assert_eq!(built, decoded);
    assert_eq!(built.to_string(), decoded.to_string());

    let bare = connections_core::ApiError::<Owned>::new(502).with_body_snippet("<html>".into());
    assert_eq!((bare.status, bare.errors.len()), (502, 0));
    assert_eq!(
        (
            bare.request_id,
            bare.retry_after,
            bare.body_snippet.as_deref()
        ),
        (None, None, Some("<html>"))
    );
}
