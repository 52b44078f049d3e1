//! The one parser for every duration flag (`--timeout`, `--token-lifetime`, …), so they all
//! accept the same spellings and refuse the same mistakes, with bounds no `Duration`
//! arithmetic downstream can overflow.

use std::fmt;
use std::time::Duration;

/// A duration flag's accepted range; `parse` reads what people type: `30` and `1.5`
/// (seconds), `30s`, `500ms`, `2m`, `1h`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Bounds {
    pub(crate) min: Duration,
    pub(crate) max: Duration,
}

/// The units a duration may end with, and what one of each is worth.
const UNITS: [(&str, Duration); 4] = [
    ("ms", Duration::from_millis(1)),
    ("s", Duration::from_secs(1)),
    ("m", Duration::from_secs(60)),
    ("h", Duration::from_secs(3600)),
];

impl Bounds {
    /// From `min` to `max`, both included.
    pub(crate) const fn new(min: Duration, max: Duration) -> Self {
        Bounds { min, max }
    }

    /// `text` as a duration within the bounds; the error says what is accepted.
    pub(crate) fn parse(&self, text: &str) -> Result<Duration, String> {
        let refuse = || format!("expected {self}, got {text:?}");
        let (number, unit) = UNITS
            .iter()
            .find_map(|&(suffix, unit)| Some((text.strip_suffix(suffix)?, unit)))
            .unwrap_or((text, Duration::from_secs(1)));
        // ASCII digits with at most one point: no sign, exponent, NaN, inf or other scripts'
        // digits, which `f64::from_str` would partly take.
        let digits = number.bytes().filter(u8::is_ascii_digit).count();
        let points = number.bytes().filter(|&b| b == b'.').count();
        if digits == 0 || digits + points != number.len() || points > 1 {
            return Err(refuse());
        }
        let value: f64 = number.parse().map_err(|_| refuse())?;
        // Finite and non-negative by the check above; compared in f64 before converting, so
        // a huge value is refused rather than overflowing.
        let secs = value * unit.as_secs_f64();
        if secs > self.max.as_secs_f64() {
            return Err(refuse());
        }
        let duration = Duration::try_from_secs_f64(secs).map_err(|_| refuse())?;
        if duration < self.min || duration > self.max {
            return Err(refuse());
        }
        Ok(duration)
    }
}

impl fmt::Display for Bounds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "a duration from {} to {}, such as 30 or 1.5 (seconds), 30s, 500ms, 2m or 1h",
            Shown(self.min),
            Shown(self.max)
        )
    }
}

/// A duration as the flags spell it, in the largest unit that keeps it whole.
struct Shown(Duration);

impl fmt::Display for Shown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis();
        match UNITS.iter().rev().find(|(_, unit)| {
            let unit = unit.as_millis();
            ms >= unit && ms.is_multiple_of(unit)
        }) {
            Some((suffix, unit)) => write!(f, "{}{suffix}", ms / unit.as_millis()),
            None => write!(f, "{}s", self.0.as_secs_f64()),
        }
    }
}

/// A clap value parser for durations within `bounds`.
pub(crate) fn parser(bounds: Bounds) -> impl clap::builder::TypedValueParser<Value = Duration> {
    move |text: &str| bounds.parse(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEST: Bounds = Bounds::new(Duration::from_millis(1), Duration::from_secs(86_400));

    #[test]
    fn what_people_type_is_read_in_its_unit() {
        let secs = Duration::from_secs;
        for (text, expected) in [
            ("30", secs(30)),
            ("1.5", Duration::from_millis(1500)),
            ("30s", secs(30)),
            ("500ms", Duration::from_millis(500)),
            ("2m", secs(120)),
            ("1h", secs(3600)),
            ("24h", secs(86_400)),
            (".5", Duration::from_millis(500)),
            ("0.001", Duration::from_millis(1)),
        ] {
            assert_eq!(TEST.parse(text), Ok(expected), "{text}");
        }
    }

    #[test]
    fn anything_else_is_refused_naming_the_range() {
        for text in [
            "",
            "s",
            "-1",
            "+1",
            "1e3",
            "1e20",
            "NaN",
            "inf",
            "infinity",
            "1.2.3",
            "٣",
            "1 s",
            "0",
            "0.0001",
            "25h",
            "1d",
            "18446744073709551616",
            "1..",
        ] {
            let error = TEST.parse(text).unwrap_err();
            assert!(error.contains("from 1ms to 24h"), "{text}: {error}");
        }
    }
}
