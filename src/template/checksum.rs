//! Checksums of the compressed template: `ALGO:HEX` as given on the command line or in a profile,
//! the release checksum files (`<hash>  <filename>` lines), and the running hash of the stream.

use std::fmt;
use std::str::FromStr;

use md5::Digest;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algo {
    Md5,
    Sha256,
    Sha512,
}

impl Algo {
    pub fn as_str(self) -> &'static str {
        match self {
            Algo::Md5 => "md5",
            Algo::Sha256 => "sha256",
            Algo::Sha512 => "sha512",
        }
    }

    /// Length of the digest in hex digits.
    pub fn hex_len(self) -> usize {
        match self {
            Algo::Md5 => 32,
            Algo::Sha256 => 64,
            Algo::Sha512 => 128,
        }
    }

    /// The algorithm of a bare hex digest, by its length (checksum files carry no algorithm name).
    pub fn from_hex_len(len: usize) -> Option<Algo> {
        [Algo::Md5, Algo::Sha256, Algo::Sha512].into_iter().find(|a| a.hex_len() == len)
    }
}

/// An expected digest of the compressed file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checksum {
    pub algo: Algo,
    /// Lower-case hex.
    pub hex: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChecksumParseError {
    #[error("{0:?} is not ALGO:HEX (expected md5:HEX, sha256:HEX or sha512:HEX)")]
    Shape(String),
    #[error("unknown checksum algorithm {0:?} (expected md5, sha256 or sha512)")]
    Algo(String),
    #[error("a {algo} digest has {want} hex digits, {got:?} has {len}")]
    Length { algo: &'static str, want: usize, got: String, len: usize },
    #[error("{0:?} is not a hex digest")]
    NotHex(String),
}

impl FromStr for Checksum {
    type Err = ChecksumParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (algo, hex) = s.trim().split_once(':').ok_or_else(|| ChecksumParseError::Shape(s.to_string()))?;
        let algo = match algo.to_ascii_lowercase().as_str() {
            "md5" => Algo::Md5,
            "sha256" => Algo::Sha256,
            "sha512" => Algo::Sha512,
            other => return Err(ChecksumParseError::Algo(other.to_string())),
        };
        Checksum::new(algo, hex)
    }
}

impl Checksum {
    pub fn new(algo: Algo, hex: &str) -> Result<Checksum, ChecksumParseError> {
        if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(ChecksumParseError::NotHex(hex.to_string()));
        }
        if hex.len() != algo.hex_len() {
            return Err(ChecksumParseError::Length { algo: algo.as_str(), want: algo.hex_len(), got: hex.to_string(), len: hex.len() });
        }
        Ok(Checksum { algo, hex: hex.to_ascii_lowercase() })
    }
}

impl fmt::Display for Checksum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algo.as_str(), self.hex)
    }
}

/// The digest of `filename` in a checksum file (`sha512sum`/`md5sum` output: `<hash>  <filename>`,
/// or `<hash> *<filename>` for binary mode). Lines that do not parse are skipped, as `sha512sum -c` would
/// warn and go on; the algorithm follows from the digest length.
pub fn find_in_checksum_file(text: &str, filename: &str) -> Option<Checksum> {
    text.lines().find_map(|line| {
        let (hash, rest) = line.trim().split_once(char::is_whitespace)?;
        let name = rest.trim_start().trim_start_matches('*');
        // Some files list paths ("./x.bz2", "4.19/x.bz2"): compare the last component.
        let base = name.rsplit('/').next().unwrap_or(name);
        if base != filename {
            return None;
        }
        Checksum::new(Algo::from_hex_len(hash.len())?, hash).ok()
    })
}

/// The running hash of the compressed stream.
pub enum Hasher {
    Md5(md5::Md5),
    Sha256(sha2::Sha256),
    Sha512(sha2::Sha512),
}

impl Hasher {
    pub fn new(algo: Algo) -> Hasher {
        match algo {
            Algo::Md5 => Hasher::Md5(md5::Md5::new()),
            Algo::Sha256 => Hasher::Sha256(sha2::Sha256::new()),
            Algo::Sha512 => Hasher::Sha512(sha2::Sha512::new()),
        }
    }

    pub fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::Md5(h) => h.update(data),
            Hasher::Sha256(h) => h.update(data),
            Hasher::Sha512(h) => h.update(data),
        }
    }

    pub fn finish(self) -> Checksum {
        let (algo, hex) = match self {
            Hasher::Md5(h) => (Algo::Md5, hex::encode(h.finalize())),
            Hasher::Sha256(h) => (Algo::Sha256, hex::encode(h.finalize())),
            Hasher::Sha512(h) => (Algo::Sha512, hex::encode(h.finalize())),
        };
        Checksum { algo, hex }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_algo_hex() {
        let c: Checksum = "MD5:D41D8CD98F00B204E9800998ECF8427E".parse().unwrap();
        assert_eq!(c.to_string(), "md5:d41d8cd98f00b204e9800998ecf8427e");
        assert!(matches!("sha256:abc".parse::<Checksum>(), Err(ChecksumParseError::Length { .. })));
        assert!(matches!("crc32:00".parse::<Checksum>(), Err(ChecksumParseError::Algo(_))));
        assert!(matches!("d41d8cd9".parse::<Checksum>(), Err(ChecksumParseError::Shape(_))));
        assert!(matches!(format!("md5:{}", "g".repeat(32)).parse::<Checksum>(), Err(ChecksumParseError::NotHex(_))));
    }

    #[test]
    fn hashes_known_vectors() {
        for (algo, want) in [
            (Algo::Md5, "900150983cd24fb0d6963f7d28e17f72"),
            (Algo::Sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ] {
            let mut h = Hasher::new(algo);
            h.update(b"a");
            h.update(b"bc");
            assert_eq!(h.finish().hex, want);
        }
        let mut h = Hasher::new(Algo::Sha512);
        h.update(b"abc");
        assert!(h.finish().hex.starts_with("ddaf35a193617aba"));
    }

    #[test]
    fn finds_lines_in_checksum_files() {
        let md5 = "d41d8cd98f00b204e9800998ecf8427e";
        let sha = "a".repeat(128);
        let text = format!(
            "garbage line\n{md5}  systemvmtemplate-4.19.1-kvm.qcow2.bz2\n{sha} *systemvmtemplate-4.22.0-x86_64-kvm.qcow2.bz2\n"
        );
        let c = find_in_checksum_file(&text, "systemvmtemplate-4.19.1-kvm.qcow2.bz2").unwrap();
        assert_eq!((c.algo, c.hex.as_str()), (Algo::Md5, md5));
        let c = find_in_checksum_file(&text, "systemvmtemplate-4.22.0-x86_64-kvm.qcow2.bz2").unwrap();
        assert_eq!(c.algo, Algo::Sha512);
        assert!(find_in_checksum_file(&text, "other.bz2").is_none());
    }
}
