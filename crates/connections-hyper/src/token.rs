//! The bearer token of each attempt: fixed, from the user's [`TokenSource`], or an
//! application token fetched with client credentials. Fetches run on their own tasks, so a
//! request that gives up waiting never cancels the fetch others wait for.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use connections_client::{
    AppTokens, BoxError, Error, Fetch, Need, Tokens, read_token_answer, record_token_outcome,
    token_http_request, token_span,
};
use connections_core::{AccessToken, IssuedToken, TokenId};
use tokio::time::Instant;
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

/// The token for the next attempt, and which application token it is (to drop it on a 401).
pub(crate) async fn bearer(
    client: &Client,
) -> Result<(AccessToken<'static>, Option<TokenId>), Error> {
    let app = match client.config().tokens() {
        Tokens::App(app) => app,
        Tokens::Static(token) => return Ok((token.clone(), None)),
        _ => {
            let Some(source) = &client.inner.source else {
                return Err(Error::TokenSource("no token source was given".into()));
            };
            let token = source.access_token().await.map_err(Error::TokenSource)?;
            return Ok((token, None));
        }
    };
    loop {
        match app.need_on(client.clock()) {
            Need::Use { token, id, refresh } => {
                if let Some(fetch) = refresh {
                    // Renewed in the background: this request goes on with its valid token.
                    tokio::spawn(fetch_token(client.clone(), app.clone(), fetch));
                }
                return Ok((token, Some(id)));
            }
            Need::Fetch(fetch) => {
                let task = tokio::spawn(fetch_token(client.clone(), app.clone(), fetch));
                let (token, id) = task
                    .await
                    .map_err(|e| crate::listing::joined_error(e, |_| Error::TokenCancelled))??;
                return Ok((token, Some(id)));
            }
            Need::Wait(flight) => app.wait(flight).await?,
        }
    }
}

/// Fetches a token, with retries as the policy says, and reports it to the cache.
async fn fetch_token(
    client: Client,
    app: Arc<AppTokens>,
    fetch: Fetch,
) -> Result<(AccessToken<'static>, TokenId), Error> {
    let span = token_span(&app);
    // On tokio's clock, the source of the one the lookup that started `fetch` read.
    let sent = Instant::now();
    let (outcome, attempts, status) = request_token(&client, &app, &span)
        .instrument(span.clone())
        .await;
    record_token_outcome(&span, sent.into_std(), attempts, status, &outcome);
    fetch.finish(sent.into_std(), outcome)
}

/// Asks the token endpoint until it issues a token, refuses for good, or the retry policy
/// gives up; returns the outcome, the attempts made and the last status.
async fn request_token(
    client: &Client,
    app: &AppTokens,
    span: &tracing::Span,
) -> (Result<IssuedToken, Error>, u32, Option<u16>) {
    let config = client.config();
    let mut attempts = 0;
    loop {
        attempts += 1;
        let mut status = None;
        let outcome = match token_http_request(config, app) {
            Ok(request) => {
                within_deadline(config, exchange(&client.inner.http, request, config, span))
                    .await
                    .and_then(|exchanged| {
                        status = Some(exchanged.0.status.as_u16());
                        read_token_answer(app, &exchanged)
                    })
            }
            Err(e) => Err(e),
        };
        let Err(error) = &outcome else {
            return (outcome, attempts, status);
        };
        match app.retry_wait_on(client.clock(), config, attempts, error) {
            Some(wait) => {
                tokio::time::sleep(wait).await;
            }
            None => return (outcome, attempts, status),
        }
    }
}

/// A fresh application token, fetched now and not cached; see
/// [`Client::fetch_application_token`].
pub(crate) async fn fetch_uncached(client: &Client) -> Result<IssuedToken, Error> {
    let Tokens::App(app) = client.config().tokens() else {
        return Err(Error::TokenRequest(
            "fetching an application token needs client credentials \
             (Builder::client_credentials)"
                .into(),
        ));
    };
    let span = token_span(app);
    let started = Instant::now();
    let (outcome, attempts, status) = request_token(client, app, &span)
        .instrument(span.clone())
        .await;
    record_token_outcome(&span, started.into_std(), attempts, status, &outcome);
    outcome.map_err(|e| app.final_error(e))
}
