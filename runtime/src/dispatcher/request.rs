//! The request as the handler sees it: what Node's `req` (headers, method), Express 5 (`req.path`,
//! `req.query` with the default "simple" parser, node:querystring) and body-parser 2 (as the template
//! configures it) make of the bytes that arrived.
//!
//! Versions followed (those the JavaScript runner loads): express 5.3.0, body-parser 2.4.0 (`read.js`,
//! `types/{text,json,urlencoded}.js`), type-is 2.1.0 with media-typer 1.1.1 and content-type 2.1.0,
//! qs 6.17.1, and Node's `lib/querystring.js`. Where these would answer an error page (bad JSON, a body
//! over its limit, an unsupported charset or encoding) or build something we do not (a Buffer, nested
//! form fields), the request gives up.

use super::express::{parse_content_type, ReqFacts};
use super::names::{js, Name};
use super::RequestParts;
use crate::cx::{Abort, AbortKind, Cx, JsResult};
use crate::heap::{Obj, ObjKind};
use crate::props;
use crate::value::{JsStr, Value};

fn give_up(detail: &'static str) -> Abort {
    Abort::new(AbortKind::Unsupported, 0, detail)
}

/// The request line and headers, checked and decoded as Node would.
#[derive(Clone, Debug)]
pub struct Incoming {
    /// One of `METHODS`.
    pub method: &'static str,
    /// `req.path`: the target up to the first `?`.
    pub path: JsStr,
    /// The text after the first `?`, if there is one.
    pub query: Option<Vec<u16>>,
    /// `req.headers` after the template's default Content-Type: lower-case names in arrival order,
    /// Latin-1 values.
    pub headers: Vec<(String, JsStr)>,
}

/// Bytes as a string of the code units they are (Latin-1, as Node reads a head).
pub fn latin1_str(bytes: &[u8]) -> JsStr {
    JsStr::from_units(bytes.iter().map(|&b| b as u16).collect())
}

/// Methods Node's parser accepts that the dispatcher serves; others give up.
const METHODS: &[&str] = &["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"];

impl Incoming {
    pub fn parse(req: &RequestParts) -> Result<Incoming, Abort> {
        let Some(&method) = METHODS.iter().find(|m| **m == req.method) else {
            return Err(give_up("a request method the dispatcher does not serve"));
        };
        let t = req.target.as_bytes();
        // parseurl's fast path: a target starting with '/' without whitespace or '#'. Anything else goes
        // through url.parse, which we do not reproduce; non-ASCII bytes as well.
        if t.first() != Some(&b'/') || t.iter().any(|&b| !(0x21..=0x7e).contains(&b) || b == b'#') {
            return Err(give_up("a request target outside parseurl's fast path"));
        }
        let (path, query) = match t.iter().position(|&b| b == b'?') {
            Some(q) => (
                &t[..q],
                Some(t[q + 1..].iter().map(|&b| b as u16).collect()),
            ),
            None => (t, None),
        };
        let path = latin1_str(path);
        let mut headers: Vec<(String, JsStr)> = Vec::with_capacity(req.headers.len() + 1);
        for (name, value) in &req.headers {
            let name = if name.bytes().any(|b| b.is_ascii_uppercase()) {
                name.to_ascii_lowercase()
            } else {
                name.clone()
            };
            if headers.iter().any(|(n, _)| *n == name) {
                // Node joins some duplicates with ", " or "; ", keeps the first of others, and makes arrays
                // of set-cookie; we do not reproduce that.
                return Err(give_up("a request header that occurs more than once"));
            }
            headers.push((name, latin1_str(value)));
        }
        // The template (index.js:19-27): no or an empty content-type becomes text/plain.
        match headers.iter_mut().find(|(n, _)| n == "content-type") {
            Some((_, v)) if v.is_empty() => *v = js(Name::TextPlain),
            Some(_) => {}
            None => headers.push(("content-type".to_string(), js(Name::TextPlain))),
        }
        Ok(Incoming {
            method,
            path,
            query,
            headers,
        })
    }

    pub fn header(&self, name: &str) -> Option<&JsStr> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    pub fn facts(&self) -> ReqFacts {
        ReqFacts {
            method: self.method,
            if_none_match: self.header("if-none-match").cloned(),
            if_modified_since: self.header("if-modified-since").cloned(),
            cache_control: self.header("cache-control").cloned(),
        }
    }

    /// type-is `hasBody`: a Transfer-Encoding, or a Content-Length that is a number.
    fn has_body(&self) -> bool {
        self.header("transfer-encoding").is_some()
            || self
                .header("content-length")
                .is_some_and(|v| !crate::ops::string_to_number(v).is_nan())
    }

    /// type-is's normalised media type of the Content-Type (no parameters, lower case), if media-typer
    /// accepts it.
    fn media_type(&self) -> Option<String> {
        let ct = self.header("content-type")?;
        let u = ct.units();
        let mut i = 0;
        while i < u.len() && (u[i] == 32 || u[i] == 9) {
            i += 1;
        }
        let start = i;
        while i < u.len() && u[i] != b';' as u16 {
            i += 1;
        }
        let mut end = i;
        while end > start && (u[end - 1] == 32 || u[end - 1] == 9) {
            end -= 1;
        }
        let t = &u[start..end];
        if t.iter().any(|&c| c >= 0x80) {
            return None;
        }
        let t: String = t
            .iter()
            .map(|&c| (c as u8).to_ascii_lowercase() as char)
            .collect();
        media_typer_test(&t).then_some(t)
    }

    /// body-parser's charset: the Content-Type's `charset` parameter lower-cased, or utf-8.
    fn charset(&self) -> Result<String, Abort> {
        let ct = match self.header("content-type") {
            Some(c) => c,
            None => return Ok("utf-8".into()),
        };
        let m = parse_content_type(ct.units()).map_err(ctl_abort)?;
        let key: Vec<u16> = "charset".encode_utf16().collect();
        match m.params.iter().find(|(k, _)| *k == key) {
            Some((_, v)) if !v.is_empty() => {
                if v.iter().any(|&c| c >= 0x80) {
                    return Err(give_up("a charset outside ASCII"));
                }
                Ok(v.iter()
                    .map(|&c| (c as u8).to_ascii_lowercase() as char)
                    .collect())
            }
            _ => Ok("utf-8".into()),
        }
    }

    /// The bytes as body-parser's `read` hands them to a parser: identity encoding, within `limit`, valid
    /// UTF-8, without a byte order mark (iconv-lite strips it).
    fn read_utf8(&self, body: &[u8], limit: Option<u64>) -> Result<Vec<u16>, Abort> {
        let enc = self.header("content-encoding").filter(|v| !v.is_empty());
        if let Some(e) = enc {
            if !e.to_rust_string().eq_ignore_ascii_case("identity") {
                return Err(give_up(
                    "a compressed request body (body-parser inflates it)",
                ));
            }
        }
        if let Some(l) = limit {
            if body.len() as u64 > l {
                return Err(give_up("a request body over body-parser's limit (413)"));
            }
        }
        let text = match std::str::from_utf8(body) {
            Ok(t) => t,
            Err(_) => return Err(give_up("a request body that is not valid UTF-8")),
        };
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        Ok(text.encode_utf16().collect())
    }
}

fn ctl_abort(c: crate::cx::Ctl) -> Abort {
    match c {
        crate::cx::Ctl::Abort(a) => *a,
        crate::cx::Ctl::Throw(_) => give_up("an exception while reading the request"),
    }
}

/// media-typer's `test`: `/^ *([A-Za-z0-9][A-Za-z0-9!#$&^_-]{0,126})\/([A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}) *$/`.
fn media_typer_test(s: &str) -> bool {
    let s = s.trim_matches(' ');
    let Some((t, st)) = s.split_once('/') else {
        return false;
    };
    let ok = |part: &str, extra: &str| {
        let b = part.as_bytes();
        !b.is_empty()
            && b.len() <= 127
            && b[0].is_ascii_alphanumeric()
            && b[1..].iter().all(|&c| {
                c.is_ascii_alphanumeric()
                    || b"!#$&^_-".contains(&c)
                    || extra.as_bytes().contains(&c)
            })
    };
    ok(t, "") && ok(st, ".+")
}

/// A urlencoded field: name and value.
pub type Field = (Vec<u16>, Vec<u16>);

/// The parsed body, before it becomes a JavaScript value.
#[derive(Clone, Debug, PartialEq)]
pub enum Body {
    /// No parser ran (no body, or a type no parser takes): `req.body` stays undefined.
    Undefined,
    Text(Vec<u16>),
    /// JSON text that passed body-parser's strict check; parsed in the context (a syntax error gives up).
    Json(Vec<u16>),
    /// An empty JSON or urlencoded body: `{}`.
    EmptyObject,
    /// urlencoded fields in order (plain names, each once).
    Form(Vec<Field>),
}

/// Body limits and mode from the environment (index.js:16-35).
#[derive(Clone, Debug)]
pub struct BodyConfig {
    /// RAW_BODY=true: the body is a Buffer, which we do not model.
    pub raw_body: bool,
    /// MAX_JSON_SIZE || '100kb', as the `bytes` package parses it.
    pub json_limit: u64,
}

impl Default for BodyConfig {
    fn default() -> BodyConfig {
        BodyConfig {
            raw_body: false,
            json_limit: 102_400,
        }
    }
}

/// body-parser's default limit (`100kb`), which the template leaves on text and urlencoded bodies.
pub(crate) const DEFAULT_LIMIT: u64 = 102_400;

/// body-parser's strict JSON check: the first non-whitespace character opens an object or an array.
fn strict_json(text: Vec<u16>) -> Result<Body, Abort> {
    if text.is_empty() {
        return Ok(Body::EmptyObject);
    }
    match text
        .iter()
        .find(|&&c| !matches!(c, 0x20 | 0x09 | 0x0a | 0x0d))
    {
        Some(&c) if c == b'{' as u16 || c == b'[' as u16 => Ok(Body::Json(text)),
        _ => Err(give_up(
            "a JSON body that is not an object or array (body-parser answers 400)",
        )),
    }
}

/// The template's parsers: text (text/*), json (application/json), urlencoded (extended).
pub fn openfaas_body(inc: &Incoming, body: &[u8], cfg: &BodyConfig) -> Result<Body, Abort> {
    if cfg.raw_body {
        return Err(give_up("RAW_BODY=true: the body is a Buffer"));
    }
    if !inc.has_body() {
        return Ok(Body::Undefined);
    }
    let Some(mt) = inc.media_type() else {
        return Ok(Body::Undefined);
    };
    if mt.starts_with("text/") {
        let cs = inc.charset()?;
        if cs != "utf-8" && cs != "utf8" {
            return Err(give_up("a text body in a charset other than UTF-8"));
        }
        return Ok(Body::Text(inc.read_utf8(body, Some(DEFAULT_LIMIT))?));
    }
    if mt == "application/json" {
        let cs = inc.charset()?;
        if cs != "utf-8" {
            return Err(give_up("a JSON body in a charset other than utf-8"));
        }
        return strict_json(inc.read_utf8(body, Some(cfg.json_limit))?);
    }
    if mt == "application/x-www-form-urlencoded" {
        let cs = inc.charset()?;
        if cs != "utf-8" {
            return Err(give_up("a urlencoded body in a charset other than utf-8"));
        }
        let text = inc.read_utf8(body, Some(DEFAULT_LIMIT))?;
        if text.is_empty() {
            return Ok(Body::EmptyObject);
        }
        return Ok(Body::Form(parse_form(&text)?));
    }
    Ok(Body::Undefined)
}

/// The runner's parser for Containerless-API handlers: `bodyParser.json({type: () => true})`.
pub fn containerless_body(inc: &Incoming, body: &[u8], cfg: &BodyConfig) -> Result<Body, Abort> {
    if !inc.has_body() {
        return Ok(Body::Undefined);
    }
    let cs = inc.charset()?;
    if cs != "utf-8" {
        return Err(give_up("a JSON body in a charset other than utf-8"));
    }
    strict_json(inc.read_utf8(body, Some(cfg.json_limit))?)
}

/// qs 6.17.1 as body-parser calls it (`allowPrototypes`, depth 32, utf-8), for bodies whose field names
/// have no brackets and occur once; anything else gives up. Fields with an empty name are dropped, as is
/// `__proto__` (qs drops both).
pub fn parse_form(text: &[u16]) -> Result<Vec<Field>, Abort> {
    if text.iter().filter(|&&c| c == b'&' as u16).count() + 1 > 1000 {
        return Err(give_up("a urlencoded body with too many parameters (413)"));
    }
    let lower = |c: u16| if (65..=90).contains(&c) { c + 32 } else { c };
    // cleanStr: %5B and %5D become brackets before anything else.
    for w in text.windows(3) {
        if w[0] == b'%' as u16
            && w[1] == b'5' as u16
            && (lower(w[2]) == b'b' as u16 || lower(w[2]) == b'd' as u16)
        {
            return Err(give_up(
                "a urlencoded field name with brackets (qs nests it)",
            ));
        }
    }
    if text.iter().any(|&c| c == b'[' as u16 || c == b']' as u16) {
        return Err(give_up(
            "a urlencoded field name with brackets (qs nests it)",
        ));
    }
    let mut out: Vec<Field> = Vec::new();
    for part in text.split(|&c| c == b'&' as u16) {
        let (k, v) = match part.iter().position(|&c| c == b'=' as u16) {
            Some(p) => (qs_decode(&part[..p]), qs_decode(&part[p + 1..])),
            None => (qs_decode(part), Vec::new()),
        };
        if out.iter().any(|(x, _)| *x == k) {
            return Err(give_up(
                "a urlencoded field that occurs more than once (qs makes an array)",
            ));
        }
        out.push((k, v));
    }
    let proto: Vec<u16> = "__proto__".encode_utf16().collect();
    out.retain(|(k, _)| !k.is_empty() && *k != proto);
    Ok(out)
}

/// qs's `utils.decode` for utf-8: '+' is a space; `decodeURIComponent`, or the text as it is when that
/// throws.
fn qs_decode(s: &[u16]) -> Vec<u16> {
    let plus: Vec<u16> = s
        .iter()
        .map(|&c| if c == b'+' as u16 { 32 } else { c })
        .collect();
    decode_uri_component(&plus).unwrap_or(plus)
}

fn hex(c: u16) -> Option<u8> {
    match c {
        0x30..=0x39 => Some((c - 0x30) as u8),
        0x41..=0x46 => Some((c - 0x41 + 10) as u8),
        0x61..=0x66 => Some((c - 0x61 + 10) as u8),
        _ => None,
    }
}

/// `decodeURIComponent` (ECMA-262 §19.2.6.5 Decode with an empty reserved set); `None` where it throws a
/// URIError.
pub fn decode_uri_component(s: &[u16]) -> Option<Vec<u16>> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    let byte_at = |i: usize| -> Option<u8> {
        if i + 2 < s.len() && s[i] == b'%' as u16 {
            Some(hex(s[i + 1])? << 4 | hex(s[i + 2])?)
        } else {
            None
        }
    };
    while i < s.len() {
        let c = s[i];
        if c != b'%' as u16 {
            out.push(c);
            i += 1;
            continue;
        }
        let b = byte_at(i)?;
        i += 3;
        if b < 0x80 {
            out.push(b as u16);
            continue;
        }
        let n = if b & 0xE0 == 0xC0 {
            2
        } else if b & 0xF0 == 0xE0 {
            3
        } else if b & 0xF8 == 0xF0 {
            4
        } else {
            return None;
        };
        let mut bytes = vec![b];
        for _ in 1..n {
            let b2 = byte_at(i)?;
            if b2 & 0xC0 != 0x80 {
                return None;
            }
            bytes.push(b2);
            i += 3;
        }
        let ch = std::str::from_utf8(&bytes).ok()?;
        out.extend(ch.encode_utf16());
    }
    Some(out)
}

/// A value of `querystring.parse`: a string, or an array once a key repeats.
#[derive(Clone, Debug, PartialEq)]
pub enum QVal {
    One(Vec<u16>),
    Many(Vec<Vec<u16>>),
}

/// Node's `querystring.parse(qs)` with the default separators, 1000 keys, and `querystring.unescape`.
pub fn parse_querystring(qs: &[u16]) -> Vec<(Vec<u16>, QVal)> {
    let mut obj: Vec<(Vec<u16>, QVal)> = Vec::new();
    if qs.is_empty() {
        return obj;
    }
    type Fields = Vec<(Vec<u16>, QVal)>;
    let add = |obj: &mut Fields, key: Vec<u16>, value: Vec<u16>, key_enc: bool, val_enc: bool| {
        let key = if !key.is_empty() && key_enc {
            qs_unescape(&key)
        } else {
            key
        };
        let value = if !value.is_empty() && val_enc {
            qs_unescape(&value)
        } else {
            value
        };
        match obj.iter_mut().find(|(k, _)| *k == key) {
            None => obj.push((key, QVal::One(value))),
            Some((_, v)) => match v {
                QVal::Many(list) => list.push(value),
                QVal::One(first) => *v = QVal::Many(vec![std::mem::take(first), value]),
            },
        }
    };
    const AMP: u16 = b'&' as u16;
    const EQ: u16 = b'=' as u16;
    const PLUS: u16 = b'+' as u16;
    const PCT: u16 = b'%' as u16;
    let mut pairs = 1000u32;
    let mut last_pos = 0usize;
    let mut sep_idx = 0usize;
    let mut eq_idx = 0usize;
    let mut key: Vec<u16> = Vec::new();
    let mut value: Vec<u16> = Vec::new();
    let mut key_encoded = false;
    let mut val_encoded = false;
    let mut encode_check = 0u8;
    let mut i = 0usize;
    while i < qs.len() {
        let code = qs[i];
        if code == AMP {
            sep_idx += 1;
            // sepLen is 1
            let end = i + 1 - sep_idx;
            if eq_idx < 1 {
                if last_pos < end {
                    key.extend_from_slice(&qs[last_pos..end]);
                } else if key.is_empty() {
                    pairs -= 1;
                    if pairs == 0 {
                        return obj;
                    }
                    last_pos = i + 1;
                    sep_idx = 0;
                    eq_idx = 0;
                    i += 1;
                    continue;
                }
            } else if last_pos < end {
                value.extend_from_slice(&qs[last_pos..end]);
            }
            add(
                &mut obj,
                std::mem::take(&mut key),
                std::mem::take(&mut value),
                key_encoded,
                val_encoded,
            );
            pairs -= 1;
            if pairs == 0 {
                return obj;
            }
            key_encoded = false;
            val_encoded = false;
            encode_check = 0;
            last_pos = i + 1;
            sep_idx = 0;
            eq_idx = 0;
        } else {
            sep_idx = 0;
            let mut handled = false;
            if eq_idx < 1 {
                if code == EQ {
                    eq_idx += 1;
                    let end = i + 1 - eq_idx;
                    if last_pos < end {
                        key.extend_from_slice(&qs[last_pos..end]);
                    }
                    encode_check = 0;
                    last_pos = i + 1;
                    i += 1;
                    continue;
                } else {
                    eq_idx = 0;
                    if !key_encoded {
                        if code == PCT {
                            encode_check = 1;
                            i += 1;
                            continue;
                        } else if encode_check > 0 {
                            if hex(code).is_some() {
                                encode_check += 1;
                                if encode_check == 3 {
                                    key_encoded = true;
                                }
                                i += 1;
                                continue;
                            } else {
                                encode_check = 0;
                            }
                        }
                    }
                }
                if code == PLUS {
                    if last_pos < i {
                        key.extend_from_slice(&qs[last_pos..i]);
                    }
                    key.push(32);
                    last_pos = i + 1;
                    handled = true;
                }
            }
            if !handled {
                if code == PLUS {
                    if last_pos < i {
                        value.extend_from_slice(&qs[last_pos..i]);
                    }
                    value.push(32);
                    last_pos = i + 1;
                } else if !val_encoded {
                    if code == PCT {
                        encode_check = 1;
                    } else if encode_check > 0 {
                        if hex(code).is_some() {
                            encode_check += 1;
                            if encode_check == 3 {
                                val_encoded = true;
                            }
                        } else {
                            encode_check = 0;
                        }
                    }
                }
            }
        }
        i += 1;
    }
    if last_pos < qs.len() {
        if eq_idx < 1 {
            key.extend_from_slice(&qs[last_pos..]);
        } else if sep_idx < 1 {
            value.extend_from_slice(&qs[last_pos..]);
        }
    } else if eq_idx == 0 && key.is_empty() {
        return obj;
    }
    add(&mut obj, key, value, key_encoded, val_encoded);
    obj
}

/// `querystring.unescape`: `decodeURIComponent`, or on a URIError the valid `%XX` escapes decoded to
/// bytes and the bytes read as UTF-8 with replacement characters (`unescapeBuffer(s).toString()`). Both
/// agree with the second on ASCII input, which is all a request target holds here.
fn qs_unescape(s: &[u16]) -> Vec<u16> {
    if let Some(v) = decode_uri_component(s) {
        return v;
    }
    let mut bytes: Vec<u8> = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        let c = s[i];
        if c == b'%' as u16 && i + 2 < s.len() {
            if let (Some(h), Some(l)) = (hex(s[i + 1]), hex(s[i + 2])) {
                bytes.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        bytes.push(c as u8);
        i += 1;
    }
    String::from_utf8_lossy(&bytes).encode_utf16().collect()
}

// ---------------------------------------------------------------------------------------------------
// JavaScript values

fn str_value(cx: &mut Cx, u: &[u16]) -> JsResult<Value> {
    cx.heap.charge(16 + u.len() * 2)?;
    Ok(Value::Str(cx.input_str(u)))
}

/// `req.headers`: an ordinary object; `set-cookie` is always an array.
pub fn headers_value(cx: &mut Cx, inc: &Incoming) -> JsResult<Value> {
    let mut obj = Obj::new(ObjKind::Ordinary, Some(cx.realm.object_proto));
    obj.props.reserve(inc.headers.len());
    let o = cx.heap.alloc(obj)?;
    for (name, value) in &inc.headers {
        // The string `Incoming` holds, shared (strings are immutable), counted as `new_str` counts a copy.
        cx.heap.charge(16 + value.len() * 2)?;
        let v = Value::Str(value.clone());
        let v = if name == "set-cookie" {
            cx.new_array(vec![v])?
        } else {
            v
        };
        props::define(cx, o, latin1_str(name.as_bytes()), v)?;
    }
    Ok(Value::Obj(o))
}

/// `req.query`: `querystring.parse`'s object, whose prototype is null.
pub fn query_value(cx: &mut Cx, query: Option<&[u16]>) -> JsResult<Value> {
    let o = cx.heap.alloc(Obj::new(ObjKind::Ordinary, None))?;
    if let Some(q) = query {
        cx.burn(q.len() as u64 / 4 + 1)?;
        for (k, v) in parse_querystring(q) {
            let val = match v {
                QVal::One(s) => str_value(cx, &s)?,
                QVal::Many(list) => {
                    let mut items = Vec::with_capacity(list.len());
                    for s in list {
                        items.push(str_value(cx, &s)?);
                    }
                    cx.new_array(items)?
                }
            };
            let k = cx.input_str(&k);
            props::define(cx, o, k, val)?;
        }
    }
    Ok(Value::Obj(o))
}

/// `req.body`.
pub fn body_value(cx: &mut Cx, body: &Body) -> JsResult<Value> {
    match body {
        Body::Undefined => Ok(Value::Undefined),
        Body::Text(t) => str_value(cx, t),
        Body::Json(t) => crate::builtins::json::parse_input(cx, t),
        Body::EmptyObject => cx.new_object(),
        Body::Form(fields) => {
            let obj = cx.new_object()?;
            let o = obj.as_obj().expect("object");
            for (k, v) in fields {
                let v = str_value(cx, v)?;
                props::define(cx, o, JsStr::from_units(k.clone()), v)?;
            }
            Ok(obj)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(s: &str) -> Vec<u16> {
        s.encode_utf16().collect()
    }
    fn show_q(q: &str) -> String {
        let mut fields = parse_querystring(&u(q));
        // Object.keys order: array indices first.
        fields.sort_by_key(|(k, _)| {
            JsStr::from_units(k.clone())
                .as_array_index()
                .map_or(u64::MAX, |i| i as u64)
        });
        let parts: Vec<String> = fields
            .into_iter()
            .map(|(k, v)| {
                let v = match v {
                    QVal::One(s) => format!("{:?}", String::from_utf16_lossy(&s)),
                    QVal::Many(l) => format!(
                        "[{}]",
                        l.iter()
                            .map(|s| format!("{:?}", String::from_utf16_lossy(s)))
                            .collect::<Vec<_>>()
                            .join(",")
                    ),
                };
                format!("{:?}:{}", String::from_utf16_lossy(&k), v)
            })
            .collect();
        format!("{{{}}}", parts.join(","))
    }

    /// The same query strings through node:querystring and through `parse_querystring`.
    #[test]
    fn querystring_matches_node() {
        let cases = [
            "a=1&a=2&b=&c&%zz=%41+b&d=%E2%82%AC",
            "",
            "&&",
            "a",
            "=",
            "=x",
            "a==b",
            "a=b=c&a",
            "%",
            "%4",
            "%41%",
            "x=%FF",
            "x=%ED%A0%80&y=%C0%80",
            "a+b=c+d&a+b=e",
            "k%20=v%2",
            "__proto__=1&constructor=2&1=x&0=y",
            "a=1&&b=2&",
            "%E2%82=1",
            "a=%zz%41",
        ];
        let script = format!(
            "const qs=require('node:querystring');const cases={};for(const c of cases){{const o=qs.parse(c);console.log('{{'+Object.keys(o).map(k=>JSON.stringify(k)+':'+(Array.isArray(o[k])?'['+o[k].map(x=>JSON.stringify(x)).join(',')+']':JSON.stringify(o[k]))).join(',')+'}}')}}",
            serde_like(&cases)
        );
        let out = crate::testkit::node_command()
            .arg("-e")
            .arg(&script)
            .output()
            .expect("run node");
        let node = String::from_utf8(out.stdout).unwrap();
        let node: Vec<&str> = node.lines().collect();
        assert_eq!(
            node.len(),
            cases.len(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        for (c, n) in cases.iter().zip(node) {
            // Rust's {:?} and JSON.stringify agree on these ASCII-or-BMP strings except for escapes of
            // non-ASCII, which both leave as is.
            assert_eq!(
                show_q(c).replace("\\u{fffd}", "\u{fffd}"),
                n,
                "query {:?}",
                c
            );
        }
    }

    fn serde_like(cases: &[&str]) -> String {
        format!(
            "[{}]",
            cases
                .iter()
                .map(|c| format!("{:?}", c))
                .collect::<Vec<_>>()
                .join(",")
        )
    }

    #[test]
    fn forms_follow_qs_for_plain_names() {
        let f = |s: &str| {
            parse_form(&u(s)).map(|v| {
                v.into_iter()
                    .map(|(k, v)| (String::from_utf16_lossy(&k), String::from_utf16_lossy(&v)))
                    .collect::<Vec<_>>()
            })
        };
        assert_eq!(
            f("a=1&b=x+y&c=%zz&d").unwrap(),
            vec![
                ("a".into(), "1".into()),
                ("b".into(), "x y".into()),
                ("c".into(), "%zz".into()),
                ("d".into(), "".into())
            ]
        );
        assert_eq!(
            f("=1&__proto__=2&e=%E2%82%AC").unwrap(),
            vec![("e".to_string(), "€".to_string())]
        );
        assert!(f("a[b]=1").is_err());
        assert!(f("a%5Bb%5D=1").is_err());
        assert!(f("a=1&a=2").is_err());
    }

    #[test]
    fn decode_uri_component_throws_where_javascript_does() {
        assert_eq!(decode_uri_component(&u("%41%42")), Some(u("AB")));
        assert_eq!(decode_uri_component(&u("%E2%82%AC")), Some(u("€")));
        assert_eq!(decode_uri_component(&u("%")), None);
        assert_eq!(decode_uri_component(&u("%4")), None);
        assert_eq!(decode_uri_component(&u("%C0%80")), None);
        assert_eq!(decode_uri_component(&u("%ED%A0%80")), None);
        assert_eq!(decode_uri_component(&u("%E2%82")), None);
        assert_eq!(decode_uri_component(&u("%F0%9F%98%80")), Some(u("😀")));
    }

    #[test]
    fn media_types_follow_media_typer() {
        assert!(media_typer_test("text/plain"));
        assert!(media_typer_test("application/vnd.api+json"));
        assert!(!media_typer_test("text"));
        assert!(!media_typer_test("text/"));
        assert!(!media_typer_test("a/b/c"));
        assert!(!media_typer_test("a.b/c"));
    }
}
