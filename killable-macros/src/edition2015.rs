//! Edition 2015 syntax that syn, which parses the current edition, rejects.
//!
//! rustc has parsed the item in the crate's own edition before the attribute sees it, so an
//! item that syn cannot parse but rustc could is 2015 code. Two constructs are rewritten into
//! their equivalents that every edition accepts, and only when the first parse failed:
//!
//! - `async`, `await`, `try` and `dyn` used as identifiers become raw identifiers
//!   (`r#async`, the same name in 2015); `dyn Trait` stays a trait object;
//! - anonymous trait-method parameters (`fn f(&self, u32);`) get a `_:` pattern.
//!
//! Input:  `trait T { fn f(&self, u32) -> u32 { let async = 1; async } }`
//! Output: `trait T { fn f(&self, _: u32) -> u32 { let r#async = 1; r#async } }`

use proc_macro2::{Delimiter, Group, Ident, Punct, Spacing, TokenStream, TokenTree};

pub(crate) fn rewrite(tokens: TokenStream) -> TokenStream {
    let tokens: Vec<TokenTree> = tokens.into_iter().collect();
    let mut out = Vec::with_capacity(tokens.len());
    for (i, tt) in tokens.iter().enumerate() {
        let next = tokens.get(i + 1);
        let after_fn_name = i >= 2
            && matches!(&tokens[i - 2], TokenTree::Ident(k) if k == "fn")
            && matches!(&tokens[i - 1], TokenTree::Ident(_));
        out.push(match tt {
            TokenTree::Ident(id) if keyword_as_identifier(id, next) => {
                TokenTree::Ident(Ident::new_raw(&id.to_string(), id.span()))
            }
            // Generic fns (`fn f<T>(T)`) are rare in 2015 traits with anonymous parameters
            // and are left to syn's error.
            TokenTree::Group(g) if after_fn_name && g.delimiter() == Delimiter::Parenthesis => {
                regroup(g, parameters(rewrite(g.stream())))
            }
            TokenTree::Group(g) => regroup(g, rewrite(g.stream())),
            other => other.clone(),
        });
    }
    out.into_iter().collect()
}

fn regroup(g: &Group, stream: TokenStream) -> TokenTree {
    let mut group = Group::new(g.delimiter(), stream);
    group.set_span(g.span());
    TokenTree::Group(group)
}

/// `async`, `await`, `try` are plain identifiers in 2015. `dyn` is one too, unless a trait
/// follows it (`dyn Fn(u32)`, `dyn ::std::any::Any`, `dyn 'static + Send`, `dyn ?Sized`).
fn keyword_as_identifier(id: &Ident, next: Option<&TokenTree>) -> bool {
    let name = id.to_string();
    match name.as_str() {
        "async" | "await" | "try" => true,
        "dyn" => match next {
            None | Some(TokenTree::Literal(_) | TokenTree::Group(_)) => true,
            Some(TokenTree::Ident(_)) => false,
            Some(TokenTree::Punct(p)) => {
                !(matches!(p.as_char(), '?' | '\'' | '<')
                    || (p.as_char() == ':' && p.spacing() == Spacing::Joint))
            }
        },
        _ => false,
    }
}

/// A parameter list with `_: ` in front of every parameter that has no pattern.
fn parameters(list: TokenStream) -> TokenStream {
    let mut out: Vec<TokenTree> = Vec::new();
    for param in split_top_level(list) {
        if param.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push(TokenTree::Punct(Punct::new(',', Spacing::Alone)));
        }
        let receiver = param
            .iter()
            .any(|t| matches!(t, TokenTree::Ident(id) if id == "self"));
        if !receiver && !has_pattern(&param) {
            let span = param[0].span();
            out.push(TokenTree::Ident(Ident::new("_", span)));
            let mut colon = Punct::new(':', Spacing::Alone);
            colon.set_span(span);
            out.push(TokenTree::Punct(colon));
        }
        out.extend(param);
    }
    out.into_iter().collect()
}

/// The parameters of a list, split at the commas outside `<..>` (groups are single tokens
/// already). The `>` of `->` closes nothing.
fn split_top_level(list: TokenStream) -> Vec<Vec<TokenTree>> {
    let mut params = vec![Vec::new()];
    let mut depth = 0usize;
    let mut arrow = false;
    for tt in list {
        if let TokenTree::Punct(p) = &tt {
            match p.as_char() {
                '<' => depth += 1,
                '>' if !arrow => depth = depth.saturating_sub(1),
                ',' if depth == 0 => {
                    params.push(Vec::new());
                    arrow = false;
                    continue;
                }
                _ => {}
            }
            arrow = p.as_char() == '-' && p.spacing() == Spacing::Joint;
        } else {
            arrow = false;
        }
        params.last_mut().expect("one at least").push(tt);
    }
    params
}

/// Does the parameter have a `pattern:` part? A lone `:` outside `<..>` (not half of `::`).
fn has_pattern(param: &[TokenTree]) -> bool {
    let mut depth = 0usize;
    for (i, tt) in param.iter().enumerate() {
        let TokenTree::Punct(p) = tt else { continue };
        match p.as_char() {
            '<' => depth += 1,
            '>' => depth = depth.saturating_sub(1),
            ':' if depth == 0 => {
                let joint_before = i > 0
                    && matches!(&param[i - 1], TokenTree::Punct(q)
                        if q.as_char() == ':' && q.spacing() == Spacing::Joint);
                if p.spacing() == Spacing::Alone && !joint_before {
                    return true;
                }
            }
            _ => {}
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use quote::quote;

    #[test]
    fn identifiers_and_anonymous_parameters() {
        let out = super::rewrite(quote!(
            trait T {
                fn f(&self, u32, Option<(u8, u16)>, ::std::vec::Vec<u8>) -> u32;
                fn g(a: u8, HashMap<K, V>, &dyn Fn(u8) -> u8) {
                    let async = 1;
                    let dyn = try!(x.await);
                }
            }
        ));
        let expected = quote!(
            trait T {
                fn f(&self, _: u32, _: Option<(u8, u16)>, _: ::std::vec::Vec<u8>) -> u32;
                fn g(a: u8, _: HashMap<K, V>, _: &dyn Fn(u8) -> u8) {
                    let r#async = 1;
                    let r#dyn = r#try!(x.r#await);
                }
            }
        );
        assert_eq!(out.to_string(), expected.to_string());
    }
}
