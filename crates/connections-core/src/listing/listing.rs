//! The listing engine: one state machine that drives a whole listing, so every transport
//! follows the same rules for retries, rate limits, concurrency, pagination and duplicates.
//!
//! Like quinn-proto's `Connection`, [`Listing`] does no I/O and reads no clock. Its methods
//! come in three kinds:
//! - **what happened**: [`handle_response`](Listing::handle_response) and
//!   [`handle_failure`](Listing::handle_failure), each with the [`Now`] it happened;
//! - **what to do next**: [`poll`](Listing::poll), which returns one [`Action`];
//! - **getters**: [`base`](Listing::base), [`is_finished`](Listing::is_finished).
//!
//! A transport is a loop around `poll`:
//!
//! ```text
//!            ┌───────────────────────── poll(now) ──────────────────────────┐
//!            ▼                 ▼                 ▼              ▼           ▼
//!   Send { id, request }   Yield(page)      Notice(..)    Wait(until)   Done | Failed(e)
//!   send it (any number    hand it to the   log it        sleep until    stop; poll says
//!   may be in flight),     consumer, in                   `until` or     Done from then on
//!   then handle_response   page order                     a response
//!   or handle_failure
//! ```
//!
//! What the machine decides, once for every transport:
//! - **Retries**: each request is retried as the [`RetryPolicy`] says, waiting its backoff
//!   or the server's `Retry-After` (a `Wait`, never a sleep inside the machine).
//! - **Rate limits and pace**: a 429 spends no attempt; it pauses every request of the
//!   listing until its wait has passed, then one request probes alone. The listing's
//!   [`Pacer`] learns the server's refill pace from its 429s and spaces requests at it, keeps
//!   to a [`Budget`](crate::Budget) if one is set, and the total time held by the server's
//!   rate limit is bounded ([`ListingOptions::with_max_rate_limit_wait`]). Listings of one
//!   client share a pacer through [`PacerCell`] ([`Listing::with_pacer`]).
//! - **Page sizes**: the page cap and the concurrent plan follow the size the server served
//!   (`meta.pageSize`, else a full page's length, else the `next` link), not the size asked.
//! - **Concurrency**: once a page tells how many remain (links that follow `page[number]`
//!   and a `meta.totalCount`), up to [`ListingOptions::with_concurrency`] pages are in
//!   flight or waiting to be yielded. Pages are still yielded in order, so read-ahead is
//!   bounded by that many pages whatever the consumer does.
//! - **Pagination**: the [`Paginator`] judges every link (same origin, always forward,
//!   capped); a page whose `next` link is refused is yielded before the error.
//! - **Duplicates**: a connection whose id was yielded in the last [`RECENT_PAGES`] pages is
//!   left out, and a [`Notice`] says so. Page-number paging repeats items when connections
//!   are created during a listing, and skips some when they are deleted; a change of
//!   `meta.totalCount` between pages is reported as a [`Notice::TotalChanged`].
//! - **The end**: after `Done` or `Failed`, nothing is ever sent again and responses still
//!   in flight are ignored.
//!
//! Time is a [`Now`]: a monotonic reading chosen by the transport (e.g. the time since the
//! listing began) and the wall clock, used only for `Retry-After` dates. Randomness for
//! backoff jitter comes from the seed given to [`Listing::new`].
//!
//! ```
//! use connections_core::{
//!     Action, BaseUrl, ListConnections, Listing, ListingOptions, Now, Response, UnixTime,
//! };
//! # use core::time::Duration;
//!
//! let request = ListConnections::builder().build()?;
//! let mut listing: Listing<std::io::Error> =
//!     Listing::new(BaseUrl::SMARTCAR, &request, ListingOptions::new(), 7);
//! let now = Now::new(Duration::ZERO, UnixTime(1_700_000_000));
//!
//! // The first action is the first page, asked for 100 at a time.
//! let Action::Send(send) = listing.poll(now) else { panic!("a request is due") };
//! assert_eq!(send.request.page_size().map(|n| n.get()), Some(100));
//!
//! // Nothing else is due until it is answered.
//! assert!(matches!(listing.poll(now), Action::Wait(None)));
//! let body = br#"{"data":[{"id":"c1"}],"links":{"next":null}}"#;
//! listing.handle_response(send.id, &Response::new(200, body), now);
//!
//! let Action::Yield(page) = listing.poll(now) else { panic!("the page is ready") };
//! assert_eq!(page.value.connections()[0].id.as_deref(), Some("c1"));
//! assert!(matches!(listing.poll(now), Action::Done));
//! # Ok::<(), connections_core::InvalidRequest>(())
//! ```

use alloc::boxed::Box;
use alloc::collections::{BTreeMap, BTreeSet, VecDeque};
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::num::NonZeroU32;
use core::time::Duration;

use super::checkpoint::{Checkpoint, CreatedAfter, ResumeError, Saved};
use super::pace::{Hold, Pacer};
use super::paginate::{DEFAULT_MAX_PAGES, PaginationError, Paginator, Progress};
use super::retry::{Decision, RetryPolicy};
use crate::request::builder::ListConnections;
use crate::request::url::BaseUrl;
use crate::response::failure::Failure;
use crate::response::model::Page;
use crate::response::outcome::{Response, ResponseError};
use crate::response::retry_after::UnixTime;
use crate::response::storage::Owned;

/// The `page[size]` a listing asks for when the caller sets none: the server's default of
/// 10 would take ten times the requests, and requests are what the rate limit counts.
pub const DEFAULT_PAGE_SIZE: NonZeroU32 = NonZeroU32::new(100).expect("100 is not zero");

/// The most pages one listing keeps in flight or waiting to be yielded.
pub const MAX_CONCURRENCY: u32 = 64;

/// How many of the latest pages' ids are remembered to leave out repeated connections: with
/// 100 connections a page, 400 ids. A connection that moves back further than that between
/// two pages (more than three pages of insertions) can be yielded again.
pub const RECENT_PAGES: usize = 4;

/// A reading of the caller's clocks; the machine never reads one itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Now {
    /// Monotonic time since an origin the caller picks and keeps (e.g. when the listing
    /// began); every [`Action::Wait`] is on this scale.
    pub elapsed: Duration,
    /// The wall clock, only to turn a `Retry-After` date into a wait.
    pub unix: UnixTime,
}

impl Now {
    /// A reading of both clocks.
    pub const fn new(elapsed: Duration, unix: UnixTime) -> Self {
        Now { elapsed, unix }
    }
}

/// Names one request the machine asked for, so its answer can be matched to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(u64);

/// The default bound on the time a listing spends waiting for the server's rate limit: at
/// Smartcar's pace (120 requests, then one every 30 s), a listing of [`DEFAULT_MAX_PAGES`]
/// pages takes about 7.3 hours, so 12 hours lets it finish and still stops one that never
/// will.
pub const DEFAULT_MAX_RATE_LIMIT_WAIT: Duration = Duration::from_secs(12 * 3600);

/// How a listing behaves: retries, the page cap, concurrency and the rate-limit wait.
///
/// Defaults ([`ListingOptions::new`]): [`RetryPolicy::new`], a cap of
/// [`DEFAULT_MAX_PAGES`] for listings that do not report their size, one page at a time, and
/// at most [`DEFAULT_MAX_RATE_LIMIT_WAIT`] of waiting for the rate limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ListingOptions {
    retry_policy: RetryPolicy,
    max_pages: NonZeroU32,
    concurrency: NonZeroU32,
    max_rate_limit_wait: Duration,
    created_after: Option<CreatedAfter>,
}

impl Default for ListingOptions {
    fn default() -> Self {
        Self::new()
    }
}

impl ListingOptions {
    /// The defaults.
    pub const fn new() -> Self {
        ListingOptions {
            retry_policy: RetryPolicy::new(),
            max_pages: NonZeroU32::new(DEFAULT_MAX_PAGES).expect("the default cap is not zero"),
            concurrency: NonZeroU32::MIN,
            max_rate_limit_wait: DEFAULT_MAX_RATE_LIMIT_WAIT,
            created_after: None,
        }
    }

    /// Yields only connections created at or after `cutoff` (inclusive: see
    /// [`CreatedAfter`]). While every page declares `orderBy=createdAt` and
    /// `orderDirection=DESC` (newest first, as Smartcar lists), the listing stops after the
    /// first page that holds an older connection; if a page declares no order or another,
    /// it reads every page and filters, and says so once ([`Notice::Unordered`]).
    pub const fn with_created_after(mut self, cutoff: Option<CreatedAfter>) -> Self {
        self.created_after = cutoff;
        self
    }

    /// The `created_after` cutoff.
    pub const fn created_after(&self) -> Option<CreatedAfter> {
        self.created_after
    }

    /// The longest total time the listing may spend held by the server's rate limit (its
    /// 429 pauses and the pace learned from them; not a [`Budget`](crate::Budget) you set).
    /// A listing that would wait longer fails with [`ListingError::RateLimitWait`] instead.
    pub const fn with_max_rate_limit_wait(mut self, wait: Duration) -> Self {
        self.max_rate_limit_wait = wait;
        self
    }

    /// The longest total rate-limit wait.
    pub const fn max_rate_limit_wait(&self) -> Duration {
        self.max_rate_limit_wait
    }

    /// When to retry a request, and how long to wait first.
    pub const fn with_retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry_policy = policy;
        self
    }

    /// The page cap for listings whose size the server does not report (see
    /// [`Paginator::with_max_pages`]).
    pub const fn with_max_pages(mut self, max_pages: NonZeroU32) -> Self {
        self.max_pages = max_pages;
        self
    }

    /// Pages in flight or waiting to be yielded at once, at most [`MAX_CONCURRENCY`].
    pub const fn with_concurrency(mut self, pages: NonZeroU32) -> Self {
        self.concurrency = if pages.get() > MAX_CONCURRENCY {
            NonZeroU32::new(MAX_CONCURRENCY).expect("the maximum is not zero")
        } else {
            pages
        };
        self
    }

    /// The retry policy.
    pub const fn retry_policy(&self) -> RetryPolicy {
        self.retry_policy
    }

    /// The page cap for listings of unknown size.
    pub const fn max_pages(&self) -> NonZeroU32 {
        self.max_pages
    }

    /// Pages in flight or waiting to be yielded at once.
    pub const fn concurrency(&self) -> NonZeroU32 {
        self.concurrency
    }
}

/// A value with what the response said about itself: the HTTP status and Smartcar's
/// `sc-request-id`, which support asks for when something looks wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Listed<T> {
    /// The decoded value.
    pub value: T,
    /// The HTTP status of the response it came from.
    pub status: u16,
    /// The `sc-request-id` header, when sent.
    pub request_id: Option<String>,
    /// Where the listing stands after this page: save it to resume from here with
    /// [`Listing::resume`]. `None` for a single page.
    pub checkpoint: Option<Box<Checkpoint>>,
}

/// A listed value reads as the value, so `listed.data` is the page's connections.
impl<T> core::ops::Deref for Listed<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.value
    }
}

/// A request to send: build it against [`Listing::base`] with the token, send it, and hand
/// the outcome back with the same `id`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SendRequest {
    /// Names the request in [`Listing::handle_response`] and [`Listing::handle_failure`].
    pub id: RequestId,
    /// What to ask for.
    pub request: ListConnections<'static>,
    /// Which attempt at this page it is, from 1.
    pub attempt: u32,
}

impl SendRequest {
    /// The page number asked for.
    pub fn page(&self) -> u32 {
        page_of(&self.request)
    }
}

/// What the transport should do next; see [`Listing::poll`].
#[derive(Debug)]
#[must_use]
pub enum Action<E> {
    /// Send a request. More may follow before any answer: a concurrent listing has several
    /// in flight.
    Send(SendRequest),
    /// Hand this page to the consumer; pages come in order, each connection at most once.
    Yield(Listed<Page<Owned>>),
    /// Something worth telling the user; nothing to do.
    Notice(Notice),
    /// Nothing to do until a response or failure arrives, or until this instant (on the
    /// [`Now::elapsed`] scale) if given, whichever is first; then poll again. `Wait(None)`
    /// comes only while a request it needs is in flight: a listing with nothing left to wait
    /// for is [`Done`](Self::Done).
    Wait(Option<Duration>),
    /// The listing is complete.
    Done,
    /// The listing stopped; this is returned once, then `Done`.
    Failed(ListingError<E>),
}

/// Events worth telling the user about, in the order they happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Notice {
    /// A request failed and will be sent again after `wait`.
    Retrying {
        /// The page asked for.
        page: u32,
        /// The attempt that failed, from 1.
        attempt: u32,
        /// How long until it is sent again.
        wait: Duration,
        /// The HTTP status that failed, or `None` for a transport failure.
        status: Option<u16>,
    },
    /// `meta.totalCount` changed between two pages: connections were created or deleted
    /// during the listing, so page-number paging may have skipped some.
    TotalChanged {
        /// The page that reported the new total.
        page: u32,
        /// The total before.
        before: i64,
        /// The total now.
        after: i64,
        /// Whether this is the first sign in this listing that the data moved: worth a
        /// warning; later ones are details (a summary comes at the end).
        first: bool,
    },
    /// Connections already yielded came again (the data moved) and were left out.
    Repeated {
        /// The page they were on.
        page: u32,
        /// How many were left out.
        skipped: usize,
        /// Whether this is the first sign in this listing that the data moved.
        first: bool,
    },
    /// The listing completed after its data moved: how often, in all.
    Moved {
        /// How many times `meta.totalCount` changed between pages.
        total_changes: u32,
        /// How many repeated connections were left out.
        repeated: u64,
    },
    /// A page of a `created_after` listing declared no newest-first order (`orderBy`
    /// `createdAt`, `orderDirection` `DESC`): every page is read and filtered, which is
    /// correct but not fast. Said once.
    Unordered {
        /// The page.
        page: u32,
    },
    /// The next request waits for the pace: the one learned from the server's 429s, or the
    /// budget you set. Not a failure; said once each time a wait begins.
    Paced {
        /// The page that waits.
        page: u32,
        /// How long until it is sent.
        wait: Duration,
        /// What holds it: [`Hold::Pace`] or [`Hold::Budget`].
        hold: Hold,
    },
    /// The server's refill pace was learned, or changed: requests are now spaced this far
    /// apart.
    PaceLearned {
        /// One request per this interval.
        interval: Duration,
    },
}

impl fmt::Display for Notice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Notice::Retrying {
                page,
                attempt,
                wait,
                status,
            } => {
                match status {
                    Some(429) => write!(f, "page {page}: rate limited (429)")?,
                    Some(status) => write!(f, "page {page}: HTTP {status}")?,
                    None => write!(f, "page {page}: the request failed")?,
                }
                write!(f, " on attempt {attempt}, waiting {}", Seconds(wait))
            }
            Notice::TotalChanged {
                page,
                before,
                after,
                ..
            } => write!(
                f,
                "the total changed from {before} to {after} connections at page {page}: \
                 connections were created or deleted during the listing, so it may have \
                 skipped or repeated some; list again for a consistent view"
            ),
            Notice::Paced { page, wait, hold } => {
                let by = match hold {
                    Hold::Budget => "the request budget",
                    _ => "the server's rate limit",
                };
                write!(
                    f,
                    "page {page}: paced by {by}, next request in {}",
                    Seconds(wait)
                )
            }
            Notice::PaceLearned { interval } => write!(
                f,
                "learned the server's pace from its 429s: one request every {}",
                Seconds(interval)
            ),
            Notice::Repeated { page, skipped, .. } => write!(
                f,
                "page {page}: left out {skipped} connection(s) already listed; the data moved \
                 during the listing, so it may have skipped some others; list again for a \
                 consistent view"
            ),
            Notice::Moved {
                total_changes,
                repeated,
            } => write!(
                f,
                "the data moved during the listing: the total changed {total_changes} time(s) \
                 and {repeated} repeated connection(s) were left out, so it may have skipped \
                 some; list again for a consistent view"
            ),
            Notice::Unordered { page } => write!(
                f,
                "page {page} does not say it is sorted newest first (orderBy createdAt, \
                 orderDirection DESC), so the created-after listing reads every page and \
                 filters: correct, but not as fast"
            ),
        }
    }
}

/// A wait in the unit people read: "12 s", "250 ms".
struct Seconds(Duration);

impl fmt::Display for Seconds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0.as_secs();
        if self.0 < Duration::from_secs(1) {
            write!(f, "{} ms", self.0.as_millis())
        } else if secs < 60 {
            write!(f, "{:.1} s", self.0.as_secs_f64())
        } else if secs < 3600 {
            write!(f, "{} min {} s", secs / 60, secs % 60)
        } else {
            write!(f, "{} h {} min", secs / 3600, secs % 3600 / 60)
        }
    }
}

/// Why a listing stopped; `E` is the transport's own error.
#[derive(Debug)]
#[non_exhaustive]
pub enum ListingError<E> {
    /// The transport failed (after any retries).
    Transport(E),
    /// The response was an API error (after any retries), a redirect, not JSON, or not a
    /// valid page.
    Response(ResponseError<Owned>),
    /// A `next` link could not be followed; no request was made to it.
    Pagination(PaginationError),
    /// The server's rate limit would hold the listing longer than
    /// [`ListingOptions::max_rate_limit_wait`] in all.
    RateLimitWait {
        /// How long the listing has waited for the rate limit so far.
        waited: Duration,
        /// How much longer the next request would wait.
        more: Duration,
        /// The bound.
        max: Duration,
    },
}

impl<E: fmt::Display> fmt::Display for ListingError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ListingError::Transport(e) => e.fmt(f),
            ListingError::Response(e) => e.fmt(f),
            ListingError::Pagination(e) => e.fmt(f),
            ListingError::RateLimitWait { waited, more, max } => write!(
                f,
                "the listing waited {} for the API's rate limit, and the next request would \
                 wait {} more, past the limit of {}; raise the limit (--max-wait, or \
                 ListingOptions::with_max_rate_limit_wait) or list again later",
                Seconds(*waited),
                Seconds(*more),
                Seconds(*max)
            ),
        }
    }
}

impl<E: core::error::Error + 'static> core::error::Error for ListingError<E> {
    /// The wrapped error's own cause: its text is already this error's text.
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            ListingError::Transport(e) => e.source(),
            ListingError::Response(e) => e.source(),
            ListingError::Pagination(e) => e.source(),
            ListingError::RateLimitWait { .. } => None,
        }
    }
}

/// One page's request, from first attempt to the moment it is yielded.
#[derive(Debug)]
struct Fetch<E> {
    request: ListConnections<'static>,
    attempts: u32,
    state: FetchState<E>,
}

#[derive(Debug)]
enum FetchState<E> {
    /// To be sent at or after this instant.
    Due(Duration),
    InFlight {
        id: RequestId,
        sent_at: Duration,
    },
    Arrived(Listed<Page<Owned>>),
    /// Failed for good; reported when its turn comes.
    Failed(ListingError<E>),
}

/// Where a listing keeps its [`Pacer`]: its own (the default), or one that every listing
/// of a client shares, behind the client's lock, so that they all keep to one budget and one
/// learned pace.
pub trait PacerCell {
    /// Runs `f` on the pacer.
    fn with<R>(&mut self, f: impl FnOnce(&mut Pacer) -> R) -> R;
}

impl PacerCell for Pacer {
    fn with<R>(&mut self, f: impl FnOnce(&mut Pacer) -> R) -> R {
        f(self)
    }
}

/// Drives one listing; see the [module docs](self).
#[derive(Debug)]
pub struct Listing<E, P = Pacer> {
    paginator: Paginator<'static>,
    pacer: P,
    options: ListingOptions,
    /// One page only: links are not followed.
    single: bool,
    rng: u64,
    next_id: u64,
    /// In page order; the front answers the paginator's next request.
    fetches: VecDeque<Fetch<E>>,
    /// Since when a due request has been held by the server's rate limit, if it is now.
    held_since: Option<Duration>,
    /// Time spent held by the server's rate limit, holds that ended.
    rate_limit_waited: Duration,
    /// Whether the current hold was told in a notice.
    hold_noticed: bool,
    /// The learned interval last told in a notice.
    noticed_interval: Option<Duration>,
    /// What `poll` hands out before anything else.
    out: VecDeque<Action<E>>,
    recent: RecentIds,
    last_total: Option<i64>,
    /// The listing's first request (filters, the size asked), for its checkpoints.
    first: ListConnections<'static>,
    /// Every page so far said it lists newest first: a `created_after` listing can stop.
    ordered: bool,
    /// The newest `createdAt` yielded: its nanoseconds and its text.
    newest: Option<(i128, String)>,
    /// How often the data moved: total changes, and repeats left out.
    moved: (u32, u64),
    /// A pace from a checkpoint, handed to the pacer at the first poll.
    resumed_pace: Option<Duration>,
    finished: bool,
    /// Requests still on the wire for fetches a plan change dropped, with when they were
    /// sent: they count against the concurrency until answered.
    abandoned: BTreeMap<RequestId, Duration>,
}

impl<E> Listing<E> {
    /// Every page of the listing from `request`'s page on, asking for
    /// [`DEFAULT_PAGE_SIZE`] connections a page unless `request` sets a size. `seed` feeds
    /// the backoff jitter: give each listing a fresh random one.
    pub fn new(
        base: BaseUrl<'static>,
        request: &ListConnections<'_>,
        options: ListingOptions,
        seed: u64,
    ) -> Self {
        let mut request = request.clone().into_owned();
        if request.page_size().is_none() {
            request = request.with_page_size(DEFAULT_PAGE_SIZE);
        }
        Self::start(base, request, options, seed, false)
    }

    /// Goes on from `checkpoint`, saved by an earlier listing of `request` (with the same
    /// base, filters, page size and cutoff, or a [`ResumeError`] names what differs): from
    /// its next page, at the size the server served, leaving out the connections of its
    /// last pages, and keeping to the pace it learned rather than bursting into a bucket that
    /// is still empty. A checkpoint of a complete listing resumes to a listing that is done.
    pub fn resume(
        base: BaseUrl<'static>,
        request: &ListConnections<'_>,
        checkpoint: &Checkpoint,
        options: ListingOptions,
        seed: u64,
    ) -> Result<Self, ResumeError> {
        let mut first = request.clone().into_owned();
        if first.page_size().is_none() {
            first = first.with_page_size(DEFAULT_PAGE_SIZE);
        }
        checkpoint.check(&base, &first, options.created_after.as_ref())?;
        let next = checkpoint
            .next_page()
            .and_then(NonZeroU32::new)
            .unwrap_or(NonZeroU32::MIN);
        let served = checkpoint.served_page_size().and_then(NonZeroU32::new);
        let mut listing = Self::start(base, first.with_page(next, served), options, seed, false);
        listing.first = first;
        listing.paginator = listing.paginator.resumed(checkpoint.pages_fetched());
        listing.recent = RecentIds::from_pages(checkpoint.recent_ids());
        listing.last_total = checkpoint.total_count();
        listing.newest = checkpoint.newest_created_at().and_then(|text| {
            let nanos = crate::model::Timestamp(text).unix_nanos().ok()?;
            Some((nanos, String::from(text)))
        });
        listing.resumed_pace = checkpoint.pace_interval();
        if checkpoint.is_complete() {
            listing.finish();
        }
        Ok(listing)
    }

    /// Only `request`'s page, with retries; its links are not followed and its page size is
    /// left as given.
    pub fn single(
        base: BaseUrl<'static>,
        request: &ListConnections<'_>,
        options: ListingOptions,
        seed: u64,
    ) -> Self {
        Self::start(base, request.clone().into_owned(), options, seed, true)
    }

    fn start(
        base: BaseUrl<'static>,
        request: ListConnections<'static>,
        options: ListingOptions,
        seed: u64,
        single: bool,
    ) -> Self {
        Listing {
            first: request.clone(),
            ordered: true,
            newest: None,
            moved: (0, 0),
            resumed_pace: None,
            paginator: Paginator::new(base, request).with_max_pages(options.max_pages),
            pacer: Pacer::new(),
            options,
            single,
            rng: seed,
            next_id: 0,
            fetches: VecDeque::new(),
            held_since: None,
            rate_limit_waited: Duration::ZERO,
            hold_noticed: false,
            noticed_interval: None,
            out: VecDeque::new(),
            recent: RecentIds::default(),
            last_total: None,
            finished: false,
            abandoned: BTreeMap::new(),
        }
    }

    /// Keeps to `pacer` instead of a pacer of its own: give every listing of one client the
    /// same shared pacer (see [`PacerCell`]), or start from a [`Pacer`] with a budget.
    pub fn with_pacer<Q: PacerCell>(self, pacer: Q) -> Listing<E, Q> {
        Listing {
            paginator: self.paginator,
            pacer,
            options: self.options,
            single: self.single,
            rng: self.rng,
            next_id: self.next_id,
            fetches: self.fetches,
            held_since: self.held_since,
            rate_limit_waited: self.rate_limit_waited,
            hold_noticed: self.hold_noticed,
            noticed_interval: self.noticed_interval,
            out: self.out,
            recent: self.recent,
            last_total: self.last_total,
            first: self.first,
            ordered: self.ordered,
            newest: self.newest,
            moved: self.moved,
            resumed_pace: self.resumed_pace,
            finished: self.finished,
            abandoned: self.abandoned,
        }
    }
}

impl<E, P: PacerCell> Listing<E, P> {
    /// Where every request goes: build each [`SendRequest`]'s request against this base.
    pub fn base(&self) -> &BaseUrl<'static> {
        self.paginator.base()
    }

    /// Whether the listing has ended (complete or failed); nothing more will be sent.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// The pacer, to read what it learned.
    pub fn pacer(&mut self) -> &mut P {
        &mut self.pacer
    }

    /// How long the listing has waited for the server's rate limit so far.
    pub fn rate_limit_waited(&self, now: Now) -> Duration {
        let holding = self
            .held_since
            .map_or(Duration::ZERO, |since| now.elapsed.saturating_sub(since));
        self.rate_limit_waited.saturating_add(holding)
    }

    /// What to do next. Call it until it returns [`Action::Wait`], and again after every
    /// response, failure, or the instant a `Wait` named.
    pub fn poll(&mut self, now: Now) -> Action<E> {
        if let Some(interval) = self.resumed_pace.take() {
            self.pacer.with(|p| p.learn_interval(interval));
        }
        loop {
            if let Some(action) = self.out.pop_front() {
                return match action {
                    // Nothing after this page has been fed yet: the state is as of it.
                    Action::Yield(mut listed) if !self.single => {
                        listed.checkpoint = Some(Box::new(self.checkpoint()));
                        Action::Yield(listed)
                    }
                    action => action,
                };
            }
            if self.finished {
                return Action::Done;
            }
            if self.settle() {
                continue;
            }
            if self.schedule() {
                continue;
            }
            if let Some(send) = self.send_due(now) {
                return Action::Send(send);
            }
            // Holding a request may have ended the listing (the rate-limit wait bound).
            if !self.out.is_empty() {
                continue;
            }
            let wake_at = self.wake_at();
            let in_flight = self
                .fetches
                .iter()
                .any(|f| matches!(f.state, FetchState::InFlight { .. }));
            if wake_at.is_none() && !in_flight {
                // Nothing can come any more: the machine says the listing is over, so no
                // executor has to infer it from an empty set of requests.
                self.finish();
                continue;
            }
            return Action::Wait(wake_at);
        }
    }

    /// The answer to request `id`: status, headers and the complete, bounded body. An
    /// answer to a request this listing no longer waits for is ignored.
    pub fn handle_response(&mut self, id: RequestId, response: &Response<'_>, now: Now) {
        let abandoned = self.abandoned.remove(&id);
        let index = self.in_flight(id);
        let sent_at = index.and_then(|i| self.fetches[i].sent_at()).or(abandoned);
        // Every answer but a 429 tells the pacer a request got through, even one the
        // listing no longer needs.
        if let Some(sent_at) = sent_at.filter(|_| response.status != 429) {
            self.pacer.with(|p| p.on_success(sent_at));
            self.notice_pace();
        }
        let Some(index) = index else {
            return;
        };
        match response.page_owned() {
            Ok(page) => {
                self.fetches[index].state = FetchState::Arrived(Listed {
                    value: page,
                    status: response.status,
                    request_id: response.request_id.map(String::from),
                    checkpoint: None,
                });
            }
            Err(error) => {
                let failure = error.to_failure(now.unix);
                self.retry_or_fail(index, failure, ListingError::Response(error), now);
            }
        }
    }

    /// Request `id` got no usable response: `retryable` says whether sending it again may
    /// help (a timeout or a reset connection, not a refused certificate or an oversized
    /// body). A failure of a request this listing no longer waits for is ignored.
    pub fn handle_failure(&mut self, id: RequestId, error: E, retryable: bool, now: Now) {
        self.abandoned.remove(&id);
        self.pacer.with(Pacer::on_failure);
        if let Some(index) = self.in_flight(id) {
            let failure = Failure::Transport { retryable };
            self.retry_or_fail(index, failure, ListingError::Transport(error), now);
        }
    }

    fn in_flight(&self, id: RequestId) -> Option<usize> {
        self.fetches
            .iter()
            .position(|f| matches!(f.state, FetchState::InFlight { id: i, .. } if i == id))
    }

    /// Tells a newly learned or changed pace (by a tenth or more) once.
    fn notice_pace(&mut self) {
        let Some(interval) = self.pacer.with(|p| p.learned_interval()) else {
            return;
        };
        let changed = self.noticed_interval.is_none_or(|before| {
            let tenth = before / 10;
            interval > before.saturating_add(tenth) || interval < before.saturating_sub(tenth)
        });
        if changed {
            self.noticed_interval = Some(interval);
            self.out
                .push_back(Action::Notice(Notice::PaceLearned { interval }));
        }
    }

    /// Asks the retry policy about a failed attempt: wait and send again, or fail for good.
    /// A 429 is not a failed attempt: the pacer pauses every request, and the same attempt
    /// is made again when the pause ends.
    fn retry_or_fail(&mut self, index: usize, failure: Failure, error: ListingError<E>, now: Now) {
        let random = self.random();
        let policy = self.options.retry_policy;
        if let Failure::Status {
            status: 429,
            retry_after,
        } = failure
        {
            // A wait longer than the policy accepts ends the listing with the 429 itself.
            if retry_after.is_some_and(|r| r > policy.max_retry_after()) {
                self.fetches[index].state = FetchState::Failed(error);
                return;
            }
            let sent_at = self.fetches[index].sent_at().unwrap_or(now.elapsed);
            let wait = self
                .pacer
                .with(|p| p.on_rate_limited(sent_at, now.elapsed, retry_after, random));
            let fetch = &mut self.fetches[index];
            fetch.state = FetchState::Due(now.elapsed);
            let attempt = fetch.attempts;
            fetch.attempts = fetch.attempts.saturating_sub(1);
            let page = page_of(&fetch.request);
            self.out.push_back(Action::Notice(Notice::Retrying {
                page,
                attempt,
                wait,
                status: Some(429),
            }));
            self.notice_pace();
            return;
        }
        let fetch = &mut self.fetches[index];
        match policy.decide(fetch.attempts, &failure, random) {
            Decision::RetryAfter(wait) => {
                let at = now.elapsed.saturating_add(wait);
                fetch.state = FetchState::Due(at);
                let status = match failure {
                    Failure::Status { status, .. } => Some(status),
                    Failure::Transport { .. } => None,
                };
                self.out.push_back(Action::Notice(Notice::Retrying {
                    page: page_of(&fetch.request),
                    attempt: fetch.attempts,
                    wait,
                    status,
                }));
            }
            Decision::GiveUp(_) => fetch.state = FetchState::Failed(error),
        }
    }

    /// Takes the front fetch if it has an outcome, in page order; `true` if it did.
    fn settle(&mut self) -> bool {
        let ready = self
            .fetches
            .front()
            .is_some_and(|f| matches!(f.state, FetchState::Arrived(_) | FetchState::Failed(_)));
        if !ready {
            return false;
        }
        let Some(fetch) = self.fetches.pop_front() else {
            return false;
        };
        if !self.single && self.paginator.next_request() != Some(&fetch.request) {
            // Fetched ahead on a plan the links then left (a skipped number, a new size).
            self.keep_from_next();
            return true;
        }
        match fetch.state {
            FetchState::Arrived(listed) if self.single => {
                self.out.push_back(Action::Yield(listed));
                self.finish();
            }
            FetchState::Arrived(listed) => self.accept(listed, page_of(&fetch.request)),
            FetchState::Failed(error) => {
                self.out.push_back(Action::Failed(error));
                self.finish();
            }
            FetchState::Due(_) | FetchState::InFlight { .. } => {}
        }
        true
    }

    /// Feeds the next page in order to the paginator and queues what follows: notices, the
    /// page without repeated connections, then any error.
    fn accept(&mut self, mut listed: Listed<Page<Owned>>, page: u32) {
        let fed = self.paginator.feed(&listed.value);
        let keep = match &fed {
            Ok(_) => true,
            Err(error) => error.page_is_new(),
        };
        let mut reached_cutoff = false;
        if keep {
            self.note_total(&listed.value, page);
            let skipped = self.recent.leave_out_repeats(&mut listed.value);
            if skipped > 0 {
                let first = self.moved == (0, 0);
                self.moved.1 = self
                    .moved
                    .1
                    .saturating_add(u64::try_from(skipped).unwrap_or(u64::MAX));
                self.out.push_back(Action::Notice(Notice::Repeated {
                    page,
                    skipped,
                    first,
                }));
            }
            if let Some(cutoff) = self.options.created_after {
                reached_cutoff = self.cut(&mut listed.value, &cutoff, page);
            }
            self.note_newest(&listed.value);
            self.out.push_back(Action::Yield(listed));
        }
        match fed {
            Ok(Progress::More) if reached_cutoff => self.complete(),
            Ok(Progress::More) => {}
            Ok(Progress::Done) => self.complete(),
            Err(error) => {
                self.out
                    .push_back(Action::Failed(ListingError::Pagination(error)));
                self.finish();
            }
        }
    }

    fn note_total(&mut self, page: &Page<Owned>, number: u32) {
        let Some(total) = page.meta.as_ref().and_then(|m| m.total_count) else {
            return;
        };
        if let Some(before) = self.last_total.filter(|&before| before != total) {
            let first = self.moved == (0, 0);
            self.moved.0 = self.moved.0.saturating_add(1);
            self.out.push_back(Action::Notice(Notice::TotalChanged {
                page: number,
                before,
                after: total,
                first,
            }));
        }
        self.last_total = Some(total);
    }

    /// Leaves out the page's connections created before `cutoff`; `true` if the listing
    /// can stop after this page: it holds an older connection, and every page so far said
    /// it lists newest first.
    fn cut(&mut self, page: &mut Page<Owned>, cutoff: &CreatedAfter, number: u32) -> bool {
        let declared = page.meta.as_ref().is_some_and(|m| {
            m.order_by.as_deref() == Some("createdAt")
                && m.order_direction
                    .as_ref()
                    .is_some_and(|d| d.as_str().eq_ignore_ascii_case("desc"))
        });
        if !declared && self.ordered {
            self.ordered = false;
            self.out
                .push_back(Action::Notice(Notice::Unordered { page: number }));
        }
        let before = page.data.len();
        page.data.retain(|c| cutoff.keeps(c.created_at()));
        self.ordered && page.data.len() < before
    }

    /// Remembers the newest `createdAt` yielded, for the next incremental listing.
    fn note_newest(&mut self, page: &Page<Owned>) {
        for created in page.connections().iter().filter_map(|c| c.created_at()) {
            let Ok(nanos) = created.unix_nanos() else {
                continue;
            };
            if self
                .newest
                .as_ref()
                .is_none_or(|(newest, _)| nanos > *newest)
            {
                self.newest = Some((nanos, created.as_str().into()));
            }
        }
    }

    /// The listing is complete: a summary if its data moved, then nothing more is sent.
    fn complete(&mut self) {
        let (total_changes, repeated) = self.moved;
        if self.moved != (0, 0) {
            self.out.push_back(Action::Notice(Notice::Moved {
                total_changes,
                repeated,
            }));
        }
        self.finish();
    }

    /// Where the listing stands: what [`Listing::resume`] goes on from.
    fn checkpoint(&mut self) -> Checkpoint {
        let pace_interval = self.pacer.with(|p| p.learned_interval());
        Checkpoint::save(Saved {
            base: self.paginator.base(),
            request: &self.first,
            next: (!self.finished)
                .then(|| self.paginator.next_request())
                .flatten(),
            pages_fetched: self.paginator.pages_fetched(),
            total_count: self.last_total,
            recent_ids: self.recent.pages.iter().cloned().collect(),
            created_after: self.options.created_after.as_ref(),
            newest_created_at: self.newest.as_ref().map(|(_, text)| text.as_str()),
            pace_interval,
        })
    }

    /// Ends the listing: nothing is sent from now on.
    fn finish(&mut self) {
        self.finished = true;
        self.fetches.clear();
    }

    /// Makes sure the paginator's next request, and as much of the plan as concurrency
    /// allows, has a fetch; `true` if it dropped fetches, so the front must be settled again.
    fn schedule(&mut self) -> bool {
        let Some(next) = self.paginator.next_request() else {
            self.complete();
            return false;
        };
        if self.fetches.front().is_some_and(|f| &f.request != next) {
            // Settle again: the page now in front may have arrived already.
            self.keep_from_next();
            return true;
        }
        if self.fetches.is_empty() {
            self.fetches.push_back(Fetch::due(next.clone()));
        }
        let concurrency = usize::try_from(self.options.concurrency.get()).unwrap_or(1);
        if self.single || concurrency == 1 {
            return false;
        }
        let Some(plan) = self.paginator.planned_pages() else {
            return false;
        };
        while self.fetches.len() + self.abandoned.len() < concurrency {
            let last = self.fetches.back().map_or(0, |f| page_of(&f.request));
            let Some(number) = last.checked_add(1).and_then(NonZeroU32::new) else {
                break;
            };
            if number.get() > *plan.end() {
                break;
            }
            let request = self.paginator.request_for_page(number);
            self.fetches.push_back(Fetch::due(request));
        }
        false
    }

    /// Drops the fetches before the one for the paginator's next request, keeping that one
    /// (its attempts, its request in flight, its page) if it was fetched ahead; drops them all
    /// if none matches. Dropped requests still in flight are remembered as abandoned.
    fn keep_from_next(&mut self) {
        let next = self.paginator.next_request();
        let keep = self.fetches.iter().position(|f| Some(&f.request) == next);
        let end = keep.unwrap_or(self.fetches.len());
        for fetch in self.fetches.drain(..end) {
            if let FetchState::InFlight { id, sent_at } = fetch.state {
                self.abandoned.insert(id, sent_at);
            }
        }
    }

    /// The first fetch due by `now`, marked in flight, unless the pacer holds it back (the
    /// user's budget, the learned pace, a 429's pause). Time held by the server's rate limit
    /// is counted against [`ListingOptions::max_rate_limit_wait`].
    fn send_due(&mut self, now: Now) -> Option<SendRequest> {
        let Some(index) = self
            .fetches
            .iter()
            .position(|f| matches!(f.state, FetchState::Due(at) if at <= now.elapsed))
        else {
            self.end_hold(now);
            return None;
        };
        let ready = self.pacer.with(|p| p.ready_at(now.elapsed));
        if ready.at > now.elapsed {
            self.hold(index, ready.at, ready.hold, now);
            return None;
        }
        self.end_hold(now);
        self.pacer.with(|p| p.on_send(now.elapsed));
        let id = RequestId(self.next_id);
        self.next_id = self.next_id.wrapping_add(1);
        let fetch = &mut self.fetches[index];
        fetch.attempts = fetch.attempts.saturating_add(1);
        fetch.state = FetchState::InFlight {
            id,
            sent_at: now.elapsed,
        };
        Some(SendRequest {
            id,
            request: fetch.request.clone(),
            attempt: fetch.attempts,
        })
    }

    /// The fetch at `index` is due but must wait until `until`: counts a hold by the server's
    /// rate limit, fails the listing if it would pass the bound, and tells a pace's wait once.
    fn hold(&mut self, index: usize, until: Duration, hold: Hold, now: Now) {
        if !matches!(hold, Hold::Pace | Hold::RateLimited) {
            self.stop_counting(now);
        } else {
            let since = *self.held_since.get_or_insert(now.elapsed);
            let waited = self
                .rate_limit_waited
                .saturating_add(now.elapsed.saturating_sub(since));
            let more = until.saturating_sub(now.elapsed);
            let max = self.options.max_rate_limit_wait;
            if waited.saturating_add(more) > max {
                self.out
                    .push_back(Action::Failed(ListingError::RateLimitWait {
                        waited,
                        more,
                        max,
                    }));
                self.finish();
                return;
            }
        }
        if !self.hold_noticed && matches!(hold, Hold::Pace | Hold::Budget) {
            self.hold_noticed = true;
            let page = page_of(&self.fetches[index].request);
            let wait = until.saturating_sub(now.elapsed);
            self.out
                .push_back(Action::Notice(Notice::Paced { page, wait, hold }));
        }
    }

    /// A request goes, or none is due: a hold ends.
    fn end_hold(&mut self, now: Now) {
        self.hold_noticed = false;
        self.stop_counting(now);
    }

    /// Time from now on is not the server's rate limit holding the listing.
    fn stop_counting(&mut self, now: Now) {
        if let Some(since) = self.held_since.take() {
            self.rate_limit_waited = self
                .rate_limit_waited
                .saturating_add(now.elapsed.saturating_sub(since));
        }
    }

    /// When the next waiting fetch becomes due and the pacer lets it go, if any is waiting.
    fn wake_at(&mut self) -> Option<Duration> {
        let due = self
            .fetches
            .iter()
            .filter_map(|f| match f.state {
                FetchState::Due(at) => Some(at),
                _ => None,
            })
            .min()?;
        let ready = self.pacer.with(|p| p.ready_at(due));
        Some(due.max(ready.at))
    }

    /// A fresh jitter value from the seed.
    fn random(&mut self) -> u64 {
        super::retry::splitmix64(&mut self.rng)
    }
}

impl<E> Fetch<E> {
    fn due(request: ListConnections<'static>) -> Self {
        Fetch {
            request,
            attempts: 0,
            state: FetchState::Due(Duration::ZERO),
        }
    }

    /// When its request in flight was sent.
    fn sent_at(&self) -> Option<Duration> {
        match self.state {
            FetchState::InFlight { sent_at, .. } => Some(sent_at),
            _ => None,
        }
    }
}

fn page_of(request: &ListConnections<'_>) -> u32 {
    request.page_number().map_or(1, NonZeroU32::get)
}

/// The ids of the last [`RECENT_PAGES`] yielded pages.
#[derive(Debug, Default)]
struct RecentIds {
    pages: VecDeque<Vec<String>>,
    ids: BTreeSet<String>,
}

impl RecentIds {
    /// From the ids of the last pages, oldest first (a checkpoint's), keeping the last
    /// [`RECENT_PAGES`].
    fn from_pages(pages: &[Vec<String>]) -> Self {
        let start = pages.len().saturating_sub(RECENT_PAGES);
        let pages: VecDeque<Vec<String>> = pages[start..].iter().cloned().collect();
        let ids = pages.iter().flatten().cloned().collect();
        RecentIds { pages, ids }
    }

    /// Removes connections whose id was yielded recently, remembers the rest, and returns
    /// how many it removed. Connections without an id are always kept.
    fn leave_out_repeats(&mut self, page: &mut Page<Owned>) -> usize {
        let before = page.data.len();
        let mut kept = Vec::with_capacity(before);
        page.data.retain(|c| match &c.id {
            Some(id) if self.ids.contains(id) => false,
            Some(id) => {
                kept.push(id.clone());
                true
            }
            None => true,
        });
        // Two items with the same id on one page are both kept: that is the server's data.
        for id in &kept {
            self.ids.insert(id.clone());
        }
        self.pages.push_back(kept);
        if self.pages.len() > RECENT_PAGES {
            for id in self.pages.pop_front().unwrap_or_default() {
                self.ids.remove(&id);
            }
        }
        before - page.data.len()
    }
}
