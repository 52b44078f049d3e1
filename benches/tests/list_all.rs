//! The `list_all` bench compares like with like: every variant, run once against a sandbox
//! without latency, lists exactly the dataset's 2,000 ids in order.

#[path = "../benches/list_all/variants.rs"]
mod variants;

use connections_sandbox::{Filters, Sandbox, SandboxConfig};

use variants::{CONNECTIONS, Lister, PAGE_SIZE, Variant};

#[test]
fn every_variant_lists_exactly_the_dataset() {
    let sandbox = Sandbox::spawn(SandboxConfig {
        connections: CONNECTIONS,
        ..SandboxConfig::default()
    })
    .unwrap();
    let expected = sandbox.dataset().expected_ids(Filters::default());
    assert_eq!(expected.len(), CONNECTIONS);
    // 20 full pages: the listing has to follow `next` links, not stop after one page.
    assert_eq!(CONNECTIONS % PAGE_SIZE as usize, 0);
    assert!(CONNECTIONS / PAGE_SIZE as usize > 1);
    for variant in Variant::ALL {
        let lister = Lister::new(variant, &sandbox).unwrap();
        let ids = lister.list_all().unwrap();
        variants::assert_same_ids(variant, &ids, &expected);
    }
}
