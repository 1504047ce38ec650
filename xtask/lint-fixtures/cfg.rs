//! Tails and final calls gated by `#[cfg]`.
#![allow(clippy::must_use_candidate)]

fn f() -> u32 {
    std::hint::black_box(1)
}

pub fn gated_tail() -> u32 {
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

pub fn is_available() -> bool {
    #[cfg(target_feature = "avx2")]
    {
        true
    }
    #[cfg(not(target_feature = "avx2"))]
    {
        std::is_x86_feature_detected!("avx2")
    }
}

pub fn gated_statements(v: &[u32]) -> u32 {
    let mut s = 0;
    #[cfg(unix)]
    for x in v {
        s += x;
    }
    #[cfg(not(unix))]
    let s = 3;
    s
}
