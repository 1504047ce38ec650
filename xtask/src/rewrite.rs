//! Puts `#[::killable::killable]` in front of every function the attribute accepts, by
//! inserting text at the function's position, so everything else in the file (comments,
//! formatting, macros) stays byte for byte as it was.

use std::fs;
use std::path::Path;

use proc_macro2::LineColumn;
use syn::spanned::Spanned;
use syn::visit::{self, Visit};

#[derive(Default)]
pub struct Count {
    pub files: usize,
    pub instrumented: usize,
    pub skipped: usize,
}

/// The package's edition from its manifest ("2015" when absent, as Cargo has it).
pub fn edition(manifest: &Path) -> String {
    let text = fs::read_to_string(manifest).unwrap_or_default();
    text.lines()
        .find_map(|l| {
            let (key, value) = l.split_once('=')?;
            (key.trim() == "edition").then(|| value.trim().trim_matches('"').to_owned())
        })
        .unwrap_or_else(|| "2015".to_owned())
}

/// What goes where the attribute would: the attribute itself, or as many spaces (so that a
/// copy without the attribute has every other token at the same line and column, and its
/// diagnostics can be compared position by position).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Insert {
    Attribute,
    Blanks,
}

const ATTRIBUTE: &str = "#[::killable::killable] ";

pub fn tree(dir: &Path, edition: &str, count: &mut Count) -> Result<(), String> {
    tree_with(dir, edition, Insert::Attribute, count)
}

pub fn tree_with(
    dir: &Path,
    edition: &str,
    insert: Insert,
    count: &mut Count,
) -> Result<(), String> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Ok(()); // no tests/ directory
    };
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        if path.is_dir() {
            tree_with(&path, edition, insert, count)?;
        } else if path.extension().is_some_and(|e| e == "rs") {
            file(&path, edition, insert, count)?;
        }
    }
    Ok(())
}

fn file(path: &Path, edition: &str, insert: Insert, count: &mut Count) -> Result<(), String> {
    let text = fs::read_to_string(path).map_err(|e| format!("{path:?}: {e}"))?;
    let ast = match syn::parse_file(&text) {
        Ok(ast) => ast,
        // 2015 syntax (`async` as an identifier, anonymous parameters): the attribute's own
        // rewrite, which keeps every original token's position.
        Err(e) => text
            .parse::<proc_macro2::TokenStream>()
            .ok()
            .and_then(|tokens| syn::parse2(crate::edition2015::rewrite(tokens)).ok())
            .ok_or_else(|| format!("{path:?}: {e}"))?,
    };
    let mut finder = Finder::default();
    finder.visit_file(&ast);
    count.instrumented += finder.at.len();
    count.skipped += finder.skipped;
    count.files += 1;
    let mut inserts: Vec<(usize, String)> = finder
        .at
        .iter()
        .map(|lc| {
            let what = match insert {
                Insert::Attribute => ATTRIBUTE.to_owned(),
                Insert::Blanks => " ".repeat(ATTRIBUTE.len()),
            };
            (offset(&text, *lc), what)
        })
        .collect();
    // A 2015 crate reaches `::killable` only through an `extern crate` at its root.
    let root = path.ends_with("src/lib.rs")
        || path.ends_with("src/main.rs")
        || path.parent().is_some_and(|p| {
            ["tests", "benches", "examples"]
                .iter()
                .any(|d| p.ends_with(d))
        });
    if edition == "2015" && root {
        let after_inner = ast
            .attrs
            .iter()
            .map(|a| offset(&text, a.span().end()))
            .max()
            .unwrap_or(0);
        inserts.push((after_inner, "\nextern crate killable;\n".to_owned()));
    }
    inserts.sort_by_key(|insert| std::cmp::Reverse(insert.0));
    let mut out = text;
    for (at, what) in inserts {
        out.insert_str(at, &what);
    }
    fs::write(path, out).map_err(|e| e.to_string())
}

/// Byte offset of a line/column (1-based line, column in chars).
fn offset(text: &str, lc: LineColumn) -> usize {
    let line_start: usize = text
        .split_inclusive('\n')
        .take(lc.line - 1)
        .map(str::len)
        .sum();
    let line = &text[line_start..];
    line_start
        + line
            .char_indices()
            .nth(lc.column)
            .map_or(line.len(), |(i, _)| i)
}

#[derive(Default)]
struct Finder {
    at: Vec<LineColumn>,
    skipped: usize,
}

impl Finder {
    fn consider(
        &mut self,
        attrs: &[syn::Attribute],
        vis: Option<&syn::Visibility>,
        sig: &syn::Signature,
        has_body: bool,
    ) {
        let accepted = has_body
            && sig.constness.is_none()
            && sig.asyncness.is_none()
            && sig.abi.as_ref().is_none_or(|abi| {
                abi.name
                    .as_ref()
                    .is_some_and(|n| n.value() == "Rust" || n.value().ends_with("-unwind"))
            })
            && !attrs.iter().any(|a| {
                a.path()
                    .segments
                    .last()
                    .is_some_and(|s| s.ident == "killable")
            });
        if !accepted {
            self.skipped += 1;
            return;
        }
        // Right after the outer attributes: before `pub`, or before the signature.
        let start = match vis {
            Some(v) if !matches!(v, syn::Visibility::Inherited) => v.span().start(),
            _ => sig.span().start(),
        };
        self.at.push(start);
    }
}

impl<'ast> Visit<'ast> for Finder {
    fn visit_item_fn(&mut self, f: &'ast syn::ItemFn) {
        self.consider(&f.attrs, Some(&f.vis), &f.sig, true);
        visit::visit_item_fn(self, f);
    }
    fn visit_impl_item_fn(&mut self, f: &'ast syn::ImplItemFn) {
        // `default fn` (specialization) starts with `default`, before the signature.
        if f.defaultness.is_some() {
            self.skipped += 1;
        } else {
            self.consider(&f.attrs, Some(&f.vis), &f.sig, true);
        }
        visit::visit_impl_item_fn(self, f);
    }
    fn visit_trait_item_fn(&mut self, f: &'ast syn::TraitItemFn) {
        self.consider(&f.attrs, None, &f.sig, f.default.is_some());
        visit::visit_trait_item_fn(self, f);
    }
}
