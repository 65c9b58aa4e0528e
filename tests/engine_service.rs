//! A service on a live host (systemctl: the stand-in under tests/standins/bin, as there is no systemd
//! here): enabled and started once, restarted when its configuration changes, left alone otherwise, and
//! put back as it was by revert.

mod engine_support;

use std::path::Path;

use cloudstrap::action::service::{Init, Service};
use cloudstrap::action::{Action, Ctx, Record};
use cloudstrap::run::Redactor;
use engine_support::*;

#[test]
fn a_service_restarts_when_its_configuration_changed_and_only_then() {
    require("python3", "python3");
    let bin = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/standins/bin");
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("install.log");
    cloudstrap::log::set_file(Some(log.clone()));
    let mut ctx = Ctx::live_with_files_in(dir.path(), Redactor::default());
    // The stand-ins (systemctl) for this context's commands only.
    ctx.env = vec![
        ("PATH".into(), format!("{}:{}", bin.display(), std::env::var("PATH").unwrap())),
        ("CLOUDSTACK_STANDIN_ROOT".into(), dir.path().display().to_string()),
        ("CLOUDSTACK_STANDIN_UNITS".into(), "engsvc".into()),
    ];
    std::fs::create_dir_all(dir.path().join("etc")).unwrap();
    std::fs::write(dir.path().join("etc/engsvc.conf"), "a=1\n").unwrap();

    let svc = Service::run(Init::Systemd, "engsvc", vec!["/etc/engsvc.conf".into()], true);
    assert!(!svc.is_done(&ctx).unwrap());
    let mut rec = Record::default();
    svc.prepare(&ctx, &mut rec).unwrap();
    assert_eq!(rec.previous.as_deref(), Some("disabled inactive"));
    svc.execute(&ctx, &mut rec).unwrap();
    svc.verify(&ctx).unwrap();
    let ran = |verb: &str| std::fs::read_to_string(&log).unwrap().lines().filter(|l| l.contains(&format!("`systemctl {verb} engsvc`"))).count();
    assert_eq!((ran("enable"), ran("start"), ran("restart")), (1, 1, 0));

    // Unchanged configuration: done, nothing runs.
    assert!(svc.is_done(&ctx).unwrap());
    // Changed configuration: due again, and this time it restarts.
    std::fs::write(dir.path().join("etc/engsvc.conf"), "a=2\n").unwrap();
    assert!(!svc.is_done(&ctx).unwrap());
    svc.execute(&ctx, &mut rec).unwrap();
    assert!(svc.is_done(&ctx).unwrap());
    assert_eq!((ran("start"), ran("restart")), (1, 1));

    // Revert: it was disabled and stopped before.
    svc.revert(&ctx, &rec).unwrap();
    let state = std::fs::read_to_string(dir.path().join("var/lib/cloudstack-standin/services.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&state).unwrap();
    assert_eq!((v["engsvc"]["enabled"].as_bool(), v["engsvc"]["active"].as_bool()), (Some(false), Some(false)), "{state}");
}
