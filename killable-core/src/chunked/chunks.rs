//! `Chunked`: a `Split` source cut into chunks, each run by the source's own loop.

use core::fmt;
use core::iter::FusedIterator;

use super::CHUNK;
use super::{Budget, Split};
use crate::checkpoint::runtime_checkpoint as checkpoint;

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
    pub(super) inner: I,
    pub(super) budget: Budget,
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
