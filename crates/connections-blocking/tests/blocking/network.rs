//! Real networks on loopback: gzip bodies (and a gzip bomb), proxies (CONNECT tunnels, their
//! credentials, refusals, and who bypasses them), the environment's proxy settings, trusted
//! roots through a tunnel, unknown hosts, and connection reuse over TLS against the sandbox.

mod named;

use std::io::Write as _;
use std::process::Command;
use std::time::Duration;

use connections_blocking::{Client, Error, ListConnections, RetryPolicy};
use connections_sandbox::{Mode, Sandbox, SandboxConfig};
use connections_testkit::{Links, Reply, TestProxy, TestServer, page_body};
use flate2::{Compress, Compression, Crc, FlushCompress};

use crate::common::{TOKEN, builder, checked, failure, fast_retries};
use crate::tracing_spans::capture_all;
use named::NamedServer;

/// `data` as one gzip member.
fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

/// Deflates `input` with `flush`, all of it.
fn deflate(compress: &mut Compress, input: &[u8], flush: FlushCompress) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 * 1024);
    let mut consumed = 0;
    loop {
        if out.capacity() - out.len() < 1024 {
            out.reserve(64 * 1024);
        }
        let before = compress.total_in();
        compress
            .compress_vec(&input[consumed..], &mut out, flush)
            .unwrap();
        consumed += usize::try_from(compress.total_in() - before).unwrap();
        // Done once all the input went in and the compressor stopped short of filling `out`.
        if consumed == input.len() && out.capacity() - out.len() >= 1024 {
            return out;
        }
    }
}

/// 300 MiB of zeros as one gzip member of about 300 KB. Zeros are streamed through the
/// compressor 1 MiB at a time, each chunk ending with a full flush (which empties the window),
/// so every chunk after the first compresses to the same bytes: those are repeated rather
/// than computed 300 times (seconds in a debug build). The CRC is combined the same way.
fn gzip_bomb() -> Vec<u8> {
    const CHUNK: usize = 1 << 20;
    const CHUNKS: usize = 300;
    let zeros = vec![0_u8; CHUNK];
    let mut compress = Compress::new(Compression::best(), false);
    let first = deflate(&mut compress, &zeros, FlushCompress::Full);
    let next = deflate(&mut compress, &zeros, FlushCompress::Full);
    let mut chunk_crc = Crc::new();
    chunk_crc.update(&zeros);
    let mut crc = Crc::new();
    // Header: deflate, no flags, no time, unknown OS.
    let mut bomb = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    bomb.extend_from_slice(&first);
    crc.combine(&chunk_crc);
    for _ in 1..CHUNKS {
        // Identical to `next`, as deflating again would give.
        bomb.extend_from_slice(&next);
        crc.combine(&chunk_crc);
    }
    bomb.extend_from_slice(&deflate(&mut compress, &[], FlushCompress::Finish));
    bomb.extend_from_slice(&crc.sum().to_le_bytes());
    bomb.extend_from_slice(&crc.amount().to_le_bytes());
    bomb
}

#[test]
fn a_gzip_page_is_inflated_and_gzip_was_asked_for() {
    let page = page_body(3, 1, 10, Links::Relative, "");
    let zipped = gzip(page.as_bytes());
    assert!(zipped.len() < page.len());
    let server = TestServer::start(move |_| {
        Reply::json(200, zipped.clone()).header("content-encoding", "gzip")
    });
    let client = builder(&server).build().unwrap();
    let listed = client.list(&ListConnections::new()).unwrap();
    let ids: Vec<_> = listed
        .value
        .connections()
        .iter()
        .map(|c| c.id.as_deref().unwrap().to_owned())
        .collect();
    assert_eq!(ids, ["conn-0", "conn-1", "conn-2"]);
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].header("accept-encoding"), Some("gzip"));
}

#[test]
fn a_gzip_bomb_stops_at_the_body_limit() {
    let bomb = gzip_bomb();
    assert!(bomb.len() < 400 * 1024, "{} bytes", bomb.len());
    // The trailer: 300 MiB once inflated.
    let inflated = u32::from_le_bytes(bomb[bomb.len() - 4..].try_into().unwrap());
    assert_eq!(inflated, 300 << 20);
    let server = TestServer::start(move |_| {
        Reply::json(200, bomb.clone()).header("content-encoding", "gzip")
    });
    let client = builder(&server)
        .request_timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let error = failure(client.list(&ListConnections::new()));
    let limit = connections_blocking::DEFAULT_MAX_BODY_SIZE;
    assert!(
        matches!(error, Error::BodyTooLarge { limit: l } if l == limit),
        "{error:?}"
    );
    assert!(!error.is_retryable());
    assert_eq!(server.requests().len(), 1, "not retried");
}

#[test]
fn a_corrupt_gzip_body_is_a_content_encoding_error() {
    let server = TestServer::start(|_| {
        Reply::json(200, "{\"data\":[]} is not gzip").header("content-encoding", "gzip")
    });
    let client = builder(&server).build().unwrap();
    let error = failure(client.list(&ListConnections::new()));
    assert!(matches!(error, Error::ContentEncoding(_)), "{error:?}");
    assert_eq!(server.requests().len(), 1, "not retried");
}

#[test]
fn a_gzip_token_answer_is_inflated_too() {
    let server = TestServer::start(|r| match r.path() {
        "/oauth2/token" => Reply::json(
            200,
            gzip(br#"{"access_token":"app-token-1","token_type":"Bearer","expires_in":3600}"#),
        )
        .header("content-encoding", "gzip"),
        _ if r.header("authorization") == Some("Bearer app-token-1") => {
            Reply::json(200, page_body(1, 1, 10, Links::Relative, ""))
        }
        _ => Reply::status(401),
    });
    let client = Client::builder()
        .base_url(&server.base_url())
        .client_credentials("client-id", "client-secret")
        .token_url(&format!("{}/oauth2/token", server.origin()))
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    let listed = client.list(&ListConnections::new()).unwrap();
    assert_eq!(listed.value.connections().len(), 1);
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].path(), "/oauth2/token");
    assert_eq!(requests[0].header("accept-encoding"), Some("gzip"));
}

#[test]
fn https_through_a_proxy_shows_it_only_the_connect() {
    let Some(server) = NamedServer::start() else {
        return;
    };
    let proxy = TestProxy::start();
    let client = Client::builder()
        .base_url(&server.base_url())
        .token(TOKEN)
        .proxy(&proxy.url())
        .add_root_certificate(server.certificate_der())
        .build()
        .unwrap();
    for _ in 0..2 {
        let listed = client.list(&ListConnections::new()).unwrap();
        assert_eq!(listed.value.connections().len(), 3);
    }
    // One tunnel, kept open for the second request.
    let connects = proxy.connects();
    assert_eq!(connects.len(), 1, "{connects:?}");
    assert_eq!(proxy.connections(), 1);
    assert_eq!(connects[0].method, "CONNECT");
    assert_eq!(connects[0].target, server.authority());
    assert_eq!(connects[0].header("proxy-authorization"), None);
    let seen = format!("{connects:?}");
    for private in ["/v3", "/connections", "Bearer", TOKEN] {
        assert!(!seen.contains(private), "{private} in {seen}");
    }
    // Inside the tunnel: the request, its token, gzip asked for.
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert!(
        requests[0].line.starts_with("GET /v3/connections"),
        "{:?}",
        requests[0].line
    );
    assert_eq!(
        requests[0].header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    assert_eq!(requests[0].header("accept-encoding"), Some("gzip"));
    assert_eq!(server.connections(), 1);
}

#[test]
fn proxy_credentials_become_proxy_authorization_and_are_never_shown() {
    let Some(server) = NamedServer::start() else {
        return;
    };
    let password = "pr0xy p@ss:word";
    let proxy = TestProxy::with_credentials("proxy-user", password);
    let url = proxy.url_with_credentials().unwrap();
    let client = Client::builder()
        .base_url(&server.base_url())
        .token(TOKEN)
        .proxy(&url)
        .add_root_certificate(server.certificate_der())
        .build()
        .unwrap();
    let shown = format!("{client:?}");
    assert!(
        !shown.contains("p@ss") && !shown.contains("p%40ss"),
        "{shown}"
    );
    client.list(&ListConnections::new()).unwrap();
    let connects = proxy.connects();
    assert_eq!(connects.len(), 1);
    // base64("proxy-user:pr0xy p@ss:word")
    let expected = "Basic cHJveHktdXNlcjpwcjB4eSBwQHNzOndvcmQ=";
    assert_eq!(connects[0].header("proxy-authorization"), Some(expected));

    // The wrong password: a 407, an error naming the proxy, never the password.
    let wrong = url.replace("word", "nope");
    let client = Client::builder()
        .base_url(&server.base_url())
        .token(TOKEN)
        .proxy(&wrong)
        .add_root_certificate(server.certificate_der())
        .retry_policy(fast_retries(3))
        .build()
        .unwrap();
    let mut outcome = None;
    let lines = capture_all(|| outcome = Some(client.list(&ListConnections::new())));
    let error = failure(outcome.unwrap());
    assert!(matches!(error, Error::Proxy(_)), "{error:?}");
    assert!(!error.is_retryable());
    let mut texts = vec![error.chain().to_string(), format!("{error:?}")];
    texts.extend(lines);
    let all = texts.join("\n");
    assert!(all.contains(&proxy.url()), "{all}");
    assert!(all.contains("407"), "{all}");
    for secret in [
        "p@ss",
        "p%40ss",
        "nope",
        "cHJveHktdXNlcjpwcjB4eSBwQHNzOm5vcGU",
        "proxy-user",
    ] {
        assert!(!all.contains(secret), "{secret} shown in {all}");
    }
    assert_eq!(proxy.connects().len(), 2, "the 407 was not retried");
    assert_eq!(server.requests().len(), 1);
}

#[test]
fn through_a_proxy_an_unknown_certificate_is_still_a_tls_error() {
    let Some(server) = NamedServer::start() else {
        return;
    };
    let proxy = TestProxy::start();
    let client = Client::builder()
        .base_url(&server.base_url())
        .token(TOKEN)
        .proxy(&proxy.url())
        .retry_policy(fast_retries(3))
        .build()
        .unwrap();
    let error = failure(client.list(&ListConnections::new()));
    assert!(matches!(error, Error::Tls(_)), "{error:?}");
    assert!(!error.is_retryable());
    assert_eq!(proxy.connects().len(), 1, "not retried");
    assert_eq!(server.connections(), 1, "the tunnel reached the server");
    assert!(server.requests().is_empty(), "no request left the client");

    // A CA in PEM (as --ca-cert takes it) makes it trusted.
    let client = Client::builder()
        .base_url(&server.base_url())
        .token(TOKEN)
        .proxy(&proxy.url())
        .add_root_certificates_pem(server.certificate_pem().as_bytes())
        .system_roots(false)
        .build()
        .unwrap();
    assert_eq!(
        client
            .list(&ListConnections::new())
            .unwrap()
            .value
            .connections()
            .len(),
        3
    );
}

#[test]
fn a_refusing_proxy_is_a_proxy_error_naming_it_and_not_retried() {
    let proxy = TestProxy::refusing(403);
    // The proxy resolves the destination; this one need not exist.
    let client = Client::builder()
        .base_url("https://api.connections.invalid/v3")
        .token(TOKEN)
        .proxy(&proxy.url())
        .retry_policy(fast_retries(3))
        .build()
        .unwrap();
    let error = failure(client.list(&ListConnections::new()));
    assert!(matches!(error, Error::Proxy(_)), "{error:?}");
    assert!(!error.is_retryable());
    let text = error.chain().to_string();
    assert!(text.contains(&proxy.url()), "{text}");
    assert!(text.contains("403"), "{text}");
    let connects = proxy.connects();
    assert_eq!(connects.len(), 1, "{connects:?}");
    assert_eq!(connects[0].target, "api.connections.invalid:443");
}

#[test]
fn an_unreachable_proxy_is_a_proxy_error() {
    // Bound, then closed: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let proxy = format!("http://127.0.0.1:{port}");
    let client = Client::builder()
        .base_url("https://api.connections.invalid/v3")
        .token(TOKEN)
        .proxy(&proxy)
        .retry_policy(fast_retries(3))
        .build()
        .unwrap();
    let error = failure(client.list(&ListConnections::new()));
    assert!(matches!(error, Error::Proxy(_)), "{error:?}");
    assert!(!error.is_retryable());
    assert!(error.chain().to_string().contains(&proxy), "{error}");
}

#[test]
fn loopback_and_no_proxy_bypass_the_proxy() {
    let proxy = TestProxy::start();
    // Loopback, plain and TLS.
    let plain = TestServer::start(|_| Reply::json(200, page_body(1, 1, 10, Links::Relative, "")));
    let client = builder(&plain).proxy(&proxy.url()).build().unwrap();
    client.list(&ListConnections::new()).unwrap();
    let tls = TestServer::start_tls(|_| Reply::json(200, page_body(1, 1, 10, Links::Relative, "")));
    let client = builder(&tls)
        .proxy(&proxy.url())
        .add_root_certificate(tls.certificate_der().unwrap())
        .build()
        .unwrap();
    client.list(&ListConnections::new()).unwrap();
    assert_eq!((plain.requests().len(), tls.requests().len()), (1, 1));
    assert_eq!(proxy.connections(), 0);

    // A remote destination with `.no_proxy()`.
    if let Some(server) = NamedServer::start() {
        let client = Client::builder()
            .base_url(&server.base_url())
            .token(TOKEN)
            .proxy(&proxy.url())
            .no_proxy()
            .add_root_certificate(server.certificate_der())
            .build()
            .unwrap();
        client.list(&ListConnections::new()).unwrap();
        assert_eq!(server.requests().len(), 1);
        assert_eq!(proxy.connections(), 0);
    }
}

/// The variables a child process gets, every proxy variable of this process's own
/// environment removed first.
fn child(scenario: &[(&str, &str)]) -> Command {
    let exe = std::env::current_exe().unwrap();
    let mut command = Command::new(exe);
    command.args([
        "--exact",
        "network::child_lists_with_the_environments_proxy",
        "--test-threads=1",
        "--nocapture",
    ]);
    for name in ["HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY"] {
        command
            .env_remove(name)
            .env_remove(name.to_ascii_lowercase());
    }
    for (name, value) in scenario {
        command.env(name, value);
    }
    command
}

fn run(mut command: Command) {
    let output = command.output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "the child failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Run by [`the_environments_proxy_is_chosen_per_destination`] in a process of its own, with
/// the environment it sets (variables are process-wide, and setting them needs `unsafe`): lists
/// one page from `CONNECTIONS_TEST_BASE`, trusting `CONNECTIONS_TEST_CA` (PEM) if set, with
/// proxies as the environment says. Does nothing when run with the other tests.
#[test]
fn child_lists_with_the_environments_proxy() {
    let Ok(base) = std::env::var("CONNECTIONS_TEST_BASE") else {
        return;
    };
    let mut builder = Client::builder()
        .base_url(&base)
        .token(TOKEN)
        .retry_policy(RetryPolicy::none());
    if let Ok(ca) = std::env::var("CONNECTIONS_TEST_CA") {
        builder = builder.add_root_certificates_pem(ca.as_bytes());
    }
    let client = builder.build().unwrap();
    let listed = client
        .list(&ListConnections::new())
        .map_err(checked)
        .unwrap();
    assert!(!listed.value.connections().is_empty());
}

#[test]
fn the_environments_proxy_is_chosen_per_destination() {
    let proxy = TestProxy::start();
    let url = proxy.url();
    let every_variable = [
        ("HTTPS_PROXY", url.as_str()),
        ("HTTP_PROXY", url.as_str()),
        ("ALL_PROXY", url.as_str()),
    ];

    // Loopback never goes through it (ureq's own reading of the variables would).
    let local = TestServer::start(|_| Reply::json(200, page_body(1, 1, 10, Links::Relative, "")));
    let base = local.base_url();
    let mut scenario = every_variable.to_vec();
    scenario.push(("CONNECTIONS_TEST_BASE", &base));
    run(child(&scenario));
    assert_eq!(local.requests().len(), 1);
    assert_eq!(proxy.connections(), 0, "{:?}", proxy.connects());

    let Some(server) = NamedServer::start() else {
        return;
    };
    let base = server.base_url();
    let ca = server.certificate_pem().to_owned();
    // A remote destination goes through `HTTPS_PROXY`...
    run(child(&[
        ("HTTPS_PROXY", &url),
        ("CONNECTIONS_TEST_BASE", &base),
        ("CONNECTIONS_TEST_CA", &ca),
    ]));
    assert_eq!(proxy.connections(), 1);
    assert_eq!(proxy.connects()[0].target, server.authority());
    // ...unless `NO_PROXY` names it.
    run(child(&[
        ("HTTPS_PROXY", &url),
        ("NO_PROXY", server.host()),
        ("CONNECTIONS_TEST_BASE", &base),
        ("CONNECTIONS_TEST_CA", &ca),
    ]));
    assert_eq!(proxy.connections(), 1);
    assert_eq!(server.requests().len(), 2);
}

/// A page of `base_url`, directly, with three attempts allowed: the error, the log lines,
/// and how many attempts they show.
fn list_failing(base_url: &str) -> (Error, Vec<String>, usize) {
    let client = Client::builder()
        .base_url(base_url)
        .token(TOKEN)
        .no_proxy()
        .connect_timeout(Duration::from_secs(20))
        .retry_policy(fast_retries(3))
        .build()
        .unwrap();
    let mut outcome = None;
    let lines = capture_all(|| outcome = Some(client.list(&ListConnections::new())));
    let attempts = lines
        .iter()
        .filter(|l| l.starts_with("span#") && l.contains(" connections.request"))
        .count();
    (failure(outcome.unwrap()), lines, attempts)
}

/// Told by the mark the resolver puts on its failure, not by the system's words, and
/// attempted once: no retry can make the name resolve.
#[test]
fn a_host_that_does_not_resolve_is_an_unknown_host_attempted_once() {
    let (error, lines, attempts) = list_failing("https://no-such-host.connections.invalid/v3");
    assert!(matches!(error, Error::UnknownHost(_)), "{error:?}");
    assert!(!error.is_retryable());
    assert_eq!(attempts, 1, "{lines:#?}");
    let chain = error.chain().to_string();
    assert!(
        chain.contains("no-such-host.connections.invalid"),
        "{chain}"
    );
    // The event that logs the failure carries the whole chain, not only the headline.
    assert_ne!(chain, error.to_string(), "a chain with causes");
    let logged = format!("error={chain}");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("attempt failed") && l.contains(&logged)),
        "{lines:#?}"
    );
}

#[test]
fn a_sequential_tls_listing_reuses_one_http1_connection() {
    let sandbox = Sandbox::spawn(SandboxConfig {
        tls: true,
        connections: 250,
        ..SandboxConfig::default()
    })
    .unwrap();
    let ca = sandbox.ca_certificate_pem().unwrap();
    let client = Client::builder()
        .base_url(sandbox.base_url())
        .token(sandbox.token())
        .add_root_certificates_pem(ca.as_bytes())
        .build()
        .unwrap();
    let ids: Vec<_> = client
        .connections(&ListConnections::new())
        .map(|c| c.unwrap().id.unwrap())
        .collect();
    // Without a mode filter the listing is the live connections, counted from the records.
    let live = sandbox
        .dataset()
        .connections()
        .iter()
        .filter(|c| c.mode == Mode::Live)
        .count();
    assert!(live > 100, "more than one page");
    assert_eq!(ids.len(), live);
    assert_eq!(
        sandbox.requests(),
        live.div_ceil(100) as u64,
        "pages of 100"
    );
    assert_eq!(
        sandbox.connections_accepted(),
        1,
        "one connection, kept alive"
    );
    assert_eq!(sandbox.requests_over_h2(), 0, "ureq speaks HTTP/1.1");
}

#[test]
fn the_sandboxs_gzip_bomb_stops_at_the_body_limit() {
    let sandbox = Sandbox::spawn(SandboxConfig {
        gzip_bomb: true,
        ..SandboxConfig::default()
    })
    .unwrap();
    let client = Client::builder()
        .base_url(sandbox.base_url())
        .token(sandbox.token())
        .retry_policy(fast_retries(3))
        .build()
        .unwrap();
    let error = failure(client.list(&ListConnections::new()));
    assert!(matches!(error, Error::BodyTooLarge { .. }), "{error:?}");
    assert_eq!(sandbox.faults().gzip_bombs, 1, "not retried");
}

/// An address the system cannot connect to as given (a link-local IPv6 address without its
/// interface: `EINVAL`, `InvalidInput`) fails the same on every attempt: a `Request` error,
/// attempted once, not a connect failure retried as the policy allows.
#[test]
fn an_address_the_system_refuses_is_a_request_error_attempted_once() {
    let (error, lines, attempts) = list_failing("https://[fe80::1]:443/v3");
    if matches!(error, Error::Connect(_)) && !error.chain().to_string().contains("nvalid") {
        // A system that routes link-local addresses without a scope (not Linux): nothing
        // to see here.
        eprintln!("skipped: {:#}", error.chain());
        return;
    }
    assert!(matches!(error, Error::Request(_)), "{error:?}");
    assert!(!error.is_retryable());
    assert_eq!(attempts, 1, "{lines:#?}");
}
