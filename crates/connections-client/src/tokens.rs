//! Application tokens as both transports fetch them: the core's [`TokenCache`] behind a lock,
//! one fetch at a time, waiters that get the fetch's outcome, and the tracing of each fetch.
//!
//! A transport only sends the requests of a [`TokenAttempts`], sleeps the waits it names,
//! and waits for others' fetches ([`AppTokens::wait`] or [`AppTokens::wait_blocking`]). The
//! rules (when to fetch, when to retry, the 401 rule) are the core's.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use connections_core::{
    AccessToken, ClientCredentials, Failure, IssuedToken, Lookup, RefreshOnce, Response,
    TokenCache, TokenId, TokenRetries,
};
use event_listener::{Event, Listener};

use crate::{Clock, Config, Error, Exchanged, Tokens, random_seed};

/// The application tokens of one client, shared by its clones and their requests.
///
/// Token lifetimes are counted on the [`Clock`] each lookup passes: its config's, the one
/// clock every listing and token of a client reads (so that they move with the transport's
/// timers).
pub struct AppTokens {
    credentials: ClientCredentials,
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
        /// Which token it is, for the 401 rule ([`Tokens::send_again`]).
        id: TokenId,
        /// A renewal this request alone was asked to start.
        refresh: Option<Fetch>,
    },
    /// No usable token: this request alone fetches one, then reports it with [`Fetch::complete`].
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
    /// The requests of this fetch, on the clock of the lookup that started it.
    pub fn attempts<'a>(&self, config: &'a Config) -> TokenAttempts<'a> {
        TokenAttempts::new(self.tokens.clone(), config, self.clock)
    }

    /// Reports the outcome of `attempts` to the cache, wakes the requests waiting for it,
    /// and returns the token to use.
    pub fn complete(
        self,
        mut attempts: TokenAttempts<'_>,
    ) -> Result<(AccessToken<'static>, TokenId), Error> {
        let (sent, outcome) = attempts.end();
        self.finish(sent, outcome)
    }

    /// Reports the outcome of the fetch whose first request was sent at `sent` on the clock
    /// of the lookup that started it (the token's lifetime counts from there).
    fn finish(
        mut self,
        sent: Duration,
        outcome: Result<IssuedToken, Error>,
    ) -> Result<(AccessToken<'static>, TokenId), Error> {
        self.finished = true;
        let tokens = &self.tokens;
        let result = {
            let mut state = tokens.lock();
            state.done = true;
            match outcome {
                Ok(issued) => Ok(state.cache.fetched(issued, sent)),
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

    /// What a request should do for its token now, on `clock`: its config's, which the
    /// transport's timers run on. A [`Fetch`] it starts is finished on the same clock.
    pub fn need(self: &Arc<Self>, clock: &Clock) -> Need {
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
            | Error::UnknownHost(_) => Error::TokenUnreachable {
                endpoint: self.endpoint(),
                cause: Box::new(error),
            },
            other => other,
        }
    }

    /// The token endpoint as errors and spans name it: scheme, host, port and path.
    fn endpoint(&self) -> String {
        let url = self.credentials.token_url();
        format!(
            "{}://{}:{}{}",
            url.scheme(),
            url.host(),
            url.port(),
            url.prefix()
        )
    }

    /// The token requests of a fetch that is not cached (a token handed to something else),
    /// counted on `clock`.
    pub fn attempts<'a>(self: &Arc<Self>, config: &'a Config, clock: &Clock) -> TokenAttempts<'a> {
        TokenAttempts::new(self.clone(), config, *clock)
    }

    /// The API answered an attempt sent with token `id`: whether to send it once more, as the
    /// core's 401 rule says ([`TokenCache::answered`]).
    fn answered(&self, rule: &mut RefreshOnce, id: TokenId, status: u16) -> bool {
        let resend = self.lock().cache.answered(rule, id, status);
        if resend {
            tracing::info!(target: "connections", "the API refused the application token (401); fetching a new one");
        }
        resend
    }
}

impl fmt::Debug for AppTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppTokens")
            .field("credentials", &self.credentials)
            .finish_non_exhaustive()
    }
}

impl Tokens {
    /// How a transport gets the token of an attempt: an exhaustive view of the setting, so
    /// that both transports handle every kind alike and a new kind breaks them at compile
    /// time instead of falling into a `_` arm. Glue between the crates of this workspace.
    #[doc(hidden)]
    pub fn bearer(&self) -> Bearer<'_> {
        match self {
            Tokens::Static(token) => Bearer::Fixed(token),
            Tokens::App(app) => Bearer::App(app),
            Tokens::Source => Bearer::Source,
        }
    }

    /// Whether an attempt sent with application token `id` (`None`: a fixed token or the
    /// user's source) goes once more after `outcome`: the 401 rule, decided by the core's
    /// [`RefreshOnce`]. One `rule` per request.
    #[doc(hidden)]
    pub fn send_again(
        &self,
        rule: &mut RefreshOnce,
        id: Option<TokenId>,
        outcome: &Result<Exchanged, Error>,
    ) -> bool {
        match (self, id, outcome) {
            (Tokens::App(app), Some(id), Ok((head, _))) => {
                app.answered(rule, id, head.status.as_u16())
            }
            _ => false,
        }
    }
}

impl Tokens {
    /// The application token cache, for a token fetched on request
    /// (`Client::fetch_application_token`), or why there is none.
    #[doc(hidden)]
    pub fn credentials_for_fetch(&self) -> Result<&Arc<AppTokens>, Error> {
        match self {
            Tokens::App(app) => Ok(app),
            Tokens::Static(_) | Tokens::Source => Err(Error::TokenRequest(
                "fetching an application token needs client credentials \
                 (Builder::client_credentials)"
                    .into(),
            )),
        }
    }
}

/// Where the token of an attempt comes from; see [`Tokens::bearer`].
#[doc(hidden)]
#[derive(Debug)]
pub enum Bearer<'a> {
    /// This fixed token.
    Fixed(&'a AccessToken<'static>),
    /// The transport's own token source.
    Source,
    /// The application token cache.
    App(&'a Arc<AppTokens>),
}

/// The requests of one token fetch, as a transport makes them: the request to send, what
/// each answer means, and the wait before the next (the core's [`TokenRetries`], on the
/// client's retry policy and the fetch's clock). The transport only sends and sleeps:
///
/// ```text
/// loop {
///     let answer = attempts.request().and_then(send);
///     match attempts.answered(answer) { Some(wait) => sleep(wait), None => break }
/// }
/// ```
///
/// Its `connections.token` span records the attempts, the last status, the time taken and
/// the lifetime issued; it never holds the secret or the token.
pub struct TokenAttempts<'a> {
    tokens: Arc<AppTokens>,
    config: &'a Config,
    clock: Clock,
    retries: TokenRetries,
    span: tracing::Span,
    /// When the first request was sent, on `clock`: a token's lifetime counts from there.
    sent: Option<Duration>,
    status: Option<u16>,
    outcome: Option<Result<IssuedToken, Error>>,
}

impl fmt::Debug for TokenAttempts<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenAttempts")
            .field("attempts", &self.retries.attempts())
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

impl<'a> TokenAttempts<'a> {
    fn new(tokens: Arc<AppTokens>, config: &'a Config, clock: Clock) -> Self {
        let span = token_span(&tokens);
        TokenAttempts {
            retries: TokenRetries::new(config.retry_policy(), random_seed()),
            tokens,
            config,
            clock,
            span,
            sent: None,
            status: None,
            outcome: None,
        }
    }

    /// The fetch's span, for the transport to run its requests in.
    pub fn span(&self) -> &tracing::Span {
        &self.span
    }

    /// The next token request, with the configured `User-Agent`; counts it as sent.
    pub fn request<B: From<Vec<u8>>>(&mut self) -> Result<http::Request<B>, Error> {
        self.retries.sending();
        self.sent.get_or_insert(self.clock.now().elapsed);
        self.tokens
            .credentials
            .token_request()
            .to_http_request(self.config.user_agent())
            // The URL was checked by `BaseUrl` and the headers are constants.
            .map_err(|e| Error::TokenRequest(Box::new(e)))
    }

    /// What the answer to the last [`request`](Self::request) means: the wait before the
    /// next request, or `None` when the fetch is over (a token, a refusal, retries spent).
    /// A retry is logged (`info`, with `wait_ms`), a token or the failure on the span.
    pub fn answered(&mut self, answer: Result<Exchanged, Error>) -> Option<Duration> {
        let outcome = answer.and_then(|(head, body)| {
            self.status = Some(head.status.as_u16());
            Response::from_http(&head, &body)
                .issued_token_for(&self.tokens.credentials)
                .map_err(Error::TokenEndpoint)
        });
        if let Err(error) = &outcome {
            let failure = match error {
                Error::TokenEndpoint(e) => e.to_failure(self.clock.now().unix),
                other => Failure::Transport {
                    retryable: other.is_retryable(),
                },
            };
            if let Some(wait) = self.retries.failed(&failure) {
                let wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX);
                tracing::info!(
                    target: "connections",
                    parent: &self.span,
                    error = %error.chain(),
                    wait_ms,
                    "token request failed, retrying in {:.1} s",
                    wait.as_secs_f64()
                );
                return Some(wait);
            }
        }
        self.record(&outcome);
        self.outcome = Some(outcome);
        None
    }

    /// The token the fetch got, or why there is none, final for the request that needed it
    /// (see [`AppTokens::final_error`]).
    pub fn outcome(mut self) -> Result<IssuedToken, Error> {
        let (_, outcome) = self.end();
        outcome.map_err(|e| self.tokens.final_error(e))
    }

    /// When the first request was sent, and the outcome (a fetch that never answered, e.g.
    /// one whose future was dropped, counts as cancelled).
    fn end(&mut self) -> (Duration, Result<IssuedToken, Error>) {
        let outcome = self.outcome.take().unwrap_or(Err(Error::TokenCancelled));
        (self.sent.unwrap_or_default(), outcome)
    }

    /// Records the fetch's outcome on its span and logs it: `info` for a token, `warn` for a
    /// failure.
    fn record(&self, outcome: &Result<IssuedToken, Error>) {
        let span = &self.span;
        let elapsed = self
            .clock
            .now()
            .elapsed
            .saturating_sub(self.sent.unwrap_or_default());
        span.record(
            "elapsed_ms",
            u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
        );
        span.record("attempts", self.retries.attempts());
        if let Some(status) = self.status {
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
}

/// The tracing span of one token fetch: `connections.token` with the endpoint, and, recorded
/// once it ends, `attempts`, `status`, `elapsed_ms` and `expires_in`.
fn token_span(tokens: &AppTokens) -> tracing::Span {
    use tracing::field::Empty;
    tracing::info_span!(
        "connections.token",
        endpoint = %tokens.endpoint(),
        attempts = Empty,
        status = Empty,
        elapsed_ms = Empty,
        expires_in = Empty,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use connections_core::ClientSecret;
    use std::sync::Barrier;
    use std::time::Instant;

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

    /// The id of `token`, fetched into the cold cache `tokens`.
    fn fetched(tokens: &Arc<AppTokens>, token: &str) -> TokenId {
        let Need::Fetch(fetch) = tokens.need(&Clock::start()) else {
            panic!("a cold cache fetches")
        };
        let (_, id) = fetch
            .finish(Duration::ZERO, Ok(issued(token)))
            .unwrap_or_else(|e| panic!("{e}"));
        id
    }

    /// Eight threads need a token at once: one fetches, seven wait, all end with its token.
    fn race(outcome: fn() -> Result<IssuedToken, Error>) -> Vec<Result<String, Error>> {
        let (tokens, clock) = (tokens(), Clock::start());
        let start = Arc::new(Barrier::new(8));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (tokens, start) = (tokens.clone(), start.clone());
                std::thread::spawn(move || {
                    start.wait();
                    loop {
                        match tokens.need(&clock) {
                            Need::Use { token, .. } => return Ok(token.expose_secret().to_owned()),
                            Need::Fetch(fetch) => {
                                std::thread::sleep(Duration::from_millis(50));
                                let (token, _) = fetch.finish(Duration::ZERO, outcome())?;
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
        let (tokens, clock) = (tokens(), Clock::start());
        let Need::Fetch(fetch) = tokens.need(&clock) else {
            panic!("a cold cache fetches")
        };
        let Need::Wait(flight) = tokens.need(&clock) else {
            panic!("a fetch is in flight")
        };
        drop(fetch);
        assert!(matches!(
            tokens.wait_blocking(flight),
            Err(Error::TokenCancelled)
        ));
        assert!(matches!(tokens.need(&clock), Need::Fetch(_)));
    }

    #[test]
    fn a_401_to_an_application_token_resends_once_and_never_for_a_fixed_one() {
        let tokens = tokens();
        let id = fetched(&tokens, "t1");
        let refused = || {
            let head = http::Response::builder().status(401).body(());
            Ok((
                head.unwrap_or_else(|e| panic!("{e}")).into_parts().0,
                Vec::new(),
            ))
        };
        let app = Tokens::App(tokens.clone());
        let mut rule = RefreshOnce::default();
        assert!(app.send_again(&mut rule, Some(id), &refused()));
        assert!(!app.send_again(&mut rule, Some(id), &refused()), "once");
        let fixed = Tokens::Static(AccessToken::new("t").unwrap_or_else(|e| panic!("{e}")));
        let mut rule = RefreshOnce::default();
        assert!(
            !fixed.send_again(&mut rule, None, &refused()),
            "a fixed token stays"
        );
    }

    #[test]
    fn a_rejected_token_is_fetched_again_once() {
        let tokens = tokens();
        let id = fetched(&tokens, "t1");
        assert!(tokens.answered(&mut RefreshOnce::default(), id, 401));
        let clock = Clock::start();
        let Need::Fetch(_held) = tokens.need(&clock) else {
            panic!("a rejected token is fetched again")
        };
        assert!(matches!(tokens.need(&clock), Need::Wait(_)));
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
        let Need::Fetch(fetch) = tokens.need(&clock) else {
            panic!("a cold cache fetches")
        };
        // Sent at the clock's origin: the hour-long token expires an hour later, on it.
        let _ = fetch.finish(Duration::ZERO, Ok(issued("t1")));
        advance_to(3_500);
        assert!(
            matches!(tokens.need(&clock), Need::Use { refresh: None, .. }),
            "fresh until its last minute and a half"
        );
        advance_to(3_600);
        assert!(
            matches!(tokens.need(&clock), Need::Fetch(_)),
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
        let unix = u64::try_from(clock.now().unix.0).unwrap_or_else(|e| panic!("{e}"));
        let date = httpdate::fmt_http_date(std::time::UNIX_EPOCH + Duration::from_secs(unix + 600));
        let answer = http::Response::builder()
            .status(503)
            .header("content-type", "application/json")
            .header("retry-after", &date)
            .body(())
            .unwrap_or_else(|e| panic!("{e}"))
            .into_parts()
            .0;
        let body = br#"{"error":"temporarily_unavailable"}"#.to_vec();
        let mut attempts = tokens.attempts(&config, &clock);
        let _sent: http::Request<Vec<u8>> = attempts.request().unwrap_or_else(|e| panic!("{e}"));
        advance_to(590);
        let wait = attempts.answered(Ok((answer, body)));
        let wait = wait.unwrap_or_else(|| panic!("a 503 not retried after {date}"));
        assert!(
            (9..=11).contains(&wait.as_secs()),
            "{wait:?} until {date}, 590 s on"
        );
    }
}
