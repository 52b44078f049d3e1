//! Turning what a transport received (status, a few headers, a bounded body) into a page or a
//! typed error. Every status, content type and body maps to exactly one outcome, so the
//! transports need no rules of their own.

use core::fmt;

use super::decode::{DecodeError, Decoder, Scratch, Sink};
use super::error::{ApiError, SNIPPET_LEN};
use super::failure::{Failure, is_retryable_status};
use super::model::Page;
use super::retry_after::{RetryAfter, UnixTime};
use super::storage::{Heapless, Storage};
#[cfg(feature = "alloc")]
use super::{
    decode::{Alloc, PageBuffers, Recycled},
    storage::{Borrowed, Owned, Text},
};

/// What a transport received, borrowed for as long as decoding needs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Response<'a> {
    /// The HTTP status.
    pub status: u16,
    /// `Content-Type`.
    pub content_type: Option<&'a str>,
    /// `sc-request-id`, which Smartcar sends on every response.
    pub request_id: Option<&'a str>,
    /// `Retry-After`.
    pub retry_after: Option<&'a str>,
    /// `Location`, for redirects (which are never followed).
    pub location: Option<&'a str>,
    /// The body, already bounded by the transport.
    pub body: &'a [u8],
}

impl<'a> Response<'a> {
    /// A response with no headers yet.
    pub fn new(status: u16, body: &'a [u8]) -> Self {
        Response {
            status,
            content_type: None,
            request_id: None,
            retry_after: None,
            location: None,
            body,
        }
    }

    /// Records a header the core reads (name case-insensitive); others are ignored.
    pub fn header(mut self, name: &str, value: &'a str) -> Self {
        let slot = [
            ("content-type", &mut self.content_type),
            ("sc-request-id", &mut self.request_id),
            ("retry-after", &mut self.retry_after),
            ("location", &mut self.location),
        ]
        .into_iter()
        .find(|(known, _)| name.eq_ignore_ascii_case(known));
        if let Some((_, slot)) = slot {
            *slot = Some(value);
        }
        self
    }

    /// Reads status and headers from an `http` response head.
    #[cfg(feature = "http")]
    pub fn from_http(head: &'a http::response::Parts, body: &'a [u8]) -> Self {
        head.headers
            .iter()
            .filter_map(|(name, value)| Some((name.as_str(), value.to_str().ok()?)))
            .fold(
                Response::new(head.status.as_u16(), body),
                |r, (name, value)| r.header(name, value),
            )
    }

    /// Decodes a page that borrows its strings from the body.
    #[cfg(feature = "alloc")]
    pub fn page(&self) -> Result<Page<Borrowed<'a>>, ResponseError<Borrowed<'a>>> {
        self.decode(&mut Alloc::<Borrowed<'a>>::default())
    }

    /// Decodes a page like [`Self::page`], taking its lists from `buffers`: once a page has
    /// been recycled into them, pages without escapes decode without allocating.
    #[cfg(feature = "alloc")]
    pub fn page_with(
        &self,
        buffers: &mut PageBuffers,
    ) -> Result<Page<Borrowed<'a>>, ResponseError<Borrowed<'a>>> {
        self.decode(&mut Recycled::new(buffers))
    }

    /// Decodes a page into owned models.
    #[cfg(feature = "alloc")]
    pub fn page_owned(&self) -> Result<Page<Owned>, ResponseError<Owned>> {
        self.decode(&mut Alloc::<Owned>::default())
    }

    /// Decodes a page without an allocator; see [`crate::decode_page_heapless`].
    pub fn page_heapless<const N: usize, const P: usize, const E: usize>(
        &self,
        scratch: &'a mut [u8],
    ) -> Result<Page<Heapless<'a, N, P, E>>, ResponseError<Heapless<'a, N, P, E>>> {
        self.decode(&mut Scratch::new(scratch))
    }

    fn decode<K: Sink<'a>>(&self, sink: &mut K) -> Result<Page<K::Out>, ResponseError<K::Out>> {
        let status = self.status;
        match status {
            200..=299 => match self.content_type {
                Some(ct) if !is_json(ct) => Err(ResponseError::NotJson {
                    status,
                    content_type: sink.borrowed(ct),
                    body_snippet: snippet(self.body).map(|s| sink.borrowed(s)),
                }),
                _ => Decoder::new(self.body, sink)
                    .and_then(Decoder::page)
                    .map_err(|error| ResponseError::Malformed { status, error }),
            },
            300..=399 => Err(ResponseError::Redirect {
                status,
                location: self.location.map(|l| sink.borrowed(l)),
            }),
            _ => Err(ResponseError::Api(self.api_error(sink))),
        }
    }

    pub(crate) fn api_error<K: Sink<'a>>(&self, sink: &mut K) -> ApiError<K::Out> {
        let decoded = Decoder::new(self.body, &mut *sink).and_then(Decoder::errors);
        let (errors, body_snippet) = match decoded {
            Ok(errors) => (errors, None),
            Err(_) => (
                Default::default(),
                snippet(self.body).map(|s| sink.borrowed(s)),
            ),
        };
        let from_body = || {
            errors
                .as_ref()
                .iter()
                .find_map(|e| e.meta.as_ref()?.debug.as_ref()?.request_id.clone())
        };
        let request_id = match self.request_id {
            Some(id) => Some(sink.borrowed(id)),
            None => from_body(),
        };
        ApiError {
            status: self.status,
            request_id,
            retry_after: self.retry_after.and_then(|v| RetryAfter::parse(v).ok()),
            errors,
            body_snippet,
        }
    }
}

/// Whether a media type is JSON: `application/json` or any `application/*+json`.
pub(crate) fn is_json(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or("").trim();
    let Some((kind, subtype)) = essence.split_once('/') else {
        return false;
    };
    let suffix = subtype.len().checked_sub(5).and_then(|i| subtype.get(i..));
    kind.eq_ignore_ascii_case("application")
        && (subtype.eq_ignore_ascii_case("json")
            || suffix.is_some_and(|s| s.eq_ignore_ascii_case("+json")))
}

/// The start of a body, cut at a character boundary; `None` when there is no text.
pub(crate) fn snippet(body: &[u8]) -> Option<&str> {
    let head = body.get(..SNIPPET_LEN).unwrap_or(body);
    let text = match core::str::from_utf8(head) {
        Ok(text) => text,
        Err(e) => core::str::from_utf8(head.get(..e.valid_up_to())?).ok()?,
    };
    Some(text.trim()).filter(|t| !t.is_empty())
}

/// Why a response did not yield a page.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ResponseError<R: Storage> {
    /// The API answered with an error status.
    Api(ApiError<R>),
    /// A redirect, which is never followed: the token must not travel to another address.
    Redirect {
        /// The 3xx status.
        status: u16,
        /// Where it pointed.
        location: Option<R::Str>,
    },
    /// A success status with a body that is not JSON.
    NotJson {
        /// The 2xx status.
        status: u16,
        /// The content type that came instead.
        content_type: R::Str,
        /// The start of the body.
        body_snippet: Option<R::Str>,
    },
    /// A success status with a body that is not a valid page.
    Malformed {
        /// The 2xx status.
        status: u16,
        /// What was wrong, and where.
        error: DecodeError,
    },
}

impl<R: Storage> ResponseError<R> {
    /// The HTTP status of the response.
    pub fn status(&self) -> u16 {
        match self {
            ResponseError::Api(e) => e.status,
            ResponseError::Redirect { status, .. }
            | ResponseError::NotJson { status, .. }
            | ResponseError::Malformed { status, .. } => *status,
        }
    }

    /// Whether the same request may succeed later (see [`ApiError::is_retryable`]).
    pub fn is_retryable(&self) -> bool {
        matches!(self, ResponseError::Api(e) if is_retryable_status(e.status))
    }

    /// How long the server asked to wait, for API errors that said.
    pub fn retry_after(&self) -> Option<RetryAfter> {
        match self {
            ResponseError::Api(e) => e.retry_after,
            _ => None,
        }
    }

    /// This outcome as the retry policy sees it, with Retry-After counted from `now`.
    pub fn to_failure(&self, now: UnixTime) -> Failure {
        Failure::Status {
            status: self.status(),
            retry_after: self.retry_after().map(|r| r.delay_from(now)),
        }
    }

    /// The same error with owned text.
    #[cfg(feature = "alloc")]
    pub fn into_owned(self) -> ResponseError<Owned> {
        match self {
            ResponseError::Api(e) => ResponseError::Api(e.into_owned()),
            ResponseError::Redirect { status, location } => ResponseError::Redirect {
                status,
                location: location.map(Text::into_string),
            },
            ResponseError::NotJson {
                status,
                content_type,
                body_snippet,
            } => ResponseError::NotJson {
                status,
                content_type: content_type.into_string(),
                body_snippet: body_snippet.map(Text::into_string),
            },
            ResponseError::Malformed { status, error } => {
                ResponseError::Malformed { status, error }
            }
        }
    }
}

impl<R: Storage> fmt::Display for ResponseError<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResponseError::Api(e) => e.fmt(f),
            ResponseError::Redirect { status, location } => {
                write!(f, "HTTP {status} redirect")?;
                if let Some(location) = location {
                    write!(f, " to {:?}", location.as_ref())?;
                }
                f.write_str(
                    " not followed, so the token is never sent elsewhere: \
                     configure the base URL the redirect points to",
                )
            }
            ResponseError::NotJson {
                status,
                content_type,
                body_snippet,
            } => {
                write!(
                    f,
                    "HTTP {status} with content type {:?} instead of JSON: check that the base \
                     URL points at the API and not at a proxy or login page",
                    content_type.as_ref()
                )?;
                if let Some(body) = body_snippet {
                    write!(f, "; body starts {:?}", body.as_ref())?;
                }
                Ok(())
            }
            ResponseError::Malformed { status, error } => {
                write!(
                    f,
                    "HTTP {status} body is not a valid connections page: {error}"
                )
            }
        }
    }
}

impl<R: Storage> core::error::Error for ResponseError<R> {}
