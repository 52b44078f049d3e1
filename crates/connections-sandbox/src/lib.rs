//! A local, Smartcar-compatible `GET /connections` server for demos, tests and benchmarks.
//!
//! It serves a deterministic generated dataset exactly as the API contract describes:
//! every filter and page parameter (brackets raw or percent-encoded), `meta` and `links`
//! (relative by default, like the contract's example, or absolute), v3 error bodies for bad
//! parameters (400) and missing or wrong tokens (401), and an `sc-request-id` on every
//! response. Faults can be injected: latency, a share of 500/503 answers, and a rate limit
//! answered with 429 and `retry-after`. The data can also move while a client lists it:
//! [`Sandbox::insert_connections`], [`Sandbox::remove_connections`], and
//! [`SandboxConfig::churn`], which changes it before every page request but the first.
//!
//! Given a [`SandboxConfig::client_id`] and [`SandboxConfig::client_secret`], it also serves
//! Smartcar's OAuth 2.0 client-credentials token endpoint at [`Sandbox::token_url`]
//! (`POST {origin}/oauth2/token`, form body `grant_type=client_credentials&client_id=…&
//! client_secret=…`, or the credentials in HTTP Basic auth). It answers `{"access_token",
//! "token_type": "Bearer", "expires_in"}`, or an RFC 6749 error (`invalid_request` 400,
//! `invalid_client` 401, 405 for other methods, 413 above 64 KiB). `/connections` accepts
//! the static [`SandboxConfig::token`] always, and each issued token until it expires after
//! [`SandboxConfig::token_lifetime`] (then 401 with code `TOKEN_EXPIRED`) or until
//! [`Sandbox::revoke_tokens`]. Issued tokens are 32 hex digits drawn from the seed and a
//! counter: distinct, but reproducible by anyone who knows the seed — a test server's secret.
//!
//! The sandbox writes its JSON from its own wire types, made from the contract, not from the
//! client's models, so a mistake in those models shows up as a disagreement in tests.
//!
//! ```
//! use connections_sandbox::{Sandbox, SandboxConfig};
//!
//! let sandbox = Sandbox::spawn(SandboxConfig { connections: 25, ..SandboxConfig::default() })?;
//! println!("listening on {} (token {})", sandbox.base_url(), sandbox.token());
//! assert_eq!(sandbox.dataset().connections().len(), 25);
//!
//! // Data can move under a listing: new connections go on top.
//! let new = sandbox.insert_connections(2);
//! assert_eq!(sandbox.dataset().connections()[0].id, new[0]);
//! assert_eq!(sandbox.remove_connections(&new), 2);
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! With application tokens that expire:
//!
//! ```
//! use std::time::Duration;
//! use connections_sandbox::{Sandbox, SandboxConfig};
//!
//! let sandbox = Sandbox::spawn(SandboxConfig {
//!     client_id: Some("my-client".to_owned()),
//!     client_secret: Some("my-secret".to_owned()),
//!     token_lifetime: Duration::from_secs(60),
//!     ..SandboxConfig::default()
//! })?;
//! assert_eq!(sandbox.token_url(), format!("http://{}/oauth2/token", sandbox.addr()));
//! // POST grant_type=client_credentials&client_id=my-client&client_secret=my-secret there.
//! assert_eq!(sandbox.tokens_issued(), 0);
//! # Ok::<(), std::io::Error>(())
//! ```

mod dataset;
mod oauth;
mod server;
mod wire;

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::sync::oneshot;

pub use dataset::{Churn, ConnectionRecord, Dataset, Filters, Mode, UnknownMode};
use server::State;

/// The token the sandbox accepts unless told otherwise.
pub const DEFAULT_TOKEN: &str = "sandbox-token";

/// What the sandbox serves and how it misbehaves.
#[derive(Clone, Debug)]
pub struct SandboxConfig {
    /// Where to listen; port 0 picks a free one.
    pub listen: SocketAddr,
    /// How many connections the dataset holds.
    pub connections: usize,
    /// Seed of the dataset and of injected faults: the same seed gives the same answers.
    pub seed: u64,
    /// A bearer token `/connections` always accepts, besides unexpired tokens from the token
    /// endpoint.
    pub token: String,
    /// Path before `/connections`, like the API's `/v3`.
    pub prefix: String,
    /// Write links as absolute URLs instead of the contract's `/connections?...` form.
    pub absolute_links: bool,
    /// Delay before every answer, the token endpoint's included (a slow identity server is
    /// part of what a client must survive).
    pub latency: Duration,
    /// Share of `/connections` requests (0.0 to 1.0) answered with an injected 500 or 503.
    /// The token endpoint never fails on purpose, so a test of API faults is not also a test
    /// of token fetching; failures are rolled per request number, and token requests take
    /// numbers too.
    pub failure_rate: f64,
    /// `/connections` requests allowed per second; beyond that the answer is 429 with
    /// `retry-after: 1`. Token requests neither count nor get limited (Smartcar limits its
    /// token endpoint separately from the API).
    pub rate_limit: Option<u32>,
    /// Before every page request but the first, remove this many connections picked from
    /// the seed and add as many new ones on top, so a listing in progress sees its data move.
    pub churn: u32,
    /// The OAuth client id the token endpoint accepts. The endpoint is enabled only when
    /// this and [`client_secret`](Self::client_secret) are both set and non-empty; otherwise
    /// it answers every request 401 `invalid_client`.
    pub client_id: Option<String>,
    /// The OAuth client secret the token endpoint accepts (compared in constant time).
    pub client_secret: Option<String>,
    /// How long an issued token works; its `expires_in` is the whole seconds of this.
    pub token_lifetime: Duration,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            connections: 50,
            seed: 42,
            token: DEFAULT_TOKEN.to_owned(),
            prefix: "/v3".to_owned(),
            absolute_links: false,
            latency: Duration::ZERO,
            failure_rate: 0.0,
            rate_limit: None,
            churn: 0,
            client_id: None,
            client_secret: None,
            token_lifetime: Duration::from_secs(3600),
        }
    }
}

/// A running sandbox on its own thread; dropping it stops it.
pub struct Sandbox {
    addr: SocketAddr,
    base_url: String,
    token_url: String,
    token: String,
    state: Arc<State>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<io::Result<()>>>,
}

/// How many requests got an injected fault, so tests can check the faults happened.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Faults {
    /// Answered with an injected 500 or 503.
    pub failures: u64,
    /// Answered 429 by the rate limit.
    pub rate_limited: u64,
    /// Page requests answered after moving the data ([`SandboxConfig::churn`]).
    pub churned: u64,
}

impl Sandbox {
    /// Binds `config.listen`, generates the dataset and starts serving on a new thread.
    pub fn spawn(config: SandboxConfig) -> io::Result<Sandbox> {
        let listener = TcpListener::bind(config.listen)?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let origin = format!("http://{addr}");
        let base_url = format!("{origin}{}", config.prefix);
        let token_url = format!("{origin}{}", oauth::TOKEN_PATH);
        let token = config.token.clone();
        let dataset = Dataset::generate(config.connections, config.seed);
        let state = Arc::new(State::new(config, dataset, origin));
        let serving = state.clone();
        let (shutdown, stopped) = oneshot::channel();
        let thread = std::thread::Builder::new()
            .name("connections-sandbox".to_owned())
            .spawn(move || {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()?
                    .block_on(serve(listener, serving, stopped))
            })?;
        Ok(Sandbox {
            addr,
            base_url,
            token_url,
            token,
            state,
            shutdown: Some(shutdown),
            thread: Some(thread),
        })
    }

    /// The API base to give a client, e.g. `http://127.0.0.1:41234/v3`.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The static bearer token it accepts.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// The OAuth token endpoint to give a client, e.g. `http://127.0.0.1:41234/oauth2/token`:
    /// at the origin, not under the API's prefix, as Smartcar's sits apart from the API.
    pub fn token_url(&self) -> String {
        self.token_url.clone()
    }

    /// How many tokens the token endpoint has issued (200 answers), so a test can check a
    /// client fetched a token once and reused it, or fetched a new one after expiry.
    pub fn tokens_issued(&self) -> u64 {
        self.state.issuer.issued()
    }

    /// How many requests reached the token endpoint, refused ones and other methods included,
    /// so a test can tell a client that never asked from one whose requests were refused.
    pub fn token_requests(&self) -> u64 {
        self.state
            .issuer
            .requests
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Makes every token issued so far stop working at once (tokens issued later work), so a
    /// test can make a client meet a 401 before its token's `expires_in` runs out, as when an
    /// application's credentials are rotated.
    pub fn revoke_tokens(&self) {
        self.state.issuer.revoke_all();
    }

    /// The connections it serves now, to compare listings against. A snapshot: later
    /// mutations (churn included) do not change it.
    pub fn dataset(&self) -> Arc<Dataset> {
        self.state.snapshot()
    }

    /// Adds `n` connections on top of the listing, made after every existing one and drawn
    /// from the seed; returns their ids, newest first.
    pub fn insert_connections(&self, n: usize) -> Vec<String> {
        self.state.mutate(|d| d.with_inserted(n))
    }

    /// Removes the connections with these ids; returns how many there were.
    pub fn remove_connections<I>(&self, ids: I) -> usize
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        self.state.mutate(|d| d.without(ids))
    }

    /// How many HTTP requests it has received so far, on any path (the token endpoint's
    /// included), answered or not yet: the total a client cost it.
    pub fn requests(&self) -> u64 {
        self.state
            .requests
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The faults injected so far.
    pub fn faults(&self) -> Faults {
        let count = |n: &std::sync::atomic::AtomicU64| n.load(std::sync::atomic::Ordering::Relaxed);
        Faults {
            failures: count(&self.state.injected),
            rate_limited: count(&self.state.limited),
            churned: count(&self.state.churned),
        }
    }

    /// Blocks while the sandbox serves (until the process is killed or serving fails).
    pub fn wait(mut self) -> io::Result<()> {
        match self.thread.take() {
            Some(thread) => thread
                .join()
                .unwrap_or_else(|_| Err(io::Error::other("sandbox thread panicked"))),
            None => Ok(()),
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn serve(
    listener: TcpListener,
    state: Arc<State>,
    mut stopped: oneshot::Receiver<()>,
) -> io::Result<()> {
    let listener = tokio::net::TcpListener::from_std(listener)?;
    loop {
        tokio::select! {
            _ = &mut stopped => return Ok(()),
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let state = state.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |request| server::handle(state.clone(), request));
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        }
    }
}
