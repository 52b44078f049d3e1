//! HTTPS against a local rustls server with a fresh self-signed certificate.

use connections_blocking::{ConfigError, Error, ListConnections, RetryPolicy};
use connections_testkit::{Links, TestServer, listing};

use crate::common::{builder, failure};

#[test]
fn a_certificate_trusted_through_the_builder_is_accepted() {
    let server = TestServer::start_tls(listing(12, Links::Relative, String::new()));
    assert!(server.base_url().starts_with("https://localhost:"));
    let client = builder(&server)
        .add_root_certificate(server.certificate_der().unwrap())
        .build()
        .unwrap();
    let request = ListConnections::builder().page_size(5).build().unwrap();
    let ids: Vec<_> = client
        .connections(&request)
        .map(|c| c.unwrap().id.unwrap())
        .collect();
    assert_eq!(ids.len(), 12);
    assert_eq!(ids[11], "conn-11");
    assert_eq!(server.requests().len(), 3);
}

#[test]
fn an_untrusted_certificate_is_a_tls_error_and_not_retried() {
    let server = TestServer::start_tls(listing(1, Links::Relative, String::new()));
    let client = builder(&server).build().unwrap();
    let error = failure(client.list(&ListConnections::new()));
    assert!(matches!(error, Error::Tls(_)), "{error:?}");
    assert!(!error.is_retryable());
    assert_eq!(server.requests().len(), 0, "nothing was sent");
}

#[test]
fn another_servers_certificate_does_not_vouch_for_this_one() {
    let server = TestServer::start_tls(listing(1, Links::Relative, String::new()));
    let stranger = TestServer::start_tls(listing(1, Links::Relative, String::new()));
    let client = builder(&server)
        .add_root_certificate(stranger.certificate_der().unwrap())
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    let error = failure(client.list(&ListConnections::new()));
    assert!(matches!(error, Error::Tls(_)), "{error:?}");
    assert_eq!(server.requests().len(), 0);
}

#[test]
fn an_unusable_root_certificate_fails_the_build() {
    let built = connections_blocking::Client::builder()
        .token("t")
        .add_root_certificate(b"-----BEGIN CERTIFICATE----- not DER")
        .build();
    let Err(error) = built else {
        panic!("a PEM text was taken for a certificate")
    };
    assert!(
        matches!(
            error,
            Error::Config(ConfigError::RootCertificate { index: 0 })
        ),
        "{error:?}"
    );
}
