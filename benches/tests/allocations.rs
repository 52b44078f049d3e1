//! Heap allocations per decoded page, counted by a global allocator: `core_borrowed` makes
//! none on pages without escapes once its buffers are warm, and `core_heapless` makes none on
//! any page. Its own test binary, so the counting allocator touches no other test.
//!
//! The counts are global, so everything runs in one test, one step after another.
//! `cargo test --release -p connections-benches --test allocations -- --nocapture` also
//! prints the counts of every variant, for `BENCHMARKS.md`.

use std::alloc::System;

use connections_benches::{Fixture, Reuse, Variant};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Allocations and reallocations made while `f` runs.
fn allocations(f: impl FnOnce()) -> usize {
    let region = Region::new(GLOBAL);
    f();
    let change = region.change();
    change.allocations + change.reallocations
}

/// Allocations made by one iteration of `variant` over `body`, after one warm-up iteration
/// (which fills reused buffers, as the first page of a listing does).
fn allocations_per_page(variant: Variant, body: &[u8], reuse: &mut Reuse) -> usize {
    variant.run(body, reuse);
    allocations(|| {
        std::hint::black_box(variant.run(std::hint::black_box(body), reuse));
    })
}

#[test]
fn allocations_per_page_of_every_variant() {
    // The counter sees an allocation.
    assert_eq!(allocations(|| drop(std::hint::black_box(vec![1u8; 64]))), 1);

    // core_borrowed, on pages without escapes, after a warm-up page.
    for fixture in [Fixture::Page100, Fixture::Page10] {
        let body = fixture.body();
        let mut reuse = Reuse::for_body(&body);
        let n = allocations_per_page(Variant::CoreBorrowed, &body, &mut reuse);
        assert_eq!(n, 0, "core_borrowed / {}", fixture.name());
    }

    // A small page after a large one, then the large one again: the buffers keep the room.
    let (large, small) = (Fixture::Page100.body(), Fixture::Page10.body());
    let mut reuse = Reuse::for_body(&large);
    Variant::CoreBorrowed.run(&large, &mut reuse);
    for body in [&small, &large, &small] {
        let n = allocations(|| {
            Variant::CoreBorrowed.run(body, &mut reuse);
        });
        assert_eq!(n, 0, "core_borrowed, alternating page sizes");
    }

    // core_heapless, on every page, and not even a warm-up first.
    for fixture in Fixture::ALL {
        let body = fixture.body();
        let mut reuse = Reuse::for_body(&body);
        let n = allocations(|| {
            Variant::CoreHeapless.run(&body, &mut reuse);
        });
        assert_eq!(n, 0, "core_heapless / {}", fixture.name());
    }

    // Every variant's count, for BENCHMARKS.md.
    for fixture in Fixture::ALL {
        let body = fixture.body();
        for variant in Variant::ALL {
            let mut reuse = Reuse::for_body(&body);
            let n = allocations_per_page(variant, &body, &mut reuse);
            eprintln!("{:<18} {:<20} {n:>6}", fixture.name(), variant.name());
        }
    }
}
