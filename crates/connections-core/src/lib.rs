//! Sans-IO, `no_std` core of a client for Smartcar's Vehicle API v3 `GET /connections`.
//!
//! Everything a client does except I/O lives here, once: a validated request builder
//! ([`ListConnections`]), query encoding and request parts ([`RequestParts`], and
//! `http::Request`s with the `http` feature), decoding of pages and errors in one validating
//! pass ([`Response`], [`decode_page`]), the pagination state machine ([`Paginator`]) and the
//! retry policy ([`RetryPolicy`]), the pacer that keeps to a rate limit ([`Pacer`]: a
//! [`Budget`] and the pace learned from 429s), and with `alloc` the listing engine that
//! combines them ([`Listing`]: retries, pacing, read-ahead, duplicate ids, page caps). A transport sends
//! bytes, hands back `(status, headers, body)`, and sleeps when told to: the core never reads a
//! clock, draws random numbers, opens sockets or logs; time and a random seed are inputs.
//!
//! ```
//! # #[cfg(feature = "std")]
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use connections_core::{AccessToken, BaseUrl, ListConnections, Mode, Paginator, Response};
//!
//! let request = ListConnections::builder().mode(Mode::Live).page_size(2).build()?;
//! let token = AccessToken::new("my-access-token")?;
//! let mut pages = Paginator::new(BaseUrl::SMARTCAR, request);
//! let next = pages.next_request().expect("the first page is due");
//! let parts = next.parts(pages.base(), &token);
//! let mut url = String::new();
//! parts.write_url(&mut url)?;
//! assert_eq!(
//!     url,
//!     "https://vehicle.api.smartcar.com/v3/connections?filter%5Bvehicle.mode%5D=live&page%5Bsize%5D=2"
//! );
//!
//! // The transport sends `parts` and reads a bounded body...
//! let body = br#"{"data":[{"id":"c1"},{"id":"c2"}],"links":{"self":"/connections",
//!     "first":"/connections","last":"/connections","next":null}}"#;
//! let response = Response::new(200, body).header("content-type", "application/json");
//! let page = response.page()?;
//! assert_eq!(page.connections()[1].id.as_deref(), Some("c2"));
//! pages.feed(&page)?;
//! assert!(pages.next_request().is_none());
//! # Ok(())
//! # }
//! # #[cfg(not(feature = "std"))]
//! # fn main() {}
//! ```
//!
//! # Features
//! - `std` (default): implies `alloc`; `std::error::Error` and `SystemTime` conversions.
//! - `alloc`: borrowed (`Cow`) and owned models, [`decode_page`], [`decode_page_owned`],
//!   the listing engine ([`Listing`]) and application tokens ([`ClientCredentials`],
//!   [`TokenCache`]).
//! - `http`: `RequestParts::to_http_request` and `Response::from_http`.
//!
//! Without any feature, requests, request parts, [`decode_page_heapless`], errors, the
//! paginator and the retry policy work with no allocator.
//!
//! # Source layout
//! The folders follow the data flow, and imports only go downwards:
//! - `request/`: building requests. Imports nothing from the other folders.
//! - `response/`: reading what came back. Imports nothing from the other folders.
//! - `listing/` (the module `listing_stage`): following pages, retries, pacing, checkpoints
//!   and the listing engine. May use `request/` and `response/`.
//! - `token.rs`: application tokens. May use `request/`, `response/` and `listing/`.
//!
//! Nothing imports from `token.rs` but this file, which only declares the folders and
//! re-exports the public API; each folder's `mod.rs` gives the order inside it.
#![no_std]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(
    clippy::std_instead_of_core,
    clippy::std_instead_of_alloc,
    clippy::alloc_instead_of_core
)]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod request;
mod response;
// The folder `listing/` cannot be the module `listing`: that name is the public, `alloc`-only
// engine module inside it, while the paginator, retry policy and pacer work without `alloc`.
#[path = "listing/mod.rs"]
mod listing_stage;
#[cfg(feature = "alloc")]
pub mod token;

// Building requests.
pub use request::builder::{
    Field, InvalidMode, InvalidRequest, ListConnections, ListConnectionsBuilder, MAX_ID_LEN, Mode,
    Reason, RequestProblem,
};
pub use request::parts::{
    AccessToken, CapacityError, Header, InvalidToken, InvalidUserAgentSuffix, RequestParts,
    USER_AGENT,
};
pub use request::query::PageParameterProblem;
pub use request::url::{
    BaseUrl, InvalidBaseUrl, LinkError, MAX_URL_LEN, PageLink, UrlRole, WordedUrlProblem,
    is_loopback_host,
};

// Deciding retries and pace.
pub use listing_stage::pace;
pub use listing_stage::retry::{Decision, GiveUpReason, RetryPolicy};
#[doc(no_inline)]
pub use pace::{
    Budget, Hold, InvalidRate, Pacer, Rate, Ready, THROTTLE_BASE_DELAY, THROTTLE_MAX_DELAY,
};
pub use response::failure::{Failure, is_retryable_status};
pub use response::retry_after::{InvalidRetryAfter, RetryAfter, UnixTime};

// Driving a whole listing.
#[cfg(feature = "alloc")]
#[doc(no_inline)]
pub use listing::{
    Action, DEFAULT_MAX_RATE_LIMIT_WAIT, DEFAULT_PAGE_SIZE, Listed, Listing, ListingError,
    ListingOptions, Notice, Now, PacerCell, RequestId, SendRequest,
};
#[cfg(feature = "alloc")]
pub use listing_stage::listing;

// Resuming listings, and listing only what is new.
#[cfg(feature = "alloc")]
#[doc(no_inline)]
pub use checkpoint::{CHECKPOINT_VERSION, Checkpoint, CreatedAfter, ResumeError, Setting};
#[cfg(feature = "alloc")]
pub use listing_stage::checkpoint;

// Application tokens (OAuth 2.0 client credentials).
#[cfg(feature = "alloc")]
pub use token::{
    ClientCredentials, ClientSecret, CredentialProblem, Freshness, InvalidCredentials, IssuedToken,
    Lookup, OAuthError, RefreshOnce, SMARTCAR_TOKEN_URL, TokenCache, TokenError, TokenId,
    TokenRequest, TokenRetries, UnusableToken,
};

// Reading responses and following pages.
// Items of the public modules are re-exported `no_inline`, so rustdoc lists them as
// re-exports at the root and documents them once, in their module, as before the move.
pub use response::{decode, error, model, storage};

#[doc(no_inline)]
pub use decode::{DecodeError, decode_page_heapless};
#[cfg(feature = "alloc")]
#[doc(no_inline)]
pub use decode::{PageBuffers, decode_errors, decode_page, decode_page_owned};
#[doc(no_inline)]
pub use error::{ApiError, ErrorEntry, ErrorType, ResolutionType};
pub use listing_stage::paginate::{DEFAULT_MAX_PAGES, PaginationError, Paginator, Progress};
#[cfg(feature = "alloc")]
#[doc(no_inline)]
pub use model::IntoOwned;
#[doc(no_inline)]
pub use model::{Connection, InvalidTimestamp, Page, Timestamp, VehicleMode};
pub use response::outcome::{Response, ResponseError};
#[cfg(feature = "alloc")]
#[doc(no_inline)]
pub use storage::{Borrowed, Owned};
#[doc(no_inline)]
pub use storage::{Heapless, Storage};
