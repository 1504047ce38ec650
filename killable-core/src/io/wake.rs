//! Waiting for an fd in a way that a kill interrupts: `poll` on the fd and on
//! this thread's wake fd, which the kill signals.
//!
//! The kill side is `interruptible`'s hook: the wait lends killers a hook
//! that signals the wake fd, so the wake-up inherits that protocol's
//! guarantee (either the hook is armed before the kill looks for it, or the
//! arming sees the kill and delivers it instead: no lost wake-up; modelled by
//! `tests/loom.rs::kill_vs_interruptible_hook`). Nothing in the kill path
//! had to change for it.

use std::cell::OnceCell;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use libc::c_short;

use super::sys;
use crate::checkpoint::checkpoint;
use crate::interrupt::interruptible;
use crate::local;
use crate::state::KILLS_UNWIND;

/// A thread's wake fd: an eventfd on Linux, a non-blocking pipe elsewhere.
struct WakeFd {
    read: OwnedFd,
    /// The pipe's write end; `None` for an eventfd, written through `read`.
    write: Option<OwnedFd>,
}

impl WakeFd {
    fn new() -> io::Result<WakeFd> {
        let (read, write) = sys::wake_fds()?;
        Ok(WakeFd { read, write })
    }

    fn signal(&self) {
        sys::signal(self.write.as_ref().unwrap_or(&self.read).as_fd());
    }
}

thread_local! {
    /// Created by the first killable wait on this thread, reused by the
    /// next ones, closed when the thread exits.
    static WAKE: OnceCell<WakeFd> = const { OnceCell::new() };
}

/// Whether a wait on this thread can be interrupted by a kill: it is
/// killable, outside shields, not unwinding, and kills can unwind.
fn killable_here() -> bool {
    KILLS_UNWIND && local::with_current(|i| i.is_some()) && local::can_deliver()
}

/// Waits until `fd` has one of `events` (or an error or hang-up), with no
/// timeout. On a killable thread a kill wakes it and is delivered from here
/// (an unwind, having consumed nothing); elsewhere it is a plain `poll`.
pub(crate) fn wait(fd: BorrowedFd<'_>, events: c_short) -> io::Result<()> {
    if killable_here() {
        // `try_with` fails only during this thread's TLS destruction, where
        // no kill is delivered anyway: then the plain wait below.
        let r = WAKE.try_with(|cell| {
            if cell.get().is_none() {
                let _ = cell.set(WakeFd::new()?);
            }
            let wake = cell.get().expect("just set");
            wait_killable(fd, events, wake)
        });
        if let Ok(r) = r {
            return r;
        }
    }
    loop {
        if sys::poll(fd, events, None)?.0 {
            return Ok(());
        }
    }
}

fn wait_killable(fd: BorrowedFd<'_>, events: c_short, wake: &WakeFd) -> io::Result<()> {
    loop {
        let ready = interruptible(
            || {
                let (ready, woken) = sys::poll(fd, events, Some(wake.read.as_fd()))?;
                if woken {
                    // A hook that fires after this drain (the kill raced
                    // the readiness) leaves the fd signalled: the next wait
                    // wakes once for nothing, drains it, and goes back to
                    // sleep.
                    sys::drain(wake.read.as_fd());
                }
                Ok::<_, io::Error>(ready)
            },
            || wake.signal(),
        )?;
        // Whatever woke us, nothing has been consumed yet: a kill that
        // arrived lands here (if `interruptible` did not deliver it already).
        checkpoint();
        if ready {
            return Ok(());
        }
    }
}
