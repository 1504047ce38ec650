//! `xtask lints`: does `#[killable]` keep a crate's clippy diagnostics?
//!
//! Each crate is built twice by `cargo clippy --message-format=json` with `clippy::pedantic`
//! on: once with `#[::killable::killable]` on every function the attribute accepts, once with
//! as many spaces in its place (so every other token keeps its line and column). The two sets
//! of diagnostics are compared by lint and by primary span. It fails on
//! - a diagnostic that only the instrumented copy has (a new lint, an unfulfilled
//!   `#[expect]`, a build error), unless its lint is on the documented list of lints the
//!   attribute may add (`<!-- added lints -->`),
//! - one that only the plain copy has, unless its lint is on the documented list of lints the
//!   attribute hides (read from killable-macros' crate docs, between `<!-- hidden lints -->`
//!   and the next blank doc line),
//! - a diagnostic whose span points into the attribute's expansion instead of user code.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::rewrite::{self, Insert};
use crate::{copy_dir, repo, work_dir};

/// One diagnostic, by what the comparison looks at.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Debug)]
struct Diagnostic {
    lint: String,
    file: String,
    line: u64,
    column: u64,
    message: String,
}

impl std::fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}:{}: {} ({})",
            self.file, self.line, self.column, self.lint, self.message
        )
    }
}

/// The lints the attribute documents as hidden (`marker` "hidden lints") or as possibly
/// added ("added lints"), from killable-macros' crate docs.
fn documented_lints(marker: &str) -> Result<BTreeSet<String>, String> {
    let docs =
        fs::read_to_string(repo().join("killable-macros/src/lib.rs")).map_err(|e| e.to_string())?;
    let marker = format!("<!-- {marker} -->");
    let list: BTreeSet<String> = docs
        .lines()
        .skip_while(|l| !l.contains(&marker))
        .skip(1)
        .take_while(|l| l.trim() != "//!")
        .flat_map(|l| {
            l.split('`')
                .skip(1)
                .step_by(2)
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect();
    if list.is_empty() {
        return Err(format!("killable-macros/src/lib.rs has no `{marker}` list"));
    }
    Ok(list)
}

/// A crate to compare: its directory (a copy of it is made twice) and edition.
pub struct Subject {
    pub name: String,
    pub dir: PathBuf,
    /// Extra arguments to `cargo clippy` (`--all-targets` for real crates).
    pub all_targets: bool,
}

/// The fixture crates: every `xtask/lint-fixtures/*.rs` becomes a library crate of the
/// edition its first line names (`// edition: 2015`), 2021 otherwise.
pub fn fixtures() -> Result<Vec<Subject>, String> {
    let src = repo().join("xtask/lint-fixtures");
    let work = work_dir("lints").join("fixtures");
    let mut subjects = Vec::new();
    let mut files: Vec<PathBuf> = fs::read_dir(&src)
        .map_err(|e| format!("{src:?}: {e}"))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .collect();
    files.sort();
    for file in files {
        let name = file.file_stem().unwrap().to_string_lossy().into_owned();
        let text = fs::read_to_string(&file).map_err(|e| e.to_string())?;
        let edition = text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("// edition: "))
            .unwrap_or("2021")
            .trim()
            .to_owned();
        let dir = work.join(&name);
        fs::create_dir_all(dir.join("src")).map_err(|e| e.to_string())?;
        fs::write(
            dir.join("Cargo.toml"),
            format!(
                "[package]\nname = \"fixture_{name}\"\nversion = \"0.0.0\"\nedition = \"{edition}\"\n\
                 publish = false\n[dependencies]\n"
            ),
        )
        .map_err(|e| e.to_string())?;
        fs::write(dir.join("src/lib.rs"), text).map_err(|e| e.to_string())?;
        subjects.push(Subject {
            name,
            dir,
            all_targets: false,
        });
    }
    Ok(subjects)
}

/// Compares every subject; `Err` lists what differs.
pub fn compare(subjects: &[Subject]) -> Result<(), String> {
    let hidden = documented_lints("hidden lints")?;
    let added = documented_lints("added lints")?;
    let work = work_dir("lints");
    let target = work.join("target");
    let mut failures = Vec::new();
    let mut report = Vec::new();
    for subject in subjects {
        let mut sets = Vec::new();
        for insert in [Insert::Blanks, Insert::Attribute] {
            let which = if insert == Insert::Attribute {
                "killable"
            } else {
                "plain"
            };
            let copy = work.join("copies").join(&subject.name).join(which);
            let _ = fs::remove_dir_all(&copy);
            copy_dir(&subject.dir, &copy).map_err(|e| format!("copy {:?}: {e}", subject.dir))?;
            let _ = fs::remove_file(copy.join(".cargo-checksum.json"));
            let _ = fs::remove_file(copy.join("Cargo.lock"));
            crate::detach(&copy, Some(&repo()))?;
            let edition = rewrite::edition(&copy.join("Cargo.toml"));
            let mut count = rewrite::Count::default();
            for sub in ["src", "tests", "benches", "examples"] {
                rewrite::tree_with(&copy.join(sub), &edition, insert, &mut count)?;
            }
            // One target dir per variant: cargo keys a root package's artifacts by its name,
            // version and workspace-relative path, the same for both copies.
            sets.push(clippy(&copy, &target.join(which), subject.all_targets)?);
        }
        let (plain, instrumented) = (&sets[0], &sets[1]);
        let (added_new, new): (Vec<&Diagnostic>, Vec<&Diagnostic>) = instrumented
            .difference(plain)
            .partition(|d| added.contains(d.lint.trim_start_matches("clippy::")));
        let lost: Vec<&Diagnostic> = plain.difference(instrumented).collect();
        let (hidden_lost, unexpected_lost): (Vec<&Diagnostic>, Vec<&Diagnostic>) = lost
            .into_iter()
            .partition(|d| hidden.contains(d.lint.trim_start_matches("clippy::")));
        for d in &new {
            failures.push(format!(
                "{}: new in the instrumented copy: {d}",
                subject.name
            ));
        }
        for d in &unexpected_lost {
            failures.push(format!(
                "{}: lost, and not on the documented list: {d}",
                subject.name
            ));
        }
        report.push(format!(
            "{}: {} diagnostics without the attribute, {} with; {} new ({} on the documented \
             list of added lints), {} lost ({} on the documented list of hidden lints)",
            subject.name,
            plain.len(),
            instrumented.len(),
            new.len() + added_new.len(),
            added_new.len(),
            hidden_lost.len() + unexpected_lost.len(),
            hidden_lost.len()
        ));
        for d in &hidden_lost {
            report.push(format!("    hidden (documented): {d}"));
        }
        for d in &added_new {
            report.push(format!("    added (documented): {d}"));
        }
    }
    println!("\nlints summary:");
    for line in &report {
        println!("  {line}");
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "the attribute changed diagnostics:\n  {}",
            failures.join("\n  ")
        ))
    }
}

/// The diagnostics `cargo clippy` reports on the crate's own files, pedantic included.
fn clippy(dir: &Path, target: &Path, all_targets: bool) -> Result<BTreeSet<Diagnostic>, String> {
    let mut cmd = Command::new("cargo");
    cmd.args(["clippy", "--message-format=json", "--quiet"]);
    if all_targets {
        cmd.arg("--all-targets");
    }
    cmd.args(["--", "-W", "clippy::pedantic"])
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", target)
        .env_remove("RUSTFLAGS");
    eprintln!("+ {cmd:?}");
    let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    let mut found = BTreeSet::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if v["reason"] != "compiler-message" {
            continue;
        }
        let m = &v["message"];
        let level = m["level"].as_str().unwrap_or("");
        if !matches!(level, "warning" | "error") {
            continue;
        }
        let text = m["message"].as_str().unwrap_or("").to_owned();
        // The per-crate "N warnings emitted" summaries have no span.
        let Some(span) = m["spans"]
            .as_array()
            .and_then(|s| s.iter().find(|s| s["is_primary"] == true))
        else {
            if level == "error" && !text.starts_with("aborting") {
                found.insert(Diagnostic {
                    lint: "error".to_owned(),
                    file: String::new(),
                    line: 0,
                    column: 0,
                    message: text,
                });
            }
            continue;
        };
        let lint = m["code"]["code"]
            .as_str()
            .map_or_else(|| level.to_owned(), str::to_owned);
        // A span inside the attribute's expansion: the user would be pointed at generated code.
        let mut expansion = &span["expansion"];
        let mut generated = false;
        while !expansion.is_null() {
            let name = expansion["macro_decl_name"].as_str().unwrap_or("");
            generated |= name.contains("killable");
            expansion = &expansion["span"]["expansion"];
        }
        let file = span["file_name"].as_str().unwrap_or("").to_owned();
        if Path::new(&file).is_absolute() && !generated {
            continue; // in a dependency or std
        }
        found.insert(Diagnostic {
            lint: if generated {
                format!("{lint} (in generated code)")
            } else {
                lint
            },
            file,
            line: span["line_start"].as_u64().unwrap_or(0),
            column: span["column_start"].as_u64().unwrap_or(0),
            message: text,
        });
    }
    Ok(found)
}
