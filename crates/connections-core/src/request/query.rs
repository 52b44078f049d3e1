//! Query strings: encoding a request's parameters, and reading page parameters
//! back out of pagination links.
//!
//! Encoding keeps only RFC 3986 unreserved characters (`A-Z a-z 0-9 - . _ ~`)
//! and percent-encodes everything else in names and values, so no id can add,
//! end or change a parameter, and `[`/`]` travel as `%5B`/`%5D`.
//!
//! Reading follows RFC 3986, not HTML forms: `+` is a literal plus, never a
//! space. Names and values are percent-decoded on the fly, so `page[number]`
//! and `page%5Bnumber%5D` both match, and nothing allocates.

use core::fmt::{self, Display, Write};
use core::num::NonZeroU32;

use percent_encoding::{
    AsciiSet, NON_ALPHANUMERIC, PercentEncode, percent_decode_str, utf8_percent_encode,
};

use super::builder::{Field, ListConnections};

/// Everything except RFC 3986 unreserved characters gets percent-encoded.
const UNRESERVED_ONLY: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The mode filter's name; it has no [`Field`] because a `Mode` cannot be invalid.
const MODE: &str = "filter[vehicle.mode]";

/// Percent-encodes a name or value for the query.
fn encode(text: &str) -> PercentEncode<'_> {
    utf8_percent_encode(text, UNRESERVED_ONLY)
}

impl ListConnections<'_> {
    /// Writes the query string without the leading `?`, e.g.
    /// `filter%5BuserId%5D=u1&page%5Bsize%5D=50`, without allocating.
    ///
    /// Parameters come in a fixed order (`filter[userId]`, `filter[vehicleId]`,
    /// `filter[vehicle.mode]`, `page[number]`, `page[size]`) so equal requests
    /// give equal strings; unset ones are left out so the server applies its
    /// defaults. An empty request writes nothing.
    pub fn write_query<W: Write + ?Sized>(&self, w: &mut W) -> fmt::Result {
        self.write_params(w, "")
    }

    /// Writes the set parameters with `first` before the first one (`""` for a
    /// bare query, `"?"` after a path) and `&` between the others.
    pub(crate) fn write_params<W: Write + ?Sized>(&self, w: &mut W, first: &str) -> fmt::Result {
        let mut separator = first;
        let mut param = |name: &str, value: &dyn Display| {
            let written = write!(w, "{separator}{}={value}", encode(name));
            separator = "&";
            written
        };
        if let Some(id) = self.user_id() {
            param(Field::UserId.query_name(), &encode(id))?;
        }
        if let Some(id) = self.vehicle_id() {
            param(Field::VehicleId.query_name(), &encode(id))?;
        }
        if let Some(mode) = self.mode() {
            param(MODE, &mode)?;
        }
        if let Some(number) = self.page_number() {
            param(Field::PageNumber.query_name(), &number)?;
        }
        if let Some(size) = self.page_size() {
            param(Field::PageSize.query_name(), &size)?;
        }
        Ok(())
    }
}

/// What was wrong with a page parameter in a pagination link.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PageParameterProblem {
    /// The parameter appeared more than once, so its meaning is ambiguous.
    Repeated,
    /// The value was empty.
    Empty,
    /// The value had something other than ASCII digits (signs and spaces included).
    NotANumber,
    /// The value was 0; pages and sizes count from 1.
    Zero,
    /// The value did not fit in a `u32`.
    TooLarge,
}

impl Display for PageParameterProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PageParameterProblem::Repeated => "appears more than once",
            PageParameterProblem::Empty => "is empty",
            PageParameterProblem::NotANumber => "is not a decimal number",
            PageParameterProblem::Zero => "is 0",
            PageParameterProblem::TooLarge => "is larger than 4294967295",
        })
    }
}

/// The page parameters of a link's query; other parameters are ignored.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct PageParams {
    pub(crate) number: Option<NonZeroU32>,
    pub(crate) size: Option<NonZeroU32>,
}

/// Reads `page[number]` and `page[size]` from a query (without `?` or `#`).
pub(crate) fn page_params(query: &str) -> Result<PageParams, (Field, PageParameterProblem)> {
    let mut params = PageParams::default();
    for (name, value) in raw_pairs(query) {
        let (field, slot) = if name_is(name, Field::PageNumber.query_name()) {
            (Field::PageNumber, &mut params.number)
        } else if name_is(name, Field::PageSize.query_name()) {
            (Field::PageSize, &mut params.size)
        } else {
            continue;
        };
        if slot.is_some() {
            return Err((field, PageParameterProblem::Repeated));
        }
        *slot = Some(page_value(value).map_err(|problem| (field, problem))?);
    }
    Ok(params)
}

/// Splits a query into raw `(name, value)` pairs; a pair without `=` has an empty value.
fn raw_pairs(query: &str) -> impl Iterator<Item = (&str, &str)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| pair.split_once('=').unwrap_or((pair, "")))
}

/// Whether a raw, maybe percent-encoded name decodes to `expected`.
fn name_is(raw: &str, expected: &str) -> bool {
    percent_decode_str(raw).eq(expected.bytes())
}

/// Decodes a raw value as a page number or size: ASCII digits only, 1 to `u32::MAX`.
fn page_value(raw: &str) -> Result<NonZeroU32, PageParameterProblem> {
    let mut bytes = percent_decode_str(raw).peekable();
    if bytes.peek().is_none() {
        return Err(PageParameterProblem::Empty);
    }
    let value = bytes.try_fold(0_u32, |value, byte| {
        let digit = char::from(byte)
            .to_digit(10)
            .ok_or(PageParameterProblem::NotANumber)?;
        value
            .checked_mul(10)
            .and_then(|value| value.checked_add(digit))
            .ok_or(PageParameterProblem::TooLarge)
    })?;
    NonZeroU32::new(value).ok_or(PageParameterProblem::Zero)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::builder::Mode;

    extern crate alloc;
    use alloc::string::String;

    fn query(req: &ListConnections<'_>) -> String {
        let mut out = String::new();
        req.write_query(&mut out)
            .expect("writing to a String cannot fail");
        out
    }

    fn nz(n: u32) -> Option<NonZeroU32> {
        NonZeroU32::new(n)
    }

    #[test]
    fn defaults_are_not_sent() {
        assert_eq!(query(&ListConnections::new()), "");
    }

    #[test]
    fn golden_queries() {
        let req = |b: crate::request::builder::ListConnectionsBuilder<'static>| {
            query(&b.build().expect("valid request"))
        };
        let b = ListConnections::builder;
        assert_eq!(
            req(b().user_id("u1").page_size(50)),
            "filter%5BuserId%5D=u1&page%5Bsize%5D=50"
        );
        assert_eq!(
            req(b()
                .page_size(5)
                .page_number(2)
                .mode(Mode::Simulated)
                .vehicle_id("v-1")
                .user_id("u_1.~")),
            "filter%5BuserId%5D=u_1.~&filter%5BvehicleId%5D=v-1\
             &filter%5Bvehicle.mode%5D=simulated&page%5Bnumber%5D=2&page%5Bsize%5D=5"
        );
        assert_eq!(
            req(b().user_id("a&b=c#d+e%f g/h?é")),
            "filter%5BuserId%5D=a%26b%3Dc%23d%2Be%25f%20g%2Fh%3F%C3%A9"
        );
        assert_eq!(req(b().mode(Mode::Live)), "filter%5Bvehicle.mode%5D=live");
    }

    #[test]
    fn write_params_prefixes_only_non_empty_queries() {
        let mut out = String::new();
        let _ = ListConnections::new().write_params(&mut out, "?");
        assert_eq!(out, "");
        let req = ListConnections::new().with_page(NonZeroU32::MIN, None);
        let _ = req.write_params(&mut out, "?");
        assert_eq!(out, "?page%5Bnumber%5D=1");
    }

    #[test]
    fn page_params_accept_raw_and_encoded_names() {
        let both = |number, size| {
            Ok(PageParams {
                number: nz(number),
                size: nz(size),
            })
        };
        assert_eq!(page_params("page[number]=2&page[size]=10"), both(2, 10));
        assert_eq!(
            page_params("page%5Bnumber%5D=3&page%5bsize%5d=7"),
            both(3, 7)
        );
        assert_eq!(page_params("page%5Bnumber%5D=%34"), both(4, 0));
        assert_eq!(
            page_params("a=1&&page[size]=4294967295&x"),
            both(0, u32::MAX)
        );
        assert_eq!(page_params(""), both(0, 0));
        // `+` is not a space (RFC 3986), so this is another parameter.
        assert_eq!(page_params("page+number=2"), both(0, 0));
    }

    #[test]
    fn page_params_refuse_bad_values() {
        use PageParameterProblem::*;
        let number = |problem| Err((Field::PageNumber, problem));
        assert_eq!(page_params("page[number]=0"), number(Zero));
        assert_eq!(page_params("page[number]="), number(Empty));
        assert_eq!(page_params("page[number]"), number(Empty));
        assert_eq!(page_params("page[number]=+2"), number(NotANumber));
        assert_eq!(page_params("page[number]=-2"), number(NotANumber));
        assert_eq!(page_params("page[number]=2%20"), number(NotANumber));
        assert_eq!(page_params("page[number]=١"), number(NotANumber));
        assert_eq!(page_params("page[number]=4294967296"), number(TooLarge));
        assert_eq!(
            page_params("page[number]=1&page%5Bnumber%5D=2"),
            number(Repeated)
        );
        assert_eq!(
            page_params("page[size]=x"),
            Err((Field::PageSize, NotANumber))
        );
    }

    #[cfg(feature = "std")]
    mod properties {
        use super::*;
        use alloc::{string::ToString, vec, vec::Vec};
        use proptest::prelude::*;

        fn id() -> impl Strategy<Value = Option<String>> {
            proptest::option::of(prop_oneof!["[&=#+% /?a-z\\[\\]]{1,12}", "[^\\p{Cc}]{1,24}",])
        }

        fn page() -> impl Strategy<Value = Option<u32>> {
            proptest::option::of(prop_oneof![1..=20_u32, 1..=u32::MAX])
        }

        fn mode() -> impl Strategy<Value = Option<Mode>> {
            proptest::option::of(prop_oneof![Just(Mode::Live), Just(Mode::Simulated)])
        }

        proptest! {
            #[test]
            fn query_decodes_to_exactly_the_set_parameters(
                user in id(), vehicle in id(), mode in mode(), number in page(), size in page(),
            ) {
                let mut builder = ListConnections::builder();
                let mut expected: Vec<(String, String)> = vec![];
                if let Some(user) = &user {
                    builder = builder.user_id(user);
                    expected.push(("filter[userId]".into(), user.clone()));
                }
                if let Some(vehicle) = &vehicle {
                    builder = builder.vehicle_id(vehicle);
                    expected.push(("filter[vehicleId]".into(), vehicle.clone()));
                }
                if let Some(mode) = mode {
                    builder = builder.mode(mode);
                    expected.push((MODE.into(), mode.as_str().into()));
                }
                if let Some(number) = number {
                    builder = builder.page_number(number);
                    expected.push(("page[number]".into(), number.to_string()));
                }
                if let Some(size) = size {
                    builder = builder.page_size(size);
                    expected.push(("page[size]".into(), size.to_string()));
                }
                let written = query(&builder.build().expect("valid request"));
                let decoded: Vec<(String, String)> = form_urlencoded::parse(written.as_bytes())
                    .map(|(name, value)| (name.into_owned(), value.into_owned()))
                    .collect();
                prop_assert_eq!(decoded, expected);
                prop_assert!(written.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~%&=".contains(&b)));
                let pages = page_params(&written).expect("own query parses");
                prop_assert_eq!(pages, PageParams { number: number.and_then(nz), size: size.and_then(nz) });
            }
        }
    }
}
