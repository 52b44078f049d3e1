//! Exercises the allocation-free API of connections-core from a `#![no_std]` crate.
#![no_std]

use core::fmt::Write;
use core::panic::PanicInfo;

use connections_core::{
    AccessToken, BaseUrl, Heapless, ListConnections, Mode, Page, Paginator, Response,
};

#[panic_handler]
fn panic(_: &PanicInfo) -> ! {
    loop {}
}

const BODY: &[u8] = br#"{"data":[{"id":"c\u00e9","attributes":{"permissions":["read_vin"]}}],
"links":{"self":"/connections?page[number]=1","first":"/connections?page[number]=1",
"next":"/connections?page[number]=2","last":"/connections?page[number]=2"}}"#;

/// Builds, encodes and sends (nowhere) a request, then decodes and follows a canned page.
/// Returns the number of connections read, or 0 on any failure.
pub extern "C" fn connections_no_std_check() -> usize {
    let Ok(request) = ListConnections::builder()
        .user_id("user 1")
        .mode(Mode::Live)
        .page_size(50)
        .build()
    else {
        return 0;
    };
    let base = BaseUrl::SMARTCAR;
    let Ok(token) = AccessToken::new("secret-token") else {
        return 0;
    };
    let parts = request.parts(&base, &token);
    let Ok(target) = parts.path_and_query::<256>() else {
        return 0;
    };
    let mut headers = heapless::String::<512>::new();
    for header in parts.headers() {
        let _ = write!(headers, "{}: ", header.name);
        let _ = header.write_value(&mut headers);
    }

    let mut scratch = [0u8; 64];
    let response = Response::new(200, BODY).header("content-type", "application/json");
    let page: Page<Heapless<'_, 4, 4, 1>> = match response.page_heapless(&mut scratch) {
        Ok(page) => page,
        Err(_) => return 0,
    };
    let mut pages = Paginator::new(base, request.clone());
    if pages.feed(&page).is_err() || pages.next_request().is_none() {
        return 0;
    }
    core::hint::black_box((&target, &headers));
    page.connections().len()
}
