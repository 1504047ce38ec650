//! Inserting checkpoints into a function body.
//!
//! Input: `fn f() { a(); let x = 1; loop { b(); x += 1; } c() }`
//! Output: `fn f() { CP; a(); CP; let x = 1; loop { CP; b(); x += 1; } c() }`
//! where `CP` is `::killable::__private::checkpoint();`. `b();` gets no check of its own: the
//! loop head's comes next, after nothing but straight-line code; `c()` ends the body, and the
//! caller takes over.
//!
//! Checks are whole statements inserted between the user's statements, never wrappers around
//! the user's expressions: a statement keeps its temporaries, its spans and its place in the
//! block, and a `let` keeps its scope.

use proc_macro2::{Span, TokenStream};
use quote::{quote, ToTokens};
use syn::visit_mut::{self, VisitMut};
use syn::{Block, Expr, ImplItem, Item, Stmt, TraitItem};

use crate::args::{self, Args};
use crate::{chain, lints, scan, strip, validate};

/// Entry point behind `#[killable]`, on `proc_macro2` tokens so unit tests can drive it.
pub(crate) fn killable(args: TokenStream, input: TokenStream) -> TokenStream {
    let args = match args::parse(args) {
        Ok(args) => args,
        Err(e) => return refuse(e, input),
    };
    let tokens = lifetimes_unwrapped(input.clone());
    let item: Item = match syn::parse2(tokens.clone()) {
        Ok(item) => item,
        // syn parses the current edition; rustc has already parsed the item in the crate's
        // own edition, so a failure may be 2015 syntax (see `edition2015`).
        Err(e) => match syn::parse2(crate::edition2015::rewrite(tokens)) {
            Ok(item) => item,
            Err(_) => {
                return match validate::not_an_item(&input) {
                    // In expression position the expansion must be one expression: a block
                    // with the error, then the expression unchanged.
                    Some((e, true)) => {
                        let error = compile_error(e);
                        quote!({ #error; #input })
                    }
                    Some((e, false)) => refuse(e, input),
                    None => refuse(e, input),
                };
            }
        },
    };
    let mut cx = Instrument::new(&args);
    match item {
        Item::Fn(mut f) => {
            if let Some(e) = combine(validate::signature(&f.sig)) {
                return refuse(e, input);
            }
            lints::Expectations.visit_item_fn_mut(&mut f);
            cx.fn_item(&f.sig, &mut f.block);
            f.into_token_stream()
        }
        // Input: `impl T { fn a() {…} const fn b() {…} }`  Output: `a` instrumented, `b` as is.
        Item::Impl(mut imp) => {
            for attr in &mut imp.attrs {
                lints::Expectations.visit_attribute_mut(attr);
            }
            for member in &mut imp.items {
                if let ImplItem::Fn(m) = member {
                    if eligible_member(&m.attrs, &m.sig) {
                        lints::Expectations.visit_impl_item_fn_mut(m);
                        cx.fn_item(&m.sig, &mut m.block);
                    }
                }
            }
            imp.into_token_stream()
        }
        // Input: `trait T { fn a(&self) {…} fn b(&self); }`  Output: `a` instrumented, `b` as is.
        Item::Trait(mut tr) => {
            for attr in &mut tr.attrs {
                lints::Expectations.visit_attribute_mut(attr);
            }
            for member in &mut tr.items {
                if let TraitItem::Fn(m) = member {
                    if m.default.is_some() && eligible_member(&m.attrs, &m.sig) {
                        lints::Expectations.visit_trait_item_fn_mut(m);
                        if let Some(block) = &mut m.default {
                            cx.fn_item(&m.sig, block);
                        }
                    }
                }
            }
            tr.into_token_stream()
        }
        // syn has no `Item` for a fn without a body (`fn f(&self);` in a trait) nor for a
        // `default fn` (specialization): both come back verbatim.
        Item::Verbatim(tokens) => {
            if let Ok(m) = syn::parse2::<syn::TraitItemFn>(tokens.clone()) {
                if let Some(semi) = &m.semi_token {
                    let mut errors = validate::signature(&m.sig);
                    errors.push(validate::missing_body(semi));
                    return refuse(combine(errors).expect("one error at least"), input);
                }
            }
            match syn::parse2::<syn::ImplItemFn>(tokens) {
                Ok(mut m) => {
                    if let Some(e) = combine(validate::signature(&m.sig)) {
                        return refuse(e, input);
                    }
                    lints::Expectations.visit_impl_item_fn_mut(&mut m);
                    cx.fn_item(&m.sig, &mut m.block);
                    m.into_token_stream()
                }
                Err(_) => refuse(validate::not_a_fn(&Item::Verbatim(input.clone())), input),
            }
        }
        other => refuse(validate::not_a_fn(&other), input),
    }
}

/// Input: tokens where a `macro_rules!` `$l:lifetime` fragment arrives as an invisible
/// (`None`-delimited) group around `'l`.  Output: the same tokens with those groups opened.
/// syn parses `$l: for ..` as a labeled loop only when the label is a bare lifetime; rustc
/// accepts both. A lifetime is one token pair, so opening its group changes no precedence
/// (unlike an `$e:expr` group, which is left alone).
fn lifetimes_unwrapped(tokens: TokenStream) -> TokenStream {
    use proc_macro2::{Delimiter, Group, TokenTree};
    tokens
        .into_iter()
        .flat_map(|tt| -> Vec<TokenTree> {
            let TokenTree::Group(g) = &tt else {
                return vec![tt];
            };
            let inner: Vec<TokenTree> = g.stream().into_iter().collect();
            let lifetime = matches!(
                inner.as_slice(),
                [TokenTree::Punct(p), TokenTree::Ident(_)] if p.as_char() == '\''
            );
            if g.delimiter() == Delimiter::None && lifetime {
                inner
            } else {
                let mut open = Group::new(g.delimiter(), lifetimes_unwrapped(g.stream()));
                open.set_span(g.span());
                vec![TokenTree::Group(open)]
            }
        })
        .collect()
}

/// The error, then the item exactly as written: the user's other code still sees the item, so
/// the one error we report is the only one.
///
/// The error is `compile_error! { .. }` without syn's `::core::` in front: in a 2015 crate
/// `::core` names a module of the crate root, which does not exist, and the user would see
/// "cannot find `core`" instead of the refusal. `compile_error!` is in the macro prelude of
/// every edition, `#![no_std]` included.
fn refuse(e: syn::Error, input: TokenStream) -> TokenStream {
    let error = compile_error(e);
    quote!(#error #input)
}

fn compile_error(e: syn::Error) -> TokenStream {
    use proc_macro2::TokenTree;
    let tokens: Vec<TokenTree> = e.to_compile_error().into_iter().collect();
    let mut error = Vec::with_capacity(tokens.len());
    let mut i = 0;
    while i < tokens.len() {
        // `:: core :: compile_error`, five tokens before the macro's name
        let qualified = tokens.get(i + 2).is_some_and(|t| t.to_string() == "core")
            && tokens
                .get(i + 5)
                .is_some_and(|t| t.to_string() == "compile_error");
        if qualified {
            i += 5;
        }
        error.push(tokens[i].clone());
        i += 1;
    }
    error.into_iter().collect()
}

fn combine(errors: Vec<syn::Error>) -> Option<syn::Error> {
    errors.into_iter().reduce(|mut all, e| {
        all.combine(e);
        all
    })
}

/// On an impl or a trait, the attribute instruments what it could instrument alone and leaves
/// the rest (`const fn`, `async fn`, `extern "C"`) untouched rather than failing the whole
/// block. A method carrying its own `#[killable]` is left to that attribute, so it is not
/// instrumented twice.
fn eligible_member(attrs: &[syn::Attribute], sig: &syn::Signature) -> bool {
    let own_attribute = attrs.iter().any(|a| {
        a.path()
            .segments
            .last()
            .is_some_and(|s| s.ident == "killable")
    });
    !own_attribute && validate::signature(sig).is_empty()
}

pub(crate) struct Instrument {
    /// `::killable::__private::checkpoint();`, cloned at every insertion point.
    check: Stmt,
    /// The path of the `killable` crate (`::killable` unless `crate = …` says otherwise).
    krate: syn::Path,
    /// The expression visited next is the iterator of a `for` loop, which consumes it.
    consumed: bool,
}

impl Instrument {
    pub(crate) fn new(args: &Args) -> Self {
        let krate = &args.krate;
        // Call-site spans: an unresolved path (a renamed dependency without `crate = …`)
        // is reported at the attribute, where the fix goes.
        let check = syn::parse_quote_spanned!(Span::mixed_site()=>
            #krate::__private::checkpoint();
        );
        Instrument {
            check,
            krate: krate.clone(),
            consumed: false,
        }
    }

    pub(crate) fn check(&self) -> Stmt {
        self.check.clone()
    }

    /// The check with every token spanned at `at`, the statement it follows. Under the
    /// `diagnostics` feature the checkpoint is `#[track_caller]`, and rustc reports
    /// `Location::caller()` at the outermost macro call site for any token that carries the
    /// attribute's span: re-spanned, it reports the user's file:line instead. A rustc warning
    /// about the check (an unreachable statement) then points at the user's code too. The path
    /// is absolute (`::killable::…` or the user's own `crate = path`), so resolving it at the
    /// user's span changes nothing beyond 2015's usual `extern crate killable;`.
    pub(crate) fn check_at(&self, at: Span) -> Stmt {
        fn respan(tokens: TokenStream, at: Span) -> TokenStream {
            tokens
                .into_iter()
                .map(|mut tt| {
                    if let proc_macro2::TokenTree::Group(g) = &tt {
                        let mut group =
                            proc_macro2::Group::new(g.delimiter(), respan(g.stream(), at));
                        group.set_span(at);
                        tt = proc_macro2::TokenTree::Group(group);
                    } else {
                        tt.set_span(at);
                    }
                    tt
                })
                .collect()
        }
        syn::parse2(respan(self.check.to_token_stream(), at))
            .expect("a checkpoint call parses as a statement")
    }

    pub(crate) fn krate(&self) -> &syn::Path {
        &self.krate
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
    fn fn_body(&mut self, block: &mut Block) {
        let effects = scan::block(block);
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
    fn fn_item(&mut self, sig: &syn::Signature, block: &mut Block) {
        if !scan::canonical_body(sig, block) {
            self.fn_body(block);
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
                stmts.push(self.check_at(at));
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
            if chain::instrument(m, self, consumed) {
                return;
            }
        }
        if let Expr::ForLoop(f) = expr {
            if strip::eligible(f) {
                self.visit_expr_mut(&mut f.expr);
                let f = std::mem::replace(expr, Expr::Verbatim(TokenStream::new()));
                let Expr::ForLoop(f) = f else { unreachable!() };
                *expr = strip::rewrite(f, self);
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

#[cfg(test)]
mod tests {
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
}
