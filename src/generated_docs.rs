//! Shell completion scripts and man pages, generated from the command-line definition it is given, so
//! neither can drift from the flags. Takes a plain `clap::Command` and never the CLI module itself, so it
//! sits below the command line in the layering.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Command;
use clap_complete::Shell;

/// Write the completion script for `shell` (bash, zsh, fish, ...) to `out`.
pub fn completions(mut cmd: Command, shell: Shell, out: &mut dyn Write) {
    let name = cmd.get_name().to_string();
    clap_complete::generate(shell, &mut cmd, name, out);
}

/// Write one man page per visible command into `dir`: `NAME.1` for the program, `NAME-SUB.1` for each
/// subcommand (and `NAME-SUB-SUBSUB.1` below it), as `man NAME-SUB` finds them. Returns the files written.
pub fn man_pages(cmd: Command, dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    // The source line ("cloudstrap 0.1.0") comes from the program on every page; subcommands have no
    // version of their own.
    let source = format!("{} {}", cmd.get_name(), cmd.get_version().unwrap_or_default());
    let mut cmd = cmd.disable_help_subcommand(true);
    // build() names every subcommand "NAME-SUB", which becomes its page's title and file name.
    cmd.build();
    let mut written = Vec::new();
    write_pages(&cmd, dir, &source, &mut written)?;
    Ok(written)
}

fn write_pages(cmd: &Command, dir: &Path, source: &str, written: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let page = clap_mangen::Man::new(cmd.clone()).source(source).manual("cloudstrap manual");
    written.push(page.generate_to(dir)?);
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        write_pages(sub, dir, source, written)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Arg;

    fn demo() -> Command {
        Command::new("demo")
            .version("1.2.3")
            .arg(Arg::new("root").long("root"))
            .subcommand(Command::new("install").about("Install it").arg(Arg::new("yes").long("yes").num_args(0)))
            .subcommand(Command::new("zone").subcommand(Command::new("deploy").about("Deploy a zone")))
            .subcommand(Command::new("secret").hide(true))
    }

    #[test]
    fn one_page_per_visible_command_named_for_man() {
        let dir = tempfile::tempdir().unwrap();
        let mut names: Vec<String> = man_pages(demo(), dir.path())
            .unwrap()
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["demo-install.1", "demo-zone-deploy.1", "demo-zone.1", "demo.1"]);
        let install = std::fs::read_to_string(dir.path().join("demo-install.1")).unwrap();
        assert!(install.starts_with(".ie"), "not roff: {install}");
        assert!(install.contains(".TH demo-install 1  \"demo 1.2.3\" \"cloudstrap manual\""), "{install}");
        assert!(install.contains("\\-\\-yes"), "{install}");
    }

    #[test]
    fn completion_scripts_name_the_subcommands() {
        for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
            let mut out = Vec::new();
            completions(demo(), shell, &mut out);
            let text = String::from_utf8(out).unwrap();
            assert!(text.contains("install") && text.contains("deploy"), "{shell}: {text}");
        }
    }
}
