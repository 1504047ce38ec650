//! Sources that can be cut into chunks of their own type, in constant time.

use crate::strip::Int;

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
