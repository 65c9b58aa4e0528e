//! Database dumps: mysqldump in one transaction, streamed through bzip2 into a 0600 file while hashing it,
//! and the check that a dump is whole before anything may be dropped.


use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::db::Client;

/// The line mysqldump writes last when it finished (with its default --comments).
pub const TRAILER: &str = "-- Dump completed";

#[derive(Debug, thiserror::Error)]
pub enum DumpError {
    #[error("could not write {path}: {source}")]
    Write { path: PathBuf, source: io::Error },
    #[error("the dump of {db} failed: {reason}")]
    Failed { db: String, reason: String },
    #[error("could not read {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("{path} does not decompress cleanly: {source}")]
    Corrupt { path: PathBuf, source: io::Error },
    #[error("{path} is incomplete: it does not end with mysqldump's \"{TRAILER}\" line")]
    Incomplete { path: PathBuf },
    #[error("{path} is incomplete: it holds {held} rows of table {table}, the database had {expected}")]
    Rows { path: PathBuf, table: String, held: u64, expected: u64 },
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
pub fn dump_database(conn: &Client, db: &str, dest: &Path) -> Result<Dumped, DumpError> {
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

fn dump_to(conn: &Client, db: &str, path: &Path) -> Result<(String, u64), DumpError> {
    let write_err = |source| DumpError::Write { path: path.into(), source };
    let file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path).map_err(write_err)?;
    let mut out = Hashing { inner: io::BufWriter::new(file), hash: Sha256::new(), bytes: 0 };
    {
        let mut enc = bzip2::write::BzEncoder::new(&mut out, bzip2::Compression::default());
        conn.dump(db, &mut enc).map_err(|e| match e {
            crate::db::DbError::Output(source) => write_err(source),
            e => DumpError::Failed { db: db.into(), reason: e.to_string() },
        })?;
        enc.finish().map_err(write_err)?;
    }
    out.flush().map_err(write_err)?;
    let Hashing { inner, hash, bytes } = out;
    let file = inner.into_inner().map_err(|e| write_err(e.into_error()))?;
    file.sync_all().map_err(write_err)?;
    Ok((hex::encode(hash.finalize()), bytes))
}

/// sha256 of a file, hex.
pub fn sha256_file(path: &Path) -> Result<String, DumpError> {
    let mut f = File::open(path).map_err(|source| DumpError::Read { path: path.into(), source })?;
    let mut h = Sha256::new();
    io::copy(&mut f, &mut h).map_err(|source| DumpError::Read { path: path.into(), source })?;
    Ok(hex::encode(h.finalize()))
}

pub use crate::db::RowCounts;

/// The dump is whole: its checksum matches, it decompresses to the end, mysqldump's trailer is its last
/// line and, when `rows` is given, it holds exactly that many rows of each table (no more tables, none
/// fewer). Returns the rows it holds.
pub fn verify_dump(path: &Path, expected_sha256: &str, rows: Option<&RowCounts>) -> Result<RowCounts, DumpError> {
    let actual = sha256_file(path)?;
    if actual != expected_sha256 {
        return Err(DumpError::Checksum { path: path.into(), actual, expected: expected_sha256.into() });
    }
    let f = File::open(path).map_err(|source| DumpError::Read { path: path.into(), source })?;
    let mut reader = BufReader::new(bzip2::read::MultiBzDecoder::new(BufReader::new(f)));
    let mut last = String::new();
    let mut line = Vec::new();
    let mut counter = RowCounter::default();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) => break,
            Ok(_) => {
                counter.line(&line);
                if line.iter().any(|b| !b.is_ascii_whitespace()) {
                    last = String::from_utf8_lossy(&line[..line.len().min(200)]).trim_end().to_string();
                }
            }
            Err(source) => return Err(DumpError::Corrupt { path: path.into(), source }),
        }
    }
    if !last.starts_with(TRAILER) {
        return Err(DumpError::Incomplete { path: path.into() });
    }
    let held = counter.rows;
    if let Some(want) = rows {
        let tables: std::collections::BTreeSet<&String> = want.keys().chain(held.keys()).collect();
        for t in tables {
            let (w, h) = (want.get(t).copied().unwrap_or(0), held.get(t).copied().unwrap_or(0));
            if w != h {
                return Err(DumpError::Rows { path: path.into(), table: t.clone(), held: h, expected: w });
            }
        }
    }
    Ok(held)
}

/// Counts the rows of mysqldump's `INSERT INTO `t` VALUES (...),(...);` statements, which may span lines
/// (one row per line since MariaDB 10.11): a row is a parenthesis opened at depth 0 outside a string;
/// strings are single-quoted with backslash escapes, as mysqldump writes them (binary as hex).
#[derive(Default)]
struct RowCounter {
    rows: RowCounts,
    /// The table whose INSERT is open, with the scanner's state.
    open: Option<(String, Scan)>,
}

#[derive(Default)]
struct Scan {
    depth: u32,
    in_string: bool,
    escaped: bool,
}

impl RowCounter {
    fn line(&mut self, line: &[u8]) {
        let body = match &self.open {
            Some(_) => line,
            None => {
                let Some(rest) = line.strip_prefix(b"INSERT INTO `".as_slice()) else { return };
                let Some(end) = find(rest, b"` VALUES") else { return };
                let table = String::from_utf8_lossy(&rest[..end]).replace("``", "`");
                self.rows.entry(table.clone()).or_insert(0);
                self.open = Some((table, Scan::default()));
                &rest[end + b"` VALUES".len()..]
            }
        };
        let Some((table, scan)) = &mut self.open else { return };
        let mut n = 0;
        let mut done = false;
        for &b in body {
            if scan.in_string {
                match (scan.escaped, b) {
                    (true, _) => scan.escaped = false,
                    (false, b'\\') => scan.escaped = true,
                    (false, b'\'') => scan.in_string = false,
                    _ => {}
                }
                continue;
            }
            match b {
                b'\'' => scan.in_string = true,
                b'(' => {
                    if scan.depth == 0 {
                        n += 1;
                    }
                    scan.depth += 1;
                }
                b')' => scan.depth = scan.depth.saturating_sub(1),
                b';' if scan.depth == 0 => {
                    done = true;
                    break;
                }
                _ => {}
            }
        }
        *self.rows.entry(table.clone()).or_insert(0) += n;
        if done {
            self.open = None;
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
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
        verify_dump(&p, &sum, None).unwrap();
        assert!(matches!(verify_dump(&p, &"0".repeat(64), None), Err(DumpError::Checksum { .. })));

        let sum = write_bz(&p, "CREATE TABLE t (a int);\nINSERT INTO t VALUES (1);\n");
        assert!(matches!(verify_dump(&p, &sum, None), Err(DumpError::Incomplete { .. })));

        // A compressed stream cut short.
        write_bz(&p, &"INSERT INTO t VALUES (1);\n".repeat(5000));
        let data = std::fs::read(&p).unwrap();
        std::fs::write(&p, &data[..data.len() / 2]).unwrap();
        let sum = sha256_file(&p).unwrap();
        assert!(matches!(verify_dump(&p, &sum, None), Err(DumpError::Corrupt { .. }) | Err(DumpError::Incomplete { .. })));
    }

    #[test]
    fn rows_are_counted_across_lines_strings_and_escapes() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("d.sql.bz2");
        let text = "INSERT INTO `a` VALUES\n(1,'it\\'s (x);'),\n(2,'b\\\\'),\n(3,0x28);\n\
                    INSERT INTO `b` VALUES (1,'(('),(2,NULL);\nINSERT INTO `a` VALUES (4,'');\n-- Dump completed on x\n";
        let sum = write_bz(&p, text);
        let rows = verify_dump(&p, &sum, None).unwrap();
        assert_eq!(rows, RowCounts::from([("a".into(), 4), ("b".into(), 2)]));
        let mut want = rows.clone();
        want.insert("c".into(), 1);
        let e = verify_dump(&p, &sum, Some(&want)).unwrap_err();
        assert!(matches!(&e, DumpError::Rows { table, held: 0, expected: 1, .. } if table == "c"), "{e}");
        want.remove("c");
        want.insert("a".into(), 5);
        assert!(matches!(verify_dump(&p, &sum, Some(&want)), Err(DumpError::Rows { held: 4, expected: 5, .. })));
    }
}
