//! The sandbox against the contract, spoken to over plain TCP and read with the core.
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod common;

use std::time::{Duration, Instant};

use common::{Answer, default_listing, get, get_json, ids, listing, page_of};
use connections_core::{
    AccessToken, BaseUrl, ErrorType, ListConnections, Mode, Paginator, ResponseError,
};
use connections_sandbox::{Mode as SandboxMode, Sandbox, SandboxConfig};

fn sandbox(config: SandboxConfig) -> Sandbox {
    Sandbox::spawn(config).unwrap()
}

/// Lists everything `request` selects by following the sandbox's links with the core.
fn list_all(sandbox: &Sandbox, request: ListConnections<'_>) -> Vec<String> {
    let base = BaseUrl::parse(sandbox.base_url()).unwrap();
    let token = AccessToken::new(sandbox.token()).unwrap();
    let mut pages = Paginator::new(base.clone(), request);
    let mut ids = Vec::new();
    while let Some(next) = pages.next_request() {
        let mut target = String::new();
        next.parts(&base, &token)
            .write_path_and_query(&mut target)
            .unwrap();
        let answer = get(sandbox, &target, Some(sandbox.token()));
        assert_eq!(
            answer.status,
            200,
            "{}",
            String::from_utf8_lossy(&answer.body)
        );
        let page = answer.decode().unwrap();
        ids.extend(page.connections().iter().filter_map(|c| c.id.clone()));
        pages.feed(&page).unwrap();
    }
    ids
}

#[test]
fn full_listings_match_the_records_for_every_filter_and_page_size() {
    for absolute_links in [false, true] {
        let s = sandbox(SandboxConfig {
            connections: 60,
            absolute_links,
            ..SandboxConfig::default()
        });
        let d = s.dataset();
        let records = d.connections();
        let live = |mode| mode == SandboxMode::Live;
        let live_user = records
            .iter()
            .find(|c| live(c.mode))
            .unwrap()
            .user_id
            .clone();
        let live_vehicle = records
            .iter()
            .find(|c| live(c.mode))
            .unwrap()
            .vehicle_id
            .clone();
        let simulated_vehicle = records
            .iter()
            .find(|c| !live(c.mode))
            .unwrap()
            .vehicle_id
            .clone();
        let user_with_both = records
            .iter()
            .find(|c| {
                !live(c.mode)
                    && records
                        .iter()
                        .any(|o| o.user_id == c.user_id && live(o.mode))
            })
            .map(|c| c.user_id.clone())
            .expect("a user with a live and a simulated vehicle");
        let (u, v, sv, both) = (
            &*live_user,
            &*live_vehicle,
            &*simulated_vehicle,
            &*user_with_both,
        );
        let cases = [
            (
                listing(records, None, None, None),
                ListConnections::builder(),
            ),
            (
                listing(records, None, None, Some(SandboxMode::Simulated)),
                ListConnections::builder().mode(Mode::Simulated),
            ),
            (
                listing(records, None, None, Some(SandboxMode::Live)),
                ListConnections::builder().mode(Mode::Live),
            ),
            (
                listing(records, Some(u), None, Some(SandboxMode::Live)),
                ListConnections::builder().user_id(u).mode(Mode::Live),
            ),
            (
                listing(records, Some(both), None, None),
                ListConnections::builder().user_id(both),
            ),
            (
                listing(records, Some(both), None, Some(SandboxMode::Simulated)),
                ListConnections::builder()
                    .user_id(both)
                    .mode(Mode::Simulated),
            ),
            (
                listing(records, None, Some(v), None),
                ListConnections::builder().vehicle_id(v),
            ),
            (
                listing(records, None, Some(sv), Some(SandboxMode::Simulated)),
                ListConnections::builder()
                    .vehicle_id(sv)
                    .mode(Mode::Simulated),
            ),
            (
                listing(records, Some(both), Some(sv), Some(SandboxMode::Simulated)),
                ListConnections::builder()
                    .user_id(both)
                    .vehicle_id(sv)
                    .mode(Mode::Simulated),
            ),
        ];
        for (expected, builder) in cases {
            assert!(!expected.is_empty(), "{builder:?} selects something");
            for size in [1, 7, 10, 100] {
                let request = builder.clone().page_size(size).build().unwrap();
                assert_eq!(list_all(&s, request), expected, "{builder:?} size {size}");
            }
        }
        // The default mode is live: a simulated vehicle is not listed without its mode.
        let request = ListConnections::builder().vehicle_id(sv).build().unwrap();
        assert!(list_all(&s, request).is_empty());
        // Filters combine: a vehicle with another user's id selects nothing, in either mode.
        let other = &records.iter().find(|c| c.user_id != u).unwrap().user_id;
        for mode in [Mode::Live, Mode::Simulated] {
            let wanted = match mode {
                Mode::Live => SandboxMode::Live,
                _ => SandboxMode::Simulated,
            };
            let expected = listing(records, Some(other), Some(v), Some(wanted));
            assert!(expected.is_empty());
            let request = ListConnections::builder()
                .user_id(other)
                .vehicle_id(v)
                .mode(mode)
                .build()
                .unwrap();
            assert_eq!(list_all(&s, request), expected, "{other} with {v}");
        }
        let request = ListConnections::builder()
            .user_id(u)
            .vehicle_id(v)
            .build()
            .unwrap();
        assert_eq!(
            list_all(&s, request),
            listing(records, Some(u), Some(v), None)
        );
    }
}

#[test]
fn pages_carry_meta_links_and_a_request_id() {
    let s = sandbox(SandboxConfig {
        connections: 35,
        ..SandboxConfig::default()
    });
    let live = default_listing(s.dataset().connections());
    let (total, last) = (live.len(), live.len().div_ceil(10));
    assert!(
        last >= 3,
        "{total} live connections make at least three pages"
    );
    let answer = get(
        &s,
        "/v3/connections?page[number]=2&page[size]=10",
        Some(s.token()),
    );
    assert!(
        answer
            .header("sc-request-id")
            .is_some_and(|id| id.starts_with("sbx-"))
    );
    assert_eq!(answer.header("content-type"), Some("application/json"));
    let page: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
    assert_eq!(
        page["meta"],
        serde_json::json!({
            "pageNumber": 2, "pageSize": 10, "totalCount": total,
            "orderBy": "createdAt", "orderDirection": "DESC",
        })
    );
    assert_eq!(
        page["links"],
        serde_json::json!({
            "self": "/connections?page[number]=2&page[size]=10",
            "first": "/connections?page[number]=1&page[size]=10",
            "prev": "/connections?page[number]=1&page[size]=10",
            "next": "/connections?page[number]=3&page[size]=10",
            "last": format!("/connections?page[number]={last}&page[size]=10"),
        })
    );
    let expected = page_of(&live, 2, 10);
    assert_eq!(ids(&page), expected);
    let decoded = answer.decode().unwrap();
    let read: Vec<_> = decoded.connections().iter().map(|c| c.id.clone()).collect();
    assert_eq!(
        read,
        expected.into_iter().map(Some).collect::<Vec<_>>(),
        "the client reads the same page"
    );

    let (_, encoded) = get_json(&s, "/v3/connections?page%5Bnumber%5D=2&page%5Bsize%5D=10");
    assert_eq!(encoded, page, "encoded brackets read the same");

    let (status, beyond) = get_json(&s, "/v3/connections?page[number]=9");
    assert_eq!(status, 200);
    assert!(ids(&beyond).is_empty());
    assert!(beyond["links"]["next"].is_null());
    assert_eq!(
        beyond["links"]["prev"],
        format!("/connections?page[number]={last}&page[size]=10"),
        "prev goes back to the last page that has items"
    );

    let (_, filtered) = get_json(
        &s,
        "/v3/connections?filter[userId]=a%20b%2Fc&filter[vehicle.mode]=live&page[size]=5",
    );
    assert_eq!(
        filtered["links"]["self"],
        "/connections?filter[userId]=a%20b%2Fc&filter[vehicle.mode]=live&page[number]=1&page[size]=5",
        "links keep the filters, percent-encoded"
    );
    assert_eq!(filtered["meta"]["totalCount"], 0);
}

#[test]
fn missing_or_wrong_tokens_get_a_typed_401() {
    let s = sandbox(SandboxConfig::default());
    for token in [None, Some("wrong")] {
        let answer = get(&s, "/v3/connections", token);
        assert_eq!(answer.status, 401);
        assert!(answer.header("sc-request-id").is_some());
        let Err(ResponseError::Api(e)) = answer.decode() else {
            panic!()
        };
        assert_eq!(e.error_type(), Some(&ErrorType::Authentication));
        assert_eq!(e.request_id.as_deref(), answer.header("sc-request-id"));
        let body: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
        let entry = &body["errors"][0];
        assert_eq!(
            entry["status"], "401",
            "the contract types status as a string"
        );
        assert_eq!(entry["resolution"]["type"], "REAUTHENTICATE");
        assert_eq!(
            entry["meta"]["debug"]["requestId"].as_str(),
            answer.header("sc-request-id"),
            "the body names the same request as the header"
        );
    }
}

#[test]
fn invalid_parameters_get_a_typed_400_naming_the_parameter() {
    let s = sandbox(SandboxConfig::default());
    for (query, named) in [
        ("page[number]=0", "page[number]"),
        ("page[size]=0", "page[size]"),
        ("page[number]=abc", "page[number]"),
        ("page%5Bsize%5D=ten", "page[size]"),
        ("page[size]=-3", "page[size]"),
        ("page[size]=1.5", "page[size]"),
        ("page[size]=", "page[size]"),
        ("page[number]=99999999999999999999", "page[number]"),
        ("filter[vehicle.mode]=parked", "filter[vehicle.mode]"),
        ("filter[vehicle.mode]=LIVE", "filter[vehicle.mode]"),
        ("filter[vehicle.mode]=", "filter[vehicle.mode]"),
        ("page[size]=5&page[size]=6", "page[size]"),
        ("filter[userId]=a&filter%5BuserId%5D=b", "filter[userId]"),
    ] {
        let answer = get(&s, &format!("/v3/connections?{query}"), Some(s.token()));
        assert_eq!(answer.status, 400, "{query}");
        let Err(ResponseError::Api(e)) = answer.decode() else {
            panic!()
        };
        assert_eq!(e.error_type(), Some(&ErrorType::Validation));
        let body: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
        let detail = body["errors"][0]["detail"].as_str().unwrap();
        assert!(detail.contains(named), "{query}: {detail}");
    }
    assert_eq!(get(&s, "/v2/connections", Some(s.token())).status, 404);
}

#[test]
fn injected_failures_latency_and_rate_limits() {
    let failing = sandbox(SandboxConfig {
        failure_rate: 1.0,
        ..SandboxConfig::default()
    });
    let statuses: Vec<u16> = (0..8)
        .map(|_| get(&failing, "/v3/connections", Some(failing.token())).status)
        .collect();
    assert!(
        statuses.iter().all(|s| [500, 503].contains(s)),
        "{statuses:?}"
    );
    assert!(
        statuses.contains(&500) && statuses.contains(&503),
        "{statuses:?}"
    );

    let some = sandbox(SandboxConfig {
        failure_rate: 0.5,
        ..SandboxConfig::default()
    });
    let ok = (0..40)
        .filter(|_| get(&some, "/v3/connections", Some(some.token())).status == 200)
        .count();
    assert!(
        (5..35).contains(&ok),
        "{ok} of 40 succeeded at a 50% failure rate"
    );

    let slow = sandbox(SandboxConfig {
        latency: Duration::from_millis(150),
        ..SandboxConfig::default()
    });
    let started = Instant::now();
    assert_eq!(
        get(&slow, "/v3/connections", Some(slow.token())).status,
        200
    );
    assert!(started.elapsed() >= Duration::from_millis(150));

    let limited = sandbox(SandboxConfig {
        rate_limit: Some(2),
        ..SandboxConfig::default()
    });
    let answers: Vec<Answer> = (0..4)
        .map(|_| get(&limited, "/v3/connections", Some(limited.token())))
        .collect();
    let limited_answer = answers
        .iter()
        .find(|a| a.status == 429)
        .expect("a 429 within a second");
    assert_eq!(limited_answer.header("retry-after"), Some("1"));
    let Err(ResponseError::Api(e)) = limited_answer.decode() else {
        panic!()
    };
    assert_eq!(e.error_type(), Some(&ErrorType::RateLimit));
    assert!(e.is_retryable());
}

/// The keys of a JSON object, sorted.
fn keys(value: &serde_json::Value) -> Vec<&str> {
    let mut keys: Vec<&str> = value
        .as_object()
        .unwrap_or_else(|| panic!("an object: {value}"))
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    keys
}

#[test]
fn pages_carry_every_field_of_the_contract_with_the_records_values() {
    let s = sandbox(SandboxConfig {
        connections: 30,
        ..SandboxConfig::default()
    });
    let d = s.dataset();
    let mut used = 0;
    for mode in ["live", "simulated"] {
        let (status, page) = get_json(
            &s,
            &format!("/v3/connections?filter[vehicle.mode]={mode}&page[size]=30"),
        );
        assert_eq!(status, 200);
        let records: Vec<_> = d
            .connections()
            .iter()
            .filter(|c| c.mode.as_str() == mode)
            .collect();
        assert_eq!(keys(&page), ["data", "links", "meta"]);
        assert_eq!(
            keys(&page["meta"]),
            [
                "orderBy",
                "orderDirection",
                "pageNumber",
                "pageSize",
                "totalCount"
            ]
        );
        assert_eq!(page["meta"]["orderDirection"], "DESC");
        assert_eq!(page["meta"]["totalCount"], records.len());
        assert_eq!(
            keys(&page["links"]),
            ["first", "last", "next", "prev", "self"]
        );
        assert!(page["links"]["prev"].is_null() && page["links"]["next"].is_null());
        let data = page["data"].as_array().unwrap();
        assert_eq!(data.len(), records.len());
        for (c, record) in data.iter().zip(&records) {
            assert_eq!(
                keys(c),
                ["attributes", "id", "links", "meta", "relationships", "type"]
            );
            assert_eq!(c["id"], record.id.as_str());
            assert_eq!(c["type"], "connection");
            let attributes = &c["attributes"];
            assert_eq!(keys(attributes), ["permissions", "vehicle"]);
            assert_eq!(
                attributes["permissions"],
                serde_json::json!(record.permissions)
            );
            let vehicle = &attributes["vehicle"];
            assert_eq!(
                keys(vehicle),
                ["make", "mode", "model", "powertrainType", "year"]
            );
            assert_eq!(vehicle["make"], record.make.as_str());
            assert_eq!(vehicle["model"], record.model.as_str());
            assert_eq!(vehicle["year"], record.year);
            assert_eq!(vehicle["powertrainType"], record.powertrain_type.as_str());
            let mode = match record.mode {
                SandboxMode::Live => "live",
                _ => "simulated",
            };
            assert_eq!(vehicle["mode"], mode);
            let relationships = &c["relationships"];
            assert_eq!(keys(relationships), ["user", "vehicle"]);
            for (kind, id) in [("vehicle", &record.vehicle_id), ("user", &record.user_id)] {
                let r = &relationships[kind];
                assert_eq!(keys(r), ["data", "links"]);
                assert_eq!(r["data"], serde_json::json!({"id": id, "type": kind}));
                assert_eq!(
                    r["links"],
                    serde_json::json!({"related": format!("/{kind}s/{id}")})
                );
            }
            assert_eq!(c["meta"]["createdAt"], record.created_at.as_str());
            assert_eq!(c["meta"]["updatedAt"], record.updated_at.as_str());
            match &record.last_used_at {
                Some(at) => {
                    used += 1;
                    assert_eq!(c["meta"]["lastUsedAt"], at.as_str());
                }
                None => assert_eq!(keys(&c["meta"]), ["createdAt", "updatedAt"]),
            }
            assert_eq!(
                c["links"],
                serde_json::json!({"self": format!("/connections/{}", record.id)})
            );
        }
    }
    assert!(
        0 < used && used < 30,
        "some connections were used, some not"
    );
}
