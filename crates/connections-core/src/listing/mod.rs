//! Following pages and driving a whole listing.

#[cfg(feature = "alloc")]
pub mod checkpoint;
#[cfg(feature = "alloc")]
pub mod listing;
pub mod pace;
pub(crate) mod paginate;
pub(crate) mod retry;
