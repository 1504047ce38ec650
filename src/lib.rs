//! # killable: threads you can stop
//!
//! "How do I stop a thread in Rust?" used to have one answer: you can't;
//! poll a flag by hand. With this crate you put `#[killable]` on the code the
//! thread runs, and any other thread can then [`terminate`] it, or
//! [`raise`] a typed value into it, or give it a deadline. The kill lands at
//! the next *checkpoint* the attribute inserted and unwinds the thread,
//! running every destructor on the way out.
//!
//! [`terminate`]: KillableThread::terminate
//! [`raise`]: KillableThread::raise
//!
//! ```
//! use killable::{killable, KillableThread};
//! use std::time::Duration;
//!
//! struct Cleanup;
//! impl Drop for Cleanup {
//!     fn drop(&mut self) { println!("outta here"); }
//! }
//!
//! #[killable]
//! fn work() {
//!     let _guard = Cleanup;
//!     loop {
//!         std::hint::black_box(0); // plain code: no flag, no polling
//!     }
//! }
//!
//! let t = KillableThread::spawn(work);
//! assert!(t.is_alive());
//! t.terminate();
//! assert!(t.join().unwrap_err().is_terminated()); // and "outta here" was printed
//! ```
//!
//! # The guide
//!
//! ## The attribute
//!
//! `#[killable]` goes on a fn, a method, an `impl` block or a `trait`. It
//! inserts [`checkpoint()`] calls:
//!
//! | where | so that |
//! | --- | --- |
//! | at fn entry, when the fn calls something (a *leaf* fn, with no call, has no entry check, nor has a fn whose every call is followed by a check) | loop-free recursion is killable: every recursive cycle contains a call |
//! | at the head of every loop body (`loop`, `while`, `while let`, `for`, labeled or not) | every iteration passes a check |
//! | after every statement that calls something | a long call that is not itself killable is caught as soon as it returns |
//! | at closure entry | iterator chains, whose loops run inside `std`, are killable |
//!
//! The promise these keep: once a kill is pending, the thread runs at most the
//! rest of one loop iteration (or one chunk of at most 1024 iterations of a
//! straight-line body), the rest of the one call it is in of code without
//! checkpoints, and a bounded amount of straight-line code, before it reaches a
//! checkpoint.
//!
//! `for` loops whose body is straight-line code are *strip-mined*: checked
//! once per chunk of 1024 iterations, so LLVM still vectorizes and unrolls
//! them. For a small function (names simplified: the real ones are
//! hygienic, and the `killable-macros` docs show an exact expansion):
//!
//! ```text
//! #[killable]                         fn sum(v: &[u64]) -> u64 {
//! fn sum(v: &[u64]) -> u64 {              let mut s = 0;
//!     let mut s = 0;                      match ::core::iter::IntoIterator::into_iter(v) {
//!     for x in v {                            iter => {
//!         s += x;                                 let mut src = /* iter, cut into chunks */;
//!     }                                           'chunks: loop {
//!     s                                               ::killable::__private::checkpoint();
//! }                                                   let mut seen: usize = 0;
//!                                                     for x in src.chunk() { // ≤ 1024 items
//!                                                         seen += 1;
//!                                                         s += x;
//!                                                     }
//!                                                     if !src.advance(seen) { break 'chunks; }
//!                                                 }
//!                                             }
//!                                         }
//!                                         s
//!                                     }
//! ```
//!
//! The chunks are cut according to the iterator's type: an integer range
//! (`0..n`, `a..=b`) in counted chunks whose start advances by exactly 1024,
//! the loop LLVM optimizes without the attribute; any other iterator with
//! `by_ref().take(1024)`. A body that indexes (`v[i]`) uses `take` for
//! ranges too, whose setup is cheaper for short bounds-checked loops.
//!
//! The checks are statements inserted between yours: no expression of yours
//! is moved or rebound, so return values, `?`, labels, `break` with a value,
//! temporaries' lifetimes and the spans of your own errors stay exactly as
//! written. The attribute refuses, with an error at the offending token,
//! what it cannot serve: items that are not fns, `const fn`, non-unwinding
//! ABIs such as `extern "C"` (use `extern "C-unwind"`), and `async fn` (drop
//! the future instead). The full rules, including which checks are left out
//! as redundant, are in the attribute's documentation: [`killable`](macro@killable).
//!
//! ## Where kills land, and what always runs
//!
//! A kill never lands at an arbitrary instruction, which is what made Java's
//! `Thread.stop` and .NET's `Thread.Abort` unusable. It lands only:
//!
//! * at a [`checkpoint()`] (inserted by the attribute, or written by hand),
//! * inside a killable blocking operation ([`sleep`], [`park`],
//!   [`sync::Condvar`], [`sync::mpsc`], [`KillableThread::join`],
//!   [`registry::join_all`], [`io::Killable`] reads, writes and accepts),
//!   which wakes at once,
//! * when an [`interruptible`] call returns.
//!
//! It then unwinds with [`std::panic::resume_unwind`]: every destructor
//! runs (your `finally`), mutexes held are poisoned as in any unwind, and no
//! "thread panicked" message is printed. A kill is never delivered inside a
//! [`shield`], while the thread is already unwinding (a checkpoint in a
//! destructor during an unwind does nothing, so no double panic can abort the
//! process; only a [`with_timeout`] opened in that destructor gets its own
//! expiry, which it catches itself), or while thread-locals are being
//! destroyed. On a thread that is
//! not killable, a checkpoint does nothing at all.
//!
//! Who is killable: threads spawned by [`KillableThread::spawn`],
//! [`Builder`] or [`scope`], and any thread for the duration of a
//! [`with_timeout`] scope (only by its own deadline) or of a
//! [`CancelToken::run`] (only by its token's cancellation).
//!
//! ## Raising typed values
//!
//! [`KillableThread::raise`] delivers any `Send + 'static` value, data
//! included; [`catch`] catches it by type (Rust's `try … except E`) and lets
//! the thread carry on; uncaught, it ends the thread and
//! [`JoinError::downcast_raised`] gives it back to the joiner. Raises queue:
//! several before delivery are delivered in order, one per checkpoint, up to
//! [`MAX_QUEUED_RAISES`] waiting at a time. A raise on a thread that has
//! finished, is being terminated or has a full queue hands the value back in
//! `Err`. A raise that was accepted (`Ok`) but is never delivered, because
//! the thread ended first (it returned, a `terminate` overtook it, or a panic
//! or an earlier uncaught raise ended it), is dropped on that thread as it exits, before its join returns. Each such drop is user code
//! run by the runtime: a panic in it is caught and counted
//! ([`registry::drop_panics`]), and never changes the thread's result nor
//! aborts the process; so is dropping the value inside a [`JoinError`]
//! (a [`Payload`]).
//!
//! ```
//! use killable::{catch, killable, KillableThread};
//! use std::sync::mpsc;
//!
//! #[derive(Debug)]
//! struct SkipJob { reason: &'static str }
//!
//! #[killable]
//! fn run_job(_job: u32) {
//!     loop { std::hint::spin_loop() } // some job that never ends on its own
//! }
//!
//! let (started, job_started) = mpsc::channel();
//! let t = KillableThread::spawn(move || {
//!     let mut skipped = Vec::new();
//!     for job in 0..2 {
//!         started.send(()).unwrap();
//!         if let Err(skip) = catch::<SkipJob, _, _>(|| run_job(job)) {
//!             skipped.push((job, skip.reason));
//!         }
//!     }
//!     skipped
//! });
//! for _ in 0..2 {
//!     job_started.recv().unwrap();
//!     t.raise(SkipJob { reason: "over budget" }).unwrap();
//! }
//! assert_eq!(t.join().unwrap(), [(0, "over budget"), (1, "over budget")]);
//! ```
//!
//! ## Terminating
//!
//! [`KillableThread::terminate`] is level-triggered: it stays pending and is
//! re-delivered at every checkpoint until the thread has exited, so code that
//! swallows unwinds (`catch_unwind` in a loop, the recipe's error-clearing
//! builtins) cannot keep the thread alive past its next checkpoint. It wins
//! over pending raises. [`registry::terminate_all`] and
//! [`registry::join_all`] shut a whole program down; [`Builder::deadline`]
//! terminates a thread at an instant.
//!
//! ## Shields
//!
//! [`shield`] runs a closure with delivery deferred; a kill arriving
//! meanwhile lands at the first checkpoint after it. Use it around updates
//! that must not be left half-done.
//!
//! ## Timeouts
//!
//! [`with_timeout`] (and [`with_deadline`]) run a closure with a deadline, on
//! any thread, the main thread included: `Ok` whenever the closure returns,
//! `Err(TimedOut)` when the deadline was delivered inside it. Scopes nest;
//! each catches only its own expiry. All deadlines share one timer thread.
//!
//! ```
//! use killable::{killable, with_timeout, TimedOut};
//! use std::time::Duration;
//!
//! #[killable]
//! fn find_nonce(prefix_zeros: u32) -> u64 {
//!     (1u64..).find(|n| n.wrapping_mul(0x9E37_79B9_7F4A_7C15).leading_zeros() >= prefix_zeros).unwrap()
//! }
//!
//! assert!(with_timeout(Duration::from_secs(10), || find_nonce(8)).is_ok());
//! assert_eq!(with_timeout(Duration::from_millis(20), || find_nonce(64)), Err(TimedOut));
//! ```
//!
//! ## Blocking calls
//!
//! A thread blocked in a call only reaches its next checkpoint when the call
//! returns. The killable blocking operations in [`sync`] (and [`sleep`],
//! [`park`], joins) wake at once on a kill instead. For any other blocking
//! call, [`interruptible`]`(op, on_kill)` runs `op` and, if a kill arrives
//! meanwhile, calls `on_kill` from the killer's side to unblock it (shut a
//! socket down, kill a child process), then delivers the kill when `op`
//! returns.
//!
//! ## Blocking I/O
//!
//! [`io::Killable`] wraps a socket, pipe or terminal so that its blocking
//! calls wake at once on a kill: `Read` and `Write` for `TcpStream`,
//! `UnixStream`, `ChildStdout`, `ChildStderr`, `ChildStdin`, pipes, FIFOs
//! and stdin; `accept` for `TcpListener` and `UnixListener`; `recv_from`
//! and `send_to` for `UdpSocket`. Unlike an [`interruptible`] hook that
//! shuts the socket down, it keeps the stream: a call woken by a kill has
//! read or written nothing, the fd stays open, and a thread that catches a
//! raise reads on and gets the next bytes. A call that did read or write
//! returns them; the kill then lands at the next checkpoint.
//!
//! ```
//! use std::io::{Read, Write};
//! use std::net::{TcpListener, TcpStream};
//! use killable::{catch, io::Killable, KillableThread};
//!
//! #[derive(Debug)]
//! struct Reload;
//!
//! let listener = TcpListener::bind("127.0.0.1:0")?;
//! let mut peer = TcpStream::connect(listener.local_addr()?)?;
//! let (conn, _) = listener.accept()?;
//! let (tx, blocked) = std::sync::mpsc::channel();
//! let reader = KillableThread::spawn(move || {
//!     let mut conn = Killable::new(conn);
//!     let mut buf = [0; 4];
//!     let mut reloads = 0;
//!     loop {
//!         tx.send(()).unwrap();
//!         match catch::<Reload, _, _>(|| conn.read(&mut buf)) {
//!             Err(Reload) => reloads += 1,     // woken: nothing read, read on
//!             Ok(n) => return (reloads, buf[..n.unwrap()].to_vec()),
//!         }
//!     }
//! });
//! blocked.recv().unwrap();
//! std::thread::sleep(std::time::Duration::from_millis(20));
//! reader.raise(Reload).unwrap();
//! blocked.recv().unwrap(); // reading again
//! peer.write_all(b"data")?;
//! assert_eq!(reader.join().unwrap(), (1, b"data".to_vec()));
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! A blocked call is a `poll` on the fd and on a wake fd of the thread (an
//! eventfd on Linux, a pipe elsewhere) that kills signal, followed by a
//! non-blocking attempt (`MSG_DONTWAIT`, `RWF_NOWAIT`); no helper thread,
//! no busy polling. A read on a socket that has data costs what std's does.
//! Regular files are always ready: their reads just run.
//!
//! One call is all-or-nothing; loops of calls are not. `read_exact`,
//! `write_all` and `BufReader::read_line` lose what their completed calls
//! did when a later call unwinds (`read_line` even truncates your string
//! back). To keep every byte, read into your own buffer with
//! `Killable::read` and record each result before the next call. Unix only:
//! on Windows `Killable::new` refuses to compile; use [`interruptible`]
//! there. The [`io`] module has the details, per type of fd.
//!
//! ## What cannot be interrupted, and what to do about it
//!
//! | code | why | what to do |
//! | --- | --- | --- |
//! | a function without the attribute (a dependency, `std`) | no checkpoints inside | the kill lands when it returns; for long ones, wrap in [`interruptible`] with a hook that makes it return |
//! | code inside macro invocations (`println!`, `vec!`, your `macro_rules!`) | the attribute sees only tokens | a check follows the macro call (std's assertions, `matches!` and `cfg!` count as their arguments); call [`checkpoint()`] inside long macro-generated loops |
//! | blocking std calls (`std::thread::sleep`, `Mutex::lock`, `std::sync::mpsc::Receiver::recv`, socket reads) | the OS does not know about kills | use [`sleep`], [`sync::Condvar`], [`sync::mpsc`], [`io::Killable`] for sockets and pipes, or [`interruptible`] |
//! | FFI | unwinding into C aborts | refused on `extern "C"` fns; an `extern "C-unwind"` callback may be killable |
//! | `async fn` | runs where the future is polled | drop the future (executor-side timeout or abort) |
//! | `panic = "abort"` builds | a kill is an unwind | kills are refused (below) |
//!
//! ## Cancelling work on thread pools
//!
//! A pool's worker threads (rayon's, tokio's blocking pool, your own) are
//! not killable threads: the pool owns them, and they run one job after
//! another for the life of the program. Killing *the thread* is the wrong
//! tool, for three reasons:
//!
//! * it is not yours to kill: a thread outlives the job you meant to stop,
//!   and a level-triggered [`terminate`](KillableThread::terminate) would go
//!   on unwinding every later, unrelated job that thread picks up, so the
//!   pool is poisoned (rayon reports each unwind as a panic of whatever
//!   `par_iter` the thread was helping with);
//! * it reaches only the jobs in flight: the jobs still queued run anyway;
//! * the runtime has no handle on those threads at all: no [`Killer`]
//!   exists for them, [`current()`] returns `None` there, and
//!   [`registry::terminate_all`] reaches only `KillableThread`s.
//!
//! Cancel *the work* instead, with a [`CancelToken`]. Run each job under
//! it with [`CancelToken::run`]; [`CancelToken::cancel`], from any thread,
//! unwinds every job running under the token at its next checkpoint (killable
//! waits wake at once), and every job that starts later returns
//! `Err(Cancelled)` without running, so the whole parallel operation ends
//! at once. The pool thread leaves `run` with nothing pending and goes on
//! with the next job; a job under another token, or under none, is
//! untouched.
//!
//! ```
//! use killable::{killable, CancelToken, Cancelled};
//! use std::time::Duration;
//!
//! #[killable]
//! fn process(item: u64) -> u64 {
//!     let mut x = item;
//!     loop {
//!         x = x.wrapping_mul(31).wrapping_add(7); // never ends on its own
//!     }
//! }
//!
//! let token = CancelToken::new();
//! let canceller = token.clone();
//! std::thread::spawn(move || {
//!     std::thread::sleep(Duration::from_millis(20));
//!     canceller.cancel();
//! });
//! // With rayon: `items.par_iter().map(|&i| token.run(|| process(i))).collect()`.
//! let results: Vec<Result<u64, Cancelled>> =
//!     (0..4).map(|i| token.run(|| process(i))).collect();
//! assert!(results.iter().all(|r| r.is_err()));
//! ```
//!
//! * **rayon.** `par_iter().map(|x| token.run(|| work(x)))`: one line, so
//!   there is no helper. The example `cancel_rayon` cancels 64 items of
//!   200 ms mid-item and reuses the pool.
//! * **tokio.** `spawn_blocking(move || token.run(work))`, with the token's
//!   [`drop_guard`](CancelToken::drop_guard) held by the async task that
//!   awaits it: when that task is dropped or aborted, or a
//!   `tokio::time::timeout` around it fires, the guard cancels the token and
//!   the blocking thread is free again within a checkpoint (the example
//!   `cancel_tokio`). No extra thread per task.
//! * **Tokens nest** like Trio's cancel scopes, with each other
//!   ([`CancelToken::child`]) and with [`with_timeout`]: each `run` catches
//!   only its own token's cancellation, an outer one unwinds through inner
//!   ones, and a `KillableThread`'s terminate and raise pass through
//!   untouched. [`shield`]s defer a cancellation like any kill.
//! * **Deadlines** work the same way: open the [`with_timeout`] scope
//!   *inside* each job, not around `par_iter()` or `install`, which covers
//!   only the calling thread (`tests-integration/tests/rayon.rs` checks
//!   both).
//!
//! One caution: a job that itself calls `rayon::join`, `scope` or a nested
//! parallel iterator may run stolen, unrelated jobs while inside the `run`
//! (or scope), and a cancellation would unwind those too; keep `run` and
//! `with_timeout` around leaf work.
//!
//! ## My thread does not die
//!
//! `raise` returned `Ok`, `terminate` was called, and `join` never returns.
//! A kill lands only at a checkpoint, so the thread is running code that has
//! none: a helper you forgot to mark `#[killable]`, a blocking call that is
//! not killable (a std lock, a socket read: see [Blocking
//! calls](#blocking-calls)), FFI, or a long [`shield`].
//!
//! 1. **Ask which threads ignore their kill.** [`registry::stalled(min)`](registry::stalled)
//!    lists the threads that have had a kill pending for at least `min`,
//!    longest first; [`ThreadInfo::pending_for`](registry::ThreadInfo::pending_for)
//!    says for how long. A thread that answers its kills shows microseconds.
//! 2. **Ask where it is.** With the cargo feature `diagnostics`, each
//!    listed thread also gives the `file:line` of the last checkpoint it
//!    passed (`ThreadInfo::last_checkpoint`): the code after that line, up
//!    to the next checkpoint, is where it is stuck; most often a call into a
//!    function without the attribute. It costs a clock read per checkpoint
//!    on killable threads (`cargo bench --bench perf -- checkpoint` shows
//!    how much), so it is off by default.
//! 3. **Or be told.** With the cargo feature `tracing`, a `WARN` event
//!    (target `killable`, message `kill pending: the thread passes no
//!    checkpoint`) names each thread whose kill has waited longer than 1 s,
//!    once per kill, with `pending_for` and, under `diagnostics`, the
//!    `last_checkpoint`. `registry::warn_stalled_after(Some(d))` sets the
//!    threshold; `None` turns it off. The events come from a watcher thread
//!    woken by the killers; checkpoints do no extra work for them.
//!
//! ```
//! use killable::{killable, registry, KillableThread};
//! use std::sync::atomic::{AtomicBool, Ordering};
//! use std::sync::{mpsc, Arc};
//! use std::time::Duration;
//!
//! fn poll_device(stop: &AtomicBool, inside: mpsc::Sender<()>) {
//!     inside.send(()).unwrap();
//!     // The forgotten `#[killable]`: no checkpoint in this loop.
//!     while !stop.load(Ordering::Relaxed) {
//!         std::thread::sleep(Duration::from_millis(1));
//!     }
//! }
//!
//! #[killable]
//! fn driver(stop: Arc<AtomicBool>, inside: mpsc::Sender<()>) {
//!     poll_device(&stop, inside);
//! }
//!
//! let stop = Arc::new(AtomicBool::new(false));
//! let (inside, wait_inside) = mpsc::channel();
//! let s = stop.clone();
//! let t = KillableThread::spawn(move || driver(s, inside));
//! wait_inside.recv().unwrap();
//! t.terminate();
//! std::thread::sleep(Duration::from_millis(100));
//! let stuck = registry::stalled(Duration::from_millis(100));
//! assert!(stuck.iter().any(|i| i.id() == t.id()));
//! println!("{:?}", stuck[0]); // ThreadInfo { .., pending_for: Some(100.2ms), .. }
//! # stop.store(true, Ordering::Relaxed);
//! # let _ = t.join();
//! ```
//!
//! The fix is the attribute on `poll_device` (or, for a blocking call,
//! [`interruptible`] or a killable wait). [`registry::threads`] lists every
//! live killable thread with its [`RunState`](registry::RunState), to look
//! beyond the stalled ones. The `tracing` feature also emits `DEBUG` events
//! on raise, delivery and exit.
//!
//! ## Compared with the alternatives
//!
//! * **A hand-polled flag** (`AtomicBool` checked in your loops): correct,
//!   but every loop, in every function on the path, must remember to check
//!   it and to return early through every caller, and a blocked call still
//!   ignores it. `#[killable]` inserts the checks for you, unwinding does the
//!   early return through every frame with destructors, and killable waits
//!   wake on it.
//! * **tokio's `CancellationToken`**: the right tool for async code, where
//!   dropping a future cancels it at its next `.await`. It does nothing for
//!   synchronous code on a thread, which is what this crate is for.
//! * **The 2006 Python recipe** (`PyThreadState_SetAsyncExc`): same idea;
//!   this crate fixes its known issues: blocked calls wake, the kill cannot
//!   be swallowed, values (not just types) can be raised, shields mask,
//!   deadlines exist.
//!
//! ## Guarantees
//!
//! What is promised (where kills land, what always runs, what is never lost),
//! the test that checks each promise, and what is not promised: see
//! [`guarantees`].
//!
//! ## `panic = "abort"`
//!
//! A kill is an unwind, and in a `panic = "abort"` build an unwind aborts the
//! process. So there, kills are refused instead ([`KILLS_SUPPORTED`] is
//! false): `raise` hands every value back, `terminate` does nothing, and
//! deadlines never fire. Killable code runs to completion, exactly as it
//! would without this crate.
#![deny(missing_docs)]

pub use killable_core::*;
pub use killable_macros::killable;

#[doc = include_str!("../docs/GUARANTEES.md")]
pub mod guarantees {}

/// Paths used by the code `#[killable]` generates. Not public API: no
/// semver guarantees.
#[doc(hidden)]
pub mod __private {
    pub use killable_core::checkpoint;
    // `chunked!(source)`: the iterator-chain source wrapper (killable-core's
    // `chunked` module).
    pub use killable_core::__killable_chunked as chunked;
    // The chunks of strip-mined `for` loops (killable-core's `strip` module),
    // and `strip!(iter)`, which chooses them (the same name, a macro).
    pub use killable_core::__killable_strip as strip;
    pub use killable_core::strip;

    /// Test support: deterministic kill points (see `tests/killpoint.rs`).
    pub mod testing {
        pub use killable_core::__testing::*;
    }
}
