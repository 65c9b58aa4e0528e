//! Runs a plan: actions form a dependency graph (each step names the steps it comes after), independent
//! chains run side by side on a few worker threads (so the template download does not wait for package
//! installs), and the receipt is rewritten after every state change.
//!
//! Per step: detect (`is_done`); if not done, `prepare` records the state before the change, the receipt
//! is saved with the step `running`, then `execute` and `verify`, and the receipt is saved again with the
//! step `done`. A step found `running` in the receipt was interrupted: it keeps the record of that first
//! attempt and is detected and executed again, so a run killed at any point (kill -9 included) ends, once
//! re-run, in the same state as one that never stopped.

use std::time::{Duration, Instant};

use std::sync::Mutex;

use super::progress::{Outcome, Progress};
use super::receipt::{self, now, Entry, Receipt, ReceiptError, State};
use super::{Action, ActionError, Ctx, Record};

/// One planned action and the indices of the steps it must wait for.
pub struct Step {
    pub action: Box<dyn Action>,
    pub after: Vec<usize>,
}

#[derive(Debug, Clone)]
pub struct Options {
    /// Actions run at the same time at most.
    pub workers: usize,
    /// Test hook: SIGKILL this process right after the N-th action of this run completed (receipt saved).
    /// Tests only: SIGKILL this process once the receipt of this many actions is saved (the command line
    /// takes it in debug builds only).
    pub kill_after: Option<usize>,
}

impl Default for Options {
    fn default() -> Self {
        Options { workers: 4, kill_after: None }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    Done,
    Pending,
    /// Could not tell (e.g. the database it checks is not there yet); it will run.
    Unknown(String),
}

/// Whether each step is done now (for `plan` and `install --dry-run`).
pub fn survey(steps: &[Step], ctx: &Ctx) -> Vec<Status> {
    steps
        .iter()
        .map(|s| match s.action.is_done(ctx) {
            Ok(true) => Status::Done,
            Ok(false) => Status::Pending,
            Err(e) => Status::Unknown(ctx.redactor.redact(&e.to_string())),
        })
        .collect()
}

#[derive(Debug, Clone)]
pub struct Summary {
    pub total: usize,
    pub executed: usize,
    pub already_done: usize,
    pub elapsed: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error(transparent)]
    Receipt(#[from] ReceiptError),
    #[error("cannot write the receipt: {0}")]
    Save(ActionError),
    #[error("action {number} failed: {description}: {error}")]
    Action { number: usize, description: String, error: String, tail: Option<String> },
    #[error("the plan's dependencies form a cycle or point past the plan at step {0}")]
    BadGraph(usize),
    #[error("two steps of the plan have the same id {0:?}")]
    DuplicateId(String),
}

/// Run `steps`, resuming from the receipt under `ctx.root`. `base` gives the receipt's header fields.
pub fn execute(steps: &[Step], ctx: &Ctx, base: Receipt, progress: &dyn Progress, opts: &Options) -> Result<Summary, ExecError> {
    for (i, s) in steps.iter().enumerate() {
        if s.after.iter().any(|&d| d >= i) {
            return Err(ExecError::BadGraph(i));
        }
    }
    let mut ids = std::collections::HashSet::new();
    for s in steps {
        if !ids.insert(s.action.id()) {
            return Err(ExecError::DuplicateId(s.action.id()));
        }
    }
    let started = Instant::now();
    let rpath = receipt::path(ctx);
    let old = Receipt::load(&rpath)?;
    let mut rec = base;
    rec.started = Some(now());
    rec.actions = steps
        .iter()
        .map(|s| {
            let id = s.action.id();
            let description = ctx.redactor.redact(&s.action.describe());
            match old.as_ref().and_then(|o| o.entry(&id)) {
                Some(e) => Entry {
                    id,
                    description,
                    state: if e.state == State::Failed { State::Pending } else { e.state },
                    record: e.record.clone(),
                    at: e.at.clone(),
                    error: None,
                },
                None => Entry { id, description, ..Entry::default() },
            }
        })
        .collect();
    if let Some(o) = &old {
        // Keep what earlier plans did and this one no longer plans: reset still needs it.
        for e in &o.actions {
            if rec.entry(&e.id).is_none() {
                rec.actions.push(e.clone());
            }
        }
    }
    rec.save(&rpath).map_err(ExecError::Save)?;
    crate::log::line(&format!("install: {} actions, receipt {}", steps.len(), rpath.display()));

    let shared = Mutex::new(rec);
    let update = |i: usize, f: &dyn Fn(&mut Entry)| -> Result<(), ActionError> {
        let mut r = shared.lock().unwrap();
        f(&mut r.actions[i]);
        r.actions[i].at = Some(now());
        r.save(&rpath)
    };

    let run_step = |i: usize| -> Result<Outcome, ActionError> {
        let a = &steps[i].action;
        let desc = ctx.redactor.redact(&a.describe());
        let prev = shared.lock().unwrap().actions[i].clone();
        let owned = matches!(prev.state, State::Running | State::Done);
        let done = a.is_done(ctx).unwrap_or_else(|e| {
            crate::log::line(&ctx.redactor.redact(&format!("could not tell whether \"{desc}\" is done ({e}); running it")));
            false
        });
        if done {
            update(i, &|e| e.state = if owned { State::Done } else { State::AlreadyDone })?;
            crate::log::line(&format!("already done: {desc}"));
            return Ok(Outcome::AlreadyDone);
        }
        progress.started(i, &desc);
        crate::log::line(&format!("start: {desc}"));
        let mut record = prev.record.clone();
        if !owned {
            record = Record::default();
            a.prepare(ctx, &mut record)?;
        }
        let r2 = record.clone();
        update(i, &|e| {
            e.state = State::Running;
            e.record = r2.clone();
        })?;
        a.execute(ctx, &mut record)?;
        a.verify(ctx)?;
        update(i, &|e| {
            e.state = State::Done;
            e.record = record.clone();
        })?;
        Ok(Outcome::Executed)
    };

    let n = steps.len();
    let initially_done = survey_receipt(&shared.lock().unwrap(), n);
    progress.begin(n, initially_done);

    #[derive(Clone, Copy, PartialEq)]
    enum Phase {
        Waiting,
        Running,
        Finished,
    }
    let mut phase = vec![Phase::Waiting; n];
    let mut executed = 0;
    let mut already = 0;
    let mut completed = 0;
    let mut failure: Option<ExecError> = None;

    let (job_tx, job_rx) = crossbeam_channel::unbounded::<usize>();
    let (res_tx, res_rx) = crossbeam_channel::unbounded::<(usize, Result<Outcome, ActionError>, Duration)>();
    std::thread::scope(|scope| {
        for _ in 0..opts.workers.max(1) {
            let job_rx = job_rx.clone();
            let res_tx = res_tx.clone();
            let run_step = &run_step;
            scope.spawn(move || {
                for i in job_rx.iter() {
                    let t = Instant::now();
                    let r = run_step(i);
                    let _ = res_tx.send((i, r, t.elapsed()));
                }
            });
        }
        let mut running = 0;
        let mut held: Vec<&'static str> = vec![];
        loop {
            if failure.is_none() {
                for i in 0..n {
                    let res = steps[i].action.exclusive();
                    if phase[i] == Phase::Waiting
                        && steps[i].after.iter().all(|&d| phase[d] == Phase::Finished)
                        && res.is_none_or(|r| !held.contains(&r))
                    {
                        phase[i] = Phase::Running;
                        held.extend(res);
                        running += 1;
                        let _ = job_tx.send(i);
                    }
                }
            }
            if running == 0 {
                break;
            }
            let Ok((i, r, took)) = res_rx.recv() else { break };
            running -= 1;
            if let Some(res) = steps[i].action.exclusive() {
                held.retain(|h| *h != res);
            }
            let desc = ctx.redactor.redact(&steps[i].action.describe());
            match r {
                Ok(outcome) => {
                    phase[i] = Phase::Finished;
                    match outcome {
                        Outcome::Executed => {
                            executed += 1;
                            crate::log::line(&format!("done in {:.2}s: {desc}", took.as_secs_f64()));
                        }
                        Outcome::AlreadyDone => already += 1,
                    }
                    progress.finished(i, &desc, outcome, took);
                    completed += 1;
                    if opts.kill_after == Some(completed) {
                        crate::log::line(&format!("test hook: killing this process after action {completed}"));
                        let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGKILL);
                    }
                }
                Err(e) => {
                    let error = ctx.redactor.redact(&e.to_string());
                    let tail = e.output_tail().map(|t| ctx.redactor.redact(t));
                    crate::log::line(&format!("FAILED: {desc}: {error}"));
                    progress.failed(i, &desc, &error);
                    let err2 = error.clone();
                    let _ = update(i, &|en| {
                        en.state = State::Failed;
                        en.error = Some(err2.clone());
                    });
                    if failure.is_none() {
                        failure = Some(ExecError::Action { number: i + 1, description: desc, error, tail });
                    }
                }
            }
        }
        drop(job_tx);
    });
    progress.end();
    if let Some(f) = failure {
        return Err(f);
    }
    let mut r = shared.into_inner().unwrap();
    r.complete = r.actions[..n].iter().all(|e| matches!(e.state, State::Done | State::AlreadyDone));
    r.finished = Some(now());
    r.save(&rpath).map_err(ExecError::Save)?;
    let summary = Summary { total: n, executed, already_done: already, elapsed: started.elapsed() };
    crate::log::line(&format!("install finished: {executed} actions run, {already} already done, in {:.1}s", summary.elapsed.as_secs_f64()));
    Ok(summary)
}

fn survey_receipt(r: &Receipt, n: usize) -> usize {
    r.actions[..n].iter().filter(|e| matches!(e.state, State::Done | State::AlreadyDone)).count()
}

/// Undo the steps of a receipt in reverse order, each from its record. Steps the receipt marks as found
/// already done are left alone: cloudstrap did not make them.
pub fn revert(steps: &[Step], ctx: &Ctx) -> Result<usize, ExecError> {
    let rpath = receipt::path(ctx);
    let Some(mut rec) = Receipt::load(&rpath)? else { return Ok(0) };
    let mut reverted = 0;
    for s in steps.iter().rev() {
        let id = s.action.id();
        let Some(pos) = rec.actions.iter().position(|e| e.id == id) else { continue };
        let e = rec.actions[pos].clone();
        if !matches!(e.state, State::Done | State::Running | State::Failed) {
            continue;
        }
        s.action.revert(ctx, &e.record).map_err(|err| ExecError::Action {
            number: pos + 1,
            description: format!("revert: {}", e.description),
            error: ctx.redactor.redact(&err.to_string()),
            tail: err.output_tail().map(|t| ctx.redactor.redact(t)),
        })?;
        rec.actions[pos].state = State::Pending;
        rec.actions[pos].record = Record::default();
        rec.complete = false;
        rec.save(&rpath).map_err(ExecError::Save)?;
        reverted += 1;
    }
    Ok(reverted)
}
