// User names that collide with what the expansion uses change nothing.
#![deny(warnings)]

mod core {
    pub mod iter {
        pub const ANSWER: u32 = 42;
    }
}
mod killable_shadow {
    pub mod __private {
        pub fn checkpoint() {
            panic!("the user's checkpoint must never be called");
        }
    }
}
use killable_shadow as killable;

fn checkpoint() {
    panic!("the user's checkpoint must never be called");
}

#[allow(dead_code)]
struct IntoIterator;
#[allow(dead_code)]
struct Iterator;

#[::killable::killable]
fn names(v: &[u32]) -> u32 {
    let __killable_iter = 1u32;
    let __killable_seen = 2u32;
    let iter = 3u32;
    let mut s = __killable_iter + __killable_seen + iter;
    '__killable_chunks: for &x in v {
        if x == 7 {
            continue '__killable_chunks;
        }
        s += x;
    }
    'a: for &x in v {
        if x == 9 {
            break 'a;
        }
        s += x;
    }
    s
}

fn main() {
    let _ = killable::__private::checkpoint as fn();
    let _ = checkpoint as fn();
    assert_eq!(core::iter::ANSWER, 42);
    assert_eq!(names(&[1, 7, 9, 2]), 6 + (1 + 9 + 2) + (1 + 7));
}
