//! `layers`: each crate's modules import only from the modules below them.
//!
//! The order is written once. For `killable-core` it is the numbered list
//! under `# Layers` in `killable-core/src/lib.rs`'s crate docs (one layer
//! per line, bottom first); for `killable-macros` it is [`MACROS_ORDER`]
//! here, until that crate documents its own. The check reads every
//! `crate::…`, `super::…` and `self::…` path (in `use` items and in code,
//! not in doc comments) of each module and fails on:
//! - an import of a module in the same layer or a layer above;
//! - an import circle (reported as the chain of modules);
//! - a module missing from the order, or a listed module that does not exist.
//!
//! Unit tests (`#[cfg(test)]` items) may use the whole crate, like the
//! integration tests do, and are not read. The crate root (`lib.rs`) is the
//! top: its re-exports are resolved to the module that defines each name.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs;
use std::path::{Path, PathBuf};

use syn::visit::Visit;

/// The order of `killable-macros`, bottom first, as it is today.
const MACROS_ORDER: &[&str] = &[
    "edition2015",
    "args",
    "names",
    "emit",
    "scan",
    "lints",
    "strip",
    "chain",
    "inlining",
    "instrument",
    "validate",
    "expand",
];

/// Known circles, allowed for now with a warning: (from, to) imports that go
/// up `MACROS_ORDER`. Empty since the macro crate's restructuring removed the
/// chain ↔ expand ↔ strip circle; the mechanism stays for the next such move.
const MACROS_ALLOWED_UP: &[(&str, &str)] = &[];

pub fn main(root: &Path) -> Result<(), String> {
    let core_src = root.join("killable-core/src");
    let core_order =
        parse_order(&fs::read_to_string(core_src.join("lib.rs")).map_err(|e| e.to_string())?)?;
    let mut failures = Vec::new();
    let mut warnings = Vec::new();
    let core = Crate::read(&core_src)?;
    failures.extend(
        check(&core, &core_order, &[])
            .into_iter()
            .map(|f| format!("killable-core: {f}")),
    );
    let macros_src = root.join("killable-macros/src");
    let macros = Crate::read(&macros_src)?;
    let order: Vec<Vec<String>> = MACROS_ORDER.iter().map(|m| vec![m.to_string()]).collect();
    let allowed: Vec<(String, String)> = MACROS_ALLOWED_UP
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    for (a, b) in &allowed {
        if macros.edges.get(a).is_some_and(|t| t.contains_key(b)) {
            warnings.push(format!(
                "killable-macros: {a} imports {b}, above it: allowed for now (MACROS_ALLOWED_UP)"
            ));
        }
    }
    failures.extend(
        check(&macros, &order, &allowed)
            .into_iter()
            .map(|f| format!("killable-macros: {f}")),
    );
    for w in &warnings {
        eprintln!("warning: {w}");
    }
    println!(
        "layers: killable-core, {} modules: {}",
        core.modules.len(),
        core_order
            .iter()
            .map(|l| l.join("/"))
            .collect::<Vec<_>>()
            .join(" → ")
    );
    if failures.is_empty() {
        println!("layers: every import goes down");
        Ok(())
    } else {
        for f in &failures {
            eprintln!("error: {f}");
        }
        Err(format!("{} layering violation(s)", failures.len()))
    }
}

/// The numbered list under `# Layers` in a crate's docs: one layer per line,
/// each naming its modules in backticks before the first colon.
pub fn parse_order(lib_rs: &str) -> Result<Vec<Vec<String>>, String> {
    let mut layers = Vec::new();
    let mut inside = false;
    for line in lib_rs.lines() {
        let Some(doc) = line.strip_prefix("//!") else {
            continue;
        };
        let doc = doc.trim();
        if doc.starts_with('#') {
            inside = doc == "# Layers";
            continue;
        }
        if !inside {
            continue;
        }
        let Some((num, rest)) = doc.split_once(". ") else {
            continue;
        };
        if num.is_empty() || !num.chars().all(|c| c.is_ascii_digit()) {
            continue;
        }
        let head = rest.split(':').next().unwrap_or("");
        let names: Vec<String> = head
            .split('`')
            .skip(1)
            .step_by(2)
            .map(String::from)
            .collect();
        if names.is_empty() {
            return Err(format!("layer line without a `module`: {line}"));
        }
        layers.push(names);
    }
    if layers.is_empty() {
        return Err("no numbered `# Layers` list in the crate docs".into());
    }
    Ok(layers)
}

/// A crate's top-level modules and the imports between them: from -> to ->
/// one place that imports it (file:line).
pub struct Crate {
    pub modules: BTreeSet<String>,
    pub edges: BTreeMap<String, BTreeMap<String, String>>,
}

impl Crate {
    pub fn read(src: &Path) -> Result<Crate, String> {
        let mut files = Vec::new();
        walk(src, &mut files);
        let mut sources = Vec::new();
        for f in files {
            let rel = f.strip_prefix(src).unwrap().to_path_buf();
            sources.push((
                rel,
                fs::read_to_string(&f).map_err(|e| format!("{}: {e}", f.display()))?,
            ));
        }
        Crate::from_sources(&sources)
    }

    /// From (path relative to `src/`, text) pairs.
    pub fn from_sources(sources: &[(PathBuf, String)]) -> Result<Crate, String> {
        let mut modules = BTreeSet::new();
        let mut parsed = Vec::new();
        let mut reexports: HashMap<String, String> = HashMap::new();
        for (rel, text) in sources {
            let file = syn::parse_file(text).map_err(|e| format!("{}: {e}", rel.display()))?;
            let path = module_path(rel);
            if path.is_empty() {
                collect_root(&file.items, &mut modules, &mut reexports);
            } else {
                modules.insert(path[0].clone());
                parsed.push((rel.clone(), path, file));
            }
        }
        let mut edges: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        for (rel, path, file) in &parsed {
            let mut v = Paths {
                stack: path.clone(),
                found: Vec::new(),
            };
            v.visit_file(file);
            for (abs, line) in v.found {
                let Some(first) = abs.first() else { continue };
                let target = if modules.contains(first) {
                    first.clone()
                } else if let Some(m) = reexports.get(first) {
                    m.clone()
                } else {
                    continue; // a root item (a const, a macro): the root is the top
                };
                if target != path[0] {
                    edges
                        .entry(path[0].clone())
                        .or_default()
                        .entry(target)
                        .or_insert_with(|| format!("{}:{line}", rel.display()));
                }
            }
        }
        Ok(Crate { modules, edges })
    }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = fs::read_dir(dir) else { return };
    let mut entries: Vec<_> = rd.flatten().map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// `lib.rs` → [], `a.rs` → [a], `a/mod.rs` → [a], `a/b.rs` → [a, b].
fn module_path(rel: &Path) -> Vec<String> {
    let mut parts: Vec<String> = rel
        .iter()
        .map(|c| c.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().unwrap_or_default();
    let stem = last.trim_end_matches(".rs");
    if !(stem == "mod" || (parts.is_empty() && stem == "lib")) {
        parts.push(stem.to_string());
    }
    parts
}

/// The root's modules, and its `pub use m::…` names (also inside macro
/// invocations whose body is items, like `std_only! { … }`).
fn collect_root(
    items: &[syn::Item],
    modules: &mut BTreeSet<String>,
    reexports: &mut HashMap<String, String>,
) {
    for item in items {
        match item {
            // Only modules in files of their own: the root's inline
            // modules (`__testing`) and its unit tests are the root.
            syn::Item::Mod(m) if m.content.is_none() && !is_test_only(&m.attrs) => {
                modules.insert(m.ident.to_string());
            }
            syn::Item::Use(u) => {
                let mut leaves = Vec::new();
                use_leaves(&u.tree, &mut Vec::new(), &mut leaves);
                for (path, name) in leaves {
                    let path: Vec<&String> = path
                        .iter()
                        .filter(|s| *s != "crate" && *s != "self")
                        .collect();
                    if let Some(first) = path.first() {
                        reexports.insert(name, (*first).clone());
                    }
                }
            }
            syn::Item::Macro(m) => {
                if let Ok(file) = syn::parse2::<syn::File>(m.mac.tokens.clone()) {
                    collect_root(&file.items, modules, reexports);
                }
            }
            _ => {}
        }
    }
}

/// Each leaf of a use tree: (path before it, name it is bound to).
fn use_leaves(tree: &syn::UseTree, prefix: &mut Vec<String>, out: &mut Vec<(Vec<String>, String)>) {
    match tree {
        syn::UseTree::Path(p) => {
            prefix.push(p.ident.to_string());
            use_leaves(&p.tree, prefix, out);
            prefix.pop();
        }
        syn::UseTree::Name(n) => {
            let mut full = prefix.clone();
            full.push(n.ident.to_string());
            out.push((full, n.ident.to_string()));
        }
        syn::UseTree::Rename(r) => {
            let mut full = prefix.clone();
            full.push(r.ident.to_string());
            out.push((full, r.rename.to_string()));
        }
        syn::UseTree::Glob(_) => out.push((prefix.clone(), "*".into())),
        syn::UseTree::Group(g) => {
            for t in &g.items {
                use_leaves(t, prefix, out);
            }
        }
    }
}

fn is_test_only(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path().is_ident("cfg") && {
            let s = a
                .meta
                .require_list()
                .map(|l| l.tokens.to_string())
                .unwrap_or_default();
            s == "test" || s.starts_with("all (test") || s.starts_with("all(test")
        }
    })
}

/// Collects the crate-absolute paths (module segments from the root) that a
/// file names, with their lines.
struct Paths {
    stack: Vec<String>,
    found: Vec<(Vec<String>, usize)>,
}

impl Paths {
    fn resolve(&mut self, segs: &[String], line: usize) {
        let Some(first) = segs.first() else { return };
        let abs = match first.as_str() {
            "crate" => segs[1..].to_vec(),
            "super" | "self" => {
                let mut base = self.stack.clone();
                let mut i = 0;
                while i < segs.len() && (segs[i] == "super" || segs[i] == "self") {
                    if segs[i] == "super" {
                        base.pop();
                    }
                    i += 1;
                }
                base.extend(segs[i..].iter().cloned());
                base
            }
            _ => return,
        };
        self.found.push((abs, line));
    }
}

impl<'ast> Visit<'ast> for Paths {
    fn visit_item(&mut self, i: &'ast syn::Item) {
        let attrs = match i {
            syn::Item::Mod(m) => &m.attrs,
            syn::Item::Fn(f) => &f.attrs,
            syn::Item::Impl(x) => &x.attrs,
            syn::Item::Use(u) => &u.attrs,
            syn::Item::Struct(s) => &s.attrs,
            syn::Item::Const(c) => &c.attrs,
            syn::Item::Static(s) => &s.attrs,
            _ => return syn::visit::visit_item(self, i),
        };
        if is_test_only(attrs) {
            return;
        }
        if let syn::Item::Mod(m) = i {
            self.stack.push(m.ident.to_string());
            syn::visit::visit_item_mod(self, m);
            self.stack.pop();
            return;
        }
        syn::visit::visit_item(self, i);
    }

    fn visit_item_use(&mut self, u: &'ast syn::ItemUse) {
        let mut leaves = Vec::new();
        use_leaves(&u.tree, &mut Vec::new(), &mut leaves);
        let line = proc_macro2::Span::start(&syn::spanned::Spanned::span(u)).line;
        for (path, _) in leaves {
            self.resolve(&path, line);
        }
    }

    fn visit_path(&mut self, p: &'ast syn::Path) {
        let segs: Vec<String> = p.segments.iter().map(|s| s.ident.to_string()).collect();
        let line = proc_macro2::Span::start(&syn::spanned::Spanned::span(p)).line;
        self.resolve(&segs, line);
        syn::visit::visit_path(self, p);
    }

    fn visit_macro(&mut self, m: &'ast syn::Macro) {
        // Paths inside macro calls (`format!`, `std_only!`): read what parses.
        if let Ok(file) = syn::parse2::<syn::File>(m.tokens.clone()) {
            for item in &file.items {
                self.visit_item(item);
            }
        } else if let Ok(e) = syn::parse2::<syn::Expr>(m.tokens.clone()) {
            self.visit_expr(&e);
        }
        syn::visit::visit_macro(self, m);
    }
}

/// The violations of `order` (layers, bottom first) in `krate`, less the
/// `allowed` (from, to) imports.
pub fn check(krate: &Crate, order: &[Vec<String>], allowed: &[(String, String)]) -> Vec<String> {
    let mut out = Vec::new();
    let rank: HashMap<&str, usize> = order
        .iter()
        .enumerate()
        .flat_map(|(i, l)| l.iter().map(move |m| (m.as_str(), i)))
        .collect();
    for m in &krate.modules {
        if !rank.contains_key(m.as_str()) {
            out.push(format!("module `{m}` is not in the documented order"));
        }
    }
    for m in rank.keys() {
        if !krate.modules.contains(*m) {
            out.push(format!("the order lists `{m}`, which is not a module"));
        }
    }
    let is_allowed = |a: &str, b: &str| allowed.iter().any(|(x, y)| x == a && y == b);
    for (from, tos) in &krate.edges {
        for (to, at) in tos {
            let (Some(&rf), Some(&rt)) = (rank.get(from.as_str()), rank.get(to.as_str())) else {
                continue;
            };
            if rt >= rf && !is_allowed(from, to) {
                let how = if rt == rf {
                    "in its own layer"
                } else {
                    "above it"
                };
                out.push(format!("`{from}` imports `{to}`, {how} ({at})"));
            }
        }
    }
    for cycle in cycles(krate, &is_allowed) {
        out.push(format!("import circle: {}", cycle.join(" → ")));
    }
    out
}

/// Every circle of imports without an allowed one in it, each once (as
/// found by a depth-first search from its least module).
fn cycles(krate: &Crate, allowed: &dyn Fn(&str, &str) -> bool) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    let mut seen = BTreeSet::new();
    for start in &krate.modules {
        let mut stack = vec![start.clone()];
        dfs(krate, start, &mut stack, &mut found, &mut seen, allowed);
    }
    found
}

fn dfs(
    krate: &Crate,
    start: &str,
    stack: &mut Vec<String>,
    found: &mut Vec<Vec<String>>,
    seen: &mut BTreeSet<Vec<String>>,
    allowed: &dyn Fn(&str, &str) -> bool,
) {
    let here = stack.last().unwrap().clone();
    let Some(tos) = krate.edges.get(&here) else {
        return;
    };
    for to in tos.keys() {
        if to == start {
            let mut c = stack.clone();
            c.push(to.clone());
            // One allowed import in it is the one to cut: warned about, not failed.
            let any_allowed = c.windows(2).any(|w| allowed(&w[0], &w[1]));
            let mut key = c[..c.len() - 1].to_vec();
            key.sort();
            if !any_allowed && seen.insert(key) {
                found.push(c);
            }
        } else if to.as_str() > start && !stack.contains(to) {
            stack.push(to.clone());
            dfs(krate, start, stack, found, seen, allowed);
            stack.pop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn krate(files: &[(&str, &str)]) -> Crate {
        let sources: Vec<(PathBuf, String)> = files
            .iter()
            .map(|(p, t)| (PathBuf::from(p), t.to_string()))
            .collect();
        Crate::from_sources(&sources).unwrap()
    }

    const LIB: &str = "//! # Layers\n//!\n//! 1. `a`: the ground\n//! 2. `b`\n//! 3. `c`: on top\nmod a; mod b; mod c;\n";

    #[test]
    fn the_order_is_read_from_the_crate_docs() {
        assert_eq!(
            parse_order(LIB).unwrap(),
            vec![vec!["a"], vec!["b"], vec!["c"]]
        );
    }

    #[test]
    fn downward_imports_pass() {
        let k = krate(&[
            ("lib.rs", LIB),
            ("a.rs", "pub fn f() {}"),
            ("b.rs", "use crate::a::f; fn g() { f() }"),
            ("c.rs", "fn h() { crate::b::g(); super::a::f() }"),
        ]);
        assert_eq!(
            check(&k, &parse_order(LIB).unwrap(), &[]),
            Vec::<String>::new()
        );
    }

    #[test]
    fn an_upward_import_is_reported() {
        let k = krate(&[
            ("lib.rs", LIB),
            (
                "a.rs",
                "/// [`c`](crate::c) in a doc is fine\nfn f() { crate::c::h() }",
            ),
            ("b.rs", ""),
            ("c.rs", "pub fn h() {}"),
        ]);
        let errors = check(&k, &parse_order(LIB).unwrap(), &[]);
        assert_eq!(errors, vec!["`a` imports `c`, above it (a.rs:2)"]);
    }

    #[test]
    fn a_circle_is_reported_and_an_allowed_one_warned_only() {
        let k = krate(&[
            ("lib.rs", LIB),
            ("a.rs", ""),
            ("b.rs", "use crate::c::x;"),
            ("c/mod.rs", "mod y;"),
            ("c/y.rs", "use super::super::b::z;"),
        ]);
        let order = parse_order(LIB).unwrap();
        let errors = check(&k, &order, &[]);
        assert!(
            errors.contains(&"`b` imports `c`, above it (b.rs:1)".to_string()),
            "{errors:?}"
        );
        assert!(
            errors.contains(&"import circle: b → c → b".to_string()),
            "{errors:?}"
        );
        let allowed = vec![("b".to_string(), "c".to_string())];
        assert_eq!(check(&k, &order, &allowed), Vec::<String>::new());
    }

    #[test]
    fn test_modules_and_reexports() {
        let lib = "//! # Layers\n//! 1. `a`\n//! 2. `b`\nmod a; mod b;\nm! { pub use b::thing; }\n";
        let k = krate(&[
            ("lib.rs", lib),
            (
                "a.rs",
                "#[cfg(test)]\nmod tests { use crate::b::x; }\nfn f() { crate::thing() }",
            ),
            ("b.rs", ""),
        ]);
        assert_eq!(
            check(&k, &parse_order(lib).unwrap(), &[]),
            vec!["`a` imports `b`, above it (a.rs:3)"]
        );
    }

    #[test]
    fn a_module_missing_from_the_order_is_reported() {
        let k = krate(&[
            ("lib.rs", LIB),
            ("a.rs", ""),
            ("b.rs", ""),
            ("c.rs", ""),
            ("d.rs", ""),
        ]);
        assert_eq!(
            check(&k, &parse_order(LIB).unwrap(), &[]),
            vec!["module `d` is not in the documented order"]
        );
    }
}
