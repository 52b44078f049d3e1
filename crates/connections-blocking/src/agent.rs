//! The ureq side: one agent configured for this API, and ureq's errors mapped onto the
//! core's [`Error`]. Everything here is about moving bytes; what they mean is the core's.

use std::io;
use std::sync::Arc;

use connections_core::client::{Config, Error, Timeout};
use ureq::Agent;
use ureq::tls::{Certificate, RootCerts, TlsConfig};

/// Builds the agent every request of one [`Client`](crate::Client) shares (and its pool).
///
/// - statuses are never errors: the core reads error bodies and `Retry-After`;
/// - redirects are never followed (`max_redirects(0)` hands the 3xx back), so the token never
///   travels to a `Location`; the core turns the 3xx into an error naming it;
/// - `timeout_global` is the request deadline: it spans DNS, connect, headers and the body
///   reads that follow `call()`, so a server dripping bytes is cut off at the deadline;
///   `timeout_resolve` and `timeout_connect` bound DNS and TCP + TLS each by the connect
///   timeout;
/// - the Mozilla roots are trusted, plus any configured root certificates;
/// - proxies come from the environment (`HTTPS_PROXY`, `NO_PROXY`, ...), read by ureq when
///   the client is built.
pub(crate) fn agent(config: &Config) -> Agent {
    let connect = Some(config.connect_timeout);
    Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(config.request_timeout))
        .timeout_resolve(connect)
        .timeout_connect(connect)
        // Also what a CONNECT proxy sees; requests set the same value themselves.
        .user_agent(config.user_agent.as_str())
        .tls_config(tls(&config.root_certificates))
        .build()
        .new_agent()
}

fn tls(extra_roots: &[Vec<u8>]) -> TlsConfig {
    let builder = TlsConfig::builder();
    if extra_roots.is_empty() {
        // ureq's default: the Mozilla roots.
        return builder.build();
    }
    let roots: Vec<Certificate<'static>> = webpki_root_certs::TLS_SERVER_ROOT_CERTS
        .iter()
        .map(|root| Certificate::from_der(root.as_ref()))
        .chain(
            extra_roots
                .iter()
                .map(|der| Certificate::from_der(der).to_owned()),
        )
        .collect();
    builder
        .root_certs(RootCerts::Specific(Arc::new(roots)))
        .build()
}

/// Where in the exchange an error happened: before the response head arrived, the
/// connection itself may be what failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    /// `call()`: DNS, connect, TLS, sending, the response head.
    Call,
    /// Reading the body after the head.
    Body,
}

/// Maps a ureq error onto the core's error: connect/DNS/TLS → `Connect`, deadlines →
/// `Timeout`, the body limit → `BodyTooLarge`, anything breaking an established exchange
/// (premature close, truncated or garbled body) → `Connection`.
pub(crate) fn map_error(error: ureq::Error, phase: Phase, config: &Config) -> Error {
    use ureq::Error as U;
    match error {
        U::Timeout(ureq::Timeout::Resolve | ureq::Timeout::Connect) => {
            Error::Timeout(Timeout::Connect(config.connect_timeout))
        }
        U::Timeout(_) => Error::Timeout(Timeout::Request(config.request_timeout)),
        U::BodyExceedsLimit(_) => Error::BodyTooLarge {
            limit: config.max_body_size,
        },
        U::Io(e) if phase == Phase::Call && is_connect_failure(&e) => {
            Error::Connect(Box::new(U::Io(e)))
        }
        U::Io(e) if e.kind() == io::ErrorKind::TimedOut => {
            Error::Timeout(Timeout::Request(config.request_timeout))
        }
        e @ (U::HostNotFound
        | U::ConnectionFailed
        | U::Tls(_)
        | U::Rustls(_)
        | U::Pem(_)
        | U::TlsRequired
        | U::ConnectProxyFailed(_)
        | U::InvalidProxyUrl
        | U::BadUri(_)
        | U::RequireHttpsOnly(_)
        | U::Http(_)) => Error::Connect(Box::new(e)),
        other => Error::Connection(Box::new(other)),
    }
}

/// Whether an I/O error before the response means no usable connection was made: refused,
/// unreachable, or a TLS handshake that failed (rustls reports certificate and protocol
/// problems as `InvalidData`).
fn is_connect_failure(e: &io::Error) -> bool {
    use io::ErrorKind as K;
    matches!(
        e.kind(),
        K::ConnectionRefused
            | K::AddrNotAvailable
            | K::AddrInUse
            | K::NetworkUnreachable
            | K::HostUnreachable
            | K::NetworkDown
            | K::InvalidData
            | K::InvalidInput
            | K::PermissionDenied
    )
}
