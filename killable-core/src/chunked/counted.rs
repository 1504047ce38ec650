//! `Counted`: a cheap std source, with a checkpoint every `CHUNK` items.

use core::fmt;
use core::iter::FusedIterator;

use super::Budget;
use super::CHUNK;
use crate::checkpoint::runtime_checkpoint as checkpoint;

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
    pub(super) inner: I,
    pub(super) budget: Budget,
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
