//! The `tracing` feature: events on raise, terminate, delivery and exit.
//!
//! Run: `cargo test -p killable-integration-tests --features tracing --test tracing_events`.
//!
//! The subscriber (in `support`) records each event's message, fields and
//! emitting thread.
//!
//! One test function: `registry::terminate_all` reaches every killable
//! thread in the process, so nothing else may run beside it.
#![cfg(feature = "tracing")]

use std::sync::{Arc, Barrier};
use std::time::Duration;

use killable::{registry, with_timeout, Builder, KillableThread};
use tracing::Level;

mod support;
use support::{install, seen, Seen};

/// The one event with `message` that thread `name` emitted, or that is
/// about thread `name`.
fn one(message: &str, name: &str) -> Seen {
    let found =
        seen(|s| s.message() == message && (s.thread.as_deref() == Some(name) || s.is_about(name)));
    assert_eq!(found.len(), 1, "{message} for {name}: {found:#?}");
    found.into_iter().next().unwrap()
}

fn spin_named(name: &str) -> KillableThread<()> {
    let started = Arc::new(Barrier::new(2));
    let s = started.clone();
    let t = Builder::new()
        .name(name.into())
        .spawn(move || {
            s.wait();
            loop {
                killable::checkpoint();
            }
        })
        .unwrap();
    started.wait();
    t
}

#[derive(Debug)]
struct Boom;

#[test]
fn events_on_raise_terminate_delivery_and_exit() {
    install();

    // A raise, accepted, delivered, uncaught; then one refused.
    let t = spin_named("ev-raise");
    let killer = t.killer();
    t.raise(Boom).unwrap();
    assert!(t.join().unwrap_err().is_raised());
    killer.raise(Boom).unwrap_err();
    let raises = seen(|s| s.message() == "raise" && s.is_about("ev-raise"));
    assert_eq!(raises.len(), 2, "{raises:#?}");
    assert_eq!(raises[0].field("accepted"), "true");
    assert_eq!(raises[1].field("accepted"), "false");
    assert!(raises[0].field("type").ends_with("Boom"), "{raises:#?}");
    assert_eq!(raises[0].level, Level::DEBUG);
    assert!(
        raises[0].field("thread").contains("ThreadId"),
        "{raises:#?}"
    );
    // Delivery and exit come from the killed thread itself.
    assert_eq!(one("kill delivered", "ev-raise").field("kind"), "raise");
    assert_eq!(one("thread exit", "ev-raise").field("outcome"), "raised");

    // A termination: reached, delivered, exit; then one that came too late.
    let t = spin_named("ev-terminate");
    let killer = t.killer();
    t.terminate();
    assert!(t.join().unwrap_err().is_terminated());
    killer.terminate();
    let terms = seen(|s| s.message() == "terminate" && s.is_about("ev-terminate"));
    assert_eq!(terms.len(), 2, "{terms:#?}");
    assert_eq!(terms[0].field("reached"), "true");
    assert_eq!(terms[1].field("reached"), "false");
    assert_eq!(
        one("kill delivered", "ev-terminate").field("kind"),
        "terminate"
    );
    assert_eq!(
        one("thread exit", "ev-terminate").field("outcome"),
        "terminated"
    );

    // A deadline inside the thread: delivered, caught by its scope, and the
    // thread returns normally.
    let t = Builder::new()
        .name("ev-deadline".into())
        .spawn(|| {
            with_timeout(Duration::from_millis(10), || loop {
                killable::checkpoint()
            })
        })
        .unwrap();
    assert!(t.join().unwrap().is_err());
    assert_eq!(
        one("kill delivered", "ev-deadline").field("kind"),
        "deadline"
    );
    assert_eq!(
        one("thread exit", "ev-deadline").field("outcome"),
        "returned"
    );

    // A panic is an exit too, with no delivery.
    let t = Builder::new()
        .name("ev-panic".into())
        .spawn(|| -> () { std::panic::resume_unwind(Box::new("quiet panic")) })
        .unwrap();
    assert!(t.join().unwrap_err().is_panic());
    assert_eq!(one("thread exit", "ev-panic").field("outcome"), "panicked");
    assert!(
        seen(|s| s.message() == "kill delivered" && s.thread.as_deref() == Some("ev-panic"))
            .is_empty()
    );

    // terminate_all reports how many threads it reached.
    let a = spin_named("ev-all-a");
    let b = spin_named("ev-all-b");
    assert_eq!(registry::terminate_all(), 2);
    assert!(a.join().unwrap_err().is_terminated());
    assert!(b.join().unwrap_err().is_terminated());
    let all = seen(|s| s.message() == "terminate_all");
    assert_eq!(all.len(), 1, "{all:#?}");
    assert_eq!(all[0].field("reached"), "2");
    assert_eq!(
        one("thread exit", "ev-all-a").field("outcome"),
        "terminated"
    );
}
