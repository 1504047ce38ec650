// A `JoinError` is `Sync` (for `Box<dyn Error + Send + Sync>` and anyhow),
// so a shared `&JoinError` must not lend out its payload, which is only
// `Send`: two threads could then race on a `Cell` raised into a thread.
use std::cell::Cell;

use killable::{JoinError, KillableThread};

fn main() {
    let t = KillableThread::spawn(|| loop {
        killable::checkpoint()
    });
    t.raise(Cell::new(0u64)).unwrap();
    let err = t.join().unwrap_err();
    let shared = &err;
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(move || {
                let JoinError::Raised(b) = shared else { unreachable!() };
                let c: &Cell<u64> = b.downcast_ref().unwrap();
                for _ in 0..10_000_000 {
                    c.set(c.get() + 1)
                }
            });
        }
    });
}
