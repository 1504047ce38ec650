//! `ZipChunked`: a zip of index-read parts, folded chunk by chunk.

use core::fmt;
use core::iter::FusedIterator;

use super::CHUNK;
use super::{Budget, Counted, ZipPart};
use crate::checkpoint::runtime_checkpoint as checkpoint;

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
    pub(super) inner: I,
    pub(super) budget: Budget,
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
