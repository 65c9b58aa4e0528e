//! Running upstream's Python setup scripts without their arguments reaching the process list.
//! CloudStack's setup-databases takes passwords on argv; we start `python -c LAUNCHER ARGFILE` instead, where
//! the launcher reads the real argv from a 0600 file and runs the script in-process (runpy).

use std::io;
use std::path::Path;

use super::{Cmd, SecretFile};

/// The launcher passed to `python -c`.
pub const PY_LAUNCHER: &str = include_str!("py_launcher.py");

/// A command (run on this machine) that runs `script` with `args` through the launcher, and the 0600
/// file holding the argv, in `root`'s private secret directory ([`SecretFile`]). Keep the file alive until
/// the command has finished; dropping it deletes it.
/// The interpreter comes from the script's `#!` line (`python3` when it has none).
pub fn python_script_cmd(script: &Path, args: &[String], root: &Path) -> io::Result<(Cmd, SecretFile)> {
    let mut argv = vec![script.to_string_lossy().into_owned()];
    argv.extend(args.iter().cloned());
    let file = SecretFile::create(root, "setup-argv", serde_json::to_string(&argv).map_err(io::Error::other)?.as_bytes())?;
    let (program, pre) = interpreter(script);
    let cmd = Cmd::new(program).args(pre).arg("-c").arg(PY_LAUNCHER).arg(file.host_path().to_string_lossy().into_owned());
    Ok((cmd, file))
}

/// As [`python_script_cmd`] for a script inside `root` (`script` as the root sees it), run in `chroot root`:
/// the interpreter, the script and the argv file are all the root's.
pub fn python_script_cmd_in_root(root: &Path, script: &Path, args: &[String]) -> io::Result<(Cmd, SecretFile)> {
    let mut argv = vec![script.to_string_lossy().into_owned()];
    argv.extend(args.iter().cloned());
    let file = SecretFile::create(root, "setup-argv", serde_json::to_string(&argv).map_err(io::Error::other)?.as_bytes())?;
    let (program, pre) = interpreter(&root.join(script.strip_prefix("/").unwrap_or(script)));
    let cmd = Cmd::new(program).args(pre).arg("-c").arg(PY_LAUNCHER).arg(file.inner_path().to_string_lossy().into_owned()).in_root(root);
    Ok((cmd, file))
}

/// The program (and its leading arguments) named by the script's `#!` line.
fn interpreter(script: &Path) -> (String, Vec<String>) {
    let first = std::fs::read(script)
        .ok()
        .and_then(|b| b.split(|&c| c == b'\n').next().map(|l| String::from_utf8_lossy(l).into_owned()))
        .unwrap_or_default();
    let Some(line) = first.strip_prefix("#!") else { return ("python3".into(), vec![]) };
    let mut words = line.split_whitespace().map(String::from);
    match words.next() {
        // `#!/usr/bin/env python3`: the word after env is the program (its flags are not needed here).
        Some(p) if p.ends_with("/env") => (words.find(|w| !w.starts_with('-')).unwrap_or_else(|| "python3".into()), vec![]),
        Some(p) if p.contains("python") => (p, vec![]),
        _ => ("python3".into(), vec![]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interpreter_from_shebang() {
        let dir = tempfile::tempdir().unwrap();
        let cases = [
            ("#!/usr/bin/env python3\n", "python3"),
            ("#!/usr/bin/python\n", "/usr/bin/python"),
            ("#!/usr/bin/python3 -s\n", "/usr/bin/python3"),
            ("print(1)\n", "python3"),
        ];
        for (i, (text, want)) in cases.iter().enumerate() {
            let p = dir.path().join(format!("s{i}"));
            std::fs::write(&p, text).unwrap();
            assert_eq!(interpreter(&p).0, *want, "{text}");
        }
    }

    #[test]
    fn argv_file_is_private_and_not_on_the_command_line() {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("echo.py");
        std::fs::write(&script, "#!/usr/bin/env python3\nimport sys, json\nprint(json.dumps(sys.argv[1:]))\n").unwrap();
        let secret = "s3cr#t \"x\"".to_string();
        let (cmd, file) = python_script_cmd(&script, &["--pw".into(), secret.clone()], dir.path()).unwrap();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(file.host_path()).unwrap().permissions().mode() & 0o777, 0o600);
        assert!(!cmd.display().contains(&secret));
        let out = cmd.run_ok(&Default::default()).unwrap();
        let got: Vec<String> = serde_json::from_str(out.stdout.trim()).unwrap();
        assert_eq!(got, vec!["--pw".to_string(), secret]);
    }
}
