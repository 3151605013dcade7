//! The mock's layers depend on each other one way only (harness/ARCHITECTURE.md, "The mock's
//! layers"): every `crate::<module>` a source file names must sit in a lower layer than the
//! file's own top-level module. A new top-level module has to be given its place here.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Layer of each top-level module; a module may use only modules of a lower number.
const LAYERS: &[(&str, u8)] = &[
    ("defects", 0),
    ("error", 0),
    ("ids", 0),
    ("ssrf", 0),
    ("wire", 0),
    ("config", 1),
    ("policy", 2),
    ("live", 3),
    ("store", 3),
    ("service", 4),
    ("http", 5),
    ("lib", 6),
];

fn layer(module: &str) -> Option<u8> {
    LAYERS.iter().find(|(m, _)| *m == module).map(|(_, l)| *l)
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("source directory is readable") {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level modules a file's code (comments left out) names as `crate::<module>`.
fn named_modules(code: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for line in code.lines() {
        let line = line.split("//").next().unwrap_or("");
        for (at, _) in line.match_indices("crate::") {
            let rest = &line[at + "crate::".len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if name.starts_with(|c: char| c.is_ascii_lowercase()) {
                out.insert(name);
            }
        }
    }
    out
}

#[test]
fn every_dependency_points_down() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    assert!(files.len() > 20, "only {} source files found", files.len());
    let mut upward = Vec::new();
    for file in &files {
        let rel = file.strip_prefix(&src).expect("file below src");
        let own = rel
            .components()
            .next()
            .and_then(|c| c.as_os_str().to_str())
            .map(|c| c.trim_end_matches(".rs").to_string())
            .expect("top-level component");
        let own_layer = layer(&own)
            .unwrap_or_else(|| panic!("top-level module `{own}` has no layer in LAYERS"));
        let code = std::fs::read_to_string(file).expect("source is readable");
        for used in named_modules(&code) {
            if used == own {
                continue;
            }
            let used_layer = layer(&used).unwrap_or_else(|| {
                panic!(
                    "{} names `crate::{used}`, which has no layer",
                    rel.display()
                )
            });
            if used_layer >= own_layer {
                upward.push(format!("{} -> crate::{used}", rel.display()));
            }
        }
    }
    assert!(
        upward.is_empty(),
        "imports that point up or sideways: {upward:#?}"
    );
}

#[test]
fn the_scan_sees_an_upward_import() {
    let used = named_modules("use crate::http::extract::Authed; // crate::service in a comment");
    assert_eq!(
        used.into_iter().collect::<Vec<_>>(),
        vec!["http".to_string()]
    );
}
