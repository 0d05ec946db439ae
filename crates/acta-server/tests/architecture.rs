//! The layering rule of `acta-server/src` (ARCHITECTURE.md), checked on the source text:
//! - no import loop between more than two files;
//! - background jobs (`jobs/`) never take the handlers' state or reach into handlers;
//! - only the store touches files: handlers and access control use no `std::fs`.
//!
//! A file's imports are the `crate::`/`super::` paths it names (in `use` trees and in code) and, for `lib.rs`
//! and `mod.rs`, the paths that start with one of its child modules.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn source_files(dir: &Path, found: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            source_files(&path, found);
        } else if path.extension().is_some_and(|extension| extension == "rs") {
            found.push(path);
        }
    }
}

/// The module path of a file (`http/events.rs` -> `["http", "events"]`, `lib.rs` -> `[]`).
fn module_of(relative: &Path) -> Vec<String> {
    let mut parts: Vec<String> = relative.iter().map(|part| part.to_string_lossy().into_owned()).collect();
    if let Some(last) = parts.pop() {
        let stem = last.trim_end_matches(".rs");
        if stem != "mod" && stem != "lib" {
            parts.push(stem.to_string());
        }
    }
    parts
}

/// The text without comments and string literals, so prose that names a module is not an import.
fn code_only(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i..].starts_with(b"//") {
            while i < bytes.len() && bytes[i] != b'\n' {
                i += 1;
            }
        } else if bytes[i..].starts_with(b"/*") {
            i += 2;
            while i < bytes.len() && !bytes[i..].starts_with(b"*/") {
                i += 1;
            }
            i += 2;
        } else if bytes[i] == b'"' && !(i > 0 && bytes[i - 1] == b'\'') {
            i += 1;
            while i < bytes.len() && bytes[i] != b'"' {
                i += if bytes[i] == b'\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("\"\"");
        } else {
            out.push(char::from(bytes[i]));
            i += 1;
        }
    }
    out
}

/// Every path the code names, with `use` trees expanded (`use crate::{a::B, c}` names `crate::a::B` and
/// `crate::c`).
fn paths_named(code: &str) -> Vec<Vec<String>> {
    let mut paths = Vec::new();
    let chars: Vec<char> = code.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let starts_word = i == 0 || !(chars[i - 1].is_alphanumeric() || chars[i - 1] == '_' || chars[i - 1] == ':');
        if starts_word && (chars[i].is_alphabetic() || chars[i] == '_') {
            let (tree, next) = use_tree(&chars, i);
            for path in tree {
                if path.len() > 1 {
                    paths.push(path);
                }
            }
            i = next.max(i + 1);
        } else {
            i += 1;
        }
    }
    paths
}

/// Reads `a::b::{c, d::e}` from `start`: the expanded paths and where reading stopped.
fn use_tree(chars: &[char], start: usize) -> (Vec<Vec<String>>, usize) {
    let mut prefix = Vec::new();
    let mut i = start;
    loop {
        let begin = i;
        while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
            i += 1;
        }
        if i == begin {
            break;
        }
        prefix.push(chars[begin..i].iter().collect::<String>());
        if chars.get(i) == Some(&':') && chars.get(i + 1) == Some(&':') {
            i += 2;
            while chars.get(i).is_some_and(|c| c.is_whitespace()) {
                i += 1;
            }
            if chars.get(i) == Some(&'{') {
                i += 1;
                let mut paths = Vec::new();
                loop {
                    while chars.get(i).is_some_and(|c| c.is_whitespace() || *c == ',') {
                        i += 1;
                    }
                    match chars.get(i) {
                        None => return (paths, i),
                        Some('}') => return (paths, i + 1),
                        Some(_) => {
                            let (inner, next) = use_tree(chars, i);
                            for tail in inner {
                                paths.push(prefix.iter().cloned().chain(tail).collect());
                            }
                            if next == i {
                                i += 1;
                            } else {
                                i = next;
                            }
                            // Skip `as name` and anything else up to the next separator.
                            while chars.get(i).is_some_and(|c| *c != ',' && *c != '}') {
                                i += 1;
                            }
                        }
                    }
                }
            }
        } else {
            break;
        }
    }
    (vec![prefix], i)
}

struct Crate {
    /// Module path -> file.
    modules: BTreeMap<Vec<String>, PathBuf>,
    /// File -> its code.
    code: BTreeMap<PathBuf, String>,
}

fn read_crate() -> Crate {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    source_files(&src, &mut files);
    let mut modules = BTreeMap::new();
    let mut code = BTreeMap::new();
    for file in files {
        let relative = file.strip_prefix(&src).unwrap_or(&file).to_path_buf();
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        modules.insert(module_of(&relative), relative.clone());
        code.insert(relative, code_only(&text));
    }
    Crate { modules, code }
}

impl Crate {
    /// The file a path names: its longest prefix that is a module.
    fn file_of(&self, path: &[String]) -> Option<&PathBuf> {
        (0..=path.len()).rev().find_map(|len| self.modules.get(&path[..len]))
    }

    /// The other files each file imports.
    fn imports(&self) -> BTreeMap<PathBuf, BTreeSet<PathBuf>> {
        let mut graph = BTreeMap::new();
        for (module, file) in &self.modules {
            let is_parent = file.ends_with("mod.rs") || file.ends_with("lib.rs");
            let mut targets = BTreeSet::new();
            for path in paths_named(&self.code[file]) {
                let absolute: Vec<String> = match path[0].as_str() {
                    "crate" => path[1..].to_vec(),
                    "super" => {
                        let mut base = module.clone();
                        let mut rest = &path[..];
                        while rest.first().is_some_and(|part| part == "super") {
                            base.pop();
                            rest = &rest[1..];
                        }
                        base.into_iter().chain(rest.iter().cloned()).collect()
                    }
                    "self" => module.iter().cloned().chain(path[1..].iter().cloned()).collect(),
                    child if is_parent => {
                        let mut candidate = module.clone();
                        candidate.push(child.to_string());
                        if !self.modules.contains_key(&candidate) {
                            continue;
                        }
                        module.iter().cloned().chain(path.iter().cloned()).collect()
                    }
                    _ => continue,
                };
                if let Some(target) = self.file_of(&absolute)
                    && target != file
                {
                    targets.insert(target.clone());
                }
            }
            graph.insert(file.clone(), targets);
        }
        graph
    }
}

/// Strongly connected components (Tarjan), largest first.
fn loops(graph: &BTreeMap<PathBuf, BTreeSet<PathBuf>>) -> Vec<Vec<PathBuf>> {
    struct Walk<'a> {
        graph: &'a BTreeMap<PathBuf, BTreeSet<PathBuf>>,
        index: BTreeMap<&'a PathBuf, usize>,
        low: BTreeMap<&'a PathBuf, usize>,
        stack: Vec<&'a PathBuf>,
        on_stack: BTreeSet<&'a PathBuf>,
        found: Vec<Vec<PathBuf>>,
    }
    impl<'a> Walk<'a> {
        fn visit(&mut self, node: &'a PathBuf) {
            let n = self.index.len();
            self.index.insert(node, n);
            self.low.insert(node, n);
            self.stack.push(node);
            self.on_stack.insert(node);
            for next in self.graph.get(node).into_iter().flatten() {
                if !self.index.contains_key(next) {
                    self.visit(next);
                    let low = self.low[node].min(self.low[next]);
                    self.low.insert(node, low);
                } else if self.on_stack.contains(next) {
                    let low = self.low[node].min(self.index[next]);
                    self.low.insert(node, low);
                }
            }
            if self.low[node] == self.index[node] {
                let mut component = Vec::new();
                while let Some(top) = self.stack.pop() {
                    self.on_stack.remove(top);
                    component.push(top.clone());
                    if top == node {
                        break;
                    }
                }
                self.found.push(component);
            }
        }
    }
    let mut walk = Walk {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    for node in graph.keys() {
        if !walk.index.contains_key(node) {
            walk.visit(node);
        }
    }
    let mut found: Vec<Vec<PathBuf>> = walk.found.into_iter().filter(|component| component.len() > 1).collect();
    found.sort_by_key(|component| std::cmp::Reverse(component.len()));
    found
}

#[test]
fn no_import_loop_joins_more_than_two_files() {
    let graph = read_crate().imports();
    let too_large: Vec<Vec<PathBuf>> = loops(&graph).into_iter().filter(|component| component.len() > 2).collect();
    assert!(too_large.is_empty(), "import loops of more than two files: {too_large:#?}");
}

#[test]
fn background_jobs_take_what_they_use_not_the_handlers_state() {
    let source = read_crate();
    let graph = source.imports();
    for (file, code) in &source.code {
        if !file.starts_with("jobs") {
            continue;
        }
        assert!(!code.contains("AppState"), "{} takes AppState", file.display());
        for target in &graph[file] {
            assert!(
                !target.starts_with("http") && !target.starts_with("access") && !target.ends_with("state.rs"),
                "{} imports {}",
                file.display(),
                target.display()
            );
        }
    }
}

#[test]
fn handlers_and_access_control_never_touch_files() {
    let source = read_crate();
    for (file, code) in &source.code {
        if file.starts_with("http") || file.starts_with("access") {
            assert!(!code.contains("std::fs") && !code.contains("tokio::fs"), "{} touches files", file.display());
        }
    }
}

#[test]
fn the_checker_sees_imports_in_use_trees_and_code() {
    let code = code_only("use crate::{a::B, c::{d, e::F as G}};\nfn x() { super::y::z(); } // crate::nope::x\n");
    let paths = paths_named(&code);
    for expected in [&["crate", "a", "B"][..], &["crate", "c", "d"], &["crate", "c", "e", "F"], &["super", "y", "z"]] {
        assert!(paths.iter().any(|path| path == expected), "{expected:?} not in {paths:?}");
    }
    assert!(!paths.iter().any(|path| path.contains(&"nope".to_string())));
}

#[test]
fn the_checker_finds_a_loop_of_three() {
    let edge = |a: &str, b: &str| (PathBuf::from(a), BTreeSet::from([PathBuf::from(b)]));
    let graph = BTreeMap::from([edge("a.rs", "b.rs"), edge("b.rs", "c.rs"), edge("c.rs", "a.rs")]);
    assert_eq!(loops(&graph).first().map(Vec::len), Some(3));
}
