//! The API's error responses: the v3 `errors[]` body, typed, plus what the headers say.

use core::fmt;

use serde::{Deserialize, Serialize};

use crate::model::open_enum;
use crate::retry::is_retryable_status;
use crate::retry_after::RetryAfter;
use crate::storage::Storage;
#[cfg(feature = "alloc")]
use crate::{
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
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(bound(
    serialize = "R::Str: Serialize",
    deserialize = "R::Str: Deserialize<'de>"
))]
pub struct ErrorEntry<R: Storage> {
    /// The HTTP status as text, e.g. `"401"` (a number is accepted too).
    #[serde(deserialize_with = "string_or_integer")]
    pub status: R::Str,
    /// The error class.
    #[serde(rename = "type")]
    pub kind: ErrorType<R::Str>,
    /// A stable code within the class, e.g. `UNAUTHORIZED`.
    pub code: R::Str,
    /// A short summary.
    pub title: R::Str,
    /// What went wrong.
    pub detail: R::Str,
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

/// `resolution` of an error.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(bound(
    serialize = "R::Str: Serialize",
    deserialize = "R::Str: Deserialize<'de>"
))]
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

/// Accepts `"401"` or `401` for `status`, keeping the text.
fn string_or_integer<'de, D, S>(d: D) -> Result<S, D::Error>
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
        type Value = S;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string or an integer")
        }
        fn visit_borrowed_str<E: Error>(self, v: &'de str) -> Result<S, E> {
            S::deserialize(BorrowedStrDeserializer::new(v))
        }
        fn visit_str<E: Error>(self, v: &str) -> Result<S, E> {
            S::deserialize(v.into_deserializer())
        }
        fn visit_i64<E: Error>(self, v: i64) -> Result<S, E> {
            Self::integer(v)
        }
        fn visit_u64<E: Error>(self, v: u64) -> Result<S, E> {
            Self::integer(v)
        }
    }

    d.deserialize_any(Status(core::marker::PhantomData))
}

/// A response with a status other than 2xx or 3xx: everything the API said about it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
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

    /// The class of the first error entry.
    pub fn error_type(&self) -> Option<&ErrorType<R::Str>> {
        self.first().map(|e| &e.kind)
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
        match self.first() {
            Some(e) => {
                write!(f, " {} {}: {}", e.kind, e.code.as_ref(), e.detail.as_ref())?;
                if let Some(message) = &e.suggested_user_message {
                    write!(f, " ({})", message.as_ref())?;
                }
            }
            None => match &self.body_snippet {
                Some(body) => write!(f, ", body not a v3 error: {:?}", body.as_ref())?,
                None => f.write_str(", empty body")?,
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
    use crate::model::into_owned;

    into_owned!(ErrorEntry {
        status: text,
        kind: enum_,
        code: text,
        title: text,
        detail: text,
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
