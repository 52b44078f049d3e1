//! `POST /oauth2/token`: the OAuth 2.0 client-credentials grant (RFC 6749 §4.4) as Smartcar
//! serves it at `https://iam.smartcar.com/oauth2/token`, and the tokens it hands out.
//!
//! The client authenticates with `client_id` and `client_secret` in the form body or with
//! HTTP Basic auth (RFC 6749 §2.3.1), never both. Answers and errors follow RFC 6749 §5:
//! `{"access_token", "token_type": "Bearer", "expires_in"}` or `{"error",
//! "error_description"}`, always with `cache-control: no-store`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode, header};
use percent_encoding::percent_decode_str;
use serde::Serialize;

use crate::SandboxConfig;
use crate::dataset::mix;
use crate::wire::{OAuthError, TokenBody};

/// Where the token endpoint lives, at the origin (not under the API's prefix).
pub(crate) const TOKEN_PATH: &str = "/oauth2/token";

/// The largest form body read; a bigger one is answered 413 without reading the rest.
const MAX_BODY: usize = 64 * 1024;

/// How long an expired token is still told apart from an unknown one (both get a 401; this
/// only chooses the `code`). Older ones are forgotten, so a long-running sandbox that issues
/// many tokens does not grow without bound.
const REMEMBER_EXPIRED: Duration = Duration::from_secs(600);

type Reply = Response<Full<Bytes>>;

/// The client credentials the endpoint accepts, the tokens it issued, and its counters.
pub(crate) struct Issuer {
    /// `(client_id, client_secret)`; `None` turns the endpoint off (every request gets 401).
    client: Option<(String, String)>,
    lifetime: Duration,
    seed: u64,
    ledger: Mutex<Ledger>,
    /// Every request to [`TOKEN_PATH`], answered or not yet.
    pub(crate) requests: AtomicU64,
}

struct Ledger {
    tokens: HashMap<String, Issued>,
    /// How many tokens were issued: the number of the next one.
    issued: u64,
    /// Tokens numbered below this were revoked.
    revoked_below: u64,
    /// Forget long-expired tokens once the map holds this many (amortized O(1) per token).
    prune_at: usize,
}

struct Issued {
    number: u64,
    expires: Instant,
}

/// What an issued token is worth right now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Standing {
    Valid,
    Expired,
    Revoked,
    Unknown,
}

impl Issuer {
    pub(crate) fn new(config: &SandboxConfig) -> Self {
        let set = |s: &Option<String>| s.clone().filter(|s| !s.is_empty());
        Issuer {
            client: set(&config.client_id).zip(set(&config.client_secret)),
            lifetime: config.token_lifetime,
            seed: config.seed,
            ledger: Mutex::new(Ledger {
                tokens: HashMap::new(),
                issued: 0,
                revoked_below: 0,
                prune_at: 1024,
            }),
            requests: AtomicU64::new(0),
        }
    }

    fn ledger(&self) -> std::sync::MutexGuard<'_, Ledger> {
        self.ledger.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Successful token answers so far.
    pub(crate) fn issued(&self) -> u64 {
        self.ledger().issued
    }

    /// Every token issued so far stops working; later ones are not affected.
    pub(crate) fn revoke_all(&self) {
        let mut ledger = self.ledger();
        ledger.revoked_below = ledger.issued;
    }

    /// Whether `token` is one this endpoint issued, and whether it still works.
    pub(crate) fn standing(&self, token: &str) -> Standing {
        let ledger = self.ledger();
        match ledger.tokens.get(token) {
            None => Standing::Unknown,
            Some(t) if t.number < ledger.revoked_below => Standing::Revoked,
            Some(t) if Instant::now() >= t.expires => Standing::Expired,
            Some(_) => Standing::Valid,
        }
    }

    /// A new token, remembered with its expiry. Tokens are 32 hex digits drawn from the seed
    /// and a counter: distinct (the mix is a bijection of the counter), unguessable without
    /// the seed, and the same from run to run for the same seed.
    fn issue(&self) -> String {
        let now = Instant::now();
        let mut ledger = self.ledger();
        let number = ledger.issued;
        ledger.issued += 1;
        let token = format!(
            "{:016x}{:016x}",
            mix(self.seed ^ 0x0a07_70ce_11a5_0001, number),
            mix(self.seed ^ 0x5ec7_e7ba_bb1e_0002, number)
        );
        if ledger.tokens.len() >= ledger.prune_at {
            ledger
                .tokens
                .retain(|_, t| now.saturating_duration_since(t.expires) < REMEMBER_EXPIRED);
            ledger.prune_at = (ledger.tokens.len() * 2).max(1024);
        }
        let expires = now.checked_add(self.lifetime).unwrap_or(now);
        ledger
            .tokens
            .insert(token.clone(), Issued { number, expires });
        token
    }
}

/// An OAuth error answer (RFC 6749 §5.2).
struct Refusal {
    status: StatusCode,
    error: &'static str,
    description: String,
    /// Set when the client tried Basic auth and failed: RFC 6749 asks for a challenge then.
    challenge: bool,
}

impl Refusal {
    fn invalid_request(description: impl Into<String>) -> Self {
        Refusal {
            status: StatusCode::BAD_REQUEST,
            error: "invalid_request",
            description: description.into(),
            challenge: false,
        }
    }

    fn invalid_client(description: impl Into<String>, challenge: bool) -> Self {
        Refusal {
            status: StatusCode::UNAUTHORIZED,
            error: "invalid_client",
            description: description.into(),
            challenge,
        }
    }
}

/// Serves one request to [`TOKEN_PATH`].
pub(crate) async fn token(issuer: &Issuer, request: Request<Incoming>) -> Reply {
    issuer.requests.fetch_add(1, Ordering::Relaxed);
    match grant(issuer, request).await {
        Ok(token) => json(
            StatusCode::OK,
            &TokenBody {
                access_token: &token,
                token_type: "Bearer",
                expires_in: issuer.lifetime.as_secs(),
            },
        ),
        Err(refusal) => {
            let mut reply = json(
                refusal.status,
                &OAuthError {
                    error: refusal.error,
                    error_description: &refusal.description,
                },
            );
            let headers = reply.headers_mut();
            if refusal.status == StatusCode::METHOD_NOT_ALLOWED {
                headers.insert(header::ALLOW, header::HeaderValue::from_static("POST"));
            }
            if refusal.challenge {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    header::HeaderValue::from_static("Basic realm=\"connections-sandbox\""),
                );
            }
            reply
        }
    }
}

/// Checks the request in the order a server can: method, body, form, client, grant.
async fn grant(issuer: &Issuer, request: Request<Incoming>) -> Result<String, Refusal> {
    if request.method() != Method::POST {
        return Err(Refusal {
            status: StatusCode::METHOD_NOT_ALLOWED,
            error: "invalid_request",
            description: format!("{TOKEN_PATH} only accepts POST."),
            challenge: false,
        });
    }
    let too_large = || Refusal {
        status: StatusCode::PAYLOAD_TOO_LARGE,
        error: "invalid_request",
        description: format!("The request body is larger than {MAX_BODY} bytes."),
        challenge: false,
    };
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY as u64) {
        return Err(too_large());
    }
    let form_encoded = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|media| {
            media
                .trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    let basic = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
        .map(|(_, credentials)| basic_credentials(credentials.trim()));
    let body = Limited::new(request.into_body(), MAX_BODY)
        .collect()
        .await
        .map_err(|e| {
            if e.downcast_ref::<LengthLimitError>().is_some() {
                too_large()
            } else {
                Refusal::invalid_request("The request body could not be read.")
            }
        })?
        .to_bytes();
    if !form_encoded {
        return Err(Refusal::invalid_request(
            "The request body must be application/x-www-form-urlencoded.",
        ));
    }
    let form = Form::parse(&body)?;

    let (id, secret, challenge) = match (basic, form.client_id, form.client_secret) {
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
            return Err(Refusal::invalid_request(
                "Send the client credentials either with Basic auth or in the body, not both.",
            ));
        }
        (Some(None), None, None) => {
            return Err(Refusal::invalid_client(
                "The Basic Authorization header is malformed.",
                true,
            ));
        }
        (Some(Some((id, secret))), None, None) => (Some(id), Some(secret), true),
        (None, id, secret) => (id, secret, false),
    };
    let Some((expected_id, expected_secret)) = &issuer.client else {
        return Err(Refusal::invalid_client(
            "The token endpoint is not enabled: the sandbox has no client id and secret.",
            challenge,
        ));
    };
    let (Some(id), Some(secret)) = (id, secret) else {
        return Err(Refusal::invalid_client(
            "Client authentication failed: client_id and client_secret are required.",
            challenge,
        ));
    };
    // Both comparisons always run, each in time that depends only on the expected value.
    let id_ok = equal(id.as_bytes(), expected_id.as_bytes());
    let secret_ok = equal(secret.as_bytes(), expected_secret.as_bytes());
    if !(id_ok & secret_ok) {
        return Err(Refusal::invalid_client(
            "Client authentication failed: unknown client or wrong secret.",
            challenge,
        ));
    }

    match form.grant_type.as_deref() {
        Some("client_credentials") => Ok(issuer.issue()),
        None | Some("") => Err(Refusal::invalid_request(
            "The request is missing the grant_type parameter.",
        )),
        Some(other) => Err(Refusal::invalid_request(format!(
            "grant_type must be client_credentials, got {other:?}."
        ))),
    }
}

/// The parameters of a token request that the sandbox reads.
#[derive(Default)]
struct Form {
    grant_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

impl Form {
    /// Percent-decodes the body (`+` as space); a parameter sent twice is an error
    /// (RFC 6749 §3.2), unknown ones (`scope`, …) are ignored.
    fn parse(body: &[u8]) -> Result<Self, Refusal> {
        let mut form = Form::default();
        for (name, value) in form_urlencoded::parse(body) {
            let slot = match &*name {
                "grant_type" => &mut form.grant_type,
                "client_id" => &mut form.client_id,
                "client_secret" => &mut form.client_secret,
                _ => continue,
            };
            if slot.replace(value.into_owned()).is_some() {
                return Err(Refusal::invalid_request(format!(
                    "The {name} parameter is included more than once."
                )));
            }
        }
        Ok(form)
    }
}

/// `base64(urlencode(id) ":" urlencode(secret))` (RFC 6749 §2.3.1); `None` if malformed.
fn basic_credentials(encoded: &str) -> Option<(String, String)> {
    let decoded = String::from_utf8(base64(encoded)?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let unescape = |s: &str| {
        percent_decode_str(&s.replace('+', " "))
            .decode_utf8()
            .ok()
            .map(|s| s.into_owned())
    };
    Some((unescape(id)?, unescape(secret)?))
}

/// Standard base64 with optional padding; `None` on anything else.
fn base64(text: &str) -> Option<Vec<u8>> {
    let data = text.trim_end_matches('=');
    let padding = text.len() - data.len();
    if padding > 2 || (padding > 0 && !text.len().is_multiple_of(4)) || data.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(data.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in data.bytes() {
        let sextet = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(sextet);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(((acc >> bits) & 0xff) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// Compares in time that depends on `expected`'s length only, not on where they differ.
fn equal(given: &[u8], expected: &[u8]) -> bool {
    let mut diff = u8::from(given.len() != expected.len());
    for (i, e) in expected.iter().enumerate() {
        diff |= e ^ given.get(i).copied().unwrap_or(0);
    }
    std::hint::black_box(diff) == 0
}

/// JSON that must not be cached (RFC 6749 §5.1).
fn json(status: StatusCode, body: &impl Serialize) -> Reply {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let mut reply = Response::new(Full::new(Bytes::from(bytes)));
    *reply.status_mut() = status;
    let headers = reply.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    headers.insert(header::PRAGMA, header::HeaderValue::from_static("no-cache"));
    reply
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_decodes_padded_and_unpadded_and_refuses_junk() {
        assert_eq!(base64("aWQ6c2VjcmV0").as_deref(), Some(&b"id:secret"[..]));
        assert_eq!(base64("YQ==").as_deref(), Some(&b"a"[..]));
        assert_eq!(base64("YQ").as_deref(), Some(&b"a"[..]));
        assert_eq!(base64("YWI=").as_deref(), Some(&b"ab"[..]));
        assert_eq!(base64("").as_deref(), Some(&b""[..]));
        assert_eq!(base64("Y"), None);
        assert_eq!(base64("YQ="), None);
        assert_eq!(base64("Y==="), None);
        assert_eq!(base64("a b="), None);
    }

    #[test]
    fn basic_credentials_are_url_decoded_after_base64() {
        // base64("my+id:s%3Acret") → ("my id", "s:cret")
        assert_eq!(
            basic_credentials("bXkraWQ6cyUzQWNyZXQ="),
            Some(("my id".to_owned(), "s:cret".to_owned()))
        );
        assert_eq!(basic_credentials("bm9jb2xvbg=="), None, "no colon");
    }

    #[test]
    fn equal_compares_whole_values() {
        assert!(equal(b"secret", b"secret"));
        assert!(!equal(b"secreT", b"secret"));
        assert!(!equal(b"secret\0", b"secret"));
        assert!(!equal(b"secre", b"secret"));
        assert!(!equal(b"", b"secret"));
        assert!(equal(b"", b""));
    }

    #[test]
    fn issued_tokens_are_distinct_expire_and_revoke() {
        let issuer = Issuer::new(&SandboxConfig {
            client_id: Some("id".to_owned()),
            client_secret: Some("secret".to_owned()),
            token_lifetime: Duration::from_secs(3600),
            ..SandboxConfig::default()
        });
        let tokens: Vec<String> = (0..100).map(|_| issuer.issue()).collect();
        let distinct: std::collections::HashSet<&String> = tokens.iter().collect();
        assert_eq!(distinct.len(), 100);
        assert!(tokens.iter().all(|t| t.len() == 32));
        assert_eq!(issuer.standing(&tokens[0]), Standing::Valid);
        assert_eq!(issuer.standing("nope"), Standing::Unknown);
        issuer.revoke_all();
        assert_eq!(issuer.standing(&tokens[99]), Standing::Revoked);
        let later = issuer.issue();
        assert_eq!(issuer.standing(&later), Standing::Valid);
        assert_eq!(issuer.issued(), 101);

        let instant = Issuer::new(&SandboxConfig {
            token_lifetime: Duration::ZERO,
            ..SandboxConfig::default()
        });
        let token = instant.issue();
        assert_eq!(instant.standing(&token), Standing::Expired);
    }

    #[test]
    fn empty_credentials_leave_the_endpoint_off() {
        let issuer = Issuer::new(&SandboxConfig {
            client_id: Some("id".to_owned()),
            client_secret: Some(String::new()),
            ..SandboxConfig::default()
        });
        assert!(issuer.client.is_none());
    }
}
