//! What the attribute writes into the user's code: the check statement and the path of the
//! `killable` crate that every generated name goes through.

use proc_macro2::{Span, TokenStream};
use quote::ToTokens;
use syn::Stmt;

use crate::args::Args;

pub(crate) struct Emit {
    /// `::killable::__private::checkpoint();`, cloned at every insertion point.
    check: Stmt,
    /// The path of the `killable` crate (`::killable` unless `crate = …` says otherwise).
    krate: syn::Path,
}

impl Emit {
    pub(crate) fn new(args: &Args) -> Self {
        let krate = &args.krate;
        // Call-site spans: an unresolved path (a renamed dependency without `crate = …`)
        // is reported at the attribute, where the fix goes.
        let check = syn::parse_quote_spanned!(Span::mixed_site()=>
            #krate::__private::checkpoint();
        );
        Emit {
            check,
            krate: krate.clone(),
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
        syn::parse2(respan(self.check.to_token_stream(), at))
            .expect("a checkpoint call parses as a statement")
    }

    pub(crate) fn krate(&self) -> &syn::Path {
        &self.krate
    }
}

/// `tokens` with every token spanned at `at`: a generated path or call reported (or resolved,
/// for `Location::caller`) where the user's code is. Groups are re-spanned too.
pub(crate) fn respan(tokens: TokenStream, at: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|mut tt| {
            if let proc_macro2::TokenTree::Group(g) = &tt {
                let mut group = proc_macro2::Group::new(g.delimiter(), respan(g.stream(), at));
                group.set_span(at);
                tt = proc_macro2::TokenTree::Group(group);
            } else {
                tt.set_span(at);
            }
            tt
        })
        .collect()
}
