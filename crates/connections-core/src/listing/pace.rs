//! When the next request may go: the user's request budget, and the pace learned from the
//! server's 429s.
//!
//! Smartcar gives each application one bucket of 120 requests that refills 2 a minute, shared
//! by all its traffic. A listing that ignores it bursts through the bucket, then meets a 429 on
//! nearly every page. A [`Pacer`] keeps two rules, both decided here with `now` passed in:
//!
//! - **A budget** ([`Budget`]): a token bucket the user sets (`--max-rate 10/min --burst 20`)
//!   to leave room for the application's own traffic. Requests never go faster than it, so a
//!   budget no larger than the server's bucket meets no 429 at all.
//! - **The server's pace**: off until the first 429. A 429 pauses every request until its
//!   `Retry-After`, or, without one, for a backoff that starts at one second and doubles up to
//!   a minute, with jitter. Then one request goes alone, to probe, and the others wait for its
//!   answer. The bucket is empty at each 429, so the successes between two 429s are what it
//!   refilled meanwhile: their count over the time between is the refill rate, accurate to
//!   one request. From the second 429 on, requests are spaced at that interval, probing ever
//!   faster while no 429 comes, so that a pace learned too slow catches up with the bucket and
//!   a listing meets about one 429 per change of pace, not one per page. A lone 429 (a burst
//!   of the application's other traffic) teaches no pace and slows nothing after its pause.
//!
//! ```
//! use connections_core::{Budget, Pacer, Rate};
//! # use core::time::Duration;
//! let rate: Rate = "2/min".parse()?;
//! let mut pacer = Pacer::new().with_budget(Some(Budget::new(rate, 2)));
//! let t0 = Duration::ZERO;
//! // The burst goes at once, then one request every 30 s.
//! for _ in 0..2 {
//!     assert_eq!(pacer.ready_at(t0).at, t0);
//!     pacer.on_send(t0);
//! }
//! assert_eq!(pacer.ready_at(t0).at, Duration::from_secs(30));
//! # Ok::<(), connections_core::InvalidRate>(())
//! ```

use core::fmt;
use core::num::NonZeroU32;
use core::str::FromStr;
use core::time::Duration;

/// The first wait after a 429 that names none, before any pace is learned.
pub const THROTTLE_BASE_DELAY: Duration = Duration::from_secs(1);

/// The longest backoff after repeated 429s that name no wait: about a minute, twice
/// Smartcar's refill interval.
pub const THROTTLE_MAX_DELAY: Duration = Duration::from_secs(60);

/// A request rate: `requests` per `per`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Rate {
    requests: NonZeroU32,
    per: Duration,
}

impl Rate {
    /// `requests` every `per`; `None` if `per` is zero.
    pub const fn new(requests: NonZeroU32, per: Duration) -> Option<Self> {
        if per.is_zero() {
            None
        } else {
            Some(Rate { requests, per })
        }
    }

    /// `requests` a second.
    pub const fn per_second(requests: NonZeroU32) -> Self {
        Rate {
            requests,
            per: Duration::from_secs(1),
        }
    }

    /// `requests` a minute.
    pub const fn per_minute(requests: NonZeroU32) -> Self {
        Rate {
            requests,
            per: Duration::from_secs(60),
        }
    }

    /// `requests` an hour.
    pub const fn per_hour(requests: NonZeroU32) -> Self {
        Rate {
            requests,
            per: Duration::from_secs(3600),
        }
    }

    /// How many requests each period allows.
    pub const fn requests(&self) -> NonZeroU32 {
        self.requests
    }

    /// The period.
    pub const fn per(&self) -> Duration {
        self.per
    }

    /// The time between two requests at this rate, rounded up to the nanosecond so that
    /// spacing by it never goes faster than the rate.
    pub fn interval(&self) -> Duration {
        let requests = u128::from(self.requests.get());
        let nanos = self.per.as_nanos().div_ceil(requests).max(1);
        Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = match self.per.as_secs() {
            1 if self.per.subsec_nanos() == 0 => "s",
            60 if self.per.subsec_nanos() == 0 => "min",
            3600 if self.per.subsec_nanos() == 0 => "h",
            _ => return write!(f, "{} per {:?}", self.requests, self.per),
        };
        write!(f, "{}/{unit}", self.requests)
    }
}

/// Why a text is not a [`Rate`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum InvalidRate {
    /// Not `N/s`, `N/min` or `N/h` with a whole `N` from 1 to 4,294,967,295.
    Format,
}

impl fmt::Display for InvalidRate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "a rate is a whole number of requests from 1 to 4294967295 per second, minute or \
             hour, written N/s, N/min or N/h (e.g. 10/min)",
        )
    }
}

impl core::error::Error for InvalidRate {}

impl FromStr for Rate {
    type Err = InvalidRate;

    /// `N/s`, `N/sec`, `N/m`, `N/min`, `N/h` or `N/hour`, ASCII digits only.
    fn from_str(text: &str) -> Result<Self, InvalidRate> {
        let (count, unit) = text.trim().split_once('/').ok_or(InvalidRate::Format)?;
        let (count, unit) = (count.trim(), unit.trim());
        if count.is_empty() || !count.bytes().all(|b| b.is_ascii_digit()) {
            return Err(InvalidRate::Format);
        }
        let requests = count
            .parse::<u32>()
            .ok()
            .and_then(NonZeroU32::new)
            .ok_or(InvalidRate::Format)?;
        match unit {
            "s" | "sec" | "second" => Ok(Rate::per_second(requests)),
            "m" | "min" | "minute" => Ok(Rate::per_minute(requests)),
            "h" | "hour" => Ok(Rate::per_hour(requests)),
            _ => Err(InvalidRate::Format),
        }
    }
}

/// A request budget: a token bucket of `burst` requests refilling at `rate`.
///
/// By any time `t` after the first request, at most `burst + rate × t` requests are sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Budget {
    rate: Rate,
    burst: NonZeroU32,
}

impl Budget {
    /// `rate`, with up to `burst` requests at once (0 is taken as 1).
    pub const fn new(rate: Rate, burst: u32) -> Self {
        let burst = match NonZeroU32::new(burst) {
            Some(burst) => burst,
            None => NonZeroU32::MIN,
        };
        Budget { rate, burst }
    }

    /// The sustained rate.
    pub const fn rate(&self) -> Rate {
        self.rate
    }

    /// Requests that may go at once.
    pub const fn burst(&self) -> NonZeroU32 {
        self.burst
    }
}

/// What holds the next request back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Hold {
    /// Nothing: it may go now.
    None,
    /// The user's [`Budget`].
    Budget,
    /// The pace learned from the server's 429s.
    Pace,
    /// A 429's pause.
    RateLimited,
}

/// The earliest instant the next request may go, and why not sooner.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Ready {
    /// On the caller's monotonic scale; at or before `now` means at once.
    pub at: Duration,
    /// What sets `at`.
    pub hold: Hold,
}

/// How long a probe after a 429 holds the other requests back at most, should its answer
/// never come (a listing dropped mid-request).
const PROBE_TIMEOUT: Duration = Duration::from_secs(60);

/// How many 429 instants the learned pace is measured over: enough to average out the
/// one-request error of each, few enough to follow a change of the server's pace.
const WINDOW: usize = 8;

/// Decides when requests may go; see the [module docs](self).
///
/// Every instant is a [`Now::elapsed`](crate::Now)-style reading on one monotonic scale:
/// share one pacer only between listings that share that scale's origin.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pacer {
    budget: Option<Budget>,
    /// The budget's theoretical arrival time (GCRA): the bucket is full while it is past.
    budget_tat: Duration,
    server: ServerPace,
}

/// What the server's 429s taught.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct ServerPace {
    /// No request goes before this: a 429's pause.
    paused_until: Duration,
    /// No request goes before this: the learned spacing since the last send.
    next_at: Duration,
    /// When the latest 429 that was news arrived (the bucket was empty then).
    last_throttle: Option<Duration>,
    /// When the first 429 arrived.
    first_throttle: Duration,
    /// 429s that were news, with no success between them.
    throttles_in_row: u32,
    /// While a probe is in flight after a 429 (no pace learned yet), no other request goes
    /// before this.
    probe_until: Option<Duration>,
    /// Successes of requests sent since the first 429.
    successes: u32,
    /// Successes since the latest 429: the probe speeds up with them.
    since_throttle: u32,
    /// 429 instants with the successes counted by then, oldest first; `marks` are in use.
    window: [(Duration, u32); WINDOW],
    marks: usize,
    /// The server's refill interval, as learned.
    interval: Option<Duration>,
}

impl Default for Pacer {
    fn default() -> Self {
        Self::new()
    }
}

impl Pacer {
    /// No budget, nothing learned: requests go at once until the first 429.
    pub const fn new() -> Self {
        Pacer {
            budget: None,
            budget_tat: Duration::ZERO,
            server: ServerPace {
                paused_until: Duration::ZERO,
                next_at: Duration::ZERO,
                last_throttle: None,
                first_throttle: Duration::ZERO,
                throttles_in_row: 0,
                probe_until: None,
                successes: 0,
                since_throttle: 0,
                window: [(Duration::ZERO, 0); WINDOW],
                marks: 0,
                interval: None,
            },
        }
    }

    /// Keeps requests within `budget` (none: only the server's pace).
    pub const fn with_budget(mut self, budget: Option<Budget>) -> Self {
        self.budget = budget;
        self
    }

    /// Starts from a pace learned before (e.g. by an earlier run of the same listing), so a
    /// listing that resumes does not burst into a bucket that is still empty.
    pub fn with_learned_interval(mut self, interval: Option<Duration>) -> Self {
        if let Some(interval) = interval {
            self.learn_interval(interval);
        }
        self
    }

    /// Keeps to `interval` from now on, unless a pace was learned already (what this pacer
    /// measured itself is newer).
    pub fn learn_interval(&mut self, interval: Duration) {
        if self.server.interval.is_some() {
            return;
        }
        self.server.interval = Some(interval.max(Duration::from_millis(1)));
        if self.server.last_throttle.is_none() {
            // Measured from here on, as if a 429 had just emptied the bucket.
            self.server.last_throttle = Some(Duration::ZERO);
            self.server.window[0] = (Duration::ZERO, 0);
            self.server.marks = 1;
        }
    }

    /// The budget, if any.
    pub const fn budget(&self) -> Option<Budget> {
        self.budget
    }

    /// The server's refill interval as learned from its 429s, once one is known.
    pub const fn learned_interval(&self) -> Option<Duration> {
        self.server.interval
    }

    /// When the next request may go.
    pub fn ready_at(&self, now: Duration) -> Ready {
        let mut ready = Ready {
            at: now,
            hold: Hold::None,
        };
        let budget = self.budget.map(|b| {
            let allowance = b.rate.interval().saturating_mul(b.burst.get() - 1);
            self.budget_tat.saturating_sub(allowance)
        });
        // On a tie the server's 429 is named: it is what the user needs to know about.
        let probe = self.server.probe_until.unwrap_or(Duration::ZERO);
        for (at, hold) in [
            (self.server.paused_until.max(probe), Hold::RateLimited),
            (self.server.next_at, Hold::Pace),
            (budget.unwrap_or(Duration::ZERO), Hold::Budget),
        ] {
            if at > ready.at {
                ready = Ready { at, hold };
            }
        }
        ready
    }

    /// A request was sent at `now`.
    pub fn on_send(&mut self, now: Duration) {
        if let Some(budget) = self.budget {
            self.budget_tat = self
                .budget_tat
                .max(now)
                .saturating_add(budget.rate.interval());
        }
        let server = &mut self.server;
        if let Some(spacing) = server.spacing() {
            server.next_at = now.saturating_add(spacing);
        } else if server.throttles_in_row > 0 {
            server.probe_until = Some(now.saturating_add(PROBE_TIMEOUT));
        }
    }

    /// A request got no answer (a network failure): a probe it was ends.
    pub fn on_failure(&mut self) {
        self.server.probe_until = None;
    }

    /// A request sent at `sent_at` got an answer other than 429.
    pub fn on_success(&mut self, sent_at: Duration) {
        let server = &mut self.server;
        server.probe_until = None;
        // The burst that emptied the bucket spent tokens from before the first 429.
        if server.last_throttle.is_none() || sent_at < server.first_throttle {
            return;
        }
        server.successes = server.successes.saturating_add(1);
        server.since_throttle = server.since_throttle.saturating_add(1);
        server.throttles_in_row = 0;
    }

    /// A request sent at `sent_at` was answered 429 at `now`, with the server's
    /// `Retry-After` as a wait if it sent one. Returns the pause: no request goes before
    /// `now` plus it. `random` is a fresh random `u64` for the jitter.
    pub fn on_rate_limited(
        &mut self,
        sent_at: Duration,
        now: Duration,
        retry_after: Option<Duration>,
        random: u64,
    ) -> Duration {
        let server = &mut self.server;
        server.probe_until = None;
        // A request sent before the latest 429 arrived is part of the same burst: the pause
        // already covers it, and it says nothing new about the pace.
        let news = server.last_throttle.is_none_or(|last| sent_at >= last);
        if news {
            if server.last_throttle.is_none() {
                server.first_throttle = now;
            }
            server.throttles_in_row = server.throttles_in_row.saturating_add(1);
            server.since_throttle = 0;
            server.last_throttle = Some(now);
            server.mark(now);
        }
        let wait = match (retry_after, server.interval) {
            (Some(wait), _) => wait,
            (None, _) if !news => server
                .paused_until
                .saturating_sub(now)
                .max(THROTTLE_BASE_DELAY),
            // The bucket is empty and refills one request per interval.
            (None, Some(interval)) => doubled(interval, server.throttles_in_row)
                .clamp(THROTTLE_BASE_DELAY, THROTTLE_MAX_DELAY.max(interval)),
            (None, None) => {
                let ceiling =
                    doubled(THROTTLE_BASE_DELAY, server.throttles_in_row).min(THROTTLE_MAX_DELAY);
                let floor = (ceiling / 2).max(THROTTLE_BASE_DELAY).min(ceiling);
                floor.saturating_add(pick(ceiling.saturating_sub(floor), random))
            }
        };
        server.paused_until = server.paused_until.max(now.saturating_add(wait));
        wait
    }
}

impl ServerPace {
    /// Records a 429 instant, re-estimating the interval over the window: between two
    /// 429s the bucket went from empty to empty, so the successes in between are what it
    /// refilled.
    fn mark(&mut self, now: Duration) {
        if self.marks == WINDOW {
            self.window.copy_within(1.., 0);
            self.marks -= 1;
        }
        self.window[self.marks] = (now, self.successes);
        self.marks += 1;
        let (since, counted) = self.window[0];
        let successes = self.successes.saturating_sub(counted);
        if self.marks > 1 && successes > 0 {
            let interval = now.saturating_sub(since) / successes;
            self.interval = Some(interval.max(Duration::from_millis(1)));
        }
    }

    /// The spacing between requests: the learned interval, shortened as successes come
    /// without a 429 (by 0.1 % after 16, doubling every 16 more, at most halved), so a pace
    /// learned too slow catches up with the bucket, and a right one meets a 429 about once
    /// every hundred requests.
    fn spacing(&self) -> Option<Duration> {
        let interval = self.interval?;
        let Some(doublings) = (self.since_throttle / 16).checked_sub(1) else {
            return Some(interval);
        };
        let fraction = 1_u64 << doublings.min(9);
        // interval × (1 − fraction/1024), at most halved.
        let cut = interval.saturating_mul(u32::try_from(fraction).unwrap_or(512)) / 1024;
        Some(interval.saturating_sub(cut.min(interval / 2)))
    }
}

/// `base × 2^(n − 1)`, saturating.
fn doubled(base: Duration, n: u32) -> Duration {
    let doublings = n.saturating_sub(1).min(32);
    base.saturating_mul(1_u32 << doublings.min(31))
}

/// A wait uniform in `0..=range`, from `random`.
fn pick(range: Duration, random: u64) -> Duration {
    let range = range.as_nanos().min(u128::from(u64::MAX));
    let nanos = ((range + 1) * u128::from(random)) >> 64;
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    fn nz(n: u32) -> NonZeroU32 {
        NonZeroU32::new(n).unwrap()
    }

    #[test]
    fn rates_parse_as_people_write_them() {
        assert_eq!("10/min".parse(), Ok(Rate::per_minute(nz(10))));
        assert_eq!(" 2/s ".parse(), Ok(Rate::per_second(nz(2))));
        assert_eq!("100/h".parse(), Ok(Rate::per_hour(nz(100))));
        assert_eq!("7/hour".parse(), Ok(Rate::per_hour(nz(7))));
        for bad in [
            "",
            "/s",
            "0/s",
            "-1/s",
            "1.5/s",
            "1e3/s",
            "10",
            "10/day",
            "١٠/s",
            "99999999999/s",
            "NaN/s",
            "inf/min",
            "+1/s",
        ] {
            assert_eq!(bad.parse::<Rate>(), Err(InvalidRate::Format), "{bad:?}");
        }
        assert_eq!(Rate::per_minute(nz(2)).interval(), 30 * S);
        let mut text = heapless::String::<16>::new();
        fmt::write(&mut text, format_args!("{}", Rate::per_minute(nz(2)))).unwrap();
        assert_eq!(text.as_str(), "2/min");
    }

    #[test]
    fn a_budget_allows_its_burst_then_its_rate() {
        let mut pacer = Pacer::new().with_budget(Some(Budget::new(Rate::per_second(nz(2)), 3)));
        let mut sent = 0;
        let mut now = Duration::ZERO;
        while now <= 10 * S {
            let ready = pacer.ready_at(now);
            if ready.at <= now {
                pacer.on_send(now);
                sent += 1;
            } else {
                assert_eq!(ready.hold, Hold::Budget);
                now = ready.at;
            }
        }
        // 3 at once, then 2 a second for 10 s.
        assert_eq!(sent, 3 + 20);
    }

    #[test]
    fn a_429_without_retry_after_backs_off_doubling_to_a_minute() {
        let mut pacer = Pacer::new();
        let mut now = Duration::ZERO;
        let mut waits = [Duration::ZERO; 9];
        for wait in &mut waits {
            pacer.on_send(now);
            *wait = pacer.on_rate_limited(now, now, None, u64::MAX);
            assert_eq!(pacer.ready_at(now).hold, Hold::RateLimited);
            now += *wait;
        }
        let secs = waits.map(|w| w.as_secs());
        assert_eq!(secs, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
        // With the least jitter, half the ceiling (never under the base delay).
        let mut pacer = Pacer::new();
        let low: [u64; 4] =
            core::array::from_fn(|_| pacer.on_rate_limited(now, now, None, 0).as_millis() as u64);
        assert_eq!(low, [1000, 1000, 2000, 4000]);
    }

    #[test]
    fn stale_429s_from_one_burst_do_not_escalate() {
        let mut pacer = Pacer::new();
        let first = pacer.on_rate_limited(Duration::ZERO, S, None, u64::MAX);
        // Seven more, sent before the first 429 arrived.
        for _ in 0..7 {
            pacer.on_rate_limited(Duration::ZERO, S, None, u64::MAX);
        }
        assert_eq!(first, S);
        assert_eq!(pacer.ready_at(S).at, 2 * S);
        // The next, sent after, doubles once.
        assert_eq!(pacer.on_rate_limited(2 * S, 2 * S, None, u64::MAX), 2 * S);
    }

    #[test]
    fn the_interval_is_learned_between_429s() {
        let mut pacer = Pacer::new();
        // The bucket empties at 10 s, then refills one request every 30 s; the client sends
        // every 20 s, so every other request is refused.
        pacer.on_rate_limited(10 * S, 10 * S, Some(20 * S), 0);
        // One probe at a time until a pace is learned.
        pacer.on_send(30 * S);
        assert_eq!(pacer.ready_at(30 * S).hold, Hold::RateLimited);
        pacer.on_success(30 * S);
        assert_eq!(pacer.ready_at(30 * S).hold, Hold::None);
        assert_eq!(pacer.learned_interval(), None, "a lone 429 teaches no pace");
        let mut t = 30 * S;
        for _ in 0..20 {
            t += 30 * S;
            pacer.on_success(t);
        }
        t += 30 * S;
        pacer.on_rate_limited(t, t, None, 0);
        // 21 successes between the 429s at 10 s and 660 s.
        assert_eq!(pacer.learned_interval(), Some((650 * S) / 21));
    }

    #[test]
    fn a_learned_pace_spaces_every_request() {
        let mut pacer = Pacer::new().with_learned_interval(Some(30 * S));
        pacer.on_send(Duration::ZERO);
        assert_eq!(
            pacer.ready_at(Duration::ZERO),
            Ready {
                at: 30 * S,
                hold: Hold::Pace
            }
        );
        // A 429 then waits one interval, the time the bucket takes to refill one request.
        assert_eq!(pacer.on_rate_limited(S, S, None, 0), 30 * S);
    }
}
