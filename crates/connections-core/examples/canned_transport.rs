//! A whole transport in one loop: a [`Listing`] says what to do, an in-memory "server"
//! (a closure) answers, and a simulated clock honours the waits, so this runs instantly.
//! Retries, the 429 pause, pagination and duplicates are all decided inside `Listing`; a
//! real transport (tokio, blocking, embedded) swaps the closure for a socket and the clock
//! for a timer, and needs nothing else.
//!
//! The server holds 8 connections, 3 a page. Page 2 fails once with a 503 and page 3 is
//! rate limited once with `Retry-After: 2`; the listing still yields every connection once.
//!
//! Run it: `cargo run -p connections-core --example canned_transport`
#![allow(clippy::print_stdout)] // printing the listing is what this example is for

use std::convert::Infallible;
use std::error::Error;
use std::time::Duration;

use connections_core::{
    AccessToken, Action, BaseUrl, Connection, ListConnections, Listing, ListingOptions, Mode,
    Notice, Now, Owned, Response, UnixTime,
};

/// What the fake network hands back: status, headers, body.
type Reply = (u16, Vec<(&'static str, String)>, String);

fn main() -> Result<(), Box<dyn Error>> {
    let token = AccessToken::new("demo-access-token")?;
    let request = ListConnections::builder()
        .mode(Mode::Live)
        .page_size(3)
        .build()?;
    // This transport cannot fail, so its error type is `Infallible`.
    let mut listing: Listing<Infallible> =
        Listing::new(BaseUrl::SMARTCAR, &request, ListingOptions::new(), 42);
    let mut server = fake_server(8);

    // The simulated clock: time moves only when the listing asks to wait.
    let mut elapsed = Duration::ZERO;
    let now = |elapsed: Duration| {
        let secs = i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX);
        Now::new(elapsed, UnixTime(1_700_000_000 + secs))
    };

    let (mut listed, mut retries) = (Vec::new(), 0);
    println!(
        "{:<8} {:<8} {:<6} {:<8} {:>4}",
        "id", "user", "make", "model", "year"
    );
    loop {
        match listing.poll(now(elapsed)) {
            Action::Send(send) => {
                // Build the request against the listing's base, send it, hand back the answer.
                let parts = send.request.parts(listing.base(), &token);
                let mut url = String::new();
                parts.write_url(&mut url)?;
                let mut headers = Vec::new();
                for header in parts.headers() {
                    let mut value = String::new();
                    header.write_value(&mut value)?;
                    headers.push((header.name, value));
                }
                let (status, reply_headers, body) = server(&url, &headers);
                let response = reply_headers.iter().fold(
                    Response::new(status, body.as_bytes()),
                    |response, (name, value)| response.header(name, value),
                );
                listing.handle_response(send.id, &response, now(elapsed));
            }
            Action::Yield(page) => {
                for connection in page.value.connections() {
                    print_row(connection);
                    listed.extend(connection.id.clone());
                }
            }
            Action::Notice(notice) => {
                retries += usize::from(matches!(notice, Notice::Retrying { .. }));
                println!("-- {notice}");
            }
            // A real transport sleeps (or awaits a timer) here.
            Action::Wait(Some(until)) => elapsed = until,
            // Every request is answered at once, so there is never one to wait for.
            Action::Wait(None) => return Err("waiting for a request that is not in flight".into()),
            Action::Done => break,
            Action::Failed(error) => return Err(error.into()),
        }
    }
    println!(
        "{} connections in {:.1} s of simulated time",
        listed.len(),
        elapsed.as_secs_f64()
    );

    let expected: Vec<String> = (0..8).map(|i| format!("conn-{i}")).collect();
    assert_eq!(listed, expected, "every connection exactly once, in order");
    assert_eq!(retries, 2, "one 503 and one 429 were retried");
    assert!(
        elapsed >= Duration::from_secs(2),
        "the 429's Retry-After was honoured"
    );
    Ok(())
}

fn print_row(c: &Connection<Owned>) {
    let vehicle = c.attributes.as_ref().and_then(|a| a.vehicle.as_ref());
    let user = c.relationships.as_ref().and_then(|r| r.user.as_ref());
    let user = user.and_then(|u| u.data.as_ref()?.id.as_deref());
    let year = vehicle.and_then(|v| v.year).map(|y| y.to_string());
    println!(
        "{:<8} {:<8} {:<6} {:<8} {:>4}",
        c.id.as_deref().unwrap_or("-"),
        user.unwrap_or("-"),
        vehicle.and_then(|v| v.make.as_deref()).unwrap_or("-"),
        vehicle.and_then(|v| v.model.as_deref()).unwrap_or("-"),
        year.as_deref().unwrap_or("-"),
    );
}

/// A server holding `total` connections that checks the bearer token like the real API.
/// Page 2 answers 503 the first time and page 3 answers 429 with `Retry-After: 2`.
fn fake_server(total: u32) -> impl FnMut(&str, &[(&str, String)]) -> Reply {
    let mut first_time = [true; 2];
    move |url, headers| {
        let authorized = headers
            .iter()
            .any(|(name, value)| *name == "Authorization" && value == "Bearer demo-access-token");
        if !authorized {
            return error(401, "AUTHENTICATION", vec![]);
        }
        let query = url.split_once('?').map_or("", |(_, q)| q);
        let param = |name: &str| {
            form_urlencoded::parse(query.as_bytes())
                .find(|(k, _)| k == name)
                .and_then(|(_, v)| v.parse::<u32>().ok())
        };
        let (number, size) = (
            param("page[number]").unwrap_or(1),
            param("page[size]").unwrap_or(10),
        );
        match number {
            2 if std::mem::take(&mut first_time[0]) => return error(503, "SERVER", vec![]),
            3 if std::mem::take(&mut first_time[1]) => {
                return error(429, "RATE_LIMIT", vec![("retry-after", "2".into())]);
            }
            _ => {}
        }
        let data: Vec<String> = (number.saturating_sub(1) * size..total.min(number * size))
            .map(|i| {
                format!(
                    r#"{{"id":"conn-{i}","type":"connection","attributes":{{"permissions":["read_odometer"],"vehicle":{{"make":"{}","model":"Model {i}","year":{},"mode":"live"}}}},"relationships":{{"user":{{"data":{{"id":"user-{}","type":"user"}}}}}}}}"#,
                    ["TESLA", "FORD", "KIA"][i as usize % 3],
                    2018 + i % 6,
                    i % 3,
                )
            })
            .collect();
        let last = total.div_ceil(size).max(1);
        let link = |n: u32| format!("\"/connections?page[number]={n}&page[size]={size}\"");
        let maybe = |n: u32, ok: bool| if ok { link(n) } else { "null".into() };
        let body = format!(
            r#"{{"data":[{}],"meta":{{"pageNumber":{number},"pageSize":{size},"totalCount":{total}}},"links":{{"self":{},"first":{},"prev":{},"next":{},"last":{}}}}}"#,
            data.join(","),
            link(number),
            link(1),
            maybe(number.saturating_sub(1), number > 1),
            maybe(number + 1, number < last),
            link(last),
        );
        let headers = vec![
            ("content-type", "application/json".into()),
            ("sc-request-id", format!("req-{number}")),
        ];
        (200, headers, body)
    }
}

/// A contract-shaped error answer.
fn error(status: u16, kind: &str, mut headers: Vec<(&'static str, String)>) -> Reply {
    headers.push(("content-type", "application/json".into()));
    let body = format!(
        r#"{{"errors":[{{"status":"{status}","type":"{kind}","code":"DEMO","title":"Demo error","detail":"A canned HTTP {status}."}}]}}"#
    );
    (status, headers, body)
}
