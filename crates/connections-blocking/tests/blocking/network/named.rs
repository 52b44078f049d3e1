//! An HTTPS server reached under a name of this machine that is not loopback's, so a client
//! sends its requests through a proxy: `localhost` and `127.0.0.0/8` never use one, and the
//! testkit's servers (and the sandbox) listen on `127.0.0.1` with certificates for loopback
//! names only.
//!
//! The name is this machine's own address (the one a UDP socket would send from: nothing is
//! sent) or else its host name if that resolves; the server listens on every interface, with a
//! fresh self-signed certificate for that name. [`TestProxy`](connections_testkit::TestProxy)
//! reaches it like any host: it resolves the `CONNECT` target itself. No internet needed; a
//! machine with no name but loopback's has no such server (tests using it say so and pass).

use std::io::{self, Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use connections_testkit::{Links, page_body};

/// A request head as the server decrypted it.
#[derive(Clone, Debug)]
pub(crate) struct Head {
    /// `GET /v3/connections?...`.
    pub(crate) line: String,
    /// Names lowercased.
    pub(crate) headers: Vec<(String, String)>,
}

impl Head {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

struct Shared {
    requests: Mutex<Vec<Head>>,
    connections: AtomicUsize,
    stop: AtomicBool,
    open: Mutex<Vec<TcpStream>>,
}

/// The server; dropping it stops it.
pub(crate) struct NamedServer {
    /// The host as written in URLs and `CONNECT`s: a name, or an IPv4 address.
    host: String,
    port: u16,
    certificate_der: Vec<u8>,
    certificate_pem: String,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

impl NamedServer {
    /// Answers every request with one page of three connections, keeping connections open.
    /// `None` (with a note on stderr) when this machine has no name but loopback's.
    pub(crate) fn start() -> Option<NamedServer> {
        let Some(host) = machine_name() else {
            eprintln!("note: this machine has no non-loopback name; the proxied test is skipped");
            return None;
        };
        let certified = rcgen::generate_simple_self_signed(vec![host.clone()]).unwrap();
        let der = certified.cert.der().to_vec();
        let key =
            rustls::pki_types::PrivateKeyDer::Pkcs8(certified.signing_key.serialize_der().into());
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![der.clone().into()], key)
        .unwrap();
        let config = Arc::new(config);
        let listener = TcpListener::bind("0.0.0.0:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let shared = Arc::new(Shared {
            requests: Mutex::new(Vec::new()),
            connections: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
            open: Mutex::new(Vec::new()),
        });
        let accept = {
            let shared = shared.clone();
            thread::spawn(move || {
                for stream in listener.incoming() {
                    if shared.stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    shared.connections.fetch_add(1, Ordering::SeqCst);
                    if let Ok(clone) = stream.try_clone() {
                        shared.open.lock().unwrap().push(clone);
                    }
                    let (shared, config) = (shared.clone(), config.clone());
                    thread::spawn(move || {
                        let _ = serve(stream, config, &shared);
                    });
                }
            })
        };
        Some(NamedServer {
            host,
            port,
            certificate_der: der,
            certificate_pem: certified.cert.pem(),
            shared,
            accept: Some(accept),
        })
    }

    /// `https://{name}:{port}/v3`.
    pub(crate) fn base_url(&self) -> String {
        format!("https://{}/v3", self.authority())
    }

    /// `{name}:{port}`, as a `CONNECT` names it.
    pub(crate) fn authority(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    /// The host alone, for `NO_PROXY`.
    pub(crate) fn host(&self) -> &str {
        &self.host
    }

    pub(crate) fn certificate_der(&self) -> &[u8] {
        &self.certificate_der
    }

    pub(crate) fn certificate_pem(&self) -> &str {
        &self.certificate_pem
    }

    /// Every request that arrived (decrypted), in order.
    pub(crate) fn requests(&self) -> Vec<Head> {
        self.shared.requests.lock().unwrap().clone()
    }

    /// TCP connections accepted, whether their handshake succeeded or not.
    pub(crate) fn connections(&self) -> usize {
        self.shared.connections.load(Ordering::SeqCst)
    }
}

impl Drop for NamedServer {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        for stream in self.shared.open.lock().unwrap().iter() {
            let _ = stream.shutdown(Shutdown::Both);
        }
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
    }
}

/// A name of this machine that is not loopback's and that reaches a server listening on
/// `0.0.0.0`: its own IPv4 address, else its host name if that resolves to IPv4.
fn machine_name() -> Option<String> {
    let own_address = ["192.0.2.1:9", "10.255.255.254:9", "172.31.255.254:9"]
        .iter()
        .find_map(|probe| {
            // `connect` on UDP only picks the route and the address to send from.
            let socket = UdpSocket::bind("0.0.0.0:0").ok()?;
            socket.connect(probe).ok()?;
            let ip = socket.local_addr().ok()?.ip();
            (!ip.is_loopback() && !ip.is_unspecified()).then(|| ip.to_string())
        });
    own_address.or_else(|| {
        let name = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .or_else(|_| std::fs::read_to_string("/etc/hostname"))
            .ok()?;
        let name = name.trim().to_ascii_lowercase();
        let loopback = name == "localhost" || name.parse::<IpAddr>().is_ok();
        let resolves = (name.as_str(), 443)
            .to_socket_addrs()
            .is_ok_and(|mut addrs| addrs.any(|a: SocketAddr| a.is_ipv4()));
        (!name.is_empty() && !loopback && resolves).then_some(name)
    })
}

/// Serves one connection: requests one after another, each answered with the same page.
fn serve(stream: TcpStream, config: Arc<rustls::ServerConfig>, shared: &Shared) -> io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let connection = rustls::ServerConnection::new(config).map_err(io::Error::other)?;
    let mut tls = rustls::StreamOwned::new(connection, stream);
    let mut buf = Vec::new();
    loop {
        let end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let mut chunk = [0; 4096];
            match tls.read(&mut chunk)? {
                0 => return Ok(()),
                n => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buf[..end]).into_owned();
        buf.drain(..end);
        let mut lines = head.lines();
        let line = lines.next().unwrap_or("").to_owned();
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        shared.requests.lock().unwrap().push(Head { line, headers });
        let body = page_body(3, 1, 10, Links::Relative, "");
        write!(
            tls,
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
             sc-request-id: req-named\r\n\r\n{body}",
            body.len()
        )?;
        tls.flush()?;
    }
}
