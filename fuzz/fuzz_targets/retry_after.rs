//! Any text as a `Retry-After` value: `parse` and `parse_at` never panic, nor does
//! `delay_from` for any `now`; whole seconds round-trip, digits-only text is always a delay,
//! and a parsed HTTP-date written back as an IMF-fixdate parses to the same instant.
//!
//! The input is the header value itself (invalid UTF-8 replaced, as a transport's lossy read
//! would); it is checked against a set of `now`s from 1970's edges to `i64`'s, and its first
//! eight bytes also make a number of seconds to round-trip.
#![no_main]

use std::time::Duration;

use connections_core::{InvalidRetryAfter, RetryAfter, UnixTime};
use libfuzzer_sys::fuzz_target;

struct Input<'a> {
    value: &'a str,
    now: i64,
    secs: u64,
}

/// Clocks to read the value against: extremes, the epoch, 1994, today, 2060, and 10000 AD.
const NOWS: [i64; 8] = [
    i64::MIN,
    -1,
    0,
    784_111_777,
    1_764_000_000,
    2_853_000_000,
    253_402_300_800,
    i64::MAX,
];

fuzz_target!(|data: &[u8]| {
    let value = String::from_utf8_lossy(data);
    let mut first = [0u8; 8];
    let n = data.len().min(8);
    first[..n].copy_from_slice(&data[..n]);
    let secs = u64::from_le_bytes(first);
    for now in NOWS {
        check(&Input {
            value: &value,
            now,
            secs,
        });
    }
});

fn check(input: &Input<'_>) {
    let now = UnixTime(input.now);
    let parsed = RetryAfter::parse(input.value);
    let parsed_at = RetryAfter::parse_at(input.value, now);
    for r in [parsed, parsed_at].into_iter().flatten() {
        let _ = r.delay_from(now);
        let _ = r.delay_from(UnixTime(i64::MIN));
        let _ = r.delay_from(UnixTime(i64::MAX));
    }
    // Only RFC 850's two-digit years depend on `now`.
    if parsed != parsed_at {
        assert!(
            input.value.contains('-'),
            "{:?}: {parsed:?} vs {parsed_at:?}",
            input.value
        );
    }

    let trimmed = input.value.trim_ascii();
    if trimmed.is_empty() {
        assert_eq!(parsed, Err(InvalidRetryAfter::Empty));
    } else if trimmed.bytes().all(|b| b.is_ascii_digit()) {
        // Digits only: delta-seconds, saturating rather than failing.
        let secs = trimmed.parse::<u64>().unwrap_or(u64::MAX);
        assert_eq!(parsed, Ok(RetryAfter::Delay(Duration::from_secs(secs))));
    }
    match parsed {
        Ok(RetryAfter::Delay(d)) => {
            assert_eq!(
                RetryAfter::parse(&d.as_secs().to_string()),
                Ok(RetryAfter::Delay(d))
            );
            assert_eq!(RetryAfter::Delay(d).delay_from(now), d);
        }
        Ok(RetryAfter::At(at)) => {
            if let Some(text) = imf_fixdate(at) {
                assert_eq!(RetryAfter::parse(&text), Ok(RetryAfter::At(at)), "{text}");
            }
            let expected = u64::try_from(at.0.saturating_sub(input.now)).unwrap_or(0);
            assert_eq!(
                RetryAfter::At(at).delay_from(now),
                Duration::from_secs(expected)
            );
        }
        _ => {}
    }

    let delay = Ok(RetryAfter::Delay(Duration::from_secs(input.secs)));
    assert_eq!(RetryAfter::parse(&input.secs.to_string()), delay);
    assert_eq!(RetryAfter::parse(&format!(" \t{}\r\n", input.secs)), delay);
}

/// `Sun, 06 Nov 1994 08:49:37 GMT`, written independently of the parser; `None` for years
/// outside 0..=9999, which the format cannot carry.
fn imf_fixdate(at: UnixTime) -> Option<String> {
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let t = time::OffsetDateTime::from_unix_timestamp(at.0).ok()?;
    (0..=9999).contains(&t.year()).then(|| {
        format!(
            "{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT",
            DAYS[usize::from(t.weekday().number_days_from_monday())],
            t.day(),
            MONTHS[usize::from(u8::from(t.month()) - 1)],
            t.year(),
            t.hour(),
            t.minute(),
            t.second(),
        )
    })
}
