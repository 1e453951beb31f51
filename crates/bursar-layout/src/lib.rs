//! The workspace's architecture as checks that run with the tests:
//!
//! * inside every crate, the modules that share a parent depend on each
//!   other without cycles (a module may use its ancestors and descendants;
//!   between siblings, dependencies point one way), so each crate reads as
//!   layers;
//! * crates depend only on the crates below them;
//! * no source file grows past [`MAX_LINES`].
//!
//! Dependencies are read from the source: `crate::…`, `super::…` and
//! `self::…` paths, including grouped `use` lines, outside comments.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The longest a source file may be.
pub const MAX_LINES: usize = 850;

/// A crate's modules: path segments (`["billing", "run"]`) → file.
#[derive(Debug, Default)]
pub struct ModuleTree {
    pub files: BTreeMap<Vec<String>, PathBuf>,
}

/// Reads the module tree under `src` (files only; inline `mod x { … }`
/// blocks belong to their file's module).
pub fn module_tree(src: &Path) -> std::io::Result<ModuleTree> {
    let mut t = ModuleTree::default();
    walk(src, src, &mut t)?;
    Ok(t)
}

fn walk(root: &Path, dir: &Path, t: &mut ModuleTree) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.path());
    for e in entries {
        let p = e.path();
        if p.is_dir() {
            walk(root, &p, t)?;
        } else if p.extension().is_some_and(|x| x == "rs") {
            let rel = p.strip_prefix(root).unwrap_or(&p);
            let mut segs: Vec<String> = rel.iter().map(|s| s.to_string_lossy().into_owned()).collect();
            let last = segs.pop().unwrap_or_default();
            let stem = last.trim_end_matches(".rs").to_string();
            // `bin/` holds separate crate roots; they are not modules.
            if segs.first().is_some_and(|s| s == "bin") {
                continue;
            }
            if !(segs.is_empty() && matches!(stem.as_str(), "lib" | "main")) && stem != "mod" {
                segs.push(stem);
            }
            t.files.insert(segs, p);
        }
    }
    Ok(())
}

/// The text without `//` comments (line and doc comments) and string
/// literals, so that only code is scanned.
pub fn strip_comments(src: &str) -> String {
    let mut out = String::with_capacity(src.len());
    for line in src.lines() {
        let mut in_str = false;
        let mut prev = ' ';
        let mut kept = String::new();
        let chars: Vec<char> = line.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if in_str {
                if c == '"' && prev != '\\' {
                    in_str = false;
                }
                prev = if prev == '\\' && c == '\\' { ' ' } else { c };
                i += 1;
                continue;
            }
            if c == '/' && chars.get(i + 1) == Some(&'/') {
                break;
            }
            if c == '"' {
                in_str = true;
                prev = ' ';
                kept.push('"');
                i += 1;
                continue;
            }
            kept.push(c);
            i += 1;
        }
        out.push_str(&kept);
        out.push('\n');
    }
    out
}

/// Expands `use` trees: `crate::{a, b::{c, d}}` → `crate::a`, `crate::b::c`, `crate::b::d`.
fn expand(prefix: &str, body: &str, out: &mut Vec<String>) {
    let mut depth = 0;
    let mut start = 0;
    let bytes: Vec<char> = body.chars().collect();
    let mut parts = Vec::new();
    for (i, c) in bytes.iter().enumerate() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(bytes[start..i].iter().collect::<String>());
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(bytes[start..].iter().collect::<String>());
    for p in parts {
        let p = p.trim();
        if p.is_empty() {
            continue;
        }
        if let Some(open) = p.find('{') {
            let head = p[..open].trim().trim_end_matches("::");
            let inner = p[open + 1..].trim_end().trim_end_matches('}');
            let pre = if prefix.is_empty() { head.to_string() } else { format!("{prefix}::{head}") };
            expand(&pre, inner, out);
        } else {
            let p = p.split(" as ").next().unwrap_or(p).trim();
            out.push(if prefix.is_empty() { p.to_string() } else { format!("{prefix}::{p}") });
        }
    }
}

/// The paths (`crate::a::b`, `super::x`, `self::y`) a file's code names.
pub fn referenced_paths(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let flat: String = code.split_whitespace().collect::<Vec<_>>().join(" ");
    // Grouped imports first.
    let mut rest = flat.as_str();
    while let Some(i) = rest.find("use ") {
        let after = &rest[i + 4..];
        let end = after.find(';').unwrap_or(after.len());
        let tree = after[..end].replace(' ', "");
        if tree.contains('{') {
            expand("", &tree, &mut out);
        }
        rest = &after[end.min(after.len())..];
    }
    // Then every plain path.
    for root in ["crate::", "super::", "self::"] {
        let mut s = flat.as_str();
        while let Some(i) = s.find(root) {
            let before = s[..i].chars().last();
            let tail = &s[i..];
            let len = tail
                .char_indices()
                .find(|&(_, c)| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .map_or(tail.len(), |(j, _)| j);
            if !before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                out.push(tail[..len].trim_end_matches(':').to_string());
            }
            s = &s[i + root.len()..];
        }
    }
    out
}

/// Resolves a path named in module `from` to the module it points into.
fn resolve(tree: &ModuleTree, from: &[String], path: &str) -> Option<Vec<String>> {
    let segs: Vec<&str> = path.split("::").filter(|s| !s.is_empty()).collect();
    let (mut base, rest): (Vec<String>, &[&str]) = match *segs.first()? {
        "crate" => (Vec::new(), &segs[1..]),
        "self" => (from.to_vec(), &segs[1..]),
        "super" => {
            let mut b = from.to_vec();
            let mut i = 0;
            while segs.get(i) == Some(&"super") {
                b.pop()?;
                i += 1;
            }
            (b, &segs[i..])
        }
        _ => return None,
    };
    let mut best = base.clone();
    for s in rest {
        base.push((*s).to_string());
        if tree.files.contains_key(&base) {
            best = base.clone();
        } else {
            break;
        }
    }
    Some(best)
}

/// A dependency between two sibling modules, with where it was seen.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Edge {
    pub parent: Vec<String>,
    pub from: String,
    pub to: String,
    pub file: PathBuf,
    pub path: String,
}

/// Every dependency between sibling modules of the crate under `src`.
pub fn sibling_edges(src: &Path) -> std::io::Result<Vec<Edge>> {
    let tree = module_tree(src)?;
    let mut edges = BTreeSet::new();
    for (module, file) in &tree.files {
        let code = strip_comments(&std::fs::read_to_string(file)?);
        for p in referenced_paths(&code) {
            let Some(target) = resolve(&tree, module, &p) else { continue };
            let common = module.iter().zip(&target).take_while(|(a, b)| a == b).count();
            if common == module.len() || common == target.len() {
                continue; // an ancestor or a descendant
            }
            edges.insert(Edge {
                parent: module[..common].to_vec(),
                from: module[common].clone(),
                to: target[common].clone(),
                file: file.clone(),
                path: p.clone(),
            });
        }
    }
    Ok(edges.into_iter().collect())
}

/// The groups of sibling modules that depend on each other in a cycle
/// (strongly connected components of more than one module), each with the
/// dependencies inside it.
pub fn cycles(edges: &[Edge]) -> Vec<Vec<Edge>> {
    let mut by_parent: BTreeMap<&Vec<String>, Vec<&Edge>> = BTreeMap::new();
    for e in edges {
        by_parent.entry(&e.parent).or_default().push(e);
    }
    let mut found = Vec::new();
    for list in by_parent.values() {
        let nodes: Vec<&str> =
            list.iter().flat_map(|e| [e.from.as_str(), e.to.as_str()]).collect::<BTreeSet<_>>().into_iter().collect();
        let index: BTreeMap<&str, usize> = nodes.iter().enumerate().map(|(i, n)| (*n, i)).collect();
        let mut adj = vec![BTreeSet::new(); nodes.len()];
        for e in list {
            adj[index[e.from.as_str()]].insert(index[e.to.as_str()]);
        }
        for comp in strongly_connected(&adj) {
            if comp.len() < 2 {
                continue;
            }
            let members: BTreeSet<&str> = comp.iter().map(|&i| nodes[i]).collect();
            let mut inside: Vec<Edge> = list
                .iter()
                .filter(|e| members.contains(e.from.as_str()) && members.contains(e.to.as_str()))
                .map(|e| (*e).clone())
                .collect();
            inside.dedup_by(|a, b| a.from == b.from && a.to == b.to);
            found.push(inside);
        }
    }
    found
}

/// Tarjan's strongly connected components (iterative).
fn strongly_connected(adj: &[BTreeSet<usize>]) -> Vec<Vec<usize>> {
    let n = adj.len();
    let (mut index, mut low, mut on) = (vec![usize::MAX; n], vec![0; n], vec![false; n]);
    let (mut next, mut stack, mut out) = (0, Vec::new(), Vec::new());
    for root in 0..n {
        if index[root] != usize::MAX {
            continue;
        }
        let mut work: Vec<(usize, Vec<usize>)> = vec![(root, adj[root].iter().copied().collect())];
        index[root] = next;
        low[root] = next;
        next += 1;
        stack.push(root);
        on[root] = true;
        while let Some((v, mut rest)) = work.pop() {
            if let Some(w) = rest.pop() {
                work.push((v, rest));
                if index[w] == usize::MAX {
                    index[w] = next;
                    low[w] = next;
                    next += 1;
                    stack.push(w);
                    on[w] = true;
                    work.push((w, adj[w].iter().copied().collect()));
                } else if on[w] {
                    low[v] = low[v].min(index[w]);
                }
            } else {
                if let Some((parent, _)) = work.last() {
                    let p = *parent;
                    low[p] = low[p].min(low[v]);
                }
                if low[v] == index[v] {
                    let mut comp = Vec::new();
                    while let Some(w) = stack.pop() {
                        on[w] = false;
                        comp.push(w);
                        if w == v {
                            break;
                        }
                    }
                    out.push(comp);
                }
            }
        }
    }
    out
}

/// The workspace's crates, as `crates/<name>`.
pub fn workspace_crates(root: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(root.join("crates"))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("Cargo.toml").exists())
        .collect();
    v.sort();
    Ok(v)
}

/// The workspace crates a crate depends on (normal dependencies).
pub fn crate_dependencies(manifest: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_deps = false;
    for line in manifest.lines() {
        let l = line.trim();
        if l.starts_with('[') {
            in_deps = l == "[dependencies]";
            continue;
        }
        if in_deps {
            if let Some(name) = l.split(['=', '.']).next().map(str::trim) {
                if name.starts_with("bursar-") {
                    out.push(name.to_string());
                }
            }
        }
    }
    out
}
