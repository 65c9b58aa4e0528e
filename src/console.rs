//! The one printer: the operator's lines and a command's result. Lines go to stdout, or to stderr when
//! stdout carries the command's JSON result (`--format json`), so a script reads exactly one JSON document
//! from stdout whatever the engine says along the way.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

static JSON: AtomicBool = AtomicBool::new(false);

/// Stdout is for the JSON result from now on; lines go to stderr.
pub fn set_json(on: bool) {
    JSON.store(on, Ordering::Relaxed);
}

pub fn is_json() -> bool {
    JSON.load(Ordering::Relaxed)
}

/// One line for the operator.
pub fn line(msg: &str) {
    if is_json() {
        eprintln!("{msg}");
    } else {
        out(&format!("{msg}\n"));
    }
}

/// Text for the operator, as it is (a report already made of lines).
pub fn text(msg: &str) {
    if is_json() {
        eprint!("{msg}");
    } else {
        out(msg);
    }
}

/// The command's result: pretty JSON on stdout.
pub fn result(v: &serde_json::Value) {
    out(&format!("{}\n", serde_json::to_string_pretty(v).expect("JSON values serialise")));
}

/// The command's own output (a report, a plan, a script), on stdout in either format.
pub fn print(text: &str) {
    out(text);
}

/// Where the operator's lines go, as a writer (for progress displays).
pub fn writer() -> Box<dyn Write + Send> {
    if is_json() {
        Box::new(std::io::stderr())
    } else {
        Box::new(std::io::stdout())
    }
}

/// Write to stdout; a reader that went away (`cloudstrap plan | head`) is not an error worth a panic.
fn out(text: &str) {
    let mut o = std::io::stdout().lock();
    let _ = o.write_all(text.as_bytes());
    let _ = o.flush();
}
