//! `page_decode/<fixture>/<variant>`: decoding one `GET /connections` page and visiting every
//! field, connections-core against serde_json, sonic-rs and simd-json, with a `memchr` pass as the floor.
#![allow(
    missing_docs,
    reason = "criterion_group! generates an undocumented pub fn in this bench binary"
)]

use std::hint::black_box;
use std::time::Duration;

use connections_benches::{
    Fixture, Reuse, Variant, core_borrowed, core_heapless, core_owned, memchr_scan,
    serde_json_borrowed, serde_json_owned, serde_json_value, simd_json_owned, sonic_rs_borrowed,
    sonic_rs_owned,
};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

fn page_decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("page_decode");
    for fixture in Fixture::ALL {
        let body = fixture.body();
        let body = body.as_slice();
        let mut reuse = Reuse::for_body(body);
        group.throughput(Throughput::Bytes(body.len() as u64));
        for variant in Variant::ALL {
            let id = BenchmarkId::new(fixture.name(), variant.name());
            group.bench_function(id, |b| match variant {
                Variant::CoreBorrowed => {
                    b.iter(|| core_borrowed(black_box(body), black_box(&mut reuse.buffers)))
                }
                Variant::CoreOwned => b.iter(|| core_owned(black_box(body))),
                Variant::CoreHeapless => {
                    b.iter(|| core_heapless(black_box(body), black_box(&mut reuse.scratch)))
                }
                Variant::SerdeJsonOwned => b.iter(|| serde_json_owned(black_box(body))),
                Variant::SerdeJsonBorrowed => b.iter(|| serde_json_borrowed(black_box(body))),
                Variant::SerdeJsonValue => b.iter(|| serde_json_value(black_box(body))),
                Variant::SonicRsOwned => b.iter(|| sonic_rs_owned(black_box(body))),
                Variant::SonicRsBorrowed => b.iter(|| sonic_rs_borrowed(black_box(body))),
                Variant::SimdJsonOwned => b.iter(|| simd_json_owned(black_box(body))),
                Variant::MemchrScan => b.iter(|| memchr_scan(black_box(body))),
            });
        }
    }
    group.finish();
}

criterion_group! {
    name = benches;
    // Short enough that all 30 benches finish in a few minutes on a shared 2-core machine.
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(50);
    targets = page_decode
}
criterion_main!(benches);
