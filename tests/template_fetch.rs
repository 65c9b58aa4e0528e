//! `template::fetch` against a real HTTP server in this process (ranges, dropped connections, stalls,
//! 5xx, 404, wrong checksums), real qcow2 images made with qemu-img, compressed by bzip2 (one stream),
//! pbzip2 and lbzip2, and the real MariaDB for the template id.
//! Needs: qemu-img, bzip2, pbzip2, lbzip2, mysql client + a running MariaDB, root (tmpfs for the full-disk case).

#[path = "common/json_shape.rs"]
mod json_shape;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use cloudstrap::template::{self, http::HttpError, Checksum, ChecksumSpec, DbOptions, FetchOptions, RetryPolicy, Silent, TemplateError};
use sha2::Digest;

// ---------------------------------------------------------------------------------------------------
// A small HTTP/1.1 server: one thread per connection, Connection: close, faults on request.

#[derive(Default)]
struct Faults {
    /// Answer this many requests with 503.
    fail_5xx: AtomicU32,
    /// Cut this many bodies after `cut_after` bytes of the response.
    cut: AtomicU32,
    cut_after: usize,
    /// Stall this many bodies for `stall` after `cut_after` bytes, then go on (the client has given up).
    stall: AtomicU32,
    stall_for: Duration,
    /// Serve 200 with the whole file whatever the Range header says.
    ignore_range: bool,
    /// From the second request on, the file is "new" (another ETag): If-Range must not match.
    replaced: bool,
}

/// (path, Range header) of every request.
type RequestLog = Arc<Mutex<Vec<(String, Option<String>)>>>;

struct Server {
    addr: String,
    files: Arc<Mutex<HashMap<String, Vec<u8>>>>,
    /// (path, Range header) of every request.
    log: RequestLog,
}

impl Server {
    fn start(faults: Faults) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = format!("http://{}", listener.local_addr().unwrap());
        let files: Arc<Mutex<HashMap<String, Vec<u8>>>> = Arc::default();
        let log: RequestLog = Arc::default();
        let faults = Arc::new(faults);
        let (f2, l2) = (files.clone(), log.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let (files, log, faults) = (f2.clone(), l2.clone(), faults.clone());
                std::thread::spawn(move || {
                    let _ = serve(conn, &files, &log, &faults);
                });
            }
        });
        Server { addr, files, log }
    }

    fn put(&self, path: &str, body: Vec<u8>) {
        self.files.lock().unwrap().insert(path.to_string(), body);
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.addr)
    }

    fn requests(&self) -> Vec<(String, Option<String>)> {
        self.log.lock().unwrap().clone()
    }
}

fn serve(
    mut conn: TcpStream,
    files: &Mutex<HashMap<String, Vec<u8>>>,
    log: &Mutex<Vec<(String, Option<String>)>>,
    faults: &Faults,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let path = request_line.split_whitespace().nth(1).unwrap_or("/").to_string();
    let mut range = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            if k.eq_ignore_ascii_case("range") {
                range = Some(v.trim().to_string());
            }
        }
    }
    log.lock().unwrap().push((path.clone(), range.clone()));
    let take = |a: &AtomicU32| a.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok();
    if take(&faults.fail_5xx) {
        return conn.write_all(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    }
    let Some(body) = files.lock().unwrap().get(&path).cloned() else {
        return conn.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    };
    let etag = if faults.replaced && log.lock().unwrap().len() > 1 { "v2" } else { "v1" };
    let start = match (&range, faults.ignore_range || etag == "v2") {
        (Some(r), false) => r.strip_prefix("bytes=").and_then(|r| r.strip_suffix('-')).and_then(|s| s.parse::<usize>().ok()),
        _ => None,
    };
    let head = match start {
        Some(s) => format!(
            "HTTP/1.1 206 Partial Content\r\nContent-Length: {}\r\nContent-Range: bytes {s}-{}/{}\r\nETag: \"{etag}\"\r\nConnection: close\r\n\r\n",
            body.len() - s,
            body.len() - 1,
            body.len()
        ),
        None => format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nETag: \"{etag}\"\r\nAccept-Ranges: bytes\r\nConnection: close\r\n\r\n", body.len()),
    };
    conn.write_all(head.as_bytes())?;
    let part = &body[start.unwrap_or(0)..];
    let cut_here = part.len() > faults.cut_after && take(&faults.cut);
    let stall_here = !cut_here && part.len() > faults.cut_after && take(&faults.stall);
    if cut_here || stall_here {
        conn.write_all(&part[..faults.cut_after])?;
        conn.flush()?;
        if cut_here {
            // A dropped connection: the client has a Content-Length it will not get.
            return conn.shutdown(std::net::Shutdown::Both);
        }
        std::thread::sleep(faults.stall_for);
        conn.write_all(&part[faults.cut_after..])?;
        return Ok(());
    }
    for piece in part.chunks(64 * 1024) {
        conn.write_all(piece)?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------------
// Fixtures: a real qcow2 holding data, compressed three ways.

struct Fixture {
    _dir: tempfile::TempDir,
    qcow2: Vec<u8>,
    virtual_size: u64,
    single: Vec<u8>,
    pbzip2: Vec<u8>,
    lbzip2: Vec<u8>,
}

fn tool(cmd: &mut Command) -> Vec<u8> {
    let out = cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e} (install qemu-utils bzip2 pbzip2 lbzip2)"));
    assert!(out.status.success(), "{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        // 8 MiB disk: pseudo-random data (incompressible: several bzip2 blocks), text, a hole, more data.
        let mut raw = Vec::with_capacity(8 << 20);
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..(3 << 20) / 8 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            raw.extend_from_slice(&x.to_le_bytes());
        }
        let mut n = 0u64;
        while raw.len() < 5 << 20 {
            raw.extend_from_slice(format!("line {n}: the quick brown fox jumps over the lazy dog\n").as_bytes());
            n += 1;
        }
        raw.resize(7 << 20, 0);
        while raw.len() < 8 << 20 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            raw.extend_from_slice(&x.to_le_bytes());
        }
        let raw_path = dir.path().join("disk.raw");
        std::fs::write(&raw_path, &raw).unwrap();
        let q = dir.path().join("t.qcow2");
        tool(Command::new("qemu-img").args(["convert", "-f", "raw", "-O", "qcow2"]).arg(&raw_path).arg(&q));
        let info: serde_json::Value = serde_json::from_slice(&tool(Command::new("qemu-img").args(["info", "--output=json"]).arg(&q))).unwrap();
        let virtual_size = info["virtual-size"].as_u64().unwrap();
        let single = tool(Command::new("bzip2").args(["-9", "-c"]).arg(&q));
        // -b1: 100 kB blocks, each its own stream: many streams.
        let pbzip2 = tool(Command::new("pbzip2").args(["-9", "-b1", "-c"]).arg(&q));
        let lbzip2 = tool(Command::new("lbzip2").args(["-9", "-c"]).arg(&q));
        Fixture { qcow2: std::fs::read(&q).unwrap(), virtual_size, single, pbzip2, lbzip2, _dir: dir }
    })
}

fn sha512(b: &[u8]) -> String {
    hex::encode(sha2::Sha512::digest(b))
}

fn opts(url: String, dest: &Path, checksum: ChecksumSpec) -> FetchOptions {
    FetchOptions {
        url,
        bundled: None,
        dest: dest.to_path_buf(),
        checksum,
        id: Some(3),
        db: None,
        force: false,
        allow_http: true,
        threads: Some(2),
        retry: RetryPolicy {
            attempts: 4,
            base_delay: Duration::from_millis(20),
            max_delay: Duration::from_millis(100),
            timeout: Duration::from_secs(10),
        },
    }
}

/// Every path below `root`, relative, sorted.
fn tree(root: &Path) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        if let Ok(rd) = std::fs::read_dir(dir) {
            for e in rd.flatten() {
                out.push(e.path().strip_prefix(base).unwrap().display().to_string());
                if e.file_type().unwrap().is_dir() {
                    walk(base, &e.path(), out);
                }
            }
        }
    }
    let mut out = vec![];
    walk(root, root, &mut out);
    out.sort();
    out
}

/// The template directory holds exactly the image (byte for byte) and upstream's properties.
fn assert_installed(inst: &template::Installed, dest: &Path, id: u32) {
    let f = fixture();
    let dir = dest.join(format!("template/tmpl/1/{id}"));
    assert_eq!(inst.dir, dir);
    let name = format!("{}.qcow2", inst.uuid);
    assert_eq!(inst.file, dir.join(&name));
    let mut names: Vec<String> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    assert_eq!(names, vec![name.clone(), "template.properties".to_string()]);
    assert!(std::fs::read(&inst.file).unwrap() == f.qcow2, "the installed image differs from the original");
    let props = std::fs::read_to_string(dir.join("template.properties")).unwrap();
    let size = f.qcow2.len();
    let vs = f.virtual_size;
    let want = format!(
        "filename={name}\ndescription=SystemVM Template\nhvm=false\nsize={size}\nqcow2=true\nid={id}\npublic=true\n\
         qcow2.filename={name}\nuniquename=routing-{id}\nqcow2.virtualsize={vs}\nvirtualsize={vs}\nqcow2.size={size}\n"
    );
    assert_eq!(props, want);
    assert_eq!((inst.size, inst.virtual_size), (size as u64, vs));
    assert!(template::is_installed(dest, id));
    // Nothing else anywhere: no staging directory, no .partial, no backup.
    let all = tree(dest);
    assert!(all.iter().all(|p| !p.contains("partial") && !p.contains(".cloudstrap")), "left over: {all:?}");
}

/// After a failure: the destination is exactly as before (here: empty).
fn assert_nothing_left(dest: &Path) {
    assert_eq!(tree(dest), Vec::<String>::new(), "a failed fetch left files behind");
}

// ---------------------------------------------------------------------------------------------------

#[test]
fn single_stream_installs_upstream_layout_checksum_from_list() {
    let f = fixture();
    let srv = Server::start(Faults::default());
    srv.put("/systemvm/4.22/t.qcow2.bz2", f.single.clone());
    srv.put("/systemvm/4.22/sha512sum.txt", format!("{}  t.qcow2.bz2\n", sha512(&f.single)).into_bytes());
    let dest = tempfile::tempdir().unwrap();
    assert!(!template::is_installed(dest.path(), 3));
    let inst = template::fetch(&opts(srv.url("/systemvm/4.22/t.qcow2.bz2"), dest.path(), ChecksumSpec::Probe), &Silent).unwrap();
    assert_installed(&inst, dest.path(), 3);
    // A template whose image went missing or was cut short is not installed.
    let f2 = std::fs::OpenOptions::new().write(true).open(&inst.file).unwrap();
    f2.set_len(1000).unwrap();
    assert!(!template::is_installed(dest.path(), 3));
    assert_eq!(inst.checksum.unwrap().to_string(), format!("sha512:{}", sha512(&f.single)));
    assert_eq!(inst.compressed_bytes, f.single.len() as u64);
    assert_eq!(inst.resumes, 0);
}

#[test]
fn multi_stream_pbzip2_and_lbzip2_decode_identically() {
    let f = fixture();
    // The pbzip2 file really is many streams (each starts with a BZh9 header).
    assert!(f.pbzip2.windows(4).filter(|w| w == b"BZh9").count() > 10);
    let srv = Server::start(Faults::default());
    srv.put("/p.bz2", f.pbzip2.clone());
    srv.put("/l.bz2", f.lbzip2.clone());
    let md5 = hex::encode(md5::Md5::digest(&f.pbzip2));
    let sha256 = hex::encode(sha2::Sha256::digest(&f.lbzip2));
    for (path, sum, threads) in [("/p.bz2", format!("md5:{md5}"), 2), ("/l.bz2", format!("sha256:{sha256}"), 1)] {
        let dest = tempfile::tempdir().unwrap();
        let mut o = opts(srv.url(path), dest.path(), ChecksumSpec::Given(sum.parse::<Checksum>().unwrap()));
        o.threads = Some(threads);
        let inst = template::fetch(&o, &Silent).unwrap();
        assert_installed(&inst, dest.path(), 3);
    }
}

#[test]
fn dropped_connections_resume_with_range_requests() {
    let f = fixture();
    let srv = Server::start(Faults { cut: AtomicU32::new(3), cut_after: 300_000, ..Default::default() });
    srv.put("/t.bz2", f.single.clone());
    let dest = tempfile::tempdir().unwrap();
    let sum = ChecksumSpec::Given(format!("sha512:{}", sha512(&f.single)).parse().unwrap());
    let inst = template::fetch(&opts(srv.url("/t.bz2"), dest.path(), sum), &Silent).unwrap();
    assert_installed(&inst, dest.path(), 3);
    assert_eq!(inst.resumes, 3);
    // Each resume asked for exactly the next byte: 300000 per cut.
    let ranges: Vec<Option<String>> = srv.requests().into_iter().map(|(_, r)| r).collect();
    assert_eq!(
        ranges,
        vec![None, Some("bytes=300000-".into()), Some("bytes=600000-".into()), Some("bytes=900000-".into())]
    );
}

#[test]
fn a_server_without_ranges_is_reread_and_skipped() {
    let f = fixture();
    let srv = Server::start(Faults { cut: AtomicU32::new(2), cut_after: 250_000, ignore_range: true, ..Default::default() });
    srv.put("/t.bz2", f.pbzip2.clone());
    let dest = tempfile::tempdir().unwrap();
    let sum = ChecksumSpec::Given(format!("sha512:{}", sha512(&f.pbzip2)).parse().unwrap());
    let inst = template::fetch(&opts(srv.url("/t.bz2"), dest.path(), sum), &Silent).unwrap();
    assert_installed(&inst, dest.path(), 3);
    assert_eq!(inst.resumes, 2);
}

#[test]
fn a_file_replaced_on_the_server_mid_download_is_not_spliced() {
    let f = fixture();
    let srv = Server::start(Faults { cut: AtomicU32::new(1), cut_after: 300_000, replaced: true, ..Default::default() });
    srv.put("/t.bz2", f.single.clone());
    let dest = tempfile::tempdir().unwrap();
    let err = template::fetch(&opts(srv.url("/t.bz2"), dest.path(), ChecksumSpec::Skip), &Silent).unwrap_err();
    assert!(err.to_string().contains("changed on the server"), "{err}");
    assert_nothing_left(dest.path());
}

#[test]
fn a_stalled_read_times_out_and_resumes() {
    let f = fixture();
    let srv = Server::start(Faults { stall: AtomicU32::new(1), cut_after: 200_000, stall_for: Duration::from_secs(3), ..Default::default() });
    srv.put("/t.bz2", f.single.clone());
    let dest = tempfile::tempdir().unwrap();
    let mut o = opts(srv.url("/t.bz2"), dest.path(), ChecksumSpec::Skip);
    o.retry.timeout = Duration::from_secs(1);
    let inst = template::fetch(&o, &Silent).unwrap();
    assert_installed(&inst, dest.path(), 3);
    assert_eq!(inst.resumes, 1);
    assert_eq!(srv.requests()[1].1.as_deref(), Some("bytes=200000-"));
}

#[test]
fn server_errors_are_retried() {
    let f = fixture();
    let srv = Server::start(Faults { fail_5xx: AtomicU32::new(2), ..Default::default() });
    srv.put("/t.bz2", f.single.clone());
    let dest = tempfile::tempdir().unwrap();
    let inst = template::fetch(&opts(srv.url("/t.bz2"), dest.path(), ChecksumSpec::Skip), &Silent).unwrap();
    assert_installed(&inst, dest.path(), 3);
    assert_eq!(srv.requests().len(), 3);
}

#[test]
fn persistent_server_errors_give_up_cleanly() {
    let f = fixture();
    let srv = Server::start(Faults { fail_5xx: AtomicU32::new(100), ..Default::default() });
    srv.put("/t.bz2", f.single.clone());
    let dest = tempfile::tempdir().unwrap();
    let err = template::fetch(&opts(srv.url("/t.bz2"), dest.path(), ChecksumSpec::Skip), &Silent).unwrap_err();
    assert!(matches!(err, TemplateError::Http(HttpError::GaveUp { attempts: 4, .. })), "{err}");
    assert!(err.to_string().contains("HTTP 503"), "{err}");
    assert_nothing_left(dest.path());
}

#[test]
fn not_found_fails_cleanly() {
    let srv = Server::start(Faults::default());
    let dest = tempfile::tempdir().unwrap();
    let err = template::fetch(&opts(srv.url("/missing.bz2"), dest.path(), ChecksumSpec::Skip), &Silent).unwrap_err();
    assert!(matches!(err, TemplateError::Http(HttpError::NotFound { status: 404, .. })), "{err}");
    assert_eq!(srv.requests().len(), 1, "a 404 is not retried");
    assert_nothing_left(dest.path());
}

#[test]
fn checksum_mismatch_fails_cleanly() {
    let f = fixture();
    let srv = Server::start(Faults::default());
    srv.put("/d/t.bz2", f.single.clone());
    // The list names the right file with another file's digest.
    srv.put("/d/md5sum.txt", format!("{}  t.bz2\n", hex::encode(md5::Md5::digest(&f.lbzip2))).into_bytes());
    let dest = tempfile::tempdir().unwrap();
    let err = template::fetch(&opts(srv.url("/d/t.bz2"), dest.path(), ChecksumSpec::File(srv.url("/d/md5sum.txt"))), &Silent).unwrap_err();
    assert!(matches!(err, TemplateError::Mismatch { .. }), "{err}");
    assert!(err.to_string().contains("nothing was installed"));
    assert_nothing_left(dest.path());
}

#[test]
fn no_checksum_anywhere_is_refused_before_downloading() {
    let f = fixture();
    let srv = Server::start(Faults::default());
    srv.put("/t.bz2", f.single.clone());
    let dest = tempfile::tempdir().unwrap();
    let err = template::fetch(&opts(srv.url("/t.bz2"), dest.path(), ChecksumSpec::Probe), &Silent).unwrap_err();
    assert!(matches!(err, TemplateError::NoChecksum { .. }), "{err}");
    assert!(srv.requests().iter().all(|(p, _)| p != "/t.bz2"));
    assert_nothing_left(dest.path());
}

#[test]
fn corrupt_and_truncated_streams_fail_cleanly() {
    let f = fixture();
    let mut corrupt = f.single.clone();
    let mid = corrupt.len() / 2;
    corrupt[mid] ^= 0x40;
    let truncated = f.pbzip2[..f.pbzip2.len() * 2 / 3].to_vec();
    let mut trailing = f.single.clone();
    trailing.extend_from_slice(b"not bzip2");
    let srv = Server::start(Faults::default());
    for (path, body, want) in [
        ("/corrupt.bz2", corrupt, "CRC"),
        ("/truncated.bz2", truncated, "truncated"),
        ("/trailing.bz2", trailing, "trailing data"),
        ("/notbz2.bz2", f.qcow2.clone(), "not a bzip2 file"),
    ] {
        // The checksum is the served file's own: the decoder must catch the damage.
        let sum = ChecksumSpec::Given(format!("sha512:{}", sha512(&body)).parse().unwrap());
        srv.put(path, body);
        let dest = tempfile::tempdir().unwrap();
        let err = template::fetch(&opts(srv.url(path), dest.path(), sum), &Silent).unwrap_err();
        assert!(matches!(err, TemplateError::Stream(template::pipeline::StreamError::Bzip2(_))), "{path}: {err}");
        assert!(err.to_string().contains(want), "{path}: {err}");
        assert_nothing_left(dest.path());
    }
}

#[test]
fn an_existing_template_is_kept_unless_forced() {
    let f = fixture();
    let srv = Server::start(Faults::default());
    srv.put("/t.bz2", f.single.clone());
    let dest = tempfile::tempdir().unwrap();
    let first = template::fetch(&opts(srv.url("/t.bz2"), dest.path(), ChecksumSpec::Skip), &Silent).unwrap();
    let before = tree(dest.path());

    let err = template::fetch(&opts(srv.url("/t.bz2"), dest.path(), ChecksumSpec::Skip), &Silent).unwrap_err();
    assert!(matches!(err, TemplateError::Exists(_)), "{err}");
    assert_eq!(tree(dest.path()), before, "the refused run changed the destination");
    assert_eq!(srv.requests().len(), 1, "nothing downloaded when the template exists");

    let mut o = opts(srv.url("/t.bz2"), dest.path(), ChecksumSpec::Skip);
    o.force = true;
    let second = template::fetch(&o, &Silent).unwrap();
    assert_ne!(first.uuid, second.uuid);
    let backup = second.replaced.clone().expect("the replaced template is kept");
    assert!(backup.starts_with(dest.path().join(".cloudstrap-backup")));
    assert!(backup.join(format!("{}.qcow2", first.uuid)).exists() && backup.join("template.properties").exists());
    let dir = dest.path().join("template/tmpl/1/3");
    assert!(dir.join(format!("{}.qcow2", second.uuid)).exists() && !dir.join(format!("{}.qcow2", first.uuid)).exists());

    // A third --force: still one backup (of the second template), and the console line says where.
    let said = Said::default();
    let third = template::fetch(&o, &said).unwrap();
    let kept = third.replaced.clone().unwrap();
    let backups: Vec<PathBuf> = std::fs::read_dir(dest.path().join(".cloudstrap-backup")).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(backups, std::slice::from_ref(&kept), "exactly one backup");
    assert!(kept.join(format!("{}.qcow2", second.uuid)).exists());
    assert!(said.text().contains(&format!("the previous template is kept in {}", kept.display())), "{}", said.text());
}

/// Records what the pipeline says; panics on the note that comes between staging and the final rename
/// when `kill_when_staged` is set, leaving the files exactly as a kill at that moment would.
#[derive(Default)]
struct Said {
    lines: Mutex<Vec<String>>,
    kill_when_staged: bool,
}
impl Said {
    fn text(&self) -> String {
        self.lines.lock().unwrap().join("\n")
    }
}
impl template::Progress for Said {
    fn download(&self, what: &str, _total: Option<u64>) -> Box<dyn cloudstrap::action::progress::Download> {
        self.lines.lock().unwrap().push(format!("start {what}"));
        Box::new(template::Silent)
    }
    fn note(&self, msg: &str) {
        self.lines.lock().unwrap().push(msg.to_string());
        if self.kill_when_staged && msg.starts_with("staged in ") {
            panic!("killed");
        }
    }
}

/// What the secondary storage VM would register: every template.properties below template/.
fn registrable(dest: &Path) -> Vec<String> {
    tree(&dest.join("template")).into_iter().filter(|p| p.ends_with("template.properties")).collect()
}

#[test]
fn a_run_killed_after_staging_leaves_nothing_registrable_under_template() {
    let f = fixture();
    let srv = Server::start(Faults::default());
    srv.put("/t.bz2", f.single.clone());
    let dest = tempfile::tempdir().unwrap();
    let said = Said { kill_when_staged: true, ..Said::default() };
    let o = opts(srv.url("/t.bz2"), dest.path(), ChecksumSpec::Skip);
    let killed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| template::fetch(&o, &said)));
    assert!(killed.is_err(), "the run was to be cut short after staging");
    // The complete copy (image and properties) exists, but outside template/ ...
    let all = tree(dest.path());
    let staged: Vec<&String> = all.iter().filter(|p| p.starts_with(".cloudstrap-staging/3-") && p.ends_with("template.properties")).collect();
    assert_eq!(staged.len(), 1, "{all:?}");
    // ... on the same file system (the final step is a rename) ...
    use std::os::unix::fs::MetadataExt;
    let staging_dev = std::fs::metadata(dest.path().join(".cloudstrap-staging")).unwrap().dev();
    assert_eq!(staging_dev, std::fs::metadata(dest.path().join("template")).unwrap().dev());
    // ... and the secondary storage VM's search finds nothing.
    assert_eq!(registrable(dest.path()), Vec::<String>::new(), "{all:?}");
    assert!(!template::is_installed(dest.path(), 3));
    // The next run clears the leftover and installs.
    let inst = template::fetch(&o, &Silent).unwrap();
    assert_installed(&inst, dest.path(), 3);
    assert_eq!(registrable(dest.path()), ["tmpl/1/3/template.properties"]);
}

#[test]
fn a_cli_run_killed_mid_download_leaves_nothing_under_template() {
    let f = fixture();
    // The body stalls after 1.5 MB: the run is then mid-download, with decoded bytes on disk.
    let srv = Server::start(Faults { stall: AtomicU32::new(1), cut_after: 1_500_000, stall_for: Duration::from_secs(8), ..Default::default() });
    srv.put("/t.bz2", f.single.clone());
    let dest = tempfile::tempdir().unwrap();
    let d = dest.path().to_str().unwrap();
    let args = ["template", "fetch", "--url", &srv.url("/t.bz2"), "--dest", d, "--id", "3", "--skip-checksum", "--allow-http"];
    let mut child = Command::new(env!("CARGO_BIN_EXE_cloudstrap"))
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // The staging file exists before the request is sent; once the server has the request it sends 1.5 MB
    // and then holds the rest back for 8 s: a kill in that window is a kill mid-download.
    let staged = || tree(dest.path()).iter().any(|p| p.starts_with(".cloudstrap-staging/3-") && p.ends_with(".qcow2.partial"));
    let mut waited = 0;
    while !(staged() && srv.requests().len() == 1) && waited < 200 {
        std::thread::sleep(Duration::from_millis(50));
        waited += 1;
    }
    assert!(staged() && srv.requests().len() == 1, "the run never started its download: {:?}", tree(dest.path()));
    std::thread::sleep(Duration::from_millis(300));
    assert!(child.try_wait().unwrap().is_none(), "the run ended before the kill");
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(staged(), "the killed run's partial copy stays in the staging directory, outside template/");
    // Below template/ only the (empty) directories: no file at all, nothing to register.
    let files: Vec<String> = tree(&dest.path().join("template")).into_iter().filter(|p| dest.path().join("template").join(p).is_file()).collect();
    assert_eq!(files, Vec::<String>::new());
    assert_eq!(registrable(dest.path()), Vec::<String>::new());
    // The next run clears the leftover and installs.
    let (code, _, err) = cloudstrap(&args, &[]);
    assert_eq!(code, 0, "{err}");
    assert!(template::is_installed(dest.path(), 3));
    assert!(!tree(dest.path()).iter().any(|p| p.contains(".cloudstrap-staging")), "{:?}", tree(dest.path()));
}

/// A management package's bundled template directory with `metadata.ini` as 4.20+ ship it.
fn bundle(dir: &Path, section: &str, file: &str, body: &[u8], checksum: &str) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join(file), body).unwrap();
    let ini = format!(
        "\n[default]\nversion = 4.22.0.0\n\n[{section}]\ntemplatename = systemvm-kvm-4.22.0-x86_64\nchecksum = {checksum}\n\
         downloadurl = https://download.cloudstack.org/systemvm/4.22/{file}\nfilename = {file}\narch = x86_64\n\n\
         [vmware]\ntemplatename = systemvm-vmware-4.22.0-x86_64\nchecksum = 00\nfilename = v.ova\n"
    );
    std::fs::write(dir.join("metadata.ini"), ini).unwrap();
}

#[test]
fn the_bundled_template_is_seeded_and_nothing_is_downloaded() {
    let f = fixture();
    // The mirror would serve the same file: it must get no request at all, not even for a checksum list.
    let srv = Server::start(Faults::default());
    srv.put("/systemvm/4.22/t.qcow2.bz2", f.single.clone());
    srv.put("/systemvm/4.22/sha512sum.txt", format!("{}  t.qcow2.bz2\n", sha512(&f.single)).into_bytes());
    let pkg = tempfile::tempdir().unwrap();
    let file = "systemvmtemplate-4.22.0-x86_64-kvm.qcow2.bz2";
    bundle(pkg.path(), "kvm-x86_64", file, &f.pbzip2, &sha512(&f.pbzip2));
    let dest = tempfile::tempdir().unwrap();
    let mut o = opts(srv.url("/systemvm/4.22/t.qcow2.bz2"), dest.path(), ChecksumSpec::File(srv.url("/systemvm/4.22/sha512sum.txt")));
    o.bundled = Some(pkg.path().to_path_buf());
    let said = Said::default();
    let inst = template::fetch(&o, &said).unwrap();
    assert_installed(&inst, dest.path(), 3);
    assert_eq!(srv.requests(), vec![], "the mirror was asked");
    assert_eq!(inst.origin, template::Origin::Bundled(pkg.path().join(file)));
    assert_eq!(inst.checksum.clone().unwrap().to_string(), format!("sha512:{}", sha512(&f.pbzip2)));
    let text = said.text();
    assert!(text.contains("seeding from the management package's bundled") && text.contains("copied, not downloaded"), "{text}");

    // 4.20's layout ([kvm], md5) works the same.
    let pkg20 = tempfile::tempdir().unwrap();
    bundle(pkg20.path(), "kvm", "systemvmtemplate-4.20.2-x86_64-kvm.qcow2.bz2", &f.single, &hex::encode(md5::Md5::digest(&f.single)));
    let dest = tempfile::tempdir().unwrap();
    let mut o = opts(srv.url("/systemvm/4.22/t.qcow2.bz2"), dest.path(), ChecksumSpec::Probe);
    o.bundled = Some(pkg20.path().to_path_buf());
    let inst = template::fetch(&o, &Silent).unwrap();
    assert_installed(&inst, dest.path(), 3);
    assert_eq!(inst.checksum.unwrap().algo, template::Algo::Md5);
    assert_eq!(srv.requests(), vec![]);

    // A bundled file that does not match its metadata is refused, and not silently replaced by a download.
    let bad = tempfile::tempdir().unwrap();
    bundle(bad.path(), "kvm-x86_64", file, &f.lbzip2, &sha512(&f.pbzip2));
    let dest = tempfile::tempdir().unwrap();
    o.dest = dest.path().to_path_buf();
    o.bundled = Some(bad.path().to_path_buf());
    let err = template::fetch(&o, &Silent).unwrap_err();
    assert!(matches!(err, TemplateError::Mismatch { .. }), "{err}");
    assert_nothing_left(dest.path());
    assert_eq!(srv.requests(), vec![]);

    // No bundled template (before 4.20, or a package without one): the mirror.
    let empty = tempfile::tempdir().unwrap();
    let dest = tempfile::tempdir().unwrap();
    let mut o = opts(srv.url("/systemvm/4.22/t.qcow2.bz2"), dest.path(), ChecksumSpec::File(srv.url("/systemvm/4.22/sha512sum.txt")));
    o.bundled = Some(empty.path().to_path_buf());
    let inst = template::fetch(&o, &Silent).unwrap();
    assert_installed(&inst, dest.path(), 3);
    assert_eq!(inst.origin, template::Origin::Mirror(srv.url("/systemvm/4.22/t.qcow2.bz2")));
    assert_eq!(srv.requests().len(), 2, "checksum list and template from the mirror");
}

#[test]
fn stale_staging_from_a_killed_run_is_cleared() {
    let f = fixture();
    let srv = Server::start(Faults::default());
    srv.put("/t.bz2", f.single.clone());
    let dest = tempfile::tempdir().unwrap();
    let stale = dest.path().join(".cloudstrap-staging/3-dead");
    std::fs::create_dir_all(&stale).unwrap();
    std::fs::write(stale.join("x.qcow2.partial"), b"half").unwrap();
    let inst = template::fetch(&opts(srv.url("/t.bz2"), dest.path(), ChecksumSpec::Skip), &Silent).unwrap();
    assert_installed(&inst, dest.path(), 3);
}

#[test]
fn a_local_mirror_file_works_without_a_server() {
    let f = fixture();
    let mirror = tempfile::tempdir().unwrap();
    std::fs::write(mirror.path().join("t.qcow2.bz2"), &f.pbzip2).unwrap();
    std::fs::write(mirror.path().join("md5sum.txt"), format!("{}  t.qcow2.bz2\n", hex::encode(md5::Md5::digest(&f.pbzip2)))).unwrap();
    let path = mirror.path().join("t.qcow2.bz2").display().to_string();
    for url in [format!("file://{path}"), path.clone()] {
        let dest = tempfile::tempdir().unwrap();
        let mut o = opts(url, dest.path(), ChecksumSpec::Probe);
        o.allow_http = false;
        let inst = template::fetch(&o, &Silent).unwrap();
        assert_installed(&inst, dest.path(), 3);
        assert_eq!(inst.checksum.unwrap().algo, template::Algo::Md5);
    }
}

#[test]
fn plain_http_needs_permission_and_nothing_is_sent() {
    let srv = Server::start(Faults::default());
    let dest = tempfile::tempdir().unwrap();
    let mut o = opts(srv.url("/t.bz2"), dest.path(), ChecksumSpec::Skip);
    o.allow_http = false;
    let err = template::fetch(&o, &Silent).unwrap_err();
    assert!(matches!(err, TemplateError::Http(HttpError::HttpNotAllowed { .. })), "{err}");
    assert!(srv.requests().is_empty());
    assert_nothing_left(dest.path());
}

/// A tmpfs too small for the image, mounted for the test.
struct SmallFs(PathBuf);
impl Drop for SmallFs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
        let _ = std::fs::remove_dir(&self.0);
    }
}

#[test]
fn too_little_free_space_is_refused_from_the_qcow2_header() {
    let f = fixture();
    let mnt = std::env::temp_dir().join(format!("cloudstrap-fullfs-{}", std::process::id()));
    std::fs::create_dir_all(&mnt).unwrap();
    let status = Command::new("mount").args(["-t", "tmpfs", "-o", "size=2m", "tmpfs"]).arg(&mnt).status().expect("run mount");
    assert!(status.success(), "mounting a 2 MB tmpfs at {} failed: this test needs root (CI runs as root)", mnt.display());
    let fs = SmallFs(mnt);
    let srv = Server::start(Faults::default());
    srv.put("/t.bz2", f.single.clone());
    let err = template::fetch(&opts(srv.url("/t.bz2"), &fs.0, ChecksumSpec::Skip), &Silent).unwrap_err();
    // Refused on the header's virtual size (8 MiB) before writing, not on ENOSPC once 2 MB are written.
    match &err {
        TemplateError::NoSpace { need, free, .. } => assert!(*need == f.virtual_size && *free <= 2 << 20, "{err}"),
        other => panic!("expected a free-space refusal, got {other}"),
    }
    assert!(err.to_string().contains("not enough free space") && err.to_string().contains("nothing was installed"), "{err}");
    assert_nothing_left(&fs.0);
    // The command line: exit 2, the same sentence.
    let (code, _, stderr) = cloudstrap(
        &["template", "fetch", "--url", &srv.url("/t.bz2"), "--dest", fs.0.to_str().unwrap(), "--id", "3", "--skip-checksum", "--allow-http"],
        &[],
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("not enough free space"), "{stderr}");
    assert_nothing_left(&fs.0);
}

// ---------------------------------------------------------------------------------------------------
// The database: a cloud-like schema in a database of this test's own.

fn mysql_root(sql: &str) -> String {
    let out = Command::new("mysql")
        .args(["--batch", "--skip-column-names", "-e", sql])
        .output()
        .expect("run the mysql client (install mariadb-client)");
    assert!(
        out.status.success(),
        "mysql as root failed (is MariaDB running? scripts/test-env/services/mariadb.sh): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

struct TestDb {
    name: String,
    user: String,
}

impl TestDb {
    fn create(tag: &str, password: &str) -> TestDb {
        Self::with_grants(tag, password, "select, update")
    }

    fn with_grants(tag: &str, password: &str, grants: &str) -> TestDb {
        let pw = password.replace('\\', "\\\\").replace('\'', "''");
        let name = format!("tmpl_{tag}_{}", std::process::id());
        let user = name.clone();
        mysql_root(&format!(
            "drop database if exists {name}; create database {name};
             create table {name}.vm_template (id bigint unsigned primary key, uuid varchar(40), url varchar(255),
               type varchar(32), hypervisor_type varchar(32), removed datetime null);
             insert into {name}.vm_template values
               (1, 'u1', 'http://x/xen.vhd.bz2', 'SYSTEM', 'XenServer', null),
               (3, 'u3', 'http://x/old-kvm.qcow2.bz2', 'SYSTEM', 'KVM', null),
               (8, 'u8', 'http://x/removed.qcow2.bz2', 'SYSTEM', 'KVM', now()),
               (9, 'u9', 'http://x/user.qcow2.bz2', 'USER', 'KVM', null);
             drop user if exists '{user}'@'localhost'; create user '{user}'@'localhost' identified by '{pw}';
             grant {grants} on {name}.* to '{user}'@'localhost';"
        ));
        TestDb { name, user }
    }

    fn options(&self, password: &str) -> DbOptions {
        DbOptions { user: self.user.clone(), password: Some(password.into()), database: self.name.clone(), ..DbOptions::local_root() }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let _ = Command::new("mysql").args(["-e", &format!("drop database if exists {}; drop user if exists '{}'@'localhost';", self.name, self.user)]).status();
    }
}

#[test]
fn template_id_from_the_database_and_row_updated() {
    let f = fixture();
    let pw = "s3cr\"et'#pw";
    let db = TestDb::create("lookup", pw);
    let srv = Server::start(Faults::default());
    srv.put("/t.bz2", f.single.clone());
    let dest = tempfile::tempdir().unwrap();
    let mut o = opts(srv.url("/t.bz2"), dest.path(), ChecksumSpec::Skip);
    o.id = None;
    o.db = Some(db.options(pw));
    let inst = template::fetch(&o, &Silent).unwrap();
    // id 3: the newest SYSTEM KVM row not removed (8 is removed, 9 is a user template, 1 is Xen).
    assert_eq!(inst.id, 3);
    assert!(inst.recorded);
    assert_installed(&inst, dest.path(), 3);
    let row = mysql_root(&format!("select id, uuid, url from {}.vm_template order by id", db.name));
    let want = format!("1\tu1\thttp://x/xen.vhd.bz2\n3\t{}\t{}\n8\tu8\thttp://x/removed.qcow2.bz2\n9\tu9\thttp://x/user.qcow2.bz2\n", inst.uuid, srv.url("/t.bz2"));
    assert_eq!(row, want);
}

#[test]
fn a_failed_row_update_takes_the_template_back_out() {
    let f = fixture();
    let db = TestDb::with_grants("noupdate", "pw-1", "select");
    let srv = Server::start(Faults::default());
    srv.put("/t.bz2", f.single.clone());
    let dest = tempfile::tempdir().unwrap();
    let mut o = opts(srv.url("/t.bz2"), dest.path(), ChecksumSpec::Skip);
    o.id = None;
    o.db = Some(db.options("pw-1"));
    let err = template::fetch(&o, &Silent).unwrap_err();
    assert!(matches!(err, TemplateError::Db(_)) && err.to_string().contains("denied"), "{err}");
    assert_nothing_left(dest.path());
    assert_eq!(mysql_root(&format!("select uuid from {}.vm_template where id = 3", db.name)), "u3\n");
}

#[test]
fn a_missing_row_for_a_given_id_is_refused_before_the_download() {
    let f = fixture();
    let pw = "pw-row-check";
    let db = TestDb::create("rowcheck", pw);
    let srv = Server::start(Faults::default());
    srv.put("/t.bz2", f.single.clone());
    let dest = tempfile::tempdir().unwrap();
    let mut o = opts(srv.url("/t.bz2"), dest.path(), ChecksumSpec::Skip);
    o.id = Some(42);
    o.db = Some(db.options(pw));
    let err = template::fetch(&o, &Silent).unwrap_err();
    assert!(err.to_string().contains("has no row with id 42"), "{err}");
    assert!(srv.requests().is_empty(), "downloaded before finding the row missing: {:?}", srv.requests());
    assert_nothing_left(dest.path());
    // The command line: exit 2, nothing asked of the server.
    let (code, _, stderr) = cloudstrap(
        &[
            "template", "fetch", "--url", &srv.url("/t.bz2"), "--dest", dest.path().to_str().unwrap(), "--id", "42", "--skip-checksum",
            "--allow-http", "--db-user", &db.user, "--db-name", &db.name,
        ],
        &[("CLOUDSTRAP_DB_PASSWORD", pw)],
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("no row with id 42") && srv.requests().is_empty(), "{stderr}");
    // An existing row: downloaded and recorded.
    o.id = Some(3);
    let inst = template::fetch(&o, &Silent).unwrap();
    assert!(inst.recorded);
}

#[test]
fn database_errors_name_no_password_and_leave_nothing() {
    let db = TestDb::create("badpw", "right-password");
    let dest = tempfile::tempdir().unwrap();
    let mut o = opts("http://127.0.0.1:9/t.bz2".into(), dest.path(), ChecksumSpec::Skip);
    o.id = None;
    o.db = Some(db.options("wrong-password-xyz"));
    let err = template::fetch(&o, &Silent).unwrap_err();
    assert!(matches!(err, TemplateError::Db(_)), "{err}");
    assert!(err.to_string().contains("Access denied"), "{err}");
    assert!(!err.to_string().contains("wrong-password-xyz"), "the password leaked: {err}");
    assert_nothing_left(dest.path());

    // No SYSTEM KVM row at all: a clear error.
    mysql_root(&format!("delete from {}.vm_template where hypervisor_type = 'KVM'", db.name));
    o.db = Some(db.options("right-password"));
    let err = template::fetch(&o, &Silent).unwrap_err();
    assert!(err.to_string().contains("no SYSTEM KVM template row"), "{err}");
}

// ---------------------------------------------------------------------------------------------------
// The command line.

fn cloudstrap(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cloudstrap"));
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn cli_fetch_reports_json_and_exit_codes() {
    let f = fixture();
    let srv = Server::start(Faults::default());
    srv.put("/t.bz2", f.lbzip2.clone());
    let dest = tempfile::tempdir().unwrap();
    let d = dest.path().to_str().unwrap();
    let url = srv.url("/t.bz2");
    let sum = format!("sha512:{}", sha512(&f.lbzip2));

    // http:// without --allow-http: refused as input, exit 2, nothing sent.
    let (code, _, err) = cloudstrap(&["template", "fetch", "--url", &url, "--dest", d, "--id", "5", "--checksum", &sum], &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--allow-http"), "{err}");
    assert!(srv.requests().is_empty());

    // A malformed checksum: exit 2.
    let (code, _, err) = cloudstrap(&["template", "fetch", "--url", &url, "--dest", d, "--id", "5", "--checksum", "sha1:00"], &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--checksum"), "{err}");

    let (code, out, err) =
        cloudstrap(&["template", "fetch", "--url", &url, "--dest", d, "--id", "5", "--checksum", &sum, "--allow-http", "--format", "json"], &[]);
    assert_eq!(code, 0, "{err}");
    let v = json_shape::assert_documented("template-fetch", out.as_bytes());
    assert_eq!((v["outcome"].as_str(), v["downloaded"].as_bool()), (Some("installed"), Some(true)));
    assert_eq!(v["id"], 5);
    assert_eq!(v["size"], f.qcow2.len() as u64);
    assert_eq!(v["virtual_size"], f.virtual_size);
    assert_eq!(v["checksum"], sum.as_str());
    assert!(dest.path().join(format!("template/tmpl/1/5/{}.qcow2", v["uuid"].as_str().unwrap())).exists());
    // Not a terminal: progress comes as plain lines, no bar escapes.
    assert!(err.contains("template: installed") && !err.contains('\u{1b}'), "{err}");

    // The same again: refused, exit 2.
    let (code, _, err) = cloudstrap(&["template", "fetch", "--url", &url, "--dest", d, "--id", "5", "--checksum", &sum, "--allow-http"], &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--force"), "{err}");

    // A 404: the work failed, exit 1 (with --format json, the failure's document on stdout).
    let (code, out, err) =
        cloudstrap(&["template", "fetch", "--url", &srv.url("/nope.bz2"), "--dest", d, "--id", "6", "--skip-checksum", "--allow-http", "--format", "json"], &[]);
    assert_eq!(code, 1, "{err}");
    json_shape::assert_documented("failed", out.as_bytes());
    assert!(err.contains("not found"), "{err}");
}

#[test]
fn cli_reads_the_database_password_from_the_environment() {
    let f = fixture();
    let pw = "env-secret-77";
    let db = TestDb::create("clienv", pw);
    let srv = Server::start(Faults::default());
    srv.put("/t.bz2", f.single.clone());
    let dest = tempfile::tempdir().unwrap();
    let (code, out, err) = cloudstrap(
        &[
            "template", "fetch", "--url", &srv.url("/t.bz2"), "--dest", dest.path().to_str().unwrap(), "--skip-checksum",
            "--allow-http", "--db-user", &db.user, "--db-name", &db.name,
        ],
        &[("CLOUDSTRAP_DB_PASSWORD", pw)],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("template 3 installed"), "{out}");
    assert!(!out.contains(pw) && !err.contains(pw));
    let uuid = mysql_root(&format!("select uuid from {}.vm_template where id = 3", db.name));
    assert!(dest.path().join(format!("template/tmpl/1/3/{}.qcow2", uuid.trim())).exists());
}
