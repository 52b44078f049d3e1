//! The validated `GET /connections` request and its builder.
//!
//! Validation happens once, in [`ListConnectionsBuilder::build`], so every
//! later step (query encoding, URL writing, pagination) can trust the values.

use core::fmt;
use core::hash::{Hash, Hasher};
use core::num::NonZeroU32;
use core::str::FromStr;

#[cfg(feature = "alloc")]
use alloc::{borrow::Cow, string::String};

#[cfg(feature = "alloc")]
type Inner<'a> = Cow<'a, str>;
#[cfg(not(feature = "alloc"))]
type Inner<'a> = &'a str;

/// Text that is borrowed, or owned with `alloc`, so values can outlive their input.
#[derive(Clone)]
pub(crate) struct CowStr<'a>(Inner<'a>);

impl<'a> CowStr<'a> {
    /// Borrows `text`; `const` so constants such as [`crate::BaseUrl::SMARTCAR`] can use it.
    pub(crate) const fn borrowed(text: &'a str) -> Self {
        #[cfg(feature = "alloc")]
        return CowStr(Cow::Borrowed(text));
        #[cfg(not(feature = "alloc"))]
        return CowStr(text);
    }

    /// Takes ownership of `text`.
    #[cfg(feature = "alloc")]
    pub(crate) const fn owned(text: String) -> CowStr<'static> {
        CowStr(Cow::Owned(text))
    }

    /// The text itself.
    pub(crate) fn as_str(&self) -> &str {
        #[cfg(feature = "alloc")]
        return &self.0;
        #[cfg(not(feature = "alloc"))]
        return self.0;
    }

    /// Copies borrowed text so the value no longer borrows its input.
    #[cfg(feature = "alloc")]
    pub(crate) fn into_owned(self) -> CowStr<'static> {
        CowStr::owned(self.0.into_owned())
    }

    /// Overwrites owned bytes, for secrets (best effort: earlier copies are out of reach).
    #[cfg(feature = "alloc")]
    pub(crate) fn wipe(&mut self) {
        if let Cow::Owned(text) = &mut self.0 {
            zeroize::Zeroize::zeroize(text);
        }
    }
}

impl PartialEq for CowStr<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for CowStr<'_> {}

impl Hash for CowStr<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl fmt::Debug for CowStr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

/// Which vehicles to list (`filter[vehicle.mode]`): real ones or Smartcar's simulated ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Mode {
    /// Real vehicles (`live`).
    Live,
    /// Smartcar's simulated vehicles (`simulated`).
    Simulated,
}

impl Mode {
    /// The value sent on the wire, so callers never spell it by hand.
    pub const fn as_str(self) -> &'static str {
        match self {
            Mode::Live => "live",
            Mode::Simulated => "simulated",
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Mode {
    type Err = InvalidMode;

    /// Parses the wire value exactly (`live` or `simulated`), e.g. from a CLI flag.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "live" => Ok(Mode::Live),
            "simulated" => Ok(Mode::Simulated),
            _ => Err(InvalidMode { _private: () }),
        }
    }
}

/// A text was not a [`Mode`]; only `live` and `simulated` are accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct InvalidMode {
    _private: (),
}

impl fmt::Display for InvalidMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("unknown vehicle mode: use `live` or `simulated`")
    }
}

impl core::error::Error for InvalidMode {}

/// A validated `GET /connections` request: filters and page parameters.
///
/// Unset parameters are not sent, so the server applies the contract's defaults: page 1,
/// 10 items, and `filter[vehicle.mode]=live`, so live vehicles only, never all modes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct ListConnections<'a> {
    user_id: Option<CowStr<'a>>,
    vehicle_id: Option<CowStr<'a>>,
    mode: Option<Mode>,
    page_number: Option<NonZeroU32>,
    page_size: Option<NonZeroU32>,
}

impl<'a> ListConnections<'a> {
    /// A request without filters: the first page of the connections of live vehicles (the
    /// contract's default mode).
    pub const fn new() -> Self {
        ListConnections {
            user_id: None,
            vehicle_id: None,
            mode: None,
            page_number: None,
            page_size: None,
        }
    }

    /// Starts a request with filters; values are checked in [`ListConnectionsBuilder::build`].
    pub fn builder() -> ListConnectionsBuilder<'a> {
        ListConnectionsBuilder::default()
    }

    /// The `filter[userId]` value, if set.
    pub fn user_id(&self) -> Option<&str> {
        self.user_id.as_ref().map(CowStr::as_str)
    }

    /// The `filter[vehicleId]` value, if set.
    pub fn vehicle_id(&self) -> Option<&str> {
        self.vehicle_id.as_ref().map(CowStr::as_str)
    }

    /// The `filter[vehicle.mode]` value, if set (the server defaults to `live`).
    pub fn mode(&self) -> Option<Mode> {
        self.mode
    }

    /// The `page[number]` value, if set (the server defaults to 1).
    pub fn page_number(&self) -> Option<NonZeroU32> {
        self.page_number
    }

    /// The `page[size]` value, if set (the server defaults to 10).
    pub fn page_size(&self) -> Option<NonZeroU32> {
        self.page_size
    }

    /// The same filters on another page, so a paginator can follow a server link
    /// without trusting its query; `size: None` keeps the current page size.
    #[must_use]
    pub fn with_page(&self, number: NonZeroU32, size: Option<NonZeroU32>) -> Self {
        ListConnections {
            page_number: Some(number),
            page_size: size.or(self.page_size),
            ..self.clone()
        }
    }

    /// The same request with `page[size]` set, e.g. a listing's default of 100 when the
    /// caller chose none: fewer requests count against the rate limit.
    #[must_use]
    pub fn with_page_size(&self, size: NonZeroU32) -> Self {
        ListConnections {
            page_size: Some(size),
            ..self.clone()
        }
    }

    /// Copies borrowed ids so the request can be stored or sent to another task.
    #[cfg(feature = "alloc")]
    pub fn into_owned(self) -> ListConnections<'static> {
        ListConnections {
            user_id: self.user_id.map(CowStr::into_owned),
            vehicle_id: self.vehicle_id.map(CowStr::into_owned),
            mode: self.mode,
            page_number: self.page_number,
            page_size: self.page_size,
        }
    }
}

/// Collects request parameters; [`build`](Self::build) validates them all at once.
#[derive(Clone, Debug, Default)]
#[must_use]
pub struct ListConnectionsBuilder<'a> {
    user_id: Option<&'a str>,
    vehicle_id: Option<&'a str>,
    mode: Option<Mode>,
    page_number: Option<u32>,
    page_size: Option<u32>,
}

impl<'a> ListConnectionsBuilder<'a> {
    /// Lists only this user's connections (`filter[userId]`).
    pub fn user_id(mut self, id: &'a str) -> Self {
        self.user_id = Some(id);
        self
    }

    /// Lists only this vehicle's connections (`filter[vehicleId]`).
    pub fn vehicle_id(mut self, id: &'a str) -> Self {
        self.vehicle_id = Some(id);
        self
    }

    /// Lists only live or only simulated vehicles (`filter[vehicle.mode]`). Unset, the
    /// server lists live ones (the contract's default), so simulated vehicles need
    /// [`Mode::Simulated`].
    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = Some(mode);
        self
    }

    /// Asks for this page (`page[number]`, from 1).
    pub fn page_number(mut self, number: u32) -> Self {
        self.page_number = Some(number);
        self
    }

    /// Asks for this many items per page (`page[size]`, from 1).
    ///
    /// There is no upper bound here because the API contract gives none;
    /// the server may refuse or cap large sizes.
    pub fn page_size(mut self, size: u32) -> Self {
        self.page_size = Some(size);
        self
    }

    /// Checks every value and returns the request, or the first invalid field.
    pub fn build(self) -> Result<ListConnections<'a>, InvalidRequest> {
        Ok(ListConnections {
            user_id: check_id(Field::UserId, self.user_id)?,
            vehicle_id: check_id(Field::VehicleId, self.vehicle_id)?,
            mode: self.mode,
            page_number: check_page(Field::PageNumber, self.page_number)?,
            page_size: check_page(Field::PageSize, self.page_size)?,
        })
    }
}

/// The longest id a filter takes, in bytes: Smartcar's ids are 36-byte UUIDs, and with two
/// ids percent-encoded (up to 3 bytes each) and a base URL of [`crate::MAX_URL_LEN`], a
/// request line stays under the 8 KB servers and proxies commonly accept.
pub const MAX_ID_LEN: usize = 512;

/// Refuses ids that cannot name anything (empty, or with control characters) or that no
/// server would take in a URL (longer than [`MAX_ID_LEN`]).
fn check_id(field: Field, id: Option<&str>) -> Result<Option<CowStr<'_>>, InvalidRequest> {
    let Some(id) = id else { return Ok(None) };
    let problem = if id.is_empty() {
        RequestProblem::Empty
    } else if id.len() > MAX_ID_LEN {
        RequestProblem::TooLong {
            len: id.len(),
            max: MAX_ID_LEN,
        }
    } else if id.chars().any(char::is_control) {
        RequestProblem::ControlCharacter
    } else {
        return Ok(Some(CowStr::borrowed(id)));
    };
    Err(InvalidRequest { field, problem })
}

/// Refuses page 0 and page size 0, which the API counts from 1.
fn check_page(field: Field, value: Option<u32>) -> Result<Option<NonZeroU32>, InvalidRequest> {
    match value.map(NonZeroU32::new) {
        None => Ok(None),
        Some(Some(value)) => Ok(Some(value)),
        Some(None) => Err(InvalidRequest {
            field,
            problem: RequestProblem::Zero,
        }),
    }
}

/// A request parameter, named so errors can point at it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Field {
    /// `filter[userId]`.
    UserId,
    /// `filter[vehicleId]`.
    VehicleId,
    /// `page[number]`.
    PageNumber,
    /// `page[size]`.
    PageSize,
}

impl Field {
    /// The query parameter name as the API spells it, e.g. `filter[userId]`.
    pub const fn query_name(self) -> &'static str {
        match self {
            Field::UserId => "filter[userId]",
            Field::VehicleId => "filter[vehicleId]",
            Field::PageNumber => "page[number]",
            Field::PageSize => "page[size]",
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.query_name())
    }
}

/// What was wrong with a request parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RequestProblem {
    /// An id was the empty string.
    Empty,
    /// An id contained a control character such as a newline.
    ControlCharacter,
    /// A page number or size was 0.
    Zero,
    /// An id was longer than [`MAX_ID_LEN`].
    TooLong {
        /// Its length, in bytes.
        len: usize,
        /// The most accepted, in bytes.
        max: usize,
    },
}

/// A request parameter was invalid: which one, and why.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct InvalidRequest {
    field: Field,
    problem: RequestProblem,
}

impl InvalidRequest {
    /// The invalid parameter.
    pub fn field(&self) -> Field {
        self.field
    }

    /// What was wrong with it.
    pub fn problem(&self) -> RequestProblem {
        self.problem
    }

    /// What was wrong and how to fix it, without the parameter's name (`is empty: pass …`),
    /// for a caller that names it its own way, such as a CLI flag (`--user-id is empty: …`).
    pub fn reason(&self) -> Reason {
        Reason(*self)
    }
}

impl fmt::Display for RequestProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestProblem::Empty => f.write_str("is empty"),
            RequestProblem::ControlCharacter => f.write_str("contains a control character"),
            RequestProblem::Zero => f.write_str("is 0"),
            RequestProblem::TooLong { len, max } => {
                write!(f, "is {len} bytes long, more than the {max} accepted")
            }
        }
    }
}

/// See [`InvalidRequest::reason`].
#[derive(Clone, Copy, Debug)]
pub struct Reason(InvalidRequest);

impl fmt::Display for InvalidRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.field, self.reason())
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let InvalidRequest { field, problem } = self.0;
        let what = match field {
            Field::UserId => "user id",
            Field::VehicleId => "vehicle id",
            Field::PageNumber => "page number",
            Field::PageSize => "page size",
        };
        write!(f, "{problem}: ")?;
        match problem {
            RequestProblem::Empty => {
                write!(f, "pass a non-empty {what} or leave the filter unset")
            }
            RequestProblem::ControlCharacter => write!(
                f,
                "pass the {what} without newlines, tabs or other control characters"
            ),
            RequestProblem::Zero => write!(
                f,
                "the {what} counts from 1, so pass 1 or more or leave it unset for the server default"
            ),
            RequestProblem::TooLong { .. } => write!(
                f,
                "no {what} is that long (Smartcar's are 36-character UUIDs); check what was \
                 pasted"
            ),
        }
    }
}

impl core::error::Error for InvalidRequest {}

#[cfg(test)]
mod tests {
    use super::*;

    extern crate alloc;
    use alloc::string::ToString;

    fn nz(n: u32) -> NonZeroU32 {
        NonZeroU32::new(n).expect("test page values are non-zero")
    }

    #[test]
    fn new_and_default_have_no_parameters() {
        let req = ListConnections::new();
        assert_eq!(req, ListConnections::default());
        assert_eq!(Ok(req.clone()), ListConnections::builder().build());
        assert_eq!(req.user_id(), None);
        assert_eq!(req.vehicle_id(), None);
        assert_eq!(req.mode(), None);
        assert_eq!(req.page_number(), None);
        assert_eq!(req.page_size(), None);
    }

    #[test]
    fn builder_keeps_every_value() {
        let req = ListConnections::builder()
            .user_id("u1")
            .vehicle_id("v1")
            .mode(Mode::Simulated)
            .page_number(3)
            .page_size(50)
            .build()
            .expect("valid request");
        assert_eq!(req.user_id(), Some("u1"));
        assert_eq!(req.vehicle_id(), Some("v1"));
        assert_eq!(req.mode(), Some(Mode::Simulated));
        assert_eq!(req.page_number(), Some(nz(3)));
        assert_eq!(req.page_size(), Some(nz(50)));
    }

    #[test]
    fn huge_page_size_is_allowed() {
        let req = ListConnections::builder().page_size(u32::MAX).build();
        assert_eq!(req.map(|r| r.page_size()), Ok(Some(nz(u32::MAX))));
    }

    fn refused(builder: ListConnectionsBuilder<'_>) -> (Field, RequestProblem) {
        match builder.build() {
            Ok(req) => panic!("invalid request accepted: {req:?}"),
            Err(e) => (e.field(), e.problem()),
        }
    }

    #[test]
    fn builder_refuses_invalid_values() {
        let b = ListConnections::builder;
        assert_eq!(
            refused(b().user_id("")),
            (Field::UserId, RequestProblem::Empty)
        );
        assert_eq!(
            refused(b().vehicle_id("")),
            (Field::VehicleId, RequestProblem::Empty)
        );
        for bad in ["a\nb", "\r", "x\u{7f}", "\u{85}", "tab\t"] {
            assert_eq!(
                refused(b().user_id(bad)),
                (Field::UserId, RequestProblem::ControlCharacter)
            );
            assert_eq!(
                refused(b().vehicle_id(bad)),
                (Field::VehicleId, RequestProblem::ControlCharacter)
            );
        }
        assert_eq!(
            refused(b().page_number(0)),
            (Field::PageNumber, RequestProblem::Zero)
        );
        let longest = "a".repeat(MAX_ID_LEN);
        assert!(b().user_id(&longest).vehicle_id(&longest).build().is_ok());
        let too_long = "é".repeat(MAX_ID_LEN / 2 + 1);
        let problem = RequestProblem::TooLong {
            len: MAX_ID_LEN + 2,
            max: MAX_ID_LEN,
        };
        assert_eq!(refused(b().user_id(&too_long)), (Field::UserId, problem));
        assert_eq!(
            refused(b().vehicle_id(&too_long)),
            (Field::VehicleId, problem)
        );
        assert_eq!(
            refused(b().page_size(0)),
            (Field::PageSize, RequestProblem::Zero)
        );
    }

    #[test]
    fn ids_may_hold_any_visible_text() {
        let id = "a&b=c #%+/é 🚗";
        let req = ListConnections::builder().user_id(id).build();
        assert_eq!(req.expect("valid request").user_id(), Some(id));
    }

    #[test]
    fn errors_name_the_field_and_the_fix() {
        let msg = |b: ListConnectionsBuilder<'_>| b.build().err().map(|e| e.to_string());
        assert_eq!(
            msg(ListConnections::builder().user_id("")).as_deref(),
            Some("filter[userId] is empty: pass a non-empty user id or leave the filter unset")
        );
        let control = msg(ListConnections::builder().vehicle_id("a\n"));
        assert!(control.is_some_and(|m| m.starts_with("filter[vehicleId] contains a control")));
        let zero = msg(ListConnections::builder().page_size(0));
        assert!(zero.is_some_and(|m| m.starts_with("page[size] is 0") && m.contains("pass 1")));
        let long = "u".repeat(MAX_ID_LEN + 1);
        let error = ListConnections::builder().user_id(&long).build().err();
        let reason = error.map(|e| e.reason().to_string());
        assert_eq!(
            reason.as_deref(),
            Some(
                "is 513 bytes long, more than the 512 accepted: no user id is that long \
                 (Smartcar's are 36-character UUIDs); check what was pasted"
            )
        );
    }

    #[test]
    fn with_page_replaces_only_page_parameters() {
        let req = ListConnections::builder()
            .user_id("u")
            .mode(Mode::Live)
            .page_size(25)
            .build()
            .expect("valid request");
        let next = req.with_page(nz(2), None);
        assert_eq!(next.user_id(), Some("u"));
        assert_eq!(next.mode(), Some(Mode::Live));
        assert_eq!(next.page_number(), Some(nz(2)));
        assert_eq!(next.page_size(), Some(nz(25)));
        let resized = req.with_page(nz(4), Some(nz(5)));
        assert_eq!(
            (resized.page_number(), resized.page_size()),
            (Some(nz(4)), Some(nz(5)))
        );
    }

    #[test]
    fn mode_round_trips_through_text() {
        for mode in [Mode::Live, Mode::Simulated] {
            assert_eq!(mode.as_str().parse(), Ok(mode));
            assert_eq!(mode.to_string(), mode.as_str());
        }
        let err = "LIVE".parse::<Mode>();
        assert!(err.is_err_and(|e| e.to_string().contains("`live` or `simulated`")));
    }

    #[test]
    fn field_names_match_the_api() {
        assert_eq!(Field::UserId.query_name(), "filter[userId]");
        assert_eq!(Field::VehicleId.query_name(), "filter[vehicleId]");
        assert_eq!(Field::PageNumber.query_name(), "page[number]");
        assert_eq!(Field::PageSize.to_string(), "page[size]");
    }

    #[cfg(feature = "alloc")]
    #[test]
    fn into_owned_outlives_the_input() {
        let owned = {
            let id = alloc::string::String::from("user-1");
            let req = ListConnections::builder()
                .user_id(&id)
                .page_number(2)
                .build();
            req.expect("valid request").into_owned()
        };
        assert_eq!(owned.user_id(), Some("user-1"));
        assert_eq!(owned.page_number(), Some(nz(2)));
    }

    #[cfg(feature = "alloc")]
    #[test]
    fn owned_and_borrowed_text_compare_equal() {
        let borrowed = CowStr::borrowed("x");
        assert_eq!(borrowed.clone().into_owned(), borrowed);
    }
}
