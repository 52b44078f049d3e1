//! `sandbox_pages/<connections>/<steady|churn3>`: pages per second the in-process sandbox
//! serves at 10k, 100k and 1M generated connections, with the data still (`steady`) and moving
//! under the listing (`churn3`: `SandboxConfig::churn = 3`, so before every page request but
//! the first, 3 connections go and 3 new ones come on top).
//!
//! One iteration is one `GET /connections` of `page[size]=100` over a kept-alive HTTP/1.1
//! connection, bodies uncompressed (gzip would add the same cost at every size and hide what
//! this measures: whether a page costs O(page) or O(dataset)). The page numbers walk the whole
//! listing from 1 and wrap, as a listing does, so deep pages are measured as well as the first.
//! The client is a bare `ureq` agent whose cost is the same at every size. Each sandbox is
//! built once per size and shared by its two benches; the 1M dataset takes a few seconds.
#![allow(
    missing_docs,
    reason = "criterion_group! generates an undocumented pub fn in this bench binary"
)]

use std::cell::Cell;
use std::time::Duration;

use connections_sandbox::{Sandbox, SandboxConfig};
use criterion::{
    BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};

const SIZES: [(usize, &str); 3] = [(10_000, "10k"), (100_000, "100k"), (1_000_000, "1M")];
const PAGE_SIZE: u64 = 100;
/// What `--churn 3` moves before every page, as in the soak of issue 18.
const CHURN: u32 = 3;

/// One sandbox and a client walking its pages.
struct Walker {
    sandbox: Sandbox,
    agent: ureq::Agent,
    authorization: String,
    /// Live connections at spawn: the listing's length (churn keeps it).
    pages: u64,
    next: Cell<u64>,
}

impl Walker {
    fn new(connections: usize, churn: u32) -> Walker {
        let sandbox = Sandbox::spawn(SandboxConfig {
            connections,
            churn,
            ..SandboxConfig::default()
        })
        .expect("the sandbox starts");
        let live = sandbox
            .dataset()
            .connections()
            .iter()
            .filter(|c| c.mode == connections_sandbox::Mode::Live)
            .count() as u64;
        Walker {
            authorization: format!("Bearer {}", sandbox.token()),
            sandbox,
            agent: ureq::Agent::new_with_defaults(),
            pages: live.div_ceil(PAGE_SIZE).max(1),
            next: Cell::new(1),
        }
    }

    /// Fetches the next page of the walk and checks it is a full listing page.
    fn page(&self) -> usize {
        let number = self.next.get();
        self.next.set(number % self.pages + 1);
        let url = format!(
            "{}/connections?page%5Bnumber%5D={number}&page%5Bsize%5D={PAGE_SIZE}",
            self.sandbox.base_url()
        );
        let body = self
            .agent
            .get(&url)
            .header("authorization", &self.authorization)
            .header("accept-encoding", "identity")
            .call()
            .expect("the page is served")
            .body_mut()
            .read_to_vec()
            .expect("the body reads");
        assert!(body.starts_with(b"{\"data\":["), "a listing page");
        body.len()
    }
}

fn sandbox_pages(c: &mut Criterion) {
    let mut group = c.benchmark_group("sandbox_pages");
    group.sampling_mode(SamplingMode::Flat);
    group.throughput(Throughput::Elements(1));
    for (connections, name) in SIZES {
        for (churn, kind) in [(0, "steady"), (CHURN, "churn3")] {
            let walker = Walker::new(connections, churn);
            group.bench_function(BenchmarkId::new(name, kind), |b| b.iter(|| walker.page()));
        }
    }
    group.finish();
}

criterion_group! {
    name = benches;
    // A page takes well under a millisecond once it is O(page); 10 flat samples over 2 s keep
    // the six benches (and the three datasets they build) to about half a minute.
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(10);
    targets = sandbox_pages
}
criterion_main!(benches);
