//! Receipts written by earlier cloudstrap versions keep parsing: a frozen receipt of format version 1
//! (tests/fixtures/engine/receipt-v1.json, every state and record field) and one from before the version
//! field existed. Renaming a state or a record field breaks this test, as it would break resuming and
//! resetting hosts installed by an older cloudstrap.

use std::path::Path;

use cloudstrap::action::receipt::{Receipt, State};

#[test]
fn a_version_1_receipt_keeps_parsing() {
    let r = Receipt::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/engine/receipt-v1.json")).unwrap().unwrap();
    assert_eq!((r.version, r.platform.as_str(), r.complete), (1, "debian-12", false));
    let states: Vec<State> = r.actions.iter().map(|a| a.state).collect();
    assert_eq!(states, vec![State::Done, State::Done, State::AlreadyDone, State::Running, State::Failed, State::Pending]);
    let rec = |id: &str| r.entry(id).unwrap().record.clone();
    assert_eq!(rec("packages:chrony,iptables,iptables-persistent").added, vec!["chrony", "iptables-persistent"]);
    assert_eq!(rec("file:/etc/hosts").backup.as_deref(), Some("/var/lib/cloudstrap/backups/etc/hosts.9adb29b748caaeec"));
    assert_eq!(rec("service:chrony").previous.as_deref(), Some("enabled inactive"));
    assert!(rec("service:chrony").note.is_some());
    assert!(rec("file:/etc/exports.d/cloudstrap.exports").created);
    assert_eq!(r.entry("packages:nfs-kernel-server,rpcbind").unwrap().error.as_deref(), Some("apt-get exited with status 100"));
}

#[test]
fn a_receipt_from_before_versioning_reads_as_version_1() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("receipt.json");
    std::fs::write(&p, r#"{"platform":"el6","actions":[{"id":"file:/etc/exports","state":"done","record":{"backup":"/var/lib/cloudstrap/backups/etc/exports.00"}}]}"#).unwrap();
    let r = Receipt::load(&p).unwrap().unwrap();
    assert_eq!((r.version, r.actions[0].state), (1, State::Done));
    assert_eq!(r.actions[0].record.backup.as_deref(), Some("/var/lib/cloudstrap/backups/etc/exports.00"));
}
