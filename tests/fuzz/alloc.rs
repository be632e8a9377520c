//! A counting global allocator: bytes currently allocated and the peak, per thread (tests run
//! on several threads; each measures only what its own code allocates).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

pub struct Counting;

thread_local! {
    // `const` and `Cell` of plain integers: no lazy initialisation or destructor, so using
    // them inside the allocator never allocates or recurses.
    static CURRENT: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn count(delta: isize) {
    let _ = CURRENT.try_with(|c| {
        let now = c.get() + delta;
        c.set(now);
        let _ = PEAK.try_with(|p| {
            if now > p.get() {
                p.set(now)
            }
        });
    });
}

// SAFETY: every call is forwarded unchanged to `System`; only counters are added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            count(layout.size() as isize);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            count(layout.size() as isize);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        count(-(layout.size() as isize));
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            // A moving realloc holds both blocks for a moment: count the new one first.
            count(new_size as isize);
            count(-(layout.size() as isize));
        }
        p
    }
}

/// Runs `f` and returns its result and the most bytes it had allocated at once on this thread
/// (its result included).
pub fn peak<R>(f: impl FnOnce() -> R) -> (R, usize) {
    let start = CURRENT.with(Cell::get);
    PEAK.with(|p| p.set(start));
    let r = f();
    let peak = PEAK.with(Cell::get) - start;
    (r, peak.max(0) as usize)
}

/// Asserts that `f`, given `n` bytes of input, peaks at no more than `per_byte·n + fixed` bytes.
pub fn bounded<R>(what: &str, n: usize, per_byte: usize, fixed: usize, f: impl FnOnce() -> R) -> R {
    let (r, used) = peak(f);
    let limit = per_byte * n + fixed;
    assert!(
        used <= limit,
        "{what}: {used} bytes allocated for {n} bytes of input (limit {per_byte}·n + {fixed} = {limit})"
    );
    r
}

#[test]
fn the_allocator_counts_what_a_closure_holds_at_its_peak() {
    let ((), used) = peak(|| {
        let a = vec![0u8; 10_000];
        drop(a);
        let b = vec![0u8; 4_000];
        drop(b);
    });
    assert!((10_000..11_000).contains(&used), "{used}");
}
