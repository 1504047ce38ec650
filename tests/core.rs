//! Runtime tests of the core semantics (the promises of docs/GUARANTEES.md:
//! what a raise, a termination, a shield and a join do), with hand-written checkpoints so that they test the runtime alone.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::mpsc;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use killable::{catch, checkpoint, shield, JoinError, KillableThread, Killer};

/// "At once" on a shared, noisy 2-core machine.
const GENEROUS: Duration = Duration::from_secs(10);

fn spin_until(flag: &AtomicBool) {
    let start = Instant::now();
    while !flag.load(SeqCst) {
        assert!(start.elapsed() < GENEROUS, "timed out waiting for a flag");
        std::thread::yield_now();
    }
}

/// Spawns a thread that signals once it is running, so that a kill sent
/// after `started` returns lands in `body`, not at the thread's entry.
fn spawn_started<T: Send + 'static>(
    body: impl FnOnce() -> T + Send + 'static,
) -> KillableThread<T> {
    let barrier = Arc::new(Barrier::new(2));
    let b = barrier.clone();
    let t = KillableThread::spawn(move || {
        b.wait();
        body()
    });
    barrier.wait();
    t
}

#[derive(Debug, PartialEq, Clone)]
struct Reload {
    generation: u32,
    reason: String,
}

#[test]
fn typed_raise_reaches_join_with_its_data() {
    let t = spawn_started(|| loop {
        checkpoint();
    });
    let sent = Reload {
        generation: 7,
        reason: "config changed".into(),
    };
    t.raise(sent.clone()).unwrap();
    let err = t.join().unwrap_err();
    assert!(err.is_raised() && !err.is_terminated() && !err.is_panic());
    assert_eq!(
        err.to_string(),
        "thread ended with an uncaught raised value"
    );
    assert_eq!(err.downcast_raised::<Reload>().unwrap(), sent);
}

#[test]
fn downcast_to_the_wrong_type_gives_the_error_back() {
    let t = spawn_started(|| loop {
        checkpoint();
    });
    t.raise(3_u64).unwrap();
    let err = t.join().unwrap_err().downcast_raised::<u32>().unwrap_err();
    assert_eq!(err.downcast_raised::<u64>().unwrap(), 3);
}

#[test]
fn caught_raise_lets_the_thread_continue() {
    let (tx, rx) = mpsc::channel();
    let t = spawn_started(move || {
        let mut jobs_done = 0;
        for job in 0..3 {
            match catch::<Reload, _, _>(|| {
                tx.send(job).unwrap();
                loop {
                    checkpoint();
                }
            }) {
                Ok(()) => unreachable!(),
                Err(r) => jobs_done += r.generation,
            }
        }
        jobs_done
    });
    for generation in 1..=3 {
        rx.recv_timeout(GENEROUS).unwrap();
        t.raise(Reload {
            generation,
            reason: String::new(),
        })
        .unwrap();
    }
    assert_eq!(t.join().unwrap(), 1 + 2 + 3);
}

#[test]
fn catch_lets_other_types_panics_and_terminate_pass() {
    // Another raised type passes through.
    let t = spawn_started(|| {
        catch::<Reload, _, _>(|| loop {
            checkpoint()
        })
    });
    t.raise(1_i32).unwrap();
    assert_eq!(t.join().unwrap_err().downcast_raised::<i32>().unwrap(), 1);
    // A panic passes through.
    let t = KillableThread::spawn(|| catch::<Reload, _, _>(|| -> () { panic!("not a raise") }));
    assert!(t.join().unwrap_err().is_panic());
    // A termination passes through.
    let t = spawn_started(|| {
        catch::<Reload, _, _>(|| loop {
            checkpoint()
        })
    });
    t.terminate();
    assert!(t.join().unwrap_err().is_terminated());
}

#[test]
fn raises_are_delivered_in_order_one_per_checkpoint() {
    let armed = Arc::new(AtomicBool::new(false));
    let a = armed.clone();
    let t = spawn_started(move || {
        while !a.load(SeqCst) {
            std::hint::spin_loop();
        }
        // Every raise is queued before the first checkpoint below: each
        // checkpoint must deliver exactly one, oldest first.
        let mut got = Vec::new();
        for _ in 0..5 {
            match catch::<u32, _, _>(checkpoint) {
                Ok(()) => got.push(None),
                Err(v) => got.push(Some(v)),
            }
        }
        got
    });
    for v in 0..4_u32 {
        t.raise(v).unwrap();
    }
    armed.store(true, SeqCst);
    assert_eq!(
        t.join().unwrap(),
        vec![Some(0), Some(1), Some(2), Some(3), None]
    );
}

#[test]
fn terminate_survives_a_swallowing_catch_unwind() {
    let swallowed = Arc::new(AtomicUsize::new(0));
    let s = swallowed.clone();
    let inside = Arc::new(AtomicBool::new(false));
    let i = inside.clone();
    let t = spawn_started(move || loop {
        checkpoint(); // the loop head, as `#[killable]` puts it
                      // Error-clearing code: swallows every unwind, like the recipe's
                      // builtins that clear exceptions.
        if catch_unwind(|| loop {
            i.store(true, SeqCst);
            checkpoint();
        })
        .is_err()
        {
            s.fetch_add(1, SeqCst);
        }
    });
    spin_until(&inside);
    t.terminate();
    assert!(t.join().unwrap_err().is_terminated());
    // Swallowed once, then delivered again at the loop head, outside the
    // swallowing `catch_unwind`: the thread cannot get past it.
    assert_eq!(swallowed.load(SeqCst), 1);
}

#[test]
fn terminate_wins_over_a_pending_raise() {
    let go = Arc::new(AtomicBool::new(false));
    let g = go.clone();
    let t = spawn_started(move || {
        spin_until(&g);
        loop {
            checkpoint();
        }
    });
    t.raise(Reload {
        generation: 1,
        reason: String::new(),
    })
    .unwrap();
    t.terminate();
    // Once terminating, raises are refused and handed back.
    assert_eq!(t.raise(5_u8), Err(5));
    go.store(true, SeqCst);
    assert!(t.join().unwrap_err().is_terminated());
}

#[test]
fn raise_on_a_finished_thread_hands_the_value_back() {
    let t = KillableThread::spawn(|| 1);
    let killer = t.killer();
    assert_eq!(t.join().unwrap(), 1);
    let v = Reload {
        generation: 9,
        reason: "late".into(),
    };
    assert_eq!(killer.raise(v.clone()), Err(v));
    killer.terminate(); // a no-op, not an error or a hang
    assert!(!killer.is_alive() && killer.is_finished());
}

#[test]
fn shield_completes_its_section_and_the_kill_lands_after() {
    let progress = Arc::new(AtomicUsize::new(0));
    let p = progress.clone();
    let in_shield = Arc::new(AtomicBool::new(false));
    let s = in_shield.clone();
    let release = Arc::new(AtomicBool::new(false));
    let r = release.clone();
    let t = spawn_started(move || {
        shield(|| {
            s.store(true, SeqCst);
            spin_until(&r);
            for _ in 0..100 {
                checkpoint(); // shielded: must not unwind
                p.fetch_add(1, SeqCst);
            }
            // Nested shields keep delivery deferred.
            shield(checkpoint);
            checkpoint();
            p.fetch_add(1, SeqCst);
        });
        p.fetch_add(1000, SeqCst); // no checkpoint between the shield's end and here
        checkpoint(); // the first checkpoint after the shield: lands here
        p.fetch_add(1_000_000, SeqCst);
    });
    spin_until(&in_shield);
    t.terminate();
    release.store(true, SeqCst);
    assert!(t.join().unwrap_err().is_terminated());
    assert_eq!(progress.load(SeqCst), 101 + 1000);
}

#[test]
fn shield_returns_its_value_even_with_a_kill_pending() {
    let t = spawn_started(|| {
        let v = shield(|| {
            std::thread::sleep(Duration::from_millis(50));
            42
        });
        (v, catch::<u8, _, _>(checkpoint))
    });
    t.raise(1_u8).unwrap();
    let (v, caught) = t.join().unwrap();
    assert_eq!(v, 42);
    assert_eq!(caught, Err(1));
}

/// A destructor that passes checkpoints (as `#[killable]` code called from
/// `Drop` does) while the thread unwinds from a kill: those checkpoints must
/// not deliver again, or the double panic would abort the process.
struct CheckpointsInDrop(Arc<AtomicUsize>);

impl Drop for CheckpointsInDrop {
    fn drop(&mut self) {
        for _ in 0..10 {
            checkpoint();
            killable::sleep(Duration::from_millis(1)); // a killable wait, too
        }
        self.0.fetch_add(1, SeqCst);
    }
}

#[test]
fn no_abort_when_a_destructor_calls_checkpoints_during_the_unwind() {
    let dropped = Arc::new(AtomicUsize::new(0));
    let d = dropped.clone();
    let t = spawn_started(move || {
        let _a = CheckpointsInDrop(d.clone());
        let _b = CheckpointsInDrop(d);
        loop {
            checkpoint();
        }
    });
    t.terminate();
    assert!(t.join().unwrap_err().is_terminated());
    assert_eq!(dropped.load(SeqCst), 2);
}

#[test]
fn destructors_on_a_normal_exit_are_ordinary_code() {
    // A raise pending while a scope ends normally is delivered at a
    // checkpoint in a destructor: that destructor is ordinary code.
    struct Catches(Arc<AtomicBool>);
    impl Drop for Catches {
        fn drop(&mut self) {
            if catch::<u8, _, _>(checkpoint).is_err() {
                self.0.store(true, SeqCst);
            }
        }
    }
    let caught = Arc::new(AtomicBool::new(false));
    let c = caught.clone();
    let go = Arc::new(AtomicBool::new(false));
    let g = go.clone();
    let t = spawn_started(move || {
        let _x = Catches(c);
        spin_until(&g);
    });
    t.raise(1_u8).unwrap();
    go.store(true, SeqCst);
    t.join().unwrap();
    assert!(caught.load(SeqCst));
}

#[test]
fn checkpoint_on_a_plain_thread_never_unwinds() {
    // A kill pending elsewhere makes every checkpoint take the slow path;
    // on a thread that is not killable it must still do nothing.
    let victim = spawn_started(|| loop {
        killable::sleep(Duration::from_millis(1));
    });
    let hold = Arc::new(AtomicBool::new(false));
    let h = hold.clone();
    let swallower = spawn_started(move || {
        while !h.load(SeqCst) {
            let _ = catch_unwind(checkpoint); // keeps its terminate pending
        }
    });
    swallower.terminate();
    for _ in 0..100_000 {
        checkpoint();
    }
    std::thread::spawn(|| {
        for _ in 0..100_000 {
            checkpoint();
        }
    })
    .join()
    .unwrap();
    hold.store(true, SeqCst);
    victim.terminate();
    assert!(victim.join().unwrap_err().is_terminated());
    // It swallowed every delivery and then returned: a body that returns
    // has a result, terminate or not.
    swallower.join().unwrap();
}

#[test]
fn panics_are_reported_with_their_payload() {
    let t = KillableThread::spawn(|| -> () {
        let n = std::hint::black_box(42); // a runtime value: a `String` payload
        panic!("boom {n}")
    });
    let err = t.join().unwrap_err();
    assert!(err.is_panic());
    assert_eq!(err.to_string(), "thread panicked: boom 42");
    assert_eq!(
        *err.into_panic().unwrap().downcast::<String>().unwrap(),
        "boom 42"
    );
}

#[test]
fn join_error_is_a_std_error_that_works_with_question_mark() {
    fn run() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let t = KillableThread::spawn(|| loop {
            checkpoint();
        });
        t.terminate();
        t.join()?;
        Ok(())
    }
    let err = run().unwrap_err();
    assert_eq!(err.to_string(), "thread was terminated");
    let je: &JoinError = err.downcast_ref().unwrap();
    assert!(je.is_terminated());
}

#[test]
fn handles_are_send_sync_and_debug() {
    fn send_sync<T: Send + Sync + std::fmt::Debug + Clone>() {}
    send_sync::<Killer>();
    fn send<T: Send + std::fmt::Debug>() {}
    send::<KillableThread<String>>();
    send::<JoinError>();
    let t = killable::Builder::new()
        .name("dbg".into())
        .spawn(|| ())
        .unwrap();
    let s = format!("{t:?}");
    assert!(s.contains("dbg"), "{s}");
    t.join().unwrap();
}

#[test]
fn is_alive_until_the_body_ends() {
    let go = Arc::new(AtomicBool::new(false));
    let g = go.clone();
    let t = KillableThread::spawn(move || spin_until(&g));
    assert!(t.is_alive() && !t.is_finished());
    go.store(true, SeqCst);
    let killer = t.killer();
    t.join().unwrap();
    assert!(!killer.is_alive());
}

#[test]
fn killer_from_another_thread() {
    let t = spawn_started(|| loop {
        checkpoint();
    });
    let k = t.killer();
    std::thread::spawn(move || k.raise("from afar").unwrap())
        .join()
        .unwrap();
    assert_eq!(
        t.join().unwrap_err().downcast_raised::<&str>().unwrap(),
        "from afar"
    );
}

#[test]
fn a_thread_can_terminate_itself() {
    let (tx, rx) = mpsc::channel();
    let t = spawn_started(move || {
        let me: Killer = rx.recv().unwrap();
        me.terminate();
        // Takes effect at the next checkpoint, not inside `terminate`.
        let reached = Arc::new(AtomicBool::new(true));
        checkpoint();
        reached.store(false, SeqCst);
    });
    tx.send(t.killer()).unwrap();
    assert!(t.join().unwrap_err().is_terminated());
}

#[test]
fn stack_size_the_os_refuses_is_an_error_not_a_panic() {
    let r = killable::Builder::new().stack_size(usize::MAX).spawn(|| ());
    assert!(r.is_err());
}

#[test]
fn join_timeout_hands_the_handle_back() {
    let t = spawn_started(|| loop {
        killable::sleep(Duration::from_millis(1));
    });
    let t = t.join_timeout(Duration::from_millis(20)).unwrap_err();
    assert!(t.is_alive());
    t.terminate();
    let r = t
        .join_timeout(GENEROUS)
        .expect("terminated thread finishes");
    assert!(r.unwrap_err().is_terminated());
}

#[test]
fn scoped_threads_borrow_locals_and_can_be_killed() {
    let mut results = vec![0u64; 4];
    let stop_me = std::sync::atomic::AtomicU64::new(0);
    killable::scope(|s| {
        let workers: Vec<_> = results
            .iter_mut()
            .enumerate()
            .map(|(i, slot)| {
                s.spawn(move || {
                    *slot = i as u64 * 10;
                })
            })
            .collect();
        let spinner = s.spawn(|| loop {
            stop_me.fetch_add(1, SeqCst);
            checkpoint();
        });
        for w in workers {
            w.join().unwrap();
        }
        // Terminated only once it has run: a kill sent earlier would land at
        // the thread's entry, before its body (and that is fine, but not
        // what this test is about).
        let start = Instant::now();
        while stop_me.load(SeqCst) == 0 {
            assert!(start.elapsed() < GENEROUS, "the spinner never ran");
            std::thread::yield_now();
        }
        spinner.terminate();
        assert!(spinner.join().unwrap_err().is_terminated());
    });
    assert_eq!(results, [0, 10, 20, 30]);
    assert!(stop_me.load(SeqCst) > 0);
}

#[test]
fn unjoined_scoped_threads_that_were_killed_do_not_panic_the_scope() {
    killable::scope(|s| {
        let t = s.spawn(|| loop {
            checkpoint();
        });
        t.terminate();
        // not joined: the scope joins it and, as it was a kill, stays quiet
    });
}

#[test]
fn unjoined_scoped_thread_that_panicked_panics_the_scope_like_std() {
    let r = catch_unwind(AssertUnwindSafe(|| {
        killable::scope(|s| {
            let _ = s.spawn(|| -> () { panic!("scoped boom") });
        });
    }));
    assert!(r.is_err());
    // Joined, the panic is the join's error and the scope is fine.
    killable::scope(|s| {
        let t = s.spawn(|| -> () { panic!("joined boom") });
        assert!(t.join().unwrap_err().is_panic());
    });
}

#[test]
fn joining_yourself_panics_clearly() {
    let (tx, rx) = mpsc::channel::<KillableThread<()>>();
    let (out_tx, out_rx) = mpsc::channel::<String>();
    let _detached = KillableThread::spawn(move || {
        let me = rx.recv().unwrap();
        let payload = catch_unwind(AssertUnwindSafe(|| me.join())).unwrap_err();
        let msg = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        out_tx.send(msg).unwrap();
    });
    let killer = _detached.killer();
    tx.send(_detached).unwrap();
    let msg = out_rx.recv_timeout(GENEROUS).unwrap();
    assert!(msg.contains("cannot join itself"), "{msg}");
    let start = Instant::now();
    while killer.is_alive() {
        assert!(start.elapsed() < GENEROUS);
        std::thread::yield_now();
    }
}
