//! The template step in the executor: a real qcow2 (qemu-img), bzip2-compressed, served by a local HTTP
//! server, seeded into secondary storage under a root with its download shown by the progress display;
//! a re-run finds it done.

mod engine_support;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::Command;
use std::sync::Arc;

use cloudstrap::action::dirs::CreateDirs;
use cloudstrap::action::executor::{execute, Options, Step};
use cloudstrap::action::progress::Progress;
use cloudstrap::action::receipt::Receipt;
use cloudstrap::action::Ctx;
use cloudstrap::plan::template::SeedTemplate;
use cloudstrap::run::Redactor;
use cloudstrap::template::{Algo, Checksum, ChecksumSpec};
use engine_support::*;
use sha2::Digest;

/// Serve `body` to every GET on 127.0.0.1; returns the URL.
fn serve(body: Vec<u8>) -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            let mut s = s;
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n", body.len());
            let _ = s.write_all(head.as_bytes());
            let _ = s.write_all(&body);
        }
    });
    format!("http://127.0.0.1:{port}/systemvmtemplate-test-kvm.qcow2.bz2")
}

#[test]
fn the_template_is_seeded_with_a_download_bar_and_found_done_afterwards() {
    require("qemu-img", "qemu-utils");
    require("bzip2", "bzip2");
    let work = tempfile::tempdir().unwrap();
    let img = work.path().join("t.qcow2");
    assert!(Command::new("qemu-img").args(["create", "-q", "-f", "qcow2"]).arg(&img).arg("4M").status().unwrap().success());
    assert!(Command::new("bzip2").arg("-k").arg(&img).status().unwrap().success());
    let compressed = std::fs::read(work.path().join("t.qcow2.bz2")).unwrap();
    let hex = hex::encode(sha2::Sha256::digest(&compressed));
    let url = serve(compressed);

    let root = tempfile::tempdir().unwrap();
    let out = Captured::default();
    let display: Arc<dyn Progress> = Arc::new(out.lines());
    let mut ctx = Ctx::for_root(root.path(), Redactor::default());
    ctx.progress = Some(display.clone());
    let seed = SeedTemplate {
        url,
        bundled: None,
        dest: "/export/secondary".into(),
        id: 3,
        checksum: ChecksumSpec::Given(Checksum::new(Algo::Sha256, &hex).unwrap()),
        allow_http: true,
    };
    let plan = vec![
        Step { action: Box::new(CreateDirs { dirs: vec!["/export/secondary".into()], mode: 0o755 }), after: vec![] },
        Step { action: Box::new(seed), after: vec![0] },
    ];
    let s = execute(&plan, &ctx, Receipt::new("debian-12", vec!["nfs".into()]), &*display, &Options::default()).unwrap();
    assert_eq!(s.executed, 2, "{}", out.text());
    let dir = root.path().join("export/secondary/template/tmpl/1/3");
    let props = std::fs::read_to_string(dir.join("template.properties")).unwrap();
    assert!(props.contains("virtualsize=4194304"), "{props}");
    assert!(std::fs::read_dir(&dir).unwrap().flatten().any(|e| e.file_name().to_string_lossy().ends_with(".qcow2")));
    let text = out.text();
    assert!(text.contains("download systemvmtemplate-test-kvm.qcow2.bz2: complete"), "{text}");
    let receipt = std::fs::read_to_string(root.path().join("var/lib/cloudstrap/receipt.json")).unwrap();
    assert!(receipt.contains("\"note\": \"uuid "), "{receipt}");

    let s = execute(&plan, &ctx, Receipt::new("debian-12", vec!["nfs".into()]), &*display, &Options::default()).unwrap();
    assert_eq!((s.executed, s.already_done), (0, 2));
}
