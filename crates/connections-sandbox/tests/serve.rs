//! The sandbox against the contract, spoken to over plain TCP and read with the core.
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use connections_core::{
    AccessToken, BaseUrl, ErrorType, ListConnections, Mode, Owned, Page, Paginator, Response,
    ResponseError,
};
use connections_sandbox::{Filters, Sandbox, SandboxConfig};

/// A raw answer: status, headers (lowercased names), body.
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn decode(&self) -> Result<Page<Owned>, ResponseError<Owned>> {
        self.headers
            .iter()
            .fold(Response::new(self.status, &self.body), |r, (n, v)| {
                r.header(n, v)
            })
            .page_owned()
    }
}

fn get(sandbox: &Sandbox, target: &str, token: Option<&str>) -> Answer {
    let mut stream = TcpStream::connect(sandbox.addr()).unwrap();
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    write!(
        stream,
        "GET {target} HTTP/1.1\r\nHost: sandbox\r\n{auth}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8(raw[..split].to_vec()).unwrap();
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Answer {
        status,
        headers,
        body: raw[split + 4..].to_vec(),
    }
}

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
fn full_listings_match_the_dataset_for_every_filter_and_page_size() {
    for absolute_links in [false, true] {
        let s = sandbox(SandboxConfig {
            connections: 60,
            absolute_links,
            ..SandboxConfig::default()
        });
        let user = s.dataset().user_ids().next().unwrap().to_owned();
        let vehicle = s.dataset().connections()[3]
            .relationships
            .as_ref()
            .unwrap()
            .vehicle
            .as_ref()
            .unwrap()
            .data
            .as_ref()
            .unwrap()
            .id
            .clone()
            .unwrap();
        let cases = [
            (Filters::default(), ListConnections::builder()),
            (
                Filters {
                    mode: Some(Mode::Simulated),
                    ..Filters::default()
                },
                ListConnections::builder().mode(Mode::Simulated),
            ),
            (
                Filters {
                    user_id: Some(&user),
                    mode: Some(Mode::Live),
                    ..Filters::default()
                },
                ListConnections::builder().user_id(&user).mode(Mode::Live),
            ),
            (
                Filters {
                    vehicle_id: Some(&vehicle),
                    ..Filters::default()
                },
                ListConnections::builder().vehicle_id(&vehicle),
            ),
        ];
        for (filters, builder) in cases {
            let expected = s.dataset().expected_ids(filters);
            for size in [1, 7, 10, 100] {
                let request = builder.clone().page_size(size).build().unwrap();
                assert_eq!(list_all(&s, request), expected, "{filters:?} size {size}");
            }
        }
    }
}

#[test]
fn pages_carry_meta_links_and_a_request_id() {
    let s = sandbox(SandboxConfig {
        connections: 25,
        ..SandboxConfig::default()
    });
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
    let page = answer.decode().unwrap();
    let meta = page.meta.as_ref().unwrap();
    assert_eq!(
        (meta.page_number, meta.page_size, meta.total_count),
        (Some(2), Some(10), Some(25))
    );
    assert_eq!(meta.order_by.as_deref(), Some("createdAt"));
    let links = page.links.as_ref().unwrap();
    assert_eq!(links.self_link, "/connections?page[number]=2&page[size]=10");
    assert_eq!(
        links.prev.as_deref(),
        Some("/connections?page[number]=1&page[size]=10")
    );
    assert_eq!(
        links.next.as_deref(),
        Some("/connections?page[number]=3&page[size]=10")
    );
    assert_eq!(links.last, "/connections?page[number]=3&page[size]=10");
    let expected = &s.dataset().expected_ids(Filters::default())[10..20];
    let ids: Vec<_> = page
        .connections()
        .iter()
        .map(|c| c.id.clone().unwrap())
        .collect();
    assert_eq!(ids, expected);

    let encoded = get(
        &s,
        "/v3/connections?page%5Bnumber%5D=2&page%5Bsize%5D=10",
        Some(s.token()),
    );
    assert_eq!(
        encoded.decode().unwrap().data,
        page.data,
        "encoded brackets read the same"
    );

    let beyond = get(&s, "/v3/connections?page[number]=9", Some(s.token()))
        .decode()
        .unwrap();
    assert!(beyond.connections().is_empty());
    assert_eq!(beyond.next_link(), None);
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
    }
}

#[test]
fn invalid_parameters_get_a_typed_400_naming_the_parameter() {
    let s = sandbox(SandboxConfig::default());
    for (query, named) in [
        ("page[number]=0", "page[number]"),
        ("page%5Bsize%5D=ten", "page[size]"),
        ("filter[vehicle.mode]=parked", "filter[vehicle.mode]"),
        ("filter[userId]=", "filter[userId]"),
    ] {
        let answer = get(&s, &format!("/v3/connections?{query}"), Some(s.token()));
        assert_eq!(answer.status, 400, "{query}");
        let Err(ResponseError::Api(e)) = answer.decode() else {
            panic!()
        };
        assert_eq!(e.error_type(), Some(&ErrorType::Validation));
        assert!(e.first().unwrap().detail.contains(named), "{query}");
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
