//! Sans-IO, `no_std` core of a client for Smartcar's Vehicle API v3 `GET /connections`.
//!
//! (crate docs are written once the pieces exist)
#![no_std]
#![cfg_attr(docsrs, feature(doc_auto_cfg))]
#![warn(
    clippy::std_instead_of_core,
    clippy::std_instead_of_alloc,
    clippy::alloc_instead_of_core
)]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

// --- request side: request.rs, query.rs, url.rs, parts.rs, http.rs ---
#[cfg(feature = "http")]
mod http;
mod parts;
mod query;
mod request;
mod url;
// re-exports of the request side (edit only this block)
pub use parts::{
    AccessToken, CapacityError, Header, InvalidToken, InvalidUserAgentSuffix, RequestParts,
    USER_AGENT,
};
pub use query::PageParameterProblem;
pub use request::{
    Field, InvalidMode, InvalidRequest, ListConnections, ListConnectionsBuilder, Mode,
    RequestProblem,
};
pub use url::{BaseUrl, InvalidBaseUrl, LinkError, PageLink};
// --- end request side ---

// --- retry side: retry.rs, retry_after.rs ---
mod retry;
mod retry_after;
// re-exports of the retry side (edit only this block)
pub use retry::{Decision, Failure, GiveUpReason, RetryPolicy, is_retryable_status};
pub use retry_after::{InvalidRetryAfter, RetryAfter, UnixTime};
// --- end retry side ---

// --- response side: json.rs, model.rs, storage.rs, decode.rs, error.rs, response.rs, paginate.rs ---
pub mod decode;
pub mod error;
mod json;
pub mod model;
mod paginate;
mod response;
pub mod storage;

pub use decode::{DecodeError, decode_page_heapless};
#[cfg(feature = "alloc")]
pub use decode::{decode_errors, decode_page, decode_page_owned};
pub use error::{ApiError, ErrorEntry, ErrorType, ResolutionType};
#[cfg(feature = "alloc")]
pub use model::IntoOwned;
pub use model::{Connection, Page, Timestamp, VehicleMode};
pub use paginate::{DEFAULT_MAX_PAGES, PaginationError, Paginator, Progress};
pub use response::{Response, ResponseError};
#[cfg(feature = "alloc")]
pub use storage::{Borrowed, Owned};
pub use storage::{Heapless, Storage};
// --- end response side ---
