//! Parsers for number flags with explicit bounds, so a value too large for what it sizes
//! (an allocation, a retry count, a page) is a usage error naming the range instead of a
//! panic or an abort later.

use std::fmt::Display;
use std::str::FromStr;

/// A clap value parser for whole numbers from `min` to `max`, written in ASCII digits (no
/// sign, point or exponent).
pub(crate) fn whole<T>(min: T, max: T) -> impl clap::builder::TypedValueParser<Value = T>
where
    T: FromStr + PartialOrd + Display + Copy + Send + Sync + 'static,
{
    move |text: &str| {
        let refuse = || format!("expected a whole number from {min} to {max}, got {text:?}");
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(refuse());
        }
        match text.parse::<T>() {
            Ok(value) if value >= min && value <= max => Ok(value),
            _ => Err(refuse()),
        }
    }
}

/// A clap value parser for decimals from `min` to `max`, such as `0.25`, `2` or `2.5e-1`;
/// never NaN or infinite.
pub(crate) fn decimal(min: f64, max: f64) -> impl clap::builder::TypedValueParser<Value = f64> {
    move |text: &str| {
        let refuse = || format!("expected a number from {min} to {max}, got {text:?}");
        // Digits, point and exponent only: `f64::from_str` would also take "NaN" and "inf".
        if !text
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'-' | b'+'))
        {
            return Err(refuse());
        }
        match text.parse::<f64>() {
            Ok(value) if (min..=max).contains(&value) => Ok(value),
            _ => Err(refuse()),
        }
    }
}

/// A clap value parser for a share from 0 to 1, such as `0.25`.
pub(crate) fn share() -> impl clap::builder::TypedValueParser<Value = f64> {
    decimal(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::builder::TypedValueParser;

    fn parse<P: TypedValueParser>(parser: &P, text: &str) -> Result<P::Value, String> {
        let command = clap::Command::new("t");
        parser
            .parse_ref(&command, None, std::ffi::OsStr::new(text))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn whole_numbers_within_the_range_only() {
        let p = whole(1u32, 64);
        assert_eq!(parse(&p, "1"), Ok(1));
        assert_eq!(parse(&p, "64"), Ok(64));
        for text in [
            "0",
            "65",
            "",
            "-1",
            "+1",
            "1.5",
            "1e2",
            "٣",
            "NaN",
            "inf",
            "99999999999999999999",
        ] {
            let error = parse(&p, text).unwrap_err();
            assert!(error.contains("from 1 to 64"), "{text}: {error}");
        }
    }

    #[test]
    fn decimals_within_the_range_only() {
        let p = decimal(0.001, 1_000_000.0);
        assert_eq!(parse(&p, "2"), Ok(2.0));
        assert_eq!(parse(&p, "0.5"), Ok(0.5));
        assert_eq!(parse(&p, "0.001"), Ok(0.001));
        assert_eq!(parse(&p, "1e6"), Ok(1_000_000.0));
        for text in [
            "", "0", "-1", "0.0001", "1000001", "1e20", "NaN", "inf", "٣", " 2", "2 ",
        ] {
            let error = parse(&p, text).unwrap_err();
            assert!(error.contains("from 0.001 to 1000000"), "{text}: {error}");
        }
    }

    #[test]
    fn shares_from_0_to_1() {
        let p = share();
        assert_eq!(parse(&p, "0.25"), Ok(0.25));
        assert_eq!(parse(&p, "1e-1"), Ok(0.1));
        assert_eq!(parse(&p, "1"), Ok(1.0));
        for text in ["", "-0.1", "1.5", "NaN", "inf", "1e20", "٠.٥", "e"] {
            let error = parse(&p, text).unwrap_err();
            assert!(error.contains("from 0 to 1"), "{text}: {error}");
        }
    }
}
