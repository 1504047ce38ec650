//! Stress: thousands of killable threads, killed at random moments while they
//! sleep, wait on condvars and channels, sit in shields, catch raises, or
//! compute; and `terminate_all` racing a spawning thread.
//!
//! Checked: every join returns, with a result that fits what was sent (an
//! uncaught raise comes back with its own data, and it is the first one
//! accepted); nothing aborts; shielded sections are never cut; the registry
//! ends empty; every closure, raised value and thread-owned object is
//! dropped (counted exactly), and the resident set returns near its level
//! after a warm-up round.
//!
//! The default run (2,000 threads in waves of 200) takes a few seconds. For
//! a bigger one:
//!
//! ```text
//! KILLABLE_STRESS_THREADS=100000 KILLABLE_STRESS_WAVE=500 KILLABLE_STRESS_SEED=7 \
//!     cargo test --release --test stress -- --nocapture
//! ```
//!
//! `KILLABLE_STRESS_SEED` picks the random schedule (default: from the
//! clock; the seed is printed, so a failure can be replayed). The PRNG is a
//! SplitMix64 written inline: the test needs only a few random numbers and no
//! statistical quality, so no dependency.
//!
//! The tests take a process-wide lock: `terminate_all` reaches every killable
//! thread in the process, and the registry and memory checks need the
//! process to themselves.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::ThreadId;
use std::time::{Duration, Instant};

use killable::sync::mpsc;
use killable::sync::{Condvar, Mutex as KMutex};
use killable::{
    catch, checkpoint, killable, registry, shield, with_timeout, Builder, JoinError,
    KillableThread, Killer, TimedOut,
};

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// SplitMix64: a tiny, good-enough generator for random schedules.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn micros(&mut self, max: u64) -> Duration {
        Duration::from_micros(self.below(max + 1))
    }
}

fn seed() -> u64 {
    std::env::var("KILLABLE_STRESS_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        })
}

/// Objects alive that the test created: closures' captures, raised values,
/// thread-owned guards. Must be back to zero at the end.
static LIVE: AtomicI64 = AtomicI64::new(0);

struct Counted;

impl Counted {
    fn new() -> Counted {
        LIVE.fetch_add(1, SeqCst);
        Counted
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        LIVE.fetch_sub(1, SeqCst);
    }
}

/// A raise the jobs that catch swallow.
struct Poke(#[allow(dead_code)] Counted);

/// A raise nobody catches: it ends the thread, and must come back from join
/// with its sequence number.
struct Stop {
    seq: u64,
    _c: Counted,
}

/// Resident set size in bytes, from `/proc/self/statm` (Linux; 4 KiB pages).
fn rss() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

/// Computes in bursts with naps between them (a non-killable
/// `std::thread::sleep`: the kill waits for the next checkpoint), so that
/// hundreds of these do not starve the thread that kills them on 2 cores.
#[killable]
fn compute_forever(mut x: u64) -> u64 {
    loop {
        for _ in 0..2_000 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
        }
        if x == 0 {
            return x; // never, but the compiler cannot know
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[killable]
fn sum_to(n: u64) -> u64 {
    let mut s = 0;
    for i in 0..n {
        s += i;
    }
    s
}

/// What a thread does. All but `Finite` and `Channel` run until killed.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Job {
    Sleep,
    Condvar,
    Channel,
    Shielded,
    Catching,
    Compute,
    Timeouts,
    Finite,
}

const JOBS: [Job; 8] = [
    Job::Sleep,
    Job::Condvar,
    Job::Channel,
    Job::Shielded,
    Job::Catching,
    Job::Compute,
    Job::Timeouts,
    Job::Finite,
];

/// Shared by the threads of one wave.
struct Wave {
    gate: (KMutex<bool>, Condvar),
    /// Shielded sections entered and completed, over the wave.
    sections_in: AtomicU64,
    sections_out: AtomicU64,
    caught_pokes: AtomicU64,
}

struct Spawned {
    job: Job,
    thread: KillableThread<u64>,
    killer: Killer,
    id: ThreadId,
    /// Sequence number of the first `Stop` accepted, if any.
    first_stop: Option<u64>,
    /// Whether a raise of any kind was accepted before the first `Stop`
    /// (for non-catching jobs, that raise is the one delivered).
    first_raise_is_stop: Option<bool>,
    pokes_accepted: u64,
    terminated: bool,
    sender: Option<mpsc::Sender<u64>>,
    sent: u64,
    expect_finite: Option<u64>,
    has_deadline: bool,
}

fn spawn_job(job: Job, rng: &mut Rng, wave: &Arc<Wave>) -> Spawned {
    let w = wave.clone();
    let seed = rng.next();
    let nap = Duration::from_millis(1) + rng.micros(4_000);
    let finite_n = rng.below(10_000);
    let (sender, receiver) = if job == Job::Channel {
        let (tx, rx) = mpsc::channel::<u64>();
        (Some(tx), Some(rx))
    } else {
        (None, None)
    };
    let token = Counted::new();
    let body = move || -> u64 {
        let _token = token;
        match job {
            Job::Sleep => loop {
                killable::sleep(nap);
            },
            Job::Condvar => {
                let (m, cv) = &w.gate;
                let g = cv.wait_while(m.lock().unwrap(), |open| !*open).unwrap();
                unreachable!("the gate never opens: {}", *g)
            }
            Job::Channel => {
                let rx = receiver.unwrap();
                let mut sum = 0;
                while let Ok(v) = rx.recv() {
                    sum += v;
                }
                sum
            }
            Job::Shielded => loop {
                shield(|| {
                    w.sections_in.fetch_add(1, SeqCst);
                    for _ in 0..100 {
                        checkpoint();
                    }
                    std::thread::yield_now();
                    checkpoint();
                    w.sections_out.fetch_add(1, SeqCst);
                });
                killable::sleep(nap / 4);
            },
            Job::Catching => loop {
                if catch::<Poke, _, _>(|| compute_forever(seed)).is_err() {
                    w.caught_pokes.fetch_add(1, SeqCst);
                }
            },
            Job::Compute => compute_forever(seed),
            Job::Timeouts => loop {
                match with_timeout(nap / 2, || killable::sleep(nap)) {
                    Ok(()) | Err(TimedOut) => {}
                }
            },
            Job::Finite => sum_to(finite_n),
        }
    };
    let mut builder = Builder::new().stack_size(128 * 1024);
    let has_deadline = job != Job::Finite && rng.chance(5);
    if has_deadline {
        builder = builder.deadline(Instant::now() + rng.micros(5_000));
    }
    let thread = builder.spawn(body).expect("spawn");
    Spawned {
        job,
        killer: thread.killer(),
        id: thread.id(),
        thread,
        first_stop: None,
        first_raise_is_stop: None,
        pokes_accepted: 0,
        terminated: false,
        sender,
        sent: 0,
        expect_finite: (job == Job::Finite).then(|| (0..finite_n).sum()),
        has_deadline,
    }
}

/// One random action on a thread of the wave.
fn act(s: &mut Spawned, rng: &mut Rng, seq: &mut u64) {
    *seq += 1;
    match rng.below(10) {
        0..=3 => {
            if s.killer.raise(Poke(Counted::new())).is_ok() {
                s.pokes_accepted += 1;
                s.first_raise_is_stop.get_or_insert(false);
            }
        }
        4 => {
            let stop = Stop {
                seq: *seq,
                _c: Counted::new(),
            };
            if s.killer.raise(stop).is_ok() {
                s.first_stop.get_or_insert(*seq);
                s.first_raise_is_stop.get_or_insert(true);
            }
        }
        5 => {
            s.killer.terminate();
            s.terminated = true;
        }
        6 | 7 => {
            if let Some(tx) = &s.sender {
                let v = rng.below(100);
                if tx.send(v).is_ok() {
                    s.sent += v;
                }
            }
        }
        8 => {
            // The channel's producer goes away: the receiver returns.
            if rng.chance(30) {
                s.sender = None;
            }
        }
        _ => std::thread::yield_now(),
    }
}

/// Checks one join result against what was done to the thread.
fn check(s: &Spawned, result: Result<u64, JoinError>) {
    let ctx = format!("{:?} thread (terminated: {})", s.job, s.terminated);
    match result {
        Ok(v) => match s.job {
            Job::Finite => assert_eq!(Some(v), s.expect_finite, "{ctx}"),
            Job::Channel => {
                assert!(s.sender.is_none(), "{ctx}: returned while its sender lived");
                assert_eq!(v, s.sent, "{ctx}: a message was lost");
            }
            _ => panic!("{ctx} returned Ok({v}) but never ends by itself"),
        },
        Err(e) if e.is_terminated() => {
            assert!(
                s.terminated || s.has_deadline,
                "{ctx}: terminated without terminate()"
            );
        }
        Err(e) if e.is_raised() => match e.downcast_raised::<Stop>() {
            Ok(stop) => {
                assert_eq!(Some(stop.seq), s.first_stop, "{ctx}: not the first Stop");
                if s.job != Job::Catching {
                    assert_eq!(s.first_raise_is_stop, Some(true), "{ctx}: out of order");
                }
            }
            Err(e) => match e.downcast_raised::<Poke>() {
                // A catching job lets one escape only if it landed before
                // the body started (a raise sent before the thread runs
                // lands before its body), so only as the first raise.
                Ok(_) => assert_eq!(
                    s.first_raise_is_stop,
                    Some(false),
                    "{ctx}: a Poke escaped out of order"
                ),
                Err(e) => panic!("{ctx}: raised something never sent: {e:?}"),
            },
        },
        Err(e) => panic!("{ctx}: {e:?}"),
    }
}

/// Spawns a wave of `n` threads, kills them at random moments, joins them
/// all, and checks every result.
fn run_wave(n: usize, rng: &mut Rng, seq: &mut u64) -> Vec<ThreadId> {
    let wave = Arc::new(Wave {
        gate: (KMutex::new(false), Condvar::new()),
        sections_in: AtomicU64::new(0),
        sections_out: AtomicU64::new(0),
        caught_pokes: AtomicU64::new(0),
    });
    let mut threads: Vec<Spawned> = Vec::with_capacity(n);
    for _ in 0..n {
        let job = JOBS[rng.below(JOBS.len() as u64) as usize];
        threads.push(spawn_job(job, rng, &wave));
        // Some kills land before the thread has even started.
        if rng.chance(10) {
            let i = rng.below(threads.len() as u64) as usize;
            act(&mut threads[i], rng, seq);
        }
    }
    // Random kills at random moments, while the threads run.
    for _ in 0..n * 2 {
        let i = rng.below(n as u64) as usize;
        act(&mut threads[i], rng, seq);
        if rng.chance(3) {
            std::thread::sleep(rng.micros(500));
        }
        if rng.chance(1) {
            wave.gate.1.notify_all(); // spurious for the waiters: gate shut
        }
    }
    // Then everything still running is terminated, so every join returns.
    for s in &mut threads {
        if s.job == Job::Channel && rng.chance(50) {
            s.sender = None;
        } else {
            s.killer.terminate();
            s.terminated = true;
        }
    }
    let mut ids = Vec::with_capacity(n);
    for mut s in threads {
        let t = std::mem::replace(&mut s.thread, KillableThread::spawn(|| 0));
        let r = t.join_timeout(Duration::from_secs(10)).unwrap_or_else(|t| {
            panic!(
                "{:?} thread did not end within 10 s of its kill: {t:?}",
                s.job
            )
        });
        ids.push(s.id);
        check(&s, r);
        s.thread.join().unwrap();
    }
    assert_eq!(
        wave.sections_in.load(SeqCst),
        wave.sections_out.load(SeqCst),
        "a kill cut a shielded section"
    );
    assert!(
        !wave.gate.0.is_poisoned(),
        "killed condvar waiters unwind without the mutex"
    );
    ids
}

#[test]
#[cfg_attr(miri, ignore = "thousands of threads: far too slow under miri")]
fn thousands_of_threads_killed_at_random_moments() {
    let _s = serial();
    let total = env_or("KILLABLE_STRESS_THREADS", 2_000) as usize;
    let wave = env_or("KILLABLE_STRESS_WAVE", 200).max(1) as usize;
    let seed = seed();
    eprintln!("stress: {total} threads in waves of {wave}, KILLABLE_STRESS_SEED={seed}");
    let mut rng = Rng(seed);
    let mut seq = 0;
    let started = Instant::now();

    // Warm-up: the allocator's arenas, the timer thread, the registry's map.
    run_wave(wave, &mut rng, &mut seq);
    let baseline = rss();

    let mut ids = HashSet::new();
    let mut done = 0;
    while done < total {
        let n = wave.min(total - done);
        ids.extend(run_wave(n, &mut rng, &mut seq));
        done += n;
    }

    let listed: Vec<_> = registry::threads();
    assert!(
        listed.iter().all(|i| !ids.contains(&i.id())),
        "finished threads still listed: {listed:?}"
    );
    assert!(listed.is_empty(), "registry not empty: {listed:?}");
    assert_eq!(LIVE.load(SeqCst), 0, "objects leaked (or dropped twice)");
    if let (Some(before), Some(after)) = (baseline, rss()) {
        let grown = after.saturating_sub(before);
        eprintln!(
            "stress: RSS {} KiB after warm-up, {} KiB at the end (+{} KiB); {:?}",
            before / 1024,
            after / 1024,
            grown / 1024,
            started.elapsed()
        );
        assert!(
            grown < 32 << 20,
            "RSS grew by {} KiB over {total} threads",
            grown / 1024
        );
    }
}

/// `terminate_all` racing a thread that spawns killable threads: every
/// thread whose spawn returned, or whose body started, before
/// `terminate_all` began is terminated by it, with no other kill; the ones
/// spawned during or after are terminated or not, but none is left
/// half-registered.
#[test]
#[cfg_attr(miri, ignore = "thousands of threads: far too slow under miri")]
fn terminate_all_races_spawns() {
    let _s = serial();
    let seed = seed();
    eprintln!("terminate_all_races_spawns: KILLABLE_STRESS_SEED={seed}");
    let mut rng = Rng(seed);
    let rounds = env_or("KILLABLE_STRESS_ROUNDS", 20);
    for round in 0..rounds {
        let started = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let spawned = Arc::new(AtomicUsize::new(0));
        let spawner = {
            let (started, stop, spawned) = (started.clone(), stop.clone(), spawned.clone());
            std::thread::spawn(move || {
                let mut out = Vec::new();
                while !stop.load(SeqCst) {
                    let ran_before = Arc::new(AtomicBool::new(false));
                    let t = {
                        let (started, ran_before) = (started.clone(), ran_before.clone());
                        KillableThread::spawn(move || {
                            // The body started before `terminate_all` began.
                            ran_before.store(!started.load(SeqCst), SeqCst);
                            loop {
                                killable::sleep(Duration::from_millis(50));
                            }
                        })
                    };
                    // SeqCst: if this reads false, the spawn (and so the
                    // registration) happened before `terminate_all` began.
                    let before = !started.load(SeqCst);
                    out.push((t, before, ran_before));
                    spawned.fetch_add(1, SeqCst);
                }
                out
            })
        };
        let wait_for = 1 + rng.below(20) as usize;
        let t0 = Instant::now();
        while spawned.load(SeqCst) < wait_for {
            assert!(t0.elapsed() < Duration::from_secs(10));
            std::thread::yield_now();
        }
        started.store(true, SeqCst);
        let reached = registry::terminate_all();
        stop.store(true, SeqCst);
        let threads = spawner.join().unwrap();
        let must = threads
            .iter()
            .filter(|(_, before, ran)| *before || ran.load(SeqCst))
            .count();
        assert!(must >= wait_for);
        assert!(reached >= must, "round {round}: reached {reached} < {must}");
        for (t, before, ran_before) in threads {
            // Spawned, or even running, before `terminate_all` began: it
            // must have been reached. Otherwise it may or may not have been.
            if !before && !ran_before.load(SeqCst) {
                t.terminate();
            }
            let r = t
                .join_timeout(Duration::from_secs(10))
                .unwrap_or_else(|_| panic!("round {round}: a thread was missed by terminate_all"));
            assert!(r.unwrap_err().is_terminated());
        }
        assert!(registry::threads().is_empty());
    }
}
