//! `#[killable]` next to other attribute macros, in either order: the
//! instrumented function keeps its meaning and stays killable.

use std::time::Duration;

use killable::{killable, KillableThread};

#[killable]
#[tracing::instrument(level = "trace", skip_all)]
fn killable_outside(n: u64) -> u64 {
    let mut s = 0u64;
    for i in 0..n {
        s = s.wrapping_add(i * i);
    }
    s
}

#[tracing::instrument(level = "trace", skip_all)]
#[killable]
fn killable_inside(n: u64) -> u64 {
    let mut s = 0u64;
    for i in 0..n {
        s = s.wrapping_add(i * i);
    }
    s
}

#[killable]
#[tracing::instrument(level = "trace")]
fn spin_outside(tag: u32) -> u32 {
    loop {
        std::hint::spin_loop();
        if std::hint::black_box(tag) == u32::MAX {
            break tag;
        }
    }
}

#[tracing::instrument(level = "trace")]
#[killable]
fn spin_inside(tag: u32) -> u32 {
    loop {
        std::hint::spin_loop();
        if std::hint::black_box(tag) == u32::MAX {
            break tag;
        }
    }
}

#[inline]
#[must_use]
#[killable]
fn with_std_attributes(x: u32) -> u32 {
    x.rotate_left(3)
}

#[test]
fn results_are_unchanged_in_either_order() {
    let expected: u64 = (0..10_000u64).map(|i| i * i).sum();
    assert_eq!(killable_outside(10_000), expected);
    assert_eq!(killable_inside(10_000), expected);
    assert_eq!(with_std_attributes(1), 8);
}

#[test]
fn loops_stay_killable_in_either_order() {
    for f in [spin_outside as fn(u32) -> u32, spin_inside] {
        let t = KillableThread::spawn(move || f(7));
        std::thread::sleep(Duration::from_millis(10));
        t.terminate();
        let result = t
            .join_timeout(Duration::from_secs(10))
            .expect("the loop passes checkpoints: terminated, not still spinning");
        assert!(result.unwrap_err().is_terminated());
    }
}

#[killable]
#[test]
fn on_a_test_fn_itself() {
    let mut n = 0;
    while n < 10 {
        n += 1;
    }
    assert_eq!(n, 10);
}
