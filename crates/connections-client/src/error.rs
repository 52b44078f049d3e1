use std::fmt;
use std::time::Duration;

use connections_core::listing::ListingError;
use connections_core::{
    ApiError, InvalidBaseUrl, InvalidCredentials, InvalidToken, Owned, PaginationError,
    ResponseError, ResumeError, TokenError, UrlRole,
};

use crate::{BoxError, ProxyProblem};

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
    /// A body limit of zero would fail every request.
    ZeroMaxBodySize,
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
            ConfigError::ZeroMaxBodySize => f.write_str(
                "max_body_size must be at least 1 byte; a page of 100 connections is about \
                 60 KB, and the default is 8 MiB",
            ),
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
/// `Display` says what happened and what to do, and never the text of the underlying
/// error: that is [`source()`](std::error::Error::source), the next link of the chain of
/// causes, which a reporter prints after it (`anyhow`, or [`Error::chain`] here: the CLI
/// prints `{:#}`). Wrapped core errors are transparent: their text is this error's text,
/// and their source is its source.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The client's settings are invalid.
    Config(ConfigError),
    /// The token source given to the builder failed (its error is the cause), or the client
    /// was built for a token source and none was given. Not retried: the source decides
    /// its own retries.
    TokenSource(BoxError),
    /// The request for an application token could not be built (the cause says why), or
    /// one was asked of a client without client credentials. Retrying cannot help.
    TokenRequest(BoxError),
    /// The token endpoint could not be reached (DNS, TCP, TLS or a deadline) after the
    /// retries the policy allows. `endpoint` is its URL (`https://host:port/path`); `cause`
    /// is the last failure, whose text (worded for the token URL) is part of this error's
    /// and whose cause is this error's [`source()`](std::error::Error::source). Not retried
    /// again: the token fetch retried already.
    TokenUnreachable {
        /// The token endpoint's URL.
        endpoint: String,
        /// The last attempt's failure: a `Timeout`, `Connect`, `Connection`, `Tls` or
        /// `UnknownHost` error.
        cause: Box<Error>,
    },
    /// The application token fetch this request waited for was cancelled before it ended
    /// (the request or task that ran it was dropped). Not retried by the listing; a new
    /// listing fetches again.
    TokenCancelled,
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
    /// The request cannot succeed as built, on any attempt: the HTTP library refused it
    /// (a URI or header it cannot send), or the system refused the connection outright
    /// (`PermissionDenied`: a firewall or sandbox; `InvalidInput`: an address it cannot
    /// use). Not retried.
    Request(BoxError),
    /// The exchange panicked (a bug, or a token source that panicked); the text is the
    /// panic's message. The listing ends; not retried, since the same code would run again.
    Panicked(String),
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
    /// [`Builder::max_rate_limit_wait`](crate::Builder::max_rate_limit_wait) in all.
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
    /// The listing stopped for a reason this version of the client has no variant for (a
    /// newer core's [`ListingError`], which the cause holds). Not retryable: nothing says
    /// trying again would help.
    Listing(BoxError),
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

    /// The boxed error under a `TokenSource`, `TokenRequest`, `Connect`, `Tls`,
    /// `Connection`, `Request`, `Proxy`, `UnknownHost` or `ContentEncoding` error (or under
    /// the last failure of a `TokenUnreachable`), to inspect or downcast; it is also this
    /// error's [`source()`](std::error::Error::source) (`TokenUnreachable`'s too).
    pub fn transport_cause(&self) -> Option<&(dyn std::error::Error + Send + Sync + 'static)> {
        match self {
            Error::TokenUnreachable { cause, .. } => cause.transport_cause(),
            Error::TokenSource(e)
            | Error::TokenRequest(e)
            | Error::Request(e)
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
    /// The error for an exchange that panicked, from the panic's payload: its message when
    /// it has one. Both transports catch panics (a thread's, a task's) and end with this.
    #[doc(hidden)]
    pub fn panicked(payload: &(dyn std::any::Any + Send)) -> Error {
        let message = payload
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("a payload that is not text");
        Error::Panicked(message.to_owned())
    }

    /// The error and its chain of causes, to print: `{}` on one line (`what: cause:
    /// cause`), for logs; `{:#}` the headline then each cause on a line of its own as
    /// `  caused by: …`, as the CLI prints it. See [`Chain`].
    pub fn chain(&self) -> Chain<'_> {
        Chain(self)
    }

    /// A copy to hand to every request that waited on the same failure: the same variant
    /// and text; a boxed cause is kept as the text of its whole chain only.
    pub fn replica(&self) -> Error {
        let text = |e: &BoxError| -> BoxError { Chain(&**e).to_string().into() };
        match self {
            Error::Config(e) => Error::Config(e.clone()),
            Error::TokenSource(e) => Error::TokenSource(text(e)),
            Error::TokenRequest(e) => Error::TokenRequest(text(e)),
            Error::TokenUnreachable { endpoint, cause } => Error::TokenUnreachable {
                endpoint: endpoint.clone(),
                cause: Box::new(cause.replica()),
            },
            Error::TokenCancelled => Error::TokenCancelled,
            Error::Request(e) => Error::Request(text(e)),
            Error::Panicked(message) => Error::Panicked(message.clone()),
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
            Error::Listing(e) => Error::Listing(text(e)),
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
            // A future kind of failure still ends the listing with a readable error, and is
            // not taken for a network failure worth retrying.
            other => Error::Listing(Box::new(other)),
        }
    }
}

/// An [`Error`] met on the way to the token endpoint, worded for it: what to check is the
/// token URL, not the base URL.
struct AtTokenEndpoint<'a>(&'a Error);

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
            Error::TokenSource(_) => f.write_str(
                "no token: the token source failed; see its error, and check the source \
                 given to token_source(..)",
            ),
            Error::TokenRequest(_) => f.write_str(
                "no token: the token request could not be made; check the client \
                 credentials and the token URL",
            ),
            Error::TokenUnreachable { endpoint, cause } => write!(
                f,
                "could not get a token from the token endpoint {endpoint}: {}",
                AtTokenEndpoint(cause)
            ),
            Error::TokenCancelled => f.write_str(
                "no token: the application token fetch this request waited for was \
                 cancelled before it ended; list again",
            ),
            Error::Request(_) => write!(
                f,
                "the request cannot be sent as built; check {url} and the network's rules \
                 (a firewall or sandbox that forbids the connection); retrying will not help"
            ),
            Error::Panicked(message) => write!(
                f,
                "the exchange panicked: {message}; the listing stopped (a bug, or a token \
                 source that panicked)"
            ),
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
            Error::Connect(_) => write!(
                f,
                "could not connect; check {url}, DNS, proxy and TLS settings"
            ),
            Error::Tls(_) => write!(
                f,
                "the server's TLS certificate was refused; check {url}, or trust a private \
                 certificate authority (--ca-cert FILE, add_root_certificates_pem)"
            ),
            Error::Connection(_) => {
                f.write_str("the connection failed during the exchange; retry later")
            }
            Error::Pagination(e) => fmt::Display::fmt(e, f),
            Error::Proxy(_) => f.write_str(
                "the proxy did not open a tunnel; check --proxy / HTTPS_PROXY and NO_PROXY, \
                 or the proxy's credentials",
            ),
            Error::UnknownHost(_) => write!(f, "the host name does not resolve; check {url}"),
            Error::ContentEncoding(_) => f.write_str(
                "the response body could not be decoded (a corrupt body, or an encoding that \
                 was not asked for); retry later, or report it to the server's operator",
            ),
            Error::Resume(e) => fmt::Display::fmt(e, f),
            Error::Listing(e) => fmt::Display::fmt(e, f),
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
    /// The cause behind what `Display` says, so a chain printer shows each text once: the
    /// boxed cause of every variant that has one; for wrapped core errors (transparent:
    /// their text is this error's) and a `TokenUnreachable` (its last failure's text is
    /// part of its own), the wrapped error's source.
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Config(e) => e.source(),
            Error::Api(e) => e.source(),
            Error::InvalidResponse(e) => e.source(),
            Error::Pagination(e) => e.source(),
            Error::TokenEndpoint(e) => e.source(),
            Error::Listing(e) => e.source(),
            Error::TokenUnreachable { cause, .. } => cause.source(),
            // The boxed causes, listed once, in `transport_cause`.
            _ => self
                .transport_cause()
                .map(|e| e as &(dyn std::error::Error + 'static)),
        }
    }
}

/// An error and its chain of causes ([`source()`](std::error::Error::source) after
/// `source()`), for display; [`Error::chain`] makes one of an [`Error`].
///
/// `{}` writes one line, `what: cause: cause` (for logs: the transports' tracing events
/// carry it as their `error` field); `{:#}` writes the error, then each cause on a line of
/// its own indented as `  caused by: …` (as the CLI prints it on stderr). A cause whose
/// text the previous one already ends with (some libraries repeat their cause in their
/// own text) is left out, so each text appears once.
///
/// ```
/// use connections_client::{Chain, Error};
///
/// let error = Error::Connect(Box::new(std::io::Error::other("connection refused")));
/// assert!(error.chain().to_string().ends_with(": connection refused"));
/// let lines = format!("{:#}", Chain(&error));
/// assert!(lines.ends_with("\n  caused by: connection refused"), "{lines}");
/// ```
#[derive(Clone, Copy)]
pub struct Chain<'a>(pub &'a (dyn std::error::Error + 'static));

impl<'a> Chain<'a> {
    /// The causes after the error itself, outermost first, without those that repeat the
    /// text of the one before (see [`Chain`]).
    pub fn causes(self) -> impl Iterator<Item = &'a (dyn std::error::Error + 'static)> {
        let mut previous = self.0.to_string();
        let mut next = self.0.source();
        std::iter::from_fn(move || {
            while let Some(cause) = next {
                next = cause.source();
                let text = cause.to_string();
                let repeated = previous.ends_with(&text);
                previous = text;
                if !repeated {
                    return Some(cause);
                }
            }
            None
        })
    }
}

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.0, f)?;
        let separator = if f.alternate() {
            "\n  caused by: "
        } else {
            ": "
        };
        for cause in self.causes() {
            write!(f, "{separator}{cause}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A listing failure this version has no variant for is not taken for a network
    /// failure: nothing says trying again would help.
    #[test]
    fn an_unnamed_listing_failure_is_not_retryable() {
        let unnamed = Error::Listing("a newer core's reason".into());
        assert!(!unnamed.is_retryable());
        assert_eq!(unnamed.to_string(), "a newer core's reason");
        assert!(!unnamed.replica().is_retryable());
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

    /// One error of each variant that boxes a cause, each caused by "connection refused".
    fn boxed_errors() -> Vec<Error> {
        let io = || Box::new(std::io::Error::other("connection refused"));
        vec![
            Error::Connect(io()),
            Error::Tls(io()),
            Error::Connection(io()),
            Error::Proxy(io()),
            Error::UnknownHost(io()),
            Error::ContentEncoding(io()),
            Error::Request(io()),
            Error::TokenSource(io()),
            Error::TokenRequest(io()),
            Error::TokenUnreachable {
                endpoint: "https://iam.example:443/oauth2/token".into(),
                cause: Box::new(Error::Connect(io())),
            },
        ]
    }

    /// Each text of an error's chain appears once: `source()` never returns what `Display`
    /// already printed.
    #[test]
    fn no_cause_is_printed_twice() {
        let mut errors = boxed_errors();
        errors.extend([
            Error::Config(ConfigError::BaseUrl(InvalidBaseUrl::InsecureScheme)),
            Error::Pagination(PaginationError::TooManyPages { max: 3 }),
            Error::from(ListingError::Transport(Error::Timeout(Timeout::Request(
                Duration::from_secs(1),
            )))),
        ]);
        for error in errors {
            let text = error.to_string();
            let mut cause = std::error::Error::source(&error);
            while let Some(e) = cause {
                assert!(!text.contains(&e.to_string()), "{text:?} repeats {e}");
                cause = e.source();
            }
        }
    }

    /// Every boxed cause is the error's `source()`, so a chain printer shows it; the
    /// headline keeps what to do.
    #[test]
    fn every_boxed_cause_is_the_source() {
        for error in boxed_errors() {
            let source = std::error::Error::source(&error).expect("a source");
            assert_eq!(source.to_string(), "connection refused", "{error:?}");
            assert!(error.transport_cause().is_some(), "{error:?}");
            let chain = error.chain().to_string();
            assert!(chain.ends_with(": connection refused"), "{chain}");
            let lines = format!("{:#}", error.chain());
            assert_eq!(
                lines,
                format!("{error}\n  caused by: connection refused"),
                "{error:?}"
            );
            // A waiter's copy keeps the chain's text.
            assert!(
                error
                    .replica()
                    .chain()
                    .to_string()
                    .contains("connection refused")
            );
        }
    }

    /// The token endpoint's URL and what to check are in the headline; the last failure's
    /// cause follows it.
    #[test]
    fn an_unreachable_token_endpoint_names_it_and_the_token_url() {
        let error = Error::TokenUnreachable {
            endpoint: "https://iam.example:443/oauth2/token".into(),
            cause: Box::new(Error::Connect(Box::new(std::io::Error::other("refused")))),
        };
        let text = error.to_string();
        assert!(
            text.contains("https://iam.example:443/oauth2/token"),
            "{text}"
        );
        assert!(text.contains("check the token URL"), "{text}");
        assert!(!text.contains("base URL"), "{text}");
        assert!(!error.is_retryable());
    }

    /// A cause that repeats the text of its own cause is not shown twice.
    #[test]
    fn a_chain_leaves_out_a_repeated_text() {
        #[derive(Debug)]
        struct Repeats(std::io::Error);
        impl fmt::Display for Repeats {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "io: {}", self.0)
            }
        }
        impl std::error::Error for Repeats {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.0)
            }
        }
        let error = Error::Connect(Box::new(Repeats(std::io::Error::other("refused"))));
        assert_eq!(
            format!("{:#}", error.chain()),
            format!("{error}\n  caused by: io: refused")
        );
    }

    /// The new variants are final: none is retried.
    #[test]
    fn requests_panics_and_token_failures_are_not_retryable() {
        let errors = [
            Error::Request("bad".into()),
            Error::Panicked("boom".into()),
            Error::TokenSource("sealed".into()),
            Error::TokenRequest("bad".into()),
            Error::TokenCancelled,
        ];
        for error in errors {
            assert!(!error.is_retryable(), "{error:?}");
            assert!(!error.replica().is_retryable(), "{error:?}");
        }
        assert!(Error::Panicked("boom".into()).to_string().contains("boom"));
    }
}
