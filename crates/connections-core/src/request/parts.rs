//! Everything a transport needs to send a request: method, target and headers,
//! with the bearer token kept out of logs.

use core::fmt::{self, Write};

use super::builder::{CowStr, ListConnections};
use super::url::BaseUrl;

/// The `User-Agent` sent by default, so Smartcar can tell this client's traffic apart.
pub const USER_AGENT: &str = concat!("connections-core/", env!("CARGO_PKG_VERSION"));

/// The bearer token, wrapped so `Debug` and `Display` never print it.
///
/// With `alloc`, owned tokens are overwritten when dropped (best effort: the
/// compiler or allocator may have copied them earlier).
#[derive(Clone)]
pub struct AccessToken<'a>(CowStr<'a>);

impl<'a> AccessToken<'a> {
    /// Wraps a token after checking it is an RFC 6750 `b64token` (letters,
    /// digits, `-._~+/`, then optional `=`), so it cannot inject header lines.
    pub fn new(token: &'a str) -> Result<Self, InvalidToken> {
        check_token(token)?;
        Ok(AccessToken(CowStr::borrowed(token)))
    }

    /// The token itself: the one way to read it, easy to find in review.
    pub fn expose_secret(&self) -> &str {
        self.0.as_str()
    }
}

#[cfg(feature = "alloc")]
impl AccessToken<'static> {
    /// Like [`new`](AccessToken::new), but takes ownership, so the token can
    /// live in a long-lived client; a refused token is wiped too.
    pub fn from_string(token: alloc::string::String) -> Result<Self, InvalidToken> {
        let token = AccessToken(CowStr::owned(token));
        check_token(token.expose_secret())?;
        Ok(token)
    }
}

/// Implemented with or without `alloc` (where there is nothing owned to wipe), so enabling
/// the feature cannot change how long borrows must live in code that already compiles.
impl Drop for AccessToken<'_> {
    fn drop(&mut self) {
        #[cfg(feature = "alloc")]
        self.0.wipe();
    }
}

impl fmt::Debug for AccessToken<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessToken([redacted])")
    }
}

impl fmt::Display for AccessToken<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Checks RFC 6750 `b64token`: `1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
fn check_token(token: &str) -> Result<(), InvalidToken> {
    if token.is_empty() {
        return Err(InvalidToken::Empty);
    }
    let body = token.trim_end_matches('=');
    let valid = !body.is_empty()
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b));
    if valid {
        Ok(())
    } else {
        Err(InvalidToken::InvalidCharacter)
    }
}

/// Why a token was refused. Never holds or prints the token.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum InvalidToken {
    /// The token was empty.
    Empty,
    /// The token had a character outside the RFC 6750 token alphabet.
    InvalidCharacter,
}

impl fmt::Display for InvalidToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            InvalidToken::Empty => {
                "the access token is empty: pass the token Smartcar issued for the user"
            }
            InvalidToken::InvalidCharacter => {
                "the access token has a character outside the RFC 6750 token alphabet \
                 (letters, digits, -._~+/ and trailing =): pass the token exactly as issued, \
                 without a `Bearer ` prefix, quotes or whitespace"
            }
        })
    }
}

impl core::error::Error for InvalidToken {}

/// The user-agent suffix was empty or not printable ASCII.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct InvalidUserAgentSuffix {
    _private: (),
}

impl fmt::Display for InvalidUserAgentSuffix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "the user-agent suffix is empty or has characters other than printable ASCII: \
             use something like `my-app/1.2`",
        )
    }
}

impl core::error::Error for InvalidUserAgentSuffix {}

/// A buffer was too small; says how big it must be so callers can resize once.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct CapacityError {
    /// Bytes the text needs.
    pub needed: usize,
    /// Bytes the buffer holds.
    pub capacity: usize,
}

impl fmt::Display for CapacityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the text needs {} bytes but the buffer holds {}: use a buffer of at least {} bytes",
            self.needed, self.capacity, self.needed
        )
    }
}

impl core::error::Error for CapacityError {}

/// A header value, kept in pieces so the token is only ever written out on demand.
#[derive(Clone, Copy, Debug)]
enum Value<'r> {
    Plain(&'r str),
    Bearer(&'r AccessToken<'r>),
    UserAgent(Option<&'r str>),
}

/// One request header; `sensitive` marks values that must stay out of logs
/// and HPACK tables.
#[derive(Clone, Copy, Debug)]
pub struct Header<'r> {
    /// The header name, e.g. `Authorization`.
    pub name: &'static str,
    /// Whether the value is a secret (only `Authorization`).
    pub sensitive: bool,
    value: Value<'r>,
}

impl<'r> Header<'r> {
    /// Writes the value, e.g. `Bearer <token>`, without allocating.
    pub fn write_value<W: Write + ?Sized>(&self, w: &mut W) -> fmt::Result {
        match self.value {
            Value::Plain(text) => w.write_str(text),
            Value::Bearer(token) => write!(w, "Bearer {}", token.expose_secret()),
            Value::UserAgent(None) => w.write_str(USER_AGENT),
            Value::UserAgent(Some(suffix)) => write!(w, "{USER_AGENT} {suffix}"),
        }
    }

    /// The value when it is one plain string; `None` when it is composed
    /// (the bearer value, a suffixed user agent): use [`write_value`](Self::write_value).
    pub fn value_str(&self) -> Option<&'r str> {
        match self.value {
            Value::Plain(text) => Some(text),
            Value::UserAgent(None) => Some(USER_AGENT),
            Value::Bearer(_) | Value::UserAgent(Some(_)) => None,
        }
    }
}

/// Counts bytes instead of storing them, to size buffers exactly.
struct ByteCounter(usize);

impl Write for ByteCounter {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0 = self.0.saturating_add(s.len());
        Ok(())
    }
}

/// A request ready to send: method, target and headers, borrowed from the
/// request, base URL and token, without allocating.
#[derive(Clone, Copy, Debug)]
pub struct RequestParts<'r> {
    request: &'r ListConnections<'r>,
    base: &'r BaseUrl<'r>,
    token: &'r AccessToken<'r>,
    user_agent_suffix: Option<&'r str>,
}

impl ListConnections<'_> {
    /// Combines the request with where to send it and the token to send.
    ///
    /// ```
    /// use connections_core::{AccessToken, BaseUrl, ListConnections};
    ///
    /// let request = ListConnections::builder().user_id("u1").page_size(50).build()?;
    /// let (base, token) = (BaseUrl::SMARTCAR, AccessToken::new("my-token")?);
    /// let parts = request.parts(&base, &token);
    /// let target = parts.path_and_query::<128>()?;
    /// assert_eq!(parts.method(), "GET");
    /// assert_eq!(target.as_str(), "/v3/connections?filter%5BuserId%5D=u1&page%5Bsize%5D=50");
    /// for header in parts.headers() {
    ///     let mut value = String::new();
    ///     header.write_value(&mut value)?;
    ///     // transport.header(header.name, value, header.sensitive)
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn parts<'r>(
        &'r self,
        base: &'r BaseUrl<'_>,
        token: &'r AccessToken<'_>,
    ) -> RequestParts<'r> {
        RequestParts {
            request: self,
            base,
            token,
            user_agent_suffix: None,
        }
    }
}

impl<'r> RequestParts<'r> {
    /// Appends ` <suffix>` to the `User-Agent`, so an application can name
    /// itself; the suffix must be non-empty printable ASCII to be a valid header.
    pub fn user_agent_suffix(self, suffix: &'r str) -> Result<Self, InvalidUserAgentSuffix> {
        if suffix.is_empty() || !suffix.bytes().all(|b| b == b' ' || b.is_ascii_graphic()) {
            return Err(InvalidUserAgentSuffix { _private: () });
        }
        Ok(RequestParts {
            user_agent_suffix: Some(suffix),
            ..self
        })
    }

    /// Always `GET`: listing connections has no body and no side effects.
    pub fn method(&self) -> &'static str {
        "GET"
    }

    /// Writes the request target, e.g. `/v3/connections?page%5Bnumber%5D=2`.
    pub fn write_path_and_query<W: Write + ?Sized>(&self, w: &mut W) -> fmt::Result {
        self.base.write_path_and_query(self.request, w)
    }

    /// Writes the absolute URL, e.g. `https://vehicle.api.smartcar.com/v3/connections`.
    pub fn write_url<W: Write + ?Sized>(&self, w: &mut W) -> fmt::Result {
        self.base.write_url(self.request, w)
    }

    /// The request target in a fixed-size buffer, for transports without an allocator.
    pub fn path_and_query<const N: usize>(&self) -> Result<heapless::String<N>, CapacityError> {
        let mut target = heapless::String::new();
        if self.write_path_and_query(&mut target).is_ok() {
            return Ok(target);
        }
        let mut counter = ByteCounter(0);
        // Counting never fails, so neither can this write.
        let _ = self.write_path_and_query(&mut counter);
        Err(CapacityError {
            needed: counter.0,
            capacity: N,
        })
    }

    /// `Authorization` (sensitive), `Accept: application/json` and `User-Agent`.
    pub fn headers(&self) -> impl Iterator<Item = Header<'r>> + use<'r> {
        [
            Header {
                name: "Authorization",
                sensitive: true,
                value: Value::Bearer(self.token),
            },
            Header {
                name: "Accept",
                sensitive: false,
                value: Value::Plain("application/json"),
            },
            Header {
                name: "User-Agent",
                sensitive: false,
                value: Value::UserAgent(self.user_agent_suffix),
            },
        ]
        .into_iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    extern crate alloc;
    use alloc::{format, string::String, string::ToString, vec::Vec};

    const SECRET: &str = "s3cr3t-T0ken_value.~+/==";

    fn token() -> AccessToken<'static> {
        AccessToken::new(SECRET).expect("valid token")
    }

    /// A `Drop` impl only with `alloc` would make enabling the feature lengthen borrows in
    /// code that compiled without it; run under `--no-default-features` to mean anything.
    #[test]
    fn a_token_has_drop_with_or_without_alloc() {
        assert!(core::mem::needs_drop::<AccessToken<'static>>());
    }

    fn headers(parts: &RequestParts<'_>) -> Vec<(&'static str, bool, String)> {
        parts
            .headers()
            .map(|h| {
                let mut value = String::new();
                h.write_value(&mut value)
                    .expect("String writes cannot fail");
                (h.name, h.sensitive, value)
            })
            .collect()
    }

    #[test]
    fn tokens_follow_rfc_6750() {
        for good in [
            "a",
            "abc.DEF-123_~+/",
            "abc==",
            "eyJhbGciOi.eyJzdWIi.c2lnbmF0dXJl",
        ] {
            assert!(AccessToken::new(good).is_ok(), "{good:?}");
        }
        assert_eq!(AccessToken::new("").err(), Some(InvalidToken::Empty));
        for bad in [
            "=",
            "a=b",
            "Bearer abc",
            " abc",
            "abc\r\nX-Evil: 1",
            "abc\n",
            "a\"b",
            "tökén",
            "a,b",
        ] {
            assert_eq!(
                AccessToken::new(bad).err(),
                Some(InvalidToken::InvalidCharacter),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn tokens_never_print() {
        let t = token();
        assert_eq!(format!("{t:?}"), "AccessToken([redacted])");
        assert_eq!(t.to_string(), "[redacted]");
        assert_eq!(t.expose_secret(), SECRET);
        let err = AccessToken::new("Bearer s3cr3t")
            .err()
            .map(|e| e.to_string());
        assert!(err.is_some_and(|e| !e.contains("s3cr3t") && e.contains("Bearer")));
    }

    #[cfg(feature = "alloc")]
    #[test]
    fn owned_tokens_outlive_their_input() {
        let owned = AccessToken::from_string(SECRET.into()).expect("valid token");
        assert_eq!(owned.clone().expose_secret(), SECRET);
        assert_eq!(
            AccessToken::from_string(String::new()).err(),
            Some(InvalidToken::Empty)
        );
    }

    #[test]
    fn parts_carry_method_target_and_headers() {
        let req = ListConnections::builder()
            .vehicle_id("v 1")
            .page_number(3)
            .build()
            .expect("valid request");
        let (base, t) = (BaseUrl::SMARTCAR, token());
        let parts = req.parts(&base, &t);
        assert_eq!(parts.method(), "GET");
        let target = parts.path_and_query::<96>().expect("fits");
        assert_eq!(
            target.as_str(),
            "/v3/connections?filter%5BvehicleId%5D=v%201&page%5Bnumber%5D=3"
        );
        let mut url = String::new();
        parts
            .write_url(&mut url)
            .expect("String writes cannot fail");
        assert_eq!(url, format!("https://vehicle.api.smartcar.com{target}"));
        assert_eq!(
            headers(&parts),
            [
                ("Authorization", true, format!("Bearer {SECRET}")),
                ("Accept", false, "application/json".into()),
                ("User-Agent", false, USER_AGENT.into()),
            ]
        );
        let plain: Vec<_> = parts.headers().map(|h| h.value_str()).collect();
        assert_eq!(plain, [None, Some("application/json"), Some(USER_AGENT)]);
        assert!(!format!("{parts:?}").contains(SECRET));
        assert!(!format!("{:?}", parts.headers().next()).contains(SECRET));
    }

    #[test]
    fn small_buffers_report_the_size_needed() {
        let req = ListConnections::new();
        let (base, t) = (BaseUrl::SMARTCAR, token());
        let parts = req.parts(&base, &t);
        assert_eq!(
            parts.path_and_query::<8>(),
            Err(CapacityError {
                needed: 15,
                capacity: 8
            })
        );
        assert_eq!(parts.path_and_query::<15>().map(|s| s.len()), Ok(15));
        let message = CapacityError {
            needed: 15,
            capacity: 8,
        }
        .to_string();
        assert!(message.contains("at least 15 bytes"));
    }

    #[test]
    fn user_agent_suffix_is_appended_and_checked() {
        let req = ListConnections::new();
        let (base, t) = (BaseUrl::SMARTCAR, token());
        let parts = req.parts(&base, &t);
        let named = parts
            .user_agent_suffix("my-app/1.2 (+https://x.y)")
            .expect("valid suffix");
        let ua = named.headers().last().expect("three headers");
        let mut value = String::new();
        ua.write_value(&mut value)
            .expect("String writes cannot fail");
        assert_eq!(
            value,
            format!(
                "connections-core/{} my-app/1.2 (+https://x.y)",
                env!("CARGO_PKG_VERSION")
            )
        );
        assert_eq!(ua.value_str(), None);
        for bad in ["", "a\r\nX-Evil: 1", "tab\t", "é"] {
            assert!(parts.user_agent_suffix(bad).is_err(), "{bad:?}");
        }
        assert!(USER_AGENT.starts_with("connections-core/"));
    }
}
