//! `cloudstrap completions bash|zsh|fish` loaded into the real shells, and the man pages from
//! `cloudstrap man-pages --out DIR` rendered by man-db: both generated from the clap definition, so every
//! subcommand and flag is in them (shells and man from scripts/test-env/packages/cli-docs.list).

use std::path::Path;
use std::process::Command;

use clap::CommandFactory;

const BIN: &str = env!("CARGO_BIN_EXE_cloudstrap");

fn completions(shell: &str) -> String {
    let out = Command::new(BIN).args(["completions", shell]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn run(shell: &str, args: &[&str]) -> String {
    let out = Command::new(shell)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{shell} is needed (scripts/test-env/packages/cli-docs.list): {e}"));
    assert!(out.status.success(), "{shell} {args:?}: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// What bash offers for the words of `line` when TAB is pressed at its end, through the function the
/// script registers with `complete -F`.
fn bash_complete(script: &Path, line: &str) -> Vec<String> {
    let words: Vec<&str> = line.split(' ').collect();
    let cword = words.len() - 1;
    let prog = format!(
        r#"source {script}
fn=$(complete -p cloudstrap | sed -n 's/.*-F \([^ ]*\) .*/\1/p')
COMP_LINE={line:?}; COMP_POINT=${{#COMP_LINE}}; COMP_WORDS=({words}); COMP_CWORD={cword}
"$fn" cloudstrap {cur:?} {prev:?}
printf '%s\n' "${{COMPREPLY[@]}}""#,
        script = script.display(),
        words = words.iter().map(|w| format!("{w:?}")).collect::<Vec<_>>().join(" "),
        cur = words[cword],
        prev = words[cword.saturating_sub(1)],
    );
    run("bash", &["-c", &prog]).lines().map(str::to_owned).collect()
}

#[test]
fn bash_completes_subcommands_flags_and_values() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("cloudstrap.bash");
    std::fs::write(&script, completions("bash")).unwrap();
    assert_eq!(bash_complete(&script, "cloudstrap ins"), ["install"]);
    let zone = bash_complete(&script, "cloudstrap zone ");
    assert!(zone.contains(&"deploy".to_string()) && !zone.contains(&"install".to_string()), "{zone:?}");
    assert_eq!(bash_complete(&script, "cloudstrap install --pro"), ["--profile"]);
    let shells = bash_complete(&script, "cloudstrap completions ");
    assert!(["bash", "zsh", "fish"].iter().all(|s| shells.iter().any(|w| w == s)), "{shells:?}");
    let top = bash_complete(&script, "cloudstrap ");
    for sub in cloudstrap::cli::Cli::command().get_subcommands().filter(|s| !s.is_hide_set()) {
        assert!(top.iter().any(|w| w == sub.get_name()), "{} missing from {top:?}", sub.get_name());
    }
}

#[test]
fn fish_completes_the_subcommands() {
    let script = completions("fish");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cloudstrap.fish");
    std::fs::write(&file, script).unwrap();
    let ask = |line: &str| run("fish", &["--no-config", "-c", &format!("source {}; complete -C {line:?}", file.display())]);
    let ins = ask("cloudstrap ins");
    assert!(ins.starts_with("install\tInstall this host's roles"), "{ins}");
    let flags = ask("cloudstrap reset --");
    assert!(flags.lines().any(|l| l.starts_with("--backup-dir\t")), "{flags}");
}

#[test]
fn zsh_loads_the_completion_function() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("_cloudstrap");
    std::fs::write(&file, completions("zsh")).unwrap();
    run("zsh", &["-n", &file.to_string_lossy()]);
    // What a zsh with completion enabled does with a _cloudstrap file on its fpath.
    let prog = format!("fpath=({} $fpath); autoload -U compinit; compinit -u -D; print -r -- $_comps[cloudstrap]", dir.path().display());
    assert_eq!(run("zsh", &["-f", "-c", &prog]).trim(), "_cloudstrap");
}

#[test]
fn the_hidden_page_writer_is_in_neither_completions_nor_help() {
    for shell in ["bash", "zsh", "fish"] {
        assert!(!completions(shell).contains("man-pages"), "{shell}");
    }
    let help = Command::new(BIN).arg("--help").output().unwrap();
    assert!(!String::from_utf8_lossy(&help.stdout).contains("man-pages"));
}

/// Every visible command path, as man page names: ["cloudstrap", "cloudstrap-install", "cloudstrap-zone-deploy", ...]
fn command_pages(cmd: &clap::Command, prefix: &str, out: &mut Vec<(String, clap::Command)>) {
    let name = if prefix.is_empty() { cmd.get_name().to_string() } else { format!("{prefix}-{}", cmd.get_name()) };
    out.push((name.clone(), cmd.clone()));
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set() && s.get_name() != "help") {
        command_pages(sub, &name, out);
    }
}

#[test]
fn man_opens_a_page_per_subcommand_with_every_flag() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN).arg("man-pages").arg("--out").arg(dir.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let mut pages = Vec::new();
    let mut cli = cloudstrap::cli::Cli::command();
    cli.build();
    command_pages(&cli, "", &mut pages);
    assert!(pages.len() >= 15, "{}", pages.len());
    let mut written: Vec<String> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    let mut expected: Vec<String> = pages.iter().map(|(n, _)| format!("{n}.1")).collect();
    written.sort();
    expected.sort();
    assert_eq!(written, expected);
    for (name, cmd) in &pages {
        let page = dir.path().join(format!("{name}.1"));
        let shown = Command::new("man").env("MANWIDTH", "200").env("MAN_KEEP_FORMATTING", "").arg("-l").arg(&page).output()
            .expect("man is needed (man-db, scripts/test-env/packages/cli-docs.list)");
        assert!(shown.status.success(), "man -l {}: {}", page.display(), String::from_utf8_lossy(&shown.stderr));
        let text = String::from_utf8_lossy(&shown.stdout);
        assert!(text.contains(&format!("{name} - ")), "{name}: no NAME line in\n{text}");
        for arg in cmd.get_arguments().filter(|a| !a.is_hide_set()) {
            if let Some(long) = arg.get_long() {
                assert!(text.contains(&format!("--{long}")), "{name}: --{long} missing from\n{text}");
            }
        }
    }
}
