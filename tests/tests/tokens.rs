//! Application tokens against the sandbox's token endpoint, on both transports: revoked
//! mid-listing, they are replaced once and the listing completes.
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use std::collections::BTreeSet;
use std::time::Duration;

use connections_core::ListConnections;
use connections_e2e::{ALL, Consumer, Expect, list_ids_as};
use connections_sandbox::{Sandbox, SandboxConfig};

const CLIENT_ID: &str = "e2e-app";
const SECRET: &str = "e2e-s3cret";

#[test]
fn tokens_revoked_mid_listing_are_replaced_once() {
    let request = ListConnections::builder().page_size(5).build().unwrap();
    for via in ALL {
        let sandbox = Sandbox::spawn(SandboxConfig {
            connections: 40,
            client_id: Some(CLIENT_ID.to_owned()),
            client_secret: Some(SECRET.to_owned()),
            latency: Duration::from_millis(10),
            ..SandboxConfig::default()
        })
        .unwrap();
        let want: BTreeSet<String> = Expect::default()
            .ids(&sandbox.dataset())
            .into_iter()
            .collect();
        let consumer = Consumer {
            credentials: Some((CLIENT_ID, SECRET)),
            ..Consumer::default()
        };
        let ids = list_ids_as(&sandbox, via, &request, consumer, |page| {
            if page == 2 {
                sandbox.revoke_tokens();
            }
        })
        .unwrap_or_else(|e| panic!("via {via:?}: {e}"));
        let got: BTreeSet<String> = ids.iter().cloned().collect();
        assert_eq!(got.len(), ids.len(), "via {via:?}: an id came twice");
        assert_eq!(got, want, "via {via:?}");
        assert_eq!(sandbox.tokens_issued(), 2, "via {via:?}: one refresh");
    }
}
