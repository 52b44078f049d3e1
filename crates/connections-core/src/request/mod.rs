//! Building requests: the validated builder, its query string, the base URL and page links,
//! and the parts (or `http::Request`) a transport sends.
//!
//! Layering, lowest first; a module imports only from modules listed before it:
//! `builder` → `query` → `url` → `parts` → `http`. Nothing here imports from outside
//! `request/`.

pub(crate) mod builder;
#[cfg(feature = "http")]
pub(crate) mod http;
pub(crate) mod parts;
pub(crate) mod query;
pub(crate) mod url;
