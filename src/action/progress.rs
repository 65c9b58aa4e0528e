//! Showing an install to the operator: indicatif bars on a terminal (overall bar, one line per running
//! action, download bars), plain timestamped lines otherwise (logs, CI, pipes).

use std::collections::HashMap;
use std::io::Write;
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Executed,
    AlreadyDone,
}

/// Progress of one download (bytes so far).
pub trait Download: Send + Sync {
    fn set_position(&self, bytes: u64);
    fn set_length(&self, bytes: u64);
    fn finish(&self);
}

/// The one progress abstraction: what the executor reports about actions, and what anything that
/// downloads (the template) or waits (the hand-off) reports. A display shows what it has room for; the
/// defaults show nothing.
pub trait Progress: Send + Sync {
    fn begin(&self, _total: usize, _already_done: usize) {}
    fn started(&self, _index: usize, _description: &str) {}
    fn finished(&self, _index: usize, _description: &str, _outcome: Outcome, _elapsed: Duration) {}
    fn failed(&self, _index: usize, _description: &str, _error: &str) {}
    /// A download starts (`length`: its size when known); the handle follows it.
    fn download(&self, _label: &str, _length: Option<u64>) -> Box<dyn Download> {
        Box::new(Silent)
    }
    fn end(&self) {}
    /// A one-line note: what a running action waits for (a slow API call, a retry), how a download went.
    fn note(&self, _msg: &str) {}
}

/// Shows nothing (tests, library callers).
pub struct Silent;

impl Progress for Silent {}

impl Download for Silent {
    fn set_position(&self, _: u64) {}
    fn set_length(&self, _: u64) {}
    fn finish(&self) {}
}

/// The display that suits the operator's console: bars on a terminal, lines otherwise (on stderr when
/// stdout carries a JSON result).
pub fn for_stdout() -> Box<dyn Progress> {
    if console::Term::stdout().is_term() && !crate::console::is_json() {
        Box::new(Bars::new())
    } else {
        Box::new(Lines::new(crate::console::writer()))
    }
}

fn stamp() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

type Out = std::sync::Arc<Mutex<Box<dyn Write + Send>>>;

fn say(out: &Out, msg: &str) {
    let mut o = out.lock().unwrap();
    let _ = writeln!(o, "{} {msg}", stamp());
    let _ = o.flush();
}

/// Plain timestamped lines.
pub struct Lines {
    out: Out,
    total: Mutex<usize>,
}

impl Lines {
    pub fn new(out: Box<dyn Write + Send>) -> Lines {
        Lines { out: std::sync::Arc::new(Mutex::new(out)), total: Mutex::new(0) }
    }
    fn say(&self, msg: &str) {
        say(&self.out, msg);
    }
}

struct LineDownload {
    out: Out,
    label: String,
    length: Mutex<Option<u64>>,
    last_tenth: Mutex<u64>,
}

impl Download for LineDownload {
    fn set_position(&self, bytes: u64) {
        if let Some(len) = *self.length.lock().unwrap() {
            let tenth = (bytes * 10).checked_div(len).unwrap_or(10);
            let mut last = self.last_tenth.lock().unwrap();
            if tenth > *last {
                *last = tenth;
                say(&self.out, &format!("download {}: {}% ({} of {} bytes)", self.label, tenth * 10, bytes, len));
            }
        }
    }
    fn set_length(&self, bytes: u64) {
        *self.length.lock().unwrap() = Some(bytes);
    }
    fn finish(&self) {
        say(&self.out, &format!("download {}: complete", self.label));
    }
}

impl Progress for Lines {
    fn begin(&self, total: usize, already_done: usize) {
        *self.total.lock().unwrap() = total;
        self.say(&format!("install: {total} actions, {already_done} already done"));
    }
    fn started(&self, index: usize, description: &str) {
        let total = *self.total.lock().unwrap();
        self.say(&format!("[{}/{total}] {description} ...", index + 1));
    }
    fn finished(&self, index: usize, description: &str, outcome: Outcome, elapsed: Duration) {
        let total = *self.total.lock().unwrap();
        match outcome {
            Outcome::Executed => self.say(&format!("[{}/{total}] done in {:.1}s: {description}", index + 1, elapsed.as_secs_f64())),
            Outcome::AlreadyDone => self.say(&format!("[{}/{total}] already done: {description}", index + 1)),
        }
    }
    fn failed(&self, index: usize, description: &str, error: &str) {
        let total = *self.total.lock().unwrap();
        self.say(&format!("[{}/{total}] FAILED: {description}: {error}", index + 1));
    }
    fn download(&self, label: &str, length: Option<u64>) -> Box<dyn Download> {
        Box::new(LineDownload { out: self.out.clone(), label: label.into(), length: Mutex::new(length), last_tenth: Mutex::new(0) })
    }
    fn end(&self) {}
    fn note(&self, msg: &str) {
        self.say(&format!("  ... {msg}"));
    }
}

/// indicatif bars.
pub struct Bars {
    multi: MultiProgress,
    overall: ProgressBar,
    running: Mutex<HashMap<usize, ProgressBar>>,
}

impl Default for Bars {
    fn default() -> Self {
        Self::new()
    }
}

impl Bars {
    pub fn new() -> Bars {
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stdout());
        let overall = multi.add(ProgressBar::new(0));
        overall.set_style(ProgressStyle::with_template("{prefix:.bold} [{bar:40.cyan/blue}] {pos}/{len} actions  {elapsed}").unwrap().progress_chars("=> "));
        overall.set_prefix("install");
        Bars { multi, overall, running: Mutex::new(HashMap::new()) }
    }
}

struct BarDownload(ProgressBar);

impl Download for BarDownload {
    fn set_position(&self, bytes: u64) {
        self.0.set_position(bytes);
    }
    fn set_length(&self, bytes: u64) {
        self.0.set_length(bytes);
    }
    fn finish(&self) {
        self.0.finish();
    }
}

impl Progress for Bars {
    fn begin(&self, total: usize, already_done: usize) {
        self.overall.set_length(total as u64);
        self.overall.set_position(0);
        if already_done > 0 {
            let _ = self.multi.println(format!("{already_done} of {total} actions already done"));
        }
    }
    fn started(&self, index: usize, description: &str) {
        let pb = self.multi.add(ProgressBar::new_spinner());
        pb.set_style(ProgressStyle::with_template("  {spinner} {msg} {elapsed}").unwrap());
        pb.set_message(description.to_string());
        pb.enable_steady_tick(Duration::from_millis(120));
        self.running.lock().unwrap().insert(index, pb);
    }
    fn finished(&self, index: usize, description: &str, outcome: Outcome, elapsed: Duration) {
        if let Some(pb) = self.running.lock().unwrap().remove(&index) {
            pb.finish_and_clear();
            self.multi.remove(&pb);
        }
        let mark = match outcome {
            Outcome::Executed => format!("done {:>6.1}s", elapsed.as_secs_f64()),
            Outcome::AlreadyDone => "already done".to_string(),
        };
        let _ = self.multi.println(format!("  {mark:>13}  {description}"));
        self.overall.inc(1);
    }
    fn failed(&self, index: usize, description: &str, error: &str) {
        if let Some(pb) = self.running.lock().unwrap().remove(&index) {
            pb.abandon_with_message(format!("FAILED: {description}"));
        }
        let _ = self.multi.println(format!("  {:>13}  {description}: {error}", "FAILED"));
    }
    fn download(&self, label: &str, length: Option<u64>) -> Box<dyn Download> {
        let pb = self.multi.add(ProgressBar::new(length.unwrap_or(0)));
        pb.set_style(
            ProgressStyle::with_template("  {msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}").unwrap().progress_chars("=> "),
        );
        pb.set_message(label.to_string());
        Box::new(BarDownload(pb))
    }
    fn note(&self, msg: &str) {
        let _ = self.multi.println(format!("  {:>13}  {msg}", "..."));
    }
    fn end(&self) {
        self.overall.finish();
    }
}
