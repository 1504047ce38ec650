//! Compile-time tests of `#[killable]`: what it accepts (tests/ui/pass) and how it refuses
//! (tests/ui/fail, with the exact messages in the `.stderr` files).
//!
//! Regenerate the `.stderr` files after a deliberate change of a message with
//! `TRYBUILD=overwrite cargo test -p killable-ui-tests --test ui`, then read them.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass/*.rs");
    t.compile_fail("tests/ui/fail/*.rs");
}
