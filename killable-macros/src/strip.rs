//! Strip-mining: one check per chunk of iterations for cheap `for` loops.
//!
//! A check on every iteration is an atomic load in the loop, and LLVM does not vectorize
//! across it: a slice sum measured 3.4x slower with one. A `for` loop whose body is
//! straight-line code (no call, method call, macro call, closure or nested loop) over an
//! iterator whose `next` is cheap is therefore split into chunks of [`CHUNK`] iterations,
//! with the check between chunks; the inner loop is a plain `for` that LLVM optimizes as
//! usual (measured at about 1.01x of the unchecked loop).
//!
//! Input:
//! ```text
//! 'user: for PAT in EXPR { BODY }
//! ```
//! Output (`'chunks`, `iter` and `seen` are hygienic: user code cannot name them):
//! ```text
//! match ::core::iter::IntoIterator::into_iter(EXPR) {
//!     mut iter => 'chunks: loop {
//!         CP;
//!         let mut seen: usize = 0;
//!         'user: for PAT in ::core::iter::Iterator::take(
//!             ::core::iter::Iterator::by_ref(&mut iter), CHUNK) {
//!             seen += 1;
//!             BODY  // with `break` and `break 'user` turned into `break 'chunks`
//!         }
//!         if seen < CHUNK { break 'chunks; }
//!     },
//! }
//! ```
//! The outer `match` is the one the compiler's own `for` desugaring uses, so temporaries in
//! `EXPR` live exactly as long as before. `continue` and `continue 'user` still reach the inner
//! `for`, which has the user's label; a `break` must leave both loops, hence the rewrite.
//! Fewer than `CHUNK` iterations in a chunk means the iterator is exhausted (a `break` never
//! gets there), so the loop ends without calling `next` again.

use proc_macro2::{Span, TokenStream};
use quote::{quote_spanned, ToTokens};
use syn::spanned::Spanned;
use syn::visit_mut::{self, VisitMut};
use syn::{Expr, ExprForLoop, Lifetime};

use crate::expand::Instrument;
use crate::scan;

/// Iterations between two checks. A cheap body costs nanoseconds per iteration, so a chunk
/// delays a kill by microseconds while making the check's cost per iteration negligible.
pub(crate) const CHUNK: usize = 1024;

pub(crate) fn eligible(f: &ExprForLoop) -> bool {
    f.attrs.is_empty()
        && cheap_iterator(&f.expr)
        && scan::block(&f.body).is_cheap()
        && !scan::breaks_with_value(&f.body, f.label.as_ref().map(|l| &l.name))
}

/// Methods that, called on a place, make a std iterator whose `next` is cheap (slices, `str`,
/// maps), judging by the name alone.
pub(crate) const SOURCES: &[&str] = &[
    "iter",
    "iter_mut",
    "bytes",
    "chars",
    "char_indices",
    "chunks",
    "chunks_exact",
    "chunks_mut",
    "chunks_exact_mut",
    "windows",
    "keys",
    "values",
    "values_mut",
];

/// Std adapters whose `next` costs a few instructions over their inner iterator's: an
/// iterator built from cheap ones with them stays cheap. Shared with `chain`, which also
/// wraps chain sources through them.
pub(crate) const CHEAP_ADAPTERS: &[&str] = &[
    "enumerate",
    "rev",
    "skip",
    "take",
    "step_by",
    "copied",
    "cloned",
    "zip",
    "chain",
];

/// Is `next` on this iterator cheap and non-blocking, judging by its syntax? Ranges, places
/// (`v`, `self.items`, `&v[a..b]`) and slice/str/map iterator methods and adapters on them.
/// Anything else (`lines()`, `incoming()`, a user's generator) keeps a check per iteration.
fn cheap_iterator(e: &Expr) -> bool {
    match e {
        Expr::Range(_) => true,
        Expr::Paren(p) => cheap_iterator(&p.expr),
        Expr::Reference(r) => place(&r.expr),
        Expr::MethodCall(m) => {
            let name = m.method.to_string();
            let receiver_ok = if SOURCES.contains(&&*name) {
                place(&m.receiver)
            } else if CHEAP_ADAPTERS.contains(&&*name) {
                cheap_iterator(&m.receiver)
            } else {
                false
            };
            // `zip(other)` and `chain(other)` call `next` on their argument too.
            let args_ok = match name.as_str() {
                "zip" | "chain" => m.args.iter().all(cheap_iterator),
                _ => m.args.iter().all(|a| scan::expr(a).is_cheap()),
            };
            receiver_ok && args_ok
        }
        other => place(other),
    }
}

/// A place expression without calls: `v`, `self.v`, `v[i]`, `*v`, `&v`, `(v)`.
pub(crate) fn place(e: &Expr) -> bool {
    match e {
        Expr::Path(_) => true,
        Expr::Field(f) => place(&f.base),
        Expr::Index(i) => place(&i.expr) && scan::expr(&i.index).is_cheap(),
        Expr::Paren(p) => place(&p.expr),
        Expr::Reference(r) => place(&r.expr),
        Expr::Unary(u) if matches!(u.op, syn::UnOp::Deref(_)) => place(&u.expr),
        _ => false,
    }
}

pub(crate) fn rewrite(f: ExprForLoop, cx: &Instrument) -> Expr {
    let ExprForLoop {
        label,
        pat,
        expr,
        mut body,
        for_token,
        in_token,
        ..
    } = f;
    let hygienic = Span::mixed_site();
    let chunks = Lifetime::new("'__killable_chunks", hygienic);
    let iter = syn::Ident::new("__killable_iter", hygienic);
    let seen = syn::Ident::new("__killable_seen", hygienic);
    let user_label = label.as_ref().map(|l| l.name.clone());
    let mut breaks = Breaks {
        user_label: user_label.as_ref(),
        chunks: &chunks,
        broke_to_user_label: false,
        continued_user_label: false,
    };
    breaks.visit_block_mut(&mut body);
    // A label whose breaks all became `break 'chunks` and that no `continue` names would
    // trip `unused_labels` on the user's code; a label that was unused already keeps it.
    let label = if breaks.broke_to_user_label && !breaks.continued_user_label {
        None
    } else {
        label
    };
    let seen_stmt: syn::Stmt = syn::parse_quote_spanned!(hygienic=> #seen += 1;);
    body.stmts.insert(0, seen_stmt);

    let check = cx.check();
    // Edition and hygiene of the call site (so `::core` resolves in a 2015 crate too),
    // position of the user's expression (so "is not an iterator" points at it).
    let at = Span::call_site().located_at(expr.span());
    let into_iter = quote_spanned!(at=> ::core::iter::IntoIterator::into_iter);
    let iterator = quote_spanned!(at=> ::core::iter::Iterator);
    let chunk = syn::LitInt::new(&CHUNK.to_string(), at);
    // Same hygiene as `iter` (so it names the same binding), located at the user's
    // expression so that a non-iterator is reported there and not across the whole fn.
    let iter_at = syn::Ident::new("__killable_iter", hygienic.located_at(at));
    let by_ref_iter = quote_spanned!(hygienic.located_at(at)=> &mut #iter_at);
    let chunk_iter = quote_spanned!(at=> #iterator::take(#iterator::by_ref(#by_ref_iter), #chunk));
    let label = label.map(ToTokens::into_token_stream);
    let tokens: TokenStream = quote_spanned! {hygienic=>
        match #into_iter(#expr) {
            mut #iter => #chunks: loop {
                #check
                let mut #seen: usize = 0;
                #label #for_token #pat #in_token #chunk_iter
                #body
                if #seen < #chunk {
                    break #chunks;
                }
            },
        }
    };
    syn::parse2(tokens).expect("strip-mined loop is a valid expression")
}

/// Turns every `break` that leaves the user's `for` into `break 'chunks`, which leaves the
/// chunk loop as well. Breaks aimed at enclosing loops keep their labels.
struct Breaks<'a> {
    user_label: Option<&'a Lifetime>,
    chunks: &'a Lifetime,
    broke_to_user_label: bool,
    continued_user_label: bool,
}

fn same_label(a: Option<&Lifetime>, b: Option<&Lifetime>) -> bool {
    matches!((a, b), (Some(a), Some(b)) if a.ident == b.ident)
}

impl VisitMut for Breaks<'_> {
    fn visit_expr_break_mut(&mut self, e: &mut syn::ExprBreak) {
        let to_user_label = same_label(e.label.as_ref(), self.user_label);
        if e.label.is_none() || to_user_label {
            self.broke_to_user_label |= to_user_label;
            e.label = Some(self.chunks.clone());
        }
        visit_mut::visit_expr_break_mut(self, e);
    }
    fn visit_expr_continue_mut(&mut self, e: &mut syn::ExprContinue) {
        self.continued_user_label |= same_label(e.label.as_ref(), self.user_label);
    }
    fn visit_item_mut(&mut self, _: &mut syn::Item) {}
    fn visit_expr_closure_mut(&mut self, _: &mut syn::ExprClosure) {}
    fn visit_expr_async_mut(&mut self, _: &mut syn::ExprAsync) {}
    fn visit_expr_const_mut(&mut self, _: &mut syn::ExprConst) {}
    fn visit_macro_mut(&mut self, _: &mut syn::Macro) {}
}

#[cfg(test)]
mod tests {
    use super::eligible;
    use syn::parse_quote;

    fn strips(f: syn::ExprForLoop) -> bool {
        eligible(&f)
    }

    #[test]
    fn cheap_loops_over_cheap_iterators_are_strip_mined() {
        assert!(strips(parse_quote!(for i in 0..n {
            s += i;
        })));
        assert!(strips(parse_quote!(for &x in v {
            s = s.wrapping_add(x);
        })));
        assert!(strips(parse_quote!(for x in &self.v[1..] {
            s += x;
        })));
        assert!(strips(parse_quote!(
            'l: for (i, b) in s.bytes().enumerate().rev() {
                if b == 0 {
                    continue 'l;
                }
                if b == 1 {
                    break;
                }
                n += i;
            }
        )));
        assert!(strips(parse_quote!(
            for (a, b) in x.iter().zip(y.iter_mut()) {
                *b += a;
            }
        )));
    }

    #[test]
    fn anything_that_may_take_long_keeps_a_check_per_iteration() {
        // a call in the body
        assert!(!strips(parse_quote!(for i in 0..n {
            f(i);
        })));
        // a macro in the body
        assert!(!strips(parse_quote!(for i in 0..n {
            m!(i);
        })));
        // a nested loop
        assert!(!strips(parse_quote!(for i in 0..n {
            while j < i {
                j += 1;
            }
        })));
        // a closure
        assert!(!strips(parse_quote!(for i in 0..n {
            let c = || i;
        })));
        // an iterator whose `next` may block or be slow
        assert!(!strips(parse_quote!(for l in r.lines() {
            n += 1;
        })));
        assert!(!strips(parse_quote!(for x in make() {
            n += x;
        })));
        assert!(!strips(parse_quote!(for x in v.iter().map(f) {
            n += x;
        })));
        // an attribute on the loop
        assert!(!strips(parse_quote!(
            #[cfg(x)]
            for i in 0..n {
                s += i;
            }
        )));
        // `break` with a value is the user's error to see, not ours to rewrite
        assert!(!strips(parse_quote!(for i in 0..n {
            break 1;
        })));
    }
}
