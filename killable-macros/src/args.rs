//! Arguments of the attribute: `#[killable]` or `#[killable(crate = path)]`.
//!
//! Input: the tokens between the attribute's parentheses.
//! Output: the path generated code starts from (`::killable` unless overridden), or an error
//! spanned at the offending token that lists what the attribute accepts.

use proc_macro2::{Span, TokenStream};
use std::path::Path as FsPath;
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
    /// `::killable`, or `::kl` when the crate being compiled depends on `killable` only under
    /// another name (`kl = { package = "killable" }` in its Cargo.toml), as `crate = kl` would
    /// say. A leading `::` makes the path immune to a user module or item named `killable`.
    fn default_crate() -> Path {
        let name = std::env::var_os("CARGO_MANIFEST_DIR")
            .and_then(|dir| std::fs::read_to_string(FsPath::new(&dir).join("Cargo.toml")).ok())
            .and_then(|manifest| renamed(&manifest))
            .unwrap_or_else(|| "killable".to_owned());
        let name = Ident::new(&name, Span::call_site());
        syn::parse_quote_spanned!(Span::call_site()=> ::#name)
    }
}

/// The name under which a manifest depends on the `killable` package, when that is not
/// `killable` and no dependency is named `killable` (then `None`). Reads the usual forms
/// line by line, offline, without a TOML parser:
///
/// ```toml
/// [dependencies]
/// kl = { package = "killable", version = "0.1" }
///
/// [dev-dependencies.kl2]
/// package = "killable"
/// ```
///
/// A rename inherited from a workspace (`kl.workspace = true`) is not seen: write
/// `crate = kl` there.
fn renamed(manifest: &str) -> Option<String> {
    let mut table = String::new();
    let mut found = None;
    for line in manifest.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        if let Some(header) = line.strip_prefix('[') {
            table = header.trim_end_matches(']').trim().to_owned();
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let (key, value) = (key.trim().trim_matches('"'), value.trim());
        let in_dependencies = table == "dependencies"
            || table.ends_with(".dependencies")
            || table.ends_with("-dependencies");
        // `[dependencies.kl]`: the table is one dependency, its name after the last `.`.
        let dependency_table = ["dependencies.", "dev-dependencies.", "build-dependencies."]
            .iter()
            .find_map(|t| table.rsplit_once(t).map(|(_, name)| name));
        let names_killable = |text: &str| {
            let text: String = text.split_whitespace().collect();
            text.contains("package=\"killable\"") || text.contains("package='killable'")
        };
        let (name, renames) = match dependency_table {
            Some(name) => (name, key == "package" && names_killable(line)),
            None if in_dependencies => {
                (key.split('.').next().unwrap_or(key), names_killable(value))
            }
            None => continue,
        };
        let name = name.trim_matches('"');
        if name == "killable" {
            return None;
        }
        if renames {
            found = Some(name.replace('-', "_"));
        }
    }
    found
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
    fn a_renamed_dependency_is_found_in_the_manifest() {
        use super::renamed;
        let inline = "[package]\nname = \"app\"\n[dependencies]\nserde = \"1\"\n\
                      kl = { package = \"killable\", path = \"..\" } # renamed\n";
        assert_eq!(renamed(inline).as_deref(), Some("kl"));
        let table = "[dev-dependencies.my-kl]\nversion = \"0.1\"\npackage = 'killable'\n";
        assert_eq!(renamed(table).as_deref(), Some("my_kl"));
        let target = "[target.'cfg(unix)'.dependencies]\nk = { package = \"killable\" }\n";
        assert_eq!(renamed(target).as_deref(), Some("k"));
        // Also depended on as `killable`, or not at all, or another package renamed.
        let both = "[dependencies]\nkillable = \"0.1\"\nkl = { package = \"killable\" }\n";
        assert_eq!(renamed(both), None);
        assert_eq!(renamed("[dependencies]\nkillable = \"0.1\"\n"), None);
        assert_eq!(
            renamed("[dependencies]\nj = { package = \"serde_json\" }\n"),
            None
        );
        assert_eq!(renamed("[package]\npackage = \"killable\"\n"), None);
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
