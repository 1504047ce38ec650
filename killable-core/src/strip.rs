//! The iterator side of strip-mined `for` loops: what `#[killable]` walks in
//! chunks, with a checkpoint between two chunks.
//!
//! The attribute rewrites a cheap `for` loop (see `killable-macros`'
//! `strip.rs`) into an outer loop that passes a checkpoint and an inner
//! `for` over one chunk of at most [`CHUNK`](crate::strip::CHUNK) items. How a chunk is cut is
//! chosen here, from the iterator's *type*, by method resolution on
//! [`Probe`](crate::chunk::Probe) (autoref-based specialization, as in `chunked`):
//!
//! | iterator | chunk | end of the loop |
//! | --- | --- | --- |
//! | `Range` or `RangeInclusive` of an integer type | `lo + 0, lo + 1, …, lo + (n - 1)`, `n` computed up front | `n < CHUNK`, or the last item was reached |
//! | any other iterator | `by_ref().take(CHUNK)` | fewer than `CHUNK` items came |
//!
//! Why ranges get their own chunk: `take` gives the inner loop two exits
//! (the count and the range's end), so LLVM can neither compute its trip
//! count nor unroll it, and a dependency chain such as
//! `x = x.wrapping_mul(A).wrapping_add(C)` ran several times slower than
//! without the attribute (`cargo bench --bench perf -- kernels`). A counted inner loop over `0..n`, whose start
//! advances by exactly `CHUNK` from one chunk to the next, is the loop
//! LLVM sees without the attribute, cut in pieces: it unrolls and
//! reassociates it the same way.
//!
//! In generic code, where the iterator's type is a parameter, the probe
//! falls back to `take`. For a loop body that indexes (`c[i] += b[i]`) the
//! attribute skips the probe and takes [`TakeTag`](crate::strip::TakeTag) at once: a counted
//! chunk's setup runs each time the loop starts, which a short
//! bounds-checked loop pays in full (the bench's matmul kernel).
//!
//! Input: `for i in 0..n { BODY }` with `n: u64` (after the attribute).
//! Output, in effect:
//! ```text
//! let mut src = RangeSource { lo: 0, end: n, len: 0 };
//! loop {
//!     CP;
//!     for i in src.chunk() { BODY }   // lo, lo + 1, …: len = min(end - lo, CHUNK) items
//!     if !src.advance(..) { break }   // false if len < CHUNK, else lo += CHUNK
//! }
//! ```

use core::iter::{FusedIterator, Take};
use core::ops::{Range, RangeInclusive};

pub use crate::chunk::{Probe, CHUNK};

/// An integer type's range arithmetic: the counted chunks here, and the
/// split ranges of `chunked`.
pub trait Int: Copy + PartialOrd {
    /// `|a - b|` as a `u128` (exact for every integer type).
    fn distance(a: Self, b: Self) -> u128;
    /// `self + n`, wrapping; exact whenever the true sum is in range.
    fn forward(self, n: usize) -> Self;
    /// Zero.
    const ZERO: Self;
    /// One.
    const ONE: Self;

    /// `min(hi - lo, CHUNK)` for `lo < hi`: how many items of `lo..hi` the
    /// next chunk holds. Compared as `u128`, so that `CHUNK` need not fit in
    /// `Self`.
    #[inline(always)]
    fn chunk_len(lo: Self, hi: Self) -> usize {
        let d = Self::distance(hi, lo);
        if d < CHUNK as u128 {
            d as usize
        } else {
            CHUNK
        }
    }
}

macro_rules! int {
    ($($t:ty)*) => {$(
        impl Int for $t {
            #[inline(always)]
            fn distance(a: Self, b: Self) -> u128 {
                // `abs_diff` is exact, in the unsigned twin.
                a.abs_diff(b) as u128
            }
            #[inline(always)]
            fn forward(self, n: usize) -> Self {
                // Two's complement: `n as $t` wraps, and so does the sum, by
                // the same amount, so the result is exact when it fits.
                self.wrapping_add(n as $t)
            }
            const ZERO: Self = 0;
            const ONE: Self = 1;
        }
    )*};
}

int!(u8 u16 u32 u64 u128 usize i8 i16 i32 i64 i128 isize);

/// A range of integers, and how it is cut into chunks.
///
/// One generic impl per range type, so that `<Range<{integer}> as
/// IntRange>::Source` is known before inference has picked the integer
/// type, as `Range`'s `Iterator::Item` is.
pub trait IntRange {
    /// The chunks.
    type Source;
    /// The chunks of this range.
    fn source(self) -> Self::Source;
}

impl<T: Int> IntRange for Range<T> {
    type Source = RangeSource<T>;
    #[inline(always)]
    fn source(self) -> RangeSource<T> {
        RangeSource {
            lo: self.start,
            end: self.end,
            len: 0,
        }
    }
}

impl<T: Int> IntRange for RangeInclusive<T> {
    type Source = InclusiveSource<T>;
    #[inline(always)]
    fn source(self) -> InclusiveSource<T> {
        // `is_empty` also covers a range already iterated to its end.
        let empty = self.is_empty();
        let (lo, last) = self.into_inner();
        InclusiveSource {
            lo,
            last,
            len: 0,
            done: empty,
        }
    }
}

/// `strip!(iter)`: the chunks of `iter`, cut the way its type allows (see
/// the module docs); `strip!(take iter)` takes the `take` chunks at once.
/// Used by `#[killable]` as `::killable::__private::strip!`; not public API.
///
/// # Examples
///
/// The loop `#[killable]` makes of `for i in 0..3000u64 { s += i }`, minus
/// its checkpoint:
///
/// ```
/// use killable::__private::strip; // the macro, and the module
/// use killable::__private::strip::CHUNK;
///
/// let iter = 0..3000u64;
/// let mut src = strip!(iter);
/// let (mut s, mut chunks) = (0, 0);
/// loop {
///     let mut seen = 0;
///     for i in src.chunk() {
///         seen += 1;
///         s += i;
///     }
///     chunks += 1;
///     if !src.advance(seen) {
///         break;
///     }
/// }
/// assert_eq!(s, (0..3000).sum::<u64>());
/// assert_eq!(chunks, 3000usize.div_ceil(CHUNK));
/// ```
#[doc(hidden)]
#[macro_export]
macro_rules! __killable_strip {
    (take $iter:ident) => {
        $crate::strip::TakeTag.source($iter)
    };
    ($iter:ident) => {{
        use $crate::strip::StripKind as _;
        (&&&$crate::strip::Probe(&$iter))
            .__killable_strip()
            .source($iter)
    }};
}

/// Chooses [`RangeSource`].
#[derive(Debug, Clone, Copy)]
pub struct RangeTag;
/// Chooses [`IterSource`], the `take` chunks.
#[derive(Debug, Clone, Copy)]
pub struct TakeTag;

/// The one trait the probe resolves through: each impl is on a different
/// number of references to `Probe`, and method resolution picks the one with
/// the most references that `iter`'s type satisfies. One trait, so the
/// generated `use` is always used (`#![forbid(unused_imports)]` holds).
pub trait StripKind {
    /// The tag whose `source` builds the chunks.
    type Tag;
    /// See [`Probe`].
    fn __killable_strip(&self) -> Self::Tag;
}

/// First choice: an integer range.
impl<R: IntRange> StripKind for &&Probe<'_, R> {
    type Tag = RangeTag;
    #[inline(always)]
    fn __killable_strip(&self) -> RangeTag {
        RangeTag
    }
}

/// Second choice: any iterator.
impl<I: Iterator> StripKind for &Probe<'_, I> {
    type Tag = TakeTag;
    #[inline(always)]
    fn __killable_strip(&self) -> TakeTag {
        TakeTag
    }
}

impl RangeTag {
    /// The chunks of an integer range.
    #[inline(always)]
    pub fn source<R: IntRange>(self, range: R) -> R::Source {
        range.source()
    }
}

impl TakeTag {
    /// The chunks of any iterator.
    #[inline(always)]
    pub fn source<I: Iterator>(self, iter: I) -> IterSource<I> {
        IterSource(iter)
    }
}

/// The rest of a `Range` of integers, cut into chunks of [`CHUNK`] items.
#[derive(Debug, Clone)]
pub struct RangeSource<T> {
    /// The first item not yet handed out in a chunk.
    lo: T,
    end: T,
    /// Items in the chunk handed out last.
    len: usize,
}

impl<T: Int> RangeSource<T> {
    /// The next chunk: `lo`, `lo + 1`, …, `min(end - lo, CHUNK)` items.
    #[inline(always)]
    pub fn chunk(&mut self) -> RangeChunk<T> {
        self.len = if self.lo < self.end {
            T::chunk_len(self.lo, self.end)
        } else {
            0
        };
        RangeChunk::new(self.lo, self.len)
    }

    /// Moves past the chunk handed out last; false if it was the last one.
    /// `_seen` is the count the caller kept, which ranges do not need.
    #[inline(always)]
    pub fn advance(&mut self, _seen: usize) -> bool {
        if self.len < CHUNK {
            return false;
        }
        // By a constant, not by `len`: `lo` stays a plain induction
        // variable whose alignment LLVM can see (a multiple of `CHUNK` in
        // `0..n`), as it sees `i`'s without the attribute. `lo + CHUNK <=
        // end` here, so this cannot overflow; a range whose length is a
        // multiple of `CHUNK` ends with one empty chunk.
        self.lo = self.lo.forward(CHUNK);
        true
    }
}

/// The rest of a `RangeInclusive` of integers, cut into chunks of
/// [`CHUNK`] items.
#[derive(Debug, Clone)]
pub struct InclusiveSource<T> {
    lo: T,
    last: T,
    len: usize,
    /// No item left (`last` may be the type's maximum, so `lo` cannot step
    /// past it to say so).
    done: bool,
}

impl<T: Int> InclusiveSource<T> {
    /// The next chunk: `lo`, `lo + 1`, … (at most [`CHUNK`] items).
    #[inline(always)]
    pub fn chunk(&mut self) -> RangeChunk<T> {
        self.len = if self.done {
            0
        } else if self.lo < self.last {
            // One more than the half-open length, unless that is capped.
            CHUNK.min(T::chunk_len(self.lo, self.last) + 1)
        } else {
            1
        };
        RangeChunk::new(self.lo, self.len)
    }

    /// Moves past the chunk handed out last; false if it was the last one.
    #[inline(always)]
    pub fn advance(&mut self, _seen: usize) -> bool {
        // A full chunk ending on `last` used the range up: stepping `lo`
        // past it could overflow (`0..=u8::MAX`).
        if self.len < CHUNK || self.lo.forward(CHUNK - 1) == self.last {
            self.done = true;
            return false;
        }
        self.lo = self.lo.forward(CHUNK);
        true
    }
}

/// One chunk of a [`RangeSource`] or an [`InclusiveSource`]: `len`
/// consecutive integers from `lo`.
#[derive(Debug, Clone)]
pub struct RangeChunk<T> {
    lo: T,
    next: usize,
    len: usize,
}

impl<T> RangeChunk<T> {
    /// `len` integers from `lo`, counted from zero rather than `lo..lo +
    /// len`: with `Range`'s `next` LLVM no longer sees that `lo` is a
    /// multiple of `CHUNK`, and a `wrapping_add(i | 1)` chain stops
    /// unrolling.
    #[inline(always)]
    fn new(lo: T, len: usize) -> Self {
        RangeChunk { lo, next: 0, len }
    }
}

impl<T: Int> Iterator for RangeChunk<T> {
    type Item = T;

    #[inline(always)]
    fn next(&mut self) -> Option<T> {
        if self.next < self.len {
            let item = self.lo.forward(self.next);
            self.next += 1;
            Some(item)
        } else {
            None
        }
    }

    #[inline]
    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.len - self.next;
        (n, Some(n))
    }
}

impl<T: Int> ExactSizeIterator for RangeChunk<T> {}
impl<T: Int> FusedIterator for RangeChunk<T> {}

/// Any iterator, walked `CHUNK` items at a time with `by_ref().take(CHUNK)`.
#[derive(Debug, Clone)]
pub struct IterSource<I>(I);

impl<I: Iterator> IterSource<I> {
    /// The next chunk: at most [`CHUNK`] items.
    #[inline(always)]
    pub fn chunk(&mut self) -> Take<&mut I> {
        self.0.by_ref().take(CHUNK)
    }

    /// Whether the loop goes on after a chunk in which the caller counted
    /// `seen` items: fewer than [`CHUNK`] means the iterator is exhausted
    /// (a `break` never gets here), so it is not called again.
    #[inline(always)]
    pub fn advance(&mut self, seen: usize) -> bool {
        // `>=`, not `==`: with `==`, LLVM kept `seen` as a counter in the
        // vectorized loop (more instructions in a slice sum) instead of
        // deriving it from the trip count.
        seen >= CHUNK
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The loop `#[killable]` generates, minus the checkpoint: every item of
    /// `iter`, in the order the chunks hand them out, and the chunk lengths.
    macro_rules! strip {
        ($iter:expr) => {{
            let iter = $iter;
            use crate::strip::StripKind as _;
            let mut src = (&&&Probe(&iter)).__killable_strip().source(iter);
            let (mut items, mut chunks) = (Vec::new(), Vec::new());
            loop {
                let mut seen = 0usize;
                for x in src.chunk() {
                    seen += 1;
                    items.push(x);
                }
                chunks.push(seen);
                if !src.advance(seen) {
                    break;
                }
            }
            (items, chunks)
        }};
    }

    fn kind<T>(_: &T) -> &'static str {
        let name = core::any::type_name::<T>();
        ["RangeSource", "InclusiveSource", "IterSource"]
            .into_iter()
            .find(|k| name.contains(&format!("strip::{k}<")))
            .expect("a strip source")
    }

    macro_rules! source_kind {
        ($iter:expr) => {{
            let iter = $iter;
            use crate::strip::StripKind as _;
            kind(&(&&&Probe(&iter)).__killable_strip().source(iter))
        }};
    }

    #[test]
    fn integer_ranges_get_counted_chunks_and_everything_else_take() {
        assert_eq!(source_kind!(0..10u64), "RangeSource");
        assert_eq!(source_kind!(-5i8..=5), "InclusiveSource");
        assert_eq!(source_kind!(0..10), "RangeSource"); // `{integer}`, then i32
        assert_eq!(source_kind!('a'..='z'), "IterSource");
        assert_eq!(source_kind!([1, 2, 3].iter()), "IterSource");
        assert_eq!(source_kind!((0..10u32).rev()), "IterSource");
        assert_eq!(source_kind!(0u8..), "IterSource");

        // In generic code the type is a parameter: `take`, whatever it is.
        fn generic<T>(r: Range<T>) -> &'static str
        where
            Range<T>: Iterator,
        {
            source_kind!(r)
        }
        assert_eq!(generic(0..10u64), "IterSource");
    }

    #[test]
    fn the_item_type_is_inferred_from_later_use_as_without_chunks() {
        // `0..10` is `Range<{integer}>` when the probe runs; `total: u8`
        // decides, after it, that the items are `u8`.
        let mut total: u8 = 0;
        let iter = 0..10;
        use crate::strip::StripKind as _;
        let mut src = (&&&Probe(&iter)).__killable_strip().source(iter);
        loop {
            let mut seen = 0;
            for i in src.chunk() {
                seen += 1;
                total += i;
            }
            if !src.advance(seen) {
                break;
            }
        }
        assert_eq!(total, 45);
    }

    /// Lengths around the chunk size, where an off-by-one would show.
    const LENGTHS: &[u64] = &[0, 1, 2, 1023, 1024, 1025, 2047, 2048, 2049, 5000];

    macro_rules! every_range_of {
        ($($t:ty)*) => {$({
            let (min, max) = (<$t>::MIN, <$t>::MAX);
            let mut starts = vec![min, max, 0 as $t];
            starts.push(min.wrapping_add(3));
            for len in LENGTHS {
                starts.push(max.wrapping_sub(*len as $t));
            }
            for &lo in &starts {
                for &len in LENGTHS {
                    // Ends past the type's range are clamped; reversed ranges
                    // are empty.
                    let hi = lo.checked_add(len as $t).filter(|h| *h >= lo).unwrap_or(max);
                    for (lo, hi) in [(lo, hi), (hi, lo)] {
                        let want: Vec<$t> = (lo..hi).collect();
                        let (got, chunks) = strip!(lo..hi);
                        assert_eq!(got, want, "{}..{}", lo, hi);
                        assert!(chunks.iter().all(|&c| c <= CHUNK));
                        let want: Vec<$t> = (lo..=hi).collect();
                        let (got, _) = strip!(lo..=hi);
                        assert_eq!(got, want, "{}..={}", lo, hi);
                    }
                }
            }
            // The whole type (for the narrow ones), up to its maximum.
            if core::mem::size_of::<$t>() <= 2 {
                let (got, _) = strip!(min..=max);
                assert_eq!(got, (min..=max).collect::<Vec<$t>>());
                let (got, _) = strip!(min..max);
                assert_eq!(got, (min..max).collect::<Vec<$t>>());
            }
        })*};
    }

    #[test]
    fn chunks_hand_out_every_item_in_order_for_every_integer_type() {
        every_range_of!(u8 u16 u32 u64 u128 usize i8 i16 i32 i64 i128 isize);
    }

    #[test]
    fn a_range_stops_after_its_last_full_chunk() {
        // 2048 items: two full chunks, then one empty one (no item, no
        // overflow past the end).
        let (items, chunks) = strip!(0..2048u32);
        assert_eq!(items.len(), 2048);
        assert_eq!(chunks, [1024, 1024, 0]);
        // Inclusive, ending on the maximum: no third chunk, `lo` never
        // steps past `u16::MAX`.
        let (items, chunks) = strip!((u16::MAX - 2047)..=u16::MAX);
        assert_eq!(items.len(), 2048);
        assert_eq!(chunks, [1024, 1024]);
        // An exhausted inclusive range is empty.
        let mut r = 0..=3u8;
        for _ in &mut r {}
        assert_eq!(strip!(r).0, Vec::<u8>::new());
        // A partly used one goes on where it was.
        let mut r = 0..=3u8;
        r.next();
        assert_eq!(strip!(r).0, [1, 2, 3]);
    }

    #[test]
    fn other_iterators_come_in_chunks_of_take() {
        let v: Vec<u32> = (0..2500).collect();
        let (items, chunks) = strip!(v.iter().copied());
        assert_eq!(items, v);
        assert_eq!(chunks, [1024, 1024, 452]);
    }
}
