//! Any bytes as a page body: no panic; `decode_page`, `decode_page_owned` and
//! `decode_page_heapless` agree; serde_json into `Page<Owned>` accepts exactly what we accept,
//! with equal values, but for the deliberate differences listed in `check_page`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| connections_fuzz::check_page(body));
