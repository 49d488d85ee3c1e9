//! Express 5's response, as the template uses it: `res.set`, `res.status`, `res.send` (with `res.json`),
//! and what they lean on: mime-types' `contentType`, content-type's `parse`/`format` (through Express's
//! `setCharset`), the weak ETag of the `etag` package, and `fresh` for conditional GET and HEAD.
//!
//! Versions followed (those the JavaScript runner loads): express 5.3.0 (`lib/response.js`,
//! `lib/utils.js`), mime-types 3.0.2 with mime-db 1.54.0, content-type 2.1.0, etag 1.8.1, fresh 2.0.0,
//! and Node's `OutgoingMessage.setHeader` checks. Whatever Express or Node would throw gives up: the
//! template's callback runs inside a promise chain whose error handling we do not reproduce.

use super::names::{js, Name};
use crate::cx::{unsupported, Cx, JsResult};
use crate::heap::ObjKind;
use crate::ops;
use crate::props;
use crate::value::{JsStr, Value};
use std::borrow::Cow;

/// What the dispatcher finally writes: status, header lines in order, body bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResponseParts {
    pub status: u16,
    /// Header names as the program (or Express) spelled them; values as bytes (Latin-1, as Node writes them).
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
}

impl ResponseParts {
    /// The value of header `name` (any case), the lines joined with ", ".
    pub fn header(&self, name: &str) -> Option<String> {
        let vals: Vec<String> = self
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.iter().map(|&b| b as char).collect())
            .collect();
        if vals.is_empty() {
            None
        } else {
            Some(vals.join(", "))
        }
    }
}

/// What `res.send` needs to know about the request: the method (HEAD, `req.fresh`) and the conditional
/// request headers, as Node's `req.headers` holds them (Latin-1 strings).
#[derive(Clone, Debug, Default)]
pub struct ReqFacts {
    pub method: &'static str,
    pub if_none_match: Option<JsStr>,
    pub if_modified_since: Option<JsStr>,
    pub cache_control: Option<JsStr>,
}

/// A header value as Node stores it after `res.set`: a string, an array of strings, or `false` (what
/// mime-types' `contentType` returns for an empty Content-Type). `Ascii` is a string Express itself
/// computed (Content-Length, ETag), kept as the bytes it is written as.
#[derive(Clone, Debug, PartialEq)]
pub enum HeaderVal {
    Str(JsStr),
    Ascii(String),
    List(Vec<JsStr>),
    False,
}

impl HeaderVal {
    fn truthy(&self) -> bool {
        match self {
            HeaderVal::Str(s) => !s.is_empty(),
            HeaderVal::Ascii(s) => !s.is_empty(),
            HeaderVal::List(_) => true,
            HeaderVal::False => false,
        }
    }
}

/// Headers that Node or the HTTP layer treat specially; a program that sets one gives up.
const RESERVED: &[&str] = &[
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "upgrade",
    "trailer",
    "te",
    "date",
    "expect",
    "proxy-connection",
    "x-duration-seconds",
];

/// Express's `res` for one request: status and the header map (`kOutHeaders`: lower-case name -> name as
/// set, value; a later set of the same name keeps the first one's position). A response has a handful of
/// headers, so the map is a list searched in order (no hashing per request).
#[derive(Clone, Debug)]
pub struct Res {
    pub status: u16,
    headers: Vec<(Cow<'static, str>, Header)>,
}

/// A response header: its name as set, and its value.
type Header = (Cow<'static, str>, HeaderVal);

impl Default for Res {
    fn default() -> Res {
        Res {
            status: 200,
            headers: Vec::new(),
        }
    }
}

fn is_tchar(c: u16) -> bool {
    matches!(c, 0x21 | 0x23..=0x27 | 0x2A | 0x2B | 0x2D | 0x2E | 0x30..=0x39 | 0x41..=0x5A | 0x5E..=0x7A | 0x7C | 0x7E)
}

fn is_token(s: &[u16]) -> bool {
    !s.is_empty() && s.iter().all(|&c| is_tchar(c))
}

/// Node's `checkInvalidHeaderChar`: only HTAB, visible ASCII, SP and obs-text (0x80-0xFF).
fn valid_header_chars(s: &[u16]) -> bool {
    s.iter()
        .all(|&c| c == 0x09 || (0x20..=0x7e).contains(&c) || (0x80..=0xff).contains(&c))
}

fn ascii_lower(s: &[u16]) -> Option<String> {
    if s.iter().any(|&c| c >= 0x80) {
        return None;
    }
    Some(
        s.iter()
            .map(|&c| (c as u8).to_ascii_lowercase() as char)
            .collect(),
    )
}

fn units(s: &str) -> Vec<u16> {
    s.encode_utf16().collect()
}

impl Res {
    /// `res.get(name)` (Node's `getHeader`).
    pub fn get(&self, name: &str) -> Option<&HeaderVal> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, (_, v))| v)
    }

    /// Sets `lower` to (`display`, `value`): in place when it is set already, else last.
    fn insert(&mut self, lower: Cow<'static, str>, display: Cow<'static, str>, value: HeaderVal) {
        match self.headers.iter_mut().find(|(k, _)| *k == lower) {
            Some((_, slot)) => *slot = (display, value),
            None => self.headers.push((lower, (display, value))),
        }
    }

    /// Node's `OutgoingMessage.setHeader(name, value)`.
    fn set_header(&mut self, name: &[u16], value: HeaderVal) -> JsResult<()> {
        if !is_token(name) {
            return unsupported(
                "a response header name that is not a token (Node throws ERR_INVALID_HTTP_TOKEN)",
            );
        }
        let ok = match &value {
            HeaderVal::Str(s) => valid_header_chars(s.units()),
            HeaderVal::Ascii(s) => s.bytes().all(|c| c == b'\t' || (0x20..=0x7e).contains(&c)),
            HeaderVal::List(l) => l.iter().all(|s| valid_header_chars(s.units())),
            HeaderVal::False => true,
        };
        if !ok {
            return unsupported(
                "a response header value with a character Node refuses (ERR_INVALID_CHAR)",
            );
        }
        let display: String = name.iter().map(|&c| c as u8 as char).collect();
        let lower = display.to_ascii_lowercase();
        self.insert(lower.into(), display.into(), value);
        Ok(())
    }

    /// Sets a header Express itself names and computes (Content-Length, ETag), not the program: `lower` is
    /// `display` lower-cased, `value` ASCII.
    fn set_own(&mut self, lower: &'static str, display: &'static str, value: String) {
        self.insert(lower.into(), display.into(), HeaderVal::Ascii(value));
    }

    /// `this.set('Content-Type', value)` for a string Express itself passes (`set` above with that field):
    /// mime-types' `contentType`, Node's checks, then the header set.
    fn set_content_type(&mut self, value: JsStr) -> JsResult<()> {
        let value = if value.eq_str(super::names::text(Name::TextHtmlUtf8))
            || value.eq_str(super::names::text(Name::ApplicationJsonUtf8))
        {
            // Already says its charset: contentType leaves it as it is.
            HeaderVal::Str(value)
        } else {
            mime_content_type(&value)?
        };
        if let HeaderVal::Str(s) = &value {
            if !valid_header_chars(s.units()) {
                return unsupported(
                    "a response header value with a character Node refuses (ERR_INVALID_CHAR)",
                );
            }
        }
        self.insert("content-type".into(), "Content-Type".into(), value);
        Ok(())
    }

    /// `this.set('Content-Type', 'text/html')` (`res.send` of a string) and `'application/json'`
    /// (`res.json`): what `contentType` makes of them, `<type>; charset=utf-8`.
    fn set_default_type(&mut self, json: bool) {
        let value = js(if json {
            Name::ApplicationJsonUtf8
        } else {
            Name::TextHtmlUtf8
        });
        self.insert(
            "content-type".into(),
            "Content-Type".into(),
            HeaderVal::Str(value),
        );
    }

    fn remove(&mut self, name: &str) {
        self.headers.retain(|(k, _)| k != name);
    }

    /// `res.set(field, val)` with two arguments (express `res.header`).
    pub fn set(&mut self, cx: &mut Cx, field: &JsStr, val: &Value) -> JsResult<()> {
        let mut value = match array_items(cx, val)? {
            Some(items) => {
                let mut out = Vec::with_capacity(items.len());
                for v in items {
                    out.push(ops::to_string(cx, &v)?);
                }
                HeaderVal::List(out)
            }
            None => HeaderVal::Str(ops::to_string(cx, val)?),
        };
        let lower = match ascii_lower(field.units()) {
            Some(l) => l,
            None => return unsupported("a response header name outside ASCII"),
        };
        if RESERVED.contains(&lower.as_str()) {
            return unsupported(
                "a response header that Node's HTTP layer manages (Content-Length, Connection...)",
            );
        }
        if lower == "content-type" {
            value = match value {
                HeaderVal::List(_) => {
                    return unsupported("Content-Type set to an array (Express throws)")
                }
                HeaderVal::Str(s) => mime_content_type(&s)?,
                // `set` makes strings (`Str`) only.
                v @ (HeaderVal::Ascii(_) | HeaderVal::False) => v,
            };
        }
        self.set_header(field.units(), value)
    }

    /// `res.set(obj)` with one argument: `for (var key in field) this.set(key, field[key])`.
    pub fn set_all(&mut self, cx: &mut Cx, field: &Value) -> JsResult<()> {
        let keys = props::for_in_keys(cx, field)?;
        for k in keys {
            let v = props::get(cx, field, k.units())?;
            self.set(cx, &k, &v)?;
        }
        Ok(())
    }

    /// `res.status(code)`: an integer in 100..999 (Express 5 throws otherwise). Informational codes give
    /// up as well: Node would send them as a final status, which the HTTP layer here cannot.
    pub fn set_status(&mut self, code: &Value) -> JsResult<()> {
        match code {
            Value::Num(n) if n.fract() == 0.0 && (200.0..=999.0).contains(n) => {
                self.status = *n as u16;
                Ok(())
            }
            Value::Num(n) if n.fract() == 0.0 && (100.0..200.0).contains(n) => {
                unsupported("an informational (1xx) status as the answer")
            }
            _ => unsupported("a status that is not an integer in 100..999 (Express 5 throws)"),
        }
    }

    /// `res.send(body)` (express 5.3.0 `lib/response.js`), ending the response.
    pub fn send(mut self, cx: &mut Cx, req: &ReqFacts, body: &Value) -> JsResult<ResponseParts> {
        let chunk: Option<JsStr> = match body {
            Value::Str(s) => {
                match self.get("content-type").cloned() {
                    Some(HeaderVal::Str(t)) => {
                        let v = set_charset(&t)?;
                        self.set_content_type(v)?;
                    }
                    _ => self.set_default_type(false),
                }
                Some(s.clone())
            }
            Value::Null => Some(JsStr::empty()),
            Value::Bool(_) | Value::Num(_) => return self.json(cx, req, body),
            Value::Obj(o) => {
                if matches!(
                    cx.heap.kind(*o),
                    ObjKind::Function(_) | ObjKind::Native(_) | ObjKind::Bound(_)
                ) {
                    return unsupported("res.send of a function (Node throws from Buffer.from)");
                }
                return self.json(cx, req, body);
            }
            Value::Undefined | Value::Hole => None,
        };
        let generate_etag = !self.get("etag").is_some_and(|v| v.truthy());
        let bytes: Option<Vec<u8>> = chunk.map(|s| s.to_rust_string().into_bytes());
        if let Some(b) = &bytes {
            cx.heap.charge(b.len())?;
            self.set_own("content-length", "Content-Length", b.len().to_string());
            if generate_etag {
                self.set_own("etag", "ETag", weak_etag_of(b));
            }
        }
        if self.fresh(req)? {
            self.status = 304;
        }
        let mut body = bytes.unwrap_or_default();
        if self.status == 204 || self.status == 304 {
            self.remove("content-type");
            self.remove("content-length");
            self.remove("transfer-encoding");
            body.clear();
        }
        if self.status == 205 {
            self.set_own("content-length", "Content-Length", "0".to_string());
            self.remove("transfer-encoding");
            body.clear();
        }
        if req.method == "HEAD" {
            body.clear();
        }
        Ok(self.finish(body))
    }

    /// `res.json(obj)`: `JSON.stringify(obj)`, `application/json` unless a Content-Type is set, then send.
    fn json(mut self, cx: &mut Cx, req: &ReqFacts, obj: &Value) -> JsResult<ResponseParts> {
        let body = match crate::builtins::json::stringify_value(cx, obj)? {
            Some(s) => Value::Str(s),
            None => Value::Undefined,
        };
        if !self.get("content-type").is_some_and(|v| v.truthy()) {
            self.set_default_type(true);
        }
        self.send(cx, req, &body)
    }

    /// `req.fresh` (express `lib/request.js` with fresh 2.0.0), against this response's headers.
    fn fresh(&self, req: &ReqFacts) -> JsResult<bool> {
        if req.method != "GET" && req.method != "HEAD" {
            return Ok(false);
        }
        if !((200..300).contains(&self.status) || self.status == 304) {
            return Ok(false);
        }
        let modified_since = req.if_modified_since.as_ref().filter(|s| !s.is_empty());
        let none_match = req.if_none_match.as_ref().filter(|s| !s.is_empty());
        if modified_since.is_none() && none_match.is_none() {
            return Ok(false);
        }
        if let Some(cc) = &req.cache_control {
            if !cc.is_empty() && has_no_cache(cc.units()) {
                return Ok(false);
            }
        }
        if let Some(nm) = none_match {
            if nm.eq_str("*") {
                return Ok(true);
            }
            let etag = match self.get("etag") {
                None | Some(HeaderVal::False) => return Ok(false),
                Some(HeaderVal::Str(s)) if s.is_empty() => return Ok(false),
                Some(HeaderVal::Str(s)) => s.clone(),
                Some(HeaderVal::Ascii(s)) if s.is_empty() => return Ok(false),
                Some(HeaderVal::Ascii(s)) => JsStr::from(s.as_str()),
                Some(HeaderVal::List(_)) => {
                    return unsupported("If-None-Match against an ETag set to an array")
                }
            };
            let weak: Vec<u16> = units("W/");
            for m in parse_token_list(nm.units()) {
                let m_w: Vec<u16> = weak.iter().chain(m.iter()).copied().collect();
                let e_w: Vec<u16> = weak.iter().chain(etag.units().iter()).copied().collect();
                if m == etag.units() || m == e_w || m_w == etag.units() {
                    return Ok(true);
                }
            }
            return Ok(false);
        }
        // If-Modified-Since alone: stale unless the response has a Last-Modified, which needs Date.parse.
        match self.get("last-modified") {
            None | Some(HeaderVal::False) => Ok(false),
            Some(HeaderVal::Str(s)) if s.is_empty() => Ok(false),
            Some(HeaderVal::Ascii(s)) if s.is_empty() => Ok(false),
            Some(_) => unsupported(
                "If-Modified-Since against a Last-Modified response header (Date.parse)",
            ),
        }
    }

    /// The header lines as Node writes them: an array gives one line per element.
    fn finish(self, body: Vec<u8>) -> ResponseParts {
        let mut headers = Vec::new();
        for (_, (name, v)) in self.headers {
            let name = name.into_owned();
            match v {
                HeaderVal::Str(s) => headers.push((name, latin1(&s))),
                HeaderVal::Ascii(s) => headers.push((name, s.into_bytes())),
                HeaderVal::List(l) => {
                    for s in l {
                        headers.push((name.clone(), latin1(&s)));
                    }
                }
                HeaderVal::False => headers.push((name, b"false".to_vec())),
            }
        }
        ResponseParts {
            status: self.status,
            headers,
            body,
        }
    }
}

fn latin1(s: &JsStr) -> Vec<u8> {
    s.units().iter().map(|&c| c as u8).collect()
}

/// The items of `v` when `Array.isArray(v)`; holes give up (`map` would keep them as holes).
fn array_items(cx: &Cx, v: &Value) -> JsResult<Option<Vec<Value>>> {
    if let Value::Obj(o) = v {
        if let ObjKind::Array(items) = cx.heap.kind(*o) {
            if items.iter().any(|x| matches!(x, Value::Hole)) {
                return unsupported("a response header set to an array with holes");
            }
            return Ok(Some(items.clone()));
        }
    }
    Ok(None)
}

/// fresh's `CACHE_CONTROL_NO_CACHE_REGEXP` `/(?:^|,)\s*?no-cache\s*?(?:,|$)/`.
fn has_no_cache(s: &[u16]) -> bool {
    let pat = units("no-cache");
    let n = s.len();
    // `(?:^|,)`: the start of the string, or just after any comma.
    let starts = std::iter::once(0).chain(
        s.iter()
            .enumerate()
            .filter(|(_, &c)| c == b',' as u16)
            .map(|(i, _)| i + 1),
    );
    for st in starts {
        let mut i = st;
        loop {
            if s[i..].starts_with(&pat) {
                let mut j = i + pat.len();
                while j < n && is_js_space(s[j]) {
                    j += 1;
                }
                if j == n || s[j] == b',' as u16 {
                    return true;
                }
            }
            if i < n && is_js_space(s[i]) {
                i += 1;
            } else {
                break;
            }
        }
    }
    false
}

/// fresh's `parseTokenList`.
fn parse_token_list(s: &[u16]) -> Vec<Vec<u16>> {
    let mut list = Vec::new();
    let (mut start, mut end) = (0usize, 0usize);
    for (i, &c) in s.iter().enumerate() {
        match c {
            0x20 => {
                if start == end {
                    start = i + 1;
                    end = i + 1;
                }
            }
            0x2c => {
                list.push(s[start..end.max(start)].to_vec());
                start = i + 1;
                end = i + 1;
            }
            _ => end = i + 1,
        }
    }
    list.push(s[start..end.max(start)].to_vec());
    list
}

/// JavaScript's `\s` (WhiteSpace and LineTerminator).
pub fn is_js_space(c: u16) -> bool {
    matches!(
        c,
        0x09 | 0x0A | 0x0B | 0x0C | 0x0D | 0x20 | 0xA0 | 0x1680 | 0x2000
            ..=0x200A | 0x2028 | 0x2029 | 0x202F | 0x205F | 0x3000 | 0xFEFF
    )
}

/// mime-db 1.54.0 entries that carry a charset (what mime-types' `charset()` finds there).
const DB_CHARSETS: &[(&str, &str)] = &[
    ("application/3gpdash-qoe-report+xml", "UTF-8"),
    ("application/beep+xml", "UTF-8"),
    ("application/cda+xml", "UTF-8"),
    ("application/elm+json", "UTF-8"),
    ("application/emergencycalldata.cap+xml", "UTF-8"),
    ("application/fhir+json", "UTF-8"),
    ("application/fhir+xml", "UTF-8"),
    ("application/hl7v2+xml", "UTF-8"),
    ("application/im-iscomposing+xml", "UTF-8"),
    ("application/javascript", "UTF-8"),
    ("application/json", "UTF-8"),
    ("application/manifest+json", "UTF-8"),
    ("application/msc-ivr+xml", "UTF-8"),
    ("application/msc-mixer+xml", "UTF-8"),
    ("application/news-checkgroups", "US-ASCII"),
    ("application/news-groupinfo", "US-ASCII"),
    ("application/pidf+xml", "UTF-8"),
    ("application/pidf-diff+xml", "UTF-8"),
    ("application/poc-settings+xml", "UTF-8"),
    ("application/prs.cyn", "7-BIT"),
    ("application/vnd.fdsn.stationxml+xml", "XML-BASED"),
    ("application/vnd.omads-email+xml", "UTF-8"),
    ("application/vnd.omads-file+xml", "UTF-8"),
    ("application/vnd.omads-folder+xml", "UTF-8"),
    ("application/vnd.syncml+xml", "UTF-8"),
    ("application/vnd.syncml.dm+wbxml", "UTF-8"),
    ("application/vnd.syncml.dm+xml", "UTF-8"),
    ("application/vnd.syncml.dmddf+xml", "UTF-8"),
    ("application/vnd.syncml.dmtnds+xml", "UTF-8"),
    ("application/vnd.wap.wbxml", "UTF-8"),
    ("text/css", "UTF-8"),
    ("text/javascript", "UTF-8"),
    ("text/n3", "UTF-8"),
    ("text/parameters", "UTF-8"),
    ("text/provenance-notation", "UTF-8"),
    ("text/turtle", "UTF-8"),
    ("text/vnd.debian.copyright", "UTF-8"),
    ("text/vnd.esmertec.theme-descriptor", "UTF-8"),
    ("text/vnd.sun.j2me.app-descriptor", "UTF-8"),
    ("text/vnd.trolltech.linguist", "UTF-8"),
    ("text/vtt", "UTF-8"),
];

/// mime-types' `charset(type)`, lower-cased; `None` for `false`.
fn mime_charset(s: &[u16]) -> JsResult<Option<String>> {
    // EXTRACT_TYPE_REGEXP /^\s*([^;\s]*)(?:;|\s|$)/
    let mut i = 0;
    while i < s.len() && is_js_space(s[i]) {
        i += 1;
    }
    let start = i;
    while i < s.len() && s[i] != b';' as u16 && !is_js_space(s[i]) {
        i += 1;
    }
    let lower = match ascii_lower(&s[start..i]) {
        Some(l) => l,
        None => return unsupported("a Content-Type outside ASCII (mime-types lower-cases it)"),
    };
    if let Some((_, cs)) = DB_CHARSETS.iter().find(|(t, _)| *t == lower) {
        return Ok(Some(cs.to_ascii_lowercase()));
    }
    if lower.starts_with("text/") {
        return Ok(Some("utf-8".to_string()));
    }
    Ok(None)
}

/// mime-types' `contentType(str)`: a charset appended when the type has a default one and the string does
/// not say `charset`; `false` for an empty string. Extensions (no `/`) would need the whole mime database.
pub fn mime_content_type(s: &JsStr) -> JsResult<HeaderVal> {
    if s.is_empty() {
        return Ok(HeaderVal::False);
    }
    let u = s.units();
    if !u.contains(&(b'/' as u16)) {
        return unsupported("a Content-Type given as a file extension (mime-types looks it up)");
    }
    let charset_word = units("charset");
    if u.windows(charset_word.len())
        .any(|w| w == charset_word.as_slice())
    {
        return Ok(HeaderVal::Str(s.clone()));
    }
    match mime_charset(u)? {
        Some(cs) => {
            let mut v = u.to_vec();
            v.extend(units("; charset="));
            v.extend(units(&cs));
            Ok(HeaderVal::Str(JsStr::from_units(v)))
        }
        None => Ok(HeaderVal::Str(s.clone())),
    }
}

/// A parsed Content-Type (content-type 2.1.0 `parse`): the type lower-cased, parameters with lower-cased
/// names (first occurrence wins) in insertion order.
#[derive(Clone, Debug, PartialEq)]
pub struct MediaType {
    pub type_: Vec<u16>,
    pub params: Vec<(Vec<u16>, Vec<u16>)>,
}

const SP: u16 = 32;
const HTAB: u16 = 9;
const SEMI: u16 = 59;
const EQ: u16 = 61;
const DQUOTE: u16 = 34;
const BSLASH: u16 = 92;

fn skip_ows(s: &[u16], mut i: usize) -> usize {
    while i < s.len() && (s[i] == SP || s[i] == HTAB) {
        i += 1;
    }
    i
}
fn skip_value(s: &[u16], mut i: usize) -> usize {
    while i < s.len() && s[i] != SEMI {
        i += 1;
    }
    i
}
fn trailing_ows(s: &[u16], start: usize, mut end: usize) -> usize {
    while end > start && (s[end - 1] == SP || s[end - 1] == HTAB) {
        end -= 1;
    }
    end
}

/// JavaScript's `toLowerCase` where the text is ASCII; `None` otherwise (the callers give up or treat it
/// as no match, as appropriate).
fn lower_units(s: &[u16]) -> Option<Vec<u16>> {
    if s.iter().any(|&c| c >= 0x80) {
        return None;
    }
    Some(
        s.iter()
            .map(|&c| if (65..=90).contains(&c) { c + 32 } else { c })
            .collect(),
    )
}

/// content-type's `parse(header)`. Gives up when the type or a parameter name is not ASCII (its
/// `toLowerCase` is Unicode-aware).
pub fn parse_content_type(s: &[u16]) -> JsResult<MediaType> {
    let len = s.len();
    let mut index = skip_ows(s, 0);
    let value_start = index;
    index = skip_value(s, index);
    let value_end = trailing_ows(s, value_start, index);
    let type_ = match lower_units(&s[value_start..value_end]) {
        Some(t) => t,
        None => return unsupported("a media type outside ASCII"),
    };
    let mut params: Vec<(Vec<u16>, Vec<u16>)> = Vec::new();
    'parameter: while index < len {
        index = skip_ows(s, index + 1);
        let key_start = index;
        while index < len {
            let code = s[index];
            if code == SEMI {
                continue 'parameter;
            }
            if code == EQ {
                let key_end = trailing_ows(s, key_start, index);
                let key = match lower_units(&s[key_start..key_end]) {
                    Some(k) => k,
                    None => return unsupported("a media type parameter name outside ASCII"),
                };
                index = skip_ows(s, index + 1);
                if index < len && s[index] == DQUOTE {
                    index += 1;
                    let mut value: Vec<u16> = Vec::new();
                    while index < len {
                        let code = s[index];
                        index += 1;
                        if code == DQUOTE {
                            index = skip_value(s, index);
                            if !params.iter().any(|(k, _)| *k == key) {
                                params.push((key, value));
                            }
                            break;
                        }
                        if code == BSLASH && index < len {
                            value.push(s[index]);
                            index += 1;
                            continue;
                        }
                        value.push(code);
                    }
                    continue 'parameter;
                }
                let vstart = index;
                index = skip_value(s, index);
                if !params.iter().any(|(k, _)| *k == key) {
                    let vend = trailing_ows(s, vstart, index);
                    params.push((key, s[vstart..vend].to_vec()));
                }
                continue 'parameter;
            }
            index += 1;
        }
    }
    Ok(MediaType { type_, params })
}

fn is_type_token(s: &[u16]) -> bool {
    // TYPE_REGEXP /^[token]+\/[token]+$/
    match s.iter().position(|&c| c == b'/' as u16) {
        Some(p) => is_token(&s[..p]) && is_token(&s[p + 1..]),
        None => false,
    }
}

/// content-type's `format`: parameters in `Object.keys` order (array-index names first).
pub fn format_content_type(m: &MediaType) -> JsResult<Vec<u16>> {
    if m.type_.is_empty() || !is_type_token(&m.type_) {
        return unsupported("content-type's format throws on an invalid type");
    }
    let mut out = m.type_.clone();
    let index_of = |k: &[u16]| JsStr::from_units(k.to_vec()).as_array_index();
    let mut order: Vec<usize> = (0..m.params.len())
        .filter(|&i| index_of(&m.params[i].0).is_some())
        .collect();
    order.sort_by_key(|&i| index_of(&m.params[i].0));
    order.extend((0..m.params.len()).filter(|&i| index_of(&m.params[i].0).is_none()));
    for i in order {
        let (k, v) = &m.params[i];
        if !is_token(k) {
            return unsupported("content-type's format throws on an invalid parameter name");
        }
        out.extend(units("; "));
        out.extend_from_slice(k);
        out.push(EQ);
        if is_token(v) {
            out.extend_from_slice(v);
        } else if valid_header_chars(v) {
            out.push(DQUOTE);
            for &c in v {
                if c == BSLASH || c == DQUOTE {
                    out.push(BSLASH);
                }
                out.push(c);
            }
            out.push(DQUOTE);
        } else {
            return unsupported("content-type's format throws on an invalid parameter value");
        }
    }
    Ok(out)
}

/// Express's `setCharset(type, 'utf-8')` for a non-empty type.
fn set_charset(t: &JsStr) -> JsResult<JsStr> {
    // What `res.send` finds after `res.json` or a string sent before: parsed and formatted again, the
    // same text.
    if t.eq_str(super::names::text(Name::TextHtmlUtf8))
        || t.eq_str(super::names::text(Name::ApplicationJsonUtf8))
    {
        return Ok(t.clone());
    }
    let mut m = parse_content_type(t.units())?;
    let key = units("charset");
    match m.params.iter_mut().find(|(k, _)| *k == key) {
        Some((_, v)) => *v = units("utf-8"),
        None => m.params.push((key, units("utf-8"))),
    }
    Ok(JsStr::from_units(format_content_type(&m)?))
}

/// Bodies up to this size are remembered with their tag (`weak_etag_of`).
const ETAG_MEMO_MAX: usize = 16 << 10;

thread_local! {
    /// The last body this thread tagged, and its tag.
    static ETAG_MEMO: std::cell::RefCell<(Vec<u8>, String)> = const {
        std::cell::RefCell::new((Vec::new(), String::new()))
    };
}

/// `weak_etag(body)`, remembering the last body (up to `ETAG_MEMO_MAX` bytes) and its tag on this thread: a
/// function that answers the same body again gets its tag after a comparison of the bytes, not a SHA-1.
fn weak_etag_of(body: &[u8]) -> String {
    if body.is_empty() || body.len() > ETAG_MEMO_MAX {
        return weak_etag(body);
    }
    ETAG_MEMO.with(|m| {
        let mut m = m.borrow_mut();
        if m.0 != body {
            let tag = weak_etag(body);
            m.0.clear();
            m.0.extend_from_slice(body);
            m.1 = tag;
        }
        m.1.clone()
    })
}

/// The `etag` package's weak tag of a body: `W/"<length hex>-<base64 sha1, 27 chars>"`.
pub fn weak_etag(body: &[u8]) -> String {
    if body.is_empty() {
        return "W/\"0-2jmj7l5rSw0yVb/vlWAYkK/YBwk\"".to_string();
    }
    // The sha1 crate uses the CPU's SHA extensions where it has them: a rendered page is hashed whole.
    let digest: [u8; 20] = <sha1::Sha1 as sha1::Digest>::digest(body).into();
    let mut out = String::with_capacity(48);
    out.push_str("W/\"");
    {
        use std::fmt::Write;
        let _ = write!(out, "{:x}", body.len());
    }
    out.push('-');
    base64_into(&digest, &mut out);
    // 20 bytes make 28 characters, the last one padding: the package keeps 27.
    out.pop();
    out.push('"');
    out
}

fn base64_into(bytes: &[u8], out: &mut String) {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        out.push(T[(n >> 18) as usize & 63] as char);
        out.push(T[(n >> 12) as usize & 63] as char);
        out.push(if chunk.len() > 1 {
            T[(n >> 6) as usize & 63] as char
        } else {
            '='
        });
        out.push(if chunk.len() > 2 {
            T[n as usize & 63] as char
        } else {
            '='
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(x: &str) -> JsStr {
        JsStr::from(x)
    }

    #[test]
    fn weak_etags_match_the_etag_package() {
        assert_eq!(weak_etag(b"hello"), "W/\"5-qvTGHdzF6KLavt4PO0gs2a6pQ00\"");
        assert_eq!(
            weak_etag(b"{\"a\":1}"),
            "W/\"7-n4nHQM60bXQYySSnisV5QdXpZSA\""
        );
        assert_eq!(weak_etag(b""), "W/\"0-2jmj7l5rSw0yVb/vlWAYkK/YBwk\"");
    }

    #[test]
    fn remembered_etags_are_the_tags_of_the_bodies() {
        let big = vec![b'x'; ETAG_MEMO_MAX + 1];
        for body in [
            &b"hello"[..],
            b"hello",
            b"hellp",
            b"hello",
            b"",
            &big,
            &big[1..],
            &big[1..],
        ] {
            assert_eq!(weak_etag_of(body), weak_etag(body));
        }
    }

    #[test]
    fn content_types_get_charsets_as_mime_types_adds_them() {
        let ct = |x: &str| match mime_content_type(&s(x)).ok().unwrap() {
            HeaderVal::Str(v) => v.to_rust_string(),
            other => format!("{:?}", other),
        };
        assert_eq!(ct("application/json"), "application/json; charset=utf-8");
        assert_eq!(ct("text/html"), "text/html; charset=utf-8");
        assert_eq!(ct("application/xml"), "application/xml");
        assert_eq!(
            ct("TEXT/Plain;Charset=latin1"),
            "TEXT/Plain;Charset=latin1; charset=utf-8"
        );
        assert_eq!(ct("text/plain; charset=x"), "text/plain; charset=x");
        assert_eq!(ct(""), "False");
        assert!(mime_content_type(&s("json")).is_err());
    }

    #[test]
    fn set_charset_parses_and_formats_like_content_type() {
        let f = |x: &str| set_charset(&s(x)).ok().map(|v| v.to_rust_string());
        assert_eq!(
            f("TEXT/Plain;Charset=latin1;a=\"b c\"; charset=utf-8").unwrap(),
            "text/plain; charset=utf-8; a=\"b c\""
        );
        assert_eq!(
            f("text/plain; foo=bar; charset=utf-8").unwrap(),
            "text/plain; foo=bar; charset=utf-8"
        );
        assert_eq!(
            f("application/xml").unwrap(),
            "application/xml; charset=utf-8"
        );
        assert_eq!(
            f("a/b; 2=x; z=\"q\\\"\"; 1=y").unwrap(),
            "a/b; 1=y; 2=x; z=\"q\\\"\"; charset=utf-8"
        );
        assert!(f("nonsense").is_none());
    }

    #[test]
    fn token_lists_and_no_cache_follow_fresh() {
        let l: Vec<String> = parse_token_list(&units(" a, b ,c,, d"))
            .iter()
            .map(|v| String::from_utf16_lossy(v))
            .collect();
        assert_eq!(l, vec!["a", "b", "c", "", "d"]);
        assert!(has_no_cache(&units("no-cache")));
        assert!(has_no_cache(&units("max-age=0, no-cache")));
        assert!(has_no_cache(&units("no-cache ,x")));
        assert!(!has_no_cache(&units("no-cache-x")));
        assert!(!has_no_cache(&units("xno-cache")));
    }
}
