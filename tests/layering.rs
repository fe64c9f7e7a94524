//! Dependencies flow one way. In the core, no top-level module of `src/auth` uses, directly or
//! through others, a module that uses it back, tests included. In the shell, `src/edge/bindings`
//! never uses `src/edge/routes`, and every binding is opened by name in
//! `src/edge/bindings/mod.rs` alone.
//!
//! Read from the source as text (every `crate::auth::<module>` outside comments), so it costs no
//! build of its own and names the file and line of every arrow of a circle it finds. Everything
//! inside `src/auth` is written with `crate::auth::` paths between top-level modules; `super::`
//! stays inside one.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

const CORE: &str = "src/auth";
const PREFIX: &str = "crate::auth::";

/// An arrow between two top-level modules, with the places that draw it.
type Graph = BTreeMap<String, BTreeMap<String, Vec<String>>>;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file of `src/auth` belongs to (`None` for `src/auth/mod.rs`).
fn owner(core: &Path, file: &Path) -> Option<String> {
    let relative = file.strip_prefix(core).ok()?;
    let mut parts = relative.components();
    let first = parts.next()?.as_os_str().to_str()?.to_string();
    if parts.next().is_some() {
        return Some(first);
    }
    match first.strip_suffix(".rs") {
        Some("mod") | None => None,
        Some(name) => Some(name.to_string()),
    }
}

/// The top-level modules a line of code names after `crate::auth::`.
fn named_modules(line: &str) -> Vec<String> {
    let code = line.split("//").next().unwrap_or_default();
    let mut found = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find(PREFIX) {
        rest = &rest[at + PREFIX.len()..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if !name.is_empty() {
            found.push(name);
        }
    }
    found
}

fn graph() -> Graph {
    let core = Path::new(env!("CARGO_MANIFEST_DIR")).join(CORE);
    let mut files = Vec::new();
    rust_files(&core, &mut files);
    let mut graph = Graph::new();
    for file in &files {
        let Some(from) = owner(&core, file) else {
            continue;
        };
        let text = fs::read_to_string(file).expect("a readable source file");
        let shown = file
            .strip_prefix(&core)
            .unwrap_or(file)
            .display()
            .to_string();
        for (index, line) in text.lines().enumerate() {
            for to in named_modules(line) {
                if to != from {
                    graph
                        .entry(from.clone())
                        .or_default()
                        .entry(to)
                        .or_default()
                        .push(format!("{shown}:{}", index + 1));
                }
            }
        }
        graph.entry(from).or_default();
    }
    graph
}

/// Every module `start` reaches, with the path that reaches it.
fn reachable(graph: &Graph, start: &str) -> BTreeMap<String, Vec<String>> {
    let mut seen: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut queue = vec![(start.to_string(), vec![start.to_string()])];
    while let Some((node, path)) = queue.pop() {
        for next in graph
            .get(&node)
            .into_iter()
            .flat_map(|arrows| arrows.keys())
        {
            if !seen.contains_key(next) {
                let mut longer = path.clone();
                longer.push(next.clone());
                seen.insert(next.clone(), longer.clone());
                queue.push((next.clone(), longer));
            }
        }
    }
    seen
}

#[test]
fn the_core_modules_use_each_other_in_one_direction() {
    let graph = graph();
    let mut circles = BTreeSet::new();
    for module in graph.keys() {
        if let Some(path) = reachable(&graph, module).get(module) {
            let arrows: Vec<String> = path
                .windows(2)
                .map(|pair| {
                    let places = &graph[&pair[0]][&pair[1]];
                    format!("{} -> {} ({})", pair[0], pair[1], places.join(", "))
                })
                .collect();
            circles.insert(arrows.join("\n    "));
        }
    }
    assert!(
        circles.is_empty(),
        "the core's modules use each other in a circle:\n  {}",
        circles.into_iter().collect::<Vec<_>>().join("\n  ")
    );
}

#[test]
fn the_core_has_about_a_dozen_top_level_modules() {
    let graph = graph();
    assert!(
        graph.len() >= 8,
        "the check found too few modules: {graph:?}"
    );
    assert!(
        graph.len() <= 13,
        "src/auth has {} top-level modules: {:?}",
        graph.len(),
        graph.keys().collect::<Vec<_>>()
    );
}

#[test]
fn the_check_sees_an_arrow_and_ignores_comments() {
    assert_eq!(
        named_modules("use crate::auth::session::SessionId; // crate::auth::gate"),
        ["session"]
    );
    assert!(named_modules("/// see [`crate::auth::gate`]").is_empty());
}

/// Every line of code under `dir` (comments cut off), with its place.
fn code_lines(dir: &str) -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join(dir), &mut files);
    assert!(!files.is_empty(), "no source files under {dir}");
    let mut lines = Vec::new();
    for file in files {
        let text = fs::read_to_string(&file).expect("a readable source file");
        let shown = file
            .strip_prefix(root)
            .unwrap_or(&file)
            .display()
            .to_string();
        for (index, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            lines.push((format!("{shown}:{}", index + 1), code.to_string()));
        }
    }
    lines
}

#[test]
fn the_bindings_never_use_the_routes() {
    let uses: Vec<String> = code_lines("src/edge/bindings")
        .into_iter()
        .filter(|(_, code)| code.contains("routes::") || code.contains("routes;"))
        .map(|(place, code)| format!("{place}: {}", code.trim()))
        .collect();
    assert!(
        uses.is_empty(),
        "bindings use the routes:\n{}",
        uses.join("\n")
    );
}

#[test]
fn each_binding_is_opened_in_one_place() {
    let opened: Vec<String> = code_lines("src/edge")
        .into_iter()
        .filter(|(place, _)| !place.starts_with("src/edge/bindings/mod.rs"))
        .filter(|(_, code)| {
            [".kv(", ".durable_object(", ".assets(", ".var(", ".secret("]
                .iter()
                .any(|call| code.contains(call))
        })
        .map(|(place, code)| format!("{place}: {}", code.trim()))
        .collect();
    assert!(
        opened.is_empty(),
        "bindings opened outside src/edge/bindings/mod.rs:\n{}",
        opened.join("\n")
    );
}
