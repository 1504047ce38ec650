//! `tracing` events (cargo feature `tracing`): raises, terminations,
//! deliveries and thread exits, at `DEBUG` level under the target
//! `killable`. Without the feature every function here is an empty inline
//! function.
//!
//! | event message | emitted on | fields |
//! | --- | --- | --- |
//! | `raise` | the raiser's thread | `thread` (id), `name`, `type` (the raised type), `accepted` |
//! | `terminate` | the caller's thread | `thread`, `name`, `reached` (false if it had already finished) |
//! | `terminate_all` | the caller's thread | `reached` (how many threads) |
//! | `kill delivered` | the killed thread, as it starts unwinding | `kind` (`terminate`, `deadline` or `raise`) |
//! | `thread exit` | the killable thread, after its body ended | `outcome` (`returned`, `terminated`, `raised` or `panicked`) |
//! | `drop panicked` | the thread that dropped a raised value or panic payload whose `Drop` panicked (the panic was caught) | |
//!
//! A `WARN` event, `kill pending: the thread passes no checkpoint`, names a
//! thread that left a kill pending past a threshold: see
//! [`warn_stalled_after`](crate::registry::warn_stalled_after). Whoever
//! sends a kill tells its watcher (`stall::kick`), not this module.
//!
//! The events go to whatever subscriber the application installed; the
//! killed thread's own events carry its span context, so they nest under the
//! spans it had entered.

/// The events, with the `tracing` feature.
#[cfg(feature = "tracing")]
mod events {
    use std::thread::Thread;

    use crate::entry::Entry;
    use crate::state::Kill;

    fn id(entry: &Entry) -> Option<std::thread::ThreadId> {
        entry.thread.get().map(Thread::id)
    }

    pub(crate) fn raise(entry: &Entry, ty: &'static str, accepted: bool) {
        tracing::debug!(
            target: "killable",
            thread = ?id(entry),
            name = entry.name.as_deref(),
            r#type = ty,
            accepted,
            "raise"
        );
    }

    pub(crate) fn terminate(entry: &Entry, reached: bool) {
        tracing::debug!(
            target: "killable",
            thread = ?id(entry),
            name = entry.name.as_deref(),
            reached,
            "terminate"
        );
    }

    pub(crate) fn terminate_all(reached: usize) {
        tracing::debug!(target: "killable", reached, "terminate_all");
    }

    pub(crate) fn deliver(kill: &Kill) {
        let kind = match kill {
            Kill::Terminate => "terminate",
            Kill::Deadline(_) => "deadline",
            Kill::Raise(_) => "raise",
        };
        tracing::debug!(target: "killable", kind, "kill delivered");
    }

    /// `outcome`: `returned`, `terminated`, `raised` or `panicked`.
    pub(crate) fn exit(outcome: &'static str) {
        tracing::debug!(target: "killable", outcome, "thread exit");
    }

    pub(crate) fn drop_panicked() {
        tracing::debug!(target: "killable", "drop panicked");
    }
}

/// The same functions, empty, without the feature.
#[cfg(not(feature = "tracing"))]
#[allow(clippy::inline_always)]
mod no_events {
    use crate::entry::Entry;
    use crate::state::Kill;

    #[inline(always)]
    pub(crate) fn raise(_: &Entry, _: &'static str, _: bool) {}
    #[inline(always)]
    pub(crate) fn terminate(_: &Entry, _: bool) {}
    #[inline(always)]
    pub(crate) fn terminate_all(_: usize) {}
    #[inline(always)]
    pub(crate) fn deliver(_: &Kill) {}
    #[inline(always)]
    pub(crate) fn exit(_: &'static str) {}
    #[inline(always)]
    pub(crate) fn drop_panicked() {}
}

#[cfg(feature = "tracing")]
pub(crate) use events::*;
#[cfg(not(feature = "tracing"))]
pub(crate) use no_events::*;
