//! The bearer token of each attempt: fixed, from the user's [`TokenSource`], or an
//! application token fetched with client credentials through the client's own exchange (same
//! deadlines, body limit, gzip handling and no redirects as the API's requests; the agent of
//! the token URL's origin, with its proxy if it has one).
//!
//! The rules (one fetch at a time, waiters, refresh ahead of expiry, one refetch per refused
//! token) live in `connections_client::AppTokens` and the core; this module only sends the
//! token request, sleeps between its retries, and runs background renewals on a thread.

use std::sync::Arc;
use std::thread;

use connections_client::{Bearer, BoxError, Error, Exchanged, Fetch, Need, TokenAttempts};
use connections_core::{AccessToken, IssuedToken, TokenId};
use zeroize::Zeroizing;

use crate::Client;

/// A source of bearer tokens obtained elsewhere, asked before every attempt (so it should
/// answer from a cache, and renew ahead of expiry itself). For Smartcar's application
/// tokens, use [`Builder::client_credentials`](crate::Builder::client_credentials) instead:
/// the client then fetches, caches and renews them.
///
/// Closures `Fn() -> Result<AccessToken<'static>, BoxError>` are token sources; see
/// [`token_source_fn`] for one that needs no type annotations.
///
/// A source's error ends the attempt with [`Error::TokenSource`], which is not retried; it must not
/// hold the token, since errors are displayed and logged. A panic in it ends the listing with
/// an [`Error::Panicked`] naming the panic (see [`Client::pages`](crate::Client::pages)).
pub trait TokenSource: Send + Sync + 'static {
    /// A token valid now.
    fn access_token(&self) -> Result<AccessToken<'static>, BoxError>;
}

impl<F> TokenSource for F
where
    F: Fn() -> Result<AccessToken<'static>, BoxError> + Send + Sync + 'static,
{
    fn access_token(&self) -> Result<AccessToken<'static>, BoxError> {
        self()
    }
}

/// Makes a closure a token source for
/// [`Builder::token_source`](crate::Builder::token_source), with its signature inferred:
///
/// ```
/// use connections_blocking::{AccessToken, Client, token_source_fn};
///
/// let client = Client::builder()
///     .token_source(token_source_fn(|| {
///         // e.g. read it from a file another process keeps fresh
///         Ok(AccessToken::from_string("token-from-elsewhere".to_owned())?)
///     }))
///     .build()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn token_source_fn<F>(source: F) -> Arc<dyn TokenSource>
where
    F: Fn() -> Result<AccessToken<'static>, BoxError> + Send + Sync + 'static,
{
    Arc::new(source)
}

/// The token for the next attempt, and which application token it is (for the 401 rule).
pub(crate) fn bearer(client: &Client) -> Result<(AccessToken<'static>, Option<TokenId>), Error> {
    let app = match client.config().tokens().bearer() {
        Bearer::App(app) => app,
        Bearer::Fixed(token) => return Ok((token.clone(), None)),
        Bearer::Source => {
            // `from_config` refuses a `Source` setting without a source.
            let Some(source) = &client.inner.source else {
                return Err(Error::TokenSource("no token source was given".into()));
            };
            let token = source.access_token().map_err(Error::TokenSource)?;
            return Ok((token, None));
        }
    };
    loop {
        match app.need(client.clock()) {
            Need::Use { token, id, refresh } => {
                if let Some(fetch) = refresh {
                    // Due for renewal but still valid: this request goes on with it.
                    renew_in_background(client, fetch);
                }
                return Ok((token, Some(id)));
            }
            Need::Fetch(fetch) => {
                let (token, id) = fetch_token(client, fetch)?;
                return Ok((token, Some(id)));
            }
            Need::Wait(flight) => app.wait_blocking(flight)?,
        }
    }
}

/// Runs `fetch` on a thread of its own, logging to the caller's subscriber.
fn renew_in_background(client: &Client, fetch: Fetch) {
    let client = client.clone();
    let dispatch = tracing::dispatcher::get_default(Clone::clone);
    let spawned = thread::Builder::new()
        .name("connections-token".into())
        .spawn(move || {
            tracing::dispatcher::with_default(&dispatch, || {
                // The outcome is in the cache and the log; nobody waits for this thread.
                let _ = fetch_token(&client, fetch);
            });
        });
    if let Err(error) = spawned {
        // The closure, and the fetch with it, was dropped: the cache counts the fetch as
        // failed, and a later request renews the token.
        tracing::warn!(target: "connections", %error, "could not start a thread to renew the application token");
    }
}

/// Makes `fetch`'s requests and reports its outcome to the cache (which wakes the requests
/// waiting for it).
fn fetch_token(client: &Client, fetch: Fetch) -> Result<(AccessToken<'static>, TokenId), Error> {
    let mut attempts = fetch.attempts(client.config());
    request_token(client, &mut attempts);
    fetch.complete(attempts)
}

/// Sends the token requests of `attempts` in its span, sleeping the waits between them it
/// names.
fn request_token(client: &Client, attempts: &mut TokenAttempts<'_>) {
    let span = attempts.span().clone();
    let _entered = span.enter();
    loop {
        let answer = attempts
            .request()
            .and_then(|request| post_form(client, request));
        match attempts.answered(answer) {
            Some(wait) => thread::sleep(wait),
            None => return,
        }
    }
}

/// A fresh application token, fetched now and not cached; see
/// [`Client::fetch_application_token`](crate::Client::fetch_application_token).
pub(crate) fn fetch_uncached(client: &Client) -> Result<IssuedToken, Error> {
    let app = client.config().tokens().credentials_for_fetch()?;
    let mut attempts = app.attempts(client.config(), client.clock());
    request_token(client, &mut attempts);
    attempts.outcome()
}

/// One token request through the agent of the token URL, under the request deadline and body
/// limit. The form body (which holds the secret) is overwritten once sent.
fn post_form(
    client: &Client,
    request: ureq::http::Request<Zeroizing<Vec<u8>>>,
) -> Result<Exchanged, Error> {
    let (head, form) = request.into_parts();
    let request = ureq::http::Request::from_parts(head, form.as_slice());
    client.send(crate::agent::Origin::Token, request, |_| {})
}
