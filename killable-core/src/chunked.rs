//! Iterator sources that pass a checkpoint once per chunk of items: the
//! runtime half of how `#[killable]` makes iterator chains killable without
//! slowing them down.
//!
//! A checkpoint at the entry of every closure of
//! `v.iter().map(|&x| x * 3).sum()` is an atomic load inside the loop that
//! std's `fold` runs, and LLVM does not vectorize across it (measured 1.2x
//! to 10x slower). So, for a chain whose source the attribute recognizes by
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

use core::fmt;
use core::iter::FusedIterator;

use crate::checkpoint::runtime_checkpoint as checkpoint;
use crate::strip::Int;

/// Items between two checkpoints of a `Chunked` or `Counted` source
/// (bytes, for `Chars`). A straight-line closure costs nanoseconds per item,
/// so a chunk delays a kill by microseconds.
pub const CHUNK: usize = 1024;

/// A std iterator whose remaining items can be cut, in constant time and
/// without visiting them, into a front (or back) part of the same type.
///
/// Implemented for `slice::Iter`, `slice::IterMut`, `Range` and
/// `RangeInclusive` of every integer type, and `str::Chars`.
pub trait Split: DoubleEndedIterator + Sized {
    /// Cuts the first `n` items off (`n` bytes, rounded up to a whole char,
    /// for `Chars`) and returns them; `self` keeps the rest, if any.
    fn split_front(&mut self, n: usize) -> Self;
    /// The same at the back.
    fn split_back(&mut self, n: usize) -> Self;
    /// Whether no item is left.
    fn is_exhausted(&self) -> bool;
    /// A copy positioned where `self` is, or `None` for iterators whose
    /// items cannot be handed out twice (`IterMut`).
    fn snapshot(&self) -> Option<Self>;
}

impl<T> Split for core::slice::Iter<'_, T> {
    #[inline]
    fn split_front(&mut self, n: usize) -> Self {
        let s = self.as_slice();
        let (front, rest) = s.split_at(n.min(s.len()));
        *self = rest.iter();
        front.iter()
    }
    #[inline]
    fn split_back(&mut self, n: usize) -> Self {
        let s = self.as_slice();
        let (rest, back) = s.split_at(s.len() - n.min(s.len()));
        *self = rest.iter();
        back.iter()
    }
    #[inline]
    fn is_exhausted(&self) -> bool {
        self.len() == 0
    }
    #[inline]
    fn snapshot(&self) -> Option<Self> {
        Some(self.clone())
    }
}

impl<T> Split for core::slice::IterMut<'_, T> {
    #[inline]
    fn split_front(&mut self, n: usize) -> Self {
        let s = core::mem::take(self).into_slice();
        let at = n.min(s.len());
        let (front, rest) = s.split_at_mut(at);
        *self = rest.iter_mut();
        front.iter_mut()
    }
    #[inline]
    fn split_back(&mut self, n: usize) -> Self {
        let s = core::mem::take(self).into_slice();
        let at = s.len() - n.min(s.len());
        let (rest, back) = s.split_at_mut(at);
        *self = rest.iter_mut();
        back.iter_mut()
    }
    #[inline]
    fn is_exhausted(&self) -> bool {
        self.len() == 0
    }
    #[inline]
    fn snapshot(&self) -> Option<Self> {
        None
    }
}

impl Split for core::str::Chars<'_> {
    #[inline]
    fn split_front(&mut self, n: usize) -> Self {
        let s = self.as_str();
        let mut cut = n.min(s.len());
        while !s.is_char_boundary(cut) {
            cut += 1;
        }
        let (front, rest) = s.split_at(cut);
        *self = rest.chars();
        front.chars()
    }
    #[inline]
    fn split_back(&mut self, n: usize) -> Self {
        let s = self.as_str();
        let mut cut = s.len() - n.min(s.len());
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        let (rest, back) = s.split_at(cut);
        *self = rest.chars();
        back.chars()
    }
    #[inline]
    fn is_exhausted(&self) -> bool {
        self.as_str().is_empty()
    }
    #[inline]
    fn snapshot(&self) -> Option<Self> {
        Some(self.clone())
    }
}

macro_rules! split_ranges {
    ($($t:ty)*) => {$(
        impl Split for core::ops::Range<$t> {
            #[inline]
            fn split_front(&mut self, n: usize) -> Self {
                let mid = if range_len(self.start, self.end) <= n as u128 {
                    self.end.max(self.start)
                } else {
                    // The true midpoint lies between `start` and `end`, so
                    // the wrapping (two's complement) sum is exact, also when
                    // `n` does not fit in a signed `$t`.
                    self.start.wrapping_add(n as $t)
                };
                let front = self.start..mid;
                self.start = mid;
                front
            }
            #[inline]
            fn split_back(&mut self, n: usize) -> Self {
                let mid = if range_len(self.start, self.end) <= n as u128 {
                    self.start.min(self.end)
                } else {
                    self.end.wrapping_sub(n as $t)
                };
                let back = mid..self.end;
                self.end = mid;
                back
            }
            #[inline]
            fn is_exhausted(&self) -> bool {
                self.start >= self.end
            }
            #[inline]
            fn snapshot(&self) -> Option<Self> {
                Some(self.clone())
            }
        }

        impl Split for core::ops::RangeInclusive<$t> {
            #[inline]
            fn split_front(&mut self, n: usize) -> Self {
                if n == 0 {
                    return empty_inclusive::<$t>();
                }
                if inclusive_len(self) <= n as u128 {
                    return core::mem::replace(self, empty_inclusive::<$t>());
                }
                let (start, end) = (*self.start(), *self.end());
                let mid = start.wrapping_add(n as $t);
                *self = mid..=end;
                start..=mid.wrapping_sub(1)
            }
            #[inline]
            fn split_back(&mut self, n: usize) -> Self {
                if n == 0 {
                    return empty_inclusive::<$t>();
                }
                if inclusive_len(self) <= n as u128 {
                    return core::mem::replace(self, empty_inclusive::<$t>());
                }
                let (start, end) = (*self.start(), *self.end());
                let mid = end.wrapping_sub(n as $t);
                *self = start..=mid;
                mid.wrapping_add(1)..=end
            }
            #[inline]
            fn is_exhausted(&self) -> bool {
                core::ops::RangeInclusive::is_empty(self)
            }
            #[inline]
            fn snapshot(&self) -> Option<Self> {
                Some(self.clone())
            }
        }
    )*};
}

/// Items in `start..end`.
#[inline(always)]
fn range_len<T: Int>(start: T, end: T) -> u128 {
    if start < end {
        T::distance(end, start)
    } else {
        0
    }
}

/// Items in `r` (saturating at `u128::MAX` for the full `u128` range).
#[inline(always)]
fn inclusive_len<T: Int>(r: &core::ops::RangeInclusive<T>) -> u128 {
    // `is_empty` also knows a range that iteration has used up.
    if r.is_empty() {
        0
    } else {
        T::distance(*r.end(), *r.start()).saturating_add(1)
    }
}

/// `1..=0`: a `RangeInclusive` with no items.
#[inline(always)]
fn empty_inclusive<T: Int>() -> core::ops::RangeInclusive<T> {
    T::ONE..=T::ZERO
}

split_ranges!(u8 u16 u32 u64 u128 usize i8 i16 i32 i64 i128 isize);

/// Std iterators whose `next` is cheap and never blocks, but that cannot be
/// cut into parts (`Split`): they get a `Counted` wrapper.
pub trait StdCheap: Iterator {}

macro_rules! std_cheap {
    ($([$($g:tt)*] $t:ty;)*) => {$( impl<$($g)*> StdCheap for $t {} )*};
}

std_cheap! {
    [T] core::slice::Iter<'_, T>;
    [T] core::slice::IterMut<'_, T>;
    [T] core::slice::Chunks<'_, T>;
    [T] core::slice::ChunksExact<'_, T>;
    [T] core::slice::ChunksMut<'_, T>;
    [T] core::slice::ChunksExactMut<'_, T>;
    [T] core::slice::Windows<'_, T>;
    [] core::str::Chars<'_>;
    [] core::str::Bytes<'_>;
    [] core::str::CharIndices<'_>;
    [T] std::vec::IntoIter<T>;
    [T, const N: usize] core::array::IntoIter<T, N>;
    [T] core::option::IntoIter<T>;
    [T] core::option::Iter<'_, T>;
    [T] core::option::IterMut<'_, T>;
    [K, V] std::collections::hash_map::Iter<'_, K, V>;
    [K, V] std::collections::hash_map::IterMut<'_, K, V>;
    [K, V] std::collections::hash_map::IntoIter<K, V>;
    [K, V] std::collections::hash_map::Keys<'_, K, V>;
    [K, V] std::collections::hash_map::Values<'_, K, V>;
    [K, V] std::collections::hash_map::ValuesMut<'_, K, V>;
    [K, V] std::collections::hash_map::IntoKeys<K, V>;
    [K, V] std::collections::hash_map::IntoValues<K, V>;
    [K, V] std::collections::btree_map::Iter<'_, K, V>;
    [K, V] std::collections::btree_map::IterMut<'_, K, V>;
    [K, V] std::collections::btree_map::IntoIter<K, V>;
    [K, V] std::collections::btree_map::Keys<'_, K, V>;
    [K, V] std::collections::btree_map::Values<'_, K, V>;
    [K, V] std::collections::btree_map::ValuesMut<'_, K, V>;
    [K, V] std::collections::btree_map::IntoKeys<K, V>;
    [K, V] std::collections::btree_map::IntoValues<K, V>;
    [T] std::collections::hash_set::Iter<'_, T>;
    [T] std::collections::hash_set::IntoIter<T>;
    [T] std::collections::btree_set::Iter<'_, T>;
    [T] std::collections::btree_set::IntoIter<T>;
    [T] std::collections::vec_deque::Iter<'_, T>;
    [T] std::collections::vec_deque::IterMut<'_, T>;
    [T] std::collections::vec_deque::IntoIter<T>;
    [T] std::collections::binary_heap::Iter<'_, T>;
    [T] std::collections::linked_list::Iter<'_, T>;
    [T] std::collections::linked_list::IterMut<'_, T>;
    [T] std::collections::linked_list::IntoIter<T>;
    [] core::ops::Range<char>;
    [] core::ops::RangeInclusive<char>;
}

// Std adapters over cheap iterators are cheap: `a.iter().zip(b.iter())`,
// `v.iter().skip(1).take(n)`, `(0..n).rev().step_by(3)`.
impl<I: StdCheap> StdCheap for core::iter::Enumerate<I> {}
impl<I: StdCheap + DoubleEndedIterator> StdCheap for core::iter::Rev<I> {}
impl<I: StdCheap> StdCheap for core::iter::Skip<I> {}
impl<I: StdCheap> StdCheap for core::iter::Take<I> {}
impl<I: StdCheap> StdCheap for core::iter::StepBy<I> {}
impl<I: StdCheap> StdCheap for core::iter::Fuse<I> {}
impl<I: StdCheap> StdCheap for core::iter::Peekable<I> {}
impl<'a, T: 'a + Copy, I: StdCheap<Item = &'a T>> StdCheap for core::iter::Copied<I> {}
impl<'a, T: 'a + Clone, I: StdCheap<Item = &'a T>> StdCheap for core::iter::Cloned<I> {}
impl<A: StdCheap, B: StdCheap> StdCheap for core::iter::Zip<A, B> {}
impl<A: StdCheap, B: StdCheap<Item = A::Item>> StdCheap for core::iter::Chain<A, B> {}

macro_rules! std_cheap_ranges {
    ($($t:ty)*) => {$(
        impl StdCheap for core::ops::Range<$t> {}
        impl StdCheap for core::ops::RangeInclusive<$t> {}
        impl StdCheap for core::ops::RangeFrom<$t> {}
    )*};
}

std_cheap_ranges!(u8 u16 u32 u64 u128 usize i8 i16 i32 i64 i128 isize);

/// The parts of a `Zip` that std reads by index (its unstable
/// `TrustedRandomAccess`, with no side effect in reading): a zip of two of
/// them folds through `clone().take(n)` as fast as whole (std's `Take`
/// folds such a zip by index too), and `nth` skips `n` items of it in
/// constant time. They get a `ZipChunked` wrapper, where `Counted` measured
/// 2x slower than no wrapper on a dot product (`a.iter().zip(b.iter())`):
/// its item-at-a-time loop is not the indexed one LLVM vectorizes.
///
/// `cloned()` is left out: `nth` on its zip would clone the skipped items
/// (a side effect, and an allocation for `String`s). So are `enumerate`,
/// `skip` and `take`, for which the cut measured slower than `Counted`.
pub trait ZipPart: Iterator + Clone {}

impl<T> ZipPart for core::slice::Iter<'_, T> {}
impl<'a, T: 'a + Copy> ZipPart for core::iter::Copied<core::slice::Iter<'a, T>> {}
impl<A: ZipPart, B: ZipPart> ZipPart for core::iter::Zip<A, B> {}

macro_rules! zip_part_ranges {
    ($($t:ty)*) => {$( impl ZipPart for core::ops::Range<$t> {} )*};
}

// All twelve, although std reads 128-bit ranges one by one (their zips
// then cost two passes per chunk): `v.iter().zip(0..10)` picks this kind
// before inference has fixed the literal's type, which a later use may make
// `u128`, and the impl must then exist.
zip_part_ranges!(u8 u16 u32 u64 u128 usize i8 i16 i32 i64 i128 isize);

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

/// A `Split` source with a checkpoint once per `CHUNK` items: `fold`,
/// `rfold` (and so `sum`, `for_each`, `collect`, `max_by_key`, …) and
/// `count` run the source's own `fold` (`rfold`, `count`) on one chunk at a
/// time, which LLVM vectorizes as it does without the attribute; `find`,
/// `find_map`, `position`, `any` and `all` search one chunk at a time;
/// `next`, `next_back`, `nth` and `nth_back` count toward the next
/// checkpoint.
///
/// # Examples
///
/// ```
/// # use killable::__private::chunked;
/// let v: Vec<u64> = (0..5000).collect();
/// let s: u64 = chunked!(v.iter()).map(|&x| x * 3).sum();
/// assert_eq!(s, v.iter().map(|&x| x * 3).sum());
/// ```
#[derive(Clone)]
pub struct Chunked<I> {
    inner: I,
    budget: Budget,
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

impl<I: Split> Iterator for Chunked<I> {
    type Item = I::Item;

    budgeted_front!();

    #[inline]
    fn fold<B, F: FnMut(B, I::Item) -> B>(mut self, mut acc: B, mut f: F) -> B {
        loop {
            checkpoint();
            let chunk = self.inner.split_front(CHUNK);
            if self.inner.is_exhausted() {
                return chunk.fold(acc, f);
            }
            acc = chunk.fold(acc, &mut f);
        }
    }

    #[inline]
    fn count(mut self) -> usize {
        let mut n = 0;
        loop {
            checkpoint();
            n += self.inner.split_front(CHUNK).count();
            if self.inner.is_exhausted() {
                return n;
            }
        }
    }

    #[inline]
    fn find_map<B, F: FnMut(I::Item) -> Option<B>>(&mut self, mut f: F) -> Option<B> {
        while let Some(start) = self.inner.snapshot() {
            checkpoint();
            let mut chunk = self.inner.split_front(CHUNK);
            let mut used = 0;
            let found = chunk.find_map(|x| {
                used += 1;
                f(x)
            });
            if found.is_some() {
                // Give back the rest of the chunk: rewind, then skip the
                // items searched (constant time on slices and ranges, at
                // most one chunk of bytes on `Chars`).
                self.inner = start;
                self.inner.nth(used - 1);
                return found;
            }
            if self.inner.is_exhausted() {
                return None;
            }
        }
        // `IterMut`: no snapshot to rewind to; item by item.
        for x in self.by_ref() {
            if let Some(found) = f(x) {
                return Some(found);
            }
        }
        None
    }

    #[inline]
    fn find<P: FnMut(&I::Item) -> bool>(&mut self, mut p: P) -> Option<I::Item> {
        self.find_map(|x| if p(&x) { Some(x) } else { None })
    }

    #[inline]
    fn position<P: FnMut(I::Item) -> bool>(&mut self, mut p: P) -> Option<usize> {
        let mut i = 0;
        self.find_map(|x| {
            if p(x) {
                Some(i)
            } else {
                i += 1;
                None
            }
        })
    }

    #[inline]
    fn any<P: FnMut(I::Item) -> bool>(&mut self, mut p: P) -> bool {
        self.find_map(|x| if p(x) { Some(()) } else { None })
            .is_some()
    }

    #[inline]
    fn all<P: FnMut(I::Item) -> bool>(&mut self, mut p: P) -> bool {
        self.find_map(|x| if p(x) { None } else { Some(()) })
            .is_none()
    }
}

impl<I: Split> DoubleEndedIterator for Chunked<I> {
    budgeted_back!();

    #[inline]
    fn rfold<B, F: FnMut(B, I::Item) -> B>(mut self, mut acc: B, mut f: F) -> B {
        loop {
            checkpoint();
            let chunk = self.inner.split_back(CHUNK);
            if self.inner.is_exhausted() {
                return chunk.rfold(acc, f);
            }
            acc = chunk.rfold(acc, &mut f);
        }
    }
}

transparent!(Chunked);

/// A `StdCheap` source with a checkpoint once per `CHUNK` items: `fold`
/// and `rfold` run over `CHUNK` items at a time, `next`, `next_back` and
/// `nth` count.
///
/// # Examples
///
/// ```
/// # use killable::__private::chunked;
/// let s = "a\nb\n".repeat(1000);
/// let lines = chunked!(s.bytes()).filter(|&b| b == b'\n').count();
/// assert_eq!(lines, 2000);
/// ```
#[derive(Clone)]
pub struct Counted<I> {
    inner: I,
    budget: Budget,
}

impl<I: Iterator> Iterator for Counted<I> {
    type Item = I::Item;

    budgeted_front!();

    #[inline]
    fn fold<B, F: FnMut(B, I::Item) -> B>(mut self, mut acc: B, mut f: F) -> B {
        loop {
            checkpoint();
            // A `for` over `take` (rather than `take(..).fold`) is what LLVM
            // turns into the tightest loop here.
            let mut seen = 0;
            for x in (&mut self.inner).take(CHUNK) {
                seen += 1;
                acc = f(acc, x);
            }
            if seen < CHUNK {
                return acc;
            }
        }
    }
}

impl<I: DoubleEndedIterator> DoubleEndedIterator for Counted<I> {
    budgeted_back!();

    #[inline]
    fn rfold<B, F: FnMut(B, I::Item) -> B>(mut self, mut acc: B, mut f: F) -> B {
        loop {
            checkpoint();
            let mut seen = 0;
            for x in (&mut self.inner).rev().take(CHUNK) {
                seen += 1;
                acc = f(acc, x);
            }
            if seen < CHUNK {
                return acc;
            }
        }
    }
}

transparent!(Counted);

/// A `zip` of `ZipPart`s with a checkpoint once per `CHUNK` items: `fold`
/// (and so `sum`, `for_each`, `count`, …) folds `clone().take(n)` of the
/// zip, one chunk at a time, then skips the chunk with `nth`; `next`,
/// `next_back`, `nth` and `rfold` count as in `Counted`.
///
/// # Examples
///
/// ```
/// # use killable::__private::chunked;
/// let (a, b): (Vec<u64>, Vec<u64>) = ((0..5000).collect(), (5..5005).collect());
/// let dot: u64 = chunked!(a.iter().zip(b.iter())).map(|(x, y)| x * y).sum();
/// assert_eq!(dot, a.iter().zip(b.iter()).map(|(x, y)| x * y).sum());
/// ```
#[derive(Clone)]
pub struct ZipChunked<I> {
    inner: I,
    budget: Budget,
}

impl<A: ZipPart, B: ZipPart> Iterator for ZipChunked<core::iter::Zip<A, B>> {
    type Item = (A::Item, B::Item);

    budgeted_front!();

    #[inline]
    fn fold<Acc, F: FnMut(Acc, Self::Item) -> Acc>(mut self, mut acc: Acc, mut f: F) -> Acc {
        loop {
            checkpoint();
            // Exact for zips of parts: the shorter side's length.
            let n = self.inner.size_hint().0.min(CHUNK);
            if n == 0 {
                // Nothing left, unless a size hint ever undercounts: then
                // the rest item by item, still checked every `CHUNK`.
                return Counted {
                    inner: self.inner,
                    budget: Budget::FULL,
                }
                .fold(acc, f);
            }
            acc = self.inner.clone().take(n).fold(acc, &mut f);
            self.inner.nth(n - 1);
        }
    }
}

impl<A, B> DoubleEndedIterator for ZipChunked<core::iter::Zip<A, B>>
where
    A: ZipPart + DoubleEndedIterator + ExactSizeIterator,
    B: ZipPart + DoubleEndedIterator + ExactSizeIterator,
{
    budgeted_back!();

    #[inline]
    fn rfold<Acc, F: FnMut(Acc, Self::Item) -> Acc>(self, acc: Acc, f: F) -> Acc {
        Counted {
            inner: self.inner,
            budget: self.budget,
        }
        .rfold(acc, f)
    }
}

transparent!(ZipChunked);

/// Any other iterator, with a checkpoint before every item: its `next` may
/// block (a channel, a reader) or take long, so a chunk of items would not
/// bound the time between two checks.
///
/// # Examples
///
/// ```
/// # use killable::__private::chunked;
/// fn evens(it: impl Iterator<Item = u32>) -> Vec<u32> {
///     // A type parameter: the probe cannot tell it is cheap.
///     chunked!(it).filter(|x| x % 2 == 0).collect()
/// }
/// assert_eq!(evens(1..7), [2, 4, 6]);
/// ```
#[derive(Clone)]
pub struct Checked<I> {
    inner: I,
}

impl<I: Iterator> Iterator for Checked<I> {
    type Item = I::Item;

    #[inline]
    fn next(&mut self) -> Option<I::Item> {
        checkpoint();
        self.inner.next()
    }

    #[inline]
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }

    #[inline]
    fn nth(&mut self, n: usize) -> Option<I::Item> {
        checkpoint();
        self.inner.nth(n)
    }

    #[inline]
    fn fold<B, F: FnMut(B, I::Item) -> B>(self, acc: B, mut f: F) -> B {
        self.inner.fold(acc, |acc, x| {
            checkpoint();
            f(acc, x)
        })
    }
}

impl<I: DoubleEndedIterator> DoubleEndedIterator for Checked<I> {
    #[inline]
    fn next_back(&mut self) -> Option<I::Item> {
        checkpoint();
        self.inner.next_back()
    }

    #[inline]
    fn nth_back(&mut self, n: usize) -> Option<I::Item> {
        checkpoint();
        self.inner.nth_back(n)
    }

    #[inline]
    fn rfold<B, F: FnMut(B, I::Item) -> B>(self, acc: B, mut f: F) -> B {
        self.inner.rfold(acc, |acc, x| {
            checkpoint();
            f(acc, x)
        })
    }
}

transparent!(Checked);

/// The value [`chunked!`](crate::__killable_chunked) probes: `&&&&&Probe(&x)`
/// finds the `__killable_kind` method of the first impl of [`Kind`] that
/// `x`'s type satisfies, most specific first.
#[derive(Debug)]
pub struct Probe<'a, T>(pub &'a T);

/// Chooses `Chunked`.
#[derive(Debug, Clone, Copy)]
pub struct SplitTag;
/// Chooses `ZipChunked`.
#[derive(Debug, Clone, Copy)]
pub struct ZipTag;
/// Chooses `Counted`.
#[derive(Debug, Clone, Copy)]
pub struct StdTag;
/// Chooses `Checked`.
#[derive(Debug, Clone, Copy)]
pub struct IterTag;
/// Leaves a value that is not an iterator as it is.
#[derive(Debug, Clone, Copy)]
pub struct OpaqueTag;

/// The one trait the probe resolves through: each impl is on a different
/// number of references to `Probe`, so method resolution, which tries the
/// receiver `&&&&&Probe` and then each dereference of it, picks the impl
/// with the most references that `x`'s type satisfies. One trait, so the
/// generated `use` is always used (`#![forbid(unused_imports)]` holds).
pub trait Kind {
    /// The tag whose `wrap` builds the wrapper.
    type Tag;
    /// See `Probe`.
    fn __killable_kind(&self) -> Self::Tag;
}

/// First choice: a `Split` source.
impl<I: Split> Kind for &&&&Probe<'_, I> {
    type Tag = SplitTag;
    #[inline(always)]
    fn __killable_kind(&self) -> SplitTag {
        SplitTag
    }
}

/// Second choice: a zip of `ZipPart`s.
impl<A: ZipPart, B: ZipPart> Kind for &&&Probe<'_, core::iter::Zip<A, B>> {
    type Tag = ZipTag;
    #[inline(always)]
    fn __killable_kind(&self) -> ZipTag {
        ZipTag
    }
}

/// Third choice: a `StdCheap` source.
impl<I: StdCheap> Kind for &&Probe<'_, I> {
    type Tag = StdTag;
    #[inline(always)]
    fn __killable_kind(&self) -> StdTag {
        StdTag
    }
}

/// Fourth choice: any iterator.
impl<I: Iterator> Kind for &Probe<'_, I> {
    type Tag = IterTag;
    #[inline(always)]
    fn __killable_kind(&self) -> IterTag {
        IterTag
    }
}

/// Last choice: anything else.
impl<T> Kind for Probe<'_, T> {
    type Tag = OpaqueTag;
    #[inline(always)]
    fn __killable_kind(&self) -> OpaqueTag {
        OpaqueTag
    }
}

impl SplitTag {
    /// Wraps a `Split` source.
    #[inline(always)]
    pub fn wrap<I: Split>(self, inner: I) -> Chunked<I> {
        Chunked {
            inner,
            budget: Budget::FULL,
        }
    }
}

impl ZipTag {
    /// Wraps a zip of `ZipPart`s.
    #[inline(always)]
    pub fn wrap<I: Iterator>(self, inner: I) -> ZipChunked<I> {
        ZipChunked {
            inner,
            budget: Budget::FULL,
        }
    }
}

impl StdTag {
    /// Wraps a `StdCheap` source.
    #[inline(always)]
    pub fn wrap<I: Iterator>(self, inner: I) -> Counted<I> {
        Counted {
            inner,
            budget: Budget::FULL,
        }
    }
}

impl IterTag {
    /// Wraps any other iterator.
    #[inline(always)]
    pub fn wrap<I: Iterator>(self, inner: I) -> Checked<I> {
        Checked { inner }
    }
}

impl OpaqueTag {
    /// Returns `value` unchanged.
    #[inline(always)]
    pub fn wrap<T>(self, value: T) -> T {
        value
    }
}

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
                use $crate::chunked::Kind as _;
                (&&&&&$crate::chunked::Probe(&source))
                    .__killable_kind()
                    .wrap(source)
            }
        }
    };
}

#[cfg(test)]
mod tests {
    // Driving the iterators every way there is, the odd ways included, is the point.
    #![allow(
        clippy::while_let_on_iterator,
        clippy::reversed_empty_ranges,
        clippy::bytes_nth
    )]

    use super::*;

    /// Lengths around the chunk size, where an off-by-one would show.
    const LENGTHS: &[usize] = &[0, 1, 2, 1023, 1024, 1025, 2047, 2048, 2049, 5000];

    fn kind_name<T>(_: &T) -> &'static str {
        let name = core::any::type_name::<T>();
        ["ZipChunked", "Chunked", "Counted", "Checked"]
            .into_iter()
            .find(|k| name.contains(&format!("chunked::{k}<")))
            .unwrap_or("unwrapped")
    }

    #[test]
    fn the_probe_picks_the_cheapest_wrapper_that_is_safe() {
        let v = vec![1u32, 2, 3];
        let mut m = v.clone();
        let s = String::from("héllo");
        let n = 5u64;
        assert_eq!(kind_name(&crate::__killable_chunked!(v.iter())), "Chunked");
        assert_eq!(
            kind_name(&crate::__killable_chunked!(m.iter_mut())),
            "Chunked"
        );
        assert_eq!(kind_name(&crate::__killable_chunked!(0..n)), "Chunked");
        // An integer literal's type is not known yet when the probe runs.
        assert_eq!(kind_name(&crate::__killable_chunked!(0..10)), "Chunked");
        assert_eq!(kind_name(&crate::__killable_chunked!(1..=n)), "Chunked");
        assert_eq!(kind_name(&crate::__killable_chunked!(s.chars())), "Chunked");
        assert_eq!(kind_name(&crate::__killable_chunked!(s.bytes())), "Counted");
        assert_eq!(
            kind_name(&crate::__killable_chunked!(v.windows(2))),
            "Counted"
        );
        assert_eq!(
            kind_name(&crate::__killable_chunked!(v.iter().zip(s.chars()))),
            "Counted"
        );
        assert_eq!(
            kind_name(&crate::__killable_chunked!(v.iter().zip(m.iter()))),
            "ZipChunked"
        );
        assert_eq!(
            kind_name(&crate::__killable_chunked!((0..n).zip(v.iter().copied()))),
            "ZipChunked"
        );
        // The literal's type is fixed after the probe, here as `u128`.
        let wide: u128 = crate::__killable_chunked!(v.iter().zip(0..10))
            .map(|(&x, i)| u128::from(x) * i)
            .sum();
        assert_eq!(wide, 8);
        // `cloned()` would clone the items `nth` skips: not a part.
        assert_eq!(
            kind_name(&crate::__killable_chunked!(v.iter().cloned().zip(v.iter()))),
            "Counted"
        );
        assert_eq!(kind_name(&crate::__killable_chunked!(n..)), "Counted");
        // A channel's iterator blocks: one check per item.
        let (_tx, rx) = std::sync::mpsc::channel::<u8>();
        assert_eq!(
            kind_name(&crate::__killable_chunked!(rx.try_iter())),
            "Checked"
        );
        assert_eq!(
            kind_name(&crate::__killable_chunked!(v.iter().map(|x| x + 1))),
            "Checked"
        );
        fn generic<I: Iterator<Item = u32>>(it: I) -> &'static str {
            kind_name(&crate::__killable_chunked!(it))
        }
        assert_eq!(generic(v.iter().copied()), "Checked");
        // Not an iterator: left as it is.
        let o = Some(3);
        let same: Option<i32> = crate::__killable_chunked!(o);
        assert_eq!(same, Some(3));
    }

    /// A zip, wrapped and plain, driven every way, across chunk boundaries
    /// and with sides of unequal length.
    #[test]
    fn zip_chunks_agree_with_the_plain_zip() {
        for &la in LENGTHS {
            for lb in [la, la + 1, la / 2 + 7] {
                let a: Vec<u32> = (0..la as u32).map(|x| x.wrapping_mul(2654435761)).collect();
                let b: Vec<u64> = (0..lb as u64).map(|x| x * 3 + 1).collect();
                let make = || a.iter().copied().zip(b.iter());
                let wrap = || crate::__killable_chunked!(a.iter().copied().zip(b.iter()));
                let plain: Vec<(u32, &u64)> = make().collect();
                let folded = wrap().fold(Vec::new(), |mut v, x| {
                    v.push(x);
                    v
                });
                assert_eq!(folded, plain, "fold {la} {lb}");
                assert_eq!(wrap().count(), plain.len());
                assert_eq!(wrap().size_hint(), make().size_hint());
                let sum: u64 = wrap().map(|(x, y)| u64::from(x) ^ y).sum();
                assert_eq!(sum, make().map(|(x, y)| u64::from(x) ^ y).sum::<u64>());
                // Partly used, then folded: the fold starts where `next` stopped.
                for k in [0, 1, 1023, 1024, 1500] {
                    let mut it = wrap();
                    let mut got: Vec<_> = it.by_ref().take(k).collect();
                    got.extend(it.fold(Vec::new(), |mut v, x| {
                        v.push(x);
                        v
                    }));
                    assert_eq!(got, plain, "take {k} then fold, {la} {lb}");
                    let mut it = wrap();
                    assert_eq!(it.nth(k), make().nth(k));
                    assert_eq!(it.next(), make().nth(k + 1));
                }
                let needle = plain.get(plain.len().saturating_sub(3)).copied();
                assert_eq!(
                    wrap().position(|x| Some(x) == needle),
                    make().position(|x| Some(x) == needle)
                );
            }
            // Equal lengths of `ExactSizeIterator`s: double-ended.
            let a: Vec<u16> = (0..la as u16).collect();
            let wrap = || crate::__killable_chunked!(a.iter().zip(0..la));
            let plain: Vec<(&u16, usize)> = a.iter().zip(0..la).collect();
            let mut rev = plain.clone();
            rev.reverse();
            assert_eq!(
                wrap().rfold(Vec::new(), |mut v, x| {
                    v.push(x);
                    v
                }),
                rev
            );
            let mut it = wrap();
            let mut back = Vec::new();
            while let Some(x) = it.next_back() {
                back.push(x);
            }
            assert_eq!(back, rev);
        }
    }

    /// Every way of driving an iterator, on the wrapped and the plain one.
    fn agree<I>(make: impl Fn() -> I, wrap: impl Fn(I) -> Chunked<I>)
    where
        I: Split + Clone,
        I::Item: PartialEq + fmt::Debug + Clone,
    {
        let plain: Vec<I::Item> = make().collect();
        assert_eq!(
            wrap(make()).fold(Vec::new(), |mut v, x| {
                v.push(x);
                v
            }),
            plain
        );
        let mut rev = plain.clone();
        rev.reverse();
        assert_eq!(
            wrap(make()).rfold(Vec::new(), |mut v, x| {
                v.push(x);
                v
            }),
            rev
        );
        assert_eq!(wrap(make()).count(), plain.len());
        assert_eq!(wrap(make()).size_hint(), make().size_hint());
        let mut by_next = Vec::new();
        let mut it = wrap(make());
        while let Some(x) = it.next() {
            by_next.push(x);
        }
        assert_eq!(by_next, plain);
        // Interleaved from both ends.
        let mut it = wrap(make());
        let (mut front, mut back) = (Vec::new(), Vec::new());
        loop {
            match it.next() {
                Some(x) => front.push(x),
                None => break,
            }
            match it.next_back() {
                Some(x) => back.push(x),
                None => break,
            }
        }
        back.reverse();
        front.extend(back);
        assert_eq!(front, plain);
        for k in [0, 1, 3, 1023, 1024, 1500, 4000] {
            let mut it = wrap(make());
            assert_eq!(it.nth(k), make().nth(k), "nth({k})");
            assert_eq!(
                it.collect::<Vec<_>>(),
                make().skip(k + 1).collect::<Vec<_>>()
            );
            let mut it = wrap(make());
            assert_eq!(it.nth_back(k), make().nth_back(k), "nth_back({k})");
            // A search that stops in the middle of a chunk gives the rest back.
            let target = plain.get(k).cloned();
            let mut it = wrap(make());
            let mut plain_it = make();
            let is_target = |x: &I::Item| Some(x) == target.as_ref();
            assert_eq!(
                it.position(|x| is_target(&x)),
                plain_it.position(|x| is_target(&x))
            );
            assert_eq!(it.next(), plain_it.next(), "after position({k})");
            assert_eq!(it.collect::<Vec<_>>(), plain_it.collect::<Vec<_>>());
            let mut it = wrap(make());
            let mut plain_it = make();
            assert_eq!(it.any(|x| is_target(&x)), plain_it.any(|x| is_target(&x)));
            assert_eq!(it.all(|x| !is_target(&x)), plain_it.all(|x| !is_target(&x)));
            assert_eq!(it.find(|x| !is_target(x)), plain_it.find(|x| !is_target(x)));
            assert_eq!(it.count(), plain_it.count());
        }
    }

    fn wrap<I: Split>(inner: I) -> Chunked<I> {
        SplitTag.wrap(inner)
    }

    #[test]
    fn chunked_slices_ranges_and_chars_agree_with_plain_iteration() {
        for &n in LENGTHS {
            let v: Vec<u64> = (0..n as u64).map(|x| x * 7 % 1000).collect();
            agree(|| v.iter(), wrap);
            agree(|| 0..n as u64, wrap);
            agree(|| 3..=n as i32 + 2, wrap);
            let s: String = (0..n).map(|i| ['a', 'é', '字', '🦀'][i % 4]).collect();
            agree(|| s.chars(), wrap);
        }
        // Ranges at the ends of their types, and wider than `usize`.
        agree(|| i64::MIN..i64::MIN + 3000, wrap);
        agree(|| u64::MAX - 3000..=u64::MAX, wrap);
        agree(|| i8::MIN..i8::MAX, wrap);
        agree(|| i8::MIN..=i8::MAX, wrap);
        agree(|| u128::MAX - 2500..u128::MAX, wrap);
        let mut full = wrap(0..=u128::MAX);
        assert_eq!(full.nth(5000), Some(5000));
        assert_eq!(full.next_back(), Some(u128::MAX));
        // Empty and backwards ranges.
        agree(|| 5..3, wrap);
        agree(|| 5..=3, wrap);
        let mut used = 0..=3u8;
        used.by_ref().for_each(drop);
        agree(|| used.clone(), wrap);
    }

    #[test]
    fn chunked_iter_mut_writes_every_item_once() {
        for &n in LENGTHS {
            let mut v: Vec<u64> = (0..n as u64).collect();
            wrap(v.iter_mut()).for_each(|x| *x *= 3);
            assert!(v.iter().enumerate().all(|(i, &x)| x == 3 * i as u64));
            wrap(v.iter_mut()).rev().step_by(2).for_each(|x| *x += 1);
            let mut w: Vec<u64> = (0..n as u64).map(|x| 3 * x).collect();
            w.iter_mut().rev().step_by(2).for_each(|x| *x += 1);
            assert_eq!(v, w);
            let mut it = wrap(v.iter_mut());
            let hit = it.position(|x| *x % 5 == 4);
            let rest = it.count();
            let mut it = w.iter_mut();
            assert_eq!((hit, rest), (it.position(|x| *x % 5 == 4), it.count()));
        }
    }

    #[test]
    fn counted_and_checked_agree_with_plain_iteration() {
        for &n in LENGTHS {
            let s: String = (0..n).map(|i| ['a', 'é', '\n'][i % 3]).collect();
            let plain: Vec<u8> = s.bytes().collect();
            assert_eq!(StdTag.wrap(s.bytes()).collect::<Vec<_>>(), plain);
            assert_eq!(
                StdTag
                    .wrap(s.bytes())
                    .rfold(0usize, |a, b| a.wrapping_mul(31) + b as usize),
                s.bytes()
                    .rfold(0usize, |a, b| a.wrapping_mul(31) + b as usize)
            );
            assert_eq!(IterTag.wrap(s.bytes()).rev().collect::<Vec<_>>(), {
                let mut p = plain.clone();
                p.reverse();
                p
            });
            assert_eq!(StdTag.wrap(s.bytes()).nth(1500), s.bytes().nth(1500));
            assert_eq!(IterTag.wrap(s.bytes()).len(), plain.len());
        }
    }

    #[test]
    fn debug_output_is_the_sources() {
        let v = [1, 2, 3];
        assert_eq!(format!("{:?}", wrap(v.iter())), format!("{:?}", v.iter()));
        assert_eq!(format!("{:?}", StdTag.wrap(0..3)), "0..3");
        assert_eq!(format!("{:?}", IterTag.wrap(0..3)), "0..3");
    }
}
