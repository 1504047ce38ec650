//! Strip-mining: one check per chunk of iterations for cheap `for` loops.
//!
//! A check on every iteration is an atomic load in the loop, and LLVM does not vectorize
//! across it. A `for` loop whose body is
//! straight-line code (no call, method call, macro call, closure or nested loop) over an
//! iterator whose `next` is cheap is therefore split into chunks of `CHUNK` (1024) iterations,
//! with the check between chunks; the inner loop is a plain `for` that LLVM optimizes as
//! usual (`cargo bench --bench perf -- kernels` compares it with the unchecked loop).
//!
//! Input:
//! ```text
//! 'user: for PAT in EXPR { BODY }
//! ```
//! Output (`'chunks`, `iter`, `src` and `seen` are hygienic: user code cannot name them;
//! `STRIP!` is `::killable::__private::strip!`, killable-core's `strip` module's macro):
//! ```text
//! match ::core::iter::IntoIterator::into_iter(EXPR) {
//!     iter => {
//!         let mut src = STRIP!(iter);   // `STRIP!(take iter)` for a body that indexes
//!         'chunks: loop {
//!             CP;
//!             let mut seen: usize = 0;
//!             'user: for PAT in src.chunk() {
//!                 seen += 1;
//!                 BODY  // with `break` and `break 'user` turned into `break 'chunks`
//!             }
//!             if !src.advance(seen) { break 'chunks; }
//!         }
//!     }
//! }
//! ```
//! The outer `match` is the one the compiler's own `for` desugaring uses, so temporaries in
//! `EXPR` live exactly as long as before. `continue` and `continue 'user` still reach the inner
//! `for`, which has the user's label; a `break` must leave both loops, hence the rewrite.
//! The source is chosen from the iterator's type (killable-core's `strip` module): an
//! integer range is cut into counted chunks whose start advances by exactly `CHUNK`, the
//! loop LLVM unrolls without the attribute; any other iterator into `by_ref().take(CHUNK)`,
//! where fewer than `CHUNK` items in a chunk (`seen`) means it is exhausted (a `break` never
//! gets there), so the loop ends without calling `next` again.

use proc_macro2::{Span, TokenStream};
use quote::{quote_spanned, ToTokens};
use syn::spanned::Spanned;
use syn::visit_mut::{self, VisitMut};
use syn::{Expr, ExprForLoop, Lifetime};

use crate::emit::Emit;
use crate::{names, scan};

/// A loop over `(v)` stays as it is, so that rustc's `unused_parens` keeps its message (in
/// the rewrite the parentheses would be a function argument's).
pub(crate) fn eligible(f: &ExprForLoop) -> bool {
    f.attrs.is_empty()
        && !matches!(&*f.expr, Expr::Paren(_))
        && cheap_iterator(&f.expr)
        && scan::block(&f.body).is_cheap()
        && !scan::breaks_with_value(&f.body, f.label.as_ref().map(|l| &l.name))
}

/// Is `next` on this iterator cheap and non-blocking, judging by its syntax? Ranges, places
/// (`v`, `self.items`, `&v[a..b]`) and slice/str/map iterator methods and adapters on them.
/// Anything else (`lines()`, `incoming()`, a user's generator) keeps a check per iteration.
fn cheap_iterator(e: &Expr) -> bool {
    match e {
        Expr::Range(_) => true,
        Expr::Paren(p) => cheap_iterator(&p.expr),
        Expr::Reference(r) => scan::place(&r.expr),
        Expr::MethodCall(m) => {
            let name = m.method.to_string();
            let receiver_ok = if names::SOURCES.contains(&&*name) {
                scan::place(&m.receiver)
            } else if names::CHEAP_ADAPTERS.contains(&&*name) {
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
        other => scan::place(other),
    }
}

pub(crate) fn rewrite(f: ExprForLoop, emit: &Emit) -> Expr {
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
    // Scanned before the rewrite below, which adds no index.
    let indexes = scan::block(&body).indexes;
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

    let check = emit.check();
    let krate = emit.krate();
    let src = syn::Ident::new("__killable_src", hygienic);
    // Edition and hygiene of the call site (so `::core` resolves in a 2015 crate too),
    // position of the user's expression (so "is not an iterator" points at it).
    let at = Span::call_site().located_at(expr.span());
    let into_iter = quote_spanned!(at=> ::core::iter::IntoIterator::into_iter);
    let label = label.map(ToTokens::into_token_stream);
    let strip = quote_spanned!(hygienic=> #krate::__private::strip);
    // Counted chunks make an integer range's loop the one LLVM unrolls without the attribute,
    // but their setup runs each time the loop starts, which a short loop with bounds checks
    // pays in full (`cargo bench --bench perf -- kernels`: matmul). So a body that indexes
    // keeps `take` for ranges too.
    // Located at the user's expression, so that a non-iterator is reported there.
    let near = hygienic.located_at(at);
    let iter_at = syn::Ident::new("__killable_iter", near);
    // The macro's path too: rustc reports an error inside a `macro_rules!` expansion at the
    // invocation's path.
    let strip_at = crate::emit::respan(strip, near);
    let source = if indexes {
        quote_spanned!(near=> #strip_at!(take #iter_at))
    } else {
        quote_spanned!(near=> #strip_at!(#iter_at))
    };
    // The chunks borrow what the user's iterator borrowed: rustc's "borrow later used here"
    // points at the generated `src.chunk()` and `src.advance(..)`, so they are located at the
    // user's expression, where it points without the attribute.
    let src_at = syn::Ident::new("__killable_src", near);
    let chunk = quote_spanned!(near=> #src_at.chunk());
    let advance = quote_spanned!(near=> #src_at.advance(#seen));
    let tokens: TokenStream = quote_spanned! {hygienic=>
        match #into_iter(#expr) {
            #iter => {
                let mut #src = #source;
                #chunks: loop {
                    #check
                    let mut #seen: usize = 0;
                    #label #for_token #pat #in_token #chunk
                    #body
                    if !#advance {
                        break #chunks;
                    }
                }
            }
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

#[cfg(test)]
mod source_tests {
    use quote::ToTokens;
    use syn::parse_quote;

    use crate::emit::Emit;

    fn expansion(f: syn::ExprForLoop) -> String {
        let emit = Emit::new(&crate::args::parse(proc_macro2::TokenStream::new()).unwrap());
        super::rewrite(f, &emit).into_token_stream().to_string()
    }

    #[test]
    fn a_body_that_indexes_takes_the_iterator_as_it_is() {
        let indexing = expansion(parse_quote!(for j in 0..n {
            c[j] += a * b[j];
        }));
        assert!(indexing.contains("strip ! (take"), "{indexing}");

        let arithmetic = expansion(parse_quote!(for i in 0..n {
            x = x.wrapping_mul(A).wrapping_add(i);
        }));
        assert!(!arithmetic.contains("take"), "{arithmetic}");
    }
}
