//! `profile check` against hostile input, through the real binary: a FIFO or a device as the profile or
//! as a secret file (each run under a deadline, so a hang fails instead of blocking the suite), unusable
//! secrets located with exit 2, unset variables as warnings with exit 4, passwords typed where a name
//! belongs never echoed, readable secret files warned about, huge values and floods of unknown keys cut,
//! lone-CR line endings, and addresses that name no host.

use std::fs;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_cloudstrap");

const PROFILE: &str = "[cloudstack]\nrelease = \"4.22\"\n\n[host]\nroles = [\"management\"]\nhostname = \"cloud\"\n\
fqdn = \"cloud.example.org\"\naddress = \"192.168.10.10/24\"\ngateway = \"192.168.10.1\"\n\n\
[database]\nhost = \"192.168.10.11\"\nroot-password-file = \"root.pw\"\ncloud-password-env = \"T_LOADER_CLOUD\"\n\n\
[nfs]\nserver = \"192.168.10.12\"\nclients = \"192.168.10.0/24\"\n";

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// `cloudstrap profile check FILE` in `dir`, killed after 10 s (a hang is a failure, not a stuck suite).
fn check(dir: &Path, file: &str, env: &[(&str, &str)]) -> Run {
    let mut child = Command::new(BIN)
        .args(["profile", "check", file])
        .current_dir(dir)
        .env_remove("T_LOADER_CLOUD")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    loop {
        if let Some(_) = child.try_wait().unwrap() {
            break;
        }
        if start.elapsed() > Duration::from_secs(10) {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("profile check {file} still ran after 10 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let (mut stdout, mut stderr) = (String::new(), String::new());
    child.stdout.take().unwrap().read_to_string(&mut stdout).unwrap();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    Run { code: child.wait().unwrap().code(), stdout, stderr }
}

fn setup(profile: &str) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    fs::write(d.path().join("p.toml"), profile).unwrap();
    fs::write(d.path().join("root.pw"), "Root-Pw-1\n").unwrap();
    fs::set_permissions(d.path().join("root.pw"), fs::Permissions::from_mode(0o600)).unwrap();
    d
}

fn mkfifo(p: &Path) {
    nix::unistd::mkfifo(p, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
}

#[test]
fn fifos_and_devices_are_refused_without_hanging() {
    let d = setup(PROFILE);
    let cloud = [("T_LOADER_CLOUD", "Cloud-Pw-1")];
    assert_eq!(check(d.path(), "p.toml", &cloud).code, Some(0));

    mkfifo(&d.path().join("fifo.toml"));
    let r = check(d.path(), "fifo.toml", &cloud);
    assert_eq!(r.code, Some(2), "{}", r.stderr);
    assert!(r.stderr.contains("fifo.toml: cannot read the profile: it is a FIFO, not a regular file"), "{}", r.stderr);
    let r = check(d.path(), "/dev/zero", &cloud);
    assert_eq!(r.code, Some(2), "{}", r.stderr);
    assert!(r.stderr.contains("it is a device, not a regular file"), "{}", r.stderr);

    fs::remove_file(d.path().join("root.pw")).unwrap();
    mkfifo(&d.path().join("root.pw"));
    let r = check(d.path(), "p.toml", &cloud);
    assert_eq!(r.code, Some(2), "{}", r.stderr);
    assert!(r.stderr.contains("p.toml:13:22: database.root-password-file: root.pw is a FIFO, not a regular file"), "{}", r.stderr);
    fs::remove_file(d.path().join("root.pw")).unwrap();
    std::os::unix::fs::symlink("/dev/zero", d.path().join("root.pw")).unwrap();
    let r = check(d.path(), "p.toml", &cloud);
    assert_eq!(r.code, Some(2));
    assert!(r.stderr.contains("root.pw is a device, not a regular file"), "{}", r.stderr);
    // A regular file larger than any secret is not read whole either.
    fs::remove_file(d.path().join("root.pw")).unwrap();
    fs::write(d.path().join("root.pw"), vec![b'a'; 200_000]).unwrap();
    fs::set_permissions(d.path().join("root.pw"), fs::Permissions::from_mode(0o600)).unwrap();
    let r = check(d.path(), "p.toml", &cloud);
    assert_eq!(r.code, Some(2));
    assert!(r.stderr.contains("root.pw is larger than 64 KiB") && r.stderr.len() < 1000, "{}", r.stderr);
}

#[test]
fn unusable_secrets_are_located_with_exit_2_and_unset_variables_warned_with_exit_4() {
    let d = setup(PROFILE);
    let pw = d.path().join("root.pw");
    let cloud = [("T_LOADER_CLOUD", "Cloud-Pw-1")];
    let cases: [(&str, &dyn Fn(), &str); 4] = [
        ("missing", &|| (), "root.pw cannot be read: no such file"),
        ("empty", &|| fs::write(&pw, "").unwrap(), "the secret it gives is empty"),
        ("directory", &|| fs::create_dir(&pw).unwrap(), "root.pw is a directory, not a regular file"),
        ("NUL", &|| fs::write(&pw, "a\0b\n").unwrap(), "the secret it gives contains a line break or NUL"),
    ];
    for (what, make, want) in cases {
        let _ = fs::remove_dir(&pw);
        let _ = fs::remove_file(&pw);
        make();
        let r = check(d.path(), "p.toml", &cloud);
        assert_eq!(r.code, Some(2), "{what}: {}{}", r.stdout, r.stderr);
        assert!(r.stdout.is_empty(), "{what}: said ok: {}", r.stdout);
        assert!(r.stderr.contains(&format!("p.toml:13:22: database.root-password-file: {want}")), "{what}: {}", r.stderr);
    }
    let _ = fs::remove_dir(&pw);
    fs::write(&pw, "Root-Pw-1\n").unwrap();
    fs::set_permissions(&pw, fs::Permissions::from_mode(0o600)).unwrap();

    // Set but empty: it cannot work. Not set: to be supplied where the profile is installed.
    let r = check(d.path(), "p.toml", &[("T_LOADER_CLOUD", "")]);
    assert_eq!(r.code, Some(2), "{}", r.stderr);
    assert!(r.stderr.contains("p.toml:14:22: database.cloud-password-env: the secret it gives is empty"), "{}", r.stderr);
    let r = check(d.path(), "p.toml", &[]);
    assert_eq!(r.code, Some(4), "{}", r.stderr);
    assert!(r.stdout.contains("p.toml: ok"), "{}", r.stdout);
    assert!(r.stderr.contains("warning: p.toml:14:22: database.cloud-password-env: environment variable T_LOADER_CLOUD is not set"), "{}", r.stderr);
}

#[test]
fn a_password_where_a_name_belongs_is_not_echoed_and_readable_secret_files_are_warned_about() {
    let text = PROFILE.replace("\"root.pw\"", "\"Hunter2pw\"").replace("\"T_LOADER_CLOUD\"", "\"hunter2\"");
    let d = setup(&text);
    let r = check(d.path(), "p.toml", &[]);
    assert_eq!(r.code, Some(2), "{}", r.stderr);
    assert!(!r.stderr.contains("Hunter2pw") && !r.stderr.contains("hunter2"), "{}", r.stderr);
    assert!(r.stderr.contains("database.root-password-file: the file it names cannot be read"), "{}", r.stderr);
    assert!(r.stderr.contains("database.cloud-password-env: the environment variable it names is not set"), "{}", r.stderr);
    let bad = PROFILE.replace("\"T_LOADER_CLOUD\"", "\"s3cr3t pass!\"");
    let d = setup(&bad);
    let r = check(d.path(), "p.toml", &[]);
    assert_eq!(r.code, Some(2));
    assert!(!r.stderr.contains("s3cr3t") && r.stderr.contains("is not an environment variable name"), "{}", r.stderr);

    let d = setup(PROFILE);
    for mode in [0o644, 0o640] {
        fs::set_permissions(d.path().join("root.pw"), fs::Permissions::from_mode(mode)).unwrap();
        let r = check(d.path(), "p.toml", &[("T_LOADER_CLOUD", "Cloud-Pw-1")]);
        assert_eq!(r.code, Some(0), "{}", r.stderr);
        assert!(
            r.stderr.contains(&format!("warning: p.toml:13:22: database.root-password-file: root.pw is readable by group or others (mode {mode:04o})")),
            "{}",
            r.stderr
        );
        assert!(!r.stderr.contains("Root-Pw-1"));
    }
    // install says it too, before anything else (here a dry run into an empty root).
    let root = tempfile::tempdir().unwrap();
    fs::write(d.path().join("p.toml"), PROFILE.replace("[host]\n", "[host]\nplatform = \"debian-12\"\n")).unwrap();
    let install = |d: &Path| {
        Command::new(BIN).arg("--root").arg(root.path()).args(["install", "--dry-run", "--profile", "p.toml"]).current_dir(d).env("T_LOADER_CLOUD", "Cloud-Pw-1").stdin(Stdio::null()).output().unwrap()
    };
    let out = install(d.path());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("warning: p.toml:14:22: database.root-password-file: root.pw is readable by group or others (mode 0640)"), "{err}");
    fs::set_permissions(d.path().join("root.pw"), fs::Permissions::from_mode(0o600)).unwrap();
    let out = install(d.path());
    assert!(!String::from_utf8_lossy(&out.stderr).contains("warning"), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn huge_values_and_floods_of_unknown_keys_are_cut_and_summarised() {
    // A profile over the 1 MiB limit is not read at all; a value just under it is not echoed whole.
    let d = setup(&PROFILE.replace("hostname = \"cloud\"", &format!("hostname = \"{}\"", "x".repeat(5_000_000))));
    let r = check(d.path(), "p.toml", &[("T_LOADER_CLOUD", "Cloud-Pw-1")]);
    assert_eq!(r.code, Some(2));
    assert!(r.stderr.contains("cannot read the profile: it is larger than 1024 KiB") && r.stderr.len() < 300, "{}", r.stderr);
    let d = setup(&PROFILE.replace("fqdn = \"cloud.example.org\"", &format!("fqdn = \"{}\"", "x".repeat(900_000))));
    let r = check(d.path(), "p.toml", &[("T_LOADER_CLOUD", "Cloud-Pw-1")]);
    assert_eq!(r.code, Some(2));
    assert!(r.stderr.contains("host.fqdn") && r.stderr.contains("characters)") && r.stderr.len() < 2000, "{} bytes of errors: {}", r.stderr.len(), &r.stderr[..r.stderr.len().min(3000)]);

    let mut flood = PROFILE.to_string();
    // Appended to the last table, [nfs]: each one an unknown key there.
    for i in 0..20_000 {
        flood.push_str(&format!("key{i} = 1\n"));
    }
    let d = setup(&flood);
    let r = check(d.path(), "p.toml", &[("T_LOADER_CLOUD", "Cloud-Pw-1")]);
    assert_eq!(r.code, Some(2));
    assert!(r.stderr.len() < 20_000, "{} bytes of errors", r.stderr.len());
    assert!(r.stderr.lines().count() <= 51, "{} lines", r.stderr.lines().count());
    assert!(r.stderr.contains("(more): ") && r.stderr.contains("more problems not shown"), "{}", r.stderr);
}

#[test]
fn lone_cr_line_endings_and_addresses_that_name_no_host() {
    let d = setup(&PROFILE.replace('\n', "\r"));
    let r = check(d.path(), "p.toml", &[("T_LOADER_CLOUD", "Cloud-Pw-1")]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    // Positions still count lines: an error on line 13 is reported there.
    let d = setup(&PROFILE.replace("\"root.pw\"", "\"gone.pw\"").replace('\n', "\r"));
    let r = check(d.path(), "p.toml", &[("T_LOADER_CLOUD", "Cloud-Pw-1")]);
    assert!(r.stderr.contains("p.toml:13:22: database.root-password-file"), "{}", r.stderr);

    for (addr, kind) in [("fe80::1", "link-local"), ("169.254.0.9", "link-local"), ("ff02::1", "multicast"), ("0.0.0.0", "unspecified"), ("::", "unspecified")] {
        let d = setup(&PROFILE.replace("host = \"192.168.10.11\"", &format!("host = \"{addr}\"")));
        let r = check(d.path(), "p.toml", &[("T_LOADER_CLOUD", "Cloud-Pw-1")]);
        assert_eq!(r.code, Some(2), "{addr}: {}", r.stdout);
        assert!(r.stderr.contains(&format!("p.toml:12:8: database.host: {addr} is")) && r.stderr.contains(kind), "{addr}: {}", r.stderr);
    }
    let d = setup(&PROFILE.replace("192.168.10.10/24", "169.254.3.3/16").replace("192.168.10.1\"", "169.254.0.1\""));
    let r = check(d.path(), "p.toml", &[("T_LOADER_CLOUD", "Cloud-Pw-1")]);
    assert_eq!(r.code, Some(2));
    assert!(r.stderr.contains("host.address: 169.254.3.3 cannot be a host's address"), "{}", r.stderr);
}
