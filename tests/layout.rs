//! The shape of the workspace (issue #10): no file under crates/cli/src
//! imports a file that imports it back, directly or through others. Paths
//! are read from the source: `crate::a::b` and `crate::{a, b}` (a file of
//! the binary), and `super::x` in a file below a directory.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Module path of every `.rs` file under `dir` (`bulk.rs` → `bulk`,
/// `bulk/rows.rs` → `bulk::rows`; `main.rs` is the root, ``), with its text.
fn modules(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
    for e in std::fs::read_dir(dir).expect("read crates/cli/src") {
        let p = e.expect("dir entry").path();
        if p.is_dir() {
            modules(root, &p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            let rel = p.strip_prefix(root).expect("under src").with_extension("");
            let mut name = rel.to_string_lossy().replace(std::path::MAIN_SEPARATOR, "::");
            if name == "main" {
                name.clear();
            }
            if let Some(n) = name.strip_suffix("::mod") {
                name = n.to_string();
            }
            out.insert(name, std::fs::read_to_string(&p).expect("read source"));
        }
    }
}

/// Source without `//` comments (doc comments name modules freely).
fn code(text: &str) -> String {
    text.lines().map(|l| l.find("//").map_or(l, |i| &l[..i])).collect::<Vec<_>>().join("\n")
}

fn ident_at(s: &str) -> &str {
    let end = s.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(s.len());
    &s[..end]
}

/// The longest known module named by `base::a::b…` at the start of `rest`.
fn resolve(known: &BTreeMap<String, String>, base: &str, rest: &str) -> Option<String> {
    let mut best = None;
    let mut path = base.to_string();
    let mut s = rest;
    loop {
        let id = ident_at(s);
        if id.is_empty() {
            break;
        }
        path = if path.is_empty() { id.to_string() } else { format!("{path}::{id}") };
        if known.contains_key(&path) {
            best = Some(path.clone());
        }
        match s[id.len()..].strip_prefix("::") {
            Some(r) => s = r,
            None => break,
        }
    }
    best.or_else(|| known.contains_key(base).then(|| base.to_string()))
}

/// The modules each module imports.
fn imports(known: &BTreeMap<String, String>) -> BTreeMap<String, BTreeSet<String>> {
    let mut g = BTreeMap::new();
    for (m, text) in known {
        let src = code(text);
        let mut deps = BTreeSet::new();
        for (i, _) in src.match_indices("crate::") {
            let rest = &src[i + "crate::".len()..];
            if let Some(list) = rest.strip_prefix('{') {
                for item in list[..list.find('}').unwrap_or(list.len())].split(',') {
                    deps.extend(resolve(known, "", item.trim()));
                }
            } else {
                deps.extend(resolve(known, "", rest));
            }
        }
        if let Some((parent, _)) = m.rsplit_once("::") {
            for (i, _) in src.match_indices("super::") {
                deps.extend(resolve(known, parent, &src[i + "super::".len()..]));
            }
        }
        deps.remove(m);
        deps.remove("");
        g.insert(m.clone(), deps);
    }
    g
}

/// One import cycle, if there is any.
fn cycle(g: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        g: &BTreeMap<String, BTreeSet<String>>,
        m: &str,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = stack.iter().position(|s| s == m) {
            let mut c = stack[i..].to_vec();
            c.push(m.to_string());
            return Some(c);
        }
        if done.contains(m) {
            return None;
        }
        stack.push(m.to_string());
        for d in g.get(m).into_iter().flatten() {
            if let Some(c) = visit(g, d, stack, done) {
                return Some(c);
            }
        }
        stack.pop();
        done.insert(m.to_string());
        None
    }
    let mut done = BTreeSet::new();
    g.keys().find_map(|m| visit(g, m, &mut Vec::new(), &mut done))
}

#[test]
fn issue_10_no_import_cycles_in_the_cli() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/cli/src");
    let mut known = BTreeMap::new();
    modules(&root, &root, &mut known);
    assert!(known.len() > 5, "found the CLI's files: {:?}", known.keys());
    let g = imports(&known);
    assert!(g["commands"].contains("args"), "the parser sees `use crate::args::…`: {g:?}");
    if let Some(c) = cycle(&g) {
        panic!("crates/cli/src imports in a circle: {}", c.join(" -> "));
    }
}

/// The checker itself finds a circle, direct or through a third file.
#[test]
fn issue_10_cycle_checker_sees_circles() {
    let mut known = BTreeMap::new();
    known.insert("a".to_string(), "use crate::b::X;".to_string());
    known.insert("b".to_string(), "use crate::{c, output};\n// crate::a in a comment".to_string());
    known.insert("c".to_string(), "fn f() { crate::a::g() }".to_string());
    known.insert("d".to_string(), "mod e;".to_string());
    known.insert("d::e".to_string(), "use super::a;".to_string());
    let g = imports(&known);
    assert_eq!(g["b"], BTreeSet::from(["c".to_string()]));
    assert_eq!(g["d::e"], BTreeSet::from(["d".to_string()]));
    assert_eq!(cycle(&g).map(|c| c.join(" -> ")).as_deref(), Some("a -> b -> c -> a"));
    known.insert("c".to_string(), String::new());
    assert_eq!(cycle(&imports(&known)), None);
}

/// The workspace crates `manifest` depends on (normal dependencies only).
fn workspace_deps(manifest: &str) -> BTreeSet<String> {
    let mut in_deps = false;
    let mut out = BTreeSet::new();
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_deps = line == "[dependencies]";
        } else if in_deps && line.starts_with("tinledger-") {
            out.insert(line.split(['.', ' ', '=']).next().unwrap_or_default().to_string());
        }
    }
    out
}

/// docs/architecture.md's `cargo tree -p` blocks list what each workspace
/// crate's Cargo.toml says it depends on, so the drawn graph cannot drift.
#[test]
fn issue_10_architecture_doc_matches_the_manifests() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let doc = std::fs::read_to_string(root.join("docs/architecture.md")).expect("docs/architecture.md");
    let mut drawn: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut current = None;
    for line in doc.lines() {
        if line.starts_with("tinledger") && line.contains(" v0.") && !line.ends_with("(*)") {
            let name = line.split(' ').next().unwrap_or_default().to_string();
            drawn.entry(name.clone()).or_default();
            current = Some(name);
        } else if let Some(dep) = line.strip_prefix("├── ").or_else(|| line.strip_prefix("└── ")) {
            if let (Some(c), true) = (&current, dep.starts_with("tinledger-")) {
                drawn.get_mut(c).expect("current").insert(dep.split(' ').next().unwrap_or_default().to_string());
            }
        } else {
            current = None;
        }
    }
    let mut manifests = vec![("tinledger".to_string(), root.join("Cargo.toml"))];
    for c in ["core", "ledger", "formats", "synth", "server", "witness"] {
        manifests.push((format!("tinledger-{c}"), root.join("crates").join(c).join("Cargo.toml")));
    }
    for (name, path) in manifests {
        let want = workspace_deps(&std::fs::read_to_string(&path).expect("manifest"));
        assert_eq!(drawn.get(&name), Some(&want), "docs/architecture.md's cargo tree for {name} vs {}", path.display());
    }
}
