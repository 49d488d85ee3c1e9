//! The dispatcher with hand-written programs (what the code generator would emit for two small
//! handlers): requests through `Dispatcher::handle` without a socket, one server on 127.0.0.1, and the
//! same requests through the JavaScript runner (watchdog/runner.ts, started with tsx), whose answers the
//! dispatcher's must equal byte for byte (status, content type, ETag, body) unless it gives up.

use clrt::builtins::openfaas;
use clrt::call;
use clrt::cx::{unknown, Call, Ctl, Cx, JsResult, Program};
use clrt::dispatcher::{Config, Dispatcher, Outcome, RequestParts, ResponseParts};
use clrt::heap::fflags;
use clrt::props;
use clrt::value::{JsStr, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::Arc;

// The runtime's test kit (std only), for the Node these tests start and its version check.
#[allow(dead_code)]
#[path = "../src/testkit/node.rs"]
mod testkit;

fn k(s: &str) -> Vec<u16> {
    s.encode_utf16().collect()
}

fn method_call(cx: &mut Cx, recv: &Value, name: &str, args: &[Value]) -> JsResult<Value> {
    let c = call::method(cx, recv, &k(name))?;
    call::invoke(cx, &c, recv.clone(), args)
}

fn object(cx: &mut Cx, fields: Vec<(&str, Value)>) -> JsResult<Value> {
    let o = cx.new_object()?;
    for (n, v) in fields {
        props::define(cx, o.as_obj().unwrap(), JsStr::from(n), v)?;
    }
    Ok(o)
}

// ---------------------------------------------------------------------------------------------------
// Program 1, an OpenFaaS handler:
//
// module.exports = async (event, context) => {
//   if (event.path === '/echo') return context.status(201).headers({'x-a': '1'}).succeed({echo: event.body, q: event.query});
//   if (event.path === '/throw') throw new Error('boom');
//   if (event.path === '/str') return 'hello';
//   if (event.path === '/fail') return context.fail('bad');
//   if (event.path === '/headers') return event.headers;
//   if (event.path === '/method') return {m: event.method, p: event.path};
//   if (event.path === '/query') return event.query;   // a null-prototype object: Express's res.json
//   return 'other';   // the compiled code gives up here: the trace never took this path (site 7)
// };

const OPENFAAS_JS: &str = r#"module.exports = async (event, context) => {
  if (event.path === '/echo') return context.status(201).headers({'x-a': '1'}).succeed({echo: event.body, q: event.query});
  if (event.path === '/throw') throw new Error('boom');
  if (event.path === '/str') return 'hello';
  if (event.path === '/fail') return context.fail('bad');
  if (event.path === '/headers') return event.headers;
  if (event.path === '/method') return {m: event.method, p: event.path};
  if (event.path === '/query') return event.query;
  return 'other';
};
"#;

fn of_init(cx: &mut Cx, _call: &Call) -> JsResult<Value> {
    call::make_function(cx, 1, None, "", 2, fflags::ARROW | fflags::ASYNC)
}

fn of_handler(cx: &mut Cx, call: &Call) -> JsResult<Value> {
    let event = call.arg(0);
    let context = call.arg(1);
    let path = props::get(cx, &event, &k("path"))?;
    let p = path
        .as_str()
        .map(|s| s.to_rust_string())
        .unwrap_or_default();
    match p.as_str() {
        "/echo" => {
            let r = method_call(cx, &context, "status", &[Value::Num(201.0)])?;
            let h = object(cx, vec![("x-a", Value::str("1"))])?;
            let r = method_call(cx, &r, "headers", &[h])?;
            let body = props::get(cx, &event, &k("body"))?;
            let query = props::get(cx, &event, &k("query"))?;
            let o = object(cx, vec![("echo", body), ("q", query)])?;
            method_call(cx, &r, "succeed", &[o])
        }
        "/throw" => {
            let e = cx.global("Error", 3)?;
            let err = call::construct(cx, &e, &[Value::str("boom")])?;
            Err(Ctl::Throw(err))
        }
        "/str" => Ok(Value::str("hello")),
        "/fail" => method_call(cx, &context, "fail", &[Value::str("bad")]),
        "/headers" => props::get(cx, &event, &k("headers")),
        "/query" => props::get(cx, &event, &k("query")),
        "/method" => {
            let m = props::get(cx, &event, &k("method"))?;
            object(cx, vec![("m", m), ("p", path.clone())])
        }
        _ => unknown(7),
    }
}

static OPENFAAS: Program = Program {
    name: "openfaas-echo",
    funcs: &[of_init, of_handler],
    init: of_init,
    trace_version: 1,
    strings: &[],
    sort_rows: &[],
};

// ---------------------------------------------------------------------------------------------------
// Program 2, a Containerless-API handler: a subset of test/fixtures/runner/cl-api/handler.js, whose other
// paths give up here.

fn cl_api(cx: &mut Cx) -> JsResult<Value> {
    openfaas::require(cx, "containerless")
}

fn cl_init(cx: &mut Cx, _call: &Call) -> JsResult<Value> {
    let api = cl_api(cx)?;
    let listener = call::make_function(cx, 1, None, "", 1, 0)?;
    method_call(cx, &api, "listen", &[listener])?;
    cx.new_object()
}

fn respond(cx: &mut Cx, v: Value) -> JsResult<Value> {
    let api = cl_api(cx)?;
    method_call(cx, &api, "respond", &[v])
}

fn cl_listener(cx: &mut Cx, call: &Call) -> JsResult<Value> {
    let req = call.arg(0);
    let path = props::get(cx, &req, &k("path"))?;
    let p = path
        .as_str()
        .map(|s| s.to_rust_string())
        .unwrap_or_default();
    match p.as_str() {
        "" => respond(cx, Value::str("root")),
        "/echo" => {
            let q = props::get(cx, &req, &k("query"))?;
            let b = props::get(cx, &req, &k("body"))?;
            let o = object(cx, vec![("path", path.clone()), ("query", q), ("body", b)])?;
            respond(cx, o)
        }
        "/array" => {
            let a = cx.new_array(vec![Value::Num(1.0), Value::Num(2.0), Value::Num(3.0)])?;
            respond(cx, a)
        }
        "/empty-array" => {
            let a = cx.new_array(vec![])?;
            respond(cx, a)
        }
        "/number" => respond(cx, Value::Num(7.0)),
        "/undefined" => respond(cx, Value::Undefined),
        "/twice" => {
            respond(cx, Value::str("first"))?;
            respond(cx, Value::str("second"))
        }
        "/get" => {
            let api = cl_api(cx)?;
            let q = props::get(cx, &req, &k("query"))?;
            let url = props::get(cx, &q, &k("url"))?;
            let env = clrt::props::new_scope(cx, 1, None)?;
            clrt::props::scope_set(cx, env, 0, 0, req.clone())?;
            let cb = call::make_function(cx, 3, Some(env), "", 1, 0)?;
            method_call(cx, &api, "get", &[url, cb])
        }
        "/data" => {
            let api = cl_api(cx)?;
            let cb = call::make_function(cx, 2, None, "", 1, 0)?;
            method_call(cx, &api, "get", &[Value::str("data:{\"inline\":true}"), cb])
        }
        "/throw" => {
            let e = cx.global("Error", 3)?;
            let err = call::construct(cx, &e, &[Value::str("listen callback failed")])?;
            Err(Ctl::Throw(err))
        }
        "/never" => Ok(Value::Undefined),
        _ => unknown(9),
    }
}

/// `function (resp) { containerless.respond(resp) }`
fn cl_respond_cb(cx: &mut Cx, call: &Call) -> JsResult<Value> {
    respond(cx, call.arg(0))
}

/// `function (resp) { containerless.respond({ id: req.query.id, got: resp }) }`
fn cl_get_cb(cx: &mut Cx, call: &Call) -> JsResult<Value> {
    let env = call::env_of(cx, call.callee).expect("closure");
    let req = clrt::props::scope_get(cx, env, 0, 0);
    let q = props::get(cx, &req, &k("query"))?;
    let id = props::get(cx, &q, &k("id"))?;
    let o = object(cx, vec![("id", id), ("got", call.arg(0))])?;
    respond(cx, o)
}

static CONTAINERLESS: Program = Program {
    name: "cl-api",
    funcs: &[cl_init, cl_listener, cl_respond_cb, cl_get_cb],
    init: cl_init,
    trace_version: 1,
    strings: &[],
    sort_rows: &[],
};

// ---------------------------------------------------------------------------------------------------
// Helpers

fn req(method: &str, target: &str, headers: &[(&str, &str)], body: &str) -> RequestParts {
    let mut h: Vec<(String, Vec<u8>)> = vec![("host".into(), b"127.0.0.1:8080".to_vec())];
    for (n, v) in headers {
        h.push((n.to_string(), v.as_bytes().to_vec()));
    }
    if !body.is_empty() || method == "POST" || method == "PUT" {
        h.push(("content-length".into(), body.len().to_string().into_bytes()));
    }
    RequestParts {
        method: method.into(),
        target: target.into(),
        headers: h,
        body: body.as_bytes().to_vec(),
    }
}

fn answer(o: Outcome) -> ResponseParts {
    match o {
        Outcome::Answer(r) => r,
        Outcome::Fallback(a) => panic!("gave up: {}", a),
    }
}

fn text(r: &ResponseParts) -> String {
    String::from_utf8(r.body.clone()).unwrap()
}

fn dispatcher(prog: &'static Program) -> Dispatcher {
    Dispatcher::new(prog, Config::default())
}

// ---------------------------------------------------------------------------------------------------
// handle(), OpenFaaS handler

#[test]
fn answers_a_json_body_with_status_headers_and_an_etag() {
    let d = dispatcher(&OPENFAAS);
    let r = answer(d.handle(req(
        "POST",
        "/echo?a=1&a=2&b=x%20y",
        &[("content-type", "application/json")],
        "{\"x\":[1,true,null]}",
    )));
    assert_eq!(r.status, 201);
    assert_eq!(r.header("x-a").as_deref(), Some("1"));
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("text/html; charset=utf-8")
    );
    let body = "{\"echo\":{\"x\":[1,true,null]},\"q\":{\"a\":[\"1\",\"2\"],\"b\":\"x y\"}}";
    assert_eq!(text(&r), body);
    assert_eq!(r.header("content-length"), Some(body.len().to_string()));
    assert_eq!(
        r.header("etag").unwrap(),
        clrt::dispatcher::express::weak_etag(body.as_bytes())
    );
    // Header order as Node writes it: the handler's, then Express's.
    let names: Vec<&str> = r.headers.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, vec!["x-a", "Content-Type", "Content-Length", "ETag"]);
}

#[test]
fn parses_text_bodies_and_treats_a_missing_content_type_as_text() {
    let d = dispatcher(&OPENFAAS);
    let r = answer(d.handle(req(
        "POST",
        "/echo",
        &[("content-type", "text/plain; charset=utf-8")],
        "hi there",
    )));
    assert_eq!(text(&r), "{\"echo\":\"hi there\",\"q\":{}}");
    let r = answer(d.handle(req("PUT", "/echo", &[], "raw")));
    assert_eq!(text(&r), "{\"echo\":\"raw\",\"q\":{}}");
    // No body at all: body-parser leaves req.body undefined.
    let r = answer(d.handle(req("GET", "/echo", &[], "")));
    assert_eq!(text(&r), "{\"q\":{}}");
    // A type no parser takes.
    let r = answer(d.handle(req(
        "POST",
        "/echo",
        &[("content-type", "application/octet-stream")],
        "bytes",
    )));
    assert_eq!(text(&r), "{\"q\":{}}");
    // urlencoded
    let r = answer(d.handle(req(
        "POST",
        "/echo",
        &[("content-type", "application/x-www-form-urlencoded")],
        "a=1&b=x+y",
    )));
    assert_eq!(text(&r), "{\"echo\":{\"a\":\"1\",\"b\":\"x y\"},\"q\":{}}");
}

#[test]
fn the_event_carries_headers_method_and_path_as_node_gives_them() {
    let d = dispatcher(&OPENFAAS);
    let r = answer(d.handle(req(
        "GET",
        "/headers?x=1",
        &[("X-Custom", "v"), ("set-cookie", "a=b")],
        "",
    )));
    assert_eq!(text(&r), "{\"host\":\"127.0.0.1:8080\",\"x-custom\":\"v\",\"set-cookie\":[\"a=b\"],\"content-type\":\"text/plain\"}");
    let r = answer(d.handle(req("DELETE", "/method?q", &[], "")));
    assert_eq!(text(&r), "{\"m\":\"DELETE\",\"p\":\"/method\"}");
}

#[test]
fn a_thrown_error_answers_its_text_with_the_current_status() {
    let d = dispatcher(&OPENFAAS);
    let r = answer(d.handle(req("GET", "/throw", &[], "")));
    assert_eq!(r.status, 200);
    assert_eq!(text(&r), "Error: boom");
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("text/html; charset=utf-8")
    );
    let r = answer(d.handle(req("GET", "/fail", &[], "")));
    assert_eq!(r.status, 500);
    assert_eq!(text(&r), "bad");
}

#[test]
fn strings_are_html_and_head_and_conditional_requests_follow_express() {
    let d = dispatcher(&OPENFAAS);
    let r = answer(d.handle(req("GET", "/str", &[], "")));
    assert_eq!(text(&r), "hello");
    assert_eq!(
        r.header("etag").as_deref(),
        Some("W/\"5-qvTGHdzF6KLavt4PO0gs2a6pQ00\"")
    );
    let r = answer(d.handle(req("HEAD", "/str", &[], "")));
    assert_eq!(r.body, b"");
    assert_eq!(r.header("content-length").as_deref(), Some("5"));
    let r = answer(d.handle(req(
        "GET",
        "/str",
        &[("if-none-match", "W/\"5-qvTGHdzF6KLavt4PO0gs2a6pQ00\"")],
        "",
    )));
    assert_eq!(r.status, 304);
    assert_eq!(r.body, b"");
    assert_eq!(r.header("content-type"), None);
    let r = answer(d.handle(req("POST", "/str", &[("if-none-match", "*")], "")));
    assert_eq!(r.status, 200);
}

#[test]
fn gives_up_with_the_fallback_marker() {
    let d = dispatcher(&OPENFAAS);
    let o = d.handle(req("GET", "/other", &[], ""));
    assert!(o.is_fallback());
    let m = o.into_response();
    assert_eq!(m.status, 503);
    assert_eq!(
        m.header("x-containerless-fallback").as_deref(),
        Some("unknown")
    );
    assert_eq!(m.header("x-containerless-site").as_deref(), Some("7"));
    assert_eq!(text(&m), "path not traced");
    // body-parser would answer 400 for bad JSON, or for JSON that is not an object or array.
    for body in ["{bad", "\"str\"", "   "] {
        let o = d.handle(req(
            "POST",
            "/echo",
            &[("content-type", "application/json")],
            body,
        ));
        assert!(o.is_fallback(), "{:?}", body);
    }
    // Duplicate headers, nested form fields, a compressed body, RAW_BODY.
    let mut r = req("GET", "/echo", &[("x-a", "1")], "");
    r.headers.push(("X-A".into(), b"2".to_vec()));
    assert!(d.handle(r).is_fallback());
    assert!(d
        .handle(req(
            "POST",
            "/echo",
            &[("content-type", "application/x-www-form-urlencoded")],
            "a[b]=1"
        ))
        .is_fallback());
    assert!(d
        .handle(req(
            "POST",
            "/echo",
            &[("content-type", "text/plain"), ("content-encoding", "gzip")],
            "x"
        ))
        .is_fallback());
    let raw = Dispatcher::new(
        &OPENFAAS,
        Config::from_vars(|n| (n == "RAW_BODY").then(|| "true".to_string())).unwrap(),
    );
    assert!(raw.handle(req("POST", "/echo", &[], "x")).is_fallback());
    // A tiny fuel budget runs out.
    let poor = Dispatcher::new(
        &OPENFAAS,
        Config::from_vars(|n| (n == "cl_fuel").then(|| "3".to_string())).unwrap(),
    );
    match poor.handle(req(
        "POST",
        "/echo",
        &[("content-type", "application/json")],
        "{}",
    )) {
        Outcome::Fallback(a) => assert_eq!(a.kind.as_str(), "fuel"),
        Outcome::Answer(r) => panic!("answered {:?}", r),
    }
}

// ---------------------------------------------------------------------------------------------------
// handle(), Containerless-API handler

#[test]
fn containerless_handlers_answer_through_respond() {
    let d = dispatcher(&CONTAINERLESS);
    let r = answer(d.handle(req("GET", "/", &[], "")));
    assert_eq!(text(&r), "root");
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("text/plain; charset=utf-8")
    );
    let r = answer(d.handle(req("POST", "/echo?a=1", &[], "{\"k\":2}")));
    assert_eq!(text(&r), "{\n    \"path\": \"/echo\",\n    \"query\": {\n        \"a\": \"1\"\n    },\n    \"body\": {\n        \"k\": 2\n    }\n}");
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("application/json; charset=utf-8")
    );
    // GET bodies are {} whatever was sent.
    let r = answer(d.handle(req("GET", "/echo", &[], "")));
    assert!(text(&r).ends_with("\"body\": {}\n}"), "{}", text(&r));
    assert_eq!(
        text(&answer(d.handle(req("GET", "/twice", &[], "")))),
        "first"
    );
    assert_eq!(text(&answer(d.handle(req("GET", "/number", &[], "")))), "7");
    assert_eq!(
        text(&answer(d.handle(req("GET", "/undefined", &[], "")))),
        "undefined"
    );
    assert_eq!(
        text(&answer(d.handle(req("GET", "/data", &[], "")))),
        "{\n    \"inline\": true\n}"
    );
    assert!(d.handle(req("GET", "/throw", &[], "")).is_fallback());
    assert!(d.handle(req("GET", "/never", &[], "")).is_fallback());
}

// ---------------------------------------------------------------------------------------------------
// A real socket

fn http(port: u16, raw: &str) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    s.write_all(raw.as_bytes()).unwrap();
    let mut r = BufReader::new(s);
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    let status: u16 = line
        .split(' ')
        .nth(1)
        .and_then(|x| x.parse().ok())
        .unwrap_or_else(|| panic!("status line {:?}", line));
    let mut headers = Vec::new();
    loop {
        let mut l = String::new();
        r.read_line(&mut l).unwrap();
        let l = l.trim_end();
        if l.is_empty() {
            break;
        }
        let (n, v) = l.split_once(':').unwrap();
        headers.push((n.to_ascii_lowercase(), v.trim().to_string()));
    }
    let mut body = Vec::new();
    r.read_to_end(&mut body).unwrap();
    (status, headers, body)
}

fn get_header<'a>(h: &'a [(String, String)], n: &str) -> Option<&'a str> {
    h.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str())
}

fn raw_request(method: &str, target: &str, headers: &[(&str, &str)], body: &str) -> String {
    let mut s = format!(
        "{} {} HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nConnection: close\r\n",
        method, target
    );
    for (n, v) in headers {
        s.push_str(&format!("{}: {}\r\n", n, v));
    }
    if !body.is_empty() || method == "POST" || method == "PUT" {
        s.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    s.push_str("\r\n");
    s.push_str(body);
    s
}

#[test]
fn serves_health_and_requests_on_a_loopback_socket_and_stops_on_signal() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(32 << 20)
        .build()
        .unwrap();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let state = Arc::new(dispatcher(&OPENFAAS));
    let server = rt.spawn(clrt::dispatcher::serve(state, listener, async move {
        let _ = stopped.await;
    }));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let (status, _, body) = http(port, &raw_request("GET", "/_/health", &[], ""));
        if status == 200 {
            assert_eq!(body, b"OK");
            break;
        }
        assert_eq!(status, 503);
        assert!(std::time::Instant::now() < deadline, "never healthy");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(http(port, &raw_request("GET", "/_/ready", &[], "")).0, 200);
    let (status, h, body) = http(
        port,
        &raw_request(
            "POST",
            "/echo?z=9",
            &[("Content-Type", "application/json")],
            "{\"a\":1}",
        ),
    );
    assert_eq!(status, 201);
    assert_eq!(
        String::from_utf8(body).unwrap(),
        "{\"echo\":{\"a\":1},\"q\":{\"z\":\"9\"}}"
    );
    assert_eq!(
        get_header(&h, "content-type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(get_header(&h, "x-a"), Some("1"));
    assert!(get_header(&h, "x-duration-seconds").is_some());
    // Header order survives the socket.
    let (_, _, body) = http(
        port,
        &raw_request(
            "GET",
            "/headers",
            &[("B-Second", "2"), ("A-Third", "3")],
            "",
        ),
    );
    assert_eq!(
        String::from_utf8(body).unwrap(),
        "{\"host\":\"127.0.0.1:8080\",\"connection\":\"close\",\"b-second\":\"2\",\"a-third\":\"3\",\"content-type\":\"text/plain\"}"
    );
    let (status, h, body) = http(port, &raw_request("HEAD", "/str", &[], ""));
    assert_eq!(status, 200);
    assert!(body.is_empty());
    assert_eq!(get_header(&h, "content-length"), Some("5"));
    let (status, h, _) = http(port, &raw_request("GET", "/nowhere", &[], ""));
    assert_eq!(status, 503);
    assert_eq!(get_header(&h, "x-containerless-fallback"), Some("unknown"));
    stop.send(()).unwrap();
    rt.block_on(server).unwrap().unwrap();
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_err(),
        "still accepting after shutdown"
    );
}

// ---------------------------------------------------------------------------------------------------
// Against the JavaScript runner

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

struct Runner {
    child: Child,
    port: u16,
}

impl Drop for Runner {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts watchdog/runner.ts on a free port with the handler in `dir`.
fn start_runner(dir: &Path) -> Runner {
    let tsx = repo().join("node_modules/tsx");
    assert!(
        tsx.exists(),
        "{} is missing: run `npm install` at the repository root",
        tsx.display()
    );
    let launcher = dir.join("launch.ts");
    std::fs::write(
        &launcher,
        format!(
            "import {{ createRunnerApp, loadHandler }} from {:?};\nconst app = createRunnerApp({{ handler: loadHandler({:?}), logError: () => {{}} }});\nconst srv = app.listen(0, '127.0.0.1', () => console.log('PORT ' + (srv.address() as any).port));\n",
            repo().join("watchdog/index.ts").display().to_string(),
            dir.display().to_string()
        ),
    )
    .unwrap();
    // One process (node with tsx's loader), so that killing it leaves nothing behind.
    let mut child = testkit::node_command()
        .arg("--import")
        .arg("tsx")
        .arg(&launcher)
        .current_dir(repo())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start node (is it installed?)");
    let mut err = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        let mut sink = Vec::new();
        let _ = err.read_to_end(&mut sink);
    });
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let port = line
        .trim()
        .strip_prefix("PORT ")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("runner said {:?}", line));
    std::thread::spawn(move || {
        let mut sink = String::new();
        let _ = out.read_to_string(&mut sink);
    });
    Runner { child, port }
}

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("clrt-dispatcher-{}-{}", name, std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Sends each request to the runner and to `handle`; where the dispatcher answers, the two must agree.
/// Returns the targets of the requests it gave up on.
/// A request: method, target, headers, body.
type Case<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)], &'a str);

fn compare(d: &Dispatcher, runner: &Runner, cases: &[Case]) -> Vec<String> {
    let mut gave_up = Vec::new();
    for (method, target, headers, body) in cases {
        let (js_status, js_h, js_body) =
            http(runner.port, &raw_request(method, target, headers, body));
        let mut r = req(method, target, headers, body);
        r.headers
            .insert(1, ("connection".into(), b"close".to_vec()));
        match d.handle(r) {
            Outcome::Fallback(_) => gave_up.push(target.to_string()),
            Outcome::Answer(rs) => {
                let what = format!("{} {}", method, target);
                assert_eq!(rs.status, js_status, "status of {}", what);
                assert_eq!(
                    rs.header("content-type").as_deref(),
                    get_header(&js_h, "content-type"),
                    "content-type of {}",
                    what
                );
                assert_eq!(
                    rs.header("etag").as_deref(),
                    get_header(&js_h, "etag"),
                    "etag of {}",
                    what
                );
                assert_eq!(
                    rs.header("x-a").as_deref(),
                    get_header(&js_h, "x-a"),
                    "x-a of {}",
                    what
                );
                assert_eq!(
                    String::from_utf8_lossy(&rs.body),
                    String::from_utf8_lossy(&js_body),
                    "body of {}",
                    what
                );
            }
        }
    }
    gave_up
}

#[test]
fn openfaas_answers_equal_the_javascript_runners() {
    let dir = temp_dir("openfaas");
    std::fs::write(dir.join("handler.js"), OPENFAAS_JS).unwrap();
    let runner = start_runner(&dir);
    let d = dispatcher(&OPENFAAS);
    let json: &[(&str, &str)] = &[("Content-Type", "application/json")];
    let cases: &[Case] = &[
        (
            "POST",
            "/echo?a=1&a=2&b=%E2%82%AC&c&d=%zz",
            json,
            "{\"x\":[1,2,{\"y\":\"\\u00e9\"}],\"z\":null}",
        ),
        (
            "POST",
            "/echo",
            &[("Content-Type", "text/plain")],
            "plain text \u{e9}",
        ),
        ("POST", "/echo", &[], "no type"),
        (
            "POST",
            "/echo",
            &[("Content-Type", "application/x-www-form-urlencoded")],
            "a=1&b=two+words&c=%41",
        ),
        ("POST", "/echo", json, ""),
        ("GET", "/echo", &[], ""),
        (
            "GET",
            "/headers?x",
            &[("X-Thing", "a b"), ("Accept", "*/*")],
            "",
        ),
        ("PATCH", "/method", &[], ""),
        ("GET", "/throw", &[], ""),
        ("GET", "/str", &[], ""),
        ("HEAD", "/str", &[], ""),
        (
            "GET",
            "/str",
            &[("If-None-Match", "W/\"5-qvTGHdzF6KLavt4PO0gs2a6pQ00\"")],
            "",
        ),
        ("GET", "/fail", &[], ""),
        ("GET", "/query?a=1&a=2&b", &[], ""),
        ("GET", "/other", &[], ""),
    ];
    assert_eq!(
        compare(&d, &runner, cases),
        vec!["/other"],
        "every case but /other is answered in Rust"
    );
}

#[test]
fn containerless_answers_equal_the_javascript_runners() {
    let dir = temp_dir("cl-api");
    std::fs::copy(
        repo().join("test/fixtures/runner/cl-api/handler.js"),
        dir.join("handler.js"),
    )
    .unwrap();
    let runner = start_runner(&dir);
    // An upstream for /get: one JSON answer per connection.
    let upstream = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let up_port = upstream.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in upstream.incoming() {
            let Ok(mut s) = s else { continue };
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let body = "{\"n\":1,\"s\":\"\u{e9}\"}";
            let _ = write!(s, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}", body.len(), body);
        }
    });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let handle = rt.handle().clone();
    let d = dispatcher(&CONTAINERLESS).with_io(Arc::new(move || {
        Some(Box::new(clrt::builtins::fetch::HttpIo::new(handle.clone())) as Box<dyn clrt::io::Io>)
    }));
    let get = format!("/get?id=7&url=http://127.0.0.1:{}/x", up_port);
    let cases: Vec<Case> = vec![
        ("GET", "/", &[], ""),
        ("POST", "/echo?a=1&a=2", &[], "{\"k\":[1,\"two\"]}"),
        ("POST", "/echo", &[], ""),
        ("GET", "/echo?q=%20", &[], ""),
        ("GET", "/array", &[], ""),
        ("GET", "/empty-array", &[], ""),
        ("GET", "/number", &[], ""),
        ("GET", "/undefined", &[], ""),
        ("GET", "/twice", &[], ""),
        ("GET", "/data", &[], ""),
        ("GET", get.as_str(), &[], ""),
        ("GET", "/throw", &[], ""),
    ];
    assert_eq!(
        compare(&d, &runner, &cases),
        vec!["/throw"],
        "every case but /throw is answered in Rust"
    );
}
