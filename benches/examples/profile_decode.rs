//! Runs one `page_decode` variant over one fixture many times, for an instruction profile:
//!
//! ```sh
//! cargo build --profile bench -p connections-benches --example profile_decode
//! valgrind --tool=callgrind target/release/examples/profile_decode core_borrowed page_100 50
//! ```
//!
//! Instruction counts do not move with the load of a shared machine, unlike timings.
//! Subtract a run with 0 iterations (which only generates the fixture).

use connections_benches::{Fixture, Reuse, Variant};

fn main() {
    let mut args = std::env::args().skip(1);
    let variant = args.next().unwrap_or_else(|| "core_borrowed".into());
    let fixture = args.next().unwrap_or_else(|| "page_100".into());
    let iterations: usize = args
        .next()
        .map_or(200, |n| n.parse().expect("iterations is a number"));
    let variant = Variant::ALL
        .into_iter()
        .find(|v| v.name() == variant)
        .expect("a variant name, e.g. core_borrowed");
    let fixture = Fixture::ALL
        .into_iter()
        .find(|f| f.name() == fixture)
        .expect("a fixture name, e.g. page_100");
    let body = fixture.body();
    let mut reuse = Reuse::for_body(&body);
    let sum: u64 = (0..iterations)
        .map(|_| variant.run(std::hint::black_box(&body), &mut reuse))
        .sum();
    std::hint::black_box(sum);
}
