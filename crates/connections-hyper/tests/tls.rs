//! HTTPS against a local rustls server with a self-signed certificate, and the connect
//! deadline, which covers the TLS handshake too.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::*;
use connections_hyper::{Client, ConfigError, Error, ListConnections, RetryPolicy, Timeout};
use connections_testkit::{Links, TestServer, listing};

fn tls_listing() -> TestServer {
    // Relative links: the paginator resolves them against the https base.
    TestServer::start_tls(listing(12, Links::Relative, String::new()))
}

#[tokio::test]
async fn lists_over_tls_with_a_trusted_self_signed_certificate() {
    let server = tls_listing();
    assert!(server.base_url().starts_with("https://localhost:"));
    let client = builder(&server)
        .add_root_certificate(server.certificate_der().unwrap())
        .build()
        .unwrap();
    let request = ListConnections::builder().page_size(5).build().unwrap();
    let (items, error) = all_connections(&client, &request).await;
    assert!(error.is_none(), "{error:?}");
    assert_eq!(ids(&items), expected_ids(12));
    assert_eq!(server.requests().len(), 3);
    assert_eq!(
        server.requests()[0].header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
}

#[tokio::test]
async fn an_untrusted_certificate_is_a_tls_error_before_any_request_and_not_retried() {
    let server = tls_listing();
    let client = builder(&server).build().unwrap();
    let error = failure(client.list(&ListConnections::new()).await);
    assert!(matches!(error, Error::Tls(_)), "{error:?}");
    assert!(!error.is_retryable());
    assert!(
        error
            .chain()
            .causes()
            .any(|cause| cause.to_string().contains("certificate")),
        "the chain names the cause: {:#}",
        error.chain()
    );
    assert!(server.requests().is_empty(), "the token was sent");
}

/// What the probe saw: the negotiated ALPN protocol and the client's first 24 bytes.
type Probe = std::thread::JoinHandle<(Option<Vec<u8>>, Vec<u8>)>;

/// A TLS server that offers `h2` by ALPN and reports what was negotiated and the first bytes
/// the client sent, then hangs up.
fn h2_probe() -> (u16, Vec<u8>, Probe) {
    use std::io::Read;
    use std::sync::Arc;
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let der = cert.cert.der().to_vec();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(cert.signing_key.serialize_der().into());
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![der.clone().into()], key)
        .unwrap();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let probe = std::thread::spawn(move || {
        let (tcp, _) = listener.accept().unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let conn = rustls::ServerConnection::new(Arc::new(config)).unwrap();
        let mut tls = rustls::StreamOwned::new(conn, tcp);
        let mut preface = vec![0; 24];
        let _ = tls.read_exact(&mut preface);
        (tls.conn.alpn_protocol().map(<[u8]>::to_vec), preface)
    });
    (port, der, probe)
}

#[tokio::test]
async fn negotiates_http2_by_alpn_when_the_server_offers_it() {
    let (port, der, probe) = h2_probe();
    let client = Client::builder()
        .base_url(&format!("https://localhost:{port}/v3"))
        .token(TOKEN)
        .add_root_certificate(&der)
        .request_timeout(Duration::from_secs(2))
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    // The probe hangs up after the preface, so the request itself fails.
    let _ = client.list(&ListConnections::new()).await.map_err(checked);
    let (alpn, preface) = probe.join().unwrap();
    assert_eq!(alpn.as_deref(), Some(&b"h2"[..]));
    assert_eq!(preface, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
}

#[tokio::test]
async fn the_connect_timeout_covers_a_stalled_tls_handshake() {
    // Accepts TCP connections (the kernel does, via the backlog) but never speaks TLS.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let connect_timeout = Duration::from_millis(500);
    let client = Client::builder()
        .base_url(&format!("https://localhost:{port}/v3"))
        .token(TOKEN)
        .connect_timeout(connect_timeout)
        .request_timeout(Duration::from_secs(2))
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    let started = Instant::now();
    let error = failure(client.list(&ListConnections::new()).await);
    let took = started.elapsed();
    assert!(
        matches!(error, Error::Timeout(Timeout::Connect(d)) if d == connect_timeout),
        "{error:?}"
    );
    assert!(took < Duration::from_millis(1500), "{took:?}");
    drop(silent);
}

#[tokio::test]
async fn an_unusable_root_certificate_fails_the_build() {
    let built = Client::builder()
        .token(TOKEN)
        .add_root_certificate(b"not a certificate")
        .build();
    let error = failure(built);
    assert!(
        matches!(
            error,
            Error::Config(ConfigError::RootCertificate { index: 0 })
        ),
        "{error:?}"
    );
    assert!(
        error.chain().to_string().contains("root certificate #1"),
        "{error}"
    );
}
