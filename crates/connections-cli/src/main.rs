//! `connections`: list the vehicle connections of a Smartcar application, or run a local
//! sandbox that answers like the API.
#![allow(clippy::print_stdout)] // printing is this program's job

mod output;

use std::io::{self, BufWriter, IsTerminal, Write};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::{ArgAction, Parser, Subcommand, ValueEnum};
use connections_client::{Builder, Error, FromConfig};
use connections_core::{
    ListConnections, Mode, Owned, Page, ResponseError, RetryPolicy, TokenError,
};
use connections_sandbox::{Sandbox, SandboxConfig};
use futures_util::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};

use output::{Format, Printer};

const EXIT_CODES: &str = "Exit codes:
  0  success
  2  usage or invalid input (bad flag, id, URL, token or credentials)
  3  the API or the token endpoint answered with an error (status, type, code, detail,
     request id on stderr)
  4  network, TLS or timeout
  5  invalid response or pagination error (not JSON, malformed, redirect, cross-origin link,
     loop, page cap)
  1  writing the output failed";

#[derive(Parser, Debug)]
#[command(name = "connections", version, about, after_help = EXIT_CODES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Show what happens on stderr (-v requests, -vv everything).
    #[arg(short, long, action = ArgAction::Count, global = true)]
    verbose: u8,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// List vehicle connections (GET {base-url}/connections).
    #[command(after_help = EXIT_CODES)]
    List(ListArgs),
    /// Fetch an application token with client credentials: the token on stdout, its expiry
    /// on stderr (for scripts and curl).
    #[command(after_help = EXIT_CODES)]
    Token(TokenArgs),
    /// Serve a local Smartcar-compatible API; prints its base URL on the first line of stdout.
    Sandbox(SandboxArgs),
}

#[derive(clap::Args, Debug)]
struct ListArgs {
    /// The API base; requests go to {base-url}/connections.
    #[arg(long, default_value = "https://vehicle.api.smartcar.com/v3")]
    base_url: String,
    #[command(flatten)]
    credentials: CredentialArgs,
    /// Only this user's connections.
    #[arg(long)]
    user_id: Option<String>,
    /// Only this vehicle's connections.
    #[arg(long)]
    vehicle_id: Option<String>,
    /// Only live or only simulated vehicles.
    #[arg(long, value_enum)]
    mode: Option<ModeArg>,
    /// The page to fetch (or to start from, with --all).
    #[arg(long)]
    page: Option<u32>,
    /// Connections per page [default: 100 with --all, else the server's 10].
    #[arg(long)]
    page_size: Option<u32>,
    /// Fetch every page, printing connections as they arrive.
    #[arg(long)]
    all: bool,
    /// Stop with an error after this many pages, when the server does not report its total
    /// (with a total, the cap follows from it).
    #[arg(long, default_value_t = connections_core::DEFAULT_MAX_PAGES)]
    max_pages: u32,
    /// Pages fetched at once when the total is known (1 to 64); output stays in order.
    #[arg(long, default_value_t = 1)]
    concurrency: usize,
    /// Output format [default: table on a terminal, ndjson otherwise].
    #[arg(long, value_enum)]
    format: Option<Format>,
    /// How requests are made.
    #[arg(long, value_enum, default_value_t = Transport::Hyper)]
    transport: Transport,
    #[command(flatten)]
    network: NetworkArgs,
    /// Retries after the first attempt, for 429, 5xx and network failures.
    #[arg(long, default_value_t = 2)]
    retries: u32,
    /// Start the built-in sandbox and list from it (no token needed).
    #[arg(long)]
    sandbox: bool,
}

/// Where the bearer token comes from: an application's client credentials (fetched and
/// renewed as needed), or a token obtained elsewhere.
#[derive(clap::Args, Debug)]
struct CredentialArgs {
    /// The application's client id (or set SMARTCAR_CLIENT_ID).
    #[arg(long, env = "SMARTCAR_CLIENT_ID", requires = "client_secret")]
    client_id: Option<String>,
    /// The application's client secret (better: set SMARTCAR_CLIENT_SECRET, which stays out of
    /// shell history).
    #[arg(
        long,
        env = "SMARTCAR_CLIENT_SECRET",
        hide_env_values = true,
        requires = "client_id"
    )]
    client_secret: Option<String>,
    /// The OAuth token endpoint [default: `https://iam.smartcar.com/oauth2/token`].
    #[arg(long, env = "SMARTCAR_TOKEN_URL", requires = "client_id")]
    token_url: Option<String>,
    /// An access token obtained elsewhere (better: set SMARTCAR_ACCESS_TOKEN).
    #[arg(
        long,
        env = "SMARTCAR_ACCESS_TOKEN",
        hide_env_values = true,
        conflicts_with_all = ["client_id", "client_secret", "token_url"]
    )]
    token: Option<String>,
}

impl CredentialArgs {
    /// Applies the credentials to a builder; `None` when none were given.
    fn apply<C: FromConfig>(&self, builder: Builder<C>) -> Option<Builder<C>> {
        match (&self.client_id, &self.client_secret, &self.token) {
            (Some(id), Some(secret), _) => {
                let builder = builder.client_credentials(id, secret);
                Some(match &self.token_url {
                    Some(url) => builder.token_url(url),
                    None => builder,
                })
            }
            (_, _, Some(token)) => Some(builder.token(token)),
            _ => None,
        }
    }
}

const NO_CREDENTIALS: &str = "no credentials: pass --client-id and --client-secret (or set \
     SMARTCAR_CLIENT_ID and SMARTCAR_CLIENT_SECRET), or an access token with --token (or \
     SMARTCAR_ACCESS_TOKEN)";

/// How requests reach the server: deadlines, proxies and trusted certificate authorities.
#[derive(clap::Args, Debug)]
struct NetworkArgs {
    /// Deadline for each request, in seconds (connect, headers and body).
    #[arg(long, default_value_t = 30.0)]
    timeout: f64,
    /// Longest wait for a TCP and TLS connection, in seconds.
    #[arg(long, default_value_t = 10.0)]
    connect_timeout: f64,
    /// Send requests through this proxy (`http://[user:password@]host:port`) instead of
    /// HTTPS_PROXY / HTTP_PROXY / ALL_PROXY; NO_PROXY still applies, loopback never proxied.
    #[arg(long, value_name = "URL", conflicts_with = "no_proxy")]
    proxy: Option<String>,
    /// Ignore proxies, including those from the environment.
    #[arg(long)]
    no_proxy: bool,
    /// Trust the certificate authorities in this PEM file too (e.g. a company's
    /// TLS-inspecting proxy, or the sandbox's --tls-ca-out).
    #[arg(long, value_name = "FILE")]
    ca_cert: Option<std::path::PathBuf>,
    /// Trust only the bundled Mozilla roots (and --ca-cert), not the operating system's.
    #[arg(long)]
    no_system_roots: bool,
}

impl NetworkArgs {
    /// Checks the numbers and reads the CA file; a usage error names what is wrong.
    fn check(&self) -> Result<Option<Vec<u8>>, String> {
        for (name, value) in [
            ("--timeout", self.timeout),
            ("--connect-timeout", self.connect_timeout),
        ] {
            if !(value.is_finite() && value > 0.0) {
                return Err(format!("{name} must be a positive number of seconds"));
            }
        }
        self.ca_cert
            .as_ref()
            .map(|path| {
                std::fs::read(path)
                    .map_err(|e| format!("cannot read --ca-cert {}: {e}", path.display()))
            })
            .transpose()
    }

    fn apply<C: FromConfig>(&self, builder: Builder<C>, ca_pem: Option<&[u8]>) -> Builder<C> {
        let mut builder = builder
            .request_timeout(Duration::from_secs_f64(self.timeout))
            .connect_timeout(Duration::from_secs_f64(self.connect_timeout))
            .system_roots(!self.no_system_roots);
        if let Some(url) = &self.proxy {
            builder = builder.proxy(url);
        }
        if self.no_proxy {
            builder = builder.no_proxy();
        }
        if let Some(pem) = ca_pem {
            builder = builder.add_root_certificates_pem(pem);
        }
        builder
    }
}

#[derive(clap::Args, Debug)]
struct TokenArgs {
    #[command(flatten)]
    credentials: CredentialArgs,
    #[command(flatten)]
    network: NetworkArgs,
    /// Retries after the first attempt, for 429, 5xx and network failures.
    #[arg(long, default_value_t = 2)]
    retries: u32,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum ModeArg {
    Live,
    Simulated,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Transport {
    /// Async: hyper and tokio.
    Hyper,
    /// Blocking: ureq.
    Blocking,
}

#[derive(clap::Args, Debug)]
struct SandboxArgs {
    /// Address to listen on; port 0 picks a free one.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// How many connections to serve.
    #[arg(long, default_value_t = 50)]
    connections: usize,
    /// Seed of the generated dataset and injected faults.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// The bearer token to accept.
    #[arg(long, default_value = connections_sandbox::DEFAULT_TOKEN)]
    token: String,
    /// Delay before each answer, in milliseconds.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Share of requests (0 to 1) answered with an injected 500 or 503.
    #[arg(long, default_value_t = 0.0)]
    failure_rate: f64,
    /// Requests per second before answering 429.
    #[arg(long)]
    rate_limit: Option<u32>,
    /// Write absolute links instead of /connections?... ones.
    #[arg(long)]
    absolute_links: bool,
    /// Before every page request but the first, remove N connections and add N new ones on
    /// top, so a listing in progress sees its data move.
    #[arg(long, value_name = "N", default_value_t = 0)]
    churn: u32,
    /// Serve POST {origin}/oauth2/token for this client id (with --client-secret), issuing
    /// application tokens the API accepts until they expire.
    #[arg(long, requires = "client_secret")]
    client_id: Option<String>,
    /// The client secret the token endpoint accepts.
    #[arg(long, requires = "client_id")]
    client_secret: Option<String>,
    /// Lifetime of issued tokens, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 3600)]
    token_lifetime: u64,
    /// Serve HTTPS (HTTP/2 or HTTP/1.1 by ALPN) with a fresh self-signed certificate.
    #[arg(long)]
    tls: bool,
    /// With --tls, write the certificate authority's PEM here, for `list --ca-cert FILE`
    /// (implies --tls).
    #[arg(long, value_name = "FILE")]
    tls_ca_out: Option<std::path::PathBuf>,
    /// Answer every page with a small gzip body that inflates to 300 MB, to test body limits.
    #[arg(long)]
    gzip_bomb: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Warnings (data that moved during a listing) always reach stderr; -v adds each request.
    let level = match cli.verbose {
        0 => tracing_subscriber::filter::LevelFilter::WARN,
        1 => tracing_subscriber::filter::LevelFilter::INFO,
        _ => tracing_subscriber::filter::LevelFilter::DEBUG,
    };
    tracing_subscriber::fmt()
        .with_writer(io::stderr)
        .with_max_level(level)
        .with_target(false)
        .without_time()
        .init();
    match cli.command {
        Command::List(args) => list(args),
        Command::Token(args) => token(args),
        Command::Sandbox(args) => sandbox(args),
    }
}

fn usage(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(2)
}

fn list(args: ListArgs) -> ExitCode {
    let ca_pem = match args.network.check() {
        Ok(pem) => pem,
        Err(e) => return usage(e),
    };
    let embedded = match args
        .sandbox
        .then(|| Sandbox::spawn(SandboxConfig::default()))
        .transpose()
    {
        Ok(embedded) => embedded,
        Err(e) => {
            eprintln!("error: could not start the sandbox: {e}");
            return ExitCode::from(4);
        }
    };
    let credentials = match &embedded {
        Some(s) => CredentialArgs {
            client_id: None,
            client_secret: None,
            token_url: None,
            token: Some(s.token().to_owned()),
        },
        None => args.credentials,
    };
    let base_url = embedded
        .as_ref()
        .map_or(args.base_url.clone(), |s| s.base_url().to_owned());
    if credentials
        .apply(connections_hyper::Client::builder())
        .is_none()
    {
        return usage(format!("{NO_CREDENTIALS} (or use --sandbox)"));
    }
    let mut request = ListConnections::builder();
    if let Some(id) = &args.user_id {
        request = request.user_id(id);
    }
    if let Some(id) = &args.vehicle_id {
        request = request.vehicle_id(id);
    }
    if let Some(mode) = args.mode {
        request = request.mode(match mode {
            ModeArg::Live => Mode::Live,
            ModeArg::Simulated => Mode::Simulated,
        });
    }
    if let Some(page) = args.page {
        request = request.page_number(page);
    }
    if let Some(size) = args.page_size {
        request = request.page_size(size);
    }
    let request = match request.build() {
        Ok(request) => request,
        Err(e) => return usage(e),
    };
    let format = args.format.unwrap_or(if io::stdout().is_terminal() {
        Format::Table
    } else {
        Format::Ndjson
    });
    let progress = (args.all && io::stderr().is_terminal()).then(|| {
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{spinner} {pos} connections, {msg} pages, {elapsed}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar
    });
    let stdout = io::stdout().lock();
    let mut printer = match Printer::new(format, BufWriter::new(stdout)) {
        Ok(printer) => printer,
        Err(e) => return output_failed(&e),
    };
    let settings = Settings {
        base_url: &base_url,
        credentials: &credentials,
        network: &args.network,
        ca_pem: ca_pem.as_deref(),
        retries: args.retries,
        max_pages: args.max_pages,
        concurrency: args.concurrency,
    };
    let mut pages = 0u64;
    let mut on_page = |page: Page<Owned>| -> io::Result<()> {
        pages += 1;
        for c in page.connections() {
            printer.connection(c)?;
        }
        if let Some(bar) = &progress {
            bar.set_position(printer.written());
            bar.set_message(pages.to_string());
        }
        Ok(())
    };
    let outcome = match args.transport {
        Transport::Hyper => run_hyper(&settings, request, args.all, &mut on_page),
        Transport::Blocking => run_blocking(&settings, request, args.all, &mut on_page),
    };
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    let finished = printer.finish();
    match outcome {
        Ok(()) => finished.map_or_else(|e| output_failed(&e), |()| ExitCode::SUCCESS),
        Err(Failure::Output(e)) => output_failed(&e),
        Err(Failure::Client(e)) => report(&e),
    }
}

/// The client settings `list` takes from its flags.
struct Settings<'a> {
    base_url: &'a str,
    credentials: &'a CredentialArgs,
    network: &'a NetworkArgs,
    ca_pem: Option<&'a [u8]>,
    retries: u32,
    max_pages: u32,
    concurrency: usize,
}

impl Settings<'_> {
    fn builder<C: FromConfig>(&self, builder: Builder<C>) -> Builder<C> {
        let builder = builder.base_url(self.base_url);
        // Checked by the caller: credentials were given.
        let builder = self.credentials.apply(builder.clone()).unwrap_or(builder);
        self.network
            .apply(builder, self.ca_pem)
            .retry_policy(RetryPolicy::new().with_max_attempts(self.retries.saturating_add(1)))
            .max_pages(self.max_pages)
            .page_concurrency(self.concurrency)
            .user_agent_suffix(concat!("connections-cli/", env!("CARGO_PKG_VERSION")))
    }
}

/// Why listing stopped.
enum Failure {
    Client(Error),
    Output(io::Error),
}

fn run_hyper(
    settings: &Settings<'_>,
    request: ListConnections<'_>,
    all: bool,
    on_page: &mut dyn FnMut(Page<Owned>) -> io::Result<()>,
) -> Result<(), Failure> {
    // Exchanges run on worker threads, so a reader that blocks stdout (`| less`) never
    // holds a request open while its deadline runs.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(Failure::Output)?;
    runtime.block_on(async {
        let client = settings
            .builder(connections_hyper::Client::builder())
            .build()
            .map_err(Failure::Client)?;
        if !all {
            let listed = client.list(&request).await.map_err(Failure::Client)?;
            return on_page(listed.value).map_err(Failure::Output);
        }
        let mut pages = std::pin::pin!(client.pages(&request));
        while let Some(page) = pages.next().await {
            on_page(page.map_err(Failure::Client)?).map_err(Failure::Output)?;
        }
        Ok(())
    })
}

fn run_blocking(
    settings: &Settings<'_>,
    request: ListConnections<'_>,
    all: bool,
    on_page: &mut dyn FnMut(Page<Owned>) -> io::Result<()>,
) -> Result<(), Failure> {
    let client = settings
        .builder(connections_blocking::Client::builder())
        .build()
        .map_err(Failure::Client)?;
    if !all {
        let listed = client.list(&request).map_err(Failure::Client)?;
        return on_page(listed.value).map_err(Failure::Output);
    }
    for page in client.pages(&request) {
        on_page(page.map_err(Failure::Client)?).map_err(Failure::Output)?;
    }
    Ok(())
}

/// A closed pipe (`connections list | head`) is a normal way to stop reading.
fn output_failed(e: &io::Error) -> ExitCode {
    if e.kind() == io::ErrorKind::BrokenPipe {
        return ExitCode::SUCCESS;
    }
    eprintln!("error: writing the output failed: {e}");
    ExitCode::from(1)
}

/// Fetches an application token and prints it for scripts: the token on stdout, its expiry
/// on stderr.
fn token(args: TokenArgs) -> ExitCode {
    let ca_pem = match args.network.check() {
        Ok(pem) => pem,
        Err(e) => return usage(e),
    };
    if args.credentials.client_id.is_none() {
        return usage(
            "no client credentials: pass --client-id and --client-secret (or set \
             SMARTCAR_CLIENT_ID and SMARTCAR_CLIENT_SECRET)",
        );
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => return output_failed(&e),
    };
    let fetched = runtime.block_on(async {
        let builder = args
            .network
            .apply(connections_hyper::Client::builder(), ca_pem.as_deref())
            .retry_policy(RetryPolicy::new().with_max_attempts(args.retries.saturating_add(1)))
            .user_agent_suffix(concat!("connections-cli/", env!("CARGO_PKG_VERSION")));
        let builder = args.credentials.apply(builder.clone()).unwrap_or(builder);
        builder.build()?.fetch_application_token().await
    });
    match fetched {
        Ok(issued) => {
            let mut out = io::stdout().lock();
            if let Err(e) = writeln!(out, "{}", issued.access_token.expose_secret()) {
                return output_failed(&e);
            }
            match issued.expires_in {
                Some(life) => eprintln!("expires in {} s", life.as_secs()),
                None => eprintln!("the token endpoint did not say when it expires"),
            }
            ExitCode::SUCCESS
        }
        Err(e) => report(&e),
    }
}

/// Prints a client error on stderr and picks the exit code.
fn report(error: &Error) -> ExitCode {
    let code = match error {
        Error::Config(_) => 2,
        Error::Api(_)
        | Error::TokenEndpoint(
            TokenError::OAuth(_) | TokenError::Response(ResponseError::Api(_)),
        ) => 3,
        Error::Timeout(_)
        | Error::Connect(_)
        | Error::Tls(_)
        | Error::Connection(_)
        | Error::Proxy(_)
        | Error::UnknownHost(_)
        | Error::Token(_) => 4,
        _ => 5,
    };
    let mut err = io::stderr().lock();
    let _ = writeln!(err, "error: {error}");
    if let Error::TokenEndpoint(TokenError::OAuth(oauth)) = error {
        let _ = writeln!(err, "  status: {}", oauth.status);
        let _ = writeln!(err, "  error: {}", oauth.error);
        if let Some(description) = &oauth.description {
            let _ = writeln!(err, "  error_description: {description}");
        }
    }
    if let Error::Api(api) = error {
        let _ = writeln!(err, "  status: {}", api.status);
        if let Some(e) = api.first() {
            let fields = [
                ("type", e.kind.as_ref().map(|k| k.as_str())),
                ("code", e.code.as_deref()),
                ("detail", e.detail.as_deref()),
            ];
            for (name, value) in fields {
                if let Some(value) = value {
                    let _ = writeln!(err, "  {name}: {value}");
                }
            }
            if let Some(message) = &e.suggested_user_message {
                let _ = writeln!(err, "  suggested user message: {message}");
            }
        }
        if let Some(id) = &api.request_id {
            let _ = writeln!(err, "  request id: {id}");
        }
    }
    ExitCode::from(code)
}

fn sandbox(args: SandboxArgs) -> ExitCode {
    if !(0.0..=1.0).contains(&args.failure_rate) {
        return usage("--failure-rate must be between 0 and 1");
    }
    if args.token_lifetime == 0 {
        return usage("--token-lifetime must be at least 1 second");
    }
    let config = SandboxConfig {
        listen: args.listen,
        connections: args.connections,
        seed: args.seed,
        token: args.token,
        latency: Duration::from_millis(args.latency_ms),
        failure_rate: args.failure_rate,
        rate_limit: args.rate_limit,
        absolute_links: args.absolute_links,
        churn: args.churn,
        client_id: args.client_id,
        client_secret: args.client_secret,
        token_lifetime: Duration::from_secs(args.token_lifetime),
        tls: args.tls || args.tls_ca_out.is_some(),
        tls_ca_out: args.tls_ca_out.clone(),
        gzip_bomb: args.gzip_bomb,
        ..SandboxConfig::default()
    };
    let credentials = config.client_id.is_some();
    let sandbox = match Sandbox::spawn(config) {
        Ok(sandbox) => sandbox,
        Err(e) => {
            eprintln!("error: could not start the sandbox on {}: {e}", args.listen);
            return ExitCode::from(4);
        }
    };
    println!("{}", sandbox.base_url());
    let _ = io::stdout().flush();
    if credentials {
        eprintln!("token URL: {}", sandbox.token_url());
    }
    if let Some(path) = &args.tls_ca_out {
        eprintln!("CA certificate: {} (pass it to --ca-cert)", path.display());
    } else if let Some(pem) = sandbox.ca_certificate_pem() {
        eprintln!("CA certificate (pass it to --ca-cert, or use --tls-ca-out FILE):\n{pem}");
    }
    eprintln!(
        "serving {} connections at {} (token: {}); stop with Ctrl-C",
        sandbox.dataset().connections().len(),
        sandbox.base_url(),
        sandbox.token()
    );
    match sandbox.wait() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: the sandbox stopped: {e}");
            ExitCode::from(4)
        }
    }
}
