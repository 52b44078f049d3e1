//! What went wrong with one attempt, and which HTTP statuses are worth retrying: what a
//! response tells the retry policy, kept here so that classifying a response needs nothing
//! from the policy that acts on it.

use core::time::Duration;

/// Whether an HTTP status is worth retrying: exactly 429, 500, 502, 503 and 504.
///
/// 429 is Smartcar's rate limit, and 500/502/503/504 are transient server or gateway trouble.
/// Every other status is a final answer: other 4xx mean the request itself is wrong (430 is
/// Smartcar's billing error; retrying won't pay the bill), and 501/505+ won't change either.
/// This is the one place the rule lives.
pub const fn is_retryable_status(status: u16) -> bool {
    matches!(status, 429 | 500 | 502 | 503 | 504)
}

/// What went wrong with one attempt, as the transport saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Failure {
    /// The server answered with a status the caller treats as an error.
    Status {
        /// The HTTP status code.
        status: u16,
        /// The server's `Retry-After`, already turned into a wait
        /// (see [`RetryAfter::delay_from`](super::retry_after::RetryAfter::delay_from)); `None` if absent or
        /// unparsable.
        retry_after: Option<Duration>,
    },
    /// No usable response arrived.
    Transport {
        /// `true` when trying again may help: connect errors, timeouts, connection resets.
        /// `false` for errors that will repeat, such as a bad certificate or an invalid URL.
        retryable: bool,
    },
}
