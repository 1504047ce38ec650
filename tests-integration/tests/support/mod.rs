//! What the `tracing` tests share: a hand-written subscriber that records
//! each event's raw fields (no `tracing-subscriber`: the tests need the
//! fields, not a formatted line to parse), and a thread that leaves a kill
//! pending inside a helper without the attribute.
// Each test binary includes this module and uses part of it.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{mpsc, Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use killable::{killable, Builder, KillableThread};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

/// One recorded event.
#[derive(Debug, Clone)]
pub struct Seen {
    pub at: Instant,
    /// The thread that emitted the event.
    pub thread: Option<String>,
    pub level: Level,
    pub target: String,
    pub fields: BTreeMap<String, String>,
}

impl Seen {
    pub fn message(&self) -> &str {
        self.fields.get("message").map_or("", String::as_str)
    }
    /// The event names thread `thread` in its `name` field.
    pub fn is_about(&self, thread: &str) -> bool {
        self.fields.get("name").map(String::as_str) == Some(thread)
    }
    pub fn field(&self, name: &str) -> &str {
        self.fields
            .get(name)
            .map_or_else(|| panic!("no field {name} in {self:?}"), String::as_str)
    }
}

static SEEN: Mutex<Vec<Seen>> = Mutex::new(Vec::new());

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

/// Records every event.
struct Collector;

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
            at: Instant::now(),
            thread: std::thread::current().name().map(String::from),
            level: *event.metadata().level(),
            target: event.metadata().target().to_string(),
            fields,
        });
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

/// Makes the recording subscriber the process's (once).
pub fn install() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| tracing::subscriber::set_global_default(Collector).unwrap());
}

/// The `killable` events recorded so far that `pick` selects.
pub fn seen(pick: impl Fn(&Seen) -> bool) -> Vec<Seen> {
    let all = SEEN.lock().unwrap();
    all.iter()
        .filter(|s| s.target == "killable")
        .filter(|s| pick(s))
        .cloned()
        .collect()
}

/// No `#[killable]`: the forgotten attribute.
fn helper_without_the_attribute(stop: &AtomicBool, inside: mpsc::Sender<()>) {
    inside.send(()).unwrap();
    while !stop.load(SeqCst) {
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[killable]
fn entry_with_the_attribute(stop: Arc<AtomicBool>, inside: mpsc::Sender<()>) {
    // The attribute puts no entry check here (the one call is followed by
    // the loop's check): this is the last checkpoint the thread passes.
    killable::checkpoint();
    helper_without_the_attribute(&stop, inside);
    // Back in instrumented code: the kill lands at this loop's head.
    let mut sum = 0_u32;
    for i in 0..3 {
        sum += i;
    }
    assert_eq!(sum, 3);
}

/// Spawns a thread (named `name`, if given) whose helper lacks the
/// attribute, and returns once it runs inside the helper (past every
/// checkpoint before it, so a kill sent now cannot land there). It leaves
/// the helper when `stop` is set.
pub fn forgetful(name: Option<&str>, stop: Arc<AtomicBool>) -> KillableThread<()> {
    let (inside, wait_inside) = mpsc::channel();
    let mut builder = Builder::new();
    if let Some(name) = name {
        builder = builder.name(name.into());
    }
    let t = builder
        .spawn(move || entry_with_the_attribute(stop, inside))
        .unwrap();
    wait_inside.recv().unwrap();
    t
}
