//! Clippy lints the expansion hides, and `#[expect]`s of them.
//!
//! Clippy does not lint code that comes out of a macro: a strip-mined `for` loop, a chain
//! whose source is wrapped, and a closure whose body got an entry check are no longer the
//! user's loop, chain or closure to it. The lints below are the ones that then stay silent
//! (the crate docs list them, and `cargo xtask lints` fails on any other that goes missing).
//! An `#[expect(clippy::needless_range_loop)]` in the function would then be unfulfilled, an
//! error under `deny(warnings)`, so an expectation of a hidden lint becomes an `allow`: the
//! user asked for silence either way.
//!
//! Input:  `#[expect(clippy::needless_range_loop, clippy::pedantic, reason = "…")]`
//! Output: `#[cfg_attr(all(), allow(clippy::needless_range_loop, reason = "…"),
//!         expect(clippy::pedantic, reason = "…"))]`

use proc_macro2::TokenStream;
use quote::quote;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::visit_mut::VisitMut;
use syn::{Attribute, Meta, Token};

/// Kept in the same order as the crate docs' list; a unit test compares the two.
pub(crate) const HIDDEN: &[&str] = &[
    "doc_lazy_continuation",
    "explicit_counter_loop",
    "explicit_iter_loop",
    "filter_next",
    "manual_memcpy",
    "map_clone",
    "missing_panics_doc",
    "needless_range_loop",
    "redundant_closure_call",
    "redundant_closure_for_method_calls",
    "suspicious_map",
    "unnecessary_fold",
    "vec_init_then_push",
];

fn hidden(lint: &syn::Path) -> bool {
    let segments: Vec<String> = lint.segments.iter().map(|s| s.ident.to_string()).collect();
    matches!(segments.as_slice(), [tool, name] if tool == "clippy" && HIDDEN.contains(&name.as_str()))
}

/// Rewrites every `expect` in a function about to be instrumented (its own attributes and
/// everything in its body but nested items and `async` blocks, which stay as written).
pub(crate) struct Expectations;

impl VisitMut for Expectations {
    fn visit_attribute_mut(&mut self, attr: &mut Attribute) {
        if let Some(meta) = rewritten(attr) {
            attr.meta = meta;
        }
    }
    fn visit_item_mut(&mut self, _: &mut syn::Item) {}
    fn visit_expr_async_mut(&mut self, _: &mut syn::ExprAsync) {}
    fn visit_macro_mut(&mut self, _: &mut syn::Macro) {}
}

/// `expect(hidden, other, reason = ..)` as `allow(hidden, reason = ..)`, or as
/// `cfg_attr(all(), allow(hidden, ..), expect(other, ..))` when other lints are expected too:
/// one attribute in place of one, so the attribute lists around it are untouched. `None` when
/// `attr` is not an `expect` naming a hidden lint.
fn rewritten(attr: &Attribute) -> Option<Meta> {
    let Meta::List(list) = &attr.meta else {
        return None;
    };
    if !list.path.is_ident("expect") {
        return None;
    }
    let items = list
        .parse_args_with(Punctuated::<Meta, Token![,]>::parse_terminated)
        .ok()?;
    let (mut lints, mut kept, mut reason) = (Vec::new(), Vec::new(), None);
    for item in items {
        match item {
            Meta::Path(p) if hidden(&p) => lints.push(p),
            Meta::NameValue(nv) if nv.path.is_ident("reason") => reason = Some(nv),
            other => kept.push(other),
        }
    }
    if lints.is_empty() {
        return None;
    }
    let reason: TokenStream = reason.map(|r| quote!(, #r)).unwrap_or_default();
    // Spanned at the user's `expect`, so a message about the attribute points there.
    let allow = syn::Ident::new("allow", list.path.span());
    let meta = if kept.is_empty() {
        quote!(#allow(#(#lints),* #reason))
    } else {
        let expect = &list.path;
        quote!(cfg_attr(all(), #allow(#(#lints),* #reason), #expect(#(#kept),* #reason)))
    };
    syn::parse2(meta).ok()
}

#[cfg(test)]
mod tests {
    use quote::quote;

    fn rewritten(attrs: proc_macro2::TokenStream) -> String {
        use syn::visit_mut::VisitMut;
        let mut f: syn::ItemFn = syn::parse2(quote!(#attrs fn f() {})).unwrap();
        for attr in &mut f.attrs {
            super::Expectations.visit_attribute_mut(attr);
        }
        let attrs = f.attrs;
        quote!(#(#attrs)*).to_string()
    }

    #[test]
    fn expectations_of_hidden_lints_become_allows() {
        assert_eq!(
            rewritten(quote!(#[expect(clippy::needless_range_loop)])),
            quote!(#[allow(clippy::needless_range_loop)]).to_string()
        );
        assert_eq!(
            rewritten(quote!(
                #[expect(clippy::map_clone, clippy::cast_possible_truncation, reason = "why")]
            )),
            quote!(
                #[cfg_attr(
                    all(),
                    allow(clippy::map_clone, reason = "why"),
                    expect(clippy::cast_possible_truncation, reason = "why")
                )]
            )
            .to_string()
        );
        // Other lints, other attributes, and a hidden lint's name without `clippy::`.
        for kept in [
            quote!(#[expect(clippy::cast_lossless)]),
            quote!(#[allow(clippy::needless_range_loop)]),
            quote!(#[expect(needless_range_loop)]),
            quote!(#[inline]),
        ] {
            assert_eq!(rewritten(kept.clone()), kept.to_string());
        }
    }

    #[test]
    fn the_documented_list_is_this_one() {
        let docs = include_str!("lib.rs");
        let documented: Vec<&str> = docs
            .lines()
            .skip_while(|l| !l.contains("<!-- hidden lints -->"))
            .skip(1)
            .take_while(|l| l.trim() != "//!")
            .flat_map(|l| l.split('`').skip(1).step_by(2))
            .collect();
        assert_eq!(documented, super::HIDDEN);
    }
}
