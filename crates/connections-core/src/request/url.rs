//! The API base URL, request URLs, and the policy for following pagination
//! links, documented on [`BaseUrl::resolve_page_link`] so it is published.

use core::fmt::{self, Write};
use core::net::{Ipv4Addr, Ipv6Addr};
use core::num::NonZeroU32;

use percent_encoding::percent_decode_str;

use super::builder::{CowStr, Field, ListConnections};
use super::query::{PageParameterProblem, page_params};

/// The two schemes the API can be reached with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Scheme {
    Http,
    Https,
}

impl Scheme {
    /// Reads a scheme in any case; `None` for anything but `http`/`https`.
    fn parse(text: &str) -> Option<Self> {
        if text.eq_ignore_ascii_case("https") {
            Some(Scheme::Https)
        } else if text.eq_ignore_ascii_case("http") {
            Some(Scheme::Http)
        } else {
            None
        }
    }

    const fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }

    const fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }
}

/// Where the API lives, e.g. `https://vehicle.api.smartcar.com/v3`: checked
/// once so request URLs and link checks can rely on its parts.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct BaseUrl<'a> {
    scheme: Scheme,
    host: CowStr<'a>,
    port: u16,
    prefix: CowStr<'a>,
}

impl BaseUrl<'static> {
    /// Smartcar's production API, `https://vehicle.api.smartcar.com/v3`.
    ///
    /// Bind it (`let base = BaseUrl::SMARTCAR;`) before borrowing it: with
    /// `alloc` its text may be owned, so `&BaseUrl::SMARTCAR` is a temporary.
    pub const SMARTCAR: BaseUrl<'static> = BaseUrl {
        scheme: Scheme::Https,
        host: CowStr::borrowed("vehicle.api.smartcar.com"),
        port: 443,
        prefix: CowStr::borrowed("/v3"),
    };
}

impl<'a> BaseUrl<'a> {
    /// Parses `scheme://host[:port][/path]` strictly, without allocating.
    ///
    /// Hosts are DNS-style names (letters, digits, `-._~`), IPv4 addresses or
    /// `[IPv6]` addresses. A trailing `/` on the path is dropped, so `/v3/` is
    /// `/v3`. User info, queries, fragments and dot segments are refused, and
    /// plain `http` is only accepted for loopback hosts so the token is never
    /// sent in the clear over a network.
    pub fn parse(text: &'a str) -> Result<Self, InvalidBaseUrl> {
        if text.len() > MAX_URL_LEN {
            return Err(InvalidBaseUrl::TooLong {
                len: text.len(),
                max: MAX_URL_LEN,
            });
        }
        if !text.bytes().all(|b| b.is_ascii_graphic() && b != b'\\') {
            return Err(InvalidBaseUrl::InvalidCharacter);
        }
        let (scheme, rest) = text
            .split_once(':')
            .ok_or(InvalidBaseUrl::UnsupportedScheme)?;
        let scheme = Scheme::parse(scheme).ok_or(InvalidBaseUrl::UnsupportedScheme)?;
        let rest = rest.strip_prefix("//").ok_or(InvalidBaseUrl::MissingHost)?;
        if let Some(at) = rest.find(['?', '#']) {
            return Err(match rest.as_bytes().get(at) {
                Some(b'?') => InvalidBaseUrl::Query,
                _ => InvalidBaseUrl::Fragment,
            });
        }
        let (authority, path) = split_authority(rest);
        if authority.contains('@') {
            return Err(InvalidBaseUrl::UserInfo);
        }
        let (host, port) = split_host_port(authority).ok_or(InvalidBaseUrl::InvalidHost)?;
        if host.is_empty() {
            return Err(InvalidBaseUrl::MissingHost);
        }
        if !is_valid_host(host) {
            return Err(InvalidBaseUrl::InvalidHost);
        }
        let port = match port {
            None => scheme.default_port(),
            Some(port) => parse_port(port)
                .filter(|&port| port != 0)
                .ok_or(InvalidBaseUrl::InvalidPort)?,
        };
        let prefix = path.trim_end_matches('/');
        if !is_valid_prefix(prefix) {
            return Err(InvalidBaseUrl::InvalidPath);
        }
        if scheme == Scheme::Http && !is_loopback_host(host) {
            return Err(InvalidBaseUrl::InsecureScheme);
        }
        Ok(BaseUrl {
            scheme,
            host: CowStr::borrowed(host),
            port,
            prefix: CowStr::borrowed(prefix),
        })
    }

    /// `https` or `http`, lowercase.
    pub fn scheme(&self) -> &'static str {
        self.scheme.as_str()
    }

    /// The host as written, e.g. `vehicle.api.smartcar.com`, `127.0.0.1` or `[::1]`.
    pub fn host(&self) -> &str {
        self.host.as_str()
    }

    /// The port connections go to, with the scheme's default (443 or 80) filled in.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The path before `/connections`, e.g. `/v3`, without a trailing `/`; may be empty.
    pub fn prefix(&self) -> &str {
        self.prefix.as_str()
    }

    /// Whether the host is this machine (`localhost`, `127.0.0.0/8`, `[::1]`),
    /// the only hosts plain `http` is allowed for.
    pub fn is_loopback(&self) -> bool {
        is_loopback_host(self.host())
    }

    /// Copies borrowed text so the base can be stored in a long-lived client.
    #[cfg(feature = "alloc")]
    pub fn into_owned(self) -> BaseUrl<'static> {
        BaseUrl {
            scheme: self.scheme,
            host: self.host.into_owned(),
            port: self.port,
            prefix: self.prefix.into_owned(),
        }
    }

    /// Writes `scheme://host[:port]`, leaving out the scheme's default port.
    pub fn write_origin<W: Write + ?Sized>(&self, w: &mut W) -> fmt::Result {
        write!(w, "{}://{}", self.scheme(), self.host())?;
        if self.port != self.scheme.default_port() {
            write!(w, ":{}", self.port)?;
        }
        Ok(())
    }

    /// Writes `{prefix}/connections[?query]`, the HTTP/1.1 request target.
    pub fn write_path_and_query<W: Write + ?Sized>(
        &self,
        req: &ListConnections<'_>,
        w: &mut W,
    ) -> fmt::Result {
        write!(w, "{}/connections", self.prefix())?;
        req.write_params(w, "?")
    }

    /// Writes the absolute request URL, e.g.
    /// `https://vehicle.api.smartcar.com/v3/connections?page%5Bnumber%5D=2`.
    pub fn write_url<W: Write + ?Sized>(
        &self,
        req: &ListConnections<'_>,
        w: &mut W,
    ) -> fmt::Result {
        self.write_origin(w)?;
        self.write_path_and_query(req, w)
    }

    /// Reads the page a pagination link names, if following it is safe.
    ///
    /// A response's `links.next` comes from the network, and the next request
    /// carries the bearer token, so a link is accepted only when following it
    /// cannot send the token anywhere new:
    ///
    /// - Every RFC 3986 reference form is understood: absolute
    ///   (`https://host/v3/connections?…`), network-path (`//host/…`),
    ///   path-absolute (`/connections?…`), relative path (`connections?…`,
    ///   relative to the request URL) and query-only (`?page[number]=2`).
    ///   Fragments are ignored.
    /// - The link's origin must be the base's origin: same scheme (any case),
    ///   same host (ASCII case-insensitive, compared as text, so `127.0.0.1` is
    ///   not `localhost`) and same effective port (`https://host:443` is
    ///   `https://host`).
    /// - User info (`user@host`) is refused even on the right host, as are
    ///   schemes other than `http`/`https`, schemes without `//host`
    ///   (`https:evil.com`), and control characters, whitespace or backslashes
    ///   anywhere in the link (WHATWG URL parsers drop some of these and read
    ///   `\` as `/`, so parsers would disagree about the host).
    /// - The path must be `{prefix}/connections` or a bare `/connections`. The
    ///   API contract's own example links are `/connections?page[number]=2`
    ///   while the base is `…/v3`; resolved literally that drops `/v3`, so both
    ///   are read as "the connections endpoint". Any other path is refused.
    /// - Only `page[number]` (required) and `page[size]` are read from the
    ///   query, percent-decoded (`page%5Bnumber%5D` matches; `+` is a literal
    ///   plus, as in RFC 3986). The caller rebuilds the next request from them
    ///   against this base with its own filters
    ///   ([`ListConnections::with_page`]), so a server-chosen query is never
    ///   sent with the token.
    ///
    /// Nothing here allocates.
    ///
    /// ```
    /// use connections_core::{BaseUrl, LinkError};
    ///
    /// let base = BaseUrl::SMARTCAR;
    /// let next = base.resolve_page_link("/connections?page[number]=2&page[size]=10")?;
    /// assert_eq!((next.number.get(), next.size.map(|s| s.get())), (2, Some(10)));
    /// assert_eq!(
    ///     base.resolve_page_link("https://evil.com/v3/connections?page[number]=2"),
    ///     Err(LinkError::OtherOrigin)
    /// );
    /// # Ok::<(), LinkError>(())
    /// ```
    pub fn resolve_page_link(&self, link: &str) -> Result<PageLink, LinkError> {
        if link
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || c == '\\')
        {
            return Err(LinkError::ForbiddenCharacter);
        }
        let link = link.split_once('#').map_or(link, |(before, _)| before);
        let (reference, query) = link.split_once('?').unwrap_or((link, ""));
        let is_endpoint = if let Some((scheme, rest)) = split_scheme(reference) {
            let scheme = Scheme::parse(scheme).ok_or(LinkError::UnsupportedScheme)?;
            let rest = rest.strip_prefix("//").ok_or(LinkError::MissingAuthority)?;
            self.is_endpoint_path(self.same_origin_path(scheme, rest)?)
        } else if let Some(rest) = reference.strip_prefix("//") {
            self.is_endpoint_path(self.same_origin_path(self.scheme, rest)?)
        } else if reference.starts_with('/') {
            self.is_endpoint_path(reference)
        } else {
            // Relative to the request URL `{prefix}/connections`.
            reference.is_empty() || reference == "connections"
        };
        if !is_endpoint {
            return Err(LinkError::OtherPath);
        }
        let params = page_params(query)
            .map_err(|(field, problem)| LinkError::InvalidPageParameter { field, problem })?;
        Ok(PageLink {
            number: params.number.ok_or(LinkError::MissingPageNumber)?,
            size: params.size,
        })
    }

    /// Checks that `authority/path` (after `scheme://`) is this base's origin
    /// without user info, and returns the path.
    fn same_origin_path<'l>(&self, scheme: Scheme, rest: &'l str) -> Result<&'l str, LinkError> {
        let (authority, path) = split_authority(rest);
        if authority.contains('@') {
            return Err(LinkError::UserInfo);
        }
        let (host, port) = split_host_port(authority).ok_or(LinkError::OtherOrigin)?;
        let port = match port {
            None | Some("") => Some(scheme.default_port()),
            Some(port) => parse_port(port),
        };
        let same = scheme == self.scheme
            && host.eq_ignore_ascii_case(self.host())
            && port == Some(self.port);
        if same {
            Ok(path)
        } else {
            Err(LinkError::OtherOrigin)
        }
    }

    /// Whether an absolute path names the endpoint, with or without the prefix.
    fn is_endpoint_path(&self, path: &str) -> bool {
        path == "/connections"
            || path
                .strip_prefix(self.prefix())
                .is_some_and(|rest| rest == "/connections")
    }
}

/// The page a pagination link names; the paginator turns it into the next
/// request with [`ListConnections::with_page`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PageLink {
    /// The link's `page[number]`.
    pub number: NonZeroU32,
    /// The link's `page[size]`, if it has one.
    pub size: Option<NonZeroU32>,
}

/// Splits `authority[/path]` at the first `/`; the path keeps its `/`.
fn split_authority(rest: &str) -> (&str, &str) {
    rest.find('/')
        .map_or((rest, ""), |slash| rest.split_at(slash))
}

/// Splits `host[:port]` or `[v6][:port]`; `None` if the brackets are malformed.
fn split_host_port(authority: &str) -> Option<(&str, Option<&str>)> {
    if authority.starts_with('[') {
        let end = authority.find(']')?.checked_add(1)?;
        let (host, rest) = authority.split_at_checked(end)?;
        match rest {
            "" => Some((host, None)),
            _ => Some((host, Some(rest.strip_prefix(':')?))),
        }
    } else {
        Some(match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        })
    }
}

/// Reads a port of ASCII digits only (`u16::from_str` would also take `+`).
fn parse_port(text: &str) -> Option<u16> {
    let digits = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    digits.then(|| text.parse().ok()).flatten()
}

/// Splits `scheme:rest` when the reference starts with an RFC 3986 scheme.
fn split_scheme(reference: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = reference.split_once(':')?;
    let mut chars = scheme.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    valid.then_some((scheme, rest))
}

/// `[IPv6]`, IPv4, or a name of letters, digits and `-._~`. A name whose last
/// label looks numeric must be a valid IPv4 address, because URL parsers
/// would read it as one.
fn is_valid_host(host: &str) -> bool {
    if let Some(inside) = host.strip_prefix('[') {
        return inside
            .strip_suffix(']')
            .is_some_and(|ip| ip.parse::<Ipv6Addr>().is_ok());
    }
    let is_name = host
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
    let last_label = host.trim_end_matches('.').rsplit('.').next().unwrap_or("");
    let looks_numeric = last_label.bytes().all(|b| b.is_ascii_digit())
        || last_label
            .get(..2)
            .is_some_and(|p| p.eq_ignore_ascii_case("0x"));
    is_name && (!looks_numeric || host.parse::<Ipv4Addr>().is_ok())
}

/// Whether a URL's host is this machine: `localhost` (with or without the root's trailing
/// dot), `127.0.0.0/8`, `[::1]` or an IPv4-mapped `[::ffff:127.x.y.z]`. Plain `http` is
/// allowed to such hosts only, and clients never send their requests through a proxy.
pub fn is_loopback_host(host: &str) -> bool {
    let v6 = host.strip_prefix('[').and_then(|h| h.strip_suffix(']'));
    let v6_loopback =
        |ip: Ipv6Addr| ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback());
    host.trim_end_matches('.').eq_ignore_ascii_case("localhost")
        || host.parse::<Ipv4Addr>().is_ok_and(|ip| ip.is_loopback())
        || v6.is_some_and(|ip| ip.parse::<Ipv6Addr>().is_ok_and(v6_loopback))
}

/// Empty, or `/segment…` of RFC 3986 path characters, without empty or dot segments.
fn is_valid_prefix(prefix: &str) -> bool {
    let Some(segments) = prefix.strip_prefix('/') else {
        return prefix.is_empty();
    };
    segments.split('/').all(|segment| {
        let is_dot_segment = [".", ".."]
            .iter()
            .any(|dots| percent_decode_str(segment).eq(dots.bytes()));
        !segment.is_empty() && !is_dot_segment && is_path_segment(segment)
    })
}

/// Whether every byte is an RFC 3986 `pchar`, with well-formed `%XX` escapes.
fn is_path_segment(segment: &str) -> bool {
    let bytes = segment.as_bytes();
    bytes.iter().enumerate().all(|(i, &b)| match b {
        b'%' => bytes
            .get(i.saturating_add(1)..i.saturating_add(3))
            .is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit)),
        _ => b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@".contains(&b),
    })
}

/// The longest base or token URL accepted, in bytes: far more than any real endpoint needs,
/// and short enough that a request line with the longest ids stays under the 8 KB that
/// servers and proxies commonly accept (and far under what the `http` crate can hold).
pub const MAX_URL_LEN: usize = 2048;

/// Why a base URL was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum InvalidBaseUrl {
    /// Longer than [`MAX_URL_LEN`].
    TooLong {
        /// Its length, in bytes.
        len: usize,
        /// The most accepted, in bytes.
        max: usize,
    },
    /// It held whitespace, a control character, a backslash or non-ASCII text.
    InvalidCharacter,
    /// It did not start with `https:` or `http:`.
    UnsupportedScheme,
    /// Plain `http` to a host that is not loopback.
    InsecureScheme,
    /// There was no `//host`, or the host was empty.
    MissingHost,
    /// It had `user@` or `user:password@` before the host.
    UserInfo,
    /// The host was not a DNS-style name, IPv4 address or `[IPv6]` address.
    InvalidHost,
    /// The port was not a number from 1 to 65535.
    InvalidPort,
    /// The path had characters URLs do not allow, or empty or dot segments.
    InvalidPath,
    /// It had a `?query`.
    Query,
    /// It had a `#fragment`.
    Fragment,
}

/// Which configured URL was refused, so the message names it and what it would carry: the
/// API's base URL (the access token) or the token URL (the client secret).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum UrlRole {
    /// The API base, e.g. `https://vehicle.api.smartcar.com/v3`.
    BaseUrl,
    /// The OAuth token endpoint, e.g. `https://iam.smartcar.com/oauth2/token`.
    TokenUrl,
}

impl InvalidBaseUrl {
    /// The problem worded for the URL in `role` (`Display` words it for the base URL).
    pub fn worded_for(self, role: UrlRole) -> WordedUrlProblem {
        WordedUrlProblem {
            problem: self,
            role,
        }
    }
}

/// An [`InvalidBaseUrl`] worded for one [`UrlRole`]; see [`InvalidBaseUrl::worded_for`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct WordedUrlProblem {
    problem: InvalidBaseUrl,
    role: UrlRole,
}

impl fmt::Display for WordedUrlProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (url, carried, example, host) = match self.role {
            UrlRole::BaseUrl => (
                "the base URL",
                "the access token",
                "https://vehicle.api.smartcar.com/v3",
                "vehicle.api.smartcar.com",
            ),
            UrlRole::TokenUrl => (
                "the token URL",
                "the client secret",
                "https://iam.smartcar.com/oauth2/token",
                "iam.smartcar.com",
            ),
        };
        match self.problem {
            InvalidBaseUrl::TooLong { len, max } => write!(
                f,
                "{url} is {len} bytes long, more than the {max} accepted: pass the endpoint's \
                 URL itself, such as {example}"
            ),
            InvalidBaseUrl::InvalidCharacter => write!(
                f,
                "{url} contains whitespace, a control character, a backslash or non-ASCII \
                 text: write it in plain ASCII (punycode for international host names)"
            ),
            InvalidBaseUrl::UnsupportedScheme => write!(
                f,
                "{url} does not start with https:// or http://: write it like {example}"
            ),
            InvalidBaseUrl::InsecureScheme => write!(
                f,
                "{url} uses plain http, which would send {carried} unencrypted: use https, or \
                 a loopback address (localhost, 127.0.0.1, [::1]) for local tests"
            ),
            InvalidBaseUrl::MissingHost => {
                write!(
                    f,
                    "{url} has no host: write it as https://host[:port][/path]"
                )
            }
            InvalidBaseUrl::UserInfo => write!(
                f,
                "{url} has user info before the host (user@host): remove it; credentials go \
                 in their own settings"
            ),
            InvalidBaseUrl::InvalidHost => write!(
                f,
                "{url}'s host is not a valid name, IPv4 address or [IPv6] address: use \
                 letters, digits, '-' and '.', e.g. {host}"
            ),
            InvalidBaseUrl::InvalidPort => write!(
                f,
                "{url}'s port is not a number from 1 to 65535: fix it or leave it out for the \
                 scheme's default"
            ),
            InvalidBaseUrl::InvalidPath => write!(
                f,
                "{url}'s path has empty or dot segments or characters URLs do not allow: \
                 write a plain path such as the one in {example}"
            ),
            InvalidBaseUrl::Query => write!(
                f,
                "{url} has a ?query: remove it (a listing's filters are set on the request)"
            ),
            InvalidBaseUrl::Fragment => write!(f, "{url} has a #fragment: remove it"),
        }
    }
}

impl fmt::Display for InvalidBaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.worded_for(UrlRole::BaseUrl).fmt(f)
    }
}

impl core::error::Error for InvalidBaseUrl {}

/// Why a pagination link was not followed; see [`BaseUrl::resolve_page_link`].
///
/// These come from the server's response, so the usual remedy is to stop
/// paginating (or request pages by number) and report the response.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LinkError {
    /// The link held a control character, whitespace or a backslash.
    ForbiddenCharacter,
    /// The link's scheme was not `http` or `https`.
    UnsupportedScheme,
    /// The link had a scheme but no `//host`, e.g. `https:evil.com`.
    MissingAuthority,
    /// The link had `user@` before its host.
    UserInfo,
    /// The link's scheme, host or port differed from the base's.
    OtherOrigin,
    /// The link's path was not the connections endpoint.
    OtherPath,
    /// The link had no `page[number]`.
    MissingPageNumber,
    /// The link's `page[number]` or `page[size]` was not a usable number.
    InvalidPageParameter {
        /// [`Field::PageNumber`] or [`Field::PageSize`].
        field: Field,
        /// What was wrong with its value.
        problem: PageParameterProblem,
    },
}

impl fmt::Display for LinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("pagination link not followed: ")?;
        match self {
            LinkError::ForbiddenCharacter => f.write_str(
                "it contains a control character, whitespace or a backslash, which URL parsers \
                 disagree on; the server should send a clean URL",
            ),
            LinkError::UnsupportedScheme => f.write_str(
                "its scheme is not http or https; the server should link to its own API",
            ),
            LinkError::MissingAuthority => f.write_str(
                "it has a scheme but no //host, which URL parsers disagree on; the server \
                 should send /connections?… or a full URL",
            ),
            LinkError::UserInfo => f.write_str(
                "it has user info (user@host), a trick to disguise the host; the server or a \
                 proxy is misbehaving",
            ),
            LinkError::OtherOrigin => f.write_str(
                "it points to another scheme, host or port than the base URL and the access \
                 token must not go there; if the API moved, configure its new base URL",
            ),
            LinkError::OtherPath => f.write_str(
                "its path is not the connections endpoint ({base prefix}/connections or \
                 /connections); check that the base URL's path (e.g. /v3) matches the server",
            ),
            LinkError::MissingPageNumber => {
                f.write_str("it has no page[number]; request the next page by number instead")
            }
            LinkError::InvalidPageParameter { field, problem } => write!(
                f,
                "its {field} {problem}; request the next page by number instead",
            ),
        }
    }
}

impl core::error::Error for LinkError {}

#[cfg(test)]
mod tests {
    use super::*;

    extern crate alloc;
    use alloc::string::String;

    fn base(text: &str) -> BaseUrl<'_> {
        BaseUrl::parse(text).expect("valid base URL")
    }

    fn url(base: &BaseUrl<'_>, req: &ListConnections<'_>) -> String {
        let mut out = String::new();
        base.write_url(req, &mut out)
            .expect("writing to a String cannot fail");
        out
    }

    fn page(number: u32, size: Option<u32>) -> Result<PageLink, LinkError> {
        Ok(PageLink {
            number: NonZeroU32::new(number).expect("non-zero test page"),
            size: size.and_then(NonZeroU32::new),
        })
    }

    #[test]
    fn smartcar_constant_matches_its_text() {
        assert_eq!(
            base("https://vehicle.api.smartcar.com/v3"),
            BaseUrl::SMARTCAR
        );
        let b = BaseUrl::SMARTCAR;
        assert_eq!(
            (b.scheme(), b.host(), b.port(), b.prefix(), b.is_loopback()),
            ("https", "vehicle.api.smartcar.com", 443, "/v3", false)
        );
    }

    #[test]
    fn parse_accepts_valid_bases() {
        let parts = |text| {
            let b = base(text);
            (
                b.scheme(),
                String::from(b.host()),
                b.port(),
                String::from(b.prefix()),
            )
        };
        let p = |s, h: &str, port, prefix: &str| (s, h.into(), port, prefix.into());
        assert_eq!(
            parts("HTTPS://Api.Example.com/v3/"),
            p("https", "Api.Example.com", 443, "/v3")
        );
        assert_eq!(
            parts("https://api.example.com"),
            p("https", "api.example.com", 443, "")
        );
        assert_eq!(
            parts("https://api.example.com/"),
            p("https", "api.example.com", 443, "")
        );
        assert_eq!(
            parts("https://api.example.com:8443/a/b"),
            p("https", "api.example.com", 8443, "/a/b")
        );
        assert_eq!(
            parts("https://10.0.0.1:443/v3"),
            p("https", "10.0.0.1", 443, "/v3")
        );
        assert_eq!(
            parts("http://localhost:8080"),
            p("http", "localhost", 8080, "")
        );
        assert_eq!(
            parts("http://LOCALHOST/v3"),
            p("http", "LOCALHOST", 80, "/v3")
        );
        assert_eq!(
            parts("http://127.1.2.3/v3"),
            p("http", "127.1.2.3", 80, "/v3")
        );
        assert_eq!(
            parts("http://[::1]:3000/api"),
            p("http", "[::1]", 3000, "/api")
        );
        assert_eq!(
            parts("https://[2001:db8::1]/v3"),
            p("https", "[2001:db8::1]", 443, "/v3")
        );
        assert_eq!(
            parts("https://h/v%33/a:b@c"),
            p("https", "h", 443, "/v%33/a:b@c")
        );
        assert!(base("http://[::1]").is_loopback());
        assert!(base("http://localhost").is_loopback());
        assert!(!base("https://example.com").is_loopback());
    }

    #[test]
    fn parse_refuses_invalid_bases() {
        use InvalidBaseUrl::*;
        let cases = [
            ("", UnsupportedScheme),
            ("vehicle.api.smartcar.com/v3", UnsupportedScheme),
            ("localhost:8080", UnsupportedScheme),
            ("ftp://example.com", UnsupportedScheme),
            ("https:example.com", MissingHost),
            ("https://", MissingHost),
            ("https:///v3", MissingHost),
            ("https://:443/v3", MissingHost),
            ("http://example.com/v3", InsecureScheme),
            ("http://127.0.0.1.example.com", InsecureScheme),
            ("http://[::2]", InsecureScheme),
            ("https://user@example.com", UserInfo),
            ("https://user:pw@example.com", UserInfo),
            ("https://exa mple.com", InvalidCharacter),
            ("https://example.com/v3\n", InvalidCharacter),
            ("https://exämple.com", InvalidCharacter),
            ("https://example.com\\v3", InvalidCharacter),
            ("https://exa%6dple.com", InvalidHost),
            ("https://[::1", InvalidHost),
            ("https://[nope]", InvalidHost),
            ("https://[::1]x", InvalidHost),
            ("https://256.0.0.1", InvalidHost),
            ("https://1.2.3", InvalidHost),
            ("https://0x7f.1", InvalidHost),
            ("https://example.com:", InvalidPort),
            ("https://example.com:0", InvalidPort),
            ("https://example.com:65536", InvalidPort),
            ("https://example.com:+443", InvalidPort),
            ("https://example.com:44a", InvalidPort),
            ("https://example.com:1:2", InvalidPort),
            ("https://example.com/v3/../x", InvalidPath),
            ("https://example.com/./v3", InvalidPath),
            ("https://example.com/%2e%2E/v3", InvalidPath),
            ("https://example.com//v3", InvalidPath),
            ("https://example.com/a%zz", InvalidPath),
            ("https://example.com/a\"b", InvalidPath),
            ("https://example.com/v3?x=1", Query),
            ("https://example.com?x=1", Query),
            ("https://example.com/v3#top", Fragment),
        ];
        for (text, expected) in cases {
            assert_eq!(BaseUrl::parse(text), Err(expected), "{text:?}");
        }
    }

    #[test]
    fn base_errors_say_how_to_fix() {
        use alloc::string::ToString;
        let insecure = InvalidBaseUrl::InsecureScheme.to_string();
        assert!(insecure.contains("use https") && insecure.contains("loopback"));
        assert!(LinkError::OtherOrigin.to_string().contains("configure"));
    }

    #[test]
    fn a_url_longer_than_the_limit_is_refused_with_its_length() {
        use alloc::string::{String, ToString};
        let mut text = String::from("https://example.com/");
        let fits = MAX_URL_LEN - text.len();
        text.extend(core::iter::repeat_n('a', fits));
        assert!(BaseUrl::parse(&text).is_ok());
        text.push('a');
        let refused = BaseUrl::parse(&text);
        let expected = InvalidBaseUrl::TooLong {
            len: MAX_URL_LEN + 1,
            max: MAX_URL_LEN,
        };
        assert_eq!(refused, Err(expected));
        assert!(
            expected
                .to_string()
                .contains("2049 bytes long, more than the 2048")
        );
    }

    #[test]
    fn a_token_url_problem_names_the_token_url_and_the_secret() {
        use alloc::string::ToString;
        let insecure = InvalidBaseUrl::InsecureScheme.worded_for(UrlRole::TokenUrl);
        let text = insecure.to_string();
        assert!(text.starts_with("the token URL uses plain http"), "{text}");
        assert!(
            text.contains("the client secret") && !text.contains("base URL"),
            "{text}"
        );
        for problem in [
            InvalidBaseUrl::UnsupportedScheme,
            InvalidBaseUrl::InvalidHost,
        ] {
            let text = problem.worded_for(UrlRole::TokenUrl).to_string();
            assert!(
                text.contains("iam.smartcar.com") && !text.contains("base URL"),
                "{text}"
            );
        }
    }

    #[test]
    fn write_url_keeps_prefix_and_omits_default_port() {
        let req = ListConnections::builder()
            .user_id("u 1")
            .page_number(2)
            .build()
            .expect("valid request");
        assert_eq!(
            url(&BaseUrl::SMARTCAR, &req),
            "https://vehicle.api.smartcar.com/v3/connections\
             ?filter%5BuserId%5D=u%201&page%5Bnumber%5D=2"
        );
        assert_eq!(
            url(&base("https://h:443/"), &ListConnections::new()),
            "https://h/connections"
        );
        assert_eq!(
            url(&base("http://[::1]:8080/v3/"), &ListConnections::new()),
            "http://[::1]:8080/v3/connections"
        );
        let mut origin = String::new();
        let _ = base("http://localhost:80").write_origin(&mut origin);
        assert_eq!(origin, "http://localhost");
    }

    #[test]
    fn resolves_every_reference_form() {
        let b = BaseUrl::SMARTCAR;
        let ok = [
            "https://vehicle.api.smartcar.com/v3/connections?page[number]=2&page[size]=10",
            "https://vehicle.api.smartcar.com/connections?page[number]=2&page[size]=10",
            "HTTPS://VEHICLE.API.SMARTCAR.COM:443/v3/connections?page[number]=2&page[size]=10",
            "https://vehicle.api.smartcar.com:/v3/connections?page[number]=2&page[size]=10",
            "//vehicle.api.smartcar.com/v3/connections?page[number]=2&page[size]=10",
            "/connections?page[number]=2&page[size]=10",
            "/v3/connections?page%5Bnumber%5D=2&page%5Bsize%5D=10",
            "?page[number]=2&page[size]=10",
            "connections?page[number]=2&page[size]=10",
            "/connections?page[number]=2&page[size]=10#frag?page[number]=9",
            "/connections?filter[userId]=x&page[number]=2&page[size]=10",
        ];
        for link in ok {
            assert_eq!(b.resolve_page_link(link), page(2, Some(10)), "{link:?}");
        }
        assert_eq!(b.resolve_page_link("?page[number]=7"), page(7, None));
    }

    #[test]
    fn refuses_other_origins_and_tricks() {
        use LinkError::*;
        let b = BaseUrl::SMARTCAR;
        let q = "?page[number]=2";
        let cases = [
            (
                "http://vehicle.api.smartcar.com/v3/connections",
                OtherOrigin,
            ),
            ("https://evil.com/v3/connections", OtherOrigin),
            (
                "https://vehicle.api.smartcar.com:8443/v3/connections",
                OtherOrigin,
            ),
            (
                "https://vehicle.api.smartcar.com.evil.com/v3/connections",
                OtherOrigin,
            ),
            (
                "https://vehicle.api.smartcar.com.:443/v3/connections",
                OtherOrigin,
            ),
            ("//evil.com/connections", OtherOrigin),
            ("///evil.com/connections", OtherOrigin),
            ("https:////evil.com/connections", OtherOrigin),
            ("https://[::1]/connections", OtherOrigin),
            ("https://[::1/connections", OtherOrigin),
            (
                "https://vehicle.api.smartcar.com:x/connections",
                OtherOrigin,
            ),
            (
                "https://vehicle.api.smartcar.com@evil.com/connections",
                UserInfo,
            ),
            (
                "https://user@vehicle.api.smartcar.com/connections",
                UserInfo,
            ),
            ("//a:b@vehicle.api.smartcar.com/connections", UserInfo),
            ("https:evil.com", MissingAuthority),
            ("https:/connections", MissingAuthority),
            ("javascript:alert(1)//", UnsupportedScheme),
            ("file:///etc/passwd", UnsupportedScheme),
            (
                "ftp://vehicle.api.smartcar.com/connections",
                UnsupportedScheme,
            ),
            ("connections:x", UnsupportedScheme),
            ("/\\evil.com/connections", ForbiddenCharacter),
            ("\\\\evil.com/connections", ForbiddenCharacter),
            (" /connections", ForbiddenCharacter),
            ("/conn\tections", ForbiddenCharacter),
            ("/connections\n", ForbiddenCharacter),
            ("/connections\u{a0}", ForbiddenCharacter),
            ("/v3/other", OtherPath),
            ("/v2/connections", OtherPath),
            ("/v3/connections/", OtherPath),
            ("/v3/x/../connections", OtherPath),
            ("/v3/connection%73", OtherPath),
            ("./connections", OtherPath),
            ("other", OtherPath),
            ("https://vehicle.api.smartcar.com", OtherPath),
        ];
        for (link, expected) in cases {
            let with_query = alloc::format!("{link}{q}");
            assert_eq!(
                b.resolve_page_link(&with_query),
                Err(expected),
                "{with_query:?}"
            );
        }
    }

    #[test]
    fn refuses_links_without_a_usable_page_number() {
        let b = BaseUrl::SMARTCAR;
        assert_eq!(
            b.resolve_page_link("/connections"),
            Err(LinkError::MissingPageNumber)
        );
        assert_eq!(b.resolve_page_link(""), Err(LinkError::MissingPageNumber));
        assert_eq!(
            b.resolve_page_link("/connections?page[size]=10"),
            Err(LinkError::MissingPageNumber)
        );
        assert_eq!(
            b.resolve_page_link("/connections?page[number]=0"),
            Err(LinkError::InvalidPageParameter {
                field: Field::PageNumber,
                problem: PageParameterProblem::Zero,
            })
        );
    }

    #[test]
    fn loopback_and_prefixless_bases() {
        let v6 = base("http://[::1]:8080/api/");
        assert_eq!(
            v6.resolve_page_link("http://[::1]:8080/api/connections?page[number]=3"),
            page(3, None)
        );
        assert_eq!(
            v6.resolve_page_link("http://[::1]/api/connections?page[number]=3"),
            Err(LinkError::OtherOrigin)
        );
        assert_eq!(
            v6.resolve_page_link("http://localhost:8080/api/connections?page[number]=3"),
            Err(LinkError::OtherOrigin)
        );
        let bare = base("https://h");
        assert_eq!(
            bare.resolve_page_link("/connections?page[number]=3"),
            page(3, None)
        );
        assert_eq!(
            bare.resolve_page_link("https://H:443/connections?page[number]=3"),
            page(3, None)
        );
        assert_eq!(
            bare.resolve_page_link("/v3/connections?page[number]=3"),
            Err(LinkError::OtherPath)
        );
    }

    #[cfg(feature = "alloc")]
    #[test]
    fn into_owned_outlives_the_text() {
        let owned = {
            let text = String::from("https://example.com/v3/");
            base(&text).into_owned()
        };
        assert_eq!((owned.host(), owned.prefix()), ("example.com", "/v3"));
    }

    #[cfg(feature = "std")]
    mod properties {
        use super::*;
        use alloc::{format, vec, vec::Vec};
        use proptest::prelude::*;
        use proptest::sample::select;

        /// A base URL and its parts, so generated links often match it.
        #[derive(Debug)]
        struct Target {
            base: &'static str,
            scheme: &'static str,
            host: &'static str,
            port: &'static str,
            prefix: &'static str,
        }

        const TARGETS: [Target; 3] = [
            Target {
                base: "https://vehicle.api.smartcar.com/v3",
                scheme: "https",
                host: "vehicle.api.smartcar.com",
                port: "443",
                prefix: "/v3",
            },
            Target {
                base: "http://[::1]:8080/api",
                scheme: "http",
                host: "[::1]",
                port: "8080",
                prefix: "/api",
            },
            Target {
                base: "http://localhost",
                scheme: "http",
                host: "localhost",
                port: "80",
                prefix: "",
            },
        ];

        /// Mostly pieces that match the target, some known tricks, some noise.
        fn piece(
            good: Vec<String>,
            tricks: &'static [&'static str],
            noise: &'static str,
        ) -> BoxedStrategy<String> {
            prop_oneof![
                6 => select(good),
                3 => select(tricks).prop_map(String::from),
                1 => proptest::string::string_regex(noise).expect("valid regex"),
            ]
            .boxed()
        }

        fn link(t: &Target) -> impl Strategy<Value = String> + use<> {
            let scheme = piece(
                vec![
                    format!("{}://", t.scheme),
                    format!("{}://", t.scheme.to_uppercase()),
                    "//".into(),
                ],
                &[
                    "http://",
                    "https://",
                    "https:",
                    "https:/",
                    "https:///",
                    "ftp://",
                    "javascript:",
                    "file://",
                ],
                "[a-zA-Z:/\\\\]{0,8}",
            );
            let userinfo = piece(
                vec![String::new()],
                &[
                    "user@",
                    "vehicle.api.smartcar.com@",
                    ":@",
                    "[::1]@",
                    "localhost@",
                ],
                "[a-z:@%]{0,6}",
            );
            let host = piece(
                vec![t.host.into(), t.host.to_uppercase()],
                &[
                    "evil.com",
                    "vehicle.api.smartcar.com.evil.com",
                    "vehicle.api.smartcar.com.",
                    "",
                    "[::1",
                    "[0::1]",
                    "127.0.0.1",
                    "vehicle.api.smartcar.com%2eevil.com",
                    "localhost.",
                ],
                "[a-zA-Z0-9.%\\[\\]:@/\\\\]{0,16}",
            );
            let port = piece(
                vec![
                    String::new(),
                    format!(":{}", t.port),
                    format!(":0{}", t.port),
                ],
                &[":", ":443", ":80", ":8080", ":65536", ":x", ":-1"],
                ":[0-9]{0,6}",
            );
            let prefixed = format!("{}/connections", t.prefix);
            let path = piece(
                vec![prefixed.clone(), "/connections".into()],
                &[
                    "",
                    "/",
                    "/\\evil.com",
                    "//evil.com/connections",
                    "/v3/../connections",
                    "/%2e/connections",
                ],
                "[a-z0-9/.\\\\%:@]{0,16}",
            );
            let relative = piece(
                vec![
                    prefixed,
                    "/connections".into(),
                    "connections".into(),
                    String::new(),
                ],
                &[
                    "/\\evil.com/connections",
                    "\\/evil.com",
                    "./connections",
                    "../connections",
                    "a:b",
                    ":connections",
                ],
                "[a-z0-9/.\\\\%:@]{0,16}",
            );
            let query = piece(
                vec![
                    "?page[number]=2".into(),
                    "?page%5Bnumber%5D=2&page[size]=5".into(),
                ],
                &[
                    "",
                    "?page[number]=0",
                    "?x#y",
                    "?page[number]=2&page[number]=3",
                    "?page[number]=2@evil.com",
                ],
                "\\?[a-z\\[\\]=&%0-9#@/:]{0,20}",
            );
            let fragment = piece(
                vec![String::new()],
                &["#x", "#//evil.com", "#?page[number]=9", "#@evil.com"],
                "#[ -~]{0,8}",
            );
            let with_authority = (
                scheme,
                userinfo,
                host,
                port,
                path,
                query.clone(),
                fragment.clone(),
            )
                .prop_map(|(s, u, h, p, pa, q, f)| [s, u, h, p, pa, q, f].concat());
            let without_authority =
                (relative, query, fragment).prop_map(|(p, q, f)| [p, q, f].concat());
            prop_oneof![
                4 => with_authority,
                2 => without_authority,
                1 => "\\PC{0,40}",
            ]
        }

        fn target_and_link() -> impl Strategy<Value = (&'static Target, String)> {
            (0..TARGETS.len()).prop_flat_map(|i| {
                let target = &TARGETS[i];
                (Just(target), link(target))
            })
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(4096))]
            #[test]
            fn accepted_links_stay_on_the_base_origin((target, link) in target_and_link()) {
                let ours = BaseUrl::parse(target.base).expect("valid base");
                if ours.resolve_page_link(&link).is_ok() {
                    let request_url = ::url::Url::parse(&format!("{}/connections", target.base))
                        .expect("valid URL");
                    let joined = request_url.join(&link);
                    prop_assert!(joined.is_ok(), "url crate refused {:?}", link);
                    let joined = joined.expect("checked above");
                    prop_assert_eq!(joined.scheme(), request_url.scheme());
                    prop_assert_eq!(joined.host_str(), request_url.host_str());
                    prop_assert_eq!(joined.port_or_known_default(), request_url.port_or_known_default());
                    prop_assert_eq!(joined.username(), "");
                    prop_assert_eq!(joined.password(), None);
                    let endpoint = format!("{}/connections", target.prefix);
                    prop_assert!(joined.path() == endpoint || joined.path() == "/connections");
                }
            }
        }
    }
}
