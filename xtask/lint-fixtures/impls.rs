//! Bodies clippy inspects for their exact shape: an empty generic fn (a compile-time
//! assertion), `Clone` for a `Copy` type, `PartialOrd` for an `Ord` type.
use std::cmp::Ordering;

pub fn check() {
    fn assert_send<T: Send>() {}
    assert_send::<u32>();
}

#[derive(Copy, PartialEq, Eq, Ord)]
pub struct Point(pub u32);

impl Clone for Point {
    fn clone(&self) -> Self {
        *self
    }
}

impl PartialOrd for Point {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
