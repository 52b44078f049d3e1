use connections_core::{AccessToken, ListConnections};

use crate::traces::RedactedHeaders;
use crate::{ACCEPT_ENCODING, Config, Error};

/// The `http::Request` of one attempt, for transports built on the `http` crate's types:
/// the `Authorization` value marked sensitive, and the configured `User-Agent` (with its
/// suffix) in place of the core's default.
///
/// Logs a `debug` event `request headers` with `method`, `url` and the `headers` as
/// `name: value` lines, `Authorization` redacted (the transport adds only `Host` and
/// connection headers).
pub fn http_request<B: Default>(
    config: &Config,
    request: &ListConnections<'_>,
    token: &AccessToken<'_>,
) -> Result<http::Request<B>, Error> {
    let mut built = request
        .parts(config.base_url(), token)
        .to_http_request::<B>()
        // Every input was validated before this point (the token by `AccessToken`, the base
        // URL by `BaseUrl`, the query by the core's encoder): what is refused anyway would
        // be refused on every attempt.
        .map_err(|e| Error::Request(Box::new(e)))?;
    if let Ok(agent) = http::HeaderValue::from_str(config.user_agent()) {
        built.headers_mut().insert(http::header::USER_AGENT, agent);
    }
    built.headers_mut().insert(
        http::header::ACCEPT_ENCODING,
        http::HeaderValue::from_static(ACCEPT_ENCODING),
    );
    tracing::debug!(
        method = %built.method(),
        url = %built.uri(),
        headers = %RedactedHeaders(built.headers()),
        "request headers"
    );
    Ok(built)
}

/// The `sc-request-id` of a response head.
pub fn request_id(head: &http::response::Parts) -> Option<&str> {
    head.headers.get("sc-request-id")?.to_str().ok()
}

/// What one exchange brought back: the response head and the complete, bounded body.
pub type Exchanged = (http::response::Parts, Vec<u8>);
