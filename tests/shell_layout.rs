//! The Workers shell's layout holds: `src/edge/bindings` never uses `src/edge/routes`, and every
//! binding is opened by name in `src/edge/bindings/mod.rs` alone.
//!
//! Read from the source as text (the shell builds for wasm32 only), comments left out.

use std::fs;
use std::path::{Path, PathBuf};

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
