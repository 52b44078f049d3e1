//! Shared steps of the end-to-end tests: list a sandbox completely with each transport.

use std::time::Duration;

use connections_client::{Builder, Error, FromConfig};
use connections_core::{ListConnections, Owned, Page, RetryPolicy};
use connections_sandbox::{Dataset, Mode, Sandbox};
use futures_util::StreamExt;

/// How a listing is fetched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via {
    /// `connections-hyper`, pages one at a time.
    HyperSequential,
    /// `connections-hyper`, up to this many pages at once.
    HyperConcurrent(usize),
    /// `connections-blocking`, pages one at a time.
    Blocking,
    /// `connections-blocking`, up to this many pages at once.
    BlockingConcurrent(usize),
}

/// Every transport setting the tests vary.
pub const ALL: [Via; 4] = [
    Via::HyperSequential,
    Via::HyperConcurrent(4),
    Via::Blocking,
    Via::BlockingConcurrent(4),
];

/// The client's settings and the consumer's pace.
#[derive(Clone, Copy, Debug)]
pub struct Consumer {
    /// The deadline of each exchange.
    pub timeout: Duration,
    /// Attempts per request; 1 turns retries off.
    pub max_attempts: u32,
    /// How long the consumer works on each page before it asks for the next.
    pub per_page: Duration,
    /// Client credentials for the sandbox's token endpoint, instead of its static token.
    pub credentials: Option<(&'static str, &'static str)>,
}

impl Default for Consumer {
    /// A patient client with fast retries and a consumer that never stalls.
    fn default() -> Self {
        Consumer {
            timeout: Duration::from_secs(10),
            max_attempts: 10,
            per_page: Duration::ZERO,
            credentials: None,
        }
    }
}

fn configure<C: FromConfig>(
    builder: Builder<C>,
    sandbox: &Sandbox,
    via: Via,
    consumer: Consumer,
) -> Builder<C> {
    let concurrency = match via {
        Via::HyperConcurrent(n) | Via::BlockingConcurrent(n) => n,
        Via::HyperSequential | Via::Blocking => 1,
    };
    let builder = builder.base_url(sandbox.base_url());
    let builder = match consumer.credentials {
        Some((id, secret)) => builder
            .client_credentials(id, secret)
            .token_url(&sandbox.token_url()),
        None => builder.token(sandbox.token()),
    };
    builder
        .request_timeout(consumer.timeout)
        .page_concurrency(concurrency)
        .retry_policy(
            RetryPolicy::new()
                .with_max_attempts(consumer.max_attempts)
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
    list_ids_as(sandbox, via, request, Consumer::default(), |_| {})
}

/// The ids of a page's connections, in order (an id the server left out counts as empty).
fn ids_of(page: Page<Owned>) -> impl Iterator<Item = String> {
    page.data.into_iter().map(|c| c.id.unwrap_or_default())
}

/// [`list_ids`] with these client settings, consuming pages at the consumer's pace and
/// calling `after_page` with the number of each page consumed (1, 2, ...), for instance to
/// change the data mid-listing.
pub fn list_ids_as(
    sandbox: &Sandbox,
    via: Via,
    request: &ListConnections<'_>,
    consumer: Consumer,
    mut after_page: impl FnMut(usize),
) -> Result<Vec<String>, Error> {
    let mut consumed = 0;
    let request = request.clone().into_owned();
    let mut ids = Vec::new();
    match via {
        Via::Blocking | Via::BlockingConcurrent(_) => {
            let client = configure(
                connections_blocking::Client::builder(),
                sandbox,
                via,
                consumer,
            )
            .build()?;
            for page in client.pages(&request) {
                ids.extend(ids_of(page?.value));
                consumed += 1;
                after_page(consumed);
                std::thread::sleep(consumer.per_page);
            }
        }
        Via::HyperSequential | Via::HyperConcurrent(_) => {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| Error::Connection(e.into()))?;
            runtime.block_on(async {
                let client =
                    configure(connections_hyper::Client::builder(), sandbox, via, consumer)
                        .build()?;
                let mut pages = std::pin::pin!(client.pages(&request));
                while let Some(page) = pages.next().await {
                    ids.extend(ids_of(page?.value));
                    consumed += 1;
                    after_page(consumed);
                    tokio::time::sleep(consumer.per_page).await;
                }
                Ok::<_, Error>(())
            })?;
        }
    }
    Ok(ids)
}

/// The filters of a listing, as the test oracle reads them.
#[derive(Clone, Copy, Debug, Default)]
pub struct Expect<'a> {
    /// `filter[userId]`.
    pub user_id: Option<&'a str>,
    /// `filter[vehicleId]`.
    pub vehicle_id: Option<&'a str>,
    /// `filter[vehicle.mode]`; the API's default is live.
    pub mode: Option<Mode>,
}

impl Expect<'_> {
    /// The ids a complete listing must return, worked out here from the dataset's raw
    /// records and the API contract, not from the sandbox's own filter code: every filter
    /// given must match, no mode filter means live only, newest first.
    pub fn ids(&self, dataset: &Dataset) -> Vec<String> {
        let mode = self.mode.unwrap_or(Mode::Live);
        let mut records: Vec<_> = dataset
            .connections()
            .iter()
            .filter(|c| self.user_id.is_none_or(|u| c.user_id == u))
            .filter(|c| self.vehicle_id.is_none_or(|v| c.vehicle_id == v))
            .filter(|c| c.mode == mode)
            .collect();
        // RFC 3339 UTC text in whole seconds orders like the instant.
        records.sort_by(|a, b| b.created_at.cmp(&a.created_at));
        records.into_iter().map(|c| c.id.clone()).collect()
    }
}
