//! The `tracing` feature: events on raise, terminate, delivery and exit.
//!
//! Run: `cargo test -p killable-integration-tests --features tracing --test tracing_events`.
//!
//! The subscriber is written by hand (a few lines of `tracing::Subscriber`
//! that record each event's message, fields and emitting thread) rather than
//! taken from `tracing-subscriber`: the test needs the raw fields, not a
//! formatted line to parse, and no extra dependency tree.
//!
//! One test function: `registry::terminate_all` reaches every killable
//! thread in the process, so nothing else may run beside it.
#![cfg(feature = "tracing")]

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Barrier, Mutex, OnceLock};
use std::time::Duration;

use killable::{registry, with_timeout, Builder, KillableThread};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

#[derive(Debug, Clone)]
struct Seen {
    /// The thread that emitted the event.
    thread: Option<String>,
    level: Level,
    target: String,
    fields: BTreeMap<String, String>,
}

impl Seen {
    fn message(&self) -> &str {
        self.fields.get("message").map_or("", String::as_str)
    }
    fn is_about(&self, thread: &str) -> bool {
        self.fields.get("name").map(String::as_str) == Some(thread)
    }
    fn field(&self, name: &str) -> &str {
        self.fields
            .get(name)
            .map_or_else(|| panic!("no field {name} in {self:?}"), String::as_str)
    }
}

static SEEN: Mutex<Vec<Seen>> = Mutex::new(Vec::new());

struct Collector;

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0
            .insert(field.name().to_string(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_string(), value.to_string());
    }
}

impl Subscriber for Collector {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut fields = BTreeMap::new();
        event.record(&mut Fields(&mut fields));
        SEEN.lock().unwrap().push(Seen {
            thread: std::thread::current().name().map(String::from),
            level: *event.metadata().level(),
            target: event.metadata().target().to_string(),
            fields,
        });
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

fn install() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| tracing::subscriber::set_global_default(Collector).unwrap());
}

/// The `killable` events emitted so far that `pick` selects.
fn seen(pick: impl Fn(&Seen) -> bool) -> Vec<Seen> {
    let all = SEEN.lock().unwrap();
    all.iter()
        .filter(|s| s.target == "killable")
        .filter(|s| pick(s))
        .cloned()
        .collect()
}

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
