// Iterator chains whose type the user names keep that type (issue 17, shape 2): the source
// is wrapped only where the chain is consumed inside the expression.
#![deny(warnings)]

use killable::killable;
use std::iter::{Filter, Map};
use std::slice::Iter;
use std::str::Chars;

#[killable]
fn returned<'a>(v: &'a [u32]) -> Map<Iter<'a, u32>, fn(&u32) -> u32> {
    v.iter().map(|x| x + 1)
}

fn takes(it: Filter<Chars<'_>, fn(&char) -> bool>) -> usize {
    it.count()
}

#[killable]
fn bound_and_passed(s: &str) -> usize {
    let it: Filter<Chars, _> = s.chars().filter(|c| *c == 'a');
    let n = it.count();
    n + takes(s.chars().filter(|c| *c == 'b'))
}

struct Holder<'a> {
    it: Map<Iter<'a, u32>, fn(&u32) -> u32>,
}

#[killable]
fn stored(v: &[u32]) -> Holder<'_> {
    Holder {
        it: v.iter().map(|x| x * 2),
    }
}

#[killable]
fn consumed_still_compiles(v: &[u32]) -> u32 {
    let mut s: u32 = v.iter().map(|x| x * 3).sum();
    for x in v.iter().map(|x| x + 1) {
        s += x;
    }
    s
}

fn main() {
    assert_eq!(returned(&[1, 2]).collect::<Vec<_>>(), [2, 3]);
    assert_eq!(bound_and_passed("aab"), 3);
    assert_eq!(stored(&[1, 2]).it.sum::<u32>(), 6);
    assert_eq!(consumed_still_compiles(&[1, 2]), 9 + 5);
}
