//! Following pages and driving a whole listing: the paginator, the retry policy, the pacer,
//! checkpoints, and the listing engine that combines them.
//!
//! Layering: `retry`, `pace`, `paginate` and `checkpoint` import nothing from each other;
//! `listing` (the engine) may use all four. Any of them may use `request/` and `response/`;
//! nothing in `request/` or `response/` imports from here.
//!
//! This folder is the module `listing_stage` (see `lib.rs`): the name `listing` belongs to
//! the public engine module inside it.

#[cfg(feature = "alloc")]
pub mod checkpoint;
#[cfg(feature = "alloc")]
pub mod listing;
pub mod pace;
pub(crate) mod paginate;
pub(crate) mod retry;
