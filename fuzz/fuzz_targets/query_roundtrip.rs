//! Any ids, mode and page numbers through `ListConnections::builder()`: `build` refuses
//! exactly the invalid values (empty ids, control characters, ids over 512 bytes), naming
//! the first bad field; the query it writes decodes to exactly the values given (so no id
//! can add or change a parameter); and the page a link
//! carrying that query names, relative or absolute, is the page asked for.
//!
//! The input is `key=value` lines (`user`, `vehicle`, `mode`, `number`, `size`, `base`);
//! a missing key leaves that parameter unset, and ids may hold anything but a newline.
#![no_main]

use connections_core::{BaseUrl, Field, LinkError, ListConnections, Mode, PageLink};
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Default)]
struct Input<'a> {
    user: Option<&'a str>,
    vehicle: Option<&'a str>,
    /// `live` is live, any other value simulated.
    mode: Option<bool>,
    number: Option<u32>,
    size: Option<u32>,
    base: u8,
}

const BASES: [&str; 3] = [
    "https://vehicle.api.smartcar.com/v3",
    "http://[::1]:8080/api",
    "http://localhost",
];

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut input = Input::default();
    for line in text.split('\n') {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        match key {
            "user" => input.user = Some(value),
            "vehicle" => input.vehicle = Some(value),
            "mode" => input.mode = Some(value == "live"),
            "number" => input.number = value.parse().ok(),
            "size" => input.size = value.parse().ok(),
            "base" => input.base = value.parse().unwrap_or(0),
            _ => {}
        }
    }
    check(&input);
});

fn check(input: &Input<'_>) {
    let mode = input
        .mode
        .map(|live| if live { Mode::Live } else { Mode::Simulated });
    let mut builder = ListConnections::builder();
    if let Some(id) = input.user {
        builder = builder.user_id(id);
    }
    if let Some(id) = input.vehicle {
        builder = builder.vehicle_id(id);
    }
    if let Some(mode) = mode {
        builder = builder.mode(mode);
    }
    if let Some(n) = input.number {
        builder = builder.page_number(n);
    }
    if let Some(n) = input.size {
        builder = builder.page_size(n);
    }

    // Empty, holding a control character, or longer than a URL can carry: 512 bytes of UTF-8.
    let bad_id = |id: Option<&str>| {
        id.is_some_and(|id| id.is_empty() || id.chars().any(char::is_control) || id.len() > 512)
    };
    let first_bad = [
        (Field::UserId, bad_id(input.user)),
        (Field::VehicleId, bad_id(input.vehicle)),
        (Field::PageNumber, input.number == Some(0)),
        (Field::PageSize, input.size == Some(0)),
    ]
    .into_iter()
    .find_map(|(field, bad)| bad.then_some(field));
    let request = match (builder.build(), first_bad) {
        (Ok(request), None) => request,
        (Err(e), Some(field)) => {
            assert_eq!(e.field(), field);
            return;
        }
        (result, expected) => panic!("build gave {result:?}, expected a problem with {expected:?}"),
    };

    let mut query = String::new();
    request
        .write_query(&mut query)
        .expect("writing to a String");
    assert!(
        query
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~%&=".contains(&b)),
        "unencoded byte in {query:?}"
    );
    let mut expected: Vec<(String, String)> = Vec::new();
    let mut expect = |name: &str, value: Option<String>| {
        if let Some(value) = value {
            expected.push((name.to_owned(), value));
        }
    };
    expect("filter[userId]", input.user.map(str::to_owned));
    expect("filter[vehicleId]", input.vehicle.map(str::to_owned));
    expect("filter[vehicle.mode]", mode.map(|m| m.as_str().to_owned()));
    expect("page[number]", input.number.map(|n| n.to_string()));
    expect("page[size]", input.size.map(|n| n.to_string()));
    let decoded: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .map(|(name, value)| (name.into_owned(), value.into_owned()))
        .collect();
    assert_eq!(decoded, expected, "query {query:?}");

    let base = BaseUrl::parse(BASES[usize::from(input.base) % BASES.len()]).expect("valid base");
    let page = match request.page_number() {
        Some(number) => Ok(PageLink {
            number,
            size: request.page_size(),
        }),
        None => Err(LinkError::MissingPageNumber),
    };
    let mut absolute = String::new();
    base.write_url(&request, &mut absolute)
        .expect("writing to a String");
    let mut links = vec![
        absolute,
        format!("{}/connections?{query}", base.prefix()),
        format!("/connections?{query}"),
        format!("connections?{query}"),
        format!("?{query}"),
    ];
    let mut origin = String::new();
    base.write_origin(&mut origin).expect("writing to a String");
    links.push(format!("{origin}/connections?{query}#page[number]=7"));
    for link in &links {
        assert_eq!(base.resolve_page_link(link), page, "link {link:?}");
    }
}
