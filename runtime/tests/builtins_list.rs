//! runtime/builtins.json lists every builtin's name; the tracer and the code generator read it to know
//! which builtins compiled code can call. This test keeps it current (UPDATE_GOLDEN=1 rewrites it).

#[test]
fn builtins_json_lists_every_builtin() {
    let mut names: Vec<&str> = clrt::builtins::all().iter().map(|d| d.name).collect();
    names.sort();
    let mut dup = names.clone();
    dup.dedup();
    assert_eq!(dup.len(), names.len(), "two builtins share a name");
    let body = names
        .iter()
        .map(|n| format!("  \"{}\"", n))
        .collect::<Vec<_>>()
        .join(",\n");
    let json = format!("[\n{}\n]\n", body);
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/builtins.json");
    if std::env::var("UPDATE_GOLDEN").is_ok() {
        std::fs::write(path, &json).unwrap();
    }
    let on_disk = std::fs::read_to_string(path).unwrap_or_default();
    assert_eq!(on_disk, json, "runtime/builtins.json is stale: run UPDATE_GOLDEN=1 cargo test -p containerless-runtime --test builtins_list");
}
