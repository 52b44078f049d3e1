//! The bearer token of each attempt: fixed, from the user's [`TokenSource`], or an
//! application token fetched with client credentials. Fetches run on their own tasks, so a
//! request that gives up waiting never cancels the fetch others wait for.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use connections_client::{Bearer, BoxError, Error, Fetch, Need, TokenAttempts};
use connections_core::{AccessToken, IssuedToken, TokenId};
use tracing::Instrument;

use crate::Client;
use crate::exchange::{exchange, within_deadline};

/// A source of bearer tokens for tokens obtained elsewhere, asked before every attempt: it
/// should answer from a cache and renew ahead of expiry. For Smartcar's client credentials,
/// use [`Builder::client_credentials`](crate::Builder::client_credentials) instead.
pub trait TokenSource: Send + Sync + 'static {
    /// A token valid now.
    fn access_token(
        &self,
    ) -> Pin<Box<dyn Future<Output = Result<AccessToken<'static>, BoxError>> + Send + '_>>;
}

/// Makes an async closure a token source for
/// [`Builder::token_source`](crate::Builder::token_source), with its signature inferred:
///
/// ```
/// use connections_hyper::{AccessToken, Client, token_source_fn};
///
/// let client = Client::builder()
///     .token_source(token_source_fn(|| async {
///         // e.g. ask a vault that keeps it fresh
///         Ok(AccessToken::from_string("token-from-elsewhere".to_owned())?)
///     }))
///     .build()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn token_source_fn<F, Fut>(source: F) -> Arc<dyn TokenSource>
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<AccessToken<'static>, BoxError>> + Send + 'static,
{
    Arc::new(FnSource(source))
}

/// A closure as a [`TokenSource`]; see [`token_source_fn`].
struct FnSource<F>(F);

impl<F, Fut> TokenSource for FnSource<F>
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<AccessToken<'static>, BoxError>> + Send + 'static,
{
    fn access_token(
        &self,
    ) -> Pin<Box<dyn Future<Output = Result<AccessToken<'static>, BoxError>> + Send + '_>> {
        Box::pin((self.0)())
    }
}

/// The token for the next attempt, and which application token it is (for the 401 rule).
pub(crate) async fn bearer(
    client: &Client,
) -> Result<(AccessToken<'static>, Option<TokenId>), Error> {
    let app = match client.config().tokens().bearer() {
        Bearer::App(app) => app,
        Bearer::Fixed(token) => return Ok((token.clone(), None)),
        Bearer::Source => {
            // `from_config` refuses a `Source` setting without a source.
            let Some(source) = &client.inner.source else {
                return Err(Error::TokenSource("no token source was given".into()));
            };
            let token = source.access_token().await.map_err(Error::TokenSource)?;
            return Ok((token, None));
        }
    };
    loop {
        match app.need(client.clock()) {
            Need::Use { token, id, refresh } => {
                if let Some(fetch) = refresh {
                    // Renewed in the background: this request goes on with its valid token.
                    tokio::spawn(fetch_token(client.clone(), fetch));
                }
                return Ok((token, Some(id)));
            }
            Need::Fetch(fetch) => {
                // On a task of its own, so a request that stops waiting never cancels it.
                let task = tokio::spawn(fetch_token(client.clone(), fetch));
                let (token, id) = task
                    .await
                    .map_err(|e| crate::listing::joined_error(e, |_| Error::TokenCancelled))??;
                return Ok((token, Some(id)));
            }
            Need::Wait(flight) => app.wait(flight).await?,
        }
    }
}

/// Makes `fetch`'s requests and reports its outcome to the cache.
async fn fetch_token(
    client: Client,
    fetch: Fetch,
) -> Result<(AccessToken<'static>, TokenId), Error> {
    let mut attempts = fetch.attempts(client.config());
    request_token(&client, &mut attempts).await;
    fetch.complete(attempts)
}

/// Sends the token requests of `attempts`, sleeping the waits between them it names.
async fn request_token(client: &Client, attempts: &mut TokenAttempts<'_>) {
    let (config, span) = (client.config(), attempts.span().clone());
    loop {
        let answer = match attempts.request() {
            Ok(request) => {
                let exchanged = exchange(&client.inner.http, request, config, &span);
                within_deadline(config, exchanged.instrument(span.clone())).await
            }
            Err(e) => Err(e),
        };
        match attempts.answered(answer) {
            Some(wait) => tokio::time::sleep(wait).await,
            None => return,
        }
    }
}

/// A fresh application token, fetched now and not cached; see
/// [`Client::fetch_application_token`].
pub(crate) async fn fetch_uncached(client: &Client) -> Result<IssuedToken, Error> {
    let app = client.config().tokens().credentials_for_fetch()?;
    let mut attempts = app.attempts(client.config(), client.clock());
    request_token(client, &mut attempts).await;
    attempts.outcome()
}
