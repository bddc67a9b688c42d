//! Developer tools of the embedgate workspace, kept out of the product
//! binary: nothing here is published or shipped.
//!
//! - [`demo`]: the live demo behind `cargo xtask demo` (a content backend,
//!   `embedgate serve` in-process on a SQLite store, and a host app that
//!   signs the embed URL of its iframe on every load);
//! - [`bench`](mod@bench): what `cargo xtask bench-proxy` and
//!   `crates/xtask/perf/measure-proxy.sh` need besides `embedgate serve`: a
//!   fixed-answer backend, a store with one embed secret, and lists of
//!   pre-signed URLs.
//!
//! The binary `embedgate-dev` runs both from the command line.
#![warn(missing_docs)]

pub mod bench;
mod clock;
pub mod demo;
