//! Every killable blocking operation wakes at once on `terminate`, on `raise`
//! and on an expired `with_timeout` deadline, far sooner than its own
//! timeout (an hour), with the thread's destructors run. Plus: a waiter
//! woken by a kill never steals another waiter's notification, and a killed
//! receive loses no queued value.
//!
//! Bounds are generous (10 s for "at once") for a noisy shared 2-core
//! machine; wake latency figures belong to the benchmarks.

mod support;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc as std_mpsc, Arc, Barrier};
use std::thread::ThreadId;
use std::time::{Duration, Instant};

use killable::registry;
use killable::sync::{mpsc, Condvar, Mutex};
use killable::{catch, with_timeout, KillableThread, Killer, TimedOut};

/// What every blocking call is given as its own timeout: far beyond any bound.
const HOUR: Duration = Duration::from_secs(3600);
/// How long "at once" may take on a loaded CI machine.
use support::BOUND;

#[derive(Debug, PartialEq)]
struct Stop(u32);

/// Reports on a channel when dropped: proof that the unwind ran destructors.
struct Guard(std_mpsc::Sender<&'static str>);
impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.send("dropped");
    }
}

/// Waits until the registry shows thread `id` blocked in a killable wait,
/// then a little longer so that it is parked.
fn wait_blocked(id: ThreadId) {
    wait_marked_blocked(id);
    // `Blocked` is set just before the waiter's last test; give it time to
    // actually park, so the kill has something to wake.
    std::thread::sleep(Duration::from_millis(20));
}

/// Waits until the registry shows thread `id` blocked: for a sender, that
/// means it has queued itself.
fn wait_marked_blocked(id: ThreadId) {
    support::wait_until_blocked(id);
}

/// A thread that sleeps until it is terminated, for joins to wait on.
fn sleeper() -> KillableThread<()> {
    KillableThread::spawn(|| killable::sleep(HOUR))
}

#[derive(Clone, Copy, Debug)]
enum Op {
    Sleep,
    SleepUntil,
    Park,
    ParkTimeout,
    CondvarWait,
    CondvarWaitTimeout,
    CondvarWaitWhile,
    CondvarWaitTimeoutWhile,
    Recv,
    RecvTimeout,
    RecvIter,
    SyncSend,
    Join,
    JoinTimeout,
    JoinAll,
}

/// The blocking call under test, and what must outlive it.
struct Case {
    /// Blocks for an hour unless a kill ends it; panics if it returns.
    block: Box<dyn FnOnce() + Send>,
    /// Run once the blocked thread is gone: ends partner threads.
    cleanup: Box<dyn FnOnce()>,
}

fn case(op: Op) -> Case {
    let nothing: Box<dyn FnOnce()> = Box::new(|| {});
    match op {
        Op::Sleep => Case {
            block: Box::new(|| killable::sleep(HOUR)),
            cleanup: nothing,
        },
        Op::SleepUntil => Case {
            block: Box::new(|| killable::sleep_until(Instant::now() + HOUR)),
            cleanup: nothing,
        },
        // Parks return spuriously by contract, so loop, as real code does.
        Op::Park => Case {
            block: Box::new(|| loop {
                killable::park()
            }),
            cleanup: nothing,
        },
        Op::ParkTimeout => Case {
            block: Box::new(|| loop {
                killable::park_timeout(HOUR)
            }),
            cleanup: nothing,
        },
        Op::CondvarWait
        | Op::CondvarWaitTimeout
        | Op::CondvarWaitWhile
        | Op::CondvarWaitTimeoutWhile => {
            let pair = Arc::new((Mutex::new(false), Condvar::new()));
            let p = pair.clone();
            Case {
                block: Box::new(move || {
                    let (m, cv) = &*p;
                    let g = m.lock().unwrap();
                    match op {
                        Op::CondvarWait => {
                            let mut g = g;
                            while !*g {
                                g = cv.wait(g).unwrap();
                            }
                        }
                        Op::CondvarWaitTimeout => {
                            let (_g, r) = cv.wait_timeout(g, HOUR).unwrap();
                            panic!("wait_timeout returned (timed out: {})", r.timed_out());
                        }
                        Op::CondvarWaitWhile => {
                            drop(cv.wait_while(g, |ready| !*ready).unwrap());
                        }
                        _ => {
                            drop(cv.wait_timeout_while(g, HOUR, |ready| !*ready).unwrap());
                        }
                    }
                    panic!("condvar wait returned");
                }),
                cleanup: Box::new(move || {
                    // A killed waiter unwinds with the mutex released.
                    assert!(!pair.0.is_poisoned());
                    assert!(!*pair.0.lock().unwrap());
                }),
            }
        }
        Op::Recv | Op::RecvTimeout | Op::RecvIter => {
            let (tx, rx) = mpsc::channel::<u32>();
            Case {
                block: Box::new(move || {
                    match op {
                        Op::Recv => drop(rx.recv()),
                        Op::RecvTimeout => drop(rx.recv_timeout(HOUR)),
                        _ => rx.iter().for_each(drop),
                    }
                    panic!("receive returned");
                }),
                // The sender lives until the receiver is gone: no disconnect.
                cleanup: Box::new(move || drop(tx)),
            }
        }
        Op::SyncSend => {
            let (tx, rx) = mpsc::sync_channel::<u32>(1);
            tx.send(0).unwrap(); // full: the next send blocks
            Case {
                block: Box::new(move || {
                    let _ = tx.send(1);
                    panic!("send returned");
                }),
                cleanup: Box::new(move || {
                    // The killed send left the queue as it was.
                    assert_eq!(rx.try_recv(), Ok(0));
                    assert_eq!(rx.try_recv(), Err(mpsc::TryRecvError::Disconnected));
                }),
            }
        }
        Op::Join | Op::JoinTimeout => {
            let partner = sleeper();
            let k = partner.killer();
            Case {
                block: Box::new(move || {
                    if let Op::Join = op {
                        drop(partner.join());
                    } else {
                        drop(partner.join_timeout(HOUR));
                    }
                    panic!("join returned");
                }),
                cleanup: Box::new(move || stop(&k)),
            }
        }
        Op::JoinAll => {
            let partner = sleeper();
            let k = partner.killer();
            Case {
                block: Box::new(move || {
                    drop(registry::join_all(HOUR));
                    panic!("join_all returned");
                }),
                cleanup: Box::new(move || {
                    stop(&k);
                    drop(partner.join());
                }),
            }
        }
    }
}

/// Terminates a partner thread and waits (boundedly) for it to finish.
fn stop(k: &Killer) {
    k.terminate();
    let start = Instant::now();
    while k.is_alive() {
        assert!(start.elapsed() < BOUND, "partner thread did not stop");
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[derive(Clone, Copy)]
enum How {
    Terminate,
    Raise,
}

/// Blocks a killable thread in `op`, kills it `how`, and checks that it woke
/// at once, unwound with that kill, and ran its destructors.
fn killed(op: Op, how: How) {
    let Case { block, cleanup } = case(op);
    let (drops_tx, drops) = std_mpsc::channel();
    let t = KillableThread::spawn(move || {
        let _guard = Guard(drops_tx);
        block();
    });
    wait_blocked(t.id());
    let start = Instant::now();
    match how {
        How::Terminate => t.terminate(),
        How::Raise => t.raise(Stop(7)).unwrap(),
    }
    let result = match t.join_timeout(BOUND) {
        Ok(r) => r,
        Err(t) => {
            t.terminate();
            panic!("{op:?} did not wake within {BOUND:?}");
        }
    };
    let took = start.elapsed();
    match how {
        How::Terminate => assert!(result.unwrap_err().is_terminated(), "{op:?}"),
        How::Raise => assert_eq!(
            result.unwrap_err().downcast_raised::<Stop>().unwrap(),
            Stop(7)
        ),
    }
    assert_eq!(
        drops.recv_timeout(BOUND),
        Ok("dropped"),
        "{op:?}: guard not dropped"
    );
    assert!(took < BOUND, "{op:?} took {took:?}");
    cleanup();
}

/// Runs `op` inside a 100 ms `with_timeout` on a plain (not killable) thread:
/// the deadline, fired by the timer thread, wakes it.
fn deadline(op: Op) {
    let Case { block, cleanup } = case(op);
    let (drops_tx, drops) = std_mpsc::channel();
    let start = Instant::now();
    let r = std::thread::spawn(move || {
        with_timeout(Duration::from_millis(100), move || {
            let _guard = Guard(drops_tx);
            block();
        })
    })
    .join()
    .unwrap();
    let took = start.elapsed();
    assert_eq!(r, Err(TimedOut), "{op:?}");
    assert_eq!(
        drops.recv_timeout(BOUND),
        Ok("dropped"),
        "{op:?}: guard not dropped"
    );
    assert!(
        took >= Duration::from_millis(100),
        "{op:?} woke early: {took:?}"
    );
    assert!(took < BOUND, "{op:?} took {took:?}");
    cleanup();
}

macro_rules! woken {
    ($($name:ident => $op:expr,)*) => {$(
        mod $name {
            use super::*;
            #[test]
            fn by_terminate() {
                killed($op, How::Terminate);
            }
            #[test]
            fn by_raise() {
                killed($op, How::Raise);
            }
            #[test]
            fn by_deadline() {
                deadline($op);
            }
        }
    )*};
}

woken! {
    sleep => Op::Sleep,
    sleep_until => Op::SleepUntil,
    park => Op::Park,
    park_timeout => Op::ParkTimeout,
    condvar_wait => Op::CondvarWait,
    condvar_wait_timeout => Op::CondvarWaitTimeout,
    condvar_wait_while => Op::CondvarWaitWhile,
    condvar_wait_timeout_while => Op::CondvarWaitTimeoutWhile,
    recv => Op::Recv,
    recv_timeout => Op::RecvTimeout,
    recv_iter => Op::RecvIter,
    sync_send => Op::SyncSend,
    join => Op::Join,
    join_timeout => Op::JoinTimeout,
    join_all => Op::JoinAll,
}

/// Two waiters, A queued first. A is terminated and, right after, one
/// notification is sent. The kill is recorded before the notification, so A
/// can never consume it legitimately: whether `notify_one` reaches A before A
/// has left the queue (then A must pass it on) or after (then it goes to B
/// directly), B must wake. Without the pass-on in `Condvar`'s kill path, the
/// first ordering, the usual one since A is still waking up, strands B.
#[test]
fn killed_waiter_does_not_steal_a_notification() {
    for round in 0..200 {
        let pair = Arc::new((Mutex::new(()), Condvar::new()));
        let waiter = |p: Arc<(Mutex<()>, Condvar)>| {
            move || {
                let (m, cv) = &*p;
                drop(cv.wait(m.lock().unwrap()).unwrap());
            }
        };
        let a = KillableThread::spawn(waiter(pair.clone()));
        wait_queued(&pair.1, 1);
        let b = KillableThread::spawn(waiter(pair.clone()));
        wait_queued(&pair.1, 2);
        a.terminate();
        pair.1.notify_one();
        let b = match b.join_timeout(BOUND) {
            Ok(r) => r,
            Err(b) => {
                b.terminate();
                panic!("round {round}: B never got the notification");
            }
        };
        b.unwrap();
        assert!(a.join().unwrap_err().is_terminated());
        assert!(!pair.0.is_poisoned());
    }
}

/// Waits until `cv` has `n` queued waiters (its `Debug` shows the count).
fn wait_queued(cv: &Condvar, n: usize) {
    let want = format!("Condvar {{ waiters: {n} }}");
    let start = Instant::now();
    while format!("{cv:?}") != want {
        assert!(start.elapsed() < BOUND, "waiters never queued: {cv:?}");
        std::thread::yield_now();
    }
}

/// A waiter killed as `notify_all` reaches it has nothing to pass on: the
/// broadcast already woke everyone queued then. A waiter that queues right
/// after must not be woken by it (here the test thread, with a short timed
/// wait that must time out).
#[test]
fn killed_waiter_does_not_pass_on_a_broadcast() {
    for round in 0..50 {
        let pair = Arc::new((Mutex::new(()), Condvar::new()));
        let p = pair.clone();
        let a = KillableThread::spawn(move || {
            let (m, cv) = &*p;
            drop(cv.wait(m.lock().unwrap()).unwrap());
        });
        wait_queued(&pair.1, 1);
        let (m, cv) = &*pair;
        let g = m.lock().unwrap();
        a.terminate();
        cv.notify_all();
        let (_g, r) = cv.wait_timeout(g, Duration::from_millis(20)).unwrap();
        assert!(r.timed_out(), "round {round}: woken by a killed waiter");
        assert!(a.join().unwrap_err().is_terminated());
    }
}

/// A receive killed while values arrive leaves them queued: the raise is
/// recorded before the sends, so the woken receiver sees the kill first and
/// takes nothing; after catching it, the same receiver gets every value.
#[test]
fn values_survive_a_killed_recv() {
    let (tx, rx) = mpsc::channel::<u32>();
    let (stopped_tx, stopped) = std_mpsc::channel();
    let t = KillableThread::spawn(move || {
        let first = catch::<Stop, _, _>(|| rx.recv());
        stopped_tx.send(()).unwrap();
        (first.map(|r| r.ok()), rx.iter().collect::<Vec<_>>())
    });
    wait_blocked(t.id());
    t.raise(Stop(1)).unwrap();
    for v in 1..=3 {
        tx.send(v).unwrap();
    }
    stopped.recv_timeout(BOUND).unwrap();
    drop(tx);
    let (first, rest) = t.join().unwrap();
    assert_eq!(first, Err(Stop(1)));
    assert_eq!(rest, [1, 2, 3]);
}

/// A receive is a checkpoint: with a kill pending and values queued, it
/// delivers the kill and takes nothing.
#[test]
fn recv_delivers_a_pending_kill_before_taking_a_value() {
    let (tx, rx) = mpsc::channel::<u32>();
    let (started, go) = (Arc::new(Barrier::new(2)), Arc::new(Barrier::new(2)));
    let (s, g) = (started.clone(), go.clone());
    let t = KillableThread::spawn(move || {
        s.wait(); // past the thread's start, where a pending kill would land
        g.wait(); // not a checkpoint: the raise stays pending
        let first = catch::<Stop, _, _>(|| rx.recv().unwrap());
        (first, rx.try_recv().ok())
    });
    started.wait();
    tx.send(5).unwrap();
    t.raise(Stop(2)).unwrap();
    go.wait();
    assert_eq!(t.join().unwrap(), (Err(Stop(2)), Some(5)));
}

/// A stream of raises against a receiving loop loses and duplicates nothing.
#[test]
fn recv_under_a_storm_of_raises_loses_nothing() {
    const N: u32 = 20_000;
    let (tx, rx) = mpsc::channel::<u32>();
    let started = Arc::new(Barrier::new(2));
    let s = started.clone();
    let t = KillableThread::spawn(move || {
        let (mut got, mut stops) = (Vec::new(), 0u32);
        s.wait(); // no raise may land before the `catch`
        loop {
            match catch::<Stop, _, _>(|| rx.recv()) {
                Ok(Ok(v)) => got.push(v),
                Ok(Err(_)) => return (got, stops),
                Err(_) => stops += 1,
            }
        }
    });
    let killer = t.killer();
    started.wait();
    let done = Arc::new(AtomicBool::new(false));
    let d = done.clone();
    let raiser = std::thread::spawn(move || {
        let mut sent = 0u32;
        while !d.load(SeqCst) {
            if killer.raise(Stop(0)).is_ok() {
                sent += 1;
            }
            std::thread::sleep(Duration::from_micros(100));
        }
        sent
    });
    for v in 0..N {
        tx.send(v).unwrap();
        if v % 64 == 0 {
            std::thread::yield_now();
        }
    }
    done.store(true, SeqCst);
    let raised = raiser.join().unwrap();
    drop(tx);
    let (got, stops) = t.join().unwrap();
    let first_wrong = got.iter().zip(0..).position(|(&g, want)| g != want);
    assert_eq!(
        (got.len(), first_wrong),
        (N as usize, None),
        "values lost or reordered"
    );
    assert_eq!(stops, raised, "every accepted raise is delivered once");
}

/// The same for `notify_one` under kills: with a counter of notifications
/// consumed, no wake-up is lost however kills interleave.
#[test]
fn condvar_handoff_under_kills_loses_no_wakeup() {
    const ITEMS: usize = 2_000;
    let state = Arc::new((Mutex::new(0usize), Condvar::new()));
    let consumed = Arc::new(AtomicUsize::new(0));
    let started = Arc::new(Barrier::new(4));
    let consumers: Vec<_> = (0..3)
        .map(|_| {
            let (s, c, b) = (state.clone(), consumed.clone(), started.clone());
            KillableThread::spawn(move || {
                b.wait(); // no raise may land before the `catch`
                loop {
                    let _ = catch::<Stop, _, _>(|| {
                        let (m, cv) = &*s;
                        let mut g = cv.wait_while(m.lock().unwrap(), |n| *n == 0).unwrap();
                        *g -= 1;
                        c.fetch_add(1, SeqCst);
                    });
                }
            })
        })
        .collect();
    let killers: Vec<Killer> = consumers.iter().map(|t| t.killer()).collect();
    started.wait();
    for i in 0..ITEMS {
        *state.0.lock().unwrap() += 1;
        state.1.notify_one();
        if i % 7 == 0 {
            let _ = killers[i % 3].raise(Stop(0));
        }
    }
    let start = Instant::now();
    while consumed.load(SeqCst) < ITEMS {
        assert!(
            start.elapsed() < BOUND,
            "stuck at {} of {ITEMS} with {} items left",
            consumed.load(SeqCst),
            *state.0.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    for t in consumers {
        t.terminate();
        assert!(t.join().unwrap_err().is_terminated());
    }
}

/// Waits until thread `id` is blocked, or panics after `BOUND`.
fn blocked(t: &KillableThread<impl Sized>) {
    wait_blocked(t.id());
}

#[test]
fn sync_channel_send_waits_for_room() {
    let (tx, rx) = mpsc::sync_channel::<u32>(2);
    tx.send(1).unwrap();
    tx.try_send(2).unwrap();
    assert_eq!(tx.try_send(3), Err(mpsc::TrySendError::Full(3)));
    let t = KillableThread::spawn(move || tx.send(3));
    blocked(&t);
    assert!(t.is_alive(), "a send into a full channel returned");
    assert_eq!(rx.recv(), Ok(1));
    assert_eq!(t.join().unwrap(), Ok(()));
    assert_eq!(rx.iter().collect::<Vec<_>>(), [2, 3]);
}

#[test]
fn sync_channel_disconnects_both_ways() {
    let (tx, rx) = mpsc::sync_channel::<u32>(1);
    tx.send(1).unwrap();
    let t = KillableThread::spawn(move || tx.send(2));
    blocked(&t);
    drop(rx); // wakes the blocked sender, which gets its value back
    assert_eq!(t.join().unwrap().unwrap_err().0, 2);

    let (tx, rx) = mpsc::sync_channel::<u32>(1);
    tx.send(7).unwrap();
    drop(tx);
    assert_eq!(rx.recv(), Ok(7));
    assert_eq!(rx.recv(), Err(mpsc::RecvError));
}

/// Several producers on a rendezvous and on small bounded channels: every
/// value arrives once, each producer's in order (a sender woken for room
/// that another took must queue again, not strand).
#[test]
fn sync_channels_hand_values_over_in_order() {
    for bound in [0, 1, 3] {
        sync_channel_in_order(bound);
    }
}

fn sync_channel_in_order(bound: usize) {
    let (tx, rx) = mpsc::sync_channel::<u32>(bound);
    if bound == 0 {
        // No receiver waiting: no room.
        assert_eq!(tx.try_send(0), Err(mpsc::TrySendError::Full(0)));
    }
    let producers: Vec<_> = (0..3)
        .map(|p| {
            let tx = tx.clone();
            KillableThread::spawn(move || {
                for i in 0..100 {
                    tx.send(p * 1000 + i).unwrap();
                }
            })
        })
        .collect();
    drop(tx);
    let mut got = Vec::new();
    loop {
        match rx.recv_timeout(BOUND) {
            Ok(v) => got.push(v),
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                panic!("bound {bound}: senders stranded after {} values", got.len())
            }
        }
    }
    for p in producers {
        p.join().unwrap();
    }
    assert_eq!(got.len(), 300);
    for p in 0..3 {
        let mine: Vec<u32> = got.iter().copied().filter(|v| v / 1000 == p).collect();
        assert_eq!(mine, (0..100).map(|i| p * 1000 + i).collect::<Vec<_>>());
    }
}

/// Like the condvar case: two senders blocked on a full channel, S1 queued
/// first; S1 is terminated and, right after, one value is taken. The room
/// that wakes S1 must reach S2 whether S1 had left the queue or not.
#[test]
fn killed_sender_does_not_steal_the_room() {
    for round in 0..100 {
        let (tx, rx) = mpsc::sync_channel::<u32>(1);
        tx.send(0).unwrap();
        let (tx1, tx2) = (tx.clone(), tx);
        let s1 = KillableThread::spawn(move || tx1.send(1));
        wait_marked_blocked(s1.id());
        let s2 = KillableThread::spawn(move || tx2.send(2));
        wait_marked_blocked(s2.id());
        s1.terminate();
        assert_eq!(rx.recv(), Ok(0));
        match s2.join_timeout(BOUND) {
            Ok(r) => r.unwrap().unwrap(),
            Err(s2) => {
                s2.terminate();
                panic!("round {round}: S2 never got the room");
            }
        }
        assert!(s1.join().unwrap_err().is_terminated());
        assert_eq!(rx.recv(), Ok(2));
    }
}

/// A producer whose sends are killed (and retried) under a storm of raises:
/// every value arrives exactly once, in order. A killed send queues nothing.
#[test]
fn sync_send_under_a_storm_of_raises_loses_and_duplicates_nothing() {
    const N: u32 = 5_000;
    let (tx, rx) = mpsc::sync_channel::<u32>(4);
    let started = Arc::new(Barrier::new(2));
    let s = started.clone();
    let producer = KillableThread::spawn(move || {
        s.wait(); // no raise may land before the `catch`
        let mut stops = 0u32;
        for v in 0..N {
            while catch::<Stop, _, _>(|| tx.send(v).unwrap()).is_err() {
                stops += 1;
            }
        }
        // One more send delivers raises still queued (a send is a
        // checkpoint) before the producer stops counting them.
        while catch::<Stop, _, _>(|| tx.send(u32::MAX).unwrap()).is_err() {
            stops += 1;
        }
        stops
    });
    let killer = producer.killer();
    started.wait();
    let done = Arc::new(AtomicBool::new(false));
    let d = done.clone();
    let raiser = std::thread::spawn(move || {
        let mut sent = 0u32;
        while !d.load(SeqCst) {
            if killer.raise(Stop(0)).is_ok() {
                sent += 1;
            }
            std::thread::sleep(Duration::from_micros(100));
        }
        sent
    });
    let mut got = Vec::with_capacity(N as usize);
    for _ in 0..N {
        got.push(rx.recv().unwrap());
        if got.len() % 64 == 0 {
            std::thread::yield_now();
        }
    }
    done.store(true, SeqCst);
    let raised = raiser.join().unwrap();
    assert_eq!(rx.recv(), Ok(u32::MAX));
    let stops = producer.join().unwrap();
    let first_wrong = got.iter().zip(0..).position(|(&g, want)| g != want);
    assert_eq!(
        (got.len(), first_wrong),
        (N as usize, None),
        "values lost, duplicated or reordered"
    );
    assert_eq!(stops, raised, "every accepted raise is delivered once");
}

/// `wait_while`'s predicate runs with the lock held: a kill pending while it
/// runs (here at a checkpoint inside it, as `#[killable]` would insert at the
/// closure's entry) must land in the wait, with the lock released, and not
/// poison the mutex.
#[test]
fn a_kill_never_lands_in_a_wait_while_predicate() {
    let pair = Arc::new((Mutex::new(false), Condvar::new()));
    let p = pair.clone();
    let (started, go) = (Arc::new(Barrier::new(2)), Arc::new(Barrier::new(2)));
    let (s, g) = (started.clone(), go.clone());
    let t = KillableThread::spawn(move || {
        s.wait();
        g.wait(); // not a checkpoint: the raise stays pending until the predicate
        let (m, cv) = &*p;
        let _ready = cv
            .wait_while(m.lock().unwrap(), |ready| {
                killable::checkpoint();
                !*ready
            })
            .unwrap();
    });
    started.wait();
    t.raise(Stop(9)).unwrap();
    go.wait();
    assert_eq!(
        t.join().unwrap_err().downcast_raised::<Stop>().unwrap(),
        Stop(9)
    );
    assert!(!pair.0.is_poisoned());
}
