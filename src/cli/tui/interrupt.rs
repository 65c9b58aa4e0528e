//! Ctrl-C during the guided install. Until the operator confirms, nothing has been written, so an
//! interruption only has to give the terminal back as it was (a hidden password prompt turns echo off)
//! and say so. SIGINT is blocked in every thread and taken by one watcher thread; prompts in raw mode
//! see Ctrl-C as a key instead and come back as `Stop::Interrupted`.

use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

use nix::libc;
use nix::sys::signal::{SigSet, Signal};

/// Set once the operator confirmed and the host may change.
static COMMITTED: AtomicBool = AtomicBool::new(false);
static SAVED: OnceLock<Option<Termios>> = OnceLock::new();

#[derive(Clone, Copy)]
struct Termios(libc::termios);

/// Remember the terminal's settings and start watching for SIGINT/SIGTERM. Call before any thread starts.
pub fn watch() {
    let mut t = MaybeUninit::<libc::termios>::uninit();
    // SAFETY: tcgetattr fills the struct when it returns 0; stdin is a terminal here.
    let saved = unsafe { (libc::tcgetattr(0, t.as_mut_ptr()) == 0).then(|| Termios(t.assume_init())) };
    let _ = SAVED.set(saved);
    let mut set = SigSet::empty();
    set.add(Signal::SIGINT);
    set.add(Signal::SIGTERM);
    if set.thread_block().is_err() {
        return;
    }
    std::thread::spawn(move || {
        if set.wait().is_ok() {
            if COMMITTED.load(Ordering::SeqCst) {
                restore_terminal();
                eprintln!("\nInterrupted during the install: the receipt records what was done; run the same install again to continue.");
                std::process::exit(crate::cli::exit::FAILED as i32);
            }
            interrupted_exit();
        }
    });
}

/// From now on the host may change (the operator confirmed). Signals are unblocked again in this thread,
/// so the engine's threads and the commands they start get Ctrl-C as an unattended install does.
pub fn commit() {
    COMMITTED.store(true, Ordering::SeqCst);
    let mut set = SigSet::empty();
    set.add(Signal::SIGINT);
    set.add(Signal::SIGTERM);
    let _ = set.thread_unblock();
}

/// Put the terminal back as it was at start (echo on, cursor shown).
pub fn restore_terminal() {
    if let Some(Some(t)) = SAVED.get() {
        // SAFETY: restores settings read from the same descriptor by tcgetattr.
        unsafe {
            libc::tcsetattr(0, libc::TCSANOW, &t.0);
        }
    }
    let _ = console::Term::stderr().show_cursor();
}

/// Report an interruption before anything changed and leave with the "refused" exit code.
pub fn interrupted_exit() -> ! {
    restore_terminal();
    eprintln!("\nInterrupted: nothing on this host was changed and no profile was saved.");
    std::process::exit(crate::cli::exit::REFUSED as i32);
}
