//! Embeds the shipped catalog (personas/, intents/ and replies/) so the binary runs with no files at all.

use std::fmt::Write;
use std::path::Path;

fn main() {
    let root = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let mut code = String::new();
    for kind in ["personas", "intents", "replies"] {
        let dir = Path::new(&root).join(kind);
        println!("cargo:rerun-if-changed={}", dir.display());
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        files.retain(|p| p.extension().is_some_and(|x| x == "toml"));
        files.sort();
        let _ = writeln!(
            code,
            "pub static {}: &[(&str, &str)] = &[",
            kind.to_uppercase()
        );
        for path in files {
            println!("cargo:rerun-if-changed={}", path.display());
            let name = format!("{kind}/{}", path.file_name().unwrap().to_string_lossy());
            let _ = writeln!(
                code,
                "    ({name:?}, include_str!({:?})),",
                path.display().to_string()
            );
        }
        code.push_str("];\n");
    }
    let out = Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"))
        .join("default_catalog.rs");
    std::fs::write(out, code).expect("write default_catalog.rs");
}
