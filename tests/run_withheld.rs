//! A profile's `*-env` variables never reach a child process, whichever way it is started (captured,
//! streamed, or a plain std command). Its own test binary: setting a variable is only sound while no other
//! thread runs, and this harness runs this one test alone.

use cloudstrap::run::{std_command, withhold_env, Cmd, Redactor};

#[test]
fn withheld_variables_do_not_reach_children() {
    std::env::set_var("CLOUDSTRAP_T_WITHHELD", "Hush-77");
    // Inherited until withheld: the test would pass for nothing otherwise.
    let out = Cmd::new("env").run(&Redactor::default()).unwrap();
    assert!(out.stdout.contains("Hush-77"), "{}", out.stdout);
    withhold_env("CLOUDSTRAP_T_WITHHELD");
    let out = Cmd::new("env").run(&Redactor::default()).unwrap();
    assert!(!out.stdout.contains("Hush-77"), "{}", out.stdout);
    let mut streamed = Vec::new();
    Cmd::new("env").stream(&Redactor::default(), None, &mut streamed).unwrap();
    assert!(!String::from_utf8_lossy(&streamed).contains("Hush-77"));
    let out = std_command("env").output().unwrap();
    assert!(!String::from_utf8_lossy(&out.stdout).contains("Hush-77"));
}
