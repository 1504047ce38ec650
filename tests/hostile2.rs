//! A second hostile user: attacks on the growing deadline-hook pool, cancel
//! tokens, killable I/O, raised values with hostile `Drop`s, and scopes
//! killed at random moments. Each case runs in a child process (an abort
//! fails it instead of ending the suite) under a watchdog (a hang fails it
//! instead of stalling the suite), and checks that the registry is empty at
//! its end.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::panic::panic_any;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

mod support;

use killable::{
    catch, checkpoint, interruptible, io::Killable, registry, scope, shield, with_timeout,
    CancelToken, Cancelled, KillableThread, TimedOut,
};

use support::BOUND;

/// `support::isolated` with this file's bounds.
fn isolated(name: &str, body: impl FnOnce()) {
    support::isolated(name, BOUND, 6 * BOUND, body);
}

fn join_in_time<T>(t: KillableThread<T>) -> Result<T, killable::JoinError> {
    support::join_within(t, BOUND)
}

fn spin() -> ! {
    loop {
        checkpoint();
        std::hint::spin_loop();
    }
}

/// A small xorshift, seeded from the clock and printed, for random delays.
struct Rng(u64);
impl Rng {
    fn new(label: &str) -> Rng {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64
            | 1;
        eprintln!("{label}: seed {seed}");
        Rng(seed)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
    fn micros(&mut self, max: u64) -> Duration {
        Duration::from_micros(self.below(max))
    }
}

/// Blocks in `interruptible` until its hook runs; the hook runs `then`
/// first, then unblocks the operation.
fn blocked_with_hook(then: impl Fn() + Send + Sync + 'static) {
    let (tx, rx) = mpsc::channel::<()>();
    let tx = Mutex::new(tx);
    interruptible(
        move || {
            let _ = rx.recv();
        },
        move || {
            then();
            let _ = tx.lock().unwrap().send(());
        },
    );
}

/// A panic payload whose own `Drop` panics.
struct PanicsOnDrop;
impl Drop for PanicsOnDrop {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            panic!("the payload's drop panics too");
        }
    }
}

// ---------------------------------------------------------------------------
// The deadline-hook pool.

/// `n` plain threads, each blocked under a `with_timeout(timeout)` whose
/// expiry runs a hook that waits until all `n` hooks run at once; every
/// scope must time out.
fn hooks_meeting_at_a_barrier(n: usize, timeout: Duration) {
    let barrier = Arc::new(Barrier::new(n));
    let threads: Vec<_> = (0..n)
        .map(|_| {
            let b = barrier.clone();
            std::thread::spawn(move || {
                with_timeout(timeout, || {
                    blocked_with_hook(move || {
                        b.wait();
                    })
                })
            })
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap(), Err(TimedOut));
    }
}

/// Many deadline hooks that each block until all of them have started: only
/// a pool with as many runners as blocked hooks lets them all finish.
#[test]
fn many_deadline_hooks_blocking_on_each_other_all_run() {
    isolated("many_deadline_hooks_blocking_on_each_other_all_run", || {
        const N: usize = 24;
        for round in 0..2 {
            let barrier = Arc::new(Barrier::new(N));
            let threads: Vec<_> = (0..N)
                .map(|_| {
                    let b = barrier.clone();
                    killable::Builder::new()
                        .deadline(Instant::now() + Duration::from_millis(30))
                        .spawn(move || {
                            blocked_with_hook(move || {
                                b.wait();
                            });
                            spin()
                        })
                        .unwrap()
                })
                .collect();
            for t in threads {
                assert!(
                    join_in_time(t).unwrap_err().is_terminated(),
                    "round {round}"
                );
            }
        }
    });
}

/// The same with `with_timeout` scopes on plain threads, whose hooks block
/// on each other.
#[test]
fn many_with_timeout_hooks_blocking_on_each_other_all_run() {
    isolated(
        "many_with_timeout_hooks_blocking_on_each_other_all_run",
        || {
            const N: usize = 24;
            hooks_meeting_at_a_barrier(N, Duration::from_millis(30));
        },
    );
}

/// A deadline hook that blocks (until the end of the test): meanwhile other
/// deadlines still fire, other deadline hooks still run, `terminate_all`
/// and joins of other threads still work.
#[test]
fn a_blocked_deadline_hook_stops_nothing_else() {
    isolated("a_blocked_deadline_hook_stops_nothing_else", || {
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let release_rx = Mutex::new(release_rx);
        let (hooked_tx, hooked) = mpsc::channel::<()>();
        let hooked_tx = Mutex::new(hooked_tx);
        let stuck = killable::Builder::new()
            .deadline(Instant::now() + Duration::from_millis(10))
            .spawn(move || {
                blocked_with_hook(move || {
                    hooked_tx.lock().unwrap().send(()).unwrap();
                    let _ = release_rx.lock().unwrap().recv();
                });
                spin()
            })
            .unwrap();
        hooked.recv_timeout(BOUND).expect("the first hook ran");
        for i in 0..5 {
            let r = with_timeout(Duration::from_millis(10), || blocked_with_hook(|| ()));
            assert_eq!(r, Err(TimedOut), "round {i}");
            let t = killable::Builder::new()
                .deadline(Instant::now() + Duration::from_millis(10))
                .spawn(|| blocked_with_hook(|| ()))
                .unwrap();
            assert!(join_in_time(t).unwrap_err().is_terminated(), "round {i}");
            let t = KillableThread::spawn(|| spin());
            registry::terminate_all();
            assert!(join_in_time(t).unwrap_err().is_terminated(), "round {i}");
        }
        // The hooked thread's join waits for its hook (documented), and is
        // bounded by join_timeout meanwhile.
        let stuck = match stuck.join_timeout(Duration::from_millis(50)) {
            Ok(_) => panic!("the join ended while its hook still runs"),
            Err(stuck) => stuck,
        };
        release_tx.send(()).unwrap();
        assert!(join_in_time(stuck).unwrap_err().is_terminated());
    });
}

/// Deadline hooks that panic with payloads whose `Drop` panics, many at
/// once: no runner dies for good, later hooks still run.
#[test]
fn many_deadline_hooks_panicking_at_once_keep_the_pool() {
    isolated(
        "many_deadline_hooks_panicking_at_once_keep_the_pool",
        || {
            const N: usize = 16;
            for round in 0..3 {
                let barrier = Arc::new(Barrier::new(N));
                let threads: Vec<_> = (0..N)
                    .map(|_| {
                        let b = barrier.clone();
                        killable::Builder::new()
                            .deadline(Instant::now() + Duration::from_millis(20))
                            .spawn(move || {
                                let (tx, rx) = mpsc::channel::<()>();
                                let tx = Mutex::new(tx);
                                interruptible(
                                    move || {
                                        let _ = rx.recv();
                                    },
                                    move || {
                                        b.wait();
                                        let _ = tx.lock().unwrap().send(());
                                        panic_any(PanicsOnDrop)
                                    },
                                );
                                spin()
                            })
                            .unwrap()
                    })
                    .collect();
                for t in threads {
                    assert!(
                        join_in_time(t).unwrap_err().is_terminated(),
                        "round {round}"
                    );
                }
            }
            let r = with_timeout(Duration::from_millis(10), || blocked_with_hook(|| ()));
            assert_eq!(r, Err(TimedOut));
        },
    );
}

/// Deadline hooks that kill: one terminates its own (already terminated)
/// target and raises into it, one terminates every thread, one raises into
/// another thread, one joins a thread it terminates.
#[test]
fn deadline_hooks_that_kill_and_join_other_threads() {
    isolated("deadline_hooks_that_kill_and_join_other_threads", || {
        for round in 0..5_u32 {
            let victim = Arc::new(Mutex::new(Some(KillableThread::spawn(|| spin()))));
            let raised = KillableThread::spawn(|| catch::<u32, _, _>(|| spin()));
            let rk = raised.killer();
            let v = victim.clone();
            let a = killable::Builder::new()
                .deadline(Instant::now() + Duration::from_millis(10))
                .spawn(move || {
                    let me = killable::current().unwrap();
                    blocked_with_hook(move || {
                        me.terminate();
                        assert_eq!(me.raise(7_u8), Err(7), "a terminated thread takes no raise");
                        // Err if b's terminate_all got there first.
                        let _ = rk.raise(round);
                        let t = v.lock().unwrap().take().unwrap();
                        t.terminate();
                        assert!(join_in_time(t).unwrap_err().is_terminated());
                    });
                    spin()
                })
                .unwrap();
            let b = killable::Builder::new()
                .deadline(Instant::now() + Duration::from_millis(10))
                .spawn(|| {
                    blocked_with_hook(|| {
                        registry::terminate_all();
                    });
                    spin()
                })
                .unwrap();
            assert!(
                join_in_time(a).unwrap_err().is_terminated(),
                "round {round}"
            );
            assert!(
                join_in_time(b).unwrap_err().is_terminated(),
                "round {round}"
            );
            // Raised, or terminated by b's terminate_all first.
            match join_in_time(raised) {
                Ok(r) => assert_eq!(r, Err(round)),
                Err(e) => assert!(e.is_terminated(), "round {round}: {e:?}"),
            }
            // Still there if b's terminate_all got to `a` before its hook
            // was armed; then terminate_all has terminated it.
            let left = victim.lock().unwrap().take();
            if let Some(v) = left {
                assert!(join_in_time(v).unwrap_err().is_terminated());
            }
        }
    });
}

/// A deadline hook that spawns a killable thread with a deadline whose hook
/// does the same, eight deep, each hook joining its child: every level
/// needs a runner of its own.
#[test]
fn deadline_hooks_spawning_hooked_threads_recursively() {
    fn level(depth: u32, out: Arc<AtomicUsize>) -> KillableThread<()> {
        killable::Builder::new()
            .deadline(Instant::now() + Duration::from_millis(5))
            .spawn(move || {
                blocked_with_hook(move || {
                    out.fetch_add(1, SeqCst);
                    if depth > 0 {
                        let child = level(depth - 1, out.clone());
                        assert!(join_in_time(child).unwrap_err().is_terminated());
                    }
                });
                spin()
            })
            .unwrap()
    }
    isolated("deadline_hooks_spawning_hooked_threads_recursively", || {
        let out = Arc::new(AtomicUsize::new(0));
        let top = level(8, out.clone());
        assert!(join_in_time(top).unwrap_err().is_terminated());
        assert_eq!(out.load(SeqCst), 9);
    });
}

/// A deadline hook that runs killable work of its own: a `CancelToken::run`
/// that it cancels, one cancelled by another thread, and a `with_timeout`,
/// each around a killable sleep.
#[test]
fn deadline_hooks_calling_cancel_token_run_and_with_timeout() {
    isolated(
        "deadline_hooks_calling_cancel_token_run_and_with_timeout",
        || {
            let results = Arc::new(Mutex::new(Vec::new()));
            let r = results.clone();
            let t = killable::Builder::new()
                .deadline(Instant::now() + Duration::from_millis(10))
                .spawn(move || {
                    blocked_with_hook(move || {
                        let token = CancelToken::new();
                        let res = token.run(|| {
                            token.cancel();
                            killable::sleep(BOUND);
                        });
                        r.lock().unwrap().push(format!("own cancel {res:?}"));
                        let token = CancelToken::new();
                        let other = token.clone();
                        let canceller = std::thread::spawn(move || {
                            std::thread::sleep(Duration::from_millis(20));
                            other.cancel();
                        });
                        let start = Instant::now();
                        let res = token.run(|| killable::sleep(BOUND));
                        let quick = start.elapsed() < BOUND / 2;
                        canceller.join().unwrap();
                        r.lock()
                            .unwrap()
                            .push(format!("other cancel {res:?} {quick}"));
                        let res =
                            with_timeout(Duration::from_millis(20), || killable::sleep(BOUND));
                        r.lock().unwrap().push(format!("timeout {res:?}"));
                    });
                    spin()
                })
                .unwrap();
            assert!(join_in_time(t).unwrap_err().is_terminated());
            assert_eq!(
                *results.lock().unwrap(),
                [
                    "own cancel Err(Cancelled)",
                    "other cancel Err(Cancelled) true",
                    "timeout Err(TimedOut)"
                ]
            );
        },
    );
}

/// Hooks arriving around the moment idle runners retire (5 s idle): none is
/// lost to a runner that is just ending.
#[test]
fn deadline_hooks_arriving_while_idle_runners_retire() {
    isolated("deadline_hooks_arriving_while_idle_runners_retire", || {
        // Grow the pool to several runners.
        const N: usize = 6;
        hooks_meeting_at_a_barrier(N, Duration::from_millis(5));
        let start = Instant::now();
        std::thread::sleep(Duration::from_millis(4_500));
        // From 4.5 s to 6.5 s after the pool went idle, hooks keep coming,
        // two at a time.
        while start.elapsed() < Duration::from_millis(6_500) {
            let ts: Vec<_> = (0..2)
                .map(|_| {
                    std::thread::spawn(|| {
                        let t0 = Instant::now();
                        let r = with_timeout(Duration::from_millis(1), || blocked_with_hook(|| ()));
                        (r, t0.elapsed())
                    })
                })
                .collect();
            for t in ts {
                let (r, took) = t.join().unwrap();
                assert_eq!(r, Err(TimedOut));
                assert!(took < BOUND, "a hook waited {took:?}");
            }
        }
    });
}

/// Deadlines racing `op` returning on its own: a withdrawn hook is never
/// called after `interruptible` returned.
#[test]
fn deadline_hooks_racing_op_returning_are_never_late() {
    isolated("deadline_hooks_racing_op_returning_are_never_late", || {
        let mut rng = Rng::new("deadline_hooks_racing_op_returning_are_never_late");
        let late = Arc::new(AtomicUsize::new(0));
        for _ in 0..400 {
            let returned = Arc::new(AtomicBool::new(false));
            let (ret, l) = (returned.clone(), late.clone());
            let spin_for = rng.micros(300);
            let _ = with_timeout(rng.micros(300), move || {
                interruptible(
                    || {
                        let t0 = Instant::now();
                        while t0.elapsed() < spin_for {
                            std::hint::spin_loop();
                        }
                    },
                    move || {
                        if ret.load(SeqCst) {
                            l.fetch_add(1, SeqCst);
                        }
                    },
                );
            });
            returned.store(true, SeqCst);
        }
        std::thread::sleep(Duration::from_millis(200));
        assert_eq!(
            late.load(SeqCst),
            0,
            "hooks called after interruptible returned"
        );
    });
}

// ---------------------------------------------------------------------------
// Cancel tokens.

/// Cancels racing `run` entry and exit: `Err(Cancelled)` only with the token
/// cancelled, a run entered after `cancel()` returned never calls `f`, and a
/// spinning run always ends.
#[test]
fn cancel_racing_run_entry_and_exit_is_consistent() {
    isolated("cancel_racing_run_entry_and_exit_is_consistent", || {
        let mut rng = Rng::new("cancel_racing_run_entry_and_exit_is_consistent");
        for round in 0..300 {
            let token = CancelToken::new();
            let cancelled_at = Arc::new(AtomicBool::new(false));
            let workers: Vec<_> = (0..2)
                .map(|w| {
                    let token = token.clone();
                    let done = cancelled_at.clone();
                    std::thread::spawn(move || {
                        let mut outcomes = Vec::new();
                        loop {
                            let after_cancel = done.load(SeqCst);
                            let called = AtomicBool::new(false);
                            let r = token.run(|| {
                                called.store(true, SeqCst);
                                if w == 0 {
                                    for _ in 0..50 {
                                        checkpoint();
                                    }
                                } else {
                                    spin()
                                }
                            });
                            if r.is_err() {
                                assert!(token.is_cancelled(), "Err(Cancelled) with no cancel");
                            }
                            if after_cancel {
                                assert_eq!(r, Err(Cancelled), "run after cancel() returned");
                                assert!(!called.load(SeqCst), "f called after cancel()");
                                outcomes.push(r);
                                return outcomes;
                            }
                            outcomes.push(r);
                        }
                    })
                })
                .collect();
            std::thread::sleep(rng.micros(500));
            token.cancel();
            cancelled_at.store(true, SeqCst);
            for w in workers {
                let outcomes = w.join().unwrap_or_else(|p| {
                    std::panic::resume_unwind(p);
                });
                assert_eq!(outcomes.last(), Some(&Err(Cancelled)), "round {round}");
            }
            // The plain threads were left clean: nothing pending here either.
            checkpoint();
        }
    });
}

/// A cancel from inside an `interruptible` hook run by a raiser, and from
/// the `Drop` of a raised value, each cancelling the token the target runs
/// under.
#[test]
fn cancel_from_a_hook_and_from_a_raised_values_drop() {
    struct CancelsOnDrop(CancelToken);
    impl Drop for CancelsOnDrop {
        fn drop(&mut self) {
            self.0.cancel();
        }
    }
    isolated("cancel_from_a_hook_and_from_a_raised_values_drop", || {
        // (a) the hook of a thread cancels another thread's token.
        let token = CancelToken::new();
        let tk = token.clone();
        let worker = std::thread::spawn(move || tk.run(|| spin()));
        let (in_tx, in_op) = mpsc::channel::<()>();
        let hooked = {
            let token = token.clone();
            KillableThread::spawn(move || {
                let (tx, rx) = mpsc::channel::<()>();
                let tx = Mutex::new(tx);
                catch::<u8, _, _>(|| {
                    interruptible(
                        || {
                            in_tx.send(()).unwrap();
                            let _ = rx.recv();
                        },
                        move || {
                            token.cancel();
                            let _ = tx.lock().unwrap().send(());
                        },
                    )
                })
                .unwrap_err();
            })
        };
        in_op.recv().unwrap();
        hooked.raise(1_u8).unwrap();
        join_in_time(hooked).unwrap();
        assert_eq!(worker.join().unwrap(), Err(Cancelled));
        // (b) a raised value, caught inside the run, cancels its own token
        // when dropped.
        let token = CancelToken::new();
        let t = {
            let token = token.clone();
            let (in_tx, in_run) = mpsc::channel::<()>();
            let t = KillableThread::spawn(move || {
                token.run(|| {
                    let caught = catch::<CancelsOnDrop, _, _>(|| {
                        in_tx.send(()).unwrap();
                        spin()
                    });
                    drop(caught);
                    spin()
                })
            });
            in_run.recv().unwrap();
            t
        };
        t.raise(CancelsOnDrop(token.clone())).ok().unwrap();
        assert_eq!(join_in_time(t).unwrap(), Err(Cancelled));
        // (c) a raised value never delivered (terminate overtakes it)
        // cancels a token as the target exits.
        let token = CancelToken::new();
        let tk = token.clone();
        let worker = std::thread::spawn(move || tk.run(|| spin()));
        let t = KillableThread::spawn(|| shield(|| std::thread::sleep(Duration::from_millis(50))));
        t.raise(CancelsOnDrop(token.clone())).ok().unwrap();
        t.terminate();
        let _ = join_in_time(t);
        assert_eq!(worker.join().unwrap(), Err(Cancelled));
    });
}

/// A chain of 50,000 children with a run on the deepest one: cancelling the
/// root reaches it, and dropping the chain root first, then the rest, does
/// not recurse.
#[test]
fn a_deep_chain_cancelled_at_the_root_reaches_a_run_on_the_leaf() {
    isolated(
        "a_deep_chain_cancelled_at_the_root_reaches_a_run_on_the_leaf",
        || {
            let root = CancelToken::new();
            let mut chain = vec![root.clone()];
            for _ in 0..50_000 {
                let next = chain.last().unwrap().child();
                chain.push(next);
            }
            let leaf = chain.last().unwrap().clone();
            let (in_tx, in_rx) = mpsc::channel();
            let worker = std::thread::spawn(move || {
                leaf.run(|| {
                    in_tx.send(()).unwrap();
                    killable::sleep(BOUND * 3)
                })
            });
            in_rx.recv().unwrap();
            // Drop the middle of the chain first (the leaf keeps it alive).
            drop(chain.drain(1..).collect::<Vec<_>>());
            let t0 = Instant::now();
            root.cancel();
            assert_eq!(worker.join().unwrap(), Err(Cancelled));
            assert!(t0.elapsed() < BOUND);
        },
    );
}

/// Drop guards dropped during unwinds inside the run of their own token: a
/// panic keeps its payload (not turned into `Cancelled`) and cancels the
/// token; a guard dropped on `f`'s normal exit gives `Ok` and leaves
/// nothing pending on the thread.
#[test]
fn drop_guards_of_the_running_token_in_panics_and_normal_exits() {
    isolated(
        "drop_guards_of_the_running_token_in_panics_and_normal_exits",
        || {
            let token = CancelToken::new();
            let tk = token.clone();
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
                tk.run(|| {
                    let _g = tk.clone().drop_guard();
                    panic_any(42_u32)
                })
            }));
            assert_eq!(*r.unwrap_err().downcast::<u32>().unwrap(), 42);
            assert!(token.is_cancelled());

            let t = KillableThread::spawn(|| {
                let token = CancelToken::new();
                let r = token.run(|| {
                    let _g = token.clone().drop_guard();
                    5
                });
                assert!(token.is_cancelled());
                // Nothing left pending by the run on the killable thread.
                checkpoint();
                killable::sleep(Duration::from_millis(5));
                r
            });
            assert_eq!(join_in_time(t).unwrap(), Ok(5));

            // A guard dropped in a kill's unwind (terminate) cancels a token
            // another thread runs under.
            let token = CancelToken::new();
            let tk = token.clone();
            let worker = std::thread::spawn(move || tk.run(|| spin()));
            let g = token.clone().drop_guard();
            let t = KillableThread::spawn(move || {
                let _g = g;
                spin()
            });
            std::thread::sleep(Duration::from_millis(10));
            t.terminate();
            assert!(join_in_time(t).unwrap_err().is_terminated());
            assert_eq!(worker.join().unwrap(), Err(Cancelled));
        },
    );
}

// ---------------------------------------------------------------------------
// Killable I/O.

/// Terminations at random moments of a reader making small reads: every
/// byte is either returned by a read (and recorded before any checkpoint)
/// or still in the socket.
#[test]
fn terminations_racing_completed_reads_lose_no_byte() {
    isolated("terminations_racing_completed_reads_lose_no_byte", || {
        let mut rng = Rng::new("terminations_racing_completed_reads_lose_no_byte");
        const LEN: usize = 4096;
        let data: Vec<u8> = (0..LEN).map(|i| (i % 251) as u8).collect();
        for round in 0..60 {
            let (mut a, b) = UnixStream::pair().unwrap();
            a.write_all(&data).unwrap();
            let got = Arc::new(Mutex::new(Vec::new()));
            let g = got.clone();
            let theirs = b.try_clone().unwrap();
            let sizes = 1 + rng.below(7) as usize;
            let t = KillableThread::spawn(move || {
                let mut k = Killable::new(theirs);
                let mut buf = [0u8; 8];
                loop {
                    let n = k.read(&mut buf[..sizes]).unwrap();
                    g.lock().unwrap().extend_from_slice(&buf[..n]);
                }
            });
            std::thread::sleep(rng.micros(3000));
            t.terminate();
            assert!(
                join_in_time(t).unwrap_err().is_terminated(),
                "round {round}"
            );
            b.set_nonblocking(true).unwrap();
            let mut rest = Vec::new();
            let mut buf = [0u8; 4096];
            loop {
                match (&b).read(&mut buf) {
                    Ok(n) => rest.extend_from_slice(&buf[..n]),
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                    Err(e) => panic!("{e}"),
                }
            }
            let mut all = got.lock().unwrap().clone();
            let got_len = all.len();
            all.extend_from_slice(&rest);
            assert_eq!(
                all.len(),
                LEN,
                "round {round}: {got_len} read + {} left",
                rest.len()
            );
            assert!(all == data, "round {round}: bytes out of order");
        }
    });
}

/// `with_timeout` around reads while the data arrives near the deadline:
/// each byte is either returned or still in the socket; after each timeout
/// the same socket reads on.
#[test]
fn with_timeout_reads_racing_arrivals_lose_no_byte() {
    isolated("with_timeout_reads_racing_arrivals_lose_no_byte", || {
        let mut rng = Rng::new("with_timeout_reads_racing_arrivals_lose_no_byte");
        let (a, b) = UnixStream::pair().unwrap();
        let mut k = Killable::new(b);
        const N: u8 = 200;
        let delays: Vec<Duration> = (0..N).map(|_| rng.micros(2000)).collect();
        let writer = std::thread::spawn(move || {
            let mut a = a;
            for (i, d) in delays.into_iter().enumerate() {
                std::thread::sleep(d);
                a.write_all(&[i as u8]).unwrap();
            }
            a
        });
        let mut got = Vec::new();
        let mut timeouts = 0;
        while got.len() < N as usize {
            let mut buf = [0u8; 1];
            match with_timeout(rng.micros(1500), || k.read(&mut buf)) {
                Ok(r) => {
                    let n = r.unwrap();
                    assert_eq!(n, 1, "end of stream before every byte came");
                    got.push(buf[0]);
                }
                Err(TimedOut) => timeouts += 1,
            }
            assert!(timeouts < 100_000);
        }
        let _a = writer.join().unwrap();
        assert_eq!(got, (0..N).collect::<Vec<_>>());
    });
}

/// Raises caught around a read, then the same socket read again; and a
/// raise caught around an accept, then the listener accepts on.
#[test]
fn caught_raises_around_reads_and_accepts_leave_them_usable() {
    isolated(
        "caught_raises_around_reads_and_accepts_leave_them_usable",
        || {
            #[derive(Debug, PartialEq)]
            struct Poke(u32);
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            let (ready_tx, ready) = mpsc::channel::<&'static str>();
            let t = KillableThread::spawn(move || {
                let l = Killable::new(listener);
                let mut pokes = Vec::new();
                ready_tx.send("accept").unwrap();
                let (conn, _) = loop {
                    match catch::<Poke, _, _>(|| l.accept()) {
                        Ok(r) => break r.unwrap(),
                        Err(p) => {
                            pokes.push(p.0);
                            ready_tx.send("accept").unwrap();
                        }
                    }
                };
                let mut conn = Killable::new(conn);
                ready_tx.send("read").unwrap();
                let mut got = Vec::new();
                while got.len() < 3 {
                    let mut buf = [0u8; 3];
                    match catch::<Poke, _, _>(|| conn.read(&mut buf)) {
                        Ok(r) => got.extend_from_slice(&buf[..r.unwrap()]),
                        Err(p) => {
                            pokes.push(p.0);
                            ready_tx.send("read").unwrap();
                        }
                    }
                }
                (pokes, got)
            });
            for i in 0..3 {
                assert_eq!(ready.recv().unwrap(), "accept");
                std::thread::sleep(Duration::from_millis(10));
                t.raise(Poke(i)).unwrap();
            }
            assert_eq!(ready.recv().unwrap(), "accept");
            let mut c = TcpStream::connect(addr).unwrap();
            for i in 3..6 {
                assert_eq!(ready.recv().unwrap(), "read");
                std::thread::sleep(Duration::from_millis(10));
                t.raise(Poke(i)).unwrap();
            }
            assert_eq!(ready.recv().unwrap(), "read");
            c.write_all(b"abc").unwrap();
            let (pokes, got) = join_in_time(t).unwrap();
            assert_eq!(pokes, [0, 1, 2, 3, 4, 5]);
            assert_eq!(got, b"abc");
        },
    );
}

/// Two `Killable`s around clones of one listener (how one accepts on
/// several threads). When the first one wrapped is dropped (its acceptor
/// shut down, or simply finished), it restores the blocking mode on the
/// shared file description, and the other one's `accept` blocks in
/// `accept(2)` itself, where no kill reaches it. Two acceptor threads that
/// each wrap their clone hit this whenever the first-wrapped one returns
/// first.
#[test]
fn an_accept_on_a_cloned_listener_stays_killable_after_another_wrapper_drops() {
    isolated(
        "an_accept_on_a_cloned_listener_stays_killable_after_another_wrapper_drops",
        || {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            let first = Killable::new(listener.try_clone().unwrap());
            let second = Killable::new(listener);
            drop(first);
            let (started_tx, started) = mpsc::channel::<()>();
            let t = KillableThread::spawn(move || {
                started_tx.send(()).unwrap();
                second.accept().map(|_| ())
            });
            started.recv().unwrap();
            std::thread::sleep(Duration::from_millis(50));
            t.terminate();
            match t.join_timeout(Duration::from_secs(2)) {
                Ok(r) => assert!(r.unwrap_err().is_terminated()),
                Err(t) => {
                    // Unblock it so the process can end, then report.
                    let _c = TcpStream::connect(addr).unwrap();
                    let r = join_in_time(t).map(|_| ());
                    panic!(
                        "a terminate did not wake the accept within 2 s \
                         (it ended with {r:?} once a connection came)"
                    );
                }
            }
        },
    );
}

// ---------------------------------------------------------------------------
// Raised values with hostile `Drop`s, and raises into threads at odd moments.

/// Raised values whose `Drop` raises into the thread dropping them, blocks
/// in a killable sleep, or panics with a payload whose `Drop` panics: as
/// caught values, as values dropped undelivered at exit, and raised into a
/// shielded thread.
#[test]
fn raised_values_whose_drop_raises_blocks_or_panics() {
    struct RaisesOnDrop;
    impl Drop for RaisesOnDrop {
        fn drop(&mut self) {
            if let Some(me) = killable::current() {
                // Handed back if the thread has finished; else pending.
                let _ = me.raise(11_u32);
            }
        }
    }
    struct SleepsOnDrop;
    impl Drop for SleepsOnDrop {
        fn drop(&mut self) {
            killable::sleep(Duration::from_millis(30));
        }
    }
    struct PanicsWhenDropped;
    impl Drop for PanicsWhenDropped {
        fn drop(&mut self) {
            if !std::thread::panicking() {
                panic_any(PanicsOnDrop);
            }
        }
    }
    isolated("raised_values_whose_drop_raises_blocks_or_panics", || {
        // Caught, then dropped: the raise from its Drop lands next.
        let t = KillableThread::spawn(|| {
            let first = catch::<RaisesOnDrop, _, _>(|| spin());
            assert!(first.is_err());
            catch::<u32, _, _>(move || {
                drop(first);
                spin()
            })
        });
        std::thread::sleep(Duration::from_millis(10));
        t.raise(RaisesOnDrop).ok().unwrap();
        assert_eq!(join_in_time(t).unwrap(), Err(11));
        // Undelivered at exit (thread returns before any checkpoint).
        for _ in 0..20 {
            let (go_tx, go) = mpsc::channel::<()>();
            let (in_tx, inside) = mpsc::channel::<()>();
            let t = KillableThread::spawn(move || {
                in_tx.send(()).unwrap();
                let _ = go.recv();
                7
            });
            inside.recv().unwrap();
            let _ = t.raise(RaisesOnDrop);
            let _ = t.raise(SleepsOnDrop);
            let _ = t.raise(PanicsWhenDropped);
            go_tx.send(()).unwrap();
            assert_eq!(join_in_time(t).unwrap(), 7);
        }
        // Raised into a shield, overtaken by a terminate.
        for _ in 0..20 {
            let (in_tx, inside) = mpsc::channel::<()>();
            let t = KillableThread::spawn(move || {
                shield(|| {
                    in_tx.send(()).unwrap();
                    std::thread::sleep(Duration::from_millis(50));
                    checkpoint();
                });
                spin()
            });
            inside.recv().unwrap();
            t.raise(PanicsWhenDropped).ok().unwrap();
            t.raise(SleepsOnDrop).ok().unwrap();
            t.raise(RaisesOnDrop).ok().unwrap();
            t.terminate();
            let e = join_in_time(t).unwrap_err();
            assert!(e.is_terminated() || e.is_raised(), "{e:?}");
        }
        // Raised into a finished, joined thread: handed back intact.
        let t = KillableThread::spawn(|| ());
        let k = t.killer();
        join_in_time(t).unwrap();
        let Err(back) = k.raise(PanicsWhenDropped) else {
            panic!("a raise into a joined thread was accepted");
        };
        std::mem::forget(back);
    });
}

/// A raised value delivered and left uncaught: the join hands it back, even
/// when its `Drop` raises into the (finished) thread.
#[test]
fn an_uncaught_raise_is_delivered_typed_through_join() {
    #[derive(Debug)]
    struct Payload(Vec<u32>);
    isolated("an_uncaught_raise_is_delivered_typed_through_join", || {
        for i in 0..50 {
            let t = KillableThread::spawn(|| spin());
            t.raise(Payload(vec![i, i + 1])).unwrap();
            let e = join_in_time(t).unwrap_err();
            assert!(e.is_raised());
            assert_eq!(e.downcast_raised::<Payload>().unwrap().0, [i, i + 1]);
        }
    });
}

// ---------------------------------------------------------------------------
// Scopes killed at every moment.

/// A scope whose body spawns children that spin, spawn siblings, sleep or
/// raise into the parent, with the parent terminated or raised into at a
/// random moment: every join ends, every destructor runs.
#[test]
fn scopes_killed_at_random_moments_end_and_drop_everything() {
    static LIVE: AtomicUsize = AtomicUsize::new(0);
    struct Guard;
    impl Guard {
        fn new() -> Guard {
            LIVE.fetch_add(1, SeqCst);
            Guard
        }
    }
    impl Drop for Guard {
        fn drop(&mut self) {
            LIVE.fetch_sub(1, SeqCst);
        }
    }
    isolated(
        "scopes_killed_at_random_moments_end_and_drop_everything",
        || {
            let mut rng = Rng::new("scopes_killed_at_random_moments_end_and_drop_everything");
            for round in 0..150 {
                let parent_killer = Arc::new(Mutex::new(None));
                let pk = parent_killer.clone();
                let t = KillableThread::spawn(move || {
                    *pk.lock().unwrap() = killable::current();
                    let _g = Guard::new();
                    scope(|s| {
                        let _g = Guard::new();
                        for c in 0..3 {
                            let pk = pk.clone();
                            let _ = s.spawn(move || {
                                let _g = Guard::new();
                                match c {
                                    0 => spin(),
                                    1 => killable::sleep(BOUND * 3),
                                    _ => {
                                        let k = pk.lock().unwrap().clone().unwrap();
                                        let _ = k.raise(Guard::new());
                                        spin()
                                    }
                                }
                            });
                        }
                        let sib = s.spawn(|| {
                            let _g = Guard::new();
                            with_timeout(Duration::from_millis(1), || spin())
                        });
                        let _ = sib.join();
                        spin()
                    })
                });
                std::thread::sleep(rng.micros(3000));
                match rng.below(3) {
                    0 => t.terminate(),
                    1 => {
                        let _ = t.raise(Guard::new());
                    }
                    _ => {
                        let _ = t.raise(Guard::new());
                        t.terminate();
                    }
                }
                match join_in_time(t) {
                    Err(e) if e.is_terminated() || e.is_raised() => drop(e),
                    Err(e) => panic!("round {round}: {e:?}"),
                    Ok(_) => panic!("round {round}: returned"),
                }
                assert_eq!(
                    LIVE.load(SeqCst),
                    0,
                    "round {round}: a destructor did not run"
                );
            }
        },
    );
}

// ---------------------------------------------------------------------------
// Kills of several kinds racing on one thread.

/// Raises racing `with_timeout` expiries and `CancelToken::run` exits on a
/// killable thread: every accepted raise is caught exactly once, typed, and
/// none turns into a timeout or a cancellation.
#[test]
fn raises_racing_timeouts_and_run_exits_are_each_caught_once() {
    isolated(
        "raises_racing_timeouts_and_run_exits_are_each_caught_once",
        || {
            let mut rng = Rng::new("raises_racing_timeouts_and_run_exits_are_each_caught_once");
            let stop = Arc::new(AtomicBool::new(false));
            let s = stop.clone();
            let (started_tx, started) = mpsc::channel::<()>();
            let t = KillableThread::spawn(move || {
                started_tx.send(()).unwrap();
                let mut caught = Vec::new();
                let mut i = 0_u64;
                while !s.load(SeqCst) {
                    i += 1;
                    let r = catch::<u64, _, _>(|| {
                        if i % 2 == 0 {
                            let _ = with_timeout(Duration::from_micros(i % 200), || {
                                for _ in 0..(i % 300) {
                                    checkpoint();
                                }
                            });
                        } else {
                            let token = CancelToken::new();
                            let _ = token.run(|| {
                                if i % 3 == 0 {
                                    token.cancel();
                                }
                                for _ in 0..(i % 300) {
                                    checkpoint();
                                }
                            });
                        }
                    });
                    if let Err(v) = r {
                        caught.push(v);
                    }
                }
                // Raises accepted before the stop lands here.
                for _ in 0..1000 {
                    if let Err(v) = catch::<u64, _, _>(checkpoint) {
                        caught.push(v);
                    }
                }
                caught
            });
            started.recv().unwrap();
            let mut accepted = Vec::new();
            for v in 0..2000_u64 {
                if t.raise(v).is_ok() {
                    accepted.push(v);
                }
                if rng.below(4) == 0 {
                    std::thread::sleep(rng.micros(300));
                }
            }
            stop.store(true, SeqCst);
            let caught = join_in_time(t).unwrap();
            assert_eq!(caught, accepted, "raises lost, duplicated or reordered");
        },
    );
}

/// A deadline, a cancellation and a raise hitting one blocked
/// `interruptible` at about the same moment: its hook runs exactly once and
/// the thread always gets out.
#[test]
fn a_deadline_a_cancel_and_a_raise_racing_on_one_hook() {
    isolated("a_deadline_a_cancel_and_a_raise_racing_on_one_hook", || {
        let mut rng = Rng::new("a_deadline_a_cancel_and_a_raise_racing_on_one_hook");
        for round in 0..200 {
            let calls = Arc::new(AtomicUsize::new(0));
            let token = CancelToken::new();
            let (c, tk) = (calls.clone(), token.clone());
            let timeout = rng.micros(2000);
            let (in_tx, in_op) = mpsc::channel::<()>();
            let t = KillableThread::spawn(move || {
                catch::<u8, _, _>(|| {
                    tk.run(|| {
                        with_timeout(timeout, || {
                            let (tx, rx) = mpsc::channel::<()>();
                            let tx = Mutex::new(tx);
                            interruptible(
                                || {
                                    let _ = in_tx.send(());
                                    let _ = rx.recv();
                                },
                                move || {
                                    c.fetch_add(1, SeqCst);
                                    let _ = tx.lock().unwrap().send(());
                                },
                            )
                        })
                    })
                })
            });
            // Err: a kill landed before `op` started, so no hook was armed.
            let entered = in_op.recv().is_ok();
            std::thread::sleep(rng.micros(2000));
            let raised = if rng.below(2) == 0 {
                t.raise(1_u8).is_ok()
            } else {
                false
            };
            token.cancel();
            let r = join_in_time(t).unwrap();
            match r {
                Err(1) => assert!(raised),
                Ok(Err(Cancelled)) | Ok(Ok(Err(TimedOut))) => {}
                other => panic!("round {round}: {other:?}"),
            }
            std::thread::sleep(Duration::from_millis(1));
            let calls = calls.load(SeqCst);
            assert!(calls <= 1, "round {round}: {calls} hook calls");
            assert!(
                !entered || calls == 1,
                "round {round}: op unblocked with no hook call"
            );
        }
    });
}

/// Inside a deadline hook, a `with_timeout` around a killable socket read
/// still expires, as it does around a killable `sleep`
/// (`hostile.rs::a_with_timeout_inside_a_hook_still_expires`). If the read
/// blocked as std's does, the hook would never end, nor would the join of
/// the thread it was meant to unblock.
#[test]
fn a_killable_read_in_a_with_timeout_inside_a_deadline_hook_expires() {
    isolated(
        "a_killable_read_in_a_with_timeout_inside_a_deadline_hook_expires",
        || {
            let out = Arc::new(Mutex::new(None));
            let o = out.clone();
            let t = killable::Builder::new()
                .deadline(Instant::now() + Duration::from_millis(10))
                .spawn(move || {
                    blocked_with_hook(move || {
                        let (_a, b) = UnixStream::pair().unwrap();
                        let mut k = Killable::new(b);
                        let mut buf = [0u8; 1];
                        let r = with_timeout(Duration::from_millis(20), || k.read(&mut buf));
                        *o.lock().unwrap() = Some(r.map(|r| r.map_err(|e| e.kind())));
                    });
                    spin()
                })
                .unwrap();
            assert!(join_in_time(t).unwrap_err().is_terminated());
            assert_eq!(*out.lock().unwrap(), Some(Err(TimedOut)));
        },
    );
}

/// A parent spawning scoped children in a tight loop, terminated or raised
/// into at a random moment (mid-spawn included): the join ends, nothing
/// stays registered.
#[test]
fn a_scope_killed_while_it_spawns_in_a_loop() {
    isolated("a_scope_killed_while_it_spawns_in_a_loop", || {
        let mut rng = Rng::new("a_scope_killed_while_it_spawns_in_a_loop");
        for round in 0..100 {
            let t = KillableThread::spawn(|| {
                scope(|s| loop {
                    let _ = s.spawn(|| spin());
                    let _ = s.spawn(|| killable::sleep(BOUND * 3));
                    // A plain closure's loop has no checkpoint of its own.
                    checkpoint();
                })
            });
            std::thread::sleep(rng.micros(5000));
            if rng.below(2) == 0 {
                t.terminate();
            } else {
                let _ = t.raise(round);
            }
            let e = match t.join_timeout(BOUND) {
                Ok(r) => r.unwrap_err(),
                Err(_) => panic!("round {round}: the killed scope's join hung"),
            };
            assert!(e.is_terminated() || e.is_raised(), "round {round}: {e:?}");
        }
    });
}

/// The same in a destructor during a panic: a `with_timeout` opened there
/// gets its own expiry "at a checkpoint or in a killable wait"
/// (docs/GUARANTEES.md), a killable read inside it included.
#[test]
fn a_killable_read_in_a_with_timeout_in_a_destructor_during_a_panic_expires() {
    struct ReadsOnDrop(
        Killable<UnixStream>,
        Arc<Mutex<Option<Result<(), TimedOut>>>>,
    );
    impl Drop for ReadsOnDrop {
        fn drop(&mut self) {
            let mut buf = [0u8; 1];
            let k = &mut self.0;
            let r = with_timeout(Duration::from_millis(20), || k.read(&mut buf));
            *self.1.lock().unwrap() = Some(r.map(|_| ()));
        }
    }
    isolated(
        "a_killable_read_in_a_with_timeout_in_a_destructor_during_a_panic_expires",
        || {
            let out = Arc::new(Mutex::new(None));
            let o = out.clone();
            let t = std::thread::spawn(move || {
                let (a, b) = UnixStream::pair().unwrap();
                // Declared first, so dropped after the guard: the peer stays open.
                let _keep_open = a;
                let _guard = ReadsOnDrop(Killable::new(b), o);
                panic!("unwinding through the guard")
            });
            let t0 = Instant::now();
            while !t.is_finished() && t0.elapsed() < BOUND {
                std::thread::sleep(Duration::from_millis(10));
            }
            assert!(t.is_finished(), "the read in the destructor never woke");
            assert!(t.join().is_err());
            assert_eq!(*out.lock().unwrap(), Some(Err(TimedOut)));
        },
    );
}

// ---------------------------------------------------------------------------
// Joins against hostile drops, and scopes inside hooks.

/// An undelivered raise whose `Drop` blocks (until released) holds up the
/// target's exit, as documented; a join waiting for it stays killable and
/// `join_timeout` stays bounded.
#[test]
fn a_join_held_up_by_a_blocking_raised_values_drop_stays_killable() {
    struct BlocksOnDrop(Mutex<mpsc::Receiver<()>>);
    impl Drop for BlocksOnDrop {
        fn drop(&mut self) {
            let _ = self.0.lock().unwrap().recv();
        }
    }
    isolated(
        "a_join_held_up_by_a_blocking_raised_values_drop_stays_killable",
        || {
            let (release, held) = mpsc::channel::<()>();
            let (in_tx, inside) = mpsc::channel::<()>();
            let (go_tx, go) = mpsc::channel::<()>();
            let target = KillableThread::spawn(move || {
                in_tx.send(()).unwrap();
                let _ = go.recv();
            });
            inside.recv().unwrap();
            target.raise(BlocksOnDrop(Mutex::new(held))).ok().unwrap();
            go_tx.send(()).unwrap();
            let target = match target.join_timeout(Duration::from_millis(100)) {
                Ok(_) => panic!("the join ended before the value was dropped"),
                Err(t) => t,
            };
            let joiner = KillableThread::spawn(move || {
                let _ = target.join();
            });
            std::thread::sleep(Duration::from_millis(50));
            joiner.terminate();
            assert!(join_in_time(joiner).unwrap_err().is_terminated());
            release.send(()).unwrap();
            // The target, detached by the killed join, still leaves the
            // registry (checked by `isolated`).
        },
    );
}

/// An undelivered raise whose `Drop` raises into the thread joining the
/// target: the join is interrupted by that raise, and the target still
/// leaves the registry.
#[test]
fn a_raised_values_drop_that_raises_into_the_joiner() {
    struct RaisesIntoJoiner(Arc<Mutex<Option<killable::Killer>>>);
    impl Drop for RaisesIntoJoiner {
        fn drop(&mut self) {
            std::thread::sleep(Duration::from_millis(30));
            if let Some(k) = self.0.lock().unwrap().take() {
                let _ = k.raise(99_u16);
            }
        }
    }
    isolated("a_raised_values_drop_that_raises_into_the_joiner", || {
        for round in 0..10 {
            let joiner_slot = Arc::new(Mutex::new(None));
            let (in_tx, inside) = mpsc::channel::<()>();
            let (go_tx, go) = mpsc::channel::<()>();
            let target = KillableThread::spawn(move || {
                in_tx.send(()).unwrap();
                let _ = go.recv();
                5
            });
            inside.recv().unwrap();
            target
                .raise(RaisesIntoJoiner(joiner_slot.clone()))
                .ok()
                .unwrap();
            let slot = joiner_slot.clone();
            let joiner = KillableThread::spawn(move || {
                *slot.lock().unwrap() = killable::current();
                go_tx.send(()).unwrap();
                catch::<u16, _, _>(move || target.join().map_err(|e| e.to_string()))
            });
            match join_in_time(joiner).unwrap() {
                // The raise came while the join waited (or after it).
                Err(99) => {}
                Ok(Ok(5)) => {}
                other => panic!("round {round}: {other:?}"),
            }
        }
    });
}

/// A deadline hook that runs a `scope` whose children are terminated by a
/// `terminate_all` from elsewhere: the scope ends (with the termination
/// resumed in the hook, which is contained), and the target still gets
/// unblocked by the rest of the hook.
#[test]
fn a_deadline_hook_running_a_scope_whose_children_are_terminated() {
    isolated(
        "a_deadline_hook_running_a_scope_whose_children_are_terminated",
        || {
            let outcome = Arc::new(Mutex::new(None));
            let o = outcome.clone();
            let (in_scope_tx, in_scope) = mpsc::channel::<()>();
            let in_scope_tx = Mutex::new(in_scope_tx);
            let t = killable::Builder::new()
                .deadline(Instant::now() + Duration::from_millis(10))
                .spawn(move || {
                    blocked_with_hook(move || {
                        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                            scope(|s| {
                                let a = s.spawn(|| spin());
                                let b = s.spawn(|| killable::sleep(BOUND * 3));
                                in_scope_tx.lock().unwrap().send(()).unwrap();
                                (a.join().is_err(), b.join().is_err())
                            })
                        }));
                        *o.lock().unwrap() = Some(r.map_err(|_| "scope panicked"));
                    });
                    spin()
                })
                .unwrap();
            in_scope.recv_timeout(BOUND).unwrap();
            std::thread::sleep(Duration::from_millis(20));
            registry::terminate_all();
            assert!(join_in_time(t).unwrap_err().is_terminated());
            assert_eq!(*outcome.lock().unwrap(), Some(Ok((true, true))));
        },
    );
}

/// The same token's `run` nested in itself: a cancel unwinds both, the
/// outermost catches it, and the thread is left clean.
#[test]
fn a_token_run_nested_in_itself_is_caught_by_the_outermost() {
    isolated(
        "a_token_run_nested_in_itself_is_caught_by_the_outermost",
        || {
            for round in 0..20 {
                let token = CancelToken::new();
                let tk = token.clone();
                let inner_returned = Arc::new(AtomicBool::new(false));
                let ir = inner_returned.clone();
                let (in_tx, inside) = mpsc::channel::<()>();
                let t = std::thread::spawn(move || {
                    let r = tk.run(|| {
                        let r = tk.run(|| {
                            in_tx.send(()).unwrap();
                            spin()
                        });
                        ir.store(true, SeqCst);
                        r
                    });
                    checkpoint();
                    r
                });
                inside.recv().unwrap();
                token.cancel();
                assert_eq!(t.join().unwrap(), Err(Cancelled), "round {round}");
                assert!(
                    !inner_returned.load(SeqCst),
                    "round {round}: the inner run caught it"
                );
            }
        },
    );
}

/// `cancel()` runs the hooks of the runs it interrupts; a hook that
/// re-enters the token (cancels it again, cancels its parent, makes and
/// drops children, runs under it) does not deadlock.
#[test]
fn interrupt_hooks_that_reenter_the_cancelling_token() {
    isolated("interrupt_hooks_that_reenter_the_cancelling_token", || {
        for round in 0..20 {
            let parent = CancelToken::new();
            let token = parent.child();
            let (in_tx, inside) = mpsc::channel::<()>();
            let in_tx = Mutex::new(in_tx);
            let workers: Vec<_> = (0..3)
                .map(|_| {
                    let (tk, p) = (token.clone(), parent.clone());
                    let in_tx = in_tx.lock().unwrap().clone();
                    std::thread::spawn(move || {
                        let hook_tk = tk.clone();
                        tk.run(|| {
                            let (tx, rx) = mpsc::channel::<()>();
                            let tx = Mutex::new(tx);
                            interruptible(
                                || {
                                    in_tx.send(()).unwrap();
                                    let _ = rx.recv();
                                },
                                move || {
                                    hook_tk.cancel();
                                    p.cancel();
                                    let c = hook_tk.child();
                                    assert!(c.is_cancelled());
                                    drop(c);
                                    assert_eq!(hook_tk.run(|| ()), Err(Cancelled));
                                    let _ = tx.lock().unwrap().send(());
                                },
                            )
                        })
                    })
                })
                .collect();
            for _ in 0..3 {
                inside.recv().unwrap();
            }
            let canceller = std::thread::spawn(move || token.cancel());
            let t0 = Instant::now();
            while !canceller.is_finished() && t0.elapsed() < BOUND {
                std::thread::sleep(Duration::from_millis(5));
            }
            assert!(
                canceller.is_finished(),
                "round {round}: cancel() deadlocked"
            );
            canceller.join().unwrap();
            for w in workers {
                assert_eq!(w.join().unwrap(), Err(Cancelled), "round {round}");
            }
            assert!(parent.is_cancelled());
        }
    });
}

/// A deadline hook calling `registry::join_all` waits for its own target
/// too (which waits for the hook): the timeout bounds it and names the
/// target; nothing deadlocks.
#[test]
fn join_all_from_a_deadline_hook_is_bounded_by_its_timeout() {
    isolated(
        "join_all_from_a_deadline_hook_is_bounded_by_its_timeout",
        || {
            let late = Arc::new(Mutex::new(None));
            let l = late.clone();
            let t = killable::Builder::new()
                .name("hooked".into())
                .deadline(Instant::now() + Duration::from_millis(10))
                .spawn(move || {
                    blocked_with_hook(move || {
                        let t0 = Instant::now();
                        let left = registry::join_all(Duration::from_millis(200));
                        let names: Vec<_> =
                            left.iter().map(|i| i.name().map(str::to_string)).collect();
                        *l.lock().unwrap() = Some((names, t0.elapsed() < BOUND));
                    });
                    spin()
                })
                .unwrap();
            assert!(join_in_time(t).unwrap_err().is_terminated());
            assert_eq!(
                *late.lock().unwrap(),
                Some((vec![Some("hooked".to_string())], true))
            );
        },
    );
}

/// `with_timeout` and `CancelToken::run` around code with no checkpoint,
/// with the deadline or the cancel landing around its return: always `Ok`
/// (f returned), and nothing left pending for the thread's next checkpoint.
#[test]
fn expiries_and_cancels_racing_a_returning_f_leave_nothing_behind() {
    isolated(
        "expiries_and_cancels_racing_a_returning_f_leave_nothing_behind",
        || {
            let t = KillableThread::spawn(|| {
                let mut rng =
                    Rng::new("expiries_and_cancels_racing_a_returning_f_leave_nothing_behind");
                for i in 0..3000_u32 {
                    let busy = rng.micros(200);
                    let busy_wait = move || {
                        let t0 = Instant::now();
                        while t0.elapsed() < busy {
                            std::hint::spin_loop();
                        }
                        i
                    };
                    if i % 2 == 0 {
                        let r = with_timeout(rng.micros(200), busy_wait);
                        assert_eq!(r, Ok(i), "f returned");
                    } else {
                        let token = CancelToken::new();
                        // The cancel comes once f has started: one before
                        // `run` is entered rightly gives Err without f.
                        let started = Arc::new(AtomicBool::new(false));
                        let canceller = {
                            let (token, started) = (token.clone(), started.clone());
                            let after = rng.micros(200);
                            std::thread::spawn(move || {
                                while !started.load(SeqCst) {
                                    std::thread::yield_now();
                                }
                                std::thread::sleep(after);
                                token.cancel();
                            })
                        };
                        let r = token.run(|| {
                            started.store(true, SeqCst);
                            busy_wait()
                        });
                        assert_eq!(r, Ok(i), "f returned");
                        canceller.join().unwrap();
                    }
                    // A kill left behind would unwind here.
                    checkpoint();
                }
            });
            join_in_time(t).unwrap();
        },
    );
}

/// A killed scope terminates its children as the parent unwinds; their
/// `interruptible` hooks then run on the unwinding parent, and one that
/// panics (with a payload whose `Drop` panics) must not abort. Children
/// blocked in killable accepts and reads end too.
#[test]
fn a_killed_scope_runs_its_childrens_panicking_hooks_and_wakes_their_io() {
    isolated(
        "a_killed_scope_runs_its_childrens_panicking_hooks_and_wakes_their_io",
        || {
            for round in 0..10 {
                let (ready_tx, ready) = mpsc::channel::<()>();
                let t = KillableThread::spawn(move || {
                    let listener = Killable::new(TcpListener::bind("127.0.0.1:0").unwrap());
                    let (_a, b) = UnixStream::pair().unwrap();
                    let mut b = Killable::new(b);
                    let listener = &listener;
                    scope(|s| {
                        let r = ready_tx.clone();
                        let _ = s.spawn(move || {
                            let (tx, rx) = mpsc::channel::<()>();
                            let tx = Mutex::new(tx);
                            interruptible(
                                || {
                                    r.send(()).unwrap();
                                    let _ = rx.recv();
                                },
                                move || {
                                    let _ = tx.lock().unwrap().send(());
                                    panic_any(PanicsOnDrop)
                                },
                            );
                            spin()
                        });
                        let r = ready_tx.clone();
                        let _ = s.spawn(move || {
                            r.send(()).unwrap();
                            listener.accept().map(|_| ())
                        });
                        let r = ready_tx.clone();
                        let _ = s.spawn(move || {
                            r.send(()).unwrap();
                            let mut buf = [0u8; 1];
                            b.read(&mut buf).map(|_| ())
                        });
                        spin()
                    })
                });
                for _ in 0..3 {
                    ready.recv().unwrap();
                }
                std::thread::sleep(Duration::from_millis(5));
                if round % 2 == 0 {
                    t.terminate();
                    assert!(
                        join_in_time(t).unwrap_err().is_terminated(),
                        "round {round}"
                    );
                } else {
                    t.raise(round).unwrap();
                    assert!(join_in_time(t).unwrap_err().is_raised(), "round {round}");
                }
            }
        },
    );
}
