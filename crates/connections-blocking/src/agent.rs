//! The ureq side: the agents configured for this API (one per way out: directly, or through a
//! proxy), and ureq's errors mapped onto the core's [`Error`]. Everything here is about moving
//! bytes; what they mean is the core's.

use std::fmt;
use std::io;
use std::sync::Arc;

use base64::Engine as _;
use base64::prelude::BASE64_STANDARD;
use connections_client::{
    ACCEPT_ENCODING, Config, ConfigError, Error, Proxy, ProxyProblem, Timeout, Tokens, find_cause,
    system_root_certificates,
};
use rustls::pki_types::CertificateDer;
use ureq::tls::{Certificate, RootCerts, TlsConfig};
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
        .build()
        .new_agent();
    Ok(agent)
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

/// A ureq error and what it was about: the proxy (`http://host:port`, never its
/// credentials) or the host that does not resolve.
#[derive(Debug)]
struct About {
    what: String,
    cause: ureq::Error,
}

impl fmt::Display for About {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.what, self.cause)
    }
}

impl std::error::Error for About {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.cause)
    }
}

/// Maps a ureq error onto the core's error: a refused certificate → `Tls`; the proxy refusing
/// the tunnel or unreachable → `Proxy`; a host name that does not resolve → `UnknownHost`;
/// other connect failures → `Connect`; deadlines → `Timeout`; the body limit →
/// `BodyTooLarge`; anything breaking an established exchange (premature close, truncated or
/// garbled body) → `Connection`.
pub(crate) fn map_error(error: ureq::Error, phase: Phase, route: &Route, config: &Config) -> Error {
    use ureq::Error as U;
    // ureq's `source()` does not reach the io::Error it wraps, so look there directly.
    let tls = match &error {
        U::Io(e) => find_cause::<rustls::Error>(e),
        other => find_cause::<rustls::Error>(other),
    };
    let refused_certificate = matches!(
        tls,
        Some(rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented)
    );
    if refused_certificate {
        return Error::Tls(Box::new(error));
    }
    if phase == Phase::Call {
        if let Some(proxy) = &route.proxy {
            // Through a proxy, ureq resolves and connects to the proxy only: the target is
            // the proxy's to reach, and its failure comes back as the CONNECT's answer.
            let unreachable = match &error {
                U::ConnectProxyFailed(_) | U::HostNotFound | U::ConnectionFailed => true,
                U::Io(e) => is_unreachable(e) || is_name_not_resolved(e),
                _ => false,
            };
            if unreachable {
                return Error::Proxy(Box::new(About {
                    what: proxy.to_string(),
                    cause: error,
                }));
            }
        } else {
            let not_resolved = match &error {
                U::HostNotFound => true,
                U::Io(e) => is_name_not_resolved(e),
                _ => false,
            };
            if not_resolved {
                return Error::UnknownHost(Box::new(About {
                    what: route.host.to_string(),
                    cause: error,
                }));
            }
        }
    }
    match error {
        U::Timeout(ureq::Timeout::Resolve | ureq::Timeout::Connect) => {
            Error::Timeout(Timeout::Connect(config.connect_timeout()))
        }
        U::Timeout(_) => Error::Timeout(Timeout::Request(config.request_timeout())),
        U::BodyExceedsLimit(_) => Error::BodyTooLarge {
            limit: config.max_body_size(),
        },
        U::Io(e) if phase == Phase::Call && is_connect_failure(&e) => {
            Error::Connect(Box::new(U::Io(e)))
        }
        U::Io(e) if e.kind() == io::ErrorKind::TimedOut => {
            Error::Timeout(Timeout::Request(config.request_timeout()))
        }
        e @ (U::HostNotFound
        | U::ConnectionFailed
        | U::Tls(_)
        | U::Rustls(_)
        | U::Pem(_)
        | U::TlsRequired
        | U::ConnectProxyFailed(_)
        | U::InvalidProxyUrl
        | U::BadUri(_)
        | U::RequireHttpsOnly(_)
        | U::Http(_)) => Error::Connect(Box::new(e)),
        // ureq inflates bodies itself when another crate of the build turns its `gzip`
        // feature on (features are unified); its `Decompress` variant exists only then.
        other if phase == Phase::Body && is_decompress(&other) => {
            Error::ContentEncoding(Box::new(other))
        }
        other => Error::Connection(Box::new(other)),
    }
}

/// Whether ureq failed to inflate the body: `ureq::Error::Decompress`, named by its derived
/// `Debug` since the variant cannot be matched without ureq's `gzip` feature.
fn is_decompress(error: &ureq::Error) -> bool {
    format!("{error:?}").starts_with("Decompress(")
}

/// Whether an I/O error before the response means no usable connection was made: refused,
/// unreachable, or a TLS handshake that failed (rustls reports certificate and protocol
/// problems as `InvalidData`).
fn is_connect_failure(e: &io::Error) -> bool {
    use io::ErrorKind as K;
    matches!(
        e.kind(),
        K::ConnectionRefused
            | K::AddrNotAvailable
            | K::AddrInUse
            | K::NetworkUnreachable
            | K::HostUnreachable
            | K::NetworkDown
            | K::InvalidData
            | K::InvalidInput
            | K::PermissionDenied
    )
}

/// Whether an I/O error while connecting means the peer could not be reached at all.
fn is_unreachable(e: &io::Error) -> bool {
    use io::ErrorKind as K;
    matches!(
        e.kind(),
        K::ConnectionRefused
            | K::AddrNotAvailable
            | K::NetworkUnreachable
            | K::HostUnreachable
            | K::NetworkDown
    )
}

/// Whether an I/O error is the system resolver's "no such name": ureq's resolver hands on
/// what `ToSocketAddrs` returns, which the standard library words as "failed to lookup
/// address information: …" on Unix, and Windows reports as `WSAHOST_NOT_FOUND` or
/// `WSANO_DATA`.
fn is_name_not_resolved(e: &io::Error) -> bool {
    const WSAHOST_NOT_FOUND: i32 = 11001;
    const WSANO_DATA: i32 = 11004;
    if cfg!(windows) && matches!(e.raw_os_error(), Some(WSAHOST_NOT_FOUND | WSANO_DATA)) {
        return true;
    }
    e.raw_os_error().is_none()
        && e.to_string()
            .starts_with("failed to lookup address information")
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

    #[test]
    fn failures_before_a_connection_are_connect_errors() {
        let c = config();
        let r = routes(&c);
        let direct = r.to(Origin::Api);
        for kind in [
            io::ErrorKind::ConnectionRefused,
            io::ErrorKind::HostUnreachable,
            io::ErrorKind::InvalidData, // rustls: bad certificate
        ] {
            assert!(matches!(
                map_error(io(kind), Phase::Call, direct, &c),
                Error::Connect(_)
            ));
        }
        for e in [
            ureq::Error::ConnectionFailed,
            ureq::Error::Tls("handshake"),
            ureq::Error::ConnectProxyFailed("407".into()),
        ] {
            assert!(matches!(
                map_error(e, Phase::Call, direct, &c),
                Error::Connect(_)
            ));
        }
    }

    #[test]
    fn a_name_that_does_not_resolve_is_an_unknown_host() {
        let c = config();
        let r = routes(&c);
        let direct = r.to(Origin::Api);
        let lookup =
            io::Error::other("failed to lookup address information: Name or service not known");
        for e in [ureq::Error::HostNotFound, ureq::Error::Io(lookup)] {
            let mapped = map_error(e, Phase::Call, direct, &c);
            assert!(matches!(mapped, Error::UnknownHost(_)), "{mapped:?}");
            assert!(!mapped.is_retryable());
            assert!(mapped.to_string().contains("api.smartcar.com"), "{mapped}");
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
