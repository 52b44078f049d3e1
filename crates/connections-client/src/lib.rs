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

// What users of a transport see (each transport re-exports it).
pub use connections_core::Listed;
pub use error::{Chain, ConfigError, Error, Timeout};
pub use network::{Proxies, Proxy, ProxyProblem};
pub use settings::{
    Builder, Config, DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_BODY_SIZE, DEFAULT_REQUEST_TIMEOUT,
    FromConfig, ListingStart, MAX_BURST, Tokens,
};

// The glue between this crate and the transports: public only because the transports are
// other crates. Hidden from the docs and outside the public API that `.ci/public-api`
// checks, so it can change with the transports without a user noticing.
#[doc(hidden)]
pub use driving::{Clock, Step, feed, next_step, random_seed, single_page};
#[doc(hidden)]
pub use error::find_cause;
#[doc(hidden)]
pub use network::{ACCEPT_ENCODING, crypto_provider, decoded_body, system_root_certificates};
use network::{ProxySetting, certificates_from_pem};
#[doc(hidden)]
pub use pace::SharedPacer;
#[doc(hidden)]
pub use request::{Exchanged, http_request, request_id};
#[doc(hidden)]
pub use settings::ClientListing;
#[doc(hidden)]
pub use tokens::{AppTokens, Bearer, Fetch, Flight, Need, TokenAttempts};
#[doc(hidden)]
pub use traces::{log_notice, record_outcome, record_response, request_span};

/// Any error a transport library reports, kept as the cause of ours.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
