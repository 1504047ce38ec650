//! Compile-time tests of `#[killable]`: what it accepts (tests/ui/pass) and how it refuses
//! (tests/ui/fail, with the exact messages in the `.stderr` files).
//!
//! Regenerate the `.stderr` files after a deliberate change of a message with
//! `TRYBUILD=overwrite cargo test -p killable-ui-tests --test ui`, then read them.

#[test]
fn ui() {
    // trybuild's own cargo builds print their progress ("Compiling ...")
    // between the test results; only the results are ours to show. The one
    // test in this binary, so no other thread reads the environment.
    std::env::set_var("CARGO_TERM_QUIET", "true");
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass/*.rs");
    t.compile_fail("tests/ui/fail/*.rs");
}
