//! The stalled-kill warning (cargo feature `tracing`): one `WARN` event per
//! thread that leaves a kill pending longer than a threshold.
//!
//! Nothing here runs on a checkpoint. A killer that sends a kill calls
//! [`kick`]; a watcher thread, started by the first kick, sleeps until the
//! earliest moment a pending kill could cross the threshold, reads
//! [`registry::threads`](crate::registry::threads) (whose figures come from
//! the time each killer recorded), warns, and sleeps again: for good while
//! nothing is pending. The events run the application's subscriber on the
//! watcher thread, never on the shared deadline timer.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::ThreadId;
use std::time::{Duration, Instant};

use crate::prim::lock;
use crate::entry::{snapshot, Entry};

/// The threshold in nanoseconds; `u64::MAX` = no warnings.
static THRESHOLD_NANOS: AtomicU64 = AtomicU64::new(1_000_000_000);

struct Watch {
    started: bool,
    /// A kill was sent since the watcher last read the registry.
    kicked: bool,
    /// The watcher sleeps with no wake-up time: only a kick wakes it.
    idle: bool,
}

static WATCH: Mutex<Watch> = Mutex::new(Watch {
    started: false,
    kicked: false,
    idle: false,
});
static WAKE: Condvar = Condvar::new();

/// Sets how long a kill may stay pending before the `tracing` feature warns
/// about the thread (default 1 s); `None` turns the warning off.
///
/// The event, at level `WARN` under the target `killable`, has the message
/// `kill pending: the thread passes no checkpoint` and the fields `thread`
/// (its id), `name`, `pending_for` and, with the feature `diagnostics`,
/// `last_checkpoint` (`file:line`). It is emitted once per thread and kill:
/// again only after the thread has taken a kill and left one pending again.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// // Warn about threads that let a kill wait for a quarter of a second.
/// killable::registry::warn_stalled_after(Some(Duration::from_millis(250)));
/// ```
pub fn warn_stalled_after(threshold: Option<Duration>) {
    let nanos = threshold.map_or(u64::MAX, |d| {
        u64::try_from(d.as_nanos()).unwrap_or(u64::MAX - 1)
    });
    // Relaxed: a lone setting; the kick below makes the watcher re-read it.
    THRESHOLD_NANOS.store(nanos, Relaxed);
    kick();
    // Also a watcher sleeping until a time the old threshold set.
    WAKE.notify_one();
}

fn threshold() -> Option<Duration> {
    match THRESHOLD_NANOS.load(Relaxed) {
        u64::MAX => None,
        n => Some(Duration::from_nanos(n)),
    }
}

/// A kill was sent (or the threshold changed): make sure the watcher looks.
pub(crate) fn kick() {
    let mut w = lock(&WATCH);
    w.kicked = true;
    if !w.started {
        // Without a watcher there is no warning, and nothing else changes:
        // a refused spawn is retried at the next kick.
        w.started = std::thread::Builder::new()
            .name("killable-stall-watch".into())
            .spawn(watch)
            .is_ok();
    } else if w.idle {
        // A watcher sleeping until a set time wakes before any new kill
        // could cross the threshold (that kill is younger than the one it
        // waits for), and reads the registry then: no notification needed.
        WAKE.notify_one();
    }
}

fn watch() {
    // The pending period each thread was warned about (its start), so that
    // a kill is warned about once.
    let mut warned: HashMap<ThreadId, Instant> = HashMap::new();
    loop {
        let next = look(&mut warned);
        let mut w = lock(&WATCH);
        // Until a kick, or the time `look` asked for; spurious wake-ups loop.
        while !w.kicked {
            match next {
                Some(at) => {
                    let left = at.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        break;
                    }
                    w = WAKE
                        .wait_timeout(w, left)
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .0;
                }
                None => {
                    w.idle = true;
                    w = WAKE
                        .wait(w)
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    w.idle = false;
                }
            }
        }
        w.kicked = false;
    }
}

/// Warns about the threads past the threshold; returns when the next one
/// (pending now, not yet past it) will be.
fn look(warned: &mut HashMap<ThreadId, Instant>) -> Option<Instant> {
    let threshold = threshold()?;
    let pending: Vec<(Arc<Entry>, ThreadId, Instant)> = snapshot()
        .into_iter()
        .filter_map(|e| {
            let id = e.thread.get()?.id();
            let since = e.state.pending_since()?;
            Some((e, id, since))
        })
        .collect();
    warned.retain(|id, _| pending.iter().any(|(_, i, _)| i == id));
    let now = Instant::now();
    let mut next: Option<Instant> = None;
    for (entry, id, since) in &pending {
        match since.checked_add(threshold) {
            // Once per pending period: `warned` keeps the start it warned about.
            Some(due) if due <= now => {
                if warned.insert(*id, *since) == Some(*since) {
                    continue;
                }
                // The subscriber is the application's code: its panic must
                // not end the watcher, nor may dropping its payload.
                if let Err(p) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    warn(entry, *id, now.saturating_duration_since(*since));
                })) {
                    crate::error::drop_contained(p);
                }
            }
            Some(due) => next = Some(next.map_or(due, |n| n.min(due))),
            None => {}
        }
    }
    next
}

fn warn(entry: &Entry, id: ThreadId, pending_for: Duration) {
    #[cfg(feature = "diagnostics")]
    let last_checkpoint = entry.state.last_checkpoint.last().map(|c| c.to_string());
    #[cfg(not(feature = "diagnostics"))]
    let last_checkpoint: Option<String> = None;
    tracing::warn!(
        target: "killable",
        thread = ?id,
        name = entry.name.as_deref(),
        pending_for = ?pending_for,
        last_checkpoint = last_checkpoint.as_deref(),
        "kill pending: the thread passes no checkpoint"
    );
}
