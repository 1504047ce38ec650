//! A cancel scope opened in a destructor during an unwind may deliver its own
//! expiry there; the destructors that delivery runs inside the scope are
//! cleanup of a second unwind, where no kill may be delivered again: an
//! unwind leaving a destructor during cleanup aborts the process ("panic in
//! a destructor during cleanup", found by tests/chaos.rs, seed 20261206
//! case 837). Each case runs in a child process (this binary re-executed), so
//! that an abort is a failure, not the end of the run.

use std::panic::{catch_unwind, resume_unwind};
use std::process::Command;
use std::time::{Duration, Instant};

use killable::{with_timeout, CancelToken, KillableThread};

struct OnDrop<F: FnMut()>(F);

impl<F: FnMut()> Drop for OnDrop<F> {
    fn drop(&mut self) {
        (self.0)()
    }
}

const LONG: Duration = Duration::from_secs(20);
const SHORT: Duration = Duration::from_millis(20);

/// Runs `in_drop` in a destructor during an unwind, on a killable thread
/// and on a plain one, and checks that it returns.
fn during_unwind(in_drop: fn()) {
    let body = move || {
        let r = catch_unwind(move || {
            let _g = OnDrop(in_drop);
            resume_unwind(Box::new("outer unwind"));
        });
        assert!(r.is_err());
    };
    KillableThread::spawn(body).join().unwrap();
    std::thread::spawn(body).join().unwrap();
}

/// The scope's expiry is delivered at the sleep; the guard inside the scope
/// sleeps killably during that unwind: the expiry, still pending until the
/// scope closes, must not be delivered there again.
fn same_scope_twice() {
    during_unwind(|| {
        let t0 = Instant::now();
        let r = with_timeout(SHORT, || {
            let _inner = OnDrop(|| killable::sleep(SHORT));
            killable::sleep(LONG);
        });
        assert!(r.is_err());
        assert!(t0.elapsed() < LONG);
    });
}

/// As [`same_scope_twice`], for a cancel token's scope.
fn token_twice() {
    during_unwind(|| {
        let token = CancelToken::new();
        let canceller = {
            let token = token.clone();
            std::thread::spawn(move || {
                std::thread::sleep(SHORT);
                token.cancel();
            })
        };
        let r = token.run(|| {
            let _inner = OnDrop(|| killable::sleep(SHORT));
            killable::sleep(LONG);
        });
        assert!(r.is_err());
        canceller.join().unwrap();
    });
}

/// The outer scope's expiry unwinds its body; a destructor of that unwind
/// opens a scope of its own and sleeps in it: only the inner scope's expiry
/// may land there, never the outer's (its unwind would leave the
/// destructor).
fn outer_scope_in_inner() {
    during_unwind(|| {
        let r = with_timeout(SHORT, || {
            let _inner = OnDrop(|| {
                let r = with_timeout(LONG, || killable::sleep(SHORT * 3));
                assert!(r.is_ok());
            });
            killable::sleep(LONG);
        });
        assert!(r.is_err());
    });
}

/// Not fixed (see the ignored test below): the body catches a panic of its
/// own after the scope expired; that panic's destructors run killable waits
/// inside the scope, where the expiry is delivered and leaves a destructor
/// during cleanup. Stable Rust does not tell how many unwinds are in flight,
/// only whether one is, and this crate does not see a user's panic start.
fn user_panic_inside_an_expired_scope() {
    during_unwind(|| {
        let r = with_timeout(SHORT, || {
            std::thread::sleep(SHORT * 2); // not killable: the scope expires
            let _ = catch_unwind(|| {
                let _inner = OnDrop(|| killable::sleep(SHORT));
                resume_unwind(Box::new("user unwind"));
            });
            killable::sleep(LONG);
        });
        assert!(r.is_err());
    });
}

const CASES: &[(&str, fn())] = &[
    (
        "user_panic_inside_an_expired_scope",
        user_panic_inside_an_expired_scope,
    ),
    ("same_scope_twice", same_scope_twice),
    ("token_twice", token_twice),
    ("outer_scope_in_inner", outer_scope_in_inner),
];

#[test]
fn child() {
    let Ok(name) = std::env::var("KILLABLE_UNWINDING_SCOPES_CHILD") else {
        return;
    };
    let (_, case) = CASES.iter().find(|(n, _)| *n == name).expect("a case");
    case();
}

#[test]
fn no_abort_in_nested_unwinds() {
    if std::env::var_os("KILLABLE_UNWINDING_SCOPES_CHILD").is_some() {
        return;
    }
    run_cases(&CASES[1..]);
}

#[test]
#[ignore = "not fixed: a user's own panic, caught inside a scope opened during an unwind, \
            gets the scope's expiry delivered in its destructors and aborts"]
fn no_abort_in_a_user_panic_inside_an_unwinding_scope() {
    run_cases(&CASES[..1]);
}

fn run_cases(cases: &[(&str, fn())]) {
    if std::env::var_os("KILLABLE_UNWINDING_SCOPES_CHILD").is_some() {
        return;
    }
    let mut failed = Vec::new();
    for (name, _) in cases {
        let out = Command::new(std::env::current_exe().unwrap())
            .args(["child", "--exact", "--nocapture", "--test-threads=1"])
            .env("KILLABLE_UNWINDING_SCOPES_CHILD", name)
            .output()
            .expect("re-executing the test binary");
        if !out.status.success() {
            failed.push(format!(
                "{name}: {}\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}
