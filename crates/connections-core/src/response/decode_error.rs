//! Why a body could not be decoded, and where: the error of the JSON reader and of the
//! decoder alike, so the reader needs nothing from the decoder built on it.
//!
//! Public as `decode::{DecodeError, ErrorKind, Expected, Capacity}`.

use core::fmt;

/// Why a body could not be decoded, and where.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DecodeError {
    /// What was wrong.
    pub kind: ErrorKind,
    /// Byte offset in the body where it was found.
    pub offset: usize,
}

impl DecodeError {
    pub(crate) const fn new(kind: ErrorKind, offset: usize) -> Self {
        DecodeError { kind, offset }
    }
}

/// What was wrong with a body.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The body is not UTF-8.
    InvalidUtf8,
    /// The body ended inside a value.
    UnexpectedEnd,
    /// The JSON grammar was broken: something else was expected here.
    Syntax(Expected),
    /// A `\` escape that JSON does not define.
    InvalidEscape,
    /// A `\u` escape of half a surrogate pair.
    LoneSurrogate,
    /// A raw control character inside a string.
    ControlCharacter,
    /// A number that breaks the JSON grammar.
    InvalidNumber,
    /// Nesting deeper than 127 levels.
    TooDeep,
    /// Something other than whitespace after the document.
    TrailingCharacters,
    /// A field's value has the wrong JSON type.
    InvalidType {
        /// The field, as a path such as `data[].attributes.vehicle.year`.
        field: &'static str,
        /// What the contract says it holds.
        expected: Expected,
    },
    /// An integer outside the `i64` range.
    IntegerOutOfRange {
        /// The field, as a path.
        field: &'static str,
    },
    /// A field the contract requires is absent.
    MissingField {
        /// The field, as a path.
        field: &'static str,
    },
    /// A field appears twice in one object.
    DuplicateField {
        /// The field, as a path.
        field: &'static str,
    },
    /// Fixed-size storage was too small for this body.
    Capacity {
        /// Which storage.
        what: Capacity,
        /// How much this body needs.
        needed: usize,
        /// How much there was.
        capacity: usize,
    },
}

/// What the decoder expected to find.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Expected {
    /// Any JSON value.
    Value,
    /// An object key (a string).
    Key,
    /// `:` after a key.
    Colon,
    /// `,` or the end of the object or array.
    CommaOrEnd,
    /// An object.
    Object,
    /// An array.
    Array,
    /// A string.
    String,
    /// An integer.
    Integer,
    /// A string or an integer.
    StringOrInteger,
}

/// Fixed-size storage of the no-allocator decoder.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Capacity {
    /// Connections per page, `N` of [`Heapless`](crate::storage::Heapless).
    Connections,
    /// Permissions per connection, `P` of [`Heapless`](crate::storage::Heapless).
    Permissions,
    /// Errors per error body, `E` of [`Heapless`](crate::storage::Heapless).
    Errors,
    /// Bytes of the scratch buffer that holds unescaped strings.
    Scratch,
}

impl fmt::Display for Expected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Expected::Value => "a JSON value",
            Expected::Key => "an object key",
            Expected::Colon => "`:`",
            Expected::CommaOrEnd => "`,` or the end of the object or array",
            Expected::Object => "an object",
            Expected::Array => "an array",
            Expected::String => "a string",
            Expected::Integer => "an integer",
            Expected::StringOrInteger => "a string or an integer",
        })
    }
}

impl fmt::Display for Capacity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Capacity::Connections => "connections per page (N)",
            Capacity::Permissions => "permissions per connection (P)",
            Capacity::Errors => "errors per error body (E)",
            Capacity::Scratch => "bytes of scratch buffer for unescaped strings",
        })
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = self.offset;
        match self.kind {
            ErrorKind::InvalidUtf8 => write!(f, "body is not valid UTF-8 at byte {at}"),
            ErrorKind::UnexpectedEnd => write!(
                f,
                "body ends unexpectedly at byte {at}: it was probably cut off in transit"
            ),
            ErrorKind::Syntax(e) => write!(f, "invalid JSON at byte {at}: expected {e}"),
            ErrorKind::InvalidEscape => write!(f, "invalid string escape at byte {at}"),
            ErrorKind::LoneSurrogate => {
                write!(f, "unpaired UTF-16 surrogate escape at byte {at}")
            }
            ErrorKind::ControlCharacter => {
                write!(f, "unescaped control character in a string at byte {at}")
            }
            ErrorKind::InvalidNumber => write!(f, "invalid number at byte {at}"),
            ErrorKind::TooDeep => write!(f, "JSON nested deeper than 127 levels at byte {at}"),
            ErrorKind::TrailingCharacters => {
                write!(f, "unexpected data after the JSON document at byte {at}")
            }
            ErrorKind::InvalidType { field, expected } => {
                write!(f, "`{field}` at byte {at} should be {expected}")
            }
            ErrorKind::IntegerOutOfRange { field } => {
                write!(
                    f,
                    "`{field}` at byte {at} does not fit a 64-bit signed integer"
                )
            }
            ErrorKind::MissingField { field } => {
                write!(
                    f,
                    "required field `{field}` is missing (object ends at byte {at})"
                )
            }
            ErrorKind::DuplicateField { field } => {
                write!(f, "field `{field}` appears twice (second at byte {at})")
            }
            ErrorKind::Capacity {
                what,
                needed,
                capacity,
            } => write!(
                f,
                "storage too small: this body needs {needed} {what} but there is room for \
                 {capacity}; raise it to at least {needed} or request smaller pages"
            ),
        }
    }
}

impl core::error::Error for DecodeError {}
