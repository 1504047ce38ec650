//! A watchdog that raises a typed error into a worker whose job overran its
//! budget; the worker catches it and carries on with the next job.
//!
//! The worker publishes the job it is running (id, start, budget). The
//! watchdog, a plain thread holding a `Killer`, looks every few
//! milliseconds; when a job has run past its budget it raises
//! `Overrun { job, budget }` into the worker. The worker runs each job inside
//! `killable::catch::<Overrun, _, _>`, so the raise unwinds that job only
//! (its destructors run) and the loop goes on.
//!
//! The jobs show where a raise can land: CPU work in a `#[killable]` loop
//! (at the next loop head), a `killable::sleep` (wakes at once), and a plain
//! `std::thread::sleep`, which knows nothing of kills: the raise waits for
//! it to return and lands at the checkpoint after it.
//!
//! Run: `cargo run --example watchdog`

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use killable::{catch, checkpoint, killable, KillableThread, Killer};

/// What the watchdog raises: which job overran, and its budget.
#[derive(Debug)]
struct Overrun {
    job: u32,
    budget: Duration,
}

#[derive(Clone, Copy, Debug)]
enum Work {
    /// Checksums a buffer: quick.
    Checksum(usize),
    /// Waits (killably) for a reply that never comes.
    AwaitReply,
    /// Searches forever: Collatz from 0 never reaches 1.
    Collatz(u64),
    /// A legacy call that blocks, not killably, for this long.
    Legacy(Duration),
}

struct Job {
    id: u32,
    work: Work,
    budget: Duration,
}

/// The job the worker is running, as the watchdog sees it.
struct Running {
    job: u32,
    started: Instant,
    budget: Duration,
    raised: bool,
}

type Current = Arc<Mutex<Option<Running>>>;

#[killable]
fn checksum(len: usize) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for i in 0..len {
        h = (h ^ (i as u64 & 0xff)).wrapping_mul(0x100_0000_01b3);
    }
    h
}

#[killable]
fn collatz_steps(mut n: u64) -> u64 {
    let mut steps = 0;
    while n != 1 {
        n = if n % 2 == 0 { n / 2 } else { 3 * n + 1 };
        steps += 1;
    }
    steps
}

#[killable]
fn run(work: Work) -> u64 {
    match work {
        Work::Checksum(len) => checksum(len),
        Work::AwaitReply => {
            killable::sleep(Duration::from_secs(3600));
            0
        }
        Work::Collatz(n) => collatz_steps(n),
        Work::Legacy(d) => {
            std::thread::sleep(d);
            // `#[killable]` put a checkpoint after the call: the raise lands here.
            d.as_millis() as u64
        }
    }
}

/// Dropped when a job ends, by any path: the job's own cleanup.
struct JobGuard(u32);

impl Drop for JobGuard {
    fn drop(&mut self) {
        if std::thread::panicking() {
            println!("    job {}: cleanup ran during the unwind", self.0);
        }
    }
}

/// Runs the jobs one after the other; returns how many overran.
fn worker(t0: Instant, jobs: Vec<Job>, current: Current) -> usize {
    let mut overruns = 0;
    for job in jobs {
        let started = Instant::now();
        *current.lock().unwrap() = Some(Running {
            job: job.id,
            started,
            budget: job.budget,
            raised: false,
        });
        println!(
            "[{:>9.3?}] job {} {:?}: started, budget {:?}",
            t0.elapsed(),
            job.id,
            job.work,
            job.budget
        );
        let outcome = catch::<Overrun, _, _>(|| {
            let _guard = JobGuard(job.id);
            let value = run(job.work);
            // From here on the watchdog leaves this job alone; a raise it
            // sent before this line is delivered by the checkpoint below,
            // still inside the catch, so it can never land in the next job.
            *current.lock().unwrap() = None;
            checkpoint();
            value
        });
        *current.lock().unwrap() = None;
        match outcome {
            Ok(value) => println!(
                "[{:>9.3?}] job {}: done in {:.1?} -> {value}",
                t0.elapsed(),
                job.id,
                started.elapsed()
            ),
            Err(overrun) => {
                assert_eq!(overrun.job, job.id, "a raise meant for another job");
                overruns += 1;
                println!(
                    "[{:>9.3?}] job {}: OVERRUN caught: Overrun {{ job: {}, budget: {:?} }} \
                     after {:.1?}; carrying on",
                    t0.elapsed(),
                    job.id,
                    overrun.job,
                    overrun.budget,
                    started.elapsed()
                );
            }
        }
    }
    overruns
}

/// Raises `Overrun` into the worker when its current job exceeds its budget.
fn watchdog(t0: Instant, killer: Killer, current: Current) {
    while killer.is_alive() {
        if let Some(r) = current.lock().unwrap().as_mut() {
            if !r.raised && r.started.elapsed() > r.budget {
                r.raised = true;
                let exc = Overrun {
                    job: r.job,
                    budget: r.budget,
                };
                match killer.raise(exc) {
                    Ok(()) => println!(
                        "[{:>9.3?}] watchdog: job {} over its {:?} budget: raised Overrun",
                        t0.elapsed(),
                        r.job,
                        r.budget
                    ),
                    Err(exc) => println!("watchdog: raise refused ({exc:?}): the worker has ended"),
                }
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn main() {
    let t0 = Instant::now();
    let budget = Duration::from_millis(150);
    let work = [
        Work::Checksum(200_000),
        Work::AwaitReply,
        Work::Collatz(0),
        Work::Legacy(Duration::from_millis(400)),
        Work::Checksum(300_000),
    ];
    let jobs: Vec<Job> = (1..)
        .zip(work)
        .map(|(id, work)| Job { id, work, budget })
        .collect();
    let n = jobs.len();

    let current: Current = Arc::new(Mutex::new(None));
    let c = current.clone();
    let worker = KillableThread::spawn(move || worker(t0, jobs, c));
    let killer = worker.killer();
    let dog = std::thread::spawn(move || watchdog(t0, killer, current));

    let overruns = worker
        .join()
        .expect("the worker carries on after every overrun");
    dog.join().unwrap();
    // Jobs 2, 3 and 4 cannot finish within their budget; 1 and 5 can.
    assert!(overruns >= 3, "expected the three hopeless jobs to overrun");
    println!(
        "[{:>9.3?}] all {n} jobs handled, {overruns} overran; the worker returned normally",
        t0.elapsed()
    );
}
