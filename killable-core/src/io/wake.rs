//! Waiting for an fd in a way that a kill interrupts: `poll` on the fd and on
//! this thread's wake fd, which every kill signals.
//!
//! The wake fd plays the part of the thread's park token: the first killable
//! I/O wait of a thread registers a waker that signals it with the thread's
//! kill state ([`Inner::set_waker`]), and from then on every kill calls it
//! right after its unpark, outside every lock (so the woken thread never
//! blocks on a lock the killer still holds). A wait tests for a kill after
//! the registration and before each `poll`, and again after each wake-up, so
//! a kill is either seen by a test or signals the `poll`: no lost wake-up
//! (loom: `tests/loom.rs::kill_vs_entering_an_io_wait`; stress:
//! `tests/io.rs::raises_at_random_moments_always_wake_an_idle_reader`).
//!
//! A kill that lands while the thread is not in such a wait leaves the wake
//! fd signalled; the next wait wakes once for nothing, drains it, and goes
//! back to sleep.

use std::cell::OnceCell;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::Arc;

use libc::c_short;

use super::sys;
use crate::checkpoint::{deliverable, take_pending, unwind};
use crate::local;
use crate::state::{Inner, Kill, Waker, KILLS_UNWIND};
use crate::wait::Blocked;

/// A thread's wake fd: an eventfd on Linux, a non-blocking pipe elsewhere.
struct WakeFd {
    read: OwnedFd,
    /// The pipe's write end; `None` for an eventfd, written through `read`.
    write: Option<OwnedFd>,
}

impl WakeFd {
    fn signal(&self) {
        sys::signal(self.write.as_ref().unwrap_or(&self.read).as_fd());
    }
}

/// The wake fd, and the waker that kills call, sharing it: a killer may
/// still hold the waker after the thread has exited, so the fd lives as
/// long as either does.
struct Wake {
    fd: Arc<WakeFd>,
    waker: Waker,
    /// Woken by a kill and left undrained: the kill was delivered first,
    /// and the next wait drains before it sleeps.
    undrained: std::cell::Cell<bool>,
}

impl Wake {
    fn new() -> io::Result<Wake> {
        let (read, write) = sys::wake_fds()?;
        let fd = Arc::new(WakeFd { read, write });
        let f = fd.clone();
        Ok(Wake {
            fd,
            waker: Arc::new(move || f.signal()),
            undrained: std::cell::Cell::new(false),
        })
    }
}

thread_local! {
    /// Created by the first killable wait on this thread, reused by the
    /// next ones, closed when the thread exits (and no killer holds it).
    static WAKE: OnceCell<Wake> = const { OnceCell::new() };
}

/// Waits until `fd` has one of `events` (or an error or hang-up), with no
/// timeout. On a killable thread a kill wakes it and is delivered from here
/// (an unwind, having consumed nothing); elsewhere it is a plain `poll`.
///
/// Inlined, so that the unwind starts in the caller's frame: each frame
/// between the unwind and the `catch` costs it time, while the kill is taken
/// in the (not inlined) wait.
#[inline]
pub(crate) fn wait(fd: BorrowedFd<'_>, events: c_short) -> io::Result<()> {
    match wait_or_kill(fd, events) {
        Ok(Some(kill)) => unwind(kill),
        r => r.map(drop),
    }
}

/// [`wait`], returning the kill to deliver instead of delivering it.
fn wait_or_kill(fd: BorrowedFd<'_>, events: c_short) -> io::Result<Option<Kill>> {
    let killable = local::with_current(|inner| {
        let inner = inner.filter(|_| KILLS_UNWIND && local::allowed() != local::Allowed::Nothing)?;
        // `try_with` fails only during this thread's TLS destruction, where
        // no kill is delivered anyway: then the plain wait below.
        WAKE.try_with(|cell| {
            if cell.get().is_none() {
                let _ = cell.set(Wake::new()?);
            }
            let wake = cell.get().expect("just set");
            wait_killable(fd, events, inner, wake)
        })
        .ok()
    });
    if let Some(r) = killable {
        return r;
    }
    loop {
        if sys::poll(fd, events, None)?.0 {
            return Ok(None);
        }
    }
}

/// Returns when `fd` is ready, or with the kill to deliver, taken.
fn wait_killable(
    fd: BorrowedFd<'_>,
    events: c_short,
    inner: &Inner,
    wake: &Wake,
) -> io::Result<Option<Kill>> {
    inner.set_waker(&wake.waker);
    let _blocked = Blocked::new(inner);
    if wake.undrained.replace(false) {
        sys::drain(wake.fd.read.as_fd());
    }
    let mut ready = false;
    loop {
        // Nothing has been consumed yet: a kill lands here, before the
        // first `poll` or after any wake-up, readiness included. Draining
        // the wake fd is left to the next wait, off the kill's path.
        if deliverable(inner) {
            if let Some(kill) = take_pending(inner) {
                wake.undrained.set(true);
                return Ok(Some(kill));
            }
            // Nothing was deliverable after all: do not let a signalled fd
            // turn the `poll` below into a spin.
            sys::drain(wake.fd.read.as_fd());
        }
        if ready {
            return Ok(None);
        }
        let woken;
        (ready, woken) = sys::poll(fd, events, Some(wake.fd.read.as_fd()))?;
        if woken && !deliverable(inner) {
            sys::drain(wake.fd.read.as_fd());
        }
    }
}
