use crate::builtins::BuiltinDef;

pub static DEFS: &[&BuiltinDef] = &[];

/// Constants the realm installs: ("NaN", NaN), ("Math.PI", π), ...
pub fn constants() -> Vec<(&'static str, crate::value::Value)> {
    Vec::new()
}
