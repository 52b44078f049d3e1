//! Data that moves while it is listed: inserts, removals and churn, checked against oracles
//! computed here from the raw records, never with the sandbox's own filter code.
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use common::{default_listing, get, get_json, ids, listing, page_of, records};
use connections_sandbox::{ConnectionRecord, Mode, Sandbox, SandboxConfig};

fn spawn(connections: usize, seed: u64, churn: u32) -> Sandbox {
    Sandbox::spawn(SandboxConfig {
        connections,
        seed,
        churn,
        ..SandboxConfig::default()
    })
    .unwrap()
}

fn id_list(records: &[ConnectionRecord]) -> Vec<String> {
    records.iter().map(|c| c.id.clone()).collect()
}

fn newest(records: &[ConnectionRecord]) -> &str {
    records
        .iter()
        .map(|c| c.created_at.as_str())
        .max()
        .unwrap_or("")
}

#[test]
fn inserted_connections_come_first_newer_than_all_others_and_follow_the_seed() {
    let s = spawn(30, 5, 0);
    let before = records(&s);
    let snapshot = s.dataset();
    let new = s.insert_connections(4);
    let after = records(&s);

    assert_eq!(new.len(), 4);
    assert_eq!(after.len(), 34);
    assert_eq!(id_list(&after[..4]), new, "on top, newest first");
    assert_eq!(after[4..], before[..], "the others are untouched");
    assert!(
        after[..4]
            .iter()
            .all(|c| c.created_at.as_str() > newest(&before))
    );
    assert!(after.windows(2).all(|w| w[0].created_at > w[1].created_at));
    assert_eq!(
        after.iter().map(|c| &c.id).collect::<HashSet<_>>().len(),
        34
    );
    assert_eq!(
        snapshot.connections().len(),
        30,
        "a snapshot taken before does not move"
    );

    // Both modes, so every new connection is seen whichever mode it drew.
    for mode in [Mode::Live, Mode::Simulated] {
        let (status, page) = get_json(
            &s,
            &format!("/v3/connections?filter[vehicle.mode]={mode}&page[size]=10"),
        );
        assert_eq!(status, 200);
        let all = listing(&after, None, None, Some(mode));
        let new_here: Vec<&String> = new.iter().filter(|id| all.contains(id)).collect();
        assert_eq!(ids(&page), page_of(&all, 1, 10));
        assert!(
            ids(&page).iter().take(new_here.len()).eq(new_here),
            "the new {mode} ones on top"
        );
        assert_eq!(page["meta"]["totalCount"], all.len());
    }

    let user = after[0].user_id.clone();
    let mode = after[0].mode;
    let mine = listing(&after, Some(&user), None, Some(mode));
    let (_, page) = get_json(
        &s,
        &format!(
            "/v3/connections?filter[userId]={user}&filter[vehicle.mode]={mode}&page[size]=100"
        ),
    );
    assert_eq!(ids(&page), mine, "the user's listing has it too");
    assert_eq!(mine[0], new[0]);
    assert_eq!(page["meta"]["totalCount"], mine.len());

    assert_eq!(
        spawn(30, 5, 0).insert_connections(4),
        new,
        "the same seed draws the same"
    );
    assert_ne!(spawn(30, 6, 0).insert_connections(4), new);
    let again = s.insert_connections(4);
    assert!(
        again.iter().all(|id| !new.contains(id)),
        "each insert draws anew"
    );
    assert!(s.insert_connections(0).is_empty());
}

#[test]
fn removed_connections_are_gone_from_every_listing() {
    let s = spawn(40, 3, 0);
    let before = records(&s);
    let victims = [
        before[0].id.clone(),
        before[13].id.clone(),
        before[39].id.clone(),
        "no-such-id".to_owned(),
    ];
    assert_eq!(
        s.remove_connections(&victims),
        3,
        "unknown ids are not counted"
    );
    let after = records(&s);
    let expected: Vec<ConnectionRecord> = before
        .iter()
        .filter(|c| !victims.contains(&c.id))
        .cloned()
        .collect();
    assert_eq!(after, expected);

    let live = default_listing(&expected);
    let last = live.len().div_ceil(10);
    let (_, page) = get_json(
        &s,
        &format!("/v3/connections?page[number]={last}&page[size]=10"),
    );
    assert_eq!(ids(&page), page_of(&live, last, 10));
    assert_eq!(page["meta"]["totalCount"], live.len());
    assert!(page["links"]["next"].is_null(), "the last page");
    assert!(victims.iter().all(|v| !live.contains(v)));

    let (_, gone) = get_json(
        &s,
        &format!(
            "/v3/connections?filter[vehicleId]={}&filter[vehicle.mode]={}",
            before[13].vehicle_id, before[13].mode
        ),
    );
    assert!(ids(&gone).is_empty());
    assert_eq!(gone["meta"]["totalCount"], 0);

    let simulated = listing(&expected, None, None, Some(Mode::Simulated));
    let (_, page) = get_json(
        &s,
        "/v3/connections?filter[vehicle.mode]=simulated&page[size]=100",
    );
    assert_eq!(ids(&page), simulated);
    assert_eq!(page["meta"]["totalCount"], simulated.len());

    assert_eq!(s.remove_connections(&victims), 0, "already gone");
    assert_eq!(s.remove_connections(Vec::<String>::new()), 0);
    assert_eq!(records(&s), expected);
}

/// The requests a churn test makes, in order.
const CHURN_REQUESTS: [&str; 5] = [
    "/v3/connections?page[number]=1&page[size]=10",
    "/v3/connections?page[number]=2&page[size]=10",
    "/v3/connections?page[number]=3&page[size]=10",
    "/v3/connections?page[number]=4&page[size]=10",
    "/v3/connections?filter[vehicle.mode]=simulated&page[size]=100",
];

#[test]
fn churn_moves_the_data_before_every_page_request_but_the_first() {
    let s = spawn(50, 42, 3);
    let generated = records(&s);

    let (_, first) = get_json(&s, CHURN_REQUESTS[0]);
    assert_eq!(
        records(&s),
        generated,
        "the first page request leaves the data alone"
    );
    assert_eq!(ids(&first), page_of(&default_listing(&generated), 1, 10));
    assert_eq!(s.faults().churned, 0);

    let mut previous = generated;
    for (n, target) in CHURN_REQUESTS.iter().enumerate().skip(1) {
        let (status, page) = get_json(&s, target);
        assert_eq!(status, 200);
        let now = records(&s);
        assert_eq!(now.len(), 50, "as many in as out");
        let fresh = &now[..3];
        assert!(
            fresh.iter().all(|c| !previous.iter().any(|p| p.id == c.id)),
            "three new connections on top"
        );
        assert!(
            fresh
                .iter()
                .all(|c| c.created_at.as_str() > newest(&previous))
        );
        let kept: Vec<ConnectionRecord> = previous
            .iter()
            .filter(|p| now.iter().any(|c| c.id == p.id))
            .cloned()
            .collect();
        assert_eq!(kept.len(), 47, "three of the existing ones are gone");
        assert_eq!(now[3..], kept[..], "the rest keep their order");

        let mode = target.contains("simulated").then_some(Mode::Simulated);
        let all = listing(&now, None, None, mode);
        let expected = if mode.is_some() {
            all.clone()
        } else {
            page_of(&all, n + 1, 10)
        };
        assert_eq!(ids(&page), expected, "cut from the moved data");
        assert_eq!(page["meta"]["totalCount"], all.len());
        assert_eq!(s.faults().churned, n as u64);
        previous = now;
    }

    assert_eq!(
        get(&s, "/v3/connections?page[size]=0", Some(s.token())).status,
        400
    );
    assert_eq!(get(&s, "/v3/connections", Some("wrong")).status, 401);
    assert_eq!(
        records(&s),
        previous,
        "requests answered with an error move nothing"
    );
    assert_eq!(s.faults().churned, 4);
}

#[test]
fn churn_is_the_same_for_the_same_seed() {
    let run = |seed| {
        let s = spawn(30, seed, 2);
        let bodies: Vec<serde_json::Value> = CHURN_REQUESTS
            .iter()
            .map(|target| get_json(&s, target).1)
            .collect();
        (bodies, records(&s))
    };
    let (bodies, data) = run(7);
    assert_eq!(run(7), (bodies.clone(), data.clone()));
    let (other_bodies, other_data) = run(8);
    assert_ne!(other_data, data);
    assert_ne!(other_bodies, bodies);
}

#[test]
fn pages_stay_consistent_while_the_data_changes_under_them() {
    let s = spawn(300, 11, 0);
    let first = records(&s);
    let live = default_listing(&first);
    std::thread::scope(|scope| {
        let writer = scope.spawn(|| {
            for _ in 0..30 {
                let ids = s.insert_connections(5);
                assert_eq!(s.remove_connections(&ids), 5);
            }
        });
        while !writer.is_finished() {
            let (status, page) = get_json(&s, "/v3/connections?page[number]=2&page[size]=100");
            assert_eq!(status, 200);
            let total = page["meta"]["totalCount"].as_u64().unwrap() as usize;
            let got = ids(&page);
            // Either before an insert (live items 100..200 of the original) or after it (the
            // original shifted down by the k of the five on top that are live): never a mix
            // of two snapshots.
            let k = total
                .checked_sub(live.len())
                .filter(|&k| k <= 5)
                .unwrap_or_else(|| {
                    panic!("totalCount {total} is neither before nor after an insert")
                });
            assert_eq!(got, live[100 - k..200 - k], "{k} new live ones on top");
        }
        writer.join().unwrap();
    });
    assert_eq!(records(&s), first, "every insert was taken back out");
}

#[test]
fn a_hundred_thousand_connections_serve_any_page_quickly() {
    let s = spawn(100_000, 42, 0);
    let all = records(&s);
    let simulated = listing(&all, None, None, Some(Mode::Simulated));
    let pages = simulated.len().div_ceil(100);
    let started = Instant::now();
    for n in [1, 2, pages / 2, pages - 1, pages] {
        for _ in 0..20 {
            let (_, page) = get_json(
                &s,
                &format!(
                    "/v3/connections?filter[vehicle.mode]=simulated&page[number]={n}&page[size]=100"
                ),
            );
            assert_eq!(ids(&page), page_of(&simulated, n, 100));
            assert_eq!(page["meta"]["totalCount"], simulated.len());
        }
    }
    let live = default_listing(&all);
    assert_eq!(live.len() + simulated.len(), 100_000);
    let deep = live.len() / 100; // the last full page
    let (_, page) = get_json(
        &s,
        &format!("/v3/connections?page[number]={deep}&page[size]=100"),
    );
    assert_eq!(page["meta"]["totalCount"], live.len());
    assert_eq!(ids(&page), page_of(&live, deep, 100));
    // 101 pages of 100: far under this even unoptimized; copying or scanning all 100,000
    // connections per page would take it well past.
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "101 pages took {:?}",
        started.elapsed()
    );

    let started = Instant::now();
    let new = s.insert_connections(1);
    assert_eq!(s.dataset().connections()[0].id, new[0]);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "a mutation of 100,000 took {:?}",
        started.elapsed()
    );
}
