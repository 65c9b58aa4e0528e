//! The CloudStack packages `media build` puts on the medium, copied from a repository laid out like
//! download.cloudstack.org, served over HTTP by a local server or read from a directory: the signed index
//! kept byte for byte, only the newest version of each package, each file checked against the index, and
//! the signing key always carried (beside the repository, above it as on download.cloudstack.org, or given).

use std::path::{Path, PathBuf};
use std::process::{Child, Command};

use cloudstrap::media::cloudstack_repo::{copy, Source};

fn sh(dir: &Path, program: &str, args: &[&str]) -> Vec<u8> {
    let out = Command::new(program).args(args).current_dir(dir).output().unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(out.status.success(), "{program} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

/// A repository with two versions of cloudstack-common and one of cloudstack-agent (deb URL bookworm 4.22).
fn repo(dir: &Path) -> PathBuf {
    let r = dir.join("repo");
    std::fs::create_dir_all(r.join("pool/main/c")).unwrap();
    for (name, version) in [("cloudstack-common", "4.22.0.0"), ("cloudstack-common", "4.22.0.1"), ("cloudstack-agent", "4.22.0.1")] {
        let pkg = dir.join(format!("{name}-{version}"));
        std::fs::create_dir_all(pkg.join("DEBIAN")).unwrap();
        std::fs::write(
            pkg.join("DEBIAN/control"),
            format!("Package: {name}\nVersion: {version}\nArchitecture: all\nMaintainer: t <t@example.org>\nDescription: test\n"),
        )
        .unwrap();
        let deb = r.join(format!("pool/main/c/{name}_{version}_all.deb"));
        sh(dir, "dpkg-deb", &["--build", "--root-owner-group", pkg.to_str().unwrap(), deb.to_str().unwrap()]);
    }
    let bin = r.join("dists/bookworm/4.22/binary-amd64");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::write(bin.join("Packages"), sh(&r, "apt-ftparchive", &["packages", "pool"])).unwrap();
    let release = sh(&r, "apt-ftparchive", &["-o", "APT::FTPArchive::Release::Codename=bookworm", "release", "dists/bookworm"]);
    std::fs::write(r.join("dists/bookworm/Release"), release).unwrap();
    std::fs::write(r.join("release.asc"), "-----BEGIN PGP PUBLIC KEY BLOCK-----\n").unwrap();
    r
}

/// python3's http.server on a free loopback port, stopped when dropped.
struct Http(Child, String);

impl Http {
    fn serve(dir: &Path) -> Http {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new("python3")
            .args(["-m", "http.server", &port.to_string(), "--bind", "127.0.0.1", "--directory"])
            .arg(dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("python3");
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        Http(child, format!("http://127.0.0.1:{port}"))
    }
}

impl Drop for Http {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn files(dir: &Path) -> Vec<String> {
    let mut out = vec![];
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            if e.path().is_dir() {
                stack.push(e.path());
            } else {
                out.push(e.path().strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    out.sort();
    out
}

#[test]
fn the_newest_packages_and_the_signed_index_come_over_http_and_from_a_directory() {
    let dir = tempfile::tempdir().unwrap();
    let r = repo(dir.path());
    let http = Http::serve(&r);
    for (what, src) in [("url", Source::parse(&format!("{}/", http.1))), ("dir", Source::parse(r.to_str().unwrap()))] {
        let dest = dir.path().join(format!("copy-{what}"));
        let copied = copy(&src, "bookworm", "4.22", None, &dest).unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(copied.packages, ["cloudstack-agent", "cloudstack-common"], "{what}");
        assert_eq!(
            files(&dest),
            [
                "dists/bookworm/4.22/binary-amd64/Packages",
                "dists/bookworm/Release",
                "pool/main/c/cloudstack-agent_4.22.0.1_all.deb",
                "pool/main/c/cloudstack-common_4.22.0.1_all.deb",
                "release.asc"
            ],
            "{what}: only the newest cloudstack-common"
        );
        for f in ["dists/bookworm/Release", "dists/bookworm/4.22/binary-amd64/Packages", "pool/main/c/cloudstack-agent_4.22.0.1_all.deb"] {
            assert_eq!(std::fs::read(dest.join(f)).unwrap(), std::fs::read(r.join(f)).unwrap(), "{what}: {f}");
        }
    }
    // A line the repository does not carry.
    let e = copy(&Source::parse(&http.1), "bookworm", "4.19", None, &dir.path().join("none")).err().unwrap().to_string();
    assert!(e.contains("no package index for release line 4.19"), "{e}");
    // Not a repository at all.
    let e = copy(&Source::parse(&format!("{}/pool", http.1)), "bookworm", "4.22", None, &dir.path().join("none2")).err().unwrap().to_string();
    assert!(e.contains("not a repository laid out like download.cloudstack.org"), "{e}");
    // download.cloudstack.org's layout: the key above the distribution folder (/release.asc for /debian).
    let site = dir.path().join("site");
    std::fs::create_dir_all(&site).unwrap();
    sh(dir.path(), "cp", &["-a", r.to_str().unwrap(), site.join("debian").to_str().unwrap()]);
    std::fs::rename(site.join("debian/release.asc"), site.join("release.asc")).unwrap();
    let site_http = Http::serve(&site);
    let dest = dir.path().join("copy-site");
    copy(&Source::parse(&format!("{}/debian", site_http.1)), "bookworm", "4.22", None, &dest).unwrap();
    assert_eq!(std::fs::read(dest.join("release.asc")).unwrap(), std::fs::read(site.join("release.asc")).unwrap());
    // No key anywhere: the medium could not be verified offline, so the build stops and says what to pass.
    std::fs::remove_file(site.join("release.asc")).unwrap();
    let e = copy(&Source::parse(&format!("{}/debian", site_http.1)), "bookworm", "4.22", None, &dir.path().join("nokey")).err().unwrap().to_string();
    assert!(e.contains("no signing key at") && e.contains("--cloudstack-key"), "{e}");
    // ... unless it is given.
    let key = dir.path().join("key.asc");
    std::fs::write(&key, "-----BEGIN PGP PUBLIC KEY BLOCK-----\nkey\n").unwrap();
    let dest = dir.path().join("copy-key");
    copy(&Source::parse(&format!("{}/debian", site_http.1)), "bookworm", "4.22", Some(key.to_str().unwrap()), &dest).unwrap();
    assert_eq!(std::fs::read(dest.join("release.asc")).unwrap(), std::fs::read(&key).unwrap());

    // A package whose bytes are not the ones the index lists.
    std::fs::write(r.join("pool/main/c/cloudstack-agent_4.22.0.1_all.deb"), b"tampered").unwrap();
    let e = copy(&Source::parse(&http.1), "bookworm", "4.22", None, &dir.path().join("bad")).err().unwrap().to_string();
    assert!(e.contains("cloudstack-agent_4.22.0.1_all.deb: sha256") && e.contains("differs from the index's"), "{e}");
}
