//! Finds where serde_json would read a model struct from a JSON array, a form serde's derive
//! accepts and the API contract does not. Parsed by serde_json itself, skipping everything
//! else as lazily as the typed decode does, so it succeeds wherever that decode did.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// The positions of a model that hold structs, and the lists of structs.
#[derive(Clone, Copy)]
pub(crate) enum Shape {
    /// A struct: its fields that hold structs or lists of structs.
    Struct(&'static [(&'static str, Shape)]),
    /// A list of structs.
    List(&'static Shape),
}

const LEAF: Shape = Shape::Struct(&[]);
const RELATIONSHIP: Shape = Shape::Struct(&[("data", LEAF), ("links", LEAF)]);
const CONNECTION: Shape = Shape::Struct(&[
    ("attributes", Shape::Struct(&[("vehicle", LEAF)])),
    (
        "relationships",
        Shape::Struct(&[("vehicle", RELATIONSHIP), ("user", RELATIONSHIP)]),
    ),
    ("meta", LEAF),
    ("links", LEAF),
]);
pub(crate) const PAGE: Shape = Shape::Struct(&[
    ("data", Shape::List(&CONNECTION)),
    ("meta", LEAF),
    ("links", LEAF),
]);

/// An error body: `{"errors": [entry]}`.
pub(crate) const ERROR_BODY: Shape = Shape::Struct(&[(
    "errors",
    Shape::List(&Shape::Struct(&[
        ("resolution", LEAF),
        ("links", LEAF),
        ("meta", Shape::Struct(&[("debug", LEAF)])),
    ])),
)]);

/// Whether any struct position of the `shape` in `body` holds an array.
pub(crate) fn has_struct_as_array(body: &[u8], shape: Shape) -> bool {
    let mut de = serde_json::Deserializer::from_slice(body);
    // The document itself is not optional, but `null` there fails the typed decode anyway.
    shape.deserialize(&mut de).unwrap_or(false)
}

impl<'de> DeserializeSeed<'de> for Shape {
    /// Whether an array was found at a struct position.
    type Value = bool;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        // Every struct and list in the model is optional (or `null` means empty).
        d.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for Shape {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a page model value")
    }

    fn visit_none<E: de::Error>(self) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        match self {
            Shape::Struct(_) => d.deserialize_struct("", &[], self),
            Shape::List(_) => d.deserialize_seq(self),
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        let Shape::Struct(fields) = self else {
            return Err(de::Error::custom("a list given as an object"));
        };
        let mut found = false;
        while let Some(key) = map.next_key::<String>()? {
            match fields.iter().find(|(name, _)| *name == key) {
                Some((_, shape)) => found |= map.next_value_seed(*shape)?,
                None => drop(map.next_value::<IgnoredAny>()?),
            }
        }
        Ok(found)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<bool, A::Error> {
        match self {
            Shape::Struct(_) => {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(true)
            }
            Shape::List(item) => {
                let mut found = false;
                while let Some(inner) = seq.next_element_seed(*item)? {
                    found |= inner;
                }
                Ok(found)
            }
        }
    }
}
