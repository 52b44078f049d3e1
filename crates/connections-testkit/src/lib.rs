//! Local HTTP and HTTPS servers for the transports' tests, scripted per request and able to
//! misbehave on purpose: drip bytes, stall after the headers, cut a body short, lie about its
//! length, redirect. Each server listens on `127.0.0.1` on an ephemeral port, records every
//! request, and stops when dropped. [`TestProxy`] is a forward proxy in the same style, to check
//! what a proxy gets to see.
#![allow(clippy::unwrap_used)] // a poisoned lock or a failed bind is a broken test machine

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

mod proxy;
pub use proxy::{ProxyRequest, TestProxy};

/// A request as the server received it.
#[derive(Clone, Debug)]
pub struct Recorded {
    /// `GET`, ...
    pub method: String,
    /// Path and query, as sent.
    pub target: String,
    /// Headers, names lowercased.
    pub headers: Vec<(String, String)>,
    /// The body, read by its `Content-Length` (at most 1 MiB).
    pub body: Vec<u8>,
}

impl Recorded {
    /// The first header called `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The path, without the query.
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }

    /// The query parameters, percent-decoded, in order.
    pub fn query(&self) -> Vec<(String, String)> {
        let query = self.target.split_once('?').map_or("", |(_, q)| q);
        form_urlencoded::parse(query.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }

    /// The decoded value of query parameter `name`.
    pub fn param(&self, name: &str) -> Option<String> {
        self.query()
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }
}

/// How the body is framed and delivered.
#[derive(Clone, Debug)]
enum Delivery {
    /// `Content-Length`, all at once.
    Whole,
    /// No length: the body ends when the connection closes.
    UntilClose,
    /// Declares `declared` bytes, sends the body (fewer), closes.
    Truncated { declared: usize },
    /// One byte every interval.
    Drip(Duration),
    /// Headers with a `Content-Length`, then nothing for this long.
    StallAfterHeaders(Duration),
}

/// What to answer.
#[derive(Clone, Debug)]
pub struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    delivery: Delivery,
    delay: Duration,
}

impl Reply {
    /// A status with an empty body.
    pub fn status(status: u16) -> Self {
        Reply {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            delivery: Delivery::Whole,
            delay: Duration::ZERO,
        }
    }

    /// A JSON body.
    pub fn json(status: u16, body: impl Into<Vec<u8>>) -> Self {
        Reply::status(status)
            .header("content-type", "application/json")
            .body(body)
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// Waits this long before answering.
    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    /// Sends no `Content-Length`; the body ends when the connection closes.
    pub fn without_length(mut self) -> Self {
        self.delivery = Delivery::UntilClose;
        self
    }

    /// Declares `declared` bytes but closes after the (shorter) body.
    pub fn truncated(mut self, declared: usize) -> Self {
        self.delivery = Delivery::Truncated { declared };
        self
    }

    /// Sends the body one byte every `every`.
    pub fn drip(mut self, every: Duration) -> Self {
        self.delivery = Delivery::Drip(every);
        self
    }

    /// Sends the headers, then nothing for `stall`.
    pub fn stall_after_headers(mut self, stall: Duration) -> Self {
        self.delivery = Delivery::StallAfterHeaders(stall);
        self
    }
}

type Handler = dyn Fn(&Recorded) -> Reply + Send + Sync;

/// A running server; dropping it stops it.
pub struct TestServer {
    addr: SocketAddr,
    tls: Option<Vec<u8>>,
    requests: Arc<Mutex<Vec<Recorded>>>,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

impl TestServer {
    /// Serves plain HTTP.
    pub fn start(handler: impl Fn(&Recorded) -> Reply + Send + Sync + 'static) -> Self {
        Self::spawn(Arc::new(handler), None)
    }

    /// Serves HTTPS with a fresh self-signed certificate for `localhost`, `127.0.0.1` and
    /// `api.test`; trust it with [`certificate_der`](Self::certificate_der).
    pub fn start_tls(handler: impl Fn(&Recorded) -> Reply + Send + Sync + 'static) -> Self {
        // `api.test` is for clients that reach this server through a `TestProxy`, which
        // resolves `.test` names to 127.0.0.1 (loopback names are never proxied).
        let names = vec![
            "localhost".to_owned(),
            "127.0.0.1".to_owned(),
            "api.test".to_owned(),
        ];
        let cert = rcgen::generate_simple_self_signed(names).unwrap();
        let der = cert.cert.der().to_vec();
        let key = rustls::pki_types::PrivateKeyDer::Pkcs8(cert.signing_key.serialize_der().into());
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![der.clone().into()], key)
            .unwrap();
        Self::spawn(Arc::new(handler), Some((Arc::new(config), der)))
    }

    fn spawn(handler: Arc<Handler>, tls: Option<(Arc<rustls::ServerConfig>, Vec<u8>)>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (config, der) = tls.unzip();
        let accept = {
            let (requests, stop) = (requests.clone(), stop.clone());
            thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let (handler, requests, stop) =
                        (handler.clone(), requests.clone(), stop.clone());
                    let config = config.clone();
                    thread::spawn(move || {
                        let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
                        let served = match config {
                            Some(config) => match rustls::ServerConnection::new(config) {
                                Ok(conn) => serve(
                                    rustls::StreamOwned::new(conn, stream),
                                    &*handler,
                                    &requests,
                                    &stop,
                                ),
                                Err(e) => Err(io::Error::other(e)),
                            },
                            None => serve(stream, &*handler, &requests, &stop),
                        };
                        drop(served);
                    });
                }
            })
        };
        TestServer {
            addr,
            tls: der,
            requests,
            stop,
            accept: Some(accept),
        }
    }

    /// `127.0.0.1:port`.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The API base to configure: `http://127.0.0.1:port/v3` (or `https://localhost:port/v3`).
    pub fn base_url(&self) -> String {
        match self.tls {
            Some(_) => format!("https://localhost:{}/v3", self.addr.port()),
            None => format!("http://{}/v3", self.addr),
        }
    }

    /// The origin, `http://127.0.0.1:port`, for building absolute links.
    pub fn origin(&self) -> String {
        match self.tls {
            Some(_) => format!("https://localhost:{}", self.addr.port()),
            None => format!("http://{}", self.addr),
        }
    }

    /// The certificate (DER) of an HTTPS server.
    pub fn certificate_der(&self) -> Option<&[u8]> {
        self.tls.as_deref()
    }

    /// Every request received so far, in order of arrival.
    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.addr);
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
    }
}

/// Reads one request, answers it, and closes the connection.
fn serve<S: Read + Write>(
    mut stream: S,
    handler: &Handler,
    requests: &Mutex<Vec<Recorded>>,
    stop: &AtomicBool,
) -> io::Result<()> {
    let Some(request) = read_head(&mut stream)? else {
        return Ok(());
    };
    requests.lock().unwrap().push(request.clone());
    let reply = handler(&request);
    sleep_unless_stopped(reply.delay, stop);
    let declared = match reply.delivery {
        Delivery::UntilClose => None,
        Delivery::Truncated { declared } => Some(declared),
        _ => Some(reply.body.len()),
    };
    let mut head = format!("HTTP/1.1 {} {}\r\n", reply.status, reason(reply.status));
    for (name, value) in &reply.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if let Some(len) = declared {
        head.push_str(&format!("content-length: {len}\r\n"));
    }
    head.push_str("connection: close\r\n\r\n");
    stream.write_all(head.as_bytes())?;
    stream.flush()?;
    match reply.delivery {
        Delivery::Drip(every) => {
            for byte in &reply.body {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                stream.write_all(std::slice::from_ref(byte))?;
                stream.flush()?;
                thread::sleep(every);
            }
        }
        Delivery::StallAfterHeaders(stall) => sleep_unless_stopped(stall, stop),
        _ => stream.write_all(&reply.body)?,
    }
    stream.flush()
}

fn sleep_unless_stopped(total: Duration, stop: &AtomicBool) {
    let end = Instant::now() + total;
    while Instant::now() < end && !stop.load(Ordering::SeqCst) {
        thread::sleep(Duration::from_millis(10).min(end.saturating_duration_since(Instant::now())));
    }
}

/// Reads the request line, headers and body; `None` if the client closed first.
fn read_head<S: Read>(stream: &mut S) -> io::Result<Option<Recorded>> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_owned();
    let target = parts.next().unwrap_or("").to_owned();
    let mut headers = Vec::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" || line == "\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
    let length = headers
        .iter()
        .find(|(name, _)| name == "content-length")
        .and_then(|(_, value)| value.parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = vec![0; length.min(1 << 20)];
    reader.read_exact(&mut body)?;
    Ok(Some(Recorded {
        method,
        target,
        headers,
        body,
    }))
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        301 => "Moved Permanently",
        302 => "Found",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        407 => "Proxy Authentication Required",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

/// How a generated listing writes its links.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Links {
    /// `/connections?page[number]=2&page[size]=10`, as in the API contract's example.
    Relative,
    /// `{origin}/v3/connections?...`.
    Absolute,
}

/// The body of page `number` of a listing of `total` connections named `conn-0`, `conn-1`, ...
/// with `meta` and `links` per the API contract.
pub fn page_body(total: usize, number: usize, size: usize, links: Links, origin: &str) -> String {
    let size = size.max(1);
    let last = total.div_ceil(size).max(1);
    let first = (number.max(1) - 1) * size;
    let data: Vec<String> = (first..total.min(first + size))
        .map(|i| {
            format!(
                r#"{{"id":"conn-{i}","type":"connection","attributes":{{"permissions":["read_vehicle_info"],"vehicle":{{"make":"TESLA","model":"Model 3","year":2021,"powertrainType":"BEV","mode":"live"}}}},"relationships":{{"vehicle":{{"data":{{"id":"veh-{i}","type":"vehicle"}}}},"user":{{"data":{{"id":"user-{}","type":"user"}}}}}},"meta":{{"createdAt":"2024-01-01T00:00:00Z","updatedAt":"2024-01-01T00:00:00Z"}}}}"#,
                i % 7
            )
        })
        .collect();
    let link = |n: usize| match links {
        Links::Relative => format!("\"/connections?page[number]={n}&page[size]={size}\""),
        Links::Absolute => {
            format!("\"{origin}/v3/connections?page%5Bnumber%5D={n}&page%5Bsize%5D={size}\"")
        }
    };
    let next = if number < last {
        link(number + 1)
    } else {
        "null".to_owned()
    };
    let prev = if number > 1 {
        link(number - 1)
    } else {
        "null".to_owned()
    };
    format!(
        r#"{{"data":[{}],"meta":{{"pageNumber":{number},"pageSize":{size},"totalCount":{total},"orderBy":"createdAt","orderDirection":"DESC"}},"links":{{"self":{},"first":{},"prev":{prev},"next":{next},"last":{}}}}}"#,
        data.join(","),
        link(number),
        link(1),
        link(last),
    )
}

/// A handler serving a listing of `total` connections, reading `page[number]`/`page[size]`.
pub fn listing(
    total: usize,
    links: Links,
    origin: String,
) -> impl Fn(&Recorded) -> Reply + Send + Sync + 'static {
    move |request| {
        let number = request
            .param("page[number]")
            .and_then(|n| n.parse().ok())
            .unwrap_or(1);
        let size = request
            .param("page[size]")
            .and_then(|n| n.parse().ok())
            .unwrap_or(10);
        Reply::json(200, page_body(total, number, size, links, &origin))
            .header("sc-request-id", &format!("req-{number}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(addr: SocketAddr, target: &str) -> String {
        let mut stream = TcpStream::connect(addr).unwrap();
        write!(
            stream,
            "GET {target} HTTP/1.1\r\nHost: x\r\nX-Test: 1\r\n\r\n"
        )
        .unwrap();
        let mut out = String::new();
        let _ = stream.read_to_string(&mut out);
        out
    }

    #[test]
    fn records_requests_and_answers_scripted_replies() {
        let server = TestServer::start(|r| {
            if r.path() == "/short" {
                Reply::json(200, "{\"a\"").truncated(100)
            } else {
                Reply::json(200, "{}").header("sc-request-id", "r1")
            }
        });
        let answer = get(server.addr(), "/v3/connections?filter%5BuserId%5D=a%26b");
        assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"));
        assert!(answer.contains("content-length: 2\r\n") && answer.ends_with("\r\n\r\n{}"));
        let short = get(server.addr(), "/short");
        assert!(short.contains("content-length: 100\r\n") && short.ends_with("{\"a\""));
        let seen = server.requests();
        assert_eq!(seen.len(), 2);
        assert_eq!(seen[0].param("filter[userId]").as_deref(), Some("a&b"));
        assert_eq!(seen[0].header("X-TEST"), Some("1"));
    }

    #[test]
    fn generated_pages_link_to_the_next_until_the_last() {
        let body = page_body(25, 1, 10, Links::Relative, "");
        assert!(body.contains(r#""next":"/connections?page[number]=2&page[size]=10""#));
        assert!(body.contains(r#""totalCount":25"#));
        let last = page_body(25, 3, 10, Links::Absolute, "http://h");
        assert!(last.contains(r#""next":null"#) && last.contains("conn-24"));
        assert!(!last.contains("conn-25"));
    }
}
