//! One timer thread for every deadline in the process.
//!
//! `with_timeout` scopes and `Builder::deadline` schedule an action here; the
//! thread sleeps until the earliest one. Scheduling wakes the timer thread
//! only when the new deadline is earlier than the one it sleeps until, so a
//! stream of `with_timeout` calls with similar timeouts costs a map insert and
//! remove each, without a syscall.
//!
//! The timer thread never runs user code and never takes a lock that is held
//! across user code: an expiry records the kill and claims the target's
//! `interruptible` hook (both short critical sections), and the hook itself
//! runs on a pool of `killable-hooks` threads, so a slow or blocked hook
//! delays neither a deadline nor another hook.

use std::collections::BTreeMap;
use std::sync::{Condvar, LazyLock, Mutex};
use std::time::Instant;

use crate::prim::{lock, next_id};
use crate::state::{ClaimedHook, Inner};

type Action = Box<dyn FnOnce() + Send>;

/// Identifies a scheduled action, for [`cancel`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct TimerKey(Instant, u64);

struct Queue {
    entries: BTreeMap<TimerKey, Action>,
    /// The timer thread is firing actions outside the lock; it re-reads the
    /// queue before sleeping again, so no notification is needed.
    busy: bool,
    /// When the sleeping timer thread will next look, `None` = never.
    wake_at: Option<Instant>,
    started: bool,
}

struct Timer {
    queue: Mutex<Queue>,
    cv: Condvar,
}

static TIMER: LazyLock<Timer> = LazyLock::new(|| Timer {
    queue: Mutex::new(Queue {
        entries: BTreeMap::new(),
        busy: false,
        wake_at: None,
        started: false,
    }),
    cv: Condvar::new(),
});

/// Runs `action` on the timer thread at `at` (at once if `at` has passed),
/// unless [`cancel`]led first. Actions must be quick: they delay the others.
///
/// # Panics
///
/// If the timer thread cannot be spawned (the OS refuses a thread).
pub(crate) fn schedule(at: Instant, action: Action) -> TimerKey {
    let key = TimerKey(at, next_id());
    let mut q = lock(&TIMER.queue);
    if !q.started {
        std::thread::Builder::new()
            .name("killable-timer".into())
            .spawn(run)
            .expect("killable: the OS refused to spawn the timer thread");
        q.started = true;
    }
    q.entries.insert(key, action);
    if !q.busy && q.wake_at.map_or(true, |w| at < w) {
        TIMER.cv.notify_one();
    }
    key
}

/// Removes a scheduled action; returns false if it already ran (or is
/// running).
pub(crate) fn cancel(key: TimerKey) -> bool {
    let removed = lock(&TIMER.queue).entries.remove(&key);
    // Dropped outside the lock: it may own an `Arc` whose drop is not ours.
    removed.is_some()
}

fn run() {
    let mut q = lock(&TIMER.queue);
    loop {
        let now = Instant::now();
        let mut due = Vec::new();
        while let Some(entry) = q.entries.first_entry() {
            if entry.key().0 > now {
                break;
            }
            due.push(entry.remove());
        }
        if !due.is_empty() {
            q.busy = true;
            drop(q);
            for action in due {
                // Actions run no user code (hooks go to `run_hook_later`), but
                // dropping a state's last `Arc` drops whatever it still holds;
                // a panic there must not end this thread, or no deadline
                // would ever fire again.
                // The payload is dropped contained too: a payload whose own
                // `Drop` panics would otherwise end this thread after all.
                if let Err(p) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(action)) {
                    crate::error::drop_contained(p);
                }
            }
            q = lock(&TIMER.queue);
            q.busy = false;
            continue;
        }
        q = match q.entries.first_key_value().map(|(k, _)| k.0) {
            Some(at) => {
                q.wake_at = Some(at);
                let (g, _) = TIMER
                    .cv
                    .wait_timeout(q, at.saturating_duration_since(now))
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                g
            }
            None => {
                q.wake_at = None;
                TIMER
                    .cv
                    .wait(q)
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
            }
        };
    }
}

/// The hook runners' queue.
///
/// Hooks run on a pool of `killable-hooks` threads that grows whenever a hook
/// is queued and no runner is idle to take it. A hook may block on anything,
/// including the effect of a later deadline's hook: with a fixed number of
/// runners, that later hook would wait in the queue behind it forever. So
/// the number of runners is the number of hooks running at once (plus the
/// idle ones), and a runner idle for `IDLE_EXIT` ends, down to the last one.
struct Hooks {
    queue: Mutex<HookQueue>,
    cv: Condvar,
}

struct HookQueue {
    hooks: std::collections::VecDeque<Deferred>,
    /// Runner threads alive.
    runners: usize,
    /// Runners waiting on `cv` for a hook, each of which will take one.
    idle: usize,
}

/// How long a runner beyond the first waits for work before it ends.
const IDLE_EXIT: std::time::Duration = std::time::Duration::from_secs(5);

/// A claimed hook and the state it belongs to, kept alive until the hook
/// has run (`hook` is dropped first, as fields drop in order).
struct Deferred {
    hook: ClaimedHook<'static>,
    _inner: std::sync::Arc<Inner>,
}

impl Deferred {
    /// A hook's panic has nobody to go to (no user call is waiting for it);
    /// it must not end its runner. Nor may its payload, whose `Drop` is user
    /// code too: a panic out of dropping it would kill the runner, and a
    /// second one abort.
    fn run(self) {
        if let Err(p) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.hook.run())) {
            crate::error::drop_contained(p);
        }
    }
}

static HOOKS: LazyLock<Hooks> = LazyLock::new(|| Hooks {
    queue: Mutex::new(HookQueue {
        hooks: std::collections::VecDeque::new(),
        runners: 0,
        idle: 0,
    }),
    cv: Condvar::new(),
});

/// Runs a hook claimed by the timer thread on a hook runner, so that the
/// timer thread never waits for user code. If the OS refuses a new runner
/// while none exists, runs it here instead: a late deadline beats a lost
/// wake-up. If some runner exists, the hook waits for one to be free.
pub(crate) fn run_hook_later(hook: ClaimedHook<'_>, inner: std::sync::Arc<Inner>) {
    assert!(hook.is_of(&inner), "killable: a hook is run with its own state");
    let deferred = Deferred {
        // SAFETY: `inner`, stored next to it, keeps the state alive until
        // the hook is dropped.
        hook: unsafe { hook.detach() },
        _inner: inner,
    };
    let mut q = lock(&HOOKS.queue);
    q.hooks.push_back(deferred);
    if q.hooks.len() <= q.idle {
        HOOKS.cv.notify_one();
        return;
    }
    let spawned = std::thread::Builder::new()
        .name("killable-hooks".into())
        .spawn(run_hooks);
    if spawned.is_ok() {
        q.runners += 1;
    } else if q.runners == 0 {
        let deferred = q.hooks.pop_back().expect("pushed above");
        drop(q);
        deferred.run();
    }
}

fn run_hooks() {
    let mut q = lock(&HOOKS.queue);
    loop {
        if let Some(deferred) = q.hooks.pop_front() {
            drop(q);
            deferred.run();
            q = lock(&HOOKS.queue);
            continue;
        }
        q.idle += 1;
        let (g, waited) = HOOKS
            .cv
            .wait_timeout(q, IDLE_EXIT)
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        q = g;
        q.idle -= 1;
        if waited.timed_out() && q.hooks.is_empty() && q.runners > 1 {
            q.runners -= 1;
            return;
        }
    }
}
