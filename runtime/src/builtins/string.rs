use crate::builtins::BuiltinDef;

pub static DEFS: &[&BuiltinDef] = &[];
