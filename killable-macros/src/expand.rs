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

use proc_macro2::TokenStream;
use quote::{quote, ToTokens};
use syn::visit_mut::VisitMut;
use syn::{ImplItem, Item, TraitItem};

use crate::args;
use crate::instrument::Instrument;
use crate::{lints, validate};

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
            cx.fn_item(&mut f.attrs, &f.sig, &mut f.block);
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
                        cx.fn_item(&mut m.attrs, &m.sig, &mut m.block);
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
                            cx.fn_item(&mut m.attrs, &m.sig, block);
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
                    cx.fn_item(&mut m.attrs, &m.sig, &mut m.block);
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

#[cfg(test)]
mod tests;
