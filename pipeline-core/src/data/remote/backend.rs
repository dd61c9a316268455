//! What a remote can do, whatever holds it: list keys under a prefix, read a key, write a key.
//! Every remote lays its keys out alike (`cache/ab/cdef…` objects, `runs/ab/cdef….json` run
//! records, `tracking/<run id>.json` tracking runs), so what to send and what to verify is
//! decided once, in `transfer.rs`, for all kinds.
//!
//! Calls block: transfers run them on a pool of threads, as many as requests in flight.

use std::io::Write;
use std::path::Path;

/// Why a remote call failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BackendError {
    /// The key is not there.
    #[error("not found")]
    NotFound,
    /// The bucket or container does not exist.
    #[error("the bucket or container does not exist")]
    NoBucket,
    /// The credentials were refused, or none were found.
    #[error("access denied: check the credentials ({0})")]
    Denied(String),
    /// The server could not be reached.
    #[error("cannot reach the server: {0}")]
    Unreachable(String),
    /// Anything else, in one line.
    #[error("{0}")]
    Other(String),
}

/// A remote's storage.
pub(crate) trait Backend: Send + Sync {
    /// Every key under `prefix` (which ends with `/`), relative to the remote's root.
    fn list(&self, prefix: &str) -> Result<Vec<String>, BackendError>;
    /// Writes the content of `key` into `into`, returning its size.
    fn get(&self, key: &str, into: &mut dyn Write) -> Result<u64, BackendError>;
    /// Stores `bytes` as `key`, atomically: a reader sees the old content or all of the new.
    fn put_bytes(&self, key: &str, bytes: Vec<u8>) -> Result<(), BackendError>;
    /// Stores the file `src` as `key`, atomically, in parts when it is large.
    fn put_file(&self, key: &str, src: &Path) -> Result<(), BackendError>;
    /// Finishes the transfer: makes what was written durable.
    fn flush(&self) -> Result<(), BackendError> {
        Ok(())
    }
}
