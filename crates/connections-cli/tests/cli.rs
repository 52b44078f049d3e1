//! The `connections` binary end to end: formats, filters, exit codes, and the sandbox command.
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};

use connections_sandbox::{Dataset, Filters, Mode, Sandbox, SandboxConfig};
use connections_testkit::{Reply, TestServer};

fn connections(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_connections"))
        .args(args)
        .env_remove("SMARTCAR_ACCESS_TOKEN")
        .output()
        .unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

/// The ids the default sandbox serves for `filters`.
fn expected(filters: Filters<'_>) -> Vec<String> {
    let defaults = SandboxConfig::default();
    Dataset::generate(defaults.connections, defaults.seed).expected_ids(filters)
}

fn ids_from_json(text: &str) -> Vec<String> {
    let value: serde_json::Value = serde_json::from_str(text).unwrap();
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect()
}

fn ids_from_ndjson(text: &str) -> Vec<String> {
    text.lines()
        .map(|line| {
            let c: serde_json::Value = serde_json::from_str(line).unwrap();
            c["id"].as_str().unwrap().to_owned()
        })
        .collect()
}

fn ids_from_csv(text: &str) -> Vec<String> {
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    assert_eq!(&reader.headers().unwrap()[0], "id");
    reader.records().map(|r| r.unwrap()[0].to_owned()).collect()
}

#[test]
fn every_format_parses_back_to_the_sandbox_ids_with_both_transports() {
    let all = expected(Filters::default());
    assert_eq!(all.len(), 50);
    for transport in ["hyper", "blocking"] {
        for (format, parse) in [
            ("json", ids_from_json as fn(&str) -> Vec<String>),
            ("ndjson", ids_from_ndjson),
            ("csv", ids_from_csv),
        ] {
            let out = connections(&[
                "list",
                "--sandbox",
                "--all",
                "--page-size",
                "7",
                "--format",
                format,
                "--transport",
                transport,
            ]);
            assert!(
                out.status.success(),
                "{transport} {format}: {}",
                stderr(&out)
            );
            assert_eq!(parse(&stdout(&out)), all, "{transport} {format}");
        }
    }
}

#[test]
fn json_connections_keep_the_api_shape() {
    let out = connections(&["list", "--sandbox", "--format", "json"]);
    let value: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let first = &value[0];
    assert_eq!(first["type"], "connection");
    assert!(first["attributes"]["vehicle"]["powertrainType"].is_string());
    assert!(first["relationships"]["user"]["data"]["id"].is_string());
    assert!(first["meta"]["createdAt"].is_string());
}

#[test]
fn filters_and_single_pages() {
    let simulated = expected(Filters {
        mode: Some(Mode::Simulated),
        ..Filters::default()
    });
    let out = connections(&[
        "list",
        "--sandbox",
        "--all",
        "--mode",
        "simulated",
        "--page-size",
        "3",
        "--format",
        "ndjson",
        "--concurrency",
        "4",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(ids_from_ndjson(&stdout(&out)), simulated);

    let first_page = connections(&["list", "--sandbox", "--format", "ndjson"]);
    assert_eq!(
        ids_from_ndjson(&stdout(&first_page)),
        expected(Filters::default())[..10]
    );
    let second = connections(&[
        "list",
        "--sandbox",
        "--page",
        "2",
        "--page-size",
        "5",
        "--format",
        "csv",
    ]);
    assert_eq!(
        ids_from_csv(&stdout(&second)),
        expected(Filters::default())[5..10]
    );

    let table = connections(&["list", "--sandbox", "--format", "table", "--page-size", "2"]);
    let text = stdout(&table);
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    for column in [
        "id",
        "user",
        "vehicle",
        "make",
        "model",
        "year",
        "mode",
        "permissions",
        "created",
    ] {
        assert!(header.contains(column), "{header}");
    }
    assert_eq!(lines.count(), 2);
}

#[test]
fn invalid_input_exits_2() {
    for args in [
        &["list", "--sandbox", "--page-size", "0"][..],
        &["list", "--sandbox", "--user-id", ""],
        &[
            "list",
            "--base-url",
            "http://example.com/v3",
            "--token",
            "t",
        ],
        &["list", "--mode", "parked", "--sandbox"],
        &["list"],
        &["frobnicate"],
    ] {
        let out = connections(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(!stderr(&out).is_empty());
    }
    assert!(stderr(&connections(&["list"])).contains("SMARTCAR_ACCESS_TOKEN"));
}

#[test]
fn api_errors_exit_3_with_details_and_never_the_token() {
    let sandbox = connections_sandbox::Sandbox::spawn(SandboxConfig::default()).unwrap();
    let secret = "wrong-token-do-not-print";
    let out = connections(&[
        "list",
        "--base-url",
        sandbox.base_url(),
        "--token",
        secret,
        "-vv",
    ]);
    assert_eq!(out.status.code(), Some(3));
    let err = stderr(&out);
    for needle in ["401", "AUTHENTICATION", "UNAUTHORIZED", "request id: sbx-"] {
        assert!(err.contains(needle), "{needle} missing from {err}");
    }
    assert!(!err.contains(secret) && !stdout(&out).contains(secret));
}

#[test]
fn network_failures_exit_4() {
    let out = connections(&[
        "list",
        "--base-url",
        "http://127.0.0.1:1/v3",
        "--token",
        "t",
        "--retries",
        "0",
    ]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
}

#[test]
fn pagination_and_response_errors_exit_5() {
    let evil = TestServer::start(|_| {
        Reply::json(
            200,
            r#"{"data":[{"id":"a"}],"links":{"self":"s","first":"f","last":"l",
               "next":"https://evil.example/v3/connections?page[number]=2"}}"#,
        )
    });
    for transport in ["hyper", "blocking"] {
        let out = connections(&[
            "list",
            "--base-url",
            &evil.base_url(),
            "--token",
            "t",
            "--all",
            "--transport",
            transport,
        ]);
        assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
        assert!(stderr(&out).contains("another scheme, host or port"));
    }
    let html = TestServer::start(|_| {
        Reply::status(200)
            .header("content-type", "text/html")
            .body("<html>")
    });
    let out = connections(&["list", "--base-url", &html.base_url(), "--token", "t"]);
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
}

#[test]
fn sandbox_command_prints_its_base_url_first_and_serves_until_killed() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_connections"))
        .args([
            "sandbox",
            "--listen",
            "127.0.0.1:0",
            "--connections",
            "12",
            "--token",
            "tok",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let base = first.trim().to_owned();
    assert!(
        base.starts_with("http://127.0.0.1:") && base.ends_with("/v3"),
        "{base}"
    );
    let out = connections(&[
        "list",
        "--base-url",
        &base,
        "--token",
        "tok",
        "--all",
        "--format",
        "ndjson",
    ]);
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(ids_from_ndjson(&stdout(&out)).len(), 12);
}

/// The ids the test reads from a sandbox's own data, as a set.
fn served_ids(sandbox: &connections_sandbox::Sandbox) -> std::collections::BTreeSet<String> {
    sandbox
        .dataset()
        .connections()
        .iter()
        .map(|c| c.id.clone())
        .collect()
}

#[test]
fn twelve_thousand_connections_list_completely_at_default_flags() {
    const CONNECTIONS: usize = 12_345;
    for transport in ["hyper", "blocking"] {
        let sandbox = connections_sandbox::Sandbox::spawn(SandboxConfig {
            connections: CONNECTIONS,
            ..SandboxConfig::default()
        })
        .unwrap();
        let out = connections(&[
            "list",
            "--all",
            "--base-url",
            sandbox.base_url(),
            "--token",
            sandbox.token(),
            "--format",
            "ndjson",
            "--transport",
            transport,
        ]);
        assert_eq!(out.status.code(), Some(0), "{transport}: {}", stderr(&out));
        let ids = ids_from_ndjson(&stdout(&out));
        let got: std::collections::BTreeSet<String> = ids.iter().cloned().collect();
        assert_eq!(got.len(), ids.len(), "{transport}: an id came twice");
        assert_eq!(got, served_ids(&sandbox), "{transport}");
        // page[size]=100 unless the user sets a size: 124 requests, not 1,235.
        assert_eq!(
            sandbox.requests(),
            CONNECTIONS.div_ceil(100) as u64,
            "{transport}"
        );
    }
}

#[test]
fn data_moving_mid_listing_warns_on_stderr_and_repeats_nothing() {
    for transport in ["hyper", "blocking"] {
        let sandbox = connections_sandbox::Sandbox::spawn(SandboxConfig {
            connections: 100,
            churn: 3,
            ..SandboxConfig::default()
        })
        .unwrap();
        let out = connections(&[
            "list",
            "--all",
            "--base-url",
            sandbox.base_url(),
            "--token",
            sandbox.token(),
            "--page-size",
            "10",
            "--format",
            "ndjson",
            "--transport",
            transport,
        ]);
        assert_eq!(out.status.code(), Some(0), "{transport}: {}", stderr(&out));
        let ids = ids_from_ndjson(&stdout(&out));
        let got: std::collections::BTreeSet<String> = ids.iter().cloned().collect();
        assert_eq!(got.len(), ids.len(), "{transport}: an id came twice");
        assert!(sandbox.faults().churned > 0, "{transport}: the data moved");
        let err = stderr(&out);
        assert!(
            err.contains("WARN") && err.contains("the data moved during the listing"),
            "{transport}: no warning in {err}"
        );
    }
}

const CLIENT_ID: &str = "cli-app-id";
const SECRET: &str = "cli-app-s3cret-value";

fn sandbox_with_credentials(connections: usize, lifetime: u64, latency_ms: u64) -> Sandbox {
    Sandbox::spawn(SandboxConfig {
        connections,
        client_id: Some(CLIENT_ID.to_owned()),
        client_secret: Some(SECRET.to_owned()),
        token_lifetime: std::time::Duration::from_secs(lifetime),
        latency: std::time::Duration::from_millis(latency_ms),
        ..SandboxConfig::default()
    })
    .unwrap()
}

/// `connections list --all` with the sandbox's client credentials, and `extra` flags.
fn list_with_credentials(sandbox: &Sandbox, extra: &[&str]) -> Output {
    let token_url = sandbox.token_url();
    let mut args = vec![
        "list",
        "--all",
        "--base-url",
        sandbox.base_url(),
        "--client-id",
        CLIENT_ID,
        "--client-secret",
        SECRET,
        "--token-url",
        &token_url,
        "--format",
        "ndjson",
    ];
    args.extend_from_slice(extra);
    connections(&args)
}

/// No 32-hex-digit run (the sandbox's issued tokens) and not the secret.
fn assert_no_secrets(text: &str) {
    assert!(!text.contains(SECRET), "the secret leaked: {text}");
    let mut run = 0;
    for c in text.chars() {
        run = if c.is_ascii_hexdigit() { run + 1 } else { 0 };
        assert!(run < 32, "something token-like leaked: {text}");
    }
}

#[test]
fn client_credentials_outlast_tokens_that_expire_mid_listing() {
    let run = |transport: &'static str| {
        // 2 s tokens; 12 pages at 450 ms each take over 5 s.
        let sandbox = sandbox_with_credentials(60, 2, 450);
        let out = list_with_credentials(
            &sandbox,
            &["--page-size", "5", "--transport", transport, "-vv"],
        );
        assert_eq!(out.status.code(), Some(0), "{transport}: {}", stderr(&out));
        let ids: std::collections::BTreeSet<String> =
            ids_from_ndjson(&stdout(&out)).into_iter().collect();
        assert_eq!(ids, served_ids(&sandbox), "{transport}");
        let issued = sandbox.tokens_issued();
        assert!((3..=8).contains(&issued), "{transport}: {issued} tokens");
        assert_no_secrets(&stderr(&out));
    };
    let hyper = std::thread::spawn(move || run("hyper"));
    run("blocking");
    hyper.join().unwrap();
}

#[test]
fn credentials_are_checked_before_any_connection() {
    let both = connections(&[
        "list",
        "--base-url",
        "http://127.0.0.1:1/v3",
        "--token",
        "t",
        "--client-id",
        "id",
        "--client-secret",
        "s",
    ]);
    assert_eq!(both.status.code(), Some(2), "{}", stderr(&both));
    let id_alone = connections(&["list", "--client-id", "id"]);
    assert_eq!(id_alone.status.code(), Some(2), "{}", stderr(&id_alone));
    let plain = connections(&[
        "token",
        "--client-id",
        "id",
        "--client-secret",
        SECRET,
        "--token-url",
        "http://iam.example.com/oauth2/token",
    ]);
    assert_eq!(plain.status.code(), Some(2), "{}", stderr(&plain));
    assert!(stderr(&plain).contains("token URL"), "{}", stderr(&plain));
    assert_no_secrets(&stderr(&plain));
}

#[test]
fn refused_credentials_exit_3_with_the_oauth_error_and_no_api_request() {
    let sandbox = sandbox_with_credentials(10, 3600, 0);
    let token_url = sandbox.token_url();
    for transport in ["hyper", "blocking"] {
        let before = sandbox.requests();
        let out = connections(&[
            "list",
            "--base-url",
            sandbox.base_url(),
            "--client-id",
            CLIENT_ID,
            "--client-secret",
            "wrong-secret-value",
            "--token-url",
            &token_url,
            "--transport",
            transport,
        ]);
        assert_eq!(out.status.code(), Some(3), "{transport}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains("invalid_client") && err.contains("client secret"),
            "{err}"
        );
        assert!(!err.contains("wrong-secret-value"), "{err}");
        assert_eq!(
            sandbox.requests() - before,
            1,
            "{transport}: one token request only"
        );
    }
}

#[test]
fn the_token_command_prints_a_token_that_lists() {
    let sandbox = sandbox_with_credentials(7, 3600, 0);
    let out = connections(&[
        "token",
        "--client-id",
        CLIENT_ID,
        "--client-secret",
        SECRET,
        "--token-url",
        &sandbox.token_url(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("expires in 3600 s"),
        "{}",
        stderr(&out)
    );
    let token = stdout(&out).trim().to_owned();
    assert_eq!(sandbox.tokens_issued(), 1);
    let listed = connections(&[
        "list",
        "--all",
        "--base-url",
        sandbox.base_url(),
        "--token",
        &token,
        "--format",
        "ndjson",
    ]);
    assert_eq!(listed.status.code(), Some(0), "{}", stderr(&listed));
    assert_eq!(ids_from_ndjson(&stdout(&listed)).len(), 7);
}

#[test]
fn a_401_that_persists_with_a_fresh_token_exits_3_after_two_api_requests() {
    let server = TestServer::start(|request| {
        if request.path() == "/oauth2/token" {
            Reply::json(
                200,
                r#"{"access_token":"tok","token_type":"Bearer","expires_in":3600}"#,
            )
        } else {
            Reply::json(
                401,
                r#"{"errors":[{"status":"401","type":"AUTHENTICATION","code":"UNAUTHORIZED"}]}"#,
            )
        }
    });
    for transport in ["hyper", "blocking"] {
        let before = server.requests().len();
        let out = connections(&[
            "list",
            "--base-url",
            &server.base_url(),
            "--client-id",
            CLIENT_ID,
            "--client-secret",
            SECRET,
            "--token-url",
            &format!("{}/oauth2/token", server.origin()),
            "--transport",
            transport,
        ]);
        assert_eq!(out.status.code(), Some(3), "{transport}: {}", stderr(&out));
        let api = server.requests()[before..]
            .iter()
            .filter(|r| r.path() != "/oauth2/token")
            .count();
        assert_eq!(api, 2, "{transport}");
    }
}

/// A TLS sandbox and its CA written to a file in a fresh temporary directory.
fn tls_sandbox(config: SandboxConfig) -> (Sandbox, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!(
        "connections-cli-tls-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let ca = dir.join("ca.pem");
    let sandbox = Sandbox::spawn(SandboxConfig {
        tls: true,
        tls_ca_out: Some(ca.clone()),
        ..config
    })
    .unwrap();
    (sandbox, ca)
}

#[test]
fn https_with_a_private_ca_and_one_connection_per_listing() {
    let (sandbox, ca) = tls_sandbox(SandboxConfig {
        connections: 30,
        ..SandboxConfig::default()
    });
    let ca = ca.to_str().unwrap();
    for transport in ["hyper", "blocking"] {
        let accepted = sandbox.connections_accepted();
        let out = connections(&[
            "list",
            "--all",
            "--base-url",
            sandbox.base_url(),
            "--token",
            sandbox.token(),
            "--page-size",
            "5",
            "--ca-cert",
            ca,
            "--format",
            "ndjson",
            "--transport",
            transport,
        ]);
        assert_eq!(out.status.code(), Some(0), "{transport}: {}", stderr(&out));
        assert_eq!(ids_from_ndjson(&stdout(&out)).len(), 30, "{transport}");
        assert_eq!(
            sandbox.connections_accepted() - accepted,
            1,
            "{transport}: six pages over one kept-alive connection"
        );
    }
    assert!(sandbox.requests_over_h2() >= 6, "hyper spoke HTTP/2");

    let before = sandbox.requests();
    let untrusted = connections(&[
        "list",
        "--base-url",
        sandbox.base_url(),
        "--token",
        sandbox.token(),
        "--no-system-roots",
    ]);
    assert_eq!(untrusted.status.code(), Some(4), "{}", stderr(&untrusted));
    assert_eq!(sandbox.requests(), before, "no HTTP request without trust");

    let garbage = std::env::temp_dir().join(format!("not-a-ca-{}.pem", std::process::id()));
    std::fs::write(&garbage, "hello").unwrap();
    let bad_pem = connections(&[
        "list",
        "--base-url",
        sandbox.base_url(),
        "--token",
        sandbox.token(),
        "--ca-cert",
        garbage.to_str().unwrap(),
    ]);
    assert_eq!(bad_pem.status.code(), Some(2), "{}", stderr(&bad_pem));
}

#[test]
fn proxies_see_only_connect_and_never_loopback() {
    let (sandbox, ca) = tls_sandbox(SandboxConfig {
        connections: 12,
        ..SandboxConfig::default()
    });
    let ca = ca.to_str().unwrap();
    let port = sandbox.addr().port();
    let proxied_base = format!("https://sandbox.test:{port}/v3");
    for transport in ["hyper", "blocking"] {
        let proxy = connections_testkit::TestProxy::start();
        // From the environment, as curl reads it.
        let out = Command::new(env!("CARGO_BIN_EXE_connections"))
            .args([
                "list",
                "--all",
                "--base-url",
                &proxied_base,
                "--token",
                sandbox.token(),
                "--ca-cert",
                ca,
                "--format",
                "ndjson",
                "--transport",
                transport,
            ])
            .env_remove("SMARTCAR_ACCESS_TOKEN")
            .env_remove("NO_PROXY")
            .env_remove("no_proxy")
            .env("HTTPS_PROXY", proxy.url())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{transport}: {}", stderr(&out));
        assert_eq!(ids_from_ndjson(&stdout(&out)).len(), 12, "{transport}");
        let seen = proxy.connects();
        assert!(
            !seen.is_empty(),
            "{transport}: the listing went through the proxy"
        );
        for request in &seen {
            assert_eq!(request.method, "CONNECT", "{transport}");
            assert_eq!(
                request.target,
                format!("sandbox.test:{port}"),
                "{transport}"
            );
            assert!(request.header("authorization").is_none(), "{transport}");
        }

        // Loopback never goes through the proxy, even when the environment names one.
        let direct = Command::new(env!("CARGO_BIN_EXE_connections"))
            .args([
                "list",
                "--base-url",
                sandbox.base_url(),
                "--token",
                sandbox.token(),
                "--ca-cert",
                ca,
                "--transport",
                transport,
            ])
            .env_remove("SMARTCAR_ACCESS_TOKEN")
            .env("HTTPS_PROXY", proxy.url())
            .env("ALL_PROXY", proxy.url())
            .output()
            .unwrap();
        assert_eq!(
            direct.status.code(),
            Some(0),
            "{transport}: {}",
            stderr(&direct)
        );
        // --no-proxy and NO_PROXY bypass it too.
        for bypass in [&["--no-proxy"][..], &[]] {
            let mut command = Command::new(env!("CARGO_BIN_EXE_connections"));
            command
                .args([
                    "list",
                    "--base-url",
                    &proxied_base,
                    "--token",
                    sandbox.token(),
                    "--ca-cert",
                    ca,
                    "--transport",
                    transport,
                    "--connect-timeout",
                    "2",
                    "--retries",
                    "0",
                ])
                .args(bypass)
                .env_remove("SMARTCAR_ACCESS_TOKEN")
                .env("HTTPS_PROXY", proxy.url());
            if bypass.is_empty() {
                command.env("NO_PROXY", ".test");
            }
            let out = command.output().unwrap();
            // Direct, sandbox.test does not resolve: an unknown host, exit 4, not retried.
            assert_eq!(out.status.code(), Some(4), "{transport}: {}", stderr(&out));
        }
        assert_eq!(
            proxy.connections(),
            seen.len(),
            "{transport}: loopback, --no-proxy and NO_PROXY never reached the proxy"
        );
    }

    let refusing = connections_testkit::TestProxy::refusing(403);
    for transport in ["hyper", "blocking"] {
        let out = connections(&[
            "list",
            "--base-url",
            &proxied_base,
            "--token",
            sandbox.token(),
            "--ca-cert",
            ca,
            "--proxy",
            &refusing.url(),
            "--transport",
            transport,
        ]);
        assert_eq!(out.status.code(), Some(4), "{transport}: {}", stderr(&out));
        assert!(stderr(&out).contains(&refusing.url()), "{}", stderr(&out));
    }
    assert_eq!(
        refusing.connects().len(),
        2,
        "one CONNECT per transport, not retried"
    );
}

#[test]
fn a_gzip_bomb_is_refused_with_exit_5() {
    let sandbox = Sandbox::spawn(SandboxConfig {
        gzip_bomb: true,
        ..SandboxConfig::default()
    })
    .unwrap();
    for transport in ["hyper", "blocking"] {
        let out = connections(&[
            "list",
            "--base-url",
            sandbox.base_url(),
            "--token",
            sandbox.token(),
            "--transport",
            transport,
        ]);
        assert_eq!(out.status.code(), Some(5), "{transport}: {}", stderr(&out));
        assert!(stderr(&out).contains("larger than"), "{}", stderr(&out));
    }
}
