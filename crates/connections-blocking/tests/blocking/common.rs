//! Shared by the tests: the token, a client per server, fast retry policies, and the check
//! that no error ever shows the token.

use std::time::Duration;

use connections_blocking::{Client, ClientBuilder, Error, RetryPolicy};
use connections_testkit::TestServer;

/// A token distinctive enough that finding it anywhere is a leak.
pub(crate) const TOKEN: &str = "tok-9f8e7d6c5b4a-SECRET_value.~+/";

/// Retries with waits of a few milliseconds, so retry tests are fast.
pub(crate) fn fast_retries(attempts: u32) -> RetryPolicy {
    RetryPolicy::new()
        .with_max_attempts(attempts)
        .with_base_delay(Duration::from_millis(1))
        .with_max_delay(Duration::from_millis(5))
}

/// A builder aimed at `server`, with the token, short timeouts and fast retries.
pub(crate) fn builder(server: &TestServer) -> ClientBuilder {
    Client::builder()
        .base_url(&server.base_url())
        .token(TOKEN)
        .connect_timeout(Duration::from_secs(2))
        .request_timeout(Duration::from_secs(2))
        .retry_policy(fast_retries(3))
}

/// A client aimed at `server`.
pub(crate) fn client(server: &TestServer) -> Client {
    builder(server).build().unwrap()
}

/// Asserts that neither `{}` nor `{:?}` of `error` (nor of any error in its source chain)
/// contains the token, and hands the error back.
pub(crate) fn checked(error: Error) -> Error {
    let mut texts = vec![error.chain().to_string(), format!("{error:?}")];
    let mut source = std::error::Error::source(&error);
    while let Some(inner) = source {
        texts.push(inner.to_string());
        texts.push(format!("{inner:?}"));
        source = inner.source();
    }
    for text in texts {
        assert!(!text.contains(TOKEN), "the token leaked into {text:?}");
        assert!(
            !text.contains("9f8e7d6c5b4a"),
            "part of the token leaked into {text:?}"
        );
    }
    error
}

/// The error of a call that must fail, checked for the token.
pub(crate) fn failure<T: std::fmt::Debug>(result: Result<T, Error>) -> Error {
    checked(result.expect_err("the call should have failed"))
}

/// A v3 error body.
pub(crate) fn error_body(status: u16, kind: &str, code: &str) -> String {
    format!(
        r#"{{"errors":[{{"status":"{status}","type":"{kind}","code":"{code}","title":"{code} title","detail":"what went wrong ({status})","resolution":{{"type":"RETRY_LATER"}},"suggestedUserMessage":"Try again."}}]}}"#
    )
}

/// The origin a request was addressed to, from its `Host` header, for absolute links.
pub(crate) fn origin_of(request: &connections_testkit::Recorded) -> String {
    format!("http://{}", request.header("host").unwrap())
}
