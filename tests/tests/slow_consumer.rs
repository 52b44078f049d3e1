//! A consumer slower than the request timeout: fetches run on their own tasks or threads,
//! so it causes no timeouts, no retries and no second request for any page.
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use std::collections::BTreeSet;
use std::time::Duration;

use connections_core::ListConnections;
use connections_e2e::{Consumer, Expect, Via, list_ids_as};
use connections_sandbox::{Sandbox, SandboxConfig};

const CONNECTIONS: usize = 30;
const PAGE_SIZE: u32 = 5;

/// Lists with 8 pages in flight, a 250 ms deadline and no retries, while the consumer spends
/// 500 ms on each page: twice the deadline, with the read-ahead sitting unconsumed.
fn list_slowly(via: Via) {
    let sandbox = Sandbox::spawn(SandboxConfig {
        connections: CONNECTIONS,
        latency: Duration::from_millis(20),
        ..SandboxConfig::default()
    })
    .unwrap();
    let want: BTreeSet<String> = Expect::default()
        .ids(&sandbox.dataset())
        .into_iter()
        .collect();
    let pages = u64::try_from(want.len().div_ceil(PAGE_SIZE as usize).max(1)).unwrap();
    let consumer = Consumer {
        timeout: Duration::from_millis(250),
        max_attempts: 1,
        per_page: Duration::from_millis(500),
        ..Consumer::default()
    };
    let request = ListConnections::builder()
        .page_size(PAGE_SIZE)
        .build()
        .unwrap();
    let ids = list_ids_as(&sandbox, via, &request, consumer, |_| {})
        .unwrap_or_else(|e| panic!("via {via:?}: a slow consumer failed the listing: {e}"));
    let got: BTreeSet<String> = ids.iter().cloned().collect();
    assert_eq!(got.len(), ids.len(), "via {via:?}: an id came twice");
    assert_eq!(got, want, "via {via:?}");
    assert_eq!(
        sandbox.requests(),
        pages,
        "via {via:?}: one request per page, none sent again"
    );
}

#[test]
fn a_consumer_slower_than_the_timeout_causes_no_timeouts_or_refetches() {
    // Both transports at once: each waits mostly on its consumer.
    let hyper = std::thread::spawn(|| list_slowly(Via::HyperConcurrent(8)));
    list_slowly(Via::BlockingConcurrent(8));
    hyper.join().unwrap();
}
