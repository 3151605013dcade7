//! Embeds the corpus: every `vectors/*.json` except the JSON Schema, and nothing below it
//! (`vectors/testdata/` holds deliberately wrong fixtures and must never be embedded).
//!
//! A generated `include_bytes!` list is used instead of embedding the whole directory so that
//! (a) only corpus files end up in the binary and (b) cargo rebuilds when a vector file is
//! added, removed or edited (rustc tracks `include_bytes!` files; the directory is watched here).

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::PathBuf;

fn main() {
    let manifest =
        PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let dir = manifest.join("../../vectors");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut names: Vec<String> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read the vector corpus at {}: {e}", dir.display()))
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().map(|t| t.is_file()).unwrap_or(false))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json") && n != "vector.schema.json")
        .collect();
    names.sort();
    let mut out = String::from(
        "/// (file name, contents) of every embedded vector file, sorted by name.\npub static EMBEDDED: &[(&str, &[u8])] = &[\n",
    );
    for n in &names {
        let path = dir.join(n).canonicalize().expect("listed file exists");
        println!("cargo:rerun-if-changed={}", path.display());
        writeln!(
            out,
            "    ({n:?}, include_bytes!({:?})),",
            path.display().to_string()
        )
        .expect("write to String");
    }
    out.push_str("];\n");
    let dest =
        PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR")).join("embedded.rs");
    fs::write(&dest, out).unwrap_or_else(|e| panic!("cannot write {}: {e}", dest.display()));
}
