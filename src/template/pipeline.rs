//! The one pass: HTTP body → hash of the compressed bytes → block-parallel bzip2 decode → file.
//!
//! Threads: a feeder reads the body (resuming with Range requests, see http.rs), hashes each chunk and
//! queues it to the decoder; the decoder (mibz2's `StreamDecoder`: one thread reading block headers and
//! Huffman symbols in order, one worker per core finishing blocks, at most 2 blocks per worker in
//! flight) hands decoded bytes back in order; the calling thread writes them. Every block CRC and every
//! stream's combined CRC is checked; multi-stream files (pbzip2, lbzip2) decode as one; bytes after the
//! last stream are an error. Memory stays bounded (a few MB per worker) whatever the file size.

use std::fs::File;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::checksum::{Algo, Checksum, Hasher};
use super::http::{HttpError, Source};
use crate::action::progress::Download;
use super::qcow2;

/// Compressed bytes per read from the network and per chunk queued to the decoder.
const CHUNK: usize = 1 << 20;

#[derive(Debug)]
pub struct Streamed {
    pub compressed: u64,
    pub written: u64,
    /// The digest of the compressed bytes, when an algorithm was asked for.
    pub digest: Option<Checksum>,
    pub header: qcow2::Header,
    pub resumes: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    #[error(transparent)]
    Http(#[from] HttpError),
    #[error("the download is not a valid bzip2 file: {0}")]
    Bzip2(String),
    #[error("the decompressed template is not usable: {0}")]
    Qcow2(#[from] qcow2::Qcow2Error),
    #[error("writing the template failed after {written} bytes: {source}")]
    Write { written: u64, source: std::io::Error },
    #[error("the template needs up to {need} bytes, {free} are free")]
    NoSpace { need: u64, free: u64 },
}

/// Bytes the caller may still write to `out`'s file system.
fn free_bytes(out: &File) -> std::io::Result<u64> {
    let st = nix::sys::statvfs::fstatvfs(out).map_err(std::io::Error::from)?;
    Ok(st.blocks_available() as u64 * st.fragment_size() as u64)
}

/// A decoder error in words an operator can act on (the decoder's own text says where).
fn bzip2_words(e: &mibz2::Error) -> String {
    let hint = match e.kind {
        mibz2::ErrorKind::Truncated => "; the file on the server is incomplete",
        mibz2::ErrorKind::BlockCrc { .. } | mibz2::ErrorKind::StreamCrc { .. } => "; the file on the server is corrupt",
        mibz2::ErrorKind::NotBz2 | mibz2::ErrorKind::Empty => "; is the URL a .bz2 template?",
        _ => "",
    };
    format!("{e}{hint}")
}

/// Stream `download` into `out`; `algo` selects the hash. `out` is written from its start and left
/// unsynced (the caller fsyncs once the checksum is known good).
pub fn run(
    mut download: Source,
    algo: Option<Algo>,
    threads: usize,
    out: &mut File,
    progress: &dyn Download,
) -> Result<Streamed, StreamError> {
    let threads = threads.max(1);
    let dec = Arc::new(mibz2::StreamDecoder::new(threads, 2 * threads, mibz2::Kernels::detect()));
    let received = Arc::new(AtomicU64::new(0));

    let feeder = {
        let (dec, received) = (dec.clone(), received.clone());
        std::thread::Builder::new()
            .name("template-fetch".into())
            .spawn(move || -> Result<(Option<Checksum>, u32), HttpError> {
                let mut hasher = algo.map(Hasher::new);
                loop {
                    let chunk = match download.next_chunk(CHUNK) {
                        Ok(Some(c)) => c,
                        Ok(None) => break,
                        Err(e) => {
                            dec.cancel();
                            return Err(e);
                        }
                    };
                    if let Some(h) = hasher.as_mut() {
                        h.update(&chunk);
                    }
                    received.fetch_add(chunk.len() as u64, Ordering::Relaxed);
                    if dec.write(chunk).is_err() {
                        // The decoder stopped (a bad stream): its error is the one to report.
                        break;
                    }
                }
                dec.close();
                Ok((hasher.map(Hasher::finish), download.resumes()))
            })
            .expect("spawn the template download thread")
    };

    let mut buf = vec![0u8; CHUNK];
    let mut head: Vec<u8> = Vec::with_capacity(qcow2::HEADER_LEN);
    let mut header = None;
    let mut written = 0u64;
    let mut failure: Option<StreamError> = None;
    loop {
        let n = match dec.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if matches!(e.kind, mibz2::ErrorKind::Cancelled) => break, // the feeder's error follows
            Err(e) => {
                failure = Some(StreamError::Bzip2(bzip2_words(&e)));
                break;
            }
        };
        if header.is_none() {
            // Check the image before writing much of it: a wrong URL fails in the first block.
            let take = (qcow2::HEADER_LEN - head.len()).min(n);
            head.extend_from_slice(&buf[..take]);
            if head.len() == qcow2::HEADER_LEN {
                match qcow2::parse(&head) {
                    Ok(h) => header = Some(h),
                    Err(e) => {
                        failure = Some(e.into());
                        break;
                    }
                }
                // A qcow2 file never holds more than its virtual size of data (plus a little metadata,
                // well inside the first block already decoded): refuse now rather than fill the store.
                let need = header.map(|h| h.virtual_size).unwrap_or(0);
                match free_bytes(out) {
                    Ok(free) if free < need.saturating_sub(written) => {
                        failure = Some(StreamError::NoSpace { need, free });
                        break;
                    }
                    Ok(_) => {}
                    Err(source) => {
                        failure = Some(StreamError::Write { written, source });
                        break;
                    }
                }
            }
        }
        if let Err(source) = out.write_all(&buf[..n]) {
            failure = Some(StreamError::Write { written, source });
            break;
        }
        written += n as u64;
        progress.set_position(received.load(Ordering::Relaxed));
    }
    if failure.is_some() {
        dec.cancel();
    }
    let fed = feeder.join().unwrap_or_else(|_| Err(HttpError::Client("the download thread panicked".into())));
    dec.join();
    // A network failure first: the decoder's complaint (a truncated stream) is only its consequence.
    let (digest, resumes) = fed?;
    if let Some(f) = failure {
        return Err(f);
    }
    let header = match header {
        Some(h) => h,
        None => qcow2::parse(&head)?,
    };
    let compressed = received.load(Ordering::Relaxed);
    progress.set_position(compressed);
    Ok(Streamed { compressed, written, digest, header, resumes })
}
