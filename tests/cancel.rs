//! Cancel tokens on plain threads and killable threads: what `run` returns,
//! who it reaches, how it nests with other tokens, `with_timeout`, shields
//! and a `KillableThread`'s own kills, and that a thread leaves it with
//! nothing pending. The rayon and tokio scenarios are in `cancel_rayon.rs`
//! and `cancel_tokio.rs`.
//!
//! Bounds are generous (10 s for "at once") for a noisy shared 2-core
//! machine.

mod support;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc, Barrier};
use std::time::{Duration, Instant};

use killable::{
    catch, checkpoint, interruptible, killable, shield, with_timeout, CancelToken, Cancelled,
    KillableThread, TimedOut,
};

const HOUR: Duration = Duration::from_secs(3600);
use support::BOUND;

#[killable]
fn spin_forever() -> ! {
    loop {
        std::hint::black_box(0);
    }
}

/// Spins through checkpoints for `d`; returns how many rounds it made.
#[killable]
fn spin_for(d: Duration) -> u64 {
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < d {
        n += 1;
    }
    n
}

/// Sets its flag when dropped: shows a destructor ran during the unwind.
struct SetOnDrop(Arc<AtomicBool>);
impl Drop for SetOnDrop {
    fn drop(&mut self) {
        self.0.store(true, SeqCst);
    }
}

/// Runs `f` on `thread` after `token` is cancelled from here, once `f` is
/// inside `run` (signalled through the channel).
fn cancel_once_started<R: Send + 'static>(
    token: &CancelToken,
    f: impl FnOnce(mpsc::Sender<()>) -> R + Send + 'static,
) -> R {
    let (tx, rx) = mpsc::channel();
    let worker = std::thread::spawn(move || f(tx));
    rx.recv_timeout(BOUND).expect("the worker started");
    token.cancel();
    worker.join().unwrap()
}

#[test]
fn the_token_is_clone_send_sync_debug_default_and_cancelled_an_error() {
    fn traits<T: Clone + Send + Sync + std::fmt::Debug + Default + 'static>() {}
    fn error<E: std::error::Error + Send + Sync + 'static>() {}
    traits::<CancelToken>();
    error::<Cancelled>();
    let token = CancelToken::default();
    assert_eq!(format!("{token:?}"), "CancelToken { cancelled: false, .. }");
    token.clone().cancel();
    assert_eq!(format!("{token:?}"), "CancelToken { cancelled: true, .. }");
    assert_eq!(Cancelled.to_string(), "cancelled");
}

#[test]
fn run_returns_ok_when_f_returns() {
    let token = CancelToken::new();
    assert_eq!(
        token.run(|| spin_for(Duration::from_millis(1)) > 0),
        Ok(true)
    );
    assert_eq!(token.run(|| "again"), Ok("again"));
    assert!(!token.is_cancelled());
}

#[test]
fn cancel_unwinds_a_plain_thread_mid_loop_running_destructors() {
    let token = CancelToken::new();
    let dropped = Arc::new(AtomicBool::new(false));
    let (t, d) = (token.clone(), dropped.clone());
    let r = cancel_once_started(&token, move |started| {
        t.run(|| {
            let _guard = SetOnDrop(d);
            started.send(()).unwrap();
            spin_forever()
        })
    });
    assert_eq!(r, Err(Cancelled));
    assert!(dropped.load(SeqCst));
}

#[test]
fn run_entered_after_cancel_returns_err_without_calling_f() {
    let token = CancelToken::new();
    token.cancel();
    let called = AtomicBool::new(false);
    assert_eq!(token.run(|| called.store(true, SeqCst)), Err(Cancelled));
    assert!(!called.load(SeqCst));
    // A child made after the cancellation starts cancelled, and so does its run.
    assert_eq!(
        token.child().run(|| called.store(true, SeqCst)),
        Err(Cancelled)
    );
    assert!(!called.load(SeqCst));
}

#[test]
fn cancel_from_inside_run_lands_at_the_next_checkpoint() {
    let token = CancelToken::new();
    let after = AtomicBool::new(false);
    let r = token.run(|| {
        token.cancel();
        checkpoint();
        after.store(true, SeqCst);
    });
    assert_eq!(r, Err(Cancelled));
    assert!(!after.load(SeqCst));
}

#[test]
fn cancel_reaches_every_thread_inside_run_for_the_token_or_a_descendant() {
    const N: usize = 4;
    let token = CancelToken::new();
    let started = Arc::new(Barrier::new(N + 1));
    let workers: Vec<_> = (0..N)
        .map(|i| {
            // Half run under the token itself, half under a grandchild.
            let t = if i % 2 == 0 {
                token.clone()
            } else {
                token.child().child()
            };
            let started = started.clone();
            std::thread::spawn(move || {
                t.run(|| {
                    started.wait();
                    spin_forever()
                })
            })
        })
        .collect();
    started.wait();
    let at = Instant::now();
    token.cancel();
    for w in workers {
        assert_eq!(w.join().unwrap(), Err(Cancelled));
    }
    assert!(at.elapsed() < BOUND);
}

#[test]
fn a_child_cancels_alone_and_a_parent_cancel_reaches_it() {
    let parent = CancelToken::new();
    let child = parent.child();
    child.cancel();
    assert!(child.is_cancelled());
    assert!(!parent.is_cancelled());
    assert_eq!(parent.run(|| 1), Ok(1));

    let child = parent.child();
    let c = child.clone();
    let r = cancel_once_started(&parent, move |started| {
        c.run(|| {
            started.send(()).unwrap();
            spin_forever()
        })
    });
    assert_eq!(r, Err(Cancelled));
    assert!(child.is_cancelled());
}

#[test]
fn dropped_children_are_forgotten_by_their_parent() {
    // Many short-lived children of one long-lived parent: the parent must
    // not keep them (or grow without bound); then a cancel still reaches the
    // live one.
    let parent = CancelToken::new();
    for _ in 0..100_000 {
        drop(parent.child());
    }
    let live = parent.child();
    parent.cancel();
    assert!(live.is_cancelled());
}

#[test]
fn a_deep_chain_of_children_is_cancelled_without_recursion() {
    let root = CancelToken::new();
    let mut leaf = root.clone();
    for _ in 0..200_000 {
        leaf = leaf.child(); // only the leaf is kept: it owns the chain
    }
    root.cancel();
    assert!(leaf.is_cancelled());
    drop(root);
    drop(leaf); // dropping the chain does not recurse either
}

#[test]
fn cancel_wakes_killable_waits_at_once() {
    let token = CancelToken::new();
    let t = token.clone();
    let at = Instant::now();
    let r = cancel_once_started(&token, move |started| {
        t.run(|| {
            started.send(()).unwrap();
            killable::sleep(HOUR);
        })
    });
    assert_eq!(r, Err(Cancelled));
    assert!(at.elapsed() < BOUND);

    // A killable channel receive.
    let token = CancelToken::new();
    let t = token.clone();
    let r = cancel_once_started(&token, move |started| {
        let (_keep, rx) = killable::sync::mpsc::channel::<()>();
        t.run(|| {
            started.send(()).unwrap();
            rx.recv()
        })
    });
    assert_eq!(r, Err(Cancelled));
}

#[cfg(unix)]
#[test]
fn cancel_wakes_a_killable_socket_read_consuming_nothing() {
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server, _) = listener.accept().unwrap();
    let stream = Arc::new(killable::io::Killable::new(server));
    let token = CancelToken::new();
    let (t, s) = (token.clone(), stream.clone());
    let r = cancel_once_started(&token, move |started| {
        t.run(|| {
            started.send(()).unwrap();
            let mut buf = [0u8; 8];
            (&*s).read(&mut buf) // nobody writes: blocks until the cancel
        })
    });
    assert!(matches!(r, Err(Cancelled)), "{r:?}");
    // The socket is still usable, and nothing was consumed.
    client.write_all(b"hi").unwrap();
    let mut buf = [0u8; 2];
    (&*stream).read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"hi");
}

#[test]
fn cancel_calls_the_interrupt_hook_of_a_blocked_call() {
    let token = CancelToken::new();
    let t = token.clone();
    let r = cancel_once_started(&token, move |started| {
        let (unblock, blocked) = std::sync::mpsc::channel::<()>();
        let unblock = std::sync::Mutex::new(unblock);
        t.run(|| {
            interruptible(
                || {
                    started.send(()).unwrap();
                    // A std receive: only the hook can end it.
                    let _ = blocked.recv_timeout(HOUR);
                },
                move || {
                    let _ = unblock.lock().unwrap().send(());
                },
            )
        })
    });
    assert_eq!(r, Err(Cancelled));
}

#[test]
fn nested_tokens_each_catch_only_their_own_cancel() {
    // Inner cancelled: the inner run catches it, the outer goes on.
    let (outer, inner) = (CancelToken::new(), CancelToken::new());
    let r = outer.run(|| {
        let r = inner.run(|| {
            inner.cancel();
            spin_forever()
        });
        (r, spin_for(Duration::from_millis(1)) > 0)
    });
    assert_eq!(r, Ok((Err(Cancelled), true)));

    // Outer cancelled: it unwinds through the inner run, which passes it on.
    let (outer, inner) = (CancelToken::new(), CancelToken::new());
    let after_inner = AtomicBool::new(false);
    let r = outer.run(|| {
        let r = inner.run(|| {
            outer.cancel();
            spin_forever()
        });
        after_inner.store(true, SeqCst);
        r
    });
    assert_eq!(r, Err(Cancelled));
    assert!(!after_inner.load(SeqCst));
    assert!(!inner.is_cancelled());

    // Both cancelled: the outermost wins.
    let (outer, inner) = (CancelToken::new(), CancelToken::new());
    let r = outer.run(|| {
        inner.run(|| {
            inner.cancel();
            outer.cancel();
            spin_forever()
        })
    });
    assert_eq!(r, Err(Cancelled));

    // The same token nested in itself: the outer run is the outermost.
    let token = CancelToken::new();
    let after_inner = AtomicBool::new(false);
    let r = token.run(|| {
        let r = token.run(|| {
            token.cancel();
            spin_forever()
        });
        after_inner.store(true, SeqCst);
        r
    });
    assert_eq!(r, Err(Cancelled));
    assert!(!after_inner.load(SeqCst));
}

#[test]
fn run_and_with_timeout_nest_both_ways() {
    // A deadline inside a run: the scope catches its own expiry.
    let token = CancelToken::new();
    let r = token.run(|| with_timeout(Duration::from_millis(10), || spin_forever()));
    assert_eq!(r, Ok(Err(TimedOut)));

    // A cancel inside a scope: the run catches it, the scope returns Ok.
    let token = CancelToken::new();
    let r = with_timeout(HOUR, || {
        token.run(|| {
            token.cancel();
            spin_forever()
        })
    });
    assert_eq!(r, Ok(Err(Cancelled)));

    // A cancel of an outer run passes through an inner scope.
    let token = CancelToken::new();
    let r = token.run(|| {
        with_timeout(HOUR, || {
            token.cancel();
            spin_forever()
        })
    });
    assert_eq!(r, Err(Cancelled));

    // An expiry of an outer scope passes through an inner run.
    let token = CancelToken::new();
    let r = with_timeout(Duration::from_millis(10), || token.run(|| spin_forever()));
    assert_eq!(r, Err(TimedOut));
    assert!(!token.is_cancelled());
}

#[test]
fn a_shield_defers_the_cancel_to_its_end() {
    let token = CancelToken::new();
    let finished_shielded = AtomicBool::new(false);
    let after = AtomicBool::new(false);
    let r = token.run(|| {
        shield(|| {
            token.cancel();
            spin_for(Duration::from_millis(5)); // checkpoints, none delivers
            finished_shielded.store(true, SeqCst);
        });
        checkpoint();
        after.store(true, SeqCst);
    });
    assert_eq!(r, Err(Cancelled));
    assert!(finished_shielded.load(SeqCst));
    assert!(!after.load(SeqCst));
}

#[test]
fn a_swallowed_cancel_is_delivered_again() {
    // Like a deadline, a cancel stays pending until its run exits: code that
    // swallows the unwind meets it again at its next checkpoint.
    let token = CancelToken::new();
    let swallowed = AtomicUsize::new(0);
    let r = token.run(|| {
        token.cancel();
        for _ in 0..3 {
            if catch_unwind(AssertUnwindSafe(|| spin_forever())).is_err() {
                swallowed.fetch_add(1, SeqCst);
            }
        }
        checkpoint();
    });
    assert_eq!(r, Err(Cancelled));
    assert_eq!(swallowed.load(SeqCst), 3);
}

#[test]
fn terminate_and_raise_pass_through_run_on_a_killable_thread() {
    let token = CancelToken::new();
    let t = token.clone();
    let started = Arc::new(Barrier::new(2));
    let s = started.clone();
    let th = KillableThread::spawn(move || {
        let _ = t.run(|| {
            s.wait();
            spin_forever()
        });
        unreachable!("terminate passed through run")
    });
    started.wait();
    th.terminate();
    assert!(th.join().unwrap_err().is_terminated());

    #[derive(Debug, PartialEq)]
    struct Stop(u32);
    let t = token.clone();
    let s = started.clone();
    let th = KillableThread::spawn(move || {
        let caught = catch::<Stop, _, _>(|| {
            let _ = t.run(|| {
                s.wait();
                spin_forever()
            });
            unreachable!("the raise passed through run")
        });
        // The thread goes on, killable by the token again.
        (caught.unwrap_err(), t.run(|| 5))
    });
    started.wait();
    th.raise(Stop(7)).unwrap();
    assert_eq!(th.join().unwrap(), (Stop(7), Ok(5)));
    assert!(!token.is_cancelled());
}

#[test]
fn a_cancel_on_a_killable_thread_is_caught_by_run_and_the_thread_lives_on() {
    let token = CancelToken::new();
    let t = token.clone();
    let th = KillableThread::spawn(move || {
        let r = t.run(|| {
            t.cancel();
            spin_forever()
        });
        // Nothing is left pending: checkpoints go on without unwinding.
        (r, spin_for(Duration::from_millis(5)) > 0)
    });
    assert_eq!(th.join().unwrap(), (Err(Cancelled), true));
}

#[test]
fn a_thread_leaves_run_with_nothing_pending() {
    // After a cancelled run, the same plain thread runs unrelated killable
    // work to completion, and a fresh token's run returns Ok: no leftover
    // kill unwinds it, and it is not killable outside run.
    std::thread::spawn(|| {
        let token = CancelToken::new();
        assert_eq!(
            token.run(|| {
                token.cancel();
                spin_forever()
            }),
            Err(Cancelled)
        );
        assert!(spin_for(Duration::from_millis(5)) > 0);
        assert!(killable::current().is_none());
        assert_eq!(
            CancelToken::new().run(|| spin_for(Duration::from_millis(5)) > 0),
            Ok(true)
        );
        // A cancel after the run has left reaches nothing.
        let late = CancelToken::new();
        assert_eq!(late.run(|| 1), Ok(1));
        late.cancel();
        assert!(spin_for(Duration::from_millis(5)) > 0);
    })
    .join()
    .unwrap();
}

#[test]
fn runs_and_cancels_racing_leave_every_thread_clean() {
    // Threads enter and leave runs of fresh tokens while another thread
    // cancels them at random moments; every run ends with Ok or
    // Err(Cancelled), and afterwards no thread has anything pending.
    const THREADS: usize = 3;
    const ROUNDS: usize = 300;
    let (tx, rx) = mpsc::channel::<CancelToken>();
    let canceller = std::thread::spawn(move || {
        for token in rx {
            std::thread::yield_now();
            token.cancel();
        }
    });
    let workers: Vec<_> = (0..THREADS)
        .map(|_| {
            let tx = tx.clone();
            std::thread::spawn(move || {
                let mut cancelled = 0;
                for _ in 0..ROUNDS {
                    let token = CancelToken::new();
                    tx.send(token.clone()).unwrap();
                    if token.run(|| spin_for(Duration::from_micros(50))).is_err() {
                        cancelled += 1;
                    }
                }
                // Clean: unrelated killable work is not unwound.
                assert!(spin_for(Duration::from_millis(2)) > 0);
                cancelled
            })
        })
        .collect();
    drop(tx);
    for w in workers {
        w.join().unwrap();
    }
    canceller.join().unwrap();
}

#[test]
fn a_drop_guard_cancels_on_every_exit_path() {
    // Dropped by its owner: the work under the token stops.
    let token = CancelToken::new();
    let guard = token.clone().drop_guard();
    let (tx, rx) = mpsc::channel();
    let t = token.clone();
    let worker = std::thread::spawn(move || {
        t.run(|| {
            tx.send(()).unwrap();
            spin_forever()
        })
    });
    rx.recv_timeout(BOUND).unwrap();
    drop(guard);
    assert_eq!(worker.join().unwrap(), Err(Cancelled));

    // Dropped by an unwind.
    let token = CancelToken::new();
    let guard = token.clone().drop_guard();
    let _ = catch_unwind(AssertUnwindSafe(move || {
        let _guard = guard;
        panic!("the owner failed");
    }));
    assert!(token.is_cancelled());
}

#[test]
fn current_is_a_killer_on_killable_threads_only() {
    assert!(killable::current().is_none());
    assert_eq!(
        with_timeout(HOUR, || killable::current().is_none()),
        Ok(true)
    );
    let token = CancelToken::new();
    assert_eq!(token.run(|| killable::current().is_none()), Ok(true));

    let (tx, rx) = mpsc::channel();
    let t = KillableThread::spawn(move || {
        let me = killable::current().expect("a killable thread");
        tx.send(me).unwrap();
        spin_forever()
    });
    let killer = rx.recv_timeout(BOUND).unwrap();
    assert_eq!(killer.id(), t.id());
    killer.terminate();
    assert!(t.join().unwrap_err().is_terminated());

    let inside_scope = killable::scope(|s| {
        s.spawn(|| killable::current().map(|k| k.id()))
            .join()
            .unwrap()
    });
    assert!(inside_scope.is_some());
}

#[test]
fn a_panicking_interrupt_hook_skips_no_cancellation() {
    // Two threads blocked in `interruptible` under one token; each hook
    // unblocks its call, then panics. Both runs are cancelled, whichever
    // hook runs first, and one panic reaches the canceller.
    let token = CancelToken::new();
    let started = Arc::new(Barrier::new(3));
    let (done, results) = mpsc::channel();
    for _ in 0..2 {
        let (t, started, done) = (token.clone(), started.clone(), done.clone());
        std::thread::spawn(move || {
            let (unblock, blocked) = std::sync::mpsc::channel::<()>();
            let unblock = std::sync::Mutex::new(unblock);
            let r = t.run(|| {
                interruptible(
                    || {
                        started.wait();
                        let _ = blocked.recv_timeout(HOUR);
                    },
                    move || {
                        let _ = unblock.lock().unwrap().send(());
                        panic!("hook failed");
                    },
                )
            });
            done.send(r).unwrap();
        });
    }
    started.wait();
    let r = catch_unwind(AssertUnwindSafe(|| token.cancel()));
    assert_eq!(*r.unwrap_err().downcast::<&str>().unwrap(), "hook failed");
    for _ in 0..2 {
        // Bounded: a run the cancel skipped would block for an hour.
        let r = results
            .recv_timeout(BOUND)
            .expect("every run was cancelled");
        assert_eq!(r, Err(Cancelled));
    }
}

#[test]
fn a_run_entered_in_a_destructor_during_an_unwind_gets_its_own_cancel() {
    // As for `with_timeout`: its own cancellation unwinds its body back to
    // it, never into the outer unwind, which goes on unchanged.
    struct RunInDrop(
        CancelToken,
        Arc<std::sync::Mutex<Option<Result<(), Cancelled>>>>,
    );
    impl Drop for RunInDrop {
        fn drop(&mut self) {
            let r = self.0.run(|| {
                self.0.cancel();
                spin_for(BOUND) // Ok after 10 s if the cancel never landed
            });
            *self.1.lock().unwrap() = Some(r.map(drop));
        }
    }
    let seen = Arc::new(std::sync::Mutex::new(None));
    let s = seen.clone();
    let outer = catch_unwind(AssertUnwindSafe(move || {
        let _d = RunInDrop(CancelToken::new(), s);
        std::panic::resume_unwind(Box::new("outer"));
    }));
    assert_eq!(*outer.unwrap_err().downcast::<&str>().unwrap(), "outer");
    assert_eq!(*seen.lock().unwrap(), Some(Err(Cancelled)));
}

/// `run` starts with a checkpoint: a loop that does nothing but call `run`
/// on a cancelled token (each returns at once, without calling `f`) stays
/// killable.
#[test]
fn a_loop_of_runs_on_a_cancelled_token_stays_terminable() {
    let token = CancelToken::new();
    token.cancel();
    let t = KillableThread::spawn(move || loop {
        let r = token.run(|| ());
        assert_eq!(r, Err(Cancelled));
    });
    std::thread::sleep(Duration::from_millis(20));
    t.terminate();
    let r = t
        .join_timeout(Duration::from_secs(10))
        .unwrap_or_else(|_| panic!("never ended"));
    assert!(r.unwrap_err().is_terminated());
}
