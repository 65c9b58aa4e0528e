//! An action run on an NFS export mounted for its duration (`action::mount::OnNfsMount`, used to seed the
//! template into secondary storage on another host).
//!
//! STAND-INS: this machine's kernel has no NFS client, so `mount` and `umount` below are shell scripts
//! written by this test, NOT the real tools: they append their argv to a log and succeed (or fail when
//! told to). The test checks the commands cloudstrap builds, that the export is unmounted even when the
//! work fails, and that a re-run on a finished host mounts nothing. The real mount runs in the lab's VMs.

mod engine_support;

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use cloudstrap::action::executor::{execute, Options, Step};
use cloudstrap::action::mount::OnNfsMount;
use cloudstrap::action::receipt::Receipt;
use cloudstrap::action::{Action, ActionError, Ctx, Record};
use cloudstrap::run::Redactor;
use engine_support::*;

/// Writes a file below the mount point (what the template download does), or fails.
struct Work {
    dir: PathBuf,
    runs: Arc<AtomicUsize>,
    fail: bool,
}

impl Action for Work {
    fn id(&self) -> String {
        "template:3".into()
    }
    fn describe(&self) -> String {
        "Seed the template".into()
    }
    fn is_done(&self, ctx: &Ctx) -> Result<bool, ActionError> {
        Ok(ctx.path(self.dir.join("template.properties")).exists())
    }
    fn execute(&self, ctx: &Ctx, _: &mut Record) -> Result<(), ActionError> {
        self.runs.fetch_add(1, Ordering::SeqCst);
        if self.fail {
            return Err(ActionError::Failed("download failed".into()));
        }
        let p = ctx.path(self.dir.join("template.properties"));
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, "id=3\n").map_err(|e| ActionError::io("template.properties", e))
    }
    fn revert(&self, _: &Ctx, _: &Record) -> Result<(), ActionError> {
        Ok(())
    }
}

#[test]
fn the_export_is_mounted_for_the_work_unmounted_after_and_not_touched_again() {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let calls = dir.path().join("calls");
    for name in ["mount", "umount"] {
        let p = bin.join(name);
        let body = format!(
            "#!/bin/sh\n# STAND-IN for tests only (tests/engine_mount.rs), not the real {name}.\necho \"{name} $*\" >> {}\n[ -e {}/fail-{name} ] && exit 32\nexit 0\n",
            calls.display(),
            dir.path().display()
        );
        std::fs::write(&p, body).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let root = dir.path().join("root");
    let mut ctx = Ctx::live_with_files_in(&root, Redactor::default());
    // The stand-ins first on PATH for this context's commands only.
    ctx.env = vec![("PATH".into(), format!("{}:{}", bin.display(), std::env::var("PATH").unwrap()))];
    let read_calls = || -> Vec<String> { std::fs::read_to_string(&calls).unwrap_or_default().lines().map(str::to_string).collect() };
    let opts = Options { workers: 1, kill_after: None };
    let out = Captured::default();

    // The work fails: the export is unmounted all the same and the failure is reported.
    let runs = Arc::new(AtomicUsize::new(0));
    let wrap = |fail: bool| OnNfsMount {
        source: "10.0.0.20:/export/secondary".into(),
        target: "/mnt/secondary".into(),
        inner: Box::new(Work { dir: "/mnt/secondary/template/tmpl/1/3".into(), runs: runs.clone(), fail }),
    };
    let failing = vec![Step { action: Box::new(wrap(true)), after: vec![] }];
    let e = execute(&failing, &ctx, Receipt::new("debian-12", vec!["management".into()]), &out.lines(), &opts).unwrap_err();
    assert!(e.to_string().contains("download failed"), "{e}");
    assert_eq!(read_calls(), vec!["mount -t nfs 10.0.0.20:/export/secondary /mnt/secondary", "umount /mnt/secondary"]);

    // It works: mount, work once, unmount.
    std::fs::remove_file(&calls).unwrap();
    let steps = vec![Step { action: Box::new(wrap(false)), after: vec![] }];
    assert_eq!(steps[0].action.id(), "template:3", "the receipt key is the inner action's");
    let s = execute(&steps, &ctx, Receipt::new("debian-12", vec!["management".into()]), &out.lines(), &opts).unwrap();
    assert_eq!(s.executed, 1);
    assert_eq!(read_calls(), vec!["mount -t nfs 10.0.0.20:/export/secondary /mnt/secondary", "umount /mnt/secondary"]);
    assert_eq!(runs.load(Ordering::SeqCst), 2);
    assert!(root.join("mnt/secondary/template/tmpl/1/3/template.properties").exists());

    // A re-run on the finished host: done, and nothing mounted.
    std::fs::remove_file(&calls).unwrap();
    let s = execute(&steps, &ctx, Receipt::new("debian-12", vec!["management".into()]), &out.lines(), &opts).unwrap();
    assert_eq!((s.executed, s.already_done), (0, 1));
    assert!(read_calls().is_empty(), "{:?}", read_calls());

    // Revert from what the receipt recorded makes it due again; a failing mount then stops before the work.
    let recorded = Receipt::load(&cloudstrap::action::receipt::path(&ctx)).unwrap().unwrap().entry("template:3").unwrap().record.clone();
    assert!(!recorded.undo.is_empty(), "{recorded:?}");
    steps[0].action.revert(&ctx, &recorded).unwrap();
    let mut rec = Record::default();
    assert!(!steps[0].action.is_done(&ctx).unwrap());
    std::fs::write(dir.path().join("fail-mount"), "").unwrap();
    let before = runs.load(Ordering::SeqCst);
    assert!(steps[0].action.execute(&ctx, &mut rec).is_err());
    assert_eq!(runs.load(Ordering::SeqCst), before, "no work without the mount");
}
