//! The dispatcher: serves one compiled function over HTTP the way the OpenFaaS node template behind
//! of-watchdog serves the JavaScript handler (watchdog/runner.ts lists those rules), or hands the request
//! back with the fallback marker when the compiled code gives up.
//!
//! - `handle` is the socket-free core: one request in, an `Outcome` out (what Node would answer, or a
//!   give-up). Each thread keeps its own `Cx` (a realm), made once per program: the module's top-level code
//!   runs there, its heap is sealed, and every request starts with `Cx::begin_request`.
//! - `serve` is the HTTP/1.1 server (tokio + hyper): `GET /_/health` answers 200 `OK` and `GET /_/ready`
//!   200 with an empty body once the module has been loaded (503 before and while shutting down, 405 for
//!   other methods, both empty), as the watchdog does; a request that Node's `http` server would not hand to
//!   the handler as it is (`node_would_refuse`, and targets `front` marks) is handed back; everything else
//!   reaches the function, on tokio's blocking pool.
//! - `main` reads the environment, binds, serves, and on SIGTERM stops accepting, lets requests in flight
//!   finish (bounded by exec_timeout) and exits 0.
//!
//! The fallback marker (only ever sent to the provider, never to a client): status 503, headers
//! `x-containerless-fallback: <abort kind>` (`unknown`, `type-guard`, `fuel`, ...) and
//! `x-containerless-site: <trace site>`, body = the give-up's detail text. Nothing else of the request has
//! been sent when it goes out. Normal answers carry what Node's would (plus of-watchdog's
//! `X-Duration-Seconds`, which the runner adds too); each request is logged as one JSON line on stderr.
//!
//! Module state: each realm is one more replica of the function. As in a Node replica, its module state
//! evolves with the requests it answers: an answered request's writes to module-level objects (a counter, a
//! memo table, a lazily built client) are kept (`Heap::commit`), a request that gives up has its writes undone
//! (JavaScript runs it again, in another replica, from that replica's state). Replicas never share module
//! state, in OpenFaaS as here, so callers cannot rely on it. Module state is bounded: an answered request
//! that would leave it over `cl_module_bytes` gives up (`module-write`) and is undone; so does one that would
//! leave in it what cannot outlive the request (a promise whose I/O is in flight). A detached async call
//! (its promise not awaited at once) that writes module state gives up, since Node would interleave it with
//! later code.
//!
//! Environment: `port` (8080), `bind` (127.0.0.1; `0.0.0.0` or another address to listen there),
//! `exec_timeout` (10s; seconds or a Go duration; 0 disables; a request's `X-Timeout` may lower it),
//! `cl_fuel`, `cl_heap_bytes` (the runtime's limits per request), `cl_module_bytes` (64 MiB: the most module
//! state a realm keeps, roughly counted), `cl_workers` (unset: requests run on tokio's blocking pool, a realm
//! per pool thread; `N`: on N threads of the dispatcher's own, each with its realm, taking requests in
//! arrival order, so `cl_workers=1` is one replica whose module state evolves with every request in the
//! order they came), and the template's `RAW_BODY`, `MAX_JSON_SIZE`, `MAX_RAW_SIZE`.

pub mod express;
pub mod front;
pub mod request;

use crate::builtins::openfaas;
use crate::cx::{Abort, AbortKind, Call, Ctl, Cx, Limits, Program};
use crate::io::Io;
use crate::value::{JsStr, Value};
pub use express::{ReqFacts, ResponseParts};
use request::{BodyConfig, Incoming};
use std::cell::RefCell;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One request as it arrived.
#[derive(Clone, Debug, Default)]
pub struct RequestParts {
    pub method: String,
    /// The request target as sent (`/path?query` in origin form).
    pub target: String,
    /// Header names (any case) and raw values, in arrival order.
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
}

/// What the dispatcher does with a request.
#[derive(Clone, Debug)]
pub enum Outcome {
    /// Exactly what the JavaScript function would have answered.
    Answer(ResponseParts),
    /// A give-up: the provider re-runs the request in JavaScript.
    Fallback(Abort),
}

pub const FALLBACK_HEADER: &str = "x-containerless-fallback";
pub const SITE_HEADER: &str = "x-containerless-site";

impl Outcome {
    pub fn is_fallback(&self) -> bool {
        matches!(self, Outcome::Fallback(_))
    }

    /// The answer, or the fallback marker.
    pub fn into_response(self) -> ResponseParts {
        match self {
            Outcome::Answer(r) => r,
            Outcome::Fallback(a) => fallback_marker(&a),
        }
    }
}

/// The fallback marker for a give-up.
pub fn fallback_marker(a: &Abort) -> ResponseParts {
    ResponseParts {
        status: 503,
        headers: vec![
            (
                FALLBACK_HEADER.to_string(),
                a.kind.as_str().as_bytes().to_vec(),
            ),
            (SITE_HEADER.to_string(), a.site.to_string().into_bytes()),
            (
                "content-type".to_string(),
                b"text/plain; charset=utf-8".to_vec(),
            ),
        ],
        body: a.detail.as_bytes().to_vec(),
    }
}

fn abort(kind: AbortKind, detail: impl Into<std::borrow::Cow<'static, str>>) -> Abort {
    Abort::new(kind, 0, detail)
}

// ---------------------------------------------------------------------------------------------------
// Configuration

#[derive(Clone, Debug)]
pub struct Config {
    pub port: u16,
    pub bind: IpAddr,
    /// exec_timeout; `None` when disabled (0).
    pub exec_timeout: Option<Duration>,
    pub fuel: u64,
    pub heap_bytes: usize,
    /// `cl_module_bytes`: the most module state a realm keeps.
    pub module_bytes: usize,
    /// `cl_workers`: the number of worker threads (realms); `None` for tokio's blocking pool.
    pub workers: Option<usize>,
    pub body: BodyConfig,
}

/// The default `cl_module_bytes`.
pub const MODULE_BYTES: usize = 64 << 20;

impl Default for Config {
    fn default() -> Config {
        let l = Limits::default();
        Config {
            port: 8080,
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            exec_timeout: Some(Duration::from_secs(10)),
            fuel: l.fuel,
            heap_bytes: l.heap_bytes,
            module_bytes: MODULE_BYTES,
            workers: None,
            body: BodyConfig::default(),
        }
    }
}

/// Go's `time.ParseDuration`, in milliseconds; `None` where Go rejects the text.
pub fn parse_go_duration(text: &str) -> Option<f64> {
    let (sign, mut s) = match text.as_bytes().first() {
        Some(b'-') => (-1.0, &text[1..]),
        Some(b'+') => (1.0, &text[1..]),
        _ => (1.0, text),
    };
    if s == "0" {
        return Some(0.0);
    }
    if s.is_empty() {
        return None;
    }
    let mut total = 0.0;
    while !s.is_empty() {
        let int_len = s.bytes().take_while(|b| b.is_ascii_digit()).count();
        let int = &s[..int_len];
        s = &s[int_len..];
        let mut frac = "";
        if let Some(rest) = s.strip_prefix('.') {
            let n = rest.bytes().take_while(|b| b.is_ascii_digit()).count();
            frac = &rest[..n];
            s = &rest[n..];
            if int.is_empty() && frac.is_empty() {
                return None;
            }
        } else if int.is_empty() {
            return None;
        }
        let unit = ["ns", "us", "µs", "μs", "ms", "s", "m", "h"]
            .iter()
            .find(|u| s.starts_with(**u))?;
        // "m" must not swallow "ms".
        let unit = if *unit == "m" && s.starts_with("ms") {
            &"ms"
        } else {
            unit
        };
        s = &s[unit.len()..];
        let ms = match *unit {
            "ns" => 1e-6,
            "us" | "µs" | "μs" => 1e-3,
            "ms" => 1.0,
            "s" => 1000.0,
            "m" => 60_000.0,
            _ => 3_600_000.0,
        };
        let v: f64 = format!(
            "{}.{}",
            if int.is_empty() { "0" } else { int },
            if frac.is_empty() { "0" } else { frac }
        )
        .parse()
        .ok()?;
        total += v * ms;
    }
    Some(sign * total)
}

/// of-watchdog's `parseIntOrDurationValue`: a non-negative integer is seconds, else a Go duration (ms).
fn parse_int_or_duration(text: &str) -> Option<f64> {
    let t = text.strip_prefix('+').unwrap_or(text);
    if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
        return t.parse::<f64>().ok().map(|n| n * 1000.0);
    }
    parse_go_duration(text)
}

/// The `bytes` package's `parse` (body-parser's limits).
pub fn parse_bytes_limit(s: &str) -> Option<f64> {
    let lower = s.to_ascii_lowercase();
    for (unit, mult) in [
        ("kb", 1024f64),
        ("mb", 1024f64.powi(2)),
        ("gb", 1024f64.powi(3)),
        ("tb", 1024f64.powi(4)),
        ("pb", 1024f64.powi(5)),
    ] {
        if let Some(num) = lower.strip_suffix(unit) {
            let num = num.trim_end_matches(' ');
            let digits = num.strip_prefix(['-', '+']).unwrap_or(num);
            let valid = match digits.split_once('.') {
                Some((a, b)) => {
                    !a.is_empty()
                        && !b.is_empty()
                        && a.bytes().chain(b.bytes()).all(|c| c.is_ascii_digit())
                }
                None => !digits.is_empty() && digits.bytes().all(|c| c.is_ascii_digit()),
            };
            if valid {
                let v: f64 = num.parse().ok()?;
                return Some((v * mult).floor());
            }
        }
    }
    // parseInt(val, 10)
    let t = s.trim_start();
    let (neg, t) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let d: String = t.chars().take_while(|c| c.is_ascii_digit()).collect();
    if d.is_empty() {
        return None;
    }
    let v: f64 = d.parse().ok()?;
    Some(if neg { -v } else { v })
}

impl Config {
    /// Reads the configuration from variables (`get(name)`), reporting every bad one.
    pub fn from_vars(get: impl Fn(&str) -> Option<String>) -> Result<Config, Vec<String>> {
        let mut c = Config::default();
        let mut problems = Vec::new();
        let set = |name: &str| get(name).filter(|v| !v.is_empty());
        if let Some(p) = set("port") {
            match p.parse::<u16>() {
                Ok(n) => c.port = n,
                Err(_) => problems.push(format!("port={:?} is not a port number", p)),
            }
        }
        if let Some(b) = set("bind") {
            match b.parse::<IpAddr>() {
                Ok(a) => c.bind = a,
                Err(_) => {
                    problems.push(format!("bind={:?} is not an IP address (e.g. 0.0.0.0)", b))
                }
            }
        }
        if let Some(t) = set("exec_timeout") {
            match parse_int_or_duration(&t) {
                Some(ms) if ms >= 0.0 => c.exec_timeout = if ms == 0.0 { None } else { Some(Duration::from_secs_f64(ms / 1000.0)) },
                _ => problems.push(format!("exec_timeout={:?} is not a duration (e.g. 10s, 1m30s, or seconds as an integer)", t)),
            }
        }
        if let Some(f) = set("cl_fuel") {
            match f.parse::<u64>() {
                Ok(n) => c.fuel = n,
                Err(_) => problems.push(format!("cl_fuel={:?} is not a non-negative integer", f)),
            }
        }
        if let Some(h) = set("cl_heap_bytes") {
            match h.parse::<usize>() {
                Ok(n) => c.heap_bytes = n,
                Err(_) => problems.push(format!(
                    "cl_heap_bytes={:?} is not a non-negative integer",
                    h
                )),
            }
        }
        if let Some(m) = set("cl_module_bytes") {
            match m.parse::<usize>() {
                Ok(n) => c.module_bytes = n,
                Err(_) => problems.push(format!(
                    "cl_module_bytes={:?} is not a non-negative integer",
                    m
                )),
            }
        }
        if let Some(w) = set("cl_workers") {
            match w.parse::<usize>() {
                Ok(n) if (1..=1024).contains(&n) => c.workers = Some(n),
                _ => problems.push(format!(
                    "cl_workers={:?} is not a number of threads from 1 to 1024",
                    w
                )),
            }
        }
        c.body.raw_body = get("RAW_BODY").as_deref() == Some("true");
        for name in ["MAX_JSON_SIZE", "MAX_RAW_SIZE"] {
            let v = set(name).unwrap_or_else(|| "100kb".to_string());
            let ok = v
                .trim_start_matches(['+', '-'])
                .starts_with(|ch: char| ch.is_ascii_digit())
                && v.len() - v.trim_start_matches(['+', '-']).len() <= 1;
            match parse_bytes_limit(&v) {
                Some(n) if ok => {
                    if name == "MAX_JSON_SIZE" {
                        c.body.json_limit = if n < 0.0 { 0 } else { n as u64 };
                    }
                }
                _ => problems.push(format!(
                    "{}={:?} is not a size (e.g. 100kb, 1mb, 1048576)",
                    name, v
                )),
            }
        }
        if problems.is_empty() {
            Ok(c)
        } else {
            Err(problems)
        }
    }

    pub fn from_env() -> Result<Config, Vec<String>> {
        Config::from_vars(|n| std::env::var(n).ok())
    }

    /// The limits of one request; `X-Timeout` lowers the deadline as of-watchdog does.
    pub fn limits(&self, x_timeout: Option<&str>) -> Limits {
        let mut ms: f64 = self
            .exec_timeout
            .map(|d| d.as_secs_f64() * 1000.0)
            .unwrap_or(0.0);
        if let Some(asked) = x_timeout.filter(|s| !s.is_empty()) {
            if let Some(v) = parse_go_duration(asked) {
                if v <= ms {
                    ms = v;
                }
            }
        }
        let deadline = if ms > 0.0 {
            Duration::from_secs_f64(ms / 1000.0)
        } else {
            Duration::from_secs(365 * 24 * 3600)
        };
        Limits {
            fuel: self.fuel,
            heap_bytes: self.heap_bytes,
            deadline,
        }
    }
}

// ---------------------------------------------------------------------------------------------------
// The core

/// Makes the host's outgoing-HTTP implementation for one request (`None`: I/O gives up).
pub type IoFactory = Arc<dyn Fn() -> Option<Box<dyn Io>> + Send + Sync>;

#[derive(Clone, Debug)]
enum Handler {
    /// `module.exports`, called as `handler(event, context, cb)`.
    Openfaas(Value),
    /// The `containerless.listen` callback.
    Containerless(Value),
}

struct Engine {
    prog: usize,
    state: Result<(Cx, Handler), Abort>,
}

thread_local! {
    static ENGINES: RefCell<Vec<Engine>> = const { RefCell::new(Vec::new()) };
}

/// Shared state of a dispatcher: the program, its configuration, the I/O factory, readiness.
pub struct Dispatcher {
    pub prog: &'static Program,
    pub config: Config,
    io: IoFactory,
    ready: AtomicBool,
    draining: AtomicBool,
    load_logged: AtomicBool,
    /// The worker threads when `cl_workers` is set.
    pool: Option<Pool>,
}

/// Work for a thread that serves requests.
pub type Job = Box<dyn FnOnce() + Send>;

/// `cl_workers` threads of the dispatcher's own, taking jobs from one queue in the order they came. Not
/// tokio's blocking pool capped: the runtime's own blocking work (a fetch's name lookup) must still find
/// a thread while every worker waits for it.
struct Pool {
    queue: std::sync::Mutex<std::sync::mpsc::Sender<Job>>,
}

impl Pool {
    fn new(workers: usize) -> Pool {
        let (tx, rx) = std::sync::mpsc::channel::<Job>();
        let rx = Arc::new(std::sync::Mutex::new(rx));
        for i in 0..workers {
            let rx = rx.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("cl-worker-{}", i))
                .stack_size(32 << 20)
                .spawn(move || loop {
                    let job = match rx.lock() {
                        Ok(q) => q.recv(),
                        Err(_) => return,
                    };
                    match job {
                        Ok(job) => {
                            // A panic is the job's to report (its answer channel closes); the worker goes on.
                            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                        }
                        Err(_) => return,
                    }
                });
            if let Err(e) = spawned {
                eprintln!(
                    "{{\"msg\":\"cannot start a worker thread\",\"error\":{}}}",
                    json_str(&e.to_string())
                );
            }
        }
        Pool {
            queue: std::sync::Mutex::new(tx),
        }
    }
}

/// Whether a request's answer is still wanted: the HTTP side gives up waiting at the request's deadline
/// (and sends the fallback marker), the thread serving it claims the answer before keeping the request's
/// writes to module state. Whichever comes first wins, so a request whose client got the marker never
/// changes module state, and one whose writes were kept is always answered by Rust.
#[derive(Default)]
struct Ticket(std::sync::atomic::AtomicU8);

impl Ticket {
    const WAITING: u8 = 0;
    const CLAIMED: u8 = 1;
    const ABANDONED: u8 = 2;
    fn claim(&self) -> bool {
        self.0
            .compare_exchange(
                Self::WAITING,
                Self::CLAIMED,
                Ordering::SeqCst,
                Ordering::SeqCst,
            )
            .is_ok()
    }
    fn abandon(&self) -> bool {
        self.0
            .compare_exchange(
                Self::WAITING,
                Self::ABANDONED,
                Ordering::SeqCst,
                Ordering::SeqCst,
            )
            .is_ok()
    }
    fn abandoned(&self) -> bool {
        self.0.load(Ordering::SeqCst) == Self::ABANDONED
    }
}

fn print_logs(cx: &mut Cx) {
    for line in cx.logs.drain(..) {
        eprintln!("{}", line);
    }
}

/// Runs the module's top-level code in a fresh context and finds the handler, as the runner's
/// `loadHandler` does.
fn load(prog: &'static Program, config: &Config) -> Result<(Cx, Handler), Abort> {
    let limits = config.limits(None);
    let mut cx = Cx::new(prog, &limits)?;
    let to_abort = |c: Ctl| match c {
        Ctl::Abort(a) => *a,
        Ctl::Throw(_) => abort(AbortKind::Uncaught, "the module threw while loading"),
    };
    let callee = cx.realm.object_proto;
    let r = (prog.init)(
        &mut cx,
        &Call {
            callee,
            this: Value::Undefined,
            args: &[],
            new_target: None,
        },
    );
    print_logs(&mut cx);
    let exports = r.map_err(to_abort)?;
    cx.heap.seal_module();
    cx.heap.set_module_cap(config.module_bytes);
    let handler = if openfaas::uses_containerless(&cx) {
        match openfaas::listener(&mut cx) {
            Some(l) => Handler::Containerless(l),
            None => return Err(abort(AbortKind::Unsupported, "the module requires 'containerless' but did not call listen(callback) while loading")),
        }
    } else {
        match &exports {
            Value::Obj(o)
                if matches!(
                    cx.heap.kind(*o),
                    crate::heap::ObjKind::Function(_)
                        | crate::heap::ObjKind::Native(_)
                        | crate::heap::ObjKind::Bound { .. }
                ) =>
            {
                Handler::Openfaas(exports.clone())
            }
            _ => {
                return Err(abort(
                    AbortKind::Unsupported,
                    "module.exports is not a function",
                ))
            }
        }
    };
    Ok((cx, handler))
}

impl Dispatcher {
    pub fn new(prog: &'static Program, config: Config) -> Dispatcher {
        Dispatcher {
            prog,
            io: Arc::new(|| None),
            ready: AtomicBool::new(false),
            draining: AtomicBool::new(false),
            load_logged: AtomicBool::new(false),
            pool: config.workers.map(Pool::new),
            config,
        }
    }

    /// Runs `job` where requests run: on a worker thread (`cl_workers`), else on tokio's blocking pool
    /// (call it from within the runtime then).
    pub fn submit(&self, job: Job) {
        match &self.pool {
            Some(p) => {
                let sent = p.queue.lock().map(|q| q.send(job));
                if !matches!(sent, Ok(Ok(()))) {
                    eprintln!("{{\"msg\":\"the worker threads are gone\"}}");
                }
            }
            None => {
                tokio::task::spawn_blocking(job);
            }
        }
    }

    /// Sets how each request gets its outgoing-HTTP implementation.
    pub fn with_io(mut self, io: IoFactory) -> Dispatcher {
        self.io = io;
        self
    }

    /// Loads the module on this thread (if not yet) and marks the dispatcher ready. A module that fails to
    /// load is logged once; every request then falls back.
    pub fn warm_up(&self) -> Result<(), Abort> {
        let r = self.with_engine(|state| match state {
            Ok(_) => Ok(()),
            Err(a) => Err(a.clone()),
        });
        self.ready.store(true, Ordering::SeqCst);
        r
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst) && !self.draining.load(Ordering::SeqCst)
    }

    fn with_engine<R>(&self, f: impl FnOnce(&mut Result<(Cx, Handler), Abort>) -> R) -> R {
        let key = self.prog as *const Program as usize;
        ENGINES.with(|e| {
            let mut engines = e.borrow_mut();
            let idx = match engines.iter().position(|x| x.prog == key) {
                Some(i) => i,
                None => {
                    let state = load(self.prog, &self.config);
                    if let Err(a) = &state {
                        if !self.load_logged.swap(true, Ordering::SeqCst) {
                            eprintln!(
                                "{{\"msg\":\"the module did not load; every request falls back\",\"reason\":{},\"site\":{},\"detail\":{}}}",
                                json_str(a.kind.as_str()),
                                a.site,
                                json_str(&a.detail)
                            );
                        }
                    }
                    engines.push(Engine { prog: key, state });
                    engines.len() - 1
                }
            };
            f(&mut engines[idx].state)
        })
    }

    /// Serves one request without a socket.
    pub fn handle(&self, req: RequestParts) -> Outcome {
        self.handle_claimed(req, &|| true)
    }

    /// `handle`, where `claim` is asked, once the request has an answer and before its writes to module
    /// state are kept, whether the answer will still be sent: if not (its client was handed back already),
    /// the request is undone as a give-up is. A panic while serving (a bug) hands the request back and
    /// drops this thread's realm, which the next request loads again: a replica that restarted.
    pub fn handle_claimed(&self, req: RequestParts, claim: &dyn Fn() -> bool) -> Outcome {
        let served = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.with_engine(|state| self.serve_one(state, &req, claim))
        }));
        served.unwrap_or_else(|_| {
            let key = self.prog as *const Program as usize;
            let _ = ENGINES.try_with(|e| e.borrow_mut().retain(|x| x.prog != key));
            Outcome::Fallback(abort(
                AbortKind::Unsupported,
                "the dispatcher failed while serving the request",
            ))
        })
    }

    fn serve_one(
        &self,
        state: &mut Result<(Cx, Handler), Abort>,
        req: &RequestParts,
        claim: &dyn Fn() -> bool,
    ) -> Outcome {
        let (cx, handler) = match state {
            Ok((cx, h)) => (cx, h.clone()),
            Err(a) => return Outcome::Fallback(a.clone()),
        };
        let r = match self.run(cx, &handler, req) {
            // The runtime runs .then callbacks when awaited; Node runs them anyway, maybe before answering.
            Ok(_) if cx.heap.unsettled_thens > 0 => Err(Ctl::Abort(Box::new(abort(
                AbortKind::Unsupported,
                "a .then callback the request never awaited (Node runs it, maybe before answering)",
            )))),
            r => r,
        };
        cx.io = None;
        let outcome = match r {
            Ok(parts) => {
                // An answered request keeps its writes to module state, as the replica that answers it
                // in Node would.
                let kept = if !claim() {
                    Err(abort(
                        AbortKind::Deadline,
                        "the request ran past its deadline",
                    ))
                } else if cx.heap.module_changed() {
                    cx.commit_request()
                } else {
                    Ok(())
                };
                match kept {
                    Ok(()) => {
                        // What the function logged is printed only when Rust answers: after a give-up
                        // JavaScript runs the request again and logs it there, once.
                        print_logs(cx);
                        Outcome::Answer(parts)
                    }
                    Err(a) => Outcome::Fallback(a),
                }
            }
            Err(Ctl::Abort(a)) => Outcome::Fallback(*a),
            Err(Ctl::Throw(_)) => Outcome::Fallback(abort(
                AbortKind::Uncaught,
                "an exception escaped the handler",
            )),
        };
        // A give-up's partial writes are undone: JavaScript re-runs the whole request. Whatever the
        // request made and module state does not keep is freed now.
        cx.logs.clear();
        cx.heap.reset();
        outcome
    }

    fn run(
        &self,
        cx: &mut Cx,
        handler: &Handler,
        req: &RequestParts,
    ) -> Result<ResponseParts, Ctl> {
        let inc = Incoming::parse(req)?;
        let body = match handler {
            Handler::Openfaas(_) => request::openfaas_body(&inc, &req.body, &self.config.body)?,
            Handler::Containerless(_) => {
                request::containerless_body(&inc, &req.body, &self.config.body)?
            }
        };
        let x_timeout = inc.header("x-timeout").map(|v| v.to_rust_string());
        cx.begin_request(&self.config.limits(x_timeout.as_deref()));
        cx.io = (self.io)();
        let facts = inc.facts();
        match handler {
            Handler::Openfaas(h) => {
                let body = request::body_value(cx, &body)?;
                let headers = request::headers_value(cx, &inc)?;
                let method = Value::Str(JsStr::from(inc.method.as_str()));
                let query = request::query_value(cx, inc.query.as_deref())?;
                let path = Value::Str(inc.path.clone());
                let event = openfaas::make_event(cx, body, headers, method, query, path)?;
                openfaas::run_openfaas(cx, h, event, facts)
            }
            Handler::Containerless(l) => {
                let path = if inc.path.eq_str("/") {
                    Value::str("")
                } else {
                    Value::Str(inc.path.clone())
                };
                let query = request::query_value(cx, inc.query.as_deref())?;
                let parsed = request::body_value(cx, &body)?;
                let body = if inc.method == "GET" || inc.method == "HEAD" || parsed.is_nullish() {
                    cx.new_object()?
                } else {
                    parsed
                };
                let request = openfaas::make_cl_request(cx, path, query, body)?;
                openfaas::run_containerless(cx, l, request, facts)
            }
        }
    }
}

fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

// ---------------------------------------------------------------------------------------------------
// HTTP

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming as HyperBody;
use hyper::header::{HeaderName, HeaderValue};
use hyper::{Request, Response, StatusCode};

/// Bodies larger than this are not read: the request falls back.
const MAX_BODY: usize = 64 << 20;

fn to_hyper(parts: &ResponseParts, duration: Option<f64>) -> Response<Full<Bytes>> {
    let mut b = Response::builder()
        .status(StatusCode::from_u16(parts.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR));
    for (n, v) in &parts.headers {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(n.as_bytes()),
            HeaderValue::from_bytes(v),
        ) {
            b = b.header(n, v);
        }
    }
    if let Some(d) = duration {
        b = b.header("x-duration-seconds", format!("{:.6}", d));
    }
    b.body(Full::new(Bytes::from(parts.body.clone())))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}

fn plain(status: u16, body: &'static str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    r.headers_mut().insert(
        "content-type",
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

fn empty(status: u16) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::new()));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    r
}

/// Node's `http` server (llhttp and node_http_parser) counts the request target, header names and header
/// values (not the separators) and refuses a head whose count reaches this with 431.
const NODE_MAX_HEADER_COUNT_BYTES: usize = 16 * 1024;

/// More header lines than this are handed back (hyper's own limit, far below Node's).
const MAX_HEADER_LINES: usize = 100;

/// Requests on which Node's `http` server, in front of the handler, does something other than hand the
/// request to it: the dispatcher hands them back, and Node answers them as it does. `None` for a request the
/// handler sees.
///
/// - a head whose size approaches Node's limit (431 beyond it; the separators, which hyper does not keep,
///   are not counted, so a margin stays on the safe side);
/// - more than 100 header lines (Node keeps at most 2000 of them in `req.headers` and counts by its own rules);
/// - `Expect` other than `100-continue` (Node answers 417 itself).
fn node_would_refuse<B>(req: &Request<B>) -> Option<&'static str> {
    let headers = req.headers();
    if headers.len() > MAX_HEADER_LINES {
        return Some("more than 100 header lines: the JavaScript server's own limits apply");
    }
    let target = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().len())
        .unwrap_or(0);
    let size = target
        + headers
            .iter()
            .map(|(n, v)| n.as_str().len() + v.len())
            .sum::<usize>();
    if size >= NODE_MAX_HEADER_COUNT_BYTES / 2 {
        return Some("a request head near the JavaScript server's size limit (16 KiB)");
    }
    for v in headers.get_all("expect") {
        if !v.as_bytes().eq_ignore_ascii_case(b"100-continue") {
            return Some(
                "an Expect header other than 100-continue (the JavaScript server answers 417)",
            );
        }
    }
    None
}

fn log_request(method: &str, path: &str, outcome: &Outcome, status: u16, started: Instant) {
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    let tail = match outcome {
        Outcome::Answer(_) => "\"outcome\":\"rust\"".to_string(),
        Outcome::Fallback(a) => format!(
            "\"outcome\":\"fallback\",\"reason\":{},\"site\":{},\"detail\":{}",
            json_str(a.kind.as_str()),
            a.site,
            json_str(&a.detail)
        ),
    };
    eprintln!(
        "{{\"method\":{},\"path\":{},\"status\":{},\"duration_ms\":{:.3},{}}}",
        json_str(method),
        json_str(path),
        status,
        ms,
        tail
    );
}

/// Answers one HTTP request.
pub async fn respond(state: Arc<Dispatcher>, req: Request<HyperBody>) -> Response<Full<Bytes>> {
    let started = Instant::now();
    let method = req.method().as_str().to_string();
    let target = match req.uri().path_and_query() {
        Some(pq) if req.uri().scheme().is_none() => pq.as_str().to_string(),
        _ => req.uri().to_string(),
    };
    let path = target.split('?').next().unwrap_or("").to_string();
    // As the watchdog answers them (watchdog/server.ts): `OK` as text on health, everything else empty.
    if path == "/_/health" || path == "/_/ready" {
        return if method != "GET" {
            empty(405)
        } else if !state.is_ready() {
            empty(503)
        } else if path == "/_/health" {
            plain(200, "OK")
        } else {
            empty(200)
        };
    }
    let refused = if path == front::marker() {
        Some("a request target the dispatcher's HTTP parser refuses or reads differently from Node's")
    } else {
        node_would_refuse(&req)
    };
    if let Some(why) = refused {
        let a = abort(AbortKind::Unsupported, why);
        let resp = to_hyper(&fallback_marker(&a), None);
        log_request(&method, &path, &Outcome::Fallback(a), 503, started);
        return resp;
    }
    let headers: Vec<(String, Vec<u8>)> = req
        .headers()
        .iter()
        .map(|(n, v)| (n.as_str().to_string(), v.as_bytes().to_vec()))
        .collect();
    let x_timeout = req
        .headers()
        .get("x-timeout")
        .and_then(|v| v.to_str().ok())
        .map(|s| s.to_string());
    let outcome = match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Err(_) => Outcome::Fallback(abort(
            AbortKind::Unsupported,
            "a request body the dispatcher does not read (too large or broken)",
        )),
        Ok(body) => {
            let parts = RequestParts {
                method: method.clone(),
                target,
                headers,
                body: body.to_bytes().to_vec(),
            };
            let budget =
                state.config.limits(x_timeout.as_deref()).deadline + Duration::from_secs(2);
            let st = state.clone();
            let ticket = Arc::new(Ticket::default());
            let t = ticket.clone();
            let (tx, mut rx) = tokio::sync::oneshot::channel();
            state.submit(Box::new(move || {
                if !t.abandoned() {
                    let _ = tx.send(st.handle_claimed(parts, &|| t.claim()));
                }
            }));
            let failed = || {
                Outcome::Fallback(abort(
                    AbortKind::Unsupported,
                    "the dispatcher failed while serving the request",
                ))
            };
            match tokio::time::timeout(budget, &mut rx).await {
                Ok(Ok(o)) => o,
                Ok(Err(_)) => failed(),
                Err(_) if ticket.abandon() => Outcome::Fallback(abort(
                    AbortKind::Deadline,
                    "the request ran past its deadline",
                )),
                // Claimed just now: its answer (and its writes to module state) are on their way.
                Err(_) => rx.await.unwrap_or_else(|_| failed()),
            }
        }
    };
    let (resp, status) = match &outcome {
        Outcome::Answer(p) => (to_hyper(p, Some(started.elapsed().as_secs_f64())), p.status),
        Outcome::Fallback(a) => (to_hyper(&fallback_marker(a), None), 503),
    };
    log_request(&method, &path, &outcome, status, started);
    resp
}

/// Serves on `listener` until `shutdown` resolves, then stops accepting, lets the connections in flight
/// finish their requests (bounded by exec_timeout plus a little) and returns.
pub async fn serve<F>(
    state: Arc<Dispatcher>,
    listener: tokio::net::TcpListener,
    shutdown: F,
) -> std::io::Result<()>
where
    F: std::future::Future<Output = ()> + Send,
{
    use hyper::server::conn::http1;
    use hyper::service::service_fn;
    use hyper_util::rt::TokioIo;

    {
        let st = state.clone();
        state.submit(Box::new(move || {
            let _ = st.warm_up();
        }));
    }
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let (alive_tx, mut alive_rx) = tokio::sync::mpsc::channel::<()>(1);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            r = listener.accept() => {
                let (stream, _) = match r {
                    Ok(x) => x,
                    Err(e) => {
                        eprintln!("{{\"msg\":\"accept failed\",\"error\":{}}}", json_str(&e.to_string()));
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let st = state.clone();
                let mut stop = stop_rx.clone();
                let alive = alive_tx.clone();
                tokio::spawn(async move {
                    let svc = service_fn(move |req| {
                        let st = st.clone();
                        async move { Ok::<_, std::convert::Infallible>(respond(st, req).await) }
                    });
                    // Heads with more lines than hyper takes (100) are reduced by the front and handed back.
                    let conn = http1::Builder::new()
                        .title_case_headers(true)
                        .serve_connection(TokioIo::new(front::Front::new(stream)), svc);
                    tokio::pin!(conn);
                    tokio::select! {
                        _ = conn.as_mut() => {}
                        _ = stop.changed() => {
                            conn.as_mut().graceful_shutdown();
                            let _ = conn.await;
                        }
                    }
                    drop(alive);
                });
            }
        }
    }
    state.draining.store(true, Ordering::SeqCst);
    drop(listener);
    let _ = stop_tx.send(true);
    drop(alive_tx);
    let grace =
        state.config.exec_timeout.unwrap_or(Duration::from_secs(30)) + Duration::from_secs(2);
    let _ = tokio::time::timeout(grace, alive_rx.recv()).await;
    Ok(())
}

/// The process's SIGTERM (or SIGINT).
async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

/// The outgoing-HTTP implementation the binary uses: `builtins::fetch::HttpIo` on this runtime, one connection
/// pool for every request.
fn default_io(handle: tokio::runtime::Handle) -> IoFactory {
    let client = crate::builtins::fetch::HttpIo::client(&handle);
    Arc::new(move || {
        Some(Box::new(crate::builtins::fetch::HttpIo::with_client(
            handle.clone(),
            client.clone(),
        )) as Box<dyn Io>)
    })
}

/// The compiled function's `main`: reads the environment, listens, serves until SIGTERM, exits 0.
pub fn main(prog: &'static Program) {
    let config = match Config::from_env() {
        Ok(c) => c,
        Err(problems) => {
            eprintln!(
                "containerless dispatcher: bad configuration: {}",
                problems.join("; ")
            );
            std::process::exit(1);
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(32 << 20)
        // Blocking threads keep their loaded module (a thread-local context) while they live.
        .thread_keep_alive(Duration::from_secs(3600))
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("containerless dispatcher: cannot start the runtime: {}", e);
            std::process::exit(1);
        }
    };
    let addr = (config.bind, config.port);
    let state = Arc::new(Dispatcher::new(prog, config).with_io(default_io(rt.handle().clone())));
    let r = rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        eprintln!(
            "{{\"msg\":\"listening\",\"function\":{},\"address\":{}}}",
            json_str(prog.name),
            json_str(&listener.local_addr()?.to_string())
        );
        serve(state, listener, shutdown_signal()).await
    });
    if let Err(e) = r {
        eprintln!("containerless dispatcher: {}", e);
        std::process::exit(1);
    }
    std::process::exit(0);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations_parse_like_go() {
        assert_eq!(parse_go_duration("10s"), Some(10_000.0));
        assert_eq!(parse_go_duration("1m30s"), Some(90_000.0));
        assert_eq!(parse_go_duration("1.5h"), Some(5_400_000.0));
        assert_eq!(parse_go_duration("250ms"), Some(250.0));
        assert_eq!(parse_go_duration("0"), Some(0.0));
        assert_eq!(parse_go_duration("-2s"), Some(-2000.0));
        assert_eq!(parse_go_duration(".5s"), Some(500.0));
        assert_eq!(parse_go_duration("10"), None);
        assert_eq!(parse_go_duration(""), None);
        assert_eq!(parse_go_duration("s"), None);
        assert_eq!(parse_go_duration("1x"), None);
        assert_eq!(parse_int_or_duration("10"), Some(10_000.0));
    }

    #[test]
    fn byte_limits_parse_like_the_bytes_package() {
        assert_eq!(parse_bytes_limit("100kb"), Some(102_400.0));
        assert_eq!(parse_bytes_limit("1mb"), Some(1_048_576.0));
        assert_eq!(parse_bytes_limit("1.5 KB"), Some(1536.0));
        assert_eq!(parse_bytes_limit("1048576"), Some(1_048_576.0));
        assert_eq!(parse_bytes_limit("12b"), Some(12.0));
        assert_eq!(parse_bytes_limit("x"), None);
    }

    #[test]
    fn configuration_reports_every_bad_variable() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |n: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == n)
                    .map(|(_, v)| v.to_string())
            }
        };
        let c = Config::from_vars(env(&[
            ("port", "9000"),
            ("bind", "0.0.0.0"),
            ("exec_timeout", "0"),
            ("MAX_JSON_SIZE", "1mb"),
        ]))
        .unwrap();
        assert_eq!(c.port, 9000);
        assert_eq!(c.bind.to_string(), "0.0.0.0");
        assert_eq!(c.exec_timeout, None);
        assert_eq!(c.body.json_limit, 1_048_576);
        let e = Config::from_vars(env(&[
            ("port", "x"),
            ("exec_timeout", "soon"),
            ("MAX_JSON_SIZE", "big"),
        ]))
        .unwrap_err();
        assert_eq!(e.len(), 3, "{:?}", e);
        let c = Config::from_vars(env(&[("exec_timeout", "30")])).unwrap();
        assert_eq!(c.limits(Some("2s")).deadline, Duration::from_secs(2));
        assert_eq!(c.limits(Some("1m")).deadline, Duration::from_secs(30));
    }
}
