//! Speaking to the sandbox over plain TCP: no HTTP client between the test and the server.
#![allow(dead_code, clippy::unwrap_used)] // each test binary uses its own part of this

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use std::borrow::Borrow;

use connections_core::{Owned, Page, Response, ResponseError};
use connections_sandbox::{ConnectionRecord, Mode, Sandbox};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// A raw answer: status, headers (lowercased names), body.
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
}

impl Answer {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn decode(&self) -> Result<Page<Owned>, ResponseError<Owned>> {
        self.headers
            .iter()
            .fold(Response::new(self.status, &self.body), |r, (n, v)| {
                r.header(n, v)
            })
            .page_owned()
    }
}

pub(crate) fn get(sandbox: &Sandbox, target: &str, token: Option<&str>) -> Answer {
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    exchange(
        sandbox,
        format!("GET {target} HTTP/1.1\r\nHost: sandbox\r\n{auth}Connection: close\r\n\r\n")
            .as_bytes(),
    )
}

/// Sends `request` as it is on a new connection and reads the answer until the server closes.
pub(crate) fn exchange(sandbox: &Sandbox, request: &[u8]) -> Answer {
    let mut stream = TcpStream::connect(sandbox.addr()).unwrap();
    // A server that waits for more than it was sent fails the test instead of hanging it.
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    stream.write_all(request).unwrap();
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

/// `GET` with the sandbox's own token; the body must be JSON.
pub(crate) fn get_json(sandbox: &Sandbox, target: &str) -> (u16, serde_json::Value) {
    let answer = get(sandbox, target, Some(sandbox.token()));
    let value = serde_json::from_slice(&answer.body).unwrap();
    (answer.status, value)
}

/// The ids of a page body, in order.
pub(crate) fn ids(page: &serde_json::Value) -> Vec<String> {
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect()
}

/// The mode a request without `filter[vehicle.mode]` lists: the contract's `default: live`,
/// written down here rather than taken from the sandbox (`tests/schema.rs` checks it
/// against the spec).
pub(crate) const DEFAULT_MODE: Mode = Mode::Live;

/// The oracle: the ids a complete listing with these query filters must return, worked out
/// here from the raw records with none of the sandbox's filter or ordering code. Exact
/// string matches on the user and vehicle ids, the mode given or [`DEFAULT_MODE`], newest
/// `createdAt` first (parsed, so any UTC offset orders right; ties keep the records' order).
pub(crate) fn listing<R: Borrow<ConnectionRecord>>(
    records: &[R],
    user: Option<&str>,
    vehicle: Option<&str>,
    mode: Option<Mode>,
) -> Vec<String> {
    let mode = mode.unwrap_or(DEFAULT_MODE);
    let mut kept: Vec<(i128, usize, &ConnectionRecord)> = records
        .iter()
        .map(Borrow::borrow)
        .enumerate()
        .filter(|(_, c)| {
            user.is_none_or(|u| c.user_id == u)
                && vehicle.is_none_or(|v| c.vehicle_id == v)
                && c.mode == mode
        })
        .map(|(i, c)| {
            let created = OffsetDateTime::parse(&c.created_at, &Rfc3339)
                .unwrap_or_else(|e| panic!("{}: {e}", c.created_at))
                .unix_timestamp_nanos();
            (created, i, c)
        })
        .collect();
    kept.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    kept.into_iter().map(|(_, _, c)| c.id.clone()).collect()
}

/// The records the sandbox holds right now, copied out of the snapshot.
pub(crate) fn records(s: &Sandbox) -> Vec<ConnectionRecord> {
    s.dataset()
        .connections()
        .iter()
        .map(|c| (**c).clone())
        .collect()
}

/// [`listing`] without filters: the live connections, newest first.
pub(crate) fn default_listing<R: Borrow<ConnectionRecord>>(records: &[R]) -> Vec<String> {
    listing(records, None, None, None)
}

/// Page `number` (from 1) of `size` out of a whole listing.
pub(crate) fn page_of(all: &[String], number: usize, size: usize) -> Vec<String> {
    let start = ((number - 1) * size).min(all.len());
    all[start..(start + size).min(all.len())].to_vec()
}

/// Connections the contract allows that a loader could easily refuse or rewrite: one with
/// only an `id`, one with every field (pretty-printed, odd spacing), and one with unknown
/// fields and unusual values (escapes, non-ASCII, an integer beyond `i64`, numbers in
/// exponent form, any value in `lastUsedAt`, which the contract's schema leaves open). Each
/// must come back byte for byte. Named, for messages.
pub(crate) const ODD_CONNECTIONS: [(&str, &str); 3] = [
    ("only an id", r#"{"id":"only-id"}"#),
    (
        "every field",
        r#"{
  "id" : "c-every",
  "type": "connection",
  "attributes": {"permissions": ["read_vin", "read_odometer"],
    "vehicle": {"make": "TESLA", "model": "Model 3", "year": 2023,
                "powertrainType": "BEV", "mode": "simulated"}},
  "relationships": {
    "vehicle": {"data": {"id": "v-every", "type": "vehicle"}, "links": {"related": "/vehicles/v-every"}},
    "user": {"data": {"id": "u-every", "type": "user"}, "links": {"related": "/users/u-every"}}
  },
  "meta": {"createdAt": "2025-03-01T10:00:00Z", "updatedAt": "2025-03-02T10:00:00.123+02:00",
           "lastUsedAt": null},
  "links": {"self": "/connections/c-every"}
}"#,
    ),
    (
        "unknown fields and unusual values",
        r#"{"x-first":{"nested":[1,2.50,-0,1.5e300,0.1E-7,true,null,"\u2028"]},"id":"c-\u00e9\ud83d\ude97 \"odd\" \\ \/","attributes":{"vehicle":{"make":"Škoda 🚗","year":18446744073709551615,"mode":"live","x-trim":{}},"permissions":[],"x-new":"\u0000"},"relationships":{"user":{"data":{"id":"u-\u00e9","type":"owner","x":1}},"x-fleet":{"data":[]}},"meta":{"createdAt":"2024-02-29T23:59:59.999999999-12:00","lastUsedAt":{"weird":true}},"links":{}}"#,
    ),
];

/// The text of a listing page's `data` array, between its brackets, exactly as served.
pub(crate) fn data_text(answer: &Answer) -> String {
    let body = String::from_utf8(answer.body.clone()).unwrap();
    let inner = body
        .strip_prefix("{\"data\":[")
        .unwrap_or_else(|| panic!("{body}"));
    let end = inner
        .rfind("],\"meta\":")
        .unwrap_or_else(|| panic!("{body}"));
    inner[..end].to_owned()
}
