//! The `list_all` variants: five ways to list every connection of a sandbox, each returning
//! the ids in the order received. Shared by the bench (`benches/list_all.rs`) and its test
//! (`tests/list_all.rs`), so the code that is measured is the code that is checked.

use std::error::Error;
use std::io::Read as _;

use connections_core::ListConnections;
use connections_sandbox::{Mode, Sandbox};
use futures_util::TryStreamExt;
use serde::Deserialize;

/// How many connections the sandbox holds: with the default seed, exactly [`LISTED`] of
/// them are live, and a listing without a mode filter returns the live ones.
pub(crate) const DATASET: usize = 2_554;
/// How many connections a listing returns.
pub(crate) const LISTED: usize = 2_000;
/// `page[size]` of every request: 20 pages in all.
pub(crate) const PAGE_SIZE: u32 = 100;

pub(crate) type BoxError = Box<dyn Error + Send + Sync>;

/// One way to list everything; the name is the criterion id under `list_all/`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Variant {
    /// `connections_hyper::Client`, `page_concurrency(1)`.
    HyperSequential,
    /// `connections_hyper::Client`, `page_concurrency(8)`.
    HyperConcurrent8,
    /// `connections_blocking::Client`.
    Blocking,
    /// A hand-written loop: a default `ureq::Agent`, `serde_json`, page numbers, bodies
    /// uncompressed (`ureq` without its `gzip` feature).
    NaiveUreqSerdeJson,
    /// The same loop asking for gzip and inflating it, as `ureq` with its default features
    /// does: the same bytes on the wire as the clients, which ask for gzip too.
    NaiveUreqGzipSerdeJson,
}

impl Variant {
    pub(crate) const ALL: [Variant; 5] = [
        Variant::HyperSequential,
        Variant::HyperConcurrent8,
        Variant::Blocking,
        Variant::NaiveUreqSerdeJson,
        Variant::NaiveUreqGzipSerdeJson,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Variant::HyperSequential => "hyper_sequential",
            Variant::HyperConcurrent8 => "hyper_concurrent8",
            Variant::Blocking => "blocking",
            Variant::NaiveUreqSerdeJson => "naive_ureq_serde_json",
            Variant::NaiveUreqGzipSerdeJson => "naive_ureq_gzip_serde_json",
        }
    }
}

/// A variant with its client (and runtime) built, so that repeated listings reuse the
/// connection pool as a long-lived program would.
pub(crate) struct Lister {
    request: ListConnections<'static>,
    kind: Kind,
}

enum Kind {
    Hyper {
        runtime: tokio::runtime::Runtime,
        client: connections_hyper::Client,
    },
    Blocking(connections_blocking::Client),
    Naive(Naive),
}

impl Lister {
    /// Builds the client of `variant` for `sandbox`; nothing is requested yet.
    pub(crate) fn new(variant: Variant, sandbox: &Sandbox) -> Result<Self, BoxError> {
        let request = ListConnections::builder().page_size(PAGE_SIZE).build()?;
        let kind = match variant {
            Variant::HyperSequential | Variant::HyperConcurrent8 => {
                let concurrency = if variant == Variant::HyperConcurrent8 {
                    8
                } else {
                    1
                };
                // Built outside the runtime is fine: the pool's tasks are spawned on first use.
                let client = connections_hyper::Client::builder()
                    .base_url(sandbox.base_url())
                    .token(sandbox.token())
                    .page_concurrency(concurrency)
                    .build()?;
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()?;
                Kind::Hyper { runtime, client }
            }
            Variant::Blocking => Kind::Blocking(
                connections_blocking::Client::builder()
                    .base_url(sandbox.base_url())
                    .token(sandbox.token())
                    .build()?,
            ),
            Variant::NaiveUreqSerdeJson | Variant::NaiveUreqGzipSerdeJson => Kind::Naive(Naive {
                agent: ureq::Agent::new_with_defaults(),
                base: sandbox.base_url().to_owned(),
                authorization: format!("Bearer {}", sandbox.token()),
                gzip: variant == Variant::NaiveUreqGzipSerdeJson,
            }),
        };
        Ok(Lister { request, kind })
    }

    /// Lists every connection; the ids in the order they arrived.
    pub(crate) fn list_all(&self) -> Result<Vec<String>, BoxError> {
        match &self.kind {
            Kind::Hyper { runtime, client } => runtime.block_on(async {
                let connections: Vec<_> = client.connections(&self.request).try_collect().await?;
                Ok(ids(connections))
            }),
            Kind::Blocking(client) => {
                let connections: Vec<_> = client
                    .connections(&self.request)
                    .collect::<Result<_, _>>()?;
                Ok(ids(connections))
            }
            Kind::Naive(naive) => naive.list_all(),
        }
    }
}

/// The ids a listing of `sandbox` without filters must return, read from the raw records
/// (not from the sandbox's own filter code): the live connections, newest first.
pub(crate) fn expected_ids(sandbox: &Sandbox) -> Vec<String> {
    sandbox
        .dataset()
        .connections()
        .iter()
        .filter(|c| c.mode == Mode::Live)
        .map(|c| c.id.clone())
        .collect()
}

/// Panics unless `ids` are exactly `expected`, in order, naming the variant and the first
/// difference (not all 2,000 ids).
pub(crate) fn assert_same_ids(variant: Variant, ids: &[String], expected: &[String]) {
    if ids == expected {
        return;
    }
    let at = ids.iter().zip(expected).take_while(|(a, b)| a == b).count();
    panic!(
        "{} listed {} ids where the dataset has {}; first difference at #{at}: {:?} instead of {:?}",
        variant.name(),
        ids.len(),
        expected.len(),
        ids.get(at),
        expected.get(at),
    );
}

fn ids(connections: Vec<connections_core::Connection<connections_core::Owned>>) -> Vec<String> {
    connections
        .into_iter()
        .map(|c| c.id.unwrap_or_default())
        .collect()
}

/// What a user would write without this client: page numbers in a loop until `links.next`
/// is null, decoding only the fields needed into owned structs.
struct Naive {
    agent: ureq::Agent,
    base: String,
    authorization: String,
    /// Ask for gzip and inflate it with flate2, as ureq's `gzip` feature would.
    gzip: bool,
}

#[derive(Deserialize)]
struct NaivePage {
    data: Vec<NaiveConnection>,
    links: NaiveLinks,
}

#[derive(Deserialize)]
struct NaiveConnection {
    id: String,
}

#[derive(Deserialize)]
struct NaiveLinks {
    next: Option<String>,
}

impl Naive {
    fn list_all(&self) -> Result<Vec<String>, BoxError> {
        let mut ids = Vec::new();
        for number in 1.. {
            let url = format!(
                "{}/connections?page[number]={number}&page[size]={PAGE_SIZE}",
                self.base
            );
            let request = self
                .agent
                .get(&url)
                .header("Authorization", &self.authorization);
            let page: NaivePage = if self.gzip {
                let mut response = request.header("Accept-Encoding", "gzip").call()?;
                let mut body = String::new();
                flate2::read::GzDecoder::new(response.body_mut().as_reader())
                    .read_to_string(&mut body)?;
                serde_json::from_str(&body)?
            } else {
                serde_json::from_str(&request.call()?.body_mut().read_to_string()?)?
            };
            ids.extend(page.data.into_iter().map(|c| c.id));
            if page.links.next.is_none() {
                break;
            }
        }
        Ok(ids)
    }
}
