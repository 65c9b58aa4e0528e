//! Undoing services from their records (systemctl: the stand-in under tests/standins/bin): a masked socket
//! comes back after the files, and after the service it activates is stopped. Its own file: the log that
//! shows the order is per process.

mod engine_support;

use std::path::Path;

use cloudstrap::action::service::{Init, Service};
use cloudstrap::action::{Action, Ctx, Record};
use cloudstrap::run::Redactor;
use engine_support::*;

/// libvirtd on Debian: its sockets are masked so libvirtd itself listens (--listen), and libvirtd runs on
/// cloudstrap's configuration. Putting it back must wait until that configuration is gone, and must stop the
/// running libvirtd before its socket can start again (systemd refuses a socket whose service runs on its own).
#[test]
fn undo_starts_a_masked_socket_after_the_files_and_after_stopping_the_service_it_activates() {
    require("python3", "python3");
    let bin = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/standins/bin");
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("install.log");
    cloudstrap::log::set_file(Some(log.clone()));
    let mut ctx = Ctx::live_with_files_in(dir.path(), Redactor::default());
    ctx.env = vec![
        ("PATH".into(), format!("{}:{}", bin.display(), std::env::var("PATH").unwrap())),
        ("CLOUDSTACK_STANDIN_ROOT".into(), dir.path().display().to_string()),
        ("CLOUDSTACK_STANDIN_UNITS".into(), "engd engd.socket".into()),
    ];
    let sh = |argv: &[&str]| {
        let out = std::process::Command::new(bin.join("systemctl")).args(argv).envs(ctx.env.iter().cloned()).output().unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    // Before the install: the socket and its service run, the service on its own configuration.
    sh(&["enable", "engd.socket"]);
    sh(&["start", "engd.socket"]);
    sh(&["enable", "engd"]);
    sh(&["start", "engd"]);
    std::fs::create_dir_all(dir.path().join("etc")).unwrap();
    std::fs::write(dir.path().join("etc/engd.conf"), "listen=no\n").unwrap();

    // The install: mask the socket, write the configuration, (re)start the service on it.
    let mut undos = vec![];
    let mask = Service::mask("engd.socket", true);
    let mut rec = Record::default();
    mask.prepare(&ctx, &mut rec).unwrap();
    mask.execute(&ctx, &mut rec).unwrap();
    undos.extend(rec.undo);
    let conf = Path::new("/etc/engd.conf");
    undos.extend(cloudstrap::action::undo::for_file(&ctx, conf).unwrap());
    std::fs::write(dir.path().join("etc/engd.conf"), "listen=yes\n").unwrap();
    let svc = Service::run(Init::Systemd, "engd", vec![conf.into()], true);
    let mut rec = Record::default();
    svc.prepare(&ctx, &mut rec).unwrap();
    svc.execute(&ctx, &mut rec).unwrap();
    undos.extend(rec.undo);
    assert_eq!((sh(&["is-enabled", "engd.socket"]), sh(&["is-active", "engd"])), ("masked".into(), "active".into()));

    // The undo, newest first: nothing fails, the socket is unmasked and running again, and so is the service.
    let failed = cloudstrap::action::undo::apply_all(&ctx, &undos);
    assert!(failed.is_empty(), "{failed:?}");
    assert_eq!(std::fs::read_to_string(dir.path().join("etc/engd.conf")).unwrap(), "listen=no\n");
    assert_eq!(
        (sh(&["is-enabled", "engd.socket"]), sh(&["is-active", "engd.socket"]), sh(&["is-active", "engd"])),
        ("enabled".into(), "active".into(), "active".into())
    );
    // The service's last (re)start came after its configuration was put back: it runs on the old one.
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let last_start = lines.iter().rposition(|l| ["start engd`", "restart engd`", "start engd.service`"].iter().any(|v| l.contains(&format!("`systemctl {v}")))).unwrap();
    let socket_start = lines.iter().rposition(|l| l.contains("`systemctl start engd.socket`")).unwrap();
    assert!(socket_start < last_start, "the service started before its socket:\n{text}");
}
