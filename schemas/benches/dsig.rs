//! XML Signature benchmarks on the federation's realistic signed assertion (tests/support), next to
//! libxmlsec1 and a bare OpenSSL RSA-2048 operation, all in one run.
//!
//! Run: `cargo bench -p schemas --bench dsig`.
//!
//! Criterion measures our side (groups `verify`, `sign`, `rsa2048`, `parse`). After the groups,
//! `main` compiles `benches/reference/xmlsec_bench.c` with `cc` against libxmlsec1-openssl (into
//! `<target>/dsig-bench/`, only when the bench runs: normal builds never need libxmlsec1), runs it
//! on the same signed document and key, reads criterion's own estimates
//! (`<target>/criterion/<group>/<bench>/new/estimates.json`) and prints the comparison table
//! between `==== dsig comparison ====` markers; the same table is written to
//! `<target>/bench-dsig.json`.
//!
//! Environment: `DSIG_BENCH_XMLSEC_SECONDS` (default 3) is the measuring time of each libxmlsec1
//! measurement; `DSIG_BENCH_OPENSSL_SPEED=0` skips `openssl speed rsa2048`;
//! `DSIG_BENCH_CLOCK=cpu` times everything (criterion and the libxmlsec1 loop alike) with the
//! thread's CPU clock instead of the wall clock, so that other jobs on a shared machine that
//! preempt the benchmark do not count (Linux only; the default is the wall clock).

#[path = "../tests/support/mod.rs"]
mod support;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use criterion::measurement::{Measurement, ValueFormatter};
use criterion::{criterion_group, BenchmarkId, Criterion, Throughput};
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private, Public};
use schemas::dsig::{
    sign_enveloped, verify_enveloped, KeySigner, SignOptions, SignatureAlgorithm, TrustedKey,
    VerifyPolicy,
};
use schemas::ns::DS;
use schemas::xml::c14n::{canonicalize, C14nOptions};
use schemas::xml::parse;
use std::hint::black_box;

const ASSERTION_ID: &str = "_a75adf55-01d7-40cc-929f-dbd8372ebdfc";
const NAME_ID: &str = "f3b2c1d0-9e8d-4c7b-a6f5-e4d3c2b1a090";

/// The benchmarked document and keys, made once.
struct Fixture {
    unsigned: String,
    signed: String,
    trusted: Vec<TrustedKey>,
    signer: KeySigner,
    private_key: PKey<Private>,
    public_key: PKey<Public>,
    key_pem: PathBuf,
    cert_pem: PathBuf,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let key = support::idp_key();
        let unsigned = support::assertion(ASSERTION_ID, NAME_ID);
        let signed = support::sign(&unsigned, ASSERTION_ID, key);
        let trusted = vec![key.trusted()];
        let public_key = trusted[0].public_key().clone();
        // The document must verify, and a tampered copy must not, before anything is measured.
        let doc = parse(signed.as_bytes()).expect("signed assertion parses");
        verify_enveloped(doc.root(), &trusted, &VerifyPolicy::default())
            .expect("signed assertion verifies");
        let tampered = signed.replacen(">high<", ">High<", 1);
        assert_ne!(tampered, signed);
        let doc = parse(tampered.as_bytes()).unwrap();
        assert!(verify_enveloped(doc.root(), &trusted, &VerifyPolicy::default()).is_err());
        Fixture {
            unsigned,
            signed,
            trusted,
            signer: key.signer(SignatureAlgorithm::RsaSha256),
            private_key: key.key.clone(),
            public_key,
            key_pem: key.key_pem.clone(),
            cert_pem: key.cert_pem.clone(),
        }
    })
}

// ---------------------------------------------------------------------------------------------
// The clock: wall time (criterion's default) or the thread's CPU time
// ---------------------------------------------------------------------------------------------

/// Criterion measurement in nanoseconds of either the wall clock or the thread CPU clock.
#[derive(Clone, Copy)]
pub struct BenchClock {
    cpu: bool,
}

impl BenchClock {
    fn from_env() -> Self {
        BenchClock {
            cpu: cpu_clock_requested() && thread_cpu_ns().is_some(),
        }
    }

    fn name(self) -> &'static str {
        if self.cpu {
            "cpu"
        } else {
            "wall"
        }
    }

    fn now_ns(self) -> u64 {
        if self.cpu {
            if let Some(ns) = thread_cpu_ns() {
                return ns;
            }
        }
        static BASE: OnceLock<std::time::Instant> = OnceLock::new();
        BASE.get_or_init(std::time::Instant::now)
            .elapsed()
            .as_nanos() as u64
    }
}

fn cpu_clock_requested() -> bool {
    std::env::var("DSIG_BENCH_CLOCK").is_ok_and(|v| v == "cpu")
}

/// CLOCK_THREAD_CPUTIME_ID (user + system time of this thread), in ns.
#[cfg(target_os = "linux")]
fn thread_cpu_ns() -> Option<u64> {
    #[repr(C)]
    struct Timespec {
        tv_sec: i64,
        tv_nsec: i64,
    }
    extern "C" {
        fn clock_gettime(clock: i32, tp: *mut Timespec) -> i32;
    }
    const CLOCK_THREAD_CPUTIME_ID: i32 = 3;
    let mut ts = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec (64-bit fields on the 64-bit Linux targets).
    let rc = unsafe { clock_gettime(CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    (rc == 0).then(|| ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64)
}

#[cfg(not(target_os = "linux"))]
fn thread_cpu_ns() -> Option<u64> {
    None
}

impl Measurement for BenchClock {
    type Intermediate = u64;
    type Value = u64;

    fn start(&self) -> u64 {
        self.now_ns()
    }
    fn end(&self, start: u64) -> u64 {
        self.now_ns().saturating_sub(start)
    }
    fn add(&self, a: &u64, b: &u64) -> u64 {
        a + b
    }
    fn zero(&self) -> u64 {
        0
    }
    fn to_f64(&self, value: &u64) -> f64 {
        *value as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        &NanosFormatter
    }
}

/// Formats nanoseconds as criterion's wall-time formatter does.
struct NanosFormatter;

impl ValueFormatter for NanosFormatter {
    fn scale_values(&self, ns: f64, values: &mut [f64]) -> &'static str {
        let (factor, unit) = if ns < 1e3 {
            (1.0, "ns")
        } else if ns < 1e6 {
            (1e-3, "µs")
        } else if ns < 1e9 {
            (1e-6, "ms")
        } else {
            (1e-9, "s")
        };
        for v in values {
            *v *= factor;
        }
        unit
    }

    fn scale_throughputs(
        &self,
        typical: f64,
        throughput: &Throughput,
        values: &mut [f64],
    ) -> &'static str {
        let (per_op, units): (f64, [&'static str; 4]) = match *throughput {
            Throughput::Bytes(b) | Throughput::BytesDecimal(b) => {
                (b as f64, ["B/s", "KB/s", "MB/s", "GB/s"])
            }
            Throughput::Bits(b) => (b as f64, ["b/s", "Kb/s", "Mb/s", "Gb/s"]),
            Throughput::Elements(e) | Throughput::ElementsAndBytes { elements: e, .. } => {
                (e as f64, ["elem/s", "Kelem/s", "Melem/s", "Gelem/s"])
            }
        };
        let rate = per_op * 1e9 / typical;
        let (denominator, unit) = if rate < 1e3 {
            (1.0, units[0])
        } else if rate < 1e6 {
            (1e3, units[1])
        } else if rate < 1e9 {
            (1e6, units[2])
        } else {
            (1e9, units[3])
        };
        for v in values {
            *v = per_op * 1e9 / *v / denominator;
        }
        unit
    }

    fn scale_for_machines(&self, _values: &mut [f64]) -> &'static str {
        "ns"
    }
}

// ---------------------------------------------------------------------------------------------
// Criterion groups
// ---------------------------------------------------------------------------------------------

fn bench_verify(c: &mut Criterion<BenchClock>) {
    let f = fixture();
    let policy = VerifyPolicy::default();
    let bytes = f.signed.as_bytes();
    let mut g = c.benchmark_group("verify");
    g.throughput(Throughput::Elements(1));
    g.bench_function("ours", |b| {
        b.iter(|| {
            let doc = parse(black_box(bytes)).unwrap();
            let verified = verify_enveloped(doc.root(), &f.trusted, &policy).unwrap();
            black_box(verified)
        })
    });
    g.bench_function("ours+typed-reparse", |b| {
        b.iter(|| {
            let doc = parse(black_box(bytes)).unwrap();
            let verified = verify_enveloped(doc.root(), &f.trusted, &policy).unwrap();
            let typed = verified.document().unwrap();
            black_box(typed)
        })
    });
    g.finish();
}

fn bench_sign(c: &mut Criterion<BenchClock>) {
    let f = fixture();
    let options = SignOptions::default();
    let mut g = c.benchmark_group("sign");
    g.throughput(Throughput::Elements(1));
    g.sample_size(20).measurement_time(Duration::from_secs(4));
    g.bench_function("ours", |b| {
        b.iter(|| {
            black_box(
                sign_enveloped(black_box(&f.unsigned), ASSERTION_ID, &f.signer, &options).unwrap(),
            )
        })
    });
    g.finish();
}

fn bench_rsa(c: &mut Criterion<BenchClock>) {
    let f = fixture();
    let data = vec![0x5au8; 1024];
    let signature = {
        let mut s = openssl::sign::Signer::new(MessageDigest::sha256(), &f.private_key).unwrap();
        s.sign_oneshot_to_vec(&data).unwrap()
    };
    let mut g = c.benchmark_group("rsa2048");
    g.throughput(Throughput::Elements(1));
    g.sample_size(30);
    g.bench_function("bare_sign", |b| {
        b.iter(|| {
            let mut s =
                openssl::sign::Signer::new(MessageDigest::sha256(), &f.private_key).unwrap();
            black_box(s.sign_oneshot_to_vec(black_box(&data)).unwrap())
        })
    });
    g.bench_function("bare_verify", |b| {
        b.iter(|| {
            let mut v =
                openssl::sign::Verifier::new(MessageDigest::sha256(), &f.public_key).unwrap();
            assert!(v
                .verify_oneshot(black_box(&signature), black_box(&data))
                .unwrap());
        })
    });
    g.finish();
}

fn bench_parse(c: &mut Criterion<BenchClock>) {
    let f = fixture();
    let bytes = f.signed.as_bytes();
    let doc = parse(bytes).unwrap();
    let root = doc.root();
    let signature = root.first(DS, "Signature").unwrap();
    let options = C14nOptions {
        exclude: Some(signature.node_id()),
        ..Default::default()
    };
    let mut g = c.benchmark_group("parse");
    g.throughput(Throughput::Bytes(bytes.len() as u64));
    g.measurement_time(Duration::from_secs(2));
    g.bench_function(BenchmarkId::new("parse", "signed_assertion"), |b| {
        b.iter(|| black_box(parse(black_box(bytes)).unwrap()))
    });
    g.bench_function(BenchmarkId::new("exc_c14n", "assertion"), |b| {
        b.iter(|| black_box(canonicalize(black_box(root), &options)))
    });
    g.finish();
}

fn config() -> Criterion<BenchClock> {
    Criterion::default()
        .with_measurement(BenchClock::from_env())
        .output_directory(&criterion_dir())
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(50)
}

criterion_group! {
    name = benches;
    config = config();
    targets = bench_verify, bench_sign, bench_rsa, bench_parse
}

fn main() {
    let started = SystemTime::now();
    let args: Vec<String> = std::env::args().collect();
    // `cargo test --benches` runs this binary without `--bench` (criterion's quick test mode);
    // `--list` only lists and `--profile-time` only loops for a profiler. None of them measures,
    // so none gets the comparison.
    let measuring = args.iter().any(|a| a == "--bench")
        && !args
            .iter()
            .any(|a| a == "--list" || a.starts_with("--profile-time"));
    let load_before = load_average();
    fixture();
    benches();
    Criterion::default().configure_from_args().final_summary();
    if measuring {
        report(started, load_before);
    }
    // support::idp_key() wrote its PEM files to a per-process temp dir; leave nothing behind.
    if let Some(dir) = fixture().key_pem.parent() {
        if dir.file_name().is_some_and(|n| {
            n.to_string_lossy() == format!("schemas-test-keys-{}", std::process::id())
        }) {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// The 1-minute load average: other work on the machine shows up in every rate of the table.
fn load_average() -> Option<String> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    text.split_whitespace().next().map(str::to_string)
}

// ---------------------------------------------------------------------------------------------
// The comparison
// ---------------------------------------------------------------------------------------------

fn target_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(dir);
    }
    // <target>/<profile>/deps/dsig-<hash>
    let exe = std::env::current_exe().expect("current exe");
    exe.ancestors()
        .nth(3)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("target"))
}

fn criterion_dir() -> PathBuf {
    match std::env::var_os("CRITERION_HOME") {
        Some(dir) => PathBuf::from(dir),
        None => target_dir().join("criterion"),
    }
}

/// Criterion's estimates for one benchmark of this run, in ns.
#[derive(Clone, Copy)]
struct Estimate {
    mean: f64,
    lower: f64,
    upper: f64,
    median: f64,
}

fn estimate(group: &str, bench: &str, started: SystemTime) -> Option<Estimate> {
    let path = criterion_dir()
        .join(group)
        .join(bench)
        .join("new")
        .join("estimates.json");
    let modified = std::fs::metadata(&path).ok()?.modified().ok()?;
    if modified < started {
        return None; // left over from an earlier run (filtered out of this one)
    }
    let text = std::fs::read_to_string(&path).ok()?;
    Some(Estimate {
        mean: json_number(&text, &["mean", "point_estimate"])?,
        lower: json_number(&text, &["mean", "lower_bound"])?,
        upper: json_number(&text, &["mean", "upper_bound"])?,
        median: json_number(&text, &["median", "point_estimate"])?,
    })
}

/// The number after the keys `path`, each searched after the previous one (enough for
/// criterion's and our reference program's flat, known JSON; no JSON crate is a dependency).
fn json_number(text: &str, path: &[&str]) -> Option<f64> {
    let mut at = 0;
    for key in path {
        let quoted = format!("\"{key}\"");
        at += text[at..].find(&quoted)? + quoted.len();
    }
    let rest = text[at..].trim_start().strip_prefix(':')?.trim_start();
    let end = rest
        .find(|c: char| !(c.is_ascii_digit() || matches!(c, '.' | '-' | '+' | 'e' | 'E')))
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

fn json_string(text: &str, key: &str) -> Option<String> {
    let quoted = format!("\"{key}\"");
    let at = text.find(&quoted)? + quoted.len();
    let rest = text[at..]
        .trim_start()
        .strip_prefix(':')?
        .trim_start()
        .strip_prefix('"')?;
    Some(rest[..rest.find('"')?].to_string())
}

impl Reference {
    /// Time per operation of the median round, as a rate.
    fn median(&self, name: &str) -> f64 {
        json_number(&self.json, &[name, "median_round_ops_per_sec"]).unwrap_or(f64::NAN)
    }
}

struct Reference {
    json: String,
    verify_strict: f64,
    verify_default: f64,
    sign: f64,
    parse: f64,
    sign_out_verifies: bool,
}

/// Compiles and runs the libxmlsec1 reference on the same document and key.
fn run_reference(work: &Path) -> Result<Reference, String> {
    let f = fixture();
    let out_dir = target_dir().join("dsig-bench");
    std::fs::create_dir_all(&out_dir).map_err(|e| e.to_string())?;
    let src = out_dir.join("xmlsec_bench.c");
    std::fs::write(&src, include_str!("reference/xmlsec_bench.c")).map_err(|e| e.to_string())?;
    let exe = out_dir.join("xmlsec_bench");

    let flags = [
        "pkg-config --cflags --libs xmlsec1-openssl",
        "xmlsec1-config --crypto=openssl --cflags --libs",
    ]
    .iter()
    .find_map(|cmd| {
        let mut parts = cmd.split(' ');
        let out = Command::new(parts.next()?).args(parts).output().ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    })
    .ok_or(
        "neither pkg-config nor xmlsec1-config knows libxmlsec1-openssl (install libxmlsec1-dev)",
    )?;
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let out = Command::new(&cc)
        .args(["-O2", "-o"])
        .arg(&exe)
        .arg(&src)
        .args(flags.split_whitespace())
        .output()
        .map_err(|e| format!("{cc}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "compiling the reference failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }

    let signed = work.join("signed.xml");
    let unsigned = work.join("unsigned.xml");
    let sign_out = work.join("xmlsec-signed.xml");
    std::fs::write(&signed, &f.signed).map_err(|e| e.to_string())?;
    std::fs::write(&unsigned, &f.unsigned).map_err(|e| e.to_string())?;
    let seconds = std::env::var("DSIG_BENCH_XMLSEC_SECONDS").unwrap_or_else(|_| "3".into());
    let clock = BenchClock::from_env().name();
    let out = Command::new(&exe)
        .arg("--signed")
        .arg(&signed)
        .arg("--unsigned")
        .arg(&unsigned)
        .arg("--key")
        .arg(&f.key_pem)
        .arg("--cert")
        .arg(&f.cert_pem)
        .arg("--seconds")
        .arg(&seconds)
        .arg("--sign-out")
        .arg(&sign_out)
        .arg("--clock")
        .arg(clock)
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!(
            "the reference failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let json = String::from_utf8_lossy(&out.stdout).into_owned();
    // libxmlsec1's signature must verify with ours: both sides did the same work.
    let xmlsec_signed = std::fs::read(&sign_out).map_err(|e| e.to_string())?;
    let sign_out_verifies = parse(&xmlsec_signed)
        .ok()
        .map(|doc| verify_enveloped(doc.root(), &f.trusted, &VerifyPolicy::default()).is_ok())
        .unwrap_or(false);
    let rate = |name: &str| {
        json_number(&json, &[name, "ops_per_sec"]).ok_or(format!("no {name} in {json}"))
    };
    Ok(Reference {
        verify_strict: rate("verify_strict")?,
        verify_default: rate("verify_default_keyinfo")?,
        sign: rate("sign")?,
        parse: rate("libxml2_parse")?,
        sign_out_verifies,
        json,
    })
}

/// `openssl speed -seconds 2 rsa2048`: the header and the rsa 2048 line.
fn openssl_speed() -> Option<String> {
    if std::env::var("DSIG_BENCH_OPENSSL_SPEED").is_ok_and(|v| v == "0") {
        return None;
    }
    let out = Command::new("openssl")
        .args(["speed", "-seconds", "2", "rsa2048"])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    let i = lines
        .iter()
        .position(|l| l.trim_start().starts_with("rsa") && l.contains("2048"))?;
    Some(
        lines[i.saturating_sub(1)..=i]
            .iter()
            .map(|l| l.trim_end())
            .collect::<Vec<_>>()
            .join("\n"),
    )
}

fn per_sec(ns: f64) -> f64 {
    1e9 / ns
}

fn thousands(x: f64) -> String {
    let n = x.round() as u64;
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "MET"
    } else {
        "MISSED"
    }
}

fn json_escape(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

fn opt_num(x: Option<f64>) -> String {
    x.map(|v| format!("{v:.3}"))
        .unwrap_or_else(|| "null".into())
}

fn report(started: SystemTime, load_before: Option<String>) {
    let f = fixture();
    let work = tempfile::tempdir().expect("temp dir");
    eprintln!("dsig bench: running the libxmlsec1 reference (compiled with cc) ...");
    let reference = run_reference(work.path());
    eprintln!("dsig bench: openssl speed -seconds 2 rsa2048 ...");
    let speed = openssl_speed();

    let rows: [(&str, &str, &str); 7] = [
        (
            "verify",
            "ours",
            "parse + verify_enveloped (c14n SignedInfo, reparse, RSA verify, c14n, SHA-256)",
        ),
        (
            "verify",
            "ours+typed-reparse",
            "... + parse the verified canonical bytes",
        ),
        (
            "sign",
            "ours",
            "sign_enveloped (parse, c14n, SHA-256, RSA sign, KeyInfo cert, splice)",
        ),
        (
            "rsa2048",
            "bare_sign",
            "openssl Signer RSA-SHA256 over 1 KB",
        ),
        (
            "rsa2048",
            "bare_verify",
            "openssl Verifier RSA-SHA256 over 1 KB",
        ),
        (
            "parse",
            "parse/signed_assertion",
            "parse only (signed assertion)",
        ),
        (
            "parse",
            "exc_c14n/assertion",
            "exc-c14n of the parsed assertion (signature excluded)",
        ),
    ];
    let est: Vec<Option<Estimate>> = rows
        .iter()
        .map(|(g, b, _)| estimate(g, b, started))
        .collect();
    let mean = |i: usize| est[i].map(|e| e.mean);
    let load_after = load_average();

    let mut t = String::new();
    let _ = writeln!(
        t,
        "==================================== dsig comparison ===================================="
    );
    let _ = writeln!(
        t,
        "document: saml:Assertion {} bytes signed ({} unsigned), enveloped RSA-SHA256 / SHA-256 / exc-c14n, RSA-2048 key",
        f.signed.len(),
        f.unsigned.len()
    );
    if let Ok(r) = &reference {
        let _ = writeln!(
            t,
            "libraries: libxmlsec1 {} (openssl), libxml2 {}, {}",
            json_string(&r.json, "xmlsec_version").unwrap_or_default(),
            json_string(&r.json, "libxml2_version").unwrap_or_default(),
            json_string(&r.json, "openssl_version").unwrap_or_default()
        );
    }
    let clock = match BenchClock::from_env().name() {
        "cpu" => "thread CPU time (DSIG_BENCH_CLOCK=cpu)",
        _ => "wall time",
    };
    let _ = writeln!(
        t,
        "clock: {clock}; all rates single-threaded (one core); ours = criterion mean [95% CI of the mean], libxmlsec1 = ops / time"
    );
    let _ = writeln!(
        t,
        "load average {} before, {} after ({} CPUs, shared with other work)",
        load_before.as_deref().unwrap_or("?"),
        load_after.as_deref().unwrap_or("?"),
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0)
    );
    let _ = writeln!(t);
    let _ = writeln!(
        t,
        "{:<34} {:>12} {:>12} {:>12}  what",
        "measurement", "mean/op", "ops/s", "median/op"
    );
    for (i, (g, b, what)) in rows.iter().enumerate() {
        let name = format!("{g}/{b}");
        match est[i] {
            Some(Estimate {
                mean: m,
                lower: lo,
                upper: hi,
                median,
            }) => {
                let _ = writeln!(
                    t,
                    "{:<34} {:>9.2} µs {:>12} {:>9.2} µs  {} [{:.2}–{:.2} µs]",
                    name,
                    m / 1e3,
                    thousands(per_sec(m)),
                    median / 1e3,
                    what,
                    lo / 1e3,
                    hi / 1e3
                );
            }
            None => {
                let _ = writeln!(
                    t,
                    "{name:<34} {:>12} {:>12} {:>12}  {what}",
                    "not run", "-", "-"
                );
            }
        }
    }
    match &reference {
        Ok(r) => {
            for (name, rate, median, what) in [
                ("libxmlsec1/verify", r.verify_strict, r.median("verify_strict"), "hardened: same-doc URIs, enveloped+exc-c14n only, key from manager (KeyInfo ignored)"),
                ("libxmlsec1/verify(default KeyInfo)", r.verify_default, r.median("verify_default_keyinfo"), "same, default KeyInfo processing (parses + tries the X509Certificate)"),
                ("libxmlsec1/sign", r.sign, r.median("sign"), "parse, template, sign, serialize (X509Certificate in KeyInfo)"),
                ("libxml2/parse", r.parse, r.median("libxml2_parse"), "xmlReadMemory + xmlFreeDoc of the signed assertion (compare parse/parse/...)"),
            ] {
                let _ = writeln!(
                    t,
                    "{:<34} {:>9.2} µs {:>12} {:>9.2} µs  {}",
                    name,
                    1e6 / rate,
                    thousands(rate),
                    1e6 / median,
                    what
                );
            }
            let _ = writeln!(
                t,
                "(libxmlsec1's signature of the same document verifies with ours: {})",
                if r.sign_out_verifies { "yes" } else { "NO" }
            );
        }
        Err(e) => {
            let _ = writeln!(t, "libxmlsec1 reference unavailable: {e}");
        }
    }
    let _ = writeln!(t);
    let _ = writeln!(t, "targets:");
    let ours_verify = mean(0).map(per_sec);
    let ours_verify_typed = mean(1).map(per_sec);
    let ours_sign = mean(2).map(per_sec);
    let bare_sign = mean(3).map(per_sec);
    let bare_verify = mean(4).map(per_sec);
    let xmlsec_verify = reference.as_ref().ok().map(|r| r.verify_strict);
    let xmlsec_verify_default = reference.as_ref().ok().map(|r| r.verify_default);
    let xmlsec_sign = reference.as_ref().ok().map(|r| r.sign);
    let verify_ratio = ours_verify.zip(xmlsec_verify).map(|(a, b)| a / b);
    let verify_typed_ratio = ours_verify_typed.zip(xmlsec_verify).map(|(a, b)| a / b);
    let verify_default_ratio = ours_verify.zip(xmlsec_verify_default).map(|(a, b)| a / b);
    let sign_ratio = ours_sign.zip(bare_sign).map(|(a, b)| a / b);
    let sign_vs_xmlsec = ours_sign.zip(xmlsec_sign).map(|(a, b)| a / b);
    let verify_ceiling = bare_verify.zip(xmlsec_verify).map(|(a, b)| a / b);
    if let (Some(a), Some(b), Some(r)) = (ours_verify, xmlsec_verify, verify_ratio) {
        let _ = writeln!(
            t,
            "  verify/ours vs libxmlsec1 verify      {:>9}/s vs {:>9}/s = {:>6.2}x   (target >= 7x)    {}",
            thousands(a), thousands(b), r, verdict(r >= 7.0)
        );
    }
    if let (Some(a), Some(r)) = (ours_verify_typed, verify_typed_ratio) {
        let _ = writeln!(
            t,
            "  verify/ours+typed-reparse vs libxmlsec1 {:>7}/s             = {:>6.2}x",
            thousands(a),
            r
        );
    }
    if let Some(r) = verify_default_ratio {
        let _ = writeln!(
            t,
            "  verify/ours vs libxmlsec1 (default KeyInfo)                  = {r:>6.2}x"
        );
    }
    if let Some(r) = verify_ceiling {
        let _ = writeln!(t, "  ceiling: bare RSA-2048 verify vs libxmlsec1 verify            = {r:>6.2}x   (no verifier can exceed this ratio)");
    }
    if let Some(a) = ours_verify {
        let _ = writeln!(
            t,
            "  verify/ours vs 10,000/s on one core   {:>9}/s                 = {:>6.2}x   (target >= 1x)    {}",
            thousands(a), a / 10_000.0, verdict(a >= 10_000.0)
        );
    }
    if let (Some(a), Some(b), Some(r)) = (ours_sign, bare_sign, sign_ratio) {
        let _ = writeln!(
            t,
            "  sign/ours vs bare RSA-2048 sign       {:>9}/s vs {:>9}/s = {:>6.1}%   (target >= 90%)   {}",
            thousands(a), thousands(b), r * 100.0, verdict(r >= 0.9)
        );
    }
    if let Some(r) = sign_vs_xmlsec {
        let _ = writeln!(
            t,
            "  sign/ours vs libxmlsec1 sign                                 = {r:>6.2}x"
        );
    }
    if let Some(s) = &speed {
        let _ = writeln!(t);
        let _ = writeln!(t, "openssl speed -seconds 2 rsa2048:");
        for l in s.lines() {
            let _ = writeln!(t, "  {l}");
        }
    }
    let _ = writeln!(t, "==========================================================================================");
    println!("\n{t}");

    // The same as JSON.
    let mut j = String::from("{\n");
    let _ = writeln!(j, "  \"clock\": \"{}\",", BenchClock::from_env().name());
    let _ = writeln!(
        j,
        "  \"load_average\": {{\"before\": {}, \"after\": {}}},",
        load_before.as_deref().unwrap_or("null"),
        load_after.as_deref().unwrap_or("null")
    );
    let _ = writeln!(
        j,
        "  \"document\": {{\"signed_bytes\": {}, \"unsigned_bytes\": {}}},",
        f.signed.len(),
        f.unsigned.len()
    );
    j.push_str("  \"ours\": {\n");
    for (i, (g, b, what)) in rows.iter().enumerate() {
        let comma = if i + 1 < rows.len() { "," } else { "" };
        match est[i] {
            Some(Estimate {
                mean: m,
                lower: lo,
                upper: hi,
                median,
            }) => {
                let _ = writeln!(
                    j,
                    "    \"{g}/{b}\": {{\"mean_ns\": {m:.1}, \"mean_ns_lower\": {lo:.1}, \"mean_ns_upper\": {hi:.1}, \"median_ns\": {median:.1}, \"ops_per_sec\": {:.3}, \"what\": \"{}\"}}{comma}",
                    per_sec(m),
                    json_escape(what)
                );
            }
            None => {
                let _ = writeln!(j, "    \"{g}/{b}\": null{comma}");
            }
        }
    }
    j.push_str("  },\n");
    match &reference {
        Ok(r) => {
            let _ = writeln!(j, "  \"libxmlsec1\": {},", r.json.trim());
            let _ = writeln!(
                j,
                "  \"libxmlsec1_signature_verifies_with_ours\": {},",
                r.sign_out_verifies
            );
        }
        Err(e) => {
            let _ = writeln!(
                j,
                "  \"libxmlsec1\": null,\n  \"libxmlsec1_error\": \"{}\",",
                json_escape(e)
            );
        }
    }
    let _ = writeln!(j, "  \"ratios\": {{");
    let _ = writeln!(
        j,
        "    \"verify_ours_over_libxmlsec1\": {},",
        opt_num(verify_ratio)
    );
    let _ = writeln!(
        j,
        "    \"verify_ours_typed_over_libxmlsec1\": {},",
        opt_num(verify_typed_ratio)
    );
    let _ = writeln!(
        j,
        "    \"verify_ours_over_libxmlsec1_default_keyinfo\": {},",
        opt_num(verify_default_ratio)
    );
    let _ = writeln!(
        j,
        "    \"bare_rsa_verify_over_libxmlsec1_verify\": {},",
        opt_num(verify_ceiling)
    );
    let _ = writeln!(
        j,
        "    \"verify_ours_per_sec_over_10000\": {},",
        opt_num(ours_verify.map(|a| a / 10_000.0))
    );
    let _ = writeln!(
        j,
        "    \"sign_ours_over_bare_rsa_sign\": {},",
        opt_num(sign_ratio)
    );
    let _ = writeln!(
        j,
        "    \"sign_ours_over_libxmlsec1_sign\": {}",
        opt_num(sign_vs_xmlsec)
    );
    let _ = writeln!(j, "  }},");
    let _ = writeln!(j, "  \"targets\": {{");
    let _ = writeln!(
        j,
        "    \"verify_at_least_7x_libxmlsec1\": {},",
        verify_ratio
            .map(|r| (r >= 7.0).to_string())
            .unwrap_or("null".into())
    );
    let _ = writeln!(
        j,
        "    \"verify_at_least_10000_per_sec\": {},",
        ours_verify
            .map(|a| (a >= 10_000.0).to_string())
            .unwrap_or("null".into())
    );
    let _ = writeln!(
        j,
        "    \"sign_at_least_90pct_bare_rsa\": {}",
        sign_ratio
            .map(|r| (r >= 0.9).to_string())
            .unwrap_or("null".into())
    );
    let _ = writeln!(j, "  }},");
    let _ = writeln!(
        j,
        "  \"openssl_speed_rsa2048\": {}",
        speed
            .as_deref()
            .map(|s| format!("\"{}\"", json_escape(s)))
            .unwrap_or("null".into())
    );
    j.push_str("}\n");
    let json_path = target_dir().join("bench-dsig.json");
    match std::fs::write(&json_path, j) {
        Ok(()) => println!("comparison written to {}", json_path.display()),
        Err(e) => println!("could not write {}: {e}", json_path.display()),
    }
}
