//! The TLS mode's certificates, made fresh at every spawn, and its rustls configuration.

use std::io;
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::ServerConfig;
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use time::{Duration, OffsetDateTime};

/// The names the server certificate is valid for. `sandbox.test` is for clients that reach
/// it through a test proxy resolving `.test` names to 127.0.0.1, since loopback names are
/// never proxied.
const NAMES: [&str; 4] = ["localhost", "127.0.0.1", "::1", "sandbox.test"];

/// A CA made for one sandbox, and the server configuration its certificate goes in.
pub(crate) struct Tls {
    /// The CA certificate in PEM, for a client's trust store.
    pub(crate) ca_pem: String,
    pub(crate) config: Arc<ServerConfig>,
}

impl Tls {
    /// A self-signed CA and a server certificate it signs for [`NAMES`] (ECDSA P-256, both
    /// keys new), served with ALPN `h2` and `http/1.1`, on the `ring` provider.
    pub(crate) fn generate() -> io::Result<Tls> {
        let ca_key = KeyPair::generate().map_err(io::Error::other)?;
        let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(io::Error::other)?;
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        // A name of its own (from its new key): verifiers pick issuers by name, so with one
        // shared name a client trusting another sandbox's CA would see a bad signature
        // instead of an unknown issuer.
        let tag: String = ca_key
            .public_key_raw()
            .iter()
            .rev()
            .take(6)
            .map(|b| format!("{b:02x}"))
            .collect();
        ca.distinguished_name.push(
            DnType::CommonName,
            format!("connections-sandbox test CA {tag}"),
        );
        // rcgen's default validity runs from 1975 to 4096; some verifiers (Apple's) refuse a
        // server certificate valid for longer than 398 days, so both get dates of their own.
        let now = OffsetDateTime::now_utc();
        ca.not_before = now - Duration::days(1);
        ca.not_after = now + Duration::days(3650);
        ca.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_cert = ca.self_signed(&ca_key).map_err(io::Error::other)?;
        let issuer = Issuer::new(ca, ca_key);

        let names: Vec<String> = NAMES.iter().map(|&n| n.to_owned()).collect();
        let mut leaf = CertificateParams::new(names).map_err(io::Error::other)?;
        leaf.distinguished_name
            .push(DnType::CommonName, "connections-sandbox");
        leaf.use_authority_key_identifier_extension = true;
        leaf.not_before = now - Duration::days(1);
        leaf.not_after = now + Duration::days(365);
        leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let leaf_key = KeyPair::generate().map_err(io::Error::other)?;
        let leaf_cert = leaf
            .signed_by(&leaf_key, &issuer)
            .map_err(io::Error::other)?;

        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(io::Error::other)?
            .with_no_client_auth()
            .with_single_cert(
                vec![leaf_cert.der().clone(), ca_cert.der().clone()],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der())),
            )
            .map_err(io::Error::other)?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Tls {
            ca_pem: ca_cert.pem(),
            config: Arc::new(config),
        })
    }
}
