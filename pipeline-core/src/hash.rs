//! SHA-256 content hashes. Files are streamed through a fixed buffer, so memory stays flat
//! whatever their size; `sha2` picks the CPU's SHA extensions at run time where present.

use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::Path;

/// Large enough to keep the hasher busy, small enough to stay in cache.
const BUFFER: usize = 1 << 20;

/// A lowercase hex SHA-256 digest.
pub type Hash = String;

/// Hex-encodes a digest.
pub fn hex(bytes: &[u8]) -> Hash {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 15) as usize] as char);
    }
    out
}

/// Hash of an in-memory buffer.
pub fn bytes(data: &[u8]) -> Hash {
    hex(&Sha256::digest(data))
}

/// Hash and length of everything `reader` yields.
pub fn reader(reader: impl Read) -> io::Result<(Hash, u64)> {
    copy(reader, io::sink())
}

/// Hash and length of a file's content.
pub fn file(path: &Path) -> io::Result<(Hash, u64)> {
    reader(File::open(path)?)
}

/// Copies `from` into `to` while hashing what passes, so a copy and its check cost one read.
pub fn copy(mut from: impl Read, mut to: impl Write) -> io::Result<(Hash, u64)> {
    thread_local! {
        // One buffer per thread, reused: hashing many small files must not allocate (and zero)
        // a fresh megabyte each time.
        static BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    BUF.with(|cell| {
        let mut buf = cell.borrow_mut();
        if buf.len() < BUFFER {
            buf.resize(BUFFER, 0);
        }
        let mut hasher = Sha256::new();
        let mut len = 0u64;
        loop {
            let n = match from.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            hasher.update(&buf[..n]);
            to.write_all(&buf[..n])?;
            len += n as u64;
        }
        Ok((hex(&hasher.finalize()), len))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_digest() {
        assert_eq!(
            bytes(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let (h, n) = reader(&b"abc"[..]).unwrap();
        assert_eq!((h.as_str(), n), (bytes(b"abc").as_str(), 3));
    }

    #[test]
    fn copy_hashes_what_it_copies() {
        let data = vec![7u8; 3 * BUFFER + 5];
        let mut out = Vec::new();
        let (h, n) = copy(&data[..], &mut out).unwrap();
        assert_eq!(out, data);
        assert_eq!(n as usize, data.len());
        assert_eq!(h, bytes(&data));
    }
}
