//! The runtime every function compiled by Containerless links: JavaScript values with exact semantics,
//! a per-request heap with a byte cap, fuel and a deadline, the builtins, and the dispatcher that serves
//! one compiled function over HTTP.
//!
//! Generated code calls the functions re-exported here; see `compiler/codegen` for what it emits.

pub mod builtins;
pub mod call;
pub mod contract;
pub mod cx;
pub mod dispatcher;
pub mod elems;
pub mod fastloop;
pub mod heap;
pub mod io;
pub mod native;
pub mod ops;
pub mod propmap;
pub mod props;
pub mod realm;
pub mod rt;
#[cfg(test)]
mod testkit;
pub mod value;

/// The allocator of every dispatcher (and of the runtime's tests): see the `mimalloc` entry in Cargo.toml.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

pub use cx::{abort, unknown, Abort, AbortKind, Call, Code, Ctl, Cx, JsResult, Limits, Program};
pub use value::{tag, JsStr, ObjRef, Value};
