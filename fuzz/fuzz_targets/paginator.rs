//! Any sequence of pages, with `next` links from a grammar that mixes same-origin,
//! other-origin, user info, `//host`, relative, query-only and non-http links with repeated,
//! decreasing, huge and missing page numbers, fed to a `Paginator`:
//! - every request it yields, written with `BaseUrl::write_url`, goes to the base's origin
//!   and path, with the caller's filters and never a server-chosen parameter;
//! - page numbers strictly increase, and it ends within the page cap: `max_pages`, or once
//!   a page reports `meta.totalCount`, the pages that total needs plus a tenth (at least 2);
//! - a refused page changes nothing; after `Done` nothing more is asked for;
//! - `planned_pages` starts at the next request and stays within the cap.
//!
//! Real transports stop at the first error; here the next page in the sequence is fed as the
//! answer to a retry of the same request, to reach more states.
//!
//! The input is a little language, one page per line after a settings line, e.g.
//!
//! ```text
//! base=0 max=5 start=1 size=2 filtered
//! ids=1,2 next=Same|Prefixed|Next total=5
//! ids=3,4 next=PathAbsolute|Bare|Next size=2 inject fragment
//! ids=5
//! ```
//!
//! `next=Origin|Path|Number` names the variants below (`Back2`, `Jump9`, `NonHttp3` take a
//! number; an unknown origin is used as raw link text); `size=` is the link's `page[size]`,
//! `total=`/`pagesize=` the page's `meta`.
#![no_main]

use std::num::NonZeroU32;

use connections_core::model::{Connection, PagingLinks, PagingMeta};
use connections_core::{
    BaseUrl, ListConnections, Mode, Owned, Page, PaginationError, Paginator, Progress,
};
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Default)]
struct Input {
    base: u8,
    max_pages: u8,
    start: Option<u32>,
    size: Option<u32>,
    filtered: bool,
    pages: Vec<PageInput>,
}

#[derive(Debug, Default)]
struct PageInput {
    /// Item ids from a small alphabet, so pages repeat.
    ids: Vec<u8>,
    next: Option<Link>,
    total_count: Option<i64>,
    page_size: Option<i64>,
}

#[derive(Debug)]
struct Link {
    origin: Origin,
    path: Path,
    number: Number,
    size: Option<u32>,
    /// A filter the server would like us to send: it must never be.
    inject_filter: bool,
    fragment: bool,
}

#[derive(Debug)]
enum Origin {
    Same,
    SameUppercase,
    SameExplicitPort,
    SameEmptyPort,
    NetworkPath,
    OtherHost,
    SuffixHost,
    OtherPort,
    OtherScheme,
    UserInfo,
    UserInfoTrick,
    NetworkPathOther,
    TripleSlash,
    SchemeWithoutSlashes,
    NonHttp(u8),
    /// `/path?query`.
    PathAbsolute,
    /// `path?query`, relative to the request URL.
    Relative,
    QueryOnly,
    Backslash,
    Raw(String),
}

#[derive(Debug)]
enum Path {
    Prefixed,
    Bare,
    Other,
    DotSegment,
    TrailingSlash,
    Encoded,
    Empty,
}

#[derive(Debug)]
enum Number {
    Next,
    Same,
    Back(u8),
    Jump(u16),
    Zero,
    Max,
    Overflow,
    Missing,
    Twice,
    Encoded,
    Signed,
}

fn parse(text: &str) -> Input {
    let mut lines = text.lines();
    let mut input = Input::default();
    for token in lines.next().unwrap_or("").split_whitespace() {
        let (key, value) = token.split_once('=').unwrap_or((token, ""));
        match key {
            "base" => input.base = value.parse().unwrap_or(0),
            "max" => input.max_pages = value.parse().unwrap_or(0),
            "start" => input.start = value.parse().ok(),
            "size" => input.size = value.parse().ok(),
            "filtered" => input.filtered = true,
            _ => {}
        }
    }
    input.pages = lines.take(64).map(parse_page).collect();
    input
}

fn parse_page(line: &str) -> PageInput {
    let mut page = PageInput::default();
    let (mut size, mut inject_filter, mut fragment) = (None, false, false);
    for token in line.split_whitespace() {
        let (key, value) = token.split_once('=').unwrap_or((token, ""));
        match key {
            "ids" => page.ids = value.split(',').filter_map(|id| id.parse().ok()).collect(),
            "next" => {
                let mut parts = value.splitn(3, '|');
                let (origin, path, number) = (
                    parts.next().unwrap_or(""),
                    parts.next().unwrap_or(""),
                    parts.next().unwrap_or(""),
                );
                page.next = Some(Link {
                    origin: parse_origin(origin),
                    path: parse_path(path),
                    number: parse_number(number),
                    size: None,
                    inject_filter: false,
                    fragment: false,
                });
            }
            "size" => size = value.parse().ok(),
            "total" => page.total_count = value.parse().ok(),
            "pagesize" => page.page_size = value.parse().ok(),
            "inject" => inject_filter = true,
            "fragment" => fragment = true,
            _ => {}
        }
    }
    if let Some(link) = &mut page.next {
        (link.size, link.inject_filter, link.fragment) = (size, inject_filter, fragment);
    }
    page
}

/// The number after a variant's name, e.g. `3` in `Back3`.
fn arg<T: std::str::FromStr + Default>(token: &str, name: &str) -> Option<T> {
    token
        .strip_prefix(name)
        .map(|n| n.parse().unwrap_or_default())
}

fn parse_origin(token: &str) -> Origin {
    match token {
        "Same" => Origin::Same,
        "SameUppercase" => Origin::SameUppercase,
        "SameExplicitPort" => Origin::SameExplicitPort,
        "SameEmptyPort" => Origin::SameEmptyPort,
        "NetworkPath" => Origin::NetworkPath,
        "OtherHost" => Origin::OtherHost,
        "SuffixHost" => Origin::SuffixHost,
        "OtherPort" => Origin::OtherPort,
        "OtherScheme" => Origin::OtherScheme,
        "UserInfo" => Origin::UserInfo,
        "UserInfoTrick" => Origin::UserInfoTrick,
        "NetworkPathOther" => Origin::NetworkPathOther,
        "TripleSlash" => Origin::TripleSlash,
        "SchemeWithoutSlashes" => Origin::SchemeWithoutSlashes,
        "PathAbsolute" => Origin::PathAbsolute,
        "Relative" => Origin::Relative,
        "QueryOnly" => Origin::QueryOnly,
        "Backslash" => Origin::Backslash,
        _ => match arg(token, "NonHttp") {
            Some(n) => Origin::NonHttp(n),
            None => Origin::Raw(token.to_owned()),
        },
    }
}

fn parse_path(token: &str) -> Path {
    match token {
        "Bare" => Path::Bare,
        "Other" => Path::Other,
        "DotSegment" => Path::DotSegment,
        "TrailingSlash" => Path::TrailingSlash,
        "Encoded" => Path::Encoded,
        "Empty" => Path::Empty,
        _ => Path::Prefixed,
    }
}

fn parse_number(token: &str) -> Number {
    match token {
        "Same" => Number::Same,
        "Zero" => Number::Zero,
        "Max" => Number::Max,
        "Overflow" => Number::Overflow,
        "Missing" => Number::Missing,
        "Twice" => Number::Twice,
        "Encoded" => Number::Encoded,
        "Signed" => Number::Signed,
        _ => match (arg(token, "Back"), arg(token, "Jump")) {
            (Some(k), _) => Number::Back(k),
            (_, Some(k)) => Number::Jump(k),
            _ => Number::Next,
        },
    }
}

const BASES: [&str; 3] = [
    "https://vehicle.api.smartcar.com/v3",
    "http://[::1]:8080/api",
    "http://localhost",
];

fuzz_target!(|data: &[u8]| check(&parse(&String::from_utf8_lossy(data))));

fn check(input: &Input) {
    let base = BaseUrl::parse(BASES[usize::from(input.base) % BASES.len()]).expect("valid base");
    let max_pages = u32::from(input.max_pages % 32) + 1;
    let mut builder = ListConnections::builder();
    if input.filtered {
        builder = builder.user_id("u 1&page[number]=9").mode(Mode::Live);
    }
    if let Some(n) = input.start.filter(|&n| n != 0) {
        builder = builder.page_number(n);
    }
    if let Some(n) = input.size.filter(|&n| n != 0) {
        builder = builder.page_size(n);
    }
    let first = builder.build().expect("valid request");
    let mut pages = Paginator::new(base.clone(), first.clone())
        .with_max_pages(NonZeroU32::new(max_pages).expect("not zero"));

    let mut more = 0u32;
    let mut done = false;
    // The cap derived from the first total the paginator accepted, if any.
    let mut total_cap: Option<u32> = None;
    for page_input in &input.pages {
        let Some(request) = pages.next_request().cloned() else {
            assert!(done, "the paginator stopped without saying Done");
            assert_eq!(
                pages.feed(&page(page_input, "", &base, 1)),
                Ok(Progress::Done)
            );
            continue;
        };
        check_request(&base, &first, &request);
        if let Some(plan) = pages.planned_pages() {
            assert_eq!(
                Some(*plan.start()),
                request.page_number().map(NonZeroU32::get)
            );
            let remaining = total_cap.unwrap_or(max_pages) - pages.pages_fetched();
            assert!(
                plan.clone().count() as u64 <= u64::from(remaining),
                "{plan:?} past the cap"
            );
        }

        let current = request.page_number().map_or(1, NonZeroU32::get);
        let link = page_input.next.as_ref().map(|l| render(l, &base, current));
        let page = page(page_input, link.as_deref().unwrap_or(""), &base, current);
        let fetched = pages.pages_fetched();
        let cap_after = total_cap.or_else(|| cap_for_total(page_input));
        match pages.feed(&page) {
            Ok(Progress::More) => {
                more += 1;
                total_cap = cap_after;
                let cap = total_cap.unwrap_or(max_pages);
                assert!(more < cap, "{more} pages followed with a cap of {cap}");
                assert_eq!(pages.pages_fetched(), more);
                let next = pages.next_request().expect("More means a request is due");
                let resolved = base
                    .resolve_page_link(link.as_deref().expect("More needs a link"))
                    .expect("a followed link resolves");
                assert_eq!(next.page_number(), Some(resolved.number));
                assert_eq!(next.page_size(), resolved.size.or(request.page_size()));
                assert!(
                    resolved.number.get() > current,
                    "page numbers must increase"
                );
                same_origin_per_url_crate(&base, link.as_deref().unwrap_or(""));
            }
            Ok(Progress::Done) => {
                assert!(
                    page.next_link().is_none(),
                    "Done although a next link was given"
                );
                assert!(pages.next_request().is_none());
                done = true;
            }
            Err(e) => {
                // Nothing changed: the same request is due again.
                assert_eq!(pages.next_request(), Some(&request));
                assert_eq!(pages.pages_fetched(), fetched);
                match e {
                    PaginationError::TooManyPages { max } => {
                        assert_eq!(cap_after, None, "a known total replaces max_pages");
                        assert_eq!(max, max_pages);
                        assert_eq!(more + 1, max_pages);
                    }
                    PaginationError::PastTotal { pages: cap, .. } => {
                        assert_eq!(Some(cap), cap_after);
                        assert!(more + 1 >= cap, "stopped at {more} of a cap of {cap}");
                    }
                    _ => {}
                }
            }
        }
    }
}

/// The page cap a first `totalCount` sets, read from the input: the pages the total needs at
/// the size the server served, plus a tenth, at least two. The served size is the page's
/// `meta.pageSize` when positive, else the number of items on the page (it has a `next` link,
/// so it is full), else the `page[size]` its link names.
fn cap_for_total(input: &PageInput) -> Option<u32> {
    let total = u64::try_from(input.total_count?).ok()?;
    let declared = input
        .page_size
        .and_then(|s| u32::try_from(s).ok())
        .filter(|&s| s > 0);
    let counted = Some(input.ids.len().min(16) as u32).filter(|&n| n > 0);
    let linked = input.next.as_ref().and_then(|l| l.size).filter(|&s| s > 0);
    let size = u64::from(declared.or(counted).or(linked)?);
    let pages = total.div_ceil(size).min(u64::from(u32::MAX));
    Some(u32::try_from(pages + (pages / 10).max(2)).unwrap_or(u32::MAX))
}

/// The request goes to the base's origin and endpoint, with the caller's filters.
fn check_request(base: &BaseUrl<'_>, first: &ListConnections<'_>, request: &ListConnections<'_>) {
    assert_eq!(request.user_id(), first.user_id());
    assert_eq!(request.vehicle_id(), first.vehicle_id());
    assert_eq!(request.mode(), first.mode());
    let mut text = String::new();
    base.write_url(request, &mut text)
        .expect("writing to a String");
    let url = url::Url::parse(&text).expect("a request URL parses");
    assert_eq!(url.scheme(), base.scheme());
    assert_eq!(url.host_str(), Some(base.host()));
    assert_eq!(url.port_or_known_default(), Some(base.port()));
    assert_eq!((url.username(), url.password()), ("", None));
    assert_eq!(url.path(), format!("{}/connections", base.prefix()));
    let numbers: Vec<String> = url
        .query_pairs()
        .filter(|(name, _)| name == "page[number]")
        .map(|(_, value)| value.into_owned())
        .collect();
    let expected: Vec<String> = request
        .page_number()
        .iter()
        .map(|n| n.to_string())
        .collect();
    assert_eq!(numbers, expected);
}

/// A link the paginator followed, joined to the request URL by the `url` crate (a WHATWG
/// parser), lands on the same origin and endpoint.
fn same_origin_per_url_crate(base: &BaseUrl<'_>, link: &str) {
    let mut request_url = String::new();
    base.write_origin(&mut request_url)
        .expect("writing to a String");
    request_url.push_str(base.prefix());
    request_url.push_str("/connections");
    let request_url = url::Url::parse(&request_url).expect("the request URL parses");
    let joined = request_url
        .join(link)
        .expect("the url crate joins a followed link");
    assert_eq!(joined.scheme(), request_url.scheme(), "{link:?}");
    assert_eq!(joined.host_str(), request_url.host_str(), "{link:?}");
    assert_eq!(
        joined.port_or_known_default(),
        request_url.port_or_known_default(),
        "{link:?}"
    );
    assert_eq!(
        (joined.username(), joined.password()),
        ("", None),
        "{link:?}"
    );
    let endpoint = format!("{}/connections", base.prefix());
    assert!(
        joined.path() == endpoint || joined.path() == "/connections",
        "{link:?}"
    );
}

fn page(input: &PageInput, next: &str, base: &BaseUrl<'_>, current: u32) -> Page<Owned> {
    let data = input
        .ids
        .iter()
        .take(16)
        .map(|id| {
            let mut c = Connection::default();
            c.id = Some(format!("c{}", id % 8));
            c
        })
        .collect();
    let here = format!("{}/connections?page[number]={current}", base.prefix());
    let mut meta = PagingMeta::default();
    meta.page_number = Some(i64::from(current));
    (meta.page_size, meta.total_count) = (input.page_size, input.total_count);
    let mut links = PagingLinks::default();
    links.self_link = Some(here.clone());
    links.first = Some(here.clone());
    links.next = input.next.is_some().then(|| next.to_owned());
    links.last = Some(here);
    let mut page = Page::default();
    (page.data, page.meta, page.links) = (data, Some(meta), Some(links));
    page
}

/// Writes a link from the grammar, relative to the page being fed.
fn render(link: &Link, base: &BaseUrl<'_>, current: u32) -> String {
    let (scheme, host, port) = (base.scheme(), base.host(), base.port());
    let default_port = if scheme == "https" { 443 } else { 80 };
    let port_part = if port == default_port {
        String::new()
    } else {
        format!(":{port}")
    };
    let other_scheme = if scheme == "https" { "http" } else { "https" };
    let authority = match &link.origin {
        Origin::Same => format!("{scheme}://{host}{port_part}"),
        Origin::SameUppercase => {
            format!(
                "{}://{}{port_part}",
                scheme.to_uppercase(),
                host.to_uppercase()
            )
        }
        Origin::SameExplicitPort => format!("{scheme}://{host}:{port}"),
        Origin::SameEmptyPort => format!("{scheme}://{host}:"),
        Origin::NetworkPath => format!("//{host}{port_part}"),
        Origin::OtherHost => format!("{scheme}://evil.example{port_part}"),
        Origin::SuffixHost => format!("{scheme}://{host}.evil.example{port_part}"),
        Origin::OtherPort => format!("{scheme}://{host}:{}", port.wrapping_add(1)),
        Origin::OtherScheme => format!("{other_scheme}://{host}{port_part}"),
        Origin::UserInfo => format!("{scheme}://user:pw@{host}{port_part}"),
        Origin::UserInfoTrick => format!("{scheme}://{host}{port_part}@evil.example"),
        Origin::NetworkPathOther => "//evil.example".to_owned(),
        Origin::TripleSlash => "///evil.example".to_owned(),
        Origin::SchemeWithoutSlashes => format!("{scheme}:"),
        Origin::NonHttp(n) => {
            let schemes = ["javascript:", "file://", "ftp://", "data:", "wss://"];
            let s = schemes[usize::from(*n) % schemes.len()];
            format!("{s}{host}{port_part}")
        }
        Origin::PathAbsolute | Origin::Relative | Origin::QueryOnly => String::new(),
        Origin::Backslash => "/\\evil.example".to_owned(),
        Origin::Raw(text) => text.clone(),
    };
    let prefix = base.prefix();
    let path = match link.path {
        Path::Prefixed => format!("{prefix}/connections"),
        Path::Bare => "/connections".to_owned(),
        Path::Other => format!("{prefix}/users"),
        Path::DotSegment => format!("{prefix}/x/../connections"),
        Path::TrailingSlash => format!("{prefix}/connections/"),
        Path::Encoded => format!("{prefix}/connection%73"),
        Path::Empty => String::new(),
    };
    let path = match link.origin {
        Origin::QueryOnly => String::new(),
        Origin::Relative => path.trim_start_matches('/').to_owned(),
        _ => path,
    };
    let next = current.saturating_add(1);
    let mut query = match link.number {
        Number::Next => format!("page[number]={next}"),
        Number::Same => format!("page[number]={current}"),
        Number::Back(k) => format!(
            "page[number]={}",
            current.saturating_sub(u32::from(k % 4) + 1)
        ),
        Number::Jump(k) => format!("page[number]={}", next.saturating_add(u32::from(k) + 1)),
        Number::Zero => "page[number]=0".to_owned(),
        Number::Max => format!("page[number]={}", u32::MAX),
        Number::Overflow => "page[number]=4294967296".to_owned(),
        Number::Missing => String::new(),
        Number::Twice => format!(
            "page[number]={next}&page[number]={}",
            next.saturating_add(1)
        ),
        Number::Encoded => format!("page%5Bnumber%5D={next}"),
        Number::Signed => format!("page[number]=+{next}"),
    };
    if let Some(size) = link.size {
        query.push_str(&format!("&page[size]={size}"));
    }
    if link.inject_filter {
        query.push_str("&filter[userId]=evil&filter%5Bvehicle.mode%5D=simulated");
    }
    let fragment = if link.fragment {
        "#page[number]=999"
    } else {
        ""
    };
    format!("{authority}{path}?{query}{fragment}")
}
