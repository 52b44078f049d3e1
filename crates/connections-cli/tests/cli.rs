//! The `connections` binary end to end: formats, filters, exit codes, the sandbox command,
//! what `-v`/`-vv` print, progress on a terminal, output as it arrives, what a failed listing
//! leaves on stdout, the table's fit and its terminal safety, and the flags' environment.
//!
//! What a listing must return is computed here from the sandbox's raw records (user, vehicle
//! and mode of each, in the order served), as the API contract reads the filters: **without a
//! mode filter, live vehicles only**. It never goes through the sandbox's own filter code.
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use connections_sandbox::{ConnectionRecord, Mode, Sandbox, SandboxConfig};
use connections_testkit::{Links, Recorded, Reply, TestServer, page_body};

/// The variables the command reads, so the caller's environment never leaks into a test.
const ENVIRONMENT: [&str; 6] = [
    "SMARTCAR_ACCESS_TOKEN",
    "SMARTCAR_BASE_URL",
    "SMARTCAR_CLIENT_ID",
    "SMARTCAR_CLIENT_SECRET",
    "SMARTCAR_TOKEN_URL",
    "COLUMNS",
];

/// The command with none of the variables it reads set.
fn command(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_connections"));
    command.args(args);
    for name in ENVIRONMENT {
        command.env_remove(name);
    }
    command
}

fn connections(args: &[&str]) -> Output {
    command(args).output().unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

/// A listing's filters, as the command's flags give them.
#[derive(Clone, Copy, Default)]
struct Wanted<'a> {
    user_id: Option<&'a str>,
    vehicle_id: Option<&'a str>,
    mode: Option<Mode>,
}

/// The ids a complete listing of `records` returns, in the order served (the records'
/// order: newest first). The contract's filters, read from the raw fields: no mode filter
/// means `live` only.
fn oracle(records: &[Arc<ConnectionRecord>], wanted: Wanted<'_>) -> Vec<String> {
    let mode = wanted.mode.unwrap_or(Mode::Live);
    records
        .iter()
        .filter(|c| c.mode == mode)
        .filter(|c| wanted.user_id.is_none_or(|u| c.user_id == u))
        .filter(|c| wanted.vehicle_id.is_none_or(|v| c.vehicle_id == v))
        .map(|c| c.id.clone())
        .collect()
}

/// The records a sandbox of `config` serves (what `list --sandbox` serves, for the default).
fn records(config: SandboxConfig) -> Vec<Arc<ConnectionRecord>> {
    Sandbox::spawn(config)
        .unwrap()
        .dataset()
        .connections()
        .to_vec()
}

/// What `list --sandbox --all` must print, with `wanted`'s filters.
fn expected(wanted: Wanted<'_>) -> Vec<String> {
    oracle(&records(SandboxConfig::default()), wanted)
}

/// The ids a listing of this running sandbox must return without filters, as a set.
fn live_ids(sandbox: &Sandbox) -> std::collections::BTreeSet<String> {
    oracle(sandbox.dataset().connections(), Wanted::default())
        .into_iter()
        .collect()
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
    let all = expected(Wanted::default());
    assert!(all.len() > 21, "several pages of 7: {}", all.len());
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
    let simulated = expected(Wanted {
        mode: Some(Mode::Simulated),
        ..Wanted::default()
    });
    assert!(!simulated.is_empty());
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
        expected(Wanted::default())[..10]
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
        expected(Wanted::default())[5..10]
    );

    // A user's and a vehicle's connections, live ones by default, or of a mode.
    let records = records(SandboxConfig::default());
    let user = records[0].user_id.as_str();
    let vehicle = records[1].vehicle_id.as_str();
    for (flags, wanted) in [
        (
            vec!["--user-id", user],
            Wanted {
                user_id: Some(user),
                ..Wanted::default()
            },
        ),
        (
            vec!["--user-id", user, "--mode", "simulated"],
            Wanted {
                user_id: Some(user),
                mode: Some(Mode::Simulated),
                ..Wanted::default()
            },
        ),
        (
            vec!["--vehicle-id", vehicle, "--mode", "live"],
            Wanted {
                vehicle_id: Some(vehicle),
                mode: Some(Mode::Live),
                ..Wanted::default()
            },
        ),
    ] {
        let mut args = vec!["list", "--sandbox", "--all", "--format", "ndjson"];
        args.extend(&flags);
        let out = connections(&args);
        assert!(out.status.success(), "{flags:?}: {}", stderr(&out));
        assert_eq!(
            ids_from_ndjson(&stdout(&out)),
            oracle(&records, wanted),
            "{flags:?}"
        );
    }

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

/// Starts `connections sandbox` with `args`; its child process and the base URL it printed
/// on its first line.
fn sandbox_command(args: &[&str]) -> (std::process::Child, String) {
    let mut child = command(&[&["sandbox", "--listen", "127.0.0.1:0"], args].concat())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    (child, first.trim().to_owned())
}

#[test]
fn sandbox_command_prints_its_base_url_first_and_serves_until_killed() {
    let (mut child, base) = sandbox_command(&["--connections", "12", "--token", "tok"]);
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
    let served = records(SandboxConfig {
        connections: 12,
        ..SandboxConfig::default()
    });
    assert_eq!(
        ids_from_ndjson(&stdout(&out)),
        oracle(&served, Wanted::default())
    );
}

/// One connection in the API's shape, as a line of NDJSON.
fn connection_line(id: &str, mode: &str, created: &str) -> String {
    serde_json::json!({
        "id": id,
        "type": "connection",
        "attributes": {
            "permissions": ["read_vin"],
            "vehicle": {"make": "KIA", "model": "EV6", "year": 2024,
                        "powertrainType": "BEV", "mode": mode}
        },
        "relationships": {
            "vehicle": {"data": {"id": format!("v-{id}"), "type": "vehicle"}},
            "user": {"data": {"id": "u-1", "type": "user"}}
        },
        "meta": {"createdAt": created, "updatedAt": created}
    })
    .to_string()
}

#[test]
fn sandbox_command_serves_a_data_file_and_names_the_mistake_in_a_bad_one() {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let data = dir.join(format!("cli-data-{}.ndjson", std::process::id()));
    let lines = [
        connection_line("c-old", "live", "2025-01-01T00:00:00Z"),
        connection_line("c-sim", "simulated", "2025-02-01T00:00:00Z"),
        connection_line("c-new", "live", "2025-03-01T00:00:00Z"),
    ];
    std::fs::write(&data, lines.join("\n")).unwrap();
    let (mut child, base) = sandbox_command(&["--data", data.to_str().unwrap()]);
    let list = |extra: &[&str]| {
        let out = connections(
            &[
                &["list", "--base-url", &base, "--token", "sandbox-token"][..],
                &["--all", "--format", "ndjson"],
                extra,
            ]
            .concat(),
        );
        assert!(out.status.success(), "{}", stderr(&out));
        ids_from_ndjson(&stdout(&out))
    };
    // Newest first; no mode filter is live only.
    assert_eq!(list(&[]), ["c-new", "c-old"]);
    assert_eq!(list(&["--mode", "simulated"]), ["c-sim"]);
    child.kill().unwrap();
    child.wait().unwrap();

    std::fs::write(&data, format!("{}\n{{\"id\": 7}}\n", lines[0])).unwrap();
    let out = connections(&["sandbox", "--data", data.to_str().unwrap()]);
    let _ = std::fs::remove_file(&data);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stdout(&out).is_empty(),
        "no base URL for a sandbox that did not start"
    );
    let err = stderr(&out);
    assert!(err.contains(data.to_str().unwrap()), "{err}");
    assert!(err.contains(":2:8:"), "the line and column of the 7: {err}");
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
        let live = live_ids(&sandbox);
        assert_eq!(got, live, "{transport}");
        // page[size]=100 unless the user sets a size: about 100 requests, not 1,000.
        assert_eq!(
            sandbox.requests(),
            live.len().div_ceil(100) as u64,
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
            err.contains("warning: ") && err.contains("the data moved during the listing"),
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
        assert_eq!(ids, live_ids(&sandbox), "{transport}");
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
    let listed: std::collections::BTreeSet<String> =
        ids_from_ndjson(&stdout(&listed)).into_iter().collect();
    assert_eq!(listed, live_ids(&sandbox));
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
        let ids: std::collections::BTreeSet<String> =
            ids_from_ndjson(&stdout(&out)).into_iter().collect();
        assert_eq!(ids, live_ids(&sandbox), "{transport}");
        assert_eq!(
            sandbox.connections_accepted() - accepted,
            1,
            "{transport}: every page over one kept-alive connection"
        );
    }
    assert!(
        sandbox.requests_over_h2() as usize >= live_ids(&sandbox).len().div_ceil(5),
        "hyper spoke HTTP/2"
    );

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
        let ids: std::collections::BTreeSet<String> =
            ids_from_ndjson(&stdout(&out)).into_iter().collect();
        assert_eq!(ids, live_ids(&sandbox), "{transport}");
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

// ---- -v and -vv ----------------------------------------------------------------------------

/// The request lines of `-v` output, with the numbers that vary (milliseconds, request ids,
/// the port) replaced, so two transports' lines can be compared.
fn request_lines(err: &str) -> Vec<String> {
    err.lines()
        .filter(|l| l.starts_with("GET "))
        .map(|line| {
            let mut out = Vec::new();
            let mut words = line.split(' ').peekable();
            while let Some(word) = words.next() {
                out.push(word.to_owned());
                if (word == "in" || word == "after") && words.peek().is_some() {
                    words.next();
                    out.push("N".to_owned());
                } else if word == "sc-request-id" && words.peek().is_some() {
                    words.next();
                    out.push("ID".to_owned());
                }
            }
            out.join(" ")
        })
        .collect()
}

#[test]
fn verbose_prints_one_line_per_request_the_same_with_both_transports() {
    let mut seen = Vec::new();
    for transport in ["hyper", "blocking"] {
        let sandbox = Sandbox::spawn(SandboxConfig::default()).unwrap();
        let base = sandbox.base_url().to_owned();
        let out = connections(&[
            "list",
            "--all",
            "--base-url",
            &base,
            "--token",
            sandbox.token(),
            "--page-size",
            "7",
            "--user-id",
            "",
            "--format",
            "ndjson",
            "--transport",
            transport,
            "-v",
        ]);
        // An empty --user-id is refused before any request: nothing printed, exit 2.
        assert_eq!(out.status.code(), Some(2), "{transport}");
        let out = connections(&[
            "list",
            "--all",
            "--base-url",
            &base,
            "--token",
            sandbox.token(),
            "--page-size",
            "7",
            "--mode",
            "live",
            "--format",
            "ndjson",
            "--transport",
            transport,
            "-v",
        ]);
        assert_eq!(out.status.code(), Some(0), "{transport}: {}", stderr(&out));
        let err = stderr(&out);
        let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("GET ")).collect();
        assert_eq!(lines.len() as u64, sandbox.requests(), "{transport}: {err}");
        for (i, line) in lines.iter().enumerate() {
            // Method, the URL with its query, status, duration, attempt, request id.
            let page = if i == 0 {
                String::new()
            } else {
                format!("page%5Bnumber%5D={}&", i + 1)
            };
            let url =
                format!("{base}/connections?filter%5Bvehicle.mode%5D=live&{page}page%5Bsize%5D=7");
            assert!(
                line.starts_with(&format!("GET {url} -> 200 in ")),
                "{transport}: {line}"
            );
            assert!(
                line.contains(" ms, attempt 1, sc-request-id sbx-"),
                "{transport}: {line}"
            );
        }
        assert!(
            !err.contains(sandbox.token()),
            "{transport}: the token leaked: {err}"
        );
        assert_eq!(
            err.lines().count(),
            lines.len(),
            "{transport}: only request lines: {err}"
        );
        seen.push(request_lines(&err).join("\n").replace(&base, "BASE"));
        // Without -v: nothing on stderr.
        let quiet = connections(&[
            "list",
            "--all",
            "--base-url",
            &base,
            "--token",
            sandbox.token(),
            "--format",
            "ndjson",
            "--transport",
            transport,
        ]);
        assert_eq!(stderr(&quiet), "", "{transport}");
    }
    assert_eq!(seen[0], seen[1], "both transports print the same lines");
}

/// A listing of 25 connections in pages of 10 whose first request is answered 429 with
/// `retry-after: 1` and whose page 2 first fails with a 503 (no request id).
fn rate_limited_listing() -> TestServer {
    let count = Arc::new(AtomicUsize::new(0));
    let served = Arc::new(std::sync::Mutex::new(std::collections::HashSet::new()));
    TestServer::start(move |request: &Recorded| {
        let n = count.fetch_add(1, Ordering::SeqCst);
        let number: usize = request
            .param("page[number]")
            .and_then(|n| n.parse().ok())
            .unwrap_or(1);
        if n == 0 {
            return Reply::json(
                429,
                r#"{"errors":[{"status":"429","type":"RATE_LIMIT","code":"TOO_MANY_REQUESTS"}]}"#,
            )
            .header("retry-after", "1")
            .header("sc-request-id", "req-limited");
        }
        if number == 2 && served.lock().unwrap().insert(2) {
            return Reply::json(503, r#"{"errors":[{"status":"503"}]}"#);
        }
        Reply::json(200, page_body(25, number, 10, Links::Relative, ""))
            .header("sc-request-id", &format!("req-{n}"))
    })
}

#[test]
fn verbose_says_why_it_retries_and_how_long_it_waits() {
    let mut seen = Vec::new();
    for transport in ["hyper", "blocking"] {
        let server = rate_limited_listing();
        let started = Instant::now();
        let out = connections(&[
            "list",
            "--all",
            "--base-url",
            &server.base_url(),
            "--token",
            "t",
            "--page-size",
            "10",
            "--format",
            "ndjson",
            "--transport",
            transport,
            "-v",
        ]);
        assert_eq!(out.status.code(), Some(0), "{transport}: {}", stderr(&out));
        assert!(
            started.elapsed() >= Duration::from_secs(1),
            "{transport}: waited"
        );
        assert_eq!(ids_from_ndjson(&stdout(&out)).len(), 25, "{transport}");
        let err = stderr(&out);
        let lines: Vec<&str> = err.lines().collect();
        let find = |needle: &str| {
            lines
                .iter()
                .position(|l| l.contains(needle))
                .unwrap_or_else(|| panic!("{transport}: no {needle:?} in {err}"))
        };
        let limited = find("-> 429 in ");
        assert!(
            lines[limited].ends_with("attempt 1, sc-request-id req-limited"),
            "{}",
            lines[limited]
        );
        let wait = find("rate limited (429)");
        assert!(
            wait == limited + 1,
            "{transport}: the wait follows the 429: {err}"
        );
        assert_eq!(
            lines[wait],
            "page 1: rate limited (429) on attempt 1, waiting 1.0 s"
        );
        // A 429 is waited out without spending an attempt: the same attempt is made again.
        assert!(lines[wait + 1].contains("-> 200 in ") && lines[wait + 1].contains("attempt 1"));
        let failed = find("-> 503 in ");
        assert!(
            lines[failed].ends_with(" ms, attempt 1"),
            "no request id: {}",
            lines[failed]
        );
        assert!(
            lines[failed + 1].starts_with("page 2: HTTP 503 on attempt 1, waiting "),
            "{err}"
        );
        seen.push(
            request_lines(&err)
                .join("\n")
                .replace(&server.base_url(), "BASE"),
        );
    }
    assert_eq!(seen[0], seen[1], "both transports print the same lines");
}

#[test]
fn very_verbose_adds_headers_redacted_and_token_fetches() {
    let sandbox = sandbox_with_credentials(20, 3600, 0);
    for transport in ["hyper", "blocking"] {
        let out = list_with_credentials(&sandbox, &["--transport", transport, "-vv"]);
        assert_eq!(out.status.code(), Some(0), "{transport}: {}", stderr(&out));
        let err = stderr(&out);
        for needle in [
            "token: POST http://127.0.0.1:",
            "/oauth2/token -> 200 in ",
            "1 attempt(s), expires in 3600 s",
            "\n> GET http://127.0.0.1:",
            "\n> authorization: [redacted]\n",
            "\n> accept: application/json\n",
            "\n> user-agent: ",
            "\n< content-type: application/json\n",
            "\n< sc-request-id: sbx-",
            " -> 200 in ",
        ] {
            assert!(err.contains(needle), "{transport}: no {needle:?} in {err}");
        }
        assert_no_secrets(&err);
        // -v: requests, but neither headers nor token fetches.
        let out = list_with_credentials(&sandbox, &["--transport", transport, "-v"]);
        let err = stderr(&out);
        assert!(err.contains(" -> 200 in "), "{transport}: {err}");
        assert!(
            !err.contains("authorization") && !err.contains("token: "),
            "{transport}: {err}"
        );
    }
    // A token given with --token never shows either.
    let plain = Sandbox::spawn(SandboxConfig::default()).unwrap();
    let out = connections(&[
        "list",
        "--base-url",
        plain.base_url(),
        "--token",
        plain.token(),
        "-vv",
    ]);
    assert!(
        stderr(&out).contains("> authorization: [redacted]"),
        "{}",
        stderr(&out)
    );
    assert!(!stderr(&out).contains(plain.token()), "{}", stderr(&out));
}

// ---- progress on a terminal ----------------------------------------------------------------

/// What a run on a pseudo-terminal of `columns` gave: the exit code, stdout (when piped) and
/// everything the terminal received.
struct TerminalRun {
    code: Option<i32>,
    stdout: String,
    terminal: String,
}

/// Runs the command with stderr on a pseudo-terminal (and stdout too with `stdout_too`).
fn in_terminal(args: &[&str], stdout_too: bool, columns: u16) -> TerminalRun {
    use nix::pty::{Winsize, openpty};
    let size = Winsize {
        ws_row: 40,
        ws_col: columns,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    let pty = openpty(Some(&size), None).unwrap();
    let mut child = {
        let mut command = command(args);
        command
            .stdin(Stdio::null())
            .stderr(Stdio::from(pty.slave.try_clone().unwrap()));
        if stdout_too {
            command.stdout(Stdio::from(pty.slave.try_clone().unwrap()));
        } else {
            command.stdout(Stdio::piped());
        }
        command.spawn().unwrap()
        // The command, and with it its copies of the terminal, is dropped here.
    };
    drop(pty.slave);
    let mut master = std::fs::File::from(pty.master);
    let reader = std::thread::spawn(move || {
        let mut seen = Vec::new();
        let mut buffer = [0u8; 4096];
        // EIO once the child, the last holder of the terminal, has exited.
        while let Ok(n @ 1..) = master.read(&mut buffer) {
            seen.extend_from_slice(&buffer[..n]);
        }
        String::from_utf8_lossy(&seen).into_owned()
    });
    let mut out = String::new();
    if let Some(mut piped) = child.stdout.take() {
        piped.read_to_string(&mut out).unwrap();
    }
    let code = child.wait().unwrap().code();
    TerminalRun {
        code,
        stdout: out,
        terminal: reader.join().unwrap(),
    }
}

/// The screen a terminal would show after receiving `terminal`: a small emulator of what
/// the progress display and the rows use (carriage return, newline, erase line, cursor up
/// and down), with a screen as tall as needed.
fn screen_lines(terminal: &str) -> Vec<String> {
    let mut screen: Vec<Vec<char>> = vec![Vec::new()];
    let (mut row, mut col) = (0usize, 0usize);
    let mut chars = terminal.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => col = 0,
            '\n' => {
                row += 1;
                col = 0;
            }
            '\u{1b}' if chars.peek() == Some(&'[') => {
                chars.next();
                let mut parameter = String::new();
                let mut command = ' ';
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        command = c;
                        break;
                    }
                    parameter.push(c);
                }
                let n: usize = parameter.parse().unwrap_or(1).max(1);
                match command {
                    'A' => row = row.saturating_sub(n),
                    'B' => row += n,
                    'K' if parameter == "2" => screen[row].clear(),
                    'K' => screen[row].truncate(col),
                    'J' => screen.truncate(row + 1),
                    _ => {}
                }
            }
            c => {
                let line = &mut screen[row];
                if line.len() <= col {
                    line.resize(col, ' ');
                    line.push(c);
                } else {
                    line[col] = c;
                }
                col += 1;
            }
        }
        while screen.len() <= row {
            screen.push(Vec::new());
        }
    }
    screen
        .into_iter()
        .map(|l| l.into_iter().collect::<String>().trim_end().to_owned())
        .collect()
}

#[test]
fn progress_on_a_terminal_counts_to_the_total_and_shows_waits() {
    for transport in ["hyper", "blocking"] {
        let sandbox = Sandbox::spawn(SandboxConfig {
            connections: 60,
            latency: Duration::from_millis(300),
            rate_limit: Some(2),
            ..SandboxConfig::default()
        })
        .unwrap();
        let total = live_ids(&sandbox).len();
        let run = in_terminal(
            &[
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
            ],
            false,
            120,
        );
        assert_eq!(run.code, Some(0), "{transport}: {}", run.terminal);
        assert_eq!(ids_from_ndjson(&run.stdout).len(), total, "{transport}");
        assert!(
            !run.stdout.contains('\u{1b}'),
            "{transport}: progress went to stdout"
        );
        let pages = total.div_ceil(10);
        for needle in [
            "waiting for page 1".to_owned(),
            format!("10/{total} connections · page 1/{pages}"),
            format!("{total}/{total} connections · page {pages}/{pages}"),
            "/s · ETA ".to_owned(),
        ] {
            assert!(
                run.terminal.contains(&needle),
                "{transport}: no {needle:?} in {:?}",
                run.terminal
            );
        }
        assert!(
            sandbox.faults().rate_limited > 0,
            "{transport}: the sandbox limited"
        );
        assert!(
            run.terminal.contains("rate limited (429), retry in "),
            "{transport}: the wait is shown as a wait: {:?}",
            run.terminal
        );
        // The display is cleared at the end.
        let last = screen_lines(&run.terminal);
        assert!(
            last.iter().all(|l| l.trim().is_empty()),
            "{transport}: {last:?}"
        );
    }
    // stderr not a terminal: no progress.
    let out = connections(&["list", "--sandbox", "--all", "--format", "ndjson"]);
    assert_eq!(stderr(&out), "");
}

#[test]
fn on_a_terminal_rows_and_log_lines_never_mix_with_the_progress_display() {
    let sandbox = Sandbox::spawn(SandboxConfig {
        connections: 40,
        latency: Duration::from_millis(250),
        ..SandboxConfig::default()
    })
    .unwrap();
    let ids = oracle(sandbox.dataset().connections(), Wanted::default());
    let run = in_terminal(
        &[
            "list",
            "--all",
            "--base-url",
            sandbox.base_url(),
            "--token",
            sandbox.token(),
            "--page-size",
            "8",
            "-v",
        ],
        true,
        100,
    );
    assert_eq!(run.code, Some(0), "{}", run.terminal);
    assert!(
        run.terminal.contains(" connections · page "),
        "the display was drawn"
    );
    let lines = screen_lines(&run.terminal);
    let rows: Vec<&String> = lines
        .iter()
        .filter(|l| ids.iter().any(|id| l.contains(id.as_str())))
        .collect();
    assert_eq!(rows.len(), ids.len(), "{lines:#?}");
    for (row, id) in rows.iter().zip(&ids) {
        // Each row starts its line, whole id first, and fits the terminal.
        assert!(row.starts_with(&format!("{id}  ")), "{row:?}");
        assert!(!row.contains("connections ·"), "{row:?}");
        assert!(row.chars().count() <= 100, "{row:?}");
    }
    let header = lines.iter().find(|l| l.starts_with("id ")).unwrap();
    assert!(header.chars().count() <= 100, "{header:?}");
    let requests: Vec<&String> = lines.iter().filter(|l| l.contains(" -> 200 in ")).collect();
    assert_eq!(requests.len() as u64, sandbox.requests(), "{lines:#?}");
    assert!(
        requests.iter().all(|l| l.starts_with("GET http://")),
        "{requests:#?}"
    );
}

// ---- output as it arrives ------------------------------------------------------------------

#[test]
fn the_first_connection_is_printed_as_soon_as_page_one_arrives() {
    for transport in ["hyper", "blocking"] {
        let sandbox = Sandbox::spawn(SandboxConfig {
            connections: 40,
            latency: Duration::from_millis(400),
            ..SandboxConfig::default()
        })
        .unwrap();
        let mut child = command(&[
            "list",
            "--all",
            "--base-url",
            sandbox.base_url(),
            "--token",
            sandbox.token(),
            "--page-size",
            "4",
            "--format",
            "ndjson",
            "--transport",
            transport,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut first = String::new();
        out.read_line(&mut first).unwrap();
        // Page 1 alone (about 3 KB, far from filling a buffer) was enough.
        let asked = sandbox.requests();
        let running = child.try_wait().unwrap().is_none();
        let mut rest = String::new();
        out.read_to_string(&mut rest).unwrap();
        assert!(child.wait().unwrap().success(), "{transport}");
        assert!(
            asked <= 2,
            "{transport}: the first line came after {asked} requests"
        );
        assert!(running, "{transport}: the listing was still running");
        let ids = ids_from_ndjson(&(first + &rest));
        assert_eq!(
            ids,
            oracle(sandbox.dataset().connections(), Wanted::default())
        );
    }
}

// ---- failures never look like success ------------------------------------------------------

#[test]
fn a_failed_first_request_writes_nothing_on_stdout() {
    let sandbox = Sandbox::spawn(SandboxConfig::default()).unwrap();
    for transport in ["hyper", "blocking"] {
        for format in ["table", "json", "ndjson", "csv"] {
            for (base, token, code) in [
                (sandbox.base_url(), "wrong-token", 3),
                ("http://127.0.0.1:1/v3", "t", 4),
            ] {
                let out = connections(&[
                    "list",
                    "--all",
                    "--base-url",
                    base,
                    "--token",
                    token,
                    "--format",
                    format,
                    "--transport",
                    transport,
                    "--retries",
                    "0",
                ]);
                assert_eq!(
                    out.status.code(),
                    Some(code),
                    "{transport} {format}: {}",
                    stderr(&out)
                );
                assert!(
                    out.stdout.is_empty(),
                    "{transport} {format}: {:?}",
                    stdout(&out)
                );
                assert!(!stderr(&out).contains("incomplete"), "{}", stderr(&out));
            }
        }
    }
}

/// Page 1 of 30 connections, then a 404 API error for page 2.
fn failing_on_page_two() -> TestServer {
    TestServer::start(
        |request: &Recorded| match request.param("page[number]").as_deref() {
            None | Some("1") => Reply::json(200, page_body(30, 1, 10, Links::Relative, "")),
            _ => Reply::json(
                404,
                r#"{"errors":[{"status":"404","type":"RESOURCE_NOT_FOUND","code":"PAGE_GONE","detail":"gone"}]}"#,
            ),
        },
    )
}

#[test]
fn a_later_failure_leaves_json_unterminated_and_says_the_listing_is_incomplete() {
    let server = failing_on_page_two();
    for transport in ["hyper", "blocking"] {
        let run = |format: &str| {
            let out = connections(&[
                "list",
                "--all",
                "--base-url",
                &server.base_url(),
                "--token",
                "t",
                "--page-size",
                "10",
                "--format",
                format,
                "--transport",
                transport,
            ]);
            assert_eq!(
                out.status.code(),
                Some(3),
                "{transport} {format}: {}",
                stderr(&out)
            );
            let err = stderr(&out);
            assert!(err.contains("PAGE_GONE"), "{err}");
            assert!(
                err.contains("the listing is incomplete: 10 connection(s) were printed"),
                "{transport} {format}: {err}"
            );
            stdout(&out)
        };
        let json = run("json");
        assert!(json.starts_with("[\n  {"), "{json}");
        assert!(
            !json.trim_end().ends_with(']'),
            "{transport}: the array was closed: {json}"
        );
        assert!(
            serde_json::from_str::<serde_json::Value>(&json).is_err(),
            "{json}"
        );
        // What was printed stays: ten whole connections.
        let items = format!("{}]", json.trim_end());
        assert_eq!(ids_from_json(&items).len(), 10);
        assert_eq!(ids_from_ndjson(&run("ndjson")).len(), 10);
        assert_eq!(ids_from_csv(&run("csv")).len(), 10);
    }
}

// ---- the table -----------------------------------------------------------------------------

#[test]
fn tables_fit_the_width_keep_ids_whole_and_wide_shows_everything() {
    let served = records(SandboxConfig::default());
    let live: Vec<&Arc<ConnectionRecord>> =
        served.iter().filter(|c| c.mode == Mode::Live).collect();
    let first = &live[..10];
    // On a terminal of `columns` (the screen it shows), or piped with $COLUMNS=40.
    let table = |columns: Option<u16>, extra: &[&str]| {
        let mut args = vec!["list", "--sandbox", "--format", "table"];
        args.extend_from_slice(extra);
        match columns {
            Some(columns) => {
                let run = in_terminal(&args, true, columns);
                assert_eq!(run.code, Some(0), "{}", run.terminal);
                let lines = screen_lines(&run.terminal);
                let lines: Vec<String> = lines.into_iter().filter(|l| !l.is_empty()).collect();
                lines.join("\n")
            }
            None => {
                let out = command(&args).env("COLUMNS", "40").output().unwrap();
                assert!(out.status.success(), "{}", stderr(&out));
                stdout(&out)
            }
        }
    };
    for columns in [60, 80, 120, 200] {
        let text = table(Some(columns), &[]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 11, "{text}");
        assert!(lines[0].starts_with("id "), "{text}");
        for (line, record) in lines[1..].iter().zip(first) {
            assert!(
                line.chars().count() <= usize::from(columns),
                "{columns}: {line}"
            );
            assert!(
                line.starts_with(&format!("{}  ", record.id)),
                "{columns}: {line}"
            );
        }
    }
    // Wide enough for all but the permissions: those that fit, and a count of the others.
    let text = table(Some(200), &[]);
    assert!(
        text.lines().next().unwrap().contains("permissions"),
        "{text}"
    );
    assert!(text.contains(" +"), "{text}");
    // --wide, or piped whatever $COLUMNS says: every cell whole.
    for text in [table(Some(80), &["--wide"]), table(None, &[])] {
        for (line, record) in text.lines().skip(1).zip(first) {
            for cell in [
                &record.id,
                &record.user_id,
                &record.vehicle_id,
                &record.created_at,
            ] {
                assert!(line.contains(cell.as_str()), "{line}");
            }
            assert!(line.contains(&record.permissions.join(" ")), "{line}");
            assert!(line.chars().count() > 200, "{line}");
        }
    }
    // Other formats ignore the width.
    for format in ["ndjson", "json", "csv"] {
        let plain = connections(&["list", "--sandbox", "--format", format]);
        let narrow = command(&["list", "--sandbox", "--format", format])
            .env("COLUMNS", "40")
            .output()
            .unwrap();
        assert_eq!(plain.stdout, narrow.stdout, "{format}");
    }
}

/// One connection whose fields try to take over a terminal, and a CSV formula.
fn hostile_listing() -> TestServer {
    let connection = serde_json::json!({
        "id": "conn-hostile",
        "type": "connection",
        "attributes": {
            "permissions": ["read_vin", "read\u{202e}odometer"],
            "vehicle": {
                "make": "\u{1b}]0;pwned\u{7}\u{1b}[31mEVIL\u{7f}",
                "model": "=HYPERLINK(\"http://x.example\",\"open\")",
                "year": 2021,
                "powertrainType": "BEV",
                "mode": "live"
            }
        },
        "relationships": {
            "user": {"data": {"id": "user\u{9b}31m\nrow", "type": "user"}},
            "vehicle": {"data": {"id": "@vehicle", "type": "vehicle"}}
        },
        "meta": {"createdAt": "2024-01-01T00:00:00Z", "updatedAt": "2024-01-01T00:00:00Z"}
    });
    let page = serde_json::json!({
        "data": [connection],
        "meta": {"pageNumber": 1, "pageSize": 10, "totalCount": 1},
        "links": {"self": "/connections?page[number]=1", "first": "/connections?page[number]=1",
                  "last": "/connections?page[number]=1", "prev": null, "next": null}
    })
    .to_string();
    TestServer::start(move |request: &Recorded| {
        if request.param("filter[userId]").is_some() {
            // An API error whose detail carries escape sequences.
            return Reply::json(
                400,
                r#"{"errors":[{"status":"400","type":"VALIDATION","code":"BAD","detail":"\u001b[2J\u001b]0;pwned\u0007 cleared"}]}"#,
            );
        }
        Reply::json(200, page.clone())
    })
}

#[test]
fn tables_and_errors_show_control_characters_and_data_formats_stay_exact() {
    let server = hostile_listing();
    let list = |format: &str| {
        let out = connections(&[
            "list",
            "--base-url",
            &server.base_url(),
            "--token",
            "t",
            "--format",
            format,
        ]);
        assert_eq!(out.status.code(), Some(0), "{format}: {}", stderr(&out));
        stdout(&out)
    };
    let make = "\u{1b}]0;pwned\u{7}\u{1b}[31mEVIL\u{7f}";
    let model = "=HYPERLINK(\"http://x.example\",\"open\")";
    let user = "user\u{9b}31m\nrow";
    let table = list("table");
    let unsafe_char =
        |c: char| (c.is_control() && c != '\n') || ('\u{202a}'..='\u{202e}').contains(&c);
    assert!(!table.chars().any(unsafe_char), "{table:?}");
    assert_eq!(
        table.lines().count(),
        2,
        "a newline in a cell stays in its row: {table}"
    );
    for shown in [
        "\\x1b]0;pwned\\x07\\x1b[31mEVIL\\x7f",
        "user\\u{9b}31m\\x0arow",
        "read\\u{202e}odometer",
    ] {
        assert!(table.contains(shown), "{shown} not in {table}");
    }
    // JSON and NDJSON: the values exactly as served.
    let json: serde_json::Value = serde_json::from_str(&list("json")).unwrap();
    let ndjson: serde_json::Value = serde_json::from_str(list("ndjson").trim_end()).unwrap();
    for c in [&json[0], &ndjson] {
        assert_eq!(c["attributes"]["vehicle"]["make"], make);
        assert_eq!(c["attributes"]["vehicle"]["model"], model);
        assert_eq!(c["relationships"]["user"]["data"]["id"], user);
        assert_eq!(c["attributes"]["permissions"][1], "read\u{202e}odometer");
    }
    // CSV: exact too, and a cell starting with = or @ is left as it is.
    let csv_text = list("csv");
    let mut reader = csv::Reader::from_reader(csv_text.as_bytes());
    let row = reader.records().next().unwrap().unwrap();
    assert_eq!(&row[1], user);
    assert_eq!(&row[2], "@vehicle");
    assert_eq!(&row[3], make);
    assert_eq!(&row[4], model);
    // An error's details from the server: shown, not obeyed.
    let out = connections(&[
        "list",
        "--base-url",
        &server.base_url(),
        "--token",
        "t",
        "--user-id",
        "u",
        "-v",
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(!err.chars().any(unsafe_char), "{err:?}");
    assert!(
        err.contains("detail: \\x1b[2J\\x1b]0;pwned\\x07 cleared"),
        "{err}"
    );
}

// ---- environment and flags -----------------------------------------------------------------

#[test]
fn the_base_url_comes_from_smartcar_base_url_and_the_flag_wins() {
    let sandbox = Sandbox::spawn(SandboxConfig::default()).unwrap();
    let out = command(&[
        "list",
        "--all",
        "--token",
        sandbox.token(),
        "--format",
        "ndjson",
    ])
    .env("SMARTCAR_BASE_URL", sandbox.base_url())
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let ids: std::collections::BTreeSet<String> =
        ids_from_ndjson(&stdout(&out)).into_iter().collect();
    assert_eq!(ids, live_ids(&sandbox));
    let out = command(&[
        "list",
        "--base-url",
        sandbox.base_url(),
        "--token",
        sandbox.token(),
        "--format",
        "ndjson",
    ])
    .env("SMARTCAR_BASE_URL", "http://127.0.0.1:1/v3")
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn sandbox_conflicts_with_connection_flags_but_not_the_environment() {
    for flags in [
        &["--base-url", "http://127.0.0.1:1/v3"][..],
        &["--token", "t"],
        &["--client-id", "id", "--client-secret", "s"],
        &[
            "--client-id",
            "id",
            "--client-secret",
            "s",
            "--token-url",
            "http://127.0.0.1:1/t",
        ],
    ] {
        let mut args = vec!["list", "--sandbox"];
        args.extend_from_slice(flags);
        let out = connections(&args);
        assert_eq!(out.status.code(), Some(2), "{flags:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("cannot be used with"),
            "{}",
            stderr(&out)
        );
        assert!(out.stdout.is_empty());
    }
    let first_page = &expected(Wanted::default())[..10];
    for environment in [
        &[
            ("SMARTCAR_ACCESS_TOKEN", "some-real-token"),
            ("SMARTCAR_BASE_URL", "http://127.0.0.1:1/v3"),
        ][..],
        &[
            ("SMARTCAR_CLIENT_ID", "id"),
            ("SMARTCAR_CLIENT_SECRET", "s"),
            ("SMARTCAR_TOKEN_URL", "http://127.0.0.1:1/oauth2/token"),
        ],
    ] {
        let out = command(&["list", "--sandbox", "--format", "ndjson"])
            .envs(environment.iter().copied())
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{environment:?}: {}",
            stderr(&out)
        );
        assert_eq!(ids_from_ndjson(&stdout(&out)), first_page);
    }
}

/// A listing of 40 connections whose every answer takes 150 ms, and the most requests it
/// had in flight at once.
fn slow_listing() -> (TestServer, Arc<AtomicUsize>) {
    let (in_flight, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let seen = most.clone();
    let server = TestServer::start(move |request: &Recorded| {
        let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        seen.fetch_max(now, Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(150));
        in_flight.fetch_sub(1, Ordering::SeqCst);
        let number = request
            .param("page[number]")
            .and_then(|n| n.parse().ok())
            .unwrap_or(1);
        Reply::json(200, page_body(40, number, 4, Links::Relative, ""))
    });
    (server, most)
}

#[test]
fn concurrency_fetches_pages_at_once_with_either_transport() {
    let expected: Vec<String> = (0..40).map(|i| format!("conn-{i}")).collect();
    for transport in ["hyper", "blocking"] {
        for (concurrency, at_once) in [("1", 1..=1), ("4", 2..=4)] {
            let (server, most) = slow_listing();
            let out = connections(&[
                "list",
                "--all",
                "--base-url",
                &server.base_url(),
                "--token",
                "t",
                "--page-size",
                "4",
                "--format",
                "ndjson",
                "--transport",
                transport,
                "--concurrency",
                concurrency,
            ]);
            assert_eq!(out.status.code(), Some(0), "{transport}: {}", stderr(&out));
            assert_eq!(
                ids_from_ndjson(&stdout(&out)),
                expected,
                "{transport} {concurrency}"
            );
            let most = most.load(Ordering::SeqCst);
            assert!(
                at_once.contains(&most),
                "{transport} --concurrency {concurrency}: {most} at once"
            );
        }
    }
}

#[test]
fn completions_for_each_shell() {
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let out = connections(&["completions", shell]);
        assert_eq!(out.status.code(), Some(0), "{shell}: {}", stderr(&out));
        let script = stdout(&out);
        for word in ["connections", "list", "page-size", "sandbox"] {
            assert!(script.contains(word), "{shell}: no {word}");
        }
    }
    assert_eq!(connections(&["completions", "tcsh"]).status.code(), Some(2));
}

#[test]
fn help_shows_examples_exit_codes_and_what_a_failure_leaves() {
    for args in [&["--help"][..], &["list", "--help"]] {
        let out = connections(args);
        assert!(out.status.success());
        let help = stdout(&out);
        for needle in [
            "Examples:",
            "connections list --sandbox --all -v",
            "--format json",
            "Exit codes:",
            "the listing is incomplete",
            "without its closing `]`",
            "SMARTCAR_BASE_URL",
        ] {
            if needle == "SMARTCAR_BASE_URL" && args.len() == 1 {
                continue;
            }
            assert!(help.contains(needle), "{args:?}: no {needle:?} in {help}");
        }
    }
}

// ---- every flag at its extremes --------------------------------------------------------------

/// Values people type by mistake, or to see what happens: each must be accepted or refused
/// with exit 2, never a panic or an abort.
const EXTREMES: [&str; 16] = [
    "1e20",
    "-1",
    "-0",
    "0",
    "1.5",
    "0.0001",
    "1e3",
    "\u{0663}",
    "",
    "NaN",
    "inf",
    "-inf",
    "4294967296",
    "18446744073709551616",
    "99999999999999999999999999999999999999",
    "1 s",
];

/// The subcommands `connections --help` lists (without `help`).
fn subcommands() -> Vec<String> {
    let help = stdout(&connections(&["--help"]));
    help.lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .filter(|name| name != "help")
        .collect()
}

/// The arguments of a subcommand that take a value, as its `--help` shows them: `--name`
/// for options, `<NAME>` for positionals.
fn value_arguments(subcommand: &str) -> Vec<String> {
    let help = stdout(&connections(&[subcommand, "--help"]));
    let mut found = Vec::new();
    let mut positional = false;
    for line in help.lines() {
        if !line.starts_with(' ') {
            positional = line.starts_with("Arguments:");
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        if positional && words.first().is_some_and(|w| w.starts_with('<')) {
            found.push(words[0].to_owned());
        }
        let flag = words.iter().position(|w| w.starts_with("--"));
        if let Some(i) = flag
            && words.get(i + 1).is_some_and(|v| v.starts_with('<'))
        {
            found.push(words[i].trim_end_matches(',').to_owned());
        }
    }
    found
}

/// Whether the command line parser itself checks `argument`'s value (a number, a duration,
/// an address, a choice), found without running anything: a word no such flag takes,
/// then the flag again without a value, is refused at the word when values are checked,
/// else at the missing value.
fn checked_by_its_parser(subcommand: &str, argument: &str) -> bool {
    let args = if argument.starts_with('<') {
        vec![subcommand, "not-a-value"]
    } else {
        vec![subcommand, argument, "not-a-value", argument]
    };
    let err = stderr(&connections(&args));
    err.contains("invalid value 'not-a-value'")
}

/// Arguments each subcommand runs with in the walk, so an accepted value runs quickly and
/// locally: `list` from the built-in sandbox in small pages, `token` from a local token
/// endpoint. An argument under test replaces its own pair here.
fn walk_base(subcommand: &str, token_url: &str) -> Vec<(String, String)> {
    let pairs: &[(&str, &str)] = match subcommand {
        "list" => &[("--sandbox", ""), ("--page-size", "2"), ("--retries", "0")],
        "token" => &[
            ("--client-id", CLIENT_ID),
            ("--client-secret", SECRET),
            ("--token-url", token_url),
            ("--retries", "0"),
        ],
        "sandbox" => &[
            ("--listen", "127.0.0.1:0"),
            ("--connections", "3"),
            ("--drip-ms", "0"),
        ],
        _ => &[],
    };
    pairs
        .iter()
        .map(|(f, v)| ((*f).to_owned(), (*v).to_owned()))
        .collect()
}

/// Runs `args`; a sandbox that prints its URL (it started: the value was accepted) is
/// stopped at once. The exit code (0 for a sandbox that started) and stderr.
fn run_to_completion(args: &[String]) -> (Option<i32>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_connections"));
    for name in ENVIRONMENT {
        child.env_remove(name);
    }
    let mut child = child
        .args(args)
        .current_dir(env!("CARGO_TARGET_TMPDIR"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let mut first = String::new();
    BufReader::new(&mut out).read_line(&mut first).unwrap();
    let started = args[0] == "sandbox" && first.starts_with("http");
    if started {
        child.kill().unwrap();
    }
    let mut rest = Vec::new();
    out.read_to_end(&mut rest).unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let status = child.wait().unwrap();
    (if started { Some(0) } else { status.code() }, err)
}

/// Whether `text` names `argument` as a whole word (`--page`, not `--page-size`).
fn names(text: &str, argument: &str) -> bool {
    text.match_indices(argument).any(|(at, _)| {
        let after = text[at + argument.len()..].chars().next();
        !after.is_some_and(|c| c.is_ascii_alphanumeric() || c == '-')
    })
}

/// Every argument of every subcommand that takes a value the parser checks, found from
/// `--help` (so a flag added later is walked too), given each extreme value: exit 0 or 2,
/// never a panic or a signal, and a refusal names the argument.
#[test]
fn every_checked_flag_at_its_extremes_is_accepted_or_refused_naming_it() {
    let tokens = sandbox_with_credentials(3, 3600, 0);
    let token_url = tokens.token_url().to_owned();
    let commands = subcommands();
    for expected in ["list", "token", "sandbox", "completions"] {
        assert!(commands.iter().any(|c| c == expected), "{commands:?}");
    }
    let mut walked = Vec::new();
    for subcommand in &commands {
        for argument in value_arguments(subcommand) {
            if !checked_by_its_parser(subcommand, &argument) {
                continue;
            }
            walked.push(format!("{subcommand} {argument}"));
            for value in EXTREMES {
                let mut args = vec![subcommand.clone()];
                for (flag, base) in walk_base(subcommand, &token_url) {
                    if flag != argument {
                        args.push(flag);
                        if !base.is_empty() {
                            args.push(base);
                        }
                    }
                }
                if !argument.starts_with('<') {
                    args.push(argument.clone());
                }
                args.push(value.to_owned());
                let (code, err) = run_to_completion(&args);
                let what = format!("{args:?} -> {code:?}: {err}");
                assert!(matches!(code, Some(0 | 2)), "{what}");
                assert!(!err.contains("panicked"), "{what}");
                if code == Some(2) {
                    assert!(names(&err, &argument), "{what}");
                }
            }
        }
    }
    for expected in [
        "list --timeout",
        "list --connect-timeout",
        "list --page-size",
        "list --concurrency",
        "token --timeout",
        "token --retries",
        "sandbox --connections",
        "sandbox --token-lifetime",
        "sandbox --failure-rate",
        "completions <SHELL>",
    ] {
        assert!(
            walked.iter().any(|w| w == expected),
            "{expected}: {walked:?}"
        );
    }
}

// ---- where credentials come from -----------------------------------------------------------

/// The precedence table as a matrix: each variable alone and in combination, with
/// `--sandbox`, `--token` and credentials typed. `good`/`bad` values work or fail against
/// the sandbox, so the exit code shows which was used; `-vv` says it too.
#[test]
fn typed_flags_win_over_the_environment_and_a_mode_ignores_what_it_does_not_use() {
    let sandbox = sandbox_with_credentials(5, 3600, 0);
    let token_url = sandbox.token_url();
    let (base, token_url, token) = (sandbox.base_url(), token_url.as_str(), sandbox.token());
    let bad_url = "http://127.0.0.1:1/oauth2/token";
    let env_creds = [
        ("SMARTCAR_CLIENT_ID", CLIENT_ID),
        ("SMARTCAR_CLIENT_SECRET", SECRET),
    ];
    let bad_creds = [
        ("SMARTCAR_CLIENT_ID", "someone-else"),
        ("SMARTCAR_CLIENT_SECRET", "not-the-secret"),
        ("SMARTCAR_TOKEN_URL", bad_url),
    ];
    let every_bad = [
        ("SMARTCAR_ACCESS_TOKEN", "a-real-token"),
        ("SMARTCAR_BASE_URL", "http://127.0.0.1:1/v3"),
        ("SMARTCAR_CLIENT_ID", "someone-else"),
        ("SMARTCAR_CLIENT_SECRET", "not-the-secret"),
        ("SMARTCAR_TOKEN_URL", bad_url),
    ];
    type Case<'a> = (Vec<&'a str>, Vec<(&'a str, &'a str)>, i32, &'a str);
    let cases: Vec<Case<'_>> = vec![
        (
            vec![],
            vec![
                ("SMARTCAR_ACCESS_TOKEN", token),
                ("SMARTCAR_BASE_URL", base),
            ],
            0,
            "an access token from SMARTCAR_ACCESS_TOKEN (from the environment)",
        ),
        (
            vec![],
            [
                &env_creds[..],
                &[
                    ("SMARTCAR_TOKEN_URL", token_url),
                    ("SMARTCAR_BASE_URL", base),
                ],
            ]
            .concat(),
            0,
            "id from SMARTCAR_CLIENT_ID (from the environment), secret from \
             SMARTCAR_CLIENT_SECRET (from the environment), token URL from SMARTCAR_TOKEN_URL",
        ),
        // Exported credentials win over an exported token (perhaps `connections token`'s).
        (
            vec![],
            [
                &env_creds[..],
                &[
                    ("SMARTCAR_TOKEN_URL", token_url),
                    ("SMARTCAR_BASE_URL", base),
                    ("SMARTCAR_ACCESS_TOKEN", "expired-token"),
                ],
            ]
            .concat(),
            0,
            "client credentials, id from SMARTCAR_CLIENT_ID",
        ),
        // A typed token: exported credentials and token URL are not read.
        (
            vec!["--base-url", base, "--token", token],
            bad_creds.to_vec(),
            0,
            "an access token from --token",
        ),
        // Typed credentials: an exported token is not read, the token URL still is.
        (
            vec![
                "--base-url",
                base,
                "--client-id",
                CLIENT_ID,
                "--client-secret",
                SECRET,
            ],
            vec![
                ("SMARTCAR_ACCESS_TOKEN", "a-real-token"),
                ("SMARTCAR_TOKEN_URL", token_url),
            ],
            0,
            "id from --client-id, secret from --client-secret, token URL from SMARTCAR_TOKEN_URL",
        ),
        // Half typed, half exported.
        (
            vec![
                "--base-url",
                base,
                "--client-id",
                CLIENT_ID,
                "--token-url",
                token_url,
            ],
            vec![("SMARTCAR_CLIENT_SECRET", SECRET)],
            0,
            "secret from SMARTCAR_CLIENT_SECRET (from the environment)",
        ),
        // The typed base URL wins over SMARTCAR_BASE_URL.
        (
            vec!["--base-url", base],
            vec![
                ("SMARTCAR_ACCESS_TOKEN", token),
                ("SMARTCAR_BASE_URL", "http://127.0.0.1:1/v3"),
            ],
            0,
            "SMARTCAR_ACCESS_TOKEN",
        ),
        // Bad exported credentials are used when nothing else is given: the endpoint refuses.
        (
            vec!["--base-url", base],
            [&bad_creds[..2], &[("SMARTCAR_TOKEN_URL", token_url)]].concat(),
            3,
            "id from SMARTCAR_CLIENT_ID",
        ),
        // --sandbox reads none of them.
        (vec!["--sandbox"], every_bad.to_vec(), 0, "from --sandbox"),
    ];
    for (typed, environment, code, source) in cases {
        let args = [
            &["list", "-vv", "--format", "ndjson", "--retries", "0"][..],
            &typed,
        ]
        .concat();
        let out = command(&args)
            .envs(environment.iter().copied())
            .output()
            .unwrap();
        let err = stderr(&out);
        let what = format!("{typed:?} {environment:?}: {err}");
        assert_eq!(out.status.code(), Some(code), "{what}");
        assert!(err.contains(source), "{source:?} missing: {what}");
        assert_no_secrets(&err);
    }

    // Conflicts and gaps: exit 2, naming only what was typed, or the variable.
    for (typed, environment, needles, never) in [
        (
            &["list", "--token", "t", "--client-id", "i"][..],
            vec![("SMARTCAR_CLIENT_SECRET", SECRET)],
            &["'--token'", "'--client-id'"][..],
            "SMARTCAR",
        ),
        (
            &["list", "--client-id", "i"],
            vec![],
            &[
                "--client-id is given",
                "--client-secret",
                "SMARTCAR_CLIENT_SECRET",
            ],
            "--token",
        ),
        (
            &["list"],
            vec![("SMARTCAR_CLIENT_ID", "i")],
            &["SMARTCAR_CLIENT_ID (from the environment) is given"],
            "--token",
        ),
        (
            &["list", "--token-url", token_url],
            vec![],
            &["--token-url is given but no client credentials"],
            "--token ",
        ),
        (
            &["token", "--token", "t"],
            vec![],
            &["unexpected argument '--token'"],
            "--client-id is given",
        ),
        (
            &["token"],
            vec![("SMARTCAR_ACCESS_TOKEN", token)],
            &["no client credentials"],
            "--token ",
        ),
    ] {
        let out = command(typed).envs(environment).output().unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{typed:?}: {err}");
        for needle in needles {
            assert!(err.contains(needle), "{typed:?}: {needle:?} missing: {err}");
        }
        assert!(!err.contains(never), "{typed:?}: {never:?} in {err}");
        assert!(out.stdout.is_empty());
    }

    // `connections token` with an exported token (its own earlier output) and credentials.
    let out = command(&[
        "token",
        "--client-id",
        CLIENT_ID,
        "--client-secret",
        SECRET,
        "--token-url",
        token_url,
    ])
    .env("SMARTCAR_ACCESS_TOKEN", "printed-by-connections-token")
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out).lines().count(), 1);
}

// ---- writing the output --------------------------------------------------------------------

/// `args` with stdout on `to`; its exit code and stderr.
fn run_into(args: &[&str], to: Stdio) -> (Option<i32>, String) {
    let out = command(args)
        .stdout(to)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    (out.status.code(), stderr(&out))
}

/// A pipe whose reader is already gone.
fn closed_pipe() -> Stdio {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    Stdio::from(writer)
}

/// Any failed write to stdout is exit 1 saying so, a stdout closed before anything was
/// written included, in every format and for --help and completions; a reader that closes
/// the pipe after taking output (`| head -1`) ends the listing quietly with 0.
#[test]
fn a_failed_write_to_stdout_is_exit_1_and_a_reader_that_stops_early_is_not_an_error() {
    let sandbox = Sandbox::spawn(SandboxConfig {
        connections: 2000,
        ..SandboxConfig::default()
    })
    .unwrap();
    let listing = |format| {
        vec![
            "list",
            "--base-url",
            sandbox.base_url(),
            "--token",
            sandbox.token(),
            "--all",
            "--format",
            format,
        ]
    };
    for format in ["table", "json", "ndjson", "csv"] {
        let args = listing(format);
        for (what, to) in [
            (
                "/dev/full",
                Stdio::from(std::fs::File::create("/dev/full").unwrap()),
            ),
            ("closed", closed_pipe()),
        ] {
            let (code, err) = run_into(&args, to);
            assert_eq!(code, Some(1), "{format} {what}: {err}");
            assert!(
                err.contains("writing the output failed"),
                "{format} {what}: {err}"
            );
            assert_eq!(err.matches("error:").count(), 1, "once: {err}");
        }
        // More than a pipe holds: the reader leaves after one line, with most still to come.
        let mut child = command(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        assert!(!first.is_empty());
        let mut err = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        assert_eq!(child.wait().unwrap().code(), Some(0), "{format}: {err}");
        assert!(err.is_empty(), "{format}: {err}");
    }
    for args in [
        &["--help"][..],
        &["list", "--help"],
        &["completions", "bash"],
    ] {
        for (what, to) in [
            (
                "/dev/full",
                Stdio::from(std::fs::File::create("/dev/full").unwrap()),
            ),
            ("closed", closed_pipe()),
        ] {
            let (code, err) = run_into(args, to);
            assert_eq!(code, Some(1), "{args:?} {what}: {err}");
            assert!(err.contains("writing the output failed"), "{args:?}: {err}");
        }
    }
}

// ---- the sandbox as a tool -----------------------------------------------------------------

/// `connections sandbox -v --listen 0.0.0.0:0`: the URL on its first line works with `list
/// --base-url` as printed, and stderr has a line per request with the method, the path and
/// query as sent, the status and the time taken.
#[test]
fn the_sandbox_prints_a_url_that_connects_and_logs_each_request_with_v() {
    let mut child = command(&["sandbox", "-v", "--listen", "0.0.0.0:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut base = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut base)
        .unwrap();
    let base = base.trim();
    assert!(base.starts_with("http://127.0.0.1:"), "{base}");
    let out = connections(&[
        "list",
        "--base-url",
        base,
        "--token",
        "wrong-token",
        "--page-size",
        "3",
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let out = connections(&[
        "list",
        "--base-url",
        base,
        "--token",
        "sandbox-token",
        "--page-size",
        "3",
        "--user-id",
        "a b",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    child.kill().unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    child.wait().unwrap();
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("GET ")).collect();
    assert_eq!(lines.len(), 2, "{err}");
    assert!(
        lines[0].starts_with("GET /v3/connections?page%5Bsize%5D=3 -> 401 in "),
        "{err}"
    );
    assert!(
        lines[1].starts_with(
            "GET /v3/connections?filter%5BuserId%5D=a%20b&page%5Bsize%5D=3 -> 200 in "
        ),
        "{err}"
    );
    assert!(lines.iter().all(|l| l.ends_with(" ms")), "{err}");
}

/// A token endpoint that cannot be reached is reported once, as the error, not also as a
/// warning before it.
#[test]
fn a_token_failure_is_printed_once() {
    for args in [
        &["token"][..],
        &["list", "--base-url", "http://127.0.0.1:1/v3"],
    ] {
        let out = connections(
            &[
                args,
                &[
                    "--client-id",
                    "i",
                    "--client-secret",
                    "s",
                    "--token-url",
                    "http://127.0.0.1:1/oauth2/token",
                    "--retries",
                    "0",
                ],
            ]
            .concat(),
        );
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(4), "{err}");
        assert_eq!(
            err.lines().filter(|l| !l.starts_with(' ')).count(),
            1,
            "{err}"
        );
        assert!(err.starts_with("error: "), "{err}");
    }
}

// ---- errors about what the user gave -------------------------------------------------------

/// 100 KB of one character: far past any id or URL the client sends.
fn huge() -> String {
    "a".repeat(100_000)
}

/// Ids and URLs longer than the client sends are refused before any request, as usage
/// errors naming the flag (or variable) they came from, never as a network failure.
#[test]
fn very_long_ids_and_urls_are_usage_errors_naming_the_flag() {
    let huge = huge();
    let url = format!("http://127.0.0.1:1/{huge}");
    let credentials = ["--client-id", "i", "--client-secret", "s"];
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["list", "--sandbox", "--user-id", &huge],
            "--user-id is 100000 bytes long",
        ),
        (
            vec!["list", "--sandbox", "--vehicle-id", &huge],
            "--vehicle-id is 100000 bytes long",
        ),
        (
            vec!["list", "--sandbox", "--user-id", ""],
            "--user-id is empty",
        ),
        (
            vec!["list", "--base-url", &url, "--token", "t"],
            "--base-url: the base URL is 100019 bytes long",
        ),
        (
            [&["list", "--token-url", &url][..], &credentials].concat(),
            "--token-url: the token URL is 100019 bytes long",
        ),
        (
            [&["token", "--token-url", &url][..], &credentials].concat(),
            "--token-url: the token URL is 100019 bytes long",
        ),
    ];
    for (args, expected) in cases {
        let out = connections(&args);
        let err = stderr(&out);
        let shown = &err[..err.len().min(300)];
        assert_eq!(out.status.code(), Some(2), "{shown}");
        assert!(err.starts_with(&format!("error: {expected}")), "{shown}");
        assert!(!err.contains("filter[") && !err.contains(&huge), "{shown}");
    }
    let out = command(&["list", "--token", "t"])
        .env("SMARTCAR_BASE_URL", &url)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.starts_with("error: SMARTCAR_BASE_URL (from the environment): the base URL is"),
        "{}",
        &err[..err.len().min(300)]
    );
}

/// Whatever goes wrong with the token URL, the message says "token URL", never "base URL".
#[test]
fn token_url_problems_say_token_url() {
    let cases = [
        (
            "http://auth.example.com/oauth2/token",
            2,
            "the client secret unencrypted",
        ),
        (
            "https://no-such-host.connections.invalid/oauth2/token",
            4,
            "does not resolve",
        ),
        ("http://127.0.0.1:1/oauth2/token", 4, "could not connect"),
    ];
    for (url, code, what) in cases {
        for command in [
            &["token"][..],
            &["list", "--base-url", "http://127.0.0.1:1/v3"],
        ] {
            let args = [
                command,
                &["--client-id", "i", "--client-secret", "s", "--retries", "0"],
                &["--no-proxy", "--token-url", url],
            ]
            .concat();
            let out = connections(&args);
            let err = stderr(&out);
            assert_eq!(out.status.code(), Some(code), "{args:?}: {err}");
            assert!(
                err.contains("token URL") && err.contains(what),
                "{args:?}: {err}"
            );
            assert!(!err.contains("base URL"), "{args:?}: {err}");
        }
    }
    let refused = connections(&[
        "token",
        "--client-id",
        "i",
        "--client-secret",
        "s",
        "--token-url",
        "ftp://auth.example.com/token",
    ]);
    let err = stderr(&refused);
    assert!(
        err.starts_with("error: --token-url: the token URL does not start with https://"),
        "{err}"
    );
}

/// A token endpoint's error page that is not an OAuth error is shown as the API's are: its
/// start, bounded and escaped, with the secret taken out where the page echoes it.
#[test]
fn a_token_error_page_shows_a_bounded_escaped_snippet_without_the_secret() {
    let page = format!(
        "<html>\u{1b}[2J Bad gateway for client_secret={SECRET} {}</html>",
        "x".repeat(10_000)
    );
    let server = TestServer::start(move |_| {
        Reply::status(502)
            .header("content-type", "text/html")
            .body(page.clone())
    });
    let token_url = format!("{}/oauth2/token", server.origin());
    for command in [
        &["token"][..],
        &["list", "--base-url", "http://127.0.0.1:1/v3"],
    ] {
        let args = [
            command,
            &["--client-id", CLIENT_ID, "--client-secret", SECRET],
            &["--token-url", &token_url, "--retries", "0"],
        ]
        .concat();
        let out = connections(&args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(3), "{err}");
        let expected = "error: the token endpoint answered HTTP 502, body not an OAuth error: \
                        \"<html>\\u{1b}[2J Bad gateway for client_secret=[redacted] xxx";
        assert!(err.starts_with(expected), "{err}");
        assert!(!err.contains(SECRET) && !err.contains('\u{1b}'), "{err}");
        assert!(!err.contains(&"x".repeat(300)), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }
}

/// A runtime that cannot start (here: no file descriptor left for its event loop) is said
/// as such, exit 1, and not blamed on the output.
#[test]
fn a_runtime_that_cannot_start_is_not_an_output_failure() {
    let binary = env!("CARGO_BIN_EXE_connections");
    for args in [
        "token --client-id i --client-secret s --token-url http://127.0.0.1:1/t --retries 0",
        "list --base-url http://127.0.0.1:1/v3 --token t --retries 0",
    ] {
        let mut shell = Command::new("sh");
        shell
            .arg("-c")
            .arg(format!("ulimit -n 4; exec {binary} {args}"));
        for name in ENVIRONMENT {
            shell.env_remove(name);
        }
        let out = shell.output().unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{args}: {err}");
        assert!(
            err.starts_with("error: could not start the async runtime"),
            "{args}: {err}"
        );
        assert!(!err.contains("writing the output"), "{args}: {err}");
    }
}

/// The sandbox's rate flags say their range, read by the same parsers as every other
/// number flag.
#[test]
fn the_sandbox_rate_flags_have_explicit_ranges() {
    for (args, range) in [
        (&["--rate-limit", "100001"][..], "from 0 to 100000"),
        (&["--bucket", "0"], "from 1 to 100000"),
        (
            &["--bucket", "3", "--refill-per-minute", "0"],
            "from 0.001 to 1000000",
        ),
        (
            &["--bucket", "3", "--refill-per-minute", " 2"],
            "from 0.001 to 1000000",
        ),
        (&["--max-page-size", "100001"], "from 1 to 100000"),
    ] {
        // A sandbox that starts (a value wrongly accepted) is stopped, and fails the test.
        let mut run = vec![
            "sandbox".to_owned(),
            "--listen".into(),
            "127.0.0.1:0".into(),
        ];
        run.extend(args.iter().map(|a| (*a).to_owned()));
        let (code, err) = run_to_completion(&run);
        assert_eq!(code, Some(2), "{args:?}: {err}");
        assert!(
            names(&err, args[args.len() - 2]) && err.contains(range),
            "{args:?}: {err}"
        );
    }
}
