use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, Instant, SystemTime};

use connections_core::listing::{Action, Now, SendRequest};
use connections_core::{Listed, Owned, Page, UnixTime};

use crate::{ClientListing, Error, Exchanged, log_notice};

/// The clocks of one client's listings: monotonic time since an origin, read from a time
/// source, and the wall clock for `Retry-After` dates.
///
/// The source is std's clock for a blocking transport, and the runtime's for an async one,
/// so that the machine's time moves with the timers the transport sleeps on (tokio's
/// paused clock in tests, for one).
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    origin: Instant,
    source: fn() -> Instant,
}

impl Clock {
    /// std's monotonic clock, the source of a transport that sleeps on std's timers.
    pub const STD: fn() -> Instant = Instant::now;

    /// Starts counting now, on std's monotonic clock.
    pub fn start() -> Self {
        Self::with_source(Self::STD)
    }

    /// Starts counting now, on `source`: the clock the transport's timers run on (for
    /// tokio, `|| tokio::time::Instant::now().into_std()`).
    pub fn with_source(source: fn() -> Instant) -> Self {
        Clock {
            origin: source(),
            source,
        }
    }

    /// Both clocks, as the machine takes them.
    ///
    /// The wall clock is std's, moved by as far as the source is ahead of (or behind) std's
    /// monotonic clock: a paused clock that was advanced moves the wall time too, while an
    /// ordinary one reads the live wall clock, which, unlike origin plus elapsed, follows
    /// the system's suspends and time corrections.
    pub fn now(&self) -> Now {
        let (at, real, wall) = ((self.source)(), Instant::now(), SystemTime::now());
        let unix = if at >= real {
            wall.checked_add(at - real)
        } else {
            wall.checked_sub(real - at)
        };
        Now::new(
            at.saturating_duration_since(self.origin),
            UnixTime::from(unix.unwrap_or(wall)),
        )
    }

    /// The monotonic time since the origin, now: what a transport notes when an exchange
    /// starts, to log how long it took.
    pub fn elapsed(&self) -> Duration {
        (self.source)().saturating_duration_since(self.origin)
    }

    /// How long from now until `instant`, a reading of the source (zero once it passed).
    pub fn until(&self, instant: Instant) -> Duration {
        instant.saturating_duration_since((self.source)())
    }

    /// The monotonic time since the origin at `instant`, a reading of the source (zero for
    /// one before the origin).
    pub fn elapsed_at(&self, instant: Instant) -> Duration {
        instant.saturating_duration_since(self.origin)
    }

    /// The instant an `elapsed` reading names, or `None` past the clock's range (a wait that
    /// long is forever in practice).
    pub fn instant(&self, elapsed: Duration) -> Option<Instant> {
        self.origin.checked_add(elapsed)
    }

    /// About thirty years from now: "never" for a sleep, without overflowing.
    fn far_future(&self) -> Instant {
        let now = (self.source)();
        now.checked_add(Duration::from_secs(86_400 * 365 * 30))
            .unwrap_or(now)
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

/// The page of a single-page listing from its first outcome: the machine yields the page or
/// fails, and never ends empty-handed; were it to, that is an error, not a panic.
pub fn single_page(
    first: Option<Result<Listed<Page<Owned>>, Error>>,
) -> Result<Listed<Page<Owned>>, Error> {
    first.unwrap_or_else(|| Err(Error::Connection("the listing ended without a page".into())))
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
                let until = until.map(|t| clock.instant(t).unwrap_or_else(|| clock.far_future()));
                return Step::Wait(until);
            }
            Action::Done => return Step::Done,
            Action::Failed(error) => return Step::Failed(error.into()),
        }
    }
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

    /// How far the fake source below has been advanced, in milliseconds.
    static ADVANCED_MS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

    /// A clock that stands still unless advanced, like tokio's paused clock.
    fn paused() -> Instant {
        static BASE: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
        let advanced = ADVANCED_MS.load(std::sync::atomic::Ordering::SeqCst);
        *BASE.get_or_init(Instant::now) + Duration::from_millis(advanced)
    }

    #[test]
    fn a_clock_on_another_source_moves_both_readings_with_it() {
        let clock = Clock::with_source(paused);
        let wall = |now: Now| now.unix.0 - UnixTime::from(SystemTime::now()).0;
        let before = clock.now();
        assert_eq!(before.elapsed, Duration::ZERO);
        assert!((-1..=1).contains(&wall(before)), "{before:?}");
        ADVANCED_MS.store(90_000, std::sync::atomic::Ordering::SeqCst);
        let after = clock.now();
        assert_eq!(after.elapsed, Duration::from_secs(90));
        // The wall clock moved 90 s with it (give or take the second it rounds to).
        assert!((89..=91).contains(&wall(after)), "{after:?}");
        assert_eq!(
            clock.instant(after.elapsed).map(|at| clock.elapsed_at(at)),
            Some(Duration::from_secs(90))
        );
    }
}
