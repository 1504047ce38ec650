//! What a piece of code can do, judged from its syntax alone, before it is instrumented.
//!
//! Only what runs *when the code itself runs* counts: the body of a closure defined here runs
//! later (and gets its own entry check), a nested item is a separate function, an `async` or
//! `const` block is not run here at all, so the scan does not enter them.

use syn::visit::{self, Visit};
use syn::{Expr, ExprBreak, Lifetime, Stmt};

use crate::names;

#[derive(Default, Clone, Copy)]
pub(crate) struct Effects {
    /// A call, method call or macro call (macros are opaque: they may expand to a call),
    /// except the [`names::CHEAP_METHODS`], enum constructors, and std's assertion macros, `matches!`
    /// and `cfg!`, which count only what their arguments call.
    pub(crate) calls: bool,
    /// A `loop`, `while` or `for`.
    pub(crate) loops: bool,
    /// A closure or an `async` block is defined here.
    pub(crate) closures: bool,
    /// An index expression (`v[i]`): a bounds check, for std's types.
    pub(crate) indexes: bool,
    /// A `return`, or an opaque macro (which may expand to one): control may leave the fn
    /// right after a call, which may then be a tail call (`let r = f(); return r;`).
    pub(crate) returns: bool,
}

impl Effects {
    /// Straight-line code: its running time is bounded without any check inside it.
    pub(crate) fn is_cheap(self) -> bool {
        !(self.calls || self.loops || self.closures)
    }
}

pub(crate) fn stmt(s: &Stmt) -> Effects {
    let mut scan = Scan::default();
    scan.visit_stmt(s);
    scan.effects
}

pub(crate) fn expr(e: &Expr) -> Effects {
    let mut scan = Scan::default();
    scan.visit_expr(e);
    scan.effects
}

pub(crate) fn block(b: &syn::Block) -> Effects {
    let mut scan = Scan::default();
    scan.visit_block(b);
    scan.effects
}

/// `Some(x)`, `Ok(x)`, `Err(x)` build a value; they call nothing.
fn constructor(func: &Expr) -> bool {
    match func {
        Expr::Path(p) => {
            p.qself.is_none() && p.path.segments.len() == 1 && {
                let name = p.path.segments[0].ident.to_string();
                matches!(name.as_str(), "Some" | "Ok" | "Err")
            }
        }
        _ => false,
    }
}

/// `u64::from(x)`, `f64::from(x)`, `char::from(b)`: a conversion between primitive types,
/// a few instructions at most (`cast_lossless` in clippy recommends it over `as`).
fn primitive_conversion(func: &Expr) -> bool {
    const PRIMITIVES: &[&str] = &[
        "u8", "u16", "u32", "u64", "u128", "usize", "i8", "i16", "i32", "i64", "i128", "isize",
        "f32", "f64", "bool", "char",
    ];
    match func {
        Expr::Path(p) => {
            let segments: Vec<String> = p
                .path
                .segments
                .iter()
                .map(|s| s.ident.to_string())
                .collect();
            p.qself.is_none()
                && p.path.leading_colon.is_none()
                && segments.len() == 2
                && PRIMITIVES.contains(&segments[0].as_str())
                && segments[1] == "from"
        }
        _ => false,
    }
}

/// The expressions an assertion macro, `matches!` or `cfg!` evaluates, if `m` is one of them
/// (named bare or as `std::…`/`core::…`) and its tokens parse; `None` for any other macro,
/// which is opaque and counts as a call.
fn std_expression_macro(m: &syn::Macro) -> Option<Vec<Expr>> {
    use syn::parse::Parser;
    use syn::punctuated::Punctuated;
    let segments: Vec<String> = m
        .path
        .segments
        .iter()
        .map(|s| s.ident.to_string())
        .collect();
    let name = match segments.as_slice() {
        [name] if m.path.leading_colon.is_none() => name,
        [krate, name] if krate == "std" || krate == "core" => name,
        _ => return None,
    };
    match name.as_str() {
        // A configuration predicate, not an expression: `cfg!(unix)` is a `bool` literal.
        "cfg" => Some(Vec::new()),
        // `matches!(expr, pattern)` or `matches!(expr, pattern if guard)`.
        "matches" => {
            let parser = |input: syn::parse::ParseStream| {
                let scrutinee: Expr = input.parse()?;
                input.parse::<syn::Token![,]>()?;
                syn::Pat::parse_multi_with_leading_vert(input)?;
                let mut exprs = vec![scrutinee];
                if input.parse::<Option<syn::Token![if]>>()?.is_some() {
                    exprs.push(input.parse()?);
                }
                input.parse::<Option<syn::Token![,]>>()?;
                Ok(exprs)
            };
            parser.parse2(m.tokens.clone()).ok()
        }
        name if names::ASSERTIONS.contains(&name) => {
            let args = Punctuated::<Expr, syn::Token![,]>::parse_terminated
                .parse2(m.tokens.clone())
                .ok()?;
            Some(args.into_iter().collect())
        }
        _ => None,
    }
}

/// A place expression without calls: `v`, `self.v`, `v[i]`, `*v`, `&v`, `(v)`.
pub(crate) fn place(e: &Expr) -> bool {
    match e {
        Expr::Path(_) => true,
        Expr::Field(f) => place(&f.base),
        Expr::Index(i) => place(&i.expr) && expr(&i.index).is_cheap(),
        Expr::Paren(p) => place(&p.expr),
        Expr::Reference(r) => place(&r.expr),
        Expr::Unary(u) if matches!(u.op, syn::UnOp::Deref(_)) => place(&u.expr),
        _ => false,
    }
}

#[derive(Default)]
struct Scan {
    effects: Effects,
}

impl<'ast> Visit<'ast> for Scan {
    fn visit_item(&mut self, _: &'ast syn::Item) {}
    fn visit_expr_const(&mut self, _: &'ast syn::ExprConst) {}
    fn visit_type(&mut self, _: &'ast syn::Type) {}
    fn visit_generic_argument(&mut self, _: &'ast syn::GenericArgument) {}
    fn visit_expr_repeat(&mut self, e: &'ast syn::ExprRepeat) {
        self.visit_expr(&e.expr); // the length is a const context
    }
    fn visit_expr_index(&mut self, e: &'ast syn::ExprIndex) {
        self.effects.indexes = true;
        visit::visit_expr_index(self, e);
    }
    fn visit_expr_closure(&mut self, _: &'ast syn::ExprClosure) {
        self.effects.closures = true;
    }
    fn visit_expr_async(&mut self, _: &'ast syn::ExprAsync) {
        self.effects.closures = true;
    }
    fn visit_expr_call(&mut self, e: &'ast syn::ExprCall) {
        if !constructor(&e.func) && !primitive_conversion(&e.func) {
            self.effects.calls = true;
        }
        visit::visit_expr_call(self, e);
    }
    fn visit_expr_method_call(&mut self, e: &'ast syn::ExprMethodCall) {
        let name = e.method.to_string();
        // `x.min(y)` is `Ord::min`; `it.min()`, with no argument, is `Iterator::min`, a loop.
        let iterator_min_max = matches!(name.as_str(), "min" | "max") && e.args.is_empty();
        if !names::CHEAP_METHODS.contains(&name.as_str()) || iterator_min_max {
            self.effects.calls = true;
        }
        visit::visit_expr_method_call(self, e);
    }
    fn visit_macro(&mut self, m: &'ast syn::Macro) {
        match std_expression_macro(m) {
            Some(args) => args.iter().for_each(|a| self.visit_expr(a)),
            None => {
                self.effects.calls = true;
                self.effects.returns = true;
            }
        }
    }
    fn visit_expr_return(&mut self, e: &'ast syn::ExprReturn) {
        self.effects.returns = true;
        visit::visit_expr_return(self, e);
    }
    fn visit_expr_await(&mut self, e: &'ast syn::ExprAwait) {
        self.effects.calls = true;
        visit::visit_expr_await(self, e);
    }
    fn visit_expr_loop(&mut self, e: &'ast syn::ExprLoop) {
        self.effects.loops = true;
        visit::visit_expr_loop(self, e);
    }
    fn visit_expr_while(&mut self, e: &'ast syn::ExprWhile) {
        self.effects.loops = true;
        visit::visit_expr_while(self, e);
    }
    fn visit_expr_for_loop(&mut self, e: &'ast syn::ExprForLoop) {
        self.effects.loops = true;
        visit::visit_expr_for_loop(self, e);
    }
}

/// Does `body` contain a `break` with a value aimed at the loop labelled `label` (or at the
/// innermost loop, for an unlabeled break)? Such code is invalid for a `for` loop; the caller
/// leaves the loop alone so rustc reports the user's own error.
pub(crate) fn breaks_with_value(body: &syn::Block, label: Option<&Lifetime>) -> bool {
    struct Find<'l> {
        label: Option<&'l Lifetime>,
        found: bool,
    }
    impl<'ast> Visit<'ast> for Find<'_> {
        fn visit_item(&mut self, _: &'ast syn::Item) {}
        fn visit_expr_closure(&mut self, _: &'ast syn::ExprClosure) {}
        fn visit_expr_async(&mut self, _: &'ast syn::ExprAsync) {}
        fn visit_expr_const(&mut self, _: &'ast syn::ExprConst) {}
        fn visit_expr_break(&mut self, e: &'ast ExprBreak) {
            let ours = match (&e.label, self.label) {
                (None, _) => true,
                (Some(l), Some(ours)) => l.ident == ours.ident,
                (Some(_), None) => false,
            };
            self.found |= ours && e.expr.is_some();
            visit::visit_expr_break(self, e);
        }
    }
    let mut find = Find {
        label,
        found: false,
    };
    find.visit_block(body);
    find.found
}

/// Does this statement carry `#[cfg(..)]` or `#[cfg_attr(..)]` (which may expand to a `cfg`)?
/// It may vanish before type checking, so the attribute cannot know what comes after it.
/// Judged on the tokens, since syn files an expression statement's attributes under the
/// leftmost sub-expression.
pub(crate) fn cfg_gated(s: &Stmt) -> bool {
    use proc_macro2::TokenTree;
    let tokens: Vec<TokenTree> = quote::ToTokens::to_token_stream(s).into_iter().collect();
    let mut rest = tokens.as_slice();
    while let [TokenTree::Punct(hash), TokenTree::Group(attr), tail @ ..] = rest {
        if hash.as_char() != '#' {
            return false;
        }
        if let Some(TokenTree::Ident(name)) = attr.stream().into_iter().next() {
            if name == "cfg" || name == "cfg_attr" {
                return true;
            }
        }
        rest = tail;
    }
    false
}

/// `fn clone(&self) -> Self { *self }` and `fn partial_cmp(&self, o: &Self) -> .. {
/// Some(self.cmp(o)) }` (or `Some(Ord::cmp(self, o))`): the bodies clippy's
/// `non_canonical_clone_impl` and `non_canonical_partial_ord_impl` ask for, to the token.
pub(crate) fn canonical_body(sig: &syn::Signature, block: &syn::Block) -> bool {
    let is_self = |e: &Expr| matches!(e, Expr::Path(p) if p.path.is_ident("self"));
    let [Stmt::Expr(tail, None)] = block.stmts.as_slice() else {
        return false;
    };
    match (sig.ident.to_string().as_str(), tail) {
        ("clone", Expr::Unary(u)) => matches!(u.op, syn::UnOp::Deref(_)) && is_self(&u.expr),
        ("partial_cmp", Expr::Call(some)) => {
            let some_path = matches!(&*some.func, Expr::Path(p) if p.path.is_ident("Some"));
            let cmp = match some.args.first() {
                Some(Expr::MethodCall(m)) => m.method == "cmp" && is_self(&m.receiver),
                Some(Expr::Call(c)) => {
                    let path = matches!(&*c.func, Expr::Path(p)
                        if p.path.segments.len() >= 2
                            && p.path.segments[p.path.segments.len() - 2].ident == "Ord"
                            && p.path.segments[p.path.segments.len() - 1].ident == "cmp");
                    path && c.args.first().is_some_and(is_self)
                }
                _ => false,
            };
            some_path && some.args.len() == 1 && cmp
        }
        _ => false,
    }
}

/// A statement without a `;` (`{ .. }`, `match`, `if`, a braced macro call): the tail
/// expression of its block if the statements after it are cfg'd away.
pub(crate) fn may_be_tail(s: &Stmt) -> bool {
    match s {
        Stmt::Expr(_, semi) => semi.is_none(),
        Stmt::Macro(m) => m.semi_token.is_none(),
        Stmt::Local(_) | Stmt::Item(_) => false,
    }
}

/// Does this statement end the block abruptly, so that nothing after it would be reached?
/// A check inserted after it would be dead code (and trip `unreachable_code`).
pub(crate) fn diverges(s: &Stmt) -> bool {
    fn divergent_macro(m: &syn::Macro) -> bool {
        m.path.segments.last().is_some_and(|seg| {
            ["panic", "unreachable", "todo", "unimplemented"].contains(&&*seg.ident.to_string())
        })
    }
    match s {
        Stmt::Expr(Expr::Return(_) | Expr::Break(_) | Expr::Continue(_), _) => true,
        Stmt::Expr(Expr::Macro(m), _) => divergent_macro(&m.mac),
        Stmt::Macro(m) => divergent_macro(&m.mac),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use syn::parse_quote;

    use super::expr;

    #[test]
    fn primitive_conversions_and_constructors_are_not_calls() {
        assert!(expr(&parse_quote!(u64::from(x) * u64::from(y))).is_cheap());
        assert!(expr(&parse_quote!(Some(f64::from(x)))).is_cheap());
        assert!(expr(&parse_quote!(char::from(b).is_ascii_digit())).is_cheap());
    }

    #[test]
    fn assertions_matches_and_cfg_count_only_their_arguments() {
        assert!(expr(&parse_quote!(debug_assert!(len < 8))).is_cheap());
        assert!(expr(&parse_quote!(assert_eq!(i, len, "at {}", i))).is_cheap());
        assert!(expr(&parse_quote!(core::assert_ne!(a, b,))).is_cheap());
        assert!(expr(&parse_quote!(matches!(c, b'0'..=b'9' | b'.' if c != 0))).is_cheap());
        assert!(expr(&parse_quote!(cfg!(target_pointer_width = "64"))).is_cheap());
        // What the arguments call still counts.
        assert!(!expr(&parse_quote!(assert!(f(n)))).is_cheap());
        assert!(!expr(&parse_quote!(debug_assert_eq!(v.iter().sum::<u32>(), 3))).is_cheap());
        assert!(!expr(&parse_quote!(matches!(x, Some(_) if slow(x)))).is_cheap());
    }

    #[test]
    fn unwraps_and_raw_pointer_arithmetic_are_not_calls() {
        assert!(expr(&parse_quote!(p.as_ptr().add(n).cast::<u8>())).is_cheap());
        assert!(expr(&parse_quote!(x.checked_add(1).expect("overflow"))).is_cheap());
        assert!(expr(&parse_quote!(s.as_bytes().get(i).unwrap())).is_cheap());
        // What they are called on still counts.
        assert!(!expr(&parse_quote!(s.parse::<u32>().unwrap())).is_cheap());
    }

    #[test]
    fn other_macros_are_calls() {
        assert!(!expr(&parse_quote!(load_int_le!(buf, i, u64))).is_cheap());
        assert!(!expr(&parse_quote!(mylib::assert!(x))).is_cheap());
        assert!(!expr(&parse_quote!(println!("{}", x))).is_cheap());
        // Tokens that are not expressions: judged opaque.
        assert!(!expr(&parse_quote!(assert!(=> x))).is_cheap());
    }

    #[test]
    fn other_paths_named_from_are_calls() {
        // A type of the user's, a fallible conversion, a conversion into a `String`.
        assert!(!expr(&parse_quote!(Celsius::from(x))).is_cheap());
        assert!(!expr(&parse_quote!(u8::try_from(x))).is_cheap());
        assert!(!expr(&parse_quote!(String::from(s))).is_cheap());
        assert!(!expr(&parse_quote!(u64::from_str_radix(s, 16))).is_cheap());
    }
}
