//! The real API's pace: Smartcar's application bucket, the per-second limit, and pages capped
//! as a real server caps them. No test waits for the application bucket to refill (its
//! interval is an hour here), and only the per-second limit's test waits, the one second its
//! `retry-after` says; the refill arithmetic is tested with made-up times in `src/bucket.rs`.
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::{Answer, exchange, get};
use connections_sandbox::{Bucket, Dataset, Sandbox, SandboxConfig};
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// A bucket of 3 that gets nothing back within a test.
const THREE_AN_HOUR: Bucket = Bucket {
    capacity: 3,
    refill_interval: Duration::from_secs(3600),
};

fn body(answer: &Answer) -> Value {
    serde_json::from_slice(&answer.body)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&answer.body)))
}

/// Asserts `answer` is the bucket's 429 in the v3 error shape.
fn assert_rate_limited(answer: &Answer, label: &str) {
    assert_eq!(answer.status, 429, "{label}");
    let error = &body(answer)["errors"][0];
    assert_eq!(error["status"], "429", "{label}");
    assert_eq!(error["type"], "RATE_LIMIT", "{label}");
    assert_eq!(error["code"], "SMARTCAR_API", "{label}");
    assert_eq!(
        error["links"]["about"], "https://smartcar.com/docs/errors/api-errors/v3/rate-limit-errors",
        "{label}"
    );
}

fn token_request(s: &Sandbox) -> Answer {
    let form = "grant_type=client_credentials&client_id=id&client_secret=secret";
    exchange(
        s,
        format!(
            "POST /oauth2/token HTTP/1.1\r\nHost: sandbox\r\n\
             Content-Type: application/x-www-form-urlencoded\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{form}",
            form.len()
        )
        .as_bytes(),
    )
}

#[test]
fn a_bucket_of_three_serves_three_then_429_without_retry_after() {
    let s = Sandbox::spawn(SandboxConfig {
        bucket: Some(THREE_AN_HOUR),
        client_id: Some("id".to_owned()),
        client_secret: Some("secret".to_owned()),
        ..SandboxConfig::default()
    })
    .unwrap();
    // Neither token requests nor refused tokens take from the bucket.
    for _ in 0..4 {
        assert_eq!(token_request(&s).status, 200);
        assert_eq!(get(&s, "/v3/connections", Some("wrong")).status, 401);
    }
    for n in 1..=3 {
        assert_eq!(
            get(&s, "/v3/connections", Some(s.token())).status,
            200,
            "request {n}"
        );
    }
    assert_eq!(s.faults().rate_limited, 0);
    let fourth = get(&s, "/v3/connections", Some(s.token()));
    assert_rate_limited(&fourth, "request 4");
    assert_eq!(
        fourth.header("retry-after"),
        None,
        "Smartcar's bucket 429 need not say when"
    );
    assert!(fourth.header("sc-request-id").is_some());
    assert_eq!(s.faults().rate_limited, 1);
    // Still empty, whatever is asked (a bad parameter too: the limit comes first), and the
    // token endpoint still answers.
    assert_rate_limited(
        &get(&s, "/v3/connections?page[size]=0", Some(s.token())),
        "request 5",
    );
    assert_eq!(token_request(&s).status, 200);
    assert_eq!(s.faults().rate_limited, 2);
}

#[test]
fn with_bucket_retry_after_the_429_says_the_seconds_until_the_next_token() {
    let s = Sandbox::spawn(SandboxConfig {
        bucket: Some(THREE_AN_HOUR),
        bucket_retry_after: true,
        ..SandboxConfig::default()
    })
    .unwrap();
    for _ in 0..3 {
        assert_eq!(get(&s, "/v3/connections", Some(s.token())).status, 200);
    }
    let fourth = get(&s, "/v3/connections", Some(s.token()));
    assert_rate_limited(&fourth, "request 4");
    // The first token comes back an hour after it was taken, a few milliseconds ago: rounded
    // up, 3600 s (a few seconds less only on a machine slower than any test should meet).
    let secs: u64 = fourth
        .header("retry-after")
        .expect("retry-after with bucket_retry_after")
        .parse()
        .unwrap();
    assert!((3595..=3600).contains(&secs), "retry-after {secs}");
    assert_eq!(s.faults().rate_limited, 1);
}

#[test]
fn smartcars_bucket_serves_120_at_once() {
    let s = Sandbox::spawn(SandboxConfig {
        bucket: Some(Bucket::SMARTCAR),
        bucket_retry_after: true,
        ..SandboxConfig::default()
    })
    .unwrap();
    for n in 1..=120 {
        assert_eq!(
            get(&s, "/v3/connections?page[size]=1", Some(s.token())).status,
            200,
            "request {n}"
        );
    }
    let refused = get(&s, "/v3/connections", Some(s.token()));
    assert_rate_limited(&refused, "request 121");
    let secs: u64 = refused.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=30).contains(&secs), "one token every 30 s: {secs}");
    assert_eq!(s.faults().rate_limited, 1);
}

#[test]
fn the_per_second_limit_answers_429_with_retry_after_1_past_n_a_second() {
    let s = Sandbox::spawn(SandboxConfig {
        rate_limit: Some(2),
        ..SandboxConfig::default()
    })
    .unwrap();
    // Two at once pass; the next is refused unless half a second has gone by since, which
    // three requests to a local server never take.
    let answers: Vec<Answer> = (0..3)
        .map(|_| get(&s, "/v3/connections", Some(s.token())))
        .collect();
    let statuses: Vec<u16> = answers.iter().map(|a| a.status).collect();
    assert_eq!(statuses, [200, 200, 429]);
    assert_rate_limited(&answers[2], "request 3");
    assert_eq!(answers[2].header("retry-after"), Some("1"));
    assert_eq!(s.faults().rate_limited, 1);
    // A client that waits what it was told gets through.
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(get(&s, "/v3/connections", Some(s.token())).status, 200);
    assert_eq!(s.faults().rate_limited, 1);
}

#[test]
fn a_per_second_limit_and_a_bucket_both_apply() {
    let s = Sandbox::spawn(SandboxConfig {
        rate_limit: Some(1_000),
        bucket: Some(THREE_AN_HOUR),
        ..SandboxConfig::default()
    })
    .unwrap();
    let statuses: Vec<u16> = (0..5)
        .map(|_| get(&s, "/v3/connections", Some(s.token())).status)
        .collect();
    assert_eq!(statuses, [200, 200, 200, 429, 429]);
    // The bucket's refusals carry no retry-after, though the per-second limit's would.
    assert_eq!(
        get(&s, "/v3/connections", Some(s.token())).header("retry-after"),
        None
    );
    assert_eq!(s.faults().rate_limited, 3);
}

#[test]
fn impossible_buckets_and_caps_fail_the_spawn() {
    for (bucket, cap) in [
        (
            Some(Bucket {
                capacity: 0,
                ..THREE_AN_HOUR
            }),
            None,
        ),
        (
            Some(Bucket {
                refill_interval: Duration::ZERO,
                ..THREE_AN_HOUR
            }),
            None,
        ),
        (None, Some(0)),
    ] {
        let Err(e) = Sandbox::spawn(SandboxConfig {
            bucket,
            max_page_size: cap,
            ..SandboxConfig::default()
        }) else {
            panic!("{bucket:?} {cap:?} spawned")
        };
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput, "{e}");
    }
}

/// `n` live connections in the API's shape, newest first, with ids `c-0000` on.
fn live_connections(n: usize) -> (Dataset, Vec<String>) {
    let ids: Vec<String> = (0..n).map(|i| format!("c-{i:04}")).collect();
    let records: Vec<Value> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            // One minute apart, the first newest.
            let minutes = i64::try_from(n - i).unwrap();
            let created = (OffsetDateTime::UNIX_EPOCH + time::Duration::minutes(minutes))
                .format(&Rfc3339)
                .unwrap();
            serde_json::json!({
                "id": id,
                "attributes": {"permissions": ["read_vin"], "vehicle": {"make": "TESLA",
                    "model": "Model 3", "year": 2023, "powertrainType": "BEV", "mode": "live"}},
                "relationships": {"vehicle": {"data": {"id": format!("v-{i}")}},
                    "user": {"data": {"id": format!("u-{}", i % 97)}}},
                "meta": {"createdAt": created, "updatedAt": created}
            })
        })
        .collect();
    let text = serde_json::to_string(&records).unwrap();
    (Dataset::from_json(&text).unwrap(), ids)
}

/// The query parameters of a link, brackets raw as the sandbox writes them.
fn params(link: &str) -> Vec<(String, String)> {
    let query = link.split_once('?').map_or("", |(_, q)| q);
    form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn param(link: &str, name: &str) -> Option<String> {
    params(link)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

#[test]
fn a_page_cap_serves_fewer_than_asked_and_every_link_says_so() {
    let (dataset, all) = live_connections(1_234);
    let s = Sandbox::spawn_with_dataset(
        SandboxConfig {
            max_page_size: Some(50),
            ..SandboxConfig::default()
        },
        dataset,
    )
    .unwrap();
    let mut target = "/v3/connections?page[size]=100".to_owned();
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let answer = get(&s, &target, Some(s.token()));
        assert_eq!(answer.status, 200, "{target}");
        let page = body(&answer);
        pages += 1;
        let data = page["data"].as_array().unwrap();
        let expected_len = if pages < 25 { 50 } else { 1_234 - 24 * 50 };
        assert_eq!(data.len(), expected_len, "page {pages}");
        seen.extend(data.iter().map(|c| c["id"].as_str().unwrap().to_owned()));
        let meta = &page["meta"];
        assert_eq!(meta["pageSize"], 50, "page {pages}");
        assert_eq!(meta["pageNumber"], pages, "page {pages}");
        assert_eq!(meta["totalCount"], 1_234, "page {pages}");
        let links = &page["links"];
        for name in ["self", "first", "prev", "next", "last"] {
            if let Some(link) = links[name].as_str() {
                assert_eq!(
                    param(link, "page[size]").as_deref(),
                    Some("50"),
                    "page {pages}, {name}: {link}"
                );
            } else {
                assert!(links[name].is_null(), "page {pages}, {name}");
            }
        }
        let number = |name: &str| param(links[name].as_str().unwrap(), "page[number]");
        assert_eq!(number("self"), Some(pages.to_string()));
        assert_eq!(number("first").as_deref(), Some("1"));
        assert_eq!(number("last").as_deref(), Some("25"), "page {pages}");
        assert_eq!(links["prev"].is_null(), pages == 1, "page {pages}");
        match links["next"].as_str() {
            Some(next) => {
                assert!(next.starts_with("/connections?"), "{next}");
                target = format!("/v3{next}");
            }
            None => break,
        }
        assert!(pages < 100, "the next links never end");
    }
    assert_eq!(pages, 25);
    assert_eq!(seen.len(), 1_234, "every connection once");
    assert_eq!(
        seen.iter().collect::<HashSet<_>>().len(),
        1_234,
        "no repeats"
    );
    assert_eq!(
        seen.iter().collect::<HashSet<_>>(),
        all.iter().collect::<HashSet<_>>(),
        "all of them"
    );
}

#[test]
fn a_page_cap_leaves_smaller_pages_alone() {
    let (dataset, all) = live_connections(120);
    let s = Sandbox::spawn_with_dataset(
        SandboxConfig {
            max_page_size: Some(50),
            ..SandboxConfig::default()
        },
        dataset,
    )
    .unwrap();
    for (query, size, last) in [
        ("", 10, 12),
        ("?page[size]=20", 20, 6),
        ("?page[size]=50", 50, 3),
        ("?page[size]=51", 50, 3),
        ("?page[size]=9223372036854775807", 50, 3),
    ] {
        let page = body(&get(
            &s,
            &format!("/v3/connections{query}"),
            Some(s.token()),
        ));
        assert_eq!(page["data"].as_array().unwrap().len(), size, "{query}");
        assert_eq!(page["meta"]["pageSize"], size, "{query}");
        let last_link = page["links"]["last"].as_str().unwrap();
        assert_eq!(param(last_link, "page[number]"), Some(last.to_string()));
        assert_eq!(param(last_link, "page[size]"), Some(size.to_string()));
    }
    // Past the end of the capped pages: empty, prev pointing at the capped last page.
    let page = body(&get(
        &s,
        "/v3/connections?page[number]=4&page[size]=100",
        Some(s.token()),
    ));
    assert!(page["data"].as_array().unwrap().is_empty());
    let prev = page["links"]["prev"].as_str().unwrap();
    assert_eq!(param(prev, "page[number]").as_deref(), Some("3"));
    assert_eq!(param(prev, "page[size]").as_deref(), Some("50"));
    // Page 3 of 50 holds the last 20.
    let page = body(&get(
        &s,
        "/v3/connections?page[number]=3&page[size]=100",
        Some(s.token()),
    ));
    let ids: Vec<&str> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        all[100..].iter().map(String::as_str).collect::<Vec<_>>()
    );
}
