//! The benches compare like with like: every variant decodes every fixture and its visit
//! yields the same sum, the fixtures are what they claim to be, and the borrowed comparator
//! really borrows.

use std::borrow::Cow;

use connections_benches::{
    BorrowedPage, DEFAULT_PAGE_SIZE, Fixture, LARGE_PAGE_SIZE, OwnedPage, Reuse, Variant, page_10,
    page_100, page_100_escapes, visit_serde,
};

#[test]
fn every_variant_visits_every_fixture_to_the_same_sum() {
    for fixture in Fixture::ALL {
        let body = fixture.body();
        let expected = visit_serde(&fixture.source());
        assert!(expected > 0);
        let mut reuse = Reuse::for_body(&body);
        for variant in Variant::ALL.into_iter().filter(|v| v.is_decoder()) {
            // Twice, as the bench does, to show reused buffers are fine.
            for _ in 0..2 {
                let got = variant.run(&body, &mut reuse);
                assert_eq!(got, expected, "{} / {}", fixture.name(), variant.name());
            }
        }
        assert!(Variant::MemchrScan.run(&body, &mut reuse) > 0);
    }
}

#[test]
fn fixtures_round_trip_through_serde_json() {
    for fixture in Fixture::ALL {
        let decoded: OwnedPage = serde_json::from_slice(&fixture.body()).unwrap();
        assert_eq!(decoded, fixture.source(), "{}", fixture.name());
    }
}

#[test]
fn fixtures_are_deterministic_and_the_promised_shape() {
    assert_eq!(page_100(), page_100());
    assert_eq!(page_100(), Fixture::Page100.body());
    assert_eq!(page_10(), Fixture::Page10.body());
    assert_eq!(page_100_escapes(), Fixture::Page100Escapes.body());

    let len = page_100().len();
    assert!((50_000..80_000).contains(&len), "page_100 is {len} bytes");

    let page_100 = Fixture::Page100.source();
    let page_10 = Fixture::Page10.source();
    assert_eq!(page_100.data.len(), LARGE_PAGE_SIZE);
    assert_eq!(page_10.data.len(), DEFAULT_PAGE_SIZE);
    assert_eq!(page_10.data[..], page_100.data[..DEFAULT_PAGE_SIZE]);
    for c in &page_100.data {
        let permissions = c.attributes.as_ref().unwrap().permissions.as_ref().unwrap();
        assert!((2..=6).contains(&permissions.len()));
        let created = c.meta.as_ref().unwrap().created_at.as_ref().unwrap();
        assert!(
            connections_core::Timestamp(created.as_str())
                .unix_time()
                .is_ok()
        );
    }
    let modes: Vec<_> = page_100
        .data
        .iter()
        .map(|c| {
            c.attributes
                .as_ref()
                .unwrap()
                .vehicle
                .as_ref()
                .unwrap()
                .mode
                .clone()
        })
        .collect();
    assert!(modes.contains(&Some("live".into())));
    assert!(modes.contains(&Some("simulated".into())));
}

/// Every string value in a JSON document, in order.
fn strings(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::String(s) => out.push(s.clone()),
        serde_json::Value::Array(items) => items.iter().for_each(|v| strings(v, out)),
        serde_json::Value::Object(fields) => fields.values().for_each(|v| strings(v, out)),
        _ => {}
    }
}

#[test]
fn about_a_third_of_the_escapes_fixture_strings_hold_each_kind_of_escape() {
    let plain = page_100();
    assert!(!plain.contains(&b'\\'), "page_100 must hold no escapes");

    let body = page_100_escapes();
    let text = std::str::from_utf8(&body).unwrap();
    assert!(text.is_ascii(), "non-ASCII is written as \\u escapes");
    for escape in [r#"\""#, r"\\", r"\u00e9", r"\ud83d\ude97"] {
        assert!(text.contains(escape), "no {escape} in the escapes fixture");
    }

    let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let mut all = Vec::new();
    strings(&value["data"], &mut all);
    let escaped = all
        .iter()
        .filter(|s| s.contains(['"', '\\', 'é', '🚗']))
        .count();
    let share = escaped as f64 / all.len() as f64;
    assert!(
        (0.28..0.40).contains(&share),
        "{escaped} of {} strings",
        all.len()
    );
}

/// Which strings of a decoded [`BorrowedPage`] borrow: `(borrowed, owned)` over every
/// connection's id and permissions.
fn borrowing(page: &BorrowedPage<'_>) -> (usize, usize) {
    let strings = page.data.iter().flat_map(|c| {
        let attributes = c
            .attributes
            .as_ref()
            .expect("every connection has attributes");
        let permissions = attributes.permissions.as_ref().expect("and permissions");
        c.id.iter().chain(permissions)
    });
    strings.fold((0, 0), |(b, o), s| match s.0 {
        Cow::Borrowed(_) => (b + 1, o),
        Cow::Owned(_) => (b, o + 1),
    })
}

#[test]
fn sonic_rs_borrowed_borrows_like_serde_json_borrowed() {
    for fixture in Fixture::ALL {
        let body = fixture.body();
        let serde: BorrowedPage<'_> = serde_json::from_slice(&body).unwrap();
        let sonic: BorrowedPage<'_> = sonic_rs::from_slice(&body).unwrap();
        assert_eq!(borrowing(&sonic), borrowing(&serde), "{}", fixture.name());
        assert_eq!(sonic, serde, "{}", fixture.name());
    }
    let (_, owned) = borrowing(&sonic_rs::from_slice(&page_100()).unwrap());
    assert_eq!(owned, 0, "sonic-rs borrows every string without escapes");
}

#[test]
fn serde_json_borrowed_borrows_every_string_without_escapes() {
    let body = page_100();
    let page: BorrowedPage<'_> = serde_json::from_slice(&body).unwrap();
    let c = &page.data[0];
    let id = &c.id.as_ref().unwrap().0;
    assert!(matches!(id, Cow::Borrowed(_)));
    let permissions = c.attributes.as_ref().unwrap().permissions.as_ref().unwrap();
    assert!(permissions.iter().all(|p| matches!(p.0, Cow::Borrowed(_))));

    let body = page_100_escapes();
    let page: BorrowedPage<'_> = serde_json::from_slice(&body).unwrap();
    let owned = page
        .data
        .iter()
        .flat_map(|c| c.attributes.as_ref().unwrap().permissions.as_ref().unwrap())
        .filter(|p| matches!(p.0, Cow::Owned(_)))
        .count();
    assert!(owned > 0, "escaped strings are unescaped into owned text");
}
