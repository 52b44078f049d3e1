//! The ureq side: the agents configured for this API (one per way out: directly, or through a
//! proxy), and ureq's errors mapped onto the core's [`Error`]. Everything here is about moving
//! bytes; what they mean is the core's.

use std::fmt;
use std::io;
use std::sync::Arc;

use base64::Engine as _;
use base64::prelude::BASE64_STANDARD;
use connections_client::{
    ACCEPT_ENCODING, BoxError, Config, ConfigError, Error, Proxy, ProxyProblem, Timeout, Tokens,
    find_cause, system_root_certificates,
};
use connections_core::InvalidBaseUrl;
use rustls::pki_types::CertificateDer;
use ureq::tls::{Certificate, RootCerts, TlsConfig};
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs};
use ureq::unversioned::transport::{DefaultConnector, NextTimeout};
use ureq::{Agent, ProxyProtocol};
use zeroize::Zeroizing;

/// Which origin a request is for; each has its [`Route`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Origin {
    /// The API's base URL (every page, `next` links included: they stay on its origin).
    Api,
    /// The token URL of client credentials.
    Token,
}

/// The ways out of one [`Client`](crate::Client): the client talks to at most two origins,
/// the API's and the token endpoint's, and each goes directly or through the proxy the
/// settings pick for it. Both share one agent (and its pool) when they go the same way.
pub(crate) struct Routes {
    api: Route,
    token: Route,
}

/// One way out: the agent, and the proxy it goes through, to name in errors.
#[derive(Clone)]
pub(crate) struct Route {
    pub(crate) agent: Agent,
    proxy: Option<Proxy>,
    /// The destination host, to name when it does not resolve.
    host: Arc<str>,
    /// Whose URL this is, to name in a configuration error.
    origin: Origin,
}

impl Routes {
    /// Builds the agents every request of one [`Client`](crate::Client) shares (with their
    /// pools); see [`agent`] for their settings.
    pub(crate) fn new(config: &Config) -> Result<Routes, Error> {
        check_roots(config.root_certificates())?;
        let system = if config.system_roots() {
            system_root_certificates()
        } else {
            Vec::new()
        };
        let tls = tls(config.root_certificates(), &system);
        let proxies = config.proxies();
        let base = config.base_url();
        let api_proxy = proxies.for_base(base);
        let api = Route {
            agent: agent(config, tls.clone(), api_proxy.as_ref())?,
            proxy: api_proxy,
            host: base.host().into(),
            origin: Origin::Api,
        };
        let token = match config.tokens() {
            Tokens::App(app) => {
                let url = app.credentials().token_url();
                let proxy = proxies.for_base(url);
                let agent = if same_way(&proxy, &api.proxy) {
                    api.agent.clone()
                } else {
                    agent(config, tls, proxy.as_ref())?
                };
                Route {
                    agent,
                    proxy,
                    host: url.host().into(),
                    origin: Origin::Token,
                }
            }
            // No token requests: never used.
            _ => api.clone(),
        };
        Ok(Routes { api, token })
    }

    /// The way to `origin`.
    pub(crate) fn to(&self, origin: Origin) -> &Route {
        match origin {
            Origin::Api => &self.api,
            Origin::Token => &self.token,
        }
    }
}

/// Whether two proxy decisions are the same: both direct, or the same proxy and credentials.
fn same_way(a: &Option<Proxy>, b: &Option<Proxy>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => a.uri() == b.uri() && a.authorization() == b.authorization(),
        _ => false,
    }
}

/// Builds one agent:
///
/// - statuses are never errors: the core reads error bodies and `Retry-After`;
/// - redirects are never followed (`max_redirects(0)` hands the 3xx back), so the token never
///   travels to a `Location`; the core turns the 3xx into an error naming it;
/// - `timeout_global` is the request deadline: it spans DNS, connect, headers and the body
///   reads that follow `call()`, so a server dripping bytes is cut off at the deadline;
///   `timeout_resolve` and `timeout_connect` bound DNS and TCP + proxy + TLS each by the
///   connect timeout;
/// - `proxy` (a CONNECT tunnel, with the credentials of its URL) or none at all: ureq's own
///   reading of `HTTPS_PROXY` and friends is off, the settings decided already;
/// - `Accept-Encoding: gzip` on every request, and ureq decodes nothing itself (its `gzip`
///   feature is off): [`decoded_body`](connections_client::decoded_body) does, in
///   [`Client::send`](crate::Client);
/// - `tls`: the roots from [`tls`].
fn agent(config: &Config, tls: TlsConfig, proxy: Option<&Proxy>) -> Result<Agent, Error> {
    let connect = Some(config.connect_timeout());
    let proxy = proxy.map(ureq_proxy).transpose()?;
    let agent = Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(config.request_timeout()))
        .timeout_resolve(connect)
        .timeout_connect(connect)
        .proxy(proxy)
        // Also what a CONNECT proxy sees; requests set the same values themselves.
        .user_agent(config.user_agent())
        .accept("application/json")
        .accept_encoding(ACCEPT_ENCODING)
        .tls_config(tls)
        .build();
    Ok(Agent::with_parts(
        agent,
        DefaultConnector::new(),
        Resolver::default(),
    ))
}

/// ureq's system resolver, with its lookup failures marked as [`NotResolved`], so that a
/// name that does not resolve is told from other connect failures by type: std reports most
/// `getaddrinfo` failures with neither a kind nor an OS error to check, only text.
#[derive(Debug, Default)]
struct Resolver(DefaultResolver);

impl ureq::unversioned::resolver::Resolver for Resolver {
    fn resolve(
        &self,
        uri: &ureq::http::Uri,
        config: &ureq::config::Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        self.0
            .resolve(uri, config, timeout)
            .map_err(NotResolved::mark)
    }

    fn empty(&self) -> ResolvedSocketAddrs {
        self.0.empty()
    }
}

/// The system resolver has no address for the name.
#[derive(Debug)]
struct NotResolved(io::Error);

impl NotResolved {
    /// Marks a failed lookup, unless it may pass on a retry: an OS error (Unix's
    /// `EAI_SYSTEM`, which std reports with its errno; on Windows every failure is one, and
    /// only "no such name" and "no data" are marked) or an interrupted lookup.
    fn mark(error: ureq::Error) -> ureq::Error {
        const WSAHOST_NOT_FOUND: i32 = 11001;
        const WSANO_DATA: i32 = 11004;
        match error {
            ureq::Error::Io(e) => {
                let no_such_name = match e.raw_os_error() {
                    None => e.kind() != io::ErrorKind::Interrupted,
                    Some(code) => cfg!(windows) && matches!(code, WSAHOST_NOT_FOUND | WSANO_DATA),
                };
                if no_such_name {
                    ureq::Error::Other(Box::new(NotResolved(e)))
                } else {
                    ureq::Error::Io(e)
                }
            }
            other => other,
        }
    }
}

impl fmt::Display for NotResolved {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for NotResolved {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

/// The proxy as ureq takes it: an HTTP CONNECT proxy, with the user and password of its URL,
/// from which ureq makes the same `Proxy-Authorization: Basic …` again. The proxy was read
/// and checked (`http://` only) when the client was built.
fn ureq_proxy(proxy: &Proxy) -> Result<ureq::Proxy, Error> {
    // Not expected: the URL was read at build, and its credentials encoded by the reader.
    let unusable = || Error::Config(ConfigError::Proxy(ProxyProblem::Unreadable));
    let uri = proxy.uri();
    let host = uri.host().ok_or_else(unusable)?;
    let mut builder = ureq::Proxy::builder(ProxyProtocol::Http)
        .host(host)
        .port(uri.port_u16().unwrap_or(80));
    if let Some(authorization) = proxy.authorization() {
        let credentials = basic_credentials(authorization.as_bytes()).ok_or_else(unusable)?;
        let (user, password) = credentials
            .split_once(':')
            .unwrap_or((credentials.as_str(), ""));
        builder = builder.username(user).password(password);
    }
    builder.build().map_err(|_| unusable())
}

/// `user:password` out of `Basic base64(user:password)`.
fn basic_credentials(value: &[u8]) -> Option<Zeroizing<String>> {
    let encoded = value.strip_prefix(b"Basic ")?;
    let decoded = Zeroizing::new(BASE64_STANDARD.decode(encoded).ok()?);
    let text = std::str::from_utf8(&decoded).ok()?;
    Some(Zeroizing::new(text.to_owned()))
}

/// Refuses extra roots rustls cannot use now, rather than failing every TLS handshake later.
fn check_roots(extra_roots: &[Vec<u8>]) -> Result<(), Error> {
    let mut store = rustls::RootCertStore::empty();
    for (index, der) in extra_roots.iter().enumerate() {
        store
            .add(CertificateDer::from(der.as_slice()))
            .map_err(|_| Error::Config(ConfigError::RootCertificate { index }))?;
    }
    Ok(())
}

/// The trusted roots: the Mozilla roots (always), the system's (unless turned off; those
/// rustls cannot use are skipped), and the configured ones. ureq's `RootCerts::Specific`
/// replaces its built-in set, so the Mozilla roots are listed here too.
fn tls(extra_roots: &[Vec<u8>], system_roots: &[CertificateDer<'_>]) -> TlsConfig {
    let roots: Vec<Certificate<'static>> = webpki_root_certs::TLS_SERVER_ROOT_CERTS
        .iter()
        .map(|root| Certificate::from_der(root.as_ref()))
        .chain(
            system_roots
                .iter()
                .map(|der| Certificate::from_der(der.as_ref()).to_owned()),
        )
        .chain(
            extra_roots
                .iter()
                .map(|der| Certificate::from_der(der).to_owned()),
        )
        .collect();
    TlsConfig::builder()
        .unversioned_rustls_crypto_provider(connections_client::crypto_provider())
        .root_certs(RootCerts::Specific(Arc::new(roots)))
        .build()
}

/// Where in the exchange an error happened: before the response head arrived, the
/// connection itself may be what failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    /// `call()`: DNS, connect, proxy, TLS, sending, the response head.
    Call,
    /// Reading the body after the head.
    Body,
}

/// A failure and what it was about: the proxy (`http://host:port`, never its credentials)
/// or the host that does not resolve.
#[derive(Debug)]
struct About {
    what: String,
    cause: BoxError,
}

impl fmt::Display for About {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.what, self.cause)
    }
}

impl std::error::Error for About {
    /// The cause's cause: the cause's own text is in this one's.
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.cause.source()
    }
}

/// Maps a ureq error onto the core's error by its variant (and an I/O error by its kind and
/// the causes it holds), never by its text, so that what cannot pass is not retried:
///
/// - a refused certificate, or TLS that cannot be set up → `Tls`;
/// - the proxy refusing the tunnel, unreachable, or unusable → `Proxy`;
/// - a host name that does not resolve → `UnknownHost`;
/// - refused, unreachable, a handshake that failed otherwise → `Connect` (retried);
/// - deadlines → `Timeout`; the body limit → `BodyTooLarge`;
/// - anything breaking an established exchange (premature close, truncated or garbled
///   answer) → `Connection` (retried);
/// - unusable settings (PEM, https-only) → `Config`;
/// - a request that cannot be sent as built (`BadUri`, `Http`), or a connection the
///   system refuses outright (directly: `PermissionDenied`, `InvalidInput`) → `Request`
///   (not retried).
///
/// `ureq::Error` is `#[non_exhaustive]` and some of its variants exist only with ureq
/// features this crate leaves off, so a catch-all remains: see its arms.
pub(crate) fn map_error(error: ureq::Error, phase: Phase, route: &Route, config: &Config) -> Error {
    use ureq::Error as U;
    match error {
        U::Timeout(ureq::Timeout::Resolve | ureq::Timeout::Connect) => {
            Error::Timeout(Timeout::Connect(config.connect_timeout()))
        }
        U::Timeout(_) => Error::Timeout(Timeout::Request(config.request_timeout())),
        U::BodyExceedsLimit(_) => Error::BodyTooLarge {
            limit: config.max_body_size(),
        },
        U::Io(e) => map_io(e, phase, route, config),
        U::HostNotFound => not_resolved(Box::new(U::HostNotFound), route),
        U::Other(inner) => match inner.downcast::<NotResolved>() {
            Ok(lookup) => not_resolved(Box::new(lookup.0), route),
            // ureq's own connectors never raise `Other`.
            Err(inner) => Error::Connection(Box::new(U::Other(inner))),
        },
        // The proxy refused the tunnel, or its settings are unusable.
        e @ (U::ConnectProxyFailed(_) | U::InvalidProxyUrl) => the_proxys(Box::new(e), route),
        // No connector made a connection, and none said why.
        U::ConnectionFailed if route.proxy.is_some() => {
            the_proxys(Box::new(U::ConnectionFailed), route)
        }
        e @ U::ConnectionFailed => Error::Connect(Box::new(e)),
        // TLS could not be set up: a host rustls cannot check the name of (`Tls`), its
        // settings (`Rustls`, raised before any handshake; a refused certificate comes as
        // `Io`), a connection left unencrypted (`TlsRequired`). The same on every attempt.
        e @ (U::Tls(_) | U::Rustls(_) | U::TlsRequired) => Error::Tls(Box::new(e)),
        // Roots go to ureq as DER, so it reads no PEM; were it to, the PEM is unusable.
        e @ U::Pem(_) => Error::Config(ConfigError::CaCertificate(e.to_string())),
        // `https_only` is never set (the settings decide when plain http is allowed).
        U::RequireHttpsOnly(_) => Error::Config(route.refused(InvalidBaseUrl::InsecureScheme)),
        // The request as built cannot be sent: not expected, since the URLs and headers were
        // checked. The same on every attempt.
        e @ (U::BadUri(_) | U::Http(_)) => Error::Request(Box::new(e)),
        // The answer is not HTTP/1.1 this client can read, or stopped making progress: the
        // server's doing on this exchange, like a body cut short; another may pass.
        e @ (U::Protocol(_) | U::LargeResponseHeader(..) | U::BodyStalled) => {
            Error::Connection(Box::new(e))
        }
        // Not raised: statuses are not errors and redirects are not followed (see `agent`).
        e @ (U::StatusCode(_) | U::RedirectFailed | U::TooManyRedirects) => {
            Error::Connection(Box::new(e))
        }
        // Reading a body, ureq raises only the variants above and those of its decoders
        // (`Decompress` when another crate of the build turns ureq's `gzip` or `brotli`
        // feature on; `charset`'s), which this crate cannot name.
        other if phase == Phase::Body => Error::ContentEncoding(Box::new(other)),
        // Variants of other optional ureq features (cookies, JSON, native-tls) or of a newer
        // ureq, before the answer: an unexplained failure, retried as the policy says.
        other => Error::Connection(Box::new(other)),
    }
}

/// Maps an I/O error by its kind, and a certificate problem by the rustls error inside it.
fn map_io(e: io::Error, phase: Phase, route: &Route, config: &Config) -> Error {
    use io::ErrorKind as K;
    let refused_certificate = matches!(
        find_cause::<rustls::Error>(&e),
        Some(rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented)
    );
    if refused_certificate {
        return Error::Tls(Box::new(ureq::Error::Io(e)));
    }
    let kind = e.kind();
    let cause = Box::new(ureq::Error::Io(e));
    match (phase, kind) {
        (_, K::TimedOut) => Error::Timeout(Timeout::Request(config.request_timeout())),
        // Refused or unreachable: it may pass. Through a proxy, ureq connects to the proxy
        // only (the proxy reaches the target, and says so in its CONNECT answer).
        (
            Phase::Call,
            K::ConnectionRefused
            | K::AddrNotAvailable
            | K::NetworkUnreachable
            | K::HostUnreachable
            | K::NetworkDown,
        ) => not_connected(cause, route),
        // The system will not let the connection out (a firewall, a sandbox), or cannot use
        // the address: the same on every attempt. The proxy's, through a proxy.
        (Phase::Call, K::PermissionDenied | K::InvalidInput) => match route.proxy {
            Some(_) => the_proxys(cause, route),
            None => Error::Request(cause),
        },
        // No local port free, or a TLS handshake that failed for a reason other than the
        // certificate (rustls reports it as `InvalidData`): it may pass.
        (Phase::Call, K::AddrInUse | K::InvalidData) => Error::Connect(cause),
        // Reset, closed early, a body cut short or garbled.
        _ => Error::Connection(cause),
    }
}

/// No connection was made: the proxy's failure through a proxy (ureq connects to it only),
/// else a connect failure.
fn not_connected(cause: BoxError, route: &Route) -> Error {
    match route.proxy {
        Some(_) => the_proxys(cause, route),
        None => Error::Connect(cause),
    }
}

/// A name that does not resolve: the host's (`UnknownHost`), or through a proxy, where ureq
/// resolves the proxy's name only, the proxy's.
fn not_resolved(cause: BoxError, route: &Route) -> Error {
    if route.proxy.is_some() {
        return the_proxys(cause, route);
    }
    Error::UnknownHost(Box::new(About {
        what: route.host.to_string(),
        cause,
    }))
}

/// A failure of the proxy, naming it (never its credentials).
fn the_proxys(cause: BoxError, route: &Route) -> Error {
    match &route.proxy {
        Some(proxy) => Error::Proxy(Box::new(About {
            what: proxy.to_string(),
            cause,
        })),
        None => Error::Proxy(cause),
    }
}

impl Route {
    /// A refused URL, as the setting of this route's origin.
    fn refused(&self, reason: InvalidBaseUrl) -> ConfigError {
        match self.origin {
            Origin::Api => ConfigError::BaseUrl(reason),
            Origin::Token => ConfigError::TokenUrl(reason),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use connections_client::Builder;

    use super::*;

    /// Settings as a built client would see them.
    fn built(builder: Builder<Settings>) -> Config {
        match builder.build() {
            Ok(Settings(config)) => config,
            Err(e) => panic!("valid settings refused: {e}"),
        }
    }

    struct Settings(Config);
    impl connections_client::FromConfig for Settings {
        type TokenSource = ();

        fn from_config(config: Config, _: Option<Arc<()>>) -> Result<Self, Error> {
            Ok(Settings(config))
        }
    }

    fn config() -> Config {
        built(
            Builder::<Settings>::default()
                .token("t")
                .no_proxy()
                .system_roots(false)
                .connect_timeout(Duration::from_secs(3))
                .request_timeout(Duration::from_secs(7))
                .max_body_size(99),
        )
    }

    fn routes(config: &Config) -> Routes {
        Routes::new(config).unwrap_or_else(|e| panic!("{e}"))
    }

    /// A route through `http://user:p%40ss@proxy.example.com:3128` to the API.
    fn proxied() -> (Config, Routes) {
        let config = built(
            Builder::<Settings>::default()
                .token("t")
                .proxy("http://user:p%40ss@proxy.example.com:3128")
                .system_roots(false),
        );
        let routes = routes(&config);
        (config, routes)
    }

    fn io(kind: io::ErrorKind) -> ureq::Error {
        ureq::Error::Io(io::Error::new(kind, "test"))
    }

    #[test]
    fn timeouts_name_the_deadline_that_passed() {
        let c = config();
        let r = routes(&c);
        let direct = r.to(Origin::Api);
        for phase in [ureq::Timeout::Resolve, ureq::Timeout::Connect] {
            let e = map_error(ureq::Error::Timeout(phase), Phase::Call, direct, &c);
            assert!(matches!(e, Error::Timeout(Timeout::Connect(d)) if d == c.connect_timeout()));
        }
        for phase in [
            ureq::Timeout::Global,
            ureq::Timeout::RecvResponse,
            ureq::Timeout::RecvBody,
            ureq::Timeout::SendRequest,
        ] {
            let e = map_error(ureq::Error::Timeout(phase), Phase::Body, direct, &c);
            assert!(matches!(e, Error::Timeout(Timeout::Request(d)) if d == c.request_timeout()));
        }
        let e = map_error(io(io::ErrorKind::TimedOut), Phase::Body, direct, &c);
        assert!(matches!(e, Error::Timeout(Timeout::Request(_))));
    }

    /// What a mapped error is, as the tables below name it.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    enum Kind {
        Config,
        Connect,
        Connection,
        ContentEncoding,
        Proxy,
        Request,
        Timeout,
        Tls,
        TooLarge,
        UnknownHost,
    }

    fn kind(error: &Error) -> Option<Kind> {
        Some(match error {
            Error::Config(_) => Kind::Config,
            Error::Connect(_) => Kind::Connect,
            Error::Connection(_) => Kind::Connection,
            Error::ContentEncoding(_) => Kind::ContentEncoding,
            Error::Proxy(_) => Kind::Proxy,
            Error::Request(_) => Kind::Request,
            Error::Timeout(_) => Kind::Timeout,
            Error::Tls(_) => Kind::Tls,
            Error::BodyTooLarge { .. } => Kind::TooLarge,
            Error::UnknownHost(_) => Kind::UnknownHost,
            _ => return None,
        })
    }

    /// An error of the http crate, as ureq wraps it: a header value with a line break.
    fn http_error() -> ureq::http::Error {
        match ureq::http::HeaderValue::from_bytes(b"a\nb") {
            Err(e) => e.into(),
            Ok(_) => panic!("a line break in a header value was accepted"),
        }
    }

    /// What the resolver reports for a name with no address.
    fn not_resolved() -> ureq::Error {
        NotResolved::mark(ureq::Error::Io(io::Error::other(
            "failed to lookup address information: Name or service not known",
        )))
    }

    /// Each ureq error this build can construct, directly and before the response head: the
    /// variant it becomes and whether it is retried.
    #[test]
    fn each_ureq_error_has_a_variant_and_a_retry_decision() {
        use Kind::*;
        use ureq::Error as U;
        let c = config();
        let r = routes(&c);
        let direct = r.to(Origin::Api);
        let cases: Vec<(ureq::Error, Kind, bool)> = vec![
            (U::StatusCode(500), Connection, true),
            (U::Http(http_error()), Request, false),
            (U::BadUri("no host".into()), Request, false),
            (io(io::ErrorKind::ConnectionRefused), Connect, true),
            (U::Timeout(ureq::Timeout::Global), Timeout, true),
            (U::HostNotFound, UnknownHost, false),
            (not_resolved(), UnknownHost, false),
            (U::RedirectFailed, Connection, true),
            (U::InvalidProxyUrl, Proxy, false),
            (U::ConnectionFailed, Connect, true),
            (U::BodyExceedsLimit(99), TooLarge, false),
            (U::TooManyRedirects, Connection, true),
            (U::Tls("Rustls invalid dns name error"), Tls, false),
            (
                U::Pem(rustls::pki_types::pem::Error::NoItemsFound),
                Config,
                false,
            ),
            (
                U::Rustls(rustls::Error::General("no versions".into())),
                Tls,
                false,
            ),
            (
                U::Rustls(rustls::Error::InvalidCertificate(
                    rustls::CertificateError::UnknownIssuer,
                )),
                Tls,
                false,
            ),
            (U::RequireHttpsOnly("http://x".into()), Config, false),
            (U::LargeResponseHeader(70_000, 65_536), Connection, true),
            (U::ConnectProxyFailed("403".into()), Proxy, false),
            (U::TlsRequired, Tls, false),
            (U::Other("a bespoke connector's".into()), Connection, true),
            (U::BodyStalled, Connection, true),
        ];
        for (error, expected, retryable) in cases {
            let shown = error.to_string();
            let mapped = map_error(error, Phase::Call, direct, &c);
            assert_eq!(kind(&mapped), Some(expected), "{shown}: {mapped:?}");
            assert_eq!(mapped.is_retryable(), retryable, "{shown}: {mapped:?}");
        }
    }

    /// I/O errors before the response head, by kind: refused or unreachable may pass; the
    /// system refusing the connection does not (the proxy's through a proxy, else the
    /// request's).
    #[test]
    fn io_errors_before_the_answer_are_sorted_by_kind() {
        use Kind::*;
        use io::ErrorKind as K;
        let c = config();
        let r = routes(&c);
        let direct = r.to(Origin::Api);
        let (pc, pr) = proxied();
        let through = pr.to(Origin::Api);
        let cases = [
            (K::ConnectionRefused, Connect, Proxy),
            (K::AddrNotAvailable, Connect, Proxy),
            (K::NetworkUnreachable, Connect, Proxy),
            (K::HostUnreachable, Connect, Proxy),
            (K::NetworkDown, Connect, Proxy),
            (K::PermissionDenied, Request, Proxy),
            (K::InvalidInput, Request, Proxy),
            (K::AddrInUse, Connect, Connect),
            // rustls: a handshake that failed, not a refused certificate.
            (K::InvalidData, Connect, Connect),
            (K::ConnectionReset, Connection, Connection),
            (K::UnexpectedEof, Connection, Connection),
            (K::TimedOut, Timeout, Timeout),
        ];
        for (io_kind, directly, by_proxy) in cases {
            let mapped = map_error(io(io_kind), Phase::Call, direct, &c);
            assert_eq!(kind(&mapped), Some(directly), "{io_kind:?}: {mapped:?}");
            let final_ = matches!(directly, Proxy | Request);
            assert_eq!(mapped.is_retryable(), !final_, "{mapped:?}");
            let mapped = map_error(io(io_kind), Phase::Call, through, &pc);
            assert_eq!(kind(&mapped), Some(by_proxy), "{io_kind:?}: {mapped:?}");
            assert_eq!(mapped.is_retryable(), by_proxy != Proxy, "{mapped:?}");
        }
    }

    /// A certificate rustls refused is found by its type inside the I/O error, and a failure
    /// of the resolver by the mark the resolver put on it, never by their text.
    #[test]
    fn causes_are_found_by_type_not_by_text() {
        let c = config();
        let r = routes(&c);
        let direct = r.to(Origin::Api);
        let refused = io::Error::new(
            io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(rustls::CertificateError::Expired),
        );
        let mapped = map_error(ureq::Error::Io(refused), Phase::Call, direct, &c);
        assert!(matches!(mapped, Error::Tls(_)), "{mapped:?}");
        // The resolver's words on an error it did not raise mean nothing.
        let worded = io::Error::other("failed to lookup address information: Name unknown");
        let mapped = map_error(ureq::Error::Io(worded), Phase::Call, direct, &c);
        assert!(matches!(mapped, Error::Connection(_)), "{mapped:?}");
        // An OS error from the lookup (Unix's EAI_SYSTEM), or an interrupted one, may pass.
        for e in [
            io::Error::from_raw_os_error(12),
            io::Error::from(io::ErrorKind::Interrupted),
        ] {
            let marked = NotResolved::mark(ureq::Error::Io(e));
            assert!(matches!(marked, ureq::Error::Io(_)), "{marked:?}");
        }
        // While reading a body, a variant this crate can name keeps its meaning: only
        // ureq's decoders' (`Decompress`, nameable only with ureq's `gzip` feature, off in
        // this build) fall to the catch-all that makes them `ContentEncoding`.
        let mapped = map_error(ureq::Error::BodyStalled, Phase::Body, direct, &c);
        assert!(matches!(mapped, Error::Connection(_)), "{mapped:?}");
    }

    #[test]
    fn a_name_that_does_not_resolve_is_an_unknown_host() {
        let c = config();
        let r = routes(&c);
        let direct = r.to(Origin::Api);
        for e in [ureq::Error::HostNotFound, not_resolved()] {
            let mapped = map_error(e, Phase::Call, direct, &c);
            assert!(matches!(mapped, Error::UnknownHost(_)), "{mapped:?}");
            assert!(!mapped.is_retryable());
            let text = mapped.chain().to_string();
            assert!(text.contains("api.smartcar.com"), "{text}");
            assert!(!text.contains("other:"), "ureq's wrapper shows: {text}");
        }
    }

    /// Settings refused at the request name the URL of the request's origin.
    #[test]
    fn an_https_only_refusal_names_the_url_of_its_origin() {
        let c = built(
            Builder::<Settings>::default()
                .client_credentials("id", "secret")
                .no_proxy()
                .system_roots(false),
        );
        let r = routes(&c);
        for (origin, expected) in [
            (
                Origin::Api,
                ConfigError::BaseUrl(InvalidBaseUrl::InsecureScheme),
            ),
            (
                Origin::Token,
                ConfigError::TokenUrl(InvalidBaseUrl::InsecureScheme),
            ),
        ] {
            let e = ureq::Error::RequireHttpsOnly("http://x".into());
            let mapped = map_error(e, Phase::Call, r.to(origin), &c);
            assert!(
                matches!(&mapped, Error::Config(e) if *e == expected),
                "{mapped:?}"
            );
        }
    }

    #[test]
    fn through_a_proxy_connect_failures_are_the_proxys() {
        let (c, r) = proxied();
        let route = r.to(Origin::Api);
        for e in [
            ureq::Error::ConnectProxyFailed("proxy server responded 403/Forbidden".into()),
            ureq::Error::HostNotFound,
            io(io::ErrorKind::ConnectionRefused),
        ] {
            let mapped = map_error(e, Phase::Call, route, &c);
            assert!(matches!(mapped, Error::Proxy(_)), "{mapped:?}");
            assert!(!mapped.is_retryable());
            let text = format!("{mapped} {mapped:?}");
            assert!(text.contains("http://proxy.example.com:3128"), "{text}");
            assert!(!text.contains("p@ss") && !text.contains("p%40ss"), "{text}");
        }
        // The target's certificate, through the tunnel, is still the target's.
        let e = map_error(io(io::ErrorKind::InvalidData), Phase::Call, route, &c);
        assert!(matches!(e, Error::Connect(_)), "{e:?}");
    }

    #[test]
    fn failures_of_an_established_exchange_are_connection_errors() {
        let c = config();
        let r = routes(&c);
        let direct = r.to(Origin::Api);
        for kind in [
            io::ErrorKind::UnexpectedEof,
            io::ErrorKind::ConnectionReset,
            io::ErrorKind::InvalidData,
        ] {
            assert!(matches!(
                map_error(io(kind), Phase::Body, direct, &c),
                Error::Connection(_)
            ));
        }
        assert!(matches!(
            map_error(io(io::ErrorKind::UnexpectedEof), Phase::Call, direct, &c),
            Error::Connection(_)
        ));
        assert!(matches!(
            map_error(ureq::Error::BodyExceedsLimit(99), Phase::Body, direct, &c),
            Error::BodyTooLarge { limit: 99 }
        ));
    }

    #[test]
    fn the_proxys_credentials_go_to_ureq_as_they_were_written() {
        let (_, r) = proxied();
        let proxy = r.to(Origin::Api).agent.config().proxy().cloned();
        let proxy = proxy.unwrap_or_else(|| panic!("no proxy on the API's agent"));
        assert_eq!(proxy.protocol(), ProxyProtocol::Http);
        assert_eq!((proxy.host(), proxy.port()), ("proxy.example.com", 3128));
        assert_eq!(
            (proxy.username(), proxy.password()),
            (Some("user"), Some("p@ss"))
        );
        assert!(!format!("{proxy:?}").contains("p@ss"));
        assert_eq!(
            basic_credentials(b"Basic dXNlcjo=")
                .as_deref()
                .map(String::as_str),
            Some("user:")
        );
        assert!(basic_credentials(b"Bearer x").is_none());
    }

    #[test]
    fn each_origin_goes_its_own_way() {
        // Without a proxy, one agent (and pool) for both.
        let c = built(
            Builder::<Settings>::default()
                .client_credentials("id", "secret")
                .no_proxy()
                .system_roots(false),
        );
        let r = routes(&c);
        assert!(r.to(Origin::Api).agent.config().proxy().is_none());
        assert!(r.to(Origin::Token).agent.config().proxy().is_none());

        // A remote API through the proxy, a loopback token endpoint directly.
        let c = built(
            Builder::<Settings>::default()
                .client_credentials("id", "secret")
                .token_url("http://127.0.0.1:9/oauth2/token")
                .proxy("http://proxy.example.com:3128")
                .system_roots(false),
        );
        let r = routes(&c);
        assert!(r.to(Origin::Api).proxy.is_some());
        assert!(r.to(Origin::Api).agent.config().proxy().is_some());
        assert!(r.to(Origin::Token).proxy.is_none());
        assert!(r.to(Origin::Token).agent.config().proxy().is_none());
        assert_eq!(&*r.to(Origin::Token).host, "127.0.0.1");
    }

    #[test]
    fn roots_are_the_web_the_systems_and_the_added_ones() {
        let system = CertificateDer::from(vec![9_u8, 9]);
        let extra = vec![1_u8, 2, 3];
        let RootCerts::Specific(roots) = tls(std::slice::from_ref(&extra), &[system])
            .root_certs()
            .clone()
        else {
            panic!("roots not listed")
        };
        let web = webpki_root_certs::TLS_SERVER_ROOT_CERTS.len();
        assert_eq!(roots.len(), web + 2);
        assert_eq!(roots[web].der(), &[9, 9]);
        assert_eq!(roots.last().map(Certificate::der), Some(extra.as_slice()));
        let RootCerts::Specific(roots) = tls(&[], &[]).root_certs().clone() else {
            panic!("roots not listed")
        };
        assert_eq!(roots.len(), web);
    }
}
