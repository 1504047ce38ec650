//! The calling thread's view of itself: which state it owns and how deep in
//! shields it is.
//!
//! The thread-local has no destructor and a `const` initializer, so it is a
//! plain TLS slot: reading it never registers a destructor and works even
//! while other thread-locals are being destroyed.

use std::cell::Cell;
use std::ptr;

use crate::state::Inner;

struct Local {
    /// The state of the running killable thread, or null. Owned by an `Arc`
    /// in the frame that set it (the spawn wrapper, or the outermost
    /// `with_timeout`), which resets it before that `Arc` can drop.
    current: Cell<*const Inner>,
    shield_depth: Cell<u32>,
    /// Cancel scopes opened while the thread was unwinding (or running a
    /// hook), still open.
    unwinding_scopes: Cell<u32>,
    /// Unwinds started inside those scopes and still in flight, as far as
    /// this crate knows (see [`unwinding_level`]).
    nested_unwinds: Cell<u32>,
    /// How deep this thread is in `on_kill` hooks it runs for other threads.
    hook_depth: Cell<u32>,
}

thread_local! {
    static LOCAL: Local = const {
        Local {
            current: Cell::new(ptr::null()),
            shield_depth: Cell::new(0),
            unwinding_scopes: Cell::new(0),
            nested_unwinds: Cell::new(0),
            hook_depth: Cell::new(0),
        }
    };
}

/// Runs `f` with the current thread's state, if it is killable.
#[inline]
pub(crate) fn with_current<R>(f: impl FnOnce(Option<&Inner>) -> R) -> R {
    LOCAL.with(|l| {
        let p = l.current.get();
        // SAFETY: a non-null `current` points into an `Arc<Inner>` kept alive
        // by a frame below us on this very thread (see `Local::current`),
        // which clears the slot before releasing it.
        f(unsafe { p.as_ref() })
    })
}

/// The current thread's state as an `Arc`, if it is killable.
pub(crate) fn current_arc() -> Option<std::sync::Arc<Inner>> {
    LOCAL.with(|l| {
        let p = l.current.get();
        if p.is_null() {
            return None;
        }
        // SAFETY: a non-null `current` always comes from `Arc::as_ptr` of an
        // `Arc<Inner>` that a frame below us keeps alive; taking one more
        // strong count and wrapping it makes an owned clone of that `Arc`.
        unsafe {
            std::sync::Arc::increment_strong_count(p);
            Some(std::sync::Arc::from_raw(p))
        }
    })
}

/// Installs `inner` as the current thread's state; returns the previous one.
/// The caller keeps `inner` alive until it restores the previous value.
pub(crate) fn set_current(inner: *const Inner) -> *const Inner {
    LOCAL.with(|l| l.current.replace(inner))
}

/// `inner` installed as the current thread's state until this is dropped,
/// which puts the previous one back. Whoever holds it keeps `inner` alive
/// at least as long (the slot's contract, see [`set_current`]).
pub(crate) struct Installed {
    prev: *const Inner,
}

impl Drop for Installed {
    fn drop(&mut self) {
        set_current(self.prev);
    }
}

/// See [`Installed`]: the one way a state is installed (a killable thread's
/// body, a scope that makes a thread killable).
pub(crate) fn install(inner: &std::sync::Arc<Inner>) -> Installed {
    Installed {
        prev: set_current(std::sync::Arc::as_ptr(inner)),
    }
}

/// The current thread's state for the duration of a scope (`with_timeout`,
/// `CancelToken::run`): its own if it is killable, else a fresh one that
/// makes it killable until this is dropped.
pub(crate) struct Adopted {
    /// For a fresh state. Declared first, so dropped first: the previous
    /// state is back before `inner` is released.
    _installed: Option<Installed>,
    inner: std::sync::Arc<Inner>,
}

impl Adopted {
    pub(crate) fn inner(&self) -> &std::sync::Arc<Inner> {
        &self.inner
    }
}

/// See [`Adopted`].
pub(crate) fn adopt() -> Adopted {
    match current_arc() {
        Some(inner) => Adopted {
            _installed: None,
            inner,
        },
        None => {
            let inner = std::sync::Arc::new(Inner::new());
            inner.set_thread(std::thread::current());
            Adopted {
                _installed: Some(install(&inner)),
                inner,
            }
        }
    }
}

pub(crate) fn shield_depth() -> u32 {
    LOCAL.with(|l| l.shield_depth.get())
}

pub(crate) fn enter_shield() {
    LOCAL.with(|l| l.shield_depth.set(l.shield_depth.get() + 1));
}

pub(crate) fn leave_shield() {
    LOCAL.with(|l| l.shield_depth.set(l.shield_depth.get() - 1));
}

/// Whether a kill may unwind this thread right now. Never while unwinding
/// (a second unwind would abort the process), inside a shield, nor inside
/// an `on_kill` hook (see [`HookRunning`]).
#[inline]
pub(crate) fn can_deliver() -> bool {
    shield_depth() == 0 && !restricted()
}

/// Whether only cancel scopes opened from now on may deliver their own
/// expiry here: while unwinding, and while running another thread's hook.
#[inline]
pub(crate) fn restricted() -> bool {
    std::thread::panicking() || LOCAL.with(|l| l.hook_depth.get()) != 0
}

/// Marks this thread as running an `on_kill` hook for another thread until
/// dropped. Meanwhile this thread's own kills are deferred as during an
/// unwind: the hook is the other thread's way out of a blocking call, and a
/// hook cut short by its runner's own kill (the checkpoint `#[killable]`
/// puts at a closure's entry, racing `terminate_all`s) would leave that
/// thread blocked with its kill recorded, for ever. A `with_timeout` or
/// `CancelToken::run` opened inside the hook still gets its own expiry.
pub(crate) struct HookRunning(());

impl HookRunning {
    pub(crate) fn enter() -> HookRunning {
        LOCAL.with(|l| l.hook_depth.set(l.hook_depth.get() + 1));
        HookRunning(())
    }
}

impl Drop for HookRunning {
    fn drop(&mut self) {
        LOCAL.with(|l| l.hook_depth.set(l.hook_depth.get() - 1));
    }
}

/// Which kills may unwind this thread right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Allowed {
    /// Inside a shield, or unwinding outside any scope opened while
    /// unwinding.
    Nothing,
    /// Unwinding, inside a cancel scope opened during that unwind (in a
    /// destructor): only the expiry of such a scope, which its own
    /// `with_timeout` catches before it could reach the outer unwind.
    UnwindingScopes,
    /// Anything.
    All,
}

#[inline]
pub(crate) fn allowed() -> Allowed {
    LOCAL.with(|l| {
        if l.shield_depth.get() != 0 {
            Allowed::Nothing
        } else if !std::thread::panicking() && l.hook_depth.get() == 0 {
            Allowed::All
        } else if l.unwinding_scopes.get() != 0 {
            Allowed::UnwindingScopes
        } else {
            Allowed::Nothing
        }
    })
}

/// The unwinding level a cancel scope opened now gets (`Inner::push_scope_in`):
/// 0 outside an unwind (and a hook), else one more than the unwinds started
/// inside unwinding scopes that are in flight. A checkpoint under
/// [`Allowed::UnwindingScopes`] delivers only the expiry of a scope opened at
/// the current level: once an expiry delivered there unwinds, the
/// destructors it runs inside the scope are cleanup of a second unwind, and
/// delivering the same (level-triggered) expiry there again, or any other
/// scope's, would make a destructor unwind during cleanup: an abort.
pub(crate) fn unwinding_level() -> u32 {
    LOCAL.with(|l| l.nested_unwinds.get() + 1)
}

/// The level of a cancel scope opened now: 0 outside an unwind and a hook
/// (where every kill may be delivered), else [`unwinding_level`]. A scope
/// with a level other than 0 is counted from [`enter_unwinding_scope`] to
/// [`leave_unwinding_scope`].
pub(crate) fn scope_level() -> u32 {
    if restricted() {
        unwinding_level()
    } else {
        0
    }
}

/// Counts a cancel scope opened while unwinding (or in a hook), until
/// [`leave_unwinding_scope`].
pub(crate) fn enter_unwinding_scope() {
    LOCAL.with(|l| l.unwinding_scopes.set(l.unwinding_scopes.get() + 1));
}

/// Closes a scope opened by [`enter_unwinding_scope`] at `level`, once its
/// `catch_unwind` has returned: whatever unwind started inside it has ended
/// (caught there or by the user's `catch_unwind` inside), so the unwinds in
/// flight are those of its opening again.
pub(crate) fn leave_unwinding_scope(level: u32) {
    LOCAL.with(|l| {
        l.unwinding_scopes.set(l.unwinding_scopes.get() - 1);
        l.nested_unwinds.set(level - 1);
    });
}

/// Counts an unwind that starts inside an unwinding scope: a delivery of its
/// expiry, or a payload that scope caught and resumes into its caller, which
/// is inside the destructor that opened it (or inside an enclosing scope).
/// Until a scope's close undoes it, nothing at the old level is delivered.
pub(crate) fn start_nested_unwind() {
    LOCAL.with(|l| l.nested_unwinds.set(l.nested_unwinds.get() + 1));
}

/// Called as a termination starts to unwind this thread, before any of its
/// destructors run; set once by `scope`, which is above this module (a
/// function pointer keeps the imports going down).
static ON_TERMINATE: std::sync::OnceLock<fn()> = std::sync::OnceLock::new();

/// Installs the termination callback (the first call wins; there is one).
pub(crate) fn set_on_terminate(f: fn()) {
    let _ = ON_TERMINATE.set(f);
}

/// Runs the termination callback, if one is installed.
pub(crate) fn on_terminate() {
    if let Some(f) = ON_TERMINATE.get() {
        f();
    }
}
