//! `--verbose`: every command cloudstrap runs appears on stderr with its exit status and duration (the
//! runner's redacted form, as in the log); without it, none does. Preflight on this machine runs a few
//! read-only commands (name lookups, the time service's state).

use std::process::Command;

fn preflight(verbose: bool) -> String {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cloudstrap"));
    if verbose {
        c.arg("--verbose");
    }
    let out = c.args(["preflight", "--role", "nfs"]).output().unwrap();
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn verbose_shows_each_command_with_status_and_duration() {
    let err = preflight(true);
    let ran: Vec<&str> = err.lines().filter(|l| l.starts_with("ran `")).collect();
    assert!(!ran.is_empty(), "no command shown:\n{err}");
    for l in ran {
        let (_, tail) = l.rsplit_once("` -> ").unwrap_or_else(|| panic!("no status in {l:?}"));
        let (status, secs) = tail.split_once(" in ").unwrap_or_else(|| panic!("no duration in {l:?}"));
        status.parse::<i32>().unwrap_or_else(|_| panic!("status of {l:?}"));
        assert!(secs.ends_with('s') && secs.trim_end_matches('s').parse::<f64>().is_ok(), "{l:?}");
    }
}

#[test]
fn quiet_without_verbose() {
    let err = preflight(false);
    assert!(!err.lines().any(|l| l.starts_with("ran `")), "{err}");
}
