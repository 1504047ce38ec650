//! Each insertion point of `#[killable]` is what makes its shape of code killable.
//!
//! Every worker below has exactly one kind of checkpoint on its hot path (the others are
//! either absent or passed before the worker signals that it is running): a loop head, a
//! strip-mined chunk head, fn entry, closure entry, or the check after a calling statement.
//! The worker signals "running" from inside an unattributed helper placed where the
//! attribute inserts no check (a loop condition, a range bound, a tail expression), so a kill
//! can only land at the checkpoint under test. Were that checkpoint missing, the worker would
//! spin forever (or finish normally) and the test would fail at the bound.

mod support;

use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

use killable::{killable, KillableThread};

/// Generous: a loaded 2-core CI machine can stall a thread for a long time.
use support::BOUND;

/// Unattributed: raises the flag and says "go on". Never a checkpoint itself.
#[inline(never)]
fn mark(flag: &AtomicBool) -> bool {
    flag.store(true, SeqCst);
    true
}

/// Spawns `work`, waits until it has marked itself as running, terminates it, and expects
/// the join to report the termination within the bound.
fn assert_killed<T: Send + 'static>(work: impl FnOnce(Arc<AtomicBool>) -> T + Send + 'static) {
    let running = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&running);
    let t = KillableThread::spawn(move || work(flag));
    while !running.load(SeqCst) {
        std::thread::yield_now();
    }
    t.terminate();
    match t.join_timeout(BOUND) {
        Ok(Err(e)) => assert!(e.is_terminated(), "joined with {e:?}"),
        Ok(Ok(_)) => panic!("the worker finished instead of being terminated"),
        Err(_) => panic!("the worker was not terminated within {BOUND:?}"),
    }
}

#[killable]
fn spin_loop(running: &AtomicBool) -> u64 {
    let mut n = 0u64;
    loop {
        if !mark(running) {
            break n;
        }
        n = n.wrapping_add(1);
    }
}

#[test]
fn loop_head() {
    assert_killed(|r| spin_loop(&r));
}

#[killable]
fn spin_while(running: &AtomicBool) -> u64 {
    let mut n = 0u64;
    while mark(running) {
        n = n.wrapping_add(1);
    }
    n
}

#[test]
fn while_head() {
    assert_killed(|r| spin_while(&r));
}

#[killable]
fn spin_while_let(running: &AtomicBool) -> u64 {
    let mut n = 0u64;
    while let Some(next) = mark(running).then_some(n) {
        n = next.wrapping_add(1);
    }
    n
}

#[test]
fn while_let_head() {
    assert_killed(|r| spin_while_let(&r));
}

/// An iterator the attribute cannot judge cheap, so its loop keeps a check per iteration.
struct Marking<'a>(&'a AtomicBool);

impl Iterator for Marking<'_> {
    type Item = u64;
    fn next(&mut self) -> Option<u64> {
        Some(u64::from(mark(self.0)))
    }
}

#[killable]
fn spin_for(running: &AtomicBool) -> u64 {
    let mut n = 0u64;
    for x in Marking(running) {
        n = n.wrapping_add(x);
    }
    n
}

#[test]
fn for_head() {
    assert_killed(|r| spin_for(&r));
}

/// A cheap body over a range: strip-mined, one check per chunk. `u64::MAX` iterations
/// would take centuries.
#[killable]
fn spin_strip_mined(running: &AtomicBool) -> u64 {
    let mut n = 0u64;
    for i in 0..u64::from(mark(running)) * u64::MAX {
        n = n.wrapping_add(i);
    }
    n
}

#[test]
fn strip_mined_for_chunk_head() {
    assert_killed(|r| spin_strip_mined(&r));
}

#[killable]
fn spin_labeled(running: &AtomicBool) -> u64 {
    let mut n = 0u64;
    'outer: while mark(running) {
        'inner: loop {
            n = n.wrapping_add(1);
            if n % 3 == 0 {
                continue 'outer;
            }
            if n == 0 {
                break 'inner;
            }
        }
    }
    n
}

#[test]
fn labeled_loops() {
    assert_killed(|r| spin_labeled(&r));
}

#[killable]
fn spin_in_expression(running: &AtomicBool) -> u64 {
    let mut n = 0u64;
    let v = loop {
        if !mark(running) {
            break 0;
        }
        n = n.wrapping_add(1);
        if n == 0 {
            break n;
        }
    };
    v + u64::from(n > 0)
}

#[test]
fn loop_in_expression_position() {
    assert_killed(|r| spin_in_expression(&r));
}

/// Loop-free recursion: fib(90) never ends, its depth stays under 90, and the only checks
/// are at fn entry.
#[killable]
fn fib(n: u64, running: &AtomicBool) -> u64 {
    if n < 2 {
        if mark(running) {
            n
        } else {
            0
        }
    } else {
        fib(n - 1, running).wrapping_add(fib(n - 2, running))
    }
}

#[test]
fn fn_entry_makes_recursion_killable() {
    assert_killed(|r| fib(90, &r));
}

/// The loop runs inside std's `fold`; only the closures' entry checks are on its path.
#[killable]
fn spin_iterator_chain(running: &AtomicBool) -> u64 {
    (0..u64::MAX)
        .map(|x| x.wrapping_mul(3))
        .filter(|x| mark(running) && x % 2 == 0)
        .fold(0, |a, x| a ^ x)
}

#[test]
fn closure_entry_in_an_iterator_chain() {
    assert_killed(|r| spin_iterator_chain(&r));
}

/// Straight-line closures over a std source: no closure has a check of its own; the source,
/// wrapped by the attribute, passes one per chunk of items. `u64::MAX` items would take
/// centuries, and the range bound marks "running" with no check after it.
#[killable]
fn spin_chunked_chain(running: &AtomicBool) -> u64 {
    (0..u64::from(mark(running)) * u64::MAX)
        .map(|x| x.wrapping_mul(3))
        .filter(|x| x & 1 == 0)
        .sum::<u64>()
}

#[test]
fn straight_line_chain_over_a_range_is_killed_per_chunk() {
    assert_killed(|r| spin_chunked_chain(&r));
}

/// A zip of two ranges, folded a chunk at a time (`ZipChunked`): the fold passes a check per
/// chunk. `u64::MAX` pairs would take centuries.
#[killable]
fn spin_zip_chain(running: &AtomicBool) -> u64 {
    let end = u64::from(mark(running)) * u64::MAX;
    (0..end).zip(1..end).map(|(a, b)| a ^ b).sum::<u64>()
}

#[test]
fn straight_line_chain_over_a_zip_is_killed_per_chunk() {
    assert_killed(|r| spin_zip_chain(&r));
}

/// The same through `next` (a search that never succeeds), over an endless source whose
/// items are counted rather than cut into chunks, with `zip`, `enumerate` and `cycle`.
#[killable]
fn spin_counted_chain(running: &AtomicBool, v: &[u64]) -> Option<usize> {
    let start = u64::from(mark(running));
    (start..)
        .zip(v.iter().cycle())
        .enumerate()
        .map(|(i, (a, b))| a.wrapping_mul(*b) ^ i as u64)
        .position(|x| x == u64::MAX)
}

#[test]
fn straight_line_chain_over_an_endless_source_is_killed() {
    assert_killed(|r| spin_counted_chain(&r, &[1, 2, 3]));
}

/// A source the attribute recognizes by its syntax (`into_iter` on a place) but whose type is
/// not a std iterator: it gets a check per item.
#[killable]
fn spin_unknown_source(running: &AtomicBool) -> u64 {
    let source = Marking(running);
    source.into_iter().map(|x| x ^ 1).fold(0, |a, x| a ^ x)
}

#[test]
fn straight_line_chain_over_a_user_iterator_is_killed() {
    assert_killed(|r| spin_unknown_source(&r));
}

/// Unattributed: the first call marks "running" and waits until the test has sent the kill;
/// later calls return at once.
#[inline(never)]
fn slow_once(x: u64, running: &AtomicBool, sent: &AtomicBool) -> u64 {
    if !running.swap(true, SeqCst) {
        while !sent.load(SeqCst) {
            std::hint::spin_loop();
        }
    }
    x
}

/// The first `map` is straight-line (unchecked, source wrapped); the second calls something
/// that may take long, so it keeps its entry check. Ten items are far fewer than a chunk: only
/// a check at each call of the second closure can land before the chain is done.
#[killable]
fn chain_with_a_slow_closure(running: &AtomicBool, sent: &AtomicBool) -> u64 {
    (0..10u64)
        .map(|x| x * 2)
        .map(|x| slow_once(x, running, sent))
        .sum()
}

#[test]
fn closure_that_calls_keeps_a_check_per_call() {
    let running = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicBool::new(false));
    let (r, s) = (Arc::clone(&running), Arc::clone(&sent));
    let t = KillableThread::spawn(move || chain_with_a_slow_closure(&r, &s));
    while !running.load(SeqCst) {
        std::thread::yield_now();
    }
    t.terminate();
    sent.store(true, SeqCst);
    // With one check per chunk instead, the chain would finish and return 90.
    match t.join_timeout(BOUND) {
        Ok(Err(e)) => assert!(e.is_terminated(), "joined with {e:?}"),
        Ok(Ok(sum)) => panic!("the chain finished ({sum}) instead of being terminated"),
        Err(_) => panic!("not finished within {BOUND:?}"),
    }
}

/// Unattributed and long: marks itself running, then waits until the test has sent the kill.
#[inline(never)]
fn long_uninterruptible(running: &AtomicBool, sent: &AtomicBool) {
    running.store(true, SeqCst);
    while !sent.load(SeqCst) {
        std::hint::spin_loop();
    }
}

#[killable]
fn long_call_then_straight_line(running: &AtomicBool, sent: &AtomicBool) -> u32 {
    long_uninterruptible(running, sent);
    let x = 1;
    x + 1
}

#[test]
fn check_after_a_long_call() {
    let running = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicBool::new(false));
    let (r, s) = (Arc::clone(&running), Arc::clone(&sent));
    let t = KillableThread::spawn(move || long_call_then_straight_line(&r, &s));
    while !running.load(SeqCst) {
        std::thread::yield_now();
    }
    t.terminate();
    sent.store(true, SeqCst);
    // Without the check after the call, the function would return 2 here.
    match t.join_timeout(BOUND) {
        Ok(result) => assert!(result.unwrap_err().is_terminated()),
        Err(_) => panic!("not finished within {BOUND:?}"),
    }
}

/// The control: the same spin without the attribute is not killable, so the kills above
/// come from the inserted checkpoints and nowhere else.
fn plain_spin(running: &AtomicBool, stop: &AtomicBool) -> u64 {
    let mut n = 0u64;
    while mark(running) && !stop.load(SeqCst) {
        n = n.wrapping_add(1);
    }
    n
}

#[test]
fn without_the_attribute_nothing_is_killable() {
    let running = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let (r, s) = (Arc::clone(&running), Arc::clone(&stop));
    let t = KillableThread::spawn(move || plain_spin(&r, &s));
    while !running.load(SeqCst) {
        std::thread::yield_now();
    }
    t.terminate();
    std::thread::sleep(Duration::from_millis(200));
    assert!(t.is_alive(), "a loop without checkpoints cannot be killed");
    stop.store(true, SeqCst);
    assert!(t.join_timeout(BOUND).is_ok(), "finishes once told to stop");
}

/// Loop-free mutual recursion: each fn of the cycle makes a call, so each keeps its entry
/// check even though leaf fns (no call, no loop) lose theirs.
#[killable]
fn ping(n: u64, running: &AtomicBool) -> u64 {
    if n < 2 {
        leaf_step(n, running)
    } else {
        pong(n - 1, running).wrapping_add(pong(n - 2, running))
    }
}

#[killable]
fn pong(n: u64, running: &AtomicBool) -> u64 {
    if n < 2 {
        leaf_step(n, running)
    } else {
        ping(n - 1, running) ^ ping(n - 2, running)
    }
}

/// The base case, out of line so that the recursion itself runs no check but the two fns'
/// entry checks.
#[killable]
fn leaf_step(n: u64, running: &AtomicBool) -> u64 {
    u64::from(mark(running)) + n
}

#[test]
fn mutual_recursion_stays_killable() {
    assert_killed(|r| ping(90, &r));
}

/// A leaf fn: no call, no loop, so no check of its own.
#[killable]
fn leaf(x: u64) -> u64 {
    x.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(7)
}

/// An annotated loop driving the leaf: its head check is the one on the path.
#[killable]
fn drive_leaf(running: &AtomicBool) -> u64 {
    let mut n = 1u64;
    while mark(running) {
        n = leaf(n);
    }
    n
}

#[test]
fn leaf_fn_in_an_annotated_loop_stays_killable() {
    assert_killed(|r| drive_leaf(&r));
}

/// An `#[inline]` helper that becomes `#[inline(always)]`, called from a closure given to
/// `map_or` in a loop whose closures (`and_then`'s, `map_or`'s) have no check of their own:
/// the loop head's check is the one on the path, wherever LLVM puts the helper's.
#[inline]
#[killable]
fn step(n: u64, running: &AtomicBool) -> u64 {
    u64::from(mark(running)) + n
}

#[killable]
fn drive_call_once(running: &AtomicBool) -> u64 {
    let mut n = 1u64;
    loop {
        n = n.checked_mul(3).and_then(|v| v.checked_add(1)).unwrap_or(1);
        n = Some(n).map_or(1, |v| step(v, running));
    }
}

#[test]
fn a_loop_of_call_once_closures_and_inlined_helpers_stays_killable() {
    assert_killed(|r| drive_call_once(&r));
}

/// Set by the test once the kill is sent: the long call below returns only then.
static KILL_SENT: AtomicBool = AtomicBool::new(false);

/// Unattributed: marks the worker as running, then works (no checkpoint) until the kill is
/// pending, so that the kill arrives during this call.
#[inline(never)]
fn mark_then_work_until_killed(flag: &AtomicBool) -> u64 {
    flag.store(true, SeqCst);
    while !KILL_SENT.load(SeqCst) {
        std::hint::spin_loop();
    }
    1
}

/// Unattributed and never returns: whatever follows the check under test.
#[inline(never)]
fn spin_forever(x: u64) -> u64 {
    loop {
        if x == 0 {
            return x;
        }
        std::hint::spin_loop();
    }
}

/// The long call is the last call of the `if` block and only straight-line code follows it
/// there, so no check follows it inside the block: the block ends into the check after the
/// `if` statement, the only one after the kill on this path.
#[killable]
fn last_call_of_a_nested_block(running: &AtomicBool, go: bool) -> u64 {
    let mut r = 0;
    if go {
        r = mark_then_work_until_killed(running);
        r = r.wrapping_mul(3) + 1;
    }
    r += 1;
    spin_forever(r)
}

#[test]
fn a_kill_during_a_nested_blocks_last_call_lands_after_the_enclosing_statement() {
    let running = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&running);
    let t = KillableThread::spawn(move || last_call_of_a_nested_block(&flag, true));
    while !running.load(SeqCst) {
        std::thread::yield_now();
    }
    t.terminate();
    KILL_SENT.store(true, SeqCst);
    match t.join_timeout(BOUND) {
        Ok(Err(e)) => assert!(e.is_terminated(), "joined with {e:?}"),
        Ok(Ok(_)) => panic!("the worker finished instead of being terminated"),
        Err(_) => panic!("the worker was not terminated within {BOUND:?}"),
    }
}

/// Branching recursion whose every call is followed by a check: no entry check; each return
/// passes the check after the `if`, which is what makes it killable.
#[killable]
fn fib_checked_after_calls(n: u64, running: &AtomicBool) -> u64 {
    let mut r = n;
    if n < 2 {
        r += u64::from(mark(running));
    } else {
        let a = fib_checked_after_calls(n - 1, running);
        let b = fib_checked_after_calls(n - 2, running);
        r = a.wrapping_add(b);
    }
    r
}

#[test]
fn recursion_without_entry_checks_stays_killable() {
    assert_killed(|r| fib_checked_after_calls(90, &r));
}
