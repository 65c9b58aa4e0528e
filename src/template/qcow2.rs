//! The few qcow2 header fields template seeding needs, read from the image's first bytes
//! (no qemu-img): magic "QFI\xfb", version (2 or 3), backing file offset, virtual size.

/// Bytes of header this module reads.
pub const HEADER_LEN: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub version: u32,
    /// Guest-visible disk size in bytes.
    pub virtual_size: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Qcow2Error {
    #[error("the image is shorter than a qcow2 header ({0} bytes)")]
    Short(usize),
    #[error("the image is not qcow2 (it starts with {0}, not QFI\\xfb)")]
    Magic(String),
    #[error("unsupported qcow2 version {0} (expected 2 or 3)")]
    Version(u32),
    #[error("the image refers to a backing file; a system VM template must be self-contained")]
    BackingFile,
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

fn be64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    u64::from_be_bytes(a)
}

/// Parse the header from the image's first bytes.
pub fn parse(head: &[u8]) -> Result<Header, Qcow2Error> {
    if head.len() < HEADER_LEN {
        return Err(Qcow2Error::Short(head.len()));
    }
    if &head[..4] != b"QFI\xfb" {
        return Err(Qcow2Error::Magic(head[..4].iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(" ")));
    }
    let version = be32(&head[4..8]);
    if !(2..=3).contains(&version) {
        return Err(Qcow2Error::Version(version));
    }
    if be64(&head[8..16]) != 0 {
        return Err(Qcow2Error::BackingFile);
    }
    Ok(Header { version, virtual_size: be64(&head[24..32]) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(version: u32, backing: u64, size: u64) -> Vec<u8> {
        let mut h = b"QFI\xfb".to_vec();
        h.extend_from_slice(&version.to_be_bytes());
        h.extend_from_slice(&backing.to_be_bytes());
        h.extend_from_slice(&0u32.to_be_bytes());
        h.extend_from_slice(&16u32.to_be_bytes());
        h.extend_from_slice(&size.to_be_bytes());
        h
    }

    #[test]
    fn reads_virtual_size() {
        let h = parse(&header(3, 0, 2 << 30)).unwrap();
        assert_eq!(h, Header { version: 3, virtual_size: 2 << 30 });
    }

    #[test]
    fn rejects_what_is_not_a_usable_qcow2() {
        assert_eq!(parse(b"QFI"), Err(Qcow2Error::Short(3)));
        assert!(matches!(parse(&[0u8; 32]), Err(Qcow2Error::Magic(_))));
        assert_eq!(parse(&header(1, 0, 1)), Err(Qcow2Error::Version(1)));
        assert_eq!(parse(&header(2, 512, 1)), Err(Qcow2Error::BackingFile));
    }
}
