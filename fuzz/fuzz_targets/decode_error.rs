//! Any status, headers and body through `Response`: no panic, and every outcome is the one
//! the status calls for: an `Api` error with that very status for anything but 2xx/3xx, a
//! redirect for 3xx, a page or a typed refusal for 2xx; snippets stay within `SNIPPET_LEN`.
//! Every body is also decoded as an error body, against serde_json (`check_errors`).
//!
//! The input reads like an HTTP response: a status line, `name: value` header lines (any
//! names: `Response::header` must pick the ones it knows, in any case, the last one winning),
//! an empty line, then the body as raw bytes.
#![no_main]

use connections_core::error::SNIPPET_LEN;
use connections_core::{
    IntoOwned, Owned, Response, ResponseError, RetryAfter, UnixTime, decode_errors,
    decode_page_owned,
};
use libfuzzer_sys::fuzz_target;

/// What the input says, as the checks below expect the response to have recorded it.
#[derive(Debug, Default)]
struct Input<'a> {
    status: u16,
    content_type: Option<&'a str>,
    retry_after: Option<&'a str>,
    request_id: Option<&'a str>,
    location: Option<&'a str>,
    body: &'a [u8],
}

fuzz_target!(|data: &[u8]| {
    let split = data.windows(2).position(|w| w == b"\n\n");
    let (head, body) = match split {
        Some(at) => (&data[..at], &data[at + 2..]),
        None => (data, &[][..]),
    };
    let head = String::from_utf8_lossy(head);
    let mut lines = head.split('\n');
    let Some(Ok(status)) = lines.next().map(|l| l.trim().parse::<u16>()) else {
        return;
    };
    let headers: Vec<(&str, &str)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name, value.strip_prefix(' ').unwrap_or(value)))
        .collect();
    check(status, &headers, body);
});

fn check(status: u16, headers: &[(&str, &str)], body: &[u8]) {
    let mut response = Response::new(status, body);
    let mut input = Input {
        status,
        body,
        ..Input::default()
    };
    for &(name, value) in headers {
        response = response.header(name, value);
        let slot = match name.to_ascii_lowercase().as_str() {
            "content-type" => &mut input.content_type,
            "retry-after" => &mut input.retry_after,
            "sc-request-id" => &mut input.request_id,
            "location" => &mut input.location,
            _ => continue,
        };
        *slot = Some(value);
    }
    let input = &input;
    assert_eq!(
        (
            response.content_type,
            response.retry_after,
            response.request_id,
            response.location
        ),
        (
            input.content_type,
            input.retry_after,
            input.request_id,
            input.location
        ),
        "headers recorded"
    );
    connections_fuzz::check_errors(body);
    let owned = response.page_owned();

    // The borrowing decode is the same decision, and the no-allocator one never panics.
    let borrowed = response
        .page()
        .map(IntoOwned::into_owned)
        .map_err(ResponseError::into_owned);
    assert_eq!(owned, borrowed);
    let mut scratch = vec![0; input.body.len()];
    let _ = response.page_heapless::<2, 2, 1>(&mut scratch);

    if let Err(e) = &owned {
        assert_eq!(e.status(), input.status);
        let _ = e.to_string();
        let _ = e.to_failure(UnixTime(0));
        let _ = e.to_failure(UnixTime(i64::MAX));
    }
    match input.status {
        200..=299 => success(input, owned),
        300..=399 => match owned {
            Err(ResponseError::Redirect { location, .. }) => {
                assert_eq!(location.as_deref(), input.location);
            }
            other => panic!("a {} gave {other:?}", input.status),
        },
        _ => match owned {
            Err(ResponseError::Api(e)) => api_error(input, &e),
            other => panic!("a {} gave {other:?}", input.status),
        },
    }
}

/// A 2xx is a page, `NotJson` for a content type that is not JSON, or `Malformed` with the
/// decoder's own error.
fn success(input: &Input<'_>, owned: Result<connections_core::Page<Owned>, ResponseError<Owned>>) {
    match owned {
        Err(ResponseError::NotJson {
            content_type,
            body_snippet,
            ..
        }) => {
            assert_eq!(Some(content_type.as_str()), input.content_type);
            assert_snippet(input.body, body_snippet.as_deref());
        }
        Ok(page) => assert_eq!(decode_page_owned(input.body).as_ref(), Ok(&page)),
        Err(ResponseError::Malformed { error, .. }) => {
            assert_eq!(decode_page_owned(input.body).err(), Some(error));
        }
        Err(other) => panic!("a {} gave {other:?}", input.status),
    }
}

/// An API error carries the header's request id (else the body's), the parsed Retry-After,
/// and either the decoded `errors` or a bounded snippet of a body that is not a v3 error.
fn api_error(input: &Input<'_>, e: &connections_core::ApiError<Owned>) {
    assert_eq!(e.status, input.status);
    let expected_retry = input.retry_after.and_then(|v| RetryAfter::parse(v).ok());
    assert_eq!(e.retry_after, expected_retry);
    match decode_errors(input.body) {
        Ok(errors) => {
            assert_eq!(
                e.errors,
                errors
                    .into_iter()
                    .map(IntoOwned::into_owned)
                    .collect::<Vec<_>>()
            );
            assert_eq!(e.body_snippet, None);
        }
        Err(_) => {
            assert!(e.errors.is_empty());
            assert_snippet(input.body, e.body_snippet.as_deref());
        }
    }
    let from_body = e
        .errors
        .iter()
        .find_map(|entry| entry.meta.as_ref()?.debug.as_ref()?.request_id.as_deref());
    assert_eq!(e.request_id.as_deref(), input.request_id.or(from_body));
}

/// A snippet is at most `SNIPPET_LEN` bytes of the body's start, trimmed, never empty.
fn assert_snippet(body: &[u8], snippet: Option<&str>) {
    let Some(snippet) = snippet else { return };
    assert!(
        snippet.len() <= SNIPPET_LEN,
        "snippet of {} bytes",
        snippet.len()
    );
    assert!(!snippet.is_empty());
    let head = &body[..body.len().min(SNIPPET_LEN)];
    let found = head.windows(snippet.len()).any(|w| w == snippet.as_bytes());
    assert!(found, "snippet {snippet:?} is not from the body's start");
}
