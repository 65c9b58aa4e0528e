//! `cloudstrap profile check` and `profile schema` through the real binary: paired fixtures
//! (tests/fixtures/profiles/NAME.toml with NAME.expected), the shipped profiles, secrets never echoed,
//! and the warning for group- or world-readable profiles holding inline secrets.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_cloudstrap");

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Copy `src` into a fresh directory with `mode` and run `profile check NAME` there,
/// so messages name the file as the fixture's .expected does.
fn check_copy(src: &Path, mode: u32) -> (tempfile::TempDir, Output) {
    let dir = tempfile::tempdir().unwrap();
    let name = src.file_name().unwrap();
    let dst = dir.path().join(name);
    fs::copy(src, &dst).unwrap();
    fs::set_permissions(&dst, fs::Permissions::from_mode(mode)).unwrap();
    // The secrets the fixtures give by reference, as an operator would supply them.
    let pw = dir.path().join("agent-root.pw");
    fs::write(&pw, "Agent-Root-1\n").unwrap();
    fs::set_permissions(&pw, fs::Permissions::from_mode(0o600)).unwrap();
    let out = Command::new(BIN)
        .args(["profile", "check"])
        .arg(name)
        .current_dir(dir.path())
        .envs([("DB_ROOT", "Db-Root-1"), ("DB_CLOUD", "Db-Cloud-1"), ("AGENT_ROOT", "Agent-Root-2")])
        .output()
        .unwrap();
    (dir, out)
}

fn fixtures() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(root().join("tests/fixtures/profiles"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    v.sort();
    assert!(v.len() >= 20, "expected the profile fixtures, found {}", v.len());
    v
}

#[test]
fn every_fixture_gives_its_expected_output() {
    let mut failures = Vec::new();
    for f in fixtures() {
        let expected_path = f.with_extension("expected");
        let expected = fs::read_to_string(&expected_path)
            .unwrap_or_else(|_| panic!("{} has no {}", f.display(), expected_path.display()));
        let (_d, out) = check_copy(&f, 0o600);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        if expected.trim() == "ok" {
            let ok = out.status.code() == Some(0) && stderr.is_empty() && stdout.starts_with(&format!("{name}: ok"));
            if !ok {
                failures.push(format!("{name}: expected ok, got exit {:?}\n{stdout}{stderr}", out.status.code()));
            }
        } else if out.status.code() != Some(2) || !stdout.is_empty() || stderr != expected {
            failures.push(format!(
                "{name}: exit {:?}\n--- expected\n{expected}--- got stdout\n{stdout}--- got stderr\n{stderr}",
                out.status.code()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn fixtures_cover_every_rule_family() {
    // One line per rule family the check promises; each must be exercised by some fixture.
    let all: String = fixtures().iter().map(|f| fs::read_to_string(f.with_extension("expected")).unwrap()).collect();
    for needle in [
        "invalid TOML",
        "unknown key",
        "expected a string, found",
        "missing: [host] needs",
        "is out of range",
        "is not a supported release",
        "unknown platform",
        "does not support el6",
        "is not an address with a prefix length",
        "network address",
        "is outside the host's network",
        "overlaps",
        "comes before start-ip",
        "is outside 192.168.10.0/25",
        "lies inside the range",
        "plain http",
        "is not an NFS URL",
        "is not a URL",
        "the management role needs a [database] section",
        "the nfs role needs a [nfs] section",
        "the kvm-agent role needs the management server's address",
        "more than one of",
        "missing: the management role deploys the cloud database as root",
        "contains a single quote",
        "contains a space",
        "contains a backslash",
        "contains a backtick",
        "contains a colon",
        "is not an environment variable name",
        "invalid UTF-8",
    ] {
        assert!(all.contains(needle), "no fixture expects a problem containing {needle:?}");
    }
}

/// Values of secret keys as written in a fixture (quoted or not), to look for in the output.
fn secret_values(text: &str) -> Vec<String> {
    let keys = ["root-password", "cloud-password", "management-key", "database-key", "admin-password", "secret-key", "password"];
    text.lines()
        .filter_map(|l| l.split_once('='))
        .filter(|(k, _)| keys.contains(&k.trim()))
        .map(|(_, v)| v.trim().trim_matches('"').replace("\\\\", "\\"))
        .filter(|v| v.len() >= 3)
        .collect()
}

#[test]
fn no_secret_value_appears_in_any_output() {
    let mut seen = 0;
    for f in fixtures() {
        let text = String::from_utf8_lossy(&fs::read(&f).unwrap()).to_string();
        let secrets = secret_values(&text);
        seen += secrets.len();
        // 0644 adds the exposure warning to the output, which must not quote secrets either.
        let (_d, out) = check_copy(&f, 0o644);
        let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        for s in secrets {
            assert!(!all.contains(&s), "{}: output shows the secret {s:?}:\n{all}", f.display());
        }
    }
    assert!(seen >= 8, "the fixtures hold too few inline secrets to test this ({seen})");
}

#[test]
fn readable_profile_with_inline_secrets_warns_but_passes() {
    let f = root().join("tests/fixtures/profiles/ok-inline-secrets.toml");
    let (_d, out) = check_copy(&f, 0o644);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.starts_with("warning: ok-inline-secrets.toml: holds secrets inline"), "{stderr}");
    assert!(stderr.contains("mode 0644"), "{stderr}");
    let (_d, out) = check_copy(&f, 0o600);
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
    // References to files or variables are not inline secrets: no warning even when readable.
    // (Its variables are not set here: exit 4, with a warning for each of them and nothing else.)
    let (_d, out) = check_copy(&root().join("profiles/all-in-one.toml"), 0o644);
    assert_eq!(out.status.code(), Some(4));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("inline") && stderr.lines().all(|l| l.contains("is not set") || l.contains("must be supplied")), "{stderr}");
}

#[test]
fn every_shipped_profile_passes() {
    let mut names = Vec::new();
    for e in fs::read_dir(root().join("profiles")).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|e| e == "toml") {
            // Checked beside the secret files they name (the operator's, not shipped).
            let dir = tempfile::tempdir().unwrap();
            fs::copy(&p, dir.path().join(p.file_name().unwrap())).unwrap();
            for f in ["admin-password", "kvm1-root-password"] {
                fs::write(dir.path().join(f), "Shipped-Secret-1\n").unwrap();
                fs::set_permissions(dir.path().join(f), fs::Permissions::from_mode(0o600)).unwrap();
            }
            let out = Command::new(BIN).args(["profile", "check"]).arg(p.file_name().unwrap()).current_dir(dir.path()).output().unwrap();
            // Their secrets come from the environment, not set here: valid, with exit 4 and one warning each.
            let stderr = String::from_utf8_lossy(&out.stderr);
            let warnings_only = stderr.lines().all(|l| l.starts_with("warning: ") && (l.contains("is not set") || l.contains("must be supplied")));
            assert!(warnings_only, "{}: {stderr}", p.display());
            assert!(
                out.status.code() == Some(0) && stderr.is_empty() || out.status.code() == Some(4) && !stderr.is_empty(),
                "{}: exit {:?}: {}{stderr}",
                p.display(),
                out.status.code(),
                String::from_utf8_lossy(&out.stdout)
            );
            assert!(String::from_utf8_lossy(&out.stdout).contains(": ok ("), "{}", p.display());
            assert_eq!(
                out.status.code().map(|_| 0),
                Some(0),
                "{}: {}{}",
                p.display(),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            names.push(p.file_name().unwrap().to_string_lossy().to_string());
        }
    }
    names.sort();
    for want in ["all-in-one.toml", "kvm-agent.toml", "management.toml", "nfs-storage.toml", "squirrel-agent.toml", "squirrel-server.toml"] {
        assert!(names.iter().any(|n| n == want), "profiles/{want} is missing");
    }
}

#[test]
fn squirrel_profiles_describe_the_article_hosts() {
    let server = cloudstrap::profile::load(&root().join("profiles/squirrel-server.toml")).unwrap();
    assert_eq!(server.cloudstack.release, "3.0.2");
    assert_eq!(server.host.platform.as_deref(), Some("el6"));
    assert_eq!(server.host.fqdn, "cloud-server.squirrel.org");
    assert_eq!(server.host.address, "192.168.1.4/24");
    use cloudstrap::profile::Role;
    assert_eq!(server.roles(), vec![Role::Database, Role::Nfs, Role::Management]);
    let nfs = server.nfs.as_ref().unwrap();
    assert_eq!((nfs.primary.as_str(), nfs.secondary.as_str()), ("/export/primary", "/export/secondary"));
    assert_eq!(nfs.idmap_domain.as_deref(), Some("squirrel.org"));
    let ntp: Vec<String> = (0..4).map(|i| format!("{i}.xenserver.pool.ntp.org")).collect();
    assert_eq!(server.ntp.servers, ntp);
    assert_eq!(server.zone.as_ref().unwrap().hosts[0].address, "192.168.1.5");

    let agent = cloudstrap::profile::load(&root().join("profiles/squirrel-agent.toml")).unwrap();
    assert_eq!(agent.roles(), vec![Role::KvmAgent]);
    assert_eq!(agent.host.fqdn, "cloud-agent.squirrel.org");
    assert_eq!(agent.host.address, "192.168.1.5/24");
    assert_eq!(agent.management.as_ref().unwrap().host.as_deref(), Some("192.168.1.4"));
    assert_eq!(agent.nfs.as_ref().unwrap().idmap_domain.as_deref(), Some("squirrel.org"));
    assert_eq!(agent.ntp.servers, ntp);
}

#[test]
fn missing_file_is_input_error() {
    let out = Command::new(BIN).args(["profile", "check", "/nonexistent/profile.toml"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "/nonexistent/profile.toml: cannot read the profile: No such file or directory (os error 2)\n"
    );
}

#[test]
fn schema_is_json_schema_of_the_profile() {
    let out = Command::new(BIN).args(["profile", "schema"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["$schema"], "https://json-schema.org/draft/2020-12/schema");
    assert_eq!(v["additionalProperties"], false);
    assert_eq!(v["required"], serde_json::json!(["cloudstack", "host"]));
    let host = &v["$defs"]["Host"]["properties"];
    assert!(host["fqdn"].is_object() && host["roles"].is_object());
    assert_eq!(v["$defs"]["Database"]["properties"]["port"]["minimum"], 1);
}

#[test]
fn install_rejects_an_invalid_profile_with_the_same_located_problems() {
    let f = root().join("tests/fixtures/profiles/zone-ranges.toml");
    let dir = tempfile::tempdir().unwrap();
    fs::copy(&f, dir.path().join("zone-ranges.toml")).unwrap();
    let scratch = dir.path().join("root");
    let out = Command::new(BIN)
        .arg("--root")
        .arg(&scratch)
        .args(["install", "--profile", "zone-ranges.toml", "--yes"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let expected = fs::read_to_string(f.with_extension("expected")).unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stderr), expected);
    assert!(!scratch.exists(), "install changed something before rejecting the profile");
}

/// What an editor does with the schema: validate profiles against it (python3-jsonschema, Draft 2020-12).
const VALIDATE: &str = r#"
import json, sys, tomllib
from jsonschema import Draft202012Validator
schema = json.loads(sys.stdin.read())
Draft202012Validator.check_schema(schema)
v = Draft202012Validator(schema)
for f in sys.argv[1:]:
    with open(f, "rb") as fh:
        doc = tomllib.load(fh)
    errors = sorted(e.message for e in v.iter_errors(doc))
    print(f + ": " + ("ok" if not errors else "; ".join(errors)))
"#;

#[test]
fn shipped_profiles_validate_against_the_schema_and_mistakes_do_not() {
    use std::io::Write;
    let schema = Command::new(BIN).args(["profile", "schema"]).output().unwrap().stdout;
    let dir = tempfile::tempdir().unwrap();
    let mut files: Vec<PathBuf> = fs::read_dir(root().join("profiles")).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    // An unknown key and a wrong type, as an editor should underline them.
    let bad = dir.path().join("bad.toml");
    let text = fs::read_to_string(root().join("profiles/all-in-one.toml")).unwrap();
    fs::write(&bad, text.replace("[host]\n", "[host]\nbogus = 1\n").replace("[database]\n", "[database]\nport = \"3306\"\n")).unwrap();
    files.push(bad.clone());
    let mut child = Command::new("python3")
        .arg("-c")
        .arg(VALIDATE)
        .args(&files)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3 is needed (scripts/test-env/packages/audit.list)");
    child.stdin.take().unwrap().write_all(&schema).unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "schema validation failed to run; install python3-jsonschema (scripts/test-env/packages/audit.list): {stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), files.len(), "{stdout}");
    for (f, line) in files.iter().zip(&lines) {
        if *f == bad {
            assert!(line.contains("'bogus' was unexpected") && line.contains("'3306'"), "{line}");
        } else {
            assert_eq!(*line, format!("{}: ok", f.display()));
        }
    }
}

/// The committed profile.schema.json is what `profile schema` prints: editors read the file, so a change to the
/// profile's shape must regenerate it (`cargo run -- profile schema > profile.schema.json`).
#[test]
fn committed_schema_is_the_generated_one() {
    let out = Command::new(BIN).args(["profile", "schema"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let committed = fs::read_to_string(root().join("profile.schema.json")).expect("profile.schema.json at the repository root");
    assert!(
        committed == String::from_utf8_lossy(&out.stdout),
        "profile.schema.json differs from `cloudstrap profile schema`; regenerate it: cargo run -- profile schema > profile.schema.json"
    );
}

/// Every shipped profile starts with taplo's `#:schema` line, and the path it names (relative to the
/// profile, as editors resolve it) is the committed schema, in the checkout as in the installed packages
/// (examples/ beside profile.schema.json).
#[test]
fn shipped_profiles_name_their_schema_for_editors() {
    let schema = fs::canonicalize(root().join("profile.schema.json")).unwrap();
    for e in fs::read_dir(root().join("profiles")).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        let text = fs::read_to_string(&p).unwrap();
        let first = text.lines().next().unwrap_or_default();
        let target = first
            .strip_prefix("#:schema ")
            .unwrap_or_else(|| panic!("{}: the first line is not a #:schema directive: {first:?}", p.display()));
        let resolved = fs::canonicalize(p.parent().unwrap().join(target.trim()))
            .unwrap_or_else(|e| panic!("{}: #:schema {target}: {e}", p.display()));
        assert_eq!(resolved, schema, "{}", p.display());
    }
}
