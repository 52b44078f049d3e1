//! One attempt: build the request, send it, read a bounded body before the deadline, and hand
//! `(status, headers, body)` to the core, which alone decides what they mean.

use std::error::Error as StdError;
use std::fmt;

use connections_client::{
    BoxError, Config, Error, Exchanged, Timeout, decoded_body, find_cause, http_request,
    record_outcome, record_response, request_id, request_span,
};
use connections_core::{AccessToken, RefreshOnce, SendRequest};
use http_body_util::BodyExt;
use hyper::body::{Body, Incoming};
use tracing::Instrument;

use crate::Client;
use crate::body::RequestBody;
use crate::connect::{ConnectTimedOut, Connector, HostNotFound, ProxyFailed};
use crate::token::bearer;

/// The pooled hyper-util client every `Client` clone shares, for the API and the token
/// endpoint alike.
pub(crate) type HttpClient = hyper_util::client::legacy::Client<Connector, RequestBody>;

/// Makes one attempt at `send` with a token from the configured source, sending it once
/// more when the 401 rule says (an application token the API refused).
pub(crate) async fn attempt(client: &Client, send: &SendRequest) -> Result<Exchanged, Error> {
    let mut rule = RefreshOnce::default();
    loop {
        let (token, id) = bearer(client).await?;
        let outcome = send_once(client, send, &token).await;
        if !client.config().tokens().send_again(&mut rule, id, &outcome) {
            return outcome;
        }
    }
}

/// One exchange for `send`, in its own `connections.request` span, under the request
/// deadline: the response head and its complete, bounded body, or what went wrong.
async fn send_once(
    client: &Client,
    send: &SendRequest,
    token: &AccessToken<'_>,
) -> Result<Exchanged, Error> {
    let (config, http) = (client.config(), &client.inner.http);
    let http_request = http_request::<RequestBody>(config, &send.request, token)?;
    let span = request_span(config, send);
    let recorder = span.clone();
    async move {
        let started = client.clock().elapsed();
        let exchanged =
            within_deadline(config, exchange(http, http_request, config, &recorder)).await;
        record_outcome(&recorder, client.clock(), started, &exchanged);
        exchanged
    }
    .instrument(span)
    .await
}

/// `exchange` under the request deadline.
pub(crate) async fn within_deadline(
    config: &Config,
    exchange: impl Future<Output = Result<Exchanged, Error>>,
) -> Result<Exchanged, Error> {
    let deadline = config.request_timeout();
    tokio::time::timeout(deadline, exchange)
        .await
        .unwrap_or(Err(Error::Timeout(Timeout::Request(deadline))))
}

/// Sends the request and reads the complete body, inflated if the server sent it gzipped;
/// the caller puts the deadline around it. API and token requests alike come through here.
pub(crate) async fn exchange(
    http: &HttpClient,
    request: http::Request<RequestBody>,
    config: &Config,
    span: &tracing::Span,
) -> Result<Exchanged, Error> {
    let response = http.request(request).await.map_err(send_error)?;
    let (mut head, body) = response.into_parts();
    record_response(span, head.status.as_u16(), request_id(&head));
    // The limit bounds the body as sent (compressed or not), then as decoded.
    let body = read_body(body, config.max_body_size()).await?;
    let body = decoded_body(&mut head, body, config.max_body_size())?;
    Ok((head, body))
}

/// Collects the body, failing as soon as it would pass `limit`: at once when the declared
/// `Content-Length` is larger, otherwise at the first chunk that crosses it. Memory stays at
/// `limit` plus one of hyper's read buffers, whatever the server sends.
async fn read_body(mut body: Incoming, limit: usize) -> Result<Vec<u8>, Error> {
    let too_large = Error::BodyTooLarge { limit };
    let declared = body.size_hint().lower();
    if usize::try_from(declared).map_or(true, |declared| declared > limit) {
        return Err(too_large);
    }
    // Trust the declared length for the first allocation only up to a modest size.
    let mut bytes = Vec::with_capacity(usize::try_from(declared).unwrap_or(0).min(64 * 1024));
    while let Some(frame) = body.frame().await {
        // A body cut short (closed before its Content-Length), a reset stream, an I/O error.
        let frame = frame.map_err(|e| Error::Connection(Box::new(Described::new(e))))?;
        if let Ok(data) = frame.into_data() {
            if data.len() > limit - bytes.len() {
                return Err(too_large);
            }
            bytes.extend_from_slice(&data);
        }
    }
    Ok(bytes)
}

/// Sorts a client error: the connect timeout, a proxy that did not open the tunnel, a host
/// name that does not resolve, a refused certificate, a connection the system refuses
/// outright (`PermissionDenied`: a firewall or sandbox; `InvalidInput`: an address it cannot
/// use; the same on every attempt, so `Request`), another failure to connect (TCP, TLS),
/// or a failure on an established connection. Each is recognized by the type the connector
/// put in the chain of causes (and an I/O error by its kind), not by message text.
fn send_error(error: hyper_util::client::legacy::Error) -> Error {
    if let Some(ConnectTimedOut(after)) = find_cause::<ConnectTimedOut>(&error) {
        return Error::Timeout(Timeout::Connect(*after));
    }
    let proxy = find_cause::<ProxyFailed>(&error).is_some();
    let unknown_host = find_cause::<HostNotFound>(&error).is_some();
    let connect = error.is_connect();
    let refused_by_system = connect
        && find_cause::<std::io::Error>(&error).is_some_and(|e| {
            matches!(
                e.kind(),
                std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::InvalidInput
            )
        });
    let certificate = matches!(
        find_cause::<rustls::Error>(&error),
        Some(rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented)
    );
    let described = Box::new(Described::new(error));
    // Checked first: failing to reach the proxy, even for lack of its address, is the
    // proxy's problem.
    if proxy {
        Error::Proxy(described)
    } else if unknown_host {
        Error::UnknownHost(described)
    } else if certificate {
        Error::Tls(described)
    } else if refused_by_system {
        Error::Request(described)
    } else if connect {
        Error::Connect(described)
    } else {
        Error::Connection(described)
    }
}

/// A hyper error shown from its first layer that says something: hyper-util's own text
/// names only the outermost ("client error (Connect)"), the kind our error's variant
/// already tells. `Display` is that layer's and `source()` its source, so a chain printer
/// ([`Error::chain`](connections_client::Error::chain)) shows each text once; the whole
/// error stays inside for `Debug`.
struct Described {
    inner: BoxError,
}

impl Described {
    fn new(error: impl StdError + Send + Sync + 'static) -> Self {
        Described {
            inner: Box::new(error),
        }
    }

    /// The first layer that is not hyper-util's client error, whose text is a bare kind
    /// (the last layer if none).
    fn shown(&self) -> &(dyn StdError + 'static) {
        let mut layer: &(dyn StdError + 'static) = &*self.inner;
        while let Some(next) = layer.source() {
            if !layer.is::<hyper_util::client::legacy::Error>() {
                break;
            }
            layer = next;
        }
        layer
    }
}

impl fmt::Debug for Described {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

impl fmt::Display for Described {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.shown(), f)
    }
}

impl StdError for Described {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.shown().source()
    }
}
