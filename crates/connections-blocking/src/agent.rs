//! The ureq side: one agent configured for this API, and ureq's errors mapped onto the
//! core's [`Error`]. Everything here is about moving bytes; what they mean is the core's.

use std::io;
use std::sync::Arc;

use connections_client::{Config, ConfigError, Error, Timeout, find_cause};
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
pub(crate) fn agent(config: &Config) -> Result<Agent, Error> {
    check_roots(config.root_certificates())?;
    let connect = Some(config.connect_timeout());
    let agent = Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(config.request_timeout()))
        .timeout_resolve(connect)
        .timeout_connect(connect)
        // Also what a CONNECT proxy sees; requests set the same values themselves.
        .user_agent(config.user_agent())
        .accept("application/json")
        .tls_config(tls(config.root_certificates()))
        .build()
        .new_agent();
    Ok(agent)
}

/// Refuses extra roots rustls cannot use now, rather than failing every TLS handshake later.
fn check_roots(extra_roots: &[Vec<u8>]) -> Result<(), Error> {
    let mut store = rustls::RootCertStore::empty();
    for (index, der) in extra_roots.iter().enumerate() {
        store
            .add(rustls::pki_types::CertificateDer::from(der.as_slice()))
            .map_err(|_| Error::Config(ConfigError::RootCertificate { index }))?;
    }
    Ok(())
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
    // ureq's `source()` does not reach the io::Error it wraps, so look there directly.
    let tls = match &error {
        U::Io(e) => find_cause::<rustls::Error>(e),
        other => find_cause::<rustls::Error>(other),
    };
    let refused_certificate = matches!(
        tls,
        Some(rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented)
    );
    if refused_certificate {
        return Error::Tls(Box::new(error));
    }
    match error {
        U::Timeout(ureq::Timeout::Resolve | ureq::Timeout::Connect) => {
            Error::Timeout(Timeout::Connect(config.connect_timeout()))
        }
        U::Timeout(_) => Error::Timeout(Timeout::Request(config.request_timeout())),
        U::BodyExceedsLimit(_) => Error::BodyTooLarge {
            limit: config.max_body_size(),
        },
        U::Io(e) if phase == Phase::Call && is_connect_failure(&e) => {
            Error::Connect(Box::new(U::Io(e)))
        }
        U::Io(e) if e.kind() == io::ErrorKind::TimedOut => {
            Error::Timeout(Timeout::Request(config.request_timeout()))
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// Settings as a built client would see them.
    fn config() -> Config {
        struct Settings(Config);
        impl connections_client::FromConfig for Settings {
            type TokenSource = ();

            fn from_config(config: Config, _: Option<Arc<()>>) -> Result<Self, Error> {
                Ok(Settings(config))
            }
        }
        let built = connections_client::Builder::<Settings>::default()
            .token("t")
            .connect_timeout(Duration::from_secs(3))
            .request_timeout(Duration::from_secs(7))
            .max_body_size(99)
            .build();
        match built {
            Ok(Settings(config)) => config,
            Err(e) => panic!("valid settings refused: {e}"),
        }
    }

    fn io(kind: io::ErrorKind) -> ureq::Error {
        ureq::Error::Io(io::Error::new(kind, "test"))
    }

    #[test]
    fn timeouts_name_the_deadline_that_passed() {
        let c = config();
        for phase in [ureq::Timeout::Resolve, ureq::Timeout::Connect] {
            let e = map_error(ureq::Error::Timeout(phase), Phase::Call, &c);
            assert!(matches!(e, Error::Timeout(Timeout::Connect(d)) if d == c.connect_timeout()));
        }
        for phase in [
            ureq::Timeout::Global,
            ureq::Timeout::RecvResponse,
            ureq::Timeout::RecvBody,
            ureq::Timeout::SendRequest,
        ] {
            let e = map_error(ureq::Error::Timeout(phase), Phase::Body, &c);
            assert!(matches!(e, Error::Timeout(Timeout::Request(d)) if d == c.request_timeout()));
        }
        let e = map_error(io(io::ErrorKind::TimedOut), Phase::Body, &c);
        assert!(matches!(e, Error::Timeout(Timeout::Request(_))));
    }

    #[test]
    fn failures_before_a_connection_are_connect_errors() {
        let c = config();
        for kind in [
            io::ErrorKind::ConnectionRefused,
            io::ErrorKind::HostUnreachable,
            io::ErrorKind::InvalidData, // rustls: bad certificate
        ] {
            assert!(matches!(
                map_error(io(kind), Phase::Call, &c),
                Error::Connect(_)
            ));
        }
        for e in [
            ureq::Error::HostNotFound,
            ureq::Error::ConnectionFailed,
            ureq::Error::Tls("handshake"),
            ureq::Error::ConnectProxyFailed("407".into()),
        ] {
            assert!(matches!(map_error(e, Phase::Call, &c), Error::Connect(_)));
        }
    }

    #[test]
    fn failures_of_an_established_exchange_are_connection_errors() {
        let c = config();
        for kind in [
            io::ErrorKind::UnexpectedEof,
            io::ErrorKind::ConnectionReset,
            io::ErrorKind::InvalidData,
        ] {
            assert!(matches!(
                map_error(io(kind), Phase::Body, &c),
                Error::Connection(_)
            ));
        }
        assert!(matches!(
            map_error(io(io::ErrorKind::UnexpectedEof), Phase::Call, &c),
            Error::Connection(_)
        ));
        assert!(matches!(
            map_error(ureq::Error::BodyExceedsLimit(99), Phase::Body, &c),
            Error::BodyTooLarge { limit: 99 }
        ));
    }

    #[test]
    fn extra_roots_are_added_beside_the_web_roots() {
        assert!(matches!(tls(&[]).root_certs(), RootCerts::WebPki));
        let extra = vec![1_u8, 2, 3];
        let RootCerts::Specific(roots) = tls(std::slice::from_ref(&extra)).root_certs().clone()
        else {
            panic!("extra roots ignored")
        };
        assert_eq!(
            roots.len(),
            webpki_root_certs::TLS_SERVER_ROOT_CERTS.len() + 1
        );
        assert_eq!(roots.last().map(Certificate::der), Some(extra.as_slice()));
    }
}
