//! The contract between the runtime and the compiler, written from the runtime's own definitions:
//! every builtin compiled code may call (its name, kind, `length` and what it returns), the globals the
//! realm defines, the type tags of type guards, the reasons a path gives up, and the compiler's diagnostic
//! codes. `runtime/contract.json` is `contract::json()`, committed; the compiler reads it through one
//! loader (`lib/contract.ts`), which refuses a file of another format or version, or one whose hash does
//! not match its text. `tests/contract.rs` fails when the committed file differs from a fresh one, and
//! says how to regenerate it:
//!
//! ```text
//! UPDATE_CONTRACT=1 cargo test -p containerless-runtime --test contract
//! ```
//!
//! The file is JSON, one entry a line, in a fixed order, so that a change shows as a readable diff:
//!
//! - `format`, `version`: what the loader expects (`FORMAT`, `VERSION`);
//! - `hash`: SHA-1 (hex) of the file's text with this field's value empty;
//! - `typeTags`: tag name to bit (`value::tag`);
//! - `giveUps`: each reason (`cx::AbortKind`) and what it means;
//! - `diagnostics`: each code the compiler emits and what it means;
//! - `globals`: each global with its kind (`constructor`, `function`, `namespace`, `value`);
//! - `builtins`: each builtin, sorted by name, with `kind` (`function`, `constructor`, `getter`), `length`
//!   and `returns` (the tag names of what a call returns, `any` when not declared).

use crate::cx::AbortKind;
use crate::heap::{Heap, ObjKind};
use crate::native::BuiltinDef;
use crate::realm::Realm;
use crate::value::{tag, Value};
use std::fmt::Write as _;

/// The file's `format`.
pub const FORMAT: &str = "containerless-runtime-contract";
/// The file's `version`: a change of the file's shape (not of its entries) raises it, and the loader
/// refuses any other.
pub const VERSION: u32 = 1;

/// The codes the compiler emits (`file:line:col: warning C006: ...`), with what they mean. The compiler
/// decides when to emit them; they are listed here so that the compiler, `containerless check` and the
/// runtime's give-up reasons are read from one file.
pub const DIAGNOSTICS: [(&str, &str); 8] = [
    ("C001", "the handler does not parse"),
    (
        "C002",
        "a construct the compiler does not model; its path falls back to JavaScript",
    ),
    ("C003", "a global the runtime does not model"),
    ("C004", "require() of a module other than the template's"),
    ("C005", "eval or Function constructor"),
    ("C006", "a builtin the runtime does not model was called"),
    (
        "C007",
        "the module's top-level code did not finish in a way the compiler models",
    ),
    ("C008", "no request was traced on this path"),
];

/// A JSON string literal.
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The names of the tags in `mask`, or `["any"]`.
fn tag_names(mask: u16) -> Vec<&'static str> {
    if mask == tag::ANY {
        return vec!["any"];
    }
    tag::NAMES
        .iter()
        .filter(|(_, bit)| mask & bit != 0)
        .map(|(name, _)| *name)
        .collect()
}

fn global_kind(heap: &Heap, v: &Value) -> &'static str {
    match v {
        Value::Obj(o) => match heap.kind(*o) {
            ObjKind::Native(d) if d.ctor.is_some() => "constructor",
            ObjKind::Native(_) => "function",
            _ => "namespace",
        },
        _ => "value",
    }
}

/// Joins `lines` as the entries of a JSON object or array.
fn block(open: &str, lines: Vec<String>, close: &str) -> String {
    format!("{}\n{}\n  {}", open, lines.join(",\n"), close)
}

/// The text of the contract file: `runtime/contract.json`.
pub fn json() -> String {
    let mut heap = Heap::new(usize::MAX);
    let realm = Realm::create(&mut heap, crate::builtins::INSTALL)
        .expect("the realm fits in an unbounded heap");
    let tags = tag::NAMES
        .iter()
        .map(|(name, bit)| format!("    {}: {}", quote(name), bit))
        .collect();
    let give_ups = AbortKind::ALL
        .iter()
        .map(|k| {
            format!(
                "    {{ \"reason\": {}, \"meaning\": {} }}",
                quote(k.as_str()),
                quote(k.meaning())
            )
        })
        .collect();
    let diagnostics = DIAGNOSTICS
        .iter()
        .map(|(code, meaning)| {
            format!(
                "    {{ \"code\": {}, \"meaning\": {} }}",
                quote(code),
                quote(meaning)
            )
        })
        .collect();
    let globals = realm
        .global_names()
        .into_iter()
        .map(|name| {
            let v = realm.global(name).expect("a global the realm lists");
            format!(
                "    {{ \"name\": {}, \"kind\": {} }}",
                quote(name),
                quote(global_kind(&heap, &v))
            )
        })
        .collect();
    let builtins = crate::builtins::all()
        .into_iter()
        .map(|d: &BuiltinDef| {
            let returns: Vec<String> = tag_names(d.returns).into_iter().map(quote).collect();
            format!(
                "    {{ \"name\": {}, \"kind\": {}, \"length\": {}, \"returns\": [{}] }}",
                quote(d.name),
                quote(d.kind().as_str()),
                d.length,
                returns.join(", ")
            )
        })
        .collect();
    let body = format!(
        "{{\n  \"format\": {},\n  \"version\": {},\n  \"hash\": \"\",\n  \"typeTags\": {},\n  \"giveUps\": {},\n  \"diagnostics\": {},\n  \"globals\": {},\n  \"builtins\": {}\n}}\n",
        quote(FORMAT),
        VERSION,
        block("{", tags, "}"),
        block("[", give_ups, "]"),
        block("[", diagnostics, "]"),
        block("[", globals, "]"),
        block("[", builtins, "]"),
    );
    let hash = sha1_hex(body.as_bytes());
    body.replacen("\"hash\": \"\"", &format!("\"hash\": \"{}\"", hash), 1)
}

/// SHA-1 in lower-case hex.
fn sha1_hex(bytes: &[u8]) -> String {
    format!("{:x}", <sha1::Sha1 as sha1::Digest>::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_covers_the_text_with_the_hash_blanked() {
        let text = json();
        let start = text.find("\"hash\": \"").unwrap() + 9;
        let hash = &text[start..start + 40];
        let blanked = text.replacen(hash, "", 1);
        assert_eq!(sha1_hex(blanked.as_bytes()), hash);
    }

    #[test]
    fn lists_kinds_and_return_types() {
        let text = json();
        assert!(text.contains(
            r#"{ "name": "Math.floor", "kind": "function", "length": 1, "returns": ["number"] }"#
        ));
        assert!(text.contains(
            r#"{ "name": "Map", "kind": "constructor", "length": 0, "returns": ["any"] }"#
        ));
        assert!(text.contains(
            r#"{ "name": "Map.prototype.size", "kind": "getter", "length": 0, "returns": ["any"] }"#
        ));
        assert!(text.contains(r#"{ "name": "Math", "kind": "namespace" }"#));
        assert!(text.contains(r#"{ "name": "NaN", "kind": "value" }"#));
        assert!(text.contains(
            r#"{ "reason": "module-write", "meaning": "a write to module-level state" }"#
        ));
        assert!(text.contains(r#""promise": 256"#));
    }

    #[test]
    fn quotes_json_strings() {
        assert_eq!(quote("a\"b\\c\n"), r#""a\"b\\c\u000a""#);
    }
}
