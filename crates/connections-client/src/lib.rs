//! What every transport of the Smartcar connections client shares, on top of the sans-IO
//! [`connections_core`]: validated settings and their builder, the one [`Error`], the clocks
//! and randomness the core's [`Listing`](connections_core::Listing) is fed, and the tracing both transports emit.
//!
//! No sockets and no runtime live here: a transport crate adds only I/O, TLS and timers, so
//! switching between them changes one dependency and nothing else.
//!
//! - `settings`: the [`Builder`] and the validated [`Config`] it makes;
//! - `error`: the one [`Error`] of both transports, and [`ConfigError`];
//! - `request`: an attempt as an `http::Request`, and what an exchange brings back;
//! - `driving`: the [`Clock`] and the loop step that feeds the core's machine;
//! - `traces`: the spans and events both transports emit;
//! - `network`: proxies, trust and content encodings; `tokens`: application tokens;
//!   `pace`: the pacer one client's listings share.

mod driving;
mod error;
mod network;
mod pace;
mod request;
mod settings;
mod tokens;
mod traces;

pub use connections_core::Listed;
pub use driving::{Clock, Step, feed, next_step, random_seed};
pub use error::{Chain, ConfigError, Error, Timeout, find_cause};
pub use network::{
    ACCEPT_ENCODING, Proxies, Proxy, ProxyProblem, crypto_provider, decoded_body,
    system_root_certificates,
};
use network::{ProxySetting, certificates_from_pem};
pub use pace::SharedPacer;
pub use request::{Exchanged, http_request, request_id};
pub use settings::{
    Builder, ClientListing, Config, DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_BODY_SIZE,
    DEFAULT_REQUEST_TIMEOUT, FromConfig, ListingStart, MAX_BURST, Tokens,
};
pub use tokens::{
    AppTokens, Fetch, Flight, Need, read_token_answer, record_token_outcome, token_http_request,
    token_retry_wait, token_span,
};
pub use traces::{log_notice, record_outcome, record_response, request_span};

/// Any error a transport library reports, kept as the cause of ours.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
