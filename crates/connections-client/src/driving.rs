use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, Instant, SystemTime};

use connections_core::listing::{Action, Now, SendRequest};
use connections_core::{Listed, Owned, Page, UnixTime};

use crate::{ClientListing, Error, Exchanged, log_notice};

/// The clocks of one listing: its own origin for the machine's monotonic time, and the wall
/// clock for `Retry-After` dates.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    origin: Instant,
}

impl Clock {
    /// Starts counting now.
    pub fn start() -> Self {
        Clock {
            origin: Instant::now(),
        }
    }

    /// Both clocks, as the machine takes them.
    pub fn now(&self) -> Now {
        Now::new(self.origin.elapsed(), UnixTime::from(SystemTime::now()))
    }

    /// The instant an `elapsed` reading names, or `None` past the clock's range (a wait that
    /// long is forever in practice).
    pub fn instant(&self, elapsed: Duration) -> Option<Instant> {
        self.origin.checked_add(elapsed)
    }
}

/// Hands an exchange's outcome to the machine: a response for it to read, or a failure with
/// whether a retry may help.
pub fn feed(
    listing: &mut ClientListing,
    clock: &Clock,
    send: connections_core::RequestId,
    outcome: Result<Exchanged, Error>,
) {
    let now = clock.now();
    match outcome {
        Ok((head, body)) => {
            let response = connections_core::Response::from_http(&head, &body);
            listing.handle_response(send, &response, now);
        }
        Err(error) => {
            let retryable = error.is_retryable();
            listing.handle_failure(send, error, retryable, now);
        }
    }
}

/// What a transport's loop does with each action but `Send` and `Wait`, which are its own.
#[derive(Debug)]
pub enum Step {
    /// Hand this page to the consumer.
    Yield(Listed<Page<Owned>>),
    /// The listing ended with this error.
    Failed(Error),
    /// The listing is complete.
    Done,
    /// Send this request.
    Send(SendRequest),
    /// Wait for an outcome or until this instant.
    Wait(Option<Instant>),
}

/// Polls the machine until it asks for something the transport must do: notices are
/// logged here, in one place for every transport.
pub fn next_step(listing: &mut ClientListing, clock: &Clock) -> Step {
    loop {
        match listing.poll(clock.now()) {
            Action::Notice(notice) => log_notice(&notice),
            Action::Send(send) => return Step::Send(send),
            Action::Yield(listed) => return Step::Yield(listed),
            Action::Wait(until) => {
                // A wait past the clock's range is one that never ends.
                let until = until.map(|t| clock.instant(t).unwrap_or_else(far_future));
                return Step::Wait(until);
            }
            Action::Done => return Step::Done,
            Action::Failed(error) => return Step::Failed(error.into()),
        }
    }
}

/// About thirty years from now: "never" for a sleep, without overflowing.
fn far_future() -> Instant {
    let now = Instant::now();
    now.checked_add(Duration::from_secs(86_400 * 365 * 30))
        .unwrap_or(now)
}

/// A seed for a listing's backoff jitter, from std's per-process random hash keys (not for
/// cryptography; no extra crate).
pub fn random_seed() -> u64 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(
        SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos().into()),
    );
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clocks_count_from_their_origin() {
        let clock = Clock::start();
        let now = clock.now();
        assert!(now.elapsed < Duration::from_secs(60));
        assert!(now.unix.0 > 1_600_000_000);
        assert!(clock.instant(Duration::from_secs(1)).is_some());
        assert!(clock.instant(Duration::MAX).is_none());
    }
}
