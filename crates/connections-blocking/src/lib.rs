//! Blocking transport for the Smartcar Vehicle API v3 `GET /connections` client, on
//! [ureq] 3 (rustls, no async runtime: no tokio anywhere in the dependency tree).
//!
//! Everything that is not I/O comes from [`connections_core`]: the builder and its
//! validation, request encoding, decoding of pages and API errors, redirect and origin rules,
//! pagination, the retry policy and the application token cache. This crate sends the
//! requests, bounds what it reads, and sleeps when the policy says so.
//! [`connections-hyper`] offers the same builder, methods and [`Error`] for async code, so
//! switching is a change of dependency.
//!
//! ```no_run
//! use connections_blocking::{Client, ListConnections, Mode};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let client = Client::builder()
//!     .client_credentials(
//!         &std::env::var("SMARTCAR_CLIENT_ID")?,
//!         &std::env::var("SMARTCAR_CLIENT_SECRET")?,
//!     )
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
//! # Tokens
//! Set one of:
//! - [`client_credentials(id, secret)`](Builder::client_credentials): application tokens
//!   fetched with the OAuth 2.0 client-credentials grant from
//!   `https://iam.smartcar.com/oauth2/token` (or [`token_url`](Builder::token_url)), as
//!   Smartcar v3 requires. The client, and its clones, fetch one token at a time however many
//!   requests (or read-ahead threads) need one: the others wait for it. A token is renewed on
//!   a background thread shortly before it expires, while requests go on with the valid one.
//!   When the API answers 401, the token is dropped, a fresh one is fetched (once, for every
//!   request that saw the 401) and the request is sent once more; a second 401 is the
//!   answer, an [`Error::Api`]. The token request goes through the same exchange as the
//!   API's (through its own proxy, if the [proxy](#proxies) settings pick another for the
//!   token URL): no redirects, the same deadlines, body limit and gzip handling, and the
//!   retry policy for 429, 5xx and network failures (a 4xx, such as a refused secret, is
//!   never retried). A refusal is an [`Error::TokenEndpoint`] with the endpoint's OAuth
//!   error.
//! - [`token(..)`](Builder::token): a fixed token obtained elsewhere.
//! - [`token_source(..)`](Builder::token_source): a [`TokenSource`] asked before every
//!   attempt (see [`token_source_fn`] for closures); its errors are [`Error::TokenSource`].
//!
//! A fixed token or a source's token is never retried on a 401.
//!
//! # What is bounded
//! - **Time**: `request_timeout` (default 30 s) is a deadline for the whole exchange: DNS,
//!   connect, TLS, headers and the complete body. A server sending one byte every quarter
//!   second is cut off at the deadline ([`Timeout::Request`]). DNS and connecting are each
//!   also bounded by `connect_timeout` ([`Timeout::Connect`]). Each token request has the
//!   same deadlines.
//! - **Memory**: the body is read up to `max_body_size` (default 8 MiB), with or without
//!   `Content-Length`; one byte more is [`Error::BodyTooLarge`], and a declared length over
//!   the limit is refused before reading. A gzip body is held to the same limit once
//!   inflated, while inflating (see [Compression](#compression)).
//! - **Attempts**: as the [`RetryPolicy`] says (default 3), waiting its jittered backoff or
//!   the server's `Retry-After` with [`std::thread::sleep`].
//! - **Pages**: `max_pages` (default 1000), checked before the extra request is made.
//!
//! # Where the token and the secret go
//! The token only to the configured base URL's origin, the client secret only to the token
//! URL (in the form body, never in the URL): redirects are never followed (the 3xx is an
//! [`Error::InvalidResponse`], or an [`Error::TokenEndpoint`], naming the `Location`), and a
//! `next` link to another origin is an [`Error::Pagination`] raised before any request. Plain
//! `http://` is refused unless the host is loopback. Neither errors, `Debug` output nor this
//! crate's tracing spans and events contain the token, the secret or a proxy's password.
//!
//! ureq's own wire logging is another matter: at the `log` crate's `TRACE` level,
//! `ureq_proto` writes every byte sent and received as hex, `Authorization` headers, the
//! token request's form (with the secret) and the issued token included. Keep the
//! `ureq_proto` target below `TRACE` (e.g. `RUST_LOG=trace,ureq_proto=debug`) wherever logs
//! are kept.
//!
//! # Proxies
//! Requests go through an HTTP proxy when [`proxy(url)`](Builder::proxy) names one
//! (`http://host:port`, or `http://user:password@host:port`), or else when the environment
//! does, as curl reads it: `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY` and `NO_PROXY`, upper or
//! lower case, read once when the client is built ([`no_proxy()`](Builder::no_proxy) ignores
//! them all). ureq's own reading of those variables is off: the choice is made per origin by
//! the settings ([`Config::proxies`]), for the API's base URL and for the token URL apart,
//! and each choice has an agent (and a connection pool) of its own. Loopback hosts
//! (`localhost`, `127.0.0.0/8`, `[::1]`) never go through a proxy, so a local server's token
//! stays on the machine; `NO_PROXY` names the others to reach directly.
//!
//! Through a proxy, an `https://` request is a `CONNECT host:port` tunnel with TLS end to end:
//! the proxy sees the host, the port, the `User-Agent` and, when the URL has credentials,
//! `Proxy-Authorization: Basic …`, never the path, the query or the token; the proxy resolves
//! the host. A proxy that refuses the tunnel (a 403, a 407 for missing or wrong credentials)
//! or cannot be reached is an [`Error::Proxy`] naming it as `http://host:port`, never with its
//! credentials, and is not retried. Only `http://` proxies are supported (the build refuses
//! others).
//!
//! # Trust
//! A server's certificate must chain to one of: the Mozilla roots (bundled), the operating
//! system's trusted roots (read when the client is built;
//! [`system_roots(false)`](Builder::system_roots) leaves them out), and any added with
//! [`add_root_certificate`](Builder::add_root_certificate) (DER) or
//! [`add_root_certificates_pem`](Builder::add_root_certificates_pem), e.g. the CA of a
//! TLS-inspecting proxy. A refused certificate is an [`Error::Tls`], not retried, and no
//! request is sent. ureq speaks HTTP/1.1 only (over TLS too), and keeps connections open for
//! the next request: a sequential listing uses one connection.
//!
//! # Compression
//! Every request (API and token) asks for `Accept-Encoding: gzip`. ureq decodes nothing
//! itself (its `gzip` feature is off): the body is read as sent within `max_body_size`, then
//! inflated by [`connections_client::decoded_body`], the same code for every transport, which
//! stops at `max_body_size` inflated bytes: a gzip bomb of a few hundred KB is an
//! [`Error::BodyTooLarge`] after at most that much memory. A corrupt gzip body, or an encoding
//! that was not asked for, is an [`Error::ContentEncoding`]. (Should another crate of the
//! application turn ureq's `gzip` feature on, ureq inflates instead, within the same limit
//! and with the same errors.)
//!
//! # Unknown hosts
//! A host name that does not resolve is an [`Error::UnknownHost`] naming it, not retried.
//! Through a proxy the proxy resolves the API's host (and answers an error status if it
//! cannot, an [`Error::Proxy`]); the proxy's own name not resolving is an [`Error::Proxy`].
//!
//! # Tracing
//! Each attempt runs in an `info` span `connections.request` with `method`, `url` (with the
//! query, never the token), `path` (without it), `page`, `attempt`, then `status`,
//! `request_id` and `elapsed_ms`, and ends with an `info` event `response` (status, time,
//! `sc-request-id`) or `attempt failed` (the error and its causes, as one line: see [`Error::chain`]); at `debug`, the request's and the
//! response's headers, credentials redacted. A resend after a 401 has a span of its own. A
//! retry is an `info` event with the reason and the wait (`wait_ms`). Each token fetch runs
//! in an `info` span `connections.token` with the `endpoint`, then `attempts`, `status`,
//! `elapsed_ms` and `expires_in`, and ends with an `info` event
//! (a token) or a `warn` event (the error). Threads this crate starts (read-ahead pages,
//! token renewals) log to the subscriber of the thread that started them.
//!
//! [ureq]: https://docs.rs/ureq/3
//! [`connections-hyper`]: https://docs.rs/connections-hyper

use connections_client::{
    Clock, Exchanged, Tokens, decoded_body, record_outcome, record_response, request_id,
    request_span,
};
use connections_core::{RefreshOnce, SendRequest, TokenId};
use std::fmt;
use std::sync::Arc;

mod agent;
mod iter;
mod token;

use agent::{Origin, Phase, Routes};

pub use connections_client::{
    BoxError, Builder, Chain, Config, ConfigError, DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_BODY_SIZE,
    DEFAULT_REQUEST_TIMEOUT, Error, FromConfig, Listed, ListingStart, MAX_BURST, Timeout,
};
/// The core, for everything not re-exported here (models, error details, the listing
/// machine).
pub use connections_core;
pub use connections_core::{
    AccessToken, ApiError, BaseUrl, Budget, Checkpoint, Connection, CreatedAfter, ErrorType,
    InvalidBaseUrl, InvalidCredentials, InvalidRequest, InvalidToken, IssuedToken, LinkError,
    ListConnections, ListConnectionsBuilder, Mode, OAuthError, Owned, Page, PaginationError, Rate,
    ResponseError, ResumeError, RetryAfter, RetryPolicy, TokenError,
};
pub use token::{TokenSource, token_source_fn};

/// The builder of a [`Client`]: the core's [`Builder`], so every setting has the same name
/// and default as in the other transports.
pub type ClientBuilder = Builder<Client>;

/// A blocking client for `GET /connections`.
///
/// Cheap to clone (the shared ureq agents and their connection pools, the settings and the
/// application token cache) and usable from many threads at once; each call blocks its
/// thread until the response is complete or a deadline passes.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    /// The agent of each origin: directly or through its proxy.
    routes: Routes,
    /// Set when the config's tokens are [`Tokens::Source`].
    source: Option<Arc<dyn TokenSource>>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `Config`'s Debug redacts the token and the client secret; the source is opaque.
        f.debug_struct("Client")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl FromConfig for Client {
    type TokenSource = dyn TokenSource;

    fn from_config(config: Config, source: Option<Arc<dyn TokenSource>>) -> Result<Self, Error> {
        if matches!(config.tokens(), Tokens::Source) && source.is_none() {
            return Err(Error::Config(ConfigError::MissingToken));
        }
        let routes = Routes::new(&config)?;
        Ok(Client {
            inner: Arc::new(Inner {
                config,
                routes,
                source,
            }),
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

    /// The clock of this client's listings and tokens: its config's (std's, unless the
    /// config came from another transport), shared with its pacer.
    pub(crate) fn clock(&self) -> &Clock {
        self.inner.config.pacer().clock()
    }

    /// Fetches a fresh application token with the client credentials, retrying as the
    /// policy says, without caching it: for tools that hand the token to something else
    /// (`connections token`). Listings never need this; they fetch and renew on their own.
    pub fn fetch_application_token(&self) -> Result<IssuedToken, Error> {
        token::fetch_uncached(self)
    }

    /// Fetches one page (the request's `page[number]`, else the first), retrying as the
    /// policy allows. A 3xx, a non-JSON success, or a malformed page is an error, as is an API
    /// error status once retries are exhausted or not allowed.
    pub fn list(&self, request: &ListConnections<'_>) -> Result<Listed<Page<Owned>>, Error> {
        let listing = self.inner.config.single_page(request);
        connections_client::single_page(iter::Driver::new(self.clone(), listing).next_page())
    }

    /// Every page of the listing, in order, as the core's listing machine drives it:
    /// `page[size]=100` unless the request sets a size, links followed to the same origin
    /// only and always forward, retries and a 429 that pauses the whole listing, and each
    /// connection at most once even when the data moves meanwhile. Each page comes
    /// [`Listed`], with its response's status, `sc-request-id` and checkpoint (it derefs to
    /// the [`Page`]). The request is copied, so the iterator can be kept or sent to another
    /// thread.
    ///
    /// With `page_concurrency` 1 (the default) a page is fetched on the calling thread when
    /// the iterator is advanced. With more, up to that many pages are fetched ahead, each on
    /// a thread of its own with its own deadline, so a consumer that pauses between pages
    /// never holds a request open; pages still come in order.
    ///
    /// After an error the iterator ends: it yields the error once, then `None`. A page whose
    /// `next` link is refused (another origin, a link back, past the page cap) is yielded
    /// before the [`Error::Pagination`]; a page repeating the previous page's items is not.
    /// An exchange that panics (in a [`TokenSource`], say) is caught, whatever the page
    /// concurrency, and ends the iteration with an [`Error::Panicked`] naming the panic;
    /// it is not retried.
    pub fn pages(
        &self,
        request: &ListConnections<'_>,
    ) -> impl Iterator<Item = Result<Listed<Page<Owned>>, Error>> + Send + 'static {
        iter::Listings(iter::Driver::new(
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
        iter::Connections::new(iter::Listings(iter::Driver::new(
            self.clone(),
            self.inner.config.listing(request),
        )))
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
        impl Iterator<Item = Result<Listed<Page<Owned>>, Error>> + Send + 'static + use<>,
        Error,
    > {
        let listing = self.inner.config.listing_with(request, start)?;
        Ok(iter::Listings(iter::Driver::new(self.clone(), listing)))
    }

    /// The pages of the listing from `checkpoint` on; see [`pages_with`](Self::pages_with).
    pub fn pages_from(
        &self,
        request: &ListConnections<'_>,
        checkpoint: &Checkpoint,
    ) -> Result<
        impl Iterator<Item = Result<Listed<Page<Owned>>, Error>> + Send + 'static + use<>,
        Error,
    > {
        self.pages_with(request, &ListingStart::new().checkpoint(checkpoint.clone()))
    }

    /// The connections of the listing from `checkpoint` on, in order.
    pub fn connections_from(
        &self,
        request: &ListConnections<'_>,
        checkpoint: &Checkpoint,
    ) -> Result<
        impl Iterator<Item = Result<Connection<Owned>, Error>> + Send + 'static + use<>,
        Error,
    > {
        let start = ListingStart::new().checkpoint(checkpoint.clone());
        let listing = self.inner.config.listing_with(request, &start)?;
        Ok(iter::Connections::new(iter::Listings(iter::Driver::new(
            self.clone(),
            listing,
        ))))
    }

    /// One attempt as the listing machine sees it, sent once more when the 401 rule says
    /// (an application token the API refused; see the crate docs).
    fn attempt(&self, send: &SendRequest) -> Result<Exchanged, Error> {
        let mut rule = RefreshOnce::default();
        loop {
            let (outcome, id) = self.send_once(send);
            if !self
                .inner
                .config
                .tokens()
                .send_again(&mut rule, id, &outcome)
            {
                return outcome;
            }
        }
    }

    /// One exchange in its own tracing span, with the token of the moment: the response head
    /// and its bounded body, and which application token was sent.
    fn send_once(&self, send: &SendRequest) -> (Result<Exchanged, Error>, Option<TokenId>) {
        let config = &self.inner.config;
        let span = request_span(config, send);
        let _entered = span.enter();
        let clock = self.clock();
        let mut started = clock.elapsed();
        let mut sent_id = None;
        let outcome = token::bearer(self).and_then(|(token, id)| {
            sent_id = id;
            // The exchange's own time, as in every transport: not the wait for a token.
            started = clock.elapsed();
            let call = connections_client::http_request::<()>(config, &send.request, &token)?;
            self.send(Origin::Api, call, |head| {
                record_response(&span, head.status.as_u16(), request_id(head));
            })
        });
        record_outcome(&span, clock, started, &outcome);
        (outcome, sent_id)
    }

    /// The one exchange of API and token requests alike: sends a request through the agent
    /// of its origin (directly or through its proxy; no redirects, statuses are not errors,
    /// the request deadline), reads the body as it came (at most `max_body_size` bytes), and
    /// inflates it if it came gzip-encoded (at most `max_body_size` bytes once inflated);
    /// `on_head` sees the head first. The core decides what the answer means.
    fn send(
        &self,
        origin: Origin,
        request: ureq::http::Request<impl ureq::AsSendBody>,
        on_head: impl FnOnce(&ureq::http::response::Parts),
    ) -> Result<Exchanged, Error> {
        let config = &self.inner.config;
        let route = self.inner.routes.to(origin);
        let response = route
            .agent
            .run(request)
            .map_err(|e| agent::map_error(e, Phase::Call, route, config))?;
        let (mut head, mut body) = response.into_parts();
        on_head(&head);
        let body = read_body(&mut body, route, config)?;
        let body = decoded_body(&mut head, body, config.max_body_size())?;
        Ok((head, body))
    }
}

/// Reads the whole body as sent, at most `max_body_size` bytes; a declared length over the
/// limit is refused without reading. The request deadline keeps running while reading.
fn read_body(
    body: &mut ureq::Body,
    route: &agent::Route,
    config: &Config,
) -> Result<Vec<u8>, Error> {
    let limit = config.max_body_size();
    let limit_u64 = u64::try_from(limit).unwrap_or(u64::MAX);
    if body.content_length().is_some_and(|len| len > limit_u64) {
        return Err(Error::BodyTooLarge { limit });
    }
    body.with_config()
        .limit(limit_u64)
        .read_to_vec()
        .map_err(|e| agent::map_error(e, Phase::Body, route, config))
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
