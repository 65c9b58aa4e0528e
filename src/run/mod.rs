//! The one way to run an external command: stdin closed, output captured, timed, logged with secrets redacted.
//! Secrets reach a command through 0600 files ([`SecretFile`]) or the environment, never through argv;
//! [`PY_LAUNCHER`] does this for Python tools that only take passwords on their command line.

mod python;
mod secret_file;
pub use python::{python_script_cmd, PY_LAUNCHER};
pub use secret_file::SecretFile;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Words that must never reach a log line, an error or a receipt.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    secrets: Vec<String>,
}

impl Redactor {
    pub fn add(&mut self, secret: impl Into<String>) {
        let s = secret.into();
        if !s.is_empty() && !self.secrets.contains(&s) {
            self.secrets.push(s);
            // Longest first so a secret containing another is replaced whole.
            self.secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        }
    }

    /// Every secret of `other` too.
    pub fn extend(&mut self, other: &Redactor) {
        for s in &other.secrets {
            self.add(s.clone());
        }
    }

    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }

    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        for s in &self.secrets {
            out = out.replace(s.as_str(), "********");
        }
        out
    }
}

/// What a finished command left behind.
#[derive(Debug, Clone)]
pub struct Output {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Output {
    /// The last `n` lines of stdout followed by stderr (already redacted).
    pub fn tail(&self, n: usize) -> String {
        let both = format!("{}{}{}", self.stdout, if self.stdout.ends_with('\n') || self.stdout.is_empty() { "" } else { "\n" }, self.stderr);
        let lines: Vec<&str> = both.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("could not start {program}: {source}")]
    Spawn { program: String, source: std::io::Error },
    #[error("{command} timed out after {seconds} s")]
    Timeout { command: String, seconds: u64 },
    #[error("{command} exited with status {status}: {tail}")]
    Failed { command: String, status: i32, tail: String },
}

/// A command to run; build it, then `run`.
#[derive(Debug, Clone)]
pub struct Cmd {
    pub program: String,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub dir: Option<PathBuf>,
    pub timeout: Duration,
    pub stdin: Option<Vec<u8>>,
    /// Run inside `chroot DIR` (an install into a root other than `/`).
    pub chroot: Option<PathBuf>,
}

impl Cmd {
    pub fn new(program: impl Into<String>) -> Cmd {
        Cmd { program: program.into(), args: vec![], env: vec![], dir: None, timeout: Duration::from_secs(600), stdin: None, chroot: None }
    }
    pub fn arg(mut self, a: impl Into<String>) -> Cmd {
        self.args.push(a.into());
        self
    }
    pub fn args<I: IntoIterator<Item = S>, S: Into<String>>(mut self, it: I) -> Cmd {
        self.args.extend(it.into_iter().map(Into::into));
        self
    }
    pub fn env(mut self, k: impl Into<String>, v: impl Into<String>) -> Cmd {
        self.env.push((k.into(), v.into()));
        self
    }
    pub fn dir(mut self, d: impl Into<PathBuf>) -> Cmd {
        self.dir = Some(d.into());
        self
    }
    pub fn timeout(mut self, t: Duration) -> Cmd {
        self.timeout = t;
        self
    }
    /// Bytes fed on stdin (otherwise stdin is closed).
    pub fn stdin_bytes(mut self, b: impl Into<Vec<u8>>) -> Cmd {
        self.stdin = Some(b.into());
        self
    }

    /// Run inside `chroot root` unless `root` is `/`.
    pub fn in_root(mut self, root: &Path) -> Cmd {
        self.chroot = if root == Path::new("/") { None } else { Some(root.to_path_buf()) };
        self
    }

    /// The command line as shown in logs (secrets redacted by the caller's redactor).
    pub fn display(&self) -> String {
        let mut words: Vec<String> = vec![];
        if let Some(r) = &self.chroot {
            words.push(format!("chroot {}", r.display()));
        }
        words.push(self.program.clone());
        // Quote what would not read back as one word (spaces, newlines, quotes).
        words.extend(self.args.iter().map(|a| {
            if a.is_empty() || a.chars().any(|c| c.is_whitespace() || c == '"' || c == '\'') {
                format!("{a:?}")
            } else {
                a.clone()
            }
        }));
        words.join(" ")
    }

    /// Program and arguments as actually spawned.
    fn argv(&self) -> (String, Vec<String>) {
        match &self.chroot {
            Some(r) => {
                let mut a = vec![r.display().to_string(), self.program.clone()];
                a.extend(self.args.iter().cloned());
                ("chroot".into(), a)
            }
            None => (self.program.clone(), self.args.clone()),
        }
    }

    /// Run to completion; a non-zero exit is returned as `Ok` with its status (see `run_ok`).
    pub fn run(&self, redactor: &Redactor) -> Result<Output, RunError> {
        let start = Instant::now();
        let (program, args) = self.argv();
        let mut expr = duct::cmd(&program, &args).stdout_capture().stderr_capture().unchecked();
        expr = match &self.stdin {
            Some(b) => expr.stdin_bytes(b.clone()),
            None => expr.stdin_null(),
        };
        for (k, v) in &self.env {
            expr = expr.env(k, v);
        }
        if let Some(d) = &self.dir {
            expr = expr.dir(d);
        }
        let handle = expr.start().map_err(|source| {
            crate::log::line(&format!("could not start `{}`: {source}", redactor.redact(&self.display())));
            RunError::Spawn { program: self.program.clone(), source }
        })?;
        let out = loop {
            match handle.try_wait() {
                Ok(Some(o)) => break o.clone(),
                Ok(None) if start.elapsed() > self.timeout => {
                    let _ = handle.kill();
                    crate::log::line(&format!("`{}` timed out after {} s", redactor.redact(&self.display()), self.timeout.as_secs()));
                    return Err(RunError::Timeout { command: redactor.redact(&self.display()), seconds: self.timeout.as_secs() });
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
                Err(source) => return Err(RunError::Spawn { program: self.program.clone(), source }),
            }
        };
        let output = Output {
            status: out.status.code().unwrap_or(-1),
            stdout: redactor.redact(&String::from_utf8_lossy(&out.stdout)),
            stderr: redactor.redact(&String::from_utf8_lossy(&out.stderr)),
            elapsed: start.elapsed(),
        };
        crate::log::line(&format!(
            "ran `{}` -> {} in {:.2}s",
            redactor.redact(&self.display()),
            output.status,
            output.elapsed.as_secs_f64()
        ));
        if output.status != 0 {
            for l in output.tail(20).lines() {
                crate::log::line(&format!("  | {l}"));
            }
        }
        Ok(output)
    }

    /// Run and require exit status 0; the error carries the last lines of output.
    pub fn run_ok(&self, redactor: &Redactor) -> Result<Output, RunError> {
        let out = self.run(redactor)?;
        if out.status != 0 {
            return Err(RunError::Failed { command: redactor.redact(&self.display()), status: out.status, tail: out.tail(10) });
        }
        Ok(out)
    }
}
