//! Killable threads (work in progress).
pub use killable_core::*;
pub use killable_macros::killable;

#[doc(hidden)]
pub mod __private {
    pub use killable_core::checkpoint;
}
