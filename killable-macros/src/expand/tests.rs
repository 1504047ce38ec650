//! The placement rules, pinned on whole expansions.

use proc_macro2::TokenStream;
use quote::quote;

fn expand(item: TokenStream) -> String {
    super::killable(TokenStream::new(), item).to_string()
}

fn same(item: TokenStream, expected: TokenStream) {
    assert_eq!(expand(item), expected.to_string());
}

#[test]
fn entry_and_after_calls_but_not_after_the_last_statement() {
    same(
        quote!(
            fn f() -> u32 {
                #![allow(unused)]
                a();
                let x = b();
                c!();
                let y = 1;
                d(x)
            }
        ),
        quote!(
            fn f() -> u32 {
                #![allow(unused)]
                ::killable::__private::checkpoint();
                a();
                ::killable::__private::checkpoint();
                let x = b();
                ::killable::__private::checkpoint();
                c!();
                ::killable::__private::checkpoint();
                let y = 1;
                d(x)
            }
        ),
    );
}

#[test]
fn no_check_after_a_nested_blocks_last_call_when_only_straight_line_code_follows() {
    // `c()` is the last call of the `if` block and only straight-line code follows it
    // there: the block ends a bounded number of instructions later, into the check after
    // the `if` statement. The fn body keeps that check, though only straight-line code
    // follows it: the fn returns to code that may have no check of its own.
    same(
        quote!(
            fn f(v: &mut V) -> u32 {
                let x = b();
                if x > 0 {
                    c();
                    v.n += 1;
                    d();
                    v.n += 2;
                }
                let y = x + 1;
                y
            }
        ),
        // Every call is followed by a check, so no entry check (see `fn_body`).
        quote!(
            fn f(v: &mut V) -> u32 {
                let x = b();
                ::killable::__private::checkpoint();
                if x > 0 {
                    c();
                    ::killable::__private::checkpoint();
                    v.n += 1;
                    d();
                    v.n += 2;
                }
                ::killable::__private::checkpoint();
                let y = x + 1;
                y
            }
        ),
    );
}

#[test]
fn no_entry_check_when_every_call_is_followed_by_one() {
    // Both recursive calls are followed by checks: a descent grows the stack, and each
    // return passes a check.
    same(
        quote!(
            fn fib(n: u64) -> u64 {
                let mut r = n;
                if n >= 2 {
                    let a = fib(n - 1);
                    let b = fib(n - 2);
                    r = a + b;
                }
                r
            }
        ),
        quote!(
            fn fib(n: u64) -> u64 {
                let mut r = n;
                if n >= 2 {
                    let a = fib(n - 1);
                    ::killable::__private::checkpoint();
                    let b = fib(n - 2);
                    r = a + b;
                }
                ::killable::__private::checkpoint();
                r
            }
        ),
    );
    // A call in the last statement, in a `return`, or an opaque macro (which may expand
    // to a `return f()`) may be a tail call: the entry check stays.
    for (body, checked) in [
        (
            quote!({
                a();
                b()
            }),
            quote!({
                CP;
                a();
                CP;
                b()
            }),
        ),
        (
            quote!({
                if n > 0 {
                    return f(n - 1);
                }
                a();
                n
            }),
            quote!({
                CP;
                if n > 0 {
                    return f(n - 1);
                }
                CP;
                a();
                CP;
                n
            }),
        ),
        (
            quote!({
                m!(n);
                n
            }),
            quote!({
                CP;
                m!(n);
                CP;
                n
            }),
        ),
    ] {
        let cp = quote!(::killable::__private::checkpoint(););
        let checked: TokenStream = checked
            .into_iter()
            .flat_map(|t| match t {
                proc_macro2::TokenTree::Group(g) => {
                    let inner: TokenStream = g
                        .stream()
                        .to_string()
                        .replace("CP ;", &cp.to_string())
                        .parse()
                        .unwrap();
                    let mut g2 = proc_macro2::Group::new(g.delimiter(), inner);
                    g2.set_span(g.span());
                    quote!(#g2)
                }
                other => quote!(#other),
            })
            .collect();
        same(
            quote!(fn f(n: u64) -> u64 #body),
            quote!(fn f(n: u64) -> u64 #checked),
        );
    }
}

#[test]
fn assertions_count_only_what_their_arguments_call() {
    // `debug_assert!(n < 8)` is straight-line code: no check after it, and a fn whose only
    // macros are such assertions is a leaf.
    same(
        quote!(
            fn leaf(n: usize) -> usize {
                debug_assert!(n < 8);
                assert_eq!(n % 2, 0, "odd {}", n);
                n + 1
            }
        ),
        quote!(
            fn leaf(n: usize) -> usize {
                debug_assert!(n < 8);
                assert_eq!(n % 2, 0, "odd {}", n);
                n + 1
            }
        ),
    );
    same(
        quote!(
            fn f(n: usize) -> usize {
                assert!(g(n));
                h(n)
            }
        ),
        quote!(
            fn f(n: usize) -> usize {
                ::killable::__private::checkpoint();
                assert!(g(n));
                ::killable::__private::checkpoint();
                h(n)
            }
        ),
    );
}

#[test]
fn loops_get_head_checks_and_no_redundant_tail_check() {
    same(
        quote!(
            fn f() {
                'a: loop {
                    x();
                    n += 1;
                    if n > 3 {
                        break 'a;
                    }
                }
                while n > 0 {
                    n -= 1;
                    y();
                    z();
                }
                let v = loop {
                    break 5;
                };
            }
        ),
        // Every call is followed by a check, so no entry check (see `fn_body`).
        quote!(
            fn f() {
                'a: loop {
                    ::killable::__private::checkpoint();
                    x();
                    n += 1;
                    if n > 3 {
                        break 'a;
                    }
                }
                ::killable::__private::checkpoint();
                while n > 0 {
                    ::killable::__private::checkpoint();
                    n -= 1;
                    y();
                    ::killable::__private::checkpoint();
                    z();
                }
                ::killable::__private::checkpoint();
                let v = loop {
                    ::killable::__private::checkpoint();
                    break 5;
                };
            }
        ),
    );
}

#[test]
fn closures_get_entry_checks_nested_items_and_async_do_not() {
    same(
        quote!(
            fn f() {
                let g = |x| x + 1;
                let h = move |x: u32| -> u32 { x };
                fn inner() {
                    loop {}
                }
                let fut = async { loop {} };
            }
        ),
        quote!(
            fn f() {
                let g = |x| {
                    ::killable::__private::checkpoint();
                    x + 1
                };
                let h = move |x: u32| -> u32 {
                    ::killable::__private::checkpoint();
                    x
                };
                fn inner() {
                    loop {}
                }
                let fut = async { loop {} };
            }
        ),
    );
}

#[test]
fn straight_line_closures_of_call_once_methods_get_no_entry_check() {
    // `and_then` and `map_or` call their closure at most once, so their closures get no
    // entry check, even one that calls (the statement's check follows); `map` may be an
    // iterator's. A loop inside such a closure keeps its head check.
    same(
        quote!(
            fn f(x: Option<u64>, d: u64) -> u64 {
                let a = x.and_then(|v| v.checked_add(d)).map_or(d, |v| v + 1);
                let b = x.map(|v| v + 1);
                x.and_then(|v| g(v)).unwrap_or(a)
            }
        ),
        quote!(
            fn f(x: Option<u64>, d: u64) -> u64 {
                ::killable::__private::checkpoint();
                let a = x.and_then(|v| v.checked_add(d)).map_or(d, |v| v + 1);
                ::killable::__private::checkpoint();
                let b = x.map(|v| {
                    ::killable::__private::checkpoint();
                    v + 1
                });
                ::killable::__private::checkpoint();
                x.and_then(|v| g(v)).unwrap_or(a)
            }
        ),
    );
}

#[test]
fn a_loop_in_a_call_once_closure_keeps_its_head_check() {
    same(
        quote!(
            fn f(x: Option<u64>) -> u64 {
                x.map_or(0, |n| {
                    let mut s = 0;
                    while s < n {
                        s = g(s);
                    }
                    s
                })
            }
        ),
        quote!(
            fn f(x: Option<u64>) -> u64 {
                ::killable::__private::checkpoint();
                x.map_or(0, |n| {
                    let mut s = 0;
                    while s < n {
                        ::killable::__private::checkpoint();
                        s = g(s);
                    }
                    s
                })
            }
        ),
    );
}

#[test]
fn a_bare_inline_on_a_loop_free_fn_becomes_inline_always() {
    same(
        quote!(
            #[inline]
            fn len(&self) -> usize {
                self.triple().1
            }
        ),
        quote!(
            #[inline(always)]
            #[allow(clippy::inline_always)]
            fn len(&self) -> usize {
                ::killable::__private::checkpoint();
                self.triple().1
            }
        ),
    );
    // A loop, a closure, `#[target_feature]` (which rejects `inline(always)`), `#[cold]`, or
    // an `#[inline]` with arguments: the attribute stays as written.
    for item in [
        quote!(
            #[inline]
            fn f(v: &[u8]) -> u8 {
                let mut s = 0;
                for &b in v {
                    s ^= g(b);
                }
                s
            }
        ),
        quote!(
            #[inline]
            fn f(v: Option<u8>) -> Option<u8> {
                v.map(|b| g(b))
            }
        ),
        quote!(
            #[inline]
            #[target_feature(enable = "avx2")]
            unsafe fn f() -> u8 {
                g(1)
            }
        ),
        quote!(
            #[cold]
            #[inline]
            fn f() -> u8 {
                g(1)
            }
        ),
        quote!(
            #[inline(never)]
            fn f() -> u8 {
                g(1)
            }
        ),
    ] {
        let out = expand(item);
        assert!(!out.contains("always"), "{out}");
        assert!(out.contains("inline"), "{out}");
    }
}

#[test]
fn diverging_and_cheap_statements_get_no_check() {
    same(
        quote!(
            fn f() {
                x = x.wrapping_mul(3);
                let o = Some(x);
                panic!("no");
                g();
                h();
            }
        ),
        quote!(
            fn f() {
                ::killable::__private::checkpoint();
                x = x.wrapping_mul(3);
                let o = Some(x);
                panic!("no");
                g();
                ::killable::__private::checkpoint();
                h();
            }
        ),
    );
}

#[test]
fn leaf_fns_get_no_entry_check() {
    // No call and no macro: straight-line code, or loops with their own checks.
    same(
        quote!(
            fn leaf(x: u64) -> u64 {
                let y = x.wrapping_mul(3);
                let _o = Some(y);
                y.rotate_left(5) ^ u64::from(x > 9)
            }
        ),
        quote!(
            fn leaf(x: u64) -> u64 {
                let y = x.wrapping_mul(3);
                let _o = Some(y);
                y.rotate_left(5) ^ u64::from(x > 9)
            }
        ),
    );
    same(
        quote!(
            fn spin(mut n: u32) -> u32 {
                while n > 1 {
                    n -= 1;
                }
                n
            }
        ),
        quote!(
            fn spin(mut n: u32) -> u32 {
                while n > 1 {
                    ::killable::__private::checkpoint();
                    n -= 1;
                }
                n
            }
        ),
    );
    // A call anywhere, even in a loop or a tail expression, keeps the entry check: it may
    // be a (mutually) recursive one.
    same(
        quote!(
            fn fib(n: u64) -> u64 {
                if n < 2 {
                    n
                } else {
                    fib(n - 1) + fib(n - 2)
                }
            }
        ),
        quote!(
            fn fib(n: u64) -> u64 {
                ::killable::__private::checkpoint();
                if n < 2 {
                    n
                } else {
                    fib(n - 1) + fib(n - 2)
                }
            }
        ),
    );
}

#[test]
fn leading_items_stay_before_the_entry_check() {
    same(
        quote!(
            fn f() -> u32 {
                #![allow(unused)]
                use std::hint::black_box;
                const K: u32 = 3;
                black_box(K)
            }
        ),
        quote!(
            fn f() -> u32 {
                #![allow(unused)]
                use std::hint::black_box;
                const K: u32 = 3;
                ::killable::__private::checkpoint();
                black_box(K)
            }
        ),
    );
}

#[test]
fn no_check_among_cfg_gated_tail_candidates() {
    same(
        quote!(
            fn f() -> u32 {
                a();
                #[cfg(unix)]
                {
                    b()
                }
                #[cfg(not(unix))]
                {
                    c()
                }
            }
        ),
        quote!(
            fn f() -> u32 {
                ::killable::__private::checkpoint();
                a();
                ::killable::__private::checkpoint();
                #[cfg(unix)]
                {
                    b()
                }
                #[cfg(not(unix))]
                {
                    c()
                }
            }
        ),
    );
    // A block without `;` before gated statements may be the tail itself.
    same(
        quote!(
            fn f() -> u32 {
                {
                    b()
                }
                #[cfg(any())]
                {
                    c()
                }
            }
        ),
        quote!(
            fn f() -> u32 {
                ::killable::__private::checkpoint();
                {
                    b()
                }
                #[cfg(any())]
                {
                    c()
                }
            }
        ),
    );
}

#[test]
fn const_contexts_are_left_alone() {
    same(
        quote!(
            fn f() {
                let a = [0u8; { N + size() }];
                let b = const { size() };
            }
        ),
        quote!(
            fn f() {
                let a = [0u8; { N + size() }];
                let b = const { size() };
            }
        ),
    );
}

#[test]
fn crate_path_is_used_everywhere() {
    let out = super::killable(
        quote!(crate = my::k),
        quote!(
            fn f() {
                loop {}
            }
        ),
    );
    assert_eq!(
        out.to_string(),
        quote!(
            fn f() {
                loop {
                    my::k::__private::checkpoint();
                }
            }
        )
        .to_string()
    );
}

#[test]
fn impl_and_trait_members() {
    same(
        quote!(impl T for S {
            fn a(&self) { g() }
            const fn b() {}
            #[killable] fn c() {}
        }),
        quote!(impl T for S {
            fn a(&self) { ::killable::__private::checkpoint(); g() }
            const fn b() {}
            #[killable] fn c() {}
        }),
    );
    same(
        quote!(
            trait T {
                fn a(&self) {
                    g();
                }
                fn b(&self);
            }
        ),
        quote!(
            trait T {
                fn a(&self) {
                    ::killable::__private::checkpoint();
                    g();
                }
                fn b(&self);
            }
        ),
    );
}

#[test]
fn empty_and_canonical_bodies_are_left_as_written() {
    for item in [
        quote!(
            fn assert_send<T: Send>() {}
        ),
        quote!(
            impl<T> Clone for P<T> {
                fn clone(&self) -> Self {
                    *self
                }
            }
        ),
        quote!(impl PartialOrd for V {
            fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
                Some(self.cmp(other))
            }
        }),
        quote!(impl PartialOrd for V {
            fn partial_cmp(&self, rhs: &Self) -> Option<Ordering> {
                Some(::core::cmp::Ord::cmp(self, rhs))
            }
        }),
    ] {
        same(item.clone(), item);
    }
    // Not the canonical body: instrumented as usual.
    same(
        quote!(
            fn clone(&self) -> Self {
                self.copy()
            }
        ),
        quote!(
            fn clone(&self) -> Self {
                ::killable::__private::checkpoint();
                self.copy()
            }
        ),
    );
}

#[test]
fn refusals_keep_the_item() {
    for item in [
        quote!(
            struct S;
        ),
        quote!(
            const fn f() {}
        ),
        quote!(
            extern "C" fn f() {}
        ),
        quote!(
            async fn f() {}
        ),
        quote!(
            fn f(&self);
        ),
    ] {
        let out = expand(item.clone());
        assert!(out.starts_with("compile_error !"), "{out}");
        assert!(out.ends_with(&item.to_string()), "{out}");
    }
}
