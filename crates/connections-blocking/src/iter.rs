//! The executor of the core's listing machine on threads: a `Send` runs on the caller's
//! thread when one page is fetched at a time, or on a thread of its own when several are;
//! a `Wait` sleeps or waits for a finished exchange. No retry, pacing or pagination rule
//! lives here.
//!
//! An exchange that panics (a user's token source, a bug) ends the listing with an
//! [`Error::Panicked`] naming the panic, on either path, as a panicked task does in the
//! async transport: it is not fed to the machine, so it is never retried.

use std::panic::{self, AssertUnwindSafe};
use std::sync::mpsc;
use std::thread;
use std::vec;

use connections_client::{ClientListing, Clock, Error, Exchanged, Step, feed, next_step};
use connections_core::{Connection, Listed, Owned, Page, RequestId, SendRequest};

use crate::Client;

/// An exchange's outcome, or (outer `Err`) the error that ends the listing because it
/// panicked.
type Guarded = Result<Result<Exchanged, Error>, Error>;

type Finished = (RequestId, Guarded);

/// One attempt with its panic caught: a thread that unwound would never report its request,
/// and the listing would wait for it forever.
fn guarded_attempt(client: &Client, send: &SendRequest) -> Guarded {
    // Unwind safety: the listing ends on a panic, and the client's shared state (agents,
    // token cache) is what a panicking task leaves behind in the async transport too.
    panic::catch_unwind(AssertUnwindSafe(|| client.attempt(send)))
        .map_err(|payload| Error::panicked(&*payload))
}

/// One listing in progress: the machine, and where finished exchanges come back.
pub(crate) struct Driver {
    client: Client,
    listing: ClientListing,
    clock: Clock,
    /// Exchanges run on their own threads (page concurrency above 1).
    threaded: bool,
    finished: (mpsc::Sender<Finished>, mpsc::Receiver<Finished>),
    ended: bool,
}

impl Driver {
    pub(crate) fn new(client: Client, listing: ClientListing) -> Self {
        let threaded = client.config().page_concurrency().get() > 1;
        Driver {
            clock: *client.clock(),
            client,
            listing,
            threaded,
            finished: mpsc::channel(),
            ended: false,
        }
    }

    /// The next page, the error that ends the listing, or `None` once it is complete.
    pub(crate) fn next_page(&mut self) -> Option<Result<Listed<Page<Owned>>, Error>> {
        if self.ended {
            return None;
        }
        loop {
            match next_step(&mut self.listing, &self.clock) {
                Step::Yield(listed) => return Some(Ok(listed)),
                Step::Failed(error) => {
                    self.ended = true;
                    return Some(Err(error));
                }
                Step::Done => {
                    self.ended = true;
                    return None;
                }
                Step::Send(send) if !self.threaded => {
                    let id = send.id;
                    if let Some(failed) = self.settle(id, guarded_attempt(&self.client, &send)) {
                        return Some(failed);
                    }
                }
                Step::Send(send) => {
                    let (client, done) = (self.client.clone(), self.finished.0.clone());
                    // The caller's span and subscriber (even a scoped one) follow the
                    // exchange to its thread.
                    let span = tracing::Span::current();
                    let dispatch = tracing::dispatcher::get_default(Clone::clone);
                    // Finishes its exchange even if the listing is dropped meanwhile; the
                    // result then goes nowhere.
                    let spawned = thread::Builder::new()
                        .name("connections-page".into())
                        .spawn(move || {
                            let outcome = tracing::dispatcher::with_default(&dispatch, || {
                                span.in_scope(|| guarded_attempt(&client, &send))
                            });
                            let _ = done.send((send.id, outcome));
                        });
                    if let Err(error) = spawned {
                        // The request went with the closure: nothing will report it.
                        let error = format!("could not start a thread for a page: {error}");
                        return Some(self.fail(Error::Connection(error.into())));
                    }
                }
                Step::Wait(until) => {
                    let received = match until {
                        Some(until) => {
                            let wait = self.clock.until(until);
                            if !self.threaded {
                                thread::sleep(wait);
                                continue;
                            }
                            match self.finished.1.recv_timeout(wait) {
                                Ok(finished) => finished,
                                Err(mpsc::RecvTimeoutError::Timeout) => continue,
                                Err(mpsc::RecvTimeoutError::Disconnected) => return None,
                            }
                        }
                        None if self.threaded => match self.finished.1.recv() {
                            Ok(finished) => finished,
                            Err(_) => return None,
                        },
                        // Unreachable: the machine waits for nothing only while a request is
                        // in flight, and says Done otherwise. Ending beats hanging.
                        None => return None,
                    };
                    let (id, outcome) = received;
                    if let Some(failed) = self.settle(id, outcome) {
                        return Some(failed);
                    }
                }
            }
        }
    }

    /// Feeds a finished exchange to the machine; one that panicked ends the listing instead.
    fn settle(
        &mut self,
        id: RequestId,
        outcome: Guarded,
    ) -> Option<Result<Listed<Page<Owned>>, Error>> {
        match outcome {
            Ok(outcome) => {
                feed(&mut self.listing, &self.clock, id, outcome);
                None
            }
            Err(panicked) => Some(self.fail(panicked)),
        }
    }

    /// Ends the listing with `error`; later calls yield `None`.
    fn fail(&mut self, error: Error) -> Result<Listed<Page<Owned>>, Error> {
        self.ended = true;
        Err(error)
    }
}

/// The pages of one listing, each with what its response said and its checkpoint; ends
/// after the last page or after the first error.
pub(crate) struct Listings(pub(crate) Driver);

impl Iterator for Listings {
    type Item = Result<Listed<Page<Owned>>, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        self.0.next_page()
    }
}

/// The connections of one listing, page after page.
pub(crate) struct Connections {
    pages: Listings,
    current: vec::IntoIter<Connection<Owned>>,
}

impl Connections {
    pub(crate) fn new(pages: Listings) -> Self {
        Connections {
            pages,
            current: Vec::new().into_iter(),
        }
    }
}

impl Iterator for Connections {
    type Item = Result<Connection<Owned>, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(connection) = self.current.next() {
                return Some(Ok(connection));
            }
            // Empty pages (even with a `next` link) are skipped, not an end.
            match self.pages.next()? {
                Ok(page) => self.current = page.value.data.into_iter(),
                Err(error) => return Some(Err(error)),
            }
        }
    }
}
