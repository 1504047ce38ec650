// Every place the attribute can go, with other attributes in either order.
#![deny(warnings)]

use killable::killable;
use std::pin::Pin;
use std::rc::Rc;

#[killable]
fn free(n: u32) -> u32 {
    (0..n).sum()
}

#[killable]
#[inline]
#[must_use]
fn attributes_after(n: u32) -> u32 {
    n + 1
}

#[inline]
#[must_use]
#[killable]
fn attributes_before(n: u32) -> u32 {
    n + 1
}

#[killable]
fn generic<T: Clone + Default, const N: usize>(x: &T) -> [T; N]
where
    T: Copy,
{
    let mut out = [T::default(); N];
    for slot in &mut out {
        *slot = x.clone();
    }
    out
}

#[killable]
unsafe fn raw_read(p: *const u32) -> u32 {
    unsafe { *p }
}

#[killable]
fn impl_trait_in(it: impl IntoIterator<Item = u32>) -> impl Iterator<Item = u32> {
    it.into_iter().map(|x| x * 2)
}

#[killable]
extern "C-unwind" fn c_unwind(x: u32) -> u32 {
    x
}

#[killable]
extern "Rust" fn explicit_rust(x: u32) -> u32 {
    x
}

#[killable]
extern "system-unwind" fn system_unwind(x: u32) -> u32 {
    x
}

struct Counter(u32);

impl Counter {
    #[killable]
    fn new() -> Self {
        Counter(0)
    }
    #[killable]
    fn by_value(self) -> u32 {
        self.0
    }
    #[killable]
    fn by_ref(&self) -> u32 {
        self.0
    }
    #[killable]
    fn by_mut(&mut self) {
        while self.0 < 10 {
            self.0 += 1;
        }
    }
    #[killable]
    fn boxed(self: Box<Self>) -> u32 {
        self.0
    }
    #[killable]
    fn pinned(self: Pin<&mut Self>) -> u32 {
        self.0
    }
    #[killable]
    fn rc(self: Rc<Self>) -> u32 {
        self.0
    }
    #[killable]
    pub(crate) fn with_lifetime<'a>(&'a self, other: &'a u32) -> &'a u32 {
        if self.0 > *other { other } else { &self.0 }
    }
}

trait Shape {
    fn sides(&self) -> u32;

    #[killable]
    fn total(&self, n: u32) -> u32 {
        let mut t = 0;
        for _ in 0..n {
            t += self.sides();
        }
        t
    }
}

// On a trait: every method with a body, bodyless ones skipped.
#[killable]
trait Walk {
    fn step(&mut self) -> bool;
    fn walk(&mut self) -> u32 {
        let mut n = 0;
        while self.step() {
            n += 1;
        }
        n
    }
}

struct Square;

// On an impl: every method; const fns in it are left alone, and a method with its own
// attribute is instrumented once.
#[killable]
impl Shape for Square {
    fn sides(&self) -> u32 {
        4
    }
}

#[killable]
impl Counter {
    const fn zero() -> u32 {
        0
    }
    #[killable]
    fn twice(&mut self) {
        self.by_mut();
    }
}

impl Walk for Counter {
    fn step(&mut self) -> bool {
        self.0 += 1;
        self.0 < 5
    }
}

mod renamed {
    pub use killable as reexported;
}

#[killable(crate = renamed::reexported)]
fn through_a_reexport(n: u32) -> u32 {
    let mut s = 0;
    loop {
        s += 1;
        if s == n {
            break s;
        }
    }
}

#[killable(crate = ::killable,)]
fn absolute_path_and_trailing_comma() {}

#[test]
#[killable]
fn a_test_below() {}

#[killable]
#[test]
fn a_test_above() {}

fn main() {
    assert_eq!(free(4), 6);
    assert_eq!(attributes_after(1) + attributes_before(1), 4);
    assert_eq!(generic::<u8, 3>(&7), [7, 7, 7]);
    assert_eq!(unsafe { raw_read(&5) }, 5);
    assert_eq!(impl_trait_in(vec![1, 2]).collect::<Vec<_>>(), [2, 4]);
    assert_eq!(c_unwind(1) + explicit_rust(1) + system_unwind(1), 3);
    let mut c = Counter::new();
    c.by_mut();
    c.twice();
    assert_eq!(c.by_ref(), 10);
    assert_eq!(*c.with_lifetime(&3), 3);
    assert_eq!(Box::new(Counter(2)).boxed(), 2);
    assert_eq!(Pin::new(&mut Counter(3)).pinned(), 3);
    assert_eq!(Rc::new(Counter(4)).rc(), 4);
    assert_eq!(c.by_value(), 10);
    assert_eq!(Square.total(3), 12);
    assert_eq!(Counter(0).walk(), 4);
    assert_eq!(Counter::zero(), 0);
    assert_eq!(through_a_reexport(3), 3);
    absolute_path_and_trailing_comma();
}
