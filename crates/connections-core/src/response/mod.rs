//! Reading responses: the JSON reader, the decoder, the models and the API's errors, the
//! storage they are held in, and the outcome of one response (a page or a typed error).
//!
//! Nothing here imports from outside `response/`.
// Layering is written out once the cycle is broken.

pub mod decode;
pub(crate) mod decode_error;
pub mod error;
pub(crate) mod failure;
pub(crate) mod json;
pub mod model;
pub(crate) mod outcome;
pub(crate) mod retry_after;
pub mod storage;
