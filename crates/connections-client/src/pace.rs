//! One pace for every request of a client: the core's [`Pacer`] behind a lock, with the
//! clock every listing of that client reads, so that their instants share one origin.

use std::sync::{Arc, Mutex, PoisonError};

use connections_core::listing::PacerCell;
use connections_core::{Budget, Pacer};

use crate::Clock;

/// The pacer every listing and single page of one client (and its clones) keeps to: one
/// budget, and one pace learned from the server's 429s, since Smartcar's bucket counts all
/// of an application's requests together.
///
/// Token fetches do not count: they go to the token endpoint, which Smartcar limits apart
/// from the API.
#[derive(Clone, Debug)]
pub struct SharedPacer {
    pacer: Arc<Mutex<Pacer>>,
    clock: Clock,
}

impl SharedPacer {
    /// A fresh pacer keeping to `budget`, on `clock`.
    pub fn new(budget: Option<Budget>, clock: Clock) -> Self {
        SharedPacer {
            pacer: Arc::new(Mutex::new(Pacer::new().with_budget(budget))),
            clock,
        }
    }

    /// The clock every instant given to this pacer is read from.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }
}

impl PacerCell for SharedPacer {
    fn with<R>(&mut self, f: impl FnOnce(&mut Pacer) -> R) -> R {
        // A panic elsewhere while holding the lock leaves a pacer that is still consistent:
        // every update is a few plain assignments.
        let mut pacer = self.pacer.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut pacer)
    }
}
