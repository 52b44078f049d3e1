//! Fixtures, serde comparators (serde_json, sonic-rs, simd-json) and visitors for the `page_decode` criterion benches.
//!
//! Every fixture is generated from a fixed seed, so every run and every machine decodes the
//! same bytes. Each decoder variant is a plain function here (`body -> u64`) that decodes a
//! page and then visits every field of it, summing string lengths and integers: a lazy decoder
//! cannot win by skipping work an eager one does, and the tests check that all variants agree
//! on the sum, which is what makes the comparison fair.

use std::borrow::Cow;

use connections_core::model::{
    Connection, ConnectionAttributes, ConnectionMeta, PagingLinks, PagingMeta, Relationship,
    Vehicle,
};
use connections_core::{PageBuffers, Storage, decode_page_heapless, decode_page_owned};

// ---------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------

/// The seed of every fixture; changing it changes every number in `BENCHMARKS.md`.
const SEED: u64 = 0x5EED_CA75_2026_0001;

/// Connections per page of the spec's default `page[size]`.
pub const DEFAULT_PAGE_SIZE: usize = 10;

/// Connections on the large pages.
pub const LARGE_PAGE_SIZE: usize = 100;

/// Total connections the paging `meta` claims, so `links.last` points past this page.
const TOTAL_COUNT: usize = 1234;

/// Distinct users the generated connections belong to.
const USERS: usize = 40;

/// The bodies the benches decode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fixture {
    /// 100 connections, no escapes (about 76 KB).
    Page100,
    /// 10 connections, the spec's default page size.
    Page10,
    /// The same 100 connections with JSON escapes in about a third of the strings.
    Page100Escapes,
}

impl Fixture {
    /// Every fixture, in bench order.
    pub const ALL: [Fixture; 3] = [Fixture::Page100, Fixture::Page10, Fixture::Page100Escapes];

    /// The fixture's name in bench ids.
    pub fn name(self) -> &'static str {
        match self {
            Fixture::Page100 => "page_100",
            Fixture::Page10 => "page_10",
            Fixture::Page100Escapes => "page_100_escapes",
        }
    }

    /// The page as plain owned values, before encoding: the ground truth the decoders must
    /// reproduce.
    pub fn source(self) -> OwnedPage {
        match self {
            Fixture::Page100 => generate(LARGE_PAGE_SIZE, false),
            Fixture::Page10 => generate(DEFAULT_PAGE_SIZE, false),
            Fixture::Page100Escapes => generate(LARGE_PAGE_SIZE, true),
        }
    }

    /// The JSON body.
    pub fn body(self) -> Vec<u8> {
        encode(&self.source())
    }
}

/// A page of 100 realistic connections without escapes (about 76 KB).
pub fn page_100() -> Vec<u8> {
    Fixture::Page100.body()
}

/// A page of 10 connections: the spec's default `page[size]`.
pub fn page_10() -> Vec<u8> {
    Fixture::Page10.body()
}

/// [`page_100`] with a JSON escape (`\"`, `\\`, `\u00e9` or the surrogate pair
/// `\ud83d\ude97`) in about a third of its strings.
pub fn page_100_escapes() -> Vec<u8> {
    Fixture::Page100Escapes.body()
}

/// xorshift64*: tiny, deterministic, good enough to pick table entries.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n`.
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// A random (version 4) UUID in its usual text form.
    fn uuid(&mut self) -> String {
        let hi = self.next();
        let lo = self.next();
        let hi = (hi & !0xF000) | 0x4000; // version 4
        let lo = (lo & !(0xC << 60)) | (0x8 << 60); // RFC 4122 variant
        format!(
            "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
            hi >> 32,
            (hi >> 16) & 0xFFFF,
            hi & 0xFFFF,
            lo >> 48,
            lo & 0xFFFF_FFFF_FFFF
        )
    }
}

/// `(make, model, powertrainType)` of the generated vehicles.
const VEHICLES: [(&str, &str, &str); 20] = [
    ("Tesla", "Model 3", "BEV"),
    ("Tesla", "Model Y", "BEV"),
    ("Tesla", "Model S", "BEV"),
    ("Ford", "F-150 Lightning", "BEV"),
    ("Ford", "Mustang Mach-E", "BEV"),
    ("Ford", "Escape", "ICE"),
    ("Toyota", "RAV4 Prime", "PHEV"),
    ("Toyota", "Camry", "HEV"),
    ("Chevrolet", "Bolt EV", "BEV"),
    ("BMW", "i4 eDrive40", "BEV"),
    ("BMW", "X5 xDrive50e", "PHEV"),
    ("Hyundai", "IONIQ 5", "BEV"),
    ("Kia", "EV6", "BEV"),
    ("Volkswagen", "ID.4", "BEV"),
    ("Nissan", "LEAF", "BEV"),
    ("Rivian", "R1T", "BEV"),
    ("Audi", "Q5", "ICE"),
    ("Jeep", "Wrangler 4xe", "PHEV"),
    ("Mercedes-Benz", "EQS 450+", "BEV"),
    ("Volvo", "XC60 Recharge", "PHEV"),
];

/// Smartcar permission names a connection may be granted.
const PERMISSIONS: [&str; 16] = [
    "read_vehicle_info",
    "read_odometer",
    "read_battery",
    "read_charge",
    "read_location",
    "read_fuel",
    "read_engine_oil",
    "read_tires",
    "read_vin",
    "read_security",
    "read_climate",
    "read_charge_records",
    "control_security",
    "control_charge",
    "control_climate",
    "control_navigation",
];

/// The characters spliced into strings of the escapes fixture; the encoder writes them as
/// `\"`, `\\`, `\u00e9` and `\ud83d\ude97`.
const ESCAPED_CHARS: [char; 4] = ['"', '\\', 'é', '🚗'];

/// Splices escaped characters into about a third of the strings, when on.
///
/// Every string of a connection passes through here in document order, and every third one
/// is owed an escape. Enum and date-time fields (`type`, `powertrainType`, `mode`,
/// timestamps) stay valid per the contract, so their escape goes to the next free-text string
/// (an id, permission, make, model or link) instead.
struct Escapes {
    on: bool,
    seen: usize,
    owed: usize,
    spliced: usize,
}

impl Escapes {
    fn new(on: bool) -> Self {
        Escapes {
            on,
            seen: 0,
            owed: 0,
            spliced: 0,
        }
    }

    fn count(&mut self) {
        self.seen += 1;
        if self.on && self.seen.is_multiple_of(3) {
            self.owed += 1;
        }
    }

    /// A string the contract gives a fixed vocabulary or format: never altered.
    fn fixed(&mut self, text: impl Into<String>) -> String {
        self.count();
        text.into()
    }

    /// A free-text string: takes an escape when one is owed.
    fn free(&mut self, text: impl Into<String>) -> String {
        self.count();
        let mut text = text.into();
        if self.owed > 0 {
            self.owed -= 1;
            let ch = ESCAPED_CHARS[self.spliced % ESCAPED_CHARS.len()];
            self.spliced += 1;
            // The generated text is ASCII, so every index is a char boundary; the middle
            // leaves plain text on both sides of the escape, as real text would.
            text.insert(text.len() / 2, ch);
        }
        text
    }
}

/// Days since 1970-01-01 to a proleptic Gregorian `(year, month, day)`.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

/// Seconds since the Unix epoch as RFC 3339 UTC text, e.g. `2023-10-01T20:00:00Z` (the
/// contract's example has no fractional seconds).
fn rfc3339(secs: u64) -> String {
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let (y, mo, d) = civil_from_days(days);
    let rem = secs % 86_400;
    format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

/// Builds a page of `size` connections (the first `size` of the same seeded sequence).
fn generate(size: usize, escapes: bool) -> OwnedPage {
    let mut rng = Rng(SEED);
    let mut esc = Escapes::new(escapes);
    // A pool of users, so some users own several vehicles, as in a real fleet. Its size is
    // fixed, so every page is a prefix of the same sequence of connections.
    let users: Vec<String> = (0..USERS).map(|_| rng.uuid()).collect();
    // 2023-01-01T00:00:00Z in seconds.
    const START: u64 = 1_672_531_200;
    const DAY: u64 = 86_400;

    let data = (0..size)
        .map(|_| {
            let id = rng.uuid();
            let vehicle_id = rng.uuid();
            let user_id = users[rng.below(users.len() as u64) as usize].clone();
            let (make, model, powertrain) = VEHICLES[rng.below(VEHICLES.len() as u64) as usize];
            let year = 2016 + rng.below(10) as i64;
            let mode = if rng.below(5) == 0 {
                "simulated"
            } else {
                "live"
            };

            // read_vehicle_info always, then 1 to 5 distinct others.
            let mut granted = vec![0usize];
            let extra = 1 + rng.below(5) as usize;
            while granted.len() < 1 + extra {
                let p = 1 + rng.below(PERMISSIONS.len() as u64 - 1) as usize;
                if !granted.contains(&p) {
                    granted.push(p);
                }
            }

            let created = START + rng.below(900 * DAY);
            let updated = created + rng.below(60 * DAY);
            let last_used = (rng.below(7) != 0).then(|| updated + rng.below(30 * DAY));

            // Fields are built in document order, so the escapes land where the counter says.
            SerdeConnection {
                id: Some(esc.free(id.as_str())),
                kind: Some(esc.fixed("connection")),
                attributes: Some(SerdeAttributes {
                    permissions: Some(granted.iter().map(|&p| esc.free(PERMISSIONS[p])).collect()),
                    vehicle: Some(SerdeVehicle {
                        make: Some(esc.free(make)),
                        model: Some(esc.free(model)),
                        year: Some(year),
                        powertrain_type: Some(esc.fixed(powertrain)),
                        mode: Some(esc.fixed(mode)),
                    }),
                }),
                relationships: Some(SerdeRelationships {
                    vehicle: Some(relationship(&mut esc, "vehicle", "vehicles", &vehicle_id)),
                    user: Some(relationship(&mut esc, "user", "users", &user_id)),
                }),
                meta: Some(SerdeConnectionMeta {
                    created_at: Some(esc.fixed(rfc3339(created))),
                    updated_at: Some(esc.fixed(rfc3339(updated))),
                    last_used_at: last_used.map(|t| esc.fixed(rfc3339(t))),
                }),
                links: Some(SerdeSelfLink {
                    self_link: Some(esc.free(format!("/connections/{id}"))),
                }),
            }
        })
        .collect();

    let page_link = |n: usize| format!("/connections?page[number]={n}&page[size]={size}");
    SerdePage {
        data,
        meta: Some(SerdePagingMeta {
            page_number: Some(1),
            page_size: Some(size as i64),
            total_count: Some(TOTAL_COUNT as i64),
            order_by: Some("createdAt".to_owned()),
            order_direction: Some("DESC".to_owned()),
        }),
        links: Some(SerdePagingLinks {
            self_link: page_link(1),
            first: page_link(1),
            prev: None,
            next: Some(page_link(2)),
            last: page_link(TOTAL_COUNT.div_ceil(size)),
        }),
    }
}

fn relationship(
    esc: &mut Escapes,
    kind: &str,
    collection: &str,
    id: &str,
) -> SerdeRelationship<String> {
    SerdeRelationship {
        data: Some(SerdeResourceIdentifier {
            id: Some(esc.free(id)),
            kind: Some(esc.fixed(kind)),
        }),
        links: Some(SerdeRelatedLink {
            related: Some(esc.free(format!("/{collection}/{id}"))),
        }),
    }
}

/// serde_json's compact output, but with every non-ASCII character written as a `\u` escape
/// (a surrogate pair beyond the BMP), so the escapes fixture holds `\u00e9` and
/// `\ud83d\ude97` rather than raw UTF-8.
struct AsciiFormatter;

impl serde_json::ser::Formatter for AsciiFormatter {
    fn write_string_fragment<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> std::io::Result<()> {
        for (i, ch) in fragment.char_indices() {
            if ch.is_ascii() {
                writer.write_all(&fragment.as_bytes()[i..i + 1])?;
            } else {
                for unit in ch.encode_utf16(&mut [0; 2]) {
                    write!(writer, "\\u{unit:04x}")?;
                }
            }
        }
        Ok(())
    }
}

/// Encodes a page as a server would send it: compact JSON, absent values as `null`.
pub fn encode(page: &OwnedPage) -> Vec<u8> {
    use serde::Serialize as _;
    let mut out = Vec::with_capacity(64 * 1024);
    let mut ser = serde_json::Serializer::with_formatter(&mut out, AsciiFormatter);
    page.serialize(&mut ser)
        .expect("serializing plain structs into a Vec cannot fail");
    out
}

// ---------------------------------------------------------------------------------------------
// serde comparators
// ---------------------------------------------------------------------------------------------

/// A string that borrows from the body when it holds no escapes.
///
/// `#[serde(borrow)]` only borrows a `Cow<str>` that is the field's whole type: inside an
/// `Option` or a `Vec` serde falls back to `Cow`'s own impl, which always allocates. This
/// newtype puts the attribute where it works, so `serde_json_borrowed` borrows as much as
/// `decode_page` does.
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(transparent)]
pub struct CowStr<'a>(#[serde(borrow)] pub Cow<'a, str>);

impl AsRef<str> for CowStr<'_> {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// The page as an ordinary serde user would model it, with the same fields as the core's
/// models; generic over the string type so the owned and borrowed comparators are the same
/// code.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SerdePage<S> {
    /// The connections.
    pub data: Vec<SerdeConnection<S>>,
    /// Paging counters.
    pub meta: Option<SerdePagingMeta<S>>,
    /// Paging links.
    pub links: Option<SerdePagingLinks<S>>,
}

/// Owned strings and vectors: `String`, `Vec`, `Option`.
pub type OwnedPage = SerdePage<String>;

/// Strings borrowed from the body where they hold no escapes.
pub type BorrowedPage<'a> = SerdePage<CowStr<'a>>;

/// One connection.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SerdeConnection<S> {
    /// `id`.
    pub id: Option<S>,
    /// `type`.
    #[serde(rename = "type")]
    pub kind: Option<S>,
    /// `attributes`.
    pub attributes: Option<SerdeAttributes<S>>,
    /// `relationships`.
    pub relationships: Option<SerdeRelationships<S>>,
    /// `meta`.
    pub meta: Option<SerdeConnectionMeta<S>>,
    /// `links`.
    pub links: Option<SerdeSelfLink<S>>,
}

/// `attributes` of a connection.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SerdeAttributes<S> {
    /// `permissions`.
    pub permissions: Option<Vec<S>>,
    /// `vehicle`.
    pub vehicle: Option<SerdeVehicle<S>>,
}

/// `attributes.vehicle` of a connection.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SerdeVehicle<S> {
    /// `make`.
    pub make: Option<S>,
    /// `model`.
    pub model: Option<S>,
    /// `year`.
    pub year: Option<i64>,
    /// `powertrainType`.
    pub powertrain_type: Option<S>,
    /// `mode`.
    pub mode: Option<S>,
}

/// `relationships` of a connection.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SerdeRelationships<S> {
    /// `vehicle`.
    pub vehicle: Option<SerdeRelationship<S>>,
    /// `user`.
    pub user: Option<SerdeRelationship<S>>,
}

/// One relationship.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SerdeRelationship<S> {
    /// `data`.
    pub data: Option<SerdeResourceIdentifier<S>>,
    /// `links`.
    pub links: Option<SerdeRelatedLink<S>>,
}

/// A resource identifier.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SerdeResourceIdentifier<S> {
    /// `id`.
    pub id: Option<S>,
    /// `type`.
    #[serde(rename = "type")]
    pub kind: Option<S>,
}

/// `links` of a relationship.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SerdeRelatedLink<S> {
    /// `related`.
    pub related: Option<S>,
}

/// `links` of a connection.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SerdeSelfLink<S> {
    /// `self`.
    #[serde(rename = "self")]
    pub self_link: Option<S>,
}

/// `meta` of a connection.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SerdeConnectionMeta<S> {
    /// `createdAt`.
    pub created_at: Option<S>,
    /// `updatedAt`.
    pub updated_at: Option<S>,
    /// `lastUsedAt`.
    pub last_used_at: Option<S>,
}

/// `meta` of a page.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SerdePagingMeta<S> {
    /// `pageNumber`.
    pub page_number: Option<i64>,
    /// `pageSize`.
    pub page_size: Option<i64>,
    /// `totalCount`.
    pub total_count: Option<i64>,
    /// `orderBy`.
    pub order_by: Option<S>,
    /// `orderDirection`.
    pub order_direction: Option<S>,
}

/// `links` of a page.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SerdePagingLinks<S> {
    /// `self`.
    #[serde(rename = "self")]
    pub self_link: S,
    /// `first`.
    pub first: S,
    /// `prev`.
    pub prev: Option<S>,
    /// `next`.
    pub next: Option<S>,
    /// `last`.
    pub last: S,
}

// ---------------------------------------------------------------------------------------------
// Visitors: touch every field, sum string lengths (in bytes, unescaped) and integers
// ---------------------------------------------------------------------------------------------

fn text<S: AsRef<str>>(s: &S) -> u64 {
    s.as_ref().len() as u64
}

fn opt_text<S: AsRef<str>>(s: &Option<S>) -> u64 {
    s.as_ref().map_or(0, text)
}

fn opt_int(n: Option<i64>) -> u64 {
    n.map_or(0, |n| n as u64)
}

/// Visits a page decoded by connections-core, into any storage.
pub fn visit_core<R: Storage>(page: &connections_core::Page<R>) -> u64 {
    let mut sum = 0;
    for c in page.connections() {
        sum += visit_core_connection(c);
    }
    if let Some(PagingMeta {
        page_number,
        page_size,
        total_count,
        order_by,
        order_direction,
        ..
    }) = &page.meta
    {
        sum += opt_int(*page_number) + opt_int(*page_size) + opt_int(*total_count);
        sum += opt_text(order_by)
            + order_direction
                .as_ref()
                .map_or(0, |d| d.as_str().len() as u64);
    }
    if let Some(PagingLinks {
        self_link,
        first,
        prev,
        next,
        last,
        ..
    }) = &page.links
    {
        sum += opt_text(self_link) + opt_text(first) + opt_text(prev) + opt_text(next);
        sum += opt_text(last);
    }
    sum
}

fn visit_core_connection<R: Storage>(c: &Connection<R>) -> u64 {
    let mut sum = opt_text(&c.id) + opt_text(&c.kind);
    if let Some(ConnectionAttributes {
        permissions,
        vehicle,
        ..
    }) = &c.attributes
    {
        if let Some(permissions) = permissions {
            let permissions: &[R::Str] = permissions.as_ref();
            sum += permissions.iter().map(text).sum::<u64>();
        }
        if let Some(Vehicle {
            make,
            model,
            year,
            powertrain_type,
            mode,
            ..
        }) = vehicle
        {
            sum += opt_text(make) + opt_text(model) + opt_int(*year) + opt_text(powertrain_type);
            sum += mode.as_ref().map_or(0, |m| m.as_str().len() as u64);
        }
    }
    if let Some(r) = &c.relationships {
        sum += visit_core_relationship(&r.vehicle) + visit_core_relationship(&r.user);
    }
    if let Some(ConnectionMeta {
        created_at,
        updated_at,
        last_used_at,
        ..
    }) = &c.meta
    {
        for t in [created_at, updated_at, last_used_at].into_iter().flatten() {
            sum += t.as_str().len() as u64;
        }
    }
    if let Some(links) = &c.links {
        sum += opt_text(&links.self_link);
    }
    sum
}

fn visit_core_relationship<R: Storage>(r: &Option<Relationship<R>>) -> u64 {
    let Some(r) = r else { return 0 };
    let mut sum = 0;
    if let Some(data) = &r.data {
        sum += opt_text(&data.id) + opt_text(&data.kind);
    }
    if let Some(links) = &r.links {
        sum += opt_text(&links.related);
    }
    sum
}

/// Visits a page decoded into the serde comparator structs, owned or borrowed.
pub fn visit_serde<S: AsRef<str>>(page: &SerdePage<S>) -> u64 {
    let mut sum = 0;
    for c in &page.data {
        sum += opt_text(&c.id) + opt_text(&c.kind);
        if let Some(a) = &c.attributes {
            if let Some(permissions) = &a.permissions {
                sum += permissions.iter().map(text).sum::<u64>();
            }
            if let Some(v) = &a.vehicle {
                sum += opt_text(&v.make) + opt_text(&v.model) + opt_int(v.year);
                sum += opt_text(&v.powertrain_type) + opt_text(&v.mode);
            }
        }
        if let Some(r) = &c.relationships {
            sum += visit_serde_relationship(&r.vehicle) + visit_serde_relationship(&r.user);
        }
        if let Some(m) = &c.meta {
            sum += opt_text(&m.created_at) + opt_text(&m.updated_at) + opt_text(&m.last_used_at);
        }
        if let Some(links) = &c.links {
            sum += opt_text(&links.self_link);
        }
    }
    if let Some(m) = &page.meta {
        sum += opt_int(m.page_number) + opt_int(m.page_size) + opt_int(m.total_count);
        sum += opt_text(&m.order_by) + opt_text(&m.order_direction);
    }
    if let Some(l) = &page.links {
        sum += text(&l.self_link) + text(&l.first) + opt_text(&l.prev) + opt_text(&l.next);
        sum += text(&l.last);
    }
    sum
}

fn visit_serde_relationship<S: AsRef<str>>(r: &Option<SerdeRelationship<S>>) -> u64 {
    let Some(r) = r else { return 0 };
    let mut sum = 0;
    if let Some(data) = &r.data {
        sum += opt_text(&data.id) + opt_text(&data.kind);
    }
    if let Some(links) = &r.links {
        sum += opt_text(&links.related);
    }
    sum
}

/// Walks a `serde_json::Value`: every string's length and every integer. Keys are not
/// counted, as the typed visitors do not count field names either.
pub fn visit_value(value: &serde_json::Value) -> u64 {
    use serde_json::Value;
    match value {
        Value::String(s) => s.len() as u64,
        Value::Number(n) => n.as_i64().map_or(0, |n| n as u64),
        Value::Array(items) => items.iter().map(visit_value).sum(),
        Value::Object(fields) => fields.values().map(visit_value).sum(),
        Value::Null | Value::Bool(_) => 0,
    }
}

// ---------------------------------------------------------------------------------------------
// Variants: what one bench iteration does
// ---------------------------------------------------------------------------------------------

/// `N` of the heapless variant: connections per page.
pub const HEAPLESS_CONNECTIONS: usize = 100;
/// `P` of the heapless variant: permissions per connection.
pub const HEAPLESS_PERMISSIONS: usize = 16;
/// `E` of the heapless variant: errors per error body (unused by pages).
pub const HEAPLESS_ERRORS: usize = 1;

/// [`PageBuffers::decode`] (strings borrowed from the body unless escaped, lists reused from
/// the previous iteration's page) and a visit; the page is then recycled, as a caller
/// decoding page after page would.
pub fn core_borrowed(body: &[u8], buffers: &mut PageBuffers) -> u64 {
    let page = buffers.decode(body).expect("fixture decodes");
    let sum = visit_core(&page);
    buffers.recycle(page);
    sum
}

/// What a variant keeps from one iteration to the next, as a caller decoding page after
/// page would.
#[derive(Debug, Default)]
pub struct Reuse {
    /// The heapless variant's buffer for unescaped strings.
    pub scratch: Vec<u8>,
    /// The borrowed variant's lists.
    pub buffers: PageBuffers,
}

impl Reuse {
    /// Enough for `body`: unescaped text is never longer than its escaped form.
    pub fn for_body(body: &[u8]) -> Self {
        Reuse {
            scratch: vec![0; body.len()],
            buffers: PageBuffers::new(),
        }
    }
}

/// `decode_page_owned` (every string a `String`) and a visit.
pub fn core_owned(body: &[u8]) -> u64 {
    visit_core(&decode_page_owned(body).expect("fixture decodes"))
}

/// `decode_page_heapless::<100, 16, 1>` into a reused scratch buffer, and a visit.
pub fn core_heapless(body: &[u8], scratch: &mut [u8]) -> u64 {
    let page = decode_page_heapless::<HEAPLESS_CONNECTIONS, HEAPLESS_PERMISSIONS, HEAPLESS_ERRORS>(
        body, scratch,
    )
    .expect("fixture decodes and fits");
    visit_core(&page)
}

/// `serde_json::from_slice` into [`OwnedPage`] and a visit.
pub fn serde_json_owned(body: &[u8]) -> u64 {
    let page: OwnedPage = serde_json::from_slice(body).expect("fixture decodes");
    visit_serde(&page)
}

/// `serde_json::from_slice` into [`BorrowedPage`] and a visit.
pub fn serde_json_borrowed(body: &[u8]) -> u64 {
    let page: BorrowedPage<'_> = serde_json::from_slice(body).expect("fixture decodes");
    visit_serde(&page)
}

/// `serde_json::from_slice` into a `serde_json::Value` and a walk over it.
pub fn serde_json_value(body: &[u8]) -> u64 {
    let value: serde_json::Value = serde_json::from_slice(body).expect("fixture decodes");
    visit_value(&value)
}

/// `sonic_rs::from_slice` into [`OwnedPage`] and a visit.
pub fn sonic_rs_owned(body: &[u8]) -> u64 {
    let page: OwnedPage = sonic_rs::from_slice(body).expect("fixture decodes");
    visit_serde(&page)
}

/// `sonic_rs::from_slice` into [`BorrowedPage`] and a visit.
pub fn sonic_rs_borrowed(body: &[u8]) -> u64 {
    let page: BorrowedPage<'_> = sonic_rs::from_slice(body).expect("fixture decodes");
    visit_serde(&page)
}

/// `simd_json::serde::from_slice` into [`OwnedPage`] and a visit. simd-json parses in place,
/// so copying the body into a mutable buffer is part of what a caller pays, and is timed.
pub fn simd_json_owned(body: &[u8]) -> u64 {
    let mut buffer = body.to_vec();
    let page: OwnedPage = simd_json::serde::from_slice(&mut buffer).expect("fixture decodes");
    visit_serde(&page)
}

/// One `memchr3` pass counting `"`, `\` and `{`: a floor on what reading the body costs,
/// not a decoder.
pub fn memchr_scan(body: &[u8]) -> u64 {
    memchr::memchr3_iter(b'"', b'\\', b'{', body).count() as u64
}

/// The benched variants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    /// [`core_borrowed`].
    CoreBorrowed,
    /// [`core_owned`].
    CoreOwned,
    /// [`core_heapless`].
    CoreHeapless,
    /// [`serde_json_owned`].
    SerdeJsonOwned,
    /// [`serde_json_borrowed`].
    SerdeJsonBorrowed,
    /// [`serde_json_value`].
    SerdeJsonValue,
    /// [`sonic_rs_owned`].
    SonicRsOwned,
    /// [`sonic_rs_borrowed`].
    SonicRsBorrowed,
    /// [`simd_json_owned`].
    SimdJsonOwned,
    /// [`memchr_scan`].
    MemchrScan,
}

impl Variant {
    /// Every variant, in bench order.
    pub const ALL: [Variant; 10] = [
        Variant::CoreBorrowed,
        Variant::CoreOwned,
        Variant::CoreHeapless,
        Variant::SerdeJsonOwned,
        Variant::SerdeJsonBorrowed,
        Variant::SerdeJsonValue,
        Variant::SonicRsOwned,
        Variant::SonicRsBorrowed,
        Variant::SimdJsonOwned,
        Variant::MemchrScan,
    ];

    /// The variant's name in bench ids.
    pub fn name(self) -> &'static str {
        match self {
            Variant::CoreBorrowed => "core_borrowed",
            Variant::CoreOwned => "core_owned",
            Variant::CoreHeapless => "core_heapless",
            Variant::SerdeJsonOwned => "serde_json_owned",
            Variant::SerdeJsonBorrowed => "serde_json_borrowed",
            Variant::SerdeJsonValue => "serde_json_value",
            Variant::SonicRsOwned => "sonic_rs_owned",
            Variant::SonicRsBorrowed => "sonic_rs_borrowed",
            Variant::SimdJsonOwned => "simd_json_owned",
            Variant::MemchrScan => "memchr_scan",
        }
    }

    /// Whether the variant decodes and visits the page (all but the `memchr` floor).
    pub fn is_decoder(self) -> bool {
        self != Variant::MemchrScan
    }

    /// Runs one iteration.
    pub fn run(self, body: &[u8], reuse: &mut Reuse) -> u64 {
        match self {
            Variant::CoreBorrowed => core_borrowed(body, &mut reuse.buffers),
            Variant::CoreOwned => core_owned(body),
            Variant::CoreHeapless => core_heapless(body, &mut reuse.scratch),
            Variant::SerdeJsonOwned => serde_json_owned(body),
            Variant::SerdeJsonBorrowed => serde_json_borrowed(body),
            Variant::SerdeJsonValue => serde_json_value(body),
            Variant::SonicRsOwned => sonic_rs_owned(body),
            Variant::SonicRsBorrowed => sonic_rs_borrowed(body),
            Variant::SimdJsonOwned => simd_json_owned(body),
            Variant::MemchrScan => memchr_scan(body),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_matches_known_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_672_531_200), "2023-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_696_190_400), "2023-10-01T20:00:00Z");
        assert_eq!(rfc3339(1_709_251_199), "2024-02-29T23:59:59Z");
    }

    #[test]
    fn uuids_are_version_4() {
        let id = Rng(SEED).uuid();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
        assert!(matches!(&id[19..20], "8" | "9" | "a" | "b"));
    }
}
