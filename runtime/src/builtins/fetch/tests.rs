use super::*;
use crate::builtins::promise::await_value;
use crate::cx::{test_cx, Call, Code, Ctl};
use http_body_util::{BodyExt, Full};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use std::time::Instant;

/// What the test server saw: method, path and query, headers in order, body.
type Seen = Arc<Mutex<Vec<(String, String, Vec<(String, String)>, Vec<u8>)>>>;

/// A server on 127.0.0.1 with a few routes; returns its base URL.
fn start_server(rt: &tokio::runtime::Runtime, seen: Seen) -> String {
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    rt.spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let seen = seen.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(
                    move |req: hyper::Request<hyper::body::Incoming>| {
                        let seen = seen.clone();
                        async move { Ok::<_, std::convert::Infallible>(route(req, seen).await) }
                    },
                );
                let _ = hyper::server::conn::http1::Builder::new()
                    .auto_date_header(false)
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    format!("http://127.0.0.1:{}", addr.port())
}

async fn route(
    req: hyper::Request<hyper::body::Incoming>,
    seen: Seen,
) -> hyper::Response<Full<bytes::Bytes>> {
    let method = req.method().to_string();
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.to_string())
        .unwrap_or_default();
    let headers = req
        .headers()
        .iter()
        .map(|(n, v)| {
            (
                n.to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes().to_vec())
        .unwrap_or_default();
    seen.lock()
        .unwrap()
        .push((method, path.clone(), headers, body));
    let mut b = hyper::Response::builder();
    let p = path.split('?').next().unwrap_or("");
    let body: Vec<u8> = if p == "/json" {
        b = b
            .header("content-type", "application/json")
            .header("x-multi", "a")
            .header("X-Multi", "b")
            .header("set-cookie", "a=1")
            .header("set-cookie", "b=2");
        br#"{"n":1,"s":"x","list":[true,null]}"#.to_vec()
    } else if p == "/text" {
        b"\xEF\xBB\xBFh\xC3\xA9llo \xED\xA0\x80!\xF0\x9F\x98".to_vec()
    } else if let Some(ms) = p.strip_prefix("/slow/") {
        tokio::time::sleep(Duration::from_millis(ms.parse().unwrap())).await;
        format!("{{\"slept\":{}}}", ms).into_bytes()
    } else if let Some(s) = p.strip_prefix("/status/") {
        b = b.status(s.parse::<u16>().unwrap());
        Vec::new()
    } else if p == "/reason" {
        b = b
            .status(201)
            .extension(hyper::ext::ReasonPhrase::try_from(&b"Made It"[..]).unwrap());
        b"made".to_vec()
    } else if p == "/redirect" {
        b = b.status(302).header("location", "/json");
        Vec::new()
    } else if p == "/gzip" {
        b = b.header("content-encoding", "gzip");
        Vec::new()
    } else if p == "/echo" || p.is_empty() || p == "/" {
        b"echo".to_vec()
    } else {
        b = b.status(404);
        b"nope".to_vec()
    };
    b.body(Full::new(bytes::Bytes::from(body))).unwrap()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn with_io(rt: &tokio::runtime::Runtime, funcs: &'static [Code]) -> Cx {
    let mut cx = test_cx(funcs);
    cx.io = Some(Box::new(HttpIo::new(rt.handle().clone())));
    cx
}

fn s(v: &str) -> Value {
    Value::str(v)
}

fn get(cx: &mut Cx, v: &Value, k: &str) -> Value {
    props::get(cx, v, &props::key(k)).unwrap()
}

fn invoke(cx: &mut Cx, recv: &Value, name: &str, args: &[Value]) -> JsResult<Value> {
    let m = call::method(cx, recv, &props::key(name))?;
    call::invoke(cx, &m, recv.clone(), args)
}

fn fetch_await(cx: &mut Cx, args: &[Value]) -> JsResult<Value> {
    let p = (FETCH.f)(cx, &Value::Undefined, args)?;
    await_value(cx, p)
}

fn text_of(v: &Value) -> String {
    match v {
        Value::Str(s) => s.to_rust_string(),
        other => panic!("not a string: {:?}", other),
    }
}

fn gave_up<T: std::fmt::Debug>(r: JsResult<T>) -> bool {
    matches!(r, Err(Ctl::Abort(_)))
}

/// `o` from (key, value) pairs.
fn object(cx: &mut Cx, pairs: &[(&str, Value)]) -> Value {
    let o = cx.new_object().unwrap();
    for (k, v) in pairs {
        props::set(cx, &o, &props::key(k), v.clone()).unwrap();
    }
    o
}

#[test]
fn canonical_urls_are_kept_and_others_give_up() {
    let ok = |u: &str| canonical_url(u).map(|(u, _)| u).ok();
    assert_eq!(
        ok("http://127.0.0.1:7998/users/1?x=a%20b"),
        Some("http://127.0.0.1:7998/users/1?x=a%20b".into())
    );
    assert_eq!(ok("http://example.com"), Some("http://example.com/".into()));
    assert_eq!(
        ok("http://example.com?q"),
        Some("http://example.com/?q".into())
    );
    assert_eq!(
        ok("http://example.com/a#frag"),
        Some("http://example.com/a".into())
    );
    for bad in [
        "https://example.com/",
        "HTTP://example.com/",
        "http://Example.com/",
        "http://example.com:80/",
        "http://example.com:0080/",
        "http://example.com:/",
        "http://user@example.com/",
        "http://127.1/",
        "http://0x7f.0.0.1/",
        "http://127.0.0.01/",
        "http://[::1]/",
        "http://example.com/a/../b",
        "http://example.com/%2e/b",
        "http://example.com/a b",
        "http://example.com/?q='",
        "http://example.com/a\\b",
        "/relative",
        "http://example.com./",
    ] {
        assert!(ok(bad).is_none(), "{} should give up", bad);
    }
}

#[test]
fn decodes_utf8_as_undici_does() {
    let mut cx = test_cx(&[]);
    let cases: &[(&[u8], &[u16])] = &[
        (b"\xEF\xBB\xBFA", &[0x41]),
        (b"\xC3", &[0xFFFD]),
        (b"\xE2\x82", &[0xFFFD]),
        (b"\xED\xA0\x80", &[0xFFFD, 0xFFFD, 0xFFFD]),
        (b"\xF4\x90\x80\x80", &[0xFFFD, 0xFFFD, 0xFFFD, 0xFFFD]),
        (b"\xC0\xAF", &[0xFFFD, 0xFFFD]),
        (b"\x80A", &[0xFFFD, 0x41]),
        (b"\xF0\x9F\x98\x80", &[0xD83D, 0xDE00]),
    ];
    for (bytes, want) in cases {
        assert_eq!(utf8_decode(&mut cx, bytes).unwrap(), *want, "{:?}", bytes);
    }
    assert!(gave_up(utf8_decode(&mut cx, b"\xEF\xBB\xBF\xEF\xBB\xBF")));
}

#[test]
fn fetches_bodies_and_headers() {
    let rt = runtime();
    let seen: Seen = Default::default();
    let base = start_server(&rt, seen.clone());
    let mut cx = with_io(&rt, &[]);
    let r = fetch_await(&mut cx, &[s(&format!("{}/json#x", base))]).unwrap();
    assert_eq!(get(&mut cx, &r, "status").as_num(), Some(200.0));
    assert!(matches!(get(&mut cx, &r, "ok"), Value::Bool(true)));
    assert_eq!(text_of(&get(&mut cx, &r, "statusText")), "OK");
    assert_eq!(text_of(&get(&mut cx, &r, "url")), format!("{}/json", base));
    // The computed properties behave as getters on the prototype: `in` sees them, a write gives up.
    assert!(props::has_property(&mut cx, &r, &props::key("statusText")).unwrap());
    assert!(!props::has_own(
        &cx,
        r.as_obj().unwrap(),
        &props::key("status")
    ));
    assert!(gave_up(props::set(
        &mut cx,
        &r,
        &props::key("status"),
        Value::Num(1.0)
    )));
    assert_eq!(
        ops::type_tag(&cx, &r),
        crate::value::tag::OBJECT,
        "the tracer tags a Response \"object\""
    );
    let h = get(&mut cx, &r, "headers");
    assert!(
        ops::strict_equals(&h, &get(&mut cx, &r, "headers")),
        "the same Headers object each time"
    );
    assert_eq!(
        text_of(&invoke(&mut cx, &h, "get", &[s("X-MULTI")]).unwrap()),
        "a, b"
    );
    assert_eq!(
        text_of(&invoke(&mut cx, &h, "get", &[s("set-cookie")]).unwrap()),
        "a=1, b=2"
    );
    assert!(matches!(
        invoke(&mut cx, &h, "get", &[s("nope")]),
        Ok(Value::Null)
    ));
    assert!(matches!(
        invoke(&mut cx, &h, "has", &[s("Content-Type")]),
        Ok(Value::Bool(true))
    ));
    assert!(gave_up(invoke(&mut cx, &h, "get", &[s("bad name")])));
    assert!(gave_up(invoke(&mut cx, &h, "entries", &[])));
    let p = invoke(&mut cx, &r, "json", &[]).unwrap();
    let v = await_value(&mut cx, p).unwrap();
    assert_eq!(text_of(&get(&mut cx, &v, "s")), "x");
    assert!(matches!(get(&mut cx, &r, "bodyUsed"), Value::Bool(true)));
    assert!(
        gave_up(invoke(&mut cx, &r, "text", &[])),
        "a second read is a TypeError in Node"
    );

    let r = fetch_await(&mut cx, &[s(&format!("{}/text", base))]).unwrap();
    let p = invoke(&mut cx, &r, "text", &[]).unwrap();
    let t = await_value(&mut cx, p).unwrap();
    assert_eq!(text_of(&t), "h\u{e9}llo \u{fffd}\u{fffd}\u{fffd}!\u{fffd}");

    let r = fetch_await(&mut cx, &[s(&format!("{}/reason", base))]).unwrap();
    assert_eq!(text_of(&get(&mut cx, &r, "statusText")), "Made It");
    let r = fetch_await(&mut cx, &[s(&format!("{}/status/404", base))]).unwrap();
    assert!(matches!(get(&mut cx, &r, "ok"), Value::Bool(false)));
    assert!(gave_up(fetch_await(
        &mut cx,
        &[s(&format!("{}/redirect", base))]
    )));
    assert!(gave_up(fetch_await(
        &mut cx,
        &[s(&format!("{}/gzip", base))]
    )));
    let post = object(
        &mut cx,
        &[
            ("method", s("POST")),
            ("body", s("x")),
            ("redirect", s("manual")),
        ],
    );
    assert!(gave_up((FETCH.f)(
        &mut cx,
        &Value::Undefined,
        &[s(&format!("{}/echo", base)), post]
    )));
    let head = object(&mut cx, &[("method", s("head"))]);
    assert!(gave_up((FETCH.f)(
        &mut cx,
        &Value::Undefined,
        &[s(&format!("{}/echo", base)), head]
    )));
    let get_body = object(&mut cx, &[("body", s("x"))]);
    assert!(gave_up((FETCH.f)(
        &mut cx,
        &Value::Undefined,
        &[s(&format!("{}/echo", base)), get_body]
    )));
}

#[test]
fn runs_fetches_under_promise_all_at_once() {
    let rt = runtime();
    let seen: Seen = Default::default();
    let base = start_server(&rt, seen.clone());
    let mut cx = with_io(&rt, &[]);
    let started = Instant::now();
    let ps: Vec<Value> = (0..3)
        .map(|_| {
            (FETCH.f)(
                &mut cx,
                &Value::Undefined,
                &[s(&format!("{}/slow/1000", base))],
            )
            .unwrap()
        })
        .collect();
    let list = cx.new_array(ps).unwrap();
    let promise = cx.realm.global("Promise").unwrap();
    let all = (crate::builtins::promise::ALL.f)(&mut cx, &promise, &[list]).unwrap();
    let arr = await_value(&mut cx, all).unwrap();
    let elapsed = started.elapsed();
    // One after the other they would take 3 s; the margin is for a loaded machine.
    assert!(
        elapsed < Duration::from_millis(2500),
        "three 1 s fetches took {:?}",
        elapsed
    );
    for i in 0..3 {
        let r = props::get_computed(&mut cx, &arr, &Value::Num(i as f64)).unwrap();
        let p = invoke(&mut cx, &r, "json", &[]).unwrap();
        let v = await_value(&mut cx, p).unwrap();
        assert_eq!(get(&mut cx, &v, "slept").as_num(), Some(1000.0));
    }
    assert_eq!(seen.lock().unwrap().len(), 3);
}

#[test]
fn a_fetch_past_the_deadline_gives_up() {
    let rt = runtime();
    let base = start_server(&rt, Default::default());
    let mut cx = test_cx(&[]);
    cx.begin_request(&crate::cx::Limits {
        deadline: Duration::from_millis(200),
        ..Default::default()
    });
    cx.io = Some(Box::new(HttpIo::new(rt.handle().clone())));
    let r = fetch_await(&mut cx, &[s(&format!("{}/slow/2000", base))]);
    match r {
        Err(Ctl::Abort(a)) => assert_eq!(a.kind, AbortKind::Deadline),
        other => panic!("expected a deadline give-up: {:?}", other),
    }
    // A refused connection is a network error: it gives up too.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let mut cx = with_io(&rt, &[]);
    assert!(gave_up(fetch_await(
        &mut cx,
        &[s(&format!("http://127.0.0.1:{}/", port))]
    )));
}

/// forEach callback for the differential test: pushes [name, value] onto `this` (an array).
fn collect_header(cx: &mut Cx, c: &Call) -> JsResult<Value> {
    let pair = cx.new_array(vec![c.arg(1), c.arg(0)])?;
    let len = match cx.heap.kind(c.this.as_obj().unwrap()) {
        ObjKind::Array(items) => items.len(),
        _ => unreachable!(),
    };
    props::set_computed(cx, &c.this, &Value::Num(len as f64), pair).map(|_| Value::Undefined)
}
static DIFF_FUNCS: &[Code] = &[collect_header];

/// Requests and responses compared with Node's own fetch against the same server.
#[test]
fn matches_node_fetch() {
    let rt = runtime();
    let seen: Seen = Default::default();
    let base = start_server(&rt, seen.clone());
    // (path, JavaScript options literal, the same options built here)
    type Build = fn(&mut Cx) -> Value;
    let requests: &[(&str, &str, Build)] = &[
            ("/echo", "undefined", |_| Value::Undefined),
            ("/echo?x=1&y=2", "{method: 'post', body: 'h\\u00e9llo'}", |cx| object(cx, &[("method", s("post")), ("body", s("h\u{e9}llo"))])),
            ("/echo", "{method: 'PUT', headers: {'X-Y': ' v\\t', b: 2, Accept: 'text/html', 'User-Agent': 'me', 'x-y': 'dup'}, body: '{}'}", |cx| {
                let h = object(cx, &[("X-Y", s(" v\t")), ("b", Value::Num(2.0)), ("Accept", s("text/html")), ("User-Agent", s("me")), ("x-y", s("dup"))]);
                object(cx, &[("method", s("PUT")), ("headers", h), ("body", s("{}"))])
            }),
            ("/echo", "{method: 'DELETE', headers: [['b', '1'], ['a', '2'], ['B', '3']]}", |cx| {
                let pairs: Vec<Value> = [("b", "1"), ("a", "2"), ("B", "3")].iter().map(|(k, v)| cx.new_array(vec![s(k), s(v)]).unwrap()).collect();
                let h = cx.new_array(pairs).unwrap();
                object(cx, &[("method", s("DELETE")), ("headers", h)])
            }),
            ("/echo", "{method: 'PATCH'}", |cx| object(cx, &[("method", s("PATCH"))])),
            ("/echo", "{method: 'options', body: ''}", |cx| object(cx, &[("method", s("options")), ("body", s(""))])),
            ("/echo", "{method: 'delete', body: ''}", |cx| object(cx, &[("method", s("delete")), ("body", s(""))])),
            ("/echo", "{method: 'POST', headers: {'content-type': 'application/json', 'sec-fetch-mode': 'no-cors'}, body: '[1]', json: true}", |cx| {
                let h = object(cx, &[("content-type", s("application/json")), ("sec-fetch-mode", s("no-cors"))]);
                object(cx, &[("method", s("POST")), ("headers", h), ("body", s("[1]")), ("json", Value::Bool(true))])
            }),
            ("", "{method: 'GET', headers: {}}", |cx| {
                let h = cx.new_object().unwrap();
                object(cx, &[("method", s("GET")), ("headers", h)])
            }),
        ];
    let responses = [
        "/json",
        "/text",
        "/status/404",
        "/status/204",
        "/reason",
        "/echo",
    ];
    let summary = "[r.status, r.statusText, r.url, r.ok, r.redirected, r.type, r.bodyUsed, r.headers.get('x-multi'), r.headers.get('set-cookie'), \
                       r.headers.get('Content-Type'), r.headers.has('content-length'), list, text]";

    // Node first.
    let mut js = String::from("(async () => { const out = [];\n");
    for (path, opts, _) in requests {
        js.push_str(&format!(
            "await (await fetch({:?} + {:?}, {})).text();\n",
            base, path, opts
        ));
    }
    for path in &responses {
        js.push_str(&format!(
                "{{ const r = await fetch({:?} + {:?}); const list = []; r.headers.forEach(function (v, k) {{ this.push([k, v]); }}, list); const text = await r.text(); out.push(JSON.stringify({})); }}\n",
                base, path, summary
            ));
    }
    js.push_str("process.stdout.write(out.join('\\n') + '\\n'); })();\n");
    let out = crate::testkit::node_command()
        .arg("-e")
        .arg(&js)
        .output()
        .expect("run node");
    assert!(
        out.status.success(),
        "node failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let node_lines: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    let node_seen: Vec<_> = std::mem::take(&mut *seen.lock().unwrap());

    // Then ours.
    let mut cx = with_io(&rt, DIFF_FUNCS);
    for (path, _, build) in requests {
        let opts = build(&mut cx);
        let r = fetch_await(&mut cx, &[s(&format!("{}{}", base, path)), opts]).unwrap();
        let p = invoke(&mut cx, &r, "text", &[]).unwrap();
        await_value(&mut cx, p).unwrap();
    }
    let mut our_lines = Vec::new();
    for path in &responses {
        let r = fetch_await(&mut cx, &[s(&format!("{}{}", base, path))]).unwrap();
        let h = get(&mut cx, &r, "headers");
        let list = cx.new_array(vec![]).unwrap();
        let cb = call::make_function(&mut cx, 0, None, "collect", 2, 0).unwrap();
        invoke(&mut cx, &h, "forEach", &[cb, list.clone()]).unwrap();
        let p = invoke(&mut cx, &r, "text", &[]).unwrap();
        let text = await_value(&mut cx, p).unwrap();
        let mut items = Vec::new();
        for k in [
            "status",
            "statusText",
            "url",
            "ok",
            "redirected",
            "type",
            "bodyUsed",
        ] {
            items.push(get(&mut cx, &r, k));
        }
        for n in ["x-multi", "set-cookie", "Content-Type"] {
            items.push(invoke(&mut cx, &h, "get", &[s(n)]).unwrap());
        }
        items.push(invoke(&mut cx, &h, "has", &[s("content-length")]).unwrap());
        items.push(list);
        items.push(text);
        let arr = cx.new_array(items).unwrap();
        let json = crate::builtins::json::stringify_value(&mut cx, &arr)
            .unwrap()
            .unwrap();
        our_lines.push(json.to_rust_string());
    }
    let our_seen: Vec<_> = std::mem::take(&mut *seen.lock().unwrap());

    assert_eq!(node_seen.len(), our_seen.len());
    for (i, (n, o)) in node_seen.iter().zip(&our_seen).enumerate() {
        // Header names compare in lower case (hyper's server lowers them anyway).
        assert_eq!(
            n,
            o,
            "request {} ({}) differs",
            i,
            requests.get(i).map(|r| r.1).unwrap_or("a response probe")
        );
    }
    assert_eq!(node_lines, our_lines);
}
