//! Iterator sources that pass a checkpoint once per chunk of items: the
//! runtime half of how `#[killable]` makes iterator chains killable without
//! slowing them down.
//!
//! A checkpoint at the entry of every closure of
//! `v.iter().map(|&x| x * 3).sum()` is an atomic load inside the loop that
//! std's `fold` runs, and LLVM does not vectorize across it (`cargo bench
//! --bench perf -- kernels` measures by how much). So, for a chain whose source the attribute recognizes by
//! its syntax (a range, or `iter`, `iter_mut`, `into_iter`, `chars`, `bytes`,
//! `windows`, `chunks`, `keys`, `values`, … on a place, with the `zip`,
//! `enumerate`, `take`, `step_by` or `chain` right after it, if any), it
//! drops the entry checks of the chain's straight-line closures and wraps
//! the source in
//! [`chunked!`](crate::__killable_chunked), which picks, from the source's
//! *type*, the cheapest wrapper that still passes a checkpoint for every
//! bounded number of items:
//!
//! | source type | wrapper | checkpoints |
//! | --- | --- | --- |
//! | slice iterators (`iter`, `iter_mut`), integer ranges, `Chars` (`Split`) | `Chunked` | once per chunk of `CHUNK` items (bytes for `Chars`); each chunk runs the source's own `fold`, so it vectorizes as without the attribute |
//! | `zip` of slice iterators (`iter`, `iter().copied()`), integer ranges and such zips (`ZipPart`) | `ZipChunked` | once per chunk of `CHUNK` items; each chunk is `clone().take(n)` of the zip, which std folds by index (so it vectorizes as without the attribute), and `nth` skips it in constant time |
//! | other std iterators whose `next` is cheap and never blocks, and std's `zip`, `enumerate`, `take`, `step_by`, `chain`, … of them (`StdCheap`) | `Counted` | once per `CHUNK` items |
//! | any other iterator (a user's, a channel's, `io::Bytes`) | `Checked` | once per item: its `next` may block or take long |
//! | not an iterator at all | the value itself | none (its chain is not std's) |
//!
//! The choice is made by method resolution on `Probe` (autoref-based
//! specialization): it needs no unstable feature, and in generic code, where
//! the type is a parameter, it falls back to `Checked`.
//!
//! Input: `chunked!(v.iter())` with `v: Vec<u32>`.
//! Output: `Chunked<slice::Iter<'_, u32>>`, an iterator over the same items,
//! in the same order, with the same `size_hint`, `len`, `rev`, `Clone` and
//! `Debug` output, and checkpoints in `next`, `fold` and the searches.

pub use crate::chunk::{Probe, CHUNK};

/// Forwards what every wrapper forwards unchanged: `Clone`, a transparent
/// `Debug` (a chain prints as it does without the attribute),
/// `ExactSizeIterator` and `FusedIterator`.
macro_rules! transparent {
    ($name:ident) => {
        impl<I: fmt::Debug> fmt::Debug for $name<I> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.inner.fmt(f)
            }
        }

        impl<I: ExactSizeIterator> ExactSizeIterator for $name<I>
        where
            $name<I>: Iterator<Item = I::Item>,
        {
            #[inline]
            fn len(&self) -> usize {
                self.inner.len()
            }
        }

        impl<I: FusedIterator> FusedIterator for $name<I> where $name<I>: Iterator {}
    };
}

/// Items `next` (or `nth` calls) may still hand out before the next
/// checkpoint: the item-at-a-time path of `Chunked` and `Counted`.
#[derive(Clone, Copy)]
struct Budget {
    left: usize,
}

impl Budget {
    const FULL: Budget = Budget { left: CHUNK };

    /// Counts one item (or one `nth` call, constant time on these sources)
    /// toward the next checkpoint.
    #[inline(always)]
    fn tick(&mut self) {
        if self.left == 0 {
            checkpoint();
            self.left = CHUNK;
        }
        self.left -= 1;
    }
}

/// `next`, `size_hint` and `nth` of a wrapper with a `Budget`: each item,
/// or each `nth` call (constant time on the sources that get a budget),
/// counts toward the next checkpoint.
macro_rules! budgeted_front {
    () => {
        #[inline]
        fn next(&mut self) -> Option<Self::Item> {
            self.budget.tick();
            self.inner.next()
        }

        #[inline]
        fn size_hint(&self) -> (usize, Option<usize>) {
            self.inner.size_hint()
        }

        #[inline]
        fn nth(&mut self, n: usize) -> Option<Self::Item> {
            self.budget.tick();
            self.inner.nth(n)
        }
    };
}

/// `next_back` and `nth_back` of a wrapper with a `Budget`.
macro_rules! budgeted_back {
    () => {
        #[inline]
        fn next_back(&mut self) -> Option<Self::Item> {
            self.budget.tick();
            self.inner.next_back()
        }

        #[inline]
        fn nth_back(&mut self, n: usize) -> Option<Self::Item> {
            self.budget.tick();
            self.inner.nth_back(n)
        }
    };
}

use crate::checkpoint::runtime_checkpoint as checkpoint;

mod checked;
mod chunks;
mod counted;
mod kinds;
mod probe;
mod split;
mod zip;

pub use checked::Checked;
pub use chunks::Chunked;
pub use counted::Counted;
pub use kinds::{StdCheap, ZipPart};
pub use probe::{CheckedTag, ChunkKind, OpaqueTag, SplitTag, StdTag, ZipTag};
pub use split::Split;
pub use zip::ZipChunked;

/// `chunked!(source)`: `source`, wrapped in the cheapest iterator adapter
/// that passes a checkpoint at least once per `CHUNK` items (see the
/// module docs of `killable_core::chunked`). Used by `#[killable]` as
/// `::killable::__private::chunked!`; not public API.
///
/// # Examples
///
/// ```
/// # use killable::__private::chunked;
/// let total: u64 = chunked!((0..10_000u64)).map(|x| x * x).sum();
/// assert_eq!(total, (0..10_000u64).map(|x| x * x).sum());
/// ```
#[doc(hidden)]
#[macro_export]
macro_rules! __killable_chunked {
    ($source:expr) => {
        match $source {
            source => {
                use $crate::chunked::ChunkKind as _;
                (&&&&&$crate::chunked::Probe(&source))
                    .__killable_kind()
                    .wrap(source)
            }
        }
    };
}

#[cfg(test)]
mod tests;
