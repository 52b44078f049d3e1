//! Decoding pages: every field, escapes, tolerance of what the contract allows, and errors.
#![cfg(feature = "alloc")]
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use std::borrow::Cow;

use connections_core::decode::{Capacity, ErrorKind, Expected};
use connections_core::model::{OrderDirection, VehicleMode};
use connections_core::{
    Heapless, IntoOwned, Owned, Page, PageBuffers, Response, UnixTime, decode_page,
    decode_page_heapless, decode_page_owned,
};

const PAGE: &str = include_str!("fixtures/page.json");
const ODD: &str = include_str!("fixtures/page_odd.json");

fn kind(body: &str) -> ErrorKind {
    decode_page(body.as_bytes()).unwrap_err().kind
}

#[test]
fn full_page_decodes_every_field() {
    let page = decode_page(PAGE.as_bytes()).unwrap();
    assert_eq!(page.connections().len(), 2);
    let c = &page.connections()[0];
    assert_eq!(c.id.as_deref(), Some("c2b7d3e4-0001"));
    assert_eq!(c.kind.as_deref(), Some("connection"));
    let attrs = c.attributes.as_ref().unwrap();
    let perms: Vec<&str> = attrs
        .permissions
        .as_ref()
        .unwrap()
        .iter()
        .map(|p| &**p)
        .collect();
    assert_eq!(perms, ["read_vehicle_info", "read_odometer"]);
    let v = attrs.vehicle.as_ref().unwrap();
    assert_eq!(v.make.as_deref(), Some("TESLA"));
    assert_eq!(v.model.as_deref(), Some("Model S"));
    assert_eq!(v.year, Some(2020));
    assert_eq!(v.powertrain_type.as_deref(), Some("BEV"));
    assert_eq!(v.mode, Some(VehicleMode::Live));
    let rel = c.relationships.as_ref().unwrap();
    let vehicle = rel.vehicle.as_ref().unwrap();
    assert_eq!(vehicle.data.as_ref().unwrap().id.as_deref(), Some("veh-1"));
    assert_eq!(
        vehicle.data.as_ref().unwrap().kind.as_deref(),
        Some("vehicle")
    );
    assert_eq!(
        vehicle.links.as_ref().unwrap().related.as_deref(),
        Some("/vehicles/veh-1")
    );
    let user = rel.user.as_ref().unwrap();
    assert_eq!(user.data.as_ref().unwrap().id.as_deref(), Some("usr-1"));
    assert_eq!(user.data.as_ref().unwrap().kind.as_deref(), Some("user"));
    let meta = c.meta.as_ref().unwrap();
    let created = meta.created_at.as_ref().unwrap();
    assert_eq!(created.as_str(), "2023-10-01T20:00:00Z");
    assert_eq!(created.unix_time(), Ok(UnixTime(1_696_190_400)));
    let updated = meta.updated_at.as_ref().unwrap().unix_time();
    assert_eq!(updated, Ok(UnixTime(1_696_228_200)));
    assert_eq!(meta.last_used_at, None);
    assert_eq!(
        c.links.as_ref().unwrap().self_link.as_deref(),
        Some("/connections/c2b7d3e4-0001")
    );

    let second = &page.connections()[1];
    assert_eq!(
        second
            .attributes
            .as_ref()
            .unwrap()
            .vehicle
            .as_ref()
            .unwrap()
            .mode,
        Some(VehicleMode::Simulated)
    );
    assert!(
        second
            .attributes
            .as_ref()
            .unwrap()
            .permissions
            .as_ref()
            .unwrap()
            .is_empty()
    );
    assert_eq!(second.links, None);

    let m = page.meta.as_ref().unwrap();
    assert_eq!(
        (m.page_number, m.page_size, m.total_count),
        (Some(1), Some(10), Some(2))
    );
    assert_eq!(m.order_by.as_deref(), Some("createdAt"));
    assert_eq!(m.order_direction, Some(OrderDirection::Desc));
    let links = page.links.as_ref().unwrap();
    let first_page = Some("/connections?page[number]=1&page[size]=10");
    assert_eq!(links.self_link.as_deref(), first_page);
    assert_eq!(links.first.as_deref(), first_page);
    assert_eq!(links.last.as_deref(), first_page);
    assert_eq!((links.prev.as_deref(), page.next_link()), (None, None));
}

#[test]
fn strings_without_escapes_are_borrowed_from_the_body() {
    let page = decode_page(PAGE.as_bytes()).unwrap();
    let id = page.connections()[0].id.as_ref().unwrap();
    let Cow::Borrowed(id) = id else {
        panic!("copied a string that had no escapes")
    };
    let body = PAGE.as_bytes().as_ptr_range();
    assert!(body.contains(&id.as_ptr()));
}

#[test]
fn escapes_are_unescaped_in_every_storage() {
    let expected = "a\"b\\c\nd\u{e9}\u{1f697}";
    let page = decode_page(ODD.as_bytes()).unwrap();
    let id = page.connections()[0].id.as_ref().unwrap();
    assert!(matches!(id, Cow::Owned(_)));
    assert_eq!(id, expected);
    let owned = decode_page_owned(ODD.as_bytes()).unwrap();
    assert_eq!(owned.connections()[0].id.as_deref(), Some(expected));
    let mut scratch = [0u8; 64];
    let heapless: Page<Heapless<'_, 4, 4, 1>> =
        decode_page_heapless(ODD.as_bytes(), &mut scratch).unwrap();
    assert_eq!(heapless.connections()[0].id, Some(expected));
    let perms = heapless.connections()[0].attributes.as_ref().unwrap();
    assert_eq!(perms.permissions.as_ref().unwrap()[0], "read_tires");
}

#[test]
fn unknown_fields_values_and_nulls_are_tolerated() {
    let page = decode_page(ODD.as_bytes()).unwrap();
    let c = &page.connections()[0];
    let v = c.attributes.as_ref().unwrap().vehicle.as_ref().unwrap();
    assert_eq!(v.make, None);
    assert_eq!(v.year, Some(i64::MIN));
    assert_eq!(v.mode, Some(VehicleMode::Other(Cow::Borrowed("hovering"))));
    assert_eq!(v.mode.as_ref().unwrap().as_str(), "hovering");
    assert_eq!(c.relationships, None);
    assert!(
        c.meta
            .as_ref()
            .unwrap()
            .created_at
            .as_ref()
            .unwrap()
            .unix_time()
            .is_err()
    );
    assert_eq!(c.links.as_ref().unwrap().self_link, None);
    // A key spelled with an escape is still the key.
    assert_eq!(page.connections()[1].id.as_deref(), Some("escaped-key"));
    let m = page.meta.as_ref().unwrap();
    assert_eq!(m.page_number, Some(i64::MAX));
    assert_eq!(m.page_size, None);
    assert_eq!(m.order_direction.as_ref().unwrap().as_str(), "SIDEWAYS");
    // Links are kept as sent; only the paginator judges them.
    assert_eq!(page.next_link(), Some("javascript:alert(1)"));
}

#[test]
fn optional_parts_may_be_absent_or_null() {
    let page = decode_page(b"{}").unwrap();
    assert!(page.connections().is_empty() && page.meta.is_none() && page.links.is_none());
    let page = decode_page(br#"{"data":null,"meta":null,"links":null}"#).unwrap();
    assert!(page.connections().is_empty() && page.meta.is_none() && page.links.is_none());
    let page =
        decode_page(br#"{"data":[{}],"links":{"self":"s","first":"f","last":"l"}}"#).unwrap();
    assert_eq!(page.connections()[0].id, None);
    assert_eq!(page.next_link(), None);
}

#[test]
fn links_the_client_never_reads_may_be_absent_or_null() {
    let next = r#"{"links":{"next":"/connections?page[number]=2"}}"#;
    let nulls = r#"{"links":{"self":null,"first":null,"prev":null,"next":null,"last":null}}"#;
    for (body, expected_next) in [
        (next, Some("/connections?page[number]=2")),
        (nulls, None),
        (r#"{"links":{}}"#, None),
        (r#"{"data":[]}"#, None),
    ] {
        let page = decode_page(body.as_bytes()).unwrap();
        assert_eq!(page.next_link(), expected_next, "{body}");
        if let Some(links) = &page.links {
            let unused = [&links.self_link, &links.first, &links.prev, &links.last];
            assert!(unused.iter().all(|l| l.is_none()), "{body}");
        }
        let owned = decode_page_owned(body.as_bytes()).unwrap();
        assert_eq!(owned.next_link(), expected_next, "{body}");
        let mut scratch = [0u8; 0];
        let heapless: Page<Heapless<'_, 1, 1, 1>> =
            decode_page_heapless(body.as_bytes(), &mut scratch).unwrap();
        assert_eq!(heapless.next_link(), expected_next, "{body}");
        let serde: Page<Owned> = serde_json::from_str(body).unwrap();
        assert_eq!(serde, owned, "{body}");
    }
}

#[test]
fn types_are_enforced_with_field_names() {
    assert_eq!(
        kind(r#"{"links":{"self":5,"first":"f","last":"l"}}"#),
        ErrorKind::InvalidType {
            field: "links.self",
            expected: Expected::String
        }
    );
    assert_eq!(
        kind(r#"{"links":{"last":["l"]}}"#),
        ErrorKind::InvalidType {
            field: "links.last",
            expected: Expected::String
        }
    );
    assert_eq!(
        kind(r#"{"data":[{"attributes":{"vehicle":{"year":"2020"}}}]}"#),
        ErrorKind::InvalidType {
            field: "data[].attributes.vehicle.year",
            expected: Expected::Integer
        }
    );
    assert_eq!(
        kind(r#"{"data":{}}"#),
        ErrorKind::InvalidType {
            field: "data",
            expected: Expected::Array
        }
    );
    assert_eq!(
        kind(r#"{"meta":{"totalCount":9223372036854775808}}"#),
        ErrorKind::IntegerOutOfRange {
            field: "meta.totalCount"
        }
    );
    assert_eq!(
        kind(r#"{"data":[{"id":"a","id":"b"}]}"#),
        ErrorKind::DuplicateField { field: "id" }
    );
    assert_eq!(
        kind("[]"),
        ErrorKind::InvalidType {
            field: "(body)",
            expected: Expected::Object
        }
    );
}

#[test]
fn malformed_bodies_report_the_offset() {
    let truncated = &PAGE[..PAGE.len() / 2];
    let err = decode_page(truncated.as_bytes()).unwrap_err();
    assert_eq!(err.kind, ErrorKind::UnexpectedEnd);
    assert_eq!(err.offset, truncated.len());
    let err = decode_page(b"{\"data\": [{},]}").unwrap_err();
    assert_eq!(err.offset, 13);
    assert_eq!(kind(""), ErrorKind::UnexpectedEnd);
    assert_eq!(kind("{} {}"), ErrorKind::TrailingCharacters);
    assert_eq!(
        kind("<html>"),
        ErrorKind::InvalidType {
            field: "(body)",
            expected: Expected::Object
        }
    );
    let err = decode_page(b"{\"data\": \"\xc3\x28\"}").unwrap_err();
    assert_eq!((err.kind, err.offset), (ErrorKind::InvalidUtf8, 10));
    assert!(err.to_string().contains("byte 10"));
}

#[test]
fn nesting_is_bounded_without_overflowing_the_stack() {
    let hostile = format!("{{\"x\":{}}}", "[".repeat(1 << 20));
    assert_eq!(kind(&hostile), ErrorKind::TooDeep);
    let fine = format!("{{\"x\":{}{}}}", "[".repeat(126), "]".repeat(126));
    assert!(decode_page(fine.as_bytes()).is_ok());
}

#[test]
fn heapless_storage_reports_how_much_was_needed() {
    let mut scratch = [0u8; 256];
    let err = decode_page_heapless::<1, 4, 1>(PAGE.as_bytes(), &mut scratch).unwrap_err();
    assert_eq!(
        err.kind,
        ErrorKind::Capacity {
            what: Capacity::Connections,
            needed: 2,
            capacity: 1
        }
    );
    assert!(err.to_string().contains("at least 2"));
    let err = decode_page_heapless::<4, 1, 1>(PAGE.as_bytes(), &mut scratch).unwrap_err();
    assert_eq!(
        err.kind,
        ErrorKind::Capacity {
            what: Capacity::Permissions,
            needed: 2,
            capacity: 1
        }
    );
    let mut small = [0u8; 4];
    let err = decode_page_heapless::<4, 4, 1>(ODD.as_bytes(), &mut small).unwrap_err();
    let needed = "a\"b\\c\nd\u{e9}\u{1f697}".len() + "read_tires".len();
    assert_eq!(
        err.kind,
        ErrorKind::Capacity {
            what: Capacity::Scratch,
            needed,
            capacity: 4
        }
    );
    // With room enough the result equals the allocating decoder's.
    let mut scratch = [0u8; 64];
    let page: Page<Heapless<'_, 2, 2, 1>> =
        decode_page_heapless(PAGE.as_bytes(), &mut scratch).unwrap();
    assert_eq!(
        page.into_owned(),
        decode_page_owned(PAGE.as_bytes()).unwrap()
    );
}

#[test]
fn borrowed_owned_and_serde_json_agree() {
    for body in [PAGE, ODD] {
        let owned = decode_page_owned(body.as_bytes()).unwrap();
        assert_eq!(decode_page(body.as_bytes()).unwrap().into_owned(), owned);
        let via_serde: Page<Owned> = serde_json::from_str(body).unwrap();
        assert_eq!(via_serde, owned);
    }
}

#[test]
fn serializing_gives_back_the_api_shape() {
    let page = decode_page(PAGE.as_bytes()).unwrap();
    let mut expected: serde_json::Value = serde_json::from_str(PAGE).unwrap();
    // Absent stays absent; a `null` optional field is left out.
    expected["data"][0]["meta"]
        .as_object_mut()
        .unwrap()
        .remove("lastUsedAt");
    assert_eq!(serde_json::to_value(&page).unwrap(), expected);
}

#[test]
fn page_buffers_decode_like_decode_page_page_after_page() {
    let mut buffers = PageBuffers::new();
    // Pages of different sizes and shapes, some with escapes, twice over: whatever the
    // recycled lists held before, each page decodes as decode_page decodes it.
    let empty = r#"{"data":[],"links":{"self":"/c","first":"/c","last":"/c"}}"#;
    let no_data = r#"{"data":null}"#;
    for body in [PAGE, ODD, empty, no_data, PAGE, no_data, ODD, PAGE] {
        let page = buffers.decode(body.as_bytes()).unwrap();
        assert_eq!(page, decode_page(body.as_bytes()).unwrap());
        buffers.recycle(page);
    }
    assert_eq!(
        buffers.decode(b"{\"data\":[1]}").unwrap_err(),
        decode_page(b"{\"data\":[1]}").unwrap_err()
    );

    let response = Response::new(200, PAGE.as_bytes());
    let page = response.page_with(&mut buffers).unwrap();
    assert_eq!(page, response.page().unwrap());
    assert!(matches!(page.connections()[0].id, Some(Cow::Borrowed(_))));
}

#[test]
fn keys_in_any_order_decode_alike_and_duplicates_are_caught() {
    // serde_json's map sorts keys: every object of the fixture in another order.
    let value: serde_json::Value = serde_json::from_str(PAGE).unwrap();
    let sorted = serde_json::to_string(&value).unwrap();
    assert_ne!(sorted, PAGE);
    assert_eq!(
        decode_page(sorted.as_bytes()).unwrap(),
        decode_page(PAGE.as_bytes()).unwrap()
    );
    // A duplicate found where the next key is expected, and one found by the lookup, with
    // enough bytes after them for the sixteen-byte compare.
    let padding = r#","links":{"self":"/connections/padding-padding"}}]}"#;
    for (head, at) in [
        (r#"{"data":[{"type":"a","id":"b","type":"c""#, 30),
        (r#"{"data":[{"id":"a","type":"b","id":"c""#, 30),
    ] {
        let err = decode_page([head, padding].concat().as_bytes()).unwrap_err();
        let field = if head.ends_with(r#""type":"c""#) {
            "type"
        } else {
            "id"
        };
        assert_eq!(err.kind, ErrorKind::DuplicateField { field });
        assert_eq!(err.offset, at);
    }
}

#[test]
fn timestamps_read_as_whole_unix_seconds_rounded_down() {
    use connections_core::Timestamp;
    let at = |text: &str| Timestamp(text).unix_time();
    assert_eq!(at("1970-01-01T00:00:00Z"), Ok(UnixTime(0)));
    assert_eq!(
        at("2023-10-01T22:00:00.999+02:00"),
        Ok(UnixTime(1_696_190_400))
    );
    assert_eq!(at("1969-12-31T23:59:59.5Z"), Ok(UnixTime(-1)));
    for bad in ["", "2023-10-01", "2023-02-30T00:00:00Z", "yesterday"] {
        let err = at(bad).unwrap_err();
        assert!(err.to_string().contains("RFC 3339"), "{bad}");
    }
}
