//! The cross-thread protocol of cancel tokens: which threads are inside a
//! token's `run`, and how a cancellation reaches them and the token's
//! children. Free of thread-locals and unwinding, like [`crate::state`], so
//! that loom can check it (`tests/loom.rs`).
//!
//! # The protocol
//!
//! * A `run` opens a cancel scope on its thread's [`Inner`] *first*, then
//!   registers `(inner, scope id)` with the token under the token's lock,
//!   unless the token is already cancelled. A `cancel` marks the token under
//!   the same lock and takes the registrations, then expires each scope.
//!   So every `run` either sees the mark (and returns at once) or is among
//!   the registrations, and its scope exists by then: no cancellation is
//!   lost, and none lands after its `run` has left (expiring a closed scope
//!   does nothing, and scope ids are never reused).
//! * A child registers with its parent under the parent's lock, unless the
//!   parent is already cancelled, in which case it starts cancelled; a
//!   cancel takes the children with the registrations.
//! * No lock here is held while an [`Inner`] lock is taken or a thread is
//!   woken, and the users' `interruptible` hooks run after every scope has
//!   expired, so a slow or panicking hook delays or skips no cancellation.

use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::{Arc, Weak};

use std::sync::atomic::Ordering::{Acquire, Release};

use crate::prim::{lock, AtomicBool, Mutex};
use crate::state::{ClaimedHook, Inner};

struct Locked {
    cancelled: bool,
    /// The threads inside `run` for this token, with their scope ids.
    runners: Vec<(Arc<Inner>, u64)>,
    /// Pruned of dropped children when it would grow, so a long-lived parent
    /// of many short-lived children stays within twice its live children.
    children: Vec<Weak<Node>>,
}

/// One cancel token, shared by its clones.
pub struct Node {
    locked: Mutex<Locked>,
    /// `locked.cancelled`, readable without the lock. Set once, under the
    /// lock, with `Release`; `is_cancelled` reads it with `Acquire`, so a
    /// thread that sees `true` also sees what the canceller did before
    /// `cancel()`. The protocol itself reads only `locked.cancelled`.
    cancelled: AtomicBool,
    /// Kept alive by its children: a parent reaches its grandchildren only
    /// through the children in between, which may have no other owner.
    parent: Option<Arc<Node>>,
}

impl Node {
    /// A token that is not cancelled and has no parent.
    pub fn new() -> Node {
        Node::with_parent(None, false)
    }

    fn with_parent(parent: Option<Arc<Node>>, cancelled: bool) -> Node {
        Node {
            locked: Mutex::new(Locked {
                cancelled,
                runners: Vec::new(),
                children: Vec::new(),
            }),
            cancelled: AtomicBool::new(cancelled),
            parent,
        }
    }

    /// A token cancelled whenever `self` is (and already cancelled if
    /// `self` is).
    pub fn child(self: &Arc<Self>) -> Arc<Node> {
        let mut l = lock(&self.locked);
        let child = Arc::new(Node::with_parent(Some(self.clone()), l.cancelled));
        if !l.cancelled {
            if l.children.len() == l.children.capacity() {
                l.children.retain(|c| c.strong_count() > 0);
            }
            l.children.push(Arc::downgrade(&child));
        }
        child
    }

    /// Whether [`cancel`](Self::cancel) has been called on this token or an
    /// ancestor.
    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Acquire)
    }

    /// Cancels this token and its descendants: every scope registered with
    /// any of them expires. Idempotent.
    ///
    /// The `interruptible` hooks of the threads reached run here, after
    /// every scope has expired; if one panics, the others still run and the
    /// first panic is resumed at the end.
    pub fn cancel(&self) {
        let mut reached = Vec::new();
        let mut next = self.cancel_one(&mut reached);
        while let Some(node) = next.pop() {
            next.extend(node.cancel_one(&mut reached));
        }
        // Every scope expires before any hook runs; a claimed hook borrows
        // its state, which `reached` keeps alive until the hooks are done.
        let hooks: Vec<ClaimedHook<'_>> = reached
            .iter()
            .filter_map(|(inner, id)| inner.expire_scope_claiming(*id))
            .collect();
        let mut first_panic = None;
        for hook in hooks {
            if let Err(payload) = catch_unwind(AssertUnwindSafe(|| hook.run())) {
                match first_panic {
                    None => first_panic = Some(payload),
                    // The payload's drop is user code too; a panic out of
                    // it is forgotten.
                    Some(_) => {
                        if let Err(p) = catch_unwind(AssertUnwindSafe(|| drop(payload))) {
                            std::mem::forget(p);
                        }
                    }
                }
            }
        }
        if let Some(payload) = first_panic {
            resume_unwind(payload);
        }
    }

    /// Cancels this token alone, taking its registered scopes into
    /// `reached` (for the caller to expire); returns its live children, for
    /// the caller to cancel (a loop, not recursion: a deep chain of children
    /// must not overflow the stack).
    fn cancel_one(&self, reached: &mut Vec<(Arc<Inner>, u64)>) -> Vec<Arc<Node>> {
        let children = {
            let mut l = lock(&self.locked);
            if l.cancelled {
                return Vec::new();
            }
            l.cancelled = true;
            self.cancelled.store(true, Release);
            reached.append(&mut l.runners);
            std::mem::take(&mut l.children)
        };
        children.iter().filter_map(Weak::upgrade).collect()
    }

    /// Opens scope `id` on `inner` (the calling thread's state) and
    /// registers it, unless the token is cancelled: then it opens nothing
    /// and returns false. `unwinding`: see `Inner::push_scope_in`.
    pub fn enter(&self, inner: &Arc<Inner>, id: u64, unwinding: bool) -> bool {
        // The scope exists before a canceller can find the registration.
        inner.push_scope_in(id, false, unwinding);
        let mut l = lock(&self.locked);
        if l.cancelled {
            drop(l);
            inner.pop_scope(id);
            return false;
        }
        l.runners.push((inner.clone(), id));
        true
    }

    /// Undoes [`enter`](Self::enter): unregisters scope `id` and closes it,
    /// leaving nothing of it pending on `inner`.
    pub fn leave(&self, inner: &Inner, id: u64) {
        let mine = {
            let mut l = lock(&self.locked);
            let pos = l.runners.iter().position(|(_, i)| *i == id);
            // Absent when a cancel has taken the registrations.
            pos.map(|pos| l.runners.swap_remove(pos))
        };
        drop(mine);
        inner.pop_scope(id);
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        // A loop, not the recursive drop of `parent`: the last owner of a
        // deep chain of children must not overflow the stack.
        let mut next = self.parent.take();
        while let Some(parent) = next {
            next = match Arc::try_unwrap(parent) {
                Ok(mut parent) => parent.parent.take(),
                Err(_) => None, // still owned elsewhere
            };
        }
    }
}

impl Default for Node {
    fn default() -> Self {
        Node::new()
    }
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CancelToken")
            .field("cancelled", &self.is_cancelled())
            .finish_non_exhaustive()
    }
}
