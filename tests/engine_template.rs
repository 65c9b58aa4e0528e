//! The template step in the executor: a real qcow2 (qemu-img), bzip2-compressed, served by a local HTTP
//! server, seeded into secondary storage under a root with its download shown by the progress display;
//! a re-run finds it done. From 4.20 the management package's bundled template (metadata.ini) is seeded
//! instead, and the mirror gets no request.

mod engine_support;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use cloudstrap::action::dirs::CreateDirs;
use cloudstrap::action::executor::{execute, Options, Step};
use cloudstrap::action::progress::Progress;
use cloudstrap::action::receipt::Receipt;
use cloudstrap::action::Ctx;
use cloudstrap::template::actions::SeedTemplate;
use cloudstrap::run::Redactor;
use cloudstrap::template::{Algo, Checksum, ChecksumSpec};
use engine_support::*;
use sha2::Digest;

/// Serve `body` to every GET on 127.0.0.1; returns the URL.
fn serve(body: Vec<u8>) -> String {
    serve_counted(body).0
}

/// The same, counting the connections it gets.
fn serve_counted(body: Vec<u8>) -> (String, Arc<AtomicUsize>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            seen.fetch_add(1, Ordering::SeqCst);
            let mut s = s;
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n", body.len());
            let _ = s.write_all(head.as_bytes());
            let _ = s.write_all(&body);
        }
    });
    (format!("http://127.0.0.1:{port}/systemvmtemplate-test-kvm.qcow2.bz2"), count)
}

/// A small qcow2 (`size` virtual), bzip2-compressed; returns the compressed bytes.
fn compressed_image(work: &std::path::Path, size: &str) -> Vec<u8> {
    let img = work.join("t.qcow2");
    assert!(Command::new("qemu-img").args(["create", "-q", "-f", "qcow2"]).arg(&img).arg(size).status().unwrap().success());
    assert!(Command::new("bzip2").arg("-k").arg(&img).status().unwrap().success());
    std::fs::read(work.join("t.qcow2.bz2")).unwrap()
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

#[test]
fn on_4_20_and_later_the_bundled_template_is_seeded_and_nothing_is_downloaded() {
    require("qemu-img", "qemu-utils");
    require("bzip2", "bzip2");
    let work = tempfile::tempdir().unwrap();
    let compressed = compressed_image(work.path(), "6M");
    let md5 = hex::encode(md5::Md5::digest(&compressed));
    // The release's mirror, recording every connection: it must get none.
    let (url, connections) = serve_counted(compressed.clone());

    let root = tempfile::tempdir().unwrap();
    // What the 4.20+ management package lays down.
    let bundle_dir = "/usr/share/cloudstack-management/templates/systemvm";
    let pkg = root.path().join(bundle_dir.trim_start_matches('/'));
    std::fs::create_dir_all(&pkg).unwrap();
    let file = "systemvmtemplate-4.20.2-x86_64-kvm.qcow2.bz2";
    std::fs::write(pkg.join(file), &compressed).unwrap();
    std::fs::write(
        pkg.join("metadata.ini"),
        format!("[default]\nversion = 4.20.2.0\n\n[kvm]\ntemplatename = systemvm-kvm-4.20.2-x86_64\nchecksum = {md5}\ndownloadurl = {url}\nfilename = {file}\narch = x86_64\n"),
    )
    .unwrap();

    let out = Captured::default();
    let display: Arc<dyn Progress> = Arc::new(out.lines());
    let mut ctx = Ctx::for_root(root.path(), Redactor::default());
    ctx.progress = Some(display.clone());
    let release = cloudstrap::platform::Release::get("4.21").unwrap();
    let seed = SeedTemplate {
        url: url.clone(),
        bundled: release.template.bundled_dir.map(Into::into),
        dest: "/export/secondary".into(),
        id: 3,
        checksum: ChecksumSpec::File(format!("{url}.md5")),
        allow_http: true,
    };
    let plan = vec![
        Step { action: Box::new(CreateDirs { dirs: vec!["/export/secondary".into()], mode: 0o755 }), after: vec![] },
        Step { action: Box::new(seed), after: vec![0] },
    ];
    let s = execute(&plan, &ctx, Receipt::new("debian-12", vec!["management".into()]), &*display, &Options::default()).unwrap();
    assert_eq!(s.executed, 2, "{}", out.text());
    assert_eq!(connections.load(Ordering::SeqCst), 0, "the mirror was asked for something");
    let dir = root.path().join("export/secondary/template/tmpl/1/3");
    let props = std::fs::read_to_string(dir.join("template.properties")).unwrap();
    assert!(props.contains("virtualsize=6291456"), "{props}");
    // The console, the plan's description and the receipt say where the template came from.
    let text = out.text();
    assert!(text.contains(&format!("download {file} (bundled with the management package: copied, not downloaded): complete")), "{text}");
    assert!(text.contains(&format!("Seed the system VM template from the file bundled in {bundle_dir}")), "{text}");
    let receipt = std::fs::read_to_string(root.path().join("var/lib/cloudstrap/receipt.json")).unwrap();
    assert!(receipt.contains(&format!("bundled {bundle_dir}/{file}")), "{receipt}");
    assert!(!receipt.contains(root.path().to_str().unwrap()), "the receipt names the in-system path: {receipt}");
}
