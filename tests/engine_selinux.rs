//! SELinux on EL: the config file says permissive and the running mode is switched with `setenforce 0`,
//! on EL6 (selinuxfs at /selinux) as on EL7+ (/sys/fs/selinux); revert puts both back.
//!
//! STAND-IN: `setenforce` below is a shell script written by this test, NOT the real tool (no SELinux
//! kernel here): it logs its argv and writes the mode into the scratch root's `enforce` file, as the
//! kernel would show it.

mod engine_support;

use std::os::unix::fs::PermissionsExt;

use cloudstrap::action::selinux::SetSelinux;
use cloudstrap::action::{Action, Ctx, Record};
use cloudstrap::run::Redactor;

#[test]
fn permissive_now_and_at_boot_on_el6_and_later_and_back_on_revert() {
    let bin = tempfile::tempdir().unwrap();
    let path = format!("{}:{}", bin.path().display(), std::env::var("PATH").unwrap());
    for fs_dir in ["selinux", "sys/fs/selinux"] {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let enforce = root.join(fs_dir).join("enforce");
        let calls = root.join("calls");
        let script = format!(
            "#!/bin/sh\n# STAND-IN for tests only (tests/engine_selinux.rs), not the real setenforce.\necho \"setenforce $*\" >> {}\necho \"$1\" > {}\n",
            calls.display(),
            enforce.display()
        );
        std::fs::write(bin.path().join("setenforce"), script).unwrap();
        std::fs::set_permissions(bin.path().join("setenforce"), std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::create_dir_all(enforce.parent().unwrap()).unwrap();
        std::fs::write(&enforce, "1\n").unwrap();
        std::fs::create_dir_all(root.join("etc/selinux")).unwrap();
        let original = "# SELINUX= can take one of these three values\nSELINUX=enforcing\nSELINUXTYPE=targeted\n";
        std::fs::write(root.join("etc/selinux/config"), original).unwrap();

        let mut ctx = Ctx::live_with_files_in(root, Redactor::default());
        ctx.env = vec![("PATH".into(), path.clone())];
        let act = SetSelinux { mode: "permissive".into() };
        assert!(!act.is_done(&ctx).unwrap(), "{fs_dir}");
        let mut rec = Record::default();
        act.prepare(&ctx, &mut rec).unwrap();
        assert_eq!(rec.previous.as_deref(), Some("enforcing"), "{fs_dir}: the running mode was not read");
        act.execute(&ctx, &mut rec).unwrap();
        act.verify(&ctx).unwrap();
        assert_eq!(std::fs::read_to_string(&calls).unwrap(), "setenforce 0\n", "{fs_dir}");
        let conf = std::fs::read_to_string(root.join("etc/selinux/config")).unwrap();
        assert!(conf.contains("\nSELINUX=permissive\n") && conf.contains("SELINUXTYPE=targeted"), "{conf}");
        // Done now: a second look changes nothing.
        assert!(act.is_done(&ctx).unwrap());

        act.revert(&ctx, &rec).unwrap();
        assert_eq!(std::fs::read_to_string(root.join("etc/selinux/config")).unwrap(), original);
        assert_eq!(std::fs::read_to_string(&calls).unwrap(), "setenforce 0\nsetenforce 1\n", "{fs_dir}");
    }
}
