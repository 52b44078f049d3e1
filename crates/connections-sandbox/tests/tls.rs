//! The sandbox's TLS mode, checked with a client made here from rustls, tokio-rustls and
//! hyper's connection-level client: none of the project's transports.
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod common;

use std::io::Read as _;
use std::net::IpAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::{Request, Response, Version, header};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use connections_sandbox::{Sandbox, SandboxConfig};

/// The ids a listing without a mode filter returns: the live connections, newest first.
fn live_ids(sandbox: &Sandbox) -> Vec<String> {
    common::default_listing(sandbox.dataset().connections())
}

fn tls_sandbox(config: SandboxConfig) -> Sandbox {
    Sandbox::spawn(SandboxConfig {
        tls: true,
        ..config
    })
    .unwrap()
}

/// A client trusting only `ca_pem` (nothing when `None`), offering `alpn`.
fn client(ca_pem: Option<&str>, alpn: &[&[u8]]) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    if let Some(pem) = ca_pem {
        roots
            .add(CertificateDer::from_pem_slice(pem.as_bytes()).unwrap())
            .unwrap();
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Arc::new(config)
}

/// A TLS connection to the sandbox, checked against `name` (a DNS name or an IP address).
async fn connect(
    sandbox: &Sandbox,
    config: Arc<ClientConfig>,
    name: &str,
) -> std::io::Result<TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(sandbox.addr()).await?;
    let name = match name.parse::<IpAddr>() {
        Ok(ip) => ServerName::IpAddress(ip.into()),
        Err(_) => ServerName::try_from(name.to_owned()).unwrap(),
    };
    TlsConnector::from(config).connect(name, tcp).await
}

/// The rustls error under a failed handshake, in `Debug` form (which names the variant).
fn tls_error(err: &std::io::Error) -> String {
    let tls = err
        .get_ref()
        .and_then(|e| e.downcast_ref::<rustls::Error>())
        .unwrap_or_else(|| panic!("not a TLS error: {err}"));
    assert!(
        matches!(tls, rustls::Error::InvalidCertificate(_)),
        "{tls:?}"
    );
    format!("{tls:?}")
}

fn alpn(stream: &TlsStream<TcpStream>) -> Option<Vec<u8>> {
    stream.get_ref().1.alpn_protocol().map(<[u8]>::to_vec)
}

/// `GET target` with the sandbox's token and `extra` headers.
fn get(sandbox: &Sandbox, target: &str, extra: &[(&str, &str)]) -> Request<Empty<Bytes>> {
    let mut request =
        Request::get(target).header(header::AUTHORIZATION, format!("Bearer {}", sandbox.token()));
    for (name, value) in extra {
        request = request.header(*name, *value);
    }
    request.body(Empty::new()).unwrap()
}

/// A sender for one HTTP/2 connection over `stream`.
async fn h2(stream: TlsStream<TcpStream>) -> hyper::client::conn::http2::SendRequest<Empty<Bytes>> {
    let (sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(connection);
    sender
}

/// A sender for one HTTP/1.1 connection over `stream`.
async fn h1(stream: TlsStream<TcpStream>) -> hyper::client::conn::http1::SendRequest<Empty<Bytes>> {
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(connection);
    sender
}

async fn body(
    response: Response<hyper::body::Incoming>,
) -> (hyper::http::response::Parts, Vec<u8>) {
    let (parts, body) = response.into_parts();
    (parts, body.collect().await.unwrap().to_bytes().to_vec())
}

#[tokio::test]
async fn https_works_with_the_sandbox_ca_for_every_name_and_fails_without_it() {
    let sandbox = tls_sandbox(SandboxConfig::default());
    let port = sandbox.addr().port();
    assert!(
        sandbox
            .base_url()
            .starts_with(&format!("https://127.0.0.1:{port}/")),
        "{}",
        sandbox.base_url()
    );
    assert_eq!(
        sandbox.token_url(),
        format!("https://127.0.0.1:{port}/oauth2/token")
    );
    let ca = sandbox.ca_certificate_pem().unwrap();
    assert!(ca.starts_with("-----BEGIN CERTIFICATE-----"), "{ca}");

    // The server certificate names all three; the connection goes to 127.0.0.1 each time,
    // and the client checks the name it was given.
    let trusting = client(Some(&ca), &[b"http/1.1"]);
    for name in ["localhost", "127.0.0.1", "::1"] {
        let stream = connect(&sandbox, trusting.clone(), name).await.unwrap();
        let mut sender = h1(stream).await;
        let (parts, json) = body(
            sender
                .send_request(get(&sandbox, "/v3/connections", &[]))
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(parts.status, 200, "{}", String::from_utf8_lossy(&json));
        let page: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(page["meta"]["totalCount"], live_ids(&sandbox).len());
    }
    // A name the certificate does not carry is refused.
    let err = connect(&sandbox, trusting, "example.com")
        .await
        .unwrap_err();
    assert!(tls_error(&err).contains("NotValidForName"), "{err}");

    // Trusting nothing, or another sandbox's CA, the handshake fails on the issuer.
    let other = tls_sandbox(SandboxConfig::default());
    let other_ca = other.ca_certificate_pem().unwrap();
    assert_ne!(other_ca, ca, "every spawn makes its own CA");
    for roots in [None, Some(other_ca.as_str())] {
        let err = connect(&sandbox, client(roots, &[b"h2"]), "localhost")
            .await
            .unwrap_err();
        assert!(tls_error(&err).contains("UnknownIssuer"), "{err}");
    }
    assert_eq!(
        sandbox.requests(),
        3,
        "no request got through without the CA"
    );
}

#[test]
fn plain_http_has_no_ca() {
    let sandbox = Sandbox::spawn(SandboxConfig::default()).unwrap();
    assert_eq!(sandbox.ca_certificate_pem(), None);
    assert!(sandbox.base_url().starts_with("http://127.0.0.1:"));
}

#[tokio::test]
async fn alpn_negotiates_h2_when_offered_and_one_connection_carries_a_listing() {
    let sandbox = tls_sandbox(SandboxConfig {
        connections: 35,
        absolute_links: true,
        ..SandboxConfig::default()
    });
    let expected = live_ids(&sandbox);
    let pages_expected = expected.len().div_ceil(10);
    assert!(pages_expected >= 3);
    let ca = sandbox.ca_certificate_pem().unwrap();
    let stream = connect(
        &sandbox,
        client(Some(&ca), &[b"h2", b"http/1.1"]),
        "localhost",
    )
    .await
    .unwrap();
    assert_eq!(alpn(&stream).as_deref(), Some(&b"h2"[..]));
    let mut sender = h2(stream).await;

    // Follow `links.next` to the end, every page on the same connection.
    let origin = format!("https://localhost:{}", sandbox.addr().port());
    let mut next = Some(format!("{origin}/v3/connections?page[size]=10"));
    let mut ids = Vec::new();
    let mut pages = 0;
    while let Some(url) = next {
        let response = sender.send_request(get(&sandbox, &url, &[])).await.unwrap();
        assert_eq!(response.version(), Version::HTTP_2);
        let (parts, json) = body(response).await;
        assert_eq!(parts.status, 200, "{}", String::from_utf8_lossy(&json));
        let page: serde_json::Value = serde_json::from_slice(&json).unwrap();
        for c in page["data"].as_array().unwrap() {
            ids.push(c["id"].as_str().unwrap().to_owned());
        }
        // Absolute links carry the TLS origin.
        let link = page["links"]["next"].as_str();
        if let Some(link) = link {
            let https = format!(
                "https://127.0.0.1:{}/v3/connections?",
                sandbox.addr().port()
            );
            assert!(link.starts_with(&https), "{link}");
        }
        next = link.map(|l| l.replacen("127.0.0.1", "localhost", 1));
        pages += 1;
    }
    assert_eq!(pages, pages_expected);
    assert_eq!(ids, expected);
    assert_eq!(sandbox.requests_over_h2(), pages as u64);
    assert_eq!(sandbox.requests(), pages as u64);
    assert_eq!(sandbox.connections_accepted(), 1);
}

#[tokio::test]
async fn alpn_negotiates_http1_when_only_it_or_nothing_is_offered() {
    let sandbox = tls_sandbox(SandboxConfig::default());
    let ca = sandbox.ca_certificate_pem().unwrap();
    // (what the client offers, what ALPN settles on)
    type Offer = (&'static [&'static [u8]], Option<&'static [u8]>);
    let offers: [Offer; 2] = [(&[b"http/1.1"], Some(b"http/1.1")), (&[], None)];
    for (offer, chosen) in offers {
        let stream = connect(&sandbox, client(Some(&ca), offer), "127.0.0.1")
            .await
            .unwrap();
        assert_eq!(alpn(&stream).as_deref(), chosen);
        let mut sender = h1(stream).await;
        for _ in 0..2 {
            let response = sender
                .send_request(get(&sandbox, "/v3/connections", &[]))
                .await
                .unwrap();
            assert_eq!(response.version(), Version::HTTP_11);
            assert_eq!(response.status(), 200);
            body(response).await;
        }
    }
    assert_eq!(sandbox.requests(), 4);
    assert_eq!(sandbox.requests_over_h2(), 0);
    assert_eq!(
        sandbox.connections_accepted(),
        2,
        "keep-alive reused each connection"
    );
}

#[tokio::test]
async fn connections_are_counted_when_accepted_even_if_the_handshake_fails() {
    let sandbox = tls_sandbox(SandboxConfig::default());
    assert_eq!(sandbox.connections_accepted(), 0);
    connect(&sandbox, client(None, &[]), "localhost")
        .await
        .unwrap_err();
    let ca = sandbox.ca_certificate_pem().unwrap();
    for _ in 0..3 {
        let stream = connect(&sandbox, client(Some(&ca), &[b"h2"]), "localhost")
            .await
            .unwrap();
        let mut sender = h2(stream).await;
        let response = sender
            .send_request(get(
                &sandbox,
                &format!("https://localhost:{}/v3/connections", sandbox.addr().port()),
                &[],
            ))
            .await
            .unwrap();
        body(response).await;
    }
    // The accept loop may count the failed connection a moment after the client gave up.
    for _ in 0..100 {
        if sandbox.connections_accepted() == 4 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(sandbox.connections_accepted(), 4);
    assert_eq!(sandbox.requests_over_h2(), 3);
}

#[tokio::test]
async fn gzip_over_h2_inflates_to_the_plain_answer() {
    let sandbox = tls_sandbox(SandboxConfig::default());
    let ca = sandbox.ca_certificate_pem().unwrap();
    let stream = connect(&sandbox, client(Some(&ca), &[b"h2"]), "localhost")
        .await
        .unwrap();
    let mut sender = h2(stream).await;
    let url = format!(
        "https://localhost:{}/v3/connections?page[size]=50",
        sandbox.addr().port()
    );
    let (plain_parts, plain) =
        body(sender.send_request(get(&sandbox, &url, &[])).await.unwrap()).await;
    assert_eq!(plain_parts.headers.get(header::CONTENT_ENCODING), None);
    let sent = sandbox.body_bytes_sent();
    assert_eq!(sent, plain.len() as u64);

    let (parts, compressed) = body(
        sender
            .send_request(get(&sandbox, &url, &[("accept-encoding", "br, gzip")]))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(parts.headers[header::CONTENT_ENCODING], "gzip");
    assert_eq!(parts.headers[header::VARY], "accept-encoding");
    let mut inflated = Vec::new();
    flate2::read::GzDecoder::new(&compressed[..])
        .read_to_end(&mut inflated)
        .unwrap();
    assert_eq!(inflated, plain);
    assert!(
        compressed.len() * 4 < plain.len(),
        "{} vs {}",
        compressed.len(),
        plain.len()
    );
    assert_eq!(sandbox.body_bytes_sent(), sent + compressed.len() as u64);
}

#[test]
fn the_ca_is_written_to_tls_ca_out() {
    let dir = std::env::temp_dir().join(format!("sandbox-ca-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("ca.pem");
    let _ = std::fs::remove_file(&path);
    let sandbox = Sandbox::spawn(SandboxConfig {
        tls: true,
        tls_ca_out: Some(path.clone()),
        ..SandboxConfig::default()
    })
    .unwrap();
    let written = std::fs::read_to_string(&path).unwrap();
    assert_eq!(Some(written), sandbox.ca_certificate_pem());
    drop(sandbox);

    // Without TLS there is no CA to write: refused, not silently ignored.
    let err = Sandbox::spawn(SandboxConfig {
        tls_ca_out: Some(dir.join("plain.pem")),
        ..SandboxConfig::default()
    })
    .err()
    .unwrap();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    assert!(!dir.join("plain.pem").exists());

    // A path that cannot be written fails the spawn and names the path.
    let missing = dir.join("no-such-dir").join("ca.pem");
    let err = Sandbox::spawn(SandboxConfig {
        tls: true,
        tls_ca_out: Some(missing.clone()),
        ..SandboxConfig::default()
    })
    .err()
    .unwrap();
    assert!(
        err.to_string().contains(&*missing.to_string_lossy()),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn a_truncated_page_is_an_error_to_an_http_client_over_h2_and_http1() {
    let sandbox = tls_sandbox(SandboxConfig {
        truncate_rate: 1.0,
        ..SandboxConfig::default()
    });
    let ca = sandbox.ca_certificate_pem().unwrap();
    let stream = connect(&sandbox, client(Some(&ca), &[b"h2"]), "localhost")
        .await
        .unwrap();
    let mut sender = h2(stream).await;
    let response = sender
        .send_request(get(&sandbox, "/v3/connections", &[]))
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "the headers arrive");
    let err = response.into_body().collect().await.unwrap_err();
    assert!(!err.to_string().is_empty());

    let stream = connect(&sandbox, client(Some(&ca), &[b"http/1.1"]), "localhost")
        .await
        .unwrap();
    let mut sender = h1(stream).await;
    let response = sender
        .send_request(get(&sandbox, "/v3/connections", &[]))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let declared: usize = response.headers()[header::CONTENT_LENGTH]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(declared > 0);
    // Over TLS the close comes without close_notify: rustls reports an unexpected EOF.
    let err = response.into_body().collect().await.unwrap_err();
    assert!(
        err.is_incomplete_message() || format!("{err:?}").contains("UnexpectedEof"),
        "{err:?}"
    );
    assert_eq!(sandbox.faults().truncated, 2);
}
