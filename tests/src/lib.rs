//! Shared steps of the end-to-end tests: list a sandbox completely with each transport.

use std::time::Duration;

use connections_client::{Builder, Error, FromConfig};
use connections_core::{ListConnections, RetryPolicy};
use connections_sandbox::Sandbox;
use futures_util::StreamExt;

/// How a listing is fetched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via {
    /// `connections-hyper`, pages one at a time.
    HyperSequential,
    /// `connections-hyper`, up to this many pages at once.
    HyperConcurrent(usize),
    /// `connections-blocking`.
    Blocking,
}

/// Every transport setting the tests vary.
pub const ALL: [Via; 3] = [Via::HyperSequential, Via::HyperConcurrent(4), Via::Blocking];

fn configure<C: FromConfig>(builder: Builder<C>, sandbox: &Sandbox, via: Via) -> Builder<C> {
    let concurrency = match via {
        Via::HyperConcurrent(n) => n,
        _ => 1,
    };
    builder
        .base_url(sandbox.base_url())
        .token(sandbox.token())
        .request_timeout(Duration::from_secs(10))
        .page_concurrency(concurrency)
        .retry_policy(
            RetryPolicy::new()
                .with_max_attempts(10)
                .with_base_delay(Duration::from_millis(5))
                .with_max_delay(Duration::from_millis(50)),
        )
}

/// The ids of every connection `request` selects, in the order received.
pub fn list_ids(
    sandbox: &Sandbox,
    via: Via,
    request: &ListConnections<'_>,
) -> Result<Vec<String>, Error> {
    let request = request.clone().into_owned();
    match via {
        Via::Blocking => {
            let client =
                configure(connections_blocking::Client::builder(), sandbox, via).build()?;
            client
                .connections(&request)
                .map(|c| c.map(|c| c.id.unwrap_or_default()))
                .collect()
        }
        Via::HyperSequential | Via::HyperConcurrent(_) => {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| Error::Connection(e.into()))?;
            runtime.block_on(async {
                let client =
                    configure(connections_hyper::Client::builder(), sandbox, via).build()?;
                let mut ids = Vec::new();
                let mut stream = std::pin::pin!(client.connections(&request));
                while let Some(c) = stream.next().await {
                    ids.push(c?.id.unwrap_or_default());
                }
                Ok(ids)
            })
        }
    }
}
