//! Blocking transport for the Smartcar Vehicle API v3 `GET /connections` client, on
//! [ureq] 3 (rustls, no async runtime: no tokio anywhere in the dependency tree).
//!
//! Everything that is not I/O comes from [`connections_core`]: the builder and its
//! validation, request encoding, decoding of pages and API errors, redirect and origin rules,
//! pagination and the retry policy. This crate sends the requests, bounds what it reads, and
//! sleeps when the policy says so. [`connections-hyper`] offers the same builder, methods and
//! [`Error`] for async code, so switching is a change of dependency.
//!
//! ```no_run
//! use connections_blocking::{Client, ListConnections, Mode};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let client = Client::builder()
//!     .token(&std::env::var("SMARTCAR_ACCESS_TOKEN")?)
//!     .request_timeout(std::time::Duration::from_secs(10))
//!     .user_agent_suffix("my-app/1.0")
//!     .build()?;
//!
//! // One page, with the status and Smartcar's request id:
//! let request = ListConnections::builder().mode(Mode::Live).page_size(50).build()?;
//! let first = client.list(&request)?;
//! println!("{} connections on page 1 (request {:?})", first.value.connections().len(), first.request_id);
//!
//! // Every connection, following `links.next` page by page:
//! for connection in client.connections(&request) {
//!     let connection = connection?;
//!     println!("{}", connection.id.as_deref().unwrap_or("-"));
//! }
//! # Ok(())
//! # }
//! ```
//!
//! # What is bounded
//! - **Time**: `request_timeout` (default 30 s) is a deadline for the whole exchange: DNS,
//!   connect, TLS, headers and the complete body. A server sending one byte every quarter
//!   second is cut off at the deadline ([`Timeout::Request`]). DNS and connecting are each
//!   also bounded by `connect_timeout` ([`Timeout::Connect`]).
//! - **Memory**: the body is read up to `max_body_size` (default 8 MiB), with or without
//!   `Content-Length`; one byte more is [`Error::BodyTooLarge`], and a declared length over
//!   the limit is refused before reading.
//! - **Attempts**: as the [`RetryPolicy`] says (default 3), waiting its jittered backoff or
//!   the server's `Retry-After` with [`std::thread::sleep`].
//! - **Pages**: `max_pages` (default 1000), checked before the extra request is made.
//!
//! # Where the token goes
//! Only to the configured base URL's origin: redirects are never followed (the 3xx is an
//! [`Error::InvalidResponse`] naming the `Location`), and a `next` link to another origin is
//! an [`Error::Pagination`] raised before any request. Plain `http://` is refused unless the
//! host is loopback. Proxies are taken from the environment (`HTTPS_PROXY`, `ALL_PROXY`,
//! `NO_PROXY`, ...) as ureq does. Neither errors, `Debug` output nor tracing spans contain the
//! token.
//!
//! # Tracing
//! Each attempt runs in an `info` span `connections.request` with `method`, `path` (without
//! the query), `page`, `attempt`, then `status`, `request_id` and `elapsed_ms`. A retry is a
//! `warn` event with the error and the wait.
//!
//! [ureq]: https://docs.rs/ureq/3
//! [`connections-hyper`]: https://docs.rs/connections-hyper

use connections_client::{Exchanged, record_outcome, record_response, request_id, request_span};
use connections_core::SendRequest;
use std::fmt;
use std::sync::Arc;
use std::time::Instant;

mod agent;
mod iter;

use agent::Phase;

pub use connections_client::{
    BoxError, Builder, Config, ConfigError, DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_BODY_SIZE,
    DEFAULT_REQUEST_TIMEOUT, Error, FromConfig, Listed, Timeout, TokenProvider,
};
/// The core, for everything not re-exported here (models, error details, the listing
/// machine).
pub use connections_core;
pub use connections_core::{
    AccessToken, ApiError, BaseUrl, Connection, ErrorType, InvalidBaseUrl, InvalidRequest,
    InvalidToken, LinkError, ListConnections, ListConnectionsBuilder, Mode, Owned, Page,
    PaginationError, ResponseError, RetryAfter, RetryPolicy,
};

/// The builder of a [`Client`]: the core's [`Builder`], so every setting has the same name
/// and default as in the other transports.
pub type ClientBuilder = Builder<Client>;

/// A blocking client for `GET /connections`.
///
/// Cheap to clone (one shared ureq agent, its connection pool and the settings) and usable
/// from many threads at once; each call blocks its thread until the response is complete or
/// a deadline passes.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    agent: ureq::Agent,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `Config`'s Debug redacts the token provider.
        f.debug_struct("Client")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl FromConfig for Client {
    fn from_config(config: Config) -> Result<Self, Error> {
        let agent = agent::agent(&config)?;
        Ok(Client {
            inner: Arc::new(Inner { config, agent }),
        })
    }
}

impl Client {
    /// Starts configuring a client; [`ClientBuilder::build`] validates the settings.
    pub fn builder() -> ClientBuilder {
        Builder::default()
    }

    /// The validated settings this client uses, e.g. to log them (the token is redacted) or
    /// to build a client of another transport with the same settings.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// Fetches one page (the request's `page[number]`, else the first), retrying as the
    /// policy allows. A 3xx, a non-JSON success, or a malformed page is an error, as is an API
    /// error status once retries are exhausted or not allowed.
    pub fn list(&self, request: &ListConnections<'_>) -> Result<Listed<Page<Owned>>, Error> {
        let listing = self.inner.config.single_page(request);
        iter::Driver::new(self.clone(), listing)
            .next_page()
            // The machine yields the page or fails; it never ends empty-handed.
            .unwrap_or_else(|| Err(Error::Connection("the listing ended without a page".into())))
    }

    /// Every page of the listing, in order, as the core's listing machine drives it:
    /// `page[size]=100` unless the request sets a size, links followed to the same origin
    /// only and always forward, retries and a 429 that pauses the whole listing, and each
    /// connection at most once even when the data moves meanwhile. The request is copied, so
    /// the iterator can be kept or sent to another thread.
    ///
    /// With `page_concurrency` 1 (the default) a page is fetched on the calling thread when
    /// the iterator is advanced. With more, up to that many pages are fetched ahead, each on
    /// a thread of its own with its own deadline, so a consumer that pauses between pages
    /// never holds a request open; pages still come in order.
    ///
    /// After an error the iterator ends: it yields the error once, then `None`. A page whose
    /// `next` link is refused (another origin, a link back, past the page cap) is yielded
    /// before the [`Error::Pagination`]; a page repeating the previous page's items is not.
    pub fn pages(
        &self,
        request: &ListConnections<'_>,
    ) -> impl Iterator<Item = Result<Page<Owned>, Error>> + Send + 'static {
        iter::Pages(iter::Driver::new(
            self.clone(),
            self.inner.config.listing(request),
        ))
    }

    /// Every connection of the listing, in order, page after page; see [`pages`](Self::pages)
    /// for how pages are followed and how errors end the iteration.
    pub fn connections(
        &self,
        request: &ListConnections<'_>,
    ) -> impl Iterator<Item = Result<Connection<Owned>, Error>> + Send + 'static {
        iter::Connections::new(iter::Pages(iter::Driver::new(
            self.clone(),
            self.inner.config.listing(request),
        )))
    }

    /// One attempt, in its own tracing span: the response head and its bounded body.
    fn attempt(&self, send: &SendRequest) -> Result<Exchanged, Error> {
        let span = request_span(&self.inner.config, send);
        let _entered = span.enter();
        let started = Instant::now();
        let outcome = self.exchange(&send.request, &span);
        record_outcome(&span, started, &outcome);
        outcome
    }

    /// Sends the request and reads the bounded response; the core decides what it means.
    fn exchange(
        &self,
        request: &ListConnections<'_>,
        span: &tracing::Span,
    ) -> Result<Exchanged, Error> {
        let config = &self.inner.config;
        let call = connections_client::http_request::<()>(config, request)?;
        let response = self
            .inner
            .agent
            .run(call)
            .map_err(|e| agent::map_error(e, Phase::Call, config))?;
        let (head, mut body) = response.into_parts();
        record_response(span, head.status.as_u16(), request_id(&head));
        let body = read_body(&mut body, config)?;
        Ok((head, body))
    }
}

/// Reads the whole body, at most `max_body_size` bytes; a declared length over the limit is
/// refused without reading. The request deadline keeps running while reading.
fn read_body(body: &mut ureq::Body, config: &Config) -> Result<Vec<u8>, Error> {
    let limit = config.max_body_size();
    let limit_u64 = u64::try_from(limit).unwrap_or(u64::MAX);
    if body.content_length().is_some_and(|len| len > limit_u64) {
        return Err(Error::BodyTooLarge { limit });
    }
    body.with_config()
        .limit(limit_u64)
        .read_to_vec()
        .map_err(|e| agent::map_error(e, Phase::Body, config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clients_are_cheap_to_share_across_threads() {
        fn shareable<T: Clone + Send + Sync + 'static>() {}
        shareable::<Client>();
    }

    #[test]
    fn debug_never_shows_the_token() {
        let client = Client::builder().token("very-secret-token").build();
        let text = format!("{client:?}");
        assert!(text.contains("[redacted]"), "{text}");
        assert!(!text.contains("very-secret"), "{text}");
    }
}
