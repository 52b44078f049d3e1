//! A forward proxy on loopback, to check what a proxy gets to see of the client's traffic.
//!
//! An HTTPS request through a proxy should show the proxy nothing but `CONNECT host:port` and
//! the proxy's own headers (`Proxy-Authorization`, `User-Agent`, ...): the path, the query and
//! the `Authorization` header travel inside the tunnel, encrypted. Destinations the client is
//! told to reach directly (`NO_PROXY`, and loopback where a transport skips the proxy for it)
//! must not reach the proxy at all: [`TestProxy::connections`] stays at zero.
//!
//! [`TestProxy`] answers `CONNECT` by opening a TCP connection to the target and copying bytes
//! both ways; it can ask for credentials ([`TestProxy::with_credentials`]) or refuse every
//! tunnel ([`TestProxy::refusing`]). A plain request (`GET http://host/path`) is recorded and
//! answered `502`: clients should only ever tunnel through it.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// How long a client may take to send its request head.
const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest request head read.
const MAX_HEAD: usize = 64 * 1024;
/// How long connecting to a tunnel's target may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long to wait for the client to close after an error answer.
const LINGER: Duration = Duration::from_millis(500);

/// A request as the proxy received it: a `CONNECT`, or a plain request it refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProxyRequest {
    /// `CONNECT`, or `GET`, ... for a plain request.
    pub method: String,
    /// `host:port` for a `CONNECT`; the absolute URL (or whatever was sent) otherwise.
    pub target: String,
    /// Headers, names lowercased.
    pub headers: Vec<(String, String)>,
}

impl ProxyRequest {
    /// The first header called `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// What the proxy checks before opening a tunnel.
#[derive(Default)]
struct Policy {
    /// `user` and `pass`, expected as `Proxy-Authorization: Basic base64(user:pass)`.
    credentials: Option<(String, String)>,
    /// The status every `CONNECT` gets instead of a tunnel.
    refuse: Option<u16>,
}

struct Shared {
    /// The `Proxy-Authorization` token expected, if any: base64 of `user:pass`.
    expected_token: Option<String>,
    refuse: Option<u16>,
    requests: Mutex<Vec<ProxyRequest>>,
    connections: AtomicUsize,
    /// Bytes copied client → target and target → client.
    up: AtomicU64,
    down: AtomicU64,
    stop: AtomicBool,
    /// Every socket in use, so dropping the proxy can shut them down and unblock their threads.
    open: Mutex<HashMap<u64, TcpStream>>,
    next_id: AtomicU64,
    workers: Mutex<Vec<JoinHandle<()>>>,
}

impl Shared {
    /// Keeps a handle on `stream` until the returned guard drops, or shuts it down at once if
    /// the proxy is stopping.
    fn register(self: &Arc<Self>, stream: &TcpStream) -> Registered {
        let id = self.next_id.fetch_add(1, Ordering::SeqCst);
        let mut open = self.open.lock().unwrap();
        // Checked under the lock `Drop` takes after setting `stop`: either `Drop` sees this
        // socket, or this sees `stop`.
        if self.stop.load(Ordering::SeqCst) {
            let _ = stream.shutdown(Shutdown::Both);
        }
        if let Ok(clone) = stream.try_clone() {
            open.insert(id, clone);
        }
        Registered {
            shared: self.clone(),
            id,
        }
    }
}

/// Removes a socket from [`Shared::open`]; the clone kept there would hold it open otherwise.
struct Registered {
    shared: Arc<Shared>,
    id: u64,
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.shared.open.lock().unwrap().remove(&self.id);
    }
}

/// A running forward proxy on `127.0.0.1`; dropping it stops it, open tunnels included.
///
/// ```no_run
/// use connections_testkit::{TestProxy, TestServer, Reply};
///
/// let server = TestServer::start_tls(|_| Reply::json(200, "{}"));
/// let proxy = TestProxy::start();
/// // Loopback names are never proxied: reach the server as `api.test`, which the proxy
/// // resolves to 127.0.0.1.
/// let base = format!("https://api.test:{}/v3", server.addr().port());
/// // ... point the client at `base` through proxy.url(), then:
/// let seen = proxy.connects();
/// assert_eq!(seen[0].target, format!("api.test:{}", server.addr().port()));
/// ```
pub struct TestProxy {
    addr: SocketAddr,
    credentials: Option<(String, String)>,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

impl TestProxy {
    /// A proxy that tunnels every `CONNECT` without asking for credentials.
    pub fn start() -> Self {
        Self::spawn(Policy::default())
    }

    /// A proxy that tunnels only a `CONNECT` carrying `Proxy-Authorization: Basic` with
    /// `user:pass`, and answers any other `407 Proxy Authentication Required` with
    /// `Proxy-Authenticate: Basic realm="test"`.
    pub fn with_credentials(user: &str, pass: &str) -> Self {
        Self::spawn(Policy {
            credentials: Some((user.to_owned(), pass.to_owned())),
            ..Policy::default()
        })
    }

    /// A proxy that answers every `CONNECT` with `status` (e.g. `403`) and closes.
    pub fn refusing(status: u16) -> Self {
        Self::spawn(Policy {
            refuse: Some(status),
            ..Policy::default()
        })
    }

    fn spawn(policy: Policy) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared {
            expected_token: policy
                .credentials
                .as_ref()
                .map(|(user, pass)| base64(format!("{user}:{pass}").as_bytes())),
            refuse: policy.refuse,
            requests: Mutex::new(Vec::new()),
            connections: AtomicUsize::new(0),
            up: AtomicU64::new(0),
            down: AtomicU64::new(0),
            stop: AtomicBool::new(false),
            open: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(0),
            workers: Mutex::new(Vec::new()),
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
                    let worker = {
                        let shared = shared.clone();
                        thread::spawn(move || {
                            let registered = shared.register(&stream);
                            let _ = handle(stream, &shared);
                            drop(registered);
                        })
                    };
                    let mut workers = shared.workers.lock().unwrap();
                    workers.retain(|w| !w.is_finished());
                    workers.push(worker);
                }
            })
        };
        TestProxy {
            addr,
            credentials: policy.credentials,
            shared,
            accept: Some(accept),
        }
    }

    /// `127.0.0.1:port`.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The proxy URL to configure: `http://127.0.0.1:port`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `http://user:pass@127.0.0.1:port` (user and pass percent-encoded) for a proxy made by
    /// [`with_credentials`](Self::with_credentials); `None` otherwise.
    pub fn url_with_credentials(&self) -> Option<String> {
        self.credentials.as_ref().map(|(user, pass)| {
            format!(
                "http://{}:{}@{}",
                percent_encode(user),
                percent_encode(pass),
                self.addr
            )
        })
    }

    /// Every request head received so far, in order of arrival: the `CONNECT`s, whatever they
    /// were answered, and any plain request (answered `502`). Never anything sent inside a
    /// tunnel.
    pub fn connects(&self) -> Vec<ProxyRequest> {
        self.shared.requests.lock().unwrap().clone()
    }

    /// How many TCP connections the proxy accepted.
    pub fn connections(&self) -> usize {
        self.shared.connections.load(Ordering::SeqCst)
    }

    /// Bytes copied through tunnels so far: (client → target, target → client).
    pub fn tunneled_bytes(&self) -> (u64, u64) {
        (
            self.shared.up.load(Ordering::SeqCst),
            self.shared.down.load(Ordering::SeqCst),
        )
    }
}

impl Drop for TestProxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Unblock every thread reading a head or relaying a tunnel.
        for stream in self.shared.open.lock().unwrap().values() {
            let _ = stream.shutdown(Shutdown::Both);
        }
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.addr);
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
        let workers = std::mem::take(&mut *self.shared.workers.lock().unwrap());
        for worker in workers {
            let _ = worker.join();
        }
    }
}

/// Serves one client connection: reads one request head, then tunnels or answers and closes.
fn handle(mut client: TcpStream, shared: &Arc<Shared>) -> io::Result<()> {
    client.set_read_timeout(Some(HEAD_TIMEOUT))?;
    let Some((request, early)) = read_head(&mut client)? else {
        return Ok(());
    };
    shared.requests.lock().unwrap().push(request.clone());
    if !request.method.eq_ignore_ascii_case("CONNECT") {
        return refuse(client, 502, "");
    }
    if let Some(expected) = &shared.expected_token {
        let presented = request.header("proxy-authorization").and_then(|value| {
            let (scheme, token) = value.split_once(' ')?;
            scheme.eq_ignore_ascii_case("basic").then(|| token.trim())
        });
        if presented != Some(expected.as_str()) {
            return refuse(client, 407, "proxy-authenticate: Basic realm=\"test\"\r\n");
        }
    }
    if let Some(status) = shared.refuse {
        return refuse(client, status, "");
    }
    let Some(upstream) = connect(&request.target) else {
        return refuse(client, 502, "");
    };
    let registered = shared.register(&upstream);
    client.set_read_timeout(None)?;
    client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")?;
    tunnel(client, upstream, &early, shared);
    drop(registered);
    Ok(())
}

/// Connects to `host:port`, trying each address it resolves to. Names under `.test` (a
/// top-level domain reserved for testing, RFC 2606) resolve to 127.0.0.1 here, as a proxy does
/// the DNS for its tunnels: a client can then reach a local server under a name that is not
/// loopback, which it would never send through a proxy.
fn connect(target: &str) -> Option<TcpStream> {
    // A CONNECT target is `host:port`, never a URL.
    if target.contains('/') {
        return None;
    }
    let (host, port) = target.rsplit_once(':')?;
    if host.to_ascii_lowercase().ends_with(".test") {
        let addr = SocketAddr::from(([127, 0, 0, 1], port.parse().ok()?));
        return TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT).ok();
    }
    let addrs = target.to_socket_addrs().ok()?;
    addrs
        .into_iter()
        .find_map(|addr| TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT).ok())
}

/// Copies bytes both ways until either side closes, then closes both (RFC 9110, 9.3.6).
/// `early` is what the client sent after its `CONNECT` head before being answered.
fn tunnel(client: TcpStream, upstream: TcpStream, early: &[u8], shared: &Arc<Shared>) {
    let (Ok(client_reader), Ok(upstream_writer)) = (client.try_clone(), upstream.try_clone())
    else {
        let _ = client.shutdown(Shutdown::Both);
        let _ = upstream.shutdown(Shutdown::Both);
        return;
    };
    let down = {
        let shared = shared.clone();
        thread::spawn(move || relay(upstream, client, &shared.down))
    };
    let mut upstream_writer = upstream_writer;
    shared.up.fetch_add(early.len() as u64, Ordering::SeqCst);
    if upstream_writer.write_all(early).is_ok() {
        relay(client_reader, upstream_writer, &shared.up);
    } else {
        let _ = client_reader.shutdown(Shutdown::Both);
        let _ = upstream_writer.shutdown(Shutdown::Both);
    }
    let _ = down.join();
}

/// Copies `from` into `to` until `from` ends or either fails, counting what it reads;
/// then shuts both down, which ends the copy the other way too.
fn relay(mut from: TcpStream, mut to: TcpStream, count: &AtomicU64) {
    let mut buf = [0; 16 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                // Counted before writing, so it shows by the time the other side has it.
                count.fetch_add(n as u64, Ordering::SeqCst);
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    let _ = to.shutdown(Shutdown::Both);
    let _ = from.shutdown(Shutdown::Both);
}

/// Answers `status` with no body and closes, after giving the client a moment to read the
/// answer and close first (closing with unread input would reset the connection).
fn refuse(mut client: TcpStream, status: u16, extra_headers: &str) -> io::Result<()> {
    let reason = super::reason(status);
    write!(
        client,
        "HTTP/1.1 {status} {reason}\r\n{extra_headers}content-length: 0\r\nconnection: close\r\n\r\n"
    )?;
    client.flush()?;
    client.shutdown(Shutdown::Write)?;
    client.set_read_timeout(Some(LINGER))?;
    let mut sink = [0; 4096];
    while matches!(client.read(&mut sink), Ok(n) if n > 0) {}
    Ok(())
}

/// Reads a request head; `None` if the client closed (or sent too much) before its end.
/// Also returns any bytes that followed the head.
fn read_head(stream: &mut TcpStream) -> io::Result<Option<(ProxyRequest, Vec<u8>)>> {
    let mut buf = Vec::new();
    let mut chunk = [0; 4096];
    let end = loop {
        if let Some(end) = head_end(&buf) {
            break end;
        }
        if buf.len() > MAX_HEAD {
            return Ok(None);
        }
        match stream.read(&mut chunk) {
            Ok(0) => return Ok(None),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    };
    let head = String::from_utf8_lossy(&buf[..end]);
    let mut lines = head.lines();
    let mut parts = lines.next().unwrap_or("").split_whitespace();
    let method = parts.next().unwrap_or("").to_owned();
    let target = parts.next().unwrap_or("").to_owned();
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    let request = ProxyRequest {
        method,
        target,
        headers,
    };
    Ok(Some((request, buf[end..].to_vec())))
}

/// The length of the head (blank line included), once `buf` holds all of it.
fn head_end(buf: &[u8]) -> Option<usize> {
    let crlf = buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4);
    let lf = buf.windows(2).position(|w| w == b"\n\n").map(|i| i + 2);
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Standard base64, padded.
fn base64(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Percent-encodes everything but the unreserved characters, for a URL's userinfo.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for byte in s.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Reply, TestServer};

    /// Sends `head` to the proxy and reads its answer head; the stream is left after it.
    fn ask(proxy: &TestProxy, head: &str) -> (TcpStream, String) {
        let mut stream = TcpStream::connect(proxy.addr()).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        stream.write_all(head.as_bytes()).unwrap();
        let mut answer = Vec::new();
        let mut byte = [0];
        while !answer.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap() == 1 {
            answer.push(byte[0]);
        }
        (stream, String::from_utf8(answer).unwrap())
    }

    fn connect_head(target: &str, extra: &str) -> String {
        format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\nUser-Agent: t/1\r\n{extra}\r\n")
    }

    #[test]
    fn tunnels_a_request_and_records_only_the_connect() {
        let server = TestServer::start(|_| Reply::json(200, "{\"ok\":true}"));
        let proxy = TestProxy::start();
        let target = server.addr().to_string();
        let (mut tunnel, answer) = ask(&proxy, &connect_head(&target, ""));
        assert_eq!(answer, "HTTP/1.1 200 Connection established\r\n\r\n");
        let request = "GET /v3/connections?secret=1 HTTP/1.1\r\nHost: x\r\n\
                       Authorization: Bearer tok-123\r\n\r\n";
        tunnel.write_all(request.as_bytes()).unwrap();
        let mut reply = String::new();
        tunnel.read_to_string(&mut reply).unwrap();
        assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"), "{reply}");
        assert!(reply.ends_with("{\"ok\":true}"), "{reply}");

        let seen = server.requests();
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].target, "/v3/connections?secret=1");
        assert_eq!(seen[0].header("authorization"), Some("Bearer tok-123"));

        let connects = proxy.connects();
        assert_eq!(connects.len(), 1);
        assert_eq!(connects[0].method, "CONNECT");
        assert_eq!(
            connects[0].target,
            format!("127.0.0.1:{}", server.addr().port())
        );
        assert_eq!(connects[0].header("user-agent"), Some("t/1"));
        let everything = format!("{connects:?}");
        for secret in ["/v3", "secret", "authorization", "tok-123", "Bearer"] {
            assert!(!everything.contains(secret), "{secret} in {everything}");
        }
        assert_eq!(proxy.connections(), 1);
        let (up, down) = proxy.tunneled_bytes();
        assert_eq!(up, request.len() as u64);
        assert_eq!(down, reply.len() as u64);
    }

    #[test]
    fn forwards_bytes_sent_right_after_the_connect_head() {
        let server = TestServer::start(|_| Reply::status(204));
        let proxy = TestProxy::start();
        let target = server.addr().to_string();
        let mut stream = TcpStream::connect(proxy.addr()).unwrap();
        let head = connect_head(&target, "");
        let request = "GET /early HTTP/1.1\r\nHost: x\r\n\r\n";
        stream
            .write_all(format!("{head}{request}").as_bytes())
            .unwrap();
        let mut all = String::new();
        stream.read_to_string(&mut all).unwrap();
        assert!(
            all.starts_with("HTTP/1.1 200 Connection established\r\n\r\nHTTP/1.1 204 "),
            "{all}"
        );
        assert_eq!(server.requests()[0].target, "/early");
        assert_eq!(proxy.tunneled_bytes().0, request.len() as u64);
    }

    #[test]
    fn asks_for_credentials_when_missing_or_wrong() {
        let server = TestServer::start(|_| Reply::status(204));
        let proxy = TestProxy::with_credentials("user", "p@ss word");
        assert_eq!(
            proxy.url_with_credentials().unwrap(),
            format!("http://user:p%40ss%20word@{}", proxy.addr())
        );
        let target = server.addr().to_string();
        let wrong = format!("Proxy-Authorization: Basic {}\r\n", base64(b"user:nope"));
        for extra in ["", wrong.as_str(), "Proxy-Authorization: Bearer x\r\n"] {
            let (_, answer) = ask(&proxy, &connect_head(&target, extra));
            assert!(
                answer.starts_with("HTTP/1.1 407 Proxy Authentication Required\r\n"),
                "{answer}"
            );
            assert!(answer.contains("proxy-authenticate: Basic realm=\"test\"\r\n"));
        }
        let right = format!(
            "Proxy-Authorization: basic {}\r\n",
            base64(b"user:p@ss word")
        );
        let (_, answer) = ask(&proxy, &connect_head(&target, &right));
        assert_eq!(answer, "HTTP/1.1 200 Connection established\r\n\r\n");
        let connects = proxy.connects();
        assert_eq!(connects.len(), 4);
        assert_eq!(connects[0].header("proxy-authorization"), None);
        assert!(server.requests().is_empty());
        assert_eq!(TestProxy::start().url_with_credentials(), None);
    }

    #[test]
    fn a_refusing_proxy_answers_its_status_and_closes() {
        let server = TestServer::start(|_| Reply::status(204));
        let proxy = TestProxy::refusing(403);
        let (mut stream, answer) = ask(&proxy, &connect_head(&server.addr().to_string(), ""));
        assert!(answer.starts_with("HTTP/1.1 403 Forbidden\r\n"), "{answer}");
        let mut rest = Vec::new();
        stream.read_to_end(&mut rest).unwrap();
        assert!(rest.is_empty());
        assert_eq!(proxy.connects().len(), 1);
        assert_eq!(proxy.tunneled_bytes(), (0, 0));
    }

    #[test]
    fn a_plain_request_is_recorded_and_refused() {
        let server = TestServer::start(|_| Reply::status(204));
        let proxy = TestProxy::start();
        let url = format!("http://{}/v3/connections", server.addr());
        let head = format!("GET {url} HTTP/1.1\r\nHost: {}\r\n\r\n", server.addr());
        let (_, answer) = ask(&proxy, &head);
        assert!(
            answer.starts_with("HTTP/1.1 502 Bad Gateway\r\n"),
            "{answer}"
        );
        let connects = proxy.connects();
        assert_eq!(connects.len(), 1);
        assert_eq!(connects[0].method, "GET");
        assert_eq!(connects[0].target, url);
        assert!(server.requests().is_empty());
    }

    #[test]
    fn an_unreachable_target_gets_502() {
        // Bound then dropped: nothing listens there any more.
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let proxy = TestProxy::start();
        let (_, answer) = ask(&proxy, &connect_head(&format!("127.0.0.1:{port}"), ""));
        assert!(answer.starts_with("HTTP/1.1 502 "), "{answer}");
    }

    #[test]
    fn dropping_with_an_open_tunnel_returns_promptly() {
        // A target that accepts and then never sends nor closes.
        let target = TcpListener::bind("127.0.0.1:0").unwrap();
        let proxy = TestProxy::start();
        let (mut tunnel, answer) = ask(
            &proxy,
            &connect_head(&target.local_addr().unwrap().to_string(), ""),
        );
        assert_eq!(answer, "HTTP/1.1 200 Connection established\r\n\r\n");
        let (_held, _) = target.accept().unwrap();
        // And a client that connected but never sent its head.
        let _idle = TcpStream::connect(proxy.addr()).unwrap();
        tunnel.write_all(b"hello").unwrap();
        // Dropped on a thread of its own so that a hang fails the test instead of stalling it.
        let (done, dropped) = std::sync::mpsc::channel();
        thread::spawn(move || {
            drop(proxy);
            let _ = done.send(());
        });
        assert!(
            dropped.recv_timeout(Duration::from_secs(2)).is_ok(),
            "drop hung"
        );
        // The client sees its tunnel closed.
        let mut rest = Vec::new();
        let _ = tunnel.read_to_end(&mut rest);
        assert!(rest.is_empty());
    }

    #[test]
    fn base64_matches_the_rfc_vectors() {
        let vectors = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (input, output) in vectors {
            assert_eq!(base64(input.as_bytes()), output);
        }
    }
}
