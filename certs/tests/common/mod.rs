//! One generated PKI shared by every test of a test binary (generation is the slow part).

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, SystemTime};

use certs::{Options, Pki};

pub struct Fixture {
    pub pki: Pki,
}

static FIXTURE: OnceLock<Result<Fixture, String>> = OnceLock::new();
/// PKCS#11 login state is per token and shared by all sessions of the process, and the
/// idempotence test snapshots token files: tests touching tokens take this lock.
static TOKENS: Mutex<()> = Mutex::new(());

const PREFIX: &str = "certs-test-pki-";

/// Removes folders left by earlier runs (statics are never dropped, so a run cannot clean up
/// after itself); only those older than an hour, in case another run is in progress.
fn clean_old_runs(base: &Path) {
    let Ok(entries) = std::fs::read_dir(base) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        if !name.to_string_lossy().starts_with(PREFIX) {
            continue;
        }
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| SystemTime::now().duration_since(t).ok())
            .is_some_and(|age| age > Duration::from_secs(3600));
        if old {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// The shared PKI. Generated once; if that fails every test fails with the same message
/// (without retrying, which would only fail differently on SoftHSM2's one-configuration rule).
pub fn fixture() -> &'static Fixture {
    let result = FIXTURE.get_or_init(|| {
        let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
        clean_old_runs(&base);
        let dir = tempfile::Builder::new()
            .prefix(PREFIX)
            .tempdir_in(&base)
            .expect("temp dir")
            .keep();
        let started = std::time::Instant::now();
        let pki =
            certs::generate(&dir, &Options::default()).map_err(|e| format!("generate PKI: {e}"))?;
        eprintln!(
            "PKI generated in {:.1} s into {}",
            started.elapsed().as_secs_f64(),
            dir.display()
        );
        if pki.reused {
            return Err("a fresh folder was reported as reused".into());
        }
        Ok(Fixture { pki })
    });
    match result {
        Ok(f) => f,
        Err(e) => panic!("{e}"),
    }
}

pub fn tokens_lock() -> MutexGuard<'static, ()> {
    TOKENS.lock().unwrap_or_else(|e| e.into_inner())
}
