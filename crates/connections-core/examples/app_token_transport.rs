//! A third executor, after the hyper and blocking transports: a listing with an application
//! token through an in-memory "network" on a simulated clock. Every decision is the core's:
//! when to fetch a token ([`TokenCache`]), whether to retry the token endpoint
//! ([`TokenRetries`]), whether a 401 resends ([`RefreshOnce`]), how to page and wait out a
//! 429 ([`Listing`]). The executor only sends and sleeps. The token endpoint fails once with
//! a 500, the API refuses the first token (401) and rate limits page 2 once (`Retry-After: 3`).
//!
//! Run it: `cargo run -p connections-core --example app_token_transport`
#![allow(clippy::print_stdout)] // printing what happens is what this example is for

use std::{convert::Infallible, error::Error, time::Duration};

use connections_core::{
    AccessToken, Action, BaseUrl, ClientCredentials, ClientSecret, ListConnections, Listing,
    ListingOptions, Lookup, Now, RefreshOnce, Response, RetryPolicy, TokenCache, TokenId,
    TokenRetries, UnixTime,
};

/// The simulated clock: time moves only when the executor sleeps.
fn now(elapsed: Duration) -> Now {
    let secs = i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX);
    Now::new(elapsed, UnixTime(1_700_000_000 + secs))
}

fn main() -> Result<(), Box<dyn Error>> {
    let credentials = ClientCredentials::new("demo-client", ClientSecret::new("demo-secret")?)?;
    let request = ListConnections::builder().page_size(2).build()?;
    let mut listing: Listing<Infallible> =
        Listing::new(BaseUrl::SMARTCAR, &request, ListingOptions::new(), 7);
    let (mut cache, mut net) = (TokenCache::new(7), Network::default());
    let (mut elapsed, mut ids) = (Duration::ZERO, Vec::new());
    loop {
        match listing.poll(now(elapsed)) {
            Action::Send(send) => {
                let page = send.request.page_number().map_or(1, |n| n.get());
                let mut rule = RefreshOnce::default();
                let (status, retry_after, body) = loop {
                    let (token, id) = bearer(&mut cache, &credentials, &mut net, &mut elapsed)?;
                    let answer = net.api(page, &token);
                    if !cache.answered(&mut rule, id, answer.0) {
                        break answer;
                    }
                    println!("-- the API refused the token; fetching another");
                };
                let response = Response::new(status, body.as_bytes())
                    .header("content-type", "application/json")
                    .header("retry-after", retry_after);
                listing.handle_response(send.id, &response, now(elapsed));
            }
            Action::Yield(page) => ids.extend(page.data.iter().filter_map(|c| c.id.clone())),
            Action::Notice(notice) => println!("-- {notice}"),
            Action::Wait(Some(until)) => elapsed = until, // a real executor sleeps here
            Action::Wait(None) => return Err("nothing is in flight to wait for".into()),
            Action::Done => break,
            Action::Failed(error) => return Err(error.into()),
        }
    }
    println!("{ids:?} in {elapsed:?} of simulated time");
    assert_eq!(ids, ["conn-0", "conn-1", "conn-2", "conn-3"]);
    assert_eq!(
        net.token_requests, 3,
        "a 500, a token, a token after the 401"
    );
    assert!(elapsed >= Duration::from_secs(3), "Retry-After was kept");
    Ok(())
}

/// The token of an attempt: the cached one, or one fetched with the core's retries.
fn bearer(
    cache: &mut TokenCache,
    credentials: &ClientCredentials,
    net: &mut Network,
    elapsed: &mut Duration,
) -> Result<(AccessToken<'static>, TokenId), Box<dyn Error>> {
    match cache.lookup(*elapsed) {
        Lookup::Use { token, id, .. } => return Ok((token, id)),
        Lookup::Wait => return Err("no other request is fetching".into()),
        Lookup::Fetch => {}
    }
    let (mut retries, sent) = (TokenRetries::new(RetryPolicy::new(), 7), *elapsed);
    loop {
        retries.sending();
        let (status, body) = net.token(credentials.token_request().body());
        let response = Response::new(status, body.as_bytes());
        match response
            .header("content-type", "application/json")
            .issued_token_for(credentials)
        {
            Ok(issued) => return Ok(cache.fetched(issued, sent)),
            Err(error) => match retries.failed(&error.to_failure(now(*elapsed).unix)) {
                Some(wait) => {
                    println!("-- token endpoint: {error}; again in {wait:?}");
                    *elapsed += wait; // a real executor sleeps here
                }
                None => return Err(error.into()), // (shared caches: `cache.fetch_failed()`)
            },
        }
    }
}

/// The fake network: Smartcar's token endpoint and `GET /connections`, 4 connections.
#[derive(Default)]
struct Network {
    token_requests: u32,
    rate_limited: bool,
}

impl Network {
    fn token(&mut self, form: &[u8]) -> (u16, String) {
        self.token_requests += 1;
        assert!(form.starts_with(b"grant_type=client_credentials"));
        match self.token_requests {
            1 => (500, r#"{"error":"server_error"}"#.into()),
            n => (
                200,
                format!(r#"{{"access_token":"tok-{n}","token_type":"Bearer"}}"#),
            ),
        }
    }

    /// Status, `Retry-After` and body of the answer to page `page`.
    fn api(&mut self, page: u32, token: &AccessToken<'_>) -> (u16, &'static str, String) {
        let refusal = |kind| format!(r#"{{"errors":[{{"type":"{kind}","code":"DEMO"}}]}}"#);
        if token.expose_secret() == "tok-2" {
            return (401, "", refusal("AUTHENTICATION")); // tok-2 was revoked
        }
        if page == 2 && !std::mem::replace(&mut self.rate_limited, true) {
            return (429, "3", refusal("RATE_LIMIT"));
        }
        let item = |i: u32| format!(r#"{{"id":"conn-{i}","type":"connection"}}"#);
        let link = |n: u32| format!(r#""/connections?page[number]={n}&page[size]=2""#);
        let next = if page < 2 { link(2) } else { "null".into() };
        let (data, meta) = (
            [item(page * 2 - 2), item(page * 2 - 1)].join(","),
            "\"pageSize\":2",
        );
        let links = format!(
            r#""self":{},"first":{},"next":{next},"last":{}"#,
            link(page),
            link(1),
            link(2)
        );
        (
            200,
            "",
            format!(r#"{{"data":[{data}],"meta":{{{meta},"totalCount":4}},"links":{{{links}}}}}"#),
        )
    }
}
