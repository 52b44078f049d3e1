//! The API's error responses: the v3 `errors[]` body, typed, plus what the headers say.

use core::fmt;

use serde::{Deserialize, Serialize};

use super::failure::is_retryable_status;
use super::model::open_enum;
use super::retry_after::RetryAfter;
use super::storage::Storage;
#[cfg(feature = "alloc")]
use super::{
    model::IntoOwned,
    storage::{Owned, Text},
};

open_enum! {
    /// The class of an API error.
    ErrorType {
        /// The token is missing, invalid, expired, or lacks a permission.
        Authentication = "AUTHENTICATION",
        /// The application's plan does not cover the request (status 430).
        Billing = "BILLING",
        /// The vehicle does not support the request.
        Compatibility = "COMPATIBILITY",
        /// A problem with the user's connected-services account.
        ConnectedServicesAccount = "CONNECTED_SERVICES_ACCOUNT",
        /// Too many requests (status 429).
        RateLimit = "RATE_LIMIT",
        /// The resource does not exist.
        ResourceNotFound = "RESOURCE_NOT_FOUND",
        /// Smartcar's own failure.
        Server = "SERVER",
        /// The manufacturer's service failed.
        Upstream = "UPSTREAM",
        /// The request was malformed.
        Validation = "VALIDATION",
        /// The vehicle is in a state that prevents the request.
        VehicleState = "VEHICLE_STATE",
    }
}

open_enum! {
    /// What the API suggests doing about an error.
    ResolutionType {
        /// Try again later.
        RetryLater = "RETRY_LATER",
        /// Have the user connect again to get a new token.
        Reauthenticate = "REAUTHENTICATE",
        /// Ask Smartcar's support.
        ContactSupport = "CONTACT_SUPPORT",
    }
}

/// One entry of an error body's `errors` array.
///
/// The contract requires `status`, `type`, `code`, `title` and `detail`, but they are
/// `Option`s here: an entry that lacks one keeps the others, where refusing it would lose
/// the whole body to a snippet. Build one with [`ErrorEntry::new`] (the five the contract
/// requires) or `Default::default()`, then set the optional fields.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(bound(
    serialize = "R::Str: Serialize",
    deserialize = "R::Str: Deserialize<'de>"
))]
#[non_exhaustive]
pub struct ErrorEntry<R: Storage> {
    /// The HTTP status as text, e.g. `"401"` (a number is accepted too).
    #[serde(
        default,
        deserialize_with = "string_or_integer",
        skip_serializing_if = "Option::is_none"
    )]
    pub status: Option<R::Str>,
    /// The error class.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<ErrorType<R::Str>>,
    /// A stable code within the class, e.g. `UNAUTHORIZED`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<R::Str>,
    /// A short summary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<R::Str>,
    /// What went wrong.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<R::Str>,
    /// What to do about it, when the API says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolution: Option<Resolution<R>>,
    /// A message fit to show to the vehicle's owner.
    #[serde(
        rename = "suggestedUserMessage",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub suggested_user_message: Option<R::Str>,
    /// Documentation about this error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub links: Option<ErrorLinks<R>>,
    /// Debugging details.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<ErrorMeta<R>>,
}

impl<R: Storage> ErrorEntry<R> {
    /// An entry with the five fields the contract requires, in its order; the optional
    /// ones start empty.
    pub fn new(
        status: R::Str,
        kind: ErrorType<R::Str>,
        code: R::Str,
        title: R::Str,
        detail: R::Str,
    ) -> Self {
        ErrorEntry {
            status: Some(status),
            kind: Some(kind),
            code: Some(code),
            title: Some(title),
            detail: Some(detail),
            ..Self::default()
        }
    }
}

/// `TYPE CODE: detail (suggested user message)`, leaving out what the entry lacks; `title`
/// stands in for a missing `detail`.
impl<R: Storage> fmt::Display for ErrorEntry<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let head = [
            self.kind.as_ref().map(ErrorType::as_str),
            self.code.as_ref().map(AsRef::as_ref),
        ];
        let mut head = head.into_iter().flatten();
        let text = self.detail.as_ref().or(self.title.as_ref());
        let mut wrote = false;
        if let Some(first) = head.next() {
            f.write_str(first)?;
            for more in head {
                write!(f, " {more}")?;
            }
            wrote = true;
        }
        if let Some(text) = text {
            f.write_str(if wrote { ": " } else { "" })?;
            f.write_str(text.as_ref())?;
            wrote = true;
        }
        if !wrote {
            f.write_str("(no type, code or detail)")?;
        }
        if let Some(message) = &self.suggested_user_message {
            write!(f, " ({})", message.as_ref())?;
        }
        Ok(())
    }
}

super::model::empty_default! {
    ErrorEntry {
        status, kind, code, title, detail, resolution, suggested_user_message, links, meta
    }
    Resolution { kind }
    ErrorLinks { about }
    ErrorMeta { debug }
    ErrorDebug { application_id, request_id, origin }
}

/// `resolution` of an error.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(bound(
    serialize = "R::Str: Serialize",
    deserialize = "R::Str: Deserialize<'de>"
))]
#[non_exhaustive]
pub struct Resolution<R: Storage> {
    /// The suggested action.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<ResolutionType<R::Str>>,
}

/// `links` of an error.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(bound(
    serialize = "R::Str: Serialize",
    deserialize = "R::Str: Deserialize<'de>"
))]
#[non_exhaustive]
pub struct ErrorLinks<R: Storage> {
    /// Documentation URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub about: Option<R::Str>,
}

/// `meta` of an error.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(bound(
    serialize = "R::Str: Serialize",
    deserialize = "R::Str: Deserialize<'de>"
))]
#[non_exhaustive]
pub struct ErrorMeta<R: Storage> {
    /// Identifiers to quote to Smartcar's support.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub debug: Option<ErrorDebug<R>>,
}

/// `meta.debug` of an error.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(bound(
    serialize = "R::Str: Serialize",
    deserialize = "R::Str: Deserialize<'de>"
))]
#[non_exhaustive]
pub struct ErrorDebug<R: Storage> {
    /// The application's id.
    #[serde(
        rename = "applicationId",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub application_id: Option<R::Str>,
    /// The request's id.
    #[serde(rename = "requestId", default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<R::Str>,
    /// Where the error arose.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<R::Str>,
}

/// Accepts `"401"` or `401` for `status`, keeping the text; `null` is no status.
fn string_or_integer<'de, D, S>(d: D) -> Result<Option<S>, D::Error>
where
    D: serde::Deserializer<'de>,
    S: Deserialize<'de>,
{
    use core::fmt::Write;
    use serde::de::{Error, IntoDeserializer, Visitor, value::BorrowedStrDeserializer};

    struct Status<S>(core::marker::PhantomData<S>);

    impl<S> Status<S> {
        /// Formats an integer without an allocator, then reads it as text.
        fn integer<'de, E: Error>(n: impl fmt::Display) -> Result<S, E>
        where
            S: Deserialize<'de>,
        {
            let mut text = heapless::String::<24>::new();
            write!(text, "{n}").map_err(|_| E::custom("status integer too long"))?;
            S::deserialize(text.as_str().into_deserializer())
        }
    }

    impl<'de, S: Deserialize<'de>> Visitor<'de> for Status<S> {
        type Value = Option<S>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string, an integer or null")
        }
        fn visit_borrowed_str<E: Error>(self, v: &'de str) -> Result<Option<S>, E> {
            S::deserialize(BorrowedStrDeserializer::new(v)).map(Some)
        }
        fn visit_str<E: Error>(self, v: &str) -> Result<Option<S>, E> {
            S::deserialize(v.into_deserializer()).map(Some)
        }
        fn visit_i64<E: Error>(self, v: i64) -> Result<Option<S>, E> {
            Self::integer(v).map(Some)
        }
        fn visit_u64<E: Error>(self, v: u64) -> Result<Option<S>, E> {
            Self::integer(v).map(Some)
        }
        fn visit_unit<E: Error>(self) -> Result<Option<S>, E> {
            Ok(None)
        }
        fn visit_none<E: Error>(self) -> Result<Option<S>, E> {
            Ok(None)
        }
        fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Option<S>, D::Error> {
            d.deserialize_any(self)
        }
    }

    d.deserialize_any(Status(core::marker::PhantomData))
}

/// A response with a status other than 2xx or 3xx: everything the API said about it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct ApiError<R: Storage> {
    /// The HTTP status.
    pub status: u16,
    /// `sc-request-id` header, else the first `meta.debug.requestId` of the body.
    pub request_id: Option<R::Str>,
    /// The `retry-after` header, when present and well formed.
    pub retry_after: Option<RetryAfter>,
    /// The `errors` of a v3 error body; empty when the body was not one.
    pub errors: R::Errors,
    /// The start of the body (at most [`SNIPPET_LEN`] bytes) when it was not a v3 error body,
    /// e.g. a proxy's HTML page; `None` when it was one, or empty.
    pub body_snippet: Option<R::Str>,
}

/// How much of an unreadable error body [`ApiError::body_snippet`] keeps.
pub const SNIPPET_LEN: usize = 256;

impl<R: Storage> ApiError<R> {
    /// An error with this status and nothing else: no entries, headers or snippet. Add them
    /// with the `with_*` methods, e.g. in a transport or a test.
    pub fn new(status: u16) -> Self {
        ApiError {
            status,
            request_id: None,
            retry_after: None,
            errors: Default::default(),
            body_snippet: None,
        }
    }

    /// Sets [`Self::request_id`].
    #[must_use]
    pub fn with_request_id(mut self, request_id: R::Str) -> Self {
        self.request_id = Some(request_id);
        self
    }

    /// Sets the `retry_after` field.
    #[must_use]
    pub fn with_retry_after(mut self, retry_after: RetryAfter) -> Self {
        self.retry_after = Some(retry_after);
        self
    }

    /// Sets [`Self::errors`].
    #[must_use]
    pub fn with_errors(mut self, errors: R::Errors) -> Self {
        self.errors = errors;
        self
    }

    /// Sets [`Self::body_snippet`].
    #[must_use]
    pub fn with_body_snippet(mut self, body_snippet: R::Str) -> Self {
        self.body_snippet = Some(body_snippet);
        self
    }

    /// Whether the same request may succeed later: 429, 500, 502, 503 and 504.
    pub fn is_retryable(&self) -> bool {
        is_retryable_status(self.status)
    }

    /// How long the server asked to wait before retrying.
    pub fn retry_after(&self) -> Option<RetryAfter> {
        self.retry_after
    }

    /// The first (usually the only) error entry.
    pub fn first(&self) -> Option<&ErrorEntry<R>> {
        self.errors.as_ref().first()
    }

    /// The class of the first error entry, if it has one.
    pub fn error_type(&self) -> Option<&ErrorType<R::Str>> {
        self.first()?.kind.as_ref()
    }

    /// The same error with owned text, to keep after the body is gone.
    #[cfg(feature = "alloc")]
    pub fn into_owned(self) -> ApiError<Owned> {
        ApiError {
            status: self.status,
            request_id: self.request_id.map(Text::into_string),
            retry_after: self.retry_after,
            errors: self.errors.into_iter().map(IntoOwned::into_owned).collect(),
            body_snippet: self.body_snippet.map(Text::into_string),
        }
    }

    /// What a caller can do about this status, for messages.
    fn advice(&self) -> &'static str {
        match self.status {
            401 => "check the access token; it may have expired (v3 tokens last an hour)",
            403 => "the token lacks a permission this request needs; reconnect with it",
            404 => "check the base URL and the ids in the filters",
            400 | 422 => "check the request parameters",
            429 => "rate limited: wait before retrying",
            430 => "the application's plan does not cover this request; see the dashboard",
            s if is_retryable_status(s) => "a temporary server failure: retry later",
            _ => "see the error detail",
        }
    }
}

impl<R: Storage> fmt::Display for ApiError<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HTTP {}", self.status)?;
        let errors = self.errors.as_ref();
        match errors.first() {
            Some(e) => {
                // `HTTP 401 AUTHENTICATION UNAUTHORIZED: …`, or `HTTP 500: …` without them.
                let sep = if e.kind.is_some() || e.code.is_some() {
                    " "
                } else {
                    ": "
                };
                write!(f, "{sep}{e}")?;
                if let Some(more) = errors.len().checked_sub(1).filter(|&n| n > 0) {
                    write!(f, " (and {more} more error entries)")?;
                }
            }
            None => match &self.body_snippet {
                Some(body) => write!(f, ", body not a v3 error: {:?}", body.as_ref())?,
                None => f.write_str(", no error details in the body")?,
            },
        }
        write!(f, "; {}", self.advice())?;
        if let Some(id) = &self.request_id {
            write!(f, " (request id {})", id.as_ref())?;
        }
        Ok(())
    }
}

impl<R: Storage> core::error::Error for ApiError<R> {}

#[cfg(feature = "alloc")]
mod owned_impls {
    use super::*;
    use crate::response::model::into_owned;

    into_owned!(ErrorEntry {
        status: opt_text,
        kind: opt_enum,
        code: opt_text,
        title: opt_text,
        detail: opt_text,
        resolution: opt_model,
        suggested_user_message: opt_text,
        links: opt_model,
        meta: opt_model,
    });
    into_owned!(Resolution { kind: opt_enum });
    into_owned!(ErrorLinks { about: opt_text });
    into_owned!(ErrorMeta { debug: opt_model });
    into_owned!(ErrorDebug {
        application_id: opt_text,
        request_id: opt_text,
        origin: opt_text,
    });
}
