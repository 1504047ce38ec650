//! `JoinError`'s and `Payload`'s `Debug` name what they can: a panic's
//! message, the type of a raised value.

use killable::{checkpoint, JoinError, KillableThread, Payload};

#[derive(Debug)]
struct Overrun {
    #[allow(dead_code)]
    job: u32,
}

/// A panic payload of a type nobody raised.
struct Opaque;

#[test]
fn debug_names_the_raised_type() {
    let t = KillableThread::spawn(|| loop {
        checkpoint();
    });
    t.raise(Overrun { job: 7 }).unwrap();
    let err = t.join().unwrap_err();
    assert_eq!(format!("{err:?}"), "Raised(join_error_debug::Overrun)");
    let JoinError::Raised(payload) = err else {
        unreachable!()
    };
    assert_eq!(format!("{payload:?}"), "Payload(join_error_debug::Overrun)");
}

#[test]
fn debug_shows_a_panic_message_and_hides_what_it_cannot_name() {
    let t = KillableThread::spawn(|| -> () { panic!("boom {}", 7) });
    assert_eq!(
        format!("{:?}", t.join().unwrap_err()),
        r#"Panicked("boom 7")"#
    );
    let t = KillableThread::spawn(|| std::panic::panic_any(Opaque));
    assert_eq!(format!("{:?}", t.join().unwrap_err()), "Panicked(..)");
    assert_eq!(format!("{:?}", Payload::new(Opaque)), "Payload(..)");
}
