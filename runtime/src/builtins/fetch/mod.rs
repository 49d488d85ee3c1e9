//! `fetch` as Node's undici does it, for `http:` URLs; its `Response` and `Headers` host objects; and
//! `HttpIo`, the host side that sends the requests (hyper), for the dispatcher and tests.
//!
//! `fetch(url, options)` checks its arguments, builds the request undici would send (method, header
//! list in undici's order with its default headers, body), hands it to the host (`cx.io`), and returns a
//! promise of the response (`PromiseState::Pending`); `await` collects the whole response and makes the
//! `Response` object (`response_object`).
//!
//! What gives up: URLs other than `http:` ones already in the form the WHATWG URL parser prints (so that
//! `response.url` and the request line are what undici makes of them); `Request` or `URL` objects;
//! options other than `method`, `headers` and `body`; methods undici does not normalise; bodies other
//! than strings; header names undici treats specially (host, connection, content-length, ...) and header
//! values that are not printable ASCII; responses undici would not hand over as they are (a redirect it
//! would follow, a content encoding it would decode); network errors and timeouts (Node's error and its
//! timing are not reproduced); reading a body twice (a TypeError in Node); `response.body`, `clone()`,
//! `arrayBuffer()`, `blob()`, `formData()`, and iterating `Headers`.
//!
//! Request header names reach the wire in lower case (hyper's `HeaderName`), where undici keeps the case
//! the program gave; servers see the same headers otherwise, in the same order.

use crate::builtins::arg;
use crate::builtins::promise::{new_promise, PromiseState};
use crate::call;
use crate::cx::{engine_error, unsupported, Abort, AbortKind, Cx, JsResult};
use crate::heap::{Obj, ObjKind, Prop, Slots};
use crate::io::{HttpRequest, HttpResponse, Io};
use crate::ops;
use crate::props;
use crate::props::PropHooks;
use crate::realm::Installer;
use crate::value::{JsStr, ObjRef, Value};
use std::collections::HashMap;

crate::builtin!(FETCH, "fetch", 1, fetch);
crate::builtin!(JSON, "Response.prototype.json", 0, response_json);
crate::builtin!(TEXT, "Response.prototype.text", 0, response_text);
crate::builtin!(HEADERS_GET, "Headers.prototype.get", 1, headers_get);
crate::builtin!(HEADERS_HAS, "Headers.prototype.has", 1, headers_has);
crate::builtin!(
    HEADERS_FOR_EACH,
    "Headers.prototype.forEach",
    1,
    headers_for_each
);
crate::builtin!(
    HEADERS_ENTRIES,
    "Headers.prototype.entries",
    0,
    |_, _, _| unsupported("Headers.prototype.entries")
);

/// Installs fetch's builtins into the realm.
pub fn install(r: &mut Installer<'_>) -> Result<(), Abort> {
    let response_proto = r.prototype("Response", r.realm.object_proto)?;
    let headers_proto = r.prototype("Headers", r.realm.object_proto)?;
    r.function("fetch", &FETCH)?;
    r.methods(response_proto, &[("json", &JSON), ("text", &TEXT)])?;
    r.methods(
        headers_proto,
        &[
            ("get", &HEADERS_GET),
            ("has", &HEADERS_HAS),
            ("forEach", &HEADERS_FOR_EACH),
            ("entries", &HEADERS_ENTRIES),
        ],
    )?;
    Ok(())
}

#[derive(Clone, Debug)]
pub struct ResponseData {
    pub resp: HttpResponse,
    pub body_used: bool,
    /// The response's `Headers` object (the same object each time `headers` is read).
    pub headers: Option<ObjRef>,
    /// A response whose status has no body (204, 205, 304): its body is null, so reading it gives ""
    /// and does not use it.
    pub null_body: bool,
}

/// A Response is a host object whose properties are its own fields (see `host_get`); they have no
/// setters.
static RESPONSE_HOOKS: PropHooks = PropHooks {
    get: |cx, o, _, key| host_get(cx, o, key),
    fields: true,
    refuses_write: |cx, o, key| Ok(host_get(cx, o, key)?.is_some()),
};

impl Slots for ResponseData {
    fn is_host(&self) -> bool {
        true
    }
    /// The response is read whole before `fetch` settles, so it holds no I/O: only its `Headers` object.
    fn each_value(&mut self, f: &mut dyn FnMut(&mut Value)) -> Result<(), &'static str> {
        crate::heap::each_opt_ref(&mut self.headers, f);
        Ok(())
    }
    fn hooks(&self) -> Option<&'static PropHooks> {
        Some(&RESPONSE_HOOKS)
    }
}

/// A `Headers` object's slots: its entries, names in lower case, in the order they came.
#[derive(Clone, Debug)]
pub struct HeadersData(pub Vec<(JsStr, JsStr)>);

impl Slots for HeadersData {
    fn is_host(&self) -> bool {
        true
    }
    fn each_value(&mut self, _: &mut dyn FnMut(&mut Value)) -> Result<(), &'static str> {
        Ok(())
    }
}

fn key_is(key: &[u16], s: &str) -> bool {
    key.len() == s.len() && key.iter().zip(s.bytes()).all(|(&a, b)| a == b as u16)
}

/// The properties `Response` objects compute (undici's getters on Response.prototype).
fn host_get(cx: &mut Cx, o: ObjRef, key: &[u16]) -> JsResult<Option<Value>> {
    let Some(data) = cx.heap.kind(o).slots::<ResponseData>() else {
        return Ok(None);
    };
    let r = &data.resp;
    let v = if key_is(key, "status") {
        Value::Num(r.status as f64)
    } else if key_is(key, "ok") {
        Value::Bool((200..=299).contains(&r.status))
    } else if key_is(key, "statusText") {
        Value::str(&r.status_text)
    } else if key_is(key, "url") {
        Value::str(&r.url)
    } else if key_is(key, "redirected") {
        Value::Bool(false)
    } else if key_is(key, "bodyUsed") {
        Value::Bool(data.body_used)
    } else if key_is(key, "type") {
        Value::str("basic")
    } else if key_is(key, "headers") {
        match data.headers {
            Some(h) => Value::Obj(h),
            None => return unsupported("a Response without its Headers"),
        }
    } else if key_is(key, "body") {
        return unsupported("Response.body (a ReadableStream)");
    } else {
        return Ok(None);
    };
    Ok(Some(v))
}

// ---------------------------------------------------------------------------------------------------
// fetch(url, options)

/// Characters a path keeps as they are in the WHATWG URL serialisation of an http: URL.
fn path_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/%".contains(&c)
}

/// Characters a query keeps as they are (the special-query percent-encode set also takes `'`).
fn query_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"-._~!$&()*+,;=:@/?%".contains(&c)
}

/// The URL as undici sends it and reports it in `response.url`, when `url` is an http: URL that the URL
/// parser leaves as it is (but for the fragment, which is dropped, and an empty path, which becomes
/// "/"). Anything else gives up.
fn canonical_url(url: &str) -> JsResult<(String, String)> {
    let giveup = || unsupported("a fetch URL that is not a canonical http: URL");
    let url = url.split('#').next().unwrap_or("");
    let Some(rest) = url.strip_prefix("http://") else {
        return giveup();
    };
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let (host, port) = match authority.split_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (authority, None),
    };
    if host.is_empty()
        || !host
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'.' || c == b'-')
    {
        return giveup();
    }
    let labels: Vec<&str> = host.split('.').collect();
    if labels.iter().any(|l| l.is_empty() || l.starts_with("xn--")) {
        return giveup();
    }
    let last = labels[labels.len() - 1];
    let numeric = last.bytes().all(|c| c.is_ascii_digit()) || last.starts_with("0x");
    if numeric {
        // The IPv4 parser reads it; only the dotted-decimal form it prints is kept as it is.
        let canonical = labels.len() == 4
            && labels.iter().all(|l| {
                l.bytes().all(|c| c.is_ascii_digit())
                    && (l.len() == 1 || !l.starts_with('0'))
                    && l.len() <= 3
                    && l.parse::<u32>().is_ok_and(|n| n <= 255)
            });
        if !canonical {
            return giveup();
        }
    }
    if let Some(p) = port {
        let ok = !p.is_empty()
            && p.len() <= 5
            && p.bytes().all(|c| c.is_ascii_digit())
            && !p.starts_with('0')
            && p.parse::<u32>().is_ok_and(|n| n <= 65535 && n != 80);
        if !ok {
            return giveup();
        }
    }
    let (path, query) = match tail.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (tail, None),
    };
    if !path.bytes().all(path_char)
        || path.split('/').any(|seg| seg == "." || seg == "..")
        || path.to_ascii_lowercase().contains("%2e")
    {
        return giveup();
    }
    if let Some(q) = query {
        if !q.bytes().all(query_char) {
            return giveup();
        }
    }
    let mut out = format!(
        "http://{}{}",
        authority,
        if path.is_empty() { "/" } else { path }
    );
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    Ok((out, authority.to_string()))
}

/// An HTTP token (RFC 9110 §5.6.2): what header names and methods are made of.
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c))
}

/// Header names undici handles itself or refuses; a program that sets one gives up.
const SPECIAL_HEADERS: &[&str] = &[
    "accept-charset",
    "accept-encoding",
    "connection",
    "content-length",
    "cookie2",
    "expect",
    "host",
    "keep-alive",
    "proxy-authorization",
    "proxy-connection",
    "range",
    "set-cookie",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// RequestInit members (other than method, headers and body) that change what undici does.
const UNMODELLED_OPTIONS: &[&str] = &[
    "signal",
    "redirect",
    "cache",
    "credentials",
    "mode",
    "keepalive",
    "integrity",
    "referrer",
    "referrerPolicy",
    "window",
    "duplex",
    "dispatcher",
    "priority",
];

/// A header list being built: names keep the case of their first appearance; a repeated name (in any
/// case) joins its value to the first with ", ", as undici's HeadersList does.
#[derive(Default)]
struct HeaderList(Vec<(String, String)>);

impl HeaderList {
    fn contains(&self, name: &str) -> bool {
        self.0.iter().any(|(n, _)| n.eq_ignore_ascii_case(name))
    }
    fn append(&mut self, name: String, value: String) {
        match self
            .0
            .iter_mut()
            .find(|(n, _)| n.eq_ignore_ascii_case(&name))
        {
            Some((_, v)) => {
                v.push_str(", ");
                v.push_str(&value);
            }
            None => self.0.push((name, value)),
        }
    }
}

/// A header name and value from the program, checked and normalised as undici's Headers does.
fn user_header(list: &mut HeaderList, name: &JsStr, value: &JsStr) -> JsResult<()> {
    let name = name.to_rust_string();
    if !is_token(&name) {
        return engine_error("TypeError: invalid header name");
    }
    if SPECIAL_HEADERS.contains(&name.to_ascii_lowercase().as_str())
        || name.to_ascii_lowercase().starts_with("proxy-")
    {
        return unsupported("a request header undici handles itself");
    }
    let v = value.units();
    let ws = |c: &u16| matches!(c, 0x09 | 0x0A | 0x0D | 0x20);
    let start = v.iter().position(|c| !ws(c)).unwrap_or(v.len());
    let end = v
        .iter()
        .rposition(|c| !ws(c))
        .map(|i| i + 1)
        .unwrap_or(start);
    let v = &v[start..end];
    if v.iter().any(|&c| !(0x20..0x7f).contains(&c) && c != 0x09) {
        return unsupported("a request header value that is not printable ASCII");
    }
    list.append(name, String::from_utf16_lossy(v));
    Ok(())
}

/// A header value given as a primitive (ToString without side effects); objects give up.
fn header_string(cx: &mut Cx, v: &Value) -> JsResult<JsStr> {
    match v {
        Value::Str(_) | Value::Num(_) | Value::Bool(_) | Value::Null | Value::Undefined => {
            ops::to_string(cx, v)
        }
        _ => unsupported("a header given as an object"),
    }
}

/// An object the program passed (options, a headers record) that is plain: its own properties are all
/// data properties and it inherits only from Object.prototype, so reading it runs no code.
fn plain_object(cx: &Cx, o: ObjRef) -> bool {
    let obj = cx.heap.get(o);
    matches!(obj.kind, ObjKind::Ordinary)
        && obj.proto == Some(cx.realm.object_proto)
        && obj.props.values().all(|p| matches!(p, Prop::Data { .. }))
}

fn own_data(cx: &Cx, o: ObjRef, key: &str) -> Value {
    match cx.heap.get(o).props.get(&props::key(key)[..]) {
        Some(Prop::Data { value, .. }) => value.clone(),
        _ => Value::Undefined,
    }
}

fn read_headers(cx: &mut Cx, init: &Value, list: &mut HeaderList) -> JsResult<()> {
    let o = match init {
        Value::Undefined => return Ok(()),
        Value::Obj(o) => *o,
        _ => return unsupported("fetch headers that are not an object"),
    };
    match cx.heap.kind(o) {
        ObjKind::Array(items) => {
            let items = items.clone();
            for item in items {
                let pair = match &item {
                    Value::Obj(p) => match cx.heap.kind(*p) {
                        ObjKind::Array(kv) if kv.len() == 2 => kv.clone(),
                        ObjKind::Array(_) => return engine_error("TypeError: Headers constructor: expected name/value pair to be length 2"),
                        _ => return unsupported("a header pair that is not an array"),
                    },
                    _ => return engine_error("TypeError: Headers constructor: a header pair is not iterable"),
                };
                let name = header_string(cx, &pair[0].clone().unhole())?;
                let value = header_string(cx, &pair[1].clone().unhole())?;
                user_header(list, &name, &value)?;
            }
            Ok(())
        }
        k if k.is::<HeadersData>() => {
            let HeadersData(entries) = k.slots::<HeadersData>().expect("checked");
            for (n, v) in sort_and_combine(entries) {
                user_header(list, &n, &v)?;
            }
            Ok(())
        }
        k if k.is_host() => unsupported("fetch headers given as a host object"),
        _ if plain_object(cx, o) => {
            for k in props::own_enumerable_keys(cx, o) {
                let v = own_data(cx, o, &k.to_rust_string());
                let value = header_string(cx, &v)?;
                user_header(list, &k, &value)?;
            }
            Ok(())
        }
        _ => unsupported("fetch headers given as an object that is not a plain record"),
    }
}

/// `fetch(input, init)`.
fn fetch(cx: &mut Cx, _this: &Value, args: &[Value]) -> JsResult<Value> {
    let url = match arg(args, 0) {
        Value::Str(s) => s.to_rust_string(),
        _ => return unsupported("fetch of something other than a URL string"),
    };
    let (url, authority) = canonical_url(&url)?;
    let options = arg(args, 1);
    let (mut method, mut headers_init, mut body) =
        ("GET".to_string(), Value::Undefined, Value::Undefined);
    match &options {
        Value::Undefined | Value::Null => {}
        Value::Obj(o) if plain_object(cx, *o) => {
            let o = *o;
            for k in UNMODELLED_OPTIONS {
                if !own_data(cx, o, k).is_undefined() {
                    return unsupported("a fetch option that is not modelled");
                }
            }
            match own_data(cx, o, "method") {
                Value::Undefined => {}
                Value::Str(m) => {
                    let m = m.to_rust_string();
                    if !is_token(&m) {
                        return engine_error("TypeError: invalid method");
                    }
                    let upper = m.to_ascii_uppercase();
                    method = match upper.as_str() {
                        "DELETE" | "GET" | "HEAD" | "OPTIONS" | "POST" | "PUT" => upper,
                        "PATCH" if m == "PATCH" => upper,
                        _ => return unsupported("a fetch method undici does not normalise"),
                    };
                }
                _ => return unsupported("a fetch method that is not a string"),
            }
            headers_init = own_data(cx, o, "headers");
            body = own_data(cx, o, "body");
        }
        _ => return unsupported("fetch options that are not a plain object"),
    }
    let mut user = HeaderList::default();
    read_headers(cx, &headers_init, &mut user)?;
    if method == "HEAD" {
        // Its response has a null body, which this module does not track per request.
        return unsupported("fetch with the HEAD method");
    }
    let body: Option<Vec<u8>> = match &body {
        Value::Undefined | Value::Null => None,
        Value::Str(s) => {
            if method == "GET" || method == "HEAD" {
                return engine_error("TypeError: Request with GET/HEAD method cannot have body.");
            }
            if !user.contains("content-type") {
                user.append("content-type".into(), "text/plain;charset=UTF-8".into());
            }
            // A USVString: lone surrogates become U+FFFD, then UTF-8.
            Some(s.to_rust_string().into_bytes())
        }
        _ => return unsupported("a fetch body that is not a string"),
    };
    let mut wire: Vec<(String, String)> = Vec::with_capacity(user.0.len() + 9);
    wire.push(("host".into(), authority));
    wire.push((
        "connection".into(),
        if method == "HEAD" {
            "close"
        } else {
            "keep-alive"
        }
        .into(),
    ));
    for (name, default) in [
        ("accept", "*/*"),
        ("accept-language", "*"),
        ("sec-fetch-mode", "cors"),
        ("user-agent", "node"),
    ] {
        match user
            .0
            .iter_mut()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
        {
            // undici sets the mode whatever the program gave, where the program put it.
            Some((_, v)) if name == "sec-fetch-mode" => *v = default.into(),
            Some(_) => {}
            None => user.0.push((name.into(), default.into())),
        }
    }
    user.0
        .push(("accept-encoding".into(), "gzip, deflate".into()));
    wire.extend(user.0);
    // undici sends a length for every body but an empty one of a method that expects none.
    let expects_payload = matches!(method.as_str(), "POST" | "PUT" | "PATCH");
    let len = body.as_ref().map_or(0, |b| b.len());
    if len > 0 || expects_payload {
        wire.push(("content-length".into(), len.to_string()));
    }
    if let Some(b) = &body {
        cx.heap.charge(b.len())?;
    }
    let req = HttpRequest {
        url,
        method,
        headers: wire,
        body,
        deadline: Some(cx.deadline()),
    };
    let handle = match cx.io.as_mut() {
        Some(io) => io.start_fetch(req)?,
        None => return unsupported("fetch without a host for I/O"),
    };
    if handle == crate::builtins::promise::UNSETTLED {
        return unsupported("the host ran out of I/O handles");
    }
    new_promise(cx, PromiseState::Pending(handle))
}

// ---------------------------------------------------------------------------------------------------
// Response and Headers

/// The `Response` object for a response the host received.
pub fn response_object(cx: &mut Cx, resp: HttpResponse) -> JsResult<Value> {
    let has = |name: &str| {
        resp.headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case(name))
    };
    if matches!(resp.status, 301 | 302 | 303 | 307 | 308) && has("location") {
        return unsupported("a redirect, which fetch would follow");
    }
    if resp.headers.iter().any(|(n, v)| {
        n.eq_ignore_ascii_case("content-encoding") && !v.trim().eq_ignore_ascii_case("identity")
    }) {
        return unsupported("a response with a content encoding, which fetch would decode");
    }
    if !(200..=599).contains(&resp.status) {
        return unsupported("a response status fetch does not hand over");
    }
    let printable = |s: &str| s.chars().all(|c| (' '..='~').contains(&c) || c == '\t');
    if !printable(&resp.status_text)
        || resp
            .headers
            .iter()
            .any(|(n, v)| !printable(n) || !printable(v))
    {
        return unsupported("response headers that are not printable ASCII");
    }
    cx.heap.charge(
        resp.body.len()
            + resp
                .headers
                .iter()
                .map(|(n, v)| n.len() + v.len())
                .sum::<usize>(),
    )?;
    let entries: Vec<(JsStr, JsStr)> = resp
        .headers
        .iter()
        .map(|(n, v)| (JsStr::from(n.to_ascii_lowercase()), JsStr::from(v.as_str())))
        .collect();
    let hp = headers_proto(cx);
    let h = cx
        .heap
        .alloc(Obj::new(ObjKind::builtin(HeadersData(entries)), Some(hp)))?;
    let rp = response_proto(cx);
    let null_body = matches!(resp.status, 204 | 205 | 304);
    let data = ResponseData {
        resp,
        body_used: false,
        headers: Some(h),
        null_body,
    };
    let r = cx.heap.alloc(Obj::new(ObjKind::builtin(data), Some(rp)))?;
    Ok(Value::Obj(r))
}

/// The body of the `Response` `this`, marked used; a second read gives up (Node rejects with a
/// TypeError).
fn take_body(cx: &mut Cx, this: &Value) -> JsResult<Vec<u8>> {
    let o = match this {
        Value::Obj(o) => *o,
        _ => return engine_error("TypeError: Illegal invocation"),
    };
    let used = match cx.heap.kind(o).slots::<ResponseData>() {
        Some(r) if r.null_body => return Ok(Vec::new()),
        Some(r) => r.body_used,
        None => return engine_error("TypeError: Illegal invocation"),
    };
    if used {
        return engine_error("TypeError: Body is unusable: Body has already been read");
    }
    let obj = cx.heap.get_mut(o)?;
    let r = obj.kind.slots_mut::<ResponseData>().expect("checked above");
    r.body_used = true;
    Ok(r.resp.body.clone())
}

/// UTF-8 decode (WHATWG Encoding §4.1): a leading BOM is dropped, malformed sequences become U+FFFD
/// (one per maximal subpart, as Rust's lossy decoding does too).
fn utf8_decode(cx: &mut Cx, bytes: &[u8]) -> JsResult<Vec<u16>> {
    cx.burn(bytes.len() as u64 / 4 + 1)?;
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    // undici decodes with a TextDecoder that drops a BOM too, so a second one vanishes as well.
    if bytes.starts_with(b"\xEF\xBB\xBF") {
        return unsupported("a response body that starts with two byte order marks");
    }
    let units: Vec<u16> = String::from_utf8_lossy(bytes).encode_utf16().collect();
    cx.heap.charge(units.len() * 2)?;
    Ok(units)
}

/// `response.json()`.
fn response_json(cx: &mut Cx, this: &Value, _args: &[Value]) -> JsResult<Value> {
    let body = take_body(cx, this)?;
    let units = utf8_decode(cx, &body)?;
    let v = crate::builtins::json::parse_bytes(cx, &units)?;
    new_promise(cx, PromiseState::Fulfilled(v))
}

/// `response.text()`.
fn response_text(cx: &mut Cx, this: &Value, _args: &[Value]) -> JsResult<Value> {
    let body = take_body(cx, this)?;
    let units = utf8_decode(cx, &body)?;
    let s = Value::Str(JsStr::from_units(units));
    new_promise(cx, PromiseState::Fulfilled(s))
}

fn this_headers(cx: &Cx, this: &Value) -> JsResult<Vec<(JsStr, JsStr)>> {
    if let Value::Obj(o) = this {
        if let Some(HeadersData(entries)) = cx.heap.kind(*o).slots::<HeadersData>() {
            return Ok(entries.clone());
        }
    }
    engine_error("TypeError: Illegal invocation")
}

/// A header name given to `get`/`has`: ToString, checked, in lower case.
fn header_name(cx: &mut Cx, v: &Value) -> JsResult<JsStr> {
    let s = header_string(cx, v)?;
    let text = s.to_rust_string();
    if !is_token(&text) {
        return engine_error("TypeError: Headers.get: invalid header name");
    }
    Ok(JsStr::from(text.to_ascii_lowercase()))
}

/// `headers.get(name)`: every value of the name, joined with ", ", or null.
fn headers_get(cx: &mut Cx, this: &Value, args: &[Value]) -> JsResult<Value> {
    let entries = this_headers(cx, this)?;
    let name = header_name(cx, &arg(args, 0))?;
    let mut out: Option<Vec<u16>> = None;
    for (n, v) in entries.iter().filter(|(n, _)| *n == name) {
        let _ = n;
        match &mut out {
            Some(o) => {
                o.extend_from_slice(&[b',' as u16, b' ' as u16]);
                o.extend_from_slice(v.units());
            }
            None => out = Some(v.units().to_vec()),
        }
    }
    match out {
        Some(u) => cx.new_str(u),
        None => Ok(Value::Null),
    }
}

fn headers_has(cx: &mut Cx, this: &Value, args: &[Value]) -> JsResult<Value> {
    let entries = this_headers(cx, this)?;
    let name = header_name(cx, &arg(args, 0))?;
    Ok(Value::Bool(entries.iter().any(|(n, _)| *n == name)))
}

/// The list `Headers` iterates: names sorted, each name's values joined with ", " except set-cookie,
/// whose values come one by one (Fetch §5.2 "sort and combine").
fn sort_and_combine(entries: &[(JsStr, JsStr)]) -> Vec<(JsStr, JsStr)> {
    let mut names: Vec<&JsStr> = entries.iter().map(|(n, _)| n).collect();
    names.sort();
    names.dedup();
    let mut out = Vec::new();
    for name in names {
        let values = entries.iter().filter(|(n, _)| n == name).map(|(_, v)| v);
        if name.eq_str("set-cookie") {
            out.extend(values.map(|v| (name.clone(), v.clone())));
        } else {
            let mut joined: Vec<u16> = Vec::new();
            for (i, v) in values.enumerate() {
                if i > 0 {
                    joined.extend_from_slice(&[b',' as u16, b' ' as u16]);
                }
                joined.extend_from_slice(v.units());
            }
            out.push((name.clone(), JsStr::from_units(joined)));
        }
    }
    out
}

/// `headers.forEach(callback, thisArg)`: callback(value, name, headers) in sorted order.
fn headers_for_each(cx: &mut Cx, this: &Value, args: &[Value]) -> JsResult<Value> {
    let entries = this_headers(cx, this)?;
    let f = arg(args, 0);
    match &f {
        Value::Obj(o)
            if matches!(
                cx.heap.kind(*o),
                ObjKind::Function(_) | ObjKind::Native(_) | ObjKind::Bound(_)
            ) => {}
        _ => return engine_error("TypeError: Headers.forEach: callback is not a function"),
    }
    let this_arg = arg(args, 1);
    for (n, v) in sort_and_combine(&entries) {
        call::call(
            cx,
            &f,
            this_arg.clone(),
            &[Value::Str(v), Value::Str(n), this.clone()],
        )?;
    }
    Ok(Value::Undefined)
}

// ---------------------------------------------------------------------------------------------------
// HttpIo: the host's outgoing HTTP

type HttpClient = hyper_util::client::legacy::Client<
    hyper_util::client::legacy::connect::HttpConnector,
    http_body_util::Full<bytes::Bytes>,
>;

/// Outgoing HTTP/1.1 (no TLS) for compiled code: each `start_fetch` spawns the request on a tokio
/// runtime, so several are in flight at once; `wait_fetch` blocks the calling thread until one is
/// complete. Call it from a thread outside the runtime's async workers (a blocking-pool thread or a
/// plain thread), never from inside an async task.
pub struct HttpIo {
    handle: tokio::runtime::Handle,
    client: HttpClient,
    inflight: HashMap<u32, tokio::task::JoinHandle<Result<HttpResponse, Abort>>>,
    next: u32,
    /// The largest response body accepted; a larger one gives up.
    pub max_body: usize,
}

impl HttpIo {
    /// A client with its own connection pool; `with_client` shares one between requests.
    pub fn new(handle: tokio::runtime::Handle) -> HttpIo {
        let client = Self::client(&handle);
        HttpIo::with_client(handle, client)
    }

    /// A client for `with_client`: HTTP/1.1, pooled, no Host header of its own (the request carries one).
    pub fn client(handle: &tokio::runtime::Handle) -> HttpClient {
        let _guard = handle.enter();
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .set_host(false)
            .build_http()
    }

    pub fn with_client(handle: tokio::runtime::Handle, client: HttpClient) -> HttpIo {
        HttpIo {
            handle,
            client,
            inflight: HashMap::new(),
            next: 0,
            max_body: 64 << 20,
        }
    }
}

fn io_abort(detail: String) -> Abort {
    Abort::new(AbortKind::Io, 0, detail)
}

async fn send(
    client: HttpClient,
    req: hyper::Request<http_body_util::Full<bytes::Bytes>>,
    url: String,
    max_body: usize,
) -> Result<HttpResponse, Abort> {
    use http_body_util::BodyExt;
    let resp = client
        .request(req)
        .await
        .map_err(|e| io_abort(format!("fetch failed: {}", e)))?;
    let status = resp.status();
    let status_text = match resp.extensions().get::<hyper::ext::ReasonPhrase>() {
        Some(r) => r.as_bytes().iter().map(|&b| b as char).collect(),
        None => status.canonical_reason().unwrap_or("").to_string(),
    };
    let headers = resp
        .headers()
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_string(),
                v.as_bytes().iter().map(|&b| b as char).collect(),
            )
        })
        .collect();
    let body = http_body_util::Limited::new(resp.into_body(), max_body)
        .collect()
        .await
        .map_err(|e| io_abort(format!("reading a fetch response failed: {}", e)))?
        .to_bytes()
        .to_vec();
    Ok(HttpResponse {
        status: status.as_u16(),
        status_text,
        headers,
        body,
        url,
    })
}

impl Io for HttpIo {
    fn start_fetch(&mut self, req: HttpRequest) -> Result<u32, Abort> {
        let method = hyper::Method::from_bytes(req.method.as_bytes())
            .map_err(|_| Abort::new(AbortKind::Unsupported, 0, "a method hyper refuses"))?;
        let mut b = hyper::Request::builder()
            .method(method)
            .uri(req.url.as_str());
        for (n, v) in &req.headers {
            b = b.header(n.as_str(), v.as_str());
        }
        let body = http_body_util::Full::new(bytes::Bytes::from(req.body.unwrap_or_default()));
        let request = b.body(body).map_err(|e| {
            Abort::new(
                AbortKind::Unsupported,
                0,
                format!("a request hyper refuses: {}", e),
            )
        })?;
        let work = send(self.client.clone(), request, req.url, self.max_body);
        let task = match req.deadline {
            Some(d) => {
                let d = tokio::time::Instant::from_std(d);
                self.handle.spawn(async move {
                    match tokio::time::timeout_at(d, work).await {
                        Ok(r) => r,
                        Err(_) => Err(Abort::new(
                            AbortKind::Deadline,
                            0,
                            "the request's deadline passed during fetch",
                        )),
                    }
                })
            }
            None => self.handle.spawn(work),
        };
        if self.next == crate::builtins::promise::UNSETTLED {
            return Err(Abort::new(
                AbortKind::Unsupported,
                0,
                "too many fetches in one request",
            ));
        }
        let h = self.next;
        self.next += 1;
        self.inflight.insert(h, task);
        Ok(h)
    }

    fn wait_fetch(&mut self, handle: u32) -> Result<HttpResponse, Abort> {
        let task = self.inflight.remove(&handle).ok_or_else(|| {
            Abort::new(
                AbortKind::Unsupported,
                0,
                "a fetch handle this host did not start",
            )
        })?;
        match self.handle.block_on(task) {
            Ok(r) => r,
            Err(e) => Err(io_abort(format!("the fetch task failed: {}", e))),
        }
    }
}

/// The realm's Headers.prototype.
fn headers_proto(cx: &Cx) -> ObjRef {
    cx.realm
        .proto("Headers")
        .expect("Headers.prototype is installed")
}

/// The realm's Response.prototype.
fn response_proto(cx: &Cx) -> ObjRef {
    cx.realm
        .proto("Response")
        .expect("Response.prototype is installed")
}

#[cfg(test)]
mod tests;
