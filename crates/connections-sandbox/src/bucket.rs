//! Rate limits as token buckets: Smartcar's application bucket ([`Bucket`]) and the older
//! per-second limit ([`SandboxConfig::rate_limit`](crate::SandboxConfig::rate_limit)) are both
//! a [`Meter`], so both refuse, refill and say when to come back the same way.
//!
//! The arithmetic is exact and needs no background task: a meter keeps one number (the time
//! at which it would be full again, as the generic cell rate algorithm does) and works out
//! everything else from the time elapsed since the sandbox started, which its caller passes
//! in. Tests pass made-up times instead of sleeping.

use std::time::Duration;

/// A token bucket like the one Smartcar gives each application: `capacity` requests at once,
/// then one more every `refill_interval`. [`Bucket::SMARTCAR`] is the real one (120, refilling
/// 2 per minute), shared by all of an application's `/connections` traffic.
///
/// The bucket starts full; every authorized `/connections` request takes one token, and a
/// request that finds no whole token is answered 429 `RATE_LIMIT`/`SMARTCAR_API` without
/// taking any. Refill is continuous: the bucket holds fractional tokens, gains exactly one
/// per `refill_interval` from the moment it is below full, and never holds more than
/// `capacity`. So a full bucket of 3 refilling every 30 s, emptied at once, has its next
/// token exactly 30 s later, and the one after at 60 s.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bucket {
    /// Tokens when full: how many requests may come at once (at least 1).
    pub capacity: u32,
    /// How long one token takes to come back (more than zero).
    pub refill_interval: Duration,
}

impl Bucket {
    /// Smartcar's application bucket: 120 requests, refilling 2 per minute (one every 30 s).
    /// A listing of R requests against it takes at least `max(0, R − 120) × 30 s`.
    pub const SMARTCAR: Bucket = Bucket {
        capacity: 120,
        refill_interval: Duration::from_secs(30),
    };

    /// A bucket of `capacity` refilling `per_minute` tokens a minute, e.g. `(3, 10.0)` gets
    /// one back every 6 s. `None` unless `per_minute` is finite and positive and one token's
    /// interval (`60 s / per_minute`) is more than zero and fits a [`Duration`]; the interval
    /// is rounded to the nanosecond.
    pub fn with_refill_per_minute(capacity: u32, per_minute: f64) -> Option<Bucket> {
        if !per_minute.is_finite() || per_minute <= 0.0 {
            return None;
        }
        let refill_interval = Duration::try_from_secs_f64(60.0 / per_minute).ok()?;
        (!refill_interval.is_zero()).then_some(Bucket {
            capacity,
            refill_interval,
        })
    }
}

/// The arithmetic of one token bucket, in integer units so no refill is ever lost to
/// rounding: a rate of `per` tokens every `period` nanoseconds is counted in units of
/// `1 / per` ns, in which one token's interval is exactly `period` units (so 3 a second is
/// exact, not 333,333,333 ns a token).
#[derive(Debug)]
pub(crate) struct Meter {
    capacity: u128,
    /// One token's interval, in units (nanoseconds of `period` for `per` tokens).
    period: u128,
    /// Tokens per period; units are nanoseconds times this.
    per: u128,
    /// When the bucket will be full again if nothing more is taken, in units since the start.
    /// Every request that gets a token pushes it one interval later; a full bucket has it at
    /// or before now.
    full_at: u128,
}

impl Meter {
    /// A bucket of `capacity` tokens, refilling `per` tokens every `period` (`per` is taken
    /// as at least 1). With a zero `period` it never runs out.
    pub(crate) fn new(capacity: u32, period: Duration, per: u32) -> Meter {
        Meter {
            capacity: u128::from(capacity),
            period: period.as_nanos(),
            per: u128::from(per.max(1)),
            full_at: 0,
        }
    }

    /// [`Bucket`]: one token every `refill_interval`.
    pub(crate) fn bucket(bucket: Bucket) -> Meter {
        Meter::new(bucket.capacity, bucket.refill_interval, 1)
    }

    /// `limit` requests a second: a bucket of `limit` refilling `limit` a second. A limit of
    /// 0 refuses every request, with a wait of 1 s, as the fixed one-second windows this
    /// replaced did.
    pub(crate) fn per_second(limit: u32) -> Meter {
        Meter::new(limit, Duration::from_secs(1), limit)
    }

    /// Takes a token at `now` (time since the start), or says how long until there is one.
    /// A refused request takes nothing. Never panics and never answers a wait of zero: a
    /// bucket of capacity 0, which can hold no token, answers one interval (or
    /// [`Duration::MAX`] if that is zero too).
    pub(crate) fn take(&mut self, now: Duration) -> Result<(), Duration> {
        let Some(more) = self.capacity.checked_sub(1) else {
            let interval = from_nanos(self.period.div_ceil(self.per));
            return Err(if interval.is_zero() {
                Duration::MAX
            } else {
                interval
            });
        };
        let now = now.as_nanos().saturating_mul(self.per);
        let full_at = self.full_at.max(now);
        // A token is there while the bucket runs at most capacity − 1 intervals ahead of now.
        let slack = more.saturating_mul(self.period);
        let ahead = full_at - now;
        if ahead > slack {
            return Err(from_nanos((ahead - slack).div_ceil(self.per)));
        }
        self.full_at = full_at.saturating_add(self.period);
        Ok(())
    }
}

/// A `Retry-After` in whole seconds for a wait: rounded up, at least 1 (a client told 0 would
/// come straight back and be refused again).
pub(crate) fn retry_after_secs(wait: Duration) -> u64 {
    let secs = wait
        .as_secs()
        .saturating_add(u64::from(wait.subsec_nanos() > 0));
    secs.max(1)
}

/// `nanos` as a [`Duration`], saturating at [`Duration::MAX`].
fn from_nanos(nanos: u128) -> Duration {
    const PER_SEC: u128 = 1_000_000_000;
    match u64::try_from(nanos / PER_SEC) {
        // The remainder is below 10^9, so it fits a u32.
        Ok(secs) => Duration::new(secs, (nanos % PER_SEC) as u32),
        Err(_) => Duration::MAX,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);
    const MS: Duration = Duration::from_millis(1);

    /// How many tokens `meter` hands out at `now`, taking them all.
    fn drain(meter: &mut Meter, now: Duration) -> u32 {
        let mut n = 0;
        while meter.take(now).is_ok() {
            n += 1;
            assert!(n <= 1_000_000, "a bucket that never runs out");
        }
        n
    }

    #[test]
    fn a_bucket_starts_full_and_then_refuses_with_the_wait_for_the_next_token() {
        let mut m = Meter::bucket(Bucket {
            capacity: 3,
            refill_interval: 30 * S,
        });
        for _ in 0..3 {
            assert_eq!(m.take(Duration::ZERO), Ok(()));
        }
        assert_eq!(m.take(Duration::ZERO), Err(30 * S));
        // Refusals take nothing: the wait only shrinks with time.
        assert_eq!(m.take(10 * S), Err(20 * S));
        assert_eq!(m.take(10 * S), Err(20 * S));
        assert_eq!(m.take(30 * S - MS), Err(MS));
    }

    #[test]
    fn one_token_comes_back_per_interval_exactly() {
        let mut m = Meter::bucket(Bucket {
            capacity: 3,
            refill_interval: 30 * S,
        });
        assert_eq!(drain(&mut m, Duration::ZERO), 3);
        assert_eq!(drain(&mut m, 30 * S), 1);
        assert_eq!(m.take(30 * S), Err(30 * S));
        assert_eq!(drain(&mut m, 59 * S), 0);
        assert_eq!(drain(&mut m, 60 * S), 1);
        // Three intervals later it is full again, and no fuller.
        assert_eq!(drain(&mut m, 150 * S), 3);
        assert_eq!(drain(&mut m, 10_000 * S), 3);
    }

    #[test]
    fn refill_is_continuous_from_the_first_token_taken() {
        // Taken at 10 s, the token is back at 40 s, not at the next multiple of 30 s.
        let mut m = Meter::bucket(Bucket {
            capacity: 1,
            refill_interval: 30 * S,
        });
        assert_eq!(m.take(10 * S), Ok(()));
        assert_eq!(m.take(30 * S), Err(10 * S));
        assert_eq!(m.take(40 * S), Ok(()));
    }

    #[test]
    fn smartcars_bucket_takes_120_then_one_every_30_seconds() {
        let mut m = Meter::bucket(Bucket::SMARTCAR);
        assert_eq!(drain(&mut m, Duration::ZERO), 120);
        // A listing of 130 requests at full speed: 10 more, one per 30 s.
        let mut now = Duration::ZERO;
        for _ in 0..10 {
            let wait = m.take(now).unwrap_err();
            now += wait;
            assert_eq!(m.take(now), Ok(()));
        }
        assert_eq!(now, 10 * 30 * S, "the floor max(0, R - 120) x 30 s");
    }

    #[test]
    fn per_second_limits_are_exact_for_rates_that_do_not_divide_a_second() {
        let mut m = Meter::per_second(3);
        assert_eq!(drain(&mut m, Duration::ZERO), 3);
        // 333,333,333.3 ns a token: the first is back after 333,333,334 ns, not before.
        assert_eq!(
            m.take(Duration::ZERO),
            Err(Duration::from_nanos(333_333_334))
        );
        assert_eq!(drain(&mut m, Duration::from_nanos(333_333_333)), 0);
        assert_eq!(drain(&mut m, Duration::from_nanos(333_333_334)), 1);
        // No drift over an hour: the 10,800th token since the start comes back at exactly
        // 3600 s (with 333,333,333 ns a token it would be early, with 333,333,334 late).
        let mut m = Meter::per_second(3);
        let mut taken = drain(&mut m, Duration::ZERO);
        let mut now = 100 * MS;
        while now < 3600 * S {
            // Drained every 100 ms, the bucket is never full, so no refill is lost.
            taken += drain(&mut m, now);
            now += 100 * MS;
        }
        taken += drain(&mut m, 3600 * S - Duration::from_nanos(1));
        assert_eq!(taken, 3 + 10_799);
        assert_eq!(drain(&mut m, 3600 * S), 1);
    }

    #[test]
    fn per_second_limits_refill_their_whole_rate_each_second() {
        let mut m = Meter::per_second(5);
        assert_eq!(drain(&mut m, Duration::ZERO), 5);
        assert_eq!(drain(&mut m, S), 5);
        assert_eq!(drain(&mut m, S + 500 * MS), 2);
        let wait = m.take(S + 500 * MS).unwrap_err();
        assert!(wait <= 200 * MS && wait > Duration::ZERO, "{wait:?}");
        assert_eq!(retry_after_secs(wait), 1);
    }

    #[test]
    fn degenerate_buckets_neither_panic_nor_say_come_back_now() {
        // Capacity 0: every request refused, with a wait of one interval.
        let mut m = Meter::per_second(0);
        assert_eq!(m.take(Duration::ZERO), Err(S));
        assert_eq!(m.take(1_000 * S), Err(S));
        let mut m = Meter::bucket(Bucket {
            capacity: 0,
            refill_interval: 30 * S,
        });
        assert_eq!(m.take(Duration::ZERO), Err(30 * S));
        let mut m = Meter::bucket(Bucket {
            capacity: 0,
            refill_interval: Duration::ZERO,
        });
        assert_eq!(m.take(Duration::ZERO), Err(Duration::MAX));
        // A zero interval never runs out.
        let mut m = Meter::bucket(Bucket {
            capacity: 1,
            refill_interval: Duration::ZERO,
        });
        for _ in 0..100 {
            assert_eq!(m.take(Duration::ZERO), Ok(()));
        }
        // Huge numbers saturate instead of overflowing.
        let mut m = Meter::bucket(Bucket {
            capacity: u32::MAX,
            refill_interval: Duration::MAX,
        });
        assert_eq!(m.take(Duration::MAX), Ok(()));
        let mut m = Meter::bucket(Bucket {
            capacity: 1,
            refill_interval: Duration::MAX,
        });
        assert_eq!(m.take(Duration::ZERO), Ok(()));
        assert_eq!(m.take(Duration::ZERO), Err(Duration::MAX));
        let mut m = Meter::per_second(u32::MAX);
        assert_eq!(m.take(Duration::MAX), Ok(()));
        assert_eq!(retry_after_secs(Duration::MAX), u64::MAX);
    }

    #[test]
    fn retry_after_is_whole_seconds_rounded_up_and_at_least_one() {
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
        assert_eq!(retry_after_secs(Duration::from_nanos(1)), 1);
        assert_eq!(retry_after_secs(S), 1);
        assert_eq!(retry_after_secs(S + Duration::from_nanos(1)), 2);
        assert_eq!(retry_after_secs(29 * S + 999 * MS), 30);
        assert_eq!(retry_after_secs(30 * S), 30);
    }

    #[test]
    fn buckets_from_a_rate_per_minute() {
        assert_eq!(
            Bucket::with_refill_per_minute(3, 10.0),
            Some(Bucket {
                capacity: 3,
                refill_interval: 6 * S
            })
        );
        assert_eq!(
            Bucket::with_refill_per_minute(120, 2.0),
            Some(Bucket::SMARTCAR)
        );
        assert_eq!(
            Bucket::with_refill_per_minute(1, 0.5).map(|b| b.refill_interval),
            Some(120 * S)
        );
        for bad in [
            0.0,
            -1.0,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            1e-300,
            f64::MAX,
        ] {
            assert_eq!(Bucket::with_refill_per_minute(1, bad), None, "{bad}");
        }
    }
}
