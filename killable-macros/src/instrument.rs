//! Where the checks go: the placement rules, applied by a `VisitMut` over one fn or closure
//! body. Nested items, `async` blocks and const contexts are skipped; loops and iterator chains
//! that `strip` and `chain` can serve are rewritten by them.

use proc_macro2::TokenStream;
use syn::visit_mut::{self, VisitMut};
use syn::{Block, Expr, Item, Stmt};

use crate::args::Args;
use crate::emit::Emit;
use crate::{chain, inlining, names, scan, strip};

pub(crate) struct Instrument {
    emit: Emit,
    /// The expression visited next is the iterator of a `for` loop, which consumes it.
    consumed: bool,
}

impl Instrument {
    pub(crate) fn new(args: &Args) -> Self {
        Instrument {
            emit: Emit::new(args),
            consumed: false,
        }
    }

    fn check(&self) -> Stmt {
        self.emit.check()
    }

    /// Input: a chain `top` and its plan.  Output: the chain with its source wrapped and every
    /// closure the plan does not exempt instrumented as usual.
    fn chain(&mut self, top: &mut syn::ExprMethodCall, plan: &chain::Plan) {
        let mut call = top;
        for i in 0..plan.above {
            for (j, arg) in call.args.iter_mut().enumerate() {
                if !plan.unchecked.contains(&(i, j)) {
                    self.visit_expr_mut(arg);
                }
            }
            if i + 1 == plan.above {
                self.visit_expr_mut(&mut call.receiver);
                chain::wrap(&mut call.receiver, &self.emit);
                return;
            }
            call = match &mut *call.receiver {
                Expr::MethodCall(m) => m,
                _ => unreachable!("the plan counted method calls only"),
            };
        }
    }

    /// Input: `{ #![inner] s1; s2 }`  Output: `{ #![inner] CP; s1'; s2' }`
    /// Inner attributes live outside `stmts` in syn, so index 0 is after them.
    ///
    /// A *leaf* body, one that makes no call (other than the cheap methods, constructors and
    /// primitive conversions `scan` does not count) and runs no macro, gets no entry check:
    /// without a call it cannot recurse, and its own loops carry their own checks, so its
    /// running time between checks is bounded without one. Every recursive cycle contains a
    /// call, so each fn on it keeps its check. The cost: a leaf fn driven in a loop by code
    /// that is not instrumented (a `sort_by` comparator passed as a fn item, a C library
    /// calling an `extern "C-unwind"` callback) adds no check to that loop; the kill lands
    /// when the driving call returns to instrumented code, as after any other call of
    /// code without checkpoints.
    ///
    /// Leading items (`use`, `const`, a nested `fn`) stay first, so the check does not make
    /// clippy's `items_after_statements` fire on a body that had no statement before them.
    ///
    /// A fn whose every call is followed by a check in its own body needs no entry check
    /// either: no call of it is in tail position (where LLVM could turn recursion into a
    /// loop), so a recursive descent through it grows the stack, a bounded amount of
    /// straight-line code per frame until the stack is exhausted, and each call it makes
    /// is checked as it returns. It must have no call in its last statement, no `return`
    /// anywhere (`let r = f(); return r;` is a tail call) and no opaque macro, which might hide
    /// one.
    ///
    /// An empty body stays empty: it runs nothing, and clippy treats `fn f<T: Send>() {}` as a
    /// compile-time assertion (`extra_unused_type_parameters` would fire on `{ CP; }`).
    fn fn_body(&mut self, block: &mut Block, effects: scan::Effects) {
        let all_checked = self.statements(&mut block.stmts, false);
        if effects.calls && (effects.returns || !all_checked) {
            self.entry_check(block);
        }
    }

    /// Input: `{ s1; s2 }` as a closure body  Output: `{ CP; s1'; s2' }` (after leading items)
    /// Closures keep the check even when straight-line: std's adapters and consumers call
    /// them in loops of their own, where this check is the only one (`chain` decides when
    /// the source's chunk checks make it redundant).
    fn closure_body(&mut self, block: &mut Block) {
        self.statements(&mut block.stmts, false);
        self.entry_check(block);
    }

    /// Input: `x.checked_mul(10).and_then(|v| v.checked_add(d))`  Output: the same.
    /// A closure argument of a method in [`names::CALL_ONCE`] runs at most once per call, as
    /// if its body were written in the statement, so it gets no entry check: the statement's
    /// own check follows it. Its body is instrumented as any code there is (its loops get
    /// head checks, its calling statements checks after them), and is not wrapped, so an
    /// expression body stays as written (`|v| v.clear()` keeps clippy's `redundant_closure`).
    fn call_once(&mut self, m: &mut syn::ExprMethodCall) {
        self.visit_expr_mut(&mut m.receiver);
        for arg in &mut m.args {
            match arg {
                // A block body is visited as any nested block: it ends into the statement,
                // whose check comes next.
                Expr::Closure(c) if c.asyncness.is_none() => self.visit_expr_mut(&mut c.body),
                other => self.visit_expr_mut(other),
            }
        }
    }

    fn entry_check(&mut self, block: &mut Block) {
        let items = block
            .stmts
            .iter()
            .take_while(|s| matches!(s, Stmt::Item(_)))
            .count();
        block.stmts.insert(items, self.check());
    }

    /// A function's body, unless it is the canonical body clippy asks for in `Clone` for a
    /// `Copy` type (`*self`) or in `PartialOrd` for an `Ord` type (`Some(self.cmp(other))`):
    /// with a check in front, `non_canonical_clone_impl` or `non_canonical_partial_ord_impl`
    /// would fire. Each runs a bounded number of instructions, or the user's `cmp`, which
    /// takes its own attribute.
    ///
    /// The fn's bare `#[inline]` may become `#[inline(always)]` (see `inlining`), judged on
    /// the same scan of the user's body as the entry check.
    pub(crate) fn fn_item(
        &mut self,
        attrs: &mut Vec<syn::Attribute>,
        sig: &syn::Signature,
        block: &mut Block,
    ) {
        let effects = scan::block(block);
        inlining::keep_inlined(attrs, effects);
        if !scan::canonical_body(sig, block) {
            self.fn_body(block, effects);
        }
    }

    /// Input: `{ s1; s2 }` as a loop body  Output: `{ CP; s1'; s2' }`
    fn loop_body(&mut self, block: &mut Block) {
        let _ = self.statements(&mut block.stmts, true);
        block.stmts.insert(0, self.check());
    }

    /// Input: `s1; s2; s3`  Output: `s1'; [CP;] s2'; s3'`
    /// A check follows each statement that calls something, so a long callee that is not
    /// itself killable is caught as soon as it returns. No check follows:
    /// - the last statement of a block (a tail expression or not): control leaves the block
    ///   right after it, and the enclosing statement, which contains the same call, is followed
    ///   by its own check, or the loop head's check comes next; in a fn body, the function
    ///   returns to its caller. This also keeps a check from landing after a final
    ///   `std::process::exit(1);`, where it would be unreachable code;
    /// - a statement that cannot complete (`return`, `break`, `continue`, `panic!`, …);
    /// - when `nested` (a loop body, or a block inside the body), the last calling statement
    ///   when only straight-line code follows it: control leaves the block a bounded number
    ///   of instructions later, into the loop head's check or to the statement that encloses
    ///   the block, which contains the same call and so is followed by its own check (or is
    ///   itself followed by straight-line code only, up to a loop head or the fn body). The
    ///   body of a fn or closure itself keeps that check: it returns to code that may have
    ///   no check of its own, where the kill would wait for that code's next call into ours.
    ///
    /// Returns whether every statement that calls is followed by a check.
    fn statements(&mut self, stmts: &mut Vec<Stmt>, nested: bool) -> bool {
        // Judged on the user's code, before the checks inserted below count as calls.
        let effects: Vec<scan::Effects> = stmts.iter().map(scan::stmt).collect();
        for stmt in stmts.iter_mut() {
            self.visit_stmt_mut(stmt);
        }
        // Items run nothing, so "last" means the last statement that runs. Which statement
        // that is, is unknown before cfg-stripping when the block ends in `#[cfg]`-gated
        // statements (`#[cfg(unix)] { a() } #[cfg(not(unix))] { b() }`): any of them may be
        // the tail expression or the final diverging call, and so may the statement before
        // them if it has no `;`. None of those is followed by a check: one could turn a tail
        // into a statement (E0308) or follow a call that never returns (`unreachable_code`).
        // The check that would have gone between them goes before them instead, after the
        // last ungated statement that ends in `;`.
        let gated_run = stmts
            .iter()
            .rposition(|s| !matches!(s, Stmt::Item(_)) && !scan::cfg_gated(s))
            .map_or(0, |i| i + 1);
        let may_be_last = |i: usize| {
            i >= gated_run
                || (i + 1 == gated_run
                    && (stmts[i + 1..].iter().all(|s| matches!(s, Stmt::Item(_)))
                        || scan::may_be_tail(&stmts[i])))
        };
        let mut check_after = vec![false; stmts.len()];
        let mut rest_is_cheap = true;
        for i in (0..stmts.len()).rev() {
            let wanted = effects[i].calls
                && !may_be_last(i)
                && !matches!(stmts[i], Stmt::Item(_))
                && !scan::diverges(&stmts[i]);
            check_after[i] = wanted && !(nested && rest_is_cheap);
            rest_is_cheap &= effects[i].is_cheap();
        }
        let all_checked = (0..stmts.len())
            .all(|i| !effects[i].calls || matches!(stmts[i], Stmt::Item(_)) || check_after[i]);
        let old = std::mem::take(stmts);
        for (stmt, check) in old.into_iter().zip(check_after) {
            let at = syn::spanned::Spanned::span(&stmt);
            stmts.push(stmt);
            if check {
                stmts.push(self.emit.check_at(at));
            }
        }
        all_checked
    }
}

impl VisitMut for Instrument {
    fn visit_block_mut(&mut self, block: &mut Block) {
        let _ = self.statements(&mut block.stmts, true);
    }

    fn visit_expr_mut(&mut self, expr: &mut Expr) {
        // Input: `v.iter().map(|x| x * 3).sum()`
        // Output: `::killable::__private::chunked!(v.iter()).map(|x| x * 3).sum()`
        // (see `chain`); other method calls take the general path below.
        let consumed = std::mem::take(&mut self.consumed);
        if let Expr::MethodCall(m) = expr {
            if let Some(plan) = chain::plan(m, consumed) {
                self.chain(m, &plan);
                return;
            }
        }
        if let Expr::MethodCall(m) = expr {
            if names::CALL_ONCE.contains(&m.method.to_string().as_str()) {
                self.call_once(m);
                return;
            }
        }
        if let Expr::ForLoop(f) = expr {
            if strip::eligible(f) {
                self.visit_expr_mut(&mut f.expr);
                let f = std::mem::replace(expr, Expr::Verbatim(TokenStream::new()));
                let Expr::ForLoop(f) = f else { unreachable!() };
                *expr = strip::rewrite(f, &self.emit);
                return;
            }
        }
        visit_mut::visit_expr_mut(self, expr);
    }

    // Input: `'l: loop { body }`  Output: `'l: loop { CP; body' }` (the same for `while`,
    // `while let` and `for`; labels, break values and the loop's own tokens are untouched).
    fn visit_expr_loop_mut(&mut self, e: &mut syn::ExprLoop) {
        self.loop_body(&mut e.body);
    }

    fn visit_expr_while_mut(&mut self, e: &mut syn::ExprWhile) {
        self.visit_expr_mut(&mut e.cond);
        self.loop_body(&mut e.body);
    }

    fn visit_expr_for_loop_mut(&mut self, e: &mut syn::ExprForLoop) {
        self.consumed = true;
        self.visit_expr_mut(&mut e.expr);
        self.loop_body(&mut e.body);
    }

    // Input: `|x| x + 1`  Output: `|x| { CP; x + 1 }`; a block body gets the check first.
    // Iterator adapters call closures in loops inside std, where no check of ours can go.
    fn visit_expr_closure_mut(&mut self, c: &mut syn::ExprClosure) {
        if c.asyncness.is_some() {
            return; // runs where its future is polled, like an `async fn`
        }
        match &mut *c.body {
            Expr::Block(b) if b.label.is_none() && b.attrs.is_empty() => {
                self.closure_body(&mut b.block);
            }
            body => {
                self.visit_expr_mut(body);
                let check = self.check();
                let inner = std::mem::replace(body, Expr::Verbatim(TokenStream::new()));
                *body = syn::parse_quote!({ #check #inner });
            }
        }
    }

    // Nested items are separate functions with their own attribute (or none).
    fn visit_item_mut(&mut self, _: &mut Item) {}
    // A future's body runs wherever it is polled, not here.
    fn visit_expr_async_mut(&mut self, _: &mut syn::ExprAsync) {}
    // Const contexts (`const {}`, array lengths, const generic arguments, types) cannot call
    // a checkpoint.
    fn visit_expr_const_mut(&mut self, _: &mut syn::ExprConst) {}
    fn visit_expr_repeat_mut(&mut self, e: &mut syn::ExprRepeat) {
        self.visit_expr_mut(&mut e.expr);
    }
    fn visit_type_mut(&mut self, _: &mut syn::Type) {}
    fn visit_generic_argument_mut(&mut self, _: &mut syn::GenericArgument) {}
    fn visit_pat_mut(&mut self, _: &mut syn::Pat) {}
    fn visit_attribute_mut(&mut self, _: &mut syn::Attribute) {}
    // Macro input is opaque tokens; what it expands to is not visible here.
    fn visit_macro_mut(&mut self, _: &mut syn::Macro) {}
}
