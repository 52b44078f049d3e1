//! How decoded text and lists are held: borrowed from the body, owned, or in fixed-size storage.
//!
//! Every model is generic over a [`Storage`], so one decoder and one set of types serve an
//! allocating service and a device without a heap alike.

use core::fmt::Debug;
use core::hash::Hash;
use core::marker::PhantomData;

use super::error::ErrorEntry;
use super::model::Connection;

#[cfg(feature = "alloc")]
use alloc::{borrow::Cow, string::String, vec::Vec};

/// Text held by a model: `&str`, `Cow<str>` or `String`.
///
/// Sealed: the decoder and the models rely on exactly these, and a method can be added
/// (or one appear with a feature) without breaking anyone.
pub trait Text: AsRef<str> + Clone + Debug + PartialEq + Eq + Hash + sealed::Sealed {
    /// Moves the text into a `String`, copying only what is borrowed.
    #[cfg(feature = "alloc")]
    fn into_string(self) -> String;
}

impl sealed::Sealed for &str {}
impl Text for &str {
    #[cfg(feature = "alloc")]
    fn into_string(self) -> String {
        String::from(self)
    }
}

#[cfg(feature = "alloc")]
impl sealed::Sealed for String {}
#[cfg(feature = "alloc")]
impl Text for String {
    fn into_string(self) -> String {
        self
    }
}

#[cfg(feature = "alloc")]
impl sealed::Sealed for Cow<'_, str> {}
#[cfg(feature = "alloc")]
impl Text for Cow<'_, str> {
    fn into_string(self) -> String {
        self.into_owned()
    }
}

/// The types a decoded model is made of: `Borrowed`, `Owned` or [`Heapless`].
///
/// Sealed: the decoder fills only these, so an outside storage could not be decoded into.
///
/// ```compile_fail,E0277
/// use connections_core::{error::ErrorEntry, model::Connection, storage::Storage};
///
/// #[derive(Clone, Debug, PartialEq, Eq, Hash)]
/// struct Mine;
///
/// impl Storage for Mine {
///     type Str = &'static str;
///     type Permissions = heapless::Vec<&'static str, 1>;
///     type Connections = heapless::Vec<Connection<Self>, 1>;
///     type Errors = heapless::Vec<ErrorEntry<Self>, 1>;
/// }
/// ```
pub trait Storage: Sized + Clone + Debug + PartialEq + Eq + Hash + sealed::Sealed {
    /// A string value.
    type Str: Text;
    /// The `permissions` of one connection.
    type Permissions: List<Self::Str>;
    /// The `data` of a page.
    type Connections: List<Connection<Self>>;
    /// The `errors` of an error response.
    type Errors: List<ErrorEntry<Self>>;
}

/// A list a model holds: a `Vec`, or a `heapless::Vec` that may be full.
pub trait List<T>:
    AsRef<[T]>
    + IntoIterator<Item = T>
    + Default
    + Clone
    + Debug
    + PartialEq
    + Eq
    + Hash
    + sealed::Push<T>
{
}

impl<T, L> List<T> for L where
    L: AsRef<[T]>
        + IntoIterator<Item = T>
        + Default
        + Clone
        + Debug
        + PartialEq
        + Eq
        + Hash
        + sealed::Push<T>
{
}

pub(crate) mod sealed {
    /// Closes [`Text`](super::Text) and [`Storage`](super::Storage) to this crate's types.
    pub trait Sealed {}

    /// Appending for the decoder; only this crate's list types implement it.
    pub trait Push<T> {
        /// Appends `item`, or returns `false` when the list is full.
        fn push_item(&mut self, item: T) -> bool;
        /// How many items the list can hold.
        fn capacity_limit(&self) -> usize;
    }

    #[cfg(feature = "alloc")]
    impl<T> Push<T> for alloc::vec::Vec<T> {
        fn push_item(&mut self, item: T) -> bool {
            self.push(item);
            true
        }
        fn capacity_limit(&self) -> usize {
            usize::MAX
        }
    }

    impl<T, const N: usize> Push<T> for heapless::Vec<T, N> {
        fn push_item(&mut self, item: T) -> bool {
            self.push(item).is_ok()
        }
        fn capacity_limit(&self) -> usize {
            N
        }
    }
}

/// Strings borrowed from the response body where they hold no escapes, copied where they do.
#[cfg(feature = "alloc")]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Borrowed<'a>(PhantomData<&'a ()>);

#[cfg(feature = "alloc")]
impl sealed::Sealed for Borrowed<'_> {}
#[cfg(feature = "alloc")]
impl<'a> Storage for Borrowed<'a> {
    type Str = Cow<'a, str>;
    type Permissions = Vec<Cow<'a, str>>;
    type Connections = Vec<Connection<Self>>;
    type Errors = Vec<ErrorEntry<Self>>;
}

/// Owned strings and vectors: models that outlive the body and implement `Deserialize`.
#[cfg(feature = "alloc")]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Owned;

#[cfg(feature = "alloc")]
impl sealed::Sealed for Owned {}
#[cfg(feature = "alloc")]
impl Storage for Owned {
    type Str = String;
    type Permissions = Vec<String>;
    type Connections = Vec<Connection<Self>>;
    type Errors = Vec<ErrorEntry<Self>>;
}

/// No allocator: strings point into the body, or into a caller's scratch buffer when they had
/// escapes; at most `N` connections per page, `P` permissions per connection and `E` errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Heapless<'a, const N: usize, const P: usize, const E: usize>(PhantomData<&'a ()>);

impl<const N: usize, const P: usize, const E: usize> sealed::Sealed for Heapless<'_, N, P, E> {}
impl<'a, const N: usize, const P: usize, const E: usize> Storage for Heapless<'a, N, P, E> {
    type Str = &'a str;
    type Permissions = heapless::Vec<&'a str, P>;
    type Connections = heapless::Vec<Connection<Self>, N>;
    type Errors = heapless::Vec<ErrorEntry<Self>, E>;
}
