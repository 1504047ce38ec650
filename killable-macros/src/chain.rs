//! Iterator chains: one check per chunk of items instead of one per closure call.
//!
//! A check at the entry of every closure of `v.iter().map(|&x| x * 3).sum()` is an atomic
//! load inside the loop that std's `fold` runs, and LLVM does not vectorize across it
//! (`cargo bench --bench perf -- kernels` measures by how much). So when a chain
//! starts from a source recognized by its syntax (a range, or a std iterator method such as
//! `iter` or `chars` on a place), the straight-line closures passed to its std adapters and
//! consumers get no entry check, and the source is wrapped in `chunked!`, which passes a
//! checkpoint once per chunk of 1024 items (or once per item, when the source's *type* is not
//! a std iterator whose `next` is known to be cheap: see `killable_core::chunked`).
//!
//! Input:
//! ```text
//! v.iter().enumerate().map(|(i, &x)| x * i).filter(|y| y % 3 == 0).sum::<usize>()
//! ```
//! Output (`CHUNKED` is `::killable::__private::chunked`):
//! ```text
//! CHUNKED!(v.iter()).enumerate().map(|(i, &x)| x * i).filter(|y| y % 3 == 0).sum::<usize>()
//! ```
//!
//! Why this keeps every closure call within a bounded distance of a checkpoint: each item
//! that reaches a closure of the chain was pulled out of the wrapped source, and each adapter
//! between them (`map`, `filter`, `zip`, `rev`, `skip`, …) calls each of its closures a
//! bounded number of times per item it pulls. Where items can come from elsewhere (`chain`'s
//! argument, `flat_map`'s and `flatten`'s inner iterators), or where the chain leaves std's
//! adapters (an unknown method, or a consumer's result), the closures further on keep their
//! entry checks. A closure whose body calls anything but the cheap std methods, or loops, keeps
//! its check wherever it is.
//!
//! The wrapper changes the source's type, so it is only applied when the method called on the
//! source is one of std's `Iterator` methods by name: `s.chars().as_str()`,
//! `v.iter().as_slice()` or `it.peekable().peek()` are left alone.

use proc_macro2::{Span, TokenStream};
use quote::quote_spanned;
use syn::{Expr, ExprMethodCall};

use crate::emit::Emit;
use crate::{names, scan};

/// Adapters that may come between the source and the chain's first closure: the cheap ones
/// (`names::CHEAP_ADAPTERS`) and `fuse`. The wrapper goes around them too (so the items `zip`
/// and `chain` add are counted), except around those in [`names::FOLD_THROUGH`] at the top of that run.
fn is_prefix(name: &str) -> bool {
    name == "fuse" || names::CHEAP_ADAPTERS.contains(&name)
}

/// Where a chain's source is, counted in method calls from the top of the chain.
pub(crate) struct Plan {
    /// Method calls above the source: the source is the receiver of call number `above - 1`
    /// (0 is the outermost call).
    pub(crate) above: usize,
    /// `(call, argument)` positions of the closures that go without an entry check.
    pub(crate) unchecked: Vec<(usize, usize)>,
}

/// Input: a chain's source `v.iter()` or `(0..n)`.
/// Output: `::killable::__private::chunked!(v.iter())`, `::killable::__private::chunked!(0..n)`
/// (without the parentheses, which would trip `unused_parens` inside the macro's `match`).
pub(crate) fn wrap(source: &mut Expr, emit: &Emit) {
    let mut inner = std::mem::replace(source, Expr::Verbatim(TokenStream::new()));
    if let Expr::Paren(p) = inner {
        inner = *p.expr;
    }
    let krate = emit.krate();
    let tokens = quote_spanned!(Span::mixed_site()=> #krate::__private::chunked!(#inner));
    *source = Expr::Verbatim(tokens);
}

/// The plan for the chain whose outermost call is `top`, if it is a chain this module serves.
///
/// `consumed`: the chain is the iterator of a `for` loop, which consumes it.
pub(crate) fn plan(top: &ExprMethodCall, consumed: bool) -> Option<Plan> {
    // The calls of the chain, outermost first.
    let mut calls = vec![top];
    while let Expr::MethodCall(m) = &*calls[calls.len() - 1].receiver {
        calls.push(m);
    }
    let bottom = calls[calls.len() - 1];
    let source = if range(&bottom.receiver) {
        calls.len()
    } else if source_call(bottom) {
        calls.len() - 1
    } else {
        return None;
    };
    // What gets wrapped: the source, or the run of prefix adapters on it up to the last one
    // that does not fold through.
    let mut above = source;
    for k in (0..source).rev() {
        let name = calls[k].method.to_string();
        if !is_prefix(&name) {
            break;
        }
        if !names::FOLD_THROUGH.contains(&name.as_str()) {
            above = k;
        }
    }
    if above == 0 {
        return None;
    }
    // The method called on the source must be std's, or wrapping would change its meaning.
    let first = calls[above - 1].method.to_string();
    if !names::CHAIN_ADAPTERS.contains(&first.as_str())
        && !names::CHAIN_ENDS.contains(&first.as_str())
    {
        return None;
    }
    // The wrapper changes the type of every adapter above it. That type must not escape the
    // expression (returned, bound, passed on: `-> Map<Iter<u32>, F>` would no longer match),
    // so the chain must end in a consumer reached through std adapters only, or be the
    // iterator of a `for` loop.
    let ends_in_consumer = (0..above)
        .rev()
        .map(|i| calls[i].method.to_string())
        .find(|name| {
            !names::CHAIN_ADAPTERS.contains(&name.as_str())
                && !names::CHAIN_PASS_ON.contains(&name.as_str())
        })
        .is_some_and(|name| names::CHAIN_ENDS.contains(&name.as_str()));
    if !consumed && !ends_in_consumer {
        return None;
    }
    let mut unchecked = Vec::new();
    for i in (0..above).rev() {
        let name = calls[i].method.to_string();
        let adapter = names::CHAIN_ADAPTERS.contains(&name.as_str());
        if !adapter && !names::CHAIN_ENDS.contains(&name.as_str()) {
            break;
        }
        for (j, arg) in calls[i].args.iter().enumerate() {
            if straight_line_closure(arg) {
                unchecked.push((i, j));
            }
        }
        if !adapter {
            break;
        }
    }
    if unchecked.is_empty() {
        return None;
    }
    Some(Plan { above, unchecked })
}

/// `(a..b)`, `(a..=b)`, `(a..)`: std ranges.
fn range(e: &Expr) -> bool {
    match e {
        Expr::Paren(p) => matches!(&*p.expr, Expr::Range(r) if r.start.is_some()),
        _ => false,
    }
}

/// `place.iter()`, `self.items.values()`, `s.chars()`, `v.windows(2)`: a std iterator
/// source method (the same list the strip-miner trusts, and `into_iter`) on a place, with
/// arguments that call nothing.
fn source_call(m: &ExprMethodCall) -> bool {
    let name = m.method.to_string();
    (name == "into_iter" || names::SOURCES.contains(&name.as_str()))
        && scan::place(&m.receiver)
        && m.args.iter().all(|a| scan::expr(a).is_cheap())
}

/// `|x| x * 3`, `|&(a, b)| { let s = a + b; s * s }`: runs in bounded time, so the check
/// once per chunk of items bounds the time between checks too.
fn straight_line_closure(e: &Expr) -> bool {
    match e {
        Expr::Closure(c) => c.asyncness.is_none() && scan::expr(&c.body).is_cheap(),
        Expr::Paren(p) => straight_line_closure(&p.expr),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use quote::quote;
    use syn::parse_quote;

    /// The closures left unchecked, as `(call, argument)` from the outermost call, or `None`
    /// when the chain is left to the general rules.
    fn unchecked(e: syn::ExprMethodCall) -> Option<(usize, Vec<(usize, usize)>)> {
        super::plan(&e, false).map(|mut p| {
            p.unchecked.sort_unstable();
            (p.above, p.unchecked)
        })
    }

    #[test]
    fn recognized_sources_and_straight_line_closures() {
        // (0..n).map(A).filter(B).sum()
        assert_eq!(
            unchecked(parse_quote!((0..n)
                .map(|x| x * x)
                .filter(|x| x % 3 == 0)
                .sum::<u64>())),
            Some((3, vec![(1, 0), (2, 0)]))
        );
        assert_eq!(
            unchecked(parse_quote!(self
                .v
                .iter()
                .enumerate()
                .fold(0, |a, (i, &x)| a + i * x))),
            Some((1, vec![(0, 1)]))
        );
        assert_eq!(
            unchecked(parse_quote!(v.iter().map(|&x| x.max(3).min(9)).sum())),
            Some((2, vec![(1, 0)]))
        );
        assert_eq!(
            unchecked(parse_quote!(s.chars().rev().any(|c| c.is_ascii_digit()))),
            Some((2, vec![(0, 0)]))
        );
        assert_eq!(
            unchecked(parse_quote!(a
                .iter()
                .zip(b.iter())
                .map(|(x, y)| x * y)
                .sum())),
            Some((2, vec![(1, 0)]))
        );
    }

    #[test]
    fn chain_before_the_first_closure_is_wrapped_too() {
        // so the items of `chain`'s argument are counted
        assert_eq!(
            unchecked(parse_quote!((0..n).chain(5..).skip(2).map(|x| x + 1).sum())),
            Some((3, vec![(1, 0)]))
        );
    }

    #[test]
    fn closures_after_a_barrier_keep_their_checks() {
        // `chain`: its argument's items are not counted.
        assert_eq!(
            unchecked(parse_quote!(v
                .iter()
                .map(|x| x + 1)
                .chain(w)
                .map(|x| x * 2)
                .sum())),
            Some((4, vec![(3, 0)]))
        );
        // `flat_map`'s closure runs once per item; what comes out of it is not counted.
        assert_eq!(
            unchecked(parse_quote!((0..n).flat_map(|x| 0..x).map(|y| y * 2).sum())),
            Some((3, vec![(2, 0)]))
        );
        // A consumer's result is not an iterator of the chain any more.
        assert_eq!(
            unchecked(parse_quote!(v
                .iter()
                .max_by_key(|x| x.abs())
                .map(|x| x + 1))),
            Some((2, vec![(1, 0)]))
        );
        // An unknown method, which may end the chain with the wrapped type.
        assert_eq!(
            unchecked(parse_quote!(v
                .iter()
                .map(|x| x + 1)
                .my_adapter()
                .map(|x| x + 2)
                .sum())),
            None
        );
    }

    #[test]
    fn everything_else_is_left_to_the_general_rules() {
        for e in [
            // closures that call something, loop, or define closures
            quote!(v.iter().map(|x| f(x)).sum()),
            quote!(v.iter().map(|x| x.to_string()).count()),
            quote!(v
                .iter()
                .map(|x| {
                    let mut n = 0;
                    while n < *x {
                        n += 1;
                    }
                    n
                })
                .sum()),
            quote!(v.iter().map(|x| println!("{x}")).count()),
            quote!(v
                .iter()
                .map(|x| {
                    let g = || x;
                    g
                })
                .count()),
            // `Iterator::max` (no argument) is a loop, unlike `Ord::max`
            quote!(v.iter().map(|r| r.clone().max()).count()),
            // sources not recognized: a variable, a call, a non-std method
            quote!(it.map(|x| x + 1).sum()),
            quote!(make().iter().map(|x| x + 1).sum()),
            quote!(r.lines().map(|l| l.len()).sum()),
            quote!(v.iter().map(g).sum()),
            // the method called on the source is not std's `Iterator`'s
            quote!(s.chars().as_str().len()),
            quote!(v.iter().as_slice().iter().map(|x| x + 1).sum()),
            // `Option::map`, not an iterator chain
            quote!(opt.map(|x| x + 1)),
            // the iterator escapes: returned, bound, passed on (its type is the user's)
            quote!(v.iter().map(|x| x + 1)),
            quote!(s.chars().filter(|c| *c == 'a')),
            quote!(v.iter().map(|x| x + 1).peekable().peek()),
            // async closures run where their future is polled
            quote!(v.iter().map(async |x| x).count()),
        ] {
            let e: syn::ExprMethodCall = syn::parse2(e.clone()).unwrap();
            assert_eq!(unchecked(e.clone()), None, "{}", quote!(#e));
        }
    }
}
