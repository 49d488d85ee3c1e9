//! runtime/contract.json is what the compiler knows of the runtime (see `clrt::contract`). This test keeps
//! the committed file equal to a fresh one; `UPDATE_CONTRACT=1` rewrites it.

const REGENERATE: &str = "UPDATE_CONTRACT=1 cargo test -p containerless-runtime --test contract";

#[test]
fn the_committed_contract_file_is_current() {
    let fresh = clrt::contract::json();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/contract.json");
    if std::env::var_os("UPDATE_CONTRACT").is_some() {
        std::fs::write(path, &fresh).expect("write runtime/contract.json");
    }
    let committed = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) => panic!(
            "runtime/contract.json cannot be read ({}): run {}",
            e, REGENERATE
        ),
    };
    if committed != fresh {
        let line = committed
            .lines()
            .zip(fresh.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| committed.lines().count().min(fresh.lines().count()));
        panic!(
            "runtime/contract.json differs from the runtime's definitions (first at line {}: {:?} should be {:?}): run {}",
            line + 1,
            committed.lines().nth(line).unwrap_or(""),
            fresh.lines().nth(line).unwrap_or(""),
            REGENERATE
        );
    }
}
