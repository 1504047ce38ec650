//! Deterministic kill-point sweep: a termination delivered at the k-th
//! checkpoint, for every k until a run completes without one, over a
//! `#[killable]` insert into a sorted `Vec` behind a `std::sync::Mutex`.
//!
//! After every kill, either the mutex is poisoned (the kill landed while the
//! guard was held: the update may be half-done, and the poison says so), or
//! the vector is sorted and holds exactly the elements inserted so far
//! (possibly plus the one being inserted when the kill came, if its insert
//! had completed). Either way nothing is lost: even a poisoned vector still
//! holds every element. The kill points come from
//! `killable::__private::testing::terminate_at_checkpoint`, which counts the
//! checkpoints the attribute inserted.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};

use killable::__private::testing::terminate_at_checkpoint;
use killable::{killable, shield, KillableThread};

const BEFORE: [i32; 8] = [0, 10, 20, 30, 40, 50, 60, 70];
const ITEMS: [i32; 3] = [35, 75, -5];

/// Insertion by bubbling the new element down: every swap is a loop
/// iteration, so a kill can land with the vector half-sorted.
#[killable]
fn insert_sorted(v: &Mutex<Vec<i32>>, x: i32) {
    let mut g = v.lock().unwrap();
    g.push(x);
    let mut i = g.len() - 1;
    while i > 0 && g[i - 1] > g[i] {
        g.swap(i - 1, i);
        i -= 1;
    }
}

/// The same update made atomic with respect to kills.
#[killable]
fn insert_sorted_shielded(v: &Mutex<Vec<i32>>, x: i32) {
    shield(|| insert_sorted(v, x));
}

/// A broken update: it moves the data out of the mutex, works on it
/// unlocked, and puts it back. A kill in between loses everything without
/// poisoning anything; the sweep must notice.
#[killable]
fn insert_sorted_losing(v: &Mutex<Vec<i32>>, x: i32) {
    let mut taken = std::mem::take(&mut *v.lock().unwrap());
    taken.push(x);
    let mut i = taken.len() - 1;
    while i > 0 && taken[i - 1] > taken[i] {
        taken.swap(i - 1, i);
        i -= 1;
    }
    *v.lock().unwrap() = taken;
}

fn sorted_with(extra: &[i32]) -> Vec<i32> {
    let mut v: Vec<i32> = BEFORE.iter().chain(extra).copied().collect();
    v.sort_unstable();
    v
}

/// Whether `have` holds every element of `want` (as multisets).
fn contains_all(have: &[i32], want: &[i32]) -> bool {
    let mut have = have.to_vec();
    want.iter().all(|w| match have.iter().position(|h| h == w) {
        Some(p) => {
            have.swap_remove(p);
            true
        }
        None => false,
    })
}

#[derive(Debug, Default)]
struct Outcomes {
    killed_clean: usize,
    killed_poisoned: usize,
    completed_at: Option<u64>,
}

/// Runs the workload killed at checkpoint `k` for k = 1, 2, … until a run
/// completes, checking the invariant after each.
fn sweep(insert: fn(&Mutex<Vec<i32>>, i32)) -> Outcomes {
    let mut out = Outcomes::default();
    for k in 1..10_000u64 {
        let v = Arc::new(Mutex::new(BEFORE.to_vec()));
        let done = Arc::new(AtomicUsize::new(0));
        let t = {
            let (v, done) = (v.clone(), done.clone());
            KillableThread::spawn(move || {
                let _kp = terminate_at_checkpoint(k);
                for x in ITEMS {
                    // A kill point between updates, outside the lock: `insert_sorted`
                    // has none of its own there, since every call it makes is followed
                    // by a check (so it needs no entry check).
                    killable::checkpoint();
                    insert(&v, x);
                    done.fetch_add(1, SeqCst);
                }
            })
        };
        let result = t.join();
        let done = done.load(SeqCst);
        let poisoned = v.is_poisoned();
        let have = v.lock().unwrap_or_else(|p| p.into_inner()).clone();

        // Never lost, poisoned or not: everything inserted so far is there,
        // and at most the element in flight besides.
        assert!(
            contains_all(&have, &sorted_with(&ITEMS[..done])),
            "k = {k}: an element was lost: {have:?}"
        );
        assert!(have.len() <= BEFORE.len() + done + 1, "k = {k}: {have:?}");

        match result {
            Ok(()) => {
                assert_eq!(have, sorted_with(&ITEMS), "k = {k}: completed run");
                assert!(!poisoned);
                out.completed_at = Some(k);
                return out;
            }
            Err(e) => {
                assert!(e.is_terminated(), "k = {k}: {e:?}");
                if poisoned {
                    out.killed_poisoned += 1;
                } else {
                    // Not poisoned: the invariant holds, with the in-flight
                    // element either absent or fully inserted.
                    let in_flight = &ITEMS[..(done + 1).min(ITEMS.len())];
                    assert!(
                        have == sorted_with(&ITEMS[..done]) || have == sorted_with(in_flight),
                        "k = {k}: unpoisoned but inconsistent: {have:?} (done = {done})"
                    );
                    out.killed_clean += 1;
                }
            }
        }
    }
    panic!("no run completed: the kill point never stopped firing");
}

#[test]
fn every_kill_point_of_a_sorted_insert_leaves_the_invariant_or_a_poisoned_lock() {
    let out = sweep(insert_sorted);
    // The sweep really went through the update: kills landed both outside
    // the lock (clean) and inside it (poisoned), and there are at least as
    // many kill points as the bubbling does swaps (4 + 0 + 8).
    assert!(out.killed_clean > 0, "{out:?}");
    assert!(out.killed_poisoned > 0, "{out:?}");
    assert!(out.completed_at.unwrap() > 12, "{out:?}");
}

#[test]
fn a_shielded_insert_is_never_left_half_done() {
    let out = sweep(insert_sorted_shielded);
    assert_eq!(out.killed_poisoned, 0, "{out:?}");
    assert!(out.killed_clean > 0, "{out:?}");
}

/// The sweep can fail: an update that loses data silently is caught.
#[test]
#[should_panic(expected = "an element was lost")]
fn the_sweep_catches_an_update_that_loses_data() {
    sweep(insert_sorted_losing);
}
