//! The `list_all` bench compares like with like: every variant, run once against a sandbox
//! without latency, lists exactly the dataset's 2,000 live ids in order.

#[path = "../benches/list_all/variants.rs"]
mod variants;

use connections_sandbox::{Sandbox, SandboxConfig};

use variants::{DATASET, LISTED, Lister, PAGE_SIZE, Variant};

#[test]
fn every_variant_lists_exactly_the_dataset() {
    let sandbox = Sandbox::spawn(SandboxConfig {
        connections: DATASET,
        ..SandboxConfig::default()
    })
    .unwrap();
    let expected = variants::expected_ids(&sandbox);
    assert_eq!(expected.len(), LISTED);
    // 20 full pages: the listing has to follow `next` links, not stop after one page.
    assert_eq!(LISTED % PAGE_SIZE as usize, 0);
    assert!(LISTED / PAGE_SIZE as usize > 1);
    for variant in Variant::ALL {
        let lister = Lister::new(variant, &sandbox).unwrap();
        let ids = lister.list_all().unwrap();
        variants::assert_same_ids(variant, &ids, &expected);
    }
}
