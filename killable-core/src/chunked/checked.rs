//! `Checked`: any other iterator, with a checkpoint per item.

use core::fmt;
use core::iter::FusedIterator;

use crate::checkpoint::runtime_checkpoint as checkpoint;

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
    pub(super) inner: I,
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
