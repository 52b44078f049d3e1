//! Connections: trust, the route to each destination (directly, or through an HTTP CONNECT
//! tunnel when a proxy applies), and a connector whose timeout covers DNS, TCP, the tunnel
//! and the TLS handshake together, which hyper-util's own `set_connect_timeout` (TCP only)
//! does not.

use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use connections_client::{BoxError, Config, ConfigError, Error, Proxies, system_root_certificates};
use http::Uri;
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::connect::dns::{GaiAddrs, GaiResolver, Name};
use hyper_util::client::legacy::connect::proxy::Tunnel;
use hyper_util::client::legacy::connect::{Connected, Connection, HttpConnector};
use hyper_util::rt::TokioIo;
use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;
use tokio::net::TcpStream;
use tower_service::Service;

/// The rustls settings: the Mozilla roots shipped in `webpki-roots`, the operating system's
/// authorities unless `system_roots(false)`, and the configured extra authorities (DER or
/// PEM); ring as the crypto provider (chosen here, so no process-wide default provider is
/// needed), TLS 1.2 and 1.3. ALPN is left to hyper-rustls, which offers h2 and http/1.1.
pub(crate) fn tls_config(config: &Config) -> Result<rustls::ClientConfig, Error> {
    let mut roots = RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    if config.system_roots() {
        // What rustls cannot use is left out, silently (both transports log the same
        // events): the bundled roots remain.
        roots.add_parsable_certificates(system_root_certificates());
    }
    for (index, der) in config.root_certificates().iter().enumerate() {
        roots
            .add(CertificateDer::from(der.as_slice()))
            .map_err(|_| Error::Config(ConfigError::RootCertificate { index }))?;
    }
    let tls = rustls::ClientConfig::builder_with_provider(connections_client::crypto_provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Connect(Box::new(e)))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tls)
}

/// The connector of the pooled client: HTTPS (h2 or HTTP/1.1 by ALPN) over a [`Route`], or
/// plain HTTP, which the core's `BaseUrl` only accepts for loopback hosts; bounded by the
/// connect timeout.
#[derive(Clone)]
pub(crate) struct Connector {
    inner: HttpsConnector<Route>,
    timeout: Duration,
}

impl Connector {
    pub(crate) fn new(config: &Config) -> Result<Self, Error> {
        Self::over(config, Route::new(config))
    }

    /// A connector whose every connection is a pipe from `dial`, for tests under tokio's
    /// paused clock: a socket's I/O leaves the runtime idle, which lets the paused clock leap
    /// to the next timer (the request's deadline), whereas a pipe to a server task on the
    /// same runtime does not. Plain `http://` only: TLS and proxies are not on this path.
    #[cfg(test)]
    pub(crate) fn in_memory(config: &Config, dial: Dial) -> Result<Self, Error> {
        let mut route = Route::new(config);
        route.memory = Some(dial);
        Self::over(config, route)
    }

    fn over(config: &Config, route: Route) -> Result<Self, Error> {
        // TLS to the real host (SNI and certificate name from the destination URI, not the
        // proxy's), over the tunnel when there is one.
        let inner = HttpsConnectorBuilder::new()
            .with_tls_config(tls_config(config)?)
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .wrap_connector(route);
        Ok(Connector {
            inner,
            timeout: config.connect_timeout(),
        })
    }
}

/// Opens a pipe to a test's server, or fails as a socket's connect would; see
/// [`Connector::in_memory`].
#[cfg(test)]
pub(crate) type Dial = Arc<dyn Fn() -> io::Result<tokio::io::DuplexStream> + Send + Sync>;

type Connecting<T> = Pin<Box<dyn Future<Output = Result<T, BoxError>> + Send>>;

impl Service<Uri> for Connector {
    type Response = <HttpsConnector<Route> as Service<Uri>>::Response;
    type Error = BoxError;
    type Future = Connecting<Self::Response>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let connecting = self.inner.call(uri);
        let timeout = self.timeout;
        Box::pin(async move {
            match tokio::time::timeout(timeout, connecting).await {
                Ok(connected) => connected,
                Err(_) => Err(Box::new(ConnectTimedOut(timeout)) as BoxError),
            }
        })
    }
}

/// The TCP connection under TLS: straight to the destination, or, when
/// [`Proxies::for_uri`] names a proxy for it, to the proxy and through an HTTP CONNECT
/// tunnel (hyper-util's [`Tunnel`]) to `host:port`. The proxy sees nothing else: the
/// request, its path and its `Authorization` travel inside the TLS session that starts once
/// the tunnel is open. No proxy ever applies to loopback hosts, the only ones plain
/// `http://` may name, so only HTTPS goes through proxies.
#[derive(Clone)]
pub(crate) struct Route {
    tcp: HttpConnector<Resolver>,
    proxies: Proxies,
    #[cfg(test)]
    memory: Option<Dial>,
}

impl Route {
    fn new(config: &Config) -> Self {
        let mut http = HttpConnector::new_with_resolver(Resolver::default());
        // `https://` URIs reach the TCP connector too: hyper-rustls adds TLS on top.
        http.enforce_http(false);
        http.set_nodelay(true);
        // Bounds each TCP attempt; the connector's wrapper bounds the whole connect.
        http.set_connect_timeout(Some(config.connect_timeout()));
        Route {
            tcp: http,
            proxies: config.proxies().clone(),
            #[cfg(test)]
            memory: None,
        }
    }
}

impl Service<Uri> for Route {
    type Response = Watched<Stream>;
    type Error = BoxError;
    type Future = Connecting<Self::Response>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Service::<Uri>::poll_ready(&mut self.tcp, cx).map_err(Into::into)
    }

    fn call(&mut self, dst: Uri) -> Self::Future {
        #[cfg(test)]
        if let Some(dial) = self.memory.clone() {
            return Box::pin(async move {
                let io = Stream::Memory(TokioIo::new(dial()?));
                Ok(Watched { io, answer: None })
            });
        }
        let Some(proxy) = self.proxies.for_uri(&dst) else {
            let connecting = self.tcp.call(dst);
            return Box::pin(async move {
                let io = Stream::Tcp(connecting.await?);
                Ok(Watched { io, answer: None })
            });
        };
        let answer = Arc::new(Mutex::new(Vec::new()));
        let to_proxy = ToProxy {
            tcp: self.tcp.clone(),
            answer: answer.clone(),
        };
        let mut tunnel = Tunnel::new(proxy.uri().clone(), to_proxy);
        if let Some(authorization) = proxy.authorization() {
            tunnel = tunnel.with_auth(authorization.clone());
        }
        let host = dst.host().unwrap_or_default();
        // What the CONNECT names: hyper-util's tunnel uses 443 when the URI has no port.
        let target = format!("{host}:{}", dst.port_u16().unwrap_or(443));
        // `Display for Proxy` is `http://host:port`, never with the credentials.
        let (name, credentials) = (proxy.to_string(), proxy.authorization().is_some());
        let tunneling = tunnel.call(dst);
        Box::pin(async move {
            let mut tunneled = tunneling.await.map_err(|e| {
                let answer = answer.lock().map(|a| status_line(&a)).unwrap_or_default();
                Box::new(ProxyFailed {
                    proxy: name,
                    target,
                    credentials,
                    answer,
                    cause: e.into(),
                }) as BoxError
            })?;
            // The tunnel is open: from here on it is a plain byte stream.
            tunneled.answer = None;
            Ok(tunneled)
        })
    }
}

/// The TCP connection to a proxy, for [`Tunnel`]: marks a failure to reach the proxy, and
/// keeps the beginning of the proxy's answer to the CONNECT, whose status hyper-util's
/// tunnel error does not tell.
#[derive(Clone)]
struct ToProxy {
    tcp: HttpConnector<Resolver>,
    answer: Arc<Mutex<Vec<u8>>>,
}

impl Service<Uri> for ToProxy {
    type Response = Watched<Stream>;
    type Error = BoxError;
    type Future = Connecting<Self::Response>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Service::<Uri>::poll_ready(&mut self.tcp, cx).map_err(Into::into)
    }

    fn call(&mut self, proxy: Uri) -> Self::Future {
        let connecting = self.tcp.call(proxy);
        let answer = self.answer.clone();
        Box::pin(async move {
            match connecting.await {
                Ok(io) => Ok(Watched {
                    io: Stream::Tcp(io),
                    answer: Some(answer),
                }),
                Err(e) => Err(Box::new(ProxyUnreachable(e.into())) as BoxError),
            }
        })
    }
}

/// The bytes under TLS: a TCP connection or, in this crate's tests, a pipe (see
/// [`Connector::in_memory`]).
pub(crate) enum Stream {
    Tcp(TokioIo<TcpStream>),
    #[cfg(test)]
    Memory(TokioIo<tokio::io::DuplexStream>),
}

/// Calls `$call` on the stream inside, whichever it is.
macro_rules! on_stream {
    ($stream:expr, $io:ident => $call:expr) => {
        match $stream {
            Stream::Tcp($io) => $call,
            #[cfg(test)]
            Stream::Memory($io) => $call,
        }
    };
}

impl hyper::rt::Read for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        on_stream!(self.get_mut(), io => Pin::new(io).poll_read(cx, buf))
    }
}

impl hyper::rt::Write for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        on_stream!(self.get_mut(), io => Pin::new(io).poll_write(cx, buf))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        on_stream!(self.get_mut(), io => Pin::new(io).poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        on_stream!(self.get_mut(), io => Pin::new(io).poll_shutdown(cx))
    }

    fn is_write_vectored(&self) -> bool {
        on_stream!(self, io => io.is_write_vectored())
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        on_stream!(self.get_mut(), io => Pin::new(io).poll_write_vectored(cx, bufs))
    }
}

impl Connection for Stream {
    fn connected(&self) -> Connected {
        match self {
            Stream::Tcp(io) => io.connected(),
            #[cfg(test)]
            Stream::Memory(_) => Connected::new(),
        }
    }
}

/// How much of a proxy's answer is kept: its status line, at most.
const ANSWER_KEPT: usize = 256;

/// A connection, copying the first bytes it reads into `answer` while it is set: the
/// proxy's status line, for the error when the proxy refuses the tunnel.
pub(crate) struct Watched<T> {
    io: T,
    answer: Option<Arc<Mutex<Vec<u8>>>>,
}

impl<T: hyper::rt::Read + Unpin> hyper::rt::Read for Watched<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let Some(answer) = &this.answer else {
            return Pin::new(&mut this.io).poll_read(cx, buf);
        };
        // Read through a small buffer of our own to see the bytes (once or twice per
        // tunnel), then hand them on.
        let mut bytes = [0; ANSWER_KEPT];
        let room = buf.remaining().min(bytes.len());
        let mut read = hyper::rt::ReadBuf::new(&mut bytes[..room]);
        ready!(Pin::new(&mut this.io).poll_read(cx, read.unfilled()))?;
        let read = read.filled();
        buf.put_slice(read);
        let done = match answer.lock() {
            Ok(mut kept) => {
                let take = read.len().min(ANSWER_KEPT - kept.len());
                kept.extend_from_slice(&read[..take]);
                kept.contains(&b'\n') || kept.len() >= ANSWER_KEPT || read.is_empty()
            }
            Err(_) => true,
        };
        if done {
            this.answer = None;
        }
        Poll::Ready(Ok(()))
    }
}

impl<T: hyper::rt::Write + Unpin> hyper::rt::Write for Watched<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }
}

impl<T: Connection> Connection for Watched<T> {
    fn connected(&self) -> Connected {
        self.io.connected()
    }
}

/// The status of a proxy's answer (`403 Forbidden` of `HTTP/1.1 403 Forbidden`), printable
/// ASCII only; `None` if no complete status line came.
fn status_line(answer: &[u8]) -> Option<String> {
    let end = answer.iter().position(|&b| b == b'\n')?;
    let line = String::from_utf8_lossy(&answer[..end]);
    let status = line.trim().split_once(' ').map_or("", |(_, status)| status);
    let status: String = status
        .chars()
        .filter(|c| c.is_ascii_graphic() || *c == ' ')
        .take(100)
        .collect();
    (!status.is_empty()).then_some(status)
}

/// The proxy could not be reached (DNS, TCP); says no more than its cause.
#[derive(Debug)]
struct ProxyUnreachable(BoxError);

impl fmt::Display for ProxyUnreachable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl StdError for ProxyUnreachable {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.0.source()
    }
}

/// The proxy did not open the tunnel: unreachable, refused, or asking for credentials.
/// Found in the client's error chain to report [`Error::Proxy`]; its text names the proxy as
/// `http://host:port`, never with the credentials.
#[derive(Debug)]
pub(crate) struct ProxyFailed {
    proxy: String,
    target: String,
    credentials: bool,
    /// The status the proxy answered the CONNECT with, if it answered.
    answer: Option<String>,
    /// hyper-util's tunnel error (a type it does not export).
    cause: BoxError,
}

impl ProxyFailed {
    fn unreachable(&self) -> bool {
        self.cause
            .source()
            .is_some_and(|source| source.is::<ProxyUnreachable>())
    }
}

impl fmt::Display for ProxyFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (proxy, target) = (&self.proxy, &self.target);
        if self.unreachable() {
            return write!(f, "{proxy} could not be reached");
        }
        let Some(answer) = &self.answer else {
            return write!(f, "{proxy} did not answer the CONNECT to {target}");
        };
        write!(f, "{proxy} answered the CONNECT to {target} with {answer}")?;
        if answer.starts_with("407") {
            f.write_str(if self.credentials {
                " (it refused the credentials in the proxy URL)"
            } else {
                " (give credentials in the proxy URL: http://user:password@host:port)"
            })?;
        }
        Ok(())
    }
}

impl StdError for ProxyFailed {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        if self.unreachable() {
            // Why: the TCP or DNS failure under hyper-util's generic tunnel text.
            self.cause.source()
        } else if self.answer.is_some() {
            // The status says it all ("tunnel error: unsuccessful" would add nothing).
            None
        } else {
            Some(&*self.cause)
        }
    }
}

/// hyper-util's getaddrinfo resolver, with its failures marked as [`HostNotFound`] so the
/// client can tell "this name does not resolve" from other connect failures by type rather
/// than by hyper-util's message text ("dns error"). Failures that may pass are left
/// unmarked (see [`HostNotFound::from_lookup`]).
#[derive(Clone)]
pub(crate) struct Resolver(GaiResolver);

impl Default for Resolver {
    fn default() -> Self {
        Resolver(GaiResolver::new())
    }
}

impl Service<Name> for Resolver {
    type Response = GaiAddrs;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<GaiAddrs, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let host = name.as_str().to_owned();
        let resolving = self.0.call(name);
        Box::pin(async move {
            resolving
                .await
                .map_err(|e| HostNotFound::from_lookup(host, e))
        })
    }
}

/// The system resolver has no address for the host.
#[derive(Debug)]
pub(crate) struct HostNotFound {
    host: String,
    cause: io::Error,
}

impl HostNotFound {
    /// Marks a failed lookup of `host` as [`HostNotFound`], unless it may pass on a retry:
    /// an OS error (`EAI_SYSTEM`, which std reports with its errno), an interrupted lookup,
    /// or a resolver that calls the failure temporary (`EAI_AGAIN`: "Temporary failure in
    /// name resolution" from glibc, musl and macOS; Windows' `WSATRY_AGAIN` says "temporary
    /// error"). std reports the other `getaddrinfo` codes with no kind to check, only the
    /// system's text (`ErrorKind::Uncategorized`, which cannot be matched), so that one word
    /// is the only text looked at; the kind and the errno are checked first.
    fn from_lookup(host: String, cause: io::Error) -> BoxError {
        let temporary = cause.raw_os_error().is_some()
            || cause.kind() == io::ErrorKind::Interrupted
            || cause.to_string().to_ascii_lowercase().contains("temporar");
        if temporary {
            Box::new(cause)
        } else {
            Box::new(HostNotFound { host, cause })
        }
    }
}

impl fmt::Display for HostNotFound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.host, self.cause)
    }
}

impl StdError for HostNotFound {
    /// The lookup error's cause: its own text is in this one's.
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.cause.source()
    }
}

/// The connect timeout passed; found again in the client's error chain to report
/// `Timeout::Connect` rather than a generic connect failure.
#[derive(Debug)]
pub(crate) struct ConnectTimedOut(pub(crate) Duration);

impl fmt::Display for ConnectTimedOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "connecting took longer than {:?}", self.0)
    }
}

impl std::error::Error for ConnectTimedOut {}
