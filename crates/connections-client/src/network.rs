//! What a real network asks of both transports, decided once: which proxy a destination goes
//! through (curl's environment variables, read by hyper-util's matcher), which certificate
//! authorities are trusted, and how a gzip body is inflated without passing the body limit.

use std::fmt;
use std::io::Read;
use std::sync::Arc;

use connections_core::{BaseUrl, is_loopback_host};
use hyper_util::client::proxy::matcher::Matcher;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

use crate::{BoxError, ConfigError, Error};

/// Where proxies come from, as the builder holds it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) enum ProxySetting {
    /// `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY` and `NO_PROXY`, upper or lower case.
    #[default]
    Environment,
    /// This proxy for every destination but those in `NO_PROXY`.
    Url(String),
    /// No proxy at all.
    Off,
}

impl fmt::Display for ProxySetting {
    /// The setting, with any credentials in a proxy URL left out.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProxySetting::Environment => f.write_str("from the environment"),
            ProxySetting::Off => f.write_str("off"),
            ProxySetting::Url(url) => match url.split_once("://") {
                Some((scheme, rest)) => {
                    let host = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
                    write!(f, "{scheme}://{host}")
                }
                None => f.write_str("[unreadable proxy URL]"),
            },
        }
    }
}

/// The proxies a client uses: loopback destinations never go through one. Cheap to clone.
#[derive(Clone)]
pub struct Proxies {
    matcher: Option<Arc<Matcher>>,
}

impl Proxies {
    /// Reads the setting (the environment once, at build), and refuses a proxy URL the
    /// transports cannot use for `destinations`.
    pub(crate) fn new(
        setting: &ProxySetting,
        destinations: &[&BaseUrl<'_>],
    ) -> Result<Self, ConfigError> {
        let matcher = match setting {
            ProxySetting::Off => None,
            ProxySetting::Environment => Some(Matcher::from_env()),
            ProxySetting::Url(url) => {
                let no_proxy = ["NO_PROXY", "no_proxy"]
                    .iter()
                    .find_map(|name| std::env::var(name).ok())
                    .unwrap_or_default();
                let matcher = Matcher::builder().all(url.clone()).no(no_proxy).build();
                // A URL the matcher cannot read would silently mean "no proxy".
                let probe = http::Uri::from_static("https://proxy-probe.invalid/");
                if matcher.intercept(&probe).is_none() {
                    return Err(ConfigError::Proxy(ProxyProblem::Unreadable));
                }
                Some(matcher)
            }
        };
        let matcher = matcher.map(Arc::new);
        let proxies = Proxies { matcher };
        let unusable = destinations
            .iter()
            .filter_map(|destination| proxies.for_base(destination))
            .any(|proxy| proxy.uri.scheme_str() != Some("http"));
        if unusable {
            return Err(ConfigError::Proxy(ProxyProblem::Scheme));
        }
        Ok(proxies)
    }

    /// The proxy for requests to `uri`, or `None` to connect directly.
    pub fn for_uri(&self, uri: &http::Uri) -> Option<Proxy> {
        let host = uri.host()?;
        // Never proxied, so a local server's token stays on the machine.
        if is_loopback_host(host) {
            return None;
        }
        let intercept = self.matcher.as_ref()?.intercept(uri)?;
        Some(Proxy {
            uri: intercept.uri().clone(),
            authorization: intercept.basic_auth().cloned(),
        })
    }

    /// The proxy for requests to `base`'s origin.
    pub fn for_base(&self, base: &BaseUrl<'_>) -> Option<Proxy> {
        let mut origin = String::new();
        base.write_origin(&mut origin).ok()?;
        self.for_uri(&origin.parse().ok()?)
    }
}

impl fmt::Debug for Proxies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The matcher's own Debug leaves credentials out.
        f.debug_struct("Proxies")
            .field("matcher", &self.matcher)
            .finish()
    }
}

/// One proxy: where to connect, and the `Proxy-Authorization` from the URL's credentials.
#[derive(Clone)]
pub struct Proxy {
    uri: http::Uri,
    authorization: Option<http::HeaderValue>,
}

impl Proxy {
    /// `http://host:port/`, without credentials.
    pub fn uri(&self) -> &http::Uri {
        &self.uri
    }

    /// `Basic …` for `Proxy-Authorization`, marked sensitive.
    pub fn authorization(&self) -> Option<&http::HeaderValue> {
        self.authorization.as_ref()
    }
}

impl fmt::Display for Proxy {
    /// `host:port`, never the credentials.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.uri.authority() {
            Some(authority) => write!(
                f,
                "{}://{authority}",
                self.uri.scheme_str().unwrap_or("http")
            ),
            None => f.write_str("the proxy"),
        }
    }
}

impl fmt::Debug for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Proxy")
            .field("uri", &self.uri)
            .field(
                "authorization",
                &self.authorization.as_ref().map(|_| "[redacted]"),
            )
            .finish()
    }
}

/// Why a proxy setting was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProxyProblem {
    /// Not a URL such as `http://proxy.example.com:3128`.
    Unreadable,
    /// Not a plain `http://` proxy (HTTPS and SOCKS proxies are not supported; the tunnel
    /// through an `http://` proxy is TLS end to end anyway).
    Scheme,
}

impl fmt::Display for ProxyProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ProxyProblem::Unreadable => {
                "the proxy URL is not readable: write it like http://proxy.example.com:3128 \
                 (credentials as http://user:password@host:port)"
            }
            ProxyProblem::Scheme => {
                "only http:// proxies are supported (HTTPS_PROXY, HTTP_PROXY or ALL_PROXY \
                 names another kind): requests to the API still travel TLS-encrypted through \
                 the proxy's CONNECT tunnel"
            }
        })
    }
}

/// Reads every certificate in PEM text (`-----BEGIN CERTIFICATE-----`), for a private
/// certificate authority; other PEM sections are skipped.
pub(crate) fn certificates_from_pem(pem: &[u8]) -> Result<Vec<Vec<u8>>, ConfigError> {
    let mut found = Vec::new();
    for certificate in CertificateDer::pem_slice_iter(pem) {
        match certificate {
            Ok(der) => found.push(der.as_ref().to_vec()),
            Err(e) => return Err(ConfigError::CaCertificate(e.to_string())),
        }
    }
    if found.is_empty() {
        return Err(ConfigError::CaCertificate(
            "no -----BEGIN CERTIFICATE----- section found".to_owned(),
        ));
    }
    Ok(found)
}

/// The TLS crypto provider of both transports: aws-lc-rs, which rustls recommends, with
/// post-quantum key exchange (X25519MLKEM768) offered first. One provider, chosen here, so the
/// two transports never negotiate differently.
pub fn crypto_provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// The operating system's trusted certificate authorities, DER-encoded; what cannot be read
/// is skipped (and logged at debug), since the bundled roots remain.
pub fn system_root_certificates() -> Vec<CertificateDer<'static>> {
    let found = rustls_native_certs::load_native_certs();
    for error in &found.errors {
        tracing::debug!(target: "connections", %error, "skipped part of the system trust store");
    }
    found.certs
}

/// The `Accept-Encoding` both transports send: gzip only, which [`decoded_body`] inflates.
pub const ACCEPT_ENCODING: &str = "gzip";

/// The body as the server meant it: inflated if it came gzip-encoded, and never more than
/// `limit` bytes once inflated (a small body that inflates to gigabytes is refused while
/// inflating, with memory bounded by `limit`). The `Content-Encoding` and `Content-Length`
/// headers are removed once the body is decoded.
pub fn decoded_body(
    head: &mut http::response::Parts,
    body: Vec<u8>,
    limit: usize,
) -> Result<Vec<u8>, Error> {
    let Some(encoding) = head.headers.get(http::header::CONTENT_ENCODING) else {
        return Ok(body);
    };
    let encoding = encoding.to_str().unwrap_or("").trim().to_ascii_lowercase();
    if encoding.is_empty() || encoding == "identity" {
        return Ok(body);
    }
    if encoding != "gzip" && encoding != "x-gzip" {
        return Err(Error::ContentEncoding(
            format!("the server sent a body encoded as {encoding:?}, which was not asked for")
                .into(),
        ));
    }
    let mut inflated = Vec::with_capacity(body.len().saturating_mul(4).min(limit));
    let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    flate2::read::MultiGzDecoder::new(body.as_slice())
        .take(cap)
        .read_to_end(&mut inflated)
        .map_err(|e| Error::ContentEncoding(Box::new(e) as BoxError))?;
    if inflated.len() > limit {
        return Err(Error::BodyTooLarge { limit });
    }
    head.headers.remove(http::header::CONTENT_ENCODING);
    head.headers.remove(http::header::CONTENT_LENGTH);
    Ok(inflated)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// Both transports offer post-quantum key exchange first (ring's provider has none).
    #[test]
    fn the_crypto_provider_offers_post_quantum_key_exchange_first() {
        let provider = crypto_provider();
        let groups: Vec<_> = provider.kx_groups.iter().map(|g| g.name()).collect();
        assert_eq!(
            groups.first(),
            Some(&rustls::NamedGroup::X25519MLKEM768),
            "{groups:?}"
        );
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(data).unwrap_or_else(|e| panic!("{e}"));
        encoder.finish().unwrap_or_else(|e| panic!("{e}"))
    }

    fn head(encoding: Option<&str>) -> http::response::Parts {
        let mut builder = http::Response::builder().status(200);
        if let Some(encoding) = encoding {
            builder = builder.header("content-encoding", encoding);
        }
        builder
            .body(())
            .unwrap_or_else(|e| panic!("{e}"))
            .into_parts()
            .0
    }

    #[test]
    fn gzip_bodies_are_inflated_within_the_limit() {
        let json = br#"{"data":[],"links":{"next":null}}"#.repeat(100);
        let mut parts = head(Some("gzip"));
        let body = decoded_body(&mut parts, gzip(&json), json.len());
        assert_eq!(body.ok(), Some(json.clone()));
        assert!(parts.headers.get("content-encoding").is_none());

        let mut parts = head(Some("gzip"));
        let too_big = decoded_body(&mut parts, gzip(&json), json.len() - 1);
        assert!(matches!(too_big, Err(Error::BodyTooLarge { .. })));

        let mut parts = head(None);
        assert_eq!(decoded_body(&mut parts, json.clone(), 10).ok(), Some(json));
    }

    #[test]
    fn a_gzip_bomb_stops_at_the_limit() {
        // 64 MiB of zeros compress to about 64 KiB.
        let bomb = {
            let mut encoder =
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
            let zeros = vec![0u8; 1 << 20];
            for _ in 0..64 {
                encoder.write_all(&zeros).unwrap_or_else(|e| panic!("{e}"));
            }
            encoder.finish().unwrap_or_else(|e| panic!("{e}"))
        };
        assert!(bomb.len() < 1 << 20);
        let mut parts = head(Some("gzip"));
        let refused = decoded_body(&mut parts, bomb, 8 << 20);
        assert!(matches!(refused, Err(Error::BodyTooLarge { limit }) if limit == 8 << 20));
    }

    #[test]
    fn corrupt_or_unasked_encodings_are_errors() {
        let mut parts = head(Some("gzip"));
        let corrupt = decoded_body(&mut parts, b"not gzip at all".to_vec(), 100);
        assert!(matches!(corrupt, Err(Error::ContentEncoding(_))));
        let mut parts = head(Some("br"));
        let brotli = decoded_body(&mut parts, b"x".to_vec(), 100);
        assert!(matches!(brotli, Err(Error::ContentEncoding(_))));
    }

    #[test]
    fn loopback_destinations_never_use_a_proxy() {
        let setting = ProxySetting::Url("http://user:pass@proxy.example.com:3128".into());
        let proxies = Proxies::new(&setting, &[]).unwrap_or_else(|e| panic!("{e}"));
        for local in [
            "https://localhost:8443/v3",
            "https://127.0.0.1/v3",
            "https://[::1]:8443/",
        ] {
            assert!(
                proxies
                    .for_uri(&local.parse().unwrap_or_else(|e| panic!("{e}")))
                    .is_none(),
                "{local}"
            );
        }
        let remote = proxies
            .for_uri(
                &"https://vehicle.api.smartcar.com/v3"
                    .parse()
                    .unwrap_or_else(|e| panic!("{e}")),
            )
            .unwrap_or_else(|| panic!("a remote host goes through the proxy"));
        assert_eq!(remote.to_string(), "http://proxy.example.com:3128");
        assert!(remote.authorization().is_some_and(|a| a.is_sensitive()));
        assert!(!format!("{remote:?} {proxies:?}").contains("pass"));
        let off = Proxies::new(&ProxySetting::Off, &[]).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            off.for_uri(
                &"https://vehicle.api.smartcar.com/"
                    .parse()
                    .unwrap_or_else(|e| panic!("{e}"))
            )
            .is_none()
        );
    }

    #[test]
    fn unusable_proxy_urls_are_configuration_errors() {
        let base = BaseUrl::SMARTCAR;
        let socks = ProxySetting::Url("socks5://proxy.example.com:1080".into());
        assert!(matches!(
            Proxies::new(&socks, &[&base]),
            Err(ConfigError::Proxy(ProxyProblem::Scheme))
        ));
        let garbage = ProxySetting::Url("not a url at all".into());
        assert!(matches!(
            Proxies::new(&garbage, &[&base]),
            Err(ConfigError::Proxy(ProxyProblem::Unreadable))
        ));
    }

    #[test]
    fn pem_certificates_are_read_and_garbage_is_refused() {
        let pem = "-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n\
                   -----BEGIN PRIVATE KEY-----\nMAA=\n-----END PRIVATE KEY-----\n\
                   -----BEGIN CERTIFICATE-----\nMAE=\n-----END CERTIFICATE-----\n";
        let found = certificates_from_pem(pem.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(found, vec![vec![0x30, 0x00], vec![0x30, 0x01]]);
        assert!(matches!(
            certificates_from_pem(b"hello"),
            Err(ConfigError::CaCertificate(_))
        ));
    }
}
