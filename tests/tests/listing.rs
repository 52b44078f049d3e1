//! Both transports list the sandbox completely, with every filter and page size, and through
//! injected latency, failures and rate limits.
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use std::time::Duration;

use connections_core::{ListConnections, Mode};
use connections_e2e::{ALL, list_ids};
use connections_sandbox::{Filters, Mode as SandboxMode, Sandbox, SandboxConfig};

#[test]
fn every_filter_and_page_size_gives_exactly_the_dataset() {
    let sandbox = Sandbox::spawn(SandboxConfig {
        connections: 120,
        ..SandboxConfig::default()
    })
    .unwrap();
    let dataset = sandbox.dataset();
    let user = dataset.user_ids().next().unwrap().to_owned();
    let vehicle = dataset.connections()[17].vehicle_id.clone();
    let cases = [
        (Filters::default(), ListConnections::builder()),
        (
            Filters {
                mode: Some(SandboxMode::Live),
                ..Filters::default()
            },
            ListConnections::builder().mode(Mode::Live),
        ),
        (
            Filters {
                mode: Some(SandboxMode::Simulated),
                ..Filters::default()
            },
            ListConnections::builder().mode(Mode::Simulated),
        ),
        (
            Filters {
                user_id: Some(&user),
                ..Filters::default()
            },
            ListConnections::builder().user_id(&user),
        ),
        (
            Filters {
                user_id: Some(&user),
                mode: Some(SandboxMode::Live),
                ..Filters::default()
            },
            ListConnections::builder().user_id(&user).mode(Mode::Live),
        ),
        (
            Filters {
                vehicle_id: Some(&vehicle),
                ..Filters::default()
            },
            ListConnections::builder().vehicle_id(&vehicle),
        ),
        (
            Filters {
                user_id: Some("nobody"),
                ..Filters::default()
            },
            ListConnections::builder().user_id("nobody"),
        ),
    ];
    for (filters, builder) in cases {
        let expected = dataset.expected_ids(filters);
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
        let expected = sandbox.dataset().expected_ids(Filters::default());
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
    let expected = sandbox.dataset().expected_ids(Filters::default());
    let request = ListConnections::builder().page_size(4).build().unwrap();
    for via in ALL {
        assert_eq!(
            list_ids(&sandbox, via, &request).unwrap(),
            expected,
            "via {via:?}"
        );
    }
}
