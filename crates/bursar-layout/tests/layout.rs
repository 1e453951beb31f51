//! The workspace's architecture rules (see `ARCHITECTURE.md`).

use bursar_layout::*;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn no_module_cycles_in_any_crate() {
    let mut report = String::new();
    for krate in workspace_crates(&root()).unwrap() {
        let edges = sibling_edges(&krate.join("src")).unwrap();
        for cyc in cycles(&edges) {
            report.push_str(&format!("cycle in {} under `{}`:\n", krate.display(), cyc[0].parent.join("::")));
            for e in cyc {
                report.push_str(&format!("  {} -> {}  ({} names `{}`)\n", e.from, e.to, e.file.display(), e.path));
            }
        }
    }
    assert!(report.is_empty(), "{report}");
}

#[test]
fn interfaces_reach_the_store_only_through_the_service_layer() {
    let src = root().join("crates/bursar-server/src");
    let mut using = Vec::new();
    rust_files(&src, &mut using);
    for p in using {
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(!text.contains("bursar_store"), "{} uses bursar_store: call a bursar_core operation", p.display());
        assert!(!text.contains("sqlx"), "{} uses sqlx: SQL lives in bursar-store", p.display());
    }
    for f in ["main.rs", "analyze.rs"] {
        let text = std::fs::read_to_string(root().join("crates/bursar/src").join(f)).unwrap();
        assert!(!text.contains("bursar_store"), "the CLI's {f} uses bursar_store");
    }
}

#[test]
fn sql_lives_in_the_store() {
    // The service layer composes store functions; it writes no SQL itself.
    let src = root().join("crates/bursar-core/src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut found = Vec::new();
    for p in files {
        let text = std::fs::read_to_string(&p).unwrap();
        for (i, line) in text.lines().enumerate() {
            if ["sqlx::query", "sqlx::AssertSqlSafe"].iter().any(|w| line.contains(w)) {
                found.push(format!("{}:{}: {}", p.display(), i + 1, line.trim()));
            }
        }
    }
    assert!(found.is_empty(), "queries in the service layer (move them to bursar-store):\n{}", found.join("\n"));
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn crates_depend_only_downward() {
    // Each crate, and the workspace crates it may use.
    let allowed: &[(&str, &[&str])] = &[
        ("bursar-domain", &[]),
        ("bursar-charts", &[]),
        ("bursar-pdf", &["bursar-charts"]),
        ("bursar-psychometrics", &[]),
        ("bursar-metrics", &["bursar-domain"]),
        ("bursar-store", &["bursar-domain"]),
        ("bursar-providers", &["bursar-domain"]),
        (
            "bursar-core",
            &[
                "bursar-domain",
                "bursar-store",
                "bursar-pdf",
                "bursar-providers",
                "bursar-psychometrics",
                "bursar-metrics",
                "bursar-charts",
            ],
        ),
        ("bursar-server", &["bursar-domain", "bursar-core", "bursar-pdf", "bursar-charts", "bursar-providers"]),
        ("bursar-bench", &["bursar-domain", "bursar-store", "bursar-core", "bursar-server", "bursar-providers"]),
        ("bursar", &["bursar-domain", "bursar-core", "bursar-server", "bursar-bench", "bursar-psychometrics"]),
        ("bursar-layout", &[]),
    ];
    for krate in workspace_crates(&root()).unwrap() {
        let name = krate.file_name().unwrap().to_string_lossy().into_owned();
        let manifest = std::fs::read_to_string(krate.join("Cargo.toml")).unwrap();
        let (_, ok) = allowed
            .iter()
            .find(|(n, _)| *n == name)
            .unwrap_or_else(|| panic!("crate {name} has no entry in the layer table of this test"));
        for dep in crate_dependencies(&manifest) {
            assert!(ok.contains(&dep.as_str()), "{name} must not depend on {dep}");
        }
    }
}

#[test]
fn interfaces_do_not_call_each_other() {
    // Inside the server, each interface reaches the service layer, not
    // another interface: the API, the pages, the console and the jobs.
    let src = root().join("crates/bursar-server/src");
    let interfaces = ["api", "pages", "console", "jobs"];
    for e in sibling_edges(&src).unwrap() {
        if e.parent.is_empty() && interfaces.contains(&e.from.as_str()) {
            assert!(
                !interfaces.contains(&e.to.as_str()),
                "{} uses {} ({} names `{}`)",
                e.from,
                e.to,
                e.file.display(),
                e.path
            );
        }
    }
}

#[test]
fn no_source_file_is_too_long() {
    let mut long = Vec::new();
    for krate in workspace_crates(&root()).unwrap() {
        for dir in ["src", "tests", "benches"] {
            let d = krate.join(dir);
            if d.exists() {
                let mut files = Vec::new();
                rust_files(&d, &mut files);
                for p in files {
                    let n = std::fs::read_to_string(&p).unwrap().lines().count();
                    if n > MAX_LINES {
                        long.push(format!("{} ({n})", p.display()));
                    }
                }
            }
        }
    }
    assert!(long.is_empty(), "files over {MAX_LINES} lines: {long:#?}");
}

#[test]
fn the_checker_finds_a_cycle_and_resolves_paths() {
    let dir = std::env::temp_dir().join(format!("bursar-layout-{}", std::process::id()));
    let src = dir.join("src");
    std::fs::create_dir_all(src.join("b")).unwrap();
    std::fs::write(src.join("lib.rs"), "pub mod a;\npub mod b;\npub mod c;\n").unwrap();
    std::fs::write(src.join("a.rs"), "use crate::{b::inner::f, c};\n// crate::c::nothing in a comment\n").unwrap();
    std::fs::write(src.join("b/mod.rs"), "pub mod inner;\n").unwrap();
    std::fs::write(src.join("b/inner.rs"), "pub fn f() { super::super::c::g() }\n").unwrap();
    std::fs::write(src.join("c.rs"), "pub fn g() { let s = \"crate::a\"; crate::a::x(); }\n").unwrap();
    let edges = sibling_edges(&src).unwrap();
    let pairs: Vec<(String, String)> = edges.iter().map(|e| (e.from.clone(), e.to.clone())).collect();
    assert!(pairs.contains(&("a".into(), "b".into())));
    assert!(pairs.contains(&("b".into(), "c".into())));
    assert!(pairs.contains(&("c".into(), "a".into())));
    let cyc = cycles(&edges);
    assert_eq!(cyc.len(), 1, "{cyc:?}");
    std::fs::write(src.join("c.rs"), "pub fn g() { let s = \"crate::a\"; }\n").unwrap();
    assert!(cycles(&sibling_edges(&src).unwrap()).is_empty());
    std::fs::remove_dir_all(&dir).unwrap();
}
