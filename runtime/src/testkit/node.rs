//! Running Node (the version the runtime copies, checked), comparing its answers line by line, and small
//! deterministic generators for inputs. Standard library only: `tests/dispatcher.rs` includes this file too.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

/// A temporary file name unique to this process and call.
fn temp_path(tag: &str, ext: &str) -> std::path::PathBuf {
    static N: AtomicU64 = AtomicU64::new(0);
    std::env::temp_dir().join(format!(
        "clrt-{}-{}-{}.{}",
        tag,
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed),
        ext
    ))
}

/// The Node.js the differential tests compare with: `$CONTAINERLESS_NODE` if set, else `node` on PATH.
/// It must be the major version `.nvmrc` names (the Node whose behaviour the runtime copies, which the
/// function image ships): another Node answers differently in places (Array.prototype.sort's
/// comparisons, Math.pow, RegExp syntax), and its differences would show up as false divergences, so
/// the first use panics with what to do instead. Checked once per process.
pub fn node_bin() -> &'static str {
    static BIN: OnceLock<String> = OnceLock::new();
    BIN.get_or_init(|| {
        let bin = std::env::var("CONTAINERLESS_NODE").unwrap_or_else(|_| "node".into());
        let nvmrc = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../.nvmrc");
        let want = std::fs::read_to_string(&nvmrc)
            .unwrap_or_else(|e| panic!("cannot read {}: {}", nvmrc.display(), e));
        let want = want.trim().trim_start_matches('v').to_string();
        let want_major = want.split('.').next().unwrap_or_default().to_string();
        let fix = format!(
            "run `export PATH=$(bash .ci/node.sh):$PATH` (it installs Node {} and prints its bin folder) \
             or set CONTAINERLESS_NODE to a Node {} binary",
            want, want_major
        );
        let out = std::process::Command::new(&bin)
            .arg("--version")
            .output()
            .unwrap_or_else(|e| {
                panic!("differential tests need Node.js {} but cannot run `{}`: {}; {}", want, bin, e, fix)
            });
        let got = String::from_utf8_lossy(&out.stdout).trim().trim_start_matches('v').to_string();
        let got_major = got.split('.').next().unwrap_or_default();
        assert!(
            out.status.success() && got_major == want_major,
            "differential tests compare with Node.js {} (.nvmrc), whose behaviour the runtime copies, \
             but `{}` is Node {:?}: its answers differ from Node {}'s in places and would show as false \
             divergences; {}",
            want,
            bin,
            got,
            want_major,
            fix
        );
        bin
    })
}

/// A command that runs the Node of `node_bin`.
pub fn node_command() -> std::process::Command {
    std::process::Command::new(node_bin())
}

/// Runs Node with `args` and returns its stdout, asserting that it succeeded.
fn node(args: &[&std::ffi::OsStr]) -> String {
    let out = node_command().args(args).output().expect("run node");
    assert!(
        out.status.success(),
        "node failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("node printed UTF-8")
}

/// Runs the JavaScript program `js` in Node (from a temporary file, kept when `CLRT_KEEP_JS` is set).
pub fn node_script(tag: &str, js: &str) -> String {
    let path = temp_path(tag, "js");
    std::fs::write(&path, js).expect("write the Node script");
    let out = node(&[path.as_os_str()]);
    if std::env::var("CLRT_KEEP_JS").is_err() {
        let _ = std::fs::remove_file(&path);
    }
    out
}

/// Runs `script` with `node -e`, with the path of a file holding `input` as `process.argv[1]`.
pub fn node_eval_with_input(script: &str, input: &str) -> String {
    let path = temp_path("input", "json");
    std::fs::write(&path, input).expect("write the input file");
    let out = node(&[
        std::ffi::OsStr::new("-e"),
        std::ffi::OsStr::new(script),
        path.as_os_str(),
    ]);
    let _ = std::fs::remove_file(&path);
    out
}

/// Node's output lines, asserting there is one per case.
pub fn lines_for(out: &str, cases: usize) -> Vec<&str> {
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines.len(),
        cases,
        "node printed {} lines for {} cases",
        lines.len(),
        cases
    );
    lines
}

/// Asserts that every answer we gave (`None`: a give-up, not compared) equals Node's; returns how many
/// were compared.
pub fn assert_agree<'a>(
    rows: impl IntoIterator<Item = (String, Option<String>, &'a str)>,
) -> usize {
    let mut bad = Vec::new();
    let mut compared = 0;
    for (what, ours, node) in rows {
        let Some(o) = ours else { continue };
        compared += 1;
        if o != node {
            bad.push(format!("{}: node {} ours {}", what, node, o));
        }
    }
    assert!(
        bad.is_empty(),
        "{} of {} differ from Node:\n{}",
        bad.len(),
        compared,
        bad.iter().take(30).cloned().collect::<Vec<_>>().join("\n")
    );
    compared
}

/// xorshift64: a deterministic generator for inputs.
pub struct XorShift(pub u64);
impl XorShift {
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    /// A double in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// xorshift64*: another deterministic generator (the RegExp and JSON tests' sequences depend on it).
pub struct XorShiftStar(pub u64);
impl XorShiftStar {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545F4914F6CDD1D)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    pub fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len())]
    }
}
