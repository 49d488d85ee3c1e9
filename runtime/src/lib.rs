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
mod strbuf;
#[cfg(test)]
mod testkit;
pub mod value;

/// The allocator of every dispatcher (and of the runtime's tests): mimalloc (see its entry in Cargo.toml).
/// Not under Miri, which checks the unsafe code (`strbuf`) against the system allocator: it cannot run C.
#[cfg_attr(not(miri), global_allocator)]
static ALLOCATOR: Alloc = Alloc;

/// mimalloc, asked for plain blocks where that is enough. `mimalloc::MiMalloc` asks for every block by its
/// alignment (`mi_malloc_aligned`), a longer path; every block mimalloc hands out is aligned to at least 8
/// bytes, so a layout asking for no more than that takes the plain one (nearly all of them: strings,
/// vectors of values, reference counts).
struct Alloc;

const PLAIN_ALIGN: usize = 8;

// SAFETY: each method forwards to mimalloc's matching function, with the layout's alignment wherever it
// is more than the plain blocks' alignment, so every block returned is aligned as `GlobalAlloc` requires;
// blocks of either kind are freed by `mi_free`.
unsafe impl std::alloc::GlobalAlloc for Alloc {
    #[inline]
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        if layout.align() <= PLAIN_ALIGN {
            libmimalloc_sys::mi_malloc(layout.size()) as *mut u8
        } else {
            libmimalloc_sys::mi_malloc_aligned(layout.size(), layout.align()) as *mut u8
        }
    }
    #[inline]
    unsafe fn alloc_zeroed(&self, layout: std::alloc::Layout) -> *mut u8 {
        if layout.align() <= PLAIN_ALIGN {
            libmimalloc_sys::mi_zalloc(layout.size()) as *mut u8
        } else {
            libmimalloc_sys::mi_zalloc_aligned(layout.size(), layout.align()) as *mut u8
        }
    }
    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: std::alloc::Layout) {
        libmimalloc_sys::mi_free(ptr as *mut std::ffi::c_void)
    }
    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, new_size: usize) -> *mut u8 {
        let p = ptr as *mut std::ffi::c_void;
        if layout.align() <= PLAIN_ALIGN {
            libmimalloc_sys::mi_realloc(p, new_size) as *mut u8
        } else {
            libmimalloc_sys::mi_realloc_aligned(p, new_size, layout.align()) as *mut u8
        }
    }
}

pub use cx::{
    abort, unknown, Abort, AbortKind, Call, Code, Ctl, Cx, JsResult, Limits, Program, RowsCode,
    SortRows,
};
pub use value::{tag, JsStr, ObjRef, Value};
