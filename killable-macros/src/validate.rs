//! What the attribute refuses, and where it says so.
//!
//! Each refusal is an error spanned at the token that causes it (`const`, the ABI, `async`,
//! the missing body, the item keyword). The caller emits it next to the untouched item, so
//! the user sees this one error and not a cascade of "cannot find function" follow-ups.

use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::{Abi, Item, Signature};

/// Why a signature cannot be instrumented, one error per cause (all are reported at once).
pub(crate) fn signature(sig: &Signature) -> Vec<syn::Error> {
    let mut errors = Vec::new();
    if let Some(constness) = &sig.constness {
        errors.push(syn::Error::new(
            constness.span,
            "`#[killable]` cannot instrument a `const fn`: a checkpoint is not a const \
             operation\nhelp: remove `const` to make the function killable at run time, or \
             remove `#[killable]`",
        ));
    }
    if let Some(asyncness) = &sig.asyncness {
        errors.push(syn::Error::new(
            asyncness.span,
            "`#[killable]` does not instrument an `async fn`: a kill would unwind through \
             whatever executor polls the future\nhelp: to stop async work, drop its future \
             (a timeout or a task abort on the executor side)",
        ));
    }
    if let Some(abi) = &sig.abi {
        if !unwinding_abi(abi) {
            let name = abi
                .name
                .as_ref()
                .map_or_else(|| "C".to_owned(), syn::LitStr::value);
            errors.push(syn::Error::new_spanned(
                abi,
                format!(
                    "`#[killable]` cannot instrument an `extern \"{name}\"` fn: a kill \
                     unwinds, and unwinding out of a non-unwinding ABI aborts the process\n\
                     help: use `extern \"C-unwind\"` (or another `-unwind` ABI) if its callers \
                     can unwind, or remove `#[killable]`"
                ),
            ));
        }
    }
    errors
}

/// `extern "Rust"` and every `"…-unwind"` ABI let a panic through; everything else aborts.
fn unwinding_abi(abi: &Abi) -> bool {
    match &abi.name {
        // A bare `extern fn` means `extern "C"`.
        None => false,
        Some(name) => {
            let name = name.value();
            name == "Rust" || name.ends_with("-unwind")
        }
    }
}

/// A trait method declaration such as `fn f(&self);` when the attribute is on that method.
pub(crate) fn missing_body(semi: &syn::token::Semi) -> syn::Error {
    syn::Error::new(
        semi.span,
        "`#[killable]` needs a function body, and this trait method has none\nhelp: put \
         `#[killable]` on the implementations of the method, or give it a default body",
    )
}

/// Any item other than a fn, an impl block or a trait, spanned at its keyword.
pub(crate) fn not_a_fn(item: &Item) -> syn::Error {
    let (what, at): (&str, TokenStream) = match item {
        Item::Const(i) => ("a `const` item", i.const_token.to_token_stream()),
        Item::Enum(i) => ("an `enum`", i.enum_token.to_token_stream()),
        Item::ExternCrate(i) => ("an `extern crate` item", i.extern_token.to_token_stream()),
        Item::ForeignMod(i) => ("an `extern` block", i.abi.to_token_stream()),
        Item::Macro(i) => ("a macro", i.mac.path.to_token_stream()),
        Item::Mod(i) => ("a `mod`", i.mod_token.to_token_stream()),
        Item::Static(i) => ("a `static`", i.static_token.to_token_stream()),
        Item::Struct(i) => ("a `struct`", i.struct_token.to_token_stream()),
        Item::TraitAlias(i) => ("a trait alias", i.trait_token.to_token_stream()),
        Item::Type(i) => ("a `type` alias", i.type_token.to_token_stream()),
        Item::Union(i) => ("a `union`", i.union_token.to_token_stream()),
        Item::Use(i) => ("a `use` item", i.use_token.to_token_stream()),
        other => ("this item", other.to_token_stream()),
    };
    syn::Error::new_spanned(
        at,
        format!(
            "`#[killable]` goes on a `fn`, an `impl` block or a `trait`, not on {what}\nhelp: \
             put it on the functions whose loops should be killable"
        ),
    )
}

/// The attribute on a closure, an expression or a statement (`#[killable] || work()`, which
/// rustc passes on after its own "attributes on expressions are experimental"): a message that
/// says where the attribute goes, instead of syn's "expected `fn`". `None` when the tokens are
/// not an expression or a statement either; with `true` for an expression.
pub(crate) fn not_an_item(input: &TokenStream) -> Option<(syn::Error, bool)> {
    let (what, expression) = match syn::parse2::<syn::Expr>(input.clone()) {
        Ok(syn::Expr::Closure(_)) => (
            "a closure: closures inside a `#[killable]` fn are instrumented already",
            true,
        ),
        Ok(_) => (
            "an expression: the expressions of a `#[killable]` fn are instrumented already",
            true,
        ),
        Err(_) if syn::parse2::<syn::Stmt>(input.clone()).is_ok() => (
            "a statement: the statements of a `#[killable]` fn are instrumented already",
            false,
        ),
        Err(_) => return None,
    };
    let first = input.clone().into_iter().next()?;
    let message = format!(
        "`#[killable]` goes on a `fn`, an `impl` block or a `trait`, not on {what}\nhelp: put \
         the attribute on the enclosing fn"
    );
    Some((syn::Error::new(first.span(), message), expression))
}

#[cfg(test)]
mod tests {
    use super::signature;
    use syn::parse_quote;

    fn refusals(sig: syn::Signature) -> Vec<String> {
        signature(&sig).iter().map(ToString::to_string).collect()
    }

    #[test]
    fn abis() {
        assert!(refusals(parse_quote!(fn f())).is_empty());
        assert!(refusals(parse_quote!(extern "Rust" fn f())).is_empty());
        assert!(refusals(parse_quote!(extern "C-unwind" fn f())).is_empty());
        assert!(refusals(parse_quote!(unsafe extern "system-unwind" fn f())).is_empty());
        assert!(refusals(parse_quote!(extern "C" fn f()))[0].contains("`extern \"C\"`"));
        assert!(refusals(parse_quote!(extern fn f()))[0].contains("`extern \"C\"`"));
        assert!(refusals(parse_quote!(extern "system" fn f()))[0].contains("\"system\""));
    }

    #[test]
    fn every_cause_is_reported() {
        let all = refusals(parse_quote!(const async extern "C" fn f()));
        assert_eq!(all.len(), 3, "{all:?}");
    }
}
