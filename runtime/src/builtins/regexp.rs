use crate::builtins::BuiltinDef;

pub static DEFS: &[&BuiltinDef] = &[];

#[derive(Debug)]
pub struct RegExpData {
    pub source: crate::value::JsStr,
    pub flags: crate::value::JsStr,
}

impl Clone for RegExpData {
    fn clone(&self) -> Self {
        RegExpData { source: self.source.clone(), flags: self.flags.clone() }
    }
}
