//! Application tokens as both transports fetch them: the core's [`TokenCache`] behind a lock,
//! one fetch at a time, waiters that get the fetch's outcome, and the tracing of each fetch.
//!
//! A transport only sends the token request ([`token_http_request`]) and waits
//! ([`AppTokens::wait`] or [`AppTokens::wait_blocking`]); every rule lives here or in the core.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use connections_core::{
    AccessToken, ClientCredentials, Failure, IssuedToken, Lookup, Response, TokenCache, TokenId,
    UnixTime,
};
use event_listener::{Event, Listener};

use crate::{Clock, Config, Error, Exchanged, random_seed};

/// The application tokens of one client, shared by its clones and their requests.
///
/// Token lifetimes are counted on a [`Clock`]: the cache's own, started with it, for
/// [`need`](Self::need), or the transport's, for [`need_on`](Self::need_on) (so that they
/// move with its timers). One cache is read on one clock throughout.
pub struct AppTokens {
    credentials: ClientCredentials,
    clock: Clock,
    state: Mutex<State>,
    settled: Event,
}

struct State {
    cache: TokenCache,
    /// The number of the latest fetch.
    flight: u64,
    /// The latest failed fetch and its error, for the requests that waited on it.
    failed: Option<(u64, Error)>,
    /// Whether the latest fetch has ended.
    done: bool,
}

/// What a request does for its token, from [`AppTokens::need`].
#[derive(Debug)]
pub enum Need {
    /// Send with this token. With a `refresh`, it is due for renewal: start that fetch in the
    /// background (it does not hold up this request).
    Use {
        /// The token.
        token: AccessToken<'static>,
        /// Which token it is, for [`AppTokens::rejected`].
        id: TokenId,
        /// A renewal this request alone was asked to start.
        refresh: Option<Fetch>,
    },
    /// No usable token: this request alone fetches one, then reports it with [`Fetch::finish`].
    Fetch(Fetch),
    /// Another request is fetching: wait for it ([`AppTokens::wait`]), then ask again.
    Wait(Flight),
}

/// One fetch in progress, by number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Flight(u64);

/// The duty to fetch a token and report it. Dropped unfinished (a cancelled task, a panic),
/// it ends the fetch as failed, so waiters never wait for a fetch nobody makes.
#[must_use = "report the fetch with finish(), or waiters see it fail"]
pub struct Fetch {
    tokens: Arc<AppTokens>,
    /// The clock the lookup that started this fetch read.
    clock: Clock,
    flight: Flight,
    finished: bool,
}

impl fmt::Debug for Fetch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Fetch").field(&self.flight).finish()
    }
}

impl Fetch {
    /// Reports the outcome of the fetch whose first request was sent at `sent`, read on the
    /// clock of the lookup that started it (the token's lifetime counts from there), wakes
    /// the waiters, and returns the token to use.
    pub fn finish(
        mut self,
        sent: Instant,
        outcome: Result<IssuedToken, Error>,
    ) -> Result<(AccessToken<'static>, TokenId), Error> {
        self.finished = true;
        let tokens = &self.tokens;
        let result = {
            let mut state = tokens.lock();
            state.done = true;
            match outcome {
                Ok(issued) => {
                    let since = self.clock.elapsed_at(sent);
                    Ok(state.cache.fetched(issued, since))
                }
                Err(error) => {
                    let error = tokens.final_error(error);
                    state.cache.fetch_failed();
                    state.failed = Some((self.flight.0, error.replica()));
                    Err(error)
                }
            }
        };
        tokens.settled.notify(usize::MAX);
        result
    }
}

impl Drop for Fetch {
    fn drop(&mut self) {
        if !self.finished {
            {
                let mut state = self.tokens.lock();
                state.done = true;
                state.cache.fetch_failed();
                state.failed = Some((self.flight.0, Error::TokenCancelled));
            }
            self.tokens.settled.notify(usize::MAX);
        }
    }
}

impl AppTokens {
    /// An empty cache for `credentials`.
    pub fn new(credentials: ClientCredentials) -> Arc<Self> {
        Arc::new(AppTokens {
            credentials,
            clock: Clock::start(),
            state: Mutex::new(State {
                cache: TokenCache::new(random_seed()),
                flight: 0,
                failed: None,
                done: true,
            }),
            settled: Event::new(),
        })
    }

    /// The client id, secret and token endpoint.
    pub fn credentials(&self) -> &ClientCredentials {
        &self.credentials
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The state stays consistent between statements, so a panic elsewhere leaves it usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// What a request should do for its token now, on the cache's own clock (std's).
    pub fn need(self: &Arc<Self>) -> Need {
        self.need_on(&self.clock)
    }

    /// What a request should do for its token now, on `clock`: the transport's, which its
    /// timers run on. A [`Fetch`] it starts is finished on the same clock.
    pub fn need_on(self: &Arc<Self>, clock: &Clock) -> Need {
        let mut state = self.lock();
        let now = clock.now().elapsed;
        let start = |state: &mut State| {
            state.flight += 1;
            state.done = false;
            Fetch {
                tokens: self.clone(),
                clock: *clock,
                flight: Flight(state.flight),
                finished: false,
            }
        };
        match state.cache.lookup(now) {
            Lookup::Use { token, id, refresh } => Need::Use {
                token,
                id,
                refresh: refresh.then(|| start(&mut state)),
            },
            Lookup::Fetch => Need::Fetch(start(&mut state)),
            Lookup::Wait => Need::Wait(Flight(state.flight)),
        }
    }

    /// Whether `flight` has ended.
    fn settled(&self, flight: Flight) -> bool {
        let state = self.lock();
        state.flight != flight.0 || state.done
    }

    /// Waits until `flight` ends; then its error, if it failed, which the waiting request
    /// reports too instead of fetching again.
    pub async fn wait(&self, flight: Flight) -> Result<(), Error> {
        loop {
            let listener = self.settled.listen();
            if self.settled(flight) {
                return self.outcome(flight);
            }
            listener.await;
        }
    }

    /// [`wait`](Self::wait), blocking the thread.
    pub fn wait_blocking(&self, flight: Flight) -> Result<(), Error> {
        loop {
            let listener = self.settled.listen();
            if self.settled(flight) {
                return self.outcome(flight);
            }
            listener.wait();
        }
    }

    fn outcome(&self, flight: Flight) -> Result<(), Error> {
        match &self.lock().failed {
            Some((failed, error)) if *failed == flight.0 => Err(error.replica()),
            _ => Ok(()),
        }
    }

    /// What a token fetch that failed after its retries means for the request that needed
    /// it: final, so the listing does not retry the page and multiply the token endpoint's
    /// retries. A network failure (a host that does not resolve included) becomes
    /// [`Error::TokenUnreachable`] naming the token endpoint and worded for the token URL
    /// (still exit 4 in the CLI); the endpoint's own answers stay [`Error::TokenEndpoint`].
    pub fn final_error(&self, error: Error) -> Error {
        match error {
            Error::Timeout(_)
            | Error::Connect(_)
            | Error::Connection(_)
            | Error::Tls(_)
            | Error::UnknownHost(_) => {
                let url = self.credentials.token_url();
                Error::TokenUnreachable {
                    endpoint: format!(
                        "{}://{}:{}{}",
                        url.scheme(),
                        url.host(),
                        url.port(),
                        url.prefix()
                    ),
                    cause: Box::new(error),
                }
            }
            other => other,
        }
    }

    /// [`token_retry_wait`], with a `Retry-After` date read against `clock`'s wall time: the
    /// transport's, so that the wait agrees with the timer that sleeps it.
    pub fn retry_wait_on(
        &self,
        clock: &Clock,
        config: &Config,
        attempts_made: u32,
        error: &Error,
    ) -> Option<Duration> {
        retry_wait(clock.now().unix, config, attempts_made, error)
    }

    /// The API answered 401 to token `id`: drops it, once, so the next [`need`](Self::need)
    /// fetches a fresh one. Returns whether this call dropped it.
    pub fn rejected(&self, id: TokenId) -> bool {
        let dropped = self.lock().cache.rejected(id);
        if dropped {
            tracing::info!(target: "connections", "the API refused the application token (401); fetching a new one");
        }
        dropped
    }
}

impl fmt::Debug for AppTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppTokens")
            .field("credentials", &self.credentials)
            .finish_non_exhaustive()
    }
}

/// The token request as an `http::Request`, with the configured `User-Agent`.
pub fn token_http_request<B: From<Vec<u8>>>(
    config: &Config,
    tokens: &AppTokens,
) -> Result<http::Request<B>, Error> {
    tokens
        .credentials
        .token_request()
        .to_http_request(config.user_agent())
        // The URL was checked by `BaseUrl` and the headers are constants.
        .map_err(|e| Error::TokenRequest(Box::new(e)))
}

/// What the token endpoint's answer to `tokens`' request means: a token, or why there is
/// none (an error page's start shown without the secret).
pub fn read_token_answer(
    tokens: &AppTokens,
    (head, body): &Exchanged,
) -> Result<IssuedToken, Error> {
    Response::from_http(head, body)
        .issued_token_for(&tokens.credentials)
        .map_err(Error::TokenEndpoint)
}

/// How long to wait before asking the token endpoint again after `attempts_made` attempts
/// ended with `error`, or `None` to give up: the client's retry policy, as for the API. A
/// retry is logged here (`info`, with `wait_ms`), so both transports say it alike.
pub fn token_retry_wait(config: &Config, attempts_made: u32, error: &Error) -> Option<Duration> {
    retry_wait(
        UnixTime::from(SystemTime::now()),
        config,
        attempts_made,
        error,
    )
}

/// [`token_retry_wait`] with a `Retry-After` date read at `unix`.
fn retry_wait(
    unix: UnixTime,
    config: &Config,
    attempts_made: u32,
    error: &Error,
) -> Option<Duration> {
    let failure = match error {
        Error::TokenEndpoint(e) => e.to_failure(unix),
        other => Failure::Transport {
            retryable: other.is_retryable(),
        },
    };
    match config
        .retry_policy()
        .decide(attempts_made, &failure, random_seed())
    {
        connections_core::Decision::RetryAfter(wait) => {
            let wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX);
            tracing::info!(
                target: "connections",
                error = %error.chain(),
                wait_ms,
                "token request failed, retrying in {:.1} s",
                wait.as_secs_f64()
            );
            Some(wait)
        }
        _ => None,
    }
}

/// The tracing span of one token fetch: `connections.token` with the endpoint, and, recorded
/// by [`record_token_outcome`], `attempts`, `status`, `elapsed_ms` and `expires_in`. It
/// never holds the secret or the token.
pub fn token_span(tokens: &AppTokens) -> tracing::Span {
    use tracing::field::Empty;
    let url = tokens.credentials.token_url();
    tracing::info_span!(
        "connections.token",
        endpoint = %format_args!("{}://{}:{}{}", url.scheme(), url.host(), url.port(), url.prefix()),
        attempts = Empty,
        status = Empty,
        elapsed_ms = Empty,
        expires_in = Empty,
    )
}

/// Records a token fetch's outcome on its span and logs it: `info` for a token, `warn` for
/// a failure.
pub fn record_token_outcome(
    span: &tracing::Span,
    started: Instant,
    attempts: u32,
    status: Option<u16>,
    outcome: &Result<IssuedToken, Error>,
) {
    let elapsed = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    span.record("elapsed_ms", elapsed);
    span.record("attempts", attempts);
    if let Some(status) = status {
        span.record("status", status);
    }
    match outcome {
        Ok(issued) => {
            if let Some(life) = issued.expires_in {
                span.record("expires_in", life.as_secs());
            }
            tracing::info!(target: "connections", parent: span, "fetched an application token");
        }
        // Errors never hold the secret or a token.
        Err(error) => {
            tracing::warn!(target: "connections", parent: span, error = %error.chain(), "token fetch failed")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use connections_core::ClientSecret;
    use std::sync::Barrier;

    fn tokens() -> Arc<AppTokens> {
        let secret = ClientSecret::new("s").unwrap_or_else(|e| panic!("{e}"));
        let credentials = ClientCredentials::new("id", secret).unwrap_or_else(|e| panic!("{e}"));
        AppTokens::new(credentials)
    }

    fn issued(token: &str) -> IssuedToken {
        let body =
            format!(r#"{{"access_token":"{token}","token_type":"Bearer","expires_in":3600}}"#);
        Response::new(200, body.as_bytes())
            .issued_token()
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Eight threads need a token at once: one fetches, seven wait, all end with its token.
    fn race(outcome: fn() -> Result<IssuedToken, Error>) -> Vec<Result<String, Error>> {
        let tokens = tokens();
        let start = Arc::new(Barrier::new(8));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (tokens, start) = (tokens.clone(), start.clone());
                std::thread::spawn(move || {
                    start.wait();
                    loop {
                        match tokens.need() {
                            Need::Use { token, .. } => return Ok(token.expose_secret().to_owned()),
                            Need::Fetch(fetch) => {
                                std::thread::sleep(Duration::from_millis(50));
                                let (token, _) = fetch.finish(Instant::now(), outcome())?;
                                return Ok(format!("fetched {}", token.expose_secret()));
                            }
                            Need::Wait(flight) => tokens.wait_blocking(flight)?,
                        }
                    }
                })
            })
            .collect();
        threads
            .into_iter()
            .map(|t| t.join().unwrap_or_else(|_| panic!("a thread panicked")))
            .collect()
    }

    #[test]
    fn one_request_fetches_and_the_others_use_its_token() {
        let results = race(|| Ok(issued("t1")));
        let fetched = results
            .iter()
            .filter(|r| matches!(r, Ok(t) if t == "fetched t1"))
            .count();
        let used = results
            .iter()
            .filter(|r| matches!(r, Ok(t) if t == "t1"))
            .count();
        assert_eq!((fetched, used), (1, 7), "{results:?}");
    }

    #[test]
    fn the_waiters_get_the_failure_of_the_fetch_they_waited_for() {
        let results = race(|| {
            Err(Error::Timeout(crate::Timeout::Request(
                Duration::from_secs(1),
            )))
        });
        // Final for every request (retried already while fetching), naming the endpoint.
        assert!(
            results.iter().all(|r| matches!(r, Err(e @ Error::TokenUnreachable { .. })
                if !e.is_retryable() && e.to_string().contains("token endpoint https://iam.smartcar.com:443/oauth2/token")
                    && e.to_string().contains("did not complete"))),
            "{results:?}"
        );
    }

    #[test]
    fn a_fetch_dropped_unfinished_fails_its_waiters_and_frees_the_next_fetch() {
        let tokens = tokens();
        let Need::Fetch(fetch) = tokens.need() else {
            panic!("a cold cache fetches")
        };
        let Need::Wait(flight) = tokens.need() else {
            panic!("a fetch is in flight")
        };
        drop(fetch);
        assert!(matches!(
            tokens.wait_blocking(flight),
            Err(Error::TokenCancelled)
        ));
        assert!(matches!(tokens.need(), Need::Fetch(_)));
    }

    #[test]
    fn a_rejected_token_is_fetched_again_once() {
        let tokens = tokens();
        let Need::Fetch(fetch) = tokens.need() else {
            panic!("a cold cache fetches")
        };
        let (_, id) = fetch
            .finish(Instant::now(), Ok(issued("t1")))
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(tokens.rejected(id));
        assert!(!tokens.rejected(id));
        let Need::Fetch(_held) = tokens.need() else {
            panic!("a rejected token is fetched again")
        };
        assert!(matches!(tokens.need(), Need::Wait(_)));
    }

    /// How far the fake source below has been advanced, in seconds.
    static ADVANCED_S: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

    /// A clock that stands still unless advanced, like tokio's paused clock, and starts
    /// apart from std's (as a runtime's may), so that mixing the two shows.
    fn paused() -> Instant {
        static BASE: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
        let base = *BASE.get_or_init(|| Instant::now() + Duration::from_secs(10_000));
        base + Duration::from_secs(ADVANCED_S.load(std::sync::atomic::Ordering::SeqCst))
    }

    fn advance_to(secs: u64) {
        ADVANCED_S.store(secs, std::sync::atomic::Ordering::SeqCst);
    }

    /// Lifetimes and `Retry-After` dates read on the transport's clock, not the cache's own
    /// (this is the one test that moves the fake clock, so no other can see it jump).
    #[test]
    fn a_cache_on_the_transports_clock_counts_on_it() {
        let tokens = tokens();
        let clock = Clock::with_source(paused);
        let Need::Fetch(fetch) = tokens.need_on(&clock) else {
            panic!("a cold cache fetches")
        };
        // Sent at the clock's origin: the hour-long token expires an hour later, on it.
        let _ = fetch.finish(paused(), Ok(issued("t1")));
        advance_to(3_500);
        assert!(
            matches!(tokens.need_on(&clock), Need::Use { refresh: None, .. }),
            "fresh until its last minute and a half"
        );
        advance_to(3_600);
        assert!(
            matches!(tokens.need_on(&clock), Need::Fetch(_)),
            "expired an hour after it was sent, on the clock it was read on"
        );

        // The token endpoint asks to come back at a date 600 s after the clock's now; it has
        // been advanced by 590 s meanwhile, so 10 s are left.
        struct Settings(Config);
        impl crate::FromConfig for Settings {
            type TokenSource = str;
            fn from_config(config: Config, _: Option<Arc<str>>) -> Result<Self, Error> {
                Ok(Settings(config))
            }
        }
        let Ok(Settings(config)) = crate::Builder::<Settings>::default().token("t").build() else {
            panic!("valid settings refused")
        };
        advance_to(0);
        let clock = Clock::with_source(paused);
        let date = http_date(clock.now().unix.0 + 600);
        let answer = http::Response::builder()
            .status(503)
            .header("content-type", "application/json")
            .header("retry-after", &date)
            .body(())
            .unwrap_or_else(|e| panic!("{e}"))
            .into_parts()
            .0;
        let body = br#"{"error":"temporarily_unavailable"}"#.to_vec();
        let Err(error) = read_token_answer(&tokens, &(answer, body)) else {
            panic!("a 503 is no token")
        };
        advance_to(590);
        let wait = tokens.retry_wait_on(&clock, &config, 1, &error);
        let wait = wait.unwrap_or_else(|| panic!("{error} not retried after {date}"));
        assert!(
            (9..=11).contains(&wait.as_secs()),
            "{wait:?} until {date}, 590 s on"
        );
    }

    /// An IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`) of `unix` seconds.
    fn http_date(unix: i64) -> String {
        const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
        const MONTHS: [&str; 12] = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ];
        let (days, secs) = (unix.div_euclid(86_400), unix.rem_euclid(86_400));
        // Howard Hinnant's civil_from_days.
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + i64::from(month <= 2);
        format!(
            "{}, {day:02} {} {year} {:02}:{:02}:{:02} GMT",
            DAYS[days.rem_euclid(7) as usize],
            MONTHS[(month - 1) as usize],
            secs / 3_600,
            secs / 60 % 60,
            secs % 60
        )
    }

    #[test]
    fn http_dates_are_written_as_the_rfc_shows() {
        assert_eq!(http_date(784_111_777), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(http_date(951_782_400), "Tue, 29 Feb 2000 00:00:00 GMT");
    }
}
