//! `Killable` where it is not implemented: it names the type, so that code
//! mentioning it compiles up to the point of use, and refuses construction
//! with a message that says why.

/// Killable blocking I/O is implemented on Unix only; see the
/// [module docs](crate::io).
#[derive(Debug)]
pub struct Killable<T> {
    _inner: T,
}

/// Implemented by no type: the bound that makes `Killable::new` refuse to
/// compile off Unix, with a message that says so.
#[diagnostic::on_unimplemented(
    message = "`killable::io::Killable` is only available on Unix",
    label = "`Killable::new` called here, on a platform without killable I/O",
    note = "use `killable::interruptible` with a hook that closes or shuts down the handle"
)]
pub trait UnixOnly {}

impl<T: UnixOnly> Killable<T> {
    /// Refused at compile time off Unix (see [`UnixOnly`]).
    pub fn new(inner: T) -> Self {
        Killable { _inner: inner }
    }
}
