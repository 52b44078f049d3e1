//! Reading a dataset from a file in the API's shape: a JSON array of connections, a page body
//! (`{"data": [...]}`, other keys ignored), or NDJSON (one connection per line).
//!
//! Every field the sandbox serves is required, except `meta.lastUsedAt`, so what is served
//! is what the file says; `type` (if given) must be `connection`; `links` and the
//! relationships' `type`s and `links` are ignored, since the sandbox derives them from the ids.
//! Unknown fields are ignored, as a client of the API must ignore them. A mistake is a
//! [`DataError`] that names the line, column and byte offset where it was found.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;
use serde::de::{self, Deserializer};
use serde_json::value::RawValue;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::dataset::{ConnectionRecord, Dataset, Mode};

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

/// `ConnectionResponse` as a data file gives it.
#[derive(Deserialize)]
struct ConnectionIn {
    id: NonEmpty,
    #[serde(rename = "type")]
    kind: Option<ConnectionType>,
    attributes: AttributesIn,
    relationships: RelationshipsIn,
    meta: MetaIn,
}

#[derive(Deserialize)]
struct AttributesIn {
    permissions: Vec<String>,
    vehicle: VehicleIn,
}

#[derive(Deserialize)]
struct VehicleIn {
    make: String,
    model: String,
    year: i64,
    #[serde(rename = "powertrainType")]
    powertrain_type: String,
    mode: ModeIn,
}

#[derive(Deserialize)]
struct RelationshipsIn {
    vehicle: RelationshipIn,
    user: RelationshipIn,
}

#[derive(Deserialize)]
struct RelationshipIn {
    data: IdentifierIn,
}

#[derive(Deserialize)]
struct IdentifierIn {
    id: NonEmpty,
}

#[derive(Deserialize)]
struct MetaIn {
    #[serde(rename = "createdAt")]
    created_at: Timestamp,
    #[serde(rename = "updatedAt")]
    updated_at: Timestamp,
    #[serde(rename = "lastUsedAt", default)]
    last_used_at: Option<Timestamp>,
}

/// An id: any string but the empty one, which no filter could select.
struct NonEmpty(String);

impl<'de> Deserialize<'de> for NonEmpty {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if s.is_empty() {
            return Err(de::Error::invalid_value(
                de::Unexpected::Str(""),
                &"a non-empty id",
            ));
        }
        Ok(NonEmpty(s))
    }
}

/// `type`, which can only be `connection`.
struct ConnectionType;

impl<'de> Deserialize<'de> for ConnectionType {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if s != "connection" {
            return Err(de::Error::invalid_value(
                de::Unexpected::Str(&s),
                &"\"connection\"",
            ));
        }
        Ok(ConnectionType)
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

/// One connection read, with where it started and when it was made.
struct Read {
    offset: usize,
    created: i128,
    record: ConnectionRecord,
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
            None => vec![body],
        }
    };
    let mut read = Vec::with_capacity(items.len());
    let mut seen: HashMap<String, usize> = HashMap::with_capacity(items.len());
    for item in items {
        let connection: ConnectionIn = source.parse(item)?;
        let offset = source.offset_of(item);
        if let Some(&first) = seen.get(&connection.id.0) {
            let first = source.error(first, "");
            return Err(source.error(
                offset,
                format!(
                    "duplicate connection id {:?} (first at line {}, column {})",
                    connection.id.0, first.line, first.column
                ),
            ));
        }
        seen.insert(connection.id.0.clone(), offset);
        let _ = connection.kind;
        read.push(Read {
            offset,
            created: connection.meta.created_at.nanos,
            record: ConnectionRecord {
                id: connection.id.0,
                user_id: connection.relationships.user.data.id.0,
                vehicle_id: connection.relationships.vehicle.data.id.0,
                mode: connection.attributes.vehicle.mode.0,
                make: connection.attributes.vehicle.make,
                model: connection.attributes.vehicle.model,
                year: connection.attributes.vehicle.year,
                powertrain_type: connection.attributes.vehicle.powertrain_type,
                permissions: connection.attributes.permissions,
                created_at: connection.meta.created_at.text,
                updated_at: connection.meta.updated_at.text,
                last_used_at: connection.meta.last_used_at.map(|t| t.text),
            },
        });
    }
    Ok(build(read))
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
/// file's order), and indexes it.
fn build(mut read: Vec<Read>) -> Dataset {
    read.sort_by(|a, b| b.created.cmp(&a.created).then(a.offset.cmp(&b.offset)));
    let newest = read
        .first()
        .map(|r| i64::try_from(r.created.div_euclid(1_000_000_000)).unwrap_or(i64::MAX));
    let connections: Vec<Arc<ConnectionRecord>> =
        read.into_iter().map(|r| Arc::new(r.record)).collect();
    Dataset::from_records(connections, newest)
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
