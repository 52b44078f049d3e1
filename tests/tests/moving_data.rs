//! Connections created or deleted during a listing: page-number paging shifts the items, and
//! the listing still yields each connection at most once.
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use std::collections::BTreeSet;

use connections_core::ListConnections;
use connections_e2e::{ALL, Consumer, Expect, Via, list_ids_as};
use connections_sandbox::{Sandbox, SandboxConfig};

fn sandbox(connections: usize) -> Sandbox {
    Sandbox::spawn(SandboxConfig {
        connections,
        ..SandboxConfig::default()
    })
    .unwrap()
}

/// What a listing without filters selects now: the live connections (the test's own oracle).
fn ids_of(sandbox: &Sandbox) -> BTreeSet<String> {
    Expect::default()
        .ids(&sandbox.dataset())
        .into_iter()
        .collect()
}

/// Asserts no id came twice and returns them as a set.
fn unique(ids: &[String], context: &str) -> BTreeSet<String> {
    let set: BTreeSet<String> = ids.iter().cloned().collect();
    assert_eq!(set.len(), ids.len(), "{context}: an id was yielded twice");
    set
}

/// New connections go on top of the listing, so every later page starts with items already
/// yielded. Fetching pages in order, nothing moves past the listing's position, so every
/// original connection still comes exactly once, and the new ones (above it) not at all.
/// Reading ahead, a later page may be fetched before the shift and an earlier one after it,
/// so some may be skipped (no page-number client can avoid that), but none comes twice.
#[test]
fn connections_created_mid_listing_are_not_yielded_twice() {
    let request = ListConnections::builder().page_size(10).build().unwrap();
    for via in ALL {
        let sandbox = sandbox(50);
        let before = ids_of(&sandbox);
        let mut created = Vec::new();
        let ids = list_ids_as(&sandbox, via, &request, Consumer::default(), |page| {
            if page <= 2 {
                created.extend(sandbox.insert_connections(3));
            }
        })
        .unwrap();
        assert_eq!(created.len(), 6);
        let got = unique(&ids, &format!("via {via:?}"));
        if matches!(via, Via::HyperSequential | Via::Blocking) {
            assert_eq!(got, before, "via {via:?}");
        } else {
            assert!(got.is_subset(&before), "via {via:?}: an id from nowhere");
        }
    }
}

/// Deleted connections pull later items up, so a page-number listing skips some: no client
/// can see those. What it yields is still each connection at most once, every one of them
/// real before or after.
#[test]
fn connections_deleted_or_churned_mid_listing_never_come_twice() {
    let request = ListConnections::builder().page_size(10).build().unwrap();
    for via in ALL {
        let sandbox = sandbox(80);
        let before = ids_of(&sandbox);
        let doomed: Vec<String> = sandbox.dataset().connections()[..5]
            .iter()
            .map(|c| c.id.clone())
            .collect();
        let mut created = BTreeSet::new();
        let ids = list_ids_as(&sandbox, via, &request, Consumer::default(), |page| {
            if page == 1 {
                assert_eq!(sandbox.remove_connections(&doomed), 5);
            }
            if page == 3 {
                created.extend(sandbox.insert_connections(12));
            }
        })
        .unwrap();
        let got = unique(&ids, &format!("via {via:?}"));
        let known: BTreeSet<String> = before.union(&created).cloned().collect();
        assert!(got.is_subset(&known), "via {via:?}: an id from nowhere");
        // At most the 5 deleted and the 12 shifted by the insert are missed.
        assert!(
            got.len() + 5 + 12 >= before.len(),
            "via {via:?}: only {} of {}",
            got.len(),
            before.len()
        );
    }
}
