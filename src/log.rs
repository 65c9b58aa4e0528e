//! The install log: timestamped lines appended to a file when one is configured.
//! Callers redact secrets before logging (see `run::Redactor`).

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

static LOG_FILE: Mutex<Option<PathBuf>> = Mutex::new(None);
static VERBOSE: AtomicBool = AtomicBool::new(false);

/// With `--verbose`, every command run is also shown on stderr.
pub fn set_verbose(on: bool) {
    VERBOSE.store(on, Ordering::Relaxed);
}

/// A command that ran (already redacted by the runner): in the log, and on stderr with `--verbose`.
pub fn command(msg: &str) {
    line(msg);
    if VERBOSE.load(Ordering::Relaxed) {
        eprintln!("{msg}");
    }
}

/// Send log lines to this file from now on (created 0600 when missing).
pub fn set_file(path: Option<PathBuf>) {
    *LOG_FILE.lock().unwrap() = path;
}

pub fn line(msg: &str) {
    let guard = LOG_FILE.lock().unwrap();
    if let Some(path) = guard.as_ref() {
        use std::os::unix::fs::OpenOptionsExt;
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).mode(0o600).open(path) {
            let _ = writeln!(f, "{} {}", chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ"), msg);
        }
    }
}
