//! Our decoder against serde_json on page JSON written as text (not by serde_json's writer):
//! every escape form, unicode, unknown fields with nested values and huge numbers, nulls,
//! `i64` bounds, any whitespace, keys in any order, and some invalid documents. Both must
//! accept with equal values, or both refuse. The few deliberate differences are pinned
//! by name at the end, and kept out of the generated texts.
#![cfg(feature = "std")]
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use connections_core::decode::ErrorKind;
use connections_core::{IntoOwned, Owned, Page, decode_page, decode_page_owned};
use proptest::prelude::*;
use proptest::sample::select;

/// A JSON value to write; strings carry how each character is written.
#[derive(Clone, Debug)]
enum Json {
    Null,
    Bool(bool),
    /// The number's text, written as is.
    Number(String),
    String(Text),
    Array(Vec<Json>),
    Object(Vec<(Text, Json)>),
}

/// A string and the escape form of each character: 0 as is (when JSON allows), 1 the short
/// escape (`\n`, `\/`, ...) when there is one, 2 `\u00e9`, 3 `\u00E9`; surrogate pairs for
/// characters outside the BMP.
#[derive(Clone, Debug)]
struct Text {
    value: String,
    forms: Vec<u8>,
}

fn text_with(value: impl Strategy<Value = String>) -> impl Strategy<Value = Text> {
    (
        value,
        prop::collection::vec(prop_oneof![6 => Just(0u8), 1 => 1..=3u8], 0..8),
    )
        .prop_map(|(value, forms)| Text { value, forms })
}

fn text() -> impl Strategy<Value = Text> {
    text_with(prop_oneof![
        "[a-zA-Z0-9_ -]{0,12}",
        any::<String>(),
        "[\"\\\\/\u{0}-\u{1f}\u{7f}é\u{2028}\u{feff}🚗]{0,6}",
    ])
}

fn key(name: &'static str) -> impl Strategy<Value = Text> {
    text_with(Just(name.to_owned()))
}

/// Keys the schema does not know (never an escaped spelling of one it does).
fn unknown_key() -> impl Strategy<Value = Text> {
    text_with(prop_oneof![
        "x-[a-z]{0,6}",
        "[A-Z][a-z]{0,6}",
        "é[a-z🚗]{0,4}",
        Just(String::new())
    ])
}

/// Integers the contract allows: the whole `i64` range, bounds included.
fn int() -> impl Strategy<Value = Json> {
    prop_oneof![
        any::<i64>(),
        Just(i64::MIN),
        Just(i64::MAX),
        Just(0),
        1990..2030i64
    ]
    .prop_map(|n| Json::Number(n.to_string()))
}

/// Numbers only skipped values may hold: beyond `i64` and `u64`, fractions, exponents.
fn any_number() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        any::<u64>().prop_map(|n| n.to_string()),
        "-?[1-9][0-9]{19,40}",
        "-?(0|[1-9][0-9]{0,5})(\\.[0-9]{1,6})?([eE][+-]?[0-9]{1,3})?",
        Just("-0".to_owned()),
        Just("1e400".to_owned()),
    ]
}

/// Any JSON value, nested a few levels: what an unknown field may hold.
fn any_json() -> impl Strategy<Value = Json> {
    let leaf = prop_oneof![
        Just(Json::Null),
        any::<bool>().prop_map(Json::Bool),
        any_number().prop_map(Json::Number),
        text().prop_map(Json::String),
    ];
    leaf.prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Json::Array),
            prop::collection::vec((unknown_key(), inner), 0..4).prop_map(Json::Object),
        ]
    })
}

/// A value of the wrong type for any field, which both decoders must refuse. Never an
/// array (serde_json would read a struct from it) nor `-0` (an integer to us): see below.
fn wrong_type() -> impl Strategy<Value = Json> {
    prop_oneof![
        any::<bool>().prop_map(Json::Bool),
        any_number()
            .prop_filter("-0 is an integer to us", |n| n != "-0")
            .prop_map(Json::Number),
        text().prop_map(Json::String),
        prop::collection::vec((unknown_key(), any_json()), 0..2).prop_map(Json::Object),
    ]
}

/// A value where the contract expects `expected`: mostly that, sometimes `null` or absent,
/// rarely the wrong type (a page has a hundred fields, and most pages should decode).
fn field(name: &'static str, expected: BoxedStrategy<Json>) -> BoxedStrategy<Option<(Text, Json)>> {
    let value = prop_oneof![
        300 => expected,
        10 => Just(Json::Null),
        1 => wrong_type(),
    ];
    prop_oneof![
        30 => (key(name), value).prop_map(Some),
        1 => Just(None),
    ]
    .boxed()
}

/// An object of the given fields and a few unknown ones, in any order; a known field
/// sometimes appears twice.
fn object(fields: Vec<BoxedStrategy<Option<(Text, Json)>>>) -> BoxedStrategy<Json> {
    let unknown = prop::collection::vec((unknown_key(), any_json()), 0..3);
    let duplicate = prop::option::weighted(0.005, any::<prop::sample::Index>());
    (fields, unknown, duplicate)
        .prop_flat_map(|(known, unknown, duplicate)| {
            let mut members: Vec<(Text, Json)> = known.into_iter().flatten().collect();
            if let (Some(i), false) = (duplicate, members.is_empty()) {
                members.push(members[i.index(members.len())].clone());
            }
            members.extend(unknown);
            Just(members).prop_shuffle()
        })
        .prop_map(Json::Object)
        .boxed()
}

fn string() -> BoxedStrategy<Json> {
    text().prop_map(Json::String).boxed()
}

fn one_of(known: &'static [&'static str]) -> BoxedStrategy<Json> {
    prop_oneof![
        3 => text_with(select(known).prop_map(String::from)),
        1 => text(),
    ]
    .prop_map(Json::String)
    .boxed()
}

fn list(item: BoxedStrategy<Json>, max: usize) -> BoxedStrategy<Json> {
    prop::collection::vec(item, 0..max)
        .prop_map(Json::Array)
        .boxed()
}

fn relationship() -> BoxedStrategy<Json> {
    object(vec![
        field(
            "data",
            object(vec![field("id", string()), field("type", string())]),
        ),
        field("links", object(vec![field("related", string())])),
    ])
}

fn connection() -> BoxedStrategy<Json> {
    let vehicle = object(vec![
        field("make", string()),
        field("model", string()),
        field("year", int().boxed()),
        field("powertrainType", string()),
        field("mode", one_of(&["live", "simulated"])),
    ]);
    let attributes = object(vec![
        field("permissions", list(string(), 4)),
        field("vehicle", vehicle),
    ]);
    let relationships = object(vec![
        field("vehicle", relationship()),
        field("user", relationship()),
    ]);
    let meta = object(vec![
        field("createdAt", string()),
        field("updatedAt", string()),
        field("lastUsedAt", string()),
    ]);
    object(vec![
        field("id", string()),
        field("type", string()),
        field("attributes", attributes),
        field("relationships", relationships),
        field("meta", meta),
        field("links", object(vec![field("self", string())])),
    ])
}

fn page() -> BoxedStrategy<Json> {
    let meta = object(vec![
        field("pageNumber", int().boxed()),
        field("pageSize", int().boxed()),
        field("totalCount", int().boxed()),
        field("orderBy", string()),
        field("orderDirection", one_of(&["ASC", "DESC"])),
    ]);
    let links = object(vec![
        field("self", string()),
        field("first", string()),
        field("prev", string()),
        field("next", string()),
        field("last", string()),
    ]);
    object(vec![
        field("data", list(connection(), 4)),
        field("meta", meta),
        field("links", links),
    ])
}

/// JSON whitespace, mostly none, cycled through between tokens.
fn whitespace() -> impl Strategy<Value = Vec<&'static str>> {
    prop::collection::vec(
        prop_oneof![6 => Just(""), 1 => select(vec![" ", "\n", "\t", "\r\n", "  \n\t "])],
        1..12,
    )
}

fn write(json: &Json, ws: &mut impl Iterator<Item = &'static str>, out: &mut String) {
    out.push_str(ws.next().unwrap_or(""));
    match json {
        Json::Null => out.push_str("null"),
        Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Json::Number(n) => out.push_str(n),
        Json::String(t) => write_text(t, out),
        Json::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write(item, ws, out);
            }
            out.push_str(ws.next().unwrap_or(""));
            out.push(']');
        }
        Json::Object(members) => {
            out.push('{');
            for (i, (name, value)) in members.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(ws.next().unwrap_or(""));
                write_text(name, out);
                out.push_str(ws.next().unwrap_or(""));
                out.push(':');
                write(value, ws, out);
            }
            out.push_str(ws.next().unwrap_or(""));
            out.push('}');
        }
    }
    out.push_str(ws.next().unwrap_or(""));
}

fn write_text(text: &Text, out: &mut String) {
    out.push('"');
    let mut forms = text.forms.iter().copied().cycle();
    for c in text.value.chars() {
        let form = forms.next().unwrap_or(0);
        let short = match c {
            '"' => Some("\\\""),
            '\\' => Some("\\\\"),
            '/' => Some("\\/"),
            '\u{8}' => Some("\\b"),
            '\u{c}' => Some("\\f"),
            '\n' => Some("\\n"),
            '\r' => Some("\\r"),
            '\t' => Some("\\t"),
            _ => None,
        };
        let must = c == '"' || c == '\\' || c < ' ';
        match (form, short) {
            (0, _) if !must => out.push(c),
            (0 | 1, Some(short)) => out.push_str(short),
            _ => {
                for unit in c.encode_utf16(&mut [0; 2]) {
                    match form {
                        3 => out.push_str(&format!("\\u{unit:04X}")),
                        _ => out.push_str(&format!("\\u{unit:04x}")),
                    }
                }
            }
        }
    }
    out.push('"');
}

fn page_text() -> impl Strategy<Value = String> {
    (page(), whitespace()).prop_map(|(page, ws)| {
        let mut out = String::new();
        write(&page, &mut ws.into_iter().cycle(), &mut out);
        out
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn ours_and_serde_json_agree_on_page_text(text in page_text()) {
        let ours = decode_page_owned(text.as_bytes());
        let theirs = serde_json::from_slice::<Page<Owned>>(text.as_bytes());
        match (&ours, &theirs) {
            (Ok(ours), Ok(theirs)) => prop_assert_eq!(ours, theirs),
            (Err(_), Err(_)) => {}
            _ => prop_assert!(false, "ours {:?}, serde_json {:?}", ours, theirs),
        }
        let borrowed = decode_page(text.as_bytes()).map(IntoOwned::into_owned);
        prop_assert_eq!(&borrowed, &ours);
    }
}

/// Guards the generator: if it made mostly invalid pages, the property above would compare
/// little more than two error paths.
#[test]
fn generated_pages_mostly_decode() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let strategy = page_text();
    let (mut ok, mut with_items) = (0, 0);
    for _ in 0..200 {
        let text = strategy.new_tree(&mut runner).unwrap().current();
        if let Ok(page) = decode_page_owned(text.as_bytes()) {
            ok += 1;
            with_items += usize::from(!page.data.is_empty());
        }
    }
    assert!(ok >= 100, "only {ok} of 200 generated pages decode");
    eprintln!("{ok} of 200 decode, {with_items} with items");
    assert!(
        with_items >= 50,
        "only {with_items} of 200 decoded pages have items"
    );
}

// The deliberate differences, each kept out of the generated texts and pinned here; the
// `decode_page` fuzz target allows exactly these and nothing else.

fn serde_json_page(body: &[u8]) -> Result<Page<Owned>, serde_json::Error> {
    serde_json::from_slice(body)
}

#[test]
fn negative_zero_is_the_integer_zero_here_and_a_float_to_serde_json() {
    let body = br#"{"meta":{"pageNumber":-0}}"#;
    let ours = decode_page_owned(body).unwrap();
    assert_eq!(ours.meta.unwrap().page_number, Some(0));
    assert!(serde_json_page(body).is_err());
}

#[test]
fn we_validate_skipped_strings_and_serde_json_does_not() {
    let invalid_utf8 = b"{\"data\":[],\"future\":\"\xff\"}";
    assert_eq!(
        decode_page_owned(invalid_utf8).unwrap_err().kind,
        ErrorKind::InvalidUtf8
    );
    assert!(serde_json_page(invalid_utf8).is_ok());
    let lone_surrogate = br#"{"data":[],"future":"\ud800"}"#;
    assert_eq!(
        decode_page_owned(lone_surrogate).unwrap_err().kind,
        ErrorKind::LoneSurrogate
    );
    assert!(serde_json_page(lone_surrogate).is_ok());
    // Where serde_json does read the string, it refuses too.
    assert!(serde_json_page(br#"{"links":{"self":"\ud800","first":"","last":""}}"#).is_err());
}

#[test]
fn we_bound_the_depth_of_skipped_values_and_serde_json_does_not() {
    let deep = format!(
        r#"{{"data":[],"future":{}{}}}"#,
        "[".repeat(200),
        "]".repeat(200)
    );
    assert_eq!(
        decode_page_owned(deep.as_bytes()).unwrap_err().kind,
        ErrorKind::TooDeep
    );
    assert!(serde_json_page(deep.as_bytes()).is_ok());
    // Reading every value, serde_json applies the same 127 levels we do.
    let at_limit = format!("{}{}", "[".repeat(127), "]".repeat(127));
    let past_limit = format!("[{at_limit}]");
    assert!(serde_json::from_str::<serde_json::Value>(&at_limit).is_ok());
    assert!(serde_json::from_str::<serde_json::Value>(&past_limit).is_err());
}

#[test]
fn serde_json_reads_structs_from_arrays_and_we_do_not() {
    for body in [&br#"[[{"id":"x"}]]"#[..], br#"{"data":[["x"]]}"#] {
        assert!(matches!(
            decode_page_owned(body).unwrap_err().kind,
            ErrorKind::InvalidType { .. }
        ));
        assert_eq!(
            serde_json_page(body).unwrap().data[0].id.as_deref(),
            Some("x")
        );
    }
}

#[test]
fn error_status_keeps_any_number_here_and_only_integers_through_serde() {
    use connections_core::decode_errors;
    use connections_core::error::ErrorEntry;

    #[derive(Debug, serde::Deserialize)]
    struct Body {
        errors: Vec<ErrorEntry<Owned>>,
    }
    let body = |status: &str| {
        format!(
            r#"{{"errors":[{{"status":{status},"type":"SERVER","code":"c","title":"t","detail":"d"}}]}}"#
        )
    };
    for integer in ["429", "\"429\"", "-1", "18446744073709551615"] {
        let text = body(integer);
        let ours = decode_errors(text.as_bytes()).unwrap();
        let theirs = serde_json::from_str::<Body>(&text).unwrap();
        assert_eq!(
            ours[0].status.as_deref(),
            theirs.errors[0].status.as_deref()
        );
        assert!(ours[0].status.is_some());
    }
    // serde_json hands `Deserialize` a float for these and the text is lost, so it refuses.
    for number in ["1.5", "4.29e2", "-0", "18446744073709551616"] {
        let text = body(number);
        let ours = decode_errors(text.as_bytes()).unwrap();
        assert_eq!(ours[0].status.as_deref(), Some(number));
        assert!(serde_json::from_str::<Body>(&text).is_err());
    }
}
