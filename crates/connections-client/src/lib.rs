//! What every transport shares: the configuration and its defaults, the token source, one
//! error type, and the retry bookkeeping. A transport crate adds only sockets, TLS and timers,
//! so switching between them changes one dependency and nothing else.

use alloc::boxed::Box;
use alloc::string::{String, ToString};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;
use core::hash::{BuildHasher, Hasher};
use core::marker::PhantomData;
use core::num::{NonZeroU32, NonZeroUsize};
use core::time::Duration;

use crate::paginate::DEFAULT_MAX_PAGES;
use crate::parts::{AccessToken, InvalidToken, USER_AGENT};
use crate::retry::{Decision, Failure, RetryPolicy};
use crate::retry_after::UnixTime;
use crate::url::{BaseUrl, InvalidBaseUrl};
use crate::{ApiError, ListConnections, Owned, PaginationError, ResponseError};

/// Any error a transport library reports, kept as the cause of ours.
pub type BoxError = Box<dyn core::error::Error + Send + Sync>;

/// Longest wait for a TCP and TLS connection.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Deadline for one whole exchange: connecting, headers and the complete body.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest body read; a page of 100 connections is about 60 KB.
pub const DEFAULT_MAX_BODY_SIZE: usize = 8 * 1024 * 1024;

/// Hands out the bearer token for each request, so tokens that expire (v3 tokens last an
/// hour) can be replaced without rebuilding the client.
///
/// It is asked before every attempt, so it should answer from a cache and refresh ahead of
/// expiry. An `AccessToken<'static>` is a provider of itself, and so is any closure.
pub trait TokenProvider: Send + Sync + 'static {
    /// A token valid now.
    fn access_token(&self) -> Result<AccessToken<'static>, BoxError>;
}

impl TokenProvider for AccessToken<'static> {
    fn access_token(&self) -> Result<AccessToken<'static>, BoxError> {
        Ok(self.clone())
    }
}

impl<F> TokenProvider for F
where
    F: Fn() -> Result<AccessToken<'static>, BoxError> + Send + Sync + 'static,
{
    fn access_token(&self) -> Result<AccessToken<'static>, BoxError> {
        self()
    }
}

/// Validated client settings, as a transport reads them; built with [`Builder`].
#[derive(Clone)]
pub struct Config {
    /// Where requests go; default `https://vehicle.api.smartcar.com/v3`.
    pub base_url: BaseUrl<'static>,
    /// The bearer token source; [`Builder::build`] requires one.
    pub token: Option<Arc<dyn TokenProvider>>,
    /// See [`DEFAULT_CONNECT_TIMEOUT`].
    pub connect_timeout: Duration,
    /// See [`DEFAULT_REQUEST_TIMEOUT`].
    pub request_timeout: Duration,
    /// See [`DEFAULT_MAX_BODY_SIZE`].
    pub max_body_size: usize,
    /// When to retry; default [`RetryPolicy::new`].
    pub retry_policy: RetryPolicy,
    /// Most pages one listing fetches; default [`DEFAULT_MAX_PAGES`].
    pub max_pages: NonZeroU32,
    /// Pages fetched at once when the listing's size is known; default 1 (sequential).
    pub page_concurrency: NonZeroUsize,
    /// The full `User-Agent` value.
    pub user_agent: String,
    /// Extra trusted certificate authorities (DER), besides the built-in web roots.
    pub root_certificates: Vec<Vec<u8>>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            base_url: BaseUrl::SMARTCAR,
            token: None,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            max_body_size: DEFAULT_MAX_BODY_SIZE,
            retry_policy: RetryPolicy::new(),
            max_pages: NonZeroU32::new(DEFAULT_MAX_PAGES).unwrap_or(NonZeroU32::MIN),
            page_concurrency: NonZeroUsize::MIN,
            user_agent: String::from(USER_AGENT),
            root_certificates: Vec::new(),
        }
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("base_url", &self.base_url)
            .field("token", &self.token.as_ref().map(|_| "[redacted]"))
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("max_body_size", &self.max_body_size)
            .field("retry_policy", &self.retry_policy)
            .field("max_pages", &self.max_pages)
            .field("page_concurrency", &self.page_concurrency)
            .field("user_agent", &self.user_agent)
            .field("root_certificates", &self.root_certificates.len())
            .finish()
    }
}

impl Config {
    /// The token for the next attempt.
    pub fn access_token(&self) -> Result<AccessToken<'static>, Error> {
        let provider = self
            .token
            .as_ref()
            .ok_or(Error::Config(ConfigError::MissingToken))?;
        provider.access_token().map_err(Error::Token)
    }
}

/// A transport's client, made from validated settings.
pub trait FromConfig: Sized {
    /// Builds the client (e.g. its connection pool and TLS setup).
    fn from_config(config: Config) -> Result<Self, Error>;
}

/// The builder every transport's `Client::builder()` returns: the same setter names and
/// defaults everywhere, so switching transports changes one dependency.
///
/// Setters never fail; [`build`](Self::build) reports the first invalid value.
pub struct Builder<C> {
    config: Config,
    problem: Option<ConfigError>,
    client: PhantomData<fn() -> C>,
}

impl<C> Default for Builder<C> {
    fn default() -> Self {
        Builder {
            config: Config::default(),
            problem: None,
            client: PhantomData,
        }
    }
}

impl<C> Clone for Builder<C> {
    fn clone(&self) -> Self {
        Builder {
            config: self.config.clone(),
            problem: self.problem.clone(),
            client: PhantomData,
        }
    }
}

impl<C> fmt::Debug for Builder<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.config.fmt(f)
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
                self.config.base_url = base.into_owned();
                self
            }
            Err(e) => self.fail(ConfigError::BaseUrl(e)),
        }
    }

    /// Sets a fixed bearer token.
    pub fn token(self, token: &str) -> Self {
        match AccessToken::from_string(token.to_string()) {
            Ok(token) => self.token_provider(token),
            Err(e) => self.fail(ConfigError::Token(e)),
        }
    }

    /// Sets a source of fresh tokens.
    pub fn token_provider(mut self, provider: impl TokenProvider) -> Self {
        self.config.token = Some(Arc::new(provider));
        self
    }

    /// Sets the connect timeout.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.config.connect_timeout = timeout;
        self
    }

    /// Sets the deadline of one whole exchange (not an idle timeout).
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.config.request_timeout = timeout;
        self
    }

    /// Sets the largest body read, enforced while reading.
    pub fn max_body_size(mut self, bytes: usize) -> Self {
        self.config.max_body_size = bytes;
        self
    }

    /// Sets the retry policy.
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.config.retry_policy = policy;
        self
    }

    /// Sets the most pages one listing fetches (at least 1).
    pub fn max_pages(mut self, pages: u32) -> Self {
        self.config.max_pages = NonZeroU32::new(pages).unwrap_or(NonZeroU32::MIN);
        self
    }

    /// Sets how many pages are fetched at once (at least 1); transports without concurrency
    /// fetch one at a time regardless.
    pub fn page_concurrency(mut self, pages: usize) -> Self {
        self.config.page_concurrency = NonZeroUsize::new(pages).unwrap_or(NonZeroUsize::MIN);
        self
    }

    /// Appends `suffix` (printable ASCII, e.g. `my-app/1.2`) to the `User-Agent`.
    pub fn user_agent_suffix(mut self, suffix: &str) -> Self {
        if suffix.is_empty() || !suffix.bytes().all(|b| (0x20..0x7f).contains(&b)) {
            return self.fail(ConfigError::UserAgentSuffix);
        }
        self.config.user_agent = alloc::format!("{USER_AGENT} {suffix}");
        self
    }

    /// Trusts a certificate authority (DER) besides the built-in web roots, e.g. a private
    /// gateway's or a test server's self-signed certificate.
    pub fn add_root_certificate(mut self, der: &[u8]) -> Self {
        self.config.root_certificates.push(der.to_vec());
        self
    }

    /// The settings so far, before validation.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Validates the settings and builds the client.
    pub fn build(self) -> Result<C, Error> {
        if let Some(problem) = self.problem {
            return Err(Error::Config(problem));
        }
        if self.config.token.is_none() {
            return Err(Error::Config(ConfigError::MissingToken));
        }
        if self.config.request_timeout.is_zero() || self.config.connect_timeout.is_zero() {
            return Err(Error::Config(ConfigError::ZeroTimeout));
        }
        C::from_config(self.config)
    }
}

/// An invalid client setting.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// The base URL was refused.
    BaseUrl(InvalidBaseUrl),
    /// The token was refused.
    Token(InvalidToken),
    /// No token or token provider was set.
    MissingToken,
    /// A timeout of zero would fail every request.
    ZeroTimeout,
    /// The user agent suffix was empty or not printable ASCII.
    UserAgentSuffix,
    /// A certificate given to `add_root_certificate` is not a usable DER certificate.
    RootCertificate {
        /// Its position among the added certificates, from 0.
        index: usize,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::BaseUrl(e) => e.fmt(f),
            ConfigError::Token(e) => e.fmt(f),
            ConfigError::MissingToken => {
                f.write_str("no access token: set one with .token(..) or .token_provider(..)")
            }
            ConfigError::ZeroTimeout => {
                f.write_str("a timeout is zero: give it a positive duration")
            }
            ConfigError::UserAgentSuffix => f.write_str(
                "the user agent suffix must be non-empty printable ASCII, e.g. my-app/1.2",
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

impl core::error::Error for ConfigError {}

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
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The client's settings are invalid.
    Config(ConfigError),
    /// The token provider failed.
    Token(BoxError),
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
    /// A `next` link could not be followed; no request was made to it.
    Pagination(PaginationError),
}

impl Error {
    /// Whether trying the same request again may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Api(e) => e.is_retryable(),
            Error::Timeout(_) | Error::Connect(_) | Error::Connection(_) => true,
            _ => false,
        }
    }

    /// This error as the retry policy sees it, with Retry-After counted from `now`.
    pub fn to_failure(&self, now: UnixTime) -> Failure {
        match self {
            Error::Api(e) => Failure::Status {
                status: e.status,
                retry_after: e.retry_after.map(|r| r.delay_from(now)),
            },
            other => Failure::Transport {
                retryable: other.is_retryable(),
            },
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

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Config(e) => write!(f, "invalid client configuration: {e}"),
            Error::Token(e) => write!(f, "the token provider failed: {e}"),
            Error::Api(e) => e.fmt(f),
            Error::InvalidResponse(e) => e.fmt(f),
            Error::BodyTooLarge { limit } => write!(
                f,
                "response body larger than the {limit}-byte limit; request smaller pages or \
                 raise max_body_size"
            ),
            Error::Timeout(Timeout::Connect(d)) => write!(
                f,
                "could not connect within {d:?}; check the network and the base URL, or raise \
                 connect_timeout"
            ),
            Error::Timeout(Timeout::Request(d)) => write!(
                f,
                "the exchange did not complete within {d:?}; the server is slow or stalled, \
                 retry later or raise request_timeout"
            ),
            Error::Connect(e) => write!(
                f,
                "could not connect: {e}; check the base URL, DNS, proxy and TLS settings"
            ),
            Error::Tls(e) => write!(
                f,
                "the server's TLS certificate was refused: {e}; check the base URL, or trust a \
                 private certificate authority with add_root_certificate"
            ),
            Error::Connection(e) => {
                write!(
                    f,
                    "the connection failed during the exchange: {e}; retry later"
                )
            }
            Error::Pagination(e) => e.fmt(f),
        }
    }
}

impl core::error::Error for Error {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Error::Config(e) => Some(e),
            Error::Token(e) | Error::Connect(e) | Error::Tls(e) | Error::Connection(e) => {
                Some(&**e)
            }
            Error::Api(e) => Some(e),
            Error::InvalidResponse(e) => Some(e),
            Error::Pagination(e) => Some(e),
            Error::BodyTooLarge { .. } | Error::Timeout(_) => None,
        }
    }
}

/// A value with what the response said about itself: the HTTP status and Smartcar's
/// `sc-request-id`, which support asks for when something looks wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listed<T> {
    /// The decoded value.
    pub value: T,
    /// The HTTP status of the response it came from.
    pub status: u16,
    /// The `sc-request-id` header, when sent.
    pub request_id: Option<String>,
}

/// The `http::Request` of one attempt, for transports built on the `http` crate's types: a
/// token fresh from the provider, the `Authorization` value marked sensitive, and the
/// configured `User-Agent` (with its suffix) in place of the core's default.
#[cfg(feature = "http")]
pub fn http_request<B: Default>(
    config: &Config,
    request: &ListConnections<'_>,
) -> Result<http::Request<B>, Error> {
    let token = config.access_token()?;
    let mut built = request
        .parts(&config.base_url, &token)
        .to_http_request::<B>()
        // Every input was validated before this point (the token by `AccessToken`, the base
        // URL by `BaseUrl`, the query by the core's encoder); the token provider is the only
        // one that changes per attempt, so a failure is reported as its failure.
        .map_err(|e| Error::Token(Box::new(e)))?;
    if let Ok(agent) = http::HeaderValue::from_str(&config.user_agent) {
        built.headers_mut().insert(http::header::USER_AGENT, agent);
    }
    Ok(built)
}

/// The `sc-request-id` of a response head.
#[cfg(feature = "http")]
pub fn request_id(head: &http::response::Parts) -> Option<&str> {
    head.headers.get("sc-request-id")?.to_str().ok()
}

/// A response head and its complete body as the core reads them: the page, with its status
/// and request id, or the typed error.
#[cfg(feature = "http")]
pub fn decode_listed(
    head: &http::response::Parts,
    body: &[u8],
) -> Result<Listed<crate::Page<Owned>>, Error> {
    let value = crate::Response::from_http(head, body).page_owned()?;
    Ok(Listed {
        value,
        status: head.status.as_u16(),
        request_id: request_id(head).map(String::from),
    })
}

/// The attempts of one request: counts them and asks the policy what follows a failure.
#[derive(Clone, Debug)]
pub struct Attempts {
    policy: RetryPolicy,
    made: u32,
}

impl Attempts {
    /// Before the first attempt.
    pub fn new(policy: RetryPolicy) -> Self {
        Attempts { policy, made: 0 }
    }

    /// Records an attempt about to be made, returning its number (from 1).
    pub fn start(&mut self) -> u32 {
        self.made = self.made.saturating_add(1);
        self.made
    }

    /// After a failed attempt: how long to wait before the next, or `None` to give up and
    /// return `error`. Uses the wall clock for HTTP-date Retry-After values and a fresh random
    /// number for the jitter.
    pub fn retry_delay(&self, error: &Error) -> Option<Duration> {
        let now = UnixTime::from(std::time::SystemTime::now());
        match self
            .policy
            .decide(self.made, &error.to_failure(now), random_u64())
        {
            Decision::RetryAfter(delay) => Some(delay),
            Decision::GiveUp(_) => None,
        }
    }
}

/// The tracing span of one attempt, the same in every transport: `connections.request` with
/// `method`, `path` (no query, so no ids), `page`, `attempt`, and, recorded later by
/// [`record_response`] and [`record_elapsed`], `status`, `request_id` and `elapsed_ms`.
/// Nothing in it can hold the token.
pub fn request_span(config: &Config, request: &ListConnections<'_>, attempt: u32) -> tracing::Span {
    use tracing::field::Empty;
    tracing::info_span!(
        "connections.request",
        method = "GET",
        path = %format_args!("{}/connections", config.base_url.prefix()),
        page = request.page_number().map_or(1, NonZeroU32::get),
        attempt,
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

/// Records how long an attempt took, in milliseconds, on its span.
pub fn record_elapsed(span: &tracing::Span, started: std::time::Instant) {
    let elapsed = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    span.record("elapsed_ms", elapsed);
}

/// The first error of type `T` in `error`'s chain of causes (itself included), e.g. a TLS
/// library's certificate error under a transport's connect error.
pub fn find_cause<'e, T: core::error::Error + 'static>(
    error: &'e (dyn core::error::Error + 'static),
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

/// A random number for backoff jitter from std's per-process random hash keys (not for
/// cryptography; no extra crate).
pub fn random_u64() -> u64 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos().into()),
    );
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::retry_after::RetryAfter;

    fn api(status: u16, retry_after: Option<u64>) -> Error {
        Error::Api(ApiError {
            status,
            request_id: None,
            retry_after: retry_after.map(|s| RetryAfter::Delay(Duration::from_secs(s))),
            errors: alloc::vec::Vec::new(),
            body_snippet: None,
        })
    }

    /// A client that only keeps its settings, to test the builder.
    struct Settings(Config);

    impl FromConfig for Settings {
        fn from_config(config: Config) -> Result<Self, Error> {
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
        let Ok(Settings(good)) = builder()
            .token("t")
            .base_url("http://127.0.0.1:8080/v3/")
            .user_agent_suffix("cli/1.0")
            .max_pages(0)
            .build()
        else {
            panic!("valid settings refused")
        };
        assert_eq!(good.base_url.prefix(), "/v3");
        assert!(good.user_agent.ends_with(" cli/1.0"));
        assert_eq!(good.max_pages.get(), 1);
    }

    #[test]
    fn debug_never_shows_the_token() {
        let b = builder().token("very-secret-token");
        assert!(!alloc::format!("{b:?}").contains("very-secret"));
        assert_eq!(
            b.config().access_token().unwrap().expose_secret(),
            "very-secret-token"
        );
    }

    #[test]
    fn token_providers_are_asked_each_time() {
        let calls = Arc::new(core::sync::atomic::AtomicU32::new(0));
        let seen = calls.clone();
        let b = builder().token_provider(move || {
            seen.fetch_add(1, core::sync::atomic::Ordering::SeqCst);
            Ok(AccessToken::from_string("fresh".into())?)
        });
        b.config().access_token().unwrap();
        b.config().access_token().unwrap();
        assert_eq!(calls.load(core::sync::atomic::Ordering::SeqCst), 2);
    }

    #[test]
    fn causes_are_found_through_the_chain() {
        let inner = ConfigError::MissingToken;
        let outer = Error::Config(inner.clone());
        assert_eq!(find_cause::<ConfigError>(&outer), Some(&inner));
        assert!(find_cause::<InvalidBaseUrl>(&outer).is_none());
        let io = std::io::Error::other(ConfigError::ZeroTimeout);
        let wrapped = Error::Connect(Box::new(io));
        assert_eq!(
            find_cause::<ConfigError>(&wrapped),
            Some(&ConfigError::ZeroTimeout)
        );
    }

    #[test]
    fn only_transient_failures_are_retried() {
        let mut attempts = Attempts::new(RetryPolicy::new().with_max_attempts(3));
        attempts.start();
        assert!(attempts.retry_delay(&api(404, None)).is_none());
        assert_eq!(
            attempts.retry_delay(&api(429, Some(2))),
            Some(Duration::from_secs(2))
        );
        let timeout = Error::Timeout(Timeout::Request(Duration::from_secs(1)));
        assert!(attempts.retry_delay(&timeout).is_some());
        assert!(
            attempts
                .retry_delay(&Error::BodyTooLarge { limit: 1 })
                .is_none()
        );
        attempts.start();
        attempts.start();
        assert!(
            attempts.retry_delay(&api(503, None)).is_none(),
            "3 attempts made"
        );
    }
}
