//! Following `links.next` safely: a state machine that says which request comes next.
//!
//! ```text
//!              new(base, request)
//!                     │
//!                     ▼
//!   ┌──────────► next_request() = Some(req) ──── transport sends req, decodes the page
//!   │                 │                          (transport or decode error: send req again,
//!   │                 ▼                           nothing here changed)
//!   │            feed(&page)
//!   │     ┌───────────┼─────────────────────┐
//!   │     ▼           ▼                     ▼
//!   └── More     Done (no next link)    Err(PaginationError)
//!                next_request() = None   state unchanged: the same page may be fetched
//!                                        again, or the listing abandoned
//! ```
//!
//! The next request is rebuilt from the link's `page[number]`/`page[size]` against the
//! configured base, keeping the caller's filters (see [`BaseUrl::resolve_page_link`] for which
//! links are accepted). Page numbers must strictly increase, so no page is fetched twice and
//! no cycle (A→B→A) can form; a page with the same items as the one before, or more pages than
//! the cap, is an error. Nothing here allocates.
//!
//! ```
//! # #[cfg(feature = "std")]
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use connections_core::{BaseUrl, ListConnections, Paginator, Progress, decode_page};
//!
//! let request = ListConnections::builder().user_id("u1").page_size(1).build()?;
//! let mut pages = Paginator::new(BaseUrl::SMARTCAR, request);
//! let bodies = [
//!     r#"{"data":[{"id":"c1"}],"links":{"self":"/connections?page[number]=1&page[size]=1",
//!        "first":"/connections?page[number]=1&page[size]=1",
//!        "next":"/connections?page[number]=2&page[size]=1",
//!        "last":"/connections?page[number]=2&page[size]=1"}}"#,
//!     r#"{"data":[{"id":"c2"}],"links":{"self":"/connections?page[number]=2&page[size]=1",
//!        "first":"/connections?page[number]=1&page[size]=1","next":null,
//!        "last":"/connections?page[number]=2&page[size]=1"}}"#,
//! ];
//! let mut ids = Vec::new();
//! for body in bodies {
//!     let request = pages.next_request().expect("a page is due");
//!     let mut url = String::new();
//!     BaseUrl::SMARTCAR.write_url(request, &mut url)?;
//!     // ... a transport would GET `url` here and read `body` ...
//!     let page = decode_page(body.as_bytes())?;
//!     ids.extend(page.connections().iter().filter_map(|c| c.id.clone()));
//!     pages.feed(&page)?;
//! }
//! assert_eq!(ids, ["c1", "c2"]);
//! assert!(pages.next_request().is_none());
//! # Ok(())
//! # }
//! # #[cfg(not(feature = "std"))]
//! # fn main() {}
//! ```

use core::fmt;
use core::num::NonZeroU32;
use core::ops::RangeInclusive;

use crate::request::builder::ListConnections;
use crate::request::url::{BaseUrl, LinkError};
use crate::response::model::Page;
use crate::response::storage::Storage;

/// Pages fetched at most by default: with 100 items a page, 100,000 connections.
pub const DEFAULT_MAX_PAGES: u32 = 1000;

/// Walks the pages of one listing.
#[derive(Clone, Debug)]
pub struct Paginator<'a> {
    base: BaseUrl<'a>,
    request: ListConnections<'a>,
    max_pages: NonZeroU32,
    fetched: u32,
    done: bool,
    /// Fingerprint of the previous page's item ids (when every item had one), with the
    /// total count that page reported.
    previous: Option<(u64, Option<i64>)>,
    /// The cap derived from the first `meta.totalCount` seen, which replaces `max_pages`.
    total_cap: Option<u32>,
    /// Page numbers known to remain, when the server's links and counts tell.
    plan: Option<RangeInclusive<u32>>,
}

/// What [`Paginator::feed`] decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    /// Another page is due: see [`Paginator::next_request`].
    More,
    /// The listing is complete.
    Done,
}

impl<'a> Paginator<'a> {
    /// Starts at `request`'s page (the first page when it sets none).
    pub fn new(base: BaseUrl<'a>, request: ListConnections<'a>) -> Self {
        Paginator {
            base,
            request,
            max_pages: NonZeroU32::new(DEFAULT_MAX_PAGES).unwrap_or(NonZeroU32::MIN),
            fetched: 0,
            done: false,
            previous: None,
            total_cap: None,
            plan: None,
        }
    }

    /// Caps the number of pages fetched when the server does not say how many there are
    /// (default [`DEFAULT_MAX_PAGES`]); a listing that needs more ends with
    /// [`PaginationError::TooManyPages`] before the extra request is made.
    ///
    /// Once a page reports `meta.totalCount`, the cap becomes the pages that total needs at
    /// the current page size plus a margin for data that grows during the listing (a tenth,
    /// and at least two pages): a listing of any size completes, and a server whose pages
    /// never end still stops ([`PaginationError::PastTotal`]).
    #[must_use]
    pub fn with_max_pages(mut self, max_pages: NonZeroU32) -> Self {
        self.max_pages = max_pages;
        self
    }

    /// Goes on from a listing that had fetched `pages` pages (a checkpoint's), so the page
    /// cap counts them too.
    #[must_use]
    #[cfg(feature = "alloc")]
    pub(crate) fn resumed(mut self, pages: u32) -> Self {
        self.fetched = pages;
        self
    }

    /// The request to send next, or `None` once the listing is complete.
    pub fn next_request(&self) -> Option<&ListConnections<'a>> {
        (!self.done).then_some(&self.request)
    }

    /// The base URL the requests go to.
    pub fn base(&self) -> &BaseUrl<'a> {
        &self.base
    }

    /// Pages fed so far.
    pub fn pages_fetched(&self) -> u32 {
        self.fetched
    }

    /// Page numbers still to fetch, starting with [`next_request`](Self::next_request)'s,
    /// when the server's links follow `page[number]` and `meta.totalCount` tells how many
    /// there are (bounded by the page cap). A transport may fetch them concurrently with
    /// [`request_for_page`](Self::request_for_page), then must [`feed`](Self::feed) them
    /// in order: `feed` stays the judge of every link.
    pub fn planned_pages(&self) -> Option<RangeInclusive<u32>> {
        self.plan.clone().filter(|_| !self.done)
    }

    /// The request for page `number`, with the current filters and page size.
    pub fn request_for_page(&self, number: NonZeroU32) -> ListConnections<'a> {
        self.request.with_page(number, None)
    }

    /// Takes the page answered to [`next_request`](Self::next_request) and decides what
    /// follows. On error nothing changes, so the same page can be fetched and fed again.
    pub fn feed<R: Storage>(&mut self, page: &Page<R>) -> Result<Progress, PaginationError> {
        if self.done {
            return Ok(Progress::Done);
        }
        let current = self.request.page_number().map_or(1, NonZeroU32::get);
        let total = page.meta.as_ref().and_then(|m| m.total_count);
        let fingerprint = fingerprint(page).map(|f| (f, total));
        // The same ids with the same total: the server ignored `page[number]`. With another
        // total the data moved under the listing, which the caller deals with by ids.
        if fingerprint.is_some() && fingerprint == self.previous {
            return Err(PaginationError::RepeatedPage { page: current });
        }
        let Some(link) = page.next_link() else {
            self.fetched = self.fetched.saturating_add(1);
            self.done = true;
            return Ok(Progress::Done);
        };
        let next = self
            .base
            .resolve_page_link(link)
            .map_err(PaginationError::Link)?;
        if next.number.get() <= current {
            return Err(PaginationError::NotAdvancing {
                from: current,
                to: next.number.get(),
            });
        }
        let served = served_size(page, next.size);
        let total_cap = self.total_cap.or_else(|| cap_from_total(page, served));
        let fetched = self.fetched.saturating_add(1);
        if let Some(cap) = total_cap {
            if fetched >= cap {
                let total = u64::try_from(total.unwrap_or(0)).unwrap_or(0);
                return Err(PaginationError::PastTotal { total, pages: cap });
            }
        } else if fetched >= self.max_pages.get() {
            return Err(PaginationError::TooManyPages {
                max: self.max_pages.get(),
            });
        }
        self.total_cap = total_cap;
        self.fetched = fetched;
        self.previous = fingerprint;
        self.request = self.request.with_page(next.number, next.size);
        self.plan = self.plan_after(page, served, current, next.number.get());
        Ok(Progress::More)
    }

    /// Remaining page numbers when `next` is `current + 1` and the total count is known.
    fn plan_after<R: Storage>(
        &self,
        page: &Page<R>,
        served: Option<NonZeroU32>,
        current: u32,
        next: u32,
    ) -> Option<RangeInclusive<u32>> {
        if Some(next) != current.checked_add(1) {
            return None;
        }
        let last = pages_for_total(page, served)?;
        let cap = self.total_cap.unwrap_or(self.max_pages.get());
        let allowed = cap.saturating_sub(self.fetched);
        let last = last.min(current.saturating_add(allowed));
        (last >= next).then_some(next..=last)
    }
}

/// The page size the server served, which may be less than asked: `meta.pageSize`, or else
/// the length of this page (which has a `next` link, so it is full), or else the size the
/// `next` link names.
pub(crate) fn served_size<R: Storage>(
    page: &Page<R>,
    link_size: Option<NonZeroU32>,
) -> Option<NonZeroU32> {
    let declared = page
        .meta
        .as_ref()
        .and_then(|m| m.page_size)
        .and_then(|size| u32::try_from(size).ok())
        .and_then(NonZeroU32::new);
    let counted = u32::try_from(page.connections().len())
        .ok()
        .and_then(NonZeroU32::new);
    declared.or(counted).or(link_size)
}

/// The most pages a listing may take: the pages `meta.totalCount` needs at the served size
/// from the first page on, plus a tenth and at least two for data added meanwhile.
fn cap_from_total<R: Storage>(page: &Page<R>, served: Option<NonZeroU32>) -> Option<u32> {
    let pages = u64::from(pages_for_total(page, served)?);
    let cap = pages.saturating_add((pages / 10).max(2));
    Some(u32::try_from(cap).unwrap_or(u32::MAX))
}

/// How many pages `meta.totalCount` fills at the served page size.
fn pages_for_total<R: Storage>(page: &Page<R>, served: Option<NonZeroU32>) -> Option<u32> {
    let total = u64::try_from(page.meta.as_ref()?.total_count?).ok()?;
    let size = u64::from(served?.get());
    Some(u32::try_from(total.div_ceil(size)).unwrap_or(u32::MAX))
}

/// FNV-1a over the ids of a page's items, to spot a server repeating a page; `None` when
/// the page is empty or an item has no id, since items without ids cannot be told apart.
fn fingerprint<R: Storage>(page: &Page<R>) -> Option<u64> {
    let items = page.connections();
    if items.is_empty() {
        return None;
    }
    let mut hash = 0xcbf2_9ce4_8422_2325_u64;
    for c in items {
        let id: &str = c.id.as_ref()?.as_ref();
        for byte in id.bytes().chain([0xff]) {
            hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    Some(hash)
}

/// Why a listing cannot go on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PaginationError {
    /// `links.next` was refused before any request was made.
    Link(LinkError),
    /// `links.next` pointed back to a page already fetched (or behind it).
    NotAdvancing {
        /// The page just fetched.
        from: u32,
        /// The page the link named.
        to: u32,
    },
    /// The page held exactly the items of the page before it.
    RepeatedPage {
        /// The page that repeated.
        page: u32,
    },
    /// More pages than the cap, in a listing whose size the server did not tell.
    TooManyPages {
        /// The cap.
        max: u32,
    },
    /// More pages than the server's `meta.totalCount` accounts for, even with a margin.
    PastTotal {
        /// The total the server reported on the last page.
        total: u64,
        /// The pages that total allowed, margin included.
        pages: u32,
    },
}

impl PaginationError {
    /// Whether the page that was fed along with this error still belongs to the listing:
    /// every such page does (its `next` link was the problem), except a page that repeated
    /// the previous one, whose items were already handed over.
    pub fn page_is_new(&self) -> bool {
        !matches!(self, PaginationError::RepeatedPage { .. })
    }
}

impl fmt::Display for PaginationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PaginationError::Link(e) => e.fmt(f),
            PaginationError::NotAdvancing { from, to } => write!(
                f,
                "pagination stopped: page {from} links to page {to} as next, which would \
                 revisit pages; the server's links loop, so report the response to its owner"
            ),
            PaginationError::RepeatedPage { page } => write!(
                f,
                "pagination stopped: page {page} repeats the items of the page before it; the \
                 server seems to ignore page[number]"
            ),
            PaginationError::TooManyPages { max } => write!(
                f,
                "pagination stopped at the cap of {max} pages; raise the cap or use larger \
                 pages (page[size]) if the listing really is this long"
            ),
            PaginationError::PastTotal { total, pages } => write!(
                f,
                "pagination stopped after {pages} pages: the server reported {total} \
                 connections, yet its pages go on; report the response to its owner"
            ),
        }
    }
}

impl core::error::Error for PaginationError {}
