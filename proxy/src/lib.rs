//! The `embedgate` proxy as a library, so tests and tools (the demo and
//! benchmark helpers of `crates/embedgate-devtools`) can start it
//! in-process. The command line lives in the binary.
//!
//! [`serve`] is the edge verification proxy: it verifies signed embed URLs
//! (EG1-HMAC-SHA256) with `embedgate-core`, turns them into stateless session
//! cookies, and forwards authorised requests to the content backend.
#![warn(missing_docs)]

pub mod admin_api;
pub mod serve;
