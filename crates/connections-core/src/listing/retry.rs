//! When to retry a failed request, and how long to wait first.
//!
//! [`RetryPolicy::decide`] looks at one failed attempt and answers [`Decision::RetryAfter`] or
//! [`Decision::GiveUp`]. It never sleeps, reads a clock or draws random numbers: the transport
//! passes a random `u64` in and does the sleeping. See [`RetryPolicy`] for a transport loop.

use core::{fmt, time::Duration};

use crate::response::failure::{Failure, is_retryable_status};

/// What to do after a failed attempt.
///
/// Deliberately not `#[non_exhaustive]`: a transport loop must handle every kind of decision,
/// so a new one should break it at compile time rather than fall into a `_` arm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Decision {
    /// Sleep this long, then send the request again.
    RetryAfter(Duration),
    /// Stop and report the failure.
    GiveUp(GiveUpReason),
}

/// Why [`RetryPolicy::decide`] gave up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum GiveUpReason {
    /// The failure is final: retrying would get the same answer.
    NotRetryable,
    /// The policy's attempt budget is spent.
    AttemptsExhausted {
        /// Attempts made, including the first.
        attempts: u32,
    },
    /// The server asked for a longer wait than the policy accepts.
    RetryAfterTooLong {
        /// The wait the server asked for.
        requested: Duration,
        /// [`RetryPolicy::max_retry_after`].
        max: Duration,
    },
}

impl fmt::Display for GiveUpReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotRetryable => f.write_str(
                "the failure is not retryable; fix the cause reported with it before trying again",
            ),
            Self::AttemptsExhausted { attempts } => write!(
                f,
                "gave up after {attempts} attempts; try again later or raise max_attempts"
            ),
            Self::RetryAfterTooLong { requested, max } => write!(
                f,
                "the server asked to wait {requested:?}, longer than the accepted {max:?}; \
                 try again later or raise max_retry_after"
            ),
        }
    }
}

impl core::error::Error for GiveUpReason {}

/// How often to retry and how long to wait between attempts.
///
/// Fields are private behind `const` setters so the policy can be a `const`, `max_attempts` can
/// never be 0, and knobs can be added later without breaking anyone.
///
/// Defaults ([`RetryPolicy::new`]): 3 attempts in all, backoff from 1 s doubling up to 20 s,
/// and server-requested waits of up to 10 minutes (Smartcar's rate limit says "retry in a few
/// minutes"). In a [`Listing`](crate::Listing), a 429 spends no attempt: the listing's pacer
/// waits it out, bounded by the listing's total rate-limit wait.
///
/// A transport loop (here with a fake `send` and no real sleeping):
///
/// ```
/// use connections_core::{Decision, Failure, GiveUpReason, RetryPolicy};
/// # use core::time::Duration;
/// # let mut replies = [Err(Failure::Status { status: 503, retry_after: None }), Ok("page")].into_iter();
/// # let mut send = || replies.next().unwrap_or(Ok("page"));
/// # let rng = || 0x9e37_79b9_7f4a_7c15_u64; // a real transport draws a fresh random u64
/// # let mut slept = Duration::ZERO;
/// # let mut sleep = |d| slept += d;
/// let policy = RetryPolicy::new();
/// let mut n = 0;
/// let page = loop {
///     n += 1;
///     match send() {
///         Ok(page) => break Ok(page),
///         Err(f) => match policy.decide(n, &f, rng()) {
///             Decision::RetryAfter(d) => sleep(d),
///             Decision::GiveUp(reason) => break Err::<_, GiveUpReason>(reason),
///         },
///     }
/// };
/// assert_eq!(page, Ok("page"));
/// # assert!(slept <= Duration::from_secs(1));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RetryPolicy {
    max_attempts: u32,
    base_delay: Duration,
    max_delay: Duration,
    max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self::new()
    }
}

impl RetryPolicy {
    /// The default policy: 3 attempts, 1 s base delay, 20 s backoff cap, 10 minutes longest
    /// accepted `Retry-After`.
    pub const fn new() -> Self {
        Self {
            max_attempts: 3,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(20),
            max_retry_after: Duration::from_secs(600),
        }
    }

    /// One attempt, never retry.
    pub const fn none() -> Self {
        Self::new().with_max_attempts(1)
    }

    /// Total attempts including the first; 0 is treated as 1.
    pub const fn with_max_attempts(mut self, max_attempts: u32) -> Self {
        self.max_attempts = if max_attempts == 0 { 1 } else { max_attempts };
        self
    }

    /// The backoff before the second attempt; it doubles with each further attempt.
    pub const fn with_base_delay(mut self, base_delay: Duration) -> Self {
        self.base_delay = base_delay;
        self
    }

    /// The longest backoff the doubling may reach (jitter then picks within it).
    pub const fn with_max_delay(mut self, max_delay: Duration) -> Self {
        self.max_delay = max_delay;
        self
    }

    /// The longest `Retry-After` wait to accept; a longer one gives up at once, so a client
    /// is never put to sleep for hours.
    pub const fn with_max_retry_after(mut self, max_retry_after: Duration) -> Self {
        self.max_retry_after = max_retry_after;
        self
    }

    /// Total attempts including the first (at least 1).
    pub const fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// The backoff before the second attempt.
    pub const fn base_delay(&self) -> Duration {
        self.base_delay
    }

    /// The cap on the exponential backoff.
    pub const fn max_delay(&self) -> Duration {
        self.max_delay
    }

    /// The longest accepted `Retry-After` wait.
    pub const fn max_retry_after(&self) -> Duration {
        self.max_retry_after
    }

    /// Decides what to do after attempt number `attempts_made` (1 for the first) failed.
    ///
    /// Final failures give up at once; then the attempt budget is checked. A server's
    /// `Retry-After` is obeyed exactly (no jitter, never less), or refused if longer than
    /// [`max_retry_after`](Self::max_retry_after). Otherwise the wait is "full jitter"
    /// backoff: uniform in `0..=min(max_delay, base_delay * 2^(attempts_made - 1))`, except
    /// for a 429 that names no wait, which waits uniformly between the base delay and that
    /// ceiling: the rate limit refills slowly, so an immediate retry only burns an attempt.
    ///
    /// `random` should be a fresh, uniformly random `u64` for each call (e.g.
    /// `rand::random()` or `fastrand::u64(..)`; it need not be cryptographic), so that clients
    /// failing together spread out. 0 means no wait, `u64::MAX` the full backoff.
    pub fn decide(&self, attempts_made: u32, failure: &Failure, random: u64) -> Decision {
        let (retryable, retry_after) = match *failure {
            Failure::Status {
                status,
                retry_after,
            } => (is_retryable_status(status), retry_after),
            Failure::Transport { retryable } => (retryable, None),
        };
        if !retryable {
            return Decision::GiveUp(GiveUpReason::NotRetryable);
        }
        if attempts_made >= self.max_attempts {
            return Decision::GiveUp(GiveUpReason::AttemptsExhausted {
                attempts: attempts_made,
            });
        }
        match retry_after {
            Some(requested) if requested > self.max_retry_after => {
                Decision::GiveUp(GiveUpReason::RetryAfterTooLong {
                    requested,
                    max: self.max_retry_after,
                })
            }
            Some(requested) => Decision::RetryAfter(requested),
            // Smartcar's API-wide rate limit refills slowly: a 429 that names no wait is
            // retried no sooner than the base delay, never at once.
            None if matches!(failure, Failure::Status { status: 429, .. }) => {
                let ceiling = self.ceiling(attempts_made).max(self.base_delay.as_nanos());
                let spread = ceiling - self.base_delay.as_nanos();
                Decision::RetryAfter(self.base_delay.saturating_add(pick(spread, random)))
            }
            None => Decision::RetryAfter(pick(self.ceiling(attempts_made), random)),
        }
    }

    /// The top of the backoff range after `attempts_made` attempts,
    /// `min(max_delay, base_delay * 2^(attempts_made - 1))`, in `u128` nanoseconds so
    /// nothing can overflow.
    fn ceiling(&self, attempts_made: u32) -> u128 {
        let base = self.base_delay.as_nanos();
        let doublings = attempts_made.saturating_sub(1);
        let ceiling = if base == 0 {
            0
        } else if doublings >= base.leading_zeros() {
            u128::MAX
        } else {
            base << doublings
        };
        // Over ~584 years the range is clamped to what a `u64` of nanoseconds holds.
        ceiling
            .min(self.max_delay.as_nanos())
            .min(u128::from(u64::MAX))
    }
}

/// A wait uniform in `0..=range` nanoseconds, from `random`.
fn pick(range: u128, random: u64) -> Duration {
    // Multiply-shift maps `random` onto 0..=range: (range + 1) <= 2^64, so no overflow,
    // and the bias is below one part in 2^64 / (range + 1).
    let range = range.min(u128::from(u64::MAX));
    let nanos = ((range + 1) * u128::from(random)) >> 64;
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

/// splitmix64: the next jitter value from `state`, without a clock or an OS source, for the
/// machines that take a seed instead of drawing randomness.
#[cfg(feature = "alloc")] // its users, the listing engine and the token cache, need alloc
pub(crate) fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    fn status(status: u16) -> Failure {
        Failure::Status {
            status,
            retry_after: None,
        }
    }

    fn retry_after(status: u16, secs: u64) -> Failure {
        Failure::Status {
            status,
            retry_after: Some(Duration::from_secs(secs)),
        }
    }

    /// The full-jitter range after `n` attempts: min(cap, base * 2^(n-1)), computed naively.
    fn jitter_cap(p: &RetryPolicy, n: u32) -> Duration {
        let mut ceiling = p.base_delay();
        for _ in 1..n.min(200) {
            ceiling = ceiling.saturating_mul(2);
        }
        ceiling.min(p.max_delay())
    }

    #[test]
    fn exactly_five_statuses_are_retryable() {
        for s in 0..=u16::MAX {
            let want = matches!(s, 429 | 500 | 502 | 503 | 504);
            assert_eq!(is_retryable_status(s), want, "{s}");
        }
        let retryable = (200..=599).filter(|&s| is_retryable_status(s)).count();
        assert_eq!(retryable, 5);
    }

    #[test]
    fn non_retryable_statuses_give_up_at_once() {
        let p = RetryPolicy::new();
        for s in [200, 400, 401, 403, 404, 408, 409, 422, 430, 501, 505, 599] {
            let d = p.decide(1, &status(s), 0);
            assert_eq!(d, Decision::GiveUp(GiveUpReason::NotRetryable), "{s}");
        }
        // Billing errors are final even when the server names a wait.
        let d = p.decide(1, &retry_after(430, 1), 0);
        assert_eq!(d, Decision::GiveUp(GiveUpReason::NotRetryable));
    }

    #[test]
    fn attempts_exhaust_at_max_attempts() {
        let p = RetryPolicy::new();
        assert_eq!(p.max_attempts(), 3);
        assert!(matches!(
            p.decide(1, &status(503), 0),
            Decision::RetryAfter(_)
        ));
        assert!(matches!(
            p.decide(2, &status(503), 0),
            Decision::RetryAfter(_)
        ));
        for n in [3, 4, u32::MAX] {
            let d = p.decide(n, &status(503), 0);
            let want = GiveUpReason::AttemptsExhausted { attempts: n };
            assert_eq!(d, Decision::GiveUp(want));
        }
    }

    #[test]
    fn none_and_zero_attempts_mean_one_attempt() {
        for p in [RetryPolicy::none(), RetryPolicy::new().with_max_attempts(0)] {
            assert_eq!(p.max_attempts(), 1);
            let d = p.decide(1, &status(500), 0);
            let want = GiveUpReason::AttemptsExhausted { attempts: 1 };
            assert_eq!(d, Decision::GiveUp(want));
        }
    }

    #[test]
    fn defaults_are_documented_values() {
        let p = RetryPolicy::default();
        assert_eq!(p, RetryPolicy::new());
        assert_eq!(
            (
                p.max_attempts(),
                p.base_delay(),
                p.max_delay(),
                p.max_retry_after()
            ),
            (3, SECOND, 20 * SECOND, 600 * SECOND)
        );
    }

    #[test]
    fn full_jitter_bounds() {
        let p = RetryPolicy::new().with_max_attempts(u32::MAX);
        for n in 1..=8 {
            let cap = jitter_cap(&p, n);
            assert_eq!(
                p.decide(n, &status(503), 0),
                Decision::RetryAfter(Duration::ZERO)
            );
            assert_eq!(
                p.decide(n, &status(503), u64::MAX),
                Decision::RetryAfter(cap)
            );
            // A 429 spans the same range from the base delay up.
            assert_eq!(p.decide(n, &status(429), 0), Decision::RetryAfter(SECOND));
            assert_eq!(
                p.decide(n, &status(429), u64::MAX),
                Decision::RetryAfter(cap)
            );
            for r in [1, 1 << 32, u64::MAX / 2, u64::MAX - 1] {
                let Decision::RetryAfter(d) = p.decide(n, &status(502), r) else {
                    panic!("gave up at {n}");
                };
                assert!(d <= cap, "{n} {r} {d:?}");
            }
        }
        // Doubling: 1 s, 2 s, 4 s, 8 s, 16 s, then the 20 s cap.
        let caps: [u64; 7] = [1, 2, 4, 8, 16, 20, 20];
        for (n, want) in (1..).zip(caps) {
            assert_eq!(jitter_cap(&p, n), Duration::from_secs(want));
        }
        // Half of the range for half of the randomness.
        let d = p.decide(3, &status(500), 1 << 63);
        assert_eq!(d, Decision::RetryAfter(2 * SECOND));
    }

    #[test]
    fn cap_holds_at_huge_attempt_numbers_and_durations() {
        let p = RetryPolicy::new().with_max_attempts(u32::MAX);
        for n in [0, 63, 64, 65, 127, 128, 129, 1_000, u32::MAX - 1] {
            let d = p.decide(n, &status(504), u64::MAX);
            let want = if n <= 1 { SECOND } else { 20 * SECOND };
            assert_eq!(d, Decision::RetryAfter(want), "{n}");
        }
        let huge = Duration::MAX;
        let p = p.with_base_delay(huge).with_max_delay(huge);
        let d = p.decide(u32::MAX - 1, &status(504), u64::MAX);
        assert_eq!(d, Decision::RetryAfter(Duration::from_nanos(u64::MAX)));
        let p = p.with_base_delay(Duration::ZERO);
        let d = p.decide(u32::MAX - 1, &status(504), u64::MAX);
        assert_eq!(d, Decision::RetryAfter(Duration::ZERO));
    }

    #[test]
    fn retry_after_is_honoured_exactly() {
        let p = RetryPolicy::new();
        for secs in [0, 1, 7, 59, 60] {
            for s in [429, 503, 500] {
                let d = p.decide(1, &retry_after(s, secs), u64::MAX);
                assert_eq!(d, Decision::RetryAfter(Duration::from_secs(secs)));
            }
        }
        // Longer than max_delay is fine, as long as it is within max_retry_after.
        assert!(Duration::from_secs(45) > p.max_delay());
    }

    #[test]
    fn retry_after_longer_than_max_gives_up() {
        let p = RetryPolicy::new();
        for requested in [Duration::from_millis(600_001), 3600 * SECOND, Duration::MAX] {
            let f = Failure::Status {
                status: 429,
                retry_after: Some(requested),
            };
            let want = GiveUpReason::RetryAfterTooLong {
                requested,
                max: 600 * SECOND,
            };
            assert_eq!(p.decide(1, &f, 0), Decision::GiveUp(want));
        }
        // The attempt budget still comes first.
        let d = p.decide(3, &retry_after(429, 3600), 0);
        let want = GiveUpReason::AttemptsExhausted { attempts: 3 };
        assert_eq!(d, Decision::GiveUp(want));
    }

    #[test]
    fn transport_failures() {
        let p = RetryPolicy::new();
        let again = Failure::Transport { retryable: true };
        let never = Failure::Transport { retryable: false };
        let d = p.decide(1, &again, u64::MAX);
        assert_eq!(d, Decision::RetryAfter(SECOND));
        let d = p.decide(3, &again, 0);
        let want = GiveUpReason::AttemptsExhausted { attempts: 3 };
        assert_eq!(d, Decision::GiveUp(want));
        let d = p.decide(1, &never, 0);
        assert_eq!(d, Decision::GiveUp(GiveUpReason::NotRetryable));
    }

    #[test]
    fn give_up_reasons_say_what_to_do() {
        let mut buf = heapless::String::<160>::new();
        let reason = GiveUpReason::RetryAfterTooLong {
            requested: 3600 * SECOND,
            max: 60 * SECOND,
        };
        fmt::write(&mut buf, format_args!("{reason}")).ok();
        assert!(
            buf.contains("3600s") && buf.contains("max_retry_after"),
            "{buf}"
        );
    }

    #[cfg(feature = "std")]
    mod prop {
        use super::*;
        use proptest::prelude::*;

        fn duration() -> impl Strategy<Value = Duration> {
            prop_oneof![
                (0u64..=120_000).prop_map(Duration::from_millis),
                (any::<u64>(), 0u32..1_000_000_000).prop_map(|(s, n)| Duration::new(s, n)),
                Just(Duration::ZERO),
                Just(Duration::MAX),
            ]
        }

        fn failure() -> impl Strategy<Value = Failure> {
            prop_oneof![
                (any::<u16>(), proptest::option::of(duration())).prop_map(
                    |(status, retry_after)| Failure::Status {
                        status,
                        retry_after
                    }
                ),
                any::<bool>().prop_map(|retryable| Failure::Transport { retryable }),
            ]
        }

        proptest! {
            #[test]
            fn decide_never_panics_and_stays_bounded(
                max_attempts: u32,
                base in duration(),
                max_delay in duration(),
                max_retry_after in duration(),
                attempts_made: u32,
                failure in failure(),
                random: u64,
            ) {
                let p = RetryPolicy::new()
                    .with_max_attempts(max_attempts)
                    .with_base_delay(base)
                    .with_max_delay(max_delay)
                    .with_max_retry_after(max_retry_after);
                if let Decision::RetryAfter(d) = p.decide(attempts_made, &failure, random) {
                    prop_assert!(d <= max_delay.max(max_retry_after));
                    prop_assert!(attempts_made < p.max_attempts());
                }
            }

            #[test]
            fn jitter_stays_within_the_backoff(n in 1u32..=300, random: u64) {
                let p = RetryPolicy::new().with_max_attempts(u32::MAX);
                let Decision::RetryAfter(d) = p.decide(n, &status(503), random) else {
                    return Err(TestCaseError::fail("gave up"));
                };
                prop_assert!(d <= jitter_cap(&p, n));
            }
        }
    }

    #[test]
    fn a_429_without_retry_after_waits_at_least_the_base_delay() {
        let p = RetryPolicy::new();
        for random in [0, 1, u64::MAX / 2, u64::MAX] {
            for attempt in 1..=2 {
                let Decision::RetryAfter(wait) = p.decide(attempt, &status(429), random) else {
                    panic!("429 not retried")
                };
                assert!(wait >= SECOND, "{wait:?} after attempt {attempt}");
                assert!(wait <= jitter_cap(&p, attempt).max(SECOND), "{wait:?}");
            }
        }
        // The first retry waits exactly the base delay; other statuses may retry at once.
        assert_eq!(p.decide(1, &status(429), 0), Decision::RetryAfter(SECOND));
        assert_eq!(
            p.decide(1, &status(503), 0),
            Decision::RetryAfter(Duration::ZERO)
        );
    }
}
