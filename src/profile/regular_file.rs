//! Reading the profile and its secret files: regular files only, up to a size limit. A FIFO would block
//! the reader until some writer came (forever, in `profile check`), and /dev/zero never ends.

use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// The largest profile read.
pub const PROFILE_MAX: u64 = 1024 * 1024;
/// The largest secret file read (a secret is one line).
pub const SECRET_MAX: u64 = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("is {0}, not a regular file")]
    NotRegular(&'static str),
    #[error("is larger than {} KiB", .0 / 1024)]
    TooLarge(u64),
}

/// The contents of the regular file at `path` (symlinks followed), at most `max` bytes. Opened without
/// blocking, and checked on the open descriptor, so a FIFO swapped in after a check cannot block either.
pub fn read(path: &Path, max: u64) -> Result<Vec<u8>, ReadError> {
    let f = std::fs::OpenOptions::new().read(true).custom_flags(nix::libc::O_NONBLOCK).open(path)?;
    let meta = f.metadata()?;
    let ft = meta.file_type();
    if !ft.is_file() {
        use std::os::unix::fs::FileTypeExt;
        let kind = if ft.is_dir() {
            "a directory"
        } else if ft.is_fifo() {
            "a FIFO"
        } else if ft.is_char_device() || ft.is_block_device() {
            "a device"
        } else if ft.is_socket() {
            "a socket"
        } else {
            "not a file"
        };
        return Err(ReadError::NotRegular(kind));
    }
    if meta.len() > max {
        return Err(ReadError::TooLarge(max));
    }
    let mut out = Vec::new();
    f.take(max + 1).read_to_end(&mut out)?;
    if out.len() as u64 > max {
        return Err(ReadError::TooLarge(max));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_regular_files_within_the_limit() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("f");
        std::fs::write(&f, "abc").unwrap();
        assert_eq!(read(&f, 3).unwrap(), b"abc");
        assert!(matches!(read(&f, 2), Err(ReadError::TooLarge(2))));
        assert!(matches!(read(d.path(), 10), Err(ReadError::NotRegular("a directory"))));
        let fifo = d.path().join("fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        assert!(matches!(read(&fifo, 10), Err(ReadError::NotRegular("a FIFO"))));
        assert!(matches!(read(Path::new("/dev/zero"), 10), Err(ReadError::NotRegular("a device"))));
    }
}
