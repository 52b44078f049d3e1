//! Any owned page, written by serde_json, decodes back to itself in every storage.
#![cfg(feature = "std")]
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use connections_core::model::{
    Connection, ConnectionAttributes, ConnectionMeta, OrderDirection, PagingLinks, PagingMeta,
    RelatedLink, Relationship, Relationships, ResourceIdentifier, SelfLink, Vehicle, VehicleMode,
};
use connections_core::{
    Heapless, IntoOwned, Owned, Page, Timestamp, decode_page, decode_page_heapless,
    decode_page_owned,
};
use proptest::prelude::*;

/// Any text, with plenty of characters JSON must escape.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9_ -]{0,12}",
        any::<String>(),
        "[\"\\\\/\u{0}-\u{1f}é🚗]{0,6}",
    ]
}

fn opt<T: std::fmt::Debug>(s: impl Strategy<Value = T>) -> impl Strategy<Value = Option<T>> {
    proptest::option::of(s)
}

fn mode() -> impl Strategy<Value = VehicleMode<String>> {
    prop_oneof![
        Just(VehicleMode::Live),
        Just(VehicleMode::Simulated),
        "[a-z]{1,8}".prop_map(VehicleMode::from_text),
    ]
}

fn relationship() -> impl Strategy<Value = Relationship<Owned>> {
    (opt((opt(text()), opt(text()))), opt(opt(text()))).prop_map(|(data, links)| {
        let mut r = Relationship::default();
        r.data = data.map(|(id, kind)| {
            let mut data = ResourceIdentifier::default();
            (data.id, data.kind) = (id, kind);
            data
        });
        r.links = links.map(|related| {
            let mut links = RelatedLink::default();
            links.related = related;
            links
        });
        r
    })
}

fn connection() -> impl Strategy<Value = Connection<Owned>> {
    let vehicle = (
        opt(text()),
        opt(text()),
        opt(any::<i64>()),
        opt(text()),
        opt(mode()),
    )
        .prop_map(|(make, model, year, powertrain_type, mode)| {
            let mut v = Vehicle::default();
            (v.make, v.model, v.year) = (make, model, year);
            (v.powertrain_type, v.mode) = (powertrain_type, mode);
            v
        });
    let attributes = (opt(prop::collection::vec(text(), 0..4)), opt(vehicle)).prop_map(
        |(permissions, vehicle)| {
            let mut a = ConnectionAttributes::default();
            (a.permissions, a.vehicle) = (permissions, vehicle);
            a
        },
    );
    let relationships = (opt(relationship()), opt(relationship())).prop_map(|(vehicle, user)| {
        let mut r = Relationships::default();
        (r.vehicle, r.user) = (vehicle, user);
        r
    });
    let time = || opt(text().prop_map(Timestamp));
    let meta = (time(), time(), time()).prop_map(|(created_at, updated_at, last_used_at)| {
        let mut m = ConnectionMeta::default();
        (m.created_at, m.updated_at, m.last_used_at) = (created_at, updated_at, last_used_at);
        m
    });
    (
        opt(text()),
        opt(text()),
        opt(attributes),
        opt(relationships),
        opt(meta),
        opt(opt(text())),
    )
        .prop_map(|(id, kind, attributes, relationships, meta, links)| {
            let mut c = Connection::default();
            (c.id, c.kind, c.attributes) = (id, kind, attributes);
            (c.relationships, c.meta) = (relationships, meta);
            c.links = links.map(|self_link| {
                let mut links = SelfLink::default();
                links.self_link = self_link;
                links
            });
            c
        })
}

fn page() -> impl Strategy<Value = Page<Owned>> {
    let direction = prop_oneof![
        Just(OrderDirection::Asc),
        Just(OrderDirection::Desc),
        "[A-Z]{1,6}".prop_map(OrderDirection::from_text),
    ];
    let meta = (
        opt(any::<i64>()),
        opt(any::<i64>()),
        opt(any::<i64>()),
        opt(text()),
        opt(direction),
    )
        .prop_map(|(number, size, total, order_by, order_direction)| {
            let mut m = PagingMeta::default();
            (m.page_number, m.page_size, m.total_count) = (number, size, total);
            (m.order_by, m.order_direction) = (order_by, order_direction);
            m
        });
    // Every link may be absent, as the decoder allows.
    let links = (
        opt(text()),
        opt(text()),
        opt(text()),
        opt(text()),
        opt(text()),
    )
        .prop_map(|(self_link, first, prev, next, last)| {
            let mut l = PagingLinks::default();
            (l.self_link, l.first, l.prev, l.next, l.last) = (self_link, first, prev, next, last);
            l
        });
    (
        prop::collection::vec(connection(), 0..5),
        opt(meta),
        opt(links),
    )
        .prop_map(|(data, meta, links)| {
            let mut page = Page::default();
            (page.data, page.meta, page.links) = (data, meta, links);
            page
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn owned_to_json_to_core_is_identity(page in page(), pretty in any::<bool>()) {
        let json = if pretty {
            serde_json::to_vec_pretty(&page).unwrap()
        } else {
            serde_json::to_vec(&page).unwrap()
        };
        prop_assert_eq!(&decode_page_owned(&json).unwrap(), &page);
        prop_assert_eq!(&decode_page(&json).unwrap().into_owned(), &page);
        let via_serde: Page<Owned> = serde_json::from_slice(&json).unwrap();
        prop_assert_eq!(&via_serde, &page);
        let mut scratch = vec![0u8; json.len()];
        let heapless: Page<Heapless<'_, 5, 4, 1>> =
            decode_page_heapless(&json, &mut scratch).unwrap();
        prop_assert_eq!(&heapless.into_owned(), &page);
    }

    #[test]
    fn any_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = decode_page(&body);
        let mut scratch = [0u8; 16];
        let _ = decode_page_heapless::<2, 2, 1>(&body, &mut scratch);
    }

    #[test]
    fn truncations_never_panic_and_never_succeed_silently(page in page(), cut in any::<prop::sample::Index>()) {
        let json = serde_json::to_vec(&page).unwrap();
        let cut = cut.index(json.len());
        // Any strict prefix of an object is incomplete JSON.
        prop_assert!(decode_page(&json[..cut]).is_err());
    }
}
