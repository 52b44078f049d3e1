//! Retries around one request, and the walk over a listing's pages, sequential or with
//! bounded concurrency once the paginator knows which pages remain.

use std::collections::VecDeque;
use std::num::NonZeroU32;
use std::pin::Pin;
use std::sync::{Mutex, PoisonError};

use connections_core::client::{Attempts, Error};
use connections_core::{ListConnections, Owned, Page, Paginator, Progress};
use futures_core::Stream;
use futures_util::StreamExt;
use tokio::time::Instant;

use crate::{Client, Listed, exchange};

/// A "not before" instant shared by the workers of one listing: a 429 holds every worker's
/// next send until the wait the server asked for has passed, instead of each one hammering
/// the rate limit on its own schedule.
#[derive(Debug, Default)]
pub(crate) struct Gate {
    not_before: Mutex<Option<Instant>>,
}

impl Gate {
    /// Waits until the gate is open; loops because another 429 may push it further.
    async fn wait(&self) {
        loop {
            let until = *self
                .not_before
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            match until {
                Some(until) if until > Instant::now() => tokio::time::sleep_until(until).await,
                _ => return,
            }
        }
    }

    /// Closes the gate until `until` (never shortening an earlier hold).
    fn hold_until(&self, until: Instant) {
        let mut not_before = self
            .not_before
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        *not_before = Some(not_before.map_or(until, |held| held.max(until)));
    }
}

/// Sends `request` until it succeeds or the retry policy gives up, sleeping the delays it
/// returns; waits at `gate` before every attempt.
pub(crate) async fn fetch(
    client: &Client,
    request: &ListConnections<'_>,
    gate: &Gate,
) -> Result<Listed<Page<Owned>>, Error> {
    let inner = &*client.inner;
    let mut attempts = Attempts::new(inner.config.retry_policy);
    loop {
        gate.wait().await;
        let attempt = attempts.start();
        let error = match exchange::attempt(&inner.http, &inner.config, request, attempt).await {
            Ok(listed) => return Ok(listed),
            Err(error) => error,
        };
        let Some(delay) = attempts.retry_delay(&error) else {
            return Err(error);
        };
        if matches!(&error, Error::Api(e) if e.status == 429) {
            // Past the clock's range, this worker sleeps "forever" below anyway.
            if let Some(until) = Instant::now().checked_add(delay) {
                gate.hold_until(until);
            }
        }
        tracing::debug!(%error, ?delay, attempt, "retrying");
        tokio::time::sleep(delay).await;
    }
}

/// Pages fetched ahead of the paginator, in page order, each with the request it answers.
type Batch =
    Pin<Box<dyn Stream<Item = (ListConnections<'static>, Result<Page<Owned>, Error>)> + Send>>;

/// The state of one listing between two pages.
pub(crate) struct Walk {
    client: Client,
    paginator: Paginator<'static>,
    gate: std::sync::Arc<Gate>,
    batch: Option<Batch>,
    /// Whether a batch may be planned now: not straight after a batch ended early, so every
    /// round makes progress.
    may_plan: bool,
    /// What is left to yield: a page, then the error that ends the listing.
    ready: VecDeque<Result<Page<Owned>, Error>>,
    finished: bool,
}

impl Walk {
    pub(crate) fn new(client: Client, request: &ListConnections<'_>) -> Self {
        let config = &client.inner.config;
        let paginator = Paginator::new(config.base_url.clone(), request.clone().into_owned())
            .with_max_pages(config.max_pages);
        Walk {
            client,
            paginator,
            gate: Default::default(),
            batch: None,
            may_plan: false,
            ready: VecDeque::new(),
            finished: false,
        }
    }

    /// The stream of pages: after an error it ends.
    pub(crate) fn into_stream(self) -> impl Stream<Item = Result<Page<Owned>, Error>> + Send {
        futures_util::stream::unfold(self, |mut walk| async move {
            let next = walk.next().await?;
            Some((next, walk))
        })
    }

    async fn next(&mut self) -> Option<Result<Page<Owned>, Error>> {
        if self.ready.is_empty() && !self.finished {
            self.advance().await;
        }
        let next = self.ready.pop_front()?;
        if next.is_err() {
            self.finished = true;
            self.ready.clear();
            self.batch = None;
        }
        Some(next)
    }

    /// Fetches and feeds the next page, filling `ready`.
    async fn advance(&mut self) {
        loop {
            if let Some(batch) = self.batch.as_mut() {
                match batch.next().await {
                    // The page answers the request the paginator expects now: feed it.
                    Some((request, fetched)) if self.paginator.next_request() == Some(&request) => {
                        self.accept(fetched);
                        return;
                    }
                    // The batch is spent, or the links left the plan (a skipped number, a new
                    // page size): drop what was fetched ahead and ask the paginator again.
                    _ => {
                        self.batch = None;
                        self.may_plan = false;
                        continue;
                    }
                }
            }
            let Some(request) = self.paginator.next_request().cloned() else {
                self.finished = true;
                return;
            };
            let concurrent = self.client.inner.config.page_concurrency.get() > 1;
            if let Some(planned) = self.paginator.planned_pages().filter(|_| concurrent)
                && self.may_plan
            {
                self.batch = Some(self.plan(planned));
                continue;
            }
            let fetched = fetch(&self.client, &request, &self.gate).await;
            self.accept(fetched.map(|listed| listed.value));
            self.may_plan = true;
            return;
        }
    }

    /// Fetches the planned pages with at most `page_concurrency` in flight, in page order.
    fn plan(&self, planned: std::ops::RangeInclusive<u32>) -> Batch {
        let concurrency = self.client.inner.config.page_concurrency.get();
        let paginator = self.paginator.clone();
        // Built as they are due, so a long plan costs nothing up front.
        let requests = planned
            .filter_map(NonZeroU32::new)
            .map(move |number| paginator.request_for_page(number));
        let (client, gate) = (self.client.clone(), self.gate.clone());
        let fetches = futures_util::stream::iter(requests).map(move |request| {
            let (client, gate) = (client.clone(), gate.clone());
            async move {
                let fetched = fetch(&client, &request, &gate).await;
                (request, fetched.map(|listed| listed.value))
            }
        });
        Box::pin(fetches.buffered(concurrency))
    }

    /// Feeds a fetched page to the paginator and queues what to yield: the page (unless it
    /// repeats the one before, which would yield its items twice), then any error.
    fn accept(&mut self, fetched: Result<Page<Owned>, Error>) {
        let page = match fetched {
            Ok(page) => page,
            Err(error) => {
                self.ready.push_back(Err(error));
                return;
            }
        };
        match self.paginator.feed(&page) {
            Ok(progress) => {
                if progress == Progress::Done {
                    self.batch = None;
                }
                self.ready.push_back(Ok(page));
            }
            // The page itself is sound; its `next` link is what cannot be followed.
            Err(error) if error.page_is_new() => {
                self.ready.push_back(Ok(page));
                self.ready.push_back(Err(error.into()));
            }
            Err(error) => self.ready.push_back(Err(error.into())),
        }
    }
}
