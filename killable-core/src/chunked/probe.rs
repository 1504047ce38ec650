//! The choice of wrapper, by method resolution on `Probe` (autoref-based specialization).

use super::{Budget, Checked, Chunked, Counted, Probe, Split, StdCheap, ZipChunked, ZipPart};

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
pub struct CheckedTag;
/// Leaves a value that is not an iterator as it is.
#[derive(Debug, Clone, Copy)]
pub struct OpaqueTag;

/// The one trait the probe resolves through: each impl is on a different
/// number of references to `Probe`, so method resolution, which tries the
/// receiver `&&&&&Probe` and then each dereference of it, picks the impl
/// with the most references that `x`'s type satisfies. One trait, so the
/// generated `use` is always used (`#![forbid(unused_imports)]` holds).
pub trait ChunkKind {
    /// The tag whose `wrap` builds the wrapper.
    type Tag;
    /// See `Probe`.
    fn __killable_kind(&self) -> Self::Tag;
}

/// First choice: a `Split` source.
impl<I: Split> ChunkKind for &&&&Probe<'_, I> {
    type Tag = SplitTag;
    #[inline(always)]
    fn __killable_kind(&self) -> SplitTag {
        SplitTag
    }
}

/// Second choice: a zip of `ZipPart`s.
impl<A: ZipPart, B: ZipPart> ChunkKind for &&&Probe<'_, core::iter::Zip<A, B>> {
    type Tag = ZipTag;
    #[inline(always)]
    fn __killable_kind(&self) -> ZipTag {
        ZipTag
    }
}

/// Third choice: a `StdCheap` source.
impl<I: StdCheap> ChunkKind for &&Probe<'_, I> {
    type Tag = StdTag;
    #[inline(always)]
    fn __killable_kind(&self) -> StdTag {
        StdTag
    }
}

/// Fourth choice: any iterator.
impl<I: Iterator> ChunkKind for &Probe<'_, I> {
    type Tag = CheckedTag;
    #[inline(always)]
    fn __killable_kind(&self) -> CheckedTag {
        CheckedTag
    }
}

/// Last choice: anything else.
impl<T> ChunkKind for Probe<'_, T> {
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

impl CheckedTag {
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
