//! The core, end to end, with a transport written right here: a closure that answers from an
//! in-memory "server". Building requests, decoding, retrying and paginating all come from
//! `connections-core`; a runtime only moves bytes and sleeps. That is the whole contract a
//! transport (tokio, blocking, embedded) has to fulfil.
//!
//! Run it: `cargo run -p connections-core --example canned_transport`
#![allow(clippy::print_stdout)] // printing the listing is what this example is for

use std::collections::HashMap;
use std::error::Error;
use std::thread::sleep;
use std::time::SystemTime;

use connections_core::{
    AccessToken, BaseUrl, Decision, ListConnections, Mode, Paginator, Response, RetryPolicy,
    UnixTime,
};

/// What the fake network hands back: status, headers, body.
type Reply = (u16, Vec<(&'static str, String)>, String);

fn main() -> Result<(), Box<dyn Error>> {
    let base = BaseUrl::parse("https://vehicle.api.smartcar.com/v3")?;
    let token = AccessToken::new("demo-access-token")?;
    let request = ListConnections::builder()
        .mode(Mode::Live)
        .page_size(3)
        .build()?;

    let mut transport = fake_server(8);
    let policy = RetryPolicy::new();
    let mut pages = Paginator::new(base.clone(), request);

    println!(
        "{:<8} {:<8} {:<10} {:<10} {:>4}  permissions",
        "id", "user", "make", "model", "year"
    );
    while let Some(next) = pages.next_request() {
        let parts = next.parts(&base, &token);
        let mut url = String::new();
        parts.write_url(&mut url)?;
        let mut headers = Vec::new();
        for header in parts.headers() {
            let mut value = String::new();
            header.write_value(&mut value)?;
            headers.push((header.name, value));
        }
        let mut attempts = 0;
        loop {
            attempts += 1;
            let (status, reply_headers, body) = transport(&url, &headers);
            let response = reply_headers.iter().fold(
                Response::new(status, body.as_bytes()),
                |r, (name, value)| r.header(name, value),
            );
            match response.page() {
                Ok(page) => {
                    for c in page.connections() {
                        print_row(c);
                    }
                    pages.feed(&page)?;
                    break;
                }
                Err(error) => {
                    let now = UnixTime::from(SystemTime::now());
                    match policy.decide(attempts, &error.to_failure(now), jitter()) {
                        Decision::RetryAfter(wait) => {
                            eprintln!("attempt {attempts}: {error}\n  retrying in {wait:?}");
                            sleep(wait);
                        }
                        Decision::GiveUp(reason) => {
                            return Err(format!("{error} ({reason})").into());
                        }
                    }
                }
            }
        }
    }
    println!("{} pages", pages.pages_fetched());
    Ok(())
}

fn print_row(c: &connections_core::Connection<connections_core::Borrowed<'_>>) {
    let attributes = c.attributes.as_ref();
    let vehicle = attributes.and_then(|a| a.vehicle.as_ref());
    let user = c
        .relationships
        .as_ref()
        .and_then(|r| r.user.as_ref()?.data.as_ref()?.id.as_deref());
    let permissions = attributes
        .and_then(|a| a.permissions.as_ref())
        .map(|p| p.join(","))
        .unwrap_or_default();
    println!(
        "{:<8} {:<8} {:<10} {:<10} {:>4}  {}",
        c.id.as_deref().unwrap_or("-"),
        user.unwrap_or("-"),
        vehicle.and_then(|v| v.make.as_deref()).unwrap_or("-"),
        vehicle.and_then(|v| v.model.as_deref()).unwrap_or("-"),
        vehicle
            .and_then(|v| v.year)
            .map_or("-".into(), |y| y.to_string()),
        permissions,
    );
}

/// A server holding `total` connections. Page 2 answers 503 once (Retry-After: 0), the way a
/// real server sometimes does, and it checks the bearer token like the real API.
fn fake_server(total: u32) -> impl FnMut(&str, &[(&str, String)]) -> Reply {
    let mut failed_once = HashMap::new();
    move |url, headers| {
        let authorized = headers
            .iter()
            .any(|(name, value)| *name == "Authorization" && value == "Bearer demo-access-token");
        if !authorized {
            return (401, vec![], r#"{"errors":[{"status":"401","type":"AUTHENTICATION","code":"UNAUTHORIZED","title":"Unauthorized","detail":"The Authorization token is missing or invalid."}]}"#.into());
        }
        let query = url.split_once('?').map_or("", |(_, q)| q);
        let param = |name: &str| {
            form_urlencoded::parse(query.as_bytes())
                .find(|(k, _)| k == name)
                .and_then(|(_, v)| v.parse::<u32>().ok())
        };
        let number = param("page[number]").unwrap_or(1);
        let size = param("page[size]").unwrap_or(10);
        if number == 2 && failed_once.insert(number, true).is_none() {
            let headers = vec![
                ("retry-after", "0".to_owned()),
                ("sc-request-id", "req-503".to_owned()),
            ];
            return (503, headers, "<html>503 Service Unavailable</html>".into());
        }
        let last = total.div_ceil(size).max(1);
        let first = (number - 1) * size;
        let data: Vec<String> = (first..total.min(first + size))
            .map(|i| {
                format!(
                    r#"{{"id":"conn-{i}","type":"connection","attributes":{{"permissions":["read_vehicle_info","read_odometer"],"vehicle":{{"make":"{}","model":"Model {i}","year":{},"mode":"live"}}}},"relationships":{{"user":{{"data":{{"id":"user-{}","type":"user"}}}}}}}}"#,
                    ["TESLA", "FORD", "KIA"][i as usize % 3],
                    2018 + i % 6,
                    i % 3,
                )
            })
            .collect();
        let link = |n: u32| format!("\"/connections?page[number]={n}&page[size]={size}\"");
        let next = if number < last {
            link(number + 1)
        } else {
            "null".into()
        };
        let prev = if number > 1 {
            link(number - 1)
        } else {
            "null".into()
        };
        let body = format!(
            r#"{{"data":[{}],"meta":{{"pageNumber":{number},"pageSize":{size},"totalCount":{total}}},"links":{{"self":{},"first":{},"prev":{prev},"next":{next},"last":{}}}}}"#,
            data.join(","),
            link(number),
            link(1),
            link(last),
        );
        (
            200,
            vec![("content-type", "application/json".to_owned())],
            body,
        )
    }
}

/// A new random-enough number for the retry jitter.
fn jitter() -> u64 {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    u64::from(nanos).wrapping_mul(0x9e37_79b9_7f4a_7c15)
}
