//! The sandbox against the contract's own schemas: every answer it gives, pages and errors,
//! is validated with a JSON Schema validator against the schemas read from the OpenAPI
//! document (`tests/fixtures/connections.openapi.yml`, a copy of the shared spec), and its
//! parameter handling is checked against the parameters' schemas (defaults, enums, types).
//! Nothing here restates the schemas as Rust types: they come from the YAML.
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod common;

use std::io::Read as _;
use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;

use common::{Answer, ODD_CONNECTIONS, exchange, get, ids};
use connections_sandbox::{Bucket, Mode, Sandbox, SandboxConfig};
use jsonschema::Validator;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Value, json};

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/connections.openapi.yml"
);
/// The original, beside the repository on a developer's machine; absent on a clean clone.
const SHARED: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/spec/connections.openapi.yml"
);

fn read_yaml(path: &str) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The OpenAPI document, as JSON.
fn spec() -> &'static Value {
    static SPEC: OnceLock<Value> = OnceLock::new();
    SPEC.get_or_init(|| read_yaml(FIXTURE))
}

/// Follows a local `$ref` (`#/components/...`) if `value` is one.
fn deref(value: &Value) -> &Value {
    match value.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let pointer = r.strip_prefix('#').unwrap();
            deref(spec().pointer(pointer).unwrap_or_else(|| panic!("{r}")))
        }
        None => value,
    }
}

#[test]
fn the_fixture_is_the_shared_spec() {
    if !Path::new(SHARED).exists() {
        eprintln!("note: {SHARED} is absent (a clean clone); the fixture stands on its own");
        return;
    }
    let shared = read_yaml(SHARED);
    for part in ["openapi", "paths", "components", "servers", "security"] {
        assert_eq!(
            spec()[part],
            shared[part],
            "tests/fixtures/connections.openapi.yml's {part} differs from {SHARED}: copy it again"
        );
    }
}

/// OpenAPI 3.0's schema dialect to JSON Schema draft 4 (which it extends): `nullable: true`
/// becomes a `type` union with `null`. With `strict`, every object schema that lists
/// `properties` also forbids other properties, so a misspelt or invented field fails;
/// `MetaAttributes` then also allows `lastUsedAt` (a date-time or null), which the spec's
/// own example of it shows.
fn to_json_schema(schema: &Value, strict: bool) -> Value {
    match schema {
        Value::Object(map) => {
            let mut out = serde_json::Map::new();
            for (k, v) in map {
                if k == "nullable" {
                    continue;
                }
                out.insert(k.clone(), to_json_schema(v, strict));
            }
            if map.get("nullable") == Some(&Value::Bool(true)) {
                if let Some(Value::String(t)) = map.get("type") {
                    out.insert("type".into(), json!([t, "null"]));
                }
                if let Some(Value::Array(e)) = out.get_mut("enum") {
                    e.push(Value::Null);
                }
            }
            if strict && map.contains_key("properties") {
                out.insert("additionalProperties".into(), json!(false));
            }
            Value::Object(out)
        }
        Value::Array(items) => {
            Value::Array(items.iter().map(|v| to_json_schema(v, strict)).collect())
        }
        other => other.clone(),
    }
}

/// A validator for `components/schemas/{name}`: a document holding every component schema,
/// whose root refers to the one wanted, so `$ref`s resolve as in the spec.
fn validator(name: &str, strict: bool) -> Validator {
    let mut schemas = to_json_schema(&spec()["components"]["schemas"], strict);
    if strict {
        schemas["MetaAttributes"]["properties"]["lastUsedAt"] =
            json!({"type": ["string", "null"], "format": "date-time"});
    }
    assert!(schemas.get(name).is_some(), "no schema {name}");
    let root = json!({
        "allOf": [{"$ref": format!("#/components/schemas/{name}")}],
        "components": {"schemas": schemas},
    });
    jsonschema::draft4::options()
        .should_validate_formats(true)
        .build(&root)
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Both validators of a schema: as the spec says, and strict.
struct Check {
    loose: Validator,
    strict: Validator,
}

impl Check {
    fn new(name: &str) -> Self {
        Check {
            loose: validator(name, false),
            strict: validator(name, true),
        }
    }

    fn errors(&self, instance: &Value) -> Vec<String> {
        self.loose
            .iter_errors(instance)
            .chain(self.strict.iter_errors(instance))
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect()
    }

    fn assert_valid(&self, label: &str, instance: &Value) {
        let errors = self.errors(instance);
        assert!(errors.is_empty(), "{label}: {errors:#?}\n{instance:#}");
    }
}

/// The schema name of the JSON answer the spec documents for `status` on GET /connections;
/// `None` for statuses it does not list.
fn documented_schema(status: u16) -> Option<String> {
    let responses = &spec()["paths"]["/connections"]["get"]["responses"];
    let response = deref(responses.get(status.to_string())?);
    let schema = &response["content"]["application/json"]["schema"];
    let name = schema["$ref"].as_str()?.rsplit('/').next()?;
    Some(name.to_owned())
}

/// The spec's example error for `status`, if it gives one.
fn example_error(status: u16) -> Option<Value> {
    let responses = &spec()["paths"]["/connections"]["get"]["responses"];
    let response = deref(responses.get(status.to_string())?);
    let example = response["content"]["application/json"].get("example")?;
    Some(example["errors"][0].clone())
}

/// The body as JSON, inflated if it came gzip-compressed.
fn json_body(answer: &Answer) -> Value {
    let plain = if answer.header("content-encoding") == Some("gzip") {
        let mut plain = Vec::new();
        flate2::read::GzDecoder::new(&answer.body[..])
            .read_to_end(&mut plain)
            .unwrap();
        plain
    } else {
        answer.body.clone()
    };
    serde_json::from_slice(&plain)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&plain)))
}

/// Validates one answer: the schema the spec documents for its status, or the v3
/// `ErrorResponse` for an error status the spec does not list (405, 429, 503); JSON content
/// type; an error's `status` string, `meta.debug.requestId` and, where the spec has an
/// example for the status, its `type` and `links.about`.
fn check_answer(label: &str, answer: &Answer, checks: &mut Checks) -> Value {
    assert_eq!(
        answer.header("content-type"),
        Some("application/json"),
        "{label}"
    );
    let body = json_body(answer);
    let name = documented_schema(answer.status).unwrap_or_else(|| {
        assert!(
            answer.status >= 400,
            "{label}: {} is undocumented",
            answer.status
        );
        "ErrorResponse".to_owned()
    });
    checks.get(&name).assert_valid(label, &body);
    if answer.status >= 400 {
        let entry = &body["errors"][0];
        assert_eq!(entry["status"], answer.status.to_string(), "{label}");
        assert_eq!(
            entry["meta"]["debug"]["requestId"].as_str(),
            answer.header("sc-request-id"),
            "{label}"
        );
        if let Some(example) = example_error(answer.status) {
            assert_eq!(entry["type"], example["type"], "{label}");
            assert_eq!(
                entry["links"]["about"], example["links"]["about"],
                "{label}"
            );
        }
    }
    checks.validated += 1;
    body
}

/// Validators made once per schema name.
#[derive(Default)]
struct Checks {
    made: Vec<(String, Check)>,
    validated: usize,
}

impl Checks {
    fn get(&mut self, name: &str) -> &Check {
        if let Some(i) = self.made.iter().position(|(n, _)| n == name) {
            return &self.made[i].1;
        }
        self.made.push((name.to_owned(), Check::new(name)));
        &self.made.last().unwrap().1
    }
}

fn encode(value: &str) -> String {
    utf8_percent_encode(value, NON_ALPHANUMERIC).to_string()
}

#[test]
fn the_validators_accept_the_specs_examples_and_reject_broken_bodies() {
    let mut checks = Checks::default();
    // The spec's own examples pass, so the conversion did not make the schemas stricter.
    for status in [400, 401, 403, 404, 500] {
        let example = example_error(status).unwrap();
        checks
            .get("ErrorResponse")
            .assert_valid(&status.to_string(), &json!({ "errors": [example] }));
    }
    for name in [
        "PagingLinks",
        "PagingMetaAttributes",
        "ConnectionAttributes",
    ] {
        let example = &spec()["components"]["schemas"][name]["example"];
        checks.get(name).assert_valid(name, example);
    }

    // A real page, then broken copies of it: each must fail, or the check is vacuous.
    let s = Sandbox::spawn(SandboxConfig::default()).unwrap();
    let page = json_body(&get(&s, "/v3/connections?page[size]=3", Some(s.token())));
    checks
        .get("ConnectionsResponse")
        .assert_valid("page", &page);
    type Break = fn(&mut Value);
    let breaks: [(&str, Break, bool); 10] = [
        (
            "a null self link",
            |p| p["links"]["self"] = Value::Null,
            true,
        ),
        (
            "no prev link",
            |p| {
                p["links"].as_object_mut().unwrap().remove("prev");
            },
            true,
        ),
        (
            "a string page number",
            |p| p["meta"]["pageNumber"] = json!("1"),
            true,
        ),
        (
            "an unknown order direction",
            |p| p["meta"]["orderDirection"] = json!("UP"),
            true,
        ),
        (
            "an unknown mode",
            |p| p["data"][0]["attributes"]["vehicle"]["mode"] = json!("parked"),
            true,
        ),
        (
            "another type",
            |p| p["data"][0]["type"] = json!("vehicle"),
            true,
        ),
        (
            "a vehicle typed car",
            |p| p["data"][0]["relationships"]["vehicle"]["data"]["type"] = json!("car"),
            true,
        ),
        (
            "a date that is not one",
            |p| p["data"][0]["meta"]["createdAt"] = json!("yesterday"),
            true,
        ),
        (
            "a fractional year",
            |p| p["data"][0]["attributes"]["vehicle"]["year"] = json!(2020.5),
            true,
        ),
        // Only the strict validator knows which fields exist.
        (
            "an invented field",
            |p| p["meta"]["pagesize"] = json!(3),
            false,
        ),
    ];
    for (what, break_it, loose_fails) in breaks {
        let mut broken = page.clone();
        break_it(&mut broken);
        let check = checks.get("ConnectionsResponse");
        assert!(!check.strict.is_valid(&broken), "strict accepted {what}");
        assert_eq!(
            !check.loose.is_valid(&broken),
            loose_fails,
            "loose and {what}"
        );
    }
    let error = json!({"errors": [{"status": 400, "type": "VALIDATION", "code": "X",
        "title": "t", "detail": "d"}]});
    assert!(
        !checks.get("ErrorResponse").loose.is_valid(&error),
        "a numeric status"
    );
    let error = json!({"errors": [{"status": "400", "type": "OOPS", "code": "X",
        "title": "t", "detail": "d"}]});
    assert!(
        !checks.get("ErrorResponse").loose.is_valid(&error),
        "an unknown type"
    );
    assert!(
        !checks
            .get("ErrorResponse")
            .loose
            .is_valid(&json!({"errors": []}))
    );
}

#[test]
fn every_kind_of_page_validates() {
    let mut checks = Checks::default();
    for absolute_links in [false, true] {
        let s = Sandbox::spawn(SandboxConfig {
            connections: 45,
            absolute_links,
            ..SandboxConfig::default()
        })
        .unwrap();
        let d = s.dataset();
        let records = d.connections();
        let simulated = records.iter().find(|c| c.mode == Mode::Simulated).unwrap();
        let live = records.iter().find(|c| c.mode == Mode::Live).unwrap();
        let (user, vehicle) = (encode(&live.user_id), encode(&live.vehicle_id));
        let (sim_user, sim_vehicle) = (encode(&simulated.user_id), encode(&simulated.vehicle_id));
        let targets = [
            String::new(),
            "?page[size]=1".to_owned(),
            "?page[size]=1000".to_owned(),
            "?page[number]=2&page[size]=10".to_owned(),
            "?page[number]=4&page[size]=10".to_owned(), // the last page or past it
            "?page[number]=99".to_owned(),              // past the end: empty
            "?filter[vehicle.mode]=live".to_owned(),
            "?filter[vehicle.mode]=simulated&page[size]=2".to_owned(),
            format!("?filter[userId]={user}"),
            format!("?filter[userId]={sim_user}&filter[vehicle.mode]=simulated"),
            format!("?filter[vehicleId]={vehicle}"),
            format!("?filter[vehicleId]={sim_vehicle}"), // simulated, default live: empty
            format!(
                "?filter[userId]={sim_user}&filter[vehicleId]={sim_vehicle}&filter[vehicle.mode]=simulated"
            ),
            "?filter[userId]=".to_owned(), // no generated id is empty: nothing
            "?filter[vehicleId]=&filter[userId]=".to_owned(),
            "?filter[userId]=nobody%20at%20all&page[number]=3".to_owned(),
            "?filter%5BuserId%5D=%E2%9C%93&page%5Bsize%5D=5".to_owned(),
            "?unknown=1&page[size]=5".to_owned(),
        ];
        let mut empty = 0;
        for target in &targets {
            let target = format!("/v3/connections{target}");
            for accept in ["", "Accept-Encoding: gzip\r\n"] {
                let answer = exchange(
                    &s,
                    format!(
                        "GET {target} HTTP/1.1\r\nHost: sandbox\r\nAuthorization: Bearer {}\r\n\
                         {accept}Connection: close\r\n\r\n",
                        s.token()
                    )
                    .as_bytes(),
                );
                assert_eq!(answer.status, 200, "{target}");
                let page = check_answer(&target, &answer, &mut checks);
                if page["data"].as_array().unwrap().is_empty() {
                    empty += 1;
                }
            }
        }
        assert!(empty >= 10, "empty pages were checked too ({empty})");
    }
    assert!(checks.validated >= 70, "{}", checks.validated);
}

/// A request with `method`, the sandbox's token and no body.
fn request(s: &Sandbox, method: &str, target: &str) -> Answer {
    exchange(
        s,
        format!(
            "{method} {target} HTTP/1.1\r\nHost: sandbox\r\nAuthorization: Bearer {}\r\n\
             Content-Length: 0\r\nConnection: close\r\n\r\n",
            s.token()
        )
        .as_bytes(),
    )
}

#[test]
fn every_kind_of_error_validates_with_the_about_link_of_its_type() {
    let mut checks = Checks::default();
    let s = Sandbox::spawn(SandboxConfig {
        client_id: Some("id".to_owned()),
        client_secret: Some("secret".to_owned()),
        token_lifetime: Duration::ZERO,
        ..SandboxConfig::default()
    })
    .unwrap();
    for query in [
        "page[size]=0",
        "page[number]=abc",
        "page[number]=-1",
        "page[size]=1e3",
        "page[size]=99999999999999999999999",
        "filter[vehicle.mode]=parked",
        "filter[vehicle.mode]=Live",
        "page[number]=1&page[number]=2",
    ] {
        let answer = get(&s, &format!("/v3/connections?{query}"), Some(s.token()));
        assert_eq!(answer.status, 400, "{query}");
        let body = check_answer(query, &answer, &mut checks);
        assert_eq!(body["errors"][0]["code"], "BAD_REQUEST");
    }

    // An expired token: the token endpoint's tokens live 0 s here.
    let form = "grant_type=client_credentials&client_id=id&client_secret=secret";
    let issued = exchange(
        &s,
        format!(
            "POST /oauth2/token HTTP/1.1\r\nHost: sandbox\r\n\
             Content-Type: application/x-www-form-urlencoded\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{form}",
            form.len()
        )
        .as_bytes(),
    );
    let expired = json_body(&issued)["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    for (label, token) in [
        ("no token", None),
        ("a wrong token", Some("wrong")),
        ("an expired token", Some(expired.as_str())),
    ] {
        let answer = get(&s, "/v3/connections", token);
        assert_eq!(answer.status, 401, "{label}");
        assert_eq!(answer.header("www-authenticate"), Some("Bearer"), "{label}");
        check_answer(label, &answer, &mut checks);
    }
    assert_eq!(s.faults().expired_tokens, 1);

    for path in [
        "/v3/nowhere",
        "/v3/connections/",
        "/",
        "/v2/connections",
        "/V3/connections",
    ] {
        let answer = get(&s, path, Some(s.token()));
        assert_eq!(answer.status, 404, "{path}");
        check_answer(path, &answer, &mut checks);
    }

    for method in ["POST", "PUT", "PATCH", "DELETE", "OPTIONS"] {
        let answer = request(&s, method, "/v3/connections");
        assert_eq!(answer.status, 405, "{method}");
        assert_eq!(answer.header("allow"), Some("GET"), "{method}");
        let body = check_answer(method, &answer, &mut checks);
        assert_eq!(body["errors"][0]["type"], "VALIDATION");
        assert_eq!(
            body["errors"][0]["links"]["about"],
            "https://smartcar.com/docs/errors/api-errors/v3/validation-errors"
        );
    }
    let head = request(&s, "HEAD", "/v3/connections");
    assert_eq!((head.status, head.header("allow")), (405, Some("GET")));

    let limited = Sandbox::spawn(SandboxConfig {
        rate_limit: Some(1),
        ..SandboxConfig::default()
    })
    .unwrap();
    let answers: Vec<Answer> = (0..3)
        .map(|_| get(&limited, "/v3/connections", Some(limited.token())))
        .collect();
    let answer = answers.iter().find(|a| a.status == 429).unwrap();
    let body = check_answer("429", answer, &mut checks);
    assert_eq!(body["errors"][0]["type"], "RATE_LIMIT");
    assert_eq!(
        body["errors"][0]["links"]["about"],
        "https://smartcar.com/docs/errors/api-errors/v3/rate-limit-errors"
    );

    let failing = Sandbox::spawn(SandboxConfig {
        failure_rate: 1.0,
        ..SandboxConfig::default()
    })
    .unwrap();
    let mut seen = Vec::new();
    for _ in 0..12 {
        let answer = get(&failing, "/v3/connections", Some(failing.token()));
        let body = check_answer("injected", &answer, &mut checks);
        let (kind, about) = match answer.status {
            500 => ("SERVER", "server-errors"),
            503 => ("UPSTREAM", "upstream-errors"),
            other => panic!("{other}"),
        };
        assert_eq!(body["errors"][0]["type"], kind);
        assert_eq!(
            body["errors"][0]["links"]["about"],
            format!("https://smartcar.com/docs/errors/api-errors/v3/{about}")
        );
        seen.push(answer.status);
    }
    assert!(seen.contains(&500) && seen.contains(&503), "{seen:?}");
}

#[test]
fn the_buckets_429s_and_capped_pages_validate() {
    let mut checks = Checks::default();
    for bucket_retry_after in [false, true] {
        let s = Sandbox::spawn(SandboxConfig {
            bucket: Some(Bucket {
                capacity: 1,
                refill_interval: Duration::from_secs(3600),
            }),
            bucket_retry_after,
            ..SandboxConfig::default()
        })
        .unwrap();
        assert_eq!(get(&s, "/v3/connections", Some(s.token())).status, 200);
        let answer = get(&s, "/v3/connections", Some(s.token()));
        assert_eq!(answer.status, 429);
        assert_eq!(
            answer.header("retry-after").is_some(),
            bucket_retry_after,
            "retry-after only when asked"
        );
        let body = check_answer("bucket 429", &answer, &mut checks);
        assert_eq!(body["errors"][0]["type"], "RATE_LIMIT");
        assert_eq!(body["errors"][0]["code"], "SMARTCAR_API");
        assert_eq!(
            body["errors"][0]["links"]["about"],
            "https://smartcar.com/docs/errors/api-errors/v3/rate-limit-errors"
        );
    }
    let capped = Sandbox::spawn(SandboxConfig {
        connections: 200,
        max_page_size: Some(7),
        ..SandboxConfig::default()
    })
    .unwrap();
    for query in [
        "",
        "?page[size]=100",
        "?page[number]=3&page[size]=8",
        "?page[number]=999",
    ] {
        let answer = get(
            &capped,
            &format!("/v3/connections{query}"),
            Some(capped.token()),
        );
        assert_eq!(answer.status, 200, "{query}");
        let page = check_answer(query, &answer, &mut checks);
        assert_eq!(page["meta"]["pageSize"], 7, "{query}");
    }
    assert_eq!(checks.validated, 6);
}

#[test]
fn pages_of_odd_data_files_validate() {
    let text = format!(
        "[{}]",
        ODD_CONNECTIONS.map(|(_, connection)| connection).join(",")
    );
    let file = std::env::temp_dir().join(format!("sandbox-schema-odd-{}.json", std::process::id()));
    std::fs::write(&file, text).unwrap();
    let spawned = Sandbox::spawn(SandboxConfig {
        data: Some(file.clone()),
        ..SandboxConfig::default()
    });
    std::fs::remove_file(&file).unwrap();
    let s = spawned.unwrap();
    let loose = validator("ConnectionsResponse", false);
    let strict = validator("ConnectionResponse", true);
    let mut served = Vec::new();
    for mode in ["live", "simulated"] {
        let target = format!("/v3/connections?filter[vehicle.mode]={mode}");
        let answer = get(&s, &target, Some(s.token()));
        assert_eq!(answer.status, 200, "{target}");
        // As the contract says (other fields allowed)...
        let page = json_body(&answer);
        let errors: Vec<String> = loose.iter_errors(&page).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{target}: {errors:#?}");
        for connection in page["data"].as_array().unwrap() {
            let id = connection["id"].as_str().unwrap().to_owned();
            // ...and strictly (no other fields) for the connections that have none.
            if id != "c-\u{e9}\u{1f697} \"odd\" \\ /" {
                assert!(strict.is_valid(connection), "{id}: {connection:#}");
            }
            served.push(id);
        }
    }
    served.sort();
    assert_eq!(
        served,
        ["c-every", "c-\u{e9}\u{1f697} \"odd\" \\ /", "only-id"],
        "every connection was checked"
    );
}

/// The parameters the spec defines for GET /connections, by name, resolved.
fn parameters() -> Vec<Value> {
    spec()["paths"]["/connections"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| deref(p).clone())
        .collect()
}

fn parameter(name: &str) -> Value {
    parameters()
        .into_iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("the spec has no parameter {name}"))
}

#[test]
fn parameters_follow_their_schemas_defaults_and_enums() {
    let s = Sandbox::spawn(SandboxConfig {
        connections: 40,
        ..SandboxConfig::default()
    })
    .unwrap();
    let fetch = |query: &str| {
        let answer = get(&s, &format!("/v3/connections?{query}"), Some(s.token()));
        let body = json_body(&answer);
        (answer.status, body)
    };
    let names: Vec<String> = parameters()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        names,
        [
            "filter[userId]",
            "filter[vehicleId]",
            "filter[vehicle.mode]",
            "page[number]",
            "page[size]"
        ]
    );
    assert!(
        parameters()
            .iter()
            .all(|p| p["in"] == "query" && p["required"] == false)
    );

    // Defaults: what a request without the parameter gets is what the default asks for.
    let mode = parameter("filter[vehicle.mode]");
    let default_mode = mode["schema"]["default"].as_str().unwrap();
    assert_eq!(
        default_mode,
        common::DEFAULT_MODE.as_str(),
        "the tests' oracle agrees"
    );
    let (_, without) = fetch("page[size]=100");
    let (_, with) = fetch(&format!(
        "filter[vehicle.mode]={default_mode}&page[size]=100"
    ));
    assert_eq!(ids(&without), ids(&with));
    assert_eq!(without["meta"]["totalCount"], with["meta"]["totalCount"]);
    let number_default = parameter("page[number]")["schema"]["default"].clone();
    let size_default = parameter("page[size]")["schema"]["default"].clone();
    let (_, plain) = fetch("");
    assert_eq!(plain["meta"]["pageNumber"], number_default);
    assert_eq!(plain["meta"]["pageSize"], size_default);

    // Every enum value is accepted and lists only its own mode; nothing else is.
    let mut total = 0;
    for value in mode["schema"]["enum"].as_array().unwrap() {
        let value = value.as_str().unwrap();
        let (status, page) = fetch(&format!("filter[vehicle.mode]={value}&page[size]=100"));
        assert_eq!(status, 200, "{value}");
        let modes: Vec<&Value> = page["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| &c["attributes"]["vehicle"]["mode"])
            .collect();
        assert!(modes.iter().all(|m| *m == value), "{value}: {modes:?}");
        total += page["meta"]["totalCount"].as_u64().unwrap();
    }
    assert_eq!(total, 40, "the enum's modes cover every connection");
    for value in ["", "LIVE", "all", "live,simulated", "simulated "] {
        let (status, _) = fetch(&format!("filter[vehicle.mode]={}", encode(value)));
        assert_eq!(status, 400, "{value:?}");
    }

    // The id filters are plain strings: any string, the empty one included, is a valid
    // request; one no connection has gets an empty page.
    for name in ["filter[userId]", "filter[vehicleId]"] {
        assert_eq!(parameter(name)["schema"]["type"], "string");
        for value in [
            "",
            " ",
            "ünïcødé ✓",
            "a&b=c",
            "[]",
            "%",
            "x".repeat(2000).as_str(),
        ] {
            let (status, page) = fetch(&format!("{}={}", encode(name), encode(value)));
            assert_eq!(status, 200, "{name}={value:?}");
            assert!(ids(&page).is_empty(), "{name}={value:?}");
            assert_eq!(page["meta"]["totalCount"], 0);
        }
    }

    // The page parameters are integers: decimal integers of at least 1 are served, anything
    // else (not an integer, or an integer that names no page size or page) is a 400.
    for name in ["page[number]", "page[size]"] {
        assert_eq!(parameter(name)["schema"]["type"], "integer");
        for value in ["1", "2", "10", "+3", "007", "9223372036854775807"] {
            let (status, page) = fetch(&format!("{name}={}", encode(value)));
            assert_eq!(status, 200, "{name}={value}");
            let field = if name == "page[number]" {
                "pageNumber"
            } else {
                "pageSize"
            };
            assert_eq!(
                page["meta"][field],
                value.parse::<u64>().unwrap(),
                "{name}={value}"
            );
        }
        for value in [
            "0",
            "-1",
            "abc",
            "",
            "1.0",
            "1e2",
            " 1",
            "0x10",
            "9223372036854775808",
        ] {
            let (status, body) = fetch(&format!("{name}={}", encode(value)));
            assert_eq!(status, 400, "{name}={value:?}");
            let detail = body["errors"][0]["detail"].as_str().unwrap();
            assert!(detail.contains(name), "{detail}");
        }
    }
}
