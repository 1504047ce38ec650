//! The one way this crate blocks: park until a condition holds, a deadline
//! passes, or a kill arrives.
//!
//! Every killable wait parks the thread, and every kill unparks it after
//! recording itself, so a kill can never be lost between the waiter's test
//! and its sleep: `unpark` before `park` makes the `park` return at once.

use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;

use crate::checkpoint::{deliver_pending, deliverable};
use crate::local;
use crate::prim::{park, park_timeout};
use crate::entry::Entry;
use crate::state::Inner;

/// Why [`park_until`] returned.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Woke {
    Done,
    TimedOut,
    /// A kill is deliverable; the caller undoes its registrations, then calls
    /// [`deliver_current`].
    Killed,
}

/// Parks until `done()` holds, `deadline` passes, or (on a killable thread,
/// outside shields) a kill is pending. Whoever makes `done()` true must
/// unpark this thread. Spurious wake-ups are absorbed here.
pub(crate) fn park_until(deadline: Option<Instant>, mut done: impl FnMut() -> bool) -> Woke {
    local::with_current(|inner| {
        let inner = inner.filter(|_| local::allowed() != local::Allowed::Nothing);
        let _blocked = inner.map(Blocked::new);
        loop {
            if let Some(i) = inner {
                if deliverable(i) {
                    return Woke::Killed;
                }
            }
            if done() {
                return Woke::Done;
            }
            match deadline {
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        return Woke::TimedOut;
                    }
                    park_timeout(d - now);
                }
                None => park(),
            }
        }
    })
}

/// Delivers the current thread's pending kill (after a [`Woke::Killed`]).
pub(crate) fn deliver_current() {
    local::with_current(|inner| {
        if let Some(inner) = inner {
            deliver_pending(inner);
        }
    });
}

/// Marks the state blocked for `registry::threads()` while it lives.
/// Restores the previous mark, so that a killable wait nested in an
/// `interruptible` call leaves the outer call marked.
pub(crate) struct Blocked<'a>(&'a Inner, bool);

impl<'a> Blocked<'a> {
    pub(crate) fn new(inner: &'a Inner) -> Self {
        Blocked(inner, inner.blocked.swap(true, Relaxed))
    }
}

impl Drop for Blocked<'_> {
    fn drop(&mut self) {
        self.0.blocked.store(self.1, Relaxed);
    }
}

/// Waits until `entry`'s body has finished or `deadline` passes; returns
/// whether it finished. Killable on a killable thread.
///
/// # Panics
///
/// If `entry` is the calling thread (it would wait for itself forever).
pub(crate) fn until_finished(entry: &Entry, deadline: Option<Instant>) -> bool {
    wait_for(entry, deadline, Inner::add_joiner, Inner::remove_joiner, Inner::is_finished)
}

/// Waits until `entry`'s OS thread has run its thread-local destructors
/// (after its body), or `deadline` passes; returns whether it has. After
/// that, std's join returns at once. Killable on a killable thread, unlike
/// std's join, which the joins call only once this returned true.
///
/// # Panics
///
/// If `entry` is the calling thread.
pub(crate) fn until_ended(entry: &Entry, deadline: Option<Instant>) -> bool {
    wait_for(
        entry,
        deadline,
        Inner::add_end_waiter,
        Inner::remove_end_waiter,
        Inner::has_ended,
    )
}

/// The wait of [`until_finished`] and [`until_ended`]: `add` registers this
/// thread to be unparked when `done` becomes true (returning false if it
/// already is), `remove` undoes that for a wait that gives up. Returns
/// whether `done` held when the wait ended.
fn wait_for(
    entry: &Entry,
    deadline: Option<Instant>,
    add: fn(&Inner, &std::thread::Thread) -> bool,
    remove: fn(&Inner, &std::thread::Thread),
    done: fn(&Inner) -> bool,
) -> bool {
    // A checkpoint like every killable wait, even when there is nothing to
    // wait for.
    crate::checkpoint::runtime_checkpoint();
    let me = std::thread::current();
    if entry.thread.get().map(|t| t.id()) == Some(me.id()) {
        panic!("killable: a thread cannot join itself");
    }
    let s = &*entry.state;
    if !add(s, &me) {
        return true;
    }
    match park_until(deadline, || done(s)) {
        Woke::Done => true,
        Woke::TimedOut => {
            remove(s, &me);
            done(s)
        }
        Woke::Killed => {
            remove(s, &me);
            deliver_current();
            done(s)
        }
    }
}
