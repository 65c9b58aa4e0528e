//! Firewall actions with real iptables inside a private network namespace: the rendered rules land ahead
//! of an existing REJECT, a re-run is a no-op, and a rule removed behind cloudstrap's back is restored.

mod engine_support;

use std::process::Command;

use cloudstrap::action::executor::{execute, Options, Step};
use cloudstrap::action::file::{FileKind, FileSpec, Placement, WriteFile};
use cloudstrap::action::firewall::{ApplyFirewall, Backend, BLOCK_BEGIN};
use cloudstrap::action::receipt::Receipt;
use cloudstrap::action::{Action, Ctx};
use cloudstrap::run::Redactor;
use engine_support::*;

const RULES: &str = "/etc/iptables/rules.v4";

const FOREIGN: &str = "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A INPUT -i lo -j ACCEPT\n-A INPUT -j REJECT --reject-with icmp-port-unreachable\nCOMMIT\n";

const OURS: &str = "-A INPUT -s 192.168.1.0/24 -m state --state NEW -p tcp --dport 2049 -j ACCEPT\n\
-A INPUT -s 192.168.1.0/24 -m state --state NEW -p udp --dport 111 -j ACCEPT\n\
-A INPUT -s 10.1.0.0/16 -m state --state NEW -p tcp --dport 8250 -j ACCEPT\n";

fn iptables(args: &[&str]) -> String {
    let out = Command::new("iptables").args(args).output().unwrap();
    assert!(out.status.success(), "iptables {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn firewall_rules_land_before_existing_reject_in_a_netns() {
    require("iptables", "iptables");
    require("unshare", "util-linux");
    if std::env::var_os("ENGINE_FW_IN_NETNS").is_none() {
        // Re-run this very test inside a fresh network namespace, so the host's firewall is never touched.
        let exe = std::env::current_exe().unwrap();
        let out = Command::new("unshare")
            .args(["-n", "--"])
            .arg(exe)
            .args(["--exact", "firewall_rules_land_before_existing_reject_in_a_netns", "--nocapture", "--test-threads=1"])
            .env("ENGINE_FW_IN_NETNS", "1")
            .output()
            .unwrap();
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success() && text.contains("1 passed"), "inside the namespace:\n{text}");
        return;
    }

    // The host already rejects everything else, live and in its saved rules.
    iptables(&["-A", "INPUT", "-i", "lo", "-j", "ACCEPT"]);
    iptables(&["-A", "INPUT", "-j", "REJECT"]);
    let dir = tempfile::tempdir().unwrap();
    let ctx = Ctx::live_with_files_in(dir.path(), Redactor::default());
    std::fs::create_dir_all(ctx.path("/etc/iptables")).unwrap();
    std::fs::write(ctx.path(RULES), FOREIGN).unwrap();

    // The renderer's own merge places the block at the top of INPUT.
    let file = WriteFile::rendered(FileSpec {
        path: RULES.into(),
        content: OURS.into(),
        mode: 0o640,
        kind: FileKind::ManagedBlock(Placement::IptablesChain("INPUT")),
        role: None,
        what: "firewall rules".into(),
    });
    let apply = ApplyFirewall { backend: Backend::IptablesFile { file: RULES.into(), chain: "INPUT".into() } };
    assert!(!apply.is_done(&ctx).unwrap());
    let plan = vec![Step { action: Box::new(file), after: vec![] }, Step { action: Box::new(apply), after: vec![0] }];
    let opts = Options { workers: 2, kill_after: None };
    let out = Captured::default();
    let s = execute(&plan, &ctx, Receipt::new("debian-12", vec!["nfs".into()]), &out.lines(), &opts).unwrap();
    assert_eq!(s.executed, 2, "{}", out.text());

    // Our three rules, then the foreign ones, REJECT last.
    let live = iptables(&["-S", "INPUT"]);
    let rules: Vec<&str> = live.lines().filter(|l| l.starts_with("-A INPUT")).collect();
    assert_eq!(rules.len(), 5, "{live}");
    assert!(rules[0].contains("--dport 2049") && rules[1].contains("--dport 111") && rules[2].contains("--dport 8250"), "{live}");
    assert!(rules[4].contains("-j REJECT"), "{live}");
    // The saved file keeps the user's rules and a backup of the original exists.
    let saved = std::fs::read_to_string(ctx.path(RULES)).unwrap();
    assert!(saved.contains("-A INPUT -j REJECT") && saved.find(BLOCK_BEGIN) < saved.find("-A INPUT -i lo"), "{saved}");
    let backups = tree(&ctx.path("/var/lib/cloudstrap/backups"));
    assert!(backups.values().any(|b| b == FOREIGN.as_bytes()), "no backup of the original rules: {:?}", backups.keys());

    // Re-run: nothing to do.
    let s = execute(&plan, &ctx, Receipt::new("debian-12", vec!["nfs".into()]), &out.lines(), &opts).unwrap();
    assert_eq!((s.executed, s.already_done), (0, 2));

    // Someone removes a rule: the next run notices and loads the file again.
    iptables(&["-D", "INPUT", "-s", "192.168.1.0/24", "-m", "state", "--state", "NEW", "-p", "udp", "--dport", "111", "-j", "ACCEPT"]);
    assert!(!plan[1].action.is_done(&ctx).unwrap());
    let s = execute(&plan, &ctx, Receipt::new("debian-12", vec!["nfs".into()]), &out.lines(), &opts).unwrap();
    assert_eq!((s.executed, s.already_done), (1, 1));
    assert!(plan[1].action.is_done(&ctx).unwrap());
}
