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
//!   is read (the body up to what a parser can use) and served, where it was read or on the workers
//!   (`pool.rs`), as below.
//! - `main` reads the environment, binds, serves, and on SIGTERM stops accepting, lets requests in flight
//!   finish (bounded by exec_timeout) and exits 0.
//!
//! Where requests run. Compiled code runs a request from start to finish on one thread, and `await` of a
//! fetch blocks that thread until the response is in, so a request that waits for I/O must not run on a
//! thread that moves other connections' bytes. By default (`Config::serves_inline`: `cl_workers_max` above
//! `cl_workers`, as when neither is set) a request first runs on the tokio thread that read it, in that
//! thread's own realm (at most `cl_workers` threads have one, one per core by default), with no hand-over
//! between threads. Its I/O there is `MoveIo`: its first fetch, before anything is sent, gives up, and so
//! does running past `INLINE_BUDGET` (2 ms, so that tokio's threads keep answering); the request is then
//! undone, exactly as a give-up is (its writes to module state and its logs dropped), and run again from
//! the start on a worker, where it may wait; the next `TO_POOL_AFTER_MOVE` requests go to the workers
//! straight away, so that a function that fetches does not start every request twice. A request served
//! where it was read keeps its writes to that thread's realm, one more replica.
//!
//! Workers (`pool.rs`): threads of the dispatcher's own, each with its realm, taking requests from one
//! queue in arrival order. A request holds its worker until it is answered, `await` of a fetch included
//! (the fetches themselves run on tokio and overlap). With exactly `cl_workers` realms (`cl_workers` set
//! and `cl_workers_max` not, or equal) every request runs on the workers: `cl_workers` of them start with
//! the dispatcher, so `cl_workers=1` is one replica that sees every request in arrival order, and tokio has
//! the cores they leave, at least one thread (`Config::io_threads`). Otherwise
//! workers start with the first request moved to them; while some of them wait for I/O and requests are
//! queued, more start, so that `cl_workers` of them can compute, those above `cl_workers` ending after 30 s
//! without work. Either way there are at most `cl_workers_max` realms in all (the tokio threads' and the
//! workers'). At most `cl_workers_max + cl_queue` requests are inside the dispatcher at once (being read,
//! queued or served); one more is handed back with the marker of kind `busy` at once, so the provider
//! sends it to Node. Memory is bounded by that: the realms (a few MB each) and what the requests hold (a
//! body is kept only up to the largest body-parser limit; past it, it is read and dropped).
//!
//! The fallback marker (only ever sent to the provider, never to a client): status 503, headers
//! `x-containerless-fallback: <abort kind>` (`unknown`, `type-guard`, `fuel`, ..., or `busy`) and
//! `x-containerless-site: <trace site>`, body = the give-up's detail text. Nothing else of the request has
//! been sent when it goes out. Normal answers carry what Node's would (plus of-watchdog's
//! `X-Duration-Seconds`, which the runner adds too). With `cl_log_requests=true` each request is logged as
//! one JSON line on stderr; what the function itself logs is printed for the requests Rust answers, always.
//!
//! Module state: each realm is one more replica of the function. As in a Node replica, its module state
//! evolves with the requests it answers: an answered request's writes to module-level objects (a counter, a
//! memo table, a lazily built client) are kept (`Heap::commit`), a request that gives up has its writes undone
//! (JavaScript runs it again, in another replica, from that replica's state). Replicas never share module
//! state, in OpenFaaS as here, so callers cannot rely on it; a worker that ends takes its replica with it, as
//! a Node replica scaled down does. Module state is bounded: an answered request that would leave it over
//! `cl_module_bytes` gives up (`module-write`) and is undone; so does one that would leave in it what cannot
//! outlive the request (a promise whose I/O is in flight). A detached async call (its promise not awaited at
//! once) that writes module state gives up, since Node would interleave it with later code.
//!
//! Environment: `port` (8080), `bind` (127.0.0.1; `0.0.0.0` or another address to listen there),
//! `exec_timeout` (10s; seconds or a Go duration; 0 disables; a request's `X-Timeout` may lower it),
//! `cl_fuel`, `cl_heap_bytes` (the runtime's limits per request), `cl_module_bytes` (64 MiB: the most module
//! state a realm keeps, roughly counted), `cl_workers` (the realms that compute at once: one per core when
//! unset; `N` alone: N workers each with its realm, taking every request in arrival order, so
//! `cl_workers=1` alone is one replica whose module state evolves with every request in the order they
//! came), `cl_workers_max` (the most realms, the extra ones started while others wait for I/O:
//! `cl_workers` when that is set, else 8 per core, at most 64; above `cl_workers`, requests first run on
//! the threads that read them),
//! `cl_queue` (256: requests that may wait for a worker beyond those the workers serve), `cl_log_requests`
//! (false: a JSON line per request on stderr when true), and the template's `RAW_BODY`, `MAX_JSON_SIZE`,
//! `MAX_RAW_SIZE`.

pub mod express;
pub mod front;
pub(crate) mod names;
pub mod pool;
pub mod request;

use crate::builtins::openfaas;
use crate::cx::{Abort, AbortKind, Call, Ctl, Cx, Limits, Program};
use crate::io::Io;
use crate::value::Value;
pub use express::{ReqFacts, ResponseParts};
use request::{BodyConfig, Incoming};
use std::cell::RefCell;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
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
    /// `cl_workers`: the realms kept at all times; `None` for one per core.
    pub workers: Option<usize>,
    /// `cl_workers_max`: the most realms, started while the others wait for I/O; `None` for
    /// `cl_workers` when that is set, else `IO_WORKERS_PER_CORE` per core (at most `IO_WORKERS_CAP`).
    pub workers_max: Option<usize>,
    /// `cl_queue`: how many requests may wait for a realm beyond those the realms serve; more are
    /// handed back (`busy`).
    pub queue: usize,
    /// `cl_log_requests`: a JSON line per request on stderr.
    pub log_requests: bool,
    pub body: BodyConfig,
}

/// The default `cl_module_bytes`.
pub const MODULE_BYTES: usize = 64 << 20;

/// The default `cl_queue`.
pub const QUEUE: usize = 256;

/// Without `cl_workers` and `cl_workers_max`, the most realms is this many per core (they start only while
/// others wait for I/O) ...
pub const IO_WORKERS_PER_CORE: usize = 8;
/// ... and never more than this by default.
pub const IO_WORKERS_CAP: usize = 64;

/// The most `cl_workers`, `cl_workers_max` and `cl_queue` accept.
pub const WORKERS_LIMIT: usize = 1024;
pub const QUEUE_LIMIT: usize = 65_536;

/// The machine's cores (1 when unknown), read once: `available_parallelism` reads the cgroup's files.
fn cores() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

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
            workers_max: None,
            queue: QUEUE,
            log_requests: false,
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
        for (name, field) in [
            ("cl_workers", &mut c.workers),
            ("cl_workers_max", &mut c.workers_max),
        ] {
            if let Some(w) = set(name) {
                match w.parse::<usize>() {
                    Ok(n) if (1..=WORKERS_LIMIT).contains(&n) => *field = Some(n),
                    _ => problems.push(format!(
                        "{}={:?} is not a number of threads from 1 to {}",
                        name, w, WORKERS_LIMIT
                    )),
                }
            }
        }
        if let (Some(w), Some(m)) = (c.workers, c.workers_max) {
            if m < w {
                problems.push(format!("cl_workers_max={} is below cl_workers={}", m, w));
            }
        }
        if let Some(q) = set("cl_queue") {
            match q.parse::<usize>() {
                Ok(n) if n <= QUEUE_LIMIT => c.queue = n,
                _ => problems.push(format!(
                    "cl_queue={:?} is not a number of requests from 0 to {}",
                    q, QUEUE_LIMIT
                )),
            }
        }
        if let Some(l) = set("cl_log_requests") {
            match l.as_str() {
                "true" | "1" => c.log_requests = true,
                "false" | "0" => c.log_requests = false,
                _ => problems.push(format!("cl_log_requests={:?} is not true or false", l)),
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

    /// The realms kept at all times: `cl_workers`, or one per core.
    pub fn base_workers(&self) -> usize {
        self.workers.unwrap_or_else(cores)
    }

    /// The most realms at once: `cl_workers_max`; else `cl_workers` when set (exactly that many
    /// replicas); else `IO_WORKERS_PER_CORE` per core, at most `IO_WORKERS_CAP`.
    pub fn max_workers(&self) -> usize {
        let base = self.base_workers();
        match (self.workers_max, self.workers) {
            (Some(m), _) => m.max(base),
            (None, Some(w)) => w,
            (None, None) => (cores() * IO_WORKERS_PER_CORE)
                .min(IO_WORKERS_CAP)
                .max(base),
        }
    }

    /// Whether requests are first run on the threads that read them, each with a realm of its own (at
    /// most `cl_workers` of them), and moved to the workers only when they wait for I/O or run long: when
    /// realms beyond `cl_workers` are allowed (`max_workers` above `base_workers`, as by default). With
    /// exactly `cl_workers` realms, every request runs on the workers, in arrival order.
    pub fn serves_inline(&self) -> bool {
        self.max_workers() > self.base_workers()
    }

    /// Tokio's threads, which read and write every connection's bytes and run the fetches: one per core
    /// when requests run on them (`serves_inline`); otherwise the cores the `cl_workers` workers leave,
    /// at least one. A thread beyond those only takes turns with the others: with `cl_workers=1` on two
    /// cores, a second tokio thread took every other answer and doubled the CPU each small request cost
    /// (118 µs against 53 µs measured per request, for a handler of 14 µs).
    pub fn io_threads(&self) -> usize {
        if self.serves_inline() {
            cores()
        } else {
            cores().saturating_sub(self.base_workers()).max(1)
        }
    }

    /// The most workers (`pool.rs`): the realms `max_workers` allows beyond those of the threads that
    /// read requests.
    pub fn pool_max(&self) -> usize {
        if self.serves_inline() {
            self.max_workers() - self.base_workers()
        } else {
            self.max_workers()
        }
    }

    /// The workers that compute at once while others wait for I/O (`pool.rs`'s base).
    pub fn pool_base(&self) -> usize {
        self.base_workers().min(self.pool_max())
    }

    /// The most requests inside the dispatcher at once (being read, queued or served); more are handed
    /// back with the `busy` marker.
    pub fn max_inflight(&self) -> usize {
        self.max_workers() + self.queue
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

/// Shared state of a dispatcher: the program, its configuration, the I/O factory, readiness, its workers.
pub struct Dispatcher {
    pub prog: &'static Program,
    pub config: Config,
    io: IoFactory,
    ready: AtomicBool,
    draining: AtomicBool,
    load_logged: AtomicBool,
    /// The worker threads (`pool.rs`), started by `serve` or the first request.
    pool: Pool,
    /// Requests inside the dispatcher (being read, queued or served), bounded by `max_inflight`.
    inflight: AtomicUsize,
    max_inflight: usize,
    /// Whether requests are first run on the thread that read them (`Config::serves_inline`).
    inline: bool,
    /// The realms of the threads that read requests, at most `inline_max` (`cl_workers`).
    inline_realms: AtomicUsize,
    inline_max: usize,
    /// How many requests go straight to the workers: set to `TO_POOL_AFTER_MOVE` when a request run where it
    /// was read had to be moved to them (it waited for I/O or ran long), so that such a function does not
    /// start every request twice.
    to_pool: AtomicUsize,
}

/// How long a request may run on the thread that read it: one that runs longer is undone and run again on
/// a worker, so that those threads keep answering health checks and moving bytes.
const INLINE_BUDGET: Duration = Duration::from_millis(2);

/// Requests sent straight to the workers after one had to be moved there (see `Dispatcher::to_pool`).
const TO_POOL_AFTER_MOVE: usize = 64;

thread_local! {
    /// The dispatcher (its address) whose realms that read requests count this thread's (`inline_realms`).
    static INLINE_SLOT: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    /// Set when the request run where it was read starts a fetch: it is moved to a worker.
    static WANTS_IO: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// The I/O of a request run where it was read: it never waits there. Its first fetch gives up before
/// anything is sent, the request is undone (as a give-up is) and run again on a worker, where it may wait.
struct MoveIo;

impl MoveIo {
    fn moved() -> Abort {
        WANTS_IO.with(|w| w.set(true));
        abort(
            AbortKind::Io,
            "a fetch, on a thread that does not wait for I/O",
        )
    }
}

impl Io for MoveIo {
    fn start_fetch(&mut self, _: crate::io::HttpRequest) -> Result<u32, Abort> {
        Err(MoveIo::moved())
    }
    fn wait_fetch(&mut self, _: u32) -> Result<crate::io::HttpResponse, Abort> {
        Err(MoveIo::moved())
    }
}

/// Where a request runs: on a worker (it may wait for I/O), or on the thread that read it (it may not).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Place {
    Worker,
    Inline,
}

pub use pool::Job;
use pool::{Pool, PoolCounts, PoolRef};

/// A request counted in `Dispatcher::inflight` until every side that holds it is done with it.
struct Admission(Arc<Dispatcher>);

impl Drop for Admission {
    fn drop(&mut self) {
        self.0.inflight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The host's I/O for a request run on a worker: waits for a fetch are counted, so that the pool may
/// start another worker for the queued requests meanwhile.
struct CountedIo {
    inner: Box<dyn Io>,
    pool: PoolRef,
}

impl Io for CountedIo {
    fn start_fetch(&mut self, req: crate::io::HttpRequest) -> Result<u32, Abort> {
        self.inner.start_fetch(req)
    }
    fn wait_fetch(&mut self, handle: u32) -> Result<crate::io::HttpResponse, Abort> {
        let inner = &mut self.inner;
        Pool::io_wait(&self.pool, || inner.wait_fetch(handle))
    }
}

/// Whether a request's answer is still wanted: the HTTP side gives up waiting at the request's deadline
/// (and sends the fallback marker), the thread serving it claims the answer before keeping the request's
/// writes to module state. Whichever comes first wins, so a request whose client got the marker never
/// changes module state, and one whose writes were kept is always answered by Rust. It holds the
/// request's admission while either side holds it.
struct Ticket(std::sync::atomic::AtomicU8, #[allow(dead_code)] Admission);

impl Ticket {
    const WAITING: u8 = 0;
    const CLAIMED: u8 = 1;
    const ABANDONED: u8 = 2;
    fn new(admission: Admission) -> Ticket {
        Ticket(std::sync::atomic::AtomicU8::new(Self::WAITING), admission)
    }
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
                        | crate::heap::ObjKind::Bound(_)
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
            pool: Pool::new(config.pool_base(), config.pool_max()),
            inflight: AtomicUsize::new(0),
            max_inflight: config.max_inflight(),
            inline: config.serves_inline(),
            inline_realms: AtomicUsize::new(0),
            inline_max: config.base_workers(),
            to_pool: AtomicUsize::new(0),
            config,
        }
    }

    /// Whether requests are first run on the thread that read them (see `Config::serves_inline`).
    pub fn serves_inline(&self) -> bool {
        self.inline
    }

    /// Whether this thread may run requests in a realm of its own: it has one, or may load one (fewer than
    /// `cl_workers` threads have).
    fn inline_realm_here(&self) -> bool {
        let me = self as *const Dispatcher as usize;
        INLINE_SLOT.with(|slot| {
            if slot.get() == me {
                return true;
            }
            let taken = self
                .inline_realms
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                    (n < self.inline_max).then_some(n + 1)
                })
                .is_ok();
            if taken {
                slot.set(me);
            }
            taken
        })
    }

    /// Loads this thread's realm for requests run where they are read, when it may have one, and marks the
    /// dispatcher ready.
    fn warm_inline(&self) {
        if self.inline_realm_here() {
            let _ = self.warm_up();
        }
    }

    /// Serves `req` on this thread (the one that read it), in its realm, when the dispatcher does so: `None`
    /// when it goes to the workers instead (it waits for I/O, runs past `INLINE_BUDGET`, or requests are
    /// being sent there for now), with nothing of it kept.
    fn try_inline(&self, req: &RequestParts) -> Option<Outcome> {
        if !self.inline {
            return None;
        }
        if self.to_pool.load(Ordering::Relaxed) > 0 {
            let _ = self
                .to_pool
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
            return None;
        }
        if !self.inline_realm_here() {
            return None;
        }
        let o = self.serve_here(req, &|| true, Place::Inline);
        if o.is_none() {
            self.to_pool.store(TO_POOL_AFTER_MOVE, Ordering::Relaxed);
        }
        o
    }

    /// Runs `job` where requests run: on a worker thread, in arrival order.
    pub fn submit(&self, job: Job) {
        self.pool.submit(job);
    }

    /// Starts the workers (each loads its realm; the first to finish makes the dispatcher ready).
    /// `serve` calls it; a first `submit` starts them without loading ahead.
    pub fn start_workers(self: &Arc<Self>) {
        let me = Arc::downgrade(self);
        self.pool.start(Box::new(move || {
            if let Some(d) = me.upgrade() {
                let _ = d.warm_up();
            }
        }));
    }

    /// The worker threads: alive, busy, waiting for I/O, and requests queued for them.
    pub fn workers(&self) -> PoolCounts {
        self.pool.counts()
    }

    /// Counts a request in, unless the dispatcher already holds `Config::max_inflight` of them.
    fn admit(self: &Arc<Self>) -> Option<Admission> {
        let n = self.inflight.fetch_add(1, Ordering::AcqRel);
        let a = Admission(self.clone());
        (n < self.max_inflight).then_some(a)
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
        self.serve_here(&req, claim, Place::Worker)
            .expect("a request on a worker is never moved")
    }

    /// Serves `req` in this thread's realm; `None` when a request run where it was read must move to a
    /// worker (undone).
    fn serve_here(
        &self,
        req: &RequestParts,
        claim: &dyn Fn() -> bool,
        place: Place,
    ) -> Option<Outcome> {
        let served = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.with_engine(|state| self.serve_one(state, req, claim, place))
        }));
        served.unwrap_or_else(|_| {
            let key = self.prog as *const Program as usize;
            let _ = ENGINES.try_with(|e| e.borrow_mut().retain(|x| x.prog != key));
            Some(Outcome::Fallback(abort(
                AbortKind::Unsupported,
                "the dispatcher failed while serving the request",
            )))
        })
    }

    fn serve_one(
        &self,
        state: &mut Result<(Cx, Handler), Abort>,
        req: &RequestParts,
        claim: &dyn Fn() -> bool,
        place: Place,
    ) -> Option<Outcome> {
        let (cx, handler) = match state {
            Ok((cx, h)) => (cx, h.clone()),
            Err(a) => return Some(Outcome::Fallback(a.clone())),
        };
        let mut cut = false;
        let r = match self.run(cx, &handler, req, place, &mut cut) {
            // Run where it was read: a fetch, or the budget cut short, moves the request to a worker.
            Err(Ctl::Abort(a))
                if place == Place::Inline
                    && (WANTS_IO.with(|w| w.replace(false))
                        || (cut && a.kind == AbortKind::Deadline)) =>
            {
                cx.io = None;
                cx.logs.clear();
                cx.heap.reset();
                return None;
            }
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
        Some(outcome)
    }

    /// Runs the handler on `req`. Where it was read (`Place::Inline`) the request may not wait for I/O
    /// (`MoveIo`) and gets at most `INLINE_BUDGET`; `cut` tells whether that budget is below its deadline.
    fn run(
        &self,
        cx: &mut Cx,
        handler: &Handler,
        req: &RequestParts,
        place: Place,
        cut: &mut bool,
    ) -> Result<ResponseParts, Ctl> {
        let inc = Incoming::parse(req)?;
        let body = match handler {
            Handler::Openfaas(_) => request::openfaas_body(&inc, &req.body, &self.config.body)?,
            Handler::Containerless(_) => {
                request::containerless_body(&inc, &req.body, &self.config.body)?
            }
        };
        let x_timeout = inc.header("x-timeout").map(|v| v.to_rust_string());
        let mut limits = self.config.limits(x_timeout.as_deref());
        if place == Place::Inline {
            *cut = INLINE_BUDGET < limits.deadline;
            limits.deadline = limits.deadline.min(INLINE_BUDGET);
            WANTS_IO.with(|w| w.set(false));
        }
        cx.begin_request(&limits);
        cx.io = match place {
            Place::Inline => Some(Box::new(MoveIo)),
            Place::Worker => {
                let pool = self.pool.handle();
                (self.io)().map(|inner| Box::new(CountedIo { inner, pool }) as Box<dyn Io>)
            }
        };
        let facts = inc.facts();
        match handler {
            Handler::Openfaas(h) => {
                let body = request::body_value(cx, &body)?;
                let headers = request::headers_value(cx, &inc)?;
                let method = Value::Str(names::method(inc.method));
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

pub(crate) fn json_str(s: &str) -> String {
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
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming as HyperBody;
use hyper::header::{HeaderName, HeaderValue};
use hyper::{Request, Response, StatusCode};

/// Bodies larger than this are not read: the request falls back.
const MAX_BODY: usize = 64 << 20;

fn to_hyper(parts: ResponseParts, duration: Option<Duration>) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(parts.body)));
    *r.status_mut() =
        StatusCode::from_u16(parts.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let h = r.headers_mut();
    h.reserve(parts.headers.len() + 1);
    for (n, v) in parts.headers {
        if let (Ok(n), Ok(v)) = (header_name(&n), HeaderValue::try_from(v)) {
            h.append(n, v);
        }
    }
    if let Some(d) = duration {
        let mut buf = [0u8; 32];
        if let Ok(v) = HeaderValue::from_bytes(seconds_text(d, &mut buf)) {
            // Made at compile time: `from_static` checks the name when called.
            const X_DURATION_SECONDS: HeaderName = HeaderName::from_static("x-duration-seconds");
            h.append(X_DURATION_SECONDS, v);
        }
    }
    r
}

/// The header name `n` (any case): the ones Express sets on every answer without parsing them.
fn header_name(n: &str) -> Result<HeaderName, hyper::header::InvalidHeaderName> {
    use hyper::header::{CONTENT_LENGTH, CONTENT_TYPE, ETAG};
    match n {
        "Content-Type" => Ok(CONTENT_TYPE),
        "Content-Length" => Ok(CONTENT_LENGTH),
        "ETag" => Ok(ETAG),
        _ => HeaderName::from_bytes(n.as_bytes()),
    }
}

/// `d` in seconds with six decimals (rounded to the microsecond), as `{:.6}` writes it, without
/// formatting a float.
fn seconds_text(d: Duration, buf: &mut [u8; 32]) -> &[u8] {
    let micros = (d.as_nanos() + 500) / 1000;
    let (mut secs, frac) = (micros / 1_000_000, (micros % 1_000_000) as u32);
    // Right to left: six fraction digits, the point, then the whole seconds (at least one digit).
    let mut i = buf.len();
    let mut f = frac;
    for _ in 0..6 {
        i -= 1;
        buf[i] = b'0' + (f % 10) as u8;
        f /= 10;
    }
    i -= 1;
    buf[i] = b'.';
    loop {
        i -= 1;
        buf[i] = b'0' + (secs % 10) as u8;
        secs /= 10;
        if secs == 0 || i == 0 {
            break;
        }
    }
    &buf[i..]
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

/// The marker's kind when the dispatcher holds as many requests as it may (`Config::max_inflight`): the
/// provider sends the request to Node, as for any give-up. Not a reason the compiled code gives.
pub const BUSY: &str = "busy";

fn busy_marker() -> Response<Full<Bytes>> {
    let mut r = plain(
        503,
        "the dispatcher's workers and queue are full (cl_workers_max, cl_queue)",
    );
    let h = r.headers_mut();
    h.insert(FALLBACK_HEADER, HeaderValue::from_static(BUSY));
    h.insert(SITE_HEADER, HeaderValue::from_static("0"));
    r
}

/// The most body bytes a parser can use: bodies over every parser's limit give up, whatever their length,
/// and bodies no parser reads are not looked at.
fn body_keep(config: &Config) -> usize {
    let limit = config.body.json_limit.max(request::DEFAULT_LIMIT);
    usize::try_from(limit)
        .unwrap_or(usize::MAX)
        .saturating_add(1)
}

/// Reads a request body to its end (at most `MAX_BODY` bytes), keeping its first `keep` bytes: a body longer
/// than that is kept as `keep` bytes, over every parser's limit as the whole body was. `None` for a body over
/// `MAX_BODY` or one that broke off.
async fn read_body(body: HyperBody, keep: usize) -> Option<Vec<u8>> {
    use hyper::body::Body as _;
    let mut body = body;
    let hint = body.size_hint().exact();
    if hint == Some(0) {
        return Some(Vec::new());
    }
    let mut out: Vec<u8> = match hint {
        Some(n) if (n as usize) <= keep => Vec::with_capacity(n as usize),
        _ => Vec::new(),
    };
    let mut total = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.ok()?;
        if let Ok(data) = frame.into_data() {
            total += data.len();
            if total > MAX_BODY {
                return None;
            }
            let room = keep.saturating_sub(out.len());
            out.extend_from_slice(&data[..data.len().min(room)]);
        }
    }
    Some(out)
}

/// Answers one HTTP request.
pub async fn respond(state: Arc<Dispatcher>, req: Request<HyperBody>) -> Response<Full<Bytes>> {
    let started = Instant::now();
    {
        // As the watchdog answers them (watchdog/server.ts): `OK` as text on health, everything else empty.
        let path = req.uri().path();
        if path == "/_/health" || path == "/_/ready" {
            return if req.method() != hyper::Method::GET {
                empty(405)
            } else if !state.is_ready() {
                empty(503)
            } else if path == "/_/health" {
                plain(200, "OK")
            } else {
                empty(200)
            };
        }
    }
    let log = state.config.log_requests;
    let target = match req.uri().path_and_query() {
        Some(pq) if req.uri().scheme().is_none() => pq.as_str().to_string(),
        _ => req.uri().to_string(),
    };
    let path_len = target.find('?').unwrap_or(target.len());
    let refused = if target[..path_len] == *front::marker() {
        Some("a request target the dispatcher's HTTP parser refuses or reads differently from Node's")
    } else {
        node_would_refuse(&req)
    };
    if let Some(why) = refused {
        let a = abort(AbortKind::Unsupported, why);
        if log {
            let o = Outcome::Fallback(a.clone());
            log_request(req.method().as_str(), &target[..path_len], &o, 503, started);
        }
        return to_hyper(fallback_marker(&a), None);
    }
    let Some(admission) = state.admit() else {
        if log {
            eprintln!(
                "{{\"method\":{},\"path\":{},\"status\":503,\"outcome\":\"fallback\",\"reason\":\"busy\"}}",
                json_str(req.method().as_str()),
                json_str(&target[..path_len])
            );
        }
        return busy_marker();
    };
    let (head, body) = req.into_parts();
    let headers: Vec<(String, Vec<u8>)> = head
        .headers
        .iter()
        .map(|(n, v)| (n.as_str().to_string(), v.as_bytes().to_vec()))
        .collect();
    let method = head.method.as_str().to_string();
    let log_path = log.then(|| target[..path_len].to_string());
    let outcome = match read_body(body, body_keep(&state.config)).await {
        None => Outcome::Fallback(abort(
            AbortKind::Unsupported,
            "a request body the dispatcher does not read (too large or broken)",
        )),
        Some(body) => {
            let parts = RequestParts {
                method,
                target,
                headers,
                body,
            };
            match state.try_inline(&parts) {
                Some(o) => o,
                None => {
                    let x_timeout = head
                        .headers
                        .get("x-timeout")
                        .and_then(|v| v.to_str().ok())
                        .filter(|s| !s.is_empty());
                    let budget = state.config.limits(x_timeout).deadline + Duration::from_secs(2);
                    to_workers(&state, parts, admission, budget).await
                }
            }
        }
    };
    if let Some(path) = log_path {
        let status = match &outcome {
            Outcome::Answer(p) => p.status,
            Outcome::Fallback(_) => 503,
        };
        log_request(head.method.as_str(), &path, &outcome, status, started);
    }
    match outcome {
        Outcome::Answer(p) => to_hyper(p, Some(started.elapsed())),
        Outcome::Fallback(a) => to_hyper(fallback_marker(&a), None),
    }
}

/// Serves a request on a worker (`pool.rs`), waiting for it at most `budget`: past that, the request is
/// handed back, and its answer, if it comes later, is dropped with its writes to module state.
async fn to_workers(
    state: &Arc<Dispatcher>,
    parts: RequestParts,
    admission: Admission,
    budget: Duration,
) -> Outcome {
    let st = state.clone();
    let ticket = Arc::new(Ticket::new(admission));
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

    if state.serves_inline() {
        // Each thread loads its realm with its first request; a few load theirs now, the first one makes
        // the dispatcher ready.
        for _ in 0..state.inline_max {
            let st = state.clone();
            tokio::spawn(async move { st.warm_inline() });
        }
    } else {
        state.start_workers();
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
                // Answers go out as soon as they are written (one write each), not held back for an ACK.
                let _ = stream.set_nodelay(true);
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

/// tokio's blocking threads at most (name lookups of fetches).
const BLOCKING_THREADS: usize = 4;

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
    // Requests run on tokio's threads (which need the workers' stack: generated code recurses as the
    // JavaScript did) until they wait for I/O, then on the dispatcher's own workers (pool.rs); tokio's
    // blocking pool only resolves the names fetches connect to.
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(config.io_threads())
        .enable_all()
        .thread_stack_size(pool::STACK)
        .max_blocking_threads(BLOCKING_THREADS)
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
    fn header_names_express_sets_are_the_parsed_ones() {
        for n in ["Content-Type", "Content-Length", "ETag", "X-Other", "etag"] {
            assert_eq!(
                header_name(n).unwrap(),
                HeaderName::from_bytes(n.as_bytes()).unwrap()
            );
        }
    }

    #[test]
    fn durations_are_written_as_seconds_with_six_decimals() {
        for (nanos, text) in [
            (0u64, "0.000000"),
            (79_590_000, "0.079590"),
            (10_499, "0.000010"),
            (10_501, "0.000011"),
            (1_234_567_890, "1.234568"),
            (999_999_600, "1.000000"),
            (12_000_000_000, "12.000000"),
        ] {
            let mut buf = [0u8; 32];
            let d = Duration::from_nanos(nanos);
            assert_eq!(seconds_text(d, &mut buf), text.as_bytes(), "{:?}", d);
            assert_eq!(format!("{:.6}", d.as_secs_f64()), text, "{:?}", d);
        }
    }

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

    #[test]
    fn tokio_threads_are_the_cores_the_workers_leave() {
        let with = |w: Option<usize>, m: Option<usize>| Config {
            workers: w,
            workers_max: m,
            ..Config::default()
        };
        // Requests run on tokio's threads: one per core.
        assert_eq!(with(None, None).io_threads(), cores());
        assert_eq!(with(Some(1), Some(4)).io_threads(), cores());
        // Every request runs on the workers: tokio gets the other cores, at least one.
        assert_eq!(
            with(Some(1), None).io_threads(),
            cores().saturating_sub(1).max(1)
        );
        assert_eq!(with(Some(cores()), None).io_threads(), 1);
        assert_eq!(with(Some(cores() + 3), Some(cores() + 3)).io_threads(), 1);
    }
}
