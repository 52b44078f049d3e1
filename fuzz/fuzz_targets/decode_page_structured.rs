//! Page-shaped JSON text built from the fuzzer's bytes (see `connections_fuzz::json`),
//! held to the same checks as `decode_page`: reaches deep fields, escapes and edge integers
//! that random bytes seldom form.
#![no_main]

use arbitrary::Unstructured;
use connections_fuzz::json::{self, Mutation};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok(mutation) = u.arbitrary::<Mutation>() else {
        return;
    };
    let Ok(doc) = json::page(&mut u) else { return };
    let mut text = Vec::new();
    if json::render(&doc, &mut u, &mut text).is_err() {
        return;
    }
    mutation.apply(&mut text);
    connections_fuzz::check_page(&text);
});
