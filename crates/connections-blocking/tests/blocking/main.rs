//! Integration tests of the blocking transport against `connections-testkit` servers on
//! 127.0.0.1: the happy path, API errors and retries, hostile servers, pagination rules, TLS,
//! application tokens, tracing, and real networks (gzip, proxies, trust, DNS). Every error a
//! test sees is checked for the token (see `common::checked`).
#![allow(clippy::unwrap_used)]

mod common;
mod errors;
mod hostile;
mod listing;
mod network;
mod pagination;
mod panics;
mod tls;
mod tokens;
mod tracing_spans;
