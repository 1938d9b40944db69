//! Dependencies point one way: the domain (`consent`, `keywords`, `phone`, `providers`,
//! `imports`, `mask`, `ids`) is pure and knows nothing of the edges; `store` does not know the
//! flows or the HTTP edge; `flows` does not know the HTTP edge; and the store's modules do not
//! depend on each other in a circle. These tests read the source, so a stray `use` fails them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const SRC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src");

/// The modules that must stay pure, and what none of them may name.
const PURE: &[&str] = &[
    "consent",
    "keywords",
    "phone",
    "providers",
    "imports",
    "mask",
    "ids",
];
const EDGES: &[&str] = &["store", "api", "flows", "secrets", "config", "telemetry"];
/// Crates that do I/O or belong to the Lambda runtime.
const IO_CRATES: &[&str] = &[
    "aws_sdk_",
    "aws_config",
    "lambda_http",
    "lambda_runtime",
    "tokio",
];

/// Every `.rs` file of a top-level module (`name.rs` and everything under `name/`).
fn files_of(module: &str) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let single = Path::new(SRC).join(format!("{module}.rs"));
    if single.exists() {
        files.push(single);
    }
    let mut dirs = vec![Path::new(SRC).join(module)];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    assert!(!files.is_empty(), "module {module} has no source files");
    files
}

/// The source with comments removed, so prose that names a module does not count.
fn code(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    text.lines()
        .map(|line| match line.find("//") {
            Some(i) => &line[..i],
            None => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The top-level modules of this crate that `code` names through `crate::`, including grouped
/// imports such as `use crate::{store, api::ApiError}`.
fn crate_modules_named(code: &str) -> BTreeSet<String> {
    modules_named(code, "crate::")
}

/// The first path segments that follow `prefix` (`crate::`, `super::`) in `code`.
fn modules_named(code: &str, prefix: &str) -> BTreeSet<String> {
    let mut named = BTreeSet::new();
    let mut rest = code;
    while let Some(i) = rest.find(prefix) {
        rest = &rest[i + prefix.len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let inner = group.split('}').next().unwrap_or_default();
            for part in inner.split(',') {
                let name: String = part
                    .trim()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                named.insert(name);
            }
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            named.insert(name);
        }
    }
    named
}

fn violations(modules: &[&str], forbidden: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    for module in modules {
        for file in files_of(module) {
            let named = crate_modules_named(&code(&file));
            for bad in forbidden.iter().filter(|f| named.contains(**f)) {
                found.push(format!("{} names crate::{bad}", file.display()));
            }
        }
    }
    found
}

#[test]
fn the_domain_names_no_edge_and_no_io_crate() {
    let mut found = violations(PURE, EDGES);
    for module in PURE {
        for file in files_of(module) {
            let code = code(&file);
            for krate in IO_CRATES {
                if code.contains(&format!("{krate}::")) || code.contains(&format!("use {krate}")) {
                    found.push(format!("{} uses {krate}", file.display()));
                }
            }
        }
    }
    assert!(found.is_empty(), "{found:#?}");
}

#[test]
fn the_store_knows_neither_flows_nor_http_and_flows_know_no_http() {
    let mut found = violations(&["store"], &["api", "flows"]);
    found.extend(violations(&["flows"], &["api"]));
    assert!(found.is_empty(), "{found:#?}");
}

#[test]
fn the_stores_modules_do_not_depend_on_each_other_in_a_circle() {
    let dir = Path::new(SRC).join("store");
    let modules: Vec<String> = files_of("store")
        .iter()
        .filter_map(|f| f.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .filter(|m| m != "mod")
        .collect();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for module in &modules {
        let named = modules_named(&code(&dir.join(format!("{module}.rs"))), "super::");
        let uses = modules
            .iter()
            .filter(|other| *other != module && named.contains(*other))
            .cloned()
            .collect();
        edges.insert(module.clone(), uses);
    }
    // Depth-first search for a back edge.
    fn visit(
        node: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|p| p == node) {
            let mut cycle = path[i..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in edges.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, edges, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    for module in &modules {
        let cycle = visit(module, &edges, &mut Vec::new(), &mut done);
        assert!(cycle.is_none(), "store modules in a circle: {cycle:?}");
    }
}

#[test]
fn the_checks_see_what_they_look_for() {
    let named = crate_modules_named(
        "use crate::store::Store;\nuse crate::{api::ApiError, flows};\nlet x = crate::phone::E164;",
    );
    let expected: BTreeSet<String> = ["store", "api", "flows", "phone"]
        .into_iter()
        .map(String::from)
        .collect();
    assert_eq!(named, expected);
    let siblings = modules_named(
        "use super::reviews::{self, ReviewRecord};\nuse super::{Item, keys, s};",
        "super::",
    );
    assert!(siblings.contains("reviews") && siblings.contains("keys"));
    assert!(code(Path::new(SRC).join("layering.rs").as_path()).contains("fn code("));
}
