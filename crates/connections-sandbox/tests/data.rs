//! The sandbox as a test double: connections from a data file (JSON array, page body or
//! NDJSON), clear errors for bad files, and the requests it received.
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod common;

use std::io::ErrorKind;
use std::path::PathBuf;

use common::{ODD_CONNECTIONS, data_text, exchange, get, get_json, ids, listing, records};
use connections_sandbox::{DataError, Dataset, Mode, REDACTED, Sandbox, SandboxConfig};
use serde_json::{Value, json};

/// A file under the target directory's temp folder, removed when dropped.
struct TempFile(PathBuf);

impl TempFile {
    fn new(name: &str, contents: impl AsRef<[u8]>) -> Self {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
        let path = dir.join(format!("sandbox-data-{}-{name}", std::process::id()));
        std::fs::write(&path, contents).unwrap();
        TempFile(path)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A connection in the API's shape.
fn connection(id: &str, user: &str, vehicle: &str, mode: &str, created: &str) -> Value {
    json!({
        "id": id,
        "type": "connection",
        "attributes": {
            "permissions": ["read_vin", "read_odometer"],
            "vehicle": {"make": "KIA", "model": "EV6", "year": 2024,
                        "powertrainType": "BEV", "mode": mode}
        },
        "relationships": {
            "vehicle": {"data": {"id": vehicle, "type": "vehicle"},
                        "links": {"related": format!("/vehicles/{vehicle}")}},
            "user": {"data": {"id": user, "type": "user"},
                     "links": {"related": format!("/users/{user}")}}
        },
        "meta": {"createdAt": created, "updatedAt": created},
        "links": {"self": format!("/connections/{id}")}
    })
}

/// Every connection a sandbox serves, both modes, as the API's JSON.
fn served(s: &Sandbox) -> Vec<Value> {
    let mut all = Vec::new();
    for mode in ["live", "simulated"] {
        let (status, page) = get_json(
            s,
            &format!("/v3/connections?filter[vehicle.mode]={mode}&page[size]=1000"),
        );
        assert_eq!(status, 200);
        all.extend(page["data"].as_array().unwrap().iter().cloned());
    }
    all
}

#[test]
fn what_a_sandbox_serves_loads_back_as_the_same_connections_in_every_shape() {
    let generated = Sandbox::spawn(SandboxConfig {
        connections: 60,
        seed: 3,
        ..SandboxConfig::default()
    })
    .unwrap();
    // Live then simulated: not in createdAt order, which loading must restore.
    let data = served(&generated);
    let page_body = json!({"data": data, "meta": {"pageNumber": 1}, "links": {}}).to_string();
    let array = serde_json::to_string_pretty(&data).unwrap();
    let ndjson: String = data.iter().map(|c| format!("{c}\r\n\n")).collect();
    for (shape, text) in [("page", &page_body), ("array", &array), ("ndjson", &ndjson)] {
        let file = TempFile::new(shape, text);
        let loaded = Sandbox::spawn(SandboxConfig {
            data: Some(file.0.clone()),
            connections: 3, // ignored
            ..SandboxConfig::default()
        })
        .unwrap();
        assert_eq!(records(&loaded), records(&generated), "{shape}");
        assert_eq!(
            served(&loaded),
            served(&generated),
            "{shape}: served the same"
        );
        let user = &records(&generated)[7].user_id;
        let query = format!("/v3/connections?filter[userId]={user}&page[size]=2&page[number]=2");
        assert_eq!(
            get_json(&loaded, &query),
            get_json(&generated, &query),
            "{shape}"
        );
    }
}

#[test]
fn loaded_connections_are_listed_newest_first_and_filtered_as_written() {
    let text = [
        connection("c-old", "u1", "v1", "live", "2024-01-01T00:00:00Z"),
        // The same instant as c-tie-b, written with an offset; earlier in the file.
        connection("c-tie-a", "u2", "v2", "live", "2024-06-01T14:00:00+02:00"),
        connection("c-new", "u1", "v3", "simulated", "2025-01-01T00:00:00.5Z"),
        connection("c-tie-b", "u1", "v4", "live", "2024-06-01T12:00:00Z"),
    ]
    .iter()
    .map(Value::to_string)
    .collect::<Vec<_>>()
    .join("\n");
    let dataset = Dataset::from_json(&text).unwrap();
    let order: Vec<&str> = dataset
        .connections()
        .iter()
        .map(|c| c.id.as_str())
        .collect();
    assert_eq!(order, ["c-new", "c-tie-a", "c-tie-b", "c-old"]);
    let first = &dataset.connections()[1];
    assert_eq!(
        first.created_at, "2024-06-01T14:00:00+02:00",
        "kept as written"
    );
    assert_eq!(first.last_used_at, None);
    assert_eq!(first.mode, Mode::Live);
    assert_eq!(first.permissions, ["read_vin", "read_odometer"]);

    let s = Sandbox::spawn_with_dataset(SandboxConfig::default(), dataset).unwrap();
    let all = records(&s);
    for (user, mode) in [
        (None, None),
        (Some("u1"), None),
        (Some("u1"), Some(Mode::Simulated)),
        (Some("u2"), Some(Mode::Live)),
        (Some(""), None),
    ] {
        let mut query = String::from("/v3/connections?page[size]=100");
        if let Some(user) = user {
            query.push_str(&format!("&filter[userId]={user}"));
        }
        if let Some(mode) = mode {
            query.push_str(&format!("&filter[vehicle.mode]={mode}"));
        }
        let (status, page) = get_json(&s, &query);
        assert_eq!(status, 200, "{query}");
        assert_eq!(ids(&page), listing(&all, user, None, mode), "{query}");
    }
    let (_, page) = get_json(&s, "/v3/connections?filter[vehicle.mode]=simulated");
    let served = &page["data"][0];
    assert_eq!(
        served["meta"],
        json!({"createdAt": "2025-01-01T00:00:00.5Z",
                                      "updatedAt": "2025-01-01T00:00:00.5Z"})
    );
    assert_eq!(served["relationships"]["user"]["data"]["id"], "u1");

    // Mutations add connections after the newest loaded one.
    let new = s.insert_connections(2);
    assert_eq!(
        records(&s)[..2].iter().map(|c| &c.id).collect::<Vec<_>>(),
        [&new[0], &new[1]]
    );
    assert!(records(&s)[1].created_at.as_str() > "2025-01-01T00:00:01Z");
}

#[test]
fn empty_files_serve_empty_listings() {
    for text in ["", " \n\n", "[]", "{\"data\": []}", "\u{feff}[ ]"] {
        let dataset = Dataset::from_json(text).unwrap();
        assert!(dataset.connections().is_empty(), "{text:?}");
        let s = Sandbox::spawn_with_dataset(SandboxConfig::default(), dataset).unwrap();
        let (status, page) = get_json(&s, "/v3/connections");
        assert_eq!(status, 200);
        assert_eq!(page["meta"]["totalCount"], 0);
        assert!(page["links"]["next"].is_null());
    }
}

/// What went wrong with `text`: (line, column, message).
fn problem(text: &str) -> (usize, usize, String) {
    let e: DataError = Dataset::from_json(text).map(|_| ()).unwrap_err();
    // The offset is where line and column point.
    let line_start: usize = text
        .split_inclusive('\n')
        .take(e.line - 1)
        .map(str::len)
        .sum();
    assert_eq!(e.offset, line_start + e.column - 1, "{e}");
    assert!(
        e.to_string()
            .starts_with(&format!("{}:{}: ", e.line, e.column)),
        "{e}"
    );
    (e.line, e.column, e.message)
}

#[test]
fn bad_files_are_errors_that_name_the_line_and_column() {
    let good = |id: &str| connection(id, "u", &format!("v-{id}"), "live", "2024-01-01T00:00:00Z");
    let line = |v: Value| v.to_string();
    let mut numeric_make = good("b");
    numeric_make["attributes"]["vehicle"]["make"] = json!(2024);
    let mut parked = good("c");
    parked["attributes"]["vehicle"]["mode"] = json!("parked");
    let mut bad_date = good("d");
    bad_date["meta"]["updatedAt"] = json!("2024-13-01");
    let mut vehicle_type = good("e");
    vehicle_type["type"] = json!("vehicle");
    let mut null_user = good("f");
    null_user["relationships"]["user"]["data"]["id"] = json!(null);
    let mut user_as_vehicle = good("g");
    user_as_vehicle["relationships"]["vehicle"]["data"]["type"] = json!("user");
    let mut fractional_year = good("h");
    fractional_year["attributes"]["vehicle"]["year"] = json!(2024.5);
    let mut attributes_array = good("i");
    attributes_array["attributes"] = json!([["read_vin"]]);

    // NDJSON: the line of the connection, the column within it.
    let ndjson = |bad: Value| format!("{}\n{}\n{}\n", line(good("a")), line(good("z")), line(bad));
    for (bad, wanted) in [
        (
            numeric_make,
            "invalid type: integer `2024`, expected a string",
        ),
        (
            parked,
            "unknown variant `parked`, expected `live` or `simulated`",
        ),
        (bad_date, "an RFC 3339 date-time"),
        (vehicle_type, "expected \"connection\""),
        (null_user, "invalid type: null, expected a string"),
        (user_as_vehicle, "expected \"vehicle\""),
        (fractional_year, "expected an integer"),
        (attributes_array, "expected an object"),
    ] {
        let (l, c, message) = problem(&ndjson(bad));
        assert_eq!(l, 3, "{message}");
        assert!(c > 1, "{message}");
        assert!(message.contains(wanted), "{message}");
    }

    let duplicate = format!("[\n  {},\n  {}\n]", line(good("a")), line(good("a")));
    let (l, c, message) = problem(&duplicate);
    assert_eq!((l, c), (3, 3), "{message}");
    assert!(
        message.contains("duplicate connection id \"a\" (first at line 2, column 3)"),
        "{message}"
    );

    // A syntax error inside a pretty-printed array: where it is.
    let (l, c, message) = problem("[\n  {\"id\": \"a\",\n   \"type\" \"connection\"}\n]");
    assert_eq!((l, c), (3, 11), "{message}");
    assert!(message.contains("expected `:`"), "{message}");
    let (l, _, message) = problem("[]\n[]");
    assert_eq!(l, 2, "{message}");
    assert!(message.contains("trailing characters"), "{message}");
    // In a page body, positions count from the file's start, not from `data`.
    let page = format!(
        "{{\n  \"meta\": {{}},\n  \"data\": [\n    {}\n  ]\n}}",
        line(json!({"id": 1}))
    );
    let (l, c, message) = problem(&page);
    assert_eq!((l, c), (4, 11), "{message}: where the 1 is");
    let (l, c, message) = problem("\n\n  42\n");
    assert_eq!((l, c), (3, 3));
    assert!(message.contains("NDJSON"), "{message}");
    let (l, _, message) = problem(&format!("{}\n{{\"id\": \n", line(good("a"))));
    assert_eq!(l, 2, "{message}");
    assert!(message.contains("EOF"), "{message}");
}

#[test]
fn a_bad_data_file_fails_the_spawn_with_its_path_and_position() {
    let file = TempFile::new(
        "bad.ndjson",
        "{\"id\": \"a\", \"type\": \"car\"}\n{\"id\": \"b\"}\n",
    );
    let Err(e) = Sandbox::spawn(SandboxConfig {
        data: Some(file.0.clone()),
        ..SandboxConfig::default()
    }) else {
        panic!("a bad file spawned");
    };
    assert_eq!(e.kind(), ErrorKind::InvalidData);
    let message = e.to_string();
    assert!(
        message.starts_with(&format!("{}:1:", file.0.display())),
        "{message}"
    );
    assert!(message.contains("expected \"connection\""), "{message}");
    let inner = e.get_ref().unwrap().downcast_ref::<DataError>().unwrap();
    assert_eq!((inner.line, inner.path.as_ref()), (1, Some(&file.0)));

    let latin1 = TempFile::new("latin1.json", b"[\n\"caf\xe9\"]".as_slice());
    let e = Dataset::load(&latin1.0).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidData);
    let inner = e.get_ref().unwrap().downcast_ref::<DataError>().unwrap();
    assert_eq!((inner.line, inner.column, inner.offset), (2, 5, 6));
    assert!(inner.message.contains("UTF-8"));

    let missing = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("no-such-sandbox-data.json");
    let e = Dataset::load(&missing).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert!(e.to_string().contains("no-such-sandbox-data.json"), "{e}");
}

#[test]
fn received_requests_are_recorded_decoded_with_credentials_redacted() {
    let s = Sandbox::spawn(SandboxConfig {
        client_id: Some("id".to_owned()),
        client_secret: Some("secret".to_owned()),
        ..SandboxConfig::default()
    })
    .unwrap();
    assert!(s.received().is_empty());
    let target =
        "/v3/connections?filter%5BuserId%5D=a+b%2Fc&filter[vehicle.mode]=live&page[size]=5";
    assert_eq!(get(&s, target, Some(s.token())).status, 200);
    assert_eq!(get(&s, "/v3/connections", Some("wrong")).status, 401);
    let answer = exchange(
        &s,
        b"GET /v3/connections HTTP/1.1\r\nHost: sandbox\r\nauthorization: BEARER sandbox-token\r\n\
          User-Agent: my-client/1.0\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(answer.status, 200, "the scheme is case-insensitive");
    let basic = "Basic aWQ6c2VjcmV0"; // id:secret
    let form = "grant_type=client_credentials";
    let token = exchange(
        &s,
        format!(
            "POST /oauth2/token HTTP/1.1\r\nHost: sandbox\r\nAuthorization: {basic}\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\
             Connection: close\r\n\r\n{form}",
            form.len()
        )
        .as_bytes(),
    );
    assert_eq!(token.status, 200);

    let received = s.received();
    assert_eq!(received.len(), 4);
    let first = &received[0];
    assert_eq!(
        (first.method.as_str(), first.path.as_str()),
        ("GET", "/v3/connections")
    );
    assert_eq!(
        first.raw_query.as_deref(),
        Some("filter%5BuserId%5D=a+b%2Fc&filter[vehicle.mode]=live&page[size]=5")
    );
    assert_eq!(first.query_value("filter[userId]"), Some("a b/c"));
    assert_eq!(first.query_value("filter[vehicle.mode]"), Some("live"));
    assert_eq!(first.query_value("page[size]"), Some("5"));
    assert_eq!(first.query_value("page[number]"), None);
    assert_eq!(first.query.len(), 3);
    assert_eq!(
        first.header("authorization"),
        Some(format!("Bearer {REDACTED}").as_str())
    );
    assert_eq!(first.header("host"), Some("sandbox"));
    assert_eq!(first.version, "HTTP/1.1");
    assert!(first.authorized);
    assert!(!received[1].authorized, "a wrong token");
    assert_eq!(
        received[2].header("authorization"),
        Some("BEARER [redacted]")
    );
    assert_eq!(received[2].header("USER-AGENT"), Some("my-client/1.0"));
    assert!(received[2].authorized);
    assert_eq!(
        (received[3].method.as_str(), received[3].path.as_str()),
        ("POST", "/oauth2/token")
    );
    assert_eq!(
        received[3].header("authorization"),
        Some("Basic [redacted]")
    );
    assert!(
        !received[3].authorized,
        "only /connections requests are authorized"
    );
    let everything = format!("{received:?}");
    for secret in ["sandbox-token", "wrong", "aWQ6c2VjcmV0"] {
        assert!(
            !everything.contains(secret),
            "{secret} leaked: {everything}"
        );
    }

    s.clear_received();
    assert!(s.received().is_empty());
    get(&s, "/elsewhere", None);
    assert_eq!(s.received().len(), 1);
    assert_eq!(s.received()[0].path, "/elsewhere");
}

#[test]
fn the_bearer_scheme_is_case_insensitive_and_nothing_else_is_loosened() {
    let s = Sandbox::spawn(SandboxConfig::default()).unwrap();
    let with = |authorization: &str| {
        exchange(
            &s,
            format!(
                "GET /v3/connections HTTP/1.1\r\nHost: sandbox\r\nAuthorization: {authorization}\r\n\
                 Connection: close\r\n\r\n"
            )
            .as_bytes(),
        )
        .status
    };
    for ok in [
        "Bearer sandbox-token",
        "bearer sandbox-token",
        "BEARER sandbox-token",
        "bEaReR  sandbox-token",
    ] {
        assert_eq!(with(ok), 200, "{ok}");
    }
    for refused in [
        "Bearer Sandbox-Token",
        "Bearer sandbox-token2",
        "Basic sandbox-token",
        "Bearersandbox-token",
        "sandbox-token",
        "Bearer",
        "Token sandbox-token",
    ] {
        assert_eq!(with(refused), 401, "{refused}");
    }
}

/// The sandbox serving `text` as its data file.
fn serving(name: &str, text: &str) -> (Sandbox, TempFile) {
    let file = TempFile::new(name, text);
    let s = Sandbox::spawn(SandboxConfig {
        data: Some(file.0.clone()),
        ..SandboxConfig::default()
    })
    .unwrap_or_else(|e| panic!("{name}: {e}"));
    (s, file)
}

/// The `data` text served for `target`, with the sandbox's token and no gzip.
fn served_text(s: &Sandbox, target: &str) -> String {
    let answer = get(s, target, Some(s.token()));
    assert_eq!(answer.status, 200, "{target}");
    data_text(&answer)
}

#[test]
fn every_connection_the_contract_allows_is_served_back_byte_for_byte() {
    let [(_, only_id), (_, every), (_, odd)] = ODD_CONNECTIONS;
    // An array with odd spacing around its items.
    let text = format!("[\n  {only_id} ,\n{every},\n\t{odd}\n]\n");
    // The oracle: each connection's text as it stands in the file.
    let in_file = |connection: &str| {
        let start = text.find(connection).unwrap();
        text[start..start + connection.len()].to_owned()
    };
    let (s, _file) = serving("odd.json", &text);
    // Live by default: the odd one (dated), then the one without `mode` or `createdAt`,
    // which is listed as live and after every dated connection.
    assert_eq!(
        served_text(&s, "/v3/connections"),
        [in_file(odd), in_file(only_id)].join(",")
    );
    assert_eq!(
        served_text(&s, "/v3/connections?filter[vehicle.mode]=simulated"),
        in_file(every)
    );
    assert_eq!(
        served_text(
            &s,
            "/v3/connections?filter[vehicle.mode]=live&page[size]=1&page[number]=2"
        ),
        in_file(only_id)
    );
    // Filters read the values, escapes decoded: the odd one's user is `u-é`.
    assert_eq!(
        served_text(&s, "/v3/connections?filter[userId]=u-%C3%A9"),
        in_file(odd)
    );
    assert_eq!(
        served_text(
            &s,
            "/v3/connections?filter[userId]=u-every&filter[vehicleId]=v-every&filter[vehicle.mode]=simulated"
        ),
        in_file(every)
    );
    // Without a user, the only-id connection is selected by no user filter.
    assert_eq!(served_text(&s, "/v3/connections?filter[userId]="), "");

    // Each shape serves the text as written: NDJSON lines, and a file of one connection.
    // An integer beyond u64 too (which a validator reading it into an f64 would refuse).
    let huge = r#"{"id":"huge","attributes":{"vehicle":{"year":123456789012345678901234567890}}}"#;
    let ndjson = format!("{odd}\r\n\n{only_id}\n {huge}\n");
    let (s, _file) = serving("odd.ndjson", &ndjson);
    assert_eq!(
        served_text(&s, "/v3/connections"),
        format!("{odd},{only_id},{huge}")
    );
    for (name, connection) in ODD_CONNECTIONS {
        let (s, _file) = serving("one.json", &format!("{connection}\n"));
        let mode = if name == "every field" {
            "simulated"
        } else {
            "live"
        };
        assert_eq!(
            served_text(&s, &format!("/v3/connections?filter[vehicle.mode]={mode}")),
            connection,
            "{name}"
        );
    }
}

#[test]
fn left_out_fields_are_absent_to_the_filters_and_empty_ids_are_ids() {
    let text = [
        r#"{"id":"dated","meta":{"createdAt":"2020-01-01T00:00:00Z"}}"#,
        r#"{}"#,
        r#"{"id":"no-user","relationships":{"vehicle":{"data":{"id":""}}}}"#,
        r#"{"id":"empty-user","relationships":{"user":{"data":{"id":""}}}}"#,
        r#"{"id":"newest","meta":{"createdAt":"2021-01-01T00:00:00Z"}}"#,
    ];
    let (s, _file) = serving("absent.ndjson", &text.join("\n"));
    let [dated, nothing, no_user, empty_user, newest] = text;
    assert_eq!(
        served_text(&s, "/v3/connections"),
        [newest, dated, nothing, no_user, empty_user].join(","),
        "dated newest first, then the undated in the file's order"
    );
    assert_eq!(
        served_text(&s, "/v3/connections?filter[userId]="),
        empty_user
    );
    assert_eq!(
        served_text(&s, "/v3/connections?filter[vehicleId]="),
        no_user
    );
    assert_eq!(
        served_text(&s, "/v3/connections?filter[vehicle.mode]=simulated"),
        ""
    );
    let (_, page) = get_json(&s, "/v3/connections?page[size]=2");
    assert_eq!(page["meta"]["totalCount"], 5);
    assert!(page["links"]["next"].is_string());

    // Ids, when given, are still distinct, the empty one included.
    let (l, _, message) = problem("{\"id\":\"\"}\n{\"id\":\"\"}\n");
    assert_eq!(l, 2);
    assert!(
        message.contains("duplicate connection id \"\""),
        "{message}"
    );
    // Connections without ids are not duplicates of each other.
    assert_eq!(
        Dataset::from_json("{}\n{}\n").unwrap().connections().len(),
        2
    );
}
