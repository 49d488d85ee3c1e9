//! A string's storage in one allocation: a reference count, the length and the capacity, then the UTF-16
//! code units. `JsStr` is a pointer to one.
//!
//! `Rc<Vec<u16>>` took two allocations per string (the count with the vector's header, then the units) and
//! two dependent loads to reach a unit. Strings are the most allocated thing in text-handling functions
//! (every `slice`, `+`, `padStart` or number formatted makes one), so one allocation and one load each
//! matter. A buffer nobody else holds still grows in place (`push_units`), so `s += t` in a loop stays
//! amortised linear, as it was with the vector.
//!
//! Not `Send`: the count is a plain integer, like `Rc`'s, and a realm's strings stay on its thread.

use std::alloc::{self, Layout};
use std::marker::PhantomData;
use std::ptr::{self, NonNull};

/// What precedes the units. `repr(C)` and three words, so the units start 8-aligned at offset 24.
#[repr(C)]
struct Head {
    count: usize,
    len: usize,
    cap: usize,
}

const HEAD: usize = std::mem::size_of::<Head>();

/// A reference-counted, growable-while-unique sequence of UTF-16 code units.
pub struct StrBuf {
    ptr: NonNull<Head>,
    /// `Rc`-like: neither `Send` nor `Sync`.
    _not_send: PhantomData<*const ()>,
}

fn layout(cap: usize) -> Layout {
    cap.checked_mul(2)
        .and_then(|b| b.checked_add(HEAD))
        .and_then(|size| Layout::from_size_align(size, std::mem::align_of::<Head>()).ok())
        .expect("string capacity overflow")
}

impl StrBuf {
    /// An empty buffer with room for `cap` units, held only by the caller.
    pub fn with_capacity(cap: usize) -> StrBuf {
        let l = layout(cap);
        // SAFETY: `l` has a non-zero size (at least the head's 24 bytes).
        let raw = unsafe { alloc::alloc(l) } as *mut Head;
        let Some(ptr) = NonNull::new(raw) else {
            alloc::handle_alloc_error(l)
        };
        // SAFETY: `ptr` is a fresh allocation sized and aligned for a `Head` (and `cap` units after it).
        unsafe {
            ptr.as_ptr().write(Head {
                count: 1,
                len: 0,
                cap,
            })
        };
        StrBuf {
            ptr,
            _not_send: PhantomData,
        }
    }

    /// A buffer holding a copy of `units`, with no spare room.
    pub fn from_slice(units: &[u16]) -> StrBuf {
        let mut b = StrBuf::with_capacity(units.len());
        b.push_units(units);
        b
    }

    #[inline(always)]
    fn head(&self) -> &Head {
        // SAFETY: `ptr` points to an initialised head for as long as this buffer holds its count.
        unsafe { self.ptr.as_ref() }
    }

    #[inline(always)]
    fn data(&self) -> *mut u16 {
        // SAFETY: the units start right after the head, inside the same allocation.
        unsafe { (self.ptr.as_ptr() as *mut u8).add(HEAD) as *mut u16 }
    }

    #[inline(always)]
    pub fn units(&self) -> &[u16] {
        // SAFETY: the first `len` units are initialised, and they do not change while anything borrows
        // them: only `push_units` writes, through `&mut self` of the only holder.
        unsafe { std::slice::from_raw_parts(self.data(), self.head().len) }
    }

    #[inline(always)]
    pub fn len(&self) -> usize {
        self.head().len
    }

    #[inline(always)]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether this is the only holder of the buffer (then appending to it in place is invisible).
    #[inline(always)]
    pub fn is_unique(&self) -> bool {
        self.head().count == 1
    }

    #[inline(always)]
    pub fn ptr_eq(&self, other: &StrBuf) -> bool {
        self.ptr == other.ptr
    }

    /// Appends `more` when this is the only holder; false (and nothing done) when the buffer is shared.
    #[inline]
    pub fn push_units(&mut self, more: &[u16]) -> bool {
        if !self.is_unique() {
            return false;
        }
        let (len, cap) = (self.head().len, self.head().cap);
        let need = len.checked_add(more.len()).expect("string length overflow");
        if need > cap {
            self.grow(need.max(cap.saturating_mul(2)).max(8));
        }
        // SAFETY: there is room for `need` units (just ensured), `more` cannot overlap this buffer (a slice
        // of it would be a borrow of `self`, which `&mut self` excludes), and the head is ours alone.
        unsafe {
            copy_units(more.as_ptr(), self.data().add(len), more.len());
            (*self.ptr.as_ptr()).len = need;
        }
        true
    }

    #[cold]
    fn grow(&mut self, cap: usize) {
        let old = layout(self.head().cap);
        let new = layout(cap);
        // SAFETY: the block was allocated with `old` by this allocator, and `new`'s size is non-zero and does
        // not overflow `isize` (`layout` checked it). Only the only holder grows a buffer, so no other
        // pointer to the old block survives the move.
        let raw =
            unsafe { alloc::realloc(self.ptr.as_ptr() as *mut u8, old, new.size()) } as *mut Head;
        let Some(ptr) = NonNull::new(raw) else {
            alloc::handle_alloc_error(new)
        };
        self.ptr = ptr;
        // SAFETY: the head moved with the block and is ours alone.
        unsafe { (*self.ptr.as_ptr()).cap = cap };
    }
}

impl Clone for StrBuf {
    #[inline]
    fn clone(&self) -> StrBuf {
        // SAFETY: the head is live; the count is only touched on this thread (the type is not `Send`).
        unsafe {
            let h = self.ptr.as_ptr();
            // As `Rc`: a count that would overflow aborts rather than wrap into a use after free.
            if (*h).count == usize::MAX {
                std::process::abort();
            }
            (*h).count += 1;
        }
        StrBuf {
            ptr: self.ptr,
            _not_send: PhantomData,
        }
    }
}

impl Drop for StrBuf {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: as in `clone`.
        unsafe {
            let h = self.ptr.as_ptr();
            if (*h).count == 1 {
                free(self.ptr);
            } else {
                (*h).count -= 1;
            }
        }
    }
}

/// Frees a block whose last holder is going: out of line, so that dropping a string inlines to a decrement
/// and a test, as `Rc`'s does.
///
/// # Safety
/// `ptr` is a live block of this module whose count is 1, held by the caller, which never uses it again.
#[inline(never)]
unsafe fn free(ptr: NonNull<Head>) {
    // SAFETY: the caller's guarantee; the block is freed with the layout it was (re)allocated with.
    unsafe {
        let l = layout((*ptr.as_ptr()).cap);
        alloc::dealloc(ptr.as_ptr() as *mut u8, l);
    }
}

/// Copies `n` units (at least a `W` of them, at most two) as a `W` at each end, overlapping in the middle.
///
/// # Safety
/// As `copy_units`, with `n` units at least as wide as `W`.
#[inline(always)]
unsafe fn copy_ends<W>(src: *const u16, dst: *mut u16, n: usize) {
    let w = std::mem::size_of::<W>() / 2;
    // SAFETY: both words lie within the `n` units the caller vouches for (`w <= n`), read and written
    // unaligned.
    unsafe {
        let (a, b) = (
            ptr::read_unaligned(src as *const W),
            ptr::read_unaligned(src.add(n - w) as *const W),
        );
        ptr::write_unaligned(dst as *mut W, a);
        ptr::write_unaligned(dst.add(n - w) as *mut W, b);
    }
}

/// Copies `n` units from `src` to `dst`: up to 8 units (the pieces strings are mostly built of) as one or
/// two machine words, overlapping when `n` is not a word's size, where a call to `memcpy` would cost more
/// than the copy; longer runs through `memcpy`.
///
/// # Safety
/// As `ptr::copy_nonoverlapping`: `src` readable and `dst` writable for `n` units, not overlapping.
#[inline(always)]
unsafe fn copy_units(src: *const u16, dst: *mut u16, n: usize) {
    // SAFETY (every arm): the reads and writes stay within the `n` units the caller vouches for; the
    // unaligned forms make no alignment demand beyond the units'.
    unsafe {
        match n {
            0 => {}
            1 => *dst = *src,
            2..=3 => copy_ends::<u32>(src, dst, n),
            4..=8 => copy_ends::<u64>(src, dst, n),
            _ => ptr::copy_nonoverlapping(src, dst, n),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pieces of every length up to past the word copies, appended one after another at every offset,
    /// give exactly the units appended.
    #[test]
    fn appended_pieces_of_every_length_keep_their_units() {
        let src: Vec<u16> = (0..40u16).map(|i| 0xd7f0 + i * 37).collect();
        for first in 0..12 {
            for n in 0..=20 {
                let mut b = StrBuf::from_slice(&src[..first]);
                assert!(b.push_units(&src[first..first + n]));
                assert!(b.push_units(&src[..n]));
                let mut want = src[..first + n].to_vec();
                want.extend_from_slice(&src[..n]);
                assert_eq!(b.units(), &want[..], "after {first} units, {n} twice");
            }
        }
    }

    #[test]
    fn buffers_share_until_the_last_holder_and_grow_only_when_alone() {
        let mut a = StrBuf::from_slice(&[104, 105]);
        assert_eq!(a.units(), &[104, 105]);
        assert!(a.is_unique());
        // Unique: grows in place, across several reallocations.
        for i in 0..1000u16 {
            assert!(a.push_units(&[i, i + 1]));
        }
        assert_eq!(a.len(), 2002);
        assert_eq!(&a.units()[2..6], &[0, 1, 1, 2]);
        assert_eq!(a.units()[2001], 1000);
        // Shared: refuses, and neither holder changes.
        let b = a.clone();
        assert!(!a.is_unique() && a.ptr_eq(&b));
        assert!(!a.push_units(&[7]));
        assert_eq!(a.len(), 2002);
        assert_eq!(b.units(), a.units());
        drop(b);
        assert!(a.is_unique());
        assert!(a.push_units(&[7]));
        assert_eq!(*a.units().last().unwrap(), 7);
        // Empty buffers, with and without room.
        let e = StrBuf::with_capacity(0);
        assert!(e.is_empty() && e.units().is_empty());
        let mut f = StrBuf::from_slice(&[]);
        assert!(f.push_units(&[]));
        assert!(f.push_units(&[1, 2, 3]));
        assert_eq!(f.units(), &[1, 2, 3]);
        // Many holders, dropped in any order.
        let g = StrBuf::from_slice(&[9; 40]);
        let copies: Vec<StrBuf> = (0..50).map(|_| g.clone()).collect();
        drop(g);
        for c in copies.iter().rev() {
            assert_eq!(c.units(), &[9; 40][..]);
        }
        drop(copies);
    }
}
