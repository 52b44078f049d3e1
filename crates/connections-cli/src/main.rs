//! `connections`: list the vehicle connections of a Smartcar application, or run a local
//! sandbox that answers like the API.

// The doc comments on the argument structs are clap's `--help` text, written for a terminal:
// `page[size]` and a bare URL are what the user should read there, not rustdoc links.
#![allow(rustdoc::broken_intra_doc_links, rustdoc::bare_urls)]

mod auth;
mod duration;
mod log;
mod number;
mod output;
mod resume;
mod screen;
mod text;

use std::io::{self, BufWriter, IsTerminal, Write};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{ArgAction, CommandFactory, Parser, Subcommand, ValueEnum};
use connections_client::{Builder, ConfigError, Error, FromConfig, Listed};
use connections_core::{
    ListConnections, Mode, Owned, Page, ResponseError, RetryPolicy, TokenError,
};
use connections_sandbox::{Sandbox, SandboxConfig};
use futures_util::StreamExt;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use auth::{Auth, CredentialArgs};
use output::{Format, Printer, Stdout, TableOptions};
use screen::Console;
use text::escape_controls;

/// A line on stderr. Unlike `eprintln!`, a stderr that cannot be written (`2>/dev/full`)
/// does not panic: the exit code still tells what happened.
macro_rules! say {
    ($($arg:tt)*) => {{
        let _ = writeln!(io::stderr().lock(), $($arg)*);
    }};
}

/// The exit codes, as a literal for `concat!`.
macro_rules! exit_codes {
    () => {
        "Exit codes:
  0  success, also when a reader closes the pipe early (`| head`)
  2  usage or invalid input (bad flag, id, URL, token or credentials)
  3  the API or the token endpoint answered with an error (status, type, code, detail,
     request id on stderr), or its rate limit held the listing past --max-wait
  4  no answer: network, TLS, timeout, an unreachable token URL, a failed token source,
     a request the system refused or an exchange that panicked (`caused by:` lines say which)
  5  invalid response or pagination error (not JSON, malformed, redirect, cross-origin link,
     loop, page cap)
  1  writing the output failed, or the async runtime could not start"
    };
}

const EXIT_CODES: &str = exit_codes!();

/// `--help` of the command and of `list`: examples, exit codes, and what a failed listing
/// leaves on stdout.
const LIST_HELP: &str = concat!(
    "Examples:
  # Every connection, as a table on a terminal (credentials from the environment)
  SMARTCAR_CLIENT_ID=... SMARTCAR_CLIENT_SECRET=... connections list --all
  # One user's simulated vehicles as JSON, into a file
  connections list --all --user-id USER_ID --mode simulated --format json > connections.json
  # No account needed: the built-in sandbox, each request shown on stderr
  connections list --sandbox --all -v

",
    exit_codes!(),
    "

Unless the exit code is 0 the listing is incomplete. If the first request fails, nothing is
written to stdout (no table or CSV header, no `[`). If a later page fails, the connections
already printed stay, and JSON output is left without its closing `]` so that no parser takes
it for a complete listing; NDJSON, CSV and table output have no such mark: check the exit code."
);

#[derive(Parser, Debug)]
#[command(name = "connections", version, about, after_help = LIST_HELP)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Show what happens on stderr: -v a line per request, retry and wait; -vv request and
    /// response headers (credentials redacted) and token fetches too.
    #[arg(short, long, action = ArgAction::Count, global = true)]
    verbose: u8,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// List vehicle connections (GET {base-url}/connections).
    #[command(after_help = LIST_HELP)]
    List(ListArgs),
    /// Fetch an application token with client credentials: the token on stdout, its expiry
    /// on stderr (for scripts and curl).
    #[command(after_help = EXIT_CODES)]
    Token(TokenArgs),
    /// Serve a local Smartcar-compatible API; prints its base URL on the first line of stdout.
    Sandbox(SandboxArgs),
    /// Print a shell completion script, e.g. `connections completions bash >
    /// ~/.local/share/bash-completion/completions/connections`.
    Completions {
        /// The shell to complete in.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

#[derive(clap::Args, Debug)]
struct ListArgs {
    /// The API base; requests go to {base-url}/connections [default: $SMARTCAR_BASE_URL, else
    /// https://vehicle.api.smartcar.com/v3].
    #[arg(long, value_name = "URL")]
    base_url: Option<String>,
    #[command(flatten)]
    credentials: CredentialArgs,
    /// An access token obtained elsewhere [default: $SMARTCAR_ACCESS_TOKEN, better: it stays
    /// out of shell history].
    #[arg(long, value_name = "TOKEN")]
    token: Option<String>,
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
    #[arg(long, value_name = "N", value_parser = number::whole(1, u32::MAX))]
    page: Option<u32>,
    /// Connections per page [default: 100 with --all, else the server's 10].
    #[arg(long, value_name = "N", value_parser = number::whole(1, u32::MAX))]
    page_size: Option<u32>,
    /// Fetch every page, printing connections as they arrive.
    #[arg(long)]
    all: bool,
    /// Stop with an error after this many pages, when the server does not report its total
    /// (with a total, the cap follows from it).
    #[arg(
        long,
        value_name = "N",
        default_value_t = connections_core::DEFAULT_MAX_PAGES,
        value_parser = number::whole(1, u32::MAX)
    )]
    max_pages: u32,
    /// Pages fetched at once when the total is known (1 to 64); output stays in order.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = number::whole(1usize, 64))]
    concurrency: usize,
    /// Output format [default: table on a terminal, ndjson otherwise].
    #[arg(long, value_enum)]
    format: Option<Format>,
    /// Table cells whole, however wide the terminal (by default the table fits the
    /// terminal's width, or $COLUMNS: long cells are cut with `…`, the id never).
    #[arg(long)]
    wide: bool,
    /// How requests are made.
    #[arg(long, value_enum, default_value_t = Transport::Hyper)]
    transport: Transport,
    #[command(flatten)]
    network: NetworkArgs,
    /// Retries after the first attempt, for 5xx and network failures (0 to 20); a 429 is
    /// waited out without spending one, up to --max-wait.
    #[arg(long, value_name = "N", default_value_t = 2, value_parser = number::whole(0, MAX_RETRIES))]
    retries: u32,
    /// Keep requests within RATE, written N/s, N/min or N/h (e.g. 10/min): leaves room in the
    /// application's rate bucket (Smartcar's: 120 requests, refilling 2/min) for its other
    /// traffic. Within the bucket, a listing meets no 429.
    #[arg(long, value_name = "RATE", value_parser = rate)]
    max_rate: Option<connections_core::Rate>,
    /// Requests that may go at once before --max-rate spaces them (1 to 1000000).
    #[arg(
        long,
        value_name = "N",
        default_value_t = 1,
        requires = "max_rate",
        value_parser = number::whole(1, connections_client::MAX_BURST)
    )]
    burst: u32,
    /// The longest the listing may wait for the API's rate limit in all (its 429s and the
    /// pace learned from them) before it gives up with exit 3.
    #[arg(long, value_name = "DURATION", default_value = "12h", value_parser = duration::parser(MAX_WAITS))]
    max_wait: Duration,
    /// Save where the listing stands to FILE after each page printed, and resume from it
    /// when FILE exists (the same command again goes on after the last page printed);
    /// removed when the listing completes. With --all.
    #[arg(long, value_name = "FILE", requires = "all")]
    checkpoint: Option<std::path::PathBuf>,
    /// Only connections created at or after TIME (RFC 3339, e.g. 2026-12-06T00:00:00Z;
    /// inclusive, so passing the newest createdAt of the last run loses none created in its
    /// second). Newest-first pages stop the listing at the first older one. With --all.
    #[arg(long, value_name = "TIME", requires = "all", value_parser = created_after)]
    created_after: Option<connections_core::CreatedAfter>,
    /// Start the built-in sandbox and list from it (no token needed); not with --base-url,
    /// --token or client credentials, and every SMARTCAR_* variable is ignored.
    #[arg(
        long,
        conflicts_with_all = ["base_url", "token", "client_id", "client_secret", "token_url"]
    )]
    sandbox: bool,
}

/// `--max-wait`: from nothing (give up at the first wait) to a week.
const MAX_WAITS: duration::Bounds =
    duration::Bounds::new(Duration::ZERO, Duration::from_secs(7 * 24 * 3600));

/// `--created-after`, as the core reads a cutoff.
fn created_after(text: &str) -> Result<connections_core::CreatedAfter, String> {
    connections_core::CreatedAfter::parse(text).map_err(|_| {
        format!("expected an RFC 3339 date-time such as 2026-12-06T00:00:00Z, got {text:?}")
    })
}

/// `--max-rate`, as the core reads a rate.
fn rate(text: &str) -> Result<connections_core::Rate, String> {
    text.parse()
        .map_err(|e: connections_core::InvalidRate| e.to_string())
}

/// The API base when neither --base-url nor SMARTCAR_BASE_URL gives one.
const DEFAULT_BASE_URL: &str = "https://vehicle.api.smartcar.com/v3";

const NO_CREDENTIALS: &str = "no credentials: pass --client-id and --client-secret (or set \
     SMARTCAR_CLIENT_ID and SMARTCAR_CLIENT_SECRET), or an access token with --token (or \
     SMARTCAR_ACCESS_TOKEN)";

/// Applies resolved credentials to a builder.
fn apply_auth<C: FromConfig>(auth: &Auth, builder: Builder<C>) -> Builder<C> {
    match auth {
        Auth::Credentials {
            id,
            secret,
            token_url,
        } => {
            let builder = builder.client_credentials(&id.value, &secret.value);
            match token_url {
                Some(url) => builder.token_url(&url.value),
                None => builder,
            }
        }
        Auth::Token(token) => builder.token(&token.value),
    }
}

/// The most retries a flag may ask for: with backoff capped at 20 s, more would wait for
/// minutes on a failure that is not going away.
const MAX_RETRIES: u32 = 20;

/// What `--timeout` and `--connect-timeout` accept: a day is far past any useful deadline
/// and far from what a timer can hold.
const TIMEOUTS: duration::Bounds =
    duration::Bounds::new(Duration::from_millis(1), Duration::from_secs(24 * 3600));

/// How requests reach the server: deadlines, proxies and trusted certificate authorities.
#[derive(clap::Args, Debug)]
struct NetworkArgs {
    /// Deadline for each request (connect, headers and body): 30, 1.5 (seconds), 500ms, 2m.
    #[arg(
        long,
        value_name = "DURATION",
        default_value = "30s",
        value_parser = duration::parser(TIMEOUTS)
    )]
    timeout: Duration,
    /// Longest wait for a TCP and TLS connection, as --timeout.
    #[arg(
        long,
        value_name = "DURATION",
        default_value = "10s",
        value_parser = duration::parser(TIMEOUTS)
    )]
    connect_timeout: Duration,
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
    /// Reads the CA file; a usage error names it.
    fn check(&self) -> Result<Option<Vec<u8>>, String> {
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
            .request_timeout(self.timeout)
            .connect_timeout(self.connect_timeout)
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
    /// Retries after the first attempt, for 429, 5xx and network failures (0 to 20).
    #[arg(long, value_name = "N", default_value_t = 2, value_parser = number::whole(0, MAX_RETRIES))]
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
    /// How many connections to generate (0 to 1,000,000).
    #[arg(long, value_name = "N", default_value_t = 50, value_parser = number::whole(0usize, 1_000_000))]
    connections: usize,
    /// Serve the connections in FILE instead of generated ones: a JSON array of connections
    /// in the API's shape, a page body ({"data": [...]}), or NDJSON, one per line.
    #[arg(long, value_name = "FILE", conflicts_with = "connections")]
    data: Option<std::path::PathBuf>,
    /// Seed of the generated dataset and injected faults.
    #[arg(long, default_value_t = 42, value_parser = number::whole(0, u64::MAX))]
    seed: u64,
    /// The bearer token to accept.
    #[arg(long, default_value = connections_sandbox::DEFAULT_TOKEN)]
    token: String,
    /// Delay before each answer, in milliseconds (0 to 60000).
    #[arg(long, value_name = "MS", default_value_t = 0, value_parser = number::whole(0, MAX_MS))]
    latency_ms: u64,
    /// Share of requests (0 to 1) answered with an injected 500 or 503.
    #[arg(long, value_name = "F", default_value_t = 0.0, value_parser = number::share())]
    failure_rate: f64,
    /// Share of listing pages (0 to 1) cut short: about half the body is sent, then the
    /// connection is dropped.
    #[arg(long, value_name = "F", default_value_t = 0.0, value_parser = number::share())]
    truncate_rate: f64,
    /// Send every body in small chunks (see --drip-bytes), waiting MS milliseconds before
    /// each: a slow network (0 to 60000).
    #[arg(long, value_name = "MS", value_parser = number::whole(0, MAX_MS))]
    drip_ms: Option<u64>,
    /// Bytes per chunk with --drip-ms (1 to 1048576).
    #[arg(
        long,
        value_name = "N",
        default_value_t = 256,
        requires = "drip_ms",
        value_parser = number::whole(1usize, 1 << 20)
    )]
    drip_bytes: usize,
    /// Requests per second before answering 429 with retry-after: 1 (0 to 100000; 0
    /// refuses every request).
    #[arg(long, value_name = "N", value_parser = number::whole(0u32, 100_000))]
    rate_limit: Option<u32>,
    /// Model Smartcar's application rate limit: a token bucket of CAPACITY requests (1 to
    /// 100000), full at start, refilling 2 per minute (Smartcar's: --bucket 120) unless
    /// --refill-per-minute says otherwise; an empty bucket answers 429 RATE_LIMIT/SMARTCAR_API.
    #[arg(long, value_name = "CAPACITY", value_parser = number::whole(1u32, 100_000))]
    bucket: Option<u32>,
    /// Tokens the --bucket regains per minute, a decimal from 0.001 to 1000000 (10 is one
    /// every 6 s).
    // So the refill interval, 60 s / R, is neither zero nor more than a `Duration` holds.
    #[arg(
        long,
        value_name = "R",
        requires = "bucket",
        value_parser = number::decimal(0.001, 1_000_000.0)
    )]
    refill_per_minute: Option<f64>,
    /// Give the --bucket's 429s a retry-after header (seconds until its next token), which
    /// Smartcar's own bucket does not promise.
    #[arg(long, requires = "bucket")]
    bucket_retry_after: bool,
    /// Serve at most N connections a page (1 to 100000) whatever page[size] asks, with
    /// meta.pageSize and the links saying N, as a real server caps pages.
    #[arg(long, value_name = "N", value_parser = number::whole(1u32, 100_000))]
    max_page_size: Option<u32>,
    /// Write absolute links instead of /connections?... ones.
    #[arg(long)]
    absolute_links: bool,
    /// Before every page request but the first, remove N connections and add N new ones on
    /// top, so a listing in progress sees its data move (0 to 10000).
    #[arg(long, value_name = "N", default_value_t = 0, value_parser = number::whole(0u32, 10_000))]
    churn: u32,
    /// Serve POST {origin}/oauth2/token for this client id (with --client-secret), issuing
    /// application tokens the API accepts until they expire.
    #[arg(long, requires = "client_secret")]
    client_id: Option<String>,
    /// The client secret the token endpoint accepts.
    #[arg(long, requires = "client_id")]
    client_secret: Option<String>,
    /// Lifetime of issued tokens, as --timeout (a bare number is seconds), from 1s (the
    /// token endpoint says whole seconds, and a client refuses 0) to 30 days.
    #[arg(
        long,
        value_name = "DURATION",
        default_value = "1h",
        value_parser = duration::parser(TOKEN_LIFETIMES)
    )]
    token_lifetime: Duration,
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

/// The longest delay the sandbox's millisecond flags take: a minute per answer or chunk.
const MAX_MS: u64 = 60_000;

/// What the sandbox's `--token-lifetime` accepts: whole seconds on the wire, so at least 1,
/// and at most 30 days.
const TOKEN_LIFETIMES: duration::Bounds =
    duration::Bounds::new(Duration::from_secs(1), Duration::from_secs(30 * 24 * 3600));

/// The command's definition as parsed: a flag whose values are checked (a number, a
/// duration, a choice) takes any value starting with `-` too, so `--timeout -1` or `--mode
/// -x` is refused by the flag's own parser, naming the flag and what it accepts, rather
/// than read as an unknown flag `-1`; free text (ids, URLs, paths) takes negative numbers.
fn definition() -> clap::Command {
    fn negatives(arg: clap::Arg) -> clap::Arg {
        let free_text = [
            clap::value_parser!(String).type_id(),
            clap::value_parser!(std::path::PathBuf).type_id(),
        ];
        if !arg.get_action().takes_values() {
            arg
        } else if free_text.contains(&arg.get_value_parser().type_id()) {
            arg.allow_negative_numbers(true)
        } else {
            arg.allow_hyphen_values(true)
        }
    }
    Cli::command()
        .mut_args(negatives)
        .mut_subcommands(|sub| sub.mut_args(negatives))
}

/// Parses the command line. `--help` and `--version` are written to stdout and fail with exit
/// 1 when that write fails (a full disk); usage errors go to stderr with exit 2.
fn parse() -> Result<Cli, ExitCode> {
    use clap::FromArgMatches;
    let error = match definition()
        .try_get_matches()
        .and_then(|matches| Cli::from_arg_matches(&matches))
    {
        Ok(cli) => return Ok(cli),
        Err(error) => error,
    };
    let code = ExitCode::from(u8::try_from(error.exit_code()).unwrap_or(2));
    if error.use_stderr() {
        let _ = error.print();
        return Err(code);
    }
    let help = error.render();
    let help = if io::stdout().is_terminal() {
        help.ansi().to_string()
    } else {
        help.to_string()
    };
    let mut out = Stdout::lock();
    match out.write_all(help.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Err(code),
        Err(e) => Err(output_failed(&e)),
    }
}

fn main() -> ExitCode {
    let cli = match parse() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    // Warnings (data that moved during a listing) always reach stderr; -v adds a line per
    // request, retry and wait; -vv headers and token fetches. A progress display needs the
    // retries and answers even when they are not printed.
    let console = Arc::new(Console::default());
    let progress = matches!(cli.command, Command::List(_)) && io::stderr().is_terminal();
    tracing_subscriber::registry()
        .with(log::Layer::new(cli.verbose, progress, console.clone()))
        .init();
    match cli.command {
        Command::List(args) => list(args, &console),
        Command::Token(args) => token(args),
        Command::Sandbox(args) => sandbox(args, cli.verbose),
        Command::Completions { shell } => {
            // Generated in memory: clap_complete panics on a write error (a closed pipe).
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut definition(), "connections", &mut script);
            let mut out = Stdout::lock();
            out.write_all(&script)
                .and_then(|()| out.flush())
                .map_or_else(|e| output_failed(&e), |()| ExitCode::SUCCESS)
        }
    }
}

fn usage(message: impl std::fmt::Display) -> ExitCode {
    say!("error: {message}");
    ExitCode::from(2)
}

fn list(args: ListArgs, console: &Arc<Console>) -> ExitCode {
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
            say!("error: could not start the sandbox: {e}");
            return ExitCode::from(4);
        }
    };
    // The sandbox's own token and URL: no SMARTCAR_* variable is read.
    let (credentials, base_url, base_source) = match &embedded {
        Some(s) => (
            Auth::Token(auth::Given {
                value: s.token().to_owned(),
                source: auth::Source::Flag("--sandbox"),
            }),
            s.base_url().to_owned(),
            Some(auth::Source::Flag("--sandbox")),
        ),
        None => {
            let resolved = auth::resolve(
                &args.credentials,
                args.token.as_deref(),
                true,
                auth::env_var,
            );
            let credentials = match resolved {
                Ok(Some(credentials)) => credentials,
                Ok(None) => return usage(format!("{NO_CREDENTIALS} (or use --sandbox)")),
                Err(e) => return usage(e),
            };
            let (base_url, base_source) = match (&args.base_url, auth::env_var(auth::BASE_URL)) {
                (Some(url), _) => (url.clone(), Some(auth::Source::Flag("--base-url"))),
                (None, Some(url)) => (url, Some(auth::Source::Env(auth::BASE_URL))),
                (None, None) => (DEFAULT_BASE_URL.to_owned(), None),
            };
            (credentials, base_url, base_source)
        }
    };
    tracing::debug!(target: "connections", "{}", credentials.describe());
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
        Err(e) => return usage(format!("{} {}", flag_of(e.field()), e.reason())),
    };
    let file = args.checkpoint.clone().map(resume::CheckpointFile::new);
    let saved = match file.as_ref().map(resume::CheckpointFile::load).transpose() {
        Ok(saved) => saved.flatten().map(|saved| {
            saved.rewind_stdout();
            saved.checkpoint
        }),
        Err(e) => return usage(e),
    };
    let mut start = connections_client::ListingStart::new();
    if let Some(saved) = &saved {
        start = start.checkpoint(saved.clone());
    }
    if let Some(cutoff) = args.created_after {
        start = start.created_after(cutoff);
    }
    // Held while a page is printed and saved: Ctrl-C waits for it, then says how to resume.
    let guard: resume::Guard = Arc::new(std::sync::Mutex::new(resume::Progress {
        file: file.as_ref().map(|f| f.path().to_owned()),
        all: args.all,
        next_page: saved.as_ref().and_then(|c| c.next_page()),
    }));
    if args.all
        && let Err(e) = resume::stop_on_signals(guard.clone(), console.clone())
    {
        tracing::warn!(target: "connections", "Ctrl-C will not stop cleanly: {e}");
    }
    let mut newest: Option<String> = None;
    let stdout_terminal = io::stdout().is_terminal();
    let format = args.format.unwrap_or(if stdout_terminal {
        Format::Table
    } else {
        Format::Ndjson
    });
    let table = TableOptions {
        width: terminal_width(stdout_terminal),
        wide: args.wide,
    };
    let stdout = Stdout::lock();
    let mut printer = Printer::new(format, BufWriter::with_capacity(64 * 1024, stdout), table);
    let settings = Settings {
        base_url: &base_url,
        credentials: &credentials,
        network: &args.network,
        ca_pem: ca_pem.as_deref(),
        retries: args.retries,
        max_pages: args.max_pages,
        concurrency: args.concurrency,
        max_rate: args.max_rate,
        burst: args.burst,
        max_wait: args.max_wait,
    };
    console.start_progress();
    if let Some(rate) = args.max_rate {
        console.budget(rate.interval());
    }
    let mut on_page = |listed: Listed<Page<Owned>>| -> io::Result<()> {
        let mut progress = resume::lock(&guard);
        let page = &listed.value;
        let connections = page.connections();
        let mut print = || printer.page(connections);
        // Rows on the terminal the progress display is drawn on: clear it first.
        if stdout_terminal {
            console.suspend(print)?;
        } else {
            print()?;
        }
        console.page(page.meta.as_ref(), connections.len(), printer.written());
        let Some(checkpoint) = &listed.checkpoint else {
            return Ok(());
        };
        // Printed and flushed: only now is the page done, and the checkpoint moves past it.
        if let Some(file) = &file {
            let saved = if checkpoint.is_complete() {
                file.remove()
            } else {
                file.save(checkpoint)
            };
            saved.map_err(|e| {
                let shown = file.path().display();
                io::Error::new(e.kind(), format!("saving --checkpoint {shown}: {e}"))
            })?;
        }
        progress.next_page = checkpoint.next_page();
        newest = checkpoint.newest_created_at().map(String::from);
        Ok(())
    };
    let outcome = match args.transport {
        Transport::Hyper => run_hyper(&settings, request, args.all, &start, &mut on_page),
        Transport::Blocking => run_blocking(&settings, request, args.all, &start, &mut on_page),
    };
    console.finish();
    let hint = resume::lock(&guard).hint();
    match outcome {
        Ok(()) => {
            // For the next incremental run: always when this one was one; for any other
            // listing a detail (-vv), as -v is about requests.
            if let Some(newest) = &newest {
                let next = format!(
                    "newest createdAt listed: {newest} (next time: --created-after {newest})"
                );
                if args.created_after.is_some() {
                    say!("{next}");
                } else {
                    tracing::debug!(target: "connections", "{next}");
                }
            }
            printer
                .finish()
                .map_or_else(|e| output_failed(&e), |()| ExitCode::SUCCESS)
        }
        Err(Failure::Client(Error::Resume(e))) => {
            let file = args
                .checkpoint
                .as_deref()
                .unwrap_or(std::path::Path::new("?"));
            usage(resume_refused(&e, file))
        }
        Err(Failure::Output(e)) => {
            let code = output_failed(&e);
            if let Some(hint) = hint.filter(|_| code != ExitCode::SUCCESS) {
                say!("{hint}");
            }
            code
        }
        Err(Failure::Runtime(e)) => runtime_failed(&e),
        Err(Failure::Client(e)) => {
            let (started, written) = (printer.started(), printer.written());
            // What was printed stays; a JSON array stays open.
            let _ = printer.abandon();
            let given = Given {
                base_url: base_source,
                auth: &credentials,
                proxy: args.network.proxy.is_some(),
            };
            let code = report(&e, &given);
            if started {
                say!(
                    "  the listing is incomplete: {written} connection(s) were printed before \
                     this error"
                );
            }
            if let Some(hint) = hint {
                say!("{hint}");
            }
            code
        }
    }
}

/// Why `--checkpoint FILE` cannot be resumed from, in the flags the user types.
fn resume_refused(e: &connections_core::ResumeError, file: &std::path::Path) -> String {
    use connections_core::ResumeError;
    let file = file.display();
    match e {
        ResumeError::Mismatch {
            what,
            checkpoint,
            listing,
        } => {
            let shown =
                |v: &Option<String>| v.as_deref().map_or("none".to_owned(), |v| format!("{v:?}"));
            format!(
                "--checkpoint {file} is for another listing: its {} is {}, this command's is \
                 {}; run the command that saved it, or remove the file to start again",
                resume::flag_of(*what),
                shown(checkpoint),
                shown(listing)
            )
        }
        other => format!("--checkpoint {file}: {other}"),
    }
}

/// The `list` flag that sets a request parameter, so an error names what was typed.
fn flag_of(field: connections_core::Field) -> &'static str {
    use connections_core::Field;
    match field {
        Field::UserId => "--user-id",
        Field::VehicleId => "--vehicle-id",
        Field::PageNumber => "--page",
        Field::PageSize => "--page-size",
        other => other.query_name(),
    }
}

/// The table's width on a terminal: `$COLUMNS` when set, else the terminal's. None when
/// stdout is not a terminal, whatever `$COLUMNS` says: a table in a pipe or file is data,
/// never trimmed.
fn terminal_width(stdout_terminal: bool) -> Option<usize> {
    if !stdout_terminal {
        return None;
    }
    let columns = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<usize>().ok())
        .filter(|&c| c > 0);
    columns.or_else(|| {
        console::Term::stdout()
            .size_checked()
            .map(|(_, columns)| usize::from(columns))
    })
}

/// The client settings `list` takes from its flags.
struct Settings<'a> {
    base_url: &'a str,
    credentials: &'a Auth,
    network: &'a NetworkArgs,
    ca_pem: Option<&'a [u8]>,
    retries: u32,
    max_pages: u32,
    concurrency: usize,
    max_rate: Option<connections_core::Rate>,
    burst: u32,
    max_wait: Duration,
}

impl Settings<'_> {
    fn builder<C: FromConfig>(&self, builder: Builder<C>) -> Builder<C> {
        let builder = builder.base_url(self.base_url);
        let builder = apply_auth(self.credentials, builder);
        let builder = self
            .network
            .apply(builder, self.ca_pem)
            .retry_policy(RetryPolicy::new().with_max_attempts(self.retries.saturating_add(1)))
            .max_pages(self.max_pages)
            .page_concurrency(self.concurrency)
            .max_rate_limit_wait(self.max_wait)
            .user_agent_suffix(concat!("connections-cli/", env!("CARGO_PKG_VERSION")));
        match self.max_rate {
            Some(rate) => builder.max_rate(rate).burst(self.burst),
            None => builder,
        }
    }
}

/// Why listing stopped.
enum Failure {
    Client(Error),
    Output(io::Error),
    /// The async runtime could not start (no threads or file descriptors left).
    Runtime(io::Error),
}

fn run_hyper(
    settings: &Settings<'_>,
    request: ListConnections<'_>,
    all: bool,
    start: &connections_client::ListingStart,
    on_page: &mut dyn FnMut(Listed<Page<Owned>>) -> io::Result<()>,
) -> Result<(), Failure> {
    // Exchanges run on worker threads, so a reader that blocks stdout (`| less`) never
    // holds a request open while its deadline runs.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(Failure::Runtime)?;
    runtime.block_on(async {
        let client = settings
            .builder(connections_hyper::Client::builder())
            .build()
            .map_err(Failure::Client)?;
        if !all {
            let listed = client.list(&request).await.map_err(Failure::Client)?;
            return on_page(listed).map_err(Failure::Output);
        }
        let pages = client
            .pages_with(&request, start)
            .map_err(Failure::Client)?;
        let mut pages = std::pin::pin!(pages);
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
    start: &connections_client::ListingStart,
    on_page: &mut dyn FnMut(Listed<Page<Owned>>) -> io::Result<()>,
) -> Result<(), Failure> {
    let client = settings
        .builder(connections_blocking::Client::builder())
        .build()
        .map_err(Failure::Client)?;
    if !all {
        let listed = client.list(&request).map_err(Failure::Client)?;
        return on_page(listed).map_err(Failure::Output);
    }
    for page in client
        .pages_with(&request, start)
        .map_err(Failure::Client)?
    {
        on_page(page.map_err(Failure::Client)?).map_err(Failure::Output)?;
    }
    Ok(())
}

/// Exit 1 for any failed write to stdout, except a reader that closed the pipe after taking
/// some output (`connections list | head`): a normal way to stop reading, exit 0 and silent,
/// as ripgrep and fd do.
fn output_failed(e: &io::Error) -> ExitCode {
    if e.kind() == io::ErrorKind::BrokenPipe && Stdout::delivered() {
        return ExitCode::SUCCESS;
    }
    say!("error: writing the output failed: {e}");
    ExitCode::from(1)
}

/// Exit 1 when the async runtime cannot start: a limit of this machine or process (threads,
/// open files), said as such rather than blamed on the output or the network.
fn runtime_failed(e: &io::Error) -> ExitCode {
    say!(
        "error: could not start the async runtime: {e}; check the process's limits on threads \
         and open files (ulimit -u, ulimit -n)"
    );
    ExitCode::from(1)
}

/// Fetches an application token and prints it for scripts: the token on stdout, its expiry
/// on stderr.
fn token(args: TokenArgs) -> ExitCode {
    let ca_pem = match args.network.check() {
        Ok(pem) => pem,
        Err(e) => return usage(e),
    };
    // Only client credentials fetch a token: an exported SMARTCAR_ACCESS_TOKEN (perhaps
    // this command's own output) is not read.
    let credentials = match auth::resolve(&args.credentials, None, false, auth::env_var) {
        Ok(Some(credentials)) => credentials,
        Ok(None) => {
            return usage(
                "no client credentials: pass --client-id and --client-secret (or set \
                 SMARTCAR_CLIENT_ID and SMARTCAR_CLIENT_SECRET)",
            );
        }
        Err(e) => return usage(e),
    };
    tracing::debug!(target: "connections", "{}", credentials.describe());
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => return runtime_failed(&e),
    };
    let fetched = runtime.block_on(async {
        let builder = args
            .network
            .apply(connections_hyper::Client::builder(), ca_pem.as_deref())
            .retry_policy(RetryPolicy::new().with_max_attempts(args.retries.saturating_add(1)))
            .user_agent_suffix(concat!("connections-cli/", env!("CARGO_PKG_VERSION")));
        apply_auth(&credentials, builder)
            .build()?
            .fetch_application_token()
            .await
    });
    match fetched {
        Ok(issued) => {
            let mut out = Stdout::lock();
            let line = format!("{}\n", issued.access_token.expose_secret());
            if let Err(e) = out.write_all(line.as_bytes()).and_then(|()| out.flush()) {
                return output_failed(&e);
            }
            match issued.expires_in {
                Some(life) => say!("expires in {} s", life.as_secs()),
                None => say!("the token endpoint did not say when it expires"),
            }
            ExitCode::SUCCESS
        }
        Err(e) => report(
            &e,
            &Given {
                base_url: None,
                auth: &credentials,
                proxy: args.network.proxy.is_some(),
            },
        ),
    }
}

/// Where the settings a client error may be about came from, so the error names the flag
/// (or variable) to fix rather than the library's setting.
struct Given<'a> {
    /// Of the base URL; `None` for the default.
    base_url: Option<auth::Source>,
    auth: &'a Auth,
    /// Whether --proxy was typed (else proxies come from the environment, and the error
    /// names the variable itself).
    proxy: bool,
}

impl Given<'_> {
    /// The flag or variable behind `error`, if it is about one.
    fn source_of(&self, error: &ConfigError) -> Option<auth::Source> {
        use connections_core::InvalidCredentials;
        let (id, secret, token_url, token) = match self.auth {
            Auth::Credentials {
                id,
                secret,
                token_url,
            } => (Some(id), Some(secret), token_url.as_ref(), None),
            Auth::Token(token) => (None, None, None, Some(token)),
        };
        let given = match error {
            ConfigError::BaseUrl(_) => return self.base_url,
            ConfigError::TokenUrl(_) => token_url,
            ConfigError::Token(_) => token,
            ConfigError::Credentials(InvalidCredentials::ClientId(_)) => id,
            ConfigError::Credentials(InvalidCredentials::Secret(_)) => secret,
            ConfigError::CaCertificate(_) => return Some(auth::Source::Flag("--ca-cert")),
            ConfigError::Proxy(_) if self.proxy => return Some(auth::Source::Flag("--proxy")),
            _ => None,
        };
        given.map(|g| g.source)
    }
}

/// Prints a client error on stderr, naming the flag or variable it is about (`given`), and
/// picks the exit code.
fn report(error: &Error, given: &Given<'_>) -> ExitCode {
    let code = match error {
        Error::Config(_) => 2,
        Error::Api(_)
        | Error::RateLimitWait { .. }
        | Error::TokenEndpoint(
            TokenError::OAuth(_) | TokenError::Response(ResponseError::Api(_)),
        ) => 3,
        Error::Timeout(_)
        | Error::Connect(_)
        | Error::Tls(_)
        | Error::Connection(_)
        | Error::Proxy(_)
        | Error::UnknownHost(_)
        // A request the system or the HTTP library refuses, as a connect failure was before
        // it had a variant; a panicked exchange, as the connection failure it was shown as.
        | Error::Request(_)
        | Error::Panicked(_)
        | Error::TokenSource(_)
        | Error::TokenRequest(_)
        | Error::TokenUnreachable { .. }
        | Error::TokenCancelled => 4,
        _ => 5,
    };
    // Much of this comes from the server: control characters are shown, not obeyed.
    let headline = match error {
        Error::Config(config) => match given.source_of(config) {
            Some(source) => format!("{source}: {config}"),
            None => error.to_string(),
        },
        _ => error.to_string(),
    };
    let mut lines = vec![format!("error: {}", escape_controls(&headline, false))];
    // What the headline is about, each cause on its own line (`error.chain()`'s `{:#}`,
    // escaped line by line).
    for cause in error.chain().causes() {
        let cause = cause.to_string();
        lines.push(format!("  caused by: {}", escape_controls(&cause, false)));
    }
    let mut field = |name: &str, value: &dyn std::fmt::Display| {
        let value = value.to_string();
        lines.push(format!("  {name}: {}", escape_controls(&value, false)));
    };
    if let Error::TokenEndpoint(TokenError::OAuth(oauth)) = error {
        field("status", &oauth.status);
        field("error", &oauth.error);
        if let Some(description) = &oauth.description {
            field("error_description", description);
        }
    }
    if let Error::Api(api) = error {
        field("status", &api.status);
        if let Some(e) = api.first() {
            let fields = [
                ("type", e.kind.as_ref().map(|k| k.as_str())),
                ("code", e.code.as_deref()),
                ("detail", e.detail.as_deref()),
            ];
            for (name, value) in fields {
                if let Some(value) = value {
                    field(name, &value);
                }
            }
            if let Some(message) = &e.suggested_user_message {
                field("suggested user message", message);
            }
        }
        if let Some(id) = &api.request_id {
            field("request id", id);
        }
    }
    lines.push(String::new());
    let _ = io::stderr().lock().write_all(lines.join("\n").as_bytes());
    ExitCode::from(code)
}

fn sandbox(args: SandboxArgs, verbose: u8) -> ExitCode {
    // --bucket alone keeps Smartcar's pace, one token every 30 s.
    let bucket = match (args.bucket, args.refill_per_minute) {
        (None, _) => None,
        (Some(capacity), None) => Some(connections_sandbox::Bucket {
            capacity,
            ..connections_sandbox::Bucket::SMARTCAR
        }),
        (Some(capacity), Some(rate)) => {
            match connections_sandbox::Bucket::with_refill_per_minute(capacity, rate) {
                Some(bucket) => Some(bucket),
                None => return usage(format!("--refill-per-minute {rate} is out of range")),
            }
        }
    };
    let config = SandboxConfig {
        listen: args.listen,
        connections: args.connections,
        seed: args.seed,
        token: args.token,
        latency: Duration::from_millis(args.latency_ms),
        failure_rate: args.failure_rate,
        rate_limit: args.rate_limit,
        bucket,
        bucket_retry_after: args.bucket_retry_after,
        max_page_size: args.max_page_size,
        absolute_links: args.absolute_links,
        churn: args.churn,
        client_id: args.client_id,
        client_secret: args.client_secret,
        token_lifetime: args.token_lifetime,
        tls: args.tls || args.tls_ca_out.is_some(),
        tls_ca_out: args.tls_ca_out.clone(),
        gzip_bomb: args.gzip_bomb,
        data: args.data,
        truncate_rate: args.truncate_rate,
        drip: args.drip_ms.map(Duration::from_millis),
        drip_bytes: args.drip_bytes,
        log_requests: verbose >= 1,
        ..SandboxConfig::default()
    };
    let credentials = config.client_id.is_some();
    // Read --data first: whatever keeps it from being connections (missing, a directory,
    // unreadable, not JSON) is the user's input to fix, exit 2, named by flag and path.
    let dataset = match config
        .data
        .as_deref()
        .map(connections_sandbox::Dataset::load)
    {
        Some(Ok(dataset)) => Some(dataset),
        Some(Err(e)) => return usage(format!("--data: {e}")),
        None => None,
    };
    let spawned = match dataset {
        Some(dataset) => Sandbox::spawn_with_dataset(config, dataset),
        None => Sandbox::spawn(config),
    };
    let sandbox = match spawned {
        Ok(sandbox) => sandbox,
        Err(e) => {
            // A --data file that is not connections is the user's input to fix, not the
            // network's fault.
            if e.kind() == io::ErrorKind::InvalidData || e.kind() == io::ErrorKind::NotFound {
                return usage(format!("could not start the sandbox: {e}"));
            }
            say!("error: could not start the sandbox on {}: {e}", args.listen);
            return ExitCode::from(4);
        }
    };
    let mut out = Stdout::lock();
    let first_line = format!("{}\n", sandbox.base_url());
    if let Err(e) = out
        .write_all(first_line.as_bytes())
        .and_then(|()| out.flush())
    {
        return output_failed(&e);
    }
    drop(out);
    if credentials {
        say!("token URL: {}", sandbox.token_url());
    }
    if let Some(path) = &args.tls_ca_out {
        say!("CA certificate: {} (pass it to --ca-cert)", path.display());
    } else if let Some(pem) = sandbox.ca_certificate_pem() {
        say!("CA certificate (pass it to --ca-cert, or use --tls-ca-out FILE):\n{pem}");
    }
    say!(
        "serving {} connections at {} (token: {}); stop with Ctrl-C",
        sandbox.dataset().connections().len(),
        sandbox.base_url(),
        sandbox.token()
    );
    match sandbox.wait() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            say!("error: the sandbox stopped: {e}");
            ExitCode::from(4)
        }
    }
}
