//! Kills in awkward places, and misuse. None of these may abort the process:
//! an abort kills the whole test binary, so every test here failing by abort
//! shows up as the binary dying, not as one failed test.
//!
//! Every test takes `SERIAL`: `stack_size_the_os_refuses_leaves_no_registry_entry`
//! counts the registry's entries with `terminate_all`, which must find no
//! other test's threads (and must not terminate them).

use std::cell::RefCell;
use std::ffi::c_void;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use killable::{
    catch, checkpoint, killable, registry, shield, with_deadline, with_timeout, Builder,
    KillableThread, Killer, TimedOut,
};

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

const PATIENCE: Duration = Duration::from_secs(10);

/// Waits (up to `PATIENCE`) for `flag`.
fn wait_for(flag: &AtomicBool) {
    let start = Instant::now();
    while !flag.load(SeqCst) {
        assert!(start.elapsed() < PATIENCE, "timed out waiting for a flag");
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_default()
}

/// A destructor that passes checkpoints and a killable wait. During a kill
/// unwind none of them may deliver (a second unwind would abort); it must
/// run to its end.
struct CheckpointingDrop {
    finished: Arc<AtomicBool>,
}

impl Drop for CheckpointingDrop {
    fn drop(&mut self) {
        for _ in 0..1_000 {
            checkpoint();
        }
        killable::sleep(Duration::from_millis(1));
        shield(checkpoint);
        checkpoint();
        self.finished.store(true, SeqCst);
    }
}

#[test]
fn a_kill_pending_during_a_destructor_in_the_unwind_does_not_abort() {
    let _s = serial();
    let finished = Arc::new(AtomicBool::new(false));
    let started = Arc::new(AtomicBool::new(false));
    let t = {
        let (finished, started) = (finished.clone(), started.clone());
        KillableThread::spawn(move || {
            let _guard = CheckpointingDrop { finished };
            started.store(true, SeqCst);
            loop {
                checkpoint();
            }
        })
    };
    wait_for(&started);
    t.terminate();
    // A raise sent during the unwind is refused (terminate wins) rather
    // than delivered into the destructor.
    assert_eq!(t.raise(1u8), Err(1));
    assert!(t.join().unwrap_err().is_terminated());
    assert!(finished.load(SeqCst), "the destructor ran to its end");
}

/// A destructor run on a normal scope exit is ordinary code: a kill lands in
/// it, and the unwind out of it still drops everything else.
#[test]
fn a_kill_during_a_destructor_on_normal_exit_unwinds_and_drops_the_rest() {
    let _s = serial();
    struct Blocks(Arc<AtomicBool>);
    impl Drop for Blocks {
        fn drop(&mut self) {
            self.0.store(true, SeqCst);
            loop {
                checkpoint();
            }
        }
    }
    struct Flag(Arc<AtomicBool>);
    impl Drop for Flag {
        fn drop(&mut self) {
            self.0.store(true, SeqCst);
        }
    }
    let in_drop = Arc::new(AtomicBool::new(false));
    let outer_dropped = Arc::new(AtomicBool::new(false));
    let t = {
        let (in_drop, outer_dropped) = (in_drop.clone(), outer_dropped.clone());
        KillableThread::spawn(move || {
            let _outer = Flag(outer_dropped);
            {
                let _blocks = Blocks(in_drop);
            } // normal exit: `Blocks::drop` loops until killed
            unreachable!("the kill unwinds out of the destructor");
        })
    };
    wait_for(&in_drop);
    t.terminate();
    assert!(t.join().unwrap_err().is_terminated());
    assert!(outer_dropped.load(SeqCst));
}

thread_local! {
    static TLS_PROBE: RefCell<Option<TlsProbe>> = const { RefCell::new(None) };
}

/// Stored in a thread-local: its destructor runs after the thread's body,
/// during thread-local destruction, where no kill may be delivered.
struct TlsProbe {
    entered: Arc<AtomicBool>,
    go_on: mpsc::Receiver<()>,
    finished: Arc<AtomicBool>,
}

impl Drop for TlsProbe {
    fn drop(&mut self) {
        self.entered.store(true, SeqCst);
        // The test kills the thread now; we wait until it has tried. (No
        // unwrap: a panic in a thread-local destructor aborts, and would
        // hide the test's own failure message.)
        let _ = self.go_on.recv_timeout(PATIENCE);
        for _ in 0..1_000 {
            checkpoint();
        }
        killable::sleep(Duration::from_millis(1));
        self.finished.store(true, SeqCst);
    }
}

#[test]
fn a_kill_during_a_thread_local_destructor_is_refused_and_does_not_abort() {
    let _s = serial();
    let entered = Arc::new(AtomicBool::new(false));
    let finished = Arc::new(AtomicBool::new(false));
    let (go_on, go_on_rx) = mpsc::channel();
    let t = {
        let (entered, finished) = (entered.clone(), finished.clone());
        KillableThread::spawn(move || {
            TLS_PROBE.with(|p| {
                *p.borrow_mut() = Some(TlsProbe {
                    entered,
                    go_on: go_on_rx,
                    finished,
                })
            });
            "body done"
        })
    };
    let killer = t.killer();
    wait_for(&entered);
    // The body has returned: the thread is finished as far as kills go.
    assert!(!killer.is_alive());
    assert_eq!(
        killer.raise("late"),
        Err("late"),
        "the raise is handed back"
    );
    killer.terminate(); // does nothing
    go_on.send(()).unwrap();
    assert_eq!(t.join().unwrap(), "body done");
    assert!(
        finished.load(SeqCst),
        "the thread-local destructor ran to its end"
    );
}

#[test]
fn a_kill_inside_a_shield_inside_catch_unwind_lands_after_the_shield() {
    let _s = serial();
    let in_shield = Arc::new(AtomicBool::new(false));
    let t = {
        let in_shield = in_shield.clone();
        KillableThread::spawn(move || {
            let caught = catch_unwind(AssertUnwindSafe(|| {
                shield(|| {
                    in_shield.store(true, SeqCst);
                    // Wait, passing checkpoints, until the kill is pending.
                    while killable::registry::info(std::thread::current().id()).map(|i| i.state())
                        != Some(registry::RunState::Terminating)
                    {
                        checkpoint();
                    }
                    checkpoint();
                    "section complete"
                })
            }));
            // The shield completed and returned its value; nothing unwound.
            let section = caught.expect("nothing is delivered inside the shield");
            assert!(!killable::is_shielded(), "the shield depth is restored");
            // A panic through a shield restores the depth too.
            let _ = catch_unwind(|| shield(|| panic!("inside a shield")));
            assert!(!killable::is_shielded());
            checkpoint(); // the first checkpoint after the shield
            unreachable!("{section}: the kill lands here");
        })
    };
    wait_for(&in_shield);
    t.terminate();
    assert!(t.join().unwrap_err().is_terminated());
}

#[test]
fn a_kill_while_holding_a_std_mutex_poisons_it() {
    let _s = serial();
    let data = Arc::new(Mutex::new(vec![1, 2, 3]));
    let locked = Arc::new(AtomicBool::new(false));
    let t = {
        let (data, locked) = (data.clone(), locked.clone());
        KillableThread::spawn(move || {
            let mut g = data.lock().unwrap();
            g.push(4);
            locked.store(true, SeqCst);
            loop {
                checkpoint(); // killed here, guard held: half-done update
            }
        })
    };
    wait_for(&locked);
    t.terminate();
    assert!(t.join().unwrap_err().is_terminated());
    assert!(data.is_poisoned(), "a kill is an unwind: the guard poisons");
    let g = data.lock().unwrap_err().into_inner();
    assert_eq!(*g, [1, 2, 3, 4], "the data is still there to inspect");
}

/// An FFI-style callback: `extern "C-unwind"` lets the kill unwind through
/// it into the (Rust-simulated) C caller and on out of the thread.
#[killable]
extern "C-unwind" fn on_item(ctx: *mut c_void) {
    // SAFETY: `ctx` is the `&AtomicUsize` that `c_like_driver`'s caller
    // passes, alive for the whole call.
    let calls = unsafe { &*(ctx as *const AtomicUsize) };
    calls.fetch_add(1, SeqCst);
}

/// Stands for a C library looping over callbacks: no checkpoints of its own.
extern "C-unwind" fn c_like_driver(cb: extern "C-unwind" fn(*mut c_void), ctx: *mut c_void) {
    loop {
        cb(ctx);
    }
}

#[test]
fn a_kill_inside_an_extern_c_unwind_callback_unwinds_through_the_caller() {
    let _s = serial();
    let calls = Arc::new(AtomicUsize::new(0));
    let dropped = Arc::new(AtomicBool::new(false));
    let t = {
        let (calls, dropped) = (calls.clone(), dropped.clone());
        KillableThread::spawn(move || {
            struct Flag(Arc<AtomicBool>);
            impl Drop for Flag {
                fn drop(&mut self) {
                    self.0.store(true, SeqCst);
                }
            }
            let _f = Flag(dropped);
            c_like_driver(on_item, Arc::as_ptr(&calls) as *mut c_void);
        })
    };
    let start = Instant::now();
    while calls.load(SeqCst) < 1_000 {
        assert!(start.elapsed() < PATIENCE);
        std::thread::yield_now();
    }
    t.terminate();
    assert!(t.join().unwrap_err().is_terminated());
    assert!(
        dropped.load(SeqCst),
        "frames above the callback were unwound"
    );
}

#[test]
fn a_thread_terminating_itself_is_killed_at_its_next_checkpoint() {
    let _s = serial();
    let (tx, rx) = mpsc::channel::<Killer>();
    let after = Arc::new(AtomicUsize::new(0));
    let t = {
        let after = after.clone();
        KillableThread::spawn(move || {
            let me = rx.recv().unwrap();
            me.terminate();
            // Not a checkpoint: the code up to the next one still runs.
            after.store(1, SeqCst);
            assert!(me.is_alive());
            checkpoint();
            after.store(2, SeqCst);
        })
    };
    tx.send(t.killer()).unwrap();
    assert!(t.join().unwrap_err().is_terminated());
    assert_eq!(after.load(SeqCst), 1);
}

#[test]
fn a_thread_raising_into_itself_can_catch_it() {
    let _s = serial();
    #[derive(Debug, PartialEq)]
    struct Note(u32);
    let (tx, rx) = mpsc::channel::<Killer>();
    let t = KillableThread::spawn(move || {
        let me = rx.recv().unwrap();
        me.raise(Note(7)).unwrap();
        catch::<Note, _, _>(|| loop {
            checkpoint();
        })
        .unwrap_err()
    });
    tx.send(t.killer()).unwrap();
    assert_eq!(t.join().unwrap(), Note(7));
}

#[test]
fn joining_your_own_handle_panics_with_a_clear_message() {
    let _s = serial();
    for timed in [false, true] {
        let (handle_tx, handle_rx) = mpsc::channel::<KillableThread<()>>();
        let (msg_tx, msg_rx) = mpsc::channel::<String>();
        let t = KillableThread::spawn(move || {
            let me = handle_rx.recv().unwrap();
            let r = catch_unwind(AssertUnwindSafe(|| {
                if timed {
                    let _ = me.join_timeout(Duration::from_secs(1));
                } else {
                    let _ = me.join();
                }
            }));
            msg_tx
                .send(panic_message(&*r.expect_err("joining yourself must panic")))
                .unwrap();
        });
        let killer = t.killer();
        handle_tx.send(t).unwrap();
        let msg = msg_rx.recv_timeout(PATIENCE).unwrap();
        assert!(msg.contains("cannot join itself"), "{msg:?}");
        let start = Instant::now();
        while killer.is_alive() {
            assert!(start.elapsed() < PATIENCE);
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

#[test]
#[cfg_attr(miri, ignore = "miri does not model stack sizes")]
fn stack_size_the_os_refuses_leaves_no_registry_entry() {
    let _s = serial();
    for size in [usize::MAX, usize::MAX / 2] {
        let err = Builder::new()
            .name("huge-stack".into())
            .stack_size(size)
            .spawn(|| unreachable!("never runs"))
            .expect_err("the OS refuses this stack size");
        assert!(err.raw_os_error().is_some(), "{err:?}");
    }
    assert!(registry::threads()
        .iter()
        .all(|i| i.name() != Some("huge-stack")));
    // `threads()` hides entries without an OS thread; `terminate_all` counts
    // every entry. No other killable thread exists now (`SERIAL`).
    assert_eq!(registry::terminate_all(), 0, "a failed spawn left an entry");
    assert!(registry::join_all(Duration::from_secs(1)).is_empty());
    // Spawning still works afterwards.
    let t = Builder::new().stack_size(256 * 1024).spawn(|| 5).unwrap();
    assert_eq!(t.join().unwrap(), 5);
}

#[test]
fn raise_on_a_finished_thread_hands_the_value_back_intact() {
    let _s = serial();
    #[derive(Debug, PartialEq)]
    struct Job {
        id: u64,
        payload: Vec<u8>,
    }
    let t = KillableThread::spawn(|| 1);
    let killer = t.killer();
    assert_eq!(t.join().unwrap(), 1);
    let job = Job {
        id: 9,
        payload: vec![1, 2, 3],
    };
    assert_eq!(
        killer.raise(job),
        Err(Job {
            id: 9,
            payload: vec![1, 2, 3]
        })
    );
    killer.terminate(); // a no-op, not a panic
    assert!(!killer.is_alive());
    // Also for a thread that ended by a kill, and one that panicked.
    let t = KillableThread::spawn(|| loop {
        checkpoint();
    });
    let k = t.killer();
    t.terminate();
    assert!(t.join().unwrap_err().is_terminated());
    assert_eq!(k.raise(3u8), Err(3));
    let t = KillableThread::spawn(|| panic!("boom"));
    let k = t.killer();
    assert!(t.join().unwrap_err().is_panic());
    assert_eq!(k.raise(4u8), Err(4));
}

#[test]
fn nested_timeouts_with_zero_or_past_deadlines() {
    let _s = serial();
    // Without a checkpoint inside, even an expired scope returns Ok.
    assert_eq!(with_timeout(Duration::ZERO, || 7), Ok(7));
    let past = Instant::now();
    std::thread::sleep(Duration::from_millis(2));
    assert_eq!(with_deadline(past, || 8), Ok(8));
    // An expired scope is delivered at the first checkpoint.
    let r: Result<(), TimedOut> = with_timeout(Duration::ZERO, || loop {
        checkpoint();
    });
    assert_eq!(r, Err(TimedOut));
    // Inner expired, outer not: the inner scope catches its own expiry.
    let r: Result<Result<(), TimedOut>, TimedOut> = with_timeout(PATIENCE, || {
        with_timeout(Duration::ZERO, || loop {
            checkpoint();
        })
    });
    assert_eq!(r, Ok(Err(TimedOut)));
    // Both expired: the outer expiry passes through the inner scope.
    let inner_returned = AtomicBool::new(false);
    let r: Result<(), TimedOut> = with_deadline(past, || {
        let _ = with_deadline(past, || loop {
            checkpoint();
        });
        inner_returned.store(true, SeqCst);
    });
    assert_eq!(r, Err(TimedOut));
    assert!(!inner_returned.load(SeqCst));
    // A deadline too far for `Instant` is no deadline.
    assert_eq!(with_timeout(Duration::MAX, || 9), Ok(9));
    // Nothing stays pending: later checkpoints on this plain thread are
    // no-ops.
    for _ in 0..10 {
        checkpoint();
    }
}
