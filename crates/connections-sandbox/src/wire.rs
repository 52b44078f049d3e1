//! What goes over the wire, written from the contract (`spec/connections.openapi.yml`)
//! rather than borrowed from the client's models: a server that shared the client's structs
//! would agree with the client's mistakes instead of catching them.
//!
//! Field order follows the contract's schemas; absent optional values are left out, except
//! `links.prev`/`links.next`, which the contract requires and allows to be `null`.

use serde::{Serialize, Serializer};

use crate::dataset::{ConnectionRecord, Entry, Mode};

/// `ConnectionsResponse`.
#[derive(Serialize)]
pub(crate) struct PageBody<'a> {
    pub(crate) data: Vec<Item<'a>>,
    pub(crate) meta: PagingMeta,
    pub(crate) links: PagingLinks,
}

/// One connection of a page: written from its record when generated, or the JSON a data
/// file gave for it, exactly as given (serde_json writes a `RawValue` verbatim).
pub(crate) struct Item<'a>(pub(crate) &'a Entry);

impl Serialize for Item<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match &self.0.json {
            Some(json) => json.serialize(s),
            None => Connection::from(&*self.0.record).serialize(s),
        }
    }
}

/// `ConnectionResponse`, borrowing a stored record.
#[derive(Serialize)]
pub(crate) struct Connection<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    attributes: Attributes<'a>,
    relationships: Relationships<'a>,
    meta: ConnectionMeta<'a>,
    links: SelfLink<'a>,
}

/// `ConnectionAttributes`.
#[derive(Serialize)]
struct Attributes<'a> {
    permissions: &'a [String],
    vehicle: Vehicle<'a>,
}

/// `ConnectionAttributes.vehicle`.
#[derive(Serialize)]
struct Vehicle<'a> {
    make: &'a str,
    model: &'a str,
    year: i64,
    #[serde(rename = "powertrainType")]
    powertrain_type: &'a str,
    mode: Mode,
}

/// `ConnectionResponse.relationships`.
#[derive(Serialize)]
struct Relationships<'a> {
    vehicle: Relationship<'a>,
    user: Relationship<'a>,
}

/// `VehicleRelationship` / `UserRelationship`.
#[derive(Serialize)]
struct Relationship<'a> {
    data: ResourceIdentifier<'a>,
    links: RelatedLink<'a>,
}

#[derive(Serialize)]
struct ResourceIdentifier<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
}

/// `RelatedLink`.
#[derive(Serialize)]
struct RelatedLink<'a> {
    related: Joined<'a>,
}

/// `SelfLink`.
#[derive(Serialize)]
struct SelfLink<'a> {
    #[serde(rename = "self")]
    self_link: Joined<'a>,
}

/// `MetaAttributes` (plus `lastUsedAt`, which the contract's example shows).
#[derive(Serialize)]
struct ConnectionMeta<'a> {
    #[serde(rename = "createdAt")]
    created_at: &'a str,
    #[serde(rename = "updatedAt")]
    updated_at: &'a str,
    #[serde(rename = "lastUsedAt", skip_serializing_if = "Option::is_none")]
    last_used_at: Option<&'a str>,
}

/// A path written straight into the output, so a page allocates no link strings.
struct Joined<'a>(&'static str, &'a str);

impl Serialize for Joined<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&format_args!("{}{}", self.0, self.1))
    }
}

impl Serialize for Mode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'a> From<&'a ConnectionRecord> for Connection<'a> {
    fn from(c: &'a ConnectionRecord) -> Self {
        let related = |kind, plural, id| Relationship {
            data: ResourceIdentifier { id, kind },
            links: RelatedLink {
                related: Joined(plural, id),
            },
        };
        Connection {
            id: &c.id,
            kind: "connection",
            attributes: Attributes {
                permissions: &c.permissions,
                vehicle: Vehicle {
                    make: &c.make,
                    model: &c.model,
                    year: c.year,
                    powertrain_type: &c.powertrain_type,
                    mode: c.mode,
                },
            },
            relationships: Relationships {
                vehicle: related("vehicle", "/vehicles/", &c.vehicle_id),
                user: related("user", "/users/", &c.user_id),
            },
            meta: ConnectionMeta {
                created_at: &c.created_at,
                updated_at: &c.updated_at,
                last_used_at: c.last_used_at.as_deref(),
            },
            links: SelfLink {
                self_link: Joined("/connections/", &c.id),
            },
        }
    }
}

/// `PagingMetaAttributes`.
#[derive(Serialize)]
pub(crate) struct PagingMeta {
    #[serde(rename = "pageNumber")]
    pub(crate) page_number: u64,
    #[serde(rename = "pageSize")]
    pub(crate) page_size: u64,
    #[serde(rename = "totalCount")]
    pub(crate) total_count: u64,
    #[serde(rename = "orderBy")]
    pub(crate) order_by: &'static str,
    #[serde(rename = "orderDirection")]
    pub(crate) order_direction: &'static str,
}

/// `PagingLinks`: all five keys always present, `prev`/`next` `null` at the ends.
#[derive(Serialize)]
pub(crate) struct PagingLinks {
    #[serde(rename = "self")]
    pub(crate) self_link: String,
    pub(crate) first: String,
    pub(crate) prev: Option<String>,
    pub(crate) next: Option<String>,
    pub(crate) last: String,
}

/// `ErrorResponse` with its one entry.
#[derive(Serialize)]
pub(crate) struct ErrorBody<'a> {
    errors: [ErrorEntry<'a>; 1],
}

/// An `errors[]` entry (the sandbox has no `suggestedUserMessage` to give).
#[derive(Serialize)]
struct ErrorEntry<'a> {
    /// The contract types it as a string.
    status: String,
    #[serde(rename = "type")]
    kind: ErrorType,
    code: &'a str,
    title: &'a str,
    detail: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    resolution: Option<Resolution>,
    links: ErrorLinks,
    meta: ErrorMeta<'a>,
}

#[derive(Serialize)]
struct Resolution {
    #[serde(rename = "type")]
    kind: ResolutionType,
}

#[derive(Serialize)]
struct ErrorLinks {
    about: &'static str,
}

#[derive(Serialize)]
struct ErrorMeta<'a> {
    debug: Debug<'a>,
}

/// `meta.debug`: the request id matches the `sc-request-id` header, as Smartcar's do.
#[derive(Serialize)]
struct Debug<'a> {
    #[serde(rename = "requestId")]
    request_id: &'a str,
}

/// The error `type`s the sandbox answers with (the contract lists more).
#[derive(Clone, Copy, Debug, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum ErrorType {
    Authentication,
    RateLimit,
    ResourceNotFound,
    Server,
    Upstream,
    Validation,
}

/// `links.about`: Smartcar's page for the error's type. The contract's examples give those of
/// `VALIDATION`, `AUTHENTICATION` (a 401 points at the `#authentication` section, a 403 at the
/// page), `RESOURCE_NOT_FOUND` and `SERVER`; `RATE_LIMIT` and `UPSTREAM` follow the same
/// pattern (`{type in kebab-case}-errors`).
fn about(kind: ErrorType, status: u16) -> &'static str {
    match (kind, status) {
        (ErrorType::Authentication, 401) => {
            "https://smartcar.com/docs/errors/api-errors/v3/authentication-errors#authentication"
        }
        (ErrorType::Authentication, _) => {
            "https://smartcar.com/docs/errors/api-errors/v3/authentication-errors"
        }
        (ErrorType::RateLimit, _) => {
            "https://smartcar.com/docs/errors/api-errors/v3/rate-limit-errors"
        }
        (ErrorType::ResourceNotFound, _) => {
            "https://smartcar.com/docs/errors/api-errors/v3/resource-not-found-errors"
        }
        (ErrorType::Server, _) => "https://smartcar.com/docs/errors/api-errors/v3/server-errors",
        (ErrorType::Upstream, _) => {
            "https://smartcar.com/docs/errors/api-errors/v3/upstream-errors"
        }
        (ErrorType::Validation, _) => {
            "https://smartcar.com/docs/errors/api-errors/v3/validation-errors"
        }
    }
}

/// `resolution.type` values the sandbox suggests.
#[derive(Clone, Copy, Debug, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum ResolutionType {
    Reauthenticate,
    RetryLater,
}

/// One error the sandbox answers with, before it gets its request id.
#[derive(Clone, Debug)]
pub(crate) struct Problem {
    pub(crate) status: u16,
    pub(crate) kind: ErrorType,
    pub(crate) code: &'static str,
    pub(crate) title: &'static str,
    pub(crate) detail: String,
    pub(crate) resolution: Option<ResolutionType>,
    /// Seconds for a `retry-after` header, when the answer should carry one (a 429 of the
    /// per-second limit always, of the bucket only when asked).
    pub(crate) retry_after: Option<u64>,
}

impl<'a> ErrorBody<'a> {
    pub(crate) fn new(problem: &'a Problem, request_id: &'a str) -> Self {
        ErrorBody {
            errors: [ErrorEntry {
                status: problem.status.to_string(),
                kind: problem.kind,
                code: problem.code,
                title: problem.title,
                detail: &problem.detail,
                resolution: problem.resolution.map(|kind| Resolution { kind }),
                links: ErrorLinks {
                    about: about(problem.kind, problem.status),
                },
                meta: ErrorMeta {
                    debug: Debug { request_id },
                },
            }],
        }
    }
}

/// A successful token answer (RFC 6749 §5.1, as Smartcar's `POST /oauth2/token` gives it).
#[derive(Serialize)]
pub(crate) struct TokenBody<'a> {
    pub(crate) access_token: &'a str,
    pub(crate) token_type: &'static str,
    /// Seconds the token stays valid.
    pub(crate) expires_in: u64,
}

/// A token endpoint error (RFC 6749 §5.2); not the v3 `errors[]` shape.
#[derive(Serialize)]
pub(crate) struct OAuthError<'a> {
    pub(crate) error: &'static str,
    pub(crate) error_description: &'a str,
}
