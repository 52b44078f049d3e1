//! Both transports list the sandbox completely, with every filter and page size, and through
//! injected latency, failures and rate limits.
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use std::time::Duration;

use connections_core::{ListConnections, Mode};
use connections_e2e::{ALL, Expect, list_ids};
use connections_sandbox::{Mode as SandboxMode, Sandbox, SandboxConfig};

#[test]
fn every_filter_and_page_size_gives_exactly_the_dataset() {
    let sandbox = Sandbox::spawn(SandboxConfig {
        connections: 120,
        ..SandboxConfig::default()
    })
    .unwrap();
    let dataset = sandbox.dataset();
    // A user with a simulated vehicle and a live vehicle, so the combined filter selects some.
    let records = dataset.connections();
    let simulated = records
        .iter()
        .find(|c| c.mode == SandboxMode::Simulated)
        .unwrap();
    let user = simulated.user_id.clone();
    let live = records
        .iter()
        .filter(|c| c.mode == SandboxMode::Live)
        .nth(17)
        .unwrap();
    let vehicle = live.vehicle_id.clone();
    let cases = [
        (Expect::default(), ListConnections::builder()),
        (
            Expect {
                mode: Some(SandboxMode::Live),
                ..Expect::default()
            },
            ListConnections::builder().mode(Mode::Live),
        ),
        (
            Expect {
                mode: Some(SandboxMode::Simulated),
                ..Expect::default()
            },
            ListConnections::builder().mode(Mode::Simulated),
        ),
        (
            Expect {
                user_id: Some(&user),
                ..Expect::default()
            },
            ListConnections::builder().user_id(&user),
        ),
        (
            Expect {
                user_id: Some(&user),
                mode: Some(SandboxMode::Simulated),
                ..Expect::default()
            },
            ListConnections::builder()
                .user_id(&user)
                .mode(Mode::Simulated),
        ),
        (
            Expect {
                vehicle_id: Some(&vehicle),
                ..Expect::default()
            },
            ListConnections::builder().vehicle_id(&vehicle),
        ),
        (
            Expect {
                user_id: Some("nobody"),
                ..Expect::default()
            },
            ListConnections::builder().user_id("nobody"),
        ),
    ];
    for (filters, builder) in cases {
        let expected = filters.ids(&dataset);
        assert!(
            !expected.is_empty() || filters.user_id == Some("nobody"),
            "{filters:?} selects something, so the test means something"
        );
        for size in [1, 7, 10, 100] {
            let request = builder.clone().page_size(size).build().unwrap();
            for via in ALL {
                let ids = list_ids(&sandbox, via, &request).unwrap();
                assert_eq!(ids, expected, "{filters:?} page size {size} via {via:?}");
            }
        }
    }
}

#[test]
fn injected_latency_failures_and_rate_limits_still_give_the_complete_listing() {
    let request = ListConnections::builder().page_size(10).build().unwrap();
    for via in ALL {
        let sandbox = Sandbox::spawn(SandboxConfig {
            connections: 40,
            latency: Duration::from_millis(5),
            failure_rate: 0.25,
            rate_limit: Some(2),
            ..SandboxConfig::default()
        })
        .unwrap();
        let expected = Expect::default().ids(&sandbox.dataset());
        assert_eq!(
            list_ids(&sandbox, via, &request).unwrap(),
            expected,
            "via {via:?}"
        );
        let faults = sandbox.faults();
        assert!(
            faults.failures > 0 && faults.rate_limited > 0,
            "via {via:?}: faults were injected and overcome: {faults:?}"
        );
    }
}

#[test]
fn absolute_links_are_followed_too() {
    let sandbox = Sandbox::spawn(SandboxConfig {
        connections: 30,
        absolute_links: true,
        ..SandboxConfig::default()
    })
    .unwrap();
    let expected = Expect::default().ids(&sandbox.dataset());
    let request = ListConnections::builder().page_size(4).build().unwrap();
    for via in ALL {
        assert_eq!(
            list_ids(&sandbox, via, &request).unwrap(),
            expected,
            "via {via:?}"
        );
    }
}
