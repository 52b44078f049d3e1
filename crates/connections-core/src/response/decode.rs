//! Decoding bodies into models, in one validating pass, into any [`Storage`].
//!
//! [`decode_page`] borrows every string without escapes from the body (zero copies),
//! [`decode_page_owned`] copies into owned models, and [`decode_page_heapless`] needs no
//! allocator at all: it fills fixed-size lists and unescapes into a caller's scratch buffer,
//! and when either is too small it says how much was needed rather than truncating.

use super::error::{
    ErrorDebug, ErrorEntry, ErrorLinks, ErrorMeta, ErrorType, Resolution, ResolutionType,
};
use super::json::{Known, RawStr, Reader, known};
use super::model::{
    Connection, ConnectionAttributes, ConnectionMeta, OrderDirection, Page, PagingLinks,
    PagingMeta, RelatedLink, Relationship, Relationships, ResourceIdentifier, SelfLink, Timestamp,
    Vehicle, VehicleMode,
};
#[cfg(feature = "alloc")]
use super::storage::{Borrowed, Owned};
use super::storage::{Heapless, Storage, sealed::Push};
#[cfg(feature = "alloc")]
use alloc::{borrow::Cow, string::String, vec::Vec};

pub use super::decode_error::{Capacity, DecodeError, ErrorKind, Expected};

/// Decodes a page, borrowing every string that holds no escapes from `body`.
#[cfg(feature = "alloc")]
pub fn decode_page(body: &[u8]) -> Result<Page<Borrowed<'_>>, DecodeError> {
    Decoder::new(body, Alloc::<Borrowed<'_>>::default())?.page()
}

/// Decodes a page into owned models that outlive `body`.
#[cfg(feature = "alloc")]
pub fn decode_page_owned(body: &[u8]) -> Result<Page<Owned>, DecodeError> {
    Decoder::new(body, Alloc::<Owned>::default())?.page()
}

/// Decodes a page without an allocator: strings point into `body`, or into `scratch` when
/// they had escapes; lists hold at most `N` connections, `P` permissions each, `E` errors.
pub fn decode_page_heapless<'a, const N: usize, const P: usize, const E: usize>(
    body: &'a [u8],
    scratch: &'a mut [u8],
) -> Result<Page<Heapless<'a, N, P, E>>, DecodeError> {
    Decoder::new(body, Scratch::new(scratch))?.page()
}

/// Decodes the `errors` of an error body, borrowing strings from it.
#[cfg(feature = "alloc")]
pub fn decode_errors(
    body: &[u8],
) -> Result<alloc::vec::Vec<ErrorEntry<Borrowed<'_>>>, DecodeError> {
    Decoder::new(body, Alloc::<Borrowed<'_>>::default())?.errors()
}

/// Turns validated JSON strings into a storage's text type, and hands out its lists.
pub(crate) trait Sink<'a> {
    /// The storage being filled.
    type Out: Storage;
    /// The value of `raw`, unescaped.
    fn text(&mut self, raw: RawStr<'a>) -> <Self::Out as Storage>::Str;
    /// Text taken as is from the body or a header.
    fn borrowed(&mut self, text: &'a str) -> <Self::Out as Storage>::Str;
    /// Storage that turned out too small, once the body has been read.
    fn overflow(&self) -> Option<ErrorKind> {
        None
    }
    /// An empty `data` list for a body of `body_len` bytes.
    fn connections(&mut self, body_len: usize) -> <Self::Out as Storage>::Connections {
        let _ = body_len;
        Default::default()
    }
    /// An empty `permissions` list.
    fn permissions(&mut self) -> <Self::Out as Storage>::Permissions {
        Default::default()
    }
}

impl<'a, K: Sink<'a>> Sink<'a> for &mut K {
    type Out = K::Out;
    fn text(&mut self, raw: RawStr<'a>) -> <K::Out as Storage>::Str {
        (**self).text(raw)
    }
    fn borrowed(&mut self, text: &'a str) -> <K::Out as Storage>::Str {
        (**self).borrowed(text)
    }
    fn overflow(&self) -> Option<ErrorKind> {
        (**self).overflow()
    }
    fn connections(&mut self, body_len: usize) -> <K::Out as Storage>::Connections {
        (**self).connections(body_len)
    }
    fn permissions(&mut self) -> <K::Out as Storage>::Permissions {
        (**self).permissions()
    }
}

/// Room for the connections a body of `body_len` bytes probably holds, so `data` is
/// allocated once instead of doubling (and copying) seven times on a page of 100.
///
/// A connection with every field takes about 750 bytes of JSON; guessing from 600 errs
/// towards one allocation, and the cap bounds what a body of junk can make us reserve.
#[cfg(feature = "alloc")]
fn connections_capacity(body_len: usize) -> usize {
    (body_len / 600).min(256)
}

/// Room for the permissions of one connection: most hold a handful, and a list that
/// starts at 8 rarely grows.
#[cfg(feature = "alloc")]
const PERMISSIONS_CAPACITY: usize = 8;

/// The fields of an OAuth token endpoint's answer the client reads, each absent or `null` as
/// `None`; others (`scope`, `refresh_token`) are skipped.
#[cfg(feature = "alloc")]
pub(crate) struct OAuthBody<S> {
    pub(crate) access_token: Option<S>,
    pub(crate) token_type: Option<S>,
    pub(crate) expires_in: Option<i64>,
    pub(crate) error: Option<S>,
    pub(crate) error_description: Option<S>,
}

#[cfg(feature = "alloc")]
impl<S> Default for OAuthBody<S> {
    fn default() -> Self {
        OAuthBody {
            access_token: None,
            token_type: None,
            expires_in: None,
            error: None,
            error_description: None,
        }
    }
}

/// Allocating sinks: [`Borrowed`] and [`Owned`].
#[cfg(feature = "alloc")]
pub(crate) struct Alloc<R>(core::marker::PhantomData<R>);

#[cfg(feature = "alloc")]
impl<R> Default for Alloc<R> {
    fn default() -> Self {
        Alloc(core::marker::PhantomData)
    }
}

/// The value of an escaped string: runs of text copied whole, escapes decoded in place.
#[cfg(feature = "alloc")]
fn unescape_to_string(raw: RawStr<'_>) -> String {
    let mut out = String::with_capacity(raw.raw.len());
    let mut rest = raw.raw;
    while let Some(at) = rest.bytes().position(|b| b == b'\\') {
        let (text, escape) = rest.split_at_checked(at).unwrap_or((rest, ""));
        out.push_str(text);
        let (c, len) = super::json::decode_escape(escape.as_bytes());
        out.push(c);
        rest = escape.get(len..).unwrap_or("");
    }
    out.push_str(rest);
    out
}

#[cfg(feature = "alloc")]
impl<'a> Sink<'a> for Alloc<Borrowed<'a>> {
    type Out = Borrowed<'a>;
    fn text(&mut self, raw: RawStr<'a>) -> Cow<'a, str> {
        match raw.plain() {
            Some(text) => Cow::Borrowed(text),
            None => Cow::Owned(unescape_to_string(raw)),
        }
    }
    fn borrowed(&mut self, text: &'a str) -> Cow<'a, str> {
        Cow::Borrowed(text)
    }
    fn connections(&mut self, body_len: usize) -> Vec<Connection<Borrowed<'a>>> {
        Vec::with_capacity(connections_capacity(body_len))
    }
    fn permissions(&mut self) -> Vec<Cow<'a, str>> {
        Vec::with_capacity(PERMISSIONS_CAPACITY)
    }
}

#[cfg(feature = "alloc")]
impl<'a> Sink<'a> for Alloc<Owned> {
    type Out = Owned;
    fn text(&mut self, raw: RawStr<'a>) -> String {
        match raw.plain() {
            Some(text) => String::from(text),
            None => unescape_to_string(raw),
        }
    }
    fn borrowed(&mut self, text: &'a str) -> String {
        String::from(text)
    }
    fn connections(&mut self, body_len: usize) -> Vec<Connection<Owned>> {
        Vec::with_capacity(connections_capacity(body_len))
    }
    fn permissions(&mut self) -> Vec<String> {
        Vec::with_capacity(PERMISSIONS_CAPACITY)
    }
}

/// Lists kept from one page to the next, so that decoding pages one after another
/// allocates nothing once the first page has been recycled: every string without escapes
/// is borrowed from the body, and `data` and each connection's `permissions` reuse the
/// memory of a page handed back with [`PageBuffers::recycle`].
///
/// ```
/// # fn main() -> Result<(), connections_core::DecodeError> {
/// use connections_core::PageBuffers;
///
/// let mut buffers = PageBuffers::new();
/// for body in [&br#"{"data":[{"id":"c1"}]}"#[..], br#"{"data":[{"id":"c2"}]}"#] {
///     let page = buffers.decode(body)?; // the same Page<Borrowed<'_>> as decode_page
///     assert_eq!(page.connections().len(), 1);
///     buffers.recycle(page); // hand the lists back for the next page
/// }
/// # Ok(())
/// # }
/// ```
#[cfg(feature = "alloc")]
#[derive(Debug, Default)]
pub struct PageBuffers {
    /// An empty `data` list with the capacity of the largest page recycled.
    connections: Vec<Connection<Borrowed<'static>>>,
    /// Empty `permissions` lists, one per connection of the pages recycled.
    permissions: Vec<Vec<Cow<'static, str>>>,
}

#[cfg(feature = "alloc")]
impl PageBuffers {
    /// No buffers yet: the first page allocates as [`decode_page`] does.
    pub fn new() -> Self {
        Self::default()
    }

    /// Decodes a page like [`decode_page`], taking its lists from these buffers.
    pub fn decode<'a>(&mut self, body: &'a [u8]) -> Result<Page<Borrowed<'a>>, DecodeError> {
        Decoder::new(body, Recycled::new(self))?.page()
    }

    /// Keeps the lists of a page that is no longer needed, for the next [`Self::decode`].
    pub fn recycle(&mut self, page: Page<Borrowed<'_>>) {
        let mut data = page.data;
        for connection in &mut data {
            let permissions = connection.attributes.as_mut();
            if let Some(list) = permissions.and_then(|a| a.permissions.take()) {
                self.permissions.push(relabel(list));
            }
        }
        if data.capacity() > self.connections.capacity() {
            self.connections = relabel(data);
        }
    }
}

/// An empty `Vec` that reuses `list`'s memory for items of another lifetime.
///
/// Collecting from a `Vec`'s own iterator reuses its allocation when the item layouts
/// match, as they do here: only the lifetime differs. No item survives, so none is
/// converted. The counting-allocator test in `benches/tests/allocations.rs` checks that
/// this stays free.
#[cfg(feature = "alloc")]
fn relabel<T, U>(mut list: Vec<T>) -> Vec<U> {
    list.clear();
    list.into_iter().filter_map(|_| None).collect()
}

/// The sink of [`PageBuffers`]: borrowed strings, recycled lists.
#[cfg(feature = "alloc")]
pub(crate) struct Recycled<'b> {
    buffers: &'b mut PageBuffers,
}

#[cfg(feature = "alloc")]
impl<'b> Recycled<'b> {
    pub(crate) fn new(buffers: &'b mut PageBuffers) -> Self {
        Recycled { buffers }
    }
}

#[cfg(feature = "alloc")]
impl<'a> Sink<'a> for Recycled<'_> {
    type Out = Borrowed<'a>;
    fn text(&mut self, raw: RawStr<'a>) -> Cow<'a, str> {
        Alloc::<Borrowed<'a>>::default().text(raw)
    }
    fn borrowed(&mut self, text: &'a str) -> Cow<'a, str> {
        Cow::Borrowed(text)
    }
    fn connections(&mut self, body_len: usize) -> Vec<Connection<Borrowed<'a>>> {
        let list = relabel(core::mem::take(&mut self.buffers.connections));
        match list.capacity() {
            0 => Vec::with_capacity(connections_capacity(body_len)),
            _ => list,
        }
    }
    fn permissions(&mut self) -> Vec<Cow<'a, str>> {
        match self.buffers.permissions.pop() {
            Some(list) => relabel(list),
            None => Vec::with_capacity(PERMISSIONS_CAPACITY),
        }
    }
}

/// The no-allocator sink: unescaped strings are carved from a caller's buffer.
pub(crate) struct Scratch<'a, R> {
    free: &'a mut [u8],
    needed: usize,
    capacity: usize,
    storage: core::marker::PhantomData<R>,
}

impl<'a, R> Scratch<'a, R> {
    pub(crate) fn new(buffer: &'a mut [u8]) -> Self {
        Scratch {
            capacity: buffer.len(),
            free: buffer,
            needed: 0,
            storage: core::marker::PhantomData,
        }
    }
}

impl<'a, const N: usize, const P: usize, const E: usize> Sink<'a>
    for Scratch<'a, Heapless<'a, N, P, E>>
{
    type Out = Heapless<'a, N, P, E>;

    fn text(&mut self, raw: RawStr<'a>) -> &'a str {
        if let Some(text) = raw.plain() {
            return text;
        }
        // One pass, straight into the free space; only a string that does not fit is
        // measured, so the error can say how much was needed.
        let mut len = 0;
        let mut buf = [0; 4];
        for chunk in raw.chunks() {
            let piece = chunk.as_str(&mut buf).as_bytes();
            match self.free.get_mut(len..len + piece.len()) {
                Some(dst) => dst.copy_from_slice(piece),
                None => {
                    self.free = &mut [];
                    self.needed = self.needed.saturating_add(raw.unescaped_len());
                    return "";
                }
            }
            len += piece.len();
        }
        self.needed = self.needed.saturating_add(len);
        let (out, rest) = core::mem::take(&mut self.free).split_at_mut(len);
        self.free = rest;
        let out: &'a [u8] = out;
        // Always UTF-8 (whole chars were copied), checked rather than assumed: no `unsafe`.
        core::str::from_utf8(out).unwrap_or("")
    }

    fn borrowed(&mut self, text: &'a str) -> &'a str {
        text
    }

    fn overflow(&self) -> Option<ErrorKind> {
        (self.needed > self.capacity).then_some(ErrorKind::Capacity {
            what: Capacity::Scratch,
            needed: self.needed,
            capacity: self.capacity,
        })
    }
}

/// The schema-directed decoder: walks the body once, filling models through a [`Sink`].
pub(crate) struct Decoder<'a, K> {
    r: Reader<'a>,
    sink: K,
    /// The first list that turned out too small, with how many items it needed.
    overflow: Option<(Capacity, usize, usize)>,
}

/// Result of the decoder's steps.
type Res<T> = Result<T, DecodeError>;

impl<'a, K: Sink<'a>> Decoder<'a, K> {
    pub(crate) fn new(body: &'a [u8], sink: K) -> Res<Self> {
        Ok(Decoder {
            r: Reader::new(body)?,
            sink,
            overflow: None,
        })
    }

    /// Reads a whole document with `read`, then reports trailing data or storage overflow.
    fn document<T>(mut self, read: impl FnOnce(&mut Self) -> Res<T>) -> Res<T> {
        let value = read(&mut self)?;
        self.r.finish()?;
        let end = self.r.offset();
        if let Some((what, needed, capacity)) = self.overflow {
            let kind = ErrorKind::Capacity {
                what,
                needed,
                capacity,
            };
            return Err(DecodeError::new(kind, end));
        }
        match self.sink.overflow() {
            Some(kind) => Err(DecodeError::new(kind, end)),
            None => Ok(value),
        }
    }

    pub(crate) fn page(self) -> Res<Page<K::Out>> {
        // Built here and filled in place: a heapless page is tens of kilobytes, and every
        // move through a `Result` would copy all of it.
        let mut page = Page {
            data: Default::default(),
            meta: None,
            links: None,
        };
        self.document(|d| {
            let keys = const { &known(["data", "meta", "links"]) };
            d.object("(body)", keys, |d, i| {
                match i {
                    0 => {
                        if !d.r.null()? {
                            page.data = d.sink.connections(d.r.len());
                            let data = &mut page.data;
                            d.list("data", Capacity::Connections, data, Self::connection)?;
                        }
                    }
                    1 => page.meta = d.opt(Self::paging_meta)?,
                    _ => page.links = d.opt(Self::paging_links)?,
                }
                Ok(())
            })
        })?;
        Ok(page)
    }

    pub(crate) fn errors(self) -> Res<<K::Out as Storage>::Errors> {
        self.document(|d| {
            let mut errors = None;
            let end = d.object("(body)", const { &known(["errors"]) }, |d, _| {
                let mut list = Default::default();
                d.list("errors", Capacity::Errors, &mut list, Self::error_entry)?;
                errors = Some(list);
                Ok(())
            })?;
            errors.ok_or(DecodeError::new(
                ErrorKind::MissingField { field: "errors" },
                end,
            ))
        })
    }

    /// An OAuth token endpoint's JSON answer: the token (RFC 6749 §5.1) or the error
    /// (§5.2); which fields must be there is for the caller to decide.
    #[cfg(feature = "alloc")]
    pub(crate) fn oauth(self) -> Res<OAuthBody<<K::Out as Storage>::Str>> {
        self.document(|d| {
            let mut body = OAuthBody::default();
            let keys = const {
                &known([
                    "access_token",
                    "token_type",
                    "expires_in",
                    "error",
                    "error_description",
                ])
            };
            d.object("(body)", keys, |d, i| {
                match i {
                    0 => body.access_token = d.opt_text("access_token")?,
                    1 => body.token_type = d.opt_text("token_type")?,
                    2 => body.expires_in = d.opt_int("expires_in")?,
                    3 => body.error = d.opt_text("error")?,
                    _ => body.error_description = d.opt_text("error_description")?,
                }
                Ok(())
            })?;
            Ok(body)
        })
    }

    /// Reads an object, calling `field` with the index in `keys` of each known key; unknown
    /// keys are skipped. Returns the offset of the object's end, for missing-field errors.
    ///
    /// Inlined so that `keys` is a constant where it is used: the lookup then becomes a few
    /// length and word compares instead of a loop of `memcmp` calls.
    #[inline(always)]
    fn object(
        &mut self,
        path: &'static str,
        keys: &[Known],
        mut field: impl FnMut(&mut Self, usize) -> Res<()>,
    ) -> Res<usize> {
        let mut obj = self.r.begin_object(path)?;
        let mut seen = 0u32;
        // Servers send keys in one order, usually the schema's: the key after the last one
        // is tried first, with one compare and no scan.
        let mut expected = 0;
        while self.r.has_key(&mut obj)? {
            let offset = self.r.offset();
            let index = match keys.get(expected) {
                Some(k) if self.r.known_key(k)? => Some(expected),
                _ => {
                    let key = self.r.key()?;
                    keys.iter().position(|k| key.is(k.name))
                }
            };
            match index {
                Some(i) => {
                    if seen & (1 << i) != 0 {
                        let field = keys.get(i).map_or(path, |k| k.name);
                        return Err(DecodeError::new(
                            ErrorKind::DuplicateField { field },
                            offset,
                        ));
                    }
                    seen |= 1 << i;
                    expected = i + 1;
                    field(self, i)?;
                }
                None => self.r.skip_value()?,
            }
        }
        Ok(self.r.offset())
    }

    /// Reads an array into `list`, recording (not failing on) a list that is too small.
    fn list<T, L: Push<T>>(
        &mut self,
        path: &'static str,
        what: Capacity,
        list: &mut L,
        mut item: impl FnMut(&mut Self) -> Res<T>,
    ) -> Res<()> {
        let mut arr = self.r.begin_array(path)?;
        let mut count = 0usize;
        while self.r.next_element(&mut arr)? {
            let value = item(self)?;
            count += 1;
            if !list.push_item(value) {
                let capacity = list.capacity_limit();
                match &mut self.overflow {
                    Some((w, needed, _)) if *w == what => *needed = (*needed).max(count),
                    Some(_) => {}
                    None => self.overflow = Some((what, count, capacity)),
                }
            }
        }
        Ok(())
    }

    /// `null` as `None`, anything else read by `read`.
    fn opt<T>(&mut self, read: impl FnOnce(&mut Self) -> Res<T>) -> Res<Option<T>> {
        if self.r.null()? {
            Ok(None)
        } else {
            read(self).map(Some)
        }
    }

    fn text(&mut self, path: &'static str) -> Res<<K::Out as Storage>::Str> {
        let raw = self.r.string(path)?;
        Ok(self.sink.text(raw))
    }

    fn opt_text(&mut self, path: &'static str) -> Res<Option<<K::Out as Storage>::Str>> {
        self.opt(|d| d.text(path))
    }

    fn opt_int(&mut self, path: &'static str) -> Res<Option<i64>> {
        self.opt(|d| d.r.integer(path))
    }

    fn opt_time(&mut self, path: &'static str) -> Res<Option<Timestamp<<K::Out as Storage>::Str>>> {
        self.opt(|d| d.text(path).map(Timestamp))
    }

    /// A string enum: a known value needs no storage, an unknown one is kept as text.
    fn open_enum<T>(
        &mut self,
        path: &'static str,
        known: fn(&RawStr<'a>) -> Option<T>,
        other: fn(<K::Out as Storage>::Str) -> T,
    ) -> Res<T> {
        let raw = self.r.string(path)?;
        Ok(known(&raw).unwrap_or_else(|| other(self.sink.text(raw))))
    }

    fn connection(&mut self) -> Res<Connection<K::Out>> {
        let mut c = Connection {
            id: None,
            kind: None,
            attributes: None,
            relationships: None,
            meta: None,
            links: None,
        };
        let keys = const { &known(["id", "type", "attributes", "relationships", "meta", "links"]) };
        self.object("data[]", keys, |d, i| {
            match i {
                0 => c.id = d.opt_text("data[].id")?,
                1 => c.kind = d.opt_text("data[].type")?,
                2 => c.attributes = d.opt(Self::attributes)?,
                3 => c.relationships = d.opt(Self::relationships)?,
                4 => c.meta = d.opt(Self::connection_meta)?,
                _ => {
                    c.links = d.opt(|d| {
                        let mut links = SelfLink { self_link: None };
                        d.object("data[].links", const { &known(["self"]) }, |d, _| {
                            links.self_link = d.opt_text("data[].links.self")?;
                            Ok(())
                        })?;
                        Ok(links)
                    })?
                }
            }
            Ok(())
        })?;
        Ok(c)
    }

    fn attributes(&mut self) -> Res<ConnectionAttributes<K::Out>> {
        let mut a = ConnectionAttributes {
            permissions: None,
            vehicle: None,
        };
        self.object(
            "data[].attributes",
            const { &known(["permissions", "vehicle"]) },
            |d, i| {
                if i == 0 {
                    a.permissions = d.opt(|d| {
                        let mut list = d.sink.permissions();
                        let path = "data[].attributes.permissions";
                        d.list(path, Capacity::Permissions, &mut list, |d| d.text(path))?;
                        Ok(list)
                    })?;
                } else {
                    a.vehicle = d.opt(Self::vehicle)?;
                }
                Ok(())
            },
        )?;
        Ok(a)
    }

    fn vehicle(&mut self) -> Res<Vehicle<K::Out>> {
        let mut v = Vehicle {
            make: None,
            model: None,
            year: None,
            powertrain_type: None,
            mode: None,
        };
        let keys = const { &known(["make", "model", "year", "powertrainType", "mode"]) };
        self.object("data[].attributes.vehicle", keys, |d, i| {
            match i {
                0 => v.make = d.opt_text("data[].attributes.vehicle.make")?,
                1 => v.model = d.opt_text("data[].attributes.vehicle.model")?,
                2 => v.year = d.opt_int("data[].attributes.vehicle.year")?,
                3 => v.powertrain_type = d.opt_text("data[].attributes.vehicle.powertrainType")?,
                _ => {
                    let path = "data[].attributes.vehicle.mode";
                    v.mode =
                        d.opt(|d| d.open_enum(path, VehicleMode::known, VehicleMode::Other))?;
                }
            }
            Ok(())
        })?;
        Ok(v)
    }

    fn relationships(&mut self) -> Res<Relationships<K::Out>> {
        let mut r = Relationships {
            vehicle: None,
            user: None,
        };
        self.object(
            "data[].relationships",
            const { &known(["vehicle", "user"]) },
            |d, i| {
                let rel = d.opt(Self::relationship)?;
                if i == 0 {
                    r.vehicle = rel
                } else {
                    r.user = rel
                }
                Ok(())
            },
        )?;
        Ok(r)
    }

    fn relationship(&mut self) -> Res<Relationship<K::Out>> {
        let mut r = Relationship {
            data: None,
            links: None,
        };
        self.object(
            "data[].relationships.*",
            const { &known(["data", "links"]) },
            |d, i| {
                if i == 0 {
                    r.data = d.opt(|d| {
                        let mut id = ResourceIdentifier {
                            id: None,
                            kind: None,
                        };
                        d.object(
                            "data[].relationships.*.data",
                            const { &known(["id", "type"]) },
                            |d, i| {
                                let text = d.opt_text("data[].relationships.*.data.id")?;
                                if i == 0 {
                                    id.id = text
                                } else {
                                    id.kind = text
                                }
                                Ok(())
                            },
                        )?;
                        Ok(id)
                    })?;
                } else {
                    r.links = d.opt(|d| {
                        let mut links = RelatedLink { related: None };
                        d.object(
                            "data[].relationships.*.links",
                            const { &known(["related"]) },
                            |d, _| {
                                links.related =
                                    d.opt_text("data[].relationships.*.links.related")?;
                                Ok(())
                            },
                        )?;
                        Ok(links)
                    })?;
                }
                Ok(())
            },
        )?;
        Ok(r)
    }

    fn connection_meta(&mut self) -> Res<ConnectionMeta<K::Out>> {
        let mut m = ConnectionMeta {
            created_at: None,
            updated_at: None,
            last_used_at: None,
        };
        let keys = const { &known(["createdAt", "updatedAt", "lastUsedAt"]) };
        self.object("data[].meta", keys, |d, i| {
            let time = d.opt_time("data[].meta.*")?;
            match i {
                0 => m.created_at = time,
                1 => m.updated_at = time,
                _ => m.last_used_at = time,
            }
            Ok(())
        })?;
        Ok(m)
    }

    fn paging_meta(&mut self) -> Res<PagingMeta<K::Out>> {
        let mut m = PagingMeta {
            page_number: None,
            page_size: None,
            total_count: None,
            order_by: None,
            order_direction: None,
        };
        let keys = const {
            &known([
                "pageNumber",
                "pageSize",
                "totalCount",
                "orderBy",
                "orderDirection",
            ])
        };
        self.object("meta", keys, |d, i| {
            match i {
                0 => m.page_number = d.opt_int("meta.pageNumber")?,
                1 => m.page_size = d.opt_int("meta.pageSize")?,
                2 => m.total_count = d.opt_int("meta.totalCount")?,
                3 => m.order_by = d.opt_text("meta.orderBy")?,
                _ => {
                    let (known, other) = (OrderDirection::known, OrderDirection::Other);
                    m.order_direction =
                        d.opt(|d| d.open_enum("meta.orderDirection", known, other))?;
                }
            }
            Ok(())
        })?;
        Ok(m)
    }

    /// Every link may be absent or `null`: only `next` is ever read, and its absence ends
    /// the listing.
    fn paging_links(&mut self) -> Res<PagingLinks<K::Out>> {
        let mut l = PagingLinks::default();
        let keys = const { &known(["self", "first", "prev", "next", "last"]) };
        self.object("links", keys, |d, i| {
            match i {
                0 => l.self_link = d.opt_text("links.self")?,
                1 => l.first = d.opt_text("links.first")?,
                2 => l.prev = d.opt_text("links.prev")?,
                3 => l.next = d.opt_text("links.next")?,
                _ => l.last = d.opt_text("links.last")?,
            }
            Ok(())
        })?;
        Ok(l)
    }

    /// Every field may be absent or `null`: an entry missing a field the contract requires
    /// keeps the fields it has, rather than losing the whole body to a snippet. A field of the
    /// wrong type still fails, so a body that is not a v3 error is not mistaken for one.
    fn error_entry(&mut self) -> Res<ErrorEntry<K::Out>> {
        let mut e = ErrorEntry::default();
        let keys = const {
            &known([
                "status",
                "type",
                "code",
                "title",
                "detail",
                "resolution",
                "suggestedUserMessage",
                "links",
                "meta",
            ])
        };
        self.object("errors[]", keys, |d, i| {
            match i {
                0 => {
                    e.status = d.opt(|d| {
                        let raw = d.r.scalar_text("errors[].status")?;
                        Ok(d.sink.text(raw))
                    })?
                }
                1 => {
                    let (known, other) = (ErrorType::known, ErrorType::Other);
                    e.kind = d.opt(|d| d.open_enum("errors[].type", known, other))?
                }
                2 => e.code = d.opt_text("errors[].code")?,
                3 => e.title = d.opt_text("errors[].title")?,
                4 => e.detail = d.opt_text("errors[].detail")?,
                5 => {
                    e.resolution = d.opt(|d| {
                        let mut r = Resolution { kind: None };
                        d.object("errors[].resolution", const { &known(["type"]) }, |d, _| {
                            let (known, other) = (ResolutionType::known, ResolutionType::Other);
                            let path = "errors[].resolution.type";
                            r.kind = d.opt(|d| d.open_enum(path, known, other))?;
                            Ok(())
                        })?;
                        Ok(r)
                    })?
                }
                6 => e.suggested_user_message = d.opt_text("errors[].suggestedUserMessage")?,
                7 => {
                    e.links = d.opt(|d| {
                        let mut l = ErrorLinks { about: None };
                        d.object("errors[].links", const { &known(["about"]) }, |d, _| {
                            l.about = d.opt_text("errors[].links.about")?;
                            Ok(())
                        })?;
                        Ok(l)
                    })?
                }
                _ => e.meta = d.opt(Self::error_meta)?,
            }
            Ok(())
        })?;
        Ok(e)
    }

    fn error_meta(&mut self) -> Res<ErrorMeta<K::Out>> {
        let mut m = ErrorMeta { debug: None };
        self.object("errors[].meta", const { &known(["debug"]) }, |d, _| {
            m.debug = d.opt(|d| {
                let mut dbg = ErrorDebug {
                    application_id: None,
                    request_id: None,
                    origin: None,
                };
                let keys = const { &known(["applicationId", "requestId", "origin"]) };
                d.object("errors[].meta.debug", keys, |d, i| {
                    let text = d.opt_text("errors[].meta.debug.*")?;
                    match i {
                        0 => dbg.application_id = text,
                        1 => dbg.request_id = text,
                        _ => dbg.origin = text,
                    }
                    Ok(())
                })?;
                Ok(dbg)
            })?;
            Ok(())
        })?;
        Ok(m)
    }
}
