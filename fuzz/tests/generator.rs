//! The structured generator mostly writes pages both decoders accept, with items in them,
//! so the structured target spends its time deep in the decoder rather than at byte 0.
#![allow(clippy::unwrap_used)] // a test: a panic is the failure report

use arbitrary::Unstructured;
use connections_fuzz::json::{self, Mutation};

#[test]
fn most_generated_documents_are_pages_with_items() {
    let (mut accepted, mut with_items, runs) = (0, 0, 2000u32);
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    for _ in 0..runs {
        let bytes: Vec<u8> = (0..4096)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect();
        let mut u = Unstructured::new(&bytes);
        let mutation: Mutation = u.arbitrary().unwrap();
        let doc = json::page(&mut u).unwrap();
        let mut text = Vec::new();
        json::render(&doc, &mut u, &mut text).unwrap();
        mutation.apply(&mut text);
        connections_fuzz::check_page(&text);
        if let Ok(page) = connections_core::decode_page_owned(&text) {
            accepted += 1;
            with_items += u32::from(!page.data.is_empty());
        }
    }
    eprintln!("{accepted} of {runs} accepted, {with_items} with items");
    // About 60% and 45% when written; the rest spread over every kind of decode error.
    assert!(
        accepted * 5 >= runs * 2,
        "only {accepted} of {runs} accepted"
    );
    assert!(
        with_items * 4 >= runs,
        "only {with_items} of {runs} had items"
    );
}
