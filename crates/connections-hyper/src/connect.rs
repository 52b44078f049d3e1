//! Connections: TLS settings and a connector whose timeout covers DNS, TCP and the TLS
//! handshake together, which hyper-util's own `set_connect_timeout` (TCP only) does not.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use connections_client::{BoxError, Config, ConfigError, Error};
use http::Uri;
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;
use tower_service::Service;

/// The rustls settings: the Mozilla roots shipped in `webpki-roots` plus the configured extra
/// authorities, ring as the crypto provider (chosen here, so no process-wide default provider
/// is needed), TLS 1.2 and 1.3. ALPN is left to hyper-rustls, which offers h2 and http/1.1.
pub(crate) fn tls_config(config: &Config) -> Result<rustls::ClientConfig, Error> {
    let mut roots = RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    for (index, der) in config.root_certificates().iter().enumerate() {
        roots
            .add(CertificateDer::from(der.as_slice()))
            .map_err(|_| Error::Config(ConfigError::RootCertificate { index }))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Connect(Box::new(e)))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tls)
}

/// The connector of the pooled client: HTTPS (h2 or HTTP/1.1 by ALPN), or plain HTTP, which
/// the core's `BaseUrl` only accepts for loopback hosts; bounded by the connect timeout.
#[derive(Clone)]
pub(crate) struct Connector {
    inner: HttpsConnector<HttpConnector>,
    timeout: Duration,
}

impl Connector {
    pub(crate) fn new(config: &Config) -> Result<Self, Error> {
        let mut http = HttpConnector::new();
        // `https://` URIs reach the TCP connector too: hyper-rustls adds TLS on top.
        http.enforce_http(false);
        http.set_nodelay(true);
        // Bounds each TCP attempt; the wrapper below bounds the whole connect.
        http.set_connect_timeout(Some(config.connect_timeout()));
        let inner = HttpsConnectorBuilder::new()
            .with_tls_config(tls_config(config)?)
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .wrap_connector(http);
        Ok(Connector {
            inner,
            timeout: config.connect_timeout(),
        })
    }
}

type Connecting<T> = Pin<Box<dyn Future<Output = Result<T, BoxError>> + Send>>;

impl Service<Uri> for Connector {
    type Response = <HttpsConnector<HttpConnector> as Service<Uri>>::Response;
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
