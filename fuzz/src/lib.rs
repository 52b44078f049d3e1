//! What the page-decoding fuzz targets check, shared so the byte-level and the structured
//! target hold the decoder to exactly the same rules.

use connections_core::decode::{Capacity, DecodeError, ErrorKind};
use connections_core::error::ErrorEntry;
use connections_core::{
    Heapless, IntoOwned, Owned, Page, decode_errors, decode_page, decode_page_heapless,
    decode_page_owned,
};
use shape::Shape;

pub mod json;
mod shape;

/// Room the no-allocator decoder gets: small, so capacity errors are reached too.
const N: usize = 4;
const P: usize = 4;
const E: usize = 1;

/// Decodes `body` in every storage and with serde_json, and panics on any disagreement
/// that is not one of the documented, deliberate differences.
pub fn check_page(body: &[u8]) {
    let owned = decode_page_owned(body);

    // One decoder behind three storages: the same value, or the very same error.
    let borrowed = decode_page(body).map(IntoOwned::into_owned);
    assert_eq!(
        owned, borrowed,
        "decode_page and decode_page_owned disagree"
    );
    check_heapless(body, &owned);
    match &owned {
        Ok(page) => {
            // What we decoded, written back by serde_json, decodes to itself.
            let json = serde_json::to_vec(page).expect("a page serializes");
            assert_eq!(
                decode_page_owned(&json).as_ref(),
                Ok(page),
                "re-encoded page"
            );
        }
        Err(e) => {
            assert!(
                e.offset <= body.len(),
                "{e:?} past the end of {} bytes",
                body.len()
            );
            let utf8 = std::str::from_utf8(body).err().map(|u| u.valid_up_to());
            let said = (e.kind == ErrorKind::InvalidUtf8).then_some(e.offset);
            assert_eq!(
                said, utf8,
                "InvalidUtf8 exactly when the body is not UTF-8, where"
            );
            let _ = e.to_string();
        }
    }

    let theirs = serde_json::from_slice::<Page<Owned>>(body);
    match (&owned, theirs) {
        (Ok(ours), Ok(theirs)) => assert_eq!(ours, &theirs, "values differ from serde_json"),
        (Err(_), Err(_)) => {}
        (Ok(ours), Err(e)) => {
            // serde_json reads `-0` as the float -0.0 (to keep its sign) and so refuses it
            // for an i64; we read the integer 0, which is what the number means. With every
            // `-0` written as `0` serde_json must agree with us exactly.
            let zeroed = normalize_negative_zero(body);
            assert!(
                zeroed.is_some(),
                "we accepted a page serde_json refuses ({e}): {ours:?}"
            );
            let theirs = serde_json::from_slice::<Page<Owned>>(&zeroed.unwrap_or_default());
            assert_eq!(theirs.as_ref().ok(), Some(ours), "after -0 → 0: {theirs:?}");
        }
        (Err(ours), Ok(theirs)) => assert!(
            serde_json_is_lenient_here(body, ours, shape::PAGE),
            "we refused ({ours}) a page serde_json accepts: {theirs:?}"
        ),
    }
}

/// An error body as serde_json reads it with the models' own `Deserialize`.
#[derive(Debug, serde::Deserialize)]
struct ErrorBody {
    errors: Vec<ErrorEntry<Owned>>,
}

/// `decode_errors` against serde_json into the same models, as `check_page` does for pages.
pub fn check_errors(body: &[u8]) {
    let ours =
        decode_errors(body).map(|e| e.into_iter().map(IntoOwned::into_owned).collect::<Vec<_>>());
    let theirs = serde_json::from_slice::<ErrorBody>(body).map(|b| b.errors);
    match (&ours, theirs) {
        (Ok(ours), Ok(theirs)) => assert_eq!(ours, &theirs, "error values differ from serde_json"),
        (Err(_), Err(_)) => {}
        (Ok(ours), Err(e)) => assert!(
            ours.iter()
                .any(|entry| entry.status.as_deref().is_some_and(number_serde_refuses)),
            "we accepted an error body serde_json refuses ({e}): {ours:?}"
        ),
        (Err(ours), Ok(theirs)) => assert!(
            serde_json_is_lenient_here(body, ours, shape::ERROR_BODY),
            "we refused ({ours}) an error body serde_json accepts: {theirs:?}"
        ),
    }
}

/// Whether `status` is a JSON number that `ErrorEntry`'s `Deserialize` refuses: we keep any
/// number's text (`1.5`, `4.29e2`, `-0`, 2^64), it takes only integers that fit `i64` or
/// `u64` (it sees a float for the rest and cannot know the text). This is the one place the
/// two decoders of the same model disagree on valid JSON; see FUZZING.md.
fn number_serde_refuses(status: &str) -> bool {
    let is_number = status.starts_with(['-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9'])
        && serde_json::from_str::<serde::de::IgnoredAny>(status).is_ok();
    let integer = status.parse::<i64>().is_ok() || status.parse::<u64>().is_ok();
    is_number && (!integer || status == "-0")
}

/// Whether serde_json accepted `body` only through a leniency we deliberately lack.
fn serde_json_is_lenient_here(body: &[u8], ours: &DecodeError, shape: Shape) -> bool {
    match ours.kind {
        // serde_json skips unknown fields without validating UTF-8 or `\u` surrogates in
        // their strings, and skips them without a depth limit (its `ignore_value` keeps an
        // explicit stack). We validate the whole body (RFC 8259) and bound all nesting at
        // 127, the same limit serde_json applies to everything it does read. So serde_json
        // reading every value (into a `Value`) must refuse the body as well.
        ErrorKind::InvalidUtf8 | ErrorKind::LoneSurrogate | ErrorKind::TooDeep => {
            serde_json::from_slice::<serde_json::Value>(body).is_err()
        }
        // serde's derived structs also accept a JSON array of their fields in order
        // (`[[{"id":"x"}]]` is a page). The contract says objects, so we refuse arrays.
        ErrorKind::InvalidType { .. } => shape::has_struct_as_array(body, shape),
        _ => false,
    }
}

/// `body` with each number token `-0` (not `-0.5`, `-0e1`) written as ` 0`, or `None` when
/// there is none. Only meaningful for valid JSON, which is the only place it is used.
pub fn normalize_negative_zero(body: &[u8]) -> Option<Vec<u8>> {
    let mut out = body.to_vec();
    let (mut in_string, mut escaped, mut found) = (false, false, false);
    for i in 0..out.len() {
        let b = out[i];
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
        } else if b == b'"' {
            in_string = true;
        } else if b == b'-'
            && out.get(i + 1) == Some(&b'0')
            && !matches!(out.get(i + 2), Some(b'0'..=b'9' | b'.' | b'e' | b'E'))
        {
            out[i] = b' ';
            found = true;
        }
    }
    found.then_some(out)
}

/// The no-allocator decoder, with a scratch buffer as large as the body (always enough:
/// unescaping never makes text longer), agrees with the owned one except where its fixed
/// lists are too small, and then it says exactly which list and how many were needed.
fn check_heapless(body: &[u8], owned: &Result<Page<Owned>, DecodeError>) {
    let mut scratch = vec![0u8; body.len()];
    let heapless: Result<Page<Heapless<'_, N, P, E>>, _> = decode_page_heapless(body, &mut scratch);
    let heapless = heapless.map(IntoOwned::into_owned);
    match (owned, heapless) {
        (Ok(page), Ok(small)) => assert_eq!(page, &small, "heapless value differs"),
        (Err(e), Err(small)) => assert_eq!(e, &small, "heapless error differs"),
        (Err(e), Ok(_)) => panic!("heapless accepted what the owned decoder refused: {e}"),
        (Ok(page), Err(small)) => {
            let expected = expected_overflow(page);
            assert!(
                expected.is_some(),
                "heapless refused a page that fits: {small}"
            );
            let (what, needed, capacity) = expected.unwrap_or((Capacity::Scratch, 0, 0));
            let kind = ErrorKind::Capacity {
                what,
                needed,
                capacity,
            };
            // Reported once the whole body has been read, trailing whitespace included.
            let offset = body.len();
            assert_eq!(
                small,
                DecodeError { kind, offset },
                "heapless capacity error"
            );
        }
    }
}

/// Which fixed list overflows first in document order, how much it needed and had.
fn expected_overflow(page: &Page<Owned>) -> Option<(Capacity, usize, usize)> {
    let permissions = |c: &connections_core::Connection<Owned>| {
        c.attributes
            .as_ref()
            .and_then(|a| a.permissions.as_ref())
            .map_or(0, Vec::len)
    };
    let most_permissions = page.data.iter().map(permissions).max().unwrap_or(0);
    // A connection's permissions are read before the connection itself is pushed.
    for (i, c) in page.data.iter().enumerate() {
        if permissions(c) > P {
            return Some((Capacity::Permissions, most_permissions, P));
        }
        if i == N {
            return Some((Capacity::Connections, page.data.len(), N));
        }
    }
    None
}
