//! Database dumps: mysqldump in one transaction, streamed through bzip2 into a 0600 file while hashing it,
//! and the check that a dump is whole before anything may be dropped.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use sha2::{Digest, Sha256};

use super::mysql::Conn;

/// The line mysqldump writes last when it finished (with its default --comments).
pub const TRAILER: &str = "-- Dump completed";

#[derive(Debug, thiserror::Error)]
pub enum DumpError {
    #[error("could not write {path}: {source}")]
    Write { path: PathBuf, source: io::Error },
    #[error("could not run mysqldump: {0}")]
    Spawn(io::Error),
    #[error("mysqldump of {db} failed (status {status}): {stderr}")]
    Failed { db: String, status: i32, stderr: String },
    #[error("could not read {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("{path} does not decompress cleanly: {source}")]
    Corrupt { path: PathBuf, source: io::Error },
    #[error("{path} is incomplete: it does not end with mysqldump's \"{TRAILER}\" line")]
    Incomplete { path: PathBuf },
    #[error("{path} does not match its checksum (sha256 {actual}, expected {expected})")]
    Checksum { path: PathBuf, actual: String, expected: String },
}

/// A dump written to disk.
#[derive(Debug, Clone)]
pub struct Dumped {
    pub sha256: String,
    pub bytes: u64,
}

/// A writer that hashes and counts what passes through.
struct Hashing<W: Write> {
    inner: W,
    hash: Sha256,
    bytes: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Dump database `db` into `dest` (bzip2, mode 0600). The file appears under its name only when mysqldump
/// succeeded and everything reached the disk; a partial file is removed.
pub fn dump_database(conn: &Conn, db: &str, dest: &Path) -> Result<Dumped, DumpError> {
    let partial = dest.with_extension("partial");
    let result = dump_to(conn, db, &partial);
    match result {
        Ok((sha256, bytes)) => {
            std::fs::rename(&partial, dest).map_err(|source| DumpError::Write { path: dest.into(), source })?;
            Ok(Dumped { sha256, bytes })
        }
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            Err(e)
        }
    }
}

fn dump_to(conn: &Conn, db: &str, path: &Path) -> Result<(String, u64), DumpError> {
    let write_err = |source| DumpError::Write { path: path.into(), source };
    let cnf = conn.option_file().map_err(DumpError::Spawn)?;
    let file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path).map_err(write_err)?;
    let args = [
        format!("--defaults-extra-file={}", cnf.path().display()),
        "--single-transaction".into(),
        "--routines".into(),
        "--triggers".into(),
        "--events".into(),
        "--hex-blob".into(),
        "--databases".into(),
        db.to_string(),
    ];
    crate::log::line(&format!("running mysqldump {} > {}", args[1..].join(" "), path.display()));
    let mut child = Command::new("mysqldump")
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(DumpError::Spawn)?;
    let mut stderr = child.stderr.take().expect("piped");
    let errs = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let mut stdout = child.stdout.take().expect("piped");
    let mut out = Hashing { inner: io::BufWriter::new(file), hash: Sha256::new(), bytes: 0 };
    let copied = {
        let mut enc = bzip2::write::BzEncoder::new(&mut out, bzip2::Compression::default());
        io::copy(&mut stdout, &mut enc).and_then(|_| enc.finish().map(|_| ()))
    };
    if copied.is_err() {
        // Stop mysqldump rather than leave it blocked on a full pipe.
        let _ = child.kill();
    }
    let status = child.wait().map_err(DumpError::Spawn)?;
    let stderr = errs.join().unwrap_or_default();
    copied.map_err(write_err)?;
    if !status.success() {
        return Err(DumpError::Failed { db: db.into(), status: status.code().unwrap_or(-1), stderr: last_lines(&stderr, 5) });
    }
    out.flush().map_err(write_err)?;
    let Hashing { inner, hash, bytes } = out;
    let file = inner.into_inner().map_err(|e| write_err(e.into_error()))?;
    file.sync_all().map_err(write_err)?;
    Ok((hex::encode(hash.finalize()), bytes))
}

fn last_lines(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].join(" / ")
}

/// sha256 of a file, hex.
pub fn sha256_file(path: &Path) -> Result<String, DumpError> {
    let mut f = File::open(path).map_err(|source| DumpError::Read { path: path.into(), source })?;
    let mut h = Sha256::new();
    io::copy(&mut f, &mut h).map_err(|source| DumpError::Read { path: path.into(), source })?;
    Ok(hex::encode(h.finalize()))
}

/// The dump is whole: its checksum matches, it decompresses to the end, and mysqldump's trailer is its last line.
pub fn verify_dump(path: &Path, expected_sha256: &str) -> Result<(), DumpError> {
    let actual = sha256_file(path)?;
    if actual != expected_sha256 {
        return Err(DumpError::Checksum { path: path.into(), actual, expected: expected_sha256.into() });
    }
    let f = File::open(path).map_err(|source| DumpError::Read { path: path.into(), source })?;
    let mut reader = BufReader::new(bzip2::read::MultiBzDecoder::new(BufReader::new(f)));
    let mut last = String::new();
    let mut line = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) => break,
            Ok(_) => {
                let text = String::from_utf8_lossy(&line);
                if !text.trim().is_empty() {
                    last = text.trim_end().to_string();
                }
            }
            Err(source) => return Err(DumpError::Corrupt { path: path.into(), source }),
        }
    }
    if !last.starts_with(TRAILER) {
        return Err(DumpError::Incomplete { path: path.into() });
    }
    Ok(())
}

/// A reader of the dump's SQL (for restore).
pub fn open_sql(path: &Path) -> Result<impl Read, DumpError> {
    let f = File::open(path).map_err(|source| DumpError::Read { path: path.into(), source })?;
    Ok(bzip2::read::MultiBzDecoder::new(BufReader::new(f)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_bz(path: &Path, text: &str) -> String {
        let mut enc = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::default());
        enc.write_all(text.as_bytes()).unwrap();
        let data = enc.finish().unwrap();
        std::fs::write(path, &data).unwrap();
        hex::encode(Sha256::digest(&data))
    }

    #[test]
    fn verify_accepts_whole_dumps_and_rejects_cut_or_altered_ones() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("d.sql.bz2");
        let sum = write_bz(&p, "CREATE TABLE t (a int);\n-- Dump completed on 2026-11-25 17:00:00\n");
        verify_dump(&p, &sum).unwrap();
        assert!(matches!(verify_dump(&p, &"0".repeat(64)), Err(DumpError::Checksum { .. })));

        let sum = write_bz(&p, "CREATE TABLE t (a int);\nINSERT INTO t VALUES (1);\n");
        assert!(matches!(verify_dump(&p, &sum), Err(DumpError::Incomplete { .. })));

        // A compressed stream cut short.
        write_bz(&p, &"INSERT INTO t VALUES (1);\n".repeat(5000));
        let data = std::fs::read(&p).unwrap();
        std::fs::write(&p, &data[..data.len() / 2]).unwrap();
        let sum = sha256_file(&p).unwrap();
        assert!(matches!(verify_dump(&p, &sum), Err(DumpError::Corrupt { .. }) | Err(DumpError::Incomplete { .. })));
    }
}
