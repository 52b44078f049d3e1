use std::fmt;
use std::marker::PhantomData;
use std::num::{NonZeroU32, NonZeroUsize};
use std::sync::Arc;
use std::time::{Duration, Instant};

use connections_core::listing::ListingOptions;
use connections_core::listing::PacerCell;
use connections_core::{
    AccessToken, BaseUrl, Budget, Checkpoint, ClientCredentials, ClientSecret, CreatedAfter,
    ListConnections, Listing, Rate, RetryPolicy, USER_AGENT,
};

use crate::{
    AppTokens, Clock, ConfigError, Error, Proxies, ProxySetting, SharedPacer,
    certificates_from_pem, random_seed,
};

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

    /// The clock the transport's timers sleep on (std's unless it says otherwise; tokio's
    /// for hyper). The config's machines read it, so their time moves with those timers,
    /// and every listing and token of the config counts on it, whichever client uses it.
    fn clock_source() -> fn() -> Instant {
        Clock::STD
    }
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
    /// Set by tests only, see [`clock_source`](Self::clock_source).
    clock_source: Option<fn() -> Instant>,
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
            clock_source: None,
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
            clock_source: self.clock_source,
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

    /// Sets the largest body read, enforced while reading; at least 1 byte (`build` refuses
    /// zero, which would fail every request).
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

    /// Reads time from `source` instead of the transport's clock: for tests that drive a
    /// client's token lifetimes, retries and pace in simulated time, with a clock that
    /// moves only when the test says. Waits still sleep on the transport's timer, so such a
    /// test moves the clock past every wait it causes. Hidden: no program needs another clock.
    #[doc(hidden)]
    pub fn clock_source(mut self, source: fn() -> Instant) -> Self {
        self.clock_source = Some(source);
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
        if self.max_body_size == 0 {
            return Err(Error::Config(ConfigError::ZeroMaxBodySize));
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
                pacer: SharedPacer::new(
                    budget,
                    Clock::with_source(self.clock_source.unwrap_or_else(C::clock_source)),
                ),
            },
            source,
        )
    }
}

/// The largest [`Builder::burst`].
pub const MAX_BURST: u32 = 1_000_000;

#[cfg(test)]
mod tests {
    use super::*;
    use connections_core::InvalidBaseUrl;

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
        let bad = builder().token("t").max_body_size(0);
        assert!(matches!(
            bad.build(),
            Err(Error::Config(ConfigError::ZeroMaxBodySize))
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
}
