//! The executor of the core's listing machine: each `Send` becomes a tokio task, each `Wait`
//! a select over finished tasks and a timer. No retry, pacing or pagination rule lives here.

use connections_client::{ClientListing, Clock, Error, Exchanged, Step, feed, next_step};
use connections_core::{Listed, Owned, Page, RequestId};
use tokio::task::JoinSet;

use crate::{Client, exchange};

/// One listing in progress: the machine, and the exchanges it asked for.
///
/// Each exchange runs on its own task with its own deadline, so a consumer that takes its
/// time between pages never holds a request open; dropping the driver aborts them all.
pub(crate) struct Driver {
    client: Client,
    listing: ClientListing,
    clock: Clock,
    exchanges: JoinSet<(RequestId, Result<Exchanged, Error>)>,
}

impl Driver {
    pub(crate) fn new(client: Client, listing: ClientListing) -> Self {
        Driver {
            // The config's clock, tokio's: the waits below sleep on it.
            clock: *client.clock(),
            client,
            listing,
            exchanges: JoinSet::new(),
        }
    }

    /// The next page, the error that ends the listing, or `None` once it is complete.
    pub(crate) async fn next(&mut self) -> Option<Result<Listed<Page<Owned>>, Error>> {
        loop {
            match next_step(&mut self.listing, &self.clock) {
                Step::Yield(listed) => return Some(Ok(listed)),
                Step::Failed(error) => {
                    self.exchanges.abort_all();
                    return Some(Err(error));
                }
                Step::Done => {
                    self.exchanges.abort_all();
                    return None;
                }
                Step::Send(send) => {
                    let client = self.client.clone();
                    self.exchanges.spawn(async move {
                        let outcome = exchange::attempt(&client, &send).await;
                        (send.id, outcome)
                    });
                }
                Step::Wait(until) => {
                    let finished = match until {
                        // Only a retry is due: nothing can finish before it.
                        Some(until) if self.exchanges.is_empty() => {
                            tokio::time::sleep_until(until.into()).await;
                            continue;
                        }
                        Some(until) => tokio::select! {
                            finished = self.exchanges.join_next() => finished,
                            () = tokio::time::sleep_until(until.into()) => continue,
                        },
                        None => self.exchanges.join_next().await,
                    };
                    match finished {
                        Some(Ok((id, outcome))) => {
                            feed(&mut self.listing, &self.clock, id, outcome);
                        }
                        // A task that panicked: nothing to retry it with, so the listing ends.
                        Some(Err(joined)) => {
                            self.exchanges.abort_all();
                            return Some(Err(joined_error(joined, |j| {
                                Error::Connection(Box::new(j))
                            })));
                        }
                        // Unreachable: the machine waits for nothing only while a request is
                        // in flight, and says Done otherwise. Ending beats hanging.
                        None => return None,
                    }
                }
            }
        }
    }
}

/// The error for a task that did not finish: [`Error::Panicked`] with the panic's message
/// when it panicked (not retryable: the same code would run again), else `cancelled`'s for
/// a task cancelled under it (the runtime shutting down).
pub(crate) fn joined_error(
    joined: tokio::task::JoinError,
    cancelled: impl FnOnce(tokio::task::JoinError) -> Error,
) -> Error {
    if !joined.is_panic() {
        return cancelled(joined);
    }
    Error::panicked(&*joined.into_panic())
}
