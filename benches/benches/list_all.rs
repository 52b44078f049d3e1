//! `list_all/<variant>`: listing 2,000 (live) connections at page size 100 (20 pages) from the
//! in-process sandbox, which waits 20 ms before every answer, with both transports and with
//! the loop a user would write by hand (ureq + serde_json, bodies plain or gzip).
//!
//! The sandbox is spawned once; each variant's client is built once and reused by every
//! iteration, so keeping connections alive is part of what is measured. Latency dominates,
//! so a listing takes tens to hundreds of milliseconds: flat sampling, 10 samples.
#![allow(
    missing_docs,
    reason = "criterion_group! generates an undocumented pub fn in this bench binary"
)]

#[path = "list_all/variants.rs"]
mod variants;

use std::time::Duration;

use connections_sandbox::{Sandbox, SandboxConfig};
use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};

use variants::{DATASET, LISTED, Lister, Variant};

/// What the sandbox waits before every answer, standing in for the network and the API.
const LATENCY: Duration = Duration::from_millis(20);

fn list_all(c: &mut Criterion) {
    let sandbox = Sandbox::spawn(SandboxConfig {
        connections: DATASET,
        latency: LATENCY,
        ..SandboxConfig::default()
    })
    .expect("the sandbox starts");
    let expected = variants::expected_ids(&sandbox);
    assert_eq!(expected.len(), LISTED);

    let mut group = c.benchmark_group("list_all");
    group.sampling_mode(SamplingMode::Flat);
    group.throughput(Throughput::Elements(LISTED as u64));
    for variant in Variant::ALL {
        let lister = Lister::new(variant, &sandbox).expect("the client builds");
        // Every variant must list the same thing before its time means anything.
        let ids = lister.list_all().expect("the listing succeeds");
        variants::assert_same_ids(variant, &ids, &expected);
        group.bench_function(variant.name(), |b| {
            b.iter(|| lister.list_all().expect("the listing succeeds"))
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    // About 0.1–0.5 s per listing: 10 flat samples after a short warm-up keep the whole
    // bench (5 variants) well under two minutes.
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .sample_size(10);
    targets = list_all
}
criterion_main!(benches);
