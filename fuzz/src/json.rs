//! Page-shaped JSON text built from fuzzer bytes, to reach deep decoder states that random
//! bytes rarely do: the schema's fields (sometimes null, absent, of the wrong type or
//! repeated), unknown fields with nested values, keys in any order, big and edge integers,
//! every escape form, any whitespace, and now and then a byte-level mutation on top.
//!
//! The text is written by hand here, not by serde_json's writer, so forms that writer never
//! produces (`\u0041`, `\/`, surrogate pairs, odd whitespace) reach both decoders.

use arbitrary::{Result, Unstructured};

/// A JSON value; numbers and strings keep the exact text or value to write.
#[derive(Debug)]
pub enum Json {
    Null,
    Bool(bool),
    /// Number text, written as is (`-0`, `1e3`, `123456789012345678901234567890`, ...).
    Number(String),
    String(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

/// What the schema expects at a position.
#[derive(Clone, Copy)]
enum Schema {
    Text,
    Int,
    /// A string enum: its known values, which the generator likes to use.
    Enum(&'static [&'static str]),
    Object(&'static [(&'static str, Schema)]),
    List(&'static Schema),
}

const MODE: Schema = Schema::Enum(&["live", "simulated"]);
const DIRECTION: Schema = Schema::Enum(&["ASC", "DESC"]);
const IDENTIFIER: Schema = Schema::Object(&[("id", Schema::Text), ("type", Schema::Text)]);
const RELATIONSHIP: Schema = Schema::Object(&[
    ("data", IDENTIFIER),
    ("links", Schema::Object(&[("related", Schema::Text)])),
]);
const VEHICLE: Schema = Schema::Object(&[
    ("make", Schema::Text),
    ("model", Schema::Text),
    ("year", Schema::Int),
    ("powertrainType", Schema::Text),
    ("mode", MODE),
]);
const CONNECTION: Schema = Schema::Object(&[
    ("id", Schema::Text),
    ("type", Schema::Text),
    (
        "attributes",
        Schema::Object(&[
            ("permissions", Schema::List(&Schema::Text)),
            ("vehicle", VEHICLE),
        ]),
    ),
    (
        "relationships",
        Schema::Object(&[("vehicle", RELATIONSHIP), ("user", RELATIONSHIP)]),
    ),
    (
        "meta",
        Schema::Object(&[
            ("createdAt", Schema::Text),
            ("updatedAt", Schema::Text),
            ("lastUsedAt", Schema::Text),
        ]),
    ),
    ("links", Schema::Object(&[("self", Schema::Text)])),
]);
const PAGE: Schema = Schema::Object(&[
    ("data", Schema::List(&CONNECTION)),
    (
        "meta",
        Schema::Object(&[
            ("pageNumber", Schema::Int),
            ("pageSize", Schema::Int),
            ("totalCount", Schema::Int),
            ("orderBy", Schema::Text),
            ("orderDirection", DIRECTION),
        ]),
    ),
    (
        "links",
        Schema::Object(&[
            ("self", Schema::Text),
            ("first", Schema::Text),
            ("prev", Schema::Text),
            ("next", Schema::Text),
            ("last", Schema::Text),
        ]),
    ),
]);

/// Integer texts at the edges of what `i64` and JSON allow.
const EDGE_NUMBERS: &[&str] = &[
    "0",
    "-0",
    "9223372036854775807",
    "-9223372036854775808",
    "9223372036854775808",
    "-9223372036854775809",
    "18446744073709551615",
    "18446744073709551616",
    "123456789012345678901234567890",
    "1.0",
    "1e3",
    "-1E-3",
    "0.5",
    "1e400",
];

/// Texts that break the number grammar.
const BAD_NUMBERS: &[&str] = &["01", "-", "1.", "+1", ".5", "1e", "0x10", "NaN"];

/// Text with characters that need or invite escapes.
const EDGE_TEXT: &[&str] = &[
    "",
    "\"",
    "\\",
    "/",
    "\u{0}",
    "\u{1f}",
    "\u{7f}",
    "é",
    "🚗",
    "\u{2028}",
    "\u{feff}",
    "live",
    "/connections?page[number]=2&page[size]=10",
];

/// A page-shaped document, most of the time; any JSON value now and then.
pub fn page(u: &mut Unstructured<'_>) -> Result<Json> {
    if one_in(u, 16)? {
        return any(u, 4);
    }
    value(u, PAGE, 8)
}

fn value(u: &mut Unstructured<'_>, schema: Schema, depth: u32) -> Result<Json> {
    Ok(match schema {
        Schema::Text => Json::String(text(u)?),
        Schema::Int => Json::Number(int(u)?),
        Schema::Enum(known) => match one_in(u, 4)? {
            false => Json::String((*u.choose(known)?).to_owned()),
            true => Json::String(text(u)?),
        },
        Schema::List(item) => {
            let len = u.int_in_range(0..=6)?;
            let mut items = Vec::with_capacity(len);
            for _ in 0..len {
                // `null` is no valid item, so rarer here than in fields.
                items.push(match one_in(u, 1024)? {
                    true => field(u, *item, depth)?,
                    false if depth == 0 => Json::Null,
                    false => value(u, *item, depth - 1)?,
                });
            }
            Json::Array(items)
        }
        Schema::Object(fields) => {
            let mut members = Vec::new();
            for (name, schema) in fields {
                if !one_in(u, 32)? {
                    members.push(((*name).to_owned(), field(u, *schema, depth)?));
                }
            }
            // Unknown fields, now and then with a known name: a duplicate.
            for _ in 0..u.int_in_range(0..=2)? {
                let name = match (one_in(u, 512)?, fields.is_empty()) {
                    (true, false) => u.choose(fields)?.0.to_owned(),
                    _ => key(u)?,
                };
                members.push((name, any(u, depth.saturating_sub(1))?));
            }
            // Any order.
            for i in (1..members.len()).rev() {
                let j = u.int_in_range(0..=i)?;
                members.swap(i, j);
            }
            Json::Object(members)
        }
    })
}

/// The value at a schema position: usually the expected type, sometimes `null` or anything.
fn field(u: &mut Unstructured<'_>, schema: Schema, depth: u32) -> Result<Json> {
    // A page has a hundred or more positions: each must rarely go wrong for pages to pass.
    match u.int_in_range(0..=1023)? {
        1023 => any(u, depth.saturating_sub(1)),
        1000.. => Ok(Json::Null),
        _ if depth == 0 => Ok(Json::Null),
        _ => value(u, schema, depth - 1),
    }
}

/// Any JSON value, nested at most `depth` levels.
fn any(u: &mut Unstructured<'_>, depth: u32) -> Result<Json> {
    let pick = u.int_in_range(0..=if depth == 0 { 4 } else { 63 })?;
    Ok(match pick {
        0 => Json::Null,
        1 => Json::Bool(u.arbitrary()?),
        2 => Json::Number(int(u)?),
        3 => Json::Number(float(u)?),
        4 => Json::String(text(u)?),
        // Only for unknown fields of the page itself, or most pages would be too deep.
        5 if depth >= 7 => {
            // Deep nesting, around the 127-level limit.
            let levels = u.int_in_range(115..=135)?;
            let inner = any(u, 0)?;
            (0..levels).fold(inner, |v, _| Json::Array(vec![v]))
        }
        5..=24 => {
            let len = u.int_in_range(0..=4)?;
            Json::Array((0..len).map(|_| any(u, depth - 1)).collect::<Result<_>>()?)
        }
        _ => {
            let len = u.int_in_range(0..=4)?;
            let mut members = Vec::with_capacity(len);
            for _ in 0..len {
                members.push((key(u)?, any(u, depth - 1)?));
            }
            Json::Object(members)
        }
    })
}

fn int(u: &mut Unstructured<'_>) -> Result<String> {
    Ok(match u.int_in_range(0..=511)? {
        511 => (*u.choose(BAD_NUMBERS)?).to_owned(),
        496.. => (*u.choose(EDGE_NUMBERS)?).to_owned(),
        480.. => format!("{}", u.arbitrary::<u64>()?),
        352.. => format!("{}", u.arbitrary::<i64>()?),
        _ => format!("{}", u.int_in_range(-3i64..=2030)?),
    })
}

/// A number with a fraction or exponent; always valid JSON (no `NaN` or `inf`).
fn float(u: &mut Unstructured<'_>) -> Result<String> {
    let f = u.arbitrary::<f64>()?;
    Ok(match (f.is_finite(), u.arbitrary::<bool>()?) {
        (false, _) => "-1.5E+300".to_owned(),
        (true, true) => format!("{f:e}"),
        (true, false) => format!("{f:?}"),
    })
}

fn text(u: &mut Unstructured<'_>) -> Result<String> {
    Ok(match u.int_in_range(0..=3)? {
        0 => (*u.choose(EDGE_TEXT)?).to_owned(),
        1 => {
            let len = u.int_in_range(0..=4)?;
            (0..len)
                .map(|_| Ok(*u.choose(EDGE_TEXT)?))
                .collect::<Result<String>>()?
        }
        _ => u.arbitrary()?,
    })
}

fn key(u: &mut Unstructured<'_>) -> Result<String> {
    const KEYS: &[&str] = &["future", "x-new", "nested", "", "ID", "data ", "Data"];
    match one_in(u, 2)? {
        false => Ok((*u.choose(KEYS)?).to_owned()),
        true => text(u),
    }
}

/// True one time in `n`, and false once the fuzzer's bytes run out (when `Unstructured`
/// answers zeros, and `ratio` would say true): short inputs then make plain, valid text.
fn one_in(u: &mut Unstructured<'_>, n: u32) -> Result<bool> {
    Ok(u.int_in_range(1..=n)? == n)
}

/// Writes `json` with whitespace and escape forms chosen by `u`.
pub fn render(json: &Json, u: &mut Unstructured<'_>, out: &mut Vec<u8>) -> Result<()> {
    ws(u, out)?;
    match json {
        Json::Null => out.extend_from_slice(b"null"),
        Json::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Json::Number(n) => out.extend_from_slice(n.as_bytes()),
        Json::String(s) => string(s, u, out)?,
        Json::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                render(item, u, out)?;
            }
            ws(u, out)?;
            out.push(b']');
        }
        Json::Object(members) => {
            out.push(b'{');
            for (i, (name, value)) in members.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                ws(u, out)?;
                string(name, u, out)?;
                ws(u, out)?;
                out.push(b':');
                render(value, u, out)?;
            }
            ws(u, out)?;
            out.push(b'}');
        }
    }
    ws(u, out)
}

/// Nothing, mostly; otherwise JSON's four whitespace bytes in a short run.
fn ws(u: &mut Unstructured<'_>, out: &mut Vec<u8>) -> Result<()> {
    if !one_in(u, 4)? {
        return Ok(());
    }
    for _ in 0..u.int_in_range(1..=3)? {
        out.push(*u.choose(b" \n\r\t")?);
    }
    Ok(())
}

/// A string literal; characters JSON requires escaped always are, others sometimes are.
fn string(s: &str, u: &mut Unstructured<'_>, out: &mut Vec<u8>) -> Result<()> {
    out.push(b'"');
    for c in s.chars() {
        let must = c == '"' || c == '\\' || c < ' ';
        if !must && !one_in(u, 8)? {
            let mut buf = [0; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            continue;
        }
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
        match short {
            Some(esc) if u.arbitrary()? => out.extend_from_slice(esc.as_bytes()),
            _ => {
                let upper = u.arbitrary::<bool>()?;
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    let hex = if upper {
                        format!("\\u{unit:04X}")
                    } else {
                        format!("\\u{unit:04x}")
                    };
                    out.extend_from_slice(hex.as_bytes());
                }
            }
        }
    }
    out.push(b'"');
    Ok(())
}

/// A small break applied to the written text one time in eight: a byte replaced,
/// removed or inserted, or a cut. Drawn before the document, so that running out of fuzzer
/// bytes (which makes `Unstructured` answer zeros) means no mutation.
#[derive(Debug, arbitrary::Arbitrary)]
pub struct Mutation {
    pick: u8,
    at: u16,
    byte: u8,
}

impl Mutation {
    pub fn apply(&self, text: &mut Vec<u8>) {
        const BYTES: &[u8] = b"\"\\{}[],:-0123456789eE.+ \x00\x1f\x80\xc3\xed\xff";
        if text.is_empty() || self.pick < 224 {
            return;
        }
        let at = usize::from(self.at) % text.len();
        let byte = BYTES[usize::from(self.byte) % BYTES.len()];
        match self.pick % 4 {
            0 => text[at] = byte,
            1 => drop(text.remove(at)),
            2 => text.insert(at, byte),
            _ => text.truncate(at),
        }
    }
}
