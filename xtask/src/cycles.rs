//! The module-cycle check of `cargo xtask test`: within each crate of the
//! workspace, the top-level modules (`src/x.rs` or `src/x/`, everything
//! under it counting as `x`) must not import each other in a cycle through
//! `crate::` paths. A cycle means two modules are one concept split in two,
//! or one of them needs a leaf for what they share.
//!
//! [`KNOWN`] lists the cycles not broken yet. A new cycle fails the check,
//! and so does a known one that is gone (so the list only shrinks).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::{Context, Result, bail};

/// Cycles not broken yet: (crate directory, its modules, sorted).
const KNOWN: &[(&str, &[&str])] = &[];

/// Modules and the modules of the same crate each one imports.
type Graph = BTreeMap<String, BTreeSet<String>>;

/// Checks every crate directory under `root` (each with a `src/`).
pub fn check(root: &Path) -> Result<()> {
    println!("xtask: checking that no crate's modules import each other in a cycle");
    let mut problems = Vec::new();
    let mut seen_known = BTreeSet::new();
    let mut dirs: Vec<_> = std::fs::read_dir(root)
        .context("listing the workspace")?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("Cargo.toml").is_file() && p.join("src").is_dir())
        .collect();
    dirs.sort();
    for dir in dirs {
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let graph = graph(&dir.join("src"))?;
        for cycle in cycles(&graph) {
            let known = KNOWN
                .iter()
                .any(|(c, m)| *c == name && m.iter().copied().eq(cycle.iter().map(String::as_str)));
            if known {
                seen_known.insert((name.clone(), cycle));
            } else {
                problems.push(format!("{name}: {}", describe(&graph, &cycle)));
            }
        }
    }
    for (c, m) in KNOWN {
        let key = (c.to_string(), m.iter().map(|s| s.to_string()).collect());
        if !seen_known.contains(&key) {
            problems.push(format!(
                "{c}: the known cycle {} is gone: remove it from KNOWN in xtask/src/cycles.rs",
                m.join(" / ")
            ));
        }
    }
    if !problems.is_empty() {
        bail!(
            "module cycles (break them with a leaf module for what the modules share, or a \
             trait where one needs the other):\n  {}",
            problems.join("\n  ")
        );
    }
    Ok(())
}

/// The module graph of one crate's `src/`.
fn graph(src: &Path) -> Result<Graph> {
    let mut texts: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut stack = vec![src.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).with_context(|| format!("listing {}", d.display()))? {
            let p = e?.path();
            let rel = p.strip_prefix(src).expect("under src");
            let top = rel
                .components()
                .next()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .unwrap_or_default();
            // `src/bin/` holds separate crates; the root file is no module.
            if top == "bin" || top == "lib.rs" || top == "main.rs" {
                continue;
            }
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                let module = top.trim_end_matches(".rs").to_owned();
                let text = std::fs::read_to_string(&p)
                    .with_context(|| format!("reading {}", p.display()))?;
                texts.entry(module).or_default().push(text);
            }
        }
    }
    let modules: BTreeSet<String> = texts.keys().cloned().collect();
    Ok(texts
        .iter()
        .map(|(m, ts)| {
            let deps = ts
                .iter()
                .flat_map(|t| imports(t))
                .filter(|d| d != m && modules.contains(d))
                .collect();
            (m.clone(), deps)
        })
        .collect())
}

/// The first segments of the `crate::` paths of `text`, outside comments:
/// `crate::a::X` and `use crate::{a, b::Y}` give `a` (and `b`).
fn imports(text: &str) -> Vec<String> {
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    // Comments out, then the code as one text: rustfmt spreads a long
    // `use crate::{…}` group over several lines.
    let code: String = text
        .lines()
        .map(|line| line.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n");
    let mut out = Vec::new();
    let mut rest = code.as_str();
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // The first name of each top-level item of the group, nested
            // groups (`a::{B, C}`) skipped.
            let mut depth = 0usize;
            let mut item_start = true;
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => item_start = true,
                    c if item_start && !c.is_whitespace() => {
                        let name = ident(&group[i..]);
                        if !name.is_empty() {
                            out.push(name);
                        }
                        item_start = false;
                    }
                    _ => {}
                }
            }
        } else {
            let i = ident(rest);
            if !i.is_empty() {
                out.push(i);
            }
        }
    }
    out
}

/// The strongly connected components of more than one module, each sorted
/// (Tarjan's algorithm).
fn cycles(graph: &Graph) -> Vec<Vec<String>> {
    struct Walk<'g> {
        graph: &'g Graph,
        index: BTreeMap<&'g str, usize>,
        low: BTreeMap<&'g str, usize>,
        stack: Vec<&'g str>,
        found: Vec<Vec<String>>,
    }
    impl<'g> Walk<'g> {
        fn visit(&mut self, v: &'g str) {
            let i = self.index.len();
            self.index.insert(v, i);
            self.low.insert(v, i);
            self.stack.push(v);
            for w in self.graph.get(v).into_iter().flatten() {
                let w = w.as_str();
                if !self.index.contains_key(w) {
                    self.visit(w);
                    let lw = self.low[w];
                    let lv = self.low.get_mut(v).expect("visited");
                    *lv = (*lv).min(lw);
                } else if self.stack.contains(&w) {
                    let iw = self.index[w];
                    let lv = self.low.get_mut(v).expect("visited");
                    *lv = (*lv).min(iw);
                }
            }
            if self.low[v] == self.index[v] {
                let mut component = Vec::new();
                while let Some(w) = self.stack.pop() {
                    component.push(w.to_owned());
                    if w == v {
                        break;
                    }
                }
                if component.len() > 1 {
                    component.sort();
                    self.found.push(component);
                }
            }
        }
    }
    let mut walk = Walk {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        found: Vec::new(),
    };
    for v in graph.keys() {
        if !walk.index.contains_key(v.as_str()) {
            walk.visit(v);
        }
    }
    walk.found
}

/// `a -> b, b -> a`: the imports inside one cycle.
fn describe(graph: &Graph, cycle: &[String]) -> String {
    cycle
        .iter()
        .flat_map(|a| {
            graph[a]
                .iter()
                .filter(|b| cycle.contains(b))
                .map(move |b| format!("{a} -> {b}"))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(edges: &[(&str, &[&str])]) -> Graph {
        edges
            .iter()
            .map(|(a, bs)| (a.to_string(), bs.iter().map(|b| b.to_string()).collect()))
            .collect()
    }

    /// The workspace itself: no cycle but those listed, and none listed
    /// that is gone.
    #[test]
    fn the_workspace_has_only_the_known_cycles() {
        super::check(&crate::workspace::root()).unwrap();
    }

    #[test]
    fn a_cycle_is_found_and_a_chain_is_not() {
        let chain = g(&[("a", &["b"]), ("b", &["c"]), ("c", &[])]);
        assert!(cycles(&chain).is_empty());
        let cyclic = g(&[("a", &["b"]), ("b", &["c"]), ("c", &["a"]), ("d", &["a"])]);
        assert_eq!(cycles(&cyclic), vec![vec!["a", "b", "c"]]);
        assert_eq!(
            describe(&cyclic, &cycles(&cyclic)[0]),
            "a -> b, b -> c, c -> a"
        );
    }

    #[test]
    fn imports_read_paths_and_groups_but_not_comments() {
        let text = "use crate::audit::X;\nuse crate::{error, limits::Y};\n\
                    // crate::commented\nlet v = crate::value::f(); // crate::trailing\n";
        assert_eq!(imports(text), ["audit", "error", "limits", "value"]);
    }

    #[test]
    fn a_group_over_several_lines_and_nested_groups_are_read() {
        let text = "use crate::{\n    audit::{X, Y},\n    // crate::commented\n    error,\n    \
                    limits::Z,\n};\n";
        assert_eq!(imports(text), ["audit", "error", "limits"]);
    }
}
