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

mod dataset;
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
    /// The bearer token requests must carry.
    pub token: String,
    /// Path before `/connections`, like the API's `/v3`.
    pub prefix: String,
    /// Write links as absolute URLs instead of the contract's `/connections?...` form.
    pub absolute_links: bool,
    /// Delay before every answer.
    pub latency: Duration,
    /// Share of requests (0.0 to 1.0) answered with an injected 500 or 503.
    pub failure_rate: f64,
    /// Requests allowed per second; beyond that the answer is 429 with `retry-after: 1`.
    pub rate_limit: Option<u32>,
    /// Before every page request but the first, remove this many connections picked from
    /// the seed and add as many new ones on top, so a listing in progress sees its data move.
    pub churn: u32,
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
        }
    }
}

/// A running sandbox on its own thread; dropping it stops it.
pub struct Sandbox {
    addr: SocketAddr,
    base_url: String,
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

    /// The bearer token it accepts.
    pub fn token(&self) -> &str {
        &self.token
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

    /// How many HTTP requests it has received so far, on any path, answered or not yet.
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
