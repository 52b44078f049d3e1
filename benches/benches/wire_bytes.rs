//! Bytes on the wire per 1,000 connections, with and without gzip.
//!
//! `cargo bench -p connections-benches --bench wire_bytes` lists 1,000 connections from the
//! in-process sandbox at `page[size]=100` twice: once with `connections-hyper` (which asks for
//! `Accept-Encoding: gzip`), once page by page with a plain `ureq` agent asking for
//! `Accept-Encoding: identity`. The sandbox counts the response body bytes it wrote; headers
//! (a few hundred bytes per response) are left out of both. It checks both listings got every
//! connection. A count, not a timing: one run is exact.
#![allow(clippy::print_stdout, clippy::unwrap_used)] // printing the figures is this program's job

use connections_hyper::ListConnections;
use connections_sandbox::{Sandbox, SandboxConfig};
use futures_util::StreamExt;

/// With the default seed, 1,255 generated connections hold exactly [`CONNECTIONS`] live ones,
/// which is what a listing without a mode filter returns.
const DATASET: usize = 1_255;
/// How many connections each listing returns.
const CONNECTIONS: usize = 1_000;
const PAGE_SIZE: u32 = 100;

fn main() {
    let sandbox = Sandbox::spawn(SandboxConfig {
        connections: DATASET,
        ..SandboxConfig::default()
    })
    .unwrap();
    let request = ListConnections::builder()
        .page_size(PAGE_SIZE)
        .build()
        .unwrap();

    let before = sandbox.body_bytes_sent();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let listed = runtime.block_on(async {
        let client = connections_hyper::Client::builder()
            .base_url(sandbox.base_url())
            .token(sandbox.token())
            .build()
            .unwrap();
        let mut count = 0;
        let mut connections = std::pin::pin!(client.connections(&request));
        while let Some(connection) = connections.next().await {
            connection.unwrap();
            count += 1;
        }
        count
    });
    assert_eq!(listed, CONNECTIONS);
    let gzip = sandbox.body_bytes_sent() - before;

    let before = sandbox.body_bytes_sent();
    let agent = ureq::Agent::new_with_defaults();
    let mut plain_count = 0;
    for page in 1..=CONNECTIONS.div_ceil(PAGE_SIZE as usize) {
        let url = format!(
            "{}/connections?page%5Bnumber%5D={page}&page%5Bsize%5D={PAGE_SIZE}",
            sandbox.base_url()
        );
        let body = agent
            .get(&url)
            .header("authorization", &format!("Bearer {}", sandbox.token()))
            .header("accept-encoding", "identity")
            .call()
            .unwrap()
            .body_mut()
            .read_to_string()
            .unwrap();
        plain_count += body.matches("\"type\":\"connection\"").count();
    }
    assert_eq!(plain_count, CONNECTIONS);
    let plain = sandbox.body_bytes_sent() - before;

    println!(
        "wire_bytes: response body bytes per {CONNECTIONS} connections, page[size]={PAGE_SIZE}"
    );
    println!("identity  {plain:>9} bytes");
    println!("gzip      {gzip:>9} bytes");
    println!(
        "ratio     {:>9.2}x fewer with gzip",
        plain as f64 / gzip as f64
    );
}
