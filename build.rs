//! Tells the Worker which schema version it expects: the highest `V<n>__*.sql` in migrations/.
//! `/api/health` compares it with the database so a forgotten `make migrate` is caught.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
    println!("cargo:rerun-if-env-changed=GHOSTTOOLS_BUILD");
    let mut newest = 0u32;
    if let Ok(dir) = std::fs::read_dir("migrations") {
        for entry in dir.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let version = name
                .strip_prefix('V')
                .and_then(|rest| rest.split("__").next())
                .and_then(|n| n.parse::<u32>().ok());
            if let (Some(v), true) = (version, name.ends_with(".sql")) {
                newest = newest.max(v);
            }
        }
    }
    println!("cargo:rustc-env=GHOSTTOOLS_SCHEMA_VERSION={newest}");
}
