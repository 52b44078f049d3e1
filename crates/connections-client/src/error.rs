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
    /// The cause behind what `Display` already says, so a chain printer shows each text
    /// once: wrapped core errors are transparent, transport errors are spelled out in full.
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Config(e) => e.source(),
            Error::Api(e) => e.source(),
            Error::InvalidResponse(e) => e.source(),
            Error::Pagination(e) => e.source(),
            Error::TokenEndpoint(e) => e.source(),
            Error::Listing(e) => e.source(),
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
}
