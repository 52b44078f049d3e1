//! Reading a dataset from a file in the API's shape: a JSON array of connections, a page body
//! (`{"data": [...]}`, other keys ignored), or NDJSON (one connection per line).
//!
//! Every connection the contract allows is accepted, and served back as the file wrote it,
//! byte for byte: the contract makes every field of a connection optional and allows fields
//! it does not name, so the loader reads only what it needs (ids for the filters, `mode`,
//! `createdAt` for the order) and checks that what is given has the contract's types, so a
//! page made of the file's text is still a valid answer. A mistake is a [`DataError`] that
//! names the line, column and byte offset where it was found.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::{self, Deserializer};
use serde_json::value::RawValue;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::dataset::{ConnectionRecord, Dataset, Loaded, Mode};

/// A data file could not be read as connections: what was wrong and where.
///
/// Its `Display` reads `path:line:column: message` (without the path when the text did not
/// come from a file). [`Dataset::load`] wraps it in an [`std::io::Error`] of kind
/// `InvalidData`, from which `get_ref` and `downcast_ref` get it back.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct DataError {
    /// The file, if the text came from one.
    pub path: Option<PathBuf>,
    /// 1-based line of the problem.
    pub line: usize,
    /// 1-based column of the problem, in bytes.
    pub column: usize,
    /// 0-based byte offset of the problem from the start of the text.
    pub offset: usize,
    /// What was wrong.
    pub message: String,
}

impl fmt::Display for DataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(path) = &self.path {
            write!(f, "{}:", path.display())?;
        }
        write!(
            f,
            "{}:{}: {} (byte offset {})",
            self.line, self.column, self.message, self.offset
        )
    }
}

impl std::error::Error for DataError {}

impl From<DataError> for std::io::Error {
    fn from(e: DataError) -> Self {
        std::io::Error::new(std::io::ErrorKind::InvalidData, e)
    }
}

/// The text being read, for turning byte offsets into lines and columns.
struct Source<'a> {
    text: &'a str,
}

impl<'a> Source<'a> {
    /// An error at byte `offset` of the whole text.
    fn error(&self, offset: usize, message: impl Into<String>) -> DataError {
        let offset = offset.min(self.text.len());
        let before = self.text.as_bytes().get(..offset).unwrap_or_default();
        let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
        let line_start = before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        DataError {
            path: None,
            line,
            column: offset - line_start + 1,
            offset,
            message: message.into(),
        }
    }

    /// Where `part` (a slice of the text) starts in it.
    fn offset_of(&self, part: &str) -> usize {
        (part.as_ptr() as usize).saturating_sub(self.text.as_ptr() as usize)
    }

    /// Reads `part` (a slice of the text) as a `T`; an error is placed in the whole text.
    fn parse<T: Deserialize<'a>>(&self, part: &'a str) -> Result<T, DataError> {
        serde_json::from_str(part).map_err(|e| self.json_error(part, &e))
    }

    /// serde_json's error, moved from `part`'s coordinates to the whole text's.
    fn json_error(&self, part: &str, e: &serde_json::Error) -> DataError {
        // serde_json counts lines from 1 and columns (in bytes) from 1 within `part`.
        let line_start: usize = part
            .split_inclusive('\n')
            .take(e.line().saturating_sub(1))
            .map(str::len)
            .sum();
        let within = line_start + e.column().saturating_sub(1);
        let message = e.to_string();
        let suffix = format!(" at line {} column {}", e.line(), e.column());
        let message = message.strip_suffix(&suffix).unwrap_or(&message);
        self.error(self.offset_of(part) + within, message)
    }
}

/// A page body: only `data` is read.
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow)]
    data: Option<&'a RawValue>,
}

/// `ConnectionResponse` as a data file gives it: every field optional, as in the contract,
/// and each one given checked against the contract's type, so that what is served (the
/// file's text) is still a valid answer. Unknown fields are left to the text.
#[derive(Default, Deserialize)]
#[serde(default)]
struct ConnectionIn {
    id: Given<String>,
    #[serde(rename = "type")]
    kind: Given<Constant<Connection>>,
    attributes: Given<Object<AttributesIn>>,
    relationships: Given<Object<RelationshipsIn>>,
    meta: Given<Object<MetaIn>>,
    links: Given<Object<LinkIn<SelfKey>>>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct AttributesIn {
    permissions: Given<Vec<String>>,
    vehicle: Given<Object<VehicleIn>>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct VehicleIn {
    make: Given<String>,
    model: Given<String>,
    year: Given<Integer>,
    #[serde(rename = "powertrainType")]
    powertrain_type: Given<String>,
    mode: Given<ModeIn>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct RelationshipsIn {
    vehicle: Given<Object<RelationshipIn<Constant<Vehicle>>>>,
    user: Given<Object<RelationshipIn<String>>>,
}

/// `VehicleRelationship` (whose `type` can only be `vehicle`) or `UserRelationship` (any
/// string).
#[derive(Deserialize)]
#[serde(default, bound = "T: Deserialize<'de>")]
struct RelationshipIn<T> {
    data: Given<Object<IdentifierIn<T>>>,
    links: Given<Object<LinkIn<RelatedKey>>>,
}

impl<T> Default for RelationshipIn<T> {
    fn default() -> Self {
        RelationshipIn {
            data: Given(None),
            links: Given(None),
        }
    }
}

#[derive(Deserialize)]
#[serde(default, bound = "T: Deserialize<'de>")]
struct IdentifierIn<T> {
    id: Given<String>,
    #[serde(rename = "type")]
    kind: Given<T>,
}

impl<T> Default for IdentifierIn<T> {
    fn default() -> Self {
        IdentifierIn {
            id: Given(None),
            kind: Given(None),
        }
    }
}

/// `MetaAttributes`. `lastUsedAt` is not in its schema (only in its example, as `null`), so
/// any value is allowed; the record keeps it when it is a string.
#[derive(Default, Deserialize)]
#[serde(default)]
struct MetaIn {
    #[serde(rename = "createdAt")]
    created_at: Given<Timestamp>,
    #[serde(rename = "updatedAt")]
    updated_at: Given<Timestamp>,
    #[serde(rename = "lastUsedAt")]
    last_used_at: Option<LastUsed>,
}

/// `SelfLink` (`{"self": "..."}`) or `RelatedLink` (`{"related": "..."}`): the one key, a
/// string if given.
#[derive(Default)]
struct LinkIn<K>(std::marker::PhantomData<K>);

/// The key a link object holds.
trait LinkKey {
    const NAME: &'static str;
}

#[derive(Default)]
struct SelfKey;
impl LinkKey for SelfKey {
    const NAME: &'static str = "self";
}

#[derive(Default)]
struct RelatedKey;
impl LinkKey for RelatedKey {
    const NAME: &'static str = "related";
}

impl<'de, K: LinkKey + Default> Deserialize<'de> for LinkIn<K> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Keys<K>(std::marker::PhantomData<K>);
        impl<'de, K: LinkKey> de::Visitor<'de> for Keys<K> {
            type Value = ();
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
                while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    if key == K::NAME {
                        map.next_value::<String>()?;
                    } else {
                        map.next_value::<de::IgnoredAny>()?;
                    }
                }
                Ok(())
            }
        }
        d.deserialize_map(Keys::<K>(std::marker::PhantomData))?;
        Ok(LinkIn(std::marker::PhantomData))
    }
}

/// A field that may be left out, but not `null` unless the contract says so (it never does
/// for a connection's fields): `Option` alone would take `null` for a missing field, and the
/// sandbox would then serve a `null` the contract refuses.
struct Given<T>(Option<T>);

impl<T> Default for Given<T> {
    fn default() -> Self {
        Given(None)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Given<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        T::deserialize(d).map(|v| Given(Some(v)))
    }
}

/// A JSON object read as `T`: serde would also read a struct from an array of its fields,
/// which the contract does not allow.
struct Object<T>(T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Fields<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> de::Visitor<'de> for Fields<T> {
            type Value = T;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(map))
            }
        }
        d.deserialize_map(Fields(std::marker::PhantomData))
            .map(Object)
    }
}

/// An integer of any size, as JSON Schema's `integer` is (`2024`, `2024.0`,
/// `123456789012345678901234567890`): its value if it fits an `i64`.
struct Integer(Option<i64>);

impl<'de> Deserialize<'de> for Integer {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl de::Visitor<'_> for Visitor {
            type Value = Integer;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an integer")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Integer, E> {
                Ok(Integer(Some(v)))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Integer, E> {
                Ok(Integer(i64::try_from(v).ok()))
            }
            // serde_json reads an integer beyond u64 as a float (with its fraction, zero).
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Integer, E> {
                if v.is_finite() && v.fract() == 0.0 {
                    // In range, `as` is exact; out of range, `None`.
                    let fits = (i64::MIN as f64..i64::MAX as f64).contains(&v);
                    Ok(Integer(fits.then_some(v as i64)))
                } else {
                    Err(de::Error::invalid_value(de::Unexpected::Float(v), &self))
                }
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// The one value a `type` may have: `connection` for a connection, `vehicle` for a vehicle
/// relationship's data.
struct Constant<T>(std::marker::PhantomData<T>);

trait Spelling {
    const TEXT: &'static str;
}

struct Connection;
impl Spelling for Connection {
    const TEXT: &'static str = "connection";
}

struct Vehicle;
impl Spelling for Vehicle {
    const TEXT: &'static str = "vehicle";
}

impl<'de, T: Spelling> Deserialize<'de> for Constant<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = std::borrow::Cow::<'de, str>::deserialize(d)?;
        if s != T::TEXT {
            return Err(de::Error::invalid_value(
                de::Unexpected::Str(&s),
                &format!("\"{}\"", T::TEXT).as_str(),
            ));
        }
        Ok(Constant(std::marker::PhantomData))
    }
}

struct ModeIn(Mode);

impl<'de> Deserialize<'de> for ModeIn {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse()
            .map(ModeIn)
            .map_err(|_| de::Error::unknown_variant(&s, &["live", "simulated"]))
    }
}

/// `lastUsedAt`: any JSON value; its text when it is a string.
struct LastUsed(Option<String>);

impl<'de> Deserialize<'de> for LastUsed {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> de::Visitor<'de> for Visitor {
            type Value = LastUsed;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any value")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<LastUsed, E> {
                Ok(LastUsed(Some(v.to_owned())))
            }
            fn visit_unit<E: de::Error>(self) -> Result<LastUsed, E> {
                Ok(LastUsed(None))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<LastUsed, E> {
                Ok(LastUsed(None))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<LastUsed, E> {
                Ok(LastUsed(None))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<LastUsed, E> {
                Ok(LastUsed(None))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<LastUsed, E> {
                Ok(LastUsed(None))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, seq: A) -> Result<LastUsed, A::Error> {
                de::IgnoredAny.visit_seq(seq).map(|_| LastUsed(None))
            }
            fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<LastUsed, A::Error> {
                de::IgnoredAny.visit_map(map).map(|_| LastUsed(None))
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// An RFC 3339 date-time: kept as written (it is served as written) and as an instant (the
/// listing is ordered by it).
struct Timestamp {
    text: String,
    nanos: i128,
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        match OffsetDateTime::parse(&text, &Rfc3339) {
            Ok(t) => Ok(Timestamp {
                nanos: t.unix_timestamp_nanos(),
                text,
            }),
            Err(_) => Err(de::Error::invalid_value(
                de::Unexpected::Str(&text),
                &"an RFC 3339 date-time such as 2025-06-01T12:00:00Z",
            )),
        }
    }
}

/// One connection read, with where it started and when it was made (`None`: undated, listed
/// after every dated one).
struct Read {
    offset: usize,
    created: Option<i128>,
    loaded: Loaded,
}

/// Reads `text` in any of the accepted shapes; see the [module docs](self).
pub(crate) fn parse(text: &str) -> Result<Dataset, DataError> {
    let source = Source { text };
    let body = text.strip_prefix('\u{feff}').unwrap_or(text);
    let Some(start) = body.find(|c: char| !c.is_ascii_whitespace()) else {
        return Ok(build(Vec::new()));
    };
    let body = &body[start..];
    let items: Vec<&str> = if body.starts_with('[') {
        raw_items(&source, body)?
    } else if let Some((first, rest)) = first_line(body)
        && serde_json::from_str::<&RawValue>(first).is_ok()
        && !rest.trim_ascii().is_empty()
    {
        // NDJSON: the first line is a whole value and more follows.
        ndjson_lines(body)
    } else if !body.starts_with('{') {
        return Err(source.error(
            source.offset_of(body),
            "expected a JSON array of connections, a page body ({\"data\": [...]}) or NDJSON \
             (one connection per line)",
        ));
    } else {
        let envelope: Envelope<'_> = source.parse(body)?;
        match envelope.data {
            Some(data) => raw_items(&source, data.get())?,
            // One object without `data`: a single connection (NDJSON of one line).
            None => vec![body.trim_ascii_end()],
        }
    };
    let mut read = Vec::with_capacity(items.len());
    let mut seen: HashMap<String, usize> = HashMap::with_capacity(items.len());
    for item in items {
        let Object(connection): Object<ConnectionIn> = source.parse(item)?;
        let offset = source.offset_of(item);
        if let Some(id) = &connection.id.0 {
            if let Some(&first) = seen.get(id) {
                let first = source.error(first, "");
                return Err(source.error(
                    offset,
                    format!(
                        "duplicate connection id {id:?} (first at line {}, column {})",
                        first.line, first.column
                    ),
                ));
            }
            seen.insert(id.clone(), offset);
        }
        let json = source.parse::<Box<RawValue>>(item)?;
        read.push(connection.read(offset, json));
    }
    Ok(build(read))
}

/// `relationships.<name>.data.id`, if given.
fn related_id<T>(relationship: Given<Object<RelationshipIn<T>>>) -> Option<String> {
    let Object(relationship) = relationship.0?;
    let _ = relationship.links;
    let Object(data) = relationship.data.0?;
    let _ = data.kind;
    data.id.0
}

impl ConnectionIn {
    /// The record of what was given, where it fits (see [`ConnectionRecord`]).
    fn read(self, offset: usize, json: Box<RawValue>) -> Read {
        let _ = (self.kind, self.links);
        let attributes = self.attributes.0.map(|o| o.0).unwrap_or_default();
        let vehicle = attributes.vehicle.0.map(|o| o.0).unwrap_or_default();
        let relationships = self.relationships.0.map(|o| o.0).unwrap_or_default();
        let meta = self.meta.0.map(|o| o.0).unwrap_or_default();
        let user = related_id(relationships.user);
        let vehicle_id = related_id(relationships.vehicle);
        let created = meta.created_at.0;
        Read {
            offset,
            created: created.as_ref().map(|t| t.nanos),
            loaded: Loaded {
                has_user: user.is_some(),
                has_vehicle: vehicle_id.is_some(),
                record: ConnectionRecord {
                    id: self.id.0.unwrap_or_default(),
                    user_id: user.unwrap_or_default(),
                    vehicle_id: vehicle_id.unwrap_or_default(),
                    mode: vehicle.mode.0.map_or(Mode::DEFAULT, |m| m.0),
                    make: vehicle.make.0.unwrap_or_default(),
                    model: vehicle.model.0.unwrap_or_default(),
                    year: vehicle.year.0.and_then(|y| y.0).unwrap_or_default(),
                    powertrain_type: vehicle.powertrain_type.0.unwrap_or_default(),
                    permissions: attributes.permissions.0.unwrap_or_default(),
                    created_at: created.map(|t| t.text).unwrap_or_default(),
                    updated_at: meta.updated_at.0.map(|t| t.text).unwrap_or_default(),
                    last_used_at: meta.last_used_at.and_then(|l| l.0),
                },
                json,
            },
        }
    }
}

/// The items of the JSON array `array` (a slice of the source's text).
fn raw_items<'a>(source: &Source<'a>, array: &'a str) -> Result<Vec<&'a str>, DataError> {
    let items: Vec<&'a RawValue> = source.parse(array)?;
    Ok(items.into_iter().map(RawValue::get).collect())
}

/// The first line (without its end) and what follows it.
fn first_line(text: &str) -> Option<(&str, &str)> {
    let end = text.find('\n').unwrap_or(text.len());
    Some((&text[..end], &text[end..]))
}

/// Non-blank lines, each a connection.
fn ndjson_lines(text: &str) -> Vec<&str> {
    text.split('\n')
        .map(|line| line.trim_ascii())
        .filter(|line| !line.is_empty())
        .collect()
}

/// Orders what was read newest first, as the API lists (stable: equal `createdAt`s keep the
/// file's order; undated connections come last, in the file's order), and indexes it.
fn build(mut read: Vec<Read>) -> Dataset {
    // `Option`'s order puts `None` first: reversed, it comes last.
    read.sort_by(|a, b| b.created.cmp(&a.created).then(a.offset.cmp(&b.offset)));
    let newest = read
        .first()
        .and_then(|r| r.created)
        .map(|c| i64::try_from(c.div_euclid(1_000_000_000)).unwrap_or(i64::MAX));
    Dataset::from_loaded(read.into_iter().map(|r| r.loaded).collect(), newest)
}

/// Reads a whole file; see [`Dataset::load`].
pub(crate) fn load(path: &Path) -> std::io::Result<Dataset> {
    let with_path = |mut e: DataError| {
        e.path = Some(path.to_owned());
        std::io::Error::from(e)
    };
    let bytes = std::fs::read(path).map_err(|e| {
        std::io::Error::new(
            e.kind(),
            format!("could not read the data file {}: {e}", path.display()),
        )
    })?;
    let text = match std::str::from_utf8(&bytes) {
        Ok(text) => text,
        Err(e) => {
            let valid = std::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or_default();
            return Err(with_path(
                Source { text: valid }.error(e.valid_up_to(), "the file is not UTF-8"),
            ));
        }
    };
    parse(text).map_err(with_path)
}
