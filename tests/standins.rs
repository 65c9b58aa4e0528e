//! The CloudStack setup-command stand-ins, run through the installer's launcher against the real MariaDB.

#[path = "standins/harness.rs"]
mod harness;

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use harness::*;

/// Log in as `user` with `password` (through a 0600 option file) and run `query`.
fn sql_as(user: &str, password: &str, query: &str) -> Result<String, String> {
    let dir = tempfile::tempdir().unwrap();
    let cnf = dir.path().join("my.cnf");
    std::fs::write(&cnf, format!("[client]\nuser={user}\npassword='{password}'\nhost=localhost\n")).unwrap();
    std::fs::set_permissions(&cnf, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = Command::new("mysql")
        .arg(format!("--defaults-extra-file={}", cnf.display()))
        .args(["-N", "-B", "-e", query])
        .output()
        .unwrap();
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim_end().to_string())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

#[test]
fn setup_databases_creates_databases_user_grants_and_files() {
    require_mariadb();
    let p = prefix("sdb");
    let user = format!("{p}cloud");
    let _guard = DbGuard { prefix: p.clone(), users: vec![user.clone()] };
    let root = tempfile::tempdir().unwrap();
    let env = standin_env(root.path(), "4.22", &p);
    let cred = format!("{user}:Db#pw1@localhost");
    let out = run_standin(
        "cloudstack-setup-databases",
        &[&cred, "--deploy-as=root:rootpw", "-e", "file", "-m", "mgmt-key-1", "-k", "db-key-1", "-i", "10.1.2.3"],
        &env,
    );
    assert_eq!(out.status, 0, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("CloudStack has successfully initialized database"), "{}", out.stdout);

    let cloud = format!("{p}cloud");
    let usage = format!("{p}cloud_usage");
    let kvm = sql(&format!(
        "SELECT max(id) FROM `{cloud}`.vm_template WHERE type = 'SYSTEM' AND hypervisor_type = 'KVM' AND removed IS NULL"
    ));
    assert_eq!(kvm, "3");
    assert_eq!(sql(&format!("SELECT username FROM `{cloud}`.user WHERE id = 2")), "admin");
    assert_eq!(sql(&format!("SELECT version FROM `{cloud}`.version")), "4.22");
    assert_eq!(sql(&format!("SELECT value FROM `{cloud}`.configuration WHERE name = 'host'")), "10.1.2.3");
    assert_eq!(sql(&format!("SELECT count(*) FROM `{usage}`.cloud_usage")), "0");

    // The cloud user logs in with its password, owns both databases and has PROCESS (apache/cloudstack#8240).
    for host in ["localhost", "%"] {
        let grants = sql(&format!("SHOW GRANTS FOR '{user}'@'{host}'"));
        assert!(grants.contains(&format!("ALL PRIVILEGES ON `{}`.*", cloud.replace('_', "\\_")))
            || grants.contains(&format!("ALL PRIVILEGES ON `{cloud}`.*")), "{grants}");
        assert!(grants.contains(&format!("`{usage}`")) || grants.contains(&usage.replace('_', "\\_")), "{grants}");
        assert!(grants.contains("GRANT PROCESS ON *.*"), "{grants}");
    }
    assert_eq!(sql_as(&user, "Db#pw1", &format!("SELECT count(*) FROM `{usage}`.usage_job")).unwrap(), "0");
    assert!(sql_as(&user, "wrong", "SELECT 1").is_err());

    let conf = root.path().join("etc/cloudstack/management");
    let props = properties(&conf.join("db.properties"));
    assert_eq!(props["cluster.node.IP"], "10.1.2.3");
    assert_eq!(props["db.cloud.username"], user);
    assert_eq!(props["db.cloud.host"], "localhost");
    assert_eq!(props["db.cloud.port"], "3306");
    assert_eq!(props["db.cloud.name"], cloud);
    assert_eq!(props["db.usage.name"], usage);
    assert_eq!(props["db.cloud.encryption.type"], "file");
    assert!(props["db.cloud.password"].starts_with("ENC("));
    assert_eq!(standin_decode(&props["db.cloud.password"], "mgmt-key-1"), "Db#pw1");
    assert_eq!(standin_decode(&props["db.usage.password"], "mgmt-key-1"), "Db#pw1");
    assert_eq!(standin_decode(&props["db.cloud.encrypt.secret"], "mgmt-key-1"), "db-key-1");
    let text = std::fs::read_to_string(conf.join("db.properties")).unwrap();
    assert!(!text.contains("Db#pw1") && !text.contains("db-key-1"), "secrets in clear in db.properties");
    let key = conf.join("key");
    assert_eq!(std::fs::read_to_string(&key).unwrap(), "mgmt-key-1");
    assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o640);
    assert!(!out.stdout.contains("Db#pw1") && !out.stderr.contains("Db#pw1"), "password echoed");
}

#[test]
fn from_4_21_existing_databases_abort_unless_force_recreate() {
    require_mariadb();
    let p = prefix("sforce");
    let user = format!("{p}cloud");
    let _guard = DbGuard { prefix: p.clone(), users: vec![user.clone()] };
    let root = tempfile::tempdir().unwrap();
    let env = standin_env(root.path(), "4.21", &p);
    let cred = format!("{user}:pw1@localhost");
    let args = [cred.as_str(), "--deploy-as=root:x", "-m", "k", "-k", "d"];
    assert_eq!(run_standin("cloudstack-setup-databases", &args, &env).status, 0);
    let cloud = format!("{p}cloud");
    sql(&format!("INSERT INTO `{cloud}`.configuration (instance, name, value) VALUES ('DEFAULT', 'marker', 'kept')"));

    let out = run_standin("cloudstack-setup-databases", &args, &env);
    assert_ne!(out.status, 0);
    assert!(out.stderr.contains("--force-recreate"), "{}", out.stderr);
    assert_eq!(sql(&format!("SELECT value FROM `{cloud}`.configuration WHERE name = 'marker'")), "kept");

    let mut forced = args.to_vec();
    forced.push("--force-recreate");
    let out = run_standin("cloudstack-setup-databases", &forced, &env);
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert_eq!(sql(&format!("SELECT count(*) FROM `{cloud}`.configuration WHERE name = 'marker'")), "0");
}

#[test]
fn older_releases_recreate_without_the_flag_and_do_not_know_it() {
    require_mariadb();
    for (release, cmd, conf) in [
        ("4.20", "cloudstack-setup-databases", "etc/cloudstack/management"),
        ("3.0.2", "cloud-setup-databases", "etc/cloud/management"),
    ] {
        let p = prefix(&format!("sold{}", release.replace('.', "")));
        let user = format!("{p}cloud");
        let _guard = DbGuard { prefix: p.clone(), users: vec![user.clone()] };
        let root = tempfile::tempdir().unwrap();
        let env = standin_env(root.path(), release, &p);
        let cred = format!("{user}:pw1@localhost");
        assert_eq!(run_standin(cmd, &[&cred, "--deploy-as=root:x"], &env).status, 0);
        let cloud = format!("{p}cloud");
        sql(&format!("INSERT INTO `{cloud}`.configuration (instance, name, value) VALUES ('DEFAULT', 'marker', 'x')"));
        let out = run_standin(cmd, &[&cred, "--deploy-as=root:x"], &env);
        assert_eq!(out.status, 0, "{release}: {}", out.stderr);
        assert_eq!(sql(&format!("SELECT count(*) FROM `{cloud}`.configuration WHERE name = 'marker'")), "0");
        assert!(root.path().join(conf).join("db.properties").is_file(), "{release}");
        let out = run_standin(cmd, &[&cred, "--deploy-as=root:x", "--force-recreate"], &env);
        assert_eq!(out.status, 2, "{release}: --force-recreate must be unknown");
        assert!(out.stderr.contains("no such option: --force-recreate"), "{}", out.stderr);
    }
}

#[test]
fn forbidden_password_characters_are_rejected_with_upstream_message() {
    require_mariadb();
    let p = prefix("squote");
    let user = format!("{p}cloud");
    let _guard = DbGuard { prefix: p.clone(), users: vec![user.clone()] };
    let root = tempfile::tempdir().unwrap();
    let env = standin_env(root.path(), "4.22", &p);
    for (pw, shown) in [("it's", "\"'\""), ("a b", "' '"), ("a\\b", "'\\\\'"), ("a`b", "'`'")] {
        let cred = format!("{user}:{pw}@localhost");
        let out = run_standin("cloudstack-setup-databases", &[&cred, "--deploy-as=root:x"], &env);
        assert_eq!(out.status, 1, "{pw}");
        assert!(out.stderr.contains(&format!("Password cannot have the {shown} characters")), "{pw}: {}", out.stderr);
    }
    let out = run_standin("cloudstack-setup-databases", &[&format!("{user}:ok@localhost"), "--deploy-as=root:it's"], &env);
    assert_eq!(out.status, 1);
    assert_eq!(sql(&format!("SELECT count(*) FROM information_schema.schemata WHERE schema_name = '{p}cloud'")), "0");
    assert!(!root.path().join("etc/cloudstack/management/key").exists());
}

#[test]
fn password_never_reaches_the_process_list() {
    require_mariadb();
    let p = prefix("sps");
    let user = format!("{p}cloud");
    let _guard = DbGuard { prefix: p.clone(), users: vec![user.clone()] };
    let root = tempfile::tempdir().unwrap();
    let env = standin_env(root.path(), "4.22", &p);
    let password = format!("Pw{}x", std::process::id());
    let rootpw = format!("Rt{}y", std::process::id());
    let cred = format!("{user}:{password}@localhost");
    let deploy = format!("--deploy-as=root:{rootpw}");
    let args: Vec<String> = [cred.as_str(), deploy.as_str(), "-m", "mk", "-k", "dk"].iter().map(|s| s.to_string()).collect();
    let (mut cmd, argfile) = cloudstrap::run::python_script_cmd(&standins_dir().join("cloudstack-setup-databases"), &args, root.path()).unwrap();
    for (k, v) in &env {
        cmd = cmd.env(k, v);
    }
    let marker = argfile.host_path().display().to_string();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = {
        let done = done.clone();
        std::thread::spawn(move || {
            let (mut seen_launcher, mut seen_mysql, mut leaks) = (0, 0, Vec::new());
            while !done.load(std::sync::atomic::Ordering::SeqCst) {
                for entry in std::fs::read_dir("/proc").unwrap().flatten() {
                    let Ok(raw) = std::fs::read(entry.path().join("cmdline")) else { continue };
                    let line = String::from_utf8_lossy(&raw).replace('\0', " ");
                    if line.contains(&marker) {
                        seen_launcher += 1;
                    }
                    if line.contains("--defaults-extra-file=") && line.contains("standin-my-") {
                        seen_mysql += 1;
                    }
                    if line.contains(&password) || line.contains(&rootpw) {
                        leaks.push(line);
                    }
                }
            }
            (seen_launcher, seen_mysql, leaks)
        })
    };
    let out = cmd.run(&cloudstrap::run::Redactor::default()).unwrap();
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let (seen_launcher, seen_mysql, leaks) = sampler.join().unwrap();
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert!(seen_launcher > 0, "the sampler never saw the launcher running: the test proves nothing");
    assert!(leaks.is_empty(), "password on a command line: {leaks:?}");
    eprintln!("samples: launcher {seen_launcher}, mysql children {seen_mysql}");
}

#[test]
fn setup_management_enables_and_starts_the_service() {
    let root = tempfile::tempdir().unwrap();
    let env = standin_env(root.path(), "4.22", "unused_");
    // Without db.properties it refuses, as upstream cannot configure a server with no database.
    let out = run_standin("cloudstack-setup-management", &[], &env);
    assert_eq!(out.status, 1);
    std::fs::create_dir_all(root.path().join("etc/cloudstack/management")).unwrap();
    std::fs::write(root.path().join("etc/cloudstack/management/db.properties"), "db.cloud.name=cloud\n").unwrap();
    let out = run_standin("cloudstack-setup-management", &[], &env);
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert!(out.stdout.contains("CloudStack Management Server setup is Done!"));
    let s = services(root.path());
    assert_eq!(s["cloudstack-management"]["enabled"], true);
    assert_eq!(s["cloudstack-management"]["active"], true);

    // The systemctl stand-in sees and changes the same state.
    let systemctl = |args: &[&str]| {
        Command::new(standins_dir().join("bin/systemctl"))
            .args(args)
            .env("CLOUDSTACK_STANDIN_ROOT", root.path())
            .output()
            .unwrap()
    };
    assert!(systemctl(&["is-active", "cloudstack-management"]).status.success());
    assert!(systemctl(&["stop", "cloudstack-management.service"]).status.success());
    assert_eq!(systemctl(&["is-active", "cloudstack-management"]).status.code(), Some(3));
    assert_eq!(systemctl(&["start", "cloudstack-usage"]).status.code(), Some(5), "unknown unit must fail");
    assert_eq!(services(root.path())["cloudstack-management"]["stops"], 1);

    // 3.0.2 names its service cloud-management and keeps its files under /etc/cloud.
    let env = standin_env(root.path(), "3.0.2", "unused_");
    assert_eq!(run_standin("cloud-setup-management", &[], &env).status, 1);
    std::fs::create_dir_all(root.path().join("etc/cloud/management")).unwrap();
    std::fs::write(root.path().join("etc/cloud/management/db.properties"), "").unwrap();
    let out = run_standin("cloud-setup-management", &["--no-start"], &env);
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert_eq!(services(root.path())["cloud-management"]["active"], false);
    assert_eq!(services(root.path())["cloud-management"]["enabled"], true);
}
