//! The dispatcher's workers: threads of its own, each with its realm (a replica of the function), taking
//! requests from one queue in arrival order. They serve every request when the realms are exactly
//! `cl_workers`; otherwise they serve those that wait for I/O or run long, the others being served on the
//! tokio threads that read them (`mod.rs`), and the pool holds the realms those threads leave (its `max` is
//! `cl_workers_max` less theirs) and starts with the first request sent to it.
//!
//! Compiled code runs a request from start to finish on one thread: `await` of a fetch blocks that
//! thread until the response is in (the fetch itself runs on tokio, so a request's own fetches overlap).
//! A realm cannot serve another request meanwhile: the waiting request's frames hold it. So the number of
//! realms bounds how many requests can wait for I/O at once, and the pool sizes itself between two
//! bounds:
//!
//! - `base` workers (`cl_workers`, by default the number of cores) start with the dispatcher (`start`) or
//!   the first request (`submit`) and stay:
//!   that many requests compute at once, which is all the machine can run;
//! - while some of them wait for I/O and requests are queued, more workers start, up to `max`
//!   (`cl_workers_max`), so that `base` of them can still compute: I/O-bound functions keep up to `max`
//!   fetches in flight; compute-bound ones never start more than `base`. A worker above `base` that has
//!   found nothing to do for `IDLE_EXIT` ends, and its realm with it.
//!
//! Memory is then bounded by `max` realms (each a few MB) plus what the queued requests hold, whose
//! number the dispatcher bounds before it reads them.

use std::cell::Cell;
use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

/// Work for a thread that serves requests.
pub type Job = Box<dyn FnOnce() + Send>;

/// How long a worker above the base count waits for work before it ends.
const IDLE_EXIT: Duration = Duration::from_secs(30);

/// Stack of a worker thread: generated code recurses as the JavaScript did.
pub(crate) const STACK: usize = 32 << 20;

thread_local! {
    /// Whether this thread is one of a pool's workers (its waits for I/O are counted).
    static ON_WORKER: Cell<bool> = const { Cell::new(false) };
}

pub struct Pool {
    shared: Arc<Shared>,
}

struct Shared {
    state: Mutex<State>,
    work: Condvar,
    base: usize,
    max: usize,
    /// Run by every worker when it starts, before it takes a request (loads its realm).
    warm: OnceLock<Box<dyn Fn() + Send + Sync>>,
}

#[derive(Default)]
struct State {
    queue: VecDeque<Job>,
    /// Worker threads alive (starting, waiting for work or running a request).
    threads: usize,
    /// Of those, running a request.
    busy: usize,
    /// Of the busy ones, blocked until a fetch's response is in.
    waiting_io: usize,
    /// Waiting on the condition variable for work.
    sleeping: usize,
    /// Wake-ups sent to sleeping workers that none of them has taken yet: a job finds a sleeper to wake
    /// only while `sleeping` exceeds it (a sleeper already woken takes the queue's jobs as it loops).
    waking: usize,
    /// Threads numbered so far (names).
    named: usize,
    started: bool,
    closed: bool,
}

/// How many workers a pool has, for the tests and the status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolCounts {
    pub threads: usize,
    pub busy: usize,
    pub waiting_io: usize,
    pub queued: usize,
}

impl Pool {
    /// A pool of `base` to `max` workers; no thread starts before `start` (or the first `submit`).
    pub fn new(base: usize, max: usize) -> Pool {
        let base = base.max(1);
        Pool {
            shared: Arc::new(Shared {
                state: Mutex::new(State::default()),
                work: Condvar::new(),
                base,
                max: max.max(base),
                warm: OnceLock::new(),
            }),
        }
    }

    /// Starts the base workers, each running `warm` first. Later calls do nothing.
    pub fn start(&self, warm: Box<dyn Fn() + Send + Sync>) {
        let _ = self.shared.warm.set(warm);
        let mut st = self.shared.lock();
        self.shared.start_base(&mut st);
    }

    /// Queues `job`; a free worker takes it, or a new one when the busy ones wait for I/O.
    pub fn submit(&self, job: Job) {
        let wake = {
            let mut st = self.shared.lock();
            self.shared.start_base(&mut st);
            st.queue.push_back(job);
            self.shared.grow(&mut st);
            let wake = st.sleeping > st.waking;
            if wake {
                st.waking += 1;
            }
            wake
        };
        // Outside the lock: the worker woken takes the lock at once, and would otherwise wait for it.
        if wake {
            self.shared.work.notify_one();
        }
    }

    pub fn counts(&self) -> PoolCounts {
        let st = self.shared.lock();
        PoolCounts {
            threads: st.threads,
            busy: st.busy,
            waiting_io: st.waiting_io,
            queued: st.queue.len(),
        }
    }

    /// Runs `wait` (a block until I/O completes) counted as a wait for I/O when called on one of this
    /// pool's workers: while it lasts, another worker may start to take queued requests.
    pub fn io_wait<R>(shared: &PoolRef, wait: impl FnOnce() -> R) -> R {
        if !ON_WORKER.with(|w| w.get()) {
            return wait();
        }
        {
            let mut st = shared.0.lock();
            st.waiting_io += 1;
            shared.0.grow(&mut st);
        }
        let r = wait();
        shared.0.lock().waiting_io -= 1;
        r
    }

    /// A handle for `io_wait`.
    pub fn handle(&self) -> PoolRef {
        PoolRef(self.shared.clone())
    }
}

/// A pool, as the I/O of the requests it runs sees it.
#[derive(Clone)]
pub struct PoolRef(Arc<Shared>);

impl Drop for Pool {
    fn drop(&mut self) {
        let mut st = self.shared.lock();
        st.closed = true;
        self.shared.work.notify_all();
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A worker never panics while holding the lock (jobs run outside it).
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn start_base(self: &Arc<Self>, st: &mut State) {
        if st.started || st.closed {
            return;
        }
        st.started = true;
        for _ in 0..self.base {
            self.spawn(st);
        }
    }

    /// Starts one more worker when requests are queued and fewer than `base` workers are free to compute
    /// (the others wait for I/O).
    fn grow(self: &Arc<Self>, st: &mut State) {
        if st.started
            && !st.closed
            && st.threads < self.max
            && !st.queue.is_empty()
            && st.threads - st.waiting_io < self.base
        {
            self.spawn(st);
        }
    }

    fn spawn(self: &Arc<Self>, st: &mut State) {
        let me = self.clone();
        let n = st.named;
        let spawned = std::thread::Builder::new()
            .name(format!("cl-worker-{}", n))
            .stack_size(STACK)
            .spawn(move || me.work());
        match spawned {
            Ok(_) => {
                st.threads += 1;
                st.named += 1;
            }
            Err(e) => eprintln!(
                "{{\"msg\":\"cannot start a worker thread\",\"error\":{}}}",
                super::json_str(&e.to_string())
            ),
        }
    }

    fn work(self: Arc<Self>) {
        ON_WORKER.with(|w| w.set(true));
        if let Some(warm) = self.warm.get() {
            warm();
        }
        let mut st = self.lock();
        loop {
            if let Some(job) = st.queue.pop_front() {
                st.busy += 1;
                drop(st);
                // A panic is the job's to report (its answer channel closes); the worker goes on.
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                st = self.lock();
                st.busy -= 1;
                continue;
            }
            if st.closed {
                break;
            }
            st.sleeping += 1;
            let (guard, waited) = self
                .work
                .wait_timeout(st, IDLE_EXIT)
                .unwrap_or_else(|e| e.into_inner());
            st = guard;
            st.sleeping -= 1;
            st.waking = st.waking.saturating_sub(1);
            if waited.timed_out() && st.queue.is_empty() && st.threads > self.base {
                break;
            }
        }
        st.threads -= 1;
    }
}
