//! Async transport for the Smartcar connections client: hyper 1, hyper-util's pooled client,
//! rustls (HTTP/2 or HTTP/1.1 by ALPN) and tokio.
//!
//! Everything that is not I/O comes from [`connections_core`]: the request, decoding, typed
//! errors, pagination (which never sends the token to another origin) and the retry policy.
//! This crate moves bytes under three bounds: a connect timeout (DNS, TCP, the proxy's
//! tunnel and TLS), a deadline for each whole exchange (sending, headers and the complete
//! body), and a body size limit enforced while reading and again while inflating a gzip
//! body (`Accept-Encoding: gzip` is sent). Redirects are never followed.
//!
//! On real networks:
//!
//! - **Proxies.** `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY` and `NO_PROXY` are honoured as curl
//!   reads them, unless [`Builder::proxy`] or [`Builder::no_proxy`] says otherwise; loopback
//!   hosts never go through a proxy. A proxied request opens an HTTP `CONNECT host:port`
//!   tunnel (with `Proxy-Authorization` when the proxy URL has credentials) and runs TLS to
//!   the real host inside it, so the proxy sees neither the path nor the token. A proxy
//!   that cannot be reached or refuses the tunnel is [`Error::Proxy`], not retried; its text
//!   names the proxy, never its credentials.
//! - **Trust.** The Mozilla roots of `webpki-roots`, the operating system's store (unless
//!   [`Builder::system_roots`] is `false`), and any authority added with
//!   [`Builder::add_root_certificate`] or [`Builder::add_root_certificates_pem`], e.g. a
//!   TLS-inspecting proxy's. A refused certificate is [`Error::Tls`], not retried.
//! - **Names.** A host name that does not resolve is [`Error::UnknownHost`], not retried; a
//!   resolver that calls its failure temporary gives a retried [`Error::Connect`].
//! - **HTTP/2.** Used whenever the server offers it by ALPN, one connection carrying every
//!   request to an origin; HTTP/1.1 otherwise, its connections kept alive and reused.
//!
//! ```no_run
//! use connections_hyper::{Client, ListConnections, Mode};
//! use futures_util::TryStreamExt;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let client = Client::builder()
//!     .token(&std::env::var("SMARTCAR_ACCESS_TOKEN")?)
//!     .page_concurrency(4)
//!     .build()?;
//! let request = ListConnections::builder().mode(Mode::Live).page_size(100).build()?;
//!
//! // One page, with its status and `sc-request-id`:
//! let first = client.list(&request).await?;
//! println!("{} connections (request {:?})", first.value.connections().len(), first.request_id);
//!
//! // Every connection, page after page, in order:
//! let mut connections = std::pin::pin!(client.connections(&request));
//! while let Some(connection) = connections.try_next().await? {
//!     println!("{:?}", connection.id);
//! }
//! # Ok(())
//! # }
//! ```
//!
//! The futures and streams need a tokio runtime with the time driver (e.g.
//! `#[tokio::main]`, or `Builder::new_current_thread().enable_all()`).
//!
//! Retry and rate-limit waits and token lifetimes are counted on tokio's clock, so under
//! `tokio::time::pause()` they pass in virtual time. A paused clock also jumps ahead while
//! the runtime waits on a socket, though, so an exchange with a server outside the runtime
//! can meet its deadline at once.
//!
//! Every `Error` says what happened and what to do; none of them, nor any `Debug` output or
//! log line, contains the token. Each attempt runs in a `connections.request` tracing span
//! with `method`, `url` (with the query, never the token), `path`, `page`, `attempt`,
//! `status`, `request_id` and `elapsed_ms`, and ends with an `info` event `response` or
//! `attempt failed` (its `error` field the error and its causes, as one line: see
//! [`Error::chain`]); at `debug`, the request's and the response's headers, credentials
//! redacted. A retry is an `info` event with the reason and the wait (`wait_ms`).

mod body;
mod connect;
mod exchange;
mod listing;
#[cfg(test)]
mod paused_clock_tests;
mod token;

use std::fmt;
use std::sync::Arc;

use connections_client::Clock;
use futures_core::Stream;
use futures_util::StreamExt;
use hyper_util::rt::{TokioExecutor, TokioTimer};

pub use connections_client::{
    BoxError, Builder, Chain, Config, ConfigError, DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_BODY_SIZE,
    DEFAULT_REQUEST_TIMEOUT, Error, FromConfig, Listed, ListingStart, MAX_BURST, Timeout,
};
pub use connections_core;
pub use connections_core::{
    AccessToken, ApiError, BaseUrl, Budget, Checkpoint, Connection, CreatedAfter, ErrorType,
    InvalidBaseUrl, InvalidCredentials, InvalidRequest, InvalidToken, IssuedToken, LinkError,
    ListConnections, ListConnectionsBuilder, Mode, OAuthError, Owned, Page, PaginationError, Rate,
    ResponseError, ResumeError, RetryAfter, RetryPolicy, TokenError,
};
pub use token::{TokenSource, token_source_fn};

use exchange::HttpClient;
use listing::Driver;

/// The builder [`Client::builder`] returns: the same setters and defaults as every other
/// transport's, so switching transports changes one dependency.
pub type ClientBuilder = Builder<Client>;

/// A client of `GET /connections` over one pooled hyper connection pool.
///
/// Cloning is cheap (one `Arc`) and clones share the pool, so make one and pass it around;
/// it is `Send + Sync`. Its futures need a tokio runtime.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    http: HttpClient,
    source: Option<Arc<dyn TokenSource>>,
}

/// Now, on tokio's clock: std's, unless the runtime's clock is paused (`test-util`).
fn tokio_now() -> std::time::Instant {
    tokio::time::Instant::now().into_std()
}

impl Client {
    /// Starts configuring a client; only the token is required.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// The validated settings this client runs with.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The clock of this client's listings and tokens: its config's, tokio's unless the
    /// config came from another transport (see [`FromConfig::clock_source`]).
    pub(crate) fn clock(&self) -> &Clock {
        self.inner.config.pacer().clock()
    }

    /// Fetches one page (the request's `page[number]`, or the first), retrying per the retry
    /// policy; links in it are not followed.
    pub async fn list(&self, request: &ListConnections<'_>) -> Result<Listed<Page<Owned>>, Error> {
        let listing = self.inner.config.single_page(request);
        connections_client::single_page(Driver::new(self.clone(), listing).next().await)
    }

    /// Fetches a fresh application token with the client credentials, retrying as the
    /// policy says, without caching it: for tools that hand the token to something else
    /// (`connections token`). Listings never need this; they fetch and renew on their own.
    pub async fn fetch_application_token(&self) -> Result<IssuedToken, Error> {
        token::fetch_uncached(self).await
    }

    /// Every page of the listing from the request's page on, as the core's listing machine
    /// drives it: `page[size]=100` unless the request sets a size, links followed to the
    /// same origin only and always forward, retries and a 429 that pauses the whole listing,
    /// and each connection at most once even when the data moves meanwhile. Each page comes
    /// [`Listed`], with its response's status, `sc-request-id` and checkpoint (it derefs to
    /// the [`Page`]).
    ///
    /// With `page_concurrency > 1`, once a page shows the remaining page numbers (links that
    /// follow `page[number]` and a known `meta.totalCount`), up to that many pages are
    /// fetched at once on their own tasks, whether or not the stream is being polled; pages
    /// still arrive in order, and read-ahead stops at that many pages.
    ///
    /// The stream ends after the first error. A page whose `next` link is refused is yielded
    /// before the error, except one that repeats the previous page's items.
    pub fn pages(
        &self,
        request: &ListConnections<'_>,
    ) -> impl Stream<Item = Result<Listed<Page<Owned>>, Error>> + Send + 'static + use<> {
        let driver = Driver::new(self.clone(), self.inner.config.listing(request));
        futures_util::stream::unfold(driver, |mut driver| async move {
            let next = driver.next().await?;
            Some((next, driver))
        })
    }

    /// Every connection of the listing, in order: [`pages`](Self::pages), flattened.
    pub fn connections(
        &self,
        request: &ListConnections<'_>,
    ) -> impl Stream<Item = Result<Connection<Owned>, Error>> + Send + 'static + use<> {
        flatten(self.pages(request))
    }

    /// The pages of the listing as `start` says (from a checkpoint, only connections
    /// created since a cutoff), each with its status, `sc-request-id` and
    /// [`checkpoint`](Listed::checkpoint): save that to resume after a crash, a deploy or a
    /// failure. Otherwise as [`pages`](Self::pages). A checkpoint of another listing is
    /// [`Error::Resume`], before anything is sent.
    pub fn pages_with(
        &self,
        request: &ListConnections<'_>,
        start: &ListingStart,
    ) -> Result<
        impl Stream<Item = Result<Listed<Page<Owned>>, Error>> + Send + 'static + use<>,
        Error,
    > {
        let driver = Driver::new(
            self.clone(),
            self.inner.config.listing_with(request, start)?,
        );
        Ok(futures_util::stream::unfold(
            driver,
            |mut driver| async move {
                let next = driver.next().await?;
                Some((next, driver))
            },
        ))
    }

    /// The pages of the listing from `checkpoint` on; see [`pages_with`](Self::pages_with).
    pub fn pages_from(
        &self,
        request: &ListConnections<'_>,
        checkpoint: &Checkpoint,
    ) -> Result<
        impl Stream<Item = Result<Listed<Page<Owned>>, Error>> + Send + 'static + use<>,
        Error,
    > {
        self.pages_with(request, &ListingStart::new().checkpoint(checkpoint.clone()))
    }

    /// The connections of the listing from `checkpoint` on, in order.
    pub fn connections_from(
        &self,
        request: &ListConnections<'_>,
        checkpoint: &Checkpoint,
    ) -> Result<impl Stream<Item = Result<Connection<Owned>, Error>> + Send + 'static + use<>, Error>
    {
        let pages = self.pages_from(request, checkpoint)?;
        Ok(flatten(pages))
    }
}

/// The connections of a stream of pages, in order; an error ends it.
fn flatten(
    pages: impl Stream<Item = Result<Listed<Page<Owned>>, Error>> + Send + 'static,
) -> impl Stream<Item = Result<Connection<Owned>, Error>> + Send + 'static {
    pages.flat_map(|page| {
        let items: Vec<Result<Connection<Owned>, Error>> = match page {
            Ok(page) => page.value.data.into_iter().map(Ok).collect(),
            Err(error) => vec![Err(error)],
        };
        futures_util::stream::iter(items)
    })
}

impl FromConfig for Client {
    /// Sets up TLS (web roots, the system's unless turned off, plus `root_certificates`),
    /// the proxies and the connection pool; fails only on an unusable extra root
    /// certificate ([`Error::Config`]).
    type TokenSource = dyn TokenSource;

    fn from_config(config: Config, source: Option<Arc<dyn TokenSource>>) -> Result<Self, Error> {
        let connector = connect::Connector::new(&config)?;
        Ok(Client::over(config, source, connector))
    }

    /// Tokio's, which the waits sleep on: the machines' time moves with the timers even when
    /// tokio's clock is paused and advanced (as in tests).
    fn clock_source() -> fn() -> std::time::Instant {
        tokio_now
    }
}

impl Client {
    fn over(
        config: Config,
        source: Option<Arc<dyn TokenSource>>,
        connector: connect::Connector,
    ) -> Self {
        let http = hyper_util::client::legacy::Client::builder(TokioExecutor::new())
            // Lets idle pooled connections expire (90 s by default) instead of lingering.
            .pool_timer(TokioTimer::new())
            .timer(TokioTimer::new())
            .build(connector);
        Client {
            inner: Arc::new(Inner {
                config,
                http,
                source,
            }),
        }
    }

    /// This client's settings over pipes from `dial` instead of sockets; see
    /// [`connect::Connector::in_memory`].
    #[cfg(test)]
    pub(crate) fn in_memory(&self, dial: connect::Dial) -> Self {
        let config = self.inner.config.clone();
        let connector = connect::Connector::in_memory(&config, dial)
            .unwrap_or_else(|e| panic!("settings that built a client: {e}"));
        Client::over(config, self.inner.source.clone(), connector)
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}
