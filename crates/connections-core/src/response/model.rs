//! The `GET /connections` response, field for field as the API contract describes it.
//!
//! Every property is an `Option` (lists default to empty): a server may leave it out (or send
//! `null`) without failing the decode, even `links.self`, `links.first` and `links.last`, which
//! the contract requires but nothing here reads. Unknown fields are ignored and unknown enum
//! values are kept as `Other`. Links are kept as the text the server sent; only the paginator
//! interprets them.
//!
//! The structs are `#[non_exhaustive]` so fields the API adds can be added here without a
//! breaking release; to build one, start from `Default::default()` and set its fields.

use serde::{Deserialize, Serialize};

use super::retry_after::UnixTime;
use super::storage::Storage;
#[cfg(feature = "alloc")]
use super::storage::{Owned, Text};

/// Declares a string enum that keeps values it does not know instead of failing on them.
macro_rules! open_enum {
    (
        $(#[$meta:meta])*
        $name:ident { $( $(#[$vmeta:meta])* $variant:ident = $text:literal, )+ }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $name<S> {
            $( $(#[$vmeta])* $variant, )+
            /// A value this version does not know, kept as the server sent it.
            Other(S),
        }

        impl<S> $name<S> {
            /// The known variant spelled `text`, if any.
            pub(crate) fn known(text: &crate::response::json::RawStr<'_>) -> Option<Self> {
                $( if text.eq_str($text) { return Some(Self::$variant); } )+
                None
            }
        }

        impl<S: AsRef<str>> $name<S> {
            /// Classifies `text`, keeping it when it is not a known value.
            pub fn from_text(text: S) -> Self {
                match text.as_ref() {
                    $( $text => Self::$variant, )+
                    _ => Self::Other(text),
                }
            }

            /// The value as it is spelled on the wire.
            pub fn as_str(&self) -> &str {
                match self {
                    $( Self::$variant => $text, )+
                    Self::Other(text) => text.as_ref(),
                }
            }
        }

        impl<S: crate::response::storage::Text> $name<S> {
            /// The same value with its text owned.
            #[cfg(feature = "alloc")]
            pub fn into_owned(self) -> $name<alloc::string::String> {
                match self {
                    $( Self::$variant => $name::$variant, )+
                    Self::Other(text) => $name::Other(text.into_string()),
                }
            }
        }

        impl<S: AsRef<str>> core::fmt::Display for $name<S> {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl<S: AsRef<str>> serde::Serialize for $name<S> {
            fn serialize<Ser: serde::Serializer>(&self, s: Ser) -> Result<Ser::Ok, Ser::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de, S: AsRef<str> + serde::Deserialize<'de>> serde::Deserialize<'de> for $name<S> {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                S::deserialize(d).map(Self::from_text)
            }
        }
    };
}
pub(crate) use open_enum;

open_enum! {
    /// Whether a vehicle is a real one or one of Smartcar's simulated vehicles.
    VehicleMode {
        /// A real vehicle.
        Live = "live",
        /// A simulated vehicle.
        Simulated = "simulated",
    }
}

open_enum! {
    /// The order of a page's items.
    OrderDirection {
        /// Ascending.
        Asc = "ASC",
        /// Descending (the API's default, newest connection first).
        Desc = "DESC",
    }
}

/// A date-time as the server sent it (RFC 3339 per the contract), parsed only when asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp<S>(pub S);

impl<S: AsRef<str>> Timestamp<S> {
    /// The text as sent.
    pub fn as_str(&self) -> &str {
        self.0.as_ref()
    }

    /// Parses the text as an RFC 3339 date-time, to whole seconds since the Unix epoch
    /// (rounded down, as [`UnixTime`] always is).
    ///
    /// A [`UnixTime`] rather than a date-time library's type, so that library stays out of
    /// this crate's API; for sub-second precision or the offset, parse [`Self::as_str`] with
    /// the library of your choice.
    pub fn unix_time(&self) -> Result<UnixTime, InvalidTimestamp> {
        time::OffsetDateTime::parse(
            self.as_str(),
            &time::format_description::well_known::Rfc3339,
        )
        .map(|t| UnixTime(t.unix_timestamp()))
        .map_err(|_| InvalidTimestamp { _private: () })
    }

    /// Parses the text as an RFC 3339 date-time, to nanoseconds since the Unix epoch: the
    /// precision to compare two timestamps of the same second.
    pub fn unix_nanos(&self) -> Result<i128, InvalidTimestamp> {
        time::OffsetDateTime::parse(
            self.as_str(),
            &time::format_description::well_known::Rfc3339,
        )
        .map(time::OffsetDateTime::unix_timestamp_nanos)
        .map_err(|_| InvalidTimestamp { _private: () })
    }
}

/// A [`Timestamp`] that is not an RFC 3339 date-time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct InvalidTimestamp {
    _private: (),
}

impl InvalidTimestamp {
    #[cfg(feature = "alloc")]
    pub(crate) const fn new() -> Self {
        InvalidTimestamp { _private: () }
    }
}

impl core::fmt::Display for InvalidTimestamp {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(
            "the timestamp is not an RFC 3339 date-time such as 2023-10-01T20:00:00Z; \
             the text is still available as sent",
        )
    }
}

impl core::error::Error for InvalidTimestamp {}

/// One page of `GET /connections`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(bound(
    serialize = "R::Str: Serialize, R::Connections: Serialize",
    deserialize = "R::Str: Deserialize<'de>, R::Connections: Deserialize<'de>, R::Permissions: Deserialize<'de>"
))]
#[non_exhaustive]
pub struct Page<R: Storage> {
    /// The connections on this page; empty when the server sent none (or `null`).
    #[serde(default, deserialize_with = "null_as_default")]
    pub data: R::Connections,
    /// Paging counters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<PagingMeta<R>>,
    /// Links to this and neighbouring pages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub links: Option<PagingLinks<R>>,
}

impl<R: Storage> Page<R> {
    /// The connections on this page.
    pub fn connections(&self) -> &[Connection<R>] {
        self.data.as_ref()
    }

    /// The link to the next page, if the server gave one.
    pub fn next_link(&self) -> Option<&str> {
        self.links.as_ref()?.next.as_ref().map(AsRef::as_ref)
    }
}

/// A vehicle connection: a user's grant of access to one vehicle for this application.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(bound(
    serialize = "R::Str: Serialize, R::Permissions: Serialize",
    deserialize = "R::Str: Deserialize<'de>, R::Permissions: Deserialize<'de>"
))]
#[non_exhaustive]
pub struct Connection<R: Storage> {
    /// The connection's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<R::Str>,
    /// The resource type, `connection`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<R::Str>,
    /// Granted permissions and the vehicle's description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attributes: Option<ConnectionAttributes<R>>,
    /// The vehicle and the user this connection ties together.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relationships: Option<Relationships<R>>,
    /// When the connection was made, changed and last used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<ConnectionMeta<R>>,
    /// The connection's own URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub links: Option<SelfLink<R>>,
}

/// `attributes` of a connection.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(bound(
    serialize = "R::Str: Serialize, R::Permissions: Serialize",
    deserialize = "R::Str: Deserialize<'de>, R::Permissions: Deserialize<'de>"
))]
#[non_exhaustive]
pub struct ConnectionAttributes<R: Storage> {
    /// Permissions granted, e.g. `read_odometer`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permissions: Option<R::Permissions>,
    /// The connected vehicle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vehicle: Option<Vehicle<R>>,
}

/// `attributes.vehicle` of a connection.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(bound(
    serialize = "R::Str: Serialize",
    deserialize = "R::Str: Deserialize<'de>"
))]
#[non_exhaustive]
pub struct Vehicle<R: Storage> {
    /// Manufacturer, e.g. `TESLA`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub make: Option<R::Str>,
    /// Model, e.g. `Model S`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<R::Str>,
    /// Model year.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub year: Option<i64>,
    /// Powertrain, e.g. `BEV`, `ICE`, `PHEV`.
    #[serde(
        rename = "powertrainType",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub powertrain_type: Option<R::Str>,
    /// Live or simulated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<VehicleMode<R::Str>>,
}

/// `relationships` of a connection.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(bound(
    serialize = "R::Str: Serialize",
    deserialize = "R::Str: Deserialize<'de>"
))]
#[non_exhaustive]
pub struct Relationships<R: Storage> {
    /// The connected vehicle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vehicle: Option<Relationship<R>>,
    /// The user who connected it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<Relationship<R>>,
}

/// A related resource: its identifier and where to fetch it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(bound(
    serialize = "R::Str: Serialize",
    deserialize = "R::Str: Deserialize<'de>"
))]
#[non_exhaustive]
pub struct Relationship<R: Storage> {
    /// Type and id of the related resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<ResourceIdentifier<R>>,
    /// Its URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub links: Option<RelatedLink<R>>,
}

/// A JSON:API resource identifier.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(bound(
    serialize = "R::Str: Serialize",
    deserialize = "R::Str: Deserialize<'de>"
))]
#[non_exhaustive]
pub struct ResourceIdentifier<R: Storage> {
    /// The resource's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<R::Str>,
    /// The resource's type, `vehicle` or `user`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<R::Str>,
}

/// `links` of a relationship.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(bound(
    serialize = "R::Str: Serialize",
    deserialize = "R::Str: Deserialize<'de>"
))]
#[non_exhaustive]
pub struct RelatedLink<R: Storage> {
    /// URL of the related resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub related: Option<R::Str>,
}

impl<R: Storage> Connection<R> {
    /// When the connection was made (`meta.createdAt`), if the server said.
    pub fn created_at(&self) -> Option<&Timestamp<R::Str>> {
        self.meta.as_ref()?.created_at.as_ref()
    }
}

/// `links` of a connection.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(bound(
    serialize = "R::Str: Serialize",
    deserialize = "R::Str: Deserialize<'de>"
))]
#[non_exhaustive]
pub struct SelfLink<R: Storage> {
    /// URL of the resource itself.
    #[serde(rename = "self", default, skip_serializing_if = "Option::is_none")]
    pub self_link: Option<R::Str>,
}

/// `meta` of a connection.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(bound(
    serialize = "R::Str: Serialize",
    deserialize = "R::Str: Deserialize<'de>"
))]
#[non_exhaustive]
pub struct ConnectionMeta<R: Storage> {
    /// When the connection was made.
    #[serde(rename = "createdAt", default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<Timestamp<R::Str>>,
    /// When it last changed.
    #[serde(rename = "updatedAt", default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<Timestamp<R::Str>>,
    /// When the application last used it.
    #[serde(
        rename = "lastUsedAt",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub last_used_at: Option<Timestamp<R::Str>>,
}

/// `meta` of a page: where it sits in the whole listing.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(bound(
    serialize = "R::Str: Serialize",
    deserialize = "R::Str: Deserialize<'de>"
))]
#[non_exhaustive]
pub struct PagingMeta<R: Storage> {
    /// This page's number, from 1.
    #[serde(
        rename = "pageNumber",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub page_number: Option<i64>,
    /// Items per page.
    #[serde(rename = "pageSize", default, skip_serializing_if = "Option::is_none")]
    pub page_size: Option<i64>,
    /// Items in the whole listing.
    #[serde(
        rename = "totalCount",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub total_count: Option<i64>,
    /// The field the listing is sorted by, e.g. `createdAt`.
    #[serde(rename = "orderBy", default, skip_serializing_if = "Option::is_none")]
    pub order_by: Option<R::Str>,
    /// The sort direction.
    #[serde(
        rename = "orderDirection",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub order_direction: Option<OrderDirection<R::Str>>,
}

/// `links` of a page. `prev` and `next` are `null` (or absent) at the ends of the listing.
///
/// The contract requires `self`, `first` and `last`, but nothing here reads them, so a page
/// that leaves them out (or sends `null`) still decodes: refusing it would stop a listing over
/// fields no one uses.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(bound(
    serialize = "R::Str: Serialize",
    deserialize = "R::Str: Deserialize<'de>"
))]
#[non_exhaustive]
pub struct PagingLinks<R: Storage> {
    /// This page.
    #[serde(rename = "self", default, skip_serializing_if = "Option::is_none")]
    pub self_link: Option<R::Str>,
    /// The first page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first: Option<R::Str>,
    /// The previous page, if any.
    #[serde(default)]
    pub prev: Option<R::Str>,
    /// The next page, if any: the paginator follows it.
    #[serde(default)]
    pub next: Option<R::Str>,
    /// The last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last: Option<R::Str>,
}

/// Implements `Default` (every field empty) for model structs whose every field is optional,
/// so users outside the crate can build them despite `#[non_exhaustive]`: start from
/// `default()` and set fields.
macro_rules! empty_default {
    ($($name:ident { $($field:ident),+ $(,)? })+) => {$(
        impl<R: Storage> Default for $name<R> {
            fn default() -> Self {
                $name { $( $field: Default::default(), )+ }
            }
        }
    )+};
}
pub(crate) use empty_default;

empty_default! {
    Page { data, meta, links }
    Connection { id, kind, attributes, relationships, meta, links }
    ConnectionAttributes { permissions, vehicle }
    Vehicle { make, model, year, powertrain_type, mode }
    Relationships { vehicle, user }
    Relationship { data, links }
    ResourceIdentifier { id, kind }
    RelatedLink { related }
    SelfLink { self_link }
    ConnectionMeta { created_at, updated_at, last_used_at }
    PagingMeta { page_number, page_size, total_count, order_by, order_direction }
    PagingLinks { self_link, first, prev, next, last }
}

/// Reads `null` as the type's default (an empty list), as if the field were absent.
fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Option::<T>::deserialize(d).map(Option::unwrap_or_default)
}

/// Copies a model out of the response body so it can outlive it.
#[cfg(feature = "alloc")]
pub trait IntoOwned {
    /// The same model with owned strings.
    type Owned;
    /// Converts, copying only the text that is still borrowed.
    fn into_owned(self) -> Self::Owned;
}

/// Implements [`IntoOwned`] for model structs by converting each field.
#[cfg(feature = "alloc")]
macro_rules! into_owned {
    ($name:ident { $($field:ident: $how:ident),+ $(,)? }) => {
        impl<R: Storage> IntoOwned for $name<R> {
            type Owned = $name<Owned>;
            fn into_owned(self) -> $name<Owned> {
                $name { $( $field: into_owned!(@$how self.$field), )+ }
            }
        }
    };
    (@text $v:expr) => { $v.into_string() };
    (@opt_text $v:expr) => { $v.map(Text::into_string) };
    (@opt_model $v:expr) => { $v.map(IntoOwned::into_owned) };
    (@opt_enum $v:expr) => { $v.map(|e| e.into_owned()) };
    (@enum_ $v:expr) => { $v.into_owned() };
    (@opt_time $v:expr) => { $v.map(|t| Timestamp(t.0.into_string())) };
    (@copy $v:expr) => { $v };
    (@list $v:expr) => { $v.into_iter().map(IntoOwned::into_owned).collect() };
    (@opt_texts $v:expr) => { $v.map(|l| l.into_iter().map(Text::into_string).collect()) };
}
#[cfg(feature = "alloc")]
pub(crate) use into_owned;

#[cfg(feature = "alloc")]
mod owned_impls {
    use super::*;

    into_owned!(Page {
        data: list,
        meta: opt_model,
        links: opt_model
    });
    into_owned!(Connection {
        id: opt_text,
        kind: opt_text,
        attributes: opt_model,
        relationships: opt_model,
        meta: opt_model,
        links: opt_model,
    });
    into_owned!(ConnectionAttributes {
        permissions: opt_texts,
        vehicle: opt_model
    });
    into_owned!(Vehicle {
        make: opt_text,
        model: opt_text,
        year: copy,
        powertrain_type: opt_text,
        mode: opt_enum,
    });
    into_owned!(Relationships {
        vehicle: opt_model,
        user: opt_model
    });
    into_owned!(Relationship {
        data: opt_model,
        links: opt_model
    });
    into_owned!(ResourceIdentifier {
        id: opt_text,
        kind: opt_text
    });
    into_owned!(RelatedLink { related: opt_text });
    into_owned!(SelfLink {
        self_link: opt_text
    });
    into_owned!(ConnectionMeta {
        created_at: opt_time,
        updated_at: opt_time,
        last_used_at: opt_time,
    });
    into_owned!(PagingMeta {
        page_number: copy,
        page_size: copy,
        total_count: copy,
        order_by: opt_text,
        order_direction: opt_enum,
    });
    into_owned!(PagingLinks {
        self_link: opt_text,
        first: opt_text,
        prev: opt_text,
        next: opt_text,
        last: opt_text,
    });
}
