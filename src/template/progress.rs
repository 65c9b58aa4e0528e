//! How `cloudstrap template fetch` shows its download on stderr: a bar with rate and ETA on a terminal, a
//! line every few seconds otherwise (logs and CI keep readable output). One implementation of the one
//! progress abstraction (`action::progress::Progress`); the install engine passes its own display.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{HumanBytes, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::action::progress::{Download, Progress};

/// On stderr: an indicatif bar when stderr is a terminal, else periodic lines.
pub struct Console {
    bar: bool,
    interval: Duration,
}

impl Console {
    pub fn new() -> Console {
        Console::with(std::io::stderr().is_terminal(), Duration::from_secs(5))
    }

    /// `bar`: draw a bar; otherwise a line at most every `interval`.
    pub fn with(bar: bool, interval: Duration) -> Console {
        Console { bar, interval }
    }
}

impl Default for Console {
    fn default() -> Self {
        Console::new()
    }
}

impl Progress for Console {
    fn download(&self, what: &str, total: Option<u64>) -> Box<dyn Download> {
        let bar = self.bar.then(|| {
            let b = ProgressBar::with_draw_target(total, ProgressDrawTarget::stderr());
            b.set_style(
                ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            b.set_message(what.to_string());
            b.enable_steady_tick(Duration::from_millis(250));
            b
        });
        if bar.is_none() {
            eprintln!("template: downloading {what}");
        }
        let now = Instant::now();
        Box::new(Transfer { bar, interval: self.interval, started: now, state: Mutex::new(State { last_line: now, total, done: 0 }) })
    }

    fn note(&self, msg: &str) {
        // indicatif keeps a bar below lines printed to stderr meanwhile.
        eprintln!("template: {msg}");
    }
}

struct State {
    last_line: Instant,
    total: Option<u64>,
    done: u64,
}

/// One download on the console.
struct Transfer {
    bar: Option<ProgressBar>,
    interval: Duration,
    started: Instant,
    state: Mutex<State>,
}

impl Transfer {
    fn line(&self, st: &State, now: Instant) {
        let secs = now.duration_since(self.started).as_secs_f64().max(1e-3);
        let rate = st.done as f64 / secs;
        let text = match st.total {
            Some(t) if t > 0 => {
                let eta = if rate > 0.0 { (t.saturating_sub(st.done)) as f64 / rate } else { 0.0 };
                format!("template: {} of {} ({}%), {}/s, ETA {eta:.0}s", HumanBytes(st.done), HumanBytes(t), st.done * 100 / t, HumanBytes(rate as u64))
            }
            _ => format!("template: {} received, {}/s", HumanBytes(st.done), HumanBytes(rate as u64)),
        };
        eprintln!("{text}");
    }
}

impl Download for Transfer {
    fn set_position(&self, done: u64) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        st.done = done;
        match &self.bar {
            Some(b) => b.set_position(done),
            None => {
                let now = Instant::now();
                if now.duration_since(st.last_line) >= self.interval {
                    st.last_line = now;
                    self.line(&st, now);
                }
            }
        }
    }

    fn set_length(&self, total: u64) {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).total = Some(total);
        if let Some(b) = &self.bar {
            b.set_length(total);
        }
    }

    fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}
