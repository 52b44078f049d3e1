//! A local, Smartcar-compatible `GET /connections` server for demos, tests and benchmarks.
//!
//! It serves a deterministic generated dataset, or connections from a data file
//! ([`SandboxConfig::data`]), exactly as the API contract describes: every filter and page
//! parameter (brackets raw or percent-encoded), with the contract's defaults (no
//! `filter[vehicle.mode]` lists live vehicles only, page 1, 10 per page); `meta` and `links`
//! (relative by default, like the contract's example, or absolute); v3 error bodies whose
//! `links.about` names the error type's page, for parameters the contract's schemas refuse
//! (400: a mode other than `live`/`simulated`, a page number or size that is not an integer
//! of at least 1, a parameter given twice), missing or wrong tokens (401; the `Bearer` scheme
//! in any case), unknown paths (404) and other methods than GET (405 with `Allow: GET`); and
//! an `sc-request-id` on every response. An empty `filter[userId]` or `filter[vehicleId]` is
//! a valid string, which matches only an id that is the empty string (none generated; a data
//! file may have one). `tests/schema.rs` validates its answers against the
//! contract's own schemas.
//!
//! Faults can be injected: latency, a share of 500/503 answers, a per-second rate limit
//! answered with 429 and `retry-after`, Smartcar's application token bucket
//! ([`SandboxConfig::bucket`], [`Bucket::SMARTCAR`]), pages cut short ([`SandboxConfig::truncate_rate`]), bodies trickled
//! out ([`SandboxConfig::drip`]) and tokens that expire ([`SandboxConfig::token_lifetime`]);
//! [`Sandbox::faults`] counts each. The data can also move while a client lists it:
//! [`Sandbox::insert_connections`], [`Sandbox::remove_connections`], and
//! [`SandboxConfig::churn`], which changes it before every page request but the first. And
//! pages can be capped as a real server caps them ([`SandboxConfig::max_page_size`]).
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
//! ## TLS and HTTP/2
//!
//! With [`SandboxConfig::tls`] it serves HTTPS on the same `127.0.0.1` address: at spawn it
//! makes a new CA (self-signed, ECDSA P-256) and a server certificate that CA signs for
//! `localhost`, `127.0.0.1` and `::1`. ALPN offers `h2` and `http/1.1`; a connection that
//! negotiates `h2` is served HTTP/2, any other HTTP/1.1. A client trusts the server by
//! trusting [`Sandbox::ca_certificate_pem`], or the file [`SandboxConfig::tls_ca_out`] names
//! (written at spawn, for a command line's `--ca-cert`). Plain HTTP, the default, speaks
//! HTTP/1.1 only. [`Sandbox::connections_accepted`] and [`Sandbox::requests_over_h2`] let a
//! test check that a listing went over HTTP/2 and reused one connection.
//!
//! ## Compression
//!
//! Every answer (listings, errors, tokens) is gzip-compressed when the request's
//! `Accept-Encoding` allows `gzip` (`gzip;q=0` refuses it), with `content-encoding: gzip`;
//! every answer carries `vary: accept-encoding`. [`Sandbox::body_bytes_sent`] counts body
//! bytes as sent, after compression, so a benchmark can compare the bytes a listing costs
//! with and without gzip. [`SandboxConfig::gzip_bomb`] turns every authorized `/connections`
//! answer into a gzip bomb (about 300 KB inflating to about 315 MB), whatever the client
//! accepts, to check that a client bounds what it inflates.
//!
//! ## A test double
//!
//! To test code that calls the API, serve it the connections it should see from a file in
//! the API's shape (a JSON array, a page body, or NDJSON; see [`Dataset::from_json`]), then
//! assert on what it got and on what it sent: [`Sandbox::received`] records every request
//! (method, path, decoded query, headers with credentials redacted). `examples/test_double.rs`
//! does the same from a file.
//!
//! ```
//! use std::io::{Read, Write};
//! use connections_sandbox::{Dataset, Sandbox, SandboxConfig};
//!
//! let data = Dataset::from_json(r#"[{
//!     "id": "c-1",
//!     "attributes": {"permissions": ["read_vin"], "vehicle": {"make": "TESLA",
//!         "model": "Model 3", "year": 2023, "powertrainType": "BEV", "mode": "live"}},
//!     "relationships": {"vehicle": {"data": {"id": "v-1"}}, "user": {"data": {"id": "u-1"}}},
//!     "meta": {"createdAt": "2025-03-01T10:00:00Z", "updatedAt": "2025-03-01T10:00:00Z"}
//! }]"#)?;
//! let sandbox = Sandbox::spawn_with_dataset(SandboxConfig::default(), data)?;
//!
//! // The code under test (here a bare HTTP/1.1 request) lists a user's connections.
//! let mut stream = std::net::TcpStream::connect(sandbox.addr())?;
//! write!(stream, "GET /v3/connections?filter%5BuserId%5D=u-1 HTTP/1.1\r\nHost: x\r\n\
//!     Authorization: Bearer {}\r\nConnection: close\r\n\r\n", sandbox.token())?;
//! let mut answer = String::new();
//! stream.read_to_string(&mut answer)?;
//! // Served as the file wrote it, spaces and all.
//! assert!(answer.starts_with("HTTP/1.1 200 OK") && answer.contains(r#""id": "c-1""#));
//!
//! let sent = &sandbox.received()[0];
//! assert_eq!(sent.query_value("filter[userId]"), Some("u-1"));
//! assert_eq!(sent.header("authorization"), Some("Bearer [redacted]"));
//! assert!(sent.authorized);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! If accepting a connection fails for a reason not tied to that connection (out of file
//! descriptors, say), the sandbox waits 50 ms before accepting again rather than spinning; see
//! [`Sandbox::accept_errors`].
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
//!
//! Over HTTPS, with the CA a client needs:
//!
//! ```
//! use connections_sandbox::{Sandbox, SandboxConfig};
//!
//! let ca_file = std::env::temp_dir().join(format!("sandbox-doc-ca-{}.pem", std::process::id()));
//! let sandbox = Sandbox::spawn(SandboxConfig {
//!     tls: true,
//!     tls_ca_out: Some(ca_file.clone()),
//!     ..SandboxConfig::default()
//! })?;
//! assert!(sandbox.base_url().starts_with("https://127.0.0.1:"));
//! let ca = sandbox.ca_certificate_pem().expect("a TLS sandbox has a CA");
//! assert_eq!(std::fs::read_to_string(&ca_file)?, ca);
//! assert_eq!(sandbox.connections_accepted(), 0);
//! # std::fs::remove_file(&ca_file)?;
//! # Ok::<(), std::io::Error>(())
//! ```

mod bucket;
mod dataset;
mod gzip;
mod load;
mod oauth;
mod ranked;
mod record;
mod server;
mod tls;
mod wire;

use std::fmt;
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use hyper::server::conn::{http1, http2};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio_rustls::TlsAcceptor;

pub use bucket::Bucket;
pub use dataset::{Churn, ConnectionRecord, Dataset, Filters, Mode, UnknownMode};
pub use load::DataError;
pub use record::{REDACTED, ReceivedRequest};
use server::State;

/// The token the sandbox accepts unless told otherwise.
pub const DEFAULT_TOKEN: &str = "sandbox-token";

/// What the sandbox serves and how it misbehaves. Its `Debug` shows the client secret as
/// `[redacted]`: a test's secret is often a real one copied from somewhere.
#[derive(Clone)]
pub struct SandboxConfig {
    /// Where to listen; port 0 picks a free one.
    pub listen: SocketAddr,
    /// How many connections the generated dataset holds (ignored with [`data`](Self::data)).
    pub connections: usize,
    /// Serve the connections in this file instead of generated ones: a JSON array of
    /// connections in the API's shape, a page body (`{"data": [...]}`), or NDJSON (one
    /// connection per line); see [`Dataset::from_json`]. Spawning fails with an
    /// `InvalidData` error naming the file, line and column if it is not such a file.
    pub data: Option<PathBuf>,
    /// Seed of the dataset and of injected faults: the same seed gives the same answers.
    /// With [`data`](Self::data), it seeds only the faults and the connections that
    /// mutations add.
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
    /// token endpoint separately from the API). It is a [`Bucket`] of this capacity refilling
    /// this many a second, continuously (so after a burst, requests spaced 1/N s apart all
    /// pass); `Some(0)` refuses every request. With [`bucket`](Self::bucket) too, a request
    /// must pass both, this one first.
    pub rate_limit: Option<u32>,
    /// The application's token bucket, as Smartcar keeps one per application for all its
    /// `/connections` traffic: [`Bucket::SMARTCAR`] for the real API's pace (120 at once, then
    /// one every 30 s). Full at spawn; every authorized `/connections` request takes a token
    /// (token endpoint requests never do), and one that finds none is answered 429
    /// `RATE_LIMIT`/`SMARTCAR_API`, counted in [`Faults::rate_limited`]. Spawning fails with
    /// `InvalidInput` for a capacity of 0 or a zero `refill_interval`.
    pub bucket: Option<Bucket>,
    /// Give the bucket's 429s a `retry-after` header: the whole seconds until its next
    /// token, rounded up, at least 1. Off by default, because Smartcar documents
    /// `Retry-After` only for its per-vehicle limit, so a client must cope without it.
    pub bucket_retry_after: bool,
    /// The largest page served, as a real server caps `page[size]`: asked for more, it
    /// serves this many, and `meta.pageSize`, every link and the last page number say so.
    /// `None` (the default) serves any size asked; spawning fails with `InvalidInput` for
    /// `Some(0)`.
    pub max_page_size: Option<u32>,
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
    /// Serve HTTPS instead of plain HTTP, with HTTP/2 and HTTP/1.1 offered by ALPN; see
    /// [TLS](crate#tls-and-http2). Plain HTTP (the default) speaks HTTP/1.1 only.
    pub tls: bool,
    /// With [`tls`](Self::tls), write the CA certificate (PEM) to this file at spawn, for a
    /// client's `--ca-cert`; spawning fails if it cannot be written, or if `tls` is off.
    pub tls_ca_out: Option<PathBuf>,
    /// Answer every authorized `/connections` request with a gzip bomb: a few hundred KB that
    /// inflate to about 315 MB of JSON-looking bytes, sent with `content-encoding: gzip`
    /// whatever the request's `Accept-Encoding`. Counted in [`Faults::gzip_bombs`].
    pub gzip_bomb: bool,
    /// Share of listing pages (`/connections` answers that would be 200, 0.0 to 1.0) cut
    /// short: the headers declare the whole body's `Content-Length`, about half of the body
    /// is sent, then the connection is closed (HTTP/1.1) or the stream reset (HTTP/2), as
    /// when a network drops mid-answer. Rolled per request number from the seed, apart from
    /// [`failure_rate`](Self::failure_rate). Counted in [`Faults::truncated`].
    pub truncate_rate: f64,
    /// Send every answer's body in chunks of [`drip_bytes`](Self::drip_bytes), waiting this
    /// long before each one, headers first: a slow network or server that a client's read
    /// timeout must cope with. Errors drip too; only the token endpoint is never slowed this
    /// way. Off (`None`) by default. Counted in [`Faults::dripped`].
    pub drip: Option<Duration>,
    /// Bytes per chunk with [`drip`](Self::drip) (at least 1).
    pub drip_bytes: usize,
    /// Emit a `tracing` info event (target `connections_sandbox`, message `sandbox request`)
    /// per request: `method`, `target` (path and query as sent), `status`, `elapsed_ms`
    /// (until the answer's headers).
    pub log_requests: bool,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            connections: 50,
            data: None,
            seed: 42,
            token: DEFAULT_TOKEN.to_owned(),
            prefix: "/v3".to_owned(),
            absolute_links: false,
            latency: Duration::ZERO,
            failure_rate: 0.0,
            rate_limit: None,
            bucket: None,
            bucket_retry_after: false,
            max_page_size: None,
            churn: 0,
            client_id: None,
            client_secret: None,
            token_lifetime: Duration::from_secs(3600),
            tls: false,
            tls_ca_out: None,
            gzip_bomb: false,
            truncate_rate: 0.0,
            drip: None,
            drip_bytes: 256,
            log_requests: false,
        }
    }
}

impl fmt::Debug for SandboxConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SandboxConfig")
            .field("listen", &self.listen)
            .field("connections", &self.connections)
            .field("data", &self.data)
            .field("seed", &self.seed)
            .field("token", &self.token)
            .field("prefix", &self.prefix)
            .field("absolute_links", &self.absolute_links)
            .field("latency", &self.latency)
            .field("failure_rate", &self.failure_rate)
            .field("rate_limit", &self.rate_limit)
            .field("bucket", &self.bucket)
            .field("bucket_retry_after", &self.bucket_retry_after)
            .field("max_page_size", &self.max_page_size)
            .field("churn", &self.churn)
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| REDACTED),
            )
            .field("token_lifetime", &self.token_lifetime)
            .field("tls", &self.tls)
            .field("tls_ca_out", &self.tls_ca_out)
            .field("gzip_bomb", &self.gzip_bomb)
            .field("truncate_rate", &self.truncate_rate)
            .field("drip", &self.drip)
            .field("drip_bytes", &self.drip_bytes)
            .finish()
    }
}

/// A running sandbox on its own thread; dropping it stops it.
pub struct Sandbox {
    addr: SocketAddr,
    base_url: String,
    token_url: String,
    token: String,
    ca_pem: Option<String>,
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
    /// Answered 429 by the per-second rate limit ([`SandboxConfig::rate_limit`]) or the
    /// bucket ([`SandboxConfig::bucket`]).
    pub rate_limited: u64,
    /// Page requests answered after moving the data ([`SandboxConfig::churn`]).
    pub churned: u64,
    /// `/connections` requests answered with the gzip bomb ([`SandboxConfig::gzip_bomb`]).
    pub gzip_bombs: u64,
    /// Listing pages cut short ([`SandboxConfig::truncate_rate`]).
    pub truncated: u64,
    /// Answers whose body was trickled out ([`SandboxConfig::drip`]).
    pub dripped: u64,
    /// `/connections` requests answered 401 `TOKEN_EXPIRED` because their token from the
    /// token endpoint had outlived [`SandboxConfig::token_lifetime`].
    pub expired_tokens: u64,
    /// `/connections` requests answered 401 because their token had been revoked
    /// ([`Sandbox::revoke_tokens`]).
    pub revoked_tokens: u64,
}

/// How long the accept loop pauses after an error that is not about one connection (running
/// out of file descriptors, say), instead of retrying at once and spinning a core.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// How long a TLS client may take over its handshake before the connection is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

impl Sandbox {
    /// Binds `config.listen`, generates the dataset (or reads [`SandboxConfig::data`]) and
    /// starts serving on a new thread.
    ///
    /// With [`SandboxConfig::tls`] it first makes a new CA and server certificate (and writes
    /// the CA to [`SandboxConfig::tls_ca_out`]); with [`SandboxConfig::gzip_bomb`] it builds
    /// the bomb once, here.
    pub fn spawn(config: SandboxConfig) -> io::Result<Sandbox> {
        let dataset = match &config.data {
            Some(path) => Dataset::load(path)?,
            None => Dataset::generate(config.connections, config.seed),
        };
        Self::spawn_with_dataset(config, dataset)
    }

    /// Like [`spawn`](Self::spawn), serving `dataset` (made with [`Dataset::from_json`], say)
    /// instead of generating one or reading [`SandboxConfig::data`], which are ignored.
    /// Connections that mutations add are drawn from [`SandboxConfig::seed`].
    pub fn spawn_with_dataset(config: SandboxConfig, dataset: Dataset) -> io::Result<Sandbox> {
        if config.tls_ca_out.is_some() && !config.tls {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "tls_ca_out needs tls: a plain HTTP sandbox has no CA to write",
            ));
        }
        if let Some(bucket) = config.bucket
            && (bucket.capacity == 0 || bucket.refill_interval.is_zero())
        {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "a bucket needs a capacity of at least 1 and a refill interval above zero, \
                     got {bucket:?}"
                ),
            ));
        }
        if config.max_page_size == Some(0) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "max_page_size must be at least 1",
            ));
        }
        // Bound first: a port in use fails the spawn before any file is written.
        let listener = TcpListener::bind(config.listen)?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let tls = config.tls.then(tls::Tls::generate).transpose()?;
        if let (Some(tls), Some(path)) = (&tls, &config.tls_ca_out) {
            std::fs::write(path, &tls.ca_pem).map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!(
                        "could not write the CA certificate to {}: {e}",
                        path.display()
                    ),
                )
            })?;
        }
        let bomb = config.gzip_bomb.then(gzip::bomb).transpose()?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        // Listening on every address (0.0.0.0, [::]) is reached through loopback: the URLs
        // given out must connect, and a client takes plain http only for loopback.
        let mut reachable = addr;
        if addr.ip().is_unspecified() {
            reachable.set_ip(match addr {
                SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
                SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
            });
        }
        let origin = format!("{scheme}://{reachable}");
        let base_url = format!("{origin}{}", config.prefix);
        let token_url = format!("{origin}{}", oauth::TOKEN_PATH);
        let token = config.token.clone();
        let dataset = dataset.reseeded(config.seed);
        let state = Arc::new(State::new(config, dataset, origin, bomb));
        let serving = state.clone();
        let (ca_pem, acceptor) = match tls {
            Some(tls) => (Some(tls.ca_pem), Some(TlsAcceptor::from(tls.config))),
            None => (None, None),
        };
        // The runtime is built and the listener registered here, so a failure (out of file
        // descriptors, say) is spawn's error rather than a sandbox thread that quietly exits.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let listener = {
            let _entered = runtime.enter();
            tokio::net::TcpListener::from_std(listener)?
        };
        let (shutdown, stopped) = oneshot::channel();
        let thread = std::thread::Builder::new()
            .name("connections-sandbox".to_owned())
            .spawn(move || runtime.block_on(serve(listener, acceptor, serving, stopped)))?;
        Ok(Sandbox {
            addr,
            base_url,
            token_url,
            token,
            ca_pem,
            state,
            shutdown: Some(shutdown),
            thread: Some(thread),
        })
    }

    /// The API base to give a client, e.g. `http://127.0.0.1:41234/v3`, or
    /// `https://127.0.0.1:41234/v3` with [`SandboxConfig::tls`].
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The PEM of the CA that signed the server certificate, with [`SandboxConfig::tls`]:
    /// what a client must trust to reach it. `None` for plain HTTP.
    pub fn ca_certificate_pem(&self) -> Option<String> {
        self.ca_pem.clone()
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
        self.state.mutate(|d| d.insert(n))
    }

    /// Removes the connections with these ids; returns how many there were.
    pub fn remove_connections<I>(&self, ids: I) -> usize
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        self.state.mutate(|d| d.remove(ids))
    }

    /// How many HTTP requests it has received so far, on any path (the token endpoint's
    /// included), answered or not yet: the total a client cost it.
    pub fn requests(&self) -> u64 {
        self.state
            .requests
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// How many TCP connections it has accepted (TLS or not, counted before the handshake), so
    /// a test can check a client reused its connections.
    pub fn connections_accepted(&self) -> u64 {
        self.state.connections.load(Ordering::Relaxed)
    }

    /// How many requests arrived over HTTP/2 (only possible with [`SandboxConfig::tls`]);
    /// the rest of [`requests`](Self::requests) came over HTTP/1.x.
    pub fn requests_over_h2(&self) -> u64 {
        self.state.h2_requests.load(Ordering::Relaxed)
    }

    /// How many response body bytes it has sent, after compression: what went over the wire
    /// for bodies (headers and TLS framing aside), every path included.
    pub fn body_bytes_sent(&self) -> u64 {
        self.state.body_bytes.load(Ordering::Relaxed)
    }

    /// How many times accepting a connection failed, e.g. with too many open files; after such
    /// an error the sandbox pauses 50 ms before accepting again.
    pub fn accept_errors(&self) -> u64 {
        self.state.accept_errors.load(Ordering::Relaxed)
    }

    /// The faults injected so far.
    pub fn faults(&self) -> Faults {
        let count = |n: &AtomicU64| n.load(Ordering::Relaxed);
        Faults {
            failures: count(&self.state.injected),
            rate_limited: count(&self.state.limited),
            churned: count(&self.state.churned),
            gzip_bombs: count(&self.state.bombs),
            truncated: count(&self.state.truncated),
            dripped: count(&self.state.dripped),
            expired_tokens: count(&self.state.expired),
            revoked_tokens: count(&self.state.revoked),
        }
    }

    /// The requests received so far on every path, oldest first, for assertions about what
    /// a client sent: method, path, decoded query parameters and headers, with credentials
    /// redacted (see [`ReceivedRequest`]). The latest 10,000 are kept.
    pub fn received(&self) -> Vec<ReceivedRequest> {
        self.state.received.all()
    }

    /// Forgets the requests received so far, so the next [`received`](Self::received)
    /// shows only what comes after.
    pub fn clear_received(&self) {
        self.state.received.clear();
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
    listener: tokio::net::TcpListener,
    tls: Option<TlsAcceptor>,
    state: Arc<State>,
    mut stopped: oneshot::Receiver<()>,
) -> io::Result<()> {
    loop {
        let accepted = tokio::select! {
            _ = &mut stopped => return Ok(()),
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, _)) => {
                state.connections.fetch_add(1, Ordering::Relaxed);
                tokio::spawn(connection(stream, tls.clone(), state.clone()));
            }
            Err(e) => {
                state.accept_errors.fetch_add(1, Ordering::Relaxed);
                // An error about one connection (reset before it was accepted) says nothing
                // about the next; others (EMFILE, ENFILE, ENOBUFS) would recur at once.
                if !matches!(
                    e.kind(),
                    io::ErrorKind::ConnectionAborted
                        | io::ErrorKind::ConnectionReset
                        | io::ErrorKind::ConnectionRefused
                        | io::ErrorKind::Interrupted
                ) {
                    tokio::select! {
                        _ = &mut stopped => return Ok(()),
                        () = tokio::time::sleep(ACCEPT_BACKOFF) => {}
                    }
                }
            }
        }
    }
}

/// Serves one connection: HTTP/1.1 on plain TCP; over TLS, HTTP/2 when ALPN chose `h2`,
/// HTTP/1.1 otherwise.
async fn connection(stream: TcpStream, tls: Option<TlsAcceptor>, state: Arc<State>) {
    let service = service_fn(move |request| server::handle(state.clone(), request));
    let Some(acceptor) = tls else {
        let _ = http1::Builder::new()
            .serve_connection(TokioIo::new(stream), service)
            .await;
        return;
    };
    // HTTP/2 sends several small frames per answer: without this, Nagle's algorithm can hold
    // one back for a delayed ACK.
    let _ = stream.set_nodelay(true);
    let Ok(Ok(stream)) = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await
    else {
        return;
    };
    if stream.get_ref().1.alpn_protocol() == Some(b"h2") {
        let _ = http2::Builder::new(TokioExecutor::new())
            .serve_connection(TokioIo::new(stream), service)
            .await;
    } else {
        let _ = http1::Builder::new()
            .serve_connection(TokioIo::new(stream), service)
            .await;
    }
}
