// Tails, final diverging calls and leading items where `#[cfg]` decides which statement is
// last (issue 17, shapes 1 and 5): each fn compiles, with the same value, as without the
// attribute. `unix` holds where these tests run, so the first variant of each pair survives.
#![deny(warnings)]
#![warn(clippy::pedantic)]
#![allow(clippy::missing_panics_doc, clippy::unnecessary_wraps)]

use killable::killable;

fn f() -> u32 {
    std::hint::black_box(1)
}

#[killable]
fn gated_blocks() -> u32 {
    f();
    #[cfg(unix)]
    {
        f() + 1
    }
    #[cfg(not(unix))]
    {
        f() + 2
    }
}

#[killable]
fn gated_unsafe_blocks() -> u32 {
    #[cfg(unix)]
    unsafe {
        core::ptr::read(&f())
    }
    #[cfg(not(unix))]
    unsafe {
        core::ptr::read(&f())
    }
}

#[killable]
fn gated_matches(x: u32) -> u32 {
    #[cfg(unix)]
    match f() {
        0 => x,
        _ => f(),
    }
    #[cfg(not(unix))]
    match f() {
        0 => x,
        _ => f() + 1,
    }
}

#[killable]
fn gated_loops() -> u32 {
    #[cfg(unix)]
    loop {
        break f();
    }
    #[cfg(not(unix))]
    loop {
        break f() + 1;
    }
}

#[killable]
fn gated_block_then_gated_plain_expression() -> u32 {
    #[cfg(not(unix))]
    {
        f()
    }
    #[cfg(unix)]
    f()
}

#[killable]
fn ungated_block_then_gated_block() -> u32 {
    {
        f()
    }
    #[cfg(not(unix))]
    {
        f() + 1
    }
}

#[killable]
fn nested() -> u32 {
    let x = {
        f();
        #[cfg(unix)]
        {
            f()
        }
        #[cfg(not(unix))]
        {
            f() + 1
        }
    };
    x + 1
}

#[killable]
fn cfg_attr_gated() -> u32 {
    #[cfg_attr(not(unix), cfg(any()))]
    {
        f()
    }
    #[cfg_attr(unix, cfg(any()))]
    {
        f() + 1
    }
}

fn run_a() -> ! {
    std::process::exit(0)
}

#[killable]
fn gated_diverging_calls() -> ! {
    f();
    #[cfg(unix)]
    run_a();
    #[cfg(not(unix))]
    run_a();
}

#[killable]
fn is_available() -> bool {
    #[cfg(target_feature = "avx2")]
    {
        true
    }
    #[cfg(not(target_feature = "avx2"))]
    {
        std::is_x86_feature_detected!("avx2")
    }
}

// Items before the first statement stay first: no `items_after_statements`.
#[killable]
fn items_first() -> u32 {
    use std::hint::black_box;
    const K: u32 = 3;
    fn helper() -> u32 {
        K
    }
    black_box(helper()) + K
}

fn main() {
    assert_eq!(gated_blocks(), 2);
    assert_eq!(gated_unsafe_blocks(), 1);
    assert_eq!(gated_matches(5), 1);
    assert_eq!(gated_loops(), 1);
    assert_eq!(gated_block_then_gated_plain_expression(), 1);
    assert_eq!(ungated_block_then_gated_block(), 1);
    assert_eq!(nested(), 2);
    assert_eq!(cfg_attr_gated(), 1);
    let _ = is_available();
    assert_eq!(items_first(), 6);
    if f() == 0 {
        gated_diverging_calls();
    }
}
