//! Application tokens: the OAuth 2.0 client-credentials exchange (RFC 6749 §4.4) that gives
//! Smartcar v3 access tokens, and a cache that says when to fetch one.
//!
//! Sans-IO like the rest of the core: [`ClientCredentials::token_request`] says what to send,
//! [`Response::issued_token`] reads what came back, and [`TokenCache`] takes `now` (time since
//! an origin the caller keeps) and a random seed instead of reading a clock.
//!
//! ```
//! use core::time::Duration;
//! use connections_core::{ClientCredentials, ClientSecret, Lookup, Response, TokenCache};
//!
//! let credentials = ClientCredentials::new("my-client-id", ClientSecret::new("s3cret")?)?;
//! let request = credentials.token_request();
//! assert_eq!(request.url(), "https://iam.smartcar.com/oauth2/token");
//! assert_eq!(request.body(), b"grant_type=client_credentials&client_id=my-client-id&client_secret=s3cret");
//!
//! let mut cache = TokenCache::new(7);
//! assert!(matches!(cache.lookup(Duration::ZERO), Lookup::Fetch));
//! let body = br#"{"access_token":"abc","token_type":"Bearer","expires_in":3600}"#;
//! let issued = Response::new(200, body).header("content-type", "application/json").issued_token()?;
//! cache.fetched(issued, Duration::ZERO);
//! let Lookup::Use { token, refresh, .. } = cache.lookup(Duration::from_secs(60)) else { panic!() };
//! assert_eq!((token.expose_secret(), refresh), ("abc", false));
//! # Ok::<(), Box<dyn core::error::Error>>(())
//! ```

use alloc::string::String;
use core::fmt::{self, Write as _};
use core::time::Duration;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use zeroize::Zeroizing;

use crate::listing_stage::retry::{Decision, RetryPolicy, splitmix64};
use crate::request::parts::{AccessToken, InvalidToken};
use crate::request::url::{BaseUrl, InvalidBaseUrl};
use crate::response::decode::{Alloc, DecodeError, Decoder, ErrorKind};
use crate::response::failure::{Failure, is_retryable_status};
use crate::response::outcome::{Response, ResponseError, is_json, snippet};
use crate::response::retry_after::{RetryAfter, UnixTime};
use crate::response::storage::Owned;

/// Smartcar's token endpoint.
pub const SMARTCAR_TOKEN_URL: &str = "https://iam.smartcar.com/oauth2/token";

/// The client secret of a Smartcar application: `Debug` and `Display` never print it, and
/// it is overwritten when dropped (best effort: copies made earlier are out of reach).
#[derive(Clone)]
pub struct ClientSecret(Zeroizing<String>);

impl ClientSecret {
    /// Wraps a secret after checking it is non-empty and free of whitespace and control
    /// characters (a copy-paste accident, never part of a real secret).
    pub fn new(secret: impl Into<String>) -> Result<Self, InvalidCredentials> {
        let secret = ClientSecret(Zeroizing::new(secret.into()));
        check_credential(secret.expose_secret(), InvalidCredentials::Secret)?;
        Ok(secret)
    }

    /// The secret itself: the one way to read it, easy to find in review.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientSecret([redacted])")
    }
}

impl fmt::Display for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

fn check_credential(
    text: &str,
    problem: fn(CredentialProblem) -> InvalidCredentials,
) -> Result<(), InvalidCredentials> {
    if text.is_empty() {
        return Err(problem(CredentialProblem::Empty));
    }
    if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(problem(CredentialProblem::Whitespace));
    }
    Ok(())
}

/// An application's client id and secret, and the token endpoint they are sent to.
#[derive(Clone)]
pub struct ClientCredentials {
    client_id: String,
    secret: ClientSecret,
    token_url: BaseUrl<'static>,
}

impl ClientCredentials {
    /// Credentials for Smartcar's token endpoint ([`SMARTCAR_TOKEN_URL`]).
    pub fn new(
        client_id: impl Into<String>,
        secret: ClientSecret,
    ) -> Result<Self, InvalidCredentials> {
        let client_id = client_id.into();
        check_credential(&client_id, InvalidCredentials::ClientId)?;
        let token_url = match BaseUrl::parse(SMARTCAR_TOKEN_URL) {
            Ok(url) => url.into_owned(),
            Err(_) => BaseUrl::SMARTCAR,
        };
        Ok(ClientCredentials {
            client_id,
            secret,
            token_url,
        })
    }

    /// Sends the credentials to another token endpoint, checked like a base URL: `https`,
    /// or plain `http` to a loopback host only, since the secret travels in the body.
    pub fn with_token_url(mut self, url: &str) -> Result<Self, InvalidBaseUrl> {
        self.token_url = BaseUrl::parse(url)?.into_owned();
        Ok(self)
    }

    /// The client id (not a secret: it identifies the application).
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The token endpoint.
    pub fn token_url(&self) -> &BaseUrl<'static> {
        &self.token_url
    }

    /// The token request: `POST`, the endpoint, form headers and the encoded form body.
    pub fn token_request(&self) -> TokenRequest {
        let mut url = String::new();
        let mut body = Zeroizing::new(String::new());
        // Writing to a String cannot fail.
        let _ = self.token_url.write_origin(&mut url);
        url.push_str(self.token_url.prefix());
        let _ = write!(
            body,
            "grant_type=client_credentials&client_id={}&client_secret={}",
            utf8_percent_encode(&self.client_id, FORM),
            utf8_percent_encode(self.secret.expose_secret(), FORM),
        );
        TokenRequest { url, body }
    }
}

impl fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCredentials")
            .field("client_id", &self.client_id)
            .field("secret", &self.secret)
            .field("token_url", &self.token_url)
            .finish()
    }
}

/// `application/x-www-form-urlencoded` leaves only `*-._` and alphanumerics as they are.
const FORM: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'*')
    .remove(b'-')
    .remove(b'.')
    .remove(b'_');

/// Why a client id or secret was refused. Never holds or prints either.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum InvalidCredentials {
    /// The client id was refused.
    ClientId(CredentialProblem),
    /// The client secret was refused.
    Secret(CredentialProblem),
}

/// What was wrong with a credential.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CredentialProblem {
    /// It was empty.
    Empty,
    /// It held whitespace or a control character.
    Whitespace,
}

impl fmt::Display for InvalidCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (what, problem) = match self {
            InvalidCredentials::ClientId(p) => ("client id", p),
            InvalidCredentials::Secret(p) => ("client secret", p),
        };
        match problem {
            CredentialProblem::Empty => write!(
                f,
                "the {what} is empty: copy it from the Smartcar dashboard's application settings"
            ),
            CredentialProblem::Whitespace => write!(
                f,
                "the {what} has whitespace or a control character: pass it exactly as the \
                 Smartcar dashboard shows it, without quotes or a trailing newline"
            ),
        }
    }
}

impl core::error::Error for InvalidCredentials {}

/// What to send to the token endpoint. The body holds the secret: `Debug` leaves it out and
/// it is overwritten when dropped.
pub struct TokenRequest {
    url: String,
    body: Zeroizing<String>,
}

impl TokenRequest {
    /// `POST`.
    pub fn method(&self) -> &'static str {
        "POST"
    }

    /// The endpoint's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The headers to send besides `User-Agent` (use [`crate::USER_AGENT`], with a suffix if
    /// set).
    pub fn headers(&self) -> [(&'static str, &'static str); 2] {
        [
            ("content-type", "application/x-www-form-urlencoded"),
            ("accept", "application/json"),
        ]
    }

    /// The form body, secret included.
    pub fn body(&self) -> &[u8] {
        self.body.as_bytes()
    }

    /// The request as an `http::Request`, with `user_agent` (for instance [`crate::USER_AGENT`]).
    /// The body is a copy of the secret-bearing form, which the caller's body type owns.
    #[cfg(feature = "http")]
    pub fn to_http_request<B: From<alloc::vec::Vec<u8>>>(
        &self,
        user_agent: &str,
    ) -> Result<http::Request<B>, http::Error> {
        let mut builder = http::Request::post(self.url.as_str());
        for (name, value) in self.headers() {
            builder = builder.header(name, value);
        }
        builder
            .header(http::header::USER_AGENT, user_agent)
            .body(B::from(self.body().to_vec()))
    }
}

impl fmt::Debug for TokenRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenRequest")
            .field("method", &self.method())
            .field("url", &self.url)
            .field("body", &"[redacted]")
            .finish()
    }
}

/// What the token endpoint issued.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct IssuedToken {
    /// The access token, for `Authorization: Bearer`.
    pub access_token: AccessToken<'static>,
    /// How long it lasts from when it was issued; `None` if the endpoint did not say (the
    /// token is then used until the API refuses it).
    pub expires_in: Option<Duration>,
}

impl Response<'_> {
    /// Reads a token endpoint's answer: the token from a 2xx, an [`OAuthError`] from a 4xx or
    /// 5xx with an OAuth error body, and otherwise a [`ResponseError`] as for the API
    /// (a redirect, an HTML error page, a body that is not JSON or not well formed).
    ///
    /// An error page's body is left out, as it may echo the secret; with the credentials at
    /// hand, [`issued_token_for`](Self::issued_token_for) keeps its start without it.
    pub fn issued_token(&self) -> Result<IssuedToken, TokenError> {
        self.read_token(None)
    }

    /// [`issued_token`](Self::issued_token) for the answer to `credentials`' token request:
    /// an error page that is not an OAuth error keeps its start (at most
    /// [`crate::error::SNIPPET_LEN`] bytes), as the API's errors do, with the secret taken
    /// out wherever the page echoes it.
    pub fn issued_token_for(
        &self,
        credentials: &ClientCredentials,
    ) -> Result<IssuedToken, TokenError> {
        self.read_token(Some(&credentials.secret))
    }

    fn read_token(&self, secret: Option<&ClientSecret>) -> Result<IssuedToken, TokenError> {
        let status = self.status;
        match status {
            200..=299 => {
                if let Some(ct) = self.content_type.filter(|ct| !is_json(ct)) {
                    // No snippet: a token endpoint's body may well be a token in another
                    // format (`access_token=...`).
                    return Err(TokenError::Response(ResponseError::NotJson {
                        status,
                        content_type: ct.into(),
                        body_snippet: None,
                    }));
                }
                let malformed =
                    |error| TokenError::Response(ResponseError::Malformed { status, error });
                let body = Decoder::new(self.body, Alloc::<Owned>::default())
                    .and_then(Decoder::oauth)
                    .map_err(malformed)?;
                let end = self.body.len();
                let missing = |field| DecodeError::new(ErrorKind::MissingField { field }, end);
                let token = body
                    .access_token
                    .ok_or_else(|| malformed(missing("access_token")))?;
                let kind = body
                    .token_type
                    .ok_or_else(|| malformed(missing("token_type")))?;
                if !kind.eq_ignore_ascii_case("bearer") {
                    return Err(TokenError::Unusable(UnusableToken::NotBearer));
                }
                let expires_in = match body.expires_in {
                    None => None,
                    Some(secs) => match u64::try_from(secs) {
                        Ok(secs) if secs > 0 => Some(Duration::from_secs(secs)),
                        _ => return Err(TokenError::Unusable(UnusableToken::Lifetime)),
                    },
                };
                let access_token = AccessToken::from_string(token)
                    .map_err(|e| TokenError::Unusable(UnusableToken::Token(e)))?;
                Ok(IssuedToken {
                    access_token,
                    expires_in,
                })
            }
            300..=399 => Err(TokenError::Response(ResponseError::Redirect {
                status,
                location: self.location.map(Into::into),
            })),
            _ => {
                let oauth = Decoder::new(self.body, Alloc::<Owned>::default())
                    .and_then(Decoder::oauth)
                    .ok();
                match oauth.and_then(|b| Some((b.error?, b.error_description))) {
                    Some((error, description)) => Err(TokenError::OAuth(OAuthError {
                        status,
                        error,
                        description,
                        retry_after: self.retry_after.and_then(|v| RetryAfter::parse(v).ok()),
                    })),
                    None => {
                        // A gateway's error page may echo the request, secret included.
                        let mut error = self.api_error(&mut Alloc::<Owned>::default());
                        error.body_snippet = secret.and_then(|s| redacted_snippet(self.body, s));
                        Err(TokenError::Response(ResponseError::Api(error)))
                    }
                }
            }
        }
    }
}

/// What stands for the secret in an error page that echoed it.
const REDACTED: &str = "[redacted]";

/// The start of a token endpoint's error body, as [`snippet`] cuts it, with `secret`
/// replaced wherever it appears as sent (raw or form-encoded). Replaced in the whole body
/// before cutting, so no cut leaves part of the secret behind.
fn redacted_snippet(body: &[u8], secret: &ClientSecret) -> Option<String> {
    let text = match core::str::from_utf8(body) {
        Ok(text) => text,
        Err(e) => core::str::from_utf8(body.get(..e.valid_up_to())?).ok()?,
    };
    let raw = secret.expose_secret();
    let encoded = Zeroizing::new(utf8_percent_encode(raw, FORM).collect::<String>());
    let redacted = Zeroizing::new(
        text.replace(raw, REDACTED)
            .replace(encoded.as_str(), REDACTED),
    );
    snippet(redacted.as_bytes()).map(String::from)
}

/// Why no token came from the token endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenError {
    /// The endpoint answered with an OAuth error (`invalid_client`, `invalid_request`, …).
    OAuth(OAuthError),
    /// The answer was not an OAuth answer: a redirect (never followed, the secret must not
    /// travel elsewhere), an error page, a body that is not JSON or not well formed.
    Response(ResponseError<Owned>),
    /// A token came, but one the client cannot use.
    Unusable(UnusableToken),
}

impl TokenError {
    /// The HTTP status, if the endpoint answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            TokenError::OAuth(e) => Some(e.status),
            TokenError::Response(e) => Some(e.status()),
            TokenError::Unusable(_) => None,
        }
    }

    /// Whether asking again may help: 429 and 5xx, as for the API. A refusal of the
    /// credentials (4xx) never is.
    pub fn is_retryable(&self) -> bool {
        match self {
            TokenError::OAuth(e) => is_retryable_status(e.status),
            TokenError::Response(e) => e.is_retryable(),
            TokenError::Unusable(_) => false,
        }
    }

    /// This outcome as the retry policy sees it, with Retry-After counted from `now`.
    pub fn to_failure(&self, now: UnixTime) -> Failure {
        match self {
            TokenError::OAuth(e) => Failure::Status {
                status: e.status,
                retry_after: e.retry_after.map(|r| r.delay_from(now)),
            },
            TokenError::Response(e) => e.to_failure(now),
            TokenError::Unusable(_) => Failure::Transport { retryable: false },
        }
    }
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenError::OAuth(e) => e.fmt(f),
            TokenError::Response(ResponseError::Malformed { status, error }) => write!(
                f,
                "the token endpoint's HTTP {status} body is not a valid token response: {error}"
            ),
            TokenError::Response(ResponseError::NotJson {
                status,
                content_type,
                ..
            }) => write!(
                f,
                "the token endpoint answered HTTP {status} with content type {content_type:?} \
                 instead of JSON: check the token URL"
            ),
            TokenError::Response(ResponseError::Redirect { status, location }) => {
                write!(
                    f,
                    "the token endpoint answered with an HTTP {status} redirect"
                )?;
                if let Some(location) = location {
                    write!(f, " to {location:?}")?;
                }
                f.write_str(
                    ", not followed so the secret is never sent elsewhere: configure the \
                     token URL it points to",
                )
            }
            // Worded for the token endpoint: the API's advice (the base URL, the filters)
            // would point at the wrong thing.
            TokenError::Response(ResponseError::Api(e)) => {
                write!(f, "the token endpoint answered HTTP {}", e.status)?;
                match (e.first(), &e.body_snippet) {
                    (Some(entry), _) => write!(f, ": {entry}")?,
                    (None, Some(body)) => write!(f, ", body not an OAuth error: {body:?}")?,
                    (None, None) => f.write_str(" without an OAuth error in the body")?,
                }
                f.write_str(if is_retryable_status(e.status) {
                    "; a temporary failure: try again later"
                } else {
                    "; check the token URL"
                })
            }
            TokenError::Unusable(e) => e.fmt(f),
        }
    }
}

impl core::error::Error for TokenError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            TokenError::Unusable(UnusableToken::Token(e)) => Some(e),
            _ => None,
        }
    }
}

/// An OAuth error answer (RFC 6749 §5.2).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct OAuthError {
    /// The HTTP status.
    pub status: u16,
    /// The error code: `invalid_client`, `invalid_request`, `unauthorized_client`, …
    pub error: String,
    /// The endpoint's explanation, if any.
    pub description: Option<String>,
    /// How long the endpoint asked to wait.
    pub retry_after: Option<RetryAfter>,
}

impl fmt::Display for OAuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the token endpoint refused the request: HTTP {} {}",
            self.status, self.error
        )?;
        if let Some(description) = &self.description {
            write!(f, " ({description})")?;
        }
        f.write_str(match self.error.as_str() {
            "invalid_client" | "unauthorized_client" => {
                "; check the client id and client secret (SMARTCAR_CLIENT_ID and \
                 SMARTCAR_CLIENT_SECRET for the CLI) in the Smartcar dashboard"
            }
            "invalid_grant" | "unsupported_grant_type" | "invalid_scope" => {
                "; check that the application may use the client-credentials grant"
            }
            _ if is_retryable_status(self.status) => "; try again later",
            _ => "; check the token URL and the credentials",
        })
    }
}

/// Why an issued token cannot be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum UnusableToken {
    /// `token_type` was not `Bearer`.
    NotBearer,
    /// `expires_in` was zero or negative.
    Lifetime,
    /// The token has characters a bearer token cannot hold.
    Token(InvalidToken),
}

impl fmt::Display for UnusableToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UnusableToken::NotBearer => {
                "the token endpoint issued a token that is not a Bearer token: check the token URL"
            }
            UnusableToken::Lifetime => {
                "the token endpoint issued a token with an expires_in of zero or less: check \
                 the token URL"
            }
            UnusableToken::Token(_) => {
                "the token endpoint issued a token with characters a bearer token cannot \
                 hold: check the token URL"
            }
        })
    }
}

/// Names one token a [`TokenCache`] handed out, so a 401 drops that token and not a newer one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TokenId(u64);

/// What a caller should do for a token, from [`TokenCache::lookup`].
#[derive(Debug)]
pub enum Lookup {
    /// Use this token. With `refresh`, it is due for renewal and this caller (the only one
    /// told) should fetch a new one in the background, then call [`TokenCache::fetched`] or
    /// [`TokenCache::fetch_failed`].
    Use {
        /// The token.
        token: AccessToken<'static>,
        /// Which token it is, for [`TokenCache::rejected`].
        id: TokenId,
        /// Whether this caller should start a refresh.
        refresh: bool,
    },
    /// There is no usable token and none is being fetched: this caller (the only one told)
    /// fetches it, then calls [`TokenCache::fetched`] or [`TokenCache::fetch_failed`].
    Fetch,
    /// There is no usable token and another caller is fetching one: wait for it.
    Wait,
}

/// How a cached token stands at some instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Freshness {
    /// No token.
    Missing,
    /// Valid, and not yet due for renewal.
    Fresh,
    /// Valid, but inside the refresh-ahead window.
    RefreshDue,
    /// Past its lifetime.
    Expired,
}

/// The application token cache of one client: which token to use, when to renew it ahead
/// of expiry, and one fetch at a time.
///
/// A token is renewed within the last 60 s of its lifetime, or the last 10% for lifetimes
/// under 10 minutes, plus up to half that again at random, so clients started together do
/// not renew together. A token the API refused (401) is dropped once; a failed fetch leaves
/// nothing behind.
#[derive(Debug)]
pub struct TokenCache {
    current: Option<Cached>,
    fetching: bool,
    issued: u64,
    rng: u64,
}

#[derive(Debug)]
struct Cached {
    token: AccessToken<'static>,
    id: TokenId,
    expires_at: Option<Duration>,
    refresh_at: Option<Duration>,
}

/// The longest refresh-ahead window.
const REFRESH_AHEAD: Duration = Duration::from_secs(60);

impl TokenCache {
    /// An empty cache; `seed` feeds the jitter of refresh times.
    pub fn new(seed: u64) -> Self {
        TokenCache {
            current: None,
            fetching: false,
            issued: 0,
            rng: seed,
        }
    }

    /// How the current token stands at `now`.
    pub fn freshness(&self, now: Duration) -> Freshness {
        match &self.current {
            None => Freshness::Missing,
            Some(c) if c.expires_at.is_some_and(|t| now >= t) => Freshness::Expired,
            Some(c) if c.refresh_at.is_some_and(|t| now >= t) => Freshness::RefreshDue,
            Some(_) => Freshness::Fresh,
        }
    }

    /// What to do for a token at `now`. Exactly one caller is told to fetch (or refresh)
    /// until the fetch is reported.
    pub fn lookup(&mut self, now: Duration) -> Lookup {
        let freshness = self.freshness(now);
        match (&self.current, freshness) {
            (Some(c), Freshness::Fresh | Freshness::RefreshDue) => {
                let refresh = freshness == Freshness::RefreshDue && !self.fetching;
                self.fetching |= refresh;
                Lookup::Use {
                    token: c.token.clone(),
                    id: c.id,
                    refresh,
                }
            }
            _ if self.fetching => Lookup::Wait,
            _ => {
                self.fetching = true;
                Lookup::Fetch
            }
        }
    }

    /// Stores a token fetched at `now` (the time the request was sent is safer than the time
    /// the answer came) and ends the fetch; returns it with its id.
    pub fn fetched(
        &mut self,
        issued: IssuedToken,
        now: Duration,
    ) -> (AccessToken<'static>, TokenId) {
        self.fetching = false;
        self.issued += 1;
        let id = TokenId(self.issued);
        let expires_at = issued.expires_in.and_then(|life| now.checked_add(life));
        let refresh_at = issued.expires_in.and_then(|life| {
            let window = REFRESH_AHEAD.min(life / 10);
            let jitter = window.mul_f64(self.random_fraction() / 2.0);
            now.checked_add(life.saturating_sub(window + jitter))
        });
        let token = issued.access_token;
        self.current = Some(Cached {
            token: token.clone(),
            id,
            expires_at,
            refresh_at,
        });
        (token, id)
    }

    /// Ends a fetch that failed. Nothing is cached: the next lookup fetches again, and a
    /// token still valid stays in use.
    pub fn fetch_failed(&mut self) {
        self.fetching = false;
    }

    /// The API refused token `id` (401): drops it if it is still the current one. Returns
    /// whether this call dropped it, so one refusal per token leads to one refetch.
    pub fn rejected(&mut self, id: TokenId) -> bool {
        let current = self.current.as_ref().is_some_and(|c| c.id == id);
        if current {
            self.current = None;
        }
        current
    }

    /// A uniform value in [0, 1) from the seed.
    fn random_fraction(&mut self) -> f64 {
        (splitmix64(&mut self.rng) >> 11) as f64 / (1u64 << 53) as f64
    }

    /// The API answered `status` to a request sent with token `id`: whether to send it once
    /// more, as `rule` says (see [`RefreshOnce`]). A refused token is dropped here, so the
    /// next [`lookup`](Self::lookup) fetches a fresh one.
    pub fn answered(&mut self, rule: &mut RefreshOnce, id: TokenId, status: u16) -> bool {
        if status != 401 || rule.resent {
            return false;
        }
        rule.resent = true;
        // Sent again even when another request dropped the token first: the token it was
        // refused with is gone either way, and the lookup waits for the fetch under way.
        self.rejected(id);
        true
    }
}

/// The 401 rule of one request sent with an application token: the API refusing the token
/// (a revoked or rotated one, a clock skewed against its expiry) drops it, and the request is
/// sent once more with a fresh one; a second 401 is the answer, so a token the API will
/// never accept costs two requests, not a loop. Fixed tokens and the user's own sources are
/// never resent: the client cannot get a different one.
///
/// One value per request, fed each answer by [`TokenCache::answered`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RefreshOnce {
    resent: bool,
}

/// The retries of one token fetch: after each failed request to the token endpoint, how long
/// to wait before the next, or to give up, as the client's [`RetryPolicy`] says (the same
/// policy as the API's requests, so a 5xx or a reset is retried with backoff and jitter, a
/// refusal such as `invalid_client` is not, and a `Retry-After` is obeyed up to its cap).
///
/// Sans-IO: the caller sends, sleeps and reads; it hands each failure here, with its
/// `Retry-After` already read against `now` ([`TokenError::to_failure`]).
#[derive(Clone, Debug)]
pub struct TokenRetries {
    policy: RetryPolicy,
    attempts: u32,
    rng: u64,
}

impl TokenRetries {
    /// No attempt made yet; `seed` feeds the backoff's jitter.
    pub fn new(policy: RetryPolicy, seed: u64) -> Self {
        TokenRetries {
            policy,
            attempts: 0,
            rng: seed,
        }
    }

    /// Counts a request about to be sent.
    pub fn sending(&mut self) {
        self.attempts = self.attempts.saturating_add(1);
    }

    /// The requests sent so far.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// The last request failed with `failure`: the wait before the next one, or `None` to
    /// give up and report it.
    pub fn failed(&mut self, failure: &Failure) -> Option<Duration> {
        let random = splitmix64(&mut self.rng);
        match self.policy.decide(self.attempts.max(1), failure, random) {
            Decision::RetryAfter(wait) => Some(wait),
            Decision::GiveUp(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use alloc::string::ToString;

    fn issued(token: &str, secs: Option<u64>) -> IssuedToken {
        IssuedToken {
            access_token: AccessToken::from_string(token.into()).unwrap(),
            expires_in: secs.map(Duration::from_secs),
        }
    }

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    #[test]
    fn a_401_drops_the_token_and_resends_once_and_a_second_401_is_the_answer() {
        let mut cache = TokenCache::new(1);
        let _ = cache.lookup(secs(0.0));
        let (_, first) = cache.fetched(issued("t1", Some(3600)), secs(0.0));
        let mut rule = RefreshOnce::default();
        assert!(
            !cache.answered(&mut rule, first, 200),
            "a success is the answer"
        );
        assert!(
            !cache.answered(&mut rule, first, 403),
            "only a 401 refuses the token"
        );
        assert!(
            cache.answered(&mut rule, first, 401),
            "the first 401 resends"
        );
        assert!(
            matches!(cache.lookup(secs(1.0)), Lookup::Fetch),
            "and drops the token"
        );
        let (_, second) = cache.fetched(issued("t2", Some(3600)), secs(1.0));
        assert!(
            !cache.answered(&mut rule, second, 401),
            "the second 401 is final"
        );
        assert!(
            matches!(cache.lookup(secs(2.0)), Lookup::Use { .. }),
            "and keeps t2"
        );
        // Another request refused with the token already dropped still resends, once.
        let mut other = RefreshOnce::default();
        assert!(cache.answered(&mut other, first, 401));
        assert!(
            matches!(cache.lookup(secs(2.0)), Lookup::Use { .. }),
            "t2 stays"
        );
    }

    #[test]
    fn token_retries_follow_the_policy_and_count_attempts() {
        let policy = RetryPolicy::new()
            .with_max_attempts(3)
            .with_base_delay(Duration::from_secs(1))
            .with_max_delay(Duration::from_secs(4));
        let unavailable = Failure::Status {
            status: 503,
            retry_after: None,
        };
        let mut retries = TokenRetries::new(policy, 9);
        retries.sending();
        let first = retries.failed(&unavailable).unwrap();
        assert!(first <= Duration::from_secs(1), "{first:?}");
        retries.sending();
        let second = retries.failed(&unavailable).unwrap();
        assert!(second <= Duration::from_secs(2), "{second:?}");
        retries.sending();
        assert_eq!(retries.failed(&unavailable), None, "three attempts at most");
        assert_eq!(retries.attempts(), 3);

        let asked = Failure::Status {
            status: 503,
            retry_after: Some(Duration::from_secs(7)),
        };
        let mut retries = TokenRetries::new(policy, 9);
        retries.sending();
        assert_eq!(retries.failed(&asked), Some(Duration::from_secs(7)));
        let refused = Failure::Status {
            status: 401,
            retry_after: None,
        };
        let mut retries = TokenRetries::new(policy, 9);
        retries.sending();
        assert_eq!(retries.failed(&refused), None, "a refusal is final");
        let reset = Failure::Transport { retryable: true };
        let mut retries = TokenRetries::new(policy, 9);
        retries.sending();
        assert!(retries.failed(&reset).is_some(), "a reset is retried");
    }

    #[test]
    fn one_caller_fetches_the_others_wait_and_then_all_use_it() {
        let mut cache = TokenCache::new(1);
        assert!(matches!(cache.lookup(secs(0.0)), Lookup::Fetch));
        assert!(matches!(cache.lookup(secs(0.0)), Lookup::Wait));
        assert!(matches!(cache.lookup(secs(0.1)), Lookup::Wait));
        cache.fetched(issued("t1", Some(3600)), secs(0.0));
        for _ in 0..3 {
            let Lookup::Use { token, refresh, .. } = cache.lookup(secs(1.0)) else {
                panic!("a fresh token is used")
            };
            assert_eq!(token.expose_secret(), "t1");
            assert!(!refresh);
        }
    }

    #[test]
    fn an_hour_long_token_is_renewed_60_to_90_seconds_before_expiry_by_one_caller() {
        for seed in 0..50 {
            let mut cache = TokenCache::new(seed);
            let _ = cache.lookup(secs(0.0));
            cache.fetched(issued("t1", Some(3600)), secs(0.0));
            assert_eq!(cache.freshness(secs(3509.9)), Freshness::Fresh);
            assert_eq!(cache.freshness(secs(3540.0)), Freshness::RefreshDue);
            let mut refreshers = 0;
            for _ in 0..5 {
                match cache.lookup(secs(3541.0)) {
                    Lookup::Use { refresh, token, .. } => {
                        assert_eq!(token.expose_secret(), "t1", "the valid token stays in use");
                        refreshers += usize::from(refresh);
                    }
                    other => panic!("{other:?}"),
                }
            }
            assert_eq!(refreshers, 1, "exactly one caller refreshes");
            assert_eq!(cache.freshness(secs(3600.0)), Freshness::Expired);
            assert!(matches!(cache.lookup(secs(3600.0)), Lookup::Wait));
        }
    }

    #[test]
    fn short_lifetimes_are_renewed_in_their_last_tenth_plus_jitter() {
        let mut cache = TokenCache::new(9);
        let _ = cache.lookup(secs(0.0));
        cache.fetched(issued("t1", Some(2)), secs(10.0));
        assert_eq!(cache.freshness(secs(11.69)), Freshness::Fresh);
        assert_eq!(cache.freshness(secs(11.81)), Freshness::RefreshDue);
        assert_eq!(cache.freshness(secs(12.0)), Freshness::Expired);
    }

    #[test]
    fn a_rejected_token_is_dropped_once_and_a_newer_one_is_kept() {
        let mut cache = TokenCache::new(2);
        let _ = cache.lookup(secs(0.0));
        let (_, first) = cache.fetched(issued("t1", Some(3600)), secs(0.0));
        assert!(cache.rejected(first));
        assert!(
            !cache.rejected(first),
            "a second 401 on the same token drops nothing"
        );
        assert!(matches!(cache.lookup(secs(1.0)), Lookup::Fetch));
        let (_, second) = cache.fetched(issued("t2", Some(3600)), secs(1.0));
        assert!(
            !cache.rejected(first),
            "a late 401 on the old token keeps the new one"
        );
        assert_eq!(cache.freshness(secs(2.0)), Freshness::Fresh);
        assert!(cache.rejected(second));
    }

    #[test]
    fn a_failed_fetch_caches_nothing_and_lets_the_next_caller_fetch() {
        let mut cache = TokenCache::new(3);
        assert!(matches!(cache.lookup(secs(0.0)), Lookup::Fetch));
        cache.fetch_failed();
        assert_eq!(cache.freshness(secs(0.0)), Freshness::Missing);
        assert!(matches!(cache.lookup(secs(0.0)), Lookup::Fetch));
    }

    #[test]
    fn a_token_without_a_lifetime_is_used_until_refused() {
        let mut cache = TokenCache::new(4);
        let _ = cache.lookup(secs(0.0));
        let (_, id) = cache.fetched(issued("t1", None), secs(0.0));
        assert_eq!(cache.freshness(secs(1e9)), Freshness::Fresh);
        assert!(cache.rejected(id));
    }

    #[test]
    fn the_request_is_a_form_post_with_the_secret_encoded_and_never_printed() {
        let secret = ClientSecret::new("p@ss+w/rd=&x").unwrap();
        let credentials = ClientCredentials::new("id 1", secret);
        assert_eq!(
            credentials.unwrap_err(),
            InvalidCredentials::ClientId(CredentialProblem::Whitespace)
        );
        let secret = ClientSecret::new("p@ss+w/rd=&x%").unwrap();
        let credentials = ClientCredentials::new("app-1", secret)
            .unwrap()
            .with_token_url("http://127.0.0.1:8080/oauth2/token")
            .unwrap();
        let request = credentials.token_request();
        assert_eq!(request.method(), "POST");
        assert_eq!(request.url(), "http://127.0.0.1:8080/oauth2/token");
        let body = core::str::from_utf8(request.body()).unwrap();
        let pairs: alloc::vec::Vec<(String, String)> = form_urlencoded::parse(body.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        assert_eq!(
            pairs,
            [
                ("grant_type".into(), "client_credentials".into()),
                ("client_id".into(), "app-1".into()),
                ("client_secret".into(), "p@ss+w/rd=&x%".into()),
            ]
        );
        let shown = alloc::format!("{credentials:?} {request:?}");
        assert!(!shown.contains("p@ss"), "{shown}");
        assert!(
            credentials
                .clone()
                .with_token_url("http://auth.example.com/token")
                .is_err(),
            "plain http off loopback"
        );
    }

    #[test]
    fn answers_are_typed() {
        let json = |status, body: &'static str| {
            Response::new(status, body.as_bytes()).header("content-type", "application/json")
        };
        let ok = json(
            200,
            r#"{"access_token":"a.b-c","token_type":"bearer","expires_in":60,"scope":"x"}"#,
        )
        .issued_token()
        .unwrap();
        assert_eq!(ok.access_token.expose_secret(), "a.b-c");
        assert_eq!(ok.expires_in, Some(Duration::from_secs(60)));

        let refused = json(
            401,
            r#"{"error":"invalid_client","error_description":"bad secret"}"#,
        )
        .issued_token()
        .unwrap_err();
        let TokenError::OAuth(e) = &refused else {
            panic!("{refused:?}")
        };
        assert_eq!((e.status, e.error.as_str()), (401, "invalid_client"));
        assert_eq!(e.description.as_deref(), Some("bad secret"));
        assert!(!refused.is_retryable());
        assert!(refused.to_string().contains("client secret"));

        let partial = json(400, r#"{"error":"invalid_request"}"#)
            .issued_token()
            .unwrap_err();
        assert!(matches!(partial, TokenError::OAuth(ref e) if e.description.is_none()));

        let html = Response::new(502, b"<html>bad gateway</html>")
            .header("content-type", "text/html")
            .issued_token()
            .unwrap_err();
        assert!(html.is_retryable());
        assert!(matches!(html, TokenError::Response(ResponseError::Api(_))));

        let missing = json(200, r#"{"token_type":"Bearer"}"#)
            .issued_token()
            .unwrap_err();
        assert!(matches!(
            missing,
            TokenError::Response(ResponseError::Malformed { error, .. })
                if error.kind == ErrorKind::MissingField { field: "access_token" }
        ));
        let not_json = Response::new(200, b"access_token=abc-secret")
            .header("content-type", "application/x-www-form-urlencoded")
            .issued_token()
            .unwrap_err();
        assert!(matches!(
            not_json,
            TokenError::Response(ResponseError::NotJson { .. })
        ));
        let shown = alloc::format!("{not_json} {not_json:?}");
        assert!(
            !shown.contains("abc-secret") && shown.contains("token URL"),
            "{shown}"
        );
        let echo = Response::new(
            502,
            b"<html>grant_type=client_credentials&client_secret=s3</html>",
        )
        .issued_token()
        .unwrap_err();
        assert!(
            !alloc::format!("{echo} {echo:?}").contains("s3<"),
            "{echo:?}"
        );
        let not_found = Response::new(404, b"<h1>Not Found</h1>")
            .issued_token()
            .unwrap_err()
            .to_string();
        assert!(not_found.contains("check the token URL"), "{not_found}");
        assert!(!not_found.contains("base URL"), "{not_found}");
        let truncated = json(200, r#"{"access_token":"ab"#)
            .issued_token()
            .unwrap_err();
        assert!(matches!(
            truncated,
            TokenError::Response(ResponseError::Malformed { .. })
        ));
        let mac = json(200, r#"{"access_token":"ab","token_type":"mac"}"#).issued_token();
        assert!(matches!(
            mac,
            Err(TokenError::Unusable(UnusableToken::NotBearer))
        ));
        let zero = json(
            200,
            r#"{"access_token":"ab","token_type":"Bearer","expires_in":0}"#,
        )
        .issued_token();
        assert!(matches!(
            zero,
            Err(TokenError::Unusable(UnusableToken::Lifetime))
        ));
        let header =
            json(200, r#"{"access_token":"a\r\nX: y","token_type":"Bearer"}"#).issued_token();
        assert!(matches!(
            header,
            Err(TokenError::Unusable(UnusableToken::Token(_)))
        ));
        let redirect = Response::new(302, b"")
            .header("location", "https://elsewhere.example/")
            .issued_token()
            .unwrap_err();
        assert!(matches!(
            redirect,
            TokenError::Response(ResponseError::Redirect { .. })
        ));
    }

    /// An error page that is not OAuth is shown as the API's are: its start, escaped, with
    /// the secret out of it however it was echoed, even where the cut falls inside it.
    #[test]
    fn a_token_error_page_shows_its_start_without_the_secret() {
        let secret = ClientSecret::new("s3/cr&t").unwrap();
        let credentials = ClientCredentials::new("app", secret).unwrap();
        let page = b"<html>\x1b[2J bad gateway: client_secret=s3%2Fcr%26t raw s3/cr&t</html>";
        let error = Response::new(502, page)
            .header("content-type", "text/html")
            .issued_token_for(&credentials)
            .unwrap_err();
        let shown = alloc::format!("{error}");
        assert!(
            shown.starts_with(
                "the token endpoint answered HTTP 502, body not an OAuth error: \"<html>\\u{1b}[2J \
                 bad gateway: client_secret=[redacted] raw [redacted]</html>\"; a temporary"
            ),
            "{shown}"
        );
        let mut long = alloc::vec![b'x'; crate::error::SNIPPET_LEN - 3];
        long.extend_from_slice(b"s3/cr&t and more");
        let cut = Response::new(500, &long)
            .issued_token_for(&credentials)
            .unwrap_err();
        let TokenError::Response(ResponseError::Api(api)) = &cut else {
            panic!("{cut:?}")
        };
        let snippet = api.body_snippet.as_deref().unwrap();
        let expected = alloc::format!("{}[re", "x".repeat(crate::error::SNIPPET_LEN - 3));
        assert_eq!(snippet, expected);
        assert!(!alloc::format!("{cut} {cut:?}").contains("s3/"), "{cut}");
    }
}
