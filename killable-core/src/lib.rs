//! Runtime of the `killable` crate (work in progress).

/// A safepoint: delivers a pending kill to the current thread.
#[inline]
pub fn checkpoint() {}
