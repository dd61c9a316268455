//! A remote in object storage: S3 (and anything speaking its API), Google Cloud Storage, Azure
//! Blob Storage, through the `object_store` crate, which signs requests, retries transient
//! failures with backoff and uploads large objects in parts. Credentials and endpoints come from
//! each cloud's usual environment variables (`AWS_*`, `GOOGLE_*`, `AZURE_*`), then from the
//! remote's options in the config files.

use super::backend::{Backend, BackendError};
use super::config::Kind;
use futures_util::StreamExt;
use object_store::path::Path as KeyPath;
use object_store::prefix::PrefixStore;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload, RetryConfig, WriteMultipart};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// Files above this size are uploaded in parts of this size.
const PART: usize = 16 << 20;
/// Parts of one file in flight at once.
const PARTS_IN_FLIGHT: usize = 4;

/// An object-store remote.
pub(crate) struct Cloud {
    store: Arc<dyn ObjectStore>,
    runtime: tokio::runtime::Runtime,
}

/// Retries that give up on a dead endpoint within seconds rather than minutes.
fn retry() -> RetryConfig {
    RetryConfig {
        max_retries: 4,
        retry_timeout: Duration::from_secs(30),
        ..RetryConfig::default()
    }
}

impl Cloud {
    /// Connects (lazily: nothing is sent yet) to the bucket and prefix of `url`.
    pub fn open(
        kind: Kind,
        url: &str,
        options: &BTreeMap<String, String>,
    ) -> Result<Self, BackendError> {
        use object_store::aws::AmazonS3Builder;
        use object_store::azure::MicrosoftAzureBuilder;
        use object_store::gcp::GoogleCloudStorageBuilder;
        let bad = |e: &dyn std::fmt::Display| BackendError::Other(e.to_string());
        let (scheme_and_bucket, prefix) = split_url(url);
        let store: Arc<dyn ObjectStore> = match kind {
            Kind::S3 => {
                let mut b = AmazonS3Builder::from_env().with_url(scheme_and_bucket);
                for (key, value) in options {
                    b = b.with_config(key.parse().map_err(|e| bad(&e))?, value);
                }
                Arc::new(b.with_retry(retry()).build().map_err(|e| bad(&e))?)
            }
            Kind::Gcs => {
                let mut b = GoogleCloudStorageBuilder::from_env().with_url(scheme_and_bucket);
                for (key, value) in options {
                    b = b.with_config(key.parse().map_err(|e| bad(&e))?, value);
                }
                Arc::new(b.with_retry(retry()).build().map_err(|e| bad(&e))?)
            }
            Kind::Azure => {
                // `azure://` is the spelling DVC users know; the crate reads `az://`.
                let url = scheme_and_bucket.replacen("azure://", "az://", 1);
                let mut b = MicrosoftAzureBuilder::from_env().with_url(url);
                for (key, value) in options {
                    b = b.with_config(key.parse().map_err(|e| bad(&e))?, value);
                }
                Arc::new(b.with_retry(retry()).build().map_err(|e| bad(&e))?)
            }
            Kind::Directory => return Err(BackendError::Other("not an object store".into())),
        };
        let store: Arc<dyn ObjectStore> = match prefix {
            "" => store,
            prefix => Arc::new(PrefixStore::new(store, prefix)),
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| bad(&e))?;
        Ok(Cloud { store, runtime })
    }

    fn key(key: &str) -> Result<KeyPath, BackendError> {
        KeyPath::parse(key).map_err(|e| BackendError::Other(e.to_string()))
    }
}

/// `s3://bucket/some/prefix/` → (`s3://bucket`, `some/prefix`).
fn split_url(url: &str) -> (&str, &str) {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    match rest.find('/') {
        Some(i) => (
            &url[..scheme.len() + 3 + i],
            rest[i + 1..].trim_matches('/'),
        ),
        None => (url, ""),
    }
}

/// One line for what the store said, classified.
fn classify(e: object_store::Error) -> BackendError {
    use object_store::Error as E;
    match e {
        E::NotFound { .. } => BackendError::NotFound,
        E::PermissionDenied { source, .. } | E::Unauthenticated { source, .. } => {
            BackendError::Denied(one_line(&source.to_string()))
        }
        other => {
            let text = one_line(&other.to_string());
            let has = |words: &[&str]| words.iter().any(|w| text.contains(w));
            if has(&["169.254.169.254", "metadata.google.internal"]) {
                // The client fell back to the cloud's instance metadata for credentials.
                BackendError::Denied(
                    "no credentials found: set the cloud's credential variables (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, GOOGLE_APPLICATION_CREDENTIALS, AZURE_STORAGE_ACCOUNT_KEY) or the remote's options".into(),
                )
            } else if has(&["NoSuchBucket", "ContainerNotFound", "bucket does not exist"]) {
                BackendError::NoBucket
            } else if has(&[
                "InvalidAccessKeyId",
                "SignatureDoesNotMatch",
                "AuthenticationFailed",
                "AuthorizationFailure",
                "AccessDenied",
                "403 Forbidden",
                "401 Unauthorized",
                "credential",
            ]) {
                BackendError::Denied(text)
            } else if has(&[
                "error sending request",
                "Connection refused",
                "dns error",
                "connect error",
                "timed out",
            ]) {
                BackendError::Unreachable(text)
            } else {
                BackendError::Other(text)
            }
        }
    }
}

/// The message on one line, bounded.
fn one_line(text: &str) -> String {
    let joined = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match joined.char_indices().nth(300) {
        Some((i, _)) => format!("{}…", &joined[..i]),
        None => joined,
    }
}

impl Backend for Cloud {
    fn list(&self, prefix: &str) -> Result<Vec<String>, BackendError> {
        let prefix = Self::key(prefix.trim_end_matches('/'))?;
        self.runtime.block_on(async {
            let mut stream = self.store.list(Some(&prefix));
            let mut keys = Vec::new();
            while let Some(meta) = stream.next().await {
                keys.push(meta.map_err(classify)?.location.to_string());
            }
            Ok(keys)
        })
    }

    fn get(&self, key: &str, into: &mut dyn Write) -> Result<u64, BackendError> {
        let location = Self::key(key)?;
        self.runtime.block_on(async {
            let got = self.store.get(&location).await.map_err(classify)?;
            let mut stream = got.into_stream();
            let mut size = 0u64;
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(classify)?;
                into.write_all(&chunk)
                    .map_err(|e| BackendError::Other(format!("writing {key} locally: {e}")))?;
                size += chunk.len() as u64;
            }
            Ok(size)
        })
    }

    fn put_bytes(&self, key: &str, bytes: Vec<u8>) -> Result<(), BackendError> {
        let location = Self::key(key)?;
        self.runtime.block_on(async {
            self.store
                .put(&location, PutPayload::from(bytes))
                .await
                .map_err(classify)?;
            Ok(())
        })
    }

    fn put_file(&self, key: &str, src: &Path) -> Result<(), BackendError> {
        let location = Self::key(key)?;
        let local = |e: std::io::Error| BackendError::Other(format!("{}: {e}", src.display()));
        let mut file = std::fs::File::open(src).map_err(local)?;
        self.runtime.block_on(async {
            let upload = self
                .store
                .put_multipart(&location)
                .await
                .map_err(classify)?;
            let mut writer = WriteMultipart::new_with_chunk_size(upload, PART);
            let mut buf = vec![0u8; PART];
            let sent: Result<(), BackendError> = async {
                loop {
                    let n = file.read(&mut buf).map_err(local)?;
                    if n == 0 {
                        return Ok(());
                    }
                    writer
                        .wait_for_capacity(PARTS_IN_FLIGHT)
                        .await
                        .map_err(classify)?;
                    writer.write(&buf[..n]);
                }
            }
            .await;
            if let Err(e) = sent {
                // Nothing half-written becomes visible under `key`.
                let _ = writer.abort().await;
                return Err(e);
            }
            writer.finish().await.map_err(classify)?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_bucket_and_prefix() {
        assert_eq!(split_url("s3://b/iris"), ("s3://b", "iris"));
        assert_eq!(split_url("s3://b/a/b/"), ("s3://b", "a/b"));
        assert_eq!(split_url("gs://b"), ("gs://b", ""));
        assert_eq!(split_url("azure://c/"), ("azure://c", ""));
    }

    #[test]
    fn messages_are_one_bounded_line() {
        assert_eq!(one_line("a\n  b\tc"), "a b c");
        assert!(one_line(&"x ".repeat(1000)).chars().count() <= 301);
    }
}
