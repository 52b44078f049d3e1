//! An exchange that panics (here a token source) ends the listing with an error, on its own
//! thread or on the caller's, instead of leaving the listing waiting for it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use connections_blocking::{AccessToken, Error, ListConnections, token_source_fn};
use connections_testkit::{Links, TestServer, listing};

use crate::common::{builder, checked};

/// The call of the token source that panics.
const PANICS_ON: u32 = 3;

/// Lists 40 connections five at a time with a token source that panics on its third call,
/// on a thread of its own so a listing that hangs fails the test instead of stalling it.
fn list_with_a_panicking_source(page_concurrency: usize) -> Vec<Result<usize, Error>> {
    let server = TestServer::start(listing(40, Links::Relative, String::new()));
    let calls = Arc::new(AtomicU32::new(0));
    let client = builder(&server)
        .page_concurrency(page_concurrency)
        .token_source(token_source_fn(move || {
            let call = calls.fetch_add(1, Ordering::SeqCst) + 1;
            if call == PANICS_ON {
                panic!("the token source broke on call {call}");
            }
            Ok(AccessToken::from_string(format!("token-{call}"))?)
        }))
        .build()
        .unwrap();
    let request = ListConnections::builder().page_size(5).build().unwrap();
    let (done, outcome) = mpsc::channel();
    thread::spawn(move || {
        let pages: Vec<_> = client
            .pages(&request)
            .map(|page| page.map(|page| page.connections().len()))
            .collect();
        let _ = done.send(pages);
    });
    // Far beyond the few milliseconds the listing takes: only a hang gets there.
    match outcome.recv_timeout(Duration::from_secs(60)) {
        Ok(pages) => pages,
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("the listing hung after the panic"),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            panic!("the panic unwound out of the listing instead of ending it with an error")
        }
    }
}

/// The listing ended with exactly one error, last, naming the panic.
fn assert_ended_by_the_panic(pages: Vec<Result<usize, Error>>) {
    let (last, before) = pages.split_last().expect("at least the error");
    assert!(before.iter().all(Result::is_ok), "{pages:?}");
    let Err(error) = last else {
        panic!("the listing completed despite the panic: {pages:?}")
    };
    let error = checked(error.replica());
    assert!(matches!(error, Error::Panicked(_)), "{error:?}");
    assert!(
        !error.is_retryable(),
        "a panic is not taken for a network failure"
    );
    let text = error.chain().to_string();
    assert!(
        text.contains("the exchange panicked: the token source broke on call 3"),
        "{text}"
    );
}

#[test]
fn a_panic_on_a_read_ahead_thread_ends_the_listing_with_an_error() {
    assert_ended_by_the_panic(list_with_a_panicking_source(4));
}

#[test]
fn a_panic_on_the_callers_thread_ends_the_listing_with_an_error() {
    assert_ended_by_the_panic(list_with_a_panicking_source(1));
}
