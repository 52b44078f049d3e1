//! Reading responses: the JSON reader, the decoder, the models and the API's errors, the
//! storage they are held in, and the outcome of one response (a page or a typed error).
//!
//! Layering, lowest first; a module imports only from modules before it:
//! 1. `retry_after`, `failure`, `decode_error`: what a response says about waiting and
//!    retrying, and why a body could not be decoded. They import nothing.
//! 2. `json`: the validating JSON reader.
//! 3. `storage`: how text and lists are held.
//! 4. `model`: the page and its connections.
//! 5. `error`: the API's error bodies.
//! 6. `decode`: the decoder, from `json` into `model` and `error`.
//! 7. `outcome`: a status, headers and body turned into a page or a typed error.
//!
//! One exception, by type rather than by code: the public [`storage::Storage`] trait bounds
//! its lists by `Connection<Self>` and `ErrorEntry<Self>`, which are themselves generic over
//! `Storage`, so `storage` names those two types from `model` and `error`. Nothing else in
//! `storage` looks upwards. Nothing here imports from outside `response/`.

pub mod decode;
pub(crate) mod decode_error;
pub mod error;
pub(crate) mod failure;
pub(crate) mod json;
pub mod model;
pub(crate) mod outcome;
pub(crate) mod retry_after;
pub mod storage;
