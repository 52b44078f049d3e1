//! The `Retry-After` header (RFC 9110 §10.2.3): delta-seconds or an HTTP-date.
//!
//! Smartcar answers 429 with `retry-after: <seconds>`, but proxies and other servers may send a
//! date, so all forms recipients must accept are parsed. Nothing here reads a clock: the
//! transport passes `now` as a [`UnixTime`].

use core::{fmt, str::FromStr, time::Duration};

use time::{
    Date, PrimitiveDateTime, Time, format_description::BorrowedFormatItem,
    macros::format_description, parsing::Parsed,
};

/// A point in time as whole seconds since the Unix epoch (UTC), negative before 1970.
///
/// HTTP-dates have one-second resolution, so whole seconds are all that is needed; a plain
/// `i64` is what every clock hands out and keeps the `time` crate out of the public API.
/// Round `now` *down* (as the `SystemTime` conversion does) so a wait is never shortened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UnixTime(pub i64);

#[cfg(feature = "std")]
impl From<std::time::SystemTime> for UnixTime {
    /// Rounds down to the whole second and saturates far outside the `i64` range.
    fn from(t: std::time::SystemTime) -> Self {
        match t.duration_since(std::time::UNIX_EPOCH) {
            Ok(after) => UnixTime(i64::try_from(after.as_secs()).unwrap_or(i64::MAX)),
            Err(before) => {
                let d = before.duration();
                let secs = d.as_secs().saturating_add(u64::from(d.subsec_nanos() > 0));
                UnixTime(i64::try_from(secs).map_or(i64::MIN, |s| -s))
            }
        }
    }
}

/// A parsed `Retry-After` value: how long the server asks the client to wait.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RetryAfter {
    /// `delta-seconds`: wait this long from when the response arrived.
    /// Values beyond `u64::MAX` seconds saturate.
    Delay(Duration),
    /// An HTTP-date: wait until this instant.
    At(UnixTime),
}

/// Two-digit RFC 850 years resolve as if `now` were in 2019 when [`RetryAfter::parse`] has no
/// `now`: the 100-year window 1970..=2069.
const TWO_DIGIT_YEAR_REFERENCE: i32 = 2019;

impl RetryAfter {
    /// Parses a header value; surrounding whitespace is ignored.
    ///
    /// Accepts delta-seconds (`120`) and the three HTTP-date formats: IMF-fixdate
    /// (`Sun, 06 Nov 1994 08:49:37 GMT`), RFC 850 (`Sunday, 06-Nov-94 08:49:37 GMT`) and asctime
    /// (`Sun Nov  6 08:49:37 1994`). A date whose weekday disagrees with its day is rejected.
    /// Two-digit RFC 850 years are read into 1970..=2069; use [`RetryAfter::parse_at`] to apply
    /// RFC 9110's rule against the real `now`.
    pub fn parse(value: &str) -> Result<Self, InvalidRetryAfter> {
        Self::parse_with_year(value, TWO_DIGIT_YEAR_REFERENCE)
    }

    /// Like [`RetryAfter::parse`], but resolves a two-digit RFC 850 year as RFC 9110 requires:
    /// a year more than 50 years after `now` means the previous century.
    pub fn parse_at(value: &str, now: UnixTime) -> Result<Self, InvalidRetryAfter> {
        Self::parse_with_year(value, year_of(now))
    }

    fn parse_with_year(value: &str, now_year: i32) -> Result<Self, InvalidRetryAfter> {
        let value = value.trim_ascii();
        if value.is_empty() {
            return Err(InvalidRetryAfter::Empty);
        }
        if value.bytes().all(|b| b.is_ascii_digit()) {
            // Saturate instead of failing: "wait longer than we can count" still means "too long".
            let secs = value.bytes().fold(0u64, |acc, b| {
                acc.saturating_mul(10).saturating_add(u64::from(b - b'0'))
            });
            return Ok(Self::Delay(Duration::from_secs(secs)));
        }
        parse_http_date(value.as_bytes(), now_year).map(Self::At)
    }

    /// The wait counted from `now`; a date in the past means no wait.
    pub fn delay_from(&self, now: UnixTime) -> Duration {
        match *self {
            Self::Delay(delay) => delay,
            Self::At(at) => {
                let secs = at.0.saturating_sub(now.0);
                Duration::from_secs(u64::try_from(secs).unwrap_or(0))
            }
        }
    }
}

impl FromStr for RetryAfter {
    type Err = InvalidRetryAfter;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Self::parse(value)
    }
}

/// Why a `Retry-After` value could not be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum InvalidRetryAfter {
    /// The value was empty or only whitespace.
    Empty,
    /// Neither delta-seconds nor an HTTP-date (e.g. `-1`, `1.5`, a typo in a date).
    Malformed,
    /// Shaped like an HTTP-date, but no such instant exists (e.g. 30 February, hour 24,
    /// or a weekday that does not match the day).
    ImpossibleDate,
}

impl fmt::Display for InvalidRetryAfter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self {
            Self::Empty => "Retry-After header is empty",
            Self::Malformed => {
                "Retry-After header is neither whole seconds nor an HTTP-date (RFC 9110 §10.2.3)"
            }
            Self::ImpossibleDate => "Retry-After header names a date that does not exist",
        };
        write!(
            f,
            "{what}; ignore it and fall back to the retry policy's backoff"
        )
    }
}

impl core::error::Error for InvalidRetryAfter {}

const IMF_FIXDATE: &[BorrowedFormatItem<'_>] = format_description!(
    "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
);
const RFC_850: &[BorrowedFormatItem<'_>] = format_description!(
    "[weekday repr:long], [day]-[month repr:short]-[year repr:last_two] [hour]:[minute]:[second] GMT"
);
// `padding:space` accepts both `Nov  6` (as RFC 9110 writes it) and `Nov 06`.
const ASCTIME: &[BorrowedFormatItem<'_>] = format_description!(
    "[weekday repr:short] [month repr:short] [day padding:space] [hour]:[minute]:[second] [year]"
);

fn parse_http_date(input: &[u8], now_year: i32) -> Result<UnixTime, InvalidRetryAfter> {
    // `[year]` would also take a sign (`+1994`); HTTP-dates never carry one.
    let unsigned = !input.iter().any(|&b| b == b'+' || b == b'-');
    let formats: [(&[BorrowedFormatItem<'_>], bool); 3] = [
        (IMF_FIXDATE, unsigned),
        (RFC_850, true),
        (ASCTIME, unsigned),
    ];
    let parsed = formats
        .iter()
        .filter(|(_, allowed)| *allowed)
        .find_map(|(format, _)| {
            let mut parsed = Parsed::new();
            match parsed.parse_items(input, format) {
                Ok([]) => Some(parsed),
                _ => None,
            }
        })
        .ok_or(InvalidRetryAfter::Malformed)?;
    to_unix(&parsed, now_year).ok_or(InvalidRetryAfter::ImpossibleDate)
}

fn to_unix(parsed: &Parsed, now_year: i32) -> Option<UnixTime> {
    let year = match (parsed.year(), parsed.year_last_two()) {
        (Some(year), _) => year,
        (None, Some(last_two)) => resolve_two_digit_year(last_two, now_year),
        (None, None) => return None,
    };
    let date = Date::from_calendar_date(year, parsed.month()?, parsed.day()?.get()).ok()?;
    if date.weekday() != parsed.weekday()? {
        return None;
    }
    let time = Time::from_hms(parsed.hour_24()?, parsed.minute()?, parsed.second()?).ok()?;
    Some(UnixTime(
        PrimitiveDateTime::new(date, time)
            .assume_utc()
            .unix_timestamp(),
    ))
}

/// RFC 9110: the year ending in `last_two` within (now - 50, now + 50].
fn resolve_two_digit_year(last_two: u8, now_year: i32) -> i32 {
    let year = now_year - now_year.rem_euclid(100) + i32::from(last_two);
    if year > now_year + 50 {
        year - 100
    } else if year <= now_year - 50 {
        year + 100
    } else {
        year
    }
}

/// The calendar year of `now`, clamped to the years `time` can represent.
fn year_of(now: UnixTime) -> i32 {
    match time::OffsetDateTime::from_unix_timestamp(now.0) {
        Ok(t) => t.year(),
        Err(_) if now.0 < 0 => Date::MIN.year(),
        Err(_) => Date::MAX.year(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUN_1994: UnixTime = UnixTime(784_111_777); // Sun, 06 Nov 1994 08:49:37 GMT

    fn at(s: &str) -> Result<RetryAfter, InvalidRetryAfter> {
        RetryAfter::parse(s)
    }

    #[test]
    fn delta_seconds() {
        assert_eq!(at("120"), Ok(RetryAfter::Delay(Duration::from_secs(120))));
        assert_eq!(at("0"), Ok(RetryAfter::Delay(Duration::ZERO)));
        assert_eq!(at("007"), Ok(RetryAfter::Delay(Duration::from_secs(7))));
        assert_eq!("30".parse(), Ok(RetryAfter::Delay(Duration::from_secs(30))));
    }

    #[test]
    fn huge_seconds_saturate() {
        let max = Ok(RetryAfter::Delay(Duration::from_secs(u64::MAX)));
        assert_eq!(at("18446744073709551615"), max);
        assert_eq!(at("18446744073709551616"), max);
        assert_eq!(at("99999999999999999999999999999999999999999"), max);
    }

    #[test]
    fn rejects_non_numbers() {
        for bad in [
            "-1", "+1", "1.5", "1e3", "0x10", "12 34", "abc", "１２", "1s", "∞",
        ] {
            assert_eq!(at(bad), Err(InvalidRetryAfter::Malformed), "{bad:?}");
        }
        for empty in ["", " ", "\t \r\n"] {
            assert_eq!(at(empty), Err(InvalidRetryAfter::Empty), "{empty:?}");
        }
    }

    #[test]
    fn whitespace_is_trimmed() {
        assert_eq!(
            at(" \t120 \r\n"),
            Ok(RetryAfter::Delay(Duration::from_secs(120)))
        );
        assert_eq!(
            at("  Sun, 06 Nov 1994 08:49:37 GMT\t"),
            Ok(RetryAfter::At(SUN_1994))
        );
    }

    #[test]
    fn the_three_date_formats() {
        for s in [
            "Sun, 06 Nov 1994 08:49:37 GMT",
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
            "Sun Nov 06 08:49:37 1994",
        ] {
            assert_eq!(at(s), Ok(RetryAfter::At(SUN_1994)), "{s:?}");
        }
    }

    #[test]
    fn leap_years() {
        // 2024 is a leap year, 2100 is not, 2000 is.
        assert_eq!(
            at("Thu, 29 Feb 2024 00:00:00 GMT"),
            Ok(RetryAfter::At(UnixTime(1_709_164_800)))
        );
        assert_eq!(
            at("Tue, 29 Feb 2000 12:00:00 GMT"),
            Ok(RetryAfter::At(UnixTime(951_825_600)))
        );
        assert_eq!(
            at("Fri, 01 Mar 2024 00:00:00 GMT"),
            Ok(RetryAfter::At(UnixTime(1_709_251_200)))
        );
        assert_eq!(
            at("Mon, 29 Feb 2100 00:00:00 GMT"),
            Err(InvalidRetryAfter::ImpossibleDate)
        );
        assert_eq!(
            at("Thu, 29 Feb 2023 00:00:00 GMT"),
            Err(InvalidRetryAfter::ImpossibleDate)
        );
    }

    #[test]
    fn invalid_names_and_fields() {
        for s in [
            "Sun, 06 Nox 1994 08:49:37 GMT", // month
            "Snu, 06 Nov 1994 08:49:37 GMT", // weekday
            "sun, 06 nov 1994 08:49:37 gmt", // case-sensitive per RFC 9110
            "Sun, 06 Nov 1994 08:49:37 UTC",
            "Sun, 6 Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 94 08:49:37 GMT",
            "Sun, 06 Nov +994 08:49:37 GMT",
            "Sun, 06 Nov 1994 08:49:37 GMT junk",
            "Sun, 06 Nov 1994 08:49 GMT",
            "Sun, 06 Nov 1994 25:00:00 GMT", // two digits, but no hour 25 exists for the parser
            "Sun, 06 Nov 1994 08:60:00 GMT",
            "Sun, 06 Nov 1994 08:49:60 GMT", // leap seconds are not accepted
            "Sun, 32 Nov 1994 08:49:37 GMT",
            "Sun, 00 Nov 1994 08:49:37 GMT",
            "Sun, 06-Nov-94 08:49:37 GMT", // RFC 850 needs the long weekday
            "Sunday, 06 Nov 1994 08:49:37 GMT",
            "Sun Nov  6 08:49:37 +994",
            "Sun Nov   6 08:49:37 1994",
        ] {
            assert!(at(s).is_err(), "{s:?}");
        }
        // Well-formed, but no such day: 31 November, or the wrong weekday.
        assert_eq!(
            at("Mon, 31 Nov 1994 08:49:37 GMT"),
            Err(InvalidRetryAfter::ImpossibleDate)
        );
        assert_eq!(
            at("Mon, 06 Nov 1994 08:49:37 GMT"),
            Err(InvalidRetryAfter::ImpossibleDate)
        );
        assert_eq!(
            at("Monday, 06-Nov-94 08:49:37 GMT"),
            Err(InvalidRetryAfter::ImpossibleDate)
        );
    }

    #[test]
    fn two_digit_years_follow_the_fifty_year_rule() {
        assert_eq!(resolve_two_digit_year(94, 2026), 1994);
        assert_eq!(resolve_two_digit_year(76, 2026), 2076);
        assert_eq!(resolve_two_digit_year(77, 2026), 1977);
        assert_eq!(resolve_two_digit_year(0, 2099), 2100);
        assert_eq!(resolve_two_digit_year(49, 2099), 2149);
        assert_eq!(resolve_two_digit_year(50, 2099), 2050);
        assert_eq!(resolve_two_digit_year(69, 2019), 2069);
        assert_eq!(resolve_two_digit_year(70, 2019), 1970);
        assert_eq!(resolve_two_digit_year(5, -9999), -9995);
        // In 2060, "06-Nov-94" is 2094 (34 years ahead), not 1994.
        let now_2060 = UnixTime(2_853_000_000);
        let want = at("Sat, 06 Nov 2094 08:49:37 GMT").ok();
        assert_eq!(
            RetryAfter::parse_at("Saturday, 06-Nov-94 08:49:37 GMT", now_2060).ok(),
            want
        );
        assert!(want.is_some());
        // Extreme `now`s neither panic nor invent dates past what `time` can hold.
        for now in [i64::MIN, -1, 0, i64::MAX] {
            let _ = RetryAfter::parse_at("Sunday, 06-Nov-94 08:49:37 GMT", UnixTime(now));
        }
    }

    #[test]
    fn delay_from_now() {
        let date = RetryAfter::At(SUN_1994);
        assert_eq!(
            date.delay_from(UnixTime(SUN_1994.0 - 90)),
            Duration::from_secs(90)
        );
        assert_eq!(date.delay_from(SUN_1994), Duration::ZERO);
        assert_eq!(date.delay_from(UnixTime(SUN_1994.0 + 1)), Duration::ZERO);
        assert_eq!(date.delay_from(UnixTime(i64::MAX)), Duration::ZERO);
        let secs = RetryAfter::Delay(Duration::from_secs(5));
        assert_eq!(secs.delay_from(UnixTime(i64::MIN)), Duration::from_secs(5));
        let far = RetryAfter::At(UnixTime(i64::MAX));
        assert_eq!(
            far.delay_from(UnixTime(i64::MIN)),
            Duration::from_secs(i64::MAX as u64)
        );
    }

    #[test]
    fn error_display_says_what_to_do() {
        let mut buf = heapless::String::<160>::new();
        fmt::write(&mut buf, format_args!("{}", InvalidRetryAfter::Malformed)).ok();
        assert!(
            buf.contains("neither whole seconds nor an HTTP-date"),
            "{buf}"
        );
        assert!(buf.contains("fall back"), "{buf}");
    }

    #[cfg(feature = "std")]
    #[test]
    fn from_system_time_rounds_down() {
        use std::time::UNIX_EPOCH;
        let t = UNIX_EPOCH + Duration::from_millis(1_500);
        assert_eq!(UnixTime::from(t), UnixTime(1));
        let t = UNIX_EPOCH - Duration::from_millis(1_500);
        assert_eq!(UnixTime::from(t), UnixTime(-2));
        assert_eq!(UnixTime::from(UNIX_EPOCH), UnixTime(0));
    }

    #[cfg(feature = "std")]
    mod prop {
        use super::*;
        use alloc::format;
        use proptest::prelude::*;

        /// A tiny IMF-fixdate formatter, independent of the parser under test.
        fn imf_fixdate(t: time::OffsetDateTime) -> alloc::string::String {
            const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
            const MONTHS: [&str; 12] = [
                "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
            ];
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
        }

        proptest! {
            #[test]
            fn any_u32_seconds_round_trip(secs: u32) {
                let want = RetryAfter::Delay(Duration::from_secs(u64::from(secs)));
                prop_assert_eq!(RetryAfter::parse(&format!("{secs}")), Ok(want));
                prop_assert_eq!(RetryAfter::parse(&format!(" {secs}\t")), Ok(want));
            }

            #[test]
            fn any_str_never_panics(s in any::<alloc::string::String>(), now: i64) {
                let _ = RetryAfter::parse(&s);
                if let Ok(r) = RetryAfter::parse_at(&s, UnixTime(now)) {
                    let _ = r.delay_from(UnixTime(now));
                }
            }

            #[test]
            fn date_like_strs_never_panic(s in "[A-Za-z]{3,9},? [0-9 ]{1,3}[- ][A-Za-z]{3}[- ][0-9+-]{2,5} [0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2}( GMT| [0-9]{4})?") {
                let _ = RetryAfter::parse(&s);
            }

            #[test]
            fn imf_fixdate_round_trips(secs in 0i64..=253_402_300_799) { // through 9999-12-31
                let t = time::OffsetDateTime::from_unix_timestamp(secs).map_err(|e| TestCaseError::fail(format!("{e}")))?;
                prop_assert_eq!(RetryAfter::parse(&imf_fixdate(t)), Ok(RetryAfter::At(UnixTime(secs))));
            }
        }
    }
}
