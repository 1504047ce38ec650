//! Which std iterators are cheap to drive, and which zip parts std reads by index.

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
/// slower than no wrapper on a dot product (`a.iter().zip(b.iter())`):
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
