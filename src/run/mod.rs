//! The one way to run an external command: stdin closed, output captured, timed, logged with secrets redacted.
//! Secrets reach a command through 0600 files ([`SecretFile`]) or the environment, never through argv;
//! [`PY_LAUNCHER`] does this for Python tools that only take passwords on their command line.

mod python;
mod secret_file;
pub use python::{python_script_cmd, python_script_cmd_in_root, PY_LAUNCHER};
pub use secret_file::SecretFile;

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Environment variables that hold secrets (the profile's `*-env` names): no child process inherits them,
/// since every command cloudstrap runs gets its secrets through 0600 files instead.
static SECRET_ENV: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Keep the variable `name` from every child process started from now on.
pub fn withhold_env(name: &str) {
    let mut names = SECRET_ENV.lock().unwrap_or_else(|e| e.into_inner());
    if !names.iter().any(|n| n == name) {
        names.push(name.to_string());
    }
}

/// The variables withheld from children (for commands started with `std::process::Command`).
pub fn withheld_env() -> Vec<String> {
    SECRET_ENV.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

/// A `std::process::Command` for `program` without the withheld variables.
pub fn std_command(program: &str) -> std::process::Command {
    let mut c = std::process::Command::new(program);
    for n in withheld_env() {
        c.env_remove(n);
    }
    c
}

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
        for n in withheld_env() {
            expr = expr.env_remove(n);
        }
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
        // Blocks until the command exits or its deadline passes (no polling interval added to every command).
        let out = match handle.wait_deadline(start + self.timeout) {
            Ok(Some(o)) => o.clone(),
            Ok(None) => {
                // The command's own children (apt's dpkg, a shell's pipeline) would otherwise run on.
                for pid in handle.pids() {
                    kill_tree(pid);
                }
                let _ = handle.kill();
                crate::log::line(&format!("`{}` timed out after {} s", redactor.redact(&self.display()), self.timeout.as_secs()));
                return Err(RunError::Timeout { command: redactor.redact(&self.display()), seconds: self.timeout.as_secs() });
            }
            Err(source) => return Err(RunError::Spawn { program: self.program.clone(), source }),
        };
        let output = Output {
            status: out.status.code().unwrap_or(-1),
            stdout: redactor.redact(&String::from_utf8_lossy(&out.stdout)),
            stderr: redactor.redact(&String::from_utf8_lossy(&out.stderr)),
            elapsed: start.elapsed(),
        };
        crate::log::command(&format!(
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

/// What a streamed command did (see [`Cmd::stream`]).
#[derive(Debug)]
pub struct Streamed {
    pub status: i32,
    /// Its stderr (the first 64 KiB), redacted.
    pub stderr: String,
    /// Feeding its stdin from the reader failed (the command was stopped).
    pub input_error: Option<std::io::Error>,
    /// Copying its stdout into the writer failed (the command was stopped).
    pub output_error: Option<std::io::Error>,
}

impl Cmd {
    /// Run with stdin fed from `input` (else closed) and stdout copied into `output` as it comes: for
    /// data too large to hold (a database dump), never in memory as a whole. stderr is kept, up to 64 KiB.
    /// No deadline: it ends with its data. Logged like `run`.
    pub fn stream(&self, redactor: &Redactor, input: Option<&mut (dyn std::io::Read + Send)>, output: &mut dyn std::io::Write) -> Result<Streamed, RunError> {
        use std::io::{Read, Write};
        use std::process::Stdio;
        let start = Instant::now();
        let (program, args) = self.argv();
        let mut c = std_command(&program);
        c.args(&args).stdout(Stdio::piped()).stderr(Stdio::piped()).stdin(if input.is_some() { Stdio::piped() } else { Stdio::null() });
        for (k, v) in &self.env {
            c.env(k, v);
        }
        if let Some(d) = &self.dir {
            c.current_dir(d);
        }
        let mut child = c.spawn().map_err(|source| RunError::Spawn { program: self.program.clone(), source })?;
        let (mut stdout, mut stderr, stdin) = (child.stdout.take().expect("piped"), child.stderr.take().expect("piped"), child.stdin.take());
        let (input_error, output_error, kept) = std::thread::scope(|s| {
            // Drained all along: a command stuck on a full stderr pipe would stop reading and writing.
            let errs = s.spawn(move || {
                let mut kept = Vec::new();
                let _ = Read::by_ref(&mut stderr).take(64 * 1024).read_to_end(&mut kept);
                let _ = std::io::copy(&mut stderr, &mut std::io::sink());
                kept
            });
            let feeder = input.zip(stdin).map(|(reader, mut stdin)| {
                s.spawn(move || {
                    let fed = std::io::copy(reader, &mut stdin).and_then(|_| stdin.flush());
                    drop(stdin);
                    fed.err()
                })
            });
            let copied = std::io::copy(&mut stdout, output).and_then(|_| output.flush()).err();
            if copied.is_some() {
                // Nobody reads its output any more: stop it rather than leave it blocked.
                let _ = child.kill();
            }
            drop(stdout);
            let fed = feeder.and_then(|f| f.join().unwrap_or(None));
            if fed.is_some() {
                let _ = child.kill();
            }
            (fed, copied, errs.join().unwrap_or_default())
        });
        let status = child.wait().map_err(|source| RunError::Spawn { program: self.program.clone(), source })?.code().unwrap_or(-1);
        let stderr = redactor.redact(&String::from_utf8_lossy(&kept));
        crate::log::command(&format!("ran `{}` (streamed) -> {status} in {:.2}s", redactor.redact(&self.display()), start.elapsed().as_secs_f64()));
        Ok(Streamed { status, stderr, input_error, output_error })
    }
}

/// SIGKILL `pid` and every process descending from it (found through /proc's parent links first, so none
/// is orphaned out of reach halfway).
fn kill_tree(pid: u32) {
    let mut parent_of = std::collections::HashMap::new();
    if let Ok(rd) = std::fs::read_dir("/proc") {
        for e in rd.flatten() {
            let Some(p) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
            // /proc/PID/stat: "pid (comm) state ppid ..."; comm may hold spaces and parentheses.
            let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else { continue };
            if let Some(ppid) = stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().nth(1)).and_then(|v| v.parse::<u32>().ok()) {
                parent_of.insert(p, ppid);
            }
        }
    }
    let mut tree = vec![pid];
    let mut i = 0;
    while i < tree.len() {
        let cur = tree[i];
        tree.extend(parent_of.iter().filter(|(_, &pp)| pp == cur).map(|(&c, _)| c));
        i += 1;
    }
    for p in tree {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(p as i32), nix::sys::signal::Signal::SIGKILL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn red(s: &str) -> Redactor {
        let mut r = Redactor::default();
        r.add(s);
        r
    }

    #[test]
    fn stdin_is_closed() {
        // `cat` on an inherited terminal or pipe would wait for input; on a closed stdin it ends at once.
        let out = Cmd::new("cat").run(&Redactor::default()).unwrap();
        assert_eq!((out.status, out.stdout.as_str()), (0, ""));
    }

    #[test]
    fn a_failure_keeps_the_output_tail_with_secrets_redacted() {
        let e = Cmd::new("sh").args(["-c", "echo one; echo 'pw=Hush-42'; echo oops >&2; exit 3"]).run_ok(&red("Hush-42")).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("status 3") && msg.contains("one") && msg.contains("pw=********") && msg.contains("oops"), "{msg}");
        assert!(!msg.contains("Hush-42"), "{msg}");
    }

    #[test]
    fn a_command_past_its_timeout_is_killed_with_its_children() {
        // The shell's children would live on as orphans if only the shell were killed.
        let dir = tempfile::tempdir().unwrap();
        let pids = dir.path().join("pids");
        let script = format!("sleep 300 & echo $! > {p}; sleep 300 & echo $! >> {p}; wait", p = pids.display());
        let e = Cmd::new("sh").args(["-c", &script]).timeout(Duration::from_millis(500)).run(&Redactor::default()).unwrap_err();
        assert!(matches!(e, RunError::Timeout { .. }), "{e}");
        let text = std::fs::read_to_string(&pids).unwrap();
        let children: Vec<i32> = text.lines().map(|l| l.trim().parse().unwrap()).collect();
        assert_eq!(children.len(), 2, "{text}");
        let state = |pid: i32| {
            std::fs::read_to_string(format!("/proc/{pid}/stat")).ok().and_then(|s| s.rsplit_once(')').map(|(_, r)| r.trim().chars().next().unwrap_or('?')))
        };
        for pid in children {
            // Gone, or a zombie waiting for init to reap it; a SIGKILL takes a moment to land, so look a
            // few times (a child nobody killed stays asleep for 300 s and fails this).
            let mut st = state(pid);
            for _ in 0..100 {
                if matches!(st, None | Some('Z')) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
                st = state(pid);
            }
            assert!(matches!(st, None | Some('Z')), "child {pid} still runs after the timeout (state {st:?})");
        }
    }
}
