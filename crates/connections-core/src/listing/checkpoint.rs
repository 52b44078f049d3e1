//! Resuming a listing where it stopped, and listing only what is new.
//!
//! Under Smartcar's rate bucket a large listing runs for hours. After each page it yields, a
//! [`Listing`](crate::Listing) gives a [`Checkpoint`]: where to go on (the next page, at the
//! size the server served), the ids of the last pages (to leave out repeats), the last
//! `totalCount`, the [`CreatedAfter`] cutoff and the newest `createdAt` seen, and the pace
//! learned from the server's 429s. It holds no token and no credentials, and serialises to
//! stable JSON with serde (a `version` field says its format). [`Listing::resume`] goes on
//! from one, after checking that it belongs to the same listing: the same base URL, filters,
//! page size and cutoff, or a [`ResumeError`] names what differs.
//!
//! [`Listing::resume`]: crate::Listing::resume

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;
use core::time::Duration;

use serde::{Deserialize, Serialize};

use crate::request::builder::ListConnections;
use crate::request::url::BaseUrl;
use crate::response::model::{InvalidTimestamp, Timestamp};

/// The format of [`Checkpoint`]s this version writes and reads.
pub const CHECKPOINT_VERSION: u32 = 1;

/// Only connections created at or after this instant: `--created-after`.
///
/// **Inclusive**, on purpose: several connections can share a second, and one created in
/// the same second as the newest a sync saw may not have existed yet when it listed. A sync
/// loop that passes the newest `createdAt` it saw as the next cutoff lists that connection
/// again (leave it out by id) rather than missing the ones created beside it.
///
/// `Copy`, so [`ListingOptions`](crate::ListingOptions) stays `Copy`: the text is kept in a
/// small array (RFC 3339 date-times are at most a few dozen bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CreatedAfter {
    text: [u8; CreatedAfter::MAX_LEN],
    len: u8,
    nanos: i128,
}

impl CreatedAfter {
    /// The longest text accepted.
    pub const MAX_LEN: usize = 64;

    /// An RFC 3339 date-time, e.g. `2026-12-06T00:00:00Z`, of at most
    /// [`MAX_LEN`](Self::MAX_LEN) bytes.
    pub fn parse(text: &str) -> Result<Self, InvalidTimestamp> {
        let nanos = Timestamp(text).unix_nanos()?;
        let mut bytes = [0; Self::MAX_LEN];
        let len = u8::try_from(text.len())
            .ok()
            .filter(|&len| usize::from(len) <= Self::MAX_LEN)
            .ok_or_else(InvalidTimestamp::new)?;
        bytes[..text.len()].copy_from_slice(text.as_bytes());
        Ok(CreatedAfter {
            text: bytes,
            len,
            nanos,
        })
    }

    /// The cutoff as given.
    pub fn as_str(&self) -> &str {
        // The bytes were copied from a `&str` whole: always valid UTF-8.
        core::str::from_utf8(&self.text[..usize::from(self.len)]).unwrap_or_default()
    }

    /// Whether a connection created at `created_at` is listed: at or after the cutoff, or
    /// when its time is missing or unreadable (it cannot be told apart, so it is kept).
    pub fn keeps(&self, created_at: Option<&Timestamp<impl AsRef<str>>>) -> bool {
        created_at
            .and_then(|t| t.unix_nanos().ok())
            .is_none_or(|nanos| nanos >= self.nanos)
    }
}

/// Where a listing stopped, and what it needs to go on from there; see the
/// [module docs](self).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Checkpoint {
    version: u32,
    base_url: String,
    filters: Filters,
    /// The `page[size]` the listing asked for.
    page_size: Option<u32>,
    /// The page to fetch next; `None` once the listing is complete.
    next_page: Option<u32>,
    /// The size the server served, which the next page is asked for at.
    served_page_size: Option<u32>,
    /// Pages fetched so far, for the page cap.
    pages_fetched: u32,
    total_count: Option<i64>,
    /// The ids of the last pages yielded, oldest first.
    recent_ids: Vec<Vec<String>>,
    created_after: Option<String>,
    newest_created_at: Option<String>,
    /// The server's refill interval as learned from its 429s, in milliseconds.
    pace_interval_ms: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Filters {
    user_id: Option<String>,
    vehicle_id: Option<String>,
    mode: Option<String>,
}

/// What a listing is, for a checkpoint to be matched against.
fn identity(base: &BaseUrl<'_>, request: &ListConnections<'_>) -> (String, Filters) {
    let mut url = String::new();
    // Writing to a String cannot fail.
    let _ = base.write_origin(&mut url);
    url.push_str(base.prefix());
    let filters = Filters {
        user_id: request.user_id().map(String::from),
        vehicle_id: request.vehicle_id().map(String::from),
        mode: request.mode().map(|m| m.as_str().to_string()),
    };
    (url, filters)
}

/// The state a listing saves, as the engine hands it over.
pub(crate) struct Saved<'a> {
    pub(crate) base: &'a BaseUrl<'static>,
    /// The listing's first request: its filters and the size it asked for.
    pub(crate) request: &'a ListConnections<'static>,
    pub(crate) next: Option<&'a ListConnections<'static>>,
    pub(crate) pages_fetched: u32,
    pub(crate) total_count: Option<i64>,
    pub(crate) recent_ids: Vec<Vec<String>>,
    pub(crate) created_after: Option<&'a CreatedAfter>,
    pub(crate) newest_created_at: Option<&'a str>,
    pub(crate) pace_interval: Option<Duration>,
}

impl Checkpoint {
    pub(crate) fn save(saved: Saved<'_>) -> Self {
        let (base_url, filters) = identity(saved.base, saved.request);
        Checkpoint {
            version: CHECKPOINT_VERSION,
            base_url,
            filters,
            page_size: saved.request.page_size().map(|s| s.get()),
            next_page: saved.next.map(|r| r.page_number().map_or(1, |n| n.get())),
            served_page_size: saved.next.and_then(|r| r.page_size()).map(|s| s.get()),
            pages_fetched: saved.pages_fetched,
            total_count: saved.total_count,
            recent_ids: saved.recent_ids,
            created_after: saved.created_after.map(|c| c.as_str().to_string()),
            newest_created_at: saved.newest_created_at.map(String::from),
            pace_interval_ms: saved
                .pace_interval
                .map(|i| u64::try_from(i.as_millis()).unwrap_or(u64::MAX)),
        }
    }

    /// The format version it was written in.
    pub fn version(&self) -> u32 {
        self.version
    }

    /// The page the listing goes on from, or `None` if it was complete.
    pub fn next_page(&self) -> Option<u32> {
        self.next_page
    }

    /// Whether the listing had yielded its last page.
    pub fn is_complete(&self) -> bool {
        self.next_page.is_none()
    }

    /// The page size the server served.
    pub fn served_page_size(&self) -> Option<u32> {
        self.served_page_size
    }

    /// The last `meta.totalCount` seen.
    pub fn total_count(&self) -> Option<i64> {
        self.total_count
    }

    /// The newest `createdAt` of the connections yielded, as the server wrote it: the
    /// cutoff to pass to the next incremental listing.
    pub fn newest_created_at(&self) -> Option<&str> {
        self.newest_created_at.as_deref()
    }

    /// The `created_after` cutoff of the listing.
    pub fn created_after(&self) -> Option<&str> {
        self.created_after.as_deref()
    }

    /// The server's refill interval as the listing learned it.
    pub fn pace_interval(&self) -> Option<Duration> {
        self.pace_interval_ms.map(Duration::from_millis)
    }

    pub(crate) fn pages_fetched(&self) -> u32 {
        self.pages_fetched
    }

    pub(crate) fn recent_ids(&self) -> &[Vec<String>] {
        &self.recent_ids
    }

    /// Checks that the checkpoint belongs to the listing of `request` from `base` with the
    /// cutoff `created_after`.
    pub fn check(
        &self,
        base: &BaseUrl<'_>,
        request: &ListConnections<'_>,
        created_after: Option<&CreatedAfter>,
    ) -> Result<(), ResumeError> {
        if self.version != CHECKPOINT_VERSION {
            return Err(ResumeError::Version {
                found: self.version,
            });
        }
        if self.next_page == Some(0) || self.served_page_size == Some(0) {
            return Err(ResumeError::Invalid);
        }
        let (base_url, filters) = identity(base, request);
        let differs = |what: Setting, saved: &Option<String>, given: Option<String>| {
            (*saved != given).then(|| ResumeError::Mismatch {
                what,
                checkpoint: saved.clone(),
                listing: given,
            })
        };
        let page_size = |size: Option<u32>| size.map(|s| s.to_string());
        let mismatch = differs(
            Setting::BaseUrl,
            &Some(self.base_url.clone()),
            Some(base_url),
        )
        .or_else(|| differs(Setting::UserId, &self.filters.user_id, filters.user_id))
        .or_else(|| {
            differs(
                Setting::VehicleId,
                &self.filters.vehicle_id,
                filters.vehicle_id,
            )
        })
        .or_else(|| differs(Setting::Mode, &self.filters.mode, filters.mode))
        .or_else(|| {
            differs(
                Setting::PageSize,
                &page_size(self.page_size),
                page_size(request.page_size().map(|s| s.get())),
            )
        })
        .or_else(|| {
            differs(
                Setting::CreatedAfter,
                &self.created_after,
                created_after.map(|c| c.as_str().to_string()),
            )
        });
        mismatch.map_or(Ok(()), Err)
    }
}

/// A setting a checkpoint must share with the listing that resumes from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Setting {
    /// The API base URL.
    BaseUrl,
    /// `filter[userId]`.
    UserId,
    /// `filter[vehicleId]`.
    VehicleId,
    /// `filter[vehicle.mode]`.
    Mode,
    /// `page[size]` as asked.
    PageSize,
    /// The `created_after` cutoff.
    CreatedAfter,
}

impl Setting {
    /// The setting as the API or the listing names it.
    pub const fn name(self) -> &'static str {
        match self {
            Setting::BaseUrl => "base URL",
            Setting::UserId => "filter[userId]",
            Setting::VehicleId => "filter[vehicleId]",
            Setting::Mode => "filter[vehicle.mode]",
            Setting::PageSize => "page[size]",
            Setting::CreatedAfter => "created-after cutoff",
        }
    }
}

/// Why a listing cannot resume from a checkpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResumeError {
    /// Written in a format this version does not read.
    Version {
        /// The checkpoint's version.
        found: u32,
    },
    /// The checkpoint belongs to another listing.
    Mismatch {
        /// What differs.
        what: Setting,
        /// The checkpoint's value (`None`: not set).
        checkpoint: Option<String>,
        /// The listing's value.
        listing: Option<String>,
    },
    /// The checkpoint's values are impossible (a page number or size of zero): it was not
    /// written by a listing.
    Invalid,
}

impl fmt::Display for ResumeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = |v: &Option<String>| match v {
            Some(v) => alloc::format!("{v:?}"),
            None => String::from("none"),
        };
        match self {
            ResumeError::Version { found } => write!(
                f,
                "the checkpoint is in format version {found}, this version reads \
                 {CHECKPOINT_VERSION}; start the listing again without it"
            ),
            ResumeError::Mismatch {
                what,
                checkpoint,
                listing,
            } => write!(
                f,
                "the checkpoint is for another listing: its {} is {}, this listing's is {}; \
                 resume with the same settings, or start again without the checkpoint",
                what.name(),
                shown(checkpoint),
                shown(listing)
            ),
            ResumeError::Invalid => f.write_str(
                "the checkpoint holds impossible values (a page number or size of zero); \
                 start the listing again without it",
            ),
        }
    }
}

impl core::error::Error for ResumeError {}
