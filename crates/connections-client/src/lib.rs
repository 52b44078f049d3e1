//! What every transport of the Smartcar connections client shares, on top of the sans-IO
//! [`connections_core`]: validated settings and their builder, the one [`Error`], the clocks
//! and randomness the core's [`Listing`] is fed, and the tracing both transports emit.
//!
//! No sockets and no runtime live here: a transport crate adds only I/O, TLS and timers, so
//! switching between them changes one dependency and nothing else.

use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::marker::PhantomData;
use std::num::{NonZeroU32, NonZeroUsize};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use connections_core::listing::PacerCell;
use connections_core::listing::{Action, ListingError, ListingOptions, Notice, Now, SendRequest};
use connections_core::{
    AccessToken, ApiError, BaseUrl, Budget, Checkpoint, ClientCredentials, ClientSecret,
    CreatedAfter, InvalidBaseUrl, InvalidCredentials, InvalidToken, ListConnections, Listing,
    Owned, Page, PaginationError, Rate, ResponseError, ResumeError, RetryPolicy, TokenError,
    USER_AGENT, UnixTime, UrlRole,
};

pub use connections_core::Listed;

mod network;
pub use network::{
    ACCEPT_ENCODING, Proxies, Proxy, ProxyProblem, decoded_body, system_root_certificates,
};
use network::{ProxySetting, certificates_from_pem};

mod pace;
pub use pace::SharedPacer;

mod tokens;
pub use tokens::{
    AppTokens, Fetch, Flight, Need, read_token_answer, record_token_outcome, token_http_request,
    token_retry_wait, token_span,
};

/// Any error a transport library reports, kept as the cause of ours.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Longest wait for a TCP and TLS connection.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Deadline for one whole exchange: connecting, headers and the complete body.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest body read; a page of 100 connections is about 60 KB.
pub const DEFAULT_MAX_BODY_SIZE: usize = 8 * 1024 * 1024;

/// Where a client's bearer tokens come from.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Tokens {
    /// One fixed token, obtained elsewhere.
    Static(AccessToken<'static>),
    /// Application tokens fetched with client credentials, cached and renewed ahead of expiry.
    App(Arc<AppTokens>),
    /// The transport's own token source, given to `FromConfig::from_config`.
    Source,
}

/// Validated client settings, as a transport reads them. Only [`Builder::build`] makes one,
/// so a transport never sees a setting that was not checked.
#[derive(Clone)]
pub struct Config {
    base_url: BaseUrl<'static>,
    tokens: Tokens,
    connect_timeout: Duration,
    request_timeout: Duration,
    max_body_size: usize,
    retry_policy: RetryPolicy,
    max_pages: NonZeroU32,
    page_concurrency: NonZeroUsize,
    user_agent: String,
    root_certificates: Vec<Vec<u8>>,
    system_roots: bool,
    proxies: Proxies,
    max_rate_limit_wait: Duration,
    pacer: SharedPacer,
}

/// A listing as every transport runs it: keeping to its client's shared pacer.
pub type ClientListing = Listing<Error, SharedPacer>;

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("base_url", &self.base_url)
            .field("tokens", &self.tokens)
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("max_body_size", &self.max_body_size)
            .field("retry_policy", &self.retry_policy)
            .field("max_pages", &self.max_pages)
            .field("page_concurrency", &self.page_concurrency)
            .field("user_agent", &self.user_agent)
            .field("root_certificates", &self.root_certificates.len())
            .field("system_roots", &self.system_roots)
            .field("proxies", &self.proxies)
            .field("max_rate_limit_wait", &self.max_rate_limit_wait)
            .field("pacer", &self.pacer)
            .finish()
    }
}

impl Config {
    /// Where requests go; default `https://vehicle.api.smartcar.com/v3`.
    pub fn base_url(&self) -> &BaseUrl<'static> {
        &self.base_url
    }

    /// Where bearer tokens come from.
    pub fn tokens(&self) -> &Tokens {
        &self.tokens
    }

    /// See [`DEFAULT_CONNECT_TIMEOUT`].
    pub fn connect_timeout(&self) -> Duration {
        self.connect_timeout
    }

    /// See [`DEFAULT_REQUEST_TIMEOUT`].
    pub fn request_timeout(&self) -> Duration {
        self.request_timeout
    }

    /// See [`DEFAULT_MAX_BODY_SIZE`].
    pub fn max_body_size(&self) -> usize {
        self.max_body_size
    }

    /// When to retry; default [`RetryPolicy::new`].
    pub fn retry_policy(&self) -> RetryPolicy {
        self.retry_policy
    }

    /// The page cap of listings that do not report their size; default
    /// [`DEFAULT_MAX_PAGES`](connections_core::DEFAULT_MAX_PAGES).
    pub fn max_pages(&self) -> NonZeroU32 {
        self.max_pages
    }

    /// Pages fetched at once once a listing's size is known; default 1.
    pub fn page_concurrency(&self) -> NonZeroUsize {
        self.page_concurrency
    }

    /// The full `User-Agent` value.
    pub fn user_agent(&self) -> &str {
        &self.user_agent
    }

    /// Extra trusted certificate authorities (DER), besides the built-in web roots.
    pub fn root_certificates(&self) -> &[Vec<u8>] {
        &self.root_certificates
    }

    /// Whether the operating system's trusted certificate authorities are trusted too,
    /// besides the bundled Mozilla roots and any added ones (default: yes).
    pub fn system_roots(&self) -> bool {
        self.system_roots
    }

    /// The proxies requests go through (never for loopback destinations).
    pub fn proxies(&self) -> &Proxies {
        &self.proxies
    }

    /// The longest total time a listing waits for the server's rate limit; default
    /// [`DEFAULT_MAX_RATE_LIMIT_WAIT`](connections_core::listing::DEFAULT_MAX_RATE_LIMIT_WAIT).
    pub fn max_rate_limit_wait(&self) -> Duration {
        self.max_rate_limit_wait
    }

    /// The request budget, if one was set.
    pub fn budget(&self) -> Option<Budget> {
        self.pacer.clone().with(|p| p.budget())
    }

    /// The pacer and clock every request of this client (and its clones) shares.
    pub fn pacer(&self) -> &SharedPacer {
        &self.pacer
    }

    /// The listing machine's options from these settings.
    pub fn listing_options(&self) -> ListingOptions {
        let concurrency = u32::try_from(self.page_concurrency.get()).unwrap_or(u32::MAX);
        ListingOptions::new()
            .with_retry_policy(self.retry_policy)
            .with_max_pages(self.max_pages)
            .with_concurrency(NonZeroU32::new(concurrency).unwrap_or(NonZeroU32::MIN))
            .with_max_rate_limit_wait(self.max_rate_limit_wait)
    }

    /// A machine for every page of `request`'s listing, with a fresh jitter seed, keeping
    /// to the client's shared pacer.
    pub fn listing(&self, request: &ListConnections<'_>) -> ClientListing {
        Listing::new(
            self.base_url.clone(),
            request,
            self.listing_options(),
            random_seed(),
        )
        .with_pacer(self.pacer.clone())
    }

    /// A machine for `request`'s listing as `start` says: from a checkpoint (checked to be
    /// this listing's, [`Error::Resume`] otherwise) and with a `created_after` cutoff.
    pub fn listing_with(
        &self,
        request: &ListConnections<'_>,
        start: &ListingStart,
    ) -> Result<ClientListing, Error> {
        let options = self
            .listing_options()
            .with_created_after(start.created_after);
        let listing = match &start.checkpoint {
            Some(checkpoint) => Listing::resume(
                self.base_url.clone(),
                request,
                checkpoint,
                options,
                random_seed(),
            )
            .map_err(Error::Resume)?,
            None => Listing::new(self.base_url.clone(), request, options, random_seed()),
        };
        Ok(listing.with_pacer(self.pacer.clone()))
    }

    /// A machine for `request`'s page alone, with retries, keeping to the shared pacer.
    pub fn single_page(&self, request: &ListConnections<'_>) -> ClientListing {
        Listing::single(
            self.base_url.clone(),
            request,
            self.listing_options(),
            random_seed(),
        )
        .with_pacer(self.pacer.clone())
    }
}

/// Where a listing starts, beyond its request: a [`Checkpoint`] to resume from, and a
/// cutoff to list only the connections created since.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct ListingStart {
    /// Resume from here (see [`Listing::resume`]).
    pub checkpoint: Option<Checkpoint>,
    /// Only connections created at or after this (inclusive; see [`CreatedAfter`]).
    pub created_after: Option<CreatedAfter>,
}

impl ListingStart {
    /// From the first page, every connection.
    pub fn new() -> Self {
        Self::default()
    }

    /// Resumes from `checkpoint`.
    pub fn checkpoint(mut self, checkpoint: Checkpoint) -> Self {
        self.checkpoint = Some(checkpoint);
        self
    }

    /// Lists only connections created at or after `cutoff`.
    pub fn created_after(mut self, cutoff: CreatedAfter) -> Self {
        self.created_after = Some(cutoff);
        self
    }
}

/// A transport's client, made from validated settings.
pub trait FromConfig: Sized {
    /// The transport's own token-source trait (async for hyper, blocking for ureq), for
    /// tokens that come from elsewhere and change.
    type TokenSource: ?Sized + Send + Sync + 'static;

    /// Builds the client (e.g. its connection pool and TLS setup); `source` is set when
    /// `config.tokens()` is [`Tokens::Source`].
    fn from_config(config: Config, source: Option<Arc<Self::TokenSource>>) -> Result<Self, Error>;
}

/// The token setting a builder holds until `build`.
enum TokenSetting<S: ?Sized> {
    Static(AccessToken<'static>),
    Credentials(ClientCredentials),
    Source(Arc<S>),
}

impl<S: ?Sized> Clone for TokenSetting<S> {
    fn clone(&self) -> Self {
        match self {
            TokenSetting::Static(t) => TokenSetting::Static(t.clone()),
            TokenSetting::Credentials(c) => TokenSetting::Credentials(c.clone()),
            TokenSetting::Source(s) => TokenSetting::Source(s.clone()),
        }
    }
}

impl<S: ?Sized> fmt::Debug for TokenSetting<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenSetting::Static(t) => f.debug_tuple("Static").field(t).finish(),
            TokenSetting::Credentials(c) => f.debug_tuple("Credentials").field(c).finish(),
            TokenSetting::Source(_) => f.write_str("Source"),
        }
    }
}

/// The builder every transport's `Client::builder()` returns: the same setter names and
/// defaults everywhere, so switching transports changes one dependency.
///
/// Setters never fail; [`build`](Self::build) reports the first invalid value.
pub struct Builder<C: FromConfig> {
    base_url: BaseUrl<'static>,
    token: Option<TokenSetting<C::TokenSource>>,
    /// Checked when set, applied to the credentials at `build`.
    token_url: Option<String>,
    connect_timeout: Duration,
    request_timeout: Duration,
    max_body_size: usize,
    retry_policy: RetryPolicy,
    max_pages: u32,
    page_concurrency: usize,
    user_agent: String,
    root_certificates: Vec<Vec<u8>>,
    system_roots: bool,
    proxy: ProxySetting,
    max_rate: Option<Rate>,
    burst: u32,
    max_rate_limit_wait: Duration,
    problem: Option<ConfigError>,
    client: PhantomData<fn() -> C>,
}

impl<C: FromConfig> Default for Builder<C> {
    fn default() -> Self {
        Builder {
            base_url: BaseUrl::SMARTCAR,
            token: None,
            token_url: None,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            max_body_size: DEFAULT_MAX_BODY_SIZE,
            retry_policy: RetryPolicy::new(),
            max_pages: connections_core::DEFAULT_MAX_PAGES,
            page_concurrency: 1,
            user_agent: String::from(USER_AGENT),
            root_certificates: Vec::new(),
            system_roots: true,
            proxy: ProxySetting::Environment,
            max_rate: None,
            burst: 1,
            max_rate_limit_wait: connections_core::listing::DEFAULT_MAX_RATE_LIMIT_WAIT,
            problem: None,
            client: PhantomData,
        }
    }
}

impl<C: FromConfig> Clone for Builder<C> {
    fn clone(&self) -> Self {
        Builder {
            base_url: self.base_url.clone(),
            token: self.token.clone(),
            token_url: self.token_url.clone(),
            connect_timeout: self.connect_timeout,
            request_timeout: self.request_timeout,
            max_body_size: self.max_body_size,
            retry_policy: self.retry_policy,
            max_pages: self.max_pages,
            page_concurrency: self.page_concurrency,
            user_agent: self.user_agent.clone(),
            root_certificates: self.root_certificates.clone(),
            system_roots: self.system_roots,
            proxy: self.proxy.clone(),
            max_rate: self.max_rate,
            burst: self.burst,
            max_rate_limit_wait: self.max_rate_limit_wait,
            problem: self.problem.clone(),
            client: PhantomData,
        }
    }
}

impl<C: FromConfig> fmt::Debug for Builder<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("base_url", &self.base_url)
            .field("token", &self.token)
            .field("token_url", &self.token_url)
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("max_body_size", &self.max_body_size)
            .field("retry_policy", &self.retry_policy)
            .field("max_pages", &self.max_pages)
            .field("page_concurrency", &self.page_concurrency)
            .field("user_agent", &self.user_agent)
            .field("root_certificates", &self.root_certificates.len())
            .field("system_roots", &self.system_roots)
            .field("proxy", &self.proxy.to_string())
            .field("max_rate", &self.max_rate)
            .field("burst", &self.burst)
            .field("max_rate_limit_wait", &self.max_rate_limit_wait)
            .field("problem", &self.problem)
            .finish()
    }
}

impl<C: FromConfig> Builder<C> {
    fn fail(mut self, problem: ConfigError) -> Self {
        self.problem.get_or_insert(problem);
        self
    }

    /// Sets the API base, e.g. `https://vehicle.api.smartcar.com/v3`; plain `http` only for
    /// loopback hosts.
    pub fn base_url(mut self, url: &str) -> Self {
        match BaseUrl::parse(url) {
            Ok(base) => {
                self.base_url = base.into_owned();
                self
            }
            Err(e) => self.fail(ConfigError::BaseUrl(e)),
        }
    }

    /// Sets a fixed bearer token, obtained elsewhere. The last token setting wins.
    pub fn token(mut self, token: &str) -> Self {
        match AccessToken::from_string(token.to_string()) {
            Ok(token) => {
                self.token = Some(TokenSetting::Static(token));
                self
            }
            Err(e) => self.fail(ConfigError::Token(e)),
        }
    }

    /// Fetches application tokens with the OAuth 2.0 client-credentials grant, as Smartcar v3
    /// requires: one token request at a time however many requests need one, renewed ahead
    /// of expiry, and fetched again (once) when the API answers 401. The last token setting
    /// wins.
    pub fn client_credentials(mut self, client_id: &str, client_secret: &str) -> Self {
        let credentials = ClientSecret::new(client_secret)
            .and_then(|secret| ClientCredentials::new(client_id, secret));
        match credentials {
            Ok(credentials) => {
                self.token = Some(TokenSetting::Credentials(credentials));
                self
            }
            Err(e) => self.fail(ConfigError::Credentials(e)),
        }
    }

    /// Sets the token endpoint for [`client_credentials`](Self::client_credentials) (default
    /// `https://iam.smartcar.com/oauth2/token`); plain `http` only for loopback hosts.
    pub fn token_url(mut self, url: &str) -> Self {
        match BaseUrl::parse(url) {
            Ok(_) => {
                self.token_url = Some(url.to_owned());
                self
            }
            Err(e) => self.fail(ConfigError::TokenUrl(e)),
        }
    }

    /// Takes tokens from the transport's own token source, asked before every attempt: it
    /// should answer from a cache and renew ahead of expiry. The last token setting wins.
    pub fn token_source(mut self, source: Arc<C::TokenSource>) -> Self {
        self.token = Some(TokenSetting::Source(source));
        self
    }

    /// Sets the connect timeout (DNS, TCP and TLS).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Sets the deadline of one whole exchange (not an idle timeout). It covers only that
    /// exchange: time the consumer of a listing spends between pages never counts.
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Sets the largest body read, enforced while reading.
    pub fn max_body_size(mut self, bytes: usize) -> Self {
        self.max_body_size = bytes;
        self
    }

    /// Sets the retry policy.
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry_policy = policy;
        self
    }

    /// Sets the page cap of listings that do not report `meta.totalCount` (at least 1);
    /// with a total, the cap follows from it.
    pub fn max_pages(mut self, pages: u32) -> Self {
        self.max_pages = pages;
        self
    }

    /// Sets how many pages are in flight or waiting to be read at once, from 1 to 64
    /// (default 1): read-ahead is bounded by that many pages of memory.
    pub fn page_concurrency(mut self, pages: usize) -> Self {
        self.page_concurrency = pages;
        self
    }

    /// Appends `suffix` (printable ASCII, e.g. `my-app/1.2`) to the `User-Agent`.
    pub fn user_agent_suffix(mut self, suffix: &str) -> Self {
        if suffix.is_empty() || !suffix.bytes().all(|b| (0x20..0x7f).contains(&b)) {
            return self.fail(ConfigError::UserAgentSuffix);
        }
        self.user_agent = format!("{USER_AGENT} {suffix}");
        self
    }

    /// Trusts a certificate authority (DER) besides the built-in web roots, e.g. a private
    /// gateway's or a test server's self-signed certificate.
    pub fn add_root_certificate(mut self, der: &[u8]) -> Self {
        self.root_certificates.push(der.to_vec());
        self
    }

    /// Trusts every certificate in PEM text (one or more `-----BEGIN CERTIFICATE-----`
    /// sections), e.g. the CA of a TLS-inspecting corporate proxy; a PEM without one is
    /// refused at [`build`](Self::build).
    pub fn add_root_certificates_pem(mut self, pem: &[u8]) -> Self {
        match certificates_from_pem(pem) {
            Ok(found) => {
                self.root_certificates.extend(found);
                self
            }
            Err(e) => self.fail(e),
        }
    }

    /// Whether to trust the operating system's certificate authorities too (default yes):
    /// where IT installs a company CA, as TLS-inspecting proxies need. The bundled Mozilla
    /// roots are always trusted.
    pub fn system_roots(mut self, trust: bool) -> Self {
        self.system_roots = trust;
        self
    }

    /// Sends requests through this proxy (`http://host:port`, credentials as
    /// `http://user:password@host:port`) instead of the one `HTTPS_PROXY`, `HTTP_PROXY` or
    /// `ALL_PROXY` names; `NO_PROXY` still applies, and loopback hosts never use a proxy.
    pub fn proxy(mut self, url: &str) -> Self {
        self.proxy = ProxySetting::Url(url.to_owned());
        self
    }

    /// Ignores proxies, from the environment or not.
    pub fn no_proxy(mut self) -> Self {
        self.proxy = ProxySetting::Off;
        self
    }

    /// Keeps every request of the client (listings and single pages, not token fetches)
    /// within `rate`, e.g. `"10/min".parse()?`, to leave room in the application's rate
    /// bucket for its other traffic. A budget no larger than the server's bucket meets no
    /// 429 at all. Default: no budget, only the pace learned from the server's 429s.
    pub fn max_rate(mut self, rate: Rate) -> Self {
        self.max_rate = Some(rate);
        self
    }

    /// Requests the budget lets go at once before [`max_rate`](Self::max_rate) spaces them
    /// (default 1: every request spaced); from 1 to 1,000,000, and only with a rate.
    pub fn burst(mut self, requests: u32) -> Self {
        self.burst = requests;
        self
    }

    /// Bounds the total time one listing waits for the server's rate limit (its 429s and
    /// the pace learned from them), default 12 hours; a listing that would wait longer fails
    /// with [`Error::RateLimitWait`].
    pub fn max_rate_limit_wait(mut self, wait: Duration) -> Self {
        self.max_rate_limit_wait = wait;
        self
    }

    /// Validates the settings and builds the client.
    pub fn build(self) -> Result<C, Error> {
        if let Some(problem) = self.problem {
            return Err(Error::Config(problem));
        }
        let token = self.token.ok_or(Error::Config(ConfigError::MissingToken))?;
        let proxies = {
            let token_url = match &token {
                TokenSetting::Credentials(c) => Some(c.token_url().clone()),
                _ => None,
            };
            let mut destinations = vec![&self.base_url];
            destinations.extend(token_url.as_ref());
            Proxies::new(&self.proxy, &destinations).map_err(Error::Config)?
        };
        let (tokens, source) = match token {
            TokenSetting::Static(token) => (Tokens::Static(token), None),
            TokenSetting::Credentials(mut credentials) => {
                if let Some(url) = self.token_url {
                    credentials = credentials
                        .with_token_url(&url)
                        .map_err(|e| Error::Config(ConfigError::TokenUrl(e)))?;
                }
                (Tokens::App(AppTokens::new(credentials)), None)
            }
            TokenSetting::Source(source) => (Tokens::Source, Some(source)),
        };
        if self.request_timeout.is_zero() || self.connect_timeout.is_zero() {
            return Err(Error::Config(ConfigError::ZeroTimeout));
        }
        let max_pages =
            NonZeroU32::new(self.max_pages).ok_or(Error::Config(ConfigError::ZeroMaxPages))?;
        let limit = usize::try_from(connections_core::listing::MAX_CONCURRENCY).unwrap_or(64);
        let page_concurrency = NonZeroUsize::new(self.page_concurrency)
            .filter(|n| n.get() <= limit)
            .ok_or(Error::Config(ConfigError::PageConcurrency { limit }))?;
        if !(1..=MAX_BURST).contains(&self.burst) || (self.burst > 1 && self.max_rate.is_none()) {
            return Err(Error::Config(ConfigError::Burst { max: MAX_BURST }));
        }
        let budget = self.max_rate.map(|rate| Budget::new(rate, self.burst));
        C::from_config(
            Config {
                base_url: self.base_url,
                tokens,
                connect_timeout: self.connect_timeout,
                request_timeout: self.request_timeout,
                max_body_size: self.max_body_size,
                retry_policy: self.retry_policy,
                max_pages,
                page_concurrency,
                user_agent: self.user_agent,
                root_certificates: self.root_certificates,
                system_roots: self.system_roots,
                proxies,
                max_rate_limit_wait: self.max_rate_limit_wait,
                pacer: SharedPacer::new(budget),
            },
            source,
        )
    }
}

/// The largest [`Builder::burst`].
pub const MAX_BURST: u32 = 1_000_000;

/// An invalid client setting.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// The base URL was refused.
    BaseUrl(InvalidBaseUrl),
    /// The token was refused.
    Token(InvalidToken),
    /// No token, client credentials or token source was set.
    MissingToken,
    /// The client id or secret was refused.
    Credentials(InvalidCredentials),
    /// The token URL was refused.
    TokenUrl(InvalidBaseUrl),
    /// A timeout of zero would fail every request.
    ZeroTimeout,
    /// A page cap of zero would fail every listing.
    ZeroMaxPages,
    /// Page concurrency outside 1 to `limit`.
    PageConcurrency {
        /// The largest accepted value.
        limit: usize,
    },
    /// A burst outside 1 to `max`, or above 1 without a rate to refill it.
    Burst {
        /// The largest accepted value.
        max: u32,
    },
    /// The User-Agent suffix was empty or not printable ASCII.
    UserAgentSuffix,
    /// The proxy setting cannot be used.
    Proxy(ProxyProblem),
    /// A PEM file of certificate authorities held no readable certificate.
    CaCertificate(String),
    /// An extra root certificate is not a usable DER certificate.
    RootCertificate {
        /// Its position among the added roots, from 0.
        index: usize,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // Each names the URL it is about.
            ConfigError::BaseUrl(e) => e.fmt(f),
            ConfigError::Token(e) => e.fmt(f),
            ConfigError::MissingToken => f.write_str(
                "no access token: set client credentials with .client_credentials(id, secret), \
                 a token with .token(..) or a source with .token_source(..) (the CLI reads \
                 SMARTCAR_CLIENT_ID and SMARTCAR_CLIENT_SECRET, or SMARTCAR_ACCESS_TOKEN)",
            ),
            ConfigError::Credentials(e) => e.fmt(f),
            ConfigError::TokenUrl(e) => e.worded_for(UrlRole::TokenUrl).fmt(f),
            ConfigError::ZeroTimeout => {
                f.write_str("timeouts must be longer than zero; pass a positive duration")
            }
            ConfigError::ZeroMaxPages => {
                f.write_str("max_pages must be at least 1; pass a positive page cap")
            }
            ConfigError::PageConcurrency { limit } => {
                write!(f, "page concurrency must be between 1 and {limit}")
            }
            ConfigError::Burst { max } => write!(
                f,
                "the burst must be between 1 and {max} requests, and needs a rate (max_rate) \
                 to refill it"
            ),
            ConfigError::UserAgentSuffix => f.write_str(
                "the User-Agent suffix must be non-empty printable ASCII, e.g. \"my-app/1.2\"",
            ),
            ConfigError::Proxy(problem) => problem.fmt(f),
            ConfigError::CaCertificate(reason) => write!(
                f,
                "the CA certificate file is not usable PEM ({reason}): pass the certificate \
                 authority as PEM text with -----BEGIN CERTIFICATE----- sections"
            ),
            ConfigError::RootCertificate { index } => write!(
                f,
                "root certificate #{} given to add_root_certificate is not a usable DER \
                 certificate; pass the certificate's DER bytes (not PEM text)",
                index + 1
            ),
        }
    }
}

impl std::error::Error for ConfigError {
    /// The wrapped error's cause: its text is already this error's text.
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ConfigError::BaseUrl(e) | ConfigError::TokenUrl(e) => e.source(),
            ConfigError::Token(e) => e.source(),
            ConfigError::Credentials(e) => e.source(),
            _ => None,
        }
    }
}

/// Which deadline passed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Timeout {
    /// Connecting (TCP and TLS) took longer than the connect timeout.
    Connect(Duration),
    /// The whole exchange took longer than the request timeout.
    Request(Duration),
}

/// Everything that can go wrong listing connections, the same for every transport.
///
/// `Display` says what happened and what to do, including the text of any underlying
/// transport error; `source()` does not repeat it (see [`Error::transport_cause`]).
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The client's settings are invalid.
    Config(ConfigError),
    /// The token source failed, or a token request could not be made.
    Token(BoxError),
    /// The token endpoint did not issue a token: it refused the credentials, or answered
    /// with something that is not a token (after any retries).
    TokenEndpoint(TokenError),
    /// The API answered with an error status (after any retries).
    Api(ApiError<Owned>),
    /// A response that is neither a page nor an API error: a redirect (never followed), a
    /// success that is not JSON, or a malformed page.
    InvalidResponse(ResponseError<Owned>),
    /// The body exceeded the configured limit; reading stopped there.
    BodyTooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// A deadline passed.
    Timeout(Timeout),
    /// No connection could be made: DNS, TCP, or a TLS handshake that failed for a reason
    /// that may pass (see [`Error::Tls`] for refused certificates).
    Connect(BoxError),
    /// The server's TLS certificate was refused (untrusted, expired, wrong name); retrying
    /// cannot help.
    Tls(BoxError),
    /// The connection failed during the exchange, e.g. a body cut off before its length.
    Connection(BoxError),
    /// The proxy refused to open a tunnel (or could not be reached); its text names the
    /// proxy, never its credentials. Retrying cannot help.
    Proxy(BoxError),
    /// The host name does not resolve. Retrying cannot help.
    UnknownHost(BoxError),
    /// The body's `Content-Encoding` could not be decoded (corrupt gzip, or an encoding
    /// that was not asked for).
    ContentEncoding(BoxError),
    /// A `next` link could not be followed; no request was made to it.
    Pagination(PaginationError),
    /// The server's rate limit would hold the listing longer than
    /// [`Builder::max_rate_limit_wait`] in all.
    RateLimitWait {
        /// How long the listing waited for the rate limit.
        waited: Duration,
        /// How much longer the next request would have waited.
        more: Duration,
        /// The bound.
        max: Duration,
    },
    /// The checkpoint belongs to another listing, or cannot be read; nothing was sent.
    Resume(ResumeError),
}

impl Error {
    /// Whether trying the same request again may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Api(e) => e.is_retryable(),
            // Retried already while fetching the token, as the policy says.
            Error::TokenEndpoint(_) => false,
            Error::Timeout(_) | Error::Connect(_) | Error::Connection(_) => true,
            _ => false,
        }
    }

    /// The transport library's own error under a `Token`, `Connect`, `Tls` or `Connection`
    /// error, to inspect or downcast (its text is already in this error's `Display`).
    pub fn transport_cause(&self) -> Option<&(dyn std::error::Error + Send + Sync + 'static)> {
        match self {
            Error::Token(e)
            | Error::Connect(e)
            | Error::Tls(e)
            | Error::Connection(e)
            | Error::Proxy(e)
            | Error::UnknownHost(e)
            | Error::ContentEncoding(e) => Some(&**e),
            _ => None,
        }
    }
}

impl Error {
    /// A copy to hand to every request that waited on the same failure: the same variant
    /// and text; a transport library's error is kept as text only.
    pub fn replica(&self) -> Error {
        let text = |e: &BoxError| -> BoxError { e.to_string().into() };
        match self {
            Error::Config(e) => Error::Config(e.clone()),
            Error::Token(e) => Error::Token(text(e)),
            Error::TokenEndpoint(e) => Error::TokenEndpoint(e.clone()),
            Error::Api(e) => Error::Api(e.clone()),
            Error::InvalidResponse(e) => Error::InvalidResponse(e.clone()),
            Error::BodyTooLarge { limit } => Error::BodyTooLarge { limit: *limit },
            Error::Timeout(t) => Error::Timeout(*t),
            Error::Connect(e) => Error::Connect(text(e)),
            Error::Tls(e) => Error::Tls(text(e)),
            Error::Connection(e) => Error::Connection(text(e)),
            Error::Proxy(e) => Error::Proxy(text(e)),
            Error::UnknownHost(e) => Error::UnknownHost(text(e)),
            Error::ContentEncoding(e) => Error::ContentEncoding(text(e)),
            Error::Pagination(e) => Error::Pagination(*e),
            Error::RateLimitWait { waited, more, max } => Error::RateLimitWait {
                waited: *waited,
                more: *more,
                max: *max,
            },
            Error::Resume(e) => Error::Resume(e.clone()),
        }
    }
}

impl From<ResponseError<Owned>> for Error {
    fn from(e: ResponseError<Owned>) -> Self {
        match e {
            ResponseError::Api(e) => Error::Api(e),
            other => Error::InvalidResponse(other),
        }
    }
}

impl From<PaginationError> for Error {
    fn from(e: PaginationError) -> Self {
        Error::Pagination(e)
    }
}

impl From<ListingError<Error>> for Error {
    fn from(e: ListingError<Error>) -> Self {
        match e {
            ListingError::Transport(e) => e,
            ListingError::Response(e) => e.into(),
            ListingError::Pagination(e) => e.into(),
            ListingError::RateLimitWait { waited, more, max } => {
                Error::RateLimitWait { waited, more, max }
            }
            // A future kind of failure still ends the listing with a readable error.
            other => Error::Connection(other.to_string().into()),
        }
    }
}

/// An [`Error`] met on the way to the token endpoint, worded for it: what to check is the
/// token URL, not the base URL.
pub(crate) struct AtTokenEndpoint<'a>(pub(crate) &'a Error);

impl fmt::Display for AtTokenEndpoint<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.describe(f, "the token URL")
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.describe(f, "the base URL")
    }
}

impl Error {
    /// What `Display` says, with `url` naming the URL a network failure asks to check.
    fn describe(&self, f: &mut fmt::Formatter<'_>, url: &str) -> fmt::Result {
        match self {
            Error::Config(e) => write!(f, "invalid client configuration: {e}"),
            Error::Token(e) => write!(f, "no token: {e}"),
            Error::TokenEndpoint(e) => fmt::Display::fmt(e, f),
            Error::Api(e) => fmt::Display::fmt(e, f),
            Error::InvalidResponse(e) => fmt::Display::fmt(e, f),
            Error::BodyTooLarge { limit } => write!(
                f,
                "response body larger than the {limit}-byte limit; request smaller pages or \
                 raise max_body_size"
            ),
            Error::Timeout(Timeout::Connect(d)) => write!(
                f,
                "could not connect within {d:?}; check the network and {url}, or raise \
                 connect_timeout"
            ),
            Error::Timeout(Timeout::Request(d)) => write!(
                f,
                "the exchange did not complete within {d:?}; the server is slow or stalled, \
                 retry later or raise request_timeout"
            ),
            Error::Connect(e) => write!(
                f,
                "could not connect: {e}; check {url}, DNS, proxy and TLS settings"
            ),
            Error::Tls(e) => write!(
                f,
                "the server's TLS certificate was refused: {e}; check {url}, or trust a \
                 private certificate authority (--ca-cert FILE, add_root_certificates_pem)"
            ),
            Error::Connection(e) => {
                write!(
                    f,
                    "the connection failed during the exchange: {e}; retry later"
                )
            }
            Error::Pagination(e) => fmt::Display::fmt(e, f),
            Error::Proxy(e) => write!(
                f,
                "the proxy did not open a tunnel: {e}; check --proxy / HTTPS_PROXY and \
                 NO_PROXY, or the proxy's credentials"
            ),
            Error::UnknownHost(e) => write!(f, "the host name does not resolve: {e}; check {url}"),
            Error::ContentEncoding(e) => write!(f, "the response body could not be decoded: {e}"),
            Error::Resume(e) => fmt::Display::fmt(e, f),
            // The core's words, so both say the same.
            Error::RateLimitWait { waited, more, max } => {
                let words = ListingError::<Error>::RateLimitWait {
                    waited: *waited,
                    more: *more,
                    max: *max,
                };
                write!(f, "{words}")
            }
        }
    }
}

impl std::error::Error for Error {
    /// The cause behind what `Display` already says, so a chain printer shows each text
    /// once: wrapped core errors are transparent, transport errors are spelled out in full.
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Config(e) => e.source(),
            Error::Api(e) => e.source(),
            Error::InvalidResponse(e) => e.source(),
            Error::Pagination(e) => e.source(),
            Error::TokenEndpoint(e) => e.source(),
            Error::Token(_)
            | Error::Connect(_)
            | Error::Tls(_)
            | Error::Connection(_)
            | Error::Proxy(_)
            | Error::UnknownHost(_)
            | Error::ContentEncoding(_)
            | Error::BodyTooLarge { .. }
            | Error::RateLimitWait { .. }
            | Error::Resume(_)
            | Error::Timeout(_) => None,
        }
    }
}

/// The `http::Request` of one attempt, for transports built on the `http` crate's types:
/// the `Authorization` value marked sensitive, and the configured `User-Agent` (with its
/// suffix) in place of the core's default.
///
/// Logs a `debug` event `request headers` with `method`, `url` and the `headers` as
/// `name: value` lines, `Authorization` redacted (the transport adds only `Host` and
/// connection headers).
pub fn http_request<B: Default>(
    config: &Config,
    request: &ListConnections<'_>,
    token: &AccessToken<'_>,
) -> Result<http::Request<B>, Error> {
    let mut built = request
        .parts(&config.base_url, token)
        .to_http_request::<B>()
        // Every input was validated before this point (the token by `AccessToken`, the base
        // URL by `BaseUrl`, the query by the core's encoder); the token is the only one that
        // changes per attempt, so a failure is reported as its failure.
        .map_err(|e| Error::Token(Box::new(e)))?;
    if let Ok(agent) = http::HeaderValue::from_str(&config.user_agent) {
        built.headers_mut().insert(http::header::USER_AGENT, agent);
    }
    built.headers_mut().insert(
        http::header::ACCEPT_ENCODING,
        http::HeaderValue::from_static(ACCEPT_ENCODING),
    );
    tracing::debug!(
        method = %built.method(),
        url = %built.uri(),
        headers = %RedactedHeaders(built.headers()),
        "request headers"
    );
    Ok(built)
}

/// The `sc-request-id` of a response head.
pub fn request_id(head: &http::response::Parts) -> Option<&str> {
    head.headers.get("sc-request-id")?.to_str().ok()
}

/// What one exchange brought back: the response head and the complete, bounded body.
pub type Exchanged = (http::response::Parts, Vec<u8>);

/// The clocks of one listing: its own origin for the machine's monotonic time, and the wall
/// clock for `Retry-After` dates.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    origin: Instant,
}

impl Clock {
    /// Starts counting now.
    pub fn start() -> Self {
        Clock {
            origin: Instant::now(),
        }
    }

    /// Both clocks, as the machine takes them.
    pub fn now(&self) -> Now {
        Now::new(self.origin.elapsed(), UnixTime::from(SystemTime::now()))
    }

    /// The instant an `elapsed` reading names, or `None` past the clock's range (a wait that
    /// long is forever in practice).
    pub fn instant(&self, elapsed: Duration) -> Option<Instant> {
        self.origin.checked_add(elapsed)
    }
}

/// Hands an exchange's outcome to the machine: a response for it to read, or a failure with
/// whether a retry may help.
pub fn feed(
    listing: &mut ClientListing,
    clock: &Clock,
    send: connections_core::RequestId,
    outcome: Result<Exchanged, Error>,
) {
    let now = clock.now();
    match outcome {
        Ok((head, body)) => {
            let response = connections_core::Response::from_http(&head, &body);
            listing.handle_response(send, &response, now);
        }
        Err(error) => {
            let retryable = error.is_retryable();
            listing.handle_failure(send, error, retryable, now);
        }
    }
}

/// What a transport's loop does with each action but `Send` and `Wait`, which are its own.
#[derive(Debug)]
pub enum Step {
    /// Hand this page to the consumer.
    Yield(Listed<Page<Owned>>),
    /// The listing ended with this error.
    Failed(Error),
    /// The listing is complete.
    Done,
    /// Send this request.
    Send(SendRequest),
    /// Wait for an outcome or until this instant.
    Wait(Option<Instant>),
}

/// Polls the machine until it asks for something the transport must do: notices are
/// logged here, in one place for every transport.
pub fn next_step(listing: &mut ClientListing, clock: &Clock) -> Step {
    loop {
        match listing.poll(clock.now()) {
            Action::Notice(notice) => log_notice(&notice),
            Action::Send(send) => return Step::Send(send),
            Action::Yield(listed) => return Step::Yield(listed),
            Action::Wait(until) => {
                // A wait past the clock's range is one that never ends.
                let until = until.map(|t| clock.instant(t).unwrap_or_else(far_future));
                return Step::Wait(until);
            }
            Action::Done => return Step::Done,
            Action::Failed(error) => return Step::Failed(error.into()),
        }
    }
}

/// About thirty years from now: "never" for a sleep, without overflowing.
fn far_future() -> Instant {
    let now = Instant::now();
    now.checked_add(Duration::from_secs(86_400 * 365 * 30))
        .unwrap_or(now)
}

/// Logs a notice from the machine: data that first moved, its summary, and an unordered
/// `created_after` listing are warnings; a retry, the learned pace and later moves are info. A retry's
/// event also carries `page`, `attempt` and `wait_ms` (how long until it is sent again, the
/// whole listing paused by a 429), so a progress display can show the wait as a wait.
pub fn log_notice(notice: &Notice) {
    let ms = |wait: Duration| u64::try_from(wait.as_millis()).unwrap_or(u64::MAX);
    match *notice {
        Notice::Retrying {
            page,
            attempt,
            wait,
            ..
        } => {
            let wait_ms = ms(wait);
            tracing::info!(target: "connections", page, attempt, wait_ms, "{notice}")
        }
        // Once per wait, which in a long listing is once per page: for a progress display
        // (`paced_ms`), not for the -v log.
        Notice::Paced { page, wait, .. } => {
            let paced_ms = ms(wait);
            tracing::debug!(target: "connections", page, paced_ms, "{notice}")
        }
        Notice::PaceLearned { interval } => {
            let interval_ms = ms(interval);
            tracing::info!(target: "connections", interval_ms, "{notice}")
        }
        // Data that moves keeps moving: the first sign is a warning, the rest are details
        // (-v), and a summary ([`Notice::Moved`]) warns at the end.
        Notice::TotalChanged { first: false, .. } | Notice::Repeated { first: false, .. } => {
            tracing::info!(target: "connections", "{notice}")
        }
        _ => tracing::warn!(target: "connections", "{notice}"),
    }
}

/// The tracing span of one attempt, the same in every transport: `connections.request` with
/// `method`, `url` (absolute, with the query: filters and page, which may name user and
/// vehicle ids, never the token), `path` (without the query), `page`, `attempt`, and,
/// recorded later by [`record_response`] and [`record_outcome`], `status`, `request_id` and
/// `elapsed_ms`. Nothing in it can hold the token.
pub fn request_span(config: &Config, send: &SendRequest) -> tracing::Span {
    use tracing::field::Empty;
    let mut url = String::new();
    // Writing to a String cannot fail.
    let _ = config.base_url.write_url(&send.request, &mut url);
    tracing::info_span!(
        "connections.request",
        method = "GET",
        url = %url,
        path = %format_args!("{}/connections", config.base_url.prefix()),
        page = send.page(),
        attempt = send.attempt,
        status = Empty,
        request_id = Empty,
        elapsed_ms = Empty,
    )
}

/// Records the response head on an attempt's span.
pub fn record_response(span: &tracing::Span, status: u16, request_id: Option<&str>) {
    span.record("status", status);
    if let Some(id) = request_id {
        span.record("request_id", id);
    }
}

/// Records how long an attempt took, in milliseconds, on its span, and logs its outcome in
/// the span, once per attempt and the same in every transport: an `info` event `response`
/// with `status`, `elapsed_ms`, `request_id` (the `sc-request-id`, when the server sent one)
/// and `bytes`, then a `debug` event `response headers` (sensitive values redacted); or an
/// `info` event `attempt failed` with `elapsed_ms` and the `error` (which may be retried).
pub fn record_outcome(span: &tracing::Span, started: Instant, outcome: &Result<Exchanged, Error>) {
    let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    span.record("elapsed_ms", elapsed_ms);
    match outcome {
        Ok((head, body)) => {
            let status = head.status.as_u16();
            let bytes = body.len();
            match request_id(head) {
                Some(request_id) => tracing::info!(
                    parent: span,
                    status,
                    elapsed_ms,
                    request_id,
                    bytes,
                    "response"
                ),
                None => tracing::info!(parent: span, status, elapsed_ms, bytes, "response"),
            }
            tracing::debug!(
                parent: span,
                headers = %RedactedHeaders(&head.headers),
                "response headers"
            );
        }
        // Errors never hold the token, so they can be logged.
        Err(error) => tracing::info!(parent: span, elapsed_ms, %error, "attempt failed"),
    }
}

/// Headers as `name: value` lines, for logs: credentials (`Authorization`,
/// `Proxy-Authorization`, cookies, and any value marked sensitive) show as `[redacted]`.
struct RedactedHeaders<'a>(&'a http::HeaderMap);

impl fmt::Display for RedactedHeaders<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use http::header::{AUTHORIZATION, COOKIE, PROXY_AUTHORIZATION, SET_COOKIE};
        for (i, (name, value)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            let secret = value.is_sensitive()
                || [AUTHORIZATION, PROXY_AUTHORIZATION, COOKIE, SET_COOKIE].contains(name);
            if secret {
                write!(f, "{name}: [redacted]")?;
            } else {
                write!(f, "{name}: {}", String::from_utf8_lossy(value.as_bytes()))?;
            }
        }
        Ok(())
    }
}

/// The first error of type `T` in `error`'s chain of causes (itself included), e.g. a TLS
/// library's certificate error under a transport's connect error.
pub fn find_cause<'e, T: std::error::Error + 'static>(
    error: &'e (dyn std::error::Error + 'static),
) -> Option<&'e T> {
    let mut cause = Some(error);
    while let Some(e) = cause {
        if let Some(found) = e.downcast_ref::<T>() {
            return Some(found);
        }
        // An io::Error hides its payload from `source()`: look inside it.
        cause = match e
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
        {
            Some(inner) => Some(inner),
            None => e.source(),
        };
    }
    None
}

/// A seed for a listing's backoff jitter, from std's per-process random hash keys (not for
/// cryptography; no extra crate).
pub fn random_seed() -> u64 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(
        SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos().into()),
    );
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A client that only keeps its settings, to test the builder.
    struct Settings(Config);

    impl FromConfig for Settings {
        type TokenSource = str;

        fn from_config(config: Config, _: Option<Arc<str>>) -> Result<Self, Error> {
            Ok(Settings(config))
        }
    }

    fn builder() -> Builder<Settings> {
        Builder::default()
    }

    #[test]
    fn settings_are_validated_at_build() {
        assert!(matches!(
            builder().build(),
            Err(Error::Config(ConfigError::MissingToken))
        ));
        let bad = builder().token("t").base_url("http://example.com/v3");
        let Err(Error::Config(ConfigError::BaseUrl(e))) = bad.build() else {
            panic!("plain http to a public host accepted")
        };
        assert_eq!(e, InvalidBaseUrl::InsecureScheme);
        let bad = builder().token("bad token\r\nX-Evil: 1");
        assert!(matches!(
            bad.build(),
            Err(Error::Config(ConfigError::Token(_)))
        ));
        let bad = builder().token("t").user_agent_suffix("a\nb");
        assert!(matches!(
            bad.build(),
            Err(Error::Config(ConfigError::UserAgentSuffix))
        ));
        let bad = builder().token("t").request_timeout(Duration::ZERO);
        assert!(matches!(
            bad.build(),
            Err(Error::Config(ConfigError::ZeroTimeout))
        ));
        let bad = builder().token("t").max_pages(0);
        assert!(matches!(
            bad.build(),
            Err(Error::Config(ConfigError::ZeroMaxPages))
        ));
        for concurrency in [0, 65] {
            let bad = builder().token("t").page_concurrency(concurrency);
            assert!(matches!(
                bad.build(),
                Err(Error::Config(ConfigError::PageConcurrency { limit: 64 }))
            ));
        }
        let Ok(Settings(good)) = builder()
            .token("t")
            .base_url("http://127.0.0.1:8080/v3/")
            .user_agent_suffix("cli/1.0")
            .page_concurrency(64)
            .build()
        else {
            panic!("valid settings refused")
        };
        assert_eq!(good.base_url().prefix(), "/v3");
        assert!(good.user_agent().ends_with(" cli/1.0"));
        assert_eq!(good.listing_options().concurrency().get(), 64);
    }

    #[test]
    fn debug_never_shows_the_token() {
        let b = builder().token("very-secret-token");
        assert!(!format!("{b:?}").contains("very-secret"));
        let Ok(Settings(config)) = b.build() else {
            panic!("valid settings refused")
        };
        assert!(!format!("{config:?}").contains("very-secret"));
        let Tokens::Static(token) = config.tokens() else {
            panic!("a fixed token")
        };
        assert_eq!(token.expose_secret(), "very-secret-token");
    }

    #[test]
    fn client_credentials_are_checked_and_never_shown() {
        let b = builder()
            .client_credentials("app-id", "very-secret-value")
            .token_url("http://127.0.0.1:9/oauth2/token");
        assert!(!format!("{b:?}").contains("very-secret"));
        let Ok(Settings(config)) = b.build() else {
            panic!("valid settings refused")
        };
        assert!(!format!("{config:?}").contains("very-secret"));
        let Tokens::App(app) = config.tokens() else {
            panic!("application tokens")
        };
        assert_eq!(app.credentials().client_id(), "app-id");
        assert_eq!(app.credentials().token_url().port(), 9);

        let insecure = builder()
            .client_credentials("id", "s")
            .token_url("http://iam.example.com/oauth2/token");
        assert!(matches!(
            insecure.build(),
            Err(Error::Config(ConfigError::TokenUrl(
                InvalidBaseUrl::InsecureScheme
            )))
        ));
        let empty = builder().client_credentials("id", "");
        let Err(Error::Config(e @ ConfigError::Credentials(_))) = empty.build() else {
            panic!("an empty secret accepted")
        };
        assert!(e.to_string().contains("client secret is empty"), "{e}");
        let last_wins = builder().client_credentials("id", "s").token("t");
        assert!(matches!(
            last_wins.build().map(|s| s.0.tokens().clone()),
            Ok(Tokens::Static(_))
        ));
    }

    #[test]
    fn causes_are_found_through_the_chain() {
        let io = std::io::Error::other(ConfigError::ZeroTimeout);
        let wrapped = Error::Connect(Box::new(io));
        let cause = wrapped.transport_cause().expect("a transport cause");
        assert_eq!(
            find_cause::<ConfigError>(cause),
            Some(&ConfigError::ZeroTimeout)
        );
        assert!(find_cause::<InvalidBaseUrl>(cause).is_none());
    }

    /// Each text of an error's chain appears once: `source()` never returns what `Display`
    /// already printed.
    #[test]
    fn no_cause_is_printed_twice() {
        let errors = [
            Error::Connect(Box::new(std::io::Error::other("connection refused"))),
            Error::Config(ConfigError::BaseUrl(InvalidBaseUrl::InsecureScheme)),
            Error::Pagination(PaginationError::TooManyPages { max: 3 }),
            Error::from(ListingError::Transport(Error::Timeout(Timeout::Request(
                Duration::from_secs(1),
            )))),
        ];
        for error in errors {
            let text = error.to_string();
            let mut cause = std::error::Error::source(&error);
            while let Some(e) = cause {
                assert!(!text.contains(&e.to_string()), "{text:?} repeats {e}");
                cause = e.source();
            }
        }
    }

    #[test]
    fn logged_headers_never_show_credentials() {
        let mut headers = http::HeaderMap::new();
        headers.insert("accept", http::HeaderValue::from_static("application/json"));
        headers.insert(
            http::header::AUTHORIZATION,
            http::HeaderValue::from_static("Bearer very-secret-token"),
        );
        headers.insert(
            http::header::PROXY_AUTHORIZATION,
            http::HeaderValue::from_static("Basic dXNlcjpzZWNyZXQ="),
        );
        let mut marked = http::HeaderValue::from_static("also-secret");
        marked.set_sensitive(true);
        headers.insert("x-api-key", marked);
        let text = RedactedHeaders(&headers).to_string();
        assert!(text.contains("accept: application/json"), "{text}");
        assert!(text.contains("authorization: [redacted]"), "{text}");
        assert!(text.contains("proxy-authorization: [redacted]"), "{text}");
        assert!(text.contains("x-api-key: [redacted]"), "{text}");
        assert!(
            !text.contains("secret") && !text.contains("dXNlcj"),
            "{text}"
        );
        assert_eq!(text.lines().count(), 4, "{text}");
    }

    #[test]
    fn clocks_count_from_their_origin() {
        let clock = Clock::start();
        let now = clock.now();
        assert!(now.elapsed < Duration::from_secs(60));
        assert!(now.unix.0 > 1_600_000_000);
        assert!(clock.instant(Duration::from_secs(1)).is_some());
        assert!(clock.instant(Duration::MAX).is_none());
    }
}
