//! Arguments of the attribute: `#[killable]` or `#[killable(crate = path)]`.
//!
//! Input: the tokens between the attribute's parentheses.
//! Output: the path generated code starts from (`::killable` unless overridden), or an error
//! spanned at the offending token that lists what the attribute accepts.

use proc_macro2::{Span, TokenStream};
use syn::ext::IdentExt;
use syn::parse::{ParseStream, Parser};
use syn::{Ident, Path, Token};

/// What every "unknown argument" message ends with, so a newcomer sees the whole surface.
const VALID: &str = "`#[killable]` accepts only `crate = path::to::killable` \
                     (for a renamed or re-exported dependency)";

pub(crate) struct Args {
    /// Root of every path the expansion names: `#krate::__private::checkpoint`.
    pub(crate) krate: Path,
}

impl Args {
    fn default_crate() -> Path {
        // A leading `::` makes the path immune to a user module or item named `killable`.
        syn::parse_quote_spanned!(Span::call_site()=> ::killable)
    }
}

pub(crate) fn parse(tokens: TokenStream) -> syn::Result<Args> {
    let mut krate: Option<Path> = None;
    let parser = |input: ParseStream| -> syn::Result<()> {
        while !input.is_empty() {
            if input.peek(Token![crate]) {
                let kw: Token![crate] = input.parse()?;
                if krate.is_some() {
                    return Err(syn::Error::new(
                        kw.span,
                        "duplicate argument `crate`: give the path once",
                    ));
                }
                if !input.peek(Token![=]) {
                    return Err(syn::Error::new(
                        kw.span,
                        "expected `crate = path`, as in `#[killable(crate = my_killable)]`",
                    ));
                }
                input.parse::<Token![=]>()?;
                krate = Some(input.call(Path::parse_mod_style).map_err(|e| {
                    syn::Error::new(
                        e.span(),
                        "expected a path after `crate =`, as in `#[killable(crate = my_killable)]`",
                    )
                })?);
            } else {
                // Any word, keywords included, so `#[killable(async)]` gets the same message.
                let message = match input.fork().call(Ident::parse_any) {
                    Ok(name) => format!("unknown argument `{name}`: {VALID}"),
                    Err(_) => format!("unexpected token: {VALID}"),
                };
                return Err(syn::Error::new(input.span(), message));
            }
            if input.is_empty() {
                break;
            }
            input.parse::<Token![,]>()?;
        }
        Ok(())
    };
    parser.parse2(tokens)?;
    Ok(Args {
        krate: krate.unwrap_or_else(Args::default_crate),
    })
}

#[cfg(test)]
mod tests {
    use super::parse;
    use quote::{quote, ToTokens};

    #[test]
    fn empty_means_the_killable_crate() {
        let args = parse(quote!()).unwrap();
        assert_eq!(args.krate.to_token_stream().to_string(), ":: killable");
    }

    #[test]
    fn crate_path_overrides_and_trailing_comma_is_fine() {
        let args = parse(quote!(crate = ::my::reexport,)).unwrap();
        assert_eq!(
            args.krate.to_token_stream().to_string(),
            ":: my :: reexport"
        );
    }

    #[test]
    fn refusals_name_the_problem() {
        let msg = |t| parse(t).err().unwrap().to_string();
        assert!(msg(quote!(chunk = 4)).starts_with("unknown argument `chunk`"));
        assert!(msg(quote!(async)).starts_with("unknown argument `async`"));
        assert!(msg(quote!(crate = a, crate = b)).starts_with("duplicate argument `crate`"));
        assert!(msg(quote!(crate)).starts_with("expected `crate = path`"));
        assert!(msg(quote!(crate = 5)).starts_with("expected a path"));
        assert!(msg(quote!(crate = a b)).contains("expected `,`"));
    }
}
