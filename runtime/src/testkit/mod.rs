//! The test kit of the builtins' differential tests against Node: running a script in Node, comparing
//! answers line by line, small deterministic generators for inputs, and two harnesses:
//! `calls` (a builtin called on a receiver with arguments, both written in a literal language that is
//! also JavaScript) and `exprs` (a JavaScript expression and the answer our builtin gave for it).

pub mod calls;
pub mod exprs;
mod node;

pub use node::*;

/// A JSON string literal for `units`, quoted as `JSON.stringify` quotes (lone surrogates become escapes
/// that Node reads back).
pub fn json_lit(units: &[u16]) -> String {
    let mut out = Vec::new();
    crate::builtins::json::quote_json_string(&mut out, units);
    String::from_utf16(&out).expect("well-formed")
}

/// `JSON.stringify(v)` as text, for building the Node side of a case.
pub fn stringify(cx: &mut crate::cx::Cx, v: &crate::value::Value) -> String {
    match crate::builtins::json::stringify_value(cx, v) {
        Ok(Some(s)) => String::from_utf16(s.units()).expect("well-formed"),
        Ok(None) => "undefined".to_string(),
        Err(e) => panic!("stringify failed: {:?}", e),
    }
}
