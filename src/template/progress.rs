//! Download progress: a bar with rate and ETA on a terminal, a line every few seconds otherwise
//! (logs and CI keep readable output). The install engine may pass its own implementation.

use std::cell::Cell;
use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{HumanBytes, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// What the template pipeline reports; called from the calling thread only.
pub trait Progress {
    /// The download starts; `total` is the compressed size when the server said.
    fn start(&self, what: &str, total: Option<u64>);
    /// Compressed bytes received so far.
    fn set(&self, done: u64);
    /// A one-line note (a resume, a retry).
    fn note(&self, msg: &str);
    fn finish(&self, summary: &str);
}

/// Reports nothing.
pub struct Silent;

impl Progress for Silent {
    fn start(&self, _: &str, _: Option<u64>) {}
    fn set(&self, _: u64) {}
    fn note(&self, _: &str) {}
    fn finish(&self, _: &str) {}
}

/// On stderr: an indicatif bar when stderr is a terminal, else periodic lines.
pub struct Console {
    bar: Option<ProgressBar>,
    interval: Duration,
    started: Cell<Option<Instant>>,
    last_line: Cell<Option<Instant>>,
    total: Cell<Option<u64>>,
    done: Cell<u64>,
}

impl Console {
    pub fn new() -> Console {
        Console::with(std::io::stderr().is_terminal(), Duration::from_secs(5))
    }

    /// `bar`: draw a bar; otherwise a line at most every `interval`.
    pub fn with(bar: bool, interval: Duration) -> Console {
        let bar = bar.then(|| {
            let b = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            b.set_style(
                ProgressStyle::with_template(
                    "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            b
        });
        Console {
            bar,
            interval,
            started: Cell::new(None),
            last_line: Cell::new(None),
            total: Cell::new(None),
            done: Cell::new(0),
        }
    }

    fn line(&self, now: Instant) {
        let done = self.done.get();
        let secs = self.started.get().map(|s| now.duration_since(s).as_secs_f64()).unwrap_or(0.0).max(1e-3);
        let rate = done as f64 / secs;
        let text = match self.total.get() {
            Some(t) if t > 0 => {
                let eta = if rate > 0.0 { (t.saturating_sub(done)) as f64 / rate } else { 0.0 };
                format!(
                    "template: {} of {} ({}%), {}/s, ETA {:.0}s",
                    HumanBytes(done),
                    HumanBytes(t),
                    done * 100 / t,
                    HumanBytes(rate as u64),
                    eta
                )
            }
            _ => format!("template: {} received, {}/s", HumanBytes(done), HumanBytes(rate as u64)),
        };
        eprintln!("{text}");
    }
}

impl Default for Console {
    fn default() -> Self {
        Console::new()
    }
}

impl Progress for Console {
    fn start(&self, what: &str, total: Option<u64>) {
        let now = Instant::now();
        self.started.set(Some(now));
        self.last_line.set(Some(now));
        self.total.set(total);
        match &self.bar {
            Some(b) => {
                if let Some(t) = total {
                    b.set_length(t);
                }
                b.set_message(what.to_string());
                b.enable_steady_tick(Duration::from_millis(250));
            }
            None => eprintln!("template: downloading {what}"),
        }
    }

    fn set(&self, done: u64) {
        self.done.set(done);
        match &self.bar {
            Some(b) => b.set_position(done),
            None => {
                let now = Instant::now();
                if self.last_line.get().is_none_or(|l| now.duration_since(l) >= self.interval) {
                    self.last_line.set(Some(now));
                    self.line(now);
                }
            }
        }
    }

    fn note(&self, msg: &str) {
        match &self.bar {
            Some(b) => b.println(format!("template: {msg}")),
            None => eprintln!("template: {msg}"),
        }
    }

    fn finish(&self, summary: &str) {
        match &self.bar {
            Some(b) => {
                b.finish_and_clear();
                eprintln!("template: {summary}");
            }
            None => eprintln!("template: {summary}"),
        }
    }
}
