//! Proxies from the environment (`HTTPS_PROXY`, `NO_PROXY`), read when the client is built.
//!
//! The environment is process-wide, and changing it needs `unsafe` (forbidden here), so the
//! one test runs its client in a child process, this same test binary started again with
//! the variables set; the parent owns the proxy and the server and checks what they saw.
#![allow(clippy::unwrap_used)]

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;
use connections_hyper::{Client, Error, ListConnections};
use connections_testkit::{Links, TestProxy, TestServer, listing};

/// Set in the child: the base URL to reach through the proxy.
const PROXIED: &str = "CONNECTIONS_TEST_PROXIED_BASE";
/// Set in the child: the base URL `NO_PROXY` exempts.
const BYPASSED: &str = "CONNECTIONS_TEST_BYPASSED_BASE";
/// Set in the child: the server's certificate, DER in hex.
const CERTIFICATE: &str = "CONNECTIONS_TEST_CERTIFICATE";

/// Every variable a proxy could come from, cleared in the child but for those set on purpose.
const PROXY_VARIABLES: [&str; 8] = [
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
    "NO_PROXY",
    "no_proxy",
];

#[test]
fn https_proxy_and_no_proxy_come_from_the_environment() {
    if std::env::var_os(PROXIED).is_some() {
        return child();
    }
    let server = TestServer::start_tls(listing(3, Links::Relative, String::new()));
    let proxy = TestProxy::start();
    let port = server.addr().port();
    let der: String = server
        .certificate_der()
        .unwrap()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let mut command = Command::new(std::env::current_exe().unwrap());
    command.args([
        "--exact",
        "https_proxy_and_no_proxy_come_from_the_environment",
        "--nocapture",
    ]);
    for variable in PROXY_VARIABLES {
        command.env_remove(variable);
    }
    let output = command
        .env("HTTPS_PROXY", proxy.url())
        .env("NO_PROXY", "localhost,bypassed.test")
        .env(PROXIED, format!("https://api.test:{port}/v3"))
        .env(BYPASSED, format!("https://bypassed.test:{port}/v3"))
        .env(CERTIFICATE, der)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "the child failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    // `api.test` went through HTTPS_PROXY; `bypassed.test` never reached it.
    let connects = proxy.connects();
    assert_eq!(connects.len(), 1, "{connects:?}");
    assert_eq!(connects[0].target, format!("api.test:{port}"));
    assert_eq!(proxy.connections(), 1);
    assert_eq!(server.requests().len(), 1);
}

/// The client side, with the environment the parent set.
fn child() {
    let var = |name| std::env::var(name).unwrap();
    let der: Vec<u8> = var(CERTIFICATE)
        .as_bytes()
        .chunks(2)
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap())
        .collect();
    let build = |base: &str| {
        Client::builder()
            .base_url(base)
            .token(TOKEN)
            .add_root_certificate(&der)
            .system_roots(false)
            .connect_timeout(Duration::from_secs(2))
            .request_timeout(Duration::from_secs(5))
            .retry_policy(fast_retries(2))
            .build()
            .unwrap()
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let proxied = build(&var(PROXIED));
        let listed = proxied.list(&ListConnections::new()).await.map_err(checked);
        assert_eq!(listed.unwrap().value.connections().len(), 3);

        // Exempt by NO_PROXY, so resolved here, where `.test` names do not resolve.
        let bypassed = build(&var(BYPASSED));
        let error = failure(bypassed.list(&ListConnections::new()).await);
        assert!(matches!(error, Error::UnknownHost(_)), "{error:?}");
    });
}
